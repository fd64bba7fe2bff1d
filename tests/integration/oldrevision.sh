#!/usr/bin/env bash
# Compliance with an earlier revision stays on record once a new one is
# out: `certcast compliance --advisory ID --revision N` reports revision N
# with its own targets and deadline, and the acks of revision N, each
# checked against revision N's bytes (taken from the stream log: the
# advisory index keeps the latest revision only).
#
# A national broker with five banking agents of its own allow directory
# (acks sent with cc_probe ack-as):
# - RV-1 revision 1 (banking, deadline 1h): early and failer ack it
#   (failer: failed, "HSM offline");
# - RV-1 revision 2 (banking and telecom, deadline 3h, a new title); then
#   late acks revision 1 naming its bytes, and wrongbytes acks revision 1
#   naming other bytes (the ledger takes any bytes for an earlier
#   revision: they are no longer in its index to compare); early acks
#   revision 2.
# Pass:
# - without --revision the report is the same as ever: revision 2, and
#   --revision 2 prints exactly that;
# - --revision 1 (table, CSV, JSON): revision 1's title, sectors and
#   deadline, "superseded", early, failer (failed, with its reason) and
#   late acknowledged, wrongbytes and silent missing, and the ack of
#   other bytes said to be not counted (JSON "other_bytes": 1);
# - --revision 0, x, without --advisory: exit 2; a revision never held
#   (RV-1 revision 3, RV-2 revision 1 when RV-2 came as revision 2
#   first), or not of the sector asked for: exit 1; each with one line on stderr, nothing on stdout, and
#   the store unchanged;
# - a banking relay's own advisory RV-B (revisions 1 and 2) is recorded
#   at the national broker at its latest revision only: --revision 1
#   there says its bytes are not kept here (exit 1); the relay, which
#   streamed both, reports revision 1.
source "$(dirname "$0")/lib.sh"
federation
national_agents early failer late wrongbytes silent
start_national
NATIONAL="127.0.0.1:$NATIONAL_PORT"
DATA=$T/national/data

# ack AGENT REVISION [ack-as options]: AGENT's signed ack of RV-1.
ack () {
    local agent=$1 revision=$2; shift 2
    probe --to "$NATIONAL" --key "$T/keys/$agent.key" --server-pub "$T/keys/national.pub" \
        ack-as --sign-key "$T/keys/$agent.key" --id RV-1 --revision "$revision" "$@"
}

publish natissuer "$NATIONAL" national --id RV-1 --title "Rotate the keys" \
    --severity high --tlp clear --sector banking --deadline 1h >/dev/null || fail "publish RV-1 r1"
