/* diag.h: a list of user-facing diagnostics ("FILE:LINE:COL: message"), collected rather than printed. */
#ifndef PT_DIAG_H
#define PT_DIAG_H

#include <stddef.h>

struct pt_diag {
	char *file;      /* owned; NULL when the message is not about a file */
	unsigned line;   /* 1-based; 0 when the message has no position */
	unsigned col;    /* 1-based; 0 when the message has no position */
	char *msg;       /* owned */
};

struct pt_diags {
	struct pt_diag *v;
	size_t n, cap;
};

#define PT_DIAGS_INIT { NULL, 0, 0 }
/* Longer messages are cut, with "..." */
#define PT_DIAG_MAX_LEN 400

/* Adds a message; control characters in it are escaped and it is cut at PT_DIAG_MAX_LEN. */
void pt_diags_add(struct pt_diags *d, const char *file, unsigned line, unsigned col,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Orders by file, line, column; keeps insertion order for equal positions. */
void pt_diags_sort(struct pt_diags *d);
/* Returns the diagnostic as one line without newline, "FILE:LINE:COL: msg"; the caller frees it. */
char *pt_diag_format(const struct pt_diag *diag);
/* Frees the contents and leaves d empty; accepts NULL. */
void pt_diags_done(struct pt_diags *d);

#endif
