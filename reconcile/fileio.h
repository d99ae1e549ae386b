/* fileio.h: the one whole-file reader: reads a file or a descriptor to its end within a bound, never cutting it silently. */
#ifndef PT_FILEIO_H
#define PT_FILEIO_H

#include <stddef.h>

/*
 * Reads fd to EOF into a NUL-terminated buffer (*ret_buf, the caller frees; *ret_len bytes
 * without the NUL). A file longer than max bytes is -EFBIG, never a cut copy. Returns 0, or a
 * negative errno; *ret_buf and *ret_len are only written on success. Does not close fd.
 */
int pt_read_fd(int fd, size_t max, char **ret_buf, size_t *ret_len);

/* The same for the file at path (opened O_RDONLY | O_CLOEXEC | O_NOCTTY); -ENOENT when it is
 * not there. */
int pt_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len);

#endif
