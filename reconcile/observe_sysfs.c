/* observe_sysfs.c: reads PCI and USB devices, drivers, IOMMU groups and host use from the injected sysfs and /proc. */
#include "reconcile/observe_sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/syserr.h"
#include "model/xalloc.h"
#include "reconcile/fileio.h"
#include "reconcile/journal.h"
#include "reconcile/plan.h"
#include "reconcile/sysfs.h"

/*
 * libpci's error callback must not return (the default one calls exit(1)); ours jumps back
 * into the name lookup, which then goes without the name. The program is single
 * threaded, so one jump buffer does.
 */
static jmp_buf pci_jmp;
static bool pci_jmp_armed;   /* pci_jmp is set by a frame that is still running */
static char pci_msg[512];

static void __attribute__((noreturn, format(printf, 1, 2)))
pci_error_jump(char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	vsnprintf(pci_msg, sizeof(pci_msg), msg, ap);
	va_end(ap);
	if (!pci_jmp_armed) {
		/* libpci failed outside the calls we guard: nowhere safe to go back to */
		fprintf(stderr, "passthrough: libpci: %s\n", pci_msg);
		abort();
	}
	pci_jmp_armed = false;
	longjmp(pci_jmp, 1);
}

static void __attribute__((format(printf, 1, 2)))
pci_quiet(char *msg, ...)
{
	(void)msg;
}

/* A small sysfs file (a network interface's operstate or flags) without the final newline;
 * NULL when it cannot be read. */
static char *
read_text(const char *path)
{
	char *buf;
	size_t n;

	if (pt_read_file(path, 4096, &buf, &n) < 0)
		return NULL;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

static bool
dir_has_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool any = false;

	if (!d)
		return false;
	while (!any && (e = readdir(d)))
		any = e->d_name[0] != '.';
	closedir(d);
	return any;
}

/* procfs tables are read whole; one larger than this is an error, never cut. */
#define PROC_TABLE_MAX ((size_t)64 << 20)

/*
 * Reads a whole procfs table, NAME under the /proc root, into a string. NULL when it cannot
 * be read; then *err (when still NULL) says so, unless the table is optional and absent (the
 * kernel has no /proc/mdstat without md, no net/if_inet6 without IPv6).
 */
static char *
read_table(const struct pt_host *h, const char *name, bool optional, char **err)
{
	char *path = pt_host_proc_path(h, "%s", name);
	char *buf = NULL;
	size_t len;
	int r = pt_read_file(path, PROC_TABLE_MAX, &buf, &len);

	if (r < 0 && !(optional && r == -ENOENT) && !*err) {
		if (r == -EFBIG)
			*err = xasprintf("'%s' is larger than %zu MiB", path, PROC_TABLE_MAX >> 20);
		else
			*err = xasprintf("cannot read '%s': %s", path, strerror(-r));
	}
	free(path);
	return r < 0 ? NULL : buf;
}

