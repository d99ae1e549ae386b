/* plan.c: the planner, a pure function from (desired, observed) to an ordered list of steps. */
#include "reconcile/plan.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/xalloc.h"

#define VFIO "vfio-pci"

/* What an entry needs from the host, once its domain is known. */
struct want {
	const struct pt_device *entry;
	const struct pt_slot *slot;    /* its device (or why it has none), owned by the assignment */
	const char *name;              /* the slot's name, for messages and steps */
	const struct pt_pcidev *dev;
	const struct pt_domain *dom;   /* attached: its domain */
	bool vfio;                     /* on vfio-pci (else: on its host driver) */
	bool live;                     /* attached live to dom */
	bool config;                   /* in dom's persistent definition */
	bool failed;
	bool in_scope;                 /* gets steps and reports (all, or only --vm's) */
	bool rescan;                   /* gone from its address, recover: rescan: rescan its bus */
};

/* What the whole plan does to vfio-pci itself. */
struct vfio_plan {
	bool reload;                   /* unload and load it again (with the declared parameters):
					* every device on vfio-pci is probed again after */
	const char *arg;               /* the parameters to load it with, or NULL */
};

/* Appends a formatted line to a list of strings (the plan's notes). */
static void __attribute__((format(printf, 4, 5)))
add_text(char ***v, size_t *n, size_t *cap, const char *fmt, ...)
{
	va_list ap;

	xgrow(v, cap, *n + 1, sizeof(**v));
	va_start(ap, fmt);
	(*v)[(*n)++] = xvasprintf(fmt, ap);
	va_end(ap);
}

#define add_note(p, ...) add_text(&(p)->notes, &(p)->n_notes, &(p)->cap_notes, __VA_ARGS__)

static void __attribute__((format(printf, 6, 7)))
add_problem(struct pt_plan *p, enum pt_problem_kind kind, const struct pt_device *entry, const char *name,
	    const struct pt_pcidev *dev, const char *fmt, ...)
{
	struct pt_problem *pr;
	va_list ap;

	xgrow(&p->problems, &p->cap_problems, p->n_problems + 1, sizeof(*p->problems));
	pr = &p->problems[p->n_problems++];
	memset(pr, 0, sizeof(*pr));
	pr->kind = kind;
	pr->entry = entry;
	pr->name = name ? xstrdup(name) : NULL;
	if (dev) {
		pr->has_addr = true;
		pr->addr = dev->addr;
	}
	va_start(ap, fmt);
	pr->message = xvasprintf(fmt, ap);
	va_end(ap);
}

/* What is wrong with entry w, reported only when w is in scope (the hook plans one VM). */
#define want_error(p, w, kind, ...) \
	do { if ((w)->in_scope) add_problem(p, kind, (w)->entry, (w)->name, (w)->dev, __VA_ARGS__); } while (0)
#define want_note(p, w, ...) do { if ((w)->in_scope) add_note(p, __VA_ARGS__); } while (0)

