/* config.c: passthrough.yaml (schema version 1) parsed and validated into struct pt_config; pure. */
#include "model/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/xalloc.h"
#include "model/yamltree.h"

struct parser {
	const char *file;
	struct pt_diags *diags;
	unsigned errors;
	struct pt_config cfg;
};

static const char *const top_keys[] = { "version", "devices", "vfio_pci", "notify", "metrics_file", NULL };
static const char *const notify_keys[] = { "command", "on", "timeout", NULL };
static const char *const vfio_pci_keys[] = { "disable_idle_d3", NULL };
static const char *const device_keys[] = {
	"address", "match", "vm", "state", "on_stop", "persistent", "force", "whole_group", "power",
	"reset", "recover", "count", "usb", NULL
};
static const char *const usb_keys[] = { "ids", "serial", "port", NULL };
static const char *const match_keys[] = {
	"vendor", "device", "subsystem_vendor", "subsystem_device", "class", NULL
};

/*
 * The type a node must have. Each takes no tag or the YAML core tags listed for it in
 * vtypes[] (passthrough.yaml(5) lists them too); any other tag is refused.
 */
enum vtype {
	VT_MAPPING,   /* the document, 'devices', a device entry, 'match', 'vfio_pci' */
	VT_STRING,    /* keys, device names, 'vm', 'address', 'state', 'on_stop', 'power', 'reset',
		       * 'recover' */
	VT_NUMBER,    /* 'version' */
	VT_BOOL,      /* 'persistent', 'force', 'whole_group', 'disable_idle_d3' */
	VT_ID,        /* a PCI id: hex text, or a decimal !!int */
};

static const struct {
	const char *tags[2];     /* core tag names ("int" for !!int) it takes besides none */
	const char *expected;    /* the same, for messages */
} vtypes[] = {
	[VT_MAPPING] = { .tags = { NULL, NULL }, .expected = "no tag" },
	[VT_STRING] = { .tags = { "str", NULL }, .expected = "!!str or no tag" },
	[VT_NUMBER] = { .tags = { "int", NULL }, .expected = "!!int or no tag" },
	[VT_BOOL] = { .tags = { "bool", NULL }, .expected = "!!bool or no tag" },
	[VT_ID] = { .tags = { "int", "str" }, .expected = "!!int, !!str or no tag" },
};

static void
error_at(struct parser *p, const struct pt_ynode *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
error_at(struct parser *p, const struct pt_ynode *at, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (p->errors++ == PT_CONFIG_MAX_ERRORS) {
		pt_diags_add(p->diags, p->file, at ? at->line : 1, at ? at->col : 1,
			     "too many errors; fix these %d first", PT_CONFIG_MAX_ERRORS);
		return;
	}
	if (p->errors > PT_CONFIG_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	pt_diags_add(p->diags, p->file, at ? at->line : 1, at ? at->col : 1, "%s", msg);
	free(msg);
}

/* Edit distance, for "did you mean"; keys are short so the quadratic table is fine. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	if (la >= 64 || lb >= 64)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

static void
unknown_key(struct parser *p, const struct pt_ynode *key, const char *const *known)
{
	const char *best = NULL;
	size_t best_d = 3;   /* suggest only within two edits */
	char list[256] = "";

	for (size_t i = 0; known[i]; i++) {
		size_t d = edit_distance(key->value, known[i]);

		/* a suggestion must keep some of what was typed */
		if (d < best_d && d < strlen(key->value)) {
			best_d = d;
			best = known[i];
		}
		if (i)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, known[i], sizeof(list) - strlen(list) - 1);
	}
	if (best)
		error_at(p, key, "unknown key '%s' (did you mean '%s'?)", key->value, best);
	else
		error_at(p, key, "unknown key '%s' (expected one of: %s)", key->value, list);
}

/* Refuses a tag that type t does not take; `what` names the node in the message. */
static bool
tag_ok(struct parser *p, const struct pt_ynode *n, enum vtype t, const char *what)
{
	char *text;

	if (!n->tag)
		return true;
	for (size_t i = 0; i < sizeof(vtypes[t].tags) / sizeof(vtypes[t].tags[0]); i++)
		if (vtypes[t].tags[i] && pt_ynode_has_core_tag(n, vtypes[t].tags[i]))
			return true;
	text = pt_ynode_tag_text(n);
	error_at(p, n, "unsupported tag '%s' on %s (expected %s)", text, what, vtypes[t].expected);
	free(text);
	return false;
}

/*
 * Checks that pair i of map has a usable key that no earlier pair repeats. `what` names
 * the key in messages ("key", "device name"). Returns false when the pair is to be skipped.
 */
static bool
key_ok(struct parser *p, const struct pt_ynode *map, size_t i, const char *what)
{
	const struct pt_ynode *key = map->pairs[i].key;
	char where[32];

	snprintf(where, sizeof(where), "a %s", what);
	if (!tag_ok(p, key, VT_STRING, where))
		return false;
	if (key->kind != PT_YNODE_SCALAR || pt_ynode_is_null(key)) {
		error_at(p, key, "a %s must be a plain string, not %s", what, pt_ynode_kind_name(key));
		return false;
	}
	for (size_t j = 0; j < i; j++) {
		const struct pt_ynode *prev = map->pairs[j].key;

		if (prev->kind == PT_YNODE_SCALAR && strcmp(prev->value, key->value) == 0) {
			error_at(p, key, "duplicate %s '%s' (first at line %u)", what, key->value,
				 prev->line);
			return false;
		}
	}
	return true;
}

