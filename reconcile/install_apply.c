/* install_apply.c: carries out an install or uninstall plan, one typed file operation at a time: each checks its goal first, writes through a temporary that is fsynced and renamed, and fsyncs the directory after. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/syserr.h"
#include "model/xalloc.h"
#include "reconcile/fileio.h"
#include "reconcile/install.h"
#include "reconcile/rootpath.h"

#define MAX_FILE (64u << 20)

struct applier {
	struct pt_install_plan *plan;
	char **reterr;
};

static int
fail(struct applier *a, int r, const char *what, const char *host)
{
	*a->reterr = xasprintf("cannot %s '%s': %s", what, host, strerror(-r));
	return r;
}

/* Makes a rename, creation or removal in path's directory durable. */
static int
sync_dir_of(const char *path)
{
	char *dir = pt_path_parent(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0 || (fsync(fd) < 0 && errno != EINVAL && errno != EROFS))
		r = pt_neg_errno();
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

static int
write_all(int fd, const char *data, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pt_neg_errno();
		off += (size_t)n;
	}
	return 0;
}

/*
 * Writes path through path PT_TMP_SUFFIX, fsync and rename, so that it is never half-written.
 * attrs: the owner (and with times, the modification time) it gets; NULL: ours.
 */
static int
write_file(const char *path, const char *data, size_t len, mode_t mode, const struct stat *attrs, bool times)
{
	char *tmp = xasprintf("%s" PT_TMP_SUFFIX, path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r = fd < 0 ? pt_neg_errno() : write_all(fd, data, len);

	if (r == 0 && attrs && fchown(fd, attrs->st_uid, attrs->st_gid) < 0)
		r = pt_neg_errno();
	if (r == 0 && fchmod(fd, mode & 07777) < 0)
		r = pt_neg_errno();
	if (r == 0 && attrs && times &&
	    futimens(fd, (const struct timespec[]){ attrs->st_atim, attrs->st_mtim }) < 0)
		r = pt_neg_errno();
	if (r == 0 && fsync(fd) < 0)
		r = pt_neg_errno();
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = pt_neg_errno();
	if (r == 0 && rename(tmp, path) < 0)
		r = pt_neg_errno();
	if (r < 0 && fd >= 0)
		unlink(tmp);
	if (r == 0)
		r = sync_dir_of(path);
	free(tmp);
	return r;
}

/* Copies src to dst with its bytes, owner, mode and times (a backup, or putting one back). */
static int
copy_file(const char *src, const char *dst)
{
	struct stat st;
	char *data;
	size_t len;
	int r = lstat(src, &st) < 0 ? pt_neg_errno() : !S_ISREG(st.st_mode) ? -EINVAL
							   : pt_read_file(src, MAX_FILE, &data, &len);

	if (r < 0)
		return r;
	r = write_file(dst, data, len, st.st_mode, &st, true);
	free(data);
	return r;
}

/* Whether path is a regular file holding exactly data (and mode, unless mode is 0). */
static bool
holds(const char *path, const char *data, size_t len, mode_t mode)
{
	struct stat st;
	char *cur;
	size_t n;
	bool same;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || (mode && (st.st_mode & 07777) != mode))
		return false;
	if (pt_read_file(path, MAX_FILE, &cur, &n) < 0)
		return false;
	same = n == len && memcmp(cur, data, len) == 0;
	free(cur);
	return same;
}

/* rename without replacing what is at to. */
static int
rename_noreplace(const char *from, const char *to)
{
	struct stat st;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return pt_neg_errno();
	if (lstat(to, &st) == 0)
		return -EEXIST;
	return rename(from, to) < 0 ? pt_neg_errno() : 0;
}

static int
link_to(const char *path, const char *target)
{
	char *tmp = xasprintf("%s" PT_TMP_SUFFIX, path);
	int r = 0;

	if (unlink(tmp) < 0 && errno != ENOENT)
		r = pt_neg_errno();
	if (r == 0 && symlink(target, tmp) < 0)
		r = pt_neg_errno();
	if (r == 0 && rename(tmp, path) < 0) {
		r = pt_neg_errno();
		unlink(tmp);
	}
	if (r == 0)
		r = sync_dir_of(path);
	free(tmp);
	return r;
}

