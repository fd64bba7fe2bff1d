#!/usr/bin/env bash
# An ack that says acting on the advisory failed is a receipt, but the
# officer must see it: before, the table and the CSV showed such an agent
# as acknowledged like any other, and the JSON's status was its first
# row's (received). A national broker with five banking agents of its own
# allow directory (acks sent with cc_probe ack-as, at signed times t, t+60):
# - quitter: received at t, failed at t+60  -> failed
# - refuser: failed at t only               -> failed
# - fixer:   failed at t, applied at t+60   -> acked (it fixed it)
# - fine:    received at t, applied at t+60 -> acked
# - silent:  nothing                        -> missing
# The table counts and lists the two under "failed", the CSV's state
# says failed, the JSON has them in "failed" with "failed": true.
source "$(dirname "$0")/lib.sh"
federation
national_agents quitter refuser fixer fine silent
start_national
NATIONAL="127.0.0.1:$NATIONAL_PORT"
ack () {    # ack AGENT STATUS SIGNED_TIME
    national_ack "$1" AO-1 --status "$2" --ack-time "$3" || fail "$2 ack by $1 not ledgered"
}
publish natissuer "$NATIONAL" national --id AO-1 --title "Patch the core" \
    --severity critical --tlp clear --sector banking --deadline 1h >/dev/null || fail "publish AO-1"
t=$(date +%s)
ack quitter received "$t"; ack quitter failed $((t + 60))
ack refuser failed "$t"
ack fixer failed "$t"; ack fixer applied $((t + 60))
ack fine received "$t"; ack fine applied $((t + 60))

say "table"
table=$(certcast compliance --data "$T/national/data") || fail "compliance table"
echo "$table"
echo "$table" | grep -q 'expected 5, acknowledged 4 (late 0, failed 2), missing 1' \
    || fail "the counts do not show 2 failed"
failed=$(echo "$table" | sed -n '/^  failed/,/^  [a-z]/p' | grep '^    ' | awk '{print $1}' | tr '\n' ' ')
[ "$failed" = "quitter refuser " ] || fail "failed lists '$failed', not quitter and refuser"

say "CSV"
csv=$(certcast compliance --data "$T/national/data" --format csv) || fail "compliance csv"
echo "$csv"
for pair in quitter:failed refuser:failed fixer:acked fine:acked silent:missing; do
    echo "$csv" | grep -q "^AO-1,1,.*,${pair%:*},.*,${pair#*:}," \
        || fail "${pair%:*} is not ${pair#*:} in the CSV"
done

say "JSON"
json=$(certcast compliance --data "$T/national/data" --format json) || fail "compliance json"
listed=$(echo "$json" | sed -n '/"failed": \[/,/\]/p' | grep -o '"agent": "[a-z]*"' | tr '\n' ' ')
[ "$listed" = '"agent": "quitter" "agent": "refuser" ' ] || fail "JSON failed list: $listed"
echo "$json" | grep '"agent": "fixer"' | head -1 | grep -q '"failed": false' || fail "fixer failed in JSON"
stop national
say "ok"
