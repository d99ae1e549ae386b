#!/bin/sh
# The bed runner's own test, with no guest (TAP): a copy of tests/bed/run.sh drives a fake QEMU that plays the guest (console lines, result, hang), to check what is retried and how each end is reported; then tests/run.sh's account of the bed.
#
# usage: tests/bed/runner-test.sh      (a make check suite, bed-runner; ~20 s; no root, no QEMU; VERBOSE=1 shows the runner's output)
#
# The copy runs in a temporary tree with its own scenarios (below) and a stub
# build-initramfs.sh; BED_QEMU is the fake, which reads the serial file and the
# work folder from its arguments and sources the scenario as the guest's
# behaviour.  What is checked: a guest kernel panic before the result is
# retried once in a fresh guest (RETRY line, console kept), a second panic is a
# FAIL that says so; a panic after the result changes nothing; a lockup gets 3
# attempts, a timeout 2; a failed check is never retried, even when the kernel
# panics right after it; a guest that stops with no result fails; only the
# kernel's lines count (a real panic console, tests/fixtures/bed/, whose
# scenario line names the panic too; a scenario's output with those words);
# a skip says why or is a FAIL; the summary counts all of it; the monitor: a
# scenario's HMP command lines (lib.sh's bed_monitor) reach QMP and their replies
# come back, errors as errors; the trace file is in the work folder.  Then tests/run.sh (a copy,
# with a stub bed runner): a bed that cannot run, or E2E=no, gives one
# "ok N - NAME # SKIP why" line per scenario and the skipped count; a bed that
# runs adds its passed, failed and skipped counts.
set -u
# What make check or a caller exported must not steer the copies tested here.
unset E2E BED_BUILD BED_QEMU BED_KERNEL BED_BUSYBOX BED_T0 BED_SCENARIOS BED_FLAGS
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1))
	echo "not ok $n - $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/#   /'
}
# check WHAT CMD...: ok if CMD succeeds, else not ok (with the output checked, when
# quiet is empty; the runner's long output is shown once, after its checks).
quiet=
fails=0
check() {
	what=$1
	shift
	if "$@"; then
		ok "$what"
	else
		fails=$((fails + 1))
		if [ -n "$quiet" ]; then not_ok "$what"; else not_ok "$what" "$out"; fi
	fi
}
has() { printf '%s\n' "$out" | grep -Eq -- "$1"; }
eq() { [ "$1" = "$2" ]; }
last_is() { [ "$(printf '%s\n' "$out" | tail -n 1)" = "$1" ]; }
lacks() { ! has "$1"; }
# in_block NAME REGEX: a line of NAME's result block (its PASS/FAIL/SKIP line and the "  |" lines under it)
in_block() { printf '%s\n' "$out" | sed -n "/^[A-Z]* $1 (/,/^[A-Z]/p" | grep -Eq -- "$2"; }
count() { printf '%s\n' "$out" | grep -Ec -- "$1"; }

if ! command -v bash >/dev/null 2>&1; then
	echo "ok 1 - bed runner # SKIP no bash (tests/bed/run.sh is a bash script)"
	echo "1..1"
	exit 0
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# --- the runner on a fake QEMU ------------------------------------------------
tree=$tmp/tree
sc=$tree/tests/bed/scenarios
mkdir -p "$sc"
cp "$here/run.sh" "$here/lib.sh" "$tree/tests/bed/"
mkdir -p "$tree/tests/fixtures/bed"
cp "$repo/tests/fixtures/bed/panic-console.log" "$tree/tests/fixtures/bed/"
cat >"$tree/tests/bed/build-initramfs.sh" <<'STUB'
#!/bin/sh
echo "/nonexistent/$1.cpio.gz"
STUB
chmod +x "$tree/tests/bed/build-initramfs.sh"

cat >"$tmp/fake-qemu" <<'FAKE'
#!/bin/sh
# Plays the guest for runner-test.sh: -serial file:CONSOLE and the "work" share's path come
# from the arguments, the scenario (sourced) says what the guest does.
console= work= qmp= trace=
while [ $# -gt 0 ]; do
	case $1 in
	-serial) console=${2#file:}; shift ;;
	-fsdev) case $2 in *id=work,*) work=${2#*path=}; work=${work%%,*} ;; esac; shift ;;
	-chardev) case $2 in pipe,id=qmp,*) qmp=${2#*path=}; qmp=${qmp%%,*} ;; esac; shift ;;
	-trace) trace=$2; shift ;;
	esac
	shift
