/* fakesys.c: a FUSE fake of /sys for tier-2 tests: PCI driver binding, power, reset, removal and rescan with the kernel's semantics over a copy of a recorded fixture tree, with fault injection. */
/*
 * usage: fakesys [-m DRIVER=VVVV:DDDD]... [--profile linux-4.4] BACKING MOUNTPOINT
 *
 * BACKING is a writable copy of a recorded tree (tests/fixtures/sysfs/NAME); the
 * fake serves it at MOUNTPOINT in the foreground until `fusermount3 -u MOUNTPOINT`,
 * each request in a worker thread (one lock around the state), so that a write
 * held by a fault does not stop the others.  Reads, directory listings and symlinks pass
 * through; writes to these files act the way Linux 6.1 acts (measured in the
 * test bed, see ../shared/docs/test-bed.md and tests/fake/semantics.sh, which
 * checks the same table against the real kernel):
 *
 *   devices/.../driver_override  sets or (empty, "\n") clears it; never rebinds
 *   bus/pci/drivers/D/unbind     BDF: unbinds if bound to D, else ENODEV (a device a VM
 *                                holds open through vfio: waits until it is closed)
 *   bus/pci/drivers/D/bind       BDF: EBUSY if bound; binds if D matches (the
 *                                override names D, or no override and D's ids
 *                                match), else ENODEV
 *   bus/pci/drivers_probe        BDF: ENODEV if no such device; if unbound,
 *                                binds the override's driver (when loaded) or the
 *                                first loaded driver whose ids match; else nothing
 *   devices/.../power/control    "on" (runtime PM forbidden: resumes it) or "auto", else EINVAL
 *   devices/.../d3cold_allowed   a number (0: no, else yes), else EINVAL; resumes it
 *   devices/.../power_state      read only (EACCES): D0, D3hot or D3cold, as below
 *   devices/.../reset            write only (mode 0200; EACCES on a read), there only
 *                                for a device with a reset method: "1" resets it (resuming
 *                                it first), anything else EINVAL; ENOTTY when every method
 *                                was taken out through reset_method, or when it is dead
 *                                (the kernel gives up after 60 s per method; `hang` adds
 *                                the wait)
 *   devices/.../reset_method     the methods, in the kernel's order ("flr af_flr pm bus");
 *                                a write of some of them, "default" or "" (none) sets it
 *   devices/.../remove           a number; non-zero: the device and the devices behind it
 *                                vanish (each unbound first), 0: nothing
 *   devices/.../rescan           a number; non-zero: rescans the bus the device sits on
 *   devices/.../pci_bus/DDDD:BB/rescan (class/pci_bus/DDDD:BB/rescan)  that bus and the
 *                                buses behind it
 *   bus/pci/rescan               every bus
 *   module/vfio_pci/parameters/disable_idle_d3  Y or N (kstrtobool, else EINVAL): changes
 *                                what it reads, not the value in force, which is the one
 *                                vfio-pci was loaded with
 *
 * A rescan brings back the removed devices in its scope whose parent is present, as new
 * devices: no driver_override, power/control "on", d3cold_allowed 1, no faults, and bound
 * by the first loaded driver whose ids match (the kernel's probe on add); a bridge that
 * comes back brings its bus (class/pci_bus/DDDD:BB) back.  Reading a removed device's
 * attributes, or writing them through a descriptor opened before, fails (ENOENT, ENODEV).
 *
 * Power, as 6.1 does it: binding vfio-pci sets power/control to "auto" (pm_runtime_allow()
 * in its probe) and unbinding it sets "on" (pm_runtime_forbid()); a device on vfio-pci with
 * power/control "auto" that no VM holds open is runtime-suspended, in D3hot when it has a
 * PM capability (else it stays in D0), unless vfio-pci was loaded with disable_idle_d3=Y.
 * Every other device is in D0 (host drivers keep theirs awake here), except one put in
 * D3cold by `d3cold`.  Binding, unbinding, a reset, writing d3cold_allowed or
 * power/control "on", and reading its config, resume a device: out of D3cold (unless it
 * is dead) and, when it is runtime-suspended, back into suspension right after.  A
 * fixture that lacks these attributes (recorded before they were) gets them at start-up:
 * power/control "on" ("auto" on vfio-pci), d3cold_allowed 1, power_state as above,
 * remove and rescan, and reset with reset_method when the kernel would find a method in
 * the recorded config space: flr (PCIe FLR), af_flr, pm (a PM capability without
 * No_Soft_Reset), bus (alone on a bus behind a bridge, not a bridge itself); on the bed
 * that gives the e1000e at 00:02.0 "pm", the one behind the root port "pm bus", and edu
 * and e1000 no reset at all, as the bed's 6.1 kernel shows.  Attributes a fixture has
 * are kept.
 *
 * vfio-pci is a module: when bus/pci/drivers/vfio-pci exists, so does module/vfio_pci
 * (parameters/disable_idle_d3, refcnt: how many vfio devices VMs hold open), with a new
 * inode number on each load, as the kernel's; unloading it unbinds its devices, and is
 * refused (EBUSY) while refcnt is not 0.
 *
 * --profile linux-4.4 (or the command `profile linux-4.4`) is Synology DSM 7.2's kernel:
 * no power_state, no reset_method, no kernel/iommu_groups/N/type, and vfio-pci without
 * runtime PM (binding it leaves power/control alone; it puts an idle device in D3hot
 * itself, unless disable_idle_d3).  When each appeared, by Documentation/ABI/testing:
 *   sysfs-bus-pci  remove, rescan, bus/pci/rescan     Date: January 2009 (2.6.29)
 *                  reset                              Date: July 2009 (2.6.31)
 *                  pci_bus/.../rescan                 Date: May 2011
 *                  d3cold_allowed                     Date: July 2012 (3.6)
 *                  driver_override                    Date: April 2014 (3.16)
 *                  power_state                        Date: November 2020 (5.11)
 *                  reset_method                       Date: March 2021 (merged for 5.15)
 *   sysfs-kernel-iommu_groups  <grp_id>/type          KernelVersion: v5.11
 * (sysfs-bus-pci gives dates only; the releases in parentheses are the ones those dates
 * fall in.)  vfio-pci's disable_idle_d3 is from 4.1, its runtime PM from 5.19.
 *
 * A driver "is loaded" when bus/pci/drivers/D exists.  A driver's ids are
 * those of the devices bound to it in the fixture (vfio-pci has none: it binds
 * only through driver_override), plus -m DRIVER=VVVV:DDDD.
 *
 * Two extra files at the top let a test steer and watch the fake:
 *   fakesys-control  (write, one command per write)
 *     fail BDF OP ERRNO [N]   the next N (default: every) writes of OP for BDF
 *                             fail with ERRNO (EBUSY, ENODEV, EIO, EINVAL, EPERM,
 *                             ENOTTY, ...) and change nothing; OP: override unbind bind
 *                             probe reset remove
 *     reset-fail BDF ERRNO [N]  the same as fail BDF reset ERRNO [N] (ENOTTY, EIO)
 *     late BDF MS             drivers_probe of BDF returns at once and the driver
 *                             link appears MS ms later (async probe; bind stays
 *                             synchronous, as in the kernel)
 *     wrong BDF DRIVER        a probe binds DRIVER whatever the override says
 *     vanish BDF              the device disappears now (surprise removal, unbound
 *                             first); a rescan of its bus brings it back
 *     vanish-on BDF OP        ... right after the next successful OP write
 *     dead BDF [CURE]         its config space reads all ones (0xff bytes) until CURE:
 *                             rescan (default: a remove and a rescan bring back a
 *                             working device), reset (a reset revives it), never (a
 *                             rescan does not find it again once removed)
 *     d3cold BDF              it drops into D3cold now, as runtime PM does when the
 *                             platform can cut its power: only with power/control
 *                             "auto", d3cold_allowed 1 and nothing holding it in D0
 *                             (open, or vfio-pci with disable_idle_d3), else EBUSY
 *     open BDF / close BDF    a VM opens (or closes) the device through vfio: it must be
 *                             on vfio-pci (else EINVAL); refcnt counts them, and an open
 *                             device stays in D0
 *     kill-on BDF OP          right after the next successful OP write of BDF, the
 *                             process that wrote it is killed (SIGKILL): a run that
 *                             dies between two steps, e.g. after clearing the override
 *                             and before the probe
 *     hang BDF OP [MS]        every OP write of BDF does not return for MS ms
 *                             (default: until `clear`), then acts as usual: a wedged
 *                             device, whose unbind blocks in the kernel (on the
 *                             device's lock, so the next one does too)
 *     load DRIVER [disable_idle_d3=V] / unload DRIVER   a module comes (and takes the
 *                             unbound devices it matches) or goes (and its devices are
 *                             unbound); the parameter, for vfio-pci, is the value in
 *                             force until it is loaded again; a load of a loaded module
 *                             changes nothing (as modprobe); a test's stand-in modprobe
 *                             writes these
 *     profile linux-4.4       as --profile
 *     clear                   forget every fault, close what `open` opened, and let every
 *                             held write go on
 *   fakesys-log  (read) one line per write the fake received and its result,
 *                e.g. "unbind e1000e 0000:00:02.0 = 0", "reset 0000:00:02.0 1 = -25",
 *                "power/control 0000:00:02.0 on = 0", "rescan bus 0000:01 1 = 0",
 *                "disable_idle_d3 Y = 0" or "new_id 8086 10d3 = 0", and what happened
 *                on its own, before the line of the write that caused it: "removed BDF",
 *                "vanished BDF", "added BDF on DRIVER" (or "on no driver"), "config read
 *                resumes BDF" (config read of a runtime-suspended device), "late bind ...".
 *
 * Not modelled: permissions beyond the file modes (a file with no write bit refuses
 * writes, one with no read bit reads, with EACCES; the rest is accepted, and new_id,
 * remove_id and config writes are only logged), network interfaces coming and going with
 * their driver, an autosuspend delay (suspension is immediate), a driverless device in
 * D3hot, and what a reset does to the device beyond reviving a `dead ... reset` one.
 */
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVS 512
#define MAX_IDS 512
#define MAX_BUSES 256
#define NAME_SZ 64
#define BUS_SZ 16                  /* "ffffffff:ff" */
#define METHODS_SZ 64
#define VFIO_MODULE "module/vfio_pci"
/* module/vfio_pci's inode number: a new one per load (the backing tree's may be reused) */
#define VFIO_INO_BASE ((ino_t)1 << 40)

