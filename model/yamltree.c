/* yamltree.c: one YAML document loaded into a node tree with 1-based positions, aliases bounded. */
#include "model/yamltree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "model/xalloc.h"

#define CORE_TAG_PREFIX "tag:yaml.org,2002:"

struct anchor {
	char *name;
	struct pt_ynode *node;
};

struct loader {
	const char *file;
	const unsigned char *buf;   /* the input as libyaml reads it (no byte order mark) */
	size_t len;
	struct pt_diags *diags;
	struct pt_ydoc doc;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	unsigned n_aliases;
};

static struct pt_ynode *
node_new(struct loader *l, enum pt_ynode_kind kind, const yaml_mark_t *mark, const yaml_char_t *tag)
{
	struct pt_ynode *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->line = (unsigned)mark->line + 1;
	n->col = (unsigned)mark->column + 1;
	n->tag = tag ? xstrdup((const char *)tag) : NULL;
	xgrow(&l->doc.nodes, &l->doc.cap_nodes, l->doc.n_nodes + 1, sizeof(struct pt_ynode *));
	l->doc.nodes[l->doc.n_nodes++] = n;
	return n;
}

static int
anchor_set(struct loader *l, const yaml_char_t *name, struct pt_ynode *node)
{
	if (!name)
		return 0;
	/* A later anchor of the same name replaces the earlier one, as YAML says. */
	for (size_t i = 0; i < l->n_anchors; i++) {
		if (strcmp(l->anchors[i].name, (const char *)name) == 0) {
			l->anchors[i].node = node;
			return 0;
		}
	}
	if (l->n_anchors == PT_YAML_MAX_ANCHORS) {
		pt_diags_add(l->diags, l->file, node->line, node->col, "too many anchors (at most %d in a file)",
			     PT_YAML_MAX_ANCHORS);
		return -EINVAL;
	}
	xgrow(&l->anchors, &l->cap_anchors, l->n_anchors + 1, sizeof(*l->anchors));
	l->anchors[l->n_anchors].name = xstrdup((const char *)name);
	l->anchors[l->n_anchors].node = node;
	l->n_anchors++;
	return 0;
}

static struct pt_ynode *
anchor_get(struct loader *l, const char *name)
{
	for (size_t i = 0; i < l->n_anchors; i++)
		if (strcmp(l->anchors[i].name, name) == 0)
			return l->anchors[i].node;
	return NULL;
}

/* Adds child to the open collection parent; a mapping alternates key and value. */
static void
attach(struct pt_ynode *parent, struct pt_ynode *child)
{
	if (parent->kind == PT_YNODE_SEQUENCE) {
		xgrow(&parent->items, &parent->cap_items, parent->n_items + 1, sizeof(struct pt_ynode *));
		parent->items[parent->n_items++] = child;
		return;
	}
	if (parent->n_pairs > 0 && !parent->pairs[parent->n_pairs - 1].value) {
		parent->pairs[parent->n_pairs - 1].value = child;
		return;
	}
	xgrow(&parent->pairs, &parent->cap_pairs, parent->n_pairs + 1, sizeof(*parent->pairs));
	parent->pairs[parent->n_pairs].key = child;
	parent->pairs[parent->n_pairs].value = NULL;
	parent->n_pairs++;
}

/*
 * The 1-based line and column of byte off of the input, counted as libyaml counts its
 * marks: a column is a character, not a byte, and CR LF, CR, LF, NEL, LS and PS each end
 * a line. libyaml decoded the bytes before off, so they are UTF-8.
 */
