#!/bin/sh
# synodsmnotify.sh: a passthrough notifier for Synology DSM: a desktop notification in DSM's web UI for the administrators group.
#   notify: { command: [/usr/local/bin/passthrough-dsm-notify] }
# synodsmnotify ships with DSM (/usr/syno/bin/synodsmnotify): GROUP TITLE MESSAGE.
set -eu
exec /usr/syno/bin/synodsmnotify @administrators "passthrough: $PASSTHROUGH_DEVICE $PASSTHROUGH_EVENT" \
	"$PASSTHROUGH_MESSAGE ($PASSTHROUGH_TIME)"
