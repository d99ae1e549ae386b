#!/bin/bash
# Checks the bed itself: IOMMU groups as expected, 00:02.0 moved to vfio-pci and back by hand (driver_override + unbind + drivers_probe), and the binding semantics the FUSE fake copies.
# bed-tier: 2
# bed-timeout: 120
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0

log "IOMMU groups"
groups=$(find /sys/kernel/iommu_groups -mindepth 1 -maxdepth 1 | wc -l)
expect_ne "number of IOMMU groups" 0 "$groups"
expect_eq "members of 00:1f.0's group" "0000:00:1f.0 0000:00:1f.2 0000:00:1f.3" "$(pci_group_members 0000:00:1f.0)"
expect_eq "members of 01:00.0's group (behind root port rp1)" "0000:01:00.0" "$(pci_group_members 0000:01:00.0)"
expect_ne "group of 01:00.0 vs its root port 00:05.0" "$(pci_group 0000:00:05.0)" "$(pci_group 0000:01:00.0)"
expect_eq "members of 00:06.0's group (multi-function)" "0000:00:06.0 0000:00:06.1 0000:00:06.2" "$(pci_group_members 0000:00:06.0)"
expect_eq "members of $coral's group" "$coral" "$(pci_group_members $coral)"

log "fixed addresses"
expect_eq "id of $coral" 8086:10d3 "$(pci_id $coral)"
expect_eq "id of 00:03.0" 8086:100e "$(pci_id 0000:00:03.0)"
expect_eq "id of 00:04.0 (edu)" 1234:11e8 "$(pci_id 0000:00:04.0)"
expect_eq "id of 01:00.0" 8086:10d3 "$(pci_id 0000:01:00.0)"
expect_eq "driver of 00:04.0 (edu)" none "$(pci_driver 0000:00:04.0)"

log "$coral on e1000e at start"
expect_eq "driver of $coral" e1000e "$(pci_driver $coral)"
expect_eq "driver_override of $coral" "(null)" "$(cat /sys/bus/pci/devices/$coral/driver_override)"
netdev=$(pci_netdevs $coral)
expect_match "network interface of $coral" '^eth[0-9]+$' "$netdev"
group=$(pci_group $coral)
expect_no_file "/dev/vfio/$group" "/dev/vfio/$group before binding"

log "bind $coral to vfio-pci by hand"
pci_bind_vfio $coral
expect_file "/dev/vfio/$group" "/dev/vfio/$group after binding"
expect_eq "network interfaces of $coral on vfio-pci" "" "$(pci_netdevs $coral)"
expect_file "/sys/bus/pci/drivers/vfio-pci/$coral" "vfio-pci's link to $coral"

log "release $coral to e1000e"
pci_release $coral
expect_eq "driver of $coral after release" e1000e "$(pci_driver $coral)"
expect_eq "driver_override of $coral after release" "(null)" "$(cat /sys/bus/pci/devices/$coral/driver_override)"
wait_for "network interface of $coral reappears" 10 pci_has_netdev $coral
wait_for "/dev/vfio/$group goes away" 10 test ! -e "/dev/vfio/$group"

log "the binding, power, reset and rescan semantics the FUSE fake copies, on the real kernel (00:03.0 e1000; 01:00.0 e1000e behind its root port)"
if ! tests/fake/semantics.sh /sys 0000:00:03.0 e1000 0000:01:00.0 e1000e "pm bus" >/tmp/semantics.tap 2>&1; then
	fail "tests/fake/semantics.sh on the real kernel" "every check ok" "$(grep -A2 '^not ok' /tmp/semantics.tap)"
fi
log "ok: $(grep -c '^ok' /tmp/semantics.tap) binding semantics hold on the real kernel"

log "passthrough validate runs in the guest"
if [ -x ./passthrough ] && [ -f examples/test-bed.yaml ]; then
	expect_ok "passthrough validate -c examples/test-bed.yaml" ./passthrough validate -c examples/test-bed.yaml
else
	log "(./passthrough or examples/test-bed.yaml not there yet: not checked)"
fi
log "done"
