/* apply.c: runs a plan's steps on the host: sysfs writes, modprobe, libvirt attach/detach; the only code that changes anything. */
#include "reconcile/apply.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/xalloc.h"
#include "reconcile/child.h"
#include "reconcile/domxml.h"
#include "reconcile/fileio.h"
#include "reconcile/journal.h"
#include "reconcile/sysfs.h"
#include "reconcile/virt.h"

#define VFIO "vfio-pci"
#define MODPROBE_TIMEOUT_MS 60000
/* How long a device may take to come back after a rescan of its bus. */
#define RECOVER_WAIT_MS 10000

struct run {
	const struct pt_host *h;
	const struct pt_apply_opts *o;
	struct pt_sysfs sys;
	virConnectPtr conn;           /* opened on first use */
	char *err;                    /* the failing step's message */
};

static void __attribute__((format(printf, 2, 3)))
fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	free(r->err);
	va_start(ap, fmt);
	r->err = xvasprintf(fmt, ap);
	va_end(ap);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool
same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Writes value to a sysfs attribute (relative to the root); 0 or a negative errno, the message set. */
static int
write_attr(struct run *r, const char *rel, const char *value)
{
	char *err = NULL;
	int e = pt_sysfs_write(&r->sys, rel, value, &err);

	if (e < 0) {
		fail(r, "%s", err);
		free(err);
	}
	return e;
}

/* The same for a write that can block in the kernel (unbind, drivers_probe): bounded. */
static int
write_attr_bounded(struct run *r, const char *rel, const char *value)
{
	char *err = NULL;
	int e = pt_sysfs_write_bounded(&r->sys, rel, value,
				       r->o->write_timeout_ms ? r->o->write_timeout_ms : PT_WRITE_TIMEOUT_MS, &err);

	if (e == -ETIMEDOUT)
		fail(r, "%s: the device is probably wedged", err);
	else if (e < 0)
		fail(r, "%s", err);
	free(err);
	return e;
}

/* Runs modprobe [-r] MODULE [ARG] (bounded, no shell); 0 or -EIO with the message set. */
static int
run_modprobe(struct run *r, bool remove, const char *module, const char *arg)
{
	const char *argv[5] = { r->o->modprobe };
	size_t n = 1;

	char *err = NULL;

	if (remove)
		argv[n++] = "-r";
	argv[n++] = module;
	if (arg)
		argv[n++] = arg;
	argv[n] = NULL;
	if (pt_child_run(argv, MODPROBE_TIMEOUT_MS, &err) < 0) {
		fail(r, "%s", err);
		free(err);
		return -EIO;
	}
	return 0;
}

static bool
vfio_loaded(const struct run *r)
{
	char *path = pt_host_sysfs_path(r->h, "bus/pci/drivers/" VFIO);
	struct stat st;
	bool yes = stat(path, &st) == 0;

	free(path);
	return yes;
}

/* Waits until the driver link says `want` (NULL: any driver); returns what it says at the end. */
static char *
wait_driver(const struct run *r, const char *bdf, const char *want, unsigned timeout_ms)
{
	char *drv = pt_sysfs_driver(&r->sys, bdf);

	for (unsigned waited = 0; waited < timeout_ms; waited += 10) {
		if (want ? same(drv, want) : drv != NULL)
			break;
		free(drv);
		sleep_ms(10);
		drv = pt_sysfs_driver(&r->sys, bdf);
	}
	return drv;
}


/* Whether the sysfs path rel exists. */
static bool
sys_exists(const struct run *r, const char *rel)
{
	char *path = pt_host_sysfs_path(r->h, "%s", rel);
	struct stat st;
	bool yes = stat(path, &st) == 0;

	free(path);
	return yes;
}

/* A small sysfs attribute of device bdf, or NULL. */
static char *
read_attr(const struct run *r, const char *bdf, const char *name)
{
	char buf[64];

	return pt_sysfs_attr(&r->sys, bdf, name, buf, sizeof(buf)) < 0 ? NULL : xstrdup(buf);
}

static int
answers(const struct run *r, const char *bdf)
{
	return pt_sysfs_config_answers(&r->sys, bdf);
}

/* Waits up to timeout_ms for bdf to be there and answer; the ms it took, or -1. */
static int
wait_back(const struct run *r, const char *bdf, unsigned timeout_ms)
{
	for (unsigned waited = 0;; waited += 20) {
		if (answers(r, bdf) > 0)
			return (int)waited;
		if (waited >= timeout_ms)
			return -1;
		sleep_ms(20);
	}
}

