#!/usr/bin/env bash
# Readers killed mid-read must not pin the national broker's LMDB for good.
#
# A national broker, banking and telecom relays, agents bank1 bank2 tel1.
# 100 all-sector advisories give the national ledger 300 ack rows, so
# `certcast ledger --format json` prints more than a pipe holds. Then a
# writer loop keeps publishing all-sector advisories (and the agents keep
# acking) while readers are started against the live data directory, each
# writing into its own FIFO that the test holds open but never reads, so
# each reader blocks in write(2); once blocked it is killed with -9.
#
# 1. Baseline: pages used per publish with no reader.
# 2. Kill loop: 30 readers in turn: certcast ledger (blocked printing,
#    store still open between its per-advisory transactions: leaves an
#    idle slot), certcast compliance (the same) and mdb_dump (blocked
#    inside its read transaction: leaves a slot that pins pages). A
#    reader's own open clears dead slots too (mdb_reader_check); the last
#    one killed is an mdb_dump that only the broker can clear.
# 3. Control: one mdb_dump blocked inside its read transaction shows what
#    a pinning reader costs while it lives (pages freed after its snapshot,
#    from the freelist). Killed, it leaves a stale slot that only the
#    broker can clear (nobody else opens the store): `mdb_stat -r` lists
#    the dead PID until the broker logs "cleared N stale reader slot(s)",
#    within one housekeeping period (5 s).
# 4. Writes go on after the slots are cleared.
# Pass:
# - every killed reader was blocked writing (/proc/PID/wchan) first;
# - ledger and compliance hold an idle slot while they print (no
#   snapshot pinned: txnid "-"); mdb_dump pins a snapshot;
# - within 8 s of a kill no reader slot of a dead PID is left, and the
#   slots cleared (broker log + the readers' own open-time check) add up
#   to the stale slots the killed readers left;
# - the data file does not keep growing: the kill loop grows it by less
#   than half of what a reader never cleared would cost over as many
#   publishes (the control's rate), and once the slots are cleared further writes reuse the freed
#   pages (pages used stays flat);
# - every publish of the writer exits 0, every ack reaches the national
#   ledger, no commit fails, every daemon stops cleanly.
# READERS (default 30, rounded up to a multiple of 3) sets the kill loop.
source "$(dirname "$0")/lib.sh"
STARTED=$(date +%s)
READERS=${READERS:-30}
READERS=$(( (READERS + 2) / 3 * 3 ))   # so the last one killed is an mdb_dump
DATA=$T/national/data
federation
start_national
start_relay banking
start_relay telecom
start_agent bank1 banking
start_agent bank2 banking
start_agent tel1 telecom

# pages_used: "Number of pages used" of the national environment.
pages_used () { mdb_stat -e "$DATA" | awk '/Number of pages used/ { print $5 }'; }
free_pages () { mdb_stat -f "$DATA" | awk '/Free pages/ { print $3 }'; }
# reader_pids: the PIDs in the national reader table.
reader_pids () { mdb_stat -r "$DATA" | awk 'NR > 2 { print $1 }'; }
# dead_readers: reader slots whose process is gone.
dead_readers () {
    local pid
    for pid in $(reader_pids); do
        kill -0 "$pid" 2>/dev/null || echo "$pid"
    done
}
no_dead_readers () { [ -z "$(dead_readers)" ]; }
holds_slot () { reader_pids | grep -qx "$1"; }
# slot_txn PID: the snapshot that PID's slot pins ("-": none, idle slot).
slot_txn () { mdb_stat -r "$DATA" | awk -v pid="$1" 'NR > 2 && $1 == pid { print $3 }'; }
# blocked_writing PID: asleep in write(2) on a full pipe (wchan, or the
# syscall number of write on x86-64 if wchan is hidden).
blocked_writing () {
    grep -q pipe_write "/proc/$1/wchan" 2>/dev/null && return 0
    [ "$(uname -m)" = x86_64 ] && [ "$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null)" = 1 ] \
        && grep -q '^State:.*S' "/proc/$1/status" 2>/dev/null
}
# cleared_sum FILE: the N of every "cleared N stale reader slot(s)" line.
cleared_sum () {
    grep -o 'cleared [0-9]* stale reader' "$1" 2>/dev/null \
        | awk '{ sum += $2 } END { print sum + 0 }'
}
elapsed () { echo "$(( $(date +%s) - STARTED )) s"; }
rows_at_least () { [ "$(ledger_rows "$DATA")" -ge "$1" ]; }
written () { cat "$T/writer.count" 2>/dev/null || echo 0; }
# written_since N: the writer has published N more since the count $2.
written_since () { [ $(( $(written) - $2 )) -ge "$1" ]; }

# The writer and the blocked readers are ours too: end them before the
# daemons at exit, whatever happened.
declare -A EXTRA=()
stale_cleanup () {
    local pid
    touch "$T/writer.stop" 2>/dev/null
    for pid in "${!EXTRA[@]}"; do
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    cc_cleanup
}
trap stale_cleanup EXIT

