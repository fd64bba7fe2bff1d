#!/usr/bin/env bash
# A national broker restored from an older copy numbers its stream again
# from where the copy ends. Its relay holds those numbers already and never
# renumbers, so what the national broker numbers again cannot reach it: the
# relay must say so, not drop it silently.
# 1. PK-RS-1 is published and the national data directory copied (stopped).
#    PK-RS-2 and PK-RS-3 follow; bank1 gets all three.
# 2. The national broker is stopped, its copy put back (head 1) and started;
#    PK-RS-4 is published and numbered 2 again.
# 3. Within two of its Welcomes the relay logs an error naming the stream,
#    its head and ours, and `certcast status` lists the stream under
#    upstream.behind.
# 4. PK-RS-5 and PK-RS-6 take the national head to 4, past the relay's 3:
#    the relay says so, upstream.behind empties, and PK-RS-6 reaches bank1.
# 5. PK-RS-4, the advisory lost at number 2, is published again as revision
#    2 and reaches bank1, as the error told the operator to do.
# 6. The same one level down: the banking relay's own stream. PK-RO-1 is
#    published at the relay, the relay's data copied, PK-RO-2 and PK-RO-3
#    follow; the relay is put back from its copy and PK-RO-4 is numbered 2
#    again: bank1 logs that the relay's stream went back.
source "$(dirname "$0")/lib.sh"
federation
start_national
start_relay banking
start_agent bank1 banking
NATIONAL="127.0.0.1:$NATIONAL_PORT"
RELAY="127.0.0.1:$BANKING_PORT"
# pub_as ISSUER HOST_PORT SERVER ID [options]: a banking advisory titled ID
pub_as () {
    local issuer=$1 to=$2 server=$3 id=$4; shift 4
    publish "$issuer" "$to" "$server" --title "$id" --severity low --tlp clear \
        --sector banking --id "$id" "$@" >/dev/null || fail "publish $id at $server"
}
pub () { pub_as natissuer "$NATIONAL" national "$@"; }
rpub () { pub_as bankissuer "$RELAY" relay-banking "$@"; }
behind () { json_number "$(broker_status "127.0.0.1:$BANKING_PORT" relay-banking bank1 \
              | sed 's/"behind":\[\]/"behind":0/; s/"behind":\["[^]]*"\]/"behind":1/')" behind; }

say "1. PK-RS-1, a copy, then PK-RS-2 and PK-RS-3"
pub PK-RS-1
wait_for 20 spooled bank1 PK-RS-1 || fail "PK-RS-1 not received"
stop national
cp -a "$T/national/data" "$T/national-copy"
restart national
pub PK-RS-2; pub PK-RS-3
wait_for 20 spooled bank1 PK-RS-3 || fail "PK-RS-3 not received"

say "2. the copy put back; PK-RS-4 is numbered 2 again"
stop national
rm -rf "$T/national/data" && cp -a "$T/national-copy" "$T/national/data"
restart national
out=$(publish natissuer "$NATIONAL" national --title four --severity low --tlp clear \
      --sector banking --id PK-RS-4) || fail "publish PK-RS-4"
echo "$out"
[[ $out == *"national/banking#2"* ]] || fail "the restored broker did not number PK-RS-4 2: $out"

say "3. the relay says so"
wait_for 20 log_has banking "national/banking is at 2, behind the 3 we hold" \
    || fail "the relay did not say its upstream went back"
[ "$(behind)" = 1 ] || fail "upstream.behind does not list the stream"
spooled bank1 PK-RS-4 && fail "PK-RS-4 reached bank1 at a number it held?"

say "4. past the relay's head: quiet again, and new advisories flow"
pub PK-RS-5; pub PK-RS-6
wait_for 20 spooled bank1 PK-RS-6 || fail "PK-RS-6 (number 4) did not reach bank1"
wait_for 20 log_has banking "national/banking is at 4 again" || fail "the relay did not say it is past"
wait_for 20 eval '[ "$(behind)" = 0 ]' || fail "upstream.behind still lists the stream"

say "5. the lost one, published again, arrives"
publish natissuer "$NATIONAL" national --title "four again" --severity low --tlp clear \
    --sector banking --id PK-RS-4 --revision 2 >/dev/null || fail "publish PK-RS-4 rev 2"
wait_for 20 spooled bank1 PK-RS-4 2 || fail "PK-RS-4 revision 2 did not reach bank1"

say "6. the relay's own stream, put back from a copy: the agent says so"
rpub PK-RO-1
wait_for 20 spooled bank1 PK-RO-1 || fail "PK-RO-1 not received"
stop banking
cp -a "$T/banking/data" "$T/banking-copy"
restart banking
rpub PK-RO-2; rpub PK-RO-3
wait_for 20 spooled bank1 PK-RO-3 || fail "PK-RO-3 not received"
stop banking
rm -rf "$T/banking/data" && cp -a "$T/banking-copy" "$T/banking/data"
restart banking
rpub PK-RO-4
wait_for 40 log_has bank1 "relay stream banking/banking is at 2, behind the 3 we hold" \
    || fail "bank1 did not say its relay's stream went back"
stop bank1; stop banking; stop national
say "ok"
