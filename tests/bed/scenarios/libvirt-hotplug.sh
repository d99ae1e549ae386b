#!/bin/bash
# Hot-plugs 00:02.0 by hand (vfio-pci via sysfs, virsh attach/detach-device --live, managed='no') into the nested VM and watches it arrive and leave inside it.
# bed-tier: 3
# bed-timeout: 420
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0
id=8086:10d3

start_libvirtd
define_and_start_nested
expect_eq "title of $NESTED_NAME" "$NESTED_TITLE" "$(virsh desc --title "$NESTED_NAME" | sed '/^$/d')"
expect_eq "state of $NESTED_NAME" running "$(virsh domstate "$NESTED_NAME" | sed '/^$/d')"
_nested_lacks $id || fail "nested guest before attach" "no $id" "$(nested_pci_list)"

log "bind $coral to vfio-pci by hand"
pci_bind_vfio $coral
group=$(pci_group $coral)

log "attach"
attach_hostdev $coral
wait_for "live XML lists hostdev $coral" 10 live_xml_has_hostdev $coral
wait_nested_sees $id 60
expect_eq "driver of $coral while attached" vfio-pci "$(pci_driver $coral)"
qemu_pid=$(cat "/var/run/libvirt/qemu/$NESTED_NAME.pid")
holds_group() {
	local f
	for f in "/proc/$qemu_pid"/fd/*; do
		[ "$(readlink "$f")" = "/dev/vfio/$group" ] && return 0
	done
	return 1
}
expect_ok "nested QEMU holds /dev/vfio/$group" holds_group

log "detach"
detach_hostdev $coral
wait_for "live XML drops hostdev $coral" 20 live_xml_lacks_hostdev $coral
wait_nested_lost $id 60
expect_eq "driver of $coral after detach (managed='no' leaves it)" vfio-pci "$(pci_driver $coral)"

log "release $coral to e1000e"
pci_release $coral
expect_eq "driver of $coral after release" e1000e "$(pci_driver $coral)"
wait_for "network interface of $coral reappears" 10 pci_has_netdev $coral

expect_ok "virsh destroy" virsh destroy "$NESTED_NAME"
log "done"
