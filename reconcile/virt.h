/* virt.h: libvirt, loaded with dlopen on first use, so that the commands that never talk to libvirt (hook, validate) start in a millisecond. */
#ifndef PT_VIRT_H
#define PT_VIRT_H

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* Every libvirt function the program calls; call them as pt_virt.NAME(...). */
#define PT_VIRT_FUNCS(X)                \
	X(virConnectOpen)               \
	X(virConnectOpenReadOnly)       \
	X(virConnectClose)              \
	X(virConnectListAllDomains)     \
	X(virConnectGetLibVersion)      \
	X(virDomainLookupByName)        \
	X(virDomainGetName)             \
	X(virDomainGetUUIDString)       \
	X(virDomainGetID)               \
	X(virDomainGetState)            \
	X(virDomainGetMetadata)         \
	X(virDomainGetXMLDesc)          \
	X(virDomainAttachDeviceFlags)   \
	X(virDomainDetachDeviceFlags)   \
	X(virDomainFree)                \
	X(virGetLastErrorMessage)       \
	X(virGetVersion)                \
	X(virSetErrorFunc)                   \
	X(virEventRegisterDefaultImpl)       \
	X(virEventRunDefaultImpl)            \
	X(virEventAddTimeout)                \
	X(virEventRemoveTimeout)             \
	X(virEventUpdateTimeout)             \
	X(virEventAddHandle)                 \
	X(virEventRemoveHandle)              \
	X(virConnectDomainEventRegisterAny)  \
	X(virConnectDomainEventDeregisterAny) \
	X(virConnectRegisterCloseCallback)   \
	X(virConnectUnregisterCloseCallback)

struct pt_virt_api {
#define PT_VIRT_MEMBER(f) __typeof__(f) *f;
	PT_VIRT_FUNCS(PT_VIRT_MEMBER)
#undef PT_VIRT_MEMBER
};

/* Valid after pt_virt_load() returned 0. */
extern struct pt_virt_api pt_virt;

/* Loads libvirt.so.0 (or $PASSTHROUGH_LIBVIRT, a path; when neither is set and the soname is not
 * on the library path, /usr/local/lib/passthrough-libvirt.so.0, then DSM's VMM copy) once, and
 * silences its error printing;
 * 0, or -ENOENT with *err set ("cannot load libvirt ..."; caller frees). */
int pt_virt_load(char **err);

/* The file libvirt was loaded from, or NULL before pt_virt_load(). */
const char *pt_virt_path(void);

#endif
