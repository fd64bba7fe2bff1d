# lib.sh - helpers for certcast integration tests (sourced).
#
# Each test gets a fresh temp directory, free loopback ports, and starts
# the real programs from $CC_BIN. Every daemon it starts is stopped by PID
# at exit; a test fails on a non-zero exit of a daemon or any sanitizer
# report in a daemon's log.
set -u
CC_BIN=${CC_BIN:-build/bin}
# Daemons stop by signal; LeakSanitizer reports of libzmq/OpenSSL thread
# state at exit are noise here (unit tests run with leak checks on).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
CC_BIN=$(cd "$CC_BIN" && pwd)
T=$(mktemp -d "${CC_TMP:-/tmp}/certcast-test.XXXXXX")
declare -A PIDS=()
CC_FAILED=0

say () { echo "# $*"; }
fail () { echo "FAIL: $*" >&2; CC_FAILED=1; exit 1; }

cc_cleanup () {
    local name
    for name in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$name]}" 2>/dev/null
    done
    for name in "${!PIDS[@]}"; do
        wait "${PIDS[$name]}" 2>/dev/null
    done
    if [ "${KEEP:-}" = 1 ] || [ "$CC_FAILED" = 1 ]; then
        for log in "$T"/*.log; do
            [ -f "$log" ] && { echo "--- $log"; tail -15 "$log"; }
        done
    fi
    [ "${KEEP:-}" = 1 ] || [ "${CC_KEEP_T:-}" = 1 ] || rm -rf "$T"
}
trap 'CC_FAILED=1' ERR
trap cc_cleanup EXIT

# free_port: a port P with P and P+1 both free on 127.0.0.1, below the
# kernel's ephemeral range: a client reconnecting to a stopped daemon on
# this host could otherwise be given the daemon's own port as its source
# port (a TCP self-connect) and keep the daemon from binding it again.
free_port () {
    local port tries=0 low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$low" -gt 12000 ] || low=32768
    while [ $tries -lt 200 ]; do
        port=$(( (RANDOM * 32768 + RANDOM) % (low - 11002) + 10000 ))
        if ! ss -ltnH "( sport = :$port or sport = :$((port + 1)) )" 2>/dev/null | grep -q .; then
            echo $port; return 0
        fi
        tries=$((tries + 1))
    done
    return 1
}

# wait_for TIMEOUT_S COMMAND...: poll until COMMAND succeeds.
wait_for () {
    local limit=$1; shift
    local deadline=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
    while ! "$@" >/dev/null 2>&1; do
        [ $(( $(date +%s%N) / 1000000 )) -gt $deadline ] && return 1
        sleep 0.05
    done
}

log_has () { grep -q -- "$2" "$T/$1.log"; }

# start NAME PROGRAM ARGS...: run in the background, log to $T/NAME.log.
declare -A CMDS=()
start () {
    local name=$1; shift
    CMDS[$name]=$(printf '%q ' "$@")
    "$@" >>"$T/$name.log" 2>&1 &
    PIDS[$name]=$!
}

ready_count () { grep -c " ready$" "$T/$1.log" 2>/dev/null || true; }
ready_after () { [ "$(ready_count "$1")" -gt "$2" ]; }

# start_daemon NAME PROGRAM ARGS...: start and wait for a new "ready" line.
start_daemon () {
    local name=$1 before
    before=$(ready_count "$name")
    start "$@"
    wait_for 20 ready_after "$name" "${before:-0}" || fail "$name did not become ready"
}

# restart NAME: start a stopped or crashed daemon again, same arguments.
restart () {
    local name=$1
    eval "start_daemon $name ${CMDS[$name]}"
}

sanitizer_clean () {
    ! grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T/$1.log"
}

# stop NAME: SIGTERM, wait, require exit 0 and a clean log.
stop () {
    local name=$1 pid=${PIDS[$1]} status
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"; status=$?
    unset "PIDS[$name]"
    [ $status = 0 ] || fail "$name exited $status"
    sanitizer_clean "$name" || fail "sanitizer report in $name.log"
}

# stop_at_once NAME PATTERN: stop NAME, which must take under 10 s and
# leave no process matching PATTERN (what a command it ran started).
stop_at_once () {
    local started took_ms
    started=$(date +%s%N)
    stop "$1"
    took_ms=$(( ($(date +%s%N) - started) / 1000000 ))
    echo "stop took $took_ms ms"
    [ "$took_ms" -lt 10000 ] || fail "$1 took $took_ms ms to stop"
    sleep 0.2
    ! pgrep -f "$2" >/dev/null || fail "$2 outlived $1's stop"
}

# crash NAME: kill -9 (no checks: it is a crash).
crash () {
    kill -9 "${PIDS[$1]}" 2>/dev/null
    wait "${PIDS[$1]}" 2>/dev/null
    unset "PIDS[$1]"
}

certcast () { "$CC_BIN/certcast" "$@"; }

# keygen NAME ROLE SECTOR [extra keygen options]
keygen () {
    local name=$1 role=$2 sector=$3; shift 3
    certcast keygen --dir "$T/keys" --role "$role" --org "Org $name" \
        --sector "$sector" --contact "soc@$name.example.pk" "$@" "$name" >/dev/null \
        || fail "keygen $name"
}

# federation: keys, delegations and allow directories for a national
# broker, relays for banking and telecom, agents bank1 bank2 tel1, a
# national issuer (all sectors) and a banking issuer (banking only).
federation () {
    mkdir -p "$T/keys" "$T/national/allow" "$T/banking/allow" "$T/telecom/allow"
    keygen root root all
    keygen national broker all
    keygen natissuer issuer all
    keygen bankissuer issuer banking
    keygen relay-banking relay banking
    keygen relay-telecom relay telecom
    keygen bank1 agent banking --class body-corporate --cii
    keygen bank2 agent banking --class service-provider
    keygen tel1 agent telecom --class data-centre
    certcast delegate --root "$T/keys/root.key" --sector all --out "$T/keys/natissuer.delegation" "$T/keys/natissuer.pub" >/dev/null || fail "delegate natissuer"
    certcast delegate --root "$T/keys/root.key" --sector banking --out "$T/keys/bankissuer.delegation" "$T/keys/bankissuer.pub" >/dev/null || fail "delegate bankissuer"
    cp "$T/keys/natissuer.pub" "$T/keys/bankissuer.pub" "$T/keys/relay-banking.pub" "$T/keys/relay-telecom.pub" "$T/national/allow/"
    cp "$T/keys/bank1.pub" "$T/keys/bank2.pub" "$T/keys/bankissuer.pub" "$T/banking/allow/"
    cp "$T/keys/tel1.pub" "$T/telecom/allow/"
    NATIONAL_PORT=$(free_port)
    BANKING_PORT=$(free_port)
    TELECOM_PORT=$(free_port)
    while [ "$BANKING_PORT" = "$NATIONAL_PORT" ] || [ "$TELECOM_PORT" = "$NATIONAL_PORT" ] || [ "$TELECOM_PORT" = "$BANKING_PORT" ]; do
        BANKING_PORT=$(free_port); TELECOM_PORT=$(free_port)
    done
}

HEARTBEAT=${HEARTBEAT:-500}
RELAY_HEARTBEAT=${RELAY_HEARTBEAT:-$HEARTBEAT}

start_national () {
    start_daemon national "$CC_BIN/certcast-broker" --listen "127.0.0.1:$NATIONAL_PORT" \
        --data "$T/national/data" --key "$T/keys/national.key" --trust "$T/keys/root.pub" \
        --allow "$T/national/allow" --heartbeat $HEARTBEAT "$@"
}

# start_relay SECTOR
start_relay () {
    local sector=$1; shift
    local port_var=${sector^^}_PORT
    start_daemon "$sector" "$CC_BIN/certcast-relay" --sector "$sector" \
        --upstream "127.0.0.1:$NATIONAL_PORT" --upstream-pub "$T/keys/national.pub" \
        --listen "127.0.0.1:${!port_var}" --data "$T/$sector/data" \
        --key "$T/keys/relay-$sector.key" --trust "$T/keys/root.pub" \
        --allow "$T/$sector/allow" --heartbeat $RELAY_HEARTBEAT "$@"
}

# other_port: a free port other than those federation chose.
other_port () {
    local port
    port=$(free_port)
    while [ "$port" = "$NATIONAL_PORT" ] || [ "$port" = "$BANKING_PORT" ] \
       || [ "$port" = "$TELECOM_PORT" ]; do port=$(free_port); done
    echo "$port"
}

# start_relay_as NAME SECTOR PORT KEY ALLOW_DIR UPSTREAM_PORT UPSTREAM
#   [relay options]: a relay beside (or below) the federation's, its
# data in $T/NAME-data, KEY and UPSTREAM's .pub in $T/keys.
start_relay_as () {
    local name=$1 sector=$2 port=$3 key=$4 allow=$5 up_port=$6 up=$7; shift 7
    start_daemon "$name" "$CC_BIN/certcast-relay" --sector "$sector" --name "$name" \
        --upstream "127.0.0.1:$up_port" --upstream-pub "$T/keys/$up.pub" \
        --listen "127.0.0.1:$port" --data "$T/$name-data" --key "$T/keys/$key.key" \
        --trust "$T/keys/root.pub" --allow "$allow" --heartbeat $RELAY_HEARTBEAT "$@"
}

# start_agent NAME SECTOR
start_agent () {
    local name=$1 sector=$2; shift 2
    local port_var=${sector^^}_PORT
    mkdir -p "$T/agents/$name/spool"
    start_daemon "$name" "$CC_BIN/certcast-agent" --relay "127.0.0.1:${!port_var}" \
        --relay-pub "$T/keys/relay-$sector.pub" --data "$T/agents/$name/data" \
        --key "$T/keys/$name.key" --trust "$T/keys/root.pub" \
        --spool "$T/agents/$name/spool" --heartbeat $HEARTBEAT "$@"
}

# publish ISSUER HOST_PORT SERVER_PUB [publish options]
publish () {
    local issuer=$1 to=$2 server=$3; shift 3
    certcast publish --to "$to" --server-pub "$T/keys/$server.pub" \
        --key "$T/keys/$issuer.key" --delegation "$T/keys/$issuer.delegation" "$@"
}

spooled () { [ -f "$T/agents/$1/spool/$2-r${3:-1}.json" ]; }
spool_count () { ls "$T/agents/$1/spool" 2>/dev/null | grep -c '\.json$'; }

# ledger_has DATA_DIR ADVISORY AGENT_NAME: an ack row in that ledger.
ledger_has () {
    certcast ledger --data "$1" --advisory "$2" --format json 2>/dev/null | grep -q "\"$3\""
}

# national_agents NAME...: banking agents in the national broker's own
# allow directory, for tests that ack as them with national_ack.
national_agents () {
    local agent
    for agent in "$@"; do
        keygen "$agent" agent banking
        cp "$T/keys/$agent.pub" "$T/national/allow/"
    done
}

# national_ack AGENT ID [ack-as options]: AGENT's signed ack of ID
# revision 1, naming the bytes the national broker holds (as an agent's
# does), sent to it, which must ledger it as new.
national_ack () {
    local agent=$1 id=$2; shift 2
    probe --to "127.0.0.1:$NATIONAL_PORT" --key "$T/keys/$agent.key" \
        --server-pub "$T/keys/national.pub" ack-as --sign-key "$T/keys/$agent.key" \
        --id "$id" --revision 1 --digest-of "$T/national/data" "$@" | grep -q '^acked 1$'
}

# --- helpers for sectoral.sh, catchup.sh and badinput.sh -------------------

# probe ARGS...: the cc_probe test client (tests/tools/cc_probe.c).
probe () { "$CC_BIN/cc_probe" "$@"; }

# broker_status HOST_PORT SERVER CLIENT: a broker's status JSON, asked
# with CLIENT's key (any key enrolled there).
broker_status () {
    certcast status --to "$1" --server-pub "$T/keys/$2.pub" --key "$T/keys/$3.key"
}

# json_number JSON NAME: the number after the first "NAME": (0 if absent).
json_number () {
    local pattern="\"$2\":([0-9]+)"
    if [[ $1 =~ $pattern ]]; then echo "${BASH_REMATCH[1]}"; else echo 0; fi
}

# ledger_rows DATA_DIR [ADVISORY]: how many ack rows that ledger holds.
ledger_rows () {
    local out
    if [ -n "${2:-}" ]; then
        out=$(certcast ledger --data "$1" --advisory "$2" --format json) || return 1
    else
        out=$(certcast ledger --data "$1" --format json) || return 1
    fi
    printf '%s\n' "$out" | grep -c '"advisory":' || true
}

# ledger_rows_at_least DATA_DIR ADVISORY N: for wait_for.
ledger_rows_at_least () { [ "$(ledger_rows "$1" "$2")" -ge "$3" ]; }

# spool_stamp NAME: inode and mtime (ns) of every spool file, so a test
# can tell that nothing was handed over again.
spool_stamp () {
    [ -d "$T/agents/$1/spool" ] || return 0
    (cd "$T/agents/$1/spool" && stat -c '%n %i %.9Y' ./*.json 2>/dev/null | sort)
}

# rotate_log NAME: keep NAME.log aside before a restart, so start_daemon
# waits for the new process's own "ready" line.
rotate_log () {
    local n=1
    while [ -e "$T/$1.log.$n" ]; do n=$((n + 1)); done
    mv "$T/$1.log" "$T/$1.log.$n"
}

# --- helpers for diskfull.sh and stale_readers.sh ---------------------------

# mount_tmpfs DIR SIZE: mount a tmpfs of SIZE (e.g. 8m) on DIR (root only).
# At exit every daemon is stopped first, then what we mounted is
# unmounted, then the usual cleanup runs. Only our own mounts are touched.
CC_MOUNTS=()
mount_tmpfs () {
    mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" || return 1
    CC_MOUNTS+=("$1")
    trap cc_cleanup_mounts EXIT
}
cc_cleanup_mounts () {
    local name mount
    for name in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$name]}" 2>/dev/null
    done
    for name in "${!PIDS[@]}"; do
        wait "${PIDS[$name]}" 2>/dev/null
        unset "PIDS[$name]"
    done
    for mount in "${CC_MOUNTS[@]}"; do
        umount "$mount" 2>/dev/null || umount -l "$mount"
    done
    CC_MOUNTS=()
    cc_cleanup
}

# alive NAME: the daemon started as NAME is still running (not a zombie).
alive () {
    local pid=${PIDS[$1]:-}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
        && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}
