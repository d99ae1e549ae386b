/* domxml.c: reads a libvirt domain XML (title, PCI hostdevs) and builds a <hostdev> element; pure. */
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

/* libvirt writes "0x0000"; decimal is allowed too. */
static bool
attr_num(xmlNode *n, const char *attr, unsigned max, unsigned *ret)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
	char *end;
	unsigned long x;

	if (!v)
		return false;
	errno = 0;
	x = strtoul((const char *)v, &end, 0);
	if (errno || end == (char *)v || *end || x > max) {
		xmlFree(v);
		return false;
	}
	xmlFree(v);
	*ret = (unsigned)x;
	return true;
}

/*
 * A PCI device given to the domain: <hostdev mode='subsystem' type='pci'> or, for network
 * functions, <interface type='hostdev'>; both hold <source><address .../></source>.
 */
static void
read_pci_source(xmlNode *el, bool is_interface, struct pt_hostdev **v, size_t *n, size_t *cap)
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
			if (!attr_num(a, "domain", 0xffff, &h.addr.domain))
				h.addr.domain = 0;
			if (attr_num(a, "bus", 0xff, &h.addr.bus) && attr_num(a, "slot", 0x1f, &h.addr.slot) &&
			    attr_num(a, "function", 7, &h.addr.func)) {
				xgrow(v, cap, *n + 1, sizeof(**v));
				(*v)[(*n)++] = h;
			}
			return;
		}
	}
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

/* Parses a domain; ret_name and ret_uuid may be NULL when not wanted. */
static int
parse(const char *xml, size_t len, char **ret_name, char **ret_uuid, char **ret_title,
      struct pt_hostdev **ret_hostdevs, size_t *ret_n, char **reterr)
{
	xmlDoc *doc;
	xmlNode *root;
	struct pt_hostdev *v = NULL;
	size_t n = 0, cap = 0;
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
	for (xmlNode *c = root->children; c; c = c->next) {
		if (is(c, "title") && !title) {
			title = text_of(c);
		} else if (is(c, "name") && !name && ret_name) {
			name = text_of(c);
		} else if (is(c, "uuid") && !uuid && ret_uuid) {
			uuid = text_of(c);
			for (char *u = uuid; u && *u; u++)
				*u = (char)tolower((unsigned char)*u);
		} else if (is(c, "devices")) {
			for (xmlNode *d = c->children; d; d = d->next)
				if (is(d, "hostdev") || is(d, "interface"))
					read_pci_source(d, is(d, "interface"), &v, &n, &cap);
		}
	}
	xmlFreeDoc(doc);
	if (ret_name && !name) {
		free(title);
		free(uuid);
		free(v);
		*reterr = xstrdup("invalid domain XML: no <name>");
		return -EINVAL;
	}
	if (ret_name)
		*ret_name = name;
	if (ret_uuid)
		*ret_uuid = uuid ? uuid : xstrdup("");
	*ret_title = title;
	*ret_hostdevs = v;
	*ret_n = n;
	return 0;
}

int
pt_domxml_parse(const char *xml, size_t len, char **ret_title, struct pt_hostdev **ret_hostdevs,
		size_t *ret_n, char **reterr)
{
	return parse(xml, len, NULL, NULL, ret_title, ret_hostdevs, ret_n, reterr);
}

int
pt_domxml_read_domain(const char *xml, size_t len, struct pt_domain *dom, char **reterr)
{
	memset(dom, 0, sizeof(*dom));
	if (parse(xml, len, &dom->name, &dom->uuid, &dom->title, &dom->config, &dom->n_config, reterr) < 0)
		return -EINVAL;
	dom->have_config = true;
	dom->state = PT_DOMAIN_STOPPED;
	return 0;
}

char *
pt_domxml_hostdev(const struct pt_pciaddr *a)
{
	return xasprintf("<hostdev mode='subsystem' type='pci' managed='no'><source>"
			 "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>"
			 "</source></hostdev>", a->domain & 0xffff, a->bus & 0xff, a->slot & 0x1f,
			 a->func & 7);
}
