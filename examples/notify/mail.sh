#!/bin/sh
# mail.sh: a passthrough notifier that mails the event (its message, and the event's JSON) through sendmail.
#   notify: { command: [/usr/local/bin/passthrough-mail, admin@example.org] }
# Any MTA that provides /usr/sbin/sendmail will do (exim4, postfix, msmtp-mta, DSM's own).
set -eu
to=${1:?usage: mail.sh ADDRESS}
json=$(cat)
{
	printf 'To: %s\nSubject: passthrough on %s: %s %s\nContent-Type: text/plain; charset=utf-8\n\n' \
		"$to" "$PASSTHROUGH_HOST" "$PASSTHROUGH_DEVICE" "$PASSTHROUGH_EVENT"
	printf '%s\n\nat %s\n\n%s\n' "$PASSTHROUGH_MESSAGE" "$PASSTHROUGH_TIME" "$json"
} | /usr/sbin/sendmail -oi -- "$to"
