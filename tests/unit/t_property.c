/* t_property.c: property test of the planner: random hosts and files -> plan -> the plan carried out on an in-memory host -> plan again; seeded and reproducible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/config.h"
#include "model/xalloc.h"
#include "reconcile/plan.h"

#define MAX_DEVS 10
#define MAX_DOMS 3

static const char *const host_drivers[] = { "e1000e", "ixgbe", "ahci", "snd_hda_intel" };

/* xorshift64*: the same seed gives the same cases on every machine. */
static uint64_t rng;
static unsigned long cases_with_steps, steps_total, cases_with_errors, released_driverless, pools_checked;

static unsigned
roll(unsigned n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (unsigned)((rng * 2685821657736338717ull) >> 33) % n;
}

/* A host: the observation, plus what the in-memory kernel needs (each device's own driver)
 * and the journal apply keeps (reconcile/journal.h). */
struct host {
	struct pt_observed obs;
	const char *native[MAX_DEVS];   /* the driver a probe without override binds; NULL: none */
	bool journal[MAX_DEVS];         /* a probe back to the host bound nothing, with these drivers */
};

/* What observation reads from the journal: an entry counts while the device is on no driver
 * and has no override (pt_journal_observe). */
static void
observe_journal(struct host *h)
{
	for (size_t i = 0; i < h->obs.n_devs; i++) {
		struct pt_pcidev *d = &h->obs.devs[i];

		d->unclaimed = h->journal[i] && !d->driver && !d->driver_override;
	}
}

static bool
is_vfio(const char *drv)
{
	return drv && strcmp(drv, "vfio-pci") == 0;
}

static void
random_host(struct host *h)
{
	unsigned n = 2 + roll(MAX_DEVS - 1), groups = 1 + roll(n);

	memset(h, 0, sizeof(*h));
	h->obs.devs = xcalloc(n, sizeof(*h->obs.devs));
	h->obs.n_devs = n;
	h->obs.iommu = true;
	h->obs.have_domains = true;
	for (unsigned i = 0; i < n; i++) {
		struct pt_pcidev *d = &h->obs.devs[i];
		unsigned kind = roll(10);

		d->addr = (struct pt_pciaddr){ 0, (uint8_t)(i / 4), (uint8_t)(i % 4 * 2), 0 };
		d->vendor = 0x8086;
		d->device = (uint16_t)(0x1000 + roll(4));   /* ids repeat: match may be ambiguous */
		d->iommu_group = (int)roll(groups);
		d->class_code = kind == 0 ? 0x060400 : kind == 1 ? 0x0c0500 : 0x020000;
		d->header_type = kind == 0 ? 1 : 0;
		h->native[i] = kind == 0 || roll(5) == 0 ? NULL : host_drivers[roll(4)];
		switch (roll(4)) {
		case 0: /* on vfio-pci, overridden as apply leaves it */
			d->driver = xstrdup("vfio-pci");
			d->driver_override = xstrdup("vfio-pci");
			h->obs.vfio_pci_loaded = true;
			break;
		case 1: /* unbound, with or without override */
			if (roll(2))
				d->driver_override = xstrdup("vfio-pci");
			break;
		default:
			d->driver = h->native[i] ? xstrdup(h->native[i]) : NULL;
		}
		/* an earlier run may have probed it back to the host for nothing (or been killed
		 * before it could probe: then there is no entry) */
		h->journal[i] = !h->native[i] && roll(2);
		if (kind == 1) {
			d->host_use = PT_USE_SMBUS;
			d->host_use_why = xstrdup("it is an SMBus controller");
		} else if (kind > 1 && roll(6) == 0) {
			d->host_use = PT_USE_NET;
			d->host_use_why = xstrdup("network interface 'eth0' is up");
		}
	}
	h->obs.vfio_pci_loaded |= roll(2) == 0;
	observe_journal(h);
	h->obs.n_doms = roll(MAX_DOMS + 1);
	h->obs.doms = xcalloc(MAX_DOMS, sizeof(*h->obs.doms));
	for (size_t j = 0; j < h->obs.n_doms; j++) {
		struct pt_domain *dom = &h->obs.doms[j];

		dom->name = xasprintf("vm%zu", j);
		dom->uuid = xasprintf("00000000-0000-0000-0000-00000000000%zu", j);
		dom->state = roll(3) ? PT_DOMAIN_RUNNING : PT_DOMAIN_STOPPED;
		dom->live = xcalloc(MAX_DEVS, sizeof(*dom->live));
		dom->config = xcalloc(MAX_DEVS, sizeof(*dom->config));
		dom->have_config = true;
		/* a running domain may already hold devices on vfio-pci (QEMU has them open) */
		for (unsigned i = 0; i < n && dom->state == PT_DOMAIN_RUNNING; i++)
			if (is_vfio(h->obs.devs[i].driver) && roll(4) == 0)
				dom->live[dom->n_live++].addr = h->obs.devs[i].addr;
	}
}

