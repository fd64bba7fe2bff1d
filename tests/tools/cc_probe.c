/*  cc_probe.c - a small certcast control-channel client for the
    integration tests: it sends ONE control frame that certcast's own tools
    would never send (a forged, mutated or malformed publish, an ack signed
    by someone else) and prints what the broker answered, in one line.

    cc_probe --to HOST:PORT --key NAME.key --server-pub FILE [--timeout MS]
             MODE [mode options]

    MODE publish-mutated --delegation FILE --mutate M [--sector S]
                         [--id ID] [--revision N] [--root ROOT.key]
                         [--sign-key FILE]
        Builds and signs a valid advisory as `certcast publish` does (as
        the issuer of --sign-key, whose delegation --delegation is, if
        given: another issuer than our --key), then applies M to what is
        sent:
          none        the valid advisory
          sig-flip    one bit of the signature flipped
          adv-flip    one bit of the advisory bytes flipped after signing
          wrong-key   signed by a fresh random key, delegation kept
          truncate    the Control frame cut to half its length
          garbage     64 random bytes (not a protobuf) as the whole frame
          empty       a zero-length frame
          oversize    a frame of CC_WIRE_MAX_FRAME + 1024 bytes
          future      issued_at one hour from now
          expired     expires_at ten seconds ago
          delegation-expired  a delegation (signed with --root) whose
                      window ended yesterday
          untrusted   a delegation signed by a fresh, unpinned root
          no-tlp      no TLP label (0, unspecified)
    MODE ack-as --sign-key FILE --id ID --revision N [--digest HEX]
                [--digest-of DIR]
                [--status received|applied|not-applicable|failed]
        Acks with one SignedAck for (ID, N), signed by --sign-key (which
        may be another agent's key than our --key identity), naming the
        digest HEX, or that of (ID, N) as the broker or relay whose data
        directory is DIR holds it (what its agents received; brokers
        count no other as a receipt), or 32 zero bytes; status
        received unless --status says otherwise. --reason-bytes B gives
        the entry a reason of B bytes, --reason TEXT the reason TEXT;
        --print-digest yes prints "digest HEX" (what the ack names)
        first; --copies C sends the SignedAck C
        times in the one request; --requests R sends that request R times
        at once and prints "acked A busy B other O" over the R replies;
        --ack-time T signs T (Unix seconds) as the ack's time; --forge yes
        flips one bit of the signature.
    MODE roster [--entry FILE.pub]... [--entry-role R] [--entry-sector S]
        Sends a Roster as our --key (a relay's key, to pass for that
        relay) listing each --entry's key and details (none: an empty
        roster), with its role or sector replaced if asked. Prints
        "acked N" (entries taken) and, after " not taken: ", the
        entries the broker named as not taken with its reasons.
    MODE roster-flood --parts N --fill K [--entry-bytes B]
        Sends parts 1..N of a roster of N + 1 parts (so it never
        completes), each of K made-up entries of about B bytes (default
        2000), one at a time, each after the answer to the one before.
        Prints "staged N parts" or "staged M parts, then error CODE:
        reason" (exit 1).
    MODE hello
        Hello; prints the Welcome's stream heads.
    MODE fetch-flood --topic STREAM --copies N
        Sends N Fetch{STREAM, from 1} at once, reads nothing for --timeout
        ms (the replies queue at the broker), then reads what comes for
        two seconds; prints "deliveries D busy B" (Deliveries replies and
        busy refusals). Exit 0.
    MODE subscribe --topic T
        Subscribes a SUB socket to topic T ("" for everything) on the
        stream port (PORT) and listens for --timeout ms; prints the topic
        of each delivery (not heartbeats) as "got TOPIC" (each topic once),
        or "nothing" if none came. Exit 0 either way.

    Prints one line: "stored ...", "acked N", "welcome ...",
    "error CODE-NAME: reason" or "no answer". Exit 0 for stored, acked or
    welcome; 1 for an error reply (or an unexpected one); 2 for usage;
    3 for no answer within the timeout.

    Everything allocated here is freed before exit, so the ASan build of
    the probe stays quiet too.
*/
#include "../../broker/cc_broker.h"
#include <openssl/rand.h>

#define PROBE_EXIT_NO_ANSWER  3

