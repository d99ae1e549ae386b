/* t_plan.c: table-driven tests of the planner: desired (YAML) x observed (recorded trees + domains) -> plan text. */
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
#include "reconcile/domxml.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/plan.h"

#define FRIGATE "5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f"
/* The live <devices> of nvr on the vmd tree: the SSD behind the VMD, as libvirt writes it. */
#define NVR_HOLDS_VMD_SSD "<hostdev mode='subsystem' type='pci' managed='no'><source>" \
			  "<address domain='0x10000' bus='0xe1' slot='0x00' function='0x0'/>" \
			  "</source></hostdev>"

struct dom_spec {
	const char *name, *uuid, *title;
	bool running;
	const char *live[3];     /* hostdev addresses in the live XML */
	const char *live_xml;    /* or its <devices>, read as the observer reads libvirt's XML */
	bool have_config;
	const char *config[3];
};

struct plan_case {
	const char *name;
	const char *fixture;     /* tests/fixtures/sysfs/<fixture> */
	const char *top;         /* top-level keys before devices: (vfio_pci), or NULL */
	const char *yaml;        /* the devices: part */
	struct dom_spec doms[3];
	bool no_libvirt;
	void (*mutate)(struct pt_observed *obs);
	const char *only_vm;
	const char *want;        /* the plan as text, see render() */
};

static void
add_addrs(const char *const *src, struct pt_hostdev **v, size_t *n)
{
	for (size_t i = 0; i < 3 && src[i]; i++) {
		const char *why;

		*v = realloc(*v, (*n + 1) * sizeof(**v));
		assert_non_null(*v);
		memset(&(*v)[*n], 0, sizeof(**v));
		assert_int_equal(pt_pciaddr_parse(src[i], &(*v)[*n].addr, &why), 0);
		(*n)++;
	}
}

/* The devices of s->live_xml into d->live, its warnings into obs, as pt_observe_libvirt does. */
static void
read_live_xml(const struct dom_spec *s, struct pt_domain *d, struct pt_observed *obs)
{
	char *xml = xasprintf("<domain><name>%s</name><devices>%s</devices></domain>", s->name, s->live_xml);
	struct pt_diags w = PT_DIAGS_INIT;
	char *title = NULL, *err = NULL;

	if (pt_domxml_parse_all(xml, strlen(xml), &title, &d->live, &d->n_live, &d->usb_live, &d->n_usb_live, &w, &err) < 0)
		fail_msg("domain '%s': %s", s->name, err);
	for (size_t i = 0; i < w.n; i++) {
		obs->warnings = realloc(obs->warnings, (obs->n_warnings + 1) * sizeof(*obs->warnings));
		assert_non_null(obs->warnings);
		obs->warnings[obs->n_warnings++] = xstrdup(w.v[i].msg);
	}
	pt_diags_done(&w);
	free(title);
	free(xml);
}

static void
observe(const struct plan_case *c, struct pt_observed *obs)
{
	char *sys = xasprintf("tests/fixtures/sysfs/%s", c->fixture);
	char *proc = xasprintf("tests/fixtures/proc/%s", c->fixture);
	struct pt_host h = { sys, proc, NULL, NULL, NULL };
	char *err = NULL;

	memset(obs, 0, sizeof(*obs));
	if (pt_observe_sysfs(&h, obs, &err) < 0)
		fail_msg("observing %s: %s", sys, err);
	free(sys);
	free(proc);
	obs->have_domains = !c->no_libvirt;
	for (size_t i = 0; i < 3 && c->doms[i].name; i++) {
		const struct dom_spec *s = &c->doms[i];
		struct pt_domain *d;

		obs->doms = realloc(obs->doms, (obs->n_doms + 1) * sizeof(*obs->doms));
		assert_non_null(obs->doms);
		d = &obs->doms[obs->n_doms++];
		memset(d, 0, sizeof(*d));
		d->name = xstrdup(s->name);
		d->uuid = xstrdup(s->uuid ? s->uuid : "00000000-0000-0000-0000-000000000000");
		d->title = s->title ? xstrdup(s->title) : NULL;
		d->state = s->running ? PT_DOMAIN_RUNNING : PT_DOMAIN_STOPPED;
		add_addrs(s->live, &d->live, &d->n_live);
		if (s->live_xml)
			read_live_xml(s, d, obs);
		d->have_config = s->have_config;
		add_addrs(s->config, &d->config, &d->n_config);
	}
	pt_observed_sort(obs);
	if (c->mutate)
		c->mutate(obs);
}

/* One line per warning of the observation, step ("kind device address from -> to
 * [live,config,member]"), error, note. */
static char *
render(const struct pt_observed *obs, const struct pt_plan *p)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < obs->n_warnings; i++) {
		char *t = xasprintf("%swarning: %s\n", s, obs->warnings[i]);

		free(s);
		s = t;
	}

	for (size_t i = 0; i < p->n_steps; i++) {
		const struct pt_step *st = &p->steps[i];
		unsigned shown = st->flags & (PT_STEP_LIVE | PT_STEP_CONFIG | PT_STEP_MEMBER);
		char a[PT_PCIADDR_BUFSZ];
		char *t = xasprintf("%s%s %s %s %s -> %s%s%s%s%s\n", s, pt_step_kind_name(st->kind),
				    st->device ? st->device : "-",
				    st->usb_label ? st->usb_label : st->device ? pt_pciaddr_format(&st->addr, a) : "-",
				    st->from ? st->from : "(none)", st->to ? st->to : "(none)",
				    shown ? " [" : "", st->flags & PT_STEP_LIVE ? "live" : "",
				    st->flags & PT_STEP_CONFIG ? (st->flags & PT_STEP_LIVE ? ",config" : "config") : "",
				    st->flags & PT_STEP_MEMBER ? "member]" : (shown ? "]" : ""));

		free(s);
		s = t;
		if (st->arg || (st->flags & (PT_STEP_RECOVER | PT_STEP_UNPIN))) {
			s[strlen(s) - 1] = '\0';
			t = xasprintf("%s%s%s%s%s\n", s, st->arg ? " arg=" : "", st->arg ? st->arg : "",
				      st->flags & PT_STEP_RECOVER ? " +recover" : "", st->flags & PT_STEP_UNPIN ? " +unpin" : "");
			free(s);
			s = t;
		}
	}
	for (size_t i = 0; i < p->n_problems; i++) {
		char *t = xasprintf("%serror: %s\n", s, p->problems[i].message);

		free(s);
		s = t;
	}
	for (size_t i = 0; i < p->n_notes; i++) {
		char *t = xasprintf("%snote: %s\n", s, p->notes[i]);

		free(s);
		s = t;
	}
	return s;
}

/* The hook's release for vm1: it sees vm1 alone, and 01:00.0 is on vfio-pci, which a VM it
 * cannot see may hold (attached by hand). */
static void
mutate_hook_release_unseen_vm(struct pt_observed *obs)
{
	for (size_t i = 0; i < obs->n_devs; i++) {
		struct pt_pcidev *d = &obs->devs[i];

		if (d->addr.bus == 1 && d->addr.slot == 0) {
			free(d->driver);
			free(d->driver_override);
			d->driver = xstrdup("vfio-pci");
			d->driver_override = NULL;
		}
	}
	obs->vfio_pci_loaded = true;
	obs->domains_from_hook = true;
	obs->just_stopped = true;
}

#define POOL_AB "  a: { match: { vendor: 8086, device: 10d3 }, vm: vm1 }\n" \
		"  b: { match: { vendor: 8086, device: 10d3 }, vm: vm2 }\n"

/* 00:02.0 on vfio-pci, bound there for pool entry b by an earlier apply (the journal's pool line). */
static void
mutate_bound_for_b(struct pt_observed *obs)
{
	for (size_t i = 0; i < obs->n_devs; i++) {
		struct pt_pcidev *d = &obs->devs[i];

		if (d->addr.bus == 0 && d->addr.slot == 2) {
			free(d->driver);
			free(d->driver_override);
			d->driver = xstrdup("vfio-pci");
			d->driver_override = xstrdup("vfio-pci");
			d->pool_entry = xstrdup("b");
		}
	}
	obs->vfio_pci_loaded = true;
}

static void
mutate_vfio_unloaded(struct pt_observed *obs)
{
	obs->vfio_pci_loaded = false;
}

static void
mutate_no_iommu(struct pt_observed *obs)
{
	for (size_t i = 0; i < obs->n_devs; i++)
		obs->devs[i].iommu_group = -1;
	obs->iommu = false;
}

static void
mutate_nic_in_use(struct pt_observed *obs)
{
	struct pt_pciaddr a = { 0, 0, 3, 0 };
	struct pt_pcidev *d = (struct pt_pcidev *)pt_observed_dev(obs, &a);

	d->host_use = PT_USE_NET;
	d->host_use_why = xstrdup("network interface 'ens3' has an address");
}

