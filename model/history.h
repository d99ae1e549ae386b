/* history.h: what happened to each declared device (state.json): converged since when, the last change and error, failures in a row, and the notices a pass's results make; pure. */
#ifndef PT_HISTORY_H
#define PT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_HISTORY_VERSION 1
/* A larger state file is not read (rebuilt). */
#define PT_HISTORY_MAX_BYTES ((size_t)1 << 20)

/* One device's history; times are seconds since the epoch, 0 for never. */
struct pt_hist_device {
	char *name;              /* the entry's name as the plan's steps and problems carry it */
	bool converged;          /* after the last pass that looked at it */
	int64_t since;           /* since when `converged` holds (the pass it changed, or the first) */
	char *last_change;       /* "bound to vfio-pci, attached to frigate", or NULL */
	int64_t last_change_at;
	char *last_error;        /* one line, or NULL */
	int64_t last_error_at;
	unsigned failures;       /* passes in a row that left it failed (0 when converged) */
	int64_t last_success;    /* the last pass that left it converged */
	char *driver;            /* as last seen, or NULL for none */
	char *attached_to;       /* the running domains it is attached to, "" for none */
	int64_t checked;         /* the last pass that looked at it */
};

struct pt_history {
	struct pt_hist_device *v;    /* sorted by name */
	size_t n;
	int64_t updated;             /* the last pass that wrote it */
	double duration;             /* how long that pass took, in seconds */
	bool ok;                     /* whether that pass left every device it looked at converged */
};

/* One device as a pass left it. */
struct pt_pass_device {
	const char *name;
	bool converged;
	const char *change;      /* what this pass changed for it, or NULL */
	const char *error;       /* why it is not converged (NULL when converged) */
	const char *driver;      /* as seen at the end, NULL for none */
	const char *attached_to; /* running domains, "" for none */
};

struct pt_pass {
	const struct pt_pass_device *v;
	size_t n;
	bool full;               /* it looked at every entry of the file: the others are dropped */
	int64_t now;
	double duration;
};

enum pt_notice_kind {
	PT_NOTICE_FAILURE,       /* converged (or unknown) before, failed now: the first failure */
	PT_NOTICE_RECOVERY,      /* failed before, converged now */
};

struct pt_notice {
	enum pt_notice_kind kind;
	const struct pt_hist_device *dev;   /* in the new history (borrowed) */
	unsigned failures;       /* failure: 1; recovery: the passes in a row it had failed */
};

struct pt_notices {
	struct pt_notice *v;
	size_t n;
};

/* Parses state.json text (JSON, read as YAML): 0, or -EINVAL when it is not a history of this
 * version (*ret untouched). */
int pt_history_parse(const char *buf, size_t len, struct pt_history *ret);
/* The history as state.json text (one JSON document, a newline at the end); the caller frees. */
char *pt_history_format(const struct pt_history *h);
/*
 * The history after pass, from old (which may be empty: rebuilt from the pass alone), and
 * the notices it makes: one per device whose state changed (a first failure, a recovery),
 * none for a pass that changed nothing. ret's notices point into *ret.
 */
void pt_history_next(const struct pt_history *old, const struct pt_pass *pass, struct pt_history *ret,
		     struct pt_notices *ret_notices);
/* The entry named name, or NULL (owned by h). */
const struct pt_hist_device *pt_history_find(const struct pt_history *h, const char *name);
void pt_history_done(struct pt_history *h);
void pt_notices_done(struct pt_notices *n);

const char *pt_notice_kind_name(enum pt_notice_kind k);   /* "failure", "recovery" */
/* The event as JSON (the notifier's stdin), with host (the machine's name) in it; the caller frees. */
char *pt_notice_json(const struct pt_notice *n, const char *host, int64_t now);
/* The event as NAME=value strings (PASSTHROUGH_*), NULL-terminated; free with pt_strv_free(). */
char **pt_notice_env(const struct pt_notice *n, const char *host, int64_t now);
/* One line for people: "'coral' failed: ...", "'coral' recovered (attached to frigate)"; caller frees. */
char *pt_notice_message(const struct pt_notice *n);
void pt_strv_free(char **v);

/* "2024-05-01T03:12:00Z"; buf of at least PT_TIME_BUFSZ bytes; returns buf. */
#define PT_TIME_BUFSZ 32
char *pt_time_format(int64_t t, char *buf);

/*
 * The Prometheus text exposition format of h (for node_exporter's textfile collector): per
 * device converged, attached, on vfio-pci, last success time, failures in a row; the last
 * pass's time, duration and result. The caller frees.
 */
char *pt_metrics_format(const struct pt_history *h);

#endif
