/* pciaddr.h: PCI addresses ("0000:07:00.0", "10000:e1:00.0"): parse, format and compare; pure. */
#ifndef PT_PCIADDR_H
#define PT_PCIADDR_H

struct pt_pciaddr {
	unsigned domain;  /* 0..0xffffffff: Linux numbers the domains behind Intel VMD from 0x10000 */
	unsigned bus;     /* 0..0xff */
	unsigned slot;    /* 0..0x1f */
	unsigned func;    /* 0..7 */
};

/* The longest form, "ffffffff:ff:1f.7", plus the terminating NUL */
#define PT_PCIADDR_BUFSZ 17

/*
 * Parses "DDDD:BB:SS.F" (a domain of 4 to 8 hex digits, as in "10000:e1:00.0") or the short
 * form "BB:SS.F" (domain 0000), hex digits in either case, exactly two for the bus and the
 * slot and one for the function. Returns 0, or -EINVAL with *reterr_why set to a static
 * string saying what is wrong; *ret is only written on success.
 */
int pt_pciaddr_parse(const char *s, struct pt_pciaddr *ret, const char **reterr_why);
/* The same for a name the kernel writes (a sysfs entry): the domain is required. */
int pt_pciaddr_parse_full(const char *s, struct pt_pciaddr *ret, const char **reterr_why);
/* Writes the canonical form the kernel uses, the domain with at least 4 hex digits
 * ("0000:07:00.0", "10000:e1:00.0"), into buf and returns buf. */
char *pt_pciaddr_format(const struct pt_pciaddr *a, char buf[PT_PCIADDR_BUFSZ]);
int pt_pciaddr_cmp(const struct pt_pciaddr *a, const struct pt_pciaddr *b);

#endif
