# watch.sh: `passthrough watch` following the kernel's PCI uevents, on the FUSE fake, inside a private network namespace; sourced by tests/fake/run.sh (its helpers, its count).
#
# The messages: a uevent socket belongs to a network namespace. The test hands each message
# to the kernel's uevent socket of a namespace made for it (`uevent kernel`, root only), and
# the kernel multicasts it into that namespace alone, from port id 0, as it sends a device's
# uevent; so watch (run in that namespace) reads it as the kernel's, and no listener of this
# machine sees it: a listener here checks that. What it is not: no device came on a real bus
# (the fake stands for that), and the kernel's own uevents of this machine still reach the
# namespace (they go to every namespace of the initial user namespace), which watch ignores
# unless one is a PCI add or remove.
#   UEVENT   the sender and listener (default build/uevent, tests/fake/uevent.c)
UEVENT=${UEVENT:-build/uevent}

echo "# watch follows the kernel's PCI uevents (in a private network namespace)"
if [ ! -x "$UEVENT" ] || ! command -v nsenter >/dev/null || ! command -v setpriv >/dev/null; then
	n=$((n + 1))
	echo "ok $n - watch and the kernel's uevents # SKIP $UEVENT, nsenter or setpriv is missing"
	return 0
fi

ns_holder= watch_pid= host_listener=
watch_cleanup() {
	for p in $watch_pid $host_listener $ns_holder; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
trap 'watch_cleanup; stop_fake; rm -rf "$tmp"' EXIT

# now_ms; wait_ms MAX CMD...: waits until CMD succeeds (polling every 10 ms), at most MAX ms;
# prints the ms it took, or "timeout".
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_ms() {
	local max=$1 t0
	shift
	t0=$(now_ms)
	while ! "$@"; do
		[ $(($(now_ms) - t0)) -lt "$max" ] || { echo timeout; return 1; }
		sleep 0.01
	done
	echo $(($(now_ms) - t0))
}
on_vfio() { [ "$(driver $stand_in)" = vfio-pci ]; }
in_ns() { nsenter -t "$ns_holder" -n "$@"; }
# pci ACTION BDF [KEY=VALUE]...: the fields of a PCI device's uevent, as the kernel writes them for
# the fixture's e1000e (82574L, class 020000); the kernel appends SEQNUM.
pci() {
	local path=/devices/pci0000:00/$2 action=$1
	shift 2
	printf '%s\n' "$action@$path" "ACTION=$action" "DEVPATH=$path" SUBSYSTEM=pci "$@" PCI_CLASS=20000 \
		PCI_ID=8086:10D3 PCI_SUBSYS_ID=8086:0000 "PCI_SLOT_NAME=${path##*/}" \
		MODALIAS=pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00
}
# send_kernel [-n N] [-i MS] ACTION BDF: that uevent, multicast by the kernel in the namespace.
send_kernel() {
	local opts=()
	while [ "${1#-}" != "$1" ]; do opts+=("$1" "$2"); shift 2; done
	local fields
	mapfile -t fields < <(pci "$@")
	in_ns "$UEVENT" kernel "${opts[@]}" "${fields[@]}"
}
# comes_back: the device shows up as a new one would after a remove and a rescan: on its host
# driver, no override (written to the fake directly, as the kernel would have it).
comes_back() {
	echo >"$mnt/bus/pci/devices/$stand_in/driver_override"
	echo "$stand_in" >"$mnt/bus/pci/drivers/vfio-pci/unbind"
	echo "$stand_in" >"$mnt/bus/pci/drivers_probe"
}
kernel_lines() { grep -c '^passthrough: kernel: ' "$tmp/watch.log"; }

start_fake default
unshare -n sleep 600 &
ns_holder=$!
for _ in $(seq 100); do
	[ "$(readlink /proc/$ns_holder/ns/net 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] && break
	sleep 0.01
done
is "a private network namespace" yes \
	"$([ "$(readlink /proc/$ns_holder/ns/net)" != "$(readlink /proc/self/ns/net)" ] && echo yes)"
"$UEVENT" listen 60 >"$tmp/host-listen" &
host_listener=$!
wait_ms 2000 grep -q listening "$tmp/host-listen" >/dev/null

PATH="$tmp/bin:$PATH" nsenter -t "$ns_holder" -n "$BIN" watch -v -c "$tmp/bound.yaml" --state-dir "$tmp/state" --sysfs-root "$mnt" \
	--proc-root tests/fixtures/proc/default --connect "test://$repo/tests/fixtures/libvirt/frigate-running.xml" \
	--lock-file "$tmp/lock" >"$tmp/watch.log" 2>&1 &
watch_pid=$!
wait_ms 5000 on_vfio >/dev/null
has "watch says it follows the kernel's uevents" "^passthrough: watching libvirt at .* and the kernel's PCI uevents$" \
	"$(cat "$tmp/watch.log")"
is "watch: its first pass binds $stand_in" vfio-pci "$(driver $stand_in)"

comes_back
is "the device is back as a new one, on e1000e" e1000e "$(driver $stand_in)"
mark=$(fake_log | wc -l)
in_ns "$UEVENT" listen 3 >"$tmp/ns-listen" &
ns_listener=$!
wait_ms 2000 grep -q listening "$tmp/ns-listen" >/dev/null
mapfile -t fields < <(pci add $stand_in)
in_ns "$UEVENT" multicast -p 4242 "${fields[@]}" SEQNUM=1
send_kernel bind $stand_in DRIVER=e1000e
in_ns "$UEVENT" kernel add@/devices/virtual/vfio/1 ACTION=add DEVPATH=/devices/virtual/vfio/1 SUBSYSTEM=vfio
wait "$ns_listener"
has "in the namespace: the multicast from port 4242 arrives" "^4242 add@/devices/pci0000:00/$stand_in$" \
	"$(cat "$tmp/ns-listen")"
has "in the namespace: the kernel's bind arrives from port 0" "^0 bind@/devices/pci0000:00/$stand_in$" \
	"$(cat "$tmp/ns-listen")"
is "watch ignores a PCI add from a process (port 4242), a bind and a vfio add: no pass in 3 s" \
	"e1000e $mark 0" "$(driver $stand_in) $(fake_log | wc -l) $(kernel_lines)"

nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
mapfile -t fields < <(pci add $stand_in)
err=$(in_ns "${nobody[@]}" "$UEVENT" kernel "${fields[@]}" 2>&1)
is "a user who is not root cannot have the kernel send one" \
	"1 uevent: the kernel refused the message: Operation not permitted" "$? $err"
err=$(in_ns "${nobody[@]}" "$UEVENT" multicast "${fields[@]}" 2>&1)
is "... nor multicast one" "1 uevent: the kernel refused the message: Operation not permitted" "$? $err"

send_kernel add $stand_in
took=$(wait_ms 3000 on_vfio)
is "a PCI add from the kernel: $stand_in back on vfio-pci within a second ($took ms)" yes \
	"$([ "$took" != timeout ] && [ "$took" -lt 1000 ] && echo yes)"
sleep 0.3
is "... in one pass, its three writes" "driver_override $stand_in vfio-pci = 0
unbind e1000e $stand_in = 0
probe $stand_in = 0" "$(fake_log | tail -n +$((mark + 1)))"
has "... the log line names the device" "^passthrough: kernel: PCI $stand_in added$" "$(cat "$tmp/watch.log")"

comes_back
mark=$(fake_log | wc -l) lines=$(kernel_lines)
send_kernel add $stand_in
send_kernel add $nic2
send_kernel remove 0000:00:04.0
send_kernel add 0000:00:04.0
took=$(wait_ms 3000 on_vfio)
sleep 0.5
is "a burst of four (a rescan): rebound within a second ($took ms), in one pass (three writes)" "yes 1 3" \
	"$([ "$took" != timeout ] && [ "$took" -lt 1000 ] && echo yes) $(($(kernel_lines) - lines)) \
$(($(fake_log | wc -l) - mark))"
has "... one line for the burst" "^passthrough: kernel: PCI $stand_in added \(and 3 more\)$" "$(cat "$tmp/watch.log")"

comes_back
mark=$(fake_log | wc -l) lines=$(kernel_lines)
send_kernel -n 40 -i 50 add $stand_in &
storm=$!
# the time to the pass's line (it starts the pass), and to the rebind, polled together
t0=$(now_ms) began=timeout took=timeout
while [ $(($(now_ms) - t0)) -lt 3000 ]; do
	[ "$began" != timeout ] || [ "$(kernel_lines)" -le "$lines" ] || began=$(($(now_ms) - t0))
	[ "$took" != timeout ] || ! on_vfio || took=$(($(now_ms) - t0))
	[ "$began" = timeout ] || [ "$took" = timeout ] || break
	sleep 0.01
done
wait "$storm"
sleep 0.5
is "a storm (40 adds, 50 ms apart, 2 s): a pass begins within a second all the same ($began ms; rebound at $took ms)" \
	yes "$([ "$began" != timeout ] && [ "$began" -lt 1000 ] && [ "$took" != timeout ] && echo yes)"
has "... passes through the storm, each at most 500 ms after the first event it covers" "^[3-9]$" \
	"$(($(kernel_lines) - lines))"
is "... the passes after the rebind change nothing: three writes in all" 3 "$(($(fake_log | wc -l) - mark))"

marker=/devices/virtual/passthrough-test/$$
in_ns "$UEVENT" kernel "add@$marker" ACTION=add "DEVPATH=$marker" SUBSYSTEM=passthrough-test
sleep 0.2
kill "$host_listener" 2>/dev/null
wait "$host_listener" 2>/dev/null
host_listener=
lacks "no listener of this machine saw one of these messages" "$marker|pci0000:00/0000:00:0[234]\.0|^4242 " \
	"$(cat "$tmp/host-listen")"

kill -TERM "$watch_pid"
wait "$watch_pid"
is "watch stops on SIGTERM, exit 0" 0 "$?"
watch_pid=

if command -v strace >/dev/null; then
	start_fake default
	PATH="$tmp/bin:$PATH" nsenter -t "$ns_holder" -n strace -o /dev/null -e trace=socket \
		-e inject=socket:error=EACCES "$BIN" watch -v -c "$tmp/bound.yaml" --state-dir "$tmp/state" --sysfs-root "$mnt" \
		--proc-root tests/fixtures/proc/default --connect "test://$repo/tests/fixtures/libvirt/frigate-running.xml" \
		--lock-file "$tmp/lock" >"$tmp/watch.log" 2>&1 &
	tracer=$!
	wait_ms 5000 on_vfio >/dev/null
	is "no uevent socket (EACCES): watch goes on, its first pass binds $stand_in" vfio-pci "$(driver $stand_in)"
	is "... and says so once" "1 passthrough: cannot open the kernel's uevent socket (NETLINK_KOBJECT_UEVENT): Permission denied; a PCI device that comes back waits for a VM event or the timer" \
		"$(grep -c uevent "$tmp/watch.log") $(grep uevent "$tmp/watch.log")"
	has "... and watches libvirt alone" "^passthrough: watching libvirt at '[^']*'$" "$(cat "$tmp/watch.log")"
	watch_pid=$(ps -o pid= --ppid "$tracer" | tr -d ' ')
	kill -TERM "$watch_pid"
	wait "$tracer"
	watch_pid=
fi
kill "$ns_holder" 2>/dev/null
wait "$ns_holder" 2>/dev/null
ns_holder=
