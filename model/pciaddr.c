/* pciaddr.c: PCI addresses ("0000:07:00.0"): parse, format and compare; pure. */
#include "model/pciaddr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads exactly n hex digits from *s and advances it. */
static int
hexfield(const char **s, int n, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < n; i++) {
		int d = hexval((*s)[i]);

		if (d < 0)
			return -EINVAL;
		v = v * 16 + (unsigned)d;
	}
	*s += n;
	*ret = v;
	return 0;
}

int
pt_pciaddr_parse(const char *s, struct pt_pciaddr *ret, const char **reterr_why)
{
	static const char *const form = "expected DDDD:BB:SS.F or BB:SS.F in hex, e.g. 0000:07:00.0";
	struct pt_pciaddr a = { 0, 0, 0, 0 };
	const char *p = s;
	size_t len = strlen(s);

	if (len != 12 && len != 7) {
		*reterr_why = form;
		return -EINVAL;
	}
	if (len == 12) {
		if (hexfield(&p, 4, &a.domain) < 0 || *p++ != ':') {
			*reterr_why = form;
			return -EINVAL;
		}
	}
	if (hexfield(&p, 2, &a.bus) < 0 || *p++ != ':' ||
	    hexfield(&p, 2, &a.slot) < 0 || *p++ != '.' ||
	    hexfield(&p, 1, &a.func) < 0 || *p != '\0') {
		*reterr_why = form;
		return -EINVAL;
	}
	if (a.slot > 0x1f) {
		*reterr_why = "slot (device) must be 00-1f";
		return -EINVAL;
	}
	if (a.func > 7) {
		*reterr_why = "function must be 0-7";
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

char *
pt_pciaddr_format(const struct pt_pciaddr *a, char buf[PT_PCIADDR_BUFSZ])
{
	snprintf(buf, PT_PCIADDR_BUFSZ, "%04x:%02x:%02x.%x",
		 a->domain & 0xffff, a->bus & 0xff, a->slot & 0x1f, a->func & 7);
	return buf;
}

int
pt_pciaddr_cmp(const struct pt_pciaddr *a, const struct pt_pciaddr *b)
{
	if (a->domain != b->domain)
		return a->domain < b->domain ? -1 : 1;
	if (a->bus != b->bus)
		return a->bus < b->bus ? -1 : 1;
	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	if (a->func != b->func)
		return a->func < b->func ? -1 : 1;
	return 0;
}
