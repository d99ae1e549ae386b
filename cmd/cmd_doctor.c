/* cmd_doctor.c: `passthrough doctor`: the preflight checks, one PASS/WARN/FAIL line each, in the style of virt-host-validate. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/install_print.h"
#include "cmd/json.h"
#include "cmd/render.h"
#include "model/xalloc.h"
#include "reconcile/config_file.h"
#include "reconcile/install.h"
#include "reconcile/observe_libvirt.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/plan.h"

enum verdict { PASS, WARN, FAIL };

struct doctor {
	enum verdict worst;
	bool json;
	unsigned n;
};

static void __attribute__((format(printf, 4, 5)))
check(struct doctor *d, enum verdict v, const char *what, const char *fmt, ...)
{
	static const char *const names[] = { "PASS", "WARN", "FAIL" };
	char *text;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (d->json) {
		printf("%s{\"check\":", d->n ? "," : "[");
		pt_json_string(stdout, what);
		printf(",\"result\":\"%s\",\"detail\":", names[v]);
		pt_json_string(stdout, text);
		printf("}");
	} else {
		printf("%s  %-16s %s\n", names[v], what, text);
	}
	d->n++;
	if (v > d->worst)
		d->worst = v;
	free(text);
}

static unsigned
count_entries(const char *dir)
{
	DIR *dh = opendir(dir);
	unsigned n = 0;

	for (struct dirent *e; dh && (e = readdir(dh));)
		n += e->d_name[0] != '.';
	if (dh)
		closedir(dh);
	return n;
}

static bool
sysfs_exists(const struct pt_ctx *ctx, const char *rel)
{
	char *p = pt_host_sysfs_path(&ctx->host, "%s", rel);
	bool there = access(p, F_OK) == 0;

	free(p);
	return there;
}

static void
check_kernel(struct doctor *d, const struct pt_ctx *ctx, const struct pt_observed *obs)
{
	char *groups = pt_host_sysfs_path(&ctx->host, "kernel/iommu_groups");
	unsigned n = count_entries(groups);
	bool override = false;

	if (n)
		check(d, PASS, "iommu", "%u IOMMU groups", n);
	else
		check(d, FAIL, "iommu", "no IOMMU groups in '%s': enable VT-d/AMD-Vi in the firmware and boot "
		      "with intel_iommu=on (Intel) or amd_iommu=on", groups);
	free(groups);
	for (size_t i = 0; i < obs->n_devs && !override; i++) {
		char a[PT_PCIADDR_BUFSZ], *rel = xasprintf("bus/pci/devices/%s/driver_override",
							  pt_pciaddr_format(&obs->devs[i].addr, a));

		override = sysfs_exists(ctx, rel);
		free(rel);
	}
	if (override)
		check(d, PASS, "driver_override", "supported");
	else
		check(d, FAIL, "driver_override", "no device has it: the kernel is older than 3.16");
	if (obs->vfio_pci_loaded)
		check(d, PASS, "vfio-pci", "loaded");
	else if (sysfs_exists(ctx, "module/vfio_pci") || sysfs_exists(ctx, "module/vfio"))
		check(d, WARN, "vfio-pci", "vfio is there but vfio-pci is not loaded; apply loads it with modprobe");
	else
		check(d, WARN, "vfio-pci", "not loaded; apply runs 'modprobe vfio-pci' (is the module installed?)");
}

/*
 * DSM: whether VMM's package script lost our lines (the plan puts them back with a BLOCK that
 * keeps the script's new original, which it does only when the lines are not there): a VMM
 * update replaces the script, and until they are back nothing re-creates the hook at boot.
 */