static void
random_config(const struct host *h, struct pt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->file = xstrdup("random.yaml");
	cfg->version = 1;
	cfg->devices = xcalloc(h->obs.n_devs, sizeof(*cfg->devices));
	for (size_t i = 0; i < h->obs.n_devs; i++) {
		struct pt_device *e;

		if (roll(3) == 0)
			continue;   /* undeclared */
		e = &cfg->devices[cfg->n_devices];
		e->name = xasprintf("dev%zu", i);
		if (roll(4)) {
			e->has_address = true;
			e->address = h->obs.devs[i].addr;
		}
		if (!e->has_address || roll(3) == 0) {
			e->match.fields = PT_MATCH_VENDOR | PT_MATCH_DEVICE;
			e->match.vendor = h->obs.devs[i].vendor;
			e->match.device = roll(8) ? h->obs.devs[i].device : 0x10ff; /* sometimes nothing matches */
		}
		e->state = (enum pt_state)roll(3);
		if (e->state == PT_STATE_ATTACHED) {
			unsigned v = roll(MAX_DOMS + 1);

			e->vm = v < h->obs.n_doms ? xasprintf("vm%u", v) : xstrdup("nowhere");
			e->on_stop = roll(3) ? PT_ON_STOP_KEEP : PT_ON_STOP_RELEASE;
			e->persistent = roll(4) == 0;
		}
		e->force = roll(8) == 0;
		e->whole_group = roll(6) == 0;
		e->count = 1;
		/* ids repeat, so entries with the same match make pools; some take more than one */
		if (!e->has_address && roll(4) == 0) {
			e->has_count = true;
			e->count_all = roll(4) == 0;
			e->count = e->count_all ? 0 : 1 + roll(3);
		}
		cfg->n_devices++;
	}
	pt_config_make_pools(cfg);
}

/* The slot that has the device at addr in plan p's assignment, or NULL. */
static const struct pt_slot *
slot_at(const struct pt_plan *p, const struct pt_pciaddr *addr)
{
	for (size_t i = 0; i < p->assignment.n_slots; i++)
		if (p->assignment.slots[i].dev && pt_pciaddr_cmp(&p->assignment.slots[i].dev->addr, addr) == 0)
			return &p->assignment.slots[i];
	return NULL;
}

static struct pt_pcidev *
dev_at(struct host *h, const struct pt_pciaddr *a, size_t *index)
{
	for (size_t i = 0; i < h->obs.n_devs; i++) {
		if (pt_pciaddr_cmp(&h->obs.devs[i].addr, a) == 0) {
			*index = i;
			return &h->obs.devs[i];
		}
	}
	fail_msg("a step names a device the host does not have");
	return NULL;
}

static struct pt_domain *
dom_named(struct host *h, const char *name)
{
	for (size_t j = 0; j < h->obs.n_doms; j++)
		if (strcmp(h->obs.doms[j].name, name) == 0)
			return &h->obs.doms[j];
	fail_msg("a step names domain '%s', which does not exist", name);
	return NULL;
}

