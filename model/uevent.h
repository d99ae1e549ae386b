/* uevent.h: one kernel uevent (a NETLINK_KOBJECT_UEVENT datagram) read into the fields watch needs; pure. */
#ifndef PT_UEVENT_H
#define PT_UEVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/pciaddr.h"

/*
 * The longest datagram read as a uevent. The kernel's is "ACTION@DEVPATH" and its
 * environment, which it caps at UEVENT_BUFFER_SIZE (2048) bytes with DEVPATH inside it, so
 * a kernel message stays under 2 * 2048 + 32; anything longer is not one.
 */
#define PT_UEVENT_MAX 8192

/*
 * What watch reads of a message, e.g. of the kernel's
 *   "add@/devices/pci0000:00/0000:00:1c.0/0000:01:00.0" "ACTION=add"
 *   "DEVPATH=/devices/pci0000:00/0000:00:1c.0/0000:01:00.0" "SUBSYSTEM=pci" "PCI_CLASS=88000"
 *   "PCI_ID=1AC1:089A" "PCI_SUBSYS_ID=1AC1:089A" "PCI_SLOT_NAME=0000:01:00.0"
 *   "MODALIAS=pci:v00001AC1d0000089Asv00001AC1sd0000089Abc08sc80i00" "SEQNUM=3345"
 * (each NUL-terminated). The strings point into the buffer parsed: borrowed, valid as long
 * as it is; other keys are skipped.
 */
struct pt_uevent {
	const char *action;     /* "add", "remove", "bind", "unbind", "change", ... */
	const char *devpath;    /* "/devices/pci0000:00/0000:00:1c.0/0000:01:00.0" */
	const char *subsystem;  /* "pci" */
	const char *devtype;    /* DEVTYPE: "usb_device", "usb_interface"; NULL when absent */
	bool has_slot;          /* PCI_SLOT_NAME was there: */
	struct pt_pciaddr slot; /* ... the device */
	bool has_seqnum;
	uint64_t seqnum;        /* SEQNUM */
};

/*
 * Reads one datagram of len bytes at buf: the header "ACTION@DEVPATH", then KEY=VALUE
 * fields; the header and every field NUL-terminated, as the kernel sends them. Reads
 * nothing at or past buf + len, and each byte at most a few times. Returns 0 with *ret
 * filled, else *ret untouched and -EMSGSIZE (longer than PT_UEVENT_MAX) or -EBADMSG (not
 * as the kernel writes one: no '@' or no DEVPATH in the header, an unterminated, empty or
 * '='-less field, ACTION, DEVPATH or SUBSYSTEM missing, repeated, empty or not the
 * header's, a repeated DEVTYPE, a repeated or malformed PCI_SLOT_NAME or SEQNUM).
 */
int pt_uevent_parse(const char *buf, size_t len, struct pt_uevent *ret);

/* Whether it says a PCI device came or went: SUBSYSTEM=pci and ACTION add or remove (a
 * driver's bind and unbind, which apply makes itself, are neither). */
bool pt_uevent_pci_change(const struct pt_uevent *ev);
/* Whether it says a USB device came or went (replugged, or re-enumerated as the USB Coral does
 * once its firmware is loaded): SUBSYSTEM=usb, DEVTYPE=usb_device (not each of its
 * interfaces), ACTION add or remove. */
bool pt_uevent_usb_change(const struct pt_uevent *ev);

#endif
