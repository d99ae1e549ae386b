/* cmd.h: the command table and the context every subcommand receives from main.c. */
#ifndef PT_CMD_H
#define PT_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "reconcile/host.h"

/* Exit statuses, documented in passthrough(8). */
#define PT_EXIT_OK 0
#define PT_EXIT_FAIL 1
#define PT_EXIT_CHANGES 2           /* plan --detailed-exitcode: changes pending; doctor: a warning */
#define PT_EXIT_USAGE 64            /* EX_USAGE */

#define PT_OPT_GIVEN_MAX 32

enum pt_opt_type {
	PT_OPT_FLAG,       /* --name */
	PT_OPT_COUNT,      /* -v -v: how often */
	PT_OPT_STRING,     /* --name VALUE */
	PT_OPT_SECONDS,    /* --name S: a whole number of seconds, 0 to max */
};

/*
 * One option, declared once where it belongs: a command's own in the command's file (read
 * with pt_opt_*()), the shared ones in cmd/options.c (their value also lands in a pt_ctx
 * field). A command lists the ones it takes in its table entry; main.c parses, checks and
 * prints help from these alone.
 */
struct pt_option {
	const char *name;            /* long name, without the dashes */
	char short_name;             /* or 0 */
	enum pt_opt_type type;
	const char *arg;             /* what help calls its value: "NAME", "S"; NULL for flags */
	unsigned max;                /* PT_OPT_SECONDS: the largest value */
	const char *def;             /* the default as typed (help shows it), or NULL */
	const char *help;            /* one line: what it does */
	bool in_ctx;                 /* the value also goes into the pt_ctx field at offset */
	size_t offset;
};
#define PT_CTX_FIELD(f) .in_ctx = true, .offset = offsetof(struct pt_ctx, f)

/* Global options, and the shared command options (cmd/options.c). */
extern const struct pt_option pt_opt_config, pt_opt_sysfs_root, pt_opt_proc_root, pt_opt_connect,
	pt_opt_state_dir, pt_opt_metrics_file, pt_opt_json, pt_opt_verbose, pt_opt_quiet, pt_opt_help, pt_opt_version;
extern const struct pt_option pt_opt_vm, pt_opt_dry_run, pt_opt_root, pt_opt_lock_file,
	pt_opt_lock_timeout, pt_opt_host_only;
/* NULL-terminated, in the order help shows them. */
extern const struct pt_option *const pt_global_options[];

struct pt_opt_given {
	const struct pt_option *opt;
	const char *value;           /* PT_OPT_STRING */
	unsigned number;             /* PT_OPT_SECONDS, PT_OPT_COUNT */
};

struct pt_ctx {
	const char *config_path;
	struct pt_host host;
	const char *metrics_file;      /* --metrics-file, or NULL */
	bool json;
	bool quiet;
	int verbose;
	/* shared command options */
	bool dry_run;
	const char *vm;
	const char *root;
	unsigned lock_timeout_s;
	bool host_only;                /* plan, apply: sysfs only, never libvirt (boot) */
	/* every option given on the command line, for pt_opt_*() */
	struct pt_opt_given given[PT_OPT_GIVEN_MAX];
	size_t n_given;
};

/* Whether opt was given (what a flag says); its value, or its default when it was not. */
bool pt_opt_given(const struct pt_ctx *ctx, const struct pt_option *opt);
const char *pt_opt_string(const struct pt_ctx *ctx, const struct pt_option *opt);
unsigned pt_opt_seconds(const struct pt_ctx *ctx, const struct pt_option *opt);

struct pt_cmd {
	const char *name;
	const char *summary;   /* one line for the command list */
	const char *usage;     /* arguments after "passthrough NAME" */
	const char *help;      /* what it does, exit statuses; printed by --help */
	const struct pt_option *const *options; /* those it takes besides the global ones; NULL-terminated */
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
