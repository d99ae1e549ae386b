/* install_plan.c: the install and uninstall planners: pure functions from (layout, manifest, observed tree) to typed file operations. */
#include "model/install_plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/xalloc.h"

#define STAGE_INFIX ".passthrough-stage-"

static const char *const kind_names[] = {
	[PT_FILEOP_MKDIR] = "mkdir", [PT_FILEOP_BACKUP] = "backup", [PT_FILEOP_RECORD] = "record",
	[PT_FILEOP_COMMIT] = "commit", [PT_FILEOP_CREATE] = "create", [PT_FILEOP_REPLACE] = "replace",
	[PT_FILEOP_MOVE] = "move", [PT_FILEOP_ENABLE_UNIT] = "enable_unit", [PT_FILEOP_BLOCK] = "block",
	[PT_FILEOP_REMOVE] = "remove", [PT_FILEOP_RMDIR] = "rmdir", [PT_FILEOP_RESTORE] = "restore",
	[PT_FILEOP_SYMLINK] = "symlink", [PT_FILEOP_UNBLOCK] = "unblock", [PT_FILEOP_SETTIME] = "settime",
	[PT_FILEOP_CLEAN] = "clean",
};

const char *
pt_fileop_kind_name(enum pt_fileop_kind k)
{
	return kind_names[k];
}

bool
pt_fileop_bookkeeping(enum pt_fileop_kind k)
{
	return k == PT_FILEOP_BACKUP || k == PT_FILEOP_RECORD || k == PT_FILEOP_COMMIT || k == PT_FILEOP_SETTIME ||
	       k == PT_FILEOP_CLEAN;
}

/* ---- wants and the tree ---- */

void
pt_wants_done(struct pt_wants *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].path);
	free(w->v);
	memset(w, 0, sizeof(*w));
}

void
pt_wants_add(struct pt_wants *w, const char *path, unsigned flags)
{
	for (size_t i = 0; i < w->n; i++) {
		if (strcmp(w->v[i].path, path) == 0) {
			w->v[i].flags |= flags;
			return;
		}
	}
	xgrow(&w->v, &w->cap, w->n + 1, sizeof(*w->v));
	w->v[w->n].path = xstrdup(path);
	w->v[w->n++].flags = flags;
}

void
pt_ftree_done(struct pt_ftree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct pt_fnode *n = &t->v[i];

		free(n->path);
		free(n->real);
		free(n->escape);
		free(n->data);
		free(n->link);
		for (size_t k = 0; k < n->n_names; k++)
			free(n->names[k]);
		free(n->names);
	}
	free(t->v);
	free(t->root);
	free(t->root_real);
	memset(t, 0, sizeof(*t));
}

const struct pt_fnode *
pt_ftree_get(const struct pt_ftree *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].path, path) == 0)
			return &t->v[i];
	return NULL;
}

void
pt_install_options_effective(const struct pt_install_input *in, struct pt_install_options *ret)
{
	ret->config = in->given.config ? in->given.config : pt_manifest_option(in->m, "config");
	if (!ret->config)
		ret->config = pt_layout_paths(in->layout)->config;
	ret->lock_file = in->given.lock_file ? in->given.lock_file : pt_manifest_option(in->m, "lock");
	if (!ret->lock_file)
		ret->lock_file = in->default_lock;
}

void
pt_install_wants(enum pt_layout l, const struct pt_install_options *o, const struct pt_manifest *m,
		 struct pt_wants *ret)
{
	const struct pt_layout_paths *p = pt_layout_paths(l);
	char *s;

	memset(ret, 0, sizeof(*ret));
	pt_wants_add(ret, p->bin, PT_WANT_READ);
	pt_wants_add(ret, o->config, PT_WANT_READ);
	pt_wants_add(ret, PT_HOOK_PATH, PT_WANT_READ);
	pt_wants_add(ret, PT_HOOK_CHAINED, 0);
	for (int u = 0; u < PT_N_UNITS; u++) {
		char *unit = pt_unit_path(l, (enum pt_unit_id)u), *link = pt_unit_link_path(l, (enum pt_unit_id)u);

		pt_wants_add(ret, unit, PT_WANT_READ);
		if (link)
			pt_wants_add(ret, link, 0);
		free(unit);
		free(link);
	}
	if (p->pkg_script)
		pt_wants_add(ret, p->pkg_script, PT_WANT_READ | PT_WANT_FOLLOW);
	/* the state directory and its parents are listed: stale staging directories, orphans */
	s = xstrdup(p->state_dir);
	for (;;) {
		char *parent;

		pt_wants_add(ret, s, PT_WANT_LIST | PT_WANT_FOLLOW);
		if (strcmp(s, "/") == 0)
			break;
		parent = pt_path_parent(s);
		free(s);
		s = parent;
	}
	free(s);
	s = xasprintf("%s/%s", p->state_dir, PT_PKG_ORIG_NAME);
	pt_wants_add(ret, s, PT_WANT_READ);
	free(s);
	for (size_t i = 0; i < m->n; i++) {
		const struct pt_mrec *r = &m->v[i];

		if (r->kind == PT_MREC_OPTION)
			continue;
		pt_wants_add(ret, r->path, r->kind == PT_MREC_EDITED ? PT_WANT_READ | PT_WANT_FOLLOW : PT_WANT_READ);
		if (r->kind == PT_MREC_REPLACED || r->kind == PT_MREC_MOVED || r->kind == PT_MREC_EDITED)
			pt_wants_add(ret, r->arg, PT_WANT_READ);
	}
}

/* ---- plan helpers ---- */

void
pt_install_plan_done(struct pt_install_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct pt_fileop *op = &p->ops[i];

		free(op->path);
		free(op->real);
		free(op->target);
		free(op->backup);
		free(op->backup_real);
		free(op->content);
		free(op->reason);
	}
	for (size_t i = 0; i < p->n_notes; i++)
		free(p->notes[i]);
	free(p->ops);
	free(p->notes);
	free(p->root);
	free(p->root_real);
	memset(p, 0, sizeof(*p));
}

