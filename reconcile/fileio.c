/* fileio.c: the one whole-file reader: reads a file or a descriptor to its end within a bound, never cutting it silently. */
#include "reconcile/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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
