/* history.c: what happened to each declared device (state.json), read with the YAML reader and written as JSON, its transition from one pass to the next with the notices that makes, and its Prometheus metrics; pure. */
#include "model/history.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/xalloc.h"
#include "model/yamltree.h"

/* A growing string. */
struct buf {
	char *s;
	size_t n, cap;
};

static void
put(struct buf *b, const char *s, size_t n)
{
	xgrow(&b->s, &b->cap, b->n + n + 1, 1);
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
putf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	puts_(b, s);
	free(s);
}

/* s as a JSON string literal (null for NULL). */
static void
put_json(struct buf *b, const char *s)
{
	if (!s) {
		puts_(b, "null");
		return;
	}
	puts_(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			putf(b, "\\%c", c);
		else if (c == '\n')
			puts_(b, "\\n");
		else if (c == '\t')
			puts_(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			putf(b, "\\u%04x", c);
		else
			put(b, (const char *)&c, 1);
	}
	puts_(b, "\"");
}

/* A time as JSON: seconds since the epoch, or null for never. */
static void
put_time(struct buf *b, int64_t t)
{
	if (t)
		putf(b, "%" PRId64, t);
	else
		puts_(b, "null");
}

char *
pt_time_format(int64_t t, char *buf)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, PT_TIME_BUFSZ, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, PT_TIME_BUFSZ, "%" PRId64, t);
	return buf;
}

static void
dev_done(struct pt_hist_device *d)
{
	free(d->name);
	free(d->last_change);
	free(d->last_error);
	free(d->driver);
	free(d->attached_to);
	memset(d, 0, sizeof(*d));
}

void
pt_history_done(struct pt_history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		dev_done(&h->v[i]);
	free(h->v);
	memset(h, 0, sizeof(*h));
}

void
pt_notices_done(struct pt_notices *n)
{
	if (!n)
		return;
	free(n->v);
	memset(n, 0, sizeof(*n));
}

const struct pt_hist_device *
pt_history_find(const struct pt_history *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].name, name) == 0)
			return &h->v[i];
	return NULL;
}

/* --- reading --- */

static const struct pt_ynode *
get(const struct pt_ynode *map, const char *key)
{
	for (size_t i = 0; i < map->n_pairs; i++)
		if (map->pairs[i].key->kind == PT_YNODE_SCALAR && strcmp(map->pairs[i].key->value, key) == 0)
			return map->pairs[i].value;
	return NULL;
}

/* A plain scalar that is null (or absent): true. */
static bool
is_null(const struct pt_ynode *n)
{
	return !n || (n->kind == PT_YNODE_SCALAR && n->style == PT_YSCALAR_PLAIN && pt_ynode_is_null(n));
}

