/*  cc_engine_upstream.c - a relay engine's side of its upstream link
    (cc_upstream): deliveries from upstream go into the cycle's batch (to
    be verified and stored like anything else), and after each poll the
    relay reports its own advisories, passes its ledgered acks on from a
    persisted watermark and sends its roster, one of each in flight.
*/
#include "cc_broker.h"
#include "cc_engine_internal.h"

//  ... and at most this many bytes of them: one signed ack may cover a
//  whole fetch of an agent catching up (256 entries, ~20 KB), and a
//  batch over the upstream's frame cap would be dropped with the
//  connection, then sent again after the reconnect, for ever.
#define ACKQ_BATCH_BYTES    (CC_WIRE_MAX_FRAME / 4)

//  ---------------------------------------------------------------------
//  Callbacks from cc_upstream

static uint64_t
s_upstream_head (void *arg, const char *stream)
{
    self_t *self = (self_t *) arg;
    uint64_t pending = cc_engine_head (self->pending_heads, stream);
    return pending? pending: cc_engine_head (self->heads, stream);
}

static void
s_upstream_delivery (void *arg, const char *stream, uint64_t seq,
                     const uint8_t *bytes, size_t size)
{
    self_t *self = (self_t *) arg;
    //  Verified with the rest of the cycle before anything is stored or
    //  forwarded: a relay passes on nothing that does not chain to the
    //  pinned root, even from its own upstream.
    cc_engine_item_t *item =
        cc_engine_item_new (ITEM_FORWARD, NULL, 0, "upstream");
    item->stream = strdup (stream);
    item->seq = seq;
    item->delivery = zchunk_new (bytes, size);
    cc_engine_queue (self, item);
    cc_engine_set_head (self->pending_heads, stream, seq);
}

static void
s_upstream_acked (void *arg, uint64_t upto)
{
    self_t *self = (self_t *) arg;
    self->ackq_confirm = upto;
    self->ackq_confirmed = upto;
    cc_ackpace_acked (self->ackpace);
}

static bool
s_upstream_acks_refused (void *arg, uint64_t upto, int code,
                         const char *reason)
{
    self_t *self = (self_t *) arg;
    cc_ackpace_verdict_t verdict = cc_ackpace_refused (self->ackpace, code);
    if (verdict == CC_ACKPACE_SMALLER)
        zsys_warning ("upstream refused a batch of acks up to #%" PRIu64
                      " (%s: %s); sending it in halves to find the ack it "
                      "will not take", upto, cc_strerror (code), reason);
    else
    if (verdict == CC_ACKPACE_PASS_OVER) {
        //  Loudly: the receipt stays in our ledger, not in the upstream's.
        zsys_error ("upstream will not take ack #%" PRIu64 " (%s: %s): it "
                    "stays in this relay's ledger only (certcast ledger "
                    "here); passing on the acks after it", upto,
                    cc_strerror (code), reason);
        self->counters.acks_refused_upstream++;
        self->ackq_confirm = upto;
        self->ackq_confirmed = upto;
    }
    return verdict != CC_ACKPACE_AGAIN;
}

static void
s_upstream_welcome (void *arg)
{
    self_t *self = (self_t *) arg;
    self->roster_dirty = true;
}

static void
s_upstream_reported (void *arg, uint64_t seq, bool ok)
{
    self_t *self = (self_t *) arg;
    if (!ok)
        zsys_warning ("upstream refused our report of %s#%" PRIu64
                      "; it stays out of the national compliance view",
                      self->report_stream, seq);
    self->report_confirm = seq;
}

