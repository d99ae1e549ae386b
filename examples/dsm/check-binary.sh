#!/bin/sh
# check-binary.sh: fails unless BIN's NEEDED entries are exactly the allowed set, the highest GLIBC_ version it requires is at most MAX, and it still names libvirt.so.0 (loaded with dlopen); prints what it found.
# usage: check-binary.sh BIN MAX NEEDED...
set -eu
[ $# -ge 3 ] || { echo "usage: check-binary.sh BIN MAX NEEDED..." >&2; exit 64; }
bin=$1 max=$2
shift 2
[ -f "$bin" ] || { echo "check-binary.sh: cannot open '$bin': No such file or directory" >&2; exit 1; }
fail=0

needed=$(LC_ALL=C readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | LC_ALL=C sort)
want=$(printf '%s\n' "$@" | LC_ALL=C sort)
if [ "$needed" != "$want" ]; then
	echo "check-binary.sh: '$bin' needs $(echo $needed), allowed exactly: $(echo $want)" >&2
	fail=1
fi

# Every symbol version the binary requires, from .gnu.version_r.
glibc=$(LC_ALL=C objdump -p "$bin" | sed -n 's/.*\(GLIBC_[0-9][0-9.]*\)$/\1/p' | sort -u -V | tail -n 1)
if [ -z "$glibc" ]; then
	echo "check-binary.sh: '$bin' requires no GLIBC_ version: not a glibc binary?" >&2
	fail=1
elif [ "$(printf '%s\n%s\n' "${glibc#GLIBC_}" "$max" | sort -V | tail -n 1)" != "$max" ]; then
	echo "check-binary.sh: '$bin' requires $glibc, newer than GLIBC_$max" >&2
	fail=1
fi

if ! grep -q 'libvirt\.so\.0' "$bin"; then
	echo "check-binary.sh: '$bin' does not name libvirt.so.0 (it should load it with dlopen)" >&2
	fail=1
fi
# libyaml and libpci must be inside, not expected on the target.
for sym in yaml_parser_initialize pci_alloc; do
	if ! LC_ALL=C nm "$bin" 2>/dev/null | grep -q " T $sym\$"; then
		echo "check-binary.sh: '$bin' does not contain $sym (linked statically?)" >&2
		fail=1
	fi
done
[ "$fail" = 0 ] || exit 1

echo "needed: $(echo $needed)"
echo "glibc: $glibc"
echo "others: $(LC_ALL=C objdump -p "$bin" | sed -n 's/.*0x[0-9a-f]* 0x[0-9a-f]* [0-9][0-9]* \([A-Z][A-Z0-9_]*_[0-9][0-9.]*\)$/\1/p' | grep -v '^GLIBC_' | sort -u -V | tr '\n' ' ')"
echo "dlopen: libvirt.so.0"
