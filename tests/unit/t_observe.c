/* t_observe.c: the sysfs observer on recorded trees, the domain XML reader, and the libvirt observer on the test driver. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "model/xalloc.h"
#include "tests/unit/fixture.h"
#include "reconcile/domxml.h"
#include "reconcile/journal.h"
#include "reconcile/observe_libvirt.h"
#include "reconcile/observe_sysfs.h"
#include "reconcile/plan.h"

static const struct pt_pcidev *
dev(const struct pt_observed *obs, const char *addr)
{
	struct pt_pciaddr a;
	const char *why;

	assert_int_equal(pt_pciaddr_parse(addr, &a, &why), 0);
	return pt_observed_dev(obs, &a);
}

static void
observe(const char *sys, const char *proc, struct pt_observed *obs)
{
	struct pt_host h = { sys, proc, NULL, NULL, NULL };
	char *err = NULL;

	memset(obs, 0, sizeof(*obs));
	if (pt_observe_sysfs(&h, obs, &err) < 0)
		fail_msg("%s", err);
}

static void
test_default_guest(void **state)
{
	struct pt_observed obs;
	const struct pt_pcidev *d;

	(void)state;
	observe("tests/fixtures/sysfs/default", "tests/fixtures/proc/default", &obs);
	assert_int_equal(obs.n_devs, 14);
	assert_true(obs.iommu);
	for (size_t i = 1; i < obs.n_devs; i++)
		assert_true(pt_pciaddr_cmp(&obs.devs[i - 1].addr, &obs.devs[i].addr) < 0);
	d = dev(&obs, "00:02.0");
	assert_non_null(d);
	assert_int_equal(d->vendor, 0x8086);
	assert_int_equal(d->device, 0x10d3);
	assert_int_equal(d->class_code, 0x020000);
	assert_string_equal(d->driver, "e1000e");
	assert_null(d->driver_override);   /* "(null)" in sysfs */
	assert_int_equal(d->host_use, 0);
	/* q35's 00:1f.* share one group; the root port is a bridge with its own */
	assert_int_equal(dev(&obs, "00:1f.0")->iommu_group, dev(&obs, "00:1f.2")->iommu_group);
	assert_int_equal(dev(&obs, "00:1f.0")->iommu_group, dev(&obs, "00:1f.3")->iommu_group);
	assert_true(dev(&obs, "00:1f.3")->host_use & PT_USE_SMBUS);
	assert_true(dev(&obs, "00:1f.0")->host_use & PT_USE_ISA_BRIDGE);
	assert_true(dev(&obs, "00:00.0")->host_use & PT_USE_HOST_BRIDGE);
	assert_true(pt_pcidev_is_bridge(dev(&obs, "00:05.0")));
	assert_false(pt_pcidev_is_bridge(dev(&obs, "00:00.0")));
	assert_int_not_equal(dev(&obs, "01:00.0")->iommu_group, dev(&obs, "00:05.0")->iommu_group);
	assert_null(dev(&obs, "00:04.0")->driver);
	assert_int_equal(dev(&obs, "00:06.0")->iommu_group, dev(&obs, "00:06.2")->iommu_group);
	pt_observed_done(&obs);
	pt_observed_done(NULL);
}

static void
test_vfio_guest(void **state)
{
	struct pt_observed obs;
	const struct pt_pcidev *d;

	(void)state;
	observe("tests/fixtures/sysfs/e1000e-vfio", "tests/fixtures/proc/e1000e-vfio", &obs);
	d = dev(&obs, "00:02.0");
	assert_string_equal(d->driver, "vfio-pci");
	assert_string_equal(d->driver_override, "vfio-pci");
	assert_true(obs.vfio_pci_loaded);
	pt_observed_done(&obs);
}

