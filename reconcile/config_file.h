/* config_file.h: reads passthrough.yaml from disk with the safety checks a root tool needs. */
#ifndef PT_CONFIG_FILE_H
#define PT_CONFIG_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "model/config.h"
#include "model/diag.h"

/*
 * Reads the file at path into a NUL-terminated buffer the caller frees. Refuses (adding one
 * diagnostic naming the file, returning a negative errno) a file that cannot be opened, is
 * not a regular file, is larger than PT_CONFIG_MAX_BYTES, is writable by group or others,
 * or, when euid is 0, is not owned by root: the rule doas and sudo apply to their files.
 */
int pt_config_file_read(const char *path, uid_t euid, char **ret_buf, size_t *ret_len,
			struct pt_diags *diags);
/* pt_config_file_read() then pt_config_parse(). */
int pt_config_file_load(const char *path, uid_t euid, struct pt_config *ret,
			struct pt_diags *diags);

#endif
