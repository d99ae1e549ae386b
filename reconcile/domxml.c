/* domxml.c: reads a libvirt domain XML (title, PCI and USB hostdevs) and builds a <hostdev> element; pure. */
#include "reconcile/domxml.h"

#include <ctype.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "model/xalloc.h"

static bool
is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static bool
attr_is(xmlNode *n, const char *attr, const char *want)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
	bool eq = v && xmlStrcmp(v, (const xmlChar *)want) == 0;

	xmlFree(v);
	return eq;
}

/*
 * One number of a PCI <address> as libvirt reads it (strtoul base 0: "0x" hex, a leading 0
 * octal, else decimal; libvirt writes "0x0000"), but strictly: nothing before or after the
 * digits, no sign. An absent attribute is 0, as in libvirt. Returns 0, -EINVAL when the
 * value is not a number, -ERANGE when it is above max; *ret is only written on success.
 */
static int
attr_num(xmlNode *n, const char *attr, unsigned long max, unsigned *ret, char **reterr_value)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
	const char *s = (const char *)v;
	char *end;
	unsigned long x = 0;
	int r = 0;

	if (!v) {
		*ret = 0;
		return 0;
	}
	if (!isdigit((unsigned char)s[0])) {
		r = -EINVAL;
	} else {
		errno = 0;
		x = strtoul(s, &end, 0);
		if (*end)
			r = -EINVAL;
		else if (errno == ERANGE || x > max)
			r = -ERANGE;
	}
	if (r < 0)
		*reterr_value = xstrdup(s);
	else
		*ret = (unsigned)x;
	xmlFree(v);
	return r;
}

/* Reads the four numbers of a host PCI <address>; a warning naming the attribute when one is bad. */
static bool
read_address(xmlNode *a, const char *domain, const char *what, struct pt_pciaddr *addr,
	     struct pt_diags *warnings)
{
	const struct {
		const char *name;
		unsigned long max;
		unsigned *to;
	} field[] = {
		{ .name = "domain", .max = 0xffffffffUL, .to = &addr->domain },
		{ .name = "bus", .max = 0xff, .to = &addr->bus },
		{ .name = "slot", .max = 0x1f, .to = &addr->slot },
		{ .name = "function", .max = 7, .to = &addr->func },
	};

	for (size_t i = 0; i < sizeof(field) / sizeof(field[0]); i++) {
		char *value = NULL;
		int r = attr_num(a, field[i].name, field[i].max, field[i].to, &value);

		if (r == 0)
			continue;
		if (r == -ERANGE)
			pt_diags_add(warnings, NULL, 0, 0, "domain '%s': %s left out: address attribute "
				     "%s='%s' is out of range (at most 0x%lx)", domain, what, field[i].name,
				     value, field[i].max);
		else
			pt_diags_add(warnings, NULL, 0, 0, "domain '%s': %s left out: address attribute "
				     "%s='%s' is not a number", domain, what, field[i].name, value);
		free(value);
		return false;
	}
	return true;
}

/*
 * A PCI device given to the domain: <hostdev mode='subsystem' type='pci'> or, for network
 * functions, <interface type='hostdev'>; both hold <source><address .../></source>. One whose
 * address cannot be read is left out, with a warning: never read as another address.
 */
static void
read_pci_source(xmlNode *el, bool is_interface, const char *domain, struct pt_hostdev **v, size_t *n,
		size_t *cap, struct pt_diags *warnings)
{
	struct pt_hostdev h;

	if (is_interface ? !attr_is(el, "type", "hostdev")
			 : !attr_is(el, "mode", "subsystem") || !attr_is(el, "type", "pci"))
		return;
	memset(&h, 0, sizeof(h));
	h.managed = attr_is(el, "managed", "yes");
	for (xmlNode *src = el->children; src; src = src->next) {
		if (!is(src, "source"))
			continue;
		for (xmlNode *a = src->children; a; a = a->next) {
			if (!is(a, "address") || (is_interface && !attr_is(a, "type", "pci")))
				continue;
			if (read_address(a, domain, is_interface ? "<interface type='hostdev'>" : "<hostdev>",
					 &h.addr, warnings)) {
				xgrow(v, cap, *n + 1, sizeof(**v));
				(*v)[(*n)++] = h;
			}
			return;
		}
	}
}

