#!/usr/bin/env bash
# tests/bench/run.sh BIN_DIR - certcast's benchmarks (`make bench`).
#
# Measures certcast against physical limits measured in the same run on
# the same machine (Ed25519 through OpenSSL EVP, LMDB durable commits, a
# raw libzmq forwarder chain), prints a table and writes bench.json in the
# repository root: a JSON list of {name, value, unit, baseline,
# baseline_name, ratio, target, met, note}. It reports; it never fails on
# a missed target (exit 0 unless the harness itself could not run).
#
# Every scenario starts the real programs on 127.0.0.1 with the
# integration harness (tests/integration/lib.sh) in its own temp
# directory and stops every daemon it started by PID.
#
#   BENCH=name[,name..]  run only these: baselines publish e2e burst alert
#                        ingest ingestlink catchup footprint (baselines a
#                        scenario needs run anyway); e2etrace (traces the
#                        daemons' commits with perf) runs only when named
#   INGEST_BATCH=B       signed acks per Acks request in ingestlink
#                        (default 1, as agents send them; a relay's
#                        upstream link sends up to 4,096)
#   INGEST_WINDOW=W      Acks requests outstanding in ingestlink (256);
#                        W x B at most 4,096 (one client's acks being
#                        checked at a broker at a time; more are busy)
#   SCALE=0.1            scale every count (default 1)
#   BURST_AGENTS=N       swarm agents in the burst scenario (default 100)
#   IDLE_S=N             idle window of the footprint scenario (default 10)
#   KEEP=1               keep the temp directories (logs, data)
#   BENCH_JSON=FILE      where to write the JSON (default ./bench.json)
#   BENCH_TMP=DIR        where the run's directories go (default build/bench)
#   HEARTBEAT=MS         the national broker's and agents' --heartbeat (1000)
#   RELAY_HEARTBEAT=MS   the relays' --heartbeat (5000, certcast-relay's default)
#   BENCH_PERF=name[,..] record a perf profile of these processes (national,
#                        banking, telecom, swarm..) over each scenario's
#                        timed part, into the work dir (use with KEEP=1;
#                        BENCH_PERF_OPTS, default -g, e.g. "--call-graph dwarf")
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BIN=$(cd "${1:-build/bin}" && pwd)
export CC_BIN=$BIN
SCALE=${SCALE:-1}
BENCH=${BENCH:-all}
BURST_AGENTS=${BURST_AGENTS:-100}
E2E_AGENTS=${E2E_AGENTS:-10}
IDLE_S=${IDLE_S:-10}
ALERT_IDLE_S=${ALERT_IDLE_S:-10}
OUT=${BENCH_JSON:-$ROOT/bench.json}
# The daemons run with their production heartbeat (lib.sh's tests use 500).
export HEARTBEAT=${HEARTBEAT:-1000}
export RELAY_HEARTBEAT=${RELAY_HEARTBEAT:-5000}
# On an ext4 with no journal (this machine's root), creating a file skips
# every free inode of its block group that was freed in the last 1-6
# minutes, one buffer lookup each (ext4's recently_deleted). Next to /tmp,
# where the test suite deletes thousands of files, files were created at
# 3,000-5,000/s instead of 40,000-60,000/s, and the catch-up scenario
# measured the harness's own deletions instead of the agent. So each run
# gets a directory of its own under BENCH_TMP, which is marked as a top of
# hierarchy (chattr +T) so ext4 spreads those directories over block groups
# like top-level ones, and nothing is deleted until the whole run is over.
BENCH_TMP=${BENCH_TMP:-$ROOT/build/bench}
mkdir -p "$BENCH_TMP" || exit 1
chattr +T "$BENCH_TMP" 2>/dev/null || echo "# chattr +T $BENCH_TMP failed: file creation may pay for recent deletions nearby" >&2
WORK=$(mktemp -d "$BENCH_TMP/run.XXXXXX")
export CC_TMP=$WORK CC_KEEP_T=1
RESULTS=$WORK/results.tsv
: >"$RESULTS"
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
[ -x "$BIN/cc_bench" ] || { echo "run.sh: $BIN/cc_bench missing (make bench builds it)" >&2; exit 1; }

scaled () {     # scaled N MIN: N x SCALE, at least MIN
    awk -v n="$1" -v s="$SCALE" -v m="$2" 'BEGIN { v = int(n * s + 0.5); if (v < m) v = m; print v }'
}
PUBLISH_COUNT=$(scaled 1000 20)
E2E_COUNT=$(scaled 1000 20)
E2E_RATE=${E2E_RATE:-100}
BURST_COUNT=$(scaled 1000 20)
BURST_SIZE=2048
CATCHUP_COUNT=$(scaled 10000 50)
ALERT_AGENTS=$(scaled 10000 20)
INGEST_AGENTS=$(scaled 2000 20)
INGEST_ADVISORIES=${INGEST_ADVISORIES:-5}
FOOTPRINT_COUNT=$(scaled 10000 20)
INGEST_COUNT=$(scaled 20000 500)
INGEST_BATCH=${INGEST_BATCH:-1}
INGEST_WINDOW=${INGEST_WINDOW:-256}
LMDB_COUNT=$(scaled 1000 50)
LMDB_TXNS=$(scaled 10 2)
SMALL_SIZE=512          # body bytes of the publish, e2e, catch-up advisories