/*
 * Writes "1" to the sysfs attribute rel (a reset, remove or rescan: bounded, they can block),
 * which is freed. When it is not there, fails with "BDF <missing>". 0, or the outcome the step
 * returns (FAILED or TIMED_OUT, the message set).
 */
static int
write_one(struct run *r, char *rel, const char *bdf, const char *missing, enum pt_step_outcome *out)
{
	int e;

	if (missing && !sys_exists(r, rel)) {
		fail(r, "%s %s", bdf, missing);
		free(rel);
		*out = PT_STEP_FAILED;
		return -ENOENT;
	}
	e = write_attr_bounded(r, rel, "1");
	free(rel);
	if (e < 0)
		*out = e == -ETIMEDOUT ? PT_STEP_TIMED_OUT : PT_STEP_FAILED;
	return e;
}

/* "DDDD:BB" of an address: its bus, as class/pci_bus names it (a domain above ffff in full:
 * "10000:e2" behind a VMD). */
static void
bus_name(const struct pt_pciaddr *a, char buf[16])
{
	snprintf(buf, 16, "%04x:%02x", (unsigned)a->domain, a->bus);
}

/* Rescans the bus of addr (and nothing else) and waits for the device; RECOVERED or FAILED. */
static enum pt_step_outcome
rescan_bus(struct run *r, const struct pt_step *s, const char *bdf, const char *before)
{
	enum pt_step_outcome out;
	char bus[16], *rel;
	int ms;

	bus_name(&s->addr, bus);
	rel = xasprintf("class/pci_bus/%s/rescan", bus);
	if (!sys_exists(r, rel)) {
		fail(r, "%s%s is gone and so is its bus %s (the bridge above it went too): a rescan of that bus "
		     "cannot bring it back; power-cycle the host", before, bdf, bus);
		free(rel);
		return PT_STEP_FAILED;
	}
	if (write_one(r, rel, bdf, NULL, &out) < 0)
		return out;
	ms = wait_back(r, bdf, RECOVER_WAIT_MS);
	if (ms < 0) {
		fail(r, "%srescanned bus %s, but %s did not come back and answer within %u s; power-cycle the host",
		     before, bus, bdf, RECOVER_WAIT_MS / 1000);
		return PT_STEP_FAILED;
	}
	fail(r, "%sback after a rescan of bus %s (%d ms); planning again", before, bus, ms);
	return PT_STEP_RECOVERED;
}

/* The journal's note that recover: rescan did not help, written or forgotten; a journal that
 * cannot be written adds to the step's message (it is failing anyway) or is left. */
static void
note_unresponsive(struct run *r, const char *bdf)
{
	char *err = NULL;

	if (pt_journal_set_unresponsive(&r->sys, bdf, true, &err) < 0) {
		char *m = r->err;

		r->err = xasprintf("%s (and %s)", m ? m : "", err);
		free(m);
		free(err);
	}
}

static void
forget_unresponsive(struct run *r, const char *bdf)
{
	char *err = NULL;

	pt_journal_set_unresponsive(&r->sys, bdf, false, &err);
	free(err);
}

/* Writes down (slot: its name) or forgets (NULL) which pool entry device bdf was taken for. */
static enum pt_step_outcome
note_pool(struct run *r, const char *bdf, const char *slot)
{
	char *err = NULL;

	if (pt_journal_set_pool(&r->sys, bdf, slot, &err) < 0) {
		fail(r, "%s", err);
		free(err);
		return PT_STEP_FAILED;
	}
	return PT_STEP_DONE;
}

