#!/bin/bash
# A released e1000e left on no driver with its override cleared (what a release killed between driver_override and the probe leaves), on the real kernel: plan says it is not converged, and the next apply puts it back on e1000e.
# bed-tier: 3
# bed-timeout: 300
set -eu
. tests/bed/lib.sh

nic=0000:00:02.0
dev=/sys/bus/pci/devices/$nic
printf 'version: 1\ndevices:\n  nic:\n    address: "%s"\n    state: bound\n' $nic >/tmp/bound.yaml
printf 'version: 1\ndevices:\n  nic:\n    address: "%s"\n    state: released\n' $nic >/tmp/released.yaml
chmod 600 /tmp/bound.yaml /tmp/released.yaml
start_libvirtd

expect_ok "bind it first (state: bound)" ./passthrough apply -c /tmp/bound.yaml
expect_eq "on vfio-pci" vfio-pci "$(pci_driver $nic)"
# the release's first two steps, then the process is gone (the kill): the probe never ran
echo $nic >/sys/bus/pci/drivers/vfio-pci/unbind
echo >"$dev/driver_override"
expect_eq "left on no driver" none "$(pci_driver $nic)"
expect_eq "override cleared" "(null)" "$(cat "$dev/driver_override")"
capture ./passthrough plan --detailed-exitcode -c /tmp/released.yaml
expect_eq "plan --detailed-exitcode with the released device driverless: changes pending" 2 "$rc"
capture ./passthrough status -c /tmp/released.yaml
expect_match "status: not converged" "NOT CONVERGED" "$out"
expect_ok "apply heals it" ./passthrough apply -c /tmp/released.yaml
expect_eq "back on e1000e" e1000e "$(pci_driver $nic)"
capture ./passthrough plan --detailed-exitcode -c /tmp/released.yaml
expect_eq "plan --detailed-exitcode after healing: nothing to do" 0 "$rc"
log "done"
