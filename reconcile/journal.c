/* journal.c: the journal beside the lock (/run/passthrough.journal): what apply did that sysfs cannot tell later (devices no host driver took, power settings it pinned, the parameters it loaded vfio-pci with); read as observation, written by apply. */
#include "reconcile/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/config.h"
#include "model/syserr.h"
#include "model/xalloc.h"
#include "reconcile/fileio.h"

#define JOURNAL_MAX (64u << 10)
#define HEADER "# passthrough: what apply did that sysfs cannot tell later (see passthrough(8))\n"

enum kind {
	E_UNCLAIMED,   /* unclaimed BDF VVVV:DDDD drivers=HEX */
	E_POWER,       /* power BDF control=auto d3cold_allowed=1 ("-": it was unknown) */
	E_VFIO,        /* vfio-pci disable_idle_d3=1 module=INODE */
	E_UNRESPONSIVE, /* unresponsive BDF VVVV:DDDD: recover: rescan did not bring it back */
	E_POOL,        /* pool BDF VVVV:DDDD ENTRY: bound to vfio-pci for that pool entry */
};

struct entry {
	enum kind kind;
	struct pt_pciaddr addr;       /* unclaimed, power */
	unsigned vendor, device;      /* unclaimed */
	uint64_t drivers;             /* unclaimed */
	struct pt_power_saved power;  /* power */
	bool idle_d3;                 /* vfio-pci */
	unsigned long long module;    /* vfio-pci: the inode of module/vfio_pci for that load */
	char entry[PT_DEVICE_NAME_MAX + 1]; /* pool */
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

static bool
parse_tri(const char *s, enum pt_tri *ret)
{
	if (strcmp(s, "-") == 0)
		*ret = PT_TRI_UNKNOWN;
	else if (strcmp(s, "0") == 0)
		*ret = PT_TRI_NO;
	else if (strcmp(s, "1") == 0)
		*ret = PT_TRI_YES;
	else
		return false;
	return true;
}

/* One line (NUL-terminated, modified) into e; false when it is not one of the three kinds. */
static bool
parse_line(char *line, struct entry *e)
{
	char *w[5], *save = NULL, *colon;
	unsigned long long v, d, drv;
	const char *why;
	int n = 0;

	memset(e, 0, sizeof(*e));
	for (char *t = strtok_r(line, " \t", &save); t && n < 5; t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	if (n == 5 || n < 3)
		return false;
	if (n == 3 && strcmp(w[0], "unresponsive") == 0) {
		e->kind = E_UNRESPONSIVE;
		colon = strchr(w[2], ':');
		if (pt_pciaddr_parse_full(w[1], &e->addr, &why) < 0 || !colon)
			return false;
		*colon = '\0';
		if (!parse_hex(w[2], 4, 0xffff, &v) || !parse_hex(colon + 1, 4, 0xffff, &d))
			return false;
		e->vendor = (unsigned)v;
		e->device = (unsigned)d;
		return true;
	}
	if (n == 3 && strcmp(w[0], "vfio-pci") == 0) {
		char *end;

		e->kind = E_VFIO;
		if (strcmp(w[1], "disable_idle_d3=0") != 0 && strcmp(w[1], "disable_idle_d3=1") != 0)
			return false;
		e->idle_d3 = w[1][16] == '1';
		if (strncmp(w[2], "module=", 7) != 0 || !w[2][7] || w[2][7] == '-')
			return false;
		errno = 0;
		e->module = strtoull(w[2] + 7, &end, 10);
		return !errno && !*end;
	}
	if (n != 4 || pt_pciaddr_parse_full(w[1], &e->addr, &why) < 0)
		return false;
	if (strcmp(w[0], "pool") == 0) {
		e->kind = E_POOL;
		colon = strchr(w[2], ':');
		if (!colon || strlen(w[3]) > PT_DEVICE_NAME_MAX)
			return false;
		*colon = '\0';
		if (!parse_hex(w[2], 4, 0xffff, &v) || !parse_hex(colon + 1, 4, 0xffff, &d))
			return false;
		e->vendor = (unsigned)v;
		e->device = (unsigned)d;
		snprintf(e->entry, sizeof(e->entry), "%s", w[3]);
		return true;
	}
	if (strcmp(w[0], "power") == 0) {
		const char *c = w[2] + 8;

		e->kind = E_POWER;
		e->power.set = true;
		if (strncmp(w[2], "control=", 8) != 0 || strncmp(w[3], "d3cold_allowed=", 15) != 0 ||
		    !parse_tri(w[3] + 15, &e->power.d3cold_allowed))
			return false;
		if (strcmp(c, "on") != 0 && strcmp(c, "auto") != 0 && strcmp(c, "-") != 0)
			return false;
		snprintf(e->power.control, sizeof(e->power.control), "%s", strcmp(c, "-") == 0 ? "" : c);
		return true;
	}
	if (strcmp(w[0], "unclaimed") != 0 || strncmp(w[3], "drivers=", 8) != 0)
		return false;
	e->kind = E_UNCLAIMED;
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

/* The inode of module/vfio_pci: a new one for each load of the module. 0 when it is not there. */
static unsigned long long
vfio_module_id(const struct pt_host *h)
{
	char *path = pt_host_sysfs_path(h, "module/vfio_pci");
	struct stat st;
	unsigned long long id = stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;

	free(path);
	return id;
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
		struct pt_pcidev *d = v[i].kind == E_VFIO ? NULL : (struct pt_pcidev *)pt_observed_dev(obs, &v[i].addr);

		if (v[i].kind == E_VFIO) {
			/* what apply loaded it with, as long as it is that load */
			if (obs->vfio_pci_loaded && v[i].module == vfio_module_id(h))
				obs->vfio_idle_d3 = v[i].idle_d3 ? PT_TRI_YES : PT_TRI_NO;
			continue;
		}
		if (!d)
			continue;
		if (v[i].kind == E_POWER) {
			d->power_saved = v[i].power;
			continue;
		}
		if (v[i].kind == E_POOL) {
			/* while it is that device, and on vfio-pci (or on its way there) */
			if (d->vendor == v[i].vendor && d->device == v[i].device &&
			    ((d->driver && strcmp(d->driver, "vfio-pci") == 0) ||
			     (!d->driver && d->driver_override && strcmp(d->driver_override, "vfio-pci") == 0))) {
				free(d->pool_entry);
				d->pool_entry = xstrdup(v[i].entry);
			}
			continue;
		}
		if (v[i].kind == E_UNRESPONSIVE) {
			d->recover_failed = d->vendor == v[i].vendor && d->device == v[i].device;
			continue;
		}
		if (d->driver || d->driver_override || d->vendor != v[i].vendor || d->device != v[i].device)
			continue;
		/* the drivers are listed only when an entry could count: never on a converged host */
		if (!have_now && pt_sysfs_drivers_digest(&sys, &now) < 0)
			continue;
		have_now = true;
		d->unclaimed = v[i].drivers == now;
	}
	free(v);
}

static char *
format_entry(const struct entry *e)
{
	char a[PT_PCIADDR_BUFSZ];
	const enum pt_tri t = e->power.d3cold_allowed;

	switch (e->kind) {
	case E_UNCLAIMED:
		return xasprintf("unclaimed %s %04x:%04x drivers=%016" PRIx64 "\n", pt_pciaddr_format(&e->addr, a),
				 e->vendor, e->device, e->drivers);
	case E_POWER:
		return xasprintf("power %s control=%s d3cold_allowed=%s\n", pt_pciaddr_format(&e->addr, a),
				 e->power.control[0] ? e->power.control : "-",
				 t == PT_TRI_YES ? "1" : t == PT_TRI_NO ? "0" : "-");
	case E_VFIO:
		return xasprintf("vfio-pci disable_idle_d3=%d module=%llu\n", e->idle_d3, e->module);
	case E_UNRESPONSIVE:
		return xasprintf("unresponsive %s %04x:%04x\n", pt_pciaddr_format(&e->addr, a), e->vendor, e->device);
	case E_POOL:
		return xasprintf("pool %s %04x:%04x %s\n", pt_pciaddr_format(&e->addr, a), e->vendor, e->device, e->entry);
	}
	return xstrdup("");
}

/* Writes the entries to path (through path.new and a rename), or removes path when there are none. */
static int
write_entries(const char *path, const struct entry *v, size_t n, char **reterr)
{
	char *tmp, *text = xstrdup(HEADER), *t, *line;
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
		line = format_entry(&v[i]);
		t = xasprintf("%s%s", text, line);
		free(line);
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

/* The same entry: same kind and (but for vfio-pci's one line) same device. */
static bool
same_slot(const struct entry *a, const struct entry *b)
{
	return a->kind == b->kind && (a->kind == E_VFIO || pt_pciaddr_cmp(&a->addr, &b->addr) == 0);
}

/* Replaces the journal's entry in e's slot by e (forget: removes it). Writes nothing when
 * forgetting an entry that is not there. 0, or a negative errno with *reterr set. */
static int
journal_put(const struct pt_host *h, const struct entry *e, bool forget, bool keep, char **reterr)
{
	char *path = pt_journal_path(h);
	struct entry *v = NULL;
	size_t n = 0, kept = 0;
	int r;

	if (!path)
		return 0;
	r = read_entries(path, &v, &n);
	if (r < 0) {
		*reterr = xasprintf("cannot read the journal '%s': %s", path, strerror(-r));
		free(path);
		return r;
	}
	for (size_t i = 0; i < n; i++)
		if (!same_slot(&v[i], e))
			v[kept++] = v[i];
	if (keep && !forget && kept < n) {
		free(v);
		free(path);
		return 0;   /* keep: it has the device's first values already */
	}
	if (forget && kept == n) {
		free(v);
		free(path);
		return 0;   /* nothing to forget */
	}
	if (!forget) {
		xgrow(&v, &n, kept + 1, sizeof(*v));
		v[kept++] = *e;
	}
	r = write_entries(path, v, kept, reterr);
	free(v);
	free(path);
	return r;
}

static int
entry_addr(struct entry *e, const char *bdf, char **reterr)
{
	const char *why;

	if (pt_pciaddr_parse_full(bdf, &e->addr, &why) < 0) {
		*reterr = xasprintf("'%s': %s", bdf, why);
		return -EINVAL;
	}
	return 0;
}

/* The device's ids from sysfs into e (they stay readable when config space does not answer). */
static int
entry_ids(const struct pt_sysfs *s, const char *bdf, struct entry *e)
{
	unsigned long vendor = 0, device = 0;
	int r;

	if ((r = pt_sysfs_hex(s, bdf, "vendor", &vendor)) < 0 || (r = pt_sysfs_hex(s, bdf, "device", &device)) < 0)
		return r;
	e->vendor = (unsigned)vendor;
	e->device = (unsigned)device;
	return 0;
}

int
pt_journal_set(const struct pt_sysfs *s, const char *bdf, bool unclaimed, char **reterr)
{
	struct entry e = { .kind = E_UNCLAIMED };
	int r = entry_addr(&e, bdf, reterr);

	if (r < 0)
		return r;
	if (unclaimed) {
		if ((r = entry_ids(s, bdf, &e)) < 0 || (r = pt_sysfs_drivers_digest(s, &e.drivers)) < 0) {
			char *path = pt_journal_path(s->h);

			*reterr = xasprintf("cannot write the journal '%s': cannot read what %s is and which drivers are loaded: %s",
					    path ? path : "(none)", bdf, strerror(-r));
			free(path);
			return r;
		}
	}
	return journal_put(s->h, &e, !unclaimed, false, reterr);
}

int
pt_journal_set_power(const struct pt_host *h, const char *bdf, const struct pt_power_saved *saved, char **reterr)
{
	struct entry e = { .kind = E_POWER };
	int r = entry_addr(&e, bdf, reterr);

	if (r < 0)
		return r;
	if (saved) {
		e.power = *saved;
		e.power.set = true;
	}
	return journal_put(h, &e, saved == NULL, true, reterr);
}

int
pt_journal_set_vfio(const struct pt_host *h, int idle_d3, char **reterr)
{
	struct entry e = { .kind = E_VFIO, .idle_d3 = idle_d3 > 0 };

	if (idle_d3 >= 0) {
		e.module = vfio_module_id(h);
		if (!e.module) {
			char *path = pt_host_sysfs_path(h, "module/vfio_pci");

			*reterr = xasprintf("cannot tell which load of vfio-pci this is: '%s' is missing", path);
			free(path);
			return -ENOENT;
		}
	}
	return journal_put(h, &e, idle_d3 < 0, false, reterr);
}

int
pt_journal_set_unresponsive(const struct pt_sysfs *s, const char *bdf, bool failed, char **reterr)
{
	struct entry e = { .kind = E_UNRESPONSIVE };
	int r = entry_addr(&e, bdf, reterr);

	if (r < 0)
		return r;
	if (failed)
		entry_ids(s, bdf, &e);   /* unknown ids (0000:0000) still name the address */
	return journal_put(s->h, &e, !failed, false, reterr);
}

int
pt_journal_set_pool(const struct pt_sysfs *s, const char *bdf, const char *entry, char **reterr)
{
	struct entry e = { .kind = E_POOL };
	size_t len = entry ? strcspn(entry, "[") : 0;
	int r = entry_addr(&e, bdf, reterr);

	if (r < 0)
		return r;
	if (entry) {
		if ((r = entry_ids(s, bdf, &e)) < 0) {
			char *path = pt_journal_path(s->h);

			*reterr = xasprintf("cannot write the journal '%s': cannot read what %s is: %s", path ? path : "(none)",
					    bdf, strerror(-r));
			free(path);
			return r;
		}
		snprintf(e.entry, sizeof(e.entry), "%.*s", (int)(len < PT_DEVICE_NAME_MAX ? len : PT_DEVICE_NAME_MAX), entry);
	}
	return journal_put(s->h, &e, entry == NULL, false, reterr);
}
