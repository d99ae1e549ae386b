#!/bin/bash
# Fault-injection tests of `passthrough apply` on the FUSE fake sysfs (tests/fake/fakesys.c), each on a fresh copy of a recorded fixture; TAP output.
#
#   BIN      the passthrough binary (default ./passthrough)
#   FAKESYS  the fake (default build/fakesys)
# Needs root, /dev/fuse and fusermount3 (fuse3); otherwise it says why and skips.
set -u
cd "$(dirname "$0")/../.." || exit 1
repo=$PWD
BIN=${BIN:-./passthrough}
FAKESYS=${FAKESYS:-build/fakesys}
n=0

skip_all() {
	echo "ok 1 - fake sysfs tests # SKIP $1"
	echo "1..1"
	exit 0
}
[ "$(id -u)" = 0 ] || skip_all "they need root (FUSE mounts)"
[ -c /dev/fuse ] || skip_all "/dev/fuse is missing"
command -v fusermount3 >/dev/null || skip_all "fusermount3 is missing (apt-get install fuse3)"
[ -x "$FAKESYS" ] || skip_all "$FAKESYS is not built (make $FAKESYS needs libfuse3-dev)"

tmp=$(mktemp -d /tmp/passthrough-fake.XXXXXX) || exit 1
mnt=$tmp/mnt
fake_pid=
stop_fake() {
	if [ -n "$fake_pid" ]; then
		if ! fusermount3 -u "$mnt" 2>/dev/null; then
			fusermount3 -uz "$mnt" 2>/dev/null
			kill "$fake_pid" 2>/dev/null
		fi
		wait "$fake_pid" 2>/dev/null
		fake_pid=
	fi
}
trap 'stop_fake; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# start_fake FIXTURE [FAKESYS OPTIONS]: a fresh copy of tests/fixtures/sysfs/FIXTURE at $mnt.
start_fake() {
	local fixture=$1
	shift
	stop_fake
	rm -rf "$tmp/back" "$mnt" "$tmp/lock.journal" "$tmp/state"   # a fresh host: /run is empty, no history
	mkdir -p "$mnt"
	cp -a "tests/fixtures/sysfs/$fixture" "$tmp/back"
	"$FAKESYS" "$@" "$tmp/back" "$mnt" 2>"$tmp/fakesys.err" &
	fake_pid=$!
	for _ in $(seq 100); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$fake_pid" 2>/dev/null || break
		sleep 0.02
	done
	echo "Bail out! fakesys did not mount: $(cat "$tmp/fakesys.err")"
	exit 1
}

# ctl COMMAND: steers the fake; a command it refuses ends the run (a test would pass for nothing).
ctl() {
	if ! echo "$*" >"$mnt/fakesys-control"; then
		echo "Bail out! fakesys refused '$*'"
		exit 1
	fi
}
driver() { local l; l=$(readlink "$mnt/bus/pci/devices/$1/driver") && echo "${l##*/}" || echo none; }
override() { cat "$mnt/bus/pci/devices/$1/driver_override"; }
fake_log() { cat "$mnt/fakesys-log"; }

# config NAME YAML: writes a config file the way the tool wants it (mode 600).
config() {
	printf '%s\n' "$2" >"$tmp/$1.yaml"
	chmod 600 "$tmp/$1.yaml"
}

# apply CONFIG [ARGS]: runs apply against the fake; sets out, err, rc (137 when a fault killed it:
# the subshell keeps bash's "Killed" line out of the TAP output).
apply() {
	local cfg=$1
	shift
	(PATH="$tmp/bin:$PATH" "$BIN" apply -c "$tmp/$cfg.yaml" --sysfs-root "$mnt" \
		--proc-root tests/fixtures/proc/default \
		--connect "test://$repo/tests/fixtures/libvirt/${APPLY_XML:-frigate-running.xml}" \
		--lock-file "$tmp/lock" --state-dir "$tmp/state" "$@" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
	rc=$?
	out=$(cat "$tmp/out") err=$(cat "$tmp/err")
}

# look COMMAND CONFIG [ARGS]: plan or status against the fake, reading the journal apply keeps
# beside $tmp/lock; sets out, err, rc.
look() {
	local cmd=$1 cfg=$2
	shift 2
	"$BIN" "$cmd" -c "$tmp/$cfg.yaml" --sysfs-root "$mnt" --proc-root tests/fixtures/proc/default \
		--connect "test://$repo/tests/fixtures/libvirt/frigate-running.xml" \
		--lock-file "$tmp/lock" --state-dir "$tmp/state" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out") err=$(cat "$tmp/err")
}

# is WHAT EXPECTED SEEN / has WHAT REGEX TEXT / lacks WHAT REGEX TEXT
is() {
	n=$((n + 1))
	if [ "$2" = "$3" ]; then echo "ok $n - $1"; else
		echo "not ok $n - $1"
		printf '#   expected: %s\n#   saw:      %s\n' "$2" "$3" | sed '3,$s/^/#   /'
	fi
}
has() {
	n=$((n + 1))
	if printf '%s' "$3" | grep -Eq -- "$2"; then echo "ok $n - $1"; else
		echo "not ok $n - $1"
		printf '#   expected to match: %s\n' "$2"
		printf '%s\n' "$3" | sed 's/^/#   saw: /'
	fi
}
lacks() {
	n=$((n + 1))
	if ! printf '%s' "$3" | grep -Eq -- "$2"; then echo "ok $n - $1"; else
		echo "not ok $n - $1"
		printf '#   expected not to match: %s\n' "$2"
		printf '%s\n' "$3" | sed 's/^/#   saw: /'
	fi
}

stand_in=0000:00:02.0 nic2=0000:00:03.0
config bound "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", state: bound }"
config two "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", state: bound }
  nic2: { address: \"$nic2\", state: bound }"
config released "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", state: released }"
# A modprobe stand-in that refuses, so that no test can reach the host's real one.
mkdir -p "$tmp/bin"
no_modprobe() {
	printf '#!/bin/sh\necho "modprobe: FATAL: Module $1 not found" >&2\nexit 1\n' >"$tmp/bin/modprobe"
	chmod +x "$tmp/bin/modprobe"
}
no_modprobe

echo "# the fake agrees with the kernel's binding, power, reset and rescan semantics (the same script passes on the real kernel in bed-basics)"
start_fake default
tests/fake/semantics.sh "$mnt" "$nic2" e1000 0000:01:00.0 e1000e "pm bus" >"$tmp/sem" 2>&1
is "tests/fake/semantics.sh on the fake: exit status, plan line, failures" "0 1..63 " \
	"$? $(tail -n 1 "$tmp/sem") $(grep -A2 '^not ok' "$tmp/sem")"
if command -v lspci >/dev/null && command -v unshare >/dev/null; then
	seen=$(unshare -m --propagation private sh -c "mount --bind '$mnt' /sys && lspci -k -s 00:02.0" 2>&1)
	has "unmodified lspci reads the fake (in a private mount namespace)" "Kernel driver in use: e1000e" "$seen"
fi

