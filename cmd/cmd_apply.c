/* cmd_apply.c: `passthrough apply`: make the host match the file (built by issue #5; until then it says so). */
#include "cmd/cmd.h"

static int
apply_run(struct pt_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return pt_cmd_not_implemented(&pt_cmd_apply);
}

const struct pt_cmd pt_cmd_apply = {
	.name = "apply",
	.summary = "make the host match the file (not implemented yet)",
	.usage = "[-c FILE] [--vm NAME] [--dry-run]",
	.help =
	"Runs the plan: rebinds each declared device to vfio-pci through driver_override,\n"
	"hot-plugs it into its running VM, detaches and releases what the file says, and\n"
	"verifies every step. Safe to run again at any time.\n"
	"\n"
	"Not implemented yet: exits 69.\n",
	.options = PT_OPT_VM | PT_OPT_DRY_RUN,
	.min_args = 0,
	.max_args = 0,
	.run = apply_run,
};
