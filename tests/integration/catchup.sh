#!/usr/bin/env bash
# An organisation that was offline catches up, and compliance tells who is
# missing meanwhile (Rule 26). A national broker, relays for banking and
# telecom, agents bank1 and bank2 (banking) and tel1 (telecom).
# - Everyone is running and acking: PK-NCERT-C-1 (banking) is acked by bank1
#   and bank2 in the national ledger.
# - bank2 stops cleanly. PK-NCERT-C-2 (banking, deadline 1h) is published;
#   bank1 receives and acks it. While the daemons run, national compliance
#   (csv) shows bank2 missing for C-2, with its organisation, sector, entity
#   class, CII flag and contact, and bank1 acked.
# - bank2 restarts on the same data directory: it receives C-2 (and only
#   C-2: C-1's spool file is untouched), acks it, and compliance shows
#   nobody missing.
# - bank2 restarts once more: nothing is handed over again (spool files
#   untouched, count unchanged) and the national ledger holds exactly one
#   row per advisory, agent and status, the same rows as before.
source "$(dirname "$0")/lib.sh"
federation
start_national
start_relay banking
start_relay telecom
start_agent bank1 banking
start_agent bank2 banking
start_agent tel1 telecom

NATIONAL="127.0.0.1:$NATIONAL_PORT"
NDATA="$T/national/data"

# ledger_tuples DATA_DIR: "advisory revision agent status" per row.
ledger_tuples () {
    certcast ledger --data "$1" --format json \
        | sed -n 's/.*"advisory": "\([^"]*\)", "revision": \([0-9]*\), "agent": "\([^"]*\)".*"status": "\([^"]*\)".*/\1 \2 \3 \4/p'
}

say "everyone acks PK-NCERT-C-1"
publish natissuer "$NATIONAL" national --id PK-NCERT-C-1 --title "Phishing kit" \
    --severity medium --tlp green --sector banking >/dev/null || fail "publish C-1"
for agent in bank1 bank2; do
    wait_for 20 spooled $agent PK-NCERT-C-1 || fail "$agent did not receive C-1"
    wait_for 20 ledger_has "$NDATA" PK-NCERT-C-1 $agent || fail "no national ack from $agent for C-1"
done

say "bank2 goes offline; PK-NCERT-C-2 is published"
stop bank2
stamp_c1=$(spool_stamp bank2)
publish natissuer "$NATIONAL" national --id PK-NCERT-C-2 --title "Core banking RCE" \
    --severity critical --tlp amber --sector banking --deadline 1h >/dev/null \
    || fail "publish C-2"
wait_for 20 spooled bank1 PK-NCERT-C-2 || fail "bank1 did not receive C-2"
wait_for 20 ledger_has "$NDATA" PK-NCERT-C-2 bank1 || fail "no national ack from bank1 for C-2"

say "compliance, while the daemons run, shows bank2 missing"
report=$(certcast compliance --data "$NDATA" --format csv) || fail "compliance failed"
echo "$report"
echo "$report" | grep -qx 'PK-NCERT-C-2,1,Core banking RCE,[^,]*,bank2,Org bank2,banking,service-provider,no,soc@bank2.example.pk,missing,,,' \
    || fail "compliance does not show bank2 (with its details) missing for C-2"
echo "$report" | grep -q '^PK-NCERT-C-2,1,Core banking RCE,[^,]*,bank1,Org bank1,banking,body-corporate,yes,soc@bank1.example.pk,acked,.' \
    || fail "compliance does not show bank1 acked for C-2"
[ "$(echo "$report" | grep -c ',missing,')" = 1 ] || fail "exactly one missing row expected"
echo "$report" | grep -q '^PK-NCERT-C-1,.*,missing,' && fail "C-1 shows someone missing"
json=$(certcast compliance --data "$NDATA" --advisory PK-NCERT-C-2 --format json) \
    || fail "compliance json failed"
echo "$json" | grep -A3 '"missing"' | grep -q '"agent": "bank2"' \
    || fail "json compliance does not list bank2 under missing: $json"
