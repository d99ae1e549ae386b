#!/bin/bash
# Generates the hand-made fixture "vmd": a host whose second PCI domain, 10000, sits behind an Intel VMD controller, in the shape record-fixture.sh records.
#
# usage: tests/bed/gen-vmd.sh [FIXTURES-DIR]     (default tests/fixtures)
#
# Writes FIXTURES-DIR/sysfs/vmd (a --sysfs-root tree) and FIXTURES-DIR/proc/vmd.
# With VMD on, Linux moves the root ports the controller owns out of domain 0000 and
# numbers the domain behind it from 10000 (sysfs names like 10000:e1:00.0, five hex
# digits). The domain 0000 NVMe sits at the same bus, slot and function as one behind the
# VMD, 0000:e1:00.0 and 10000:e1:00.0: a reader that keeps only four hex digits of the
# domain takes one for the other. Bus numbers and IOMMU groups are synthetic (one group
# per device); config space as in fixture-lib.sh.
#
#   0000:00:00.0   8086:9a14 host bridge                          group 0
#   0000:00:0e.0   8086:9a0b VMD controller, vmd                  group 1
#   0000:00:1c.5   8086:a0bd root port -> bus e1, pcieport        group 2
#   0000:e1:00.0   144d:a808 NVMe SSD, vfio-pci (override)        group 3
#   10000:e0:06.0  8086:9a09 root port -> bus e1, pcieport        group 4
#   10000:e1:00.0  144d:a808 NVMe SSD, vfio-pci (override)        group 5
#   10000:e0:1d.0  8086:a0b0 root port -> bus e2, pcieport        group 6
#   10000:e2:00.0  8086:f1a8 NVMe SSD, nvme                       group 7
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fixtures=${1:-$here/../fixtures}
name=vmd
root=$fixtures/sysfs/$name
proc=$fixtures/proc/$name

rm -rf "$root" "$proc"
# shellcheck source=tests/bed/fixture-lib.sh
. "$here/fixture-lib.sh"
tree_init pcieport vmd nvme vfio-pci
mkdir -p "$proc/net"

# override BDF: driver_override vfio-pci, as the tool leaves a device it bound
override() {
	echo vfio-pci >"$root/bus/pci/devices/$1/driver_override"
}

p=pci0000:00
dev $p/0000:00:00.0 8086 9a14 060000 01 8086 7270 - 0 0
RES=("0x603c000000 0x603dffffff 0x14220c" "" "0x7c000000 0x7dffffff 0x40200" "" "0x603e100000 0x603e1fffff 0x14220c")
BARS="0000000c 00000060 7c000000 0000000c 00000060"
dev $p/0000:00:0e.0 8086 9a0b 010400 00 8086 7270 vmd 1 0
v=$p/0000:00:0e.0/pci10000:e0
mkdir -p "$root/devices/$v"

dev $p/0000:00:1c.5 8086 a0bd 060400 20 8086 7270 pcieport 2 122 00-e1-e1
RES=("0x6e000000 0x6e003fff 0x140204")
BARS="6e000004 00000000"
dev $p/0000:00:1c.5/0000:e1:00.0 144d a808 010802 00 144d a801 vfio-pci 3 16
override 0000:e1:00.0

dev $v/10000:e0:06.0 8086 9a09 060400 01 8086 7270 pcieport 4 0 e0-e1-e1
RES=("0x7c100000 0x7c103fff 0x140204")
BARS="7c100004 00000000"
dev $v/10000:e0:06.0/10000:e1:00.0 144d a808 010802 00 144d a801 vfio-pci 5 0
override 10000:e1:00.0

dev $v/10000:e0:1d.0 8086 a0b0 060400 20 8086 7270 pcieport 6 0 e0-e2-e2
RES=("0x7c000000 0x7c003fff 0x140204")
BARS="7c000004 00000000"
dev $v/10000:e0:1d.0/10000:e2:00.0 8086 f1a8 010802 03 8086 390d nvme 7 0

loopback

cat >"$proc/mounts" <<'EOF'
tmpfs / tmpfs rw,relatime 0 0
proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
EOF
printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' >"$proc/swaps"
cat >"$proc/modules" <<'EOF'
vfio_pci 16384 0 - Live 0xffffffffc0b80000
vfio_pci_core 94208 1 vfio_pci, Live 0xffffffffc0b60000
vfio_iommu_type1 49152 0 - Live 0xffffffffc0b50000
vfio 65536 2 vfio_pci_core,vfio_iommu_type1, Live 0xffffffffc0b40000
nvme 57344 0 - Live 0xffffffffc0a70000
vmd 24576 0 - Live 0xffffffffc0a60000
EOF
echo "BOOT_IMAGE=/boot/vmlinuz root=tmpfs intel_iommu=on iommu=pt" >"$proc/cmdline"
printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' >"$proc/net/route"
echo "$root"
