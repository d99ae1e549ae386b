/* install_layout.h: what `passthrough install` puts on a host, as data: the layouts (where each file goes) and the texts it writes (hook, units, DSM block, empty config); pure. */
#ifndef PT_INSTALL_LAYOUT_H
#define PT_INSTALL_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

enum pt_layout {
	PT_LAYOUT_SYSTEMD,   /* a systemd Linux host: units under /etc/systemd/system */
	PT_LAYOUT_DSM,       /* Synology DSM 7: everything under /usr/local, wired from VMM's package script */
};
#define PT_N_LAYOUTS 2

/* Where a layout puts things, as paths on the target system (without the root). */
struct pt_layout_paths {
	const char *name;          /* "systemd", "dsm" */
	const char *bin;           /* the installed binary */
	const char *config;        /* passthrough.yaml */
	const char *unit_dir;      /* systemd units and their .wants links */
	const char *state_dir;     /* the manifest and backups */
	const char *pkg_script;    /* DSM: the script VMM runs before libvirtd starts; NULL elsewhere */
};

/* The layout's paths; static, never freed. */
const struct pt_layout_paths *pt_layout_paths(enum pt_layout l);

/* The libvirt hook and where an earlier hook is kept when install chains to it. */
#define PT_HOOK_PATH "/etc/libvirt/hooks/qemu"
#define PT_HOOK_CHAINED PT_HOOK_PATH ".passthrough-orig"
/* What install writes while it writes PATH (then renames it to PATH). */
#define PT_TMP_SUFFIX ".passthrough-new"
/* The state directory's files: the manifest, backups "backup-N", DSM's original script. */
#define PT_MANIFEST_NAME "manifest"
#define PT_BACKUP_PREFIX "backup-"
#define PT_PKG_ORIG_NAME "insert_libvirtd_ko.sh.orig"

/* The units install writes; the first three are enabled through a .wants link. */
enum pt_unit_id { PT_U_BOOT, PT_U_APPLY, PT_U_TIMER, PT_U_WATCH, PT_N_UNITS };

/* "passthrough-boot.service", ...; and the target whose .wants enables it (NULL: not enabled). */
const char *pt_unit_name(enum pt_unit_id u);
const char *pt_unit_wanted_by(enum pt_unit_id u);

/* Where unit u is, and its .wants link (NULL when not enabled), for layout l; the caller frees. */
char *pt_unit_path(enum pt_layout l, enum pt_unit_id u);
char *pt_unit_link_path(enum pt_layout l, enum pt_unit_id u);

/*
 * Whether path is clean and absolute: starts with '/', has no empty, "." or ".." component,
 * does not end in '/' (unless it is "/"), and has no control character (the manifest is
 * tab and newline separated).
 */
bool pt_path_clean(const char *path);

/*
 * Whether a path may go into the scripts and units install writes (-c, --lock-file): clean,
 * not "/", and only [A-Za-z0-9/._+-] (nothing a shell, systemd or the manifest would read
 * otherwise). They go into the texts unquoted because nothing in them needs quoting.
 */
bool pt_install_path_ok(const char *path);

/* Whether path is dir or below it (both clean). */
bool pt_path_is_under(const char *path, const char *dir);

/* The parent directory of a clean absolute path ("/" for "/x"); the caller frees. */
char *pt_path_parent(const char *path);

/* The options that go into the texts: the binary's config and lock file (clean, checked). */
struct pt_install_options {
	const char *config;
	const char *lock_file;
};

/* The texts install writes, for layout l with options o; the caller frees each. */
char *pt_hook_text(enum pt_layout l, const struct pt_install_options *o);
char *pt_unit_text(enum pt_layout l, enum pt_unit_id u, const struct pt_install_options *o);
char *pt_dsm_block(enum pt_layout l, const struct pt_install_options *o);
/* The config install writes when there is none (static). */
const char *pt_config_template(void);

/* Whether text is a hook or unit install wrote (its mark). */
bool pt_text_is_hook(const char *text);
bool pt_text_is_unit(const char *text);

/* The text with block after its #! line (or first), or with an older block replaced; the caller frees. */
char *pt_text_with_block(const char *text, const char *block);
/* The text without our block (the lines between the markers, inclusive), or NULL when it has none. */
char *pt_text_without_block(const char *text);
bool pt_text_has_block(const char *text);

#endif
