/* config.h: the desired state read from passthrough.yaml (schema version 1), as plain data; pure. */
#ifndef PT_CONFIG_H
#define PT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/diag.h"
#include "model/pciaddr.h"

#define PT_CONFIG_VERSION 1
/* Larger files are refused before parsing. */
#define PT_CONFIG_MAX_BYTES (1024 * 1024)
#define PT_DEVICE_NAME_MAX 64
/* After this many errors in a file, one more line says so and the rest are not listed. */
#define PT_CONFIG_MAX_ERRORS 100
#define PT_VM_NAME_MAX 256
/* The most devices one entry may take with `count: N`. */
#define PT_COUNT_MAX 64

enum pt_state {
	PT_STATE_ATTACHED,   /* on vfio-pci and attached to `vm` (default) */
	PT_STATE_BOUND,      /* on vfio-pci, attached to no VM */
	PT_STATE_RELEASED,   /* back on its host driver, attached to no VM */
};

enum pt_on_stop {
	PT_ON_STOP_KEEP,     /* stays on vfio-pci when the VM stops (default) */
	PT_ON_STOP_RELEASE,  /* returns to the host driver when the VM stops */
};

/* What apply does to the function just before it is hot-plugged into its VM. */
enum pt_reset {
	PT_RESET_NEVER,          /* nothing (default): QEMU's own open may reset it */
	PT_RESET_BEFORE_ATTACH,  /* write 1 to its `reset` while no VM holds it (a Coral without FLR) */
};

/* What apply does for a device that does not answer (config space reads all ones) or has gone
 * from its bus while the bus is still there. */
enum pt_recover {
	PT_RECOVER_NONE,         /* report it, with what to do (default) */
	PT_RECOVER_RESCAN,       /* a reset, then `remove` and a rescan of its bus, waiting for it */
};

enum {
	PT_MATCH_VENDOR = 1 << 0,
	PT_MATCH_DEVICE = 1 << 1,
	PT_MATCH_SUBSYSTEM_VENDOR = 1 << 2,
	PT_MATCH_SUBSYSTEM_DEVICE = 1 << 3,
	PT_MATCH_CLASS = 1 << 4,
};

struct pt_match {
	unsigned fields;             /* PT_MATCH_* bits that are set */
	uint16_t vendor, device;
	uint16_t subsystem_vendor, subsystem_device;
	uint16_t class_code;         /* class and subclass, as `lspci -n` shows them: 0x0200 */
};

/* The most ids one `usb` entry may list (one device that may show any of them). */
#define PT_USB_IDS_MAX 8
/* The longest USB port path ("2-1.3"; the kernel allows 7 tiers). */
#define PT_USB_PORT_MAX 32
#define PT_USB_SERIAL_MAX 255

struct pt_usbid {
	uint16_t vendor, product;
};

/* `usb: { ids: [...], serial: ..., port: ... }`: a USB device, by what it shows and where it is
 * plugged in; at least ids or port. */
struct pt_usb_select {
	struct pt_usbid ids[PT_USB_IDS_MAX];
	size_t n_ids;                /* 0: any id (port alone) */
	char *serial;                /* its iSerialNumber; NULL when not given */
	char *port;                  /* its port path, the sysfs name: "2-1.3"; NULL when not given */
};

struct pt_device {
	char *name;                  /* the user's name for it; [A-Za-z0-9_.-]+ */
	unsigned line, col;          /* where the entry starts in the file */
	bool has_address;
	struct pt_pciaddr address;
	struct pt_match match;       /* fields == 0 when not given */
	char *vm;                    /* domain name, UUID or title; NULL unless state is attached */
	enum pt_state state;
	enum pt_on_stop on_stop;
	bool persistent;             /* also add the hostdev to the domain's persistent config */
	bool force;                  /* may take a device the host is using */
	bool whole_group;            /* also bind undeclared members of its IOMMU group to vfio-pci */
	bool power_on;               /* power: on: kept in D0 (power/control on, d3cold_allowed 0);
				      * false: the kernel's choice stands */
	enum pt_reset reset;
	enum pt_recover recover;
	/* How many matching devices it takes: `count: N` or `count: all` (only with `match` and no
	 * `address`). An entry with count names its devices NAME[0], NAME[1], ... in address order. */
	bool has_count;
	bool count_all;              /* every matching device the pool leaves free */
	unsigned count;              /* 1 without `count`; 0 with `count: all` */
	int pool;                    /* index into cfg->pools, or -1 when it is in none */
	/* A USB device (`usb:` instead of address/match): attached by libvirt as a
	 * <hostdev type='usb'>, no driver change; never in a pool. */
	bool has_usb;
	struct pt_usb_select usb;
};

