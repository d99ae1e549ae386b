/* uevent.c: sends uevent messages the way the tests need them, and listens for them, in the caller's network namespace only (run it under `unshare -n` or `nsenter -n`). */
/*
 * usage: uevent kernel [-n COUNT] [-i MS] HEADER [KEY=VALUE]...
 *        uevent multicast [-n COUNT] [-i MS] [-p PORTID] HEADER [KEY=VALUE]...
 *        uevent listen SECONDS
 *
 * kernel:    hands the message to the kernel's uevent socket of this network namespace,
 *            which (Linux 4.17 and later, lib/kobject_uevent.c uevent_net_rcv_skb) appends
 *            SEQNUM=N and multicasts it to group 1 of this namespace alone, from port id 0:
 *            a listener sees what it sees of a device's uevent. The kernel wants
 *            CAP_SYS_ADMIN over the namespace's user namespace (root here), and answers in
 *            an ack: "uevent: the kernel refused the message: Operation not permitted", exit 1.
 * multicast: sends it to group 1 itself, from its own port id (PORTID when given): what
 *            another process can do (it needs CAP_NET_ADMIN for that); exit 1 on a refusal.
 * listen:    prints "PORTID HEADER" for each message on group 1, for SECONDS, then exits 0
 *            (after printing "listening" once it is bound).
 *
 * HEADER and the fields are sent NUL-terminated, in that order; COUNT times, MS ms apart.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG_MAX 4096

static int
usage(void)
{
	fprintf(stderr, "usage: uevent kernel [-n COUNT] [-i MS] HEADER [KEY=VALUE]...\n"
			"       uevent multicast [-n COUNT] [-i MS] [-p PORTID] HEADER [KEY=VALUE]...\n"
			"       uevent listen SECONDS\n");
	return 2;
}

static long
number(const char *s, long max)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);

	return end == s || *end || v < 0 || v > max ? -1 : v;
}

static void
sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* The kernel's answer to one message: 0, or the negative errno it refused it with. */
static int
read_ack(int fd)
{
	char buf[MSG_MAX];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

	if (poll(&p, 1, 5000) != 1)
		return -ETIMEDOUT;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	if ((size_t)n < NLMSG_HDRLEN + sizeof(struct nlmsgerr) || h->nlmsg_type != NLMSG_ERROR)
		return -EBADMSG;
	return ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
}

static int
listen_for(long seconds)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	char buf[MSG_MAX + 1];
	time_t end = time(NULL) + seconds;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "uevent: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	while (time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_nl from = { 0 };
		socklen_t flen = sizeof(from);
		ssize_t n;

		if (poll(&p, 1, 100) != 1)
			continue;
		n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
		if (n < 0)
			continue;
		buf[n] = '\0';
		printf("%u %s\n", from.nl_pid, buf);
		fflush(stdout);
	}
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	char msg[MSG_MAX];
	size_t len = NLMSG_HDRLEN; /* room for the header the kernel mode puts first */
	long count = 1, interval = 0, port = 0;
	int mode, fd, i = 2;
	struct sockaddr_nl me = { .nl_family = AF_NETLINK }, to = { .nl_family = AF_NETLINK };

	if (argc == 3 && strcmp(argv[1], "listen") == 0)
		return number(argv[2], 3600) < 0 ? usage() : listen_for(number(argv[2], 3600));
	if (argc < 3 || (strcmp(argv[1], "kernel") != 0 && strcmp(argv[1], "multicast") != 0))
		return usage();
	mode = strcmp(argv[1], "kernel") == 0 ? 'k' : 'm';
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		long v = number(argv[i + 1], 1000000);

		if (v < 0)
			return usage();
		if (strcmp(argv[i], "-n") == 0)
			count = v;
		else if (strcmp(argv[i], "-i") == 0)
			interval = v;
		else if (strcmp(argv[i], "-p") == 0 && mode == 'm')
			port = v;
		else
			return usage();
	}
	if (i >= argc)
		return usage();
	for (; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;

		if (len + n > sizeof(msg)) {
			fprintf(stderr, "uevent: the message is longer than %d bytes\n", MSG_MAX);
			return 2;
		}
		memcpy(msg + len, argv[i], n);
		len += n;
	}
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	me.nl_pid = (unsigned)port;
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		fprintf(stderr, "uevent: cannot open a uevent socket: %s\n", strerror(errno));
		return 1;
	}
	if (mode == 'k') {
		struct nlmsghdr *h = (struct nlmsghdr *)msg;

		memset(h, 0, NLMSG_HDRLEN);
		h->nlmsg_len = (unsigned)len;
		h->nlmsg_type = NLMSG_MIN_TYPE; /* the kernel skips the control types below it */
		h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	} else {
		to.nl_groups = 1;
	}
	for (long k = 0; k < count; k++) {
		const char *p = mode == 'k' ? msg : msg + NLMSG_HDRLEN;
		size_t n = mode == 'k' ? len : len - NLMSG_HDRLEN;
		int r = 0;

		if (k > 0 && interval > 0)
			sleep_ms(interval);
		if (sendto(fd, p, n, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			r = -errno;
		else if (mode == 'k')
			r = read_ack(fd);
		if (r < 0) {
			fprintf(stderr, "uevent: the kernel refused the message: %s\n", strerror(-r));
			return 1;
		}
	}
	close(fd);
	return 0;
}
