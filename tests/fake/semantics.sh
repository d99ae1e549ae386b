#!/bin/bash
# The kernel's driver-binding, power, reset and rescan semantics that apply relies on, checked on a sysfs tree: run on the real kernel in the test bed (bed-basics) and on the FUSE fake (tests/fake/run.sh), so the fake is held to what Linux does.
#
# usage: tests/fake/semantics.sh SYSFS_ROOT BDF HOST_DRIVER [PM_BDF PM_HOST_DRIVER PM_RESET_METHODS]
#   BDF must be bound to HOST_DRIVER with no driver_override, alone in its IOMMU
#   group, and vfio-pci must be loaded.  The device ends where it started.
#   With PM_BDF (a device with a PM capability and a reset method, bound to
#   PM_HOST_DRIVER with no override, alone in its IOMMU group and on its bus behind a
#   bridge; on the bed 0000:01:00.0 e1000e "pm bus"): power states on vfio-pci, reset,
#   disable_idle_d3 and remove + rescan of its bus as well.  It ends on PM_HOST_DRIVER
#   again, a new device (removed and found again).  That half assumes nobody wrote
#   /sys/module/vfio_pci/parameters/disable_idle_d3 since vfio-pci was loaded (it
#   reads the value in force until then) and that no VM holds a vfio device.
# Prints TAP ("ok N - ..." / "not ok N - ...") and exits 1 if anything differs.
set -u
root=$1 bdf=$2 host=$3 pm_bdf=${4:-} pm_host=${5:-} pm_methods=${6:-}
dev=$root/bus/pci/devices/$bdf
n=0 bad=0

driver() { local l; l=$(readlink "$dev/driver" 2>/dev/null) && echo "${l##*/}" || echo none; }

# w FILE VALUE: writes VALUE (one write, with a newline, as echo does); prints ok or the error text.
w() {
	local err
	if err=$( (echo "$2" >"$1") 2>&1); then echo ok; else echo "${err##*: }"; fi
}

# settled_driver DRIVER: the driver once it is DRIVER, or the one after 5 s (a probe may be async).
settled_driver() {
	for _ in $(seq 50); do
		[ "$(driver)" = "$1" ] && break
		sleep 0.1
	done
	driver
}

# check WHAT EXPECTED SEEN
check() {
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		echo "#   expected: $2"
		echo "#   saw:      $3"
		bad=1
	fi
}

# settled FILE VALUE: FILE's content once it reads VALUE, or what it reads after 3 s (runtime
# suspension follows a probe or a put asynchronously on the real kernel).
settled() {
	local v
	for _ in $(seq 30); do
		v=$(cat "$1" 2>&1)
		[ "$v" = "$2" ] && break
		sleep 0.1
	done
	echo "$v"
}

check "start: $bdf on $host" "$host" "$(driver)"
check "start: driver_override unset" "(null)" "$(cat "$dev/driver_override")"
check "start: power/control on (the PCI core forbids runtime PM)" on "$(cat "$dev/power/control")"
# the kernel sets it for a device with a PM capability only (pci_pm_init); e1000 has none
check "start: d3cold_allowed 0 or 1" yes "$(case $(cat "$dev/d3cold_allowed") in 0|1) echo yes ;; *) echo no ;; esac)"
check "start: power_state D0 on $host" D0 "$(cat "$dev/power_state")"
check "writing power_state (read only)" "Permission denied" "$(w "$dev/power_state" D3hot)"
check "writing power/control neither on nor auto" "Invalid argument" "$(w "$dev/power/control" off)"
check "writing d3cold_allowed not a number" "Invalid argument" "$(w "$dev/d3cold_allowed" no)"
check "writing d3cold_allowed 0" ok "$(w "$dev/d3cold_allowed" 0)"
check "... reads 0" 0 "$(cat "$dev/d3cold_allowed")"
w "$dev/d3cold_allowed" 1 >/dev/null
check "writing driver_override while bound" ok "$(w "$dev/driver_override" vfio-pci)"
check "... reads back" vfio-pci "$(cat "$dev/driver_override")"
check "... does not rebind" "$host" "$(driver)"
check "$host/bind while bound and the override names vfio-pci: no match" "No such device" \
	"$(w "$root/bus/pci/drivers/$host/bind" "$bdf")"
check "vfio-pci/unbind of a device on $host" "No such device" "$(w "$root/bus/pci/drivers/vfio-pci/unbind" "$bdf")"
check "$host/unbind" ok "$(w "$root/bus/pci/drivers/$host/unbind" "$bdf")"
check "... leaves no driver" none "$(driver)"
check "$host/unbind again" "No such device" "$(w "$root/bus/pci/drivers/$host/unbind" "$bdf")"
check "$host/bind with the override naming vfio-pci" "No such device" "$(w "$root/bus/pci/drivers/$host/bind" "$bdf")"
check "vfio-pci/bind with the override" ok "$(w "$root/bus/pci/drivers/vfio-pci/bind" "$bdf")"
check "... binds vfio-pci" vfio-pci "$(driver)"
check "... power/control auto (vfio-pci's probe allows runtime PM)" auto "$(cat "$dev/power/control")"
check "vfio-pci/bind again" "Device or resource busy" "$(w "$root/bus/pci/drivers/vfio-pci/bind" "$bdf")"
check "vfio-pci/unbind" ok "$(w "$root/bus/pci/drivers/vfio-pci/unbind" "$bdf")"
check "... power/control on again (its remove forbids runtime PM)" on "$(cat "$dev/power/control")"
check "clearing driver_override with a lone newline" ok "$(w "$dev/driver_override" "")"
check "... reads (null)" "(null)" "$(cat "$dev/driver_override")"
check "vfio-pci/bind without an override" "No such device" "$(w "$root/bus/pci/drivers/vfio-pci/bind" "$bdf")"
w "$dev/driver_override" vfio-pci >/dev/null
check "drivers_probe with the override set to vfio-pci" ok "$(w "$root/bus/pci/drivers_probe" "$bdf")"
check "... binds vfio-pci" vfio-pci "$(driver)"
check "drivers_probe while bound" ok "$(w "$root/bus/pci/drivers_probe" "$bdf")"
check "... changes nothing" vfio-pci "$(driver)"
w "$root/bus/pci/drivers/vfio-pci/unbind" "$bdf" >/dev/null
w "$dev/driver_override" "" >/dev/null
check "drivers_probe without an override" ok "$(w "$root/bus/pci/drivers_probe" "$bdf")"
check "... gives it back to $host" "$host" "$(driver)"
check "drivers_probe of an address with no device" "No such device" "$(w "$root/bus/pci/drivers_probe" 0000:7f:1f.7)"

