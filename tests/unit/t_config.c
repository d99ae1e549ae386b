/* t_config.c: unit tests of the passthrough.yaml model: what parses into what, and every refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/config.h"
#include "model/xalloc.h"

/* Parses text; on failure returns the diagnostics joined by newlines (caller frees). */
static char *
parse(const char *text, struct pt_config *cfg)
{
	struct pt_diags d = PT_DIAGS_INIT;
	char *joined = NULL;
	int r = pt_config_parse("t.yaml", text, strlen(text), cfg, &d);

	if (r < 0) {
		size_t len = 0;

		joined = xstrdup("");
		for (size_t i = 0; i < d.n; i++) {
			char *line = pt_diag_format(&d.v[i]);
			char *next = xasprintf("%s%s%s", joined, len ? "\n" : "", line);

			free(joined);
			free(line);
			joined = next;
			len = strlen(joined);
		}
	} else {
		assert_int_equal(d.n, 0);
	}
	pt_diags_done(&d);
	return joined;
}

static void
expect_error(const char *text, const char *want)
{
	struct pt_config cfg;
	char *got = parse(text, &cfg);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_full_model(void **state)
{
	struct pt_config cfg;
	const struct pt_device *d;

	(void)state;
	assert_null(parse("version: 1\n"
			  "devices:\n"
			  "  coral:\n"
			  "    match: { vendor: 0x1ac1, device: 089a, class: 0880 }\n"
			  "    vm: frigate_VM\n"
			  "  nic:\n"
			  "    address: \"07:00.0\"\n"
			  "    match: { vendor: 8086, device: 10fb, subsystem_vendor: 8086, subsystem_device: 000c }\n"
			  "    vm: 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f\n"
			  "    on_stop: release\n"
			  "    persistent: true\n"
			  "  gpu:\n"
			  "    address: 0000:08:00.0\n"
			  "    state: released\n", &cfg));
	assert_int_equal(cfg.version, 1);
	assert_int_equal(cfg.n_devices, 3);

	d = pt_config_find(&cfg, "coral");
	assert_non_null(d);
	assert_false(d->has_address);
	assert_int_equal(d->match.fields, PT_MATCH_VENDOR | PT_MATCH_DEVICE | PT_MATCH_CLASS);
	assert_int_equal(d->match.vendor, 0x1ac1);
	assert_int_equal(d->match.device, 0x089a);
	assert_int_equal(d->match.class_code, 0x0880);
	assert_string_equal(d->vm, "frigate_VM");
	assert_int_equal(d->state, PT_STATE_ATTACHED);
	assert_int_equal(d->on_stop, PT_ON_STOP_KEEP);
	assert_false(d->persistent);
	assert_int_equal(d->line, 3);
	assert_int_equal(d->col, 3);

	d = pt_config_find(&cfg, "nic");
	assert_true(d->has_address);
	assert_int_equal(d->address.bus, 7);
	assert_int_equal(d->match.subsystem_device, 0x000c);
	assert_int_equal(d->on_stop, PT_ON_STOP_RELEASE);
	assert_true(d->persistent);

	d = pt_config_find(&cfg, "gpu");
	assert_int_equal(d->state, PT_STATE_RELEASED);
	assert_null(d->vm);
	assert_int_equal(d->match.fields, 0);
	assert_null(pt_config_find(&cfg, "nope"));
	pt_config_done(&cfg);
	pt_config_done(NULL);
}

static void
test_ids_are_hex_unless_tagged_int(void **state)
{
	struct pt_config cfg;

	(void)state;
	assert_null(parse("version: 1\ndevices:\n  a:\n    match: { vendor: 8086, device: !!int 4347 }\n"
			  "    vm: x\n", &cfg));
	assert_int_equal(cfg.devices[0].match.vendor, 0x8086);
	assert_int_equal(cfg.devices[0].match.device, 4347);
	pt_config_done(&cfg);
}

static void
test_rejections(void **state)
{
	(void)state;
	expect_error("version: 1\ndevices:\n  a:\n    adress: \"0000:07:00.0\"\n    vm: x\n",
		     "t.yaml:4:5: unknown key 'adress' (did you mean 'address'?)");
	expect_error("version: 1\ndevices:\n  a:\n    address: 07:00.0\n    address: 07:00.1\n    vm: x\n",
		     "t.yaml:5:5: duplicate key 'address' (first at line 4)");
	expect_error("version: 1\ndevices:\n  a: { address: 07:00.0, vm: x }\n  a: { address: 07:00.1, vm: y }\n",
		     "t.yaml:4:3: duplicate device name 'a' (first at line 3)");
	expect_error("version: 1\ndevices:\n  a: { address: 07:00.0, vm: x }\n  b: { address: 0000:07:00.0, vm: y }\n",
		     "t.yaml:4:3: device 'b' selects 0000:07:00.0, already selected by 'a' (line 3)");
	expect_error("version: 1\ndevices:\n  a: { vm: x }\n",
		     "t.yaml:3:3: device 'a' needs 'address' or 'match' to select the hardware");
	expect_error("version: 1\ndevices:\n  a: { address: 07:00.0 }\n",
		     "t.yaml:3:3: device 'a' needs 'vm' (state: attached is the default; use state: bound or released for no VM)");
	expect_error("version: 1\ndevices:\n  a: { address: 07:00.0, state: released, vm: x }\n",
		     "t.yaml:3:43: 'vm' cannot be used with state: released (only with state: attached)");
	expect_error("version: 1\ndevices:\n  a: { address: 0000:07:00.8, state: bound }\n",
		     "t.yaml:3:17: invalid address '0000:07:00.8' (function must be 0-7)");
	expect_error("version: 1\ndevices:\n  a: { address: zz:00.0, state: bound }\n",
		     "t.yaml:3:17: invalid address 'zz:00.0' (expected DDDD:BB:SS.F or BB:SS.F in hex, e.g. 0000:07:00.0)");
	expect_error("version: 1\ndevices:\n  a: { match: { vendor: 0x10000, device: 1 }, vm: x }\n",
		     "t.yaml:3:25: vendor '0x10000' is out of range (at most 0xffff)");
	expect_error("version: 1\ndevices:\n  a: { match: [ 1, 2 ], vm: x }\n",
		     "t.yaml:3:15: 'match' must be a mapping like { vendor: 0x1ac1, device: 0x089a }, not a list");
	expect_error("version: 3\ndevices: {}\n",
		     "t.yaml:1:10: unsupported version '3' (this passthrough reads version 1)");
	expect_error("version: 1\ndevices: {}\nextra: [\n",
		     "t.yaml:4:1: syntax error: did not find expected node content (while parsing a flow node at line 4)");
	expect_error("", "t.yaml:1:1: empty file (expected 'version: 1' and 'devices:')");
	expect_error("version: 1\ndevices:\n  a: { address: 07:00.0, state: bound, persistent: true }\n",
		     "t.yaml:3:40: 'persistent' applies only to state: attached, not bound");
}

static void
test_errors_are_collected_and_sorted(void **state)
{
	(void)state;
	expect_error("devices:\n"
		     "  b: { address: 07:00.0, vm: x, colour: red }\n"
		     "  a: { address: 1, vm: y }\n"
		     "versoin: 1\n",
		     "t.yaml:1:1: missing 'version: 1'\n"
		     "t.yaml:2:33: unknown key 'colour' (expected one of: address, match, vm, state, on_stop, persistent, force, whole_group)\n"
		     "t.yaml:3:17: invalid address '1' (expected DDDD:BB:SS.F or BB:SS.F in hex, e.g. 0000:07:00.0)\n"
		     "t.yaml:4:1: unknown key 'versoin' (did you mean 'version'?)");
}

static void
test_alias_bound(void **state)
{
	char text[2048] = "version: 1\nx: &a 1\ndevices: {}\ny: [";

	(void)state;
	/* 16 aliases are within the bound (the file is rejected for the unknown keys only) */
	for (int i = 0; i < 16; i++)
		strcat(text, "*a,");
	strcat(text, "]\n");
	expect_error(text, "t.yaml:2:1: unknown key 'x' (expected one of: version, devices)\n"
			   "t.yaml:4:1: unknown key 'y' (expected one of: version, devices)");
	text[strlen(text) - 2] = '\0';
	strcat(text, "*a]\n");
	expect_error(text, "t.yaml:4:53: too many aliases (at most 16 in a file)");
	/* a recursive alias cannot build a cycle */
	expect_error("version: 1\ndevices: &d { a: *d }\n",
		     "t.yaml:2:18: alias '*d' refers to a node that contains it");
}

static void
test_diag_escapes_and_caps(void **state)
{
	struct pt_diags d = PT_DIAGS_INIT;
	char exact[PT_DIAG_MAX_LEN + 2];

	(void)state;
	memset(exact, 'x', PT_DIAG_MAX_LEN);
	exact[PT_DIAG_MAX_LEN] = '\0';
	pt_diags_add(&d, "f", 1, 1, "%s", exact);
	assert_string_equal(d.v[0].msg, exact);            /* at the limit: nothing cut */
	exact[PT_DIAG_MAX_LEN] = 'y';
	exact[PT_DIAG_MAX_LEN + 1] = '\0';
	pt_diags_add(&d, "f", 1, 1, "%s", exact);
	assert_int_equal(strlen(d.v[1].msg), PT_DIAG_MAX_LEN + 3);
	assert_string_equal(d.v[1].msg + PT_DIAG_MAX_LEN, "...");
	pt_diags_add(&d, "f", 1, 1, "a\nb\tc\x1b[0m");
	assert_string_equal(d.v[2].msg, "a\\nb\\tc\\x1b[0m");
	pt_diags_done(&d);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(pt_state_name(PT_STATE_BOUND), "bound");
	assert_string_equal(pt_on_stop_name(PT_ON_STOP_RELEASE), "release");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_model),
		cmocka_unit_test(test_ids_are_hex_unless_tagged_int),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_errors_are_collected_and_sorted),
		cmocka_unit_test(test_alias_bound),
		cmocka_unit_test(test_diag_escapes_and_caps),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
