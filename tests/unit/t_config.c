/* t_config.c: unit tests of the passthrough.yaml model: what parses into what, and every refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/config.h"
#include "model/xalloc.h"

/* Parses size bytes of text; on failure returns the diagnostics joined by newlines (caller frees). */
static char *
parse_n(const char *text, size_t size, struct pt_config *cfg)
{
	struct pt_diags d = PT_DIAGS_INIT;
	char *joined = NULL;
	int r = pt_config_parse("t.yaml", text, size, cfg, &d);

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

static char *
parse(const char *text, struct pt_config *cfg)
{
	return parse_n(text, strlen(text), cfg);
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
		     "t.yaml:3:3: device 'a' needs 'address', 'match' or 'usb' to select the hardware");
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
		     "t.yaml:2:33: unknown key 'colour' (expected one of: address, match, vm, state, on_stop, persistent, force, whole_group, power, reset, recover, count, usb)\n"
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
	expect_error(text, "t.yaml:2:1: unknown key 'x' (expected one of: version, devices, vfio_pci, notify, metrics_file)\n"
			   "t.yaml:4:1: unknown key 'y' (expected one of: version, devices, vfio_pci, notify, metrics_file)");
	text[strlen(text) - 2] = '\0';
	strcat(text, "*a]\n");
	expect_error(text, "t.yaml:4:53: too many aliases (at most 16 in a file)");
	/* a recursive alias cannot build a cycle */
	expect_error("version: 1\ndevices: &d { a: *d }\n",
		     "t.yaml:2:18: alias '*d' refers to a node that contains it");
}

/* One file the model must refuse: its bytes and the exact diagnostics, one per line. */
struct refusal {
	const char *name;
	const char *text;
	size_t len;          /* for text that holds a NUL; 0: strlen(text) */
	const char *want;
};

/* Checks every case and prints each mismatch before failing, so one run shows them all. */
static void
expect_refusals(const struct refusal *cases, size_t n)
{
	size_t failures = 0;

	for (size_t i = 0; i < n; i++) {
		const struct refusal *c = &cases[i];
		struct pt_config cfg;
		char *got = parse_n(c->text, c->len ? c->len : strlen(c->text), &cfg);

		if (!got) {
			print_error("%s: accepted\n  want \"%s\"\n", c->name, c->want);
			pt_config_done(&cfg);
			failures++;
		} else if (strcmp(got, c->want) != 0) {
			print_error("%s:\n  got  \"%s\"\n  want \"%s\"\n", c->name, got, c->want);
			failures++;
		}
		free(got);
	}
	assert_int_equal(failures, 0);
}

/* A device 'a' with an address; the next line is line 5. */
#define DEV "version: 1\ndevices:\n  a:\n    address: 07:00.0\n"

