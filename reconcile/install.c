/* install.c: writes, checks and undoes what `passthrough install` puts on a host; every path goes under the target's root. */
#include "reconcile/install.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/syserr.h"
#include "model/xalloc.h"
#include "reconcile/child.h"
#include "reconcile/lock.h"

#ifndef PT_SBINDIR
#define PT_SBINDIR "/usr/local/sbin"
#endif
#ifndef PT_CONFIG_FILE
#define PT_CONFIG_FILE "/etc/passthrough.yaml"
#endif

#define MANIFEST_HEAD "passthrough-install 1"
#define HOOK_MARK "# passthrough: libvirt's qemu hook, written by 'passthrough install'"
#define UNIT_MARK "# Written by 'passthrough install'"
#define BLOCK_BEGIN "# passthrough begin:"
#define BLOCK_END "# passthrough end\n"
#define MAX_FILE (64u << 20)
#define SYSTEMCTL_TIMEOUT_MS 120000

static const struct pt_layout_paths layouts[] = {
	[PT_LAYOUT_SYSTEMD] = { "systemd", PT_SBINDIR "/passthrough", PT_CONFIG_FILE, "/etc/systemd/system",
				"/var/lib/passthrough", NULL },
	[PT_LAYOUT_DSM] = { "dsm", "/usr/local/bin/passthrough", "/usr/local/etc/passthrough.yaml",
			    "/usr/local/lib/systemd/system", "/usr/local/lib/passthrough",
			    "/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh" },
};

const struct pt_layout_paths *
pt_layout_paths(enum pt_layout l)
{
	return &layouts[l];
}

bool
pt_install_path_ok(const char *path)
{
	if (path[0] != '/')
		return false;
	for (const char *c = path; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("/._+-", *c)))
			return false;
	return true;
}

/* ---- what install writes ---- */

static const char config_template[] =
	"# passthrough.yaml: which VM owns which PCI device. Written by 'passthrough install'\n"
	"# because there was none; see passthrough.yaml(5), and 'passthrough devices' for what\n"
	"# this host has. An entry looks like:\n"
	"#   coral:\n"
	"#     match: { vendor: 0x1ac1, device: 0x089a }\n"
	"#     vm: frigate_VM\n"
	"version: 1\n"
	"devices: {}\n";

static char *
hook_script(const struct pt_layout_paths *p, const struct pt_install_target *t)
{
	return xasprintf("#!/bin/sh\n"
			 HOOK_MARK " ('passthrough uninstall' removes it).\n"
			 "# It hands each call to 'passthrough hook', which never calls libvirt and never\n"
			 "# fails a VM start. A hook that was here before runs after it, with the same\n"
			 "# arguments and domain XML, and its exit status is the one libvirt sees.\n"
			 "chained=" PT_HOOK_CHAINED "\n"
			 "if [ -x \"$chained\" ]; then\n"
			 "\txml=$(cat)\n"
			 "\t[ ! -x %s ] || printf '%%s\\n' \"$xml\" | %s -c %s --lock-file %s hook -- \"$@\"\n"
			 "\tprintf '%%s\\n' \"$xml\" | \"$chained\" \"$@\"\n"
			 "\texit\n"
			 "fi\n"
			 "[ -x %s ] || exit 0\n"
			 "exec %s -c %s --lock-file %s hook -- \"$@\"\n",
			 p->bin, p->bin, t->config, t->lock_file, p->bin, p->bin, t->config, t->lock_file);
}

enum unit_id { U_BOOT, U_APPLY, U_TIMER, U_WATCH, N_UNITS };

static const struct {
	const char *name;
	const char *wanted_by;   /* enabled through this target's .wants, or NULL */
} units[N_UNITS] = {
	[U_BOOT] = { "passthrough-boot.service", "multi-user.target" },
	[U_APPLY] = { "passthrough.service", "multi-user.target" },
	[U_TIMER] = { "passthrough.timer", "timers.target" },
	[U_WATCH] = { "passthrough-watch.service", NULL },
};

#define UNIT_HEAD UNIT_MARK "; 'passthrough uninstall' removes it. Change it with a drop-in.\n"
#define LIBVIRTD_UNITS "libvirtd.service virtqemud.service"

