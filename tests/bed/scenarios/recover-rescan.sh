#!/bin/bash
# recover: rescan on the real kernel: the e1000e behind rp1, in the running nested VM, removed through the guest's sysfs (`remove`) while its root port stays, is reported with recover: none and brought back by recover: rescan (a rescan of its bus only) and re-attached.
# bed-tier: 3
# bed-timeout: 300
set -eu
. tests/bed/lib.sh

behind=0000:01:00.0
bus=0000:01
id=8086:10d3
cfg=/tmp/recover.yaml
# write_cfg RECOVER: 01:00.0 to frigate_VM with recover: RECOVER.
write_cfg() {
	printf 'version: 1\ndevices:\n  behind-rp1:\n    address: "%s"\n    vm: frigate_VM\n    recover: %s\n' $behind "$1" >$cfg
	chmod 600 $cfg
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
gone() { [ ! -e /sys/bus/pci/devices/$behind ]; }

start_libvirtd
define_and_start_nested
write_cfg none
capture ./passthrough apply -v -c $cfg
expect_eq "apply" 0 "$rc"
wait_nested_sees $id 60

log "remove $behind in the guest's sysfs while its VM holds it"
t0=$(date +%s%N)
# vfio-pci's remove waits until QEMU lets the device go (it asks QEMU to unplug it first).
timeout 90 sh -c "echo 1 >/sys/bus/pci/devices/$behind/remove" || fail "remove of $behind returns" "exit 0 within 90 s" "exit $?"
wait_for "$behind is gone" 10 gone
log "remove to gone: $(ms_since "$t0") ms"
wait_nested_lost $id 60
wait_for "live XML no longer lists $behind" 30 live_xml_lacks_hostdev $behind
expect_eq "its root port stays" 1b36:000c "$(pci_id 0000:00:05.0)"
expect_file /sys/class/pci_bus/$bus "its bus $bus"

log "recover: none: reported, nothing rescanned"
capture ./passthrough plan -c $cfg
expect_match "plan says no device at $behind and what to do" "no PCI device at $behind.*recover: rescan" "$(printf '%s' "$out" | tr '\n' ' ')"
capture ./passthrough apply -v -c $cfg
log "apply with recover: none: exit $rc"
expect_ok "still gone (no rescan with recover: none)" gone

log "recover: rescan"
write_cfg rescan
capture ./passthrough plan -c $cfg
expect_match "the plan rescans its bus" "rescan" "$out"
t0=$(date +%s%N)
capture ./passthrough apply -v -c $cfg
expect_eq "apply with recover: rescan" 0 "$rc"
expect_match "apply rescans" "rescan" "$out"
log "apply (rescan, bind, attach): $(ms_since "$t0") ms"
expect_eq "driver of $behind" vfio-pci "$(pci_driver $behind)"
wait_nested_sees $id 60
log "apply to $behind seen inside the nested guest: $(ms_since "$t0") ms"
expect_ok "live XML lists $behind" live_xml_has_hostdev $behind
capture ./passthrough plan --detailed-exitcode -c $cfg
expect_eq "converged" 0 "$rc"
virsh destroy "$NESTED_NAME" >/dev/null
log "done"
