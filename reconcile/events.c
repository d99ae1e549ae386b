/* events.c: follows libvirt's domain lifecycle events, reconnecting when libvirtd restarts, and the kernel's PCI add and remove uevents. */
#include "reconcile/events.h"

#include <errno.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "model/uevent.h"
#include "model/xalloc.h"
#include "reconcile/virt.h"

/* The uevent socket's receive queue: a rescan's burst (and the bind, vfio and net events
 * around it, all queued while a pass runs) fits; SO_RCVBUFFORCE (root) passes rmem_max. */
#define UEVENT_RCVBUF (1 << 20)
/* Messages read per wake-up at most, so that a storm cannot keep the loop in one callback. */
#define UEVENT_READS 256

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

/* The kernel's uevents: the socket, and the burst not yet passed on. */
struct uevents {
	int fd;                          /* -1: not followed */
	int handle, timer;               /* libvirt's ids, -1 when none */
	char *failed;                    /* reading failed: why (the loop says it, then stops following) */
	unsigned n;                      /* PCI add/remove messages in the burst; 0: no burst */
	bool dropped;                    /* the queue overflowed (ENOBUFS): some were lost */
	char first[40];                  /* the first one's device (a PCI address, a USB port path),
					  * "" when it named none */
	bool first_usb;                  /* it was a USB device */
	bool first_added;
	long long first_ms, last_ms;     /* CLOCK_MONOTONIC */
};

static long long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

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

/* When the burst's pass is due. */
static long long
burst_due(const struct uevents *u)
{
	long long quiet = u->last_ms + PT_UEVENT_QUIET_MS, bound = u->first_ms + PT_UEVENT_BOUND_MS;

	return quiet < bound ? quiet : bound;
}

static void
burst_clear(struct uevents *u)
{
	u->n = 0;
	u->dropped = false;
	if (u->timer >= 0)
		pt_virt.virEventUpdateTimeout(u->timer, -1);
}

static bool
burst_open(const struct uevents *u)
{
	return u->n > 0 || u->dropped;
}

/* Adds a message to the burst (ev NULL: messages were lost), starting one if none. */
static void
burst_add(struct uevents *u, const struct pt_uevent *ev)
{
	long long now = now_ms();
	const char *base, *why;
	struct pt_pciaddr a;

	if (!burst_open(u))
		u->first_ms = now;
	if (ev && u->n++ == 0) {
		u->first[0] = '\0';
		u->first_usb = pt_uevent_usb_change(ev);
		if (u->first_usb) {
			if ((base = strrchr(ev->devpath, '/')) && strlen(base + 1) < sizeof(u->first))
				snprintf(u->first, sizeof(u->first), "%s", base + 1);
		} else if (ev->has_slot) {
			pt_pciaddr_format(&ev->slot, u->first);
		} else if ((base = strrchr(ev->devpath, '/')) && pt_pciaddr_parse_full(base + 1, &a, &why) == 0) {
			pt_pciaddr_format(&a, u->first);
		}
		u->first_added = strcmp(ev->action, "add") == 0;
	}
	if (!ev)
		u->dropped = true;
	u->last_ms = now;
}

/* "PCI 0000:01:00.0 added (and 3 more)", "USB 2-1.3 removed"; caller frees. */
static char *
burst_text(const struct uevents *u)
{
	static const char lost[] = "some of the kernel's uevents were lost (the socket's queue overflowed)";
	char more[32] = "";

	if (u->n == 0)
		return xstrdup(lost);
	if (u->n > 1)
		snprintf(more, sizeof(more), " (and %u more)", u->n - 1);
	return xasprintf("%s %s %s%s%s%s", u->first_usb ? "USB" : "PCI", u->first[0] ? u->first : "device", u->first_added ? "added" : "removed",
			 more, u->dropped ? "; " : "", u->dropped ? lost : "");
}

static void
uevents_stop(struct uevents *u)
{
	if (u->handle >= 0)
		pt_virt.virEventRemoveHandle(u->handle);
	if (u->timer >= 0)
		pt_virt.virEventRemoveTimeout(u->timer);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = u->handle = u->timer = -1;
	u->n = 0;
	u->dropped = false;
}