static void
test_ds1621_host_use(void **state)
{
	struct pt_observed obs;
	const struct pt_pcidev *d;

	(void)state;
	observe("tests/fixtures/sysfs/ds1621-coral", "tests/fixtures/proc/ds1621-coral", &obs);
	d = dev(&obs, "01:00.0");
	assert_int_equal(d->vendor, 0x1ac1);
	assert_int_equal(d->device, 0x089a);
	assert_null(d->driver);
	assert_int_equal(d->host_use, 0);
	d = dev(&obs, "07:00.0");
	assert_true(d->host_use & PT_USE_NET);
	assert_string_equal(d->host_use_why, "network interface 'eth0' has an address");
	assert_int_equal(dev(&obs, "07:00.1")->host_use, 0);
	assert_int_equal(dev(&obs, "07:00.0")->iommu_group, dev(&obs, "07:00.1")->iommu_group);
	/* the root filesystem's md0 is built from sda1 and sdb1 behind the SATA controller */
	assert_string_equal(dev(&obs, "08:00.0")->host_use_why, "/dev/sda1 is part of md0 (software RAID)");
	/* bridges by header type, as the kernel decides */
	assert_true(pt_pcidev_is_bridge(dev(&obs, "00:01.2")));
	assert_true(pt_pcidev_is_bridge(dev(&obs, "00:08.1")));
	assert_false(pt_pcidev_is_bridge(dev(&obs, "00:01.0")));
	assert_false(pt_pcidev_is_bridge(dev(&obs, "07:00.0")));
	pt_observed_done(&obs);
}

static char tmp[64];

