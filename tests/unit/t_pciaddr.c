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
		{ .in = "00000:07:00.0" },
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

	(void)state;
	assert_true(pt_pciaddr_cmp(&a, &b) < 0);
	assert_true(pt_pciaddr_cmp(&b, &a) > 0);
	assert_true(pt_pciaddr_cmp(&b, &c) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_long_and_short),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_cmp_orders_by_each_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
