/* sysfs.c: the one access layer for PCI devices in the injected sysfs: attributes, links, driver_override's "(null)" rule, and writes in one write(2). */
#include "reconcile/sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
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
pt_sysfs_config_byte(const struct pt_sysfs *s, const char *bdf, unsigned off, unsigned char *ret)
{
	char rel[96];
	int fd = openat(s->devices_fd, dev_rel(rel, bdf, "config"), O_RDONLY | O_CLOEXEC), r = 0;
	ssize_t n;

	if (fd < 0)
		return pt_neg_errno();
	n = pread(fd, ret, 1, (off_t)off);
	if (n < 0)
		r = pt_neg_errno();
	else if (n != 1)
		r = -EIO;
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
