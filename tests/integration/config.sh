#!/usr/bin/env bash
# Start-up, options and ZPL config files.
# - With no options the national broker starts on 127.0.0.1:7400 (or, if
#   that port is taken on this host, with only --listen changed), creates
#   its data directory, keys, a national issuer with an all-sector
#   delegation and an allow directory enrolling it; that issuer can publish
#   at once, and its key names all sectors, so `certcast status` shows it
#   every stream; a restart keeps the same keys.
# - A broker, a relay and an agent started with nothing but -c FILE (ZPL)
#   work together; a command-line option overrides the file; with -v the
#   broker and relay log each request and subscription.
# - The example configs in deploy/examples parse; every program answers
#   --help with exit 0, an unknown option with exit 2, a missing required
#   option with exit 2 and a bad key file with exit 1.
# - Refused with one line and nothing created: a sector listed twice, no
#   sector, two sectors one the start of the other, an upper-case sector,
#   a --name with '/' or empty (the broker's), an upper-case --name with
#   '/' (the agent's), an option or -c given twice, two bad numbers (one
#   line, the first), a bad endpoint (named with its value), -v to a
#   certcast sub-command (only the daemons log), a config file that is
#   not ZPL (one line in all, with czmq's reason; so is a junk data.mdb
#   under `certcast compliance`), a config file without the program's
#   section (exit 1, and no broker on defaults), a flag in a file that is
#   neither yes nor no (exit 1); a delegation signed with a key that is
#   not the root's (exit 1, no file); a delegate --id-prefix 'PK!'
#   (exit 2, the line names the characters allowed); a status --timeout
#   of 2d (exit 2, "at most 1d"); an agent whose --spool is a file
#   (exit 1, and its --data not created); a publish --id of 121
#   characters (exit 2: no broker opens it); a flag that says "no" in a
#   file is off.
# - An advisory for all of 18 sectors is placed in all 18 streams.
source "$(dirname "$0")/lib.sh"
EXAMPLES="$(cd "$(dirname "$0")/../../deploy/examples" && pwd)"

say "no options: first start creates keys and an issuer"
mkdir -p "$T/default" && cd "$T/default"
if ss -ltnH "( sport = :7400 or sport = :7401 )" | grep -q .; then
    port=$(free_port); args=(--listen "127.0.0.1:$port")
else
    port=7400; args=()
fi
start_daemon default "$CC_BIN/certcast-broker" "${args[@]}"
for file in keys/root.key keys/root.pub keys/broker.key keys/broker.pub \
            keys/national-issuer.key keys/national-issuer.delegation \
            allow/national-issuer.pub data.mdb; do
    [ -f "certcast-data/$file" ] || fail "first start did not create certcast-data/$file"
done
[ "$(stat -c %a certcast-data/keys/root.key)" = 600 ] || fail "root.key is not mode 600"
certcast publish --to "127.0.0.1:$port" --server-pub certcast-data/keys/broker.pub \
    --key certcast-data/keys/national-issuer.key \
    --delegation certcast-data/keys/national-issuer.delegation \
    --title "first" --severity info --tlp clear --sector all || fail "default issuer cannot publish"
# Its key names all sectors, as its delegation does, so status shows it
# every stream (before, none: the key named no sector).
heads=$(certcast status --to "127.0.0.1:$port" --server-pub certcast-data/keys/broker.pub \
    --key certcast-data/keys/national-issuer.key) || fail "default issuer cannot ask for status"
[[ $heads == *'"national/defense":1'* && $heads == *'"national/public":1'* ]] \
    || fail "status shows the default issuer not every stream: $heads"
before=$(sha256sum certcast-data/keys/broker.pub)
stop default
restart default
[ "$before" = "$(sha256sum certcast-data/keys/broker.pub)" ] || fail "restart replaced the broker key"
stop default
cd "$T"

