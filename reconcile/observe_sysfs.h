/* observe_sysfs.h: reads PCI and USB devices, drivers, IOMMU groups and host use from the injected sysfs and /proc. */
#ifndef PT_OBSERVE_SYSFS_H
#define PT_OBSERVE_SYSFS_H

#include "model/config.h"
#include "model/observed.h"
#include "reconcile/host.h"

/*
 * Fills obs->devs (sorted), obs->usbdevs (bus/usb/devices: none when absent; a mass-storage
 * device's host_use_why when a filesystem of it is mounted), obs->iommu and obs->vfio_pci_loaded from h->sysfs_root and
 * h->proc_root, and each device's unclaimed from the journal beside h->lock_file. Returns 0, or a negative errno with *reterr set to a one-line message the
 * caller frees; obs is left as it was on failure.
 */
int pt_observe_sysfs(const struct pt_host *h, struct pt_observed *obs, char **reterr);

/*
 * Reads the power and reset attributes (power_state, power/control, d3cold_allowed, reset,
 * reset_method; each optional) of every device cfg's entries select, or of every device when
 * cfg is NULL (devices, status and doctor show them all). Not part of pt_observe_sysfs(): on a
 * host with a thousand functions, five more reads each would be most of a converged pass, and
 * apply needs them for its own devices only.
 */
void pt_observe_power(const struct pt_host *h, struct pt_observed *obs, const struct pt_config *cfg);

/*
 * Reads whether device d's config space answers (its vendor id at offset 0 is not 0xffff) into
 * d->answers: PT_TRI_NO when it reads all ones or cannot be read although the device is there.
 * Reading config resumes a runtime-suspended device, which is why pt_observe_sysfs() does not:
 * doctor asks, and apply checks just before an attach and after a detach.
 */
void pt_observe_health(const struct pt_host *h, struct pt_pcidev *d);

/*
 * Human-readable vendor and device names from pci.ids, e.g. "Intel Corporation 82574L
 * Gigabit Network Connection"; NULL when unknown. Loads pci.ids on first use; the caller frees.
 */
char *pt_pci_name(uint16_t vendor, uint16_t device);
/* The class name, e.g. "Ethernet controller"; NULL when unknown; the caller frees. */
char *pt_pci_class_name(uint32_t class_code);
/* Releases what pt_pci_name() loaded. */
void pt_pci_names_done(void);

#endif
