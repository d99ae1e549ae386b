/* assign.c: which present device each entry of passthrough.yaml takes (pools included); pure, part of the planner. */
#include "reconcile/assign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/xalloc.h"

static bool
matches(const struct pt_match *m, const struct pt_pcidev *d)
{
	if ((m->fields & PT_MATCH_VENDOR) && m->vendor != d->vendor)
		return false;
	if ((m->fields & PT_MATCH_DEVICE) && m->device != d->device)
		return false;
	if ((m->fields & PT_MATCH_SUBSYSTEM_VENDOR) && m->subsystem_vendor != d->subsystem_vendor)
		return false;
	if ((m->fields & PT_MATCH_SUBSYSTEM_DEVICE) && m->subsystem_device != d->subsystem_device)
		return false;
	if ((m->fields & PT_MATCH_CLASS) && m->class_code != (d->class_code >> 8))
		return false;
	return true;
}

const struct pt_pcidev *
pt_resolve_device(const struct pt_device *d, const struct pt_observed *obs, char **reterr)
{
	char a[PT_PCIADDR_BUFSZ];
	const struct pt_pcidev *found = NULL;
	size_t n = 0;

	if (d->has_address) {
		pt_pciaddr_format(&d->address, a);
		found = pt_observed_dev(obs, &d->address);
		if (!found) {
			*reterr = xasprintf("no PCI device at %s", a);
			return NULL;
		}
		if (d->match.fields && !matches(&d->match, found)) {
			char *want = pt_match_describe(&d->match);

			*reterr = xasprintf("hardware changed? %s is %04x:%04x (subsystem %04x:%04x, class %04x), "
					    "not %s as 'match' says", a, found->vendor, found->device,
					    found->subsystem_vendor, found->subsystem_device,
					    found->class_code >> 8, want);
			free(want);
			return NULL;
		}
		return found;
	}
	for (size_t i = 0; i < obs->n_devs; i++)
		if (matches(&d->match, &obs->devs[i]))
			n++;
	if (n == 1) {
		for (size_t i = 0; i < obs->n_devs; i++)
			if (matches(&d->match, &obs->devs[i]))
				return &obs->devs[i];
	}
	{
		char *want = pt_match_describe(&d->match);

		if (n == 0) {
			*reterr = xasprintf("no PCI device matches %s (see 'passthrough devices')", want);
		} else {
			char list[256] = "";
			size_t k = 0;

			for (size_t i = 0; i < obs->n_devs && k < 6; i++) {
				if (!matches(&d->match, &obs->devs[i]))
					continue;
				strncat(list, k++ ? ", " : "", sizeof(list) - strlen(list) - 1);
				strncat(list, pt_pciaddr_format(&obs->devs[i].addr, a), sizeof(list) - strlen(list) - 1);
			}
			*reterr = xasprintf("%zu PCI devices match %s: %s%s; add 'address' to pick one", n, want,
					    list, n > 6 ? ", ..." : "");
		}
		free(want);
	}
	return NULL;
}

bool
pt_entry_may_select(const struct pt_device *e, const struct pt_pcidev *d)
{
	if (e->has_address)
		return pt_pciaddr_cmp(&e->address, &d->addr) == 0;
	return e->match.fields && matches(&e->match, d);
}

static const char *
label(const struct pt_domain *dom)
{
	return dom->title ? dom->title : dom->name;
}

/* Whether dom has d: attached live while it runs, or in its persistent definition. */
static bool
domain_holds(const struct pt_domain *dom, const struct pt_pcidev *d)
{
	return (dom->state == PT_DOMAIN_RUNNING && pt_domain_has_hostdev(dom, &d->addr, false)) ||
	       (dom->have_config && pt_domain_has_hostdev(dom, &d->addr, true));
}

/* Whether a member of pool names dom as its vm. */
static bool
pool_names(const struct pt_config *cfg, const struct pt_pool *pool, const struct pt_domain *dom)
{
	for (size_t i = 0; i < pool->n_members; i++) {
		const char *vm = cfg->devices[pool->members[i]].vm;

		if (vm && pt_vm_match(vm, dom->name, dom->uuid, dom->title) != PT_VM_NO)
			return true;
	}
	return false;
}

/* The domain that holds d and that no member of pool names (attached by hand), or NULL. */
static const struct pt_domain *
held_by_hand(const struct pt_config *cfg, const struct pt_pool *pool, const struct pt_observed *obs,
	     const struct pt_pcidev *d)
{
	for (size_t i = 0; obs->have_domains && i < obs->n_doms; i++)
		if (domain_holds(&obs->doms[i], d) && !pool_names(cfg, pool, &obs->doms[i]))
			return &obs->doms[i];
	return NULL;
}

