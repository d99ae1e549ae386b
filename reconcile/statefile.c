/* statefile.c: state.json read and written under the state directory after every pass, the notifier started for each device that failed or recovered, and the metrics file written. */
#include "reconcile/statefile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/xalloc.h"
#include "reconcile/child.h"
#include "reconcile/fileio.h"

char *
pt_state_path(const struct pt_host *h)
{
	if (!h->state_dir)
		return NULL;
	return xasprintf("%s%s" PT_STATE_FILE, h->state_dir,
			 h->state_dir[0] && h->state_dir[strlen(h->state_dir) - 1] == '/' ? "" : "/");
}

int
pt_state_load(const char *path, struct pt_history *ret, char **reterr)
{
	char *buf;
	size_t len;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = pt_read_file(path, PT_HISTORY_MAX_BYTES, &buf, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0) {
		*reterr = xasprintf("cannot read '%s': %s", path, r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return r;
	}
	r = pt_history_parse(buf, len, ret);
	free(buf);
	if (r < 0)
		*reterr = xasprintf("'%s' is not a state file of this version", path);
	return r;
}

void
pt_state_log_step(struct pt_state_log *log, const struct pt_step *s, enum pt_step_outcome o, const char *msg)
{
	struct pt_state_step *e;

	if (!s->device)
		return;
	xgrow(&log->v, &log->cap, log->n + 1, sizeof(*log->v));
	e = &log->v[log->n++];
	e->device = xstrdup(s->device);
	e->kind = s->kind;
	e->outcome = o;
	e->to = s->to ? xstrdup(s->to) : NULL;
	e->from = s->from ? xstrdup(s->from) : NULL;
	e->msg = msg ? xstrdup(msg) : NULL;
}

void
pt_state_log_done(struct pt_state_log *log)
{
	for (size_t i = 0; log && i < log->n; i++) {
		free(log->v[i].device);
		free(log->v[i].to);
		free(log->v[i].from);
		free(log->v[i].msg);
	}
	if (log) {
		free(log->v);
		memset(log, 0, sizeof(*log));
	}
}

/* A device a pass looked at, while its result is made. */
struct seen {
	struct pt_pass_device d;
	char *change, *error, *driver, *attached;
};

static struct seen *
seen_add(struct seen **v, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].d.name, name) == 0)
			return &(*v)[i];
	*v = realloc(*v, (*n + 1) * sizeof(**v));
	if (!*v)
		abort();
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].d.name = name;
	return &(*v)[(*n)++];
}

static void
append(char **s, const char *add)
{
	char *t;

	if (*s && strstr(*s, add))
		return;
	t = xasprintf("%s%s%s", *s ? *s : "", *s ? ", " : "", add);
	free(*s);
	*s = t;
}

/* What a step that was carried out changed, in a few words, or NULL. */
static char *
change_of(const struct pt_state_step *s)
{
	switch (s->kind) {
	case PT_STEP_SET_OVERRIDE:
	case PT_STEP_UNBIND:
		return NULL;
	case PT_STEP_PROBE:
		return s->to ? xasprintf("bound to %s", s->to) : xstrdup("given back to the host");
	case PT_STEP_CLEAR_OVERRIDE:
		return NULL;
	case PT_STEP_ATTACH:
		return xasprintf("attached to %s", s->to ? s->to : "its VM");
	case PT_STEP_DETACH:
		return xasprintf("detached from %s", s->from ? s->from : "its VM");
	case PT_STEP_RESET:
		return xstrdup("reset");
	case PT_STEP_RESCAN:
		return xstrdup("brought back by a rescan");
	case PT_STEP_POWER:
		return xasprintf("power/control %s", s->to ? s->to : "restored");
	case PT_STEP_CHECK:
	case PT_STEP_UNLOAD_VFIO:
	case PT_STEP_LOAD_VFIO:
		return NULL;
	}
	return NULL;
}

/* The entry's error from a plan (a problem, else a step still to do), or NULL. */
static char *
plan_error(const struct pt_plan *plan, const char *name, bool steps)
{
	for (size_t i = 0; i < plan->n_problems; i++)
		if (plan->problems[i].name && strcmp(plan->problems[i].name, name) == 0)
			return xstrdup(plan->problems[i].message);
	for (size_t i = 0; steps && i < plan->n_steps; i++)
		if (plan->steps[i].device && strcmp(plan->steps[i].device, name) == 0)
			return xasprintf("still to do after applying: %s (%s)", pt_step_kind_name(plan->steps[i].kind),
					 plan->steps[i].reason);
	return NULL;
}

static bool
plan_has(const struct pt_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n_steps; i++)
		if (plan->steps[i].device && strcmp(plan->steps[i].device, name) == 0)
			return true;
	return false;
}