say "ZPL files only"
federation
cat > "$T/national.cfg" <<CFG
broker
    listen = "127.0.0.1:$NATIONAL_PORT"
    data = "$T/national/data"
    key = "$T/keys/national.key"
    trust = "$T/keys/root.pub"
    allow = "$T/national/allow"
    heartbeat = 60000
CFG
cat > "$T/relay.cfg" <<CFG
relay
    sector = "banking"
    upstream = "127.0.0.1:$NATIONAL_PORT"
    upstream-pub = "$T/keys/national.pub"
    listen = "127.0.0.1:$BANKING_PORT"
    data = "$T/banking/data"
    key = "$T/keys/relay-banking.key"
    trust = "$T/keys/root.pub"
    allow = "$T/banking/allow"
    heartbeat = 500
CFG
mkdir -p "$T/agents/bank1/spool"
cat > "$T/agent.cfg" <<CFG
agent
    relay = "127.0.0.1:$BANKING_PORT"
    relay-pub = "$T/keys/relay-banking.pub"
    data = "$T/agents/bank1/data"
    key = "$T/keys/bank1.key"
    trust = "$T/keys/root.pub"
    spool = "$T/agents/bank1/spool"
    heartbeat = 500
CFG
# The command line wins over the file: heartbeat 60000 -> 500.
start_daemon national "$CC_BIN/certcast-broker" -c "$T/national.cfg" --heartbeat 500 -v
start_daemon banking "$CC_BIN/certcast-relay" -c "$T/relay.cfg" --verbose
start_daemon bank1 "$CC_BIN/certcast-agent" -c "$T/agent.cfg"
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id CFG-1 --title "from config" \
    --severity low --tlp clear --sector banking || fail "publish CFG-1"
wait_for 20 spooled bank1 CFG-1 || fail "agent configured by file did not receive CFG-1"
wait_for 20 ledger_has "$T/national/data" CFG-1 bank1 || fail "no ack for CFG-1"
# A 500 ms heartbeat is heard; with the file's 60 s the relay would
# declare its upstream silent.
sleep 3
! grep -q "silent" "$T/banking.log" || fail "the command line did not override the file's heartbeat"
# -v: each request and subscription at debug level.
grep -q "hello from bank1 (agent)" "$T/banking.log" || fail "relay -v did not log bank1's hello"
grep -q "subscribe national/banking by relay-banking" "$T/national.log" \
    || fail "broker -v did not log the relay's subscription"
grep -q "ack(s) from relay-banking (relay)" "$T/national.log" || fail "broker -v did not log acks"
stop bank1; stop banking; stop national

say "example configs parse, --help, usage errors"
"$CC_BIN/certcast-broker" -c "$EXAMPLES/national.cfg" --help >/dev/null || fail "national.cfg"
"$CC_BIN/certcast-relay" -c "$EXAMPLES/relay-banking.cfg" --help >/dev/null || fail "relay-banking.cfg"
"$CC_BIN/certcast-agent" -c "$EXAMPLES/agent.cfg" --help >/dev/null || fail "agent.cfg"
for program in certcast-broker certcast-relay certcast-agent certcast; do
    "$CC_BIN/$program" --help >/dev/null || fail "$program --help"
    "$CC_BIN/$program" --no-such-option >/dev/null 2>&1; status=$?
    [ $status = 2 ] || fail "$program --no-such-option exited $status, not 2"
done
for command in keygen delegate publish status ledger compliance; do
    "$CC_BIN/certcast" $command --help >/dev/null || fail "certcast $command --help"
done
"$CC_BIN/certcast-relay" --sector banking >/dev/null 2>&1; status=$?
[ $status = 2 ] || fail "relay without --upstream exited $status, not 2"
"$CC_BIN/certcast-broker" --listen "127.0.0.1:$(free_port)" --data "$T/bad" \
    --key /nonexistent.key --trust "$T/keys/root.pub" --allow "$T/national/allow" 2>"$T/bad.err"; status=$?
