#!/bin/bash
# The DSM bundle's binary (unpacked from the make dist tarball, not ./passthrough) on the real kernel and libvirtd: --version names the guest's libvirt library and daemon, the bundle's installer wires it (systemd layout), and its installed copy hot-plugs the stand-in into the nested VM; the installer's --uninstall takes it back.
# bed-tier: 3
# bed-timeout: 420
set -eu
. tests/bed/lib.sh

version=$(sed -n 's/^VERSION *= *//p' Makefile)
tarball=passthrough-$version-dsm7.2-x86_64.tar.gz
[ -f "$tarball" ] || skip "no $tarball (make dist)"
coral=0000:00:02.0
id=8086:10d3
mkdir -p /tmp/bundle
tar -xzf "$tarball" -C /tmp/bundle
b=/tmp/bundle/passthrough-$version-dsm7.2-x86_64
cmp -s "$b/bin/passthrough" ./passthrough && fail "the bundle's binary is not the build tree's" "different files" "the same"

start_libvirtd
capture "$b/bin/passthrough" --version
expect_eq "--version exit status" 0 "$rc"
lib=$(virsh version | sed -n 's/^Using library: libvirt \([0-9.]*\)$/\1/p')
daemon=$(virsh version --daemon | sed -n 's/^Running against daemon: \([0-9.]*\)$/\1/p')
expect_match "--version: the library loaded" "^libvirt library: $lib from '[^']*libvirt\.so\.0'" "$(printf '%s\n' "$out" | sed -n 2p)"
expect_eq "--version: the daemon" "libvirt daemon: $daemon at 'qemu:///system'" "$(printf '%s\n' "$out" | sed -n 3p)"

log "the bundle's installer (systemd layout: this guest has no DSM)"
install -m 600 examples/test-bed.yaml /etc/passthrough.yaml
capture sh "$b/install.sh" --systemd
expect_eq "install.sh exit status" 0 "$rc"
expect_ok "the installed binary is the bundle's" cmp "$b/bin/passthrough" /usr/local/sbin/passthrough
expect_file /etc/libvirt/hooks/qemu "the hook"
expect_file /usr/local/share/man/man8/passthrough.8 "the man page"
expect_match "install.sh runs doctor: install intact" "PASS  install " "$out"
expect_match "install.sh runs doctor: libvirt reachable" "PASS  libvirt " "$out"

define_and_start_nested
_nested_lacks $id || fail "nested guest before apply" "no $id" "$(nested_pci_list)"
t0=$(date +%s%N)
# The bundle's binary reads /usr/local/etc/passthrough.yaml by default (DSM rebuilds /etc);
# on this systemd layout its units and hook name /etc/passthrough.yaml, and so do these runs.
capture /usr/local/sbin/passthrough apply -v
expect_eq "apply (the bundle's binary, no -c) exit status" 1 "$rc"
expect_match "apply with no -c: the DSM default" "cannot open '/usr/local/etc/passthrough.yaml'" "$out"
capture /usr/local/sbin/passthrough -c /etc/passthrough.yaml apply -v
expect_eq "apply (the bundle's binary) exit status" 0 "$rc"
expect_match "apply attaches" "attach to frigate_VM \(live\)" "$out"
wait_nested_sees $id 60
log "apply start to the device seen inside the nested guest: $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "driver of $coral" vfio-pci "$(pci_driver $coral)"
expect_ok "live XML lists $coral" live_xml_has_hostdev $coral
capture /usr/local/sbin/passthrough -c /etc/passthrough.yaml plan --detailed-exitcode
expect_eq "plan --detailed-exitcode after apply" 0 "$rc"

capture sh "$b/install.sh" --systemd --uninstall
expect_eq "install.sh --uninstall exit status" 0 "$rc"
expect_no_file /usr/local/sbin/passthrough "uninstall: the binary"
expect_no_file /usr/local/share/man/man8/passthrough.8 "uninstall: the man page"
expect_no_file /usr/local/share/doc/passthrough/bundle-files "uninstall: the list of copied files"
log "PASS"
