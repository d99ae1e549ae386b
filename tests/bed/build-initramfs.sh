#!/bin/sh
# Builds (or reuses from the cache) the test bed's initramfs images and prints their paths.
#
# usage: tests/bed/build-initramfs.sh outer|nested
#
# outer:  the guest that runs scenarios: busybox-static, the kernel modules the
#         scenarios need (9p, overlay, NIC drivers, vfio, kvm_amd, ...) and
#         tests/bed/guest-init.sh as /init.
# nested: the tiny guest that the guest's libvirtd boots: busybox-static and
#         tests/bed/nested-init.sh as /init (it prints its PCI list on change).
#
# Images are cached under build/bed/ at the top of the repository, keyed on a
# hash of the kernel version, this script, the init script and busybox's
# version.  Environment: BED_KERNEL (vmlinuz path, default: newest
# /boot/vmlinuz-*), BED_BUSYBOX (default /bin/busybox), BED_BUILD (cache dir).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kind=${1:-outer}

# Modules the outer guest loads with insmod, in this order (dependencies are
# added in front of each by modprobe --show-depends).
BED_MODULES="virtio_pci 9pnet_virtio 9p overlay e1000e e1000 \
irqbypass vfio vfio_iommu_type1 vfio_virqfd vfio-pci-core vfio-pci \
kvm_amd tun bridge"

: "${BED_BUILD:=$repo/build/bed}"
: "${BED_BUSYBOX:=/bin/busybox}"
case $BED_BUILD in /*) ;; *) BED_BUILD=$PWD/$BED_BUILD ;; esac
if [ -z "${BED_KERNEL:-}" ]; then
	# shellcheck disable=SC2012
	BED_KERNEL=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
fi
if [ -z "$BED_KERNEL" ] || [ ! -r "$BED_KERNEL" ]; then
	echo "build-initramfs: no readable /boot/vmlinuz-*" >&2
	exit 1
fi
kver=${BED_KERNEL##*/vmlinuz-}
[ -d "/lib/modules/$kver" ] || { echo "build-initramfs: no /lib/modules/$kver" >&2; exit 1; }
[ -x "$BED_BUSYBOX" ] || { echo "build-initramfs: no $BED_BUSYBOX (install busybox-static)" >&2; exit 1; }
case $(file -b "$BED_BUSYBOX" 2>/dev/null || echo static) in
*dynamically*) echo "build-initramfs: $BED_BUSYBOX is not static (install busybox-static)" >&2; exit 1 ;;
esac

case $kind in
outer) init=$here/guest-init.sh ;;
nested) init=$here/nested-init.sh ;;
*) echo "usage: $0 outer|nested" >&2; exit 2 ;;
esac

bbver=$("$BED_BUSYBOX" 2>&1 | head -n 1)
key=$( { echo "$kver"; echo "$bbver"; echo "$kind"; cat "$0" "$init"; } | sha256sum | cut -c1-16)
out=$BED_BUILD/$kind-$key.cpio.gz
if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$BED_BUILD"
tmp=$(mktemp -d "$BED_BUILD/.initramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root/bin" "$root/sbin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/modules"
cp "$BED_BUSYBOX" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$init" "$root/init"
chmod 755 "$root/init"

if [ "$kind" = outer ]; then
	: >"$root/modules/order"
	for m in $BED_MODULES; do
		modprobe -S "$kver" --show-depends "$m" | while read -r verb path _; do
			[ "$verb" = insmod ] || continue # "builtin X" needs nothing
			base=${path##*/}
			grep -qx "$base" "$root/modules/order" && continue
			case $path in
			*.ko) cp "$path" "$root/modules/$base" ;;
			*.ko.xz) xz -dc "$path" >"$root/modules/${base%.xz}"; base=${base%.xz} ;;
			*.ko.zst) zstd -qdc "$path" >"$root/modules/${base%.zst}"; base=${base%.zst} ;;
			*) echo "build-initramfs: unexpected module path $path" >&2; exit 1 ;;
			esac
			echo "$base" >>"$root/modules/order"
		done
	done
fi

(cd "$root" && find . -print | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 >"$tmp/img"
mv "$tmp/img" "$out"
# Keep the cache small: drop older images of the same kind.
for old in "$BED_BUILD/$kind"-*.cpio.gz; do
	[ "$old" = "$out" ] || rm -f "$old"
done
echo "$out"
