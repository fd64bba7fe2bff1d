/*  cc_upstream.c - a relay's link to its upstream broker.

    Following a stream is the zguide Clone pattern: live deliveries arrive
    on the SUB; anything that does not continue our head exactly (a PUB
    high-water-mark drop, a restart, a long partition) is repaired by
    Fetch(stream, head + 1) on the DEALER, served from the upstream's log.
    Heartbeats carry the upstream's head, so a lost tail is noticed too.

    Liveness: ZMTP heartbeats keep the TCP sessions honest, but a silent
    upstream can also be a half-open link, so if nothing at all is heard
    for 3 heartbeat intervals we say so, rebuild both sockets and Hello
    again. The self_t owns both sockets and every string it keeps.
*/
#include "cc_broker.h"

#define HELLO_EVERY_MS      5000    //  rediscover streams this often
#define FETCH_MAX           CC_FETCH_CAP    //  asked for per fetch
#define STREAMS_MAX         256     //  upstream streams followed, at most
#define FETCH_RETRY_MS      3000    //  fetch unanswered: ask again
#define ACKS_RESEND_MS      3000    //  ack batch unanswered: send again
#define ROSTER_RESEND_MS    10000   //  roster unaccepted: send it all again
#define ROSTER_RETRY_MS     60000   //  entries not taken: roster anew after
#define CORR_ROSTER         (1ULL << 62)    //  | roster number << 32 | part
#define CORR_ROSTER_PART    0xFFFFFFFFULL
#define CORR_HELLO          (1ULL << 61)
#define CORR_REPORT         (1ULL << 60)
#define CORR_FETCH          (1ULL << 59)    //  | the stream's fetch number
#define CORR_FETCH_NUMBER   0xFFFFFFFFULL

typedef struct {
    char *name;                     //  stream name (owned)
    uint64_t heard_head;            //  upstream's head, as last told us
    int64_t fetch_sent;             //  mono ms of outstanding fetch, 0: none
    uint64_t fetches;               //  fetches sent: numbers their corrs
    uint64_t claimed;               //  `fetches` when a stream message
                                    //  last raised heard_head
    cc_behind_t behind;             //  has the upstream gone back?
} s_stream_t;

struct _cc_upstream_t {
    char *endpoint_stream;          //  tcp://host:port
    char *endpoint_control;         //  tcp://host:port+1
    char *server_key;               //  upstream Z85 CURVE key
    cc_keys_t *keys;                //  our identity (borrowed)
    char *node;                     //  our name
    zlist_t *sectors;               //  char *, owned
    int heartbeat_ms;
    int upstream_heartbeat_ms;      //  from its Welcome, 0: not yet known
    cc_upstream_handler_t handler;
    zsock_t *control;               //  DEALER
    zsock_t *stream;                //  SUB
    zhashx_t *streams;              //  name -> s_stream_t (owned)
    bool connected;                 //  Welcome seen since last rebuild
    int64_t heard;                  //  mono ms of last message, 0: never
    int64_t hello_sent;             //  mono ms
    int64_t created;                //  mono ms sockets were built
    uint64_t reconnects;
    int64_t alive_streams;          //  stream count in the last $alive
    bool streams_full;              //  said that we follow STREAMS_MAX
    size_t names_refused;           //  stream names the last Welcome had
                                    //  that we do not take
    cc_loglimit_t bad_said;         //  s_bad: one line per interval
    cc_loglimit_t hello_refused;    //  said once per interval: a Hello
                                    //  goes every second until linked
    zframe_t *acks_frame;           //  in-flight ack batch, encoded
    uint64_t acks_upto;             //  its queue position
    int64_t acks_sent;              //  mono ms
    zframe_t *report_frame;         //  in-flight report, encoded
    uint64_t report_seq;
    int64_t report_sent;            //  mono ms
    zlistx_t *roster_frames;        //  in-flight roster, a frame per part
    uint64_t roster_corr;           //  its corr without the part number
    uint64_t roster_last;           //  corr of its last part
    uint64_t roster_generation;     //  of the roster in flight
    uint64_t rosters;               //  rosters sent: numbers their corrs
    int64_t roster_sent;            //  mono ms
    size_t roster_chunk;            //  entries per part
    bool roster_parts;              //  the upstream takes a roster in parts
    size_t roster_entries;          //  in the roster in flight
    size_t roster_not_taken;        //  of the last roster it answered
    int64_t roster_retry_ms;        //  some not taken: a new roster after
    int64_t roster_retry_at;        //  mono ms it is due, 0: none
    uint64_t roster_refusals_said;  //  digest of the refusals last logged
};

static void
s_frame_destroy (void **item)
{
    zframe_destroy ((zframe_t **) item);
}

static void
s_stream_destroy (void **item)
{
    s_stream_t *stream = (s_stream_t *) *item;
    if (stream) {
        free (stream->name);
        free (stream);
        *item = NULL;
    }
}