typedef struct {
    const char *to;             //  HOST:PORT (control is PORT+1)
    const char *key;            //  our identity (secret key file)
    const char *server_pub;     //  the broker's public key file
    int timeout_ms;             //  wait this long for the reply
    const char *mode;           //  publish-mutated, ack-as, hello
    const char *delegation;     //  delegation file (publish-mutated)
    const char *mutate;         //  mutation name (publish-mutated)
    const char *sector;         //  target sector or "all"
    const char *id;             //  advisory id
    uint32_t revision;          //  advisory revision
    const char *root;           //  root secret key (delegation-expired)
    const char *sign_key;       //  key the ack is signed with (ack-as)
    const char *digest;         //  hex SHA-256 quoted in the ack (ack-as)
    const char *digest_of;      //  data dir holding the advisory (ack-as)
    const char *topic;          //  topic to subscribe to (subscribe)
    int status;                 //  Certcast__AckStatus of the ack (ack-as)
    size_t reason_bytes;        //  length of the entry's reason (ack-as)
    const char *reason;         //  the entry's reason (ack-as)
    bool print_digest;          //  print the digest named (ack-as)
    size_t copies;              //  SignedAcks in the request (ack-as)
    size_t requests;            //  times the request is sent (ack-as)
    int64_t ack_time;           //  the ack's signed time, 0: now (ack-as)
    bool forge;                 //  flip a bit of the ack's signature
    const char *entries [16];   //  .pub files listed (roster)
    size_t n_entries;
    const char *entry_role;     //  role of every entry instead (roster)
    const char *entry_sector;   //  sector of every entry instead (roster)
    int parts, fill, entry_bytes;   //  roster-flood
} s_args_t;

static int
s_usage (const char *why)
{
    fprintf (stderr, "cc_probe: %s\n"
             "usage: cc_probe --to HOST:PORT --key FILE --server-pub FILE "
             "[--timeout MS] publish-mutated|ack-as|hello|subscribe|"
             "fetch-flood|roster|roster-flood [options]\n", why);
    return 2;
}

static uint64_t
s_random64 (void)
{
    uint64_t value = 0;
    while (value == 0) {
        int rc = RAND_bytes ((unsigned char *) &value, sizeof value);
        assert (rc == 1);
    }
    return value;
}

static int
s_parse (int argc, char **argv, s_args_t *args)
{
    memset (args, 0, sizeof *args);
    args->timeout_ms = 3000;
    args->sector = "banking";
    args->revision = 1;
    args->mutate = "none";
    args->status = CERTCAST__ACK_STATUS__RECEIVED;
    args->copies = 1;
    args->requests = 1;
    args->entry_bytes = 2000;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv [index];
        if (strncmp (arg, "--", 2) != 0) {
            if (args->mode)
                return s_usage ("more than one MODE given");
            args->mode = arg;
            continue;
        }
        if (index + 1 >= argc)
            return s_usage ("option needs a value");
        const char *value = argv [++index];
        if (streq (arg, "--to"))
            args->to = value;
        else
        if (streq (arg, "--key"))
            args->key = value;
        else
        if (streq (arg, "--server-pub"))
            args->server_pub = value;
        else
        if (streq (arg, "--timeout"))
            args->timeout_ms = atoi (value);
        else
        if (streq (arg, "--delegation"))
            args->delegation = value;
        else
        if (streq (arg, "--mutate"))
            args->mutate = value;
        else
        if (streq (arg, "--sector"))
            args->sector = value;
        else
        if (streq (arg, "--id"))
            args->id = value;
        else
        if (streq (arg, "--revision"))
            args->revision = (uint32_t) strtoul (value, NULL, 10);
        else
        if (streq (arg, "--root"))
            args->root = value;
        else
        if (streq (arg, "--sign-key"))
            args->sign_key = value;
        else
        if (streq (arg, "--digest"))
            args->digest = value;
        else
        if (streq (arg, "--digest-of"))
            args->digest_of = value;
        else
        if (streq (arg, "--topic"))
            args->topic = value;
        else
        if (streq (arg, "--reason-bytes"))
            args->reason_bytes = strtoul (value, NULL, 10);
        else
        if (streq (arg, "--reason"))
            args->reason = value;
        else
        if (streq (arg, "--print-digest"))
            args->print_digest = streq (value, "yes");
        else
        if (streq (arg, "--forge"))
            args->forge = streq (value, "yes");
        else
        if (streq (arg, "--ack-time"))
            args->ack_time = strtoll (value, NULL, 10);
        else
        if (streq (arg, "--requests")) {
            args->requests = strtoul (value, NULL, 10);
            if (args->requests == 0)
                return s_usage ("--requests must be positive");
        }
        else
        if (streq (arg, "--copies")) {
            args->copies = strtoul (value, NULL, 10);
            if (args->copies == 0)
                return s_usage ("--copies must be positive");
        }
        else
        if (streq (arg, "--entry")) {
            if (args->n_entries == 16)
                return s_usage ("at most 16 --entry");
            args->entries [args->n_entries++] = value;
        }
        else
        if (streq (arg, "--entry-role"))
            args->entry_role = value;
        else
        if (streq (arg, "--entry-sector"))
            args->entry_sector = value;
        else
        if (streq (arg, "--parts"))
            args->parts = atoi (value);
        else
        if (streq (arg, "--fill"))
            args->fill = atoi (value);
        else
        if (streq (arg, "--entry-bytes"))
            args->entry_bytes = atoi (value);
        else
        if (streq (arg, "--status")) {
            const char *names [] = {
                "received", "applied", "not-applicable", "failed", NULL
            };
            args->status = 0;
            for (int name = 0; names [name]; name++)
                if (streq (value, names [name]))
                    args->status = CERTCAST__ACK_STATUS__RECEIVED + name;
            if (!args->status)
                return s_usage ("unknown --status");
        }
        else
            return s_usage ("unknown option");
    }
    if (!args->to || !args->key || !args->server_pub || !args->mode)
        return s_usage ("--to, --key, --server-pub and MODE are required");
    if (args->timeout_ms <= 0)
        return s_usage ("--timeout must be a positive number of ms");
    return 0;
}

