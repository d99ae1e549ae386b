/* install_plan_uninstall.c: the uninstall planner: a pure function from (manifest, observed tree) to the typed file operations that undo what install recorded. */
#include "model/install_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/install_planner.h"
#include "model/xalloc.h"

/* Whether a file install created is still what install wrote: a link, the binary, a text with our mark. */
static bool
still_ours(const struct pt_ip *x, const struct pt_fnode *n)
{
	if (S_ISLNK(n->mode) || (S_ISREG(n->mode) && strcmp(n->path, x->p->bin) == 0))
		return true;
	return S_ISREG(n->mode) && n->data && (pt_text_is_hook(n->data) || pt_text_is_unit(n->data));
}

static void
remove_op(struct pt_ip *x, const struct pt_fnode *n, bool unit)
{
	struct pt_fileop *op = pt_ip_push(&x->effects, PT_FILEOP_REMOVE, n->path, n->real, "install wrote it");

	op->unit = unit;
	pt_ip_set_add(&x->gone, n->real);
	pt_ip_touch(x, n->real);
}

static void
clean_op(struct pt_ip *x, const char *path, const char *real, const char *reason)
{
	if (pt_ip_set_has(&x->gone, real))
		return;
	pt_ip_push(&x->effects, PT_FILEOP_CLEAN, path, real, reason);
	pt_ip_set_add(&x->gone, real);
}

/* A backup goes once the manifest no longer names it (x->tail follows the record's RECORD):
 * killed in between, a rerun still finds the backup its record names. */
static void
clean_backup(struct pt_ip *x, const struct pt_fnode *a)
{
	if (pt_ip_set_has(&x->gone, a->real))
		return;
	pt_ip_push(&x->tail, PT_FILEOP_CLEAN, a->path, a->real, "the backup, no longer named by the manifest");
	pt_ip_set_add(&x->gone, a->real);
}

/* A file install created (a config only while it is the template): removed while it is ours. */
static void
undo_created(struct pt_ip *x, const struct pt_mrec *rec, const struct pt_fnode *n)
{
	bool config = rec->kind == PT_MREC_CONFIG;
	bool ours = config ? S_ISREG(n->mode) && n->data && n->len == strlen(pt_config_template()) &&
				     strcmp(n->data, pt_config_template()) == 0
			   : still_ours(x, n);

	if (!pt_ip_present(x, n))
		return;
	if (ours)
		remove_op(x, n, !config && pt_ip_is_unit_path(x, rec->path));
	else if (config)
		pt_install_plan_note(x->plan, "kept '%s%s': it was edited since install", x->rp, n->path);
	else
		pt_install_plan_note(x->plan, "kept '%s%s': it is not what install wrote any more", x->rp, n->path);
}

/* A file install replaced (its backup copied back) or the hook it moved aside (renamed back). */
static void
undo_replaced(struct pt_ip *x, const struct pt_mrec *rec, const struct pt_fnode *n, const struct pt_fnode *a)
{
	bool moved = rec->kind == PT_MREC_MOVED;
	struct pt_fileop *op;

	if (!a->exists || pt_ip_set_has(&x->gone, a->real)) {
		/* a move a killed install never made: the earlier hook is still in its place */
		if (!(moved && pt_ip_present(x, n) && !pt_ip_is_our_hook(n)))
			pt_install_plan_note(x->plan, "cannot put back '%s%s': '%s%s' is gone", x->rp, n->path, x->rp,
					     a->path);
		return;
	}
	if (moved && pt_ip_present(x, n)) {
		pt_install_plan_note(x->plan, "cannot put back '%s%s': something else is in its place", x->rp, n->path);
		return;
	}
	op = pt_ip_push(&x->effects, PT_FILEOP_RESTORE, n->path, n->real,
			moved ? "it was moved aside by install" : "install replaced it");
	op->target = xstrdup(a->real);
	op->backup = xstrdup(a->path);
	op->backup_real = xstrdup(a->real);
	op->by_rename = moved;
	op->unit = pt_ip_is_unit_path(x, rec->path);
	pt_ip_touch(x, n->real);
	pt_ip_touch(x, a->real);
	if (moved)
		pt_ip_set_add(&x->gone, a->real);
	else
		clean_backup(x, a);
}

