/* fakesys.c: a FUSE fake of /sys for tier-2 tests: PCI driver binding with the kernel's semantics over a copy of a recorded fixture tree, with fault injection. */
/*
 * usage: fakesys [-m DRIVER=VVVV:DDDD]... BACKING MOUNTPOINT
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
 *   bus/pci/drivers/D/unbind     BDF: unbinds if bound to D, else ENODEV
 *   bus/pci/drivers/D/bind       BDF: EBUSY if bound; binds if D matches (the
 *                                override names D, or no override and D's ids
 *                                match), else ENODEV
 *   bus/pci/drivers_probe        BDF: ENODEV if no such device; if unbound,
 *                                binds the override's driver (when loaded) or the
 *                                first loaded driver whose ids match; else nothing
 *
 * A driver "is loaded" when bus/pci/drivers/D exists.  A driver's ids are
 * those of the devices bound to it in the fixture (vfio-pci has none: it binds
 * only through driver_override), plus -m DRIVER=VVVV:DDDD.
 *
 * Two extra files at the top let a test steer and watch the fake:
 *   fakesys-control  (write, one command per write)
 *     fail BDF OP ERRNO [N]   the next N (default: every) writes of OP for BDF
 *                             fail with ERRNO (EBUSY, ENODEV, EIO, EINVAL, EPERM)
 *                             and change nothing; OP: override unbind bind probe
 *     late BDF MS             drivers_probe of BDF returns at once and the driver
 *                             link appears MS ms later (async probe; bind stays
 *                             synchronous, as in the kernel)
 *     wrong BDF DRIVER        a probe binds DRIVER whatever the override says
 *     vanish BDF              the device disappears now (surprise removal)
 *     vanish-on BDF OP        ... right after the next successful OP write
 *     kill-on BDF OP          right after the next successful OP write of BDF, the
 *                             process that wrote it is killed (SIGKILL): a run that
 *                             dies between two steps, e.g. after clearing the override
 *                             and before the probe
 *     hang BDF OP [MS]        every OP write of BDF does not return for MS ms
 *                             (default: until `clear`), then acts as usual: a wedged
 *                             device, whose unbind blocks in the kernel (on the
 *                             device's lock, so the next one does too)
 *     load DRIVER / unload DRIVER   a module comes (and takes the unbound devices
 *                             it matches) or goes (and its devices are unbound)
 *     clear                   forget every fault, and let every held write go on
 *   fakesys-log  (read) one line per write the fake received and its result,
 *                e.g. "unbind e1000e 0000:00:02.0 = 0" or "new_id 8086 10d3 = 0".
 *
 * Not modelled: file permissions (every write is accepted; new_id, remove, rescan
 * are only logged), network interfaces coming and going with their driver, and
 * the devices behind a bridge that vanishes (they stay).
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
#define NAME_SZ 64

enum op { OP_OVERRIDE, OP_UNBIND, OP_BIND, OP_PROBE, N_OPS };
static const char *const op_names[N_OPS] = { "override", "unbind", "bind", "probe" };

struct dev {
	char bdf[17];                /* up to "ffffffff:ff:1f.7": PCI domains are 32 bits */
	bool gone;
	char dir[PATH_MAX];          /* device folder, relative to the backing root */
	unsigned vendor, device;
	char drv[NAME_SZ];           /* bound driver, "" when none */
	char ovr[NAME_SZ];           /* driver_override, "" when unset */
	/* faults */
	int fail_errno[N_OPS];
	int fail_left[N_OPS];        /* -1: every time */
	unsigned late_ms;
	char wrong[NAME_SZ];
	int vanish_on;               /* an op, or -1 */
	int kill_on;                 /* an op, or -1 */
	int hang_op;                 /* an op, or -1 */
	unsigned hang_ms;            /* 0: until `clear` */
	/* an async probe in flight */
	char pending[NAME_SZ];
	struct timespec due;
};

