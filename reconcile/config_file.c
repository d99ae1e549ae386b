/* config_file.c: reads passthrough.yaml from disk with the safety checks a root tool needs. */
#include "reconcile/config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/syserr.h"
#include "model/xalloc.h"
#include "reconcile/fileio.h"

int
pt_config_file_read(const char *path, uid_t euid, char **ret_buf, size_t *ret_len,
		    struct pt_diags *diags)
{
	struct stat st;
	int fd, r = 0;

	/* O_NONBLOCK so that a FIFO put in the file's place cannot hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = pt_neg_errno();
		pt_diags_add(diags, NULL, 0, 0, "cannot open '%s': %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = pt_neg_errno();
		pt_diags_add(diags, NULL, 0, 0, "cannot stat '%s': %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		pt_diags_add(diags, NULL, 0, 0, "'%s' is not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		r = -EPERM;
		pt_diags_add(diags, NULL, 0, 0, "'%s' is writable by group or others (fix: chmod go-w '%s')",
			     path, path);
		goto out;
	}
	if (euid == 0 && st.st_uid != 0) {
		r = -EPERM;
		pt_diags_add(diags, NULL, 0, 0, "'%s' is owned by uid %u, not root (fix: chown root '%s')",
			     path, (unsigned)st.st_uid, path);
		goto out;
	}
	if (st.st_size > (off_t)PT_CONFIG_MAX_BYTES) {
		r = -EFBIG;
		pt_diags_add(diags, NULL, 0, 0, "'%s' is larger than %d bytes", path, PT_CONFIG_MAX_BYTES);
		goto out;
	}
	/* Read to EOF with a bound: the size may change under us. */
	r = pt_read_fd(fd, (size_t)PT_CONFIG_MAX_BYTES, ret_buf, ret_len);
	if (r == -EFBIG)
		pt_diags_add(diags, NULL, 0, 0, "'%s' is larger than %d bytes", path, PT_CONFIG_MAX_BYTES);
	else if (r < 0)
		pt_diags_add(diags, NULL, 0, 0, "cannot read '%s': %s", path, strerror(-r));
out:
	close(fd);
	return r;
}

int
pt_config_file_load(const char *path, uid_t euid, struct pt_config *ret, struct pt_diags *diags)
{
	char *buf;
	size_t len;
	int r;

	r = pt_config_file_read(path, euid, &buf, &len, diags);
	if (r < 0)
		return r;
	r = pt_config_parse(path, buf, len, ret, diags);
	free(buf);
	return r;
}
