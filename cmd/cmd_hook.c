/* cmd_hook.c: `passthrough hook`: entry point for /etc/libvirt/hooks/qemu (built by issue #6; until then it says so). */
#include "cmd/cmd.h"

static int
hook_run(struct pt_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return pt_cmd_not_implemented(&pt_cmd_hook);
}

const struct pt_cmd pt_cmd_hook = {
	.name = "hook",
	.summary = "entry point for /etc/libvirt/hooks/qemu (not implemented yet)",
	.usage = "DOMAIN OPERATION SUB-OPERATION EXTRA",
	.help =
	"Called by libvirt's qemu hook with the domain XML on stdin. Never calls libvirt:\n"
	"binds devices on prepare, hands the attach to a detached worker on started.\n"
	"\n"
	"Not implemented yet: exits 69.\n",
	.options = 0,
	.min_args = 0,
	.max_args = 4,
	.run = hook_run,
};
