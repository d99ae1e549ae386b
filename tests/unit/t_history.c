/* t_history.c: unit tests of state.json (read back with the YAML reader, corrupt files refused), one pass's transition and its notices, the notifier's JSON and environment, the metrics against the exposition format, and the atomic writer. */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "model/history.h"
#include "model/xalloc.h"
#include "reconcile/fileio.h"

/* One pass over a single device. */
static void
pass1(struct pt_history *h, struct pt_notices *n, const char *name, bool ok, const char *change, const char *error,
      int64_t now)
{
	struct pt_pass_device d = { name, ok, change, error, ok ? "vfio-pci" : "apex", ok ? "frigate" : "" };
	struct pt_pass p = { &d, 1, false, now, 0.25 };
	struct pt_history next;

	pt_history_next(h, &p, &next, n);
	pt_history_done(h);
	*h = next;
}

static void
test_failure_then_recovery(void **state)
{
	struct pt_history h = { 0 };
	struct pt_notices n;
	const struct pt_hist_device *d;

	(void)state;
	/* first seen converged: nothing to tell */
	pass1(&h, &n, "coral", true, "bound to vfio-pci, attached to frigate", NULL, 1000);
	assert_int_equal(n.n, 0);
	d = pt_history_find(&h, "coral");
	assert_true(d->converged);
	assert_int_equal(d->since, 1000);
	assert_int_equal(d->last_success, 1000);
	assert_string_equal(d->last_change, "bound to vfio-pci, attached to frigate");
	pt_notices_done(&n);
	/* converged again, nothing done: no notice, since stays */
	pass1(&h, &n, "coral", true, NULL, NULL, 1300);
	assert_int_equal(n.n, 0);
	d = pt_history_find(&h, "coral");
	assert_int_equal(d->since, 1000);
	assert_int_equal(d->last_change_at, 1000);
	assert_int_equal(d->last_success, 1300);
	pt_notices_done(&n);
	/* the first failure: one notice */
	pass1(&h, &n, "coral", false, NULL, "attach failed: it does not answer", 1600);
	assert_int_equal(n.n, 1);
	assert_int_equal(n.v[0].kind, PT_NOTICE_FAILURE);
	assert_string_equal(n.v[0].dev->name, "coral");
	d = pt_history_find(&h, "coral");
	assert_false(d->converged);
	assert_int_equal(d->since, 1600);
	assert_int_equal(d->failures, 1);
	assert_string_equal(d->last_error, "attach failed: it does not answer");
	assert_int_equal(d->last_error_at, 1600);
	pt_notices_done(&n);
	/* failing again: counted, not told again */
	pass1(&h, &n, "coral", false, NULL, "attach failed: still not", 1900);
	assert_int_equal(n.n, 0);
	d = pt_history_find(&h, "coral");
	assert_int_equal(d->failures, 2);
	assert_int_equal(d->since, 1600);
	assert_string_equal(d->last_error, "attach failed: still not");
	pt_notices_done(&n);
	/* recovery: one notice saying after how many */
	pass1(&h, &n, "coral", true, "attached to frigate", NULL, 2200);
	assert_int_equal(n.n, 1);
	assert_int_equal(n.v[0].kind, PT_NOTICE_RECOVERY);
	assert_int_equal(n.v[0].failures, 2);
	d = pt_history_find(&h, "coral");
	assert_true(d->converged);
	assert_int_equal(d->failures, 0);
	assert_int_equal(d->since, 2200);
	/* the last error stays, to be seen */
	assert_string_equal(d->last_error, "attach failed: still not");
	{
		char *m = pt_notice_message(&n.v[0]);

		assert_string_equal(m, "'coral' recovered after 2 failed passes: attached to frigate");
		free(m);
	}
	pt_notices_done(&n);
	pass1(&h, &n, "coral", true, NULL, NULL, 2500);
	assert_int_equal(n.n, 0);
	pt_notices_done(&n);
	pt_history_done(&h);
}

static void
test_new_failing_device_is_a_failure(void **state)
{
	struct pt_history h = { 0 };
	struct pt_notices n;

	(void)state;
	pass1(&h, &n, "coral", false, NULL, "no present device is the one it names", 50);
	assert_int_equal(n.n, 1);
	assert_int_equal(n.v[0].kind, PT_NOTICE_FAILURE);
	pt_notices_done(&n);
	pt_history_done(&h);
}

