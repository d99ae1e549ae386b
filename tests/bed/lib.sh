# Helpers for test-bed scenarios (sourced inside the guest): assertions that say what was expected and what was seen, PCI binding by hand, libvirtd and the nested VM.
# shellcheck shell=bash
#
# A scenario starts with:   . tests/bed/lib.sh
# Assertions stop the scenario at the first failure (exit 1) after printing
#   FAIL: WHAT
#     expected: ...
#     saw:      ...

BED_T0=${BED_T0:-$(date +%s)}
BED_WORK=${BED_WORK:-/bed-work}
export LIBVIRT_DEFAULT_URI=qemu:///system

# The nested domain, named the way Synology DSM names its VMs.
NESTED_NAME=5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f
NESTED_TITLE=frigate_VM
NESTED_LOG=$BED_WORK/nested-console.log

# --- output -----------------------------------------------------------------

# log MSG...: progress line with the seconds since run.sh started this run.
log() {
	printf '[%3ds] %s\n' $(($(date +%s) - BED_T0)) "$*"
}

# fail WHAT [EXPECTED SAW]: report a failed check and end the scenario.
fail() {
	echo "FAIL: $1"
	if [ $# -ge 3 ] && [[ "$2$3" == *$'\n'* ]]; then
		echo "  expected (-) / saw (+):"
		diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tail -n +3 | sed 's/^/  /'
	elif [ $# -ge 3 ]; then
		printf '  expected: %s\n' "$2"
		printf '  saw:      %s\n' "$3"
	fi
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

# --- assertions ---------------------------------------------------------------

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then
		case $2 in
		*$'\n'*) echo "ok: $1 (same $(printf '%s\n' "$2" | wc -l) lines)" ;;
		*) echo "ok: $1 = $2" ;;
		esac
	else
		fail "$1" "$2" "$3"
	fi
}

# expect_ne WHAT UNWANTED ACTUAL
expect_ne() {
	if [ "$2" != "$3" ]; then
		echo "ok: $1 = $3 (not $2)"
	else
		fail "$1" "anything but $2" "$3"
	fi
}

# expect_match WHAT EXTENDED-REGEX ACTUAL
expect_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		echo "ok: $1 matches /$2/"
	else
		fail "$1" "text matching /$2/" "$3"
	fi
}

# expect_file PATH [WHAT]: PATH exists (file, directory or device).
expect_file() {
	if [ -e "$1" ]; then
		echo "ok: ${2:-$1} exists"
	else
		fail "${2:-$1}" "$1 to exist" "no such file; $(dirname "$1") has: $(find "$(dirname "$1")" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null | cut -c1-200)"
	fi
}

# expect_no_file PATH [WHAT]
expect_no_file() {
	if [ ! -e "$1" ]; then
		echo "ok: ${2:-$1} absent"
	else
		fail "${2:-$1}" "$1 not to exist" "it exists"
	fi
}

# expect_ok WHAT CMD...: CMD exits 0; otherwise show its exit code and output.
expect_ok() {
	local what=$1 out rc
	shift
	rc=0
	out=$("$@" 2>&1) || rc=$?
	if [ $rc = 0 ]; then
		echo "ok: $what"
	else
		fail "$what" "\`$*\` to succeed" "exit $rc: $out"
	fi
}

# expect_fail WHAT CMD...: CMD exits non-zero.
expect_fail() {
	local what=$1 out rc
	shift
	rc=0
	out=$("$@" 2>&1) || rc=$?
	if [ $rc != 0 ]; then
		echo "ok: $what (exit $rc)"
	else
		fail "$what" "\`$*\` to fail" "exit 0: $out"
	fi
}

# capture CMD...: runs CMD, shows its output indented, and sets out (stdout and stderr) and rc.
capture() {
	set +e
	out=$("$@" 2>&1)
	rc=$?
	set -e
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/    /'
}

# wait_for WHAT TIMEOUT CMD...: retry CMD every 0.2 s until it succeeds.
wait_for() {
	local what=$1 limit=$2 start out rc
	shift 2
	start=$(date +%s)
	while :; do
		rc=0
		out=$("$@" 2>&1) || rc=$?
		if [ $rc = 0 ]; then
			echo "ok: $what ($(($(date +%s) - start)) s)"
			return 0
		fi
		if [ $(($(date +%s) - start)) -ge "$limit" ]; then
			fail "$what" "\`$*\` to succeed within ${limit}s" "exit $rc: $out"
		fi
		sleep 0.2
	done
}