echo "# a bind and a release, and nothing else touched"
start_fake default
apply bound -v
is "apply: exit status" 0 "$rc"
is "apply: $stand_in on vfio-pci" vfio-pci "$(driver $stand_in)"
is "apply: the writes, in order" "driver_override $stand_in vfio-pci = 0
unbind e1000e $stand_in = 0
probe $stand_in = 0" "$(fake_log)"
apply bound
is "apply again: exit status" 0 "$rc"
is "apply again: prints nothing" "" "$out$err"
is "apply again: writes nothing" 3 "$(fake_log | wc -l | tr -d ' ')"
apply released -v
is "release: exit status" 0 "$rc"
is "release: back on e1000e" e1000e "$(driver $stand_in)"
is "release: override cleared" "(null)" "$(override $stand_in)"
is "release: the writes" "unbind vfio-pci $stand_in = 0
driver_override $stand_in (clear) = 0
probe $stand_in = 0" "$(fake_log | tail -n 3)"

echo "# a release killed between clearing driver_override and the probe: the next run probes"
start_fake default
apply bound
ctl kill-on $stand_in override
apply released
is "killed release: the run died right after clearing the override" "137 none (null)" \
	"$rc $(driver $stand_in) $(override $stand_in)"
look plan released --detailed-exitcode
is "killed release: plan --detailed-exitcode says a change is pending" 2 "$rc"
has "killed release: ... the probe" "\+ probe -> its host driver +# on no driver: find its host driver" "$out"
look status released
is "killed release: status says NOT CONVERGED, exit 1" "1 tpu-standin $stand_in: NOT CONVERGED" \
	"$rc $(printf '%s\n' "$out" | head -n 1)"
apply released
is "killed release: the next apply heals it (back on e1000e), silently" "0 e1000e " "$rc $(driver $stand_in) $out$err"
is "killed release: ... with one probe" "probe $stand_in = 0" "$(fake_log | tail -n 1)"
look plan released --detailed-exitcode
is "killed release: healed, plan --detailed-exitcode is 0" 0 "$rc"

if command -v strace >/dev/null; then
	echo "# the issue's repro: strace kills whoever opens drivers_probe during a release"
	start_fake default
	apply bound
	(PATH="$tmp/bin:$PATH" strace -f -o /dev/null -P "$mnt/bus/pci/drivers_probe" -e trace=openat \
		-e inject=openat:signal=KILL "$BIN" apply -c "$tmp/released.yaml" --state-dir "$tmp/state" --sysfs-root "$mnt" \
		--proc-root tests/fixtures/proc/default --connect "test://$repo/tests/fixtures/libvirt/frigate-running.xml" \
		--lock-file "$tmp/lock" >"$tmp/out" 2>&1; exit $?) 2>/dev/null
	is "strace repro: left on no driver, override cleared" "none (null)" "$(driver $stand_in) $(override $stand_in)"
	apply released
	is "strace repro: apply heals it: exit 0, back on e1000e" "0 e1000e" "$rc $(driver $stand_in)"
	look plan released --detailed-exitcode
	is "strace repro: then plan --detailed-exitcode is 0" 0 "$rc"
fi

echo "# released, and no host driver takes it (its module is not there): probed once, then an error, never converged"
start_fake default
apply bound
ctl unload e1000e
unclaimed="passthrough: 'tpu-standin' $stand_in: no host driver claims it (probed); load its driver or declare it bound"
apply released
is "no host driver: exit 1, one line" "1 $unclaimed" "$rc $err"
is "no host driver: on no driver, override cleared" "none (null)" "$(driver $stand_in) $(override $stand_in)"
has "no host driver: apply probed" "probe $stand_in = 0" "$(fake_log | tail -n 1)"
writes=$(fake_log | wc -l)
apply released
is "no host driver: the next run: exit 1, the same line, not probed again (no write)" "1 $unclaimed $writes" \
	"$rc $err $(fake_log | wc -l)"
look plan released --detailed-exitcode
is "no host driver: plan --detailed-exitcode is 1, the line on stderr" "1 $unclaimed" "$rc $err"
look plan released --json
has "no host driver: plan --json: a problem of kind no_host_driver" \
	"\"problems\":\[\{\"kind\":\"no_host_driver\",\"name\":\"tpu-standin\",\"entry\":\"tpu-standin\",\"address\":\"$stand_in\"" "$out"
look status released
is "no host driver: status exit 1" 1 "$rc"
has "no host driver: status says NOT CONVERGED and why" "NOT CONVERGED
    driver:   want host driver, have \(none\)
.*
    why:      'tpu-standin' $stand_in: no host driver claims it \(probed\)" "$out"
look status released --json
has "no host driver: status --json" "\"converged\":false,\"problem\":\"no_host_driver\"" "$out"
ctl load e1000e
is "no host driver: its module comes and takes it" e1000e "$(driver $stand_in)"
apply released
is "no host driver: then apply is quiet and converged" "0 " "$rc $out$err"
look plan released --detailed-exitcode
is "no host driver: and plan --detailed-exitcode 0" 0 "$rc"

echo "# vfio-pci not loaded: apply runs modprobe (a stand-in in PATH), without a shell"
start_fake default
ctl unload vfio-pci
printf '#!/bin/sh\necho "$*" >>"%s"\necho "load $1" >"%s"\n' "$tmp/modprobe.args" "$mnt/fakesys-control" >"$tmp/bin/modprobe"
chmod +x "$tmp/bin/modprobe"
apply bound -v
is "modprobe: exit status" 0 "$rc"
is "modprobe: its argv" "vfio-pci" "$(cat "$tmp/modprobe.args")"
has "modprobe: logged" "host: load module vfio-pci" "$err"
is "modprobe: then bound" vfio-pci "$(driver $stand_in)"

echo "# modprobe fails: no device is touched (an override naming a missing driver would strand it)"
start_fake default
ctl unload vfio-pci
no_modprobe
apply two
is "failing modprobe: exit status" 1 "$rc"
is "failing modprobe: one line says so, with what modprobe said" "passthrough: host: load module vfio-pci failed: 'modprobe vfio-pci' failed (exit status 1): modprobe: FATAL: Module vfio-pci not found; the next run tries again ('passthrough status' shows where it stands)" "$err"
is "failing modprobe: $stand_in untouched" "e1000e (null)" "$(driver $stand_in) $(override $stand_in)"
is "failing modprobe: $nic2 untouched" "e1000 (null)" "$(driver $nic2) $(override $nic2)"
is "failing modprobe: no sysfs writes" "control unload vfio-pci = 0" "$(fake_log)"

echo "# EBUSY on unbind: a clear error; the next run finishes the job"
start_fake default
ctl fail $stand_in unbind EBUSY 1
apply bound
is "EBUSY: exit status" 1 "$rc"
has "EBUSY: one line naming device, step and errno" \
	"^passthrough: 'tpu-standin' $stand_in: unbind from e1000e failed: cannot write '.*/bus/pci/drivers/e1000e/unbind': Device or resource busy; the next run tries again" "$err"
is "EBUSY: exactly one error line" 1 "$(printf '%s\n' "$err" | grep -c .)"
is "EBUSY: still on e1000e, override set (the next run repairs it)" "e1000e vfio-pci" "$(driver $stand_in) $(override $stand_in)"
"$BIN" plan -c "$tmp/bound.yaml" --sysfs-root "$mnt" --proc-root tests/fixtures/proc/default \
	--connect "test://$repo/tests/fixtures/libvirt/frigate-running.xml" >"$tmp/plan" 2>&1
