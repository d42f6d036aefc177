#!/usr/bin/env bash
# The Postfix the relay is measured against: a relay on 127.0.0.1:2700 that passes
# mail on to 127.0.0.1:2600 (the benchmark's smtp-sink) and copies three people
# on every message to "<n>cust@example.com" (recipient_bcc_maps and a virtual
# alias expanding the one BCC address into three): what a business runs today
# to copy the right people, without a directory.
#
#   sudo bash tests/bench/postfix_peer.sh     # installs Postfix with apt-get if missing
set -euo pipefail
if ! command -v postfix >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix) >/dev/null
fi
cd /etc/postfix
[ -f main.cf ] || cp main.cf.proto main.cf
postconf -X mailq_path newaliases_path sendmail_path html_directory manpage_directory readme_directory \
  sample_directory debugger_command 2>/dev/null || true
postconf -e "compatibility_level=3.6" "inet_interfaces=loopback-only" "inet_protocols=ipv4" \
  "mydestination=" "relayhost=[127.0.0.1]:2600" "mynetworks=127.0.0.0/8" \
  "smtpd_relay_restrictions=permit_mynetworks, reject" "setgid_group=postdrop" \
  "recipient_bcc_maps=regexp:/etc/postfix/bcc" "virtual_alias_maps=regexp:/etc/postfix/virtual_re" \
  "maillog_file=/var/log/postfix.log" "myhostname=relay.localdomain" \
  "smtp_destination_concurrency_limit=20" "default_process_limit=100" "alias_maps=" "alias_database="
postconf -Me "127.0.0.1:2700/inet=127.0.0.1:2700 inet n - y - - smtpd"
printf '/^([0-9]+)cust@example\\.com$/ a${1}@acme.example\n' > /etc/postfix/bcc
printf '/^a([0-9]+)@acme\\.example$/ a${1}@acme.example, b${1}@acme.example, c${1}@acme.example\n' \
  > /etc/postfix/virtual_re
postfix status >/dev/null 2>&1 && postfix reload >/dev/null 2>&1 || postfix start >/dev/null 2>&1
# Mail left queued by an earlier run (its sink gone) would be counted in this
# one's and, refused at first, stop delivery to the sink for minutes.
postsuper -d ALL >/dev/null 2>&1 || true
postqueue -f >/dev/null 2>&1 || true
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/2700) 2>/dev/null && exit 0; sleep 0.2; done
echo "the Postfix peer did not start" >&2
exit 1
