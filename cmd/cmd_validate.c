/* cmd_validate.c: `passthrough validate`: parse and check passthrough.yaml, touch nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/json.h"
#include "model/config.h"
#include "reconcile/config_file.h"

static void
print_device_text(const struct pt_device *d)
{
	char addr[PT_PCIADDR_BUFSZ];

	printf("%s:", d->name);
	if (d->has_address)
		printf(" address %s", pt_pciaddr_format(&d->address, addr));
	if (d->has_usb) {
		char *u = pt_usb_describe(&d->usb);

		printf(" usb %s", u);
		free(u);
	}
	if (d->match.fields) {
		printf(" match %04x:%04x", d->match.vendor, d->match.device);
		if (d->match.fields & PT_MATCH_SUBSYSTEM_VENDOR)
			printf(" subsystem_vendor %04x", d->match.subsystem_vendor);
		if (d->match.fields & PT_MATCH_SUBSYSTEM_DEVICE)
			printf(" subsystem_device %04x", d->match.subsystem_device);
		if (d->match.fields & PT_MATCH_CLASS)
			printf(" class %04x", d->match.class_code);
	}
	if (d->state == PT_STATE_ATTACHED)
		printf(" -> vm '%s' (attached, on_stop %s%s", d->vm, pt_on_stop_name(d->on_stop),
		       d->persistent ? ", persistent" : "");
	else
		printf(" (%s", pt_state_name(d->state));
	printf("%s%s", d->force ? ", force" : "", d->whole_group ? ", whole_group" : "");
	if (d->power_on)
		printf(", power on");
	if (d->reset != PT_RESET_NEVER)
		printf(", reset %s", pt_reset_name(d->reset));
	if (d->recover != PT_RECOVER_NONE)
		printf(", recover %s", pt_recover_name(d->recover));
	if (d->count_all)
		printf(", count all");
	else if (d->has_count)
		printf(", count %u", d->count);
	printf(")\n");
}

/* What a pool is: who shares which devices, and how they are shared out. */
static void
print_pool_text(const struct pt_config *cfg, const struct pt_pool *pool)
{
	char *what = pt_match_describe(&pool->match);

	printf("pool %s:", what);
	for (size_t i = 0; i < pool->n_members; i++) {
		const struct pt_device *d = &cfg->devices[pool->members[i]];

		if (d->count_all)
			printf("%s '%s' takes every one", i ? "," : "", d->name);
		else
			printf("%s '%s' takes %u", i ? "," : "", d->name, d->count);
	}
	printf("; first what its VM holds (or apply bound for it), then the lowest free addresses, in file "
	       "order; never a device another VM holds\n");
	free(what);
}

static void
print_id(const char *key, unsigned v, bool *first)
{
	printf("%s\"%s\":\"0x%04x\"", *first ? "" : ",", key, v);
	*first = false;
}