static cc_keys_t *
s_load (const char *path, bool need_secret)
{
    const char *reason = NULL;
    cc_keys_t *keys = cc_keys_load (path, &reason);
    if (!keys)
        fprintf (stderr, "cc_probe: cannot load %s: %s\n", path,
                 reason? reason: "unreadable");
    else
    if (need_secret && !cc_keys_has_secret (keys)) {
        fprintf (stderr, "cc_probe: %s has no secret key\n", path);
        cc_keys_destroy (&keys);
    }
    return keys;
}

//  Flip one bit in the middle of a bytes field.
static void
s_flip (ProtobufCBinaryData *field)
{
    assert (field->len > 0);
    field->data [field->len / 2] ^= 0x01;
}

//  --------------------------------------------------------------------------
//  publish-mutated: a Control{Publish} frame, mutated as asked.
//  Returns the frame to send, or NULL after a line on stderr.

static zframe_t *
s_publish_frame (const s_args_t *args, cc_keys_t *issuer, uint64_t corr)
{
    const char *mutate = args->mutate;
    static const char *known [] = {
        "none", "sig-flip", "adv-flip", "wrong-key", "truncate", "garbage",
        "empty", "oversize", "future", "expired", "delegation-expired",
        "untrusted", "no-tlp", NULL
    };
    bool valid = false;
    for (const char **name = known; *name; name++)
        valid = valid || streq (*name, mutate);
    if (!valid) {
        s_usage ("unknown --mutate");
        return NULL;
    }
    //  Frames that are not a Control at all need no advisory
    if (streq (mutate, "empty"))
        return zframe_new (NULL, 0);
    if (streq (mutate, "garbage")) {
        zframe_t *frame = zframe_new (NULL, 64);
        int rc = RAND_bytes (zframe_data (frame), 64);
        assert (rc == 1);
        //  Field 1, wire type 7 (no such wire type): protobuf-c must
        //  refuse it, so "random" never decodes as a request by luck.
        zframe_data (frame) [0] = 0x0F;
        return frame;
    }
    if (streq (mutate, "oversize")) {
        zframe_t *frame = zframe_new (NULL, CC_WIRE_MAX_FRAME + 1024);
        memset (zframe_data (frame), 0x5A, zframe_size (frame));
        return frame;
    }
    if (!args->delegation) {
        s_usage ("publish-mutated needs --delegation FILE");
        return NULL;
    }
    size_t delegation_size = 0;
    uint8_t *delegation = cc_delegation_load (args->delegation,
                                              &delegation_size);
    if (!delegation) {
        fprintf (stderr, "cc_probe: cannot read delegation %s\n",
                 args->delegation);
        return NULL;
    }
    int64_t now = (int64_t) time (NULL);
    bool all_sectors = streq (args->sector, "all");
    const char *sectors [] = { args->sector, NULL };

    //  Delegation mutations: replace the delegation bytes we attach
    if (streq (mutate, "delegation-expired") || streq (mutate, "untrusted")) {
        cc_keys_t *root = NULL;
        bool fresh_root = streq (mutate, "untrusted");
        if (fresh_root)
            root = cc_keys_generate ();
        else
        if (!args->root) {
            free (delegation);
            s_usage ("--mutate delegation-expired needs --root ROOT.key");
            return NULL;
        }
        else
            root = s_load (args->root, true);
        if (!root) {
            free (delegation);
            return NULL;
        }
        int64_t not_before = fresh_root? now - 300: now - 2 * 86400;
        int64_t not_after = fresh_root? now + 86400: now - 86400;
        free (delegation);
        delegation = cc_delegation_issue (root, cc_keys_sign_public (issuer),
                                          "cc_probe", all_sectors,
                                          all_sectors? NULL: sectors,
                                          not_before, not_after,
                                          (uint64_t) now, &delegation_size);
        cc_keys_destroy (&root);
        assert (delegation);
    }

    char default_id [64];
    snprintf (default_id, sizeof default_id, "PROBE-%016" PRIx64,
              s_random64 ());
    Certcast__Advisory advisory = CERTCAST__ADVISORY__INIT;
    advisory.id = (char *) (args->id? args->id: default_id);
    advisory.revision = args->revision;
    advisory.kind = CERTCAST__KIND__SECURITY_ANNOUNCEMENT;
    advisory.severity = CERTCAST__SEVERITY__HIGH;
    advisory.tlp = streq (mutate, "no-tlp")? CERTCAST__TLP__TLP_UNSPECIFIED
                                           : CERTCAST__TLP__GREEN;
    advisory.all_sectors = all_sectors;
    if (!all_sectors) {
        advisory.n_sectors = 1;
        advisory.sectors = (char **) sectors;
    }
    char title [128];
    snprintf (title, sizeof title, "cc_probe advisory (mutate %s)", mutate);
    advisory.title = title;
    advisory.content_type = (char *) "text/plain";
    advisory.issued_at = streq (mutate, "future")? now + 3600: now;
    advisory.expires_at = streq (mutate, "expired")? now - 10: 0;
    const char *name = cc_keys_meta (issuer, "name");
    advisory.issuer = (char *) (name? name: "cc_probe");

    size_t advisory_size = 0;
    uint8_t *advisory_bytes = cc_wire_pack (&advisory.base, &advisory_size);
    cc_keys_t *signer = streq (mutate, "wrong-key")? cc_keys_generate (): NULL;
    size_t signed_size = 0;
    uint8_t *signed_bytes = cc_advisory_sign (signer? signer: issuer,
                                              advisory_bytes, advisory_size,
                                              delegation, delegation_size,
                                              &signed_size);
    cc_keys_destroy (&signer);
    free (advisory_bytes);
    free (delegation);
    if (!signed_bytes) {
        fprintf (stderr, "cc_probe: cannot sign (delegation %s does not "
                 "decode)\n", args->delegation);
        return NULL;
    }
    //  Bit flips after signing: re-encoding the envelope is harmless (it
    //  is not what is signed); the flipped field is what must be caught.
    if (streq (mutate, "sig-flip") || streq (mutate, "adv-flip")) {
        Certcast__Signed *envelope = (Certcast__Signed *) cc_wire_unpack (
            &certcast__signed__descriptor, signed_bytes, signed_size,
            CC_WIRE_MAX_SIGNED);
        assert (envelope);
        s_flip (streq (mutate, "sig-flip")? &envelope->signature
                                           : &envelope->advisory);
        free (signed_bytes);
        signed_bytes = cc_wire_pack (&envelope->base, &signed_size);
        certcast__signed__free_unpacked (envelope, NULL);
    }

    Certcast__Publish publish = CERTCAST__PUBLISH__INIT;
    publish.signed_.data = signed_bytes;
    publish.signed_.len = signed_size;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = corr;
    control.body_case = CERTCAST__CONTROL__BODY_PUBLISH;
    control.publish = &publish;
    zframe_t *frame = cc_wire_control_encode (&control);
    free (signed_bytes);
    if (streq (mutate, "truncate")) {
        zframe_t *half = zframe_new (zframe_data (frame),
                                     zframe_size (frame) / 2);
        zframe_destroy (&frame);
        frame = half;
    }
    return frame;
}

