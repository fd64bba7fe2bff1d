#!/usr/bin/env bash
# What a relay can make the national broker hold of its rosters is bounded.
#
# Staged roster parts were bounded by 256 parts and 500,000 entries but
# not by bytes, and an entry could be up to 64 KiB: 40 parts of ~4 MB,
# never followed by the last part, took a national broker from 15 MB to
# 182 MB (about 1 GiB per relay key at 256 parts). As the banking relay's
# key (cc_probe roster-flood):
# 1. a part with one entry of 3,000 bytes is refused with the reason (an
#    entry may have 2,048; an honest one is under 600);
# 2. 40 parts of 1,900 entries of 2,000 bytes (~3.8 MB each), to a
#    national broker started with --roster-mb 64 (the default, 256, would
#    take all 40): the parts past the relay's 64 MiB are refused with the
#    reason (so the option is what bounds it), the staging is
#    dropped (roster_staged_bytes 0), and the broker's resident memory
#    grows by well under what 40 parts took (under 120 MB here; not
#    measured in the ASan build, whose quarantine and redzones hold more);
# 3. status counts both (roster_over_limit), and the banking relay's own
#    roster is still taken whole afterwards: bank1 and bank2 expected.
source "$(dirname "$0")/lib.sh"
federation
start_national --roster-mb 64
NATIONAL="127.0.0.1:$NATIONAL_PORT"
flood () {
    probe --to "$NATIONAL" --key "$T/keys/relay-banking.key" \
        --server-pub "$T/keys/national.pub" --timeout 10000 roster-flood "$@"
}
rss_kb () { awk '/^VmRSS/ { print $2 }' "/proc/${PIDS[national]}/status"; }
national_status () { broker_status "$NATIONAL" national natissuer; }

say "1. an entry over 2 KiB"
out=$(flood --parts 1 --fill 1 --entry-bytes 3000)
echo "$out"
[[ $out == "staged 0 parts, then error malformed: roster entry 0 of this part (key "*") is 30"*" bytes, over the 2048 a roster entry may have"* ]] \
    || fail "a 3,000-byte entry was not refused: $out"

say "2. 40 parts of ~3.8 MB that never complete"
before=$(rss_kb)
out=$(flood --parts 40 --fill 1900 --entry-bytes 2000)
echo "$out"
after=$(rss_kb)
echo "national VmRSS: $before kB before, $after kB after"
[[ $out == "staged 1"[0-9]" parts, then error malformed: roster over the 64 MiB a relay may have staged here"* ]] \
    || fail "the parts past 64 MiB were not refused: $out"
if ! ldd "$CC_BIN/certcast-broker" | grep -q libasan; then
    [ $((after - before)) -lt $((120 * 1024)) ] || fail "the national broker grew by $(( (after - before) / 1024 )) MB"
fi
status=$(national_status) || fail "national status"
echo "$status"
[ "$(json_number "$status" roster_over_limit)" -ge 2 ] || fail "roster_over_limit: $status"
[[ $status == *'"roster_staged_bytes":0,'* ]] || fail "the refused staging is still held: $status"
# Refusals are logged once per relay per 10 s: the first one is.
log_has national "over the 2048 a roster entry may have" || fail "the refusal is not in the national log"

say "3. the banking relay's own roster is still taken"
start_relay banking
publish natissuer "$NATIONAL" national --id FLOOD-1 --title "after the flood" \
    --severity low --tlp clear --sector banking >/dev/null || fail "publish FLOOD-1"
listed () {
    certcast compliance --data "$T/national/data" --advisory FLOOD-1 --format csv 2>/dev/null \
        | grep -c "^FLOOD-1," || true
}
listed_is () { [ "$(listed)" = "$1" ]; }
wait_for 20 listed_is 2 || fail "national lists $(listed) recipients for FLOOD-1, expected bank1 and bank2"
stop banking; stop national
say "ok"
