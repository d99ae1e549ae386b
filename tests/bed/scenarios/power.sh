#!/bin/bash
# Power on the real kernel: an idle e1000e on vfio-pci is in D3hot (the kernel's choice); power: on keeps it in D0 at run time and taking it out gives the kernel's choice back; vfio-pci's disable_idle_d3 parameter file written at run time changes nothing; vfio_pci: { disable_idle_d3: true } with no VM running reloads vfio-pci and keeps it in D0; with a VM holding the device the plan says a new value waits for the next load and nothing is reloaded.
# bed-tier: 3
# bed-timeout: 360
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0
id=8086:10d3
dev=/sys/bus/pci/devices/$coral
cfg=/tmp/power.yaml

# write_cfg IDLE-D3 STATE POWER: the file: vfio_pci's disable_idle_d3 (- for none), the
# device's state (bound, or attached to frigate_VM) and power (- for none).
write_cfg() {
	{
		echo "version: 1"
		[ "$1" = - ] || echo "vfio_pci: { disable_idle_d3: $1 }"
		echo "devices:"
		echo "  tpu-standin:"
		echo "    address: \"$coral\""
		echo "    match: { vendor: 0x8086, device: 0x10d3 }"
		if [ "$2" = bound ]; then echo "    state: bound"; else echo "    vm: frigate_VM"; fi
		[ "$3" = - ] || echo "    power: $3"
	} >$cfg
	chmod 600 $cfg
}
power() { # power: "power_state, power/control, d3cold_allowed" of the device
	echo "$(cat $dev/power_state) control=$(cat $dev/power/control) d3cold_allowed=$(cat $dev/d3cold_allowed)"
}
power_state_is() { [ "$(cat $dev/power_state)" = "$1" ]; }
# stays STATE SECONDS: power_state is STATE all that time (sampled every 0.5 s).
stays() {
	local n=$(($2 * 2)) seen
	while [ $n -gt 0 ]; do
		seen=$(cat $dev/power_state)
		[ "$seen" = "$1" ] || fail "power_state of $coral stays $1 for $2 s" "$1" "$seen ($(power))"
		sleep 0.5
		n=$((n - 1))
	done
	echo "ok: power_state of $coral stayed $1 for $2 s"
}
module_id() { stat -c %i /sys/module/vfio_pci 2>/dev/null || echo none; }
idle_param() { cat /sys/module/vfio_pci/parameters/disable_idle_d3 2>/dev/null || echo none; }
apply_v() { # apply_v WHAT: apply -v on $cfg, shown, exit 0 expected
	capture ./passthrough apply -v -c $cfg
	expect_eq "$1: apply exit status" 0 "$rc"
}

start_libvirtd
nested_domain_xml >/tmp/nested.xml
expect_ok "virsh define nested domain" virsh define /tmp/nested.xml
log "vfio-pci as the guest's init loaded it: module $(module_id), disable_idle_d3 $(idle_param); $coral on $(pci_driver $coral): $(power)"

log "1. state: bound, no power key, no vfio_pci key: the kernel's choice"
write_cfg - bound -
apply_v "bound"
expect_eq "driver of $coral" vfio-pci "$(pci_driver $coral)"
t0=$(date +%s%N)
wait_for "idle on vfio-pci: D3hot" 20 power_state_is D3hot
log "bound to D3hot: $((($(date +%s%N) - t0) / 1000000)) ms after apply; $(power)"
expect_eq "power/control after vfio-pci's bind" auto "$(cat $dev/power/control)"

log "2. power: on at run time"
write_cfg - bound on
apply_v "power: on"
expect_match "apply pins it in D0" "power" "$out"
expect_eq "power/control" on "$(cat $dev/power/control)"
expect_eq "d3cold_allowed" 0 "$(cat $dev/d3cold_allowed)"
wait_for "power: on: D0" 5 power_state_is D0
stays D0 5
log "power: on: $(power)"
capture ./passthrough apply -v -c $cfg
expect_eq "power: on again: nothing to do" "" "$out"
log "passthrough devices on $coral: $(./passthrough devices 2>&1 | sed -n "/^$coral /,/^0000/p" | sed '$d' | tr -s ' \n' ' ')"
log "journal: $(tr '\n' ';' </run/passthrough.journal 2>/dev/null)"

