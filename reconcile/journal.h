/* journal.h: the journal beside the lock (/run/passthrough.journal): what apply did that sysfs cannot tell later; read as observation, written by apply. */
#ifndef PT_JOURNAL_H
#define PT_JOURNAL_H

#include <stdbool.h>

#include "model/observed.h"
#include "reconcile/host.h"
#include "reconcile/sysfs.h"

/*
 * The plan alone cannot tell a device a probe already failed to give to a host driver (a
 * Coral whose apex module the host does not have) from one a run left on no driver before
 * it probed (killed between clearing driver_override and drivers_probe). Both are driverless
 * with no override; the second must be probed, the first not forever. So apply writes down
 * each probe back to the host that bound nothing, with which PCI drivers were loaded then,
 * one line per device:
 *
 *   unclaimed 0000:01:00.0 1ac1:089a drivers=8c1e3f0a5d2b7964
 *
 * What it records holds as long as the same drivers are loaded (a probe's answer depends on
 * the device's ids and the drivers' id tables; a module that comes binds the devices it
 * matches by itself) and no longer than a boot: hence /run.
 */

/*
 * The journal's path: the lock file's, its ".lock" replaced by ".journal" (else with ".journal"
 * added): /run/passthrough.lock -> /run/passthrough.journal. Beside the lock, because only a
 * run that holds it writes the journal, and a run with another lock (a test's) has its own.
 * NULL when h has no lock file; the caller frees.
 */
char *pt_journal_path(const struct pt_host *h);

/*
 * Sets unclaimed on each device of obs the journal names that is still the same device (address
 * and ids), on no driver, without an override, with the same PCI drivers loaded. A journal that
 * is absent or unreadable marks nothing (then the planner probes again). Part of
 * pt_observe_sysfs(); one failed open() when there is no journal.
 */
void pt_journal_observe(const struct pt_host *h, struct pt_observed *obs);

/*
 * Records that a probe gave device bdf back to no host driver (unclaimed), or forgets it; what
 * apply does after each probe back to the host. The file is written beside itself and renamed
 * over, and removed when nothing is left; forgetting a device it does not name writes nothing.
 * 0, or a negative errno with *reterr set (the caller frees).
 */
int pt_journal_set(const struct pt_sysfs *s, const char *bdf, bool unclaimed, char **reterr);

/*
 * Two more kinds of line, each what sysfs cannot tell afterwards:
 *
 *   power 0000:01:00.0 control=auto d3cold_allowed=1
 *   vfio-pci disable_idle_d3=1 module=18342
 *
 * The first: what power/control and d3cold_allowed were before apply pinned the device in D0
 * (power: on), so that taking `power: on` out gives the kernel's choice back (observed as
 * pt_pcidev.power_saved). The second: the disable_idle_d3 apply loaded vfio-pci with, for that
 * load only (module= is the inode of module/vfio_pci, new at each load): the parameter file reads
 * whatever was last written to it, which takes effect at the next load (observed as
 * obs->vfio_idle_d3, known only while it is that load).
 */
/* Records saved for device bdf unless the journal has its values already (the first ones are the
 * kernel's choice: a second pin must not save "on"), or forgets them (saved NULL). 0, or a
 * negative errno with *reterr set. */
int pt_journal_set_power(const struct pt_host *h, const char *bdf, const struct pt_power_saved *saved, char **reterr);
/* Records that recover: rescan did not bring device bdf back (a reset, remove and rescan of its
 * bus, and it still does not answer), or forgets it: "unresponsive BDF VVVV:DDDD". The plan
 * does not try again (each try's remove and add would wake `watch` for the next); a reboot, or
 * a check that finds it answering, starts over. */
int pt_journal_set_unresponsive(const struct pt_sysfs *s, const char *bdf, bool failed, char **reterr);
/* Records that vfio-pci was just loaded with disable_idle_d3 = idle_d3 (0 or 1), or forgets it (-1). */
int pt_journal_set_vfio(const struct pt_host *h, int idle_d3, char **reterr);

/* Records that device bdf was bound to vfio-pci (or attached) for pool entry `entry` (a slot's
 * name: "tpu[1]" is entry "tpu"), or forgets it (NULL): "pool BDF VVVV:DDDD ENTRY". It keeps a
 * pool's assignment stable while no VM holds the device (observed as pt_pcidev.pool_entry). */
int pt_journal_set_pool(const struct pt_sysfs *s, const char *bdf, const char *entry, char **reterr);

#endif
