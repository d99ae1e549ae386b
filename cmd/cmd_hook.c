/* cmd_hook.c: `passthrough hook`: the entry point for /etc/libvirt/hooks/qemu; never calls libvirt, never fails a VM start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/render.h"
#include "model/syserr.h"
#include "model/xalloc.h"
#include "reconcile/child.h"
#include "reconcile/config_file.h"
#include "reconcile/domxml.h"
#include "reconcile/fileio.h"
#include "reconcile/reconcile.h"
#include "reconcile/vmrecord.h"

#define MAX_XML (16u << 20)
#define HOOK_LOCK_TIMEOUT_MS 5000 /* then the worker takes over: a hook must not hold libvirtd up */
#define WORKER_WAIT_RUNNING "120"

enum hook_op { OP_OTHER, OP_PREPARE, OP_STARTED, OP_RECONNECT, OP_RELEASE };

static enum hook_op
op_of(const char *op)
{
	return strcmp(op, "prepare") == 0     ? OP_PREPARE
	       : strcmp(op, "started") == 0   ? OP_STARTED
	       : strcmp(op, "reconnect") == 0 ? OP_RECONNECT
	       : strcmp(op, "release") == 0   ? OP_RELEASE
					      : OP_OTHER;
}

/* All of stdin (the domain XML libvirt writes) into *ret (the caller frees): 0, -ENODATA when
 * it is a terminal or empty, -EFBIG past MAX_XML, or another negative errno. */
static int
read_stdin(char **ret, size_t *len)
{
	int r;

	if (isatty(STDIN_FILENO))
		return -ENODATA;
	r = pt_read_fd(STDIN_FILENO, MAX_XML, ret, len);
	if (r == 0 && *len == 0) {
		free(*ret);
		*ret = NULL;
		r = -ENODATA;
	}
	return r;
}

/* Starts `passthrough apply --vm NAME [--wait-running S] ...` fully detached. 0 or a negative errno. */
static int
spawn_worker(const struct pt_ctx *ctx, const char *vm, bool wait_running)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *argv[] = {
		"passthrough", "apply", "-c", ctx->config_path, "--sysfs-root", ctx->host.sysfs_root,
		"--proc-root", ctx->host.proc_root, "--connect", ctx->host.libvirt_uri,
		"--lock-file", ctx->host.lock_file, "--state-dir", ctx->host.state_dir, "--vm", vm,
		wait_running ? "--wait-running" : NULL, WORKER_WAIT_RUNNING, NULL, NULL, NULL,
	};

	if (n <= 0)
		return pt_neg_errno();
	self[n] = '\0';
	if (ctx->metrics_file) {
		size_t i = wait_running ? 18 : 16;

		argv[i] = "--metrics-file";
		argv[i + 1] = ctx->metrics_file;
	}
	return pt_child_spawn_detached(self, argv);
}

/* prepare and release: the sysfs half of the plan for this VM, here and now; 0, or -EWOULDBLOCK
 * when the lock stayed busy (then nothing was done). */
static int
run_sysfs_steps(const struct pt_ctx *ctx, const struct pt_config *cfg, struct pt_domain *dom, bool starting)
{
	struct pt_report rep = { ctx->verbose > 0, ctx->verbose > 0 };
	struct pt_reconcile_opts o = pt_reconcile_opts_of(ctx);
	struct pt_reconcile_result res;
	int r = 0;

	/* The one domain we know, from libvirt's own XML: about to run, or just stopped. */
	dom->state = starting ? PT_DOMAIN_RUNNING : PT_DOMAIN_STOPPED;
	o.cfg = cfg;
	o.hook_domain = dom;
	o.only_vm = NULL;
	o.lock_timeout_ms = HOOK_LOCK_TIMEOUT_MS;
	o.report_data = &rep;
	pt_reconcile(&ctx->host, &o, &res);
	if (res.stage == PT_RECONCILE_LOCK) {
		pt_say(&rep, LOG_WARNING, "hook: %s; a detached apply --vm takes over", res.error);
		r = -EWOULDBLOCK;
	} else {
		pt_report_pass(&res, &rep);
	}
	pt_reconcile_result_done(&res);
	return r;
}

/* The domain libvirt passes on stdin into *dom; what cannot be read is one line (syslog, and
 * stderr with -v), and then the name libvirt passed (argv[0]) is all we know. */
static void
read_domain(const struct pt_report *rep, char **argv, struct pt_domain *dom)
{
	char *xml = NULL, *err = NULL;
	size_t len;
	int r = read_stdin(&xml, &len);

	if (r == 0 && pt_domxml_read_domain(xml, len, dom, NULL, &err) < 0)
		r = -EINVAL;
	free(xml);
	if (r != 0) {
		if (r != -ENODATA || !isatty(STDIN_FILENO)) /* by hand at a terminal: expected */
			pt_say(rep, LOG_WARNING, "hook for '%s' %s: cannot read the domain XML on stdin: %s; "
			       "going by the name alone (a <title> is not seen)", argv[0], argv[1],
			       r == -EINVAL ? err : r == -EFBIG ? "larger than 16 MiB"
				: r == -ENODATA ? "it is empty" : strerror(-r));
		free(err);
		memset(dom, 0, sizeof(*dom));
		dom->name = xstrdup(argv[0]);
		dom->uuid = xstrdup("");
	} else if (strcmp(dom->name, argv[0]) != 0) {
		free(dom->name);
		dom->name = xstrdup(argv[0]);
	}
}

