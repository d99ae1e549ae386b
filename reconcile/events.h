/* events.h: follows libvirt's domain lifecycle events, reconnecting when libvirtd restarts, and the kernel's PCI add and remove uevents. */
#ifndef PT_EVENTS_H
#define PT_EVENTS_H

#include <signal.h>

#include "reconcile/host.h"

enum pt_event {
	PT_EVENT_CONNECTED,     /* (re)connected: anything may have happened meanwhile */
	PT_EVENT_STARTED,       /* a domain started */
	PT_EVENT_STOPPED,       /* a domain stopped */
	PT_EVENT_LOST,          /* the connection went away (or could not be made): text says why */
	PT_EVENT_PCI,           /* PCI devices came or went (the kernel's uevents, a burst as one):
				 * text names the first, "PCI 0000:01:00.0 added (and 3 more)" */
	PT_EVENT_NO_UEVENTS,    /* the kernel's uevents cannot be followed (said once): text says why */
};

/* A burst of uevents: its pass starts this long after the last one, and never later than
 * this long after the first (a storm still gets its pass within a second). */
#define PT_UEVENT_QUIET_MS 150
#define PT_UEVENT_BOUND_MS 500

/* Called from the loop, never from inside libvirt: it may connect to libvirt itself.
 * domain is the libvirt name for STARTED and STOPPED, else NULL; text is set for LOST, PCI
 * and NO_UEVENTS. */
typedef void (*pt_event_fn)(void *data, enum pt_event ev, const char *domain, const char *text);

/*
 * Connects read-only to h->libvirt_uri, subscribes to lifecycle events and calls fn for
 * each, until *stop becomes true (checked at least once a second). When the connection
 * is lost (libvirtd restarts), retries every retry_s seconds and reports CONNECTED again.
 *
 * In the same loop (libvirt's default event loop), follows the kernel's uevents
 * (NETLINK_KOBJECT_UEVENT, multicast group 1, in this process's network namespace): of
 * the messages the kernel sent (netlink port id 0; any other sender is ignored), those
 * that say a PCI device was added or removed (pt_uevent_pci_change) make one PCI event per
 * burst, PT_UEVENT_QUIET_MS after its last message or PT_UEVENT_BOUND_MS after its first,
 * whichever comes first. A burst while libvirt is unreachable, or before a CONNECTED, is
 * covered by that CONNECTED. When the socket cannot be opened (or reading it fails), says
 * NO_UEVENTS once and goes on with libvirt's events.
 *
 * Returns 0 when stopped, or a negative errno with *reterr set when libvirt cannot be
 * loaded or its event loop fails.
 */
int pt_follow_events(const struct pt_host *h, unsigned retry_s, const volatile sig_atomic_t *stop, pt_event_fn fn,
		     void *data, char **reterr);

#endif