/* One number of a USB <vendor id=>/<product id=> (0-0xffff) or <address bus= device=> (1-0xff
 * here: 0 is libvirt's "not given"): false, with a warning, when present but bad. */
static bool
usb_num(xmlNode *n, const char *attr, unsigned long max, const char *domain, unsigned *ret,
	struct pt_diags *warnings)
{
	char *value = NULL;
	int r = attr_num(n, attr, max, ret, &value);

	if (r == 0)
		return true;
	pt_diags_add(warnings, NULL, 0, 0, "domain '%s': <hostdev type='usb'> left out: %s='%s' is %s", domain,
		     attr, value, r == -ERANGE ? "out of range" : "not a number");
	free(value);
	return false;
}

/*
 * A USB device given to the domain: <hostdev mode='subsystem' type='usb'> with <source> holding
 * <vendor id=/> and <product id=/>, and/or <address bus= device=/>. One with a bad number, or
 * with neither, is left out with a warning.
 */
static void
read_usb_source(xmlNode *el, const char *domain, struct pt_usbhostdev **v, size_t *n, size_t *cap,
		struct pt_diags *warnings)
{
	struct pt_usbhostdev h;
	bool vendor = false, product = false, ok = true;

	if (!attr_is(el, "mode", "subsystem") || !attr_is(el, "type", "usb"))
		return;
	memset(&h, 0, sizeof(h));
	for (xmlNode *src = el->children; src; src = src->next) {
		if (!is(src, "source"))
			continue;
		for (xmlNode *a = src->children; a; a = a->next) {
			unsigned x = 0, y = 0;

			if (is(a, "vendor")) {
				ok = ok && usb_num(a, "id", 0xffff, domain, &x, warnings);
				h.vendor = (uint16_t)x;
				vendor = true;
			} else if (is(a, "product")) {
				ok = ok && usb_num(a, "id", 0xffff, domain, &x, warnings);
				h.product = (uint16_t)x;
				product = true;
			} else if (is(a, "address")) {
				ok = ok && usb_num(a, "bus", 0xff, domain, &x, warnings) &&
				     usb_num(a, "device", 0xff, domain, &y, warnings);
				h.bus = x;
				h.device = y;
				h.has_addr = x != 0 || y != 0;
			}
		}
		break;
	}
	h.has_ids = vendor && product;
	if (!ok)
		return;
	if (!h.has_ids && !h.has_addr) {
		pt_diags_add(warnings, NULL, 0, 0, "domain '%s': <hostdev type='usb'> left out: its <source> has "
			     "neither <vendor>/<product> nor <address bus= device=>", domain);
		return;
	}
	xgrow(v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = h;
}

/* The text of element c, or NULL when empty; caller frees. */
static char *
text_of(xmlNode *c)
{
	xmlChar *t = xmlNodeGetContent(c);
	char *s = t && t[0] ? xstrdup((const char *)t) : NULL;

	xmlFree(t);
	return s;
}

/* Moves the lines of from to the end of to (NULL: not wanted) and empties from. */
static void
move_warnings(struct pt_diags *to, struct pt_diags *from)
{
	for (size_t i = 0; to && i < from->n; i++)
		pt_diags_add(to, NULL, 0, 0, "%s", from->v[i].msg);
	pt_diags_done(from);
}

/* Parses a domain; ret_name and ret_uuid may be NULL when not wanted. */
static int
parse(const char *xml, size_t len, char **ret_name, char **ret_uuid, char **ret_title,
      struct pt_hostdev **ret_hostdevs, size_t *ret_n, struct pt_usbhostdev **ret_usb, size_t *ret_n_usb,
      struct pt_diags *warnings, char **reterr)
{
	xmlDoc *doc;
	xmlNode *root;
	struct pt_hostdev *v = NULL;
	struct pt_usbhostdev *usb = NULL;
	struct pt_diags w = PT_DIAGS_INIT;
	size_t n = 0, cap = 0, n_usb = 0, cap_usb = 0;
	char *title = NULL, *name = NULL, *uuid = NULL;

	if (len > (size_t)64 * 1024 * 1024) {
		*reterr = xstrdup("domain XML larger than 64 MiB");
		return -EINVAL;
	}
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlGetLastError();

