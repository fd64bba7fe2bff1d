/*  cc_fakerelay.c - a hostile relay for the integration tests: it binds
    what a relay binds (PUB on PORT, ROUTER on PORT+1, CURVE server as the
    relay's key), so a real certcast-agent connects to it, and answers as
    told: Welcomes listing streams of other sectors or thousands of names,
    genuinely signed advisories of other sectors or already expired, fetch
    replies with more entries than asked or that answer nothing, Acked for
    acks it was never sent.

    cc_fakerelay --listen PORT --key RELAY.key --issuer ISSUER.key
                 --delegation FILE [options]

    --advisory STREAM,ID,SECTOR[,expired]   (repeatable) signed by --issuer
        with --delegation, numbered 1, 2 ... on STREAM in the order given,
        listed in every Welcome (head = the last) and served to Fetch;
        SECTOR may be "all"; "expired": expired 30 s ago
    --tlp red|green         the advisories' TLP (default green)
    --extra-streams N       every Welcome also lists N new names
                            "fake-K/SECTOR" (K counts on across Welcomes)
                            and a few names of the wrong form
    --extra-sector S        SECTOR of those names (default banking)
    --flood N               before each fetch reply, a reply to the same
                            fetch with N empty deliveries, and one of 200
                            empty deliveries to a fetch never sent
    --acked-unasked         half a second after a fetch reply that
                            carried advisories (after the agent's commit),
                            Acked for corr 1 to 8: acks the agent may have
                            committed but not sent yet
    --no-acked              never confirm an ack
    --duration MS           exit after MS (default: until SIGTERM)

    Prints, one line each, as it happens: "hello", "fetch STREAM FROM",
    "acks CORR" and "ack CORR ID REVISION" per entry of a SignedAck it got.
    Exit 0; 2 for usage; 1 if a key, the delegation or a bind fails.
*/
#include "../../broker/cc_broker.h"

#define ADVISORIES_MAX  16
#define HEARTBEAT_MS    200
#define CORR_FETCH      (1ULL << 61)    //  an agent's fetch corrs have it
#define CORR_FETCH_UNASKED  (CORR_FETCH | 0xFFFFFFF0ULL)   //  none sent

typedef struct {
    char stream [128];
    char id [64];
    char sector [64];
    bool expired;
    uint64_t seq;
    uint8_t *delivery;          //  encoded Delivery (owned)
    size_t delivery_size;
} s_advisory_t;

typedef struct {
    int port;
    const char *key, *issuer, *delegation;
    int tlp;
    s_advisory_t advisories [ADVISORIES_MAX];
    size_t n_advisories;
    size_t extra_streams;
    const char *extra_sector;
    size_t flood;
    bool acked_unasked;
    bool no_acked;
    int64_t duration_ms;
    uint64_t extra_next;        //  K of the next made-up name
    int64_t acked_at;           //  mono ms to send the unasked Acked, 0: no
    zframe_t *acked_to;         //  ... to this peer (owned)
} s_relay_t;

static int
s_usage (const char *why)
{
    fprintf (stderr, "cc_fakerelay: %s\nusage: cc_fakerelay --listen PORT "
             "--key RELAY.key --issuer ISSUER.key --delegation FILE "
             "[--advisory STREAM,ID,SECTOR[,expired]]... [--tlp red|green] "
             "[--extra-streams N] [--extra-sector S] [--flood N] "
             "[--acked-unasked] [--no-acked] [--duration MS]\n", why);
    return 2;
}

static int
s_parse_advisory (s_relay_t *self, const char *spec)
{
    if (self->n_advisories == ADVISORIES_MAX)
        return s_usage ("too many --advisory");
    s_advisory_t *advisory = &self->advisories [self->n_advisories];
    char expired [16] = "";
    if (sscanf (spec, "%127[^,],%63[^,],%63[^,],%15s", advisory->stream,
                advisory->id, advisory->sector, expired) < 3)
        return s_usage ("--advisory is STREAM,ID,SECTOR[,expired]");
    advisory->expired = streq (expired, "expired");
    advisory->seq = 1;
    for (size_t index = 0; index < self->n_advisories; index++)
        if (streq (self->advisories [index].stream, advisory->stream))
            advisory->seq++;
    self->n_advisories++;
    return 0;
}