/* A device that does not answer: a reset, then remove and a rescan of its bus (recover: rescan). */
static enum pt_step_outcome
recover(struct run *r, const struct pt_step *s, const char *bdf)
{
	char *rel = xasprintf("bus/pci/devices/%s/reset", bdf), *tried;
	int e;

	if (sys_exists(r, rel)) {
		e = write_attr_bounded(r, rel, "1");
		if (e == -ETIMEDOUT) {
			free(rel);
			return PT_STEP_TIMED_OUT;
		}
		if (e == 0 && answers(r, bdf) > 0) {
			free(rel);
			fail(r, "it answers again after a reset");
			return PT_STEP_DONE;
		}
		tried = xstrdup(e == 0 ? "a reset did not help; " : "a reset failed; ");
	} else {
		tried = xstrdup("it has no reset; ");
	}
	free(rel);
	rel = xasprintf("bus/pci/devices/%s/remove", bdf);
	e = write_attr_bounded(r, rel, "1");
	free(rel);
	if (e < 0) {
		char *m = r->err;

		r->err = xasprintf("%s%s", tried, m);
		free(m);
		free(tried);
		return e == -ETIMEDOUT ? PT_STEP_TIMED_OUT : PT_STEP_FAILED;
	}
	{
		char *before = xasprintf("%sremoved; ", tried);
		enum pt_step_outcome out = rescan_bus(r, s, bdf, before);

		free(before);
		free(tried);
		return out;
	}
}

/* power/control and d3cold_allowed: pinned in D0, or given back what the journal saved. */
static enum pt_step_outcome
step_power(struct run *r, const struct pt_step *s, const char *bdf)
{
	bool unpin = s->flags & PT_STEP_UNPIN;
	char *control = read_attr(r, bdf, "power/control"), *d3 = read_attr(r, bdf, "d3cold_allowed");
	const char *want_d3 = s->arg;
	enum pt_step_outcome out = PT_STEP_HELD;
	char *err = NULL, *rel;

	if (!unpin && !control && !d3) {
		fail(r, "%s has neither power/control nor d3cold_allowed: cannot keep it in D0", bdf);
		out = PT_STEP_FAILED;
		goto done;
	}
	if (!unpin && ((control && strcmp(control, "on") != 0) || (d3 && strcmp(d3, "0") != 0))) {
		/* what the kernel chose, for when power: on is taken out */
		struct pt_power_saved sv = { .set = true };

		snprintf(sv.control, sizeof(sv.control), "%s", control ? control : "");
		sv.d3cold_allowed = !d3 ? PT_TRI_UNKNOWN : strcmp(d3, "1") == 0 ? PT_TRI_YES : PT_TRI_NO;
		if (pt_journal_set_power(r->h, bdf, &sv, &err) < 0) {
			fail(r, "%s", err);
			out = PT_STEP_FAILED;
			goto done;
		}
	}
	if (s->to && control && strcmp(control, s->to) != 0) {
		rel = xasprintf("bus/pci/devices/%s/power/control", bdf);
		if (write_attr(r, rel, s->to) < 0)
			out = PT_STEP_FAILED;
		free(rel);
		if (out == PT_STEP_HELD)
			out = PT_STEP_DONE;
	}
	if (out != PT_STEP_FAILED && want_d3 && d3 && strcmp(d3, want_d3) != 0) {
		rel = xasprintf("bus/pci/devices/%s/d3cold_allowed", bdf);
		if (write_attr(r, rel, want_d3) < 0)
			out = PT_STEP_FAILED;
		else
			out = PT_STEP_DONE;
		free(rel);
	}
	if (out == PT_STEP_DONE) {
		char *c2 = read_attr(r, bdf, "power/control"), *d2 = read_attr(r, bdf, "d3cold_allowed");

		if ((s->to && control && !same(c2, s->to)) || (want_d3 && d3 && !same(d2, want_d3))) {
			fail(r, "power/control reads '%s' and d3cold_allowed '%s' after writing them", c2 ? c2 : "?",
			     d2 ? d2 : "?");
			out = PT_STEP_FAILED;
		}
		free(c2);
		free(d2);
	}
	if (unpin && out != PT_STEP_FAILED && pt_journal_set_power(r->h, bdf, NULL, &err) < 0) {
		fail(r, "%s", err);
		out = PT_STEP_FAILED;
	}
done:
	free(err);
	free(control);
	free(d3);
	return out;
}

static virDomainPtr
lookup_domain(struct run *r, const char *name)
{
	virDomainPtr dom;

	if (!r->conn) {
		char *err = NULL;

		if (pt_virt_load(&err) < 0) {
			fail(r, "%s", err);
			free(err);
			return NULL;
		}
		r->conn = pt_virt.virConnectOpen(r->h->libvirt_uri);
		if (!r->conn) {
			fail(r, "cannot connect to libvirt at '%s': %s", r->h->libvirt_uri, pt_virt.virGetLastErrorMessage());
			return NULL;
		}
	}
	dom = pt_virt.virDomainLookupByName(r->conn, name);
	if (!dom)
		fail(r, "cannot find domain '%s': %s", name, pt_virt.virGetLastErrorMessage());
	return dom;
}

