#!/usr/bin/env bash
# A relay behind its own agent loses no receipt. The banking relay is
# restored from a backup taken before PK-LAG-2, and restarted while the
# national broker is down, so it cannot catch up; agent bank1 holds
# PK-LAG-2 and its ack is not yet answered (its spool's sync is slow).
# - bank1's ack names an advisory the relay does not hold yet: the relay
#   answers not-yet (counted in acks_deferred, not acks_unknown; status
#   says upstream.caught_up false), keeps no row for it, and bank1 keeps
#   the ack in its outbox.
# - cc_probe's own ack of PK-LAG-2 gets "error not-yet" too, one line.
# - The national broker comes back: the relay fetches PK-LAG-2, bank1's
#   resent ack (it kept it) is ledgered at the relay and reaches the
#   national ledger; bank1 hands nothing over again when the relay streams
#   PK-LAG-2 anew.
# - A relay that is caught up still answers an ack of an advisory nobody
#   published "acked 0" and counts it in acks_unknown (badinput.sh has the
#   rest of that rule).
source "$(dirname "$0")/lib.sh"
federation
start_national
start_relay banking
RELAY="127.0.0.1:$BANKING_PORT"
AT_RELAY=(--to "$RELAY" --server-pub "$T/keys/relay-banking.pub")
relay_status () { broker_status "$RELAY" relay-banking bankissuer; }
relay_counter () { json_number "$(relay_status)" "$1"; }
counter_reaches () { [ "$(relay_counter "$1")" -ge "$2" ]; }
probe_ack () {  # probe_ack ID: bank1's own signed ack of ID revision 1
    probe "${AT_RELAY[@]}" --key "$T/keys/bank1.key" ack-as \
        --sign-key "$T/keys/bank1.key" --id "$1" --revision 1
}
publish_banking () {
    publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id "$1" \
        --title "lagging relay $1" --severity high --tlp clear --sector banking \
        >/dev/null || fail "publish $1"
}

say "the relay holds PK-LAG-1; its data directory is backed up"
publish_banking PK-LAG-1
wait_for 20 counter_reaches forwarded 1 || fail "relay did not forward PK-LAG-1"
stop banking
cp -a "$T/banking/data" "$T/banking-backup"
start_relay banking

say "bank1 receives PK-LAG-1 and PK-LAG-2; its spool directory's sync is slow"
# An ack goes once its spool files are durable: their directory's fsync,
# 6 s late under strace, keeps bank1's ack of PK-LAG-2 unsent that long
# (the agent's LMDB commits use fdatasync, not delayed). Stopping the
# tracer stops the agent with the same signal.
command -v strace >/dev/null || { echo "SKIP: needs strace"; exit 0; }
mkdir -p "$T/agents/bank1/spool"
start_daemon bank1 strace -f -qq -o /dev/null -e trace=fsync \
    -e inject=fsync:delay_enter=6000000 "$CC_BIN/certcast-agent" \
    --relay "127.0.0.1:$BANKING_PORT" --relay-pub "$T/keys/relay-banking.pub" \
    --data "$T/agents/bank1/data" --key "$T/keys/bank1.key" \
    --trust "$T/keys/root.pub" --spool "$T/agents/bank1/spool" --heartbeat $HEARTBEAT
#   PIDS[bank1] becomes the agent's own PID: a SIGTERM to strace would
#   leave it running.
TRACER=${PIDS[bank1]}
wait_for 10 pgrep -P "$TRACER" || fail "no traced bank1"
PIDS[bank1]=$(pgrep -P "$TRACER")
wait_for 20 spooled bank1 PK-LAG-1 || fail "PK-LAG-1 not at bank1"
publish_banking PK-LAG-2
wait_for 20 spooled bank1 PK-LAG-2 || fail "PK-LAG-2 not at bank1"
ledger_has "$T/banking/data" PK-LAG-2 bank1 \
    && fail "bank1's ack of PK-LAG-2 answered before the relay was restored; slow the sync"

say "the relay is restored from the backup while the national broker is down"
# Both spool files are in place (the ack waits for their directory's sync).
stamp=$(spool_stamp bank1)
[ "$(printf '%s\n' "$stamp" | grep -c PK-LAG-)" = 2 ] || fail "bank1's spool: $stamp"
stop banking
rm -rf "$T/banking/data"
cp -a "$T/banking-backup" "$T/banking/data"
stop national
start_relay banking

say "bank1's ack of PK-LAG-2 is sent back for later, not lost"
wait_for 30 counter_reaches acks_deferred 1 || fail "relay deferred nothing: $(relay_status)"
wait_for 10 log_has bank1 "does not hold what ack" \
    || fail "bank1 did not log the relay's not-yet"
status=$(relay_status)
echo "relay while cut off: $status"
[ "$(json_number "$status" acks_unknown)" = 0 ] || fail "acks counted unknown: $status"
[ "$(json_number "$status" refused_total)" = 0 ] || fail "a not-yet counted as a refusal: $status"
[[ $status == *'"caught_up":false'* ]] || fail "status does not say the relay is behind: $status"
ledger_has "$T/banking/data" PK-LAG-2 bank1 && fail "a row for an advisory the relay does not hold"
rc=0; out=$(probe_ack PK-LAG-2 2>&1) || rc=$?
echo "cc_probe's ack of PK-LAG-2: exit $rc: $out"
[ $rc = 1 ] && [[ $out == "error not-yet"* ]] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] \
    || fail "expected one line 'error not-yet', got exit $rc: $out"

say "the national broker is back: the relay catches up and the receipt arrives"
restart national
wait_for 30 ledger_has "$T/banking/data" PK-LAG-2 bank1 \
    || fail "bank1's ack of PK-LAG-2 never reached the relay's ledger"
wait_for 30 ledger_has "$T/national/data" PK-LAG-2 bank1 \
    || fail "bank1's ack of PK-LAG-2 never reached the national ledger"
wait_for 30 ledger_has "$T/national/data" PK-LAG-1 bank1 \
    || fail "bank1's ack of PK-LAG-1 is not in the national ledger"
status=$(relay_status)
[[ $status == *'"caught_up":true'* ]] || fail "status does not say the relay caught up: $status"

[ "$(spool_stamp bank1)" = "$stamp" ] \
    || fail "bank1 handed something over again when the relay caught up"

say "caught up, an ack of an advisory nobody published is answered and counted"
was=$(relay_counter acks_unknown)
rc=0; out=$(probe_ack PK-LAG-NEVER 2>&1) || rc=$?
echo "cc_probe's ack of PK-LAG-NEVER: exit $rc: $out"
[ $rc = 0 ] && [ "$out" = "acked 0" ] || fail "expected 'acked 0', got exit $rc: $out"
[ "$(relay_counter acks_unknown)" = $((was + 1)) ] || fail "acks_unknown did not go up by one"

kill -TERM "${PIDS[bank1]}"
wait "$TRACER" || fail "bank1 exited $?"
unset "PIDS[bank1]"
sanitizer_clean bank1 || fail "sanitizer report in bank1.log"
stop banking
stop national
say "ok"
