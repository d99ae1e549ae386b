/* install_print.c: the text and JSON forms of an install or uninstall plan, and the end of those commands. */
#include "cmd/install_print.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cmd/json.h"
#include "cmd/render.h"
#include "model/xalloc.h"

char *
pt_install_op_line(const struct pt_install_plan *p, const struct pt_fileop *op)
{
	const char *rp = !p->root || strcmp(p->root, "/") == 0 ? "" : p->root;

	switch (op->kind) {
	case PT_FILEOP_MKDIR:
		return xasprintf("created directory '%s%s'", rp, op->path);
	case PT_FILEOP_BACKUP:
		return xasprintf("kept a copy of '%s%s' in '%s%s' for uninstall", rp, op->path, rp, op->backup);
	case PT_FILEOP_RECORD:
		return xasprintf("wrote '%s%s': %s", rp, op->real, op->reason);
	case PT_FILEOP_COMMIT:
		return xasprintf("renamed '%s%s' to '%s%s': %s", rp, op->real, rp, op->target, op->reason);
	case PT_FILEOP_CREATE:
		return xasprintf("created '%s%s'", rp, op->path);
	case PT_FILEOP_REPLACE:
		if (op->backup)
			return xasprintf("replaced '%s%s' (the earlier file is kept in '%s%s' for uninstall)", rp, op->path,
					 rp, op->backup);
		return xasprintf("updated '%s%s' (it differed from what install writes)", rp, op->path);
	case PT_FILEOP_MOVE:
		return xasprintf("moved '%s%s' to '%s%s': %s", rp, op->path, rp, op->target, op->reason);
	case PT_FILEOP_ENABLE_UNIT:
		return xasprintf("linked '%s%s' -> '%s'", rp, op->path, op->target);
	case PT_FILEOP_BLOCK:
		if (op->backup)
			return xasprintf("edited '%s%s': %s", rp, op->path, op->reason);
		return xasprintf("updated passthrough's lines in '%s%s'", rp, op->path);
	case PT_FILEOP_REMOVE:
		return xasprintf("removed '%s%s'", rp, op->path);
	case PT_FILEOP_RMDIR:
		return xasprintf("removed directory '%s%s'", rp, op->path);
	case PT_FILEOP_RESTORE:
		return xasprintf("put back '%s%s'", rp, op->path);
	case PT_FILEOP_SYMLINK:
		return xasprintf("put back '%s%s' -> '%s'", rp, op->path, op->target);
	case PT_FILEOP_UNBLOCK:
		return xasprintf("removed passthrough's lines from '%s%s'", rp, op->path);
	case PT_FILEOP_SETTIME:
		return xasprintf("put back the modification time of '%s%s'", rp, op->path);
	case PT_FILEOP_CLEAN:
		return xasprintf("removed '%s%s' (%s)", rp, op->real, op->reason);
	case PT_FILEOP_UNSTAGE:
		return xasprintf("renamed '%s%s' to '%s%s': %s", rp, op->real, rp, op->target, op->reason);
	}
	return xstrdup("?");
}

static const char *const results[] = {
	[PT_FILEOP_PENDING] = "pending", [PT_FILEOP_DONE] = "done", [PT_FILEOP_HELD] = "held", [PT_FILEOP_KEPT] = "kept",
};

static void
json_field(const char *name, const char *value)
{
	printf(",\"%s\":", name);
	pt_json_string(stdout, value);
}

static void
print_json(const struct pt_ctx *ctx, const struct pt_install_plan *p, const char *err)
{
	printf("{\"command\":\"%s\",\"layout\":", p->uninstall ? "uninstall" : "install");
	pt_json_string(stdout, p->root ? pt_layout_paths(p->layout)->name : NULL);
	json_field("root", p->root);
	printf(",\"dry_run\":%s,\"operations\":[", ctx->dry_run ? "true" : "false");
	for (size_t i = 0; i < p->n; i++) {
		const struct pt_fileop *op = &p->ops[i];

		printf("%s{\"kind\":\"%s\"", i ? "," : "", pt_fileop_kind_name(op->kind));
		json_field("path", op->path);
		if (strcmp(op->real, op->path) != 0)
			json_field("real", op->real);
		if (op->target)
			json_field("target", op->target);
		if (op->backup)
			json_field("backup", op->backup);
		if (op->backup && op->backup_real && strcmp(op->backup, op->backup_real) != 0)
			json_field("backup_real", op->backup_real);
		if (op->kind == PT_FILEOP_CREATE || op->kind == PT_FILEOP_REPLACE || op->kind == PT_FILEOP_MKDIR)
			printf(",\"mode\":\"%04o\"", op->mode);
		printf(",\"unit\":%s,\"bookkeeping\":%s", op->unit ? "true" : "false",
		       pt_fileop_bookkeeping(op->kind) ? "true" : "false");
		json_field("reason", op->reason);
		if (!ctx->dry_run)
			printf(",\"result\":\"%s\"", results[op->result]);
		printf("}");
	}
	printf("],\"notes\":[");
	for (size_t i = 0; i < p->n_notes; i++) {
		printf("%s", i ? "," : "");
		pt_json_string(stdout, p->notes[i]);
	}
	printf("],\"error\":");
	pt_json_string(stdout, err);
	printf("}\n");
}

int
pt_install_finish(const struct pt_ctx *ctx, struct pt_install_plan *plan, int r, char *err, int lock,
		  const char *if_none)
{
	size_t shown = 0;

	for (size_t i = 0; i < plan->n; i++) {
		const struct pt_fileop *op = &plan->ops[i];
		bool book = pt_fileop_bookkeeping(op->kind);
		char *line;

		if (!ctx->dry_run && op->result != PT_FILEOP_DONE)
			continue;
		line = pt_install_op_line(plan, op);
		if (!ctx->dry_run && !book)
			syslog(LOG_NOTICE, "%s", line);
		if (!ctx->quiet && !ctx->json && (!book || ctx->verbose))
			printf("%s%s\n", ctx->dry_run ? "would have " : "", line);
		shown += !book;
		free(line);
	}
	if (ctx->json)
		print_json(ctx, plan, r < 0 ? err : NULL);
	for (size_t i = 0; i < plan->n_notes && !ctx->quiet && !ctx->json; i++)
		printf("note: %s\n", plan->notes[i]);
	if (!shown && if_none && !ctx->quiet && !ctx->json && r == 0)
		printf("%s\n", if_none);
	if (r < 0)
		pt_say(&(struct pt_report){ false, false }, LOG_ERR, "%s", err);
	free(err);
	pt_install_plan_done(plan);
	if (lock >= 0)
		close(lock);
	closelog();
	return r < 0 ? PT_EXIT_FAIL : PT_EXIT_OK;
}
