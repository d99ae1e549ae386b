#!/bin/bash
# The main job on examples/test-bed.yaml inside the bed (make demo): validate, plan, apply, status, then the libvirt hook alone across a VM restart; steps that are not implemented yet are done by hand instead.
# bed-tier: 3
# bed-suite: no
# bed-timeout: 480
set -eu
. tests/bed/lib.sh

cfg=${BED_DEMO_CONFIG:-examples/test-bed.yaml}
coral=0000:00:02.0
id=8086:10d3
missing=()

[ -x ./passthrough ] || fail "./passthrough in $BED_REPO" "a built ./passthrough (run make)" "no such file"
[ -f "$cfg" ] || fail "$cfg" "the demo configuration" "no such file"

# run_step NAME: runs ./passthrough NAME -c CFG, shows its output, sets step_rc.
run_step() {
	local v=
	# apply logs its changes to syslog and to stderr when interactive; here, ask for them
	[ "$1" = apply ] && v=-v
	log "\$ passthrough $1 $v -c $cfg"
	step_rc=0
	./passthrough "$1" $v -c "$cfg" 2>&1 | sed 's/^/    /' || true
	step_rc=${PIPESTATUS[0]}
	if [ "$step_rc" = 69 ]; then
		log "missing: passthrough $1 (not implemented yet); doing it by hand"
		missing+=("$1")
	elif [ "$step_rc" != 0 ]; then
		log "passthrough $1 exited $step_rc"
	fi
}

log "the configuration:"
sed 's/^/    /' "$cfg"
run_step validate
[ "$step_rc" = 0 ] || fail "passthrough validate -c $cfg" "exit 0" "exit $step_rc"

start_libvirtd
define_and_start_nested
log "domain $NESTED_NAME has title '$(virsh desc --title "$NESTED_NAME" | sed '/^$/d')'"
log "before: $coral on $(pci_driver $coral), group $(pci_group $coral) = $(pci_group_members $coral)"

run_step plan
if [ "$step_rc" = 69 ]; then
	log "by hand: $coral ($(pci_id $coral)) is on $(pci_driver $coral), alone in IOMMU group $(pci_group $coral);"
	log "by hand: the domain titled $NESTED_TITLE is $NESTED_NAME ($(virsh domstate "$NESTED_NAME" | sed '/^$/d'));"
	log "by hand: plan = bind $coral to vfio-pci, then hot-plug it into $NESTED_NAME (managed='no')"
fi

run_step apply
if [ "$step_rc" = 69 ]; then
	pci_bind_vfio $coral
	attach_hostdev $coral
elif [ "$step_rc" != 0 ]; then
	fail "passthrough apply -c $cfg" "exit 0" "exit $step_rc"
fi

run_step status
if [ "$step_rc" = 69 ]; then
	log "by hand: $coral driver=$(pci_driver $coral) override=$(cat /sys/bus/pci/devices/$coral/driver_override)"
	if live_xml_has_hostdev $coral; then
		log "by hand: live XML of $NESTED_NAME has hostdev $coral"
	else
		log "by hand: live XML of $NESTED_NAME has no hostdev $coral"
	fi
fi

log "does the nested guest see the device?"
wait_nested_sees $id 60
log "nested guest: $(nested_pci_list)"
expect_eq "driver of $coral" vfio-pci "$(pci_driver $coral)"
log "the hook: passthrough becomes /etc/libvirt/hooks/qemu, libvirtd restarts to see it,"
log "and the VM is stopped and started with virsh alone"
install -m 600 "$cfg" /etc/passthrough.yaml
mkdir -p /etc/libvirt/hooks
printf '#!/bin/sh\nexec %s/passthrough hook "$@" -c /etc/passthrough.yaml\n' "$PWD" >/etc/libvirt/hooks/qemu
chmod 755 /etc/libvirt/hooks/qemu
sed 's/^/    /' /etc/libvirt/hooks/qemu
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

if [ ${#missing[@]} -gt 0 ]; then
	log "done; done by hand because not implemented yet: ${missing[*]}"
else
	log "done; every step by passthrough itself"
fi
