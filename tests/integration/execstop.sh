#!/usr/bin/env bash
# A hanging --exec command does not hold the agent's stop, nor its next
# start, and the commands it did not run are not lost.
# 1. bank1 runs, per advisory, a command that records its advisory and then
#    hangs (a shell that starts a long sleep). EX-1 and EX-2 are published;
#    EX-1's command starts, EX-2's waits behind it; the acks of both
#    reach the national ledger meanwhile (before: each waited for the
#    commands before it, a minute each when they hang).
# 2. SIGTERM: bank1 exits 0 within 10 s (before: it waited 60 s for each
#    command, queued ones too), logs that the command was stopped, and
#    leaves no process of the command behind (its whole process group is
#    killed, the shell's sleep too).
# 3. Started again while the command still hangs (the host's SIEM is
#    still down): bank1 replays both hand-overs, and is ready and linked
#    to its relay at once while EX-1's command hangs again (before: the
#    start waited 60 s per unfinished hand-over, with no relay link);
#    EX-3 is published meanwhile, and its ack reaches the national
#    ledger while the replayed commands hang. SIGTERM: bank1 exits 0
#    within 10 s (before: 60 s per replayed command, exit 1, and the
#    commands it killed never ran again).
# 4. Started again with a command that finishes, bank1 hands all three
#    over: the commands run, and the three acks reach the national ledger.
# 5. Started again with a command that never reads its stdin and hangs,
#    EX-BIG (a body of 200 kB, more than a pipe holds) is published: the
#    stop does not wait for the command to take its document either
#    (before: 60 s, the whole timeout) and leaves nothing of it behind.
# 6. EX-OLD, which expires 4 s after it is published, is taken, its
#    command hangs (EX-BIG's, replayed, finishes), and bank1 is stopped; started again after EX-OLD
#    expired, bank1 does not hand it over (no command, one log line; before:
#    its command ran on an instruction past its end date), and its ack
#    is in the national ledger.
source "$(dirname "$0")/lib.sh"
federation
start_national
start_relay banking
mkdir -p "$T/ran"
SLEEP=$((900000 + RANDOM))      # a sleep no one else runs, to look for
HANG="cat > \"$T/ran/\$CERTCAST_ID.hung\"; sleep $SLEEP"
start_agent bank1 banking --exec "$HANG"
NATIONAL="127.0.0.1:$NATIONAL_PORT"

say "1. EX-1's command hangs, EX-2 waits behind it"
for id in EX-1 EX-2; do
    publish natissuer "$NATIONAL" national --id $id --title "$id" --severity low \
        --tlp clear --sector banking >/dev/null || fail "publish $id"
done
wait_for 20 test -s "$T/ran/EX-1.hung" || fail "EX-1's command did not start"
for id in EX-1 EX-2; do
    wait_for 20 ledger_has "$T/national/data" $id bank1 \
        || fail "no ack of $id in the national ledger while EX-1's command hangs"
done

say "2. the stop does not wait for the hanging command"
stop_at_once bank1 "sleep $SLEEP"
log_has bank1 "stopped with the agent" || fail "bank1 did not log the stopped command"

say "3. started again while the command still hangs: linked at once, stops at once"
rotate_log bank1
rm -f "$T/ran/EX-1.hung"
start_agent bank1 banking --exec "$HANG"
wait_for 10 log_has bank1 "connected to relay" || fail "bank1 not linked to its relay during the replay"
log_has bank1 "replaying 2 hand-overs" || fail "bank1 did not replay EX-1 and EX-2"
wait_for 20 test -s "$T/ran/EX-1.hung" || fail "EX-1's command did not run again"
publish natissuer "$NATIONAL" national --id EX-3 --title EX-3 --severity low \
    --tlp clear --sector banking >/dev/null || fail "publish EX-3"
wait_for 20 ledger_has "$T/national/data" EX-3 bank1 \
    || fail "no ack of EX-3 in the national ledger while the replayed command hangs"
stop_at_once bank1 "sleep $SLEEP"
log_has bank1 "stopped with the agent" || fail "bank1 did not log the stopped replay"

say "4. started again, all three commands run"
rotate_log bank1
start_agent bank1 banking --exec "cat > \"$T/ran/\$CERTCAST_ID.done\""
for id in EX-1 EX-2 EX-3; do
    wait_for 20 test -s "$T/ran/$id.done" || fail "$id's command never ran to the end"
    grep -q "\"id\": *\"$id\"" "$T/ran/$id.done" || fail "$id's command got the wrong advisory"
done
for id in EX-1 EX-2 EX-3; do
    wait_for 20 ledger_has "$T/national/data" $id bank1 || fail "no ack of $id in the national ledger"
done
stop bank1

say "5. a command that does not read its document does not hold the stop"
rotate_log bank1
start_agent bank1 banking --exec "touch \"$T/ran/\$CERTCAST_ID.deaf\"; sleep $SLEEP"
head -c 200000 /dev/zero | tr '\0' 'a' > "$T/big.md"
publish natissuer "$NATIONAL" national --id EX-BIG --title EX-BIG --severity low \
    --tlp clear --sector banking --body-file "$T/big.md" >/dev/null || fail "publish EX-BIG"
wait_for 20 test -e "$T/ran/EX-BIG.deaf" || fail "EX-BIG's command did not start"
sleep 0.5   # the agent is now writing to a full pipe nobody reads
stop_at_once bank1 "sleep $SLEEP"

say "6. an interrupted hand-over whose advisory has expired since is not replayed"
rotate_log bank1
start_agent bank1 banking --exec "cat > \"$T/ran/\$CERTCAST_ID.hung\"; [ \"\$CERTCAST_ID\" != EX-OLD ] || sleep $SLEEP"
publish natissuer "$NATIONAL" national --id EX-OLD --title EX-OLD --severity low \
    --tlp clear --sector banking --expires 4s >/dev/null || fail "publish EX-OLD"
wait_for 20 test -s "$T/ran/EX-OLD.hung" || fail "EX-OLD's command did not start"
published=$(date +%s)
stop_at_once bank1 "sleep $SLEEP"
rm -f "$T/ran/EX-OLD.hung"
while [ $(( $(date +%s) - published )) -lt 5 ]; do sleep 0.2; done
rotate_log bank1
start_agent bank1 banking --exec "cat > \"$T/ran/\$CERTCAST_ID.done\""
wait_for 10 log_has bank1 "EX-OLD revision 1 expired since it arrived: not handed over" \
    || fail "bank1 did not say it drops the expired EX-OLD"
! test -e "$T/ran/EX-OLD.done" || fail "bank1 ran the command of the expired EX-OLD"
ledger_has "$T/national/data" EX-OLD bank1 || fail "no ack of EX-OLD in the national ledger"
stop bank1
stop banking; stop national
say "ok"
