/* t_domxml.c: the domain XML reader on libvirt's own test domains and on every form of a PCI address attribute, and the <hostdev> it writes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/xalloc.h"
#include "reconcile/domxml.h"

/* The host addresses of the devices, "a,b,..." ("" when none); the caller frees. */
static char *
addrs(const struct pt_hostdev *v, size_t n)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < n; i++) {
		char a[PT_PCIADDR_BUFSZ];
		char *t = xasprintf("%s%s%s%s", s, i ? "," : "", pt_pciaddr_format(&v[i].addr, a),
				    v[i].managed ? "" : " (managed=no)");

		free(s);
		s = t;
	}
	return s;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f)
		fail_msg("cannot open '%s'", path);
	buf = xmalloc(1 << 20);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* libvirt's test domains (tests/fixtures/libvirt/domains/SOURCES.md): the PCI devices they hold. */
static void
test_libvirt_corpus(void **state)
{
	static const struct {
		const char *file;
		const char *want;
	} cases[] = {
		{ .file = "hostdev-vfio.x86_64-latest.xml",
		  .want = "0000:06:12.1,0000:06:12.2,0000:06:12.3,0000:06:12.4" },
		{ .file = "hostdev-pci-multifunction.x86_64-latest.xml",
		  .want = "0005:90:01.0,0001:01:00.1,0001:01:00.0,0005:90:01.2,0005:90:01.3,"
			  "0000:06:12.1,0000:06:12.2" },
		{ .file = "hostdev-pci-address.xml", .want = "0000:06:12.5" },
		{ .file = "hostdev-pci-address-device.xml", .want = "0000:06:12.5" },
		{ .file = "hostdev-pci-address-unassigned.x86_64-latest.xml",
		  .want = "0005:90:01.0,0005:90:01.1,0005:90:01.2,0005:90:01.3" },
		/* domain 0x0021, bus and slot in decimal */
		{ .file = "hostdev-vfio-multidomain.xml", .want = "0021:de:1f.1" },
		{ .file = "hostdev-vfio-zpci.s390x-latest.xml", .want = "0000:00:00.0 (managed=no)" },
		{ .file = "hostdev-vfio-zpci-multidomain-many.s390x-latest.xml",
		  .want = "0001:00:00.0 (managed=no),0002:00:00.0 (managed=no),0003:00:00.0 (managed=no),"
			  "0004:00:00.0 (managed=no),0005:00:00.0 (managed=no),0006:00:00.0 (managed=no),"
			  "0007:00:00.0 (managed=no),0008:00:00.0 (managed=no)" },
		{ .file = "net-hostdev.x86_64-latest.xml", .want = "0000:03:07.1" },
		{ .file = "net-hostdev-multidomain.xml", .want = "2424:21:1c.6" },
		{ .file = "net-virtio-teaming-hostdev.xml", .want = "0000:03:07.1,0000:03:07.2" },
		{ .file = "pci-rom.xml", .want = "0000:06:12.5,0000:06:12.6" },
		{ .file = "qemuhotplug-base-live+hostdev-pci.xml", .want = "0000:06:12.2" },
		{ .file = "qemuhotplug-base-live+interface-network-hostdev.xml", .want = "0000:06:12.2" },
		{ .file = "hostdev-usb-address.x86_64-latest.xml", .want = "" },
		{ .file = "hostdev-scsi-lsi.x86_64-latest.xml", .want = "" },
		{ .file = "hostdev-scsi-vhost-scsi-pci.x86_64-latest.xml", .want = "" },
		{ .file = "hostdev-mdev-precreated.xml", .want = "" },
		{ .file = "q35-virt-manager-basic.x86_64-latest.xml", .want = "" },
		{ .file = "pcie-root-port.xml", .want = "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = xasprintf("tests/fixtures/libvirt/domains/%s", cases[i].file);
		struct pt_diags w = PT_DIAGS_INIT;
		struct pt_hostdev *v = NULL;
		struct pt_domain dom;
		char *title = NULL, *err = NULL, *got;
		size_t len, n = 0;
		char *xml = slurp(path, &len);

		if (pt_domxml_parse(xml, len, &title, &v, &n, &w, &err) < 0)
			fail_msg("%s: %s", cases[i].file, err);
		got = addrs(v, n);
		if (strcmp(got, cases[i].want) != 0)
			print_error("%s:\n  want %s\n  got  %s\n", cases[i].file, cases[i].want, got);
		assert_string_equal(got, cases[i].want);
		assert_int_equal(w.n, 0);
		free(got);
		free(v);
		free(title);
		/* as the hook reads it: the same devices, as the persistent ones */
		assert_int_equal(pt_domxml_read_domain(xml, len, &dom, &w, &err), 0);
		assert_true(dom.have_config);
		assert_int_equal(dom.n_config, n);
		assert_int_equal(w.n, 0);
		pt_domain_done(&dom);
		free(xml);
		free(path);
	}
}

/* Every form of the attributes of a host PCI <address>: read as libvirt reads them, or left out with a warning. */
static void
test_address_attributes(void **state)
{
	static const struct {
		const char *attrs;
		const char *want;      /* the address read, or NULL: left out */
		const char *warning;   /* what the warning says after "domain 'vm1': " */
	} cases[] = {
		{ .attrs = "domain='0x0000' bus='0x07' slot='0x00' function='0x1'", .want = "0000:07:00.1" },
		/* behind Intel VMD: five hex digits, never domain 0000 */
		{ .attrs = "domain='0x10000' bus='0x06' slot='0x12' function='0x1'", .want = "10000:06:12.1" },
		{ .attrs = "domain='0xffffffff' bus='0xff' slot='0x1f' function='0x7'", .want = "ffffffff:ff:1f.7" },
		{ .attrs = "domain='0XABCDE' bus='0xE1' slot='0x0' function='0x0'", .want = "abcde:e1:00.0" },
		{ .attrs = "domain='65536' bus='222' slot='31' function='1'", .want = "10000:de:1f.1" },
		/* a leading 0 is octal to libvirt (strtoul base 0): 010 is 8 */
		{ .attrs = "domain='0' bus='010' slot='0' function='0'", .want = "0000:08:00.0" },
		/* absent attributes are 0, as in libvirt */
		{ .attrs = "bus='0x07' slot='0x00' function='0x1'", .want = "0000:07:00.1" },
		{ .attrs = "domain='0x10000'", .want = "10000:00:00.0" },
		{ .attrs = "domain='0x100000000' bus='0x06' slot='0x12' function='0x1'",
		  .warning = "<hostdev> left out: address attribute domain='0x100000000' is out of range (at most 0xffffffff)" },
		{ .attrs = "domain='99999999999999999999999' bus='0' slot='0' function='0'",
		  .warning = "<hostdev> left out: address attribute domain='99999999999999999999999' is out of range (at most 0xffffffff)" },
		{ .attrs = "domain='-1' bus='0' slot='0' function='0'",
		  .warning = "<hostdev> left out: address attribute domain='-1' is not a number" },
		{ .attrs = "domain='+1' bus='0' slot='0' function='0'",
		  .warning = "<hostdev> left out: address attribute domain='+1' is not a number" },
		{ .attrs = "domain=' 0x1' bus='0' slot='0' function='0'",
		  .warning = "<hostdev> left out: address attribute domain=' 0x1' is not a number" },
		{ .attrs = "domain='0x1 ' bus='0' slot='0' function='0'",
		  .warning = "<hostdev> left out: address attribute domain='0x1 ' is not a number" },
		{ .attrs = "domain='' bus='0' slot='0' function='0'",
		  .warning = "<hostdev> left out: address attribute domain='' is not a number" },
		{ .attrs = "domain='0x' bus='0' slot='0' function='0'",
		  .warning = "<hostdev> left out: address attribute domain='0x' is not a number" },
		{ .attrs = "domain='zz' bus='0' slot='0' function='0'",
		  .warning = "<hostdev> left out: address attribute domain='zz' is not a number" },
		{ .attrs = "domain='0x0000' bus='0x100' slot='0' function='0'",
		  .warning = "<hostdev> left out: address attribute bus='0x100' is out of range (at most 0xff)" },
		{ .attrs = "domain='0x0000' bus='08' slot='0' function='0'",
		  .warning = "<hostdev> left out: address attribute bus='08' is not a number" },
		{ .attrs = "domain='0x0000' bus='0' slot='0x20' function='0'",
		  .warning = "<hostdev> left out: address attribute slot='0x20' is out of range (at most 0x1f)" },
		{ .attrs = "domain='0x0000' bus='0' slot='0' function='8'",
		  .warning = "<hostdev> left out: address attribute function='8' is out of range (at most 0x7)" },
		/* what the file holds is quoted escaped: one line, nothing for the terminal */
		{ .attrs = "domain='0x0000' bus='0' slot='0' function='0x1&#9;'",
		  .warning = "<hostdev> left out: address attribute function='0x1\\t' is not a number" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* after it, a good one: one bad device does not cost the others */
		char *xml = xasprintf("<domain><name>vm1</name><devices>"
				      "<hostdev mode='subsystem' type='pci'><source><address %s/></source></hostdev>"
				      "<hostdev mode='subsystem' type='pci'><source>"
				      "<address domain='0x0000' bus='0x09' slot='0x00' function='0x0'/></source></hostdev>"
				      "</devices></domain>", cases[i].attrs);
		struct pt_diags w = PT_DIAGS_INIT;
		struct pt_hostdev *v = NULL;
		char *title = NULL, *err = NULL, *got, *want;
		size_t n = 0;

		assert_int_equal(pt_domxml_parse(xml, strlen(xml), &title, &v, &n, &w, &err), 0);
		got = addrs(v, n);
		want = cases[i].want ? xasprintf("%s (managed=no),0000:09:00.0 (managed=no)", cases[i].want)
				     : xstrdup("0000:09:00.0 (managed=no)");
		if (strcmp(got, want) != 0)
			print_error("%s:\n  want %s\n  got  %s\n", cases[i].attrs, want, got);
		assert_string_equal(got, want);
		if (cases[i].warning) {
			char *line = xasprintf("domain 'vm1': %s", cases[i].warning);

			assert_int_equal(w.n, 1);
			assert_string_equal(w.v[0].msg, line);
			free(line);
		} else {
			assert_int_equal(w.n, 0);
		}
		pt_diags_done(&w);
		free(got);
		free(want);
		free(v);
		free(xml);
	}
}

/* The warnings name the domain and the element; the hook's reader gives them too; an error adds none. */
static void
test_warnings(void **state)
{
	static const char xml[] =
		"<domain><name>nvr</name><uuid>7D1F5C2A-3B4E-4F60-9A8B-0C1D2E3F4A5B</uuid><devices>"
		"<interface type='hostdev'><source><address type='pci' domain='0x100000000' bus='0x21' "
		"slot='0x1c' function='0x6'/></source></interface>"
		"<hostdev mode='subsystem' type='pci'><source><address domain='0x10000' bus='0xe1' slot='0x00' "
		"function='0x0'/></source></hostdev>"
		"<hostdev mode='subsystem' type='pci'><source><address domain='0x0' bus='0xe1' slot='0x00' "
		"function='9'/></source></hostdev>"
		"</devices></domain>";
	static const char noname[] = "<domain><devices><hostdev mode='subsystem' type='pci'><source>"
				     "<address domain='zz'/></source></hostdev></devices></domain>";
	struct pt_diags w = PT_DIAGS_INIT;
	struct pt_domain dom;
	struct pt_hostdev *v = NULL;
	char *err = NULL, *title = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(pt_domxml_read_domain(xml, strlen(xml), &dom, &w, &err), 0);
	assert_string_equal(dom.name, "nvr");
	assert_string_equal(dom.uuid, "7d1f5c2a-3b4e-4f60-9a8b-0c1d2e3f4a5b");
	assert_int_equal(dom.n_config, 1);
	assert_int_equal(dom.config[0].addr.domain, 0x10000);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.v[0].msg, "domain 'nvr': <interface type='hostdev'> left out: address attribute "
					"domain='0x100000000' is out of range (at most 0xffffffff)");
	assert_string_equal(w.v[1].msg, "domain 'nvr': <hostdev> left out: address attribute function='9' is "
					"out of range (at most 0x7)");
	pt_domain_done(&dom);
	/* an error leaves the list as it was */
	assert_int_equal(pt_domxml_read_domain(noname, strlen(noname), &dom, &w, &err), -EINVAL);
	assert_string_equal(err, "invalid domain XML: no <name>");
	assert_int_equal(w.n, 2);
	free(err);
	/* appended to what the list holds */
	assert_int_equal(pt_domxml_parse(xml, strlen(xml), &title, &v, &n, &w, &err), 0);
	assert_int_equal(w.n, 4);
	assert_int_equal(n, 1);
	free(v);
	/* NULL: not wanted */
	assert_int_equal(pt_domxml_parse(xml, strlen(xml), &title, &v, &n, NULL, &err), 0);
	assert_int_equal(n, 1);
	free(v);
	pt_diags_done(&w);
}

/* The <hostdev> apply attaches: the domain in full, and read back as the same address. */
static void
test_hostdev_element(void **state)
{
	static const struct {
		const char *addr;
		const char *want;
	} cases[] = {
		{ .addr = "0000:07:00.1", .want = "domain='0x0000' bus='0x07' slot='0x00' function='0x1'" },
		{ .addr = "10000:06:12.1", .want = "domain='0x10000' bus='0x06' slot='0x12' function='0x1'" },
		{ .addr = "ffffffff:ff:1f.7", .want = "domain='0xffffffff' bus='0xff' slot='0x1f' function='0x7'" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pt_pciaddr a;
		const char *why;
		char *h, *want, *xml, *title = NULL, *err = NULL;
		struct pt_hostdev *v = NULL;
		size_t n = 0;

		assert_int_equal(pt_pciaddr_parse(cases[i].addr, &a, &why), 0);
		h = pt_domxml_hostdev(&a);
		want = xasprintf("<hostdev mode='subsystem' type='pci' managed='no'><source><address %s/>"
				 "</source></hostdev>", cases[i].want);
		assert_string_equal(h, want);
		xml = xasprintf("<domain><name>x</name><devices>%s</devices></domain>", h);
		assert_int_equal(pt_domxml_parse(xml, strlen(xml), &title, &v, &n, NULL, &err), 0);
		assert_int_equal(n, 1);
		assert_int_equal(pt_pciaddr_cmp(&v[0].addr, &a), 0);
		assert_false(v[0].managed);
		free(v);
		free(xml);
		free(want);
		free(h);
	}
}

/* The USB hostdevs, "v:p@bus/dev,..." with "-" for a part not given; the caller frees. */
static char *
usbs(const struct pt_usbhostdev *v, size_t n)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < n; i++) {
		char ids[16] = "-", at[16] = "-";
		char *t;

		if (v[i].has_ids)
			snprintf(ids, sizeof(ids), "%04x:%04x", v[i].vendor, v[i].product);
		if (v[i].has_addr)
			snprintf(at, sizeof(at), "%u/%u", v[i].bus, v[i].device);
		t = xasprintf("%s%s%s@%s", s, i ? "," : "", ids, at);
		free(s);
		s = t;
	}
	return s;
}

