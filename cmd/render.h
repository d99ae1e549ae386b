/* render.h: shared pieces of the human and JSON output of plan, status and devices. */
#ifndef PT_RENDER_H
#define PT_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "model/config.h"
#include "model/diag.h"
#include "model/observed.h"
#include "reconcile/apply.h"
#include "reconcile/plan.h"
#include "reconcile/reconcile.h"

/* Prints each diagnostic as one line on stderr. */
void pt_print_diags(const struct pt_diags *d);

/*
 * Reads the configuration (ctx->config_path) and observes the host: sysfs always, libvirt
 * when with_libvirt. Prints what fails (one line each) and returns an exit status;
 * PT_EXIT_OK with *cfg and *obs filled otherwise.
 */
int pt_load_and_observe(const struct pt_ctx *ctx, bool with_libvirt, struct pt_config *cfg,
			struct pt_observed *obs);

/* The reconcile options that ctx's command line says (report: pt_report_step; set report_data). */
struct pt_reconcile_opts pt_reconcile_opts_of(const struct pt_ctx *ctx);

/* Prints a dry pass as plan does (text or --json; problems on stderr) and returns plan's exit
 * status (with detailed_exitcode: 2 for changes pending); r is what pt_reconcile() returned. */
int pt_print_plan(const struct pt_ctx *ctx, const struct pt_reconcile_result *res, int r, bool detailed_exitcode);

/* "Intel Corporation 82574L Gigabit Network Connection", or "unknown device"; caller frees. */
char *pt_render_name(const struct pt_pcidev *d);

/* What the kernel can reset d with: its reset_method ("flr pm bus"), "yes (methods unknown:
 * kernel before 5.15)" when it has `reset` but no reset_method, "none" when it has no `reset`,
 * "unknown"; borrowed (owned by d, or static). */
const char *pt_render_reset(const struct pt_pcidev *d);

/* "D3hot (power/control auto, d3cold_allowed 1)"; "unknown" for what the kernel does not say
 * ("unknown" alone when it says none of the three); caller frees. */
char *pt_render_power(const struct pt_pcidev *d);

/* The power and reset facts of d as JSON members, each with its leading comma: power_state,
 * power_control (strings), d3cold_allowed, has_reset (booleans), reset_methods (a list; [] when
 * it has no `reset`); null for what is unknown, all null when d is NULL. */
void pt_json_power(FILE *f, const struct pt_pcidev *d);

/* The disable_idle_d3 vfio-pci has in force against the one cfg declares: "Y in force, as
 * declared", "declared Y but N is in force until vfio-pci is loaded again", "declared Y; cannot
 * tell: vfio-pci was loaded by something else", "declared Y; vfio-pci not loaded (apply loads it
 * with disable_idle_d3=1)". NULL when cfg does not declare it. *ret_ok: whether the declared
 * value is in force or will be at the next load apply makes. Caller frees. */
char *pt_render_idle_d3(const struct pt_config *cfg, const struct pt_observed *obs, bool *ret_ok);

/* A step as people read it: "driver_override (none) -> vfio-pci", "attach to frigate_VM (live)"; caller frees. */
char *pt_render_step(const struct pt_step *s);

/* How apply and the hook report: one syslog line per change; stderr as below. */
struct pt_report {
	bool to_stderr;   /* changes too, not only errors: interactive, or -v */
	bool verbose;     /* also the steps held or skipped */
};

/* One line to syslog, and to stderr when rep->to_stderr or it is an error. */
void pt_say(const struct pt_report *rep, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* How apply, watch and the hook report a pass: the problems, a failure to lock or observe,
 * and what is still to do after applying, one line each (syslog; stderr for errors). */
void pt_report_pass(const struct pt_reconcile_result *res, const struct pt_report *rep);

/* A pt_step_report_fn for pt_apply(): data is a struct pt_report. */
void pt_report_step(void *data, const struct pt_step *s, enum pt_step_outcome o, const char *msg);

#endif
