#!/usr/bin/env bash
# The banking CERT gives its relay a new key under the same name (README,
# "The compliance report"): the national broker is told of both keys for
# a while, then only the new one, which has not come up. National
# broker, banking relay, agent bank1 (bank2 enrolled, never started);
# heard times are written every second here (CC_HEARD_STEP_S=1):
# - the new key enrolled beside the running one: certcast status shows
#   relay-banking once, heard seconds ago (before, twice in one JSON
#   object, the second, never heard, null: a reader keeping the last of
#   a name saw a relay that is up as never heard);
# - the old relay stopped and its key removed, the new one never
#   started: once longer than --silent-after, the report names
#   relay-banking above the table, not heard from since at least the new
#   key's enrolment (before, nothing: the removed key's times were left
#   out, and the new key, never heard, was left out too).
source "$(dirname "$0")/lib.sh"
export CC_HEARD_STEP_S=1
SILENT=8
federation
start_national
start_relay banking
start_agent bank1 banking
NATIONAL="127.0.0.1:$NATIONAL_PORT"
report () { certcast compliance --data "$T/national/data" --silent-after $SILENT "$@"; }
publish natissuer "$NATIONAL" national --id K-1 --title "Before" --severity high \
    --tlp clear --sector banking >/dev/null || fail "publish K-1"
wait_for 20 ledger_has "$T/national/data" K-1 bank1 || fail "no ack of K-1 from bank1"
wait_for 20 eval 'report --format csv | grep -q ",bank2,"' \
    || fail "the relay's roster never reached the national report"

say "a new key named relay-banking is enrolled beside the old one"
mkdir -p "$T/rekey"
certcast keygen --dir "$T/rekey" --role relay --sector banking --org "Org relay-banking" \
    relay-banking >/dev/null || fail "keygen of the new relay key"
cp "$T/rekey/relay-banking.pub" "$T/national/allow/relay-banking-new.pub"
wait_for 20 log_has national "roster: 5 member" || fail "the national broker did not rescan"
wait_for 20 eval 'broker_status "$NATIONAL" national natissuer | grep -q "\"relay-banking\":{[^}]*\"heard_s_ago\":[0-9]"' \
    || fail "status never showed relay-banking heard"
json=$(broker_status "$NATIONAL" national natissuer) || fail "national status"
[ "$(echo "$json" | grep -o '"relay-banking":' | wc -l)" = 1 ] \
    || fail "status names relay-banking more than once: $json"
echo "$json" | grep -qE '"relay-banking":\{"sector":"banking","heard_s_ago":[0-9]\}' \
    || fail "status does not show relay-banking, which is up, heard within 10 s: $json"

say "the old relay stops and its key goes; the new one is not up yet"
stop banking
rm "$T/national/allow/relay-banking.pub"
wait_for 20 log_has national "roster: 4 member" || fail "the national broker did not rescan"
publish natissuer "$NATIONAL" national --id K-2 --title "While re-keyed" --severity high \
    --tlp clear --sector banking >/dev/null || fail "publish K-2"
NOTE='^note: relay relay-banking, which reported 2 of the agents below, has not been heard from since at least 20[0-9-]*T[0-9:]*Z, [0-9]+ s before this report'
wait_for 40 eval 'report | grep -qE "$NOTE"' || fail "the report never named relay-banking silent"
! report 2>&1 | grep -q 'no longer enrolled' || fail "relay-banking named as gone, though enrolled"
! certcast compliance --data "$T/national/data" 2>&1 | grep -q 'heard from' \
    || fail "the default --silent-after (300 s) named a relay silent for seconds"
stop bank1; stop national
say "ok"
