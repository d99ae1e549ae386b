#!/bin/bash
# Generates the hand-made fixtures "dualtpu-acs" and "dualtpu-noacs": a host with a Dual Edge TPU (two Coral functions behind an ASM1182e PCIe switch), with and without ACS, in the shape record-fixture.sh records.
#
# usage: tests/bed/gen-dualtpu.sh [FIXTURES-DIR]     (default tests/fixtures)
#
# Writes FIXTURES-DIR/sysfs/{dualtpu-acs,dualtpu-noacs} (--sysfs-root trees) and
# FIXTURES-DIR/proc/{dualtpu-acs,dualtpu-noacs}. Layout, attributes and formats as in
# fixture-lib.sh (tests/fixtures/sysfs/default's shapes; config space synthesized, with no
# capabilities: ACS shows only in the IOMMU groups). The card is an M.2 E-key Dual Edge
# TPU: an ASM1182e switch (upstream port 01:00.0, downstream ports 02:03.0 and 02:07.0, as
# lspci shows the real card) with one 1ac1:089a function behind each downstream port, no
# driver (apex not loaded). The groups follow Linux 6.1's pci_device_group: from a device,
# walk up while the bridge above has no ACS, joining that bridge's group.
#
# dualtpu-acs: ACS in the root port and the switch's downstream ports: one group each.
#   0000:00:00.0  8086:3ec2 host bridge                              group 0
#   0000:00:1c.0  8086:a338 PCH root port -> bus 01-04, pcieport     group 1
#   0000:00:1f.6  8086:15bc I219-V, e1000e, eno1 up                  group 2   (eno1 carries the default route)
#   0000:01:00.0  1b21:1182 ASM1182e upstream port -> 02-04          group 3
#   0000:02:03.0  1b21:1182 ASM1182e downstream port -> 03           group 4
#   0000:02:07.0  1b21:1182 ASM1182e downstream port -> 04           group 5
#   0000:03:00.0  1ac1:089a Edge TPU 0, no driver                    group 6
#   0000:04:00.0  1ac1:089a Edge TPU 1, no driver                    group 7
# dualtpu-noacs: no ACS in the switch, and none in the root port above it (the usual reason
# both TPUs of the card share a group: with ACS in the root port, 6.1 would give each TPU
# the group of its downstream port): every bridge from the root port down and both TPUs
# in group 1.
#   0000:00:00.0 group 0, 0000:00:1f.6 group 2, everything else group 1
#
# Power and reset attributes as a 6.1 kernel shows them (tests/fixtures/sysfs/default):
# the bridges D0, power/control on, no reset; each TPU has a PM capability but no FLR and
# is alone on its bus: reset_method bus (as the Coral of tests/cli/gen-power.sh), never
# enabled by a driver: power_state unknown, power/control on, d3cold_allowed 1; the NIC
# on e1000e D0, on, reset_method pm.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fixtures=${1:-$here/../fixtures}
# shellcheck source=tests/bed/fixture-lib.sh
. "$here/fixture-lib.sh"

# dualtpu NAME GROUP-UP GROUP-DN1 GROUP-DN2 GROUP-TPU0 GROUP-TPU1: one tree; the root
# port's group is 1, so 1 for every group above puts the whole card in the root port's.
dualtpu() {
	local name=$1 gu=$2 gd1=$3 gd2=$4 gt0=$5 gt1=$6 p=pci0000:00 rp proc
	root=$fixtures/sysfs/$name
	proc=$fixtures/proc/$name
	rm -rf "$root" "$proc"
	tree_init pcieport e1000e vfio-pci
	mkdir -p "$proc/net"

	dev $p/0000:00:00.0 8086 3ec2 060000 07 1043 8694 - 0 0
	RES=([14]="0xa1000000 0xa10fffff 0x200" [15]="0xa0000000 0xa03fffff 0x102201")
	dev $p/0000:00:1c.0 8086 a338 060400 f0 1043 8694 pcieport 1 122 00-01-04
	RES=("0xa1100000 0xa111ffff 0x40200")
	BARS="a1100000"
	dev $p/0000:00:1f.6 8086 15bc 020000 10 1043 8672 e1000e 2 131
	netif $p/0000:00:1f.6 eno1 04:d4:c4:aa:bb:01 up 0x1003 2

	rp=$p/0000:00:1c.0
	RES=([15]="0xa0000000 0xa03fffff 0x102201")
	dev $rp/0000:01:00.0 1b21 1182 060400 00 1b21 118f pcieport "$gu" 123 01-02-04
	RES=([15]="0xa0000000 0xa01fffff 0x102201")
	dev $rp/0000:01:00.0/0000:02:03.0 1b21 1182 060400 00 1b21 118f pcieport "$gd1" 124 02-03-03
	RES=([15]="0xa0200000 0xa03fffff 0x102201")
	dev $rp/0000:01:00.0/0000:02:07.0 1b21 1182 060400 00 1b21 118f pcieport "$gd2" 125 02-04-04
	RES=("0xa0100000 0xa0103fff 0x14220c" "" "0xa0000000 0xa00fffff 0x14220c")
	BARS="a010000c 00000000 a000000c 00000000"
	dev $rp/0000:01:00.0/0000:02:03.0/0000:03:00.0 1ac1 089a 088000 00 1ac1 089a - "$gt0" 16
	RES=("0xa0300000 0xa0303fff 0x14220c" "" "0xa0200000 0xa02fffff 0x14220c")
	BARS="a030000c 00000000 a020000c 00000000"
	dev $rp/0000:01:00.0/0000:02:07.0/0000:04:00.0 1ac1 089a 088000 00 1ac1 089a - "$gt1" 17

	pm 0000:00:00.0 unknown on 0 -
	pm 0000:00:1c.0 D0 on 1 -
	pm 0000:00:1f.6 D0 on 1 pm
	pm 0000:01:00.0 D0 on 1 -
	pm 0000:02:03.0 D0 on 1 -
	pm 0000:02:07.0 D0 on 1 -
	pm 0000:03:00.0 unknown on 1 bus
	pm 0000:04:00.0 unknown on 1 bus
	loopback

	cat >"$proc/mounts" <<-'EOF'
		/dev/nvme0n1p2 / ext4 rw,relatime,errors=remount-ro 0 0
		devtmpfs /dev devtmpfs rw,nosuid,relatime,size=16318296k,nr_inodes=4079574,mode=755 0 0
		proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
		sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
		tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=3268540k,mode=755 0 0
		cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
	EOF
	printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' >"$proc/swaps"
	cat >"$proc/modules" <<-'EOF'
		vfio_pci 16384 0 - Live 0x0000000000000000
		vfio_pci_core 94208 1 vfio_pci, Live 0x0000000000000000
		vfio_iommu_type1 45056 0 - Live 0x0000000000000000
		vfio 57344 2 vfio_pci_core,vfio_iommu_type1, Live 0x0000000000000000
		kvm_intel 380928 0 - Live 0x0000000000000000
		kvm 1142784 1 kvm_intel, Live 0x0000000000000000
		e1000e 323584 0 - Live 0x0000000000000000
	EOF
	echo "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=/dev/nvme0n1p2 ro quiet intel_iommu=on iommu=pt" >"$proc/cmdline"
	printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' >"$proc/net/route"
	printf 'eno1\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' >>"$proc/net/route"
	printf 'eno1\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n' >>"$proc/net/route"
	echo "$root"
}

dualtpu dualtpu-acs 3 4 5 6 7
dualtpu dualtpu-noacs 1 1 1 1 1
