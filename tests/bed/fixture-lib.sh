# fixture-lib.sh: shell functions that write a --sysfs-root tree in the shape record-fixture.sh records; sourced by gen-ds1621.sh, gen-vmd.sh, gen-dualtpu.sh, tests/cli/gen-power.sh and tests/bench/gen-host.sh.
#
# The caller sets $root (the tree) before calling them. The layout, attribute names and formats
# follow the trees recorded from the QEMU guest (tests/fixtures/sysfs/default); config space is
# synthesized (the 64-byte header, bridges with bus numbers, no capabilities).

# tree_init DRIVER...: the skeleton of $root, with these drivers under bus/pci/drivers.
tree_init() {
	local drv
	mkdir -p "$root/bus/pci/devices" "$root/bus/pci/drivers" "$root/kernel/iommu_groups" \
		"$root/class/net" "$root/class/block" "$root/dev/block" "$root/devices/pci0000:00"
	: >"$root/bus/pci/drivers_probe"
	: >"$root/bus/pci/rescan"
	echo 1 >"$root/bus/pci/drivers_autoprobe"
	for drv in "$@"; do
		mkdir -p "$root/bus/pci/drivers/$drv"
		touch "$root/bus/pci/drivers/$drv/"{bind,unbind,new_id,remove_id}
	done
}

# up PATH: "../" once per directory in PATH (PATH relative to the tree's root).
up() {
	local p=$1 u=
	while [ -n "$p" ]; do
		u=../$u
		case $p in */*) p=${p#*/} ;; *) p= ;; esac
	done
	echo "$u"
}

