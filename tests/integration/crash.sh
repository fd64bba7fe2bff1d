#!/usr/bin/env bash
# Crash tests: nothing "stored" is lost, nothing unexpected appears.
#
# A national broker, banking and telecom relays, agents bank1 bank2 tel1.
# A publisher sends a burst of advisories (banking, telecom or all),
# retrying each until it is told "stored" (a retry refused as "already
# accepted" proves an earlier attempt was stored). Meanwhile a chaos loop
# kill -9s the national broker, a relay or an agent at random moments and
# restarts it. Afterwards every daemon must be back, every stored
# advisory in the inbox of every agent of its sectors, every ack in the
# national ledger, nothing unexpected and no duplicate row (cc_history).
#
# SEED (default: time) and ROUNDS (default 6 crashes) and ADVISORIES
# (default 60) scale it: ROUNDS=50 ADVISORIES=400 for a long run.
source "$(dirname "$0")/lib.sh"
SEED=${SEED:-$(date +%s)}
ROUNDS=${ROUNDS:-6}
ADVISORIES=${ADVISORIES:-60}
RANDOM=$SEED
say "seed $SEED, $ROUNDS crashes, $ADVISORIES advisories"

federation
start_national
start_relay banking
start_relay telecom
start_agent bank1 banking
start_agent bank2 banking
start_agent tel1 telecom

STORED=$T/stored.txt
: > "$STORED"
publisher () {
    local index sectors attempt out status
    for index in $(seq 1 "$ADVISORIES"); do
        case $((index % 3)) in
            0) sectors=banking ;;
            1) sectors=all ;;
            2) sectors=telecom ;;
        esac
        attempt=0
        while :; do
            attempt=$((attempt + 1))
            out=$(publish natissuer "127.0.0.1:$NATIONAL_PORT" national \
                --id "CRASH-$SEED-$index" --title "crash test $index" \
                --severity low --tlp clear --sector $sectors --timeout 3s 2>&1)
            status=$?
            if [ $status = 0 ] || [[ $out == *"already accepted"* ]]; then
                echo "CRASH-$SEED-$index 1 $sectors" >> "$STORED"
                break
            fi
            [ $attempt -ge 100 ] && { echo "publisher gave up on $index: $out"; return 1; }
            sleep 0.2
        done
    done
}
publisher > "$T/publisher.log" 2>&1 &
PUBLISHER=$!

declare -A CRASHES=()
victims=(national banking telecom bank1 bank2 tel1)
for round in $(seq 1 "$ROUNDS"); do
    victim=${victims[$((RANDOM % ${#victims[@]}))]}
    sleep "0.$((RANDOM % 9 + 1))"
    crash "$victim"
    CRASHES[$victim]=$(( ${CRASHES[$victim]:-0} + 1 ))
    sleep "0.$((RANDOM % 5))"
    restart "$victim"
done
wait $PUBLISHER || { cat "$T/publisher.log"; fail "publisher failed"; }
say "crashes: $(for v in "${!CRASHES[@]}"; do printf '%s=%s ' "$v" "${CRASHES[$v]}"; done)"
say "stored $(wc -l < "$STORED") advisories"

history () {
    "$CC_BIN/cc_history" --stored "$STORED" --ledger "$T/national/data" \
        --agent "bank1:banking:$T/agents/bank1/data:$T/keys/bank1.pub" \
        --agent "bank2:banking:$T/agents/bank2/data:$T/keys/bank2.pub" \
        --agent "tel1:telecom:$T/agents/tel1/data:$T/keys/tel1.pub"
}
# Repair takes a heartbeat or two after the last restart: poll, bounded.
wait_for 90 history || true
history || fail "history check failed (seed $SEED)"

for name in tel1 bank2 bank1 telecom banking national; do
    stop $name
done
say "ok"
