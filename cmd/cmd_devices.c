/* cmd_devices.c: `passthrough devices`: list PCI devices with drivers and IOMMU groups (built by issue #4; until then it says so). */
#include "cmd/cmd.h"

static int
devices_run(struct pt_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return pt_cmd_not_implemented(&pt_cmd_devices);
}

const struct pt_cmd pt_cmd_devices = {
	.name = "devices",
	.summary = "list PCI devices with drivers and IOMMU groups (not implemented yet)",
	.usage = "[--json]",
	.help =
	"Lists every PCI device: address, ids, names, class, driver, IOMMU group and its\n"
	"members, whether the host depends on it, and which entry of the file claims it.\n"
	"\n"
	"Not implemented yet: exits 69.\n",
	.options = 0,
	.min_args = 0,
	.max_args = 0,
	.run = devices_run,
};
