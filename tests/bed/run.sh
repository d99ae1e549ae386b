#!/bin/bash
# Runs test-bed scenarios (tests/bed/scenarios/NAME.sh), each in a fresh QEMU guest, and reports PASS/FAIL/SKIP per scenario.
#
# usage: tests/bed/run.sh [-v] [-t SECONDS] SCENARIO...
#        tests/bed/run.sh [-v] --all      every scenario not marked "bed-suite: no"
#        tests/bed/run.sh --list          scenarios, their tier, suite membership, timeout
#        tests/bed/run.sh --names         the names --all runs, one a line (boots nothing)
#        tests/bed/run.sh --can-run       exit 0 if the bed can run here, else say what is missing
#
# -v streams the scenario's output while it runs (otherwise it is shown only
# on failure); -t overrides every scenario's timeout.  A scenario's first lines
# may hold "# bed-tier: 3" (libvirtd + nested VM: 2 vCPUs, 4 GiB), "# bed-timeout:
# N" (seconds) and "# bed-suite: no" (not part of --all).  Exit code 77 from a
# scenario with a "SKIP: why" line (lib.sh's skip) means SKIP; 77 without one
# is a FAIL.  A guest whose kernel locks up or panics before the scenario's
# result (an emulator flake) is killed and the scenario rerun in a fresh guest,
# with a RETRY line: a lockup up to 3 attempts, a panic or a timeout one more.
# A scenario with a result, or whose check failed, is never retried.  Each run
# leaves its work folder (console.log, output.log, rc, ...) in
# build/bed/run/NAME.  Lines: "PASS NAME (N s)", "FAIL NAME (N s)" with the
# reason below, "SKIP NAME (N s): why"; the last line is
# "N passed, N failed[, N skipped]"; the exit code is 1 if anything failed.
#
# The host side of the guest, for scenarios: QEMU's monitor (QMP, its log in
# the work folder as qmp.log) answers HMP command lines the scenario leaves in
# the work folder's monitor/ (lib.sh: bed_monitor), and QEMU traces
# e1000e_cb_qdev_reset (plus the events of a "# bed-trace: EVENT..." line) to
# the work folder's qemu-trace.log (lib.sh: bed_trace_count).
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
	--names) list=2 ;;
	--can-run) can_run=1 ;;
	-h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

if [ $list != 0 ] || [ $all = 1 ]; then
	for f in "$here"/scenarios/*.sh; do
		n=${f##*/}; n=${n%.sh}
		if [ $list = 2 ]; then
			[ "$(header "$f" bed-suite yes)" = no ] || echo "$n"
		elif [ $list = 1 ]; then
			printf '%-20s tier %s, suite %s, timeout %ss\n' "$n" "$(header "$f" bed-tier 2)" \
				"$(header "$f" bed-suite yes)" "$(header "$f" bed-timeout 180)"
		elif [ "$(header "$f" bed-suite yes)" != no ]; then
			names+=("$n")
		fi
	done
	[ $list = 0 ] || exit 0
