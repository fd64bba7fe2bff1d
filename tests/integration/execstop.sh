#!/usr/bin/env bash
# A hanging --exec command does not hold the agent's stop, and the
# commands it did not run are not lost.
# 1. bank1 runs, per advisory, a command that records its advisory and then
#    hangs (a shell that starts a long sleep). EX-1 and EX-2 are published;
#    EX-1's command starts, EX-2's waits behind it.
# 2. SIGTERM: bank1 exits 0 within 10 s (before: it waited 60 s for each
#    command, queued ones too), logs that the command was stopped, and
#    leaves no process of the command behind (its whole process group is
#    killed, the shell's sleep too).
# 3. Started again with a command that finishes, bank1 hands both over
#    again: both commands run, and both acks reach the national ledger.
source "$(dirname "$0")/lib.sh"
federation
start_national
start_relay banking
mkdir -p "$T/ran"
SLEEP=$((900000 + RANDOM))      # a sleep no one else runs, to look for
start_agent bank1 banking --exec "cat > \"$T/ran/\$CERTCAST_ID.hung\"; sleep $SLEEP"
NATIONAL="127.0.0.1:$NATIONAL_PORT"

say "1. EX-1's command hangs, EX-2 waits behind it"
for id in EX-1 EX-2; do
    publish natissuer "$NATIONAL" national --id $id --title "$id" --severity low \
        --tlp clear --sector banking >/dev/null || fail "publish $id"
done
wait_for 20 test -s "$T/ran/EX-1.hung" || fail "EX-1's command did not start"
sleep 1     # EX-2 is committed meanwhile; its hand-over waits for EX-1's

say "2. the stop does not wait for the hanging command"
started=$(date +%s%N)
stop bank1
took_ms=$(( ($(date +%s%N) - started) / 1000000 ))
echo "stop took $took_ms ms"
[ "$took_ms" -lt 10000 ] || fail "bank1 took $took_ms ms to stop behind a hanging command"
log_has bank1 "stopped with the agent" || fail "bank1 did not log the stopped command"
sleep 0.2
! pgrep -f "sleep $SLEEP" >/dev/null || fail "the command's sleep outlived its kill"

say "3. started again, both commands run"
rotate_log bank1
start_agent bank1 banking --exec "cat > \"$T/ran/\$CERTCAST_ID.done\""
wait_for 20 test -s "$T/ran/EX-1.done" || fail "EX-1's command never ran to the end"
wait_for 20 test -s "$T/ran/EX-2.done" || fail "EX-2's command was lost"
grep -q '"id": *"EX-2"' "$T/ran/EX-2.done" || fail "EX-2's command got the wrong advisory"
for id in EX-1 EX-2; do
    wait_for 20 ledger_has "$T/national/data" $id bank1 || fail "no ack of $id in the national ledger"
done
stop bank1; stop banking; stop national
say "ok"
