/* main.c: global options, the subcommand table and dispatch for the passthrough command. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "reconcile/lock.h"
#include "reconcile/observe_libvirt.h"
#include "reconcile/virt.h"

#ifndef PT_VERSION
#define PT_VERSION "unknown"
#endif
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

static const struct pt_cmd *const commands[] = {
	&pt_cmd_validate,
	&pt_cmd_plan,
	&pt_cmd_apply,
	&pt_cmd_status,
	&pt_cmd_devices,
	&pt_cmd_hook,
	&pt_cmd_watch,
	&pt_cmd_install,
	&pt_cmd_uninstall,
	&pt_cmd_doctor,
	NULL,
};

enum {
	O_SYSFS_ROOT = 256,
	O_PROC_ROOT,
	O_CONNECT,
	O_JSON,
	O_VERSION,
	O_DETAILED_EXITCODE,
	O_VM,
	O_DRY_RUN,
	O_DSM,
	O_SYSTEMD,
	O_ROOT,
	O_LOCK_FILE,
	O_LOCK_TIMEOUT,
	O_WAIT_RUNNING,
	O_HOST_ONLY,
	O_REPAIR,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "sysfs-root", required_argument, NULL, O_SYSFS_ROOT },
	{ "proc-root", required_argument, NULL, O_PROC_ROOT },
	{ "connect", required_argument, NULL, O_CONNECT },
	{ "json", no_argument, NULL, O_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ "detailed-exitcode", no_argument, NULL, O_DETAILED_EXITCODE },
	{ "vm", required_argument, NULL, O_VM },
	{ "dry-run", no_argument, NULL, O_DRY_RUN },
	{ "dsm", no_argument, NULL, O_DSM },
	{ "systemd", no_argument, NULL, O_SYSTEMD },
	{ "root", required_argument, NULL, O_ROOT },
	{ "lock-file", required_argument, NULL, O_LOCK_FILE },
	{ "lock-timeout", required_argument, NULL, O_LOCK_TIMEOUT },
	{ "wait-running", required_argument, NULL, O_WAIT_RUNNING },
	{ "host-only", no_argument, NULL, O_HOST_ONLY },
	{ "repair", no_argument, NULL, O_REPAIR },
	{ NULL, 0, NULL, 0 },
};

/* The command options with their help lines, in the order help shows them. */
static const struct {
	unsigned bit;
	const char *name;
	const char *text;
} command_options[] = {
	{ PT_OPT_DETAILED_EXITCODE, "detailed-exitcode", "      --detailed-exitcode  exit 0 when nothing to do, 2 when changes are pending, 1 on error" },
	{ PT_OPT_VM, "vm", "      --vm NAME          only what the VM NAME (name, UUID or title) owns" },
	{ PT_OPT_DRY_RUN, "dry-run", "      --dry-run          show what would change, change nothing" },
	{ PT_OPT_DSM, "dsm", "      --dsm              Synology DSM 7 layout (writes only under /usr/local)" },
	{ PT_OPT_SYSTEMD, "systemd", "      --systemd          systemd host layout" },
	{ PT_OPT_ROOT, "root", "      --root DIR         the tree install writes to (default: /)" },
	{ PT_OPT_LOCK_FILE, "lock-file", "      --lock-file FILE   the lock every run takes (default: " PT_LOCK_FILE ")" },
	{ PT_OPT_LOCK_TIMEOUT, "lock-timeout", "      --lock-timeout S   wait at most S seconds for the lock (default: 60)" },
	{ PT_OPT_WAIT_RUNNING, "wait-running", "      --wait-running S   first wait up to S seconds until the --vm domain runs" },
	{ PT_OPT_REPAIR, "repair", "      --repair           only where it is installed already: put back what changed (the timer)" },
	{ PT_OPT_HOST_ONLY, "host-only", "      --host-only        sysfs only, never libvirt: binds to vfio-pci, releases nothing (boot)" },
};

static const char global_options_help[] =
	"Global options:\n"
	"  -c, --config FILE      configuration file (default: " PT_CONFIG_FILE ")\n"
	"      --sysfs-root DIR   sysfs to read and write (default: " PT_SYSFS_ROOT ")\n"
	"      --proc-root DIR    procfs to read (default: " PT_PROC_ROOT ")\n"
	"      --connect URI      libvirt connection (default: " PT_LIBVIRT_URI ")\n"
	"      --json             machine-readable output on stdout\n"
	"  -v, --verbose          say more\n"
	"  -q, --quiet            print only errors\n"
	"  -h, --help             show help (for a command: passthrough COMMAND --help)\n"
	"      --version          show the version, the libvirt library loaded, the daemon's version\n";