/* 06.0, 06.1 and 06.2 on vfio-pci (the e1000e-vfio tree has only 02.0 there). */
static void
mutate_group5_on_vfio(struct pt_observed *obs)
{
	for (unsigned f = 0; f < 3; f++) {
		struct pt_pciaddr a = { 0, 0, 6, f };
		struct pt_pcidev *d = (struct pt_pcidev *)pt_observed_dev(obs, &a);

		free(d->driver);
		free(d->driver_override);
		d->driver = xstrdup("vfio-pci");
		d->driver_override = xstrdup("vfio-pci");
	}
}

/* 06.2 gets a bridge's class but keeps its normal header: it is no bridge. */
static void
mutate_class_not_bridge(struct pt_observed *obs)
{
	struct pt_pciaddr a = { 0, 0, 6, 2 };
	struct pt_pcidev *d = (struct pt_pcidev *)pt_observed_dev(obs, &a);

	d->class_code = 0x068000;
}

/*
 * 01:00.0 joins group 4, its root port's (00:05.0, a bridge on pcieport): a port without ACS
 * shares its group with the device behind it, as a GPU's often does.
 */
static void
mutate_bridge_shares_group(struct pt_observed *obs)
{
	struct pt_pciaddr a = { 0, 1, 0, 0 };
	struct pt_pcidev *d = (struct pt_pcidev *)pt_observed_dev(obs, &a);

	d->iommu_group = 4;
}

/* 00:04.0 held by pci-stub through an override. */
static void
mutate_pci_stub(struct pt_observed *obs)
{
	struct pt_pciaddr a = { 0, 0, 4, 0 };
	struct pt_pcidev *d = (struct pt_pcidev *)pt_observed_dev(obs, &a);

	d->driver = xstrdup("pci-stub");
	d->driver_override = xstrdup("pci-stub");
}

/* The journal says a probe gave 00:04.0 back to no host driver, with the drivers loaded now. */
static void
mutate_edu_unclaimed(struct pt_observed *obs)
{
	struct pt_pciaddr a = { 0, 0, 4, 0 };

	((struct pt_pcidev *)pt_observed_dev(obs, &a))->unclaimed = true;
}


static struct pt_pcidev *
dev_at(struct pt_observed *obs, unsigned slot)
{
	struct pt_pciaddr a = { 0, 0, slot, 0 };

	return (struct pt_pcidev *)pt_observed_dev(obs, &a);
}

static void
set_str(char **field, const char *v)
{
	free(*field);
	*field = v ? xstrdup(v) : NULL;
}

/* 00:02.0 has a reset (the e1000e's pm), and the others say nothing. */
static void
mutate_tpu_resettable(struct pt_observed *obs)
{
	dev_at(obs, 2)->has_reset = PT_TRI_YES;
}

/* 00:02.0 has none: no `reset` attribute. */
static void
mutate_tpu_no_reset(struct pt_observed *obs)
{
	dev_at(obs, 2)->has_reset = PT_TRI_NO;
}

/* 00:02.0 on vfio-pci as vfio leaves it: power/control auto, d3cold_allowed 1. */
static void
mutate_tpu_power_auto(struct pt_observed *obs)
{
	set_str(&dev_at(obs, 2)->power_control, "auto");
	dev_at(obs, 2)->d3cold_allowed = PT_TRI_YES;
}

/* 00:02.0 pinned by apply: on, 0, and the journal has auto and 1. */
static void
mutate_tpu_pinned(struct pt_observed *obs)
{
	struct pt_pcidev *d = dev_at(obs, 2);

	set_str(&d->power_control, "on");
	d->d3cold_allowed = PT_TRI_NO;
	d->power_saved = (struct pt_power_saved){ .set = true, .control = "auto", .d3cold_allowed = PT_TRI_YES };
}

/* 00:02.0's config space reads all ones (doctor looked). */
static void
mutate_tpu_dead(struct pt_observed *obs)
{
	dev_at(obs, 2)->answers = PT_TRI_NO;
}

/* 00:02.0 does not answer, and the journal says recover: rescan did not bring it back. */
static void
mutate_tpu_gave_up(struct pt_observed *obs)
{
	dev_at(obs, 2)->answers = PT_TRI_NO;
	dev_at(obs, 2)->recover_failed = true;
}

/* vfio-pci loaded with disable_idle_d3 N, as apply's journal says; nothing holds it. */
static void
mutate_vfio_idle_d3_off(struct pt_observed *obs)
{
	obs->vfio_idle_d3 = PT_TRI_NO;
	obs->vfio_refcnt = 0;
}

/* The same, with 00:03.0 on vfio-pci too, bound by something else (no override). */
static void
mutate_vfio_idle_d3_off_foreign(struct pt_observed *obs)
{
	mutate_vfio_idle_d3_off(obs);
	set_str(&dev_at(obs, 3)->driver, "vfio-pci");
}

/* The hook's release: its one domain just stopped. */
static void
mutate_hook_stopped(struct pt_observed *obs)
{
	obs->domains_from_hook = true;
	obs->just_stopped = true;
}

/* 00:02.0 on no driver with its override cleared: a release killed before its probe. */
static void
mutate_tpu_driverless(struct pt_observed *obs)
{
	struct pt_pciaddr a = { 0, 0, 2, 0 };
	struct pt_pcidev *d = (struct pt_pcidev *)pt_observed_dev(obs, &a);

	free(d->driver);
	free(d->driver_override);
	d->driver = NULL;
	d->driver_override = NULL;
}

/*
 * USB devices as a real Linux /sys/bus/usb shows them (values copied from one; no recorded
 * fixture yet): the xHCI root hub usb2, a hub on 2-1, a SanDisk stick on 2-1.4 (a partition
 * mounted), and the USB Coral on 2-1.3, before (1a6e:089a, device 4) or after (18d1:9302,
 * device 5: it re-enumerates once the guest loads its firmware) the id change.
 */
static void
add_usb(struct pt_observed *obs, const char *port, unsigned dev, uint16_t vendor, uint16_t product, bool hub,
	const char *used)
{
	struct pt_usbdev *u;

	obs->usbdevs = realloc(obs->usbdevs, (obs->n_usbdevs + 1) * sizeof(*obs->usbdevs));
	assert_non_null(obs->usbdevs);
	u = &obs->usbdevs[obs->n_usbdevs++];
	memset(u, 0, sizeof(*u));
	u->port = xstrdup(port);
	u->busnum = 2;
	u->devnum = dev;
	u->vendor = vendor;
	u->product = product;
	u->hub = hub;
	u->storage = used != NULL;
	u->host_use_why = used ? xstrdup(used) : NULL;
}

static void
usb_common(struct pt_observed *obs)
{
	add_usb(obs, "usb2", 1, 0x1d6b, 0x0003, true, NULL);
	add_usb(obs, "2-1", 2, 0x05e3, 0x0626, true, NULL);
	add_usb(obs, "2-1.4", 3, 0x0781, 0x5583, false, "/dev/sdb1 is mounted on /mnt/stick");
}

static void
mutate_usb_coral_boot(struct pt_observed *obs)
{
	usb_common(obs);
	add_usb(obs, "2-1.3", 4, 0x1a6e, 0x089a, false, NULL);
}

static void
mutate_usb_coral_fw(struct pt_observed *obs)
{
	usb_common(obs);
	add_usb(obs, "2-1.3", 5, 0x18d1, 0x9302, false, NULL);
}

static void
mutate_usb_two_corals(struct pt_observed *obs)
{
	mutate_usb_coral_fw(obs);
	add_usb(obs, "2-1.5", 6, 0x18d1, 0x9302, false, NULL);
}

/* re-enumerated, and the persistent definition still names the old device number */
static void
mutate_usb_coral_fw_config(struct pt_observed *obs)
{
	struct pt_domain *d = &obs->doms[0];

	mutate_usb_coral_fw(obs);
	d->have_config = true;
	d->usb_config = calloc(1, sizeof(*d->usb_config));
	assert_non_null(d->usb_config);
	d->usb_config[0] = (struct pt_usbhostdev){ .has_addr = true, .bus = 2, .device = 4 };
	d->n_usb_config = 1;
}

#define USB_CORAL "  coral: { usb: { ids: [\"1a6e:089a\", \"18d1:9302\"], port: \"2-1.3\" }, vm: frigate_VM }\n"
#define USB_HOLDS(bus, dev) "<hostdev mode='subsystem' type='usb' managed='yes'><source><address bus='" #bus \
			    "' device='" #dev "'/></source></hostdev>"