static void
print_json(const char *file, const struct pt_config *cfg, const struct pt_diags *diags)
{
	printf("{\"file\":");
	pt_json_string(stdout, file);
	printf(",\"ok\":%s", cfg ? "true" : "false");
	if (!cfg) {
		printf(",\"errors\":[");
		for (size_t i = 0; i < diags->n; i++) {
			const struct pt_diag *dg = &diags->v[i];

			printf("%s{\"file\":", i ? "," : "");
			pt_json_string(stdout, dg->file);
			printf(",\"line\":%u,\"column\":%u,\"message\":", dg->line, dg->col);
			pt_json_string(stdout, dg->msg);
			printf("}");
		}
		printf("]}\n");
		return;
	}
	printf(",\"version\":%u,\"vfio_pci\":{", cfg->version);
	if (cfg->vfio_pci.has_disable_idle_d3)
		printf("\"disable_idle_d3\":%s", cfg->vfio_pci.disable_idle_d3 ? "true" : "false");
	printf("},\"devices\":[");
	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct pt_device *d = &cfg->devices[i];
		char addr[PT_PCIADDR_BUFSZ];
		bool first = true;

		printf("%s{\"name\":", i ? "," : "");
		pt_json_string(stdout, d->name);
		printf(",\"address\":");
		pt_json_string(stdout, d->has_address ? pt_pciaddr_format(&d->address, addr) : NULL);
		printf(",\"match\":{");
		if (d->match.fields & PT_MATCH_VENDOR)
			print_id("vendor", d->match.vendor, &first);
		if (d->match.fields & PT_MATCH_DEVICE)
			print_id("device", d->match.device, &first);
		if (d->match.fields & PT_MATCH_SUBSYSTEM_VENDOR)
			print_id("subsystem_vendor", d->match.subsystem_vendor, &first);
		if (d->match.fields & PT_MATCH_SUBSYSTEM_DEVICE)
			print_id("subsystem_device", d->match.subsystem_device, &first);
		if (d->match.fields & PT_MATCH_CLASS)
			print_id("class", d->match.class_code, &first);
		printf("},\"usb\":");
		if (d->has_usb) {
			printf("{\"ids\":[");
			for (size_t j = 0; j < d->usb.n_ids; j++)
				printf("%s\"%04x:%04x\"", j ? "," : "", d->usb.ids[j].vendor, d->usb.ids[j].product);
			printf("],\"serial\":");
			pt_json_string(stdout, d->usb.serial);
			printf(",\"port\":");
			pt_json_string(stdout, d->usb.port);
			printf("}");
		} else {
			printf("null");
		}
		printf(",\"vm\":");
		pt_json_string(stdout, d->vm);
		if (d->count_all)
			printf(",\"count\":\"all\"");
		else
			printf(",\"count\":%u", d->count);
		printf(",\"pool\":");
		if (d->pool >= 0) {
			char *what = pt_match_describe(&cfg->pools[d->pool].match);

			pt_json_string(stdout, what);
			free(what);
		} else {
			printf("null");
		}
		printf(",\"state\":\"%s\",\"on_stop\":\"%s\",\"persistent\":%s,\"force\":%s,"
		       "\"whole_group\":%s,\"power\":%s,\"reset\":\"%s\",\"recover\":\"%s\",\"line\":%u}",
		       pt_state_name(d->state), pt_on_stop_name(d->on_stop),
		       d->persistent ? "true" : "false", d->force ? "true" : "false",
		       d->whole_group ? "true" : "false", d->power_on ? "\"on\"" : "null",
		       pt_reset_name(d->reset), pt_recover_name(d->recover), d->line);
	}
	printf("]}\n");
}

static int
validate_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct pt_diags diags = PT_DIAGS_INIT;
	struct pt_config cfg;
	int r;

	(void)argc;
	(void)argv;
	r = pt_config_file_load(ctx->config_path, geteuid(), &cfg, &diags);
	if (ctx->json) {
		print_json(ctx->config_path, r < 0 ? NULL : &cfg, &diags);
	}
	if (r < 0) {
		for (size_t i = 0; i < diags.n; i++) {
			char *line = pt_diag_format(&diags.v[i]);

			fprintf(stderr, "%s%s\n", diags.v[i].file ? "" : "passthrough: ", line);
			free(line);
		}
		pt_diags_done(&diags);
		return PT_EXIT_FAIL;
	}
	if (!ctx->json && !ctx->quiet) {
		if (ctx->verbose && cfg.vfio_pci.has_disable_idle_d3)
			printf("vfio_pci: disable_idle_d3 %s\n", cfg.vfio_pci.disable_idle_d3 ? "true" : "false");
		if (ctx->verbose)
			for (size_t i = 0; i < cfg.n_devices; i++)
				print_device_text(&cfg.devices[i]);
		if (ctx->verbose)
			for (size_t i = 0; i < cfg.n_pools; i++)
				print_pool_text(&cfg, &cfg.pools[i]);
		printf("ok: %zu device%s\n", cfg.n_devices, cfg.n_devices == 1 ? "" : "s");
	}
	pt_config_done(&cfg);
	pt_diags_done(&diags);
	return PT_EXIT_OK;
}

const struct pt_cmd pt_cmd_validate = {
	.name = "validate",
	.summary = "check passthrough.yaml and say what it declares",
	.usage = "[-c FILE] [--json] [-v | -q]",
	.help =
	"Parses and checks the configuration file without looking at the host. Prints\n"
	"'ok: N devices' (with -v, one line per device first, and per pool: the entries\n"
	"that share one `match`, and how they share its devices), or every problem found,\n"
	"one per line, as FILE:LINE:COL: message. The file must be a regular file, not\n"
	"writable by group or others, at most 1 MiB, and owned by root when run as root.\n"
	"\n"
	"Exit status: 0 valid, 1 invalid or unreadable, 64 usage error.\n",
	.options = NULL,
	.min_args = 0,
	.max_args = 0,
	.run = validate_run,
};
