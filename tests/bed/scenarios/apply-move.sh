#!/bin/bash
# Changing vm: in the file moves the device between two running VMs: detach from the first, then attach to the second, without going back to the host driver in between.
# bed-tier: 3
# bed-timeout: 600
set -eu
. tests/bed/lib.sh

cfg=examples/test-bed.yaml
coral=0000:00:02.0
id=8086:10d3

# The second VM: another UUID name, titled ha_VM, with its own console log.
VM2_NAME=0b6d2c1e-3f4a-4b5c-8d9e-a1b2c3d4e5f6
VM2_LOG=$BED_WORK/nested2-console.log
vm2() { NESTED_NAME=$VM2_NAME NESTED_TITLE=ha_VM NESTED_LOG=$VM2_LOG "$@"; }

start_libvirtd
define_and_start_nested

log "apply: the device goes to frigate_VM"
capture ./passthrough apply -v -c "$cfg"
expect_eq "apply exit status" 0 "$rc"
wait_nested_sees $id 60

vm2 define_and_start_nested
vm2 _nested_lacks $id || fail "ha_VM before the move" "no $id" "$(vm2 nested_pci_list)"

log "vm: ha_VM in the file"
sed 's/    vm: frigate_VM/    vm: ha_VM/' "$cfg" >/tmp/moved.yaml
chmod 600 /tmp/moved.yaml
capture ./passthrough plan -c /tmp/moved.yaml
expect_match "plan shows the detach" "detach .*frigate_VM" "$out"
expect_match "plan shows the attach" "attach .*ha_VM" "$out"
t0=$(date +%s%N)
capture ./passthrough apply -v -c /tmp/moved.yaml
expect_eq "move exit status" 0 "$rc"
expect_match "move: detach, then attach" "detach from frigate_VM \(live\).*attach to ha_VM \(live\)" "$(printf '%s' "$out" | tr '\n' ' ')"
case $out in *unbind* | *"-> e1000e"*) fail "the device stays on vfio-pci during a move" "no unbind" "$out" ;; esac
vm2 wait_nested_sees $id 60
log "apply start to the device seen inside ha_VM: $((($(date +%s%N) - t0) / 1000000)) ms"
wait_nested_lost $id 60
expect_ok "frigate_VM's live XML no longer lists $coral" live_xml_lacks_hostdev $coral
expect_ok "ha_VM's live XML lists $coral" vm2 live_xml_has_hostdev $coral
expect_eq "driver of $coral" vfio-pci "$(pci_driver $coral)"

log "apply again: nothing to do, nothing printed"
capture ./passthrough apply -v -c /tmp/moved.yaml
expect_eq "second apply exit status" 0 "$rc"
expect_eq "second apply output" "" "$out"
capture ./passthrough plan --detailed-exitcode -c /tmp/moved.yaml
expect_eq "plan --detailed-exitcode after the move" 0 "$rc"

log "and back to frigate_VM"
capture ./passthrough apply -v -c "$cfg"
expect_eq "move back exit status" 0 "$rc"
wait_nested_sees $id 60
vm2 wait_nested_lost $id 60

virsh destroy "$NESTED_NAME" >/dev/null
virsh destroy "$VM2_NAME" >/dev/null
log "done"