static void
offset_position(const struct loader *l, size_t off, unsigned *ret_line, unsigned *ret_col)
{
	const unsigned char *s = l->buf;
	unsigned line = 1, col = 1;
	size_t i = 0;

	while (i < off) {
		size_t brk = 0;

		if (s[i] == '\r')
			brk = i + 1 < l->len && s[i + 1] == '\n' ? 2 : 1;
		else if (s[i] == '\n')
			brk = 1;
		else if (s[i] == 0xc2 && i + 1 < l->len && s[i + 1] == 0x85)
			brk = 2;
		else if (s[i] == 0xe2 && i + 2 < l->len && s[i + 1] == 0x80 &&
			 (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
			brk = 3;
		if (brk) {
			line++;
			col = 1;
			i += brk;
			continue;
		}
		if ((s[i] & 0xc0) != 0x80)   /* not a continuation byte: a new character */
			col++;
		i++;
	}
	*ret_line = line;
	*ret_col = col;
}

/*
 * libyaml's reader checks the encoding and the allowed characters as it decodes the input,
 * ahead of the parser; its errors carry a byte offset and no mark (0:0). They are reported
 * at the line and column of that byte, naming it.
 */
static void
reader_error(struct loader *l, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "invalid input";
	size_t off = p->problem_offset < l->len ? p->problem_offset : l->len;
	unsigned line, col;

	/* libyaml names the byte that cannot continue a character: go back to where it starts */
	if (strcmp(problem, "invalid trailing UTF-8 octet") == 0 && off > 0)
		do
			off--;
		while (off > 0 && (l->buf[off] & 0xc0) == 0x80);
	offset_position(l, off, &line, &col);
	if (strcmp(problem, "invalid leading UTF-8 octet") == 0 && off < l->len)
		pt_diags_add(l->diags, l->file, line, col, "invalid UTF-8: byte 0x%02x cannot start a character",
			     l->buf[off]);
	else if ((strcmp(problem, "invalid trailing UTF-8 octet") == 0 ||
		  strcmp(problem, "incomplete UTF-8 octet sequence") == 0) && off < l->len)
		pt_diags_add(l->diags, l->file, line, col,
			     "invalid UTF-8: byte 0x%02x starts a character that is cut short", l->buf[off]);
	else if (strcmp(problem, "invalid length of a UTF-8 sequence") == 0 && off < l->len)
		pt_diags_add(l->diags, l->file, line, col, "invalid UTF-8: byte 0x%02x starts an overlong form",
			     l->buf[off]);
	else if (strcmp(problem, "invalid Unicode character") == 0)
		pt_diags_add(l->diags, l->file, line, col, "invalid UTF-8: U+%04X is not a Unicode character",
			     (unsigned)p->problem_value);
	else if (strcmp(problem, "control characters are not allowed") == 0 && p->problem_value == 0)
		pt_diags_add(l->diags, l->file, line, col, "a NUL byte is not allowed in YAML");
	else if (strcmp(problem, "control characters are not allowed") == 0)
		pt_diags_add(l->diags, l->file, line, col, "character U+%04X is not allowed in YAML",
			     (unsigned)p->problem_value);
	else
		pt_diags_add(l->diags, l->file, line, col, "%s", problem);
}

static void
syntax_error(struct loader *l, const yaml_parser_t *p)
{
	const yaml_mark_t *m = &p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR) {
		pt_diags_add(l->diags, l->file, 0, 0, "out of memory while reading YAML");
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		reader_error(l, p);
		return;
	}
	if (p->context)
		pt_diags_add(l->diags, l->file, (unsigned)m->line + 1, (unsigned)m->column + 1,
			     "syntax error: %s (%s at line %u)", p->problem ? p->problem : "invalid YAML",
			     p->context, (unsigned)p->context_mark.line + 1);
	else
		pt_diags_add(l->diags, l->file, (unsigned)m->line + 1, (unsigned)m->column + 1,
			     "syntax error: %s", p->problem ? p->problem : "invalid YAML");
}

static int
load_events(struct loader *l, yaml_parser_t *p)
{
	struct pt_ynode *stack[PT_YAML_MAX_DEPTH];
	size_t depth = 0;
	unsigned n_docs = 0;

	for (;;) {
		yaml_event_t ev;
		struct pt_ynode *n = NULL;
		int r = 0;

		if (!yaml_parser_parse(p, &ev)) {
			syntax_error(l, p);
			return -EINVAL;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return 0;
		case YAML_DOCUMENT_START_EVENT:
			if (++n_docs > 1) {
				pt_diags_add(l->diags, l->file, (unsigned)ev.start_mark.line + 1,
					     (unsigned)ev.start_mark.column + 1,
					     "a second YAML document; the file must hold exactly one");
				r = -EINVAL;
			}
			break;
		case YAML_ALIAS_EVENT: {
			const char *name = (const char *)ev.data.alias.anchor;

			n = anchor_get(l, name);
			if (++l->n_aliases > PT_YAML_MAX_ALIASES) {
				pt_diags_add(l->diags, l->file, (unsigned)ev.start_mark.line + 1,
					     (unsigned)ev.start_mark.column + 1,
					     "too many aliases (at most %d in a file)", PT_YAML_MAX_ALIASES);
				r = -EINVAL;
			} else if (!n) {
				pt_diags_add(l->diags, l->file, (unsigned)ev.start_mark.line + 1,
					     (unsigned)ev.start_mark.column + 1,
					     "undefined alias '*%s'", name);
				r = -EINVAL;
			} else if (n->open) {
				pt_diags_add(l->diags, l->file, (unsigned)ev.start_mark.line + 1,
					     (unsigned)ev.start_mark.column + 1,
					     "alias '*%s' refers to a node that contains it", name);
				r = -EINVAL;
			}
			break;
		}
		case YAML_SCALAR_EVENT:
			n = node_new(l, PT_YNODE_SCALAR, &ev.start_mark, ev.data.scalar.tag);
			n->value = xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			n->len = ev.data.scalar.length;
			if (ev.data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
			    ev.data.scalar.style == YAML_FOLDED_SCALAR_STYLE)
				n->style = PT_YSCALAR_BLOCK;
			else if (ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
				n->style = PT_YSCALAR_PLAIN;
			else
				n->style = PT_YSCALAR_QUOTED;
			if (strlen(n->value) != n->len) {
				pt_diags_add(l->diags, l->file, n->line, n->col,
					     "a NUL character inside a value");
				r = -EINVAL;
			}
			if (r == 0)
				r = anchor_set(l, ev.data.scalar.anchor, n);
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth == PT_YAML_MAX_DEPTH) {
				pt_diags_add(l->diags, l->file, (unsigned)ev.start_mark.line + 1,
					     (unsigned)ev.start_mark.column + 1,
					     "nesting deeper than %d levels", PT_YAML_MAX_DEPTH);
				r = -EINVAL;
				break;
			}
			if (ev.type == YAML_MAPPING_START_EVENT) {
				n = node_new(l, PT_YNODE_MAPPING, &ev.start_mark, ev.data.mapping_start.tag);
				r = anchor_set(l, ev.data.mapping_start.anchor, n);
			} else {
				n = node_new(l, PT_YNODE_SEQUENCE, &ev.start_mark, ev.data.sequence_start.tag);
				r = anchor_set(l, ev.data.sequence_start.anchor, n);
			}
			n->open = true;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (depth > 0)   /* libyaml pairs start and end events; this keeps it so */
				stack[--depth]->open = false;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (r == 0 && n && depth > 0) {
			const struct pt_ynode *parent = stack[depth - 1];

			/* the next item of a list, or the next key of a mapping whose last pair is complete */
			if (parent->n_items == PT_YAML_MAX_ENTRIES ||
			    (parent->n_pairs == PT_YAML_MAX_ENTRIES && parent->pairs[parent->n_pairs - 1].value)) {
				pt_diags_add(l->diags, l->file, n->line, n->col,
					     "more than %d entries in one mapping or list", PT_YAML_MAX_ENTRIES);
				r = -EINVAL;
			}
		}
		if (r < 0)
			return r;
		if (n) {
			if (depth > 0)
				attach(stack[depth - 1], n);
			else
				l->doc.root = n;
			if (n->open)
				stack[depth++] = n;
		}
	}
}

int
pt_ydoc_load(const char *file, const char *buf, size_t len, struct pt_ydoc *ret,
	     struct pt_diags *diags)
{
	struct loader l = { .file = file, .diags = diags };
	yaml_parser_t parser;
	int r;

	if (!yaml_parser_initialize(&parser))
		abort();
	/* A UTF-8 byte order mark is allowed; libyaml drops it only when it detects the encoding. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	l.buf = (const unsigned char *)buf;
	l.len = len;
	yaml_parser_set_input_string(&parser, l.buf, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	r = load_events(&l, &parser);
	yaml_parser_delete(&parser);
	for (size_t i = 0; i < l.n_anchors; i++)
		free(l.anchors[i].name);
	free(l.anchors);
	if (r < 0) {
		pt_ydoc_done(&l.doc);
		return r;
	}
	*ret = l.doc;
	return 0;
}

void
pt_ydoc_done(struct pt_ydoc *doc)
{
	if (!doc)
		return;
	for (size_t i = 0; i < doc->n_nodes; i++) {
		struct pt_ynode *n = doc->nodes[i];

		free(n->tag);
		free(n->value);
		free(n->pairs);
		free(n->items);
		free(n);
	}
	free(doc->nodes);
	memset(doc, 0, sizeof(*doc));
}

bool
pt_ynode_is_null(const struct pt_ynode *n)
{
	if (n->kind != PT_YNODE_SCALAR)
		return false;
	if (n->tag)
		return pt_ynode_has_core_tag(n, "null");
	if (n->style != PT_YSCALAR_PLAIN)
		return false;
	return n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
	       strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

const char *
pt_ynode_kind_name(const struct pt_ynode *n)
{
	if (pt_ynode_is_null(n))
		return "empty";
	switch (n->kind) {
	case PT_YNODE_SCALAR:
		return "a single value";
	case PT_YNODE_MAPPING:
		return "a mapping";
	case PT_YNODE_SEQUENCE:
		return "a list";
	}
	return "?";
}

bool
pt_ynode_has_core_tag(const struct pt_ynode *n, const char *name)
{
	size_t plen = strlen(CORE_TAG_PREFIX);

	return n->tag && strncmp(n->tag, CORE_TAG_PREFIX, plen) == 0 && strcmp(n->tag + plen, name) == 0;
}

char *
pt_ynode_tag_text(const struct pt_ynode *n)
{
	size_t plen = strlen(CORE_TAG_PREFIX);

	if (!n->tag)
		return NULL;
	if (strncmp(n->tag, CORE_TAG_PREFIX, plen) == 0)
		return xasprintf("!!%s", n->tag + plen);
	if (n->tag[0] == '!')   /* a local tag (!custom) or the non-specific one (!) */
		return xstrdup(n->tag);
	return xasprintf("!<%s>", n->tag);
}
