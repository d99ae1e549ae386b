/* cmd_install.c: `passthrough install`: puts the libvirt hook, boot unit, timer (and on DSM the wiring) in place, idempotently: plans (reconcile/install.c), prints or applies the plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/install_print.h"
#include "reconcile/install.h"
#include "reconcile/lock.h"

#ifndef PT_SYSTEMD_CONFIG_FILE
#define PT_SYSTEMD_CONFIG_FILE "/etc/passthrough.yaml"
#endif

static const struct pt_option opt_dsm = {
	.name = "dsm", .type = PT_OPT_FLAG, .help = "Synology DSM 7 layout (writes only under /usr/local)",
};
static const struct pt_option opt_systemd = {
	.name = "systemd", .type = PT_OPT_FLAG, .help = "systemd host layout",
};
static const struct pt_option opt_repair = {
	.name = "repair", .type = PT_OPT_FLAG,
	.help = "only where it is installed already: put back what changed (the timer)",
};

/* Whether -c or --lock-file is a path install can write into the hook and units: 0, or a usage error printed. */
static int
check_path_option(const char *opt, const char *path)
{
	if (!path || pt_install_path_ok(path))
		return 0;
	if (path[0] == '/' && strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-") == strlen(path))
		fprintf(stderr, "passthrough: '%s' for install must be a clean absolute path to a file (no '.', '..' or "
			"empty component, not a directory), not '%s'\n", opt, path);
	else
		fprintf(stderr, "passthrough: '%s' for install must be an absolute path of letters, digits and /._+- "
			"only, not '%s'\n", opt, path);
	return PT_EXIT_USAGE;
}

static int
install_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct pt_install_target t = { PT_LAYOUT_SYSTEMD, ctx->root, "/proc/self/exe",
				       pt_opt_given(ctx, &pt_opt_config) ? ctx->config_path : NULL,
				       pt_opt_given(ctx, &pt_opt_lock_file) ? ctx->host.lock_file : NULL };
	bool dsm = pt_opt_given(ctx, &opt_dsm), systemd = pt_opt_given(ctx, &opt_systemd);
	struct pt_install_plan plan = { 0 };
	char *err = NULL;
	bool installed;
	int lock = -1, r;

	(void)argc;
	(void)argv;
	if (dsm && systemd) {
		fprintf(stderr, "passthrough: '--dsm' and '--systemd' do not go together (see 'passthrough install --help')\n");
		return PT_EXIT_USAGE;
	}
	if (t.root[0] != '/') {
		fprintf(stderr, "passthrough: '--root' takes an absolute path, not '%s'\n", t.root);
		return PT_EXIT_USAGE;
	}
	/* they go into shell lines, units and the manifest as they are */
	r = check_path_option("-c", t.config);
	if (r == 0)
		r = check_path_option("--lock-file", t.lock_file);
	if (r)
		return r;
	openlog("passthrough", LOG_PID, LOG_DAEMON);
	if (strcmp(t.root, "/") == 0 && !ctx->dry_run) {
		/* the timer, libvirtd's start (DSM), uninstall: one at a time */
		lock = pt_lock_take(ctx->host.lock_file, ctx->lock_timeout_s * 1000, &err);
		if (lock < 0)
			return pt_install_finish(ctx, &plan, lock, err, -1, NULL);
	}
	installed = pt_installed_layout(t.root, &t.layout) == 0;
	t.layout = dsm ? PT_LAYOUT_DSM
		   : systemd ? PT_LAYOUT_SYSTEMD
		   : installed ? t.layout
		   : pt_root_is_dsm(t.root) ? PT_LAYOUT_DSM : PT_LAYOUT_SYSTEMD;
	if (pt_opt_given(ctx, &opt_repair) && !installed) /* uninstalled: the timer or the DSM lines must not put it back */
		return pt_install_finish(ctx, &plan, 0, NULL, lock, NULL);
	r = pt_install_plan(&t, &plan, &err);
	if (r == 0 && !ctx->dry_run)
		r = pt_install_apply(&plan, &err);
	if (r == 0 && !ctx->dry_run && strcmp(t.root, "/") == 0) {
		bool units = false;

		for (size_t i = 0; i < plan.n; i++)
			units |= plan.ops[i].unit && plan.ops[i].result == PT_FILEOP_DONE;
		if (units)
			r = pt_systemctl((const char *const[]){ "daemon-reload", NULL }, &err);
		if (units && r == 0)
			r = pt_systemctl((const char *const[]){ "--no-block", "start", "passthrough.timer", NULL }, &err);
		r = r > 0 ? 0 : r;
	}
	return pt_install_finish(ctx, &plan, r, err, lock, "nothing to change");
}

