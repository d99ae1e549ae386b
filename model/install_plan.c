/* install_plan.c: the plan's data (operations, the observed tree, the paths to observe) and what the install and uninstall planners share; pure. */
#include "model/install_plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/install_planner.h"
#include "model/xalloc.h"

static const char *const kind_names[] = {
	[PT_FILEOP_MKDIR] = "mkdir", [PT_FILEOP_BACKUP] = "backup", [PT_FILEOP_RECORD] = "record",
	[PT_FILEOP_COMMIT] = "commit", [PT_FILEOP_CREATE] = "create", [PT_FILEOP_REPLACE] = "replace",
	[PT_FILEOP_MOVE] = "move", [PT_FILEOP_ENABLE_UNIT] = "enable_unit", [PT_FILEOP_BLOCK] = "block",
	[PT_FILEOP_REMOVE] = "remove", [PT_FILEOP_RMDIR] = "rmdir", [PT_FILEOP_RESTORE] = "restore",
	[PT_FILEOP_SYMLINK] = "symlink", [PT_FILEOP_UNBLOCK] = "unblock", [PT_FILEOP_SETTIME] = "settime",
	[PT_FILEOP_CLEAN] = "clean", [PT_FILEOP_UNSTAGE] = "unstage",
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
	       k == PT_FILEOP_CLEAN || k == PT_FILEOP_UNSTAGE;
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

/* ---- what the two planners share ---- */


bool
pt_ip_set_has(const struct pt_ip_set *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], x) == 0)
			return true;
	return false;
}

void
pt_ip_set_add(struct pt_ip_set *s, const char *x)
{
	if (pt_ip_set_has(s, x))
		return;
	xgrow(&s->v, &s->cap, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = xstrdup(x);
}

void
pt_ip_set_done(struct pt_ip_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static const struct pt_fnode missing_node = { .err = -EFAULT };

/* The node of path: the observer looked at every path pt_install_wants() names and their directories. */
const struct pt_fnode *
pt_ip_node(const struct pt_ip *x, const char *path)
{
	const struct pt_fnode *n = pt_ftree_get(x->in->tree, path);

	return n ? n : &missing_node;
}

/* The node whose real location is real (an existing directory), or NULL. */
const struct pt_fnode *
pt_ip_node_by_real(const struct pt_ip *x, const char *real)
{
	const struct pt_ftree *t = x->in->tree;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].real && t->v[i].exists && strcmp(t->v[i].real, real) == 0)
			return &t->v[i];
	return NULL;
}

int
pt_ip_fail(struct pt_ip *x, int e, const char *fmt, ...)
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
int
pt_ip_refuse(struct pt_ip *x, const struct pt_fnode *n)
{
	if (n->err == -EXDEV)
		return pt_ip_fail(x, EXDEV, "refusing '%s%s': it leads to '%s', outside the root '%s'", x->rp, n->path,
			    n->escape ? n->escape : "?", x->in->tree->root);
	return pt_ip_fail(x, -n->err, "cannot resolve '%s%s': %s", x->rp, n->path ? n->path : "?", strerror(-n->err));
}

/* The real location inside the staging directory when real is in the state path being built. */
char *
pt_ip_staged(const struct pt_ip *x, const char *real)
{
	if (x->stage_top && pt_path_is_under(real, x->stage_top))
		return xasprintf("%s%s", x->stage_real, real + strlen(x->stage_top));
	return xstrdup(real);
}

struct pt_fileop *
pt_ip_push(struct pt_ip_ops *l, enum pt_fileop_kind kind, const char *path, const char *real, const char *reason)
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

void
pt_ip_set_content(struct pt_fileop *op, const char *data, size_t len)
{
	op->content = xmalloc(len + 1);
	memcpy(op->content, data, len);
	op->content[len] = '\0';
	op->len = len;
}

void
pt_ip_record(struct pt_ip *x, enum pt_mrec_kind kind, const char *path, const char *arg)
{
	size_t before = x->m.n;

	pt_manifest_add(&x->m, kind, path, arg);
	x->m_changed |= x->m.n != before;
}

