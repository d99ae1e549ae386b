/* observe_libvirt.h: lists libvirt domains with their titles, states and PCI hostdevs. */
#ifndef PT_OBSERVE_LIBVIRT_H
#define PT_OBSERVE_LIBVIRT_H

#include "model/config.h"
#include "model/observed.h"
#include "reconcile/host.h"

/*
 * Connects read-only to h->libvirt_uri and fills obs->doms (sorted by name): name, UUID,
 * title, state and the hostdevs of each domain's live XML (one fetch per domain). For a
 * running domain that a `persistent: true` entry of cfg names, the persistent XML is read
 * too (cfg may be NULL). Returns 0, or a negative errno with *reterr set (the caller frees).
 * libvirt's own error printing is silenced.
 */
int pt_observe_libvirt(const struct pt_host *h, const struct pt_config *cfg, struct pt_observed *obs,
		       char **reterr);

/*
 * Waits up to timeout_ms until the domain vm names (by name, UUID or title) is running (not
 * paused: a domain is paused while libvirt runs its "started" hook). 0, -ETIMEDOUT, or a
 * negative errno when libvirt cannot be reached; *reterr set on error (the caller frees).
 */
int pt_wait_domain_running(const struct pt_host *h, const char *vm, unsigned timeout_ms, char **reterr);

/* The version of the libvirt daemon behind h->libvirt_uri ("9.0.0"); 0, or a negative errno
 * with *reterr set. The caller frees *version. */
int pt_libvirt_version(const struct pt_host *h, char **version, char **reterr);

#endif
