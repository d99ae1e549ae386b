/* t_host.c: unit tests of path building under the injected roots and of the config file reader. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "model/xalloc.h"
#include "reconcile/config_file.h"
#include "reconcile/host.h"

static void
test_sysfs_paths(void **state)
{
	struct pt_host h = { "/tmp/fake/", "/proc", "test:///default", NULL, NULL };
	struct pt_host real = { "/", "/", NULL, NULL, NULL };
	char *p;

	(void)state;
	p = pt_host_sysfs_path(&h, "bus/pci/devices/%s/driver_override", "0000:00:02.0");
	assert_string_equal(p, "/tmp/fake/bus/pci/devices/0000:00:02.0/driver_override");
	free(p);
	p = pt_host_sysfs_path(&real, "/bus/pci/drivers_probe");
	assert_string_equal(p, "/bus/pci/drivers_probe");
	free(p);
	p = pt_host_proc_path(&h, "mounts");
	assert_string_equal(p, "/proc/mounts");
	free(p);
}

static char tmpdir[64];

static int
make_tmpdir(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/t_host.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
remove_tmpdir(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	int r = system(cmd);

	(void)state;
	free(cmd);
	return r == 0 ? 0 : -1;
}

static char *
write_file(const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void
test_reads_a_safe_file(void **state)
{
	struct pt_diags d = PT_DIAGS_INIT;
	struct pt_config cfg;
	char *path = write_file("ok.yaml", "version: 1\ndevices: {}\n", 0644);

	(void)state;
	assert_int_equal(pt_config_file_load(path, geteuid(), &cfg, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(cfg.n_devices, 0);
	assert_string_equal(cfg.file, path);
	pt_config_done(&cfg);
	free(path);
}

static void
test_refuses_unsafe_files(void **state)
{
	struct pt_diags d = PT_DIAGS_INIT;
	char *buf = NULL, *gw, *missing;
	size_t len = 0;

	(void)state;
	gw = write_file("gw.yaml", "version: 1\ndevices: {}\n", 0620);
	assert_int_equal(pt_config_file_read(gw, geteuid(), &buf, &len, &d), -EPERM);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].msg, "is writable by group or others"));
	assert_null(buf);

	missing = xasprintf("%s/none.yaml", tmpdir);
	assert_int_equal(pt_config_file_read(missing, geteuid(), &buf, &len, &d), -ENOENT);
	assert_int_equal(d.n, 2);
	assert_null(buf);

	assert_int_equal(pt_config_file_read(tmpdir, geteuid(), &buf, &len, &d), -EINVAL);
	assert_non_null(strstr(d.v[2].msg, "is not a regular file"));

	/* the owner rule: a file not owned by root is refused when running as root */
	if (getuid() != 0) {
		char *mine = write_file("mine.yaml", "version: 1\ndevices: {}\n", 0644);

		assert_int_equal(pt_config_file_read(mine, 0, &buf, &len, &d), -EPERM);
		assert_non_null(strstr(d.v[3].msg, "not root"));
		free(mine);
	} else {
		char *other = write_file("other.yaml", "version: 1\ndevices: {}\n", 0644);

		assert_int_equal(chown(other, 65534, 65534), 0);
		assert_int_equal(pt_config_file_read(other, 0, &buf, &len, &d), -EPERM);
		assert_non_null(strstr(d.v[3].msg, "is owned by uid 65534, not root"));
		/* as another user the same file is fine */
		assert_int_equal(pt_config_file_read(other, 65534, &buf, &len, &d), 0);
		free(buf);
		free(other);
	}
	pt_diags_done(&d);
	pt_diags_done(NULL);
	free(gw);
	free(missing);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sysfs_paths),
		cmocka_unit_test(test_reads_a_safe_file),
		cmocka_unit_test(test_refuses_unsafe_files),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
