/* uevent.c: one kernel uevent (a NETLINK_KOBJECT_UEVENT datagram) read into the fields watch needs; pure. */
#include "model/uevent.h"

#include <errno.h>
#include <string.h>

/* The value of field f (NUL-terminated, flen bytes before its NUL) when its key is key. */
static const char *
value_of(const char *f, size_t flen, const char *key)
{
	size_t k = strlen(key);

	return flen > k && memcmp(f, key, k) == 0 && f[k] == '=' ? f + k + 1 : NULL;
}

/* Sets *slot to v, once: a repeated key is not the kernel's. */
static int
take(const char **slot, const char *v)
{
	if (*slot)
		return -EBADMSG;
	*slot = v;
	return 0;
}

/* SEQNUM: decimal digits, at most 20, fitting 64 bits. */
static int
parse_seqnum(const char *v, uint64_t *ret)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; v[i]; i++) {
		unsigned d = (unsigned)(v[i] - '0');

		if (v[i] < '0' || v[i] > '9' || i >= 20 || n > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		n = n * 10 + d;
	}
	if (i == 0)
		return -EBADMSG;
	*ret = n;
	return 0;
}

int
pt_uevent_parse(const char *buf, size_t len, struct pt_uevent *ret)
{
	struct pt_uevent u = { 0 };
	const char *end, *at, *f, *slot = NULL, *seqnum = NULL, *why = NULL;
	size_t hlen;

	if (len > PT_UEVENT_MAX)
		return -EMSGSIZE;
	if (!buf || !(end = memchr(buf, '\0', len)))
		return -EBADMSG;
	/* the header: ACTION@DEVPATH */
	hlen = (size_t)(end - buf);
	at = memchr(buf, '@', hlen);
	if (!at || at == buf || at[1] != '/')
		return -EBADMSG;
	for (f = end + 1; f < buf + len; f = end + 1) {
		size_t flen;
		const char *v;
		int r = 0;

		if (!(end = memchr(f, '\0', (size_t)(buf + len - f))))
			return -EBADMSG; /* cut: its value cannot be believed */
		flen = (size_t)(end - f);
		if (flen == 0 || !memchr(f, '=', flen) || f[0] == '=')
			return -EBADMSG;
		if ((v = value_of(f, flen, "ACTION")))
			r = take(&u.action, v);
		else if ((v = value_of(f, flen, "DEVPATH")))
			r = take(&u.devpath, v);
		else if ((v = value_of(f, flen, "SUBSYSTEM")))
			r = take(&u.subsystem, v);
		else if ((v = value_of(f, flen, "DEVTYPE")))
			r = take(&u.devtype, v);
		else if ((v = value_of(f, flen, "PCI_SLOT_NAME")))
			r = take(&slot, v);
		else if ((v = value_of(f, flen, "SEQNUM")))
			r = take(&seqnum, v);
		if (r < 0)
			return r;
	}
	if (!u.action || !u.devpath || !u.subsystem || !*u.subsystem ||
	    strlen(u.action) != (size_t)(at - buf) || memcmp(u.action, buf, (size_t)(at - buf)) != 0 ||
	    strcmp(u.devpath, at + 1) != 0)
		return -EBADMSG;
	if (slot && pt_pciaddr_parse_full(slot, &u.slot, &why) < 0)
		return -EBADMSG;
	u.has_slot = slot != NULL;
	if (seqnum && parse_seqnum(seqnum, &u.seqnum) < 0)
		return -EBADMSG;
	u.has_seqnum = seqnum != NULL;
	*ret = u;
	return 0;
}

bool
pt_uevent_pci_change(const struct pt_uevent *ev)
{
	return strcmp(ev->subsystem, "pci") == 0 && (strcmp(ev->action, "add") == 0 || strcmp(ev->action, "remove") == 0);
}

bool
pt_uevent_usb_change(const struct pt_uevent *ev)
{
	return strcmp(ev->subsystem, "usb") == 0 && ev->devtype && strcmp(ev->devtype, "usb_device") == 0 &&
	       (strcmp(ev->action, "add") == 0 || strcmp(ev->action, "remove") == 0);
}
