/* cmd_hook.c: `passthrough hook`: the entry point for /etc/libvirt/hooks/qemu; never calls libvirt, never fails a VM start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/render.h"
#include "model/syserr.h"
#include "model/xalloc.h"
#include "reconcile/apply.h"
#include "reconcile/config_file.h"
#include "reconcile/domxml.h"
#include "reconcile/lock.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/plan.h"

#define MAX_XML (16u << 20)
#define HOOK_LOCK_TIMEOUT_MS 5000 /* then go on without it: the steps check before they act */
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

/* All of stdin (the domain XML libvirt writes), or NULL when it is a terminal or empty; caller frees. */
static char *
read_stdin(size_t *len)
{
	size_t cap = 0;
	char *buf = NULL;
	ssize_t n;

	*len = 0;
	if (isatty(STDIN_FILENO))
		return NULL;
	for (;;) {
		if (*len == cap) {
			if (cap >= MAX_XML)
				break;
			xgrow(&buf, &cap, cap ? cap * 2 : 16384, 1);
		}
		n = read(STDIN_FILENO, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	if (!*len) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool
names_domain(const char *vm, const struct pt_domain *dom)
{
	return strcmp(vm, dom->name) == 0 || (dom->uuid && strcasecmp(vm, dom->uuid) == 0) ||
	       (dom->title && strcmp(vm, dom->title) == 0);
}

/* Starts `passthrough apply --vm NAME --wait-running S ...` fully detached: double fork,
 * setsid, stdio on /dev/null, no other fds, no shell. Returns 0 or a negative errno. */
static int
spawn_worker(const struct pt_ctx *ctx, const char *vm)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;
	int status;

	if (n <= 0)
		return pt_neg_errno();
	self[n] = '\0';
	pid = fork();
	if (pid < 0)
		return pt_neg_errno();
	if (pid == 0) {
		const char *argv[32];
		int a = 0, null;

		if (setsid() < 0 || fork() != 0)
			_exit(0); /* the middle child exits at once: the worker is nobody's child */
		null = open("/dev/null", O_RDWR);
		if (null < 0)
			_exit(127);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		closefrom(STDERR_FILENO + 1);
		argv[a++] = "passthrough";
		argv[a++] = "apply";
		argv[a++] = "--vm";
		argv[a++] = vm;
		argv[a++] = "--wait-running";
		argv[a++] = WORKER_WAIT_RUNNING;
		argv[a++] = "-c";
		argv[a++] = ctx->config_path;
		argv[a++] = "--sysfs-root";
		argv[a++] = ctx->host.sysfs_root;
		argv[a++] = "--proc-root";
		argv[a++] = ctx->host.proc_root;
		argv[a++] = "--connect";
		argv[a++] = ctx->host.libvirt_uri;
		argv[a++] = "--lock-file";
		argv[a++] = ctx->lock_file;
		argv[a] = NULL;
		execv(self, (char *const *)argv);
		syslog(LOG_ERR, "cannot run '%s': %s", self, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return pt_neg_errno();
	return 0;
}

/* prepare and release: the sysfs half of the plan for this VM, here and now. */
static void
run_sysfs_steps(const struct pt_ctx *ctx, const struct pt_config *cfg, struct pt_domain *dom, bool starting)
{
	struct pt_report rep = { ctx->verbose > 0, ctx->verbose > 0 };
	struct pt_apply_opts opts = PT_APPLY_OPTS_DEFAULT;
	struct pt_observed obs = { 0 };
	struct pt_plan plan, sysfs_only;
	char *err = NULL;
	int lock;

	lock = pt_lock_take(ctx->lock_file, HOOK_LOCK_TIMEOUT_MS, &err);
	if (lock < 0) {
		pt_say(&rep, LOG_WARNING, "hook: %s; going on without it", err);
		free(err);
		err = NULL;
	}
	if (pt_observe_sysfs(&ctx->host, &obs, &err) < 0) {
		pt_say(&rep, LOG_ERR, "hook: %s", err);
		free(err);
		if (lock >= 0)
			close(lock);
		return;
	}
	/* The one domain we know, from libvirt's own XML: about to run, or just stopped. */
	dom->state = starting ? PT_DOMAIN_RUNNING : PT_DOMAIN_STOPPED;
	obs.doms = dom;
	obs.n_doms = 1;
	obs.have_domains = true;
	pt_plan_compute(cfg, &obs, dom->name, &plan);
	for (size_t i = 0; i < plan.n_errors; i++)
		pt_say(&rep, LOG_ERR, "hook: %s", plan.errors[i]);
	/* Attach and detach are the worker's: a hook must not call libvirt. */
	sysfs_only = plan;
	sysfs_only.steps = xcalloc(plan.n_steps + 1, sizeof(*plan.steps));
	sysfs_only.n_steps = 0;
	for (size_t i = 0; i < plan.n_steps; i++)
		if (plan.steps[i].kind != PT_STEP_ATTACH && plan.steps[i].kind != PT_STEP_DETACH)
			sysfs_only.steps[sysfs_only.n_steps++] = plan.steps[i];
	pt_apply(&ctx->host, &sysfs_only, &opts, pt_report_step, &rep);
	free(sysfs_only.steps);
	pt_plan_done(&plan);
	obs.doms = NULL;
	obs.n_doms = 0;
	pt_observed_done(&obs);
	if (lock >= 0)
		close(lock);
}

static int
hook_run(struct pt_ctx *ctx, int argc, char **argv)
{
	enum hook_op op = op_of(argv[1]);
	struct pt_report rep = { ctx->verbose > 0, ctx->verbose > 0 };
	struct pt_diags diags = PT_DIAGS_INIT;
	struct pt_config cfg;
	struct pt_domain dom;
	char *xml, *err = NULL;
	size_t len;
	bool named = false;

	(void)argc;
	if (op == OP_OTHER)
		return PT_EXIT_OK;
	xml = read_stdin(&len);
	if (!xml || pt_domxml_read_domain(xml, len, &dom, NULL, &err) < 0) {
		/* by hand, or an XML we cannot read: the name libvirt passed is all we know */
		free(err);
		memset(&dom, 0, sizeof(dom));
		dom.name = xstrdup(argv[0]);
		dom.uuid = xstrdup("");
	} else if (strcmp(dom.name, argv[0]) != 0) {
		free(dom.name);
		dom.name = xstrdup(argv[0]);
	}
	free(xml);
	openlog("passthrough", LOG_PID, LOG_DAEMON);
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
	for (size_t i = 0; i < cfg.n_devices && !named; i++)
		named = cfg.devices[i].state == PT_STATE_ATTACHED && names_domain(cfg.devices[i].vm, &dom);
	if (named) {
		const char *label = dom.title ? dom.title : dom.name;
		int r;

		switch (op) {
		case OP_PREPARE:
			run_sysfs_steps(ctx, &cfg, &dom, true);
			break;
		case OP_RELEASE:
			run_sysfs_steps(ctx, &cfg, &dom, false);
			break;
		case OP_STARTED:
		case OP_RECONNECT:
			r = spawn_worker(ctx, dom.name);
			if (r < 0)
				pt_say(&rep, LOG_ERR, "hook for '%s' %s: cannot start the worker: %s", label,
				       argv[1], strerror(-r));
			else if (ctx->verbose)
				pt_say(&rep, LOG_INFO, "hook for '%s' %s: a detached apply --vm takes over", label,
				       argv[1]);
			break;
		case OP_OTHER:
			break;
		}
	}
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
	"  release            gives back the devices whose on_stop is release.\n"
	"Any other VM or operation: exits at once. Problems are logged to syslog (and stderr),\n"
	"never returned to libvirt.\n"
	"\n"
	"Exit status: always 0, so that our trouble never stops a VM; 64 on a usage error.\n",
	.options = PT_OPT_LOCK_FILE,
	.min_args = 2,
	.max_args = 4,
	.run = hook_run,
};
