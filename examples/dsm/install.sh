#!/bin/sh
# install.sh: the DSM 7.2 bundle's installer: puts passthrough under /usr/local, wires it with `passthrough install --dsm`, runs `passthrough doctor`; --uninstall undoes it.
#
# usage: sh install.sh [--uninstall] [--systemd] [--root DIR]
#   run as root from the unpacked bundle (passthrough-VERSION-dsm7.2-x86_64/).
#   --uninstall  `passthrough uninstall`, then removes the files this script copied
#   --systemd    the systemd layout instead of DSM's (a plain Linux host; the binary then
#                goes to /usr/local/sbin)
#   --root DIR   install into DIR as if it were / (tests)
# It writes only under ROOT/usr/local, plus what `passthrough install` writes and records
# (the libvirt hook, and the lines in VMM's insert_libvirtd_ko.sh on DSM).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root= layout=--dsm mode=install
while [ $# -gt 0 ]; do
	case $1 in
	--uninstall) mode=uninstall ;;
	--systemd) layout=--systemd ;;
	--dsm) layout=--dsm ;;
	--root) [ $# -ge 2 ] || { echo "install.sh: --root needs a folder" >&2; exit 64; }
		root=${2%/}; shift ;;
	-h|--help) sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "install.sh: unknown option '$1' (usage: sh install.sh [--uninstall] [--systemd] [--root DIR])" >&2; exit 64 ;;
	esac
	shift
done
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
	echo "install.sh: run it as root (sudo -i on DSM, then sh $0)" >&2
	exit 1
fi
rootopt=
[ -z "$root" ] || rootopt="--root $root"
share=$root/usr/local/share
# What this script copied, one path per line (relative to ROOT), for --uninstall.
list=$share/doc/passthrough/bundle-files
link=/usr/local/lib/passthrough-libvirt.so.0

# record PATH: adds PATH (relative to ROOT; a folder ends in /) to the list.
record() { grep -qxF "$1" "$list" 2>/dev/null || echo "$1" >>"$list"; }
# mkdirs DIR: creates DIR (relative to ROOT) and its missing parents, and records those.
mkdirs() {
	[ -d "$root$1" ] && return 0
	mkdirs "$(dirname "$1")"
	mkdir "$root$1"
	[ -f "$list" ] && record "$1/"
	created="$created $1/"
}
# copy SRC DEST MODE: installs a file and records it.
copy() {
	mkdirs "$(dirname "$2")"
	cp "$1" "$root$2.tmp" && chmod "$3" "$root$2.tmp" && mv -f "$root$2.tmp" "$root$2"
	record "$2"
	echo "installed '$root$2'"
}

# find_libvirt: prints where VMM's libvirt.so.0 is when the default library path lacks it.
find_libvirt() {
	for d in /lib /usr/lib /lib64 /usr/lib64 /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
		[ ! -e "$root$d/libvirt.so.0" ] || return 0
	done
	if [ -z "$root" ] && command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libvirt\.so\.0 '; then
		return 0
	fi
	# virsh knows which one it uses (DSM: /usr/local/bin/virsh).
	if [ -z "$root" ] && command -v ldd >/dev/null 2>&1; then
		for v in /usr/local/bin/virsh "$(command -v virsh 2>/dev/null || :)"; do
			[ -x "$v" ] || continue
			p=$(ldd "$v" 2>/dev/null | awk '$1 == "libvirt.so.0" && $3 ~ /^\// { print $3; exit }')
			[ -z "$p" ] || { echo "$p"; return 0; }
		done
	fi
	# VMM's package folder (a link to /volumeN/@appstore/Virtualization).
	p=$(find "$root/var/packages/Virtualization/target/" -name libvirt.so.0 2>/dev/null | LC_ALL=C sort | head -n 1)
	[ -z "$p" ] || echo "${p#"$root"}"
}

if [ "$mode" = uninstall ]; then
	# (uninstall reads the layout from what install recorded)
	bin=$here/bin/passthrough
	for b in "$root/usr/local/bin/passthrough" "$root/usr/local/sbin/passthrough"; do
		[ ! -x "$b" ] || { bin=$b; break; }
	done
	"$bin" uninstall $rootopt
	# Then what this script copied (reverse order: a file before its folder, a folder before its parent)
	if [ -f "$list" ]; then
		files=$(LC_ALL=C sort -r "$list")
		rm -f "$list"
		printf '%s\n' "$files" | while read -r f; do
			case $f in
			*/) rmdir "$root$f" 2>/dev/null && echo "removed directory '$root$f'" ||
				echo "kept directory '$root$f': it holds files this script did not put there" ;;
			*) rm -f "$root$f" && echo "removed '$root$f'" ;;
			esac
		done
	fi
	exit 0
fi

"$here/bin/passthrough" --version >/dev/null 2>&1 || {
	echo "install.sh: '$here/bin/passthrough' does not run here: this bundle needs x86_64 and glibc 2.36 (DSM 7.2 or later)" >&2
	"$here/bin/passthrough" --version >&2 || :
	exit 1
}
created=
mkdirs /usr/local/share/doc/passthrough
: >>"$list"
for d in $created; do record "$d"; done
copy "$here/man/man8/passthrough.8" /usr/local/share/man/man8/passthrough.8 0644
copy "$here/man/man5/passthrough.yaml.5" /usr/local/share/man/man5/passthrough.yaml.5 0644
copy "$here/examples/passthrough.yaml" /usr/local/share/doc/passthrough/examples/passthrough.yaml 0644
copy "$here/README" /usr/local/share/doc/passthrough/README 0644
copy "$here/install.sh" /usr/local/share/doc/passthrough/install.sh 0755   # for --uninstall later
for f in "$here"/licenses/*; do
	copy "$f" "/usr/local/share/doc/passthrough/licenses/${f##*/}" 0644
done

lib=$(find_libvirt)
if [ -n "$lib" ]; then
	mkdirs /usr/local/lib
	ln -sfn "$lib" "$root$link"
	record "$link"
	echo "linked '$root$link' -> '$lib': libvirt.so.0 is not on the default library path"
fi

"$here/bin/passthrough" install $layout $rootopt
bin=$root/usr/local/bin/passthrough
[ "$layout" = --dsm ] || bin=$root/usr/local/sbin/passthrough
echo
"$bin" --version
echo
config=/usr/local/etc/passthrough.yaml
[ "$layout" = --dsm ] || config=/etc/passthrough.yaml
rc=0
"$bin" doctor -c "$root$config" $rootopt || rc=$?
echo
if [ "$rc" = 1 ]; then
	echo "installed; doctor found a problem above (FAIL): see 'man passthrough', README 'Synology DSM 7.2'"
else
	echo "installed. Next: edit $root$config (example: /usr/local/share/doc/passthrough/examples/passthrough.yaml),"
	# the bundle's binary reads /usr/local/etc/passthrough.yaml by default; the systemd layout's file needs -c
	if [ "$layout" = --dsm ]; then echo "then: passthrough plan; passthrough apply"
	else echo "then: passthrough plan -c $config; passthrough apply -c $config"; fi
fi
echo "undo: sh /usr/local/share/doc/passthrough/install.sh --uninstall${root:+ --root $root}"
