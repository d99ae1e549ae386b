#!/bin/bash
# The main job on examples/test-bed.yaml inside the bed (make demo): validate, doctor, plan, apply, status, a failure and its recovery told by a notifier and kept in status's history, then install wires the hook and the hook alone brings the device back across a VM restart; doctor at the end.
# bed-tier: 3
# bed-suite: no
# bed-timeout: 480
set -eu
. tests/bed/lib.sh

cfg=${BED_DEMO_CONFIG:-examples/test-bed.yaml}
coral=0000:00:02.0
id=8086:10d3

[ -x ./passthrough ] || fail "./passthrough in $BED_REPO" "a built ./passthrough (run make)" "no such file"
[ -f "$cfg" ] || fail "$cfg" "the demo configuration" "no such file"
install -m 600 "$cfg" /etc/passthrough.yaml
# a local notifier: each event's message and JSON appended to a file the demo prints
notified=/tmp/demo-notified
rm -f "$notified" /var/lib/passthrough/state.json
printf '#!/bin/sh\n{ echo "$PASSTHROUGH_EVENT: $PASSTHROUGH_MESSAGE"; cat; } >>%s\n' "$notified" >/usr/local/bin/demo-notify
chmod 755 /usr/local/bin/demo-notify
printf 'notify: { command: [/usr/local/bin/demo-notify] }\nmetrics_file: /tmp/demo-metrics.prom\n' >>/etc/passthrough.yaml

# run_step ARGS...: runs ./passthrough ARGS -c /etc/passthrough.yaml and shows its output; sets step_rc.
run_step() {
	log "\$ passthrough $*"
	step_rc=0
	./passthrough "$@" -c /etc/passthrough.yaml 2>&1 | sed 's/^/    /' || true
	step_rc=${PIPESTATUS[0]}
	[ "$step_rc" = 0 ] || log "passthrough $1 exited $step_rc"
}

log "the configuration (/etc/passthrough.yaml, from $cfg):"
sed 's/^/    /' /etc/passthrough.yaml
run_step validate
[ "$step_rc" = 0 ] || fail "passthrough validate" "exit 0" "exit $step_rc"

start_libvirtd
define_and_start_nested
log "domain $NESTED_NAME has title '$(virsh desc --title "$NESTED_NAME" | sed '/^$/d')'"
log "before: $coral on $(pci_driver $coral), group $(pci_group $coral) = $(pci_group_members $coral)"
run_step doctor
run_step plan
run_step apply -v
[ "$step_rc" = 0 ] || fail "passthrough apply" "exit 0" "exit $step_rc"
run_step status

log "does the nested guest see the device?"
wait_nested_sees $id 60
log "nested guest: $(nested_pci_list)"
expect_eq "driver of $coral" vfio-pci "$(pci_driver $coral)"
expect_eq "a converged pass notifies nothing" no "$([ -e "$notified" ] && echo yes || echo no)"

log "a failure: the file names a VM that is not there (nothing is detached); the notifier is told once"
cp /etc/passthrough.yaml /tmp/demo-good.yaml
sed -i 's/^\(    vm:\).*/\1 no-such-vm/' /etc/passthrough.yaml
run_step apply
run_step apply
sleep 1
log "what the notifier got:"
sed 's/^/    /' "$notified"
expect_eq "notified once for the failure, not for the second failing pass" 1 "$(grep -c '^failure: ' "$notified")"
run_step status
log "the fix: the file names frigate_VM again; the next pass recovers and says so"
install -m 600 /tmp/demo-good.yaml /etc/passthrough.yaml
run_step apply
sleep 1
log "what the notifier got:"
sed 's/^/    /' "$notified"
expect_eq "notified once for the recovery" 1 "$(grep -c '^recovery: ' "$notified")"
run_step status
log "the metrics (/tmp/demo-metrics.prom, for node_exporter's textfile collector):"
grep -v '^#' /tmp/demo-metrics.prom | sed 's/^/    /'

log "install wires the hook (and the boot unit and timer, for a systemd host);"
log "libvirtd restarts to see the hook, and the VM is stopped and started with virsh alone"
run_step install --systemd
[ "$step_rc" = 0 ] || fail "passthrough install" "exit 0" "exit $step_rc"
pid=$(cat /var/run/libvirtd.pid)
kill "$pid"
wait_quietly 30 sh -c "! kill -0 $pid 2>/dev/null" || fail "libvirtd stops" "gone" "pid $pid still there"
libvirtd -d
wait_for "libvirtd answers again" 90 virsh -q version
log "\$ virsh destroy $NESTED_NAME; virsh start $NESTED_NAME"
virsh destroy "$NESTED_NAME" >/dev/null
t0=$(date +%s%N)
start_nested
wait_nested_sees $id 120
log "virsh start to the device inside the nested guest, by the hook alone: $((($(date +%s%N) - t0) / 1000000)) ms"
run_step doctor
log "done; every step by passthrough itself"