static int
get_time(const struct pt_ynode *map, const char *key, int64_t *ret)
{
	const struct pt_ynode *n = get(map, key);
	char *end;
	long long v;

	*ret = 0;
	if (is_null(n))
		return 0;
	if (n->kind != PT_YNODE_SCALAR || n->style != PT_YSCALAR_PLAIN)
		return -EINVAL;
	errno = 0;
	v = strtoll(n->value, &end, 10);
	if (errno || end == n->value || *end || v < 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int
get_string(const struct pt_ynode *map, const char *key, char **ret)
{
	const struct pt_ynode *n = get(map, key);

	*ret = NULL;
	if (is_null(n))
		return 0;
	if (n->kind != PT_YNODE_SCALAR || n->style == PT_YSCALAR_PLAIN)
		return -EINVAL;
	*ret = xstrdup(n->value);
	return 0;
}

static int
get_bool(const struct pt_ynode *map, const char *key, bool *ret)
{
	const struct pt_ynode *n = get(map, key);

	if (!n || n->kind != PT_YNODE_SCALAR || n->style != PT_YSCALAR_PLAIN)
		return -EINVAL;
	if (strcmp(n->value, "true") == 0)
		*ret = true;
	else if (strcmp(n->value, "false") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int
parse_device(const struct pt_ynode *name, const struct pt_ynode *map, struct pt_hist_device *d)
{
	int64_t failures;
	int r;

	memset(d, 0, sizeof(*d));
	if (name->kind != PT_YNODE_SCALAR || !name->value[0] || map->kind != PT_YNODE_MAPPING)
		return -EINVAL;
	d->name = xstrdup(name->value);
	r = get_bool(map, "converged", &d->converged);
	if (!r)
		r = get_time(map, "since", &d->since);
	if (!r)
		r = get_string(map, "last_change", &d->last_change);
	if (!r)
		r = get_time(map, "last_change_at", &d->last_change_at);
	if (!r)
		r = get_string(map, "last_error", &d->last_error);
	if (!r)
		r = get_time(map, "last_error_at", &d->last_error_at);
	if (!r)
		r = get_time(map, "failures", &failures);
	if (!r)
		r = failures > UINT32_MAX ? -EINVAL : 0;
	d->failures = r ? 0 : (unsigned)failures;
	if (!r)
		r = get_time(map, "last_success", &d->last_success);
	if (!r)
		r = get_string(map, "driver", &d->driver);
	if (!r)
		r = get_string(map, "attached_to", &d->attached_to);
	if (!r)
		r = get_time(map, "checked", &d->checked);
	if (!r && !d->attached_to)
		d->attached_to = xstrdup("");
	return r;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pt_hist_device *)a)->name, ((const struct pt_hist_device *)b)->name);
}

int
pt_history_parse(const char *buf, size_t len, struct pt_history *ret)
{
	struct pt_diags diags = PT_DIAGS_INIT;
	struct pt_history h = { 0 };
	const struct pt_ynode *root, *v, *devs;
	struct pt_ydoc doc;
	int r;

	r = pt_ydoc_load("state.json", buf, len, &doc, &diags);
	pt_diags_done(&diags);
	if (r < 0)
		return -EINVAL;
	root = doc.root;
	r = -EINVAL;
	if (!root || root->kind != PT_YNODE_MAPPING)
		goto out;
	v = get(root, "version");
	if (!v || v->kind != PT_YNODE_SCALAR || strcmp(v->value, "1") != 0)
		goto out;
	if (get_time(root, "updated", &h.updated) < 0)
		goto out;
	v = get(root, "duration_seconds");
	if (v && v->kind == PT_YNODE_SCALAR)
		h.duration = strtod(v->value, NULL);
	if (get(root, "ok") && get_bool(root, "ok", &h.ok) < 0)
		goto out;
	devs = get(root, "devices");
	if (!devs || devs->kind != PT_YNODE_MAPPING)
		goto out;
	h.v = xcalloc(devs->n_pairs ? devs->n_pairs : 1, sizeof(*h.v));
	for (size_t i = 0; i < devs->n_pairs; i++) {
		if (parse_device(devs->pairs[i].key, devs->pairs[i].value, &h.v[h.n]) < 0) {
			dev_done(&h.v[h.n]);
			goto out;
		}
		h.n++;
	}
	qsort(h.v, h.n, sizeof(*h.v), name_cmp);
	for (size_t i = 1; i < h.n; i++)
		if (strcmp(h.v[i - 1].name, h.v[i].name) == 0)
			goto out;
	*ret = h;
	memset(&h, 0, sizeof(h));
	r = 0;
out:
	pt_history_done(&h);
	pt_ydoc_done(&doc);
	return r;
}

/* --- writing --- */

char *
pt_history_format(const struct pt_history *h)
{
	struct buf b = { 0 };

	putf(&b, "{\"version\": %d, \"updated\": ", PT_HISTORY_VERSION);
	put_time(&b, h->updated);
	putf(&b, ", \"duration_seconds\": %.3f, \"ok\": %s,\n\"devices\": {", h->duration, h->ok ? "true" : "false");
	for (size_t i = 0; i < h->n; i++) {
		const struct pt_hist_device *d = &h->v[i];

		puts_(&b, i ? ",\n  " : "\n  ");
		put_json(&b, d->name);
		putf(&b, ": {\"converged\": %s, \"since\": ", d->converged ? "true" : "false");
		put_time(&b, d->since);
		puts_(&b, ", \"last_change\": ");
		put_json(&b, d->last_change);
		puts_(&b, ", \"last_change_at\": ");
		put_time(&b, d->last_change_at);
		puts_(&b, ", \"last_error\": ");
		put_json(&b, d->last_error);
		puts_(&b, ", \"last_error_at\": ");
		put_time(&b, d->last_error_at);
		putf(&b, ", \"failures\": %u, \"last_success\": ", d->failures);
		put_time(&b, d->last_success);
		puts_(&b, ", \"driver\": ");
		put_json(&b, d->driver);
		puts_(&b, ", \"attached_to\": ");
		put_json(&b, d->attached_to ? d->attached_to : "");
		puts_(&b, ", \"checked\": ");
		put_time(&b, d->checked);
		puts_(&b, "}");
	}
	puts_(&b, h->n ? "\n}}\n" : "}}\n");
	return b.s;
}

/* --- one pass --- */

static void
dev_copy(struct pt_hist_device *to, const struct pt_hist_device *from)
{
	*to = *from;
	to->name = xstrdup(from->name);
	to->last_change = from->last_change ? xstrdup(from->last_change) : NULL;
	to->last_error = from->last_error ? xstrdup(from->last_error) : NULL;
	to->driver = from->driver ? xstrdup(from->driver) : NULL;
	to->attached_to = xstrdup(from->attached_to ? from->attached_to : "");
}

static void
set(char **field, const char *value)
{
	free(*field);
	*field = value ? xstrdup(value) : NULL;
}

static bool
in_pass(const struct pt_pass *pass, const char *name)
{
	for (size_t i = 0; i < pass->n; i++)
		if (strcmp(pass->v[i].name, name) == 0)
			return true;
	return false;
}

void
pt_history_next(const struct pt_history *old, const struct pt_pass *pass, struct pt_history *ret,
		struct pt_notices *ret_notices)
{
	struct pt_history h = { 0 };
	struct pt_notices notes = { 0 };
	bool *fresh;
	size_t cap = old->n + pass->n + 1;

	/* what is kept (a full pass drops the entries the file no longer has), then the new ones */
	h.v = xcalloc(cap, sizeof(*h.v));
	for (size_t i = 0; i < old->n; i++)
		if (!pass->full || in_pass(pass, old->v[i].name))
			dev_copy(&h.v[h.n++], &old->v[i]);
	for (size_t i = 0; i < pass->n; i++) {
		if (pt_history_find(&h, pass->v[i].name))
			continue;
		h.v[h.n].name = xstrdup(pass->v[i].name);
		h.v[h.n].attached_to = xstrdup("");
		h.v[h.n].checked = -1;   /* new: no state before this pass */
		h.n++;
	}
	qsort(h.v, h.n, sizeof(*h.v), name_cmp);
	fresh = xcalloc(h.n + 1, sizeof(*fresh));
	for (size_t i = 0; i < h.n; i++) {
		fresh[i] = h.v[i].checked == -1;
		if (fresh[i])
			h.v[i].checked = 0;
	}
	notes.v = xcalloc(pass->n + 1, sizeof(*notes.v));
	h.ok = true;
	for (size_t i = 0; i < pass->n; i++) {
		const struct pt_pass_device *p = &pass->v[i];
		struct pt_hist_device *d = (struct pt_hist_device *)pt_history_find(&h, p->name);
		bool was_new = fresh[d - h.v];
		unsigned failed_before = d->failures;

		d->checked = pass->now;
		set(&d->driver, p->driver);
		set(&d->attached_to, p->attached_to ? p->attached_to : "");
		if (p->change) {
			set(&d->last_change, p->change);
			d->last_change_at = pass->now;
		}
		if (p->converged) {
			if (was_new || !d->converged)
				d->since = pass->now;
			d->converged = true;
			d->last_success = pass->now;
			d->failures = 0;
			if (!was_new && failed_before)
				notes.v[notes.n++] = (struct pt_notice){ PT_NOTICE_RECOVERY, d, failed_before };
		} else {
			if (was_new || d->converged)
				d->since = pass->now;
			d->converged = false;
			d->failures++;
			set(&d->last_error, p->error ? p->error : "not converged");
			d->last_error_at = pass->now;
			h.ok = false;
			if (!failed_before)
				notes.v[notes.n++] = (struct pt_notice){ PT_NOTICE_FAILURE, d, 1 };
		}
	}
	free(fresh);
	h.updated = pass->now;
	h.duration = pass->duration;
	*ret = h;
	*ret_notices = notes;
}

/* --- notices --- */

const char *
pt_notice_kind_name(enum pt_notice_kind k)
{
	return k == PT_NOTICE_RECOVERY ? "recovery" : "failure";
}

char *
pt_notice_message(const struct pt_notice *n)
{
	const struct pt_hist_device *d = n->dev;

	if (n->kind == PT_NOTICE_FAILURE)
		return xasprintf("'%s' failed: %s", d->name, d->last_error ? d->last_error : "not converged");
	if (d->last_change && d->last_change_at == d->checked)
		return xasprintf("'%s' recovered after %u failed pass%s: %s", d->name, n->failures,
				 n->failures == 1 ? "" : "es", d->last_change);
	return xasprintf("'%s' recovered after %u failed pass%s", d->name, n->failures, n->failures == 1 ? "" : "es");
}

char *
pt_notice_json(const struct pt_notice *n, const char *host, int64_t now)
{
	const struct pt_hist_device *d = n->dev;
	char t[PT_TIME_BUFSZ], *msg = pt_notice_message(n);
	struct buf b = { 0 };

	putf(&b, "{\"event\": \"%s\", \"device\": ", pt_notice_kind_name(n->kind));
	put_json(&b, d->name);
	puts_(&b, ", \"host\": ");
	put_json(&b, host);
	puts_(&b, ", \"time\": ");
	put_json(&b, pt_time_format(now, t));
	putf(&b, ", \"time_unix\": %" PRId64 ", \"message\": ", now);
	put_json(&b, msg);
	puts_(&b, ", \"error\": ");
	put_json(&b, d->last_error);
	puts_(&b, ", \"error_at\": ");
	put_time(&b, d->last_error_at);
	putf(&b, ", \"failures\": %u, \"last_change\": ", n->failures);
	put_json(&b, d->last_change);
	puts_(&b, ", \"last_change_at\": ");
	put_time(&b, d->last_change_at);
	puts_(&b, ", \"driver\": ");
	put_json(&b, d->driver);
	puts_(&b, ", \"attached_to\": ");
	put_json(&b, d->attached_to ? d->attached_to : "");
	puts_(&b, "}\n");
	free(msg);
	return b.s;
}

char **
pt_notice_env(const struct pt_notice *n, const char *host, int64_t now)
{
	const struct pt_hist_device *d = n->dev;
	char t[PT_TIME_BUFSZ], **v = xcalloc(11, sizeof(*v));
	char *msg = pt_notice_message(n);
	size_t i = 0;

	v[i++] = xasprintf("PASSTHROUGH_EVENT=%s", pt_notice_kind_name(n->kind));
	v[i++] = xasprintf("PASSTHROUGH_DEVICE=%s", d->name);
	v[i++] = xasprintf("PASSTHROUGH_HOST=%s", host);
	v[i++] = xasprintf("PASSTHROUGH_TIME=%s", pt_time_format(now, t));
	v[i++] = xasprintf("PASSTHROUGH_MESSAGE=%s", msg);
	v[i++] = xasprintf("PASSTHROUGH_ERROR=%s", d->last_error ? d->last_error : "");
	v[i++] = xasprintf("PASSTHROUGH_FAILURES=%u", n->failures);
	v[i++] = xasprintf("PASSTHROUGH_LAST_CHANGE=%s", d->last_change ? d->last_change : "");
	v[i++] = xasprintf("PASSTHROUGH_DRIVER=%s", d->driver ? d->driver : "");
	v[i++] = xasprintf("PASSTHROUGH_ATTACHED_TO=%s", d->attached_to ? d->attached_to : "");
	free(msg);
	return v;
}

void
pt_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* --- metrics --- */

/* s as a label value: \, " and newline escaped. */
static void
put_label(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			putf(b, "\\%c", *s);
		else if (*s == '\n')
			puts_(b, "\\n");
		else
			put(b, s, 1);
	}
}

