/*  cc_fakeupstream.c - a fake upstream broker for the relay tests: it
    speaks the broker's side of the protocol to a real certcast-relay, and
    says what a real broker never would (poison stream names, advisories
    on streams of other sectors, bogus heads, junk in fetch replies), so a
    test can see what the relay makes of it. Only what a relay's upstream
    link uses is served; agents are not its business.

    cc_fakeupstream --listen HOST:PORT --key BROKER.key [--heartbeat MS]
                    [--issuer ISSUER.key --delegation FILE] [options]

    Binds a CURVE ROUTER (control) on PORT+1 and an XPUB (streams) on PORT
    with the broker key, lets any client in (no ZAP: the relay is the one
    under test), answers Hello with a Welcome of the streams below and
    Fetch from their logs, takes rosters, reports and acks (Acked,
    Stored), and sends $alive every heartbeat interval. Options, each as
    often as wanted:

      --stream NAME             list NAME in the Welcome (head: its log)
      --advisory NAME:SECTOR[:expired]
                                append to NAME's log an advisory signed
                                by --issuer for SECTOR ("all": every
                                sector), expired ten seconds ago if asked
      --many N                  N more streams oK/banking (K = 1..N), each
                                with one banking advisory
      --say-head NAME:HEAD      the Welcome gives NAME this head instead
      --bogus-head NAME:HEAD    a heartbeat on NAME with HEAD every interval
      --junk NAME:N             fetch replies for NAME hold N malformed
                                entries instead of its log
      --unsolicited NAME        after each Welcome, a Deliveries reply of
                                NAME's log that nobody asked for (corr 0)
      --refuse-acks-for PREFIX  an Acks request holding an ack of an
                                advisory whose id starts with PREFIX is
                                refused malformed; any other is taken
                                (Acked with its count)
      --status-json TEXT        answer a StatusRequest (certcast status)
                                with TEXT, as the daemon's JSON

    Prints one line per advisory made ("advisory ID on NAME"), one per
    request ("hello NODE", "fetch NAME from F", "acks N taken", "acks N
    refused") and
    runs until SIGTERM or SIGINT; exits 0 then, 2 on bad usage, 1 if it
    cannot start.
*/
#include "../../broker/cc_broker.h"

#define FAKE_NAMES_MAX  64

typedef struct {
    char *name;
    zlistx_t *log;              //  zchunk_t *: encoded Delivery, seq 1..
    bool listed;                //  in the Welcome
    bool said;                  //  say_head given
    uint64_t say_head;
    uint64_t bogus_head;        //  0: none
    size_t junk;                //  0: serve the log
} s_stream_t;

typedef struct {
    zhashx_t *streams;          //  name -> s_stream_t
    zlistx_t *order;            //  s_stream_t *, borrowed: Welcome order
    cc_keys_t *issuer;
    uint8_t *delegation;
    size_t delegation_size;
    uint64_t advisories;        //  numbers their ids
    const char *unsolicited [FAKE_NAMES_MAX];
    size_t n_unsolicited;
    const char *refuse_acks_for;    //  id prefix, or NULL
    const char *status_json;        //  StatusReply text, or NULL
    int heartbeat_ms;
    zsock_t *router, *xpub;
} s_fake_t;

static int
s_usage (const char *why)
{
    fprintf (stderr, "cc_fakeupstream: %s\n"
             "usage: cc_fakeupstream --listen HOST:PORT --key BROKER.key "
             "[--heartbeat MS] [--issuer KEY --delegation FILE] "
             "[--stream NAME] [--advisory NAME:SECTOR[:expired]] [--many N] "
             "[--say-head NAME:HEAD] [--bogus-head NAME:HEAD] "
             "[--junk NAME:N] [--unsolicited NAME] [--refuse-acks-for P] "
             "[--status-json TEXT]\n", why);
    return 2;
}

