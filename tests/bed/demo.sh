#!/bin/bash
# make demo: boots the test bed and shows the main job (examples/test-bed.yaml: 00:02.0 into the nested VM titled frigate_VM), with progress and elapsed seconds.
#
# usage: tests/bed/demo.sh     (needs ./passthrough built; root; QEMU; takes ~1-2 minutes)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BED_T0=$(date +%s)
export BED_T0

say() { printf '[%3ds] %s\n' $(($(date +%s) - BED_T0)) "$*"; }

if ! why=$("$here/run.sh" --can-run); then
	echo "demo: $why" >&2
	exit 1
fi
[ -x "$repo/passthrough" ] || { echo "demo: build ./passthrough first (make)" >&2; exit 1; }

say "building the guest's initramfs (cached in build/bed/)..."
"$here/build-initramfs.sh" outer >/dev/null
"$here/build-initramfs.sh" nested >/dev/null
say "booting guest (QEMU TCG, q35 + intel-iommu, 2 vCPUs; ~10 s to a shell, ~40 s more for libvirtd and the nested VM)..."
"$here/run.sh" -v demo
