/* reconcile.c: one reconcile pass (lock, read the file, observe, plan, apply, observe again), the entry point of apply, plan, the hook and watch. */
#include "reconcile/reconcile.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/xalloc.h"
#include "reconcile/config_file.h"
#include "reconcile/lock.h"
#include "reconcile/observe_libvirt.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/statefile.h"
#include "reconcile/vmrecord.h"

/* The hook's one domain, copied into obs (whose pt_observed_done() frees it). */
static void
observe_hook_domain(const struct pt_domain *d, struct pt_observed *obs)
{
	struct pt_domain *c = xcalloc(1, sizeof(*c));

	c->name = xstrdup(d->name);
	c->uuid = xstrdup(d->uuid ? d->uuid : "");
	c->title = d->title ? xstrdup(d->title) : NULL;
	c->state = d->state;
	if (d->n_config) {
		c->config = xcalloc(d->n_config, sizeof(*c->config));
		memcpy(c->config, d->config, d->n_config * sizeof(*c->config));
	}
	c->n_config = d->n_config;
	if (d->n_usb_config) {
		c->usb_config = xcalloc(d->n_usb_config, sizeof(*c->usb_config));
		memcpy(c->usb_config, d->usb_config, d->n_usb_config * sizeof(*c->usb_config));
	}
	c->n_usb_config = d->n_usb_config;
	c->have_config = d->have_config;
	obs->doms = c;
	obs->n_doms = 1;
	obs->have_domains = true;
	obs->domains_from_hook = true;
}

/* Passes each step's outcome on to the caller's reporter, counting the writes that did not return. */
struct tally {
	pt_step_report_fn report;
	void *data;
	unsigned timed_out;
	unsigned recovered;
	struct pt_state_log log;      /* for state.json */
};

static void
tally_step(void *data, const struct pt_step *s, enum pt_step_outcome o, const char *msg)
{
	struct tally *t = data;

	t->timed_out += o == PT_STEP_TIMED_OUT;
	t->recovered += o == PT_STEP_RECOVERED;
	pt_state_log_step(&t->log, s, o, msg);
	if (t->report)
		t->report(t->data, s, o, msg);
}

/* Observes sysfs, then libvirt or the hook's domain as o says; 0 or -1 with *err set. */
static int
observe(const struct pt_host *h, const struct pt_reconcile_opts *o, const struct pt_config *cfg,
	struct pt_observed *obs, char **err)
{
	if (pt_observe_sysfs(h, obs, err) < 0)
		return -1;
	/* people see every device's power and reset; a pass needs its own devices' only */
	pt_observe_power(h, obs, o->all_power ? NULL : cfg);
	if (o->hook_domain) {
		for (size_t i = 0; i < obs->n_doms; i++)
			pt_domain_done(&obs->doms[i]);
		free(obs->doms);
		obs->doms = NULL;
		observe_hook_domain(o->hook_domain, obs);
		return 0;
	}
	if (!o->host_only && pt_observe_libvirt(h, cfg, obs, err) < 0)
		return -1;
	return 0;
}

int
pt_reconcile_observe(const struct pt_host *h, const char *config_path, bool with_libvirt,
		     struct pt_reconcile_result *ret)
{
	struct pt_reconcile_opts o = { .config_path = config_path, .host_only = !with_libvirt, .all_power = true };

	memset(ret, 0, sizeof(*ret));
	ret->diags = (struct pt_diags)PT_DIAGS_INIT;
	if (pt_config_file_load(config_path, geteuid(), &ret->cfg, &ret->diags) < 0) {
		ret->stage = PT_RECONCILE_CONFIG;
		return -1;
	}
	if (observe(h, &o, &ret->cfg, &ret->obs, &ret->error) < 0) {
		ret->stage = PT_RECONCILE_OBSERVE;
		return -1;
	}
	return 0;
}

