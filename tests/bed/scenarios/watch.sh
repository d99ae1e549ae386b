#!/bin/bash
# `passthrough watch` with no hook installed: starting the nested VM brings the device in, and after libvirtd restarts, watch reconnects and does it again.
# bed-tier: 3
# bed-timeout: 600
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0
id=8086:10d3
install -m 600 examples/test-bed.yaml /etc/passthrough.yaml
expect_no_file /etc/libvirt/hooks/qemu "no hook"
start_libvirtd
nested_domain_xml >/tmp/nested.xml
expect_ok "virsh define nested domain" virsh define /tmp/nested.xml

./passthrough watch -v -c /etc/passthrough.yaml >"$BED_WORK/watch.log" 2>&1 &
watch_pid=$!
wait_for "watch connects" 30 grep -q "watching libvirt" "$BED_WORK/watch.log"
for round in 1 2; do
	log "round $round: virsh start, nothing else"
	t0=$(date +%s%N)
	start_nested
	wait_nested_sees $id 120
	log "round $round: virsh start to the device seen inside the nested guest: $((($(date +%s%N) - t0) / 1000000)) ms"
	expect_eq "driver of $coral" vfio-pci "$(pci_driver $coral)"
	expect_ok "live XML lists $coral" live_xml_has_hostdev $coral
	expect_ok "watch still runs" kill -0 $watch_pid
	virsh destroy "$NESTED_NAME" >/dev/null
	[ $round = 2 ] && break
	log "libvirtd restarts: watch must reconnect"
	pid=$(cat /var/run/libvirtd.pid)
	kill "$pid"
	wait_quietly 30 sh -c "! kill -0 $pid 2>/dev/null" || fail "libvirtd stops" "gone" "pid $pid still there"
	wait_for "watch notices" 30 grep -q "reconnecting" "$BED_WORK/watch.log"
	libvirtd -d
	wait_for "libvirtd answers again" 90 virsh -q version
	wait_for "watch reconnects" 30 sh -c "[ \$(grep -c 'watching libvirt' $BED_WORK/watch.log) -ge 2 ]"
done
kill -TERM $watch_pid
wait_quietly 10 sh -c "! kill -0 $watch_pid 2>/dev/null" || fail "watch stops on SIGTERM" "gone" "still there"
sed 's/^/    watch: /' "$BED_WORK/watch.log"
log "done"