done
. "$work/env"
attempt=$(($(ls "$work" | grep -c '^console\.attempt') + 1))
say() { printf '[    4.321000] %s\r\n' "$*" >>"$console"; } # a kernel line: printk timestamp, CR
out() { # a line of the scenario's output: in output.log, and on the console (guest-run.sh's tee)
	printf '%s\n' "$*" >>"$work/output.log"
	printf '%s\r\n' "$*" >>"$console"
}
result() { echo "$1" >"$work/rc"; say "BED-RESULT $1"; }
hang() { exec sleep 60; } # the runner kills this PID
qmp_serve() { # QMP's human-monitor-command, played: "bad" is HMP's error, "qmp-error" QMP's
	while IFS= read -r l; do
		id=$(printf '%s\n' "$l" | sed -n 's/.*"id": "\([^"]*\)".*/\1/p')
		cmd=$(printf '%s\n' "$l" | sed -n 's/.*"command-line": "\(.*\)"}, "id".*/\1/p')
		[ -n "$id" ] || continue
		case $cmd in
		bad) printf '{"return": "Error: bad command\\r\\n", "id": "%s"}\r\n' "$id" ;;
		qmp-error) printf '{"id": "%s", "error": {"class": "GenericError", "desc": "it failed"}}\r\n' "$id" ;;
		*) printf '{"return": "fake: %s\\r\\nline 2\\r\\n", "id": "%s"}\r\n' "$cmd" "$id" ;;
		esac
	done <"$qmp.in" >"$qmp.out"
}
say "Linux version 6.1.0-fake (attempt $attempt)"
. "$BED_REPO/tests/bed/scenarios/$BED_SCENARIO.sh"
FAKE
chmod +x "$tmp/fake-qemu"

scenario() { # scenario NAME [TIMEOUT]: the guest's behaviour on stdin
	{
		echo "# bed-timeout: ${2:-30}"
		cat
	} >"$sc/$1.sh"
}
scenario pass <<'E'
out "ok: a check"; result 0
E
scenario check-fails <<'E'
out "FAIL: a check"; out "  expected: a"; out "  saw:      b"; result 1
E
scenario skip <<'E'
out "SKIP: no widget here"; result 77
E
scenario skip-no-why <<'E'
out "ok: a check"; result 77
E
scenario panic-once <<'E'
if [ "$attempt" = 1 ]; then
	out "ok: a check"
	say "Kernel panic - not syncing: corrupted stack end detected inside scheduler"
	exit 0
fi
out "ok: a check"; result 0
E
scenario panic-twice <<'E'
out "ok: a check"
say "Kernel panic - not syncing: sysrq triggered crash"
say "---[ end Kernel panic - not syncing: sysrq triggered crash ]---"
E
scenario panic-hangs-once <<'E'
if [ "$attempt" = 1 ]; then say "Kernel panic - not syncing: Fatal exception"; hang; fi
result 0
E
scenario panic-after-result <<'E'
out "ok: a check"; result 0
say "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000"
E
scenario fail-then-panic <<'E'
out "FAIL: a check"; out "  expected: a"
say "Kernel panic - not syncing: Fatal exception"
E
scenario recorded-panic <<'E'
if [ "$attempt" = 1 ]; then
	out "[ 19s] a check that holds"
	cat "$BED_REPO/tests/fixtures/bed/panic-console.log" >>"$console"
	exit 0
