/* cmd_apply.c: `passthrough apply`: lock, observe, plan, run the steps, observe again; one log line per change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/render.h"
#include "model/xalloc.h"
#include "reconcile/apply.h"
#include "reconcile/lock.h"
#include "reconcile/observe_libvirt.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/plan.h"

static int
apply_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct pt_report rep = { isatty(STDERR_FILENO) || ctx->verbose > 0, ctx->verbose > 0 };
	struct pt_apply_opts opts = PT_APPLY_OPTS_DEFAULT;
	struct pt_config cfg;
	struct pt_observed obs = { 0 };
	struct pt_plan plan, after;
	char *err = NULL;
	unsigned failed;
	int lock, r;

	if (ctx->dry_run)
		return pt_cmd_plan.run(ctx, argc, argv);
	if (ctx->quiet)
		rep.to_stderr = rep.verbose = false;
	if (ctx->host_only && ctx->vm) {
		fprintf(stderr, "passthrough: '--vm' needs libvirt, '--host-only' does without (see 'passthrough apply --help')\n");
		return PT_EXIT_USAGE;
	}
	openlog("passthrough", LOG_PID, LOG_DAEMON);
	if (ctx->wait_running_s) {
		if (!ctx->vm) {
			fprintf(stderr, "passthrough: '--wait-running' needs '--vm' (see 'passthrough apply --help')\n");
			return PT_EXIT_USAGE;
		}
		/* The hook's worker: libvirt runs the VM's vCPUs only after the hook returned. */
		if (pt_wait_domain_running(&ctx->host, ctx->vm, ctx->wait_running_s * 1000, &err) < 0) {
			pt_say(&rep, LOG_ERR, "%s; applying anyway", err);
			free(err);
			err = NULL;
		}
	}
	lock = pt_lock_take(ctx->lock_file, ctx->lock_timeout_s * 1000, &err);
	if (lock < 0) {
		fprintf(stderr, "passthrough: %s\n", err);
		syslog(LOG_ERR, "%s", err);
		free(err);
		return PT_EXIT_FAIL;
	}
	r = pt_load_and_observe(ctx, !ctx->host_only, &cfg, &obs);
	if (r) {
		close(lock);
		return r;
	}
	pt_plan_compute(&cfg, &obs, ctx->vm, &plan);
	for (size_t i = 0; i < plan.n_problems; i++)
		pt_say(&(struct pt_report){ false, false }, LOG_ERR, "%s", plan.problems[i].message);
	failed = pt_apply(&ctx->host, &plan, &opts, pt_report_step, &rep);

	/* Observe again after any step: the run succeeded only if nothing is left to do. A no-op
	 * (what the timer runs all day) changed nothing, so it has nothing to look at twice. */
	if (plan.n_steps) {
		r = pt_observe_sysfs(&ctx->host, &obs, &err);
		if (r == 0 && !ctx->host_only)
			r = pt_observe_libvirt(&ctx->host, &cfg, &obs, &err);
	}
	if (r < 0) {
		fprintf(stderr, "passthrough: after applying: %s\n", err);
		free(err);
	} else if (failed == 0 && plan.n_steps) {
		pt_plan_compute(&cfg, &obs, ctx->vm, &after);
		for (size_t i = 0; i < after.n_steps; i++) {
			char *action = pt_render_step(&after.steps[i]);
			char a[PT_PCIADDR_BUFSZ];

			pt_say(&(struct pt_report){ false, false }, LOG_ERR, "'%s' %s: still to do after applying: %s (%s)",
			    after.steps[i].device ? after.steps[i].device : "host",
			    pt_pciaddr_format(&after.steps[i].addr, a), action, after.steps[i].reason);
			free(action);
		}
		failed += (unsigned)after.n_steps;
		pt_plan_done(&after);
	}
	r = r < 0 || failed || plan.n_problems ? PT_EXIT_FAIL : PT_EXIT_OK;
	pt_plan_done(&plan);
	pt_observed_done(&obs);
	pt_config_done(&cfg);
	pt_pci_names_done();
	close(lock);
	closelog();
	return r;
}

const struct pt_cmd pt_cmd_apply = {
	.name = "apply",
	.summary = "make the host match the file",
	.usage = "[-c FILE] [--vm NAME [--wait-running S] | --host-only] [--dry-run] [--lock-file FILE] [--lock-timeout S]",
	.help =
	"Takes the lock, observes, plans, and runs each step: rebinds declared devices to\n"
	"vfio-pci through driver_override, unbind and drivers_probe (waiting until the driver\n"
	"link says so), loads vfio-pci with modprobe when needed, hot-plugs a managed='no'\n"
	"<hostdev> into the running domain, and detaches (waiting for the guest to let go) and\n"
	"releases what the file says. Each step checks first and does nothing when its goal\n"
	"already holds, so running it again is always safe; then it observes again.\n"
	"A failing device does not stop the others (without vfio-pci, no device is moved).\n"
	"One line per change goes to syslog (and to stderr when interactive or with -v);\n"
	"errors go to stderr always, one line each; when nothing needs doing it prints nothing.\n"
	"--vm NAME: only what that VM owns. --wait-running S: first wait up to S seconds until\n"
	"that VM runs (the hook's worker uses it). --dry-run: the same as plan.\n"
	"--host-only: never calls libvirt; binds the declared devices to vfio-pci and gives\n"
	"nothing back to the host (a VM may hold it): the boot step, run before libvirtd.\n"
	"\n"
	"Exit status: 0 the host matches the file, 1 something failed or is left to do\n"
	"(one line each on stderr), 64 usage error.\n",
	.options = PT_OPT_VM | PT_OPT_DRY_RUN | PT_OPT_LOCK_FILE | PT_OPT_LOCK_TIMEOUT | PT_OPT_WAIT_RUNNING | PT_OPT_HOST_ONLY,
	.min_args = 0,
	.max_args = 0,
	.run = apply_run,
};
