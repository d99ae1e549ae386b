/* host.c: the system the tool acts on, with every root injectable (sysfs, /proc, libvirt URI, the lock and its journal, the state directory). */
#include "reconcile/host.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/xalloc.h"

static char *
join(const char *root, const char *fmt, va_list ap)
{
	char *rel = xvasprintf(fmt, ap);
	size_t n = strlen(root);
	char *path;

	while (n > 0 && root[n - 1] == '/')
		n--;
	path = xasprintf("%.*s/%s", (int)n, root, rel[0] == '/' ? rel + 1 : rel);
	free(rel);
	return path;
}

char *
pt_host_run_path(const struct pt_host *h, const char *suffix)
{
	size_t n;

	if (!h->lock_file)
		return NULL;
	n = strlen(h->lock_file);
	if (n > 5 && strcmp(h->lock_file + n - 5, ".lock") == 0)
		return xasprintf("%.*s%s", (int)(n - 5), h->lock_file, suffix);
	return xasprintf("%s%s", h->lock_file, suffix);
}

char *
pt_host_sysfs_path(const struct pt_host *h, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = join(h->sysfs_root, fmt, ap);
	va_end(ap);
	return p;
}

char *
pt_host_proc_path(const struct pt_host *h, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = join(h->proc_root, fmt, ap);
	va_end(ap);
	return p;
}
