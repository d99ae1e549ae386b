/* install.h: `passthrough install`, `uninstall` and doctor's install check as observe -> plan -> apply: the target tree observed under its root, the plan computed by model/install_plan.c, and the walk that carries it out. */
#ifndef PT_INSTALL_H
#define PT_INSTALL_H

#include <stdbool.h>
#include <stddef.h>

#include "model/install_layout.h"
#include "model/install_plan.h"

struct pt_install_target {
	enum pt_layout layout;
	const char *root;      /* "/" or a directory to install under (tests); borrowed */
	const char *self;      /* the binary to copy to the layout's bin (NULL: leave the binary alone); borrowed */
	const char *config;    /* passthrough.yaml for the units and the hook; NULL: as installed before, else the layout's */
	const char *lock_file; /* the lock for the units and the hook; NULL: as installed before, else PT_LOCK_FILE */
};

/*
 * Observes the tree under t->root (the layout's paths, where they lead, the manifest) and
 * computes what install would do there (model/install_plan.h). Changes nothing. Returns 0 with
 * *ret filled (free it with pt_install_plan_done()), or a negative errno with *reterr (one
 * line; the caller frees): a path that leads out of the root, a manifest that is not one
 * install wrote, an unmet precondition.
 */
int pt_install_plan(const struct pt_install_target *t, struct pt_install_plan *ret, char **reterr);

/* The same for uninstall, from the manifest that exists under t->root (t->layout is ignored);
 * -ENOENT when nothing is installed. */
int pt_uninstall_plan(const struct pt_install_target *t, struct pt_install_plan *ret, char **reterr);

/*
 * Carries out plan in order. Each operation checks its goal first and does nothing when it
 * holds (result PT_FILEOP_HELD); every file is written to a temporary, fsynced and renamed,
 * and its directory fsynced. Stops at the first failure: 0, or a negative errno with *reterr
 * ("cannot write '/etc/libvirt/hooks/qemu': Permission denied"); results say what was done.
 */
int pt_install_apply(struct pt_install_plan *plan, char **reterr);

/* The layout whose manifest exists under root: 0 with *ret set, or -ENOENT. */
int pt_installed_layout(const char *root, enum pt_layout *ret);

/* Whether root looks like Synology DSM (/etc.defaults/VERSION or /etc/synoinfo.conf). */
bool pt_root_is_dsm(const char *root);

/* Runs systemctl ARGS... when systemd runs this host: 0, 1 when it does not, or a negative
 * errno with *reterr set (the caller frees). Only for a live install (root "/"). */
int pt_systemctl(const char *const *args, char **reterr);

#endif
