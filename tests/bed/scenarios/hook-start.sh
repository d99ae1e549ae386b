#!/bin/bash
# The libvirt hook alone: with passthrough as /etc/libvirt/hooks/qemu, `virsh start` brings the device into the nested VM with no other action, three times in a row, and a libvirtd restart (reconnect) breaks nothing.
# bed-tier: 3
# bed-timeout: 600
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0
id=8086:10d3
install -m 600 examples/test-bed.yaml /etc/passthrough.yaml
mkdir -p /etc/libvirt/hooks
cat >/etc/libvirt/hooks/qemu <<HOOK
#!/bin/sh
exec $PWD/passthrough hook "\$@" -c /etc/passthrough.yaml
HOOK
chmod 755 /etc/libvirt/hooks/qemu

log "the hook's own time for a VM the file does not name (20 runs, under TCG)"
xml="<domain type='kvm'><name>other</name><uuid>11111111-2222-3333-4444-555555555555</uuid><devices/></domain>"
t0=$(date +%s%N)
for _ in $(seq 20); do printf '%s' "$xml" | ./passthrough hook other prepare begin - -c /etc/passthrough.yaml; done
log "hook for another VM: $((($(date +%s%N) - t0) / 20000)) us per run (emulated CPU: compare with /bin/true here, not with the host)"

start_libvirtd
nested_domain_xml >/tmp/nested.xml
expect_ok "virsh define nested domain" virsh define /tmp/nested.xml
for cycle in 1 2 3; do
	log "cycle $cycle: virsh start, nothing else"
	t0=$(date +%s%N)
	start_nested
	wait_nested_sees $id 120
	log "cycle $cycle: virsh start to the device seen inside the nested guest: $((($(date +%s%N) - t0) / 1000000)) ms"
	expect_eq "driver of $coral" vfio-pci "$(pci_driver $coral)"
	expect_ok "live XML lists $coral" live_xml_has_hostdev $coral
	capture ./passthrough plan --detailed-exitcode -c /etc/passthrough.yaml
	expect_eq "plan --detailed-exitcode (cycle $cycle)" 0 "$rc"
	[ $cycle = 3 ] || expect_ok "virsh destroy" virsh destroy "$NESTED_NAME"
done

log "libvirtd restarts with the VM running: reconnect"
pid=$(cat /var/run/libvirtd.pid)
kill "$pid"
wait_quietly 30 sh -c "! kill -0 $pid 2>/dev/null" || fail "libvirtd stops" "gone" "pid $pid still there"
libvirtd -d
wait_for "libvirtd answers again" 90 virsh -q version
sleep 5 # the reconnect hook's worker
expect_eq "after reconnect: the VM still runs" running "$(virsh domstate "$NESTED_NAME" | head -n 1)"
expect_ok "after reconnect: live XML lists $coral" live_xml_has_hostdev $coral
_nested_has $id || fail "after reconnect: the nested guest still sees $id" "$id" "$(nested_pci_list)"
capture ./passthrough plan --detailed-exitcode -c /etc/passthrough.yaml
expect_eq "plan --detailed-exitcode after reconnect" 0 "$rc"
virsh destroy "$NESTED_NAME" >/dev/null
log "done"
