#!/usr/bin/env bash
# hostilerelay: a real certcast-agent (banking) against a fake relay
# (tests/tools/cc_fakerelay.c) that holds the banking relay's key and
# serves genuinely signed advisories (the national issuer's delegation):
#
# (a) on national/banking, a TLP:RED advisory for telecom only, one for
#     all sectors, one for banking that had expired 30 s before, one for
#     banking; on national/telecom, a telecom and a banking advisory. The
#     agent spools and runs --exec for the all-sector and banking ones
#     only; the expired one is acked but not handed over (one log line);
#     the telecom one is refused (not acked); national/telecom is never
#     fetched (before: all six were spooled, run and acked);
# (b) a Welcome listing 20,000 new names per Hello and names of the
#     wrong form: the agent follows at most 64 streams, says so once, and
#     still takes its advisory (before: 20,000 streams followed per Hello,
#     655 MB in 80 s);
# (c) with each fetch reply, a reply to the same fetch with 300,000
#     empty deliveries and one of 200 to a fetch never sent: both dropped,
#     a handful of log lines, the genuine reply still taken (before: one
#     line per entry, 300,200 lines per fetch);
# (d) Acked for corr 1 to 8 after the agent committed its ack and before
#     it sent it (it sends an ack once the spool file is durable, and runs
#     under strace with every rename delayed 2 s): the ack stays in the
#     outbox and is sent again (before: the Acked dropped it, and it was
#     sent once).
# And an agent key that names no sector is refused at startup (it would
# follow nothing).
. "$(dirname "$0")/lib.sh"

federation
keygen bank3 agent banking
keygen bank4 agent banking

# fake_relay NAME ARGS...: a fake banking relay on a port of its own
# (in FAKE_PORT), its output in $T/NAME.out.
fake_relay () {
    local name=$1; shift
    FAKE_PORT=$(other_port)
    "$CC_BIN/cc_fakerelay" --listen "$FAKE_PORT" --key "$T/keys/relay-banking.key" \
        --issuer "$T/keys/natissuer.key" --delegation "$T/keys/natissuer.delegation" \
        "$@" >"$T/$name.out" 2>"$T/$name.log" &
    PIDS[$name]=$!
    wait_for 10 grep -q "^fakerelay ready" "$T/$name.out" || fail "$name did not start"
}

# agent_at NAME [options]: a banking agent following the fake relay.
agent_at () {
    local name=$1; shift
    mkdir -p "$T/agents/$name/spool"
    start_daemon "$name" "$CC_BIN/certcast-agent" --relay "127.0.0.1:$FAKE_PORT" \
        --relay-pub "$T/keys/relay-banking.pub" --data "$T/agents/$name/data" \
        --key "$T/keys/$name.key" --trust "$T/keys/root.pub" \
        --spool "$T/agents/$name/spool" --heartbeat 200 "$@"
}

acked () { grep -q "^ack [0-9]* $2 1$" "$T/$1.out"; }

say "an agent key without a sector is refused at startup"
certcast keygen --dir "$T/keys" --role agent nosector >/dev/null || fail "keygen nosector"
status=0
"$CC_BIN/certcast-agent" --relay "127.0.0.1:$BANKING_PORT" --relay-pub "$T/keys/relay-banking.pub" \
    --data "$T/agents/nosector" --key "$T/keys/nosector.key" --trust "$T/keys/root.pub" \
    2>"$T/nosector.err" || status=$?
[ $status = 1 ] || fail "an agent without a sector exited $status"
grep -q "names no sector of its own" "$T/nosector.err" || fail "no reason given: $(cat "$T/nosector.err")"
[ ! -e "$T/agents/nosector" ] || fail "the refused agent created its data directory"

say "(a) advisories of other sectors, and one already expired"
fake_relay fake-a --tlp red \
    --advisory national/banking,PK-HR-TEL,telecom \
    --advisory national/banking,PK-HR-ALL,all \
    --advisory national/banking,PK-HR-OLD,banking,expired \
    --advisory national/banking,PK-HR-BANK,banking \
    --advisory national/telecom,PK-HR-TEL2,telecom \
    --advisory national/telecom,PK-HR-XS,banking
agent_at bank1 --exec "cat >/dev/null; echo \"\$CERTCAST_ID\" >> $T/bank1.exec"
wait_for 20 acked fake-a PK-HR-BANK || fail "bank1 did not ack PK-HR-BANK"
wait_for 10 acked fake-a PK-HR-ALL || fail "bank1 did not ack PK-HR-ALL"
wait_for 10 acked fake-a PK-HR-OLD || fail "bank1 did not ack the expired PK-HR-OLD as received"
wait_for 10 grep -qx PK-HR-BANK "$T/bank1.exec" || fail "bank1 did not run --exec for PK-HR-BANK"
sleep 1
spooled=$(ls "$T/agents/bank1/spool" | sort | tr '\n' ' ')
[ "$spooled" = "PK-HR-ALL-r1.json PK-HR-BANK-r1.json " ] \
    || fail "bank1 spooled: $spooled (only PK-HR-ALL and PK-HR-BANK are for it and alive)"
