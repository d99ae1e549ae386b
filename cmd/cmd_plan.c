/* cmd_plan.c: `passthrough plan`: observe, plan and print the steps; changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/render.h"
#include "reconcile/reconcile.h"

static const struct pt_option opt_detailed_exitcode = {
	.name = "detailed-exitcode", .type = PT_OPT_FLAG,
	.help = "exit 0 when nothing to do, 2 when changes are pending, 1 on error",
};

static int
plan_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct pt_reconcile_opts o = pt_reconcile_opts_of(ctx);
	struct pt_reconcile_result res;
	int r;

	(void)argc;
	(void)argv;
	if (ctx->host_only && ctx->vm) {
		fprintf(stderr, "passthrough: '--vm' needs libvirt, '--host-only' does without (see 'passthrough plan --help')\n");
		return PT_EXIT_USAGE;
	}
	o.dry_run = true;
	r = pt_reconcile(&ctx->host, &o, &res);
	r = pt_print_plan(ctx, &res, r, pt_opt_given(ctx, &opt_detailed_exitcode));
	pt_reconcile_result_done(&res);
	return r;
}

const struct pt_cmd pt_cmd_plan = {
	.name = "plan",
	.summary = "show the steps that would make the host match the file",
	.usage = "[-c FILE] [--vm NAME | --host-only] [--detailed-exitcode] [--lock-file FILE] [--json]",
	.help =
	"Compares passthrough.yaml with the host (sysfs driver bindings, IOMMU groups, what the\n"
	"host uses) and with every libvirt domain's live XML, and prints the steps apply would\n"
	"run, in order, one per line: + adds, - removes, ~ changes, with the reason after #.\n"
	"Prints 'Nothing to do' when the host already matches. Changes nothing. With --vm,\n"
	"only what that VM owns (the whole file is still read for the IOMMU-group rules).\n"
	"Problems (a device that is missing, ambiguous, in use by the host, or whose IOMMU\n"
	"group would not be viable) are printed one per line on stderr; the other devices are\n"
	"still planned. --host-only: what apply --host-only would do (libvirt is not asked).\n"
	"A device to give back to the host that is on no driver is probed, unless apply\n"
	"already did and no driver took it (the journal beside --lock-file): then that is\n"
	"a problem too ('no host driver claims it (probed)').\n"
	"\n"
	"Exit status: 0 success (with --detailed-exitcode: nothing to do), 1 a problem,\n"
	"2 changes pending (--detailed-exitcode only), 64 usage error.\n",
	.options = (const struct pt_option *const[]){ &opt_detailed_exitcode, &pt_opt_vm, &pt_opt_host_only,
						      &pt_opt_lock_file, NULL },
	.min_args = 0,
	.max_args = 0,
	.run = plan_run,
};