/* Copies the next line of *cur into buf (cut to size) and advances; false at the end. */
static bool
next_line(const char **cur, char *buf, size_t size)
{
	const char *s = *cur, *e;
	size_t n;

	if (!s || !*s)
		return false;
	e = strchr(s, '\n');
	n = e ? (size_t)(e - s) : strlen(s);
	*cur = e ? e + 1 : s + n;
	if (n >= size)
		n = size - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

/*
 * What host use is judged by, read once per observation. Addresses live in the network
 * namespace, not under a filesystem root: on the live /proc they come from netlink
 * (getifaddrs), which sees an address on an interface that is down; on an injected proc
 * tree, from its net/route and net/if_inet6.
 */
struct host_view {
	bool live;
	struct ifaddrs *ifa;            /* live only */
	char *route, *if_inet6;         /* injected proc only */
	char *mounts, *swaps, *mdstat;
	char root[64];                  /* the root= device of the kernel command line, or "" */
	/* Why addresses or storage use cannot be known (a table that cannot be read whole), or
	 * NULL: then every interface or block device counts as in use (fail closed). */
	char *net_err, *storage_err;
};

static void
host_view_load(const struct pt_host *h, struct host_view *v)
{
	char real[PATH_MAX];
	char *cmdline, *root;

	memset(v, 0, sizeof(*v));
	v->live = realpath(h->proc_root, real) && strcmp(real, "/proc") == 0;
	if (v->live && getifaddrs(&v->ifa) < 0) {
		v->ifa = NULL;
		v->net_err = xasprintf("cannot list the network addresses: %s", strerror(errno));
	}
	if (!v->live) {
		v->route = read_table(h, "net/route", false, &v->net_err);
		v->if_inet6 = read_table(h, "net/if_inet6", true, &v->net_err);
	}
	v->mounts = read_table(h, "mounts", false, &v->storage_err);
	v->swaps = read_table(h, "swaps", false, &v->storage_err);
	v->mdstat = read_table(h, "mdstat", true, &v->storage_err);
	cmdline = read_table(h, "cmdline", false, &v->storage_err);
	root = cmdline ? strstr(cmdline, "root=/dev/") : NULL;
	if (root && (root == cmdline || root[-1] == ' ')) {
		root += strlen("root=/dev/");
		snprintf(v->root, sizeof(v->root), "%.*s", (int)strcspn(root, " \n"), root);
	}
	free(cmdline);
}

static void
host_view_done(struct host_view *v)
{
	if (v->ifa)
		freeifaddrs(v->ifa);
	free(v->route);
	free(v->if_inet6);
	free(v->mounts);
	free(v->swaps);
	free(v->mdstat);
	free(v->net_err);
	free(v->storage_err);
}

static bool
iface_has_address(const struct host_view *v, const char *iface)
{
	const char *cur;
	char line[512];
	size_t n = strlen(iface);

	if (v->live) {
		for (struct ifaddrs *a = v->ifa; a; a = a->ifa_next) {
			if (!a->ifa_addr || strcmp(a->ifa_name, iface) != 0)
				continue;
			if (a->ifa_addr->sa_family == AF_INET)
				return true;
			if (a->ifa_addr->sa_family == AF_INET6 &&
			    !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)(void *)a->ifa_addr)->sin6_addr))
				return true;
		}
		return false;
	}
	for (cur = v->route; next_line(&cur, line, sizeof(line));)
		if (strncmp(line, iface, n) == 0 && (line[n] == '\t' || line[n] == ' '))
			return true;
	for (cur = v->if_inet6; next_line(&cur, line, sizeof(line));) {
		/* address ifindex prefixlen scope flags name; scope 20 is link-local */
		char *field[6], *save = NULL;
		size_t k = 0;

		for (char *t = strtok_r(line, " \t", &save); t && k < 6; t = strtok_r(NULL, " \t", &save))
			field[k++] = t;
		if (k == 6 && strcmp(field[5], iface) == 0 && strcmp(field[3], "20") != 0)
			return true;
	}
	return false;
}

static void
add_use(struct pt_pcidev *d, unsigned bit, char *why)
{
	d->host_use |= bit;
	if (!d->host_use_why)
		d->host_use_why = why;
	else
		free(why);
}

/* Is /dev/NAME mounted (also as /dev/root, the kernel's root= device) or swap? Sets *why. */
static bool
blockdev_in_use(const struct host_view *v, const char *name, char **why)
{
	const char *tables[] = { v->mounts, v->swaps };

	for (size_t t = 0; t < 2; t++) {
		const char *cur = tables[t];
		char line[1024];

		while (next_line(&cur, line, sizeof(line))) {
			char src[256], dst[512];
			const char *dev;

			if (sscanf(line, "%255s %511s", src, dst) != 2 || strncmp(src, "/dev/", 5) != 0)
				continue;
			dev = src + 5;
			if (strcmp(dev, "root") == 0 && v->root[0])
				dev = v->root;
			if (strcmp(dev, name) == 0) {
				*why = t == 0 ? xasprintf("/dev/%s is mounted on %s", name, dst)
					      : xasprintf("/dev/%s is in use as swap", name);
				return true;
			}
		}
	}
	return false;
}

