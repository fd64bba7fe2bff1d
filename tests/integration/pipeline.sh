#!/usr/bin/env bash
# The verification pipeline of a broker engine (cc_engine_verify.c): signature
# checks run on worker actors while the engine reads, commits and answers.
# A national broker, the banking relay with agent bank1, and the telecom relay
# with agent tel1.
# - An ack flood at the banking relay: 20,000 signed acks from 100 agent keys
#   over one link, 256 requests in flight (cc_bench ack-ingest). Every one is
#   answered, the relay's ack_rows grows by exactly 20,000, and while they
#   are checked the relay's status shows checks queued (`verifying` > 0);
#   afterwards none, and intake not paused.
# - An advisory published at the national broker during the flood reaches the
#   flooded relay and bank1 while the flood is still going: advisories are
#   checked ahead of queued acks, and their lane does not wait for the acks'.
# - A relay that cannot verify what its upstream sends (it pins another root)
#   writes none of it, says so in its log and keeps its stream head at 0;
#   303 deliveries behind (more than one fetch's worth), it fetches at most
#   12 times in 6 s (before: 32, a fetch loop); started again with the right
#   root it fetches the stream from the first delivery and tel1 gets all of
#   it.
source "$(dirname "$0")/lib.sh"
FLOOD=${FLOOD:-20000}
federation
keygen root2 root all
keygen downstream relay banking
cp "$T/keys/downstream.pub" "$T/banking/allow/"
start_national
start_relay banking
start_agent bank1 banking
RELAY="127.0.0.1:$BANKING_PORT"

relay_status () { broker_status "$RELAY" relay-banking bankissuer; }

advisories=$(( FLOOD / 100 ))
say "publish $advisories banking advisories for the flood to ack"
"$CC_BIN/cc_bench" publish-rtt --to "127.0.0.1:$NATIONAL_PORT" \
    --server-pub "$T/keys/national.pub" --key "$T/keys/natissuer.key" \
    --delegation "$T/keys/natissuer.delegation" --sector banking \
    --count "$advisories" --size 200 --window 50 --times "$T/flood.ids" >/dev/null \
    || fail "publishing the flood's advisories"
at_relay () { [ "$(json_number "$(relay_status)" "national/banking")" -ge "$1" ]; }
wait_for 60 at_relay "$advisories" || fail "the advisories did not reach the relay"
# bank1 acks each of them; let those settle so the flood's rows are counted alone.
rows_settled () {
    local a b
    a=$(json_number "$(relay_status)" ack_rows); sleep 0.3
    b=$(json_number "$(relay_status)" ack_rows)
    [ "$a" = "$b" ] && [ "$a" -ge "$advisories" ]
}
wait_for 60 rows_settled || fail "bank1's acks did not settle at the relay"
rows0=$(json_number "$(relay_status)" ack_rows)

say "flood: $FLOOD signed acks over one link, 256 in flight"
"$CC_BIN/cc_bench" ack-ingest --to "$RELAY" --server-pub "$T/keys/relay-banking.pub" \
    --key "$T/keys/downstream.key" --count "$FLOOD" --agents 100 --batch 1 --window 256 \
    --ids "$T/flood.ids" --data "$T/banking/data" --timeout 120 >"$T/flood.out" 2>&1 &
flood=$!
queued () { [ "$(json_number "$(relay_status)" verifying)" -gt 0 ]; }
wait_for 30 queued || fail "the relay never showed checks queued during the flood"
kill -0 $flood 2>/dev/null || fail "the flood ended before the advisory could be sent: raise FLOOD"

say "publish one advisory at the national broker during the flood"
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id PK-PIPE-1 \
    --title "During the flood" --severity critical --tlp green --sector banking >/dev/null \
    || fail "publish during the flood"
wait_for 30 spooled bank1 PK-PIPE-1 || fail "bank1 did not receive PK-PIPE-1"
kill -0 $flood 2>/dev/null \
    || fail "PK-PIPE-1 reached bank1 only after the flood ended: it waited behind the acks"
say "PK-PIPE-1 reached bank1 while the relay was still checking the flood"