static void
drop_hostdev(struct pt_hostdev *v, size_t *n, const struct pt_pciaddr *a)
{
	for (size_t k = 0; k < *n; k++)
		if (pt_pciaddr_cmp(&v[k].addr, a) == 0)
			v[k--] = v[--*n];
}

static void
set(char **field, const char *value)
{
	free(*field);
	*field = value ? xstrdup(value) : NULL;
}

/* The kernel and libvirt, in memory: each step's precondition is asserted, then its effect. */
static void
carry_out(struct host *h, const struct pt_plan *plan, const char *label)
{
	for (size_t s = 0; s < plan->n_steps; s++) {
		const struct pt_step *st = &plan->steps[s];
		struct pt_pcidev *d;
		struct pt_domain *dom;
		size_t i = 0;

		if (st->kind == PT_STEP_LOAD_VFIO) {
			/* vfio-pci does not count among the drivers the journal names: it takes no
			 * device without an override */
			h->obs.vfio_pci_loaded = true;
			continue;
		}
		d = dev_at(h, &st->addr, &i);
		switch (st->kind) {
		case PT_STEP_SET_OVERRIDE:
		case PT_STEP_CLEAR_OVERRIDE:
			set(&d->driver_override, st->to);
			break;
		case PT_STEP_UNBIND:
			for (size_t j = 0; j < h->obs.n_doms; j++)
				if (pt_domain_has_hostdev(&h->obs.doms[j], &d->addr, false) &&
				    h->obs.doms[j].state == PT_DOMAIN_RUNNING)
					fail_msg("%s: step %zu unbinds %02x:%02x.%x while %s holds it", label, s,
						 d->addr.bus, d->addr.slot, d->addr.func, h->obs.doms[j].name);
			set(&d->driver, NULL);
			break;
		case PT_STEP_PROBE:
			if (d->driver)
				fail_msg("%s: step %zu probes a device that has a driver", label, s);
			set(&d->driver, d->driver_override ? (h->obs.vfio_pci_loaded || !is_vfio(d->driver_override)
								  ? d->driver_override : NULL)
							   : h->native[i]);
			if (!st->to)   /* back to the host: apply writes down whether a driver took it */
				h->journal[i] = !d->driver;
			/* and for whom a pool member's device was bound (the journal's pool line) */
			free(d->pool_entry);
			d->pool_entry = st->flags & PT_STEP_POOL ? xstrndup(st->device, strcspn(st->device, "[")) : NULL;
			break;
		case PT_STEP_ATTACH:
			dom = dom_named(h, st->domain);
			if ((st->flags & PT_STEP_LIVE) && (dom->state != PT_DOMAIN_RUNNING || !is_vfio(d->driver)))
				fail_msg("%s: step %zu attaches live to %s, stopped or with the device off vfio-pci",
					 label, s, dom->name);
			if (st->flags & PT_STEP_LIVE)
				dom->live[dom->n_live++].addr = d->addr;
			if (st->flags & PT_STEP_CONFIG)
				dom->config[dom->n_config++].addr = d->addr;
			if (st->flags & PT_STEP_POOL) {
				free(d->pool_entry);
				d->pool_entry = xstrndup(st->device, strcspn(st->device, "["));
			}
			break;
		case PT_STEP_DETACH:
			dom = dom_named(h, st->domain);
			if (st->flags & PT_STEP_LIVE)
				drop_hostdev(dom->live, &dom->n_live, &d->addr);
			if (st->flags & PT_STEP_CONFIG)
				drop_hostdev(dom->config, &dom->n_config, &d->addr);
			break;
		case PT_STEP_UNLOAD_VFIO:
			/* unloading unbinds every device on vfio-pci */
			h->obs.vfio_pci_loaded = false;
			for (size_t j = 0; j < h->obs.n_devs; j++)
				if (is_vfio(h->obs.devs[j].driver))
					set(&h->obs.devs[j].driver, NULL);
			break;
		case PT_STEP_POWER:
			set(&d->power_control, st->to);
			break;
		case PT_STEP_RESET:
			for (size_t j = 0; j < h->obs.n_doms; j++)
				if (pt_domain_has_hostdev(&h->obs.doms[j], &d->addr, false) &&
				    h->obs.doms[j].state == PT_DOMAIN_RUNNING)
					fail_msg("%s: step %zu resets %02x:%02x.%x while %s holds it", label, s,
						 d->addr.bus, d->addr.slot, d->addr.func, h->obs.doms[j].name);
			break;
		case PT_STEP_CHECK:
		case PT_STEP_RESCAN:
		case PT_STEP_LOAD_VFIO:
			break;
		}
	}
	observe_journal(h);
}

