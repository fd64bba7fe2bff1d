#!/usr/bin/env bash
# Storage failures at the national broker: a full disk and a small map.
#
# (a) Disk full. The national broker's data directory is a tmpfs of 8 MiB
#     that this test mounts (root only; otherwise SKIP). A banking relay and
#     agents bank1 and bank2 follow it. Two advisories are stored and
#     delivered, then a filler file takes all but ~1 MiB of the tmpfs and
#     the national issuer publishes banking advisories with 200 KiB bodies
#     until the broker cannot commit. Pass:
#     - the refused publish exits 1 with "storage" in its one-line reason,
#       and every publish before it exited 0;
#     - the broker is alive after every refusal, still answers status
#       (commit_failures > 0), and certcast ledger and compliance still
#       read its data directory;
#     - the relay and both agents hold every advisory stored before the
#       refusal (relay head = national head, spools complete) and the
#       refused id is nowhere: not in the national or relay store, not in
#       any spool;
#     - once the filler is removed, publishing the refused id again exits
#       0, it reaches both agents and their acks reach the national ledger;
#     - the relay's own advisory DF-RELAY-1, published at the relay while
#       the national disk is full, is refused upstream for storage and
#       reaches the national store once space is back (reported again).
# (b) Small map. A second national broker starts with --map-size 1 (1 MiB)
#     and an agent (bank1, enrolled there directly) follows it. 30
#     advisories with 200 KiB bodies must all be stored (exit 0: a batch
#     that hits MDB_MAP_FULL is retried after the map doubles); status
#     shows map_growths > 0 and map_size > 1 MiB, and the agent receives
#     all 30.
# Every daemon stops with exit 0 and no sanitizer report.
source "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: diskfull.sh mounts a tmpfs and must run as root"
    exit 0
fi
STARTED=$(date +%s)
BIG=200                 # KiB of body per big advisory
NATIONAL_DATA=$T/national/data

# big_body FILE: ~200 KiB of incompressible printable text.
big_body () { head -c $((BIG * 3 / 4 * 1024)) /dev/urandom | base64 -w 76 > "$1"; }

# store_has DATA_DIR ID: the advisory id is a key of that store's advisories.
store_has () {
    mdb_dump -p -s advisories "$1" 2>/dev/null | grep -q -- "^ $2\$"
}

status_of () { broker_status "$1" "$2" "$3" 2>/dev/null; }
heads_equal () {
    local national relay
    national=$(status_of "127.0.0.1:$NATIONAL_PORT" national natissuer) || return 1
    relay=$(status_of "127.0.0.1:$BANKING_PORT" relay-banking bankissuer) || return 1
    [ "$(json_number "$national" national/banking)" -gt 0 ] &&
    [ "$(json_number "$national" national/banking)" = "$(json_number "$relay" national/banking)" ]
}

federation
mount_tmpfs "$NATIONAL_DATA" 8m || fail "cannot mount a tmpfs on $NATIONAL_DATA"
say "(a) national data directory on an 8 MiB tmpfs"
start_national
start_relay banking
start_agent bank1 banking
start_agent bank2 banking

big_body "$T/body.md"
STORED=()
pub () {
    publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id "$1" \
        --title "disk full test $1" --severity medium --tlp green \
        --sector banking "${@:2}"
}
pub DF-BEFORE-1 >/dev/null || fail "publish DF-BEFORE-1"
STORED+=(DF-BEFORE-1)
pub DF-BEFORE-2 --body-file "$T/body.md" >/dev/null || fail "publish DF-BEFORE-2"
STORED+=(DF-BEFORE-2)
for agent in bank1 bank2; do
    for id in "${STORED[@]}"; do
        wait_for 20 spooled $agent "$id" || fail "$agent did not receive $id"
        wait_for 20 ledger_has "$NATIONAL_DATA" "$id" $agent || fail "no national ack from $agent for $id"
    done
done