static int
s_parse (s_relay_t *self, int argc, char **argv)
{
    self->tlp = CERTCAST__TLP__GREEN;
    self->extra_sector = "banking";
    for (int index = 1; index < argc; index++) {
        const char *arg = argv [index];
        if (streq (arg, "--acked-unasked")) {
            self->acked_unasked = true;
            continue;
        }
        if (streq (arg, "--no-acked")) {
            self->no_acked = true;
            continue;
        }
        if (index + 1 >= argc)
            return s_usage ("option needs a value");
        const char *value = argv [++index];
        if (streq (arg, "--listen"))
            self->port = atoi (value);
        else
        if (streq (arg, "--key"))
            self->key = value;
        else
        if (streq (arg, "--issuer"))
            self->issuer = value;
        else
        if (streq (arg, "--delegation"))
            self->delegation = value;
        else
        if (streq (arg, "--advisory")) {
            if (s_parse_advisory (self, value))
                return 2;
        }
        else
        if (streq (arg, "--tlp"))
            self->tlp = streq (value, "red")? CERTCAST__TLP__RED
                                            : CERTCAST__TLP__GREEN;
        else
        if (streq (arg, "--extra-streams"))
            self->extra_streams = strtoul (value, NULL, 10);
        else
        if (streq (arg, "--extra-sector"))
            self->extra_sector = value;
        else
        if (streq (arg, "--flood"))
            self->flood = strtoul (value, NULL, 10);
        else
        if (streq (arg, "--duration"))
            self->duration_ms = atoll (value);
        else
            return s_usage ("unknown option");
    }
    if (self->port < 1 || self->port > 65534 || !self->key || !self->issuer
    ||  !self->delegation)
        return s_usage ("--listen, --key, --issuer and --delegation are "
                        "required");
    return 0;
}

//  Sign each advisory as `certcast publish` would and wrap it in the
//  Delivery a relay would store.
static int
s_sign_all (s_relay_t *self, cc_keys_t *issuer)
{
    size_t delegation_size = 0;
    uint8_t *delegation = cc_delegation_load (self->delegation,
                                              &delegation_size);
    if (!delegation) {
        fprintf (stderr, "cc_fakerelay: cannot read %s\n", self->delegation);
        return -1;
    }
    int64_t now = (int64_t) time (NULL);
    int rc = 0;
    for (size_t index = 0; index < self->n_advisories && rc == 0; index++) {
        s_advisory_t *advisory = &self->advisories [index];
        bool all = streq (advisory->sector, "all");
        char *sectors [] = { advisory->sector, NULL };
        Certcast__Advisory content = CERTCAST__ADVISORY__INIT;
        content.id = advisory->id;
        content.revision = 1;
        content.kind = CERTCAST__KIND__SECURITY_ANNOUNCEMENT;
        content.severity = CERTCAST__SEVERITY__HIGH;
        content.tlp = self->tlp;
        content.all_sectors = all;
        content.n_sectors = all? 0: 1;
        content.sectors = all? NULL: sectors;
        content.title = (char *) "cc_fakerelay advisory";
        content.content_type = (char *) "text/plain";
        //  (The delegation `certcast delegate` made is valid from five
        //  minutes before it was made: issued_at must not be earlier.)
        content.issued_at = now - 60;
        content.expires_at = advisory->expired? now - 30: 0;
        content.issuer = (char *) "cc_fakerelay";
        size_t content_size = 0;
        uint8_t *content_bytes = cc_wire_pack (&content.base, &content_size);
        size_t signed_size = 0;
        uint8_t *signed_bytes = cc_advisory_sign (
            issuer, content_bytes, content_size, delegation, delegation_size,
            &signed_size);
        free (content_bytes);
        if (!signed_bytes) {
            fprintf (stderr, "cc_fakerelay: cannot sign %s\n", advisory->id);
            rc = -1;
            break;
        }
        Certcast__Delivery delivery = CERTCAST__DELIVERY__INIT;
        delivery.stream = advisory->stream;
        delivery.seq = advisory->seq;
        delivery.signed_.data = signed_bytes;
        delivery.signed_.len = signed_size;
        delivery.stored_at = now;
        advisory->delivery = cc_wire_pack (&delivery.base,
                                           &advisory->delivery_size);
        free (signed_bytes);
    }
    free (delegation);
    return rc;
}

static void
s_reply (zsock_t *router, zframe_t *routing, Certcast__Control *control)
{
    zframe_t *frame = cc_wire_control_encode (control);
    zframe_send (&routing, router, ZFRAME_MORE | ZFRAME_REUSE);
    zframe_send (&frame, router, 0);
}

