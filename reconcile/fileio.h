/* fileio.h: the one whole-file reader (to its end within a bound, never cutting it silently) and the one atomic whole-file writer. */
#ifndef PT_FILEIO_H
#define PT_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Reads fd to EOF into a NUL-terminated buffer (*ret_buf, the caller frees; *ret_len bytes
 * without the NUL). A file longer than max bytes is -EFBIG, never a cut copy. Returns 0, or a
 * negative errno; *ret_buf and *ret_len are only written on success. Does not close fd.
 */
int pt_read_fd(int fd, size_t max, char **ret_buf, size_t *ret_len);

/* The same for the file at path (opened O_RDONLY | O_CLOEXEC | O_NOCTTY); -ENOENT when it is
 * not there. */
int pt_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len);

/*
 * Writes data to path so that a reader sees the old file or the new one, never a part: through
 * path ".tmp" in the same directory (mode) and a rename. With durable, also fsync of the file
 * before the rename and of the directory after, so that a crash keeps one of the two whole and
 * the new one once this returns; without, a crash may keep the old one. Returns 0 or a negative
 * errno (the temporary is removed; path is untouched).
 */
int pt_write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, bool durable);

#endif