struct id_match {
	char drv[NAME_SZ];
	unsigned vendor, device;
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

static struct dev *
find_dev(const char *bdf)
{
	for (size_t i = 0; i < n_devs; i++)
		if (!devs[i].gone && strcmp(devs[i].bdf, bdf) == 0)
			return &devs[i];
	return NULL;
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
	d->drv[0] = '\0';
}

static void
vanish(struct dev *d)
{
	char p[PATH_MAX * 2], target[PATH_MAX];
	ssize_t n;

	if (d->drv[0])
		unlink_driver(d);
	snprintf(p, sizeof(p), "%s/iommu_group", d->dir);
	n = readlinkat(backing, p, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		char *g = strrchr(target, '/');

		snprintf(p, sizeof(p), "kernel/iommu_groups/%s/devices/%s", g ? g + 1 : target, d->bdf);
		unlinkat(backing, p, 0);
	}
	snprintf(p, sizeof(p), "bus/pci/devices/%s", d->bdf);
	unlinkat(backing, p, 0);
	mkdirat(backing, ".gone", 0755);
	snprintf(p, sizeof(p), ".gone/%s", d->bdf);
	renameat(backing, d->dir, backing, p);
	d->gone = true;
	logf_("vanished %s", d->bdf);
}

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
		vanish(d);
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
	char content[NAME_SZ + 2];
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
	{
		char p[PATH_MAX * 2];

		snprintf(p, sizeof(p), "%s/driver_override", d->dir);
		write_small(p, content);
	}
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
	if (d->wrong[0]) {
		drv = d->wrong;
	} else if (d->ovr[0]) {
		drv = d->ovr;
	} else {
		for (size_t i = 0; i < n_ids && !drv; i++)
			if (ids[i].vendor == d->vendor && ids[i].device == d->device && driver_loaded(ids[i].drv))
				drv = ids[i].drv;
	}
	if (drv && driver_loaded(drv)) {
		int r = bind_to(d, drv);

		if (r < 0)
			return r;
	}
	after_op(d, OP_PROBE);
	return 0;
}

