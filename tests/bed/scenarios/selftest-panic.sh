#!/bin/bash
# Broken on purpose: panics the guest kernel before the result is written (sysrq c), to show that the runner retries once in a fresh guest and then fails (run it by name).
# bed-suite: no
# bed-timeout: 90
set -eu
. tests/bed/lib.sh

log "a check that holds"
expect_eq "id of 0000:00:04.0 (edu)" 1234:11e8 "$(pci_id 0000:00:04.0)"
log "crashing the kernel with sysrq c; panic=-1 and -no-reboot end QEMU"
sync
echo c >/proc/sysrq-trigger
sleep 30
fail "the kernel panics at sysrq c" "a panic" "the scenario still running 30 s later"