/*
 * Checks that v, the value of key `name`, is one value of type t: a tag t takes, not a
 * collection or empty, and, for a number or a boolean, a plain scalar. A quoted or block
 * scalar is a string; only an explicit !!int or !!bool reads one as a number or boolean.
 */
static bool
value_ok(struct parser *p, const char *name, const struct pt_ynode *v, enum vtype t)
{
	char what[32];

	snprintf(what, sizeof(what), "'%s'", name);
	if (!tag_ok(p, v, t, what))
		return false;
	if (v->kind != PT_YNODE_SCALAR || pt_ynode_is_null(v)) {
		error_at(p, v, "'%s' needs a value, not %s", name, pt_ynode_kind_name(v));
		return false;
	}
	if ((t == VT_NUMBER || t == VT_BOOL) && !v->tag && v->style != PT_YSCALAR_PLAIN) {
		error_at(p, v, "'%s' must be %s, not the %s string '%s'", name,
			 t == VT_NUMBER ? "a number" : "true or false",
			 v->style == PT_YSCALAR_BLOCK ? "block" : "quoted", v->value);
		return false;
	}
	return true;
}

/*
 * A PCI id. Ids are hexadecimal everywhere (lspci, sysfs), so "8086" is 0x8086, not
 * decimal 8086. Accepted: 0x1ac1, 1ac1, "1ac1", !!str 1ac1, and an explicit `!!int 6849`
 * (decimal).
 */
static bool
parse_id(struct parser *p, const char *name, const struct pt_ynode *v, unsigned long max,
	 const char *range_hint, uint16_t *ret)
{
	const char *s;
	unsigned long val = 0;
	int base = 16;
	size_t digits = 0;

	if (!value_ok(p, name, v, VT_ID))
		return false;
	s = v->value;
	if (pt_ynode_has_core_tag(v, "int") && !(s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
		base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s; s++, digits++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (val <= 0xffffffffUL)
			val = val * (unsigned long)base + (unsigned long)d;
	}
	if (*s || digits == 0) {
		error_at(p, v, "invalid %s '%s' (expected a hex id: 0x1ac1, 1ac1 or \"1ac1\")",
			 name, v->value);
		return false;
	}
	if (val > max) {
		error_at(p, v, "%s '%s' is out of range (at most 0x%lx%s)", name, v->value, max,
			 range_hint);
		return false;
	}
	*ret = (uint16_t)val;
	return true;
}

static bool
parse_bool(struct parser *p, const char *name, const struct pt_ynode *v, bool *ret)
{
	static const char *const yes[] = { "true", "True", "TRUE", NULL };
	static const char *const no[] = { "false", "False", "FALSE", NULL };

	if (!value_ok(p, name, v, VT_BOOL))
		return false;
	for (size_t i = 0; yes[i]; i++) {
		if (strcmp(v->value, yes[i]) == 0) {
			*ret = true;
			return true;
		}
		if (strcmp(v->value, no[i]) == 0) {
			*ret = false;
			return true;
		}
	}
	error_at(p, v, "'%s' must be true or false, not '%s'", name, v->value);
	return false;
}

static void
parse_match(struct parser *p, const struct pt_ynode *map, struct pt_match *m)
{
	unsigned errors_before = p->errors;

	if (!tag_ok(p, map, VT_MAPPING, "'match'"))
		return;
	if (map->kind != PT_YNODE_MAPPING) {
		error_at(p, map, "'match' must be a mapping like { vendor: 0x1ac1, device: 0x089a }, not %s",
			 pt_ynode_kind_name(map));
		return;
	}
	for (size_t i = 0; i < map->n_pairs; i++) {
		const struct pt_ynode *k = map->pairs[i].key, *v = map->pairs[i].value;
		const char *key;

		if (!key_ok(p, map, i, "key"))
			continue;
		key = k->value;
		if (strcmp(key, "vendor") == 0) {
			if (parse_id(p, key, v, 0xffff, "", &m->vendor))
				m->fields |= PT_MATCH_VENDOR;
		} else if (strcmp(key, "device") == 0) {
			if (parse_id(p, key, v, 0xffff, "", &m->device))
				m->fields |= PT_MATCH_DEVICE;
		} else if (strcmp(key, "subsystem_vendor") == 0) {
			if (parse_id(p, key, v, 0xffff, "", &m->subsystem_vendor))
				m->fields |= PT_MATCH_SUBSYSTEM_VENDOR;
		} else if (strcmp(key, "subsystem_device") == 0) {
			if (parse_id(p, key, v, 0xffff, "", &m->subsystem_device))
				m->fields |= PT_MATCH_SUBSYSTEM_DEVICE;
		} else if (strcmp(key, "class") == 0) {
			if (parse_id(p, key, v, 0xffff,
				     ": class and subclass as lspci -n shows them, e.g. 0x0200",
				     &m->class_code))
				m->fields |= PT_MATCH_CLASS;
		} else {
			unknown_key(p, k, match_keys);
		}
	}
	if ((m->fields & (PT_MATCH_VENDOR | PT_MATCH_DEVICE)) != (PT_MATCH_VENDOR | PT_MATCH_DEVICE) &&
	    p->errors == errors_before)
		error_at(p, map, "'match' needs both 'vendor' and 'device'");
}

static void
parse_vm(struct parser *p, const struct pt_ynode *v, struct pt_device *d)
{
	if (!value_ok(p, "vm", v, VT_STRING))
		return;
	if (v->len > PT_VM_NAME_MAX) {
		error_at(p, v, "'vm' is longer than %d bytes", PT_VM_NAME_MAX);
		return;
	}
	if (strspn(v->value, " ") == v->len) {
		error_at(p, v, "'vm' is empty");
		return;
	}
	for (const char *s = v->value; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			error_at(p, v, "'vm' must not contain control characters");
			return;
		}
	}
	d->vm = xstrdup(v->value);
}

