#!/usr/bin/env bash
# demo.sh BIN_DIR - a whole certcast federation on this host, then a report.
#
# Generates a root key, a national broker, relays for banking and telecom,
# three agents, a national issuer and a banking issuer, all on 127.0.0.1
# in a temporary directory; publishes a banking advisory and an all-sector
# technology update; waits for every ack to reach the national ledger;
# prints what each agent received and the Rule 26 compliance report; then
# stops everything by PID. KEEP=1 keeps the directory.
set -u
CC_BIN=${1:-build/bin}
export CC_BIN
source "$(dirname "$0")/../tests/integration/lib.sh"
trap - ERR

now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

echo "== certcast demo in $T"
federation
# Each issuer numbers in a namespace of its own, as a real federation's
# delegations should say (README, step 3).
certcast delegate --root "$T/keys/root.key" --sector all --id-prefix PK-NCERT- --force \
    --out "$T/keys/natissuer.delegation" "$T/keys/natissuer.pub" >/dev/null || fail "delegate natissuer"
certcast delegate --root "$T/keys/root.key" --sector banking --id-prefix PK-SBP- --force \
    --out "$T/keys/bankissuer.delegation" "$T/keys/bankissuer.pub" >/dev/null || fail "delegate bankissuer"
echo "keys and delegations (national issuer: PK-NCERT-*, banking issuer: PK-SBP-*):"
echo "    $(cd "$T/keys" && echo *)" | fold -s -w 76 | sed "2,$ s/^/    /"
start_national;         echo "national broker  127.0.0.1:$NATIONAL_PORT (pid ${PIDS[national]})"
start_relay banking;    echo "banking relay    127.0.0.1:$BANKING_PORT (pid ${PIDS[banking]})"
start_relay telecom;    echo "telecom relay    127.0.0.1:$TELECOM_PORT (pid ${PIDS[telecom]})"
for agent in bank1:banking bank2:banking tel1:telecom; do
    start_agent "${agent%%:*}" "${agent##*:}"
    echo "agent ${agent%%:*} (${agent##*:}) (pid ${PIDS[${agent%%:*}]})"
done

echo
echo "== publishing"
started=$(now_ms)
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id PK-NCERT-DEMO-0001 \
    --title "Credential-phishing campaign against online banking" \
    --severity high --tlp amber --sector banking --deadline 24h \
    --cve CVE-2026-0001 --summary "Block the listed domains; reset exposed credentials." \
    || fail "publish PK-NCERT-DEMO-0001"
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id PK-NCERT-DEMO-0002 \
    --kind update --title "OpenSSL 3.0 security update" --severity medium \
    --tlp clear --sector all --deadline 72h || fail "publish PK-NCERT-DEMO-0002"
publish bankissuer "127.0.0.1:$BANKING_PORT" relay-banking --id PK-SBP-DEMO-0001 \
    --title "SWIFT operator hardening checklist" --severity medium --tlp green \
    --sector banking --deadline 48h || fail "publish PK-SBP-DEMO-0001"

all_acked () {
    ledger_has "$T/national/data" PK-NCERT-DEMO-0001 bank1 &&
    ledger_has "$T/national/data" PK-NCERT-DEMO-0001 bank2 &&
    ledger_has "$T/national/data" PK-NCERT-DEMO-0002 bank1 &&
    ledger_has "$T/national/data" PK-NCERT-DEMO-0002 bank2 &&
    ledger_has "$T/national/data" PK-NCERT-DEMO-0002 tel1 &&
    ledger_has "$T/national/data" PK-SBP-DEMO-0001 bank1 &&
    ledger_has "$T/national/data" PK-SBP-DEMO-0001 bank2
}
wait_for 30 all_acked || fail "not every ack reached the national ledger"
echo "all 7 acks in the national ledger $(( $(now_ms) - started )) ms after the first publish"

echo
echo "== what each agent received (spool files)"
for agent in bank1 bank2 tel1; do
    echo "$agent:"
    for file in "$T/agents/$agent/spool"/*.json; do
        title=$(sed -n 's/.*"title": *"\([^"]*\)".*/\1/p' "$file" | head -1)
        echo "    $(basename "$file" .json)  $title"
    done
done

echo
echo "== national ledger"
certcast ledger --data "$T/national/data"
echo
echo "== compliance report (Rule 26), national ledger"
certcast compliance --data "$T/national/data"
echo
echo "== compliance report, banking relay (its own sector advisories)"
certcast compliance --data "$T/banking/data" --advisory PK-SBP-DEMO-0001

echo
echo "== stopping"
for name in tel1 bank2 bank1 telecom banking national; do
    stop $name
done
echo "demo finished cleanly"
