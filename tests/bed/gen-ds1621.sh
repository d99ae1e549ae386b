#!/bin/bash
# Generates the hand-made fixture "ds1621-coral": a Synology DS1621+-like host (AMD Ryzen V1500B) with a Coral TPU, in the shape record-fixture.sh records.
#
# usage: tests/bed/gen-ds1621.sh [FIXTURES-DIR]     (default tests/fixtures)
#
# Writes FIXTURES-DIR/sysfs/ds1621-coral (a --sysfs-root tree) and
# FIXTURES-DIR/proc/ds1621-coral (mounts, swaps, mdstat, modules, cmdline, net/route).
# The layout, attribute names and formats follow the trees recorded from the
# QEMU guest (tests/fixtures/sysfs/default); config space is synthesized
# (the 64-byte header, bridges with bus numbers, no capabilities).
#
#   0000:00:00.0  1022:15d0 host bridge                       group 0
#   0000:00:01.0  1022:1452 dummy host bridge                 group 1
#   0000:00:01.2  1022:15d3 GPP bridge -> bus 01  pcieport    group 2
#   0000:01:00.0  1ac1:089a Coral Edge TPU, no driver         group 3   <- the device to pass
#   0000:00:01.3  1022:15d3 GPP bridge -> bus 07  pcieport    group 4
#   0000:07:00.0  8086:10fb 82599ES port 0, ixgbe, eth0 up    group 5   (eth0 carries the default route)
#   0000:07:00.1  8086:10fb 82599ES port 1, ixgbe, eth1 down  group 5
#   0000:00:08.0  1022:1452 dummy host bridge                 group 6
#   0000:00:08.1  1022:15db internal GPP bridge -> bus 08     group 7
#   0000:08:00.0  1022:7901 FCH SATA (AHCI), ahci, sda/sdb    group 8   (sda1+sdb1 = md0 = /: host-critical)
#   0000:00:14.0  1022:790b FCH SMBus, piix4_smbus            group 9
#   0000:00:14.3  1022:790e FCH LPC bridge, no driver         group 9
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fixtures=${1:-$here/../fixtures}
name=ds1621-coral
root=$fixtures/sysfs/$name
proc=$fixtures/proc/$name

rm -rf "$root" "$proc"
# shellcheck source=tests/bed/fixture-lib.sh
. "$here/fixture-lib.sh"
tree_init pcieport ixgbe ahci piix4_smbus vfio-pci
mkdir -p "$proc/net"

p=pci0000:00
dev $p/0000:00:00.0 1022 15d0 060000 00 1022 15d0 - 0 0
dev $p/0000:00:01.0 1022 1452 060000 00 0000 0000 - 1 0

RES=([13]="0xfe600000 0xfe6fffff 0x200" [14]="0xfe500000 0xfe5fffff 0x200")
dev $p/0000:00:01.2 1022 15d3 060400 00 1022 1234 pcieport 2 26 00-01-01
RES=("0xfe500000 0xfe503fff 0x140204" "" "0xfe400000 0xfe4fffff 0x14220c")
BARS="fe500004 00000000 fe40000c 00000000"
dev $p/0000:00:01.2/0000:01:00.0 1ac1 089a 088000 00 1ac1 089a - 3 0

RES=([13]="0xe000 0xefff 0x101" [15]="0xfc000000 0xfc1fffff 0x102201")
dev $p/0000:00:01.3 1022 15d3 060400 00 1022 1234 pcieport 4 27 00-07-07
RES=("0xfc000000 0xfc07ffff 0x14220c" "" "0xe000 0xe01f 0x40101" "0xfc100000 0xfc103fff 0x14220c")
BARS="fc00000c 00000000 0000e001 fc10000c 00000000" HT=80
dev $p/0000:00:01.3/0000:07:00.0 8086 10fb 020000 01 8086 0003 ixgbe 5 40
RES=("0xfc080000 0xfc0fffff 0x14220c" "" "0xe020 0xe03f 0x40101" "0xfc104000 0xfc107fff 0x14220c")
BARS="fc08000c 00000000 0000e021 fc10400c 00000000"
dev $p/0000:00:01.3/0000:07:00.1 8086 10fb 020000 01 8086 0003 ixgbe 5 41
netif $p/0000:00:01.3/0000:07:00.0 eth0 00:11:32:aa:bb:01 up 0x1003 2
netif $p/0000:00:01.3/0000:07:00.1 eth1 00:11:32:aa:bb:02 down 0x1002 3

