/* cmd.h: the command table and the context every subcommand receives from main.c. */
#ifndef PT_CMD_H
#define PT_CMD_H

#include <stdbool.h>

#include "reconcile/host.h"

/* Exit statuses, documented in passthrough(8). */
#define PT_EXIT_OK 0
#define PT_EXIT_FAIL 1
#define PT_EXIT_CHANGES 2           /* plan --detailed-exitcode: changes pending; doctor: a warning */
#define PT_EXIT_USAGE 64            /* EX_USAGE */

/* Options; a command lists the ones it takes besides the global ones. */
enum pt_opt {
	PT_OPT_DETAILED_EXITCODE = 1 << 0,
	PT_OPT_VM = 1 << 1,
	PT_OPT_DRY_RUN = 1 << 2,
	PT_OPT_DSM = 1 << 3,
	PT_OPT_SYSTEMD = 1 << 4,
	PT_OPT_ROOT = 1 << 5,
	PT_OPT_LOCK_FILE = 1 << 6,
	PT_OPT_LOCK_TIMEOUT = 1 << 7,
	PT_OPT_WAIT_RUNNING = 1 << 8,
	PT_OPT_HOST_ONLY = 1 << 9,
	PT_OPT_REPAIR = 1 << 10,
};

struct pt_ctx {
	const char *config_path;
	bool config_given;             /* -c was given (else config_path is the built-in default) */
	struct pt_host host;
	bool json;
	bool quiet;
	int verbose;
	/* command options */
	bool detailed_exitcode;
	bool dry_run;
	bool dsm, systemd;
	const char *vm;
	const char *root;
	const char *lock_file;
	bool lock_given;               /* --lock-file was given */
	unsigned lock_timeout_s;
	unsigned wait_running_s;       /* apply: wait this long for the --vm domain to run */
	bool host_only;                /* plan, apply: sysfs only, never libvirt (boot) */
	bool repair;                   /* install: only where installed already (the timer) */
};

struct pt_cmd {
	const char *name;
	const char *summary;   /* one line for the command list */
	const char *usage;     /* arguments after "passthrough NAME" */
	const char *help;      /* what it does, exit statuses; printed by --help */
	unsigned options;      /* PT_OPT_* it accepts */
	int min_args, max_args;
	/* Returns an exit status. argv holds only the positional arguments. */
	int (*run)(struct pt_ctx *ctx, int argc, char **argv);
};

extern const struct pt_cmd pt_cmd_validate;
extern const struct pt_cmd pt_cmd_plan;
extern const struct pt_cmd pt_cmd_apply;
extern const struct pt_cmd pt_cmd_status;
extern const struct pt_cmd pt_cmd_devices;
extern const struct pt_cmd pt_cmd_hook;
extern const struct pt_cmd pt_cmd_watch;
extern const struct pt_cmd pt_cmd_install;
extern const struct pt_cmd pt_cmd_uninstall;
extern const struct pt_cmd pt_cmd_doctor;

#endif
