/* install_plan.h: install and uninstall as plans: a list of typed file operations computed from the layout, the manifest and the observed target tree by pure functions; reconcile/install.c observes the tree and walks the plan. */
#ifndef PT_INSTALL_PLAN_H
#define PT_INSTALL_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "model/install_layout.h"
#include "model/install_manifest.h"

/* ---- the observed tree ---- */

/* What to observe at a path (its directories are always observed too). */
enum {
	PT_WANT_READ = 1 << 0,     /* a regular file's bytes */
	PT_WANT_FOLLOW = 1 << 1,   /* follow a link in the last component too (DSM's package script) */
	PT_WANT_LIST = 1 << 2,     /* a directory's entries */
};

struct pt_want {
	char *path;                /* on the target system */
	unsigned flags;
};

struct pt_wants {
	struct pt_want *v;
	size_t n, cap;
};

void pt_wants_done(struct pt_wants *w);
/* Adds path (clean, absolute) with flags, or adds the flags to it when it is there. */
void pt_wants_add(struct pt_wants *w, const char *path, unsigned flags);

/* One path of the target tree as observed. */
struct pt_fnode {
	char *path;                /* on the target system, as asked: "/etc/libvirt/hooks/qemu" */
	unsigned flags;            /* PT_WANT_* asked */
	char *real;                /* where it is on the target system with every link in its directories
	                            * resolved (and in its last component with PT_WANT_FOLLOW); NULL when err */
	int err;                   /* 0; -EXDEV: it leads out of the root; or the negative errno of resolving */
	char *escape;              /* -EXDEV: the host path it leads to */
	bool exists;               /* something is at real */
	unsigned mode;             /* st_mode */
	unsigned uid, gid;
	long long mtime_s;
	long mtime_ns;
	char *data;                /* a regular file's bytes (NUL-terminated), when read */
	size_t len;
	int read_err;              /* why data is NULL for a regular file asked with PT_WANT_READ */
	char *link;                /* a symlink's target */
	bool tmp;                  /* real PT_TMP_SUFFIX is there (a run was killed while writing) */
	char **names;              /* a directory's entries (PT_WANT_LIST), sorted */
	size_t n_names;
};

struct pt_ftree {
	char *root;                /* as given: "/" or a directory */
	char *root_real;           /* its canonical host path */
	struct pt_fnode *v;
	size_t n, cap;
};

void pt_ftree_done(struct pt_ftree *t);
/* The node of path, or NULL when it was not observed; borrowed. */
const struct pt_fnode *pt_ftree_get(const struct pt_ftree *t, const char *path);

/* ---- the plan ---- */

enum pt_fileop_kind {
	PT_FILEOP_MKDIR,           /* create directory path */
	PT_FILEOP_BACKUP,          /* copy path (bytes, owner, mode, times) to backup, before the manifest names it */
	PT_FILEOP_RECORD,          /* write the manifest at path (content): what install changes, for uninstall */
	PT_FILEOP_COMMIT,          /* rename the staging directory real to target: the new state directory appears whole */
	PT_FILEOP_CREATE,          /* write path (content, mode); nothing was there */
	PT_FILEOP_REPLACE,         /* write path over another file (kept in backup first, unless it was ours) */
	PT_FILEOP_MOVE,            /* rename path to target (an earlier hook, chained) */
	PT_FILEOP_ENABLE_UNIT,     /* link path -> target in a .wants directory */
	PT_FILEOP_BLOCK,           /* put passthrough's guarded block into a foreign file (content: the whole file) */
	PT_FILEOP_REMOVE,          /* remove path, which install wrote */
	PT_FILEOP_RMDIR,           /* remove directory path, when empty */
	PT_FILEOP_RESTORE,         /* put back path from target (a backup, copied with its attributes, removed by a
	                            * CLEAN once the manifest no longer names it; or the moved hook, renamed) */
	PT_FILEOP_SYMLINK,         /* put back link path -> target */
	PT_FILEOP_UNBLOCK,         /* take the block out of path (content), or put back its original (backup) */
	PT_FILEOP_SETTIME,         /* put back the mtime of a directory (or link) install changed */
	PT_FILEOP_CLEAN,           /* remove a file of passthrough's own: the manifest, a backup, a temporary */
	PT_FILEOP_UNSTAGE,         /* rename the state directory (real) to target, its unstaging name, before it is
	                            * emptied and removed: the name carries its parent's mtime before install */
};

