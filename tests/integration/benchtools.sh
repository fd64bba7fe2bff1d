#!/usr/bin/env bash
# The physical-limit baselines `make bench` compares certcast with must
# measure what they say (the bench itself is not a test; these tools are).
#
# 1. cc_floor DIR: the resident-memory floor of a process on certcast's
#    libraries. It must commit to an LMDB environment in DIR, make its
#    CurveZMQ round trip to its own echo server (exit 0), and print an
#    RSS whose shared-library part is not larger than the whole plus the
#    libraries' private pages (sane, non-zero figures).
# 2. cc_floor into a directory it cannot create: exit 1, one line, no
#    figures (a failed step is never reported as a floor).
# 3. cc_bench baseline-ed25519: one-core and all-cores verify rates are
#    positive and the all-cores run used as many threads as there are
#    cores (its "cores" line equals nproc).
# 4. cc_fanout (the alert's transport floor): a top, two middles and four
#    leaves processes of 15 leaves each over CURVE; on SIGUSR1 the top
#    publishes once and must count exactly 60 acks (one per leaf, so it
#    counts what arrived, not what it was told), every leaves process
#    gets its 15 replies, and all exit 0 on SIGTERM.
# 5. cc_bench baseline-lmdb-load (end to end's loaded-disk floor): 3
#    writers of 20 commits at 200/s each; every one of the 60 commits is
#    timed and none failed, the open-loop schedule held (the run took at
#    least the 19 intervals), and each writer's environment holds its 20
#    rows. Zero writers: exit 2 with the reason, nothing created; a DIR
#    it cannot create: exit 1, one line, no figures.
# 6. cc_bench baseline-reqrep (ack ingest's transport floor): 500
#    requests of 156 B, 64 outstanding, all answered with 8 B replies; it
#    reports the process's CPU time. With --peers 50, the 500 come over 50
#    connections (the replier sees 50). Missing sizes, or more peers than
#    requests: exit 2.
source "$(dirname "$0")/lib.sh"

say "1. cc_floor"
"$CC_BIN/cc_floor" "$T/floor" >"$T/floor.out" 2>"$T/floor.err" \
    || fail "cc_floor exited $?: $(cat "$T/floor.err")"
rss=$(awk '$1 == "floor_rss_kib" { print $2 }' "$T/floor.out")
anon=$(awk '$1 == "floor_anon_kib" { print $2 }' "$T/floor.out")
file=$(awk '$1 == "floor_file_kib" { print $2 }' "$T/floor.out")
libs=$(awk '$1 == "floor_libraries_kib" { print $2 }' "$T/floor.out")
[ -n "$rss" ] && [ -n "$anon" ] && [ -n "$file" ] && [ -n "$libs" ] \
    || fail "cc_floor printed $(tr '\n' ' ' <"$T/floor.out")"
[ "$rss" -gt 0 ] && [ "$libs" -gt 0 ] || fail "zero RSS figures: rss $rss, libraries $libs"
[ $((anon + file)) -le $((rss + 4)) ] || fail "anonymous $anon + file $file KiB is more than VmRSS $rss"
[ "$libs" -le $((rss + anon)) ] || fail "libraries $libs KiB are more than VmRSS $rss + anonymous $anon"
[ -s "$T/floor/data.mdb" ] || fail "cc_floor left no LMDB environment in $T/floor"
say "floor: $rss KiB ($libs KiB of shared libraries)"

say "2. cc_floor where it cannot write"
touch "$T/plain-file"
"$CC_BIN/cc_floor" "$T/plain-file/floor" >"$T/bad.out" 2>"$T/bad.err"; status=$?
[ $status = 1 ] || fail "an unusable directory exited $status, not 1"
[ ! -s "$T/bad.out" ] || fail "a failed floor still printed figures: $(cat "$T/bad.out")"
grep -q "cannot create" "$T/bad.err" || fail "no reason given: $(cat "$T/bad.err")"
[ "$(wc -l <"$T/bad.err")" = 1 ] || fail "more than one line: $(cat "$T/bad.err")"

say "3. cc_bench baseline-ed25519"
"$CC_BIN/cc_bench" baseline-ed25519 --seconds 0.1 >"$T/ed.out" || fail "baseline-ed25519 exited $?"
for key in sign_per_s verify_per_s verify_all_cores_per_s; do
    value=$(awk -v k="$key" '$1 == k { print $2 }' "$T/ed.out")
    [ -n "$value" ] && [ "$value" -gt 0 ] || fail "$key is '$value'"
done
[ "$(awk '$1 == "cores" { print $2 }' "$T/ed.out")" = "$(nproc)" ] \
    || fail "all-cores run: $(grep cores "$T/ed.out"), nproc $(nproc)"

say "4. cc_fanout: 60 leaves behind 2 middles"
mkdir -p "$T/fanout"
start fanout-top "$CC_BIN/cc_fanout" top --dir "$T/fanout" --acks 60 --middles 2 --size 848
for middle in m1 m2; do
    start "fanout-$middle" "$CC_BIN/cc_fanout" middle --dir "$T/fanout" --name "$middle" --clients 30
    for part in 1 2; do
        start "fanout-$middle-$part" "$CC_BIN/cc_fanout" leaves --dir "$T/fanout" --middle "$middle" --count 15
    done
