#!/bin/bash
# What `passthrough install` sets up, on a real libvirtd: the hook alone brings the device into the nested VM at `virsh start`, three times in a row; a libvirtd restart (reconnect) breaks nothing; the timer's command heals drift with exactly one log line; uninstall takes it all back.
# bed-tier: 3
# bed-timeout: 600
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0
id=8086:10d3
install -m 600 examples/test-bed.yaml /etc/passthrough.yaml
# A syslog to count the timer's lines in.
busybox syslogd -n -O /tmp/messages </dev/null >/dev/null 2>&1 &
syslogd_pid=$!
trap 'kill $syslogd_pid 2>/dev/null' EXIT   # or the runner waits for its stdout to close
wait_for "syslogd" 10 test -S /dev/log

capture ./passthrough install --systemd
expect_eq "install --systemd" 0 "$rc"
printf '%s\n' "$out" | grep -q "^created '/etc/libvirt/hooks/qemu'" || fail "install creates the hook" "created '/etc/libvirt/hooks/qemu'" "$out"
capture ./passthrough install --systemd
expect_eq "install again: nothing to change" "nothing to change" "$out"
capture ./passthrough doctor --connect test:///default
printf '%s\n' "$out" | grep -q "^PASS  install " || fail "doctor: install intact" "PASS  install" "$out"

log "the installed hook's own time for a VM the file does not name (20 runs, under TCG)"
xml="<domain type='kvm'><name>other</name><uuid>11111111-2222-3333-4444-555555555555</uuid><devices/></domain>"
t0=$(date +%s%N)
for _ in $(seq 20); do printf '%s' "$xml" | /etc/libvirt/hooks/qemu other prepare begin -; done
t1=$(date +%s%N)
for _ in $(seq 20); do printf '%s' "$xml" | /bin/true; done
t2=$(date +%s%N)
log "hook for another VM: $(((t1 - t0) / 20000)) us per run; /bin/true the same way: $(((t2 - t1) / 20000)) us (emulated CPU)"

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

log "the timer: drift (the VM is stopped, the device unbound by hand), then the timer's command"
virsh destroy "$NESTED_NAME" >/dev/null
expect_eq "stopped VM, on_stop keep: still on vfio-pci" vfio-pci "$(pci_driver $coral)"
echo $coral >/sys/bus/pci/drivers/vfio-pci/unbind
expect_eq "drift: driverless" none "$(pci_driver $coral)"
# the command the timer runs: passthrough.service's ExecStart lines, in order ('-' = may fail)
sed -n 's/^ExecStart=-\{0,1\}//p' /etc/systemd/system/passthrough.service >/tmp/timer-commands
expect_eq "passthrough.service: install --quiet, then apply --quiet" 2 "$(wc -l </tmp/timer-commands)"
before=$(grep -c 'passthrough\[' /tmp/messages || true)
while read -r cmd; do sh -c "$cmd" || true; done </tmp/timer-commands
expect_eq "healed: driver of $coral" vfio-pci "$(pci_driver $coral)"
sleep 1 # syslogd writes
grep 'passthrough\[' /tmp/messages | tail -n +$((before + 1)) >/tmp/heal-lines
cat /tmp/heal-lines
expect_eq "exactly one log line for the heal" 1 "$(wc -l </tmp/heal-lines)"
grep -q "0000:00:02.0.*vfio-pci" /tmp/heal-lines || fail "the line names the device and what was done" "0000:00:02.0 ... vfio-pci" "$(cat /tmp/heal-lines)"
before=$(grep -c 'passthrough\[' /tmp/messages || true)
while read -r cmd; do sh -c "$cmd" || true; done </tmp/timer-commands
sleep 1
expect_eq "converged: the timer's next run logs nothing" "$before" "$(grep -c 'passthrough\[' /tmp/messages || true)"

capture ./passthrough uninstall
expect_eq "uninstall" 0 "$rc"
expect_no_file /etc/libvirt/hooks/qemu "uninstall removed the hook"
expect_no_file /etc/systemd/system/passthrough.timer "uninstall removed the timer"
log "done"
