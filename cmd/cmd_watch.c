/* cmd_watch.c: `passthrough watch`: follows libvirt's lifecycle events and the kernel's PCI uevents, and runs apply for each VM that starts or stops and each PCI device that comes or goes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/render.h"
#include "reconcile/events.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/reconcile.h"

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct watch {
	struct pt_ctx *ctx;
	struct pt_report rep;
	bool no_uevents;  /* the kernel's uevents cannot be followed */
};

static void
on_event(void *data, enum pt_event ev, const char *domain, const char *text)
{
	struct watch *w = data;
	struct pt_reconcile_opts o = pt_reconcile_opts_of(w->ctx);
	struct pt_reconcile_result res;
	/* each pass: changes to syslog only (and stderr with -v), errors to stderr too */
	struct pt_report pass = { w->ctx->verbose > 0, w->ctx->verbose > 0 };

	switch (ev) {
	case PT_EVENT_LOST:
		pt_say(&w->rep, LOG_WARNING, "%s", text);
		return;
	case PT_EVENT_NO_UEVENTS:
		pt_say(&w->rep, LOG_WARNING, "%s; a PCI device that comes back waits for a VM event or the timer", text);
		w->no_uevents = true;
		return;
	case PT_EVENT_CONNECTED:
		/* anything may have happened while we were away: all of it */
		pt_say(&w->rep, LOG_INFO, "watching libvirt at '%s'%s", w->ctx->host.libvirt_uri,
		       w->no_uevents ? "" : " and the kernel's PCI uevents");
		o.only_vm = NULL;
		break;
	case PT_EVENT_PCI:
		/* a device came back (hot-add, rescan) or went: it may be any entry's */
		pt_say(&w->rep, LOG_INFO, "kernel: %s", text);
		o.only_vm = NULL;
		break;
	case PT_EVENT_STARTED:
	case PT_EVENT_STOPPED:
		if (w->ctx->verbose)
			pt_say(&w->rep, LOG_INFO, "'%s' %s", domain, ev == PT_EVENT_STARTED ? "started" : "stopped");
		o.only_vm = domain;
		break;
	}
	/* what changed goes to syslog, errors to stderr too; a VM the file does not name costs one observation */
	o.report_data = &pass;
	pt_reconcile(&w->ctx->host, &o, &res);
	pt_report_pass(&res, &pass);
	pt_reconcile_result_done(&res);
	pt_pci_names_done();
}

static int
watch_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct watch w = { ctx, { isatty(STDERR_FILENO) || ctx->verbose > 0, ctx->verbose > 0 }, false };
	struct sigaction sa;
	char *err = NULL;
	int r;

	(void)argc;
	(void)argv;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	openlog("passthrough", LOG_PID, LOG_DAEMON);
	r = pt_follow_events(&ctx->host, 2, &stop_requested, on_event, &w, &err);
	if (r < 0) {
		pt_say(&w.rep, LOG_ERR, "%s", err);
		free(err);
	}
	closelog();
	return r < 0 ? PT_EXIT_FAIL : PT_EXIT_OK;
}

const struct pt_cmd pt_cmd_watch = {
	.name = "watch",
	.summary = "follow libvirt lifecycle events and PCI uevents, and reconcile",
	.usage = "[-c FILE] [--lock-file FILE]",
	.help =
	"Stays running: subscribes to libvirt's domain lifecycle events and runs apply --vm\n"
	"for each VM that starts (its devices are hot-plugged as soon as it runs) or stops\n"
	"(on_stop: release gives them back), and a full apply whenever it (re)connects. When\n"
	"libvirtd restarts it reconnects, trying every 2 s. It also follows the kernel's\n"
	"uevents (netlink, the messages udev reads; no daemon needed): when a PCI device is\n"
	"added or removed (hot-add, a rescan; not a driver's bind or unbind), a full apply\n"
	"runs 150 ms after the last event of the burst and at most 500 ms after its first, so\n"
	"a device that comes back is rebound and re-attached at once. Only the kernel's own\n"
	"messages count. When the socket cannot be opened, it says so once and goes on.\n"
	"Makes the hook optional where editing hooks is awkward; both can run, the lock keeps\n"
	"them apart. The file is read again for every apply. Changes go to syslog; errors to\n"
	"stderr too. Stops on SIGTERM or SIGINT. passthrough-watch.service (installed, not\n"
	"enabled) runs it.\n"
	"\n"
	"Exit status: 0 stopped by a signal, 1 libvirt cannot be loaded or its event loop failed.\n",
	.options = (const struct pt_option *const[]){ &pt_opt_lock_file, &pt_opt_lock_timeout, NULL },
	.min_args = 0,
	.max_args = 0,
	.run = watch_run,
};