//  --------------------------------------------------------------------------
//  ack-as: Control{Acks} with one SignedAck signed by --sign-key.

static zframe_t *
s_ack_frame (const s_args_t *args, uint64_t corr)
{
    if (!args->sign_key || !args->id) {
        s_usage ("ack-as needs --sign-key FILE and --id ID");
        return NULL;
    }
    uint8_t digest [32] = { 0 };
    if (args->digest && cc_hex_decode (args->digest, digest, 32) != 0) {
        s_usage ("--digest must be 64 hex digits");
        return NULL;
    }
    const char *ids [] = { args->id };
    if (args->digest_of
    &&  cc_ledger_held_digests (args->digest_of, ids, 1, args->revision,
                                &digest) != 1) {
        fprintf (stderr, "cc_probe: --digest-of %s: %s rev %u not held "
                 "there\n", args->digest_of, args->id, args->revision);
        return NULL;
    }
    cc_keys_t *signer = s_load (args->sign_key, true);
    if (!signer)
        return NULL;
    int64_t now = args->ack_time? args->ack_time: (int64_t) time (NULL);
    Certcast__AckEntry entry = CERTCAST__ACK_ENTRY__INIT;
    entry.advisory_id = (char *) args->id;
    entry.revision = args->revision;
    entry.digest.data = digest;
    entry.digest.len = sizeof digest;
    entry.status = (Certcast__AckStatus) args->status;
    entry.received_at = now;
    if (args->print_digest) {
        char hex [65];
        cc_hex_encode (digest, 32, hex);
        printf ("digest %s\n", hex);
    }
    char *reason = NULL;
    if (args->reason)
        entry.reason = (char *) args->reason;
    else
    if (args->reason_bytes) {
        reason = (char *) zmalloc (args->reason_bytes + 1);
        memset (reason, 'r', args->reason_bytes);
        entry.reason = reason;
    }
    Certcast__AckEntry *entries [] = { &entry };
    Certcast__Ack ack = CERTCAST__ACK__INIT;
    ack.agent_key.data = (uint8_t *) cc_keys_sign_public (signer);
    ack.agent_key.len = 32;
    ack.time = now;
    ack.nonce = s_random64 ();
    ack.n_entries = 1;
    ack.entries = entries;
    size_t ack_size = 0;
    uint8_t *ack_bytes = cc_wire_pack (&ack.base, &ack_size);
    uint8_t signature [64];
    int rc = cc_keys_sign (signer, ack_bytes, ack_size, signature);
    assert (rc == 0);
    if (args->forge)
        signature [0] ^= 0x01;
    cc_keys_destroy (&signer);

    Certcast__SignedAck signed_ack = CERTCAST__SIGNED_ACK__INIT;
    signed_ack.ack.data = ack_bytes;
    signed_ack.ack.len = ack_size;
    signed_ack.signature.data = signature;
    signed_ack.signature.len = sizeof signature;
    Certcast__SignedAck **list = (Certcast__SignedAck **) zmalloc (
        args->copies * sizeof (Certcast__SignedAck *));
    for (size_t index = 0; index < args->copies; index++)
        list [index] = &signed_ack;
    Certcast__Acks acks = CERTCAST__ACKS__INIT;
    acks.n_acks = args->copies;
    acks.acks = list;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = corr;
    control.body_case = CERTCAST__CONTROL__BODY_ACKS;
    control.acks = &acks;
    zframe_t *frame = cc_wire_control_encode (&control);
    free (list);
    free (reason);
    free (ack_bytes);
    return frame;
}

