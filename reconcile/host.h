/* host.h: the system the tool acts on, with every root injectable (sysfs, /proc, libvirt URI, the lock and its journal, the state directory). */
#ifndef PT_HOST_H
#define PT_HOST_H

struct pt_host {
	const char *sysfs_root;   /* "/sys" unless --sysfs-root; borrowed */
	const char *proc_root;    /* "/proc" unless --proc-root; borrowed */
	const char *libvirt_uri;  /* "qemu:///system" unless --connect; borrowed */
	const char *lock_file;    /* "/run/passthrough.lock" unless --lock-file: the lock every run
				   * takes, and beside it the journal (reconcile/journal.h); NULL:
				   * neither (tests); borrowed */
	const char *state_dir;    /* PT_STATE_DIR unless --state-dir: state.json (reconcile/statefile.h);
				   * NULL: none; borrowed */
};

/*
 * Returns ROOT "/" PATH for a path relative to the sysfs root, e.g.
 * pt_host_sysfs_path(h, "bus/pci/devices/%s/driver_override", addr). The caller frees it.
 */
char *pt_host_sysfs_path(const struct pt_host *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A file of run state beside the lock: its path with ".lock" replaced by suffix (else suffix
 * appended): /run/passthrough.lock, ".journal" -> /run/passthrough.journal. NULL without a
 * lock file. The caller frees. */
char *pt_host_run_path(const struct pt_host *h, const char *suffix);
/* The same for the /proc root. */
char *pt_host_proc_path(const struct pt_host *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
