/* domxml.h: reads a libvirt domain XML (title, PCI hostdevs) and builds a <hostdev> element; pure. */
#ifndef PT_DOMXML_H
#define PT_DOMXML_H

#include <stdbool.h>
#include <stddef.h>

#include "model/observed.h"

/*
 * Parses a domain XML document. Sets *ret_title (NULL when none; the caller frees) and the
 * PCI devices given to it (<hostdev mode='subsystem' type='pci'> and <interface type='hostdev'>) into *ret_hostdevs and *ret_n (the caller frees).
 * Returns 0, or -EINVAL with *reterr set (the caller frees) for XML that is not a domain.
 */
int pt_domxml_parse(const char *xml, size_t len, char **ret_title, struct pt_hostdev **ret_hostdevs,
		    size_t *ret_n, char **reterr);

/*
 * Reads a whole domain definition (as a libvirt hook gets it on stdin) into *dom: name, UUID,
 * title, and its PCI devices as the persistent ones (have_config); state stopped, no live
 * devices. Returns 0, or -EINVAL with *reterr set (caller frees). pt_domain_done() frees *dom.
 */
int pt_domxml_read_domain(const char *xml, size_t len, struct pt_domain *dom, char **reterr);

/* The <hostdev managed='no'> element for addr, built only from its numbers; the caller frees. */
char *pt_domxml_hostdev(const struct pt_pciaddr *addr);

#endif
