# lib.sh: what the CLI test scripts share: run the binary (under valgrind when asked) and
# report TAP. The caller sets BIN and tmp (a scratch directory); n and fails count.
# UPDATE_GOLDEN=1 rewrites each golden file from what the binary printed (install.sh only:
# golden.sh runs in a copy of the tree); review the diff before committing.
n=0
fails=0

run() {   # run ARGS...: runs BIN (under valgrind when asked), sets out, err, rc
	if [ "${VALGRIND:-no}" = yes ]; then
		valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
			--error-exitcode=99 "$BIN" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	else
		"$BIN" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	fi
	rc=$?
}

report() {   # report NAME OK [DETAIL-FILE]
	n=$((n + 1))
	if [ "$2" = 1 ]; then
		echo "ok $n - $1"
	else
		fails=$((fails + 1))
		echo "not ok $n - $1"
		[ $# -ge 3 ] && sed 's/^/#   /' "$3"
	fi
}

# expect NAME WANT-RC STREAM GOLDEN-FILE-OR-TEXT
expect() {
	name=$1 want_rc=$2 stream=$3 golden=$4
	if [ -n "${UPDATE_GOLDEN:-}" ] && [ -f "$golden" ] && [ "$rc" -eq "$want_rc" ]; then
		cp "$tmp/$stream" "$golden"   # a developer's aid: review the diff before committing
	fi
	if [ -z "$golden" ]; then
		: >"$tmp/want"
	elif [ -f "$golden" ]; then
		cp "$golden" "$tmp/want"
	else
		printf '%s\n' "$golden" >"$tmp/want"
	fi
	if [ "$rc" -ne "$want_rc" ]; then
		{ echo "expected exit $want_rc, saw $rc"; echo "stderr:"; cat "$tmp/err"; } >"$tmp/why"
		report "$name" 0 "$tmp/why"
	elif ! diff -u "$tmp/want" "$tmp/$stream" >"$tmp/why"; then
		report "$name" 0 "$tmp/why"
	else
		report "$name" 1
	fi
}
