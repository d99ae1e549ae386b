#!/bin/bash
# Prints what the guest looks like (PCI devices, drivers, IOMMU groups, modules); a look-around, not a test.
# bed-suite: no
# bed-timeout: 120
set -eu
. tests/bed/lib.sh

log "guest up: $(uname -r)"
lspci -nnk
echo "--- IOMMU groups"
for g in /sys/kernel/iommu_groups/*; do
	echo "group ${g##*/} ($(cat "$g/type" 2>/dev/null)): $(find "$g/devices/" -mindepth 1 -printf '%f ')"
done
echo "--- network interfaces"
ls /sys/class/net
echo "--- /dev/vfio /dev/kvm"
ls -l /dev/vfio /dev/kvm 2>&1 || true
echo "--- dmesg (DMAR, vfio, kvm)"
dmesg | grep -Ei 'dmar|iommu|vfio|kvm' | head -n 30 || true
log "done"