fi
result 0
E
scenario panic-words <<'E'
out "[ 20s] grep 'Kernel panic - not syncing' and 'soft lockup - CPU' in the nested guest's log"
result 0
E
scenario panic-words-then-stop <<'E'
out "[ 20s] the words Kernel panic - not syncing, from the scenario"
E
scenario lockup <<'E'
say "watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [libvirtd:312]"
hang
E
scenario stall 2 <<'E'
out "ok: a check"; hang
E
scenario monitor <<'E'
# bed-trace: pci_cfg_write qdev_reset
qmp_serve &
ask() { # ask CMD: lib.sh's bed_monitor in the "guest", run.sh serves it
	r=$(BED_WORK=$work bash -c '. tests/bed/lib.sh; bed_monitor "$1"' - "$1")
	out "$1: exit $? [$(printf '%s' "$r" | tr '\n' '|')]"
}
ask "info pci"
ask bad
ask qmp-error
ask 'device_add e1000e,id="x"'
evf=${trace%%,file=*}
out "trace: file=${trace#*,file=$work/}, events: $(tr '\n' ' ' <"${evf#events=}")"
result 0
E
scenario stopped <<'E'
say "bed-init: cannot mount the host root (9p tag hostroot)"
say "BED-RESULT init-failed"
E

t0=$(date +%s)
out=$(cd "$tree" && BED_QEMU=$tmp/fake-qemu BED_KERNEL=/nonexistent/vmlinuz-0 BED_BUILD=$tmp/build \
	tests/bed/run.sh pass check-fails skip skip-no-why panic-once panic-twice panic-hangs-once \
	panic-after-result fail-then-panic lockup stall stopped recorded-panic panic-words \
	panic-words-then-stop 2>&1)
rc=$?
secs=$(($(date +%s) - t0))
run=$tmp/build/run
echo "# the runner on a fake QEMU: ${secs}s, exit $rc"
quiet=yes runner_out=$out
[ -z "${VERBOSE:-}" ] || printf '%s\n' "$out" | sed 's/^/# | /'

retries() { count "^RETRY $1: "; }
check "a pass is a PASS" has '^PASS pass \([0-9]+ s\)$'
check "a failed check is a FAIL" has '^FAIL check-fails '
check "... not retried" eq 0 "$(retries check-fails)"
check "... and shows the check" has '^  \| FAIL: a check$'
check "a skip says why" has '^SKIP skip \([0-9]+ s\): no widget here$'
check "exit 77 without a SKIP: line is a FAIL that says a skip must say why" \
	has '^  \| scenario exit code 77 \(skip\) without a "SKIP: why" line'
check "a panic before the result: RETRY with the console line, then a fresh guest" \
	has '^RETRY panic-once: guest kernel panicked after [0-9]+ s, before the scenario.s result \(console: Kernel panic - not syncing: corrupted stack end detected inside scheduler\); fresh guest, attempt 2$'
check "... which passes: PASS" has '^PASS panic-once '
check "... the first attempt's console and output are kept" \
	grep -q 'corrupted stack end' "$run/panic-once/console.attempt1.log" 2>/dev/null
check "... and its output" test -s "$run/panic-once/output.attempt1.log"
check "a second panic: one RETRY only" eq 1 "$(retries panic-twice)"
check "... then a FAIL" has '^FAIL panic-twice '
check "... that says the kernel panicked twice, with the console line" \
	has '^  \| the guest kernel panicked before the scenario.s result \(attempt 2 of 2\): Kernel panic - not syncing: sysrq triggered crash$'
check "... and lists the attempts" has '^  \| attempts: panicked panicked$'
check "a panicked guest that does not stop is killed and retried" has '^RETRY panic-hangs-once: guest kernel panicked'
check "... then passes" has '^PASS panic-hangs-once '
check "a panic after the result: PASS" has '^PASS panic-after-result '
check "... no RETRY" eq 0 "$(retries panic-after-result)"
check "... with a note" has '^  \| note: the guest kernel panicked after the result was written \(result kept\): Kernel panic - not syncing: Attempted to kill init'
check "a failed check then a panic: not retried" eq 0 "$(retries fail-then-panic)"
check "... a FAIL that says both" has '^  \| a check failed, then the guest kernel panicked before the result was written \(not retried\)$'
check "a lockup: 2 RETRY lines (3 attempts)" eq 2 "$(retries lockup)"
check "... the RETRY names the console line" \
	has '^RETRY lockup: guest kernel locked up after [0-9]+ s \(console: watchdog: BUG: soft lockup - CPU#1 stuck for 22s! \[libvirtd:312\]\); fresh guest, attempt 2$'
check "... then a FAIL" has '^  \| the guest kernel locked up \(QEMU killed; attempt 3 of 3\): watchdog: BUG: soft lockup'
check "a timeout with no result: one RETRY" eq 1 "$(retries stall)"
check "... then a FAIL" has '^  \| timed out after 2s with no result \(QEMU killed; attempt 2 of 2\)$'
check "a guest that stops with no result: a FAIL that says so" in_block stopped '^  \| the guest stopped without reporting a result$'
check "... not retried" eq 0 "$(retries stopped)"
check "... with the console's last lines" has '^  \| .*bed-init: cannot mount the host root'
check "a recorded panic console: the RETRY quotes the kernel's line, not the scenario's" \
	has '^RETRY recorded-panic: guest kernel panicked after [0-9]+ s, before the scenario.s result \(console: Kernel panic - not syncing: sysrq triggered crash\); fresh guest'
check "... then passes" has '^PASS recorded-panic '
check "the scenario's own output naming a panic or a lockup: PASS" has '^PASS panic-words '
check "... no RETRY" eq 0 "$(retries panic-words)"
check "... and no note" lacks 'note: .*as the scenario'
check "... and with no result: the guest stopped, not retried" eq 0 "$(retries panic-words-then-stop)"
check "... a FAIL that says so" in_block panic-words-then-stop '^  \| the guest stopped without reporting a result$'
check "the retried scenarios are named before the summary" \
	has '^retried after a guest kernel lockup, panic or stall: panic-once \(1x\) panic-twice \(1x\) panic-hangs-once \(1x\) lockup \(2x\) stall \(1x\) recorded-panic \(1x\)$'
check "the summary counts passes, failures and skips" has '^6 passed, 8 failed, 1 skipped$'
check "... and is the last line" last_is "6 passed, 8 failed, 1 skipped"
check "the runner exits 1 on a failure" eq 1 "$rc"
if [ $fails != 0 ]; then
	echo "# the runner's output:"
	printf '%s\n' "$runner_out" | sed 's/^/#   /'
fi
quiet=
out=$(cd "$tree" && BED_QEMU=$tmp/fake-qemu BED_KERNEL=/nonexistent/vmlinuz-0 BED_BUILD=$tmp/build \
	tests/bed/run.sh pass skip 2>&1)
rc=$?
check "with no failure: 'N passed, 0 failed, N skipped'" last_is "1 passed, 0 failed, 1 skipped"
check "... and exit 0" eq 0 "$rc"
out=$(cd "$tree" && BED_QEMU=$tmp/fake-qemu BED_KERNEL=/nonexistent/vmlinuz-0 BED_BUILD=$tmp/build \
	tests/bed/run.sh monitor 2>&1)
check "the monitor: a scenario's HMP commands are answered (PASS)" last_is "1 passed, 0 failed"
out=$(cat "$run/monitor/output.log" 2>&1)
check "... its reply comes back whole, exit 0" has '^info pci: exit 0 \[fake: info pci\|line 2\]$'
check "... HMP's error text is an error" has '^bad: exit 1 \[Error: bad command\]$'
check "... so is QMP's error, its desc the text" has '^qmp-error: exit 1 \[it failed\]$'
check "... quotes survive both ways" has '^device_add e1000e,id="x": exit 0 \[fake: device_add e1000e,id="x"\|line 2\]$'
check "... the trace goes to the work folder: e1000e_cb_qdev_reset and the scenario's events" \
	has 'file=qemu-trace.log, events: .*e1000e_cb_qdev_reset pci_cfg_write qdev_reset $'
check "... QMP's lines are kept in the work folder" grep -q '"id": "bed-' "$run/monitor/qmp.log"
check "... no request is left behind" eq "" "$(ls "$run/monitor/monitor" 2>&1)"
out=$("$here/run.sh" --names 2>&1)
check "run.sh --names: the suite's scenarios" has '^bed-basics$'
check "... and no selftest" lacks selftest

# --- tests/run.sh's account of the bed ----------------------------------------
t2=$tmp/tree2
mkdir -p "$t2/tests/bed"
cp "$repo/tests/run.sh" "$t2/tests/run.sh"
cat >"$t2/tests/bed/run.sh" <<'STUB'
#!/bin/sh
# Stub bed runner for runner-test.sh: STUB_MODE cannot, runs or fails.
case $1 in
--names) printf 'alpha\nbeta\n' ;;
--can-run)
	[ "$STUB_MODE" != cannot ] && { echo "test bed can run here"; exit 0; }
	echo "test bed cannot run here, missing: qemu-system-x86_64 (qemu-system-x86)"
	exit 1
	;;