say "100 all-sector advisories, 300 ack rows ($(elapsed))"
PUBS=()
for part in 0 1 2 3; do
    ( for index in $(seq $((part * 25 + 1)) $((part * 25 + 25))); do
          publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id "SR-$index" \
              --title "stale readers $index" --severity low --tlp clear \
              --sector all >/dev/null || exit 1
      done ) &
    PUBS+=($!)
done
for pid in "${PUBS[@]}"; do
    wait "$pid" || fail "a setup publisher failed"
done
wait_for 30 rows_at_least 300 || fail "the ledger has $(ledger_rows "$DATA") rows, expected 300"
out=$(certcast ledger --data "$DATA" --format json | wc -c)
[ "$out" -gt 65536 ] || fail "ledger prints $out bytes: too little to block on a pipe"

# The writer: all-sector advisories, one after another, until told to stop.
writer () {
    local index=0
    while [ -d "$T" ] && [ ! -e "$T/writer.stop" ]; do
        index=$((index + 1))
        publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id "SRW-$index" \
            --title "writer $index" --severity low --tlp clear --sector all \
            >/dev/null 2>>"$T/writer.err" || echo "SRW-$index" >> "$T/writer.failed"
        # Replaced by rename: a reader of the count never sees it empty.
        echo "$index" > "$T/writer.count.new" && mv -f "$T/writer.count.new" "$T/writer.count"
    done
}
writer & WRITER=$!
EXTRA[$WRITER]=writer
wait_for 10 test -s "$T/writer.count" || fail "writer did not start"

# reader NAME COMMAND...: start COMMAND writing into a fresh FIFO that we
# hold open and never read, wait until it blocks, note whether it holds a
# reader slot (and which snapshot it pins), kill -9 it. Sets HELD (1 or
# 0) and TXN (the slot's txnid, "-" when idle, empty without a slot).
: > "$T/readers.err"
reader () {
    local name=$1 fifo=$T/fifo.$1 fd pid; shift
    mkfifo "$fifo"
    exec {fd}<>"$fifo"
    "$@" > "$fifo" 2>>"$T/readers.err" &
    pid=$!
    EXTRA[$pid]=$name
    wait_for 10 blocked_writing $pid || fail "reader $name ($*) never blocked on its FIFO"
    TXN=$(slot_txn $pid)
    HELD=0
    [ -n "$TXN" ] && HELD=1
    kill -9 $pid
    { wait $pid; } 2>/dev/null || true
    unset "EXTRA[$pid]"
    exec {fd}<&-
    rm -f "$fifo"
}

say "baseline: writes with no reader ($(elapsed))"
pages_0=$(pages_used); written_0=$(written)
wait_for 20 written_since 20 "$written_0" || fail "writer stalled"
pages_1=$(pages_used); written_1=$(written)
base_rate=$(( (pages_1 - pages_0) * 100 / (written_1 - written_0) ))  # pages per 100 publishes

DUMP=(mdb_dump -a "$DATA")
say "kill loop: $READERS readers killed while blocked ($(elapsed))"
pages_c=$(pages_used); written_c=$(written); size_c=$(stat -c %s "$DATA/data.mdb")
cleared_before=$(cleared_sum "$T/national.log")
slots=0; killed=0; max_dead=0
for index in $(seq 1 "$READERS"); do
    case $((index % 3)) in
        1) reader "ledger-$index" "$CC_BIN/certcast" ledger --data "$DATA" --format json
           [ $HELD = 1 ] || fail "ledger $index held no reader slot while printing"
           [ "$TXN" = - ] || fail "ledger $index pins snapshot $TXN while printing" ;;
        2) reader "compliance-$index" "$CC_BIN/certcast" compliance --data "$DATA" --format json
           [ $HELD = 1 ] || fail "compliance $index held no reader slot while printing"
           [ "$TXN" = - ] || fail "compliance $index pins snapshot $TXN while printing" ;;
        0) reader "dump-$index" "${DUMP[@]}"
           [ "$TXN" -gt 0 ] 2>/dev/null || fail "mdb_dump $index pins no snapshot (slot txnid '$TXN')" ;;
    esac
    killed=$((killed + 1))
    slots=$((slots + HELD))
    dead=$(dead_readers | wc -l)
    [ "$dead" -le "$max_dead" ] || max_dead=$dead
done
pages_d=$(pages_used); written_d=$(written); size_d=$(stat -c %s "$DATA/data.mdb")
killed_at=$(date +%s%N)
wait_for 8 no_dead_readers || fail "stale reader slots left 8 s after the last kill: $(mdb_stat -r "$DATA")"
clear_ms=$(( ($(date +%s%N) - killed_at) / 1000000 ))
cleared_broker=$(( $(cleared_sum "$T/national.log") - cleared_before ))
cleared_readers=$(cleared_sum "$T/readers.err")
[ $((cleared_broker + cleared_readers)) = $slots ] \
    || fail "$slots stale slots left, but broker cleared $cleared_broker and readers $cleared_readers"
