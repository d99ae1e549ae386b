/* observed.c: what the host has (PCI devices, IOMMU groups, libvirt domains), as plain data. */
#include "model/observed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/xalloc.h"

const struct pt_pcidev *
pt_observed_dev(const struct pt_observed *obs, const struct pt_pciaddr *addr)
{
	size_t lo = 0, hi = obs->n_devs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = pt_pciaddr_cmp(&obs->devs[mid].addr, addr);

		if (c == 0)
			return &obs->devs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool
pt_pcidev_is_bridge(const struct pt_pcidev *d)
{
	return d->header_type == 1 || d->header_type == 2;
}

bool
pt_domain_has_hostdev(const struct pt_domain *dom, const struct pt_pciaddr *addr, bool config)
{
	const struct pt_hostdev *v = config ? dom->config : dom->live;
	size_t n = config ? dom->n_config : dom->n_live;

	for (size_t i = 0; i < n; i++)
		if (pt_pciaddr_cmp(&v[i].addr, addr) == 0)
			return true;
	return false;
}

static int
dev_cmp(const void *a, const void *b)
{
	return pt_pciaddr_cmp(&((const struct pt_pcidev *)a)->addr, &((const struct pt_pcidev *)b)->addr);
}

static int
dom_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pt_domain *)a)->name, ((const struct pt_domain *)b)->name);
}

void
pt_observed_sort(struct pt_observed *obs)
{
	if (obs->n_devs)
		qsort(obs->devs, obs->n_devs, sizeof(*obs->devs), dev_cmp);
	if (obs->n_doms)
		qsort(obs->doms, obs->n_doms, sizeof(*obs->doms), dom_cmp);
}

void
pt_pcidev_done(struct pt_pcidev *d)
{
	if (!d)
		return;
	free(d->pool_entry);
	free(d->driver);
	free(d->driver_override);
	free(d->host_use_why);
	free(d->power_state);
	free(d->power_control);
	free(d->reset_methods);
	memset(d, 0, sizeof(*d));
}

void
pt_domain_done(struct pt_domain *dom)
{
	if (!dom)
		return;
	free(dom->name);
	free(dom->uuid);
	free(dom->title);
	free(dom->live);
	free(dom->config);
	free(dom->usb_live);
	free(dom->usb_config);
	memset(dom, 0, sizeof(*dom));
}

void
pt_usbdev_done(struct pt_usbdev *d)
{
	if (!d)
		return;
	free(d->port);
	free(d->serial);
	free(d->product_name);
	free(d->host_use_why);
	memset(d, 0, sizeof(*d));
}

void
pt_observed_done(struct pt_observed *obs)
{
	if (!obs)
		return;
	for (size_t i = 0; i < obs->n_devs; i++)
		pt_pcidev_done(&obs->devs[i]);
	for (size_t i = 0; i < obs->n_usbdevs; i++)
		pt_usbdev_done(&obs->usbdevs[i]);
	free(obs->usbdevs);
	for (size_t i = 0; i < obs->n_doms; i++)
		pt_domain_done(&obs->doms[i]);
	for (size_t i = 0; i < obs->n_warnings; i++)
		free(obs->warnings[i]);
	free(obs->devs);
	free(obs->doms);
	free(obs->warnings);
	memset(obs, 0, sizeof(*obs));
}

enum pt_vm_match
pt_vm_match(const char *vm, const char *name, const char *uuid, const char *title)
{
	if (name && strcmp(vm, name) == 0)
		return PT_VM_BY_NAME;
	if (uuid && uuid[0] && strcasecmp(vm, uuid) == 0)
		return PT_VM_BY_UUID;
	if (title && strcmp(vm, title) == 0)
		return PT_VM_BY_TITLE;
	return PT_VM_NO;
}

const struct pt_domain *
pt_find_domain(const struct pt_observed *obs, const char *vm, char **reterr)
{
	const struct pt_domain *found = NULL;
	const char *found_by = NULL;

	for (size_t i = 0; i < obs->n_doms; i++) {
		const struct pt_domain *dom = &obs->doms[i];
		static const char *const how[] = { [PT_VM_BY_NAME] = "name", [PT_VM_BY_UUID] = "UUID",
						   [PT_VM_BY_TITLE] = "title" };
		enum pt_vm_match m = pt_vm_match(vm, dom->name, dom->uuid, dom->title);
		const char *by = how[m];

		if (m == PT_VM_NO)
			continue;
		if (found) {
			*reterr = xasprintf("vm '%s' matches two domains: '%s' (by %s) and '%s' (by %s); "
					    "name it by UUID", vm, found->name, found_by, dom->name, by);
			return NULL;
		}
		found = dom;
		found_by = by;
	}
	if (!found) {
		char list[512] = "";

		for (size_t i = 0; i < obs->n_doms && i < 8; i++) {
			char item[128];

			snprintf(item, sizeof(item), "%s'%s'", i ? ", " : "", obs->doms[i].title ? obs->doms[i].title : obs->doms[i].name);
			strncat(list, item, sizeof(list) - strlen(list) - 1);
		}
		if (obs->n_doms > 8)
			strncat(list, ", ...", sizeof(list) - strlen(list) - 1);
		*reterr = xasprintf("no domain has the name, UUID or title '%s' (domains: %s)", vm,
				    obs->n_doms ? list : "none");
	}
	return found;
}

