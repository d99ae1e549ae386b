/* observed.h: what the host has (PCI devices, IOMMU groups, libvirt domains), as plain data. */
#ifndef PT_OBSERVED_H
#define PT_OBSERVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/pciaddr.h"

/* Why the host cannot give a device away (bits of pt_pcidev.host_use). */
enum {
	PT_USE_HOST_BRIDGE = 1 << 0,   /* class 0x0600 */
	PT_USE_ISA_BRIDGE = 1 << 1,    /* class 0x0601 */
	PT_USE_SMBUS = 1 << 2,         /* class 0x0c05 */
	PT_USE_NET = 1 << 3,           /* a network interface that is up or has an address */
	PT_USE_STORAGE = 1 << 4,       /* a mounted filesystem, swap, md or LVM member below it */
	PT_USE_BOOT_VGA = 1 << 5,      /* the console */
};

/* A yes or no the kernel may not tell (an attribute an older kernel lacks): zero is unknown. */
enum pt_tri {
	PT_TRI_UNKNOWN,
	PT_TRI_NO,
	PT_TRI_YES,
};

/* What apply found in power/control and d3cold_allowed before it pinned the device in D0
 * (power: on), from the journal; given back when `power: on` is taken out. */
struct pt_power_saved {
	bool set;                      /* apply pinned this device and recorded what was there */
	char control[8];               /* "auto" or "on"; "" when it was unknown */
	enum pt_tri d3cold_allowed;
};

struct pt_pcidev {
	struct pt_pciaddr addr;
	uint16_t vendor, device;
	uint16_t subsystem_vendor, subsystem_device;
	uint32_t class_code;           /* 24 bits: class, subclass, programming interface */
	uint8_t header_type;           /* config space 0x0e without the multi-function bit */
	char *driver;                  /* the bound driver, NULL when none */
	char *driver_override;         /* NULL when unset (sysfs shows "(null)") */
	int iommu_group;               /* -1 when the device has none (no IOMMU) */
	unsigned host_use;             /* PT_USE_* */
	char *host_use_why;            /* e.g. "network interface 'eth0' is up"; NULL when unused */
	bool unclaimed;                /* driverless, no override, and a probe to give it back to the
					* host bound nothing, with the same drivers loaded as now (the
					* journal apply keeps, reconcile/journal.h) */
	/* Power and reset. Each attribute is optional (Linux 4.4 has no power_state and no
	 * reset_method): NULL or PT_TRI_UNKNOWN when the kernel does not say, or when they were not
	 * read (power_observed false). None of them wakes the device up. */
	char *power_state;             /* power_state: "D0", "D3hot", "D3cold", "unknown"... */
	char *power_control;           /* power/control: "on" (runtime PM forbidden) or "auto" */
	enum pt_tri d3cold_allowed;    /* d3cold_allowed */
	enum pt_tri has_reset;         /* the `reset` attribute exists: the kernel can reset it */
	char *reset_methods;           /* reset_method (5.15+): "flr pm bus"; NULL when absent */
	/* Whether config space answers (its vendor id is not 0xffff). Reading config resumes a
	 * runtime-suspended device, so it is read only when asked (pt_observe_health(): doctor,
	 * and apply just before an attach or after a detach); UNKNOWN otherwise. */
	enum pt_tri answers;
	bool power_observed;           /* the five above were read (pt_observe_power()) */
	bool recover_failed;           /* the journal says recover: rescan did not bring it back */
	char *pool_entry;              /* the pool entry apply bound it to vfio-pci for (the journal),
					* while it is on vfio-pci; NULL otherwise */
	struct pt_power_saved power_saved;
};

struct pt_hostdev {
	struct pt_pciaddr addr;
	bool managed;
};

/* A USB device of /sys/bus/usb/devices (not its interfaces, "2-1.3:1.0"). */
struct pt_usbdev {
	char *port;                    /* the sysfs name: its port path "2-1.3", or "usb2" (a root hub) */
	unsigned busnum, devnum;       /* what libvirt's <address bus= device=> names; devnum changes
					* on every replug */
	uint16_t vendor, product;      /* idVendor, idProduct */
	char *serial;                  /* NULL when it has none */
	char *product_name;            /* `product`; NULL when it has none */
	uint8_t dev_class;             /* bDeviceClass (0: per interface) */
	bool hub;                      /* class 09, of the device or an interface */
	bool storage;                  /* an interface of class 08 (mass storage) */
	char *host_use_why;            /* a filesystem of it is mounted (or swap, md, LVM), e.g.
					* "/dev/sdb1 is mounted on /mnt"; NULL when unused */
};

