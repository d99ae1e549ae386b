#!/bin/sh
# /init of the test-bed guest: loads modules, builds a chroot of the host root (9p, read-only) under a tmpfs overlay, runs tests/bed/guest-run.sh in it and powers off.
#
# The host's per-run work folder arrives over 9p as tag "work" and is mounted
# at /bed-work inside the chroot; it holds "env" (written by run.sh, naming
# BED_REPO, the repository's path on the host and so in the chroot) and
# receives "rc" and "output.log".  This file runs as PID 1 under busybox.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ln -s /proc/self/fd /dev/fd
ln -s fd/0 /dev/stdin
ln -s fd/1 /dev/stdout
ln -s fd/2 /dev/stderr

say() { echo "bed-init: $*"; }
die() {
	say "$*"
	echo "BED-RESULT init-failed"
	sync
	poweroff -f
}

while read -r m; do
	insmod "/modules/$m" 2>/tmp/insmod.err || say "insmod $m: $(cat /tmp/insmod.err)"
done </modules/order

mkdir -p /lower /rw /newroot /share
o=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$o,ro,cache=loose" hostroot /lower || die "cannot mount the host root (9p tag hostroot)"
mount -t 9p -o "$o" work /share || die "cannot mount the work share (9p tag work)"
mount -t tmpfs -o mode=755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
	die "cannot mount the overlay"

r=/newroot
mkdir -p $r/bed-work $r/proc $r/sys $r/dev $r/run $r/tmp
mount -o bind /share $r/bed-work
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -o bind /dev $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
mount -t tmpfs -o mode=755 tmpfs $r/run
mount -t tmpfs -o mode=1777 tmpfs $r/tmp
mkdir -p $r/run/lock

[ -r /share/env ] || die "no env file in the work share"
# shellcheck source=/dev/null
. /share/env
# A checkout under /tmp or /run (CI clones anywhere) is hidden by the tmpfs mounts above:
# bind the host's read-only view of it back in.
case $BED_REPO in
/tmp/* | /run/*)
	mkdir -p "$r$BED_REPO"
	mount -o bind "/lower$BED_REPO" "$r$BED_REPO" || die "cannot bind $BED_REPO into the guest"
	;;
esac
chroot $r /bin/bash "$BED_REPO/tests/bed/guest-run.sh"
rc=$?
echo "$rc" >/share/rc
echo "BED-RESULT $rc"
sync
poweroff -f
