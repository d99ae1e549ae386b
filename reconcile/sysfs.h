/* sysfs.h: the one access layer for PCI devices in the injected sysfs: attributes, links, driver_override's "(null)" rule, and writes in one write(2), bounded in a writer process where they can block. */
#ifndef PT_SYSFS_H
#define PT_SYSFS_H

#include <stddef.h>
#include <stdint.h>

#include "reconcile/host.h"

/* bus/pci/devices of one sysfs root, opened once: no path is built from the root for each
 * of the thousands of attributes a large host has. */
struct pt_sysfs {
	const struct pt_host *h;  /* borrowed */
	int devices_fd;           /* bus/pci/devices; -1 when it could not be opened */
};

/* Opens h's bus/pci/devices. 0, or a negative errno (then s->devices_fd is -1 and every
 * read below fails with -EBADF; writes still work, they name their whole path). */
int pt_sysfs_open(const struct pt_host *h, struct pt_sysfs *s);
/* The same for bus/usb/devices: the attribute readers below then take a USB device's name
 * ("2-1.3", "2-1.3:1.0") where they say bdf. */
int pt_sysfs_open_usb(const struct pt_host *h, struct pt_sysfs *s);
/* Closes it; accepts a closed or zeroed one. */
void pt_sysfs_close(struct pt_sysfs *s);

/* A one-line attribute of device bdf into buf (cut to size), without the final newline and
 * spaces. 0, or a negative errno (-ENOENT: the kernel has no such attribute here). */
int pt_sysfs_attr(const struct pt_sysfs *s, const char *bdf, const char *name, char *buf, size_t size);
/* A hex attribute ("0x8086"); -EINVAL when it is not a number. */
int pt_sysfs_hex(const struct pt_sysfs *s, const char *bdf, const char *name, unsigned long *ret);
/* Whether bdf's config space answers: 1 when its vendor id (offset 0) is not 0xffff, 0 when it
 * reads all ones (a device that stopped answering, or fell off the bus), or a negative errno
 * (-ENOENT: no such device). Reading config resumes a runtime-suspended device. */
int pt_sysfs_config_answers(const struct pt_sysfs *s, const char *bdf);
/* The last part of a device's link (driver -> ../../bus/pci/drivers/e1000e: "e1000e"), or
 * NULL when there is none; the caller frees. */
char *pt_sysfs_link_name(const struct pt_sysfs *s, const char *bdf, const char *name);
/* The driver bound to bdf, or NULL; the caller frees. */
char *pt_sysfs_driver(const struct pt_sysfs *s, const char *bdf);
/* driver_override, or NULL when unset (the kernel shows "(null)"; older kernels an empty
 * line) or absent; the caller frees. */
char *pt_sysfs_override(const struct pt_sysfs *s, const char *bdf);

/* Which PCI drivers are loaded (the names under bus/pci/drivers but vfio-pci, which takes no
 * device without an override), as one number: FNV-1a over the sorted names. It changes when a
 * module comes or goes, which is when a probe may find another driver. 0, or a negative errno. */
int pt_sysfs_drivers_digest(const struct pt_sysfs *s, uint64_t *ret);

/* Writes value to the attribute at rel (relative to the sysfs root, e.g. "bus/pci/drivers_probe")
 * in one write(2), as the kernel wants. 0, or a negative errno with *reterr set ("cannot write
 * '/sys/bus/pci/drivers_probe': No such device"; the caller frees). For the writes that do not
 * block (driver_override). */
int pt_sysfs_write(const struct pt_sysfs *s, const char *rel, const char *value, char **reterr);

/*
 * The same, bounded, for the writes that can block in the kernel (unbind, drivers_probe, reset,
 * remove: a wedged device's remove() can sleep uninterruptibly for minutes). A writer process
 * (forked twice: nobody's child; stdio on /dev/null and no other descriptor, so it holds
 * neither the lock nor a caller's pipe) opens, writes once and answers its errno through a
 * pipe. When no answer comes within timeout_ms, the writer is left where it is (it may be in
 * D state; nothing waits for it) and the call returns -ETIMEDOUT with *reterr "writing
 * '/sys/bus/pci/drivers/e1000e/unbind' did not return within 10 s"; a writer that ends without
 * answering (killed) is -EIO. Otherwise as pt_sysfs_write(). Costs two forks: only for changes.
 */
int pt_sysfs_write_bounded(const struct pt_sysfs *s, const char *rel, const char *value, unsigned timeout_ms,
			   char **reterr);

#endif
