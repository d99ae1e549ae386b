/* virt.c: loads libvirt with dlopen on first use and resolves the functions the program calls. */
#include "reconcile/virt.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/xalloc.h"

#define LIBVIRT_SONAME "libvirt.so.0"
/* Tried when the soname is not on the default library path: where the DSM bundle's installer
 * links VMM's copy, then where DSM 7's VMM package is thought to keep it (not seen on a NAS). */
#ifndef PT_LIBVIRT_FALLBACK
#define PT_LIBVIRT_FALLBACK "/usr/local/lib/passthrough-libvirt.so.0", \
	"/var/packages/Virtualization/target/usr/lib/libvirt.so.0"
#endif

struct pt_virt_api pt_virt;
static void *handle;
static char *loaded_from;

static void
quiet_error(void *data, virErrorPtr err)
{
	(void)data;
	(void)err;
}

/*
 * RTLD_DEEPBIND: libvirt and its fifty-odd libraries resolve their symbols among themselves
 * first, not after searching ours: a sixth of the instructions of a converged apply
 * (callgrind: 48.5M -> 40.5M at 64 devices x 8 domains). The sanitizers' runtime refuses it.
 */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || __has_feature(address_sanitizer)
#define PT_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#else
#define PT_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
#endif

int
pt_virt_load(char **err)
{
	static const char *const fallback[] = { PT_LIBVIRT_FALLBACK };
	const char *want = getenv("PASSTHROUGH_LIBVIRT");
	struct link_map *map = NULL;
	void *h;

	if (handle)
		return 0;
	if (!want || !*want) {
		want = LIBVIRT_SONAME;
		h = dlopen(want, PT_DLOPEN_FLAGS);
		for (size_t i = 0; !h && i < sizeof(fallback) / sizeof(fallback[0]); i++) {
			if (access(fallback[i], F_OK) == 0) {
				want = fallback[i];
				h = dlopen(want, PT_DLOPEN_FLAGS);
			}
		}
	} else {
		h = dlopen(want, PT_DLOPEN_FLAGS);
	}
	if (!h) {
		*err = xasprintf("cannot load libvirt ('%s'): %s", want, dlerror());
		return -ENOENT;
	}
#define PT_VIRT_RESOLVE(f)                                                                     \
	if (!(*(void **)&pt_virt.f = dlsym(h, #f))) {                                              \
		*err = xasprintf("cannot load libvirt ('%s'): it lacks %s (libvirt 1.2.8 or later is needed)", want, #f); \
		dlclose(h);                                                                        \
		return -ENOENT;                                                                    \
	}
	PT_VIRT_FUNCS(PT_VIRT_RESOLVE)
#undef PT_VIRT_RESOLVE
	handle = h;
	loaded_from = xstrdup(dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name
			      ? map->l_name : want);
	/* We report errors ourselves, once. */
	pt_virt.virSetErrorFunc(NULL, quiet_error);
	return 0;
}

const char *
pt_virt_path(void)
{
	return loaded_from;
}
