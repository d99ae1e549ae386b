/* statefile.h: state.json (each device's history) read and written under the state directory after every pass, the notifier started for what changed, and the metrics file written. */
#ifndef PT_STATEFILE_H
#define PT_STATEFILE_H

#include <stdint.h>

#include "model/config.h"
#include "model/history.h"
#include "model/observed.h"
#include "reconcile/apply.h"
#include "reconcile/host.h"
#include "reconcile/plan.h"

#ifndef PT_STATE_DIR
#define PT_STATE_DIR "/var/lib/passthrough"
#endif
#define PT_STATE_FILE "state.json"

/* h->state_dir "/state.json", or NULL without a state directory; the caller frees. */
char *pt_state_path(const struct pt_host *h);

/*
 * Reads the history at path into *ret: 0; -ENOENT when there is none yet (*ret empty);
 * -EINVAL when it is not a valid one, or another negative errno (*ret empty, *reterr one
 * line saying so; the caller frees).
 */
int pt_state_load(const char *path, struct pt_history *ret, char **reterr);

/* One step's outcome, as a pass saw it (pt_state_log_step()). */
struct pt_state_step {
	char *device;
	enum pt_step_kind kind;
	enum pt_step_outcome outcome;
	char *to, *from;
	char *msg;
};

struct pt_state_log {
	struct pt_state_step *v;
	size_t n, cap;
};

void pt_state_log_step(struct pt_state_log *log, const struct pt_step *s, enum pt_step_outcome o, const char *msg);
void pt_state_log_done(struct pt_state_log *log);

/* What a pass did, for its history. */
struct pt_state_pass {
	const struct pt_config *cfg;
	const struct pt_plan *plan;        /* as planned first */
	const struct pt_plan *after;       /* planned again after applying, or NULL */
	const struct pt_state_log *log;
	const struct pt_observed *obs;     /* the last observation */
	const char *error;                 /* the pass's own error after applying, or NULL */
	bool full;                         /* every entry in scope (not --vm, the hook or --host-only) */
	const char *metrics_file;          /* --metrics-file, else cfg's metrics_file, else NULL */
	int64_t now;
	double duration;
};

/*
 * Records a pass: reads state.json, makes the next history from what the pass did, writes it
 * atomically, starts the notifier (cfg's notify) once per device that failed or recovered,
 * detached, and writes the metrics file. Never fails the pass: *ret_warning (state.json was
 * unreadable and is rebuilt) and *ret_error (what could not be written or started) are one
 * line each or NULL; the caller frees them.
 */
void pt_state_record(const struct pt_host *h, const struct pt_state_pass *p, char **ret_warning, char **ret_error);

#endif