static struct pt_step *
add_step(struct pt_plan *p, enum pt_step_kind kind, const char *device, const struct pt_pciaddr *addr,
	 const char *from, const char *to)
{
	struct pt_step *s;

	xgrow(&p->steps, &p->cap_steps, p->n_steps + 1, sizeof(*p->steps));
	s = &p->steps[p->n_steps++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->device = device ? xstrdup(device) : NULL;
	if (addr)
		s->addr = *addr;
	s->from = from ? xstrdup(from) : NULL;
	s->to = to ? xstrdup(to) : NULL;
	return s;
}

static const char *
label(const struct pt_domain *dom)
{
	return dom->title ? dom->title : dom->name;
}

static bool
on_vfio(const struct pt_pcidev *d)
{
	return d->driver && strcmp(d->driver, VFIO) == 0;
}

/* vfio-pci or pci-stub: a driver that only holds the device away from the host. */
static bool
on_stub(const struct pt_pcidev *d)
{
	return on_vfio(d) || (d->driver && strcmp(d->driver, "pci-stub") == 0);
}

static bool
override_is_vfio(const struct pt_pcidev *d)
{
	return d->driver_override && strcmp(d->driver_override, VFIO) == 0;
}

/*
 * Steps that move d to vfio-pci; *need_vfio is set when a probe needs the module. With reload,
 * a device on vfio-pci is probed again after the module's reload (which unbinds it). Returns
 * whether it probes (binding vfio-pci sets power/control to auto).
 */
static bool
plan_bind(struct pt_plan *p, const char *entry, const struct pt_pcidev *d, unsigned flags, bool reload,
	  bool *need_vfio)
{
	struct pt_step *s;

	if (!override_is_vfio(d)) {
		s = add_step(p, PT_STEP_SET_OVERRIDE, entry, &d->addr, d->driver_override, VFIO);
		s->flags = flags;
		s->reason = xstrdup("so that only vfio-pci may bind it");
	}
	if (on_vfio(d) && reload) {
		s = add_step(p, PT_STEP_PROBE, entry, &d->addr, NULL, VFIO);
		s->flags = flags;
		s->reason = xstrdup("bind it to vfio-pci again once the module is reloaded");
		return true;
	}
	if (on_vfio(d))
		return false;
	if (d->driver) {
		s = add_step(p, PT_STEP_UNBIND, entry, &d->addr, d->driver, NULL);
		s->flags = flags;
		s->reason = xasprintf("take it from %s", d->driver);
	}
	s = add_step(p, PT_STEP_PROBE, entry, &d->addr, NULL, VFIO);
	s->flags = flags;
	s->reason = xstrdup("bind it to vfio-pci");
	*need_vfio = true;
	return true;
}

/*
 * Steps that give w's device back to its host driver. Unbind comes before clearing the
 * override, so that a run killed in between leaves the override set, which the next run sees.
 * Released means on a host driver: a device on no driver is probed, whatever left it there (a
 * run killed between clearing the override and the probe, a driver unloaded). Once apply has
 * probed it and no driver took it (d->unclaimed: with the drivers loaded now), it is not
 * probed again: that is a problem of the entry, never converged.
 */
static void
plan_release(struct pt_plan *p, const struct want *w)
{
	const struct pt_device *e = w->entry;
	const struct pt_pcidev *d = w->dev;
	char a[PT_PCIADDR_BUFSZ];
	struct pt_step *s;

	if (!d->driver && !d->driver_override && d->unclaimed) {
		add_problem(p, PT_PROBLEM_NO_HOST_DRIVER, e, w->name, d, "'%s' %s: no host driver claims it (probed); load its "
			    "driver or %s", w->name, pt_pciaddr_format(&d->addr, a),
			    e->state == PT_STATE_RELEASED ? "declare it bound" : "set on_stop: keep");
		return;
	}
	if (on_stub(d)) {
		s = add_step(p, PT_STEP_UNBIND, w->name, &d->addr, d->driver, NULL);
		s->reason = xasprintf("declared released: take it from %s", d->driver);
	}
	if (d->driver_override) {
		s = add_step(p, PT_STEP_CLEAR_OVERRIDE, w->name, &d->addr, d->driver_override, NULL);
		s->reason = xstrdup("let its host driver bind it again");
	}
	if (on_stub(d) || !d->driver) {
		s = add_step(p, PT_STEP_PROBE, w->name, &d->addr, NULL, NULL);
		s->reason = xstrdup(on_stub(d) || d->driver_override ? "hand it back to its host driver"
								      : "on no driver: find its host driver");
	}
}

/* The running domain, other than `except`, that has d attached live; NULL when none. */
static const struct pt_domain *
attached_elsewhere(const struct pt_observed *obs, const struct pt_pcidev *d, const struct pt_domain *except)
{
	for (size_t i = 0; obs->have_domains && i < obs->n_doms; i++) {
		const struct pt_domain *dom = &obs->doms[i];

		if (dom != except && dom->state == PT_DOMAIN_RUNNING && pt_domain_has_hostdev(dom, &d->addr, false))
			return dom;
	}
	return NULL;
}

/* Finds the entry, other than `self`, that selects device dev (even one that failed). */
static const struct want *
claimed_by(const struct want *wants, size_t n, const struct pt_pcidev *dev, const struct want *self)
{
	for (size_t i = 0; i < n; i++)
		if (&wants[i] != self && wants[i].dev == dev)
			return &wants[i];
	return NULL;
}

/*
 * Checks that w's IOMMU group ends up usable: for a device going to vfio-pci, every other
 * member on vfio-pci or driverless, and none of them in another VM; for a device going back
 * to the host, no other member left on vfio-pci (a host driver must not bind into a group
 * that vfio holds). Adds error lines and returns false when not.
 */
static bool
check_group(struct pt_plan *p, const struct pt_observed *obs, const struct want *wants, size_t n,
	    const struct want *w)
{
	const struct pt_pcidev *d = w->dev;
	char a[PT_PCIADDR_BUFSZ], b[PT_PCIADDR_BUFSZ];
	bool ok = true;

	if (!w->vfio && d->driver && !on_stub(d) && !d->driver_override)
		return true;   /* already on a host driver: nothing moves */
	if (!w->vfio && pt_pcidev_is_bridge(d))
		return true;   /* a bridge is exempt from viability, on any driver */
	if (d->iommu_group < 0) {
		if (!w->vfio)
			return true;
		want_error(p, w, PT_PROBLEM_NO_IOMMU, "'%s' %s: no IOMMU group; is the IOMMU on? (boot with intel_iommu=on or "
			   "amd_iommu=on, and enable VT-d/AMD-Vi in the firmware)", w->name,
			   pt_pciaddr_format(&d->addr, a));
		return false;
	}
	pt_pciaddr_format(&d->addr, a);
	for (size_t i = 0; i < obs->n_devs; i++) {
		const struct pt_pcidev *m = &obs->devs[i];
		const struct want *other;
		const struct pt_domain *elsewhere;

		if (m == d || m->iommu_group != d->iommu_group || pt_pcidev_is_bridge(m))
			continue;
		pt_pciaddr_format(&m->addr, b);
		other = claimed_by(wants, n, m, w);
		if (!w->vfio) {
			if (other && !other->vfio && !other->failed)
				continue;   /* released together (unless its release is refused: then it stays) */
			if (on_vfio(m) || (other && other->vfio && !other->failed)) {
				want_error(p, w, PT_PROBLEM_GROUP, "'%s' %s: cannot go back to the host while %s%s%s%s shares IOMMU "
					   "group %d on vfio-pci; release them together", w->name, a, b,
					   other ? " ('" : "", other ? other->name : "", other ? "')" : "",
					   d->iommu_group);
				ok = false;
			}
			continue;
		}
		if (other && other->vfio && !other->failed) {
			if (w->dom && other->dom && other->dom != w->dom) {
				want_error(p, w, PT_PROBLEM_GROUP, "'%s' %s: IOMMU group %d also holds %s ('%s'), which goes to %s; "
					   "a group can go to one VM only", w->name, a, d->iommu_group, b,
					   other->name, label(other->dom));
				ok = false;
			}
			continue;
		}
		if (other && other->vfio) {
			want_error(p, w, PT_PROBLEM_GROUP, "'%s' %s: IOMMU group %d would not be viable: %s ('%s') shares it and "
				   "cannot move (see its own error)", w->name, a, d->iommu_group, b,
				   other->name);
			ok = false;
			continue;
		}
		if (other) {
			if (other->entry->state == PT_STATE_ATTACHED)
				want_error(p, w, PT_PROBLEM_GROUP, "'%s' %s: IOMMU group %d would not be viable: %s ('%s') shares it "
					   "and goes back to the host while %s is stopped (on_stop: release)",
					   w->name, a, d->iommu_group, b, other->name,
					   other->dom ? label(other->dom) : other->entry->vm);
			else
				want_error(p, w, PT_PROBLEM_GROUP, "'%s' %s: IOMMU group %d would not be viable: %s ('%s') shares it "
					   "and is declared %s; declare it bound or attached", w->name, a,
					   d->iommu_group, b, other->name, pt_state_name(other->entry->state));
			ok = false;
			continue;
		}
		elsewhere = attached_elsewhere(obs, m, w->dom);
		if (elsewhere) {
			want_error(p, w, PT_PROBLEM_GROUP, "'%s' %s: IOMMU group %d also holds %s, which is attached to %s; "
				   "a group can go to one VM only", w->name, a, d->iommu_group, b,
				   label(elsewhere));
			ok = false;
			continue;
		}
		if (!m->driver || on_vfio(m) || w->entry->whole_group) {
			if (w->entry->whole_group && m->driver && !on_vfio(m) && m->host_use && !w->entry->force) {
				want_error(p, w, PT_PROBLEM_HOST_USE, "'%s' %s: IOMMU group %d member %s is in use by the host (%s); "
					   "set force: true to take it anyway", w->name, a, d->iommu_group, b,
					   m->host_use_why);
				ok = false;
			}
			continue;
		}
		want_error(p, w, PT_PROBLEM_GROUP, "'%s' %s: IOMMU group %d would not be viable: %s (%04x:%04x) shares it and is "
			   "on %s; declare it in the file (e.g. with state: bound) or set whole_group: true",
			   w->name, a, d->iommu_group, b, m->vendor, m->device, m->driver);
		ok = false;
	}
	return ok;
}

/* Works out what the entry needs; false (with an error line) when it cannot be planned. */
static bool
resolve_want(struct pt_plan *p, const struct pt_observed *obs, struct want *w)
{
	const struct pt_device *e = w->entry;
	char *err = NULL;
	char a[PT_PCIADDR_BUFSZ];

	w->dev = w->slot->dev;
	if (!w->dev && e->has_address && !pt_observed_dev(obs, &e->address) && e->recover == PT_RECOVER_RESCAN &&
	    e->state != PT_STATE_RELEASED) {
		w->rescan = true;   /* gone: its bus is rescanned (apply checks the bus is still there) */
		return false;
	}
	if (!w->dev) {
		const char *hint = "";

		if (e->has_address && e->state != PT_STATE_RELEASED && !pt_observed_dev(obs, &e->address))
			hint = "; if it fell off the bus, set recover: rescan to have passthrough rescan its bus";
		want_error(p, w, PT_PROBLEM_DEVICE, "'%s': %s%s", w->name, w->slot->err, hint);
		return false;
	}
	if (e->state == PT_STATE_ATTACHED && e->reset == PT_RESET_BEFORE_ATTACH && w->dev->has_reset == PT_TRI_NO) {
		want_error(p, w, PT_PROBLEM_NO_RESET, "'%s' %s: reset: before_attach, but the kernel has no reset method for "
			   "it (no 'reset' attribute); take reset out (and see 'passthrough doctor')", w->name,
			   pt_pciaddr_format(&w->dev->addr, a));
		return false;
	}
	if (w->dev->answers == PT_TRI_NO && (e->recover == PT_RECOVER_NONE || e->state == PT_STATE_RELEASED)) {
		want_error(p, w, PT_PROBLEM_NOT_RESPONDING, "'%s' %s: does not answer (its config space reads ffff)%s",
			   w->name, pt_pciaddr_format(&w->dev->addr, a),
			   e->state == PT_STATE_RELEASED ? "; power-cycle the host to bring it back"
			   : "; set recover: rescan to have passthrough try a reset, remove and a rescan of its bus, "
			     "or power-cycle the host");
		return false;
	}
	switch (e->state) {
	case PT_STATE_RELEASED:
		w->vfio = false;
		return true;
	case PT_STATE_BOUND:
		w->vfio = true;
		break;
	case PT_STATE_ATTACHED:
		w->vfio = true;
		if (!obs->have_domains)
			break;
		assert(e->vm);   /* the config loader sets vm for every attached entry */
		w->dom = pt_find_domain(obs, e->vm, &err);
		if (!w->dom) {
			want_error(p, w, PT_PROBLEM_DOMAIN, "'%s': %s", w->name, err);
			free(err);
			return false;
		}
		w->config = e->persistent;
		w->live = w->dom->state == PT_DOMAIN_RUNNING;
		if (!w->live && e->on_stop == PT_ON_STOP_RELEASE) {
			w->vfio = false;
			want_note(p, w, "'%s': %s is not running and on_stop is release: the device stays with the "
				 "host until it starts", w->name, label(w->dom));
		} else if (!w->live) {
			want_note(p, w, "'%s': %s is not running: the attach waits until it starts", w->name,
				 label(w->dom));
		}
		break;
	}
	if (w->vfio && pt_pcidev_is_bridge(w->dev)) {
		want_error(p, w, PT_PROBLEM_BRIDGE, "'%s' %s: a PCI bridge cannot be passed through", w->name,
			 pt_pciaddr_format(&w->dev->addr, a));
		return false;
	}
	if (w->vfio && w->dev->host_use && !on_vfio(w->dev) && !e->force) {
		want_error(p, w, PT_PROBLEM_HOST_USE, "'%s' %s: in use by the host: %s; stop using it there, or set force: true",
			 w->name, pt_pciaddr_format(&w->dev->addr, a), w->dev->host_use_why);
		return false;
	}
	return true;
}

/* power: on kept in D0, or the kernel's choice given back; `probed`: vfio-pci is bound anew
 * (which sets power/control to auto). */
static void
plan_power(struct pt_plan *p, const struct want *w, bool probed)
{
	const struct pt_device *e = w->entry;
	const struct pt_pcidev *d = w->dev;
	const struct pt_power_saved *sv = &d->power_saved;
	struct pt_step *s;

	if (e->power_on && w->vfio) {
		bool on = d->power_control && strcmp(d->power_control, "on") == 0;

		/* held only when what the kernel shows says so: a kernel that shows neither gets the
		 * step, which fails saying it cannot keep the device in D0 (never converged unseen) */
		if (!probed && (on || !d->power_control) && d->d3cold_allowed != PT_TRI_YES &&
		    (d->power_control || d->d3cold_allowed != PT_TRI_UNKNOWN))
			return;
		s = add_step(p, PT_STEP_POWER, w->name, &d->addr, probed ? "auto" : d->power_control, "on");
		s->arg = xstrdup("0");
		s->reason = xstrdup("power: on: keep it in D0 (power/control on, d3cold_allowed 0)");
		return;
	}
	if (!sv->set)
		return;
	s = add_step(p, PT_STEP_POWER, w->name, &d->addr, d->power_control, sv->control[0] ? sv->control : NULL);
	s->flags = PT_STEP_UNPIN;
	if (sv->d3cold_allowed != PT_TRI_UNKNOWN)
		s->arg = xstrdup(sv->d3cold_allowed == PT_TRI_YES ? "1" : "0");
	s->reason = xstrdup(e->power_on ? "back to the host: give the kernel's power choice back"
					: "power: on taken out: give the kernel's choice back");
}

static void
plan_entry(struct pt_plan *p, const struct pt_observed *obs, const struct want *wants, size_t n,
	   const struct want *w, const struct vfio_plan *vp, bool *need_vfio)
{
	const struct pt_device *e = w->entry;
	const struct pt_pcidev *d = w->dev;
	unsigned attach = 0;
	bool detached_live = false, probed;
	struct pt_step *s;

	/* What goes into its domain (not from the hook: attach calls libvirt; its worker does it). */
	if (w->vfio && w->dom && !obs->domains_from_hook) {
		if (w->live && !pt_domain_has_hostdev(w->dom, &d->addr, false))
			attach |= PT_STEP_LIVE;
		if (w->config && w->dom->have_config && !pt_domain_has_hostdev(w->dom, &d->addr, true))
			attach |= PT_STEP_CONFIG;
	}
	/* 1. Off every domain it should not be in (not from the hook: detach calls libvirt). */
	for (size_t i = 0; obs->have_domains && !obs->domains_from_hook && i < obs->n_doms; i++) {
		const struct pt_domain *dom = &obs->doms[i];
		unsigned flags = 0;

		if (w->live && w->dom && dom == w->dom)
			continue;
		if (dom->state == PT_DOMAIN_RUNNING && pt_domain_has_hostdev(dom, &d->addr, false))
			flags |= PT_STEP_LIVE;
		if (dom != w->dom && e->state == PT_STATE_RELEASED && dom->have_config &&
		    pt_domain_has_hostdev(dom, &d->addr, true))
			flags |= PT_STEP_CONFIG;
		if (!flags)
			continue;
		detached_live |= (flags & PT_STEP_LIVE) != 0;
		s = add_step(p, PT_STEP_DETACH, w->name, &d->addr, label(dom), NULL);
		s->domain = xstrdup(dom->name);
		s->flags = flags;
		if (e->state == PT_STATE_ATTACHED && w->dom)
			s->reason = xasprintf("declared for %s, not %s", label(w->dom), label(dom));
		else
			s->reason = xasprintf("declared %s", pt_state_name(e->state));
	}
	/* 2. Does it still answer? Before a hot-plug, after a VM let go of it, and when it did not. */
	if (detached_live || (attach & PT_STEP_LIVE) || (obs->just_stopped && w->dom) || d->answers == PT_TRI_NO) {
		s = add_step(p, PT_STEP_CHECK, w->name, &d->addr, NULL, NULL);
		if (e->recover == PT_RECOVER_RESCAN && e->state != PT_STATE_RELEASED)
			s->flags = d->recover_failed ? PT_STEP_GAVE_UP : PT_STEP_RECOVER;
		s->reason = xstrdup(d->recover_failed ? "recover: rescan did not bring it back before: not tried again"
				    : d->answers == PT_TRI_NO ? "it did not answer"
				    : detached_live        ? "a VM just let go of it"
				    : attach & PT_STEP_LIVE ? "never hot-plug a device that does not answer"
							    : "its VM just stopped");
	}
	/* 3. The driver, and its power. */
	if (!w->vfio) {
		plan_power(p, w, false);
		plan_release(p, w);
		return;
	}
	if (e->whole_group) {
		for (size_t i = 0; i < obs->n_devs; i++) {
			const struct pt_pcidev *m = &obs->devs[i];

			if (m != d && m->iommu_group == d->iommu_group && !pt_pcidev_is_bridge(m) &&
			    !claimed_by(wants, n, m, w) && m->driver && (!on_vfio(m) || vp->reload))
				plan_bind(p, w->name, m, PT_STEP_MEMBER, vp->reload, need_vfio);
		}
	}
	probed = plan_bind(p, w->name, d, e->pool >= 0 ? PT_STEP_POOL : 0, vp->reload, need_vfio);
	plan_power(p, w, probed);
	/* 4. Reset just before the hot-plug, while no VM holds it. */
	if ((attach & PT_STEP_LIVE) && e->reset == PT_RESET_BEFORE_ATTACH) {
		s = add_step(p, PT_STEP_RESET, w->name, &d->addr, NULL, NULL);
		s->reason = xstrdup("reset: before_attach: the VM gets it as after a power-up");
	}
	/* 5. Into its domain. */
	if (attach) {
		s = add_step(p, PT_STEP_ATTACH, w->name, &d->addr, NULL, label(w->dom));
		s->domain = xstrdup(w->dom->name);
		s->flags = attach | (e->pool >= 0 ? PT_STEP_POOL : 0);
		s->reason = xstrdup(attach & PT_STEP_LIVE ? "declared attached; the domain runs without it"
							  : "declared persistent; not in the persistent definition");
	}
}

static int
want_addr_cmp(const void *a, const void *b)
{
	const struct want *x = a, *y = b;

	if (!x->dev || !y->dev)
		return (x->dev == NULL) - (y->dev == NULL);
	return pt_pciaddr_cmp(&x->dev->addr, &y->dev->addr);
}

/* Whether, without knowing the VMs, the entry could mean taking its device away from one. */
static bool
going_back_without_libvirt(const struct pt_device *e)
{
	return e->state == PT_STATE_RELEASED || (e->state == PT_STATE_ATTACHED && e->on_stop == PT_ON_STOP_RELEASE);
}

/* Why vfio-pci cannot be reloaded now, or NULL when it can (the caller frees). */
static char *
why_no_reload(const struct pt_observed *obs, const struct want *wants, size_t n)
{
	char a[PT_PCIADDR_BUFSZ];

	if (!obs->have_domains || obs->domains_from_hook)
		return xstrdup("libvirt was not asked whether a VM holds a vfio device");
	if (obs->vfio_refcnt > 0)
		return xasprintf("a vfio device is open (module refcnt %d)", obs->vfio_refcnt);
	for (size_t i = 0; i < obs->n_doms; i++) {
		const struct pt_domain *dom = &obs->doms[i];

		for (size_t j = 0; dom->state == PT_DOMAIN_RUNNING && j < dom->n_live; j++) {
			const struct pt_pcidev *d = pt_observed_dev(obs, &dom->live[j].addr);

			if (d && on_vfio(d))
				return xasprintf("%s holds %s", label(dom), pt_pciaddr_format(&d->addr, a));
		}
	}
	for (size_t i = 0; i < obs->n_devs; i++) {
		const struct pt_pcidev *d = &obs->devs[i];
		const struct want *w = claimed_by(wants, n, d, NULL);
		bool member = false;

		if (!on_vfio(d))
			continue;
		for (size_t j = 0; !w && j < n; j++)
			member |= wants[j].dev && wants[j].entry->whole_group && wants[j].vfio && !wants[j].failed &&
				  wants[j].in_scope && wants[j].dev->iommu_group == d->iommu_group && d->iommu_group >= 0;
		if (member)
			continue;
		if (!w)
			return xasprintf("%s is on vfio-pci and the file does not declare it (it would not be bound again)",
					 pt_pciaddr_format(&d->addr, a));
		if (!w->vfio || w->failed || !w->in_scope)
			return xasprintf("'%s' %s is on vfio-pci and this pass does not bind it again", w->name,
					 pt_pciaddr_format(&d->addr, a));
	}
	return NULL;
}

/* What the plan does to vfio-pci itself: the parameters to load it with, and whether to reload it. */
static void
plan_vfio(struct pt_plan *p, const struct pt_config *cfg, const struct pt_observed *obs, const struct want *wants,
	  size_t n, struct vfio_plan *vp)
{
	const struct pt_vfio_params *v = &cfg->vfio_pci;
	enum pt_tri want;
	char *why;

	memset(vp, 0, sizeof(*vp));
	if (!v->has_disable_idle_d3)
		return;
	vp->arg = v->disable_idle_d3 ? "disable_idle_d3=1" : "disable_idle_d3=0";
	want = v->disable_idle_d3 ? PT_TRI_YES : PT_TRI_NO;
	if (!obs->vfio_pci_loaded || obs->vfio_idle_d3 == want)
		return;
	why = why_no_reload(obs, wants, n);
	if (!why) {
		vp->reload = true;
		return;
	}
	if (obs->vfio_idle_d3 == PT_TRI_UNKNOWN)
		add_note(p, "vfio-pci: disable_idle_d3=%c is declared, but which value is in force is not known "
			 "(something else loaded vfio-pci); it is loaded with it next time: %s",
			 v->disable_idle_d3 ? 'Y' : 'N', why);
	else
		add_note(p, "vfio-pci: disable_idle_d3=%c is declared but %c is in force since it was loaded; it takes "
			 "effect when vfio-pci is next loaded (not now: %s)", v->disable_idle_d3 ? 'Y' : 'N',
			 v->disable_idle_d3 ? 'N' : 'Y', why);
	free(why);
}

/* ---- USB entries: libvirt hands the device over; no driver, group or vfio-pci ---- */

/* "usb 2-1.3 (bus 2 device 5)"; the caller frees. */
static char *
usb_label(const struct pt_usbdev *u)
{
	return xasprintf("usb %s (bus %u device %u)", u->port, u->busnum, u->devnum);
}

static bool
usb_selects(const struct pt_usb_select *sel, const struct pt_usbdev *u)
{
	return pt_usb_selects(sel, u->vendor, u->product, u->port, u->serial);
}

static const struct pt_usbdev *
usb_at(const struct pt_observed *obs, unsigned bus, unsigned dev)
{
	for (size_t i = 0; i < obs->n_usbdevs; i++)
		if (obs->usbdevs[i].busnum == bus && obs->usbdevs[i].devnum == dev)
			return &obs->usbdevs[i];
	return NULL;
}

/* Does hostdev h name the present device u (by its bus/device, or, without an address, by its ids)? */
static bool
usb_hostdev_is(const struct pt_usbhostdev *h, const struct pt_usbdev *u)
{
	if (h->has_addr)
		return h->bus == u->busnum && h->device == u->devnum && (!h->has_ids || (h->vendor == u->vendor &&
											   h->product == u->product));
	return h->vendor == u->vendor && h->product == u->product;
}

/*
 * A hostdev that can never work again: by address, naming no present device (QEMU does not get
 * it back: a replugged or re-enumerated device has a new device number); by ids only, ids of
 * the entry that no present device shows (the Coral's 1a6e:089a once it shows 18d1:9302).
 */
static bool
usb_hostdev_dead(const struct pt_observed *obs, const struct pt_usb_select *sel, const struct pt_usbhostdev *h)
{
	if (h->has_addr)
		return !usb_at(obs, h->bus, h->device);
	if (!sel->n_ids || !pt_usb_id_matches(sel, h->vendor, h->product))
		return false;
	for (size_t i = 0; i < obs->n_usbdevs; i++)
		if (obs->usbdevs[i].vendor == h->vendor && obs->usbdevs[i].product == h->product)
			return false;
	return true;
}

static struct pt_step *
add_usb_step(struct pt_plan *p, enum pt_step_kind kind, const char *entry, const struct pt_domain *dom,
	     const struct pt_usbhostdev *h, unsigned where, const char *lbl)
{
	struct pt_step *s = add_step(p, kind, entry, NULL, kind == PT_STEP_DETACH ? label(dom) : NULL,
				     kind == PT_STEP_ATTACH ? label(dom) : NULL);

	s->domain = xstrdup(dom->name);
	s->flags = where | PT_STEP_USB;
	s->usb_by_ids = !h->has_addr;
	s->usb_bus = h->bus;
	s->usb_dev = h->device;
	s->usb_vendor = h->vendor;
	s->usb_product = h->product;
	s->usb_label = xstrdup(lbl);
	return s;
}

/* A hostdev's lbl for steps and messages. */
static char *
usb_hostdev_label(const struct pt_observed *obs, const struct pt_usbhostdev *h)
{
	const struct pt_usbdev *u = h->has_addr ? usb_at(obs, h->bus, h->device) : NULL;

	if (u)
		return usb_label(u);
	if (h->has_addr)
		return xasprintf("usb bus %u device %u (gone)", h->bus, h->device);
	return xasprintf("usb %04x:%04x (gone)", h->vendor, h->product);
}

/* Steps for one attached USB entry whose device u is present and may be taken. dead[] marks
 * the dead hostdevs of dom another entry has already planned to detach. */
static void
plan_usb_attach(struct pt_plan *p, const struct pt_observed *obs, const struct pt_device *e,
		const struct pt_usbdev *u, const struct pt_domain *dom, bool *dead_live, bool *dead_config)
{
	struct pt_usbhostdev want = { .has_ids = false, .has_addr = true, .bus = u->busnum, .device = u->devnum };
	char *lbl = usb_label(u);
	bool live = dom->state == PT_DOMAIN_RUNNING, held_live = false, held_config = false;

	for (size_t i = 0; i < dom->n_usb_live; i++)
		held_live = held_live || usb_hostdev_is(&dom->usb_live[i], u);
	for (size_t i = 0; i < dom->n_usb_config; i++)
		held_config = held_config || usb_hostdev_is(&dom->usb_config[i], u);
	/* the dead hostdevs go first: the replugged or re-enumerated device is the same one */
	if (live && !held_live) {
		for (size_t i = 0; i < dom->n_usb_live; i++) {
			char *l;

			if (dead_live[i] || !usb_hostdev_dead(obs, &e->usb, &dom->usb_live[i]))
				continue;
			dead_live[i] = true;
			l = usb_hostdev_label(obs, &dom->usb_live[i]);
			add_usb_step(p, PT_STEP_DETACH, e->name, dom, &dom->usb_live[i], PT_STEP_LIVE, l)->reason =
				xasprintf("its device is gone (replugged or re-enumerated); %s is the one now", lbl);
			free(l);
		}
	}
	if (e->persistent && dom->have_config && !held_config) {
		for (size_t i = 0; i < dom->n_usb_config; i++) {
			char *l;

			if (dead_config[i] || !usb_hostdev_dead(obs, &e->usb, &dom->usb_config[i]))
				continue;
			dead_config[i] = true;
			l = usb_hostdev_label(obs, &dom->usb_config[i]);
			add_usb_step(p, PT_STEP_DETACH, e->name, dom, &dom->usb_config[i], PT_STEP_CONFIG, l)->reason =
				xasprintf("its device is gone from the persistent definition's address; %s is the one now", lbl);
			free(l);
		}
	}
	if (live && !held_live)
		add_usb_step(p, PT_STEP_ATTACH, e->name, dom, &want, PT_STEP_LIVE, lbl)->reason =
			xasprintf("%04x:%04x%s%s is '%s''s device", u->vendor, u->product, u->product_name ? " " : "",
				  u->product_name ? u->product_name : "", e->name);
	if (e->persistent && dom->have_config && !held_config)
		add_usb_step(p, PT_STEP_ATTACH, e->name, dom, &want, PT_STEP_CONFIG, lbl)->reason =
			xstrdup("persistent: true (by bus and device number: kept current while passthrough runs)");
	if (!live && !(e->persistent && dom->have_config))
		add_note(p, "'%s': vm '%s' is not running: %s is attached when it runs", e->name, label(dom), lbl);
	free(lbl);
}

/*
 * The `usb` entries: each resolves to exactly one present USB device (its ids, port, serial);
 * a hub or a mass-storage device with a mounted filesystem only with force. Attached: the
 * domain gets a <hostdev type='usb'> naming its bus and device number, and the dead USB
 * hostdevs of that domain (by address, naming no present device; by ids, showing none) are
 * detached first: that is how a replug (new device number) or a re-enumeration (the USB
 * Coral: 1a6e:089a, then 18d1:9302) is followed. Released: detached from any domain holding it.
 */
static void
plan_usb(struct pt_plan *p, const struct pt_config *cfg, const struct pt_observed *obs, const struct pt_domain *only)
{
	/* the device each entry got: its index in obs->usbdevs + 1, 0 for none */
	size_t *got = xcalloc(cfg->n_devices ? cfg->n_devices : 1, sizeof(*got));
	bool **dead_live = xcalloc(obs->n_doms ? obs->n_doms : 1, sizeof(*dead_live));
	bool **dead_config = xcalloc(obs->n_doms ? obs->n_doms : 1, sizeof(*dead_config));

	for (size_t k = 0; k < obs->n_doms; k++) {
		dead_live[k] = xcalloc(obs->doms[k].n_usb_live + 1, sizeof(**dead_live));
		dead_config[k] = xcalloc(obs->doms[k].n_usb_config + 1, sizeof(**dead_config));
	}
	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct pt_device *e = &cfg->devices[i];
		const struct pt_domain *dom = NULL;
		const struct pt_usbdev *u = NULL;
		char *what, *err = NULL, *list = NULL;
		size_t n = 0;

		if (!e->has_usb)
			continue;
		if (e->vm)
			dom = pt_find_domain(obs, e->vm, &err);
		if (only && dom != only) {
			free(err);
			continue;
		}
		p->n_devices++;
		what = pt_usb_describe(&e->usb);
		for (size_t j = 0; j < obs->n_usbdevs; j++) {
			const struct pt_usbdev *c = &obs->usbdevs[j];
			char *t;

			if (!usb_selects(&e->usb, c))
				continue;
			u = c;
			t = xasprintf("%s%s%s", list ? list : "", list ? ", " : "", c->port);
			free(list);
			list = t;
			n++;
		}
		if (n != 1) {
			if (n == 0)
				add_problem(p, PT_PROBLEM_DEVICE, e, e->name, NULL, "'%s': no present USB device is %s", e->name, what);
			else
				add_problem(p, PT_PROBLEM_DEVICE, e, e->name, NULL, "'%s': %zu present USB devices are %s (%s): "
					    "say which with 'port' or 'serial'", e->name, n, what, list);
			u = NULL;
		} else if (u->hub && !e->force) {
			add_problem(p, PT_PROBLEM_HOST_USE, e, e->name, NULL, "'%s': usb %s is a hub (its devices are the "
				    "host's): not taken without force: true", e->name, u->port);
			u = NULL;
		} else if (u->host_use_why && !e->force) {
			add_problem(p, PT_PROBLEM_HOST_USE, e, e->name, NULL, "'%s': usb %s is in use by the host (%s): not "
				    "taken without force: true", e->name, u->port, u->host_use_why);
			u = NULL;
		}
		for (size_t j = 0; u && j < i; j++) {
			if (got[j] == (size_t)(u - obs->usbdevs) + 1) {
				add_problem(p, PT_PROBLEM_DUPLICATE, e, e->name, NULL, "'%s': selects usb %s, which '%s' selects too",
					    e->name, u->port, cfg->devices[j].name);
				u = NULL;
			}
		}
		got[i] = u ? (size_t)(u - obs->usbdevs) + 1 : 0;
		free(list);
		free(what);
		if (!u) {
			free(err);
			continue;
		}
		if (!obs->have_domains || obs->domains_from_hook) {
			add_note(p, "'%s': libvirt was not consulted: USB devices are attached and detached by apply and watch",
				 e->name);
		} else if (e->state == PT_STATE_ATTACHED && !dom) {
			add_problem(p, PT_PROBLEM_DOMAIN, e, e->name, NULL, "'%s': %s", e->name, err);
		} else if (e->state == PT_STATE_ATTACHED) {
			size_t k = (size_t)(dom - obs->doms);

			plan_usb_attach(p, obs, e, u, dom, dead_live[k], dead_config[k]);
		} else {
			char *lbl = usb_label(u);

			for (size_t k = 0; k < obs->n_doms; k++) {
				const struct pt_domain *d = &obs->doms[k];

				for (size_t j = 0; d->state == PT_DOMAIN_RUNNING && j < d->n_usb_live; j++)
					if (usb_hostdev_is(&d->usb_live[j], u))
						add_usb_step(p, PT_STEP_DETACH, e->name, d, &d->usb_live[j], PT_STEP_LIVE,
							     lbl)->reason = xstrdup("state: released");
				for (size_t j = 0; j < d->n_usb_config; j++)
					if (usb_hostdev_is(&d->usb_config[j], u))
						add_usb_step(p, PT_STEP_DETACH, e->name, d, &d->usb_config[j], PT_STEP_CONFIG,
							     lbl)->reason = xstrdup("state: released");
			}
			free(lbl);
		}
		free(err);
	}
	for (size_t k = 0; k < obs->n_doms; k++) {
		free(dead_live[k]);
		free(dead_config[k]);
	}
	free(dead_live);
	free(dead_config);
	free(got);
}

