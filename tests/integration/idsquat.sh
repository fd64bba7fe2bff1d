#!/usr/bin/env bash
# An ack is a receipt only of the bytes it names.
#
# The banking relay is cut off from the national broker. The banking
# issuer publishes PK-NCERT-2026-0043 ("Squat") at the relay, and bank1
# gets it; then the national issuer publishes its own PK-NCERT-2026-0043
# (critical), and PK-SQ-OK, at the national broker. The relay links:
# - bank1 holds 0043 revision 1 already, so it takes nothing of the
#   national one, but says so in its log (before, nothing said that the
#   critical advisory was not handed over), and its ack of the squat
#   reaches the national broker;
# - the national ledger must not count that ack as bank1's receipt of the
#   national 0043 (before: it did, and the Rule 26 report said bank1 had
#   the critical advisory it never got); it counts it unknown, and the
#   report lists bank1 missing for 0043;
# - bank1's ack of PK-SQ-OK is ledgered there as usual, and the relay's
#   own ledger keeps bank1's receipt of the squat, which it did send.
# - An issuer delegated with --id-prefix PK-SBP- cannot take the id at all:
#   `certcast publish --id PK-NCERT-...` refuses it (exit 2, one line), the
#   relay refuses it signed and sent anyway (out-of-scope), and publish
#   without --id numbers inside the prefix.
source "$(dirname "$0")/lib.sh"
federation
start_national
NATIONAL="127.0.0.1:$NATIONAL_PORT"
RELAY="127.0.0.1:$BANKING_PORT"
ID=PK-NCERT-2026-0043

say "the banking relay cut off: its upstream is a port nobody listens on"
DEAD=$(other_port)
start_daemon banking "$CC_BIN/certcast-relay" --sector banking \
    --upstream "127.0.0.1:$DEAD" --upstream-pub "$T/keys/national.pub" \
    --listen "$RELAY" --data "$T/banking/data" \
    --key "$T/keys/relay-banking.key" --trust "$T/keys/root.pub" \
    --allow "$T/banking/allow" --heartbeat $RELAY_HEARTBEAT
start_agent bank1 banking
publish bankissuer "$RELAY" relay-banking --id "$ID" --title "Squat" \
    --severity info --tlp clear --sector banking >/dev/null || fail "publish the squat"
wait_for 20 spooled bank1 "$ID" 1 || fail "bank1 did not get the squat"

say "the national issuer's own $ID, and PK-SQ-OK"
publish natissuer "$NATIONAL" national --id "$ID" --title "Patch the VPN now" \
    --severity critical --tlp clear --sector banking >/dev/null || fail "publish $ID"
publish natissuer "$NATIONAL" national --id PK-SQ-OK --title "control" \
    --severity low --tlp clear --sector banking >/dev/null || fail "publish PK-SQ-OK"

say "the relay links"
stop bank1
stop banking
start_relay banking
start_agent bank1 banking
wait_for 30 ledger_has "$T/national/data" PK-SQ-OK bank1 \
    || fail "bank1's ack of PK-SQ-OK never reached the national ledger"
# Acks leave the relay in the order they were ledgered there: the squat's
# went before PK-SQ-OK's.
grep -q '"title": "Squat"' "$T/agents/bank1/spool/$ID-r1.json" \
    || fail "bank1's spool file of $ID is not the squat"
ledger_has "$T/banking/data" "$ID" bank1 \
    || fail "the relay's ledger lost bank1's receipt of the squat it sent"
wait_for 10 log_has bank1 "advisory $ID rev 1 on national/banking is not the one held (from banking/banking): two issuers used this id" \
    || fail "bank1 did not say the national $ID was not handed over"
if ledger_has "$T/national/data" "$ID" bank1; then
    certcast ledger --data "$T/national/data" --advisory "$ID"
    fail "the national ledger counts bank1's ack of the squat as its receipt of the national $ID"
fi
unknown=$(json_number "$(broker_status "$NATIONAL" national natissuer)" acks_unknown)
[ "$unknown" -ge 1 ] || fail "the national broker counted no unknown ack (acks_unknown $unknown)"
report=$(certcast compliance --data "$T/national/data" --advisory "$ID" --format csv) \
    || [ $? = 1 ] || fail "compliance failed"
echo "$report"
bank1_line=$(grep "^$ID,.*,bank1," <<<"$report") || fail "the report does not list bank1 for $ID"
grep -q ",missing," <<<"$bank1_line" || fail "the report does not say bank1 is missing for $ID: $bank1_line"

say "with an id prefix in its delegation, a sectoral issuer cannot take the id at all"
keygen sbpissuer issuer banking
certcast delegate --root "$T/keys/root.key" --sector banking --id-prefix PK-SBP- \
    --out "$T/keys/sbpissuer.delegation" "$T/keys/sbpissuer.pub" >"$T/delegate.out" \
    || fail "delegate with --id-prefix"
grep -q "ids starting 'PK-SBP-'" "$T/delegate.out" || fail "delegate does not say the prefix: $(cat "$T/delegate.out")"
cp "$T/keys/sbpissuer.pub" "$T/banking/allow/"
enrolled () { broker_status "$RELAY" relay-banking sbpissuer; }
wait_for 20 enrolled || fail "the relay never enrolled sbpissuer"
rc=0; err=$(publish sbpissuer "$RELAY" relay-banking --id PK-NCERT-2026-0099 --title "Squat" \
    --severity info --tlp clear --sector banking 2>&1 >/dev/null) || rc=$?
echo "certcast publish --id PK-NCERT-2026-0099: exit $rc: $err"
[ $rc = 2 ] && [[ $err == *"does not start with 'PK-SBP-'"* ]] \
    || fail "publish outside the id prefix: exit $rc: $err"
rc=0; out=$(probe --to "$RELAY" --server-pub "$T/keys/relay-banking.pub" \
    --key "$T/keys/sbpissuer.key" publish-mutated --mutate none --sector banking \
    --delegation "$T/keys/sbpissuer.delegation" --id PK-NCERT-2026-0099) || rc=$?
echo "the same signed and sent anyway: exit $rc: $out"
[ $rc = 1 ] && [[ $out == "error out-of-scope: advisory id outside the issuer's delegated id prefix"* ]] \
    || fail "the relay took an id outside the issuer's prefix: exit $rc: $out"
out=$(publish sbpissuer "$RELAY" relay-banking --title "Own numbering" \
    --severity info --tlp clear --sector banking) || fail "publish inside the prefix: $out"
[[ $out == "stored PK-SBP-"* ]] || fail "the default id is not inside the prefix: $out"
stop bank1; stop banking; stop national
say "ok"
