/* rootpath.h: where a path of the target system is under install's root, following links as the kernel does and refusing any that lead out of the root. */
#ifndef PT_ROOTPATH_H
#define PT_ROOTPATH_H

#include <stdbool.h>

/*
 * Resolves path (clean and absolute, as on the target system) under root_real (a canonical
 * host directory, "/" for a live install) as the kernel would: each link in its directories,
 * and in its last component when follow, is followed (an absolute link from the host's /, a
 * relative one from where it is). Components that do not exist are taken as they are.
 * Returns 0 with *ret_real (the place it resolves to, as on the target system: "/...", the
 * caller frees); -EXDEV with *ret_escape (the host path it leads to; the caller frees) when it
 * leads out of root_real; -ELOOP, -ENOTDIR, -ENAMETOOLONG or the errno of lstat/readlink.
 */
int pt_root_resolve(const char *root_real, const char *path, bool follow, char **ret_real, char **ret_escape);

/* The host path of real (as pt_root_resolve() gives it) under root_real; the caller frees. */
char *pt_root_host_path(const char *root_real, const char *real);

#endif
