#!/bin/sh
# install.sh: `passthrough install` and `uninstall` into temporary roots (DSM and systemd
# layouts): the tree they write, that a second install changes nothing, that uninstall
# gives back the tree byte for byte, chaining to an earlier hook, refusals that write
# nothing, and `doctor` noticing drift; prints TAP. BIN is the binary; VALGRIND=yes runs
# every case under valgrind.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./passthrough}
. tests/cli/lib.sh
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
tmp=$(mktemp -d) || exit 1
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT INT TERM
gold=tests/cli/install
umask 022   # the modes in the golden trees

# snapshot ROOT: every path with its type, mode and link target, and every file's hash.
snapshot() {
	(cd "$1" && find . -printf '%p %M %l\n' | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}
# same NAME A B: reports whether two snapshots are equal.
same() {
	if diff -u "$2" "$3" >"$tmp/why"; then report "$1" 1; else report "$1" 0 "$tmp/why"; fi
}
# listing ROOT: the tree without hashes (the binary differs by build), for the golden files.
listing() {
	(cd "$1" && find . -printf '%p %M %l\n' | LC_ALL=C sort)
}
# dsm_root DIR: a DSM 7 with VMM installed, an earlier hook, and a package script that
# ends in "exit 0" (so lines appended at its end would never run) under set -e.
dsm_root() {
	mkdir -p "$1/etc.defaults" "$1/etc/libvirt/hooks" "$1/var/packages/Virtualization/conf/systemd" "$1/usr/local/bin"
	echo 'majorversion="7"' >"$1/etc.defaults/VERSION"
	printf '#!/bin/sh\nset -e\n# load the modules VMM needs\ninsmod /lib/modules/kvm.ko\nexit 0\n' \
		>"$1/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh"
	chmod 755 "$1/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh"
	printf '#!/bin/sh\necho "earlier hook: $*" >>"$LOG"; cat >>"$LOG"; exit 3\n' >"$1/etc/libvirt/hooks/qemu"
	chmod 755 "$1/etc/libvirt/hooks/qemu"
}

# --- DSM ---
dsm=$tmp/dsm
dsm_root "$dsm"
snapshot "$dsm" >"$tmp/before"
run install --root "$dsm" --dry-run
snapshot "$dsm" >"$tmp/after-dry"
same "install --dry-run changes nothing" "$tmp/before" "$tmp/after-dry"
if [ "$rc" = 0 ] && grep -q "^would have edited '$dsm/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh'" "$tmp/out"; then
	report "install --dry-run says what it would do" 1
else
	report "install --dry-run says what it would do" 0 "$tmp/out"
fi
run install --root "$dsm"
sed "s|$dsm|ROOT|g" "$tmp/out" >"$tmp/out.rel"
cp "$tmp/out.rel" "$tmp/out"
expect "install (DSM found by /etc.defaults/VERSION): what it says" 0 out "$gold/dsm.out"
listing "$dsm" >"$tmp/out"
expect "install --dsm: the tree" 0 out "$gold/dsm.tree"
cp "$dsm/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh" "$tmp/out"
expect "install --dsm: VMM's package script gets its lines after #!" 0 out "$gold/dsm-insert_libvirtd_ko.sh"
cp "$dsm/etc/libvirt/hooks/qemu" "$tmp/out"
expect "install --dsm: the hook" 0 out "$gold/dsm-hook"
cp "$dsm/usr/local/lib/systemd/system/passthrough.service" "$tmp/out"
expect "install --dsm: passthrough.service repairs the wiring, then applies" 0 out "$gold/dsm-passthrough.service"
if cmp -s "$BIN" "$dsm/usr/local/bin/passthrough" && [ -x "$dsm/usr/local/bin/passthrough" ]; then
	report "install --dsm: the binary is a copy of this one" 1
else
	report "install --dsm: the binary is a copy of this one" 0
fi
snapshot "$dsm" >"$tmp/installed"
run install --dsm --root "$dsm"
expect "install twice: nothing to change" 0 out "nothing to change"
snapshot "$dsm" >"$tmp/installed2"
same "install twice: the tree is unchanged, byte for byte" "$tmp/installed" "$tmp/installed2"
run install --dsm --root "$dsm" --quiet
expect "install --quiet when nothing changes: silent" 0 out ""

# The hook chains: ours first, then the earlier one with the same arguments and XML,
# whose exit status libvirt sees. Paths in the script are the target's: point them here,
# with a stand-in for passthrough that logs how it was called.
printf '#!/bin/sh\necho "passthrough: $*" >>"$LOG"; cat >>"$LOG"; exit 0\n' >"$tmp/stand-in" && chmod 755 "$tmp/stand-in"
sed -e "s|/usr/local/bin/passthrough|$tmp/stand-in|g" -e "s|/etc/libvirt/hooks|$dsm/etc/libvirt/hooks|g" \
	"$dsm/etc/libvirt/hooks/qemu" >"$tmp/hook" && chmod 755 "$tmp/hook"
echo "<domain><name>vm1</name></domain>" | LOG=$tmp/hook.log "$tmp/hook" vm1 stopped end - >"$tmp/out" 2>&1
rc=$?
{
	echo "passthrough: -c /usr/local/etc/passthrough.yaml --lock-file /run/passthrough.lock hook -- vm1 stopped end -"
	echo "<domain><name>vm1</name></domain>"
	echo "earlier hook: vm1 stopped end -"
	echo "<domain><name>vm1</name></domain>"
} >"$tmp/want"
if [ "$rc" = 3 ] && diff -u "$tmp/want" "$tmp/hook.log" >"$tmp/why"; then
	report "the hook runs passthrough, then the earlier hook: same arguments, same XML, its exit status" 1
else
	echo "exit $rc" >>"$tmp/why"
	report "the hook runs passthrough, then the earlier hook: same arguments, same XML, its exit status" 0 "$tmp/why"
fi
mv "$dsm/etc/libvirt/hooks/qemu.passthrough-orig" "$tmp/orig"
rm "$tmp/hook.log"
echo "<domain/>" | LOG=$tmp/hook.log "$tmp/hook" vm1 prepare begin - >"$tmp/out" 2>&1
rc=$?
printf 'passthrough: -c /usr/local/etc/passthrough.yaml --lock-file /run/passthrough.lock hook -- vm1 prepare begin -\n<domain/>\n' >"$tmp/want"
if [ "$rc" = 0 ] && diff -u "$tmp/want" "$tmp/hook.log" >"$tmp/why"; then
	report "without an earlier hook, the hook is passthrough alone" 1
else
	report "without an earlier hook, the hook is passthrough alone" 0 "$tmp/why"
fi
sed -i "s|$tmp/stand-in|$tmp/missing|g" "$tmp/hook"
echo "<domain/>" | "$tmp/hook" vm1 prepare begin - >"$tmp/out" 2>&1
rc=$?
expect "with the binary gone, the hook still lets the VM start" 0 out ""
mv "$tmp/orig" "$dsm/etc/libvirt/hooks/qemu.passthrough-orig"

# DSM rebuilds /etc/libvirt at boot: the wiring's install puts the hook back.
rm -rf "$dsm/etc/libvirt/hooks"
run install --dsm --root "$dsm" --quiet
snapshot "$dsm" >"$tmp/rewired"
# the earlier hook is gone with the rebuild, so it cannot be chained again: compare the rest
grep -v 'hooks/qemu.passthrough-orig\|/manifest$' "$tmp/installed" >"$tmp/installed-no-orig"
grep -v 'hooks/qemu.passthrough-orig\|/manifest$' "$tmp/rewired" >"$tmp/rewired-no-orig"
same "after DSM rebuilt /etc/libvirt, install puts the hook back" "$tmp/installed-no-orig" "$tmp/rewired-no-orig"
# Uninstall after such a rebuild: all of it goes, the directory the rebuild lost too; only
# the earlier hook cannot come back (the rebuild took it).
run uninstall --root "$dsm" --quiet
snapshot "$dsm" >"$tmp/after-rebuild"
grep -v 'etc/libvirt/hooks' "$tmp/before" >"$tmp/before-no-hooks"
same "uninstall after DSM rebuilt /etc/libvirt: the tree as before, less the hook the rebuild took" \
	"$tmp/before-no-hooks" "$tmp/after-rebuild"
# Start again from the DSM as it was.
rm -rf "$dsm" && dsm_root "$dsm"
run install --root "$dsm" --quiet

# doctor sees drift, install repairs it.
rm "$dsm/usr/local/lib/systemd/system/timers.target.wants/passthrough.timer"
run doctor --root "$dsm" -c examples/test-bed.yaml --sysfs-root tests/fixtures/sysfs/default \
	--proc-root tests/fixtures/proc/default --connect test:///default
grep '^[A-Z]* *install ' "$tmp/out" | sed "s|$dsm|ROOT|g" >"$tmp/out.install"
cp "$tmp/out.install" "$tmp/out"
expect "doctor: a link gone since install is a FAIL that names it" 1 out \
	"FAIL  install          dsm layout, 1 thing changed since install (first: would have linked 'ROOT/usr/local/lib/systemd/system/timers.target.wants/passthrough.timer' -> '/usr/local/lib/systemd/system/passthrough.timer'); 'passthrough install' repairs it"
run install --root "$dsm"
sed "s|$dsm|ROOT|g" "$tmp/out" >"$tmp/out.rel" && cp "$tmp/out.rel" "$tmp/out"
expect "install repairs it" 0 out "linked 'ROOT/usr/local/lib/systemd/system/timers.target.wants/passthrough.timer' -> '/usr/local/lib/systemd/system/passthrough.timer'"
run doctor --root "$dsm" -c examples/test-bed.yaml --sysfs-root tests/fixtures/sysfs/default \
	--proc-root tests/fixtures/proc/default --connect test:///default
grep '^[A-Z]* *install ' "$tmp/out" >"$tmp/out.install"
cp "$tmp/out.install" "$tmp/out"
expect "doctor: intact again" 1 out "PASS  install          dsm layout: hook, units, timer and VMM wiring intact"

run uninstall --root "$dsm"
sed "s|$dsm|ROOT|g" "$tmp/out" >"$tmp/out.rel" && cp "$tmp/out.rel" "$tmp/out"
expect "uninstall: what it says" 0 out "$gold/dsm-uninstall.out"
snapshot "$dsm" >"$tmp/after"
same "uninstall gives back the tree byte for byte" "$tmp/before" "$tmp/after"
run uninstall --root "$dsm"
expect "uninstall with nothing installed" 1 err "passthrough: nothing to uninstall: no manifest under '$dsm'"

# An edited config is kept; a package script an update replaced is left alone.
run install --root "$dsm" --quiet
echo "# mine" >>"$dsm/usr/local/etc/passthrough.yaml"
printf '#!/bin/sh\n# VMM 2.7\nexit 0\n' >"$dsm/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh"
run doctor --root "$dsm" -c examples/test-bed.yaml --sysfs-root tests/fixtures/sysfs/default \
	--proc-root tests/fixtures/proc/default --connect test:///default
if grep -q "^FAIL  install .*would have edited" "$tmp/out"; then
	report "doctor: a VMM update that dropped the wiring is a FAIL" 1
else
	report "doctor: a VMM update that dropped the wiring is a FAIL" 0 "$tmp/out"
fi
run uninstall --root "$dsm"
if [ "$rc" = 0 ] && grep -q "^note: kept '$dsm/usr/local/etc/passthrough.yaml': it was edited since install" "$tmp/out" &&
	grep -q "has no passthrough lines any more" "$tmp/out" && [ -f "$dsm/usr/local/etc/passthrough.yaml" ] &&
	[ ! -e "$dsm/usr/local/bin/passthrough" ] && [ ! -e "$dsm/usr/local/lib/passthrough" ]; then
	report "uninstall keeps an edited config and a replaced package script, removes the rest" 1
else
	report "uninstall keeps an edited config and a replaced package script, removes the rest" 0 "$tmp/out"
fi

# A manifest line without the argument undo needs (a hand edit, a torn disk) is refused by
# line number before anything is undone.
rm -rf "$dsm" && dsm_root "$dsm"
run install --root "$dsm" --quiet
manifest=$(find "$dsm" -name manifest -path '*passthrough*' | head -n 1)
tab=$(printf '\t')
line=$(grep -n "^edited$tab" "$manifest" | head -n 1 | cut -d: -f1)
sed -i "${line}s/$tab[^$tab]*\$//" "$manifest"
snapshot "$dsm" >"$tmp/before"
run uninstall --root "$dsm"
expect "uninstall refuses a manifest line without its argument" 1 err \
	"passthrough: $manifest:$line: not a line passthrough install wrote; remove what it lists by hand"
snapshot "$dsm" >"$tmp/after"
same "a refused manifest: nothing undone" "$tmp/before" "$tmp/after"

# Refusals write nothing.
rm -rf "$dsm" && dsm_root "$dsm" && rm "$dsm/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh"
snapshot "$dsm" >"$tmp/before"
run install --dsm --root "$dsm"
expect "install --dsm without VMM: refused" 1 err \
	"passthrough: cannot find '$dsm/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh' (No such file or directory): is Virtual Machine Manager installed?"
snapshot "$dsm" >"$tmp/after"
same "install --dsm without VMM: nothing written" "$tmp/before" "$tmp/after"
rm -rf "$dsm" && dsm_root "$dsm" && echo other >"$dsm/etc/libvirt/hooks/qemu.passthrough-orig"
snapshot "$dsm" >"$tmp/before"
run install --root "$dsm"
expect "two earlier hooks: refused" 1 err \
	"passthrough: cannot chain to '$dsm/etc/libvirt/hooks/qemu': '$dsm/etc/libvirt/hooks/qemu.passthrough-orig' is there already; move one of them away"
snapshot "$dsm" >"$tmp/after"
same "two earlier hooks: nothing written" "$tmp/before" "$tmp/after"
run install --dsm --systemd --root "$dsm"
expect "--dsm with --systemd" 64 err "passthrough: '--dsm' and '--systemd' do not go together (see 'passthrough install --help')"
run install --root relative/dir
expect "--root must be absolute" 64 err "passthrough: '--root' takes an absolute path, not 'relative/dir'"
run install --root "$dsm" -c '/etc/my passthrough.yaml'
expect "a config path that a shell or systemd would split: refused" 64 err \
	"passthrough: '-c' for install must be an absolute path of letters, digits and /._+- only, not '/etc/my passthrough.yaml'"
run install --root "$dsm" --lock-file 'lock'
expect "a relative lock file: refused" 64 err \
	"passthrough: '--lock-file' for install must be an absolute path of letters, digits and /._+- only, not 'lock'"
run install --root "$dsm" --repair
expect "install --repair where nothing is installed: nothing, silently (uninstall won)" 0 out ""
snapshot "$dsm" >"$tmp/after"
same "install --repair where nothing is installed: nothing written" "$tmp/before" "$tmp/after"

# --- systemd, over a unit of the same name that was there before ---
sd=$tmp/systemd
mkdir -p "$sd/etc/systemd/system" "$sd/etc/libvirt"
printf '[Service]\nExecStart=/bin/true\n' >"$sd/etc/systemd/system/passthrough.service"
snapshot "$sd" >"$tmp/before"
run install --root "$sd"
sed "s|$sd|ROOT|g" "$tmp/out" >"$tmp/out.rel" && cp "$tmp/out.rel" "$tmp/out"
expect "install (systemd): what it says" 0 out "$gold/systemd.out"
listing "$sd" | sed 's|backup-[0-9]*|backup-N|' >"$tmp/out"
expect "install --systemd: the tree" 0 out "$gold/systemd.tree"
cp "$sd/etc/systemd/system/passthrough-boot.service" "$tmp/out"
expect "install --systemd: the boot unit runs before libvirtd" 0 out "$gold/systemd-passthrough-boot.service"
snapshot "$sd" >"$tmp/installed"
run install --root "$sd"
expect "install --systemd twice: nothing to change" 0 out "nothing to change"
snapshot "$sd" >"$tmp/installed2"
same "install --systemd twice: unchanged" "$tmp/installed" "$tmp/installed2"
run uninstall --root "$sd" --dry-run
snapshot "$sd" >"$tmp/after-dry"
same "uninstall --dry-run changes nothing" "$tmp/installed" "$tmp/after-dry"
run uninstall --root "$sd"
snapshot "$sd" >"$tmp/after"
same "uninstall --systemd puts the earlier unit back, byte for byte" "$tmp/before" "$tmp/after"

echo "1..$n"
[ "$fails" = 0 ]
