#!/bin/bash
# Generates the hand-made fixtures "power" and "power-4.4": devices with the power and reset attributes of a 6.1 kernel and of Linux 4.4 (Synology DSM 7.2), for the golden cases of devices, status and doctor.
#
# usage: tests/cli/gen-power.sh [FIXTURES-DIR]     (default tests/fixtures)
#
# Writes FIXTURES-DIR/sysfs/{power,power-4.4} (--sysfs-root trees, in the shape of
# tests/bed/fixture-lib.sh) and FIXTURES-DIR/proc/{power,power-4.4}. The attributes and the
# kernel that brought each one follow Documentation/ABI/testing/sysfs-bus-pci: d3cold_allowed
# 3.7, power_state 5.10, reset_method 5.15 (reset: only for a device with a reset method),
# iommu_group/type 5.6; power/control comes from the PM core (every kernel here).
#
# power (a 6.1 host like the test bed, with the devices the issue names):
#   0000:00:00.0  8086:29c0 host bridge                             group 0  D0
#   0000:00:01.0  1b36:000c root port -> bus 01, pcieport           group 1  D0
#   0000:01:00.0  8086:10d3 82574L, vfio-pci (override)             group 2  D3hot, reset flr pm bus
#   0000:00:03.0  1234:11e8 QEMU edu, vfio-pci (override)           group 3  D0, no reset
#   0000:00:04.0  8086:100e 82540EM, vfio-pci (override)            group 4  D3cold, reset pm
#   0000:00:05.0  1ac1:089a Coral, vfio-pci (override)              group 5  D0, reset bus; its
#                                                                            config space reads ffff
# power-4.4 (Linux 4.4 as on DSM 7.2: no power_state, no reset_method, no iommu_group/type):
#   0000:00:00.0  1022:15d0 host bridge                             group 0
#   0000:00:01.2  1022:15d3 GPP bridge -> bus 01, pcieport          group 1
#   0000:01:00.0  1ac1:089a Coral, vfio-pci (override)              group 2  reset (methods unknown)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fixtures=${1:-$here/../fixtures}
# shellcheck source=tests/bed/fixture-lib.sh
. "$here/../bed/fixture-lib.sh"

override() {
	echo vfio-pci >"$root/bus/pci/devices/$1/driver_override"
}

# proc_tree DIR: what the host-use checks read, for a host with nothing on these devices.
proc_tree() {
	mkdir -p "$1/net"
	cat >"$1/mounts" <<'EOF'
/dev/vda1 / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
EOF
	printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' >"$1/swaps"
	echo "vfio_pci 16384 0 - Live 0x0000000000000000" >"$1/modules"
	echo "root=/dev/vda1 intel_iommu=on" >"$1/cmdline"
	printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' >"$1/net/route"
}

root=$fixtures/sysfs/power
rm -rf "$root" "$fixtures/proc/power"
tree_init pcieport e1000e e1000 vfio-pci
p=pci0000:00
dev $p/0000:00:00.0 8086 29c0 060000 00 1af4 1100 - 0 0
dev $p/0000:00:01.0 1b36 000c 060400 00 1b36 0000 pcieport 1 24 00-01-01
dev $p/0000:00:01.0/0000:01:00.0 8086 10d3 020000 00 8086 0000 vfio-pci 2 22
dev $p/0000:00:03.0 1234 11e8 00ff00 10 1af4 1100 vfio-pci 3 11
dev $p/0000:00:04.0 8086 100e 020000 03 1af4 1100 vfio-pci 4 10
dev $p/0000:00:05.0 1ac1 089a 088000 00 1ac1 089a vfio-pci 5 16
for d in 0000:01:00.0 0000:00:03.0 0000:00:04.0 0000:00:05.0; do override $d; done
# gone from the bus: every config read answers all ones (the kernel keeps the ids it read at probe)
head -c 256 /dev/zero | tr '\0' '\377' >"$root/devices/$p/0000:00:05.0/config"
pm 0000:00:00.0 D0 on 1 -
pm 0000:00:01.0 D0 on 1 -
pm 0000:01:00.0 D3hot auto 1 "flr pm bus"
pm 0000:00:03.0 D0 auto 1 -
pm 0000:00:04.0 D3cold auto 1 pm
pm 0000:00:05.0 D0 auto 1 bus
loopback
proc_tree "$fixtures/proc/power"

root=$fixtures/sysfs/power-4.4
rm -rf "$root" "$fixtures/proc/power-4.4"
tree_init pcieport vfio-pci
dev $p/0000:00:00.0 1022 15d0 060000 00 1022 15d0 - 0 0
dev $p/0000:00:01.2 1022 15d3 060400 00 1022 1234 pcieport 1 26 00-01-01
dev $p/0000:00:01.2/0000:01:00.0 1ac1 089a 088000 00 1ac1 089a vfio-pci 2 0
override 0000:01:00.0
pm 0000:00:00.0 - on 1 -
pm 0000:00:01.2 - on 1 -
pm 0000:01:00.0 - auto 1 reset
rm -f "$root"/kernel/iommu_groups/*/type
loopback
proc_tree "$fixtures/proc/power-4.4"
echo "$fixtures/sysfs/power $fixtures/sysfs/power-4.4"