static bool
device_name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return n > 0 && n <= PT_DEVICE_NAME_MAX;
}

/* The key nodes of a device entry, for messages about how keys combine. */
struct device_keys {
	const struct pt_ynode *match, *vm, *state, *on_stop, *persistent, *whole_group;
	const struct pt_ynode *power, *reset, *recover, *count, *address, *usb;
};

/*
 * `power: on` is the only value. It is read as a string, as the schema reads every plain
 * scalar: a plain `on` is not a boolean here (YAML 1.1 tools read it as true, so a file
 * written by one may say `power: true`, which is refused with the value to write).
 */
static void
parse_power(struct parser *p, const struct pt_ynode *v, struct pt_device *d)
{
	if (!value_ok(p, "power", v, VT_STRING))
		return;
	if (strcmp(v->value, "on") == 0)
		d->power_on = true;
	else
		error_at(p, v, "invalid power '%s' (expected on, or leave it out for the kernel's choice)",
			 v->value);
}

static void
parse_reset(struct parser *p, const struct pt_ynode *v, struct pt_device *d)
{
	if (!value_ok(p, "reset", v, VT_STRING))
		return;
	if (strcmp(v->value, "before_attach") == 0)
		d->reset = PT_RESET_BEFORE_ATTACH;
	else if (strcmp(v->value, "never") == 0)
		d->reset = PT_RESET_NEVER;
	else
		error_at(p, v, "invalid reset '%s' (expected before_attach or never)", v->value);
}

static void
parse_recover(struct parser *p, const struct pt_ynode *v, struct pt_device *d)
{
	if (!value_ok(p, "recover", v, VT_STRING))
		return;
	if (strcmp(v->value, "rescan") == 0)
		d->recover = PT_RECOVER_RESCAN;
	else if (strcmp(v->value, "none") == 0)
		d->recover = PT_RECOVER_NONE;
	else
		error_at(p, v, "invalid recover '%s' (expected rescan or none)", v->value);
}

/* `count: N` (1 to PT_COUNT_MAX) or `count: all`. */
static void
parse_count(struct parser *p, const struct pt_ynode *v, struct pt_device *d)
{
	char *end;
	unsigned long n;

	if (v->kind == PT_YNODE_SCALAR && !v->tag && v->style == PT_YSCALAR_PLAIN && strcmp(v->value, "all") == 0) {
		d->has_count = true;
		d->count_all = true;
		d->count = 0;
		return;
	}
	if (!value_ok(p, "count", v, VT_NUMBER))
		return;
	n = strtoul(v->value, &end, 10);
	if (*end || v->value[0] < '0' || v->value[0] > '9' || n < 1 || n > PT_COUNT_MAX) {
		error_at(p, v, "invalid count '%s' (expected a number from 1 to %d, or all)", v->value, PT_COUNT_MAX);
		return;
	}
	d->has_count = true;
	d->count = (unsigned)n;
}


/* One USB id, "1a6e:089a": four hex digits, a colon, four hex digits (as lsusb shows it). */
static bool
parse_usb_id(const char *s, struct pt_usbid *ret)
{
	unsigned v[2] = { 0, 0 };

	for (int half = 0; half < 2; half++) {
		for (int i = 0; i < 4; i++, s++) {
			int d;

			if (*s >= '0' && *s <= '9')
				d = *s - '0';
			else if (*s >= 'a' && *s <= 'f')
				d = *s - 'a' + 10;
			else if (*s >= 'A' && *s <= 'F')
				d = *s - 'A' + 10;
			else
				return false;
			v[half] = v[half] * 16 + (unsigned)d;
		}
		if (half == 0 && *s++ != ':')
			return false;
	}
	if (*s)
		return false;
	ret->vendor = (uint16_t)v[0];
	ret->product = (uint16_t)v[1];
	return true;
}

/* A port path as sysfs names the device: bus, '-', then port numbers joined by '.': "2-1.3". */
static bool
usb_port_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 3 || s[n] != '-' || strlen(s) > PT_USB_PORT_MAX)
		return false;
	s += n + 1;
	for (;;) {
		n = strspn(s, "0123456789");
		if (n == 0 || n > 3)
			return false;
		s += n;
		if (*s == '\0')
			return true;
		if (*s++ != '.')
			return false;
	}
}

