/* cmd_devices.c: `passthrough devices`: every PCI device with driver, IOMMU group, host use and claim. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/json.h"
#include "cmd/render.h"
#include "model/xalloc.h"
#include "reconcile/config_file.h"
#include "reconcile/observe_libvirt.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/plan.h"

/* The other members of d's IOMMU group, "0000:00:1f.2, 0000:00:1f.3", or "" (caller frees). */
static void print_usb_text(const struct pt_observed *obs, const struct pt_config *cfg);

static char *
group_members(const struct pt_observed *obs, const struct pt_pcidev *d)
{
	char *s = xstrdup("");

	for (size_t i = 0; d->iommu_group >= 0 && i < obs->n_devs; i++) {
		const struct pt_pcidev *m = &obs->devs[i];
		char a[PT_PCIADDR_BUFSZ];
		char *t;

		if (m == d || m->iommu_group != d->iommu_group)
			continue;
		t = xasprintf("%s%s%s", s, s[0] ? ", " : "", pt_pciaddr_format(&m->addr, a));
		free(s);
		s = t;
	}
	return s;
}

static void
print_text(const struct pt_observed *obs, const struct pt_config *cfg, const struct pt_assignment *asg)
{
	for (size_t i = 0; i < obs->n_devs; i++) {
		const struct pt_pcidev *d = &obs->devs[i];
		const struct pt_slot *slot = pt_assignment_claim(asg, d);
		const struct pt_device *claim = slot ? slot->entry : NULL;
		char a[PT_PCIADDR_BUFSZ];
		char *name = pt_render_name(d), *cls = pt_pci_class_name(d->class_code);
		char *members = group_members(obs, d), *power = pt_render_power(d);

		printf("%s %s [%04x]: %s [%04x:%04x]\n", pt_pciaddr_format(&d->addr, a), cls ? cls : "Class",
		       d->class_code >> 8, name, d->vendor, d->device);
		printf("    subsystem %04x:%04x, driver %s", d->subsystem_vendor, d->subsystem_device,
		       d->driver ? d->driver : "(none)");
		if (d->driver_override)
			printf(" (driver_override %s)", d->driver_override);
		if (d->iommu_group < 0)
			printf(", no IOMMU group\n");
		else
			printf(", IOMMU group %d%s%s\n", d->iommu_group, members[0] ? " with " : " (alone)", members);
		printf("    power %s, reset %s\n", power, pt_render_reset(d));
		if (pt_pcidev_is_bridge(d))
			printf("    bridge: exempt from the group rule, never passed through\n");
		if (d->host_use)
			printf("    host-critical: %s\n", d->host_use_why);
		if (cfg && claim && claim->pool >= 0) {
			char *pool = pt_match_describe(&cfg->pools[claim->pool].match);

			printf("    claimed by '%s' (%s%s%s), pool %s: %s\n", slot->name, pt_state_name(claim->state),
			       claim->vm ? " to " : "", claim->vm ? claim->vm : "", pool, slot->why);
			free(pool);
		} else if (claim) {
			printf("    claimed by '%s' (%s%s%s)\n", claim->name, pt_state_name(claim->state),
			       claim->vm ? " to " : "", claim->vm ? claim->vm : "");
		}
		free(members);
		free(power);
		free(name);
		free(cls);
	}
	if (!obs->iommu)
		printf("note: no IOMMU groups: the IOMMU is off, so nothing can be passed through\n");
	print_usb_text(obs, cfg);
}

/* The entries that select USB device u, "'coral' (attached -> frigate_VM)", ", "-joined; NULL when none. */
static char *
usb_claims(const struct pt_config *cfg, const struct pt_usbdev *u)
{
	char *s = NULL;

	for (size_t i = 0; cfg && i < cfg->n_devices; i++) {
		const struct pt_device *e = &cfg->devices[i];
		char *t;

		if (!e->has_usb || !pt_usb_selects(&e->usb, u->vendor, u->product, u->port, u->serial))
			continue;
		t = xasprintf("%s%s'%s' (%s%s%s)", s ? s : "", s ? ", " : "", e->name, pt_state_name(e->state),
			      e->vm ? " -> " : "", e->vm ? e->vm : "");
		free(s);
		s = t;
	}
	return s;
}

