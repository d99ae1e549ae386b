/* cmd_install.c: `passthrough install`: install the libvirt hook, boot unit and timer (built by issue #6; until then it says so). */
#include "cmd/cmd.h"

static int
install_run(struct pt_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return pt_cmd_not_implemented(&pt_cmd_install);
}

const struct pt_cmd pt_cmd_install = {
	.name = "install",
	.summary = "install the libvirt hook, boot unit and timer (not implemented yet)",
	.usage = "[--dsm | --systemd] [--root DIR] [--dry-run]",
	.help =
	"Installs the libvirt hook (chaining to an existing one), the boot unit and the\n"
	"self-heal timer, idempotently, and says what it changed.\n"
	"\n"
	"Not implemented yet: exits 69.\n",
	.options = PT_OPT_DSM | PT_OPT_SYSTEMD | PT_OPT_ROOT | PT_OPT_DRY_RUN,
	.min_args = 0,
	.max_args = 0,
	.run = install_run,
};