//  --------------------------------------------------------------------------
//  roster: a Roster naming the --entry keys, as the relay we pass for.

static zframe_t *
s_roster_frame (const s_args_t *args, cc_keys_t *keys, uint64_t corr)
{
    cc_keys_t *listed [16] = { NULL };
    Certcast__RosterEntry entries [16];
    Certcast__RosterEntry *pointers [16];
    zframe_t *frame = NULL;
    size_t index = 0;
    for (; index < args->n_entries; index++) {
        listed [index] = s_load (args->entries [index], false);
        if (!listed [index])
            goto done;
        cc_keys_t *entry_keys = listed [index];
        Certcast__RosterEntry *entry = &entries [index];
        certcast__roster_entry__init (entry);
        entry->sign_key.data = (uint8_t *) cc_keys_sign_public (entry_keys);
        entry->sign_key.len = 32;
        entry->name = (char *) cc_keys_meta (entry_keys, "name");
        entry->role = (char *) (args->entry_role? args->entry_role:
                                cc_keys_meta (entry_keys, "role"));
        entry->org = (char *) cc_keys_meta (entry_keys, "org");
        entry->sector = (char *) (args->entry_sector? args->entry_sector:
                                  cc_keys_meta (entry_keys, "sector"));
        entry->entity_class = (char *) cc_keys_meta (entry_keys, "class");
        entry->contact = (char *) cc_keys_meta (entry_keys, "contact");
        pointers [index] = entry;
    }
    const char *name = cc_keys_meta (keys, "name");
    Certcast__Roster roster = CERTCAST__ROSTER__INIT;
    roster.relay = (char *) (name? name: "cc_probe");
    roster.n_entries = args->n_entries;
    roster.entries = pointers;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = corr;
    control.body_case = CERTCAST__CONTROL__BODY_ROSTER;
    control.roster = &roster;
    frame = cc_wire_control_encode (&control);
done:
    for (size_t loaded = 0; loaded < args->n_entries; loaded++)
        cc_keys_destroy (&listed [loaded]);
    return frame;
}

static int
    s_print_reply (const Certcast__Control *reply);

