#!/usr/bin/env bash
# A relay's own streams are NAME/SECTOR and its agents keep one cursor per
# stream name, so the upstream refuses the Hello of a relay whose --name is
# taken (README, "Relay options"): two banking relays both left at the
# default name would number banking/banking each on their own, and an
# agent moving between them would never get the second's advisories
# 1..N. National broker, banking relay (default --name: banking) with
# agent bank1, and a second banking relay key (relay-banking2):
# - the second relay with --name banking: its hello is refused, its log
#   says whose the name is (once per 10 s, not every second), its link
#   never comes up, and the first relay and its agent go on;
# - a relay with --name national (the broker's own name): refused too;
# - the second relay with --name banking-2: linked;
# - relay-banking's key removed from the national allow directory: its
#   claim lapses, and the second relay links with --name banking.
source "$(dirname "$0")/lib.sh"
federation
keygen relay-banking2 relay banking
cp "$T/keys/relay-banking2.pub" "$T/national/allow/"
SECOND_PORT=$(other_port)
start_national
start_relay banking
start_agent bank1 banking
second () {     # second LABEL NAME KEY SECTOR
    mkdir -p "$T/$1-allow"
    start_daemon "$1" "$CC_BIN/certcast-relay" --sector "$4" --name "$2" \
        --upstream "127.0.0.1:$NATIONAL_PORT" --upstream-pub "$T/keys/national.pub" \
        --listen "127.0.0.1:$SECOND_PORT" --data "$T/$1-data" --key "$T/keys/$3.key" \
        --trust "$T/keys/root.pub" --allow "$T/$1-allow" --heartbeat $RELAY_HEARTBEAT
}
wait_for 20 log_has banking "upstream: linked" || fail "the banking relay did not link"

say "a second banking relay named banking"
second clash banking relay-banking2 banking
wait_for 20 log_has clash "refused our hello" || fail "the second relay's hello was not refused"
log_has clash "stream origin banking is relay relay-banking's" \
    || fail "the refusal does not say whose the name is: $(grep -m1 refused "$T/clash.log")"
sleep 3
[ "$(grep -c 'refused our hello' "$T/clash.log")" = 1 ] \
    || fail "the refusal is logged more than once in 10 s"
! log_has clash "upstream: linked" || fail "the second relay linked under a name in use"
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id N-1 --title "One" --severity high \
    --tlp clear --sector banking >/dev/null || fail "publish N-1"
wait_for 20 spooled bank1 N-1 || fail "bank1 behind the first relay did not get N-1"
stop clash

say "a relay named as the national broker"
second clash2 national relay-telecom telecom
wait_for 20 log_has clash2 "refused our hello" || fail "a relay named national was not refused"
log_has clash2 "is the name of the broker it links to" || fail "no word on the broker's name"
stop clash2

say "the second banking relay with a name of its own"
second own banking-2 relay-banking2 banking
wait_for 20 log_has own "upstream: linked" || fail "banking-2 did not link"
! log_has own "refused our hello" || fail "banking-2 was refused"
stop own

say "relay-banking decommissioned: the name is free"
rm "$T/national/allow/relay-banking.pub"
wait_for 20 log_has national "roster: 4 member" || fail "the national broker did not rescan"
sleep 2
second taken banking relay-banking2 banking
wait_for 20 log_has taken "upstream: linked" || fail "the name of a relay no longer enrolled stayed taken"
stop taken; stop bank1; stop banking; stop national
say "ok"