enum op { OP_OVERRIDE, OP_UNBIND, OP_BIND, OP_PROBE, OP_RESET, OP_REMOVE, N_OPS };
static const char *const op_names[N_OPS] = { "override", "unbind", "bind", "probe", "reset", "remove" };

enum dead { ALIVE, DEAD_TILL_RESCAN, DEAD_TILL_RESET, DEAD_FOREVER };

struct dev {
	struct timespec due;         /* when the async probe in flight (pending) binds */
	int parent;                  /* index of the bridge it is behind, -1 on a root bus */
	unsigned vendor, device;
	int opened;                  /* vfio devices a VM holds open */
	/* faults */
	unsigned late_ms;
	int vanish_on;               /* an op, or -1 */
	int kill_on;                 /* an op, or -1 */
	int hang_op;                 /* an op, or -1 */
	unsigned hang_ms;            /* 0: until `clear` */
	enum dead dead;
	int fail_errno[N_OPS];
	int fail_left[N_OPS];        /* -1: every time */
	bool gone;                   /* removed: its folder and links are hidden */
	bool has_pm;                 /* a PM capability: D3hot is possible */
	bool methods_off;            /* every reset method taken out through reset_method */
	bool control_on;             /* power/control "on" (else "auto") */
	bool d3cold_allowed;
	bool cold;                   /* in D3cold */
	char bus[BUS_SZ];            /* "DDDD:BB", the bus it sits on */
	char secondary[BUS_SZ];      /* a bridge's secondary bus, "" otherwise */
	char bdf[17];                /* up to "ffffffff:ff:1f.7": PCI domains are 32 bits */
	char group[NAME_SZ];         /* its IOMMU group, "" when none */
	char probed[METHODS_SZ];     /* the reset methods the kernel finds */
	char methods[METHODS_SZ];    /* reset_method (probed, or as written) */
	char drv[NAME_SZ];           /* bound driver, "" when none */
	char ovr[NAME_SZ];           /* driver_override, "" when unset */
	char wrong[NAME_SZ];         /* fault: the driver a probe binds */
	char pending[NAME_SZ];       /* an async probe in flight: the driver it binds */
	char dir[PATH_MAX];          /* device folder, relative to the backing root */
	char link[PATH_MAX];         /* bus/pci/devices/BDF's target, put back by a rescan */
};

struct id_match {
	char drv[NAME_SZ];
	unsigned vendor, device;
};

/* A PCI bus: a root bus, or a bridge's secondary bus (gone with its bridge). */
struct bus {
	char name[BUS_SZ];
	char dir[PATH_MAX];          /* .../pci_bus/DDDD:BB */
	int bridge;                  /* index of its bridge, -1 for a root bus */
};

/* Every request runs in a worker thread of libfuse and takes this lock first; a held write
 * waits on `unhang` (which lets the lock go meanwhile). */
static pthread_mutex_t big = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t unhang = PTHREAD_COND_INITIALIZER;
static unsigned clears;            /* how many times `clear` ran: a held write waits for the next */

static int backing = -1;           /* fd of the backing root */
static struct dev devs[MAX_DEVS];
static size_t n_devs;
static struct id_match ids[MAX_IDS];
static size_t n_ids;
static struct bus buses[MAX_BUSES];
static size_t n_buses;
static bool linux44;               /* --profile linux-4.4 */
static bool idle_d3;               /* the disable_idle_d3 vfio-pci was loaded with */
static unsigned long vfio_loads;   /* how many times vfio-pci was loaded: its module's inode */

