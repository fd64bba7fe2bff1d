#!/usr/bin/env bash
# A spool that cannot be written loses nothing. National broker, banking
# relay, agent bank1 with a spool directory.
# 1. SF-1 is spooled as usual.
# The spool is a 1 MiB tmpfs (so this test runs as root); "broken" is that
# file system full.
# 2. The spool's file system fills up and SF-2 is published:
#    bank1 logs that it cannot write SF-2's file. Its ack still reaches the
#    national ledger (the advisory is durable in bank1's inbox: RECEIVED).
# 3. Space is freed: without a restart, SF-2's file appears
#    (tried again every 2 s, backing off), and bank1 logs it as written late.
# 4. The spool is broken again, SF-3 published, and bank1 stopped and
#    started while it is still broken: the replay at start cannot write it
#    either and keeps it. Once there is space, SF-3's file appears.
# 5. Every file holds its advisory whole, and a later SF-4 is spooled as
#    usual.
source "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: spoolfail.sh mounts a tmpfs and must run as root"
    exit 0
fi
federation
SPOOL="$T/agents/bank1/spool"
mount_tmpfs "$SPOOL" 1m || fail "cannot mount a tmpfs on $SPOOL"
start_national
start_relay banking
start_agent bank1 banking
NATIONAL="127.0.0.1:$NATIONAL_PORT"

break_spool () { dd if=/dev/zero of="$SPOOL/.filler" bs=64k 2>/dev/null; true; }
mend_spool () { rm -f "$SPOOL/.filler"; }

say "1. SF-1 spooled as usual"
publish natissuer "$NATIONAL" national --id SF-1 --title one --severity low \
    --tlp clear --sector banking >/dev/null || fail "publish SF-1"
wait_for 20 spooled bank1 SF-1 || fail "SF-1 not spooled"

say "2. spool broken: SF-2 is acked, its file cannot be written"
break_spool
publish natissuer "$NATIONAL" national --id SF-2 --title two --severity high \
    --tlp clear --sector banking >/dev/null || fail "publish SF-2"
wait_for 20 log_has bank1 "cannot write .*SF-2-r1.json" \
    || fail "bank1 did not log the failed spool write of SF-2"
wait_for 20 ledger_has "$T/national/data" SF-2 bank1 || fail "SF-2's ack did not reach the national ledger"
spooled bank1 SF-2 && fail "SF-2 spooled into a broken spool?"

say "3. space freed: SF-2's file appears without a restart"
mend_spool
wait_for 20 spooled bank1 SF-2 || fail "SF-2 was never spooled after the spool came back"
wait_for 10 log_has bank1 "written late" || fail "bank1 did not log SF-2 as written late"

say "4. broken across a restart: the replay keeps SF-3 until it can be written"
break_spool
publish natissuer "$NATIONAL" national --id SF-3 --title three --severity low \
    --tlp clear --sector banking >/dev/null || fail "publish SF-3"
wait_for 20 log_has bank1 "cannot write .*SF-3-r1.json" || fail "no failed write of SF-3 logged"
stop bank1
rotate_log bank1
restart bank1
wait_for 20 log_has bank1 "cannot write .*SF-3-r1.json" \
    || fail "the replay at start did not try SF-3 again"
mend_spool
wait_for 20 spooled bank1 SF-3 || fail "SF-3 was lost across the restart"

say "5. files whole; SF-4 as usual"
for id in SF-1 SF-2 SF-3; do
    grep -q "\"id\": *\"$id\"" "$SPOOL/$id-r1.json" || fail "$id-r1.json does not hold $id"
done
! ls -A "$SPOOL" | grep -q '\.tmp$' || fail "a temporary spool file was left behind"
publish natissuer "$NATIONAL" national --id SF-4 --title four --severity low \
    --tlp clear --sector banking >/dev/null || fail "publish SF-4"
wait_for 20 spooled bank1 SF-4 || fail "SF-4 not spooled"
stop bank1; stop banking; stop national
say "ok"