has "EBUSY: plan shows what is left" "unbind from e1000e" "$(cat "$tmp/plan")"
lacks "EBUSY: plan does not set the override again" "driver_override" "$(cat "$tmp/plan")"
apply bound
is "EBUSY: the next run converges" "0 vfio-pci" "$rc $(driver $stand_in)"

echo "# one failing device does not stop the others"
start_fake default
ctl fail $stand_in unbind EBUSY
apply two
is "partial: exit status" 1 "$rc"
is "partial: the other device is bound" vfio-pci "$(driver $nic2)"
is "partial: one error line" 1 "$(printf '%s\n' "$err" | grep -c 'failed')"
has "partial: it names the failing device" "'tpu-standin' $stand_in: unbind" "$err"
apply two
is "partial: still failing, still one line, exit 1" "1 1" "$rc $(printf '%s\n' "$err" | grep -c 'failed')"

echo "# an unbind that does not return (a wedged device): the device's error within the bound, the others go on"
start_fake default
ctl hang $stand_in unbind 8000
t0=$(date +%s%N)
apply two --write-timeout 2
took=$((($(date +%s%N) - t0) / 1000000))
is "wedged: exit status" 1 "$rc"
is "wedged: apply returns within the bound and a little (2 s + 1.5 s)" yes "$([ "$took" -lt 3500 ] && echo yes || echo "no, $took ms")"
is "wedged: one line naming the device, saying it did not return" \
	"passthrough: 'tpu-standin' $stand_in: unbind from e1000e failed: writing '$mnt/bus/pci/drivers/e1000e/unbind' did not return within 2 s: the device is probably wedged; the next run tries again ('passthrough status' shows where it stands)" "$err"
is "wedged: the other device is bound to vfio-pci" vfio-pci "$(driver $nic2)"
is "wedged: the unbind is still held" "e1000e vfio-pci" "$(driver $stand_in) $(override $stand_in)"
t0=$(date +%s%N)
apply two --write-timeout 2 --lock-timeout 1
took=$((($(date +%s%N) - t0) / 1000000))
is "wedged: a second run takes the lock (the stuck writer does not hold it) and fails the same way" \
	"1 yes" "$rc $([ "$took" -lt 3500 ] && echo yes || echo "no, $took ms")"
has "wedged: ... saying so" "unbind from e1000e failed: writing .* did not return within 2 s" "$err"
ctl clear
for _ in $(seq 50); do [ "$(driver $stand_in)" = none ] && break; sleep 0.1; done
is "wedged: once the kernel lets go, the unbind is done" "none vfio-pci" "$(driver $stand_in) $(override $stand_in)"
apply two
is "wedged: the next run finishes the job" "0 vfio-pci vfio-pci" "$rc $(driver $stand_in) $(driver $nic2)"

echo "# ENODEV writing driver_override"
start_fake default
ctl fail $stand_in override ENODEV 1
apply bound
is "ENODEV: exit status" 1 "$rc"
has "ENODEV: the error names the file" "cannot write '.*/devices/$stand_in/driver_override': No such device" "$err"
is "ENODEV: nothing changed" "e1000e (null)" "$(driver $stand_in) $(override $stand_in)"

echo "# a probe that binds late: within the wait, and beyond it"
start_fake default
ctl late $stand_in 1500
apply bound
is "late 1.5 s: apply waits and succeeds" "0 vfio-pci" "$rc $(driver $stand_in)"
has "late 1.5 s: the fake did bind late" "^late bind vfio-pci $stand_in = 0" "$(fake_log)"
start_fake default
ctl late $stand_in 6500
apply bound
is "late 6.5 s: exit status" 1 "$rc"
has "late 6.5 s: the error says it waited" "probe -> vfio-pci failed: $stand_in is on no driver after probing, not vfio-pci \(waited 5000 ms\)" "$err"
sleep 2
apply bound
is "late 6.5 s: once it has bound, the next run is quiet and converged" "0 " "$rc $out$err"

echo "# a probe that binds the wrong driver"
start_fake default
ctl wrong $stand_in e1000e
apply bound
is "wrong driver: exit status" 1 "$rc"
has "wrong driver: the error names it" "is on e1000e after probing, not vfio-pci" "$err"
ctl clear
apply bound
is "wrong driver: fixed, the next run converges" "0 vfio-pci" "$rc $(driver $stand_in)"

echo "# the device disappears in the middle of the bind"
start_fake default
ctl vanish-on $stand_in unbind
apply two
is "vanish: exit status" 1 "$rc"
has "vanish: the error names the device" "'tpu-standin' $stand_in: " "$err"
is "vanish: the other device is still bound" vfio-pci "$(driver $nic2)"
apply two
is "vanish: the next run fails clearly" 1 "$rc"
has "vanish: ... naming the missing device" "tpu-standin.*$stand_in" "$err"
is "vanish: ... in one line" 1 "$(printf '%s\n' "$err" | grep -c .)"

