/* install.c: observes the tree install works on (every path resolved under the root), reads the manifest, and hands both to the planners; also the layout checks and systemctl. */
#include "reconcile/install.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/syserr.h"
#include "model/xalloc.h"
#include "reconcile/child.h"
#include "reconcile/fileio.h"
#include "reconcile/lock.h"
#include "reconcile/rootpath.h"

#define MAX_FILE (64u << 20)
#define SYSTEMCTL_TIMEOUT_MS 120000

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
list_dir(struct pt_fnode *n, const char *host)
{
	DIR *d = opendir(host);
	size_t cap = 0;

	for (struct dirent *e; d && (e = readdir(d));) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		xgrow(&n->names, &cap, n->n_names + 1, sizeof(*n->names));
		n->names[n->n_names++] = xstrdup(e->d_name);
	}
	if (d)
		closedir(d);
	if (n->n_names)
		qsort(n->names, n->n_names, sizeof(*n->names), by_name);
}

/* One path: where it leads, what is there. */
static void
observe(struct pt_ftree *t, const char *path, unsigned flags)
{
	struct pt_fnode *n;
	struct stat st;
	char *host, *tmp;

	xgrow(&t->v, &t->cap, t->n + 1, sizeof(*t->v));
	n = &t->v[t->n++];
	memset(n, 0, sizeof(*n));
	n->path = xstrdup(path);
	n->flags = flags;
	n->err = pt_root_resolve(t->root_real, path, flags & PT_WANT_FOLLOW, &n->real, &n->escape);
	if (n->err)
		return;
	host = pt_root_host_path(t->root_real, n->real);
	if (lstat(host, &st) < 0) {
		if (errno != ENOENT)
			n->err = pt_neg_errno();
		free(host);
		return;
	}
	n->exists = true;
	n->mode = st.st_mode;
	n->uid = st.st_uid;
	n->gid = st.st_gid;
	n->mtime_s = (long long)st.st_mtim.tv_sec;
	n->mtime_ns = st.st_mtim.tv_nsec;
	if (S_ISLNK(st.st_mode)) {
		char buf[4096];
		ssize_t len = readlink(host, buf, sizeof(buf) - 1);

		n->link = xstrndup(buf, len > 0 ? (size_t)len : 0);
	} else if (S_ISREG(st.st_mode) && (flags & PT_WANT_READ)) {
		n->read_err = pt_read_file(host, MAX_FILE, &n->data, &n->len);
	} else if (S_ISDIR(st.st_mode) && (flags & PT_WANT_LIST)) {
		list_dir(n, host);
	}
	tmp = xasprintf("%s" PT_TMP_SUFFIX, host);
	n->tmp = lstat(tmp, &st) == 0;
	free(tmp);
	free(host);
}

/* Each wanted path and every directory above it (followed, as the kernel follows a link to a directory). */
static void
observe_all(struct pt_ftree *t, const struct pt_wants *w)
{
	struct pt_wants all = { 0 };

	for (size_t i = 0; i < w->n; i++) {
		char *d = xstrdup(w->v[i].path);

		pt_wants_add(&all, d, w->v[i].flags);
		while (strcmp(d, "/") != 0) {
			char *parent = pt_path_parent(d);

			free(d);
			d = parent;
			pt_wants_add(&all, d, PT_WANT_FOLLOW);
		}
		free(d);
	}
	for (size_t i = 0; i < all.n; i++)
		observe(t, all.v[i].path, all.v[i].flags);
	/* where a followed link leads: its directory changes when the file there is rewritten */
	for (size_t i = 0, n = t->n; i < n; i++) {
		char *d = t->v[i].real && (t->v[i].flags & PT_WANT_FOLLOW) ? pt_path_parent(t->v[i].real) : NULL;

		if (d && !pt_ftree_get(t, d))
			observe(t, d, 0);
		free(d);
	}
	pt_wants_done(&all);
}

static int
tree_init(struct pt_ftree *t, const char *root, char **reterr)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	t->root = xstrdup(root);
	t->root_real = realpath(root, NULL);
	if (!t->root_real || stat(t->root_real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		int r = t->root_real ? -ENOTDIR : pt_neg_errno();

		*reterr = xasprintf("cannot install under '%s': %s", root, strerror(-r));
		pt_ftree_done(t);
		return r;
	}
	return 0;
}

static char *
display(const char *root, const char *path)
{
	return xasprintf("%s%s", strcmp(root, "/") == 0 ? "" : root, path);
}

static char *
manifest_path(enum pt_layout l)
{
	return xasprintf("%s/" PT_MANIFEST_NAME, pt_layout_paths(l)->state_dir);
}