static void
parse_usb_ids(struct parser *p, const struct pt_ynode *v, struct pt_usb_select *u)
{
	if (v->kind != PT_YNODE_SEQUENCE || v->n_items == 0 || v->tag) {
		error_at(p, v, "'ids' must be a list of USB ids like [\"1a6e:089a\", \"18d1:9302\"]");
		return;
	}
	if (v->n_items > PT_USB_IDS_MAX) {
		error_at(p, v, "'ids' lists %zu ids (at most %d)", v->n_items, PT_USB_IDS_MAX);
		return;
	}
	for (size_t i = 0; i < v->n_items; i++) {
		const struct pt_ynode *e = v->items[i];

		if (!value_ok(p, "ids", e, VT_STRING))
			continue;
		if (!parse_usb_id(e->value, &u->ids[u->n_ids]))
			error_at(p, e, "invalid USB id '%s' (expected vendor:product in hex, as lsusb shows it: "
				 "\"1a6e:089a\")", e->value);
		else
			u->n_ids++;
	}
}

static void
parse_usb(struct parser *p, const struct pt_ynode *map, struct pt_usb_select *u)
{
	unsigned errors_before = p->errors;
	bool has_ids = false;

	if (!tag_ok(p, map, VT_MAPPING, "'usb'"))
		return;
	if (map->kind != PT_YNODE_MAPPING) {
		error_at(p, map, "'usb' must be a mapping like { ids: [\"1a6e:089a\", \"18d1:9302\"], port: \"2-1.3\" }, "
			 "not %s", pt_ynode_kind_name(map));
		return;
	}
	for (size_t i = 0; i < map->n_pairs; i++) {
		const struct pt_ynode *k = map->pairs[i].key, *v = map->pairs[i].value;
		const char *key;

		if (!key_ok(p, map, i, "key"))
			continue;
		key = k->value;
		if (strcmp(key, "ids") == 0) {
			has_ids = true;
			parse_usb_ids(p, v, u);
		} else if (strcmp(key, "serial") == 0) {
			bool ctl = false;

			if (!value_ok(p, key, v, VT_STRING))
				continue;
			for (const char *c = v->value; *c; c++)
				ctl = ctl || (unsigned char)*c < 0x20 || *c == 0x7f;
			if (v->len == 0 || v->len > PT_USB_SERIAL_MAX || ctl)
				error_at(p, v, "invalid serial '%s' (1 to %d characters, no control characters)",
					 v->value, PT_USB_SERIAL_MAX);
			else
				u->serial = xstrdup(v->value);
		} else if (strcmp(key, "port") == 0) {
			if (!value_ok(p, key, v, VT_STRING))
				continue;
			if (!usb_port_ok(v->value))
				error_at(p, v, "invalid port '%s' (expected the port path sysfs names the device by: "
					 "bus-port[.port...], e.g. \"2-1.3\")", v->value);
			else
				u->port = xstrdup(v->value);
		} else {
			unknown_key(p, k, usb_keys);
		}
	}
	if (!has_ids && !u->port && p->errors == errors_before)
		error_at(p, map, "'usb' needs 'ids' or 'port' to select the device");
}

static void
parse_device(struct parser *p, const struct pt_ynode *name, const struct pt_ynode *map,
	     struct pt_device *d)
{
	struct device_keys keys = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	unsigned errors_before = p->errors;
	char what[PT_DEVICE_NAME_MAX + 16];