--all)
	if [ "$STUB_MODE" = fails ]; then
		printf 'FAIL alpha (3 s)\n  | scenario exit code 1\nSKIP beta (1 s): no widget here\n0 passed, 1 failed, 1 skipped\n'
		exit 1
	fi
	printf 'PASS alpha (3 s)\nSKIP beta (1 s): no widget here\n1 passed, 0 failed, 1 skipped\n'
	;;
esac
STUB
chmod +x "$t2/tests/bed/run.sh"
suite() { out=$(SUITES=bed "$@" sh "$t2/tests/run.sh" 2>&1); rc=$?; }

suite env STUB_MODE=cannot
check "bed cannot run: each scenario skipped with the reason" \
	has '^ok 2 - beta # SKIP test bed cannot run here, missing: qemu-system-x86_64 \(qemu-system-x86\)$'
check "... counted: 0 passed, 0 failed, 2 skipped" last_is "0 passed, 0 failed, 2 skipped"
check "... exit 0" eq 0 "$rc"
suite env STUB_MODE=runs E2E=no
check "E2E=no: each scenario skipped with the reason" has '^ok 1 - alpha # SKIP E2E=no'
check "... counted" last_is "0 passed, 0 failed, 2 skipped"
suite env STUB_MODE=runs
check "a bed that runs: its passed and skipped counts are added" last_is "1 passed, 0 failed, 1 skipped"
check "... exit 0" eq 0 "$rc"
suite env STUB_MODE=fails
check "... and its failures" last_is "0 passed, 1 failed, 1 skipped"
check "... exit 1" eq 1 "$rc"
chmod -x "$t2/tests/bed/run.sh"
suite env STUB_MODE=runs
check "no bed runner: one skip line that says so" has '^ok 1 - bed # SKIP tests/bed/run.sh is missing$'
check "... counted" last_is "0 passed, 0 failed, 1 skipped"

echo "1..$n"