/* Bookkeeping (not a change people asked about): shown with -v and in JSON. */
bool pt_fileop_bookkeeping(enum pt_fileop_kind k);
/* "mkdir", "backup", ... as JSON shows them. */
const char *pt_fileop_kind_name(enum pt_fileop_kind k);

enum pt_fileop_result {
	PT_FILEOP_PENDING,         /* planned (and not run: --dry-run, or after a failure) */
	PT_FILEOP_DONE,
	PT_FILEOP_HELD,            /* its goal held already when apply came to it */
	PT_FILEOP_KEPT,            /* left alone on purpose (a note says why) */
};

struct pt_fileop {
	enum pt_fileop_kind kind;
	char *path;                /* on the target system: what the operation is about */
	char *real;                /* where apply acts, on the target system (another place when a link
	                            * leads there, or inside the staging directory) */
	char *target;              /* MOVE, COMMIT: the new name (real); ENABLE_UNIT, SYMLINK: the link's
	                            * target; RESTORE: the backup (real) it comes from; else NULL */
	char *backup;              /* BACKUP: the copy; REPLACE, BLOCK: the backup kept for uninstall;
	                            * UNBLOCK: the original it is put back from; RESTORE: as target; else NULL */
	char *backup_real;         /* where that backup is (real) */
	char *content;             /* CREATE, REPLACE, BLOCK, UNBLOCK (without backup), RECORD */
	size_t len;
	unsigned mode;             /* CREATE, REPLACE */
	long long mtime_s;         /* SETTIME */
	long mtime_ns;
	bool unit;                 /* a systemd unit or its link: systemd must reload */
	bool by_rename;            /* RESTORE: rename target back (the moved hook) */
	char *reason;              /* why, one line */
	enum pt_fileop_result result;
};

struct pt_install_plan {
	bool uninstall;
	enum pt_layout layout;
	char *root;                /* as given */
	char *root_real;           /* where the root is (apply acts under it) */
	struct pt_fileop *ops;     /* in the order apply runs them */
	size_t n, cap;
	char **notes;              /* what people should know or do next */
	size_t n_notes, cap_notes;
};

void pt_install_plan_done(struct pt_install_plan *p);
/* Adds a note; used by apply too (a directory kept because it is not empty). */
void pt_install_plan_note(struct pt_install_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* How many operations are not bookkeeping. */
size_t pt_install_plan_changes(const struct pt_install_plan *p);

/* ---- computing it ---- */

struct pt_install_input {
	enum pt_layout layout;         /* install: the layout to install; uninstall: the manifest's */
	struct pt_install_options given; /* -c and --lock-file as given (NULL: as recorded, else the defaults) */
	const char *default_lock;      /* the lock file when neither gives one */
	const struct pt_manifest *m;   /* as read; empty (n == 0) when there is none */
	bool have_manifest;
	int other_installed;           /* the other layout's manifest is there: its enum pt_layout, else -1 */
	const struct pt_ftree *tree;   /* the paths pt_install_wants() names, observed */
	const char *self;              /* install: the binary to copy (self_len bytes); NULL: leave it alone */
	size_t self_len;
	bool self_is_bin;              /* self is the installed binary already */
	bool live;                     /* the root is "/" */
};

/* The options the texts get: as given, else as recorded, else the layout's config and default_lock. Borrowed. */
void pt_install_options_effective(const struct pt_install_input *in, struct pt_install_options *ret);

/* The paths the planners look at, for layout l with effective options o and manifest m. */
void pt_install_wants(enum pt_layout l, const struct pt_install_options *o, const struct pt_manifest *m,
		      struct pt_wants *ret);

/*
 * The operations that make the tree hold layout in->layout: the binary, the config if there
 * is none, the hook chained to an earlier one, the units and their links, DSM's block; and the
 * manifest records for them. On a first install the state directory and the manifest (with the
 * backups) are built under a staging name and renamed into place in one step. Nothing when all
 * holds. A path that leads out of the root, a manifest record the tree contradicts, or an unmet
 * precondition is -EXDEV/-EINVAL/-EEXIST... with *reterr (one line; the caller frees) and no
 * operation. Always fills *ret.
 */
int pt_install_plan_compute(const struct pt_install_input *in, struct pt_install_plan *ret, char **reterr);

/*
 * The operations that undo what in->m records, newest first, then its directories, the
 * modification times it changed, and the manifest with the state directory last.
 */
int pt_uninstall_plan_compute(const struct pt_install_input *in, struct pt_install_plan *ret, char **reterr);

#endif