static zsock_t *
s_client_socket (cc_upstream_t *self, int type, const char *endpoint)
{
    zsock_t *sock = cc_keys_client (self->keys, type, self->server_key);
    zsock_set_heartbeat_ivl (sock, self->heartbeat_ms);
    zsock_set_heartbeat_timeout (sock, self->heartbeat_ms * 3);
    zsock_set_heartbeat_ttl (sock, self->heartbeat_ms * 3);
    if (type == ZMQ_SUB)
        zsock_set_rcvhwm (sock, 100000);
    int rc = zsock_connect (sock, "%s", endpoint);
    assert (rc == 0);           //  endpoint syntax was checked by the caller
    return sock;
}

static void
s_send (cc_upstream_t *self, Certcast__Control *control)
{
    //  Dropped on a full queue: hello, fetch retries and resends repair it.
    cc_wire_control_send (self->control, control);
}

static void
s_send_hello (cc_upstream_t *self)
{
    Certcast__Hello hello = CERTCAST__HELLO__INIT;
    hello.node = self->node;
    size_t count = zlist_size (self->sectors);
    char **sectors = (char **) zmalloc ((count + 1) * sizeof (char *));
    size_t index = 0;
    for (char *sector = (char *) zlist_first (self->sectors); sector;
         sector = (char *) zlist_next (self->sectors))
        sectors [index++] = sector;
    hello.n_sectors = count;
    hello.sectors = sectors;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = CORR_HELLO;
    control.body_case = CERTCAST__CONTROL__BODY_HELLO;
    control.hello = &hello;
    s_send (self, &control);
    free (sectors);
    self->hello_sent = zclock_mono ();
}

static void
s_build_sockets (cc_upstream_t *self)
{
    self->control = s_client_socket (self, ZMQ_DEALER, self->endpoint_control);
    self->stream = s_client_socket (self, ZMQ_SUB, self->endpoint_stream);
    zsock_set_subscribe (self->stream, CC_TOPIC_ALIVE);
    //  Resubscribe to what we followed; Welcome adds new streams.
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream; stream = (s_stream_t *) zhashx_next (self->streams)) {
        zsock_set_subscribe (self->stream, stream->name);
        stream->fetch_sent = 0;
    }
    self->created = zclock_mono ();
    self->connected = false;
    self->alive_streams = -1;
    s_send_hello (self);
}

cc_upstream_t *
cc_upstream_new (const char *host, int port, const char *server_key,
                 cc_keys_t *keys, const char *node, const char **sectors,
                 int heartbeat_ms, const cc_upstream_handler_t *handler)
{
    assert (host && server_key && keys && node && sectors && handler);
    cc_upstream_t *self = (cc_upstream_t *) zmalloc (sizeof (cc_upstream_t));
    self->endpoint_stream = zsys_sprintf ("tcp://%s:%d", host, port);
    self->endpoint_control = zsys_sprintf ("tcp://%s:%d", host, port + 1);
    self->server_key = strdup (server_key);
    self->keys = keys;
    self->node = strdup (node);
    self->sectors = zlist_new ();
    zlist_autofree (self->sectors);
    for (const char **sector = sectors; *sector; sector++)
        zlist_append (self->sectors, (void *) *sector);
    self->heartbeat_ms = heartbeat_ms;
    self->handler = *handler;
    self->streams = zhashx_new ();
    zhashx_set_destructor (self->streams, s_stream_destroy);
    self->roster_frames = zlistx_new ();
    zlistx_set_destructor (self->roster_frames, s_frame_destroy);
    self->roster_chunk = cc_roster_chunks_size_default ();
    self->roster_retry_ms = ROSTER_RETRY_MS;
    s_build_sockets (self);
    return self;
}

void
cc_upstream_destroy (cc_upstream_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_upstream_t *self = *self_p;
        zframe_destroy (&self->acks_frame);
        zframe_destroy (&self->report_frame);
        zlistx_destroy (&self->roster_frames);
        zsock_destroy (&self->stream);
        zsock_destroy (&self->control);
        zhashx_destroy (&self->streams);
        zlist_destroy (&self->sectors);
        free (self->node);
        free (self->server_key);
        free (self->endpoint_control);
        free (self->endpoint_stream);
        free (self);
        *self_p = NULL;
    }
}

void
cc_upstream_attach (cc_upstream_t *self, zpoller_t *poller)
{
    zpoller_add (poller, self->control);
    zpoller_add (poller, self->stream);
}

void
cc_upstream_detach (cc_upstream_t *self, zpoller_t *poller)
{
    zpoller_remove (poller, self->control);
    zpoller_remove (poller, self->stream);
}