/* A quoted or block scalar is a string; a tag must be one the key takes. */
static const struct refusal typed_refusals[] = {
	{ .name = "double-quoted version", .text = "version: \"1\"\ndevices: {}\n",
	  .want = "t.yaml:1:10: 'version' must be a number, not the quoted string '1'" },
	{ .name = "single-quoted version", .text = "version: '1'\ndevices: {}\n",
	  .want = "t.yaml:1:10: 'version' must be a number, not the quoted string '1'" },
	{ .name = "literal block version", .text = "version: |\n  1\ndevices: {}\n",
	  .want = "t.yaml:1:10: 'version' must be a number, not the block string '1\\n'" },
	{ .name = "custom tag on version", .text = "version: !custom 1\ndevices: {}\n",
	  .want = "t.yaml:1:10: unsupported tag '!custom' on 'version' (expected !!int or no tag)" },
	{ .name = "!!str on version", .text = "version: !!str 1\ndevices: {}\n",
	  .want = "t.yaml:1:10: unsupported tag '!!str' on 'version' (expected !!int or no tag)" },
	{ .name = "non-specific tag", .text = "version: ! 1\ndevices: {}\n",
	  .want = "t.yaml:1:10: unsupported tag '!' on 'version' (expected !!int or no tag)" },
	{ .name = "verbatim tag", .text = "version: !<tag:example.com,2024:v> 1\ndevices: {}\n",
	  .want = "t.yaml:1:10: unsupported tag '!<tag:example.com,2024:v>' on 'version' "
		  "(expected !!int or no tag)" },
	{ .name = "%TAG gives !! another meaning",
	  .text = "%TAG !! tag:example.com,2024:\n---\nversion: !!int 1\ndevices: {}\n",
	  .want = "t.yaml:3:10: unsupported tag '!<tag:example.com,2024:int>' on 'version' "
		  "(expected !!int or no tag)" },
	{ .name = "double-quoted force", .text = DEV "    vm: x\n    force: \"true\"\n",
	  .want = "t.yaml:6:12: 'force' must be true or false, not the quoted string 'true'" },
	{ .name = "single-quoted persistent", .text = DEV "    vm: x\n    persistent: 'false'\n",
	  .want = "t.yaml:6:17: 'persistent' must be true or false, not the quoted string 'false'" },
	{ .name = "folded whole_group", .text = DEV "    vm: x\n    whole_group: >\n      true\n",
	  .want = "t.yaml:6:18: 'whole_group' must be true or false, not the block string 'true\\n'" },
	{ .name = "!!str on force", .text = DEV "    vm: x\n    force: !!str true\n",
	  .want = "t.yaml:6:12: unsupported tag '!!str' on 'force' (expected !!bool or no tag)" },
	{ .name = "custom tag on persistent", .text = DEV "    vm: x\n    persistent: !custom true\n",
	  .want = "t.yaml:6:17: unsupported tag '!custom' on 'persistent' (expected !!bool or no tag)" },
	{ .name = "!!int on whole_group", .text = DEV "    vm: x\n    whole_group: !!int 1\n",
	  .want = "t.yaml:6:18: unsupported tag '!!int' on 'whole_group' (expected !!bool or no tag)" },
	{ .name = "!!int on vm", .text = DEV "    vm: !!int 123\n",
	  .want = "t.yaml:5:9: unsupported tag '!!int' on 'vm' (expected !!str or no tag)" },
	{ .name = "!!null on vm", .text = DEV "    vm: !!null\n",
	  .want = "t.yaml:5:9: unsupported tag '!!null' on 'vm' (expected !!str or no tag)" },
	{ .name = "custom tag on state", .text = DEV "    state: !local bound\n",
	  .want = "t.yaml:5:12: unsupported tag '!local' on 'state' (expected !!str or no tag)" },
	{ .name = "!!bool on on_stop", .text = DEV "    vm: x\n    on_stop: !!bool true\n",
	  .want = "t.yaml:6:14: unsupported tag '!!bool' on 'on_stop' (expected !!str or no tag)" },
	{ .name = "custom tag on address",
	  .text = "version: 1\ndevices:\n  a:\n    address: !pci 07:00.0\n    vm: x\n",
	  .want = "t.yaml:4:14: unsupported tag '!pci' on 'address' (expected !!str or no tag)" },
	{ .name = "!!bool on an id",
	  .text = "version: 1\ndevices:\n  a:\n    match: { vendor: !!bool true, device: 1 }\n    vm: x\n",
	  .want = "t.yaml:4:22: unsupported tag '!!bool' on 'vendor' (expected !!int, !!str or no tag)" },
	{ .name = "custom tag on an id",
	  .text = "version: 1\ndevices:\n  a:\n    match: { vendor: 1, device: 2, class: !hex 0200 }\n    vm: x\n",
	  .want = "t.yaml:4:43: unsupported tag '!hex' on 'class' (expected !!int, !!str or no tag)" },
	{ .name = "!!map on match",
	  .text = "version: 1\ndevices:\n  a:\n    match: !!map { vendor: 1, device: 2 }\n    vm: x\n",
	  .want = "t.yaml:4:12: unsupported tag '!!map' on 'match' (expected no tag)" },
	{ .name = "!!map on devices", .text = "version: 1\ndevices: !!map {}\n",
	  .want = "t.yaml:2:10: unsupported tag '!!map' on 'devices' (expected no tag)" },
	{ .name = "!!null on devices", .text = "version: 1\ndevices: !!null\n",
	  .want = "t.yaml:2:10: unsupported tag '!!null' on 'devices' (expected no tag)" },
	{ .name = "custom tag on an entry",
	  .text = "version: 1\ndevices:\n  a: !dev\n    address: 07:00.0\n    vm: x\n",
	  .want = "t.yaml:3:6: unsupported tag '!dev' on device 'a' (expected no tag)" },
	{ .name = "custom tag on the document", .text = "--- !cfg\nversion: 1\ndevices: {}\n",
	  .want = "t.yaml:1:5: unsupported tag '!cfg' on the document (expected no tag)" },
	{ .name = "custom tag on a key", .text = DEV "    !k vm: x\n",
	  .want = "t.yaml:5:5: unsupported tag '!k' on a key (expected !!str or no tag)" },
	{ .name = "!!int on a device name",
	  .text = "version: 1\ndevices:\n  !!int 1:\n    address: 07:00.0\n    vm: x\n",
	  .want = "t.yaml:3:3: unsupported tag '!!int' on a device name (expected !!str or no tag)" },
};