const struct pt_cmd pt_cmd_install = {
	.name = "install",
	.summary = "install the libvirt hook, boot unit and self-heal timer",
	.usage = "[--dsm | --systemd] [--root DIR] [--dry-run] [--repair] [-c FILE] [--lock-file FILE] [--json]",
	.help =
	"Puts in place, changing only what differs, and says what it changed:\n"
	"  the binary (a copy of this one), and an empty config when there is none;\n"
	"  /etc/libvirt/hooks/qemu, which runs 'passthrough hook' (an earlier hook is kept\n"
	"    as qemu.passthrough-orig and still runs, after ours);\n"
	"  passthrough-boot.service (apply --host-only before libvirtd starts VMs),\n"
	"  passthrough.service (apply once libvirtd is up) and passthrough.timer (the same\n"
	"    every 5 minutes: self-heal, and install --repair: mend this wiring), enabled;\n"
	"  passthrough-watch.service, not enabled.\n"
	"--systemd: units in /etc/systemd/system, binary in " PT_SBINDIR ", config " PT_SYSTEMD_CONFIG_FILE ".\n"
	"--dsm (Synology DSM 7): everything under /usr/local (binary in /usr/local/bin,\n"
	"config /usr/local/etc/passthrough.yaml, units in /usr/local/lib/systemd/system), plus\n"
	"four marked lines in VMM's /var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh,\n"
	"which runs before each libvirtd start: they re-create the hook (DSM rebuilds\n"
	"/etc/libvirt at boot) and bind the devices. Without either: the layout installed\n"
	"already, else DSM when /etc.defaults/VERSION exists, else systemd.\n"
	"What it creates, replaces, moves or edits is recorded for 'passthrough uninstall'\n"
	"before it does it (a backup is written first), and the mtimes of the directories\n"
	"it changes, so that uninstall gives the tree back as it was, even after a kill.\n"
	"--root DIR: install into DIR instead of / (no systemctl then); a link in DIR that\n"
	"leads out of it is refused, and nothing is written. --dry-run: only say (the plan).\n"
	"--json: the plan as typed operations (mkdir, create, replace, move, enable_unit,\n"
	"block, and the bookkeeping: backup, record, commit, clean), each with its path and\n"
	"reason, and after a real run its result. -v: the bookkeeping in the text too.\n"
	"--repair: only when installed already (what the timer and the DSM lines run, so\n"
	"that they cannot put back what uninstall took away). -c and --lock-file go into the\n"
	"hook and units: clean absolute paths to a file, of [A-Za-z0-9/._+-] only (no '.' or\n"
	"'..' component, not '/'). A manifest line install would not write is refused.\n"
	"With --quiet it prints nothing; each change also goes to syslog.\n"
	"\n"
	"Exit status: 0 done (or nothing to change), 1 failed (what it changed until then is\n"
	"recorded), 64 usage error.\n",
	.options = (const struct pt_option *const[]){ &opt_dsm, &opt_systemd, &pt_opt_root, &pt_opt_dry_run,
						      &opt_repair, &pt_opt_lock_file, &pt_opt_lock_timeout, NULL },
	.min_args = 0,
	.max_args = 0,
	.run = install_run,
};
