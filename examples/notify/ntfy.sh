#!/bin/sh
# ntfy.sh: a passthrough notifier that posts the event to an ntfy topic with curl.
#   notify: { command: [/usr/local/bin/passthrough-ntfy, https://ntfy.sh/my-nas-alerts] }
# passthrough runs it without a shell, with PASSTHROUGH_* set and the event as JSON on stdin.
# A token for a protected topic: put NTFY_TOKEN=... in /usr/local/etc/passthrough-ntfy.env (mode 600).
set -eu
url=${1:?usage: ntfy.sh https://ntfy.example/topic}
[ ! -r /usr/local/etc/passthrough-ntfy.env ] || . /usr/local/etc/passthrough-ntfy.env
if [ "$PASSTHROUGH_EVENT" = failure ]; then prio=high tags=warning; else prio=default tags=white_check_mark; fi
exec curl -fsS --max-time 8 -o /dev/null \
	-H "Title: passthrough on $PASSTHROUGH_HOST: $PASSTHROUGH_DEVICE $PASSTHROUGH_EVENT" \
	-H "Priority: $prio" -H "Tags: $tags" \
	${NTFY_TOKEN:+-H "Authorization: Bearer $NTFY_TOKEN"} \
	--data-binary "$PASSTHROUGH_MESSAGE" "$url"
