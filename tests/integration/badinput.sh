#!/usr/bin/env bash
# Bad input is refused, counted, and changes nothing; the daemons go on.
# A national broker, relays for banking and telecom, agents bank1 and bank2
# (banking) and tel1 (telecom). The national issuer publishes PK-BAD-R-1
# (banking) and PK-BAD-O-1 revision 2, and cc_probe sends PK-BAD-P-none
# unmutated (the control for every mutation); everyone acks them. Then, with the
# ledgers snapshotted, each bad input below must be refused with its reason
# (one line), counted in `certcast status` (refused_total and the counter of
# that reason), and leave every ledger, spool and report as it was:
#   at the national broker
#   - forged signature (sig-flip), bit-flipped advisory (adv-flip), and a
#     signature by another key under the issuer's delegation: bad-signature
#   - a delegation signed by an unpinned root: untrusted
#   - a delegation whose window has passed: expired
#   - the banking issuer publishing for telecom: out-of-scope
#   - the national issuer's connection sending an advisory the banking
#     issuer signed (for banking, which it may): not-allowed (before,
#     stored and streamed as if published here)
#   - PK-BAD-R-1 revision 1 again, PK-BAD-O-1 revision 1 after revision 2:
#     replay (certcast publish exits 1 with the reason on one stderr line)
#   - an expired advisory, one issued an hour in the future: expired
#   - an advisory with no TLP label: malformed (before, stored and
#     delivered, "tlp": "unspecified" in every spool file)
#   - a truncated Control frame, 64 bytes of garbage, an empty frame:
#     malformed
#   - a frame over CC_WIRE_MAX_FRAME: the connection is dropped (no answer)
#     and the broker still answers status
#   - a client key in no allow directory: no answer (refused at CURVE)
#   at the banking relay
#   - a forged signature and a truncated frame from the banking issuer
#   - an ack signed by bank2's key sent over bank1's connection:
#     not-allowed, and no ledger row for it
#   - bank1's own ack with a 2 MB reason (over 1 MiB: the relay could not
#     pass it upstream, and it blocked every ack queued behind it there),
#     with a 300-byte reason, and 65 copies of an ack in one request:
#     malformed; at the national broker, 4097 acks from a relay in one
#     request: malformed
#   - bank1's own acks of an advisory id the relay never held and of a
#     revision it does not hold (PK-BAD-O-1 revision 3): answered "acked 0",
#     counted in acks_unknown, no ledger row at the relay or upstream
#     (bank1 acking as itself an advisory the relay holds, the control, is
#     accepted and reaches the national ledger)
# Finally a valid advisory PK-BAD-OK-1 still reaches bank1 and bank2 and
# their acks reach the national ledger.
source "$(dirname "$0")/lib.sh"
federation
start_national
start_relay banking
start_relay telecom
start_agent bank1 banking
start_agent bank2 banking
start_agent tel1 telecom

NATIONAL="127.0.0.1:$NATIONAL_PORT"
RELAY="127.0.0.1:$BANKING_PORT"
AT_NATIONAL=(--to "$NATIONAL" --server-pub "$T/keys/national.pub")
AT_RELAY=(--to "$RELAY" --server-pub "$T/keys/relay-banking.pub")

natprobe () {   # natprobe MUTATION [options]: publish-mutated as natissuer
    local mutation=$1; shift
    probe "${AT_NATIONAL[@]}" --key "$T/keys/natissuer.key" publish-mutated \
        --delegation "$T/keys/natissuer.delegation" --id "PK-BAD-P-$mutation" \
        --mutate "$mutation" "$@"
}

say "baseline: valid advisories (one sent by cc_probe unmutated), acked everywhere"
rc=0; out=$(natprobe none) || rc=$?
echo "unmutated probe: exit $rc: $out"
[ $rc = 0 ] && [[ $out == "stored PK-BAD-P-none rev 1: national/banking#"* ]] \
    || fail "an unmutated probe publish was not stored: exit $rc: $out"
publish natissuer "$NATIONAL" national --id PK-BAD-R-1 --title "Baseline" \
    --severity low --tlp clear --sector banking >/dev/null || fail "publish PK-BAD-R-1"
publish natissuer "$NATIONAL" national --id PK-BAD-O-1 --revision 2 --title "Baseline r2" \
    --severity low --tlp clear --sector banking >/dev/null || fail "publish PK-BAD-O-1 r2"
