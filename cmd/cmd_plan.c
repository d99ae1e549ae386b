/* cmd_plan.c: `passthrough plan`: show the steps that would make the host match the file (built by issue #4; until then it says so). */
#include "cmd/cmd.h"

static int
plan_run(struct pt_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return pt_cmd_not_implemented(&pt_cmd_plan);
}

const struct pt_cmd pt_cmd_plan = {
	.name = "plan",
	.summary = "show the steps that would make the host match the file (not implemented yet)",
	.usage = "[-c FILE] [--detailed-exitcode] [--json]",
	.help =
	"Compares passthrough.yaml with the host (sysfs driver bindings, IOMMU groups) and\n"
	"with every domain's live XML, and prints the ordered steps apply would run. It\n"
	"changes nothing.\n"
	"\n"
	"Not implemented yet: exits 69.\n",
	.options = PT_OPT_DETAILED_EXITCODE,
	.min_args = 0,
	.max_args = 0,
	.run = plan_run,
};