static int
errno_by_name(const char *s)
{
	static const struct { const char *name; int e; } t[] = {
		{ "EBUSY", EBUSY }, { "ENODEV", ENODEV }, { "EIO", EIO }, { "EINVAL", EINVAL },
		{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EAGAIN", EAGAIN },
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

static int
load_driver(const char *drv)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "bus/pci/drivers/%s", drv);
	if (mkdirat(backing, p, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	for (const char *const *f = (const char *const[]){ "bind", "unbind", "new_id", "remove_id", NULL }; *f; f++) {
		char fp[PATH_MAX + 16];
		int fd;

		snprintf(fp, sizeof(fp), "%s/%s", p, *f);
		fd = openat(backing, fp, O_WRONLY | O_CREAT | O_CLOEXEC, 0200);
		if (fd >= 0)
			close(fd);
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
	return unlinkat(backing, p, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int
control(char *cmd)
{
	char *w[5] = { 0 };
	int n = 0;
	struct dev *d;

	for (char *save = NULL, *t = strtok_r(cmd, " \t\n", &save); t && n < 5; t = strtok_r(NULL, " \t\n", &save))
		w[n++] = t;
	if (n == 1 && strcmp(w[0], "clear") == 0) {
		for (size_t i = 0; i < n_devs; i++) {
			memset(devs[i].fail_errno, 0, sizeof(devs[i].fail_errno));
			devs[i].late_ms = 0;
			devs[i].wrong[0] = '\0';
			devs[i].vanish_on = -1;
			devs[i].kill_on = -1;
			devs[i].hang_op = -1;
		}
		clears++;
		pthread_cond_broadcast(&unhang);
		return 0;
	}
	if (n == 2 && strcmp(w[0], "load") == 0)
		return load_driver(w[1]);
	if (n == 2 && strcmp(w[0], "unload") == 0)
		return unload_driver(w[1]);
	if (n < 2 || !(d = find_dev(w[1])))
		return -EINVAL;
	if (n == 2 && strcmp(w[0], "vanish") == 0) {
		vanish(d);
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
	if ((n == 4 || n == 5) && strcmp(w[0], "fail") == 0 && op_by_name(w[2]) >= 0 && errno_by_name(w[3])) {
		int op = op_by_name(w[2]);

		d->fail_errno[op] = errno_by_name(w[3]);
		d->fail_left[op] = -1;
		if (n == 5) {
			char *end;
			long left = strtol(w[4], &end, 10);

			if (end == w[4] || *end || left < 0 || left > INT_MAX)
				return -EINVAL;
			d->fail_left[op] = (int)left;
		}
		return 0;
	}
	return -EINVAL;
}

/* --- FUSE operations ------------------------------------------------------- */

static int
fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	settle();
	return fstatat(backing, rel(path), st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int
fs_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n;

	settle();
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
	int fd;
	DIR *dir;
	struct dirent *e;

	(void)off;
	(void)fi;
	(void)flags;
	settle();
	fd = openat(backing, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(dir)))
		if (strcmp(path, "/") != 0 || strcmp(e->d_name, ".gone") != 0)
			fill(buf, e->d_name, NULL, 0, 0);
	closedir(dir);
	return 0;
}

static int
fs_open(const char *path, struct fuse_file_info *fi)
{
	int fd;

	settle();
	fd = openat(backing, rel(path), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1; /* sysfs: every read sees the current value */
	return 0;
}

static int
fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	(void)path;
	n = pread((int)fi->fh, buf, size, off);
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

/* The device whose attribute this is: its folder is the parent of path. */
static struct dev *
dev_of_attr(const char *path)
{
	const char *r = rel(path), *slash = strrchr(r, '/');

	if (!slash)
		return NULL;
	for (size_t i = 0; i < n_devs; i++)
		if (!devs[i].gone && strlen(devs[i].dir) == (size_t)(slash - r) &&
		    strncmp(devs[i].dir, r, (size_t)(slash - r)) == 0)
			return &devs[i];
	return NULL;
}

static int
fs_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	char val[256], drv[NAME_SZ];
	const char *r = rel(path), *base = strrchr(r, '/');
	struct dev *d;
	int rc;

	(void)off;
	(void)fi;
	settle();
	base = base ? base + 1 : r;
	if (size >= sizeof(val))
		return -EINVAL;
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
	} else if (strcmp(base, "driver_override") == 0 && (d = dev_of_attr(path))) {
		rc = do_override(d, val);
		logf_("driver_override %s %s = %d", d->bdf, val[0] ? val : "(clear)", rc);
	} else {
		/* new_id, remove_id, remove, rescan, config...: accepted, ignored, logged */
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
	return NULL;
}

/* The operations that read or change the state, each under the lock (read, release and
 * truncate only use their descriptor). */
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

/* --- start-up: the devices and driver ids of the fixture ---------------- */

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
		memcpy(d->bdf, e->d_name, strlen(e->d_name) + 1); /* length checked above */
		snprintf(p, sizeof(p), "bus/pci/devices/%s", e->d_name);
		n = readlinkat(backing, p, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
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
		snprintf(p, sizeof(p), "%s/driver_override", d->dir);
		if (read_small(p, buf, sizeof(buf)) == 0 && strcmp(buf, "(null)") != 0)
			set_name(d->ovr, buf);
		snprintf(p, sizeof(p), "%s/driver", d->dir);
		n = readlinkat(backing, p, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			set_name(d->drv, strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
			if (strcmp(d->drv, "vfio-pci") != 0)
				add_id(d->drv, d->vendor, d->device);
		}
		n_devs++;
	}
	closedir(dir);
	return 0;
}

int
main(int argc, char **argv)
{
	char *fargs[8];
	int fargc = 0, i = 1, fd;

	for (; i + 1 < argc && strcmp(argv[i], "-m") == 0; i += 2) {
		char drv[NAME_SZ], *end;
		const char *arg = argv[i + 1], *eq = strchr(arg, '=');
		unsigned long v = 0, dv = 0;
		bool ok = eq && eq > arg && (size_t)(eq - arg) < sizeof(drv);

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
		fprintf(stderr, "usage: fakesys [-m DRIVER=VVVV:DDDD]... BACKING MOUNTPOINT\n");
		return 2;
	}
	backing = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (backing < 0) {
		fprintf(stderr, "fakesys: cannot open '%s': %s\n", argv[i], strerror(errno));
		return 1;
	}
	if (load_devices() < 0)
		return 1;
	fd = openat(backing, "fakesys-control", O_WRONLY | O_CREAT | O_CLOEXEC, 0200);
	if (fd >= 0)
		close(fd);
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
