#!/bin/sh
# deb.sh: the Debian package (make deb) is lintian clean, and in a copy of the minimal Debian 12 root of minroot.sh installs with its Depends, works (validate, devices, plan on fixtures), ships the units as `passthrough install --systemd` writes them and enables none, and is removed (conffile kept) and purged leaving no file behind; prints TAP.
#   DEB      the package (default: the one `make deb` writes)
#   MINROOT  the cached root (default build/minroot, made by tests/dist/minroot.sh)
#   DEB_CACHE  where the dependencies' .debs are kept between runs (default build/minroot-debs)
# Needs root, chroot and the cached root; the dependencies come from deb.debian.org the first
# time (apt-get in the root), then from DEB_CACHE. Otherwise it says why and skips.
set -u
cd "$(dirname "$0")/../.." || exit 1
version=$(sed -n 's/^VERSION *= *//p' Makefile)
DEB=${DEB:-passthrough_$version-1_$(dpkg --print-architecture 2>/dev/null || echo amd64).deb}
MINROOT=${MINROOT:-build/minroot}
DEB_CACHE=${DEB_CACHE:-build/minroot-debs}
n=0 fails=0

report() {   # report NAME OK [DETAIL-FILE]
	n=$((n + 1))
	if [ "$2" = 1 ]; then echo "ok $n - $1"; else
		fails=$((fails + 1)); echo "not ok $n - $1"
		[ $# -lt 3 ] || sed 's/^/#   /' "$3" | tail -n 40
	fi
}
skip_all() { echo "ok 1 - Debian package tests # SKIP $1"; echo "1..1"; exit 0; }
bail() { report "$1" 0 "${2:-/dev/null}"; echo "1..$n"; exit 1; }

[ "$(id -u)" = 0 ] || skip_all "they need root (chroot, dpkg in the root)"
command -v chroot >/dev/null || skip_all "chroot is missing"
[ -f "$MINROOT/.complete" ] || skip_all "no minimal root in $MINROOT (tests/dist/minroot.sh makes it)"
[ -f "$DEB" ] || bail "the package '$DEB' exists (make deb)"

log=$(mktemp) || exit 1
run=$MINROOT.deb
unmount_proc() { ! mountpoint -q "$run/proc" 2>/dev/null || umount "$run/proc"; }
trap 'rm -f "$log" "$log".*; unmount_proc; [ -n "${KEEP:-}" ] || rm -rf --one-file-system "$run"' EXIT INT TERM

# lintian on the host: no error, no warning (overrides, each with its reason, are in the package).
if command -v lintian >/dev/null; then
	lintian --fail-on error,warning "$DEB" >"$log" 2>&1
	rc=$?
	grep -v '^running with root privileges' "$log" >"$log.l"; mv "$log.l" "$log"
	if [ $rc = 0 ] && ! grep -q '^[EW]: ' "$log"; then report "lintian: no error or warning" 1
	else report "lintian: no error or warning" 0 "$log"; fi
	sed 's/^/# lintian: /' "$log"
else
	echo "ok $((n = n + 1)) - lintian # SKIP lintian is not installed (apt-get install lintian)"
fi
if dpkg-deb -I "$DEB" | grep -qE '^ +[0-9]+ bytes, +[0-9]+ lines +\*? *(postinst|preinst) '; then
	dpkg-deb -I "$DEB" >"$log"; report "no postinst or preinst: installing enables and starts nothing" 0 "$log"
else report "no postinst or preinst: installing enables and starts nothing" 1; fi
[ "$(dpkg-deb -f "$DEB" Depends | tr -d ' ')" != "" ] || bail "the package has a Depends line"

unmount_proc
rm -rf --one-file-system "$run"
cp -a "$MINROOT" "$run" || bail "copy $MINROOT to $run"
mount -t proc proc "$run/proc" || bail "mount proc on $run/proc"
mkdir -p "$run/src" "$run/var/cache/apt/archives" "$DEB_CACHE"
tar -cf - examples tests/fixtures | tar -xf - -C "$run/src"
cp "$DEB" "$run/tmp/p.deb"
in_root() { chroot "$run" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	DEBIAN_FRONTEND=noninteractive "$@"; }

# The Depends, as the package says (libyaml, libpci and pci.ids are not in the root): from the
# cache, else from the mirror with the root's lists, else after apt-get update.
deps=$(dpkg-deb -f "$DEB" Depends | sed -e 's/([^)]*)//g' -e 's/,/ /g')
cp "$DEB_CACHE"/*.deb "$run/var/cache/apt/archives/" 2>/dev/null
cp /etc/resolv.conf "$run/etc/resolv.conf" 2>/dev/null
apt_deps() { in_root apt-get install -y -q --no-install-recommends $deps >"$log" 2>&1; }
if ! apt_deps; then
	in_root apt-get update -q >>"$log" 2>&1 || skip_all "cannot install the Depends ($deps) in the root: no cached .debs and the mirror is not reachable"
	apt_deps || bail "apt-get install $deps in the root" "$log"
fi
cp "$run/var/cache/apt/archives/"*.deb "$DEB_CACHE/" 2>/dev/null
rm -f "$run/var/cache/apt/archives/"*.deb

snapshot() {   # the root's files (type, mode, link, hash) that a package may leave: not dpkg's own records
	(cd "$run" && find . \( -path ./proc -o -path ./src -o -path ./tmp -o -path ./var/lib/dpkg -o -path ./var/log \
		-o -path ./var/cache -o -path ./var/lib/apt \) -prune -o -printf '%p %M %l\n' | LC_ALL=C sort &&
	 find . \( -path ./proc -o -path ./src -o -path ./tmp -o -path ./var/lib/dpkg -o -path ./var/log \
		-o -path ./var/cache -o -path ./var/lib/apt \) -prune -o -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}
snapshot >"$log.before"

in_root dpkg -i /tmp/p.deb >"$log" 2>&1
if [ $? = 0 ] && [ -x "$run/usr/sbin/passthrough" ] && [ -f "$run/etc/passthrough.yaml" ] &&
	[ -f "$run/usr/share/man/man8/passthrough.8.gz" ] && [ -f "$run/usr/share/man/man5/passthrough.yaml.5.gz" ]; then
	report "dpkg -i: installs with its Depends alone (no libvirt daemon, no systemd, no kmod)" 1
else report "dpkg -i: installs with its Depends alone (no libvirt daemon, no systemd, no kmod)" 0 "$log"; fi

in_root passthrough validate >"$log" 2>&1
if [ $? = 0 ] && grep -qx 'ok: 0 devices' "$log"; then report "validate with no -c: the conffile /etc/passthrough.yaml, no device" 1
else report "validate with no -c: the conffile /etc/passthrough.yaml, no device" 0 "$log"; fi
in_root passthrough validate -c /usr/share/doc/passthrough/examples/multi-vm.yaml >"$log" 2>&1
if [ $? = 0 ] && grep -q '^ok: ' "$log"; then report "validate the packaged example" 1
else report "validate the packaged example" 0 "$log"; fi
in_root passthrough devices -c /src/examples/multi-vm.yaml --sysfs-root /src/tests/fixtures/sysfs/ds1621-coral \
	--proc-root /src/tests/fixtures/proc/ds1621-coral >"$log" 2>&1
if [ $? = 0 ] && grep -q '^0000:01:00.0 .*\[1ac1:089a\]' "$log"; then report "devices on a fixture tree" 1
else report "devices on a fixture tree" 0 "$log"; fi
in_root passthrough plan --detailed-exitcode -c /src/examples/test-bed.yaml --sysfs-root /src/tests/fixtures/sysfs/default \
	--proc-root /src/tests/fixtures/proc/default --connect test:///src/tests/fixtures/libvirt/frigate-running.xml >"$log" 2>&1
if [ $? = 2 ] && grep -q 'attach to frigate_VM (live)' "$log"; then report "plan --detailed-exitcode on a fixture and the test driver: 2" 1
else report "plan --detailed-exitcode on a fixture and the test driver: 2" 0 "$log"; fi

# The units: the same text `passthrough install --systemd` writes, and none enabled.
mkdir -p "$run/tmp/inst"
in_root passthrough install --systemd --root /tmp/inst --quiet >"$log" 2>&1 || bail "install --systemd --root /tmp/inst" "$log"
: >"$log"
for u in passthrough-boot.service passthrough.service passthrough.timer passthrough-watch.service; do
	cmp "$run/lib/systemd/system/$u" "$run/tmp/inst/etc/systemd/system/$u" >>"$log" 2>&1 || echo "differs: $u" >>"$log"
done
[ "$(ls "$run/lib/systemd/system" | grep -c '^passthrough')" = 4 ] || ls "$run/lib/systemd/system" >>"$log"
if [ ! -s "$log" ]; then report "the four units in /lib/systemd/system are what install --systemd writes" 1
else report "the four units in /lib/systemd/system are what install --systemd writes" 0 "$log"; fi
find "$run/etc/systemd" "$run/lib/systemd" -name 'passthrough*' -path '*.wants/*' >"$log" 2>/dev/null
if [ ! -s "$log" ]; then report "no unit is enabled (no .wants link)" 1
else report "no unit is enabled (no .wants link)" 0 "$log"; fi
rm -rf "$run/tmp/inst"

# Remove keeps the edited conffile; purge takes it and everything else.
echo "# mine" >>"$run/etc/passthrough.yaml"
mkdir -p "$run/var/lib/passthrough" && echo '{}' >"$run/var/lib/passthrough/state.json"
in_root dpkg -r passthrough >"$log" 2>&1
if [ $? = 0 ] && [ ! -e "$run/usr/sbin/passthrough" ] && grep -qx '# mine' "$run/etc/passthrough.yaml" &&
	[ ! -e "$run/lib/systemd/system/passthrough.service" ]; then
	report "dpkg -r: the binary and units go, the edited conffile stays" 1
else report "dpkg -r: the binary and units go, the edited conffile stays" 0 "$log"; fi
in_root dpkg --purge passthrough >"$log" 2>&1
rc=$?
snapshot >"$log.after"
if [ $rc = 0 ] && diff -u "$log.before" "$log.after" >>"$log"; then
	report "dpkg --purge: conffile and run state gone, the root as before the install" 1
else report "dpkg --purge: conffile and run state gone, the root as before the install" 0 "$log"; fi
in_root dpkg-query -W -f '${Status}' passthrough >"$log" 2>&1
if ! grep -q 'installed\|config-files' "$log"; then report "dpkg knows nothing of it after the purge" 1
else report "dpkg knows nothing of it after the purge" 0 "$log"; fi

echo "1..$n"
[ "$fails" = 0 ]