/* Whether group g has an endpoint on vfio-pci and another on a host driver; drivers from
 * `drivers` (indexed like the devices) when not NULL, else the host's. */
static bool
mixed(const struct host *h, int g, char *const *drivers)
{
	bool vfio = false, host = false;

	for (size_t k = 0; k < h->obs.n_devs; k++) {
		const struct pt_pcidev *m = &h->obs.devs[k];
		const char *drv = drivers ? drivers[k] : m->driver;

		if (m->iommu_group != g || pt_pcidev_is_bridge(m))
			continue;
		vfio |= is_vfio(drv);
		host |= drv && !is_vfio(drv);
	}
	return vfio && host;
}

/* What a failing case was, on stderr: the host before, the file, the plan. */
static void
describe(const struct host *h, const struct pt_config *cfg, const struct pt_plan *p)
{
	for (size_t i = 0; i < h->obs.n_devs; i++) {
		const struct pt_pcidev *d = &h->obs.devs[i];

		fprintf(stderr, "#   dev %02x:%02x.%x %04x:%04x group %d driver %s override %s own %s%s%s\n",
			d->addr.bus, d->addr.slot, d->addr.func, d->vendor, d->device, d->iommu_group,
			d->driver ? d->driver : "-", d->driver_override ? d->driver_override : "-",
			h->native[i] ? h->native[i] : "-", pt_pcidev_is_bridge(d) ? " bridge" : "",
			d->host_use ? " host-critical" : "");
	}
	for (size_t j = 0; j < h->obs.n_doms; j++)
		fprintf(stderr, "#   domain %s %s, %zu live hostdevs\n", h->obs.doms[j].name,
			h->obs.doms[j].state == PT_DOMAIN_RUNNING ? "running" : "stopped", h->obs.doms[j].n_live);
	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct pt_device *e = &cfg->devices[i];

		fprintf(stderr, "#   entry %s: address %s%02x:%02x.%x match %04x:%04x state %s vm %s on_stop %s%s%s\n",
			e->name, e->has_address ? "" : "(none) ", e->address.bus, e->address.slot, e->address.func,
			e->match.vendor, e->match.device, pt_state_name(e->state), e->vm ? e->vm : "-",
			pt_on_stop_name(e->on_stop), e->force ? " force" : "", e->whole_group ? " whole_group" : "");
	}
	for (size_t k = 0; k < p->n_steps; k++)
		fprintf(stderr, "#   step %s %02x:%02x.%x %s -> %s (%s)\n", pt_step_kind_name(p->steps[k].kind),
			p->steps[k].addr.bus, p->steps[k].addr.slot, p->steps[k].addr.func,
			p->steps[k].from ? p->steps[k].from : "-", p->steps[k].to ? p->steps[k].to : "-",
			p->steps[k].reason);
	for (size_t k = 0; k < p->n_problems; k++)
		fprintf(stderr, "#   error %s\n", p->problems[k].message);
	for (size_t k = 0; k < p->n_notes; k++)
		fprintf(stderr, "#   note %s\n", p->notes[k]);
}

