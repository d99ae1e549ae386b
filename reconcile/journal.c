/* journal.c: the journal beside the lock (/run/passthrough.journal): the devices a probe gave back to no host driver; read as observation, written by apply. */
#include "reconcile/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/syserr.h"
#include "model/xalloc.h"
#include "reconcile/fileio.h"

#define JOURNAL_MAX (64u << 10)
#define HEADER "# passthrough: devices given back to the host that no driver took (see passthrough(8))\n"

struct entry {
	struct pt_pciaddr addr;
	unsigned vendor, device;
	uint64_t drivers;
};

char *
pt_journal_path(const struct pt_host *h)
{
	return pt_host_run_path(h, ".journal");
}

static bool
parse_hex(const char *s, int digits, unsigned long long max, unsigned long long *ret)
{
	char *end;
	unsigned long long v;

	if ((int)strspn(s, "0123456789abcdefABCDEF") != digits || (int)strlen(s) != digits)
		return false;
	errno = 0;
	v = strtoull(s, &end, 16);
	if (errno || *end || v > max)
		return false;
	*ret = v;
	return true;
}

/* One line ("unclaimed BDF VVVV:DDDD drivers=HEX", NUL-terminated, modified); false when it is not one. */
static bool
parse_line(char *line, struct entry *e)
{
	char *w[4], *save = NULL, *colon;
	unsigned long long v, d, drv;
	const char *why;
	int n = 0;

	for (char *t = strtok_r(line, " \t", &save); t && n < 4; t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	if (n != 4 || strtok_r(NULL, " \t", &save) || strcmp(w[0], "unclaimed") != 0 ||
	    pt_pciaddr_parse_full(w[1], &e->addr, &why) < 0 || strncmp(w[3], "drivers=", 8) != 0)
		return false;
	colon = strchr(w[2], ':');
	if (!colon)
		return false;
	*colon = '\0';
	if (!parse_hex(w[2], 4, 0xffff, &v) || !parse_hex(colon + 1, 4, 0xffff, &d) ||
	    !parse_hex(w[3] + 8, 16, UINT64_MAX, &drv))
		return false;
	e->vendor = (unsigned)v;
	e->device = (unsigned)d;
	e->drivers = (uint64_t)drv;
	return true;
}

/* The entries of the journal at path into *ret (the caller frees); 0 (none when it is absent) or a negative errno. */
static int
read_entries(const char *path, struct entry **ret, size_t *ret_n)
{
	char *buf = NULL, *save = NULL;
	struct entry *v = NULL;
	size_t len, n = 0, cap = 0;
	int r = pt_read_file(path, JOURNAL_MAX, &buf, &len);

	*ret = NULL;
	*ret_n = 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct entry e;

		if (line[0] == '#' || !parse_line(line, &e))
			continue;   /* a line it does not know is left out (and not written back) */
		xgrow(&v, &cap, n + 1, sizeof(*v));
		v[n++] = e;
	}
	free(buf);
	*ret = v;
	*ret_n = n;
	return 0;
}

void
pt_journal_observe(const struct pt_host *h, struct pt_observed *obs)
{
	char *path = pt_journal_path(h);
	struct entry *v = NULL;
	struct pt_sysfs sys = { h, -1 };
	uint64_t now = 0;
	bool have_now = false;
	size_t n = 0;

	if (!path)
		return;
	if (read_entries(path, &v, &n) < 0)
		n = 0;
	free(path);
	for (size_t i = 0; i < n; i++) {
		struct pt_pcidev *d = (struct pt_pcidev *)pt_observed_dev(obs, &v[i].addr);

		if (!d || d->driver || d->driver_override || d->vendor != v[i].vendor || d->device != v[i].device)
			continue;
		/* the drivers are listed only when an entry could count: never on a converged host */
		if (!have_now && pt_sysfs_drivers_digest(&sys, &now) < 0)
			break;
		have_now = true;
		d->unclaimed = v[i].drivers == now;
	}
	free(v);
}

/* Writes the entries to path (through path.new and a rename), or removes path when there are none. */
static int
write_entries(const char *path, const struct entry *v, size_t n, char **reterr)
{
	char *tmp, *text = xstrdup(HEADER), *t;
	int fd, r = 0;
	size_t len;
	ssize_t w;

	if (!n) {
		if (unlink(path) < 0 && errno != ENOENT) {
			r = pt_neg_errno();
			*reterr = xasprintf("cannot remove the journal '%s': %s", path, strerror(-r));
		}
		free(text);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		char a[PT_PCIADDR_BUFSZ];

		t = xasprintf("%sunclaimed %s %04x:%04x drivers=%016" PRIx64 "\n", text,
			      pt_pciaddr_format(&v[i].addr, a), v[i].vendor, v[i].device, v[i].drivers);
		free(text);
		text = t;
	}
	tmp = xasprintf("%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	len = strlen(text);
	if (fd < 0) {
		r = pt_neg_errno();
	} else {
		w = write(fd, text, len);
		if (w < 0)
			r = pt_neg_errno();
		else if ((size_t)w != len)
			r = -EIO;
		if (close(fd) < 0 && r == 0)
			r = pt_neg_errno();
		if (r == 0 && rename(tmp, path) < 0)
			r = pt_neg_errno();
		if (r < 0)
			unlink(tmp);
	}
	if (r < 0)
		*reterr = xasprintf("cannot write the journal '%s': %s", path, strerror(-r));
	free(tmp);
	free(text);
	return r;
}

int
pt_journal_set(const struct pt_sysfs *s, const char *bdf, bool unclaimed, char **reterr)
{
	char *path = pt_journal_path(s->h);
	struct entry *v = NULL, e = { 0 };
	unsigned long vendor = 0, device = 0;
	size_t n = 0, kept = 0;
	const char *why;
	int r;

	if (!path)
		return 0;
	r = read_entries(path, &v, &n);
	if (r < 0) {
		*reterr = xasprintf("cannot read the journal '%s': %s", path, strerror(-r));
		free(path);
		return r;
	}
	if (pt_pciaddr_parse_full(bdf, &e.addr, &why) < 0) {
		*reterr = xasprintf("'%s': %s", bdf, why);
		free(v);
		free(path);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (pt_pciaddr_cmp(&v[i].addr, &e.addr) != 0)
			v[kept++] = v[i];
	if (!unclaimed && kept == n) {
		free(v);
		free(path);
		return 0;   /* nothing to forget */
	}
	if (unclaimed) {
		if ((r = pt_sysfs_hex(s, bdf, "vendor", &vendor)) < 0 || (r = pt_sysfs_hex(s, bdf, "device", &device)) < 0 ||
		    (r = pt_sysfs_drivers_digest(s, &e.drivers)) < 0) {
			*reterr = xasprintf("cannot write the journal '%s': cannot read what %s is and which drivers are loaded: %s",
					    path, bdf, strerror(-r));
			free(v);
			free(path);
			return r;
		}
		e.vendor = (unsigned)vendor;
		e.device = (unsigned)device;
		xgrow(&v, &n, kept + 1, sizeof(*v));
		v[kept++] = e;
	}
	r = write_entries(path, v, kept, reterr);
	free(v);
	free(path);
	return r;
}
