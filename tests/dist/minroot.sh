#!/bin/sh
# minroot.sh: the DSM 7.2 bundle in a minimal Debian 12 root (debootstrap minbase plus libvirt0 and libxml2, no libyaml, no libpci, no compiler): its binary passes the CLI golden and install tests there and reads /usr/local/etc/passthrough.yaml with no -c, and its installer installs, finds a libvirt that is off the library path, and uninstalls byte for byte; prints TAP.
#   BUNDLE   the tarball (default: the one `make dist` writes)
#   MINROOT  the cached root (default build/minroot; made once, ~30-60 s, from deb.debian.org)
# Needs root, debootstrap and chroot, and deb.debian.org when the root is not cached yet;
# otherwise it says why and skips. The cached root is never changed: each run works in a copy.
set -u
cd "$(dirname "$0")/../.." || exit 1
version=$(sed -n 's/^VERSION *= *//p' Makefile)
BUNDLE=${BUNDLE:-passthrough-$version-dsm7.2-x86_64.tar.gz}
MINROOT=${MINROOT:-build/minroot}
MIRROR=http://deb.debian.org/debian
n=0 fails=0

report() {   # report NAME OK [DETAIL-FILE]
	n=$((n + 1))
	if [ "$2" = 1 ]; then echo "ok $n - $1"; else
		fails=$((fails + 1)); echo "not ok $n - $1"
		[ $# -lt 3 ] || sed 's/^/#   /' "$3" | tail -n 40
	fi
}
skip_all() { echo "ok 1 - minimal-root tests # SKIP $1"; echo "1..1"; exit 0; }
bail() { report "$1" 0 "${2:-/dev/null}"; echo "1..$n"; exit 1; }

[ "$(id -u)" = 0 ] || skip_all "they need root (debootstrap, chroot)"
command -v debootstrap >/dev/null || skip_all "debootstrap is missing (apt-get install debootstrap)"
command -v chroot >/dev/null || skip_all "chroot is missing"
[ -f "$BUNDLE" ] || bail "the bundle '$BUNDLE' exists (make dist)"

run=$MINROOT.run
log=$(mktemp) || exit 1
# unmount_proc: the root's /proc, mounted for /proc/self/exe (install copies itself).
unmount_proc() { ! mountpoint -q "$run/proc" 2>/dev/null || umount "$run/proc"; }
trap 'rm -f "$log"; unmount_proc; [ -n "${KEEP:-}" ] || rm -rf --one-file-system "$run"' EXIT INT TERM

if [ ! -f "$MINROOT/.complete" ]; then
	curl -fsS -o /dev/null --max-time 15 "$MIRROR/dists/bookworm/Release" 2>/dev/null ||
		skip_all "deb.debian.org is not reachable and no root is cached in $MINROOT"
	rm -rf "$MINROOT" "$MINROOT.tmp"
	mkdir -p "$(dirname "$MINROOT")"
	start=$(date +%s)
	debootstrap --variant=minbase --include=libvirt0,libxml2 bookworm "$MINROOT.tmp" "$MIRROR" >"$log" 2>&1 ||
		bail "debootstrap --variant=minbase --include=libvirt0,libxml2 bookworm" "$log"
	rm -rf "$MINROOT.tmp/var/cache/apt/archives/"*.deb
	touch "$MINROOT.tmp/.complete"
	mv "$MINROOT.tmp" "$MINROOT"
	echo "# debootstrap: $(($(date +%s) - start)) s (cached in $MINROOT from now on)"
fi

# The root is what a NAS has: no libyaml, no libpci, no compiler, no -dev package.
chroot "$MINROOT" dpkg-query -W -f '${Package}\n' | grep -E '^(libyaml|libpci|pciutils|gcc|gcc-12|cpp|pkg-config)$|-dev$' >"$log"
find "$MINROOT" -name 'libyaml*' -o -name 'libpci*' >>"$log"
if [ -s "$log" ]; then report "the root has no libyaml, libpci, compiler or -dev package" 0 "$log"
else report "the root has no libyaml, libpci, compiler or -dev package" 1; fi

unmount_proc
rm -rf --one-file-system "$run"
cp -a "$MINROOT" "$run" || bail "copy $MINROOT to $run"
mount -t proc proc "$run/proc" || bail "mount proc on $run/proc"
mkdir -p "$run/opt" "$run/src"
tar -xzf "$BUNDLE" -C "$run/opt" || bail "unpack $BUNDLE"
b=/opt/passthrough-$version-dsm7.2-x86_64
# The tests and fixtures, as the golden scripts expect them (they run from the source tree).
tar -cf - Makefile examples tests/cli tests/config tests/fixtures | tar -xf - -C "$run/src"
in_root() { chroot "$run" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }

in_root "$b/bin/passthrough" --version --connect test:///default >"$log" 2>&1
if grep -q '^libvirt library: [0-9.]* from .*libvirt\.so\.0' "$log" && grep -q "^libvirt daemon: [0-9.]* at 'test:///default'" "$log"; then
	report "--version: the library loaded from the root and the test driver's version" 1
else report "--version: the library loaded from the root and the test driver's version" 0 "$log"; fi
sed 's/^/# /' "$log"

in_root "$b/bin/passthrough" validate -c "$b/examples/passthrough.yaml" >"$log" 2>&1
if [ $? = 0 ] && grep -q '^ok: ' "$log"; then report "validate the bundle's example" 1
else report "validate the bundle's example" 0 "$log"; fi

# No pci.ids in the root: names are missing, nothing else.
in_root "$b/bin/passthrough" devices -c /src/examples/multi-vm.yaml --sysfs-root /src/tests/fixtures/sysfs/ds1621-coral \
	--proc-root /src/tests/fixtures/proc/ds1621-coral >"$log" 2>&1
if [ $? = 0 ] && grep -q '^0000:01:00.0 .*\[1ac1:089a\]' "$log"; then report "devices without pci.ids" 1
else report "devices without pci.ids" 0 "$log"; fi
in_root "$b/bin/passthrough" plan --detailed-exitcode -c /src/examples/test-bed.yaml --sysfs-root /src/tests/fixtures/sysfs/default \
	--proc-root /src/tests/fixtures/proc/default --connect test:///src/tests/fixtures/libvirt/frigate-running.xml >"$log" 2>&1
if [ $? = 2 ] && grep -q 'attach to frigate_VM (live)' "$log"; then report "plan --detailed-exitcode on a fixture and the test driver: 2" 1
else report "plan --detailed-exitcode on a fixture and the test driver: 2" 0 "$log"; fi

# With the host's pci.ids (optional, looked up at run time) every CLI golden case holds.
if [ -f /usr/share/misc/pci.ids ]; then
	mkdir -p "$run/usr/share/misc" && cp /usr/share/misc/pci.ids "$run/usr/share/misc/"
	libvirt=$(chroot "$run" dpkg-query -W -f '${Version}' libvirt0 | sed 's/-.*//')
	for t in golden install; do
		in_root sh -c "cd /src && BIN=$b/bin/passthrough VALGRIND=no LIBVIRT_VERSION=$libvirt sh tests/cli/$t.sh" >"$log" 2>&1
		rc=$?
		if [ $rc = 0 ] && ! grep -q '^not ok' "$log"; then
			report "tests/cli/$t.sh in the root with the bundle's binary ($(grep -c '^ok' "$log") cases)" 1
		else
			grep -A8 '^not ok' "$log" >"$log.f"; mv "$log.f" "$log"
			report "tests/cli/$t.sh in the root with the bundle's binary" 0 "$log"
		fi
	done
fi

# The DSM defaults: with no -c the bundle's binary looks for /usr/local/etc/passthrough.yaml
# (an /etc/passthrough.yaml, which DSM rebuilds, is not read).
cp "$run/src/examples/passthrough.yaml" "$run/etc/passthrough.yaml"
in_root "$b/bin/passthrough" validate >"$log" 2>&1
if [ $? = 1 ] && grep -qx "passthrough: cannot open '/usr/local/etc/passthrough.yaml': No such file or directory" "$log"; then
	report "the bundle's binary reads /usr/local/etc/passthrough.yaml by default, not /etc's" 1
else report "the bundle's binary reads /usr/local/etc/passthrough.yaml by default, not /etc's" 0 "$log"; fi
rm -f "$run/etc/passthrough.yaml"

# The installer: a fake DSM 7 with VMM in the root; install, doctor, uninstall.
mkdir -p "$run/etc.defaults" "$run/etc/libvirt/hooks" "$run/var/packages/Virtualization/conf/systemd"
echo 'majorversion="7"' >"$run/etc.defaults/VERSION"
printf '#!/bin/sh\nset -e\ninsmod /lib/modules/kvm.ko\nexit 0\n' >"$run/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh"
chmod 755 "$run/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh"
snapshot() {   # the root's files with type, mode, link target and hash (not /proc, /opt, /src)
	(cd "$run" && find . -path ./opt -prune -o -path ./src -prune -o -path ./proc -prune -o -path ./tmp -prune -o -path ./run -prune -o \
		-printf '%p %M %l\n' | LC_ALL=C sort &&
	 find . -path ./opt -prune -o -path ./src -prune -o -path ./proc -prune -o -path ./tmp -prune -o -path ./run -prune -o \
		-type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}
install_cycle() {   # install_cycle NAME: install, check, uninstall, compare; sets out
	snapshot >"$log.before"
	in_root sh "$b/install.sh" >"$log" 2>&1
	rc=$?
	if [ $rc = 0 ] && [ -x "$run/usr/local/bin/passthrough" ] && cmp -s "$run/usr/local/bin/passthrough" "$run$b/bin/passthrough" &&
		[ -f "$run/usr/local/share/man/man8/passthrough.8" ] && [ -f "$run/usr/local/etc/passthrough.yaml" ] &&
		grep -q 'passthrough' "$run/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh" &&
		grep -q '^PASS  install ' "$log"; then
		report "$1: install.sh installs under /usr/local, wires VMM, doctor says intact" 1
	else report "$1: install.sh installs under /usr/local, wires VMM, doctor says intact" 0 "$log"; fi
	# The bundle's binary reads the DSM layout's file with no -c (DSM rebuilds /etc).
	in_root /usr/local/bin/passthrough validate >"$log" 2>&1
	if [ $? = 0 ] && grep -q '^ok: 0 devices$' "$log" && [ ! -e "$run/etc/passthrough.yaml" ]; then
		report "$1: validate with no -c reads the installed /usr/local/etc/passthrough.yaml" 1
	else report "$1: validate with no -c reads the installed /usr/local/etc/passthrough.yaml" 0 "$log"; fi
	out=$(in_root /usr/local/bin/passthrough --version --connect test:///default 2>&1)
	in_root sh "$b/install.sh" --uninstall >"$log" 2>&1
	rc=$?
	snapshot >"$log.after"
	if [ $rc = 0 ] && diff -u "$log.before" "$log.after" >>"$log"; then
		report "$1: install.sh --uninstall gives the root back byte for byte" 1
	else report "$1: install.sh --uninstall gives the root back byte for byte" 0 "$log"; fi
	rm -f "$log.before" "$log.after"
}
install_cycle "libvirt on the library path"

# A NAS whose libvirt.so.0 is only in VMM's package folder: the installer links it, and the
# installed binary says it loaded that one.
vmm=$run/var/packages/Virtualization/target/usr/lib
mkdir -p "$vmm"
for f in "$run"/usr/lib/x86_64-linux-gnu/libvirt.so.0*; do mv "$f" "$vmm/"; done
in_root ldconfig
install_cycle "libvirt only in VMM's folder"
if printf '%s\n' "$out" | grep -q "^libvirt library: [0-9.]* from '/usr/local/lib/passthrough-libvirt.so.0'"; then
	report "libvirt only in VMM's folder: the installed binary loads it through the installer's link" 1
else
	printf '%s\n' "$out" >"$log"
	report "libvirt only in VMM's folder: the installed binary loads it through the installer's link" 0 "$log"
fi

echo "1..$n"
[ "$fails" = 0 ]