static void
test_full_pass_drops_what_the_file_lost(void **state)
{
	struct pt_history h = { 0 }, next;
	struct pt_notices n;
	struct pt_pass_device two[] = { { "a", true, NULL, NULL, NULL, "" }, { "b", true, NULL, NULL, NULL, "" } };
	struct pt_pass p = { two, 2, true, 10, 0 };

	(void)state;
	pt_history_next(&h, &p, &next, &n);
	pt_notices_done(&n);
	assert_int_equal(next.n, 2);
	/* a partial pass (--vm) over b keeps a */
	p = (struct pt_pass){ two + 1, 1, false, 20, 0 };
	pt_history_next(&next, &p, &h, &n);
	pt_notices_done(&n);
	assert_int_equal(h.n, 2);
	assert_int_equal(pt_history_find(&h, "a")->checked, 10);
	assert_int_equal(pt_history_find(&h, "b")->checked, 20);
	pt_history_done(&next);
	/* a full pass over b alone drops a */
	p.full = true;
	pt_history_next(&h, &p, &next, &n);
	pt_notices_done(&n);
	assert_int_equal(next.n, 1);
	assert_null(pt_history_find(&next, "a"));
	pt_history_done(&next);
	pt_history_done(&h);
}

static void
test_round_trip(void **state)
{
	struct pt_history h = { 0 }, back;
	struct pt_notices n;
	char *text, *again;

	(void)state;
	pass1(&h, &n, "coral[0]", false, "bound to vfio-pci", "a \"quoted\" \\ error\nwith a tab\t\x01 and é", 1714533120);
	pt_notices_done(&n);
	pass1(&h, &n, "nic", true, NULL, NULL, 1714533121);
	pt_notices_done(&n);
	text = pt_history_format(&h);
	assert_int_equal(pt_history_parse(text, strlen(text), &back), 0);
	assert_int_equal(back.n, 2);
	assert_string_equal(pt_history_find(&back, "coral[0]")->last_error, "a \"quoted\" \\ error\nwith a tab\t\x01 and é");
	assert_int_equal(pt_history_find(&back, "coral[0]")->failures, 1);
	assert_null(pt_history_find(&back, "nic")->last_error);
	again = pt_history_format(&back);
	assert_string_equal(text, again);
	free(again);
	/* every cut of it is refused or read, never a crash */
	for (size_t i = 0; i < strlen(text); i++) {
		struct pt_history cut;

		if (pt_history_parse(text, i, &cut) == 0)
			pt_history_done(&cut);
	}
	free(text);
	pt_history_done(&back);
	pt_history_done(&h);
}

static void
test_corrupt_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"garbage",
		"[1, 2]",
		"{\"version\": 2, \"devices\": {}}",
		"{\"version\": 1}",
		"{\"version\": 1, \"devices\": []}",
		"{\"version\": 1, \"devices\": {\"a\": {\"converged\": \"yes\"}}}",
		"{\"version\": 1, \"devices\": {\"a\": {\"converged\": true, \"since\": -5}}}",
		"{\"version\": 1, \"devices\": {\"a\": {\"converged\": true, \"last_error\": 5}}}",
		"{\"version\": 1, \"devices\": {\"a\": {\"converged\": true}, \"a\": {\"converged\": true}}}",
		"{\"version\": 1, \"devices\": {\"a\": {\"converged\": true, \"failures\": 99999999999}}}",
		"{\"version\": 1, \"devices\": {\"a\"",
	};
	struct pt_history h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pt_history_parse(bad[i], strlen(bad[i]), &h) == 0)
			fail_msg("accepted: %s", bad[i]);
	}
	{
		const char *empty = "{\"version\": 1, \"devices\": {}}";

		assert_int_equal(pt_history_parse(empty, strlen(empty), &h), 0);
	}
	assert_int_equal(h.n, 0);
	pt_history_done(&h);
}