	d->name = xstrdup(name->value);
	d->count = 1;
	d->pool = -1;
	d->line = name->line;
	d->col = name->col;
	snprintf(what, sizeof(what), "device '%s'", d->name);
	if (!tag_ok(p, map, VT_MAPPING, what))
		return;
	if (map->kind != PT_YNODE_MAPPING) {
		error_at(p, map, "device '%s' must be a mapping with 'address' or 'match', not %s",
			 name->value, pt_ynode_kind_name(map));
		return;
	}
	for (size_t i = 0; i < map->n_pairs; i++) {
		const struct pt_ynode *k = map->pairs[i].key, *v = map->pairs[i].value;
		const char *key, *why;

		if (!key_ok(p, map, i, "key"))
			continue;
		key = k->value;
		if (strcmp(key, "address") == 0) {
			keys.address = k;
			if (!value_ok(p, key, v, VT_STRING))
				continue;
			if (pt_pciaddr_parse(v->value, &d->address, &why) < 0)
				error_at(p, v, "invalid address '%s' (%s)", v->value, why);
			else
				d->has_address = true;
		} else if (strcmp(key, "match") == 0) {
			keys.match = k;
			parse_match(p, v, &d->match);
		} else if (strcmp(key, "vm") == 0) {
			keys.vm = k;
			parse_vm(p, v, d);
		} else if (strcmp(key, "state") == 0) {
			keys.state = k;
			if (!value_ok(p, key, v, VT_STRING))
				continue;
			if (strcmp(v->value, "attached") == 0)
				d->state = PT_STATE_ATTACHED;
			else if (strcmp(v->value, "bound") == 0)
				d->state = PT_STATE_BOUND;
			else if (strcmp(v->value, "released") == 0)
				d->state = PT_STATE_RELEASED;
			else
				error_at(p, v, "invalid state '%s' (expected attached, bound or released)",
					 v->value);
		} else if (strcmp(key, "on_stop") == 0) {
			keys.on_stop = k;
			if (!value_ok(p, key, v, VT_STRING))
				continue;
			if (strcmp(v->value, "keep") == 0)
				d->on_stop = PT_ON_STOP_KEEP;
			else if (strcmp(v->value, "release") == 0)
				d->on_stop = PT_ON_STOP_RELEASE;
			else
				error_at(p, v, "invalid on_stop '%s' (expected keep or release)", v->value);
		} else if (strcmp(key, "persistent") == 0) {
			keys.persistent = k;
			parse_bool(p, key, v, &d->persistent);
		} else if (strcmp(key, "force") == 0) {
			parse_bool(p, key, v, &d->force);
		} else if (strcmp(key, "whole_group") == 0) {
			keys.whole_group = k;
			parse_bool(p, key, v, &d->whole_group);
		} else if (strcmp(key, "power") == 0) {
			keys.power = k;
			parse_power(p, v, d);
		} else if (strcmp(key, "reset") == 0) {
			keys.reset = k;
			parse_reset(p, v, d);
		} else if (strcmp(key, "recover") == 0) {
			keys.recover = k;
			parse_recover(p, v, d);
		} else if (strcmp(key, "count") == 0) {
			keys.count = k;
			parse_count(p, v, d);
		} else if (strcmp(key, "usb") == 0) {
			keys.usb = k;
			d->has_usb = true;
			parse_usb(p, v, &d->usb);
		} else {
			unknown_key(p, k, device_keys);
		}
	}
	if (p->errors != errors_before)
		return;   /* the combination checks below would only repeat the same problem */
	if (keys.usb) {
		/* a USB device is handed over by libvirt as it is: no driver, group or PCI power */
		const struct { const struct pt_ynode *k; const char *why; } pci_only[] = {
			{ keys.address, "'address' selects a PCI device; a 'usb' entry selects its device with 'usb'" },
			{ keys.match, "'match' selects PCI devices; a 'usb' entry selects its device with 'usb'" },
			{ keys.count, "'count' applies only to PCI devices (a 'usb' entry is one device)" },
			{ keys.whole_group, "'whole_group' applies only to PCI devices (IOMMU groups), not to a 'usb' entry" },
			{ keys.power, "'power' applies only to PCI devices, not to a 'usb' entry" },
			{ keys.reset, "'reset' applies only to PCI devices, not to a 'usb' entry" },
			{ keys.recover, "'recover' applies only to PCI devices, not to a 'usb' entry" },
			{ keys.on_stop, "'on_stop' applies only to PCI devices (vfio-pci); libvirt gives a USB "
					"device back to the host when its VM stops" },
		};

		for (size_t i = 0; i < sizeof(pci_only) / sizeof(pci_only[0]); i++)
			if (pci_only[i].k)
				error_at(p, pci_only[i].k, "%s", pci_only[i].why);
		if (d->state == PT_STATE_BOUND)
			error_at(p, keys.state, "state: bound is for PCI devices (held on vfio-pci); a 'usb' entry is "
				 "attached or released");
		if (p->errors != errors_before)
			return;
	}
	if (!d->has_address && !keys.match && !keys.usb)
		error_at(p, name, "device '%s' needs 'address', 'match' or 'usb' to select the hardware",
			 d->name);
	if (keys.count && keys.address)
		error_at(p, keys.count, "'count' cannot be used with 'address', which names one device; "
			 "select the devices with 'match' alone");
	if (d->state == PT_STATE_ATTACHED && !keys.vm)
		error_at(p, name, "device '%s' needs 'vm' (state: attached is the default; "
			 "use state: bound or released for no VM)", d->name);
	if (d->state != PT_STATE_ATTACHED) {
		const char *st = pt_state_name(d->state);

		if (keys.vm)
			error_at(p, keys.vm, "'vm' cannot be used with state: %s (only with state: attached)", st);
		if (keys.on_stop)
			error_at(p, keys.on_stop, "'on_stop' applies only to state: attached, not %s", st);
		if (keys.persistent)
			error_at(p, keys.persistent, "'persistent' applies only to state: attached, not %s", st);
		/* the reset is done just before a hot-plug, which only an attached device gets */
		if (keys.reset)
			error_at(p, keys.reset, "'reset' applies only to state: attached, not %s", st);
	}
	if (d->state == PT_STATE_RELEASED) {
		if (keys.whole_group && d->whole_group)
			error_at(p, keys.whole_group, "'whole_group' applies only to devices that go to vfio-pci, not released");
		/* a device on its host driver is that driver's to power and to recover */
		if (keys.power)
			error_at(p, keys.power, "'power' applies only to devices that go to vfio-pci, not released");
		if (keys.recover)
			error_at(p, keys.recover, "'recover' applies only to devices that go to vfio-pci, not released");
	}
}

static bool
match_equal(const struct pt_match *a, const struct pt_match *b)
{
	return a->fields == b->fields && a->vendor == b->vendor && a->device == b->device &&
	       a->subsystem_vendor == b->subsystem_vendor &&
	       a->subsystem_device == b->subsystem_device && a->class_code == b->class_code;
}

/* Two entries must never claim the same hardware: the same address twice is an error; the same
 * `match` (without `address`) makes a pool, whose members each take different devices. */