void
pt_install_plan_note(struct pt_install_plan *p, const char *fmt, ...)
{
	va_list ap;

	xgrow(&p->notes, &p->cap_notes, p->n_notes + 1, sizeof(*p->notes));
	va_start(ap, fmt);
	p->notes[p->n_notes++] = xvasprintf(fmt, ap);
	va_end(ap);
}

size_t
pt_install_plan_changes(const struct pt_install_plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += !pt_fileop_bookkeeping(p->ops[i].kind);
	return n;
}

struct oplist {
	struct pt_fileop *v;
	size_t n, cap;
};

struct strset {
	char **v;
	size_t n, cap;
};

static bool
set_has(const struct strset *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], x) == 0)
			return true;
	return false;
}

static void
set_add(struct strset *s, const char *x)
{
	if (set_has(s, x))
		return;
	xgrow(&s->v, &s->cap, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = xstrdup(x);
}

static void
set_done(struct strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* What a planner run carries. */
struct planner {
	const struct pt_install_input *in;
	const struct pt_layout_paths *p;
	struct pt_install_options o;       /* effective */
	const char *rp;                    /* the root for messages: "" for "/" */
	struct pt_install_plan *plan;
	struct pt_manifest m;              /* the manifest as it will be */
	bool m_changed;
	struct oplist chain, backups, effects, tail;
	struct strset made;                /* real directories this plan creates */
	struct strset touched;             /* real directories whose entries it changes */
	struct strset gone;                /* real paths it removes or moves away */
	struct strset written;             /* real paths it writes (their temporaries are reused) */
	/* first install: the state directory is built under a staging name, then renamed */
	char *stage_top;                   /* the first missing directory of the state path (real) */
	char *stage_top_path;              /* the same as named */
	char *stage_real;                  /* its staging name (real) */
	char *stage_parent;                /* the directory that gets it (real) */
	long long stage_mtime_s;           /* that directory's mtime before install */
	long stage_mtime_ns;
	bool in_chain;                     /* ensure_dir adds to chain, not effects */
	char **reterr;
};

static const struct pt_fnode missing_node = { .err = -EFAULT };

/* The node of path: the observer looked at every path pt_install_wants() names and their directories. */
static const struct pt_fnode *
node(const struct planner *x, const char *path)
{
	const struct pt_fnode *n = pt_ftree_get(x->in->tree, path);

	return n ? n : &missing_node;
}

/* The node whose real location is real (an existing directory), or NULL. */
static const struct pt_fnode *
node_by_real(const struct planner *x, const char *real)
{
	const struct pt_ftree *t = x->in->tree;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].real && t->v[i].exists && strcmp(t->v[i].real, real) == 0)
			return &t->v[i];
	return NULL;
}