# --- PCI by hand (sysfs) ------------------------------------------------------

# pci_driver BDF: name of the bound driver, or "none".
pci_driver() {
	local l=/sys/bus/pci/devices/$1/driver
	if [ -L "$l" ]; then basename "$(readlink "$l")"; else echo none; fi
}

# pci_group BDF: IOMMU group number.
pci_group() {
	basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"
}

# pci_group_members BDF: the BDFs in BDF's group, space separated, sorted.
pci_group_members() {
	# shellcheck disable=SC2012
	ls "/sys/kernel/iommu_groups/$(pci_group "$1")/devices" | sort | tr '\n' ' ' | sed 's/ $//'
}

# pci_id BDF: "vvvv:dddd"
pci_id() {
	local d=/sys/bus/pci/devices/$1 v p
	v=$(cat "$d/vendor")
	p=$(cat "$d/device")
	echo "${v#0x}:${p#0x}"
}

# pci_netdevs BDF: network interfaces of BDF, space separated.
pci_netdevs() {
	# shellcheck disable=SC2012
	ls "/sys/bus/pci/devices/$1/net" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'
}

# pci_has_netdev BDF: BDF has a network interface (for wait_for).
pci_has_netdev() {
	[ -n "$(pci_netdevs "$1")" ]
}

# pci_bind_vfio BDF: driver_override + unbind + drivers_probe (the kernel's way).
pci_bind_vfio() {
	local d=/sys/bus/pci/devices/$1
	echo vfio-pci >"$d/driver_override"
	if [ -L "$d/driver" ]; then echo "$1" >"$d/driver/unbind"; fi
	echo "$1" >/sys/bus/pci/drivers_probe
	expect_eq "driver of $1 after binding to vfio-pci" vfio-pci "$(pci_driver "$1")"
}

# pci_release BDF: clear driver_override, unbind, reprobe (back to the host driver).
pci_release() {
	local d=/sys/bus/pci/devices/$1
	echo >"$d/driver_override"
	if [ -L "$d/driver" ]; then echo "$1" >"$d/driver/unbind"; fi
	echo "$1" >/sys/bus/pci/drivers_probe
}

# --- QEMU on the host: its monitor and its trace ---------------------------------

# bed_monitor HMP-COMMAND [TIMEOUT]: runs an HMP command line in the QEMU that runs
# this guest (run.sh's serve_monitor answers the request file left in
# $BED_WORK/monitor/); prints QEMU's answer; fails when QEMU answers an error or
# nothing within TIMEOUT seconds (default 40).  device_del returns at once: the
# device goes when the guest lets it go (bed_qmp_events DEVICE_DELETED ID).
bed_monitor() {
	local cmd=$1 limit=${2:-40} seq start status dir=$BED_WORK/monitor
	seq=$(date +%s%N)
	printf '%s\n' "$cmd" >"$dir/$seq.new"
	mv "$dir/$seq.new" "$dir/$seq.req"
	start=$(date +%s)
	until [ -e "$dir/$seq.reply" ]; do
		if [ $(($(date +%s) - start)) -ge "$limit" ]; then
			rm -f "$dir/$seq.req"
			echo "no answer from QEMU's monitor within ${limit}s (is run.sh serving $dir?)"
			return 1
		fi
		sleep 0.2
	done
	status=$(head -n 1 "$dir/$seq.reply")
	tail -n +2 "$dir/$seq.reply" | sed '/^$/d'
	rm -f "$dir/$seq.reply"
	[ "$status" = ok ]
}

