/* fixture.h: paths of the recorded fixtures for unit tests, which run from the top of the tree. */
#ifndef PT_TEST_FIXTURE_H
#define PT_TEST_FIXTURE_H

#include <limits.h>
#include <unistd.h>

#include "model/xalloc.h"

/* "test:///ABS/tests/fixtures/libvirt/FILE": libvirt's test driver on a node file; caller frees. */
static inline char *
fixture_libvirt_uri(const char *file)
{
	char cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd)))
		return xstrdup("test:///cannot-get-cwd");
	return xasprintf("test://%s/tests/fixtures/libvirt/%s", cwd, file);
}

#endif