/* DSM's package script: the original back while the script is as install left it, else only our lines out. */
static void
undo_edited(struct pt_ip *x, const struct pt_fnode *n, const struct pt_fnode *a)
{
	char *block, *edited, *want = NULL;
	struct pt_fileop *op;

	if (!pt_ip_present(x, n) || !n->data) {
		pt_install_plan_note(x->plan, "'%s%s' is gone: nothing to take out of it", x->rp, n->path);
	} else {
		block = pt_dsm_block(x->in->layout, &x->o);
		edited = a->exists && a->data ? pt_text_with_block(a->data, block) : NULL;
		if (edited && strcmp(edited, n->data) == 0) {
			/* untouched since: the original, byte for byte */
			op = pt_ip_push(&x->effects, PT_FILEOP_UNBLOCK, n->path, n->real, "untouched since install");
			op->backup = xstrdup(a->path);
			op->backup_real = xstrdup(a->real);
			pt_ip_touch(x, n->real);
		} else if ((want = pt_text_without_block(n->data))) {
			op = pt_ip_push(&x->effects, PT_FILEOP_UNBLOCK, n->path, n->real, "changed since install");
			pt_ip_set_content(op, want, strlen(want));
			pt_ip_touch(x, n->real);
		} else {
			pt_install_plan_note(x->plan, "'%s%s' has no passthrough lines any more (an update replaced it?)", x->rp,
					     n->path);
		}
		free(want);
		free(edited);
		free(block);
	}
	if (a->exists)
		clean_backup(x, a);
}

static void
append_ops(struct pt_ip_ops *to, struct pt_ip_ops *from)
{
	for (size_t i = 0; i < from->n; i++) {
		xgrow(&to->v, &to->cap, to->n + 1, sizeof(*to->v));
		to->v[to->n++] = from->v[i];
	}
	from->n = 0;
}

