#!/usr/bin/env bash
# A national ledger grows by every agent for every advisory: tens of
# millions of rows a year. `certcast ledger` and `certcast compliance`
# over all of it must work in the memory of one advisory's rows, not of
# the whole ledger (they used to copy every row before printing).
#
# A national broker holds 100 banking advisories; a relay key enrolled
# there sends ROWS signed acks (cc_bench ack-ingest) of AGENTS agent keys,
# ROWS / 100 per advisory.
# Pass:
# - the national ledger holds all ROWS rows, and `ledger --format json`
#   prints all of them;
# - the peak heap of ledger (json and table) and compliance (csv, json
#   and table) over the whole ledger is within SLACK_KIB of the same
#   command's for one advisory (old code: ROWS x 170-300 B above it).
#   Heap, not RSS: RSS counts the LMDB map's file pages, which grow with
#   what is read and are the kernel's to drop. Measured by valgrind's
#   massif, which cannot run an AddressSanitizer binary: the ASan run of
#   this test checks all the rest;
# - compliance over everything lists every advisory, and counts each
#   advisory's ROWS / 100 acks of unenrolled keys as unexpected;
# - when stderr is a terminal and stdout is not, both show progress on
#   stderr ("N of 100 advisories"); the report on stdout is unchanged.
source "$(dirname "$0")/lib.sh"

ROWS=${ROWS:-60000}
AGENTS=$((ROWS / 100))
SLACK_KIB=${SLACK_KIB:-1024}

federation
keygen downstream relay banking
cp "$T/keys/downstream.pub" "$T/national/allow/"
start_national
DATA=$T/national/data

say "100 advisories, then $ROWS acks of $AGENTS agents"
"$CC_BIN/cc_bench" publish-rtt --to "127.0.0.1:$NATIONAL_PORT" \
    --server-pub "$T/keys/national.pub" --key "$T/keys/natissuer.key" \
    --delegation "$T/keys/natissuer.delegation" --sector banking \
    --count 100 --window 20 --times "$T/ids" >"$T/publish.out" \
    || fail "publish-rtt: $(tail -3 "$T/publish.out")"
[ "$(wc -l < "$T/ids")" = 100 ] || fail "$(wc -l < "$T/ids") advisory ids, expected 100"
"$CC_BIN/cc_bench" ack-ingest --to "127.0.0.1:$NATIONAL_PORT" \
    --server-pub "$T/keys/national.pub" --key "$T/keys/downstream.key" \
    --count "$ROWS" --agents "$AGENTS" --batch 16 --window 64 --timeout 300 \
    --ids "$T/ids" --data "$DATA" >"$T/ingest.out" || fail "ack-ingest: $(tail -3 "$T/ingest.out")"
rows=$(ledger_rows "$DATA")
[ "$rows" = "$ROWS" ] || fail "the national ledger prints $rows rows, expected $ROWS"

# peak_kib NAME ARGS...: run certcast ARGS with stdout to $T/NAME.out;
# prints its peak heap in KiB (massif), or its exit status fails the test.
peak_kib () {
    local name=$1; shift
    valgrind -q --tool=massif --massif-out-file="$T/$name.massif" \
        "$CC_BIN/certcast" "$@" >"$T/$name.out" 2>"$T/$name.err" \
        || fail "certcast $*: $(cat "$T/$name.err")"
    awk -F= '$1 == "mem_heap_B" && $2 > peak { peak = $2 } END { print int(peak / 1024) }' \
        "$T/$name.massif"
}
# run_only NAME ARGS...: the same without the measure (the ASan build).
run_only () {
    local name=$1; shift
    "$CC_BIN/certcast" "$@" >"$T/$name.out" 2>"$T/$name.err" \
        || fail "certcast $*: $(cat "$T/$name.err")"
}

one=$(head -1 "$T/ids" | awk '{ print $1 }')
measure=1
ldd "$CC_BIN/certcast" | grep -q libasan && measure=0
say "peak heap, whole ledger against advisory $one alone (measured: $measure)"
for run in "ledger --format json" "ledger --format table" \
           "compliance --format csv" "compliance --format json" \
           "compliance --format table"; do
    read -r command format value <<<"$run"
    name="$command-$value"
    if [ $measure = 0 ]; then
        run_only "$name-all" $command --data "$DATA" $format "$value"
        continue
    fi
    whole=$(peak_kib "$name-all" $command --data "$DATA" $format "$value")
    single=$(peak_kib "$name-one" $command --data "$DATA" $format "$value" --advisory "$one")
    say "$command $value: whole ${whole} KiB, one advisory ${single} KiB"
    [ "$whole" -le $((single + SLACK_KIB)) ] \
        || fail "$command --format $value over $ROWS rows peaks at $whole KiB of heap, $((whole - single)) KiB above one advisory's ($single KiB)"
done

# Every advisory reported, each with its acks of keys not in the roster.
reported=$(grep -c '"id":' "$T/compliance-json-all.out")
[ "$reported" = 100 ] || fail "compliance json lists $reported advisories, expected 100"
unexpected=$(grep -c "\"unexpected\": $AGENTS}" "$T/compliance-json-all.out")
[ "$unexpected" = 100 ] || fail "$unexpected advisories show $AGENTS unexpected acks, expected 100"
tables=$(grep -c '^ADVISORY' "$T/ledger-table-all.out")
[ "$tables" = 100 ] || fail "ledger prints $tables tables, expected one per advisory (100)"

say "progress on a terminal's stderr"
# script(1) gives the command a terminal; its stdout goes to a file.
if command -v script >/dev/null; then
    script -qec "'$CC_BIN/certcast' compliance --data '$DATA' --format csv >'$T/progress.csv'" \
        /dev/null >"$T/progress.tty" </dev/null || fail "compliance under script failed"
    grep -q "compliance: 100 of 100 advisories" "$T/progress.tty" \
        || fail "no progress shown on the terminal: $(tr '\r' '\n' < "$T/progress.tty" | tail -2)"
    cmp -s "$T/progress.csv" "$T/compliance-csv-all.out" \
        || fail "the report with progress shown differs from the one without"
    # Off a terminal, no progress among what stderr carries.
    ! grep -q "of 100 advisories" "$T/compliance-csv-all.err" \
        || fail "compliance showed progress off a terminal"
fi
stop national
say "ledger and compliance over $ROWS rows in one advisory's memory"