//  roster-flood: parts of a roster that never completes, one at a time
//  (a relay that sends its first parts and never its last).
static int
s_roster_flood (s_args_t *args, zsock_t *dealer)
{
    if (args->parts < 1 || args->fill < 1 || args->entry_bytes < 64) {
        s_usage ("roster-flood needs --parts N, --fill K (and --entry-bytes "
                 "of at least 64)");
        return 2;
    }
    size_t contact_size = (size_t) args->entry_bytes - 48;
    char *contact = (char *) malloc (contact_size + 1);
    memset (contact, 'x', contact_size);
    contact [contact_size] = 0;
    Certcast__RosterEntry *entries = (Certcast__RosterEntry *)
        zmalloc ((size_t) args->fill * sizeof (Certcast__RosterEntry));
    Certcast__RosterEntry **pointers = (Certcast__RosterEntry **)
        zmalloc ((size_t) args->fill * sizeof (Certcast__RosterEntry *));
    uint8_t (*keys) [32] = (uint8_t (*) [32]) zmalloc ((size_t) args->fill * 32);
    uint64_t generation = s_random64 ();
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int staged = 0, exit_code = 0;
    for (int part = 1; part <= args->parts && exit_code == 0; part++) {
        for (int index = 0; index < args->fill; index++) {
            Certcast__RosterEntry *entry = &entries [index];
            certcast__roster_entry__init (entry);
            int rc = RAND_bytes (keys [index], 32);
            assert (rc == 1);
            entry->sign_key.data = keys [index];
            entry->sign_key.len = 32;
            entry->name = "flood";
            entry->role = "agent";
            entry->sector = "banking";
            entry->contact = contact;
            pointers [index] = entry;
        }
        Certcast__Roster roster = CERTCAST__ROSTER__INIT;
        roster.relay = "cc_probe";
        roster.n_entries = (size_t) args->fill;
        roster.entries = pointers;
        roster.generation = generation;
        roster.part = (uint32_t) part;
        roster.parts = (uint32_t) args->parts + 1;
        uint64_t corr = s_random64 ();
        Certcast__Control control = CERTCAST__CONTROL__INIT;
        control.corr = corr;
        control.body_case = CERTCAST__CONTROL__BODY_ROSTER;
        control.roster = &roster;
        zframe_t *frame = cc_wire_control_encode (&control);
        if (zframe_send (&frame, dealer, 0) == -1) {
            zframe_destroy (&frame);
            exit_code = PROBE_EXIT_NO_ANSWER;
            break;
        }
        Certcast__Control *reply = NULL;
        int64_t deadline = zclock_mono () + args->timeout_ms;
        while (!reply) {
            int64_t remaining = deadline - zclock_mono ();
            if (remaining <= 0 || !zpoller_wait (poller, (int) remaining))
                break;
            zframe_t *reply_frame = zframe_recv (dealer);
            reply = reply_frame? cc_wire_control_decode (reply_frame): NULL;
            zframe_destroy (&reply_frame);
            if (reply && reply->corr != corr && reply->corr != 0) {
                certcast__control__free_unpacked (reply, NULL);
                reply = NULL;
            }
        }
        if (!reply)
            exit_code = PROBE_EXIT_NO_ANSWER;
        else
        if (reply->body_case == CERTCAST__CONTROL__BODY_ACKED)
            staged++;
        else {
            printf ("staged %d parts, then ", staged);
            exit_code = s_print_reply (reply);
            if (exit_code == 0)
                exit_code = 1;
        }
        if (reply)
            certcast__control__free_unpacked (reply, NULL);
    }
    if (exit_code == 0)
        printf ("staged %d parts\n", staged);
    else
    if (exit_code == PROBE_EXIT_NO_ANSWER)
        printf ("staged %d parts, then no answer\n", staged);
    zpoller_destroy (&poller);
    free (keys);
    free (pointers);
    free (entries);
    free (contact);
    return exit_code;
}

static zframe_t *
s_hello_frame (cc_keys_t *keys, uint64_t corr)
{
    Certcast__Hello hello = CERTCAST__HELLO__INIT;
    const char *name = cc_keys_meta (keys, "name");
    hello.node = (char *) (name? name: "cc_probe");
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = corr;
    control.body_case = CERTCAST__CONTROL__BODY_HELLO;
    control.hello = &hello;
    return cc_wire_control_encode (&control);
}

//  --------------------------------------------------------------------------
//  Print the reply in one line; returns the exit code.

static int
s_print_reply (const Certcast__Control *reply)
{
    switch (reply->body_case) {
        case CERTCAST__CONTROL__BODY_STORED:
            printf ("stored %s rev %" PRIu32 ":", reply->stored->id,
                    reply->stored->revision);
            for (size_t index = 0; index < reply->stored->n_placed; index++)
                printf (" %s#%" PRIu64, reply->stored->placed [index]->stream,
                        reply->stored->placed [index]->head);
            printf ("\n");
            return 0;
        case CERTCAST__CONTROL__BODY_ACKED:
            printf ("acked %" PRIu32, reply->acked->count);
            for (size_t index = 0; index < reply->acked->n_refused; index++)
                printf ("%s%s: %s", index? "; ": " not taken: ",
                        reply->acked->refused [index]->name,
                        reply->acked->refused [index]->reason);
            printf ("\n");
            return 0;
        case CERTCAST__CONTROL__BODY_WELCOME:
            printf ("welcome %s:", reply->welcome->node);
            for (size_t index = 0; index < reply->welcome->n_heads; index++)
                printf (" %s#%" PRIu64, reply->welcome->heads [index]->stream,
                        reply->welcome->heads [index]->head);
            printf ("\n");
            return 0;
        case CERTCAST__CONTROL__BODY_ERROR:
            printf ("error %s: %s\n", cc_strerror (reply->error->code),
                    reply->error->reason? reply->error->reason: "");
            return 1;
        default:
            printf ("unexpected reply (body %d)\n", (int) reply->body_case);
            return 1;
    }
}

