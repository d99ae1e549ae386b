/* observe_libvirt.c: lists libvirt domains with their titles, states and PCI hostdevs. */
#include "reconcile/observe_libvirt.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/xalloc.h"
#include "reconcile/domxml.h"
#include "reconcile/virt.h"

static void __attribute__((format(printf, 2, 3)))
quiet_xml(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static char *
last_error(void)
{
	const char *m = pt_virt.virGetLastErrorMessage();

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
		if (pt_vm_match(d->vm, dom->name, dom->uuid, dom->title) != PT_VM_NO)
			return true;
	}
	return false;
}

static int
observe_domain(virDomainPtr vd, const struct pt_config *cfg, struct pt_domain *dom, struct pt_diags *warnings,
	       char **reterr)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	const char *name;
	char *xml;
	bool active;
	int r;

	/* Name, UUID and ID came with the domain list: no round trip to libvirtd for any of them.
	 * A domain has an ID while it runs (or is paused) and (unsigned)-1 while it is shut off. */
	name = pt_virt.virDomainGetName(vd);
	active = pt_virt.virDomainGetID(vd) != (unsigned)-1;
	if (!name || pt_virt.virDomainGetUUIDString(vd, uuid) < 0) {
		*reterr = xasprintf("cannot read domain '%s': %s", name ? name : "?", pt_virt.virGetLastErrorMessage());
		return -EIO;
	}
	dom->name = xstrdup(name);
	dom->uuid = xstrdup(uuid);
	dom->state = active ? PT_DOMAIN_RUNNING : PT_DOMAIN_STOPPED;
	xml = pt_virt.virDomainGetXMLDesc(vd, 0);
	if (!xml) {
		*reterr = xasprintf("cannot read the XML of domain '%s': %s", name, pt_virt.virGetLastErrorMessage());
		return -EIO;
	}
	/* For a stopped domain the "live" XML is the persistent one. */
	if (active)
		r = pt_domxml_parse_all(xml, strlen(xml), &dom->title, &dom->live, &dom->n_live, &dom->usb_live,
					&dom->n_usb_live, warnings, reterr);
	else
		r = pt_domxml_parse_all(xml, strlen(xml), &dom->title, &dom->config, &dom->n_config, &dom->usb_config,
					&dom->n_usb_config, warnings, reterr);
	free(xml);
	if (r < 0)
		return r;
	dom->have_config = !active;
	if (active && wants_config(cfg, dom)) {
		char *title = NULL;

		xml = pt_virt.virDomainGetXMLDesc(vd, VIR_DOMAIN_XML_INACTIVE);
		if (!xml) {
			*reterr = xasprintf("cannot read the persistent XML of domain '%s': %s", name,
					    pt_virt.virGetLastErrorMessage());
			return -EIO;
		}
		r = pt_domxml_parse_all(xml, strlen(xml), &title, &dom->config, &dom->n_config, &dom->usb_config,
					&dom->n_usb_config, warnings, reterr);
		free(title);
		free(xml);
		if (r < 0)
			return r;
		dom->have_config = true;
	}
	return 0;
}

/* Replaces the warnings of obs with the lines of w, each once (a running domain's live and
 * persistent XML may hold the same device), and leaves w empty. */
static void
set_warnings(struct pt_observed *obs, struct pt_diags *w)
{
	for (size_t i = 0; i < obs->n_warnings; i++)
		free(obs->warnings[i]);
	free(obs->warnings);
	obs->warnings = w->n ? xcalloc(w->n, sizeof(*obs->warnings)) : NULL;
	obs->n_warnings = 0;
	for (size_t i = 0; i < w->n; i++) {
		bool seen = false;

		for (size_t j = 0; j < obs->n_warnings && !seen; j++)
			seen = strcmp(obs->warnings[j], w->v[i].msg) == 0;
		if (seen)
			continue;
		obs->warnings[obs->n_warnings++] = w->v[i].msg;
		w->v[i].msg = NULL;
	}
	pt_diags_done(w);
}

