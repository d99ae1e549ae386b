/* observe_libvirt.c: lists libvirt domains with their titles, states and PCI hostdevs. */
#include "reconcile/observe_libvirt.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <stdlib.h>
#include <string.h>

#include "model/xalloc.h"
#include "reconcile/domxml.h"

static void
quiet_error(void *data, virErrorPtr err)
{
	(void)data;
	(void)err;
}

static void __attribute__((format(printf, 2, 3)))
quiet_xml(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static char *
last_error(void)
{
	const char *m = virGetLastErrorMessage();

	return xstrdup(m && m[0] ? m : "unknown libvirt error");
}

/* Does some persistent entry of cfg name this domain (by name, UUID or title)? */
static bool
wants_config(const struct pt_config *cfg, const struct pt_domain *dom)
{
	if (!cfg)
		return false;
	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct pt_device *d = &cfg->devices[i];

		if (!d->persistent || !d->vm)
			continue;
		if (strcmp(d->vm, dom->name) == 0 || strcasecmp(d->vm, dom->uuid) == 0 ||
		    (dom->title && strcmp(d->vm, dom->title) == 0))
			return true;
	}
	return false;
}

static int
observe_domain(virDomainPtr vd, const struct pt_config *cfg, struct pt_domain *dom, char **reterr)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	const char *name;
	char *xml;
	int active, r;

	name = virDomainGetName(vd);
	if (!name || virDomainGetUUIDString(vd, uuid) < 0 || (active = virDomainIsActive(vd)) < 0) {
		*reterr = xasprintf("cannot read domain '%s': %s", name ? name : "?", virGetLastErrorMessage());
		return -EIO;
	}
	dom->name = xstrdup(name);
	dom->uuid = xstrdup(uuid);
	dom->state = active ? PT_DOMAIN_RUNNING : PT_DOMAIN_STOPPED;
	xml = virDomainGetXMLDesc(vd, 0);
	if (!xml) {
		*reterr = xasprintf("cannot read the XML of domain '%s': %s", name, virGetLastErrorMessage());
		return -EIO;
	}
	/* For a stopped domain the "live" XML is the persistent one. */
	if (active)
		r = pt_domxml_parse(xml, strlen(xml), &dom->title, &dom->live, &dom->n_live, reterr);
	else
		r = pt_domxml_parse(xml, strlen(xml), &dom->title, &dom->config, &dom->n_config, reterr);
	free(xml);
	if (r < 0)
		return r;
	dom->have_config = !active;
	if (active && wants_config(cfg, dom)) {
		char *title = NULL;

		xml = virDomainGetXMLDesc(vd, VIR_DOMAIN_XML_INACTIVE);
		if (!xml) {
			*reterr = xasprintf("cannot read the persistent XML of domain '%s': %s", name,
					    virGetLastErrorMessage());
			return -EIO;
		}
		r = pt_domxml_parse(xml, strlen(xml), &title, &dom->config, &dom->n_config, reterr);
		free(title);
		free(xml);
		if (r < 0)
			return r;
		dom->have_config = true;
	}
	return 0;
}

int
pt_observe_libvirt(const struct pt_host *h, const struct pt_config *cfg, struct pt_observed *obs,
		   char **reterr)
{
	virConnectPtr conn;
	virDomainPtr *vds = NULL;
	struct pt_domain *doms;
	int n, r = 0;

	/* We report errors ourselves, once: silence libvirt and the libxml2 it uses in-process. */
	virSetErrorFunc(NULL, quiet_error);
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, quiet_xml);
	conn = virConnectOpenReadOnly(h->libvirt_uri);
	if (!conn) {
		char *m = last_error();

		*reterr = xasprintf("cannot connect to libvirt at '%s': %s", h->libvirt_uri, m);
		free(m);
		return -ECONNREFUSED;
	}
	n = virConnectListAllDomains(conn, &vds, 0);
	if (n < 0) {
		char *m = last_error();

		*reterr = xasprintf("cannot list the domains of '%s': %s", h->libvirt_uri, m);
		free(m);
		virConnectClose(conn);
		return -EIO;
	}
	doms = xcalloc((size_t)n, sizeof(*doms));
	for (int i = 0; i < n && r == 0; i++)
		r = observe_domain(vds[i], cfg, &doms[i], reterr);
	for (int i = 0; i < n; i++)
		virDomainFree(vds[i]);
	free(vds);
	virConnectClose(conn);
	if (r < 0) {
		for (int i = 0; i < n; i++)
			pt_domain_done(&doms[i]);
		free(doms);
		return r;
	}
	for (size_t i = 0; i < obs->n_doms; i++)
		pt_domain_done(&obs->doms[i]);
	free(obs->doms);
	obs->doms = doms;
	obs->n_doms = (size_t)n;
	obs->have_domains = true;
	pt_observed_sort(obs);
	return 0;
}