static void
test_scalars_keep_their_type(void **state)
{
	(void)state;
	expect_refusals(typed_refusals, sizeof(typed_refusals) / sizeof(typed_refusals[0]));
}

/* A file the model must accept, and what its one device reads as (zero: the default). */
struct acceptance {
	const char *name;
	const char *text;
	const char *dev, *vm;       /* the device's name and vm */
	unsigned fields;            /* match fields, then the ids */
	uint16_t vendor, device;
	enum pt_state state;
	enum pt_on_stop on_stop;
	bool persistent, force, whole_group;
	bool power_on;
	enum pt_reset reset;
	enum pt_recover recover;
};

static const struct acceptance typed_acceptances[] = {
	{ .name = "plain number as vm", .text = DEV "    vm: 123\n", .dev = "a", .vm = "123" },
	{ .name = "plain true as vm", .text = DEV "    vm: true\n", .dev = "a", .vm = "true" },
	{ .name = "!!str on vm", .text = DEV "    vm: !!str 0x10\n", .dev = "a", .vm = "0x10" },
	{ .name = "quoted key and value", .text = DEV "    \"vm\": '007'\n", .dev = "a", .vm = "007" },
	{ .name = "!!str on a key", .text = DEV "    !!str vm: x\n", .dev = "a", .vm = "x" },
	{ .name = "!!int on version",
	  .text = "version: !!int 1\ndevices:\n  a: { address: 07:00.0, vm: x }\n", .dev = "a", .vm = "x" },
	{ .name = "!!int on a quoted version",
	  .text = "version: !!int \"1\"\ndevices:\n  a: { address: 07:00.0, vm: x }\n", .dev = "a", .vm = "x" },
	{ .name = "!!bool on force", .text = DEV "    vm: x\n    force: !!bool true\n",
	  .dev = "a", .vm = "x", .force = true },
	{ .name = "!!bool on a quoted persistent", .text = DEV "    vm: x\n    persistent: !!bool \"true\"\n",
	  .dev = "a", .vm = "x", .persistent = true },
	{ .name = "core-schema spellings",
	  .text = DEV "    vm: x\n    force: True\n    persistent: TRUE\n    whole_group: False\n",
	  .dev = "a", .vm = "x", .force = true, .persistent = true },
	{ .name = "!!str id is hex, !!int id decimal",
	  .text = DEV "    match: { vendor: !!str 1ac1, device: !!int \"4347\" }\n    vm: x\n",
	  .dev = "a", .vm = "x", .fields = PT_MATCH_VENDOR | PT_MATCH_DEVICE, .vendor = 0x1ac1,
	  .device = 4347 },
	{ .name = "plain number as device name",
	  .text = "version: 1\ndevices:\n  123:\n    address: 07:00.0\n    vm: x\n", .dev = "123", .vm = "x" },
	{ .name = "!!str on a device name",
	  .text = "version: 1\ndevices:\n  !!str 0x1f:\n    address: 07:00.0\n    vm: x\n",
	  .dev = "0x1f", .vm = "x" },
	{ .name = "quoted state", .text = DEV "    state: \"bound\"\n", .dev = "a", .state = PT_STATE_BOUND },
	{ .name = "!!str on on_stop and address",
	  .text = "version: 1\ndevices:\n  a:\n    address: !!str 07:00.0\n    vm: x\n    on_stop: !!str release\n",
	  .dev = "a", .vm = "x", .on_stop = PT_ON_STOP_RELEASE },
	/* a plain `on` is YAML 1.1's true, but this schema reads it as the string it is */
	{ .name = "plain on as power", .text = DEV "    vm: x\n    power: on\n",
	  .dev = "a", .vm = "x", .power_on = true },
	{ .name = "double-quoted on as power", .text = DEV "    vm: x\n    power: \"on\"\n",
	  .dev = "a", .vm = "x", .power_on = true },
	{ .name = "single-quoted on as power", .text = DEV "    vm: x\n    power: 'on'\n",
	  .dev = "a", .vm = "x", .power_on = true },
	{ .name = "!!str on as power", .text = DEV "    vm: x\n    power: !!str on\n",
	  .dev = "a", .vm = "x", .power_on = true },
	{ .name = "reset before_attach, recover rescan",
	  .text = DEV "    vm: x\n    reset: before_attach\n    recover: rescan\n",
	  .dev = "a", .vm = "x", .reset = PT_RESET_BEFORE_ATTACH, .recover = PT_RECOVER_RESCAN },
	{ .name = "quoted reset, !!str recover",
	  .text = DEV "    vm: x\n    reset: \"before_attach\"\n    recover: !!str rescan\n",
	  .dev = "a", .vm = "x", .reset = PT_RESET_BEFORE_ATTACH, .recover = PT_RECOVER_RESCAN },
	{ .name = "the defaults written out", .text = DEV "    vm: x\n    reset: never\n    recover: none\n",
	  .dev = "a", .vm = "x" },
	{ .name = "power and recover on a bound device",
	  .text = DEV "    state: bound\n    power: on\n    recover: rescan\n",
	  .dev = "a", .state = PT_STATE_BOUND, .power_on = true, .recover = PT_RECOVER_RESCAN },
};