static void
on_uevent(int watch, int fd, int events, void *opaque)
{
	struct uevents *u = opaque;
	char buf[PT_UEVENT_MAX];

	(void)watch;
	(void)events;
	for (int i = 0; i < UEVENT_READS && !u->failed; i++) {
		struct sockaddr_nl from = { 0 };
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);
		struct pt_uevent ev;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && errno == ENOBUFS) { /* the queue overflowed: a pass covers whatever was lost */
			burst_add(u, NULL);
			continue;
		}
		if (n < 0) {
			u->failed = xasprintf("cannot read the kernel's uevents: %s", strerror(errno));
			break;
		}
		/* only the kernel's (port id 0: no process can have it), whole, and about PCI or USB devices */
		if (m.msg_namelen < sizeof(from) || from.nl_pid != 0 || (m.msg_flags & MSG_TRUNC) ||
		    pt_uevent_parse(buf, (size_t)n, &ev) < 0 || (!pt_uevent_pci_change(&ev) && !pt_uevent_usb_change(&ev)))
			continue;
		burst_add(u, &ev);
	}
	if (burst_open(u)) {
		long long ms = burst_due(u) - now_ms();

		pt_virt.virEventUpdateTimeout(u->timer, ms > 0 ? (int)ms : 0);
	}
}

/* Opens the uevent socket and adds it to libvirt's loop; 0, or a negative errno with *reterr set. */
static int
uevents_start(struct uevents *u, char **reterr)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int sz = UEVENT_RCVBUF, r;

	u->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (u->fd < 0 || bind(u->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		*reterr = xasprintf("cannot open the kernel's uevent socket (NETLINK_KOBJECT_UEVENT): %s", strerror(-r));
		goto fail;
	}
	if (setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if ((u->timer = pt_virt.virEventAddTimeout(-1, tick, NULL, NULL)) < 0 ||
	    (u->handle = pt_virt.virEventAddHandle(u->fd, VIR_EVENT_HANDLE_READABLE, on_uevent, u, NULL)) < 0) {
		r = -EIO;
		*reterr = xasprintf("cannot follow the kernel's uevents in libvirt's event loop: %s",
				    pt_virt.virGetLastErrorMessage());
		goto fail;
	}
	return 0;
fail:
	uevents_stop(u);
	return r;
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
	struct uevents u = { .fd = -1, .handle = -1, .timer = -1 };
	virConnectPtr conn = NULL;
	time_t next_try = 0;
	int cb = -1, timer = -1, r = 0;
	bool said_lost = false;
	char *why = NULL;

	if ((r = pt_virt_load(reterr)) < 0)
		return r;
	if (pt_virt.virEventRegisterDefaultImpl() < 0 ||
	    (timer = pt_virt.virEventAddTimeout(1000, tick, NULL, NULL)) < 0) {
		*reterr = xasprintf("cannot start libvirt's event loop: %s", pt_virt.virGetLastErrorMessage());
		return -EIO;
	}
	if (uevents_start(&u, &why) < 0) {
		fn(data, PT_EVENT_NO_UEVENTS, NULL, why);
		free(why);
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
				burst_clear(&u); /* this full pass covers it */
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
		if (u.failed) {
			fn(data, PT_EVENT_NO_UEVENTS, NULL, u.failed);
			free(u.failed);
			u.failed = NULL;
			uevents_stop(&u);
		}
		if (burst_open(&u) && now_ms() >= burst_due(&u)) {
			char *t = burst_text(&u);

			burst_clear(&u);
			/* while libvirt is away, the pass at the reconnect covers it */
			if (conn && !p.closed && !*stop)
				fn(data, PT_EVENT_PCI, NULL, t);
			free(t);
		}
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
	uevents_stop(&u);
	free(u.failed);
	pt_virt.virEventRemoveTimeout(timer);
	for (size_t i = 0; i < p.n; i++)
		free(p.v[i].domain);
	free(p.v);
	return r;
}
