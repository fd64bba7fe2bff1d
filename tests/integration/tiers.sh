#!/usr/bin/env bash
# A relay under a relay (a provincial CERT under its sectoral CERT): the
# national broker sees every agent behind both.
# national <- banking relay (agent bank1) <- provincial relay "bankprov"
# (agents prov1, running, and prov2, enrolled but never started).
# - An advisory for banking reaches bank1 and prov1 through both relays,
#   and both acks reach the national ledger.
# - The national compliance report expects bank1, bank2 (enrolled at the
#   banking relay, not started), prov1 and prov2, and lists bank2 and prov2
#   as missing (before, the provincial agents were unknown there: prov1's
#   ack counted as unexpected and prov2 appeared nowhere).
# - The telecom relay, enrolled nationally but never started, is named in
#   the report as having sent no roster (on stderr for CSV); the banking
#   relay, which reported, is not.
# - prov2 removed from the provincial allow directory leaves the national
#   report's expected agents too.
source "$(dirname "$0")/lib.sh"
federation
keygen relay-bankprov relay banking
keygen prov1 agent banking --class body-corporate
keygen prov2 agent banking --class service-provider
mkdir -p "$T/bankprov/allow"
cp "$T/keys/relay-bankprov.pub" "$T/banking/allow/"
cp "$T/keys/prov1.pub" "$T/keys/prov2.pub" "$T/bankprov/allow/"
PROV_PORT=$(other_port)
start_national
start_relay banking
start_relay_as bankprov banking "$PROV_PORT" relay-bankprov "$T/bankprov/allow" \
    "$BANKING_PORT" relay-banking
start_agent bank1 banking
mkdir -p "$T/agents/prov1/spool"
start_daemon prov1 "$CC_BIN/certcast-agent" --relay "127.0.0.1:$PROV_PORT" \
    --relay-pub "$T/keys/relay-bankprov.pub" --data "$T/agents/prov1/data" \
    --key "$T/keys/prov1.key" --trust "$T/keys/root.pub" \
    --spool "$T/agents/prov1/spool" --heartbeat $HEARTBEAT

say "an advisory for banking reaches both tiers; both acks reach the national ledger"
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id PK-TIER-1 --title tiers \
    --severity medium --tlp green --sector banking >/dev/null || fail "publish PK-TIER-1"
wait_for 20 spooled bank1 PK-TIER-1 || fail "bank1 did not receive PK-TIER-1"
wait_for 20 spooled prov1 PK-TIER-1 || fail "prov1 (behind two relays) did not receive PK-TIER-1"
for agent in bank1 prov1; do
    wait_for 20 ledger_has "$T/national/data" PK-TIER-1 $agent || fail "no ack of $agent at the national broker"
done

say "the national report expects the provincial agents too"
report () { certcast compliance --data "$T/national/data" --advisory PK-TIER-1 --format csv; }
expects () { report | grep -q ",$1,.*,$2,"; }
wait_for 20 expects prov2 missing || fail "prov2 is not listed missing nationally: $(report)"
expects prov1 acked || fail "prov1's ack is not counted: $(report)"
expects bank2 missing || fail "bank2 is not listed missing: $(report)"
expects bank1 acked || fail "bank1 is not counted: $(report)"
report
certcast compliance --data "$T/national/data" --advisory PK-TIER-1 | grep -q "unexpected 0" \
    || fail "an ack counted as unexpected: $(certcast compliance --data "$T/national/data" --advisory PK-TIER-1)"

say "a relay enrolled but never heard from is named, not passed over"
table=$(certcast compliance --data "$T/national/data" --advisory PK-TIER-1) || fail "compliance table"
echo "$table" | head -3
echo "$table" | grep -q "^note: relay relay-telecom (telecom) has sent no roster" \
    || fail "the silent telecom relay is not named in the report"
echo "$table" | grep -q "note: relay relay-banking" && fail "the banking relay, which reported, is named silent"
certcast compliance --data "$T/national/data" --advisory PK-TIER-1 --format csv 2>"$T/csv.err" \
    | grep -q "^note:" && fail "a note went into the CSV"
grep -q "relay-telecom" "$T/csv.err" || fail "the CSV run did not name the silent relay on stderr"

say "prov2 leaves the provincial allow directory, and the national report"
rm "$T/bankprov/allow/prov2.pub"
wait_for 30 eval '! report | grep -q ",prov2,"' || fail "prov2 is still expected nationally: $(report)"
expects prov1 acked || fail "prov1 went with prov2: $(report)"
stop prov1; stop bank1; stop bankprov; stop banking; stop national
say "ok"
