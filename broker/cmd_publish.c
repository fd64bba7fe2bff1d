/*  cmd_publish.c - certcast publish: build an advisory from the options,
    sign it here with the issuer's key and delegation (signing keys never
    live on a broker), and hand it to a broker over the control channel.

    Exit 0 means the broker answered Stored, which it does only after the
    advisory is committed to disk. No answer within --timeout is a failure:
    the advisory may or may not have been stored, and publishing the same
    id and revision again is safe (the broker refuses it as a replay if it
    did store it).
*/
#include "cmd.h"

static const cc_option_t s_options [] = {
    { "to", "HOST:PORT", "broker or relay (control channel is PORT+1)", NULL,
      false },
    { "server-pub", "FILE", "the broker's public key file", NULL, false },
    { "key", "FILE", "issuer's secret key file", NULL, false },
    { "delegation", "FILE", "issuer's delegation file (certcast delegate)",
      NULL, false },
    { "title", "T", "title", NULL, false },
    { "severity", "V", "info, low, medium, high or critical", NULL, false },
    { "tlp", "L", "clear, green, amber, amber+strict or red", NULL, false },
    { "sector", "S", "target sector(s), or all", NULL, true },
    { "id", "ID", "advisory id (default ISSUER-YYYYMMDD-HHMMSS-XXXX, or the "
      "delegation's id prefix then YYYYMMDD-HHMMSS-XXXX)", NULL,
      false },
    { "revision", "N", "revision; a higher one replaces", "1", false },
    { "kind", "K", "advisory, update or audit", "advisory", false },
    { "body-file", "F", "file holding the body", NULL, false },
    { "summary", "TEXT", "one-paragraph summary", NULL, false },
    { "content-type", "T", "content type of the body", "text/markdown",
      false },
    { "cve", "CVE", "CVE id", NULL, true },
    { "reference", "URL", "reference URL", NULL, true },
    { "supersedes", "ID", "id of an advisory this one replaces", NULL, false },
    { "deadline", "DURATION", "acknowledge within (e.g. 24h)", NULL, false },
    { "expires", "DURATION", "expires after (e.g. 30d)", NULL, false },
    { "timeout", "DURATION", "wait this long for the broker", "10s", false },
    { NULL, NULL, NULL, NULL, false }
};

static const char *s_severities [] = {
    "info", "low", "medium", "high", "critical", NULL
};
static const char *s_tlps [] = {
    "clear", "green", "amber", "amber+strict", "red", NULL
};

//  Index of value in a NULL-terminated list, or -1.
static int
s_index (const char *value, const char **list)
{
    for (int index = 0; list [index]; index++)
        if (streq (value, list [index]))
            return index;
    return -1;
}

//  Ids keep to the length every broker opens: a longer one was signed
//  and sent, then refused.
static bool
s_id_valid (const char *id)
{
    return cmd_id_chars_valid (id, CC_ADVISORY_ID_MAX);
}

//  CVE-YYYY-NNNN with four or more digits in the sequence number.
static bool
s_cve_valid (const char *cve)
{
    if (strncmp (cve, "CVE-", 4) != 0)
        return false;
    const char *cursor = cve + 4;
    for (int index = 0; index < 4; index++, cursor++)
        if (!isdigit ((unsigned char) *cursor))
            return false;
    if (*cursor++ != '-')
        return false;
    size_t digits = strspn (cursor, "0123456789");
    return digits >= 4 && cursor [digits] == 0;
}

static int
s_on_stored (const Certcast__Control *reply, void *arg)
{
    if (reply->body_case != CERTCAST__CONTROL__BODY_STORED)
        return cmd_fail ("publish", "unexpected answer (%d) from the broker "
                         "(not stored)", (int) reply->body_case);
    const Certcast__Stored *stored = reply->stored;
    printf ("stored %s rev %" PRIu32 ":", stored->id, stored->revision);
    for (size_t index = 0; index < stored->n_placed; index++)
        printf (" %s#%" PRIu64, stored->placed [index]->stream,
                stored->placed [index]->head);
    printf ("\n");
    return 0;
}

//  The options that need no file or network, checked before anything is
//  loaded or connected, so a typo costs nothing.
typedef struct {
    Certcast__Advisory advisory;    //  strings borrowed from config
    int64_t timeout;
    int64_t deadline;
    int64_t expires;
} s_request_t;