log "3. power: taken out: the kernel's values back"
write_cfg - bound -
apply_v "power taken out"
expect_eq "power/control given back" auto "$(cat $dev/power/control)"
expect_eq "d3cold_allowed given back" 1 "$(cat $dev/d3cold_allowed)"
wait_for "the kernel's choice again: D3hot" 20 power_state_is D3hot
log "power taken out: $(power)"

log "3b. the parameter file written at run time: reads Y, changes nothing, even after a rebind"
echo Y >/sys/module/vfio_pci/parameters/disable_idle_d3
expect_eq "the parameter file reads" Y "$(idle_param)"
echo $coral >/sys/bus/pci/drivers/vfio-pci/unbind
echo $coral >/sys/bus/pci/drivers_probe
expect_eq "driver of $coral after the rebind" vfio-pci "$(pci_driver $coral)"
wait_for "idle on vfio-pci after the rebind: D3hot all the same" 20 power_state_is D3hot
stays D3hot 3
log "parameter file Y, module loaded with N: $(power)"
echo N >/sys/module/vfio_pci/parameters/disable_idle_d3

log "4. vfio_pci: { disable_idle_d3: true }, no VM running: vfio-pci is reloaded"
write_cfg true bound -
module_before=$(module_id)
capture ./passthrough plan -c $cfg
expect_match "the plan unloads vfio-pci" "unload|modprobe -r" "$out"
expect_match "... and loads it with disable_idle_d3=1" "disable_idle_d3=1" "$out"
t0=$(date +%s%N)
apply_v "disable_idle_d3: true"
log "apply with the reload: $((($(date +%s%N) - t0) / 1000000)) ms"
expect_ne "vfio-pci was loaded again (the inode of /sys/module/vfio_pci)" "$module_before" "$(module_id)"
expect_eq "vfio-pci's disable_idle_d3" Y "$(idle_param)"
expect_eq "driver of $coral after the reload" vfio-pci "$(pci_driver $coral)"
wait_for "idle on vfio-pci with disable_idle_d3=1: D0" 5 power_state_is D0
stays D0 5
log "disable_idle_d3=1 in force: $(power)"
capture ./passthrough apply -v -c $cfg
expect_eq "disable_idle_d3 again: nothing to do" "" "$out"
capture ./passthrough status -c $cfg
log "journal: $(tr '\n' ';' </run/passthrough.journal 2>/dev/null)"

log "5. a VM holds the device: a new value waits for the next load"
start_nested
write_cfg true attached -
apply_v "attach with disable_idle_d3: true"
wait_nested_sees $id 60
write_cfg false attached -
module_before=$(module_id)
capture ./passthrough plan -c $cfg
expect_match "the plan says it waits for the next load" "disable_idle_d3.*next loaded|next load" "$out"
expect_match "... and why not now (the VM holds $coral, vfio-pci is in use)" "not now: .*($coral|frigate_VM|$NESTED_NAME|refcnt)" "$out"
if printf '%s\n' "$out" | grep -Eq 'modprobe -r|unload'; then
	fail "no unload planned while a VM holds a vfio-pci device" "no unload step" "$out"
fi
capture ./passthrough apply -v -c $cfg
expect_eq "module not reloaded" "$module_before" "$(module_id)"
expect_eq "disable_idle_d3 still in force" Y "$(idle_param)"
expect_ok "the device stays in the VM" live_xml_has_hostdev $coral
_nested_has $id || fail "the nested guest still sees $id" "$id" "$(nested_pci_list)"
virsh destroy "$NESTED_NAME" >/dev/null
log "done"
