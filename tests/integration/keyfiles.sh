#!/usr/bin/env bash
# Key files and delegations, as an operator can get them wrong.
# The federation's keys (certcast keygen), no daemon yet.
# - keygen writes NAME.key 0600 and NAME.pub 0644.
# - A secret key file others may read (chmod 644, 604) is refused, one
#   line, exit 1, nothing written or started: certcast delegate --root,
#   certcast publish --key, certcast-broker --key and certcast-agent --key
#   (before, each used it: anyone on the host could have copied the key
#   and signed with it). At 0640 (a service group) it loads.
# - certcast delegate to a key that is not an issuer's (a relay's, an
#   agent's, a broker's, the root's own) is refused, one line, exit 1, no
#   delegation file (before, it was written: the relay's host could then
#   sign advisories its agents accept).
# - A daemon refuses a --trust that is not the root's public key: the
#   root's secret file (it stays offline) at a broker, the relay's .pub at
#   an agent (before, the one ran with the root's secret on an online
#   host, the other refused every genuine advisory, logged, for ever).
# - Then the same keys, put right, work: the national broker starts with
#   its key at 0640, and the national issuer's advisory is stored.
source "$(dirname "$0")/lib.sh"
federation

say "keygen: the secret is 0600, the public file 0644"
[ "$(stat -c %a "$T/keys/natissuer.key")" = 600 ] || fail "natissuer.key is not 0600"
[ "$(stat -c %a "$T/keys/natissuer.pub")" = 644 ] || fail "natissuer.pub is not 0644"

# refused WHAT COMMAND...: exit 1, one line on stderr naming WHAT, and
# neither $T/out (a delegation) nor $T/data (a daemon's directory) made.
# A daemon that starts instead is stopped after 10 s (exit 124: failed).
refused () {
    local what=$1 status; shift
    timeout 10 "$@" >/dev/null 2>"$T/refused.err"; status=$?
    echo "$(basename "$1") $2: exit $status: $(cat "$T/refused.err")"
    [ $status = 1 ] || fail "$* exited $status, not 1: $(cat "$T/refused.err")"
    [ "$(wc -l < "$T/refused.err")" = 1 ] || fail "$* gave not one line: $(cat "$T/refused.err")"
    grep -q -- "$what" "$T/refused.err" || fail "$* did not say '$what': $(cat "$T/refused.err")"
    [ ! -e "$T/out" ] || fail "$* wrote a delegation"
    [ ! -e "$T/data" ] || fail "$* created its data directory"
}

say "a secret key file others may read is refused"
OPEN="accessible to other users"
chmod 644 "$T/keys/root.key"
refused "$OPEN" "$CC_BIN/certcast" delegate --root "$T/keys/root.key" --sector banking \
    --out "$T/out" "$T/keys/bankissuer.pub"
chmod 604 "$T/keys/natissuer.key"
refused "$OPEN" "$CC_BIN/certcast" publish --to "127.0.0.1:$NATIONAL_PORT" \
    --server-pub "$T/keys/national.pub" --key "$T/keys/natissuer.key" \
    --delegation "$T/keys/natissuer.delegation" --title t --severity low --tlp clear \
    --sector banking --timeout 2s
chmod 644 "$T/keys/national.key"
refused "$OPEN" "$CC_BIN/certcast-broker" --listen "127.0.0.1:$NATIONAL_PORT" \
    --data "$T/data" --key "$T/keys/national.key" --trust "$T/keys/root.pub" \
    --allow "$T/national/allow"
chmod 644 "$T/keys/bank1.key"
refused "$OPEN" "$CC_BIN/certcast-agent" --relay "127.0.0.1:$BANKING_PORT" \
    --relay-pub "$T/keys/relay-banking.pub" --data "$T/data" --key "$T/keys/bank1.key" \
    --trust "$T/keys/root.pub"
chmod 600 "$T/keys/root.key" "$T/keys/natissuer.key" "$T/keys/bank1.key"
chmod 640 "$T/keys/national.key"

say "a delegation only for an issuer's key"
for key in relay-banking bank1 national root; do
    refused "not an issuer's" "$CC_BIN/certcast" delegate --root "$T/keys/root.key" \
        --sector banking --out "$T/out" "$T/keys/$key.pub"
done
certcast delegate --root "$T/keys/root.key" --sector banking --out "$T/out" \
    "$T/keys/bankissuer.pub" >/dev/null || fail "delegate to the banking issuer"
rm -f "$T/out"

say "only the root's public key is pinned"
refused "keep root.key offline" "$CC_BIN/certcast-broker" --listen "127.0.0.1:$NATIONAL_PORT" \
    --data "$T/data" --key "$T/keys/national.key" --trust "$T/keys/root.key" \
    --allow "$T/national/allow"
refused "role is relay" "$CC_BIN/certcast-agent" --relay "127.0.0.1:$BANKING_PORT" \
    --relay-pub "$T/keys/relay-banking.pub" --data "$T/data" --key "$T/keys/bank1.key" \
    --trust "$T/keys/relay-banking.pub"

say "put right, the same keys work"
start_national
out=$(publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id PK-KEYS-1 \
      --title "Keys in order" --severity low --tlp clear --sector banking) \
    || fail "publish with the key back at 0600: exit $?"
[[ $out == "stored PK-KEYS-1 rev 1: national/banking#1" ]] || fail "publish: $out"
stop national
say "ok"
