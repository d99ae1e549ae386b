/* t_uevent.c: the uevent parser on the kernel's own messages, on malformed ones (cut, unterminated, huge, repeated keys) and on a seeded flood of mutations. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/uevent.h"
#include "model/xalloc.h"

/* A message as the kernel sends it: each string NUL-terminated, one after the other, in a
 * buffer of exactly that size (so that valgrind and ASan see a read past its end). */
struct msg {
	char *buf;
	size_t len;
};

static struct msg
join(const char *const *f)
{
	struct msg m = { NULL, 0 };

	for (size_t i = 0; f[i]; i++)
		m.len += strlen(f[i]) + 1;
	m.buf = xmalloc(m.len ? m.len : 1);
	m.len = 0;
	for (size_t i = 0; f[i]; i++) {
		size_t n = strlen(f[i]) + 1;

		memcpy(m.buf + m.len, f[i], n);
		m.len += n;
	}
	return m;
}

/* A copy of len bytes of p in a buffer of exactly len bytes. */
static char *
exact(const char *p, size_t len)
{
	char *b = xmalloc(len ? len : 1);

	memcpy(b, p, len);
	return b;
}

/* Real messages, as `udevadm monitor --kernel --property` shows them (each KEY=VALUE the
 * kernel's lib/kobject_uevent.c and drivers/pci/pci-driver.c pci_uevent() write): */

/* a Coral (1ac1:089a, class 088000) behind a root port, hot-added or found by a rescan */
static const char *const coral_add[] = {
	"add@/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
	"ACTION=add",
	"DEVPATH=/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
	"SUBSYSTEM=pci",
	"PCI_CLASS=88000",
	"PCI_ID=1AC1:089A",
	"PCI_SUBSYS_ID=1AC1:089A",
	"PCI_SLOT_NAME=0000:01:00.0",
	"MODALIAS=pci:v00001AC1d0000089Asv00001AC1sd0000089Abc08sc80i00",
	"SEQNUM=3345",
	NULL,
};
/* ... removed (echo 1 > remove): the same keys */
static const char *const coral_remove[] = {
	"remove@/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
	"ACTION=remove",
	"DEVPATH=/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
	"SUBSYSTEM=pci",
	"PCI_CLASS=88000",
	"PCI_ID=1AC1:089A",
	"PCI_SUBSYS_ID=1AC1:089A",
	"PCI_SLOT_NAME=0000:01:00.0",
	"MODALIAS=pci:v00001AC1d0000089Asv00001AC1sd0000089Abc08sc80i00",
	"SEQNUM=3301",
	NULL,
};
/* ... bound to vfio-pci by apply: DRIVER comes after SUBSYSTEM */
static const char *const coral_bind[] = {
	"bind@/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
	"ACTION=bind",
	"DEVPATH=/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
	"SUBSYSTEM=pci",
	"DRIVER=vfio-pci",
	"PCI_CLASS=88000",
	"PCI_ID=1AC1:089A",
	"PCI_SUBSYS_ID=1AC1:089A",
	"PCI_SLOT_NAME=0000:01:00.0",
	"MODALIAS=pci:v00001AC1d0000089Asv00001AC1sd0000089Abc08sc80i00",
	"SEQNUM=3346",
	NULL,
};
static const char *const coral_unbind[] = {
	"unbind@/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
	"ACTION=unbind",
	"DEVPATH=/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
	"SUBSYSTEM=pci",
	"PCI_CLASS=88000",
	"PCI_ID=1AC1:089A",
	"PCI_SUBSYS_ID=1AC1:089A",
	"PCI_SLOT_NAME=0000:01:00.0",
	"MODALIAS=pci:v00001AC1d0000089Asv00001AC1sd0000089Abc08sc80i00",
	"SEQNUM=3350",
	NULL,
};
/* an NVMe SSD behind Intel VMD: PCI domain 10000 */
static const char *const vmd_add[] = {
	"add@/devices/pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:1d.0/10000:e1:00.0",
	"ACTION=add",
	"DEVPATH=/devices/pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:1d.0/10000:e1:00.0",
	"SUBSYSTEM=pci",
	"PCI_CLASS=10802",
	"PCI_ID=144D:A808",
	"PCI_SUBSYS_ID=144D:A801",
	"PCI_SLOT_NAME=10000:e1:00.0",
	"MODALIAS=pci:v0000144Dd0000A808sv0000144Dsd0000A801bc01sc08i02",
	"SEQNUM=912",
	NULL,
};
/* what else comes when vfio-pci binds or loads: not PCI devices */
static const char *const vfio_group_add[] = {
	"add@/devices/virtual/vfio/1", "ACTION=add", "DEVPATH=/devices/virtual/vfio/1", "SUBSYSTEM=vfio",
	"MAJOR=243", "MINOR=0", "DEVNAME=vfio/1", "SEQNUM=3347", NULL,
};
static const char *const driver_add[] = {
	"add@/bus/pci/drivers/vfio-pci", "ACTION=add", "DEVPATH=/bus/pci/drivers/vfio-pci", "SUBSYSTEM=drivers",
	"SEQNUM=3340", NULL,
};
static const char *const module_add[] = {
	"add@/module/vfio_pci", "ACTION=add", "DEVPATH=/module/vfio_pci", "SUBSYSTEM=module", "SEQNUM=3339", NULL,
};
static const char *const net_add[] = {
	"add@/devices/virtual/net/v0", "ACTION=add", "DEVPATH=/devices/virtual/net/v0", "SUBSYSTEM=net",
	"INTERFACE=v0", "IFINDEX=3", "SEQNUM=3371", NULL,
};

