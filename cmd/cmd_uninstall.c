/* cmd_uninstall.c: `passthrough uninstall`: undo exactly what install did (built by issue #6; until then it says so). */
#include "cmd/cmd.h"

static int
uninstall_run(struct pt_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return pt_cmd_not_implemented(&pt_cmd_uninstall);
}

const struct pt_cmd pt_cmd_uninstall = {
	.name = "uninstall",
	.summary = "undo exactly what install did (not implemented yet)",
	.usage = "[--dsm | --systemd] [--root DIR] [--dry-run]",
	.help =
	"Removes what install put in place and restores what it replaced.\n"
	"\n"
	"Not implemented yet: exits 69.\n",
	.options = PT_OPT_DSM | PT_OPT_SYSTEMD | PT_OPT_ROOT | PT_OPT_DRY_RUN,
	.min_args = 0,
	.max_args = 0,
	.run = uninstall_run,
};
