/* rootpath.c: resolves target-system paths under install's root, component by component, as the kernel does, and says when one leads out of it. */
#include "reconcile/rootpath.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/install_layout.h"
#include "model/syserr.h"
#include "model/xalloc.h"

#define MAX_LINKS 40

char *
pt_root_host_path(const char *root_real, const char *real)
{
	if (strcmp(root_real, "/") == 0)
		return xstrdup(real);
	if (strcmp(real, "/") == 0)
		return xstrdup(root_real);
	return xasprintf("%s%s", root_real, real);
}

/* cur joined with name (cur is a canonical host path). */
static char *
join(const char *cur, const char *name, size_t n)
{
	return xasprintf("%s/%.*s", strcmp(cur, "/") == 0 ? "" : cur, (int)n, name);
}

/* A walk through a path: where it is (a canonical host path), what is left, links followed. */
struct walk {
	char *cur;
	char *todo;
	const char *c;     /* in todo */
	unsigned links;
	bool missing;      /* cur does not exist: the rest is taken as it is */
};

/* Follows the link at next (cur's entry): what it says comes before the rest (from / when absolute). */
static int
follow(struct walk *w, const char *next, size_t n)
{
	char target[PATH_MAX], *rest;
	ssize_t len = readlink(next, target, sizeof(target) - 1);

	if (len < 0)
		return pt_neg_errno();
	if (++w->links > MAX_LINKS)
		return -ELOOP;
	target[len] = '\0';
	rest = xasprintf("%s/%s", target, w->c + n);
	free(w->todo);
	w->todo = rest;
	w->c = w->todo;
	if (target[0] == '/') {
		free(w->cur);
		w->cur = xstrdup("/");
	}
	return 0;
}

/* One component of w (n bytes at w->c, not "." or ".."): 0 with w moved on, or a negative errno. */
static int
step(struct walk *w, size_t n, bool follow_last)
{
	bool last = w->c[n] == '\0' || w->c[n + strspn(w->c + n, "/")] == '\0';
	char *next = join(w->cur, w->c, n);
	struct stat st;
	int r = 0;

	if (strlen(next) >= PATH_MAX) {
		r = -ENAMETOOLONG;
	} else if (w->missing || (last && !follow_last)) {
		;   /* taken as it is */
	} else if (lstat(next, &st) < 0) {
		r = errno == ENOENT ? 0 : pt_neg_errno();
		w->missing = r == 0;
	} else if (S_ISLNK(st.st_mode)) {
		r = follow(w, next, n);
		free(next);
		return r;
	} else if (!S_ISDIR(st.st_mode) && !last) {
		r = -ENOTDIR;
	}
	if (r < 0) {
		free(next);
		return r;
	}
	free(w->cur);
	w->cur = next;
	w->c += n;
	return 0;
}

int
pt_root_resolve(const char *root_real, const char *path, bool follow_last, char **ret_real, char **ret_escape)
{
	struct walk w = { xstrdup(strcmp(root_real, "/") == 0 ? "/" : root_real), xstrdup(path), NULL, 0, false };
	int r = 0;

	w.c = w.todo;
	while (r == 0) {
		size_t n;

		while (*w.c == '/')
			w.c++;
		n = strcspn(w.c, "/");
		if (n == 0)
			break;
		if (n == 1 && w.c[0] == '.') {
			w.c += n;
		} else if (n == 2 && w.c[0] == '.' && w.c[1] == '.') {
			char *up = pt_path_parent(w.cur);

			r = w.missing ? -ENOENT : 0;   /* the kernel cannot go up from what is not there */
			free(w.cur);
			w.cur = up;
			w.c += n;
		} else {
			r = step(&w, n, follow_last);
		}
	}
	free(w.todo);
	if (r == 0 && !pt_path_is_under(w.cur, root_real)) {
		*ret_escape = w.cur;
		return -EXDEV;
	}
	if (r == 0)
		*ret_real = strcmp(root_real, "/") == 0 ? xstrdup(w.cur)
			    : xstrdup(w.cur[strlen(root_real)] ? w.cur + strlen(root_real) : "/");
	free(w.cur);
	return r;
}
