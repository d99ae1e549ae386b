/* install_manifest.c: reads, checks and writes the install manifest; pure. */
#include "model/install_manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/xalloc.h"

#define MANIFEST_HEAD "passthrough-install 1"

static const char *const kind_names[] = {
	[PT_MREC_DIR] = "dir", [PT_MREC_FILE] = "file", [PT_MREC_CONFIG] = "config",
	[PT_MREC_REPLACED] = "replaced", [PT_MREC_LINK] = "link", [PT_MREC_MOVED] = "moved",
	[PT_MREC_EDITED] = "edited", [PT_MREC_OPTION] = "option", [PT_MREC_MTIME] = "mtime",
};
#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *
pt_mrec_kind_name(enum pt_mrec_kind k)
{
	return kind_names[k];
}

void
pt_manifest_done(struct pt_manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].path);
		free(m->v[i].arg);
	}
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

static void
push(struct pt_manifest *m, enum pt_mrec_kind kind, const char *path, const char *arg, unsigned line)
{
	struct pt_mrec *r;

	xgrow(&m->v, &m->cap, m->n + 1, sizeof(*m->v));
	r = &m->v[m->n++];
	r->kind = kind;
	r->path = xstrdup(path);
	r->arg = xstrdup(arg ? arg : "");
	r->line = line;
}

void
pt_manifest_add(struct pt_manifest *m, enum pt_mrec_kind kind, const char *path, const char *arg)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].kind == kind && strcmp(m->v[i].path, path) == 0 && strcmp(m->v[i].arg, arg ? arg : "") == 0)
			return;
	push(m, kind, path, arg, 0);
}

bool
pt_manifest_set_option(struct pt_manifest *m, const char *key, const char *value)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i].kind == PT_MREC_OPTION && strcmp(m->v[i].path, key) == 0) {
			if (strcmp(m->v[i].arg, value) == 0)
				return false;
			free(m->v[i].arg);
			m->v[i].arg = xstrdup(value);
			return true;
		}
	}
	push(m, PT_MREC_OPTION, key, value, 0);
	return true;
}

const struct pt_mrec *
pt_manifest_find(const struct pt_manifest *m, const char *path)
{
	for (size_t i = m->n; i-- > 0;)
		if (m->v[i].kind != PT_MREC_OPTION && m->v[i].kind != PT_MREC_MTIME && strcmp(m->v[i].path, path) == 0)
			return &m->v[i];
	return NULL;
}

bool
pt_manifest_has(const struct pt_manifest *m, enum pt_mrec_kind kind, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].kind == kind && strcmp(m->v[i].path, path) == 0)
			return true;
	return false;
}

const char *
pt_manifest_option(const struct pt_manifest *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].kind == PT_MREC_OPTION && strcmp(m->v[i].path, key) == 0)
			return m->v[i].arg;
	return NULL;
}

bool
pt_manifest_uses_backup(const struct pt_manifest *m, const char *backup)
{
	for (size_t i = 0; i < m->n; i++)
		if ((m->v[i].kind == PT_MREC_REPLACED || m->v[i].kind == PT_MREC_EDITED) && strcmp(m->v[i].arg, backup) == 0)
			return true;
	return false;
}

void
pt_manifest_copy_without(const struct pt_manifest *m, size_t skip, struct pt_manifest *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->layout = m->layout;
	for (size_t i = 0; i < m->n; i++)
		if (i != skip)
			push(ret, m->v[i].kind, m->v[i].path, m->v[i].arg, m->v[i].line);
}

char *
pt_manifest_format(const struct pt_manifest *m)
{
	size_t cap = 0, len = 0;
	char *s = NULL;

	for (size_t i = 0; i <= m->n; i++) {
		const struct pt_mrec *r = i ? &m->v[i - 1] : NULL;
		char *line = !r ? xasprintf(MANIFEST_HEAD " %s: what passthrough install changed; passthrough "
					    "uninstall undoes it\n", pt_layout_paths(m->layout)->name)
				: xasprintf("%s\t%s%s%s\n", kind_names[r->kind], r->path, r->arg[0] ? "\t" : "", r->arg);
		size_t n = strlen(line);

		xgrow(&s, &cap, len + n + 1, 1);
		memcpy(s + len, line, n + 1);
		len += n;
		free(line);
	}
	return s;
}

