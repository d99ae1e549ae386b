#!/bin/sh
# run.sh: runs every test tier that can run here and ends with one "N passed, N failed" line.
#   SUITES   which tiers (default "unit cli fake bed-runner bed"; also asan, dist (the DSM bundle and
#            the Debian package), ansible)
#   FAKESYS  the FUSE fake sysfs for the fake tier (default build/fakesys)
#   BIN      the passthrough binary (default ./passthrough)
#   TESTS    the cmocka unit-test binaries
#   VALGRIND yes: unit and CLI tests run under valgrind --error-exitcode; no: they do not;
#            unset: they do when valgrind is installed
#   E2E      no: leave out the real-kernel bed even when it could run (its scenarios count as skipped)
#   MAKE     make, for the asan suite (which builds build/asan/ first)
set -u
cd "$(dirname "$0")/.." || exit 1
SUITES=${SUITES:-unit cli fake bed-runner bed}
export BIN=${BIN:-./passthrough}
passed=0 failed=0 skipped=0
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT INT TERM

# count_tap FILE: adds the TAP results in FILE to the totals.
count_tap() {
	p=$(grep -c '^ok ' "$1" | tr -d ' ')
	s=$(grep -c '^ok .*# SKIP' "$1" | tr -d ' ')
	f=$(grep -c '^not ok ' "$1" | tr -d ' ')
	passed=$((passed + p - s)) skipped=$((skipped + s)) failed=$((failed + f))
}

if [ -z "${VALGRIND:-}" ]; then
	if command -v valgrind >/dev/null 2>&1; then VALGRIND=yes; else VALGRIND=no
		echo "# valgrind is not installed: unit and CLI tests run without it (make deps installs it)"
	fi
fi
export VALGRIND

# run_unit BINARIES...: runs cmocka binaries with TAP output.
run_unit() {
		for t in "$@"; do
			echo "# unit: $t"
			if [ "${VALGRIND:-no}" = yes ]; then
				CMOCKA_MESSAGE_OUTPUT=TAP valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
					--errors-for-leak-kinds=definite,indirect --error-exitcode=99 "$t" >"$log" 2>&1
			else
				CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log" 2>&1
			fi
			rc=$?
			cat "$log"
			count_tap "$log"
			if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
				echo "not ok - $t exited $rc (crash, sanitizer or valgrind report above)"
				failed=$((failed + 1))
			fi
		done
}

# skip_bed WHY: the bed did not run: each scenario of its suite is skipped, with an
# "ok N - NAME # SKIP WHY" line (one "ok 1 - bed # SKIP WHY" when they cannot be listed).
skip_bed() {
	echo "# bed: skipped: $1"
	: >"$log"
	[ ! -x tests/bed/run.sh ] ||
		tests/bed/run.sh --names 2>/dev/null | awk -v why="$1" '{ print "ok " NR " - " $0 " # SKIP " why }' >"$log"
	[ -s "$log" ] || echo "ok 1 - bed # SKIP $1" >"$log"
	cat "$log"
	count_tap "$log"
}

# run_tap NAME SCRIPT WHAT: runs a TAP script and adds its results.
run_tap() {
		echo "# $1: $2 $3"
		"$2" >"$log" 2>&1
		rc=$?
		cat "$log"
		count_tap "$log"
		if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
			echo "not ok - $2 exited $rc"
			failed=$((failed + 1))
		fi
}
run_cli() {
	run_tap cli tests/cli/golden.sh "with $BIN"
	run_tap cli tests/cli/install.sh "with $BIN"
}
run_fake() { run_tap fake tests/fake/run.sh "with $BIN on ${FAKESYS:-build/fakesys}"; }

for suite in $SUITES; do
	case $suite in
	unit)
		run_unit ${TESTS:-}
		;;
	cli)
		run_cli
		;;
	fake)
		run_fake
		;;
	asan)
		echo "# asan: building build/asan/ with -fsanitize=address,undefined"
		if ! ${MAKE:-make} -s asan-build >"$log" 2>&1; then
			cat "$log"
			echo "not ok - the ASan/UBSan build failed"
			failed=$((failed + 1))
			continue
		fi
		asan_tests=$(for t in ${TESTS:-}; do echo "build/asan/${t#build/}"; done)
		saved_bin=$BIN saved_vg=$VALGRIND
		BIN=./build/asan/passthrough VALGRIND=no
		# intercept_tls_get_addr=0: GCC 12's LeakSanitizer, on Debian 12's glibc, records a
		# bogus dynamic-TLS block of the dlopened libvirt ("DTLS 6 at 0x0000000000e3-...",
		# with verbosity=1) and its tracer dies on it at exit ("Tracer caught signal 11"),
		# depending only on the memory layout (it came and went with an unrelated change to
		# observe_sysfs.c). Without the interception, dynamic TLS is not scanned; libvirt keeps
		# its thread-local errors in pthread keys, which still are, so no leak is hidden or made up.
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		run_unit $asan_tests
		run_cli
		run_fake
		BIN=$saved_bin VALGRIND=$saved_vg
		;;
	dist)
		echo "# dist: make dist, then the bundle in a minimal Debian 12 root"
		if ! ${MAKE:-make} -s dist >"$log" 2>&1; then
			if grep -q '^curl: ' "$log"; then
				echo "# dist: skipped: cannot download the pciutils source: $(grep '^curl: ' "$log" | head -n 1)"
				skipped=$((skipped + 1))
				continue
			fi
			cat "$log"
			echo "not ok - make dist failed (its checks, or the pciutils download)"
			failed=$((failed + 1))
			continue
		fi
		tail -n 1 "$log"
		run_tap dist tests/dist/minroot.sh "with $(sed -n 's/^dist: \([^,]*\),.*/\1/p' "$log")"
		# the Debian package (make deb), in a copy of the same root
		if ! ${MAKE:-make} -s deb >"$log" 2>&1; then
			cat "$log"
			echo "not ok - make deb failed"
			failed=$((failed + 1))
			continue
		fi
		tail -n 1 "$log"
		run_tap dist tests/dist/deb.sh "with $(sed -n 's/^deb: \([^,]*\),.*/\1/p' "$log")"
		;;
	ansible)
		run_tap ansible tests/ansible/run.sh "with $BIN"
		;;
	bed-runner)
		run_tap bed-runner tests/bed/runner-test.sh "(the bed's runner on a fake QEMU, no guest)"
		;;
	bed)
		if [ ! -x tests/bed/run.sh ]; then
			skip_bed "tests/bed/run.sh is missing"
		elif [ "${E2E:-}" = no ]; then
			skip_bed "E2E=no: the real-kernel bed is left out"
		elif ! why=$(tests/bed/run.sh --can-run 2>&1); then
			skip_bed "$why"
		else
			echo "# bed: tests/bed/run.sh --all"
			tests/bed/run.sh --all >"$log" 2>&1
			rc=$?
			cat "$log"
			# The bed ends with its own "N passed, N failed[, N skipped]" line: add it in.
			line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
			if [ -n "$line" ]; then
				set -- $line
				passed=$((passed + $1)) failed=$((failed + $3)) skipped=$((skipped + ${5:-0}))
			fi
			if [ $rc -ne 0 ] && { [ -z "$line" ] || [ "$3" = 0 ]; }; then
				echo "not ok - tests/bed/run.sh exited $rc"
				failed=$((failed + 1))
			fi
		fi
		;;
	*)
		echo "run.sh: unknown suite '$suite'" >&2
		exit 64
		;;
	esac
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