/* the USB Coral re-enumerating after its firmware load, as `udevadm monitor --kernel --property`
 * shows it: the device (DEVTYPE=usb_device) and, for each, its interface, which is not counted */
static const char *const usb_add[] = {
	"add@/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.3", "ACTION=add",
	"DEVPATH=/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.3", "SUBSYSTEM=usb", "MAJOR=189", "MINOR=132",
	"DEVNAME=bus/usb/002/005", "DEVTYPE=usb_device", "PRODUCT=18d1/9302/100", "TYPE=0/0/0", "BUSNUM=002",
	"DEVNUM=005", "SEQNUM=4512", NULL,
};
static const char *const usb_remove[] = {
	"remove@/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.3", "ACTION=remove",
	"DEVPATH=/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.3", "SUBSYSTEM=usb", "MAJOR=189", "MINOR=131",
	"DEVNAME=bus/usb/002/004", "DEVTYPE=usb_device", "PRODUCT=1a6e/89a/100", "TYPE=0/0/0", "BUSNUM=002",
	"DEVNUM=004", "SEQNUM=4509", NULL,
};
static const char *const usb_interface_add[] = {
	"add@/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.3/2-1.3:1.0", "ACTION=add",
	"DEVPATH=/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1.3/2-1.3:1.0", "SUBSYSTEM=usb",
	"DEVTYPE=usb_interface", "PRODUCT=18d1/9302/100", "TYPE=0/0/0", "INTERFACE=255/255/255",
	"MODALIAS=usb:v18D1p9302d0100dc00dsc00dp00icFFiscFFipFFin00", "SEQNUM=4513", NULL,
};

static const char *const *const real[] = {
	coral_add, coral_remove, coral_bind, coral_unbind, vmd_add, vfio_group_add, driver_add, module_add, net_add,
};
#define N_REAL (sizeof(real) / sizeof(real[0]))

/* Parses f; asserts the result r and, on success, that every string lies inside the buffer.
 * *held is the buffer *ret points into: the previous one is freed first (NULL: none), the
 * caller frees the last. */
static void
check(const char *const *f, int r, struct pt_uevent *ret, char **held)
{
	struct msg m = join(f);

	free(*held);
	*held = m.buf;

	assert_int_equal(pt_uevent_parse(m.buf, m.len, ret), r);
	if (r == 0) {
		assert_true(ret->action >= m.buf && ret->action < m.buf + m.len);
		assert_true(ret->devpath >= m.buf && ret->devpath < m.buf + m.len);
		assert_true(ret->subsystem >= m.buf && ret->subsystem < m.buf + m.len);
	}
}

