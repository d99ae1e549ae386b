/* cmd_status.c: `passthrough status`: per declared device, desired and actual state, converged or why not. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "cmd/json.h"
#include "cmd/render.h"
#include "model/xalloc.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/plan.h"
#include "reconcile/statefile.h"

struct row {
	const struct pt_device *entry;
	const struct pt_slot *slot;    /* owned by the plan */
	char *pool;                    /* "1ac1:089a" for a pool member, else NULL */
	const struct pt_pcidev *dev;   /* NULL when it does not resolve */
	char *want_driver;             /* "vfio-pci" or "host driver" */
	char *attached;                /* the domains it is attached to live, "" for none */
	const struct pt_problem *problem; /* the entry's first problem (owned by the plan), or NULL */
	char *why;                     /* NULL when converged: the problem, or the pending steps */
};

static char *
append(char *s, const char *sep, const char *add)
{
	char *t = xasprintf("%s%s%s", s ? s : "", s && s[0] ? sep : "", add);

	free(s);
	return t;
}

static void
fill_row(struct row *row, const struct pt_config *cfg, const struct pt_slot *slot, const struct pt_observed *obs,
	 const struct pt_plan *plan)
{
	const struct pt_device *e = slot->entry;

	row->entry = e;
	row->slot = slot;
	row->pool = e->pool >= 0 ? pt_match_describe(&cfg->pools[e->pool].match) : NULL;
	row->dev = slot->dev;
	row->want_driver = xstrdup(e->state == PT_STATE_RELEASED ? "host driver" : "vfio-pci");
	row->attached = xstrdup("");
	for (size_t i = 0; row->dev && i < obs->n_doms; i++) {
		const struct pt_domain *dom = &obs->doms[i];

		if (dom->state == PT_DOMAIN_RUNNING && pt_domain_has_hostdev(dom, &row->dev->addr, false))
			row->attached = append(row->attached, ", ", dom->title ? dom->title : dom->name);
	}
	/* the entry's problem, else its pending steps */
	row->problem = pt_plan_problem_of(plan, slot->name);
	if (row->problem)
		row->why = xstrdup(row->problem->message);
	for (size_t i = 0; i < plan->n_steps && !row->problem; i++) {
		const struct pt_step *s = &plan->steps[i];

		if (s->device && strcmp(s->device, slot->name) == 0) {
			char *what = xasprintf("%s pending (%s)", pt_step_kind_name(s->kind), s->reason);

			row->why = append(row->why, "; ", what);
			free(what);
		}
	}
}

/* What the device's power and reset are against what the entry declares (a device going to
 * vfio-pci: a released one is its host driver's business). */
static void
print_power(const struct pt_device *e, const struct pt_pcidev *d)
{
	char *power = pt_render_power(d);

	printf("    power:    want %s, have %s\n", e->power_on ? "D0 (power: on)" : "the kernel's choice", power);
	printf("    reset:    want %s, have %s\n", pt_reset_name(e->reset), pt_render_reset(d));
	free(power);
}

/* "3 h", "12 min", "40 s", "2 days": how long ago t was. */
static void
ago(char *buf, size_t n, time_t now, int64_t t)
{
	long long d = now > t ? (long long)now - t : 0;

	if (d < 90)
		snprintf(buf, n, "%lld s", d);
	else if (d < 90LL * 60)
		snprintf(buf, n, "%lld min", d / 60);
	else if (d < 48LL * 3600)
		snprintf(buf, n, "%lld h", d / 3600);
	else
		snprintf(buf, n, "%lld days", d / 86400);
}

/* "03:12" within the last day, else "2024-05-01 03:12" (local time). */
static void
clock_of(char *buf, size_t n, time_t now, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(buf, n, now - tt < 86400 ? "%H:%M" : "%Y-%m-%d %H:%M", &tm))
		snprintf(buf, n, "%lld", (long long)t);
}

/* A time as JSON: seconds since the epoch, or null for never. */
static void
json_time(const char *member, int64_t t)
{
	if (t)
		printf(",\"%s\":%lld", member, (long long)t);
	else
		printf(",\"%s\":null", member);
}

/* What state.json says of the entry `name` (hist may be NULL): a few lines of text, or the
 * "history" JSON member (null when there is no record). */
