/* domxml.h: reads a libvirt domain XML (title, PCI and USB hostdevs) and builds a <hostdev> element; pure. */
#ifndef PT_DOMXML_H
#define PT_DOMXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/diag.h"
#include "model/observed.h"

/*
 * Parses a domain XML document. Sets *ret_title (NULL when none; the caller frees) and the
 * PCI devices given to it (<hostdev mode='subsystem' type='pci'> and <interface type='hostdev'>) into *ret_hostdevs and *ret_n (the caller frees).
 * Their <source><address>: domain 0-0xffffffff, bus 0-0xff, slot 0-0x1f, function 0-7, each
 * "0x" hex or decimal as libvirt reads it, 0 when absent. A device with an attribute that is
 * not a number or out of range is left out, and a line naming the domain and the attribute
 * is added to *warnings (NULL when not wanted): it is never taken for another address.
 * Returns 0, or -EINVAL with *reterr set (the caller frees) for XML that is not a domain;
 * then *warnings is left as it was.
 */
int pt_domxml_parse(const char *xml, size_t len, char **ret_title, struct pt_hostdev **ret_hostdevs,
		    size_t *ret_n, struct pt_diags *warnings, char **reterr);

/*
 * The same, and the USB devices given to it (<hostdev mode='subsystem' type='usb'>: <vendor
 * id=>/<product id=> and/or <address bus= device=>; one with a bad number or neither is left
 * out with a warning) into *ret_usb and *ret_n_usb (the caller frees).
 */
int pt_domxml_parse_all(const char *xml, size_t len, char **ret_title, struct pt_hostdev **ret_hostdevs,
			size_t *ret_n, struct pt_usbhostdev **ret_usb, size_t *ret_n_usb, struct pt_diags *warnings,
			char **reterr);

/*
 * Reads a whole domain definition (as a libvirt hook gets it on stdin) into *dom: name, UUID,
 * title, and its PCI and USB devices as the persistent ones (have_config); state stopped, no live
 * devices; warnings as pt_domxml_parse. Returns 0, or -EINVAL with *reterr set (caller frees).
 * pt_domain_done() frees *dom.
 */
int pt_domxml_read_domain(const char *xml, size_t len, struct pt_domain *dom, struct pt_diags *warnings,
			  char **reterr);

/* The <hostdev managed='no'> element for addr, built only from its numbers; the caller frees. */
char *pt_domxml_hostdev(const struct pt_pciaddr *addr);
/* <hostdev mode='subsystem' type='usb' managed='yes'> naming a USB device by bus and device
 * number (what attach sends), or by vendor and product (what detach sends for a hostdev that
 * named its device so); the caller frees. */
char *pt_domxml_usb_hostdev(unsigned bus, unsigned device);
char *pt_domxml_usb_hostdev_ids(uint16_t vendor, uint16_t product);

#endif