# bed_qmp_events EVENT [DEVICE-ID]: how many EVENTs QEMU's monitor has sent this run
# (for DEVICE-ID only, when given); qmp.log has them all.
bed_qmp_events() {
	local n
	if [ $# -ge 2 ]; then
		n=$(grep -F "\"event\": \"$1\"" "$BED_WORK/qmp.log" 2>/dev/null | grep -cF "\"device\": \"$2\"") || true
	else
		n=$(grep -cF "\"event\": \"$1\"" "$BED_WORK/qmp.log" 2>/dev/null) || true
	fi
	echo "${n:-0}"
}

# bed_trace_count EVENT: how many times QEMU traced EVENT this run ($BED_WORK/qemu-trace.log:
# e1000e_cb_qdev_reset always, others from the scenario's "# bed-trace:" line).  Each
# e1000e_cb_qdev_reset is a reset of an emulated e1000e, whichever it is; QEMU's line
# does not say which.
bed_trace_count() {
	local n
	n=$(grep -c "[:]$1 \|^$1 " "$BED_WORK/qemu-trace.log" 2>/dev/null) || true
	echo "${n:-0}"
}

# --- libvirtd and the nested VM (tier 3) --------------------------------------

# start_libvirtd [--monitor-log]: cgroup2, qemu.conf tweaks, virtlogd + libvirtd, wait until it
# answers.  With --monitor-log, what libvirtd says to and hears from QEMU's monitors (the QMP
# commands: device_add, ...) also goes to $BED_WORK/libvirtd-monitor.log.
# shellcheck disable=SC2120 # its argument is optional
start_libvirtd() {
	local outputs="3:file:$BED_WORK/libvirtd.log"
	if [ "${1:-}" = --monitor-log ]; then
		outputs="$outputs 1:file:$BED_WORK/libvirtd-monitor.log"
		echo 'log_filters = "1:qemu.qemu_monitor"' >>/etc/libvirt/libvirtd.conf
	fi
	log "starting libvirtd"
	[ -e /dev/kvm ] || fail "/dev/kvm in the guest (kvm_amd loaded?)" "/dev/kvm" "missing; lsmod: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
	grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts || mount -t cgroup2 none /sys/fs/cgroup
	cat >>/etc/libvirt/qemu.conf <<-'EOF'
		user = "root"
		group = "root"
		dynamic_ownership = 0
		security_driver = "none"
		namespaces = [ ]
		remember_owner = 0
	EOF
	echo "log_outputs = \"$outputs\"" >>/etc/libvirt/libvirtd.conf
	# No default network (would need dnsmasq, iptables, a bridge).
	rm -f /etc/libvirt/qemu/networks/autostart/*.xml
	mkdir -p /var/run/libvirt /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt
	virtlogd -d
	libvirtd -d
	wait_for "libvirtd socket" 30 test -S /var/run/libvirt/libvirt-sock
	wait_for "libvirtd answers" 90 virsh -q version
	log "libvirtd up"
}

# nested_domain_xml: the nested domain (UUID name, title frigate_VM, direct kernel boot).
nested_domain_xml() {
	cat <<-EOF
		<domain type='kvm'>
		  <name>$NESTED_NAME</name>
		  <uuid>$NESTED_NAME</uuid>
		  <title>$NESTED_TITLE</title>
		  <memory unit='MiB'>256</memory>
		  <vcpu>1</vcpu>
		  <os>
		    <type arch='x86_64' machine='pc'>hvm</type>
		    <kernel>$BED_KERNEL</kernel>
		    <initrd>$BED_NESTED_INITRD</initrd>
		    <cmdline>console=ttyS0 panic=-1 quiet</cmdline>
		  </os>
		  <features><acpi/><apic/></features>
		  <cpu mode='host-passthrough'/>
		  <on_poweroff>destroy</on_poweroff>
		  <on_reboot>destroy</on_reboot>
		  <on_crash>destroy</on_crash>
		  <devices>
		    <emulator>/usr/bin/qemu-system-x86_64</emulator>
		    <serial type='file'><source path='$NESTED_LOG'/><target port='0'/></serial>
		    <memballoon model='none'/>
		  </devices>
		</domain>
	EOF
}

# start_nested: start the (defined) nested domain with a fresh console log and wait for its
# first PCI list. A nested KVM guest under TCG sometimes hangs while starting (seen: 1 run in
# 6, virsh start never returning): then it is destroyed and started again, at most 3 times,
# and each retry is logged so that the flakiness stays visible.
start_nested() {
	local try
	for try in 1 2 3; do
		: >"$NESTED_LOG"
		if timeout 90 virsh start "$NESTED_NAME" >/dev/null 2>&1 &&
			wait_quietly 120 grep -q '^BEDPCI:' "$NESTED_LOG"; then
			log "nested guest up (start attempt $try): $(nested_pci_list)"
			return 0
		fi
		log "RETRY: nested domain start attempt $try hung or the guest did not come up; destroying it"
		timeout 60 virsh destroy "$NESTED_NAME" >/dev/null 2>&1 || true
		sleep 2
	done
	fail "nested domain $NESTED_NAME starts" "its PCI list on the console" "no list after 3 attempts"
}

# wait_quietly TIMEOUT CMD...: like wait_for, without failing the scenario; returns CMD's result.
wait_quietly() {
	local limit=$1 start
	shift
	start=$(date +%s)
	until "$@"; do
		[ $(($(date +%s) - start)) -ge "$limit" ] && return 1
		sleep 0.2
	done
}

# define_and_start_nested: define + start the nested domain, wait for its first PCI list.
define_and_start_nested() {
	nested_domain_xml >/tmp/nested.xml
	expect_ok "virsh define nested domain" virsh define /tmp/nested.xml
	start_nested
}

# nested_pci_list: the nested guest's latest PCI list.
nested_pci_list() {
	grep -a '^BEDPCI:' "$NESTED_LOG" 2>/dev/null | tail -n 1 | tr -d '\r'
}

_nested_has() { nested_pci_list | grep -Eq "=$1( |$)"; }
_nested_lacks() { ! _nested_has "$1"; }

# wait_nested_sees VVVV:DDDD [TIMEOUT]: the nested guest lists such a device.
wait_nested_sees() {
	local start
	start=$(date +%s)
	while ! _nested_has "$1"; do
		[ $(($(date +%s) - start)) -ge "${2:-30}" ] &&
			fail "nested guest sees $1" "a PCI list with $1 within ${2:-30}s" "$(nested_pci_list)"
		sleep 0.2
	done
	log "ok: nested guest sees $1"
}

# wait_nested_lost VVVV:DDDD [TIMEOUT]: the nested guest no longer lists it.
wait_nested_lost() {
	local start
	start=$(date +%s)
	while ! _nested_lacks "$1"; do
		[ $(($(date +%s) - start)) -ge "${2:-30}" ] &&
			fail "nested guest loses $1" "a PCI list without $1 within ${2:-30}s" "$(nested_pci_list)"
		sleep 0.2
	done
	log "ok: nested guest no longer sees $1"
}

# bdf_fields BDF: "DOMAIN BUS SLOT FUNCTION" of DDDD:BB:SS.F (hex, no 0x).
bdf_fields() {
	local rest=${1#*:}
	local sf=${rest#*:}
	echo "${1%%:*} ${rest%%:*} ${sf%.*} ${sf#*.}"
}

# hostdev_xml BDF: a managed='no' PCI hostdev for BDF.
hostdev_xml() {
	local d b s f
	read -r d b s f <<<"$(bdf_fields "$1")"
	cat <<-EOF
		<hostdev mode='subsystem' type='pci' managed='no'>
		  <source><address domain='0x$d' bus='0x$b' slot='0x$s' function='0x$f'/></source>
		</hostdev>
	EOF
}

# attach_hostdev BDF / detach_hostdev BDF: live hot-plug by hand with virsh.
attach_hostdev() {
	hostdev_xml "$1" >"/tmp/hostdev-$1.xml"
	expect_ok "virsh attach-device --live $1" virsh attach-device "$NESTED_NAME" "/tmp/hostdev-$1.xml" --live
}

detach_hostdev() {
	hostdev_xml "$1" >"/tmp/hostdev-$1.xml"
	expect_ok "virsh detach-device --live $1" virsh detach-device "$NESTED_NAME" "/tmp/hostdev-$1.xml" --live
}

# live_xml_has_hostdev BDF: the nested domain's live XML has a hostdev whose source is BDF.
live_xml_has_hostdev() {
	local d b s f
	read -r d b s f <<<"$(bdf_fields "$1")"
	virsh dumpxml "$NESTED_NAME" | tr -d '\n' | grep -Eq \
		"<source>[[:space:]]*<address domain='0x$d' bus='0x$b' slot='0x$s' function='0x$f'"
}

# live_xml_lacks_hostdev BDF
live_xml_lacks_hostdev() {
	! live_xml_has_hostdev "$1"
}