static const struct plan_case cases[] = {
	{ .name = "usb: attach the present device by bus and device number",
	  .fixture = "default", .yaml = USB_CORAL, .mutate = mutate_usb_coral_boot,
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "attach coral usb 2-1.3 (bus 2 device 4) (none) -> frigate_VM [live]\n" },
	{ .name = "usb: converged",
	  .fixture = "default", .yaml = USB_CORAL, .mutate = mutate_usb_coral_boot,
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true,
		      .live_xml = USB_HOLDS(2, 4) } },
	  .want = "" },
	{ .name = "usb: re-enumerated (1a6e:089a is now 18d1:9302, device 5): the dead hostdev out, the new one in",
	  .fixture = "default", .yaml = USB_CORAL, .mutate = mutate_usb_coral_fw,
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true,
		      .live_xml = USB_HOLDS(2, 4) } },
	  .want = "detach coral usb bus 2 device 4 (gone) frigate_VM -> (none) [live]\n"
	          "attach coral usb 2-1.3 (bus 2 device 5) (none) -> frigate_VM [live]\n" },
	{ .name = "usb: persistent: the definition follows too",
	  .fixture = "default", .mutate = mutate_usb_coral_fw_config,
	  .yaml = "  coral: { usb: { ids: [\"1a6e:089a\", \"18d1:9302\"], port: \"2-1.3\" }, vm: frigate_VM, persistent: true }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true,
		      .live_xml = USB_HOLDS(2, 4) } },
	  .want = "detach coral usb bus 2 device 4 (gone) frigate_VM -> (none) [live]\n"
	          "detach coral usb bus 2 device 4 (gone) frigate_VM -> (none) [config]\n"
	          "attach coral usb 2-1.3 (bus 2 device 5) (none) -> frigate_VM [live]\n"
	          "attach coral usb 2-1.3 (bus 2 device 5) (none) -> frigate_VM [config]\n" },
	{ .name = "usb: VM stopped, persistent: only the definition",
	  .fixture = "default", .mutate = mutate_usb_coral_fw_config,
	  .yaml = "  coral: { usb: { ids: [\"18d1:9302\"] }, vm: frigate_VM, persistent: true }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM" } },
	  .want = "detach coral usb bus 2 device 4 (gone) frigate_VM -> (none) [config]\n"
	          "attach coral usb 2-1.3 (bus 2 device 5) (none) -> frigate_VM [config]\n" },
	{ .name = "usb: a hostdev by the old ids is dead too",
	  .fixture = "default", .yaml = USB_CORAL, .mutate = mutate_usb_coral_fw,
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true,
		      .live_xml = "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1a6e'/>"
				  "<product id='0x089a'/></source></hostdev>" } },
	  .want = "detach coral usb 1a6e:089a (gone) frigate_VM -> (none) [live]\n"
	          "attach coral usb 2-1.3 (bus 2 device 5) (none) -> frigate_VM [live]\n" },
	{ .name = "usb: a hostdev of another present device is left alone",
	  .fixture = "default", .yaml = USB_CORAL, .mutate = mutate_usb_coral_fw,
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true,
		      .live_xml = USB_HOLDS(2, 3) } },
	  .want = "attach coral usb 2-1.3 (bus 2 device 5) (none) -> frigate_VM [live]\n" },
	{ .name = "usb: two present devices match: an error",
	  .fixture = "default", .mutate = mutate_usb_two_corals,
	  .yaml = "  coral: { usb: { ids: [\"1a6e:089a\", \"18d1:9302\"] }, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "error: 'coral': 2 present USB devices are 1a6e:089a|18d1:9302 (2-1.3, 2-1.5): say which with "
		  "'port' or 'serial'\n" },
	{ .name = "usb: none present",
	  .fixture = "default", .yaml = USB_CORAL,
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "error: 'coral': no present USB device is 1a6e:089a|18d1:9302 port 2-1.3\n" },
	{ .name = "usb: a hub is refused without force",
	  .fixture = "default", .mutate = mutate_usb_coral_boot,
	  .yaml = "  hub: { usb: { port: \"2-1\" }, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "error: 'hub': usb 2-1 is a hub (its devices are the host's): not taken without force: true\n" },
	{ .name = "usb: a hub with force",
	  .fixture = "default", .mutate = mutate_usb_coral_boot,
	  .yaml = "  hub: { usb: { port: \"2-1\" }, vm: frigate_VM, force: true }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "attach hub usb 2-1 (bus 2 device 2) (none) -> frigate_VM [live]\n" },
	{ .name = "usb: a disk with a mounted filesystem is refused without force",
	  .fixture = "default", .mutate = mutate_usb_coral_boot,
	  .yaml = "  stick: { usb: { ids: [\"0781:5583\"] }, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "error: 'stick': usb 2-1.4 is in use by the host (/dev/sdb1 is mounted on /mnt/stick): not taken "
		  "without force: true\n" },
	{ .name = "usb: released: detached from the VM holding it",
	  .fixture = "default", .mutate = mutate_usb_coral_boot,
	  .yaml = "  coral: { usb: { ids: [\"1a6e:089a\"] }, state: released }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true,
		      .live_xml = USB_HOLDS(2, 4) } },
	  .want = "detach coral usb 2-1.3 (bus 2 device 4) frigate_VM -> (none) [live]\n" },
	{ .name = "usb: two entries on one device",
	  .fixture = "default", .mutate = mutate_usb_coral_boot,
	  .yaml = USB_CORAL "  again: { usb: { port: \"2-1.3\" }, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "attach coral usb 2-1.3 (bus 2 device 4) (none) -> frigate_VM [live]\n"
		  "error: 'again': selects usb 2-1.3, which 'coral' selects too\n" },
	{ .name = "usb: libvirt not consulted",
	  .fixture = "default", .yaml = USB_CORAL, .mutate = mutate_usb_coral_boot, .no_libvirt = true,
	  .want = "note: 'coral': libvirt was not consulted: USB devices are attached and detached by apply and watch\n" },
	{ .name = "attach from the host driver",
	  .fixture = "default",
	  .yaml = "  tpu: { address: 00:02.0, match: { vendor: 8086, device: 10d3 }, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "check tpu 0000:00:02.0 (none) -> (none)\n"
	          "set_override tpu 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind tpu 0000:00:02.0 e1000e -> (none)\n"
	          "probe tpu 0000:00:02.0 (none) -> vfio-pci\n"
	          "attach tpu 0000:00:02.0 (none) -> frigate_VM [live]\n" },
	{ .name = "converged: nothing to do",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true, .live = { "0000:00:02.0" } } },
	  .want = "" },
	{ .name = "by UUID and by name too",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: 5F0C7A52-8D1E-4C9B-9A57-1B2F3C4D5E6F }\n"
	          "  nic: { address: 00:03.0, vm: ha }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true, .live = { "0000:00:02.0" } },
		    { .name = "ha", .running = true } },
	  .want = "check nic 0000:00:03.0 (none) -> (none)\n"
	          "set_override nic 0000:00:03.0 (none) -> vfio-pci\n"
	          "unbind nic 0000:00:03.0 e1000 -> (none)\n"
	          "probe nic 0000:00:03.0 (none) -> vfio-pci\n"
	          "attach nic 0000:00:03.0 (none) -> ha [live]\n" },
	{ .name = "domain not running: bind now, attach later",
	  .fixture = "default",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .have_config = true } },
	  .want = "set_override tpu 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind tpu 0000:00:02.0 e1000e -> (none)\n"
	          "probe tpu 0000:00:02.0 (none) -> vfio-pci\n"
	          "note: 'tpu': frigate_VM is not running: the attach waits until it starts\n" },
	{ .name = "domain not running, on_stop release: back to the host",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM, on_stop: release }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .have_config = true } },
	  .want = "unbind tpu 0000:00:02.0 vfio-pci -> (none)\n"
	          "clear_override tpu 0000:00:02.0 vfio-pci -> (none)\n"
	          "probe tpu 0000:00:02.0 (none) -> (none)\n"
	          "note: 'tpu': frigate_VM is not running and on_stop is release: the device stays with the host until it starts\n" },
	{ .name = "declared for another VM: detach first, then attach",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true },
		    { .name = "ha", .title = "Home Assistant", .running = true, .live = { "0000:00:02.0" } } },
	  .want = "detach tpu 0000:00:02.0 Home Assistant -> (none) [live]\n"
	          "check tpu 0000:00:02.0 (none) -> (none)\n"
	          "attach tpu 0000:00:02.0 (none) -> frigate_VM [live]\n" },
	{ .name = "bound: detached from every VM",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, state: bound }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true, .live = { "0000:00:02.0" } } },
	  .want = "detach tpu 0000:00:02.0 frigate_VM -> (none) [live]\n"
	          "check tpu 0000:00:02.0 (none) -> (none)\n" },
	{ .name = "released: detached, unbound, override cleared, reprobed",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, state: released }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true, .live = { "0000:00:02.0" } },
		    { .name = "old", .have_config = true, .config = { "0000:00:02.0" } } },
	  .want = "detach tpu 0000:00:02.0 frigate_VM -> (none) [live]\n"
	          "detach tpu 0000:00:02.0 old -> (none) [config]\n"
	          "check tpu 0000:00:02.0 (none) -> (none)\n"
	          "unbind tpu 0000:00:02.0 vfio-pci -> (none)\n"
	          "clear_override tpu 0000:00:02.0 vfio-pci -> (none)\n"
	          "probe tpu 0000:00:02.0 (none) -> (none)\n" },
	{ .name = "released and already on the host driver: nothing to do",
	  .fixture = "default",
	  .yaml = "  tpu: { address: 00:02.0, state: released }\n",
	  .want = "" },
	{ .name = "released, on no driver, override clear (a release killed before its probe): probed",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, state: released }\n",
	  .mutate = mutate_tpu_driverless,
	  .want = "probe tpu 0000:00:02.0 (none) -> (none)\n" },
	{ .name = "released, on no driver, never probed: probed once",
	  .fixture = "default",
	  .yaml = "  edu: { address: 00:04.0, state: released }\n",
	  .want = "probe edu 0000:00:04.0 (none) -> (none)\n" },
	{ .name = "released, and a probe found no host driver for it: a problem, never converged",
	  .fixture = "default",
	  .yaml = "  edu: { address: 00:04.0, state: released }\n",
	  .mutate = mutate_edu_unclaimed,
	  .want = "error: 'edu' 0000:00:04.0: no host driver claims it (probed); load its driver or declare it bound\n" },
	{ .name = "on_stop: release with its VM stopped, and no host driver claims it",
	  .fixture = "default",
	  .yaml = "  edu: { address: 00:04.0, vm: ha, on_stop: release }\n",
	  .doms = { { .name = "ha", .have_config = true } },
	  .mutate = mutate_edu_unclaimed,
	  .want = "error: 'edu' 0000:00:04.0: no host driver claims it (probed); load its driver or set on_stop: keep\n"
	          "note: 'edu': ha is not running and on_stop is release: the device stays with the host until it starts\n" },
	{ .name = "bound, though a probe found no host driver for it: bound as usual",
	  .fixture = "default",
	  .yaml = "  edu: { address: 00:04.0, state: bound }\n",
	  .mutate = mutate_edu_unclaimed,
	  .want = "set_override edu 0000:00:04.0 (none) -> vfio-pci\n"
	          "probe edu 0000:00:04.0 (none) -> vfio-pci\n" },
	{ .name = "persistent: added to the definition too",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM, persistent: true }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true, .live = { "0000:00:02.0" }, .have_config = true } },
	  .want = "attach tpu 0000:00:02.0 (none) -> frigate_VM [config]\n" },
	{ .name = "persistent, not yet live: one attach, live and config",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM, persistent: true }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true, .have_config = true } },
	  .want = "check tpu 0000:00:02.0 (none) -> (none)\n"
	          "attach tpu 0000:00:02.0 (none) -> frigate_VM [live,config]\n" },
	{ .name = "match selecting two devices",
	  .fixture = "default",
	  .yaml = "  tpu: { match: { vendor: 8086, device: 10d3 }, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "error: 'tpu': 2 PCI devices match 8086:10d3: 0000:00:02.0, 0000:01:00.0; add 'address' to pick one\n" },
	{ .name = "match selecting nothing",
	  .fixture = "default",
	  .yaml = "  coral: { match: { vendor: 0x1ac1, device: 0x089a }, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "error: 'coral': no PCI device matches 1ac1:089a (see 'passthrough devices')\n" },
	{ .name = "match by id and subsystem",
	  .fixture = "default",
	  .yaml = "  tpu: { match: { vendor: 8086, device: 10d3, subsystem_vendor: 8086, class: 0x0200 }, state: bound }\n",
	  .want = "error: 'tpu': 2 PCI devices match 8086:10d3 subsystem_vendor 8086 class 0200: 0000:00:02.0, 0000:01:00.0; add 'address' to pick one\n" },
	{ .name = "address and match disagree: hardware changed",
	  .fixture = "default",
	  .yaml = "  nic: { address: 00:03.0, match: { vendor: 8086, device: 10d3 }, state: bound }\n",
	  .want = "error: 'nic': hardware changed? 0000:00:03.0 is 8086:100e (subsystem 1af4:1100, class 0200), not 8086:10d3 as 'match' says\n" },
	{ .name = "nothing at the address",
	  .fixture = "default",
	  .yaml = "  gone: { address: 00:09.0, state: bound }\n",
	  .want = "error: 'gone': no PCI device at 0000:00:09.0; if it fell off the bus, set recover: rescan to have passthrough "
	          "rescan its bus\n" },
	{ .name = "two entries on one device",
	  .fixture = "default",
	  .yaml = "  a: { address: 00:04.0, state: bound }\n"
	          "  b: { match: { vendor: 1234, device: 11e8 }, state: bound }\n",
	  .want = "set_override a 0000:00:04.0 (none) -> vfio-pci\n"
	          "probe a 0000:00:04.0 (none) -> vfio-pci\n"
	          "error: 'b': selects 0000:00:04.0, which 'a' selects too\n" },
	{ .name = "IOMMU group not viable: undeclared members on host drivers",
	  .fixture = "default",
	  .yaml = "  nic: { address: 00:06.0, state: bound }\n",
	  .want = "error: 'nic' 0000:00:06.0: IOMMU group 5 would not be viable: 0000:00:06.1 (8086:100f) shares it and is on e1000; declare it in the file (e.g. with state: bound) or set whole_group: true\n"
	          "error: 'nic' 0000:00:06.0: IOMMU group 5 would not be viable: 0000:00:06.2 (8086:100e) shares it and is on e1000; declare it in the file (e.g. with state: bound) or set whole_group: true\n" },
	{ .name = "IOMMU group with every member declared",
	  .fixture = "default",
	  .yaml = "  nic: { address: 00:06.0, state: bound }\n"
	          "  p1: { address: 00:06.1, state: bound }\n"
	          "  p2: { address: 00:06.2, state: bound }\n",
	  .want = "set_override nic 0000:00:06.0 (none) -> vfio-pci\n"
	          "unbind nic 0000:00:06.0 e1000 -> (none)\n"
	          "probe nic 0000:00:06.0 (none) -> vfio-pci\n"
	          "set_override p1 0000:00:06.1 (none) -> vfio-pci\n"
	          "unbind p1 0000:00:06.1 e1000 -> (none)\n"
	          "probe p1 0000:00:06.1 (none) -> vfio-pci\n"
	          "set_override p2 0000:00:06.2 (none) -> vfio-pci\n"
	          "unbind p2 0000:00:06.2 e1000 -> (none)\n"
	          "probe p2 0000:00:06.2 (none) -> vfio-pci\n" },
	{ .name = "IOMMU group member declared released",
	  .fixture = "default",
	  .yaml = "  nic: { address: 00:06.0, state: bound, whole_group: true }\n"
	          "  p1: { address: 00:06.1, state: released }\n",
	  .want = "error: 'nic' 0000:00:06.0: IOMMU group 5 would not be viable: 0000:00:06.1 ('p1') shares it and is declared released; declare it bound or attached\n" },
	{ .name = "whole_group takes the undeclared members first",
	  .fixture = "default",
	  .yaml = "  nic: { address: 00:06.0, vm: frigate_VM, whole_group: true }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "check nic 0000:00:06.0 (none) -> (none)\n"
	          "set_override nic 0000:00:06.1 (none) -> vfio-pci [member]\n"
	          "unbind nic 0000:00:06.1 e1000 -> (none) [member]\n"
	          "probe nic 0000:00:06.1 (none) -> vfio-pci [member]\n"
	          "set_override nic 0000:00:06.2 (none) -> vfio-pci [member]\n"
	          "unbind nic 0000:00:06.2 e1000 -> (none) [member]\n"
	          "probe nic 0000:00:06.2 (none) -> vfio-pci [member]\n"
	          "set_override nic 0000:00:06.0 (none) -> vfio-pci\n"
	          "unbind nic 0000:00:06.0 e1000 -> (none)\n"
	          "probe nic 0000:00:06.0 (none) -> vfio-pci\n"
	          "attach nic 0000:00:06.0 (none) -> frigate_VM [live]\n" },
	{ .name = "bridges are never passed through",
	  .fixture = "default",
	  .yaml = "  rp: { address: 00:05.0, state: bound }\n",
	  .want = "error: 'rp' 0000:00:05.0: a PCI bridge cannot be passed through\n" },
	{ .name = "a device behind a bridge has its own group",
	  .fixture = "default",
	  .yaml = "  nic: { address: 01:00.0, state: bound }\n",
	  .want = "set_override nic 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind nic 0000:01:00.0 e1000e -> (none)\n"
	          "probe nic 0000:01:00.0 (none) -> vfio-pci\n" },
	{ .name = "a bridge in the group does not make it unviable",
	  .fixture = "default",
	  .yaml = "  nic: { address: 01:00.0, state: bound }\n",
	  .mutate = mutate_bridge_shares_group,
	  .want = "set_override nic 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind nic 0000:01:00.0 e1000e -> (none)\n"
	          "probe nic 0000:01:00.0 (none) -> vfio-pci\n" },
	{ .name = "whole_group leaves a bridge in the group on its driver",
	  .fixture = "default",
	  .yaml = "  nic: { address: 01:00.0, vm: frigate_VM, whole_group: true }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .mutate = mutate_bridge_shares_group,
	  .want = "check nic 0000:01:00.0 (none) -> (none)\n"
	          "set_override nic 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind nic 0000:01:00.0 e1000e -> (none)\n"
	          "probe nic 0000:01:00.0 (none) -> vfio-pci\n"
	          "attach nic 0000:01:00.0 (none) -> frigate_VM [live]\n" },
	{ .name = "host-critical by class: refused",
	  .fixture = "default",
	  .yaml = "  smbus: { address: 00:1f.3, state: bound }\n",
	  .want = "error: 'smbus' 0000:00:1f.3: in use by the host: it is an SMBus controller; stop using it there, or set force: true\n" },
	{ .name = "host-critical with force, members driverless",
	  .fixture = "default",
	  .yaml = "  smbus: { address: 00:1f.3, state: bound, force: true }\n",
	  .want = "set_override smbus 0000:00:1f.3 (none) -> vfio-pci\n"
	          "probe smbus 0000:00:1f.3 (none) -> vfio-pci\n" },
	{ .name = "host-critical network interface: refused",
	  .fixture = "default",
	  .yaml = "  nic: { address: 00:03.0, state: bound }\n",
	  .mutate = mutate_nic_in_use,
	  .want = "error: 'nic' 0000:00:03.0: in use by the host: network interface 'ens3' has an address; stop using it there, or set force: true\n" },
	{ .name = "vfio-pci not loaded: loaded first",
	  .fixture = "default",
	  .yaml = "  nic: { address: 00:03.0, state: bound }\n",
	  .mutate = mutate_vfio_unloaded,
	  .want = "load_vfio - - (none) -> vfio-pci\n"
	          "set_override nic 0000:00:03.0 (none) -> vfio-pci\n"
	          "unbind nic 0000:00:03.0 e1000 -> (none)\n"
	          "probe nic 0000:00:03.0 (none) -> vfio-pci\n" },
	{ .name = "no IOMMU",
	  .fixture = "default",
	  .yaml = "  nic: { address: 00:03.0, state: bound }\n",
	  .mutate = mutate_no_iommu,
	  .want = "error: 'nic' 0000:00:03.0: no IOMMU group; is the IOMMU on? (boot with intel_iommu=on or amd_iommu=on, and enable VT-d/AMD-Vi in the firmware)\n" },
	{ .name = "unknown VM",
	  .fixture = "default",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true },
		    { .name = "ha", .have_config = true } },
	  .want = "error: 'tpu': no domain has the name, UUID or title 'frigate' (domains: 'frigate_VM', 'ha')\n" },
	{ .name = "two VMs answer to one name",
	  .fixture = "default",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate }\n",
	  .doms = { { .name = "frigate", .running = true },
		    { .name = "other", .title = "frigate", .running = true } },
	  .want = "error: 'tpu': vm 'frigate' matches two domains: 'frigate' (by name) and 'other' (by title); name it by UUID\n" },
	{ .name = "without libvirt only the host side is planned",
	  .fixture = "default",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM }\n",
	  .no_libvirt = true,
	  .want = "set_override tpu 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind tpu 0000:00:02.0 e1000e -> (none)\n"
	          "probe tpu 0000:00:02.0 (none) -> vfio-pci\n"
	          "note: 'tpu': libvirt was not consulted: only the host side is planned\n" },
	{ .name = "without libvirt nothing goes back to the host",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM, on_stop: release }\n"
	          "  nic: { address: 00:03.0, state: released }\n"
	          "  edu: { address: 00:04.0, state: bound }\n",
	  .no_libvirt = true,
	  .want = "set_override edu 0000:00:04.0 (none) -> vfio-pci\n"
	          "probe edu 0000:00:04.0 (none) -> vfio-pci\n"
	          "note: 'tpu': libvirt was not consulted: left as it is (on_stop is release: bound when its VM starts)\n"
	          "note: 'nic': libvirt was not consulted: left as it is (a running VM may hold it)\n" },
	{ .name = "--vm: only what that VM owns",
	  .fixture = "default",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM }\n"
	          "  nic: { address: 00:03.0, vm: ha }\n"
	          "  edu: { address: 00:04.0, state: bound }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true },
		    { .name = "ha", .running = true } },
	  .only_vm = "ha",
	  .want = "check nic 0000:00:03.0 (none) -> (none)\n"
	          "set_override nic 0000:00:03.0 (none) -> vfio-pci\n"
	          "unbind nic 0000:00:03.0 e1000 -> (none)\n"
	          "probe nic 0000:00:03.0 (none) -> vfio-pci\n"
	          "attach nic 0000:00:03.0 (none) -> ha [live]\n" },
	{ .name = "DS1621+: the Coral on its own group, the 10G NIC in use",
	  .fixture = "ds1621-coral",
	  .yaml = "  coral: { match: { vendor: 0x1ac1, device: 0x089a }, vm: frigate_VM }\n"
	          "  nic10g: { address: 07:00.0, match: { vendor: 8086, device: 10fb }, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "check coral 0000:01:00.0 (none) -> (none)\n"
	          "set_override coral 0000:01:00.0 (none) -> vfio-pci\n"
	          "probe coral 0000:01:00.0 (none) -> vfio-pci\n"
	          "attach coral 0000:01:00.0 (none) -> frigate_VM [live]\n"
	          "error: 'nic10g' 0000:07:00.0: in use by the host: network interface 'eth0' has an address; stop using it there, or set force: true\n" },
	{ .name = "a group member that cannot move fails its group-mates too",
	  .fixture = "ds1621-coral",
	  .yaml = "  port2: { address: 07:00.1, state: bound }\n"
	          "  nic10g: { address: 07:00.0, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "error: 'nic10g' 0000:07:00.0: in use by the host: network interface 'eth0' has an address; stop using it there, or set force: true\n"
	          "error: 'port2' 0000:07:00.1: IOMMU group 5 would not be viable: 0000:07:00.0 ('nic10g') shares it and cannot move (see its own error)\n" },
	{ .name = "a group-mate declared later is checked against the final outcome",
	  .fixture = "default",
	  .yaml = "  a: { address: 00:06.0, state: bound }\n"
	          "  b: { address: 00:06.1, state: bound }\n",
	  .want = "error: 'a' 0000:00:06.0: IOMMU group 5 would not be viable: 0000:00:06.2 (8086:100e) shares it and is on e1000; declare it in the file (e.g. with state: bound) or set whole_group: true\n"
	          "error: 'b' 0000:00:06.1: IOMMU group 5 would not be viable: 0000:00:06.0 ('a') shares it and cannot move (see its own error)\n"
	          "error: 'b' 0000:00:06.1: IOMMU group 5 would not be viable: 0000:00:06.2 (8086:100e) shares it and is on e1000; declare it in the file (e.g. with state: bound) or set whole_group: true\n" },
	{ .name = "DS1621+: the controller of the root disks is refused",
	  .fixture = "ds1621-coral",
	  .yaml = "  sata: { address: 08:00.0, state: bound }\n",
	  .want = "error: 'sata' 0000:08:00.0: in use by the host: /dev/sda1 is part of md0 (software RAID); stop using it there, or set force: true\n" },
	{ .name = "release refused while a group-mate stays on vfio-pci in a VM",
	  .fixture = "default",
	  .yaml = "  a: { address: 00:06.0, vm: vm1 }\n"
	          "  r: { address: 00:06.1, state: released }\n",
	  .doms = { { .name = "vm1", .running = true, .live = { "0000:00:06.0" } } },
	  .mutate = mutate_group5_on_vfio,
	  .want = "error: 'a' 0000:00:06.0: IOMMU group 5 would not be viable: 0000:00:06.1 ('r') shares it and is declared released; declare it bound or attached\n"
	          "error: 'r' 0000:00:06.1: cannot go back to the host while 0000:00:06.0 ('a') shares IOMMU group 5 on vfio-pci; release them together\n"
	          "error: 'r' 0000:00:06.1: cannot go back to the host while 0000:00:06.2 shares IOMMU group 5 on vfio-pci; release them together\n" },
	{ .name = "a whole group released together",
	  .fixture = "default",
	  .yaml = "  a: { address: 00:06.0, state: released }\n"
	          "  b: { address: 00:06.1, state: released }\n"
	          "  c: { address: 00:06.2, state: released }\n",
	  .mutate = mutate_group5_on_vfio,
	  .want = "unbind a 0000:00:06.0 vfio-pci -> (none)\n"
	          "clear_override a 0000:00:06.0 vfio-pci -> (none)\n"
	          "probe a 0000:00:06.0 (none) -> (none)\n"
	          "unbind b 0000:00:06.1 vfio-pci -> (none)\n"
	          "clear_override b 0000:00:06.1 vfio-pci -> (none)\n"
	          "probe b 0000:00:06.1 (none) -> (none)\n"
	          "unbind c 0000:00:06.2 vfio-pci -> (none)\n"
	          "clear_override c 0000:00:06.2 vfio-pci -> (none)\n"
	          "probe c 0000:00:06.2 (none) -> (none)\n" },
	{ .name = "--vm still sees the group-mates of other entries",
	  .fixture = "default",
	  .yaml = "  a: { address: 00:06.0, vm: ha, whole_group: true }\n"
	          "  r: { address: 00:06.1, state: released }\n",
	  .doms = { { .name = "ha", .running = true } },
	  .only_vm = "ha",
	  .want = "error: 'a' 0000:00:06.0: IOMMU group 5 would not be viable: 0000:00:06.1 ('r') shares it and is declared released; declare it bound or attached\n" },
	{ .name = "one group cannot go to two VMs",
	  .fixture = "default",
	  .yaml = "  a: { address: 00:06.0, vm: ha }\n"
	          "  b: { address: 00:06.1, vm: zz }\n"
	          "  c: { address: 00:06.2, state: bound }\n",
	  .doms = { { .name = "ha", .running = true },
		    { .name = "zz", .running = true } },
	  .want = "error: 'a' 0000:00:06.0: IOMMU group 5 also holds 0000:00:06.1 ('b'), which goes to zz; a group can go to one VM only\n"
	          "error: 'b' 0000:00:06.1: IOMMU group 5 would not be viable: 0000:00:06.0 ('a') shares it and cannot move (see its own error)\n"
	          "error: 'c' 0000:00:06.2: IOMMU group 5 would not be viable: 0000:00:06.0 ('a') shares it and cannot move (see its own error)\n"
	          "error: 'c' 0000:00:06.2: IOMMU group 5 would not be viable: 0000:00:06.1 ('b') shares it and cannot move (see its own error)\n" },
	{ .name = "an undeclared group-mate attached to another VM",
	  .fixture = "default",
	  .yaml = "  a: { address: 00:06.0, vm: ha, whole_group: true }\n",
	  .doms = { { .name = "ha", .running = true },
		    { .name = "zz", .running = true, .live = { "0000:00:06.1" } } },
	  .mutate = mutate_group5_on_vfio,
	  .want = "error: 'a' 0000:00:06.0: IOMMU group 5 also holds 0000:00:06.1, which is attached to zz; a group can go to one VM only\n" },
	{ .name = "a bridge's class with a normal header is no bridge",
	  .fixture = "default",
	  .yaml = "  a: { address: 00:06.0, state: bound }\n"
	          "  b: { address: 00:06.1, state: bound }\n",
	  .mutate = mutate_class_not_bridge,
	  .want = "error: 'a' 0000:00:06.0: IOMMU group 5 would not be viable: 0000:00:06.2 (8086:100e) shares it and is on e1000; declare it in the file (e.g. with state: bound) or set whole_group: true\n"
	          "error: 'b' 0000:00:06.1: IOMMU group 5 would not be viable: 0000:00:06.0 ('a') shares it and cannot move (see its own error)\n"
	          "error: 'b' 0000:00:06.1: IOMMU group 5 would not be viable: 0000:00:06.2 (8086:100e) shares it and is on e1000; declare it in the file (e.g. with state: bound) or set whole_group: true\n" },
	{ .name = "released from pci-stub too",
	  .fixture = "default",
	  .yaml = "  edu: { address: 00:04.0, state: released }\n",
	  .mutate = mutate_pci_stub,
	  .want = "unbind edu 0000:00:04.0 pci-stub -> (none)\n"
	          "clear_override edu 0000:00:04.0 pci-stub -> (none)\n"
	          "probe edu 0000:00:04.0 (none) -> (none)\n" },
	{ .name = "a group-mate going home while its VM is stopped",
	  .fixture = "default",
	  .yaml = "  a: { address: 00:06.0, state: bound, whole_group: true }\n"
	          "  b: { address: 00:06.1, vm: ha, on_stop: release }\n",
	  .doms = { { .name = "ha", .have_config = true } },
	  .want = "error: 'a' 0000:00:06.0: IOMMU group 5 would not be viable: 0000:00:06.1 ('b') shares it and goes back to the host while ha is stopped (on_stop: release)\n"
	          "note: 'b': ha is not running and on_stop is release: the device stays with the host until it starts\n" },
	{ .name = "two entries on one device, the first failing on its VM",
	  .fixture = "default",
	  .yaml = "  a: { address: 00:04.0, vm: nowhere }\n"
	          "  b: { match: { vendor: 1234, device: 11e8 }, state: bound }\n",
	  .doms = { { .name = "ha", .running = true } },
	  .want = "error: 'a': no domain has the name, UUID or title 'nowhere' (domains: 'ha')\n"
	          "error: 'b': selects 0000:00:04.0, which 'a' selects too\n" },
	{ .name = "PCI domain 10000 (behind VMD): planned like any other",
	  .fixture = "vmd",
	  .yaml = "  ssd2: { address: \"10000:e2:00.0\", vm: nvr }\n",
	  .doms = { { .name = "nvr", .running = true } },
	  .want = "check ssd2 10000:e2:00.0 (none) -> (none)\n"
	          "set_override ssd2 10000:e2:00.0 (none) -> vfio-pci\n"
	          "unbind ssd2 10000:e2:00.0 nvme -> (none)\n"
	          "probe ssd2 10000:e2:00.0 (none) -> vfio-pci\n"
	          "attach ssd2 10000:e2:00.0 (none) -> nvr [live]\n" },
	{ .name = "PCI domain 10000: held by its VM (domain='0x10000'), converged",
	  .fixture = "vmd",
	  .yaml = "  ssd: { address: \"10000:e1:00.0\", vm: nvr }\n",
	  .doms = { { .name = "nvr", .running = true, .live_xml = NVR_HOLDS_VMD_SSD } },
	  .want = "" },
	{ .name = "PCI domain 10000 is not domain 0000: the same bus, slot and function elsewhere",
	  .fixture = "vmd",
	  .yaml = "  ssd: { address: \"0000:e1:00.0\", vm: nvr }\n",
	  .doms = { { .name = "nvr", .running = true, .live_xml = NVR_HOLDS_VMD_SSD } },
	  .want = "check ssd 0000:e1:00.0 (none) -> (none)\n"
	          "attach ssd 0000:e1:00.0 (none) -> nvr [live]\n" },
	{ .name = "a hostdev whose address cannot be read: left out, said, never domain 0000",
	  .fixture = "vmd",
	  .yaml = "  ssd: { address: \"0000:e1:00.0\", vm: nvr }\n",
	  .doms = { { .name = "nvr", .running = true,
		      .live_xml = "<hostdev mode='subsystem' type='pci' managed='no'><source>"
				  "<address domain='0x100000000' bus='0xe1' slot='0x00' function='0x0'/>"
				  "</source></hostdev>" } },
	  .want = "warning: domain 'nvr': <hostdev> left out: address attribute domain='0x100000000' is out of range (at most 0xffffffff)\n"
	          "check ssd 0000:e1:00.0 (none) -> (none)\n"
	          "attach ssd 0000:e1:00.0 (none) -> nvr [live]\n" },
	{ .name = "reset: before_attach: checked, reset, then attached",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM, reset: before_attach }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .mutate = mutate_tpu_resettable,
	  .want = "check tpu 0000:00:02.0 (none) -> (none)\n"
	          "reset tpu 0000:00:02.0 (none) -> (none)\n"
	          "attach tpu 0000:00:02.0 (none) -> frigate_VM [live]\n" },
	{ .name = "reset: before_attach, attached already: no reset",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM, reset: before_attach }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true, .live = { "0000:00:02.0" } } },
	  .mutate = mutate_tpu_resettable,
	  .want = "" },
	{ .name = "reset: before_attach on a device without a reset: a problem, no attach",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM, reset: before_attach }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .mutate = mutate_tpu_no_reset,
	  .want = "error: 'tpu' 0000:00:02.0: reset: before_attach, but the kernel has no reset method for it (no 'reset' attribute); take reset out (and see 'passthrough doctor')\n" },
	{ .name = "power: on after the bind, before the attach",
	  .fixture = "default",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM, power: on }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .want = "check tpu 0000:00:02.0 (none) -> (none)\n"
	          "set_override tpu 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind tpu 0000:00:02.0 e1000e -> (none)\n"
	          "probe tpu 0000:00:02.0 (none) -> vfio-pci\n"
	          "power tpu 0000:00:02.0 auto -> on arg=0\n"
	          "attach tpu 0000:00:02.0 (none) -> frigate_VM [live]\n" },
	{ .name = "power: on, on vfio-pci with power/control auto: pinned",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, state: bound, power: on }\n",
	  .mutate = mutate_tpu_power_auto,
	  .want = "power tpu 0000:00:02.0 auto -> on arg=0\n" },
	{ .name = "power: on, pinned already: converged",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, state: bound, power: on }\n",
	  .mutate = mutate_tpu_pinned,
	  .want = "" },
	{ .name = "power: on taken out: the kernel's choice given back from the journal",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, state: bound }\n",
	  .mutate = mutate_tpu_pinned,
	  .want = "power tpu 0000:00:02.0 on -> auto arg=1 +unpin\n" },
	{ .name = "power: on, a kernel that shows neither power/control nor d3cold_allowed: planned, never converged unseen",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, state: bound, power: on }\n",
	  .want = "power tpu 0000:00:02.0 (none) -> on arg=0\n" },
	{ .name = "does not answer, recover none: a problem, not hot-plugged",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM }\n"
	          "  nic: { address: 00:03.0, state: bound }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true } },
	  .mutate = mutate_tpu_dead,
	  .want = "set_override nic 0000:00:03.0 (none) -> vfio-pci\n"
	          "unbind nic 0000:00:03.0 e1000 -> (none)\n"
	          "probe nic 0000:00:03.0 (none) -> vfio-pci\n"
	          "error: 'tpu' 0000:00:02.0: does not answer (its config space reads ffff); set recover: rescan to have passthrough try a reset, remove and a rescan of its bus, or power-cycle the host\n" },
	{ .name = "does not answer, recover: rescan: checked (recovering) first",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, state: bound, recover: rescan }\n",
	  .mutate = mutate_tpu_dead,
	  .want = "check tpu 0000:00:02.0 (none) -> (none) +recover\n" },
	{ .name = "does not answer, recover: rescan failed before: checked, not recovered again",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, state: bound, recover: rescan }\n",
	  .mutate = mutate_tpu_gave_up,
	  .want = "check tpu 0000:00:02.0 (none) -> (none)\n" },
	{ .name = "gone from its bus, recover: rescan: its bus rescanned",
	  .fixture = "default",
	  .yaml = "  gone: { address: 00:09.0, state: bound, recover: rescan }\n",
	  .want = "rescan gone 0000:00:09.0 (none) -> (none)\n" },
	{ .name = "vfio_pci declared, vfio-pci not loaded: loaded with it",
	  .fixture = "default",
	  .top = "vfio_pci: { disable_idle_d3: true }\n",
	  .yaml = "  tpu: { address: 00:02.0, state: bound }\n",
	  .mutate = mutate_vfio_unloaded,
	  .want = "load_vfio - - (none) -> vfio-pci arg=disable_idle_d3=1\n"
	          "set_override tpu 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind tpu 0000:00:02.0 e1000e -> (none)\n"
	          "probe tpu 0000:00:02.0 (none) -> vfio-pci\n" },
	{ .name = "vfio_pci declared, another value in force, no VM holds a device: reloaded, rebound",
	  .fixture = "e1000e-vfio",
	  .top = "vfio_pci: { disable_idle_d3: true }\n",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .have_config = true } },
	  .mutate = mutate_vfio_idle_d3_off,
	  .want = "unload_vfio - - vfio-pci -> (none)\n"
	          "load_vfio - - (none) -> vfio-pci arg=disable_idle_d3=1\n"
	          "probe tpu 0000:00:02.0 (none) -> vfio-pci\n"
	          "note: 'tpu': frigate_VM is not running: the attach waits until it starts\n" },
	{ .name = "vfio_pci declared, in force already: nothing",
	  .fixture = "e1000e-vfio",
	  .top = "vfio_pci: { disable_idle_d3: false }\n",
	  .yaml = "  tpu: { address: 00:02.0, state: bound }\n",
	  .mutate = mutate_vfio_idle_d3_off,
	  .want = "" },
	{ .name = "vfio_pci declared, a VM holds a vfio device: it waits for the next load",
	  .fixture = "e1000e-vfio",
	  .top = "vfio_pci: { disable_idle_d3: true }\n",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .running = true, .live = { "0000:00:02.0" } } },
	  .mutate = mutate_vfio_idle_d3_off,
	  .want = "note: vfio-pci: disable_idle_d3=Y is declared but N is in force since it was loaded; it takes effect when vfio-pci is next loaded (not now: frigate_VM holds 0000:00:02.0)\n" },
	{ .name = "vfio_pci declared, a device the file does not name on vfio-pci: no reload",
	  .fixture = "e1000e-vfio",
	  .top = "vfio_pci: { disable_idle_d3: true }\n",
	  .yaml = "  tpu: { address: 00:02.0, state: bound }\n",
	  .mutate = mutate_vfio_idle_d3_off_foreign,
	  .want = "note: vfio-pci: disable_idle_d3=Y is declared but N is in force since it was loaded; it takes effect when vfio-pci is next loaded (not now: 0000:00:03.0 is on vfio-pci and the file does not declare it (it would not be bound again))\n" },
	{ .name = "vfio_pci declared, value in force unknown, libvirt not asked: a note, no reload",
	  .fixture = "e1000e-vfio",
	  .top = "vfio_pci: { disable_idle_d3: true }\n",
	  .yaml = "  tpu: { address: 00:02.0, state: bound }\n",
	  .no_libvirt = true,
	  .want = "note: vfio-pci: disable_idle_d3=Y is declared, but which value is in force is not known (something else loaded vfio-pci); it is loaded with it next time: libvirt was not asked whether a VM holds a vfio device\n" },
	{ .name = "the hook's release: the stopped VM's device is checked",
	  .fixture = "e1000e-vfio",
	  .yaml = "  tpu: { address: 00:02.0, vm: frigate_VM, recover: rescan }\n",
	  .doms = { { .name = FRIGATE, .uuid = FRIGATE, .title = "frigate_VM", .have_config = true } },
	  .mutate = mutate_hook_stopped,
	  .want = "check tpu 0000:00:02.0 (none) -> (none) +recover\n"
	          "note: 'tpu': frigate_VM is not running: the attach waits until it starts\n" },
	/* Pools: the bed's two 8086:10d3 NICs (00:02.0, and 01:00.0 behind a root port). */
	{ .name = "pool: two entries, two VMs, nothing held: the lowest free address each, in file order",
	  .fixture = "default",
	  .yaml = POOL_AB,
	  .doms = { { .name = "vm1", .running = true }, { .name = "vm2", .running = true } },
	  .want = "check a 0000:00:02.0 (none) -> (none)\n"
	          "set_override a 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind a 0000:00:02.0 e1000e -> (none)\n"
	          "probe a 0000:00:02.0 (none) -> vfio-pci\n"
	          "attach a 0000:00:02.0 (none) -> vm1 [live]\n"
	          "check b 0000:01:00.0 (none) -> (none)\n"
	          "set_override b 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind b 0000:01:00.0 e1000e -> (none)\n"
	          "probe b 0000:01:00.0 (none) -> vfio-pci\n"
	          "attach b 0000:01:00.0 (none) -> vm2 [live]\n"
	          "note: pool 8086:10d3: 'a' gets 0000:00:02.0 (lowest free address); 'b' gets 0000:01:00.0 (lowest free address)\n" },
	{ .name = "pool: an entry keeps the device its VM holds; the other takes what is left",
	  .fixture = "default",
	  .yaml = POOL_AB,
	  .doms = { { .name = "vm1", .running = true }, { .name = "vm2", .running = true, .live = { "0000:00:02.0" } } },
	  .want = "set_override b 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind b 0000:00:02.0 e1000e -> (none)\n"
	          "probe b 0000:00:02.0 (none) -> vfio-pci\n"
	          "check a 0000:01:00.0 (none) -> (none)\n"
	          "set_override a 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind a 0000:01:00.0 e1000e -> (none)\n"
	          "probe a 0000:01:00.0 (none) -> vfio-pci\n"
	          "attach a 0000:01:00.0 (none) -> vm1 [live]\n"
	          "note: pool 8086:10d3: 'a' gets 0000:01:00.0 (lowest free address); 'b' gets 0000:00:02.0 (keeps it: attached to vm2)\n" },
	{ .name = "pool: a device in a stopped VM's definition is that VM's",
	  .fixture = "default",
	  .yaml = POOL_AB,
	  .doms = { { .name = "vm1", .running = true }, { .name = "vm2", .have_config = true, .config = { "0000:00:02.0" } } },
	  .want = "set_override b 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind b 0000:00:02.0 e1000e -> (none)\n"
	          "probe b 0000:00:02.0 (none) -> vfio-pci\n"
	          "check a 0000:01:00.0 (none) -> (none)\n"
	          "set_override a 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind a 0000:01:00.0 e1000e -> (none)\n"
	          "probe a 0000:01:00.0 (none) -> vfio-pci\n"
	          "attach a 0000:01:00.0 (none) -> vm1 [live]\n"
	          "note: 'b': vm2 is not running: the attach waits until it starts\n"
	          "note: pool 8086:10d3: 'a' gets 0000:01:00.0 (lowest free address); 'b' gets 0000:00:02.0 (keeps it: in the definition of vm2)\n" },
	{ .name = "pool: a device another VM holds (by hand) is never taken",
	  .fixture = "default",
	  .yaml = POOL_AB,
	  .doms = { { .name = "hand", .running = true, .live = { "0000:00:02.0" } }, { .name = "vm1", .running = true },
		    { .name = "vm2", .running = true } },
	  .want = "check a 0000:01:00.0 (none) -> (none)\n"
	          "set_override a 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind a 0000:01:00.0 e1000e -> (none)\n"
	          "probe a 0000:01:00.0 (none) -> vfio-pci\n"
	          "attach a 0000:01:00.0 (none) -> vm1 [live]\n"
	          "error: 'b': no free PCI device matching 8086:10d3 is left for it (1 free, the other entries of its pool have it)\n"
	          "note: pool 8086:10d3: 'a' gets 0000:01:00.0 (lowest free address); 'b' gets none\n" },
	{ .name = "pool: what apply bound for an entry stays its while no VM holds it (the journal)",
	  .fixture = "default",
	  .yaml = POOL_AB,
	  .doms = { { .name = "vm1" }, { .name = "vm2" } },
	  .mutate = mutate_bound_for_b,
	  .want = "set_override a 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind a 0000:01:00.0 e1000e -> (none)\n"
	          "probe a 0000:01:00.0 (none) -> vfio-pci\n"
	          "note: 'a': vm1 is not running: the attach waits until it starts\n"
	          "note: 'b': vm2 is not running: the attach waits until it starts\n"
	          "note: pool 8086:10d3: 'a' gets 0000:01:00.0 (lowest free address); 'b' gets 0000:00:02.0 (keeps it: bound to vfio-pci for it)\n" },
	{ .name = "pool: an address entry's device is not the pool's",
	  .fixture = "default",
	  .yaml = POOL_AB "  pinned: { address: 00:02.0, state: bound }\n",
	  .doms = { { .name = "vm1", .running = true }, { .name = "vm2", .running = true } },
	  .want = "set_override pinned 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind pinned 0000:00:02.0 e1000e -> (none)\n"
	          "probe pinned 0000:00:02.0 (none) -> vfio-pci\n"
	          "check a 0000:01:00.0 (none) -> (none)\n"
	          "set_override a 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind a 0000:01:00.0 e1000e -> (none)\n"
	          "probe a 0000:01:00.0 (none) -> vfio-pci\n"
	          "attach a 0000:01:00.0 (none) -> vm1 [live]\n"
	          "error: 'b': no free PCI device matching 8086:10d3 is left for it (1 free, the other entries of its pool have it)\n"
	          "note: pool 8086:10d3: 'a' gets 0000:01:00.0 (lowest free address); 'b' gets none\n" },
	{ .name = "count: 2 gives both to one VM, named by address order",
	  .fixture = "default",
	  .yaml = "  nics: { match: { vendor: 8086, device: 10d3 }, count: 2, vm: vm1 }\n",
	  .doms = { { .name = "vm1", .running = true } },
	  .want = "check nics[0] 0000:00:02.0 (none) -> (none)\n"
	          "set_override nics[0] 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind nics[0] 0000:00:02.0 e1000e -> (none)\n"
	          "probe nics[0] 0000:00:02.0 (none) -> vfio-pci\n"
	          "attach nics[0] 0000:00:02.0 (none) -> vm1 [live]\n"
	          "check nics[1] 0000:01:00.0 (none) -> (none)\n"
	          "set_override nics[1] 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind nics[1] 0000:01:00.0 e1000e -> (none)\n"
	          "probe nics[1] 0000:01:00.0 (none) -> vfio-pci\n"
	          "attach nics[1] 0000:01:00.0 (none) -> vm1 [live]\n"
	          "note: pool 8086:10d3: 'nics[0]' gets 0000:00:02.0 (lowest free address); 'nics[1]' gets 0000:01:00.0 (lowest free address)\n" },
	{ .name = "count: 3 with two present: an error for the entry, the two found still planned",
	  .fixture = "default",
	  .yaml = "  nics: { match: { vendor: 8086, device: 10d3 }, count: 3, state: bound }\n",
	  .want = "set_override nics[0] 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind nics[0] 0000:00:02.0 e1000e -> (none)\n"
	          "probe nics[0] 0000:00:02.0 (none) -> vfio-pci\n"
	          "set_override nics[1] 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind nics[1] 0000:01:00.0 e1000e -> (none)\n"
	          "probe nics[1] 0000:01:00.0 (none) -> vfio-pci\n"
	          "error: 'nics': count: 3, but only 2 free PCI devices match 8086:10d3 (see 'passthrough plan')\n"
	          "note: pool 8086:10d3: 'nics[0]' gets 0000:00:02.0 (lowest free address); 'nics[1]' gets 0000:01:00.0 (lowest free address); 'nics' gets none\n" },
	{ .name = "pool, the hook's pass: a free-looking device on vfio-pci is never taken (a VM it cannot see may hold it)",
	  .fixture = "default",
	  .yaml = "  nics: { match: { vendor: 8086, device: 10d3 }, count: all, vm: vm1, on_stop: release }\n",
	  .doms = { { .name = "vm1" } },
	  .mutate = mutate_hook_release_unseen_vm,
	  .want = "check nics[0] 0000:00:02.0 (none) -> (none)\n"
	          "note: 'nics[0]': vm1 is not running and on_stop is release: the device stays with the host until it starts\n"
	          "note: pool 8086:10d3: 'nics[0]' gets 0000:00:02.0 (lowest free address)\n" },
	{ .name = "pools with overlapping matches: the second never takes what the first took",
	  .fixture = "default",
	  .yaml = "  any: { match: { vendor: 8086, device: 10d3 }, count: 1, state: bound }\n"
		  "  nic: { match: { vendor: 8086, device: 10d3, class: 0200 }, count: 1, state: bound }\n",
	  .want = "set_override any[0] 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind any[0] 0000:00:02.0 e1000e -> (none)\n"
	          "probe any[0] 0000:00:02.0 (none) -> vfio-pci\n"
	          "set_override nic[0] 0000:01:00.0 (none) -> vfio-pci\n"
	          "unbind nic[0] 0000:01:00.0 e1000e -> (none)\n"
	          "probe nic[0] 0000:01:00.0 (none) -> vfio-pci\n"
	          "note: pool 8086:10d3: 'any[0]' gets 0000:00:02.0 (lowest free address)\n"
	          "note: pool 8086:10d3 class 0200: 'nic[0]' gets 0000:01:00.0 (lowest free address)\n" },
	{ .name = "count: all takes every free one",
	  .fixture = "default",
	  .yaml = "  nics: { match: { vendor: 8086, device: 10d3 }, count: all, state: bound }\n",
	  .doms = { { .name = "hand", .running = true, .live = { "0000:01:00.0" } } },
	  .want = "set_override nics[0] 0000:00:02.0 (none) -> vfio-pci\n"
	          "unbind nics[0] 0000:00:02.0 e1000e -> (none)\n"
	          "probe nics[0] 0000:00:02.0 (none) -> vfio-pci\n"
	          "note: pool 8086:10d3: 'nics[0]' gets 0000:00:02.0 (lowest free address)\n" },
};