static void
s_stream_destroy (void **item)
{
    s_stream_t *stream = (s_stream_t *) *item;
    if (stream) {
        zlistx_destroy (&stream->log);
        free (stream->name);
        free (stream);
        *item = NULL;
    }
}

static void
s_chunk_destroy (void **item)
{
    zchunk_destroy ((zchunk_t **) item);
}

static s_stream_t *
s_stream (s_fake_t *self, const char *name)
{
    s_stream_t *stream = (s_stream_t *) zhashx_lookup (self->streams, name);
    if (!stream) {
        stream = (s_stream_t *) zmalloc (sizeof *stream);
        stream->name = strdup (name);
        stream->log = zlistx_new ();
        zlistx_set_destructor (stream->log, s_chunk_destroy);
        zhashx_insert (self->streams, name, stream);
        zlistx_add_end (self->order, stream);
    }
    stream->listed = true;
    return stream;
}

//  Split "NAME:VALUE" at its last ':' into name (size bytes) and value.
static const char *
s_split (const char *spec, char *name, size_t size)
{
    const char *colon = strrchr (spec, ':');
    if (!colon || colon == spec || (size_t) (colon - spec) >= size)
        return NULL;
    memcpy (name, spec, colon - spec);
    name [colon - spec] = 0;
    return colon + 1;
}

//  Append a genuinely signed advisory (the issuer's key and delegation,
//  as `certcast publish` signs) to the stream's log.
static int
s_append_advisory (s_fake_t *self, s_stream_t *stream, const char *sector,
                   bool expired)
{
    if (!self->issuer || !self->delegation)
        return s_usage ("--advisory and --many need --issuer and "
                        "--delegation first");
    int64_t now = (int64_t) time (NULL);
    char id [64];
    snprintf (id, sizeof id, "FAKE-%" PRIu64 "-%" PRId64,
              ++self->advisories, now);
    const char *sectors [] = { sector, NULL };
    Certcast__Advisory advisory = CERTCAST__ADVISORY__INIT;
    advisory.id = id;
    advisory.revision = 1;
    advisory.kind = CERTCAST__KIND__SECURITY_ANNOUNCEMENT;
    advisory.severity = CERTCAST__SEVERITY__HIGH;
    advisory.tlp = CERTCAST__TLP__GREEN;
    advisory.all_sectors = streq (sector, "all");
    advisory.n_sectors = advisory.all_sectors? 0: 1;
    advisory.sectors = advisory.all_sectors? NULL: (char **) sectors;
    advisory.title = (char *) "cc_fakeupstream advisory";
    advisory.content_type = (char *) "text/plain";
    advisory.issued_at = now - (expired? 60: 0);
    advisory.expires_at = expired? now - 10: 0;
    advisory.issuer = (char *) "cc_fakeupstream";
    size_t advisory_size = 0, signed_size = 0;
    uint8_t *advisory_bytes = cc_wire_pack (&advisory.base, &advisory_size);
    uint8_t *signed_bytes = cc_advisory_sign (
        self->issuer, advisory_bytes, advisory_size, self->delegation,
        self->delegation_size, &signed_size);
    free (advisory_bytes);
    if (!signed_bytes) {
        fprintf (stderr, "cc_fakeupstream: cannot sign with --issuer\n");
        return 1;
    }
    Certcast__Delivery delivery = CERTCAST__DELIVERY__INIT;
    delivery.stream = stream->name;
    delivery.seq = zlistx_size (stream->log) + 1;
    delivery.signed_.data = signed_bytes;
    delivery.signed_.len = signed_size;
    delivery.stored_at = now;
    size_t size = 0;
    uint8_t *bytes = cc_wire_pack (&delivery.base, &size);
    zlistx_add_end (stream->log, zchunk_new (bytes, size));
    free (bytes);
    free (signed_bytes);
    printf ("advisory %s on %s\n", id, stream->name);
    return 0;
}