selected () {   # selected NAME: BENCH asks for it
    [ "$BENCH" = all ] && return 0
    [[ ",$BENCH," == *",$1,"* ]]
}
needs () {      # needs BASELINE: run it if any scenario that uses it runs
    selected baselines && return 0
    case $1 in
        lmdb) selected publish || selected e2e || selected e2etrace ;;
        ed25519) selected catchup || selected alert || selected ingest || selected ingestlink || selected burst ;;
        zmq) selected burst ;;
    esac
}
note () { echo "# $*" >&2; }
kv () { awk -v k="$1" '$1 == k { print $2; exit }' "$2" 2>/dev/null; }
cpu_ticks () { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # utime + stime of PID
# cpu_ns PID: nanoseconds every live thread of PID has run (schedstat):
# ticks come in 10 ms steps, too coarse for CPU per ack.
cpu_ns () { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }
ns_to_s () { awk -v n="$1" 'BEGIN { printf "%.3f", n / 1e9 }'; }
# thread_ns PID: "NAME NS" per thread name of PID (cc-engine, cc-verify,
# ZMQbg/IO/0, ...), the run time of threads of one name summed.
thread_ns () {
    local task
    for task in /proc/"$1"/task/*; do
        { tr ' ' '_' <"$task/comm"; cat "$task/schedstat"; } 2>/dev/null | paste -sd ' '
    done | awk 'NF >= 2 { t[$1] += $2 } END { for (n in t) print n, t[n] }' | sort
}
# thread_cpu BEFORE AFTER PREFIX: "PREFIX_NAME SECONDS" per thread name
# from two thread_ns outputs.
thread_cpu () {
    awk -v p="$3" 'NR == FNR { a[$1] = $2; next }
        { d = $2 - a[$1]; gsub(/[^A-Za-z0-9_-]/, "_", $1); printf "%s_%s %.3f\n", p, $1, d / 1e9 }' \
        <(echo "$1") <(echo "$2")
}
# perf_begin SCENARIO: perf record every process BENCH_PERF names over the
# timed part of SCENARIO; perf_end stops them. Without BENCH_PERF, nothing.
PERF_PIDS=()
perf_begin () {
    [ -n "${BENCH_PERF:-}" ] || return 0
    local name
    for name in "${!PIDS[@]}"; do
        [[ ",$BENCH_PERF," == *",$name,"* || ( "$name" == swarm* && ",$BENCH_PERF," == *",swarm,"* ) ]] || continue
        perf record -q ${BENCH_PERF_OPTS:--g} -o "$WORK/perf-$1-$name.data" -p "${PIDS[$name]}" 2>/dev/null &
        PERF_PIDS+=($!)
    done
    sleep 0.5
}
perf_end () {
    local pid
    for pid in "${PERF_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null; done
    for pid in "${PERF_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    PERF_PIDS=()
}
per_s () {      # per_s N START_NS END_NS: N per second between the two
    awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }'
}

# record NAME VALUE UNIT BASELINE BASELINE_NAME KIND TARGET NOTE
#   KIND: le|ge (VALUE against TARGET), ratio-le|ratio-ge (VALUE/BASELINE
#   against TARGET), info (no target). Empty VALUE or BASELINE: null.
record () {
    local name=$1 value=$2 unit=$3 baseline=$4 bname=$5 kind=$6 target=$7 text=$8
    awk -F'\t' -v OFS='\t' -v name="$name" -v value="$value" -v unit="$unit" \
        -v baseline="$baseline" -v bname="$bname" -v kind="$kind" \
        -v target="$target" -v text="$text" 'BEGIN {
        ratio = ""; met = ""; ttext = ""
        if (value != "" && baseline != "" && baseline + 0 != 0)
            ratio = sprintf("%.3f", value / baseline)
        if (kind == "le") ttext = "<= " target " " unit
        if (kind == "ge") ttext = ">= " target " " unit
        if (kind == "ratio-le") ttext = "<= " target " x " bname
        if (kind == "ratio-ge") ttext = ">= " target " x " bname
        if (kind == "missing") { met = "false"; kind = "info" }
        if (kind != "info") {
            met = "false"
            if (kind == "le" && value != "" && value + 0 <= target + 0) met = "true"
            if (kind == "ge" && value != "" && value + 0 >= target + 0) met = "true"
            if (kind == "ratio-le" && ratio != "" && ratio + 0 <= target + 0) met = "true"
            if (kind == "ratio-ge" && ratio != "" && ratio + 0 >= target + 0) met = "true"
        }
        print name, value, unit, baseline, bname, ratio, ttext, met, text
    }' >>"$RESULTS"
}

# scenario NAME: run scenario_NAME in a subshell with lib.sh (its own temp
# dir, its daemons stopped at its exit); output to the terminal and log.
scenario () {
    local name=$1 status
    note "== $name"
    # Each scenario starts on a quiet disk: what the previous one left
    # dirty (a burst leaves ~100,000 ledger rows) is written back now, not
    # during this one's syncs.
    sync
    sleep 1
    (
        source "$ROOT/tests/integration/lib.sh"
        trap - ERR
        "scenario_$name"
    ) 2>&1 | tee "$WORK/$name.log" >&2
    status=${PIPESTATUS[0]}
    [ "$status" = 0 ] || note "$name: the harness failed (exit $status); its figures are null"
    return 0
}

# --- inside a scenario (lib.sh sourced) -------------------------------------

# bench_federation N: keys for root, a national broker, a national issuer
# (all sectors), the banking relay and agents a1..aN in banking. The issuer
# is enrolled at the relay too, so the bench client may ask it for status.
bench_federation () {
    local count=$1 index
    mkdir -p "$T/keys" "$T/national/allow" "$T/banking/allow"
    keygen root root all
    keygen national broker all
    keygen natissuer issuer all
    keygen relay-banking relay banking
    for index in $(seq 1 "$count"); do
        keygen "a$index" agent banking --class body-corporate
        cp "$T/keys/a$index.pub" "$T/banking/allow/"
    done
    certcast delegate --root "$T/keys/root.key" --sector all \
        --out "$T/keys/natissuer.delegation" "$T/keys/natissuer.pub" >/dev/null \
        || fail "delegate natissuer"
    cp "$T/keys/natissuer.pub" "$T/keys/relay-banking.pub" "$T/national/allow/"
    cp "$T/keys/natissuer.pub" "$T/banking/allow/"
    NATIONAL_PORT=$(free_port)
    BANKING_PORT=$(free_port)
    while [ "$BANKING_PORT" = "$NATIONAL_PORT" ]; do BANKING_PORT=$(free_port); done
}

# bench ARGS...: cc_bench publish-rtt against the national broker.
bench_publish () {
    "$CC_BIN/cc_bench" publish-rtt --to "127.0.0.1:$NATIONAL_PORT" \
        --server-pub "$T/keys/national.pub" --key "$T/keys/natissuer.key" \
        --delegation "$T/keys/natissuer.delegation" --sector "${BENCH_SECTOR:-banking}" "$@"
}

status_of () {  # status_of national|banking: that broker's status JSON
    local port=$NATIONAL_PORT server=national
    [ "$1" = banking ] && { port=$BANKING_PORT; server=relay-banking; }
    broker_status "127.0.0.1:$port" "$server" natissuer
}
# grown BEFORE AFTER COUNTER: how much a status counter grew between two
# status_of outputs.
grown () { echo $(( $(json_number "$2" "$3") - $(json_number "$1" "$3") )); }
counter_at_least () {   # counter_at_least BROKER FIELD N
    [ "$(json_number "$(status_of "$1")" "$2")" -ge "$3" ]
}
all_spooled () {        # all_spooled N_AGENTS N_FILES
    local index
    for index in $(seq 1 "$1"); do
        [ "$(spool_count "a$index")" -ge "$2" ] || return 1
    done
}

# start_bench_federation N: national, relay, N agents, one warm-up
# advisory through all of it (every link connected, every SUB joined).
start_bench_federation () {
    local count=$1 index
    bench_federation "$count"
    start_national
    start_relay banking
    for index in $(seq 1 "$count"); do start_agent "a$index" banking; done
    publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id WARMUP-1 \
        --title "warm-up" --severity info --tlp clear --sector banking >/dev/null \
        || fail "warm-up publish"
    wait_for 60 all_spooled "$count" 1 || fail "warm-up advisory not at every agent"
    wait_for 60 counter_at_least national ack_rows "$count" || fail "warm-up acks not in the national ledger"
}

scenario_publish () {
    bench_federation 0
    start_national
    say "publish: $PUBLISH_COUNT sequential publishes over one CURVE connection"
    perf_begin publish
    bench_publish --count "$PUBLISH_COUNT" --size $SMALL_SIZE --window 1 \
        >"$WORK/publish.out" || say "publish: cc_bench exit $?"
    perf_end
    cat "$WORK/publish.out"
    stop national
}

scenario_e2e () {
    start_bench_federation "$E2E_AGENTS"
    say "e2e: $E2E_COUNT advisories at $E2E_RATE/s to $E2E_AGENTS agents behind one relay"
    local watch=() index status0
    for index in $(seq 1 "$E2E_AGENTS"); do watch+=(--watch "$T/agents/a$index/spool"); done
    status0=$(status_of banking)
    # Open loop: the schedule holds even when a Stored reply is slow.
    bench_publish --count "$E2E_COUNT" --size $SMALL_SIZE --rate $E2E_RATE --window 64 \
        --times "$WORK/e2e.times" --timeout 120 "${watch[@]}" \
        >"$WORK/e2e.out" || say "e2e: cc_bench exit $?"
    # The agents' signed acks so far (one per cycle; the last may still
    # be on its way).
    echo "relay_ack_messages $(grown "$status0" "$(status_of banking)" ack_messages)" >>"$WORK/e2e.out"
    cat "$WORK/e2e.out"
    for index in $(seq 1 "$E2E_AGENTS"); do stop "a$index"; done
    stop banking; stop national
}

# One agent, 40 advisories at 20/s, with the kernel's syscall tracepoints
# recorded for the three daemons (perf, root only): how long each hop's
# durable commit takes on this disk (the data sync, then LMDB's
# synchronous meta-page write), against the isolated baseline commit.
# Not in the default run: it needs perf and adds its own small overhead.
scenario_e2etrace () {
    start_bench_federation 1
    local events=syscalls:sys_enter_fdatasync,syscalls:sys_exit_fdatasync,syscalls:sys_exit_pwrite64
    perf record -q -o "$WORK/e2etrace.data" -e "$events" \
        -p "${PIDS[national]},${PIDS[banking]},${PIDS[a1]}" 2>/dev/null &
    local perf_pid=$! name
    sleep 1
    bench_publish --count 40 --size $SMALL_SIZE --rate 20 --window 64 \
        --timeout 60 --watch "$T/agents/a1/spool" >"$WORK/e2etrace-publish.out" \
        || say "e2etrace: cc_bench exit $?"
    kill -INT "$perf_pid"; wait "$perf_pid"
    # Per process: each fdatasync's duration, and the pwrite64 right after
    # it in the same thread (LMDB's meta page, written O_DSYNC).
    perf script -i "$WORK/e2etrace.data" -F pid,tid,time,event 2>/dev/null | awk '
        { split($1, ids, "/"); tid = ids[2]; t = $2 + 0 }
        /enter_fdatasync/ { start[tid] = t }
        /exit_fdatasync/ && (tid in start) { print ids[1], "sync", (t - start[tid]) * 1000; meta[tid] = t; delete start[tid] }
        /exit_pwrite64/ && (tid in meta) { print ids[1], "meta", (t - meta[tid]) * 1000; delete meta[tid] }' \
        >"$WORK/e2etrace.tsv"
    for name in national banking a1; do
        for kind in sync meta; do
            awk -v p="${PIDS[$name]}" -v k="$kind" '$1 == p && $2 == k { print $3 }' "$WORK/e2etrace.tsv" \
                | sort -n | awk -v n="$name" -v k="$kind" '{ v[NR] = $1 } END {
                    if (NR) printf "%s_%s_p50_ms %.3f\n%s_%s_n %d\n", n, k, v[int((NR + 1) / 2)], n, k, NR }'
        done
    done | tee "$WORK/e2etrace.out"
    awk '$1 == "inbox_p50_ms"' "$WORK/e2etrace-publish.out" | tee -a "$WORK/e2etrace.out"
    stop a1; stop banking; stop national
}

scenario_burst () {
    raise_fd_limit $(( BURST_AGENTS * 4 + 4096 ))
    bench_federation 0
    swarm_keys banking b "$BURST_AGENTS"
    start_national
    start_relay banking
    start_swarm swarm banking b "$BURST_AGENTS" --threads 1 --expect 1
    wait_for 300 swarm_said swarm ready || fail "swarm not connected"
    publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id WARMUP-1 \
        --title "warm-up" --severity info --tlp clear --sector banking >/dev/null \
        || fail "warm-up publish"
    wait_for 120 swarm_said swarm caught-up || fail "warm-up advisory not acked by every agent"
    wait_for 120 counter_at_least national ack_rows "$BURST_AGENTS" || fail "warm-up acks not in the national ledger"
    say "burst: $BURST_COUNT x $BURST_SIZE B advisories, all at once, to $BURST_AGENTS swarm agents"
    perf_begin burst
    local name cpu0=() index=0
    for name in national banking swarm; do cpu0+=("$(cpu_ns "${PIDS[$name]}")"); done
    local relay_threads0 national_threads0
    relay_threads0=$(thread_ns "${PIDS[banking]}"); national_threads0=$(thread_ns "${PIDS[national]}")
    bench_publish --count "$BURST_COUNT" --size $BURST_SIZE --window "$BURST_COUNT" \
        --await-acks $((BURST_COUNT * BURST_AGENTS)) --times "$WORK/burst.times" \
        --timeout 300 >"$WORK/burst.out" || say "burst: cc_bench exit $?"
    # Where the CPU went during the burst, per process (CPU seconds).
    for name in national banking swarm; do
        echo "cpu_s_$name $(ns_to_s $(( $(cpu_ns "${PIDS[$name]}") - ${cpu0[$index]} )))" >>"$WORK/burst.out"
        index=$((index + 1))
    done
    thread_cpu "$relay_threads0" "$(thread_ns "${PIDS[banking]}")" relay_cpu_s >>"$WORK/burst.out"
    thread_cpu "$national_threads0" "$(thread_ns "${PIDS[national]}")" national_cpu_s >>"$WORK/burst.out"
    perf_end
    stop swarm
    cat "$T/swarm.out" >>"$WORK/burst.out"
    # The clock started at the first publish send.
    awk -v sent="$(awk '{ print $2; exit }' "$WORK/burst.times")" '
        $1 == "last_commit_real_ns" { printf "inbox_done_s %.6f\n", ($2 - sent) / 1e9 }' \
        "$WORK/burst.out" >>"$WORK/burst.out"
    cat "$WORK/burst.out"
    # The ledger itself, not only the counter: one row per (advisory, agent).
    local rows
    rows=$(ledger_rows "$T/national/data")
    echo "ledger_rows $rows" >>"$WORK/burst.out"
    say "burst: national ledger holds $rows rows ($((BURST_COUNT * BURST_AGENTS + BURST_AGENTS)) expected with the warm-up)"
    stop banking; stop national
}

scenario_catchup () {
    start_bench_federation 1
    stop a1
    local forwarded
    forwarded=$(json_number "$(status_of banking)" forwarded)
    say "catch-up: $CATCHUP_COUNT advisories published while agent a1 is stopped"
    bench_publish --count "$CATCHUP_COUNT" --size $SMALL_SIZE --window 100 \
        --timeout 300 >"$WORK/catchup-publish.out" || fail "catch-up publish"
    wait_for 120 counter_at_least banking forwarded $((forwarded + CATCHUP_COUNT)) \
        || fail "the relay did not store the catch-up advisories"
    # Caught up: every advisory verified, in the agent's inbox and its
    # signed receipt durable at the relay. The spool files (the hand-over
    # to the host's tools) are timed too, as a figure of their own.
    "$CC_BIN/cc_bench" watch --watch "$T/agents/a1/spool" --expect "$CATCHUP_COUNT" \
        --await-acks "$CATCHUP_COUNT" --to "127.0.0.1:$BANKING_PORT" \
        --server-pub "$T/keys/relay-banking.pub" --key "$T/keys/natissuer.key" \
        --timeout 300 >"$WORK/catchup.out" &
    local watcher=$!
    wait_for 10 grep -q '^ready' "$WORK/catchup.out" || fail "watcher not ready"
    local start status0
    status0=$(status_of banking)
    start=$(date +%s%N)
    restart a1
    perf_begin catchup
    wait $watcher || say "catch-up: watcher exit $?"
    perf_end
    echo "start_real_ns $start" >>"$WORK/catchup.out"
    # How many signed acks the agent sent for them (one per cycle).
    echo "relay_ack_messages $(grown "$status0" "$(status_of banking)" ack_messages)" >>"$WORK/catchup.out"
    cat "$WORK/catchup.out"
    stop a1; stop banking; stop national
}

# Ack ingest over one link at the banking relay alone: once the relay
# holds the advisories acked (a broker ledgers acks only for advisories it
# holds), its upstream is stopped, so the acks it ledgers wait in its
# upstream queue and the national broker takes no core from it. The
# client is a relay enrolled below it (a relay's acks may come from any
# agent: still every signature verified), so the client costs less CPU
# than a swarm of agents would. Each of its 100 agents acks each advisory
# once.
scenario_ingestlink () {
    local advisories=$(( (INGEST_COUNT + 99) / 100 ))
    bench_federation 0
    keygen downstream relay banking
    cp "$T/keys/downstream.pub" "$T/banking/allow/"
    start_national
    start_relay banking
    bench_publish --count "$advisories" --size $SMALL_SIZE --window 50 \
        --times "$WORK/ingestlink.ids" >/dev/null || fail "ingestlink publish"
    wait_for 60 counter_at_least banking national/banking "$advisories" \
        || fail "ingestlink advisories not at the relay"
    stop national
    say "ingestlink: $INGEST_COUNT signed acks from 100 agents for $advisories advisories, $INGEST_BATCH per request, to the banking relay"
    local pid=${PIDS[banking]} ns0 ns1 threads0
    perf_begin ingestlink
    threads0=$(thread_ns "$pid")
    ns0=$(cpu_ns "$pid")
    "$CC_BIN/cc_bench" ack-ingest --to "127.0.0.1:$BANKING_PORT" \
        --server-pub "$T/keys/relay-banking.pub" --key "$T/keys/downstream.key" \
        --count "$INGEST_COUNT" --agents 100 --batch "$INGEST_BATCH" --window "$INGEST_WINDOW" \
        --ids "$WORK/ingestlink.ids" --data "$T/banking/data" \
        >"$WORK/ingestlink.out" || say "ingestlink: cc_bench exit $?"
    perf_end
    # The relay's own CPU time: on a shared host the wall clock also
    # counts other people's work, this does not.
    ns1=$(cpu_ns "$pid")
    echo "relay_cpu_s $(ns_to_s $((ns1 - ns0)))" >>"$WORK/ingestlink.out"
    thread_cpu "$threads0" "$(thread_ns "$pid")" relay_cpu_s >>"$WORK/ingestlink.out"
    stop banking
    # The same requests and replies, sizes and window over libzmq and
    # CurveZMQ alone, with the relay stopped: what the transport costs.
    "$CC_BIN/cc_bench" baseline-reqrep "$(kv requests "$WORK/ingestlink.out")" \
        "$(kv request_bytes "$WORK/ingestlink.out")" "$(kv reply_bytes "$WORK/ingestlink.out")" \
        --window "$INGEST_WINDOW" | sed 's/^/transport_/' >>"$WORK/ingestlink.out" \
        || say "ingestlink: transport baseline failed"
    cat "$WORK/ingestlink.out"
}

scenario_footprint () {
    start_bench_federation 1
    local base pid
    base=$(json_number "$(status_of banking)" ack_rows)
    say "footprint: $FOOTPRINT_COUNT advisories to one agent, then $IDLE_S idle seconds"
    bench_publish --count "$FOOTPRINT_COUNT" --size $SMALL_SIZE --window 100 \
        --timeout 300 --watch "$T/agents/a1/spool" >"$WORK/footprint-publish.out" \
        || fail "footprint publish"
    wait_for 60 counter_at_least banking ack_rows $((base + FOOTPRINT_COUNT)) \
        || fail "footprint acks not at the relay"
    pid=${PIDS[a1]}
    # Settle: the ack round trip and one housekeeping tick are over.
    sleep 2
    local rss ticks0 ticks1 ns0 ns1 hz
    hz=$(getconf CLK_TCK)
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    awk '/^Rss(Anon|File|Shmem):/ { print tolower($1), $2 }' "/proc/$pid/status" | tr -d : \
        >"$WORK/footprint-rss.out"
    # Which mappings the resident pages belong to, for the README's breakdown.
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = NF >= 6 ? $6 : "[anon]" } /^Rss:/ { r[name] += $2 }
        END { for (n in r) if (r[n] > 0) printf "%d %s\n", r[n], n }' "/proc/$pid/smaps" \
        | sort -rn >"$WORK/footprint-smaps.out"
    echo "lmdb_map_rss_kib $(awk '/data\.mdb/ { f = 1; next } f && /^Rss:/ { s += $2; f = 0 } END { print s + 0 }' "/proc/$pid/smaps")" \
        >>"$WORK/footprint-rss.out"
    ticks0=$(cpu_ticks "$pid")
    ns0=$(cat /proc/"$pid"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }')
    sleep "$IDLE_S"
    ticks1=$(cpu_ticks "$pid")
    ns1=$(cat /proc/"$pid"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }')
    {
        echo "advisories $FOOTPRINT_COUNT"
        echo "vmrss_kib $rss"
        echo "idle_s $IDLE_S"
        echo "cpu_ticks $((ticks1 - ticks0))"
        echo "clk_tck $hz"
        echo "cpu_ns $((ns1 - ns0))"
        echo "threads $(ls /proc/"$pid"/task | wc -l)"
        cat "$WORK/footprint-rss.out"
        # The floor under it: a process that only loads the same libraries
        # and does one CURVE round trip, one verify and one LMDB commit.
        "$CC_BIN/cc_floor" "$WORK/floor" || echo "floor_failed 1"
    } >"$WORK/footprint.out"
    cat "$WORK/footprint.out"
    stop a1; stop banking; stop national
}

# --- scenarios with the agent swarm (tests/tools/cc_swarm.c) -----------------

# swarm_keys SECTOR PREFIX COUNT: COUNT agent identities in $T/keys/swarm,
# enrolled at that sector's relay.
swarm_keys () {
    local sector=$1 prefix=$2 count=$3
    mkdir -p "$T/keys/swarm" "$T/$sector/allow"
    "$CC_BIN/cc_swarm" keygen "$T/keys/swarm" "$count" --sector "$sector" \
        --prefix "$prefix" 2>/dev/null || fail "swarm keygen"
    find "$T/keys/swarm" -name "$prefix*.pub" -exec cp -t "$T/$sector/allow/" {} +
}

# start_swarm NAME SECTOR PREFIX COUNT [cc_swarm options]: the swarm's
# "key value" output goes to $T/NAME.out, its progress to $T/NAME.log.
start_swarm () {
    local name=$1 sector=$2 prefix=$3 count=$4; shift 4
    local port_var=${sector^^}_PORT
    "$CC_BIN/cc_swarm" run --relay "127.0.0.1:${!port_var}" \
        --relay-pub "$T/keys/relay-$sector.pub" --trust "$T/keys/root.pub" \
        --keys "$T/keys/swarm" --prefix "$prefix" --count "$count" \
        --data "$T/$name-data" "$@" >"$T/$name.out" 2>"$T/$name.log" &
    PIDS[$name]=$!
}

# swarm_sizes COUNT: how many simulated agents each process gets when
# COUNT are split over as few processes as the open-file limit allows
# (4 fds per agent: two sockets, each a TCP connection and a mailbox),
# in parts of equal size.
swarm_sizes () {
    local count=$1 per=$(( ($(ulimit -n) - 1024) / 4 )) parts size
    [ "$per" -ge 1 ] || per=1
    parts=$(( (count + per - 1) / per ))
    while [ "$parts" -gt 0 ]; do
        size=$(( (count + parts - 1) / parts ))
        echo "$size"
        count=$(( count - size )); parts=$(( parts - 1 ))
    done
}

# start_swarms NAME SECTOR PREFIX COUNT [options]: swarm processes NAME-1,
# NAME-2.. of swarm_sizes; sets SWARMS to their names.
SWARMS=()
start_swarms () {
    local name=$1 sector=$2 prefix=$3 count=$4; shift 4
    local first=1 part=1 size
    for size in $(swarm_sizes "$count"); do
        start_swarm "$name-$part" "$sector" "$prefix" "$size" --first "$first" "$@"
        SWARMS+=("$name-$part")
        first=$(( first + size )); part=$(( part + 1 ))
    done
}
all_swarms_said () {
    local name
    for name in "${SWARMS[@]}"; do swarm_said "$name" "$1" || return 1; done
}
swarm_said () { grep -q "^$2" "$T/$1.out"; }

# More agents than a default fd limit allows: each CURVE connection is an fd
# at the relay, each agent two sockets in the swarm.
raise_fd_limit () {
    [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -lt "$1" ] || return 0
    [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge "$1" ] || ulimit -Hn "$1" 2>/dev/null
    ulimit -n "$1" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    [ "$(ulimit -n)" -ge "$1" ] || say "open-file limit $(ulimit -n), not $1: the swarm is split over more processes"
}

scenario_alert () {
    local half=$(( ALERT_AGENTS / 2 ))
    raise_fd_limit $(( ALERT_AGENTS * 4 + 4096 ))
    bench_federation 0
    keygen relay-telecom relay telecom
    cp "$T/keys/relay-telecom.pub" "$T/national/allow/"
    mkdir -p "$T/telecom/allow"
    TELECOM_PORT=$(free_port)
    while [ "$TELECOM_PORT" = "$NATIONAL_PORT" ] || [ "$TELECOM_PORT" = "$BANKING_PORT" ]; do
        TELECOM_PORT=$(free_port)
    done
    say "alert: $ALERT_AGENTS agent identities (swarm), $half behind the banking relay, $((ALERT_AGENTS - half)) behind telecom"
    swarm_keys banking b "$half"
    swarm_keys telecom t $(( ALERT_AGENTS - half ))
    start_national
    start_relay banking
    start_relay telecom
    start_swarms swarm-banking banking b "$half" --threads 1 --expect 1
    start_swarms swarm-telecom telecom t $(( ALERT_AGENTS - half )) --threads 1 --expect 1
    say "alert: ${#SWARMS[@]} swarm processes"
    wait_for 600 all_swarms_said ready || fail "swarm agents not all connected"
    say "alert: every agent connected; warm-up advisory to all sectors"
    publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id WARMUP-1 \
        --title "warm-up" --severity info --tlp clear --sector all >/dev/null \
        || fail "warm-up publish"
    wait_for 300 all_swarms_said caught-up || fail "swarm agents did not all ack the warm-up"
    wait_for 300 counter_at_least national ack_rows "$ALERT_AGENTS" || fail "warm-up acks not in the national ledger"
    sleep 1
    # What keeping $ALERT_AGENTS agents connected costs while nothing is
    # published (heartbeats and $alive to every agent, once a heartbeat).
    local idle0 idle1
    say "alert: the banking relay idle for $ALERT_IDLE_S s"
    idle0=$(cpu_ns "${PIDS[banking]}")
    sleep "$ALERT_IDLE_S"
    idle1=$(cpu_ns "${PIDS[banking]}")
    echo "relay_idle_cpu_pct $(awk -v n=$((idle1 - idle0)) -v s="$ALERT_IDLE_S" 'BEGIN { printf "%.1f", 100 * n / 1e9 / s }')" \
        >"$WORK/alert-idle.out"
    say "alert: banking relay idle with $half agents: $(kv relay_idle_cpu_pct "$WORK/alert-idle.out") % of a core"
    say "alert: one critical advisory to all sectors; clock stops when $ALERT_AGENTS more acks are in the national ledger"
    local name cpu0=() cpu_names=(national banking telecom "${SWARMS[@]}") status0
    status0=$(status_of banking)
    perf_begin alert
    for name in "${cpu_names[@]}"; do cpu0+=("$(cpu_ns "${PIDS[$name]}")"); done
    BENCH_SECTOR=all bench_publish --count 1 --size $SMALL_SIZE --await-acks "$ALERT_AGENTS" \
        --times "$WORK/alert.times" --timeout 120 >"$WORK/alert.out" || say "alert: cc_bench exit $?"
    perf_end
    # Where the CPU went during the alert, per process (CPU seconds).
    local index=0 swarm_ns=0 ns
    for name in "${cpu_names[@]}"; do
        ns=$(( $(cpu_ns "${PIDS[$name]}") - ${cpu0[$index]} ))
        case $name in
            swarm-*) swarm_ns=$((swarm_ns + ns)) ;;
            *) echo "cpu_s_$name $(ns_to_s $ns)" >>"$WORK/alert.out" ;;
        esac
        index=$((index + 1))
    done
    echo "cpu_s_swarm $(ns_to_s $swarm_ns)" >>"$WORK/alert.out"
    # What the banking relay handled meanwhile (the alert's whole traffic
    # would be one delivery out and one ack in per agent, and a few
    # commits and upstream batches).
    local status1 counter
    status1=$(status_of banking)
    for counter in fetches deliveries_served ack_messages ack_rows acks_upstream commits; do
        echo "banking_$counter $(grown "$status0" "$status1" $counter)"
    done >>"$WORK/alert.out"
    cat "$WORK/alert-idle.out" >>"$WORK/alert.out"
    cat "$WORK/alert.out"
    echo "swarm_processes ${#SWARMS[@]}" >>"$WORK/alert.out"
    for name in "${SWARMS[@]}"; do
        stop "$name"
        sed "s/^/${name}_/" "$T/$name.out" >>"$WORK/alert.out"
    done
    # Where the time went: the last agent inbox commit and the last Acked
    # (ack durable at its relay), both from the publish send.
    awk -v sent="$(awk '{ print $2; exit }' "$WORK/alert.times")" '
        $1 ~ /_last_commit_real_ns$/ && $2 > c { c = $2 }
        $1 ~ /_last_acked_real_ns$/ && $2 > a { a = $2 }
        END { printf "agents_committed_ms %.0f\nrelays_acked_ms %.0f\n", (c - sent) / 1e6, (a - sent) / 1e6 }' \
        "$WORK/alert.out" >>"$WORK/alert.out"
    say "alert: CPU seconds: national $(kv cpu_s_national "$WORK/alert.out"), relays $(kv cpu_s_banking "$WORK/alert.out") + $(kv cpu_s_telecom "$WORK/alert.out"), swarm $(kv cpu_s_swarm "$WORK/alert.out")"
    say "alert: every agent inbox committed after $(kv agents_committed_ms "$WORK/alert.out") ms, every ack durable at its relay after $(kv relays_acked_ms "$WORK/alert.out") ms"
    stop banking; stop telecom; stop national
    alert_transport "$(kv signed_bytes "$WORK/alert.out")"
}

# alert_transport SIGNED_BYTES: the alert's messages without certcast
# (cc_fanout): one publish of the delivery's size from a top node through
# two middles to ALERT_AGENTS leaves over CURVE, one ack of a signed ack's
# size from each, a reply to each, the acks upstream in batches; the same
# processes as the alert, on the same cores. Appends transport_ms and the
# CPU seconds of each part to alert.out.
alert_transport () {
    local dir=$WORK/fanout frame=$(( ${1:-832} + 16 )) half=$(( ALERT_AGENTS / 2 ))
    local relay count part size name names=(fanout-top)
    mkdir -p "$dir"
    say "alert transport: the same messages over libzmq and CURVE alone (cc_fanout), $frame B publish"
    "$CC_BIN/cc_fanout" top --dir "$dir" --acks "$ALERT_AGENTS" --middles 2 --size "$frame" \
        >"$dir/top.out" 2>"$dir/top.log" &
    PIDS[fanout-top]=$!
    for relay in banking telecom; do
        count=$half; [ "$relay" = telecom ] && count=$(( ALERT_AGENTS - half ))
        "$CC_BIN/cc_fanout" middle --dir "$dir" --name "$relay" --clients "$count" \
            >"$dir/$relay.out" 2>"$dir/$relay.log" &
        PIDS[fanout-$relay]=$!
        names+=("fanout-$relay")
        part=1
        for size in $(swarm_sizes "$count"); do
            "$CC_BIN/cc_fanout" leaves --dir "$dir" --middle "$relay" --count "$size" \
                >"$dir/$relay-$part.out" 2>"$dir/$relay-$part.log" &
            PIDS[fanout-$relay-$part]=$!
            names+=("fanout-$relay-$part")
            part=$(( part + 1 ))
        done
    done
    if ! wait_for 600 grep -q '^ready' "$dir/top.out"; then
        for name in "${names[@]}"; do stop "$name"; done
        fail "alert transport: leaves not all connected"
    fi
    sleep 1
    local cpu0=() index=0 ns leaves_ns=0
    for name in "${names[@]}"; do cpu0+=("$(cpu_ns "${PIDS[$name]}")"); done
    kill -USR1 "${PIDS[fanout-top]}"
    wait_for 120 grep -q '^done' "$dir/top.out" || say "alert transport: not all acks arrived"
    for name in "${names[@]}"; do
        ns=$(( $(cpu_ns "${PIDS[$name]}") - ${cpu0[$index]} ))
        case $name in
            fanout-top|fanout-banking|fanout-telecom) echo "transport_cpu_s_${name#fanout-} $(ns_to_s $ns)" ;;
            *) leaves_ns=$(( leaves_ns + ns )) ;;
        esac
        index=$(( index + 1 ))
    done >>"$WORK/alert.out"
    {
        echo "transport_cpu_s_leaves $(ns_to_s $leaves_ns)"
        echo "transport_ms $(kv elapsed_ms "$dir/top.out")"
        echo "transport_frame $frame"
    } >>"$WORK/alert.out"
    for name in "${names[@]}"; do stop "$name"; done
    say "alert transport: $(kv transport_ms "$WORK/alert.out") ms; CPU seconds: top $(kv transport_cpu_s_top "$WORK/alert.out"), middles $(kv transport_cpu_s_banking "$WORK/alert.out") + $(kv transport_cpu_s_telecom "$WORK/alert.out"), leaves $(kv transport_cpu_s_leaves "$WORK/alert.out")"
}

scenario_ingest () {
    raise_fd_limit $(( INGEST_AGENTS * 4 + 4096 ))
    bench_federation 0
    swarm_keys banking b "$INGEST_AGENTS"
    start_national
    start_relay banking
    start_swarm swarm banking b "$INGEST_AGENTS" --threads 1 --expect "$INGEST_ADVISORIES"
    wait_for 300 swarm_said swarm ready || fail "swarm not connected"
    say "ingest: $INGEST_ADVISORIES advisories to $INGEST_AGENTS swarm agents"
    bench_publish --count "$INGEST_ADVISORIES" --size $SMALL_SIZE --window "$INGEST_ADVISORIES" \
        --timeout 120 >/dev/null || fail "ingest publish"
    wait_for 300 swarm_said swarm caught-up || fail "swarm did not get every advisory acked"
    # The national broker is stopped so the relay's CPU goes to ingest only;
    # its upstream queue keeps every ack for later (nothing is dropped).
    stop national
    say "ingest: national stopped; each agent now sends 3 signed acks per advisory (APPLIED, NOT_APPLICABLE, FAILED)"
    # The relay is idle while the swarm signs and commits its flood, so its
    # CPU from here on is the flood's.
    local ns0 threads0 status0
    threads0=$(thread_ns "${PIDS[banking]}")
    ns0=$(cpu_ns "${PIDS[banking]}")
    status0=$(status_of banking)
    perf_begin ingest
    kill -USR1 "${PIDS[swarm]}"
    wait_for 300 swarm_said swarm flood_acks_per_s || fail "flood not acked"
    perf_end
    local relay_cpu threads status1
    relay_cpu=$(ns_to_s $(( $(cpu_ns "${PIDS[banking]}") - ns0 )))
    threads=$(thread_cpu "$threads0" "$(thread_ns "${PIDS[banking]}")" relay_cpu_s)
    stop swarm
    status1=$(status_of banking)
    # Commits tell how many acks a commit held: each rewrites the ledger
    # leaf pages its acks landed on.
    { cat "$T/swarm.out"; echo "relay_cpu_s $relay_cpu"; echo "$threads"
      echo "relay_ack_messages $(grown "$status0" "$status1" ack_messages)"
      echo "relay_commits $(grown "$status0" "$status1" commits)"; } | tee "$WORK/ingest.out"
    stop banking
    # The flood's transport alone: as many requests (an Acks of one entry
    # is 156 B, as ingestlink's are) from as many CURVE connections, each
    # peer's share all at once, answered with 8 B.
    local acks
    acks=$(kv flood_acks "$WORK/ingest.out")
    [ -n "$acks" ] && "$CC_BIN/cc_bench" baseline-reqrep "$acks" 156 8 \
        --peers "$INGEST_AGENTS" --window $(( (acks + INGEST_AGENTS - 1) / INGEST_AGENTS )) \
        | sed 's/^/transport_/' | tee -a "$WORK/ingest.out" \
        || say "ingest: transport baseline failed"
}

# --- baselines (in this shell) ----------------------------------------------

START=$(date +%s)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
note "certcast bench: $(nproc) cores, load average $LOAD0, SCALE=$SCALE, BENCH=$BENCH, work dir $WORK"
awk -v l="$LOAD0" -v c="$(nproc)" 'BEGIN { exit !(l > c / 2) }' && \
    note "WARNING: this machine is busy (load $LOAD0 on $(nproc) cores): figures will be worse than the programs deserve"

# The Ed25519 baseline is measured before the scenarios and again right
# after each scenario that is compared with it, and every figure keeps the
# best it has seen: the host under these cores is shared, and one
# measurement taken in a slow spell once made catch-up look like 0.89 of
# the verify rate. A floor is the most the cores have been seen to do.
ED25519_RUNS=0
ed25519_measure () {
    note "== baseline: Ed25519 (OpenSSL EVP through cc_keys_sign / cc_ed25519_verify)${1:+, again after $1}"
    "$BIN/cc_bench" baseline-ed25519 --size 1024 >"$WORK/ed25519.new" || return 0
    cat "$WORK/ed25519.new" >&2
    ED25519_RUNS=$((ED25519_RUNS + 1))
    if [ -s "$WORK/ed25519.out" ]; then
        awk 'NR == FNR { best[$1] = $2; next }
             { if (!($1 in best) || $2 + 0 > best[$1] + 0) best[$1] = $2; order[++n] = $1 }
             END { for (i = 1; i <= n; i++) print order[i], best[order[i]] }' \
            "$WORK/ed25519.out" "$WORK/ed25519.new" >"$WORK/ed25519.best"
        mv "$WORK/ed25519.best" "$WORK/ed25519.out"
    else
        mv "$WORK/ed25519.new" "$WORK/ed25519.out"
    fi
    rm -f "$WORK/ed25519.new"
}
ed25519_record () {
    local runs="best of $ED25519_RUNS measurements in this run"
    record baseline_ed25519_sign "$(kv sign_per_s "$WORK/ed25519.out")" "ops/s" "" "" info "" \
        "cc_keys_sign over 1 KiB, one core; $runs"
    record baseline_ed25519_verify "$(kv verify_per_s "$WORK/ed25519.out")" "ops/s" "" "" info "" \
        "cc_ed25519_verify over 1 KiB, one core (fresh EVP_PKEY + EVP_MD_CTX per call, as certcast does); $runs (each scenario compared with it used the best measured before its figure)"
    record baseline_ed25519_verify_all_cores "$(kv verify_all_cores_per_s "$WORK/ed25519.out")" "ops/s" \
        "$(kv verify_per_s "$WORK/ed25519.out")" ed25519_verify info "" \
        "the same verify on $(kv cores "$WORK/ed25519.out") threads at once, one per core: what these cores give together (ratio: against one core); $runs"
}
needs ed25519 && ed25519_measure
if needs lmdb; then
    note "== baseline: LMDB durable commits (cc_store_write) in $WORK/lmdb"
    "$BIN/cc_bench" baseline-lmdb "$WORK/lmdb" --count "$LMDB_COUNT" --group 1000 \
        --txns "$LMDB_TXNS" --size 1024 | tee "$WORK/lmdb.out" >&2
    record baseline_lmdb_commit_p50 "$(kv commit_p50_ms "$WORK/lmdb.out")" ms "" "" info "" \
        "one 1 KiB put per write txn, commit with fdatasync, $LMDB_COUNT commits"
    record baseline_lmdb_commit_p99 "$(kv commit_p99_ms "$WORK/lmdb.out")" ms "" "" info "" \
        "same commits, 99th percentile"
    record baseline_lmdb_group_puts "$(kv group_puts_per_s "$WORK/lmdb.out")" "puts/s" "" "" info "" \
        "1000 puts of 1 KiB per durable txn, $LMDB_TXNS txns"
    rm -rf "$WORK/lmdb"
fi

# --- scenarios ----------------------------------------------------------------

if selected publish; then
    scenario publish
    f=$WORK/publish.out
    record publish_stored_p50 "$(kv rtt_p50_ms "$f")" ms "$(kv commit_p50_ms "$WORK/lmdb.out")" \
        lmdb_commit_p50 info "" \
        "publish to Stored round trip, $PUBLISH_COUNT sequential publishes on one CURVE DEALER, ~$(kv signed_bytes "$f") B signed"
    record publish_stored_p99 "$(kv rtt_p99_ms "$f")" ms "$(kv commit_p99_ms "$WORK/lmdb.out")" \
        lmdb_commit_p99 ratio-le 2 "same round trips, 99th percentile"
fi

# Only when asked for by name (BENCH=e2etrace): see scenario_e2etrace.
if [[ ",$BENCH," == *",e2etrace,"* ]]; then
    scenario e2etrace
    f=$WORK/e2etrace.out
    hop () {    # hop NAME: that daemon's sync + meta-write p50, ms
        awk -v a="$(kv "$1_sync_p50_ms" "$f")" -v b="$(kv "$1_meta_p50_ms" "$f")" \
            'BEGIN { if (a != "") printf "%.3f", a + b }'
    }
    disk=$(awk -v a="$(hop national)" -v b="$(hop banking)" -v c="$(hop a1)" \
        'BEGIN { if (a != "" && b != "" && c != "") printf "%.3f", a + b + c }')
    record e2e_one_agent_p50 "$(kv inbox_p50_ms "$f")" ms "$disk" "three daemon commits" info "" \
        "publish sent to the inbox committed, 1 agent, 40 advisories at 20/s. Baseline: the p50s of the three daemons' own durable commits in this run, traced (data sync + meta-page write): national $(hop national), relay $(hop banking), agent $(hop a1) ms; the isolated baseline commit p50 is $(kv commit_p50_ms "$WORK/lmdb.out") ms"
fi

if selected e2e; then
    scenario e2e
    f=$WORK/e2e.out
    n=$(kv inbox_n "$f"); want=$(kv deliveries_expected "$f")
    achieved=$(awk -v n="$E2E_COUNT" -v s="$(kv publish_done_s "$f")" 'BEGIN { if (s > 0) printf "%.0f", n / s }')
    # The disk under this scenario's load: every process on the path (the
    # national broker, the relay, each agent) commits at least once per
    # advisory, each to its own environment, at the scenario's rate.
    writers=$((E2E_AGENTS + 2))
    note "== baseline: LMDB durable commits by $writers writers at $E2E_RATE/s each, in $WORK/lmdbload"
    "$BIN/cc_bench" baseline-lmdb-load "$WORK/lmdbload" --writers "$writers" \
        --rate "$E2E_RATE" --commits "$E2E_COUNT" --size 1024 | tee "$WORK/lmdbload.out" >&2
    rm -rf "$WORK/lmdbload"
    loaded=$WORK/lmdbload.out
    record baseline_lmdb_loaded_commit_p50 "$(kv loaded_commit_p50_ms "$loaded")" ms "" "" info "" \
        "one durable commit while $writers writers (each its own environment, as each daemon and agent) commit $E2E_RATE times a second each; p99 $(kv loaded_commit_p99_ms "$loaded") ms; the latest any commit started after it was due: $(kv schedule_late_max_ms "$loaded") ms"
    three () { awk -v p="$1" 'BEGIN { if (p != "") printf "%.3f", 3 * p }'; }
    floor=$(three "$(kv loaded_commit_p50_ms "$loaded")")
    record e2e_inbox_p50 "$(kv inbox_p50_ms "$f")" ms "$floor" "3 x loaded_commit_p50" le 2 \
        "publish sent to agent inbox committed (its spool temp file created, seen by inotify), $E2E_COUNT advisories at $E2E_RATE/s (achieved ${achieved:-?}/s), $E2E_AGENTS agents behind one relay; ${n:-0}/${want:-?} deliveries seen. Baseline: three durable commits in series (national, relay, agent), the floor of any design that commits at every hop, each at its p50 under the scenario's least disk load ($writers writers at $E2E_RATE/s, measured after it); on the idle disk three commits take $(three "$(kv commit_p50_ms "$WORK/lmdb.out")") ms"
    record e2e_inbox_p99 "$(kv inbox_p99_ms "$f")" ms "$(kv loaded_commit_p99_ms "$loaded")" \
        "loaded_commit_p99" le 5 "same deliveries, 99th percentile. Baseline: the p99 of one commit under the same load, a lower bound for three in series"
    record e2e_handover_p50 "$(kv spool_p50_ms "$f")" ms "" "" info "" \
        "publish sent to spool file renamed into place (after its fsyncs)"
fi

if selected burst; then
    scenario burst
    f=$WORK/burst.out
    acks_s=$(kv acks_done_s "$f"); inbox_s=$(kv inbox_done_s "$f")
    signed=$(kv signed_bytes "$f")
    dps=""; ips=""
    [ -n "$acks_s" ] && dps=$(awk -v n=$((BURST_COUNT * BURST_AGENTS)) -v s="$acks_s" 'BEGIN { printf "%.0f", n / s }')
    [ -n "$inbox_s" ] && ips=$(awk -v n=$((BURST_COUNT * BURST_AGENTS)) -v s="$inbox_s" 'BEGIN { printf "%.0f", n / s }')
    note "== baseline: raw libzmq PUB -> zmq_proxy -> $BURST_AGENTS SUB, $BURST_COUNT x ${signed:-2400} B"
    "$BIN/cc_bench" baseline-zmq "$BURST_COUNT" "${signed:-2400}" --subs "$BURST_AGENTS" \
        --rounds 5 | tee "$WORK/zmq.out" >&2
    "$BIN/cc_bench" baseline-zmq "$BURST_COUNT" "${signed:-2400}" --subs "$BURST_AGENTS" \
        --rounds 5 --curve | tee "$WORK/zmq-curve.out" >&2
    record baseline_zmq_forwarder "$(kv deliveries_per_s "$WORK/zmq.out")" "deliveries/s" "" "" info "" \
        "raw libzmq PUB -> XSUB/XPUB zmq_proxy -> $BURST_AGENTS SUB over TCP 127.0.0.1, no CURVE, $BURST_COUNT x ${signed:-?} B, median of 5"
    record baseline_zmq_forwarder_curve "$(kv deliveries_per_s "$WORK/zmq-curve.out")" "deliveries/s" "" "" info "" \
        "same chain with CURVE on both hops (context only)"
    record burst_deliveries "$dps" "deliveries/s" "$(kv deliveries_per_s "$WORK/zmq.out")" \
        zmq_forwarder ratio-ge 0.35 \
        "$BURST_COUNT x ${BURST_SIZE} B body advisories published at once (window $BURST_COUNT) -> national -> 1 relay -> $BURST_AGENTS agents (one swarm process), durable at every hop; clock stops when all $((BURST_COUNT * BURST_AGENTS)) acks are in the national ledger (national ledger rows: $(kv ledger_rows "$f")); CPU seconds meanwhile: national $(kv cpu_s_national "$f"), relay $(kv cpu_s_banking "$f"), swarm $(kv cpu_s_swarm "$f")"
    record burst_inbox_deliveries "$ips" "deliveries/s" "$(kv deliveries_per_s "$WORK/zmq.out")" \
        zmq_forwarder info "" "same burst, clock stopped at the last agent inbox commit (the swarm's last durable commit)"
    # The least this burst can take on these cores: the CURVE chain's own
    # CPU for the same deliveries plus the Ed25519 work the run did (each
    # advisory verified at the national broker, the relay and once per
    # swarm thread; each ack signature made by an agent and verified at the
    # relay and the national broker), spread over the cores; never less
    # than the CURVE chain's own time. Also the same with one ack per agent,
    # the fewest signatures any design could use.
    ed25519_measure burst
    burst_floor () {   # burst_floor ACKS: deliveries/s
        awk -v n=$((BURST_COUNT * BURST_AGENTS)) -v adv="$BURST_COUNT" -v acks="$1" \
            -v swarm="$(kv verify_calls "$f")" -v cpu="$(kv cpu_s "$WORK/zmq-curve.out")" \
            -v dps="$(kv deliveries_per_s "$WORK/zmq-curve.out")" -v c="$(nproc)" \
            -v v="$(kv verify_per_s "$WORK/ed25519.out")" -v sg="$(kv sign_per_s "$WORK/ed25519.out")" 'BEGIN {
            if (acks == "" || swarm == "" || cpu == "" || dps + 0 <= 0 || v + 0 <= 0 || sg + 0 <= 0) exit
            t = (cpu + (2 * adv + swarm + 2 * acks) / v + acks / sg) / c
            if (n / dps > t) t = n / dps
            printf "%.0f", n / t }'
    }
    floor=$(burst_floor "$(kv acks_sent "$f")")
    fewest=$(burst_floor "$BURST_AGENTS")
    target=$(awk -v d="$(kv deliveries_per_s "$WORK/zmq.out")" 'BEGIN { if (d > 0) printf "%.0f", 0.35 * d }')
    record burst_floor "$dps" "deliveries/s" "$floor" "curve + ed25519 floor" info "" \
        "burst_deliveries against the most these cores can do for it: the CURVE chain's CPU for the same deliveries ($(kv cpu_s "$WORK/zmq-curve.out") s, baseline_zmq_forwarder_curve) plus this run's Ed25519 work ($((2 * BURST_COUNT)) advisory verifies at the national broker and the relay, $(kv verify_calls "$f") in the swarm, $(kv acks_sent "$f") ack signatures made and each verified twice) over the cores. The target (0.35 x forwarder = $target deliveries/s) is $( [ -n "$floor" ] && [ -n "$target" ] && awk -v t="$target" -v f="$floor" 'BEGIN { print (t > f + 0)? "above": "within" }') this floor. With one ack per agent (the fewest signatures) the floor would be $fewest deliveries/s"
fi

if selected catchup; then
    scenario catchup
    ed25519_measure catchup
    f=$WORK/catchup.out
    rate=""
    start=$(kv start_real_ns "$f"); acked=$(kv acks_done_real_ns "$f"); got=$(kv ack_rows_new "$f")
    if [ -n "$start" ] && [ -n "$acked" ]; then
        rate=$(per_s "$CATCHUP_COUNT" "$start" "$acked")
    fi
    last=$(kv last_moved_real_ns "$f"); moved=$(kv moved "$f"); spooled=""
    if [ -n "$start" ] && [ -n "$last" ] && [ "${moved:-0}" = "$CATCHUP_COUNT" ]; then
        spooled=$(per_s "$CATCHUP_COUNT" "$start" "$last")
    fi
    record catchup "$rate" "advisories/s" "$(kv verify_per_s "$WORK/ed25519.out")" \
        ed25519_verify ratio-ge 0.55 \
        "agent offline for $CATCHUP_COUNT advisories, restarted: from process start until the relay's ledger holds its signed receipt for every one (${got:-0} new rows): each verified (one Ed25519 verify per advisory; the delegation's is cached) and committed to the inbox first"
    record catchup_spooled "$spooled" "advisories/s" "" "" info "" \
        "same run, until the last of the ${moved:-0} spool files (one file per advisory, written, synced, renamed) was handed to the host: limited by file creation on this disk"
fi

if selected footprint; then
    scenario footprint
    f=$WORK/footprint.out
    rss=$(kv vmrss_kib "$f"); ticks=$(kv cpu_ticks "$f"); hz=$(kv clk_tck "$f"); ns=$(kv cpu_ns "$f")
    rss_mib=""; cpu=""; cpu_ns=""
    [ -n "$rss" ] && rss_mib=$(awk -v k="$rss" 'BEGIN { printf "%.2f", k / 1024 }')
    [ -n "$ticks" ] && cpu=$(awk -v t="$ticks" -v hz="$hz" -v s="$IDLE_S" 'BEGIN { printf "%.3f", 100 * t / hz / s }')
    [ -n "$ns" ] && cpu_ns=$(awk -v n="$ns" -v s="$IDLE_S" 'BEGIN { printf "%.4f", 100 * n / 1e9 / s }')
    floor_mib=$(awk -v k="$(kv floor_rss_kib "$f")" 'BEGIN { if (k > 0) printf "%.2f", k / 1024 }')
    record agent_rss "$rss_mib" MiB "$floor_mib" library_floor_rss le 8 \
        "VmRSS of one agent after $FOOTPRINT_COUNT advisories ($(kv threads "$f") threads): anonymous $(kv rssanon "$f") KiB, file-backed $(kv rssfile "$f") KiB (shared libraries and the LMDB map; the map alone $(kv lmdb_map_rss_kib "$f") KiB). Baseline: cc_floor, a process that only loads the same Debian libraries, initialises OpenSSL as the agent does, and makes one CurveZMQ round trip, one Ed25519 verify and one LMDB commit: $(kv floor_rss_kib "$f") KiB, of which $(kv floor_libraries_kib "$f") KiB are pages of shared libraries (per mapping: footprint-smaps.out in the work dir)"
    # schedstat counts the nanoseconds the agent's threads ran; the tick
    # count only says whether a 10 ms tick landed in the agent, so one
    # lucky tick reads as the whole 0.1 % target.
    record agent_idle_cpu "${cpu_ns:-$cpu}" "%" "" "" le 0.1 \
        "CPU time of every agent thread over $IDLE_S idle s, from schedstat (run time in ns); utime+stime from /proc/PID/stat say ${cpu:-?} % (their resolution 1/$hz s = $(awk -v hz="$hz" -v s="$IDLE_S" 'BEGIN { printf "%.2f", 100 / hz / s }') %)"
fi

if selected alert; then
    scenario alert
    ed25519_measure alert
    f=$WORK/alert.out
    ms=$(awk '$1 == "acks_done_s" { printf "%.0f", $2 * 1000 }' "$f")
    sign=$(kv sign_per_s "$WORK/ed25519.out"); verify=$(kv verify_per_s "$WORK/ed25519.out")
    floor=$(awk -v n="$ALERT_AGENTS" -v s="$sign" -v v="$verify" -v c="$(nproc)" \
        'BEGIN { if (s > 0 && v > 0) printf "%.0f", 1000 * (n / s + 2 * n / v) / c }')
    # The transport's CPU and the Ed25519 work cannot take less than their
    # sum spread over the cores, nor less than the transport's own time.
    transport_cpu=$(awk '$1 ~ /^transport_cpu_s_/ { t += $2; n++ } END { if (n) printf "%.2f", t }' "$f")
    both=$(awk -v n="$ALERT_AGENTS" -v s="$sign" -v v="$verify" -v c="$(nproc)" \
        -v tc="$transport_cpu" -v tm="$(kv transport_ms "$f")" \
        'BEGIN { if (s > 0 && v > 0 && tc != "" && tm != "") { b = 1000 * (tc + n / s + 2 * n / v) / c; printf "%.0f", (b > tm? b: tm) } }')
    record baseline_alert_transport "$(kv transport_ms "$f")" ms "" "" info "" \
        "the alert's messages without certcast (cc_fanout): one $(kv transport_frame "$f") B publish from a top node through 2 middles to $ALERT_AGENTS leaves in the alert's $(kv swarm_processes "$f") processes, each leaf its own CURVE key, SUB and DEALER; each leaf sends one 240 B ack, each middle answers it and sends acks upstream in batches; publish to the last ack at the top. No signatures, no LMDB, no protobuf. CPU seconds: top $(kv transport_cpu_s_top "$f"), middles $(kv transport_cpu_s_banking "$f") + $(kv transport_cpu_s_telecom "$f"), leaves $(kv transport_cpu_s_leaves "$f")"
    record national_alert "$ms" ms "$both" "transport + ed25519 floor" le 1500 \
        "1 advisory (all sectors) -> national -> 2 relays -> $ALERT_AGENTS swarm agents ($(kv swarm_processes "$f") swarm processes, each agent its own CURVE and Ed25519 keys and sockets), durable at every hop: publish sent to the last of $ALERT_AGENTS new rows in the national ledger (status polled every 20 ms); every agent inbox committed at $(kv agents_committed_ms "$f") ms, every ack durable at its relay at $(kv relays_acked_ms "$f") ms; CPU seconds meanwhile: national $(kv cpu_s_national "$f"), relays $(kv cpu_s_banking "$f") + $(kv cpu_s_telecom "$f"), swarm $(kv cpu_s_swarm "$f"). Baseline: the least this work can take on $(nproc) cores: the transport alone (baseline_alert_transport, $transport_cpu CPU s) plus the Ed25519 work ($ALERT_AGENTS ack signatures + $ALERT_AGENTS verifies at the relays + $ALERT_AGENTS at the national broker, $floor ms on its own over the cores), spread over the cores. The swarm verifies identical advisory bytes once per swarm thread (its one verify of the alert took $(kv swarm-banking-1_verify_us "$f") us, cold); verifying for every agent, at the baseline's verify rate, would add $(awk -v n="$ALERT_AGENTS" -v v="$verify" -v c="$(nproc)" 'BEGIN { if (v > 0) printf "%.0f", 1000 * n / v / c }') ms of CPU per core"
    record relay_idle_cpu "$(kv relay_idle_cpu_pct "$f")" "% of a core" "" "" info "" \
        "the banking relay with $((ALERT_AGENTS / 2)) agents connected and nothing published, over $ALERT_IDLE_S s before the alert (its heartbeat every $RELAY_HEARTBEAT ms, the relay's default)"
fi

if selected ingest; then
    scenario ingest
    ed25519_measure ingest
    f=$WORK/ingest.out
    verify=$(kv verify_per_s "$WORK/ed25519.out")
    cores_verify=$(awk -v v="$verify" -v c="$(nproc)" 'BEGIN { if (v > 0) printf "%.0f", v * c }')
    record ack_ingest "$(kv flood_acks_per_s "$f")" "acks/s" "$cores_verify" "cores x ed25519_verify" \
        ratio-ge 0.8 \
        "$(kv flood_acks "$f") signed acks (one entry each) from $INGEST_AGENTS swarm agents sent at once to one relay (national stopped, so the relay does nothing else): first send to last Acked (Acked is sent after the durable commit); $(kv flood_ms "$f") ms; the relay used $(kv relay_cpu_s "$f") s of CPU ($(awk -v s="$(kv relay_cpu_s "$f")" -v n="$(kv flood_acks "$f")" 'BEGIN { if (n > 0 && s != "") printf "%.0f", s * 1e6 / n }') us per ack). The swarm's 2,000 agents run on the same cores. The target is $(awk -v c="$cores_verify" -v a="$(kv verify_all_cores_per_s "$WORK/ed25519.out")" 'BEGIN { if (a > 0) printf "%.2f", 0.8 * c / a }') of the rate both cores verify at together with nothing else to do"
    # Two floors. The physical one: the flood's transport alone (as many
    # requests from as many CURVE connections) spread over the cores, plus
    # every ack verified at the most the cores verify. And the one with
    # this swarm: its 2,000 agents share the cores with the relay, so the
    # swarm's own CPU over the flood (measured by it) replaces the
    # transport's; the relay's own transport and ledger are in neither.
    rate_awk='rate = c * v; if (va + 0 > rate) rate = va'
    floor=$(awk -v n="$(kv flood_acks "$f")" -v v="$verify" -v c="$(nproc)" \
        -v va="$(kv verify_all_cores_per_s "$WORK/ed25519.out")" \
        -v t="$(kv transport_seconds "$f")" -v cpu="$(kv transport_cpu_s "$f")" "BEGIN {
        if (n == \"\" || v + 0 <= 0 || cpu == \"\" || t == \"\") exit
        $rate_awk; s = cpu / c + n / rate; if (t > s) s = t
        printf \"%.0f\", n / s }")
    swarm_floor=$(awk -v n="$(kv flood_acks "$f")" -v v="$verify" -v c="$(nproc)" \
        -v va="$(kv verify_all_cores_per_s "$WORK/ed25519.out")" \
        -v cpu="$(kv flood_cpu_s "$f")" "BEGIN {
        if (n == \"\" || v + 0 <= 0 || cpu == \"\") exit
        $rate_awk; printf \"%.0f\", n / (cpu / c + n / rate) }")
    target=$(awk -v c="$cores_verify" 'BEGIN { printf "%.0f", 0.8 * c }')
    where () { [ -n "$1" ] && awk -v t="$target" -v f="$1" 'BEGIN { print (t > f + 0)? "above": "within" }'; }
    record baseline_ingest_transport_peers "$(kv transport_requests_per_s "$f")" "requests/s" "" "" info "" \
        "$(kv transport_requests "$f") requests of $(kv transport_request_bytes "$f") B answered with $(kv transport_reply_bytes "$f") B from $(kv transport_peers "$f") DEALERs (each its own CURVE key and connection, $(kv transport_window "$f") at once each) to one ROUTER, libzmq and CurveZMQ in one process, no certcast: $(kv transport_seconds "$f") s, $(kv transport_cpu_s "$f") CPU s (both ends; $(awk -v s="$(kv transport_cpu_s "$f")" -v n="$(kv transport_requests "$f")" 'BEGIN { if (n > 0 && s != "") printf "%.1f", s * 1e6 / n }') us a request)"
    record ack_ingest_floor "$(kv flood_acks_per_s "$f")" "acks/s" "$floor" \
        "transport + ed25519 floor" info "" \
        "ack_ingest against the most these cores can do: the flood's transport alone (baseline_ingest_transport_peers) over the cores plus every ack verified at the faster of cores x one core and both cores at once; ratio 1 is the floor. The target ($target acks/s) is $(where "$floor") this floor"
    record ack_ingest_swarm_floor "$(kv flood_acks_per_s "$f")" "acks/s" "$swarm_floor" \
        "swarm + ed25519 floor" info "" \
        "ack_ingest against the most these cores can do with this swarm on them: the swarm's own CPU over the flood ($(kv flood_cpu_s "$f") s, $(awk -v s="$(kv flood_cpu_s "$f")" -v n="$(kv flood_acks "$f")" 'BEGIN { if (n > 0 && s != "") printf "%.0f", s * 1e6 / n }') us per ack: 2,000 agents' connections, requests, answers and outbox) over the cores, plus every ack verified as above; the relay's transport and ledger are not in it. The target ($target acks/s) is $(where "$swarm_floor") this floor"
fi

if selected ingestlink; then
    scenario ingestlink
    ed25519_measure ingestlink
    f=$WORK/ingestlink.out
    verify=$(kv verify_per_s "$WORK/ed25519.out")
    cores_verify=$(awk -v v="$verify" -v c="$(nproc)" 'BEGIN { if (v != "") printf "%.0f", v * c }')
    record ack_ingest_one_link "$(kv acks_per_s "$f")" "acks/s" "$cores_verify" \
        "cores x ed25519_verify" ratio-ge 0.8 \
        "$(kv acks "$f") signed acks (one entry each) from $(kv agents "$f") agent keys, $(kv batch "$f") per Acks request, window $INGEST_WINDOW, over one CURVE DEALER (a relay enrolled below) to the banking relay, its upstream not running; first send to last Acked (each after the relay's durable commit); $(kv rows_new "$f") new ledger rows; the relay used $(kv relay_cpu_s "$f") s of CPU. The client runs on the same cores. The target, 0.8 x cores x one-core verify, is $(awk -v c="$cores_verify" -v a="$(kv verify_all_cores_per_s "$WORK/ed25519.out")" 'BEGIN { if (a > 0) printf "%.2f", 0.8 * c / a }') of the rate both cores verify at together with nothing else to do (baseline_ed25519_verify_all_cores)"

    # The least time these acks can take on these cores: the transport's
    # own CPU spread over the cores, plus every ack's verify at the faster
    # of what the cores verify together and cores x one core; never less
    # than the transport alone takes.
    floor=$(awk -v n="$(kv acks "$f")" -v v="$verify" -v c="$(nproc)" \
        -v va="$(kv verify_all_cores_per_s "$WORK/ed25519.out")" \
        -v t="$(kv transport_seconds "$f")" -v cpu="$(kv transport_cpu_s "$f")" 'BEGIN {
        if (n == "" || v + 0 <= 0 || t == "" || cpu == "") exit
        rate = c * v; if (va + 0 > rate) rate = va
        s = cpu / c + n / rate; if (t > s) s = t; printf "%.0f", n / s }')
    # The relay's CPU per ack against one verify on one core: whatever the
    # overlap, acks/s cannot pass cores / (CPU per ack, relay and client),
    # so the target needs that to stay within 1.25 verifies.
    record ack_ingest_relay_cpu_per_ack "$(awk -v s="$(kv relay_cpu_s "$f")" -v n="$(kv acks "$f")" 'BEGIN { if (n > 0 && s != "") printf "%.1f", s * 1e6 / n }')" \
        "us" "$(awk -v v="$verify" 'BEGIN { if (v > 0) printf "%.1f", 1e6 / v }')" "one ed25519_verify" info "" \
        "the relay's CPU time (all its threads) per ack in ack_ingest_one_link, against the CPU time of one verify on one core; the cores were $(kv machine_busy_pct "$f") % busy from first send to last Acked (client, relay and all else; /proc/stat). At 0.8 x cores x verify the relay and the client together may spend 1.25 verifies per ack"
    record baseline_ingest_transport "$(kv transport_requests_per_s "$f")" "requests/s" "" "" info "" \
        "$(kv transport_requests "$f") requests of $(kv transport_request_bytes "$f") B answered with $(kv transport_reply_bytes "$f") B, window $INGEST_WINDOW, libzmq DEALER to ROUTER over CurveZMQ in one process, no certcast: $(kv transport_seconds "$f") s, $(kv transport_cpu_s "$f") CPU s (both ends)"
    record ack_ingest_one_link_floor "$(kv acks_per_s "$f")" "acks/s" "$floor" \
        "transport + ed25519 floor" info "" \
        "the same ingest against the most these cores can do: the transport's CPU seconds over the cores plus every ack verified at the faster of cores x one core and both cores at once, never faster than the transport alone (baseline_ingest_transport); ratio 1 is the floor. The target (0.8 x cores x verify = $(awk -v c="$cores_verify" 'BEGIN { printf "%.0f", 0.8 * c }') acks/s) is $( [ -n "$floor" ] && awk -v c="$cores_verify" -v f="$floor" 'BEGIN { if (0.8 * c > f + 0) print "above"; else print "within" }') this floor"
fi

needs ed25519 && ed25519_record
record machine_load_at_start "$LOAD0" "" "" "" info "" \
    "1-minute load average before the run, $(nproc) cores: other work on the machine skews every figure"
record machine_load_at_end "$(cut -d' ' -f1 /proc/loadavg)" "" "" "" info "" "1-minute load average after the run"

# --- table and bench.json --------------------------------------------------------

echo
printf '%-30s %12s %-13s %12s %8s %-28s %s\n' name value unit baseline ratio target met
awk -F'\t' '{
    printf "%-30s %12s %-13s %12s %8s %-28s %s\n", $1, ($2 == "" ? "null" : $2), $3,
        ($4 == "" ? "-" : $4), ($6 == "" ? "-" : $6), ($7 == "" ? "-" : $7), ($8 == "" ? "-" : $8)
}' "$RESULTS"
echo
awk -F'\t' '$9 != "" { printf "  %s: %s\n", $1, $9 }' "$RESULTS"

awk -F'\t' -v cores="$(nproc)" -v scale="$SCALE" '
function num(v) { return v == "" ? "null" : v }
function str(v) { gsub(/\\/, "\\\\", v); gsub(/"/, "\\\"", v); return v == "" ? "null" : "\"" v "\"" }
BEGIN { print "[" }
{
    if (NR > 1) print ","
    printf "  {\"name\": %s, \"value\": %s, \"unit\": %s, \"baseline\": %s, \"baseline_name\": %s, \"ratio\": %s, \"target\": %s, \"met\": %s, \"note\": %s, \"cores\": %s, \"scale\": %s}",
        str($1), num($2), str($3), num($4), str($5), num($6), str($7), ($8 == "" ? "null" : $8), str($9), cores, scale
}
END { print ""; print "]" }' "$RESULTS" >"$OUT"
echo "bench: $(wc -l <"$RESULTS") figures in $OUT ($(( $(date +%s) - START )) s)"
exit 0
