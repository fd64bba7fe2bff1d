#!/usr/bin/env bash
# A relay that is down leaves every agent behind it missing in the
# national report, whatever they did; the officer is told which missing
# agents sit behind a relay not heard from, and since when (README, "The
# compliance report"). The brokers write heard times every second here
# (CC_HEARD_STEP_S=1; 30 s by default). National broker, banking and
# telecom relays, agents bank1 and tel1 (bank2 enrolled, never started):
# - all running: no report names a silent relay or a stopped broker;
# - banking relay stopped: once it has been silent longer than
#   --silent-after, the table says above it that relay-banking, which
#   reported 2 of the agents below, was last heard from at a time before
#   this report (on stderr for csv and json, whose stdout keeps its
#   shape); not with --sector telecom, nor with a longer --silent-after;
#   certcast status shows the national issuer how long each relay has
#   been silent, and the banking issuer only its own sector's relay;
# - national broker stopped too: the report on its data says when the
#   broker last ran and judges relays as of then, so relay-telecom, which
#   spoke until the broker stopped, is not named (judged against the
#   reader's clock, it would be), while relay-banking still is.
source "$(dirname "$0")/lib.sh"
export CC_HEARD_STEP_S=1
SILENT=12
federation
start_national
start_relay banking
start_relay telecom
start_agent bank1 banking
start_agent tel1 telecom
NATIONAL="127.0.0.1:$NATIONAL_PORT"
report () { certcast compliance --data "$T/national/data" --silent-after $SILENT "$@"; }
publish natissuer "$NATIONAL" national --id S-1 --title "Before" --severity high \
    --tlp clear --sector banking --sector telecom >/dev/null || fail "publish S-1"
wait_for 20 ledger_has "$T/national/data" S-1 bank1 || fail "no ack of S-1 from bank1"
wait_for 20 ledger_has "$T/national/data" S-1 tel1 || fail "no ack of S-1 from tel1"
wait_for 20 eval 'report --format csv | grep -q ",bank2,"' \
    || fail "the relay's roster never reached the national report"
sleep $((SILENT + 3))    # longer than --silent-after: live relays spoke since
for format in table csv json; do
    ! report --format $format 2>&1 | grep -qE 'last heard|last ran' \
        || fail "a relay or the broker named silent while all run ($format)"
done

say "the banking relay stops"
stop banking
publish natissuer "$NATIONAL" national --id S-2 --title "While it is down" --severity high \
    --tlp clear --sector banking >/dev/null || fail "publish S-2"
NOTE='^note: relay relay-banking, which reported 2 of the agents below, was last heard from at 20[0-9-]*T[0-9:]*Z, [0-9]+ s before this report: they may have had nothing from here since'
wait_for 40 eval 'report | grep -qE "$NOTE"' || fail "the table never named the silent relay"
json=$(broker_status "$NATIONAL" national natissuer) || fail "national status"
echo "$json" | grep -qE '"relays":\{[^}]*"relay-banking":\{"sector":"banking","heard_s_ago":(1[2-9]|[2-9][0-9])\}' \
    || fail "status does not show relay-banking silent for 12 s or more: $json"
echo "$json" | grep -qE '"relay-telecom":\{"sector":"telecom","heard_s_ago":[0-9]\}' \
    || fail "status does not show relay-telecom heard within 10 s: $json"
json=$(broker_status "$NATIONAL" national bankissuer) || fail "national status (banking issuer)"
echo "$json" | grep -q '"relay-banking"' || fail "the banking issuer does not see its relay: $json"
! echo "$json" | grep -q '"relay-telecom"' || fail "the banking issuer sees the telecom relay: $json"
table=$(report) || fail "compliance table"
echo "$table"
echo "$table" | grep -A3 '^S-2 ' | grep -q 'missing 2' || fail "S-2 should list 2 missing"
for format in csv json; do
    report --format $format >"$T/out" 2>"$T/err" || fail "compliance $format"
    grep -qE "$NOTE" "$T/err" || fail "no note on stderr with --format $format"
    ! grep -q 'last heard' "$T/out" || fail "the note is in the $format document"
done
head -1 "$T/out" | grep -q '^\[' || fail "the JSON does not start the document"
! report --sector telecom 2>&1 | grep -q 'last heard' \
    || fail "a note for agents of a sector the silent relay did not report"
! certcast compliance --data "$T/national/data" 2>&1 | grep -q 'last heard' \
    || fail "the default --silent-after (300 s) named a relay silent for seconds"
certcast compliance --data "$T/national/data" --silent-after 0 >/dev/null 2>"$T/err"
[ $? = 2 ] || fail "--silent-after 0 should be a usage error"
grep -q 'silent-after' "$T/err" || fail "no word on --silent-after 0"

say "the national broker stops too; its data is read later"
stop national
sleep $((SILENT + 3))
table=$(report) || fail "compliance table on a stopped broker's data"
echo "$table"
echo "$table" | grep -qE '^note: the broker that keeps this data last ran at 20[0-9-]*T[0-9:]*Z, [0-9]+ s before this report' \
    || fail "no note that the broker stopped"
echo "$table" | grep -qE '^note: relay relay-banking, .* before the broker last ran' \
    || fail "the banking relay is not named as of the broker's last run"
! echo "$table" | grep -q 'relay-telecom' \
    || fail "relay-telecom, heard until the broker stopped, is named silent"
stop tel1; stop bank1; stop telecom
say "ok"