char *
pt_mtime_format(long long sec, long nsec)
{
	return xasprintf("%lld.%09ld", sec, nsec);
}

bool
pt_mtime_parse(const char *s, long long *ret_sec, long *ret_nsec)
{
	long long sec = 0;
	long nsec = 0;
	size_t i = 0, digits;

	for (; s[i] >= '0' && s[i] <= '9' && i < 18; i++)
		sec = sec * 10 + (s[i] - '0');
	if (i == 0 || s[i] != '.')
		return false;
	s += i + 1;
	for (digits = 0; s[digits] >= '0' && s[digits] <= '9'; digits++)
		nsec = nsec * 10 + (s[digits] - '0');
	if (digits != 9 || s[digits] != '\0')
		return false;
	*ret_sec = sec;
	*ret_nsec = nsec;
	return true;
}

/* ---- what a record may say ---- */

/* The files of layout l install writes (not the config, which the user names). */
static bool
is_layout_file(enum pt_layout l, const char *path, bool *ret_link)
{
	const struct pt_layout_paths *p = pt_layout_paths(l);
	bool found = false;

	*ret_link = false;
	if (strcmp(path, p->bin) == 0 || strcmp(path, PT_HOOK_PATH) == 0)
		return true;
	for (int u = 0; u < PT_N_UNITS && !found; u++) {
		char *unit = pt_unit_path(l, (enum pt_unit_id)u), *link = pt_unit_link_path(l, (enum pt_unit_id)u);

		found = strcmp(path, unit) == 0;
		if (!found && link && strcmp(path, link) == 0)
			found = *ret_link = true;
		free(unit);
		free(link);
	}
	return found;
}

static bool
is_backup(enum pt_layout l, const char *path)
{
	const char *dir = pt_layout_paths(l)->state_dir;
	size_t n = strlen(dir), k = strlen(PT_BACKUP_PREFIX);
	const char *d;

	if (strncmp(path, dir, n) != 0 || path[n] != '/' || strncmp(path + n + 1, PT_BACKUP_PREFIX, k) != 0)
		return false;
	d = path + n + 1 + k;
	if (!*d || strlen(d) > 6)
		return false;
	for (; *d; d++)
		if (*d < '0' || *d > '9')
			return false;
	return true;
}

/* Whether dir is a directory install may create: a parent of what it writes. */
static bool
is_parent_of_written(enum pt_layout l, const struct pt_manifest *m, const char *dir)
{
	const struct pt_layout_paths *p = pt_layout_paths(l);
	const char *fixed[] = { p->bin, PT_HOOK_PATH, p->unit_dir, p->state_dir, p->config };
	bool yes = false;

	if (strcmp(dir, "/") == 0)
		return false;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && !yes; i++)
		yes = pt_path_is_under(fixed[i], dir) && (strcmp(fixed[i], dir) != 0 || fixed[i] == p->unit_dir ||
							  fixed[i] == p->state_dir);
	for (int u = 0; u < PT_N_UNITS && !yes; u++) {
		char *link = pt_unit_link_path(l, (enum pt_unit_id)u);

		yes = link && pt_path_is_under(link, dir) && strcmp(link, dir) != 0;
		free(link);
	}
	for (size_t i = 0; i < m->n && !yes; i++) {
		const char *config = m->v[i].kind == PT_MREC_CONFIG ? m->v[i].path
				     : m->v[i].kind == PT_MREC_OPTION && strcmp(m->v[i].path, "config") == 0 ? m->v[i].arg
				     : NULL;

		yes = config && pt_path_is_under(config, dir) && strcmp(config, dir) != 0;
	}
	return yes;
}

