/* diag.c: a list of user-facing diagnostics ("FILE:LINE:COL: message"), collected rather than printed. */
#include "model/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/xalloc.h"

void
pt_diags_add(struct pt_diags *d, const char *file, unsigned line, unsigned col,
	     const char *fmt, ...)
{
	struct pt_diag *diag;
	va_list ap;

	xgrow(&d->v, &d->cap, d->n + 1, sizeof(*d->v));
	diag = &d->v[d->n++];
	diag->file = file ? xstrdup(file) : NULL;
	diag->line = line;
	diag->col = col;
	va_start(ap, fmt);
	diag->msg = xvasprintf(fmt, ap);
	va_end(ap);
}

static int
diag_cmp(const struct pt_diag *a, const struct pt_diag *b)
{
	int r = strcmp(a->file ? a->file : "", b->file ? b->file : "");

	if (r)
		return r;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return 0;
}

void
pt_diags_sort(struct pt_diags *d)
{
	/* Insertion sort: stable, and lists are short. */
	for (size_t i = 1; i < d->n; i++) {
		struct pt_diag tmp = d->v[i];
		size_t j = i;

		while (j > 0 && diag_cmp(&d->v[j - 1], &tmp) > 0) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = tmp;
	}
}

char *
pt_diag_format(const struct pt_diag *diag)
{
	if (!diag->file)
		return xstrdup(diag->msg);
	if (diag->line == 0)
		return xasprintf("%s: %s", diag->file, diag->msg);
	return xasprintf("%s:%u:%u: %s", diag->file, diag->line, diag->col, diag->msg);
}

void
pt_diags_done(struct pt_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}