static void
check_overlaps(struct parser *p)
{
	const struct pt_config *c = &p->cfg;

	for (size_t i = 0; i < c->n_devices; i++) {
		const struct pt_device *d = &c->devices[i];

		for (size_t j = 0; j < i; j++) {
			const struct pt_device *e = &c->devices[j];
			struct pt_ynode at = { .line = d->line, .col = d->col };
			char buf[PT_PCIADDR_BUFSZ];

			if (d->has_address && e->has_address &&
			    pt_pciaddr_cmp(&d->address, &e->address) == 0) {
				error_at(p, &at, "device '%s' selects %s, already selected by '%s' (line %u)",
					 d->name, pt_pciaddr_format(&d->address, buf), e->name, e->line);
				break;
			}
		}
	}
}

void
pt_config_make_pools(struct pt_config *c)
{
	size_t cap = 0;

	for (size_t i = 0; i < c->n_pools; i++)
		free(c->pools[i].members);
	free(c->pools);
	c->pools = NULL;
	c->n_pools = 0;
	for (size_t i = 0; i < c->n_devices; i++)
		c->devices[i].pool = -1;
	for (size_t i = 0; i < c->n_devices; i++) {
		struct pt_device *d = &c->devices[i];
		struct pt_pool *pool;
		size_t n = 0;

		if (d->has_address || !d->match.fields || d->pool >= 0)
			continue;
		for (size_t j = i; j < c->n_devices; j++)
			n += !c->devices[j].has_address && match_equal(&c->devices[j].match, &d->match);
		if (n == 1 && !d->has_count)
			continue;
		xgrow(&c->pools, &cap, c->n_pools + 1, sizeof(*c->pools));
		pool = &c->pools[c->n_pools];
		memset(pool, 0, sizeof(*pool));
		pool->match = d->match;
		pool->members = xcalloc(n, sizeof(*pool->members));
		for (size_t j = i; j < c->n_devices; j++) {
			if (!c->devices[j].has_address && match_equal(&c->devices[j].match, &d->match)) {
				c->devices[j].pool = (int)c->n_pools;
				pool->members[pool->n_members++] = j;
			}
		}
		c->n_pools++;
	}
}

/* Groups the entries that share a `match` (no `address`) into pools; one with `count` is a pool
 * of its own. `count: all` takes every free device, so it shares its match with no other entry. */
static void
make_pools(struct parser *p)
{
	const struct pt_config *c = &p->cfg;

	pt_config_make_pools(&p->cfg);
	for (size_t k = 0; k < c->n_pools; k++) {
		const struct pt_pool *pool = &c->pools[k];

		for (size_t m = 0; pool->n_members > 1 && m < pool->n_members; m++) {
			const struct pt_device *e = &c->devices[pool->members[m]];
			const struct pt_device *other = &c->devices[pool->members[m ? 0 : 1]];
			struct pt_ynode at = { .line = e->line, .col = e->col };

			if (e->count_all)
				error_at(p, &at, "device '%s' has count: all, which takes every matching device, but "
					 "'%s' (line %u) has the same 'match'; give it a number", e->name, other->name,
					 other->line);
		}
	}
}

static void
parse_devices(struct parser *p, const struct pt_ynode *map)
{
	if (!tag_ok(p, map, VT_MAPPING, "'devices'"))
		return;
	if (pt_ynode_is_null(map))
		return;
	if (map->kind != PT_YNODE_MAPPING) {
		error_at(p, map, "'devices' must be a mapping from your device names to entries, not %s",
			 pt_ynode_kind_name(map));
		return;
	}
	p->cfg.devices = xcalloc(map->n_pairs, sizeof(*p->cfg.devices));
	for (size_t i = 0; i < map->n_pairs; i++) {
		const struct pt_ynode *k = map->pairs[i].key;

		if (!key_ok(p, map, i, "device name"))
			continue;
		if (!device_name_ok(k->value)) {
			error_at(p, k, "invalid device name '%s' (letters, digits, '_', '.' and '-'; "
				 "at most %d)", k->value, PT_DEVICE_NAME_MAX);
			continue;
		}
		parse_device(p, k, map->pairs[i].value, &p->cfg.devices[p->cfg.n_devices++]);
	}
	check_overlaps(p);
	make_pools(p);
}

/* The top-level `vfio_pci:` map; `key` is the `vfio_pci` key, whose position is kept. */
static void
parse_vfio_pci(struct parser *p, const struct pt_ynode *key, const struct pt_ynode *map)
{
	struct pt_vfio_params *v = &p->cfg.vfio_pci;

	v->line = key->line;
	v->col = key->col;
	if (!tag_ok(p, map, VT_MAPPING, "'vfio_pci'"))
		return;
	if (map->kind != PT_YNODE_MAPPING) {
		error_at(p, map, "'vfio_pci' must be a mapping like { disable_idle_d3: true }, not %s",
			 pt_ynode_kind_name(map));
		return;
	}
	for (size_t i = 0; i < map->n_pairs; i++) {
		const struct pt_ynode *k = map->pairs[i].key;

		if (!key_ok(p, map, i, "key"))
			continue;
		if (strcmp(k->value, "disable_idle_d3") == 0) {
			if (parse_bool(p, k->value, map->pairs[i].value, &v->disable_idle_d3))
				v->has_disable_idle_d3 = true;
		} else {
			unknown_key(p, k, vfio_pci_keys);
		}
	}
}