/* The devices p looked at, each with its result. *ret: the caller frees with seen_free(). */
static size_t
pass_devices(const struct pt_state_pass *p, struct seen **ret)
{
	struct seen *v = NULL;
	size_t n = 0;

	if (p->full)
		for (size_t i = 0; i < p->plan->assignment.n_slots; i++)
			seen_add(&v, &n, p->plan->assignment.slots[i].name);
	for (size_t i = 0; i < p->plan->n_steps; i++)
		if (p->plan->steps[i].device)
			seen_add(&v, &n, p->plan->steps[i].device);
	for (size_t i = 0; i < p->plan->n_problems; i++)
		if (p->plan->problems[i].name)
			seen_add(&v, &n, p->plan->problems[i].name);
	for (size_t i = 0; p->after && i < p->after->n_problems; i++)
		if (p->after->problems[i].name)
			seen_add(&v, &n, p->after->problems[i].name);
	for (size_t i = 0; i < n; i++) {
		struct seen *s = &v[i];
		const struct pt_plan *now = p->after ? p->after : p->plan;
		const struct pt_pcidev *dev = NULL;

		for (size_t j = 0; j < p->log->n; j++) {
			const struct pt_state_step *st = &p->log->v[j];

			if (strcmp(st->device, s->d.name) != 0)
				continue;
			if ((st->outcome == PT_STEP_FAILED || st->outcome == PT_STEP_TIMED_OUT) && !s->error) {
				s->error = xasprintf("%s failed: %s", pt_step_kind_name(st->kind), st->msg ? st->msg : "?");
			} else if (st->outcome == PT_STEP_DONE || st->outcome == PT_STEP_RECOVERED) {
				char *c = st->outcome == PT_STEP_RECOVERED ? xstrdup("brought back") : change_of(st);

				if (c)
					append(&s->change, c);
				free(c);
			}
		}
		if (!s->error)
			s->error = plan_error(p->plan, s->d.name, false);
		if (!s->error && p->after)
			s->error = plan_error(p->after, s->d.name, true);
		if (!s->error && p->error && plan_has(p->plan, s->d.name))
			s->error = xstrdup(p->error);
		/* its device, as the last plan assigned it (a pool member's included) */
		for (size_t j = 0; j < now->assignment.n_slots && !dev; j++)
			if (strcmp(now->assignment.slots[j].name, s->d.name) == 0)
				dev = now->assignment.slots[j].dev;
		s->driver = dev && dev->driver ? xstrdup(dev->driver) : NULL;
		s->attached = xstrdup("");
		for (size_t j = 0; dev && j < p->obs->n_doms; j++) {
			const struct pt_domain *dom = &p->obs->doms[j];

			if (dom->state == PT_DOMAIN_RUNNING && pt_domain_has_hostdev(dom, &dev->addr, false)) {
				char *t = xasprintf("%s%s%s", s->attached, s->attached[0] ? ", " : "", dom->name);

				free(s->attached);
				s->attached = t;
			}
		}
		s->d.converged = !s->error;
		s->d.change = s->change;
		s->d.error = s->error;
		s->d.driver = s->driver;
		s->d.attached_to = s->attached;
	}
	*ret = v;
	return n;
}

static void
seen_free(struct seen *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].change);
		free(v[i].error);
		free(v[i].driver);
		free(v[i].attached);
	}
	free(v);
}

static void
add_error(char **errs, char *e)
{
	char *t = xasprintf("%s%s%s", *errs ? *errs : "", *errs ? "; " : "", e);

	free(*errs);
	free(e);
	*errs = t;
}

/* Starts the notifier for n, detached. */
static int
notify(const struct pt_notify *nf, const struct pt_notice *n, int64_t now)
{
	char host[256] = "localhost";
	char *json, **env;
	int r;

	if (gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	json = pt_notice_json(n, host, now);
	env = pt_notice_env(n, host, now);
	r = pt_child_run_detached((const char *const *)nf->command, env, json, nf->timeout_s * 1000, "notify");
	pt_strv_free(env);
	free(json);
	return r;
}

void
pt_state_record(const struct pt_host *h, const struct pt_state_pass *p, char **ret_warning, char **ret_error)
{
	char *path = pt_state_path(h), *err = NULL, *text;
	struct pt_history old = { 0 }, next;
	struct pt_notices notes;
	struct pt_pass pass = { .full = p->full, .now = p->now, .duration = p->duration };
	struct seen *seen;
	size_t n;
	int r;
	/* A pass with nothing to do changes only the times: renamed over, never half-written, but
	 * not fsynced (what the timer runs all day; a crash loses at most that pass's times). */
	bool durable = p->plan->n_steps || p->plan->n_problems || p->log->n || p->error;

	*ret_warning = *ret_error = NULL;
	if (path) {
		r = pt_state_load(path, &old, &err);
		if (r < 0 && r != -ENOENT)
			*ret_warning = xasprintf("%s; rebuilt from what this pass saw", err);
		free(err);
	}
	n = pass_devices(p, &seen);
	{
		struct pt_pass_device *v = xcalloc(n + 1, sizeof(*v));

		for (size_t i = 0; i < n; i++)
			v[i] = seen[i].d;
		pass.v = v;
		pass.n = n;
		pt_history_next(&old, &pass, &next, &notes);
		free(v);
	}
	if (path) {
		text = pt_history_format(&next);
		if (mkdir(h->state_dir, 0755) < 0 && errno != EEXIST)
			r = -errno;
		else
			r = pt_write_file_atomic(path, text, strlen(text), 0644, durable);
		if (r < 0)
			add_error(ret_error, xasprintf("cannot write '%s': %s", path, strerror(-r)));
		free(text);
	}
	for (size_t i = 0; p->cfg->notify.command && i < notes.n; i++) {
		const struct pt_notice *nt = &notes.v[i];

		if (nt->kind == PT_NOTICE_FAILURE ? !p->cfg->notify.on_failure : !p->cfg->notify.on_recovery)
			continue;
		r = notify(&p->cfg->notify, nt, p->now);
		if (r < 0)
			add_error(ret_error, xasprintf("cannot start the notifier '%s': %s", p->cfg->notify.command[0],
						      strerror(-r)));
	}
	if (p->metrics_file) {
		text = pt_metrics_format(&next);
		r = pt_write_file_atomic(p->metrics_file, text, strlen(text), 0644, false);
		if (r < 0)
			add_error(ret_error, xasprintf("cannot write '%s': %s", p->metrics_file, strerror(-r)));
		free(text);
	}
	pt_notices_done(&notes);
	pt_history_done(&next);
	pt_history_done(&old);
	seen_free(seen, n);
	free(path);
}
