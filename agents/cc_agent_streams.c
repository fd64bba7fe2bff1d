/*  cc_agent_streams.c - the agent's side of its relay's streams: the
    streams it follows (cursor, committed cursor, announced head, fetch in
    flight), fetches, and the deliveries they bring, queued for the cycle
    and verified together before its commit. Part of the agent actor
    (cc_agent_internal.h); the stream table is self->streams, and only
    this file looks inside it.

    Following the relay is the zguide Clone pattern: live deliveries come
    on the SUB; anything that does not continue a stream's cursor exactly
    (a PUB high-water-mark drop, our restart, a month offline) is repaired
    with Fetch(stream, cursor + 1) on the DEALER, served from the relay's
    log. Stream heartbeats carry the head, so a lost tail is noticed too.

    Trust: every advisory is opened with cc_advisory_open against the
    pinned root before anything in it is looked at. A cycle's in-order
    deliveries are queued as bytes and opened together at the end of the
    cycle, spread over cc_pool's threads, before the commit. What does not
    verify, or verifies but is not for our sector (neither targets it nor
    all sectors, or came on a stream of another sector), is counted and
    skipped (the cursor moves past it, so one bad message cannot wedge the
    stream); it is never stored, handed over or acked. The relay is
    trusted to carry, not to choose: a relay that sent a genuinely signed
    TLP:RED telecom advisory to a banking agent would otherwise have had
    it handed over and acked.

    What the relay sends is bounded before it costs anything: we follow
    only streams ORIGIN/OUR-SECTOR, at most STREAMS_MAX of them; a fetch
    reply is taken only if it answers a fetch of ours that is still
    outstanding and holds at most FETCH_MAX entries; and each kind of bad
    input is logged at most once per CC_LOGLIMIT_MS with a count of what
    was not logged (a relay sending a million empty deliveries in one
    reply wrote 3,000,000 log lines in 10 s).

    The table owns its streams and their names; a pending delivery owns
    its bytes, advisory and stream name, and the cycle's list owns it.
*/
#include "cc_agents.h"
#include "cc_agent_internal.h"

#define FETCH_MAX           256     //  deliveries asked for per fetch
#define FETCH_RETRY_MS      3000    //  fetch unanswered: ask again

typedef struct {
    char *name;                     //  stream name (owned)
    uint64_t cursor;                //  committed + batched in this cycle
    uint64_t committed;             //  on disk
    uint64_t head;                  //  highest seq the relay announced
    int64_t fetch_sent;             //  mono ms of outstanding fetch, 0: none
    uint64_t asked_first;           //  corr of the oldest fetch not yet
                                    //  answered, 0: none (a reply with
                                    //  another corr is dropped)
    uint64_t asked_last;            //  corr of the latest fetch
    cc_behind_t behind;             //  has the relay's stream gone back?
} s_stream_t;

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

zhashx_t *
cc_agent_streams_new (void)
{
    zhashx_t *streams = zhashx_new ();
    zhashx_set_destructor (streams, s_stream_destroy);
    return streams;
}

//  Stream names come from the relay: an agent reads its own sector's
//  streams only (what its relay may serve it), each ORIGIN/SECTOR as every
//  broker and relay names them, so also never longer than our keys take.
bool
cc_agent_stream_wanted (const char *name, const char *sector)
{
    if (!name || !sector)
        return false;
    const char *slash = strchr (name, '/');
    if (!slash)
        return false;
    char origin [64];
    size_t length = (size_t) (slash - name);
    if (length == 0 || length >= sizeof origin)
        return false;
    memcpy (origin, name, length);
    origin [length] = 0;
    return cc_config_name_problem (origin) == NULL && streq (slash + 1, sector);
}

//  A name the relay sent, for one log line: at most 64 bytes, anything
//  but printable ASCII as '?' (it reaches an operator's terminal).
static void
s_printable (const char *name, char *out, size_t size)
{
    size_t length = 0;
    for (; name && name [length] && length + 1 < size && length < 64;
         length++)
        out [length] = name [length] >= 0x20 && name [length] < 0x7F?
                       name [length]: '?';
    out [length] = 0;
}


//  --------------------------------------------------------------------------
//  Streams and fetches

