/*  cmd_status.c - certcast status: ask a broker or relay for its status
    over the control channel and print the JSON it answers.
*/
#include "cmd.h"

static const cc_option_t s_options [] = {
    { "to", "HOST:PORT", "broker or relay (control channel is PORT+1)", NULL,
      false },
    { "server-pub", "FILE", "the broker's public key file", NULL, false },
    { "key", "FILE", "our secret key file (enrolled at the broker)", NULL,
      false },
    { "timeout", "DURATION", "wait this long for the answer", "5s", false },
    { NULL, NULL, NULL, NULL, false }
};

static int
s_on_status (const Certcast__Control *reply, void *arg)
{
    if (reply->body_case != CERTCAST__CONTROL__BODY_STATUS_REPLY)
        return cmd_fail ("status", "unexpected answer (%d) from the broker",
                         (int) reply->body_case);
    //  The daemon's word, printed, never obeyed: our daemons' JSON holds
    //  no control character but line breaks (JSON escapes them in
    //  strings), so any other is a broker or relay, a sectoral CERT's or
    //  a compromised one, writing to the operator's terminal.
    char *json = cmd_text_safe_lines (reply->status_reply->json);
    //  Nor a carriage return: the rest of the answer would be printed
    //  over what the line said ("caught_up":false, say).
    for (char *cursor = json; *cursor; cursor++)
        if (*cursor == '\r')
            *cursor = '?';
    printf ("%s%s", json, *json && json [strlen (json) - 1] == '\n'? "": "\n");
    free (json);
    return 0;
}

int
cmd_status (int argc, char **argv)
{
    int exit_code = 0;
    cc_config_t *config = cc_config_new ("certcast/status",
        "certcast status --to HOST:PORT --server-pub FILE --key FILE "
        "[--timeout 5s]", s_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;

    const char *to = cc_config_get (config, "to");
    const char *server_pub = cc_config_get (config, "server-pub");
    const char *key_path = cc_config_get (config, "key");
    const char *timeout_text = cc_config_get (config, "timeout");
    int64_t timeout = cc_config_duration (timeout_text);
    char host [256];
    int port;
    if (!to || !server_pub || !key_path)
        exit_code = cmd_usage_error ("status", "--%s is required",
                                     !to? "to": !server_pub? "server-pub"
                                                           : "key");
    else
    if (cc_config_endpoint (to, host, &port))
        exit_code = cmd_usage_error ("status", "--to must be HOST:PORT, not "
                                     "'%s'", to);
    else
    if (timeout <= 0 || timeout > 86400)
        exit_code = cmd_usage_error ("status", "--timeout must be a duration "
                                     "like 5s or 2m, at most 1d, not '%s'",
                                     timeout_text);
    else
    if (cc_config_positionals (config))
        exit_code = cmd_usage_error ("status", "unexpected argument '%s'",
                                     cc_config_positional (config, 0));
    if (exit_code) {
        cc_config_destroy (&config);
        return exit_code;
    }

    cc_keys_t *key = cmd_keys_load ("status", "key", key_path, true);
    if (key) {
        Certcast__StatusRequest status = CERTCAST__STATUS_REQUEST__INIT;
        Certcast__Control control = CERTCAST__CONTROL__INIT;
        control.body_case = CERTCAST__CONTROL__BODY_STATUS;
        control.status = &status;
        cmd_peer_t peer = {
            .command = "status",
            .endpoint = to,
            .server_pub = server_pub,
            .key = key,
            .timeout = timeout,
            .timeout_note = NULL
        };
        exit_code = cmd_request (&peer, &control, s_on_status, NULL);
        cc_keys_destroy (&key);
    }
    else
        exit_code = 1;
    cc_config_destroy (&config);
    return exit_code;
}