for agent in bank1 bank2; do
    wait_for 20 spooled $agent PK-BAD-R-1 || fail "$agent did not receive PK-BAD-R-1"
    wait_for 20 spooled $agent PK-BAD-O-1 2 || fail "$agent did not receive PK-BAD-O-1 r2"
    wait_for 20 spooled $agent PK-BAD-P-none || fail "$agent did not receive PK-BAD-P-none"
    for id in PK-BAD-R-1 PK-BAD-O-1 PK-BAD-P-none; do
        wait_for 20 ledger_has "$T/national/data" $id $agent || fail "no national ack from $agent for $id"
        wait_for 20 ledger_has "$T/banking/data" $id $agent || fail "no banking ack from $agent for $id"
    done
done
snapshot () {   # every ledger row, the national report, every spool file
    local data rows
    for data in national banking telecom; do
        echo "== $data"
        rows=$(certcast ledger --data "$T/$data/data" --format json) || return 1
        # rows only, without the separating commas
        printf '%s\n' "$rows" | grep '"advisory":' | sed 's/,$//'
    done
    certcast compliance --data "$T/national/data" --format csv || return 1
    for agent in bank1 bank2 tel1; do echo "== $agent"; spool_stamp $agent; done
}
before=$(snapshot) || fail "cannot read ledgers and report"
echo "$before" | grep -q '"advisory": "PK-BAD-R-1"' || fail "snapshot lacks the baseline rows"

# read_status HOST_PORT SERVER CLIENT: that broker's status JSON into STATUS.
STATUS=
read_status () {
    STATUS=$(broker_status "$1" "$2" "$3") || fail "status from $2 did not answer"
}