void
pt_plan_compute(const struct pt_config *cfg, const struct pt_observed *obs, const char *only_vm,
		struct pt_plan *ret)
{
	struct pt_plan p;
	struct want *wants;
	const struct pt_domain *only = NULL;
	struct vfio_plan vp;
	bool need_vfio = false;
	size_t n = 0, load;

	memset(&p, 0, sizeof(p));
	pt_assign(cfg, obs, &p.assignment);
	wants = xcalloc(p.assignment.n_slots ? p.assignment.n_slots : 1, sizeof(*wants));
	if (only_vm) {
		char *err = NULL;

		only = pt_find_domain(obs, only_vm, &err);
		if (!only) {
			add_problem(&p, PT_PROBLEM_SCOPE, NULL, NULL, NULL, "--vm: %s", err);
			free(err);
			free(wants);
			*ret = p;
			return;
		}
	}
	/* Every entry is resolved, in scope or not: the group rules need them all. */
	for (size_t i = 0; i < p.assignment.n_slots; i++) {
		struct want *w = &wants[n++];

		w->slot = &p.assignment.slots[i];
		w->entry = w->slot->entry;
		w->name = w->slot->name;
		w->in_scope = true;
		if (only) {
			char *err = NULL;
			const struct pt_domain *dom = w->entry->vm ? pt_find_domain(obs, w->entry->vm, &err) : NULL;

			free(err);
			w->in_scope = dom == only;
		}
		/* Without libvirt nothing goes back to the host: a running VM may hold the device,
		 * and unbinding it from vfio-pci would block until the VM lets go. */
		if (!obs->have_domains && w->in_scope && going_back_without_libvirt(w->entry)) {
			add_note(&p, "'%s': libvirt was not consulted: left as it is (%s)", w->name,
				 w->entry->state == PT_STATE_RELEASED ? "a running VM may hold it"
								      : "on_stop is release: bound when its VM starts");
			w->in_scope = false;
		}
		p.n_devices += w->in_scope;
		w->failed = !resolve_want(&p, obs, w);
	}
	/* Which device each pool member got, and why. */
	for (size_t k = 0; k < cfg->n_pools; k++) {
		char *line = pt_match_describe(&cfg->pools[k].match), *t;
		bool any = false;

		t = xasprintf("pool %s:", line);
		free(line);
		line = t;
		for (size_t i = 0; i < n; i++) {
			char a[PT_PCIADDR_BUFSZ];

			if (wants[i].entry->pool != (int)k || !wants[i].in_scope)
				continue;
			if (wants[i].slot->dev)
				t = xasprintf("%s%s '%s' gets %s (%s)", line, any ? ";" : "", wants[i].name,
					      pt_pciaddr_format(&wants[i].slot->dev->addr, a), wants[i].slot->why);
			else
				t = xasprintf("%s%s '%s' gets none", line, any ? ";" : "", wants[i].name);
			free(line);
			line = t;
			any = true;
		}
		if (any)
			add_note(&p, "%s", line);
		free(line);
	}
	/* Two entries on one device (one by address, one by match) cannot both have it. */
	for (size_t i = 0; i < n; i++) {
		char a[PT_PCIADDR_BUFSZ];

		for (size_t j = 0; j < i && wants[i].dev; j++) {
			if (wants[i].dev == wants[j].dev) {
				want_error(&p, &wants[i], PT_PROBLEM_DUPLICATE, "'%s': selects %s, which '%s' selects too",
					   wants[i].name, pt_pciaddr_format(&wants[i].dev->addr, a),
					   wants[j].name);
				wants[i].failed = true;
				break;
			}
		}
	}
	/* One entry failing can make its group fail for another: repeat until nothing changes. */
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (!wants[i].failed && !check_group(&p, obs, wants, n, &wants[i])) {
				wants[i].failed = true;
				changed = true;
			}
		}
	}
	if (!obs->have_domains)
		for (size_t i = 0; i < n; i++)
			if (!wants[i].failed && wants[i].entry->state == PT_STATE_ATTACHED)
				want_note(&p, &wants[i], "'%s': libvirt was not consulted: only the host side is planned",
					  wants[i].name);

	qsort(wants, n, sizeof(*wants), want_addr_cmp);
	plan_vfio(&p, cfg, obs, wants, n, &vp);
	if (vp.reload) {
		struct pt_step *s = add_step(&p, PT_STEP_UNLOAD_VFIO, NULL, NULL, VFIO, NULL);

		s->reason = xasprintf("load it again with %s: %s", vp.arg,
				      obs->vfio_idle_d3 == PT_TRI_UNKNOWN ? "which value is in force is not known"
									  : "another value is in force");
	}
	/* The module goes first; its step is added now and kept only if some probe needs it. */
	load = p.n_steps;
	add_step(&p, PT_STEP_LOAD_VFIO, NULL, NULL, NULL, VFIO)->reason =
		xstrdup(vp.reload ? "load it with the declared parameters" : "vfio-pci is not loaded");
	if (vp.arg)
		p.steps[load].arg = xstrdup(vp.arg);
	for (size_t i = 0; i < n; i++) {
		if (wants[i].rescan && wants[i].in_scope) {
			struct pt_step *s = add_step(&p, PT_STEP_RESCAN, wants[i].name, &wants[i].entry->address,
						     NULL, NULL);

			s->reason = xstrdup("not on its bus (recover: rescan)");
		}
		if (!wants[i].failed && wants[i].in_scope)
			plan_entry(&p, obs, wants, n, &wants[i], &vp, &need_vfio);
	}
	plan_usb(&p, cfg, obs, only);
	if (!vp.reload && (!need_vfio || obs->vfio_pci_loaded)) {
		struct pt_step *s = &p.steps[load];

		free(s->reason);
		free(s->to);
		free(s->arg);
		memmove(p.steps + load, p.steps + load + 1, (p.n_steps - load - 1) * sizeof(*p.steps));
		p.n_steps--;
	}
	free(wants);
	*ret = p;
}

