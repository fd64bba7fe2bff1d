#!/usr/bin/env bash
# The core federation. A national broker, relays for banking and telecom,
# agents bank1 and bank2 (banking) and tel1 (telecom).
# - A banking advisory from the national issuer reaches bank1 and bank2,
#   never tel1.
# - An all-sector technology update reaches every agent.
# - Every agent's ack reaches the national ledger, and the compliance
#   report shows nobody missing for either advisory.
source "$(dirname "$0")/lib.sh"
federation
start_national
start_relay banking
start_relay telecom
start_agent bank1 banking
start_agent bank2 banking
start_agent tel1 telecom

say "publish a banking advisory and an all-sector update"
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id PK-NCERT-T-1 \
    --title "Banking trojan campaign" --severity high --tlp green \
    --sector banking --deadline 1h || fail "publish banking advisory"
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id PK-NCERT-T-2 \
    --kind update --title "OpenSSL update" --severity medium --tlp clear \
    --sector all || fail "publish all-sector update"

say "banking agents receive the banking advisory; telecom does not"
for agent in bank1 bank2; do
    wait_for 20 spooled $agent PK-NCERT-T-1 || fail "$agent did not receive PK-NCERT-T-1"
done
for agent in bank1 bank2 tel1; do
    wait_for 20 spooled $agent PK-NCERT-T-2 || fail "$agent did not receive PK-NCERT-T-2"
done
sleep 1
spooled tel1 PK-NCERT-T-1 && fail "telecom agent received a banking advisory"
[ "$(spool_count tel1)" = 1 ] || fail "tel1 has $(spool_count tel1) advisories, expected 1"
grep -q '"title": *"Banking trojan campaign"' "$T/agents/bank1/spool/PK-NCERT-T-1-r1.json" \
    || fail "spool file lacks the title"

say "acks reach the national ledger"
for agent in bank1 bank2; do
    wait_for 20 ledger_has "$T/national/data" PK-NCERT-T-1 $agent || fail "no national ack from $agent for T-1"
done
for agent in bank1 bank2 tel1; do
    wait_for 20 ledger_has "$T/national/data" PK-NCERT-T-2 $agent || fail "no national ack from $agent for T-2"
done
ledger_has "$T/national/data" PK-NCERT-T-1 tel1 && fail "tel1 acked a banking advisory"

say "compliance: nobody missing"
report=$(certcast compliance --data "$T/national/data" --format csv) || fail "compliance failed"
echo "$report"
echo "$report" | grep -q ',missing,' && fail "compliance shows someone missing"
[ "$(echo "$report" | grep -c 'PK-NCERT-T-2,')" = 3 ] || fail "T-2 should have 3 recipients"
[ "$(echo "$report" | grep -c 'PK-NCERT-T-1,')" = 2 ] || fail "T-1 should have 2 recipients"

stop tel1; stop bank2; stop bank1
stop telecom; stop banking; stop national
say "ok"