/* The properties, for one random case. */
static void
check_case(unsigned long seed)
{
	struct host h;
	char *was[MAX_DEVS] = { 0 };
	struct pt_config cfg;
	struct pt_plan p1, p2;
	char label[64];

	rng = seed * 0x9E3779B97F4A7C15ull + 1;
	snprintf(label, sizeof(label), "seed %lu", seed);
	random_host(&h);
	random_config(&h, &cfg);
	pt_plan_compute(&cfg, &h.obs, NULL, &p1);
	cases_with_steps += p1.n_steps > 0;
	cases_with_errors += p1.n_problems > 0;
	steps_total += p1.n_steps;

	/* Untouched: devices the file does not name (bar whole_group members), and host-critical
	 * devices without force. */
	for (size_t s = 0; s < p1.n_steps; s++) {
		const struct pt_step *st = &p1.steps[s];
		const struct pt_pcidev *d;
		const struct pt_device *e;
		size_t i;

		if (st->kind == PT_STEP_LOAD_VFIO)
			continue;
		d = dev_at(&h, &st->addr, &i);
		/* the entry the step is for: the device's own, or the whole_group entry taking it */
		{
			const struct pt_slot *own = slot_at(&p1, &d->addr);
			const struct pt_slot *named = NULL;

			for (size_t k = 0; k < p1.assignment.n_slots; k++)
				if (strcmp(p1.assignment.slots[k].name, st->device) == 0)
					named = &p1.assignment.slots[k];
			e = st->flags & PT_STEP_MEMBER ? (named ? named->entry : NULL) : own ? own->entry : NULL;
			if (!(st->flags & PT_STEP_MEMBER) && own && strcmp(own->name, st->device) != 0)
				e = NULL;   /* a step for one slot on another's device */
			if (st->flags & PT_STEP_MEMBER && own)
				e = NULL;   /* a member another entry has */
		}
		if (!e || (st->flags & PT_STEP_MEMBER && !e->whole_group)) {
			describe(&h, &cfg, &p1);
			fail_msg("%s: step %zu touches %02x:%02x.%x, which the file does not give it", label, s,
				 d->addr.bus, d->addr.slot, d->addr.func);
		}
		/* (unbinding it from vfio-pci gives it back: that is fine) */
		if (d->host_use && st->kind == PT_STEP_UNBIND && !is_vfio(st->from) && !(e && e->force)) {
			describe(&h, &cfg, &p1);
			fail_msg("%s: step %zu unbinds host-critical %02x:%02x.%x from %s without force (%s)", label,
				 s, d->addr.bus, d->addr.slot, d->addr.func, st->from, st->reason);
		}
	}

	for (size_t k = 0; k < h.obs.n_devs; k++)
		was[k] = h.obs.devs[k].driver ? xstrdup(h.obs.devs[k].driver) : NULL;
	carry_out(&h, &p1, label);

	/* No group made non-viable (vfio-pci and a host driver among its endpoints) that was not
	 * so before: the planner refuses what it cannot fix, and must not make it worse. */
	for (size_t k = 0; k < h.obs.n_devs; k++) {
		int g = h.obs.devs[k].iommu_group;

		if (mixed(&h, g, NULL) && !mixed(&h, g, was)) {
			describe(&h, &cfg, &p1);
			fail_msg("%s: the plan leaves group %d with vfio-pci and a host driver (the host shown is after)",
				 label, g);
		}
	}
	for (size_t k = 0; k < h.obs.n_devs; k++)
		free(was[k]);

	/* Converged: planning again finds nothing to do. */
	pt_plan_compute(&cfg, &h.obs, NULL, &p2);
	if (p2.n_steps) {
		fprintf(stderr, "%s: after carrying out %zu steps, %zu more; the first: %s %02x:%02x.%x (%s)\n", label,
			p1.n_steps, p2.n_steps, pt_step_kind_name(p2.steps[0].kind), p2.steps[0].addr.bus,
			p2.steps[0].addr.slot, p2.steps[0].addr.func, p2.steps[0].reason);
		describe(&h, &cfg, &p2);
		fail_msg("%s: the plan is not empty after carrying it out (the host shown is after)", label);
	}
	/* Released means on a host driver: an entry given back to the host that is on no driver
	 * afterwards is never converged, it is a no_host_driver problem; and that is the only
	 * problem carrying out a plan may bring. */
	/* Stable: the second plan gives every slot the device the first gave it. */
	for (size_t i = 0; i < p2.assignment.n_slots; i++) {
		const struct pt_slot *s2 = &p2.assignment.slots[i];
		const struct pt_slot *s1 = s2->dev ? slot_at(&p1, &s2->dev->addr) : NULL;

		if (s2->dev && (!s1 || strcmp(s1->name, s2->name) != 0)) {
			describe(&h, &cfg, &p2);
			fail_msg("%s: the assignment moved: %02x:%02x.%x was '%s', is '%s' after carrying out", label,
				 s2->dev->addr.bus, s2->dev->addr.slot, s2->dev->addr.func, s1 ? s1->name : "(none)",
				 s2->name);
		}
		pools_checked += s2->entry->pool >= 0 && s2->dev;
	}
	for (size_t i = 0; i < p2.assignment.n_slots; i++) {
		const struct pt_slot *slot = &p2.assignment.slots[i];
		const struct pt_device *e = slot->entry;
		const struct pt_problem *pr = pt_plan_problem_of(&p2, slot->name);
		const struct pt_pcidev *d = slot->dev;

		if (e->state != PT_STATE_RELEASED || !d || d->driver || pt_plan_problem_of(&p1, slot->name))
			continue;
		released_driverless++;
		if (!pr || pr->kind != PT_PROBLEM_NO_HOST_DRIVER) {
			describe(&h, &cfg, &p2);
			fail_msg("%s: '%s' is declared released, on no driver after carrying out, and %s", label,
				 e->name, pr ? pr->message : "converged");
		}
	}
	for (size_t k = 0; k < p2.n_problems; k++) {
		bool known = p2.problems[k].kind == PT_PROBLEM_NO_HOST_DRIVER;

		for (size_t j = 0; j < p1.n_problems && !known; j++)
			known = strcmp(p1.problems[j].message, p2.problems[k].message) == 0;
		if (!known) {
			describe(&h, &cfg, &p2);
			fail_msg("%s: carrying out the plan brought a new problem: %s", label, p2.problems[k].message);
		}
	}
	pt_plan_done(&p1);
	pt_plan_done(&p2);
	pt_config_done(&cfg);
	pt_observed_done(&h.obs);
}