static int
s_check_options (cc_config_t *config, s_request_t *request)
{
    static const char *required [] = {
        "to", "server-pub", "key", "delegation", "title", "severity", "tlp",
        NULL
    };
    for (const char **name = required; *name; name++)
        if (!cc_config_get (config, *name))
            return cmd_usage_error ("publish", "--%s is required", *name);
    char host [256];
    int port;
    if (cc_config_endpoint (cc_config_get (config, "to"), host, &port))
        return cmd_usage_error ("publish", "--to must be HOST:PORT, not '%s'",
                                cc_config_get (config, "to"));

    Certcast__Advisory *advisory = &request->advisory;
    const char *severity = cc_config_get (config, "severity");
    int index = s_index (severity, s_severities);
    if (index == -1)
        return cmd_usage_error ("publish", "--severity must be info, low, "
                                "medium, high or critical, not '%s'",
                                severity);
    advisory->severity =
        (Certcast__Severity) (CERTCAST__SEVERITY__INFO + index);
    const char *tlp = cc_config_get (config, "tlp");
    index = s_index (tlp, s_tlps);
    if (index == -1)
        return cmd_usage_error ("publish", "--tlp must be clear, green, amber, "
                                "amber+strict or red, not '%s'", tlp);
    advisory->tlp = (Certcast__Tlp) (CERTCAST__TLP__CLEAR + index);
    const char *kind = cc_config_get (config, "kind");
    if (streq (kind, "advisory"))
        advisory->kind = CERTCAST__KIND__SECURITY_ANNOUNCEMENT;
    else
    if (streq (kind, "update"))
        advisory->kind = CERTCAST__KIND__TECHNOLOGY_UPDATE;
    else
    if (streq (kind, "audit"))
        advisory->kind = CERTCAST__KIND__AUDIT_NOTICE;
    else
        return cmd_usage_error ("publish", "--kind must be advisory, update "
                                "or audit, not '%s'", kind);

    const char **sectors = cc_config_all (config, "sector");
    if (!sectors [0])
        return cmd_usage_error ("publish", "--sector S (or --sector all) is "
                                "required");
    size_t count = 0;
    for (; sectors [count]; count++) {
        if (streq (sectors [count], "all"))
            advisory->all_sectors = true;
        else
        if (!cmd_sector_valid (sectors [count]))
            return cmd_usage_error ("publish", "--sector '%s' is not a sector "
                                    "name ([a-z0-9-]+)", sectors [count]);
    }
    if (advisory->all_sectors && count > 1)
        return cmd_usage_error ("publish", "--sector all cannot be combined "
                                "with named sectors");
    if (!advisory->all_sectors) {
        advisory->n_sectors = count;
        advisory->sectors = (char **) sectors;
    }

    const char *id = cc_config_get (config, "id");
    if (id && !s_id_valid (id))
        return cmd_usage_error ("publish", "--id '%s' may hold only letters, "
                                "digits, '.', '_', ':' and '-' (at most %d)",
                                id, CC_ADVISORY_ID_MAX);
    const char *supersedes = cc_config_get (config, "supersedes");
    if (supersedes && !s_id_valid (supersedes))
        return cmd_usage_error ("publish", "--supersedes '%s' is not an "
                                "advisory id", supersedes);
    int64_t revision = cc_config_int (config, "revision", 1, UINT32_MAX, 1);
    if (revision == -1)
        return 2;
    advisory->revision = (uint32_t) revision;
    if (!*cc_config_get (config, "title"))
        return cmd_usage_error ("publish", "--title must not be empty");

    const char **cves = cc_config_all (config, "cve");
    for (count = 0; cves [count]; count++)
        if (!s_cve_valid (cves [count]))
            return cmd_usage_error ("publish", "--cve '%s' is not a CVE id "
                                    "(CVE-YYYY-NNNN)", cves [count]);
    advisory->n_cves = count;
    advisory->cves = (char **) cves;
    const char **references = cc_config_all (config, "reference");
    for (count = 0; references [count]; count++)
        ;
    advisory->n_references = count;
    advisory->references = (char **) references;

    const char *durations [] = { "deadline", "expires", "timeout" };
    int64_t *values [] = {
        &request->deadline, &request->expires, &request->timeout
    };
    for (int item = 0; item < 3; item++) {
        const char *text = cc_config_get (config, durations [item]);
        *values [item] = text? cc_config_duration (text): 0;
        if (text && *values [item] <= 0)
            return cmd_usage_error ("publish", "--%s must be a duration like "
                                    "30s, 90m, 24h or 7d (at most 36500d), not '%s'",
                                    durations [item], text);
    }
    if (request->timeout > 86400)
        return cmd_usage_error ("publish", "--timeout is at most 1d");
    return 0;
}

