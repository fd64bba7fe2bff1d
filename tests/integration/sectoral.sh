#!/usr/bin/env bash
# A sectoral CERT publishes for its own sector (Rule 8(3)), and only there.
# A national broker, relays for banking and telecom, agents bank1 and bank2
# (banking) and tel1 (telecom). The banking issuer's delegation covers
# banking only; it is enrolled at the banking relay and the national broker.
# - The banking issuer publishes PK-BANK-S-1 for banking AT THE BANKING
#   RELAY: exit 0, stored in the relay's own stream banking/banking; it
#   reaches bank1 and bank2 (spool files), never tel1.
# - bank1's and bank2's acks appear in the banking relay's ledger and, passed
#   upstream, in the national ledger; national compliance shows nobody
#   missing for it: nat1, a banking agent enrolled at the national broker
#   itself (never started), is not expected to acknowledge what the banking
#   relay originated (it could not receive it), though it is listed missing
#   for the national broker's own banking advisory.
# - The same issuer is refused, exit 1 with a one-line "out-of-scope" on
#   stderr: --sector telecom at the banking relay, --sector telecom at the
#   national broker, --sector all at the banking relay.
# - Nothing of those refusals appears in any spool, ledger or report, and
#   both daemons count them; a later banking advisory still gets through.
# - An id belongs to its first issuer at the national broker, reports
#   included: the banking issuer publishes PK-HJ-1 rev 2 at the banking
#   relay (which never held the national telecom PK-HJ-1, so it stores
#   it), but the national broker refuses the relay's report of it. Its
#   report and ledger keep the national telecom advisory, tel1's receipt
#   of it, and no receipt from bank1 or bank2 (before, the report replaced
#   the national advisory, and its receipts dropped out of the report).
# - Late is judged by the agent's signed ack time, unless that time is
#   before the advisory was issued: then by when the receipt was ledgered.
#   With bank2 stopped, PK-LATE-1 and PK-LATE-2 (deadline 2 s) are
#   published; 4 s later bank2's own key acks PK-LATE-2 signed with a
#   time in 2001, and bank2 is started and acks PK-LATE-1 itself. National
#   compliance: both late for bank2 (before, the 2001 ack counted as on
#   time), bank1 acked on time; the CSV and JSON give ledgered_at beside
#   acked_at.
# - The hand-over names the issuer the root's delegation names, and its
#   key, beside the issuer's own claim: the banking issuer's key file
#   renamed natissuer (nobody signs that name) publishes PK-NAME-1 at the
#   national broker; bank1's spool file says issuer natissuer but
#   delegated_issuer bankissuer and the banking issuer's key.
source "$(dirname "$0")/lib.sh"
federation
keygen nat1 agent banking
cp "$T/keys/nat1.pub" "$T/national/allow/"
start_national
start_relay banking
start_relay telecom
start_agent bank1 banking
start_agent bank2 banking
start_agent tel1 telecom

RELAY="127.0.0.1:$BANKING_PORT"
NATIONAL="127.0.0.1:$NATIONAL_PORT"

say "the banking issuer publishes for banking at the banking relay"
out=$(publish bankissuer "$RELAY" relay-banking --id PK-BANK-S-1 \
      --title "Card skimming at ATMs" --severity high --tlp amber \
      --sector banking --deadline 1h) || fail "banking publish at the relay: exit $?"
echo "$out"
[[ $out == "stored PK-BANK-S-1 rev 1: banking/banking#1" ]] \
    || fail "expected the advisory in the relay's own stream, got: $out"

for agent in bank1 bank2; do
    wait_for 20 spooled $agent PK-BANK-S-1 || fail "$agent did not receive PK-BANK-S-1"
done
grep -q '"title": *"Card skimming at ATMs"' "$T/agents/bank1/spool/PK-BANK-S-1-r1.json" \
    || fail "bank1's spool file lacks the title"

say "telecom hears nothing of it"
# Barrier: a telecom advisory from the national issuer reaches tel1, so
# tel1 is connected and caught up; a banking advisory never went that way.
publish natissuer "$NATIONAL" national --id PK-NCERT-S-2 --title "Signalling flood" \
    --severity medium --tlp green --sector telecom >/dev/null || fail "publish telecom advisory"
