/* install.h: the files `passthrough install` puts on a host (hook, units, timer, DSM wiring), written idempotently, recorded, and undone byte for byte. */
#ifndef PT_INSTALL_H
#define PT_INSTALL_H

#include <stdbool.h>
#include <stddef.h>

enum pt_layout {
	PT_LAYOUT_SYSTEMD,   /* a systemd Linux host: units under /etc/systemd/system */
	PT_LAYOUT_DSM,       /* Synology DSM 7: everything under /usr/local, wired from VMM's package script */
};

/* Where a layout puts things, as paths on the target system (without the root). */
struct pt_layout_paths {
	const char *name;          /* "systemd", "dsm" */
	const char *bin;           /* the installed binary */
	const char *config;        /* passthrough.yaml */
	const char *unit_dir;      /* systemd units and their .wants links */
	const char *state_dir;     /* the manifest and backups */
	const char *pkg_script;    /* DSM: the script VMM runs before libvirtd starts; NULL elsewhere */
};

const struct pt_layout_paths *pt_layout_paths(enum pt_layout l);

/* Whether a path may go into the scripts and units install writes: absolute, and only
 * [A-Za-z0-9/._+-] (nothing a shell, systemd or the manifest would read otherwise). */
bool pt_install_path_ok(const char *path);

/* The libvirt hook and where an earlier hook is kept when install chains to it. */
#define PT_HOOK_PATH "/etc/libvirt/hooks/qemu"
#define PT_HOOK_CHAINED PT_HOOK_PATH ".passthrough-orig"

struct pt_install_target {
	enum pt_layout layout;
	const char *root;      /* "/" or a directory to install under (tests); borrowed */
	const char *self;      /* the binary to copy to paths->bin (NULL: leave the binary alone); borrowed */
	const char *config;    /* passthrough.yaml for the units and the hook; NULL: as installed before, else paths->config */
	const char *lock_file; /* the lock for the units and the hook; NULL: as installed before, else PT_LOCK_FILE */
};

/* One thing install or uninstall did (or would do): "created '/etc/...'". */
struct pt_install_change {
	char *line;            /* for people; names the path as written (with the root) */
	bool unit;             /* a systemd unit or link changed: systemd must reload */
};

struct pt_install_result {
	struct pt_install_change *v;
	size_t n, cap;
	char **notes;          /* what the user should know or do next */
	size_t n_notes, cap_notes;
};

void pt_install_result_done(struct pt_install_result *r);

/*
 * Makes the tree under t->root hold the layout's files (binary, config if missing, hook
 * chained to any earlier one, units, timer, DSM wiring), changing only what differs, and
 * records what it created, moved or edited in the layout's manifest. With dry_run, only
 * reports. Preconditions are checked before anything is written. Returns 0 or a negative
 * errno with *reterr set (the caller frees); r lists what was done up to then.
 */
int pt_install(const struct pt_install_target *t, bool dry_run, struct pt_install_result *r, char **reterr);

/*
 * Undoes what the manifest under t->root records, newest first: removes what install
 * created, puts back what it moved, restores edited files byte for byte (or takes out only
 * its own lines when the file changed since), keeps a config the user edited. The layout
 * is the one whose manifest exists (t->layout is ignored). -ENOENT when nothing is installed.
 */
int pt_uninstall(const struct pt_install_target *t, bool dry_run, struct pt_install_result *r, char **reterr);

/* The layout whose manifest exists under root: 0 with *ret set, or -ENOENT. */
int pt_installed_layout(const char *root, enum pt_layout *ret);

/* Whether root looks like Synology DSM (/etc.defaults/VERSION or /etc/synoinfo.conf). */
bool pt_root_is_dsm(const char *root);

/* Runs systemctl ARGS... when systemd runs this host: 0, 1 when it does not, or a negative
 * errno with *reterr set (the caller frees). Only for a live install (root "/"). */
int pt_systemctl(const char *const *args, char **reterr);

#endif