static void
test_real_messages(void **state)
{
	struct pt_uevent u;
	char a[PT_PCIADDR_BUFSZ];
	struct msg m = join(coral_add);
	char *held = NULL;

	(void)state;
	assert_int_equal(pt_uevent_parse(m.buf, m.len, &u), 0);
	assert_string_equal(u.action, "add");
	assert_string_equal(u.devpath, "/devices/pci0000:00/0000:00:1c.0/0000:01:00.0");
	assert_string_equal(u.subsystem, "pci");
	assert_true(u.has_slot);
	assert_string_equal(pt_pciaddr_format(&u.slot, a), "0000:01:00.0");
	assert_true(u.has_seqnum);
	assert_int_equal(u.seqnum, 3345);
	assert_true(pt_uevent_pci_change(&u));
	free(m.buf);

	check(coral_remove, 0, &u, &held);
	assert_string_equal(u.action, "remove");
	assert_true(pt_uevent_pci_change(&u));
	check(vmd_add, 0, &u, &held);
	assert_string_equal(pt_pciaddr_format(&u.slot, a), "10000:e1:00.0");
	assert_true(pt_uevent_pci_change(&u));
	/* apply's own binds, and what comes with them, are not PCI devices coming or going */
	check(coral_bind, 0, &u, &held);
	assert_string_equal(u.action, "bind");
	assert_false(pt_uevent_pci_change(&u));
	check(coral_unbind, 0, &u, &held);
	assert_false(pt_uevent_pci_change(&u));
	for (size_t i = 5; i < N_REAL; i++) {
		check(real[i], 0, &u, &held);
		assert_string_equal(u.action, "add");
		assert_false(u.has_slot);
		assert_false(pt_uevent_pci_change(&u));
	}
	/* a message handed to the kernel without SEQNUM, and a value with '=' in it */
	check((const char *const[]){ "change@/devices/x", "ACTION=change", "DEVPATH=/devices/x", "SUBSYSTEM=pci",
				     "SYNTH_ARG_A=b=c", NULL },
	      0, &u, &held);
	assert_false(u.has_seqnum);
	assert_false(u.has_slot);
	assert_false(pt_uevent_pci_change(&u));
	/* USB: the device comes and goes; its interfaces, and a PCI device, are not USB devices */
	check(usb_add, 0, &u, &held);
	assert_string_equal(u.devtype, "usb_device");
	assert_true(pt_uevent_usb_change(&u));
	assert_false(pt_uevent_pci_change(&u));
	check(usb_remove, 0, &u, &held);
	assert_true(pt_uevent_usb_change(&u));
	check(usb_interface_add, 0, &u, &held);
	assert_false(pt_uevent_usb_change(&u));
	check(coral_add, 0, &u, &held);
	assert_null(u.devtype);
	assert_false(pt_uevent_usb_change(&u));
	check((const char *const[]){ "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=usb",
				     "DEVTYPE=usb_device", "DEVTYPE=usb_device", NULL },
	      -EBADMSG, &u, &held);
	free(held);
}