/*
 * Entries with the same `match` and no `address` (or one entry with `count`): each takes
 * different matching devices. An entry keeps the devices it holds, the others go lowest
 * address first, in file order (reconcile/assign.h).
 */
struct pt_pool {
	struct pt_match match;
	size_t *members;             /* indexes into cfg->devices, in file order */
	size_t n_members;
};

/* The top-level `vfio_pci:` map: parameters apply passes to `modprobe vfio-pci`. */
struct pt_vfio_params {
	bool has_disable_idle_d3;    /* disable_idle_d3 was given */
	bool disable_idle_d3;        /* keep idle vfio-pci devices in D0 (a Coral loses its state in D3) */
	unsigned line, col;          /* where `vfio_pci` is in the file (0 when absent) */
};

/* Notifications (top-level `notify:`): a command run when a device fails or recovers. */
#define PT_NOTIFY_TIMEOUT_S 10
#define PT_NOTIFY_TIMEOUT_MAX_S 300
struct pt_notify {
	char **command;              /* argv (NULL-terminated), or NULL when there is no notify */
	bool on_failure, on_recovery;
	unsigned timeout_s;          /* it is killed after this long */
	unsigned line, col;          /* where `notify` is in the file (0 when absent) */
};

struct pt_config {
	char *file;                  /* the name used in messages */
	unsigned version;
	struct pt_vfio_params vfio_pci;
	struct pt_notify notify;
	char *metrics_file;          /* top-level `metrics_file:` (an absolute path), or NULL */
	struct pt_device *devices;   /* in file order */
	size_t n_devices;
	struct pt_pool *pools;       /* in the file order of their first members */
	size_t n_pools;
};

/*
 * Parses and validates a whole file held in buf. Every problem found is added to diags
 * ("file:line:col: message"); parsing goes on after an error. Returns 0 and fills *ret
 * when there was none, else -EINVAL and leaves *ret untouched.
 */
int pt_config_parse(const char *file, const char *buf, size_t len, struct pt_config *ret,
		    struct pt_diags *diags);
/* Frees the contents; accepts NULL. */
void pt_config_done(struct pt_config *cfg);

const char *pt_state_name(enum pt_state s);
const char *pt_on_stop_name(enum pt_on_stop s);
const char *pt_reset_name(enum pt_reset r);       /* "never", "before_attach" */
const char *pt_recover_name(enum pt_recover r);   /* "none", "rescan" */
/* Groups cfg's entries into cfg->pools and sets each entry's pool (what parsing does; for
 * a config made in memory). Replaces any pools cfg has. */
void pt_config_make_pools(struct pt_config *cfg);
/* "1ac1:089a", with " subsystem_vendor 1028", ... and " class 0200" when match has them (the caller frees). */
char *pt_match_describe(const struct pt_match *m);
/* "1a6e:089a|18d1:9302 serial X port 2-1.3" (the caller frees). */
char *pt_usb_describe(const struct pt_usb_select *u);
/* Whether a device showing vendor:product is one of u's ids (any, when u lists none). */
bool pt_usb_id_matches(const struct pt_usb_select *u, uint16_t vendor, uint16_t product);
/* Whether a USB device (its ids, port path and serial, NULL when it has none) is one u selects. */
bool pt_usb_selects(const struct pt_usb_select *u, uint16_t vendor, uint16_t product, const char *port,
		    const char *serial);
/* Returns the device whose name is `name`, or NULL; the result is owned by cfg. */
const struct pt_device *pt_config_find(const struct pt_config *cfg, const char *name);

#endif
