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

/* "  -c, --config FILE      configuration file (default: /etc/passthrough.yaml)" */
static void
print_option(FILE *f, const struct pt_option *o)
{
	char left[64];
	int n;

	if (o->short_name)
		n = snprintf(left, sizeof(left), "  -%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
			     o->arg ? o->arg : "");
	else
		n = snprintf(left, sizeof(left), "      --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(f, "%s%*s%s", left, n < 23 ? 25 - n : 2, "", o->help);
	if (o->def)
		fprintf(f, " (default: %s)", o->def);
	fputc('\n', f);
}

static void
print_global_options(FILE *f)
{
	fputs("Global options:\n", f);
	for (size_t i = 0; pt_global_options[i]; i++)
		print_option(f, pt_global_options[i]);
}

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
	print_global_options(f);
	fputs("\nExit status: 0 success, 1 failure, 2 changes pending (plan --detailed-exitcode)\n"
	      "or a warning (doctor), 64 usage error.\n"
	      "See passthrough(8) and passthrough.yaml(5).\n", f);
}

static void
print_cmd_help(FILE *f, const struct pt_cmd *cmd)
{
	fprintf(f, "usage: passthrough %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->help);
	if (cmd->options && cmd->options[0]) {
		fputs("Options:\n", f);
		for (size_t i = 0; cmd->options[i]; i++)
			print_option(f, cmd->options[i]);
		fputs("\n", f);
	}
	print_global_options(f);
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

/* Every option any command takes, each once: the global ones first. */
static const struct pt_option *all[64];
static struct option long_options[64];
static size_t n_all;

static void
add_option(const struct pt_option *o)
{
	for (size_t i = 0; i < n_all; i++)
		if (all[i] == o)
			return;
	if (n_all + 1 >= sizeof(all) / sizeof(all[0]))
		abort();   /* a table that outgrew this is a build mistake */
	all[n_all] = o;
	long_options[n_all] = (struct option){ o->name, o->type == PT_OPT_STRING || o->type == PT_OPT_SECONDS
					       ? required_argument : no_argument, NULL, 256 + (int)n_all };
	n_all++;
}

static void
collect_options(void)
{
	for (size_t i = 0; pt_global_options[i]; i++)
		add_option(pt_global_options[i]);
	for (size_t c = 0; commands[c]; c++)
		for (size_t i = 0; commands[c]->options && commands[c]->options[i]; i++)
			add_option(commands[c]->options[i]);
}

static bool
is_global(const struct pt_option *o)
{
	for (size_t i = 0; pt_global_options[i]; i++)
		if (pt_global_options[i] == o)
			return true;
	return false;
}

static bool
takes(const struct pt_cmd *cmd, const struct pt_option *o)
{
	for (size_t i = 0; cmd->options && cmd->options[i]; i++)
		if (cmd->options[i] == o)
			return true;
	return false;
}

/* Records one option and its value (into ctx->given, and its ctx field); 0 or a usage error. */
static int
take_option(struct pt_ctx *ctx, const struct pt_cmd *cmd, const struct pt_option *o, const char *value)
{
	struct pt_opt_given *g = NULL;
	void *field = o->in_ctx ? (char *)ctx + o->offset : NULL;

	for (size_t i = 0; i < ctx->n_given; i++)
		if (ctx->given[i].opt == o)
			g = &ctx->given[i];
	if (!g) {
		if (ctx->n_given == PT_OPT_GIVEN_MAX)
			return usage_error(cmd, "too many options");
		g = &ctx->given[ctx->n_given++];
		g->opt = o;
	}
	switch (o->type) {
	case PT_OPT_FLAG:
		if (field)
			*(bool *)field = true;
		break;
	case PT_OPT_COUNT:
		g->number++;
		if (field)
			*(int *)field = (int)g->number;
		break;
	case PT_OPT_STRING:
		g->value = value;
		if (field)
			*(const char **)field = value;
		break;
	case PT_OPT_SECONDS: {
		char *end;
		unsigned long v = strtoul(value, &end, 10);

		if (!value[0] || *end || value[0] == '-' || v > o->max)
			return usage_error(cmd, "'--%s' takes seconds, 0 to %u, not '%s'", o->name, o->max, value);
		g->number = (unsigned)v;
		if (field)
			*(unsigned *)field = (unsigned)v;
		break;
	}
	}
	return 0;
}

/* Parses options from argv[optind...]; stops at the first non-option when `stop`. */
static int
parse_options(struct pt_ctx *ctx, const struct pt_cmd *cmd, int argc, char **argv, bool stop)
{
	char shorts[32];
	size_t n = 0;
	int c;

	if (stop)
		shorts[n++] = '+';
	shorts[n++] = ':';
	for (size_t i = 0; pt_global_options[i] && n + 3 < sizeof(shorts); i++) {
		const struct pt_option *o = pt_global_options[i];

		if (!o->short_name)
			continue;
		shorts[n++] = o->short_name;
		if (o->type == PT_OPT_STRING)
			shorts[n++] = ':';
	}
	shorts[n] = '\0';
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, long_options, NULL)) != -1) {
		const char *bad = argv[optind - 1];
		const struct pt_option *o = NULL;
		int r;

		if (c >= 256 && (size_t)(c - 256) < n_all)
			o = all[c - 256];
		for (size_t i = 0; !o && c > 0 && c < 256 && pt_global_options[i]; i++)
			if (pt_global_options[i]->short_name == c)
				o = pt_global_options[i];
		if (c == ':')
			return usage_error(cmd, "option '%s' needs a value", bad);
		if (!o) {
			if (optopt && optopt < 256) {
				char s[3] = { '-', (char)optopt, '\0' };

				return usage_error(cmd, "unknown option '%s'", s);
			}
			return usage_error(cmd, "unknown option '%s'", bad);
		}
		r = take_option(ctx, cmd, o, optarg);
		if (r)
			return r;
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
	struct pt_ctx ctx = { 0 };
	const struct pt_cmd *cmd;
	int r, nargs;
	char **args;

	collect_options();
	/* the defaults, written once in the option tables */
	for (size_t i = 0; i < n_all; i++) {
		const struct pt_option *o = all[i];

		if (!o->in_ctx || !o->def)
			continue;
		if (o->type == PT_OPT_STRING)
			*(const char **)((char *)&ctx + o->offset) = o->def;
		else if (o->type == PT_OPT_SECONDS)
			*(unsigned *)((char *)&ctx + o->offset) = (unsigned)strtoul(o->def, NULL, 10);
	}
	r = parse_options(&ctx, NULL, argc, argv, true);
	if (r)
		return r;
	if (pt_opt_given(&ctx, &pt_opt_version))
		return print_version(&ctx);
	if (optind >= argc) {
		if (pt_opt_given(&ctx, &pt_opt_help)) {
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
	r = parse_options(&ctx, cmd, nargs, args, false);
	if (r)
		return r;
	if (pt_opt_given(&ctx, &pt_opt_help)) {
		print_cmd_help(stdout, cmd);
		return PT_EXIT_OK;
	}
	if (pt_opt_given(&ctx, &pt_opt_version))
		return print_version(&ctx);
	for (size_t i = 0; i < ctx.n_given; i++) {
		const struct pt_option *o = ctx.given[i].opt;

		if (!is_global(o) && !takes(cmd, o))
			return usage_error(cmd, "option '--%s' does not apply to '%s'", o->name, cmd->name);
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
