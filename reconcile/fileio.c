/* fileio.c: the one whole-file reader (to its end within a bound, never cutting it silently) and the one atomic whole-file writer. */
#include "reconcile/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/syserr.h"
#include "model/xalloc.h"

int
pt_read_fd(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t n;

		/* reading past max is how a longer file is told apart from one of max bytes */
		if (len + 1 >= cap)
			xgrow(&buf, &cap, cap ? cap * 2 : 4096, 1);
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = pt_neg_errno();

			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			free(buf);
			return -EFBIG;
		}
	}
	if (!buf)
		buf = xmalloc(1);
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int
pt_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r;

	if (fd < 0)
		return pt_neg_errno();
	r = pt_read_fd(fd, max, ret_buf, ret_len);
	close(fd);
	return r;
}

int
pt_write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, bool durable)
{
	char *tmp = xasprintf("%s.tmp", path), *dir, *slash;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode), r = 0;

	if (fd < 0) {
		r = pt_neg_errno();
		free(tmp);
		return r;
	}
	for (size_t off = 0; r == 0 && off < len;) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno != EINTR)
			r = pt_neg_errno();
		else if (n > 0)
			off += (size_t)n;
	}
	if (r == 0 && fchmod(fd, mode) < 0)
		r = pt_neg_errno();
	if (r == 0 && durable && fsync(fd) < 0)
		r = pt_neg_errno();
	if (close(fd) < 0 && r == 0)
		r = pt_neg_errno();
	if (r == 0 && rename(tmp, path) < 0)
		r = pt_neg_errno();
	if (r < 0) {
		unlink(tmp);
		free(tmp);
		return r;
	}
	free(tmp);
	if (!durable)
		return 0;
	/* the rename itself made durable */
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS)
			r = pt_neg_errno();
		close(fd);
	}
	free(dir);
	return r;
}
