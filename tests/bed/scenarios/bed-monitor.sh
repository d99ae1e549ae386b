#!/bin/bash
# The bed's host-side tools for scenarios: QEMU's monitor (an HMP error comes back as an error; device_del and device_add of the e1000e behind rp1 take it out of the guest and give it back) and QEMU's e1000e reset trace (a `reset` through `bus` behind the root port resets the function in QEMU; what `pm` does is printed).
# bed-tier: 2
# bed-timeout: 180
# bed-trace: pci_cfg_write
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0
behind=0000:01:00.0
qid=e1000e-rp1
resets() { bed_trace_count e1000e_cb_qdev_reset; }
dev_attr() { cat "/sys/bus/pci/devices/$1/$2" 2>/dev/null || echo "(absent)"; }

for d in $coral 0000:00:03.0 0000:00:04.0 $behind; do
	r=absent
	[ ! -e "/sys/bus/pci/devices/$d/reset" ] || r=present
	log "$d $(pci_id "$d") on $(pci_driver "$d"): reset_method '$(dev_attr "$d" reset_method)', reset $r," \
		"power_state $(dev_attr "$d" power_state), power/control $(dev_attr "$d" power/control)," \
		"d3cold_allowed $(dev_attr "$d" d3cold_allowed)"
done

log "the monitor: an HMP command and an HMP error"
rc=0
out=$(bed_monitor "info pci") || rc=$?
expect_eq "info pci answers" 0 "$rc"
expect_match "info pci names the e1000e on bus 1" "Bus +1, device +0, function 0" "$out"
capture bed_monitor "device_add no-such-device-model"
expect_eq "an unknown device model is an error" 1 "$rc"
expect_match "... with QEMU's text" "no-such-device-model" "$out"

boot=$(resets)
log "e1000e resets traced since QEMU started (machine resets at boot): $boot"
expect_ne "the trace counts the boot's e1000e resets" 0 "$boot"

log "reset of $behind through bus (reset_method: bus): a secondary bus reset of rp1"
before=$(resets)
echo bus >/sys/bus/pci/devices/$behind/reset_method
expect_eq "reset_method of $behind" bus "$(cat /sys/bus/pci/devices/$behind/reset_method)"
t0=$(date +%s%N)
expect_ok "reset of $behind through bus" sh -c "echo 1 >/sys/bus/pci/devices/$behind/reset"
log "the reset write took $((($(date +%s%N) - t0) / 1000000)) ms"
wait_for "QEMU traced one more e1000e reset" 10 sh -c "[ \$(grep -c e1000e_cb_qdev_reset $BED_WORK/qemu-trace.log) -gt $before ]"
log "bus reset of $behind: e1000e resets $before -> $(resets)"
expect_eq "exactly one e1000e reset for one bus reset" $((before + 1)) "$(resets)"

log "reset of $behind through pm (D3hot and back) and of $coral (its only method, pm)"
echo pm >/sys/bus/pci/devices/$behind/reset_method
cfg_before=$(bed_trace_count pci_cfg_write)
before=$(resets)
echo 1 >/sys/bus/pci/devices/$behind/reset
echo 1 >/sys/bus/pci/devices/$coral/reset
sleep 2
log "pm resets of $behind and $coral: e1000e resets $before -> $(resets) (QEMU 7.2 does not reset a function on D3hot -> D0)"
log "config writes QEMU saw for them (the PM capability at 0xc8, its control word at 0xcc: 0x3 is D3hot, 0x0 is D0):"
grep pci_cfg_write "$BED_WORK/qemu-trace.log" | tail -n +$((cfg_before + 1)) |
	grep -E '(00:02\.0|01:00\.0) @0xc[89a-f]' | sed 's/^[0-9]*@[0-9.]*:/    /' | head -n 12
echo default >/sys/bus/pci/devices/$behind/reset_method
expect_eq "reset_method of $behind back to the kernel's default" "pm bus" "$(cat /sys/bus/pci/devices/$behind/reset_method)"

log "device_del $qid (the e1000e behind rp1), then device_add"
expect_eq "driver of $behind" e1000e "$(pci_driver $behind)"
t0=$(date +%s%N)
capture bed_monitor "device_del $qid"
expect_eq "device_del answers" 0 "$rc"
wait_for "QEMU says $qid is deleted" 40 sh -c "[ \$(grep -F DEVICE_DELETED $BED_WORK/qmp.log | grep -cF '\"device\": \"$qid\"') -ge 1 ]"
wait_for "$behind is gone from the guest's sysfs" 10 sh -c "! test -e /sys/bus/pci/devices/$behind"
log "device_del to gone: $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "the root port stays" 1b36:000c "$(pci_id 0000:00:05.0)"
t0=$(date +%s%N)
capture bed_monitor "device_add e1000e,bus=rp1,id=$qid"
expect_eq "device_add answers" 0 "$rc"
wait_for "$behind is back in the guest's sysfs" 30 test -e /sys/bus/pci/devices/$behind
wait_for "$behind is on e1000e again" 30 sh -c "[ \$(basename \$(readlink /sys/bus/pci/devices/$behind/driver 2>/dev/null) 2>/dev/null) = e1000e ]"
log "device_add to back on e1000e: $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "the new device's id" 8086:10d3 "$(pci_id $behind)"
log "QMP events this run: $(grep -o '"event": "[A-Z_]*"' "$BED_WORK/qmp.log" | sort | uniq -c | tr -s ' \n' ' ')"
log "done"
