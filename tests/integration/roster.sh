#!/usr/bin/env bash
# A relay's roster reaches the national broker whole, however large.
# A national broker and the banking relay; bank1 runs, the other agents
# are only enrolled (a roster lists who is expected, not who is online).
# - The relay runs with CC_ROSTER_CHUNK=2 and 5 agents enrolled: its roster
#   goes upstream in 3 parts, and national compliance for a banking
#   advisory lists all 5 agents, bank1 acked and 4 missing.
# - bank5's file is removed at the relay: the next roster (2 parts)
#   replaces the old one and national compliance lists 4.
# - 12,000 more agents with long details are enrolled (about 400 bytes
#   each on the wire: 4.9 MB in all, over the 4 MiB frame cap, so one
#   Roster message would get the relay cut off). The relay restarts with
#   the default part size: national compliance lists all 12,004, and the
#   link still carries acks (bank1's ack of a new advisory reaches the
#   national ledger).
source "$(dirname "$0")/lib.sh"
federation
for agent in bank3 bank4 bank5; do
    keygen $agent agent banking --class body-corporate
    cp "$T/keys/$agent.pub" "$T/banking/allow/"
done
start_national
CC_ROSTER_CHUNK=2 start_relay banking
start_agent bank1 banking

NATIONAL="127.0.0.1:$NATIONAL_PORT"
NDATA="$T/national/data"

# listed ADVISORY: how many recipients national compliance lists for it.
listed () {
    certcast compliance --data "$NDATA" --advisory "$1" --format csv 2>/dev/null \
        | grep -c "^$1," || true
}
listed_is () { [ "$(listed "$1")" = "$2" ]; }
national_status () { broker_status "$NATIONAL" national natissuer; }
relay_status () { broker_status "127.0.0.1:$BANKING_PORT" relay-banking bank1; }
roster_accepted () { relay_status | grep -q '"roster_pending":false'; }

say "5 agents, 2 per part: the national broker lists all 5"
publish natissuer "$NATIONAL" national --id PK-ROSTER-1 --title "Roster check" \
    --severity low --tlp clear --sector banking >/dev/null || fail "publish PK-ROSTER-1"
wait_for 20 listed_is PK-ROSTER-1 5 || fail "national lists $(listed PK-ROSTER-1) recipients for PK-ROSTER-1, expected 5"
wait_for 20 ledger_has "$NDATA" PK-ROSTER-1 bank1 || fail "no national ack from bank1"
report=$(certcast compliance --data "$NDATA" --advisory PK-ROSTER-1 --format csv) || fail "compliance"
echo "$report"
for agent in bank2 bank3 bank4 bank5; do
    echo "$report" | grep "Org $agent" | grep -q ',missing,' || fail "$agent is not listed missing"
done
status=$(national_status) || fail "national status"
echo "$status"
[ "$(json_number "$status" roster_parts)" -ge 3 ] || fail "the roster did not arrive in parts: $status"
wait_for 20 roster_accepted || fail "the relay does not see its roster accepted: $(relay_status)"

say "bank5 leaves: the roster is replaced whole, through its parts"
rm "$T/banking/allow/bank5.pub"
wait_for 30 listed_is PK-ROSTER-1 4 || fail "national lists $(listed PK-ROSTER-1) recipients after bank5 left, expected 4"
certcast compliance --data "$NDATA" --advisory PK-ROSTER-1 --format csv | grep -q 'Org bank5' \
    && fail "bank5 is still expected at the national broker"

say "12,000 more agents: more than one frame can carry"
# Keys need only be well formed here: these agents never connect. A
# 40-digit Z85 text decodes to a CURVE key, 64 digits are a hex sign key.
awk -v dir="$T/banking/allow" -v count=12000 'BEGIN {
    org = "Synthetic Organisation of the Banking Sector With a Rather Long Registered Name, Private Limited, Karachi"
    contact = "Security Operations Centre, 24x7 duty officer: +92-21-0000000, soc-duty@synthetic-organisation.example.pk, escalation: ciso"
    for (n = 1; n <= count; n++) {
        file = sprintf ("%s/synthetic-agent-number-%05d.pub", dir, n)
        printf "metadata\n    name = \"synthetic-agent-number-%05d-of-the-banking-sector\"\n", n > file
        printf "    sign-key = \"%064d\"\n    role = \"agent\"\n", n > file
        printf "    org = \"%s %05d\"\n    sector = \"banking\"\n", org, n > file
        printf "    class = \"body-corporate\"\n    cii = \"yes\"\n", n > file
        printf "    contact = \"%s\"\n", contact > file
        printf "curve\n    public-key = \"%040d\"\n", n > file
        close (file)
    }
}' || fail "cannot write the synthetic agents"
stop banking
start_relay banking
publish natissuer "$NATIONAL" national --id PK-ROSTER-2 --title "Roster check, large" \
    --severity low --tlp clear --sector banking >/dev/null || fail "publish PK-ROSTER-2"
wait_for 120 listed_is PK-ROSTER-2 12004 \
    || fail "national lists $(listed PK-ROSTER-2) recipients for PK-ROSTER-2, expected 12004"
wait_for 20 ledger_has "$NDATA" PK-ROSTER-2 bank1 || fail "no national ack from bank1 over the relay"
wait_for 20 roster_accepted || fail "the relay does not see its roster accepted: $(relay_status)"
status=$(national_status) || fail "national status"
echo "$status"

stop bank1
stop banking; stop national
say "ok"
