/* install_manifest.h: the manifest, what install changed on a host so that uninstall can undo exactly that: records, their text form, and the rules a record must follow to be believed; pure. */
#ifndef PT_INSTALL_MANIFEST_H
#define PT_INSTALL_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "model/install_layout.h"

/*
 * A record says what install may have changed at a path, and how to undo it. It is written
 * before the change (so a kill between the two leaves nothing unaccounted for; undoing a
 * change that never happened does nothing), except that a backup it names is written first.
 */
enum pt_mrec_kind {
	PT_MREC_DIR,        /* path: a directory install created */
	PT_MREC_FILE,       /* path: a file or link install created */
	PT_MREC_CONFIG,     /* path: the config install created (removed only while it is the template) */
	PT_MREC_REPLACED,   /* path: a file that was there, kept in arg (a backup in the state directory) */
	PT_MREC_LINK,       /* path: a link that was there, pointing to arg */
	PT_MREC_MOVED,      /* path: the earlier hook, moved to arg */
	PT_MREC_EDITED,     /* path: DSM's package script, its original kept in arg */
	PT_MREC_OPTION,     /* path: "config" or "lock", arg: the value install wrote into the texts */
	PT_MREC_MTIME,      /* path: a directory (or link) install changed, arg: its mtime before ("S.NNNNNNNNN") */
};

struct pt_mrec {
	enum pt_mrec_kind kind;
	char *path;
	char *arg;          /* "" for the kinds without one (never NULL) */
	unsigned line;      /* where it was read (0: added since) */
};

struct pt_manifest {
	enum pt_layout layout;
	struct pt_mrec *v;   /* oldest first */
	size_t n, cap;
};

void pt_manifest_done(struct pt_manifest *m);

/* "dir", "file", ... as in the manifest and in messages. */
const char *pt_mrec_kind_name(enum pt_mrec_kind k);

/*
 * Reads a manifest of layout l. Every record must be one install writes: a known kind, clean
 * absolute paths (no "." or ".." component), a path this layout's install writes (the binary,
 * hook, units and links, the state directory's files, a config), its argument exactly when the
 * kind has one, option values that pass pt_install_path_ok(). Returns 0 with *ret filled, or
 * -EINVAL with *reterr_line set and *reterr_why (the caller frees) saying what is wrong, or NULL
 * when the line is not a record at all.
 */
int pt_manifest_parse(enum pt_layout l, const char *text, struct pt_manifest *ret, unsigned *reterr_line,
		      char **reterr_why);

/* The manifest as text; the caller frees. */
char *pt_manifest_format(const struct pt_manifest *m);

/* Adds a record unless the same one is there; options replace an earlier value (true when changed). */
void pt_manifest_add(struct pt_manifest *m, enum pt_mrec_kind kind, const char *path, const char *arg);
bool pt_manifest_set_option(struct pt_manifest *m, const char *key, const char *value);

/* The newest record of path (options and mtimes aside), or NULL; borrowed. */
const struct pt_mrec *pt_manifest_find(const struct pt_manifest *m, const char *path);
/* Whether a record of this kind and path is there. */
bool pt_manifest_has(const struct pt_manifest *m, enum pt_mrec_kind kind, const char *path);
/* An option's value, or NULL; borrowed. */
const char *pt_manifest_option(const struct pt_manifest *m, const char *key);
/* Whether some record names arg as its backup. */
bool pt_manifest_uses_backup(const struct pt_manifest *m, const char *backup);

/* A deep copy without record i. */
void pt_manifest_copy_without(const struct pt_manifest *m, size_t i, struct pt_manifest *ret);

/* mtimes as the manifest holds them: "1700000000.123456789"; parse returns false on anything else. */
char *pt_mtime_format(long long sec, long nsec);
bool pt_mtime_parse(const char *s, long long *ret_sec, long *ret_nsec);

#endif