static void
check_vmm_wiring(struct doctor *d, const struct pt_install_plan *plan)
{
	const char *rp = !plan->root || strcmp(plan->root, "/") == 0 ? "" : plan->root;

	for (size_t i = 0; i < plan->n; i++) {
		const struct pt_fileop *op = &plan->ops[i];

		if (op->kind != PT_FILEOP_BLOCK || !op->backup)
			continue;
		check(d, FAIL, "vmm wiring", "'%s%s' has lost passthrough's lines (a Virtual Machine Manager update "
		      "replaces that script): nothing re-creates the libvirt hook when DSM boots until they are back; "
		      "run 'passthrough install --dsm' again (the timer does too, where DSM runs it), or add the "
		      "Task Scheduler boot-up task (README, 'Synology DSM 7.2')", rp, op->path);
	}
}

static void
check_install(struct doctor *d, const struct pt_ctx *ctx)
{
	/* config and lock file as install recorded them; the binary is not compared (this may be another build) */
	struct pt_install_target t = { PT_LAYOUT_SYSTEMD, ctx->root, NULL, NULL, NULL };
	struct pt_install_plan plan;
	size_t n;
	char *err = NULL;

	if (pt_installed_layout(t.root, &t.layout) < 0) {
		check(d, WARN, "install", "the hook, boot unit and timer are not installed: run 'passthrough install'");
		return;
	}
	if (pt_install_plan(&t, &plan, &err) < 0) {
		check(d, FAIL, "install", "%s", err);
		free(err);
		return;
	}
	n = pt_install_plan_changes(&plan);
	if (n) {
		/* the timer repairs it: say what differs and how to repair it now */
		char *first = NULL;

		for (size_t i = 0; i < plan.n && !first; i++)
			if (!pt_fileop_bookkeeping(plan.ops[i].kind))
				first = pt_install_op_line(&plan, &plan.ops[i]);
		check(d, FAIL, "install", "%s layout, %zu thing%s changed since install (first: would have %s); "
		      "'passthrough install' repairs it", pt_layout_paths(t.layout)->name, n, n == 1 ? "" : "s", first);
		free(first);
		if (t.layout == PT_LAYOUT_DSM)
			check_vmm_wiring(d, &plan);
	} else {
		check(d, PASS, "install", "%s layout: hook, units, timer%s intact", pt_layout_paths(t.layout)->name,
		      t.layout == PT_LAYOUT_DSM ? " and VMM wiring" : "");
	}
	pt_install_plan_done(&plan);
}

/* Whether the disable_idle_d3 vfio-pci has in force is the one the file declares (no line when it
 * declares none). */
static void
check_idle_d3(struct doctor *d, const struct pt_config *cfg, const struct pt_observed *obs)
{
	bool ok;
	char *text = pt_render_idle_d3(cfg, obs, &ok);

	if (text)
		check(d, ok ? PASS : WARN, "disable_idle_d3", "%s", text);
	free(text);
}

/*
 * What the device's health, power and reset mean for its VM: whether config space answers (read
 * here, which resumes a runtime-suspended device: doctor is one of the few that may), whether it
 * sits in D3cold, and whether the kernel can reset it between two VMs. One line per finding.
 */