out=$(ack early 1 --digest-of "$DATA" --print-digest yes) || fail "early's ack: $out"
digest1=$(echo "$out" | sed -n 's/^digest //p')
[ ${#digest1} = 64 ] || fail "no digest of revision 1: $out"
ack failer 1 --digest-of "$DATA" --status failed --reason "HSM offline" | grep -q '^acked 1$' \
    || fail "failer's ack"
publish natissuer "$NATIONAL" national --id RV-1 --revision 2 --title "Rotate the keys and the HSM" \
    --severity high --tlp clear --sector banking --sector telecom --deadline 3h >/dev/null \
    || fail "publish RV-1 r2"
ack late 1 --digest "$digest1" | grep -q '^acked 1$' || fail "late's ack of revision 1"
ack wrongbytes 1 --digest "$(printf 'ab%.0s' {1..32})" | grep -q '^acked 1$' \
    || fail "wrongbytes' ack of revision 1 was not ledgered (the test needs the row)"
ack early 2 --digest-of "$DATA" | grep -q '^acked 1$' || fail "early's ack of revision 2"

say "the latest revision, as ever"
latest=$(certcast compliance --data "$DATA") || fail "compliance"
echo "$latest"
echo "$latest" | grep -q '^RV-1 rev 2 \[high\] Rotate the keys and the HSM$' || fail "latest is not revision 2"
echo "$latest" | grep -q 'expected 5, acknowledged 1 (late 0, failed 0), missing 4' \
    || fail "latest counts"
same=$(certcast compliance --data "$DATA" --advisory RV-1 --revision 2) || fail "--revision 2"
[ "$same" = "$latest" ] || fail "--revision 2 differs from the latest report: $same"

say "revision 1, table"
table=$(certcast compliance --data "$DATA" --advisory RV-1 --revision 1) || fail "--revision 1"
echo "$table"
echo "$table" | grep -q '^RV-1 rev 1 \[high\] Rotate the keys$' || fail "not revision 1's title"
echo "$table" | grep -q '^  sectors banking, issued' || fail "not revision 1's sectors"
deadline1=$(echo "$table" | sed -n 's/.*ack deadline //p')
deadline2=$(echo "$latest" | sed -n 's/.*ack deadline //p')
[ -n "$deadline1" ] && [ "$deadline1" != "$deadline2" ] \
    || fail "revision 1's deadline '$deadline1' is not its own (latest: '$deadline2')"
echo "$table" | grep -q '^  superseded: the latest is rev 2$' || fail "not said to be superseded"
echo "$table" | grep -q 'expected 5, acknowledged 3 (late 0, failed 1), missing 2' \
    || fail "revision 1 counts"
echo "$table" | grep -q '^  not counted: 1 acknowledgements of rev 1 name other bytes' \
    || fail "the ack of other bytes is not said to be left out"
missing=$(echo "$table" | sed -n '/^  missing:/,$p' | grep '^    ' | awk '{print $1}' | tr '\n' ' ')
[ "$missing" = "silent wrongbytes " ] || fail "missing lists '$missing'"
echo "$table" | sed -n '/^  failed/,/^  [a-z]/p' | grep '^    failer ' | grep -q 'HSM offline$' \
    || fail "failer's reason is not shown"

say "revision 1, CSV and JSON"
csv=$(certcast compliance --data "$DATA" --advisory RV-1 --revision 1 --format csv) || fail "csv"
echo "$csv"
for pair in early:acked failer:failed late:acked wrongbytes:missing silent:missing; do
    echo "$csv" | grep -q "^RV-1,1,Rotate the keys,.*,${pair%:*},.*,${pair#*:}," \
        || fail "${pair%:*} is not ${pair#*:} in revision 1's CSV"
done
json=$(certcast compliance --data "$DATA" --advisory RV-1 --revision 1 --format json) || fail "json"
echo "$json"
echo "$json" | grep -q '"revision": 1, "title": "Rotate the keys"' || fail "JSON revision"
echo "$json" | grep -q '"latest_revision": 2, "other_bytes": 1}' || fail "JSON other_bytes"
acked=$(echo "$json" | sed -n '/"acknowledged": \[/,/\]/p' | grep -o '"agent": "[a-z]*"' | tr '\n' ' ')
[ "$acked" = '"agent": "early" "agent": "failer" "agent": "late" ' ] || fail "JSON acknowledged: $acked"
echo "$json" | grep '"agent": "failer"' | head -1 | grep -q '"reason": "HSM offline"' \
    || fail "JSON reason"

say "a revision the store never held"
publish natissuer "$NATIONAL" national --id RV-2 --revision 2 --title "Second first" \
    --severity low --tlp clear --sector banking >/dev/null || fail "publish RV-2 r2"
stop national
before=$(md5sum "$DATA/data.mdb")
# refused EXIT PATTERN ARGS...: certcast compliance ARGS exits EXIT with
# one line on stderr matching PATTERN, and nothing on stdout.
refused () {
    local want=$1 pattern=$2 rc=0; shift 2
    certcast compliance --data "$DATA" "$@" >"$T/out" 2>"$T/err" || rc=$?
    echo "$* -> exit $rc: $(cat "$T/err")"
    [ "$rc" = "$want" ] || fail "$*: exit $rc, expected $want"
    [ "$(wc -l < "$T/err")" = 1 ] && grep -q -- "$pattern" "$T/err" \
        || fail "$*: stderr is not one line saying '$pattern': $(cat "$T/err")"
    [ ! -s "$T/out" ] || fail "$*: printed a report: $(cat "$T/out")"
}
refused 2 "--revision must be a number" --advisory RV-1 --revision 0
refused 2 "--revision must be a number" --advisory RV-1 --revision x
refused 2 "--revision must be a number" --advisory RV-1 --revision 1x
refused 2 "--revision N needs --advisory ID" --revision 1
refused 1 "RV-1 revision 3 was never held here: the latest is revision 2" --advisory RV-1 --revision 3
refused 1 "RV-2 revision 1 was never held here: no stream in the log carries it" \
    --advisory RV-2 --revision 1
refused 1 "no accepted advisory RV-9" --advisory RV-9 --revision 1
refused 1 "RV-1 revision 1 is not for sector telecom" --advisory RV-1 --revision 1 --sector telecom
[ "$(md5sum "$DATA/data.mdb")" = "$before" ] || fail "the store changed"

say "a relay's own advisory: every revision at the relay, the latest at the national broker"
start_national
start_relay banking
RELAY="127.0.0.1:$BANKING_PORT"
for revision in 1 2; do
    publish bankissuer "$RELAY" relay-banking --id RV-B --revision $revision \
        --title "Bank rule r$revision" --severity medium --tlp clear --sector banking \
        >/dev/null || fail "publish RV-B r$revision"
done
recorded () { certcast compliance --data "$DATA" --advisory RV-B | grep -q '^RV-B rev 2 '; }
wait_for 20 recorded || fail "the national broker did not record RV-B revision 2"
refused 1 "RV-B revision 1 is not kept here: relay relay-banking's own advisory is recorded at its latest revision (2) only" \
    --advisory RV-B --revision 1
at_relay=$(certcast compliance --data "$T/banking/data" --advisory RV-B --revision 1) \
    || fail "the relay's report of RV-B revision 1"
echo "$at_relay"
echo "$at_relay" | grep -q '^RV-B rev 1 \[medium\] Bank rule r1$' || fail "the relay's revision 1"
stop banking
stop national
say "ok"
