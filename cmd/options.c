/* options.c: the global options and those several commands share, declared once, and the accessors for the options a command declares itself. */
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "reconcile/lock.h"
#include "reconcile/statefile.h"

#ifndef PT_CONFIG_FILE
#define PT_CONFIG_FILE "/etc/passthrough.yaml"
#endif
#ifndef PT_SYSFS_ROOT
#define PT_SYSFS_ROOT "/sys"
#endif
#ifndef PT_PROC_ROOT
#define PT_PROC_ROOT "/proc"
#endif
#ifndef PT_LIBVIRT_URI
#define PT_LIBVIRT_URI "qemu:///system"
#endif

const struct pt_option pt_opt_config = {
	.name = "config", .short_name = 'c', .type = PT_OPT_STRING, .arg = "FILE", .def = PT_CONFIG_FILE,
	.help = "configuration file", PT_CTX_FIELD(config_path),
};
const struct pt_option pt_opt_sysfs_root = {
	.name = "sysfs-root", .type = PT_OPT_STRING, .arg = "DIR", .def = PT_SYSFS_ROOT,
	.help = "sysfs to read and write", PT_CTX_FIELD(host.sysfs_root),
};
const struct pt_option pt_opt_proc_root = {
	.name = "proc-root", .type = PT_OPT_STRING, .arg = "DIR", .def = PT_PROC_ROOT,
	.help = "procfs to read", PT_CTX_FIELD(host.proc_root),
};
const struct pt_option pt_opt_connect = {
	.name = "connect", .type = PT_OPT_STRING, .arg = "URI", .def = PT_LIBVIRT_URI,
	.help = "libvirt connection", PT_CTX_FIELD(host.libvirt_uri),
};
const struct pt_option pt_opt_state_dir = {
	.name = "state-dir", .type = PT_OPT_STRING, .arg = "DIR", .def = PT_STATE_DIR,
	.help = "where each pass keeps state.json (each device's history)", PT_CTX_FIELD(host.state_dir),
};
const struct pt_option pt_opt_metrics_file = {
	.name = "metrics-file", .type = PT_OPT_STRING, .arg = "FILE",
	.help = "write Prometheus metrics there after each pass (else metrics_file: in the file)",
	PT_CTX_FIELD(metrics_file),
};
const struct pt_option pt_opt_json = {
	.name = "json", .type = PT_OPT_FLAG, .help = "machine-readable output on stdout", PT_CTX_FIELD(json),
};
const struct pt_option pt_opt_verbose = {
	.name = "verbose", .short_name = 'v', .type = PT_OPT_COUNT, .help = "say more", PT_CTX_FIELD(verbose),
};
const struct pt_option pt_opt_quiet = {
	.name = "quiet", .short_name = 'q', .type = PT_OPT_FLAG, .help = "print only errors", PT_CTX_FIELD(quiet),
};
const struct pt_option pt_opt_help = {
	.name = "help", .short_name = 'h', .type = PT_OPT_FLAG,
	.help = "show help (for a command: passthrough COMMAND --help)",
};
const struct pt_option pt_opt_version = {
	.name = "version", .type = PT_OPT_FLAG,
	.help = "show the version, the libvirt library loaded, the daemon's version",
};

const struct pt_option *const pt_global_options[] = {
	&pt_opt_config, &pt_opt_sysfs_root, &pt_opt_proc_root, &pt_opt_connect, &pt_opt_state_dir,
	&pt_opt_metrics_file, &pt_opt_json,
	&pt_opt_verbose, &pt_opt_quiet, &pt_opt_help, &pt_opt_version, NULL,
};

const struct pt_option pt_opt_vm = {
	.name = "vm", .type = PT_OPT_STRING, .arg = "NAME",
	.help = "only what the VM NAME (name, UUID or title) owns", PT_CTX_FIELD(vm),
};
const struct pt_option pt_opt_dry_run = {
	.name = "dry-run", .type = PT_OPT_FLAG, .help = "show what would change, change nothing",
	PT_CTX_FIELD(dry_run),
};
const struct pt_option pt_opt_root = {
	.name = "root", .type = PT_OPT_STRING, .arg = "DIR", .def = "/",
	.help = "the tree install writes to", PT_CTX_FIELD(root),
};
const struct pt_option pt_opt_lock_file = {
	.name = "lock-file", .type = PT_OPT_STRING, .arg = "FILE", .def = PT_LOCK_FILE,
	.help = "the lock every run takes; its journal beside it", PT_CTX_FIELD(host.lock_file),
};
const struct pt_option pt_opt_lock_timeout = {
	.name = "lock-timeout", .type = PT_OPT_SECONDS, .arg = "S", .max = 86400, .def = "60",
	.help = "wait at most S seconds for the lock", PT_CTX_FIELD(lock_timeout_s),
};
const struct pt_option pt_opt_host_only = {
	.name = "host-only", .type = PT_OPT_FLAG,
	.help = "sysfs only, never libvirt: binds to vfio-pci, releases nothing (boot)", PT_CTX_FIELD(host_only),
};

static const struct pt_opt_given *
given(const struct pt_ctx *ctx, const struct pt_option *opt)
{
	for (size_t i = ctx->n_given; i > 0; i--)   /* the last one given counts */
		if (ctx->given[i - 1].opt == opt)
			return &ctx->given[i - 1];
	return NULL;
}

bool
pt_opt_given(const struct pt_ctx *ctx, const struct pt_option *opt)
{
	return given(ctx, opt) != NULL;
}

const char *
pt_opt_string(const struct pt_ctx *ctx, const struct pt_option *opt)
{
	const struct pt_opt_given *g = given(ctx, opt);

	return g ? g->value : opt->def;
}

unsigned
pt_opt_seconds(const struct pt_ctx *ctx, const struct pt_option *opt)
{
	const struct pt_opt_given *g = given(ctx, opt);

	return g ? g->number : opt->def ? (unsigned)strtoul(opt->def, NULL, 10) : 0;
}
