#!/bin/bash
# Generates the hand-made fixture "usb": USB devices in the shape of a real Linux /sys/bus/usb, until one is recorded from the bed.
#
# usage: tests/bed/gen-usb.sh [FIXTURES-DIR]     (default tests/fixtures)
#
# Writes FIXTURES-DIR/sysfs/usb (a --sysfs-root tree) and FIXTURES-DIR/proc/usb. The layout
# and attribute forms are the kernel's (Documentation/ABI/stable/sysfs-bus-usb): links from
# bus/usb/devices into devices/pci.../usbN/..., a device named by its port path, interfaces
# "PORT:CONFIG.IF", ids in hex without 0x, busnum/devnum in decimal, classes in hex. No PCI
# devices (bus/pci/devices is empty): the tree is for the USB side only.
#
#   usb2    bus 2 device 1  1d6b:0003 root hub (class 09)
#   2-1     bus 2 device 2  05e3:0626 hub (class 09)
#   2-1.3   bus 2 device 5  18d1:9302 the USB Coral after its firmware, no serial
#   2-1.4   bus 2 device 3  0781:5583 SanDisk Ultra Fit, mass storage, /dev/sdb1 mounted
#   2-1.5   bus 2 device 6  10c4:ea60 CP2102 serial adapter (a Zigbee stick), serial 0001
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fixtures=${1:-$here/../fixtures}
name=usb
root=$fixtures/sysfs/$name
proc=$fixtures/proc/$name
xhci=devices/pci0000:00/0000:00:14.0

rm -rf "$root" "$proc"
mkdir -p "$root/bus/pci/devices" "$root/bus/usb/devices" "$root/class/block" "$proc/net"
: > "$root/bus/pci/devices/.keep"   # git keeps no empty folder; the observer skips dot names

# dev PATH ATTR=VALUE...: a USB device or interface directory below the xHCI controller
dev() {
	local path=$1 kv
	shift
	mkdir -p "$root/$xhci/$path"
	for kv in "$@"; do
		printf '%s\n' "${kv#*=}" > "$root/$xhci/$path/${kv%%=*}"
	done
	ln -s "../../../$xhci/$path" "$root/bus/usb/devices/${path##*/}"
}

dev usb2 busnum=2 devnum=1 idVendor=1d6b idProduct=0003 bDeviceClass=09 'product=xHCI Host Controller' \
	serial=0000:00:14.0
dev usb2/2-0:1.0 bInterfaceClass=09
dev usb2/2-1 busnum=2 devnum=2 idVendor=05e3 idProduct=0626 bDeviceClass=09 'product=USB3.1 Hub'
dev usb2/2-1/2-1:1.0 bInterfaceClass=09
dev usb2/2-1/2-1.3 busnum=2 devnum=5 idVendor=18d1 idProduct=9302 bDeviceClass=00
dev usb2/2-1/2-1.3/2-1.3:1.0 bInterfaceClass=ff
dev usb2/2-1/2-1.4 busnum=2 devnum=3 idVendor=0781 idProduct=5583 bDeviceClass=00 'product=Ultra Fit' \
	serial=4C530001230101115393
dev usb2/2-1/2-1.4/2-1.4:1.0 bInterfaceClass=08
dev usb2/2-1/2-1.5 busnum=2 devnum=6 idVendor=10c4 idProduct=ea60 bDeviceClass=00 \
	'product=CP2102 USB to UART Bridge Controller' serial=0001
dev usb2/2-1/2-1.5/2-1.5:1.0 bInterfaceClass=ff
disk=$xhci/usb2/2-1/2-1.4/2-1.4:1.0/host6/target6:0:0/6:0:0:0/block/sdb
mkdir -p "$root/$disk/sdb1"
ln -s "../../$disk" "$root/class/block/sdb"
ln -s "../../$disk/sdb1" "$root/class/block/sdb1"

printf '/dev/sda1 / ext4 rw,relatime 0 0\n/dev/sdb1 /mnt/stick vfat rw,relatime 0 0\n' > "$proc/mounts"
printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' > "$proc/swaps"
printf 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n' > "$proc/cmdline"
printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' > "$proc/net/route"
: > "$proc/modules"