//  Heads of our streams, the made-up names and the malformed ones.
static void
s_welcome (s_relay_t *self, zsock_t *router, zframe_t *routing, uint64_t corr)
{
    static const char *wrong [] = {
        "UPPER/banking", "a/b/banking", "$alive", "national/banking-x",
        "no-slash", NULL
    };
    size_t wrong_count = self->extra_streams? 5: 0;
    size_t limit = self->n_advisories + self->extra_streams + wrong_count;
    Certcast__StreamHead *heads = (Certcast__StreamHead *) zmalloc (
        (limit + 1) * sizeof (Certcast__StreamHead));
    Certcast__StreamHead **list = (Certcast__StreamHead **) zmalloc (
        (limit + 1) * sizeof (Certcast__StreamHead *));
    char **names = (char **) zmalloc ((limit + 1) * sizeof (char *));
    size_t count = 0;
    for (size_t index = 0; index < self->n_advisories; index++) {
        s_advisory_t *advisory = &self->advisories [index];
        //  One head per stream: the last advisory's seq
        size_t entry = 0;
        while (entry < count && !streq (heads [entry].stream,
                                        advisory->stream))
            entry++;
        if (entry == count) {
            certcast__stream_head__init (&heads [count]);
            heads [count].stream = advisory->stream;
            count++;
        }
        heads [entry].head = advisory->seq;
    }
    size_t first_made_up = count;
    for (size_t index = 0; index < self->extra_streams; index++) {
        certcast__stream_head__init (&heads [count]);
        names [count] = zsys_sprintf ("fake-%" PRIu64 "/%s",
                                      self->extra_next++,
                                      self->extra_sector);
        heads [count].stream = names [count];
        heads [count].head = 1;
        count++;
    }
    for (size_t index = 0; index < wrong_count; index++) {
        certcast__stream_head__init (&heads [count]);
        heads [count].stream = (char *) wrong [index];
        heads [count].head = 1;
        count++;
    }
    for (size_t index = 0; index < count; index++)
        list [index] = &heads [index];
    Certcast__Welcome welcome = CERTCAST__WELCOME__INIT;
    welcome.node = (char *) "fakerelay";
    welcome.n_heads = count;
    welcome.heads = list;
    welcome.heartbeat_ms = HEARTBEAT_MS;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = corr;
    control.body_case = CERTCAST__CONTROL__BODY_WELCOME;
    control.welcome = &welcome;
    s_reply (router, routing, &control);
    for (size_t index = first_made_up; index < count; index++)
        free (names [index]);
    free (names);
    free (list);
    free (heads);
}

static void
s_deliveries (zsock_t *router, zframe_t *routing, uint64_t corr,
              const char *stream, ProtobufCBinaryData *entries, size_t count,
              uint64_t head)
{
    Certcast__Deliveries deliveries = CERTCAST__DELIVERIES__INIT;
    deliveries.stream = (char *) stream;
    deliveries.n_deliveries = count;
    deliveries.deliveries = entries;
    deliveries.head = head;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = corr;
    control.body_case = CERTCAST__CONTROL__BODY_DELIVERIES;
    control.deliveries = &deliveries;
    s_reply (router, routing, &control);
}

static void
s_acked (zsock_t *router, zframe_t *routing, uint64_t corr)
{
    Certcast__Acked acked = CERTCAST__ACKED__INIT;
    acked.count = 1;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = corr;
    control.body_case = CERTCAST__CONTROL__BODY_ACKED;
    control.acked = &acked;
    s_reply (router, routing, &control);
}

static void
s_fetch (s_relay_t *self, zsock_t *router, zframe_t *routing, uint64_t corr,
         const Certcast__Fetch *fetch)
{
    const char *stream = fetch->stream? fetch->stream: "";
    printf ("fetch %s %" PRIu64 "\n", stream, fetch->from);
    if (self->flood) {
        //  Empty entries: each one decodes to a Delivery of no stream
        ProtobufCBinaryData *empty = (ProtobufCBinaryData *) zmalloc (
            (self->flood + 200) * sizeof (ProtobufCBinaryData));
        s_deliveries (router, routing, corr, stream, empty, self->flood, 0);
        s_deliveries (router, routing, CORR_FETCH_UNASKED, stream, empty, 200,
                      0);
        free (empty);
    }
    ProtobufCBinaryData entries [ADVISORIES_MAX];
    size_t count = 0;
    uint64_t head = 0;
    for (size_t index = 0; index < self->n_advisories; index++) {
        s_advisory_t *advisory = &self->advisories [index];
        if (!streq (advisory->stream, stream))
            continue;
        head = advisory->seq;
        if (advisory->seq >= fetch->from) {
            entries [count].data = advisory->delivery;
            entries [count].len = advisory->delivery_size;
            count++;
        }
    }
    s_deliveries (router, routing, corr, stream, entries, count, head);
    if (self->acked_unasked && count && !self->acked_at) {
        self->acked_at = zclock_mono () + 500;
        self->acked_to = zframe_dup (routing);
    }
}

static void
s_acks (s_relay_t *self, zsock_t *router, zframe_t *routing, uint64_t corr,
        const Certcast__Acks *acks)
{
    printf ("acks %" PRIu64 "\n", corr);
    for (size_t index = 0; index < acks->n_acks; index++) {
        Certcast__Ack *ack = (Certcast__Ack *) cc_wire_unpack (
            &certcast__ack__descriptor, acks->acks [index]->ack.data,
            acks->acks [index]->ack.len, CC_WIRE_MAX_FRAME);
        if (!ack)
            continue;
        for (size_t entry = 0; entry < ack->n_entries; entry++)
            printf ("ack %" PRIu64 " %s %" PRIu32 "\n", corr,
                    ack->entries [entry]->advisory_id,
                    ack->entries [entry]->revision);
        certcast__ack__free_unpacked (ack, NULL);
    }
    if (!self->no_acked)
        s_acked (router, routing, corr);
}

