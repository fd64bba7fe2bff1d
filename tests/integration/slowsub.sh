#!/usr/bin/env bash
# Slow subscribers: deliveries the PUB drops are repaired by Fetch, and
# memory stays bounded.
#
# A national broker, the banking relay with the smallest stream send
# high-water mark (--pub-hwm 1: the relay's PUB keeps at most one message
# per subscriber in flight and drops the rest), agent bank1 whose
# hand-over is slow (--exec "sleep 0.05": every advisory waits for a 50 ms
# command, during which the agent reads nothing) and agent bank2 with a
# normal hand-over. Four publishers send a burst of ADVISORIES (default
# 200) banking and all-sector advisories of about 3 KB each to the
# national broker in parallel, each retried until "stored" and only then
# recorded; meanwhile one client sends BURST (default 100) more banking
# advisories with all of them in flight (cc_bench publish-rtt --window).
# The national broker commits and streams them in batches; the relay
# forwards what it has verified back to back (up to 32 at a time), so its
# PUB drops deliveries to both agents; each agent learns the head from the
# next heartbeat and fetches the gap from the relay's log. (The relay
# verifies as deliveries arrive and so sends smaller bursts than it did;
# the publishers alone, slowed by the sanitizer build's process start,
# sometimes made no drop at all.)
#
# Pass: cc_history over the stored file, both agents' inboxes and the
# national ledger finds nothing lost, nothing unexpected and no duplicate
# (bounded wait); the relay served deliveries by Fetch during the burst
# (its status "deliveries_served" grew: drops happened and were
# repaired); the peak RSS (VmRSS sampled every 100 ms) of the relay stays
# below RELAY_RSS_MB (default 200) and of each agent below AGENT_RSS_MB
# (default 200); every daemon exits 0 with no sanitizer report.
#
# The agents keep their default SUB receive high-water mark: a small one
# on a slow SUB makes libzmq 4.3.4 abort in its I/O thread
# ("Assertion failed: !_io_error (src/stream_engine_base.cpp:331)", libzmq
# issues 3937, 4364, 4767) once the relay's ZMTP heartbeat times out a
# connection whose input is stalled.
source "$(dirname "$0")/lib.sh"
ADVISORIES=${ADVISORIES:-200}
BURST=${BURST:-100}
PUBLISHERS=${PUBLISHERS:-4}
RELAY_RSS_MB=${RELAY_RSS_MB:-200}
AGENT_RSS_MB=${AGENT_RSS_MB:-200}
# Background helpers of this test (publishers, RSS sampler): stopped by
# PID at exit, before lib.sh stops the daemons.
HELPERS=()
trap 'for pid in "${HELPERS[@]}"; do kill "$pid" 2>/dev/null; done; cc_cleanup' EXIT
say "$ADVISORIES advisories from $PUBLISHERS publishers; relay --pub-hwm 1, bank1 slow"

federation
start_national
start_relay banking --pub-hwm 1
start_agent bank1 banking --exec "sleep 0.05"
start_agent bank2 banking

NATIONAL=127.0.0.1:$NATIONAL_PORT
RELAY=127.0.0.1:$BANKING_PORT
STORED=$T/stored.txt
: > "$STORED"
# About 3 KB of body: realistic advisories, not empty frames.
for line in $(seq 1 40); do
    echo "Line $line of the advisory body: patch, mitigate, report to your CERT."
done > "$T/body.md"

# relay_served: SERVED = deliveries the relay served by Fetch so far (a
# variable, not output: fail must end the test, not a subshell).
relay_served () {
    local out
    out=$(broker_status "$RELAY" relay-banking bank2) || fail "relay status"
    [[ $out == *'"deliveries_served":'* ]] || fail "relay status: $out"
    SERVED=$(json_number "$out" deliveries_served)
}
history () {
    "$CC_BIN/cc_history" --stored "$STORED" --ledger "$T/national/data" \
        --agent "bank1:banking:$T/agents/bank1/data:$T/keys/bank1.pub" \
        --agent "bank2:banking:$T/agents/bank2/data:$T/keys/bank2.pub"
}