/* Copies a name into a NAME_SZ field, cut if it is longer (names are short in sysfs). */
static void
set_name(char *dst, const char *src)
{
	size_t n = strnlen(src, NAME_SZ - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static const char *
rel(const char *path) /* FUSE paths start with '/'; the *at() calls want them relative */
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static void __attribute__((format(printf, 1, 2)))
logf_(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fd = openat(backing, "fakesys-log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) < 0)
			perror("fakesys: fakesys-log");
		close(fd);
	}
}

static int
read_small(const char *relpath, char *buf, size_t size)
{
	int fd = openat(backing, relpath, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Replaces the content of an existing file (one a profile took out stays out). */
static int
write_small(const char *relpath, const char *value)
{
	int fd = openat(backing, relpath, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n < 0 ? -errno : 0;
}

static bool
exists(const char *relpath)
{
	struct stat st;

	return fstatat(backing, relpath, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Creates a file with its content and mode when it is not there yet. */
static void
create_file(const char *relpath, const char *value, mode_t mode)
{
	int fd = openat(backing, relpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0)
		return;
	if (write(fd, value, strlen(value)) < 0)
		perror("fakesys: create_file");
	close(fd);
}

/* A symlink the fake puts (back) in place; one already there is fine. */
static void
relink(const char *target, const char *relpath)
{
	if (symlinkat(target, backing, relpath) < 0 && errno != EEXIST)
		fprintf(stderr, "fakesys: cannot link '%s': %s\n", relpath, strerror(errno));
}

/* mkdir -p, relative to the backing root */
static void
make_dirs(const char *relpath)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", relpath);
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdirat(backing, p, 0755);
		*s = '/';
	}
	mkdirat(backing, p, 0755);
}

/* A device's attribute path: "DIR/NAME". */
static const char *
attr(const struct dev *d, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", d->dir, name);
	return buf;
}

/* kstrtoul(s, 0): a whole number in any base, no sign */
static int
parse_ulong(const char *s, unsigned long *ret)
{
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*ret = strtoul(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

/* kstrtobool */
static int
parse_bool(const char *s, bool *ret)
{
	switch (s[0]) {
	case 'y': case 'Y': case '1':
		*ret = true;
		return 0;
	case 'n': case 'N': case '0':
		*ret = false;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') {
			*ret = true;
			return 0;
		}
		if (s[1] == 'f' || s[1] == 'F') {
			*ret = false;
			return 0;
		}
		return -EINVAL;
	default:
		return -EINVAL;
	}
}

static struct dev *
find_dev(const char *bdf)
{
	for (size_t i = 0; i < n_devs; i++)
		if (!devs[i].gone && strcmp(devs[i].bdf, bdf) == 0)
			return &devs[i];
	return NULL;
}

/* Whether relpath is inside a removed device's folder (hidden: it is not there). */
static bool
hidden(const char *relpath)
{
	for (size_t i = 0; i < n_devs; i++) {
		size_t n = strlen(devs[i].dir);

		if (devs[i].gone && strncmp(relpath, devs[i].dir, n) == 0 && (relpath[n] == '\0' || relpath[n] == '/'))
			return true;
	}
	return false;
}

static bool
driver_loaded(const char *drv)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "bus/pci/drivers/%s", drv);
	return fstatat(backing, p, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

static bool
ids_match(const char *drv, const struct dev *d)
{
	for (size_t i = 0; i < n_ids; i++)
		if (strcmp(ids[i].drv, drv) == 0 && ids[i].vendor == d->vendor && ids[i].device == d->device)
			return true;
	return false;
}

/* pci_match_device(): an override names the one driver that may bind; else the id tables. */
static bool
driver_matches(const char *drv, const struct dev *d)
{
	if (d->ovr[0])
		return strcmp(d->ovr, drv) == 0;
	return ids_match(drv, d);
}

static void
add_id(const char *drv, unsigned vendor, unsigned device)
{
	if (n_ids == MAX_IDS || strlen(drv) >= NAME_SZ)
		return;
	set_name(ids[n_ids].drv, drv);
	ids[n_ids].vendor = vendor;
	ids[n_ids].device = device;
	n_ids++;
}

/* --- power ------------------------------------------------------------------ */

static bool
on_vfio(const struct dev *d)
{
	return strcmp(d->drv, "vfio-pci") == 0;
}

/* vfio-pci lets an idle device suspend: nothing holds it open, disable_idle_d3 is off and
 * (with runtime PM, 5.19+) power/control is "auto". */
static bool
vfio_idle(const struct dev *d)
{
	return on_vfio(d) && !d->opened && !idle_d3 && (linux44 || !d->control_on);
}

static bool
suspended(const struct dev *d)
{
	return d->cold || vfio_idle(d);
}

static const char *
power_state(const struct dev *d)
{
	if (d->cold)
		return "D3cold";
	return vfio_idle(d) && d->has_pm ? "D3hot" : "D0";
}

/* Writes the device's power attributes (those its tree has) from its state. */
static void
power_sync(const struct dev *d)
{
	char p[PATH_MAX + 32], v[8];

	snprintf(v, sizeof(v), "%s\n", power_state(d));
	write_small(attr(d, "power_state", p, sizeof(p)), v);
	write_small(attr(d, "power/runtime_status", p, sizeof(p)), suspended(d) && !linux44 ? "suspended\n" : "active\n");
	write_small(attr(d, "power/control", p, sizeof(p)), d->control_on ? "on\n" : "auto\n");
	write_small(attr(d, "d3cold_allowed", p, sizeof(p)), d->d3cold_allowed ? "1\n" : "0\n");
}

/* pm_runtime_resume(): out of D3cold, unless it is dead (runtime suspension, if it applies,
 * follows right after). */
static void
wake(struct dev *d)
{
	if (d->cold && d->dead == ALIVE)
		d->cold = false;
}

static int
refcnt(void)
{
	int n = 0;

	for (size_t i = 0; i < n_devs; i++)
		if (!devs[i].gone)
			n += devs[i].opened;
	return n;
}

static void
refcnt_sync(void)
{
	char v[16];

	snprintf(v, sizeof(v), "%d\n", refcnt());
	write_small(VFIO_MODULE "/refcnt", v);
}

/* --- binding ---------------------------------------------------------------- */

/* "../" once per component of the device folder: from there back to the root */
static void
up_to_root(const char *dir, char *out, size_t size)
{
	out[0] = '\0';
	for (const char *p = dir; *p; p++)
		if (p == dir || p[-1] == '/')
			strncat(out, "../", size - strlen(out) - 1);
}

static int
link_driver(struct dev *d, const char *drv)
{
	char up[PATH_MAX], target[PATH_MAX * 2], linkpath[PATH_MAX * 2];

	up_to_root(d->dir, up, sizeof(up));
	snprintf(target, sizeof(target), "%sbus/pci/drivers/%s", up, drv);
	snprintf(linkpath, sizeof(linkpath), "%s/driver", d->dir);
	if (symlinkat(target, backing, linkpath) < 0)
		return -errno;
	snprintf(target, sizeof(target), "../../../../%s", d->dir);
	snprintf(linkpath, sizeof(linkpath), "bus/pci/drivers/%s/%s", drv, d->bdf);
	if (symlinkat(target, backing, linkpath) < 0)
		return -errno;
	set_name(d->drv, drv);
	wake(d);                       /* the PCI core resumes a device around its probe */
	if (on_vfio(d) && !linux44)
		d->control_on = false; /* vfio-pci's probe: pm_runtime_allow() */
	power_sync(d);
	return 0;
}

static void
unlink_driver(struct dev *d)
{
	char linkpath[PATH_MAX * 2];

	snprintf(linkpath, sizeof(linkpath), "%s/driver", d->dir);
	unlinkat(backing, linkpath, 0);
	snprintf(linkpath, sizeof(linkpath), "bus/pci/drivers/%s/%s", d->drv, d->bdf);
	unlinkat(backing, linkpath, 0);
	if (on_vfio(d) && !linux44)
		d->control_on = true;  /* vfio-pci's remove: pm_runtime_forbid() */
	d->drv[0] = '\0';
	wake(d);
	power_sync(d);
}

/* The first loaded driver whose ids match (the kernel's probe of a new device). */
static const char *
host_driver(const struct dev *d)
{
	for (size_t i = 0; i < n_ids; i++)
		if (ids[i].vendor == d->vendor && ids[i].device == d->device && driver_loaded(ids[i].drv))
			return ids[i].drv;
	return NULL;
}

/* --- removal and rescan ------------------------------------------------------- */

static void
group_link_path(const struct dev *d, char *buf, size_t size)
{
	snprintf(buf, size, "kernel/iommu_groups/%s/devices/%s", d->group, d->bdf);
}

static struct bus *
bus_of_bridge(size_t i)
{
	for (size_t b = 0; b < n_buses; b++)
		if (buses[b].bridge == (int)i)
			return &buses[b];
	return NULL;
}

/* pci_stop_and_remove_bus_device(): the devices behind it first, each unbound, then its links. */
static void
remove_dev(struct dev *d, const char *how)
{
	size_t i = (size_t)(d - devs);
	char p[PATH_MAX * 2];
	struct bus *b;

	for (size_t c = 0; c < n_devs; c++)
		if (!devs[c].gone && devs[c].parent == (int)i)
			remove_dev(&devs[c], how);
	if (d->drv[0])
		unlink_driver(d);
	d->pending[0] = '\0';
	if (d->group[0]) {
		group_link_path(d, p, sizeof(p));
		unlinkat(backing, p, 0);
	}
	snprintf(p, sizeof(p), "bus/pci/devices/%s", d->bdf);
	unlinkat(backing, p, 0);
	if ((b = bus_of_bridge(i))) {
		snprintf(p, sizeof(p), "class/pci_bus/%s", b->name);
		unlinkat(backing, p, 0);
	}
	d->gone = true;
	logf_("%s %s", how, d->bdf);
}

static void
clear_faults(struct dev *d)
{
	memset(d->fail_errno, 0, sizeof(d->fail_errno));
	d->late_ms = 0;
	d->wrong[0] = '\0';
	d->vanish_on = -1;
	d->kill_on = -1;
	d->hang_op = -1;
}

/* pci_scan_single_device() + pci_bus_add_device(): a new device where the old one was. */
static void
restore_dev(struct dev *d)
{
	size_t i = (size_t)(d - devs);
	char p[PATH_MAX * 2], target[PATH_MAX + 16];
	const char *drv;
	struct bus *b;

	d->gone = false;
	snprintf(p, sizeof(p), "bus/pci/devices/%s", d->bdf);
	relink(d->link, p);
	if (d->group[0]) {
		group_link_path(d, p, sizeof(p));
		snprintf(target, sizeof(target), "../../../../%s", d->dir);
		relink(target, p);
	}
	if ((b = bus_of_bridge(i))) {
		snprintf(p, sizeof(p), "class/pci_bus/%s", b->name);
		snprintf(target, sizeof(target), "../../%s", b->dir);
		relink(target, p);
	}
	d->ovr[0] = '\0';
	write_small(attr(d, "driver_override", p, sizeof(p)), "(null)\n");
	memcpy(d->methods, d->probed, sizeof(d->methods));
	d->methods_off = false;
	if (d->methods[0]) {
		char v[METHODS_SZ + 2];

		snprintf(v, sizeof(v), "%s\n", d->methods);
		write_small(attr(d, "reset_method", p, sizeof(p)), v);
	}
	d->control_on = true;          /* pci_pm_init(): pm_runtime_forbid() */
	d->d3cold_allowed = true;
	d->cold = false;
	d->opened = 0;
	d->dead = ALIVE;
	clear_faults(d);
	power_sync(d);
	drv = host_driver(d);
	if (drv && link_driver(d, drv) < 0)
		drv = NULL;
	logf_("added %s on %s", d->bdf, drv ? drv : "no driver");
}

/* Whether d sits on bus, or behind a bridge that does. */
static bool
in_scope(const struct dev *d, const char *bus)
{
	for (const struct dev *x = d; x; x = x->parent >= 0 ? &devs[x->parent] : NULL)
		if (strcmp(x->bus, bus) == 0)
			return true;
	return false;
}

/* pci_rescan_bus(): brings back what was removed on bus (NULL: every bus) and behind it. */
static void
rescan(const char *bus)
{
	bool again = true;

	while (again) {
		again = false;
		for (size_t i = 0; i < n_devs; i++) {
			struct dev *d = &devs[i];

			if (!d->gone || d->dead == DEAD_FOREVER || (d->parent >= 0 && devs[d->parent].gone))
				continue;
			if (bus && !in_scope(d, bus))
				continue;
			restore_dev(d);
			again = true;
		}
	}
}

/* --- faults ------------------------------------------------------------------- */

/* An async probe whose time has come binds now. */
static void
settle(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i < n_devs; i++) {
		struct dev *d = &devs[i];

		if (d->gone || !d->pending[0])
			continue;
		if (now.tv_sec < d->due.tv_sec || (now.tv_sec == d->due.tv_sec && now.tv_nsec < d->due.tv_nsec))
			continue;
		if (!d->drv[0] && driver_loaded(d->pending)) {
			int r = link_driver(d, d->pending);

			logf_("late bind %s %s = %d", d->pending, d->bdf, r);
		}
		d->pending[0] = '\0';
	}
}

/* A fault armed for (d, op): its errno (consumed), or 0. */
static int
take_fault(struct dev *d, enum op op)
{
	if (!d->fail_errno[op] || d->fail_left[op] == 0)
		return 0;
	if (d->fail_left[op] > 0)
		d->fail_left[op]--;
	return d->fail_errno[op];
}

static void
after_op(struct dev *d, enum op op)
{
	if (d->vanish_on == (int)op) {
		d->vanish_on = -1;
		if (!d->gone)
			remove_dev(d, "vanished");
	}
	if (d->kill_on == (int)op) {
		pid_t pid = fuse_get_context()->pid;

		d->kill_on = -1;
		logf_("killed %d after %s %s", (int)pid, op_names[op], d->bdf);
		if (pid > 0)
			kill(pid, SIGKILL);
	}
}

/* A write held by `hang`: waits (the lock let go) for its time or the next `clear`. */
static void
hang_if_armed(struct dev *d, enum op op)
{
	struct timespec until;
	unsigned gen = clears;

	if (d->hang_op != (int)op)
		return;
	logf_("hang %s %s", op_names[op], d->bdf);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += d->hang_ms / 1000;
	until.tv_nsec += (long)(d->hang_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (gen == clears) {
		int r = d->hang_ms ? pthread_cond_timedwait(&unhang, &big, &until) : pthread_cond_wait(&unhang, &big);

		if (r == ETIMEDOUT)
			break;
	}
	logf_("unhang %s %s", op_names[op], d->bdf);
}

/* vfio_unregister_group_dev(): the unbind of a device a VM holds open waits for its release. */
static void
wait_released(struct dev *d)
{
	unsigned gen = clears;

	if (!d->opened)
		return;
	logf_("in use %s: waits for its release", d->bdf);
	while (d->opened && gen == clears)
		pthread_cond_wait(&unhang, &big);
}

/* --- writes --------------------------------------------------------------------- */

/* drivers_probe: binds now, or later when a late (asynchronous) probe is armed. */
static int
bind_to(struct dev *d, const char *drv)
{
	if (d->late_ms) {
		clock_gettime(CLOCK_MONOTONIC, &d->due);
		d->due.tv_sec += d->late_ms / 1000;
		d->due.tv_nsec += (long)(d->late_ms % 1000) * 1000000L;
		if (d->due.tv_nsec >= 1000000000L) {
			d->due.tv_sec++;
			d->due.tv_nsec -= 1000000000L;
		}
		set_name(d->pending, drv);
		return 0;
	}
	return link_driver(d, drv);
}

static int
do_override(struct dev *d, const char *val)
{
	char content[NAME_SZ + 2], p[PATH_MAX * 2];
	int e;

	hang_if_armed(d, OP_OVERRIDE);
	if (d->gone)
		return -ENODEV;
	if ((e = take_fault(d, OP_OVERRIDE)))
		return -e;
	if (strlen(val) >= NAME_SZ) /* the kernel takes up to a page; no driver name is this long */
		return -EINVAL;
	set_name(d->ovr, val);
	d->ovr[strcspn(d->ovr, "\n")] = '\0'; /* the kernel cuts at the first newline */
	snprintf(content, sizeof(content), "%s\n", val[0] ? val : "(null)");
	write_small(attr(d, "driver_override", p, sizeof(p)), content);
	after_op(d, OP_OVERRIDE);
	return 0;
}

static int
do_unbind(const char *drv, const char *bdf)
{
	struct dev *d = find_dev(bdf);
	int e;

	if (!d || strcmp(d->drv, drv) != 0)
		return -ENODEV;
	hang_if_armed(d, OP_UNBIND);   /* the kernel blocks in the driver's remove() */
	if (d->gone || strcmp(d->drv, drv) != 0)
		return -ENODEV;
	if ((e = take_fault(d, OP_UNBIND)))
		return -e;
	wait_released(d);
	if (d->gone || strcmp(d->drv, drv) != 0)
		return -ENODEV;
	unlink_driver(d);
	after_op(d, OP_UNBIND);
	return 0;
}

static int
do_bind(const char *drv, const char *bdf)
{
	struct dev *d = find_dev(bdf);
	int e, r;

	if (!d)
		return -ENODEV;
	hang_if_armed(d, OP_BIND);
	if (d->gone)
		return -ENODEV;
	if ((e = take_fault(d, OP_BIND)))
		return -e;
	if (!driver_matches(drv, d))
		return -ENODEV;
	if (d->drv[0] || d->pending[0])
		return -EBUSY;
	r = link_driver(d, drv); /* bind_store() probes synchronously: never late */
	if (r == 0)
		after_op(d, OP_BIND);
	return r;
}

static int
do_probe(const char *bdf)
{
	struct dev *d = find_dev(bdf);
	const char *drv = NULL;
	int e;

	if (!d)
		return -ENODEV;
	hang_if_armed(d, OP_PROBE);
	if (d->gone)
		return -ENODEV;
	if ((e = take_fault(d, OP_PROBE)))
		return -e;
	if (d->drv[0] || d->pending[0])
		return 0;
	if (d->wrong[0])
		drv = d->wrong;
	else if (d->ovr[0])
		drv = d->ovr;
	else
		drv = host_driver(d);
	if (drv && driver_loaded(drv)) {
		int r = bind_to(d, drv);

		if (r < 0)
			return r;
	}
	after_op(d, OP_PROBE);
	return 0;
}

/* reset_store(): "1" only; pm_runtime_get_sync(), pci_reset_function(). */
static int
do_reset(struct dev *d, const char *val)
{
	unsigned long v;
	int e;

	if (parse_ulong(val, &v) < 0 || v != 1)
		return -EINVAL;
	hang_if_armed(d, OP_RESET);    /* pci_reset_function() takes the device's lock */
	if (d->gone)
		return -ENODEV;
	if ((e = take_fault(d, OP_RESET)))
		return -e;
	if (d->methods_off)
		return -ENOTTY;        /* every method taken out through reset_method */
	if (d->dead == DEAD_TILL_RESET)
		d->dead = ALIVE;
	wake(d);
	power_sync(d);
	if (d->dead != ALIVE)
		return -ENOTTY;        /* pci_dev_wait(): not ready after the reset; giving up */
	after_op(d, OP_RESET);
	return 0;
}

static int
do_remove(struct dev *d, const char *val)
{
	unsigned long v;
	int e;

	if (parse_ulong(val, &v) < 0)
		return -EINVAL;
	if (!v)
		return 0;
	hang_if_armed(d, OP_REMOVE);
	if (d->gone)
		return -ENODEV;
	if ((e = take_fault(d, OP_REMOVE)))
		return -e;
	wait_released(d);
	if (d->gone)
		return -ENODEV;
	remove_dev(d, "removed");
	after_op(d, OP_REMOVE);
	return 0;
}

static int
do_rescan(const char *bus, const char *val)
{
	unsigned long v;

	if (parse_ulong(val, &v) < 0)
		return -EINVAL;
	if (v)
		rescan(bus);
	return 0;
}

/* control_store() of the PM core */
static int
do_power_control(struct dev *d, const char *val)
{
	if (strcmp(val, "on") == 0) {
		d->control_on = true;  /* pm_runtime_forbid(): resumes it */
		wake(d);
	} else if (strcmp(val, "auto") == 0) {
		d->control_on = false; /* pm_runtime_allow() */
	} else {
		return -EINVAL;
	}
	power_sync(d);
	return 0;
}

static int
do_d3cold_allowed(struct dev *d, const char *val)
{
	unsigned long v;

	if (parse_ulong(val, &v) < 0)
		return -EINVAL;
	d->d3cold_allowed = v != 0;
	wake(d);                       /* pm_runtime_resume() */
	power_sync(d);
	return 0;
}

/* reset_method_store(): "default", "" (none), or some of the methods the kernel found. */
static int
do_reset_method(struct dev *d, const char *val)
{
	char copy[256], set[METHODS_SZ] = "", v[METHODS_SZ + 2], p[PATH_MAX + 32];

	if (strcmp(val, "default") == 0) {
		memcpy(set, d->probed, sizeof(set));
	} else {
		snprintf(copy, sizeof(copy), "%s", val);
		for (char *save = NULL, *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			bool found = false;
			char probed[METHODS_SZ];

			memcpy(probed, d->probed, sizeof(probed));
			for (char *s2 = NULL, *m = strtok_r(probed, " ", &s2); m && !found; m = strtok_r(NULL, " ", &s2))
				found = strcmp(m, t) == 0;
			if (!found || strlen(set) + strlen(t) + 2 > sizeof(set))
				return -EINVAL;
			if (set[0])
				strcat(set, " ");
			strcat(set, t);
		}
	}
	memcpy(d->methods, set, sizeof(d->methods));
	d->methods_off = !set[0];
	snprintf(v, sizeof(v), "%s\n", set);
	write_small(attr(d, "reset_method", p, sizeof(p)), v);
	return 0;
}

/* param_set_bool(): what the file reads changes, the value vfio-pci uses does not. */
static int
do_idle_param(const char *val)
{
	bool b;

	if (parse_bool(val, &b) < 0)
		return -EINVAL;
	return write_small(VFIO_MODULE "/parameters/disable_idle_d3", b ? "Y\n" : "N\n");
}

/* --- modules, profiles, control --------------------------------------------------- */

static int
errno_by_name(const char *s)
{
	static const struct { const char *name; int e; } t[] = {
		{ "EBUSY", EBUSY }, { "ENODEV", ENODEV }, { "EIO", EIO }, { "EINVAL", EINVAL },
		{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EAGAIN", EAGAIN }, { "ENOTTY", ENOTTY },
		{ "ETIMEDOUT", ETIMEDOUT },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].e;
	return 0;
}

static int
op_by_name(const char *s)
{
	for (int i = 0; i < N_OPS; i++)
		if (strcmp(s, op_names[i]) == 0)
			return i;
	return -1;
}

static void
vfio_module_create(bool idle)
{
	make_dirs(VFIO_MODULE "/parameters");
	create_file(VFIO_MODULE "/parameters/disable_idle_d3", idle ? "Y\n" : "N\n", 0644);
	create_file(VFIO_MODULE "/refcnt", "0\n", 0444);
	create_file(VFIO_MODULE "/initstate", "live\n", 0444);
	refcnt_sync();
}

static void
vfio_module_remove(void)
{
	unlinkat(backing, VFIO_MODULE "/parameters/disable_idle_d3", 0);
	unlinkat(backing, VFIO_MODULE "/parameters", AT_REMOVEDIR);
	unlinkat(backing, VFIO_MODULE "/refcnt", 0);
	unlinkat(backing, VFIO_MODULE "/initstate", 0);
	unlinkat(backing, VFIO_MODULE, AT_REMOVEDIR);
}

/* modprobe DRIVER [PARAM...]: vfio-pci takes disable_idle_d3 (others' parameters are ignored,
 * as the kernel ignores unknown ones); loading a loaded module does nothing. */
static int
load_driver(const char *drv, char *const *params, int n_params)
{
	char p[PATH_MAX];
	bool vfio = strcmp(drv, "vfio-pci") == 0, idle = false;

	if (driver_loaded(drv))
		return 0;
	for (int i = 0; vfio && i < n_params; i++) {
		const char *eq = strchr(params[i], '=');

		if (strncmp(params[i], "disable_idle_d3", 15) != 0 || (params[i][15] && params[i][15] != '='))
			continue;
		if (!eq)
			idle = true;   /* a bool parameter alone means true */
		else if (parse_bool(eq + 1, &idle) < 0)
			return -EINVAL; /* "invalid for parameter": the load fails */
	}
	snprintf(p, sizeof(p), "bus/pci/drivers/%s", drv);
	if (mkdirat(backing, p, 0755) < 0)
		return -errno;
	for (const char *const *f = (const char *const[]){ "bind", "unbind", "new_id", "remove_id", NULL }; *f; f++) {
		char fp[PATH_MAX + 16];

		snprintf(fp, sizeof(fp), "%s/%s", p, *f);
		create_file(fp, "", 0200);
	}
	if (vfio) {
		idle_d3 = idle;
		vfio_loads++;
		vfio_module_create(idle);
	}
	/* driver_register() -> driver_attach(): it takes the unbound devices it matches */
	for (size_t i = 0; i < n_devs; i++)
		if (!devs[i].gone && !devs[i].drv[0] && !devs[i].pending[0] && driver_matches(drv, &devs[i]))
			link_driver(&devs[i], drv);
	return 0;
}

static int
unload_driver(const char *drv)
{
	char p[PATH_MAX], fp[PATH_MAX + 16];
	bool vfio = strcmp(drv, "vfio-pci") == 0;

	if (vfio && refcnt() > 0)
		return -EBUSY;         /* rmmod: "Module vfio_pci is in use" */
	/* rmmod of a module nobody holds open unbinds its devices */
	for (size_t i = 0; i < n_devs; i++)
		if (!devs[i].gone && strcmp(devs[i].drv, drv) == 0)
			unlink_driver(&devs[i]);
	for (const char *const *f = (const char *const[]){ "bind", "unbind", "new_id", "remove_id",
							    "uevent", "module", NULL }; *f; f++) {
		snprintf(fp, sizeof(fp), "bus/pci/drivers/%s/%s", drv, *f);
		unlinkat(backing, fp, 0);
	}
	snprintf(p, sizeof(p), "bus/pci/drivers/%s", drv);
	if (unlinkat(backing, p, AT_REMOVEDIR) < 0)
		return -errno;
	if (vfio)
		vfio_module_remove();
	return 0;
}

/* Linux 4.4 (DSM 7.2): no power_state, no reset_method, no iommu_groups/N/type. */
static void
profile_linux44(void)
{
	int fd = openat(backing, "kernel/iommu_groups", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	char p[PATH_MAX + 300];

	linux44 = true;
	for (size_t i = 0; i < n_devs; i++) {
		unlinkat(backing, attr(&devs[i], "power_state", p, sizeof(p)), 0);
		unlinkat(backing, attr(&devs[i], "reset_method", p, sizeof(p)), 0);
	}
	while (dir && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "kernel/iommu_groups/%s/type", e->d_name);
		unlinkat(backing, p, 0);
	}
	if (dir)
		closedir(dir);
}

/* fail BDF OP ERRNO [N] */
static int
arm_fail(struct dev *d, enum op op, const char *ename, const char *count)
{
	int e = errno_by_name(ename);

	if (!e)
		return -EINVAL;
	d->fail_errno[op] = e;
	d->fail_left[op] = -1;
	if (count) {
		char *end;
		long left = strtol(count, &end, 10);

		if (end == count || *end || left < 0 || left > INT_MAX)
			return -EINVAL;
		d->fail_left[op] = (int)left;
	}
	return 0;
}

static int
control(char *cmd)
{
	char *w[8] = { 0 };
	int n = 0;
	struct dev *d;

	for (char *save = NULL, *t = strtok_r(cmd, " \t\n", &save); t && n < 8; t = strtok_r(NULL, " \t\n", &save))
		w[n++] = t;
	if (n == 1 && strcmp(w[0], "clear") == 0) {
		for (size_t i = 0; i < n_devs; i++) {
			clear_faults(&devs[i]);
			if (devs[i].opened) {
				devs[i].opened = 0;
				power_sync(&devs[i]);
			}
		}
		refcnt_sync();
		clears++;
		pthread_cond_broadcast(&unhang);
		return 0;
	}
	if (n >= 2 && strcmp(w[0], "load") == 0)
		return load_driver(w[1], &w[2], n - 2);
	if (n == 2 && strcmp(w[0], "unload") == 0)
		return unload_driver(w[1]);
	if (n == 2 && strcmp(w[0], "profile") == 0 && strcmp(w[1], "linux-4.4") == 0) {
		profile_linux44();
		return 0;
	}
	if (n < 2 || !(d = find_dev(w[1])))
		return -EINVAL;
	if (n == 2 && strcmp(w[0], "vanish") == 0) {
		remove_dev(d, "vanished");
		return 0;
	}
	if ((n == 2 || n == 3) && strcmp(w[0], "dead") == 0) {
		if (n == 2 || strcmp(w[2], "rescan") == 0)
			d->dead = DEAD_TILL_RESCAN;
		else if (strcmp(w[2], "reset") == 0)
			d->dead = DEAD_TILL_RESET;
		else if (strcmp(w[2], "never") == 0)
			d->dead = DEAD_FOREVER;
		else
			return -EINVAL;
		return 0;
	}
	if (n == 2 && strcmp(w[0], "d3cold") == 0) {
		if (d->control_on || !d->d3cold_allowed || d->opened || (on_vfio(d) && idle_d3))
			return -EBUSY;
		d->cold = true;
		power_sync(d);
		return 0;
	}
	if (n == 2 && (strcmp(w[0], "open") == 0 || strcmp(w[0], "close") == 0)) {
		if (w[0][0] == 'o') {
			if (!on_vfio(d))
				return -EINVAL;
			d->opened++;
			wake(d);       /* vfio_pci_core_enable(): pm_runtime_resume_and_get() */
		} else {
			if (!d->opened)
				return -EINVAL;
			d->opened--;
			pthread_cond_broadcast(&unhang);
		}
		power_sync(d);
		refcnt_sync();
		return 0;
	}
	if (n == 3 && strcmp(w[0], "vanish-on") == 0 && op_by_name(w[2]) >= 0) {
		d->vanish_on = op_by_name(w[2]);
		return 0;
	}
	if (n == 3 && strcmp(w[0], "kill-on") == 0 && op_by_name(w[2]) >= 0) {
		d->kill_on = op_by_name(w[2]);
		return 0;
	}
	if ((n == 3 || n == 4) && strcmp(w[0], "hang") == 0 && op_by_name(w[2]) >= 0) {
		char *end = NULL;
		unsigned long ms = n == 4 ? strtoul(w[3], &end, 10) : 0;

		if (n == 4 && (end == w[3] || *end || ms == 0 || ms > 3600000))
			return -EINVAL;
		d->hang_op = op_by_name(w[2]);
		d->hang_ms = (unsigned)ms;
		return 0;
	}
	if (n == 3 && strcmp(w[0], "late") == 0) {
		d->late_ms = (unsigned)strtoul(w[2], NULL, 10);
		return 0;
	}
	if (n == 3 && strcmp(w[0], "wrong") == 0 && strlen(w[2]) < NAME_SZ) {
		set_name(d->wrong, w[2]);
		return 0;
	}
	if ((n == 3 || n == 4) && strcmp(w[0], "reset-fail") == 0)
		return arm_fail(d, OP_RESET, w[2], w[3]);
	if ((n == 4 || n == 5) && strcmp(w[0], "fail") == 0 && op_by_name(w[2]) >= 0)
		return arm_fail(d, (enum op)op_by_name(w[2]), w[3], w[4]);
	return -EINVAL;
}

/* --- FUSE operations ------------------------------------------------------- */

static int
fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	const char *r = rel(path);

	(void)fi;
	settle();
	if (hidden(r))
		return -ENOENT;
	if (fstatat(backing, r, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (strcmp(r, VFIO_MODULE) == 0)
		st->st_ino = VFIO_INO_BASE + vfio_loads;
	return 0;
}

static int
fs_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n;

	settle();
	if (hidden(rel(path)))
		return -ENOENT;
	n = readlinkat(backing, rel(path), buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int
fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
	   enum fuse_readdir_flags flags)
{
	const char *r = rel(path);
	int fd;
	DIR *dir;
	struct dirent *e;

	(void)off;
	(void)fi;
	(void)flags;
	settle();
	if (hidden(r))
		return -ENOENT;
	fd = openat(backing, r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(dir))) {
		char child[PATH_MAX + 300];

		snprintf(child, sizeof(child), "%s/%s", r, e->d_name);
		if (!hidden(strcmp(r, ".") == 0 ? e->d_name : child))
			fill(buf, e->d_name, NULL, 0, 0);
	}
	closedir(dir);
	return 0;
}

/* kernfs_fop_open(): EACCES for a read of an attribute without a read bit, or a write of
 * one without a write bit (root included). */
static int
fs_open(const char *path, struct fuse_file_info *fi)
{
	const char *r = rel(path);
	int fd, acc = fi->flags & O_ACCMODE;
	struct stat st;

	settle();
	if (hidden(r))
		return -ENOENT;
	if (fstatat(backing, r, &st, 0) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) && ((acc != O_WRONLY && !(st.st_mode & 0444)) || (acc != O_RDONLY && !(st.st_mode & 0222))))
		return -EACCES;
	fd = openat(backing, r, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1; /* sysfs: every read sees the current value */
	return 0;
}

/* The device whose folder holds path (the deepest), and the rest of path below it. */
static struct dev *
dev_of_path(const char *r, const char **ret_rest)
{
	struct dev *best = NULL;
	size_t best_n = 0;

	for (size_t i = 0; i < n_devs; i++) {
		size_t n = strlen(devs[i].dir);

		if (!devs[i].gone && n > best_n && strncmp(devs[i].dir, r, n) == 0 && r[n] == '/') {
			best = &devs[i];
			best_n = n;
		}
	}
	if (best)
		*ret_rest = r + best_n + 1;
	return best;
}

static int
fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	const char *r = rel(path), *rest = NULL;
	struct dev *d;
	ssize_t n;

	pthread_mutex_lock(&big);
	if (hidden(r)) {
		pthread_mutex_unlock(&big);
		return -ENODEV;        /* an attribute of a device removed since it was opened */
	}
	d = dev_of_path(r, &rest);
	if (d && strcmp(rest, "config") == 0 && suspended(d)) {
		/* pci_config_pm_runtime_get(): a config read resumes the device */
		logf_("config read resumes %s", d->bdf);
		wake(d);
		power_sync(d);
	}
	n = pread((int)fi->fh, buf, size, off);
	if (n > 0 && d && strcmp(rest, "config") == 0 && d->dead != ALIVE)
		memset(buf, 0xff, (size_t)n);
	pthread_mutex_unlock(&big);
	return n < 0 ? -errno : (int)n;
}

static int
fs_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int
fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)path;
	(void)size;
	(void)fi;
	return 0; /* sysfs attributes ignore O_TRUNC */
}

/* A bus whose rescan file this is (devices/.../pci_bus/DDDD:BB/rescan, class/pci_bus/...). */
static const struct bus *
bus_of_rescan(const char *r)
{
	for (size_t b = 0; b < n_buses; b++) {
		char p[PATH_MAX + 32], q[BUS_SZ + 32];

		snprintf(p, sizeof(p), "%s/rescan", buses[b].dir);
		snprintf(q, sizeof(q), "class/pci_bus/%.*s/rescan", BUS_SZ, buses[b].name);
		if (strcmp(r, p) == 0 || strcmp(r, q) == 0)
			return &buses[b];
	}
	return NULL;
}

/* A write to an attribute of device d (rest: its name below the device's folder); 1 when
 * rest is none the fake models. */
static int
dev_write(struct dev *d, const char *rest, const char *val, int *rc)
{
	static const struct {
		const char *name, *log;
		int (*fn)(struct dev *, const char *);
	} t[] = {
		{ "driver_override", "driver_override", do_override },
		{ "reset", "reset", do_reset },
		{ "remove", "remove", do_remove },
		{ "power/control", "power/control", do_power_control },
		{ "d3cold_allowed", "d3cold_allowed", do_d3cold_allowed },
		{ "reset_method", "reset_method", do_reset_method },
	};

	if (strcmp(rest, "rescan") == 0) {
		*rc = do_rescan(d->bus, val);
		logf_("rescan %s %s = %d", d->bdf, val, *rc);
		return 0;
	}
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(rest, t[i].name) != 0)
			continue;
		*rc = t[i].fn(d, val);
		if (t[i].fn == do_override)
			logf_("driver_override %s %s = %d", d->bdf, val[0] ? val : "(clear)", *rc);
		else
			logf_("%s %s %s = %d", t[i].log, d->bdf, val, *rc);
		return 0;
	}
	return 1;
}

static int
fs_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	char val[256], drv[NAME_SZ];
	const char *r = rel(path), *base = strrchr(r, '/'), *rest = NULL;
	const struct bus *bus;
	struct dev *d;
	int rc = 0;

	(void)off;
	(void)fi;
	settle();
	base = base ? base + 1 : r;
	if (size >= sizeof(val))
		return -EINVAL;
	if (hidden(r))
		return -ENODEV;
	memcpy(val, buf, size);
	val[size] = '\0';
	if (size && val[size - 1] == '\n')
		val[size - 1] = '\0';

	if (strcmp(r, "fakesys-control") == 0) {
		char copy[256];

		memcpy(copy, val, sizeof(copy));
		rc = control(copy);
		logf_("control %s = %d", val, rc);
	} else if (strcmp(r, "bus/pci/drivers_probe") == 0) {
		rc = do_probe(val);
		logf_("probe %s = %d", val, rc);
	} else if (sscanf(r, "bus/pci/drivers/%63[^/]/", drv) == 1 &&
		   (strcmp(base, "bind") == 0 || strcmp(base, "unbind") == 0)) {
		rc = base[0] == 'b' ? do_bind(drv, val) : do_unbind(drv, val);
		logf_("%s %s %s = %d", base, drv, val, rc);
	} else if (strcmp(r, "bus/pci/rescan") == 0) {
		rc = do_rescan(NULL, val);
		logf_("rescan all %s = %d", val, rc);
	} else if ((bus = bus_of_rescan(r))) {
		rc = do_rescan(bus->name, val);
		logf_("rescan bus %s %s = %d", bus->name, val, rc);
	} else if (strcmp(r, VFIO_MODULE "/parameters/disable_idle_d3") == 0) {
		rc = do_idle_param(val);
		logf_("disable_idle_d3 %s = %d", val, rc);
	} else if (!(d = dev_of_path(r, &rest)) || dev_write(d, rest, val, &rc) != 0) {
		/* new_id, remove_id, config...: accepted, ignored, logged */
		rc = 0;
		logf_("%s %s = 0", r, val);
	}
	return rc < 0 ? rc : (int)size;
}

static void *
fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	/* no caching in the kernel: a driver link must be seen the moment it changes */
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->use_ino = 1;  /* module/vfio_pci gets a new inode number on each load */
	return NULL;
}