# expect REASON LABEL -- COMMAND...: run a bad input at the national
# broker (or the relay, with EXPECT_AT=relay); its output must name REASON
# and the broker must count one more refusal of that reason.
# The status after one bad input is the status before the next one at the
# same broker (nothing else is refused meanwhile), which halves the calls.
EXPECT_AT=national
declare -A LAST_STATUS=()
expect () {
    local reason=$1 label=$2; shift 3
    local where=("$NATIONAL" national natissuer)
    [ "$EXPECT_AT" = relay ] && where=("$RELAY" relay-banking bankissuer)
    if [ -z "${LAST_STATUS[$EXPECT_AT]:-}" ]; then
        read_status "${where[@]}"; LAST_STATUS[$EXPECT_AT]=$STATUS
    fi
    local was=${LAST_STATUS[$EXPECT_AT]}
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    echo "$label: exit $rc: $out"
    [ $rc = 1 ] || fail "$label: exit $rc, expected 1"
    [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "$label: reason is not one line"
    [[ $out == *"$reason"* ]] || fail "$label: expected '$reason', got: $out"
    read_status "${where[@]}"
    [ $(( $(json_number "$STATUS" refused_total) - $(json_number "$was" refused_total) )) = 1 ] \
        || fail "$label: refused_total did not go up by one: $was -> $STATUS"
    [ $(( $(json_number "$STATUS" "$reason") - $(json_number "$was" "$reason") )) = 1 ] \
        || fail "$label: the '$reason' counter did not go up by one: $was -> $STATUS"
    [ "$(json_number "$STATUS" published)" = "$(json_number "$was" published)" ] \
        || fail "$label: published count changed"
    LAST_STATUS[$EXPECT_AT]=$STATUS
}
say "forged and mis-signed advisories"
expect bad-signature "forged signature" -- natprobe sig-flip
expect bad-signature "bit-flipped advisory" -- natprobe adv-flip
expect bad-signature "signed by another key" -- natprobe wrong-key
expect untrusted "delegation from an unpinned root" -- natprobe untrusted
expect expired "delegation window passed" -- natprobe delegation-expired --root "$T/keys/root.key"

say "outside the issuer's scope"
expect out-of-scope "banking issuer for telecom" -- \
    publish bankissuer "$NATIONAL" national --id PK-BAD-SCOPE --title "Not mine" \
    --severity low --tlp clear --sector telecom

say "an issuer presenting another issuer's advisory"
expect not-allowed "natissuer sends the banking issuer's signed advisory" -- \
    probe "${AT_NATIONAL[@]}" --key "$T/keys/natissuer.key" publish-mutated \
    --sign-key "$T/keys/bankissuer.key" --delegation "$T/keys/bankissuer.delegation" \
    --id PK-BAD-PROXY --mutate none --sector banking

say "replay and rollback"
expect replay "same id and revision again" -- \
    publish natissuer "$NATIONAL" national --id PK-BAD-R-1 --title "Baseline" \
    --severity low --tlp clear --sector banking
expect replay "older revision after revision 2" -- \
    publish natissuer "$NATIONAL" national --id PK-BAD-O-1 --revision 1 \
    --title "Rollback" --severity low --tlp clear --sector banking
expect replay "revision 2 again" -- \
    publish natissuer "$NATIONAL" national --id PK-BAD-O-1 --revision 2 \
    --title "Baseline r2" --severity low --tlp clear --sector banking

say "outside the advisory's own window"
expect expired "expired advisory" -- natprobe expired
expect expired "issued in the future" -- natprobe future
expect malformed "no TLP label" -- natprobe no-tlp

say "frames that are not certcast"
expect malformed "truncated frame" -- natprobe truncate
expect malformed "garbage frame" -- natprobe garbage
expect malformed "empty frame" -- natprobe empty

say "an oversized frame drops the connection; the broker stays up"
read_status "$NATIONAL" national natissuer; was=$STATUS
rc=0; out=$(natprobe oversize --timeout 1500) || rc=$?
echo "oversize: exit $rc: $out"
[ $rc = 3 ] && [ "$out" = "no answer" ] || fail "oversized frame: expected no answer, got exit $rc: $out"
read_status "$NATIONAL" national natissuer
[ "$(json_number "$STATUS" published)" = "$(json_number "$was" published)" ] \
    || fail "oversized frame changed the published count"

say "a key in no allow directory gets no answer"
keygen stranger agent banking
for where in relay national; do
    if [ $where = relay ]; then at=("${AT_RELAY[@]}"); else at=("${AT_NATIONAL[@]}"); fi
    rc=0; out=$(probe "${at[@]}" --key "$T/keys/stranger.key" --timeout 1500 hello) || rc=$?
    echo "stranger hello at $where: exit $rc: $out"
    [ $rc = 3 ] && [ "$out" = "no answer" ] || fail "stranger at $where: expected no answer, got exit $rc: $out"
done
# (bounded from outside too: the CLI's --timeout must hold even when the
# CURVE handshake is refused before the request is sent)
rc=0; err=$(timeout 15 "$CC_BIN/certcast" status "${AT_RELAY[@]}" --key "$T/keys/stranger.key" \
            --timeout 3s 2>&1 >/dev/null) || rc=$?
echo "stranger status: exit $rc: $err"
[ $rc = 124 ] && fail "certcast status with an unknown key hung past its --timeout 3s"
[ $rc = 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "certcast status with an unknown key: exit $rc: $err"
rc=0; out=$(probe "${AT_RELAY[@]}" --key "$T/keys/bank1.key" hello) || rc=$?
[ $rc = 0 ] && [[ $out == welcome* ]] || fail "bank1's own hello at the relay: exit $rc: $out"

say "bad input at the banking relay"
EXPECT_AT=relay
relayprobe () {   # relayprobe MUTATION: publish-mutated as bankissuer
    probe "${AT_RELAY[@]}" --key "$T/keys/bankissuer.key" publish-mutated \
        --delegation "$T/keys/bankissuer.delegation" --id "PK-BAD-RP-$1" --mutate "$1"
}
expect bad-signature "forged signature at the relay" -- relayprobe sig-flip
expect malformed "truncated frame at the relay" -- relayprobe truncate

say "an ack signed by bank2 over bank1's connection is refused"
expect not-allowed "bank2's ack over bank1's connection" -- \
    probe "${AT_RELAY[@]}" --key "$T/keys/bank1.key" ack-as \
    --sign-key "$T/keys/bank2.key" --id PK-BAD-R-1 --revision 1
expect not-allowed "bank2's ack for an unknown id over bank1's connection" -- \
    probe "${AT_RELAY[@]}" --key "$T/keys/bank1.key" ack-as \
    --sign-key "$T/keys/bank2.key" --id PK-BAD-FORGED --revision 1

say "acks no hop could pass on, and floods of copies, are refused"
bank1ack () {   # bank1ack ARGS: bank1's own ack of PK-BAD-R-1 over its connection
    probe "${AT_RELAY[@]}" --key "$T/keys/bank1.key" ack-as --sign-key "$T/keys/bank1.key" \
        --id PK-BAD-R-1 --revision 1 --status failed "$@"
}
expect malformed "an ack of 2 MB (the relay could not pass it upstream)" -- bank1ack --reason-bytes 2000000
expect malformed "a reason of 300 bytes" -- bank1ack --reason-bytes 300
expect malformed "65 acks from one agent in one request" -- bank1ack --copies 65
EXPECT_AT=national
expect malformed "4097 acks from a relay in one request" -- \
    probe "${AT_NATIONAL[@]}" --key "$T/keys/relay-banking.key" ack-as \
    --sign-key "$T/keys/bank1.key" --id PK-BAD-R-1 --revision 1 --copies 4097

say "acks for advisories the relay does not hold: answered, counted, ledgered nowhere"
read_status "$RELAY" relay-banking bankissuer; was=$STATUS
for ack in "PK-BAD-NEVER 1" "PK-BAD-O-1 3"; do
    read -r id revision <<< "$ack"
    rc=0; out=$(probe "${AT_RELAY[@]}" --key "$T/keys/bank1.key" ack-as         --sign-key "$T/keys/bank1.key" --id "$id" --revision "$revision") || rc=$?
    echo "bank1's ack of $id rev $revision: exit $rc: $out"
    [ $rc = 0 ] && [ "$out" = "acked 0" ] \
        || fail "bank1's ack of $id rev $revision: expected 'acked 0', got exit $rc: $out"
done
read_status "$RELAY" relay-banking bankissuer
[ $(( $(json_number "$STATUS" acks_unknown) - $(json_number "$was" acks_unknown) )) = 2 ] \
    || fail "the relay should count 2 unknown ack entries: $was -> $STATUS"

say "nothing changed in any ledger, spool or report"
after=$(snapshot) || fail "cannot read ledgers and report"
if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after")
    fail "a refused input changed a ledger, spool or report"
fi
for data in national banking; do
    rows=$(certcast ledger --data "$T/$data/data" --format json) || fail "$data ledger"
    echo "$rows" | grep -q 'PK-BAD-FORGED' && fail "the forged ack is in the $data ledger"
    echo "$rows" | grep -q 'PK-BAD-NEVER' && fail "an ack of an unknown advisory is in the $data ledger"
done
report=$(certcast compliance --data "$T/national/data" --format csv) || fail "compliance"
echo "$report" | grep -E 'PK-BAD-(P-[a-z]|SCOPE|RP-)' | grep -v 'PK-BAD-P-none' \
    && fail "a refused advisory is in the national report"

say "the control: bank1 acking as itself an advisory the relay holds is accepted"
banking_rows=$(ledger_rows "$T/banking/data" PK-BAD-R-1)
national_rows=$(ledger_rows "$T/national/data" PK-BAD-R-1)
rc=0; out=$(probe "${AT_RELAY[@]}" --key "$T/keys/bank1.key" ack-as \
    --sign-key "$T/keys/bank1.key" --id PK-BAD-R-1 --revision 1 --status applied \
    --digest-of "$T/banking/data") || rc=$?
echo "bank1's own ack: exit $rc: $out"
[ $rc = 0 ] && [ "$out" = "acked 1" ] || fail "bank1's own ack was not accepted: exit $rc: $out"
wait_for 20 ledger_rows_at_least "$T/banking/data" PK-BAD-R-1 $((banking_rows + 1)) \
    || fail "control ack not in the banking ledger"
wait_for 20 ledger_rows_at_least "$T/national/data" PK-BAD-R-1 $((national_rows + 1)) \
    || fail "control ack not in the national ledger"

say "the daemons still serve: a valid advisory gets through"
publish natissuer "$NATIONAL" national --id PK-BAD-OK-1 --title "Still here" \
    --severity info --tlp clear --sector banking >/dev/null || fail "publish PK-BAD-OK-1"
for agent in bank1 bank2; do
    wait_for 20 spooled $agent PK-BAD-OK-1 || fail "$agent did not receive PK-BAD-OK-1"
    wait_for 20 ledger_has "$T/national/data" PK-BAD-OK-1 $agent || fail "no national ack from $agent for PK-BAD-OK-1"
done
for agent in bank1 bank2; do
    ls "$T/agents/$agent/spool" | grep -E 'PK-BAD-(P-[a-z]|SCOPE|RP-)' | grep -v 'PK-BAD-P-none' \
        && fail "$agent spooled a refused advisory"
done
[ "$(spool_count tel1)" = 0 ] || fail "tel1 received $(spool_count tel1) advisories, expected none"
read_status "$NATIONAL" national natissuer
echo "$STATUS"
read_status "$RELAY" relay-banking bankissuer
echo "$STATUS"

stop tel1; stop bank2; stop bank1
stop telecom; stop banking; stop national
say "ok"