/* The top-level `notify:` map: { command: [ARGV...], on: [failure, recovery], timeout: S }. */
static void
parse_notify(struct parser *p, const struct pt_ynode *key, const struct pt_ynode *map)
{
	struct pt_notify *n = &p->cfg.notify;
	const struct pt_ynode *command = NULL, *on = NULL;

	n->line = key->line;
	n->col = key->col;
	n->timeout_s = PT_NOTIFY_TIMEOUT_S;
	if (!tag_ok(p, map, VT_MAPPING, "'notify'"))
		return;
	if (map->kind != PT_YNODE_MAPPING) {
		error_at(p, map, "'notify' must be a mapping like { command: [/usr/local/bin/notify-me] }, not %s",
			 pt_ynode_kind_name(map));
		return;
	}
	for (size_t i = 0; i < map->n_pairs; i++) {
		const struct pt_ynode *k = map->pairs[i].key, *v = map->pairs[i].value;

		if (!key_ok(p, map, i, "key"))
			continue;
		if (strcmp(k->value, "command") == 0) {
			command = v;
		} else if (strcmp(k->value, "on") == 0) {
			on = v;
		} else if (strcmp(k->value, "timeout") == 0) {
			unsigned long t;
			char *end;

			if (!value_ok(p, "timeout", v, VT_NUMBER))
				continue;
			t = strtoul(v->value, &end, 10);
			if (*end || v->value[0] == '-' || t < 1 || t > PT_NOTIFY_TIMEOUT_MAX_S)
				error_at(p, v, "'timeout' takes seconds, 1 to %d, not '%s'", PT_NOTIFY_TIMEOUT_MAX_S, v->value);
			else
				n->timeout_s = (unsigned)t;
		} else {
			unknown_key(p, k, notify_keys);
		}
	}
	if (!command) {
		error_at(p, map, "'notify' needs 'command: [PROGRAM, ARGS...]'");
		return;
	}
	if (command->kind != PT_YNODE_SEQUENCE || command->n_items == 0 || command->tag) {
		error_at(p, command, "'command' must be a list like [/usr/local/bin/notify-me, --to, admin] "
			 "(run without a shell), not %s", pt_ynode_kind_name(command));
		return;
	}
	if (!on) {
		n->on_failure = n->on_recovery = true;
	} else if (on->kind != PT_YNODE_SEQUENCE || on->n_items == 0 || on->tag) {
		error_at(p, on, "'on' must be a list of failure and recovery, not %s", pt_ynode_kind_name(on));
	} else {
		for (size_t i = 0; i < on->n_items; i++) {
			const struct pt_ynode *e = on->items[i];

			if (!value_ok(p, "on", e, VT_STRING))
				continue;
			if (strcmp(e->value, "failure") == 0)
				n->on_failure = true;
			else if (strcmp(e->value, "recovery") == 0)
				n->on_recovery = true;
			else
				error_at(p, e, "unknown event '%s' in 'on' (expected failure or recovery)", e->value);
		}
	}
	n->command = xcalloc(command->n_items + 1, sizeof(*n->command));
	for (size_t i = 0; i < command->n_items; i++) {
		const struct pt_ynode *e = command->items[i];

		if (!value_ok(p, "command", e, VT_STRING))
			continue;
		if (i == 0 && !e->value[0])
			error_at(p, e, "the program in 'command' is empty");
		n->command[i] = xstrdup(e->value);
	}
	for (size_t i = 0; i < command->n_items; i++)
		if (!n->command[i])
			n->command[i] = xstrdup("");
}

/* The top-level `metrics_file:`: an absolute path. */
static void
parse_metrics_file(struct parser *p, const struct pt_ynode *v)
{
	if (!value_ok(p, "metrics_file", v, VT_STRING))
		return;
	if (v->value[0] != '/') {
		error_at(p, v, "'metrics_file' must be an absolute path, not '%s'", v->value);
		return;
	}
	p->cfg.metrics_file = xstrdup(v->value);
}

static void
parse_root(struct parser *p, const struct pt_ynode *root)
{
	const struct pt_ynode *version = NULL, *devices = NULL, *vfio_key = NULL, *vfio = NULL;

	if (root && !tag_ok(p, root, VT_MAPPING, "the document"))
		return;
	if (!root || pt_ynode_is_null(root)) {
		pt_diags_add(p->diags, p->file, 1, 1, "empty file (expected 'version: 1' and 'devices:')");
		p->errors++;
		return;
	}
	if (root->kind != PT_YNODE_MAPPING) {
		error_at(p, root, "expected a mapping with 'version' and 'devices', not %s",
			 pt_ynode_kind_name(root));
		return;
	}
	for (size_t i = 0; i < root->n_pairs; i++) {
		const struct pt_ynode *k = root->pairs[i].key;

		if (!key_ok(p, root, i, "key"))
			continue;
		if (strcmp(k->value, "version") == 0) {
			version = root->pairs[i].value;
		} else if (strcmp(k->value, "devices") == 0) {
			devices = root->pairs[i].value;
		} else if (strcmp(k->value, "vfio_pci") == 0) {
			vfio_key = k;
			vfio = root->pairs[i].value;
		} else if (strcmp(k->value, "notify") == 0) {
			parse_notify(p, k, root->pairs[i].value);
		} else if (strcmp(k->value, "metrics_file") == 0) {
			parse_metrics_file(p, root->pairs[i].value);
		} else {
			unknown_key(p, k, top_keys);
		}
	}
	if (!version) {
		error_at(p, root, "missing 'version: %d'", PT_CONFIG_VERSION);
	} else if (value_ok(p, "version", version, VT_NUMBER)) {
		if (strcmp(version->value, "1") != 0)
			error_at(p, version, "unsupported version '%s' (this passthrough reads version %d)",
				 version->value, PT_CONFIG_VERSION);
		else
			p->cfg.version = PT_CONFIG_VERSION;
	}
	if (!devices)
		error_at(p, root, "missing 'devices'");
	else
		parse_devices(p, devices);
	if (vfio)
		parse_vfio_pci(p, vfio_key, vfio);
}

