#!/bin/bash
# reset: before_attach on the real kernel: the e1000e behind rp1 (reset_method set to bus, a real reset in QEMU) is reset just before its hot-plug, one more function reset in QEMU's trace than the same attach without it; `passthrough devices` shows the reset methods the kernel lists (e1000e pm, pm bus; edu none); edu with reset: before_attach is a plan problem.
# bed-tier: 3
# bed-timeout: 360
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0
behind=0000:01:00.0
edu=0000:00:04.0
id=8086:10d3
cfg=/tmp/reset.yaml
resets() { bed_trace_count e1000e_cb_qdev_reset; }

# write_cfg RESET: 01:00.0 to frigate_VM, with reset: RESET (- for none).
write_cfg() {
	{
		echo "version: 1"
		echo "devices:"
		echo "  behind-rp1:"
		echo "    address: \"$behind\""
		echo "    vm: frigate_VM"
		[ "$1" = - ] || echo "    reset: $1"
	} >$cfg
	chmod 600 $cfg
}
released_cfg() {
	printf 'version: 1\ndevices:\n  behind-rp1:\n    address: "%s"\n    state: released\n' $behind >/tmp/released.yaml
	chmod 600 /tmp/released.yaml
}
methods() { cat "/sys/bus/pci/devices/$1/reset_method" 2>/dev/null || echo "(no reset_method)"; }

log "what the kernel lists, and what passthrough devices shows"
for d in $coral $behind $edu; do
	r=absent
	[ ! -e "/sys/bus/pci/devices/$d/reset" ] || r=present
	log "$d $(pci_id "$d"): reset_method '$(methods "$d")', reset $r"
done
# Checked at the end: what `passthrough devices` shows for them now, before reset_method changes.
devices_out=$(./passthrough devices 2>&1) || true
devices_json=$(./passthrough devices --json 2>&1) || true
declare -A kernel_methods
for d in $coral $behind $edu; do kernel_methods[$d]=$(methods "$d"); done
block() { printf '%s\n' "$devices_out" | sed -n "/^$1 /,/^[0-9a-f]\{4\}:/p" | sed '1!{/^[0-9a-f]\{4\}:/d}' | tr -s ' \n' ' '; }

start_libvirtd
define_and_start_nested
echo bus >/sys/bus/pci/devices/$behind/reset_method
log "reset_method of $behind set to '$(methods $behind)' (its default 'pm bus' uses pm, which QEMU 7.2 does not act on)"
released_cfg

log "the same attach without reset (reset: never), counting QEMU's e1000e resets"
write_cfg never
before=$(resets)
capture ./passthrough apply -v -c $cfg
expect_eq "apply (reset: never)" 0 "$rc"
wait_nested_sees $id 60
plain=$(($(resets) - before))
log "attach without reset: $plain e1000e resets (vfio-pci's own, at bind and open)"
capture ./passthrough apply -v -c /tmp/released.yaml
expect_eq "release" 0 "$rc"
wait_nested_lost $id 60
expect_eq "driver of $behind after release" e1000e "$(pci_driver $behind)"

log "reset: before_attach"
write_cfg before_attach
capture ./passthrough plan -c $cfg
expect_match "the plan resets before the attach" "reset" "$out"
before=$(resets)
t0=$(date +%s%N)
capture ./passthrough apply -v -c $cfg
expect_eq "apply (reset: before_attach)" 0 "$rc"
expect_match "apply resets $behind" "reset" "$out"
wait_nested_sees $id 60
with=$(($(resets) - before))
log "attach with reset: before_attach: $with e1000e resets (without: $plain); apply to seen inside: $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "one more function reset in QEMU than the same attach without it" $((plain + 1)) "$with"
expect_eq "driver of $behind" vfio-pci "$(pci_driver $behind)"
capture ./passthrough apply -v -c $cfg
expect_eq "converged: no reset of a device its VM holds, nothing printed" "" "$out"
expect_eq "no e1000e reset on the converged pass" $((before + with)) "$(resets)"

log "edu with reset: before_attach: no reset attribute, a plan problem"
printf 'version: 1\ndevices:\n  edu:\n    address: "%s"\n    vm: frigate_VM\n    reset: before_attach\n' $edu >/tmp/edu.yaml
chmod 600 /tmp/edu.yaml
capture ./passthrough plan -c /tmp/edu.yaml
expect_ne "plan exit status for edu with reset: before_attach" 0 "$rc"
expect_match "the problem names edu and its missing reset" "reset" "$out"
virsh destroy "$NESTED_NAME" >/dev/null
echo default >/sys/bus/pci/devices/$behind/reset_method

log "passthrough devices: the reset methods as the kernel lists them"
for d in $coral $behind $edu; do log "devices: $(block "$d")"; done
for d in $coral $behind; do
	expect_match "devices: $d's reset methods ('${kernel_methods[$d]}')" "${kernel_methods[$d]}" "$(block "$d" | sed 's/^[^]]*\]//')"
done
if block $edu | grep -Eq '(^|[^a-z])(pm|bus|flr)([^a-z]|$)'; then
	fail "devices: edu lists no reset method" "no pm/bus/flr in its block" "$(block $edu)"
fi
expect_match "devices: edu has no reset" "no reset|reset[^a-z]*none|none" "$(block $edu | sed 's/^[^]]*\]//')"
expect_match "devices --json has $coral's reset methods" '"pm"' "$devices_json"
log "done"