/* Every domain of the corpus: only hostdev-usb-address holds a USB hostdev (bus 14, device 6);
 * the <address type='usb'> of input devices and controllers is not one. */
static void
test_usb_corpus(void **state)
{
	static const char *const files[] = {
		"hostdev-mdev-precreated.xml", "hostdev-pci-address-device.xml",
		"hostdev-pci-address-unassigned.x86_64-latest.xml", "hostdev-pci-address.xml",
		"hostdev-pci-multifunction.x86_64-latest.xml", "hostdev-scsi-lsi.x86_64-latest.xml",
		"hostdev-scsi-vhost-scsi-pci.x86_64-latest.xml", "hostdev-usb-address.x86_64-latest.xml",
		"hostdev-vfio-multidomain.xml", "hostdev-vfio-zpci-multidomain-many.s390x-latest.xml",
		"hostdev-vfio-zpci.s390x-latest.xml", "hostdev-vfio.x86_64-latest.xml",
		"net-hostdev-multidomain.xml", "net-hostdev.x86_64-latest.xml", "net-virtio-teaming-hostdev.xml",
		"pci-rom.xml", "pcie-root-port.xml", "q35-virt-manager-basic.x86_64-latest.xml",
		"qemuhotplug-base-live+hostdev-pci.xml", "qemuhotplug-base-live+interface-network-hostdev.xml",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *path = xasprintf("tests/fixtures/libvirt/domains/%s", files[i]);
		struct pt_diags w = PT_DIAGS_INIT;
		struct pt_hostdev *v = NULL;
		struct pt_usbhostdev *u = NULL;
		struct pt_domain dom;
		char *title = NULL, *err = NULL, *got;
		size_t len, n = 0, n_usb = 0;
		char *xml = slurp(path, &len);
		const char *want = strcmp(files[i], "hostdev-usb-address.x86_64-latest.xml") == 0 ? "-@14/6" : "";

		if (pt_domxml_parse_all(xml, len, &title, &v, &n, &u, &n_usb, &w, &err) < 0)
			fail_msg("%s: %s", files[i], err);
		got = usbs(u, n_usb);
		if (strcmp(got, want) != 0)
			print_error("%s: want '%s', got '%s'\n", files[i], want, got);
		assert_string_equal(got, want);
		assert_int_equal(w.n, 0);
		free(got);
		assert_int_equal(pt_domxml_read_domain(xml, len, &dom, &w, &err), 0);
		got = usbs(dom.usb_config, dom.n_usb_config);
		assert_string_equal(got, want);
		free(got);
		pt_domain_done(&dom);
		free(u);
		free(v);
		free(title);
		free(xml);
		free(path);
	}
}

