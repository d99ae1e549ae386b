/* pciaddr.c: PCI addresses ("0000:07:00.0", "10000:e1:00.0"): parse, format and compare; pure. */
#include "model/pciaddr.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Domains are 32 bits, the kernel's int, read into an unsigned. */
_Static_assert(sizeof(unsigned) >= 4, "unsigned holds a 32-bit PCI domain");

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

/* "BB:SS.F", after the domain and its colon. */
#define PT_BSF_LEN 7

static int
parse(const char *s, bool need_domain, struct pt_pciaddr *ret, const char **reterr_why)
{
	static const char *const form = "expected DDDD:BB:SS.F or BB:SS.F in hex, e.g. 0000:07:00.0";
	struct pt_pciaddr a = { 0, 0, 0, 0 };
	const char *p = s, *colon = strchr(s, ':');
	size_t len = strlen(s), dlen = colon ? (size_t)(colon - s) : 0;

	if (len == PT_BSF_LEN && !need_domain) {
		/* the short form: domain 0000 */
	} else if (colon && len == dlen + 1 + PT_BSF_LEN) {
		if (dlen < 4 || dlen > 8) {
			*reterr_why = "the domain must have 4 to 8 hex digits";
			return -EINVAL;
		}
		if (hexfield(&p, (int)dlen, &a.domain) < 0 || *p++ != ':') {
			*reterr_why = form;
			return -EINVAL;
		}
	} else {
		*reterr_why = form;
		return -EINVAL;
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

int
pt_pciaddr_parse(const char *s, struct pt_pciaddr *ret, const char **reterr_why)
{
	return parse(s, false, ret, reterr_why);
}

int
pt_pciaddr_parse_full(const char *s, struct pt_pciaddr *ret, const char **reterr_why)
{
	return parse(s, true, ret, reterr_why);
}

char *
pt_pciaddr_format(const struct pt_pciaddr *a, char buf[PT_PCIADDR_BUFSZ])
{
	snprintf(buf, PT_PCIADDR_BUFSZ, "%04x:%02x:%02x.%x",
		 a->domain, a->bus & 0xff, a->slot & 0x1f, a->func & 7);
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
