#!/bin/bash
# Twenty stop/start cycles of the nested VM with the installed hook alone (no watch, no timer, no apply): the device is back in the nested guest every time; the time from `virsh start` to the device seen inside, per cycle, with min/median/max.
# bed-tier: 3
# bed-timeout: 1800
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0
id=8086:10d3
cycles=20
install -m 600 examples/test-bed.yaml /etc/passthrough.yaml
capture ./passthrough install --systemd
expect_eq "install --systemd" 0 "$rc"
expect_file /etc/libvirt/hooks/qemu "the installed hook"
# No systemd in the guest: the installed timer and units never run; nothing else is started.
start_libvirtd
nested_domain_xml >/tmp/nested.xml
expect_ok "virsh define nested domain" virsh define /tmp/nested.xml
expect_eq "before the first start: on e1000e" e1000e "$(pci_driver $coral)"

times=() in_first=0
for cycle in $(seq $cycles); do
	t0=$(date +%s%N)
	start_nested
	wait_nested_sees $id 120
	ms=$((($(date +%s%N) - t0) / 1000000))
	first=no
	if grep -a -m 1 '^BEDPCI:' "$NESTED_LOG" | grep -Eq "=$id( |$)"; then
		first=yes
		in_first=$((in_first + 1))
	fi
	times+=("$ms")
	log "cycle $cycle: virsh start to $id seen inside the nested guest: $ms ms (in its first PCI list: $first)"
	expect_eq "cycle $cycle: driver of $coral" vfio-pci "$(pci_driver $coral)"
	expect_ok "cycle $cycle: live XML lists $coral" live_xml_has_hostdev $coral
	expect_ok "cycle $cycle: virsh destroy" virsh destroy "$NESTED_NAME"
done

sorted=$(printf '%s\n' "${times[@]}" | sort -n)
min=$(printf '%s\n' "$sorted" | head -n 1)
max=$(printf '%s\n' "$sorted" | tail -n 1)
median=$(printf '%s\n' "$sorted" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }')
log "virsh start to the device seen inside, $cycles cycles: min $min ms, median $median ms, max $max ms; in the first PCI list $in_first of $cycles"
retries=$(grep -c 'RETRY: nested domain start' "$BED_WORK/output.log" 2>/dev/null || true)
log "nested starts retried (virsh start hung, destroyed and started again): ${retries:-0}"
expect_eq "cycles with the device back inside" $cycles ${#times[@]}
capture ./passthrough uninstall
expect_eq "uninstall" 0 "$rc"
log "done"