//  What the upstream sent that we cannot use, said at most once per
//  CC_LOGLIMIT_MS with how many were not said.
static void
s_bad (cc_upstream_t *self, const char *format, ...)
{
    uint64_t unsaid = 0;
    if (!cc_loglimit_may (&self->bad_said, &unsaid))
        return;
    char line [256];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    zsys_warning ("upstream: %s (%" PRIu64 " more such not logged in the "
                  "last %d s)", line, unsaid, CC_LOGLIMIT_MS / 1000);
}

//  A stream we follow is ORIGIN/SECTOR as every certcast node names its
//  own: ORIGIN a node name (1 to 63 of [a-z0-9-]), SECTOR one we serve,
//  and not one of our own streams (forwarded into, it would collide with
//  what we number here, and we would report it as ours). Names are the
//  upstream's word, but one of another shape no node makes: taken, a name
//  over the log's key bound failed every commit it rode in, and with it
//  every publish and ack of the same cycle, again and again.
static bool
s_wanted (cc_upstream_t *self, const char *stream)
{
    const char *slash = strchr (stream, '/');
    if (!slash || slash - stream > 63)
        return false;
    char origin [64];
    memcpy (origin, stream, slash - stream);
    origin [slash - stream] = 0;
    if (cc_config_name_problem (origin) || streq (origin, self->node))
        return false;
    for (char *sector = (char *) zlist_first (self->sectors); sector;
         sector = (char *) zlist_next (self->sectors))
        if (streq (sector, slash + 1))
            return true;
    return false;
}

static void
s_fetch (cc_upstream_t *self, s_stream_t *stream, uint64_t from)
{
    int64_t now = zclock_mono ();
    if (stream->fetch_sent && now - stream->fetch_sent < FETCH_RETRY_MS)
        return;                 //  one outstanding fetch per stream
    Certcast__Fetch fetch = CERTCAST__FETCH__INIT;
    fetch.stream = stream->name;
    fetch.from = from;
    fetch.max = FETCH_MAX;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    //  Numbered, so its reply is known for ours and for the latest.
    control.corr = CORR_FETCH | ++stream->fetches;
    control.body_case = CERTCAST__CONTROL__BODY_FETCH;
    control.fetch = &fetch;
    s_send (self, &control);
    stream->fetch_sent = now;
}

//  A stream message (heartbeat, live delivery) says the upstream has at
//  least `head`: until we hold it we are not caught up, and acks of what
//  we lack are "not yet" (see cc_upstream_caught_up). Heads only grow;
//  a Welcome states them anew, and so does the reply to a fetch sent
//  after the claim (see s_handle_deliveries): a claim no fetch bears out
//  (a heartbeat at 2^64 - 1) holds only until that reply.
static void
s_claim (s_stream_t *stream, uint64_t head)
{
    if (head > stream->heard_head) {
        stream->heard_head = head;
        stream->claimed = stream->fetches;
    }
}

//  Catch up with head if we are behind it.
static void
s_catch_up (cc_upstream_t *self, s_stream_t *stream, uint64_t head)
{
    uint64_t have = self->handler.head (self->handler.arg, stream->name);
    if (head > have)
        s_fetch (self, stream, have + 1);
}

//  The stream, followed from now if it was not; NULL if we follow
//  STREAMS_MAX already. Each one costs a subscription, a fetch and a
//  head in the Welcome we give our agents: an upstream listing without
//  end would have us pass the flood on.
static s_stream_t *
s_follow (cc_upstream_t *self, const char *name)
{
    s_stream_t *stream = (s_stream_t *) zhashx_lookup (self->streams, name);
    if (!stream && zhashx_size (self->streams) >= STREAMS_MAX)
        return NULL;
    if (!stream) {
        stream = (s_stream_t *) zmalloc (sizeof (s_stream_t));
        stream->name = strdup (name);
        zhashx_insert (self->streams, name, stream);
        zsock_set_subscribe (self->stream, name);
        zsys_info ("upstream: following %s", name);
    }
    return stream;
}

//  Offer one delivery: in order goes to the engine, a gap means fetch.
//  live: from the stream socket, where its number is a claim (gap_head
//  set on a gap); else from a fetch reply, whose head is what counts.
//  False if it is malformed or not of this stream (the caller says so).
static bool
s_offer (cc_upstream_t *self, s_stream_t *stream, const uint8_t *bytes,
         size_t size, uint64_t *gap_head)
{
    Certcast__Delivery *delivery = (Certcast__Delivery *) cc_wire_unpack (
        &certcast__delivery__descriptor, bytes, size, CC_WIRE_MAX_FRAME);
    if (!delivery)
        return false;
    bool ours = streq (delivery->stream, stream->name);
    if (ours) {
        if (gap_head)
            s_claim (stream, delivery->seq);
        uint64_t have = self->handler.head (self->handler.arg, stream->name);
        if (delivery->seq == have + 1)
            self->handler.delivery (self->handler.arg, stream->name,
                                    delivery->seq, bytes, size);
        else
        if (delivery->seq > have + 1 && gap_head)
            *gap_head = delivery->seq;
    }
    certcast__delivery__free_unpacked (delivery, NULL);
    return ours;
}