static bool
links_to(const char *path, const char *target)
{
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	if (n < 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, target) == 0;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Where an operation acts, as host paths: path (h), target (t) and backup (b), NULL when it has none. */
struct at {
	char *h, *t, *b;
};

static int
held(struct pt_fileop *op)
{
	op->result = PT_FILEOP_HELD;
	return 0;
}

static int
do_mkdir(struct applier *a, struct pt_fileop *op, const struct at *w)
{
	struct stat st;
	int r = mkdir(w->h, op->mode ? op->mode : 0755) < 0 ? pt_neg_errno() : sync_dir_of(w->h);

	if (r == -EEXIST && lstat(w->h, &st) == 0 && S_ISDIR(st.st_mode))
		return held(op);
	return r < 0 ? fail(a, r, "create the directory", w->h) : 0;
}

static int
do_backup(struct applier *a, struct pt_fileop *op, const struct at *w)
{
	int r = w->b ? copy_file(w->h, w->b) : -EINVAL;

	(void)op;
	return r < 0 ? fail(a, r, "keep a copy of", w->h) : 0;
}

/* RECORD, CREATE, REPLACE: the file holds content with mode. */
static int
do_write(struct applier *a, struct pt_fileop *op, const struct at *w)
{
	int r;

	if (holds(w->h, op->content, op->len, op->mode))
		return held(op);
	r = write_file(w->h, op->content, op->len, op->mode, NULL, false);
	return r < 0 ? fail(a, r, "write", w->h) : 0;
}

/* COMMIT, MOVE, UNSTAGE: path is renamed to target, never over something there. */
static int
do_rename(struct applier *a, struct pt_fileop *op, const struct at *w)
{
	int r;

	if (!exists(w->h) && exists(w->t))
		return held(op);
	r = rename_noreplace(w->h, w->t);
	if (r == 0)
		r = sync_dir_of(w->t);
	return r < 0 ? fail(a, r, op->kind == PT_FILEOP_MOVE ? "move aside" : "rename", w->h) : 0;
}

/* ENABLE_UNIT, SYMLINK: path is a link to target. */
static int
do_link(struct applier *a, struct pt_fileop *op, const struct at *w)
{
	int r;

	if (links_to(w->h, op->target))
		return held(op);
	r = link_to(w->h, op->target);
	return r < 0 ? fail(a, r, op->kind == PT_FILEOP_SYMLINK ? "put back the link" : "create the link", w->h) : 0;
}

/* BLOCK, UNBLOCK: a foreign file gets new content with its owner and mode, or (UNBLOCK with a
 * backup) its original back with its attributes. */
static int
do_edit(struct applier *a, struct pt_fileop *op, const struct at *w)
{
	struct stat st, bs;
	int r;

	if (op->kind == PT_FILEOP_UNBLOCK && w->b) {
		if (lstat(w->b, &bs) == 0 && lstat(w->h, &st) == 0 && st.st_mtim.tv_sec == bs.st_mtim.tv_sec &&
		    st.st_mtim.tv_nsec == bs.st_mtim.tv_nsec && st.st_size == bs.st_size)
			return held(op);
		r = copy_file(w->b, w->h);
	} else if (holds(w->h, op->content, op->len, 0)) {
		return held(op);
	} else {
		r = lstat(w->h, &st) < 0 ? pt_neg_errno() : write_file(w->h, op->content, op->len, st.st_mode, &st, false);
	}
	return r < 0 ? fail(a, r, "write", w->h) : 0;
}

/* RESTORE: the backup (target) back at path: renamed (the moved hook), or copied with its
 * attributes (a CLEAN after the manifest's next write removes the backup). */
static int
do_restore(struct applier *a, struct pt_fileop *op, const struct at *w)
{
	int r;

	if (op->by_rename) {
		if (!exists(w->t) && exists(w->h))
			return held(op);
		r = rename_noreplace(w->t, w->h);
		if (r == 0)
			r = sync_dir_of(w->h);
	} else {
		r = copy_file(w->t, w->h);
	}
	return r < 0 ? fail(a, r, "put back", w->h) : 0;
}

/* REMOVE, CLEAN */
static int
do_unlink(struct applier *a, struct pt_fileop *op, const struct at *w)
{
	int r = unlink(w->h) < 0 ? pt_neg_errno() : sync_dir_of(w->h);

	if (r == -ENOENT)
		return held(op);
	return r < 0 ? fail(a, r, "remove", w->h) : 0;
}

static int
do_rmdir(struct applier *a, struct pt_fileop *op, const struct at *w)
{
	int r = rmdir(w->h) < 0 ? pt_neg_errno() : sync_dir_of(w->h);

	if (r == -ENOENT)
		return held(op);
	if (r == -ENOTEMPTY || r == -EEXIST) {
		op->result = PT_FILEOP_KEPT;
		pt_install_plan_note(a->plan, "kept directory '%s%s': it holds files install did not put there",
				     strcmp(a->plan->root, "/") == 0 ? "" : a->plan->root, op->path);
		return 0;
	}
	return r < 0 ? fail(a, r, "remove the directory", w->h) : 0;
}

static int
do_settime(struct applier *a, struct pt_fileop *op, const struct at *w)
{
	const struct timespec times[2] = { { 0, UTIME_OMIT }, { (time_t)op->mtime_s, op->mtime_ns } };
	struct stat st;

	if (lstat(w->h, &st) < 0 ||
	    ((long long)st.st_mtim.tv_sec == op->mtime_s && st.st_mtim.tv_nsec == op->mtime_ns))
		return held(op);
	if (utimensat(AT_FDCWD, w->h, times, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(a, pt_neg_errno(), "put back the modification time of", w->h);
	return 0;
}

static const struct {
	int (*run)(struct applier *a, struct pt_fileop *op, const struct at *w);
	bool needs_target;
} kinds[] = {
	[PT_FILEOP_MKDIR] = { do_mkdir, false },      [PT_FILEOP_BACKUP] = { do_backup, false },
	[PT_FILEOP_RECORD] = { do_write, false },     [PT_FILEOP_COMMIT] = { do_rename, true },
	[PT_FILEOP_CREATE] = { do_write, false },     [PT_FILEOP_REPLACE] = { do_write, false },
	[PT_FILEOP_MOVE] = { do_rename, true },       [PT_FILEOP_ENABLE_UNIT] = { do_link, true },
	[PT_FILEOP_BLOCK] = { do_edit, false },       [PT_FILEOP_REMOVE] = { do_unlink, false },
	[PT_FILEOP_RMDIR] = { do_rmdir, false },      [PT_FILEOP_RESTORE] = { do_restore, true },
	[PT_FILEOP_SYMLINK] = { do_link, true },      [PT_FILEOP_UNBLOCK] = { do_edit, false },
	[PT_FILEOP_SETTIME] = { do_settime, false },  [PT_FILEOP_CLEAN] = { do_unlink, false },
	[PT_FILEOP_UNSTAGE] = { do_rename, true },
};

/* Runs one operation: 0 with op->result set, or a negative errno with *a->reterr. */
static int
run(struct applier *a, struct pt_fileop *op)
{
	const char *rr = a->plan->root_real;
	struct at w = { pt_root_host_path(rr, op->real), op->target ? pt_root_host_path(rr, op->target) : NULL,
			op->backup_real ? pt_root_host_path(rr, op->backup_real) : NULL };
	int r;

	op->result = PT_FILEOP_DONE;
	if ((size_t)op->kind >= sizeof(kinds) / sizeof(kinds[0]) || (kinds[op->kind].needs_target && !w.t))
		r = fail(a, -EINVAL, "carry out the plan at", op->path);   /* an operation without what it needs */
	else
		r = kinds[op->kind].run(a, op, &w);
	if (r < 0)
		op->result = PT_FILEOP_PENDING;
	free(w.h);
	free(w.t);
	free(w.b);
	return r;
}

int
pt_install_apply(struct pt_install_plan *plan, char **reterr)
{
	struct applier a = { plan, reterr };
	int r = 0;

	for (size_t i = 0; i < plan->n && r == 0; i++)
		r = run(&a, &plan->ops[i]);
	return r;
}
