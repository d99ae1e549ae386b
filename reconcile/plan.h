/* plan.h: the planner, a pure function from (desired, observed) to an ordered list of steps. */
#ifndef PT_PLAN_H
#define PT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "model/observed.h"
#include "reconcile/assign.h"

enum pt_step_kind {
	PT_STEP_UNLOAD_VFIO,      /* modprobe -r vfio-pci, to load it again with the declared parameters
				   * (no VM holds a vfio device; each device it unbinds is probed again) */
	PT_STEP_LOAD_VFIO,        /* modprobe vfio-pci [arg: "disable_idle_d3=1"] */
	PT_STEP_DETACH,           /* detach the hostdev from `domain` */
	PT_STEP_SET_OVERRIDE,     /* driver_override: from -> "vfio-pci" */
	PT_STEP_UNBIND,           /* unbind from driver `from` */
	PT_STEP_CLEAR_OVERRIDE,   /* driver_override: from -> (none) */
	PT_STEP_PROBE,            /* drivers_probe; `to` is the driver expected, NULL: its host driver */
	PT_STEP_POWER,            /* power/control and d3cold_allowed: from -> to ("auto" -> "on", pinned
				   * in D0; back: "on" -> the values the journal saved) */
	PT_STEP_CHECK,            /* config space answers (before an attach, after a detach or a VM
				   * stop); with PT_STEP_RECOVER, brought back when it does not */
	PT_STEP_RESCAN,           /* gone from its bus, the bus still there: rescan it, wait for it */
	PT_STEP_RESET,            /* write 1 to `reset` (no VM holds it: just before the attach) */
	PT_STEP_ATTACH,           /* attach the hostdev to `domain` */
};

enum {
	PT_STEP_LIVE = 1 << 0,    /* attach/detach: the running domain */
	PT_STEP_CONFIG = 1 << 1,  /* attach/detach: the persistent definition */
	PT_STEP_MEMBER = 1 << 2,  /* a member of `device`'s IOMMU group taken with it (whole_group) */
	PT_STEP_RECOVER = 1 << 3, /* check: recover: rescan (a reset, remove, rescan of its bus) */
	PT_STEP_GAVE_UP = 1 << 5, /* check: recover: rescan did not bring it back before (the journal):
				   * not tried again */
	PT_STEP_POOL = 1 << 6,    /* probe to vfio-pci, attach: for a pool member (apply writes it
				   * in the journal: the assignment stays while no VM holds it) */
	PT_STEP_USB = 1 << 7,     /* attach/detach: a <hostdev type='usb'> (usb_* below), not a PCI one */
	PT_STEP_UNPIN = 1 << 4,   /* power: back to what the journal saved (to: power/control, arg:
				   * d3cold_allowed "0"/"1", each NULL when it was unknown); without
				   * it: pinned in D0 (to "on", arg "0"), the values there saved first */
};

struct pt_step {
	enum pt_step_kind kind;
	char *device;             /* the entry's name; NULL for PT_STEP_LOAD_VFIO */
	struct pt_pciaddr addr;
	char *from, *to;          /* drivers, or domains for attach/detach; NULL for none */
	char *domain;             /* attach/detach: the libvirt domain name */
	char *arg;                /* load_vfio: module parameters ("disable_idle_d3=1"), or NULL */
	unsigned flags;           /* PT_STEP_* */
	char *reason;             /* one line */
	/* PT_STEP_USB: the hostdev, by bus and device number, or by ids (usb_by_ids: a hostdev the
	 * domain holds that names its device so, to detach); addr is unused */
	unsigned usb_bus, usb_dev;
	bool usb_by_ids;
	uint16_t usb_vendor, usb_product;
	char *usb_label;          /* what people see instead of addr: "usb 2-1.3 (bus 2 device 5)" */
};

/* Why an entry cannot be planned (those entries have no steps). */
enum pt_problem_kind {
	PT_PROBLEM_DEVICE,        /* no present device is the one it names, or several are, or it changed */
	PT_PROBLEM_DUPLICATE,     /* another entry selects the same device */
	PT_PROBLEM_DOMAIN,        /* its vm names no domain, or more than one */
	PT_PROBLEM_SCOPE,         /* --vm names no domain, or more than one (no entry) */
	PT_PROBLEM_BRIDGE,        /* a PCI bridge cannot be passed through */
	PT_PROBLEM_HOST_USE,      /* the host uses it (or a group member), no force */
	PT_PROBLEM_NO_IOMMU,      /* no IOMMU group */
	PT_PROBLEM_GROUP,         /* its IOMMU group would not be viable, or would go to two VMs */
	PT_PROBLEM_NO_HOST_DRIVER, /* to be given back to the host, but a probe found no driver for it
				    * (pt_pcidev.unclaimed: apply probed, with the drivers loaded now) */
	PT_PROBLEM_NOT_RESPONDING, /* its config space reads all ones and recover is none */
	PT_PROBLEM_NO_RESET,      /* reset: before_attach, but the kernel has no reset for it */
};

struct pt_problem {
	enum pt_problem_kind kind;
	const struct pt_device *entry;  /* owned by the config; NULL for PT_PROBLEM_SCOPE */
	char *name;               /* its slot's name ("coral", "coral[1]"); NULL for PT_PROBLEM_SCOPE */
	bool has_addr;
	struct pt_pciaddr addr;   /* the device it resolved to, when it did */
	char *message;            /* one line for people, naming the entry: "'coral' 0000:03:00.0: ..." */
};

struct pt_plan {
	struct pt_step *steps;    /* in the order apply runs them */
	size_t n_steps, cap_steps;
	struct pt_problem *problems;
	size_t n_problems, cap_problems;
	char **notes;             /* one line each: what the plan waits for or leaves out */
	size_t n_notes, cap_notes;
	size_t n_devices;         /* slots considered */
	struct pt_assignment assignment;  /* the device(s) each entry got (pt_assign()) */
};

/*
 * Computes the steps that make obs match cfg; pure. Devices not named in cfg are never
 * touched (but members of a whole_group entry's IOMMU group are). When only_vm is not NULL,
 * only the entries whose vm is that domain (by name, UUID or title) are considered. When
 * obs->have_domains is false (libvirt was not asked), only moves to vfio-pci are planned:
 * entries that could take a device from a running VM (state released, on_stop release) are
 * left out with a note.
 * Entries with `usb` are planned apart (plan_usb()): attach and detach of <hostdev type='usb'>
 * by the present device's bus and device number, following replug and re-enumeration.
 * Always fills *ret (free it with pt_plan_done()); what cannot be planned is in ret->problems.
 */
void pt_plan_compute(const struct pt_config *cfg, const struct pt_observed *obs, const char *only_vm,
		     struct pt_plan *ret);
void pt_plan_done(struct pt_plan *plan);

/* "load_vfio", "detach", ... for JSON and logs. */
const char *pt_problem_kind_name(enum pt_problem_kind k);
/* The first problem of the slot called name ("coral", "coral[1]"), or NULL. */
const struct pt_problem *pt_plan_problem_of(const struct pt_plan *plan, const char *name);

const char *pt_step_kind_name(enum pt_step_kind k);
/* '+', '-' or '~': adds, removes or changes something. */
char pt_step_symbol(enum pt_step_kind k);

#endif
