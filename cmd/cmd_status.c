/* cmd_status.c: `passthrough status`: show desired and actual state per declared device (built by issue #4; until then it says so). */
#include "cmd/cmd.h"

static int
status_run(struct pt_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return pt_cmd_not_implemented(&pt_cmd_status);
}

const struct pt_cmd pt_cmd_status = {
	.name = "status",
	.summary = "show desired and actual state per declared device (not implemented yet)",
	.usage = "[-c FILE] [--json]",
	.help =
	"For each device in the file: the driver and VM it should have and has, whether\n"
	"it is converged, and why not.\n"
	"\n"
	"Not implemented yet: exits 69.\n",
	.options = 0,
	.min_args = 0,
	.max_args = 0,
	.run = status_run,
};