static char *
put(const char *rel, const char *text)
{
	char *path = xasprintf("%s/%s", tmp, rel);
	char *dir = xstrdup(path), *cmd;
	FILE *f;

	*strrchr(dir, '/') = '\0';
	cmd = xasprintf("mkdir -p '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void __attribute__((format(printf, 1, 2)))
sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void
test_storage_in_use(void **state)
{
	struct pt_observed obs;
	char *p, *sys;

	(void)state;
	strcpy(tmp, "/tmp/t_observe.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	/* the DS1621+ tree without its md arrays */
	sh("cp -a tests/fixtures/sysfs/ds1621-coral %s/sys && find %s/sys -depth -type d -name holders -exec rm -rf {} +", tmp, tmp);
	p = xasprintf("%s/proc", tmp);
	sys = xasprintf("%s/sys", tmp);
	free(put("proc/swaps", "Filename Type Size Used Priority\n"));
	free(put("proc/cmdline", "BOOT_IMAGE=/vmlinuz ro quiet\n"));
	free(put("proc/net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"));
	free(put("proc/mounts", "/dev/sda5 /volume1 btrfs rw 0 0\n"));
	observe(sys, p, &obs);
	assert_string_equal(dev(&obs, "08:00.0")->host_use_why, "/dev/sda5 is mounted on /volume1");
	pt_observed_done(&obs);
	/* a Docker-heavy NAS: thousands of long overlay lines (over 1 MiB) before the disk's */
	{
		char *path = xasprintf("%s/proc/mounts", tmp);
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		for (int i = 0; i < 5000; i++)
			fprintf(f, "overlay /volume1/@docker/overlay2/%064d/merged overlay rw,relatime,lowerdir=/volume1/"
				"@docker/overlay2/l/%0160d,upperdir=/volume1/@docker/overlay2/%064d/diff 0 0\n", i, i, i);
		fputs("/dev/sda5 /volume1 btrfs rw 0 0\n", f);
		fclose(f);
		free(path);
	}
	observe(sys, p, &obs);
	assert_string_equal(dev(&obs, "08:00.0")->host_use_why, "/dev/sda5 is mounted on /volume1");
	pt_observed_done(&obs);
	/* a table that cannot be read: every disk counts as in use (fail closed), with the reason */
	sh("mv %s/proc/mounts %s/proc/mounts.away", tmp, tmp);
	observe(sys, p, &obs);
	assert_non_null(strstr(dev(&obs, "08:00.0")->host_use_why, "/proc/mounts': No such file or directory: "
						  "cannot tell whether /dev/sda"));
	assert_true(dev(&obs, "08:00.0")->host_use & PT_USE_STORAGE);
	pt_observed_done(&obs);
	sh("mv %s/proc/mounts.away %s/proc/mounts", tmp, tmp);
	{
		char *none = xasprintf("%s/nonexistent", tmp);

		observe(sys, none, &obs);
		assert_non_null(strstr(dev(&obs, "08:00.0")->host_use_why, "cannot tell whether /dev/sda"));
		pt_observed_done(&obs);
		free(none);
	}
	/* swap */
	free(put("proc/mounts", ""));
	free(put("proc/swaps", "Filename Type Size Used Priority\n/dev/sda2 partition 2097084 0 -2\n"));
	observe(sys, p, &obs);
	assert_string_equal(dev(&obs, "08:00.0")->host_use_why, "/dev/sda2 is in use as swap");
	pt_observed_done(&obs);
	/* a member of a software RAID, known from /proc/mdstat */
	free(put("proc/swaps", ""));
	free(put("proc/mdstat", "Personalities : [raid1]\nmd0 : active raid1 sdb1[1] sda1[0]\n      2490176 blocks\n"));
	observe(sys, p, &obs);
	assert_string_equal(dev(&obs, "08:00.0")->host_use_why, "/dev/sda1 is part of md0 (software RAID)");
	pt_observed_done(&obs);
	/* the root filesystem as /dev/root, resolved through root= */
	free(put("proc/mdstat", "Personalities :\nunused devices: <none>\n"));
	free(put("proc/mounts", "/dev/root / ext4 rw 0 0\n"));
	free(put("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sdb1 ro quiet\n"));
	observe(sys, p, &obs);
	assert_string_equal(dev(&obs, "08:00.0")->host_use_why, "/dev/sdb1 is mounted on /");
	pt_observed_done(&obs);
	/* nothing: not host-critical */
	free(put("proc/mounts", ""));
	observe(sys, p, &obs);
	assert_int_equal(dev(&obs, "08:00.0")->host_use, 0);
	pt_observed_done(&obs);
	/* an NVMe namespace has no block/ directory of its own: found through class/block */
	sh("mkdir -p %s/sys/devices/pci0000:00/0000:00:01.2/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2 && "
	   "touch %s/sys/devices/pci0000:00/0000:00:01.2/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2/partition && "
	   "ln -s ../../devices/pci0000:00/0000:00:01.2/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2 "
	   "%s/sys/class/block/nvme0n1p2", tmp, tmp, tmp);
	free(put("proc/mounts", "/dev/nvme0n1p2 /volume2 ext4 rw 0 0\n"));
	observe(sys, p, &obs);
	assert_string_equal(dev(&obs, "01:00.0")->host_use_why, "/dev/nvme0n1p2 is mounted on /volume2");
	pt_observed_done(&obs);
	/* a virtio NIC sits one level down (virtioN/net/IF) */
	sh("mkdir -p %s/sys/devices/pci0000:00/0000:00:01.3/0000:07:00.1/virtio3/net/eth9 && "
	   "echo up >%s/sys/devices/pci0000:00/0000:00:01.3/0000:07:00.1/virtio3/net/eth9/operstate && "
	   "ln -s ../../devices/pci0000:00/0000:00:01.3/0000:07:00.1/virtio3/net/eth9 %s/sys/class/net/eth9",
	   tmp, tmp, tmp);
	observe(sys, p, &obs);
	assert_string_equal(dev(&obs, "07:00.1")->host_use_why, "network interface 'eth9' is up");
	pt_observed_done(&obs);
	free(p);
	free(sys);
}

/* The journal beside the lock: which entries count, and how apply rewrites it. */
static void
test_journal(void **state)
{
	char dir[] = "/tmp/t_observe.XXXXXX";
	struct pt_host h = { "tests/fixtures/sysfs/default", "tests/fixtures/proc/default", NULL, NULL, NULL };
	struct pt_host fake = { NULL, NULL, NULL, NULL, NULL };
	struct pt_sysfs sys;
	struct pt_observed obs;
	uint64_t digest, d2;
	char *lock, *journal, *err = NULL, *tree;
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	h.lock_file = "/run/passthrough.lock";
	journal = pt_journal_path(&h);
	assert_string_equal(journal, "/run/passthrough.journal");
	free(journal);
	lock = xasprintf("%s/lock", dir);
	h.lock_file = lock;
	journal = pt_journal_path(&h);
	assert_string_equal(journal + strlen(dir), "/lock.journal");
	pt_sysfs_open(&h, &sys);
	assert_int_equal(pt_sysfs_drivers_digest(&sys, &digest), 0);

	f = fopen(journal, "w");
	assert_non_null(f);
	fprintf(f, "# a comment\n"
		   "unclaimed 0000:00:04.0 1234:11e8 drivers=%016llx\n"     /* counts */
		   "unclaimed 0000:00:1f.0 8086:2918 drivers=%016llx\n"     /* other drivers loaded since */
		   "unclaimed 0000:00:1f.2 8086:9999 drivers=%016llx\n"     /* another device there now */
		   "unclaimed 0000:00:02.0 8086:10d3 drivers=%016llx\n"     /* on a driver now */
		   "unclaimed 0000:00:1f.3 8086:2930 drivers=xyz\n"
		   "something else\n",
		(unsigned long long)digest, (unsigned long long)digest + 1, (unsigned long long)digest,
		(unsigned long long)digest);
	fclose(f);
	observe("tests/fixtures/sysfs/default", "tests/fixtures/proc/default", &obs);
	assert_false(dev(&obs, "00:04.0")->unclaimed);   /* no lock file: no journal */
	pt_observed_done(&obs);
	assert_int_equal(pt_observe_sysfs(&h, &obs, &err), 0);
	assert_true(dev(&obs, "00:04.0")->unclaimed);
	assert_false(dev(&obs, "00:1f.0")->unclaimed);
	assert_false(dev(&obs, "00:1f.2")->unclaimed);
	assert_false(dev(&obs, "00:02.0")->unclaimed);
	assert_false(dev(&obs, "00:1f.3")->unclaimed);
	pt_observed_done(&obs);

	/* apply's rewrite: one device added, one forgotten, the lines it cannot read dropped */
	assert_int_equal(pt_journal_set(&sys, "0000:00:1f.3", true, &err), 0);
	assert_int_equal(pt_journal_set(&sys, "0000:00:04.0", false, &err), 0);
	memset(&obs, 0, sizeof(obs));
	assert_int_equal(pt_observe_sysfs(&h, &obs, &err), 0);
	assert_false(dev(&obs, "00:04.0")->unclaimed);
	assert_true(dev(&obs, "00:1f.3")->unclaimed);
	pt_observed_done(&obs);
	sh("grep -c '^unclaimed ' %s | grep -qx 4 && ! grep -q 'something\\|xyz' %s", journal, journal);
	/* forgetting everything removes it; forgetting what it does not name writes nothing */
	for (const char *const *a = (const char *const[]){ "0000:00:1f.0", "0000:00:1f.2", "0000:00:02.0",
							  "0000:00:1f.3", "0000:00:1f.3", NULL }; *a; a++)
		assert_int_equal(pt_journal_set(&sys, *a, false, &err), 0);
	assert_int_equal(stat(journal, &st), -1);
	assert_int_equal(errno, ENOENT);
	pt_sysfs_close(&sys);

	/* the digest: which drivers are loaded, vfio-pci aside */
	tree = xasprintf("%s/sys", dir);
	sh("mkdir -p %s/bus/pci/drivers/e1000e %s/bus/pci/drivers/vfio-pci %s/bus/pci/devices", tree, tree, tree);
	fake.sysfs_root = tree;
	pt_sysfs_open(&fake, &sys);
	assert_int_equal(pt_sysfs_drivers_digest(&sys, &digest), 0);
	sh("rmdir %s/bus/pci/drivers/vfio-pci", tree);
	assert_int_equal(pt_sysfs_drivers_digest(&sys, &d2), 0);
	assert_true(d2 == digest);
	sh("mkdir %s/bus/pci/drivers/apex", tree);
	assert_int_equal(pt_sysfs_drivers_digest(&sys, &d2), 0);
	assert_true(d2 != digest);
	pt_sysfs_close(&sys);

	sh("rm -rf %s", dir);
	free(tree);
	free(journal);
	free(lock);
}

static void
test_broken_trees(void **state)
{
	struct pt_observed obs = { 0 };
	struct pt_host h = { "/nonexistent-root", "/proc", NULL, NULL, NULL };
	char *err = NULL, *sys;

	(void)state;
	assert_int_equal(pt_observe_sysfs(&h, &obs, &err), -ENOENT);
	assert_string_equal(err, "cannot read PCI devices: '/nonexistent-root/bus/pci/devices': No such file or directory");
	free(err);
	/* an entry not named like a PCI address is refused */
	free(put("odd/bus/pci/devices/zzz/vendor", "0x8086\n"));
	sys = xasprintf("%s/odd", tmp);
	h.sysfs_root = sys;
	err = NULL;
	assert_int_equal(pt_observe_sysfs(&h, &obs, &err), -EIO);
	assert_non_null(strstr(err, "unexpected entry 'zzz' in "));
	free(err);
	free(sys);
	/* a device directory without the ids a device cannot be without */
	free(put("broken/bus/pci/devices/0000:00:00.0/vendor", "0x8086\n"));
	free(put("broken/bus/pci/devices/0000:00:00.0/device", "0x29c0\n"));
	sys = xasprintf("%s/broken", tmp);
	h.sysfs_root = sys;
	err = NULL;
	assert_int_equal(pt_observe_sysfs(&h, &obs, &err), -ENOENT);
	assert_non_null(strstr(err, "/bus/pci/devices/0000:00:00.0/class': No such file or directory"));
	assert_int_equal(obs.n_devs, 0);
	free(err);
	/* an id that is not a number */
	free(put("broken/bus/pci/devices/0000:00:00.0/class", "bridge\n"));
	err = NULL;
	assert_int_equal(pt_observe_sysfs(&h, &obs, &err), -EINVAL);
	assert_non_null(strstr(err, "/0000:00:00.0/class': Invalid argument"));
	free(err);
	free(sys);
}

static int
cleanup(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmp);

	(void)state;
	if (tmp[0])
		assert_int_equal(system(cmd), 0);
	free(cmd);
	pt_pci_names_done();
	return 0;
}

static void
test_domxml(void **state)
{
	static const char xml[] =
		"<domain type='kvm'><name>x</name><title>Frigate VM</title><devices>"
		"<hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/>"
		"<source><address domain='0x0000' bus='0x07' slot='0x00' function='0x1'/></source>"
		"<alias name='hostdev0'/></hostdev>"
		"<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/></source></hostdev>"
		"<hostdev mode='subsystem' type='pci'><source><address bus='0x100' slot='0' function='0'/></source></hostdev>"
		"<interface type='network'/>"
		"<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' bus='0x07' "
		"slot='0x10' function='0x2'/></source><mac address='52:54:00:6d:90:02'/></interface>"
		"</devices></domain>";
	char *title = NULL, *err = NULL, *h;
	struct pt_hostdev *v = NULL;
	struct pt_diags w = PT_DIAGS_INIT;
	size_t n = 0;
	struct pt_pciaddr a = { 0, 7, 0, 1 };

	(void)state;
	assert_int_equal(pt_domxml_parse(xml, strlen(xml), &title, &v, &n, &w, &err), 0);
	assert_string_equal(title, "Frigate VM");
	/* the usb one is no PCI device, the out-of-range one is left out and said; the VF interface is read */
	assert_int_equal(n, 2);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.v[0].msg, "domain 'x': <hostdev> left out: address attribute bus='0x100' is out of range (at most 0xff)");
	pt_diags_done(&w);
	assert_int_equal(pt_pciaddr_cmp(&v[0].addr, &a), 0);
	assert_true(v[0].managed);
	assert_int_equal(v[1].addr.slot, 0x10);
	assert_int_equal(v[1].addr.func, 2);
	free(title);
	free(v);
	assert_int_equal(pt_domxml_parse("<domain>", 8, &title, &v, &n, NULL, &err), -EINVAL);
	assert_non_null(strstr(err, "invalid domain XML"));
	free(err);
	assert_int_equal(pt_domxml_parse("<node/>", 7, &title, &v, &n, NULL, &err), -EINVAL);
	assert_string_equal(err, "invalid domain XML: the root element is not <domain>");
	free(err);
	h = pt_domxml_hostdev(&a);
	assert_string_equal(h, "<hostdev mode='subsystem' type='pci' managed='no'><source>"
			       "<address domain='0x0000' bus='0x07' slot='0x00' function='0x1'/>"
			       "</source></hostdev>");
	free(h);
}

static void
test_libvirt_test_driver(void **state)
{
	char *uri = fixture_libvirt_uri("frigate-attached.xml");
	struct pt_host h = { NULL, NULL, uri, NULL, NULL };
	struct pt_observed obs = { 0 };
	const struct pt_domain *d;
	char *err = NULL;
	struct pt_pciaddr a = { 0, 0, 2, 0 };

	(void)state;
	if (pt_observe_libvirt(&h, NULL, &obs, &err) < 0)
		fail_msg("%s", err);
	assert_true(obs.have_domains);
	assert_int_equal(obs.n_doms, 2);
	d = &obs.doms[0];
	assert_string_equal(d->name, "5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f");
	assert_string_equal(d->uuid, "5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f");
	assert_string_equal(d->title, "frigate_VM");
	assert_int_equal(d->state, PT_DOMAIN_RUNNING);
	assert_int_equal(d->n_live, 1);
	assert_true(pt_domain_has_hostdev(d, &a, false));
	assert_false(d->live[0].managed);
	assert_string_equal(obs.doms[1].title, "Home Assistant");
	assert_true(obs.doms[1].live[0].managed);
	assert_ptr_equal(pt_find_domain(&obs, "frigate_VM", &err), d);
	assert_ptr_equal(pt_find_domain(&obs, "5F0C7A52-8D1E-4C9B-9A57-1B2F3C4D5E6F", &err), d);
	assert_ptr_equal(pt_find_domain(&obs, "homeassistant", &err), &obs.doms[1]);
	pt_observed_done(&obs);
	free(uri);

	uri = fixture_libvirt_uri("frigate-running.xml");
	h.libvirt_uri = uri;
	if (pt_observe_libvirt(&h, NULL, &obs, &err) < 0)
		fail_msg("%s", err);
	assert_int_equal(obs.doms[1].state, PT_DOMAIN_STOPPED);
	assert_true(obs.doms[1].have_config);   /* a stopped domain's XML is its definition */
	assert_false(obs.doms[0].have_config);
	pt_observed_done(&obs);
	free(uri);
}

/* PCI domain 10000 (behind VMD) in sysfs and in libvirt's XML, next to the same bus, slot and function in 0000. */
static void
test_vmd_domain(void **state)
{
	char *uri = fixture_libvirt_uri("vmd.xml");
	struct pt_host h = { NULL, NULL, uri, NULL, NULL };
	struct pt_observed obs;
	const struct pt_pcidev *d;
	struct pt_pciaddr a;
	const char *why;
	char *err = NULL;

	(void)state;
	observe("tests/fixtures/sysfs/vmd", "tests/fixtures/proc/vmd", &obs);
	assert_int_equal(obs.n_devs, 8);
	/* sorted by the whole domain: 0000 first */
	assert_int_equal(obs.devs[3].addr.domain, 0);
	assert_int_equal(obs.devs[3].addr.bus, 0xe1);
	assert_int_equal(obs.devs[4].addr.domain, 0x10000);
	d = dev(&obs, "10000:e2:00.0");
	assert_non_null(d);
	assert_string_equal(d->driver, "nvme");
	assert_int_equal(d->iommu_group, 7);
	assert_int_equal(d->vendor, 0x8086);
	d = dev(&obs, "10000:e1:00.0");
	assert_int_equal(d->iommu_group, 5);
	assert_string_equal(d->driver_override, "vfio-pci");
	assert_int_equal(dev(&obs, "0000:e1:00.0")->iommu_group, 3);
	assert_true(pt_pcidev_is_bridge(dev(&obs, "10000:e0:06.0")));
	if (pt_observe_libvirt(&h, NULL, &obs, &err) < 0)
		fail_msg("%s", err);
	assert_int_equal(obs.n_doms, 1);
	assert_int_equal(obs.n_warnings, 0);
	assert_int_equal(obs.doms[0].n_live, 1);
	assert_int_equal(obs.doms[0].live[0].addr.domain, 0x10000);
	assert_int_equal(pt_pciaddr_parse("10000:e1:00.0", &a, &why), 0);
	assert_true(pt_domain_has_hostdev(&obs.doms[0], &a, false));
	assert_int_equal(pt_pciaddr_parse("0000:e1:00.0", &a, &why), 0);
	assert_false(pt_domain_has_hostdev(&obs.doms[0], &a, false));
	pt_observed_done(&obs);
	free(uri);
}

static void
test_libvirt_persistent_reads_definition(void **state)
{
	char *uri = fixture_libvirt_uri("frigate-attached.xml");
	struct pt_host h = { NULL, NULL, uri, NULL, NULL };
	struct pt_observed obs = { 0 };
	struct pt_config cfg = { 0 };
	struct pt_device dev0 = { 0 };
	char *err = NULL;

	(void)state;
	dev0.vm = (char *)"frigate_VM";
	dev0.persistent = true;
	cfg.devices = &dev0;
	cfg.n_devices = 1;
	if (pt_observe_libvirt(&h, &cfg, &obs, &err) < 0)
		fail_msg("%s", err);
	assert_true(obs.doms[0].have_config);
	assert_false(obs.doms[1].have_config);
	pt_observed_done(&obs);
	free(uri);
}

static void
test_libvirt_unreachable(void **state)
{
	struct pt_host h = { NULL, NULL, "test:///nonexistent/file.xml", NULL, NULL };
	struct pt_observed obs = { 0 };
	char *err = NULL;

	(void)state;
	assert_true(pt_observe_libvirt(&h, NULL, &obs, &err) < 0);
	assert_non_null(strstr(err, "cannot connect to libvirt at 'test:///nonexistent/file.xml': "));
	assert_int_equal(obs.n_doms, 0);
	free(err);
}

/*
 * A USB tree built here, until one is recorded from the bed: the layout and attribute values of
 * a real Linux /sys/bus/usb (links from bus/usb/devices into devices/pci.../usbN/..., interfaces
 * "2-1.4:1.0", ids without 0x, busnum/devnum in decimal, bDeviceClass in hex): the xHCI root hub
 * usb2, a hub 2-1, a USB Coral after its firmware (18d1:9302, no serial) on 2-1.3, a SanDisk
 * stick (mass storage on its interface, a partition mounted) on 2-1.4, and a device still
 * being set up (no idProduct yet), which is left out.
 */
static void
usb_dev(const char *sys, const char *path, const char *attrs)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	sh("mkdir -p %s/devices/pci0000:00/0000:00:14.0/%s && cd %s/devices/pci0000:00/0000:00:14.0/%s && "
	   "for kv in %s; do printf '%%s\\n' \"${kv#*=}\" > \"${kv%%%%=*}\"; done", sys, path, sys, path, attrs);
	if (!strchr(name, ':'))
		sh("mkdir -p %s/bus/usb/devices && ln -s ../../../devices/pci0000:00/0000:00:14.0/%s %s/bus/usb/devices/%s",
		   sys, path, sys, name);
	else
		sh("ln -s ../../../devices/pci0000:00/0000:00:14.0/%s %s/bus/usb/devices/%s", path, sys, name);
}

