#!/usr/bin/env bash
# A relay's roster may not replace roster entries that are not its own.
#
# The national broker keys the roster entries a relay reports by the
# relay's name, and a relay's roster replaces every entry of that name.
# 1. A telecom relay whose key is named "national", the national broker's
#    own name: its roster is refused (the relay's log says why), and the
#    agent enrolled at the national broker itself (direct1) stays in the
#    national compliance view instead of being replaced by the relay's.
# 2. Two banking relays whose different keys share the name
#    "relay-banking": both rosters are refused, so neither wipes the
#    other's agents; the broker counts no roster.
# Pass: the refusals, direct1 listed for a telecom advisory and tel1 not
# (nobody reported it legitimately), no roster counted at the national
# broker, and the relays still forward advisories.
source "$(dirname "$0")/lib.sh"
federation
keygen direct1 agent telecom --class data-centre
cp "$T/keys/direct1.pub" "$T/national/allow/"
# Keys named by their directory's file name: same names, other keys.
mkdir -p "$T/clash1" "$T/clash2" "$T/clash3"
certcast keygen --dir "$T/clash1" --role relay --sector telecom --org "Org x" national >/dev/null || fail "keygen"
certcast keygen --dir "$T/clash2" --role relay --sector banking --org "Org a" relay-banking >/dev/null || fail "keygen"
certcast keygen --dir "$T/clash3" --role relay --sector banking --org "Org b" relay-banking >/dev/null || fail "keygen"
rm -f "$T/national/allow/relay-telecom.pub" "$T/national/allow/relay-banking.pub"
cp "$T/clash1/national.pub" "$T/national/allow/telecom-relay.pub"
cp "$T/clash2/relay-banking.pub" "$T/national/allow/banking-a.pub"
cp "$T/clash3/relay-banking.pub" "$T/national/allow/banking-b.pub"
mkdir -p "$T/banking2/allow"
cp "$T/keys/bank2.pub" "$T/banking2/allow/"
cp "$T/keys/bank1.pub" "$T/banking/allow/"
BANKING2_PORT=$(free_port)
while [ "$BANKING2_PORT" = "$NATIONAL_PORT" ] || [ "$BANKING2_PORT" = "$BANKING_PORT" ] || [ "$BANKING2_PORT" = "$TELECOM_PORT" ]; do
    BANKING2_PORT=$(free_port)
done

start_national
relay () {      # relay NAME SECTOR PORT KEY ALLOW
    start_daemon "$1" "$CC_BIN/certcast-relay" --sector "$2" --name "$1" \
        --upstream "127.0.0.1:$NATIONAL_PORT" --upstream-pub "$T/keys/national.pub" \
        --listen "127.0.0.1:$3" --data "$T/$1-data" --key "$4" --trust "$T/keys/root.pub" \
        --allow "$5" --heartbeat $HEARTBEAT
}
relay telecom telecom "$TELECOM_PORT" "$T/clash1/national.key" "$T/telecom/allow"
relay banka banking "$BANKING_PORT" "$T/clash2/relay-banking.key" "$T/banking/allow"
relay bankb banking "$BANKING2_PORT" "$T/clash3/relay-banking.key" "$T/banking2/allow"

say "1. a relay named as the national broker"
wait_for 20 log_has telecom "broker's own name" || fail "the telecom relay's roster was not refused: $(grep -i roster "$T/telecom.log" | tail -2)"
say "2. two relays of one name"
wait_for 20 log_has banka "another enrolled relay key has this relay's name" || fail "banka's roster was not refused"
wait_for 20 log_has bankb "another enrolled relay key has this relay's name" || fail "bankb's roster was not refused"

publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id CLASH-1 --title "clash" \
    --severity high --tlp clear --sector all >/dev/null || fail "publish CLASH-1"
banka_forwarded () {
    [ "$(json_number "$(certcast status --to "127.0.0.1:$BANKING_PORT" \
        --server-pub "$T/clash2/relay-banking.pub" --key "$T/keys/bank1.key")" forwarded)" -ge 1 ]
}
wait_for 20 banka_forwarded || fail "banka did not forward CLASH-1"
report=$(certcast compliance --data "$T/national/data" --advisory CLASH-1 --format csv) \
    || fail "compliance failed"
echo "$report" | grep -q "^CLASH-1,.*direct1" || fail "direct1 is missing from the national view: $report"
echo "$report" | grep -q "tel1" && fail "tel1 replaced the national broker's own entries: $report"
status=$(broker_status "127.0.0.1:$NATIONAL_PORT" national natissuer)
[ "$(json_number "$status" rosters)" = 0 ] || fail "a roster was accepted: $status"
say "ok"
