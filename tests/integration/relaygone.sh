#!/usr/bin/env bash
# A relay removed from the national allow directory never reports again,
# and the agents it reported stay in the national roster (README, "Who
# reports an agent"), listed missing for every advisory published after
# it left, though nothing reaches them. The officer is told why. National
# broker, banking relay, agent bank1 (bank2 enrolled, never started):
# - while the relay is enrolled: bank1 acks G-1, and no report speaks of
#   a relay no longer enrolled;
# - relay-banking.pub removed: G-2 lists bank1 and bank2 missing, and the
#   table says above it that relay-banking, which reported 2 of them, is
#   no longer enrolled (on stderr for csv and json, whose stdout keeps its
#   shape); with --sector telecom, whose agents it did not report, not
#   (before, nothing said it anywhere).
source "$(dirname "$0")/lib.sh"
federation
start_national
start_relay banking
start_agent bank1 banking
NATIONAL="127.0.0.1:$NATIONAL_PORT"
NOTE='note: relay relay-banking, which reported 2 of the agents below, is no longer enrolled here'
publish natissuer "$NATIONAL" national --id G-1 --title "Before" --severity high \
    --tlp clear --sector banking >/dev/null || fail "publish G-1"
wait_for 20 ledger_has "$T/national/data" G-1 bank1 || fail "no ack of G-1 from bank1"
wait_for 20 eval 'certcast compliance --data "$T/national/data" --format csv | grep -q ",bank2,"' \
    || fail "the relay's roster never reached the national report"
for format in table csv json; do
    ! certcast compliance --data "$T/national/data" --format $format 2>&1 | grep -q 'no longer enrolled' \
        || fail "a note of a relay no longer enrolled while it is ($format)"
done

say "the relay leaves the national allow directory"
rm "$T/national/allow/relay-banking.pub"
wait_for 20 log_has national "roster: 3 member" || fail "the national broker did not rescan"
publish natissuer "$NATIONAL" national --id G-2 --title "After" --severity high \
    --tlp clear --sector banking >/dev/null || fail "publish G-2"
table=$(certcast compliance --data "$T/national/data") || fail "compliance table"
echo "$table"
echo "$table" | grep -qF "$NOTE" || fail "the table does not say the relay is gone"
echo "$table" | grep -A3 '^G-2 ' | grep -q 'missing 2' || fail "G-2 should list 2 missing"
for format in csv json; do
    certcast compliance --data "$T/national/data" --format $format >"$T/out" 2>"$T/err" \
        || fail "compliance $format"
    grep -qF "$NOTE" "$T/err" || fail "no note on stderr with --format $format"
    ! grep -q 'no longer enrolled' "$T/out" || fail "the note is in the $format document"
done
head -1 "$T/out" | grep -q '^\[' || fail "the JSON does not start the document"
! certcast compliance --data "$T/national/data" --sector telecom 2>&1 | grep -q 'no longer enrolled' \
    || fail "a note for agents of a sector not reported on"
stop bank1; stop banking; stop national
say "ok"
