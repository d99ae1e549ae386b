#!/bin/sh
# run.sh SECONDS TARGET...: runs each libFuzzer binary build/fuzz/fuzz_TARGET for SECONDS on
# a scratch copy of tests/fuzz/corpus/TARGET, merges what reached new code back into that
# corpus, and prints one line per target: executions, corpus size, crashes. A crash leaves
# its input in build/fuzz/crash-TARGET-*: add it to the corpus once fixed, and the unit
# tests (t_fuzz_corpus) replay it from then on.
set -u
cd "$(dirname "$0")/../.." || exit 1
secs=$1
shift
status=0
for t in "$@"; do
	work=build/fuzz/work-$t
	rm -rf "$work" && mkdir -p "$work"
	cp tests/fuzz/corpus/"$t"/* "$work"/
	"build/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix="build/fuzz/crash-$t-" -print_final_stats=1 "$work" >"build/fuzz/$t.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build/fuzz/$t.log")
	"build/fuzz/fuzz_$t" -merge=1 tests/fuzz/corpus/"$t" "$work" >/dev/null 2>&1
	echo "fuzz $t: ${runs:-?} executions in $secs s, corpus $(ls tests/fuzz/corpus/"$t" | wc -l) files, exit $rc"
	if [ "$rc" != 0 ]; then
		status=1
		grep -E "ERROR|SUMMARY|crash-" "build/fuzz/$t.log" | head -5
	fi
done
exit $status
