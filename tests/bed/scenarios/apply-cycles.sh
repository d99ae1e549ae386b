#!/bin/bash
# The original scripts' failure: stop and start the VM three times, apply each time, the device is back inside; then 2 and 10 concurrent applies are serialised by the lock.
# bed-tier: 3
# bed-timeout: 480
set -eu
. tests/bed/lib.sh

cfg=examples/test-bed.yaml
coral=0000:00:02.0
id=8086:10d3

# restart_nested: stop the nested VM and start it again with a fresh console log.
restart_nested() {
	expect_ok "virsh destroy" virsh destroy "$NESTED_NAME"
	start_nested
	_nested_lacks $id || fail "nested guest right after start" "no $id (live-only attach)" "$(nested_pci_list)"
}

hostdevs_in_live_xml() {
	virsh dumpxml "$NESTED_NAME" | grep -c "<hostdev " || true
}

start_libvirtd
define_and_start_nested
expect_ok "first apply" ./passthrough apply -c "$cfg"
wait_nested_sees $id 60

for i in 1 2 3; do
	log "cycle $i: stop, start, apply"
	restart_nested
	expect_eq "driver of $coral while the VM was down (on_stop: keep)" vfio-pci "$(pci_driver $coral)"
	expect_ok "apply after start $i" ./passthrough apply -c "$cfg"
	wait_nested_sees $id 60
done

for n in 2 10; do
	log "$n concurrent applies"
	restart_nested
	pids=()
	rm -f /tmp/apply.*.out
	for k in $(seq "$n"); do
		./passthrough apply -c "$cfg" >"/tmp/apply.$k.out" 2>&1 &
		pids+=($!)
	done
	bad=0
	for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
	[ "$bad" = 0 ] || fail "$n concurrent applies" "all exit 0" "$bad failed: $(cat /tmp/apply.*.out)"
	echo "ok: $n concurrent applies exited 0"
	expect_eq "hostdevs in the live XML after $n concurrent applies" 1 "$(hostdevs_in_live_xml)"
	wait_nested_sees $id 60
done

virsh destroy "$NESTED_NAME" >/dev/null
log "done"
