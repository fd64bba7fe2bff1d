#!/usr/bin/env bash
# Network partitions: nothing stored is lost when links go down and heal.
#
# Three network namespaces created (and removed) by this test, joined by
# two veth pairs, each a /30 of 10.231.0.0/16 that exists only inside them:
#
#   cc-nat-PID  national broker   10.231.1.1:7400 (+7401)
#        | veth 10.231.1.0/30
#   cc-rel-PID  banking relay     upstream 10.231.1.1:7400,
#        |                        listens 10.231.2.1:7410 (+7411)
#        | veth 10.231.2.0/30
#   cc-agt-PID  agents bank1, bank2, following 10.231.2.1:7410
#
# Every daemon runs with --heartbeat 500 (a relay calls its upstream dead
# after 4 intervals of silence, an agent its relay after 3). The national
# issuer publishes from inside cc-nat-PID; each advisory is retried until
# the broker answers "stored" and only then written to the stored file.
#
# (a) short cut: the relay<->agents link goes down for 0.8 s (less than
#     the agents' dead-after) while advisories are published; healed,
#     every advisory reaches both agents and their acks the national
#     ledger.
# (b) upstream cut: national<->relay down for 5 s while advisories are
#     published. The relay must log "silent" within 5 heartbeats of the
#     cut (4 of silence plus at most one engine tick), and the agents must
#     not (the relay itself is alive); healed, the relay logs "linked"
#     again, fetches the gap from the national log, and everything reaches
#     the agents and the national ledger.
# (c) agent-side cut: relay<->agents down for 5 s while advisories are
#     published. Each agent must log "silent" within 4 heartbeats of the
#     cut (3 of silence plus its 100 ms tick) and "back" after the heal;
#     everything reaches both agents and the national ledger.
#
# (d) vanished agents: relay<->agents cut for good. The relay must drop
#     every connection from them within 30 heartbeats of unanswered data
#     plus keepalive probing of idle control links (bounded, see below).
#
# Pass: all of the above, then cc_history over the stored file, both
# agents' inboxes and the national ledger (nothing lost, nothing
# unexpected, no duplicate ledger row), and every daemon exits 0 with no
# sanitizer report. Needs root and `ip netns`; otherwise prints SKIP.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: network namespaces need root"; exit 0
fi
if ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
    echo "SKIP: ip netns is not available"; exit 0
fi

HEARTBEAT=500
NS_NAT=cc-nat-$$
NS_REL=cc-rel-$$
NS_AGT=cc-agt-$$
NAT_ADDR=10.231.1.1
REL_UP_ADDR=10.231.1.2
REL_ADDR=10.231.2.1
AGT_ADDR=10.231.2.2
NAT_PORT=7400
REL_PORT=7410
NETNS_MADE=()

# Daemons first (by PID, lib.sh), then whatever is left in our own
# namespaces, then the namespaces; deleting a namespace removes its veths.
net_cleanup () {
    local ns pid
    for ns in "${NETNS_MADE[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null
    done
}
trap 'cc_cleanup; net_cleanup' EXIT

