/* render.c: shared pieces of the output of plan, status and devices, and the step reporter of apply and the hook. */
#include "cmd/render.h"

#include <stdarg.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

#include "model/xalloc.h"
#include "reconcile/config_file.h"
#include "reconcile/observe_libvirt.h"
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

int
pt_load_and_observe(const struct pt_ctx *ctx, bool with_libvirt, struct pt_config *cfg,
		    struct pt_observed *obs)
{
	struct pt_diags diags = PT_DIAGS_INIT;
	char *err = NULL;

	if (pt_config_file_load(ctx->config_path, geteuid(), cfg, &diags) < 0) {
		pt_print_diags(&diags);
		pt_diags_done(&diags);
		return PT_EXIT_FAIL;
	}
	pt_diags_done(&diags);
	if (pt_observe_sysfs(&ctx->host, obs, &err) < 0 ||
	    (with_libvirt && pt_observe_libvirt(&ctx->host, cfg, obs, &err) < 0)) {
		fprintf(stderr, "passthrough: %s\n", err);
		free(err);
		pt_config_done(cfg);
		pt_observed_done(obs);
		return PT_EXIT_FAIL;
	}
	return PT_EXIT_OK;
}

char *
pt_render_name(const struct pt_pcidev *d)
{
	char *s = pt_pci_name(d->vendor, d->device);

	return s ? s : xstrdup("unknown device");
}

char *
pt_render_step(const struct pt_step *s)
{
	const char *where = (s->flags & (PT_STEP_LIVE | PT_STEP_CONFIG)) == (PT_STEP_LIVE | PT_STEP_CONFIG)
				    ? "live and persistent"
			    : s->flags & PT_STEP_CONFIG ? "persistent" : "live";

	switch (s->kind) {
	case PT_STEP_LOAD_VFIO:
		return xstrdup("load module vfio-pci");
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
	char *who = s->device ? xasprintf("'%s' %s", s->device, pt_pciaddr_format(&s->addr, a)) : xstrdup("host");

	switch (o) {
	case PT_STEP_DONE:
		pt_say(rep, LOG_NOTICE, "%s: %s", who, action);
		break;
	case PT_STEP_FAILED:
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