//  The same request (its corr rewritten) --requests times at once; the
//  replies counted by kind.
static int
s_requests (s_args_t *args, zsock_t *dealer, zframe_t **frame_p)
{
    Certcast__Control *request = cc_wire_control_decode (*frame_p);
    zframe_destroy (frame_p);
    assert (request);
    for (size_t index = 0; index < args->requests; index++) {
        request->corr = index + 1;
        zframe_t *frame = cc_wire_control_encode (request);
        if (zframe_send (&frame, dealer, 0) == -1) {
            zframe_destroy (&frame);
            break;
        }
    }
    certcast__control__free_unpacked (request, NULL);
    size_t acked = 0, busy = 0, other = 0;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int64_t deadline = zclock_mono () + args->timeout_ms;
    while (acked + busy + other < args->requests && zclock_mono () < deadline
       &&  zpoller_wait (poller, (int) (deadline - zclock_mono ()))) {
        zframe_t *frame = zframe_recv (dealer);
        Certcast__Control *reply = frame? cc_wire_control_decode (frame): NULL;
        zframe_destroy (&frame);
        if (!reply)
            continue;
        if (reply->body_case == CERTCAST__CONTROL__BODY_ACKED)
            acked++;
        else
        if (reply->body_case == CERTCAST__CONTROL__BODY_ERROR
        &&  (int) reply->error->code == CC_EBUSY)
            busy++;
        else
            other++;
        certcast__control__free_unpacked (reply, NULL);
    }
    zpoller_destroy (&poller);
    printf ("acked %zu busy %zu other %zu\n", acked, busy, other);
    return 0;
}