in_ns () { local ns=$1; shift; ip netns exec "$ns" "$@"; }
now_ms () { echo $(( $(date +%s%N) / 1000000 )); }
# hold SINCE_MS MS: keep a link down until MS after SINCE_MS (this sleep
# is the length of the outage, not a synchronisation).
hold () {
    local left=$(( $1 + $2 - $(now_ms) ))
    [ $left -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
    return 0
}

say "namespaces $NS_NAT $NS_REL $NS_AGT"
for ns in "$NS_NAT" "$NS_REL" "$NS_AGT"; do
    if ! ip netns add "$ns"; then
        # The first one failing means no namespaces here (no CAP_SYS_ADMIN).
        [ ${#NETNS_MADE[@]} = 0 ] && { echo "SKIP: cannot create a network namespace"; exit 0; }
        fail "ip netns add $ns"
    fi
    NETNS_MADE+=("$ns")
    in_ns "$ns" ip link set lo up || fail "lo up in $ns"
done
# nat:to-rel <-> rel:to-nat, rel:to-agt <-> agt:to-rel
ip -n "$NS_NAT" link add to-rel type veth peer name to-nat netns "$NS_REL" \
    || fail "veth national-relay"
ip -n "$NS_REL" link add to-agt type veth peer name to-rel netns "$NS_AGT" \
    || fail "veth relay-agents"
ip -n "$NS_NAT" addr add "$NAT_ADDR/30" dev to-rel
ip -n "$NS_REL" addr add "$REL_UP_ADDR/30" dev to-nat
ip -n "$NS_REL" addr add "$REL_ADDR/30" dev to-agt
ip -n "$NS_AGT" addr add "$AGT_ADDR/30" dev to-rel
for link in "$NS_NAT to-rel" "$NS_REL to-nat" "$NS_REL to-agt" "$NS_AGT to-rel"; do
    set -- $link
    ip -n "$1" link set "$2" up || fail "link $2 up in $1"
done

federation
start_daemon national ip netns exec "$NS_NAT" "$CC_BIN/certcast-broker" \
    --listen "$NAT_ADDR:$NAT_PORT" --data "$T/national/data" \
    --key "$T/keys/national.key" --trust "$T/keys/root.pub" \
    --allow "$T/national/allow" --heartbeat $HEARTBEAT
start_daemon banking ip netns exec "$NS_REL" "$CC_BIN/certcast-relay" \
    --sector banking --upstream "$NAT_ADDR:$NAT_PORT" \
    --upstream-pub "$T/keys/national.pub" --listen "$REL_ADDR:$REL_PORT" \
    --data "$T/banking/data" --key "$T/keys/relay-banking.key" \
    --trust "$T/keys/root.pub" --allow "$T/banking/allow" --heartbeat $HEARTBEAT
for agent in bank1 bank2; do
    mkdir -p "$T/agents/$agent/spool"
    start_daemon $agent ip netns exec "$NS_AGT" "$CC_BIN/certcast-agent" \
        --relay "$REL_ADDR:$REL_PORT" --relay-pub "$T/keys/relay-banking.pub" \
        --data "$T/agents/$agent/data" --key "$T/keys/$agent.key" \
        --trust "$T/keys/root.pub" --spool "$T/agents/$agent/spool" \
        --heartbeat $HEARTBEAT
done
# ip netns exec execs the program: the PID we signal is the daemon's.
for name in national banking bank1 bank2; do
    exe=$(readlink "/proc/${PIDS[$name]}/exe")
    [[ $exe == "$CC_BIN"/certcast-* ]] || fail "$name: PID ${PIDS[$name]} is $exe, not the daemon"
done
wait_for 20 log_has banking "upstream: linked" || fail "relay did not link upstream"
for agent in bank1 bank2; do
    wait_for 20 log_has $agent "connected to relay" || fail "$agent did not connect"
done

STORED=$T/stored.txt
: > "$STORED"
# publish_stored ID SECTOR: publish from the national namespace until the
# broker says stored (or that an earlier attempt was); record it.
publish_stored () {
    local id=$1 sectors=$2 attempt=0 out status
    while :; do
        attempt=$((attempt + 1))
        out=$(in_ns "$NS_NAT" "$CC_BIN/certcast" publish --to "$NAT_ADDR:$NAT_PORT" \
            --server-pub "$T/keys/national.pub" --key "$T/keys/natissuer.key" \
            --delegation "$T/keys/natissuer.delegation" --id "$id" \
            --title "partition test $id" --severity medium --tlp clear \
            --sector "$sectors" --timeout 3s 2>&1)
        status=$?
        if [ $status = 0 ] || [[ $out == *"already accepted"* ]]; then
            echo "$id 1 $sectors" >> "$STORED"
            return 0
        fi
        [ $attempt -ge 20 ] && fail "publish $id never stored: $out"
        sleep 0.2           # back off before retrying, not synchronisation
    done
}
# publish_batch PREFIX N: N advisories, alternating banking and all.
# Run in the background during a cut, so the test can time the cut.
publish_batch () {
    local index
    for index in $(seq 1 "$2"); do
        if [ $((index % 2)) = 0 ]; then
            publish_stored "$1-$index" all
        else
            publish_stored "$1-$index" banking
        fi
    done
}

history () {
    "$CC_BIN/cc_history" --stored "$STORED" --ledger "$T/national/data" \
        --agent "bank1:banking:$T/agents/bank1/data:$T/keys/bank1.pub" \
        --agent "bank2:banking:$T/agents/bank2/data:$T/keys/bank2.pub"
}
# all_delivered LABEL: every stored advisory in both inboxes and acked in
# the national ledger (bounded poll), else fail with the checker's list.
all_delivered () {
    wait_for 25 history || { history; fail "$1: not everything delivered and acked"; }
}
log_count () { grep -c -- "$2" "$T/$1.log" 2>/dev/null || true; }
count_above () { [ "$(log_count "$1" "$2")" -gt "$3" ]; }
# noticed SINCE_MS LIMIT_S PATTERN NAME...: poll every 50 ms until each
# NAME's log has a PATTERN line more than NAME had at the cut (BEFORE[NAME]);
# NOTICED[NAME] is then ms after SINCE_MS. Each daemon is timed on its
# own, not after the others. Fails at the limit.
declare -A BEFORE=() NOTICED=()
noticed () {
    local since=$1 limit=$2 pattern=$3 name left; shift 3
    local deadline=$(( $(now_ms) + limit * 1000 ))
    NOTICED=()
    while :; do
        left=0
        for name in "$@"; do
            [ -n "${NOTICED[$name]:-}" ] && continue
            if count_above "$name" "$pattern" "${BEFORE[$name]}"; then
                NOTICED[$name]=$(( $(now_ms) - since ))
            else
                left=$((left + 1))
            fi
        done
        [ $left = 0 ] && return 0
        [ "$(now_ms)" -gt $deadline ] && return 1
        sleep 0.05
    done
}

# served national|relay: SERVED = deliveries that broker served by Fetch
# so far (a variable, not output: fail must end the test, not a subshell).
served () {
    local out
    if [ "$1" = national ]; then
        out=$(in_ns "$NS_NAT" "$CC_BIN/certcast" status --to "$NAT_ADDR:$NAT_PORT" \
            --server-pub "$T/keys/national.pub" --key "$T/keys/natissuer.key")
    else
        out=$(in_ns "$NS_REL" "$CC_BIN/certcast" status --to "$REL_ADDR:$REL_PORT" \
            --server-pub "$T/keys/relay-banking.pub" --key "$T/keys/bank1.key")
    fi || fail "status of the $1 broker"
    [[ $out == *'"deliveries_served":'* ]] || fail "status of the $1 broker: $out"
    SERVED=$(json_number "$out" deliveries_served)
}
# mark, then repaired SCENARIO: how many deliveries each hop fetched.
mark () {
    served national; NAT_MARK=$SERVED
    served relay; REL_MARK=$SERVED
}
repaired () {
    local nat rel
    served national; nat=$((SERVED - NAT_MARK))
    served relay; rel=$((SERVED - REL_MARK))
    REPAIRED_NAT=$((REPAIRED_NAT + nat)); REPAIRED_REL=$((REPAIRED_REL + rel))
    say "$1 repaired by fetch: $nat from national to the relay, $rel from the relay to the agents"
}
REPAIRED_NAT=0
REPAIRED_REL=0
CUTS=0
cut_link () { ip -n "$1" link set "$2" down || fail "link $2 down in $1"; CUTS=$((CUTS + 1)); }
heal_link () { ip -n "$1" link set "$2" up || fail "link $2 up in $1"; }

say "warm-up: the streams exist and everyone follows them"
publish_batch WARM 2
all_delivered warm-up

# --- (a) ------------------------------------------------------------------
say "(a) relay<->agents down for 0.8 s, publishing during the cut"
mark
agent_silent_before=$(( $(log_count bank1 "silent for") + $(log_count bank2 "silent for") ))
cut_link "$NS_REL" to-agt
cut_at=$(now_ms)
publish_batch SHORT 3 & publisher=$!
hold $cut_at 800
heal_link "$NS_REL" to-agt
outage=$(( $(now_ms) - cut_at ))
wait $publisher || fail "(a) publisher failed"
all_delivered "(a)"
short_reconnects=$(( $(log_count bank1 "silent for") + $(log_count bank2 "silent for") - agent_silent_before ))
repaired "(a)"
say "(a) delivered after a $outage ms outage; agents reconnected $short_reconnects time(s)"

# --- (b) ------------------------------------------------------------------
say "(b) national<->relay down for 5 s, publishing during the cut"
mark
BEFORE[banking]=$(log_count banking "upstream: .* silent for")
linked_before=$(log_count banking "upstream: linked")
agent_silent_before=$(( $(log_count bank1 "silent for") + $(log_count bank2 "silent for") ))
cut_link "$NS_NAT" to-rel
cut_at=$(now_ms)
publish_batch UPCUT 6 & publisher=$!
noticed $cut_at 10 "upstream: .* silent for" banking \
    || fail "(b) relay never noticed the dead upstream"
# Silence is counted from the last message heard (at most a heartbeat
# before the cut): 4 intervals of it, then at most one engine tick (one
# heartbeat), plus 500 ms for a loaded machine.
bound=$(( 5 * HEARTBEAT + 500 ))
[ ${NOTICED[banking]} -le $bound ] || fail "(b) relay noticed the dead upstream after ${NOTICED[banking]} ms (bound $bound ms)"
[ ${NOTICED[banking]} -ge $(( 3 * HEARTBEAT - 250 )) ] || fail "(b) relay called the upstream dead after only ${NOTICED[banking]} ms"
say "(b) relay noticed after ${NOTICED[banking]} ms: $(grep 'upstream: .* silent for' "$T/banking.log" | tail -1 | sed 's/.*upstream: //')"
hold $cut_at 5000
heal_link "$NS_NAT" to-rel
healed_at=$(now_ms)
wait $publisher || fail "(b) publisher failed"
wait_for 20 count_above banking "upstream: linked" "$linked_before" \
    || fail "(b) relay did not link upstream again"
say "(b) relay linked again $(( $(now_ms) - healed_at )) ms after the heal"
all_delivered "(b)"
say "(b) gap repaired $(( $(now_ms) - healed_at )) ms after the heal"
repaired "(b)"
agent_silent=$(( $(log_count bank1 "silent for") + $(log_count bank2 "silent for") - agent_silent_before ))
[ $agent_silent = 0 ] || fail "(b) agents declared the (live) relay silent $agent_silent time(s)"

# --- (c) ------------------------------------------------------------------
say "(c) relay<->agents down for 5 s, publishing during the cut"
mark
declare -A BACK_BEFORE=()
for agent in bank1 bank2; do
    BEFORE[$agent]=$(log_count $agent "silent for")
    BACK_BEFORE[$agent]=$(log_count $agent "relay .* back")
done
cut_link "$NS_AGT" to-rel
cut_at=$(now_ms)
publish_batch AGTCUT 6 & publisher=$!
noticed $cut_at 10 "silent for" bank1 bank2 || fail "(c) an agent never noticed the dead relay"
# An agent: 3 intervals of silence (from at most a heartbeat before the
# cut), then at most its 100 ms tick, plus 500 ms for a loaded machine.
bound=$(( 4 * HEARTBEAT + 500 ))
for agent in bank1 bank2; do
    [ ${NOTICED[$agent]} -le $bound ] || fail "(c) $agent noticed the dead relay after ${NOTICED[$agent]} ms (bound $bound ms)"
    [ ${NOTICED[$agent]} -ge $(( 2 * HEARTBEAT - 250 )) ] || fail "(c) $agent called the relay dead after only ${NOTICED[$agent]} ms"
done
say "(c) agents noticed after ${NOTICED[bank1]} ms (bank1) and ${NOTICED[bank2]} ms (bank2): $(grep 'silent for' "$T/bank1.log" | tail -1 | sed 's/.*relay /relay /')"
hold $cut_at 5000
heal_link "$NS_AGT" to-rel
healed_at=$(now_ms)
wait $publisher || fail "(c) publisher failed"
for agent in bank1 bank2; do
    wait_for 20 count_above $agent "relay .* back" "${BACK_BEFORE[$agent]}" \
        || fail "(c) $agent did not come back"
done
say "(c) both agents back $(( $(now_ms) - healed_at )) ms after the heal"
all_delivered "(c)"
say "(c) gap repaired $(( $(now_ms) - healed_at )) ms after the heal"
repaired "(c)"

say "final history check"
history || fail "history check failed"
say "figures: $CUTS cuts, $(wc -l < "$STORED") advisories stored, deliveries repaired by fetch: $REPAIRED_NAT national->relay, $REPAIRED_REL relay->agents"

# --- (d) ------------------------------------------------------------------
# Vanished agents: their link is cut for good. The relay must let go of
# every connection from them (stream and control) on its own: unanswered
# data times out after 30 heartbeats (at least 15 s), an idle control link
# is probed by TCP keepalive after as long and dropped when a probe is not
# answered within 10 heartbeats (5 s). Bound: 15 s + 5 s, plus 10 s for a
# loaded machine.
agent_links () {
    in_ns "$NS_REL" ss -Htn state established "( sport = :$REL_PORT or sport = :$((REL_PORT + 1)) )" \
        | grep -c "$AGT_ADDR:" || true
}
links=$(agent_links)
[ "$links" -ge 4 ] || fail "(d) the relay holds $links connections from the agents before the cut, expected 4"
say "(d) relay<->agents cut for good; the relay holds $links connections from them"
cut_link "$NS_AGT" to-rel
cut_at=$(now_ms)
no_agent_links () { [ "$(agent_links)" = 0 ]; }
wait_for 30 no_agent_links || fail "(d) the relay still holds $(agent_links) connections from vanished agents after $(( $(now_ms) - cut_at )) ms"
say "(d) the relay dropped every connection from the vanished agents after $(( $(now_ms) - cut_at )) ms"

for name in bank2 bank1 banking national; do
    stop $name
done
say "ok"
