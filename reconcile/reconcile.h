/* reconcile.h: one reconcile pass (lock, read the file, observe, plan, apply, observe again), the entry point of apply, plan, the hook and watch. */
#ifndef PT_RECONCILE_H
#define PT_RECONCILE_H

#include <stdbool.h>

#include "model/config.h"
#include "model/diag.h"
#include "model/observed.h"
#include "reconcile/apply.h"
#include "reconcile/host.h"
#include "reconcile/plan.h"

struct pt_reconcile_opts {
	const char *config_path;      /* passthrough.yaml */
	const struct pt_config *cfg;  /* the file, read already (borrowed), or NULL: read config_path */
	const char *only_vm;          /* only what this VM owns (name, UUID or title), or NULL */
	bool host_only;               /* sysfs only, libvirt never asked (boot) */
	bool dry_run;                 /* observe and plan only: no lock, no change */
	bool all_power;               /* read every device's power and reset attributes, not only
				       * the file's devices' (pt_observe_power()) */
	unsigned wait_running_ms;     /* first wait up to this long until only_vm runs (the hook's worker) */
	unsigned lock_timeout_ms;     /* for h->lock_file (when NULL: no lock is taken) */
	/* The libvirt hook: the one domain it knows, from libvirt's own XML (borrowed; state
	 * set by the caller). libvirt is never called; attach and detach are left out. */
	const struct pt_domain *hook_domain;
	struct pt_apply_opts apply;
	pt_step_report_fn report;     /* each step's outcome (apply only); may be NULL */
	void *report_data;
	const char *metrics_file;     /* --metrics-file (else the file's metrics_file), or NULL */
};

/* Where a pass stopped. */
enum pt_reconcile_stage {
	PT_RECONCILE_DONE,            /* it ran to the end (problems and failures may still be there) */
	PT_RECONCILE_LOCK,            /* the lock could not be taken: nothing read, nothing changed */
	PT_RECONCILE_CONFIG,          /* the file is unreadable or invalid: diags say why */
	PT_RECONCILE_OBSERVE,         /* the host could not be observed: error says why */
};

struct pt_reconcile_result {
	enum pt_reconcile_stage stage;
	char *error;                  /* PT_RECONCILE_LOCK, _OBSERVE; or after applying: one line */
	char *wait_error;             /* wait_running_ms ran out or libvirt could not say (the pass goes on) */
	char *record_error;           /* the vm record (reconcile/vmrecord.h) could not be written (goes on) */
	char *state_warning;          /* state.json was unreadable: rebuilt (reconcile/statefile.h) */
	char *state_error;            /* state.json or the metrics could not be written, or the
				       * notifier not started (the pass goes on) */
	struct pt_diags diags;        /* PT_RECONCILE_CONFIG */
	struct pt_config cfg;         /* read (valid from PT_RECONCILE_OBSERVE on; empty when o->cfg) */
	struct pt_observed obs;       /* as observed first */
	struct pt_plan plan;          /* the plan made from it (DONE) */
	unsigned failed;              /* steps that failed */
	/* A device brought back by a check or a rescan (PT_STEP_RECOVERED) is planned and applied
	 * once more within the pass; those steps are reported like the first plan's. */
	bool replanned;               /* steps ran, the host was observed again and `after` planned
				       * (not after a write that did not return: see PT_STEP_TIMED_OUT) */
	struct pt_plan after;         /* what is still to do after applying (replanned) */
};

/*
 * Runs one pass with o. A pass that is not a dry run and got as far as planning is recorded
 * (pt_state_record(): state.json, the notifier, the metrics) before the lock is let go.
 * Never prints: the caller reports from *ret (free it with
 * pt_reconcile_result_done()). Returns 0 when the host matches the file at the end (for a
 * dry run: when there is no problem), else -1 (*ret says what).
 */
int pt_reconcile(const struct pt_host *h, const struct pt_reconcile_opts *o, struct pt_reconcile_result *ret);
void pt_reconcile_result_done(struct pt_reconcile_result *r);

/*
 * Reads the file and observes the host (libvirt too when with_libvirt): the first half of a
 * pass, for the commands that only look (status, devices, doctor). 0, or -1 with ret->stage
 * and ret->diags or ret->error set.
 */
int pt_reconcile_observe(const struct pt_host *h, const char *config_path, bool with_libvirt,
			 struct pt_reconcile_result *ret);

#endif
