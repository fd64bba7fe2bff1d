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
    verify is logged, counted and skipped (the cursor moves past it, so
    one bad message cannot wedge the stream); it is never stored, handed
    over or acked.

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

//  Stream names come from the relay: take only what fits our keys.
static bool
s_valid_stream_name (const char *name)
{
    if (!name)
        return false;
    size_t length = strnlen (name, CC_INBOX_STREAM_MAX + 1);
    return length > 0 && length <= CC_INBOX_STREAM_MAX && name [0] != '$';
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
        if (pending->advisory)
            continue;
        self->refused++;
        zsys_warning ("refused %s seq %" PRIu64 ": %s: %s", pending->stream,
                      pending->seq, cc_strerror (pending->code),
                      pending->reason? pending->reason: "");
        zlistx_delete (self->pending, pending->handle);
    }
    free (jobs);
}

//  Offer one encoded Delivery for stream. Live ones (from the SUB) that
//  skip ahead trigger a fetch; fetched ones arrive in order.
static void
s_offer (self_t *self, s_stream_t *stream, const uint8_t *bytes, size_t size,
         bool live)
{
    if (zlistx_size (self->pending) >= BATCH_MAX)
        return;                 //  full cycle: heartbeats bring us back
    Certcast__Delivery *delivery = (Certcast__Delivery *) cc_wire_unpack (
        &certcast__delivery__descriptor, bytes, size, CC_WIRE_MAX_FRAME);
    if (!delivery) {
        self->malformed++;
        zsys_warning ("malformed delivery on %s", stream->name);
        return;
    }
    if (!delivery->stream || !streq (delivery->stream, stream->name)) {
        self->malformed++;
        zsys_warning ("delivery for %s arrived as %s; dropped",
                      delivery->stream? delivery->stream: "?", stream->name);
    }
    else
    if (delivery->seq == stream->cursor + 1)
        s_process (self, stream, delivery);
    else
    if (delivery->seq > stream->cursor + 1 && live)
        s_learn_head (self, stream, delivery->seq);
    //  else: a seq at or below the cursor is a duplicate
    certcast__delivery__free_unpacked (delivery, NULL);
}

void
cc_agent_handle_stream (self_t *self)
{
    for (int count = 0; count < DRAIN_MAX; count++) {
        if (!(zsock_events (self->stream) & ZMQ_POLLIN))
            break;
        if (zlistx_size (self->pending) >= BATCH_MAX)
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
            if (message->body_case == CERTCAST__STREAM_MSG__BODY_DELIVERY)
                s_offer (self, stream, message->delivery.data,
                         message->delivery.len, true);
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

void
cc_agent_follow_heads (self_t *self, const Certcast__Welcome *welcome)
{
    for (size_t index = 0; index < welcome->n_heads; index++) {
        Certcast__StreamHead *head = welcome->heads [index];
        if (!s_valid_stream_name (head->stream))
            continue;
        s_stream_t *stream = s_follow (self, head->stream);
        s_check_behind (stream, head->head);
        s_learn_head (self, stream, head->head);
    }
}

void
cc_agent_handle_deliveries (self_t *self,
                            const Certcast__Deliveries *deliveries)
{
    s_stream_t *stream = deliveries->stream?
        (s_stream_t *) zhashx_lookup (self->streams, deliveries->stream): NULL;
    if (!stream)
        return;
    uint64_t before = stream->cursor;
    stream->fetch_sent = 0;
    for (size_t index = 0; index < deliveries->n_deliveries; index++)
        s_offer (self, stream, deliveries->deliveries [index].data,
                 deliveries->deliveries [index].len, false);
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