/* Does the domain's live (or persistent) XML list addr? -1 with the message set on error. */
static int
domain_has(struct run *r, virDomainPtr dom, const struct pt_pciaddr *addr, bool config)
{
	char *xml = pt_virt.virDomainGetXMLDesc(dom, config ? VIR_DOMAIN_XML_INACTIVE : 0);
	struct pt_domain d;
	char *err = NULL;
	int has;

	if (!xml) {
		fail(r, "cannot read the XML of domain '%s': %s", pt_virt.virDomainGetName(dom), pt_virt.virGetLastErrorMessage());
		return -1;
	}
	memset(&d, 0, sizeof(d));
	if (pt_domxml_parse(xml, strlen(xml), &d.title, config ? &d.config : &d.live,
			    config ? &d.n_config : &d.n_live, NULL, &err) < 0) {
		fail(r, "domain '%s': %s", pt_virt.virDomainGetName(dom), err);
		free(err);
		free(xml);
		return -1;
	}
	free(xml);
	has = pt_domain_has_hostdev(&d, addr, config);
	pt_domain_done(&d);
	return has;
}

/* Does the domain's live (or persistent) XML hold USB step s's hostdev? -1 with the message set on error. */
static int
domain_has_usb(struct run *r, virDomainPtr dom, const struct pt_step *s, bool config)
{
	char *xml = pt_virt.virDomainGetXMLDesc(dom, config ? VIR_DOMAIN_XML_INACTIVE : 0);
	struct pt_domain d;
	char *err = NULL;
	int has = 0;

	if (!xml) {
		fail(r, "cannot read the XML of domain '%s': %s", pt_virt.virDomainGetName(dom), pt_virt.virGetLastErrorMessage());
		return -1;
	}
	memset(&d, 0, sizeof(d));
	if (pt_domxml_parse_all(xml, strlen(xml), &d.title, &d.live, &d.n_live, &d.usb_live, &d.n_usb_live, NULL,
				&err) < 0) {
		fail(r, "domain '%s': %s", pt_virt.virDomainGetName(dom), err);
		free(err);
		free(xml);
		return -1;
	}
	free(xml);
	for (size_t i = 0; i < d.n_usb_live && !has; i++) {
		const struct pt_usbhostdev *h = &d.usb_live[i];

		has = s->usb_by_ids ? !h->has_addr && h->has_ids && h->vendor == s->usb_vendor && h->product == s->usb_product
				    : h->has_addr && h->bus == s->usb_bus && h->device == s->usb_dev;
	}
	pt_domain_done(&d);
	return has;
}

static unsigned
virt_flags(unsigned step_flags)
{
	return (step_flags & PT_STEP_LIVE ? VIR_DOMAIN_AFFECT_LIVE : 0) |
	       (step_flags & PT_STEP_CONFIG ? VIR_DOMAIN_AFFECT_CONFIG : 0);
}