if [ -n "$pm_bdf" ]; then
	bdf=$pm_bdf host=$pm_host
	dev=$root/bus/pci/devices/$bdf
	bus=${bdf%:*}
	param=$root/module/vfio_pci/parameters/disable_idle_d3
	idle=$(cat "$param")
	if [ "$idle" = Y ]; then idle_state=D0; else idle_state=D3hot; fi
	vendor=$(cat "$dev/vendor")
	check "$bdf start: on $host, driver_override unset" "$host (null)" "$(driver) $(cat "$dev/driver_override")"
	check "$bdf: reset_method" "$pm_methods" "$(cat "$dev/reset_method")"
	check "$bdf: reading reset (write only)" "Permission denied" "$( (cat "$dev/reset" >/dev/null) 2>&1 | sed 's/.*: //')"
	check "$bdf: writing reset 0" "Invalid argument" "$(w "$dev/reset" 0)"
	check "module/vfio_pci/refcnt with no VM" 0 "$(cat "$root/module/vfio_pci/refcnt")"
	w "$dev/driver_override" vfio-pci >/dev/null
	w "$root/bus/pci/drivers/$host/unbind" "$bdf" >/dev/null
	w "$root/bus/pci/drivers_probe" "$bdf" >/dev/null
	check "$bdf: probed to vfio-pci, power/control auto" "vfio-pci auto" "$(driver) $(cat "$dev/power/control")"
	check "$bdf: idle on vfio-pci with disable_idle_d3=$idle: $idle_state" "$idle_state" "$(settled "$dev/power_state" "$idle_state")"
	check "$bdf: its config answers while suspended (vendor id)" "$vendor" \
		"0x$(od -An -tx1 -N2 "$dev/config" | awk '{ print $2 $1 }')"
	check "$bdf: ... and it suspends again" "$idle_state" "$(settled "$dev/power_state" "$idle_state")"
	check "$bdf: writing reset 1 on vfio-pci" ok "$(w "$dev/reset" 1)"
	check "$bdf: ... suspended again after it" "$idle_state" "$(settled "$dev/power_state" "$idle_state")"
	check "$bdf: power/control on" ok "$(w "$dev/power/control" on)"
	check "$bdf: ... D0 at once" D0 "$(cat "$dev/power_state")"
	check "$bdf: d3cold_allowed 0 while on" ok "$(w "$dev/d3cold_allowed" 0)"
	check "$bdf: ... still D0" "0 D0" "$(cat "$dev/d3cold_allowed") $(cat "$dev/power_state")"
	w "$dev/d3cold_allowed" 1 >/dev/null
	check "$bdf: power/control auto" ok "$(w "$dev/power/control" auto)"
	check "$bdf: ... $idle_state again" "$idle_state" "$(settled "$dev/power_state" "$idle_state")"
	if [ "$idle" = N ]; then
		check "disable_idle_d3: writing Y" ok "$(w "$param" Y)"
		check "... reads Y" Y "$(cat "$param")"
		w "$root/bus/pci/drivers/vfio-pci/unbind" "$bdf" >/dev/null
		w "$root/bus/pci/drivers/vfio-pci/bind" "$bdf" >/dev/null
		check "$bdf: unbound and bound again: vfio-pci" vfio-pci "$(driver)"
		check "$bdf: ... still D3hot (the value in force is the one vfio-pci was loaded with)" D3hot \
			"$(sleep 1; cat "$dev/power_state")"
		w "$param" N >/dev/null
	fi
	check "$bdf: vfio-pci/unbind" ok "$(w "$root/bus/pci/drivers/vfio-pci/unbind" "$bdf")"
	check "$bdf: ... on no driver, power/control on, D0" "none on D0" \
		"$(driver) $(cat "$dev/power/control") $(settled "$dev/power_state" D0)"
	check "$bdf: writing remove 1 (the override still vfio-pci)" ok "$(w "$dev/remove" 1)"
	check "$bdf: ... gone from bus/pci/devices" no "$([ -e "$dev" ] && echo yes || echo no)"
	check "$bus: its bus is still there" yes "$([ -e "$root/class/pci_bus/$bus/rescan" ] && echo yes || echo no)"
	check "$bus: writing its rescan 1" ok "$(w "$root/class/pci_bus/$bus/rescan" 1)"
	check "$bdf: back, a new device: on $host, no override, power/control on, D0" "$host (null) on D0" \
		"$(settled_driver "$host") $(cat "$dev/driver_override") $(cat "$dev/power/control") $(cat "$dev/power_state")"
fi
echo "1..$n"
exit $bad