		*reterr = xasprintf("invalid domain XML: %s", e && e->message ? e->message : "parse error");
		if (*reterr && strlen(*reterr) && (*reterr)[strlen(*reterr) - 1] == '\n')
			(*reterr)[strlen(*reterr) - 1] = '\0';
		return -EINVAL;
	}
	root = xmlDocGetRootElement(doc);
	if (!root || !is(root, "domain")) {
		xmlFreeDoc(doc);
		*reterr = xstrdup("invalid domain XML: the root element is not <domain>");
		return -EINVAL;
	}
	/* the name first: the warnings about its devices say which domain they are in */
	for (xmlNode *c = root->children; c; c = c->next) {
		if (is(c, "title") && !title) {
			title = text_of(c);
		} else if (is(c, "name") && !name) {
			name = text_of(c);
		} else if (is(c, "uuid") && !uuid && ret_uuid) {
			uuid = text_of(c);
			for (char *u = uuid; u && *u; u++)
				*u = (char)tolower((unsigned char)*u);
		}
	}
	for (xmlNode *c = root->children; c; c = c->next) {
		if (!is(c, "devices"))
			continue;
		for (xmlNode *d = c->children; d; d = d->next) {
			if (is(d, "hostdev") || is(d, "interface"))
				read_pci_source(d, is(d, "interface"), name ? name : "?", &v, &n, &cap, &w);
			if (ret_usb && is(d, "hostdev"))
				read_usb_source(d, name ? name : "?", &usb, &n_usb, &cap_usb, &w);
		}
	}
	xmlFreeDoc(doc);
	if (ret_name && !name) {
		free(title);
		free(uuid);
		free(v);
		free(usb);
		pt_diags_done(&w);
		*reterr = xstrdup("invalid domain XML: no <name>");
		return -EINVAL;
	}
	if (ret_name)
		*ret_name = name;
	else
		free(name);
	if (ret_uuid)
		*ret_uuid = uuid ? uuid : xstrdup("");
	*ret_title = title;
	*ret_hostdevs = v;
	*ret_n = n;
	if (ret_usb) {
		*ret_usb = usb;
		*ret_n_usb = n_usb;
	}
	move_warnings(warnings, &w);
	return 0;
}

int
pt_domxml_parse(const char *xml, size_t len, char **ret_title, struct pt_hostdev **ret_hostdevs,
		size_t *ret_n, struct pt_diags *warnings, char **reterr)
{
	return parse(xml, len, NULL, NULL, ret_title, ret_hostdevs, ret_n, NULL, NULL, warnings, reterr);
}

int
pt_domxml_parse_all(const char *xml, size_t len, char **ret_title, struct pt_hostdev **ret_hostdevs,
		    size_t *ret_n, struct pt_usbhostdev **ret_usb, size_t *ret_n_usb, struct pt_diags *warnings,
		    char **reterr)
{
	return parse(xml, len, NULL, NULL, ret_title, ret_hostdevs, ret_n, ret_usb, ret_n_usb, warnings, reterr);
}

int
pt_domxml_read_domain(const char *xml, size_t len, struct pt_domain *dom, struct pt_diags *warnings,
		      char **reterr)
{
	memset(dom, 0, sizeof(*dom));
	if (parse(xml, len, &dom->name, &dom->uuid, &dom->title, &dom->config, &dom->n_config, &dom->usb_config,
		  &dom->n_usb_config, warnings, reterr) < 0)
		return -EINVAL;
	dom->have_config = true;
	dom->state = PT_DOMAIN_STOPPED;
	return 0;
}

char *
pt_domxml_usb_hostdev(unsigned bus, unsigned device)
{
	return xasprintf("<hostdev mode='subsystem' type='usb' managed='yes'><source>"
			 "<address bus='%u' device='%u'/></source></hostdev>", bus & 0xff, device & 0xff);
}

char *
pt_domxml_usb_hostdev_ids(uint16_t vendor, uint16_t product)
{
	return xasprintf("<hostdev mode='subsystem' type='usb' managed='yes'><source>"
			 "<vendor id='0x%04x'/><product id='0x%04x'/></source></hostdev>", vendor, product);
}

char *
pt_domxml_hostdev(const struct pt_pciaddr *a)
{
	return xasprintf("<hostdev mode='subsystem' type='pci' managed='no'><source>"
			 "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>"
			 "</source></hostdev>", a->domain, a->bus & 0xff, a->slot & 0x1f,
			 a->func & 7);
}
