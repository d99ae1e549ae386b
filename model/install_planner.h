/* install_planner.h: what the install and the uninstall planner share (install_plan.c): the state of a run, and the helpers over the observed tree and the operation lists; only model/install_plan*.c include it. */
#ifndef PT_INSTALL_PLANNER_H
#define PT_INSTALL_PLANNER_H

#include <stdbool.h>
#include <stddef.h>

#include "model/install_plan.h"

#define PT_STAGE_INFIX ".passthrough-stage-"
#define PT_UNSTAGE_INFIX ".passthrough-unstage-"

struct pt_ip_ops {
	struct pt_fileop *v;
	size_t n, cap;
};

struct pt_ip_set {
	char **v;
	size_t n, cap;
};

/* What a planner run carries: the input, the manifest as it will be, the operations by phase
 * (install: the state directory's parts, the backups, the changes, the cleanup), and what the
 * operations so far do to the tree. */
struct pt_ip {
	const struct pt_install_input *in;
	const struct pt_layout_paths *p;
	struct pt_install_options o;       /* effective */
	const char *rp;                    /* the root for messages: "" for "/" */
	struct pt_install_plan *plan;
	struct pt_manifest m;              /* the manifest as it will be */
	bool m_changed;
	struct pt_ip_ops chain, backups, effects, tail;
	struct pt_ip_set made;             /* real directories this plan creates */
	struct pt_ip_set touched;          /* real directories whose entries it changes */
	struct pt_ip_set gone;             /* real paths it removes or moves away */
	struct pt_ip_set written;          /* real paths it writes (their temporaries are reused) */
	/* first install: the state directory is built under a staging name, then renamed */
	char *stage_top;                   /* the first missing directory of the state path (real) */
	char *stage_top_path;              /* the same as named */
	char *stage_real;                  /* its staging name (real) */
	char *stage_parent;                /* the directory that gets it (real) */
	long long stage_mtime_s;           /* that directory's mtime before install */
	long stage_mtime_ns;
	bool in_chain;                     /* ensure_dir adds to chain, not effects */
	/* an uninstall that was stopped while it removed the state directory */
	char *unstaged_parent;             /* the directory that held it (real), or NULL */
	long long unstaged_mtime_s;        /* its mtime before install */
	long unstaged_mtime_ns;
	char **reterr;
};

/* Sets of paths (small: a plan has a few dozen). */
bool pt_ip_set_has(const struct pt_ip_set *s, const char *x);
void pt_ip_set_add(struct pt_ip_set *s, const char *x);
void pt_ip_set_done(struct pt_ip_set *s);

/* Starts a run for in (ret gets the layout and the root; *reterr is set to NULL), and ends it. */
void pt_ip_init(struct pt_ip *x, const struct pt_install_input *in, struct pt_install_plan *ret, char **reterr);
void pt_ip_done(struct pt_ip *x);

/* The node of path: the observer looked at every path pt_install_wants() names and their
 * directories (one it did not look at reads as unresolvable, -EFAULT). Borrowed. */
const struct pt_fnode *pt_ip_node(const struct pt_ip *x, const char *path);
/* The node whose real location is real (an existing directory), or NULL. */
const struct pt_fnode *pt_ip_node_by_real(const struct pt_ip *x, const char *real);
/* Whether n is there once the operations so far have run. */
bool pt_ip_present(const struct pt_ip *x, const struct pt_fnode *n);
/* Whether n is a hook install wrote. */
bool pt_ip_is_our_hook(const struct pt_fnode *n);
/* Whether path is one of the layout's units or .wants links (systemd reloads for those). */
bool pt_ip_is_unit_path(const struct pt_ip *x, const char *path);

/* Sets *x->reterr (the first error only) and returns -e. */
int pt_ip_fail(struct pt_ip *x, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Refuses a path that does not resolve inside the root: -EXDEV or its resolving errno. */
int pt_ip_refuse(struct pt_ip *x, const struct pt_fnode *n);
/* The manifest's records as the tree sees them: each mtime names a directory install changes. */
int pt_ip_check_manifest(struct pt_ip *x);

/* The real location inside the staging directory when real is in the state path being built; the caller frees. */
char *pt_ip_staged(const struct pt_ip *x, const char *real);
/* A new operation at the end of l (real NULL: path); borrowed from l. */
struct pt_fileop *pt_ip_push(struct pt_ip_ops *l, enum pt_fileop_kind kind, const char *path, const char *real,
			     const char *reason);
void pt_ip_set_content(struct pt_fileop *op, const char *data, size_t len);
/* A record for the manifest as it will be (m_changed when it is new). */
void pt_ip_record(struct pt_ip *x, enum pt_mrec_kind kind, const char *path, const char *arg);
/* The directory of real changes (an mtime record unless install made it). */
void pt_ip_touch(struct pt_ip *x, const char *real);
/* The manifest write of m: at its place, or inside the staging directory. */
void pt_ip_push_record(struct pt_ip *x, struct pt_ip_ops *l, const struct pt_manifest *m, const char *reason);
/* Moves l's operations to the end of plan (l is emptied), or frees them. */
void pt_ip_move_ops(struct pt_install_plan *plan, struct pt_ip_ops *l);
void pt_ip_free_ops(struct pt_ip_ops *l);
/* Operations that finish an uninstall stopped while it removed the state directory (its
 * unstaging directory is there: emptied, removed, and its parent's mtime put back), to to. */
void pt_ip_finish_unstaged(struct pt_ip *x, struct pt_ip_ops *to);

#endif
