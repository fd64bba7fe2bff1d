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
# Each failed ack says why (its entry's reason), and the officer must see
# it: the table shows it after the failed line (cut to 60 characters),
# the CSV in a last column, "reason", and the JSON as "reason" (null for
# an agent that has not failed). It is an agent's own text: refuser's
# starts like a spreadsheet formula and carries an escape sequence and a
# right-to-left override, made harmless in every format as titles are.
# fixer's reason is not shown: it fixed it.
source "$(dirname "$0")/lib.sh"
federation
national_agents quitter refuser fixer fine silent
start_national
NATIONAL="127.0.0.1:$NATIONAL_PORT"
ack () {    # ack AGENT STATUS SIGNED_TIME [ack-as options]
    local agent=$1 status=$2 time=$3; shift 3
    national_ack "$agent" AO-1 --status "$status" --ack-time "$time" "$@" \
        || fail "$status ack by $agent not ledgered"
}
QUITTER_REASON="patch broke the VPN; rolled back"
# = (a formula), ESC [2J (clears a terminal), U+202E (reverses the rest)
REFUSER_REASON=$'=HYPERLINK("http://x.example")\e[2J vendor \xe2\x80\xaeesrever ni and then a very long explanation'

publish natissuer "$NATIONAL" national --id AO-1 --title "Patch the core" \
    --severity critical --tlp clear --sector banking --deadline 1h >/dev/null || fail "publish AO-1"
t=$(date +%s)
ack quitter received "$t"; ack quitter failed $((t + 60)) --reason "$QUITTER_REASON"
ack refuser failed "$t" --reason "$REFUSER_REASON"
ack fixer failed "$t" --reason "first try failed"; ack fixer applied $((t + 60))
ack fine received "$t"; ack fine applied $((t + 60))

say "table"
table=$(certcast compliance --data "$T/national/data") || fail "compliance table"
echo "$table"
echo "$table" | grep -q 'expected 5, acknowledged 4 (late 0, failed 2), missing 1' \
    || fail "the counts do not show 2 failed"
failed=$(echo "$table" | sed -n '/^  failed/,/^  [a-z]/p' | grep '^    ' | awk '{print $1}' | tr '\n' ' ')
[ "$failed" = "quitter refuser " ] || fail "failed lists '$failed', not quitter and refuser"

# no_raw_controls TEXT: no ESC, no U+202E, no other C0 control but newline.
no_raw_controls () {
    ! printf '%s' "$1" | grep -q $'\e' && ! printf '%s' "$1" | grep -q $'\xe2\x80\xae' \
        && ! printf '%s' "$1" | tr -d '\n' | grep -qP '[\x00-\x1f]'
}
say "table: why they failed"
failures=$(echo "$table" | sed -n '/^  failed/,/^  [a-z]/p')
echo "$failures" | grep '^    quitter ' | grep -q "  $QUITTER_REASON\$" || fail "quitter's reason is not shown"
refuser_reason=$(echo "$failures" | grep '^    refuser ' | sed 's/.*Z  //')
[ "$refuser_reason" = '=HYPERLINK("http://x.example")?[2J vendor ?esrever ni and th...' ] \
    || fail "refuser's reason is not made safe and cut to 60 characters: '$refuser_reason'"
! echo "$table" | grep -q "first try failed" || fail "fixer's old reason is shown"
no_raw_controls "$table" || fail "a control character reached the table"

say "CSV"
csv=$(certcast compliance --data "$T/national/data" --format csv) || fail "compliance csv"
echo "$csv"
for pair in quitter:failed refuser:failed fixer:acked fine:acked silent:missing; do
    echo "$csv" | grep -q "^AO-1,1,.*,${pair%:*},.*,${pair#*:}," \
        || fail "${pair%:*} is not ${pair#*:} in the CSV"
done
echo "$csv" | head -1 | grep -q ',state,acked_at,ledgered_at,reason$' || fail "no reason column at the end"
echo "$csv" | grep '^AO-1,1,.*,quitter,' | grep -q ",\"$QUITTER_REASON\"\$" \
    || fail "quitter's reason is not in the CSV (quoted whole: it holds a ';')"
echo "$csv" | grep '^AO-1,1,.*,refuser,' \
    | grep -q ",\"'=HYPERLINK(\"\"http://x.example\"\")?\[2J vendor ?esrever ni and then a very long explanation\"\$" \
    || fail "refuser's reason is not quoted as text with its controls replaced in the CSV"
for agent in fixer fine silent; do
    echo "$csv" | grep "^AO-1,1,.*,$agent," | grep -q ',$' || fail "$agent has a reason in the CSV"
done
no_raw_controls "$csv" || fail "a control character reached the CSV"

say "JSON"
json=$(certcast compliance --data "$T/national/data" --format json) || fail "compliance json"
listed=$(echo "$json" | sed -n '/"failed": \[/,/\]/p' | grep -o '"agent": "[a-z]*"' | tr '\n' ' ')
[ "$listed" = '"agent": "quitter" "agent": "refuser" ' ] || fail "JSON failed list: $listed"
echo "$json" | grep '"agent": "fixer"' | head -1 | grep -q '"failed": false' || fail "fixer failed in JSON"
echo "$json" | grep '"agent": "quitter"' | head -1 | grep -q "\"reason\": \"$QUITTER_REASON\"" \
    || fail "quitter's reason is not in the JSON"
echo "$json" | grep '"agent": "refuser"' | head -1 \
    | grep -qF '"reason": "=HYPERLINK(\"http://x.example\")\u001b[2J vendor \u202eesrever ni and then a very long explanation"' \
    || fail "refuser's reason is not escaped in the JSON"
echo "$json" | grep '"agent": "fixer"' | head -1 | grep -q '"reason": null' || fail "fixer has a reason in the JSON"
no_raw_controls "$json" || fail "a control character reached the JSON"
stop national
say "ok"