static int
s_parse (s_fake_t *self, int argc, char **argv, const char **listen,
         const char **key)
{
    for (int index = 1; index < argc; index++) {
        const char *arg = argv [index];
        if (index + 1 >= argc)
            return s_usage ("every option needs a value");
        const char *value = argv [++index];
        char name [1024];
        const char *rest = NULL;
        if (streq (arg, "--listen"))
            *listen = value;
        else
        if (streq (arg, "--key"))
            *key = value;
        else
        if (streq (arg, "--heartbeat"))
            self->heartbeat_ms = atoi (value);
        else
        if (streq (arg, "--issuer")) {
            const char *reason = NULL;
            cc_keys_destroy (&self->issuer);
            self->issuer = cc_keys_load (value, &reason);
            if (!self->issuer)
                return s_usage ("cannot load --issuer");
        }
        else
        if (streq (arg, "--delegation")) {
            free (self->delegation);
            self->delegation = cc_delegation_load (value,
                                                   &self->delegation_size);
            if (!self->delegation)
                return s_usage ("cannot load --delegation");
        }
        else
        if (streq (arg, "--stream"))
            s_stream (self, value);
        else
        if (streq (arg, "--advisory")) {
            //  NAME:SECTOR or NAME:SECTOR:expired; NAME has no ':'.
            const char *colon = strchr (value, ':');
            if (!colon || colon == value || colon - value >= 1024)
                return s_usage ("--advisory NAME:SECTOR[:expired]");
            memcpy (name, value, colon - value);
            name [colon - value] = 0;
            char sector [64];
            snprintf (sector, sizeof sector, "%s", colon + 1);
            char *flag = strchr (sector, ':');
            if (flag)
                *flag++ = 0;
            int rc = s_append_advisory (self, s_stream (self, name), sector,
                                        flag && streq (flag, "expired"));
            if (rc)
                return rc;
        }
        else
        if (streq (arg, "--many")) {
            int count = atoi (value);
            for (int number = 1; number <= count; number++) {
                snprintf (name, sizeof name, "o%d/banking", number);
                int rc = s_append_advisory (self, s_stream (self, name),
                                            "banking", false);
                if (rc)
                    return rc;
            }
        }
        else
        if ((streq (arg, "--say-head") || streq (arg, "--bogus-head")
          || streq (arg, "--junk"))
        &&  (rest = s_split (value, name, sizeof name))) {
            s_stream_t *stream = s_stream (self, name);
            uint64_t number = strtoull (rest, NULL, 10);
            if (streq (arg, "--say-head")) {
                stream->said = true;
                stream->say_head = number;
            }
            else
            if (streq (arg, "--bogus-head"))
                stream->bogus_head = number;
            else
                stream->junk = (size_t) number;
        }
        else
        if (streq (arg, "--unsolicited")
        &&  self->n_unsolicited < FAKE_NAMES_MAX)
            self->unsolicited [self->n_unsolicited++] = value;
        else
        if (streq (arg, "--refuse-acks-for"))
            self->refuse_acks_for = value;
        else
        if (streq (arg, "--status-json"))
            self->status_json = value;
        else
            return s_usage ("unknown option or bad value");
    }
    if (!*listen || !*key)
        return s_usage ("--listen and --key are required");
    return 0;
}

//  Answer with a Control of this body (borrowed).
static void
s_reply (s_fake_t *self, zframe_t *routing, uint64_t corr,
         Certcast__Control__BodyCase body_case, void *body)
{
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = corr;
    control.body_case = body_case;
    control.welcome = (Certcast__Welcome *) body;   //  any member: a union
    zframe_t *address = zframe_dup (routing);
    zframe_send (&address, self->router, ZFRAME_MORE);
    zframe_t *frame = cc_wire_control_encode (&control);
    zframe_send (&frame, self->router, 0);
}

