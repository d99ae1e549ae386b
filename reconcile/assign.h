/* assign.h: which present device each entry of passthrough.yaml takes (pools included); pure, part of the planner. */
#ifndef PT_ASSIGN_H
#define PT_ASSIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "model/config.h"
#include "model/observed.h"

/*
 * One device an entry takes. An entry without `count` has one slot; with `count: N`, one per
 * device it found (NAME[0], NAME[1], ... in address order), and one more, without a device, when
 * it found fewer than N.
 */
struct pt_slot {
	const struct pt_device *entry;  /* owned by the config */
	char *name;                     /* "coral", or "coral[1]" for an entry with count */
	const struct pt_pcidev *dev;    /* owned by obs; NULL when it has none (err says why) */
	char *why;                      /* pool members: how it got the device ("keeps it: attached to
					 * frigate", "lowest free address"); NULL otherwise */
	char *err;                      /* dev == NULL: why, without the name ("no PCI device at ...") */
};

struct pt_assignment {
	struct pt_slot *slots;          /* in file order of their entries, each entry's by address */
	size_t n_slots;
};

/*
 * Gives each entry its device(s). An entry with `address`, or a `match` of its own without
 * `count`, selects exactly one present device (pt_resolve_device()). A pool (struct pt_pool)
 * shares its matching devices out, stably: first each member keeps what it holds (a device its
 * VM has: attached live, or in its persistent definition), then each member, in file order,
 * takes the lowest free addresses. A device an entry with `address` names, or an earlier entry
 * took, or that a VM no member names holds (attached by hand), is never taken; nor, in the
 * hook's pass (which sees its own domain alone), a free one on vfio-pci. Always fills *ret.
 */
void pt_assign(const struct pt_config *cfg, const struct pt_observed *obs, struct pt_assignment *ret);
void pt_assignment_done(struct pt_assignment *a);
/* The slot that has device d, or NULL; owned by a. */
const struct pt_slot *pt_assignment_claim(const struct pt_assignment *a, const struct pt_pcidev *d);

/*
 * Resolves an entry that is in no pool to the one present device it selects. Returns it (owned
 * by obs), or NULL with *reterr set (the caller frees).
 */
const struct pt_pcidev *pt_resolve_device(const struct pt_device *d, const struct pt_observed *obs,
					  char **reterr);
/* Whether entry e could take d (its address, or its match); what observation reads more for. */
bool pt_entry_may_select(const struct pt_device *e, const struct pt_pcidev *d);

#endif