static void
test_typed_forms_accepted(void **state)
{
	size_t failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(typed_acceptances) / sizeof(typed_acceptances[0]); i++) {
		const struct acceptance *c = &typed_acceptances[i];
		const struct pt_device *d;
		struct pt_config cfg;
		char *got = parse(c->text, &cfg);

		if (got) {
			print_error("%s: refused: %s\n", c->name, got);
			free(got);
			failures++;
			continue;
		}
		assert_int_equal(cfg.n_devices, 1);
		d = &cfg.devices[0];
		if (strcmp(d->name, c->dev) != 0 || (d->vm == NULL) != (c->vm == NULL) ||
		    (d->vm && strcmp(d->vm, c->vm) != 0) || d->match.fields != c->fields ||
		    d->match.vendor != c->vendor || d->match.device != c->device || d->state != c->state ||
		    d->on_stop != c->on_stop || d->persistent != c->persistent || d->force != c->force ||
		    d->whole_group != c->whole_group || d->power_on != c->power_on ||
		    d->reset != c->reset || d->recover != c->recover) {
			print_error("%s: read as device '%s', vm '%s', ids %04x:%04x, state %s, on_stop %s, "
				    "persistent %d, force %d, whole_group %d, power_on %d, reset %s, "
				    "recover %s\n", c->name, d->name,
				    d->vm ? d->vm : "(none)", d->match.vendor, d->match.device,
				    pt_state_name(d->state), pt_on_stop_name(d->on_stop), d->persistent,
				    d->force, d->whole_group, d->power_on, pt_reset_name(d->reset),
				    pt_recover_name(d->recover));
			failures++;
		}
		pt_config_done(&cfg);
	}
	assert_int_equal(failures, 0);
}

#define BYTES(s) .text = (s), .len = sizeof(s) - 1

/* A byte that is not UTF-8, or a character YAML forbids, is reported where it is. */
static const struct refusal byte_refusals[] = {
	{ .name = "invalid leading byte", .text = DEV "    vm: x\xff\n",
	  .want = "t.yaml:5:10: invalid UTF-8: byte 0xff cannot start a character" },
	{ .name = "NUL byte", BYTES(DEV "    vm: x\0\n"),
	  .want = "t.yaml:5:10: a NUL byte is not allowed in YAML" },
	{ .name = "character cut short", .text = DEV "    vm: \"x\xc3(\"\n",
	  .want = "t.yaml:5:11: invalid UTF-8: byte 0xc3 starts a character that is cut short" },
	{ .name = "cut short by the end of the file", .text = DEV "    vm: x\n#\xe2\x82",
	  .want = "t.yaml:6:2: invalid UTF-8: byte 0xe2 starts a character that is cut short" },
	{ .name = "overlong form", .text = DEV "    vm: x\xc0\xaf\n",
	  .want = "t.yaml:5:10: invalid UTF-8: byte 0xc0 starts an overlong form" },
	{ .name = "surrogate", .text = DEV "    vm: x\xed\xa0\x80\n",
	  .want = "t.yaml:5:10: invalid UTF-8: U+D800 is not a Unicode character" },
	{ .name = "control character", .text = DEV "    vm: x\a\n",
	  .want = "t.yaml:5:10: character U+0007 is not allowed in YAML" },
	{ .name = "columns count characters, not bytes", .text = DEV "    vm: \xc3\xa9\xe2\x82\xac\xff\n",
	  .want = "t.yaml:5:11: invalid UTF-8: byte 0xff cannot start a character" },
	{ .name = "byte order mark and CRLF", .text = "\xef\xbb\xbfversion: 1\r\ndevices: {}\r\n\xff\r\n",
	  .want = "t.yaml:3:1: invalid UTF-8: byte 0xff cannot start a character" },
	{ .name = "CR, NEL and LS end lines as libyaml counts them",
	  .text = "version: 1\rdevices: {}\r# \xc2\x85# \xe2\x80\xa8#\xff\n",
	  .want = "t.yaml:5:2: invalid UTF-8: byte 0xff cannot start a character" },
};