echo "# PCI domain 10000 (behind VMD): bound by its five-digit name, nothing else written"
vmd_ssd=10000:e2:00.0
config vmd "version: 1
devices:
  ssd2: { address: \"$vmd_ssd\", state: bound }"
start_fake vmd
apply vmd
is "domain 10000: exit status" 0 "$rc"
is "domain 10000: on vfio-pci, override set" "vfio-pci vfio-pci" "$(driver $vmd_ssd) $(override $vmd_ssd)"
is "domain 10000: the writes, in order, each naming $vmd_ssd" "driver_override $vmd_ssd vfio-pci = 0
unbind nvme $vmd_ssd = 0
probe $vmd_ssd = 0" "$(fake_log)"
apply vmd
is "domain 10000: the next run is quiet and writes nothing" "0  3" "$rc $out$err $(fake_log | wc -l | tr -d ' ')"

echo "# the tool never uses new_id or remove_id"
start_fake default
apply two
apply released
lacks "no new_id or remove_id, ever" "new_id|remove_id" "$(fake_log)"

echo "# apply --host-only (the boot step): binds without libvirt, gives nothing back"
config nic2only "version: 1
devices:
  nic2: { address: \"$nic2\", state: bound }"
config boot "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", vm: frigate_VM }
  nic2: { address: \"$nic2\", state: released }"
start_fake default
apply nic2only
apply boot --host-only --connect bogus:///
is "apply --host-only: exit 0 with libvirt unreachable" 0 "$rc"
is "apply --host-only: the VM's device is bound before libvirtd starts" "vfio-pci vfio-pci" \
	"$(driver $stand_in) $(override $stand_in)"
is "apply --host-only: a released entry is not given back (a running VM may hold it)" vfio-pci "$(driver $nic2)"
lacks "apply --host-only: libvirt is not asked" "libvirt|connect" "$err"
writes=$(fake_log | wc -l)
apply boot --host-only --connect bogus:///
is "apply --host-only again: exit 0, no writes" "0 $writes" "$rc $(fake_log | wc -l)"

echo "# the hook: prepare binds, release gives back (on_stop: release), other VMs and operations do nothing; it never fails"
config hooked "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", vm: frigate_VM, on_stop: release }"
frigate_xml="<domain type='kvm'><name>5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f</name>
<uuid>5F0C7A52-8D1E-4C9B-9A57-1B2F3C4D5E6F</uuid><title>frigate_VM</title><devices/></domain>"
other_xml="<domain type='kvm'><name>homeassistant</name><uuid>0b6a3c2e-1d4f-4e5a-8b7c-9d0e1f2a3b4c</uuid><devices/></domain>"
# hook XML DOMAIN OP: runs the hook as libvirt does, with the XML on stdin; sets out, err, rc.
hook() {
	(printf '%s' "$1" | PATH="$tmp/bin:$PATH" "$BIN" hook "$2" "$3" - - -c "$tmp/hooked.yaml" --state-dir "$tmp/state" \
		--sysfs-root "$mnt" --proc-root tests/fixtures/proc/default --connect test:///nonexistent \
		--lock-file "$tmp/lock" ${HOOK_V:+-v} >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
	rc=$?
	out=$(cat "$tmp/out") err=$(cat "$tmp/err")
}
# wait_worker: the detached worker a hook started (libvirt unreachable here) must be gone first
wait_worker() {
	for _ in $(seq 100); do pgrep -f "apply -c $tmp/hooked.yaml" >/dev/null || break; sleep 0.1; done
}
start_fake default
rm -f "$tmp/lock.vms"
hook "$other_xml" homeassistant prepare
is "hook, another VM, prepare: exit 0, silent, no writes" "0  0" "$rc $out$err $(fake_log | wc -l | tr -d ' ')"
HOOK_V=1 hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f prepare
is "hook prepare by a title apply never confirmed: exit 0, no writes" "0 0" "$rc $(fake_log | wc -l | tr -d ' ')"
has "hook prepare by an unconfirmed title: says why, the worker takes over" \
	"vm 'frigate_VM' matches its <title>, which apply has not confirmed .*a detached apply --vm takes over" "$err"
wait_worker
APPLY_XML=two-titles.xml apply hooked
is "apply with two domains titled frigate_VM: the title names no one (exit 1), nothing recorded" "1 " \
	"$rc $(cat "$tmp/lock.vms" 2>/dev/null)"
b_xml="<domain type='kvm'><name>homeassistant</name><uuid>0b6a3c2e-1d4f-4e5a-8b7c-9d0e1f2a3b4c</uuid><title>frigate_VM</title><devices/></domain>"
mark=$(fake_log | wc -l)
HOOK_V=1 hook "$b_xml" homeassistant release
is "hook release for b, titled like a: gives nothing back itself" "0 $mark" "$rc $(fake_log | wc -l)"
wait_worker
apply hooked
is "apply records which domain frigate_VM is (by UUID)" "5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f	frigate_VM" \
	"$(cat "$tmp/lock.vms")"
hook "$b_xml" homeassistant release
is "hook release for b once a's title is recorded: still not b's: nothing given back" "0 vfio-pci" \
	"$rc $(driver $stand_in)"
wait_worker
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f release
is "hook release for a, the recorded one: back on e1000e" "0 e1000e" "$rc $(driver $stand_in)"
mark=$(fake_log | wc -l)
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f stopped
is "hook, frigate_VM, stopped (not ours to act on): no writes" "0 $mark" "$rc $(fake_log | wc -l)"
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f prepare
is "hook prepare, named by its title in the XML: exit 0" 0 "$rc"
is "hook prepare: bound to vfio-pci before QEMU starts" "vfio-pci vfio-pci" "$(driver $stand_in) $(override $stand_in)"
lacks "hook prepare: no libvirt call (it would deadlock)" "libvirt|connect" "$err"
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f release
is "hook release with on_stop: release: back on e1000e" "0 e1000e (null)" "$rc $(driver $stand_in) $(override $stand_in)"
HOOK_V=1 hook "<domain><name>x" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f prepare
has "hook with XML it cannot read: says so (-v: stderr too)" "cannot read the domain XML on stdin: .*going by the name alone" "$err"
is "hook with XML it cannot read: the file names the title, not seen: nothing done" "0 e1000e" "$rc $(driver $stand_in)"
(exec 9>"$tmp/lock" && flock 9 && exec sleep 30) &
holder=$!   # the sleep itself holds the lock
sleep 0.3
fake_log_mark=$(fake_log | wc -l)
HOOK_V=1 hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f prepare
is "hook prepare with the lock busy 5 s: exit 0, no write without the lock" "0 e1000e $fake_log_mark" \
	"$rc $(driver $stand_in) $(fake_log | wc -l)"
has "hook prepare with the lock busy: the worker takes over" "a detached apply --vm takes over" "$err"
kill $holder
wait $holder 2>/dev/null
wait_worker
ctl fail $stand_in unbind EBUSY
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f prepare
is "hook prepare with EBUSY: still exit 0 (never fails a VM start)" 0 "$rc"
has "hook prepare with EBUSY: the error is said" "unbind from e1000e failed: .*Device or resource busy" "$err"
printf 'version: 2\n' >"$tmp/hooked.yaml"
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f prepare
is "hook with a broken file: exit 0" 0 "$rc"
has "hook with a broken file: names file:line:col" "hooked.yaml:1:[0-9]+: " "$err"

echo "# the hook's release (on_stop: release): the same pass, the same answers"
config hooked "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", vm: frigate_VM, on_stop: release }"
start_fake default
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f prepare
ctl kill-on $stand_in override
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f release
is "hook release killed after clearing the override: on no driver" "137 none (null)" \
	"$rc $(driver $stand_in) $(override $stand_in)"
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f release
is "hook release again: probes, back on e1000e" "0 e1000e" "$rc $(driver $stand_in)"
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f prepare
ctl unload e1000e
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f release
is "hook release, no host driver: exit 0 (never fails libvirt), the one line" \
	"0 passthrough: 'tpu-standin' $stand_in: no host driver claims it (probed); load its driver or set on_stop: keep" "$rc $err"
writes=$(fake_log | wc -l)
hook "$frigate_xml" 5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f release
is "hook release again: the same line, not probed again" \
	"passthrough: 'tpu-standin' $stand_in: no host driver claims it (probed); load its driver or set on_stop: keep $writes" \
	"$err $(fake_log | wc -l)"

# --- issue 15: power, reset, health and recovery on real hardware's faults ---------------
rp_nic=0000:01:00.0 rp=0000:00:05.0
uuid=5f0c7a52-8d1e-4c9b-9a57-1b2f3c4d5e6f
frigate_stopped="<domain type='kvm'><name>$uuid</name><uuid>$uuid</uuid><title>frigate_VM</title><devices/></domain>"
# hook_run CONFIG OP: libvirt's hook for frigate_VM (the file names it by its UUID name, so
# the hook acts itself) with CONFIG; sets out, err, rc.
hook_run() {
	(printf '%s' "$frigate_stopped" | PATH="$tmp/bin:$PATH" "$BIN" hook "$uuid" "$2" - - -c "$tmp/$1.yaml" --state-dir "$tmp/state" \
		--sysfs-root "$mnt" --proc-root tests/fixtures/proc/default --connect test:///nonexistent \
		--lock-file "$tmp/lock" ${HOOK_V:+-v} >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
	rc=$?
	out=$(cat "$tmp/out") err=$(cat "$tmp/err")
}
attr() { cat "$mnt/bus/pci/devices/$1/$2" 2>&1; }
# log_since MARK: the fake's log lines after the first MARK ones
log_since() { fake_log | tail -n +$(($1 + 1)); }
lines() { printf '%s' "$1" | grep -c .; }
again="the next run tries again ('passthrough status' shows where it stands)"

echo "# Linux 4.4 (DSM 7.2): no power_state, reset_method or iommu_groups/N/type; apply, status and devices work and say unknown"
start_fake default --profile linux-4.4
is "linux-4.4: the attributes are absent" "no no no yes yes" \
	"$([ -e "$mnt/bus/pci/devices/$stand_in/power_state" ] && echo yes || echo no) $([ -e "$mnt/bus/pci/devices/$stand_in/reset_method" ] && echo yes || echo no) $([ -e "$mnt/kernel/iommu_groups/1/type" ] && echo yes || echo no) $([ -e "$mnt/bus/pci/devices/$stand_in/reset" ] && echo yes || echo no) $([ -e "$mnt/bus/pci/devices/$stand_in/d3cold_allowed" ] && echo yes || echo no)"
apply bound
is "linux-4.4: apply: exit 0, silent, on vfio-pci" "0  vfio-pci" "$rc $out$err $(driver $stand_in)"
is "linux-4.4: apply: the writes" "driver_override $stand_in vfio-pci = 0
unbind e1000e $stand_in = 0
probe $stand_in = 0" "$(fake_log)"
is "linux-4.4: vfio-pci has no runtime PM there: power/control stays on" on "$(attr $stand_in power/control)"
look status bound
is "linux-4.4: status: exit 0, converged, nothing on stderr" "0 tpu-standin $stand_in: converged " \
	"$rc $(printf '%s\n' "$out" | head -n 1) $err"
look status bound --json
is "linux-4.4: status --json: exit 0" "0 " "$rc $err"
has "linux-4.4: status --json: power state unknown (null), no reset methods known" '"power_state":null' "$out"
"$BIN" devices --sysfs-root "$mnt" >"$tmp/out" 2>"$tmp/err"
is "linux-4.4: devices: exit 0, nothing on stderr" "0 " "$? $(cat "$tmp/err")"
block=$(awk -v b="$stand_in" '$1 == b { p = 1; print; next } /^[0-9a-f]/ { p = 0 } p' "$tmp/out")
has "linux-4.4: devices: $stand_in's power state unknown" "power.*unknown" "$block"
has "linux-4.4: devices: $stand_in's reset methods unknown (it has a reset)" "reset.*unknown" "$block"
config pinned "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", state: bound, power: on }"
start_fake default --profile linux-4.4
apply pinned
is "linux-4.4: power: on: exit 0, silent" "0 " "$rc $out$err"
is "linux-4.4: power: on: only d3cold_allowed written (power/control is already on)" "driver_override $stand_in vfio-pci = 0
unbind e1000e $stand_in = 0
probe $stand_in = 0
d3cold_allowed $stand_in 0 = 0" "$(fake_log)"

echo "# a device whose config space reads all ones, recover: none: not hot-plugged, one line; the other device is bound"
config dead_none "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", vm: frigate_VM }
  nic2: { address: \"$nic2\", state: bound }"
start_fake default
ctl dead $stand_in
mark=$(fake_log | wc -l)
apply dead_none
is "dead, recover none: exit 1, one line naming the device and what to do" \
	"1 passthrough: 'tpu-standin' $stand_in: check that it answers failed: $stand_in does not answer (its config space reads ffff): not hot-plugged; set recover: rescan to have passthrough try a reset, remove and a rescan of its bus, or power-cycle the host; $again" \
	"$rc $err"
is "dead, recover none: left where it was (not bound, not attached)" "e1000e (null)" "$(driver $stand_in) $(override $stand_in)"
is "dead, recover none: the other device is on vfio-pci" vfio-pci "$(driver $nic2)"
is "dead, recover none: the writes: the other device's only" "driver_override $nic2 vfio-pci = 0
unbind e1000 $nic2 = 0
probe $nic2 = 0" "$(log_since "$mark")"
first=$err mark=$(fake_log | wc -l)
apply dead_none
is "dead, recover none: the next run: exit 1, the same line, no writes" "1 $first 0" "$rc $err $(log_since "$mark" | wc -l)"
"$BIN" doctor -c "$tmp/dead_none.yaml" --sysfs-root "$mnt" --proc-root tests/fixtures/proc/default \
	--connect "test://$repo/tests/fixtures/libvirt/frigate-running.xml" --lock-file "$tmp/lock" >"$tmp/out" 2>&1
has "dead, recover none: doctor says it does not answer" "tpu-standin.*$stand_in.*does not answer" "$(cat "$tmp/out")"

echo "# the VM stops and its device no longer answers, recover: rescan: a reset, remove, a rescan of its bus, bound again"
config dead_rescan "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", vm: \"$uuid\", recover: rescan }"
start_fake default
hook_run dead_rescan prepare
is "VM stop, dead: prepare bound it" "0 vfio-pci" "$rc $(driver $stand_in)"
ctl dead $stand_in
mark=$(fake_log | wc -l)
HOOK_V=1 hook_run dead_rescan release
is "VM stop, dead, recover rescan: exit 0, back on vfio-pci, its override set again" "0 vfio-pci vfio-pci" \
	"$rc $(driver $stand_in) $(override $stand_in)"
has "VM stop, dead, recover rescan: says what it tried" \
	"'tpu-standin' $stand_in: check that it answers \(recover it if not\): a reset failed; removed; back after a rescan of bus 0000:00 \([0-9]+ ms\); planning again" "$err"
is "VM stop, dead, recover rescan: the writes (the config read wakes it from D3hot; the reset fails: dead)" \
	"config read resumes $stand_in
reset $stand_in 1 = -25
removed $stand_in
remove $stand_in 1 = 0
added $stand_in on e1000e
rescan bus 0000:00 1 = 0
driver_override $stand_in vfio-pci = 0
unbind e1000e $stand_in = 0
probe $stand_in = 0" "$(log_since "$mark")"
is "VM stop, dead, recover rescan: its config answers now" "8086" "$(od -An -tx1 -N2 "$mnt/bus/pci/devices/$stand_in/config" | awk '{ print $2 $1 }')"

echo "# ... a device a reset revives: the reset is enough"
start_fake default
hook_run dead_rescan prepare
ctl dead $stand_in reset
mark=$(fake_log | wc -l)
HOOK_V=1 hook_run dead_rescan release
is "dead until a reset: exit 0, still on vfio-pci" "0 vfio-pci" "$rc $(driver $stand_in)"
has "dead until a reset: says so" "check that it answers \(recover it if not\): it answers again after a reset" "$err"
is "dead until a reset: the writes: the reset only (config read before and after it)" "config read resumes $stand_in
reset $stand_in 1 = 0
config read resumes $stand_in" "$(log_since "$mark")"

echo "# ... a device no rescan finds again: removed, the bus rescanned, an error after the wait"
start_fake default
hook_run dead_rescan prepare
ctl dead $stand_in never
mark=$(fake_log | wc -l)
t0=$(date +%s)
hook_run dead_rescan release
took=$(($(date +%s) - t0))
is "dead for good: exit 0 (the hook never fails), one line" "0 1" "$rc $(lines "$err")"
has "dead for good: the line says what was tried and what to do" \
	"'tpu-standin' $stand_in: check that it answers \(recover it if not\) failed: a reset failed; removed; rescanned bus 0000:00, but $stand_in did not come back and answer within 10 s; power-cycle the host" "$err"
is "dead for good: within the wait and a little (10 s + 3 s)" yes "$([ "$took" -le 13 ] && echo yes || echo "no, $took s")"
is "dead for good: the writes" "config read resumes $stand_in
reset $stand_in 1 = -25
removed $stand_in
remove $stand_in 1 = 0
rescan bus 0000:00 1 = 0" "$(log_since "$mark")"

echo "# ... recover: none: the one line, the device left on vfio-pci"
config dead_keep "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", vm: \"$uuid\" }"
start_fake default
hook_run dead_keep prepare
ctl dead $stand_in
mark=$(fake_log | wc -l)
hook_run dead_keep release
is "VM stop, dead, recover none: exit 0, one line" \
	"0 passthrough: 'tpu-standin' $stand_in: check that it answers failed: $stand_in does not answer (its config space reads ffff): not hot-plugged; set recover: rescan to have passthrough try a reset, remove and a rescan of its bus, or power-cycle the host; $again" \
	"$rc $err"
is "VM stop, dead, recover none: no writes (the config read woke it)" "config read resumes $stand_in" "$(log_since "$mark")"

echo "# a device that vanished (hot-removed) and comes back on a rescan of its bus"
config gone_rescan "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", state: bound, recover: rescan }"
config gone_none "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", state: bound }"
start_fake default
ctl vanish $stand_in
mark=$(fake_log | wc -l)
apply gone_none
is "vanished, recover none: exit 1, one line saying what to set" \
	"1 1" "$rc $(lines "$err")"
