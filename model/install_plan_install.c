/* install_plan_install.c: the install planner: a pure function from (layout, manifest, observed tree) to the typed file operations that make the tree hold the layout. */
#include "model/install_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/install_planner.h"
#include "model/xalloc.h"

/* mkdir -p, recording each directory it creates. */
static int
ensure_dir(struct pt_ip *x, const char *dir)
{
	const struct pt_fnode *n = pt_ip_node(x, dir);
	struct pt_fileop *op;
	char *parent, *real;
	int r = 0;

	if (n->err)
		return pt_ip_refuse(x, n);
	if (pt_ip_set_has(&x->made, n->real))
		return 0;
	if (pt_ip_present(x, n)) {
		if (!S_ISDIR(n->mode))
			return pt_ip_fail(x, ENOTDIR, "cannot create a directory at '%s%s': %s", x->rp, dir, strerror(ENOTDIR));
		return 0;
	}
	parent = pt_path_parent(dir);
	if (strcmp(dir, "/") != 0)
		r = ensure_dir(x, parent);
	free(parent);
	if (r < 0)
		return r;
	real = x->in_chain ? pt_ip_staged(x, n->real) : xstrdup(n->real);
	op = pt_ip_push(x->in_chain ? &x->chain : &x->effects, PT_FILEOP_MKDIR, dir, real, "missing");
	op->mode = 0755;
	free(real);
	pt_ip_record(x, PT_MREC_DIR, dir, NULL);
	pt_ip_set_add(&x->made, n->real);
	pt_ip_touch(x, n->real);
	return 0;
}

static int
ensure_parent(struct pt_ip *x, const char *path)
{
	char *d = pt_path_parent(path);
	int r = ensure_dir(x, d);

	free(d);
	return r;
}

/* The first backup name no record uses (one a killed run left unrecorded is reused). */
static char *
next_backup(const struct pt_ip *x)
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
backup_real(const struct pt_ip *x, const char *backup, bool writing)
{
	const struct pt_fnode *s = pt_ip_node(x, x->p->state_dir);
	char *real = xasprintf("%s/%s", s->real, strrchr(backup, '/') + 1);
	char *st = writing ? pt_ip_staged(x, real) : xstrdup(real);

	free(real);
	return st;
}

static void
add_backup(struct pt_ip *x, const struct pt_fnode *n, const char *backup)
{
	struct pt_fileop *op = pt_ip_push(&x->backups, PT_FILEOP_BACKUP, n->path, n->real, "kept for uninstall");

	op->backup = xstrdup(backup);
	op->backup_real = backup_real(x, backup, true);
	pt_ip_set_add(&x->written, op->backup_real);
}

/*
 * Makes path hold exactly data with mode. A file install did not write is kept in a backup
 * first, so that uninstall can put it back. kind: PT_MREC_FILE, or PT_MREC_CONFIG (written
 * only when missing). treat_missing: an earlier operation moves it away.
 */