static void
print_history(const struct pt_history *hist, const char *name, bool json)
{
	const struct pt_hist_device *d = hist ? pt_history_find(hist, name) : NULL;
	time_t now = time(NULL);
	char a[32], c[32];

	if (json) {
		printf(",\"history\":");
		if (!d) {
			printf("null");
			return;
		}
		printf("{\"converged\":%s", d->converged ? "true" : "false");
		json_time("since", d->since);
		printf(",\"last_change\":");
		pt_json_string(stdout, d->last_change);
		json_time("last_change_at", d->last_change_at);
		printf(",\"last_error\":");
		pt_json_string(stdout, d->last_error);
		json_time("last_error_at", d->last_error_at);
		printf(",\"failures\":%u", d->failures);
		json_time("last_success", d->last_success);
		json_time("checked", d->checked);
		printf("}");
		return;
	}
	if (!d)
		return;
	ago(a, sizeof(a), now, d->since);
	ago(c, sizeof(c), now, d->checked);
	printf("    history:  %s since %s (last pass %s ago)\n", d->converged ? "converged" : "failing", a, c);
	if (d->last_change) {
		clock_of(a, sizeof(a), now, d->last_change_at);
		printf("    changed:  %s %s\n", a, d->last_change);
	}
	if (d->last_error) {
		clock_of(a, sizeof(a), now, d->last_error_at);
		if (d->failures)
			printf("    error:    last error %s: %s (%u pass%s in a row)\n", a, d->last_error, d->failures,
			       d->failures == 1 ? "" : "es");
		else
			printf("    error:    last error %s: %s\n", a, d->last_error);
	}
}

