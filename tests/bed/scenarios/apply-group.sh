#!/bin/bash
# The three-function group 00:06.*: apply refuses (and changes nothing) while a member is undeclared on its host driver, binds all three once declared, and whole_group takes them too.
# bed-tier: 3
# bed-timeout: 300
set -eu
. tests/bed/lib.sh

members="0000:00:06.0 0000:00:06.1 0000:00:06.2"

# conf FILE LINES...: a passthrough.yaml with these device lines.
conf() {
	local f=$1
	shift
	{ echo "version: 1"; echo "devices:"; printf '  %s\n' "$@"; } >"$f"
	chmod 600 "$f"
}

drivers() {
	local m
	for m in $members; do printf '%s ' "$(pci_driver "$m")"; done | sed 's/ $//'
}

start_libvirtd   # apply reads the domains; no VM is needed here
group=$(pci_group 0000:00:06.0)
expect_eq "00:06.* share one group" "$members" "$(pci_group_members 0000:00:06.0)"
expect_eq "drivers before" "e1000 e1000 e1000" "$(drivers)"

log "one member declared: refused, nothing changes"
conf /tmp/one.yaml 'g0: { address: "0000:00:06.0", state: bound }'
capture ./passthrough apply -v -c /tmp/one.yaml
expect_eq "apply exit status" 1 "$rc"
expect_match "names the undeclared member" \
	"IOMMU group $group would not be viable: 0000:00:06.1 \(8086:100f\) shares it and is on e1000" "$out"
expect_eq "drivers after the refusal" "e1000 e1000 e1000" "$(drivers)"

log "all three declared: bound"
conf /tmp/all.yaml 'g0: { address: "0000:00:06.0", state: bound }' \
	'g1: { address: "0000:00:06.1", state: bound }' 'g2: { address: "0000:00:06.2", state: bound }'
capture ./passthrough apply -v -c /tmp/all.yaml
expect_eq "apply exit status" 0 "$rc"
expect_eq "drivers after apply" "vfio-pci vfio-pci vfio-pci" "$(drivers)"
expect_file "/dev/vfio/$group"
capture ./passthrough apply -v -c /tmp/all.yaml
expect_eq "second apply output" "" "$out"

log "releasing one while the others stay: refused"
conf /tmp/half.yaml 'g0: { address: "0000:00:06.0", state: bound }' \
	'g1: { address: "0000:00:06.1", state: bound }' 'g2: { address: "0000:00:06.2", state: released }'
capture ./passthrough apply -v -c /tmp/half.yaml
expect_eq "apply exit status" 1 "$rc"
expect_match "says why" "cannot go back to the host while 0000:00:06.0 \('g0'\) shares IOMMU group $group on vfio-pci" "$out"
expect_eq "drivers after the refusal" "vfio-pci vfio-pci vfio-pci" "$(drivers)"

log "all released together"
conf /tmp/rel.yaml 'g0: { address: "0000:00:06.0", state: released }' \
	'g1: { address: "0000:00:06.1", state: released }' 'g2: { address: "0000:00:06.2", state: released }'
capture ./passthrough apply -v -c /tmp/rel.yaml
expect_eq "apply exit status" 0 "$rc"
expect_eq "drivers after release" "e1000 e1000 e1000" "$(drivers)"

log "whole_group: one entry takes the group"
conf /tmp/whole.yaml 'g0: { address: "0000:00:06.0", state: bound, whole_group: true }'
capture ./passthrough apply -v -c /tmp/whole.yaml
expect_eq "apply exit status" 0 "$rc"
expect_eq "drivers after whole_group" "vfio-pci vfio-pci vfio-pci" "$(drivers)"
capture ./passthrough apply -v -c /tmp/rel.yaml
expect_eq "drivers after the last release" "e1000 e1000 e1000" "$(drivers)"
log "done"