static void
s_handle_stream (cc_upstream_t *self)
{
    for (int count = 0; count < 1000; count++) {
        if (!(zsock_events (self->stream) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv (self->stream);
        if (!msg)
            break;
        self->heard = zclock_mono ();
        char *topic = zmsg_popstr (msg);
        zframe_t *body = zmsg_pop (msg);
        int64_t streams = cc_wire_alive_streams (topic, body);
        if (streams >= 0 && streams != self->alive_streams) {
            self->alive_streams = streams;
            s_send_hello (self);
        }
        s_stream_t *stream = topic?
            (s_stream_t *) zhashx_lookup (self->streams, topic): NULL;
        Certcast__StreamMsg *stream_msg = body && stream?
            (Certcast__StreamMsg *) cc_wire_unpack (
                &certcast__stream_msg__descriptor, zframe_data (body),
                zframe_size (body), CC_WIRE_MAX_FRAME): NULL;
        if (stream_msg) {
            uint64_t gap_head = 0;
            if (stream_msg->body_case == CERTCAST__STREAM_MSG__BODY_DELIVERY) {
                if (!s_offer (self, stream, stream_msg->delivery.data,
                              stream_msg->delivery.len, &gap_head))
                    s_bad (self, "a delivery on %s is malformed or not of "
                           "that stream; ignored", stream->name);
            }
            else
            if (stream_msg->body_case == CERTCAST__STREAM_MSG__BODY_HEARTBEAT
            &&  stream_msg->heartbeat->stream
            &&  streq (stream_msg->heartbeat->stream, stream->name)) {
                gap_head = stream_msg->heartbeat->head;
                            s_claim (stream, gap_head);
            }
            if (gap_head)
                s_catch_up (self, stream, gap_head);
            certcast__stream_msg__free_unpacked (stream_msg, NULL);
        }
        zstr_free (&topic);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
}

//  An upstream whose head went below ours was restored from an older copy
//  (or its disk lost a tail), and what it numbers again we drop (see
//  cc_behind.h). We say so, loudly and in status (upstream.behind), so
//  its operator can publish those advisories again (see the README,
//  "Restoring from a backup").
static void
s_check_behind (cc_upstream_t *self, s_stream_t *stream, uint64_t head)
{
    uint64_t have = self->handler.head (self->handler.arg, stream->name);
    uint64_t held = 0;
    switch (cc_behind_welcome (&stream->behind, head, have, &held)) {
        case CC_BEHIND_WENT_BACK:
            zsys_error ("upstream: %s is at %" PRIu64 ", behind the %" PRIu64
                        " we hold: it was restored from an older copy, and "
                        "what it numbers again up to %" PRIu64 " does not "
                        "reach us or our agents: publish those advisories "
                        "again once it is past %" PRIu64, stream->name, head,
                        held, held, held);
            break;
        case CC_BEHIND_PAST_AGAIN:
            zsys_notice ("upstream: %s is at %" PRIu64 " again, past the %"
                         PRIu64 " we held when it went back", stream->name,
                         head, held);
            break;
        case CC_BEHIND_SAME:
            break;
    }
}

static void
s_handle_welcome (cc_upstream_t *self, Certcast__Welcome *welcome)
{
    self->roster_parts = welcome->roster_parts;
    //  Its stream heartbeat is what proves the upstream alive: never call
    //  it dead sooner than three of its own intervals, whatever ours is.
    if (welcome->heartbeat_ms > 0 && welcome->heartbeat_ms <= 600000)
        self->upstream_heartbeat_ms = welcome->heartbeat_ms;
    if (!self->connected) {
        zsys_notice ("upstream: linked to %s (%s)", self->endpoint_control,
                     welcome->node? welcome->node: "?");
        self->connected = true;
        //  A new session: resend what is in flight at once.
        self->acks_sent = 0;
        self->report_sent = 0;
        if (self->handler.welcome)
            self->handler.welcome (self->handler.arg);
    }
    //  A Welcome is the upstream's word for now, even where it is lower
    //  than before (restored from a backup) or silent (a stream we may no
    //  longer read): we must not wait for heads it no longer has before
    //  we call ourselves caught up.
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream; stream = (s_stream_t *) zhashx_next (self->streams))
        stream->heard_head = 0;
    size_t refused = 0, over = 0;
    for (size_t index = 0; index < welcome->n_heads; index++) {
        Certcast__StreamHead *head = welcome->heads [index];
        if (!head->stream || !s_wanted (self, head->stream)) {
            refused++;
            continue;
        }
        s_stream_t *stream = s_follow (self, head->stream);
        if (!stream) {
            over++;
            continue;
        }
        s_check_behind (self, stream, head->head);
        if (head->head > stream->heard_head)
            stream->heard_head = head->head;
        s_catch_up (self, stream, head->head);
    }
    //  Each said once, not at every Welcome: the upstream is misconfigured
    //  or worse, and its operator must look.
    if (refused && refused != self->names_refused)
        zsys_warning ("upstream: its Welcome lists %zu stream name(s) this "
                      "relay does not take (not ORIGIN/SECTOR with a node "
                      "name and a sector served here, or one of our own "
                      "streams)", refused);
    self->names_refused = refused;
    if (over && !self->streams_full)
        zsys_error ("upstream: its Welcome lists more streams than the %d "
                    "this relay follows; %zu not followed", STREAMS_MAX,
                    over);
    self->streams_full = over > 0;
}

//  A reply to one of our fetches (corr: CORR_FETCH and its number).
static void
s_handle_deliveries (cc_upstream_t *self, uint64_t corr,
                     Certcast__Deliveries *deliveries)
{
    s_stream_t *stream = deliveries->stream?
        (s_stream_t *) zhashx_lookup (self->streams, deliveries->stream): NULL;
    uint64_t number = corr & (CORR_FETCH - 1);
    //  Dropped whole, with one line: no broker serves more than the cap,
    //  and one we did not ask for is nothing we wait for.
    const char *drop = NULL;
    if (!stream)
        drop = "not a stream we follow";
    else
    if ((corr & ~(CORR_FETCH - 1)) != CORR_FETCH || number == 0
    ||  number > stream->fetches)
        drop = "not asked for";
    else
    if (deliveries->n_deliveries > CC_FETCH_CAP)
        drop = "more deliveries than a fetch gets";
    if (drop) {
        s_bad (self, "dropped a reply of %zu deliveries: %s",
               deliveries->n_deliveries, drop);
        return;
    }
    uint64_t before = self->handler.head (self->handler.arg, stream->name);
    size_t bad = 0;
    for (size_t index = 0; index < deliveries->n_deliveries; index++)
        if (!s_offer (self, stream, deliveries->deliveries [index].data,
                      deliveries->deliveries [index].len, NULL))
            bad++;
    if (bad)
        s_bad (self, "%zu of %zu deliveries in a reply for %s malformed or "
               "not of that stream; ignored", bad, deliveries->n_deliveries,
               stream->name);
    uint64_t have = self->handler.head (self->handler.arg, stream->name);
    //  A long gap takes several fetches: go on at once while a reply moves
    //  us forward. One that moved nothing (the stream stalled on a delivery
    //  that fails its check, and went back to it) waits FETCH_RETRY_MS:
    //  fetching again at once looped, 175 fetches of 256 in 10 s.
    if (have > before)
        stream->fetch_sent = 0;
    //  The reply to our latest fetch, sent after the last claim on the
    //  stream socket had arrived: the upstream sent that claim before it
    //  read the fetch, and heads only grow, so its head here is at least
    //  any true claim (and Welcomes come on this same connection, in
    //  order). A claim above it was false: it holds no longer. If we hold
    //  that head, nothing is outstanding, and the next claim may fetch at
    //  once (no loop: only a claim above what we hold fetches).
    if (number == stream->fetches && number > stream->claimed) {
        stream->heard_head = deliveries->head;
        if (deliveries->head <= have)
            stream->fetch_sent = 0;
    }
    else
    if (deliveries->head > stream->heard_head)
        stream->heard_head = deliveries->head;
    s_catch_up (self, stream, stream->heard_head);
}

//  FNV-1a over bytes, folded into hash: tells one set of refusals from
//  another, so each is logged once, not at every retry.
static uint64_t
s_fnv (uint64_t hash, const void *bytes, size_t size)
{
    for (size_t index = 0; index < size; index++)
        hash = (hash ^ ((const uint8_t *) bytes) [index]) * 1099511628211ULL;
    return hash;
}

//  The upstream took our roster, perhaps not all of it: an entry whose
//  key another relay still holds there (an agent moved here before it
//  was removed at its old relay), or one it will not take from us. That
//  changes upstream, not here, so we send the roster again every
//  roster_retry_ms until all of it is taken, and say what was not once
//  per change, not at every retry.
static void
s_roster_answered (cc_upstream_t *self, const Certcast__Acked *acked)
{
    zlistx_purge (self->roster_frames);
    size_t sent = self->roster_entries;
    size_t not_taken = sent > acked->count? sent - acked->count: 0;
    if (not_taken == 0) {
        if (self->roster_not_taken)
            zsys_notice ("upstream: roster taken whole now (%zu entries)",
                         sent);
        else
            zsys_info ("upstream: roster accepted (%u entries)",
                       acked->count);
        self->roster_not_taken = 0;
        self->roster_retry_at = 0;
        self->roster_refusals_said = 0;
        return;
    }
    self->roster_not_taken = not_taken;
    self->roster_retry_at = zclock_mono () + self->roster_retry_ms;
    uint64_t digest = s_fnv (14695981039346656037ULL, &sent, sizeof sent);
    digest = s_fnv (digest, &acked->count, sizeof acked->count);
    char listed [1024] = "";
    size_t used = 0;
    for (size_t index = 0; index < acked->n_refused; index++) {
        const Certcast__RosterRefusal *refusal = acked->refused [index];
        const char *reason = refusal->reason? refusal->reason: "";
        digest = s_fnv (digest, refusal->sign_key.data, refusal->sign_key.len);
        digest = s_fnv (digest, reason, strlen (reason));
        char key [9] = "?";
        if (refusal->sign_key.len >= 4)
            cc_hex_encode (refusal->sign_key.data, 4, key);
        int wrote = snprintf (listed + used, sizeof listed - used,
                              "%s%.40s (key %s): %s", index? "; ": "",
                              refusal->name? refusal->name: "", key, reason);
        if (wrote > 0 && (size_t) wrote < sizeof listed - used)
            used += (size_t) wrote;
    }
    if (digest == self->roster_refusals_said)
        return;
    self->roster_refusals_said = digest;
    zsys_warning ("upstream: took %u of %zu roster entries; not taken: "
                  "%s%s; sending the roster again every %" PRId64 " s until "
                  "all are taken", acked->count, sent,
                  acked->n_refused? listed: "(not named by the upstream)",
                  not_taken > acked->n_refused && acked->n_refused?
                  "; ...": "", self->roster_retry_ms / 1000);
}

//  Is this the reply to a part of the roster in flight?
static bool
s_roster_reply (cc_upstream_t *self, uint64_t corr)
{
    return zlistx_size (self->roster_frames) > 0
        && (corr & ~CORR_ROSTER_PART) == self->roster_corr;
}

static void
s_handle_control (cc_upstream_t *self)
{
    for (int count = 0; count < 1000; count++) {
        if (!(zsock_events (self->control) & ZMQ_POLLIN))
            break;
        zframe_t *frame = zframe_recv (self->control);
        if (!frame)
            break;
        self->heard = zclock_mono ();
        Certcast__Control *control = cc_wire_control_decode (frame);
        zframe_destroy (&frame);
        if (!control) {
            zsys_warning ("upstream: malformed control reply");
            continue;
        }
        switch (control->body_case) {
            case CERTCAST__CONTROL__BODY_WELCOME:
                s_handle_welcome (self, control->welcome);
                break;
            case CERTCAST__CONTROL__BODY_DELIVERIES:
                s_handle_deliveries (self, control->corr,
                                     control->deliveries);
                break;
            case CERTCAST__CONTROL__BODY_ACKED:
                if (control->corr == self->acks_upto && self->acks_frame) {
                    zframe_destroy (&self->acks_frame);
                    self->handler.acked (self->handler.arg, self->acks_upto);
                }
                else
                if (s_roster_reply (self, control->corr)
                &&  control->corr == self->roster_last)
                    s_roster_answered (self, control->acked);
                break;
            case CERTCAST__CONTROL__BODY_STORED:
                if (self->report_frame
                &&  control->corr == (CORR_REPORT | self->report_seq)) {
                    zframe_destroy (&self->report_frame);
                    self->handler.reported (self->handler.arg,
                                            self->report_seq, true);
                }
                break;
            case CERTCAST__CONTROL__BODY_ERROR:
                if (self->report_frame
                &&  control->corr == (CORR_REPORT | self->report_seq)) {
                    if ((int) control->error->code == CC_ESTORAGE)
                        //  Nothing was stored upstream (its disk, for
                        //  now): the same report after the resend
                        //  interval. Given up, the advisory would stay
                        //  out of the national view for good.
                        self->report_sent = zclock_mono ();
                    else {
                        zframe_destroy (&self->report_frame);
                        self->handler.reported (self->handler.arg,
                                                self->report_seq, false);
                    }
                }
                uint64_t unsaid = 0;
                if (control->corr != CORR_HELLO)
                    zsys_warning ("upstream: refused request %" PRIu64 ": %s: %s",
                                  control->corr,
                                  cc_strerror (control->error->code),
                                  control->error->reason?
                                  control->error->reason: "");
                else
                if (cc_loglimit_may (&self->hello_refused, &unsaid))
                    zsys_error ("upstream: refused our hello, so nothing "
                                "comes from it: %s: %s (%" PRIu64 " more "
                                "refusals since the last such line)",
                                cc_strerror (control->error->code),
                                control->error->reason?
                                control->error->reason: "", unsaid);
                if (control->corr == self->acks_upto && self->acks_frame) {
                    if (self->handler.acks_refused (
                            self->handler.arg, self->acks_upto,
                            (int) control->error->code,
                            control->error->reason? control->error->reason: ""))
                        zframe_destroy (&self->acks_frame);
                    else
                        //  Retried; said only once a cycle.
                        self->acks_sent = zclock_mono ();
                }
                if (s_roster_reply (self, control->corr))
                    //  What was staged of it is gone: all of it, later.
                    self->roster_sent = zclock_mono ();
                break;
            default:
                break;
        }
        certcast__control__free_unpacked (control, NULL);
    }
}

bool
cc_upstream_handle (cc_upstream_t *self, void *which)
{
    if (which == self->stream) {
        s_handle_stream (self);
        return true;
    }
    if (which == self->control) {
        s_handle_control (self);
        return true;
    }
    return false;
}

//  Is an in-flight request due: never sent on this session, or
//  unanswered for `resend` ms? Only while connected: a new session's
//  Welcome makes it due again.
static bool
s_due (cc_upstream_t *self, int64_t sent, int64_t now, int64_t resend)
{
    return self->connected && (!sent || now - sent >= resend);
}

//  Send a copy of frame; false if the queue is full (it is resent later).
static bool
s_send_copy (cc_upstream_t *self, zframe_t *frame)
{
    zframe_t *copy = zframe_dup (frame);
    if (zframe_send (&copy, self->control, ZFRAME_DONTWAIT) == 0)
        return true;
    zframe_destroy (&copy);
    return false;
}

//  Send (a copy of) an in-flight frame if it is due.
static void
s_send_due (cc_upstream_t *self, zframe_t *frame, int64_t *sent, int64_t now)
{
    if (!frame || !s_due (self, *sent, now, ACKS_RESEND_MS))
        return;
    s_send_copy (self, frame);
    *sent = now;
}

//  Send every part of the roster in flight if it is due. A part lost on
//  the way makes the upstream refuse the rest, so it is all or nothing:
//  the whole roster again, from part 1, when it is next due.
static void
s_send_roster_due (cc_upstream_t *self, int64_t now)
{
    if (zlistx_size (self->roster_frames) == 0
    ||  !s_due (self, self->roster_sent, now, ROSTER_RESEND_MS))
        return;
    for (zframe_t *frame = (zframe_t *) zlistx_first (self->roster_frames);
         frame && s_send_copy (self, frame);
         frame = (zframe_t *) zlistx_next (self->roster_frames))
        ;
    self->roster_sent = now;
}

bool
cc_upstream_tick (cc_upstream_t *self, zpoller_t *poller)
{
    int64_t now = zclock_mono ();
    int64_t interval = self->heartbeat_ms > self->upstream_heartbeat_ms?
                       self->heartbeat_ms: self->upstream_heartbeat_ms;
    int64_t dead_after = interval * 3;
    int64_t last = self->heard > self->created? self->heard: self->created;
    if (now - last > dead_after + interval) {
        if (self->connected || self->heard)
            zsys_warning ("upstream: %s silent for %" PRId64 " ms, reconnecting",
                          self->endpoint_control, now - last);
        self->reconnects++;
        self->heard = 0;
        cc_upstream_detach (self, poller);
        zsock_destroy (&self->stream);
        zsock_destroy (&self->control);
        s_build_sockets (self);
        cc_upstream_attach (self, poller);
        return true;
    }
    if (now - self->hello_sent >= (self->connected? HELLO_EVERY_MS: 1000))
        s_send_hello (self);
    s_send_due (self, self->acks_frame, &self->acks_sent, now);
    s_send_due (self, self->report_frame, &self->report_sent, now);
    s_send_roster_due (self, now);
    return false;
}

void
cc_upstream_send_report (cc_upstream_t *self, uint64_t seq,
                         const uint8_t *signed_bytes, size_t size)
{
    assert (!self->report_frame);
    Certcast__Publish publish = CERTCAST__PUBLISH__INIT;
    publish.signed_.data = (uint8_t *) signed_bytes;
    publish.signed_.len = size;
    publish.record_only = true;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = CORR_REPORT | seq;
    control.body_case = CERTCAST__CONTROL__BODY_PUBLISH;
    control.publish = &publish;
    self->report_frame = cc_wire_control_encode (&control);
    self->report_seq = seq;
    self->report_sent = 0;
    //  Now, not at the next tick: that may be a whole poll timeout away.
    s_send_due (self, self->report_frame, &self->report_sent, zclock_mono ());
}

bool
cc_upstream_report_in_flight (cc_upstream_t *self)
{
    return self->report_frame != NULL;
}

void
cc_upstream_send_acks (cc_upstream_t *self, uint64_t upto,
                       Certcast__SignedAck **acks, size_t count)
{
    assert (!self->acks_frame);
    Certcast__Acks body = CERTCAST__ACKS__INIT;
    body.n_acks = count;
    body.acks = acks;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = upto;
    control.body_case = CERTCAST__CONTROL__BODY_ACKS;
    control.acks = &body;
    self->acks_frame = cc_wire_control_encode (&control);
    self->acks_upto = upto;
    self->acks_sent = 0;
    //  Now, not at the next tick: that may be a whole poll timeout away,
    //  and every agent's ack waits for this batch to reach the national
    //  ledger.
    s_send_due (self, self->acks_frame, &self->acks_sent, zclock_mono ());
}

bool
cc_upstream_acks_in_flight (cc_upstream_t *self)
{
    return self->acks_frame != NULL;
}

//  cc_roster_chunks_split's callback: one part, encoded and kept.
static void
s_roster_part (const Certcast__Roster *part, void *arg)
{
    cc_upstream_t *self = (cc_upstream_t *) arg;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = self->roster_corr | part->part;
    control.body_case = CERTCAST__CONTROL__BODY_ROSTER;
    control.roster = (Certcast__Roster *) part;
    zlistx_add_end (self->roster_frames, cc_wire_control_encode (&control));
    self->roster_last = control.corr;
}

void
cc_upstream_send_roster (cc_upstream_t *self, const char *relay,
                         Certcast__RosterEntry **entries, size_t count)
{
    //  A newer roster replaces the one in flight; the upstream drops
    //  what it staged of that one when this one's first part arrives.
    zlistx_purge (self->roster_frames);
    self->roster_entries = count;
    self->roster_retry_at = 0;
    self->rosters++;
    self->roster_corr = CORR_ROSTER
                      | (self->rosters & 0x0FFFFFFF) << 32;
    uint64_t now = (uint64_t) zclock_time ();
    self->roster_generation = now > self->roster_generation?
                              now: self->roster_generation + 1;
    //  An upstream from before parts takes the whole roster at once, as
    //  it always did.
    size_t chunk = self->roster_parts? self->roster_chunk: count + 1;
    cc_roster_chunks_split (relay, entries, count, chunk,
                            self->roster_generation, s_roster_part, self);
    for (zframe_t *frame = (zframe_t *) zlistx_first (self->roster_frames);
         frame; frame = (zframe_t *) zlistx_next (self->roster_frames))
        if (zframe_size (frame) > CC_WIRE_MAX_FRAME) {
            //  The upstream would drop our connection for it, every resend.
            zsys_error ("upstream: a roster of %zu entries does not fit "
                        "in %s: not sent", count, self->roster_parts?
                        "its parts": "one message (upstream takes no parts)");
            zlistx_purge (self->roster_frames);
            return;
        }
    zsys_info ("upstream: sending a roster of %zu entries in %zu message(s)",
               count, zlistx_size (self->roster_frames));
    self->roster_sent = 0;
    //  Now, not at the next tick: that may be a whole poll timeout away.
    s_send_roster_due (self, zclock_mono ());
}

bool
cc_upstream_roster_in_flight (cc_upstream_t *self)
{
    return zlistx_size (self->roster_frames) > 0;
}

void
cc_upstream_set_roster_retry (cc_upstream_t *self, int64_t retry_ms)
{
    assert (self);
    assert (retry_ms > 0);
    self->roster_retry_ms = retry_ms;
}

bool
cc_upstream_roster_retry_due (cc_upstream_t *self)
{
    return self->connected && self->roster_retry_at
        && zlistx_size (self->roster_frames) == 0
        && zclock_mono () >= self->roster_retry_at;
}

size_t
cc_upstream_roster_not_taken (cc_upstream_t *self)
{
    return self->roster_not_taken;
}

bool
cc_upstream_connected (cc_upstream_t *self)
{
    return self->connected;
}

bool
cc_upstream_caught_up (cc_upstream_t *self,
                       uint64_t (*stored) (void *arg, const char *stream),
                       void *arg)
{
    if (!self->connected)
        return false;
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream; stream = (s_stream_t *) zhashx_next (self->streams))
        if (stored (arg, stream->name) < stream->heard_head)
            return false;
    return true;
}

size_t
cc_upstream_behind (cc_upstream_t *self, char *names, size_t size)
{
    size_t count = 0, used = 0;
    if (size)
        names [0] = 0;
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream; stream = (s_stream_t *) zhashx_next (self->streams))
        if (stream->behind.from) {
            int wrote = snprintf (names + used, size - used, "%s\"%s\"",
                                  count? ",": "", stream->name);
            if (wrote > 0 && (size_t) wrote < size - used)
                used += (size_t) wrote;
            count++;
        }
    return count;
}

int64_t
cc_upstream_silence (cc_upstream_t *self)
{
    return self->heard? zclock_mono () - self->heard: -1;
}

uint64_t
cc_upstream_reconnects (cc_upstream_t *self)
{
    return self->reconnects;
}