void
pt_ip_touch(struct pt_ip *x, const char *real)
{
	char *dir = pt_path_parent(real);

	pt_ip_set_add(&x->touched, dir);
	free(dir);
}

bool
pt_ip_is_unit_path(const struct pt_ip *x, const char *path)
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
bool
pt_ip_present(const struct pt_ip *x, const struct pt_fnode *n)
{
	return n->exists && !pt_ip_set_has(&x->gone, n->real);
}

bool
pt_ip_is_our_hook(const struct pt_fnode *n)
{
	return n->exists && S_ISREG(n->mode) && n->data && pt_text_is_hook(n->data);
}

void
pt_ip_move_ops(struct pt_install_plan *plan, struct pt_ip_ops *l)
{
	for (size_t i = 0; i < l->n; i++) {
		xgrow(&plan->ops, &plan->cap, plan->n + 1, sizeof(*plan->ops));
		plan->ops[plan->n++] = l->v[i];
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void
pt_ip_free_ops(struct pt_ip_ops *l)
{
	struct pt_install_plan tmp = { 0 };

	pt_ip_move_ops(&tmp, l);
	pt_install_plan_done(&tmp);
}

void
pt_ip_init(struct pt_ip *x, const struct pt_install_input *in, struct pt_install_plan *ret, char **reterr)
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

void
pt_ip_done(struct pt_ip *x)
{
	pt_ip_free_ops(&x->chain);
	pt_ip_free_ops(&x->backups);
	pt_ip_free_ops(&x->effects);
	pt_ip_free_ops(&x->tail);
	pt_ip_set_done(&x->made);
	pt_ip_set_done(&x->touched);
	pt_ip_set_done(&x->gone);
	pt_ip_set_done(&x->written);
	pt_manifest_done(&x->m);
	free(x->stage_top);
	free(x->unstaged_parent);
	free(x->stage_top_path);
	free(x->stage_real);
	free(x->stage_parent);
}

/* The manifest write: at its place, or inside the staging directory. */
void
pt_ip_push_record(struct pt_ip *x, struct pt_ip_ops *l, const struct pt_manifest *m, const char *reason)
{
	const struct pt_fnode *s = pt_ip_node(x, x->p->state_dir);
	char *path = xasprintf("%s/" PT_MANIFEST_NAME, x->p->state_dir);
	char *real = xasprintf("%s/" PT_MANIFEST_NAME, s->real), *st = pt_ip_staged(x, real);
	char *text = pt_manifest_format(m);
	struct pt_fileop *op = pt_ip_push(l, PT_FILEOP_RECORD, path, st, reason);

	op->content = text;
	op->len = strlen(text);
	op->mode = 0600;
	pt_ip_set_add(&x->written, st);
	free(path);
	free(real);
	free(st);
}

/* Whether path is p or, as named or as resolved, one of its directories. */
static bool
names_dir_of(const struct pt_ip *x, const char *p, const char *path)
{
	const struct pt_fnode *n = pt_ip_node(x, p);
	char *d = n->real ? pt_path_parent(n->real) : NULL;
	bool yes = d && strcmp(d, path) == 0;

	free(d);
	d = xstrdup(p);
	while (!yes && strcmp(d, "/") != 0) {
		char *parent = pt_path_parent(d);

		free(d);
		d = parent;
		n = pt_ip_node(x, d);
		yes = strcmp(d, path) == 0 || (n->real && strcmp(n->real, path) == 0);
	}
	free(d);
	return yes;
}

/* The directories (and links) whose mtime a record may name: those of the paths install
 * writes, as named and where they lead, and the .wants links. */
static bool
mtime_path_ok(const struct pt_ip *x, const char *path)
{
	struct pt_manifest none = { x->in->layout, NULL, 0, 0 };
	struct pt_wants w;
	bool yes = pt_ip_is_unit_path(x, path);

	pt_install_wants(x->in->layout, &x->o, &none, &w);
	for (size_t i = 0; i < w.n && !yes; i++)
		yes = names_dir_of(x, w.v[i].path, path);
	for (size_t i = 0; i < x->in->m->n && !yes; i++)
		yes = x->in->m->v[i].kind == PT_MREC_CONFIG && names_dir_of(x, x->in->m->v[i].path, path);
	pt_wants_done(&w);
	return yes;
}

/* The manifest's records as the tree sees them: each mtime names a directory install changes. */
int
pt_ip_check_manifest(struct pt_ip *x)
{
	const struct pt_manifest *m = x->in->m;

	for (size_t i = 0; i < m->n; i++) {
		const struct pt_fnode *n;

		if (m->v[i].kind == PT_MREC_OPTION)
			continue;
		n = pt_ip_node(x, m->v[i].path);
		if (n->err == -EXDEV)
			return pt_ip_refuse(x, n);
		if (m->v[i].kind == PT_MREC_MTIME && !mtime_path_ok(x, m->v[i].path))
			return pt_ip_fail(x, EINVAL, "%s%s/" PT_MANIFEST_NAME ":%u: not a line passthrough install wrote "
				    "('%s' is not a directory install changes); remove what it lists by hand",
				    x->rp, x->p->state_dir, m->v[i].line, m->v[i].path);
	}
	return 0;
}

/* "var.passthrough-unstage-1700000000.123456789" for the directory name, or false. */
static bool
is_unstage(const char *entry, const char *name, long long *ret_s, long *ret_ns)
{
	size_t n = strlen(name), k = strlen(PT_UNSTAGE_INFIX);

	return strncmp(entry, name, n) == 0 && strncmp(entry + n, PT_UNSTAGE_INFIX, k) == 0 &&
	       pt_mtime_parse(entry + n + k, ret_s, ret_ns);
}

void
pt_ip_finish_unstaged(struct pt_ip *x, struct pt_ip_ops *to)
{
	const char *s = x->p->state_dir;
	char *d = pt_path_parent(s);

	for (;;) {
		const struct pt_fnode *dn = pt_ip_node(x, d);
		char *top = xasprintf("%s/", strcmp(d, "/") == 0 ? "" : d);
		const char *name = s + strlen(top), *slash = strchr(name, '/');
		char *first = slash ? xstrndup(name, (size_t)(slash - name)) : xstrdup(name);

		for (size_t i = 0; dn->real && i < dn->n_names; i++) {
			long long ts;
			long tns;
			char *base, *dir, *p, *at;
			struct pt_fileop *op;

			if (!is_unstage(dn->names[i], first, &ts, &tns))
				continue;
			/* a run killed while it removed the state directory: finish it, then put back d's mtime */
			base = xasprintf("%s/%s", strcmp(dn->real, "/") == 0 ? "" : dn->real, dn->names[i]);
			dir = xasprintf("%s%s", base, s + strlen(top) + strlen(first));
			p = xasprintf("%s/" PT_MANIFEST_NAME, dir);
			pt_ip_push(to, PT_FILEOP_CLEAN, p, p, "left by an uninstall that was stopped");
			free(p);
			p = xasprintf("%s/" PT_MANIFEST_NAME PT_TMP_SUFFIX, dir);
			pt_ip_push(to, PT_FILEOP_CLEAN, p, p, "left by an uninstall that was stopped");
			free(p);
			while (strlen(dir) >= strlen(base)) {
				pt_ip_push(to, PT_FILEOP_RMDIR, dir, dir, "left by an uninstall that was stopped");
				at = strrchr(dir, '/');
				*at = '\0';
			}
			op = pt_ip_push(to, PT_FILEOP_SETTIME, dn->path, dn->real, "as it was before install");
			op->mtime_s = ts;
			op->mtime_ns = tns;
			free(x->unstaged_parent);
			x->unstaged_parent = xstrdup(dn->real);
			x->unstaged_mtime_s = ts;
			x->unstaged_mtime_ns = tns;
			free(base);
			free(dir);
		}
		free(first);
		free(top);
		if (strcmp(d, "/") == 0)
			break;
		top = pt_path_parent(d);
		free(d);
		d = top;
	}
	free(d);
}