static void
test_bad_bytes_have_their_position(void **state)
{
	(void)state;
	expect_refusals(byte_refusals, sizeof(byte_refusals) / sizeof(byte_refusals[0]));
}

static void
test_bad_byte_far_in(void **state)
{
	/* Past libyaml's 16 KiB input buffer, so the offset spans more than one read. */
	size_t cap = (size_t)64 * 1024, n;
	char *text = xmalloc(cap);

	(void)state;
	n = (size_t)snprintf(text, cap, "version: 1\ndevices: {}\n");
	for (int i = 3; i <= 3002; i++)
		n += (size_t)snprintf(text + n, cap - n, "# line %d\n", i);
	snprintf(text + n, cap - n, "#  \xff\n");
	expect_error(text, "t.yaml:3003:4: invalid UTF-8: byte 0xff cannot start a character");
	free(text);
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

/* The lifecycle keys: every value each takes, and where each may go. Line 5 is the first after DEV. */
static const struct refusal lifecycle_refusals[] = {
	{ .name = "power: true (a YAML 1.1 tool's on)", .text = DEV "    vm: x\n    power: true\n",
	  .want = "t.yaml:6:12: invalid power 'true' (expected on, or leave it out for the kernel's choice)" },
	{ .name = "power: off", .text = DEV "    vm: x\n    power: off\n",
	  .want = "t.yaml:6:12: invalid power 'off' (expected on, or leave it out for the kernel's choice)" },
	{ .name = "power: On", .text = DEV "    vm: x\n    power: On\n",
	  .want = "t.yaml:6:12: invalid power 'On' (expected on, or leave it out for the kernel's choice)" },
	{ .name = "power: auto", .text = DEV "    vm: x\n    power: \"auto\"\n",
	  .want = "t.yaml:6:12: invalid power 'auto' (expected on, or leave it out for the kernel's choice)" },
	{ .name = "!!bool on power", .text = DEV "    vm: x\n    power: !!bool true\n",
	  .want = "t.yaml:6:12: unsupported tag '!!bool' on 'power' (expected !!str or no tag)" },
	{ .name = "empty power", .text = DEV "    vm: x\n    power:\n",
	  .want = "t.yaml:6:11: 'power' needs a value, not empty" },
	{ .name = "power as a mapping", .text = DEV "    vm: x\n    power: { control: on }\n",
	  .want = "t.yaml:6:12: 'power' needs a value, not a mapping" },
	{ .name = "reset: always", .text = DEV "    vm: x\n    reset: always\n",
	  .want = "t.yaml:6:12: invalid reset 'always' (expected before_attach or never)" },
	{ .name = "reset: true", .text = DEV "    vm: x\n    reset: true\n",
	  .want = "t.yaml:6:12: invalid reset 'true' (expected before_attach or never)" },
	{ .name = "!!int on reset", .text = DEV "    vm: x\n    reset: !!int 1\n",
	  .want = "t.yaml:6:12: unsupported tag '!!int' on 'reset' (expected !!str or no tag)" },
	{ .name = "reset as a list", .text = DEV "    vm: x\n    reset: [ before_attach ]\n",
	  .want = "t.yaml:6:12: 'reset' needs a value, not a list" },
	{ .name = "recover: reboot", .text = DEV "    vm: x\n    recover: reboot\n",
	  .want = "t.yaml:6:14: invalid recover 'reboot' (expected rescan or none)" },
	{ .name = "recover: Rescan", .text = DEV "    vm: x\n    recover: 'Rescan'\n",
	  .want = "t.yaml:6:14: invalid recover 'Rescan' (expected rescan or none)" },
	{ .name = "custom tag on recover", .text = DEV "    vm: x\n    recover: !how rescan\n",
	  .want = "t.yaml:6:14: unsupported tag '!how' on 'recover' (expected !!str or no tag)" },
	{ .name = "a typo gets its suggestion", .text = DEV "    vm: x\n    rest: before_attach\n",
	  .want = "t.yaml:6:5: unknown key 'rest' (did you mean 'reset'?)" },
	{ .name = "power on a released device", .text = DEV "    state: released\n    power: on\n",
	  .want = "t.yaml:6:5: 'power' applies only to devices that go to vfio-pci, not released" },
	{ .name = "recover on a released device", .text = DEV "    state: released\n    recover: rescan\n",
	  .want = "t.yaml:6:5: 'recover' applies only to devices that go to vfio-pci, not released" },
	{ .name = "recover: none on a released device", .text = DEV "    state: released\n    recover: none\n",
	  .want = "t.yaml:6:5: 'recover' applies only to devices that go to vfio-pci, not released" },
	{ .name = "reset on a bound device", .text = DEV "    state: bound\n    reset: before_attach\n",
	  .want = "t.yaml:6:5: 'reset' applies only to state: attached, not bound" },
	{ .name = "reset: never on a bound device", .text = DEV "    state: bound\n    reset: never\n",
	  .want = "t.yaml:6:5: 'reset' applies only to state: attached, not bound" },
	{ .name = "all three on a released device",
	  .text = DEV "    state: released\n    power: on\n    reset: before_attach\n    recover: rescan\n",
	  .want = "t.yaml:6:5: 'power' applies only to devices that go to vfio-pci, not released\n"
		  "t.yaml:7:5: 'reset' applies only to state: attached, not released\n"
		  "t.yaml:8:5: 'recover' applies only to devices that go to vfio-pci, not released" },
	{ .name = "a bad value is reported, not the placement too",
	  .text = DEV "    state: released\n    power: off\n",
	  .want = "t.yaml:6:12: invalid power 'off' (expected on, or leave it out for the kernel's choice)" },
	{ .name = "vfio_pci as a single value", .text = "version: 1\ndevices: {}\nvfio_pci: disable_idle_d3\n",
	  .want = "t.yaml:3:11: 'vfio_pci' must be a mapping like { disable_idle_d3: true }, not a single value" },
	{ .name = "vfio_pci as a list", .text = "version: 1\ndevices: {}\nvfio_pci: [ disable_idle_d3 ]\n",
	  .want = "t.yaml:3:11: 'vfio_pci' must be a mapping like { disable_idle_d3: true }, not a list" },
	{ .name = "empty vfio_pci", .text = "version: 1\ndevices: {}\nvfio_pci:\n",
	  .want = "t.yaml:3:10: 'vfio_pci' must be a mapping like { disable_idle_d3: true }, not empty" },
	{ .name = "!!map on vfio_pci", .text = "version: 1\ndevices: {}\nvfio_pci: !!map {}\n",
	  .want = "t.yaml:3:11: unsupported tag '!!map' on 'vfio_pci' (expected no tag)" },
	{ .name = "an unknown vfio-pci parameter",
	  .text = "version: 1\ndevices: {}\nvfio_pci: { disable_vga: true }\n",
	  .want = "t.yaml:3:13: unknown key 'disable_vga' (expected one of: disable_idle_d3)" },
	{ .name = "a vfio-pci parameter misspelt",
	  .text = "version: 1\ndevices: {}\nvfio_pci: { disable_idle_d2: true }\n",
	  .want = "t.yaml:3:13: unknown key 'disable_idle_d2' (did you mean 'disable_idle_d3'?)" },
	{ .name = "disable_idle_d3: on",
	  .text = "version: 1\ndevices: {}\nvfio_pci: { disable_idle_d3: on }\n",
	  .want = "t.yaml:3:30: 'disable_idle_d3' must be true or false, not 'on'" },
	{ .name = "disable_idle_d3: 1",
	  .text = "version: 1\ndevices: {}\nvfio_pci: { disable_idle_d3: 1 }\n",
	  .want = "t.yaml:3:30: 'disable_idle_d3' must be true or false, not '1'" },
	{ .name = "quoted disable_idle_d3",
	  .text = "version: 1\ndevices: {}\nvfio_pci: { disable_idle_d3: \"true\" }\n",
	  .want = "t.yaml:3:30: 'disable_idle_d3' must be true or false, not the quoted string 'true'" },
	{ .name = "!!str on disable_idle_d3",
	  .text = "version: 1\ndevices: {}\nvfio_pci: { disable_idle_d3: !!str true }\n",
	  .want = "t.yaml:3:30: unsupported tag '!!str' on 'disable_idle_d3' (expected !!bool or no tag)" },
	{ .name = "empty disable_idle_d3",
	  .text = "version: 1\ndevices: {}\nvfio_pci:\n  disable_idle_d3:\n",
	  .want = "t.yaml:4:19: 'disable_idle_d3' needs a value, not empty" },
	{ .name = "disable_idle_d3 twice",
	  .text = "version: 1\ndevices: {}\nvfio_pci:\n  disable_idle_d3: true\n  disable_idle_d3: false\n",
	  .want = "t.yaml:5:3: duplicate key 'disable_idle_d3' (first at line 4)" },
	{ .name = "vfio_pci twice",
	  .text = "version: 1\nvfio_pci: {}\ndevices: {}\nvfio_pci: { disable_idle_d3: true }\n",
	  .want = "t.yaml:4:1: duplicate key 'vfio_pci' (first at line 2)" },
	{ .name = "vfio-pci, the module's name", .text = "version: 1\ndevices: {}\nvfio-pci: {}\n",
	  .want = "t.yaml:3:1: unknown key 'vfio-pci' (did you mean 'vfio_pci'?)" },
	{ .name = "disable_idle_d3 per device", .text = DEV "    vm: x\n    disable_idle_d3: true\n",
	  .want = "t.yaml:6:5: unknown key 'disable_idle_d3' (expected one of: address, match, vm, state, "
		  "on_stop, persistent, force, whole_group, power, reset, recover, count, usb)" },
};

static void
test_lifecycle_refusals(void **state)
{
	(void)state;
	expect_refusals(lifecycle_refusals, sizeof(lifecycle_refusals) / sizeof(lifecycle_refusals[0]));
}

static void
test_lifecycle_model(void **state)
{
	struct pt_config cfg;
	const struct pt_device *d;

	(void)state;
	/* absent: no vfio-pci parameter declared, and each device keeps the kernel's defaults */
	assert_null(parse(DEV "    vm: x\n", &cfg));
	assert_false(cfg.vfio_pci.has_disable_idle_d3);
	assert_int_equal(cfg.vfio_pci.line, 0);
	d = &cfg.devices[0];
	assert_false(d->power_on);
	assert_int_equal(d->reset, PT_RESET_NEVER);
	assert_int_equal(d->recover, PT_RECOVER_NONE);
	pt_config_done(&cfg);

	assert_null(parse("version: 1\n"
			  "devices:\n"
			  "  coral:\n"
			  "    address: 03:00.0\n"
			  "    vm: frigate_VM\n"
			  "    power: on\n"
			  "    reset: before_attach\n"
			  "    recover: rescan\n"
			  "  vfio_pci:\n"           /* a device of that name, not the parameters */
			  "    address: 04:00.0\n"
			  "    state: bound\n"
			  "    power: \"on\"\n"
			  "  old-gpu:\n"
			  "    address: 05:00.0\n"
			  "    state: released\n"
			  "vfio_pci: { disable_idle_d3: true }\n", &cfg));
	assert_true(cfg.vfio_pci.has_disable_idle_d3);
	assert_true(cfg.vfio_pci.disable_idle_d3);
	assert_int_equal(cfg.vfio_pci.line, 16);
	assert_int_equal(cfg.vfio_pci.col, 1);
	d = pt_config_find(&cfg, "coral");
	assert_true(d->power_on);
	assert_int_equal(d->reset, PT_RESET_BEFORE_ATTACH);
	assert_int_equal(d->recover, PT_RECOVER_RESCAN);
	d = pt_config_find(&cfg, "vfio_pci");
	assert_int_equal(d->state, PT_STATE_BOUND);
	assert_true(d->power_on);
	assert_int_equal(d->reset, PT_RESET_NEVER);
	assert_int_equal(d->recover, PT_RECOVER_NONE);
	d = pt_config_find(&cfg, "old-gpu");
	assert_false(d->power_on);
	pt_config_done(&cfg);

	/* false is declared too (has_disable_idle_d3), and every boolean spelling is read */
	assert_null(parse("version: 1\ndevices: {}\nvfio_pci:\n  disable_idle_d3: False\n", &cfg));
	assert_true(cfg.vfio_pci.has_disable_idle_d3);
	assert_false(cfg.vfio_pci.disable_idle_d3);
	assert_int_equal(cfg.vfio_pci.line, 3);
	pt_config_done(&cfg);
	assert_null(parse("version: 1\ndevices: {}\nvfio_pci: { disable_idle_d3: !!bool \"TRUE\" }\n", &cfg));
	assert_true(cfg.vfio_pci.has_disable_idle_d3);
	assert_true(cfg.vfio_pci.disable_idle_d3);
	pt_config_done(&cfg);
	/* an empty mapping declares nothing: modprobe is given no parameter */
	assert_null(parse("version: 1\nvfio_pci: {}\ndevices: {}\n", &cfg));
	assert_false(cfg.vfio_pci.has_disable_idle_d3);
	assert_int_equal(cfg.vfio_pci.line, 2);
	pt_config_done(&cfg);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(pt_state_name(PT_STATE_BOUND), "bound");
	assert_string_equal(pt_on_stop_name(PT_ON_STOP_RELEASE), "release");
	assert_string_equal(pt_reset_name(PT_RESET_NEVER), "never");
	assert_string_equal(pt_reset_name(PT_RESET_BEFORE_ATTACH), "before_attach");
	assert_string_equal(pt_recover_name(PT_RECOVER_NONE), "none");
	assert_string_equal(pt_recover_name(PT_RECOVER_RESCAN), "rescan");
}

/* A `usb` entry: ids in order, serial and port kept, never a pool, no address or match. */
static void
test_usb_entry(void **state)
{
	struct pt_config cfg;
	const struct pt_device *d;
	char *err;

	(void)state;
	err = parse("version: 1\ndevices:\n"
		    "  coral:\n    usb: { ids: [\"1a6e:089a\", \"18D1:9302\"], port: \"2-1.3\" }\n    vm: f\n"
		    "  z:\n    usb: { ids: [\"10c4:ea60\"], serial: \"0001\" }\n    state: released\n", &cfg);
	assert_null(err);
	assert_int_equal(cfg.n_devices, 2);
	assert_int_equal(cfg.n_pools, 0);
	d = &cfg.devices[0];
	assert_true(d->has_usb);
	assert_false(d->has_address);
	assert_int_equal(d->match.fields, 0);
	assert_int_equal(d->pool, -1);
	assert_int_equal(d->usb.n_ids, 2);
	assert_int_equal(d->usb.ids[0].vendor, 0x1a6e);
	assert_int_equal(d->usb.ids[0].product, 0x089a);
	assert_int_equal(d->usb.ids[1].vendor, 0x18d1);
	assert_int_equal(d->usb.ids[1].product, 0x9302);
	assert_string_equal(d->usb.port, "2-1.3");
	assert_null(d->usb.serial);
	assert_true(pt_usb_id_matches(&d->usb, 0x18d1, 0x9302));
	assert_false(pt_usb_id_matches(&d->usb, 0x18d1, 0x9303));
	d = &cfg.devices[1];
	assert_string_equal(d->usb.serial, "0001");
	assert_null(d->usb.port);
	assert_int_equal(d->state, PT_STATE_RELEASED);
	err = pt_usb_describe(&cfg.devices[0].usb);
	assert_string_equal(err, "1a6e:089a|18d1:9302 port 2-1.3");
	free(err);
	pt_config_done(&cfg);
	expect_error("version: 1\ndevices:\n  c:\n    usb: { ids: [\"1a6e:089a\"] }\n    state: bound\n",
		     "t.yaml:5:5: state: bound is for PCI devices (held on vfio-pci); a 'usb' entry is attached or released");
	expect_error("version: 1\ndevices:\n  c:\n    usb: { port: \"2-1.3.\" }\n    vm: x\n",
		     "t.yaml:4:18: invalid port '2-1.3.' (expected the port path sysfs names the device by: "
		     "bus-port[.port...], e.g. \"2-1.3\")");
	expect_error("version: 1\ndevices:\n  c:\n    usb: {}\n    vm: x\n",
		     "t.yaml:4:10: 'usb' needs 'ids' or 'port' to select the device");
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
		cmocka_unit_test(test_scalars_keep_their_type),
		cmocka_unit_test(test_typed_forms_accepted),
		cmocka_unit_test(test_bad_bytes_have_their_position),
		cmocka_unit_test(test_bad_byte_far_in),
		cmocka_unit_test(test_lifecycle_model),
		cmocka_unit_test(test_lifecycle_refusals),
		cmocka_unit_test(test_diag_escapes_and_caps),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_usb_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
