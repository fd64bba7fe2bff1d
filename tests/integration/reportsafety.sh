#!/usr/bin/env bash
# What issuers and relays write is printed, never obeyed. National broker,
# banking relay, agent bank1 running; bank2 enrolled but never started (so
# it is listed missing), its org a spreadsheet formula and its contact a
# phone number starting with '+'; tel1's org an Urdu name longer than the
# roster's org field (cut, at a character boundary). An advisory whose title
# holds terminal escape sequences goes to all sectors. Then:
# - compliance and ledger as tables: no control character reaches the
#   terminal (no ESC byte; the title is there with '?' in their place),
#   nor the right-to-left override tel1's contact starts with, which
#   reorders the rest of a line (before, raw; '?' now, \u202e in JSON);
# - compliance as CSV: bank2's org and contact are quoted with a leading
#   apostrophe, so no cell starts with = or +; its class, with a tab and
#   a semicolon each before a formula, is quoted whole, so a spreadsheet
#   that splits on either starts no cell there;
# - compliance and ledger as JSON: valid UTF-8 (tel1's org whole
#   characters only) and the title's escapes as \u001b and \u009b (C1
#   CSI, which a terminal showing the JSON acts on; before, it was raw);
# - certcast status against a daemon (cc_fakeupstream) whose answer holds
#   an OSC 52 clipboard write, a BEL, a screen clear and a C1 CSI: printed
#   with '?' in their place (before, raw to the terminal).
source "$(dirname "$0")/lib.sh"
federation
URDU=$(printf 'پاکستان%.0s' $(seq 1 12))           # 12 x 14 bytes = 168 bytes
certcast keygen --dir "$T/keys2" --role agent --sector banking \
    --org "=2+5+cmd|' /C calc'!A0" --contact "+92-51-1234567" bank2 >/dev/null \
    || fail "keygen bank2"
cp "$T/keys2/bank2.pub" "$T/keys2/bank2.key" "$T/keys/"
# tel1's contact starts with U+202E RIGHT-TO-LEFT OVERRIDE
certcast keygen --dir "$T/keys3" --role agent --sector telecom --org "$URDU" \
    --contact $'\xe2\x80\xaesoc@tel1' tel1 >/dev/null || fail "keygen tel1"
# bank2's .pub edited by hand (keygen refuses a tab): a class with a tab
# and a semicolon, each followed by a formula
sed $'s/^\\( *class = \\).*/\\1"corp\t=3+4;=5+6"/' "$T/keys/bank2.pub" >"$T/banking/allow/bank2.pub"
grep -q $'class = "corp\t=3+4;=5+6"' "$T/banking/allow/bank2.pub" || fail "bank2.pub not edited"
cp "$T/keys3/tel1.pub" "$T/national/allow/"
start_national
start_relay banking
start_agent bank1 banking
NATIONAL="127.0.0.1:$NATIONAL_PORT"
TITLE=$'Patch now\e[2J\e[31mFAKE\xc2\x9b'
publish natissuer "$NATIONAL" national --id RS-1 --title "$TITLE" --severity high \
    --tlp clear --sector all >/dev/null || fail "publish RS-1"
wait_for 20 ledger_has "$T/national/data" RS-1 bank1 || fail "no ack of RS-1"
wait_for 20 eval 'certcast compliance --data "$T/national/data" --format csv | grep -q bank2' \
    || fail "bank2 (from the relay's roster) never reached the national report"

say "tables: no control character reaches the terminal"
for command in compliance ledger; do
    out=$(certcast $command --data "$T/national/data") || fail "$command table"
    echo "$out" | head -5
    ! printf '%s' "$out" | grep -q $'\e' || fail "$command printed an ESC byte"
    ! printf '%s' "$out" | LC_ALL=C grep -q $'\xc2\x9b' || fail "$command printed a C1 control"
    printf '%s' "$out" | iconv -f UTF-8 -t UTF-8 >/dev/null || fail "$command table is not UTF-8"
done
certcast compliance --data "$T/national/data" | grep -q '?soc@tel1' \
    || fail "tel1's right-to-left override is not shown as '?'"
certcast compliance --data "$T/national/data" | grep -q 'Patch now?\[2J?\[31mFAKE' \
    || fail "the title is not shown with its controls replaced"

say "CSV: no cell a spreadsheet would run"
csv=$(certcast compliance --data "$T/national/data" --format csv) || fail "csv"
echo "$csv" | grep bank2
echo "$csv" | grep -q "\"'=2+5+cmd|' /C calc'!A0\"" || fail "the formula org is not neutralised"
echo "$csv" | grep -q "\"'+92-51-1234567\"" || fail "the phone number is not kept as text"
! echo "$csv" | grep -qE '(^|,)[=+@-]' || fail "a CSV cell starts with a formula character"
echo "$csv" | grep -qF $',"corp\t=3+4;=5+6",' \
    || fail "a cell with a tab or semicolon is not quoted (a ';' or tab split would start a formula)"
! printf '%s' "$csv" | grep -q $'\e' || fail "the CSV holds an ESC byte"

say "JSON: valid UTF-8, escapes escaped"
for command in compliance ledger; do
    json=$(certcast $command --data "$T/national/data" --format json) || fail "$command json"
    printf '%s' "$json" | iconv -f UTF-8 -t UTF-8 >/dev/null || fail "$command JSON is not valid UTF-8"
    ! printf '%s' "$json" | grep -q $'\e' || fail "$command JSON holds a raw ESC byte"
    ! printf '%s' "$json" | LC_ALL=C grep -q $'\xc2\x9b' || fail "$command JSON holds a raw C1 control"
    ! printf '%s' "$json" | LC_ALL=C grep -q $'\xe2\x80\xae' || fail "$command JSON holds a raw bidi override"
done
certcast compliance --data "$T/national/data" --format json | grep -q 'Patch now\\u001b\[2J' \
    || fail "the title's ESC is not escaped in JSON"
certcast compliance --data "$T/national/data" --format json | grep -q 'FAKE\\u009b"' \
    || fail "the title's C1 CSI is not escaped in JSON"
certcast compliance --data "$T/national/data" --format json | grep -q '"\\u202esoc@tel1"' \
    || fail "tel1's right-to-left override is not escaped in JSON"
certcast compliance --data "$T/national/data" --format json | grep -q 'پاکستانپاکستان' \
    || fail "tel1's org is missing from the JSON"

say "status: a daemon's answer reaches no terminal as escapes"
FAKE_PORT=$(other_port)
EVIL=$'{"name":"evil\e]52;c;ZWNobyBoaQ==\a\e[2J\xc2\x9b","caught_up":false\r{"up":1}'
start_daemon fake "$CC_BIN/cc_fakeupstream" --listen "127.0.0.1:$FAKE_PORT" \
    --key "$T/keys/national.key" --status-json "$EVIL"
out=$(certcast status --to "127.0.0.1:$FAKE_PORT" --server-pub "$T/keys/national.pub" \
    --key "$T/keys/natissuer.key") || fail "status of the fake daemon"
echo "$out"
! printf '%s' "$out" | LC_ALL=C grep -q $'[\e\a\r]\|\xc2\x9b' || fail "status printed a control character"
[ "$out" = '{"name":"evil?]52;c;ZWNobyBoaQ==??[2J?","caught_up":false?{"up":1}' ] || fail "status did not print the answer with '?'"
stop fake
stop bank1; stop banking; stop national
say "ok"
