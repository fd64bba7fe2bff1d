#!/usr/bin/env bash
# Sector filtering is an access decision on the stream port too, not only
# on the control channel. At the national broker, while advisories for
# banking and telecom are published:
# - the telecom relay's key subscribed to national/telecom hears it (the
#   control: the probe works);
# - the banking relay's key subscribed to national/telecom, or to "" (all
#   topics), or to "national/" hears nothing: a subscription is applied
#   only for an exact stream of a sector the key may read (before, any
#   enrolled key heard every sector's stream, TLP:AMBER and RED included);
# - the national issuer's key (issuers publish, they read no stream) hears
#   nothing of national/banking;
# - the broker logs the refusal and counts it (refused_total).
# The relays and agents still receive what they should.
# - At the banking relay, bank2's key (its agent not running) listens to
#   national/banking; its .pub is removed from the allow directory: the
#   relay makes its stream socket anew (stream_reopens 1), so the removed
#   key, refused at reconnection, hears nothing published after that, while
#   bank1 (reconnected) receives it. Before, a removed key kept the stream
#   connection it had, and everything on it.
# - `certcast status` shows a key the heads only of the streams it may
#   read: the banking relay's key at the national broker sees
#   national/banking, not national/telecom (how many advisories a sector
#   had, and when); the national issuer's key (all sectors) sees both, the
#   banking issuer's only national/banking.
source "$(dirname "$0")/lib.sh"
federation
start_national
start_relay banking
start_relay telecom
start_agent bank1 banking
start_agent tel1 telecom
NATIONAL="127.0.0.1:$NATIONAL_PORT"

# listen NAME KEY TOPIC: cc_probe subscribe at the national broker for 3 s,
# in the background, output in $T/listen-NAME.out
LISTENERS=()
listen () {
    "$CC_BIN/cc_probe" --to "$NATIONAL" --key "$T/keys/$2.key" \
        --server-pub "$T/keys/national.pub" --timeout 3000 subscribe --topic "$3" \
        >"$T/listen-$1.out" 2>&1 &
    LISTENERS+=($!)
}
listen control relay-telecom national/telecom
listen other relay-banking national/telecom
listen all relay-banking ""
listen prefix relay-banking national/
listen issuer natissuer national/banking
sleep 1
n=0
for sector in banking telecom banking telecom; do
    n=$((n + 1))
    publish natissuer "$NATIONAL" national --id "PK-SA-$n" --title "$sector $n" \
        --severity high --tlp amber --sector $sector >/dev/null || fail "publish PK-SA-$n"
done
wait "${LISTENERS[@]}"
for name in control other all prefix issuer; do echo "$name: $(tr '\n' ' ' < "$T/listen-$name.out")"; done
grep -q "^got national/telecom$" "$T/listen-control.out" || fail "the telecom relay's key heard nothing of its own stream"
for name in other all prefix issuer; do
    [ "$(cat "$T/listen-$name.out")" = nothing ] || fail "$name heard what it may not: $(cat "$T/listen-$name.out")"
done
log_has national "may not subscribe to" || fail "the refusal is not logged"
[ "$(json_number "$(broker_status "$NATIONAL" national natissuer)" refused_total)" -ge 4 ] \
    || fail "the refusals are not counted"

say "the federation still delivers"
wait_for 20 spooled bank1 PK-SA-3 || fail "bank1 did not receive PK-SA-3"
wait_for 20 spooled tel1 PK-SA-4 || fail "tel1 did not receive PK-SA-4"
spooled bank1 PK-SA-2 && fail "bank1 received a telecom advisory"

say "a key removed from the allow directory loses the stream it had"
# bank2's key (its agent is not running) listens at the banking relay; its
# .pub is removed; what is published after that must not reach it.
"$CC_BIN/cc_probe" --to "127.0.0.1:$BANKING_PORT" --key "$T/keys/bank2.key" \
    --server-pub "$T/keys/relay-banking.pub" --timeout 15000 subscribe \
    --topic national/banking >"$T/listen-removed.out" 2>&1 &
removed_probe=$!
sleep 1
rm "$T/banking/allow/bank2.pub"
wait_for 20 log_has banking "stream socket reopened" || fail "the relay did not reopen its stream socket"
publish natissuer "$NATIONAL" national --id PK-SA-5 --title "after removal" \
    --severity high --tlp amber --sector banking >/dev/null || fail "publish PK-SA-5"
wait_for 20 spooled bank1 PK-SA-5 || fail "bank1 did not receive PK-SA-5 after the stream reopened"
wait $removed_probe
echo "removed: $(cat "$T/listen-removed.out")"
[ "$(cat "$T/listen-removed.out")" = nothing ] \
    || fail "a removed key still heard the stream: $(cat "$T/listen-removed.out")"
[ "$(json_number "$(broker_status "127.0.0.1:$BANKING_PORT" relay-banking bank1)" stream_reopens)" = 1 ] \
    || fail "stream_reopens is not 1"
status=$(broker_status "$NATIONAL" national relay-banking) || fail "status as relay-banking"
[[ $status == *'"national/banking":'* ]] || fail "relay-banking does not see national/banking: $status"
[[ $status == *'"national/telecom":'* ]] && fail "relay-banking sees the head of national/telecom: $status"
status=$(broker_status "$NATIONAL" national natissuer) || fail "status as natissuer"
[[ $status == *'"national/banking":'* && $status == *'"national/telecom":'* ]] \
    || fail "the national issuer does not see both heads: $status"
status=$(broker_status "$NATIONAL" national bankissuer) || fail "status as bankissuer"
[[ $status == *'"national/banking":'* ]] || fail "bankissuer does not see national/banking: $status"
[[ $status == *'"national/telecom":'* ]] && fail "bankissuer sees the head of national/telecom: $status"
stop tel1; stop bank1; stop telecom; stop banking; stop national
say "ok"
