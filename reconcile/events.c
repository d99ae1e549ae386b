/* events.c: follows libvirt's domain lifecycle events, reconnecting when libvirtd restarts. */
#include "reconcile/events.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/xalloc.h"
#include "reconcile/virt.h"

/* What the callbacks saw, for the loop to act on once libvirt has returned. */
struct pending {
	struct {
		char *domain;
		enum pt_event ev;
	} *v;
	size_t n, cap;
	bool closed;
	int close_reason;
};

static void
tick(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

static int
on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	struct pending *p = opaque;
	const char *name = pt_virt.virDomainGetName(dom);

	(void)conn;
	(void)detail;
	if ((event != VIR_DOMAIN_EVENT_STARTED && event != VIR_DOMAIN_EVENT_STOPPED) || !name)
		return 0;
	xgrow(&p->v, &p->cap, p->n + 1, sizeof(*p->v));
	p->v[p->n].domain = xstrdup(name);
	p->v[p->n++].ev = event == VIR_DOMAIN_EVENT_STARTED ? PT_EVENT_STARTED : PT_EVENT_STOPPED;
	return 0;
}

static void
on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct pending *p = opaque;

	(void)conn;
	p->closed = true;
	p->close_reason = reason;
}

static const char *
close_reason(int reason)
{
	switch (reason) {
	case VIR_CONNECT_CLOSE_REASON_EOF: return "libvirtd closed the connection (restarting?)";
	case VIR_CONNECT_CLOSE_REASON_KEEPALIVE: return "libvirtd stopped answering";
	case VIR_CONNECT_CLOSE_REASON_ERROR: return "the connection failed";
	default: return "the connection was closed";
	}
}

static void
disconnect(virConnectPtr conn, int cb)
{
	if (cb >= 0)
		pt_virt.virConnectDomainEventDeregisterAny(conn, cb);
	pt_virt.virConnectUnregisterCloseCallback(conn, on_close);
	pt_virt.virConnectClose(conn);
}

int
pt_follow_events(const struct pt_host *h, unsigned retry_s, const volatile sig_atomic_t *stop, pt_event_fn fn,
		 void *data, char **reterr)
{
	struct pending p = { 0 };
	virConnectPtr conn = NULL;
	time_t next_try = 0;
	int cb = -1, timer = -1, r = 0;
	bool said_lost = false;

	if ((r = pt_virt_load(reterr)) < 0)
		return r;
	if (pt_virt.virEventRegisterDefaultImpl() < 0 ||
	    (timer = pt_virt.virEventAddTimeout(1000, tick, NULL, NULL)) < 0) {
		*reterr = xasprintf("cannot start libvirt's event loop: %s", pt_virt.virGetLastErrorMessage());
		return -EIO;
	}
	while (!*stop) {
		if (!conn && time(NULL) >= next_try) {
			conn = pt_virt.virConnectOpenReadOnly(h->libvirt_uri);
			if (conn && ((cb = pt_virt.virConnectDomainEventRegisterAny(
					      conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
					      VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), &p, NULL)) < 0 ||
				     pt_virt.virConnectRegisterCloseCallback(conn, on_close, &p, NULL) < 0)) {
				disconnect(conn, cb);
				conn = NULL;
				cb = -1;
			}
			if (conn) {
				p.closed = false;
				said_lost = false;
				fn(data, PT_EVENT_CONNECTED, NULL, NULL);
			} else {
				char *m = xasprintf("cannot connect to libvirt at '%s': %s; trying again every %u s",
						    h->libvirt_uri, pt_virt.virGetLastErrorMessage(), retry_s);

				if (!said_lost) /* once per outage */
					fn(data, PT_EVENT_LOST, NULL, m);
				said_lost = true;
				free(m);
				next_try = time(NULL) + retry_s;
			}
		}
		if (pt_virt.virEventRunDefaultImpl() < 0) {
			*reterr = xasprintf("libvirt's event loop failed: %s", pt_virt.virGetLastErrorMessage());
			r = -EIO;
			break;
		}
		for (size_t i = 0; i < p.n; i++) {
			if (!*stop)
				fn(data, p.v[i].ev, p.v[i].domain, NULL);
			free(p.v[i].domain);
		}
		p.n = 0;
		if (conn && p.closed) {
			char *m = xasprintf("%s; reconnecting", close_reason(p.close_reason));

			fn(data, PT_EVENT_LOST, NULL, m);
			said_lost = true;
			free(m);
			disconnect(conn, cb);
			conn = NULL;
			cb = -1;
			next_try = time(NULL) + 1;
		}
	}
	if (conn)
		disconnect(conn, cb);
	pt_virt.virEventRemoveTimeout(timer);
	for (size_t i = 0; i < p.n; i++)
		free(p.v[i].domain);
	free(p.v);
	return r;
}