static struct pt_slot *
add_slot(struct pt_assignment *a, size_t *cap, const struct pt_device *e, const struct pt_pcidev *dev)
{
	struct pt_slot *s;

	xgrow(&a->slots, cap, a->n_slots + 1, sizeof(*a->slots));
	s = &a->slots[a->n_slots++];
	memset(s, 0, sizeof(*s));
	s->entry = e;
	s->dev = dev;
	return s;
}

/* What each device of obs is to the pool being assigned. */
struct cand {
	bool candidate;                 /* it matches, and no entry with an address, no other VM has it */
	const struct pt_device *taker;  /* the member that took it */
};

/* How a member takes a device, in the order the phases run. */
enum phase {
	PHASE_LOWEST,     /* the lowest free address */
	PHASE_HELD,       /* one its VM holds (that apply did not bind for another member) */
	PHASE_BOUND,      /* one apply bound for it (the journal), that no other VM holds */
};

/* On vfio-pci, or on its way there (its override says so). */
static bool
on_vfio_pci(const struct pt_pcidev *d)
{
	return (d->driver && strcmp(d->driver, "vfio-pci") == 0) ||
	       (d->driver_override && strcmp(d->driver_override, "vfio-pci") == 0);
}

/* Whether a domain other than dom holds d. */
static bool
held_elsewhere(const struct pt_observed *obs, const struct pt_pcidev *d, const struct pt_domain *dom)
{
	for (size_t i = 0; obs->have_domains && i < obs->n_doms; i++)
		if (&obs->doms[i] != dom && domain_holds(&obs->doms[i], d))
			return true;
	return false;
}

/* Whether the journal says d was bound for a member of pool other than e. */
static bool
bound_for_other(const struct pt_config *cfg, const struct pt_pool *pool, const struct pt_device *e,
		const struct pt_pcidev *d)
{
	for (size_t i = 0; d->pool_entry && i < pool->n_members; i++) {
		const struct pt_device *m = &cfg->devices[pool->members[i]];

		if (m != e && strcmp(m->name, d->pool_entry) == 0)
			return true;
	}
	return false;
}

/* The lowest free candidate that member e may take in this phase: its index in obs->devs, or
 * obs->n_devs when none; *held_in: e's domain when that domain holds it. */
static size_t
next_free(const struct pt_config *cfg, const struct pt_pool *pool, const struct pt_observed *obs,
	  const struct cand *c, const struct pt_device *e, enum phase phase, const struct pt_domain **held_in)
{
	const struct pt_domain *dom = NULL;

	if (e->state == PT_STATE_ATTACHED && e->vm && obs->have_domains) {
		char *err = NULL;

		dom = pt_find_domain(obs, e->vm, &err);
		free(err);
	}
	for (size_t i = 0; i < obs->n_devs; i++) {
		const struct pt_pcidev *d = &obs->devs[i];
		bool holds = dom && domain_holds(dom, d);

		/* never one another VM has: a member's own VM takes what it holds first */
		if (!c[i].candidate || c[i].taker || held_elsewhere(obs, d, dom))
			continue;
		if (phase == PHASE_BOUND && !(d->pool_entry && strcmp(d->pool_entry, e->name) == 0))
			continue;
		if (phase == PHASE_HELD && (!holds || bound_for_other(cfg, pool, e, d)))
			continue;
		/* the hook sees its own domain alone: a device on vfio-pci may be another VM's */
		if (phase == PHASE_LOWEST && obs->domains_from_hook && on_vfio_pci(d))
			continue;
		*held_in = holds ? dom : NULL;
		return i;
	}
	return obs->n_devs;
}

static int
slot_addr_cmp(const void *a, const void *b)
{
	const struct pt_slot *x = a, *y = b;

	if (!x->dev || !y->dev)
		return (x->dev == NULL) - (y->dev == NULL);
	return pt_pciaddr_cmp(&x->dev->addr, &y->dev->addr);
}

/* Shares pool's devices out among its members; cand[i] is set for each candidate device. */
static void
assign_pool(const struct pt_config *cfg, const struct pt_pool *pool, const struct pt_observed *obs,
	    struct cand *c, struct pt_assignment *a, size_t *cap)
{
	size_t *got = xcalloc(pool->n_members, sizeof(*got));
	size_t present = 0;
	char *want = pt_match_describe(&pool->match);

