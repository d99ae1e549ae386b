#!/bin/bash
# The kernel's driver-binding semantics that apply relies on, checked on a sysfs tree: run on the real kernel in the test bed (bed-basics) and on the FUSE fake (tests/fake/run.sh), so the fake is held to what Linux does.
#
# usage: tests/fake/semantics.sh SYSFS_ROOT BDF HOST_DRIVER
#   BDF must be bound to HOST_DRIVER with no driver_override, alone in its IOMMU
#   group, and vfio-pci must be loaded.  The device ends where it started.
# Prints TAP ("ok N - ..." / "not ok N - ...") and exits 1 if anything differs.
set -u
root=$1 bdf=$2 host=$3
dev=$root/bus/pci/devices/$bdf
n=0 bad=0

driver() { local l; l=$(readlink "$dev/driver" 2>/dev/null) && echo "${l##*/}" || echo none; }

# w FILE VALUE: writes VALUE (one write, with a newline, as echo does); prints ok or the error text.
w() {
	local err
	if err=$( (echo "$2" >"$1") 2>&1); then echo ok; else echo "${err##*: }"; fi
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

check "start: $bdf on $host" "$host" "$(driver)"
check "start: driver_override unset" "(null)" "$(cat "$dev/driver_override")"
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
check "vfio-pci/bind again" "Device or resource busy" "$(w "$root/bus/pci/drivers/vfio-pci/bind" "$bdf")"
check "vfio-pci/unbind" ok "$(w "$root/bus/pci/drivers/vfio-pci/unbind" "$bdf")"
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
echo "1..$n"
exit $bad