static s_stream_t *
s_follow (self_t *self, const char *name)
{
    s_stream_t *stream = (s_stream_t *) zhashx_lookup (self->streams, name);
    if (stream)
        return stream;
    stream = (s_stream_t *) zmalloc (sizeof (s_stream_t));
    stream->name = strdup (name);
    MDB_txn *txn;
    if (cc_store_read (self->store, &txn) == 0) {
        stream->committed = cc_inbox_cursor (self->store, txn, name);
        mdb_txn_abort (txn);
    }
    stream->cursor = stream->committed;
    zhashx_insert (self->streams, name, stream);
    zsock_set_subscribe (self->stream, name);
    zsys_info ("following %s from seq %" PRIu64, name, stream->cursor + 1);
    return stream;
}

static void
s_fetch (self_t *self, s_stream_t *stream)
{
    int64_t now = zclock_mono ();
    if (stream->fetch_sent && now - stream->fetch_sent < FETCH_RETRY_MS)
        return;                 //  one outstanding fetch per stream
    Certcast__Fetch fetch = CERTCAST__FETCH__INIT;
    fetch.stream = stream->name;
    fetch.from = stream->cursor + 1;
    fetch.max = FETCH_MAX;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = CORR_FETCH | (++self->fetch_corr & 0xFFFFFFFFULL);
    control.body_case = CERTCAST__CONTROL__BODY_FETCH;
    control.fetch = &fetch;
    cc_agent_send (self, &control);
    //  A reply to any fetch since the last one answered is taken: a slow
    //  relay's answer to the first may come after we asked again. (After
    //  the counter wraps, from this one on.)
    if (!stream->asked_first || control.corr < stream->asked_first)
        stream->asked_first = control.corr;
    stream->asked_last = control.corr;
    stream->fetch_sent = now;
    self->fetches++;
    if (self->options.verbose)
        zsys_debug ("fetch %s from %" PRIu64, stream->name, fetch.from);
}

//  The relay says stream has `head`: fetch what we lack.
static void
s_learn_head (self_t *self, s_stream_t *stream, uint64_t head)
{
    if (head > stream->head)
        stream->head = head;
    if (head > stream->cursor)
        s_fetch (self, stream);
}


//  --------------------------------------------------------------------------
//  Cursors and the cycle's commit

bool
cc_agent_streams_dirty (self_t *self)
{
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream; stream = (s_stream_t *) zhashx_next (self->streams))
        if (stream->cursor != stream->committed)
            return true;
    return false;
}

int
cc_agent_streams_put_cursors (self_t *self, MDB_txn *txn)
{
    int rc = 0;
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream && rc == 0;
         stream = (s_stream_t *) zhashx_next (self->streams))
        if (stream->cursor != stream->committed)
            rc = cc_inbox_set_cursor (self->store, txn, stream->name,
                                      stream->cursor);
    return rc;
}

void
cc_agent_streams_committed (self_t *self)
{
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream; stream = (s_stream_t *) zhashx_next (self->streams))
        stream->committed = stream->cursor;
}

void
cc_agent_streams_rollback (self_t *self)
{
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream; stream = (s_stream_t *) zhashx_next (self->streams)) {
        stream->cursor = stream->committed;
        stream->fetch_sent = 0;
    }
}


//  --------------------------------------------------------------------------
//  Deliveries

void
cc_agent_pending_destroy (void **item)
{
    cc_agent_pending_t *pending = (cc_agent_pending_t *) *item;
    if (pending) {
        cc_advisory_destroy (&pending->advisory);
        free (pending->signed_bytes);
        free (pending->stream);
        free (pending);
        *item = NULL;
    }
}

//  An in-order delivery: queue a copy of its signed bytes for this cycle;
//  cc_agent_verify checks them all before anything in them is trusted. The
//  cursor moves past it either way (one bad message cannot wedge the
//  stream).
static void
s_process (self_t *self, s_stream_t *stream, const Certcast__Delivery *delivery)
{
    stream->cursor = delivery->seq;
    cc_agent_pending_t *pending =
        (cc_agent_pending_t *) zmalloc (sizeof (cc_agent_pending_t));
    pending->code = CC_EMALFORMED;
    pending->reason = "empty or oversized signed advisory";
    if (delivery->signed_.len > 0
    &&  delivery->signed_.len <= CC_WIRE_MAX_SIGNED) {
        pending->signed_bytes = (uint8_t *) zmalloc (delivery->signed_.len);
        memcpy (pending->signed_bytes, delivery->signed_.data,
                delivery->signed_.len);
        pending->signed_size = delivery->signed_.len;
    }
    pending->stream = strdup (stream->name);
    pending->seq = delivery->seq;
    pending->received_at = (int64_t) time (NULL);
    pending->handle = zlistx_add_end (self->pending, pending);
    self->pending_bytes += pending->signed_size;
}

