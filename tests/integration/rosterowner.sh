#!/usr/bin/env bash
# A relay's roster takes only what is that relay's to report.
#
# The national broker keeps one roster entry per agent key. Before, a
# relay's roster overwrote whatever entry a key had: the banking relay
# could list tel1 (a telecom agent behind the telecom relay) and then
# send an empty roster, and tel1 left the national compliance view
# ("expected 0, missing 0") until the telecom relay happened to send its
# roster again. Now, as the banking relay's key (cc_probe roster):
# 1. tel1, claimed as a banking agent, is not taken: its key is held via
#    relay-telecom ("acked 0" and the reason); the empty roster after it
#    leaves tel1 where it was: expected, via relay-telecom, in telecom.
# 2. The variants are not taken either: tel1 claimed as a relay; direct1,
#    enrolled in the national broker's own allow directory; ghost1, a
#    telecom agent enrolled nowhere (a recipient invented in a sector the
#    banking relay does not serve). ghost2, a banking agent, is taken.
# 3. The national broker counts them (roster_entries_held,
#    roster_entries_out_of_sector) and its log names the key, the
#    reporting relay, the holder and what to do (remove the key at the
#    other relay first).
source "$(dirname "$0")/lib.sh"
federation
keygen direct1 agent telecom --class data-centre
keygen ghost1 agent telecom --class body-corporate
keygen ghost2 agent banking --class body-corporate
cp "$T/keys/direct1.pub" "$T/national/allow/"
start_national
start_relay banking
start_relay telecom

NATIONAL="127.0.0.1:$NATIONAL_PORT"
NDATA="$T/national/data"
as_banking () {
    probe --to "$NATIONAL" --key "$T/keys/relay-banking.key" \
        --server-pub "$T/keys/national.pub" roster "$@"
}
report () { certcast compliance --data "$NDATA" --advisory OWN-1 --format json 2>/dev/null; }
# expected NAME VIA SECTOR: NAME among the expected recipients of OWN-1,
# reported via VIA, in SECTOR.
expected () {
    report | tr -d '\n' | grep -oE '"expected": \[[^]]*\]' \
        | grep -qE "\"agent\": \"$1\", [^}]*\"sector\": \"$3\", [^}]*\"via\": \"$2\""
}
listed () { report | grep -q "\"agent\": \"$1\""; }

publish natissuer "$NATIONAL" national --id OWN-1 --title "Owner check" \
    --severity high --tlp clear --sector all >/dev/null || fail "publish OWN-1"
wait_for 20 expected tel1 relay-telecom telecom || fail "tel1 is not expected via relay-telecom: $(report)"
wait_for 20 expected bank1 relay-banking banking || fail "bank1 is not expected via relay-banking: $(report)"
expected direct1 national telecom || fail "direct1 is not expected via national: $(report)"

say "1. the banking relay claims tel1, then sends an empty roster"
out=$(as_banking --entry "$T/keys/tel1.pub" --entry-sector banking) || fail "roster: $out"
echo "$out"
[[ $out == "acked 0 not taken: tel1: its key is enrolled upstream through another relay"* ]] \
    || fail "tel1 was taken from the telecom relay: $out"
out=$(as_banking) || fail "empty roster: $out"
[ "$out" = "acked 0" ] || fail "empty roster: $out"
expected tel1 relay-telecom telecom || fail "tel1 left the national view: $(report)"
listed bank1 && fail "the banking relay's empty roster did not replace its own: $(report)"

say "2. variants: a role changed, the broker's own agent, invented recipients"
out=$(as_banking --entry "$T/keys/tel1.pub" --entry-role relay) || fail "roster: $out"
[[ $out == "acked 0 not taken: tel1: its key is enrolled upstream"* ]] || fail "tel1 as a relay: $out"
out=$(as_banking --entry "$T/keys/direct1.pub" --entry-sector banking) || fail "roster: $out"
[[ $out == "acked 0 not taken: direct1: its key is enrolled upstream"* ]] || fail "direct1: $out"
out=$(as_banking --entry "$T/keys/ghost1.pub" --entry "$T/keys/ghost2.pub") || fail "roster: $out"
echo "$out"
[[ $out == "acked 1 not taken: ghost1: its sector is not one this relay is enrolled for upstream" ]] \
    || fail "ghost1 (telecom) from the banking relay: $out"
out=$(as_banking --entry "$T/keys/ghost2.pub" --entry-role issuer) || fail "roster: $out"
[[ $out == "acked 0 not taken: ghost2: not an agent"* ]] || fail "ghost2 as an issuer: $out"
out=$(as_banking --entry "$T/keys/ghost2.pub") || fail "roster: $out"
[ "$out" = "acked 1" ] || fail "ghost2, a banking agent, was not taken: $out"
expected ghost2 relay-banking banking || fail "ghost2 is not expected: $(report)"
expected tel1 relay-telecom telecom || fail "tel1 moved: $(report)"
expected direct1 national telecom || fail "direct1 moved: $(report)"
listed ghost1 && fail "ghost1 was invented into the view: $(report)"

say "3. counted and logged"
status=$(broker_status "$NATIONAL" national natissuer) || fail "national status"
echo "$status"
[ "$(json_number "$status" roster_entries_held)" -ge 3 ] || fail "roster_entries_held: $status"
[ "$(json_number "$status" roster_entries_out_of_sector)" -ge 2 ] || fail "roster_entries_out_of_sector: $status"
log_has national "roster from relay relay-banking: 1 of 1 entry not taken .*'tel1' (key [0-9a-f]\{8\}) is held via relay-telecom: if it moved to relay-banking, remove it from that relay's allow directory first" \
    || fail "the national log does not say who holds tel1: $(grep 'roster from' "$T/national.log")"

stop banking; stop telecom; stop national
say "ok"