/* Attach or detach: check, act on what is still needed, verify. */
static enum pt_step_outcome
step_domain(struct run *r, const struct pt_step *s, const char *bdf)
{
	bool attach = s->kind == PT_STEP_ATTACH;
	virDomainPtr dom = lookup_domain(r, s->domain);
	unsigned todo = 0;
	char *xml;
	int rc;

	if (!dom)
		return PT_STEP_FAILED;
	for (unsigned f = PT_STEP_LIVE; f <= PT_STEP_CONFIG; f <<= 1) {
		int has;

		if (!(s->flags & f))
			continue;
		has = s->flags & PT_STEP_USB ? domain_has_usb(r, dom, s, f == PT_STEP_CONFIG)
					     : domain_has(r, dom, &s->addr, f == PT_STEP_CONFIG);
		if (has < 0) {
			pt_virt.virDomainFree(dom);
			return PT_STEP_FAILED;
		}
		if (has != attach)
			todo |= f;
	}
	if (!todo) {
		pt_virt.virDomainFree(dom);
		return PT_STEP_HELD;
	}
	if (!(s->flags & PT_STEP_USB))
		xml = pt_domxml_hostdev(&s->addr);
	else if (s->usb_by_ids)
		xml = pt_domxml_usb_hostdev_ids(s->usb_vendor, s->usb_product);
	else
		xml = pt_domxml_usb_hostdev(s->usb_bus, s->usb_dev);
	rc = attach ? pt_virt.virDomainAttachDeviceFlags(dom, xml, virt_flags(todo))
		    : pt_virt.virDomainDetachDeviceFlags(dom, xml, virt_flags(todo));
	free(xml);
	if (rc < 0) {
		fail(r, "cannot %s %s %s domain '%s': %s", attach ? "attach" : "detach", bdf,
		     attach ? "to" : "from", s->domain, pt_virt.virGetLastErrorMessage());
		pt_virt.virDomainFree(dom);
		return PT_STEP_FAILED;
	}
	/* A live detach finishes when the guest lets go of the device: wait for the XML to say so. */
	for (unsigned f = PT_STEP_LIVE; f <= PT_STEP_CONFIG; f <<= 1) {
		unsigned limit = f == PT_STEP_LIVE && !attach ? r->o->detach_timeout_ms : 0;
		int has = -1;

		if (!(todo & f))
			continue;
		for (unsigned waited = 0;; waited += 100) {
			has = s->flags & PT_STEP_USB ? domain_has_usb(r, dom, s, f == PT_STEP_CONFIG)
						     : domain_has(r, dom, &s->addr, f == PT_STEP_CONFIG);
			if (has < 0 || has == attach || waited >= limit)
				break;
			sleep_ms(100);
		}
		if (has < 0) {
			pt_virt.virDomainFree(dom);
			return PT_STEP_FAILED;
		}
		if (has != attach) {
			fail(r, "libvirt reported the %s of %s done, but the %s XML of domain '%s' %s it after %u ms",
			     attach ? "attach" : "detach", bdf, f == PT_STEP_CONFIG ? "persistent" : "live",
			     s->domain, attach ? "lacks" : "still has", limit);
			pt_virt.virDomainFree(dom);
			return PT_STEP_FAILED;
		}
	}
	pt_virt.virDomainFree(dom);
	return PT_STEP_DONE;
}