static void
s_welcome (s_fake_t *self, zframe_t *routing, uint64_t corr)
{
    size_t count = zlistx_size (self->order);
    Certcast__StreamHead *entries = (Certcast__StreamHead *)
        zmalloc ((count + 1) * sizeof *entries);
    Certcast__StreamHead **heads = (Certcast__StreamHead **)
        zmalloc ((count + 1) * sizeof (void *));
    size_t index = 0;
    for (s_stream_t *stream = (s_stream_t *) zlistx_first (self->order);
         stream; stream = (s_stream_t *) zlistx_next (self->order)) {
        certcast__stream_head__init (&entries [index]);
        entries [index].stream = stream->name;
        entries [index].head = stream->said? stream->say_head:
                               zlistx_size (stream->log);
        heads [index] = &entries [index];
        index++;
    }
    Certcast__Welcome welcome = CERTCAST__WELCOME__INIT;
    welcome.node = (char *) "fakeupstream";
    welcome.n_heads = count;
    welcome.heads = heads;
    welcome.heartbeat_ms = self->heartbeat_ms;
    welcome.roster_parts = true;
    s_reply (self, routing, corr, CERTCAST__CONTROL__BODY_WELCOME, &welcome);
    free (heads);
    free (entries);
}

//  Deliveries of stream from `from`, at most max (junk instead if asked).
static void
s_deliveries (s_fake_t *self, zframe_t *routing, uint64_t corr,
              s_stream_t *stream, uint64_t from, uint32_t max)
{
    static uint8_t junk [] = { 0x0F, 0xFF, 0xFF };  //  wire type 7: never
    size_t count = stream->junk? stream->junk: zlistx_size (stream->log);
    ProtobufCBinaryData *items = (ProtobufCBinaryData *)
        zmalloc ((count + 1) * sizeof *items);
    size_t taken = 0;
    if (stream->junk)
        for (; taken < count; taken++) {
            items [taken].data = junk;
            items [taken].len = sizeof junk;
        }
    else {
        uint64_t seq = 1;
        for (zchunk_t *chunk = (zchunk_t *) zlistx_first (stream->log);
             chunk && taken < max;
             chunk = (zchunk_t *) zlistx_next (stream->log), seq++)
            if (seq >= from) {
                items [taken].data = zchunk_data (chunk);
                items [taken].len = zchunk_size (chunk);
                taken++;
            }
    }
    Certcast__Deliveries deliveries = CERTCAST__DELIVERIES__INIT;
    deliveries.stream = stream->name;
    deliveries.n_deliveries = taken;
    deliveries.deliveries = items;
    deliveries.head = zlistx_size (stream->log);
    s_reply (self, routing, corr, CERTCAST__CONTROL__BODY_DELIVERIES,
             &deliveries);
    free (items);
}

static void
s_acked (s_fake_t *self, zframe_t *routing, uint64_t corr, uint32_t count)
{
    Certcast__Acked acked = CERTCAST__ACKED__INIT;
    acked.count = count;
    s_reply (self, routing, corr, CERTCAST__CONTROL__BODY_ACKED, &acked);
}

//  Does this signed ack name an advisory whose id starts with prefix?
static bool
s_names (const Certcast__SignedAck *signed_ack, const char *prefix)
{
    Certcast__Ack *ack = (Certcast__Ack *) cc_wire_unpack (
        &certcast__ack__descriptor, signed_ack->ack.data, signed_ack->ack.len,
        CC_WIRE_MAX_FRAME);
    bool names = false;
    for (size_t index = 0; ack && index < ack->n_entries; index++)
        if (ack->entries [index]->advisory_id
        &&  strncmp (ack->entries [index]->advisory_id, prefix,
                     strlen (prefix)) == 0)
            names = true;
    if (ack)
        certcast__ack__free_unpacked (ack, NULL);
    return names;
}

