#!/bin/bash
# Runs one scenario inside the guest's chroot of the host root, copying its output to the console and to /bed-work/output.log.
#
# Started by guest-init.sh as root; the scenario's exit code becomes ours.
set -u
# shellcheck source=/dev/null
. /bed-work/env
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=dumb
export BED_REPO BED_SCENARIO BED_T0 BED_NESTED_INITRD BED_KERNEL
export BED_WORK=/bed-work BED_GUEST=1
hostname bed-guest 2>/dev/null || true
echo "127.0.1.1 bed-guest" >>/etc/hosts
ip link set lo up 2>/dev/null || true
cd "$BED_REPO" || exit 1

set -o pipefail
bash "tests/bed/scenarios/$BED_SCENARIO.sh" 2>&1 | tee /bed-work/output.log
