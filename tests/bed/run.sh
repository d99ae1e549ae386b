#!/bin/bash
# Runs test-bed scenarios (tests/bed/scenarios/NAME.sh), each in a fresh QEMU guest, and reports PASS/FAIL per scenario.
#
# usage: tests/bed/run.sh [-v] [-t SECONDS] SCENARIO...
#        tests/bed/run.sh [-v] --all      every scenario not marked "bed-suite: no"
#        tests/bed/run.sh --list
#        tests/bed/run.sh --can-run       exit 0 if the bed can run here, else say what is missing
#
# -v streams the scenario's output while it runs (otherwise it is shown only
# on failure); -t overrides every scenario's timeout.  A scenario's first lines
# may hold "# bed-tier: 3" (libvirtd + nested VM: 2 vCPUs, 4 GiB), "# bed-timeout:
# N" (seconds) and "# bed-suite: no" (not part of --all).  Exit code 77 from a
# scenario means SKIP.  A guest whose kernel locks up (an emulator flake) is
# killed and the scenario rerun in a fresh guest, up to 3 attempts, with a
# RETRY line; a guest that times out gets one more attempt the same way.  Each run leaves its work folder (console.log,
# output.log, rc, ...) in build/bed/run/NAME.  The last line printed is
# "N passed, N failed[, N skipped]"; the exit code is 1 if anything failed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${BED_BUILD:=$repo/build/bed}"
: "${BED_QEMU:=qemu-system-x86_64}"
case $BED_BUILD in /*) ;; *) BED_BUILD=$PWD/$BED_BUILD ;; esac
export BED_BUILD

verbose=0
timeout_override=
all=0
list=0
can_run=0
names=()
while [ $# -gt 0 ]; do
	case $1 in
	-v | --verbose) verbose=1 ;;
	-t | --timeout) timeout_override=$2; shift ;;
	--all) all=1 ;;
	--list) list=1 ;;
	--can-run) can_run=1 ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) names+=("$1") ;;
	esac
	shift
done

header() { # header FILE KEY DEFAULT: value of "# KEY: value" in FILE's first 15 lines
	local v
	v=$(head -n 15 "$1" | sed -n "s/^# $2: *//p" | head -n 1)
	echo "${v:-$3}"
}