/* The forms libvirt documents for a USB hostdev (formatdomain: "USB / PCI / SCSI devices"), the
 * ones it writes back, and bad numbers left out with a warning. */
static void
test_usb_forms(void **state)
{
	static const struct {
		const char *source, *want, *warning;
	} cases[] = {
		{ "<vendor id='0x1a6e'/><product id='0x089a'/>", "1a6e:089a@-", NULL },
		{ "<vendor id='0x18d1'/><product id='0x9302'/><address bus='2' device='5'/>", "18d1:9302@2/5", NULL },
		{ "<address bus='2' device='5'/>", "-@2/5", NULL },
		{ "<address bus='0x2' device='0x05'/>", "-@2/5", NULL },
		{ "<vendor id='0x1a6e'/>", "", "<hostdev type='usb'> left out: its <source> has neither" },
		{ "<vendor id='0x1a6e'/><product id='0x1089a'/>", "", "id='0x1089a' is out of range" },
		{ "<address bus='two' device='5'/>", "", "bus='two' is not a number" },
		{ "", "", "neither" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *xml = xasprintf("<domain><name>d</name><devices>"
				      "<hostdev mode='subsystem' type='pci'><source><address bus='1'/></source></hostdev>"
				      "<hostdev mode='subsystem' type='usb' managed='yes'><source>%s</source></hostdev>"
				      "</devices></domain>", cases[i].source);
		struct pt_diags w = PT_DIAGS_INIT;
		struct pt_hostdev *v = NULL;
		struct pt_usbhostdev *u = NULL;
		char *title = NULL, *err = NULL, *got;
		size_t n = 0, n_usb = 0;

		assert_int_equal(pt_domxml_parse_all(xml, strlen(xml), &title, &v, &n, &u, &n_usb, &w, &err), 0);
		assert_int_equal(n, 1);
		got = usbs(u, n_usb);
		assert_string_equal(got, cases[i].want);
		if (cases[i].warning) {
			assert_int_equal(w.n, 1);
			if (!strstr(w.v[0].msg, cases[i].warning))
				fail_msg("case %zu: warning '%s'", i, w.v[0].msg);
		} else {
			assert_int_equal(w.n, 0);
		}
		pt_diags_done(&w);
		free(got);
		free(u);
		free(v);
		free(title);
		free(xml);
	}
	/* what attach sends reads back as the same device */
	{
		char *h = pt_domxml_usb_hostdev(2, 7), *xml = xasprintf("<domain><name>d</name><devices>%s</devices></domain>", h);
		struct pt_hostdev *v = NULL;
		struct pt_usbhostdev *u = NULL;
		char *title = NULL, *err = NULL, *got;
		size_t n = 0, n_usb = 0;

		assert_string_equal(h, "<hostdev mode='subsystem' type='usb' managed='yes'><source><address bus='2' device='7'/>"
				       "</source></hostdev>");
		assert_int_equal(pt_domxml_parse_all(xml, strlen(xml), &title, &v, &n, &u, &n_usb, NULL, &err), 0);
		got = usbs(u, n_usb);
		assert_string_equal(got, "-@2/7");
		free(got);
		free(u);
		free(v);
		free(title);
		free(xml);
		free(h);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libvirt_corpus),
		cmocka_unit_test(test_address_attributes),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_hostdev_element),
		cmocka_unit_test(test_usb_corpus),
		cmocka_unit_test(test_usb_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