static char *
unit_text(enum unit_id u, const struct pt_layout_paths *p, const struct pt_install_target *t)
{
	switch (u) {
	case U_BOOT:
		return xasprintf(UNIT_HEAD "[Unit]\n"
				 "Description=Bind the PCI devices passthrough.yaml declares to vfio-pci before VMs start\n"
				 "Documentation=man:passthrough(8)\n"
				 "DefaultDependencies=no\n"
				 "After=local-fs.target systemd-modules-load.service\n"
				 "Before=" LIBVIRTD_UNITS " libvirt-guests.service shutdown.target\n"
				 "Conflicts=shutdown.target\n"
				 "\n[Service]\n"
				 "Type=oneshot\n"
				 "ExecStart=%s apply --host-only --quiet -c %s --lock-file %s\n"
				 "\n[Install]\n"
				 "WantedBy=multi-user.target\n",
				 p->bin, t->config, t->lock_file);
	case U_APPLY:
		return xasprintf(UNIT_HEAD "[Unit]\n"
				 "Description=Make the host match passthrough.yaml (PCI passthrough), and repair its wiring\n"
				 "Documentation=man:passthrough(8)\n"
				 "After=" LIBVIRTD_UNITS " passthrough-boot.service\n"
				 "\n[Service]\n"
				 "Type=oneshot\n"
				 "ExecStart=-%s install --%s --repair --quiet -c %s --lock-file %s\n"
				 "ExecStart=%s apply --quiet -c %s --lock-file %s\n"
				 "\n[Install]\n"
				 "WantedBy=multi-user.target\n",
				 p->bin, p->name, t->config, t->lock_file, p->bin, t->config, t->lock_file);
	case U_TIMER:
		return xstrdup(UNIT_HEAD "[Unit]\n"
			       "Description=Self-heal PCI passthrough every 5 minutes\n"
			       "Documentation=man:passthrough(8)\n"
			       "\n[Timer]\n"
			       "OnBootSec=2min\n"
			       "OnUnitActiveSec=5min\n"
			       "\n[Install]\n"
			       "WantedBy=timers.target\n");
	case U_WATCH:
		return xasprintf(UNIT_HEAD "# Not enabled by install: systemctl enable --now passthrough-watch.service\n"
				 "[Unit]\n"
				 "Description=Reconcile PCI passthrough on libvirt lifecycle events\n"
				 "Documentation=man:passthrough(8)\n"
				 "After=" LIBVIRTD_UNITS " passthrough-boot.service\n"
				 "\n[Service]\n"
				 "ExecStart=%s watch -c %s --lock-file %s\n"
				 "Restart=on-failure\n"
				 "RestartSec=5\n"
				 "\n[Install]\n"
				 "WantedBy=multi-user.target\n",
				 p->bin, t->config, t->lock_file);
	case N_UNITS:
		break;
	}
	return NULL;
}

/* The lines install puts into DSM's package script, after its #! line. */
static char *
dsm_block(const struct pt_layout_paths *p, const struct pt_install_target *t)
{
	return xasprintf(BLOCK_BEGIN " re-create the libvirt hook and bind the declared devices before "
			 "libvirtd starts ('passthrough uninstall' removes these lines)\n"
			 "[ ! -x %s ] || %s install --dsm --repair --quiet -c %s --lock-file %s || :\n"
			 "[ ! -x %s ] || %s apply --host-only --quiet -c %s --lock-file %s || :\n"
			 BLOCK_END,
			 p->bin, p->bin, t->config, t->lock_file, p->bin, p->bin, t->config, t->lock_file);
}

/* Where our block starts and ends in text (end: just after its last line); false when absent. */
static bool
find_block(const char *text, const char **begin, const char **end)
{
	const char *b = strncmp(text, BLOCK_BEGIN, strlen(BLOCK_BEGIN)) == 0 ? text : strstr(text, "\n" BLOCK_BEGIN);
	const char *e;

	if (!b)
		return false;
	if (b != text)
		b++;
	e = strstr(b, "\n" BLOCK_END);
	if (!e)
		return false;
	*begin = b;
	*end = e + 1 + strlen(BLOCK_END);
	return true;
}

/* The text with our block after its #! line (or first), or with an older block replaced. */
static char *
with_block(const char *text, const char *block)
{
	const char *begin, *end;
	size_t at = 0;

	if (find_block(text, &begin, &end))
		return xasprintf("%.*s%s%s", (int)(begin - text), text, block, end);
	if (strncmp(text, "#!", 2) == 0) {
		const char *nl = strchr(text, '\n');

		if (!nl)
			return xasprintf("%s\n%s", text, block);
		at = (size_t)(nl + 1 - text);
	}
	return xasprintf("%.*s%s%s", (int)at, text, block, text + at);
}

/* The text without our block (the lines between the markers, inclusive), or NULL. */
static char *
without_block(const char *text)
{
	const char *begin, *end;

	if (!find_block(text, &begin, &end))
		return NULL;
	return xasprintf("%.*s%s", (int)(begin - text), text, end);
}

/* ---- files ---- */

struct buf {
	char *data;
	size_t len;
};

static char *
under(const struct pt_install_target *t, const char *path)
{
	return xasprintf("%s%s", strcmp(t->root, "/") == 0 ? "" : t->root, path);
}

