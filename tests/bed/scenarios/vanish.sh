#!/bin/bash
# A device that vanishes and comes back: the e1000e behind rp1, in the running nested VM, is taken out through QEMU's monitor (device_del) and put back (device_add); passthrough reports it missing and the other device stays; once back it is on vfio-pci and in the VM again with nothing but `watch` running, and the second time within one `apply`.
# bed-tier: 3
# bed-timeout: 360
set -eu
. tests/bed/lib.sh

coral=0000:00:02.0
behind=0000:01:00.0
qid=e1000e-rp1
id=8086:10d3
cfg=/tmp/vanish.yaml
cat >$cfg <<EOF
version: 1
devices:
  tpu-standin:
    address: "$coral"
    vm: frigate_VM
  behind-rp1:
    address: "$behind"
    vm: frigate_VM
EOF
chmod 600 $cfg

# nested_count N: the nested guest's latest PCI list has N devices 8086:10d3.
nested_count() { [ "$(nested_pci_list | grep -o "=$id" | wc -l)" = "$1" ]; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
on_vfio() { [ "$(pci_driver $behind)" = vfio-pci ]; }
on_e1000e() { [ "$(pci_driver $behind)" = e1000e ]; }
gone() { [ ! -e /sys/bus/pci/devices/$behind ]; }

# take_out: device_del through QEMU's monitor, until QEMU and the guest's sysfs say it is gone.
take_out() {
	local t0 n
	n=$(bed_qmp_events DEVICE_DELETED $qid)
	t0=$(date +%s%N)
	capture bed_monitor "device_del $qid"
	expect_eq "device_del $qid answers" 0 "$rc"
	wait_for "QEMU deleted $qid" 90 sh -c "[ \$(grep -F DEVICE_DELETED $BED_WORK/qmp.log | grep -cF '\"device\": \"$qid\"') -gt $n ]"
	wait_for "$behind is gone from the guest's sysfs" 10 gone
	log "device_del to gone: $(ms_since "$t0") ms"
}
put_back() {
	capture bed_monitor "device_add e1000e,bus=rp1,id=$qid"
	expect_eq "device_add $qid answers" 0 "$rc"
}

start_libvirtd
nested_domain_xml >/tmp/nested.xml
expect_ok "virsh define nested domain" virsh define /tmp/nested.xml
./passthrough watch -v -c $cfg >"$BED_WORK/watch.log" 2>&1 &
watch_pid=$!
wait_for "watch connects" 30 grep -q "watching libvirt" "$BED_WORK/watch.log"
start_nested
wait_for "watch puts both e1000es in the nested guest" 120 nested_count 2
expect_ok "live XML lists $behind" live_xml_has_hostdev $behind

log "1. device_del of $behind while its VM runs"
take_out
wait_for "the nested guest lost one e1000e" 60 nested_count 1
wait_for "live XML no longer lists $behind" 30 live_xml_lacks_hostdev $behind
expect_ok "live XML still lists $coral" live_xml_has_hostdev $coral
capture ./passthrough status -c $cfg
expect_match "status reports $behind missing" "$behind" "$out"
capture ./passthrough plan -c $cfg
plan_rc=$rc
expect_match "plan reports no device at $behind" "no PCI device at $behind|$behind.*(missing|gone|not present|no PCI device)" "$out"
log "plan exit status with $behind gone: $plan_rc"
expect_eq "the other device: still on vfio-pci" vfio-pci "$(pci_driver $coral)"
expect_ok "watch still runs" kill -0 $watch_pid

log "2. device_add: watch alone brings it back"
t0=$(date +%s%N)
put_back
wait_for "$behind is back in the guest's sysfs" 30 test -e /sys/bus/pci/devices/$behind
wait_for "$behind on vfio-pci (watch)" 30 on_vfio
log "device_add to $behind on vfio-pci: $(ms_since "$t0") ms"
wait_for "$behind in the nested guest again (watch)" 60 nested_count 2
log "device_add to $behind seen inside the nested guest: $(ms_since "$t0") ms"
expect_ok "live XML lists $behind again" live_xml_has_hostdev $behind
expect_ok "watch still runs" kill -0 $watch_pid
kill -TERM $watch_pid
wait_quietly 10 sh -c "! kill -0 $watch_pid 2>/dev/null" || fail "watch stops on SIGTERM" "gone" "still there"
sed 's/^/    watch: /' "$BED_WORK/watch.log"

log "3. no watch: device_del, device_add, then one apply"
take_out
wait_for "the nested guest lost one e1000e" 60 nested_count 1
put_back
wait_for "$behind back on its host driver (a new device to the kernel)" 30 on_e1000e
t0=$(date +%s%N)
capture ./passthrough apply -v -c $cfg
expect_eq "one apply" 0 "$rc"
expect_eq "after one apply: $behind on vfio-pci" vfio-pci "$(pci_driver $behind)"
wait_for "$behind in the nested guest again" 60 nested_count 2
log "apply to $behind seen inside the nested guest: $(ms_since "$t0") ms"
capture ./passthrough plan --detailed-exitcode -c $cfg
expect_eq "converged after one pass" 0 "$rc"
virsh destroy "$NESTED_NAME" >/dev/null
log "done"