static zsock_t *
s_bind (cc_keys_t *keys, int type, int port)
{
    zsock_t *sock = cc_keys_server (keys, type);
    zsock_set_sndhwm (sock, 0);
    if (zsock_bind (sock, "tcp://127.0.0.1:%d", port) < 0) {
        fprintf (stderr, "cc_fakerelay: cannot bind port %d\n", port);
        zsock_destroy (&sock);
    }
    return sock;
}

static void
s_heartbeat (zsock_t *pub, size_t streams)
{
    Certcast__Heartbeat heartbeat = CERTCAST__HEARTBEAT__INIT;
    heartbeat.stream = (char *) "";
    heartbeat.head = streams;
    heartbeat.time = (int64_t) time (NULL);
    Certcast__StreamMsg message = CERTCAST__STREAM_MSG__INIT;
    message.body_case = CERTCAST__STREAM_MSG__BODY_HEARTBEAT;
    message.heartbeat = &heartbeat;
    zframe_t *body = cc_wire_pack_frame (&message.base);
    zstr_sendm (pub, CC_TOPIC_ALIVE);
    zframe_send (&body, pub, 0);
}

static void
s_serve (s_relay_t *self, zsock_t *pub, zsock_t *router)
{
    zpoller_t *poller = zpoller_new (router, NULL);
    int64_t started = zclock_mono ();
    int64_t next_heartbeat = 0;
    while (!zsys_interrupted) {
        int64_t now = zclock_mono ();
        if (self->duration_ms && now - started >= self->duration_ms)
            break;
        if (self->acked_at && now >= self->acked_at) {
            for (uint64_t nonce = 1; nonce <= 8; nonce++)
                s_acked (router, self->acked_to, nonce);
            printf ("acked-unasked\n");
            self->acked_at = 0;
        }
        if (now >= next_heartbeat) {
            //  The alive count never changes: no Hello is provoked
            s_heartbeat (pub, 1);
            next_heartbeat = now + HEARTBEAT_MS;
        }
        if (!zpoller_wait (poller, HEARTBEAT_MS / 2))
            continue;
        zframe_t *routing = zframe_recv (router);
        zframe_t *frame = routing && zframe_more (routing)?
                          zframe_recv (router): NULL;
        Certcast__Control *control = frame?
            cc_wire_control_decode (frame): NULL;
        if (control) {
            switch (control->body_case) {
                case CERTCAST__CONTROL__BODY_HELLO:
                    printf ("hello\n");
                    s_welcome (self, router, routing, control->corr);
                    break;
                case CERTCAST__CONTROL__BODY_FETCH:
                    s_fetch (self, router, routing, control->corr,
                             control->fetch);
                    break;
                case CERTCAST__CONTROL__BODY_ACKS:
                    s_acks (self, router, routing, control->corr,
                            control->acks);
                    break;
                default:
                    break;
            }
            certcast__control__free_unpacked (control, NULL);
        }
        zframe_destroy (&frame);
        zframe_destroy (&routing);
    }
    zpoller_destroy (&poller);
    zframe_destroy (&self->acked_to);
}

int
main (int argc, char **argv)
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    s_relay_t *self = (s_relay_t *) zmalloc (sizeof (s_relay_t));
    if (s_parse (self, argc, argv)) {
        free (self);
        return 2;
    }
    zsys_set_logstream (stderr);
    const char *reason = NULL;
    cc_keys_t *keys = cc_keys_load (self->key, &reason);
    cc_keys_t *issuer = cc_keys_load (self->issuer, &reason);
    int rc = 1;
    if (keys && issuer && cc_keys_has_secret (issuer)
    &&  s_sign_all (self, issuer) == 0) {
        zsock_t *pub = s_bind (keys, ZMQ_PUB, self->port);
        zsock_t *router = s_bind (keys, ZMQ_ROUTER, self->port + 1);
        if (pub && router) {
            printf ("fakerelay ready\n");
            s_serve (self, pub, router);
            rc = 0;
        }
        zsock_destroy (&router);
        zsock_destroy (&pub);
    }
    else
        fprintf (stderr, "cc_fakerelay: cannot load the keys, the "
                 "delegation, or sign\n");
    for (size_t index = 0; index < self->n_advisories; index++)
        free (self->advisories [index].delivery);
    cc_keys_destroy (&issuer);
    cc_keys_destroy (&keys);
    free (self);
    return rc;
}