static void
run_case(void **state)
{
	const struct plan_case *c = *state;
	char *yaml = xasprintf("version: 1\n%sdevices:\n%s", c->top ? c->top : "", c->yaml);
	struct pt_diags d = PT_DIAGS_INIT;
	struct pt_config cfg;
	struct pt_observed obs;
	struct pt_plan plan, again;
	char *got, *got_again;

	if (pt_config_parse("case.yaml", yaml, strlen(yaml), &cfg, &d) < 0)
		fail_msg("case '%s': bad YAML: %s", c->name, d.v[0].msg);
	observe(c, &obs);
	pt_plan_compute(&cfg, &obs, c->only_vm, &plan);
	got = render(&obs, &plan);
	if (strcmp(got, c->want) != 0)
		print_error("case '%s'\n--- want\n%s--- got\n%s", c->name, c->want, got);
	assert_string_equal(got, c->want);
	/* deterministic, and its inputs are left as they were: a second run sees the same */
	pt_plan_compute(&cfg, &obs, c->only_vm, &again);
	got_again = render(&obs, &again);
	assert_string_equal(got, got_again);
	free(got);
	free(got_again);
	pt_plan_done(&plan);
	pt_plan_done(&again);
	pt_observed_done(&obs);
	pt_config_done(&cfg);
	pt_diags_done(&d);
	free(yaml);
}

int
main(void)
{
	struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0])];
	int r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tests[i] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						 .initial_state = (void *)&cases[i] };
	}
	r = _cmocka_run_group_tests("plan", tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
	pt_pci_names_done();
	return r;
}
