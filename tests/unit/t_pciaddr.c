/* t_pciaddr.c: unit tests of PCI address parsing, formatting and ordering. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "model/pciaddr.h"

static void
test_parse_long_and_short(void **state)
{
	struct pt_pciaddr a, b;
	const char *why = NULL;
	char buf[PT_PCIADDR_BUFSZ];

	(void)state;
	assert_int_equal(pt_pciaddr_parse("0000:07:00.1", &a, &why), 0);
	assert_int_equal(a.domain, 0);
	assert_int_equal(a.bus, 7);
	assert_int_equal(a.slot, 0);
	assert_int_equal(a.func, 1);
	assert_int_equal(pt_pciaddr_parse("07:00.1", &b, &why), 0);
	assert_int_equal(pt_pciaddr_cmp(&a, &b), 0);
	assert_int_equal(pt_pciaddr_parse("ABCD:Ff:1f.7", &a, &why), 0);
	assert_string_equal(pt_pciaddr_format(&a, buf), "abcd:ff:1f.7");
}

/* Domains are 32 bits: Linux numbers the ones behind Intel VMD from 10000. */
static void
test_domains_of_32_bits(void **state)
{
	static const struct {
		const char *in;
		unsigned domain;
		const char *out;   /* the kernel's form: the domain with at least 4 hex digits */
	} good[] = {
		{ .in = "10000:06:12.1", .domain = 0x10000, .out = "10000:06:12.1" },
		{ .in = "10000:e1:00.0", .domain = 0x10000, .out = "10000:e1:00.0" },
		{ .in = "FFFFFFFF:ff:1f.7", .domain = 0xffffffff, .out = "ffffffff:ff:1f.7" },
		{ .in = "00010000:06:12.1", .domain = 0x10000, .out = "10000:06:12.1" },
		{ .in = "00000:07:00.0", .domain = 0, .out = "0000:07:00.0" },
		{ .in = "0001:07:00.0", .domain = 1, .out = "0001:07:00.0" },
		{ .in = "07:00.0", .domain = 0, .out = "0000:07:00.0" },
	};
	char buf[PT_PCIADDR_BUFSZ];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct pt_pciaddr a;
		const char *why = NULL;

		assert_int_equal(pt_pciaddr_parse(good[i].in, &a, &why), 0);
		assert_int_equal(a.domain, good[i].domain);
		assert_string_equal(pt_pciaddr_format(&a, buf), good[i].out);
	}
	/* the longest form fills the buffer exactly */
	assert_int_equal(strlen("ffffffff:ff:1f.7") + 1, PT_PCIADDR_BUFSZ);
}

/* The kernel's names (sysfs) always carry the domain. */
static void
test_parse_full(void **state)
{
	struct pt_pciaddr a = { 9, 9, 9, 9 };
	const char *why = NULL;

	(void)state;
	assert_int_equal(pt_pciaddr_parse_full("10000:e1:00.0", &a, &why), 0);
	assert_int_equal(a.domain, 0x10000);
	assert_int_equal(a.bus, 0xe1);
	assert_int_equal(pt_pciaddr_parse_full("0000:00:1f.2", &a, &why), 0);
	assert_int_equal(pt_pciaddr_parse_full("00:1f.2", &a, &why), -EINVAL);
	assert_int_equal(pt_pciaddr_parse_full("pci0000:00", &a, &why), -EINVAL);
	assert_int_equal(pt_pciaddr_parse_full("0:0:0:0", &a, &why), -EINVAL);
	assert_int_equal(a.bus, 0);
}

static void
test_parse_rejects(void **state)
{
	static const struct {
		const char *in;
		const char *why;
	} bad[] = {
		{ .in = "0000:07:00.8", .why = "function must be 0-7" },
		{ .in = "0000:07:20.0", .why = "slot (device) must be 00-1f" },
		{ .in = "zz:00.0" },
		{ .in = "7:0.0" },
		{ .in = "0000:07:00.0 " },
		{ .in = "0000-07:00.0" },
		{ .in = "000000000:07:00.0", .why = "the domain must have 4 to 8 hex digits" },
		{ .in = "100000000:07:00.0", .why = "the domain must have 4 to 8 hex digits" },
		{ .in = "000:07:00.0", .why = "the domain must have 4 to 8 hex digits" },
		{ .in = ":07:00.0", .why = "the domain must have 4 to 8 hex digits" },
		{ .in = "1000g:07:00.0" },
		{ .in = "10000:07:00" },
		{ .in = "" },
		{ .in = "0000:07:00:0" },
		{ .in = "+000:07:00.0" },
	};
	struct pt_pciaddr a = { 9, 9, 9, 9 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		assert_int_equal(pt_pciaddr_parse(bad[i].in, &a, &why), -EINVAL);
		assert_non_null(why);
		if (bad[i].why)
			assert_string_equal(why, bad[i].why);
		/* the output is untouched on failure */
		assert_int_equal(a.domain, 9);
	}
}

static void
test_cmp_orders_by_each_field(void **state)
{
	struct pt_pciaddr a = { 0, 7, 0, 1 }, b = { 0, 7, 1, 0 }, c = { 1, 0, 0, 0 };
	struct pt_pciaddr d = { 0xffff, 0xff, 0x1f, 7 }, e = { 0x10000, 0, 0, 0 }, f = { 0x10000, 7, 0, 1 };

	(void)state;
	assert_true(pt_pciaddr_cmp(&a, &b) < 0);
	assert_true(pt_pciaddr_cmp(&b, &a) > 0);
	assert_true(pt_pciaddr_cmp(&b, &c) < 0);
	assert_true(pt_pciaddr_cmp(&d, &e) < 0);
	/* the same bus, slot and function in another domain is another device */
	assert_true(pt_pciaddr_cmp(&a, &f) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_long_and_short),
		cmocka_unit_test(test_domains_of_32_bits),
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_cmp_orders_by_each_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
