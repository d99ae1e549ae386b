/* vmrecord.c: which domain (by UUID) apply found each file `vm` to name, kept beside the lock so that the hook, which must not ask libvirt, can trust a <title> match. */
#include "reconcile/vmrecord.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "model/syserr.h"
#include "model/xalloc.h"
#include "reconcile/fileio.h"

#define RECORD_MAX ((size_t)1 << 20)

char *
pt_vm_record_path(const struct pt_host *h)
{
	return pt_host_run_path(h, ".vms");
}

/* The record's text for cfg and obs: one line per distinct vm that names one domain. */
static char *
record_text(const struct pt_config *cfg, const struct pt_observed *obs)
{
	char *text = xstrdup(""), *t;

	for (size_t i = 0; i < cfg->n_devices; i++) {
		const char *vm = cfg->devices[i].vm;
		const struct pt_domain *dom;
		char *err = NULL, *line;
		bool seen = false;

		if (!vm || strpbrk(vm, "\t\n"))
			continue;   /* not one the record can hold: the hook hands such a title over */
		for (size_t j = 0; j < i && !seen; j++)
			seen = cfg->devices[j].vm && strcmp(cfg->devices[j].vm, vm) == 0;
		dom = seen ? NULL : pt_find_domain(obs, vm, &err);
		free(err);
		if (!dom)
			continue;
		line = xasprintf("%s\t%s\n", dom->uuid, vm);
		t = xasprintf("%s%s", text, line);
		free(line);
		free(text);
		text = t;
	}
	return text;
}

int
pt_vm_record_write(const char *path, const struct pt_config *cfg, const struct pt_observed *obs, char **reterr)
{
	char *text = record_text(cfg, obs), *cur = NULL, *tmp;
	size_t len = strlen(text), cur_len;
	int fd, r = 0;

	if (pt_read_file(path, RECORD_MAX, &cur, &cur_len) == 0 && cur_len == len && memcmp(cur, text, len) == 0) {
		free(cur);
		free(text);
		return 0;   /* as it was: the converged pass writes nothing */
	}
	free(cur);
	tmp = xasprintf("%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		r = pt_neg_errno();
	if (fd >= 0 && close(fd) < 0 && !r)
		r = pt_neg_errno();
	if (!r && rename(tmp, path) < 0)
		r = pt_neg_errno();
	if (r) {
		*reterr = xasprintf("cannot write '%s': %s", path, strerror(-r));
		unlink(tmp);
	}
	free(tmp);
	free(text);
	return r;
}

bool
pt_vm_record_confirms(const char *path, const char *vm, const char *uuid)
{
	char *text = NULL;
	size_t len;
	int named = 0;
	bool this_one = false;

	if (!path || !uuid || !uuid[0] || pt_read_file(path, RECORD_MAX, &text, &len) < 0)
		return false;
	for (char *line = text, *next; line && *line; line = next) {
		char *tab;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		tab = strchr(line, '\t');
		if (!tab || strcmp(tab + 1, vm) != 0)
			continue;
		*tab = '\0';
		named++;
		this_one = this_one || strcasecmp(line, uuid) == 0;
	}
	free(text);
	return named == 1 && this_one;
}
