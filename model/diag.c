/* diag.c: a list of user-facing diagnostics ("FILE:LINE:COL: message"), collected rather than printed. */
#include "model/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/xalloc.h"

/*
 * Messages quote what the user wrote, which may hold anything: control characters are
 * escaped (a message stays one line and cannot drive the terminal) and the length is capped.
 */
static char *
sanitize(const char *in)
{
	size_t max = PT_DIAG_MAX_LEN, n = 0;
	char *out = xmalloc(max * 4 + 4);
	const unsigned char *c;

	for (c = (const unsigned char *)in; *c && n < max; c++) {
		if (*c == '\n') {
			memcpy(out + n, "\\n", 2);
			n += 2;
		} else if (*c == '\t') {
			memcpy(out + n, "\\t", 2);
			n += 2;
		} else if (*c < 0x20 || *c == 0x7f) {
			n += (size_t)snprintf(out + n, 5, "\\x%02x", *c);
		} else {
			out[n++] = (char)*c;
		}
	}
	if (*c) {   /* cut: some of the input is left */
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

void
pt_diags_add(struct pt_diags *d, const char *file, unsigned line, unsigned col,
	     const char *fmt, ...)
{
	struct pt_diag *diag;
	va_list ap;
	char *raw;

	xgrow(&d->v, &d->cap, d->n + 1, sizeof(*d->v));
	diag = &d->v[d->n++];
	diag->file = file ? xstrdup(file) : NULL;
	diag->line = line;
	diag->col = col;
	va_start(ap, fmt);
	raw = xvasprintf(fmt, ap);
	va_end(ap);
	diag->msg = sanitize(raw);
	free(raw);
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
