#!/usr/bin/env bash
# An agent is not expected to acknowledge what was due before it was
# enrolled. A national broker; banking agent early in its allow directory
# from the start, newcomer enrolled afterwards (acks sent with cc_probe):
# - E-1 (due in 2 s), E-3 (due in 1 h) and E-4 (no deadline, expires in
#   2 s) are published, early acks E-1;
# - 3 s later, newcomer is enrolled, and acks E-1 as its catch-up would;
# - E-2 (due in 1 h) is published.
# Then E-1 expects early alone, nobody late or missing (before: newcomer was
# expected and listed late, for an advisory due before it existed here);
# E-3, due after newcomer came, and E-2 expect both, missing; E-4, which
# expired before newcomer came (its agent would not hand it over),
# expects early alone (before, both).
source "$(dirname "$0")/lib.sh"
federation
national_agents early
keygen newcomer agent banking
start_national
NATIONAL="127.0.0.1:$NATIONAL_PORT"
for spec in E-1:2s E-3:1h; do
    publish natissuer "$NATIONAL" national --id "${spec%:*}" --title "Due in ${spec#*:}" \
        --severity high --tlp clear --sector banking --deadline "${spec#*:}" >/dev/null \
        || fail "publish ${spec%:*}"
done
publish natissuer "$NATIONAL" national --id E-4 --title "Expires in 2s" --severity high \
    --tlp clear --sector banking --expires 2s >/dev/null || fail "publish E-4"
national_ack early E-1 || fail "early's ack of E-1"
sleep 3
cp "$T/keys/newcomer.pub" "$T/national/allow/"
wait_for 20 log_has national "roster: 6 member" || fail "newcomer was not enrolled"
national_ack newcomer E-1 || fail "newcomer's ack of E-1"
publish natissuer "$NATIONAL" national --id E-2 --title "After" --severity high \
    --tlp clear --sector banking --deadline 1h >/dev/null || fail "publish E-2"

table=$(certcast compliance --data "$T/national/data") || fail "compliance"
echo "$table"
counts () { echo "$table" | grep -A2 "^$1 " | grep -q "expected $2" || fail "$1: not 'expected $2'"; }
counts E-1 '1, acknowledged 1 (late 0, failed 0), missing 0'
counts E-2 '2, acknowledged 0 (late 0, failed 0), missing 2'
counts E-3 '2, acknowledged 0 (late 0, failed 0), missing 2'
counts E-4 '1, acknowledged 0 (late 0, failed 0), missing 1'
csv=$(certcast compliance --data "$T/national/data" --format csv) || fail "compliance csv"
! echo "$csv" | grep -q '^E-1,.*,newcomer,' || fail "newcomer is a recipient of E-1 in the CSV"
echo "$csv" | grep -q '^E-3,.*,newcomer,.*,missing,' || fail "newcomer is not missing E-3 in the CSV"
stop national
say "ok"