/* Seeds that once failed, kept: 12654 released a device while a group-mate whose own
 * release was refused stayed on vfio-pci. */
static void
test_regressions(void **state)
{
	static const unsigned long seeds[] = { 12654 };

	(void)state;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		check_case(seeds[i]);
}

static void
test_random_cases(void **state)
{
	const char *n_env = getenv("PT_PROPERTY_CASES"), *seed_env = getenv("PT_PROPERTY_SEED");
	unsigned long n = n_env ? strtoul(n_env, NULL, 10) : 10000, first = seed_env ? strtoul(seed_env, NULL, 10) : 1;

	(void)state;
	for (unsigned long seed = first; seed < first + n; seed++)
		check_case(seed);
	printf("# %lu random cases, seeds %lu..%lu (PT_PROPERTY_SEED, PT_PROPERTY_CASES): %lu with steps "
	       "(%lu steps), %lu with refusals, %lu released entries left on no driver, %lu pool slots kept\n", n,
	       first, first + n - 1, cases_with_steps, steps_total, cases_with_errors, released_driverless,
	       pools_checked);
	/* a generator that stopped producing work would make every property hold for nothing */
	assert_true(cases_with_steps > n / 4);
	assert_true(released_driverless > n / 100);
	assert_true(pools_checked > n / 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regressions),
		cmocka_unit_test(test_random_cases),
	};

	return cmocka_run_group_tests_name("property", tests, NULL, NULL);
}