void
pt_plan_done(struct pt_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_steps; i++) {
		struct pt_step *s = &plan->steps[i];

		free(s->device);
		free(s->from);
		free(s->to);
		free(s->domain);
		free(s->arg);
		free(s->reason);
		free(s->usb_label);
	}
	for (size_t i = 0; i < plan->n_problems; i++) {
		free(plan->problems[i].message);
		free(plan->problems[i].name);
	}
	pt_assignment_done(&plan->assignment);
	for (size_t i = 0; i < plan->n_notes; i++)
		free(plan->notes[i]);
	free(plan->steps);
	free(plan->problems);
	free(plan->notes);
	memset(plan, 0, sizeof(*plan));
}

const struct pt_problem *
pt_plan_problem_of(const struct pt_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n_problems; i++)
		if (plan->problems[i].name && strcmp(plan->problems[i].name, name) == 0)
			return &plan->problems[i];
	return NULL;
}

const char *
pt_problem_kind_name(enum pt_problem_kind k)
{
	switch (k) {
	case PT_PROBLEM_DEVICE: return "device";
	case PT_PROBLEM_DUPLICATE: return "duplicate";
	case PT_PROBLEM_DOMAIN: return "domain";
	case PT_PROBLEM_SCOPE: return "scope";
	case PT_PROBLEM_BRIDGE: return "bridge";
	case PT_PROBLEM_HOST_USE: return "host_use";
	case PT_PROBLEM_NO_IOMMU: return "no_iommu";
	case PT_PROBLEM_GROUP: return "group";
	case PT_PROBLEM_NO_HOST_DRIVER: return "no_host_driver";
	case PT_PROBLEM_NOT_RESPONDING: return "not_responding";
	case PT_PROBLEM_NO_RESET: return "no_reset";
	}
	return "?";
}