say "fill the tmpfs, leaving ~1 MiB"
dd if=/dev/zero of="$NATIONAL_DATA/filler" bs=64k status=none 2>/dev/null || true   # ends at ENOSPC
filled=$(stat -c %s "$NATIONAL_DATA/filler")
truncate -s $((filled - 1024 * 1024)) "$NATIONAL_DATA/filler" || fail "truncate filler"
df -k "$NATIONAL_DATA" | tail -1 | awk '{ print "# tmpfs: " $4 " KiB free" }'

REFUSED=
refusals=0
for index in $(seq 1 20); do
    id=DF-FULL-$index
    if pub "$id" --body-file "$T/body.md" >"$T/pub.out" 2>"$T/pub.err"; then
        STORED+=("$id")
    else
        status=$?
        [ $status = 1 ] || fail "publish $id exited $status, expected 1"
        [ "$(wc -l < "$T/pub.err")" = 1 ] || fail "publish $id: stderr is not one line: $(cat "$T/pub.err")"
        grep -q storage "$T/pub.err" || fail "publish $id: reason lacks 'storage': $(cat "$T/pub.err")"
        say "refused $id: $(cat "$T/pub.err")"
        REFUSED=$id
        refusals=$((refusals + 1))
        break
    fi
    alive national || fail "national broker died after publishing $id"
done
[ -n "$REFUSED" ] || fail "20 big advisories fitted in a full tmpfs: no refusal"
alive national || fail "national broker died after the refusal"
# Once more, with a second id: still refused, still alive.
pub DF-FULL-AGAIN --body-file "$T/body.md" >/dev/null 2>"$T/pub.err" && fail "DF-FULL-AGAIN stored on a full disk"
grep -q storage "$T/pub.err" || fail "DF-FULL-AGAIN: reason lacks 'storage': $(cat "$T/pub.err")"
refusals=$((refusals + 1))
alive national || fail "national broker died after the second refusal"
log_has national "commit failed" || fail "national log has no 'commit failed' line"

# The banking relay's own advisory, reported upstream while the national
# disk is full: refused for storage, so the relay must keep it and report
# it again, not give up on it.
publish bankissuer "127.0.0.1:$BANKING_PORT" relay-banking --id DF-RELAY-1 \
    --title "sector advisory while national is full" --severity low --tlp green \
    --sector banking --body-file "$T/body.md" >/dev/null || fail "relay publish DF-RELAY-1"
wait_for 20 log_has banking "refused request .*storage" \
    || fail "the relay's report of DF-RELAY-1 was not refused for storage"
store_has "$NATIONAL_DATA" DF-RELAY-1 && fail "DF-RELAY-1 in the national store on a full disk"

say "the broker still serves what it has"
json=$(status_of "127.0.0.1:$NATIONAL_PORT" national natissuer) || fail "status does not answer on a full disk"
failures=$(json_number "$json" commit_failures)
[ "$failures" -gt 0 ] || fail "status shows no commit failures: $json"
certcast ledger --data "$NATIONAL_DATA" >/dev/null || fail "ledger does not read on a full disk"
certcast compliance --data "$NATIONAL_DATA" --format csv > "$T/compliance.csv" || fail "compliance does not read on a full disk"
grep -q '^DF-BEFORE-1,' "$T/compliance.csv" || fail "compliance lacks DF-BEFORE-1"
wait_for 20 heads_equal || fail "relay head differs from national head"
for agent in bank1 bank2; do
    for id in "${STORED[@]}"; do
        wait_for 20 spooled $agent "$id" || fail "$agent lacks stored $id"
    done
done
for id in "$REFUSED" DF-FULL-AGAIN; do
    for agent in bank1 bank2; do
        spooled $agent "$id" && fail "$agent received refused $id"
    done
    store_has "$NATIONAL_DATA" "$id" && fail "refused $id is in the national store"
    store_has "$T/banking/data" "$id" && fail "refused $id is in the relay store"