static int
ensure_file(struct pt_ip *x, enum pt_mrec_kind kind, const char *path, const char *data, size_t len,
	    unsigned mode, bool unit, bool treat_missing)
{
	const struct pt_fnode *n = pt_ip_node(x, path);
	bool exists = pt_ip_present(x, n) && !treat_missing;
	struct pt_fileop *op;
	int r;

	if (n->err)
		return pt_ip_refuse(x, n);
	r = ensure_parent(x, path);
	if (r < 0)
		return r;
	if (exists && !S_ISREG(n->mode)) /* a link, a directory: move it away */
		return pt_ip_fail(x, EEXIST, "cannot write a file over what is at '%s%s': %s", x->rp, path, strerror(EEXIST));
	if (exists) {
		bool same;

		if (!n->data)
			return pt_ip_fail(x, -n->read_err, "cannot read '%s%s': %s", x->rp, path, strerror(-n->read_err));
		same = n->len == len && memcmp(n->data, data, len) == 0 && (n->mode & 07777) == mode;
		if (same || kind == PT_MREC_CONFIG)
			return 0;
		if (!pt_manifest_find(&x->m, path)) {
			/* somebody else's file: a copy for uninstall, durable before the manifest names it */
			char *b = next_backup(x);

			add_backup(x, n, b);
			pt_ip_record(x, PT_MREC_REPLACED, path, b);
			op = pt_ip_push(&x->effects, PT_FILEOP_REPLACE, path, n->real, "somebody else's file: kept for uninstall");
			op->backup = b;
			op->backup_real = backup_real(x, b, false);
		} else {
			op = pt_ip_push(&x->effects, PT_FILEOP_REPLACE, path, n->real, "it differs from what install writes");
		}
	} else {
		pt_ip_record(x, kind, path, NULL);
		op = pt_ip_push(&x->effects, PT_FILEOP_CREATE, path, n->real, "missing");
	}
	pt_ip_set_content(op, data, len);
	op->mode = mode;
	op->unit = unit;
	pt_ip_set_add(&x->written, n->real);
	pt_ip_touch(x, n->real);
	return 0;
}

/* A unit's .wants link (the unit is enabled). */
static int
ensure_link(struct pt_ip *x, const char *path, const char *target)
{
	const struct pt_fnode *n = pt_ip_node(x, path);
	struct pt_fileop *op;
	int r;

	if (n->err)
		return pt_ip_refuse(x, n);
	r = ensure_parent(x, path);
	if (r < 0)
		return r;
	if (!pt_ip_present(x, n)) {
		pt_ip_record(x, PT_MREC_FILE, path, NULL);
	} else if (!S_ISLNK(n->mode)) {
		return pt_ip_fail(x, EEXIST, "cannot make a link at '%s%s': %s", x->rp, path, strerror(EEXIST));
	} else if (strcmp(n->link, target) == 0) {
		return 0;
	} else if (!pt_manifest_find(&x->m, path)) {
		char *t = pt_mtime_format(n->mtime_s, n->mtime_ns);

		pt_ip_record(x, PT_MREC_LINK, path, n->link);
		pt_ip_record(x, PT_MREC_MTIME, path, t);
		free(t);
	}
	op = pt_ip_push(&x->effects, PT_FILEOP_ENABLE_UNIT, path, n->real, "enables the unit");
	op->target = xstrdup(target);
	op->unit = true;
	pt_ip_set_add(&x->written, n->real);
	pt_ip_touch(x, n->real);
	return 0;
}

