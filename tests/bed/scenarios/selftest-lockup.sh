#!/bin/bash
# Broken on purpose: fakes a guest kernel lockup on the console, to show that the runner retries in a fresh guest and then fails (run it by name).
# bed-suite: no
# bed-timeout: 120
set -eu
. tests/bed/lib.sh

log "printing a fake soft-lockup report at the kernel's critical level"
echo "<2>watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [selftest-lockup]" >/dev/kmsg
log "waiting to be killed"
sleep 600
