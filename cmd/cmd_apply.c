/* cmd_apply.c: `passthrough apply`: lock, observe, plan, run the steps, observe again; one log line per change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/render.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/reconcile.h"

static const struct pt_option opt_wait_running = {
	.name = "wait-running", .type = PT_OPT_SECONDS, .arg = "S", .max = 3600,
	.help = "first wait up to S seconds until the --vm domain runs",
};

#define STR_(x) #x
#define STR(x) STR_(x)
static const struct pt_option opt_write_timeout = {
	.name = "write-timeout", .type = PT_OPT_SECONDS, .arg = "S", .max = 3600, .def = STR(PT_WRITE_TIMEOUT_S),
	.help = "an unbind or drivers_probe slower than S seconds is the device's error",
};

static int
apply_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct pt_report rep = { isatty(STDERR_FILENO) || ctx->verbose > 0, ctx->verbose > 0 };
	struct pt_reconcile_opts o = pt_reconcile_opts_of(ctx);
	struct pt_reconcile_result res;
	int r;

	(void)argc;
	(void)argv;
	if (ctx->quiet)
		rep.to_stderr = rep.verbose = false;
	if (ctx->host_only && ctx->vm) {
		fprintf(stderr, "passthrough: '--vm' needs libvirt, '--host-only' does without (see 'passthrough apply --help')\n");
		return PT_EXIT_USAGE;
	}
	o.wait_running_ms = pt_opt_seconds(ctx, &opt_wait_running) * 1000;
	if (o.wait_running_ms && !ctx->vm) {
		fprintf(stderr, "passthrough: '--wait-running' needs '--vm' (see 'passthrough apply --help')\n");
		return PT_EXIT_USAGE;
	}
	o.apply.write_timeout_ms = pt_opt_seconds(ctx, &opt_write_timeout) * 1000;
	if (!o.apply.write_timeout_ms) {
		fprintf(stderr, "passthrough: '--write-timeout' takes 1 to 3600 seconds (see 'passthrough apply --help')\n");
		return PT_EXIT_USAGE;
	}
	if (ctx->dry_run) {
		/* what plan prints */
		r = pt_reconcile(&ctx->host, &o, &res);
		r = pt_print_plan(ctx, &res, r, false);
		pt_reconcile_result_done(&res);
		return r;
	}
	openlog("passthrough", LOG_PID, LOG_DAEMON);
	o.report_data = &rep;
	r = pt_reconcile(&ctx->host, &o, &res);
	pt_report_pass(&res, &rep);
	pt_reconcile_result_done(&res);
	pt_pci_names_done();
	closelog();
	return r < 0 ? PT_EXIT_FAIL : PT_EXIT_OK;
}

const struct pt_cmd pt_cmd_apply = {
	.name = "apply",
	.summary = "make the host match the file",
	.usage = "[-c FILE] [--vm NAME [--wait-running S] | --host-only] [--dry-run] [--lock-file FILE] [--lock-timeout S] [--write-timeout S]",
	.help =
	"Takes the lock, observes, plans, and runs each step: rebinds declared devices to\n"
	"vfio-pci through driver_override, unbind and drivers_probe (waiting until the driver\n"
	"link says so), loads vfio-pci with modprobe when needed, hot-plugs a managed='no'\n"
	"<hostdev> into the running domain, and detaches (waiting for the guest to let go) and\n"
	"releases what the file says. Each step checks first and does nothing when its goal\n"
	"already holds, so running it again is always safe; then it observes again.\n"
	"Released means on a host driver: a device to give back that is on no driver is\n"
	"probed; when no driver takes it, that goes into the journal beside the lock file\n"
	"and is an error ('no host driver claims it (probed)'), reported by later runs too\n"
	"without probing again, until a driver module comes or goes.\n"
	"A failing device does not stop the others (without vfio-pci, no device is moved).\n"
	"Each unbind and drivers_probe write is made by a child process and bounded (10 s,\n"
	"--write-timeout S): one that does not return is the device's error ('the device is\n"
	"probably wedged'); the child is left behind, the other devices go on, exit 1.\n"
	"One line per change goes to syslog (and to stderr when interactive or with -v);\n"
	"errors go to stderr always, one line each; when nothing needs doing it prints nothing.\n"
	"--vm NAME: only what that VM owns. --wait-running S: first wait up to S seconds until\n"
	"that VM runs (the hook's worker uses it). --dry-run: the same as plan.\n"
	"--host-only: never calls libvirt; binds the declared devices to vfio-pci and gives\n"
	"nothing back to the host (a VM may hold it): the boot step, run before libvirtd.\n"
	"\n"
	"Exit status: 0 the host matches the file, 1 something failed or is left to do\n"
	"(one line each on stderr), 64 usage error.\n",
	.options = (const struct pt_option *const[]){ &pt_opt_vm, &opt_wait_running, &pt_opt_host_only, &pt_opt_dry_run,
						      &pt_opt_lock_file, &pt_opt_lock_timeout, &opt_write_timeout, NULL },
	.min_args = 0,
	.max_args = 0,
	.run = apply_run,
};