int
pt_reconcile(const struct pt_host *h, const struct pt_reconcile_opts *o, struct pt_reconcile_result *ret)
{
	struct tally tally = { o->report, o->report_data, 0, 0, { 0 } };
	const struct pt_config *cfg = NULL;
	struct pt_observed last = { 0 };   /* after applying, when it got that far */
	bool have_last = false;
	struct timespec t0, t1;
	int lock = -1, r = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(ret, 0, sizeof(*ret));
	ret->diags = (struct pt_diags)PT_DIAGS_INIT;
	if (o->wait_running_ms && o->only_vm && !o->dry_run && !o->hook_domain &&
	    pt_wait_domain_running(h, o->only_vm, o->wait_running_ms, &ret->wait_error) == 0) {
		free(ret->wait_error);
		ret->wait_error = NULL;
	}
	if (!o->dry_run && h->lock_file) {
		lock = pt_lock_take(h->lock_file, o->lock_timeout_ms, &ret->error);
		if (lock < 0) {
			ret->stage = PT_RECONCILE_LOCK;
			return -1;
		}
	}
	if (!o->cfg && pt_config_file_load(o->config_path, geteuid(), &ret->cfg, &ret->diags) < 0) {
		ret->stage = PT_RECONCILE_CONFIG;
		r = -1;
		goto out;
	}
	cfg = o->cfg ? o->cfg : &ret->cfg;
	if (observe(h, o, cfg, &ret->obs, &ret->error) < 0) {
		ret->stage = PT_RECONCILE_OBSERVE;
		r = -1;
		goto out;
	}
	if (!o->dry_run && !o->hook_domain && !o->host_only) {
		/* for the hook: which domain each vm names, as libvirt says now */
		char *path = pt_vm_record_path(h);

		if (path)
			pt_vm_record_write(path, cfg, &ret->obs, &ret->record_error);
		free(path);
	}
	/* the hook's release: the stopped VM's devices are checked once, in this pass */
	ret->obs.just_stopped = o->hook_domain && o->hook_domain->state == PT_DOMAIN_STOPPED;
	pt_plan_compute(cfg, &ret->obs, o->hook_domain ? o->hook_domain->name : o->only_vm, &ret->plan);
	ret->stage = PT_RECONCILE_DONE;
	if (o->dry_run || !ret->plan.n_steps) {
		/* a no-op (what the timer runs all day) changed nothing: nothing to look at twice */
		r = ret->plan.n_problems ? -1 : 0;
		goto out;
	}
	ret->failed = pt_apply(h, &ret->plan, &o->apply, tally_step, &tally);
	/* A write that did not return may hold the device's lock in the kernel: reading its
	 * driver_override would block this run too. The pass failed; the next one looks again. */
	if (tally.timed_out) {
		r = -1;
		goto out;
	}
	/* A device brought back (reset, remove, rescan) is a new one: plan it anew, once. */
	if (tally.recovered) {
		struct pt_observed again = { 0 };
		struct pt_plan next;
		char *err = NULL;

		if (observe(h, o, cfg, &again, &err) < 0) {
			ret->error = xasprintf("after recovering a device: %s", err);
			free(err);
			pt_observed_done(&again);
			r = -1;
			goto out;
		}
		pt_plan_compute(cfg, &again, o->hook_domain ? o->hook_domain->name : o->only_vm, &next);
		tally.recovered = 0;
		ret->failed += pt_apply(h, &next, &o->apply, tally_step, &tally);
		pt_plan_done(&next);
		pt_observed_done(&again);
		if (tally.timed_out) {
			r = -1;
			goto out;
		}
	}
	/* Observe again: the pass succeeded only if nothing is left to do. */
	{
		char *err = NULL;

		if (observe(h, o, cfg, &last, &err) < 0) {
			ret->error = xasprintf("after applying: %s", err);
			free(err);
			pt_observed_done(&last);
			memset(&last, 0, sizeof(last));
			r = -1;
			goto out;
		}
		have_last = true;
		pt_plan_compute(cfg, &last, o->hook_domain ? o->hook_domain->name : o->only_vm, &ret->after);
		ret->replanned = true;
	}
	r = ret->failed || ret->plan.n_problems || ret->after.n_steps || ret->after.n_problems ? -1 : 0;
out:
	if (ret->stage == PT_RECONCILE_DONE && !o->dry_run) {
		struct pt_state_pass sp = {
			.cfg = cfg, .plan = &ret->plan, .after = ret->replanned ? &ret->after : NULL,
			.log = &tally.log, .obs = have_last ? &last : &ret->obs, .error = ret->error,
			.full = !o->only_vm && !o->hook_domain && !o->host_only,
			.metrics_file = o->metrics_file ? o->metrics_file : cfg->metrics_file,
			.now = (int64_t)time(NULL),
		};

		clock_gettime(CLOCK_MONOTONIC, &t1);
		sp.duration = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		pt_state_record(h, &sp, &ret->state_warning, &ret->state_error);
	}
	pt_observed_done(&last);
	pt_state_log_done(&tally.log);
	if (lock >= 0)
		close(lock);
	return r;
}

void
pt_reconcile_result_done(struct pt_reconcile_result *r)
{
	if (!r)
		return;
	free(r->error);
	free(r->wait_error);
	free(r->record_error);
	free(r->state_warning);
	free(r->state_error);
	pt_diags_done(&r->diags);
	pt_config_done(&r->cfg);
	pt_observed_done(&r->obs);
	pt_plan_done(&r->plan);
	pt_plan_done(&r->after);
	memset(r, 0, sizeof(*r));
}
