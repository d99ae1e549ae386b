#!/bin/bash
# SIGKILL of apply the moment the host reaches each stage of a bind, and in the middle of the attach; then apply again: always converged, the device inside the nested VM, nothing lost.
# bed-tier: 3
# bed-timeout: 600
set -eu
. tests/bed/lib.sh

cfg=examples/test-bed.yaml
coral=0000:00:02.0
id=8086:10d3
sed 's/    vm: frigate_VM/    state: released/' "$cfg" >/tmp/released.yaml
chmod 600 /tmp/released.yaml

dev=/sys/bus/pci/devices/$coral

# The stages, tested with shell builtins only so that the kill follows closely.
stage_override() { local o; read -r o <"$dev/driver_override"; [ "$o" = vfio-pci ]; }
stage_unbound() { [ ! -e "$dev/driver" ]; }
stage_bound() { [ -e "/sys/bus/pci/drivers/vfio-pci/$coral" ]; }
stage_attaching() { stage_bound && sleep 0.1; }   # inside the attach RPC, most runs

start_libvirtd
define_and_start_nested

for stage in override unbound bound attaching; do
	expect_ok "back to the start (released)" ./passthrough apply -c /tmp/released.yaml
	expect_eq "driver before the kill" e1000e "$(pci_driver $coral)"
	./passthrough apply -c "$cfg" >/dev/null 2>&1 &
	pid=$!
	hit=no
	while kill -0 "$pid" 2>/dev/null; do
		if "stage_$stage"; then
			kill -9 "$pid" 2>/dev/null && hit=yes
			break
		fi
	done
	wait "$pid" 2>/dev/null || true
	log "killed at stage '$stage' ($hit): driver $(pci_driver $coral), override $(cat "$dev/driver_override"), live XML $(live_xml_has_hostdev $coral && echo has || echo lacks) it"
	expect_ok "apply after the kill at '$stage'" ./passthrough apply -c "$cfg"
	expect_eq "driver after recovery" vfio-pci "$(pci_driver $coral)"
	expect_ok "live XML has $coral after recovery" live_xml_has_hostdev $coral
	expect_eq "hostdevs in the live XML" 1 "$(virsh dumpxml "$NESTED_NAME" | grep -c '<hostdev ')"
	wait_nested_sees $id 60
	capture ./passthrough plan --detailed-exitcode -c "$cfg"
	expect_eq "plan --detailed-exitcode after recovery" 0 "$rc"
done
virsh destroy "$NESTED_NAME" >/dev/null
log "done"