fi
if [ ${#names[@]} = 0 ]; then
	echo "usage: $0 [-v] [-t SECONDS] SCENARIO... | --all | --list | --names | --can-run" >&2
	exit 2
fi

kernel=${BED_KERNEL:-$(find /boot -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)}
export BED_KERNEL=$kernel
outer=$("$here/build-initramfs.sh" outer)
nested=$("$here/build-initramfs.sh" nested)

qemu_pid=
tail_pid=
qmp_log_pid=
monitor_pid=
# The monitor's FIFOs live outside the work folder, which the guest sees over 9p.
fifo_dir=$(mktemp -d "${TMPDIR:-/tmp}/bed-monitor.XXXXXX")
cleanup() {
	[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
	monitor_stop
	rm -rf "$fifo_dir"
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill "$qemu_pid" 2>/dev/null
		sleep 1
		kill -9 "$qemu_pid" 2>/dev/null
	fi
	return 0
}

# json_string TEXT: TEXT as the inside of a JSON string (backslash, quote, tab escaped).
json_string() {
	local t=${1//\\/\\\\}
	t=${t//\"/\\\"}
	printf '%s' "${t//$'\t'/\\t}"
}

# json_unstring TEXT: the inside of a JSON string, unescaped (QMP's \r\n, \", \\, \uXXXX).
json_unstring() {
	local t=${1//\\\"/\"}
	printf '%b' "$t" | tr -d '\r'
}

# serve_monitor DIR: while QEMU runs, answers the scenario's requests: for each
# DIR/monitor/SEQ.req (an HMP command line, lib.sh's bed_monitor writes it), sends it
# to QMP as human-monitor-command with id bed-SEQ, waits (30 s at most) for the
# reply with that id in DIR/qmp.log and leaves DIR/monitor/SEQ.reply: a first line
# "ok", "error" (QMP's error, or HMP's text starting "Error") or "timeout", then the
# text.  Requests are answered one at a time, in the order of their names.
serve_monitor() {
	local dir=$1 req seq cmd line text status n
	exec 3<>"$fifo_dir/qmp.in"
	echo '{"execute": "qmp_capabilities"}' >&3
	while kill -0 "$qemu_pid" 2>/dev/null; do
		for req in "$dir"/monitor/*.req; do
			[ -e "$req" ] || continue
			seq=${req##*/}
			seq=${seq%.req}
			cmd=$(head -n 1 "$req")
			rm -f "$req"
			printf '{"execute": "human-monitor-command", "arguments": {"command-line": "%s"}, "id": "bed-%s"}\n' \
				"$(json_string "$cmd")" "$seq" >&3
			line='' n=0
			while [ $n -lt 150 ] && kill -0 "$qemu_pid" 2>/dev/null; do
				line=$(grep -F "\"id\": \"bed-$seq\"" "$dir/qmp.log" 2>/dev/null | head -n 1 | tr -d '\r') || true
				[ -z "$line" ] || break
				sleep 0.2
				n=$((n + 1))
			done
			case $line in
			'') status=timeout text="no reply from QEMU's monitor within 30 s" ;;
			*'"error": {'*)
				status=error
				text=$(json_unstring "$(printf '%s\n' "$line" | sed -n 's/.*"desc": "\(.*\)"}.*/\1/p')")
				;;
			*)
				text=$(json_unstring "$(printf '%s\n' "$line" | sed -n 's/^{"return": "\(.*\)", "id": "bed-[^"]*"}$/\1/p')")
				case $text in Error*) status=error ;; *) status=ok ;; esac
				;;
			esac
			printf '%s\n%s\n' "$status" "$text" >"$dir/monitor/$seq.tmp"
			mv "$dir/monitor/$seq.tmp" "$dir/monitor/$seq.reply"
		done
		sleep 0.2
	done
}

# monitor_start DIR: fresh FIFOs for QEMU's QMP chardev, DIR/qmp.log and an empty DIR/monitor/.
monitor_start() {
	rm -rf "$1/monitor" "$fifo_dir/qmp.in" "$fifo_dir/qmp.out"
	mkdir -p "$1/monitor"
	: >"$1/qmp.log"
	mkfifo "$fifo_dir/qmp.in" "$fifo_dir/qmp.out"
}

# monitor_serve DIR: after QEMU started, logs QMP's output and serves the requests.
monitor_serve() {
	cat <"$fifo_dir/qmp.out" >>"$1/qmp.log" 2>/dev/null & # unbuffered; its lines end in CR LF
	qmp_log_pid=$!
	serve_monitor "$1" </dev/null >/dev/null 2>&1 &
	monitor_pid=$!
}

# monitor_stop: ends the QMP logger and the request server (by PID).
monitor_stop() {
	local p
	for p in $monitor_pid $qmp_log_pid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	monitor_pid='' qmp_log_pid=''
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# boot_guest DIR TIER TRACE: starts QEMU in the background (sets qemu_pid), its QMP
# monitor on the FIFOs monitor_start made, tracing e1000e_cb_qdev_reset and the
# events named in TRACE to DIR/qemu-trace.log.
# Fixed guest PCI addresses (tests rely on them):
#   00:02.0 e1000e 8086:10d3      00:03.0 e1000 8086:100e     00:04.0 edu 1234:11e8
#   00:05.0 pcie-root-port rp1 (5 GT/s x1) -> 01:00.0 e1000e 8086:10d3 (QEMU id e1000e-rp1, for device_del)
# rp1 is a Gen2 x1 port, as a Coral's slot is: after a secondary bus reset the kernel
# then waits for the device itself, where on a faster port it waits for the port's
# Data Link Layer Link Active, which QEMU 7.2 never sets on a port it hot-plugs
# through ACPI (q35's default): the `reset` write through `bus` would reset the
# function and still fail with EIO after 1 s.
#   00:06.0/.1/.2 multi-function e1000 variants 8086:100c, 8086:100f, 8086:100e
#   00:10.0 virtio-9p "hostroot" (host / read-only)   00:11.0 virtio-9p "work" (DIR)
#   00:1f.0/.2/.3 q35's LPC, AHCI, SMBus
boot_guest() {
	local dir=$1 tier=$2 smp=1 mem=1024 ev
	if [ "$tier" = 3 ]; then smp=2; mem=4096; fi
	for ev in e1000e_cb_qdev_reset $3; do echo "$ev"; done >"$fifo_dir/trace-events"
	monitor_start "$dir"
	"$BED_QEMU" -accel tcg -machine q35 -cpu max -smp "$smp" -m "$mem" \
		-nodefaults -no-reboot -display none -vga none -nic none -monitor none \
		-serial "file:$dir/console.log" \
		-chardev "pipe,id=qmp,path=$fifo_dir/qmp" -mon chardev=qmp,mode=control \
		-msg timestamp=on -trace "events=$fifo_dir/trace-events,file=$dir/qemu-trace.log" \
		-device intel-iommu \
		-device e1000e,bus=pcie.0,addr=02.0 \
		-device e1000,bus=pcie.0,addr=03.0 \
		-device edu,bus=pcie.0,addr=04.0 \
		-device pcie-root-port,id=rp1,chassis=1,bus=pcie.0,addr=05.0,x-speed=5,x-width=1 \
		-device e1000e,bus=rp1,addr=00.0,id=e1000e-rp1 \
		-device e1000-82544gc,bus=pcie.0,addr=06.0,multifunction=on \
		-device e1000-82545em,bus=pcie.0,addr=06.1 \
		-device e1000,bus=pcie.0,addr=06.2 \
		-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot,bus=pcie.0,addr=10.0 \
		-fsdev "local,id=work,path=$dir,security_model=none,multidevs=remap" \
		-device virtio-9p-pci,fsdev=work,mount_tag=work,bus=pcie.0,addr=11.0 \
		-kernel "$kernel" -initrd "$outer" \
		-append "console=ttyS0 panic=-1 printk.time=1 intel_iommu=on iommu=pt quiet" \
		</dev/null >"$dir/qemu.log" 2>&1 &
	qemu_pid=$!
	monitor_serve "$dir"
}

# What the guest kernel prints when it cannot go on: a CPU stuck for 20 s or more
# (lockup), or a panic (with panic=-1 and -no-reboot, QEMU then exits by itself).
# Under TCG both are the emulator's flakes, not the scenario's doing.  Only the
# kernel's own lines count: they carry a printk timestamp ("[    7.272385] ",
# printk.time=1 on the command line sees to it) where they start, wherever that
# is in a console line; the scenario's output, which the console shows too,
# does not (lib.sh's log lines start "[ 20s] "), so a scenario that prints these
# words is not taken for a dying kernel.
kmsg='\[ *[0-9]+\.[0-9]+\] '
panic_msg='Kernel panic - not syncing'
lockup_pattern="${kmsg}[^[]*(soft lockup - CPU|hard LOCKUP)"
panic_pattern="$kmsg$panic_msg"
max_attempts=3

# has_result DIR: the scenario reported its result (guest-init wrote rc).
has_result() { [ -e "$1/rc" ]; }

# check_failed DIR: a check of the scenario failed (lib.sh's "FAIL: WHAT" line), result written or not.
check_failed() { grep -q '^FAIL: ' "$1/output.log" 2>/dev/null; }

# console_line DIR PATTERN: the first console line matching PATTERN, from the
# kernel message on, without its timestamp; fails if there is none.
console_line() {
	local l
	l=$(grep -a -E -m 1 "$2" "$1/console.log" 2>/dev/null) || return 1
	printf '%s\n' "$l" | tr -d '\r' | sed -E "s/^.*$kmsg//"
}

# guest_died DIR: sets died (panicked or locked-up) and died_line from the first
# console line that shows the kernel panicked or locked up; fails if there is none.
guest_died() {
	died_line=$(console_line "$1" "$panic_pattern|$lockup_pattern") || { died_line=; return 1; }
	case $died_line in
	"$panic_msg"*) died=panicked ;;
	*) died=locked-up ;;
	esac
}