const char *
pt_step_kind_name(enum pt_step_kind k)
{
	switch (k) {
	case PT_STEP_UNLOAD_VFIO: return "unload_vfio";
	case PT_STEP_LOAD_VFIO: return "load_vfio";
	case PT_STEP_DETACH: return "detach";
	case PT_STEP_SET_OVERRIDE: return "set_override";
	case PT_STEP_UNBIND: return "unbind";
	case PT_STEP_CLEAR_OVERRIDE: return "clear_override";
	case PT_STEP_PROBE: return "probe";
	case PT_STEP_POWER: return "power";
	case PT_STEP_CHECK: return "check";
	case PT_STEP_RESCAN: return "rescan";
	case PT_STEP_RESET: return "reset";
	case PT_STEP_ATTACH: return "attach";
	}
	return "?";
}

char
pt_step_symbol(enum pt_step_kind k)
{
	switch (k) {
	case PT_STEP_LOAD_VFIO:
	case PT_STEP_PROBE:
	case PT_STEP_RESCAN:
	case PT_STEP_ATTACH:
		return '+';
	case PT_STEP_UNLOAD_VFIO:
	case PT_STEP_DETACH:
	case PT_STEP_UNBIND:
		return '-';
	case PT_STEP_SET_OVERRIDE:
	case PT_STEP_CLEAR_OVERRIDE:
	case PT_STEP_POWER:
	case PT_STEP_RESET:
		return '~';
	case PT_STEP_CHECK:
		return '?';
	}
	return '?';
}