# publish_stored ID SECTOR: retry until the broker says stored (or that an
# earlier attempt was), then record it.
publish_stored () {
    local id=$1 sectors=$2 attempt=0 out status
    while :; do
        attempt=$((attempt + 1))
        out=$(publish natissuer "$NATIONAL" national --id "$id" \
            --title "slow subscriber test $id" --severity low --tlp clear \
            --sector "$sectors" --body-file "$T/body.md" --timeout 5s 2>&1)
        status=$?
        if [ $status = 0 ] || [[ $out == *"already accepted"* ]]; then
            echo "$id 1 $sectors" >> "$STORED"
            return 0
        fi
        [ $attempt -ge 20 ] && { echo "publish $id never stored: $out"; return 1; }
        sleep 0.2           # back off before retrying, not synchronisation
    done
}
# publisher K: every PUBLISHERS-th advisory, starting at K.
publisher () {
    local index
    for ((index = $1; index <= ADVISORIES; index += PUBLISHERS)); do
        if [ $((index % 4)) = 0 ]; then
            publish_stored "SLOW-$index" all || return 1
        else
            publish_stored "SLOW-$index" banking || return 1
        fi
    done
}

say "warm-up: the banking stream exists and both agents follow it"
publish_stored SLOW-0 banking || fail "warm-up publish"
wait_for 20 history || { history; fail "warm-up advisory not delivered"; }
relay_served; served_before=$SERVED

# rss_sampler: VmRSS (kB) of each daemon every 100 ms until stopped.
rss_sampler () {
    local name pid rss
    while :; do
        for name in national banking bank1 bank2; do
            pid=${PIDS[$name]}
            rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
            [ -n "$rss" ] && echo "$name $rss"
        done
        sleep 0.1
    done
}
rss_sampler > "$T/rss.txt" &
SAMPLER=$!
HELPERS+=($SAMPLER)

say "burst"
started=$(date +%s%N)
declare -a publishers=()
for k in $(seq 1 "$PUBLISHERS"); do
    publisher "$k" > "$T/publisher-$k.log" 2>&1 &
    publishers+=($!)
    HELPERS+=($!)
done
"$CC_BIN/cc_bench" publish-rtt --to "$NATIONAL" --server-pub "$T/keys/national.pub" \
    --key "$T/keys/natissuer.key" --delegation "$T/keys/natissuer.delegation" \
    --sector banking --count "$BURST" --size 3000 --window "$BURST" \
    --times "$T/burst.ids" > "$T/burst.log" 2>&1 &
burst=$!
HELPERS+=($burst)
for k in "${!publishers[@]}"; do
    wait "${publishers[$k]}" || { cat "$T/publisher-$((k + 1)).log"; fail "publisher $((k + 1)) failed"; }
done
wait $burst || { cat "$T/burst.log"; fail "the burst client failed"; }
awk '{ print $1, 1, "banking" }' "$T/burst.ids" >> "$STORED"
published_ms=$(( ($(date +%s%N) - started) / 1000000 ))
say "stored $(wc -l < "$STORED") advisories in $published_ms ms"

# bank1 hands over 50 ms per advisory: allow for that and then some.
limit=$(( (ADVISORIES + BURST) * 3 / 20 + 60 ))
wait_for $limit history || { history | tail -20; fail "history check failed"; }
done_ms=$(( ($(date +%s%N) - started) / 1000000 ))
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
history

relay_served; served=$((SERVED - served_before))
peak () { awk -v n="$1" '$1 == n && $2 > max { max = $2 } END { print int(max / 1024) }' "$T/rss.txt"; }
say "figures: $((ADVISORIES + BURST)) advisories, all delivered and acked in $done_ms ms;" \
    "relay repaired $served deliveries by fetch;" \
    "peak RSS MiB: national $(peak national), relay $(peak banking)," \
    "bank1 $(peak bank1), bank2 $(peak bank2)"
[ "$served" -gt 0 ] || fail "the relay served no fetch: no delivery was dropped, the test proved nothing"
[ "$(grep -c '^banking ' "$T/rss.txt")" -gt 10 ] || fail "too few RSS samples"
[ "$(peak banking)" -lt "$RELAY_RSS_MB" ] || fail "relay peak RSS $(peak banking) MiB (bound $RELAY_RSS_MB)"
for agent in bank1 bank2; do
    [ "$(peak $agent)" -lt "$AGENT_RSS_MB" ] || fail "$agent peak RSS $(peak $agent) MiB (bound $AGENT_RSS_MB)"
done

stop bank2; stop bank1; stop banking; stop national
say "ok"
