/* apply.h: runs a plan's steps on the host: sysfs writes, modprobe, libvirt attach/detach; the only code that changes anything. */
#ifndef PT_APPLY_H
#define PT_APPLY_H

#include "reconcile/host.h"
#include "reconcile/plan.h"

struct pt_apply_opts {
	unsigned probe_timeout_ms;    /* how long to wait for the driver link after drivers_probe */
	unsigned detach_timeout_ms;   /* how long to wait for a live detach to leave the live XML */
	const char *modprobe;         /* the modprobe to exec (a path, or a name looked up in PATH) */
	unsigned write_timeout_ms;    /* how long an unbind or drivers_probe write may take before the
				       * device is called wedged (pt_sysfs_write_bounded); 0: 10 s */
};

#define PT_WRITE_TIMEOUT_S 10
#define PT_WRITE_TIMEOUT_MS (PT_WRITE_TIMEOUT_S * 1000)
#define PT_APPLY_OPTS_DEFAULT { .probe_timeout_ms = 5000, .detach_timeout_ms = 15000, .modprobe = "modprobe", \
				.write_timeout_ms = PT_WRITE_TIMEOUT_MS }

/* How a step went: what report() receives. */
enum pt_step_outcome {
	PT_STEP_DONE,         /* changed the host and verified the change (a probe back to the host:
			       * made, and the journal says whether a driver took the device) */
	PT_STEP_HELD,         /* its goal already held: nothing to do */
	PT_STEP_FAILED,       /* msg says why; the device's later steps are skipped */
	PT_STEP_SKIPPED,      /* an earlier step of the same device failed */
	PT_STEP_RECOVERED,    /* a check or rescan brought the device back (reset, remove, rescan of
			       * its bus): it is a new device now, on whatever driver took it; its later
			       * steps are skipped and the pass plans again (pt_reconcile) */
	PT_STEP_TIMED_OUT,    /* failed so: a write did not return within write_timeout_ms (msg says
			       * which); the device may be wedged, with the kernel holding its lock:
			       * nothing in this pass may touch it again, not even to read it */
};

/* msg: why, for FAILED, TIMED_OUT and RECOVERED; for DONE, what was found on the way, or NULL. */
typedef void (*pt_step_report_fn)(void *data, const struct pt_step *s, enum pt_step_outcome o,
				  const char *msg);

/*
 * Runs the steps in order. Each checks its precondition first and does nothing when its
 * goal already holds, so running a plan twice is safe. A failing step stops only the
 * steps of its own device. libvirt is connected to (read-write) only when a step needs
 * it. The writes that can block (unbind, drivers_probe) are bounded by o->write_timeout_ms.
 * Returns the number of failed steps (those timed out among them).
 */
unsigned pt_apply(const struct pt_host *h, const struct pt_plan *plan, const struct pt_apply_opts *o,
		  pt_step_report_fn report, void *data);

#endif