//  Acks are taken whole, or refused whole as a real broker does.
static void
s_take_acks (s_fake_t *self, zframe_t *routing, Certcast__Control *request)
{
    Certcast__Acks *acks = request->acks;
    bool refuse = false;
    for (size_t index = 0; self->refuse_acks_for && index < acks->n_acks;
         index++)
        refuse = refuse || s_names (acks->acks [index], self->refuse_acks_for);
    printf ("acks %zu %s\n", acks->n_acks, refuse? "refused": "taken");
    if (refuse) {
        Certcast__Error error = CERTCAST__ERROR__INIT;
        error.code = CERTCAST__ERROR_CODE__ERR_MALFORMED;
        error.reason = (char *) "cc_fakeupstream refuses this ack";
        s_reply (self, routing, request->corr, CERTCAST__CONTROL__BODY_ERROR,
                 &error);
    }
    else
        s_acked (self, routing, request->corr, (uint32_t) acks->n_acks);
}

static void
s_handle_control (s_fake_t *self)
{
    zmsg_t *msg = zmsg_recv (self->router);
    zframe_t *routing = msg? zmsg_pop (msg): NULL;
    zframe_t *frame = msg? zmsg_pop (msg): NULL;
    Certcast__Control *request = frame? cc_wire_control_decode (frame): NULL;
    if (request && request->body_case == CERTCAST__CONTROL__BODY_HELLO) {
        printf ("hello %s\n", request->hello->node? request->hello->node: "?");
        s_welcome (self, routing, request->corr);
        for (size_t index = 0; index < self->n_unsolicited; index++) {
            s_stream_t *stream = (s_stream_t *) zhashx_lookup (
                self->streams, self->unsolicited [index]);
            if (stream)
                s_deliveries (self, routing, 0, stream, 1, CC_FETCH_CAP);
        }
    }
    else
    if (request && request->body_case == CERTCAST__CONTROL__BODY_FETCH) {
        Certcast__Fetch *fetch = request->fetch;
        s_stream_t *stream = fetch->stream? (s_stream_t *) zhashx_lookup (
            self->streams, fetch->stream): NULL;
        printf ("fetch %.80s from %" PRIu64 "\n",
                fetch->stream? fetch->stream: "?", fetch->from);
        if (stream)
            s_deliveries (self, routing, request->corr, stream, fetch->from,
                          fetch->max && fetch->max < CC_FETCH_CAP?
                          fetch->max: CC_FETCH_CAP);
    }
    else
    if (request && request->body_case == CERTCAST__CONTROL__BODY_ROSTER) {
        Certcast__Roster *roster = request->roster;
        if (roster->part == roster->parts)
            s_acked (self, routing, request->corr,
                     (uint32_t) roster->n_entries);
        else
            s_acked (self, routing, request->corr, 0);
    }
    else
    if (request && request->body_case == CERTCAST__CONTROL__BODY_ACKS)
        s_take_acks (self, routing, request);
    else
    if (request && request->body_case == CERTCAST__CONTROL__BODY_STATUS
    &&  self->status_json) {
        printf ("status\n");
        Certcast__StatusReply reply = CERTCAST__STATUS_REPLY__INIT;
        reply.json = (char *) self->status_json;
        s_reply (self, routing, request->corr,
                 CERTCAST__CONTROL__BODY_STATUS_REPLY, &reply);
    }
    else
    if (request && request->body_case == CERTCAST__CONTROL__BODY_PUBLISH) {
        printf ("report\n");
        Certcast__Stored stored = CERTCAST__STORED__INIT;
        stored.id = (char *) "";
        s_reply (self, routing, request->corr, CERTCAST__CONTROL__BODY_STORED,
                 &stored);
    }
    fflush (stdout);
    if (request)
        certcast__control__free_unpacked (request, NULL);
    zframe_destroy (&frame);
    zframe_destroy (&routing);
    zmsg_destroy (&msg);
}