bool
cc_agent_batch_full (self_t *self)
{
    return zlistx_size (self->pending) >= BATCH_MAX
        || self->pending_bytes >= BATCH_BYTES;
}

//  What every verification job of a batch reads (and nothing writes).
typedef struct {
    const uint8_t *root_key;
    int64_t now;
} s_verify_arg_t;

//  A pool job: open one queued delivery against the pinned root. Writes
//  only its own element.
static void
s_verify_job (void *job, void *arg)
{
    cc_agent_pending_t *pending = *(cc_agent_pending_t **) job;
    const s_verify_arg_t *verify = (const s_verify_arg_t *) arg;
    if (pending->signed_bytes)
        pending->advisory = cc_advisory_open (
            pending->signed_bytes, pending->signed_size, verify->root_key,
            verify->now, CC_AT_DELIVERY, &pending->code, &pending->reason);
}

//  Verify the cycle's deliveries across the pool's threads, then drop,
//  log and count those that did not verify; the rest keep their order.
void
cc_agent_verify (self_t *self)
{
    size_t count = zlistx_size (self->pending);
    if (count == 0)
        return;
    cc_agent_pending_t **jobs = (cc_agent_pending_t **) zmalloc (
        (count + 1) * sizeof (cc_agent_pending_t *));
    size_t queued = 0;
    for (cc_agent_pending_t *pending =
             (cc_agent_pending_t *) zlistx_first (self->pending);
         pending; pending = (cc_agent_pending_t *) zlistx_next (self->pending))
        if (!pending->advisory)
            jobs [queued++] = pending;
    s_verify_arg_t verify = { self->root_key, (int64_t) time (NULL) };
    cc_pool_run (self->pool, jobs, queued, sizeof (cc_agent_pending_t *),
                 s_verify_job, &verify);
    for (size_t index = 0; index < queued; index++) {
        cc_agent_pending_t *pending = jobs [index];
        free (pending->signed_bytes);
        pending->signed_bytes = NULL;
        //  Genuine, but not for us: refused as if it did not verify.
        if (pending->advisory
        &&  !(cc_agent_stream_wanted (pending->stream, self->sector)
              && cc_advisory_targets (pending->advisory, self->sector))) {
            cc_advisory_destroy (&pending->advisory);
            pending->code = CC_ESCOPE;
            pending->reason = "not for this agent's sector";
        }
        if (pending->advisory) {
            pending->expired = cc_advisory_expired (pending->advisory,
                                                    verify.now);
            continue;
        }
        self->refused++;
        uint64_t held = 0;
        if (cc_loglimit_may (&self->log_refused, &held))
            zsys_warning ("refused %s seq %" PRIu64 ": %s: %s (and %" PRIu64
                          " refused since the last such line)",
                          pending->stream, pending->seq,
                          cc_strerror (pending->code),
                          pending->reason? pending->reason: "", held);
        zlistx_delete (self->pending, pending->handle);
    }
    free (jobs);
}

//  Offer one encoded Delivery for stream. Live ones (from the SUB) that
//  skip ahead trigger a fetch; fetched ones arrive in order. False if it
//  does not decode or names another stream (counted; the caller logs).
static bool
s_offer (self_t *self, s_stream_t *stream, const uint8_t *bytes, size_t size,
         bool live)
{
    if (cc_agent_batch_full (self))
        return true;            //  full cycle: heartbeats bring us back
    Certcast__Delivery *delivery = (Certcast__Delivery *) cc_wire_unpack (
        &certcast__delivery__descriptor, bytes, size, CC_WIRE_MAX_FRAME);
    if (!delivery) {
        self->malformed++;
        return false;
    }
    bool valid = delivery->stream && streq (delivery->stream, stream->name);
    if (!valid)
        self->malformed++;
    else
    if (delivery->seq == stream->cursor + 1)
        s_process (self, stream, delivery);
    else
    if (delivery->seq > stream->cursor + 1 && live)
        s_learn_head (self, stream, delivery->seq);
    //  else: a seq at or below the cursor is a duplicate
    certcast__delivery__free_unpacked (delivery, NULL);
    return valid;
}