static enum pt_step_outcome
run_step(struct run *r, const struct pt_step *s)
{
	char bdf[PT_PCIADDR_BUFSZ];
	char *drv, *ovr, *rel;
	enum pt_step_outcome out = PT_STEP_DONE;
	int e;

	pt_pciaddr_format(&s->addr, bdf);
	switch (s->kind) {
	case PT_STEP_LOAD_VFIO:
		if (vfio_loaded(r))
			return PT_STEP_HELD;
		if (run_modprobe(r, false, "vfio-pci", s->arg) < 0)
			return PT_STEP_FAILED;
		for (unsigned waited = 0; !vfio_loaded(r) && waited < r->o->probe_timeout_ms; waited += 10)
			sleep_ms(10);
		if (!vfio_loaded(r)) {
			fail(r, "modprobe vfio-pci succeeded but bus/pci/drivers/vfio-pci did not appear");
			return PT_STEP_FAILED;
		}
		if (s->arg) {
			/* the value in force is known from now on, for this load */
			char *err = NULL;

			if (pt_journal_set_vfio(r->h, strcmp(s->arg, "disable_idle_d3=1") == 0, &err) < 0) {
				fail(r, "loaded, but %s", err);
				free(err);
				return PT_STEP_FAILED;
			}
		}
		return PT_STEP_DONE;
	case PT_STEP_UNLOAD_VFIO: {
		char *path, *buf = NULL, *err = NULL;
		size_t len;
		long refs = 0;

		if (!vfio_loaded(r))
			return PT_STEP_HELD;
		/* an open vfio device holds the module: the plan saw none, look again */
		path = pt_host_sysfs_path(r->h, "module/vfio_pci/refcnt");
		if (pt_read_file(path, 64, &buf, &len) == 0)
			refs = strtol(buf, NULL, 10);
		free(buf);
		free(path);
		if (refs > 0) {
			fail(r, "vfio-pci is in use (refcnt %ld): not unloaded", refs);
			return PT_STEP_FAILED;
		}
		if (run_modprobe(r, true, "vfio-pci", NULL) < 0)
			return PT_STEP_FAILED;
		for (unsigned waited = 0; vfio_loaded(r) && waited < r->o->probe_timeout_ms; waited += 10)
			sleep_ms(10);
		if (vfio_loaded(r)) {
			fail(r, "modprobe -r vfio-pci succeeded but bus/pci/drivers/vfio-pci is still there");
			return PT_STEP_FAILED;
		}
		if (pt_journal_set_vfio(r->h, -1, &err) < 0) {
			fail(r, "unloaded, but %s", err);
			free(err);
			return PT_STEP_FAILED;
		}
		return PT_STEP_DONE;
	}
	case PT_STEP_SET_OVERRIDE:
	case PT_STEP_CLEAR_OVERRIDE:
		ovr = pt_sysfs_override(&r->sys, bdf);
		if (same(ovr, s->to)) {
			free(ovr);
			return PT_STEP_HELD;
		}
		free(ovr);
		rel = xasprintf("bus/pci/devices/%s/driver_override", bdf);
		/* a lone newline clears it */
		if (write_attr(r, rel, s->to ? s->to : "\n") < 0)
			out = PT_STEP_FAILED;
		free(rel);
		if (out == PT_STEP_DONE) {
			ovr = pt_sysfs_override(&r->sys, bdf);
			if (!same(ovr, s->to)) {
				fail(r, "driver_override of %s reads '%s' after writing it", bdf, ovr ? ovr : "(null)");
				out = PT_STEP_FAILED;
			}
			free(ovr);
		}
		return out;
	case PT_STEP_UNBIND:
		drv = pt_sysfs_driver(&r->sys, bdf);
		if (!drv)
			return PT_STEP_HELD;
		if (!same(drv, s->from)) {
			fail(r, "%s is on %s now, not %s as planned; run again to plan anew", bdf, drv, s->from);
			free(drv);
			return PT_STEP_FAILED;
		}
		rel = xasprintf("bus/pci/drivers/%s/unbind", drv);
		e = write_attr_bounded(r, rel, bdf);
		if (e < 0)
			out = e == -ETIMEDOUT ? PT_STEP_TIMED_OUT : PT_STEP_FAILED;
		free(rel);
		free(drv);
		if (out == PT_STEP_DONE && (drv = pt_sysfs_driver(&r->sys, bdf))) {
			fail(r, "%s is still on %s after unbind", bdf, drv);
			free(drv);
			out = PT_STEP_FAILED;
		}
		return out;
	case PT_STEP_PROBE:
		drv = pt_sysfs_driver(&r->sys, bdf);
		if (drv && (!s->to || same(drv, s->to))) {
			free(drv);
			return PT_STEP_HELD;
		}
		if (drv) {
			fail(r, "%s is on %s, not %s; run again to plan anew", bdf, drv, s->to);
			free(drv);
			return PT_STEP_FAILED;
		}
		e = write_attr_bounded(r, "bus/pci/drivers_probe", bdf);
		if (e < 0)
			return e == -ETIMEDOUT ? PT_STEP_TIMED_OUT : PT_STEP_FAILED;
		drv = wait_driver(r, bdf, s->to, s->to ? r->o->probe_timeout_ms : r->o->probe_timeout_ms / 5);
		if (s->to && !same(drv, s->to)) {
			fail(r, "%s is on %s after probing, not %s (waited %u ms)", bdf, drv ? drv : "no driver",
			     s->to, r->o->probe_timeout_ms);
			out = PT_STEP_FAILED;
		} else if (s->flags & PT_STEP_POOL) {
			out = note_pool(r, bdf, s->device);
		} else if (!s->to) {
			/* Back to the host: the journal says whether a driver took it, so that a device
			 * no driver claims is a problem of the next plan, not probed again (and again). */
			char *err = NULL;

			if (pt_journal_set(&r->sys, bdf, drv == NULL, &err) < 0) {
				fail(r, "%s%s", drv ? "" : "no host driver claims it after probing, and ", err);
				free(err);
				out = PT_STEP_FAILED;
			} else {
				out = note_pool(r, bdf, NULL);   /* no pool entry's any more */
			}
		}
		free(drv);
		return out;
	case PT_STEP_ATTACH:
		out = step_domain(r, s, s->usb_label ? s->usb_label : bdf);
		return out == PT_STEP_DONE && (s->flags & PT_STEP_POOL) ? note_pool(r, bdf, s->device) : out;
	case PT_STEP_DETACH:
		return step_domain(r, s, s->usb_label ? s->usb_label : bdf);
	case PT_STEP_POWER:
		return step_power(r, s, bdf);
	case PT_STEP_CHECK:
		e = answers(r, bdf);
		if (e > 0) {
			forget_unresponsive(r, bdf);
			return PT_STEP_HELD;
		}
		if (s->flags & PT_STEP_RECOVER) {
			out = e == -ENOENT ? rescan_bus(r, s, bdf, "") : recover(r, s, bdf);
			if (out == PT_STEP_FAILED && answers(r, bdf) == 0)
				note_unresponsive(r, bdf);   /* back, but dead: not tried again */
			else if (out == PT_STEP_DONE || out == PT_STEP_RECOVERED)
				forget_unresponsive(r, bdf);
			return out;
		}
		if (e == -ENOENT)
			fail(r, "%s is gone from the bus; set recover: rescan to have passthrough rescan its bus", bdf);
		else if (s->flags & PT_STEP_GAVE_UP)
			fail(r, "%s does not answer (its config space reads %s): not hot-plugged; recover: rescan did not "
			     "bring it back before (see the journal); power-cycle the host", bdf, e == 0 ? "ffff" : strerror(-e));
		else
			fail(r, "%s does not answer (its config space reads %s): not hot-plugged; set recover: rescan to have "
			     "passthrough try a reset, remove and a rescan of its bus, or power-cycle the host", bdf,
			     e == 0 ? "ffff" : strerror(-e));
		return PT_STEP_FAILED;
	case PT_STEP_RESCAN:
		if (answers(r, bdf) > 0)
			return PT_STEP_HELD;
		return rescan_bus(r, s, bdf, "");
	case PT_STEP_RESET:
		if (write_one(r, xasprintf("bus/pci/devices/%s/reset", bdf), bdf,
			      "has no 'reset': the kernel knows no way to reset it; take reset: before_attach out", &out) < 0)
			return out;
		if (answers(r, bdf) <= 0) {
			fail(r, "%s does not answer after its reset: not hot-plugged", bdf);
			return PT_STEP_FAILED;
		}
		return PT_STEP_DONE;
	}
	return PT_STEP_FAILED;
}