[ "$cleared_broker" -gt 0 ] || fail "the broker cleared none of the last stale slots"
loop_growth=$((pages_d - pages_c))
loop_written=$((written_d - written_c))

say "control: one reader pinning a snapshot, then killed ($(elapsed))"
written_a=$(written)
mkfifo "$T/fifo.control"
exec {CONTROL_FD}<>"$T/fifo.control"
"${DUMP[@]}" > "$T/fifo.control" 2>/dev/null &
CONTROL=$!
EXTRA[$CONTROL]=control
wait_for 10 blocked_writing $CONTROL || fail "control reader never blocked"
holds_slot $CONTROL || fail "control reader holds no reader slot"
wait_for 20 written_since 20 "$written_a" || fail "writer stalled"
written_b=$(written)
# What the pin cost: pages freed by the commits after its snapshot, which
# nobody may reuse while it lives (freelist entries of later txns).
pin_txn=$(mdb_stat -r "$DATA" | awk -v pid=$CONTROL '$1 == pid { print $3 }')
pinned=$(mdb_stat -ff "$DATA" | awk -v txn="$pin_txn" \
    '/Transaction [0-9]+,/ { sub(",", "", $2); if ($2 + 0 > txn + 0) sum += $3 } END { print sum + 0 }')
pinned_rate=$(( pinned * 100 / (written_b - written_a) ))  # pages per 100 publishes
[ "$pinned_rate" -gt $((base_rate * 3)) ] \
    || fail "a pinned snapshot cost $pinned_rate pages per 100 publishes, no reader $base_rate: the control did not pin"
control_cleared=$(cleared_sum "$T/national.log")
kill -9 $CONTROL
{ wait $CONTROL; } 2>/dev/null || true
unset "EXTRA[$CONTROL]"
exec {CONTROL_FD}<&-
holds_slot $CONTROL || fail "killed control reader left no slot (nothing to clear?)"
control_at=$(date +%s%N)
wait_for 8 no_dead_readers || fail "broker did not clear the stale slot of $CONTROL: $(mdb_stat -r "$DATA")"
control_ms=$(( ($(date +%s%N) - control_at) / 1000000 ))
[ "$(cleared_sum "$T/national.log")" -gt "$control_cleared" ] || fail "slot gone but no 'cleared' line in the broker log"

unbounded=$(( pinned_rate * loop_written / 100 ))
say "loop: +$loop_growth pages for $loop_written publishes; no reader: $base_rate, pinned: $pinned_rate pages per 100 publishes"
[ "$loop_growth" -lt $((unbounded / 2 + 256)) ] \
    || fail "the file grew by $loop_growth pages in the kill loop, like a reader never cleared (~$unbounded)"

say "after clearing, writes reuse the freed pages ($(elapsed))"
pages_e=$(pages_used); written_e=$(written); free_e=$(free_pages)
wait_for 20 written_since 20 "$written_e" || fail "writer stalled"
pages_f=$(pages_used); written_f=$(written)
plateau=$((pages_f - pages_e))
plateau_max=$(( base_rate * (written_f - written_e) * 2 / 100 ))
[ "$plateau_max" -ge 64 ] || plateau_max=64
[ "$plateau" -lt "$plateau_max" ] || fail "pages used grew by $plateau over $((written_f - written_e)) publishes with $free_e free pages"

touch "$T/writer.stop"
wait $WRITER
unset "EXTRA[$WRITER]"
[ -e "$T/writer.failed" ] && fail "writer publishes failed: $(head -3 "$T/writer.err")"
total=$((100 + $(written)))
wait_for 30 rows_at_least $((total * 3)) || fail "ledger has $(ledger_rows "$DATA") rows, expected $((total * 3))"
json=$(broker_status "127.0.0.1:$NATIONAL_PORT" national natissuer) || fail "status"
[ "$(json_number "$json" commit_failures)" = 0 ] || fail "commit failures: $json"
size_f=$(stat -c %s "$DATA/data.mdb")
for name in tel1 bank2 bank1 telecom banking national; do
    stop $name
done
say "readers killed $((killed + 1)) (stale slots $((slots + 1)), at most $max_dead at once); cleared by broker $((cleared_broker + 1)), by readers' open $cleared_readers; loop's last cleared in $clear_ms ms, control's in $control_ms ms"
say "published $total, ledger rows $((total * 3)); pages per 100 publishes: no reader $base_rate, pinned $pinned_rate; kill loop +$loop_growth, after clearing +$plateau ($free_e free)"
say "data.mdb $size_c bytes before the kill loop, $size_d after it, $size_f at the end; ok in $(( $(date +%s) - STARTED )) s"
