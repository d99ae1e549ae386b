/* vmrecord.h: which domain (by UUID) apply found each file `vm` to name, kept beside the lock so that the hook, which must not ask libvirt, can trust a <title> match. */
#ifndef PT_VMRECORD_H
#define PT_VMRECORD_H

#include <stdbool.h>

#include "model/config.h"
#include "model/observed.h"
#include "reconcile/host.h"

/* The record beside the lock (/run/passthrough.lock -> /run/passthrough.vms), or NULL
 * without a lock file; the caller frees. */
char *pt_vm_record_path(const struct pt_host *h);

/*
 * Writes, for every `vm` of cfg that names exactly one domain of obs (libvirt's full list),
 * a line "UUID<TAB>vm" to path (temp file, fsync, rename), only when that differs from what
 * is there. 0, or a negative errno with *reterr set (the caller frees).
 */
int pt_vm_record_write(const char *path, const struct pt_config *cfg, const struct pt_observed *obs,
		       char **reterr);

/* Whether the record at path says that vm named the domain with this UUID, and no other. */
bool pt_vm_record_confirms(const char *path, const char *vm, const char *uuid);

#endif