static bool
listed(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Does the plan move this device to vfio-pci? */
static bool
moves_to_vfio(const struct pt_plan *plan, const char *device)
{
	for (size_t i = 0; i < plan->n_steps; i++) {
		const struct pt_step *s = &plan->steps[i];

		if (s->device && strcmp(s->device, device) == 0 && s->to && strcmp(s->to, VFIO) == 0 &&
		    (s->kind == PT_STEP_SET_OVERRIDE || s->kind == PT_STEP_PROBE))
			return true;
	}
	return false;
}

unsigned
pt_apply(const struct pt_host *h, const struct pt_plan *plan, const struct pt_apply_opts *o,
	 pt_step_report_fn report, void *data)
{
	struct run r = { .h = h, .o = o };
	unsigned failed = 0;
	/* devices whose later steps are skipped; the names belong to the plan */
	const char **stopped = xcalloc(plan->n_steps + 1, sizeof(*stopped));
	size_t n_stopped = 0;
	bool no_vfio = false;

	pt_sysfs_open(h, &r.sys); /* a failure shows in the first step that reads */
	for (size_t i = 0; i < plan->n_steps; i++) {
		const struct pt_step *s = &plan->steps[i];
		enum pt_step_outcome out;

		/* Without vfio-pci, an override naming it would leave the device on no driver. */
		if (s->device && (listed(stopped, n_stopped, s->device) || (no_vfio && moves_to_vfio(plan, s->device)))) {
			report(data, s, PT_STEP_SKIPPED, NULL);
			continue;
		}
		free(r.err);
		r.err = NULL;
		out = run_step(&r, s);
		if (out == PT_STEP_FAILED || out == PT_STEP_TIMED_OUT) {
			failed++;
			if (s->kind == PT_STEP_LOAD_VFIO)
				no_vfio = true;
			else if (s->device)
				stopped[n_stopped++] = s->device;
		} else if (out == PT_STEP_RECOVERED && s->device) {
			stopped[n_stopped++] = s->device;   /* a new device now: planned again */
		}
		report(data, s, out, out == PT_STEP_HELD || out == PT_STEP_SKIPPED ? NULL : r.err);
	}
	if (r.conn)
		pt_virt.virConnectClose(r.conn);
	pt_sysfs_close(&r.sys);
	free(stopped);
	free(r.err);
	return failed;
}
