#!/bin/bash
# passthrough devices, plan and status on the real kernel and a real libvirtd: real IOMMU groups, drivers, host use, and the nested domain's live hostdevs.
# bed-tier: 3
# bed-timeout: 420
set -eu
. tests/bed/lib.sh

cfg=examples/test-bed.yaml
coral=0000:00:02.0
nic=0000:00:03.0

log "devices: the real groups and drivers"
out=$(./passthrough devices -c "$cfg")
echo "$out" | sed 's/^/    /'
expect_match "00:1f.* as one group" "IOMMU group $(pci_group 0000:00:1f.0) with 0000:00:1f.2, 0000:00:1f.3" "$out"
expect_match "$coral on e1000e, claimed by the file" \
	"subsystem 8086:0000, driver e1000e, IOMMU group $(pci_group $coral) \(alone\)" "$out"
expect_match "the claim" "claimed by 'tpu-standin' \(attached to frigate_VM\)" "$out"
expect_match "the root port is a bridge" "bridge: exempt from the group rule" "$out"

log "devices: a NIC with an address is host-critical"
ifc=$(pci_netdevs $nic | head -n 1)
[ -n "$ifc" ] || fail "network interface of $nic" "one" "none"
ip addr add 192.0.2.1/24 dev "$ifc"   # TEST-NET-1 on a NIC with no peer: nothing leaves the guest
out=$(./passthrough devices --json -c "$cfg")
expect_match "$nic host-critical in JSON" \
	"\"address\":\"$nic\"[^}]*\"host_critical\":true,\"host_use\":\"network interface '$ifc' has an address\"" "$out"
ip addr del 192.0.2.1/24 dev "$ifc"

start_libvirtd
define_and_start_nested

log "plan: bind and attach to the domain found by its title"
capture ./passthrough plan --detailed-exitcode -c "$cfg"
expect_eq "plan --detailed-exitcode with changes pending" 2 "$rc"
expect_match "plan unbinds e1000e" "- unbind from e1000e" "$out"
expect_match "plan attaches to frigate_VM" "attach to frigate_VM \(live\)" "$out"

log "by hand: bind and attach, then the plan is empty"
pci_bind_vfio $coral
attach_hostdev $coral
wait_for "live XML lists hostdev $coral" 10 live_xml_has_hostdev $coral
capture ./passthrough plan --detailed-exitcode -c "$cfg"
expect_eq "plan --detailed-exitcode when converged" 0 "$rc"
expect_match "nothing to do" "Nothing to do" "$out"
out=$(./passthrough status -c "$cfg")
echo "$out" | sed 's/^/    /'
expect_match "status sees the live hostdev" "attached to frigate_VM" "$out"
expect_match "status converged" "1 of 1 device converged" "$out"

log "a stray attach to the wrong domain is planned away"
sed 's/vm: frigate_VM/state: bound/' "$cfg" >/tmp/bound.yaml
chmod 600 /tmp/bound.yaml
out=$(./passthrough plan -c /tmp/bound.yaml 2>&1 || true)
echo "$out" | sed 's/^/    /'
expect_match "bound: detach from frigate_VM" "- detach from frigate_VM \(live\)" "$out"

detach_hostdev $coral
wait_for "live XML drops hostdev $coral" 20 live_xml_lacks_hostdev $coral
pci_release $coral
virsh destroy "$NESTED_NAME" >/dev/null
log "done"