static void
test_malformed(void **state)
{
	static const struct {
		const char *why;
		const char *const f[8];
	} bad[] = {
		{ "no '@'", { "add/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci" } },
		{ "no action", { "@/devices/x", "ACTION=", "DEVPATH=/devices/x", "SUBSYSTEM=pci" } },
		{ "no path", { "add@", "ACTION=add", "DEVPATH=", "SUBSYSTEM=pci" } },
		{ "a relative path", { "add@devices/x", "ACTION=add", "DEVPATH=devices/x", "SUBSYSTEM=pci" } },
		{ "udevd's (group 2)", { "libudev", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci" } },
		{ "no ACTION", { "add@/devices/x", "DEVPATH=/devices/x", "SUBSYSTEM=pci" } },
		{ "no DEVPATH", { "add@/devices/x", "ACTION=add", "SUBSYSTEM=pci" } },
		{ "no SUBSYSTEM", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x" } },
		{ "an empty SUBSYSTEM", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=" } },
		{ "ACTION not the header's", { "add@/devices/x", "ACTION=remove", "DEVPATH=/devices/x", "SUBSYSTEM=pci" } },
		{ "ACTION longer", { "add@/devices/x", "ACTION=addx", "DEVPATH=/devices/x", "SUBSYSTEM=pci" } },
		{ "DEVPATH not the header's", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/y", "SUBSYSTEM=pci" } },
		{ "ACTION twice", { "add@/devices/x", "ACTION=add", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci" } },
		{ "SUBSYSTEM twice", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=net", "SUBSYSTEM=pci" } },
		{ "an empty field", { "add@/devices/x", "ACTION=add", "", "DEVPATH=/devices/x", "SUBSYSTEM=pci" } },
		{ "a field with no '='", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci", "JUNK" } },
		{ "a field with no key", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci", "=v" } },
		{ "a cut slot name", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci", "PCI_SLOT_NAME=0000:01:0" } },
		{ "a slot name without domain", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci", "PCI_SLOT_NAME=01:00.0" } },
		{ "two slot names", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci", "PCI_SLOT_NAME=0000:01:00.0", "PCI_SLOT_NAME=0000:02:00.0" } },
		{ "SEQNUM not a number", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci", "SEQNUM=12a" } },
		{ "SEQNUM empty", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci", "SEQNUM=" } },
		{ "SEQNUM past 64 bits", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci", "SEQNUM=18446744073709551616" } },
		{ "SEQNUM of 21 digits", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci", "SEQNUM=000000000000000000001" } },
		{ "SEQNUM negative", { "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci", "SEQNUM=-1" } },
	};
	struct pt_uevent u, sentinel;
	char *held = NULL;

	(void)state;
	memset(&sentinel, 0x5a, sizeof(sentinel));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct msg m = join(bad[i].f);

		u = sentinel;
		if (pt_uevent_parse(m.buf, m.len, &u) != -EBADMSG)
			fail_msg("%s: not refused", bad[i].why);
		assert_memory_equal(&u, &sentinel, sizeof(u)); /* untouched */
		free(m.buf);
	}
	check((const char *const[]){ "add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=pci",
				     "SEQNUM=18446744073709551615", NULL },
	      0, &u, &held);
	assert_true(u.seqnum == UINT64_MAX);
	free(held);
	/* nothing at all */
	assert_int_equal(pt_uevent_parse(NULL, 0, &u), -EBADMSG);
	assert_int_equal(pt_uevent_parse("", 0, &u), -EBADMSG);
	assert_int_equal(pt_uevent_parse("\0", 1, &u), -EBADMSG);
}

/* Every prefix of every real message (a datagram cut short): refused unless it ends right
 * after a NUL and still holds ACTION, DEVPATH and SUBSYSTEM; never a read past its end. */
static void
test_cut_anywhere(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_REAL; i++) {
		struct msg m = join(real[i]);

		for (size_t k = 0; k <= m.len; k++) {
			char *b = exact(m.buf, k);
			struct pt_uevent u;
			int r = pt_uevent_parse(b, k, &u);

			if (r == 0) {
				assert_true(k > 0 && b[k - 1] == '\0');
				assert_true(u.subsystem >= b && u.subsystem < b + k);
			} else {
				assert_int_equal(r, -EBADMSG);
			}
			if (k == m.len)
				assert_int_equal(r, 0);
			else if (k > 0 && b[k - 1] != '\0')
				assert_int_equal(r, -EBADMSG); /* the last field unterminated */
			free(b);
		}
		/* the whole message without its last NUL (no terminator: a cut value) */
		{
			char *b = exact(m.buf, m.len - 1);
			struct pt_uevent u;

			assert_int_equal(pt_uevent_parse(b, m.len - 1, &u), -EBADMSG);
			free(b);
		}
		free(m.buf);
	}
	/* no NUL anywhere */
	{
		char *b = exact("add@/devices/x", 14);
		struct pt_uevent u;

		assert_int_equal(pt_uevent_parse(b, 14, &u), -EBADMSG);
		free(b);
	}
}

static void
test_huge(void **state)
{
	struct pt_uevent u;
	struct msg m = join(coral_add);
	size_t big = 1 << 20;
	char *b = xmalloc(big);

	(void)state;
	/* up to PT_UEVENT_MAX bytes: a message padded with filler fields to exactly that size */
	memcpy(b, m.buf, m.len);
	for (size_t at = m.len; at < PT_UEVENT_MAX;) {
		size_t n = PT_UEVENT_MAX - at > 200 ? 200 : PT_UEVENT_MAX - at;

		if (n < 3) { /* too short for "K=\0": widen the previous field instead */
			memset(b + at - 1, 'x', n);
			at += n;
			b[at - 1] = '\0';
			break;
		}
		b[at] = 'F';
		b[at + 1] = '=';
		memset(b + at + 2, 'v', n - 3);
		b[at + n - 1] = '\0';
		at += n;
	}
	assert_int_equal(pt_uevent_parse(b, PT_UEVENT_MAX, &u), 0);
	assert_string_equal(u.subsystem, "pci");
	/* one byte more is not the kernel's, whatever it holds */
	b[PT_UEVENT_MAX] = '\0';
	assert_int_equal(pt_uevent_parse(b, PT_UEVENT_MAX + 1, &u), -EMSGSIZE);
	/* a megabyte: of one long header without a NUL, then of NULs */
	memset(b, 'a', big);
	b[3] = '@';
	b[4] = '/';
	assert_int_equal(pt_uevent_parse(b, big, &u), -EMSGSIZE);
	memset(b, 0, big);
	assert_int_equal(pt_uevent_parse(b, big, &u), -EMSGSIZE);
	assert_int_equal(pt_uevent_parse(b, PT_UEVENT_MAX, &u), -EBADMSG);
	free(b);
	free(m.buf);
}

/* xorshift64*: seeded, so that a failure is reproducible */
static uint64_t
next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* 200,000 mutations of the real messages (bytes changed to NUL, '=', '@', '/' or anything,
 * cut, a stretch doubled or dropped), each in a buffer of its exact size: the parser never
 * reads outside it (valgrind, ASan), and what it accepts is consistent. */
static void
test_mutations(void **state)
{
	static const char special[] = { '\0', '=', '@', '/', 'A', '0', '\n', (char)0xff };
	uint64_t seed = 0x7061737374687275ULL; /* "passthru" */
	char work[2 * PT_UEVENT_MAX];
	unsigned accepted = 0, changes = 0;

	(void)state;
	for (unsigned iter = 0; iter < 200000; iter++) {
		struct msg m = join(real[next(&seed) % N_REAL]);
		size_t len = m.len;
		unsigned edits = 1 + (unsigned)(next(&seed) % 4);
		struct pt_uevent u;
		char *b;
		int r;

		memcpy(work, m.buf, len);
		for (unsigned e = 0; e < edits && len > 0; e++) {
			size_t at = next(&seed) % len, n;

			switch (next(&seed) % 5) {
			case 0:
				work[at] = special[next(&seed) % sizeof(special)];
				break;
			case 1:
				work[at] = (char)(next(&seed) & 0xff);
				break;
			case 2:
				len = at; /* cut */
				break;
			case 3: /* double a stretch */
				n = next(&seed) % 64;
				if (at + n > len)
					n = len - at;
				if (len + n <= sizeof(work)) {
					memmove(work + at + n, work + at, len - at);
					len += n;
				}
				break;
			default: /* drop a stretch */
				n = next(&seed) % 64;
				if (at + n > len)
					n = len - at;
				memmove(work + at, work + at + n, len - at - n);
				len -= n;
				break;
			}
		}
		b = exact(work, len);
		r = pt_uevent_parse(b, len, &u);
		assert_true(r == 0 || r == -EBADMSG);
		if (r == 0) {
			size_t alen = strlen(u.action);

			accepted++;
			assert_true(b[len - 1] == '\0');
			assert_true(u.action >= b && u.action + alen < b + len);
			assert_true(u.devpath >= b && u.devpath + strlen(u.devpath) < b + len);
			assert_true(u.subsystem >= b && u.subsystem + strlen(u.subsystem) < b + len);
			assert_true(alen > 0 && memcmp(b, u.action, alen) == 0 && b[alen] == '@');
			assert_string_equal(b + alen + 1, u.devpath);
			assert_true(u.devpath[0] == '/' && u.subsystem[0] != '\0');
			if (pt_uevent_pci_change(&u))
				changes++;
		}
		free(b);
		free(m.buf);
	}
	/* the flood reaches both sides: some survive a mutation (a changed value), most do not */
	assert_true(accepted > 1000 && accepted < 190000);
	assert_true(changes > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_messages),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_cut_anywhere),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