done
store_has "$NATIONAL_DATA" DF-BEFORE-1 || fail "store_has cannot see DF-BEFORE-1 (check broken)"
alive national || fail "national broker died while serving reads"
size_full=$(stat -c %s "$NATIONAL_DATA/data.mdb")

say "space is back"
rm -f "$NATIONAL_DATA/filler"
wait_for 20 store_has "$NATIONAL_DATA" DF-RELAY-1 \
    || fail "the relay's report of DF-RELAY-1 never reached the national store"
say "the relay's report refused while full reached the national store once space was back"
pub "$REFUSED" --body-file "$T/body.md" >/dev/null || fail "publish $REFUSED after space came back"
STORED+=("$REFUSED")
for agent in bank1 bank2; do
    for id in "${STORED[@]}"; do
        wait_for 20 spooled $agent "$id" || fail "$agent lacks $id after recovery"
        wait_for 20 ledger_has "$NATIONAL_DATA" "$id" $agent || fail "no national ack from $agent for $id"
    done
done
json=$(status_of "127.0.0.1:$NATIONAL_PORT" national natissuer) || fail "status after recovery"
published=$(json_number "$json" published)
[ "$published" = ${#STORED[@]} ] || fail "national published $published, expected ${#STORED[@]}"
stop bank2; stop bank1; stop banking; stop national
size_after=$(stat -c %s "$NATIONAL_DATA/data.mdb")
say "(a) stored ${#STORED[@]}, refused $refusals (commit failures $failures), data.mdb $size_full bytes when full, $size_after after"

say "(b) a 1 MiB map that must grow"
SMALL_PORT=$(free_port)
while [ "$SMALL_PORT" = "$BANKING_PORT" ]; do SMALL_PORT=$(free_port); done
mkdir -p "$T/small/allow" "$T/agents/small1/spool"
cp "$T/keys/natissuer.pub" "$T/keys/bank1.pub" "$T/small/allow/"
start_daemon small "$CC_BIN/certcast-broker" --listen "127.0.0.1:$SMALL_PORT" \
    --data "$T/small/data" --key "$T/keys/national.key" --trust "$T/keys/root.pub" \
    --allow "$T/small/allow" --heartbeat $HEARTBEAT --map-size 1
start_daemon small1 "$CC_BIN/certcast-agent" --relay "127.0.0.1:$SMALL_PORT" \
    --relay-pub "$T/keys/national.pub" --data "$T/agents/small1/data" \
    --key "$T/keys/bank1.key" --trust "$T/keys/root.pub" \
    --spool "$T/agents/small1/spool" --heartbeat $HEARTBEAT
COUNT=30
for index in $(seq 1 $COUNT); do
    publish natissuer "127.0.0.1:$SMALL_PORT" national --id "MAP-$index" \
        --title "map growth $index" --severity low --tlp clear --sector banking \
        --body-file "$T/body.md" >/dev/null 2>"$T/pub.err" \
        || fail "publish MAP-$index to a small map: $(cat "$T/pub.err")"
done
json=$(status_of "127.0.0.1:$SMALL_PORT" national natissuer) || fail "status of the small broker"
growths=$(json_number "$json" map_growths)
map_size=$(json_number "$json" map_size)
[ "$growths" -gt 0 ] || fail "map never grew: $json"
[ "$map_size" -gt 1048576 ] || fail "map_size $map_size is not above 1 MiB"
[ "$(json_number "$json" commit_failures)" = 0 ] || fail "commit failures with a growing map: $json"
for index in $(seq 1 $COUNT); do
    wait_for 20 spooled small1 "MAP-$index" || fail "small1 did not receive MAP-$index"
done
wait_for 20 ledger_rows_at_least "$T/small/data" "MAP-$COUNT" 1 || fail "no ack for MAP-$COUNT"
stop small1; stop small
say "(b) published $COUNT x $BIG KiB, map grew $growths time(s) to $((map_size / 1048576)) MiB, $(grep -c 'map full, grown' "$T/small.log") growth line(s) in the log"
say "ok in $(( $(date +%s) - STARTED )) s"
