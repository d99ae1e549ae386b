/* syserr.h: the negative errno of a system call that just failed, never 0. */
#ifndef PT_SYSERR_H
#define PT_SYSERR_H

#include <errno.h>

/* POSIX says a failing call sets errno; -EIO stands in should one not, so that a failure can
 * never read as success (and the static analyzer, which cannot know, agrees). */
static inline int
pt_neg_errno(void)
{
	int r = -errno;

	if (r >= 0)
		r = -EIO;
	return r;
}

#endif