	for (size_t i = 0; i < obs->n_devs; i++)
		present += c[i].candidate;
	/* first what each member holds, then the lowest free addresses, in file order */
	for (int phase = PHASE_BOUND; phase >= PHASE_LOWEST; phase--) {
		for (size_t m = 0; m < pool->n_members; m++) {
			const struct pt_device *e = &cfg->devices[pool->members[m]];

			while (e->count_all || got[m] < e->count) {
				const struct pt_domain *dom = NULL;
				size_t i = next_free(cfg, pool, obs, c, e, (enum phase)phase, &dom);
				struct pt_slot *s;

				if (i == obs->n_devs)
					break;
				c[i].taker = e;
				got[m]++;
				s = add_slot(a, cap, e, &obs->devs[i]);
				if (dom && dom->state == PT_DOMAIN_RUNNING && pt_domain_has_hostdev(dom, &obs->devs[i].addr, false))
					s->why = xasprintf("keeps it: attached to %s", label(dom));
				else if (dom)
					s->why = xasprintf("keeps it: in the definition of %s", label(dom));
				else if (phase == PHASE_BOUND)
					s->why = xstrdup("keeps it: bound to vfio-pci for it");
				else
					s->why = xstrdup("lowest free address");
			}
		}
	}
	for (size_t m = 0; m < pool->n_members; m++) {
		const struct pt_device *e = &cfg->devices[pool->members[m]];
		struct pt_slot *s;

		if (e->count_all ? got[m] > 0 : got[m] == e->count)
			continue;
		s = add_slot(a, cap, e, NULL);
		if (e->has_count && !e->count_all)
			s->err = xasprintf("count: %u, but only %zu free PCI device%s match%s %s (see 'passthrough plan')",
					   e->count, got[m], got[m] == 1 ? "" : "s", got[m] == 1 ? "es" : "", want);
		else if (present == 0)
			s->err = xasprintf("no free PCI device matches %s (see 'passthrough devices')", want);
		else
			s->err = xasprintf("no free PCI device matching %s is left for it (%zu free, the other entries "
					   "of its pool have %s)", want, present, present == 1 ? "it" : "them");
	}
	free(want);
	free(got);
}

void
pt_assign(const struct pt_config *cfg, const struct pt_observed *obs, struct pt_assignment *ret)
{
	struct pt_assignment a = { NULL, 0 };
	struct cand *c = xcalloc(obs->n_devs ? obs->n_devs : 1, sizeof(*c));
	size_t cap = 0;

	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct pt_device *e = &cfg->devices[i];
		struct pt_slot *s;
		char *err = NULL;

		if (e->pool >= 0 || e->has_usb)
			continue;   /* its pool places it, below; a USB entry is planned apart (plan_usb()) */
		s = add_slot(&a, &cap, e, pt_resolve_device(e, obs, &err));
		s->err = err;
	}
	for (size_t k = 0; k < cfg->n_pools; k++) {
		const struct pt_pool *pool = &cfg->pools[k];

		for (size_t i = 0; i < obs->n_devs; i++) {
			const struct pt_pcidev *d = &obs->devs[i];
			bool named = false;

			for (size_t j = 0; j < cfg->n_devices && !named; j++)
				named = cfg->devices[j].has_address && pt_pciaddr_cmp(&cfg->devices[j].address, &d->addr) == 0;
			/* not one an entry with an address names, an earlier entry took, or a VM no member
			 * names holds */
			c[i].candidate = matches(&pool->match, d) && !named && !pt_assignment_claim(&a, d) &&
					 !held_by_hand(cfg, pool, obs, d);
			c[i].taker = NULL;
		}
		assign_pool(cfg, pool, obs, c, &a, &cap);
	}
	free(c);
	/* file order of the entries, each entry's devices by address; then the names */
	for (size_t i = 0, at = 0; i < cfg->n_devices; i++) {
		const struct pt_device *e = &cfg->devices[i];
		size_t first = at;

		for (size_t j = at; j < a.n_slots; j++) {
			if (a.slots[j].entry == e) {
				struct pt_slot t = a.slots[j];

				memmove(a.slots + at + 1, a.slots + at, (j - at) * sizeof(*a.slots));
				a.slots[at++] = t;
			}
		}
		if (at - first > 1)
			qsort(a.slots + first, at - first, sizeof(*a.slots), slot_addr_cmp);
		for (size_t j = first; j < at; j++)
			a.slots[j].name = e->has_count && a.slots[j].dev ? xasprintf("%s[%zu]", e->name, j - first)
									  : xstrdup(e->name);
	}
	*ret = a;
}

void
pt_assignment_done(struct pt_assignment *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_slots; i++) {
		free(a->slots[i].name);
		free(a->slots[i].why);
		free(a->slots[i].err);
	}
	free(a->slots);
	a->slots = NULL;
	a->n_slots = 0;
}

const struct pt_slot *
pt_assignment_claim(const struct pt_assignment *a, const struct pt_pcidev *d)
{
	for (size_t i = 0; d && i < a->n_slots; i++)
		if (a->slots[i].dev == d)
			return &a->slots[i];
	return NULL;
}