//  Report our own streams' advisories upstream, in order, from a
//  persisted watermark per stream: one in flight at a time. True while a
//  report is in flight or its answer not yet committed: acks wait until
//  then (see the loop), because the upstream ledgers acks only for
//  advisories it holds, and the acks of our own advisory would otherwise
//  overtake its report in a burst and be counted unknown there.
static bool
s_report_upstream (self_t *self)
{
    if (cc_upstream_report_in_flight (self->upstream) || self->report_confirm)
        return true;
    if (!cc_upstream_connected (self->upstream))
        return false;
    MDB_txn *txn = NULL;
    if (cc_store_read (self->store, &txn))
        return false;
    for (size_t index = 0; index < self->n_sectors; index++) {
        //  Names and sectors are up to 63 characters each: a stream name
        //  cut short here had no head, and was never reported.
        const char *stream = self->own_streams [index];
        char key [sizeof self->report_stream + 8];
        snprintf (key, sizeof key, "report.%s", stream);
        uint64_t reported = cc_meta_get_u64 (self->store, txn, key);
        MDB_val value;
        if (reported >= cc_engine_head (self->heads, stream)
        ||  cc_log_get (self->store, txn, stream, reported + 1, &value))
            continue;
        Certcast__Delivery *delivery = (Certcast__Delivery *) cc_wire_unpack (
            &certcast__delivery__descriptor, value.mv_data, value.mv_size,
            CC_WIRE_MAX_FRAME);
        if (delivery) {
            snprintf (self->report_stream, sizeof self->report_stream, "%s",
                      stream);
            cc_upstream_send_report (self->upstream, reported + 1,
                                     delivery->signed_.data,
                                     delivery->signed_.len);
            certcast__delivery__free_unpacked (delivery, NULL);
        }
        break;
    }
    mdb_txn_abort (txn);
    return cc_upstream_report_in_flight (self->upstream);
}

typedef struct {
    Certcast__SignedAck **acks;
    size_t count;
    uint64_t upto;
    size_t bytes;               //  encoded size of the acks taken
    bool full;
} s_ack_batch_t;

//  The first ack is always taken: the relay took it in one frame, so it
//  fits in one on its own.
static void
s_collect_ack (uint64_t n, const uint8_t *bytes, size_t size, void *arg)
{
    s_ack_batch_t *batch = (s_ack_batch_t *) arg;
    if (batch->full
    ||  (batch->count > 0 && batch->bytes + size > ACKQ_BATCH_BYTES)) {
        batch->full = true;
        return;
    }
    batch->bytes += size;
    Certcast__SignedAck *ack = (Certcast__SignedAck *) cc_wire_unpack (
        &certcast__signed_ack__descriptor, bytes, size, CC_WIRE_MAX_FRAME);
    if (ack)
        batch->acks [batch->count++] = ack;
    batch->upto = n;
}

//  Pass ledgered acks upstream from the persisted watermark, one batch in
//  flight; the national broker answers Acked after its own commit.
static void
s_forward_acks (self_t *self)
{
    if (!cc_upstream_connected (self->upstream)
    ||  cc_upstream_acks_in_flight (self->upstream))
        return;
    MDB_txn *txn = NULL;
    if (cc_store_read (self->store, &txn))
        return;
    s_ack_batch_t batch = { NULL, 0, 0, 0, false };
    batch.acks =
        (Certcast__SignedAck **) zmalloc (ACKQ_BATCH * sizeof (void *));
    cc_ledger_queue_peek (self->store, txn, self->ackq_confirmed,
                          cc_ackpace_limit (self->ackpace), s_collect_ack,
                          &batch);
    mdb_txn_abort (txn);
    if (batch.upto) {
        cc_upstream_send_acks (self->upstream, batch.upto, batch.acks,
                               batch.count);
        cc_ackpace_sent (self->ackpace, batch.count);
        self->counters.acks_upstream += batch.count;
    }
    for (size_t index = 0; index < batch.count; index++)
        certcast__signed_ack__free_unpacked (batch.acks [index], NULL);
    free (batch.acks);
}

//  Entries relays below us reported (stored with their name as via), as
//  copies: our upstream must see every agent behind us, not only ours.
typedef struct {
    self_t *self;
    zlistx_t *entries;          //  Certcast__RosterEntry *, owned
} s_below_t;

