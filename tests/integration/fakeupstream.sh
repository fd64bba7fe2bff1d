#!/usr/bin/env bash
# A relay takes its upstream's word for stream names, numbering and heads,
# and only the pinned root's for content. Here a fake upstream
# (tests/tools/cc_fakeupstream.c, with the national broker's key) says
# what no real broker would, to a real certcast-relay; each part starts a
# fresh relay (its own name and data) behind a fresh fake.
#
# (a) scope: national/banking holds, in order, a banking advisory, an
#     expired banking one, a genuinely signed telecom-only one, and
#     another banking one. The relay stores and passes on the first two
#     (an expired advisory is the agents' to judge: numbering stays
#     dense) and stalls at the third, loudly: its head stays at 2.
# (b) names: the Welcome lists national/banking, a name of 300 bytes, one
#     with characters no node name has, the relay's own stream (with two
#     deliveries on it), then 300 streams oK/banking. The relay follows
#     256 streams (says so once), none of the bad names, stores
#     national/banking without one failed commit, a sectoral publish at
#     the relay lands at its own stream's #1, and its Welcome to agents
#     lists 257 streams (256 followed and its own).
# (c) junk: fetch replies of 5,000 and of 200 malformed entries, and a
#     reply nobody asked for: a few lines in the relay's log, not
#     thousands, and the unasked reply's delivery is not stored.
# (d) heads: a heartbeat on national/banking claims head 2^64 - 2 every
#     250 ms. The fetch each sets off finds head 1, so the relay counts
#     itself caught up (status, in most looks) and answers an agent's ack
#     of an advisory it does not hold "acked", not "not yet".
# (e) one ack the upstream will not take: the relay holds 8 advisories;
#     with the fake stopped, bank1 acks each (8 acks queued); the fake,
#     back, refuses (malformed) any batch holding the ack of the 5th. The
#     relay sends in halves until that ack is alone, passes over it with
#     an error (acks_refused_upstream 1), and the fake takes the other 7
#     (before, the batch of 8 was sent again for ever and none was taken).
source "$(dirname "$0")/lib.sh"
federation

FAKE_PORT=$(other_port)
# fake NAME ARGS...: a fake upstream on FAKE_PORT (the previous one stops).
fake () {
    local name=$1; shift
    [ -n "${PIDS[fake]:-}" ] && stop fake
    start_daemon fake "$CC_BIN/cc_fakeupstream" --listen "127.0.0.1:$FAKE_PORT" \
        --key "$T/keys/national.key" --issuer "$T/keys/natissuer.key" \
        --delegation "$T/keys/natissuer.delegation" "$@"
    say "$name: fake upstream started"
}
# relay NAME: a fresh banking relay called NAME behind the fake.
relay () {
    RELAY=$1
    RELAY_PORT=$(other_port)
    while [ "$RELAY_PORT" = "$FAKE_PORT" ]; do RELAY_PORT=$(other_port); done
    start_relay_as "$RELAY" banking "$RELAY_PORT" relay-banking "$T/banking/allow" \
        "$FAKE_PORT" national
    wait_for 20 log_has "$RELAY" "upstream: linked" || fail "$RELAY did not link to the fake"
}
relay_status () { broker_status "127.0.0.1:$RELAY_PORT" relay-banking bank1; }
relay_hello () {
    probe --to "127.0.0.1:$RELAY_PORT" --key "$T/keys/bank1.key" \
        --server-pub "$T/keys/relay-banking.pub" hello
}
# head_is STREAM N: the relay's status gives STREAM head N.
head_is () { relay_status | grep -q "\"$1\":$2[,}]"; }
log_count () { grep -c -- "$2" "$T/$1.log" 2>/dev/null || true; }

# --- (a) ------------------------------------------------------------------
fake "(a)" --advisory national/banking:banking \
    --advisory national/banking:banking:expired \
    --advisory national/banking:telecom --advisory national/banking:banking
relay ra
wait_for 20 log_has ra "upstream delivery national/banking#3 refused (out-of-scope: the advisory does not target" \
    || { relay_status; fail "(a) the telecom advisory on national/banking was not refused"; }
wait_for 10 head_is national/banking 2 || { relay_status; fail "(a) relay head is not 2"; }
sleep 1                     # the fetch retry (3 s) has not passed: no more
head_is national/banking 2 || { relay_status; fail "(a) relay went past the refused delivery"; }
out=$(relay_status)
[ "$(json_number "$out" forwards_refused)" -ge 1 ] || fail "(a) forwards_refused not counted: $out"
say "(a) expired banking advisory stored at #2, telecom one at #3 refused, stream stalled there"
stop ra

# --- (b) ------------------------------------------------------------------
long=$(printf 'x%.0s' $(seq 1 300))
fake "(b)" --advisory national/banking:banking --advisory "$long/banking:banking" \
    --advisory "Bad.Name/banking:banking" --advisory rb/banking:banking \
    --advisory rb/banking:banking --many 300
relay rb
wait_for 20 head_is national/banking 1 || { relay_status | head -c 600; fail "(b) national/banking not stored"; }
out=$(publish bankissuer "127.0.0.1:$RELAY_PORT" relay-banking --id PK-FAKE-B-1 \
    --title "sectoral during poison" --severity low --tlp clear --sector banking) \
    || fail "(b) sectoral publish at the relay failed: $out"
