#!/bin/bash
# run.sh: examples/ansible/playbook.yml with Debian's ansible-core against three local hosts (two systemd hosts with the Debian build, one DSM host with the bundle), each with its own root and its own FUSE fake sysfs: check mode, roll-out, check again, drift on one host; prints TAP.
#   BIN      the passthrough binary the systemd hosts get (default ./passthrough)
#   BUNDLE   the DSM bundle (default: the one `make dist` writes; without it the DSM host is left out)
#   FAKESYS  the FUSE fake sysfs (default build/fakesys)
# Needs root, ansible-playbook (ansible-core), /dev/fuse and fusermount3; otherwise it says why and skips.
set -u
cd "$(dirname "$0")/../.." || exit 1
repo=$PWD
BIN=${BIN:-./passthrough}
case $BIN in /*) ;; *) BIN=$repo/$BIN ;; esac
version=$(sed -n 's/^VERSION *= *//p' Makefile)
BUNDLE=${BUNDLE:-passthrough-$version-dsm7.2-x86_64.tar.gz}
FAKESYS=${FAKESYS:-build/fakesys}
n=0 fails=0

skip_all() { echo "ok 1 - ansible example # SKIP $1"; echo "1..1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "it needs root (FUSE mounts)"
command -v ansible-playbook >/dev/null || skip_all "ansible-playbook is missing (apt-get install ansible-core)"
[ -c /dev/fuse ] || skip_all "/dev/fuse is missing"
command -v fusermount3 >/dev/null || skip_all "fusermount3 is missing (apt-get install fuse3)"
[ -x "$FAKESYS" ] || skip_all "$FAKESYS is not built (make $FAKESYS needs libfuse3-dev)"

tmp=$(mktemp -d /tmp/passthrough-ansible.XXXXXX) || exit 1
pids=
stop_fakes() {
	for h in a b c; do
		! mountpoint -q "$tmp/mnt-$h" 2>/dev/null || fusermount3 -u "$tmp/mnt-$h" 2>/dev/null || fusermount3 -uz "$tmp/mnt-$h"
	done
	for p in $pids; do wait "$p" 2>/dev/null; done
	pids=
}
trap 'stop_fakes; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

report() {   # report NAME OK [DETAIL-FILE]
	n=$((n + 1))
	if [ "$2" = 1 ]; then echo "ok $n - $1"; else
		fails=$((fails + 1)); echo "not ok $n - $1"
		[ $# -lt 3 ] || sed 's/^/#   /' "$3" | tail -n 60
	fi
}
is() { if [ "$2" = "$3" ]; then report "$1" 1; else printf 'expected: %s\nsaw:      %s\n' "$2" "$3" >"$tmp/why"; report "$1" 0 "$tmp/why"; fi; }

# start_fake HOST FIXTURE: a copy of tests/fixtures/sysfs/FIXTURE served at $tmp/mnt-HOST.
start_fake() {
	cp -a "tests/fixtures/sysfs/$2" "$tmp/back-$1"
	mkdir -p "$tmp/mnt-$1"
	"$FAKESYS" "$tmp/back-$1" "$tmp/mnt-$1" 2>"$tmp/fakesys-$1.err" &
	pids="$pids $!"
	for _ in $(seq 100); do mountpoint -q "$tmp/mnt-$1" && return 0; sleep 0.02; done
	echo "Bail out! fakesys did not mount: $(cat "$tmp/fakesys-$1.err")"
	exit 1
}
driver() { local l; l=$(readlink "$tmp/mnt-$1/bus/pci/devices/0000:00:02.0/driver") && echo "${l##*/}" || echo none; }

hosts="a b"
[ -f "$BUNDLE" ] && hosts="a b c" || echo "# no bundle '$BUNDLE' (make dist): the DSM host is left out"
start_fake a default        # the stand-in on e1000e: to be bound
start_fake b e1000e-vfio    # already on vfio-pci: converged
mkdir -p "$tmp/a/usr/local/sbin" "$tmp/a/etc" "$tmp/b/usr/local/sbin" "$tmp/b/etc" "$tmp/files"
if [ "$hosts" = "a b c" ]; then
	start_fake c default
	# A DSM 7 with VMM.
	mkdir -p "$tmp/c/etc.defaults" "$tmp/c/etc/libvirt/hooks" "$tmp/c/var/packages/Virtualization/conf/systemd" "$tmp/c/usr/local/etc"
	echo 'majorversion="7"' >"$tmp/c/etc.defaults/VERSION"
	printf '#!/bin/sh\nexit 0\n' >"$tmp/c/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh"
	chmod 755 "$tmp/c/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh"
fi
for h in a b c; do
	printf 'version: 1\ndevices:\n  tpu-standin:\n    address: "0000:00:02.0"\n    match: { vendor: 0x8086, device: 0x10d3 }\n    state: bound\n' \
		>"$tmp/files/pt-$h.yaml"
done
args() {   # args HOST: what plan and apply need to look at this host's fakes
	echo "--sysfs-root $tmp/mnt-$1 --proc-root $repo/tests/fixtures/proc/default --connect test://$repo/tests/fixtures/libvirt/frigate-running.xml --state-dir $tmp/state-$1"
}
{
	echo "[passthrough]"
	echo "pt-a passthrough_root=$tmp/a passthrough_binary=$BIN passthrough_args='$(args a)' passthrough_lock_file=$tmp/a.lock"
	echo "pt-b passthrough_root=$tmp/b passthrough_binary=$BIN passthrough_args='$(args b)' passthrough_lock_file=$tmp/b.lock"
	[ "$hosts" != "a b c" ] ||
		echo "pt-c passthrough_root=$tmp/c passthrough_layout=dsm passthrough_bundle=$repo/$BUNDLE passthrough_args='$(args c)' passthrough_lock_file=$tmp/c.lock"
	echo "[passthrough:vars]"
	echo "ansible_connection=local"
	echo "ansible_become=false"
	echo "ansible_python_interpreter=/usr/bin/python3"
	echo "passthrough_config_src=$tmp/files/{{ inventory_hostname }}.yaml"
} >"$tmp/inventory.ini"

# play NAME [ARGS]: runs the playbook; sets rc and changed_a/b/c from the recap.
play() {
	local name=$1
	shift
	ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCAL_TEMP=$tmp/ansible-local ANSIBLE_REMOTE_TEMP=$tmp/ansible-remote \
		ansible-playbook -i "$tmp/inventory.ini" examples/ansible/playbook.yml "$@" >"$tmp/$name.log" 2>&1
	rc=$?
	for h in a b c; do
		eval "changed_$h=\$(sed -n 's/^pt-$h *: .*changed=\([0-9]*\).*/\1/p' \"\$tmp/\$name.log\")"
	done
}
snapshot() { (cd "$tmp" && find a b c -printf '%p %M %l\n' 2>/dev/null | LC_ALL=C sort); }
start=$(date +%s)

snapshot >"$tmp/before"
play check1 --check
if [ $rc = 0 ]; then report "first --check on fresh hosts: runs" 1; else report "first --check on fresh hosts: runs" 0 "$tmp/check1.log"; fi
snapshot >"$tmp/after"
if diff -u "$tmp/before" "$tmp/after" >"$tmp/why"; then report "first --check: nothing written to the hosts" 1
else report "first --check: nothing written to the hosts" 0 "$tmp/why"; fi
is "first --check: pt-a would change" yes "$([ "${changed_a:-0}" -gt 0 ] && echo yes || echo no)"

play rollout
if [ $rc = 0 ]; then report "roll-out: runs" 1; else report "roll-out: runs" 0 "$tmp/rollout.log"; fi
for h in $hosts; do
	is "roll-out: pt-$h's device is on vfio-pci" vfio-pci "$(driver $h)"
done
is "roll-out: pt-a applied (the plan had steps)" 1 "$(grep -c '^changed: \[pt-a\]' <(sed -n '/TASK \[Apply/,/^$/p' "$tmp/rollout.log"))"
is "roll-out: pt-b did not apply (converged already)" 0 "$(grep -c '^changed: \[pt-b\]' <(sed -n '/TASK \[Apply/,/^$/p' "$tmp/rollout.log"))"
[ -x "$tmp/a/usr/local/sbin/passthrough" ] && [ -f "$tmp/a/etc/systemd/system/passthrough.timer" ] && [ -f "$tmp/a/etc/libvirt/hooks/qemu" ]
is "roll-out: pt-a has the binary, hook and timer (systemd layout)" 0 $?
if [ "$hosts" = "a b c" ]; then
	[ -x "$tmp/c/usr/local/bin/passthrough" ] && [ -f "$tmp/c/usr/local/share/man/man8/passthrough.8" ] &&
		grep -q passthrough "$tmp/c/var/packages/Virtualization/conf/systemd/insert_libvirtd_ko.sh"
	is "roll-out: pt-c has the bundle installed by its installer (DSM layout)" 0 $?
	cmp -s "$tmp/c/usr/local/etc/passthrough.yaml" "$tmp/files/pt-c.yaml"
	is "roll-out: pt-c's passthrough.yaml is its own" 0 $?
fi

play check2 --check
is "--check after the roll-out: runs" 0 "$rc"
for h in $hosts; do
	is "--check after the roll-out: pt-$h unchanged" 0 "$(eval echo "\${changed_$h:-x}")"
done

# Drift on one host: its device is back on e1000e.
m=$tmp/mnt-a/bus/pci
echo > "$m/devices/0000:00:02.0/driver_override" && echo 0000:00:02.0 > "$m/drivers/vfio-pci/unbind" &&
	echo 0000:00:02.0 > "$m/drivers_probe"
is "drift: pt-a's device is on e1000e again" e1000e "$(driver a)"
play check3 --check
is "--check with drift on pt-a: runs" 0 "$rc"
is "--check with drift on pt-a: pt-a changed (plan exits 2)" 1 "${changed_a:-x}"
is "--check with drift on pt-a: pt-b unchanged" 0 "${changed_b:-x}"
is "--check with drift on pt-a: still on e1000e (check mode applies nothing)" e1000e "$(driver a)"
play heal
is "run with drift on pt-a: runs" 0 "$rc"
is "run with drift on pt-a: pt-a changed (plan, apply)" 2 "${changed_a:-x}"
is "run with drift on pt-a: pt-b unchanged" 0 "${changed_b:-x}"
is "run with drift on pt-a: pt-a's device on vfio-pci again" vfio-pci "$(driver a)"
play check4 --check
for h in $hosts; do
	is "--check at the end: pt-$h unchanged" 0 "$(eval echo "\${changed_$h:-x}")"
done
echo "# six playbook runs on $(echo $hosts | wc -w) hosts: $(($(date +%s) - start)) s"

echo "1..$n"
[ "$fails" = 0 ]
