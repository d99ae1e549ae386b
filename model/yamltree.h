/* yamltree.h: one YAML document loaded into a node tree with 1-based positions, aliases bounded. */
#ifndef PT_YAMLTREE_H
#define PT_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "model/diag.h"

/* An alias makes a second reference to a node; more than this many in a file is refused. */
#define PT_YAML_MAX_ALIASES 16
/* Nesting deeper than this is refused (the schema needs 4 levels). */
#define PT_YAML_MAX_DEPTH 32
/* More anchors, or more entries in one mapping or list, are refused (bounds the work). */
#define PT_YAML_MAX_ANCHORS 64
#define PT_YAML_MAX_ENTRIES 4096

enum pt_ynode_kind {
	PT_YNODE_SCALAR,
	PT_YNODE_MAPPING,
	PT_YNODE_SEQUENCE,
};

/* How a scalar was written: only a plain one is read by the schema (1, true, ~); the rest are strings. */
enum pt_yscalar_style {
	PT_YSCALAR_PLAIN,         /* 1, true, frigate_VM */
	PT_YSCALAR_QUOTED,        /* "1" or '1' */
	PT_YSCALAR_BLOCK,         /* | or > */
};

struct pt_ypair {
	struct pt_ynode *key;
	struct pt_ynode *value;
};

struct pt_ynode {
	enum pt_ynode_kind kind;
	unsigned line, col;       /* 1-based start position */
	char *tag;                /* explicit tag (e.g. "tag:yaml.org,2002:int") or NULL */
	/* scalar */
	char *value;              /* NUL-terminated */
	size_t len;
	enum pt_yscalar_style style;   /* only a plain "~", "null" or "" reads as null */
	/* mapping */
	struct pt_ypair *pairs;
	size_t n_pairs, cap_pairs;
	/* sequence */
	struct pt_ynode **items;
	size_t n_items, cap_items;
	bool open;                /* still being built (an alias to it would be recursive) */
};

/* Every node is owned by the document's node list; aliases share nodes. */
struct pt_ydoc {
	struct pt_ynode *root;    /* NULL for an empty document */
	struct pt_ynode **nodes;
	size_t n_nodes, cap_nodes;
};

/*
 * Loads the single document in buf. Returns 0, or -EINVAL after adding diagnostics
 * (positions in `file`) to diags; *ret is filled only on success.
 */
int pt_ydoc_load(const char *file, const char *buf, size_t len, struct pt_ydoc *ret,
		 struct pt_diags *diags);
/* Frees every node; accepts NULL. */
void pt_ydoc_done(struct pt_ydoc *doc);

/* True for a plain "", "~", "null", "Null" or "NULL" scalar, or one tagged !!null. */
bool pt_ynode_is_null(const struct pt_ynode *n);
/* "a single value", "a mapping", "a list" or "empty", for messages. */
const char *pt_ynode_kind_name(const struct pt_ynode *n);
/* True when n carries the YAML core tag !!name (tag:yaml.org,2002:name), however it was spelled. */
bool pt_ynode_has_core_tag(const struct pt_ynode *n, const char *name);
/*
 * The tag of n as a message shows it: "!!int" for a core tag, "!custom" for a local one,
 * "!<uri>" for any other; NULL when n has none. The caller frees it.
 */
char *pt_ynode_tag_text(const struct pt_ynode *n);

#endif
