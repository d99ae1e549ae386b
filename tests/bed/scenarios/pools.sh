#!/bin/bash
# Pools on a real libvirtd (issue 16): the bed's two 8086:10d3 e1000es as a pool of two entries for two running nested VMs, each getting its own through the installed hook; after both stop and start again in the other order, with the file's entries swapped (a fresh share-out would swap the devices too), each keeps its device; then `count: 2` gives both to one VM (not while the other VM, which the file no longer names, holds one).
# bed-tier: 3
# bed-timeout: 900
set -eu
. tests/bed/lib.sh

id=8086:10d3
nic0=0000:00:02.0 # the lowest address: the first entry's at the first start
nic1=0000:01:00.0 # behind rp1
cfg=/etc/passthrough.yaml

# The second VM, as apply-move makes it: another UUID name, titled ha_VM.
VM2_NAME=0b6d2c1e-3f4a-4b5c-8d9e-a1b2c3d4e5f6
VM2_LOG=$BED_WORK/nested2-console.log
vm2() { NESTED_NAME=$VM2_NAME NESTED_TITLE=ha_VM NESTED_LOG=$VM2_LOG "$@"; }
vm1() { "$@"; }

# pool_file: two entries, one `match`, no address: a pool.
pool_file() {
	cat <<-'EOF'
		version: 1
		devices:
		  nic_a:
		    match: { vendor: 0x8086, device: 0x10d3 }
		    vm: frigate_VM
		  nic_b:
		    match: { vendor: 0x8086, device: 0x10d3 }
		    vm: ha_VM
	EOF
}
# pool_file_swapped: the same two entries, nic_b first: a fresh share-out would give nic_b
# the lowest address, 0000:00:02.0.
pool_file_swapped() {
	cat <<-'EOF'
		version: 1
		devices:
		  nic_b:
		    match: { vendor: 0x8086, device: 0x10d3 }
		    vm: ha_VM
		  nic_a:
		    match: { vendor: 0x8086, device: 0x10d3 }
		    vm: frigate_VM
	EOF
}
# count_file: one entry taking both, for frigate_VM.
count_file() {
	cat <<-'EOF'
		version: 1
		devices:
		  both:
		    match: { vendor: 0x8086, device: 0x10d3 }
		    count: 2
		    vm: frigate_VM
	EOF
}
# nested_count: how many 8086:10d3 the nested guest lists now.
nested_count() {
	nested_pci_list | grep -o "=$id" | wc -l
}
nested_has_two() { [ "$(nested_count)" = 2 ]; }
# holds VM-FN BDF TITLE OTHER-BDF: the VM's live XML has BDF and not OTHER-BDF.
holds() {
	local run=$1
	expect_ok "$2 in $3's live XML" "$run" live_xml_has_hostdev "$2"
	expect_ok "$4 not in $3's live XML" "$run" live_xml_lacks_hostdev "$4"
}
# start_with VM-FN TITLE: start the VM with the hook alone; wait until its nested guest sees one.
start_with() {
	local t0
	t0=$(date +%s%N)
	"$1" start_nested
	"$1" wait_nested_sees $id 150
	log "$2: virsh start to $id seen inside: $((($(date +%s%N) - t0) / 1000000)) ms"
}
# put FN: the file FN writes, as /etc/passthrough.yaml (mode 600: validate refuses more).
put() {
	$1 >/tmp/pools.yaml
	install -m 600 /tmp/pools.yaml $cfg
}
put pool_file
capture ./passthrough install --systemd
expect_eq "install --systemd" 0 "$rc"
expect_file /etc/libvirt/hooks/qemu "the installed hook"
start_libvirtd
nested_domain_xml >/tmp/nested.xml
expect_ok "virsh define frigate_VM" virsh define /tmp/nested.xml
vm2 nested_domain_xml >/tmp/nested2.xml
expect_ok "virsh define ha_VM" virsh define /tmp/nested2.xml
capture ./passthrough plan -c $cfg
expect_match "plan names the pool" "pool 8086:10d3:" "$out"

log "start frigate_VM, then ha_VM; the hook alone: each gets one"
start_with vm1 frigate_VM
start_with vm2 ha_VM
holds vm1 $nic0 frigate_VM $nic1
holds vm2 $nic1 ha_VM $nic0
expect_eq "frigate_VM's nested guest: one $id" 1 "$(nested_count)"
expect_eq "ha_VM's nested guest: one $id" 1 "$(vm2 nested_count)"
capture ./passthrough plan --detailed-exitcode -c $cfg
expect_eq "plan --detailed-exitcode: converged" 0 "$rc"
expect_match "plan says which device each entry got" "nic_a.*$nic0|$nic0.*nic_a" "$out"

log "both stop; nic_b first in the file; ha_VM starts first, then frigate_VM: each keeps its device"
expect_ok "virsh destroy frigate_VM" virsh destroy "$NESTED_NAME"
expect_ok "virsh destroy ha_VM" virsh destroy "$VM2_NAME"
expect_eq "stopped: $nic0 still on vfio-pci" vfio-pci "$(pci_driver $nic0)"
expect_eq "stopped: $nic1 still on vfio-pci" vfio-pci "$(pci_driver $nic1)"
put pool_file_swapped
capture ./passthrough plan -c $cfg
expect_match "plan: each keeps its device though no VM holds one (the journal)" \
	"'nic_b' gets $nic1 \\(keeps it.*'nic_a' gets $nic0 \\(keeps it" "$out"
start_with vm2 ha_VM
holds vm2 $nic1 ha_VM $nic0
start_with vm1 frigate_VM
holds vm1 $nic0 frigate_VM $nic1
capture ./passthrough plan --detailed-exitcode -c $cfg
expect_eq "plan --detailed-exitcode after the restarts: converged" 0 "$rc"

log "count: 2 for frigate_VM while ha_VM (no longer named) holds $nic1: that one is not taken"
put count_file
capture ./passthrough apply -v -c $cfg
expect_eq "apply exit status (one of two found)" 1 "$rc"
expect_match "apply says the entry found too few" "'both': count: 2, but only 1 free PCI device" "$out"
holds vm2 $nic1 ha_VM $nic0
holds vm1 $nic0 frigate_VM $nic1

log "ha_VM stops: count: 2 gives both to frigate_VM"
expect_ok "virsh destroy ha_VM" virsh destroy "$VM2_NAME"
t0=$(date +%s%N)
capture ./passthrough apply -v -c $cfg
expect_eq "apply exit status" 0 "$rc"
wait_for "frigate_VM's nested guest sees two $id" 60 nested_has_two
log "apply start to both seen inside frigate_VM: $((($(date +%s%N) - t0) / 1000000)) ms"
expect_ok "$nic0 in frigate_VM's live XML" live_xml_has_hostdev $nic0
expect_ok "$nic1 in frigate_VM's live XML" live_xml_has_hostdev $nic1
capture ./passthrough apply -v -c $cfg
expect_eq "apply again: nothing to do" "" "$out"
capture ./passthrough plan --detailed-exitcode -c $cfg
expect_eq "plan --detailed-exitcode: converged" 0 "$rc"

virsh destroy "$NESTED_NAME" >/dev/null
capture ./passthrough uninstall
expect_eq "uninstall" 0 "$rc"
log "done"