static void
print_main_help(FILE *f)
{
	fputs("usage: passthrough [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "Declarative PCI passthrough for libvirt/KVM hosts: passthrough.yaml says which\n"
	      "VM owns which PCI device, and passthrough makes the host match it.\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t i = 0; commands[i]; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fputs("\n", f);
	fputs(global_options_help, f);
	fputs("\nExit status: 0 success, 1 failure, 2 changes pending (plan --detailed-exitcode)\n"
	      "or a warning (doctor), 64 usage error.\n"
	      "See passthrough(8) and passthrough.yaml(5).\n", f);
}

static void
print_cmd_help(FILE *f, const struct pt_cmd *cmd)
{
	fprintf(f, "usage: passthrough %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->help);
	if (cmd->options) {
		fputs("Options:\n", f);
		for (size_t i = 0; i < sizeof(command_options) / sizeof(command_options[0]); i++)
			if (cmd->options & command_options[i].bit)
				fprintf(f, "%s\n", command_options[i].text);
		fputs("\n", f);
	}
	fputs(global_options_help, f);
}

static const struct pt_cmd *
find_command(const char *name)
{
	for (size_t i = 0; commands[i]; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

/* Prints one line naming the problem and where help is; returns the usage exit status. */
static int
usage_error(const struct pt_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
usage_error(const struct pt_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("passthrough: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'passthrough %s%s--help')\n", cmd ? cmd->name : "", cmd ? " " : "");
	return PT_EXIT_USAGE;
}

struct parsed {
	unsigned given;        /* PT_OPT_* bits seen */
	bool help, version;
};

static unsigned
opt_bit(int c)
{
	switch (c) {
	case O_DETAILED_EXITCODE: return PT_OPT_DETAILED_EXITCODE;
	case O_VM: return PT_OPT_VM;
	case O_DRY_RUN: return PT_OPT_DRY_RUN;
	case O_DSM: return PT_OPT_DSM;
	case O_SYSTEMD: return PT_OPT_SYSTEMD;
	case O_ROOT: return PT_OPT_ROOT;
	case O_LOCK_FILE: return PT_OPT_LOCK_FILE;
	case O_LOCK_TIMEOUT: return PT_OPT_LOCK_TIMEOUT;
	case O_WAIT_RUNNING: return PT_OPT_WAIT_RUNNING;
	case O_HOST_ONLY: return PT_OPT_HOST_ONLY;
	case O_REPAIR: return PT_OPT_REPAIR;
	default: return 0;
	}
}

/* A whole number of seconds, 0 to max; 0 or -EINVAL. */
static int
parse_seconds(const char *s, unsigned long max, unsigned *ret)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!s[0] || *end || s[0] == '-' || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* Parses options from argv[optind...]; stops at the first non-option when `stop`. */
static int
parse_options(struct pt_ctx *ctx, struct parsed *ps, const struct pt_cmd *cmd, int argc,
	      char **argv, bool stop)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, stop ? "+:c:vqh" : ":c:vqh", long_options, NULL)) != -1) {
		const char *bad = argv[optind - 1];

		switch (c) {
		case 'c':
			ctx->config_path = optarg;
			ctx->config_given = true;
			break;
		case O_SYSFS_ROOT:
			ctx->host.sysfs_root = optarg;
			break;
		case O_PROC_ROOT:
			ctx->host.proc_root = optarg;
			break;
		case O_CONNECT:
			ctx->host.libvirt_uri = optarg;
			break;
		case O_JSON:
			ctx->json = true;
			break;
		case 'v':
			ctx->verbose++;
			break;
		case 'q':
			ctx->quiet = true;
			break;
		case 'h':
			ps->help = true;
			break;
		case O_VERSION:
			ps->version = true;
			break;
		case O_DETAILED_EXITCODE:
			ctx->detailed_exitcode = true;
			break;
		case O_VM:
			ctx->vm = optarg;
			break;
		case O_DRY_RUN:
			ctx->dry_run = true;
			break;
		case O_DSM:
			ctx->dsm = true;
			break;
		case O_SYSTEMD:
			ctx->systemd = true;
			break;
		case O_ROOT:
			ctx->root = optarg;
			break;
		case O_LOCK_FILE:
			ctx->lock_file = optarg;
			ctx->lock_given = true;
			break;
		case O_LOCK_TIMEOUT:
			if (parse_seconds(optarg, 86400, &ctx->lock_timeout_s) < 0)
				return usage_error(cmd, "'--lock-timeout' takes seconds, 0 to 86400, not '%s'", optarg);
			break;
		case O_HOST_ONLY:
			ctx->host_only = true;
			break;
		case O_REPAIR:
			ctx->repair = true;
			break;
		case O_WAIT_RUNNING:
			if (parse_seconds(optarg, 3600, &ctx->wait_running_s) < 0)
				return usage_error(cmd, "'--wait-running' takes seconds, 0 to 3600, not '%s'", optarg);
			break;
		case ':':
			return usage_error(cmd, "option '%s' needs a value", bad);
		default:
			if (optopt && optopt < 256) {
				char s[3] = { '-', (char)optopt, '\0' };

				return usage_error(cmd, "unknown option '%s'", s);
			}
			return usage_error(cmd, "unknown option '%s'", bad);
		}
		ps->given |= opt_bit(c);
	}
	return 0;
}

/* --version: ours, then which libvirt library was loaded and the daemon's version at --connect;
 * a libvirt that cannot be loaded or reached is one line, never a failure. */
static int
print_version(const struct pt_ctx *ctx)
{
	unsigned long v = 0;
	char *err = NULL, *daemon = NULL;

	printf("passthrough %s\n", PT_VERSION);
	if (pt_virt_load(&err) < 0) {
		printf("libvirt library: not loaded: %s\n", err);
		free(err);
		return PT_EXIT_OK;
	}
	if (pt_virt.virGetVersion(&v, NULL, NULL) == 0)
		printf("libvirt library: %lu.%lu.%lu from '%s'\n", v / 1000000, v / 1000 % 1000, v % 1000, pt_virt_path());
	else
		printf("libvirt library: version unknown, from '%s'\n", pt_virt_path());
	if (pt_libvirt_version(&ctx->host, &daemon, &err) == 0)
		printf("libvirt daemon: %s at '%s'\n", daemon, ctx->host.libvirt_uri);
	else
		printf("libvirt daemon: %s\n", err);
	free(daemon);
	free(err);
	return PT_EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct pt_ctx ctx = {
		.config_path = PT_CONFIG_FILE,
		.host = { PT_SYSFS_ROOT, PT_PROC_ROOT, PT_LIBVIRT_URI },
		.lock_file = PT_LOCK_FILE,
		.lock_timeout_s = 60,
	};
	struct parsed ps = { 0, false, false };
	const struct pt_cmd *cmd;
	int r, nargs;
	char **args;

	r = parse_options(&ctx, &ps, NULL, argc, argv, true);
	if (r)
		return r;
	if (ps.version)
		return print_version(&ctx);
	if (optind >= argc) {
		if (ps.help) {
			print_main_help(stdout);
			return PT_EXIT_OK;
		}
		print_main_help(stderr);
		return PT_EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 >= argc) {
			print_main_help(stdout);
			return PT_EXIT_OK;
		}
		cmd = find_command(argv[optind + 1]);
		if (!cmd)
			return usage_error(NULL, "unknown command '%s'", argv[optind + 1]);
		print_cmd_help(stdout, cmd);
		return PT_EXIT_OK;
	}
	cmd = find_command(argv[optind]);
	if (!cmd)
		return usage_error(NULL, "unknown command '%s'", argv[optind]);

	/* Options may also follow the command: parse the rest with the command as argv[0]. */
	args = argv + optind;
	nargs = argc - optind;
	optind = 0;   /* makes glibc's getopt start over */
	r = parse_options(&ctx, &ps, cmd, nargs, args, false);
	if (r)
		return r;
	if (ps.help) {
		print_cmd_help(stdout, cmd);
		return PT_EXIT_OK;
	}
	if (ps.version)
		return print_version(&ctx);
	for (size_t i = 0; i < sizeof(command_options) / sizeof(command_options[0]); i++) {
		if ((ps.given & command_options[i].bit) && !(cmd->options & command_options[i].bit)) {
			return usage_error(cmd, "option '--%s' does not apply to '%s'",
					   command_options[i].name, cmd->name);
		}
	}
	if (ctx.quiet && ctx.verbose)
		return usage_error(cmd, "'--quiet' and '--verbose' do not go together");
	nargs -= optind;
	args += optind;
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		fprintf(stderr, "passthrough: '%s' takes %s (usage: passthrough %s %s)\n", cmd->name,
			cmd->max_args == 0 ? "no arguments" : "other arguments", cmd->name, cmd->usage);
		return PT_EXIT_USAGE;
	}
	return cmd->run(&ctx, nargs, args);
}
