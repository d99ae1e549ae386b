/* sysfs.c: the one access layer for PCI devices in the injected sysfs: attributes, links, driver_override's "(null)" rule, and writes in one write(2), bounded in a writer process where they can block. */
#include "reconcile/sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/syserr.h"
#include "model/xalloc.h"

int
pt_sysfs_open(const struct pt_host *h, struct pt_sysfs *s)
{
	char *path = pt_host_sysfs_path(h, "bus/pci/devices");
	int r = 0;

	s->h = h;
	s->devices_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->devices_fd < 0)
		r = pt_neg_errno();
	free(path);
	return r;
}

int
pt_sysfs_open_usb(const struct pt_host *h, struct pt_sysfs *s)
{
	char *path = pt_host_sysfs_path(h, "bus/usb/devices");
	int r = 0;

	s->h = h;
	s->devices_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->devices_fd < 0)
		r = pt_neg_errno();
	free(path);
	return r;
}

void
pt_sysfs_close(struct pt_sysfs *s)
{
	if (s && s->h && s->devices_fd >= 0)
		close(s->devices_fd);
	if (s)
		s->devices_fd = -1;
}

/* "BDF/NAME", relative to the devices directory (built by hand: this runs for every one of
 * the thousands of attributes a large host has). */
static const char *
dev_rel(char rel[96], const char *bdf, const char *name)
{
	size_t a = strlen(bdf), b = strlen(name);

	if (a + b + 2 > 96)
		return "";   /* not a name this file asks for: openat fails */
	memcpy(rel, bdf, a);
	rel[a] = '/';
	memcpy(rel + a + 1, name, b);
	rel[a + 1 + b] = '\0';
	return rel;
}

int
pt_sysfs_attr(const struct pt_sysfs *s, const char *bdf, const char *name, char *buf, size_t size)
{
	char rel[96];
	int fd = openat(s->devices_fd, dev_rel(rel, bdf, name), O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return pt_neg_errno();
	n = read(fd, buf, size - 1);
	if (n < 0) {
		int r = pt_neg_errno();

		close(fd);
		return r;
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

int
pt_sysfs_hex(const struct pt_sysfs *s, const char *bdf, const char *name, unsigned long *ret)
{
	char buf[32], *end;
	unsigned long v;
	int r = pt_sysfs_attr(s, bdf, name, buf, sizeof(buf));

	if (r < 0)
		return r;
	errno = 0;
	v = strtoul(buf, &end, 16);
	if (end == buf || *end != '\0' || errno)
		return -EINVAL;
	*ret = v;
	return 0;
}

int
pt_sysfs_config_answers(const struct pt_sysfs *s, const char *bdf)
{
	char rel[96];
	int fd = openat(s->devices_fd, dev_rel(rel, bdf, "config"), O_RDONLY | O_CLOEXEC), r;
	unsigned char id[2];
	ssize_t n;

	if (fd < 0)
		return pt_neg_errno();
	n = pread(fd, id, sizeof(id), 0);
	if (n < 0)
		r = pt_neg_errno();
	else if (n != (ssize_t)sizeof(id))
		r = -EIO;
	else
		r = !(id[0] == 0xff && id[1] == 0xff);
	close(fd);
	return r;
}

char *
pt_sysfs_link_name(const struct pt_sysfs *s, const char *bdf, const char *name)
{
	char rel[96], target[PATH_MAX];
	ssize_t n = readlinkat(s->devices_fd, dev_rel(rel, bdf, name), target, sizeof(target) - 1);
	const char *base;

	if (n <= 0)
		return NULL;
	target[n] = '\0';
	base = strrchr(target, '/');
	return xstrdup(base ? base + 1 : target);
}

char *
pt_sysfs_driver(const struct pt_sysfs *s, const char *bdf)
{
	return pt_sysfs_link_name(s, bdf, "driver");
}

char *
pt_sysfs_override(const struct pt_sysfs *s, const char *bdf)
{
	char buf[256];

	if (pt_sysfs_attr(s, bdf, "driver_override", buf, sizeof(buf)) < 0 || !buf[0] ||
	    strcmp(buf, "(null)") == 0)
		return NULL;
	return xstrdup(buf);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
pt_sysfs_drivers_digest(const struct pt_sysfs *s, uint64_t *ret)
{
	char *path = pt_host_sysfs_path(s->h, "bus/pci/drivers");
	DIR *dir = opendir(path);
	char **names = NULL;
	size_t n = 0, cap = 0;
	uint64_t h = 14695981039346656037ull;   /* FNV-1a, 64 bits */

	free(path);
	if (!dir)
		return pt_neg_errno();
	for (struct dirent *e; (e = readdir(dir));) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "vfio-pci") == 0)
			continue;
		xgrow(&names, &cap, n + 1, sizeof(*names));
		names[n++] = xstrdup(e->d_name);
	}
	closedir(dir);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *c = (const unsigned char *)names[i]; *c; c++)
			h = (h ^ *c) * 1099511628211ull;
		h = (h ^ '\n') * 1099511628211ull;
		free(names[i]);
	}
	free(names);
	*ret = h;
	return 0;
}

