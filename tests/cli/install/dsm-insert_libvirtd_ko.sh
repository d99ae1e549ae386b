#!/bin/sh
# passthrough begin: re-create the libvirt hook and bind the declared devices before libvirtd starts ('passthrough uninstall' removes these lines)
[ ! -x /usr/local/bin/passthrough ] || /usr/local/bin/passthrough install --dsm --repair --quiet -c /usr/local/etc/passthrough.yaml --lock-file /run/passthrough.lock || :
[ ! -x /usr/local/bin/passthrough ] || /usr/local/bin/passthrough apply --host-only --quiet -c /usr/local/etc/passthrough.yaml --lock-file /run/passthrough.lock || :
# passthrough end
set -e
# load the modules VMM needs
insmod /lib/modules/kvm.ko
exit 0