dev $p/0000:00:08.0 1022 1452 060000 00 0000 0000 - 6 0
RES=([14]="0xfe000000 0xfe0fffff 0x200")
dev $p/0000:00:08.1 1022 15db 060400 00 1022 15db pcieport 7 28 00-08-08
RES=([5]="0xfe000000 0xfe0007ff 0x40200")
BARS="00000000 00000000 00000000 00000000 00000000 fe000000"
dev $p/0000:00:08.1/0000:08:00.0 1022 7901 010601 61 1022 7901 ahci 8 30
ata=devices/$p/0000:00:08.1/0000:08:00.0
for disk in a:0:0 b:1:16; do
	IFS=: read -r x n minor <<<"$disk"
	b=$ata/ata$((n + 1))/host$n/target$n:0:0/$n:0:0:0/block/sd$x
	blockdev "$b" "sd$x" "8:$minor" 7814037168
	blockdev "$b/sd${x}1" "sd${x}1" "8:$((minor + 1))" 4980480 1
	blockdev "$b/sd${x}2" "sd${x}2" "8:$((minor + 2))" 4194304 2
	blockdev "$b/sd${x}5" "sd${x}5" "8:$((minor + 5))" 7804395168 5
done
# md0 = sda1+sdb1 (/), md1 = sda2+sdb2 (swap), md2 = sda5+sdb5 (/volume1, through cachedev_0)
for md in md0:0:1 md1:1:2 md2:2:5; do
	IFS=: read -r m min part <<<"$md"
	blockdev "devices/virtual/block/$m" "$m" "9:$min" 4980352
	mkdir -p "$root/devices/virtual/block/$m/slaves" "$root/devices/virtual/block/$m/holders"
	for x in a:0 b:1; do
		IFS=: read -r d n <<<"$x"
		partdir=${ata#devices/}/ata$((n + 1))/host$n/target$n:0:0/$n:0:0:0/block/sd$d/sd$d$part
		ln -s "../../../../$partdir" "$root/devices/virtual/block/$m/slaves/sd$d$part"
		# the kernel links both ways: the partition's holders/ names the array
		mkdir -p "$root/devices/$partdir/holders"
		ln -s "../../../../../../../../../../../virtual/block/$m" "$root/devices/$partdir/holders/$m"
	done
done
cat >"$proc/mdstat" <<'EOF'
Personalities : [raid1]
md2 : active raid1 sda5[0] sdb5[1]
      3902197584 blocks super 1.2 [2/2] [UU]

md1 : active raid1 sda2[0] sdb2[1]
      2097088 blocks [8/2] [UU______]

md0 : active raid1 sda1[0] sdb1[1]
      2490176 blocks [8/2] [UU______]

unused devices: <none>
EOF

HT=80
dev $p/0000:00:14.0 1022 790b 0c0500 61 1022 790b piix4_smbus 9 0
dev $p/0000:00:14.3 1022 790e 060100 51 1022 790e - 9 0

loopback

cat >"$proc/mounts" <<'EOF'
/dev/md0 / ext4 rw,relatime,data=ordered 0 0
devtmpfs /dev devtmpfs rw,nosuid,size=8039152k,nr_inodes=2009788,mode=755 0 0
devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=4,mode=620,ptmxmode=000 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev,mode=755 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /tmp tmpfs rw,nosuid,nodev,noexec 0 0
/dev/mapper/cachedev_0 /volume1 btrfs rw,nodev,relatime,ssd,synoacl,space_cache=v2,auto_reclaim_space,metadata_ratio=50,block_group_cache_tree,subvolid=256,subvol=/@syno 0 0
EOF
cat >"$proc/swaps" <<'EOF'
Filename				Type		Size		Used		Priority
/dev/md1                                partition	2097084		0		-2
EOF
cat >"$proc/modules" <<'EOF'
vfio_pci 61440 0 - Live 0xffffffffc0b80000
vfio_pci_core 69632 1 vfio_pci, Live 0xffffffffc0b60000
vfio_iommu_type1 40960 0 - Live 0xffffffffc0b50000
vfio 45056 2 vfio_pci_core,vfio_iommu_type1, Live 0xffffffffc0b40000
irqbypass 16384 2 vfio_pci_core,kvm, Live 0xffffffffc0a70000
kvm_amd 155648 0 - Live 0xffffffffc0a90000
kvm 1105920 1 kvm_amd, Live 0xffffffffc0940000
ixgbe 385024 0 - Live 0xffffffffc0880000
mdio 16384 1 ixgbe, Live 0xffffffffc0870000
EOF
echo "BOOT_IMAGE=/zImage syno_hw_version=DS1621+ console=ttyS0,115200n8 root=/dev/md0 amd_iommu=on iommu=pt" >"$proc/cmdline"
cat >"$proc/net/route" <<'EOF'
Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT                                                       
eth0	00000000	0101A8C0	0003	0	0	0	00000000	0	0	0                                                                              
eth0	0001A8C0	00000000	0001	0	0	0	00FFFFFF	0	0	0                                                                              
EOF
echo "$root"
