/* cmd_plan.c: `passthrough plan`: observe, plan and print the steps; changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/json.h"
#include "cmd/render.h"
#include "model/xalloc.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/plan.h"

static void
print_text(const struct pt_plan *plan, const struct pt_observed *obs)
{
	const char *last_device = NULL;
	struct pt_pciaddr last_addr = { 0, 0, 0, 0 };

	for (size_t i = 0; i < plan->n_steps; i++) {
		const struct pt_step *s = &plan->steps[i];
		char *action = pt_render_step(s);

		if (s->device && (!last_device || strcmp(last_device, s->device) != 0 ||
				  pt_pciaddr_cmp(&last_addr, &s->addr) != 0)) {
			const struct pt_pcidev *d = pt_observed_dev(obs, &s->addr);
			char a[PT_PCIADDR_BUFSZ];
			char *name = d ? pt_render_name(d) : xstrdup("?");

			printf("%s%s %s: %s%s\n", i ? "\n" : "", s->device, pt_pciaddr_format(&s->addr, a), name,
			       s->flags & PT_STEP_MEMBER ? " (member of its IOMMU group)" : "");
			free(name);
			last_device = s->device;
			last_addr = s->addr;
		}
		printf("  %c %-42s  # %s\n", pt_step_symbol(s->kind), action, s->reason);
		free(action);
	}
	for (size_t i = 0; i < plan->n_notes; i++)
		printf("%snote: %s\n", i == 0 && plan->n_steps ? "\n" : "", plan->notes[i]);
	if (plan->n_steps == 0 && plan->n_problems == 0)
		printf("%sNothing to do: the host matches the file (%zu device%s).\n",
		       plan->n_notes ? "\n" : "", plan->n_devices, plan->n_devices == 1 ? "" : "s");
	else if (plan->n_steps)
		printf("\nPlan: %zu step%s for %zu device%s.\n", plan->n_steps, plan->n_steps == 1 ? "" : "s",
		       plan->n_devices, plan->n_devices == 1 ? "" : "s");
	for (size_t i = 0; i < plan->n_problems; i++)
		fprintf(stderr, "passthrough: %s\n", plan->problems[i].message);
}

static void
print_json(const struct pt_plan *plan)
{
	printf("{\"steps\":[");
	for (size_t i = 0; i < plan->n_steps; i++) {
		const struct pt_step *s = &plan->steps[i];
		char a[PT_PCIADDR_BUFSZ];

		printf("%s{\"kind\":\"%s\",\"device\":", i ? "," : "", pt_step_kind_name(s->kind));
		pt_json_string(stdout, s->device);
		printf(",\"address\":");
		pt_json_string(stdout, s->device ? pt_pciaddr_format(&s->addr, a) : NULL);
		printf(",\"from\":");
		pt_json_string(stdout, s->from);
		printf(",\"to\":");
		pt_json_string(stdout, s->to);
		printf(",\"domain\":");
		pt_json_string(stdout, s->domain);
		printf(",\"live\":%s,\"config\":%s,\"group_member\":%s,\"reason\":",
		       s->flags & PT_STEP_LIVE ? "true" : "false", s->flags & PT_STEP_CONFIG ? "true" : "false",
		       s->flags & PT_STEP_MEMBER ? "true" : "false");
		pt_json_string(stdout, s->reason);
		printf("}");
	}
	printf("],\"notes\":[");
	for (size_t i = 0; i < plan->n_notes; i++) {
		printf("%s", i ? "," : "");
		pt_json_string(stdout, plan->notes[i]);
	}
	printf("],\"problems\":[");
	for (size_t i = 0; i < plan->n_problems; i++) {
		const struct pt_problem *pr = &plan->problems[i];
		char a[PT_PCIADDR_BUFSZ];

		printf("%s{\"kind\":\"%s\",\"entry\":", i ? "," : "", pt_problem_kind_name(pr->kind));
		pt_json_string(stdout, pr->entry ? pr->entry->name : NULL);
		printf(",\"address\":");
		pt_json_string(stdout, pr->has_addr ? pt_pciaddr_format(&pr->addr, a) : NULL);
		printf(",\"message\":");
		pt_json_string(stdout, pr->message);
		printf("}");
	}
	printf("]}\n");
}

static int
plan_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct pt_config cfg;
	struct pt_observed obs = { 0 };
	struct pt_plan plan;
	int r;

	(void)argc;
	(void)argv;
	if (ctx->host_only && ctx->vm) {
		fprintf(stderr, "passthrough: '--vm' needs libvirt, '--host-only' does without (see 'passthrough plan --help')\n");
		return PT_EXIT_USAGE;
	}
	r = pt_load_and_observe(ctx, !ctx->host_only, &cfg, &obs);
	if (r)
		return r;
	pt_plan_compute(&cfg, &obs, ctx->vm, &plan);
	if (ctx->json)
		print_json(&plan);
	else if (!ctx->quiet)
		print_text(&plan, &obs);
	else
		for (size_t i = 0; i < plan.n_problems; i++)
			fprintf(stderr, "passthrough: %s\n", plan.problems[i].message);
	r = plan.n_problems ? PT_EXIT_FAIL
	    : ctx->detailed_exitcode && plan.n_steps ? PT_EXIT_CHANGES : PT_EXIT_OK;
	pt_plan_done(&plan);
	pt_observed_done(&obs);
	pt_config_done(&cfg);
	pt_pci_names_done();
	return r;
}

const struct pt_cmd pt_cmd_plan = {
	.name = "plan",
	.summary = "show the steps that would make the host match the file",
	.usage = "[-c FILE] [--vm NAME | --host-only] [--detailed-exitcode] [--json]",
	.help =
	"Compares passthrough.yaml with the host (sysfs driver bindings, IOMMU groups, what the\n"
	"host uses) and with every libvirt domain's live XML, and prints the steps apply would\n"
	"run, in order, one per line: + adds, - removes, ~ changes, with the reason after #.\n"
	"Prints 'Nothing to do' when the host already matches. Changes nothing. With --vm,\n"
	"only what that VM owns (the whole file is still read for the IOMMU-group rules).\n"
	"Problems (a device that is missing, ambiguous, in use by the host, or whose IOMMU\n"
	"group would not be viable) are printed one per line on stderr; the other devices are\n"
	"still planned. --host-only: what apply --host-only would do (libvirt is not asked).\n"
	"\n"
	"Exit status: 0 success (with --detailed-exitcode: nothing to do), 1 a problem,\n"
	"2 changes pending (--detailed-exitcode only), 64 usage error.\n",
	.options = PT_OPT_DETAILED_EXITCODE | PT_OPT_VM | PT_OPT_HOST_ONLY,
	.min_args = 0,
	.max_args = 0,
	.run = plan_run,
};
