/* install_layout.c: the layouts `passthrough install` knows and the texts it writes; pure. */
#include "model/install_layout.h"

#include <string.h>

#include "model/xalloc.h"

#ifndef PT_SBINDIR
#define PT_SBINDIR "/usr/local/sbin"
#endif
/* The systemd layout's config: the build's default file, but /etc/passthrough.yaml in the DSM
 * bundle's build, whose default is the DSM layout's (the Makefile's SYSTEMD_CONFIG_FILE). */
#ifndef PT_SYSTEMD_CONFIG_FILE
#define PT_SYSTEMD_CONFIG_FILE "/etc/passthrough.yaml"
#endif

#define HOOK_MARK "# passthrough: libvirt's qemu hook, written by 'passthrough install'"
#define UNIT_MARK "# Written by 'passthrough install'"
#define BLOCK_BEGIN "# passthrough begin:"
#define BLOCK_END "# passthrough end\n"

static const struct pt_layout_paths layouts[PT_N_LAYOUTS] = {
	[PT_LAYOUT_SYSTEMD] = { "systemd", PT_SBINDIR "/passthrough", PT_SYSTEMD_CONFIG_FILE, "/etc/systemd/system",
				"/var/lib/passthrough", NULL },
	[PT_LAYOUT_DSM] = { "dsm", "/usr/local/bin/passthrough", "/usr/local/etc/passthrough.yaml",
			    "/usr/local/lib/systemd/system", "/usr/local/lib/passthrough",
			    "/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh" },
};

static const struct {
	const char *name;
	const char *wanted_by;   /* enabled through this target's .wants, or NULL */
} units[PT_N_UNITS] = {
	[PT_U_BOOT] = { "passthrough-boot.service", "multi-user.target" },
	[PT_U_APPLY] = { "passthrough.service", "multi-user.target" },
	[PT_U_TIMER] = { "passthrough.timer", "timers.target" },
	[PT_U_WATCH] = { "passthrough-watch.service", NULL },
};

const struct pt_layout_paths *
pt_layout_paths(enum pt_layout l)
{
	return &layouts[l];
}

const char *
pt_unit_name(enum pt_unit_id u)
{
	return units[u].name;
}

const char *
pt_unit_wanted_by(enum pt_unit_id u)
{
	return units[u].wanted_by;
}

char *
pt_unit_path(enum pt_layout l, enum pt_unit_id u)
{
	return xasprintf("%s/%s", layouts[l].unit_dir, units[u].name);
}

char *
pt_unit_link_path(enum pt_layout l, enum pt_unit_id u)
{
	if (!units[u].wanted_by)
		return NULL;
	return xasprintf("%s/%s.wants/%s", layouts[l].unit_dir, units[u].wanted_by, units[u].name);
}

bool
pt_path_clean(const char *path)
{
	const char *c = path;

	if (c[0] != '/')
		return false;
	if (c[1] == '\0')
		return true;
	while (*c) {
		size_t n;

		c++; /* the '/' */
		n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;   /* "//", "/./", "/../", or a trailing '/' */
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
				return false;
		c += n;
	}
	return true;
}

bool
pt_install_path_ok(const char *path)
{
	if (!pt_path_clean(path) || strcmp(path, "/") == 0)
		return false;
	for (const char *c = path; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("/._+-", *c)))
			return false;
	return true;
}

bool
pt_path_is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