static void
s_entry_free (void **item)
{
    if (*item)
        certcast__roster_entry__free_unpacked (
            (Certcast__RosterEntry *) *item, NULL);
    *item = NULL;
}

static void
s_collect_below (const Certcast__RosterEntry *entry, void *arg)
{
    s_below_t *below = (s_below_t *) arg;
    if (!entry->via || streq (entry->via, below->self->name)
    ||  cc_roster_by_sign_key (below->self->roster, entry->sign_key.data))
        return;                 //  ours, from our allow directory
    size_t size;
    uint8_t *bytes = cc_wire_pack (&entry->base, &size);
    Certcast__RosterEntry *copy = (Certcast__RosterEntry *) cc_wire_unpack (
        &certcast__roster_entry__descriptor, bytes, size, CC_ROSTER_ENTRY_MAX);
    free (bytes);
    if (copy)
        zlistx_add_end (below->entries, copy);
}

static void
s_send_roster (self_t *self)
{
    s_below_t below = { self, zlistx_new () };
    zlistx_set_destructor (below.entries, s_entry_free);
    MDB_txn *txn = NULL;
    if (cc_store_read (self->store, &txn) == 0) {
        cc_roster_each (self->store, txn, s_collect_below, &below);
        mdb_txn_abort (txn);
    }
    size_t count = cc_roster_size (self->roster) + zlistx_size (below.entries);
    Certcast__RosterEntry *entries =
        (Certcast__RosterEntry *) zmalloc ((count + 1) * sizeof *entries);
    Certcast__RosterEntry **pointers =
        (Certcast__RosterEntry **) zmalloc ((count + 1) * sizeof (void *));
    size_t index = 0;
    for (const cc_member_t *member = cc_roster_first (self->roster);
         member && index < count; member = cc_roster_next (self->roster)) {
        if (!streq (member->role, "agent"))
            continue;
        cc_roster_entry_from (member, self->name, &entries [index]);
        pointers [index] = &entries [index];
        index++;
    }
    for (Certcast__RosterEntry *entry =
             (Certcast__RosterEntry *) zlistx_first (below.entries);
         entry && index < count;
         entry = (Certcast__RosterEntry *) zlistx_next (below.entries))
        pointers [index++] = entry;
    cc_upstream_send_roster (self->upstream, self->name, pointers, index);
    free (pointers);
    free (entries);
    zlistx_destroy (&below.entries);
    //  Handed over: cc_upstream resends it until the upstream accepts its
    //  last part (status: roster_pending), and a new session or a change
    //  of the allow directory makes it dirty again.
    self->roster_dirty = false;
}

//  ---------------------------------------------------------------------
//  The link

cc_upstream_t *
cc_engine_upstream_new (self_t *self)
{
    cc_upstream_handler_t handler = {
        self, s_upstream_head, s_upstream_delivery, s_upstream_acked,
        s_upstream_acks_refused, s_upstream_welcome, s_upstream_reported
    };
    self->ackpace = cc_ackpace_new (ACKQ_BATCH);
    cc_upstream_t *upstream = cc_upstream_new (
        self->upstream_host, self->config.upstream_port, self->upstream_key,
        self->config.keys, self->name, (const char **) self->sectors,
        self->config.heartbeat_ms, &handler);
    if (self->config.roster_retry_ms > 0)
        cc_upstream_set_roster_retry (upstream, self->config.roster_retry_ms);
    cc_upstream_attach (upstream, self->poller);
    return upstream;
}

void
cc_engine_upstream_tick (self_t *self)
{
    cc_upstream_tick (self->upstream, self->poller);
    //  Not all of our last roster was taken: built anew, for the allow
    //  directory (ours, or another relay's upstream) may have changed.
    if (cc_upstream_roster_retry_due (self->upstream))
        self->roster_dirty = true;
    if (self->roster_dirty && cc_upstream_connected (self->upstream))
        s_send_roster (self);
    if (!s_report_upstream (self))
        s_forward_acks (self);
}