int
pt_sysfs_write(const struct pt_sysfs *s, const char *rel, const char *value, char **reterr)
{
	char *path = pt_host_sysfs_path(s->h, "%s", rel);
	size_t len = strlen(value);
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC), e;

	if (fd < 0) {
		e = errno ? errno : EIO;
		*reterr = xasprintf("cannot open '%s': %s", path, strerror(e));
		free(path);
		return -e;
	}
	n = write(fd, value, len);
	e = n < 0 ? errno : 0;
	if (close(fd) < 0 && !e)
		e = errno;
	if (e || (size_t)n != len) {
		if (!e)
			e = EIO;
		*reterr = xasprintf("cannot write '%s': %s", path, strerror(e));
		free(path);
		return -e;
	}
	free(path);
	return 0;
}

/*
 * The writer of pt_sysfs_write_bounded(): one open and one write(2), then {opened, errno} on
 * descriptor `answer`; never returns. Async-signal-safe calls only (the caller may have
 * threads: libvirt's). It keeps stdio on /dev/null and no other descriptor: stuck in the
 * kernel, it must hold neither the lock nor a pipe someone reads to its end (the hook's
 * stderr, a shell's $(...)).
 */
static void __attribute__((noreturn))
writer(const char *path, const char *value, size_t len, int answer)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	int a[2] = { 0, 0 }, fd, null;
	ssize_t n;

	sigaction(SIGPIPE, &ign, NULL);   /* a caller that stopped waiting has closed the pipe */
	if (answer != 3 && dup2(answer, 3) < 0)
		_exit(127);
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	closefrom(4);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		a[1] = errno ? errno : EIO;
	} else {
		a[0] = 1;
		n = write(fd, value, len);
		a[1] = n < 0 ? (errno ? errno : EIO) : (size_t)n != len ? EIO : 0;
		if (close(fd) < 0 && !a[1])
			a[1] = errno ? errno : EIO;
	}
	n = write(3, a, sizeof(a));
	_exit(n == (ssize_t)sizeof(a) ? 0 : 1);
}

/* Milliseconds since *t0 (monotonic). */
static long
ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

int
pt_sysfs_write_bounded(const struct pt_sysfs *s, const char *rel, const char *value, unsigned timeout_ms,
		       char **reterr)
{
	char *heap = pt_host_sysfs_path(s->h, "%s", rel), path[PATH_MAX];
	size_t len = strlen(value);
	int fds[2], a[2] = { 0, 0 }, status = 0, r;
	struct timespec t0;
	ssize_t n = 0;
	pid_t pid;

	/* on the stack: the processes forked below own no memory of their own (valgrind agrees) */
	if (strlen(heap) >= sizeof(path)) {
		*reterr = xasprintf("cannot write '%s': %s", heap, strerror(ENAMETOOLONG));
		free(heap);
		return -ENAMETOOLONG;
	}
	memcpy(path, heap, strlen(heap) + 1);
	free(heap);
	if (timeout_ms > INT_MAX)
		timeout_ms = INT_MAX;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		r = pt_neg_errno();
		*reterr = xasprintf("cannot write '%s': cannot start its writer: %s", path, strerror(-r));
		return r;
	}
	pid = fork();
	if (pid == 0) {
		/* the middle child exits at once: the writer is nobody's child, never waited for */
		pid_t w = fork();

		if (w == 0)
			writer(path, value, len, fds[1]);
		_exit(w < 0 ? 127 : 0);
	}
	r = pid < 0 ? pt_neg_errno() : 0;
	close(fds[1]);
	while (pid > 0 && waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 127 << 8;
			break;
		}
	}
	if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		r = -EAGAIN;
	if (r < 0) {
		close(fds[0]);
		*reterr = xasprintf("cannot write '%s': cannot start its writer: %s", path, strerror(-r));
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		long left = (long)timeout_ms - ms_since(&t0);
		int p = poll(&pfd, 1, left > 0 ? (int)left : 0);

		if (p > 0) {
			n = read(fds[0], a, sizeof(a));
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		if (p == 0) {
			char bound[32];

			close(fds[0]);
			if (timeout_ms % 1000 == 0)
				snprintf(bound, sizeof(bound), "%u s", timeout_ms / 1000);
			else
				snprintf(bound, sizeof(bound), "%u ms", timeout_ms);
			*reterr = xasprintf("writing '%s' did not return within %s", path, bound);
				return -ETIMEDOUT;
		}
		if (errno != EINTR) {
			n = -1;
			break;
		}
	}
	close(fds[0]);
	if (n != (ssize_t)sizeof(a)) {
		*reterr = xasprintf("cannot write '%s': its writer ended without answering", path);
		return -EIO;
	}
	if (a[1]) {
		*reterr = xasprintf("cannot %s '%s': %s", a[0] ? "write" : "open", path, strerror(a[1]));
		return -a[1];
	}
	return 0;
}