static void
test_usb_tree(void **state)
{
	struct pt_observed obs;
	char *p, *sys;
	const struct pt_usbdev *u;

	(void)state;
	strcpy(tmp, "/tmp/t_observe.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	sh("cp -a tests/fixtures/sysfs/default %s/sys && cp -a tests/fixtures/proc/default %s/proc", tmp, tmp);
	p = xasprintf("%s/proc", tmp);
	sys = xasprintf("%s/sys", tmp);
	usb_dev(sys, "usb2", "busnum=2 devnum=1 idVendor=1d6b idProduct=0003 bDeviceClass=09 "
		"'product=xHCI Host Controller' serial=0000:00:14.0");
	usb_dev(sys, "usb2/2-0:1.0", "bInterfaceClass=09");
	usb_dev(sys, "usb2/2-1", "busnum=2 devnum=2 idVendor=05e3 idProduct=0626 bDeviceClass=09 'product=USB3.1 Hub'");
	usb_dev(sys, "usb2/2-1/2-1:1.0", "bInterfaceClass=09");
	usb_dev(sys, "usb2/2-1/2-1.3", "busnum=2 devnum=5 idVendor=18d1 idProduct=9302 bDeviceClass=00");
	usb_dev(sys, "usb2/2-1/2-1.3/2-1.3:1.0", "bInterfaceClass=ff");
	usb_dev(sys, "usb2/2-1/2-1.4", "busnum=2 devnum=3 idVendor=0781 idProduct=5583 bDeviceClass=00 "
		"'product= Ultra Fit' serial=4C530001230101115393");
	usb_dev(sys, "usb2/2-1/2-1.4/2-1.4:1.0", "bInterfaceClass=08");
	usb_dev(sys, "usb2/2-1/2-1.2", "busnum=2 devnum=7 idVendor=10c4");
	sh("cd %s && mkdir -p devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.4/2-1.4:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1 "
	   "class/block && ln -s ../../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.4/2-1.4:1.0/host6/target6:0:0/6:0:0:0/block/sdb "
	   "class/block/sdb && ln -s ../../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.4/2-1.4:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1 "
	   "class/block/sdb1", sys);
	free(put("proc/mounts", "/dev/sdb1 /mnt/stick vfat rw 0 0\n"));
	observe(sys, p, &obs);
	assert_int_equal(obs.n_usbdevs, 4);
	/* by bus, then device number */
	u = &obs.usbdevs[0];
	assert_string_equal(u->port, "usb2");
	assert_true(u->hub);
	assert_string_equal(u->product_name, "xHCI Host Controller");
	u = &obs.usbdevs[1];
	assert_string_equal(u->port, "2-1");
	assert_true(u->hub);
	assert_false(u->storage);
	assert_null(u->host_use_why);   /* the disk below it is its child's */
	u = &obs.usbdevs[2];
	assert_string_equal(u->port, "2-1.4");
	assert_int_equal(u->devnum, 3);
	assert_int_equal(u->vendor, 0x0781);
	assert_int_equal(u->product, 0x5583);
	assert_string_equal(u->serial, "4C530001230101115393");
	assert_true(u->storage);
	assert_false(u->hub);
	assert_string_equal(u->host_use_why, "/dev/sdb1 is mounted on /mnt/stick");
	u = &obs.usbdevs[3];
	assert_string_equal(u->port, "2-1.3");
	assert_int_equal(u->busnum, 2);
	assert_int_equal(u->devnum, 5);
	assert_int_equal(u->vendor, 0x18d1);
	assert_int_equal(u->product, 0x9302);
	assert_null(u->serial);
	assert_null(u->product_name);
	assert_false(u->hub || u->storage);
	assert_null(u->host_use_why);
	pt_observed_done(&obs);
	/* unmounted: the stick is free */
	free(put("proc/mounts", "/dev/sda1 / ext4 rw 0 0\n"));
	observe(sys, p, &obs);
	assert_null(obs.usbdevs[2].host_use_why);
	pt_observed_done(&obs);
	/* no USB bus at all: no USB devices, no error */
	sh("rm -rf %s/bus/usb", sys);
	observe(sys, p, &obs);
	assert_int_equal(obs.n_usbdevs, 0);
	pt_observed_done(&obs);
	sh("rm -rf %s", tmp);
	free(p);
	free(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_guest),
		cmocka_unit_test(test_vfio_guest),
		cmocka_unit_test(test_ds1621_host_use),
		cmocka_unit_test(test_storage_in_use),
		cmocka_unit_test(test_usb_tree),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_broken_trees),
		cmocka_unit_test(test_domxml),
		cmocka_unit_test(test_libvirt_test_driver),
		cmocka_unit_test(test_vmd_domain),
		cmocka_unit_test(test_libvirt_persistent_reads_definition),
		cmocka_unit_test(test_libvirt_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, cleanup);
}
