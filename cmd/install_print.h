/* install_print.h: how install, uninstall and doctor show an install plan: one line per operation for people, or the typed operations as JSON. */
#ifndef PT_INSTALL_PRINT_H
#define PT_INSTALL_PRINT_H

#include "cmd/cmd.h"
#include "model/install_plan.h"

/* An operation as people read it, paths with the root: "created '/r/etc/libvirt/hooks/qemu'"; the caller frees. */
char *pt_install_op_line(const struct pt_install_plan *p, const struct pt_fileop *op);

/*
 * The end of install and uninstall. Text: each change on stdout ("would have ..." with
 * --dry-run, nothing with --quiet; the bookkeeping too with -v) and in syslog, the notes, if_none
 * when nothing changed. --json: the plan as one JSON object ({"command", "layout", "root",
 * "dry_run", "operations": [{"kind", "path", ..., "unit", "reason", "result"}], "notes",
 * "error"}). Then err (when r < 0) on stderr. Frees plan and err, closes the lock (when >= 0)
 * and syslog; returns the exit status.
 */
int pt_install_finish(const struct pt_ctx *ctx, struct pt_install_plan *plan, int r, char *err, int lock,
		      const char *if_none);

#endif