/* The USB section: after the PCI devices, only when the host has USB devices. */
static void
print_usb_text(const struct pt_observed *obs, const struct pt_config *cfg)
{
	if (obs->n_usbdevs)
		printf("\nUSB devices (usb: in the file; by port path, as sysfs names them):\n");
	for (size_t i = 0; i < obs->n_usbdevs; i++) {
		const struct pt_usbdev *u = &obs->usbdevs[i];
		char *claims = usb_claims(cfg, u);

		printf("%s bus %u device %u: %s [%04x:%04x]", u->port, u->busnum, u->devnum,
		       u->product_name ? u->product_name : "(no product name)", u->vendor, u->product);
		if (u->serial)
			printf(", serial %s", u->serial);
		printf("\n");
		if (u->hub)
			printf("    hub: its devices are the host's; taken only with force: true\n");
		if (u->storage)
			printf("    mass storage%s%s\n", u->host_use_why ? ", host-critical: " : "",
			       u->host_use_why ? u->host_use_why : "");
		if (claims)
			printf("    claimed by %s\n", claims);
		free(claims);
	}
}

static void
print_usb_json(const struct pt_observed *obs, const struct pt_config *cfg)
{
	printf(",\"usb_devices\":[");
	for (size_t i = 0; i < obs->n_usbdevs; i++) {
		const struct pt_usbdev *u = &obs->usbdevs[i];
		bool first = true;

		printf("%s{\"port\":", i ? "," : "");
		pt_json_string(stdout, u->port);
		printf(",\"bus\":%u,\"device\":%u,\"vendor\":\"%04x\",\"product\":\"%04x\",\"serial\":", u->busnum,
		       u->devnum, u->vendor, u->product);
		pt_json_string(stdout, u->serial);
		printf(",\"product_name\":");
		pt_json_string(stdout, u->product_name);
		printf(",\"class\":\"%02x\",\"hub\":%s,\"mass_storage\":%s,\"host_use\":", u->dev_class,
		       u->hub ? "true" : "false", u->storage ? "true" : "false");
		pt_json_string(stdout, u->host_use_why);
		printf(",\"claimed_by\":[");
		for (size_t j = 0; cfg && j < cfg->n_devices; j++) {
			const struct pt_device *e = &cfg->devices[j];

			if (!e->has_usb || !pt_usb_selects(&e->usb, u->vendor, u->product, u->port, u->serial))
				continue;
			printf("%s", first ? "" : ",");
			pt_json_string(stdout, e->name);
			first = false;
		}
		printf("]}");
	}
	printf("]");
}

static void
print_json(const struct pt_observed *obs, const struct pt_config *cfg, const struct pt_assignment *asg)
{
	printf("{\"iommu\":%s,\"vfio_pci_loaded\":%s,\"devices\":[", obs->iommu ? "true" : "false",
	       obs->vfio_pci_loaded ? "true" : "false");
	for (size_t i = 0; i < obs->n_devs; i++) {
		const struct pt_pcidev *d = &obs->devs[i];
		const struct pt_slot *slot = pt_assignment_claim(asg, d);
		char a[PT_PCIADDR_BUFSZ];
		char *name = pt_pci_name(d->vendor, d->device), *cls = pt_pci_class_name(d->class_code);
		char *pool = cfg && slot && slot->entry->pool >= 0 ? pt_match_describe(&cfg->pools[slot->entry->pool].match) : NULL;
		bool first = true;

		printf("%s{\"address\":\"%s\",\"vendor\":\"0x%04x\",\"device\":\"0x%04x\","
		       "\"subsystem_vendor\":\"0x%04x\",\"subsystem_device\":\"0x%04x\",\"class\":\"0x%06x\",\"name\":",
		       i ? "," : "", pt_pciaddr_format(&d->addr, a), d->vendor, d->device, d->subsystem_vendor,
		       d->subsystem_device, d->class_code);
		pt_json_string(stdout, name);
		printf(",\"class_name\":");
		pt_json_string(stdout, cls);
		printf(",\"driver\":");
		pt_json_string(stdout, d->driver);
		printf(",\"driver_override\":");
		pt_json_string(stdout, d->driver_override);
		if (d->iommu_group < 0)
			printf(",\"iommu_group\":null");
		else
			printf(",\"iommu_group\":%d", d->iommu_group);
		printf(",\"group_members\":[");
		for (size_t j = 0; d->iommu_group >= 0 && j < obs->n_devs; j++) {
			if (&obs->devs[j] == d || obs->devs[j].iommu_group != d->iommu_group)
				continue;
			printf("%s\"%s\"", first ? "" : ",", pt_pciaddr_format(&obs->devs[j].addr, a));
			first = false;
		}
		printf("],\"bridge\":%s,\"host_critical\":%s,\"host_use\":", pt_pcidev_is_bridge(d) ? "true" : "false",
		       d->host_use ? "true" : "false");
		pt_json_string(stdout, d->host_use_why);
		printf(",\"claimed_by\":");
		pt_json_string(stdout, slot ? slot->name : NULL);
		printf(",\"entry\":");
		pt_json_string(stdout, slot ? slot->entry->name : NULL);
		printf(",\"pool\":");
		pt_json_string(stdout, pool);
		printf(",\"assigned_why\":");
		pt_json_string(stdout, slot ? slot->why : NULL);
		pt_json_power(stdout, d);
		printf("}");
		free(pool);
		free(name);
		free(cls);
	}
	printf("]");
	print_usb_json(obs, cfg);
	printf("}\n");
}