wait $flood || { cat "$T/flood.out"; fail "cc_bench ack-ingest exit $?"; }
grep -E "^(acks_per_s|answered|rows_new) " "$T/flood.out" | sed 's/^/# /'
[ "$(awk '$1 == "answered" { print $2 }' "$T/flood.out")" = "$FLOOD" ] \
    && [ "$(awk '$1 == "rows_new" { print $2 }' "$T/flood.out")" = "$FLOOD" ] \
    || fail "not every flood ack was answered as a new row: $(cat "$T/flood.out")"
# bank1's ack of PK-PIPE-1 is the one row besides the flood's.
flood_rows () { [ "$(json_number "$(relay_status)" ack_rows)" -ge $(( rows0 + FLOOD + 1 )) ]; }
wait_for 30 flood_rows || fail "the flood's rows are not all ledgered"
sleep 0.5
status=$(relay_status)
[ "$(json_number "$status" ack_rows)" = $(( rows0 + FLOOD + 1 )) ] \
    || fail "ack_rows $(json_number "$status" ack_rows), expected $(( rows0 + FLOOD + 1 )): $status"
[ "$(json_number "$status" verifying)" = 0 ] || fail "checks still queued after the flood: $status"
[[ $status == *'"intake_paused":false'* ]] || fail "intake still paused after the flood: $status"
[ "$(json_number "$status" refused_total)" = 0 ] || fail "the relay refused something: $status"

say "a telecom relay pinning another root writes nothing of its stream"
cp "$T/keys/tel1.pub" "$T/telecom/allow/"
start_daemon telecom "$CC_BIN/certcast-relay" --sector telecom \
    --upstream "127.0.0.1:$NATIONAL_PORT" --upstream-pub "$T/keys/national.pub" \
    --listen "127.0.0.1:$TELECOM_PORT" --data "$T/telecom/data" \
    --key "$T/keys/relay-telecom.key" --trust "$T/keys/root2.pub" \
    --allow "$T/telecom/allow" --heartbeat $RELAY_HEARTBEAT
for n in 1 2 3; do
    publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id "PK-TEL-$n" \
        --title "Telecom $n" --severity high --tlp green --sector telecom >/dev/null \
        || fail "publish PK-TEL-$n"
done
wait_for 20 log_has telecom "upstream delivery national/telecom#1 refused (untrusted" || fail "the relay did not say why it wrote nothing"
# More than one fetch's worth behind a delivery it cannot verify: the relay
# asks again at its retry pace, not in a loop (it fetched 175 times in 10 s).
"$CC_BIN/cc_bench" publish-rtt --to "127.0.0.1:$NATIONAL_PORT" \
    --server-pub "$T/keys/national.pub" --key "$T/keys/natissuer.key" \
    --delegation "$T/keys/natissuer.delegation" --sector telecom --count 300 \
    >/dev/null || fail "publish 300 to telecom"
NSTATUS=(127.0.0.1:$NATIONAL_PORT national natissuer)
sleep 2
fetches0=$(json_number "$(broker_status "${NSTATUS[@]}")" fetches)
sleep 6
fetches1=$(json_number "$(broker_status "${NSTATUS[@]}")" fetches)
echo "fetches served in 6 s to a stalled relay: $((fetches1 - fetches0))"
[ $((fetches1 - fetches0)) -le 12 ] \
    || fail "a stalled relay fetched $((fetches1 - fetches0)) times in 6 s"
tstatus=$(broker_status "127.0.0.1:$TELECOM_PORT" relay-telecom tel1) || fail "telecom status"
[ "$(json_number "$tstatus" "national/telecom")" = 0 ] \
    || fail "the relay wrote deliveries it could not verify: $tstatus"
stop telecom
say "started again with the right root: the whole stream, from the first delivery"
start_relay telecom
start_agent tel1 telecom
for n in 1 2 3; do
    wait_for 30 spooled tel1 "PK-TEL-$n" || fail "tel1 did not receive PK-TEL-$n"
done
wait_for 30 eval '[ "$(json_number "$(broker_status "127.0.0.1:$TELECOM_PORT" relay-telecom tel1)" "national/telecom")" = 303 ]' \
    || fail "telecom head: $(broker_status "127.0.0.1:$TELECOM_PORT" relay-telecom tel1)"

for name in tel1 telecom bank1 banking national; do stop "$name"; done
say "ok"
