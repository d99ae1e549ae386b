/* render.c: shared pieces of the output of plan, status and devices, and the step reporter of apply and the hook. */
#include "cmd/render.h"

#include <stdarg.h>
#include <string.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

#include "cmd/json.h"
#include "model/xalloc.h"
#include "reconcile/observe_sysfs.h"

void
pt_print_diags(const struct pt_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		char *line = pt_diag_format(&d->v[i]);

		fprintf(stderr, "%s%s\n", d->v[i].file ? "" : "passthrough: ", line);
		free(line);
	}
}

/* What observation could not read but went on without (a hostdev it left out), on stderr. */
static void
print_warnings(const struct pt_observed *obs)
{
	for (size_t i = 0; i < obs->n_warnings; i++)
		fprintf(stderr, "passthrough: warning: %s\n", obs->warnings[i]);
}

/* A pass that stopped before planning: its one reason, on stderr. */
static void
print_failure(const struct pt_reconcile_result *res)
{
	if (res->stage == PT_RECONCILE_CONFIG)
		pt_print_diags(&res->diags);
	else if (res->error)
		fprintf(stderr, "passthrough: %s\n", res->error);
}

static void
print_text(const struct pt_plan *plan, const struct pt_observed *obs)
{
	const char *last_device = NULL;
	struct pt_pciaddr last_addr = { 0, 0, 0, 0 };

	for (size_t i = 0; i < plan->n_steps; i++) {
		const struct pt_step *s = &plan->steps[i];
		char *action = pt_render_step(s);

		if (s->usb_label && (!last_device || strcmp(last_device, s->device) != 0 ||
				     !plan->steps[i - 1].usb_label || strcmp(plan->steps[i - 1].usb_label, s->usb_label) != 0)) {
			printf("%s%s %s\n", i ? "\n" : "", s->device, s->usb_label);
			last_device = s->device;
		} else if (s->device && !s->usb_label && (!last_device || strcmp(last_device, s->device) != 0 ||
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
		pt_json_string(stdout, s->usb_label ? s->usb_label : s->device ? pt_pciaddr_format(&s->addr, a) : NULL);
		printf(",\"from\":");
		pt_json_string(stdout, s->from);
		printf(",\"to\":");
		pt_json_string(stdout, s->to);
		printf(",\"domain\":");
		pt_json_string(stdout, s->domain);
		printf(",\"arg\":");
		pt_json_string(stdout, s->arg);
		printf(",\"live\":%s,\"config\":%s,\"group_member\":%s,\"recover\":%s,\"reason\":",
		       s->flags & PT_STEP_LIVE ? "true" : "false", s->flags & PT_STEP_CONFIG ? "true" : "false",
		       s->flags & PT_STEP_MEMBER ? "true" : "false", s->flags & PT_STEP_RECOVER ? "true" : "false");
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

		printf("%s{\"kind\":\"%s\",\"name\":", i ? "," : "", pt_problem_kind_name(pr->kind));
		pt_json_string(stdout, pr->name);
		printf(",\"entry\":");
		pt_json_string(stdout, pr->entry ? pr->entry->name : NULL);
		printf(",\"address\":");
		pt_json_string(stdout, pr->has_addr ? pt_pciaddr_format(&pr->addr, a) : NULL);
		printf(",\"message\":");
		pt_json_string(stdout, pr->message);
		printf("}");
	}
	printf("],\"assignment\":[");
	for (size_t i = 0; i < plan->assignment.n_slots; i++) {
		const struct pt_slot *sl = &plan->assignment.slots[i];
		char a[PT_PCIADDR_BUFSZ];

		printf("%s{\"name\":", i ? "," : "");
		pt_json_string(stdout, sl->name);
		printf(",\"entry\":");
		pt_json_string(stdout, sl->entry->name);
		printf(",\"pool\":");
		if (sl->entry->pool >= 0) {
			char *pool = pt_match_describe(&sl->entry->match);   /* the pool's match: its members' */

			pt_json_string(stdout, pool);
			free(pool);
		} else {
			printf("null");
		}
		printf(",\"address\":");
		pt_json_string(stdout, sl->dev ? pt_pciaddr_format(&sl->dev->addr, a) : NULL);
		printf(",\"why\":");
		pt_json_string(stdout, sl->why);
		printf(",\"error\":");
		pt_json_string(stdout, sl->err);
		printf("}");
	}
	printf("]}\n");
}

int
pt_print_plan(const struct pt_ctx *ctx, const struct pt_reconcile_result *res, int r, bool detailed_exitcode)
{
	if (res->stage != PT_RECONCILE_DONE) {
		print_failure(res);
		pt_pci_names_done();
		return PT_EXIT_FAIL;
	}
	print_warnings(&res->obs);
	if (ctx->json)
		print_json(&res->plan);
	else if (!ctx->quiet)
		print_text(&res->plan, &res->obs);
	else
		for (size_t i = 0; i < res->plan.n_problems; i++)
			fprintf(stderr, "passthrough: %s\n", res->plan.problems[i].message);
	pt_pci_names_done();
	return r < 0 ? PT_EXIT_FAIL : detailed_exitcode && res->plan.n_steps ? PT_EXIT_CHANGES : PT_EXIT_OK;
}

void
pt_report_pass(const struct pt_reconcile_result *res, const struct pt_report *rep)
{
	const struct pt_report errors_only = { false, false };

	if (res->wait_error)
		pt_say(rep, LOG_ERR, "%s; applying anyway", res->wait_error);
	switch (res->stage) {
	case PT_RECONCILE_LOCK:
	case PT_RECONCILE_OBSERVE:
		pt_say(&errors_only, LOG_ERR, "%s", res->error);
		return;
	case PT_RECONCILE_CONFIG:
		for (size_t i = 0; i < res->diags.n; i++) {
			char *line = pt_diag_format(&res->diags.v[i]);

			pt_say(&errors_only, LOG_ERR, "%s", line);
			free(line);
		}
		return;
	case PT_RECONCILE_DONE:
		break;
	}
	for (size_t i = 0; i < res->obs.n_warnings; i++)
		pt_say(rep, LOG_WARNING, "warning: %s", res->obs.warnings[i]);
	if (res->record_error)
		pt_say(rep, LOG_WARNING, "warning: %s; the hook hands title matches to its worker", res->record_error);
	/* said once, on stderr too: nothing else would tell */
	if (res->state_warning)
		pt_say(&(const struct pt_report){ true, false }, LOG_WARNING, "warning: %s", res->state_warning);
	if (res->state_error)
		pt_say(&(const struct pt_report){ true, false }, LOG_WARNING, "warning: %s (the pass goes on)",
		       res->state_error);
	for (size_t i = 0; i < res->plan.n_problems; i++)
		pt_say(&errors_only, LOG_ERR, "%s", res->plan.problems[i].message);
	if (res->error)
		pt_say(&errors_only, LOG_ERR, "%s", res->error);
	/* What applying found out, once: a probe that no host driver answered (the step is done;
	 * the journal says so); anything else only when no step failed (the failure said it). */
	for (size_t i = 0; res->replanned && i < res->after.n_problems; i++) {
		const struct pt_problem *pr = &res->after.problems[i];
		bool known = false;

		for (size_t j = 0; j < res->plan.n_problems && !known; j++)
			known = strcmp(res->plan.problems[j].message, pr->message) == 0;
		if (!known && (pr->kind == PT_PROBLEM_NO_HOST_DRIVER || !res->failed))
			pt_say(&errors_only, LOG_ERR, "%s", pr->message);
	}
	/* after a failed step the plan is expected to be unfinished: the failure said so */
	for (size_t i = 0; res->replanned && !res->failed && i < res->after.n_steps; i++) {
		const struct pt_step *s = &res->after.steps[i];
		char *action = pt_render_step(s);
		char a[PT_PCIADDR_BUFSZ];

		pt_say(&errors_only, LOG_ERR, "'%s' %s: still to do after applying: %s (%s)",
		       s->device ? s->device : "host", s->usb_label ? s->usb_label : pt_pciaddr_format(&s->addr, a), action,
		       s->reason);
		free(action);
	}
}

struct pt_reconcile_opts
pt_reconcile_opts_of(const struct pt_ctx *ctx)
{
	return (struct pt_reconcile_opts){
		.config_path = ctx->config_path,
		.only_vm = ctx->vm,
		.host_only = ctx->host_only,
		.dry_run = ctx->dry_run,
		.lock_timeout_ms = ctx->lock_timeout_s * 1000,
		.apply = PT_APPLY_OPTS_DEFAULT,
		.report = pt_report_step,
		.metrics_file = ctx->metrics_file,
	};
}

int
pt_load_and_observe(const struct pt_ctx *ctx, bool with_libvirt, struct pt_config *cfg,
		    struct pt_observed *obs)
{
	struct pt_reconcile_result res;

	if (pt_reconcile_observe(&ctx->host, ctx->config_path, with_libvirt, &res) < 0) {
		print_failure(&res);
		pt_reconcile_result_done(&res);
		return PT_EXIT_FAIL;
	}
	print_warnings(&res.obs);
	/* the caller owns them now */
	*cfg = res.cfg;
	*obs = res.obs;
	memset(&res.cfg, 0, sizeof(res.cfg));
	memset(&res.obs, 0, sizeof(res.obs));
	pt_reconcile_result_done(&res);
	return PT_EXIT_OK;
}

char *
pt_render_name(const struct pt_pcidev *d)
{
	char *s = pt_pci_name(d->vendor, d->device);

	return s ? s : xstrdup("unknown device");
}

const char *
pt_render_reset(const struct pt_pcidev *d)
{
	if (d->has_reset == PT_TRI_NO)
		return "none";
	if (d->has_reset == PT_TRI_UNKNOWN)
		return "unknown";
	if (!d->reset_methods)
		return "yes (methods unknown: kernel before 5.15)";
	return d->reset_methods[0] ? d->reset_methods : "none";
}

static const char *
tri_digit(enum pt_tri t)
{
	return t == PT_TRI_YES ? "1" : t == PT_TRI_NO ? "0" : "unknown";
}

char *
pt_render_power(const struct pt_pcidev *d)
{
	if (!d->power_control && d->d3cold_allowed == PT_TRI_UNKNOWN)
		return xstrdup(d->power_state ? d->power_state : "unknown");
	return xasprintf("%s (power/control %s, d3cold_allowed %s)", d->power_state ? d->power_state : "unknown",
			 d->power_control ? d->power_control : "unknown", tri_digit(d->d3cold_allowed));
}

void
pt_json_power(FILE *f, const struct pt_pcidev *d)
{
	fputs(",\"power_state\":", f);
	pt_json_string(f, d ? d->power_state : NULL);
	fputs(",\"power_control\":", f);
	pt_json_string(f, d ? d->power_control : NULL);
	fputs(",\"d3cold_allowed\":", f);
	pt_json_tri(f, d ? d->d3cold_allowed : PT_TRI_UNKNOWN);
	fputs(",\"has_reset\":", f);
	pt_json_tri(f, d ? d->has_reset : PT_TRI_UNKNOWN);
	fputs(",\"reset_methods\":", f);
	if (d && d->has_reset == PT_TRI_NO) {
		fputs("[]", f);
	} else if (!d || d->has_reset == PT_TRI_UNKNOWN || !d->reset_methods) {
		fputs("null", f);
	} else {
		/* "flr pm bus" as ["flr","pm","bus"] */
		char *copy = xstrdup(d->reset_methods), *save = NULL;
		bool first = true;

		fputc('[', f);
		for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			fputs(first ? "" : ",", f);
			pt_json_string(f, w);
			first = false;
		}
		fputc(']', f);
		free(copy);
	}
}

char *
pt_render_idle_d3(const struct pt_config *cfg, const struct pt_observed *obs, bool *ret_ok)
{
	char want;

	if (!cfg || !cfg->vfio_pci.has_disable_idle_d3)
		return NULL;
	want = cfg->vfio_pci.disable_idle_d3 ? 'Y' : 'N';
	*ret_ok = true;
	if (!obs->vfio_pci_loaded)
		return xasprintf("declared %c; vfio-pci not loaded (apply loads it with disable_idle_d3=%d)", want,
				 want == 'Y');
	if (obs->vfio_idle_d3 == PT_TRI_UNKNOWN) {
		*ret_ok = false;
		return xasprintf("declared %c; cannot tell: vfio-pci was loaded by something else", want);
	}
	if ((obs->vfio_idle_d3 == PT_TRI_YES) == (want == 'Y'))
		return xasprintf("%c in force, as declared", want);
	*ret_ok = false;
	return xasprintf("declared %c but %c is in force until vfio-pci is loaded again", want,
			 want == 'Y' ? 'N' : 'Y');
}

char *
pt_render_step(const struct pt_step *s)
{
	const char *where = (s->flags & (PT_STEP_LIVE | PT_STEP_CONFIG)) == (PT_STEP_LIVE | PT_STEP_CONFIG)
				    ? "live and persistent"
			    : s->flags & PT_STEP_CONFIG ? "persistent" : "live";

	switch (s->kind) {
	case PT_STEP_UNLOAD_VFIO:
		return xstrdup("unload module vfio-pci (to load it with the declared parameters)");
	case PT_STEP_LOAD_VFIO:
		return s->arg ? xasprintf("load module vfio-pci %s", s->arg) : xstrdup("load module vfio-pci");
	case PT_STEP_POWER:
		return xasprintf("power/control %s -> %s", s->from ? s->from : "(unknown)", s->to ? s->to : "(unknown)");
	case PT_STEP_CHECK:
		return xstrdup(s->flags & PT_STEP_RECOVER ? "check that it answers (recover it if not)"
							  : "check that it answers");
	case PT_STEP_RESCAN:
		return xstrdup("rescan its bus until it is back");
	case PT_STEP_RESET:
		return xstrdup("reset the function");
	case PT_STEP_SET_OVERRIDE:
		return xasprintf("driver_override %s -> %s", s->from ? s->from : "(none)", s->to);
	case PT_STEP_CLEAR_OVERRIDE:
		return xasprintf("driver_override %s -> (none)", s->from);
	case PT_STEP_UNBIND:
		return xasprintf("unbind from %s", s->from);
	case PT_STEP_PROBE:
		return s->to ? xasprintf("probe -> %s", s->to) : xstrdup("probe -> its host driver");
	case PT_STEP_ATTACH:
		return xasprintf("attach to %s (%s)", s->to, where);
	case PT_STEP_DETACH:
		return xasprintf("detach from %s (%s)", s->from, where);
	}
	return xstrdup("?");
}

void
pt_say(const struct pt_report *rep, int prio, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = xvasprintf(fmt, ap);
	va_end(ap);
	syslog(prio, "%s", line);
	if (rep->to_stderr || prio <= LOG_ERR)
		fprintf(stderr, "passthrough: %s\n", line);
	free(line);
}

void
pt_report_step(void *data, const struct pt_step *s, enum pt_step_outcome o, const char *msg)
{
	const struct pt_report *rep = data;
	char a[PT_PCIADDR_BUFSZ];
	char *action = pt_render_step(s);
	char *who = s->device ? xasprintf("'%s' %s", s->device, s->usb_label ? s->usb_label : pt_pciaddr_format(&s->addr, a))
			      : xstrdup("host");

	switch (o) {
	case PT_STEP_DONE:
		if (msg)   /* what it found on the way: "it answers again after a reset" */
			pt_say(rep, LOG_NOTICE, "%s: %s: %s", who, action, msg);
		else
			pt_say(rep, LOG_NOTICE, "%s: %s", who, action);
		break;
	case PT_STEP_RECOVERED:
		pt_say(rep, LOG_WARNING, "%s: %s: %s", who, action, msg ? msg : "recovered");
		break;
	case PT_STEP_FAILED:
	case PT_STEP_TIMED_OUT:
		pt_say(rep, LOG_ERR, "%s: %s failed: %s; the next run tries again ('passthrough status' "
		       "shows where it stands)", who, action, msg);
		break;
	case PT_STEP_SKIPPED:
		if (rep->verbose)
			pt_say(rep, LOG_INFO, "%s: %s skipped after the failure above", who, action);
		break;
	case PT_STEP_HELD:
		if (rep->verbose)
			pt_say(rep, LOG_INFO, "%s: %s already held", who, action);
		break;
	}
	free(action);
	free(who);
}