wait_for 20 spooled tel1 PK-NCERT-S-2 || fail "tel1 did not receive PK-NCERT-S-2"
spooled tel1 PK-BANK-S-1 && fail "telecom agent received a banking relay's advisory"
[ "$(spool_count tel1)" = 1 ] || fail "tel1 has $(spool_count tel1) advisories, expected 1"
tstatus=$(broker_status "127.0.0.1:$TELECOM_PORT" relay-telecom tel1) || fail "telecom relay status"
echo "$tstatus" | grep -q 'banking/' && fail "telecom relay carries a banking stream: $tstatus"

say "acks in the banking relay's ledger and, passed upstream, in the national one"
for agent in bank1 bank2; do
    wait_for 20 ledger_has "$T/banking/data" PK-BANK-S-1 $agent \
        || fail "no ack from $agent for PK-BANK-S-1 in the banking relay's ledger"
    wait_for 20 ledger_has "$T/national/data" PK-BANK-S-1 $agent \
        || fail "no ack from $agent for PK-BANK-S-1 in the national ledger"
done
ledger_has "$T/national/data" PK-BANK-S-1 tel1 && fail "tel1 acked a banking advisory"
ledger_has "$T/banking/data" PK-BANK-S-1 tel1 && fail "tel1 in the banking ledger"
report=$(certcast compliance --data "$T/national/data" --advisory PK-BANK-S-1 --format csv) \
    || fail "national compliance for PK-BANK-S-1"
echo "$report"
[ "$(echo "$report" | grep -c '^PK-BANK-S-1,')" = 2 ] \
    || fail "national compliance should list PK-BANK-S-1 for bank1 and bank2"
echo "$report" | grep -q ',missing,' && fail "national compliance shows someone missing"