static void
s_heartbeat (s_fake_t *self, const char *topic, const char *stream,
             uint64_t head)
{
    Certcast__Heartbeat heartbeat = CERTCAST__HEARTBEAT__INIT;
    heartbeat.stream = (char *) stream;
    heartbeat.head = head;
    heartbeat.time = (int64_t) time (NULL);
    Certcast__StreamMsg message = CERTCAST__STREAM_MSG__INIT;
    message.body_case = CERTCAST__STREAM_MSG__BODY_HEARTBEAT;
    message.heartbeat = &heartbeat;
    zframe_t *body = cc_wire_pack_frame (&message.base);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, topic);
    zmsg_append (msg, &body);
    zmsg_send (&msg, self->xpub);
}

static void
s_heartbeats (s_fake_t *self)
{
    s_heartbeat (self, CC_TOPIC_ALIVE, "", zlistx_size (self->order));
    for (s_stream_t *stream = (s_stream_t *) zlistx_first (self->order);
         stream; stream = (s_stream_t *) zlistx_next (self->order))
        if (stream->bogus_head)
            s_heartbeat (self, stream->name, stream->name,
                         stream->bogus_head);
}

static zsock_t *
s_bind (cc_keys_t *keys, int type, const char *host, int port)
{
    zsock_t *sock = cc_keys_server (keys, type);
    if (zsock_bind (sock, "tcp://%s:%d", host, port) == -1) {
        fprintf (stderr, "cc_fakeupstream: cannot bind %s:%d\n", host, port);
        zsock_destroy (&sock);
    }
    return sock;
}

int
main (int argc, char **argv)
{
    zsys_init ();
    zsys_set_logident ("cc_fakeupstream");
    s_fake_t fake = { 0 };
    fake.heartbeat_ms = 500;
    fake.streams = zhashx_new ();
    zhashx_set_destructor (fake.streams, s_stream_destroy);
    fake.order = zlistx_new ();
    const char *listen = NULL, *key = NULL;
    int exit_code = s_parse (&fake, argc, argv, &listen, &key);
    char host [256];
    int port = 0;
    if (!exit_code && cc_config_endpoint (listen, host, &port))
        exit_code = s_usage ("--listen must be HOST:PORT");
    const char *reason = NULL;
    cc_keys_t *keys = exit_code? NULL: cc_keys_load (key, &reason);
    if (!exit_code && !keys) {
        fprintf (stderr, "cc_fakeupstream: cannot load %s: %s\n", key,
                 reason? reason: "unreadable");
        exit_code = 1;
    }
    if (keys) {
        fake.xpub = s_bind (keys, ZMQ_XPUB, host, port);
        fake.router = fake.xpub? s_bind (keys, ZMQ_ROUTER, host, port + 1):
                                 NULL;
        exit_code = fake.router? 0: 1;
    }
    if (!exit_code) {
        printf ("cc_fakeupstream %s ready\n", listen);
        fflush (stdout);
        zpoller_t *poller = zpoller_new (fake.router, fake.xpub, NULL);
        int64_t next = zclock_mono ();
        while (!zsys_interrupted) {
            int64_t wait = next - zclock_mono ();
            void *which = zpoller_wait (poller, wait > 0? (int) wait: 0);
            if (zpoller_terminated (poller))
                break;
            if (which == fake.router)
                s_handle_control (&fake);
            else
            if (which == fake.xpub) {
                zframe_t *subscription = zframe_recv (fake.xpub);
                zframe_destroy (&subscription);
            }
            if (zclock_mono () >= next) {
                s_heartbeats (&fake);
                next = zclock_mono () + fake.heartbeat_ms;
            }
        }
        zpoller_destroy (&poller);
    }
    zsock_destroy (&fake.router);
    zsock_destroy (&fake.xpub);
    cc_keys_destroy (&keys);
    cc_keys_destroy (&fake.issuer);
    free (fake.delegation);
    zlistx_destroy (&fake.order);
    zhashx_destroy (&fake.streams);
    return exit_code;
}