/* Reads a whole file (NUL-terminated too); 0, or a negative errno (-ENOENT when it is not there). */
static int
read_all(const char *path, struct buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 0;
	ssize_t n;

	b->data = NULL;
	b->len = 0;
	if (fd < 0)
		return pt_neg_errno();
	for (;;) {
		if (b->len + 1 >= cap) {
			if (cap >= MAX_FILE) {
				close(fd);
				free(b->data);
				return -EFBIG;
			}
			xgrow(&b->data, &cap, cap ? cap * 2 : 4096, 1);
		}
		n = read(fd, b->data + b->len, cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = pt_neg_errno();

			close(fd);
			free(b->data);
			return r;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	close(fd);
	b->data[b->len] = '\0';
	return 0;
}

static bool
same_bytes(const struct buf *b, const char *data, size_t len)
{
	return b->len == len && memcmp(b->data, data, len) == 0;
}

/* Writes path through a temporary file and rename, so that it is never half-written. */
static int
write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	char *tmp = xasprintf("%s.passthrough-new", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
	int r = 0;

	if (fd < 0) {
		r = pt_neg_errno();
		free(tmp);
		return r;
	}
	for (size_t off = 0; off < len && !r;) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno != EINTR)
			r = pt_neg_errno();
		else if (n > 0)
			off += (size_t)n;
	}
	if (!r && fchmod(fd, mode & 07777) < 0)
		r = pt_neg_errno();
	if (!r && fsync(fd) < 0)
		r = pt_neg_errno();
	if (close(fd) < 0 && !r)
		r = pt_neg_errno();
	if (!r && rename(tmp, path) < 0)
		r = pt_neg_errno();
	if (r)
		unlink(tmp);
	free(tmp);
	return r;
}

/* Copies src to dst (through write_atomic) with src's mode: works across filesystems. */
static int
copy_file(const char *src, const char *dst)
{
	struct stat st;
	struct buf b;
	int r = stat(src, &st) < 0 ? pt_neg_errno() : read_all(src, &b);

	if (r < 0)
		return r;
	r = write_atomic(dst, b.data, b.len, st.st_mode);
	free(b.data);
	return r;
}

/* ---- the manifest: what install created, replaced, moved or edited ---- */

struct record {
	char *kind;   /* dir, file, config, replaced, link, moved, edited; option */
	char *path;   /* on the target system; option: its name */
	char *arg;    /* replaced/edited: the backup; moved: where to; link: the old target; option: its
	               * value; "" for the other kinds (never NULL) */
};

struct manifest {
	struct record *v;
	size_t n, cap;
	enum pt_layout layout;
};

static void
record_done(struct record *r)
{
	free(r->kind);
	free(r->path);
	free(r->arg);
}

static void
manifest_done(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		record_done(&m->v[i]);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* The newest record of a path (options aside), or NULL. */
static const struct record *
find_record(const struct manifest *m, const char *path)
{
	for (size_t i = m->n; i-- > 0;)
		if (strcmp(m->v[i].path, path) == 0 && strcmp(m->v[i].kind, "option") != 0)
			return &m->v[i];
	return NULL;
}

static void
add_record(struct manifest *m, const char *kind, const char *path, const char *arg)
{
	struct record *r;

	for (size_t i = 0; i < m->n; i++) {
		r = &m->v[i];
		if (strcmp(r->kind, kind) == 0 && strcmp(r->path, path) == 0 &&
		    strcmp(r->arg, arg ? arg : "") == 0)
			return;
	}
	xgrow(&m->v, &m->cap, m->n + 1, sizeof(*m->v));
	r = &m->v[m->n++];
	r->kind = xstrdup(kind);
	r->path = xstrdup(path);
	r->arg = xstrdup(arg ? arg : "");
}

/* What install wrote into the texts ("config", "lock"), or NULL. */
static const char *
find_option(const struct manifest *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].kind, "option") == 0 && strcmp(m->v[i].path, key) == 0)
			return m->v[i].arg;
	return NULL;
}

/* Sets an option record; true when it changed. */
static bool
set_option(struct manifest *m, const char *key, const char *value)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->v[i].kind, "option") == 0 && strcmp(m->v[i].path, key) == 0) {
			if (strcmp(m->v[i].arg, value) == 0)
				return false;
			free(m->v[i].arg);
			m->v[i].arg = xstrdup(value);
			return true;
		}
	}
	add_record(m, "option", key, value);
	return true;
}

static char *
manifest_path(const struct pt_install_target *t, enum pt_layout l)
{
	char *rel = xasprintf("%s/manifest", layouts[l].state_dir);
	char *p = under(t, rel);

	free(rel);
	return p;
}

/* Whether a manifest line is one install writes: a known kind, an absolute path, and an
 * argument exactly for the kinds that have one (undo dereferences it). */
static bool
record_shape_ok(const char *kind, const char *path, const char *arg)
{
	static const char *const no_arg[] = { "dir", "file", "config" };
	static const char *const with_arg[] = { "replaced", "link", "moved", "edited", "option" };

	if (strcmp(kind, "option") != 0 && path[0] != '/')
		return false;
	for (size_t i = 0; i < sizeof(no_arg) / sizeof(no_arg[0]); i++)
		if (strcmp(kind, no_arg[i]) == 0)
			return !arg;
	for (size_t i = 0; i < sizeof(with_arg) / sizeof(with_arg[0]); i++)
		if (strcmp(kind, with_arg[i]) == 0)
			return arg && arg[0];
	return false;
}