int
cmd_publish (int argc, char **argv)
{
    int exit_code = 0;
    cc_config_t *config = cc_config_new ("certcast/publish",
        "certcast publish --to HOST:PORT --server-pub FILE --key FILE "
        "--delegation FILE --title T --severity V --tlp L --sector S|all "
        "[options]", s_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;
    s_request_t request;
    memset (&request, 0, sizeof request);
    certcast__advisory__init (&request.advisory);
    exit_code = s_check_options (config, &request);
    if (exit_code == 0 && cc_config_positionals (config))
        exit_code = cmd_usage_error ("publish", "unexpected argument '%s'",
                                     cc_config_positional (config, 0));
    if (exit_code) {
        cc_config_destroy (&config);
        return exit_code;
    }

    //  Files: the body, the delegation, our key
    uint8_t *body = NULL, *delegation = NULL, *advisory_bytes = NULL;
    char *id_prefix = NULL;
    uint8_t *signed_bytes = NULL;
    size_t body_size = 0, delegation_size = 0, advisory_size = 0;
    size_t signed_size = 0;
    cc_keys_t *key = NULL;
    Certcast__Advisory *advisory = &request.advisory;
    const char *body_file = cc_config_get (config, "body-file");
    const char *delegation_file = cc_config_get (config, "delegation");
    if (body_file) {
        body = cmd_file_read (body_file, CC_WIRE_MAX_SIGNED, &body_size);
        if (!body) {
            exit_code = cmd_fail ("publish", "cannot read --body-file %s: %s",
                                  body_file, errno == EFBIG
                                  ? "larger than an advisory may be (1 MiB)"
                                  : strerror (errno));
            goto done;
        }
    }
    delegation = cc_delegation_load (delegation_file, &delegation_size);
    if (!delegation) {
        exit_code = cmd_fail ("publish", "cannot read delegation %s",
                              delegation_file);
        goto done;
    }
    key = cmd_keys_load ("publish", "key", cc_config_get (config, "key"),
                         true);
    if (!key) {
        exit_code = 1;
        goto done;
    }

    //  The advisory itself
    int64_t now = (int64_t) time (NULL);
    const char *issuer = cc_keys_meta (key, "name");
    char issuer_fallback [17];
    if (!issuer || !*issuer) {
        uint8_t key_id [8];
        cc_key_id (cc_keys_sign_public (key), key_id);
        cc_hex_encode (key_id, 8, issuer_fallback);
        issuer = issuer_fallback;
    }
    char default_id [128];
    const char *id = cc_config_get (config, "id");
    //  An issuer bound to an id prefix names inside it; every broker would
    //  refuse anything else, after the signing.
    id_prefix = cc_delegation_id_prefix (delegation, delegation_size);
    if (id && id_prefix && strncmp (id, id_prefix, strlen (id_prefix))) {
        exit_code = cmd_usage_error ("publish", "--id %s does not start "
                                     "with '%s', the id prefix of this "
                                     "issuer's delegation", id, id_prefix);
        goto done;
    }
    if (!id) {
        struct tm tm;
        time_t seconds = (time_t) now;
        gmtime_r (&seconds, &tm);
        char stamp [32];
        strftime (stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        if (id_prefix && *id_prefix)
            snprintf (default_id, sizeof default_id, "%s%s-%04x", id_prefix,
                      stamp, (unsigned) (cmd_random64 () & 0xffff));
        else
            snprintf (default_id, sizeof default_id, "%.90s-%s-%04x",
                      issuer, stamp, (unsigned) (cmd_random64 () & 0xffff));
        id = default_id;
    }
    advisory->id = (char *) id;
    advisory->title = (char *) cc_config_get (config, "title");
    if (cc_config_get (config, "summary"))
        advisory->summary = (char *) cc_config_get (config, "summary");
    advisory->content_type = (char *) cc_config_get (config, "content-type");
    advisory->body.data = body;
    advisory->body.len = body_size;
    advisory->issued_at = now;
    advisory->ack_deadline = request.deadline? now + request.deadline: 0;
    advisory->expires_at = request.expires? now + request.expires: 0;
    advisory->issuer = (char *) issuer;
    if (cc_config_get (config, "supersedes"))
        advisory->supersedes = (char *) cc_config_get (config, "supersedes");

    advisory_bytes = cc_wire_pack ((const ProtobufCMessage *) advisory,
                                   &advisory_size);
    signed_bytes = cc_advisory_sign (key, advisory_bytes, advisory_size,
                                     delegation, delegation_size,
                                     &signed_size);
    if (!signed_bytes) {
        exit_code = cmd_fail ("publish", "cannot sign: delegation %s does not "
                              "decode", delegation_file);
        goto done;
    }
    if (signed_size > CC_WIRE_MAX_SIGNED) {
        exit_code = cmd_fail ("publish", "the signed advisory is %zu bytes, "
                              "over the %d-byte limit", signed_size,
                              CC_WIRE_MAX_SIGNED);
        goto done;
    }

    //  To the broker, and wait for it to say the advisory is on disk
    Certcast__Publish publish = CERTCAST__PUBLISH__INIT;
    publish.signed_.data = signed_bytes;
    publish.signed_.len = signed_size;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.body_case = CERTCAST__CONTROL__BODY_PUBLISH;
    control.publish = &publish;
    cmd_peer_t peer = {
        .command = "publish",
        .endpoint = cc_config_get (config, "to"),
        .server_pub = cc_config_get (config, "server-pub"),
        .key = key,
        .timeout = request.timeout,
        .timeout_note = " (not stored)"
    };
    exit_code = cmd_request (&peer, &control, s_on_stored, NULL);

done:
    free (id_prefix);
    free (signed_bytes);
    free (advisory_bytes);
    cc_keys_destroy (&key);
    free (delegation);
    free (body);
    cc_config_destroy (&config);
    return exit_code;
}