static void
check_lifecycle(struct doctor *d, const struct pt_config *cfg, const struct pt_device *e,
		const struct pt_pcidev *dev, const char *what)
{
	char a[PT_PCIADDR_BUFSZ];
	bool to_vfio = e->state != PT_STATE_RELEASED;

	pt_pciaddr_format(&dev->addr, a);
	if (dev->answers == PT_TRI_NO && e->recover == PT_RECOVER_RESCAN)
		check(d, WARN, what, "%s does not answer (its config space reads ffff): apply tries a reset, "
		      "remove and a rescan of its bus before its next attach (recover: rescan); if it stays "
		      "away, power-cycle the host", a);
	else if (dev->answers == PT_TRI_NO)
		check(d, FAIL, what, "%s does not answer (its config space reads ffff): it is not hot-plugged; "
		      "set recover: rescan to have passthrough try a reset, remove and a rescan of its bus, or "
		      "power-cycle the host", a);
	/* power_state was read before config was, so this is how doctor found it */
	if (to_vfio && dev->power_state && strcmp(dev->power_state, "D3cold") == 0)
		check(d, WARN, what, "%s is in D3cold (powered off): %s", a, e->power_on
		      ? "power: on is declared; 'passthrough apply' keeps it in D0"
		      : "a device that does not come back from D3cold cannot be used by its VM; set power: on "
			"to keep it in D0 (power/control on, d3cold_allowed 0)");
	/* reset: before_attach without a reset is the plan's no_reset problem; kept in D0 by both
	 * settings, a device without a reset keeps its state between VMs as well as it can */
	if (to_vfio && dev->has_reset == PT_TRI_NO && e->reset != PT_RESET_BEFORE_ATTACH &&
	    !(e->power_on && cfg->vfio_pci.has_disable_idle_d3 && cfg->vfio_pci.disable_idle_d3))
		check(d, WARN, what, "%s has no reset method: without a reset the next VM gets the device in "
		      "whatever state the last one left it; a device like the Coral then works only for the "
		      "first VM start after boot: set vfio_pci: { disable_idle_d3: true } and power: on", a);
}

static void
check_devices(struct doctor *d, const struct pt_ctx *ctx, const struct pt_config *cfg, struct pt_observed *obs)
{
	struct pt_plan plan;
	struct pt_assignment asg;
	size_t n_problems = 0;

	check_idle_d3(d, cfg, obs);
	pt_assign(cfg, obs, &asg);
	for (size_t i = 0; i < asg.n_slots; i++) {
		const struct pt_device *e = asg.slots[i].entry;
		char a[PT_PCIADDR_BUFSZ], what[PT_DEVICE_NAME_MAX + 16];
		const struct pt_pcidev *found = asg.slots[i].dev;
		struct pt_pcidev *dev;

		snprintf(what, sizeof(what), "'%s'", asg.slots[i].name);
		if (!found) {
			check(d, FAIL, what, "%s", asg.slots[i].err);
			continue;
		}
		dev = &obs->devs[found - obs->devs];
		check(d, dev->iommu_group >= 0 ? PASS : FAIL, what, "%s %04x:%04x, IOMMU group %d, on %s, power %s, "
		      "reset %s", pt_pciaddr_format(&dev->addr, a), dev->vendor, dev->device, dev->iommu_group,
		      dev->driver ? dev->driver : "no driver", dev->power_state ? dev->power_state : "unknown",
		      pt_render_reset(dev));
		pt_observe_health(&ctx->host, dev);
		check_lifecycle(d, cfg, e, dev, what);
	}
	/* what resolving alone does not see: group viability, host use, the VMs; a device that does
	 * not answer has its own line above */
	pt_plan_compute(cfg, obs, NULL, &plan);
	for (size_t i = 0; i < plan.n_problems; i++) {
		if (plan.problems[i].kind == PT_PROBLEM_NOT_RESPONDING)
			continue;
		check(d, FAIL, "plan", "%s", plan.problems[i].message);
		n_problems++;
	}
	if (!n_problems)
		check(d, PASS, "plan", "%zu step%s pending ('passthrough plan' shows them)", plan.n_steps,
		      plan.n_steps == 1 ? "" : "s");
	pt_plan_done(&plan);
	pt_assignment_done(&asg);
}