spooled bank2 PK-NCERT-C-2 && fail "bank2 has C-2 although it was offline"

say "bank2 comes back and catches up"
rotate_log bank2
start_agent bank2 banking
wait_for 20 spooled bank2 PK-NCERT-C-2 || fail "bank2 did not catch up on C-2"
grep -q '"title": *"Core banking RCE"' "$T/agents/bank2/spool/PK-NCERT-C-2-r1.json" \
    || fail "bank2's C-2 spool file lacks the title"
wait_for 20 ledger_has "$T/banking/data" PK-NCERT-C-2 bank2 || fail "no banking ack from bank2 for C-2"
wait_for 20 ledger_has "$NDATA" PK-NCERT-C-2 bank2 || fail "no national ack from bank2 for C-2"
report=$(certcast compliance --data "$NDATA" --format csv) || fail "compliance failed"
echo "$report"
echo "$report" | grep -q ',missing,' && fail "compliance still shows someone missing"
[ "$(echo "$report" | grep -c '^PK-NCERT-C-2,.*,acked,')" = 2 ] || fail "C-2 should be acked by 2"
[ "$(echo "$report" | grep -c '^PK-NCERT-C-1,.*,acked,')" = 2 ] || fail "C-1 should be acked by 2"
[ "$(spool_count bank2)" = 2 ] || fail "bank2 has $(spool_count bank2) advisories, expected 2"
[ "$(spool_stamp bank2 | grep 'PK-NCERT-C-1-')" = "$stamp_c1" ] \
    || fail "bank2 handed C-1 over again on catching up"

say "a second restart repeats nothing"
stamps=$(spool_stamp bank2)
tuples=$(ledger_tuples "$NDATA" | sort)
echo "$tuples"
[ -n "$tuples" ] || fail "could not read national ledger rows"
dups=$(echo "$tuples" | uniq -d)
[ -z "$dups" ] || fail "duplicate ledger rows: $dups"
stop bank2
rotate_log bank2
start_agent bank2 banking
# Barrier: a new advisory on the same stream is delivered after anything
# bank2 could still (wrongly) replay from before it.
publish natissuer "$NATIONAL" national --id PK-NCERT-C-3 --title "All clear" \
    --severity info --tlp clear --sector banking >/dev/null || fail "publish C-3"
for agent in bank1 bank2; do
    wait_for 20 spooled $agent PK-NCERT-C-3 || fail "$agent did not receive C-3"
    wait_for 20 ledger_has "$NDATA" PK-NCERT-C-3 $agent || fail "no national ack from $agent for C-3"
done
[ "$(spool_count bank2)" = 3 ] || fail "bank2 has $(spool_count bank2) advisories, expected 3"
[ "$(spool_stamp bank2 | grep -v 'PK-NCERT-C-3-')" = "$stamps" ] \
    || fail "bank2 handed an advisory over again after its restart"
after=$(ledger_tuples "$NDATA" | sort)
[ -z "$(echo "$after" | uniq -d)" ] || fail "duplicate ledger rows after restart"
[ "$(echo "$after" | grep -v '^PK-NCERT-C-3 ')" = "$tuples" ] \
    || fail "ledger rows for C-1/C-2 changed after the restart: $after"
for id in PK-NCERT-C-1 PK-NCERT-C-2 PK-NCERT-C-3; do
    for agent in bank1 bank2; do
        [ "$(echo "$after" | grep -c "^$id 1 $agent ")" -ge 1 ] || fail "no row for $id $agent"
    done
    echo "$after" | grep -q "^$id 1 tel1 " && fail "tel1 has a row for banking advisory $id"
done
rows=$(ledger_rows "$NDATA") || fail "national ledger"
[ "$rows" = "$(echo "$after" | wc -l)" ] || fail "ledger json has $rows rows, parsed $(echo "$after" | wc -l)"
report=$(certcast compliance --data "$NDATA" --format csv) || fail "compliance failed"
echo "$report" | grep -q ',missing,' && fail "compliance shows someone missing after the restart"

stop tel1; stop bank2; stop bank1
stop telecom; stop banking; stop national
say "ok"
