#!/bin/bash
# Records this machine's PCI view of /sys (and a few /proc files) as a small tree that can stand in for /sys via --sysfs-root.
#
# usage: tests/bed/record-fixture.sh SYSFS-DEST PROC-DEST
#
# Meant to run inside the test-bed guest (scenario "record"); it only reads
# /sys and /proc.  The tree mirrors the kernel's layout and keeps its relative
# symlinks as they are:
#   bus/pci/devices/BDF -> ../../../devices/pci0000:00/.../BDF
#   devices/.../BDF/{vendor,device,class,...,config}  regular files
#   devices/.../BDF/{power_state,reset_method,d3cold_allowed,power/control}  when the kernel has them
#   devices/.../BDF/reset  an empty file when the kernel has one (it is write-only)
#   devices/.../BDF/driver -> ../../../bus/pci/drivers/NAME
#   devices/.../BDF/iommu_group -> ../../../kernel/iommu_groups/N
#   devices/.../BDF/net/IF/{operstate,flags,address,...}
#   kernel/iommu_groups/N/devices/BDF -> ../../../../devices/.../BDF
#   bus/pci/drivers/NAME/{bind,unbind,new_id,remove_id} (empty) + BDF links
#   bus/pci/drivers_probe (empty), class/net/IF -> ../../devices/.../net/IF
set -eu

[ $# = 2 ] || { echo "usage: $0 SYSFS-DEST PROC-DEST" >&2; exit 2; }
dest=$1
pdest=$2
sys=/sys

# Device attributes worth keeping (small; resourceN and rom are left out).
dev_attrs="vendor device class subsystem_vendor subsystem_device revision
driver_override config irq resource enable modalias numa_node
current_link_speed current_link_width max_link_speed max_link_width
power_state reset_method d3cold_allowed"
net_attrs="operstate flags address carrier mtu ifindex type addr_len broadcast"

rm -rf "$dest" "$pdest"
mkdir -p "$dest/bus/pci/devices" "$dest/bus/pci/drivers" "$dest/kernel/iommu_groups" \
	"$dest/class/net" "$pdest"
: >"$dest/bus/pci/drivers_probe"
cp "$sys/bus/pci/drivers_autoprobe" "$dest/bus/pci/drivers_autoprobe"
: >"$dest/bus/pci/rescan"

# Under TCG every process costs tens of milliseconds, so links are read with
# one find per directory and attributes copied with one cp per directory.

copy_attrs() { # copy_attrs SRC-DIR DEST-DIR NAMES...: regular files; unreadable ones are dropped
	local src=$1 dst=$2 a files=()
	shift 2
	for a in "$@"; do
		[ -f "$src/$a" ] && files+=("$src/$a")
	done
	[ ${#files[@]} = 0 ] && return 0
	cp -t "$dst" -- "${files[@]}" 2>/dev/null || true
	for a in "${files[@]}"; do # cp leaves an empty file when read() fails
		[ -s "$dst/${a##*/}" ] || rm -f "$dst/${a##*/}"
	done
}

# resolve DIR REL: DIR/REL with the ../ taken off, as a path under the tree's root.
resolve() {
	local base=/$1 rel=$2
	while [ "${rel#../}" != "$rel" ]; do
		rel=${rel#../}
		base=${base%/*}
	done
	base=$base/$rel
	echo "${base#/}"
}

# links DIR: "NAME TARGET" for each symlink directly in DIR.
links() {
	find "$1/" -mindepth 1 -maxdepth 1 -type l -printf '%f %l\n'
}

while read -r bdf target; do
	ln -s "$target" "$dest/bus/pci/devices/$bdf"
	rel=$(resolve bus/pci/devices "$target")
	d=$dest/$rel
	mkdir -p "$d"
	# shellcheck disable=SC2086
	copy_attrs "$sys/$rel" "$d" $dev_attrs
	if [ -f "$sys/$rel/power/control" ]; then
		mkdir -p "$d/power"
		copy_attrs "$sys/$rel/power" "$d/power" control
	fi
	[ ! -e "$sys/$rel/reset" ] || : >"$d/reset"
	while read -r name t; do
		case $name in
		driver | iommu_group | subsystem) ln -s "$t" "$d/$name" ;;
		esac
	done < <(links "$sys/$rel")
	for n in "$sys/$rel"/net/*; do
		[ -d "$n" ] || continue
		mkdir -p "$d/net/${n##*/}"
		# shellcheck disable=SC2086
		copy_attrs "$n" "$d/net/${n##*/}" $net_attrs
	done
done < <(links "$sys/bus/pci/devices")

for g in "$sys"/kernel/iommu_groups/*; do
	mkdir -p "$dest/kernel/iommu_groups/${g##*/}/devices"
	copy_attrs "$g" "$dest/kernel/iommu_groups/${g##*/}" type
done
while read -r path target; do
	ln -s "$target" "$dest/kernel/iommu_groups/$path"
done < <(find "$sys/kernel/iommu_groups/" -mindepth 3 -maxdepth 3 -type l -printf '%P %l\n')

for drv in "$sys"/bus/pci/drivers/*; do
	files=()
	for f in bind unbind new_id remove_id; do
		[ -e "$drv/$f" ] && files+=("$dest/bus/pci/drivers/${drv##*/}/$f")
	done
	mkdir -p "$dest/bus/pci/drivers/${drv##*/}"
	[ ${#files[@]} = 0 ] || touch "${files[@]}"
done
while read -r path target; do
	case ${path##*/} in
	*:*:*.*) ln -s "$target" "$dest/bus/pci/drivers/$path" ;;
	esac
done < <(find "$sys/bus/pci/drivers/" -mindepth 2 -maxdepth 2 -type l -printf '%P %l\n')

while read -r ifname target; do
	ln -s "$target" "$dest/class/net/$ifname"
	rel=$(resolve class/net "$target")
	if [ ! -d "$dest/$rel" ]; then # not under a PCI device, e.g. devices/virtual/net/lo
		mkdir -p "$dest/$rel"
		# shellcheck disable=SC2086
		copy_attrs "$sys/$rel" "$dest/$rel" $net_attrs
	fi
done < <(links "$sys/class/net")

mkdir -p "$pdest/net"
for f in mounts swaps modules cmdline net/route; do
	cp "/proc/$f" "$pdest/$f" 2>/dev/null || echo "record-fixture: no /proc/$f" >&2
done