done
wait_for 60 grep -q '^ready' "$T/fanout-top.log" || fail "the top never had its middles ready"
kill -USR1 "${PIDS[fanout-top]}"
wait_for 30 grep -q '^done' "$T/fanout-top.log" || fail "the top never counted its acks: $(cat "$T/fanout-top.log")"
[ "$(awk '$1 == "acks" { print $2 }' "$T/fanout-top.log")" = 60 ] \
    || fail "the top counted $(grep '^acks' "$T/fanout-top.log"), not 60"
awk '$1 == "elapsed_ms" && $2 > 0 { found = 1 } END { exit !found }' "$T/fanout-top.log" \
    || fail "no elapsed time: $(cat "$T/fanout-top.log")"
for middle in m1 m2; do
    for part in 1 2; do
        wait_for 10 grep -q '^acked' "$T/fanout-$middle-$part.log" \
            || fail "leaves $middle-$part did not get their replies"
        stop "fanout-$middle-$part"
    done
    stop "fanout-$middle"
done
stop fanout-top

say "5. cc_bench baseline-lmdb-load: 3 writers x 20 commits at 200/s"
"$CC_BIN/cc_bench" baseline-lmdb-load "$T/load" --writers 3 --rate 200 --commits 20 --size 512 \
    >"$T/load.out" || fail "baseline-lmdb-load exited $?: $(cat "$T/load.out")"
kv () { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
[ "$(kv loaded_commit_n "$T/load.out")" = 60 ] || fail "timed $(kv loaded_commit_n "$T/load.out") commits, not 60"
[ "$(kv failures "$T/load.out")" = 0 ] || fail "$(kv failures "$T/load.out") commits failed"
awk '$1 == "loaded_commit_p50_ms" && $2 > 0 { p = 1 } $1 == "elapsed_s" && $2 >= 0.095 { e = 1 }
     $1 == "schedule_late_max_ms" && $2 >= 0 { l = 1 }
     END { exit !(p && e && l) }' "$T/load.out" || fail "implausible figures: $(tr '\n' ' ' <"$T/load.out")"
for writer in 0 1 2; do
    rows=$(mdb_stat -s log "$T/load/writer-$writer" 2>/dev/null | awk '/Entries:/ { print $2 }')
    [ "$rows" = 20 ] || fail "writer $writer's environment holds '$rows' rows, not 20"
done
"$CC_BIN/cc_bench" baseline-lmdb-load "$T/load-none" --writers 0 >"$T/none.out" 2>"$T/none.err"; status=$?
[ $status = 2 ] || fail "--writers 0 exited $status, not 2"
[ "$(wc -l <"$T/none.err")" -le 2 ] && [ ! -e "$T/load-none" ] || fail "--writers 0: $(cat "$T/none.err"); created: $(ls "$T/load-none" 2>&1)"
"$CC_BIN/cc_bench" baseline-lmdb-load "$T/plain-file/load" --writers 1 --commits 1 \
    >"$T/nodir.out" 2>"$T/nodir.err"; status=$?
[ $status = 1 ] && [ "$(wc -l <"$T/nodir.err")" = 1 ] && [ ! -s "$T/nodir.out" ] \
    || fail "a DIR it cannot create: exit $status, $(cat "$T/nodir.err") $(cat "$T/nodir.out")"

say "6. cc_bench baseline-reqrep: 500 requests, window 64"
"$CC_BIN/cc_bench" baseline-reqrep 500 156 8 --window 64 >"$T/reqrep.out" \
    || fail "baseline-reqrep exited $?: $(cat "$T/reqrep.out")"
[ "$(kv answered "$T/reqrep.out")" = 500 ] || fail "answered $(kv answered "$T/reqrep.out") of 500"
[ "$(kv request_bytes "$T/reqrep.out")" = 156 ] && [ "$(kv reply_bytes "$T/reqrep.out")" = 8 ] \
    || fail "sizes: $(tr '\n' ' ' <"$T/reqrep.out")"
awk '$1 == "requests_per_s" && $2 > 0 { r = 1 } $1 == "cpu_s" && $2 >= 0 { c = 1 } END { exit !(r && c) }' \
    "$T/reqrep.out" || fail "no rate or CPU time: $(tr '\n' ' ' <"$T/reqrep.out")"
"$CC_BIN/cc_bench" baseline-reqrep 500 >/dev/null 2>&1; status=$?
[ $status = 2 ] || fail "missing sizes exited $status, not 2"
"$CC_BIN/cc_bench" baseline-reqrep 500 156 8 --peers 50 --window 10 >"$T/peers.out" \
    || fail "baseline-reqrep --peers 50 exited $?: $(cat "$T/peers.out")"
[ "$(kv answered "$T/peers.out")" = 500 ] && [ "$(kv peers_seen "$T/peers.out")" = 50 ] \
    || fail "--peers 50: $(tr '\n' ' ' <"$T/peers.out")"
"$CC_BIN/cc_bench" baseline-reqrep 500 156 8 --peers 501 >/dev/null 2>&1; status=$?
[ $status = 2 ] || fail "more peers than requests exited $status, not 2"
say "ok"
