#!/usr/bin/env bash
# "Late" is decided by the time in the agent's signed ack, unless that
# time cannot be true. A national broker with five banking agents of its
# own allow directory (acks sent with cc_probe ack-as --ack-time):
# - ahead, whose host clock is 5 h fast (local time taken for UTC), acks
#   an advisory due in 1 h at once: acked, not late (before, late: its
#   signed time is after the deadline, though our ledger took the ack
#   long before it);
# - behind, 5 h slow: acked, not late (its time is before the issue);
# - prompt: acked, not late;
# - tardy acks an advisory due in 2 s after 3 s, signed 5 h ahead: late
#   all the same, for our ledger took it after the deadline; the table
#   lists it late at the time we ledgered it;
# - rewriter acks that advisory late too, then acks it again, applied,
#   signed before its deadline: late all the same, for the receipt on
#   record came first (before, the backdated row was taken and it was on
#   time).
source "$(dirname "$0")/lib.sh"
federation
national_agents ahead behind prompt tardy rewriter
start_national
NATIONAL="127.0.0.1:$NATIONAL_PORT"
ack () {    # ack AGENT ID SIGNED_TIME
    national_ack "$1" "$2" --ack-time "$3" || fail "ack of $2 by $1 not ledgered"
}
publish natissuer "$NATIONAL" national --id AC-1 --title "Due in an hour" \
    --severity high --tlp clear --sector banking --deadline 1h >/dev/null || fail "publish AC-1"
publish natissuer "$NATIONAL" national --id AC-2 --title "Due at once" \
    --severity high --tlp clear --sector banking --deadline 2s >/dev/null || fail "publish AC-2"
now=$(date +%s)
ack ahead AC-1 $((now + 5 * 3600))
ack behind AC-1 $((now - 5 * 3600))
ack prompt AC-1 "$now"
sleep 3
ack tardy AC-2 $(($(date +%s) + 5 * 3600))
ack rewriter AC-2 "$(date +%s)"
sleep 1
national_ack rewriter AC-2 --status applied --ack-time $((now - 1)) \
    || fail "rewriter's backdated ack not ledgered"

say "CSV: the clocks that were wrong are not late, the ack after the deadline is"
csv=$(certcast compliance --data "$T/national/data" --format csv) || fail "compliance csv"
echo "$csv"
for agent in ahead behind prompt; do
    echo "$csv" | grep -q "^AC-1,1,.*,$agent,.*,acked," || fail "$agent is not acked (on time) for AC-1"
done
echo "$csv" | grep -q "^AC-2,1,.*,tardy,.*,late," || fail "tardy is not late for AC-2"
echo "$csv" | grep -q "^AC-2,1,.*,rewriter,.*,late," || fail "rewriter's backdated ack made it on time"

say "JSON and table agree"
json=$(certcast compliance --data "$T/national/data" --advisory AC-1 --format json) || fail "compliance json"
! echo "$json" | grep -q '"late": true' || fail "someone is late for AC-1 in the JSON"
table=$(certcast compliance --data "$T/national/data") || fail "compliance table"
echo "$table"
echo "$table" | grep -q 'expected 5, acknowledged 3 (late 0, failed 0), missing 2' || fail "AC-1 counts wrong"
echo "$table" | grep -q 'expected 5, acknowledged 2 (late 2, failed 0), missing 3' || fail "AC-2 counts wrong"
# ledgered_at is the 13th column (the reason came after it, at the end)
ledgered=$(echo "$csv" | grep '^AC-2,1,.*,tardy,' | awk -F, '{print $13}')
echo "$table" | grep -qE "^    tardy +Org tardy +banking +$ledgered\$" \
    || fail "tardy is not listed late at the time it was ledgered ($ledgered)"
stop national
say "ok"