static int
devices_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct pt_diags diags = PT_DIAGS_INIT;
	struct pt_config cfg;
	struct pt_observed obs = { 0 };
	struct pt_assignment asg = { NULL, 0 };
	bool have_cfg = false;
	char *err = NULL;
	int r, status = PT_EXIT_OK;

	(void)argc;
	(void)argv;
	/* The file is optional here: this is what people run to write their first one. */
	if (access(ctx->config_path, F_OK) == 0 || errno != ENOENT) {
		r = pt_config_file_load(ctx->config_path, geteuid(), &cfg, &diags);
		if (r < 0) {
			pt_print_diags(&diags);
			fprintf(stderr, "passthrough: listing devices without the claims of '%s'\n", ctx->config_path);
			status = PT_EXIT_FAIL;
		} else {
			have_cfg = true;
		}
	}
	pt_diags_done(&diags);
	if (pt_observe_sysfs(&ctx->host, &obs, &err) < 0) {
		fprintf(stderr, "passthrough: %s\n", err);
		free(err);
		if (have_cfg)
			pt_config_done(&cfg);
		return PT_EXIT_FAIL;
	}
	pt_observe_power(&ctx->host, &obs, NULL);
	/* a pool's devices go to its members by what their VMs hold: ask libvirt, if it answers */
	if (have_cfg && cfg.n_pools && pt_observe_libvirt(&ctx->host, &cfg, &obs, &err) < 0) {
		fprintf(stderr, "passthrough: the pools are shared out without knowing what the VMs hold: %s\n", err);
		free(err);
		err = NULL;
	}
	if (have_cfg)
		pt_assign(&cfg, &obs, &asg);
	if (ctx->json)
		print_json(&obs, have_cfg ? &cfg : NULL, &asg);
	else if (!ctx->quiet)
		print_text(&obs, have_cfg ? &cfg : NULL, &asg);
	pt_assignment_done(&asg);
	pt_observed_done(&obs);
	if (have_cfg)
		pt_config_done(&cfg);
	pt_pci_names_done();
	return status;
}

const struct pt_cmd pt_cmd_devices = {
	.name = "devices",
	.summary = "list PCI and USB devices with drivers, IOMMU groups and host use",
	.usage = "[-c FILE] [--json]",
	.help =
	"Lists every PCI device: address, class, name and ids, subsystem ids, driver and\n"
	"driver_override, IOMMU group and the other members of that group, whether the host\n"
	"depends on it (host-critical, and why), which entry of the file claims it, and its\n"
	"power and reset: power_state (unknown before Linux 5.10), power/control and\n"
	"d3cold_allowed, and the reset methods the kernel has for it (reset_method, 5.15 and\n"
	"later; else whether it has a reset at all; \"none\": a VM gets the device in whatever\n"
	"state the last one left it). Nothing here wakes a device up. The file is optional\n"
	"here; this is what to run before writing one.\n"
	"\n"
	"Then, in a section of their own (after the PCI devices, so that the one command shows\n"
	"everything a file can name, and a USB Coral is not hidden behind a flag), the USB\n"
	"devices: port path (what `usb: { port: }` takes), bus and device number, product name,\n"
	"ids and serial, hubs and mass storage (and a mounted filesystem on it), and the entries\n"
	"that claim each. --json lists them as \"usb_devices\".\n"
	"\n"
	"Exit status: 0 success, 1 the devices cannot be read or the file is invalid,\n"
	"64 usage error.\n",
	.options = NULL,
	.min_args = 0,
	.max_args = 0,
	.run = devices_run,
};
