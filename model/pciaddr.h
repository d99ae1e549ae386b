/* pciaddr.h: PCI addresses ("0000:07:00.0"): parse, format and compare; pure. */
#ifndef PT_PCIADDR_H
#define PT_PCIADDR_H

struct pt_pciaddr {
	unsigned domain;  /* 0..0xffff */
	unsigned bus;     /* 0..0xff */
	unsigned slot;    /* 0..0x1f */
	unsigned func;    /* 0..7 */
};

/* "0000:07:00.0" plus the terminating NUL */
#define PT_PCIADDR_BUFSZ 13

/*
 * Parses "DDDD:BB:SS.F" or the short form "BB:SS.F" (domain 0000), hex digits in either
 * case, exactly that many digits. Returns 0, or -EINVAL with *reterr_why set to a static
 * string saying what is wrong; *ret is only written on success.
 */
int pt_pciaddr_parse(const char *s, struct pt_pciaddr *ret, const char **reterr_why);
/* Writes the canonical form "0000:07:00.0" into buf and returns buf. */
char *pt_pciaddr_format(const struct pt_pciaddr *a, char buf[PT_PCIADDR_BUFSZ]);
int pt_pciaddr_cmp(const struct pt_pciaddr *a, const struct pt_pciaddr *b);

#endif
