/* t_fuzz_corpus.c: replays the checked-in fuzz corpus (tests/fuzz/corpus/) through the fuzz targets, so every input fuzzing found (and every crash it found, kept as a file) runs in make check, under valgrind and ASan. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/xalloc.h"
#include "tests/fuzz/targets.c"

/* Runs fn on every file in dir; returns how many. */
static size_t
replay(const char *dir, int (*fn)(const uint8_t *, size_t))
{
	DIR *dh = opendir(dir);
	size_t files = 0;

	if (!dh) {
		fail_msg("cannot open '%s'", dir);
		return 0;
	}
	for (struct dirent *e; (e = readdir(dh));) {
		char *path, *buf = NULL;
		size_t len = 0, cap = 0, n;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		f = fopen(path, "rb");
		if (!f)
			fail_msg("cannot open '%s'", path);
		do {
			xgrow(&buf, &cap, len + 4096, 1);
			n = fread(buf + len, 1, cap - len, f);
			len += n;
		} while (n > 0);
		fclose(f);
		fn((const uint8_t *)buf, len);
		free(buf);
		free(path);
		files++;
	}
	closedir(dh);
	return files;
}

static void
test_config_corpus(void **state)
{
	(void)state;
	assert_true(replay("tests/fuzz/corpus/config", pt_fuzz_config) >= 20);
}

static void
test_domxml_corpus(void **state)
{
	(void)state;
	assert_true(replay("tests/fuzz/corpus/domxml", pt_fuzz_domxml) >= 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_corpus),
		cmocka_unit_test(test_domxml_corpus),
	};

	return cmocka_run_group_tests_name("fuzz corpus", tests, NULL, NULL);
}
