/* reads.c: the floor for a converged apply: only the reads it needs (every PCI device's ids, driver, override and group from sysfs; each domain's live XML from libvirt), nothing decided. */
#include <dirent.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t bytes;

/* Reads DEV/NAME under the devices directory dfd, as an observer reads one attribute. */
static void
read_attr(int dfd, const char *dev, const char *name)
{
	char rel[300], buf[256];
	int fd;
	ssize_t n;

	snprintf(rel, sizeof(rel), "%.255s/%.32s", dev, name);
	fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf));
	if (n > 0)
		bytes += (size_t)n;
	close(fd);
}

static void
read_link(int dfd, const char *dev, const char *name)
{
	char rel[300], buf[PATH_MAX];
	ssize_t n;

	snprintf(rel, sizeof(rel), "%.255s/%.32s", dev, name);
	n = readlinkat(dfd, rel, buf, sizeof(buf));
	if (n > 0)
		bytes += (size_t)n;
}

int
main(int argc, char **argv)
{
	static const char *const attrs[] = { "vendor", "device", "class", "subsystem_vendor",
					     "subsystem_device", "driver_override" };
	char devices[PATH_MAX];
	virConnectPtr conn;
	virDomainPtr *doms = NULL;
	DIR *d;
	int n;

	if (argc != 3) {
		fprintf(stderr, "usage: reads SYSFS-ROOT URI\n");
		return 64;
	}
	snprintf(devices, sizeof(devices), "%s/bus/pci/devices", argv[1]);
	d = opendir(devices);
	if (!d) {
		perror(devices);
		return 1;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
			read_attr(dirfd(d), e->d_name, attrs[i]);
		read_link(dirfd(d), e->d_name, "driver");
		read_link(dirfd(d), e->d_name, "iommu_group");
	}
	closedir(d);
	conn = virConnectOpenReadOnly(argv[2]);
	if (!conn)
		return 1;
	n = virConnectListAllDomains(conn, &doms, 0);
	for (int i = 0; i < n; i++) {
		char *xml = virDomainGetXMLDesc(doms[i], 0);

		if (xml)
			bytes += strlen(xml);
		free(xml);
		virDomainFree(doms[i]);
	}
	free(doms);
	virConnectClose(conn);
	printf("%zu bytes read\n", bytes);
	return n < 0;
}