/* A <hostdev mode='subsystem' type='usb'> of a domain: by vendor/product, by bus/device, or both. */
struct pt_usbhostdev {
	bool has_ids;
	uint16_t vendor, product;
	bool has_addr;
	unsigned bus, device;
};

enum pt_domain_state {
	PT_DOMAIN_RUNNING,             /* running, paused, or anything with a live QEMU */
	PT_DOMAIN_STOPPED,
};

struct pt_domain {
	char *name;
	char *uuid;                    /* lower case, with dashes */
	char *title;                   /* NULL when it has none */
	enum pt_domain_state state;
	struct pt_hostdev *live;       /* <hostdev type='pci'> of the live XML (running domains) */
	size_t n_live;
	bool have_config;              /* the persistent XML was read */
	struct pt_hostdev *config;     /* <hostdev type='pci'> of the persistent XML */
	size_t n_config;
	struct pt_usbhostdev *usb_live;   /* <hostdev type='usb'> of the live XML */
	size_t n_usb_live;
	struct pt_usbhostdev *usb_config; /* and of the persistent XML (when have_config) */
	size_t n_usb_config;
};

struct pt_observed {
	struct pt_pcidev *devs;        /* sorted by address */
	size_t n_devs;
	struct pt_usbdev *usbdevs;     /* sorted by bus and device number */
	size_t n_usbdevs;
	bool iommu;                    /* the kernel has IOMMU groups */
	bool vfio_pci_loaded;          /* bus/pci/drivers/vfio-pci exists */
	/* The disable_idle_d3 vfio-pci was loaded with. Known only from the journal line apply
	 * writes when it loads the module itself, for that very load (the parameter file reads
	 * whatever was last written to it, which takes effect at the next load only). UNKNOWN when
	 * something else loaded it, or it is not loaded. */
	enum pt_tri vfio_idle_d3;
	int vfio_refcnt;               /* /sys/module/vfio_pci/refcnt (an open vfio device holds
					* one); -1 when unknown */
	bool have_domains;             /* libvirt was asked; false when the caller did not */
	bool domains_from_hook;        /* doms is the one domain of a libvirt hook's XML: libvirt
					* must not be called, so no attach or detach is planned */
	bool just_stopped;             /* that domain has just stopped (the hook's release): its
					* devices are checked once (do they still answer?) */
	struct pt_domain *doms;        /* sorted by name */
	size_t n_doms;
	char **warnings;               /* what the domain XMLs had that could not be read (a device
	                                  left out), one line each; set with doms */
	size_t n_warnings;
};

/* How a file's `vm` names a domain; the one rule, used everywhere a domain is looked up. */
enum pt_vm_match {
	PT_VM_NO,
	PT_VM_BY_NAME,                 /* its exact name */
	PT_VM_BY_UUID,                 /* its UUID, in any case */
	PT_VM_BY_TITLE,                /* its <title> (DSM names domains by UUID; people see the title) */
};
enum pt_vm_match pt_vm_match(const char *vm, const char *name, const char *uuid, const char *title);

/*
 * Finds the one domain of obs that vm names (pt_vm_match). Returns it (owned by obs), or NULL
 * with *reterr set (the caller frees) when none or more than one does: ambiguity is an error.
 */
const struct pt_domain *pt_find_domain(const struct pt_observed *obs, const char *vm, char **reterr);

/* The device at addr, or NULL; owned by obs. */
const struct pt_pcidev *pt_observed_dev(const struct pt_observed *obs, const struct pt_pciaddr *addr);
/* True for a PCI-to-PCI or CardBus bridge (header type 1 or 2), as the kernel decides. */
bool pt_pcidev_is_bridge(const struct pt_pcidev *d);
/* True when the domain has addr among its hostdevs (live, or config when `config`). */
bool pt_domain_has_hostdev(const struct pt_domain *dom, const struct pt_pciaddr *addr, bool config);
/* Sorts devs by address and doms by name. */
void pt_observed_sort(struct pt_observed *obs);
/* Frees the contents; accepts NULL. */
void pt_observed_done(struct pt_observed *obs);
void pt_pcidev_done(struct pt_pcidev *d);
void pt_usbdev_done(struct pt_usbdev *d);
void pt_domain_done(struct pt_domain *dom);

#endif
