#!/bin/sh
# /init of the nested guest that libvirtd boots inside the test bed: prints its PCI device list on the serial console whenever it changes.
#
# Each change prints one line "BEDPCI: BDF=VVVV:DDDD BDF=VVVV:DDDD ..." so a
# scenario can watch a hot-plugged device arrive and leave (lib.sh:
# wait_nested_sees, wait_nested_lost).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "BEDNESTED: up $(cat /proc/uptime)"
prev=
while :; do
	cur=
	for d in /sys/bus/pci/devices/*; do
		[ -e "$d/vendor" ] || continue
		read -r v <"$d/vendor" 2>/dev/null || continue
		read -r p <"$d/device" 2>/dev/null || continue
		cur="$cur ${d##*/}=${v#0x}:${p#0x}"
	done
	if [ "$cur" != "$prev" ]; then
		echo "BEDPCI:$cur"
		prev=$cur
	fi
	sleep 0.5
done