int
pt_config_parse(const char *file, const char *buf, size_t len, struct pt_config *ret,
		struct pt_diags *diags)
{
	struct parser p = { .file = file, .diags = diags };
	struct pt_ydoc doc;
	size_t first = diags->n;
	int r;

	r = pt_ydoc_load(file, buf, len, &doc, diags);
	if (r < 0)
		return r;
	p.cfg.file = xstrdup(file);
	parse_root(&p, doc.root);
	pt_ydoc_done(&doc);
	if (p.errors) {
		pt_config_done(&p.cfg);
		/* Sort only what this call added. */
		struct pt_diags mine = { diags->v + first, diags->n - first, 0 };
		pt_diags_sort(&mine);
		return -EINVAL;
	}
	*ret = p.cfg;
	return 0;
}

void
pt_config_done(struct pt_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_devices; i++) {
		free(cfg->devices[i].name);
		free(cfg->devices[i].vm);
		free(cfg->devices[i].usb.serial);
		free(cfg->devices[i].usb.port);
	}
	free(cfg->devices);
	for (size_t i = 0; i < cfg->n_pools; i++)
		free(cfg->pools[i].members);
	free(cfg->pools);
	for (size_t i = 0; cfg->notify.command && cfg->notify.command[i]; i++)
		free(cfg->notify.command[i]);
	free(cfg->notify.command);
	free(cfg->metrics_file);
	free(cfg->file);
	memset(cfg, 0, sizeof(*cfg));
}

const char *
pt_state_name(enum pt_state s)
{
	switch (s) {
	case PT_STATE_ATTACHED:
		return "attached";
	case PT_STATE_BOUND:
		return "bound";
	case PT_STATE_RELEASED:
		return "released";
	}
	return "?";
}

const char *
pt_on_stop_name(enum pt_on_stop s)
{
	return s == PT_ON_STOP_RELEASE ? "release" : "keep";
}

const char *
pt_reset_name(enum pt_reset r)
{
	return r == PT_RESET_BEFORE_ATTACH ? "before_attach" : "never";
}

const char *
pt_recover_name(enum pt_recover r)
{
	return r == PT_RECOVER_RESCAN ? "rescan" : "none";
}

char *
pt_match_describe(const struct pt_match *m)
{
	char *s = xasprintf("%04x:%04x", m->vendor, m->device);
	char *t;

	if (m->fields & PT_MATCH_SUBSYSTEM_VENDOR) {
		t = xasprintf("%s subsystem_vendor %04x", s, m->subsystem_vendor);
		free(s);
		s = t;
	}
	if (m->fields & PT_MATCH_SUBSYSTEM_DEVICE) {
		t = xasprintf("%s subsystem_device %04x", s, m->subsystem_device);
		free(s);
		s = t;
	}
	if (m->fields & PT_MATCH_CLASS) {
		t = xasprintf("%s class %04x", s, m->class_code);
		free(s);
		s = t;
	}
	return s;
}

char *
pt_usb_describe(const struct pt_usb_select *u)
{
	char *s = xstrdup(u->n_ids ? "" : "any id");

	for (size_t i = 0; i < u->n_ids; i++) {
		char *t = xasprintf("%s%s%04x:%04x", s, i ? "|" : "", u->ids[i].vendor, u->ids[i].product);

		free(s);
		s = t;
	}
	if (u->serial) {
		char *t = xasprintf("%s serial %s", s, u->serial);

		free(s);
		s = t;
	}
	if (u->port) {
		char *t = xasprintf("%s port %s", s, u->port);

		free(s);
		s = t;
	}
	return s;
}

bool
pt_usb_id_matches(const struct pt_usb_select *u, uint16_t vendor, uint16_t product)
{
	if (u->n_ids == 0)
		return true;
	for (size_t i = 0; i < u->n_ids; i++)
		if (u->ids[i].vendor == vendor && u->ids[i].product == product)
			return true;
	return false;
}

bool
pt_usb_selects(const struct pt_usb_select *u, uint16_t vendor, uint16_t product, const char *port, const char *serial)
{
	return pt_usb_id_matches(u, vendor, product) && (!u->port || (port && strcmp(u->port, port) == 0)) &&
	       (!u->serial || (serial && strcmp(u->serial, serial) == 0));
}

const struct pt_device *
pt_config_find(const struct pt_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_devices; i++)
		if (strcmp(cfg->devices[i].name, name) == 0)
			return &cfg->devices[i];
	return NULL;
}