ran=$(sort "$T/bank1.exec" | tr '\n' ' ')
[ "$ran" = "PK-HR-ALL PK-HR-BANK " ] || fail "bank1 ran --exec for: $ran"
for id in PK-HR-TEL PK-HR-TEL2 PK-HR-XS; do
    acked fake-a $id && fail "bank1 acked $id, which is not for banking"
done
grep -q "^fetch national/telecom" "$T/fake-a.out" && fail "bank1 fetched national/telecom"
log_has bank1 "refused national/banking seq 1: out-of-scope: not for this agent's sector" \
    || fail "bank1 did not log the telecom advisory refused"
log_has bank1 "PK-HR-OLD revision 1 on national/banking expired before it arrived: not handed over" \
    || fail "bank1 did not log the expired advisory"
grep -q "PK-HR-OLD" "$T/bank1.exec" && fail "bank1 ran --exec for the expired advisory"
# The cursor moved past the refused delivery: nothing is fetched again.
[ "$(grep -c "^fetch national/banking" "$T/fake-a.out")" -le 2 ] \
    || fail "bank1 fetched national/banking again and again: $(grep -c "^fetch" "$T/fake-a.out")"
stop bank1
stop fake-a

say "(b) 20,000 new stream names per Welcome"
fake_relay fake-b --advisory national/banking,PK-HR-B,banking --extra-streams 20000
agent_at bank2
wait_for 20 spooled bank2 PK-HR-B || fail "bank2 did not receive PK-HR-B"
sleep 3
following=$(grep -c "following .* from seq" "$T/bank2.log")
[ "$following" -le 64 ] || fail "bank2 follows $following streams (at most 64)"
[ "$following" -eq 64 ] || fail "bank2 follows $following streams, 64 expected (1 real, 63 made up)"
[ "$(grep -c "lists more than 64 streams" "$T/bank2.log")" = 1 ] \
    || fail "bank2 did not say once that it follows 64 streams only"
log_has bank2 "streams that are not ORIGIN/banking" || fail "bank2 did not log the names it ignores"
grep -qE "following (UPPER|a/b|no-slash|national/banking-x)" "$T/bank2.log" \
    && fail "bank2 follows a name of the wrong form"
rss=$(awk '/^VmHWM/ { print $2 }' "/proc/${PIDS[bank2]}/status")
say "bank2 peak RSS ${rss} kB, $(wc -l < "$T/bank2.log") log lines"
stop bank2
stop fake-b

say "(c) fetch replies flooded with empty deliveries"
fake_relay fake-c --advisory national/banking,PK-HR-C,banking --flood 300000
agent_at bank3
wait_for 20 spooled bank3 PK-HR-C || fail "bank3 did not receive PK-HR-C"
sleep 2
lines=$(wc -l < "$T/bank3.log")
[ "$lines" -lt 40 ] || fail "bank3 wrote $lines log lines: $(sort "$T/bank3.log" | uniq -c | sort -rn | head -3)"
log_has bank3 "dropped a fetch reply" || fail "bank3 did not log the dropped replies"
stop bank3
stop fake-c

say "(d) Acked for acks not sent yet"
command -v strace >/dev/null || { echo "SKIP: (d) needs strace"; exit 0; }
fake_relay fake-d --advisory national/banking,PK-HR-D,banking --acked-unasked --no-acked
#   The spool file's rename, 2 s late, keeps the ack unsent that long;
#   PIDS[bank4] becomes the agent's own PID, for the SIGTERM below.
SLOW_RENAME="strace -f -qq -o /dev/null -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:delay_enter=2000000"
mkdir -p "$T/agents/bank4/spool"
start_daemon bank4 $SLOW_RENAME "$CC_BIN/certcast-agent" --relay "127.0.0.1:$FAKE_PORT" \
    --relay-pub "$T/keys/relay-banking.pub" --data "$T/agents/bank4/data" \
    --key "$T/keys/bank4.key" --trust "$T/keys/root.pub" \
    --spool "$T/agents/bank4/spool" --heartbeat 200 --ack-resend 300
TRACER=${PIDS[bank4]}
wait_for 10 pgrep -P "$TRACER" || fail "no traced bank4"
PIDS[bank4]=$(pgrep -P "$TRACER")
wait_for 20 grep -q "^acked-unasked" "$T/fake-d.out" || fail "fake-d sent no unasked Acked"
wait_for 20 acked fake-d PK-HR-D || fail "bank4 never sent its ack"
sends_twice () { [ "$(grep -c "^ack [0-9]* PK-HR-D 1$" "$T/fake-d.out")" -ge 2 ]; }
wait_for 10 sends_twice || fail "bank4 dropped its ack from the outbox on an Acked for an ack it had not sent (sent $(grep -c "PK-HR-D" "$T/fake-d.out") times)"
log_has bank4 "which we have not sent it (or it confirmed already); ignored" || fail "bank4 did not log the Acked it ignored"
kill -TERM "${PIDS[bank4]}"
wait "$TRACER" || fail "bank4 exited $?"
unset "PIDS[bank4]"
sanitizer_clean bank4 || fail "sanitizer report in bank4.log"
stop fake-d
say "ok"
