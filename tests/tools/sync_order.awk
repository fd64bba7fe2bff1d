# sync_order.awk - does every reply wait for a data sync?
#
#   awk -v port=CONTROL_PORT -f sync_order.awk TRACE
#
# TRACE is `strace -f -tt -yy -e trace=fdatasync,sendto,recvfrom,...` of a
# certcast daemon. On each TCP connection to 127.0.0.1:CONTROL_PORT, every
# CurveZMQ MESSAGE the daemon sends (a reply) must come after an fdatasync
# of its data.mdb that completed after the last MESSAGE it received on
# that connection (the request). Prints one line per violation and a
# summary; exits 1 on any violation or if it saw no reply at all.
function seconds(stamp,    part) {
    split(stamp, part, ":")
    return part[1] * 3600 + part[2] * 60 + part[3]
}
{ now = seconds($2) }
/fdatasync\(.*data\.mdb/ {
    if ($0 ~ /unfinished/) { pending[$1] = 1 }
    else if ($0 ~ /= 0$/) { last_sync = now; syncs++ }
    next
}
/<\.\.\. fdatasync resumed>/ {
    if (($1 in pending) && $0 ~ /= 0$/) { last_sync = now; syncs++ }
    delete pending[$1]
    next
}
index($0, "TCP:[127.0.0.1:" port "->") && /MESSAGE/ {
    match($0, /->[0-9.]+:[0-9]+/)
    connection = substr($0, RSTART + 2, RLENGTH - 2)
    if ($0 ~ /(recvfrom|recvmsg|read)\(/) {
        request[connection] = now
    }
    else if ($0 ~ /(sendto|sendmsg|writev|write)\(/) {
        replies++
        if (!(connection in request) || last_sync <= request[connection]) {
            violations++
            print "violation: reply to " connection " at " $2 \
                  " without a data sync since its request"
        }
    }
}
END {
    printf "%d replies, %d data syncs, %d violations\n", replies, syncs, violations
    exit (violations > 0 || replies == 0) ? 1 : 0
}
