#!/bin/bash
# Broken on purpose: shows how a failing scenario reads (run it by name; it is not part of --all).
# bed-suite: no
# bed-timeout: 90
set -eu
. tests/bed/lib.sh

log "a check that holds"
expect_eq "id of 0000:00:04.0 (edu)" 1234:11e8 "$(pci_id 0000:00:04.0)"
log "a check that cannot hold: edu has no host driver"
expect_eq "driver of 0000:00:04.0 (edu)" e1000e "$(pci_driver 0000:00:04.0)"
log "not reached"