/* 0 with *m filled, -ENOENT when there is none, or -EINVAL/-errno with *reterr set. */
static int
manifest_load(const struct pt_install_target *t, enum pt_layout l, struct manifest *m, char **reterr)
{
	char *path = manifest_path(t, l), *line, *save = NULL;
	struct buf b;
	int r = read_all(path, &b);
	unsigned lineno = 0;

	memset(m, 0, sizeof(*m));
	m->layout = l;
	if (r < 0) {
		if (r != -ENOENT)
			*reterr = xasprintf("cannot read '%s': %s", path, strerror(-r));
		free(path);
		return r;
	}
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *kind = line, *p, *arg;

		if (++lineno == 1) {
			if (strncmp(line, MANIFEST_HEAD, strlen(MANIFEST_HEAD)) != 0)
				break;
			continue;
		}
		p = strchr(kind, '\t');
		if (!p)
			break;
		*p++ = '\0';
		arg = strchr(p, '\t');
		if (arg)
			*arg++ = '\0';
		if (!record_shape_ok(kind, p, arg))
			break;
		add_record(m, kind, p, arg);
	}
	if (line) {
		*reterr = xasprintf("%s:%u: not a line passthrough install wrote; remove what it lists by hand",
				    path, lineno);
		manifest_done(m);
		free(b.data);
		free(path);
		return -EINVAL;
	}
	free(b.data);
	free(path);
	return 0;
}

static int
manifest_save(const struct pt_install_target *t, const struct manifest *m, char **reterr)
{
	char *path = manifest_path(t, m->layout);
	size_t cap = 0, len = 0;
	char *s = NULL;
	int r;

	for (size_t i = 0; i <= m->n; i++) {
		char *line = i == 0 ? xasprintf(MANIFEST_HEAD " %s: what passthrough install changed; passthrough "
						"uninstall undoes it\n", layouts[m->layout].name)
				    : xasprintf("%s\t%s%s%s\n", m->v[i - 1].kind, m->v[i - 1].path,
						m->v[i - 1].arg[0] ? "\t" : "", m->v[i - 1].arg);
		size_t n = strlen(line);

		xgrow(&s, &cap, len + n + 1, 1);
		memcpy(s + len, line, n + 1);
		len += n;
		free(line);
	}
	r = write_atomic(path, s, len, 0600);
	if (r < 0)
		*reterr = xasprintf("cannot write '%s': %s", path, strerror(-r));
	free(s);
	free(path);
	return r;
}

/* ---- results ---- */

static void __attribute__((format(printf, 3, 4)))
say(struct pt_install_result *r, bool unit, const char *fmt, ...)
{
	va_list ap;

	xgrow(&r->v, &r->cap, r->n + 1, sizeof(*r->v));
	va_start(ap, fmt);
	if (vasprintf(&r->v[r->n].line, fmt, ap) < 0)
		abort();
	va_end(ap);
	r->v[r->n++].unit = unit;
}

static void __attribute__((format(printf, 2, 3)))
note(struct pt_install_result *r, const char *fmt, ...)
{
	va_list ap;

	xgrow(&r->notes, &r->cap_notes, r->n_notes + 1, sizeof(*r->notes));
	va_start(ap, fmt);
	if (vasprintf(&r->notes[r->n_notes++], fmt, ap) < 0)
		abort();
	va_end(ap);
}

void
pt_install_result_done(struct pt_install_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].line);
	for (size_t i = 0; i < r->n_notes; i++)
		free(r->notes[i]);
	free(r->v);
	free(r->notes);
	memset(r, 0, sizeof(*r));
}

/* ---- install ---- */

struct run {
	const struct pt_install_target *t;   /* config and lock file filled in */
	const struct pt_layout_paths *p;
	struct manifest m;
	struct pt_install_result *res;
	bool dry;
	char **err;
};

static int
fail(struct run *x, int e, const char *what, const char *path)
{
	*x->err = xasprintf("cannot %s '%s': %s", what, path, strerror(e));
	return -e;
}

/* Adds to the manifest and saves it, once its directory exists (install creates it first).
 * Called before the change it records: a failure then leaves nothing unaccounted for. */
static int
record(struct run *x, const char *kind, const char *path, const char *arg)
{
	char *dir;
	bool there;

	if (x->dry)
		return 0;
	add_record(&x->m, kind, path, arg);
	dir = under(x->t, x->p->state_dir);
	there = access(dir, F_OK) == 0;
	free(dir);
	return there ? manifest_save(x->t, &x->m, x->err) : 0;
}

