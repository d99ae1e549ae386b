#!/bin/bash
# Records the guest's PCI view as fixture trees (default, e1000e-vfio), checks that lspci reads them like the live /sys, and leaves them in the work share as fixtures.tar.
# bed-tier: 2
# bed-timeout: 150
set -eu
. tests/bed/lib.sh

out=/tmp/fixtures # tmpfs: thousands of small files are slow over 9p
coral=0000:00:02.0

# same_as_live NAME: lspci on the recorded tree prints what it prints on /sys.
same_as_live() {
	local live tree sel='^[0-9a-f]|IOMMU group|Kernel driver'
	live=$(lspci -nnk)
	tree=$(lspci -A linux-sysfs -O "sysfs.path=$out/sysfs/$1/bus/pci" -nnk)
	expect_eq "lspci -nnk on fixture $1 vs live /sys" "$live" "$tree"
	live=$(lspci -D -vv | grep -E "$sel")
	tree=$(lspci -A linux-sysfs -O "sysfs.path=$out/sysfs/$1/bus/pci" -D -vv | grep -E "$sel")
	expect_eq "lspci -D -vv (IOMMU group, driver) on fixture $1 vs live /sys" "$live" "$tree"
}

# same_power NAME BDF: the tree has BDF's power and reset attributes as the live /sys has them.
same_power() {
	local a live tree rel
	rel=$(cd /sys/bus/pci/devices && readlink "$2")
	rel=devices/${rel##*devices/}
	for a in power_state reset_method d3cold_allowed power/control; do
		live=$(cat "/sys/$rel/$a" 2>/dev/null || echo absent)
		tree=$(cat "$out/sysfs/$1/$rel/$a" 2>/dev/null || echo absent)
		expect_eq "$a of $2 in fixture $1" "$live" "$tree"
	done
	live=absent tree=absent
	[ ! -e "/sys/$rel/reset" ] || live=present
	[ ! -e "$out/sysfs/$1/$rel/reset" ] || tree=present
	expect_eq "reset of $2 in fixture $1" "$live" "$tree"
}

log "record default"
bash tests/bed/record-fixture.sh "$out/sysfs/default" "$out/proc/default"
same_as_live default
for d in $coral 0000:00:03.0 0000:00:04.0 0000:01:00.0; do same_power default "$d"; done

log "record e1000e-vfio ($coral on vfio-pci)"
pci_bind_vfio $coral
bash tests/bed/record-fixture.sh "$out/sysfs/e1000e-vfio" "$out/proc/e1000e-vfio"
same_as_live e1000e-vfio
same_power e1000e-vfio $coral
expect_eq "driver link of $coral in e1000e-vfio" ../../../bus/pci/drivers/vfio-pci \
	"$(readlink "$out/sysfs/e1000e-vfio/devices/pci0000:00/$coral/driver")"
expect_eq "driver_override of $coral in e1000e-vfio" vfio-pci \
	"$(cat "$out/sysfs/e1000e-vfio/devices/pci0000:00/$coral/driver_override")"
pci_release $coral

tar -C "$out" -cf "$BED_WORK/fixtures.tar" sysfs proc
log "fixtures.tar: $(du -k --apparent-size "$BED_WORK/fixtures.tar" | cut -f1) KiB, $(tar -tf "$BED_WORK/fixtures.tar" | wc -l) entries"
log "done"