# missing_reqs: one line naming what the bed lacks on this machine; empty if nothing.
missing_reqs() {
	local miss=() k
	[ "$(id -u)" = 0 ] || miss+=("root")
	command -v "$BED_QEMU" >/dev/null || miss+=("$BED_QEMU (qemu-system-x86)")
	k=${BED_KERNEL:-$(find /boot -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort -V | tail -n 1)}
	if [ -z "$k" ]; then
		miss+=("/boot/vmlinuz-* (linux-image-amd64)")
	elif [ ! -d "/lib/modules/${k##*/vmlinuz-}" ]; then
		miss+=("/lib/modules/${k##*/vmlinuz-}")
	fi
	[ -x "${BED_BUSYBOX:-/bin/busybox}" ] && ! file -b "${BED_BUSYBOX:-/bin/busybox}" 2>/dev/null | grep -q dynamic ||
		miss+=("static busybox (busybox-static)")
	for c in cpio modprobe lspci virsh libvirtd; do
		command -v $c >/dev/null || miss+=("$c")
	done
	[ ${#miss[@]} = 0 ] || echo "missing: ${miss[*]}"
}

if [ $can_run = 1 ]; then
	why=$(missing_reqs)
	if [ -n "$why" ]; then
		echo "test bed cannot run here, $why"
		exit 1
	fi
	echo "test bed can run here"
	exit 0
fi

if [ $list = 1 ] || [ $all = 1 ]; then
	for f in "$here"/scenarios/*.sh; do
		n=${f##*/}; n=${n%.sh}
		if [ $list = 1 ]; then
			printf '%-20s tier %s, suite %s, timeout %ss\n' "$n" "$(header "$f" bed-tier 2)" \
				"$(header "$f" bed-suite yes)" "$(header "$f" bed-timeout 180)"
		elif [ "$(header "$f" bed-suite yes)" != no ]; then
			names+=("$n")
		fi
	done
	[ $list = 1 ] && exit 0
fi
if [ ${#names[@]} = 0 ]; then
	echo "usage: $0 [-v] [-t SECONDS] SCENARIO... | --all | --list" >&2
	exit 2
fi

kernel=${BED_KERNEL:-$(find /boot -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)}
export BED_KERNEL=$kernel
outer=$("$here/build-initramfs.sh" outer)
nested=$("$here/build-initramfs.sh" nested)

qemu_pid=
tail_pid=
cleanup() {
	[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill "$qemu_pid" 2>/dev/null
		sleep 1
		kill -9 "$qemu_pid" 2>/dev/null
	fi
	return 0
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# boot_guest DIR TIER: starts QEMU in the background (sets qemu_pid).
# Fixed guest PCI addresses (tests rely on them):
#   00:02.0 e1000e 8086:10d3      00:03.0 e1000 8086:100e     00:04.0 edu 1234:11e8
#   00:05.0 pcie-root-port rp1 -> 01:00.0 e1000e 8086:10d3
#   00:06.0/.1/.2 multi-function e1000 variants 8086:100c, 8086:100f, 8086:100e
#   00:10.0 virtio-9p "hostroot" (host / read-only)   00:11.0 virtio-9p "work" (DIR)
#   00:1f.0/.2/.3 q35's LPC, AHCI, SMBus
boot_guest() {
	local dir=$1 tier=$2 smp=1 mem=1024
	if [ "$tier" = 3 ]; then smp=2; mem=4096; fi
	"$BED_QEMU" -accel tcg -machine q35 -cpu max -smp "$smp" -m "$mem" \
		-nodefaults -no-reboot -display none -vga none -nic none -monitor none \
		-serial "file:$dir/console.log" \
		-device intel-iommu \
		-device e1000e,bus=pcie.0,addr=02.0 \
		-device e1000,bus=pcie.0,addr=03.0 \
		-device edu,bus=pcie.0,addr=04.0 \
		-device pcie-root-port,id=rp1,chassis=1,bus=pcie.0,addr=05.0 \
		-device e1000e,bus=rp1,addr=00.0 \
		-device e1000-82544gc,bus=pcie.0,addr=06.0,multifunction=on \
		-device e1000-82545em,bus=pcie.0,addr=06.1 \
		-device e1000,bus=pcie.0,addr=06.2 \
		-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot,bus=pcie.0,addr=10.0 \
		-fsdev "local,id=work,path=$dir,security_model=none,multidevs=remap" \
		-device virtio-9p-pci,fsdev=work,mount_tag=work,bus=pcie.0,addr=11.0 \
		-kernel "$kernel" -initrd "$outer" \
		-append "console=ttyS0 panic=-1 intel_iommu=on iommu=pt quiet" \
		</dev/null >"$dir/qemu.log" 2>&1 &
	qemu_pid=$!
}

# lockup_pattern: what the guest kernel prints when a CPU has been stuck for 20 s or more.
# A scenario that has already reported its result is never retried.
lockup_pattern='soft lockup - CPU|hard LOCKUP'
max_attempts=3

# run_guest DIR TIER LIMIT T0: boots the guest, waits until it powers off, the
# time limit passes (sets timed_out) or its kernel locks up (sets locked_up and
# lockup_line); always leaves QEMU dead.
run_guest() {
	local dir=$1 tier=$2 limit=$3 t0=$4 n=0
	timed_out=0 locked_up=0 lockup_line=
	boot_guest "$dir" "$tier"
	if [ $verbose = 1 ]; then
		tail -n +1 -F --pid="$qemu_pid" "$dir/output.log" 2>/dev/null &
		tail_pid=$!
	fi
	while kill -0 "$qemu_pid" 2>/dev/null; do
		if [ $(($(date +%s) - t0)) -ge "$limit" ]; then
			timed_out=1
		elif [ ! -e "$dir/rc" ] && [ $((n % 10)) = 0 ] && lockup_line=$(grep -E -m 1 "$lockup_pattern" "$dir/console.log" 2>/dev/null); then
			locked_up=1
			lockup_line=$(printf '%s' "$lockup_line" | tr -d '\r' | sed 's/^\[ *[0-9.]*\] *//')
		fi
		if [ $timed_out = 1 ] || [ $locked_up = 1 ]; then
			kill "$qemu_pid" 2>/dev/null || true
			sleep 2
			kill -9 "$qemu_pid" 2>/dev/null || true
			break
		fi
		n=$((n + 1))
		sleep 0.5
	done
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=
	if [ -n "$tail_pid" ]; then
		wait "$tail_pid" 2>/dev/null || true # tail --pid ends after a last read
		tail_pid=
	fi
}

passed=0 failed=0 skipped=0 retried=()
for name in "${names[@]}"; do
	script=$here/scenarios/$name.sh
	if [ ! -f "$script" ]; then
		echo "FAIL $name (0 s)"
		echo "  | no such scenario: $script"
		failed=$((failed + 1))
		continue
	fi
	tier=$(header "$script" bed-tier 2)
	limit=${timeout_override:-$(header "$script" bed-timeout 180)}
	dir=$BED_BUILD/run/$name
	rm -rf "$dir"
	mkdir -p "$dir"
	t0=$(date +%s)
	cat >"$dir/env" <<EOF
BED_SCENARIO='$name'
BED_REPO='$repo'
BED_T0='${BED_T0:-$t0}'
BED_KERNEL='$kernel'
BED_NESTED_INITRD='$nested'
EOF
	attempt=1
	while :; do
		run_guest "$dir" "$tier" "$limit" "$t0"
		# A guest kernel that locks up under TCG (both vCPUs spinning, seen with
		# nested KVM) is the emulator's fault, not the scenario's: start over
		# in a fresh guest, and say so.  So is a guest that stalls silently (seen
		# once: a nested `virsh start` that never returned, nothing on the console):
		# a timeout gets one more attempt.  An assertion failure is never retried.
		if [ $locked_up = 1 ] && [ $attempt -lt $max_attempts ]; then
			why="guest kernel locked up after $(($(date +%s) - t0)) s (console: $lockup_line)"
		elif [ $timed_out = 1 ] && [ $attempt = 1 ]; then
			why="timed out after ${limit}s with no result (an emulator stall?)"
		else
			break
		fi
		echo "RETRY $name: $why; fresh guest, attempt $((attempt + 1))"
		mv "$dir/console.log" "$dir/console.attempt$attempt.log" 2>/dev/null || true
		rm -f "$dir/output.log" "$dir/rc"
		attempt=$((attempt + 1))
		t0=$(date +%s)
	done
	[ $attempt = 1 ] || retried+=("$name ($((attempt - 1))x)")
	secs=$(($(date +%s) - t0))
	rc=$(cat "$dir/rc" 2>/dev/null || echo none)
	if [ "$rc" = 0 ]; then
		echo "PASS $name ($secs s)"
		passed=$((passed + 1))
	elif [ "$rc" = 77 ]; then
		echo "SKIP $name ($secs s)"
		[ -s "$dir/output.log" ] && tail -n 3 "$dir/output.log" | sed 's/^/  | /'
		skipped=$((skipped + 1))
	else
		echo "FAIL $name ($secs s)"
		failed=$((failed + 1))
		if [ $locked_up = 1 ]; then
			echo "  | the guest kernel locked up $attempt times (QEMU killed): $lockup_line"
		elif [ $timed_out = 1 ]; then
			echo "  | timed out after ${limit}s (QEMU killed)"
		elif [ "$rc" = none ]; then
			echo "  | the guest stopped without reporting a result"
		else
			echo "  | scenario exit code $rc"
		fi
		if [ $verbose = 0 ] && [ -s "$dir/output.log" ]; then
			echo "  | --- scenario output ($dir/output.log):"
			tail -n 60 "$dir/output.log" | sed 's/^/  | /'
		fi
		if [ "$rc" = none ] || [ ! -s "$dir/output.log" ]; then
			echo "  | --- guest console, last lines ($dir/console.log):"
			tail -n 30 "$dir/console.log" 2>/dev/null | sed 's/^/  | /'
			grep -v 'has no peer' "$dir/qemu.log" 2>/dev/null | sed 's/^/  | qemu: /' || true
		fi
	fi
done

[ ${#retried[@]} = 0 ] || echo "retried after a guest kernel lockup or stall: ${retried[*]}"
summary="$passed passed, $failed failed"
[ $skipped -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ $failed = 0 ]