int
pt_observe_libvirt(const struct pt_host *h, const struct pt_config *cfg, struct pt_observed *obs,
		   char **reterr)
{
	virConnectPtr conn;
	virDomainPtr *vds = NULL;
	struct pt_domain *doms;
	struct pt_diags warnings = PT_DIAGS_INIT;
	int n, r = 0;

	if ((r = pt_virt_load(reterr)) < 0)
		return r;
	/* We report errors ourselves, once: silence the libxml2 libvirt uses in-process too. */
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, quiet_xml);
	conn = pt_virt.virConnectOpenReadOnly(h->libvirt_uri);
	if (!conn) {
		char *m = last_error();

		*reterr = xasprintf("cannot connect to libvirt at '%s': %s", h->libvirt_uri, m);
		free(m);
		return -ECONNREFUSED;
	}
	n = pt_virt.virConnectListAllDomains(conn, &vds, 0);
	if (n < 0) {
		char *m = last_error();

		*reterr = xasprintf("cannot list the domains of '%s': %s", h->libvirt_uri, m);
		free(m);
		pt_virt.virConnectClose(conn);
		return -EIO;
	}
	doms = xcalloc((size_t)n, sizeof(*doms));
	for (int i = 0; i < n && r == 0; i++)
		r = observe_domain(vds[i], cfg, &doms[i], &warnings, reterr);
	for (int i = 0; i < n; i++)
		pt_virt.virDomainFree(vds[i]);
	free(vds);
	pt_virt.virConnectClose(conn);
	if (r < 0) {
		for (int i = 0; i < n; i++)
			pt_domain_done(&doms[i]);
		free(doms);
		pt_diags_done(&warnings);
		return r;
	}
	for (size_t i = 0; i < obs->n_doms; i++)
		pt_domain_done(&obs->doms[i]);
	free(obs->doms);
	obs->doms = doms;
	obs->n_doms = (size_t)n;
	set_warnings(obs, &warnings);
	obs->have_domains = true;
	pt_observed_sort(obs);
	return 0;
}

/* How vm names vd (pt_vm_match); *running is set when it runs (not paused). */
static enum pt_vm_match
names(virDomainPtr vd, const char *vm, bool *running)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	char *title = pt_virt.virDomainGetMetadata(vd, VIR_DOMAIN_METADATA_TITLE, NULL, VIR_DOMAIN_AFFECT_LIVE);
	int state = -1, reason;
	enum pt_vm_match m;

	if (pt_virt.virDomainGetUUIDString(vd, uuid) < 0)
		uuid[0] = '\0';
	m = pt_vm_match(vm, pt_virt.virDomainGetName(vd), uuid, title);
	free(title);
	*running = m != PT_VM_NO && pt_virt.virDomainGetState(vd, &state, &reason, 0) == 0 &&
		   state == VIR_DOMAIN_RUNNING;
	return m;
}

int
pt_wait_domain_running(const struct pt_host *h, const char *vm, unsigned timeout_ms, char **reterr)
{
	virConnectPtr conn;
	int r;

	if ((r = pt_virt_load(reterr)) < 0)
		return r;
	conn = pt_virt.virConnectOpenReadOnly(h->libvirt_uri);
	if (!conn) {
		char *m = last_error();

		*reterr = xasprintf("cannot connect to libvirt at '%s': %s", h->libvirt_uri, m);
		free(m);
		return -ECONNREFUSED;
	}
	for (unsigned waited = 0;; waited += 100) {
		virDomainPtr *vds = NULL;
		int n = pt_virt.virConnectListAllDomains(conn, &vds, 0);
		bool running = false;
		int matched = 0;

		for (int i = 0; i < n; i++) {
			bool r1 = false;

			matched += names(vds[i], vm, &r1) != PT_VM_NO;
			running = running || r1;
			pt_virt.virDomainFree(vds[i]);
		}
		free(vds);
		if (matched > 1) {
			pt_virt.virConnectClose(conn);
			*reterr = xasprintf("vm '%s' matches %d domains (by name, UUID or title); name it by UUID",
					    vm, matched);
			return -EINVAL;
		}
		if (running || waited >= timeout_ms) {
			pt_virt.virConnectClose(conn);
			if (running)
				return 0;
			*reterr = xasprintf("domain '%s' is not running after %u s", vm, timeout_ms / 1000);
			return -ETIMEDOUT;
		}
		nanosleep(&(struct timespec){ 0, 100 * 1000000L }, NULL);
	}
}

int
pt_libvirt_version(const struct pt_host *h, char **version, char **reterr)
{
	unsigned long v = 0;
	virConnectPtr conn;
	int r;

	if ((r = pt_virt_load(reterr)) < 0)
		return r;
	conn = pt_virt.virConnectOpenReadOnly(h->libvirt_uri);
	if (!conn || pt_virt.virConnectGetLibVersion(conn, &v) < 0) {
		char *m = last_error();

		*reterr = xasprintf("cannot %s libvirt at '%s': %s", conn ? "ask" : "connect to", h->libvirt_uri, m);
		free(m);
		if (conn)
			pt_virt.virConnectClose(conn);
		return -ECONNREFUSED;
	}
	pt_virt.virConnectClose(conn);
	*version = xasprintf("%lu.%lu.%lu", v / 1000000, v / 1000 % 1000, v % 1000);
	return 0;
}
