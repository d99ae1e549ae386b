/* cmd_doctor.c: `passthrough doctor`: check the host is ready for passthrough (built by issue #6; until then it says so). */
#include "cmd/cmd.h"

static int
doctor_run(struct pt_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return pt_cmd_not_implemented(&pt_cmd_doctor);
}

const struct pt_cmd pt_cmd_doctor = {
	.name = "doctor",
	.summary = "check the host is ready for passthrough (not implemented yet)",
	.usage = "[-c FILE]",
	.help =
	"Preflight checks, one line each with PASS, WARN or FAIL: IOMMU, driver_override,\n"
	"vfio-pci, libvirt, the hook, the configuration and every declared device.\n"
	"\n"
	"Not implemented yet: exits 69.\n",
	.options = 0,
	.min_args = 0,
	.max_args = 0,
	.run = doctor_run,
};
