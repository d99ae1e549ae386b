/* cmd_watch.c: `passthrough watch`: follow libvirt lifecycle events and reconcile (built by issue #6; until then it says so). */
#include "cmd/cmd.h"

static int
watch_run(struct pt_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return pt_cmd_not_implemented(&pt_cmd_watch);
}

const struct pt_cmd pt_cmd_watch = {
	.name = "watch",
	.summary = "follow libvirt lifecycle events and reconcile (not implemented yet)",
	.usage = "[-c FILE]",
	.help =
	"Stays running, subscribes to libvirt domain lifecycle events and reconciles a VM\n"
	"as soon as it starts; reconnects when libvirtd restarts.\n"
	"\n"
	"Not implemented yet: exits 69.\n",
	.options = 0,
	.min_args = 0,
	.max_args = 0,
	.run = watch_run,
};
