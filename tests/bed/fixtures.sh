#!/bin/bash
# Re-records the fixture trees in tests/fixtures/{sysfs,proc}/ from the test-bed guest and regenerates the hand-made ds1621-coral, vmd and dualtpu-{acs,noacs} trees.
#
# usage: tests/bed/fixtures.sh        (make fixtures)
#
# Boots the guest with scenario "record" (which runs record-fixture.sh for
# "default" and "e1000e-vfio" and leaves fixtures.tar in its work folder),
# unpacks that over tests/fixtures, runs gen-ds1621.sh, gen-vmd.sh and gen-dualtpu.sh, and checks that lspci
# reads every tree.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fixtures=$repo/tests/fixtures
: "${BED_BUILD:=$repo/build/bed}"
export BED_BUILD

"$here/run.sh" record
tar=$BED_BUILD/run/record/fixtures.tar
[ -s "$tar" ] || { echo "fixtures: $tar is missing" >&2; exit 1; }

names=$(tar -tf "$tar" | sed -n 's|^sysfs/\([^/]*\)/$|\1|p' | sort -u)
for n in $names; do
	rm -rf "$fixtures/sysfs/$n" "$fixtures/proc/$n"
done
mkdir -p "$fixtures"
tar -C "$fixtures" -xf "$tar"
"$here/gen-ds1621.sh" "$fixtures" >/dev/null
"$here/gen-vmd.sh" "$fixtures" >/dev/null
"$here/gen-dualtpu.sh" "$fixtures" >/dev/null

status=0
for t in "$fixtures"/sysfs/*/; do
	t=${t%/}
	n=$(lspci -A linux-sysfs -O "sysfs.path=$t/bus/pci" -n 2>/dev/null | wc -l)
	d=$(lspci -A linux-sysfs -O "sysfs.path=$t/bus/pci" -k 2>/dev/null | grep -c 'Kernel driver in use' || true)
	dangling=$(find "$t" -xtype l | wc -l)
	echo "fixture ${t##*/}: $n devices, $d with a driver, $dangling dangling links, $(du -sk --apparent-size "$t" | cut -f1) KiB"
	[ "$n" -gt 0 ] && [ "$dangling" = 0 ] || status=1
done
exit $status