[[ $out == *"rb/banking#1"* ]] || fail "(b) sectoral publish not at rb/banking#1: $out"
count_heads () { relay_hello | tr ' ' '\n' | grep -c '#' || true; }
heads_are () { [ "$(count_heads)" = "$1" ]; }
wait_for 30 heads_are 257 || fail "(b) relay's Welcome lists $(count_heads) streams, expected 257"
[ "$(log_count rb 'commit failed')" = 0 ] || fail "(b) commits failed: $(grep -m1 'commit failed' "$T/rb.log")"
[ "$(log_count rb 'upstream: following')" = 256 ] || fail "(b) relay follows $(log_count rb 'upstream: following') streams"
log_has rb "following $long" && fail "(b) relay follows the 300-byte name"
log_has rb "following Bad.Name" && fail "(b) relay follows Bad.Name/banking"
log_has rb "following rb/banking" && fail "(b) relay follows its own stream from upstream"
[ "$(log_count rb 'more streams than the 256')" = 1 ] || fail "(b) the cap was not said exactly once"
log_has rb "does not take" || fail "(b) the bad names were not said"
say "(b) 256 followed, bad names refused, own stream kept ours, no failed commit"
stop rb

# --- (c) ------------------------------------------------------------------
fake "(c)" --advisory national/banking:banking \
    --stream n2/banking --say-head n2/banking:1 --junk n2/banking:5000 \
    --stream n3/banking --say-head n3/banking:1 --junk n3/banking:200 \
    --advisory n4/banking:banking --say-head n4/banking:0 --unsolicited n4/banking
relay rc
wait_for 20 head_is national/banking 1 || fail "(c) national/banking not stored"
fetched () { [ "$(log_count fake 'fetch n[23]/banking')" -ge "$1" ]; }
wait_for 20 fetched 2 || fail "(c) the junk streams were not fetched"
sleep 1
lines=$(grep -c 'upstream:.*\(malformed\|dropped\)' "$T/rc.log" || true)
[ "$lines" -le 3 ] || fail "(c) $lines log lines about junk replies"
[ "$lines" -ge 1 ] || fail "(c) the junk was not said at all"
head_is n4/banking 1 && fail "(c) a delivery from a reply nobody asked for was stored"
say "(c) junk replies said in $lines line(s); the unasked reply dropped"
stop rc

# --- (d) ------------------------------------------------------------------
fake "(d)" --heartbeat 250 --advisory national/banking:banking \
    --bogus-head national/banking:18446744073709551614
relay rd
wait_for 20 head_is national/banking 1 || fail "(d) national/banking not stored"
caught_up () { relay_status | grep -q '"caught_up":true'; }
wait_for 10 caught_up || fail "(d) relay never caught up: $(relay_status | grep -o '"upstream":{[^}]*')"
# Each bogus claim holds until the fetch it sets off is answered (a few
# ms): a look may fall in that window, but not most of them. Before, the
# claim held until the next Welcome (5 s), and came again 250 ms later.
seen=0
for attempt in $(seq 1 10); do
    caught_up && seen=$((seen + 1))
    sleep 0.2
done
[ $seen -ge 7 ] || fail "(d) relay caught up in only $seen of 10 looks"
ack () {
    probe --to "127.0.0.1:$RELAY_PORT" --key "$T/keys/bank1.key" \
        --server-pub "$T/keys/relay-banking.pub" ack-as \
        --sign-key "$T/keys/bank1.key" --id PK-FAKE-UNKNOWN --revision 1
}
acked () { [[ $(ack) == acked* ]]; }
wait_for 5 acked || fail "(d) an ack of an advisory not held: $(ack)"
say "(d) bogus heads do not hold the relay 'not caught up' ($seen of 10 looks)"
stop rd

# --- (e) ------------------------------------------------------------------
eight=()
for index in 1 2 3 4 5 6 7 8; do eight+=(--advisory national/banking:banking); done
fake "(e)" "${eight[@]}" --refuse-acks-for FAKE-5-
relay re
wait_for 20 head_is national/banking 8 || fail "(e) national/banking not stored"
ids=$(awk '$1 == "advisory" && $2 ~ /^FAKE-/ { print $2 }' "$T/fake.log" | tail -8)
stop fake
for id in $ids; do
    out=$(probe --to "127.0.0.1:$RELAY_PORT" --key "$T/keys/bank1.key" \
          --server-pub "$T/keys/relay-banking.pub" ack-as \
          --sign-key "$T/keys/bank1.key" --id "$id" --revision 1 \
          --digest-of "$T/$RELAY-data") || fail "(e) ack of $id: $out"
    [ "$out" = "acked 1" ] || fail "(e) ack of $id: $out"
done
lines=$(wc -l < "$T/fake.log")
fake "(e) again" "${eight[@]}" --refuse-acks-for FAKE-5-
refused_upstream_is () { [ "$(json_number "$(relay_status)" acks_refused_upstream)" = "$1" ]; }
taken () { tail -n +$((lines + 1)) "$T/fake.log" | awk '$1 == "acks" && $3 == "taken" { sum += $2 } END { print sum + 0 }'; }
taken_is () { [ "$(taken)" = "$1" ]; }
wait_for 30 refused_upstream_is 1 || fail "(e) acks_refused_upstream: $(relay_status | grep -o '"acks_refused_upstream":[0-9]*')"
wait_for 10 taken_is 7 || fail "(e) the fake took $(taken) acks, expected 7"
log_has re "upstream will not take ack" || fail "(e) the relay did not say which ack it passed over"
say "(e) one refused ack passed over, the other 7 taken ($(tail -n +$((lines + 1)) "$T/fake.log" | grep -c '^acks') batches)"
stop re

stop fake
say "ok"