static int __attribute__((format(printf, 3, 4)))
fail(struct planner *x, int e, const char *fmt, ...)
{
	va_list ap;

	if (!*x->reterr) {
		va_start(ap, fmt);
		*x->reterr = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -e;
}

/* Refuses a path that does not resolve inside the root. */
static int
refuse(struct planner *x, const struct pt_fnode *n)
{
	if (n->err == -EXDEV)
		return fail(x, EXDEV, "refusing '%s%s': it leads to '%s', outside the root '%s'", x->rp, n->path,
			    n->escape ? n->escape : "?", x->in->tree->root);
	return fail(x, -n->err, "cannot resolve '%s%s': %s", x->rp, n->path ? n->path : "?", strerror(-n->err));
}

/* The real location inside the staging directory when real is in the state path being built. */
static char *
staged(const struct planner *x, const char *real)
{
	if (x->stage_top && pt_path_is_under(real, x->stage_top))
		return xasprintf("%s%s", x->stage_real, real + strlen(x->stage_top));
	return xstrdup(real);
}

static struct pt_fileop *
push(struct oplist *l, enum pt_fileop_kind kind, const char *path, const char *real, const char *reason)
{
	struct pt_fileop *op;

	xgrow(&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	op = &l->v[l->n++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->path = xstrdup(path);
	op->real = real ? xstrdup(real) : xstrdup(path);
	op->reason = xstrdup(reason);
	return op;
}

static void
set_content(struct pt_fileop *op, const char *data, size_t len)
{
	op->content = xmalloc(len + 1);
	memcpy(op->content, data, len);
	op->content[len] = '\0';
	op->len = len;
}

static void
record(struct planner *x, enum pt_mrec_kind kind, const char *path, const char *arg)
{
	size_t before = x->m.n;

	pt_manifest_add(&x->m, kind, path, arg);
	x->m_changed |= x->m.n != before;
}

static void
touch(struct planner *x, const char *real)
{
	char *dir = pt_path_parent(real);

	set_add(&x->touched, dir);
	free(dir);
}

static bool
is_unit_path(const struct planner *x, const char *path)
{
	bool yes = false;

	for (int u = 0; u < PT_N_UNITS && !yes; u++) {
		char *unit = pt_unit_path(x->in->layout, (enum pt_unit_id)u);
		char *link = pt_unit_link_path(x->in->layout, (enum pt_unit_id)u);

		yes = strcmp(unit, path) == 0 || (link && strcmp(link, path) == 0);
		free(unit);
		free(link);
	}
	return yes;
}

/* Whether n is there once the operations so far have run. */
static bool
present(const struct planner *x, const struct pt_fnode *n)
{
	return n->exists && !set_has(&x->gone, n->real);
}

/* ---- install ---- */

/* mkdir -p, recording each directory it creates. */
static int
ensure_dir(struct planner *x, const char *dir)
{
	const struct pt_fnode *n = node(x, dir);
	struct pt_fileop *op;
	char *parent, *real;
	int r = 0;

	if (n->err)
		return refuse(x, n);
	if (set_has(&x->made, n->real))
		return 0;
	if (present(x, n)) {
		if (!S_ISDIR(n->mode))
			return fail(x, ENOTDIR, "cannot create a directory at '%s%s': %s", x->rp, dir, strerror(ENOTDIR));
		return 0;
	}
	parent = pt_path_parent(dir);
	if (strcmp(dir, "/") != 0)
		r = ensure_dir(x, parent);
	free(parent);
	if (r < 0)
		return r;
	real = x->in_chain ? staged(x, n->real) : xstrdup(n->real);
	op = push(x->in_chain ? &x->chain : &x->effects, PT_FILEOP_MKDIR, dir, real, "missing");
	op->mode = 0755;
	free(real);
	record(x, PT_MREC_DIR, dir, NULL);
	set_add(&x->made, n->real);
	touch(x, n->real);
	return 0;
}

static int
ensure_parent(struct planner *x, const char *path)
{
	char *d = pt_path_parent(path);
	int r = ensure_dir(x, d);

	free(d);
	return r;
}

/* The first backup name no record uses (one a killed run left unrecorded is reused). */
static char *
next_backup(const struct planner *x)
{
	for (unsigned i = 0;; i++) {
		char *b = xasprintf("%s/" PT_BACKUP_PREFIX "%u", x->p->state_dir, i);

		if (!pt_manifest_uses_backup(&x->m, b))
			return b;
		free(b);
	}
}

/* A backup's real location; while it is written, inside the staging directory on a first install. */
static char *
backup_real(const struct planner *x, const char *backup, bool writing)
{
	const struct pt_fnode *s = node(x, x->p->state_dir);
	char *real = xasprintf("%s/%s", s->real, strrchr(backup, '/') + 1);
	char *st = writing ? staged(x, real) : xstrdup(real);

	free(real);
	return st;
}

static void
add_backup(struct planner *x, const struct pt_fnode *n, const char *backup)
{
	struct pt_fileop *op = push(&x->backups, PT_FILEOP_BACKUP, n->path, n->real, "kept for uninstall");

	op->backup = xstrdup(backup);
	op->backup_real = backup_real(x, backup, true);
	set_add(&x->written, op->backup_real);
}

/*
 * Makes path hold exactly data with mode. A file install did not write is kept in a backup
 * first, so that uninstall can put it back. kind: PT_MREC_FILE, or PT_MREC_CONFIG (written
 * only when missing). treat_missing: an earlier operation moves it away.
 */
static int
ensure_file(struct planner *x, enum pt_mrec_kind kind, const char *path, const char *data, size_t len,
	    unsigned mode, bool unit, bool treat_missing)
{
	const struct pt_fnode *n = node(x, path);
	bool exists = present(x, n) && !treat_missing;
	struct pt_fileop *op;
	int r;

	if (n->err)
		return refuse(x, n);
	r = ensure_parent(x, path);
	if (r < 0)
		return r;
	if (exists && !S_ISREG(n->mode)) /* a link, a directory: move it away */
		return fail(x, EEXIST, "cannot write a file over what is at '%s%s': %s", x->rp, path, strerror(EEXIST));
	if (exists) {
		bool same;

		if (!n->data)
			return fail(x, -n->read_err, "cannot read '%s%s': %s", x->rp, path, strerror(-n->read_err));
		same = n->len == len && memcmp(n->data, data, len) == 0 && (n->mode & 07777) == mode;
		if (same || kind == PT_MREC_CONFIG)
			return 0;
		if (!pt_manifest_find(&x->m, path)) {
			/* somebody else's file: a copy for uninstall, durable before the manifest names it */
			char *b = next_backup(x);

			add_backup(x, n, b);
			record(x, PT_MREC_REPLACED, path, b);
			op = push(&x->effects, PT_FILEOP_REPLACE, path, n->real, "somebody else's file: kept for uninstall");
			op->backup = b;
			op->backup_real = backup_real(x, b, false);
		} else {
			op = push(&x->effects, PT_FILEOP_REPLACE, path, n->real, "it differs from what install writes");
		}
	} else {
		record(x, kind, path, NULL);
		op = push(&x->effects, PT_FILEOP_CREATE, path, n->real, "missing");
	}
	set_content(op, data, len);
	op->mode = mode;
	op->unit = unit;
	set_add(&x->written, n->real);
	touch(x, n->real);
	return 0;
}

/* A unit's .wants link (the unit is enabled). */
static int
ensure_link(struct planner *x, const char *path, const char *target)
{
	const struct pt_fnode *n = node(x, path);
	struct pt_fileop *op;
	int r;

	if (n->err)
		return refuse(x, n);
	r = ensure_parent(x, path);
	if (r < 0)
		return r;
	if (!present(x, n)) {
		record(x, PT_MREC_FILE, path, NULL);
	} else if (!S_ISLNK(n->mode)) {
		return fail(x, EEXIST, "cannot make a link at '%s%s': %s", x->rp, path, strerror(EEXIST));
	} else if (strcmp(n->link, target) == 0) {
		return 0;
	} else if (!pt_manifest_find(&x->m, path)) {
		char *t = pt_mtime_format(n->mtime_s, n->mtime_ns);

		record(x, PT_MREC_LINK, path, n->link);
		record(x, PT_MREC_MTIME, path, t);
		free(t);
	}
	op = push(&x->effects, PT_FILEOP_ENABLE_UNIT, path, n->real, "enables the unit");
	op->target = xstrdup(target);
	op->unit = true;
	set_add(&x->written, n->real);
	touch(x, n->real);
	return 0;
}

static bool
is_our_hook(const struct pt_fnode *n)
{
	return n->exists && S_ISREG(n->mode) && n->data && pt_text_is_hook(n->data);
}

/* The hook, chained to one that was there before and is not ours. */
static int
ensure_hook(struct planner *x)
{
	const struct pt_fnode *hook = node(x, PT_HOOK_PATH), *chained = node(x, PT_HOOK_CHAINED);
	size_t before = x->effects.n;
	bool moved = false;
	char *text;
	int r;

	if (hook->err || chained->err)
		return refuse(x, hook->err ? hook : chained);
	if (hook->exists && !is_our_hook(hook)) {
		struct pt_fileop *op;

		if (!S_ISREG(hook->mode) && !S_ISLNK(hook->mode))
			return fail(x, EEXIST, "cannot write a file over what is at '%s%s': %s", x->rp, PT_HOOK_PATH,
				    strerror(EEXIST));
		record(x, PT_MREC_MOVED, PT_HOOK_PATH, PT_HOOK_CHAINED);
		op = push(&x->effects, PT_FILEOP_MOVE, PT_HOOK_PATH, hook->real, "it still runs, after passthrough's hook");
		op->target = xstrdup(chained->real);
		touch(x, hook->real);
		moved = true;
	}
	text = pt_hook_text(x->in->layout, &x->o);
	r = ensure_file(x, PT_MREC_FILE, PT_HOOK_PATH, text, strlen(text), 0755, false, moved);
	free(text);
	if (r == 0 && x->effects.n > before && x->in->live)
		pt_install_plan_note(x->plan, "libvirtd looks for hooks when it starts: restart it to use the new one "
				     "(running VMs keep running)");
	return r;
}

/* DSM: our block in VMM's package script, which runs before libvirtd at every start. */
static int
ensure_dsm_wiring(struct planner *x)
{
	const struct pt_fnode *n = node(x, x->p->pkg_script);
	char *block = pt_dsm_block(x->in->layout, &x->o), *want;
	struct pt_fileop *op;
	int r = 0;

	if (!S_ISREG(n->mode)) {
		free(block);
		return fail(x, EINVAL, "cannot edit '%s%s': it is not a regular file", x->rp, n->path);
	}
	if (!n->data) {
		free(block);
		return fail(x, -n->read_err, "cannot read '%s%s': %s", x->rp, n->path, strerror(-n->read_err));
	}
	want = pt_text_with_block(n->data, block);
	if (strcmp(want, n->data) != 0) {
		if (!pt_text_has_block(n->data)) {
			/* the original, for a byte-for-byte uninstall (again after an update replaced it) */
			char *b = xasprintf("%s/%s", x->p->state_dir, PT_PKG_ORIG_NAME);

			add_backup(x, n, b);
			record(x, PT_MREC_EDITED, n->path, b);
			op = push(&x->effects, PT_FILEOP_BLOCK, n->path, n->real,
				  "each libvirtd start now re-creates the hook and binds the devices");
			op->backup = b;
			op->backup_real = backup_real(x, b, false);
		} else {
			op = push(&x->effects, PT_FILEOP_BLOCK, n->path, n->real, "passthrough's lines differ");
		}
		set_content(op, want, strlen(want));
		set_add(&x->written, n->real);
		touch(x, n->real);
	}
	free(want);
	free(block);
	return r;
}

/* What must hold before anything is planned. */
static int
check_preconditions(struct planner *x)
{
	const struct pt_fnode *hook = node(x, PT_HOOK_PATH), *chained = node(x, PT_HOOK_CHAINED);

	if (x->in->other_installed >= 0 && x->in->other_installed != (int)x->in->layout)
		return fail(x, EEXIST, "the %s layout is installed here; run 'passthrough uninstall' first",
			    pt_layout_paths((enum pt_layout)x->in->other_installed)->name);
	if (x->p->pkg_script) {
		const struct pt_fnode *pkg = node(x, x->p->pkg_script);

		if (pkg->err && pkg->err != -ENOENT)
			return refuse(x, pkg);
		if (pkg->err || !pkg->exists)
			return fail(x, ENOENT, "cannot find '%s%s' (%s): is Virtual Machine Manager installed?", x->rp,
				    x->p->pkg_script, strerror(ENOENT));
	}
	if (!hook->err && !chained->err && hook->exists && !is_our_hook(hook) && chained->exists)
		return fail(x, EEXIST, "cannot chain to '%s%s': '%s%s' is there already; move one of them away", x->rp,
			    PT_HOOK_PATH, x->rp, PT_HOOK_CHAINED);
	return 0;
}

/* "var.passthrough-stage-1700000000.123456789" in dir for the directory name: its time, or false. */
static bool
find_stage(const struct pt_fnode *dir, const char *name, char **ret_entry, long long *ret_s, long *ret_ns)
{
	size_t n = strlen(name), k = strlen(STAGE_INFIX);

	for (size_t i = 0; i < dir->n_names; i++) {
		const char *e = dir->names[i];

		if (strncmp(e, name, n) == 0 && strncmp(e + n, STAGE_INFIX, k) == 0 &&
		    pt_mtime_parse(e + n + k, ret_s, ret_ns)) {
			*ret_entry = xstrdup(e);
			return true;
		}
	}
	return false;
}

/*
 * When the state directory is missing, it is built (with its missing parents, the backups and
 * the manifest) under a staging name next to its first missing directory, then renamed into
 * place. The staging name carries the mtime of the directory that gets it, so that the one
 * system call that changes that directory also records how it was; a run killed before the
 * rename leaves the staging directory, which the next run finishes.
 */
static int
plan_stage(struct planner *x)
{
	const struct pt_fnode *s = node(x, x->p->state_dir), *a;
	char *top, *entry = NULL;
	const char *name;

	if (s->err)
		return refuse(x, s);
	if (s->exists)
		return 0;
	top = xstrdup(x->p->state_dir);
	for (;;) {
		char *parent = pt_path_parent(top);

		a = node(x, parent);
		if (a->err || a->exists || strcmp(parent, "/") == 0) {
			free(parent);
			break;
		}
		free(top);
		top = parent;
	}
	if (a->err) {
		free(top);
		return refuse(x, a);
	}
	if (!S_ISDIR(a->mode)) {
		free(top);
		return fail(x, ENOTDIR, "cannot create a directory in '%s%s': %s", x->rp, a->path, strerror(ENOTDIR));
	}
	x->stage_top = xstrdup(node(x, top)->real);
	x->stage_top_path = xstrdup(top);
	name = strrchr(x->stage_top, '/') + 1;
	if (!find_stage(a, name, &entry, &x->stage_mtime_s, &x->stage_mtime_ns)) {
		char *t = pt_mtime_format(a->mtime_s, a->mtime_ns);

		entry = xasprintf("%s" STAGE_INFIX "%s", name, t);
		x->stage_mtime_s = a->mtime_s;
		x->stage_mtime_ns = a->mtime_ns;
		free(t);
	}
	x->stage_parent = xstrdup(a->real);
	x->stage_real = xasprintf("%s/%s", strcmp(a->real, "/") == 0 ? "" : a->real, entry);
	free(entry);
	free(top);
	return 0;
}

/* An mtime record for each directory the plan changes that install did not create. */
static void
record_mtimes(struct planner *x)
{
	for (size_t i = 0; i < x->touched.n; i++) {
		const char *d = x->touched.v[i];
		const struct pt_fnode *n;
		bool ours = set_has(&x->made, d) || pt_manifest_has(&x->m, PT_MREC_MTIME, d);
		char *t;

		for (size_t k = 0; k < x->m.n && !ours; k++) {
			const char *real = node(x, x->m.v[k].path)->real;

			ours = x->m.v[k].kind == PT_MREC_DIR && real && strcmp(real, d) == 0;
		}
		if (ours)
			continue;
		if (x->stage_parent && strcmp(d, x->stage_parent) == 0) {
			t = pt_mtime_format(x->stage_mtime_s, x->stage_mtime_ns);
		} else {
			n = node_by_real(x, d);
			if (!n)
				continue;
			t = pt_mtime_format(n->mtime_s, n->mtime_ns);
		}
		record(x, PT_MREC_MTIME, d, t);
		free(t);
	}
}

/* Temporaries a killed run left next to the paths looked at and in the state directory, unless
 * an operation writes them again (it reuses them). */
static void
plan_cleanup(struct planner *x, struct oplist *to)
{
	const struct pt_ftree *t = x->in->tree;
	const struct pt_fnode *s = node(x, x->p->state_dir);
	struct strset cleaned = { 0 };

	for (size_t i = 0; i < t->n; i++) {
		const struct pt_fnode *n = &t->v[i];

		if (n->tmp && n->real && !set_has(&x->written, n->real)) {
			char *p = xasprintf("%s" PT_TMP_SUFFIX, n->path), *r = xasprintf("%s" PT_TMP_SUFFIX, n->real);

			if (!set_has(&cleaned, r)) {
				push(to, PT_FILEOP_CLEAN, p, r, "left by a run that was stopped");
				set_add(&cleaned, r);
				touch(x, r);
			}
			free(p);
			free(r);
		}
	}
	for (size_t i = 0; s->exists && s->real && i < s->n_names; i++) {
		const char *e = s->names[i];
		size_t len = strlen(e), k = strlen(PT_TMP_SUFFIX);
		char *p, *r, *base;

		if (len <= k || strcmp(e + len - k, PT_TMP_SUFFIX) != 0)
			continue;
		p = xasprintf("%s/%s", x->p->state_dir, e);
		r = xasprintf("%s/%s", s->real, e);
		base = xstrndup(r, strlen(r) - k);
		if (!set_has(&x->written, base) && !set_has(&cleaned, r)) {
			push(to, PT_FILEOP_CLEAN, p, r, "left by a run that was stopped");
			set_add(&cleaned, r);
		}
		free(base);
		free(p);
		free(r);
	}
	set_done(&cleaned);
}

static void
move_ops(struct pt_install_plan *plan, struct oplist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		xgrow(&plan->ops, &plan->cap, plan->n + 1, sizeof(*plan->ops));
		plan->ops[plan->n++] = l->v[i];
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void
free_ops(struct oplist *l)
{
	struct pt_install_plan tmp = { 0 };

	move_ops(&tmp, l);
	pt_install_plan_done(&tmp);
}

static void
planner_init(struct planner *x, const struct pt_install_input *in, struct pt_install_plan *ret, char **reterr)
{
	memset(x, 0, sizeof(*x));
	memset(ret, 0, sizeof(*ret));
	x->in = in;
	x->p = pt_layout_paths(in->layout);
	pt_install_options_effective(in, &x->o);
	x->rp = strcmp(in->tree->root, "/") == 0 ? "" : in->tree->root;
	x->plan = ret;
	x->reterr = reterr;
	*reterr = NULL;
	ret->layout = in->layout;
	ret->root = xstrdup(in->tree->root);
	ret->root_real = xstrdup(in->tree->root_real);
	pt_manifest_copy_without(in->m, (size_t)-1, &x->m);
	x->m.layout = in->layout;
}

static void
planner_done(struct planner *x)
{
	free_ops(&x->chain);
	free_ops(&x->backups);
	free_ops(&x->effects);
	free_ops(&x->tail);
	set_done(&x->made);
	set_done(&x->touched);
	set_done(&x->gone);
	set_done(&x->written);
	pt_manifest_done(&x->m);
	free(x->stage_top);
	free(x->stage_top_path);
	free(x->stage_real);
	free(x->stage_parent);
}

/* The manifest write: at its place, or inside the staging directory. */
static void
push_record(struct planner *x, struct oplist *l, const struct pt_manifest *m, const char *reason)
{
	const struct pt_fnode *s = node(x, x->p->state_dir);
	char *path = xasprintf("%s/" PT_MANIFEST_NAME, x->p->state_dir);
	char *real = xasprintf("%s/" PT_MANIFEST_NAME, s->real), *st = staged(x, real);
	char *text = pt_manifest_format(m);
	struct pt_fileop *op = push(l, PT_FILEOP_RECORD, path, st, reason);

	op->content = text;
	op->len = strlen(text);
	op->mode = 0600;
	set_add(&x->written, st);
	free(path);
	free(real);
	free(st);
}

/* Whether path is p or, as named or as resolved, one of its directories. */
static bool
names_dir_of(const struct planner *x, const char *p, const char *path)
{
	const struct pt_fnode *n = node(x, p);
	char *d = n->real ? pt_path_parent(n->real) : NULL;
	bool yes = d && strcmp(d, path) == 0;

	free(d);
	d = xstrdup(p);
	while (!yes && strcmp(d, "/") != 0) {
		char *parent = pt_path_parent(d);

		free(d);
		d = parent;
		n = node(x, d);
		yes = strcmp(d, path) == 0 || (n->real && strcmp(n->real, path) == 0);
	}
	free(d);
	return yes;
}

/* The directories (and links) whose mtime a record may name: those of the paths install
 * writes, as named and where they lead, and the .wants links. */
static bool
mtime_path_ok(const struct planner *x, const char *path)
{
	struct pt_manifest none = { x->in->layout, NULL, 0, 0 };
	struct pt_wants w;
	bool yes = is_unit_path(x, path);

	pt_install_wants(x->in->layout, &x->o, &none, &w);
	for (size_t i = 0; i < w.n && !yes; i++)
		yes = names_dir_of(x, w.v[i].path, path);
	for (size_t i = 0; i < x->in->m->n && !yes; i++)
		yes = x->in->m->v[i].kind == PT_MREC_CONFIG && names_dir_of(x, x->in->m->v[i].path, path);
	pt_wants_done(&w);
	return yes;
}

/* The manifest's records as the tree sees them: each mtime names a directory install changes. */
static int
check_manifest(struct planner *x)
{
	const struct pt_manifest *m = x->in->m;

	for (size_t i = 0; i < m->n; i++) {
		const struct pt_fnode *n;

		if (m->v[i].kind == PT_MREC_OPTION)
			continue;
		n = node(x, m->v[i].path);
		if (n->err == -EXDEV)
			return refuse(x, n);
		if (m->v[i].kind == PT_MREC_MTIME && !mtime_path_ok(x, m->v[i].path))
			return fail(x, EINVAL, "%s%s/" PT_MANIFEST_NAME ":%u: not a line passthrough install wrote "
				    "('%s' is not a directory install changes); remove what it lists by hand",
				    x->rp, x->p->state_dir, m->v[i].line, m->v[i].path);
	}
	return 0;
}

int
pt_install_plan_compute(const struct pt_install_input *in, struct pt_install_plan *ret, char **reterr)
{
	struct planner x;
	const struct pt_fnode *cfg;
	int r;

	planner_init(&x, in, ret, reterr);
	r = check_preconditions(&x);
	if (r == 0)
		r = check_manifest(&x);
	if (r == 0)
		r = plan_stage(&x);
	if (r == 0) {
		x.in_chain = true;
		r = ensure_dir(&x, x.p->state_dir);
		x.in_chain = false;
	}
	if (r == 0) {
		x.m_changed |= pt_manifest_set_option(&x.m, "config", x.o.config);
		x.m_changed |= pt_manifest_set_option(&x.m, "lock", x.o.lock_file);
		x.m_changed |= !in->have_manifest;
	}
	if (r == 0 && in->self && !in->self_is_bin)
		r = ensure_file(&x, PT_MREC_FILE, x.p->bin, in->self, in->self_len, 0755, false, false);
	if (r == 0) {
		cfg = node(&x, x.o.config);
		if (cfg->err) {
			r = refuse(&x, cfg);
		} else if (!cfg->exists) {
			r = ensure_file(&x, PT_MREC_CONFIG, x.o.config, pt_config_template(), strlen(pt_config_template()),
					0600, false, false);
			if (r == 0)
				pt_install_plan_note(ret, "'%s%s' declares no device yet: add yours (see passthrough.yaml(5) "
						     "and 'passthrough devices')", x.rp, x.o.config);
		} else if (S_ISDIR(cfg->mode)) {
			r = fail(&x, EISDIR, "cannot use '%s%s' as the configuration file: it is a directory", x.rp,
				 x.o.config);
		}
	}
	if (r == 0)
		r = ensure_hook(&x);
	for (int u = 0; u < PT_N_UNITS && r == 0; u++) {
		char *path = pt_unit_path(in->layout, (enum pt_unit_id)u);
		char *link = pt_unit_link_path(in->layout, (enum pt_unit_id)u);
		char *text = pt_unit_text(in->layout, (enum pt_unit_id)u, &x.o);

		r = ensure_file(&x, PT_MREC_FILE, path, text, strlen(text), 0644, true, false);
		if (r == 0 && link)
			r = ensure_link(&x, link, path);
		free(text);
		free(link);
		free(path);
	}
	if (r == 0 && x.p->pkg_script)
		r = ensure_dsm_wiring(&x);
	if (r == 0) {
		plan_cleanup(&x, &x.tail);
		record_mtimes(&x);
	}
	if (r < 0) {
		for (size_t i = 0; i < ret->n_notes; i++)
			free(ret->notes[i]);
		ret->n_notes = 0;
		planner_done(&x);
		return r;
	}
	/* first the state directory's parts, the backups and the manifest; then the changes */
	if (x.m_changed)
		push_record(&x, &x.backups, &x.m, "what install changes, for uninstall");
	if (x.stage_top) {
		struct pt_fileop *op = push(&x.backups, PT_FILEOP_COMMIT, x.stage_top_path, x.stage_real,
					    "the state directory appears whole");

		op->target = xstrdup(x.stage_top);
	}
	move_ops(ret, &x.chain);
	move_ops(ret, &x.backups);
	move_ops(ret, &x.effects);
	move_ops(ret, &x.tail);
	planner_done(&x);
	return 0;
}

/* ---- uninstall ---- */

/* Whether a file install created is still what install wrote: a link, the binary, a text with our mark. */
static bool
still_ours(const struct planner *x, const struct pt_fnode *n)
{
	if (S_ISLNK(n->mode) || (S_ISREG(n->mode) && strcmp(n->path, x->p->bin) == 0))
		return true;
	return S_ISREG(n->mode) && n->data && (pt_text_is_hook(n->data) || pt_text_is_unit(n->data));
}

static void
remove_op(struct planner *x, const struct pt_fnode *n, bool unit)
{
	struct pt_fileop *op = push(&x->effects, PT_FILEOP_REMOVE, n->path, n->real, "install wrote it");

	op->unit = unit;
	set_add(&x->gone, n->real);
	touch(x, n->real);
}

static void
clean_op(struct planner *x, const char *path, const char *real, const char *reason)
{
	if (set_has(&x->gone, real))
		return;
	push(&x->effects, PT_FILEOP_CLEAN, path, real, reason);
	set_add(&x->gone, real);
}

/* Undoes one record other than a directory, an option or an mtime. */
static void
undo(struct planner *x, const struct pt_mrec *rec)
{
	const struct pt_fnode *n = node(x, rec->path);
	const struct pt_fnode *a = node(x, rec->arg);   /* the kinds that use it have one */
	bool unit = is_unit_path(x, rec->path);
	struct pt_fileop *op;

	switch (rec->kind) {
	case PT_MREC_CONFIG:
		if (!present(x, n))
			break;
		if (S_ISREG(n->mode) && n->data && strcmp(n->data, pt_config_template()) == 0 &&
		    n->len == strlen(pt_config_template()))
			remove_op(x, n, false);
		else
			pt_install_plan_note(x->plan, "kept '%s%s': it was edited since install", x->rp, n->path);
		break;
	case PT_MREC_FILE:
		if (!present(x, n))
			break;
		if (still_ours(x, n))
			remove_op(x, n, unit);
		else
			pt_install_plan_note(x->plan, "kept '%s%s': it is not what install wrote any more", x->rp, n->path);
		break;
	case PT_MREC_LINK:
		op = push(&x->effects, PT_FILEOP_SYMLINK, n->path, n->real, "it was there before install");
		op->target = xstrdup(rec->arg);
		op->unit = unit;
		touch(x, n->real);
		break;
	case PT_MREC_REPLACED:
	case PT_MREC_MOVED: {
		bool moved = rec->kind == PT_MREC_MOVED;

		if (!a->exists || set_has(&x->gone, a->real)) {
			/* a move a killed install never made: the earlier hook is still in its place */
			if (!(moved && present(x, n) && !is_our_hook(n)))
				pt_install_plan_note(x->plan, "cannot put back '%s%s': '%s%s' is gone", x->rp, n->path, x->rp,
						     a->path);
			break;
		}
		if (moved && present(x, n)) {
			pt_install_plan_note(x->plan, "cannot put back '%s%s': something else is in its place", x->rp,
					     n->path);
			break;
		}
		op = push(&x->effects, PT_FILEOP_RESTORE, n->path, n->real, moved ? "it was moved aside by install"
					: "install replaced it");
		op->target = xstrdup(a->real);
		op->backup = xstrdup(a->path);
		op->backup_real = xstrdup(a->real);
		op->by_rename = moved;
		op->unit = unit;
		set_add(&x->gone, a->real);
		touch(x, n->real);
		touch(x, a->real);
		break;
	}
	case PT_MREC_EDITED: {
		char *block, *edited, *want = NULL;

		if (!present(x, n) || !n->data) {
			pt_install_plan_note(x->plan, "'%s%s' is gone: nothing to take out of it", x->rp, n->path);
		} else {
			block = pt_dsm_block(x->in->layout, &x->o);
			edited = a->exists && a->data ? pt_text_with_block(a->data, block) : NULL;
			if (edited && strcmp(edited, n->data) == 0) {
				/* untouched since: the original, byte for byte */
				op = push(&x->effects, PT_FILEOP_UNBLOCK, n->path, n->real, "untouched since install");
				op->backup = xstrdup(a->path);
				op->backup_real = xstrdup(a->real);
				touch(x, n->real);
			} else if ((want = pt_text_without_block(n->data))) {
				op = push(&x->effects, PT_FILEOP_UNBLOCK, n->path, n->real, "changed since install");
				set_content(op, want, strlen(want));
				touch(x, n->real);
			} else {
				pt_install_plan_note(x->plan, "'%s%s' has no passthrough lines any more (an update replaced it?)",
						     x->rp, n->path);
			}
			free(want);
			free(edited);
			free(block);
		}
		if (a->exists)
			clean_op(x, a->path, a->real, "the original, no longer needed");
		break;
	}
	case PT_MREC_DIR:
	case PT_MREC_OPTION:
	case PT_MREC_MTIME:
		break;
	}
}

/* Deepest first. */
static int
by_depth(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	return lx < ly ? 1 : lx > ly ? -1 : strcmp(x, y);
}

/* Whether path (real) is the state directory or one of its parents. */
static bool
holds_state(const struct planner *x, const char *real)
{
	const struct pt_fnode *s = node(x, x->p->state_dir);

	return s->real && pt_path_is_under(s->real, real);
}

/* RMDIR for the dir records that are (state) or are not (!state) the state directory's. */
static void
plan_rmdirs(struct planner *x, bool state)
{
	struct strset dirs = { 0 };

	for (size_t i = 0; i < x->in->m->n; i++) {
		const struct pt_mrec *rec = &x->in->m->v[i];
		const struct pt_fnode *n = node(x, rec->path);

		if (rec->kind == PT_MREC_DIR && n->real && holds_state(x, n->real) == state && present(x, n) &&
		    S_ISDIR(n->mode))
			set_add(&dirs, rec->path);
	}
	if (dirs.n)
		qsort(dirs.v, dirs.n, sizeof(*dirs.v), by_depth);
	for (size_t i = 0; i < dirs.n; i++) {
		const struct pt_fnode *n = node(x, dirs.v[i]);

		push(&x->effects, PT_FILEOP_RMDIR, n->path, n->real, "install created it");
		set_add(&x->gone, n->real);
	}
	set_done(&dirs);
}

/* SETTIME for the mtime records of directories that are (state) or are not (!state) the state directory's. */
static void
plan_settimes(struct planner *x, bool state)
{
	for (size_t i = 0; i < x->in->m->n; i++) {
		const struct pt_mrec *rec = &x->in->m->v[i];
		const struct pt_fnode *n = node(x, rec->path);
		struct pt_fileop *op;

		if (rec->kind != PT_MREC_MTIME || !n->real || holds_state(x, n->real) != state || !present(x, n))
			continue;
		op = push(&x->effects, PT_FILEOP_SETTIME, n->path, n->real, "as it was before install");
		if (!pt_mtime_parse(rec->arg, &op->mtime_s, &op->mtime_ns))
			op->mtime_s = n->mtime_s, op->mtime_ns = n->mtime_ns;
	}
}

/* Files of passthrough's own in the state directory no record needs any more: backups and
 * originals a killed install left unrecorded, temporaries. */
static void
plan_orphans(struct planner *x)
{
	const struct pt_fnode *s = node(x, x->p->state_dir);

	for (size_t i = 0; s->exists && s->real && i < s->n_names; i++) {
		const char *e = s->names[i];
		size_t len = strlen(e), k = strlen(PT_TMP_SUFFIX);
		bool ours = (len > k && strcmp(e + len - k, PT_TMP_SUFFIX) == 0) || strcmp(e, PT_PKG_ORIG_NAME) == 0 ||
			    strncmp(e, PT_BACKUP_PREFIX, strlen(PT_BACKUP_PREFIX)) == 0;
		char *p, *r;

		if (!ours)
			continue;
		p = xasprintf("%s/%s", x->p->state_dir, e);
		r = xasprintf("%s/%s", s->real, e);
		clean_op(x, p, r, "passthrough's own, not needed any more");
		free(p);
		free(r);
	}
	for (size_t i = 0; i < x->in->tree->n; i++) {
		const struct pt_fnode *n = &x->in->tree->v[i];

		if (n->tmp && n->real && pt_manifest_find(x->in->m, n->path)) {
			char *p = xasprintf("%s" PT_TMP_SUFFIX, n->path), *r = xasprintf("%s" PT_TMP_SUFFIX, n->real);

			clean_op(x, p, r, "left by a run that was stopped");
			free(p);
			free(r);
		}
	}
}

int
pt_uninstall_plan_compute(const struct pt_install_input *in, struct pt_install_plan *ret, char **reterr)
{
	struct planner x;
	struct pt_manifest left;
	char *mpath, *mreal;
	const struct pt_fnode *s;
	int r;

	planner_init(&x, in, ret, reterr);
	ret->uninstall = true;
	r = check_manifest(&x);
	for (size_t i = 0; i < in->m->n && r == 0; i++) {
		const struct pt_fnode *n = node(&x, in->m->v[i].path);

		if (in->m->v[i].kind != PT_MREC_OPTION && n->err && n->err != -ENOENT)
			r = refuse(&x, n);
	}
	if (r < 0) {
		planner_done(&x);
		return r;
	}
	/* the files, newest first; the manifest shrinks after each, so that a rerun finds what is left */
	pt_manifest_copy_without(in->m, (size_t)-1, &left);
	for (size_t i = in->m->n; i-- > 0;) {
		const struct pt_mrec *rec = &in->m->v[i];
		size_t before = x.effects.n;

		if (rec->kind == PT_MREC_DIR || rec->kind == PT_MREC_OPTION || rec->kind == PT_MREC_MTIME)
			continue;
		undo(&x, rec);
		for (size_t k = left.n; k-- > 0;) {
			if (left.v[k].kind == rec->kind && strcmp(left.v[k].path, rec->path) == 0 &&
			    strcmp(left.v[k].arg, rec->arg) == 0) {
				struct pt_manifest less;

				pt_manifest_copy_without(&left, k, &less);
				pt_manifest_done(&left);
				left = less;
				break;
			}
		}
		if (x.effects.n > before)
			push_record(&x, &x.effects, &left, "what is left to undo");
	}
	pt_manifest_done(&left);
	plan_orphans(&x);
	/* then the directories and mtimes away from the state directory; the manifest; the rest */
	plan_rmdirs(&x, false);
	plan_settimes(&x, false);
	s = node(&x, x.p->state_dir);
	mpath = xasprintf("%s/" PT_MANIFEST_NAME, x.p->state_dir);
	mreal = xasprintf("%s/" PT_MANIFEST_NAME, s->real ? s->real : x.p->state_dir);
	clean_op(&x, mpath, mreal, "nothing is left to undo");
	free(mpath);
	free(mreal);
	plan_rmdirs(&x, true);
	plan_settimes(&x, true);
	move_ops(ret, &x.effects);
	planner_done(&x);
	return 0;
}
