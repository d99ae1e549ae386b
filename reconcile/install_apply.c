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

/* Runs one operation: 0 with op->result set, or a negative errno with *a->reterr. */
static int
run(struct applier *a, struct pt_fileop *op)
{
	const char *rr = a->plan->root_real;
	char *h = pt_root_host_path(rr, op->real);
	char *t = op->target ? pt_root_host_path(rr, op->target) : NULL;
	char *b = op->backup_real ? pt_root_host_path(rr, op->backup_real) : NULL;
	struct stat st;
	int r = 0;

	op->result = PT_FILEOP_DONE;
	if (!t && (op->kind == PT_FILEOP_COMMIT || op->kind == PT_FILEOP_MOVE || op->kind == PT_FILEOP_RESTORE ||
		   op->kind == PT_FILEOP_ENABLE_UNIT || op->kind == PT_FILEOP_SYMLINK)) {
		free(h);
		free(b);
		return fail(a, -EINVAL, "carry out the plan at", op->path);   /* an operation without its target */
	}
	switch (op->kind) {
	case PT_FILEOP_MKDIR:
		if (mkdir(h, op->mode ? op->mode : 0755) < 0) {
			r = pt_neg_errno();
			if (r == -EEXIST && lstat(h, &st) == 0 && S_ISDIR(st.st_mode))
				r = 0, op->result = PT_FILEOP_HELD;
		}
		if (r == 0 && op->result == PT_FILEOP_DONE)
			r = sync_dir_of(h);
		if (r < 0)
			r = fail(a, r, "create the directory", h);
		break;
	case PT_FILEOP_BACKUP:
		r = copy_file(h, b);
		if (r < 0)
			r = fail(a, r, "keep a copy of", h);
		break;
	case PT_FILEOP_RECORD:
	case PT_FILEOP_CREATE:
	case PT_FILEOP_REPLACE:
		if (holds(h, op->content, op->len, op->mode)) {
			op->result = PT_FILEOP_HELD;
			break;
		}
		r = write_file(h, op->content, op->len, op->mode, NULL, false);
		if (r < 0)
			r = fail(a, r, "write", h);
		break;
	case PT_FILEOP_COMMIT:
		if (!exists(h) && exists(t)) {
			op->result = PT_FILEOP_HELD;
			break;
		}
		r = rename_noreplace(h, t);
		if (r == 0)
			r = sync_dir_of(t);
		if (r < 0)
			r = fail(a, r, "rename into place", h);
		break;
	case PT_FILEOP_MOVE:
		if (!exists(h) && exists(t)) {
			op->result = PT_FILEOP_HELD;
			break;
		}
		r = rename_noreplace(h, t);
		if (r == 0)
			r = sync_dir_of(t);
		if (r < 0)
			r = fail(a, r, "move aside", h);
		break;
	case PT_FILEOP_ENABLE_UNIT:
	case PT_FILEOP_SYMLINK:
		if (links_to(h, t ? op->target : "")) {
			op->result = PT_FILEOP_HELD;
			break;
		}
		r = link_to(h, t ? op->target : "");
		if (r < 0)
			r = fail(a, r, op->kind == PT_FILEOP_SYMLINK ? "put back the link" : "create the link", h);
		break;
	case PT_FILEOP_BLOCK:
	case PT_FILEOP_UNBLOCK:
		if (op->kind == PT_FILEOP_UNBLOCK && b) {
			struct stat bs;

			if (lstat(b, &bs) == 0 && lstat(h, &st) == 0 && st.st_mtim.tv_sec == bs.st_mtim.tv_sec &&
			    st.st_mtim.tv_nsec == bs.st_mtim.tv_nsec && st.st_size == bs.st_size) {
				op->result = PT_FILEOP_HELD;
				break;
			}
			r = copy_file(b, h);
		} else if (holds(h, op->content, op->len, 0)) {
			op->result = PT_FILEOP_HELD;
			break;
		} else {
			r = lstat(h, &st) < 0 ? pt_neg_errno() : write_file(h, op->content, op->len, st.st_mode, &st, false);
		}
		if (r < 0)
			r = fail(a, r, "write", h);
		break;
	case PT_FILEOP_RESTORE:
		if (op->by_rename) {
			if (!exists(t) && exists(h)) {
				op->result = PT_FILEOP_HELD;
				break;
			}
			r = rename_noreplace(t, h);
			if (r == 0)
				r = sync_dir_of(h);
		} else {
			r = copy_file(t, h);
			if (r == 0 && unlink(t) < 0)
				r = pt_neg_errno();
			if (r == 0)
				r = sync_dir_of(t);
		}
		if (r < 0)
			r = fail(a, r, "put back", h);
		break;
	case PT_FILEOP_REMOVE:
	case PT_FILEOP_CLEAN:
		if (unlink(h) < 0) {
			r = pt_neg_errno();
			if (r == -ENOENT)
				r = 0, op->result = PT_FILEOP_HELD;
		} else {
			r = sync_dir_of(h);
		}
		if (r < 0)
			r = fail(a, r, "remove", h);
		break;
	case PT_FILEOP_RMDIR:
		if (rmdir(h) < 0) {
			r = pt_neg_errno();
			if (r == -ENOENT) {
				r = 0, op->result = PT_FILEOP_HELD;
			} else if (r == -ENOTEMPTY || r == -EEXIST) {
				r = 0, op->result = PT_FILEOP_KEPT;
				pt_install_plan_note(a->plan, "kept directory '%s%s': it holds files install did not put there",
						     strcmp(a->plan->root, "/") == 0 ? "" : a->plan->root, op->path);
			}
		} else {
			r = sync_dir_of(h);
		}
		if (r < 0)
			r = fail(a, r, "remove the directory", h);
		break;
	case PT_FILEOP_SETTIME:
		if (lstat(h, &st) < 0) {
			op->result = PT_FILEOP_HELD;
			break;
		}
		if ((long long)st.st_mtim.tv_sec == op->mtime_s && st.st_mtim.tv_nsec == op->mtime_ns) {
			op->result = PT_FILEOP_HELD;
			break;
		}
		if (utimensat(AT_FDCWD, h,
			      (const struct timespec[]){ { 0, UTIME_OMIT }, { (time_t)op->mtime_s, op->mtime_ns } },
			      AT_SYMLINK_NOFOLLOW) < 0)
			r = fail(a, pt_neg_errno(), "put back the modification time of", h);
		break;
	}
	if (r < 0)
		op->result = PT_FILEOP_PENDING;
	free(h);
	free(t);
	free(b);
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
