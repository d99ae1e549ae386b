/* lock.c: the one lock (flock on a file) that serialises every run: hook, boot, timer, by hand. */
#include "reconcile/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "model/xalloc.h"

int
pt_lock_take(const char *path, unsigned timeout_ms, char **reterr)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	unsigned waited = 0;

	if (fd < 0) {
		int e = errno;

		*reterr = xasprintf("cannot open the lock '%s': %s", path, strerror(e));
		return -e;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		struct timespec ts = { 0, 50 * 1000000L };
		int e = errno;

		if (e == EINTR)
			continue;
		if (e != EWOULDBLOCK) {
			*reterr = xasprintf("cannot lock '%s': %s", path, strerror(e));
			close(fd);
			return -e;
		}
		if (waited >= timeout_ms) {
			*reterr = xasprintf("another passthrough still holds '%s' after %u s; "
					    "try again when it is done", path, timeout_ms / 1000);
			close(fd);
			return -EWOULDBLOCK;
		}
		nanosleep(&ts, NULL);
		waited += 50;
	}
	return fd;
}
