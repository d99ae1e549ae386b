/* cmd_uninstall.c: `passthrough uninstall`: undoes exactly what install recorded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/install_print.h"
#include "cmd/render.h"
#include "reconcile/install.h"
#include "reconcile/lock.h"

static int
uninstall_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct pt_install_target t = { PT_LAYOUT_SYSTEMD, ctx->root, NULL, NULL, NULL };
	struct pt_install_plan plan = { 0 };
	bool live = strcmp(t.root, "/") == 0 && !ctx->dry_run;
	enum pt_layout l;
	char *err = NULL;
	int lock = -1, r;

	(void)argc;
	(void)argv;
	if (t.root[0] != '/') {
		fprintf(stderr, "passthrough: '--root' takes an absolute path, not '%s'\n", t.root);
		return PT_EXIT_USAGE;
	}
	if (pt_installed_layout(t.root, &l) == 0)
		t.layout = l;
	openlog("passthrough", LOG_PID, LOG_DAEMON);
	if (live) {
		/* first the timer and what it runs, so that nothing puts it back meanwhile (and
		 * install --repair, run later, finds nothing installed) */
		r = pt_systemctl((const char *const[]){ "stop", "passthrough.timer", "passthrough.service",
							"passthrough-watch.service", NULL }, &err);
		if (r < 0) {
			pt_say(&(struct pt_report){ false, false }, LOG_WARNING, "%s; going on", err);
			free(err);
			err = NULL;
		}
		lock = pt_lock_take(ctx->host.lock_file, ctx->lock_timeout_s * 1000, &err);
		if (lock < 0)
			return pt_install_finish(ctx, &plan, lock, err, -1, NULL);
	}
	r = pt_uninstall_plan(&t, &plan, &err);
	if (r == 0 && !ctx->dry_run)
		r = pt_install_apply(&plan, &err);
	if (r == 0 && live) {
		r = pt_systemctl((const char *const[]){ "daemon-reload", NULL }, &err);
		r = r > 0 ? 0 : r;
	}
	return pt_install_finish(ctx, &plan, r, err, lock, NULL);
}

const struct pt_cmd pt_cmd_uninstall = {
	.name = "uninstall",
	.summary = "undo exactly what install did",
	.usage = "[--root DIR] [--dry-run] [--json]",
	.help =
	"Reads what install recorded and undoes it, newest first: removes what it created,\n"
	"puts back what it replaced or moved aside (an earlier libvirt hook), and restores\n"
	"DSM's package script byte for byte (or only takes out passthrough's lines when the\n"
	"script changed since). A config file you edited is kept. Devices stay where they\n"
	"are: run 'passthrough apply' with them released first if you want them back.\n"
	"The modification times of the directories install changed are put back, and the\n"
	"state directory goes last, so that an interrupted uninstall is finished by the next\n"
	"install or uninstall. A manifest line install would not write (a path with '.' or\n"
	"'..', one outside the layout, an option that is not a clean path) is refused before\n"
	"anything is undone.\n"
	"On a live system it stops the timer first and reloads systemd after.\n"
	"--root DIR: the tree install wrote into. --dry-run: only say (the plan). --json:\n"
	"the plan as typed operations (remove, restore, symlink, unblock, rmdir, and the\n"
	"bookkeeping: record, settime, clean, unstage), after a real run with their results.\n"
	"\n"
	"Exit status: 0 done, 1 failed or nothing installed, 64 usage error.\n",
	.options = (const struct pt_option *const[]){ &pt_opt_root, &pt_opt_dry_run, &pt_opt_lock_file,
						      &pt_opt_lock_timeout, NULL },
	.min_args = 0,
	.max_args = 0,
	.run = uninstall_run,
};