# died_words: how the guest ended, in words.
died_words() {
	case $died in
	panicked) echo "kernel panicked" ;;
	locked-up) echo "kernel locked up" ;;
	timed-out) echo "timed out" ;;
	*) echo "stopped" ;;
	esac
}

# stop_qemu: TERM, then KILL after 2 s, by PID.
stop_qemu() {
	local tries=10
	kill "$qemu_pid" 2>/dev/null || true
	while [ $tries -gt 0 ]; do
		kill -0 "$qemu_pid" 2>/dev/null || return 0
		sleep 0.2
		tries=$((tries - 1))
	done
	kill -9 "$qemu_pid" 2>/dev/null || true
}

# run_guest DIR TIER LIMIT T0 TRACE: boots the guest and waits until it powers off, the
# time limit passes or its kernel panics or locks up; always leaves QEMU dead.
# Then died says how the guest ended without a result: timed-out, panicked,
# locked-up or stopped (died_line: the console line), or is empty when the
# scenario reported one.  A result, once written, stands: a panic after it
# (while powering off) only sets after_line, for a note.
run_guest() {
	local dir=$1 tier=$2 limit=$3 t0=$4 n=0
	died='' died_line='' after_line=''
	boot_guest "$dir" "$tier" "$5"
	if [ $verbose = 1 ]; then
		tail -n +1 -F --pid="$qemu_pid" "$dir/output.log" 2>/dev/null &
		tail_pid=$!
	fi
	while kill -0 "$qemu_pid" 2>/dev/null; do
		if [ $(($(date +%s) - t0)) -ge "$limit" ]; then
			died=timed-out
		elif [ $((n % 4)) = 0 ] && ! has_result "$dir"; then
			guest_died "$dir" || true
		fi
		if [ -n "$died" ]; then
			stop_qemu
			break
		fi
		n=$((n + 1))
		sleep 0.5
	done
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=
	monitor_stop
	if [ -n "$tail_pid" ]; then
		wait "$tail_pid" 2>/dev/null || true # tail --pid ends after a last read
		tail_pid=
	fi
	if has_result "$dir"; then
		died='' died_line=''
		after_line=$(console_line "$dir" "$panic_pattern") || after_line=
	elif [ -z "$died" ]; then
		guest_died "$dir" || died=stopped
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
	trace=$(header "$script" bed-trace '')
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
	attempt=1 panics=0 timeouts=0 history=()
	while :; do
		run_guest "$dir" "$tier" "$limit" "$t0" "$trace"
		# A guest kernel that locks up or panics under TCG (seen with nested KVM:
		# both vCPUs spinning; "corrupted stack end detected inside scheduler" in
		# the nested vCPU thread) is the emulator's fault, not the scenario's: start
		# over in a fresh guest, and say so.  So is a guest that stalls silently
		# (seen once: a nested `virsh start` that never returned, nothing on the
		# console).  A lockup gets up to 3 attempts, a panic or a timeout one more;
		# never more than 3 in all.  A scenario with a result is never retried, and
		# neither is one whose check failed.
		[ -z "$died" ] || history+=("$died")
		why=
		if [ -n "$died" ] && [ $attempt -lt $max_attempts ] && ! check_failed "$dir"; then
			case $died in
			locked-up)
				why="guest kernel locked up after $(($(date +%s) - t0)) s (console: $died_line)"
				;;
			panicked)
				panics=$((panics + 1))
				[ $panics -ge 2 ] ||
					why="guest kernel panicked after $(($(date +%s) - t0)) s, before the scenario's result (console: $died_line)"
				;;
			timed-out)
				timeouts=$((timeouts + 1))
				[ $timeouts -ge 2 ] || why="timed out after ${limit}s with no result (an emulator stall?)"
				;;
			esac
		fi
		[ -n "$why" ] || break
		echo "RETRY $name: $why; fresh guest, attempt $((attempt + 1))"
		mv "$dir/console.log" "$dir/console.attempt$attempt.log" 2>/dev/null || true
		mv "$dir/output.log" "$dir/output.attempt$attempt.log" 2>/dev/null || true
		mv "$dir/qmp.log" "$dir/qmp.attempt$attempt.log" 2>/dev/null || true
		mv "$dir/qemu-trace.log" "$dir/qemu-trace.attempt$attempt.log" 2>/dev/null || true
		mv "$dir/nested-console.log" "$dir/nested-console.attempt$attempt.log" 2>/dev/null || true
		mv "$dir/libvirtd.log" "$dir/libvirtd.attempt$attempt.log" 2>/dev/null || true
		rm -f "$dir/rc"
		attempt=$((attempt + 1))
		t0=$(date +%s)
	done
	[ $attempt = 1 ] || retried+=("$name ($((attempt - 1))x)")
	secs=$(($(date +%s) - t0))
	rc=$(cat "$dir/rc" 2>/dev/null || echo none)
	skip_why=
	[ "$rc" != 77 ] || skip_why=$(sed -n 's/^SKIP: *//p' "$dir/output.log" 2>/dev/null | tr -d '\r' | tail -n 1)
	if [ "$rc" = 0 ]; then
		echo "PASS $name ($secs s)"
		passed=$((passed + 1))
	elif [ "$rc" = 77 ] && [ -n "$skip_why" ]; then
		echo "SKIP $name ($secs s): $skip_why"
		skipped=$((skipped + 1))
	else
		echo "FAIL $name ($secs s)"
		failed=$((failed + 1))
		if [ -n "$died" ] && check_failed "$dir"; then
			echo "  | a check failed, then the guest $(died_words) before the result was written (not retried)"
		fi
		case $died in
		panicked) echo "  | the guest kernel panicked before the scenario's result (attempt $attempt of $attempt): $died_line" ;;
		locked-up) echo "  | the guest kernel locked up (QEMU killed; attempt $attempt of $attempt): $died_line" ;;
		timed-out) echo "  | timed out after ${limit}s with no result (QEMU killed; attempt $attempt of $attempt)" ;;
		stopped) echo "  | the guest stopped without reporting a result" ;;
		*)
			if [ "$rc" = 77 ]; then
				echo "  | scenario exit code 77 (skip) without a \"SKIP: why\" line: a skip must say why (lib.sh: skip WHY)"
			else
				echo "  | scenario exit code $rc"
			fi
			;;
		esac
		[ $attempt = 1 ] || echo "  | attempts: ${history[*]}"
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
	[ -z "$after_line" ] || echo "  | note: the guest kernel panicked after the result was written (result kept): $after_line"
done

[ ${#retried[@]} = 0 ] || echo "retried after a guest kernel lockup, panic or stall: ${retried[*]}"
summary="$passed passed, $failed failed"
[ $skipped -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ $failed = 0 ]
