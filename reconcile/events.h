/* events.h: follows libvirt's domain lifecycle events, reconnecting when libvirtd restarts. */
#ifndef PT_EVENTS_H
#define PT_EVENTS_H

#include <signal.h>

#include "reconcile/host.h"

enum pt_event {
	PT_EVENT_CONNECTED,     /* (re)connected: anything may have happened meanwhile */
	PT_EVENT_STARTED,       /* a domain started */
	PT_EVENT_STOPPED,       /* a domain stopped */
	PT_EVENT_LOST,          /* the connection went away (or could not be made): text says why */
};

/* Called from the loop, never from inside libvirt: it may connect to libvirt itself.
 * domain is the libvirt name for STARTED and STOPPED, else NULL; text is set for LOST. */
typedef void (*pt_event_fn)(void *data, enum pt_event ev, const char *domain, const char *text);

/*
 * Connects read-only to h->libvirt_uri, subscribes to lifecycle events and calls fn for
 * each, until *stop becomes true (checked at least once a second). When the connection
 * is lost (libvirtd restarts), retries every retry_s seconds and reports CONNECTED again.
 * Returns 0 when stopped, or a negative errno with *reterr set when libvirt cannot be
 * loaded or its event loop fails.
 */
int pt_follow_events(const struct pt_host *h, unsigned retry_s, const volatile sig_atomic_t *stop, pt_event_fn fn,
		     void *data, char **reterr);

#endif
