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
	rm -rf "$tmp/back" "$mnt"
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
		--lock-file "$tmp/lock" "$@" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
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
		--lock-file "$tmp/lock" "$@" >"$tmp/out" 2>"$tmp/err"
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

echo "# the fake agrees with the kernel's binding semantics (the same script passes on the real kernel in bed-basics)"
start_fake default
tests/fake/semantics.sh "$mnt" "$nic2" e1000 >"$tmp/sem" 2>&1
is "tests/fake/semantics.sh on the fake: exit status, plan line, failures" "0 1..25 " \
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
		-e inject=openat:signal=KILL "$BIN" apply -c "$tmp/released.yaml" --sysfs-root "$mnt" \
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
	"\"problems\":\[\{\"kind\":\"no_host_driver\",\"entry\":\"tpu-standin\",\"address\":\"$stand_in\"" "$out"
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
	(printf '%s' "$1" | PATH="$tmp/bin:$PATH" "$BIN" hook "$2" "$3" - - -c "$tmp/hooked.yaml" \
		--sysfs-root "$mnt" --proc-root tests/fixtures/proc/default --connect test:///nonexistent \
		--lock-file "$tmp/lock" ${HOOK_V:+-v} >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
	rc=$?
	out=$(cat "$tmp/out") err=$(cat "$tmp/err")
}
# wait_worker: the detached worker a hook started (libvirt unreachable here) must be gone first
wait_worker() {
	for i in $(seq 100); do pgrep -f "apply -c $tmp/hooked.yaml" >/dev/null || break; sleep 0.1; done
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

. tests/fake/watch.sh

echo "1..$n"
