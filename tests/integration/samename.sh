#!/usr/bin/env bash
# An agent's name is its own word, and two keys may carry the same one:
# the report must tell them apart. National broker; two banking agent
# keys both named twin (each with the same org and contact) in its allow
# directory; the first acks SN-1, the other does not. The compliance JSON
# gives each recipient's agent_key: the acknowledged twin's is the key of
# the ledger's row, the missing twin's is the other (before, the two
# entries differed only by being in different lists).
source "$(dirname "$0")/lib.sh"
federation
national_agents twin
certcast keygen --dir "$T/keys2" --role agent --org "Org twin" --sector banking \
    --contact "soc@twin.example.pk" twin >/dev/null || fail "keygen the other twin"
cp "$T/keys2/twin.pub" "$T/national/allow/twin-other.pub"
start_national
publish natissuer "127.0.0.1:$NATIONAL_PORT" national --id SN-1 --title "Twins" \
    --severity high --tlp clear --sector banking >/dev/null || fail "publish SN-1"
national_ack twin SN-1 || fail "twin's ack"
json=$(certcast compliance --data "$T/national/data" --format json) || fail "compliance json"
echo "$json"
key_of () {     # key_of LIST: the agent_key of the one twin in that list
    echo "$json" | sed -n "/\"$1\": \\[/,/\\]/p" | grep -o '"agent_key": "[0-9a-f]*"' | cut -d'"' -f4
}
acked=$(key_of acknowledged)
missing=$(key_of missing)
ledgered=$(certcast ledger --data "$T/national/data" --format json | grep -o '"agent_key": "[0-9a-f]*"' | cut -d'"' -f4)
[ ${#acked} = 64 ] && [ ${#missing} = 64 ] || fail "no agent_key in the JSON ('$acked', '$missing')"
[ "$acked" = "$ledgered" ] || fail "the acknowledged twin's key is not the ledger's"
[ "$acked" != "$missing" ] || fail "the two twins have one key"
stop national
say "ok"