has "vanished, recover none: ... naming the device" "'tpu-standin'.*$stand_in.*; if it fell off the bus, set recover: rescan to have passthrough rescan its bus" "$err"
is "vanished, recover none: no writes" "" "$(log_since "$mark")"
apply gone_rescan -v
is "vanished, recover rescan: exit 0, on vfio-pci" "0 vfio-pci" "$rc $(driver $stand_in)"
has "vanished, recover rescan: says it is back" "'tpu-standin' $stand_in: rescan its bus until it is back: back after a rescan of bus 0000:00" "$err"
is "vanished, recover rescan: the writes" "added $stand_in on e1000e
rescan bus 0000:00 1 = 0
driver_override $stand_in vfio-pci = 0
unbind e1000e $stand_in = 0
probe $stand_in = 0" "$(log_since "$mark")"
apply gone_rescan
is "vanished, recover rescan: the next run is quiet" "0 " "$rc $out$err"

echo "# ... behind a root port: only its bus (0000:01) is rescanned"
config rp_rescan "version: 1
devices:
  nic-rp: { address: \"$rp_nic\", state: bound, recover: rescan }"
start_fake default
ctl vanish $rp_nic
mark=$(fake_log | wc -l)
apply rp_rescan
is "behind a root port: exit 0, on vfio-pci" "0 vfio-pci" "$rc $(driver $rp_nic)"
is "behind a root port: the writes" "added $rp_nic on e1000e
rescan bus 0000:01 1 = 0
driver_override $rp_nic vfio-pci = 0
unbind e1000e $rp_nic = 0
probe $rp_nic = 0" "$(log_since "$mark")"
start_fake default
ctl vanish $rp
mark=$(fake_log | wc -l)
apply rp_rescan
is "its root port gone too: exit 1, one line" "1 1" "$rc $(lines "$err")"
has "its root port gone too: the line says the bus is gone" \
	"'nic-rp' $rp_nic: .*$rp_nic is gone and so is its bus 0000:01 \(the bridge above it went too\)" "$err"
is "its root port gone too: no writes" "" "$(log_since "$mark")"

echo "# ... in PCI domain 10000 (behind VMD): the bus is 10000:e2"
config vmd_rescan "version: 1
devices:
  ssd2: { address: \"10000:e2:00.0\", state: bound, recover: rescan }"
start_fake vmd
ctl vanish 10000:e2:00.0
mark=$(fake_log | wc -l)
apply vmd_rescan
is "domain 10000: exit 0, on vfio-pci" "0 vfio-pci" "$rc $(driver 10000:e2:00.0)"
has "domain 10000: its bus rescanned by its five-digit name" "^rescan bus 10000:e2 1 = 0" "$(log_since "$mark")"

echo "# reset: before_attach, and the reset fails (ENOTTY, EIO): not hot-plugged, one line; the other device is bound"
config reset_attach "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", vm: frigate_VM, reset: before_attach }
  nic2: { address: \"$nic2\", state: bound }"
for e in "ENOTTY Inappropriate ioctl for device -25" "EIO Input/output error -5"; do
	name=${e%% *} msg=${e#* } rcode=${e##* }
	msg=${msg% *}
	start_fake default
	ctl reset-fail $stand_in "$name"
	apply reset_attach
	is "reset fails with $name: exit 1, one line" \
		"1 passthrough: 'tpu-standin' $stand_in: reset the function failed: cannot write '$mnt/bus/pci/devices/$stand_in/reset': $msg; $again" \
		"$rc $err"
	is "reset fails with $name: bound, not attached; the other device bound" "vfio-pci vfio-pci" "$(driver $stand_in) $(driver $nic2)"
	is "reset fails with $name: the writes" "driver_override $stand_in vfio-pci = 0
unbind e1000e $stand_in = 0
probe $stand_in = 0
reset $stand_in 1 = $rcode
driver_override $nic2 vfio-pci = 0
unbind e1000 $nic2 = 0
probe $nic2 = 0" "$(fake_log | grep -v '^control ')"
done
config reset_none "version: 1
devices:
  nic2: { address: \"$nic2\", vm: frigate_VM, reset: before_attach }"
start_fake default
apply reset_none
is "reset: before_attach on a device with no reset (e1000): exit 1, one line, no writes" "1 1 0" \
	"$rc $(lines "$err") $(fake_log | wc -l | tr -d ' ')"
has "... the line says so" "'nic2' $nic2: reset: before_attach, but the kernel has no reset method for it \(no 'reset' attribute\)" "$err"

echo "# D3cold, and power: on"
config idle "version: 1
devices:
  tpu-standin: { address: \"$stand_in\", state: bound }"
start_fake default
apply idle
is "idle on vfio-pci: power/control auto, D3hot" "auto D3hot" "$(attr $stand_in power/control) $(attr $stand_in power_state)"
mark=$(fake_log | wc -l)
apply idle
is "idle on vfio-pci: a converged pass reads no config (nothing woken) and writes nothing" "0 " "$rc $(log_since "$mark")"
ctl d3cold $stand_in
is "d3cold: in D3cold" D3cold "$(attr $stand_in power_state)"
mark=$(fake_log | wc -l)
apply pinned
is "D3cold, power: on: exit 0, silent" "0 " "$rc $out$err"
is "D3cold, power: on: in D0, pinned" "D0 on 0" "$(attr $stand_in power_state) $(attr $stand_in power/control) $(attr $stand_in d3cold_allowed)"
is "D3cold, power: on: the writes" "power/control $stand_in on = 0
d3cold_allowed $stand_in 0 = 0" "$(log_since "$mark")"
is "D3cold, power: on: the kernel refuses D3cold now" "Device or resource busy" \
	"$( (echo "d3cold $stand_in" >"$mnt/fakesys-control") 2>&1 | sed 's/.*: //')"
mark=$(fake_log | wc -l)
apply pinned
is "power: on: the next run writes nothing" "0 " "$rc $(log_since "$mark")"
mark=$(fake_log | wc -l)
apply idle
is "power: on taken out: exit 0, silent" "0 " "$rc $out$err"
is "power: on taken out: the kernel's values back (auto, 1), D3hot again" "auto 1 D3hot" \
	"$(attr $stand_in power/control) $(attr $stand_in d3cold_allowed) $(attr $stand_in power_state)"
is "power: on taken out: the writes" "power/control $stand_in auto = 0
d3cold_allowed $stand_in 1 = 0" "$(log_since "$mark")"
start_fake default
mark=$(fake_log | wc -l)
apply pinned
is "power: on with the bind in the same pass: exit 0, D0" "0 D0" "$rc $(attr $stand_in power_state)"
is "power: on with the bind: the writes" "driver_override $stand_in vfio-pci = 0
unbind e1000e $stand_in = 0
probe $stand_in = 0
power/control $stand_in on = 0
d3cold_allowed $stand_in 0 = 0" "$(log_since "$mark")"

echo "# ... D3cold when its VM stops: the check's config read wakes it; when it is dead too, the one line"
start_fake default
hook_run dead_keep prepare
ctl d3cold $stand_in
mark=$(fake_log | wc -l)
hook_run dead_keep release
is "VM stop in D3cold: exit 0, silent, woken (back in D3hot: idle)" "0  D3hot" "$rc $out$err $(attr $stand_in power_state)"
is "VM stop in D3cold: the writes: none, one config read" "config read resumes $stand_in" "$(log_since "$mark")"
ctl d3cold $stand_in
ctl dead $stand_in
hook_run dead_keep release
is "VM stop in D3cold, dead: the one line, still D3cold" "0 1 D3cold" "$rc $(lines "$err") $(attr $stand_in power_state)"
has "VM stop in D3cold, dead: it does not answer" "'tpu-standin' $stand_in: check that it answers failed: $stand_in does not answer" "$err"

echo "# vfio_pci: { disable_idle_d3 }: modprobe's parameter, the value in force known from the journal, a reload only when nothing holds vfio-pci"
# fake_modprobe: a stand-in that loads and unloads the fake's vfio-pci through its control file
fake_modprobe() {
	cat >"$tmp/bin/modprobe" <<MP
#!/bin/sh
echo "\$*" >>"$tmp/modprobe.args"
if [ "\$1" = -r ]; then
	echo "unload \$2" 2>/dev/null >"$mnt/fakesys-control" || { echo "modprobe: FATAL: Module \$2 is in use." >&2; exit 1; }
else
	echo "load \$*" >"$mnt/fakesys-control" || exit 1
fi
MP
	chmod +x "$tmp/bin/modprobe"
	rm -f "$tmp/modprobe.args"
}
config idle_off "version: 1
vfio_pci: { disable_idle_d3: true }
devices:
  tpu-standin: { address: \"$stand_in\", state: bound }"
start_fake default
fake_modprobe
ctl unload vfio-pci
apply idle_off
is "disable_idle_d3, vfio-pci not loaded: exit 0, modprobe's argv" "0 vfio-pci disable_idle_d3=1" "$rc $(cat "$tmp/modprobe.args")"
is "disable_idle_d3, vfio-pci not loaded: on vfio-pci, idle in D0" "vfio-pci D0" "$(driver $stand_in) $(attr $stand_in power_state)"
apply idle_off
is "disable_idle_d3: the next run knows the value in force: quiet, no modprobe" "0  1" "$rc $out$err $(wc -l <"$tmp/modprobe.args")"
start_fake default
fake_modprobe
apply bound
ctl open $stand_in
look plan idle_off
has "disable_idle_d3, vfio-pci loaded by someone else and a vfio device open: the plan says it waits for the next load" \
	"disable_idle_d3=Y is declared, but which value is in force is not known .*a vfio device is open \(module refcnt 1\)" "$out"
apply idle_off
is "... apply: exit 0, no modprobe" "0 no" "$rc $([ -e "$tmp/modprobe.args" ] && echo yes || echo no)"
ctl close $stand_in
mark=$(fake_log | wc -l)
apply idle_off
is "disable_idle_d3, nothing holds vfio-pci: reloaded with the parameter: exit 0" \
	"0 -r vfio-pci
vfio-pci disable_idle_d3=1" "$rc $(cat "$tmp/modprobe.args")"
is "... bound again, in D0 now" "vfio-pci D0" "$(driver $stand_in) $(attr $stand_in power_state)"
is "... the writes: the reload (the load binds it again: its override names vfio-pci)" "control unload vfio-pci = 0
control load vfio-pci disable_idle_d3=1 = 0" "$(log_since "$mark")"
ctl unload vfio-pci
ctl load vfio-pci
look plan idle_off
has "vfio-pci loaded again by someone else (a new module inode): which value is in force is unknown again" \
	"unload module vfio-pci" "$out"
no_modprobe

echo "# state.json, the notifier and the metrics across a failure and its recovery"
# notify-rec: each call's stdin to $tmp/notified/N.json, its environment and argument to one line of log
cat >"$tmp/notify-rec" <<NOTIFIER
#!/bin/sh
mkdir -p "$tmp/notified"
n=\$(ls "$tmp/notified" | grep -c json)
cat >"$tmp/notified/\$n.json"
echo "\$PASSTHROUGH_EVENT \$PASSTHROUGH_DEVICE \$PASSTHROUGH_FAILURES \$1" >>"$tmp/notified/log"
NOTIFIER
chmod +x "$tmp/notify-rec"
# notified N: waits up to 3 s until the notifier ran N times in all, then a moment for one more
notified() {
	for _ in $(seq 30); do [ "$(grep -c . "$tmp/notified/log" 2>/dev/null)" -ge "$1" ] && break; sleep 0.1; done
	sleep 0.3
	grep -c . "$tmp/notified/log" 2>/dev/null || echo 0
}
config notified "version: 1
notify: { command: [\"$tmp/notify-rec\", from-the-file], on: [failure, recovery] }
metrics_file: $tmp/metrics.prom
devices:
  tpu-standin: { address: \"$stand_in\", state: bound }"
start_fake default
rm -rf "$tmp/notified" "$tmp/metrics.prom"
ctl fail $stand_in unbind EBUSY 1
apply notified
is "history: the failing pass exits 1" 1 "$rc"
is "history: the first failure is told once" 1 "$(notified 1)"
is "history: ... with its event, device, failures and argument" "failure tpu-standin 1 from-the-file" "$(cat "$tmp/notified/log")"
has "history: ... and the event as JSON on stdin" '^\{"event": "failure", "device": "tpu-standin", "host": ".+", "time": "[0-9T:-]+Z", "time_unix": [0-9]+, "message": "'"'"'tpu-standin'"'"' failed: unbind failed: cannot write .*Device or resource busy", "error": "unbind failed: .*", "error_at": [0-9]+, "failures": 1, ' "$(cat "$tmp/notified/0.json")"
has "history: state.json says failing, 1 in a row, and the error" '"tpu-standin": \{"converged": false, "since": [0-9]+, "last_change": null, "last_change_at": null, "last_error": "unbind failed: cannot write .*busy", "last_error_at": [0-9]+, "failures": 1,' "$(cat "$tmp/state/state.json")"
look status notified
has "history: status shows it failing, with the last error and its time" "    history:  failing since [0-9]+ s \(last pass [0-9]+ s ago\)
    error:    last error [0-9]{2}:[0-9]{2}: unbind failed: .*busy \(1 pass in a row\)" "$out"
has "history: the metrics say not converged" 'passthrough_device_converged\{device="tpu-standin"\} 0' "$(cat "$tmp/metrics.prom")"
apply notified
is "history: the next pass converges" "0 vfio-pci" "$rc $(driver $stand_in)"
is "history: the recovery is told once" 2 "$(notified 2)"
is "history: ... as a recovery after 1 failed pass" "recovery tpu-standin 1 from-the-file" "$(tail -n 1 "$tmp/notified/log")"
has "history: ... its JSON says what changed" '"event": "recovery", "device": "tpu-standin", .*"message": "'"'"'tpu-standin'"'"' recovered after 1 failed pass: bound to vfio-pci"' "$(cat "$tmp/notified/1.json")"
has "history: state.json says converged, 0 in a row, the change, the old error kept" '"tpu-standin": \{"converged": true, "since": [0-9]+, "last_change": "bound to vfio-pci", "last_change_at": [0-9]+, "last_error": "unbind failed: .*", "last_error_at": [0-9]+, "failures": 0, "last_success": [0-9]+, "driver": "vfio-pci"' "$(cat "$tmp/state/state.json")"
look status notified --json
has "history: status --json carries it" '"history":\{"converged":true,"since":[0-9]+,"last_change":"bound to vfio-pci","last_change_at":[0-9]+,"last_error":"unbind failed: [^"]*","last_error_at":[0-9]+,"failures":0,"last_success":[0-9]+,"checked":[0-9]+\}' "$out"
apply notified
apply notified
is "history: converged passes tell nothing" "0 2" "$rc $(notified 3)"
m=$(grep -v '^#' "$tmp/metrics.prom")
has "metrics: converged" 'passthrough_device_converged\{device="tpu-standin"\} 1' "$m"
has "metrics: on vfio-pci" 'passthrough_device_vfio_pci\{device="tpu-standin"\} 1' "$m"
has "metrics: no failures" 'passthrough_device_consecutive_failures\{device="tpu-standin"\} 0' "$m"
has "metrics: the run's time" 'passthrough_last_run_timestamp_seconds [0-9]+' "$m"
has "metrics: the run's duration" 'passthrough_last_run_duration_seconds [0-9]+\.[0-9]{3}' "$m"
if command -v promtool >/dev/null; then
	is "metrics: promtool check metrics finds nothing" "0" "$(promtool check metrics <"$tmp/metrics.prom" 2>&1; echo "$?")"
fi
apply notified --metrics-file "$tmp/metrics2.prom"
is "metrics: --metrics-file writes there" yes "$([ -s "$tmp/metrics2.prom" ] && echo yes)"

echo "# a corrupt state.json: one warning, rebuilt"
echo '{"version": 1, "devices": {"tpu-standin": {"converged": "maybe"' >"$tmp/state/state.json"
apply notified
is "corrupt: the pass still converges, with one warning line" "0 passthrough: warning: '$tmp/state/state.json' is not a state file of this version; rebuilt from what this pass saw" "$rc $err"
apply notified
is "corrupt: rebuilt: the next pass says nothing" "0 " "$rc $err"
has "corrupt: rebuilt from what the pass saw" '"tpu-standin": \{"converged": true' "$(cat "$tmp/state/state.json")"

if command -v strace >/dev/null; then
	echo "# a pass killed while writing state.json (at its rename): the old file stays whole"
	cp "$tmp/state/state.json" "$tmp/state.before"
	sleep 1   # the next pass's file differs (its time)
	(PATH="$tmp/bin:$PATH" strace -f -o /dev/null -P "$tmp/state/state.json.tmp" -e trace=rename,renameat,renameat2 \
		-e inject=rename,renameat,renameat2:signal=KILL "$BIN" apply -c "$tmp/notified.yaml" --sysfs-root "$mnt" \
		--proc-root tests/fixtures/proc/default --connect "test://$repo/tests/fixtures/libvirt/frigate-running.xml" \
		--lock-file "$tmp/lock" --state-dir "$tmp/state" >/dev/null 2>&1; exit $?) 2>/dev/null
	rc=$?
	is "killed write: the run died" yes "$([ "$rc" -ne 0 ] && echo yes || echo "no, $rc")"
	is "killed write: state.json is the old one, byte for byte" same "$(cmp -s "$tmp/state.before" "$tmp/state/state.json" && echo same)"
	is "killed write: the new one was in the temporary beside it" yes "$([ -s "$tmp/state/state.json.tmp" ] && echo yes)"
	apply notified
	is "killed write: the next pass reads it without a warning" "0 " "$rc $err"
	is "killed write: ... and writes anew through the temporary, gone now" "no yes" \
		"$([ -e "$tmp/state/state.json.tmp" ] && echo yes || echo no) $(cmp -s "$tmp/state.before" "$tmp/state/state.json" || echo yes)"
fi

echo "# a notifier that hangs is killed at its bound; one that fails never fails the run"
cat >"$tmp/notify-hang" <<NOTIFIER
#!/bin/sh
echo \$\$ >"$tmp/hang.pid"
sleep 30 &
echo \$! >"$tmp/hang-child.pid"
wait
NOTIFIER
chmod +x "$tmp/notify-hang"
config hang "version: 1
notify: { command: [\"$tmp/notify-hang\"], timeout: 1 }
devices:
  tpu-standin: { address: \"$stand_in\", state: bound }"
start_fake default
rm -f "$tmp/hang.pid" "$tmp/hang-child.pid"
ctl fail $stand_in unbind EBUSY 1
t0=$(date +%s%N)
apply hang
took=$((($(date +%s%N) - t0) / 1000000))
is "hanging notifier: the pass does not wait for it (exit 1 for the device, under 1 s)" "1 yes" "$rc $([ "$took" -lt 1000 ] && echo yes || echo "no, $took ms")"
for _ in $(seq 20); do [ -s "$tmp/hang-child.pid" ] && break; sleep 0.1; done
is "hanging notifier: it started" yes "$([ -s "$tmp/hang-child.pid" ] && kill -0 "$(cat "$tmp/hang-child.pid")" 2>/dev/null && echo yes)"
sleep 1.8
# alive PID: running, neither gone nor a zombie (init reaps those when it gets to it)
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null && echo alive || echo gone; }
is "hanging notifier: killed at its bound (1 s), its own child too" "gone gone" \
	"$(alive "$(cat "$tmp/hang.pid")") $(alive "$(cat "$tmp/hang-child.pid")")"
config failing "version: 1
notify: { command: [\"$tmp/no-such-notifier\"] }
devices:
  tpu-standin: { address: \"$stand_in\", state: bound }"
start_fake default
ctl fail $stand_in unbind EBUSY 1
apply failing
is "failing notifier: the run's outcome is the device's alone (one error line)" "1 1" "$rc $(printf '%s\n' "$err" | grep -c .)"
apply failing
is "failing notifier: the recovery pass exits 0, silently" "0 " "$rc $err"

. tests/fake/watch.sh

echo "1..$n"