//  One line for the bad deliveries of one message or reply, at most one
//  per CC_LOGLIMIT_MS.
static void
s_log_bad (self_t *self, s_stream_t *stream, size_t bad, size_t total)
{
    uint64_t held = 0;
    if (bad && cc_loglimit_may (&self->log_replies, &held))
        zsys_warning ("relay %s: %zu of %zu deliveries on %s malformed or "
                      "for another stream; dropped (and %" PRIu64 " such "
                      "messages since the last such line)", self->relay_label,
                      bad, total, stream->name, held);
}

void
cc_agent_handle_stream (self_t *self)
{
    for (int count = 0; count < DRAIN_MAX; count++) {
        if (!(zsock_events (self->stream) & ZMQ_POLLIN))
            break;
        if (cc_agent_batch_full (self))
            break;
        zmsg_t *msg = zmsg_recv (self->stream);
        if (!msg)
            break;
        cc_agent_heard (self);
        char *topic = zmsg_popstr (msg);
        zframe_t *body = zmsg_pop (msg);
        int64_t streams = cc_wire_alive_streams (topic, body);
        if (streams >= 0 && streams != self->alive_streams) {
            self->alive_streams = streams;
            cc_agent_send_hello (self);
        }
        //  SUB filters by prefix: follow only exact stream names.
        s_stream_t *stream = topic?
            (s_stream_t *) zhashx_lookup (self->streams, topic): NULL;
        Certcast__StreamMsg *message = stream && body?
            (Certcast__StreamMsg *) cc_wire_unpack (
                &certcast__stream_msg__descriptor, zframe_data (body),
                zframe_size (body), CC_WIRE_MAX_FRAME): NULL;
        if (stream && !message)
            self->malformed++;
        if (message) {
            if (message->body_case == CERTCAST__STREAM_MSG__BODY_DELIVERY) {
                if (!s_offer (self, stream, message->delivery.data,
                              message->delivery.len, true))
                    s_log_bad (self, stream, 1, 1);
            }
            else
            if (message->body_case == CERTCAST__STREAM_MSG__BODY_HEARTBEAT
            &&  message->heartbeat->stream
            &&  streq (message->heartbeat->stream, stream->name))
                s_learn_head (self, stream, message->heartbeat->head);
            certcast__stream_msg__free_unpacked (message, NULL);
        }
        zstr_free (&topic);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
}


//  --------------------------------------------------------------------------
//  Replies, new sockets and timers

//  A relay whose stream is below what we hold was restored from an older
//  copy, and what it numbers again we never see (see cc_behind.h).
static void
s_check_behind (s_stream_t *stream, uint64_t head)
{
    uint64_t held = 0;
    switch (cc_behind_welcome (&stream->behind, head, stream->committed,
                               &held)) {
        case CC_BEHIND_WENT_BACK:
            zsys_error ("relay stream %s is at %" PRIu64 ", behind the %"
                        PRIu64 " we hold: the relay was restored from an "
                        "older copy, and what it numbers again up to %"
                        PRIu64 " does not reach us: ask its operator to "
                        "publish those again once it is past %" PRIu64,
                        stream->name, head, held, held, held);
            break;
        case CC_BEHIND_PAST_AGAIN:
            zsys_notice ("relay stream %s is at %" PRIu64 " again, past the %"
                         PRIu64 " we held when it went back", stream->name,
                         head, held);
            break;
        case CC_BEHIND_SAME:
            break;
    }
}

//  A relay lists what it likes: we follow only our sector's streams, and
//  at most STREAMS_MAX (a real relay serves a handful: its upstream's and
//  its own). A fake relay listing 20,000 new names per Hello took an
//  agent to 655 MB and a whole core in 80 s.
void
cc_agent_follow_heads (self_t *self, const Certcast__Welcome *welcome)
{
    size_t ignored = 0;
    const char *example = NULL;
    for (size_t index = 0; index < welcome->n_heads; index++) {
        Certcast__StreamHead *head = welcome->heads [index];
        s_stream_t *stream = head->stream?
            (s_stream_t *) zhashx_lookup (self->streams, head->stream): NULL;
        if (!stream) {
            if (!cc_agent_stream_wanted (head->stream, self->sector)) {
                if (!example)
                    example = head->stream? head->stream: "";
                ignored++;
                continue;
            }
            if (zhashx_size (self->streams) >= STREAMS_MAX) {
                if (!self->streams_full_logged)
                    zsys_error ("relay %s lists more than %d streams of "
                                "sector %s: following the first %d only",
                                self->relay_label, STREAMS_MAX, self->sector,
                                STREAMS_MAX);
                self->streams_full_logged = true;
                self->streams_ignored++;
                continue;
            }
            stream = s_follow (self, head->stream);
        }
        s_check_behind (stream, head->head);
        s_learn_head (self, stream, head->head);
    }
    self->streams_ignored += ignored;
    uint64_t held = 0;
    if (ignored && cc_loglimit_may (&self->log_streams, &held)) {
        char name [65];
        s_printable (example, name, sizeof name);
        zsys_warning ("relay %s lists %zu streams that are not ORIGIN/%s "
                      "(e.g. '%s'): not followed (and %" PRIu64 " such "
                      "Welcomes since the last such line)", self->relay_label,
                      ignored, self->sector, name, held);
    }
}

//  A reply is walked only if it answers a fetch of ours that is still
//  outstanding, and holds no more than we asked for: anything else is
//  dropped whole, with one line (a relay could otherwise send a million
//  empty deliveries in one 2 MB reply, or replies nobody asked for).
void
cc_agent_handle_deliveries (self_t *self, uint64_t corr,
                            const Certcast__Deliveries *deliveries)
{
    s_stream_t *stream = deliveries->stream?
        (s_stream_t *) zhashx_lookup (self->streams, deliveries->stream): NULL;
    const char *problem =
        !stream? "for a stream we do not follow":
        !stream->asked_first || corr < stream->asked_first
                             || corr > stream->asked_last?
            "that answers no fetch of ours (or one answered already)":
        deliveries->n_deliveries > FETCH_MAX?
            "with more deliveries than we asked for": NULL;
    if (problem) {
        self->replies_dropped++;
        uint64_t held = 0;
        if (cc_loglimit_may (&self->log_replies, &held)) {
            char name [65];
            s_printable (deliveries->stream, name, sizeof name);
            zsys_warning ("relay %s: dropped a fetch reply %s ('%s', %zu "
                          "deliveries; and %" PRIu64 " such messages since "
                          "the last such line)", self->relay_label, problem,
                          name, deliveries->n_deliveries, held);
        }
        return;
    }
    stream->asked_first = stream->asked_last = 0;
    uint64_t before = stream->cursor;
    stream->fetch_sent = 0;
    size_t bad = 0;
    for (size_t index = 0; index < deliveries->n_deliveries; index++)
        if (!s_offer (self, stream, deliveries->deliveries [index].data,
                      deliveries->deliveries [index].len, false))
            bad++;
    s_log_bad (self, stream, bad, deliveries->n_deliveries);
    if (deliveries->head > stream->head)
        stream->head = deliveries->head;
    //  A long gap takes several fetches: go on while we make progress. A
    //  reply that moved nothing waits for the retry, so a relay missing
    //  part of its log cannot make us spin.
    if (stream->cursor > before)
        s_learn_head (self, stream, stream->head);
    else
    if (stream->head > stream->cursor)
        stream->fetch_sent = zclock_mono ();
}


void
cc_agent_streams_subscribe (self_t *self)
{
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream; stream = (s_stream_t *) zhashx_next (self->streams)) {
        zsock_set_subscribe (self->stream, stream->name);
        stream->fetch_sent = 0;
        //  The old socket's replies went with it.
        stream->asked_first = stream->asked_last = 0;
    }
}

void
cc_agent_streams_retry (self_t *self, int64_t now)
{
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream; stream = (s_stream_t *) zhashx_next (self->streams))
        if (stream->fetch_sent && now - stream->fetch_sent >= FETCH_RETRY_MS) {
            stream->fetch_sent = 0;
            if (stream->head > stream->cursor)
                s_fetch (self, stream);
        }
}

int64_t
cc_agent_streams_next_retry (self_t *self)
{
    int64_t next = INT64_MAX;
    for (s_stream_t *stream = (s_stream_t *) zhashx_first (self->streams);
         stream; stream = (s_stream_t *) zhashx_next (self->streams))
        if (stream->fetch_sent && stream->fetch_sent + FETCH_RETRY_MS < next)
            next = stream->fetch_sent + FETCH_RETRY_MS;
    return next;
}