/* Is NAME a member of an md array in /proc/mdstat ("md0 : active raid1 sda1[0] sdb1[1]")? */
static bool
md_member(const struct host_view *v, const char *name, char **why)
{
	const char *cur = v->mdstat;
	char line[1024];
	size_t n = strlen(name);

	while (next_line(&cur, line, sizeof(line))) {
		char md[64];
		char *tok, *save = NULL;

		if (strncmp(line, "md", 2) != 0 || sscanf(line, "%63s", md) != 1 || !strstr(line, " : "))
			continue;
		for (tok = strtok_r(strstr(line, " : ") + 3, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
			if (strncmp(tok, name, n) == 0 && tok[n] == '[') {
				*why = xasprintf("/dev/%s is part of %s (software RAID)", name, md);
				return true;
			}
		}
	}
	return false;
}

/* A block device or partition (its class/block directory): held by md/dm, mounted, or swap? */
static bool
block_in_use(const struct host_view *v, const char *dir, const char *name, char **why)
{
	char *holders = xasprintf("%s/holders", dir);
	DIR *hd = opendir(holders);
	struct dirent *e;
	bool used = false;

	free(holders);
	if (v->storage_err) {
		if (hd)
			closedir(hd);
		*why = xasprintf("%s: cannot tell whether /dev/%s is in use", v->storage_err, name);
		return true;
	}
	if (hd) {
		while (!used && (e = readdir(hd))) {
			if (e->d_name[0] == '.')
				continue;
			used = true;
			*why = xasprintf("/dev/%s is part of %s (%s)", name, e->d_name,
					 strncmp(e->d_name, "md", 2) == 0 ? "software RAID" : "LVM or device-mapper");
		}
		closedir(hd);
	}
	return used || md_member(v, name, why) || blockdev_in_use(v, name, why);
}

/* The PCI device a class/<cls>/<name> link sits under: the last DDDD:BB:SS.F in its target. */
static struct pt_pcidev *
owner_of(const struct pt_observed *obs, const char *link)
{
	char target[PATH_MAX];
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	struct pt_pciaddr addr, found;
	bool any = false;
	char *tok, *save = NULL;

	if (n <= 0)
		return NULL;
	target[n] = '\0';
	for (tok = strtok_r(target, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		const char *why;

		if (pt_pciaddr_parse_full(tok, &addr, &why) == 0) {
			found = addr;
			any = true;
		}
	}
	return any ? (struct pt_pcidev *)pt_observed_dev(obs, &found) : NULL;
}

/* A USB device's directory name (not an interface "2-1.3:1.0"): a port path "2-1.3" or a root hub "usb2". */
static bool
usb_device_name(const char *name)
{
	return name[0] != '.' && !strchr(name, ':') &&
	       (strncmp(name, "usb", 3) == 0 || (name[0] >= '0' && name[0] <= '9' && strchr(name, '-')));
}

static int
usbdev_cmp(const void *a, const void *b)
{
	const struct pt_usbdev *x = a, *y = b;

	if (x->busnum != y->busnum)
		return x->busnum < y->busnum ? -1 : 1;
	return x->devnum < y->devnum ? -1 : x->devnum > y->devnum;
}

/* A decimal attribute (busnum, devnum); -EINVAL when it is not one. */
static int
usb_dec(const struct pt_sysfs *s, const char *name, const char *attr, unsigned *ret)
{
	char buf[32], *end;
	unsigned long v;
	int r = pt_sysfs_attr(s, name, attr, buf, sizeof(buf));

	if (r < 0)
		return r;
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (end == buf || *end || errno || v > 0xffff)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static char *
usb_text(const struct pt_sysfs *s, const char *name, const char *attr)
{
	char buf[256];

	return pt_sysfs_attr(s, name, attr, buf, sizeof(buf)) == 0 && buf[0] ? xstrdup(buf) : NULL;
}

/*
 * Reads the USB devices of bus/usb/devices (none when the host has no USB bus): busnum, devnum,
 * idVendor and idProduct (a device without them is being set up or torn down: left out),
 * and the optional serial, product and classes (of the device and of its interfaces, the
 * entries "NAME:C.I"). Sorted by bus and device number into obs->usbdevs.
 */
static void
observe_usb(const struct pt_host *h, struct pt_observed *obs)
{
	struct pt_usbdev *v = NULL;
	struct dirent **ents = NULL;
	struct pt_sysfs sys;
	size_t n = 0, cap = 0;
	char *path = pt_host_sysfs_path(h, "bus/usb/devices");
	int count = scandir(path, &ents, NULL, alphasort);

	free(path);
	for (size_t i = 0; i < obs->n_usbdevs; i++)
		pt_usbdev_done(&obs->usbdevs[i]);
	free(obs->usbdevs);
	obs->usbdevs = NULL;
	obs->n_usbdevs = 0;
	if (count < 0 || pt_sysfs_open_usb(h, &sys) < 0) {
		for (int i = 0; i < count; i++)
			free(ents[i]);
		free(ents);
		return;
	}
	for (int i = 0; i < count; i++) {
		const char *name = ents[i]->d_name;
		struct pt_usbdev d;
		unsigned long vendor, product, cls;
		size_t len = strlen(name);

		if (!usb_device_name(name))
			continue;
		memset(&d, 0, sizeof(d));
		if (usb_dec(&sys, name, "busnum", &d.busnum) < 0 || usb_dec(&sys, name, "devnum", &d.devnum) < 0 ||
		    pt_sysfs_hex(&sys, name, "idVendor", &vendor) < 0 || pt_sysfs_hex(&sys, name, "idProduct", &product) < 0 ||
		    vendor > 0xffff || product > 0xffff)
			continue;
		d.port = xstrdup(name);
		d.vendor = (uint16_t)vendor;
		d.product = (uint16_t)product;
		d.serial = usb_text(&sys, name, "serial");
		d.product_name = usb_text(&sys, name, "product");
		if (pt_sysfs_hex(&sys, name, "bDeviceClass", &cls) == 0 && cls <= 0xff)
			d.dev_class = (uint8_t)cls;
		d.hub = d.dev_class == 0x09;
		d.storage = d.dev_class == 0x08;
		/* its interfaces sort right after it: "2-1.3:1.0" */
		for (int j = i + 1; j < count; j++) {
			const char *iname = ents[j]->d_name;

			if (strncmp(iname, name, len) != 0 || iname[len] != ':')
				continue;
			if (pt_sysfs_hex(&sys, iname, "bInterfaceClass", &cls) == 0) {
				d.hub = d.hub || cls == 0x09;
				d.storage = d.storage || cls == 0x08;
			}
		}
		xgrow(&v, &cap, n + 1, sizeof(*v));
		v[n++] = d;
	}
	pt_sysfs_close(&sys);
	for (int i = 0; i < count; i++)
		free(ents[i]);
	free(ents);
	if (n)
		qsort(v, n, sizeof(*v), usbdev_cmp);
	obs->usbdevs = v;
	obs->n_usbdevs = n;
}

/* The USB device a class/block/<name> link sits under: the deepest USB device directory in
 * its target (a disk below "2-1/2-1.3/2-1.3:1.0/host6/..." is 2-1.3's, not the hub 2-1's). */
static struct pt_usbdev *
usb_owner_of(const struct pt_observed *obs, const char *link)
{
	char target[PATH_MAX];
	ssize_t n = obs->n_usbdevs ? readlink(link, target, sizeof(target) - 1) : -1;
	struct pt_usbdev *found = NULL;
	char *tok, *save = NULL;

	if (n <= 0)
		return NULL;
	target[n] = '\0';
	for (tok = strtok_r(target, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		for (size_t i = 0; usb_device_name(tok) && i < obs->n_usbdevs; i++)
			if (strcmp(obs->usbdevs[i].port, tok) == 0)
				found = &obs->usbdevs[i];
	return found;
}

/*
 * What the host uses devices for, found from the other side: every network interface and
 * block device the kernel lists, traced back to the PCI device it sits under (a virtio
 * NIC, an NVMe namespace or a USB disk as much as a plain one).
 */
static void
observe_users(const struct pt_host *h, struct pt_observed *obs)
{
	static const char *const classes[] = { "net", "block" };
	struct host_view view;

	host_view_load(h, &view);
	for (size_t c = 0; c < 2; c++) {
		char *cdir = pt_host_sysfs_path(h, "class/%s", classes[c]);
		struct dirent **ents = NULL;
		/* sorted, so that the reason given does not depend on the filesystem's order */
		int n = scandir(cdir, &ents, NULL, alphasort);

		for (int i = 0; i < n; i++) {
			const struct dirent *e = ents[i];
			char *link, *why = NULL;
			struct pt_pcidev *d;

			if (e->d_name[0] == '.')
				continue;
			link = xasprintf("%s/%s", cdir, e->d_name);
			d = owner_of(obs, link);
			if (d && c == 0) {
				char *p = xasprintf("%s/operstate", link), *operstate = read_text(p);
				char *q = xasprintf("%s/flags", link), *flags = read_text(q);
				bool up = (operstate && strcmp(operstate, "up") == 0) ||
					  (flags && (strtoul(flags, NULL, 16) & 1));   /* IFF_UP */

				if (!view.net_err && iface_has_address(&view, e->d_name))
					add_use(d, PT_USE_NET, xasprintf("network interface '%s' has an address", e->d_name));
				else if (up)
					add_use(d, PT_USE_NET, xasprintf("network interface '%s' is up", e->d_name));
				else if (view.net_err)
					add_use(d, PT_USE_NET, xasprintf("%s: cannot tell whether network interface "
									 "'%s' has an address", view.net_err, e->d_name));
				free(p);
				free(q);
				free(operstate);
				free(flags);
			} else if (c == 1) {
				struct pt_usbdev *u = usb_owner_of(obs, link);

				if ((d || u) && block_in_use(&view, link, e->d_name, &why)) {
					if (u && !u->host_use_why)
						u->host_use_why = xstrdup(why);
					if (d)
						add_use(d, PT_USE_STORAGE, why);
					else
						free(why);
				}
			}
			free(link);
		}
		for (int i = 0; i < n; i++)
			free(ents[i]);
		free(ents);
		free(cdir);
	}
	host_view_done(&view);
}

/* What a device is by its class: the chipset and the console belong to the host. */
static void
observe_class_use(const struct pt_sysfs *s, const char *bdf, struct pt_pcidev *d)
{
	unsigned cls = d->class_code >> 8;
	char boot_vga[8];

	if (cls == 0x0600)
		add_use(d, PT_USE_HOST_BRIDGE, xstrdup("it is a host bridge"));
	else if (cls == 0x0601)
		add_use(d, PT_USE_ISA_BRIDGE, xstrdup("it is an ISA/LPC bridge"));
	else if (cls == 0x0c05)
		add_use(d, PT_USE_SMBUS, xstrdup("it is an SMBus controller"));
	/* the kernel gives boot_vga to display devices only */
	if (cls >> 8 == 0x03 && pt_sysfs_attr(s, bdf, "boot_vga", boot_vga, sizeof(boot_vga)) == 0 &&
	    strcmp(boot_vga, "1") == 0)
		add_use(d, PT_USE_BOOT_VGA, xstrdup("it is the boot VGA device (the console)"));
}

/* A yes/no attribute ("0"/"1"); UNKNOWN when absent or neither. */
static enum pt_tri
read_tri(const struct pt_sysfs *s, const char *bdf, const char *name)
{
	char buf[8];

	if (pt_sysfs_attr(s, bdf, name, buf, sizeof(buf)) < 0)
		return PT_TRI_UNKNOWN;
	return strcmp(buf, "1") == 0 ? PT_TRI_YES : strcmp(buf, "0") == 0 ? PT_TRI_NO : PT_TRI_UNKNOWN;
}

/* An attribute as a string, NULL when absent (an older kernel) or unreadable. */
static char *
read_word(const struct pt_sysfs *s, const char *bdf, const char *name)
{
	char buf[128];

	return pt_sysfs_attr(s, bdf, name, buf, sizeof(buf)) < 0 ? NULL : xstrdup(buf);
}

/*
 * Power state and reset, every one optional (Documentation/ABI/testing/sysfs-bus-pci dates them:
 * reset July 2009 (2.6.31), and it exists only for a device with a reset method; d3cold_allowed
 * July 2012 (3.6); power_state November 2020 (5.11); reset_method 5.15; power/control is the PM
 * core's). DSM 7.2's Linux 4.4 has neither power_state nor reset_method. None of them touches the device: no config read, no resume.
 */
static void
observe_power(const struct pt_sysfs *s, const char *bdf, struct pt_pcidev *d)
{
	char rel[NAME_MAX + 8];

	d->power_state = read_word(s, bdf, "power_state");
	d->power_control = read_word(s, bdf, "power/control");
	d->d3cold_allowed = read_tri(s, bdf, "d3cold_allowed");
	snprintf(rel, sizeof(rel), "%s/reset", bdf);
	d->has_reset = faccessat(s->devices_fd, rel, F_OK, 0) == 0 ? PT_TRI_YES
		       : errno == ENOENT ? PT_TRI_NO : PT_TRI_UNKNOWN;
	d->reset_methods = d->has_reset == PT_TRI_YES ? read_word(s, bdf, "reset_method") : NULL;
	d->power_observed = true;
}

void
pt_observe_power(const struct pt_host *h, struct pt_observed *obs, const struct pt_config *cfg)
{
	struct pt_sysfs sys;
	char bdf[PT_PCIADDR_BUFSZ];

	pt_sysfs_open(h, &sys);
	if (!cfg) {
		for (size_t i = 0; i < obs->n_devs; i++)
			observe_power(&sys, pt_pciaddr_format(&obs->devs[i].addr, bdf), &obs->devs[i]);
	}
	/* every device an entry could take (a pool's are shared out once the VMs are known) */
	for (size_t i = 0; cfg && i < obs->n_devs; i++) {
		struct pt_pcidev *d = &obs->devs[i];

		for (size_t j = 0; j < cfg->n_devices && !d->power_observed; j++)
			if (pt_entry_may_select(&cfg->devices[j], d))
				observe_power(&sys, pt_pciaddr_format(&d->addr, bdf), d);
	}
	pt_sysfs_close(&sys);
}

void
pt_observe_health(const struct pt_host *h, struct pt_pcidev *d)
{
	struct pt_sysfs sys;
	char bdf[PT_PCIADDR_BUFSZ];
	int r;

	pt_sysfs_open(h, &sys);
	r = pt_sysfs_config_answers(&sys, pt_pciaddr_format(&d->addr, bdf));
	pt_sysfs_close(&sys);
	d->answers = r > 0 ? PT_TRI_YES : r == 0 || r == -EIO ? PT_TRI_NO : PT_TRI_UNKNOWN;
}

/* Fills d from bus/pci/devices/BDF; 0, or a negative errno with *bad set to the attribute
 * that a device cannot be without (vendor, device, class). */
static int
fill_device(const struct pt_sysfs *s, const char *bdf, const struct pt_pciaddr *addr, struct pt_pcidev *d,
	    const char **bad)
{
	static const char *const ids[] = { "vendor", "device", "class", "subsystem_vendor", "subsystem_device" };
	unsigned long v[5] = { 0 };
	char *group;

	for (size_t i = 0; i < 5; i++) {
		int r = pt_sysfs_hex(s, bdf, ids[i], &v[i]);

		if (r < 0 && i < 3) {   /* bridges have no subsystem ids */
			*bad = ids[i];
			return r;
		}
	}
	d->addr = *addr;
	d->vendor = (uint16_t)v[0];
	d->device = (uint16_t)v[1];
	d->class_code = (uint32_t)v[2] & 0xffffff;
	d->subsystem_vendor = (uint16_t)v[3];
	d->subsystem_device = (uint16_t)v[4];
	/* The header type by the class (0x0604 and 0x0609 PCI-to-PCI, 0x0607 CardBus), which
	 * PCI requires to agree with it: config space is not read on every pass (see answers). */
	d->header_type = (d->class_code >> 8) == 0x0604 || (d->class_code >> 8) == 0x0609 ? 1
			 : (d->class_code >> 8) == 0x0607 ? 2 : 0;
	d->driver = pt_sysfs_driver(s, bdf);
	group = pt_sysfs_link_name(s, bdf, "iommu_group");
	d->iommu_group = -1;
	if (group) {
		char *end;
		long g = strtol(group, &end, 10);

		if (end != group && *end == '\0' && g >= 0 && g <= INT_MAX)
			d->iommu_group = (int)g;
		free(group);
	}
	d->driver_override = pt_sysfs_override(s, bdf);
	observe_class_use(s, bdf, d);
	return 0;
}

/*
 * Reads every PCI device straight from sysfs, as the kernel's sysfs ABI documents it
 * (Documentation/ABI/testing/sysfs-bus-pci): a few small attributes and two links each.
 * libpci's sysfs backend would build and canonicalize a path for every one of them, which is
 * most of the cost on a host with a thousand functions; it is used for names only (below).
 */
int
pt_observe_sysfs(const struct pt_host *h, struct pt_observed *obs, char **reterr)
{
	char *path = pt_host_sysfs_path(h, "bus/pci/devices");
	struct pt_pcidev *devs = NULL;
	struct pt_sysfs sys;
	size_t n = 0, cap = 0;
	struct stat st;
	DIR *dir = NULL;
	int r = pt_sysfs_open(h, &sys);

	if (r == 0) {
		int fd = dup(sys.devices_fd);

		dir = fd < 0 ? NULL : fdopendir(fd);
		if (!dir) {
			r = pt_neg_errno();
			if (fd >= 0)
				close(fd);
		}
	}
	if (!dir) {
		pt_sysfs_close(&sys);
		*reterr = xasprintf("cannot read PCI devices: '%s': %s", path, strerror(-r));
		free(path);
		return r;
	}
	for (struct dirent *e; r == 0 && (e = readdir(dir));) {
		struct pt_pciaddr a;
		const char *why;

		if (e->d_name[0] == '.')
			continue;
		if (pt_pciaddr_parse_full(e->d_name, &a, &why) < 0) {
			*reterr = xasprintf("cannot read PCI devices: unexpected entry '%s' in '%s'", e->d_name, path);
			r = -EIO;
			break;
		}
		xgrow(&devs, &cap, n + 1, sizeof(*devs));
		memset(&devs[n], 0, sizeof(*devs));
		r = fill_device(&sys, e->d_name, &a, &devs[n], &why);
		if (r < 0) {
			*reterr = xasprintf("cannot read PCI devices: '%s/%s/%s': %s", path, e->d_name, why,
					    strerror(-r));
			break;
		}
		n++;
	}
	closedir(dir);
	pt_sysfs_close(&sys);
	free(path);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			pt_pcidev_done(&devs[i]);
		free(devs);
		return r;
	}

	for (size_t i = 0; i < obs->n_devs; i++)
		pt_pcidev_done(&obs->devs[i]);
	free(obs->devs);
	obs->devs = devs;
	obs->n_devs = n;
	path = pt_host_sysfs_path(h, "kernel/iommu_groups");
	obs->iommu = dir_has_entries(path);
	free(path);
	path = pt_host_sysfs_path(h, "bus/pci/drivers/vfio-pci");
	obs->vfio_pci_loaded = stat(path, &st) == 0;
	free(path);
	/* an open vfio device holds a reference on the module; the journal says what it was loaded with */
	obs->vfio_refcnt = -1;
	obs->vfio_idle_d3 = PT_TRI_UNKNOWN;
	if (obs->vfio_pci_loaded) {
		char *buf = NULL, *end;
		size_t len;
		long v;

		path = pt_host_sysfs_path(h, "module/vfio_pci/refcnt");
		if (pt_read_file(path, 64, &buf, &len) == 0) {
			v = strtol(buf, &end, 10);
			if (end != buf && v >= 0 && v <= INT_MAX)
				obs->vfio_refcnt = (int)v;
		}
		free(buf);
		free(path);
	}
	pt_observed_sort(obs);
	observe_usb(h, obs);
	observe_users(h, obs);
	pt_journal_observe(h, obs);
	return 0;
}

static struct pci_access *names_acc;

static char *
lookup(int flags, unsigned a, unsigned b)
{
	char buf[256];
	char *s;

	if (!names_acc) {
		names_acc = pci_alloc();
		names_acc->error = pci_error_jump;
		names_acc->warning = pci_quiet;
		names_acc->debug = pci_quiet;
		names_acc->id_lookup_mode = PCI_LOOKUP_NO_HWDB;
	}
	if (setjmp(pci_jmp))
		return NULL;   /* a broken pci.ids only costs the names */
	pci_jmp_armed = true;
	s = pci_lookup_name(names_acc, buf, sizeof(buf), flags | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, a, b);
	pci_jmp_armed = false;
	return s ? xstrdup(s) : NULL;
}

char *
pt_pci_name(uint16_t vendor, uint16_t device)
{
	return lookup(PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE, vendor, device);
}

char *
pt_pci_class_name(uint32_t class_code)
{
	char *s = lookup(PCI_LOOKUP_CLASS, class_code >> 8, 0);
	size_t n = s ? strlen(s) : 0;

	/* An unknown subclass comes back as "Unclassified device [00ff]": keep the name only. */
	if (n > 7 && s[n - 1] == ']' && s[n - 6] == '[' && s[n - 7] == ' ')
		s[n - 7] = '\0';
	return s;
}

void
pt_pci_names_done(void)
{
	if (names_acc)
		pci_cleanup(names_acc);
	names_acc = NULL;
}