char *
pt_path_parent(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash || slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* ---- the texts ---- */

static const char config_template[] =
	"# passthrough.yaml: which VM owns which PCI device. Written by 'passthrough install'\n"
	"# because there was none; see passthrough.yaml(5), and 'passthrough devices' for what\n"
	"# this host has. An entry looks like:\n"
	"#   coral:\n"
	"#     match: { vendor: 0x1ac1, device: 0x089a }\n"
	"#     vm: frigate_VM\n"
	"version: 1\n"
	"devices: {}\n";

const char *
pt_config_template(void)
{
	return config_template;
}

char *
pt_hook_text(enum pt_layout l, const struct pt_install_options *o)
{
	const struct pt_layout_paths *p = &layouts[l];

	return xasprintf("#!/bin/sh\n"
			 HOOK_MARK " ('passthrough uninstall' removes it).\n"
			 "# It hands each call to 'passthrough hook', which never calls libvirt and never\n"
			 "# fails a VM start. A hook that was here before runs after it, with the same\n"
			 "# arguments and domain XML, and its exit status is the one libvirt sees.\n"
			 "chained=" PT_HOOK_CHAINED "\n"
			 "if [ -x \"$chained\" ]; then\n"
			 "\txml=$(cat)\n"
			 "\t[ ! -x %s ] || printf '%%s\\n' \"$xml\" | %s -c %s --lock-file %s hook -- \"$@\"\n"
			 "\tprintf '%%s\\n' \"$xml\" | \"$chained\" \"$@\"\n"
			 "\texit\n"
			 "fi\n"
			 "[ -x %s ] || exit 0\n"
			 "exec %s -c %s --lock-file %s hook -- \"$@\"\n",
			 p->bin, p->bin, o->config, o->lock_file, p->bin, p->bin, o->config, o->lock_file);
}

#define UNIT_HEAD UNIT_MARK "; 'passthrough uninstall' removes it. Change it with a drop-in.\n"
#define LIBVIRTD_UNITS "libvirtd.service virtqemud.service"

char *
pt_unit_text(enum pt_layout l, enum pt_unit_id u, const struct pt_install_options *o)
{
	const struct pt_layout_paths *p = &layouts[l];

	switch (u) {
	case PT_U_BOOT:
		return xasprintf(UNIT_HEAD "[Unit]\n"
				 "Description=Bind the PCI devices passthrough.yaml declares to vfio-pci before VMs start\n"
				 "Documentation=man:passthrough(8)\n"
				 "DefaultDependencies=no\n"
				 "After=local-fs.target systemd-modules-load.service\n"
				 "Before=" LIBVIRTD_UNITS " libvirt-guests.service shutdown.target\n"
				 "Conflicts=shutdown.target\n"
				 "\n[Service]\n"
				 "Type=oneshot\n"
				 "ExecStart=%s apply --host-only --quiet -c %s --lock-file %s\n"
				 "\n[Install]\n"
				 "WantedBy=multi-user.target\n",
				 p->bin, o->config, o->lock_file);
	case PT_U_APPLY:
		return xasprintf(UNIT_HEAD "[Unit]\n"
				 "Description=Make the host match passthrough.yaml (PCI passthrough), and repair its wiring\n"
				 "Documentation=man:passthrough(8)\n"
				 "After=" LIBVIRTD_UNITS " passthrough-boot.service\n"
				 "\n[Service]\n"
				 "Type=oneshot\n"
				 "ExecStart=-%s install --%s --repair --quiet -c %s --lock-file %s\n"
				 "ExecStart=%s apply --quiet -c %s --lock-file %s\n"
				 "\n[Install]\n"
				 "WantedBy=multi-user.target\n",
				 p->bin, p->name, o->config, o->lock_file, p->bin, o->config, o->lock_file);
	case PT_U_TIMER:
		return xstrdup(UNIT_HEAD "[Unit]\n"
			       "Description=Self-heal PCI passthrough every 5 minutes\n"
			       "Documentation=man:passthrough(8)\n"
			       "\n[Timer]\n"
			       "OnBootSec=2min\n"
			       "OnUnitActiveSec=5min\n"
			       "\n[Install]\n"
			       "WantedBy=timers.target\n");
	case PT_U_WATCH:
		return xasprintf(UNIT_HEAD "# Not enabled by install: systemctl enable --now passthrough-watch.service\n"
				 "[Unit]\n"
				 "Description=Reconcile PCI passthrough on libvirt lifecycle events\n"
				 "Documentation=man:passthrough(8)\n"
				 "After=" LIBVIRTD_UNITS " passthrough-boot.service\n"
				 "\n[Service]\n"
				 "ExecStart=%s watch -c %s --lock-file %s\n"
				 "Restart=on-failure\n"
				 "RestartSec=5\n"
				 "\n[Install]\n"
				 "WantedBy=multi-user.target\n",
				 p->bin, o->config, o->lock_file);
	case PT_N_UNITS:
		break;
	}
	return xstrdup("");
}

char *
pt_dsm_block(enum pt_layout l, const struct pt_install_options *o)
{
	const struct pt_layout_paths *p = &layouts[l];

	return xasprintf(BLOCK_BEGIN " re-create the libvirt hook and bind the declared devices before "
			 "libvirtd starts ('passthrough uninstall' removes these lines)\n"
			 "[ ! -x %s ] || %s install --dsm --repair --quiet -c %s --lock-file %s || :\n"
			 "[ ! -x %s ] || %s apply --host-only --quiet -c %s --lock-file %s || :\n"
			 BLOCK_END,
			 p->bin, p->bin, o->config, o->lock_file, p->bin, p->bin, o->config, o->lock_file);
}

bool
pt_text_is_hook(const char *text)
{
	return strstr(text, HOOK_MARK) != NULL;
}

bool
pt_text_is_unit(const char *text)
{
	return strncmp(text, UNIT_MARK, strlen(UNIT_MARK)) == 0;
}

/* Where our block starts and ends in text (end: just after its last line); false when absent. */
static bool
find_block(const char *text, const char **begin, const char **end)
{
	const char *b = strncmp(text, BLOCK_BEGIN, strlen(BLOCK_BEGIN)) == 0 ? text : strstr(text, "\n" BLOCK_BEGIN);
	const char *e;

	if (!b)
		return false;
	if (b != text)
		b++;
	e = strstr(b, "\n" BLOCK_END);
	if (!e)
		return false;
	*begin = b;
	*end = e + 1 + strlen(BLOCK_END);
	return true;
}

bool
pt_text_has_block(const char *text)
{
	const char *b, *e;

	return find_block(text, &b, &e);
}

char *
pt_text_with_block(const char *text, const char *block)
{
	const char *begin, *end;
	size_t at = 0;

	if (find_block(text, &begin, &end))
		return xasprintf("%.*s%s%s", (int)(begin - text), text, block, end);
	if (strncmp(text, "#!", 2) == 0) {
		const char *nl = strchr(text, '\n');

		if (!nl)
			return xasprintf("%s\n%s", text, block);
		at = (size_t)(nl + 1 - text);
	}
	return xasprintf("%.*s%s%s", (int)at, text, block, text + at);
}

char *
pt_text_without_block(const char *text)
{
	const char *begin, *end;

	if (!find_block(text, &begin, &end))
		return NULL;
	return xasprintf("%.*s%s", (int)(begin - text), text, end);
}