/* The hook, chained to one that was there before and is not ours. */
static int
ensure_hook(struct pt_ip *x)
{
	const struct pt_fnode *hook = pt_ip_node(x, PT_HOOK_PATH), *chained = pt_ip_node(x, PT_HOOK_CHAINED);
	size_t before = x->effects.n;
	bool moved = false;
	char *text;
	int r;

	if (hook->err || chained->err)
		return pt_ip_refuse(x, hook->err ? hook : chained);
	if (hook->exists && !pt_ip_is_our_hook(hook)) {
		struct pt_fileop *op;

		if (!S_ISREG(hook->mode) && !S_ISLNK(hook->mode))
			return pt_ip_fail(x, EEXIST, "cannot write a file over what is at '%s%s': %s", x->rp, PT_HOOK_PATH,
				    strerror(EEXIST));
		pt_ip_record(x, PT_MREC_MOVED, PT_HOOK_PATH, PT_HOOK_CHAINED);
		op = pt_ip_push(&x->effects, PT_FILEOP_MOVE, PT_HOOK_PATH, hook->real, "it still runs, after passthrough's hook");
		op->target = xstrdup(chained->real);
		pt_ip_touch(x, hook->real);
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
ensure_dsm_wiring(struct pt_ip *x)
{
	const struct pt_fnode *n = pt_ip_node(x, x->p->pkg_script);
	char *block = pt_dsm_block(x->in->layout, &x->o), *want;
	struct pt_fileop *op;
	int r = 0;

	if (!S_ISREG(n->mode)) {
		free(block);
		return pt_ip_fail(x, EINVAL, "cannot edit '%s%s': it is not a regular file", x->rp, n->path);
	}
	if (!n->data) {
		free(block);
		return pt_ip_fail(x, -n->read_err, "cannot read '%s%s': %s", x->rp, n->path, strerror(-n->read_err));
	}
	want = pt_text_with_block(n->data, block);
	if (strcmp(want, n->data) != 0) {
		if (!pt_text_has_block(n->data)) {
			/* the original, for a byte-for-byte uninstall (again after an update replaced it) */
			char *b = xasprintf("%s/%s", x->p->state_dir, PT_PKG_ORIG_NAME);

			add_backup(x, n, b);
			pt_ip_record(x, PT_MREC_EDITED, n->path, b);
			op = pt_ip_push(&x->effects, PT_FILEOP_BLOCK, n->path, n->real,
				  "each libvirtd start now re-creates the hook and binds the devices");
			op->backup = b;
			op->backup_real = backup_real(x, b, false);
		} else {
			op = pt_ip_push(&x->effects, PT_FILEOP_BLOCK, n->path, n->real, "passthrough's lines differ");
		}
		pt_ip_set_content(op, want, strlen(want));
		pt_ip_set_add(&x->written, n->real);
		pt_ip_touch(x, n->real);
	}
	free(want);
	free(block);
	return r;
}

/* What must hold before anything is planned. */
static int
check_preconditions(struct pt_ip *x)
{
	const struct pt_fnode *hook = pt_ip_node(x, PT_HOOK_PATH), *chained = pt_ip_node(x, PT_HOOK_CHAINED);

	if (x->in->other_installed >= 0 && x->in->other_installed != (int)x->in->layout)
		return pt_ip_fail(x, EEXIST, "the %s layout is installed here; run 'passthrough uninstall' first",
			    pt_layout_paths((enum pt_layout)x->in->other_installed)->name);
	if (x->p->pkg_script) {
		const struct pt_fnode *pkg = pt_ip_node(x, x->p->pkg_script);

		if (pkg->err && pkg->err != -ENOENT)
			return pt_ip_refuse(x, pkg);
		if (pkg->err || !pkg->exists)
			return pt_ip_fail(x, ENOENT, "cannot find '%s%s' (%s): is Virtual Machine Manager installed?", x->rp,
				    x->p->pkg_script, strerror(ENOENT));
	}
	if (!hook->err && !chained->err && hook->exists && !pt_ip_is_our_hook(hook) && chained->exists)
		return pt_ip_fail(x, EEXIST, "cannot chain to '%s%s': '%s%s' is there already; move one of them away", x->rp,
			    PT_HOOK_PATH, x->rp, PT_HOOK_CHAINED);
	return 0;
}

/* "var.passthrough-stage-1700000000.123456789" in dir for the directory name: its time, or false. */
static bool
find_stage(const struct pt_fnode *dir, const char *name, char **ret_entry, long long *ret_s, long *ret_ns)
{
	size_t n = strlen(name), k = strlen(PT_STAGE_INFIX);

	for (size_t i = 0; i < dir->n_names; i++) {
		const char *e = dir->names[i];

		if (strncmp(e, name, n) == 0 && strncmp(e + n, PT_STAGE_INFIX, k) == 0 &&
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
plan_stage(struct pt_ip *x)
{
	const struct pt_fnode *s = pt_ip_node(x, x->p->state_dir), *a;
	char *top, *entry = NULL;
	const char *name;

	if (s->err)
		return pt_ip_refuse(x, s);
	if (s->exists)
		return 0;
	top = xstrdup(x->p->state_dir);
	for (;;) {
		char *parent = pt_path_parent(top);

		a = pt_ip_node(x, parent);
		if (a->err || a->exists || strcmp(parent, "/") == 0) {
			free(parent);
			break;
		}
		free(top);
		top = parent;
	}
	if (a->err) {
		free(top);
		return pt_ip_refuse(x, a);
	}
	if (!S_ISDIR(a->mode)) {
		free(top);
		return pt_ip_fail(x, ENOTDIR, "cannot create a directory in '%s%s': %s", x->rp, a->path, strerror(ENOTDIR));
	}
	x->stage_top = xstrdup(pt_ip_node(x, top)->real);
	x->stage_top_path = xstrdup(top);
	name = strrchr(x->stage_top, '/') + 1;
	if (!find_stage(a, name, &entry, &x->stage_mtime_s, &x->stage_mtime_ns)) {
		bool unstaged = x->unstaged_parent && strcmp(x->unstaged_parent, a->real) == 0;
		char *t;

		/* its mtime as it was: after a stopped uninstall, the one it is about to get back */
		x->stage_mtime_s = unstaged ? x->unstaged_mtime_s : a->mtime_s;
		x->stage_mtime_ns = unstaged ? x->unstaged_mtime_ns : a->mtime_ns;
		t = pt_mtime_format(x->stage_mtime_s, x->stage_mtime_ns);
		entry = xasprintf("%s" PT_STAGE_INFIX "%s", name, t);
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
record_mtimes(struct pt_ip *x)
{
	for (size_t i = 0; i < x->touched.n; i++) {
		const char *d = x->touched.v[i];
		const struct pt_fnode *n;
		bool ours = pt_ip_set_has(&x->made, d) || pt_manifest_has(&x->m, PT_MREC_MTIME, d);
		char *t;

		for (size_t k = 0; k < x->m.n && !ours; k++) {
			const char *real = pt_ip_node(x, x->m.v[k].path)->real;

			ours = x->m.v[k].kind == PT_MREC_DIR && real && strcmp(real, d) == 0;
		}
		if (ours)
			continue;
		if (x->stage_parent && strcmp(d, x->stage_parent) == 0) {
			t = pt_mtime_format(x->stage_mtime_s, x->stage_mtime_ns);
		} else {
			n = pt_ip_node_by_real(x, d);
			if (!n)
				continue;
			t = pt_mtime_format(n->mtime_s, n->mtime_ns);
		}
		pt_ip_record(x, PT_MREC_MTIME, d, t);
		free(t);
	}
}

/* Temporaries a killed run left next to the paths looked at and in the state directory, unless
 * an operation writes them again (it reuses them). */
static void
plan_cleanup(struct pt_ip *x, struct pt_ip_ops *to)
{
	const struct pt_ftree *t = x->in->tree;
	const struct pt_fnode *s = pt_ip_node(x, x->p->state_dir);
	struct pt_ip_set cleaned = { 0 };

	for (size_t i = 0; i < t->n; i++) {
		const struct pt_fnode *n = &t->v[i];

		if (n->tmp && n->real && !pt_ip_set_has(&x->written, n->real)) {
			char *p = xasprintf("%s" PT_TMP_SUFFIX, n->path), *r = xasprintf("%s" PT_TMP_SUFFIX, n->real);

			if (!pt_ip_set_has(&cleaned, r)) {
				pt_ip_push(to, PT_FILEOP_CLEAN, p, r, "left by a run that was stopped");
				pt_ip_set_add(&cleaned, r);
				pt_ip_touch(x, r);
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
		if (!pt_ip_set_has(&x->written, base) && !pt_ip_set_has(&cleaned, r)) {
			pt_ip_push(to, PT_FILEOP_CLEAN, p, r, "left by a run that was stopped");
			pt_ip_set_add(&cleaned, r);
		}
		free(base);
		free(p);
		free(r);
	}
	pt_ip_set_done(&cleaned);
}

/* The state directory (staged on a first install) and the options the texts get. */
static int
ensure_state(struct pt_ip *x)
{
	int r;

	pt_ip_finish_unstaged(x, &x->chain);
	r = plan_stage(x);

	if (r == 0) {
		x->in_chain = true;
		r = ensure_dir(x, x->p->state_dir);
		x->in_chain = false;
	}
	x->m_changed |= pt_manifest_set_option(&x->m, "config", x->o.config);
	x->m_changed |= pt_manifest_set_option(&x->m, "lock", x->o.lock_file);
	x->m_changed |= !x->in->have_manifest;
	return r;
}

/* The config, when there is none (a directory there is refused). */
static int
ensure_config(struct pt_ip *x)
{
	const struct pt_fnode *cfg = pt_ip_node(x, x->o.config);
	int r;

	if (cfg->err)
		return pt_ip_refuse(x, cfg);
	if (cfg->exists && S_ISDIR(cfg->mode))
		return pt_ip_fail(x, EISDIR, "cannot use '%s%s' as the configuration file: it is a directory", x->rp,
				  x->o.config);
	if (cfg->exists)
		return 0;
	r = ensure_file(x, PT_MREC_CONFIG, x->o.config, pt_config_template(), strlen(pt_config_template()), 0600,
			false, false);
	if (r == 0)
		pt_install_plan_note(x->plan, "'%s%s' declares no device yet: add yours (see passthrough.yaml(5) and "
				     "'passthrough devices')", x->rp, x->o.config);
	return r;
}

/* The units, and the links that enable them. */
static int
ensure_units(struct pt_ip *x)
{
	int r = 0;

	for (int u = 0; u < PT_N_UNITS && r == 0; u++) {
		char *path = pt_unit_path(x->in->layout, (enum pt_unit_id)u);
		char *link = pt_unit_link_path(x->in->layout, (enum pt_unit_id)u);
		char *text = pt_unit_text(x->in->layout, (enum pt_unit_id)u, &x->o);

		r = ensure_file(x, PT_MREC_FILE, path, text, strlen(text), 0644, true, false);
		if (r == 0 && link)
			r = ensure_link(x, link, path);
		free(text);
		free(link);
		free(path);
	}
	return r;
}

/* The plan in the order apply runs it: the state directory's parts, the backups, the manifest
 * (and on a first install the rename that puts them in place); then the changes; the cleanup. */
static void
assemble(struct pt_ip *x)
{
	if (x->m_changed)
		pt_ip_push_record(x, &x->backups, &x->m, "what install changes, for uninstall");
	if (x->stage_top) {
		struct pt_fileop *op = pt_ip_push(&x->backups, PT_FILEOP_COMMIT, x->stage_top_path, x->stage_real,
						  "the state directory appears whole");

		op->target = xstrdup(x->stage_top);
	}
	pt_ip_move_ops(x->plan, &x->chain);
	pt_ip_move_ops(x->plan, &x->backups);
	pt_ip_move_ops(x->plan, &x->effects);
	pt_ip_move_ops(x->plan, &x->tail);
}

int
pt_install_plan_compute(const struct pt_install_input *in, struct pt_install_plan *ret, char **reterr)
{
	struct pt_ip x;
	int r;

	pt_ip_init(&x, in, ret, reterr);
	r = check_preconditions(&x);
	if (r == 0)
		r = pt_ip_check_manifest(&x);
	if (r == 0)
		r = ensure_state(&x);
	if (r == 0 && in->self && !in->self_is_bin)
		r = ensure_file(&x, PT_MREC_FILE, x.p->bin, in->self, in->self_len, 0755, false, false);
	if (r == 0)
		r = ensure_config(&x);
	if (r == 0)
		r = ensure_hook(&x);
	if (r == 0)
		r = ensure_units(&x);
	if (r == 0 && x.p->pkg_script)
		r = ensure_dsm_wiring(&x);
	if (r == 0) {
		plan_cleanup(&x, &x.tail);
		record_mtimes(&x);
		assemble(&x);
	} else {
		for (size_t i = 0; i < ret->n_notes; i++)
			free(ret->notes[i]);
		ret->n_notes = 0;
	}
	pt_ip_done(&x);
	return r;
}
