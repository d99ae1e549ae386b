#!/bin/bash
# persistent: true on a real libvirtd: apply hot-plugs the device and writes it into the domain's persistent definition; after a stop and a start (no hook, no watch, no apply) it is in the nested guest from boot, on QEMU's command line, with no device_add.
# bed-tier: 3
# bed-timeout: 420
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0
id=8086:10d3
cfg=/tmp/persistent.yaml
qemu_log=/var/log/libvirt/qemu/$NESTED_NAME.log
mon_log=$BED_WORK/libvirtd-monitor.log
{
	cat examples/test-bed.yaml
	echo "    persistent: true"
} >$cfg
chmod 600 $cfg
expect_no_file /etc/libvirt/hooks/qemu "no hook"

start_libvirtd --monitor-log
define_and_start_nested
_nested_lacks $id || fail "nested guest before apply" "no $id" "$(nested_pci_list)"

# device_adds: the QMP device_add commands libvirtd sent for a vfio-pci device (each is
# logged as QEMU_MONITOR_SEND_MSG, and again as the IO_WRITE that carries it).
device_adds() {
	grep -F 'QEMU_MONITOR_SEND_MSG' "$mon_log" 2>/dev/null | grep -F '"execute":"device_add"' |
		grep -c '"driver":"vfio-pci"' || true
}
inactive_has_hostdev() {
	virsh dumpxml --inactive "$NESTED_NAME" | tr -d '\n' | grep -Eq \
		"<hostdev [^>]*>[[:space:]]*(<driver [^>]*/>[[:space:]]*)?<source>[[:space:]]*<address domain='0x0000' bus='0x00' slot='0x02' function='0x0'"
}

log "apply with persistent: true"
expect_eq "device_add of a vfio-pci device before apply" 0 "$(device_adds)"
capture ./passthrough apply -v -c $cfg
expect_eq "apply exit status" 0 "$rc"
expect_match "apply attaches it live and to the persistent definition" "attach to frigate_VM \(live and persistent\)" "$out"
wait_nested_sees $id 60
expect_eq "device_add of a vfio-pci device by the live attach (how a hot-plug shows in the log)" 1 "$(device_adds)"
expect_ok "persistent definition (dumpxml --inactive) lists $coral" inactive_has_hostdev
virsh dumpxml --inactive "$NESTED_NAME" | sed -n '/<hostdev/,/<\/hostdev>/p' | sed 's/^/    inactive: /'
capture ./passthrough apply -v -c $cfg
expect_eq "apply again: nothing to do" "" "$out"

log "stop, start: nothing of ours runs"
expect_ok "virsh destroy" virsh destroy "$NESTED_NAME"
expect_eq "stopped, on_stop keep: still on vfio-pci" vfio-pci "$(pci_driver $coral)"
adds_before=$(device_adds)
starts_before=$(grep -c 'starting up' "$qemu_log" || true)
t0=$(date +%s%N)
start_nested
first=$(grep -a -m 1 '^BEDPCI:' "$NESTED_LOG" | tr -d '\r')
log "virsh start to the nested guest's first PCI list: $((($(date +%s%N) - t0) / 1000000)) ms"
log "first PCI list: $first"
printf '%s\n' "$first" | grep -Eq "=$id( |$)" ||
	fail "the nested guest's first PCI list has $id (in it from boot)" "$id" "$first"
echo "ok: the nested guest's first PCI list has $id"
expect_eq "QEMU started once more" $((starts_before + 1)) "$(grep -c 'starting up' "$qemu_log" || true)"
# shellcheck disable=SC2016 # sed's own $ (the last line)
cmdline=$(sed -n '/starting up/h; /starting up/!H; ${x;p}' "$qemu_log" | grep -F 'vfio-pci' || true)
expect_match "QEMU's command line of this start has the vfio-pci device for $coral" \
	'"driver":"vfio-pci","host":"0000:00:02.0"' "$cmdline"
printf '%s\n' "$cmdline" | grep -o '{"driver":"vfio-pci"[^}]*}' | sed 's/^/    qemu: -device /'
sleep 5 # time for any late hot-plug to show
expect_eq "device_add of a vfio-pci device since the start" "$adds_before" "$(device_adds)"
expect_ok "live XML lists $coral" live_xml_has_hostdev $coral
capture ./passthrough plan --detailed-exitcode -c $cfg
expect_eq "plan --detailed-exitcode after the start: converged" 0 "$rc"
virsh destroy "$NESTED_NAME" >/dev/null
log "done"