static void
test_notice_json_and_env(void **state)
{
	struct pt_history h = { 0 };
	struct pt_notices n;
	char *json, **env;

	(void)state;
	pass1(&h, &n, "coral", false, NULL, "attach failed: \"x\"", 1714533120);
	assert_int_equal(n.n, 1);
	json = pt_notice_json(&n.v[0], "nas", 1714533120);
	assert_string_equal(json, "{\"event\": \"failure\", \"device\": \"coral\", \"host\": \"nas\", "
			    "\"time\": \"2024-05-01T03:12:00Z\", \"time_unix\": 1714533120, "
			    "\"message\": \"'coral' failed: attach failed: \\\"x\\\"\", "
			    "\"error\": \"attach failed: \\\"x\\\"\", \"error_at\": 1714533120, \"failures\": 1, "
			    "\"last_change\": null, \"last_change_at\": null, \"driver\": \"apex\", \"attached_to\": \"\"}\n");
	env = pt_notice_env(&n.v[0], "nas", 1714533120);
	assert_string_equal(env[0], "PASSTHROUGH_EVENT=failure");
	assert_string_equal(env[1], "PASSTHROUGH_DEVICE=coral");
	assert_string_equal(env[2], "PASSTHROUGH_HOST=nas");
	assert_string_equal(env[3], "PASSTHROUGH_TIME=2024-05-01T03:12:00Z");
	assert_string_equal(env[4], "PASSTHROUGH_MESSAGE='coral' failed: attach failed: \"x\"");
	assert_string_equal(env[5], "PASSTHROUGH_ERROR=attach failed: \"x\"");
	assert_string_equal(env[6], "PASSTHROUGH_FAILURES=1");
	assert_null(env[10]);
	pt_strv_free(env);
	free(json);
	pt_notices_done(&n);
	pt_history_done(&h);
}

/* --- the text exposition format (prometheus/docs, exposition_formats.md), as promtool reads it --- */

static bool
metric_name_ok(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

/* Checks text line by line; returns NULL or what is wrong (static). */
static const char *
exposition_error(const char *text, unsigned *ret_samples)
{
	static char why[256];
	char typed[32][96] = { { 0 } }, series[64][160] = { { 0 } };
	size_t n_typed = 0, n_series = 0;
	const char *line = text;

	*ret_samples = 0;
	if (!*text || text[strlen(text) - 1] != '\n')
		return "does not end with a newline";
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = (size_t)(end - line);
		char buf[512];

		if (len >= sizeof(buf))
			return "a line too long";
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = end + 1;
		if (strncmp(buf, "# HELP ", 7) == 0 || strncmp(buf, "# TYPE ", 7) == 0) {
			char *name = buf + 7, *sp = strchr(name, ' ');

			if (!sp || !metric_name_ok(name, (size_t)(sp - name)))
				return snprintf(why, sizeof(why), "bad comment: %.200s", buf), why;
			*sp = '\0';
			if (strncmp(name, "passthrough_", 12) != 0)
				return snprintf(why, sizeof(why), "not ours: %.200s", name), why;
			if (buf[2] == 'T') {
				if (strcmp(sp + 1, "gauge") != 0 && strcmp(sp + 1, "counter") != 0)
					return snprintf(why, sizeof(why), "bad type: %.200s", sp + 1), why;
				for (size_t i = 0; i < n_typed; i++)
					if (strcmp(typed[i], name) == 0)
						return snprintf(why, sizeof(why), "typed twice: %.200s", name), why;
				snprintf(typed[n_typed++], sizeof(typed[0]), "%.95s", name);
			}
			continue;
		}
		if (buf[0] == '#')
			continue;
		{
			size_t nl = strcspn(buf, "{ ");
			char *p = buf + nl, *v, *endv;
			bool known = false;

			if (!metric_name_ok(buf, nl))
				return snprintf(why, sizeof(why), "bad sample name: %.200s", buf), why;
			for (size_t i = 0; i < n_typed; i++)
				known |= strlen(typed[i]) == nl && strncmp(typed[i], buf, nl) == 0;
			if (!known)
				return snprintf(why, sizeof(why), "sample before its TYPE: %.200s", buf), why;
			if (*p == '{') {
				p++;
				while (*p != '}') {
					size_t ln = strcspn(p, "=");

					if (!metric_name_ok(p, ln) || p[ln] != '=' || p[ln + 1] != '"')
						return snprintf(why, sizeof(why), "bad label: %.200s", buf), why;
					p += ln + 2;
					while (*p && *p != '"') {
						if (*p == '\\' && !strchr("\\\"n", p[1]))
							return snprintf(why, sizeof(why), "bad escape: %.200s", buf), why;
						p += *p == '\\' ? 2 : 1;
					}
					if (*p != '"')
						return snprintf(why, sizeof(why), "unterminated label: %.200s", buf), why;
					p++;
					if (*p == ',')
						p++;
					else if (*p != '}')
						return snprintf(why, sizeof(why), "bad label list: %.200s", buf), why;
				}
				p++;
			}
			if (*p != ' ')
				return snprintf(why, sizeof(why), "no value: %.200s", buf), why;
			*p = '\0';
			for (size_t i = 0; i < n_series; i++)
				if (strcmp(series[i], buf) == 0)
					return snprintf(why, sizeof(why), "duplicate series: %.200s", buf), why;
			snprintf(series[n_series++], sizeof(series[0]), "%.159s", buf);
			v = p + 1;
			strtod(v, &endv);
			if (endv == v || (*endv && *endv != ' '))
				return snprintf(why, sizeof(why), "bad value: %.200s", v), why;
			(*ret_samples)++;
		}
	}
	return NULL;
}

