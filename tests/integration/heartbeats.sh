#!/usr/bin/env bash
# Each side of a link learns the other's heartbeat, so brokers with
# different --heartbeat values never take each other for dead.
#
# A relay's heartbeat goes to every agent it serves, so relays default to
# 5 s (certcast-broker to 1 s). A link's follower calls its server dead
# after three of the server's intervals (from Welcome), not its own:
# - the banking relay (--heartbeat 100: dead after 0.4 s by its own
#   clock) follows a national broker that heartbeats every 1.5 s;
# - agent tel1 (--heartbeat 50) follows the telecom relay, which
#   heartbeats every 1.5 s.
# Pass: over 8 s neither follower reports its server silent or rebuilds
# its links (the relay's upstream `reconnects` and the agent's log), an
# all-sector advisory still reaches both relays' agents and their acks
# the national ledger; and `certcast-relay --help` shows the 5 s default.
source "$(dirname "$0")/lib.sh"

"$CC_BIN/certcast-relay" --help 2>&1 | grep -- "--heartbeat" | grep -q "default 5000" \
    || fail "certcast-relay --help does not show a 5000 ms heartbeat default"
"$CC_BIN/certcast-broker" --help 2>&1 | grep -- "--heartbeat" | grep -q "default 1000" \
    || fail "certcast-broker --help does not show a 1000 ms heartbeat default"

federation
HEARTBEAT=1500 start_national
RELAY_HEARTBEAT=100 start_relay banking
RELAY_HEARTBEAT=1500 start_relay telecom
HEARTBEAT=50 start_agent tel1 telecom
HEARTBEAT=100 start_agent bank1 banking
wait_for 20 log_has banking "upstream: linked" || fail "banking relay never linked upstream"
wait_for 20 log_has tel1 "connected to relay" || fail "tel1 never connected"
say "8 s of idle links with mismatched heartbeats"
sleep 8
! log_has banking "silent for" || fail "the banking relay took the national broker for dead: $(grep 'silent for' "$T/banking.log" | head -1)"
! log_has tel1 "silent for" || fail "tel1 took its relay for dead: $(grep 'silent for' "$T/tel1.log" | head -1)"
status=$(broker_status "127.0.0.1:$BANKING_PORT" relay-banking bankissuer) || fail "no status from the banking relay"
[ "$(json_number "$status" reconnects)" = 0 ] || fail "the banking relay rebuilt its upstream links: $status"

publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id HB-1 --title "heartbeats" \
    --severity high --tlp clear --sector all >/dev/null || fail "publish HB-1"
wait_for 30 spooled tel1 HB-1 || fail "HB-1 not at tel1"
wait_for 30 spooled bank1 HB-1 || fail "HB-1 not at bank1"
wait_for 30 ledger_has "$T/national/data" HB-1 tel1 || fail "tel1's ack of HB-1 is not in the national ledger"
wait_for 30 ledger_has "$T/national/data" HB-1 bank1 || fail "bank1's ack of HB-1 is not in the national ledger"
say "ok"
