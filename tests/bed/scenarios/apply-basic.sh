#!/bin/bash
# passthrough apply on the real kernel and libvirtd: the stand-in goes to vfio-pci and into the running nested VM; a second run does and prints nothing; state: released gives it back.
# bed-tier: 3
# bed-timeout: 420
set -eu
. tests/bed/lib.sh

cfg=examples/test-bed.yaml
coral=0000:00:02.0
id=8086:10d3

start_libvirtd
define_and_start_nested
_nested_lacks $id || fail "nested guest before apply" "no $id" "$(nested_pci_list)"

log "apply"
t0=$(date +%s%N)
capture ./passthrough apply -v -c "$cfg"
expect_eq "apply exit status" 0 "$rc"
expect_match "apply sets driver_override" "driver_override \(none\) -> vfio-pci" "$out"
expect_match "apply unbinds e1000e" "unbind from e1000e" "$out"
expect_match "apply attaches" "attach to frigate_VM \(live\)" "$out"
wait_nested_sees $id 60
log "apply start to the device seen inside the nested guest: $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "driver of $coral" vfio-pci "$(pci_driver $coral)"
expect_eq "driver_override of $coral" vfio-pci "$(cat /sys/bus/pci/devices/$coral/driver_override)"
expect_ok "live XML lists $coral" live_xml_has_hostdev $coral

log "apply again: nothing to do, nothing printed"
t0=$(date +%s%N)
capture ./passthrough apply -v -c "$cfg"
log "converged apply took $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "second apply exit status" 0 "$rc"
expect_eq "second apply output" "" "$out"
capture ./passthrough plan --detailed-exitcode -c "$cfg"
expect_eq "plan --detailed-exitcode after apply" 0 "$rc"

log "state: released gives it back to e1000e"
sed 's/    vm: frigate_VM/    state: released/' "$cfg" >/tmp/released.yaml
chmod 600 /tmp/released.yaml
capture ./passthrough apply -v -c /tmp/released.yaml
expect_eq "release exit status" 0 "$rc"
expect_match "release detaches first" "detach from frigate_VM \(live\)" "$out"
wait_nested_lost $id 60
expect_eq "driver of $coral after release" e1000e "$(pci_driver $coral)"
expect_eq "driver_override of $coral after release" "(null)" "$(cat /sys/bus/pci/devices/$coral/driver_override)"
wait_for "the host sees the NIC of $coral again" 10 pci_has_netdev $coral
capture ./passthrough apply -v -c /tmp/released.yaml
expect_eq "released again: output" "" "$out"

virsh destroy "$NESTED_NAME" >/dev/null
log "done"