//  N fetches of a whole stream sent at once, their replies left unread
//  for --timeout ms, then counted.
static int
s_fetch_flood (s_args_t *args, cc_keys_t *keys, cc_keys_t *server,
               const char *host, int port)
{
    zsock_t *dealer = cc_keys_client (keys, ZMQ_DEALER,
                                      cc_keys_curve_public (server));
    zsock_set_sndtimeo (dealer, args->timeout_ms);
    zsock_set_rcvhwm (dealer, 1);        //  leave the replies at the broker
    if (zsock_connect (dealer, "tcp://%s:%d", host, port + 1) == -1) {
        fprintf (stderr, "cc_probe: cannot connect to %s\n", args->to);
        zsock_destroy (&dealer);
        return 1;
    }
    Certcast__Fetch fetch = CERTCAST__FETCH__INIT;
    fetch.stream = (char *) args->topic;
    fetch.from = 1;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.body_case = CERTCAST__CONTROL__BODY_FETCH;
    control.fetch = &fetch;
    for (size_t index = 0; index < args->copies; index++) {
        control.corr = index + 1;
        zframe_t *frame = cc_wire_control_encode (&control);
        if (zframe_send (&frame, dealer, 0) == -1) {
            zframe_destroy (&frame);
            break;
        }
    }
    zclock_sleep (args->timeout_ms);
    size_t deliveries = 0, busy = 0;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int64_t deadline = zclock_mono () + 2000;
    while (zclock_mono () < deadline
       &&  zpoller_wait (poller, (int) (deadline - zclock_mono ()))) {
        zframe_t *frame = zframe_recv (dealer);
        Certcast__Control *reply = frame? cc_wire_control_decode (frame): NULL;
        zframe_destroy (&frame);
        if (reply && reply->body_case == CERTCAST__CONTROL__BODY_DELIVERIES)
            deliveries++;
        if (reply && reply->body_case == CERTCAST__CONTROL__BODY_ERROR
        &&  (int) reply->error->code == CC_EBUSY)
            busy++;
        if (reply)
            certcast__control__free_unpacked (reply, NULL);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    printf ("deliveries %zu busy %zu\n", deliveries, busy);
    return 0;
}

//  Listen on the stream port for --timeout ms; one line per topic heard.
static int
s_subscribe (s_args_t *args, cc_keys_t *keys, cc_keys_t *server,
             const char *host, int port)
{
    zsock_t *sub = cc_keys_client (keys, ZMQ_SUB, cc_keys_curve_public (server));
    zsock_set_subscribe (sub, args->topic);
    zsock_set_rcvtimeo (sub, 100);
    if (zsock_connect (sub, "tcp://%s:%d", host, port) == -1) {
        fprintf (stderr, "cc_probe: cannot connect to %s\n", args->to);
        zsock_destroy (&sub);
        return 1;
    }
    zhashx_t *heard = zhashx_new ();
    int64_t until = zclock_mono () + args->timeout_ms;
    while (zclock_mono () < until) {
        zmsg_t *msg = zmsg_recv (sub);
        if (!msg)
            continue;
        char *topic = zmsg_popstr (msg);
        zframe_t *body = zmsg_pop (msg);
        Certcast__StreamMsg *message = body? (Certcast__StreamMsg *)
            cc_wire_unpack (&certcast__stream_msg__descriptor,
                            zframe_data (body), zframe_size (body),
                            CC_WIRE_MAX_FRAME): NULL;
        bool delivery = message && message->body_case
                                   == CERTCAST__STREAM_MSG__BODY_DELIVERY;
        if (message)
            certcast__stream_msg__free_unpacked (message, NULL);
        zframe_destroy (&body);
        if (topic && delivery && !zhashx_lookup (heard, topic)) {
            zhashx_insert (heard, topic, (void *) 1);
            printf ("got %s\n", topic);
        }
        zstr_free (&topic);
        zmsg_destroy (&msg);
    }
    if (zhashx_size (heard) == 0)
        printf ("nothing\n");
    zhashx_destroy (&heard);
    zsock_destroy (&sub);
    return 0;
}

int
main (int argc, char **argv)
{
    s_args_t args;
    int exit_code = s_parse (argc, argv, &args);
    if (exit_code)
        return exit_code;
    char host [256];
    int port = 0;
    if (cc_config_endpoint (args.to, host, &port))
        return s_usage ("--to must be HOST:PORT");
    if (!streq (args.mode, "publish-mutated") && !streq (args.mode, "ack-as")
    &&  !streq (args.mode, "hello") && !streq (args.mode, "subscribe")
    &&  !streq (args.mode, "fetch-flood") && !streq (args.mode, "roster")
    &&  !streq (args.mode, "roster-flood"))
        return s_usage ("MODE must be publish-mutated, ack-as, hello, "
                        "subscribe, fetch-flood, roster or roster-flood");
    if ((streq (args.mode, "subscribe") || streq (args.mode, "fetch-flood"))
    &&  !args.topic)
        return s_usage ("subscribe and fetch-flood need --topic");

    zsys_init ();
    zsys_set_logident ("cc_probe");
    cc_keys_t *keys = s_load (args.key, true);
    cc_keys_t *server = keys? s_load (args.server_pub, false): NULL;
    if (!server) {
        cc_keys_destroy (&keys);
        return 1;
    }
    if (streq (args.mode, "subscribe") || streq (args.mode, "fetch-flood")) {
        exit_code = streq (args.mode, "subscribe")
                  ? s_subscribe (&args, keys, server, host, port)
                  : s_fetch_flood (&args, keys, server, host, port);
        cc_keys_destroy (&server);
        cc_keys_destroy (&keys);
        return exit_code;
    }
    uint64_t corr = s_random64 ();
    zframe_t *frame = NULL;
    if (streq (args.mode, "publish-mutated")) {
        //  Signed as --sign-key's issuer (with its --delegation), sent as
        //  our --key: an issuer presenting another's advisory.
        cc_keys_t *signer = args.sign_key? s_load (args.sign_key, true): NULL;
        if (!args.sign_key || signer)
            frame = s_publish_frame (&args, signer? signer: keys, corr);
        cc_keys_destroy (&signer);
    }
    else
    if (streq (args.mode, "ack-as"))
        frame = s_ack_frame (&args, corr);
    else
    if (streq (args.mode, "roster"))
        frame = s_roster_frame (&args, keys, corr);
    else
    if (streq (args.mode, "hello"))
        frame = s_hello_frame (keys, corr);
    bool flood = streq (args.mode, "roster-flood");
    if (!frame && !flood) {
        cc_keys_destroy (&server);
        cc_keys_destroy (&keys);
        return 2;
    }

    zsock_t *dealer = cc_keys_client (keys, ZMQ_DEALER,
                                      cc_keys_curve_public (server));
    //  A send must not outlive --timeout either: after a refused CURVE
    //  handshake the DEALER may have no pipe left, and would block forever.
    zsock_set_sndtimeo (dealer, args.timeout_ms);
    cc_keys_destroy (&server);

    exit_code = PROBE_EXIT_NO_ANSWER;
    if (zsock_connect (dealer, "tcp://%s:%d", host, port + 1) == -1) {
        fprintf (stderr, "cc_probe: cannot connect to %s\n", args.to);
        zframe_destroy (&frame);
        exit_code = 1;
    }
    else
    if (args.requests > 1)
        exit_code = s_requests (&args, dealer, &frame);
    else
    if (flood)
        exit_code = s_roster_flood (&args, dealer);
    else
    if (zframe_send (&frame, dealer, 0) == -1) {
        //  Nobody to send to within the timeout: as good as no answer
        zframe_destroy (&frame);
        printf ("no answer\n");
    }
    else {
        zpoller_t *poller = zpoller_new (dealer, NULL);
        assert (poller);
        int64_t deadline = zclock_mono () + args.timeout_ms;
        while (exit_code == PROBE_EXIT_NO_ANSWER) {
            int64_t remaining = deadline - zclock_mono ();
            if (remaining <= 0 || !zpoller_wait (poller, (int) remaining))
                break;
            zframe_t *reply_frame = zframe_recv (dealer);
            Certcast__Control *reply = reply_frame
                ? cc_wire_control_decode (reply_frame): NULL;
            zframe_destroy (&reply_frame);
            if (!reply)
                continue;
            //  A frame the broker could not decode has no corr to echo: it
            //  answers with corr 0.
            if (reply->corr == corr || reply->corr == 0)
                exit_code = s_print_reply (reply);
            certcast__control__free_unpacked (reply, NULL);
        }
        zpoller_destroy (&poller);
        if (exit_code == PROBE_EXIT_NO_ANSWER)
            printf ("no answer\n");
    }
    zsock_destroy (&dealer);
    cc_keys_destroy (&keys);
    return exit_code;
}