/* Reads and checks layout l's manifest under the root: 0, -ENOENT when there is none, or an error. */
static int
manifest_load(const struct pt_ftree *t, enum pt_layout l, struct pt_manifest *ret, char **reterr)
{
	char *path = manifest_path(l), *shown = display(t->root, path), *real = NULL, *escape = NULL, *host, *text, *why;
	unsigned line;
	size_t len;
	int r = pt_root_resolve(t->root_real, path, false, &real, &escape);

	memset(ret, 0, sizeof(*ret));
	ret->layout = l;
	if (r == -EXDEV)
		*reterr = xasprintf("refusing '%s': it leads to '%s', outside the root '%s'", shown, escape, t->root);
	else if (r < 0)
		*reterr = xasprintf("cannot resolve '%s': %s", shown, strerror(-r));
	if (r < 0)
		goto out;
	host = pt_root_host_path(t->root_real, real);
	r = pt_read_file(host, MAX_FILE, &text, &len);
	free(host);
	if (r == -ENOENT)
		goto out;
	if (r < 0) {
		*reterr = xasprintf("cannot read '%s': %s", shown, strerror(-r));
		goto out;
	}
	r = strlen(text) != len ? -EINVAL : pt_manifest_parse(l, text, ret, &line, &why);
	if (r < 0 && strlen(text) != len) {
		line = 1;
		why = xstrdup("a NUL byte");
	}
	if (r < 0) {
		if (why)
			*reterr = xasprintf("%s:%u: not a line passthrough install wrote (%s); remove what it lists by hand",
					    shown, line, why);
		else
			*reterr = xasprintf("%s:%u: not a line passthrough install wrote; remove what it lists by hand",
					    shown, line);
		free(why);
	}
	free(text);
out:
	free(path);
	free(shown);
	free(real);
	free(escape);
	return r;
}

/* Observes what the planners need and fills *in (which then borrows from t, m, self). */
static int
prepare(const struct pt_install_target *t, enum pt_layout l, struct pt_ftree *tree, struct pt_manifest *m,
	char **self, struct pt_install_input *in, char **reterr)
{
	struct pt_install_options o;
	struct pt_wants w;
	enum pt_layout installed;
	int r = tree_init(tree, t->root, reterr);

	memset(in, 0, sizeof(*in));
	*self = NULL;
	if (r < 0)
		return r;
	r = manifest_load(tree, l, m, reterr);
	if (r < 0 && r != -ENOENT) {
		pt_ftree_done(tree);
		return r;
	}
	in->layout = l;
	in->given.config = t->config;
	in->given.lock_file = t->lock_file;
	in->default_lock = PT_LOCK_FILE;
	in->m = m;
	in->have_manifest = r == 0;
	in->other_installed = pt_installed_layout(t->root, &installed) == 0 ? (int)installed : -1;
	in->tree = tree;
	in->live = strcmp(t->root, "/") == 0;
	pt_install_options_effective(in, &o);
	pt_install_wants(l, &o, m, &w);
	observe_all(tree, &w);
	pt_wants_done(&w);
	if (t->self) {
		const struct pt_fnode *bin = pt_ftree_get(tree, pt_layout_paths(l)->bin);
		char *a = realpath(t->self, NULL), *host = bin && bin->real ? pt_root_host_path(tree->root_real, bin->real) : NULL;
		char *b = host ? realpath(host, NULL) : NULL;

		r = pt_read_file(t->self, MAX_FILE, self, &in->self_len);
		if (r < 0) {
			*reterr = xasprintf("cannot read '%s': %s", t->self, strerror(-r));
		} else {
			in->self = *self;
			in->self_is_bin = a && b && strcmp(a, b) == 0;
		}
		free(a);
		free(b);
		free(host);
		if (r < 0) {
			pt_manifest_done(m);
			pt_ftree_done(tree);
			return r;
		}
	}
	return 0;
}

int
pt_install_plan(const struct pt_install_target *t, struct pt_install_plan *ret, char **reterr)
{
	struct pt_install_input in;
	struct pt_ftree tree;
	struct pt_manifest m;
	char *self;
	int r = prepare(t, t->layout, &tree, &m, &self, &in, reterr);

	memset(ret, 0, sizeof(*ret));
	if (r < 0)
		return r;
	r = pt_install_plan_compute(&in, ret, reterr);
	free(self);
	pt_manifest_done(&m);
	pt_ftree_done(&tree);
	return r;
}

int
pt_uninstall_plan(const struct pt_install_target *t, struct pt_install_plan *ret, char **reterr)
{
	struct pt_install_input in;
	struct pt_ftree tree;
	struct pt_manifest m;
	struct pt_install_target u = *t;
	enum pt_layout l;
	char *self;
	bool installed = pt_installed_layout(t->root, &l) == 0;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	u.self = NULL;
	u.config = u.lock_file = NULL;
	/* nothing installed: each layout's plan is at most what a stopped uninstall left */
	for (int k = 0; k < PT_N_LAYOUTS && r == 0 && !ret->n; k++) {
		if (installed && k != (int)l)
			continue;
		pt_install_plan_done(ret);
		r = prepare(&u, installed ? l : (enum pt_layout)k, &tree, &m, &self, &in, reterr);
		if (r < 0)
			return r;
		r = pt_uninstall_plan_compute(&in, ret, reterr);
		free(self);
		pt_manifest_done(&m);
		pt_ftree_done(&tree);
	}
	if (r == 0 && !installed && !ret->n) {
		pt_install_plan_done(ret);   /* no layout */
		ret->uninstall = true;
		*reterr = xasprintf("nothing to uninstall: no manifest under '%s'", t->root);
		r = -ENOENT;
	}
	return r;
}

int
pt_installed_layout(const char *root, enum pt_layout *ret)
{
	for (int l = 0; l < PT_N_LAYOUTS; l++) {
		char *rel = manifest_path((enum pt_layout)l), *path = display(root, rel);
		bool there = access(path, F_OK) == 0;

		free(rel);
		free(path);
		if (there) {
			*ret = (enum pt_layout)l;
			return 0;
		}
	}
	return -ENOENT;
}

bool
pt_root_is_dsm(const char *root)
{
	char *a = display(root, "/etc.defaults/VERSION"), *b = display(root, "/etc/synoinfo.conf");
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
