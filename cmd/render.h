/* render.h: shared pieces of the human and JSON output of plan, status and devices. */
#ifndef PT_RENDER_H
#define PT_RENDER_H

#include <stdio.h>

#include "cmd/cmd.h"
#include "model/config.h"
#include "model/diag.h"
#include "model/observed.h"
#include "reconcile/plan.h"

/* Prints each diagnostic as one line on stderr. */
void pt_print_diags(const struct pt_diags *d);

/*
 * Reads the configuration (ctx->config_path) and observes the host: sysfs always, libvirt
 * when with_libvirt. Prints what fails (one line each) and returns an exit status;
 * PT_EXIT_OK with *cfg and *obs filled otherwise.
 */
int pt_load_and_observe(const struct pt_ctx *ctx, bool with_libvirt, struct pt_config *cfg,
			struct pt_observed *obs);

/* "Intel Corporation 82574L Gigabit Network Connection", or "unknown device"; caller frees. */
char *pt_render_name(const struct pt_pcidev *d);

/* A step as people read it: "driver_override (none) -> vfio-pci", "attach to frigate_VM (live)"; caller frees. */
char *pt_render_step(const struct pt_step *s);

#endif
