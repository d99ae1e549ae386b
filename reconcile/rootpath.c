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

int
pt_root_resolve(const char *root_real, const char *path, bool follow, char **ret_real, char **ret_escape)
{
	char *cur = xstrdup(strcmp(root_real, "/") == 0 ? "/" : root_real);
	char *todo = xstrdup(path);  /* what is left to walk */
	const char *c = todo;
	unsigned links = 0;
	bool missing = false;
	int r = 0;

	while (*c) {
		size_t n;
		bool last;
		char *next;
		struct stat st;

		while (*c == '/')
			c++;
		n = strcspn(c, "/");
		if (n == 0)
			break;
		last = c[n] == '\0' || c[n + strspn(c + n, "/")] == '\0';
		if (n == 1 && c[0] == '.') {
			c += n;
			continue;
		}
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			char *up;

			if (missing) {
				r = -ENOENT;   /* the kernel cannot go up from what is not there */
				break;
			}
			up = pt_path_parent(cur);
			free(cur);
			cur = up;
			c += n;
			continue;
		}
		next = join(cur, c, n);
		if (strlen(next) >= PATH_MAX) {
			free(next);
			r = -ENAMETOOLONG;
			break;
		}
		if (missing || (last && !follow)) {
			free(cur);
			cur = next;
			c += n;
			continue;
		}
		if (lstat(next, &st) < 0) {
			if (errno != ENOENT) {
				r = pt_neg_errno();
				free(next);
				break;
			}
			missing = true;
			free(cur);
			cur = next;
			c += n;
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlink(next, target, sizeof(target) - 1);
			char *rest;

			free(next);
			if (len < 0) {
				r = pt_neg_errno();
				break;
			}
			if (++links > MAX_LINKS) {
				r = -ELOOP;
				break;
			}
			target[len] = '\0';
			rest = xasprintf("%s/%s", target, c + n);
			free(todo);
			todo = rest;
			c = todo;
			if (target[0] == '/') {
				free(cur);
				cur = xstrdup("/");
			}
			continue;
		}
		if (!S_ISDIR(st.st_mode) && !last) {
			free(next);
			r = -ENOTDIR;
			break;
		}
		free(cur);
		cur = next;
		c += n;
	}
	free(todo);
	if (r == 0 && !pt_path_is_under(cur, root_real)) {
		*ret_escape = cur;
		return -EXDEV;
	}
	if (r == 0) {
		*ret_real = strcmp(root_real, "/") == 0 ? xstrdup(cur)
			    : xstrdup(cur[strlen(root_real)] ? cur + strlen(root_real) : "/");
	}
	free(cur);
	return r;
}
