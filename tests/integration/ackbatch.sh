#!/usr/bin/env bash
# A relay's queue of acks goes upstream in batches that fit in a frame.
#
# One signed ack covers everything its agent committed in one cycle: an
# agent catching up acks a whole fetch (256 advisories, ~20 KB) with one
# signature. When many agents catch up while the national broker is
# away, the relay's queue holds megabytes of such acks; a batch larger
# than the 4 MiB frame cap would make the national broker drop the
# connection, and the relay would send the same batch again after every
# reconnect, so no ack of that relay would reach the national ledger
# again.
#
# 256 banking advisories are stored at the national broker and the
# relay; the national broker stops; 300 simulated agents (cc_swarm, each
# its own keys and connections) connect and catch up, so the relay
# ledgers 300 acks of ~256 entries each (~6 MB in its upstream queue).
# Then the national broker starts again.
# Pass: all 76,800 ack rows reach the national ledger within 120 s, and
# no ack is counted unknown there.
# AGENTS (default 300) and ADVISORIES (default 256) scale it.
source "$(dirname "$0")/lib.sh"
AGENTS=${AGENTS:-300}
ADVISORIES=${ADVISORIES:-256}

federation
mkdir -p "$T/keys/swarm"
"$CC_BIN/cc_swarm" keygen "$T/keys/swarm" "$AGENTS" --sector banking --prefix s 2>/dev/null \
    || fail "swarm keygen"
find "$T/keys/swarm" -name 's*.pub' -exec cp -t "$T/banking/allow/" {} +
cp "$T/keys/natissuer.pub" "$T/banking/allow/"   # to ask the relay for status
start_national
start_relay banking
wait_for 20 log_has banking "upstream: linked" || fail "the relay never linked upstream"

say "$ADVISORIES banking advisories"
"$CC_BIN/cc_bench" publish-rtt --to "127.0.0.1:$NATIONAL_PORT" --server-pub "$T/keys/national.pub" \
    --key "$T/keys/natissuer.key" --delegation "$T/keys/natissuer.delegation" --sector banking \
    --count "$ADVISORIES" --size 512 --window 64 --timeout 60 >"$T/publish.out" \
    || fail "publishing $ADVISORIES advisories"
relay_has_all () {
    [ "$(json_number "$(broker_status "127.0.0.1:$BANKING_PORT" relay-banking natissuer)" forwarded)" -ge "$ADVISORIES" ]
}
wait_for 60 relay_has_all || fail "the relay did not store all $ADVISORIES advisories"
stop national

say "$AGENTS agents catch up while the national broker is away"
"$CC_BIN/cc_swarm" run --relay "127.0.0.1:$BANKING_PORT" --relay-pub "$T/keys/relay-banking.pub" \
    --trust "$T/keys/root.pub" --keys "$T/keys/swarm" --prefix s --count "$AGENTS" \
    --data "$T/swarm-data" --threads 1 --expect "$ADVISORIES" >"$T/swarm.out" 2>"$T/swarm.log" &
PIDS[swarm]=$!
wait_for 120 grep -q '^caught-up' "$T/swarm.out" || fail "the agents did not all catch up: $(tail -1 "$T/swarm.log")"
queued=$(json_number "$(broker_status "127.0.0.1:$BANKING_PORT" relay-banking natissuer)" ack_rows)
say "the relay ledgered $queued ack rows"
[ "$queued" -ge $((AGENTS * ADVISORIES)) ] || fail "the relay holds $queued ack rows, not $((AGENTS * ADVISORIES))"
stop swarm

say "the national broker is back"
restart national
rows_at_national () {
    [ "$(json_number "$(broker_status "127.0.0.1:$NATIONAL_PORT" national natissuer)" ack_rows)" -ge $((AGENTS * ADVISORIES)) ]
}
wait_for 120 rows_at_national || fail "the national ledger has $(json_number "$(broker_status "127.0.0.1:$NATIONAL_PORT" national natissuer)" ack_rows) of $((AGENTS * ADVISORIES)) ack rows: $(grep -c 'silent for' "$T/banking.log") reconnects logged by the relay"
status=$(broker_status "127.0.0.1:$NATIONAL_PORT" national natissuer)
[ "$(json_number "$status" acks_unknown)" = 0 ] || fail "acks counted unknown at the national broker: $status"
say "ok: $(json_number "$status" ack_rows) rows"