# write_config FILE VENDOR DEVICE CLASS6 REV HDRTYPE SVID SDID "BAR0 BAR1 ... (8 hex each)" [PRI SEC SUB]
# A 256-byte config space: the standard header, no capabilities.
write_config() {
	local f=$1 v=$2 d=$3 cls=$4 rev=$5 ht=$6 sv=$7 sd=$8 bars=$9 b i out=
	local -a c
	for ((i = 0; i < 256; i++)); do c[i]=00; done
	put16() { c[$1]=${2:2:2}; c[$1 + 1]=${2:0:2}; }
	put32() { put16 "$1" "${2:4:4}"; put16 $(($1 + 2)) "${2:0:4}"; }
	put16 0 "$v"
	put16 2 "$d"
	c[4]=06 c[5]=04 # memory + bus master, INTx disabled
	c[8]=$rev c[9]=${cls:4:2} c[10]=${cls:2:2} c[11]=${cls:0:2}
	c[14]=$ht
	i=16
	for b in $bars; do # BAR0 at 0x10, 4 bytes each
		put32 $i "$b"
		i=$((i + 4))
	done
	if [ $# -ge 12 ]; then # type 1 header: primary, secondary, subordinate bus
		c[24]=${10} c[25]=${11} c[26]=${12}
	else
		put16 44 "$sv"
		put16 46 "$sd"
		c[61]=01 # INTA
	fi
	for b in "${c[@]}"; do out+="\\x$b"; done
	printf '%b' "$out" >"$f"
}

# resource_file FILE NLINES: the resource file from the global array RES (index = line).
resource_file() {
	local f=$1 n=$2 i
	: >"$f"
	for ((i = 0; i < n; i++)); do
		# shellcheck disable=SC2086
		printf '0x%016x 0x%016x 0x%016x\n' ${RES[i]:-0 0 0} >>"$f"
	done
}

# dev PATH VENDOR DEVICE CLASS6 REV SVID SDID DRIVER|- GROUP IRQ [BRIDGE-PRI-SEC-SUB]
# PATH is the device's directory under devices/, e.g. pci0000:00/0000:00:01.2/0000:01:00.0.
# Reads BARS ("HEX8 ..."), RES (resource lines) and HT (header type) from the caller.
dev() {
	local path=$1 v=$2 d=$3 cls=$4 rev=$5 sv=$6 sd=$7 drv=$8 grp=$9 irq=${10} br=${11:-}
	local bdf=${path##*/} rel=devices/$path dir n=13
	dir=$root/$rel
	mkdir -p "$dir"
	echo "0x$v" >"$dir/vendor"
	echo "0x$d" >"$dir/device"
	echo "0x$cls" >"$dir/class"
	echo "0x$sv" >"$dir/subsystem_vendor"
	echo "0x$sd" >"$dir/subsystem_device"
	echo "0x$rev" >"$dir/revision"
	echo "(null)" >"$dir/driver_override"
	echo "$irq" >"$dir/irq"
	echo 1 >"$dir/enable"
	echo -1 >"$dir/numa_node"
	printf 'pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n' "0x$v" "0x$d" "0x$sv" "0x$sd" \
		"0x${cls:0:2}" "0x${cls:2:2}" "0x${cls:4:2}" >"$dir/modalias"
	if [ -n "$br" ]; then
		n=17
		# shellcheck disable=SC2086
		write_config "$dir/config" "$v" "$d" "$cls" "$rev" "${HT:-01}" "$sv" "$sd" "${BARS:-}" ${br//-/ }
	else
		write_config "$dir/config" "$v" "$d" "$cls" "$rev" "${HT:-00}" "$sv" "$sd" "${BARS:-}"
	fi
	resource_file "$dir/resource" $n
	ln -s "$(up "$rel")bus/pci" "$dir/subsystem"
	ln -s "$(up bus/pci/devices)$rel" "$root/bus/pci/devices/$bdf"
	mkdir -p "$root/kernel/iommu_groups/$grp/devices"
	echo DMA >"$root/kernel/iommu_groups/$grp/type"
	ln -s "$(up "kernel/iommu_groups/$grp/devices")$rel" "$root/kernel/iommu_groups/$grp/devices/$bdf"
	ln -s "$(up "$rel")kernel/iommu_groups/$grp" "$dir/iommu_group"
	if [ "$drv" != - ]; then
		ln -s "$(up "$rel")bus/pci/drivers/$drv" "$dir/driver"
		ln -s "$(up "bus/pci/drivers/$drv")$rel" "$root/bus/pci/drivers/$drv/$bdf"
	fi
	BARS='' HT='' RES=()
}

# netif DEVPATH IFNAME MAC OPERSTATE FLAGS IFINDEX: a network interface under a PCI device.
netif() {
	local rel=devices/$1/net/$2 dir
	dir=$root/$rel
	mkdir -p "$dir"
	echo "$3" >"$dir/address"
	echo "$4" >"$dir/operstate"
	echo "$5" >"$dir/flags"
	echo "$6" >"$dir/ifindex"
	echo 1500 >"$dir/mtu"
	echo 1 >"$dir/type"
	echo 6 >"$dir/addr_len"
	echo ff:ff:ff:ff:ff:ff >"$dir/broadcast"
	[ "$4" = up ] && echo 1 >"$dir/carrier"
	ln -s "../../$rel" "$root/class/net/$2"
}

# loopback: the lo interface every kernel has (devices/virtual/net/lo).
loopback() {
	mkdir -p "$root/devices/virtual/net/lo"
	echo 00:00:00:00:00:00 >"$root/devices/virtual/net/lo/address"
	echo unknown >"$root/devices/virtual/net/lo/operstate"
	echo 0x9 >"$root/devices/virtual/net/lo/flags"
	echo 1 >"$root/devices/virtual/net/lo/ifindex"
	ln -s ../../devices/virtual/net/lo "$root/class/net/lo"
}

# blockdev DIR-REL NAME MAJ:MIN SIZE [PARTITION-NO]: a block device (or partition) directory.
blockdev() {
	local dir=$root/$1
	mkdir -p "$dir"
	echo "$3" >"$dir/dev"
	echo "$4" >"$dir/size"
	[ -n "${5:-}" ] && echo "$5" >"$dir/partition"
	ln -s "../../$1" "$root/class/block/$2"
	ln -s "../../$1" "$root/dev/block/$3"
}

# pm BDF POWER_STATE|- CONTROL D3COLD_ALLOWED RESET_METHODS|-|reset: the power and reset
# attributes of a device ("-": absent; "reset": a reset attribute but no reset_method).
pm() {
	local dir
	dir=$(cd "$root/bus/pci/devices/$1" && pwd -P)
	[ "$2" = - ] || echo "$2" >"$dir/power_state"
	mkdir -p "$dir/power"
	echo "$3" >"$dir/power/control"
	echo "$4" >"$dir/d3cold_allowed"
	case $5 in
	-) ;;
	reset) : >"$dir/reset" ;;
	*) : >"$dir/reset"; echo "$5" >"$dir/reset_method" ;;
	esac
}

declare -a RES=()
BARS='' HT=''