/*
 * Whether some attached entry of cfg names dom: true when one does by name or UUID, or by a
 * title that apply recorded as this domain's alone. A title is not unique in libvirt and the
 * hook sees one domain, so a title match apply did not confirm sets *unconfirmed (that vm,
 * owned by cfg) instead.
 */
static bool
names_dom(const struct pt_ctx *ctx, const struct pt_config *cfg, const struct pt_domain *dom,
	  const char **unconfirmed)
{
	char *record = pt_vm_record_path(&ctx->host);
	bool named = false;

	*unconfirmed = NULL;
	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct pt_device *e = &cfg->devices[i];
		enum pt_vm_match m = e->state == PT_STATE_ATTACHED ? pt_vm_match(e->vm, dom->name, dom->uuid, dom->title)
								   : PT_VM_NO;

		if (m == PT_VM_BY_TITLE && !pt_vm_record_confirms(record, e->vm, dom->uuid)) {
			if (!*unconfirmed)
				*unconfirmed = e->vm;
		} else if (m != PT_VM_NO) {
			named = true;
		}
	}
	free(record);
	return named;
}

static int
hook_run(struct pt_ctx *ctx, int argc, char **argv)
{
	enum hook_op op = op_of(argv[1]);
	struct pt_report rep = { ctx->verbose > 0, ctx->verbose > 0 };
	struct pt_diags diags = PT_DIAGS_INIT;
	const char *unconfirmed, *label, *id;
	struct pt_config cfg;
	struct pt_domain dom;
	int r = 0;

	(void)argc;
	if (op == OP_OTHER)
		return PT_EXIT_OK;
	openlog("passthrough", LOG_PID, LOG_DAEMON);
	read_domain(&rep, argv, &dom);
	if (pt_config_file_load(ctx->config_path, geteuid(), &cfg, &diags) < 0) {
		/* never fail a VM start for our own error: log it, let libvirt go on */
		for (size_t i = 0; i < diags.n; i++) {
			char *line = pt_diag_format(&diags.v[i]);

			pt_say(&rep, LOG_ERR, "hook for '%s' %s: %s", dom.name, argv[1], line);
			free(line);
		}
		pt_diags_done(&diags);
		pt_domain_done(&dom);
		closelog();
		return PT_EXIT_OK;
	}
	pt_diags_done(&diags);
	label = dom.title ? dom.title : dom.name;
	id = dom.uuid && dom.uuid[0] ? dom.uuid : dom.name; /* the worker asks libvirt by UUID: no other domain shares it */
	if (!names_dom(ctx, &cfg, &dom, &unconfirmed) && !unconfirmed)
		op = OP_OTHER;
	switch (op) {
	case OP_PREPARE:
	case OP_RELEASE:
		if (unconfirmed)
			pt_say(&rep, LOG_WARNING, "hook for '%s' %s: the file's vm '%s' matches its <title>, which "
			       "apply has not confirmed is this domain's alone; a detached apply --vm takes over",
			       label, argv[1], unconfirmed);
		/* the lock busy: not without it; the worker takes it with its own patience */
		else if (run_sysfs_steps(ctx, &cfg, &dom, op == OP_PREPARE) == 0)
			break;
		r = spawn_worker(ctx, id, op == OP_PREPARE);
		break;
	case OP_STARTED:
	case OP_RECONNECT:
		r = spawn_worker(ctx, id, true);
		if (r == 0 && ctx->verbose)
			pt_say(&rep, LOG_INFO, "hook for '%s' %s: a detached apply --vm takes over", label, argv[1]);
		break;
	case OP_OTHER:
		break;
	}
	if (r < 0)
		pt_say(&rep, LOG_ERR, "hook for '%s' %s: cannot start the worker: %s", label, argv[1], strerror(-r));
	pt_config_done(&cfg);
	pt_domain_done(&dom);
	closelog();
	return PT_EXIT_OK;
}

const struct pt_cmd pt_cmd_hook = {
	.name = "hook",
	.summary = "entry point for /etc/libvirt/hooks/qemu",
	.usage = "DOMAIN OPERATION [SUB-OPERATION [EXTRA]] [--lock-file FILE]",
	.help =
	"Called by libvirt's qemu hook with the domain XML on stdin; never calls libvirt.\n"
	"For a VM the file gives devices to (by name, UUID or <title>, read from the XML):\n"
	"  prepare            binds its devices to vfio-pci now, before QEMU opens them;\n"
	"  started, reconnect starts a detached worker (double fork, setsid, no shell) that\n"
	"                     waits until the VM runs and then runs apply --vm NAME;\n"
	"  release            checks the stopped VM's devices still answer (recover: rescan\n"
	"                     brings them back) and gives back those whose on_stop is release.\n"
	"Any other VM or operation: exits at once. Problems are logged to syslog (and stderr),\n"
	"never returned to libvirt.\n"
	"\n"
	"Exit status: always 0, so that our trouble never stops a VM; 64 on a usage error.\n",
	.options = (const struct pt_option *const[]){ &pt_opt_lock_file, NULL },
	.min_args = 2,
	.max_args = 4,
	.run = hook_run,
};