[ $status = 1 ] || fail "a missing key file exited $status, not 1"
[ "$(wc -l < "$T/bad.err")" = 1 ] || fail "a missing key file gave more than one line: $(cat "$T/bad.err")"

say "bad names, sectors, options and files: exit 2 (1 for a file), one line, nothing created"
# refused COMMAND...: exits with the status given first, prints one line,
# and leaves no $T/refused behind.
refused () {
    local want=$1; shift
    "$@" >/dev/null 2>"$T/refused.err"; local status=$?
    [ $status = "$want" ] || fail "$* exited $status, not $want: $(cat "$T/refused.err")"
    [ "$(wc -l < "$T/refused.err")" = 1 ] || fail "$* gave not one line: $(cat "$T/refused.err")"
    [ ! -e "$T/refused" ] || fail "$* created its data directory before refusing"
    cat "$T/refused.err"
}
BROKER=("$CC_BIN/certcast-broker" --data "$T/refused" --key "$T/keys/national.key"
        --trust "$T/keys/root.pub" --allow "$T/national/allow")
refused 2 "${BROKER[@]}" --sectors banking,telecom,banking
refused 2 "${BROKER[@]}" --sectors ,
refused 2 "${BROKER[@]}" --sectors power,banking,power-grid
refused 2 "${BROKER[@]}" --sectors Banking
refused 2 "${BROKER[@]}" --name ncert/pk
refused 2 "${BROKER[@]}" --name ""
# The agent's --name follows the same rule (it used to start under any
# name: bounded, so the old agent fails here rather than runs on).
refused 2 timeout 10 "$CC_BIN/certcast-agent" --relay "127.0.0.1:$BANKING_PORT" \
    --relay-pub "$T/keys/relay-banking.pub" --data "$T/refused" --key "$T/keys/bank1.key" \
    --trust "$T/keys/root.pub" --name "Bad/NAME"
refused 2 "${BROKER[@]}" --heartbeat 1000 --heartbeat 2000
refused 2 "${BROKER[@]}" --heartbeat x --map-size y
refused 2 "${BROKER[@]}" --listen 127.0.0.1:abc
refused 2 "$CC_BIN/certcast" ledger -v --data "$T/refused"
refused 2 "$CC_BIN/certcast-relay" --sector banking --sector banking \
    --upstream "127.0.0.1:$NATIONAL_PORT" --upstream-pub "$T/keys/national.pub" \
    --listen "127.0.0.1:$(free_port)" --data "$T/refused" --key "$T/keys/relay-banking.key" \
    --trust "$T/keys/root.pub" --allow "$T/banking/allow"