static void
test_metrics_parse(void **state)
{
	struct pt_history h = { 0 };
	struct pt_notices n;
	const char *why;
	unsigned samples;
	char *text;

	(void)state;
	pass1(&h, &n, "coral", true, "attached to frigate", NULL, 1714533120);
	pt_notices_done(&n);
	pass1(&h, &n, "odd\"name\\x", false, NULL, "failed", 1714533130);
	pt_notices_done(&n);
	text = pt_metrics_format(&h);
	why = exposition_error(text, &samples);
	if (why)
		fail_msg("%s\n%s", why, text);
	assert_int_equal(samples, 5 * 2 + 3);
	assert_non_null(strstr(text, "passthrough_device_converged{device=\"coral\"} 1\n"));
	assert_non_null(strstr(text, "passthrough_device_attached{device=\"coral\"} 1\n"));
	assert_non_null(strstr(text, "passthrough_device_vfio_pci{device=\"coral\"} 1\n"));
	assert_non_null(strstr(text, "passthrough_device_last_success_timestamp_seconds{device=\"coral\"} 1714533120\n"));
	assert_non_null(strstr(text, "passthrough_device_consecutive_failures{device=\"odd\\\"name\\\\x\"} 1\n"));
	assert_non_null(strstr(text, "passthrough_last_run_timestamp_seconds 1714533130\n"));
	assert_non_null(strstr(text, "passthrough_last_run_duration_seconds 0.250\n"));
	assert_non_null(strstr(text, "passthrough_last_run_success 0\n"));
	/* the checker itself refuses what is wrong */
	assert_non_null(exposition_error("passthrough_x 1\n", &samples));
	assert_non_null(exposition_error("# TYPE passthrough_x gauge\npassthrough_x{a=\"b} 1\n", &samples));
	assert_non_null(exposition_error("# TYPE passthrough_x gauge\npassthrough_x 1\npassthrough_x 2\n", &samples));
	assert_non_null(exposition_error("# TYPE passthrough_x gauge\npassthrough_x one\n", &samples));
	free(text);
	pt_history_done(&h);
}

static void
test_atomic_write_keeps_the_old_file(void **state)
{
	char dir[] = "/tmp/t_history.XXXXXX", *path, *tmp, *buf;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/state.json", dir);
	tmp = xasprintf("%s/state.json.tmp", dir);
	assert_int_equal(pt_write_file_atomic(path, "old\n", 4, 0644, true), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	/* the temporary cannot be made (a directory is in its way): the old file stays whole */
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_true(pt_write_file_atomic(path, "new\n", 4, 0644, true) < 0);
	assert_int_equal(pt_read_file(path, 100, &buf, &len), 0);
	assert_string_equal(buf, "old\n");
	free(buf);
	assert_int_equal(rmdir(tmp), 0);
	/* a temporary a crash left behind is overwritten */
	{
		FILE *f = fopen(tmp, "w");

		assert_non_null(f);
		fputs("junk that is longer than the new file", f);
		fclose(f);
	}
	assert_int_equal(pt_write_file_atomic(path, "new\n", 4, 0644, true), 0);
	assert_int_equal(pt_read_file(path, 100, &buf, &len), 0);
	assert_string_equal(buf, "new\n");
	free(buf);
	assert_int_equal(access(tmp, F_OK), -1);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	free(tmp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_then_recovery),
		cmocka_unit_test(test_new_failing_device_is_a_failure),
		cmocka_unit_test(test_full_pass_drops_what_the_file_lost),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_corrupt_refused),
		cmocka_unit_test(test_notice_json_and_env),
		cmocka_unit_test(test_metrics_parse),
		cmocka_unit_test(test_atomic_write_keeps_the_old_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
