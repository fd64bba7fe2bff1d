#!/usr/bin/env bash
# Durability order: a data sync of the LMDB file happens before every
# "stored" reply of the national broker and before every "acked" of a
# relay - shown with strace, not assumed.
#
# - The national broker runs under `strace -f`; five advisories are
#   published one by one. In the trace, every reply MESSAGE on a publisher
#   connection comes after an fdatasync(data.mdb) that completed after the
#   request arrived (tests/tools/sync_order.awk).
# - The banking relay takes the five advisories from the national broker,
#   then runs alone under strace; five acks of them signed by bank1 are
#   sent over bank1's connection (cc_probe ack-as); each is ledgered
#   ("acked 1"), and every "acked" reply must come after a data sync that
#   followed its request.
# - The checker is shown to fail on a trace where a reply precedes the sync.
# - With every fdatasync of the running broker made to fail (strace
#   fault injection), a publish is refused with "storage", nothing is
#   streamed, and after the fault is removed the same publish is stored.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || { echo "SKIP: strace is not installed"; exit 0; }
AWK="$(dirname "$0")/../tools/sync_order.awk"
TRACED="fdatasync,fsync,sendto,sendmsg,recvfrom,recvmsg"
federation
HEARTBEAT=60000     # no ZMTP pings on the traced connections

# start_traced NAME PROGRAM ARGS...: the daemon under strace; PIDS[NAME]
# becomes the daemon's own PID so `stop` signals the daemon itself.
start_traced () {
    local name=$1; shift
    start_daemon "$name" strace -f -tt -yy -e trace=$TRACED -o "$T/$name.trace" "$@"
    local tracer=${PIDS[$name]}
    wait_for 10 pgrep -P "$tracer" || fail "no traced $name"
    PIDS[$name]=$(pgrep -P "$tracer")
    TRACERS[$name]=$tracer
}
declare -A TRACERS=()
# stop_traced NAME: SIGTERM to the daemon; strace exits with its status.
stop_traced () {
    local status
    kill -TERM "${PIDS[$1]}"
    wait "${TRACERS[$1]}"; status=$?
    unset "PIDS[$1]"
    [ $status = 0 ] || fail "$1 exited $status"
    sanitizer_clean "$1" || fail "sanitizer report in $1.log"
}

say "national broker under strace: 5 publishes"
start_traced national "$CC_BIN/certcast-broker" --listen "127.0.0.1:$NATIONAL_PORT" \
    --data "$T/national/data" --key "$T/keys/national.key" --trust "$T/keys/root.pub" \
    --allow "$T/national/allow" --heartbeat $HEARTBEAT
for index in 1 2 3 4 5; do
    publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id "DUR-$index" \
        --title "durability $index" --severity low --tlp clear --sector banking \
        || fail "publish DUR-$index"
done

stop_traced national

#   A relay ledgers acks only for advisories it holds.
say "the banking relay takes DUR-1..5 from the national broker"
start_national
start_relay banking
relay_holds_all () {
    broker_status "127.0.0.1:$BANKING_PORT" relay-banking bank1 \
        | grep -q '"national/banking":5'
}
wait_for 20 relay_holds_all || fail "the relay did not take DUR-1..5"
stop banking
stop national

#   The relay runs alone (its upstream is down and it keeps trying), so
#   the only connections to its control port are the probe's.
say "banking relay under strace: 5 acks from bank1"
start_traced banking "$CC_BIN/certcast-relay" --sector banking \
    --upstream "127.0.0.1:$NATIONAL_PORT" --upstream-pub "$T/keys/national.pub" \
    --listen "127.0.0.1:$BANKING_PORT" --data "$T/banking/data" \
    --key "$T/keys/relay-banking.key" --trust "$T/keys/root.pub" \
    --allow "$T/banking/allow" --heartbeat $HEARTBEAT
for index in 1 2 3 4 5; do
    out=$("$CC_BIN/cc_probe" --to "127.0.0.1:$BANKING_PORT" --key "$T/keys/bank1.key" \
        --server-pub "$T/keys/relay-banking.pub" ack-as --sign-key "$T/keys/bank1.key" \
        --id "DUR-$index" --revision 1 --digest-of "$T/banking/data") || fail "ack DUR-$index: $out"
    [ "$out" = "acked 1" ] || fail "ack DUR-$index: $out"
done

say "fault injection: every data sync of the running broker fails"
stop_traced banking
start_national
NATIONAL_PID=${PIDS[national]}
strace -f -p "$NATIONAL_PID" -e trace=fdatasync -e inject=fdatasync:error=EIO \
    -o "$T/inject.trace" 2>"$T/inject.log" &
INJECTOR=$!
wait_for 10 grep -q "attached" "$T/inject.log" || fail "strace did not attach"
heads_before=$(certcast status --to "127.0.0.1:$NATIONAL_PORT" --server-pub "$T/keys/national.pub" \
    --key "$T/keys/natissuer.key" | grep -o '"streams":{[^}]*}')
if out=$(publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id DUR-EIO \
        --title "not durable" --severity low --tlp clear --sector banking 2>&1); then
    fail "publish was acknowledged although its data sync failed: $out"
fi
echo "$out"
[[ $out == *storage* ]] || fail "refusal does not say storage: $out"
kill -TERM $INJECTOR; wait $INJECTOR 2>/dev/null
kill -0 "$NATIONAL_PID" || fail "broker died after a failed commit"
heads_after=$(certcast status --to "127.0.0.1:$NATIONAL_PORT" --server-pub "$T/keys/national.pub" \
    --key "$T/keys/natissuer.key" | grep -o '"streams":{[^}]*}')
[ "$heads_before" = "$heads_after" ] || fail "a refused publish moved a stream: $heads_before -> $heads_after"
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id DUR-EIO \
    --title "durable now" --severity low --tlp clear --sector banking \
    || fail "publish after the fault was removed"
stop national

say "sync order in the traces"
awk -v port=$((NATIONAL_PORT + 1)) -f "$AWK" "$T/national.trace" || fail "national: reply before data sync"
awk -v port=$((BANKING_PORT + 1)) -f "$AWK" "$T/banking.trace" || fail "relay: acked before data sync"
national_replies=$(awk -v port=$((NATIONAL_PORT + 1)) -f "$AWK" "$T/national.trace" | cut -d' ' -f1)
[ "$national_replies" -ge 5 ] || fail "only $national_replies replies seen at the national broker"

say "the checker fails on a reply that does not wait for the sync"
cat > "$T/bad.trace" <<TRACE
100  10:00:00.000100 recvfrom(9<TCP:[127.0.0.1:5001->127.0.0.1:40000]>, "\\2\\0MESSAGE", 8192, 0, NULL, NULL) = 300
100  10:00:00.000200 sendto(9<TCP:[127.0.0.1:5001->127.0.0.1:40000]>, "\\0MESSAGE", 217, 0, NULL, 0) = 217
101  10:00:00.000300 fdatasync(12</x/data.mdb>) = 0
TRACE
if awk -v port=5001 -f "$AWK" "$T/bad.trace"; then fail "checker accepted a reply before the sync"; fi
say "ok"
