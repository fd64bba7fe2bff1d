#!/usr/bin/env bash
# An agent moves from one relay to another without a restart.
#
# bank3 is enrolled at the banking relay (X). A second banking relay
# (Y, key relay-banking2, --roster-retry 2) serves bank4.
# 1. bank3 is enrolled at Y too, before X lets it go: Y's roster is taken
#    but for bank3 (its key is held via relay-banking), the national view
#    keeps bank3 via relay-banking, Y logs what was not taken once (not
#    at every retry) and shows upstream.roster_not_taken 1. Before, Y's
#    roster took bank3 over at once, as any relay could take any agent.
# 2. bank3 is removed at X: X's next roster drops it, and Y, which sends
#    its roster again every 2 s while not all of it is taken, gets it in:
#    bank3 is expected via relay-banking2 within the retry interval, once,
#    Y logs that its roster is taken whole, roster_not_taken is 0.
# 3. bank1 is enrolled at Y too (not taken: held via relay-banking); then
#    X is decommissioned without letting it go: stopped, its key removed
#    from the national allow directory. An entry held via a relay no
#    longer enrolled is nobody's: Y's next retry takes bank1 (before, it
#    was refused for ever, as X would never report again).
source "$(dirname "$0")/lib.sh"
federation
keygen relay-banking2 relay banking
keygen bank3 agent banking --class body-corporate
keygen bank4 agent banking --class body-corporate
cp "$T/keys/relay-banking2.pub" "$T/national/allow/"
cp "$T/keys/bank3.pub" "$T/banking/allow/"
mkdir -p "$T/banking2/allow"
cp "$T/keys/bank4.pub" "$T/banking2/allow/"
BANKING2_PORT=$(other_port)
start_national
start_relay banking
start_relay_as banking2 banking "$BANKING2_PORT" relay-banking2 "$T/banking2/allow" \
    "$NATIONAL_PORT" national --roster-retry 2

NATIONAL="127.0.0.1:$NATIONAL_PORT"
report () { certcast compliance --data "$T/national/data" --advisory MOVE-1 --format json 2>/dev/null; }
# expected NAME VIA: NAME among MOVE-1's expected recipients, via VIA.
expected () {
    report | tr -d '\n' | grep -oE '"expected": \[[^]]*\]' \
        | grep -qE "\"agent\": \"$1\", [^}]*\"via\": \"$2\""
}
times_expected () {
    report | tr -d '\n' | grep -oE '"expected": \[[^]]*\]' | grep -oE "\"agent\": \"$1\"" | wc -l
}
y_status () { broker_status "127.0.0.1:$BANKING2_PORT" relay-banking2 bank4; }
not_taken_is () { [ "$(json_number "$(y_status)" roster_not_taken)" = "$1" ]; }
refusal_lines () { grep -c "upstream: took .* roster entries; not taken: bank3" "$T/banking2.log" || true; }

publish natissuer "$NATIONAL" national --id MOVE-1 --title "Move check" \
    --severity low --tlp clear --sector banking >/dev/null || fail "publish MOVE-1"
wait_for 20 expected bank3 relay-banking || fail "bank3 is not expected via relay-banking: $(report)"
wait_for 20 expected bank4 relay-banking2 || fail "bank4 is not expected via relay-banking2: $(report)"

say "1. bank3 enrolled at Y while X still has it"
cp "$T/keys/bank3.pub" "$T/banking2/allow/"
wait_for 20 log_has banking2 "upstream: took 1 of 2 roster entries; not taken: bank3 (key [0-9a-f]*): its key is enrolled upstream through another relay" \
    || fail "Y does not say bank3 was not taken: $(grep upstream: "$T/banking2.log" | tail -3)"
expected bank3 relay-banking || fail "Y took bank3 from X: $(report)"
expected bank4 relay-banking2 || fail "bank4 left: $(report)"
wait_for 10 not_taken_is 1 || fail "Y's status: $(y_status)"
sleep 5     # two retries and more
[ "$(refusal_lines)" = 1 ] || fail "Y logged the same refusal $(refusal_lines) times"
status=$(broker_status "$NATIONAL" national natissuer) || fail "national status"
[ "$(json_number "$status" roster_entries_held)" -ge 2 ] || fail "the national broker did not count the retries: $status"

say "2. bank3 removed at X: Y's next retry takes it"
rm "$T/banking/allow/bank3.pub"
start_s=$(date +%s)
wait_for 20 expected bank3 relay-banking2 || fail "bank3 is not expected via relay-banking2: $(report)"
echo "bank3 via relay-banking2 after $(( $(date +%s) - start_s )) s (X rescans every 5 s, Y retries every 2 s)"
[ "$(times_expected bank3)" = 1 ] || fail "bank3 expected $(times_expected bank3) times: $(report)"
expected bank1 relay-banking || fail "bank1 left: $(report)"
wait_for 10 log_has banking2 "upstream: roster taken whole now (2 entries)" || fail "Y does not say its roster is taken whole"
wait_for 10 not_taken_is 0 || fail "Y's status: $(y_status)"

say "3. X decommissioned while it still lists bank1"
cp "$T/keys/bank1.pub" "$T/banking2/allow/"
wait_for 20 log_has banking2 "not taken: bank1" || fail "Y took bank1 while X was enrolled: $(report)"
stop banking
rm "$T/national/allow/relay-banking.pub"
wait_for 30 expected bank1 relay-banking2 || fail "bank1 is not expected via relay-banking2 after X left: $(report)"
[ "$(times_expected bank1)" = 1 ] || fail "bank1 expected $(times_expected bank1) times: $(report)"

stop banking2; stop national
say "ok"