static bool
no_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* NULL when r is a record install of layout l writes, else why not (the caller frees). */
static char *
record_problem(enum pt_layout l, const struct pt_manifest *m, const struct pt_mrec *r)
{
	const struct pt_layout_paths *p = pt_layout_paths(l);
	bool link;

	if (r->kind == PT_MREC_OPTION) {
		if (strcmp(r->path, "config") != 0 && strcmp(r->path, "lock") != 0)
			return xasprintf("'%s' is not an option install records", r->path);
		if (!pt_install_path_ok(r->arg))
			return xasprintf("option '%s' is '%s', not an absolute path of letters, digits and /._+-",
					 r->path, r->arg);
		return NULL;
	}
	if (!pt_path_clean(r->path))
		return xasprintf("'%s' is not a clean absolute path", r->path);
	switch (r->kind) {
	case PT_MREC_DIR:
		return is_parent_of_written(l, m, r->path) ? NULL
		       : xasprintf("'%s' is not a directory install creates", r->path);
	case PT_MREC_FILE:
		return is_layout_file(l, r->path, &link) ? NULL : xasprintf("'%s' is not a file install writes", r->path);
	case PT_MREC_CONFIG:
		return pt_install_path_ok(r->path) ? NULL
		       : xasprintf("'%s' is not an absolute path of letters, digits and /._+-", r->path);
	case PT_MREC_REPLACED:
		if (!is_layout_file(l, r->path, &link) || link)
			return xasprintf("'%s' is not a file install replaces", r->path);
		return is_backup(l, r->arg) ? NULL : xasprintf("'%s' is not a backup install writes", r->arg);
	case PT_MREC_LINK:
		if (!is_layout_file(l, r->path, &link) || !link)
			return xasprintf("'%s' is not a link install writes", r->path);
		return no_control(r->arg) ? NULL : xasprintf("the link target of '%s' has a control character", r->path);
	case PT_MREC_MOVED:
		return strcmp(r->path, PT_HOOK_PATH) == 0 && strcmp(r->arg, PT_HOOK_CHAINED) == 0
			       ? NULL
			       : xasprintf("install moves only '%s', to '%s'", PT_HOOK_PATH, PT_HOOK_CHAINED);
	case PT_MREC_EDITED: {
		char *orig = xasprintf("%s/%s", p->state_dir, PT_PKG_ORIG_NAME);
		bool ok = p->pkg_script && strcmp(r->path, p->pkg_script) == 0 && strcmp(r->arg, orig) == 0;

		free(orig);
		return ok ? NULL : xasprintf("'%s' is not a file install edits", r->path);
	}
	case PT_MREC_MTIME: {
		long long s;
		long ns;

		/* which directories: the planner checks against the tree (they may be where a link leads) */
		return pt_mtime_parse(r->arg, &s, &ns) ? NULL : xasprintf("'%s' is not a time", r->arg);
	}
	case PT_MREC_OPTION:
		break;
	}
	return NULL;
}

/* Whether kind takes an argument. */
static bool
has_arg(enum pt_mrec_kind k)
{
	return k != PT_MREC_DIR && k != PT_MREC_FILE && k != PT_MREC_CONFIG;
}

int
pt_manifest_parse(enum pt_layout l, const char *text, struct pt_manifest *ret, unsigned *reterr_line,
		  char **reterr_why)
{
	struct pt_manifest m = { l, NULL, 0, 0 };
	const char *line = text;
	unsigned lineno = 0;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *s = xstrndup(line, len), *path, *arg;
		size_t k = N_KINDS;

		lineno++;
		line += len + (nl ? 1 : 0);
		if (lineno == 1) {
			bool head = strncmp(s, MANIFEST_HEAD, strlen(MANIFEST_HEAD)) == 0;

			free(s);
			if (!head)
				goto bad;
			continue;
		}
		path = strchr(s, '\t');
		if (path) {
			*path++ = '\0';
			arg = strchr(path, '\t');
			if (arg)
				*arg++ = '\0';
			for (k = 0; k < N_KINDS && strcmp(s, kind_names[k]) != 0; k++)
				;
		}
		if (k == N_KINDS || !path[0] || has_arg((enum pt_mrec_kind)k) != (arg != NULL) || (arg && !arg[0]) ||
		    (arg && strchr(arg, '\t'))) {
			free(s);
			goto bad;
		}
		push(&m, (enum pt_mrec_kind)k, path, arg, lineno);
		free(s);
	}
	if (lineno == 0)
		goto bad;
	/* what each record says, once all are read (a directory may be a config's parent) */
	for (size_t i = 0; i < m.n; i++) {
		char *why = record_problem(l, &m, &m.v[i]);

		if (why) {
			*reterr_line = m.v[i].line;
			*reterr_why = why;
			pt_manifest_done(&m);
			return -EINVAL;
		}
	}
	*ret = m;
	return 0;
bad:
	*reterr_line = lineno ? lineno : 1;
	*reterr_why = NULL;
	pt_manifest_done(&m);
	return -EINVAL;
}