static int
doctor_run(struct pt_ctx *ctx, int argc, char **argv)
{
	struct doctor d = { PASS, ctx->json, 0 };
	struct pt_diags diags = PT_DIAGS_INIT;
	struct pt_observed obs = { 0 };
	struct pt_config cfg;
	bool have_cfg, have_obs;
	char *err = NULL, *version = NULL;

	(void)argc;
	(void)argv;
	have_cfg = pt_config_file_load(ctx->config_path, geteuid(), &cfg, &diags) == 0;
	if (have_cfg) {
		check(&d, PASS, "config", "'%s': %zu device%s", ctx->config_path, cfg.n_devices,
		      cfg.n_devices == 1 ? "" : "s");
	} else {
		char *line = diags.n ? pt_diag_format(&diags.v[0]) : xstrdup("unreadable");

		check(&d, FAIL, "config", "%s%s", line, diags.n > 1 ? " (and more: 'passthrough validate')" : "");
		free(line);
	}
	pt_diags_done(&diags);

	have_obs = pt_observe_sysfs(&ctx->host, &obs, &err) == 0;
	if (have_obs) {
		pt_observe_power(&ctx->host, &obs, NULL);
		check_kernel(&d, ctx, &obs);
	} else {
		check(&d, FAIL, "sysfs", "%s", err);
		free(err);
		err = NULL;
	}

	if (pt_libvirt_version(&ctx->host, &version, &err) == 0 &&
	    (!have_obs || pt_observe_libvirt(&ctx->host, have_cfg ? &cfg : NULL, &obs, &err) == 0)) {
		check(&d, PASS, "libvirt", "%s at '%s', %zu domain%s", version, ctx->host.libvirt_uri, obs.n_doms,
		      obs.n_doms == 1 ? "" : "s");
	} else {
		check(&d, FAIL, "libvirt", "%s", err);
		free(err);
	}
	free(version);

	check_install(&d, ctx);
	if (have_cfg && have_obs)
		check_devices(&d, ctx, &cfg, &obs);
	if (d.json)
		printf("%s]\n", d.n ? "" : "[");
	if (have_cfg)
		pt_config_done(&cfg);
	pt_observed_done(&obs);
	return d.worst == FAIL ? PT_EXIT_FAIL : d.worst == WARN ? PT_EXIT_CHANGES : PT_EXIT_OK;
}

const struct pt_cmd pt_cmd_doctor = {
	.name = "doctor",
	.summary = "check that this host can do passthrough, and that the setup is intact",
	.usage = "[-c FILE] [--root DIR] [--lock-file FILE] [--json]",
	.help =
	"Checks, one line each (PASS, WARN or FAIL, what, why):\n"
	"  config           the file parses, validates and is safe (root-owned, not writable by others);\n"
	"  iommu            the kernel made IOMMU groups;\n"
	"  driver_override  the kernel has it (3.16 and later);\n"
	"  vfio-pci         it is loaded (WARN when apply would have to load it);\n"
	"  libvirt          reachable over --connect, and its version;\n"
	"  install          the hook, units, timer (and on DSM the VMM wiring) are as install\n"
	"                   wrote them: install's plan is empty (else the first operation it\n"
	"                   has; WARN when not installed; the timer repairs drift);\n"
	"  vmm wiring       DSM: FAIL when VMM's insert_libvirtd_ko.sh lost passthrough's lines\n"
	"                   (a VMM update replaces it), and how to put them back;\n"
	"  disable_idle_d3  when the file declares vfio_pci: { disable_idle_d3 }: whether that is\n"
	"                   the value in force (WARN when another one is, until vfio-pci is loaded\n"
	"                   again, or when vfio-pci was loaded by something else);\n"
	"  'NAME'           each declared device is present, with its ids, group, driver, power\n"
	"                   state and reset methods; then one line per finding: FAIL when it does not\n"
	"                   answer (its config space reads ffff; doctor reads it, which wakes a\n"
	"                   suspended device), WARN when one going to vfio-pci is in D3cold, or\n"
	"                   has no reset method (what that means for VM restarts, and what to set);\n"
	"  plan             the file can be carried out (group viability, host use, the VMs).\n"
	"Changes nothing. --root DIR: where install wrote (as for install).\n"
	"\n"
	"Exit status: 0 all PASS, 2 the worst is a WARN, 1 something FAILs, 64 usage error.\n",
	.options = (const struct pt_option *const[]){ &pt_opt_root, &pt_opt_lock_file, NULL },
	.min_args = 0,
	.max_args = 0,
	.run = doctor_run,
};