/* Undoes one record other than a directory, an option or an mtime. */
static void
undo(struct pt_ip *x, const struct pt_mrec *rec)
{
	const struct pt_fnode *n = pt_ip_node(x, rec->path);
	const struct pt_fnode *a = pt_ip_node(x, rec->arg);   /* the kinds that use it have one */
	struct pt_fileop *op;

	switch (rec->kind) {
	case PT_MREC_CONFIG:
	case PT_MREC_FILE:
		undo_created(x, rec, n);
		break;
	case PT_MREC_LINK:
		op = pt_ip_push(&x->effects, PT_FILEOP_SYMLINK, n->path, n->real, "it was there before install");
		op->target = xstrdup(rec->arg);
		op->unit = pt_ip_is_unit_path(x, rec->path);
		pt_ip_touch(x, n->real);
		break;
	case PT_MREC_REPLACED:
	case PT_MREC_MOVED:
		undo_replaced(x, rec, n, a);
		break;
	case PT_MREC_EDITED:
		undo_edited(x, n, a);
		break;
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
holds_state(const struct pt_ip *x, const char *real)
{
	const struct pt_fnode *s = pt_ip_node(x, x->p->state_dir);

	return s->real && pt_path_is_under(s->real, real);
}

/* RMDIR for the dir records that are (state) or are not (!state) the state directory's. */
static void
plan_rmdirs(struct pt_ip *x, bool state)
{
	struct pt_ip_set dirs = { 0 };

	for (size_t i = 0; i < x->in->m->n; i++) {
		const struct pt_mrec *rec = &x->in->m->v[i];
		const struct pt_fnode *n = pt_ip_node(x, rec->path);

		if (rec->kind == PT_MREC_DIR && n->real && holds_state(x, n->real) == state && pt_ip_present(x, n) &&
		    S_ISDIR(n->mode))
			pt_ip_set_add(&dirs, rec->path);
	}
	if (dirs.n)
		qsort(dirs.v, dirs.n, sizeof(*dirs.v), by_depth);
	for (size_t i = 0; i < dirs.n; i++) {
		const struct pt_fnode *n = pt_ip_node(x, dirs.v[i]);

		pt_ip_push(&x->effects, PT_FILEOP_RMDIR, n->path, n->real, "install created it");
		pt_ip_set_add(&x->gone, n->real);
	}
	pt_ip_set_done(&dirs);
}

/* SETTIME for the mtime records of directories that are (state) or are not (!state) the state directory's. */
static void
plan_settimes(struct pt_ip *x, bool state)
{
	for (size_t i = 0; i < x->in->m->n; i++) {
		const struct pt_mrec *rec = &x->in->m->v[i];
		const struct pt_fnode *n = pt_ip_node(x, rec->path);
		struct pt_fileop *op;

		if (rec->kind != PT_MREC_MTIME || !n->real || holds_state(x, n->real) != state || !pt_ip_present(x, n))
			continue;
		op = pt_ip_push(&x->effects, PT_FILEOP_SETTIME, n->path, n->real, "as it was before install");
		if (!pt_mtime_parse(rec->arg, &op->mtime_s, &op->mtime_ns))
			op->mtime_s = n->mtime_s, op->mtime_ns = n->mtime_ns;
	}
}

/* Files of passthrough's own in the state directory no record needs any more: backups and
 * originals a killed install left unrecorded, temporaries. */
static void
plan_orphans(struct pt_ip *x)
{
	const struct pt_fnode *s = pt_ip_node(x, x->p->state_dir);

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

/* The state directory install created, deepest first, when it holds nothing but itself and what
 * the plan removes (and the manifest); false otherwise (then each is removed where it is, and
 * one with something else in it is kept). */
static bool
state_chain(const struct pt_ip *x, struct pt_ip_set *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < x->in->m->n; i++) {
		const struct pt_mrec *rec = &x->in->m->v[i];
		const struct pt_fnode *n = pt_ip_node(x, rec->path);

		if (rec->kind == PT_MREC_DIR && n->real && holds_state(x, n->real) && n->exists && S_ISDIR(n->mode))
			pt_ip_set_add(ret, n->real);
	}
	if (!ret->n || !pt_ip_set_has(ret, pt_ip_node(x, x->p->state_dir)->real))
		return false;
	qsort(ret->v, ret->n, sizeof(*ret->v), by_depth);
	for (size_t i = 0; i < ret->n; i++) {
		const struct pt_fnode *n = pt_ip_node_by_real(x, ret->v[i]);
		bool state = i == 0;

		if (!n || !(n->flags & PT_WANT_LIST))
			return false;
		for (size_t k = 0; k < n->n_names; k++) {
			char *child = xasprintf("%s/%s", strcmp(n->real, "/") == 0 ? "" : n->real, n->names[k]);
			bool ok = pt_ip_set_has(&x->gone, child) || (i > 0 && strcmp(child, ret->v[i - 1]) == 0) ||
				  (state && strcmp(n->names[k], PT_MANIFEST_NAME) == 0);

			free(child);
			if (!ok)
				return false;
		}
	}
	return true;
}

/*
 * The state directory goes whole: renamed first to an unstaging name next to it that carries
 * its parent's mtime before install, then emptied and removed, then that mtime put back. A run
 * stopped on the way leaves the unstaging directory, which the next install or uninstall
 * finishes (pt_ip_finish_unstaged()); only a stop between the last removal and the mtime loses
 * the mtime. False when the state directory holds something else (then see plan_rmdirs()).
 */
static bool
plan_unstage(struct pt_ip *x)
{
	struct pt_ip_set chain;
	const char *top;
	const struct pt_fnode *a;
	char *parent, *t, *unstage, *p;
	long long ts;
	long tns;
	struct pt_fileop *op;

	if (!state_chain(x, &chain)) {
		pt_ip_set_done(&chain);
		return false;
	}
	top = chain.v[chain.n - 1];
	parent = pt_path_parent(top);
	a = pt_ip_node_by_real(x, parent);
	ts = a ? a->mtime_s : 0;
	tns = a ? a->mtime_ns : 0;
	for (size_t i = 0; i < x->in->m->n; i++)
		if (x->in->m->v[i].kind == PT_MREC_MTIME && strcmp(x->in->m->v[i].path, parent) == 0)
			pt_mtime_parse(x->in->m->v[i].arg, &ts, &tns);
	t = pt_mtime_format(ts, tns);
	unstage = xasprintf("%s" PT_UNSTAGE_INFIX "%s", top, t);
	op = pt_ip_push(&x->effects, PT_FILEOP_UNSTAGE, top, top, "the state directory goes away whole");
	op->target = xstrdup(unstage);
	p = xasprintf("%s%s/" PT_MANIFEST_NAME, unstage, chain.v[0] + strlen(top));
	pt_ip_push(&x->effects, PT_FILEOP_CLEAN, p, p, "nothing is left to undo");
	free(p);
	for (size_t i = 0; i < chain.n; i++) {
		const struct pt_fnode *n = pt_ip_node_by_real(x, chain.v[i]);

		p = xasprintf("%s%s", unstage, chain.v[i] + strlen(top));
		pt_ip_push(&x->effects, PT_FILEOP_RMDIR, n ? n->path : chain.v[i], p, "install created it");
		free(p);
	}
	free(t);
	free(unstage);
	free(parent);
	pt_ip_set_done(&chain);
	return true;
}

int
pt_uninstall_plan_compute(const struct pt_install_input *in, struct pt_install_plan *ret, char **reterr)
{
	struct pt_ip x;
	struct pt_manifest left;
	char *mpath, *mreal;
	const struct pt_fnode *s;
	int r;

	pt_ip_init(&x, in, ret, reterr);
	ret->uninstall = true;
	pt_ip_finish_unstaged(&x, &x.effects);
	if (!in->have_manifest) {
		/* nothing installed: at most what a stopped uninstall left */
		pt_ip_move_ops(ret, &x.effects);
		pt_ip_done(&x);
		return 0;
	}
	r = pt_ip_check_manifest(&x);
	for (size_t i = 0; i < in->m->n && r == 0; i++) {
		const struct pt_fnode *n = pt_ip_node(&x, in->m->v[i].path);

		if (in->m->v[i].kind != PT_MREC_OPTION && n->err && n->err != -ENOENT)
			r = pt_ip_refuse(&x, n);
	}
	if (r < 0) {
		pt_ip_done(&x);
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
		if (x.effects.n > before || x.tail.n)
			pt_ip_push_record(&x, &x.effects, &left, "what is left to undo");
		append_ops(&x.effects, &x.tail);
	}
	pt_manifest_done(&left);
	plan_orphans(&x);
	/* then the directories and mtimes away from the state directory; the manifest; the rest */
	plan_rmdirs(&x, false);
	plan_settimes(&x, false);
	if (!plan_unstage(&x)) {
		s = pt_ip_node(&x, x.p->state_dir);
		mpath = xasprintf("%s/" PT_MANIFEST_NAME, x.p->state_dir);
		mreal = xasprintf("%s/" PT_MANIFEST_NAME, s->real ? s->real : x.p->state_dir);
		clean_op(&x, mpath, mreal, "nothing is left to undo");
		free(mpath);
		free(mreal);
		plan_rmdirs(&x, true);
	}
	plan_settimes(&x, true);
	pt_ip_move_ops(ret, &x.effects);
	pt_ip_done(&x);
	return 0;
}