enum metric { M_CONVERGED, M_ATTACHED, M_VFIO, M_SUCCESS, M_FAILURES };

static const struct {
	const char *name, *help;
} metrics[] = {
	[M_CONVERGED] = { "passthrough_device_converged",
			  "Whether the device matched passthrough.yaml after the last pass that looked at it." },
	[M_ATTACHED] = { "passthrough_device_attached", "Whether the device was attached to a running VM." },
	[M_VFIO] = { "passthrough_device_vfio_pci", "Whether the device was bound to vfio-pci." },
	[M_SUCCESS] = { "passthrough_device_last_success_timestamp_seconds",
			"When a pass last left the device converged (0: never)." },
	[M_FAILURES] = { "passthrough_device_consecutive_failures",
			 "Passes in a row that left the device failed (0 when converged)." },
};

static int64_t
metric_value(enum metric m, const struct pt_hist_device *d)
{
	switch (m) {
	case M_CONVERGED:
		return d->converged;
	case M_ATTACHED:
		return d->attached_to && d->attached_to[0];
	case M_VFIO:
		return d->driver && strcmp(d->driver, "vfio-pci") == 0;
	case M_SUCCESS:
		return d->last_success;
	case M_FAILURES:
		return d->failures;
	}
	return 0;
}

char *
pt_metrics_format(const struct pt_history *h)
{
	struct buf b = { 0 };

	for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
		putf(&b, "# HELP %s %s\n# TYPE %s gauge\n", metrics[m].name, metrics[m].help, metrics[m].name);
		for (size_t i = 0; i < h->n; i++) {
			putf(&b, "%s{device=\"", metrics[m].name);
			put_label(&b, h->v[i].name);
			putf(&b, "\"} %" PRId64 "\n", metric_value((enum metric)m, &h->v[i]));
		}
	}
	putf(&b, "# HELP passthrough_last_run_timestamp_seconds When the last pass (apply, the hook, watch) ended.\n"
	     "# TYPE passthrough_last_run_timestamp_seconds gauge\n"
	     "passthrough_last_run_timestamp_seconds %" PRId64 "\n"
	     "# HELP passthrough_last_run_duration_seconds How long the last pass took.\n"
	     "# TYPE passthrough_last_run_duration_seconds gauge\n"
	     "passthrough_last_run_duration_seconds %.3f\n"
	     "# HELP passthrough_last_run_success Whether the last pass left every device it looked at converged.\n"
	     "# TYPE passthrough_last_run_success gauge\n"
	     "passthrough_last_run_success %d\n", h->updated, h->duration, h->ok ? 1 : 0);
	return b.s;
}