/* mkdir -p, recording each directory it creates. */
static int
ensure_dir(struct run *x, const char *dir)
{
	char *d = xstrdup(dir);
	int r = 0;

	for (char *slash = d + 1;; slash++) {
		char *full;
		bool last = *slash == '\0';
		struct stat st;

		if (*slash != '/' && !last)
			continue;
		*slash = '\0';
		full = under(x->t, d);
		if (stat(full, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				r = fail(x, ENOTDIR, "create a directory at", full);
		} else if ((r = record(x, "dir", d, NULL)) == 0) {
			if (!x->dry && mkdir(full, 0755) < 0)
				r = fail(x, errno, "create the directory", full);
			else
				say(x->res, false, "created directory '%s'", full);
		}
		free(full);
		if (r < 0 || last)
			break;
		*slash = '/';
	}
	free(d);
	return r;
}

static int
ensure_parent(struct run *x, const char *path)
{
	char *d = xstrdup(path);
	int r;

	*strrchr(d, '/') = '\0';
	r = d[0] ? ensure_dir(x, d) : 0;
	free(d);
	return r;
}

/*
 * Makes path hold exactly data with mode. A file install did not create is kept in a
 * backup first, so that uninstall can put it back. kind: "file", or "config" (written
 * only when missing).
 */
static int
ensure_file(struct run *x, const char *kind, const char *path, const char *data, size_t len, mode_t mode,
	    bool unit)
{
	char *full = under(x->t, path);
	struct buf cur;
	struct stat st;
	int r = ensure_parent(x, path);

	if (r < 0)
		goto out;
	if (lstat(full, &st) == 0 && !S_ISREG(st.st_mode)) {
		r = fail(x, EEXIST, "write a file over what is at", full); /* a link, a directory: move it away */
		goto out;
	}
	r = read_all(full, &cur);
	if (r < 0 && r != -ENOENT) {
		r = fail(x, -r, "read", full);
		goto out;
	}
	if (r == 0) {
		bool same = same_bytes(&cur, data, len) && (st.st_mode & 07777) == mode;

		free(cur.data);
		r = 0;
		if (same || strcmp(kind, "config") == 0)
			goto out;
		if (!find_record(&x->m, path)) {
			/* somebody else's file: keep a copy for uninstall */
			char *bak = NULL, *bakfull = NULL;

			for (unsigned i = 0; !bak || access(bakfull, F_OK) == 0; i++) {
				free(bak);
				free(bakfull);
				bak = xasprintf("%s/backup-%u", x->p->state_dir, i);
				bakfull = under(x->t, bak);
			}
			r = record(x, "replaced", path, bak);
			if (r == 0 && !x->dry && (r = copy_file(full, bakfull)) < 0)
				r = fail(x, -r, "keep a copy of", full);
			if (r == 0)
				say(x->res, unit, "replaced '%s' (the earlier file is kept in '%s' for uninstall)", full,
				    bakfull);
			free(bak);
			free(bakfull);
		} else {
			say(x->res, unit, "updated '%s' (it differed from what install writes)", full);
		}
	} else {
		r = record(x, kind, path, NULL);
		if (r == 0)
			say(x->res, unit, "created '%s'", full);
	}
	if (r == 0 && !x->dry && (r = write_atomic(full, data, len, mode)) < 0)
		r = fail(x, -r, "write", full);
out:
	free(full);
	return r;
}

static int
ensure_link(struct run *x, const char *path, const char *target)
{
	char *full = under(x->t, path);
	char old[PATH_MAX];
	struct stat st;
	ssize_t n;
	int r = ensure_parent(x, path);

	if (r < 0)
		goto out;
	if (lstat(full, &st) < 0) {
		r = errno == ENOENT ? record(x, "file", path, NULL) : fail(x, errno, "look at", full);
	} else if (!S_ISLNK(st.st_mode)) {
		r = fail(x, EEXIST, "make a link at", full);
	} else if ((n = readlink(full, old, sizeof(old) - 1)) < 0) {
		r = fail(x, errno, "read the link", full);
	} else {
		old[n] = '\0';
		if (strcmp(old, target) == 0)
			goto out;
		if (!find_record(&x->m, path))
			r = record(x, "link", path, old);
		if (r == 0 && !x->dry && unlink(full) < 0)
			r = fail(x, errno, "replace", full);
	}
	if (r == 0 && !x->dry && symlink(target, full) < 0)
		r = fail(x, errno, "create the link", full);
	if (r == 0)
		say(x->res, true, "linked '%s' -> '%s'", full, target);
out:
	free(full);
	return r;
}

/* The binary: copied from t->self unless it is that very file (or self is NULL: doctor). */
static int
ensure_binary(struct run *x)
{
	char *full = under(x->t, x->p->bin);
	char *a = x->t->self ? realpath(x->t->self, NULL) : NULL, *b = realpath(full, NULL);
	struct buf self;
	int r = 0;

	if (x->t->self && !(a && b && strcmp(a, b) == 0)) {
		r = read_all(x->t->self, &self);
		if (r < 0) {
			r = fail(x, -r, "read", x->t->self);
		} else {
			r = ensure_file(x, "file", x->p->bin, self.data, self.len, 0755, false);
			free(self.data);
		}
	}
	free(a);
	free(b);
	free(full);
	return r;
}

/* The hook, chained to one that was there before and is not ours. */
static int
ensure_hook(struct run *x)
{
	char *full = under(x->t, PT_HOOK_PATH), *chained = under(x->t, PT_HOOK_CHAINED);
	char *text = hook_script(x->p, x->t);
	struct buf cur;
	int r = read_all(full, &cur);

	if (r == 0) {
		bool ours = strstr(cur.data, HOOK_MARK) != NULL;

		free(cur.data);
		r = 0;
		if (!ours) {
			r = record(x, "moved", PT_HOOK_PATH, PT_HOOK_CHAINED);
			if (r == 0 && !x->dry && rename(full, chained) < 0)
				r = fail(x, errno, "move aside", full);
			if (r == 0)
				say(x->res, false, "moved '%s' to '%s': it still runs, after passthrough's hook", full,
				    chained);
		}
	} else if (r == -ENOENT) {
		r = 0;
	} else {
		r = fail(x, -r, "read", full);
	}
	if (r == 0)
		r = ensure_file(x, "file", PT_HOOK_PATH, text, strlen(text), 0755, false);
	free(text);
	free(full);
	free(chained);
	return r;
}

/* DSM: our block in VMM's package script, which runs before libvirtd at every start. */
static int
ensure_dsm_wiring(struct run *x)
{
	const char *path = x->p->pkg_script;
	char *full = under(x->t, path), *block = dsm_block(x->p, x->t), *want = NULL;
	const char *b, *e;
	struct buf cur;
	struct stat st;
	int r = read_all(full, &cur);

	if (r < 0) {
		r = fail(x, -r, "read", full);
		goto out;
	}
	want = with_block(cur.data, block);
	if (strcmp(want, cur.data) == 0)
		goto out;
	if (stat(full, &st) < 0) {
		r = fail(x, errno, "stat", full);
		goto out;
	}
	if (!find_block(cur.data, &b, &e)) {
		/* the original, for a byte-for-byte uninstall (again after an update replaced it) */
		char *bak = xasprintf("%s/insert_libvirtd_ko.sh.orig", x->p->state_dir);
		char *bakfull = under(x->t, bak);

		r = record(x, "edited", path, bak);
		if (r == 0 && !x->dry && (r = write_atomic(bakfull, cur.data, cur.len, st.st_mode)) < 0)
			r = fail(x, -r, "write", bakfull);
		free(bak);
		free(bakfull);
		if (r < 0)
			goto out;
		say(x->res, false, "edited '%s': each libvirtd start now re-creates the hook and binds the devices",
		    full);
	} else {
		say(x->res, false, "updated passthrough's lines in '%s'", full);
	}
	if (!x->dry && (r = write_atomic(full, want, strlen(want), st.st_mode)) < 0)
		r = fail(x, -r, "write", full);
out:
	free(cur.data);
	free(want);
	free(block);
	free(full);
	return r;
}

/* The target with config and lock file filled: as given, else as recorded, else the defaults.
 * The strings stay owned by t or m. */
static void
with_options(const struct pt_install_target *t, const struct manifest *m, struct pt_install_target *eff)
{
	*eff = *t;
	if (!eff->config)
		eff->config = find_option(m, "config");
	if (!eff->config)
		eff->config = layouts[m->layout].config;
	if (!eff->lock_file)
		eff->lock_file = find_option(m, "lock");
	if (!eff->lock_file)
		eff->lock_file = PT_LOCK_FILE;
}

/* What must hold before anything is written: 0, or a negative errno with *reterr set. */
static int
check_preconditions(const struct pt_install_target *t, char **reterr)
{
	const struct pt_layout_paths *p = &layouts[t->layout];
	char *hook = under(t, PT_HOOK_PATH), *chained = under(t, PT_HOOK_CHAINED);
	enum pt_layout other;
	struct stat st;
	struct buf cur;
	int r = 0;

	if (pt_installed_layout(t->root, &other) == 0 && other != t->layout) {
		*reterr = xasprintf("the %s layout is installed here; run 'passthrough uninstall' first",
				    layouts[other].name);
		r = -EEXIST;
	} else if (p->pkg_script) {
		char *full = under(t, p->pkg_script);

		if (stat(full, &st) < 0) {
			r = pt_neg_errno();
			*reterr = xasprintf("cannot find '%s' (%s): is Virtual Machine Manager installed?", full,
					    strerror(-r));
		}
		free(full);
	}
	if (r == 0 && read_all(hook, &cur) == 0) {
		if (!strstr(cur.data, HOOK_MARK) && lstat(chained, &st) == 0) {
			*reterr = xasprintf("cannot chain to '%s': '%s' is there already; move one of them away", hook,
					    chained);
			r = -EEXIST;
		}
		free(cur.data);
	}
	free(hook);
	free(chained);
	return r;
}

int
pt_install(const struct pt_install_target *t, bool dry_run, struct pt_install_result *res, char **reterr)
{
	struct run x = { t, &layouts[t->layout], { 0 }, res, dry_run, reterr };
	struct pt_install_target eff;
	int r = check_preconditions(t, reterr);

	if (r < 0)
		return r;
	r = manifest_load(t, t->layout, &x.m, reterr);
	if (r == -ENOENT) {
		r = 0;
		x.m.layout = t->layout;
	}
	if (r < 0)
		return r;
	with_options(t, &x.m, &eff);
	x.t = &eff;

	r = ensure_dir(&x, x.p->state_dir);
	if (r == 0 && !dry_run) {
		char *m = manifest_path(t, t->layout);
		bool changed = set_option(&x.m, "config", eff.config);

		changed |= set_option(&x.m, "lock", eff.lock_file);
		if (changed || access(m, F_OK) < 0)
			r = manifest_save(t, &x.m, reterr); /* with the directories just made; then each change */
		free(m);
	}
	if (r == 0)
		r = ensure_binary(&x);
	if (r == 0 && !find_record(&x.m, eff.config)) {
		char *full = under(t, eff.config);

		if (access(full, F_OK) < 0) {
			r = ensure_file(&x, "config", eff.config, config_template, strlen(config_template), 0600, false);
			if (r == 0)
				note(res, "'%s' declares no device yet: add yours (see passthrough.yaml(5) and "
				     "'passthrough devices')", full);
		}
		free(full);
	}
	if (r == 0) {
		size_t before = res->n;

		r = ensure_hook(&x);
		/* cppcheck-suppress knownConditionTrueFalse ; ensure_hook adds to res through x */
		if (r == 0 && res->n > before && strcmp(t->root, "/") == 0)
			note(res, "libvirtd looks for hooks when it starts: restart it to use the new one "
			     "(running VMs keep running)");
	}
	for (int u = 0; u < N_UNITS && r == 0; u++) {
		char *path = xasprintf("%s/%s", x.p->unit_dir, units[u].name);
		char *text = unit_text((enum unit_id)u, x.p, x.t);

		r = ensure_file(&x, "file", path, text, strlen(text), 0644, true);
		if (r == 0 && units[u].wanted_by) {
			char *link = xasprintf("%s/%s.wants/%s", x.p->unit_dir, units[u].wanted_by, units[u].name);

			r = ensure_link(&x, link, path);
			free(link);
		}
		free(text);
		free(path);
	}
	if (r == 0 && x.p->pkg_script)
		r = ensure_dsm_wiring(&x);
	manifest_done(&x.m);
	return r;
}

/* ---- uninstall ---- */

int
pt_installed_layout(const char *root, enum pt_layout *ret)
{
	struct pt_install_target t = { PT_LAYOUT_SYSTEMD, root, NULL, NULL, NULL };

	for (int l = 0; l < 2; l++) {
		char *path = manifest_path(&t, (enum pt_layout)l);
		bool there = access(path, F_OK) == 0;

		free(path);
		if (there) {
			*ret = (enum pt_layout)l;
			return 0;
		}
	}
	return -ENOENT;
}

/* Whether a file install created is still what install wrote: the binary, or a text with our mark. */
static bool
still_ours(const struct run *x, const struct record *rec, const char *full)
{
	struct stat st;
	struct buf b;
	bool ours;

	if (lstat(full, &st) < 0)
		return false;
	if (S_ISLNK(st.st_mode) || strcmp(rec->path, x->p->bin) == 0)
		return true;
	if (read_all(full, &b) < 0)
		return false;
	ours = strstr(b.data, HOOK_MARK) || strncmp(b.data, UNIT_MARK, strlen(UNIT_MARK)) == 0;
	free(b.data);
	return ours;
}

/* Undoes one record other than a directory. */
static int
undo(struct run *x, const struct record *rec)
{
	char *full = under(x->t, rec->path), *arg = under(x->t, rec->arg);
	bool unit = strstr(rec->path, "/systemd/") != NULL;
	struct stat st;
	struct buf cur, bak;
	char *want = NULL;
	int r = 0;

	if (strcmp(rec->kind, "config") == 0) {
		if (read_all(full, &cur) == 0) {
			if (same_bytes(&cur, config_template, strlen(config_template))) {
				if (!x->dry && unlink(full) < 0)
					r = fail(x, errno, "remove", full);
				else
					say(x->res, false, "removed '%s'", full);
			} else {
				note(x->res, "kept '%s': it was edited since install", full);
			}
			free(cur.data);
		}
	} else if (strcmp(rec->kind, "file") == 0) {
		if (still_ours(x, rec, full)) {
			if (!x->dry && unlink(full) < 0)
				r = fail(x, errno, "remove", full);
			else
				say(x->res, unit, "removed '%s'", full);
		} else if (lstat(full, &st) == 0) {
			note(x->res, "kept '%s': it is not what install wrote any more", full);
		}
	} else if (strcmp(rec->kind, "link") == 0) {
		if (!x->dry && ((unlink(full) < 0 && errno != ENOENT) || symlink(rec->arg, full) < 0))
			r = fail(x, errno, "put back the link", full);
		else
			say(x->res, unit, "put back '%s' -> '%s'", full, rec->arg);
	} else if (strcmp(rec->kind, "replaced") == 0 || strcmp(rec->kind, "moved") == 0) {
		if (lstat(arg, &st) < 0) {
			note(x->res, "cannot put back '%s': '%s' is gone", full, arg);
		} else {
			/* a moved hook stays in its directory; a backup may be on another filesystem */
			if (!x->dry && strcmp(rec->kind, "moved") == 0)
				r = rename(arg, full) < 0 ? pt_neg_errno() : 0;
			else if (!x->dry && (r = copy_file(arg, full)) == 0)
				unlink(arg);
			if (r < 0)
				r = fail(x, -r, "put back", full);
			else
				say(x->res, unit, "put back '%s'", full);
		}
	} else if (strcmp(rec->kind, "edited") == 0) {
		if (read_all(full, &cur) < 0) {
			note(x->res, "'%s' is gone: nothing to take out of it", full);
		} else {
			char *block = dsm_block(x->p, x->t);

			if (read_all(arg, &bak) == 0) {
				char *edited = with_block(bak.data, block);

				if (strcmp(edited, cur.data) == 0)
					want = xstrdup(bak.data);   /* untouched since: the original, byte for byte */
				free(edited);
				free(bak.data);
			}
			if (!want)
				want = without_block(cur.data);
			if (!want) {
				note(x->res, "'%s' has no passthrough lines any more (an update replaced it?)", full);
			} else if (stat(full, &st) == 0) {
				if (!x->dry && (r = write_atomic(full, want, strlen(want), st.st_mode)) < 0)
					r = fail(x, -r, "write", full);
				else
					say(x->res, false, "removed passthrough's lines from '%s'", full);
			}
			free(block);
			free(cur.data);
		}
		if (r == 0 && !x->dry)
			unlink(arg);
	}
	free(want);
	free(full);
	free(arg);
	return r;
}

/* Deepest first. */
static int
by_depth(const void *a, const void *b)
{
	const struct record *x = a, *y = b;
	size_t lx = strlen(x->path), ly = strlen(y->path);

	return lx < ly ? 1 : lx > ly ? -1 : strcmp(x->path, y->path);
}

int
pt_uninstall(const struct pt_install_target *t, bool dry_run, struct pt_install_result *res, char **reterr)
{
	struct run x = { t, NULL, { 0 }, res, dry_run, reterr };
	struct pt_install_target eff;
	struct manifest dirs = { 0 };
	char *config, *lock, *mpath;
	enum pt_layout l;
	int r = pt_installed_layout(t->root, &l);

	if (r < 0) {
		*reterr = xasprintf("nothing to uninstall: no manifest under '%s'", t->root);
		return r;
	}
	x.p = &layouts[l];
	r = manifest_load(t, l, &x.m, reterr);
	if (r < 0)
		return r;
	with_options(t, &x.m, &eff);
	eff.config = config = xstrdup(eff.config);       /* the manifest shrinks as it goes */
	eff.lock_file = lock = xstrdup(eff.lock_file);
	x.t = &eff;
	dirs.layout = l;
	/* Files first, newest first; the manifest keeps what is left, should one fail. */
	for (size_t i = x.m.n; i-- > 0 && r == 0;) {
		struct record *rec = &x.m.v[i];

		if (strcmp(rec->kind, "dir") == 0)
			add_record(&dirs, rec->kind, rec->path, NULL);
		else if (strcmp(rec->kind, "option") != 0)
			r = undo(&x, rec);
		if (r == 0 && !dry_run && strcmp(rec->kind, "option") != 0) {
			record_done(rec);
			memmove(rec, rec + 1, (x.m.n - i - 1) * sizeof(*rec));
			x.m.n--;
			r = manifest_save(t, &x.m, reterr);
		}
	}
	/* Then the directories, deepest first, once the manifest is gone. */
	mpath = manifest_path(t, l);
	if (r == 0 && !dry_run)
		unlink(mpath);
	free(mpath);
	if (dirs.n > 0)
		qsort(dirs.v, dirs.n, sizeof(*dirs.v), by_depth);
	for (size_t i = 0; i < dirs.n && r == 0; i++) {
		char *full = under(t, dirs.v[i].path);
		int e = dry_run || rmdir(full) == 0 ? 0 : errno;

		if (e == ENOTEMPTY || e == EEXIST)
			note(res, "kept directory '%s': it holds files install did not put there", full);
		else if (e && e != ENOENT)
			r = fail(&x, e, "remove the directory", full);
		else if (!e)
			say(res, false, "removed directory '%s'", full);
		free(full);
	}
	manifest_done(&dirs);
	manifest_done(&x.m);
	free(config);
	free(lock);
	return r;
}

bool
pt_root_is_dsm(const char *root)
{
	struct pt_install_target t = { PT_LAYOUT_DSM, root, NULL, NULL, NULL };
	char *a = under(&t, "/etc.defaults/VERSION"), *b = under(&t, "/etc/synoinfo.conf");
	bool dsm = access(a, F_OK) == 0 || access(b, F_OK) == 0;

	free(a);
	free(b);
	return dsm;
}

int
pt_systemctl(const char *const *args, char **reterr)
{
	const char *argv[8] = { "systemctl" };
	int n = 1;

	if (access("/run/systemd/system", F_OK) < 0)
		return 1;
	for (; *args && n < 7; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return pt_child_run(argv, SYSTEMCTL_TIMEOUT_MS, reterr) < 0 ? -EIO : 0;
}