static int
status_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct pt_config cfg;
	struct pt_observed obs = { 0 };
	struct pt_plan plan;
	struct row *rows;
	size_t pending = 0, n_rows;
	char *idle_d3, *state_path, *state_err = NULL;
	bool idle_d3_ok;
	struct pt_history hist;
	int r;

	(void)argc;
	(void)argv;
	r = pt_load_and_observe(ctx, true, &cfg, &obs);
	if (r)
		return r;
	state_path = pt_state_path(&ctx->host);
	r = state_path ? pt_state_load(state_path, &hist, &state_err) : -ENOENT;
	if (r < 0 && r != -ENOENT)
		fprintf(stderr, "passthrough: warning: %s; no history shown\n", state_err);
	free(state_err);
	free(state_path);
	pt_plan_compute(&cfg, &obs, NULL, &plan);
	n_rows = plan.assignment.n_slots;
	rows = xcalloc(n_rows ? n_rows : 1, sizeof(*rows));
	for (size_t i = 0; i < n_rows; i++) {
		fill_row(&rows[i], &cfg, &plan.assignment.slots[i], &obs, &plan);
		pending += rows[i].why != NULL;
	}
	idle_d3 = pt_render_idle_d3(&cfg, &obs, &idle_d3_ok);
	if (ctx->json) {
		printf("{\"converged\":%s,\"devices\":[", pending ? "false" : "true");
		for (size_t i = 0; i < n_rows; i++) {
			const struct row *row = &rows[i];
			char a[PT_PCIADDR_BUFSZ];

			printf("%s{\"name\":", i ? "," : "");
			pt_json_string(stdout, row->slot->name);
			printf(",\"entry\":");
			pt_json_string(stdout, row->entry->name);
			printf(",\"pool\":");
			pt_json_string(stdout, row->pool);
			printf(",\"assigned_why\":");
			pt_json_string(stdout, row->slot->why);
			printf(",\"address\":");
			pt_json_string(stdout, row->dev ? pt_pciaddr_format(&row->dev->addr, a) : NULL);
			printf(",\"state\":\"%s\",\"vm\":", pt_state_name(row->entry->state));
			pt_json_string(stdout, row->entry->vm);
			printf(",\"want_driver\":");
			pt_json_string(stdout, row->want_driver);
			printf(",\"driver\":");
			pt_json_string(stdout, row->dev ? row->dev->driver : NULL);
			printf(",\"attached_to\":");
			pt_json_string(stdout, row->attached);
			printf(",\"converged\":%s,\"problem\":", row->why ? "false" : "true");
			pt_json_string(stdout, row->problem ? pt_problem_kind_name(row->problem->kind) : NULL);
			printf(",\"why\":");
			pt_json_string(stdout, row->why);
			pt_json_power(stdout, row->dev);
			printf(",\"want_power\":");
			pt_json_string(stdout, row->entry->power_on ? "on" : NULL);
			printf(",\"want_reset\":\"%s\",\"want_recover\":\"%s\"", pt_reset_name(row->entry->reset),
			       pt_recover_name(row->entry->recover));
			print_history(r == 0 ? &hist : NULL, row->slot->name, true);
			printf("}");
		}
		printf("],\"vfio_pci\":{\"loaded\":%s,\"disable_idle_d3_in_force\":", obs.vfio_pci_loaded ? "true" : "false");
		pt_json_tri(stdout, obs.vfio_idle_d3);
		printf(",\"disable_idle_d3_declared\":");
		if (cfg.vfio_pci.has_disable_idle_d3)
			printf("%s", cfg.vfio_pci.disable_idle_d3 ? "true" : "false");
		else
			printf("null");
		printf(",\"detail\":");
		pt_json_string(stdout, idle_d3);
		printf("}}\n");
	} else if (!ctx->quiet) {
		for (size_t i = 0; i < n_rows; i++) {
			const struct row *row = &rows[i];
			char a[PT_PCIADDR_BUFSZ];

			printf("%s %s: %s\n", row->slot->name, row->dev ? pt_pciaddr_format(&row->dev->addr, a) : "-",
			       row->why ? "NOT CONVERGED" : "converged");
			printf("    driver:   want %s, have %s\n", row->want_driver,
			       row->dev && row->dev->driver ? row->dev->driver : "(none)");
			printf("    vm:       want %s, attached to %s\n",
			       row->entry->state == PT_STATE_ATTACHED ? row->entry->vm : "(none)",
			       row->attached[0] ? row->attached : "(none)");
			if (row->pool && row->dev)
				printf("    pool:     %s, %s\n", row->pool, row->slot->why);
			else if (row->pool)
				printf("    pool:     %s\n", row->pool);
			if (row->dev && row->entry->state != PT_STATE_RELEASED)
				print_power(row->entry, row->dev);
			if (row->why)
				printf("    why:      %s\n", row->why);
			print_history(r == 0 ? &hist : NULL, row->slot->name, false);
		}
		if (idle_d3)
			printf("vfio-pci disable_idle_d3: %s\n", idle_d3);
		for (size_t i = 0; i < plan.n_notes; i++)
			printf("note: %s\n", plan.notes[i]);
		printf("%zu of %zu device%s converged.\n", n_rows - pending, n_rows, n_rows == 1 ? "" : "s");
	}
	for (size_t i = 0; i < n_rows; i++) {
		free(rows[i].pool);
		free(rows[i].want_driver);
		free(rows[i].attached);
		free(rows[i].why);
	}
	free(rows);
	free(idle_d3);
	if (r == 0)
		pt_history_done(&hist);
	pt_plan_done(&plan);
	pt_observed_done(&obs);
	pt_config_done(&cfg);
	pt_pci_names_done();
	return pending ? PT_EXIT_FAIL : PT_EXIT_OK;
}

const struct pt_cmd pt_cmd_status = {
	.name = "status",
	.summary = "show desired and actual state per declared device",
	.usage = "[-c FILE] [--lock-file FILE] [--json]",
	.help =
	"For each device in the file: the driver and VM it should have and has, whether it\n"
	"is converged, and if not, why (the problem found, or the steps still pending).\n"
	"A device declared released is converged only on a host driver; the journal beside\n"
	"--lock-file says when a probe found none ('no host driver claims it (probed)').\n"
	"For a device going to vfio-pci, also its power (power_state, power/control,\n"
	"d3cold_allowed) against power: on, and its reset methods against reset:; and when the\n"
	"file declares vfio_pci: { disable_idle_d3 }, whether that value is the one in force\n"
	"(known only when apply loaded vfio-pci itself: its parameter file shows the last value\n"
	"written, which takes effect only when the module is loaded again).\n"
	"From state.json under --state-dir, what the last passes (apply, the hook, watch) saw:\n"
	"converged or failing and since when, the last change and the last error with their\n"
	"times, and how many passes in a row failed (--json: \"history\", null when none).\n"
	"\n"
	"Exit status: 0 every device converged, 1 some device is not (or an error),\n"
	"64 usage error.\n",
	.options = (const struct pt_option *const[]){ &pt_opt_lock_file, NULL },
	.min_args = 0,
	.max_args = 0,
	.run = status_run,
};