/* The operations that read or change the state, each under the lock (read takes it itself;
 * release and truncate only use their descriptor). */
static int
locked_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int r;

	pthread_mutex_lock(&big);
	r = fs_getattr(path, st, fi);
	pthread_mutex_unlock(&big);
	return r;
}

static int
locked_readlink(const char *path, char *buf, size_t size)
{
	int r;

	pthread_mutex_lock(&big);
	r = fs_readlink(path, buf, size);
	pthread_mutex_unlock(&big);
	return r;
}

static int
locked_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
	       enum fuse_readdir_flags flags)
{
	int r;

	pthread_mutex_lock(&big);
	r = fs_readdir(path, buf, fill, off, fi, flags);
	pthread_mutex_unlock(&big);
	return r;
}

static int
locked_open(const char *path, struct fuse_file_info *fi)
{
	int r;

	pthread_mutex_lock(&big);
	r = fs_open(path, fi);
	pthread_mutex_unlock(&big);
	return r;
}

static int
locked_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	int r;

	pthread_mutex_lock(&big);
	r = fs_write(path, buf, size, off, fi);
	pthread_mutex_unlock(&big);
	return r;
}

static const struct fuse_operations ops = {
	.init = fs_init,
	.getattr = locked_getattr,
	.readlink = locked_readlink,
	.readdir = locked_readdir,
	.open = locked_open,
	.read = fs_read,
	.write = locked_write,
	.release = fs_release,
	.truncate = fs_truncate,
};

