#!/usr/bin/env bash
# An enrolled key must not run a broker out of memory with tiny requests.
# A Fetch reply (up to 2 MiB) is encoded and queued at once, whether or
# not the client reads it: 1,500 fetches of 30 bytes from one key that
# never read took a broker from 17 MB to 3.2 GB. Each client now has a
# share of fetch replies (a burst of 64 MiB, then 32 MiB a second); a
# fetch over it is refused "busy" and the client asks again later.
# A national broker holds 12 banking advisories of ~200 KB. The banking
# relay's key (enrolled there, allowed to read national/banking) sends
# 1,500 fetches of the whole stream at once and reads nothing for 3 s.
# Pass: some fetches are answered with deliveries (the share serves an
# honest catch-up) and the rest are refused busy, counted in status
# (refused.busy); the broker's peak RSS stays under 768 MB (83 MB here;
# the ASan build keeps freed memory in quarantine: 296 MB); it still
# answers a publish, and a real relay and agent catch up on all 13
# advisories afterwards (the relay key's share refills).
# Then acks: the banking relay's key sends 20 requests at once, each 4,096
# copies of bank1's valid ack (every copy a full signature check). Only
# one client's 4,096 acks are checked at a time; the rest are refused busy
# at once (before, all 81,920 checks were queued and every other client
# waited behind them). Pass: at least one answered acked, at least 10
# busy, none refused otherwise; a publish right after is stored.
# And one request of 4,096 copies of a forged ack: refused bad-signature,
# and the checks stop at the first failure: the national broker's
# ack_checks grows by far fewer than 4,096 (before, every copy was
# checked).
source "$(dirname "$0")/lib.sh"
federation
start_national

head -c 150000 /dev/urandom | base64 -w 100 > "$T/body.txt"
for index in $(seq 1 12); do
    publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id "PK-FF-$index" --title "big $index" \
        --severity low --tlp clear --sector banking --body-file "$T/body.txt" >/dev/null \
        || fail "publish PK-FF-$index"
done

out=$(probe --to "127.0.0.1:$NATIONAL_PORT" --server-pub "$T/keys/national.pub" \
      --key "$T/keys/relay-banking.key" --timeout 3000 \
      fetch-flood --topic national/banking --copies 1500) || fail "fetch-flood: $out"
say "$out"
read -r _ deliveries _ busy <<<"$out"
[ "$deliveries" -ge 1 ] || fail "no fetch was answered: $out"
[ "$busy" -ge 1 ] || fail "no fetch was refused busy: $out"
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/${PIDS[national]}/status")
say "national broker peak RSS ${hwm} KiB"
[ "$hwm" -lt $((768 * 1024)) ] || fail "the broker's peak RSS was $hwm KiB"
status=$(broker_status "127.0.0.1:$NATIONAL_PORT" national natissuer) || fail "no status"
[[ $status =~ \"busy\":([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge "$busy" ] \
    || fail "status does not count the busy refusals: $status"

out=$(probe --to "127.0.0.1:$NATIONAL_PORT" --server-pub "$T/keys/national.pub" \
      --key "$T/keys/relay-banking.key" --timeout 60000 ack-as --sign-key "$T/keys/bank1.key" \
      --id PK-FF-1 --revision 1 --copies 4096 --requests 20) || fail "ack flood: $out"
say "ack flood: $out"
read -r _ acked _ busy _ other <<<"$out"
[ "$acked" -ge 1 ] && [ "$busy" -ge 10 ] && [ "$other" = 0 ] \
    || fail "20 requests of 4,096 acks from one key: $out (want >= 1 acked, >= 10 busy, 0 other)"
checks () { json_number "$(broker_status "127.0.0.1:$NATIONAL_PORT" national natissuer)" ack_checks; }
before=$(checks)
rc=0
out=$(probe --to "127.0.0.1:$NATIONAL_PORT" --server-pub "$T/keys/national.pub" \
      --key "$T/keys/relay-banking.key" --timeout 30000 ack-as --sign-key "$T/keys/bank1.key" \
      --id PK-FF-1 --revision 1 --copies 4096 --forge yes) || rc=$?
[ $rc = 1 ] && [[ $out == "error bad-signature:"* ]] || fail "4,096 forged acks: exit $rc: $out"
checked=$(( $(checks) - before ))
say "4,096 forged acks in one request: $checked checked"
[ "$checked" -ge 1 ] && [ "$checked" -le 1024 ] || fail "$checked of 4,096 forged acks were checked"
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id PK-FF-13 --title "after" \
    --severity low --tlp clear --sector banking >/dev/null || fail "publish after the flood"
start_relay banking
start_agent bank1 banking
wait_for 30 spooled bank1 PK-FF-13 || fail "bank1 did not catch up"
[ "$(spool_count bank1)" = 13 ] || fail "bank1 has $(spool_count bank1) advisories, expected 13"
stop bank1; stop banking; stop national
say "ok"