say "the banking issuer may not publish outside banking"
before_relay=$(broker_status "$RELAY" relay-banking bankissuer) || fail "relay status"
before_national=$(broker_status "$NATIONAL" national natissuer) || fail "national status"
refused () {   # refused ID WHERE SERVER SECTOR: publish must exit 1, out-of-scope
    local id=$1 to=$2 server=$3 sector=$4 rc=0 err
    err=$(publish bankissuer "$to" "$server" --id "$id" --title "Out of my lane" \
          --severity low --tlp clear --sector "$sector" 2>&1 >/dev/null) || rc=$?
    echo "$id --sector $sector at $server: exit $rc: $err"
    [ $rc = 1 ] || fail "$id --sector $sector at $server: exit $rc, expected 1"
    [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "$id: reason is not one line: $err"
    [[ $err == *out-of-scope* ]] || fail "$id: no out-of-scope reason: $err"
}
refused PK-BANK-S-X1 "$RELAY" relay-banking telecom
refused PK-BANK-S-X2 "$NATIONAL" national telecom
refused PK-BANK-S-X3 "$RELAY" relay-banking all

after_relay=$(broker_status "$RELAY" relay-banking bankissuer) || fail "relay status"
after_national=$(broker_status "$NATIONAL" national natissuer) || fail "national status"
[ $(( $(json_number "$after_relay" out-of-scope) - $(json_number "$before_relay" out-of-scope) )) = 2 ] \
    || fail "the relay should count 2 out-of-scope refusals: $before_relay -> $after_relay"
[ $(( $(json_number "$after_national" out-of-scope) - $(json_number "$before_national" out-of-scope) )) = 1 ] \
    || fail "national should count 1 out-of-scope refusal: $before_national -> $after_national"
[ "$(json_number "$after_relay" published)" = "$(json_number "$before_relay" published)" ] \
    || fail "the relay's published count changed on a refusal"

say "a later banking advisory gets through; nothing refused went anywhere"
publish bankissuer "$RELAY" relay-banking --id PK-BANK-S-4 --title "Follow-up" \
    --severity info --tlp clear --sector banking >/dev/null || fail "second banking publish"
for agent in bank1 bank2; do
    wait_for 20 spooled $agent PK-BANK-S-4 || fail "$agent did not receive PK-BANK-S-4"
    wait_for 20 ledger_has "$T/national/data" PK-BANK-S-4 $agent \
        || fail "no national ack from $agent for PK-BANK-S-4"
done
for agent in bank1 bank2 tel1; do
    ls "$T/agents/$agent/spool" | grep -q 'PK-BANK-S-X' && fail "$agent spooled a refused advisory"
done
[ "$(spool_count bank1)" = 2 ] || fail "bank1 has $(spool_count bank1) advisories, expected 2"
[ "$(spool_count bank2)" = 2 ] || fail "bank2 has $(spool_count bank2) advisories, expected 2"
[ "$(spool_count tel1)" = 1 ] || fail "tel1 has $(spool_count tel1) advisories, expected 1"
for data in national banking telecom; do
    rows=$(certcast ledger --data "$T/$data/data" --format json) || fail "$data ledger"
    echo "$rows" | grep -q 'PK-BANK-S-X' && fail "a refused advisory is in the $data ledger"
done
report=$(certcast compliance --data "$T/national/data" --format csv) || fail "national compliance"
echo "$report" | grep -q 'PK-BANK-S-X' && fail "a refused advisory is in the national report"
echo "$report" | grep -q '^PK-BANK-S-4,.*,nat1,' && fail "nat1 is expected to ack the relay's own PK-BANK-S-4"
publish natissuer "$NATIONAL" national --id PK-NCERT-S-5 --title "National, banking" \
    --severity low --tlp clear --sector banking >/dev/null || fail "national banking publish"
report=$(certcast compliance --data "$T/national/data" --advisory PK-NCERT-S-5 --format csv) \
    || fail "national compliance for PK-NCERT-S-5"
echo "$report" | grep -q '^PK-NCERT-S-5,.*,nat1,.*,missing,' \
    || fail "nat1 is not listed missing for the national broker's own banking advisory: $report"

say "a sectoral issuer takes a national advisory's id at its relay"
publish natissuer "$NATIONAL" national --id PK-HJ-1 --title "National telecom" \
    --severity high --tlp clear --sector telecom >/dev/null || fail "national telecom publish"
wait_for 20 ledger_has "$T/national/data" PK-HJ-1 tel1 || fail "no national ack from tel1 for PK-HJ-1"
out=$(publish bankissuer "$RELAY" relay-banking --id PK-HJ-1 --revision 2 --title "Hijack" \
      --severity info --tlp clear --sector banking) || fail "the relay refused PK-HJ-1 rev 2: exit $?"
wait_for 20 log_has banking "upstream refused our report of banking/banking#" \
    || fail "the national broker took the banking relay's report of PK-HJ-1"
for agent in bank1 bank2; do
    wait_for 20 ledger_has "$T/banking/data" PK-HJ-1 $agent || fail "no banking ack from $agent for PK-HJ-1"
done
unknown_at_least () {
    [ "$(json_number "$(broker_status "$NATIONAL" national natissuer)" acks_unknown)" -ge "$1" ]
}
wait_for 20 unknown_at_least 2 \
    || fail "the national broker never counted the banking agents' acks of PK-HJ-1 rev 2 unknown"
report=$(certcast compliance --data "$T/national/data" --advisory PK-HJ-1 --format csv) \
    || fail "national compliance for PK-HJ-1"
echo "$report" | grep -q '^PK-HJ-1,1,National telecom,.*,tel1,.*,acked,' \
    || fail "the national report lost the telecom PK-HJ-1 or tel1's receipt: $report"
echo "$report" | grep -q 'Hijack' && fail "the national report shows the banking issuer's PK-HJ-1"
for agent in bank1 bank2; do
    ledger_has "$T/national/data" PK-HJ-1 $agent && fail "$agent's ack of the banking PK-HJ-1 is a national receipt"
done

say "an issuer's own name for itself is not what the root vouched for"
# The name in a key file is nobody's signature: the banking issuer's key
# renamed natissuer publishes at the national broker, on national/banking.
# The hand-over says what the issuer claims and, beside it, what the root's
# delegation names and the key that signed (before, only the claim).
sed 's/name = "bankissuer"/name = "natissuer"/' "$T/keys/bankissuer.key" >"$T/keys/renamed.key"
chmod 600 "$T/keys/renamed.key"
cp "$T/keys/bankissuer.delegation" "$T/keys/renamed.delegation"
publish renamed "$NATIONAL" national --id PK-NAME-1 --title "Disable your AV" \
    --severity critical --tlp clear --sector banking >/dev/null || fail "renamed publish"
publish natissuer "$NATIONAL" national --id PK-NAME-2 --title "Genuine" \
    --severity low --tlp clear --sector banking >/dev/null || fail "national publish"
bank_key=$(sed -n 's/^ *sign-key = "\([0-9a-f]*\)"$/\1/p' "$T/keys/bankissuer.pub")
nat_key=$(sed -n 's/^ *sign-key = "\([0-9a-f]*\)"$/\1/p' "$T/keys/natissuer.pub")
spool_says () {   # spool_says ID ISSUER DELEGATED KEY
    local file="$T/agents/bank1/spool/$1-r1.json"
    grep -q "\"issuer\": \"$2\"," "$file" && grep -q "\"delegated_issuer\": \"$3\"," "$file" \
        && grep -q "\"issuer_key\": \"$4\"," "$file" \
        || fail "$1: expected issuer $2, delegated_issuer $3, issuer_key $4: $(cat "$file")"
}
for id in PK-NAME-1 PK-NAME-2; do
    wait_for 20 spooled bank1 $id || fail "bank1 did not receive $id"
done
spool_says PK-NAME-1 natissuer bankissuer "$bank_key"
spool_says PK-NAME-2 natissuer natissuer "$nat_key"
spool_says PK-BANK-S-1 bankissuer bankissuer "$bank_key"

say "late acks, and an ack signed with a time before the advisory existed"
stop bank2
for id in PK-LATE-1 PK-LATE-2; do
    publish natissuer "$NATIONAL" national --id $id --title "Deadline $id" \
        --severity high --tlp clear --sector banking --deadline 2s >/dev/null || fail "publish $id"
done
wait_for 20 ledger_has "$T/national/data" PK-LATE-2 bank1 || fail "bank1 did not ack PK-LATE-2"
sleep 4
out=$(probe --to "$RELAY" --server-pub "$T/keys/relay-banking.pub" --key "$T/keys/bank2.key" \
      ack-as --sign-key "$T/keys/bank2.key" --id PK-LATE-2 --revision 1 --ack-time 1000000000 \
      --digest-of "$T/banking/data") \
    || fail "bank2's backdated ack: $out"
[ "$out" = "acked 1" ] || fail "bank2's backdated ack: $out"
start_agent bank2 banking
for id in PK-LATE-1 PK-LATE-2; do
    wait_for 20 ledger_has "$T/national/data" $id bank2 || fail "no national ack from bank2 for $id"
done
for id in PK-LATE-1 PK-LATE-2; do
    report=$(certcast compliance --data "$T/national/data" --advisory $id --format csv) \
        || fail "compliance for $id"
    echo "$report" | grep -q "^$id,1,.*,bank2,.*,late,[^,]*,[^,]*,$" \
        || fail "bank2 is not late for $id: $report"
    echo "$report" | grep -q "^$id,1,.*,bank1,.*,acked,[^,]*,[^,]*,$" \
        || fail "bank1 is not on time for $id: $report"
done
echo "$report" | head -1 | grep -q ',acked_at,ledgered_at,reason$' || fail "no ledgered_at column: $report"
certcast compliance --data "$T/national/data" --advisory PK-LATE-2 --format json \
    | grep -q '"acked_at": "2001-09-09T01:46:40Z", "ledgered_at": "20' \
    || fail "the JSON does not give bank2's claimed time and its ledgered time"

stop tel1; stop bank2; stop bank1
stop telecom; stop banking; stop national
say "ok"