/* --- start-up: the devices, buses and driver ids of the fixture ---------------- */

/* The reset methods the kernel would find in d's recorded config space, in its order. */
static void
probe_reset(struct dev *d, bool alone_behind_bridge)
{
	unsigned char c[256] = { 0 };
	char p[PATH_MAX + 16];
	bool flr = false, af_flr = false, pm = false;
	int fd = openat(backing, attr(d, "config", p, sizeof(p)), O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? pread(fd, c, sizeof(c), 0) : -1;

	if (fd >= 0)
		close(fd);
	if (n >= 64 && (c[6] & 0x10)) {  /* a capability list */
		unsigned pos = c[0x34] & 0xfc;

		for (int hops = 0; pos >= 0x40 && pos + 8 <= (unsigned)n && hops < 48; hops++) {
			unsigned id = c[pos];

			if (id == 0x01) {          /* power management: PMCSR No_Soft_Reset */
				d->has_pm = true;
				pm = !(c[pos + 4] & 0x08);
			} else if (id == 0x10) {   /* PCI Express: DevCap FLR */
				flr = (c[pos + 7] & 0x10) != 0;
			} else if (id == 0x13) {   /* Advanced Features: TP and FLR */
				af_flr = (c[pos + 3] & 0x03) == 0x03;
			}
			pos = c[pos + 1] & 0xfc;
		}
	}
	snprintf(d->probed, sizeof(d->probed), "%s%s%s%s", flr ? "flr " : "", af_flr ? "af_flr " : "",
		 pm ? "pm " : "", alone_behind_bridge && !d->secondary[0] ? "bus " : "");
	if (d->probed[0])
		d->probed[strlen(d->probed) - 1] = '\0';
}

static void
add_bus(const char *name, const char *dir, int bridge)
{
	for (size_t b = 0; b < n_buses; b++)
		if (strcmp(buses[b].name, name) == 0)
			return;
	if (n_buses == MAX_BUSES)
		return;
	snprintf(buses[n_buses].name, sizeof(buses[n_buses].name), "%s", name);
	snprintf(buses[n_buses].dir, sizeof(buses[n_buses].dir), "%s", dir);
	buses[n_buses].bridge = bridge;
	n_buses++;
}

/* The buses: each device's, and each bridge's secondary one (config space 0x19), with their
 * pci_bus folder, rescan file and class/pci_bus link when the fixture lacks them. */
static void
load_buses(void)
{
	for (size_t i = 0; i < n_devs; i++) {
		const struct dev *d = &devs[i];
		char p[PATH_MAX + 32], up[PATH_MAX];
		const char *slash = strrchr(d->dir, '/');

		snprintf(up, sizeof(up), "%.*s", slash ? (int)(slash - d->dir) : 0, d->dir);
		snprintf(p, sizeof(p), "%s/pci_bus/%s", up, d->bus);
		add_bus(d->bus, p, d->parent);
		if (d->secondary[0]) {
			snprintf(p, sizeof(p), "%s/pci_bus/%s", d->dir, d->secondary);
			add_bus(d->secondary, p, (int)i);
		}
	}
	make_dirs("class/pci_bus");
	for (size_t b = 0; b < n_buses; b++) {
		char p[PATH_MAX + 32], target[PATH_MAX];
		ssize_t n;

		snprintf(p, sizeof(p), "class/pci_bus/%.*s", BUS_SZ, buses[b].name);
		n = readlinkat(backing, p, target, sizeof(target) - 1);
		if (n > 6 && strncmp(target, "../../", 6) == 0) {   /* recorded: the kernel's folder */
			target[n] = '\0';
			snprintf(buses[b].dir, sizeof(buses[b].dir), "%s", target + 6);
		} else {
			snprintf(target, sizeof(target), "../../%s", buses[b].dir);
			relink(target, p);
		}
		make_dirs(buses[b].dir);
		snprintf(p, sizeof(p), "%s/rescan", buses[b].dir);
		create_file(p, "", 0200);
	}
}

/* The power and reset attributes of a device, from the fixture or as the kernel would show
 * them (see the top of the file). */
static void
load_power(struct dev *d)
{
	char p[PATH_MAX + 32], buf[METHODS_SZ + 2];
	bool recorded = exists(attr(d, "d3cold_allowed", p, sizeof(p))) || exists(attr(d, "power_state", p, sizeof(p))) ||
			exists(attr(d, "reset", p, sizeof(p))) || exists(attr(d, "power/control", p, sizeof(p)));
	bool alone = d->parent >= 0;

	for (size_t j = 0; j < n_devs && alone; j++)
		if (&devs[j] != d && strcmp(devs[j].bus, d->bus) == 0)
			alone = false;
	probe_reset(d, alone);
	if (read_small(attr(d, "reset_method", p, sizeof(p)), buf, sizeof(buf)) == 0)
		snprintf(d->probed, sizeof(d->probed), "%.*s", (int)sizeof(d->probed) - 1, buf);
	else if (recorded && !exists(attr(d, "reset", p, sizeof(p))))
		d->probed[0] = '\0';
	memcpy(d->methods, d->probed, sizeof(d->methods));
	d->control_on = !(on_vfio(d) && !linux44);
	if (read_small(attr(d, "power/control", p, sizeof(p)), buf, sizeof(buf)) == 0)
		d->control_on = strcmp(buf, "auto") != 0;
	d->d3cold_allowed = true;
	if (read_small(attr(d, "d3cold_allowed", p, sizeof(p)), buf, sizeof(buf)) == 0)
		d->d3cold_allowed = strcmp(buf, "0") != 0;
	if (read_small(attr(d, "power_state", p, sizeof(p)), buf, sizeof(buf)) == 0)
		d->cold = strcmp(buf, "D3cold") == 0;
	create_file(attr(d, "remove", p, sizeof(p)), "", 0200);
	create_file(attr(d, "rescan", p, sizeof(p)), "", 0200);
	/* a recorded tree holds plain files: the kernel's modes, by name */
	if (fchmodat(backing, attr(d, "power_state", p, sizeof(p)), 0444, 0) < 0 && errno != ENOENT)
		fprintf(stderr, "fakesys: cannot chmod %s: %s\n", p, strerror(errno));
	if (fchmodat(backing, attr(d, "reset", p, sizeof(p)), 0200, 0) < 0 && errno != ENOENT)
		fprintf(stderr, "fakesys: cannot chmod %s: %s\n", p, strerror(errno));
	if (!recorded) {
		create_file(attr(d, "d3cold_allowed", p, sizeof(p)), "", 0644);
		create_file(attr(d, "power_state", p, sizeof(p)), "", 0444);
		mkdirat(backing, attr(d, "power", p, sizeof(p)), 0755);
		create_file(attr(d, "power/control", p, sizeof(p)), "", 0644);
		create_file(attr(d, "power/runtime_status", p, sizeof(p)), "", 0444);
		if (d->methods[0]) {
			snprintf(buf, sizeof(buf), "%s\n", d->methods);
			create_file(attr(d, "reset", p, sizeof(p)), "", 0200);
			create_file(attr(d, "reset_method", p, sizeof(p)), buf, 0644);
		}
	}
	power_sync(d);
}

static int
load_devices(void)
{
	int fd = openat(backing, "bus/pci/devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!dir) {
		fprintf(stderr, "fakesys: cannot open 'bus/pci/devices' in the backing tree: %s\n", strerror(errno));
		return -1;
	}
	while ((e = readdir(dir)) && n_devs < MAX_DEVS) {
		struct dev *d = &devs[n_devs];
		char p[PATH_MAX + 300], target[PATH_MAX], buf[64];
		ssize_t n;

		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(d->bdf))
			continue;
		memset(d, 0, sizeof(*d));
		d->vanish_on = -1;
		d->kill_on = -1;
		d->hang_op = -1;
		d->parent = -1;
		memcpy(d->bdf, e->d_name, strlen(e->d_name) + 1); /* length checked above */
		snprintf(p, sizeof(p), "bus/pci/devices/%s", e->d_name);
		n = readlinkat(backing, p, target, sizeof(target) - 1);
		if (n <= 0 || !strchr(d->bdf, ':') || strchr(d->bdf, ':') == strrchr(d->bdf, ':'))
			continue;
		{
			size_t bl = (size_t)(strrchr(d->bdf, ':') - d->bdf);

			memcpy(d->bus, d->bdf, bl < sizeof(d->bus) ? bl : sizeof(d->bus) - 1);
		}
		target[n] = '\0';
		memcpy(d->link, target, (size_t)n + 1);
		/* ../../../devices/...: relative to bus/pci/devices */
		{
			const char *t = target;

			while (strncmp(t, "../", 3) == 0)
				t += 3;
			snprintf(d->dir, sizeof(d->dir), "%s", t);
		}
		snprintf(p, sizeof(p), "%s/vendor", d->dir);
		if (read_small(p, buf, sizeof(buf)) == 0)
			d->vendor = (unsigned)strtoul(buf, NULL, 16);
		snprintf(p, sizeof(p), "%s/device", d->dir);
		if (read_small(p, buf, sizeof(buf)) == 0)
			d->device = (unsigned)strtoul(buf, NULL, 16);
		snprintf(p, sizeof(p), "%s/class", d->dir);
		if (read_small(p, buf, sizeof(buf)) == 0) {
			unsigned long cls = strtoul(buf, NULL, 16) >> 8;
			unsigned char sec = 0;
			int cfd;

			snprintf(p, sizeof(p), "%s/config", d->dir);
			cfd = openat(backing, p, O_RDONLY | O_CLOEXEC);
			/* a bridge's secondary bus (config space 0x19), in the bridge's domain */
			if ((cls == 0x0604 || cls == 0x0609) && cfd >= 0 && pread(cfd, &sec, 1, 0x19) == 1 && sec) {
				char domain[sizeof(d->bdf)];

				memcpy(domain, d->bdf, sizeof(domain));
				*strchr(domain, ':') = '\0';
				snprintf(d->secondary, sizeof(d->secondary), "%.8s:%02x", domain, sec);
			}
			if (cfd >= 0)
				close(cfd);
		}
		snprintf(p, sizeof(p), "%s/driver_override", d->dir);
		if (read_small(p, buf, sizeof(buf)) == 0 && strcmp(buf, "(null)") != 0)
			set_name(d->ovr, buf);
		snprintf(p, sizeof(p), "%s/iommu_group", d->dir);
		n = readlinkat(backing, p, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			set_name(d->group, strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
		}
		snprintf(p, sizeof(p), "%s/driver", d->dir);
		n = readlinkat(backing, p, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			set_name(d->drv, strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
			if (!on_vfio(d))
				add_id(d->drv, d->vendor, d->device);
		}
		n_devs++;
	}
	closedir(dir);
	/* the bridge each device is behind: the device whose folder holds its folder */
	for (size_t i = 0; i < n_devs; i++) {
		const char *slash = strrchr(devs[i].dir, '/');
		size_t len = slash ? (size_t)(slash - devs[i].dir) : 0;

		for (size_t j = 0; j < n_devs; j++)
			if (j != i && strlen(devs[j].dir) == len && strncmp(devs[j].dir, devs[i].dir, len) == 0)
				devs[i].parent = (int)j;
	}
	/* vfio-pci loaded: its module, with the disable_idle_d3 it reads (nobody wrote it yet) */
	if (driver_loaded("vfio-pci")) {
		char buf[8] = "";

		vfio_loads = 1;
		if (read_small(VFIO_MODULE "/parameters/disable_idle_d3", buf, sizeof(buf)) == 0)
			idle_d3 = buf[0] == 'Y';
		vfio_module_create(idle_d3);
	}
	for (size_t i = 0; i < n_devs; i++)
		load_power(&devs[i]);
	load_buses();
	if (linux44)
		profile_linux44();
	return 0;
}

int
main(int argc, char **argv)
{
	char *fargs[8];
	int fargc = 0, i = 1, fd;

	umask(022);
	for (; i + 1 < argc && (strcmp(argv[i], "-m") == 0 || strcmp(argv[i], "--profile") == 0); i += 2) {
		char drv[NAME_SZ], *end;
		const char *arg = argv[i + 1], *eq = strchr(arg, '=');
		unsigned long v = 0, dv = 0;
		bool ok = eq && eq > arg && (size_t)(eq - arg) < sizeof(drv);

		if (strcmp(argv[i], "--profile") == 0) {
			if (strcmp(arg, "linux-4.4") != 0) {
				fprintf(stderr, "fakesys: --profile knows linux-4.4, not '%s'\n", arg);
				return 2;
			}
			linux44 = true;
			continue;
		}
		if (ok) {
			memcpy(drv, arg, (size_t)(eq - arg));
			drv[eq - arg] = '\0';
			v = strtoul(eq + 1, &end, 16);
			ok = end != eq + 1 && *end == ':' && v <= 0xffff;
		}
		if (ok) {
			const char *dev = end + 1;

			dv = strtoul(dev, &end, 16);
			ok = end != dev && *end == '\0' && dv <= 0xffff;
		}
		if (!ok) {
			fprintf(stderr, "fakesys: -m wants DRIVER=VVVV:DDDD, not '%s'\n", argv[i + 1]);
			return 2;
		}
		add_id(drv, (unsigned)v, (unsigned)dv);
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: fakesys [-m DRIVER=VVVV:DDDD]... [--profile linux-4.4] BACKING MOUNTPOINT\n");
		return 2;
	}
	backing = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (backing < 0) {
		fprintf(stderr, "fakesys: cannot open '%s': %s\n", argv[i], strerror(errno));
		return 1;
	}
	if (load_devices() < 0)
		return 1;
	create_file("fakesys-control", "", 0200);
	fd = openat(backing, "fakesys-log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	fargs[fargc++] = argv[0];
	fargs[fargc++] = "-f";   /* and multi-threaded: no -s */
	fargs[fargc++] = "-o";
	fargs[fargc++] = "fsname=fakesys,subtype=fakesys";
	fargs[fargc++] = argv[i + 1];
	fargs[fargc] = NULL;
	return fuse_main(fargc, fargs, &ops, NULL);
}
