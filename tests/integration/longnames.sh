#!/usr/bin/env bash
# Names and sectors may be 63 characters each, so a relay's own stream
# (NAME/SECTOR) may be 127. A relay that serves a 54-character sector
# under its default name (the sector: a 109-character stream) used to cut
# that name to 79 characters when it reported its own advisories
# upstream, found no head under the cut name, and reported nothing: the
# national broker never held them and counted its agents' receipts of
# them unknown.
# A national broker, a relay for sector S (54 characters), an agent
# there, and an issuer of S enrolled at the relay.
# Pass: the issuer publishes at the relay; the agent receives it; the
# national broker holds it (compliance shows it, origin the relay, with
# the agent acknowledged) and its ledger has the agent's receipt.
source "$(dirname "$0")/lib.sh"

S=telecommunications-and-information-technology-services
[ ${#S} = 54 ] || fail "sector name is ${#S} characters"
mkdir -p "$T/keys" "$T/national/allow" "$T/relay/allow"
keygen root root all
keygen national broker all
keygen sissuer issuer "$S"
keygen relay-s relay "$S"
keygen agent1 agent "$S"
certcast delegate --root "$T/keys/root.key" --sector "$S" --out "$T/keys/sissuer.delegation" \
    "$T/keys/sissuer.pub" >/dev/null || fail "delegate sissuer"
cp "$T/keys/relay-s.pub" "$T/national/allow/"
cp "$T/keys/sissuer.pub" "$T/keys/agent1.pub" "$T/relay/allow/"
NATIONAL_PORT=$(free_port)
RELAY_PORT=$(free_port)
while [ "$RELAY_PORT" = "$NATIONAL_PORT" ]; do RELAY_PORT=$(free_port); done

start_national --sectors "banking,$S"
start_daemon relay "$CC_BIN/certcast-relay" --sector "$S" \
    --upstream "127.0.0.1:$NATIONAL_PORT" --upstream-pub "$T/keys/national.pub" \
    --listen "127.0.0.1:$RELAY_PORT" --data "$T/relay/data" \
    --key "$T/keys/relay-s.key" --trust "$T/keys/root.pub" \
    --allow "$T/relay/allow" --heartbeat $HEARTBEAT
mkdir -p "$T/agents/agent1/spool"
start_daemon agent1 "$CC_BIN/certcast-agent" --relay "127.0.0.1:$RELAY_PORT" \
    --relay-pub "$T/keys/relay-s.pub" --data "$T/agents/agent1/data" \
    --key "$T/keys/agent1.key" --trust "$T/keys/root.pub" \
    --spool "$T/agents/agent1/spool" --heartbeat $HEARTBEAT

out=$(publish sissuer "127.0.0.1:$RELAY_PORT" relay-s --id PK-LONG-1 --title "Long names" \
      --severity medium --tlp clear --sector "$S") || fail "publish at the relay: exit $?"
[[ $out == "stored PK-LONG-1 rev 1: $S/$S#1" ]] || fail "unexpected answer: $out"
wait_for 20 spooled agent1 PK-LONG-1 || fail "agent1 did not receive PK-LONG-1"
wait_for 20 ledger_has "$T/national/data" PK-LONG-1 agent1 \
    || fail "the national ledger has no receipt of PK-LONG-1 from agent1 (report of $S/$S#1 never made?)"
report=$(certcast compliance --data "$T/national/data" --advisory PK-LONG-1 --format csv) \
    || fail "national compliance for PK-LONG-1"
echo "$report" | grep -q "^PK-LONG-1,1,Long names,,agent1,.*,acked," \
    || fail "national compliance does not show agent1's receipt: $report"
log_has relay "refused our report" && fail "the national broker refused the report"
stop agent1; stop relay; stop national
say "ok"