printf 'borker\n    data = "%s"\n' "$T/refused" > "$T/misspelt.cfg"
mkdir -p "$T/cwd" && cd "$T/cwd"
refused 1 "$CC_BIN/certcast-broker" -c "$T/misspelt.cfg"
[ ! -e certcast-data ] || fail "a file without a broker section started a broker on defaults"
cd "$T"
refused 2 "$CC_BIN/certcast-broker" -c "$T/national.cfg" -c "$T/relay.cfg"
# A file that is not ZPL: one line in all, czmq's reason in it.
printf 'broker\n        data = "x"\n    bad\n' > "$T/malformed.cfg"
out=$("$CC_BIN/certcast-broker" -c "$T/malformed.cfg" 2>&1); status=$?
echo "$out"
[ $status = 1 ] || fail "a malformed config file exited $status, not 1"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "a malformed config file gave more than one line: $out"
[[ $out == *"malformed.cfg: "*"indentation"* ]] || fail "the line does not say what is wrong: $out"
# A data directory whose data.mdb is not LMDB: one line in all, with why.
mkdir -p "$T/junk" && head -c 20000 /dev/urandom > "$T/junk/data.mdb"
out=$("$CC_BIN/certcast" compliance --data "$T/junk" 2>&1); status=$?
echo "$out"
[ $status = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && [[ $out == *"not an LMDB file"* ]] \
    || fail "compliance on a junk data.mdb: exit $status: $out"
printf 'certcast\n    keygen\n        cii = "no"\n' > "$T/keygen-no.cfg"
certcast keygen -c "$T/keygen-no.cfg" --dir "$T/refused-keys" --role agent --sector banking \
    nocii >/dev/null || fail "keygen with cii = no in its file"
! grep -q 'cii = "yes"' "$T/refused-keys/nocii.pub" || fail "cii = \"no\" in a file turned the flag on"
printf 'certcast\n    keygen\n        cii = "perhaps"\n' > "$T/keygen-bad.cfg"
rm -rf "$T/refused-keys"
refused 1 "$CC_BIN/certcast" keygen -c "$T/keygen-bad.cfg" --dir "$T/refused" --role agent \
    --sector banking nocii
refused 1 "$CC_BIN/certcast" delegate --root "$T/keys/national.key" --sector banking \
    --out "$T/refused" "$T/keys/natissuer.pub"
# The line names the characters an id prefix may hold (before, it said
# "printable characters without spaces", and 'PK!' is both).
refused 2 "$CC_BIN/certcast" delegate --root "$T/keys/root.key" --sector banking \
    --id-prefix 'PK!' --out "$T/refused" "$T/keys/natissuer.pub"
grep -q "only letters, digits" "$T/refused.err" || fail "--id-prefix error: $(cat "$T/refused.err")"
# A --timeout over 1d is refused saying so (before, "must be a duration").
refused 2 "$CC_BIN/certcast" status --to "127.0.0.1:$NATIONAL_PORT" \
    --server-pub "$T/keys/national.pub" --key "$T/keys/natissuer.key" --timeout 2d
grep -q "at most 1d" "$T/refused.err" || fail "status --timeout 2d: $(cat "$T/refused.err")"
refused 1 "$CC_BIN/certcast-agent" --relay "127.0.0.1:$BANKING_PORT" \
    --relay-pub "$T/keys/relay-banking.pub" --data "$T/refused" --key "$T/keys/bank1.key" \
    --trust "$T/keys/root.pub" --spool "$T/keys/root.pub"
refused 2 "$CC_BIN/certcast" publish --to "127.0.0.1:$NATIONAL_PORT" \
    --server-pub "$T/keys/national.pub" --key "$T/keys/natissuer.key" \
    --delegation "$T/keys/natissuer.delegation" --title one --title two \
    --severity low --tlp clear --sector banking
# An id longer than a broker opens (120) is a usage error here, not a
# refusal after it was signed and sent (before, 121 to 127 were sent).
refused 2 "$CC_BIN/certcast" publish --to "127.0.0.1:$NATIONAL_PORT" \
    --server-pub "$T/keys/national.pub" --key "$T/keys/natissuer.key" \
    --delegation "$T/keys/natissuer.delegation" --title long \
    --id "PK-$(printf 'A%.0s' $(seq 1 119))" --severity low --tlp clear --sector banking

say "an advisory for all of 18 sectors is placed in all 18 streams"
sectors=$(printf 's%02d,' $(seq 1 18)); sectors=${sectors%,}
start_daemon national "$CC_BIN/certcast-broker" --listen "127.0.0.1:$NATIONAL_PORT" \
    --data "$T/many/data" --key "$T/keys/national.key" --trust "$T/keys/root.pub" \
    --allow "$T/national/allow" --sectors "$sectors"
out=$(publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id MANY-1 --title "to all" \
    --severity low --tlp clear --sector all) || fail "publish MANY-1"
echo "$out"
for n in $(seq -w 1 18); do
    [[ " $out " == *" national/s$n#1 "* ]] || fail "MANY-1 was not placed in national/s$n: $out"
done
stop national
say "ok"
