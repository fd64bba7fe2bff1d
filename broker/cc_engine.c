/*  cc_engine.c - the broker engine actor (national broker and relays).

    One poller, one handler per socket, and one write transaction per poll
    cycle. Handlers never write to LMDB: they verify what arrived and queue
    it in the cycle's batch. s_cycle_end commits the batch with one durable
    LMDB transaction and only then makes anything visible - publishes the
    new deliveries, answers "stored" and "acked". This is the durability
    promise of certcast: a publisher told "stored" and an agent told
    "acked" can lose power a microsecond later on every host and nothing
    they were told is lost, because the data sync happened first. If the
    commit fails nothing is made visible and every requester is told
    "storage" (publishers exit non-zero; agents and relays resend).

    Trust decisions all happen before the write: the sender is the ZAP
    User-Id (its CURVE key) looked up in the roster, never the ROUTER
    routing id, and every advisory (cc_advisory_open, against the pinned
    root) and every signed ack (cc_ledger_verify_signed_ack) is verified
    before the transaction begins. Handlers only queue what arrived;
    s_cycle_end first verifies the whole cycle at once on the fork-join
    pool (cc_pool: Ed25519 is the one CPU-bound step, and a cycle holds
    up to thousands of acks), refuses what failed with the same replies
    as ever, and only then writes what passed.

    self_t owns the store, roster, sockets, ZAP actor, upstream link and
    the batch; batch items own their frames and decoded messages.
*/
#include "cc_broker.h"
#include <sys/stat.h>
#include <sys/statvfs.h>

#define CYCLE_MAX_MESSAGES  2000    //  per socket per cycle (bounded batch)
#define FETCH_CAP           256     //  deliveries per Fetch reply
#define FETCH_BYTES_CAP     (2 * 1024 * 1024)
#define ACKQ_BATCH          512     //  signed acks per upstream batch
#define LOG_EVERY_MS        10000   //  refusal logs per peer at most this often
#define ROSTER_RESCAN_MS    5000
#define ACK_LINGER_MS       10      //  acks alone wait this long for company
#define HEAD_REPEATS        2       //  heartbeats that carry a new head
#define HEAD_EVERY_TICKS    10      //  an unchanged head, once this many ticks
#define ROSTER_PART_IDLE_MS 60000   //  a roster's next part overdue: drop it

typedef struct _s_ack_t s_ack_t;

typedef enum {
    ITEM_PUBLISH, ITEM_ACKS, ITEM_ROSTER, ITEM_FORWARD, ITEM_RECORD
} item_type_t;

//  One queued piece of work for this cycle's transaction.
typedef struct {
    item_type_t type;
    zframe_t *routing;              //  who to answer (NULL: nobody)
    uint64_t corr;
    char peer [41];                 //  CURVE key of the requester
    //  ITEM_PUBLISH, ITEM_RECORD: the request's body, until verified
    Certcast__Publish *publish;
    //  ITEM_PUBLISH, ITEM_RECORD, ITEM_FORWARD: set by verification
    cc_advisory_t *advisory;
    //  ITEM_ACKS: the request's body and one entry per signed ack in it
    Certcast__Acks *acks_request;
    s_ack_t *acks;                  //  n_acks entries
    size_t n_acks;
    uint8_t agent_key [32];         //  the connected agent; acks must carry it
    //  verification's verdict (advisories; acks keep their own)
    int refused_code;
    const char *refused_reason;
    bool verified;                  //  verified and screened (acks may wait)
    //  ITEM_ROSTER: a relay's whole roster, put together from its parts
    cc_roster_set_t *roster;
    char via [64];
    //  ITEM_FORWARD (relay: a delivery from upstream)
    char *stream;
    uint64_t seq;
    zchunk_t *delivery;
    //  results, reset at the start of each attempt
    int code;
    const char *reason;
    int count;
    int unknown;                    //  ack entries for advisories not held
    Certcast__StreamHead placed [16];
    char placed_names [16][80];
    size_t n_placed;
} s_item_t;

//  One signed ack of an Acks request. A pool job fills everything below
//  envelope and expected; the engine reads it after the run.
struct _s_ack_t {
    const Certcast__SignedAck *envelope;    //  in the item's request
    const uint8_t *expected;        //  agent key it must carry, NULL: any
    uint8_t *bytes;                 //  its encoding, kept as evidence
    size_t size;
    Certcast__Ack *ack;             //  verified decode, NULL: refused
    int code;
    const char *reason;
};

//  One verification job: an advisory item, or one ack of an item.
typedef struct {
    s_item_t *item;
    s_ack_t *ack;                   //  NULL: the item's advisory
} s_job_t;

//  What a committed batch makes visible on the PUB socket.
typedef struct {
    char *stream;
    uint64_t seq;
    zchunk_t *delivery;
} s_outgoing_t;

typedef struct {
    uint64_t published, forwarded, fetches, deliveries_served;
    uint64_t ack_messages, ack_rows, ack_duplicates, acks_upstream;
    uint64_t acks_unknown;          //  entries naming advisories not held
    uint64_t rosters, roster_parts, commits, commit_failures, bad_frames;
    uint64_t refused [16];          //  by cc_error_t
} s_counters_t;

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    cc_engine_config_t config;      //  strings below are our copies
    char *name, *listen_host, *data_dir, *allow_dir, *upstream_host;
    char *upstream_key;
    char **sectors;                 //  NULL-terminated, owned
    uint8_t root_key [32];
    bool relay;
    bool terminated;
    cc_store_t *store;
    cc_roster_t *roster;
    cc_roster_chunks_t *roster_chunks;  //  relays' rosters arriving in parts
    zactor_t *auth;
    zsock_t *pub;
    zsock_t *router;
    zpoller_t *poller;
    cc_upstream_t *upstream;        //  relays only
    zhashx_t *heads;                //  stream -> uint64_t * committed head
    zhashx_t *pending_heads;        //  stream -> uint64_t * batched head
    zhashx_t *announced;            //  stream -> s_announced_t: its heartbeats
    uint64_t heartbeat_ticks;
    zlistx_t *batch;                //  s_item_t
    zlistx_t *outgoing;             //  s_outgoing_t of the current attempt
    zhashx_t *peer_logged;          //  curve key -> int64_t * last log ms
    cc_pool_t *pool;                //  verifies a cycle's batch
    int64_t verify_now;             //  wall clock of this cycle's checks
    int64_t acks_due;               //  mono ms the waiting acks commit, 0: none
    int64_t started;
    int64_t next_heartbeat;
    int64_t next_housekeeping;
    time_t allow_mtime;
    uint64_t ackq_confirm;          //  upstream confirmed up to, to commit
    uint64_t ackq_confirmed;        //  the same, committed or not
    char report_stream [80];        //  own stream of the report in flight
    uint64_t report_confirm;        //  its seq, once answered (batched)
    bool roster_dirty;              //  send roster upstream
    s_counters_t counters;
} self_t;

static char *s_status_json (self_t *self);

//  ---------------------------------------------------------------------
//  Batch items

static s_item_t *
s_item_new (item_type_t type, zframe_t *routing, uint64_t corr,
            const char *peer)
{
    s_item_t *item = (s_item_t *) zmalloc (sizeof (s_item_t));
    item->type = type;
    item->routing = routing? zframe_dup (routing): NULL;
    item->corr = corr;
    if (peer)
        snprintf (item->peer, sizeof item->peer, "%s", peer);
    return item;
}

static void
s_item_destroy (void **item_p)
{
    s_item_t *item = (s_item_t *) *item_p;
    if (item) {
        zframe_destroy (&item->routing);
        cc_advisory_destroy (&item->advisory);
        if (item->publish)
            certcast__publish__free_unpacked (item->publish, NULL);
        for (size_t index = 0; index < item->n_acks; index++) {
            free (item->acks [index].bytes);
            if (item->acks [index].ack)
                certcast__ack__free_unpacked (item->acks [index].ack, NULL);
        }
        free (item->acks);
        if (item->acks_request)
            certcast__acks__free_unpacked (item->acks_request, NULL);
        cc_roster_set_destroy (&item->roster);
        free (item->stream);
        zchunk_destroy (&item->delivery);
        free (item);
        *item_p = NULL;
    }
}

static void
s_outgoing_destroy (void **item_p)
{
    s_outgoing_t *outgoing = (s_outgoing_t *) *item_p;
    if (outgoing) {
        free (outgoing->stream);
        zchunk_destroy (&outgoing->delivery);
        free (outgoing);
        *item_p = NULL;
    }
}

//  ---------------------------------------------------------------------
//  Small helpers

static const char *
s_sector_of (const char *stream)
{
    const char *slash = strrchr (stream, '/');
    return slash? slash + 1: stream;
}

static bool
s_serves (self_t *self, const char *sector)
{
    for (char **cursor = self->sectors; *cursor; cursor++)
        if (streq (*cursor, sector))
            return true;
    return false;
}

//  May this member read streams of this sector? Agents read their own
//  sector; relays and brokers the sectors their roster entry lists.
static bool
s_may_read (const cc_member_t *member, const char *sector)
{
    if (streq (member->role, "agent"))
        return streq (member->sector, sector);
    if (!streq (member->role, "relay") && !streq (member->role, "broker"))
        return false;
    char list [sizeof member->sector];
    snprintf (list, sizeof list, "%s", member->sector);
    char *state = NULL;
    for (char *token = strtok_r (list, ",", &state); token;
         token = strtok_r (NULL, ",", &state))
        if (streq (token, "all") || streq (token, sector))
            return true;
    return false;
}

static uint64_t
s_head (zhashx_t *heads, const char *stream)
{
    uint64_t *head = (uint64_t *) zhashx_lookup (heads, stream);
    return head? *head: 0;
}

static void
s_set_head (zhashx_t *heads, const char *stream, uint64_t value)
{
    uint64_t *head = (uint64_t *) zhashx_lookup (heads, stream);
    if (!head) {
        head = (uint64_t *) zmalloc (sizeof (uint64_t));
        zhashx_insert (heads, stream, head);
    }
    *head = value;
}

static void
s_send_control (self_t *self, zframe_t *routing, zframe_t **frame_p)
{
    zframe_t *address = zframe_dup (routing);
    //  A peer that vanished (or whose queue is full) loses its reply; it
    //  will ask again, and every request is idempotent.
    if (zframe_send (&address, self->router, ZFRAME_MORE | ZFRAME_DONTWAIT) == -1) {
        zframe_destroy (&address);
        zframe_destroy (frame_p);
        return;
    }
    if (zframe_send (frame_p, self->router, ZFRAME_DONTWAIT) == -1)
        zframe_destroy (frame_p);
}

static void
s_reply (self_t *self, zframe_t *routing, Certcast__Control *control)
{
    zframe_t *frame = cc_wire_control_encode (control);
    s_send_control (self, routing, &frame);
}

static void
s_reply_acked (self_t *self, zframe_t *routing, uint64_t corr, int count)
{
    Certcast__Acked acked = CERTCAST__ACKED__INIT;
    acked.count = count;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = corr;
    control.body_case = CERTCAST__CONTROL__BODY_ACKED;
    control.acked = &acked;
    s_reply (self, routing, &control);
}

//  May we log about this peer now? Once per peer per LOG_EVERY_MS, so a
//  peer sending bad input cannot flood the log.
static bool
s_may_log (self_t *self, const char *peer)
{
    int64_t now = zclock_mono ();
    const char *key = peer && *peer? peer: "-";
    int64_t *last = (int64_t *) zhashx_lookup (self->peer_logged, key);
    if (last && now - *last < LOG_EVERY_MS)
        return false;
    if (!last) {
        last = (int64_t *) zmalloc (sizeof (int64_t));
        zhashx_insert (self->peer_logged, key, last);
    }
    *last = now;
    return true;
}

//  Refuse a request: count it, log once per peer per interval, answer.
static void
s_refuse (self_t *self, zframe_t *routing, uint64_t corr, const char *peer,
          int code, const char *reason)
{
    self->counters.refused [code & 15]++;
    if (s_may_log (self, peer))
        zsys_warning ("refused %s: %s: %s", peer && *peer? peer: "-",
                      cc_strerror (code), reason);
    if (routing) {
        zframe_t *frame = cc_wire_error_frame (corr, code, reason);
        s_send_control (self, routing, &frame);
    }
}

//  ---------------------------------------------------------------------
//  The batch: one durable transaction per poll cycle

static int
s_apply_publish (self_t *self, MDB_txn *txn, s_item_t *item, int64_t now)
{
    cc_advisory_t *advisory = item->advisory;
    const char *id = cc_advisory_id (advisory);
    uint32_t revision = cc_advisory_revision (advisory);
    uint32_t accepted = 0;
    MDB_val previous;
    int rc = cc_log_advisory (self->store, txn, id, &accepted, &previous);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0) {
        if (revision <= accepted) {
            item->code = CC_EREPLAY;
            item->reason = revision == accepted?
                "this id and revision were already accepted":
                "a newer revision of this id was already accepted";
            return 0;
        }
        //  An id belongs to the issuer that first used it.
        Certcast__Signed *earlier = (Certcast__Signed *) cc_wire_unpack (
            &certcast__signed__descriptor, previous.mv_data,
            previous.mv_size, CC_WIRE_MAX_SIGNED);
        Certcast__Delegation *delegation = earlier && earlier->delegation?
            (Certcast__Delegation *) cc_wire_unpack (
                &certcast__delegation__descriptor,
                earlier->delegation->delegation.data,
                earlier->delegation->delegation.len, 65536): NULL;
        bool same_issuer = delegation && delegation->issuer_key.len == 32
            && CRYPTO_memcmp (delegation->issuer_key.data,
                              cc_advisory_issuer_key (advisory), 32) == 0;
        if (delegation)
            certcast__delegation__free_unpacked (delegation, NULL);
        if (earlier)
            certcast__signed__free_unpacked (earlier, NULL);
        if (!same_issuer) {
            item->code = CC_EREPLAY;
            item->reason = "this advisory id belongs to another issuer";
            return 0;
        }
    }
    size_t signed_size;
    const uint8_t *signed_bytes = cc_advisory_bytes (advisory, &signed_size);
    rc = cc_log_put_advisory (self->store, txn, id, revision, signed_bytes,
                              signed_size);
    if (rc)
        return rc;
    //  One delivery per target sector stream, numbered densely.
    const Certcast__Advisory *content = cc_advisory_content (advisory);
    for (char **sector = self->sectors; *sector; sector++) {
        if (!content->all_sectors && !cc_advisory_targets (advisory, *sector))
            continue;
        if (item->n_placed == 16)
            break;
        char *stream = item->placed_names [item->n_placed];
        snprintf (stream, 80, "%s/%s", self->name, *sector);
        uint64_t seq = cc_log_head (self->store, txn, stream) + 1;
        Certcast__Delivery delivery = CERTCAST__DELIVERY__INIT;
        delivery.stream = stream;
        delivery.seq = seq;
        delivery.signed_.data = (uint8_t *) signed_bytes;
        delivery.signed_.len = signed_size;
        delivery.stored_at = now;
        size_t size;
        uint8_t *bytes = cc_wire_pack (&delivery.base, &size);
        rc = cc_log_append (self->store, txn, stream, seq, bytes, size);
        if (rc) {
            free (bytes);
            return rc;
        }
        s_outgoing_t *outgoing = (s_outgoing_t *) zmalloc (sizeof *outgoing);
        outgoing->stream = strdup (stream);
        outgoing->seq = seq;
        outgoing->delivery = zchunk_new (bytes, size);
        free (bytes);
        zlistx_add_end (self->outgoing, outgoing);
        Certcast__StreamHead init = CERTCAST__STREAM_HEAD__INIT;
        item->placed [item->n_placed] = init;
        item->placed [item->n_placed].stream = stream;
        item->placed [item->n_placed].head = seq;
        item->n_placed++;
    }
    return 0;
}

static int
s_apply_forward (self_t *self, MDB_txn *txn, s_item_t *item)
{
    //  Byte for byte, at the upstream's own sequence number: relays never
    //  renumber, so an agent can move between relays of its sector.
    int rc = cc_log_append (self->store, txn, item->stream, item->seq,
                            zchunk_data (item->delivery),
                            zchunk_size (item->delivery));
    if (rc)
        return rc;
    size_t size;
    const uint8_t *signed_bytes = cc_advisory_bytes (item->advisory, &size);
    uint32_t accepted = 0;
    rc = cc_log_advisory (self->store, txn, cc_advisory_id (item->advisory),
                          &accepted, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == MDB_NOTFOUND || cc_advisory_revision (item->advisory) > accepted) {
        rc = cc_log_put_advisory (self->store, txn,
                                  cc_advisory_id (item->advisory),
                                  cc_advisory_revision (item->advisory),
                                  signed_bytes, size);
        if (rc)
            return rc;
    }
    s_outgoing_t *outgoing = (s_outgoing_t *) zmalloc (sizeof *outgoing);
    outgoing->stream = strdup (item->stream);
    outgoing->seq = item->seq;
    outgoing->delivery = zchunk_dup (item->delivery);
    zlistx_add_end (self->outgoing, outgoing);
    return 0;
}

//  A relay's own advisory, reported for the national compliance view:
//  recorded in the advisory index, never streamed (the relay streams it).
static int
s_apply_record (self_t *self, MDB_txn *txn, s_item_t *item)
{
    size_t size;
    const uint8_t *signed_bytes = cc_advisory_bytes (item->advisory, &size);
    uint32_t accepted = 0;
    int rc = cc_log_advisory (self->store, txn, cc_advisory_id (item->advisory),
                              &accepted, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0 && cc_advisory_revision (item->advisory) <= accepted)
        return 0;               //  a resend, or older: already recorded
    return cc_log_put_advisory (self->store, txn,
                                cc_advisory_id (item->advisory),
                                cc_advisory_revision (item->advisory),
                                signed_bytes, size);
}

static int
s_apply_acks (self_t *self, MDB_txn *txn, s_item_t *item, int64_t now)
{
    for (size_t index = 0; index < item->n_acks; index++) {
        s_ack_t *ack = &item->acks [index];
        int new_rows = 0, unknown = 0;
        int rc = cc_ledger_put (self->store, txn, ack->bytes, ack->size,
                                ack->ack, now, self->relay, &new_rows,
                                &unknown);
        if (rc)
            return rc;
        item->count += new_rows;
        item->unknown += unknown;
        if (ack->ack->agent_key.len == 32) {
            rc = cc_roster_touch (self->store, txn, ack->ack->agent_key.data, now);
            if (rc)
                return rc;
        }
    }
    return 0;
}

//  A relay's roster replaces what it reported before, in this one
//  transaction: the whole set of parts, or (if the commit fails) nothing.
static int
s_apply_roster (self_t *self, MDB_txn *txn, s_item_t *item)
{
    size_t count = 0;
    Certcast__RosterEntry **entries = cc_roster_set_entries (item->roster,
                                                             &count);
    int rc = cc_roster_drop_via (self->store, txn, item->via, entries, count);
    for (size_t index = 0; !rc && index < count; index++) {
        //  The relay's word for via is replaced by who it is.
        char *claimed = entries [index]->via;
        entries [index]->via = item->via;
        rc = cc_roster_put (self->store, txn, entries [index]);
        entries [index]->via = claimed;
        if (rc == 0)
            item->count++;
    }
    return rc;
}

static int
s_batch_write (MDB_txn *txn, void *arg)
{
    self_t *self = (self_t *) arg;
    int64_t now = (int64_t) time (NULL);
    zlistx_purge (self->outgoing);
    for (s_item_t *item = (s_item_t *) zlistx_first (self->batch); item;
         item = (s_item_t *) zlistx_next (self->batch)) {
        item->code = CC_OK;
        item->reason = NULL;
        item->count = 0;
        item->unknown = 0;
        item->n_placed = 0;
        int rc = 0;
        switch (item->type) {
            case ITEM_PUBLISH:
                rc = s_apply_publish (self, txn, item, now);
                break;
            case ITEM_FORWARD:
                rc = s_apply_forward (self, txn, item);
                break;
            case ITEM_ACKS:
                rc = s_apply_acks (self, txn, item, now);
                break;
            case ITEM_RECORD:
                rc = s_apply_record (self, txn, item);
                break;
            case ITEM_ROSTER:
                rc = s_apply_roster (self, txn, item);
                break;
        }
        if (rc)
            return rc;
    }
    if (self->ackq_confirm) {
        int rc = cc_ledger_queue_confirm (self->store, txn, self->ackq_confirm);
        if (rc)
            return rc;
    }
    if (self->report_confirm) {
        char key [100];
        snprintf (key, sizeof key, "report.%s", self->report_stream);
        int rc = cc_meta_put_u64 (self->store, txn, key, self->report_confirm);
        if (rc)
            return rc;
    }
    return 0;
}

static void
s_publish_delivery (self_t *self, const char *stream, zchunk_t *delivery)
{
    Certcast__StreamMsg message = CERTCAST__STREAM_MSG__INIT;
    message.body_case = CERTCAST__STREAM_MSG__BODY_DELIVERY;
    message.delivery.data = zchunk_data (delivery);
    message.delivery.len = zchunk_size (delivery);
    zframe_t *body = cc_wire_pack_frame (&message.base);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, stream);
    zmsg_append (msg, &body);
    zmsg_send (&msg, self->pub);
}

static void
s_answer (self_t *self, s_item_t *item, bool committed)
{
    if (!item->routing)
        return;
    if (!committed) {
        s_refuse (self, item->routing, item->corr, item->peer, CC_ESTORAGE,
                  "the broker could not commit to disk; nothing stored");
        return;
    }
    if (item->code != CC_OK) {
        s_refuse (self, item->routing, item->corr, item->peer, item->code,
                  item->reason);
        return;
    }
    if (item->type != ITEM_PUBLISH && item->type != ITEM_RECORD) {
        s_reply_acked (self, item->routing, item->corr, item->count);
        return;
    }
    Certcast__Stored stored = CERTCAST__STORED__INIT;
    Certcast__StreamHead *placed [16];
    stored.id = (char *) cc_advisory_id (item->advisory);
    stored.revision = cc_advisory_revision (item->advisory);
    for (size_t index = 0; index < item->n_placed; index++)
        placed [index] = &item->placed [index];
    stored.n_placed = item->n_placed;
    stored.placed = placed;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = item->corr;
    control.body_case = CERTCAST__CONTROL__BODY_STORED;
    control.stored = &stored;
    s_reply (self, item->routing, &control);
    //  The log line after the reply: its clock and write are not the
    //  publisher's to wait for.
    if (item->type == ITEM_PUBLISH)
        zsys_notice ("stored %s rev %u from %.8s in %zu stream(s)",
                     stored.id, stored.revision, item->peer, item->n_placed);
}

//  ---------------------------------------------------------------------
//  Verification: the whole cycle at once, on the pool, before the write

//  Pool job: touches only its own ack, and reads the envelope.
static void
s_verify_ack (s_ack_t *ack)
{
    ack->ack = cc_ledger_verify_signed_ack (ack->envelope, ack->expected,
                                            &ack->code, &ack->reason);
    if (!ack->ack)
        return;
    //  The evidence is the SignedAck as encoded; pack it here, off the
    //  engine thread, only for acks that will be kept.
    ack->size = certcast__signed_ack__get_packed_size (ack->envelope);
    ack->bytes = (uint8_t *) malloc (ack->size? ack->size: 1);
    assert (ack->bytes);
    certcast__signed_ack__pack (ack->envelope, ack->bytes);
}

//  Pool job: touches only its own item; reads the root key and the clock
//  the engine set before the run.
static void
s_verify_advisory (self_t *self, s_item_t *item)
{
    const uint8_t *signed_bytes = NULL;
    size_t size = 0;
    Certcast__Delivery *delivery = NULL;
    if (item->type == ITEM_FORWARD) {
        delivery = (Certcast__Delivery *) cc_wire_unpack (
            &certcast__delivery__descriptor, zchunk_data (item->delivery),
            zchunk_size (item->delivery), CC_WIRE_MAX_FRAME);
        assert (delivery);      //  cc_upstream decoded it already
        signed_bytes = delivery->signed_.data;
        size = delivery->signed_.len;
    }
    else {
        signed_bytes = item->publish->signed_.data;
        size = item->publish->signed_.len;
    }
    //  Only a publish is taken at intake; a record and a delivery were
    //  valid when issued.
    item->advisory = cc_advisory_open (
        signed_bytes, size, self->root_key, self->verify_now,
        item->type == ITEM_PUBLISH? CC_AT_INTAKE: CC_AT_DELIVERY,
        &item->refused_code, &item->refused_reason);
    if (delivery)
        certcast__delivery__free_unpacked (delivery, NULL);
}

static void
s_verify_job (void *job, void *arg)
{
    s_job_t *entry = (s_job_t *) job;
    if (entry->ack)
        s_verify_ack (entry->ack);
    else
        s_verify_advisory ((self_t *) arg, entry->item);
}

//  Why a verified publish is still refused here: the delegation covers
//  the targets, but we must serve them too. A relay takes only its own
//  sectors, so a banking issuer cannot reach telecom through the banking
//  relay even with a wider delegation. NULL: accepted.
static const char *
s_publish_refusal (self_t *self, cc_advisory_t *advisory)
{
    const Certcast__Advisory *content = cc_advisory_content (advisory);
    if (content->all_sectors && self->relay)
        return "a relay takes advisories for its own sectors only, not all";
    for (size_t index = 0; index < content->n_sectors; index++)
        if (!s_serves (self, content->sectors [index]))
            return self->relay?
                "target sector is not served by this relay":
                "target sector is not a configured sector";
    return NULL;
}

//  A relay may only report for the sectors its roster entry lists. The
//  entry is looked up again: the batch outlives nothing, but a request
//  keeps no pointer into the roster.
static const char *
s_record_refusal (self_t *self, s_item_t *item, int *code)
{
    const cc_member_t *member = cc_roster_by_curve (self->roster, item->peer);
    if (!member) {
        *code = CC_ENOTALLOWED;
        return "client key is not (or no longer) enrolled";
    }
    const Certcast__Advisory *content = cc_advisory_content (item->advisory);
    bool in_scope = !content->all_sectors;
    for (size_t index = 0; in_scope && index < content->n_sectors; index++)
        in_scope = s_may_read (member, content->sectors [index]);
    *code = CC_ESCOPE;
    return in_scope? NULL:
        "a relay reports advisories for its own sectors only";
}

//  The verdict on one verified item: CC_OK, or a code and *reason.
static int
s_screen (self_t *self, s_item_t *item, const char **reason)
{
    if (item->type == ITEM_ACKS) {
        //  One bad ack refuses the whole request, as the first one found.
        for (size_t index = 0; index < item->n_acks; index++)
            if (!item->acks [index].ack) {
                *reason = item->acks [index].reason;
                return item->acks [index].code;
            }
        return CC_OK;
    }
    if (item->type == ITEM_ROSTER)
        return CC_OK;
    if (!item->advisory) {
        *reason = item->refused_reason;
        return item->refused_code;
    }
    int code = CC_ESCOPE;
    if (item->type == ITEM_PUBLISH)
        *reason = s_publish_refusal (self, item->advisory);
    else
    if (item->type == ITEM_RECORD)
        *reason = s_record_refusal (self, item, &code);
    else
        *reason = NULL;
    return *reason? code: CC_OK;
}

//  Drop what failed, with its refusal, so the batch holds only what may
//  be written. A delivery that failed leaves its stream waiting here,
//  loudly, rather than skipping a number agents expect: the later ones of
//  that stream in this batch go too (they are fetched again).
static void
s_screen_batch (self_t *self)
{
    zhashx_t *stalled = NULL;
    for (s_item_t *item = (s_item_t *) zlistx_first (self->batch); item;
         item = (s_item_t *) zlistx_next (self->batch)) {
        if (item->verified)
            continue;               //  an ack that waited: screened already
        const char *reason = NULL;
        int code = s_screen (self, item, &reason);
        if (code == CC_OK && item->type == ITEM_FORWARD && stalled
        &&  zhashx_lookup (stalled, item->stream)) {
            zlistx_delete (self->batch, zlistx_cursor (self->batch));
            continue;
        }
        if (code == CC_OK)
            continue;
        if (item->type == ITEM_FORWARD) {
            if (!stalled)
                stalled = zhashx_new ();
            zhashx_insert (stalled, item->stream, item);
        }
        s_refuse (self, item->routing, item->corr, item->peer, code, reason);
        zlistx_delete (self->batch, zlistx_cursor (self->batch));
    }
    zhashx_destroy (&stalled);
    for (s_item_t *item = (s_item_t *) zlistx_first (self->batch); item;
         item = (s_item_t *) zlistx_next (self->batch))
        item->verified = true;
}

//  Every advisory and every ack of the cycle, verified across the pool.
static void
s_verify_batch (self_t *self)
{
    size_t count = 0;
    for (s_item_t *item = (s_item_t *) zlistx_first (self->batch); item;
         item = (s_item_t *) zlistx_next (self->batch))
        count += item->verified || item->type == ITEM_ROSTER? 0:
                 item->type == ITEM_ACKS? item->n_acks: 1;
    if (count > 0) {
        s_job_t *jobs = (s_job_t *) zmalloc (count * sizeof (s_job_t));
        size_t index = 0;
        for (s_item_t *item = (s_item_t *) zlistx_first (self->batch); item;
             item = (s_item_t *) zlistx_next (self->batch)) {
            if (item->type == ITEM_ROSTER || item->verified)
                continue;
            if (item->type != ITEM_ACKS)
                jobs [index++].item = item;
            for (size_t ack = 0; item->type == ITEM_ACKS && ack < item->n_acks;
                 ack++) {
                jobs [index].item = item;
                jobs [index++].ack = &item->acks [ack];
            }
        }
        assert (index == count);
        self->verify_now = (int64_t) time (NULL);
        cc_pool_run (self->pool, jobs, count, sizeof (s_job_t), s_verify_job,
                     self);
        free (jobs);
    }
    s_screen_batch (self);
}

//  Acks alone may wait a few ms for company: with thousands of agents each
//  ack would otherwise cost a disk sync of its own, and those syncs hold
//  up the next advisory's commit at this hop (and every other writer on
//  the disk). Advisories, rosters and reports never wait; acks that are
//  waiting ride with them. Nothing is answered before the commit, so a
//  crash meanwhile loses nothing an agent was told: it sends again.
static bool
s_acks_may_wait (self_t *self)
{
    if (!self->acks_due || self->report_confirm
    ||  zlistx_size (self->batch) >= CYCLE_MAX_MESSAGES
    ||  zclock_mono () >= self->acks_due)
        return false;
    for (s_item_t *item = (s_item_t *) zlistx_first (self->batch); item;
         item = (s_item_t *) zlistx_next (self->batch))
        if (item->type != ITEM_ACKS)
            return false;
    return true;
}

//  An ack entry for an advisory we do not hold is no receipt: the ledger
//  kept no row for it. It is counted and logged, and the other entries
//  of the request stand; the request is still answered Acked, or the
//  sender would send it again forever.
static void
s_count_acks (self_t *self, s_item_t *item)
{
    self->counters.ack_rows += item->count;
    self->counters.acks_unknown += item->unknown;
    if (item->unknown && s_may_log (self, item->peer))
        zsys_warning ("acks from %s: %d entr%s for advisories this broker "
                      "does not hold, not ledgered", item->peer, item->unknown,
                      item->unknown == 1? "y": "ies");
}

//  The one commit point of the loop, just before the poller sleeps.
//  The upstream's confirmation of our ack queue rides on a commit made
//  anyway, unless `flush` (housekeeping, exit): a commit of its own per
//  Acked would be a second disk sync per ack batch, and losing it in a
//  crash only makes us send acks the national ledger already holds.
static void
s_cycle_end (self_t *self, bool flush)
{
    s_verify_batch (self);
    if (zlistx_size (self->batch) == 0)
        self->acks_due = 0;
    if (zlistx_size (self->batch) == 0 && !self->report_confirm
    &&  !(flush && self->ackq_confirm))
        return;
    if (!flush && s_acks_may_wait (self))
        return;
    int rc = cc_store_write (self->store, s_batch_write, self);
    bool committed = rc == 0;
    if (committed) {
        self->counters.commits++;
        //  Durable: now, and only now, make it visible.
        for (s_outgoing_t *outgoing = (s_outgoing_t *) zlistx_first (self->outgoing);
             outgoing; outgoing = (s_outgoing_t *) zlistx_next (self->outgoing)) {
            s_publish_delivery (self, outgoing->stream, outgoing->delivery);
            if (outgoing->seq > s_head (self->heads, outgoing->stream))
                s_set_head (self->heads, outgoing->stream, outgoing->seq);
        }
    }
    else {
        self->counters.commit_failures++;
        //  LMDB reports a disk that filled mid-write as EIO; say how much
        //  room there is, so an operator looks at the disk, not the drive.
        struct statvfs disk;
        if (statvfs (self->data_dir, &disk) == 0)
            zsys_error ("commit failed: %s (%" PRIu64 " bytes free in %s); "
                        "nothing from this cycle is stored", mdb_strerror (rc),
                        (uint64_t) disk.f_bavail * disk.f_frsize,
                        self->data_dir);
        else
            zsys_error ("commit failed: %s; nothing from this cycle is stored",
                        mdb_strerror (rc));
    }
    for (s_item_t *item = (s_item_t *) zlistx_first (self->batch); item;
         item = (s_item_t *) zlistx_next (self->batch)) {
        if (committed && item->code == CC_OK) {
            if (item->type == ITEM_PUBLISH)
                self->counters.published++;
            else
            if (item->type == ITEM_FORWARD)
                self->counters.forwarded++;
            else
            if (item->type == ITEM_ACKS)
                s_count_acks (self, item);
        }
        s_answer (self, item, committed);
    }
    zlistx_purge (self->outgoing);
    zlistx_purge (self->batch);
    zhashx_purge (self->pending_heads);
    self->acks_due = 0;
    if (committed)
        self->ackq_confirm = 0;
    self->report_confirm = 0;
}

//  ---------------------------------------------------------------------
//  Control requests

static void
s_handle_hello (self_t *self, zframe_t *routing, Certcast__Control *request,
                const cc_member_t *member)
{
    zlistx_t *visible = zlistx_new ();
    for (uint64_t *head = (uint64_t *) zhashx_first (self->heads); head;
         head = (uint64_t *) zhashx_next (self->heads)) {
        const char *stream = (const char *) zhashx_cursor (self->heads);
        if (s_may_read (member, s_sector_of (stream))) {
            Certcast__StreamHead *entry =
                (Certcast__StreamHead *) zmalloc (sizeof *entry);
            certcast__stream_head__init (entry);
            entry->stream = (char *) stream;
            entry->head = *head;
            zlistx_add_end (visible, entry);
        }
    }
    size_t count = zlistx_size (visible);
    Certcast__StreamHead **heads =
        (Certcast__StreamHead **) zmalloc ((count + 1) * sizeof (void *));
    size_t index = 0;
    for (void *entry = zlistx_first (visible); entry; entry = zlistx_next (visible))
        heads [index++] = (Certcast__StreamHead *) entry;
    Certcast__Welcome welcome = CERTCAST__WELCOME__INIT;
    welcome.node = self->name;
    welcome.n_heads = count;
    welcome.heads = heads;
    welcome.heartbeat_ms = self->config.heartbeat_ms;
    welcome.roster_parts = true;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = request->corr;
    control.body_case = CERTCAST__CONTROL__BODY_WELCOME;
    control.welcome = &welcome;
    s_reply (self, routing, &control);
    for (index = 0; index < count; index++)
        free (heads [index]);
    free (heads);
    zlistx_destroy (&visible);
}

static void
s_handle_fetch (self_t *self, zframe_t *routing, Certcast__Control *request,
                const cc_member_t *member)
{
    Certcast__Fetch *fetch = request->fetch;
    if (!fetch->stream || !s_may_read (member, s_sector_of (fetch->stream))) {
        s_refuse (self, routing, request->corr, member->curve, CC_ENOTALLOWED,
                  "not a stream this client may read");
        return;
    }
    self->counters.fetches++;
    MDB_txn *txn = NULL;
    if (cc_store_read (self->store, &txn)) {
        s_refuse (self, routing, request->corr, member->curve, CC_ESTORAGE,
                  "cannot read the log");
        return;
    }
    uint32_t max = fetch->max && fetch->max < FETCH_CAP? fetch->max: FETCH_CAP;
    ProtobufCBinaryData *items =
        (ProtobufCBinaryData *) zmalloc (max * sizeof (ProtobufCBinaryData));
    size_t count = 0, bytes = 0;
    uint64_t head = cc_log_head (self->store, txn, fetch->stream);
    for (uint64_t seq = fetch->from? fetch->from: 1;
         seq <= head && count < max && bytes < FETCH_BYTES_CAP; seq++) {
        MDB_val value;
        if (cc_log_get (self->store, txn, fetch->stream, seq, &value))
            break;
        //  The reply is encoded before the read transaction ends, so the
        //  values may point into the map.
        items [count].data = (uint8_t *) value.mv_data;
        items [count].len = value.mv_size;
        bytes += value.mv_size;
        count++;
    }
    Certcast__Deliveries deliveries = CERTCAST__DELIVERIES__INIT;
    deliveries.stream = fetch->stream;
    deliveries.n_deliveries = count;
    deliveries.deliveries = items;
    deliveries.head = head;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = request->corr;
    control.body_case = CERTCAST__CONTROL__BODY_DELIVERIES;
    control.deliveries = &deliveries;
    zframe_t *frame = cc_wire_control_encode (&control);
    mdb_txn_abort (txn);
    free (items);
    self->counters.deliveries_served += count;
    s_send_control (self, routing, &frame);
}

//  Take a request's body into the batch: the request is freed when its
//  handler returns, the body must live until the cycle's replies.
static void *
s_take_body (Certcast__Control *request)
{
    void *body = request->publish;  //  any member: they share the union
    request->publish = NULL;
    request->body_case = CERTCAST__CONTROL__BODY__NOT_SET;
    return body;
}

//  A publish, or a relay's report of what it originated: both are verified
//  with the rest of the cycle (s_verify_batch), scope included.
static void
s_handle_publish (self_t *self, zframe_t *routing, Certcast__Control *request,
                  const cc_member_t *member)
{
    bool record = request->publish->record_only;
    if (record && !streq (member->role, "relay")) {
        s_refuse (self, routing, request->corr, member->curve, CC_ENOTALLOWED,
                  "only relays report advisories they originated");
        return;
    }
    if (!record && !streq (member->role, "issuer")) {
        s_refuse (self, routing, request->corr, member->curve, CC_ENOTALLOWED,
                  "only issuer keys may publish");
        return;
    }
    s_item_t *item = s_item_new (record? ITEM_RECORD: ITEM_PUBLISH, routing,
                                 request->corr, member->curve);
    item->publish = (Certcast__Publish *) s_take_body (request);
    zlistx_add_end (self->batch, item);
}

static void
s_handle_acks (self_t *self, zframe_t *routing, Certcast__Control *request,
               const cc_member_t *member)
{
    bool from_agent = streq (member->role, "agent");
    if (!from_agent && !streq (member->role, "relay")) {
        s_refuse (self, routing, request->corr, member->curve, CC_ENOTALLOWED,
                  "only agents and relays send acks");
        return;
    }
    self->counters.ack_messages++;
    if (!self->acks_due)
        self->acks_due = zclock_mono () + ACK_LINGER_MS;
    s_item_t *item = s_item_new (ITEM_ACKS, routing, request->corr,
                                 member->curve);
    item->acks_request = (Certcast__Acks *) s_take_body (request);
    item->n_acks = item->acks_request->n_acks;
    item->acks = (s_ack_t *) zmalloc ((item->n_acks + 1) * sizeof (s_ack_t));
    memcpy (item->agent_key, member->sign_key, 32);
    //  Nobody acks for an organisation but its own key: an agent's acks
    //  must be signed by the agent that is connected. A relay passes on
    //  acks its agents signed; the signature still has to verify.
    for (size_t index = 0; index < item->n_acks; index++) {
        item->acks [index].envelope = item->acks_request->acks [index];
        item->acks [index].expected = from_agent? item->agent_key: NULL;
    }
    zlistx_add_end (self->batch, item);
}

static void
s_handle_roster (self_t *self, zframe_t *routing, Certcast__Control *request,
                 const cc_member_t *member)
{
    if (!streq (member->role, "relay")) {
        s_refuse (self, routing, request->corr, member->curve, CC_ENOTALLOWED,
                  "only relays send rosters");
        return;
    }
    if (request->roster->parts)
        self->counters.roster_parts++;
    //  Parts wait in memory; only a whole roster goes into the batch, so
    //  the stored roster of a relay is never half replaced. A part is
    //  answered at once with Acked{0}: nothing of it is stored yet, and
    //  the relay counts its roster accepted only on the last part's
    //  Acked, after the commit.
    Certcast__Roster *roster = (Certcast__Roster *) s_take_body (request);
    cc_roster_set_t *whole = NULL;
    const char *reason = NULL;
    cc_roster_offer_t verdict = cc_roster_chunks_offer (
        self->roster_chunks, member->curve, routing, &roster, &whole, &reason);
    if (verdict == CC_ROSTER_REFUSED)
        s_refuse (self, routing, request->corr, member->curve, CC_EMALFORMED,
                  reason);
    else
    if (verdict == CC_ROSTER_STAGED)
        s_reply_acked (self, routing, request->corr, 0);
    else {
        self->counters.rosters++;
        s_item_t *item = s_item_new (ITEM_ROSTER, routing, request->corr,
                                     member->curve);
        snprintf (item->via, sizeof item->via, "%s", member->name);
        item->roster = whole;
        zlistx_add_end (self->batch, item);
    }
}

static void
s_handle_status (self_t *self, zframe_t *routing, Certcast__Control *request)
{
    char *json = s_status_json (self);
    Certcast__StatusReply reply = CERTCAST__STATUS_REPLY__INIT;
    reply.json = json;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = request->corr;
    control.body_case = CERTCAST__CONTROL__BODY_STATUS_REPLY;
    control.status_reply = &reply;
    s_reply (self, routing, &control);
    free (json);
}

static void
s_handle_router (self_t *self)
{
    for (int count = 0; count < CYCLE_MAX_MESSAGES; count++) {
        if (!(zsock_events (self->router) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv (self->router);
        if (!msg)
            break;
        zframe_t *routing = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        if (!routing || !body || zmsg_size (msg) != 0) {
            self->counters.bad_frames++;
            s_refuse (self, NULL, 0, NULL, CC_EMALFORMED,
                      "control message is not exactly one frame");
            goto next;
        }
        //  Who sent this is the CURVE key cc_zap authenticated, never the
        //  routing id (which the client chooses).
        const char *curve = zframe_meta (body, "User-Id");
        const cc_member_t *member = curve?
            cc_roster_by_curve (self->roster, curve): NULL;
        Certcast__Control *request = cc_wire_control_decode (body);
        if (!request) {
            self->counters.bad_frames++;
            s_refuse (self, routing, 0, curve, CC_EMALFORMED,
                      "not a certcast control message");
            goto next;
        }
        if (!member) {
            s_refuse (self, routing, request->corr, curve, CC_ENOTALLOWED,
                      "client key is not (or no longer) enrolled");
            certcast__control__free_unpacked (request, NULL);
            goto next;
        }
        switch (request->body_case) {
            case CERTCAST__CONTROL__BODY_HELLO:
                s_handle_hello (self, routing, request, member);
                break;
            case CERTCAST__CONTROL__BODY_FETCH:
                s_handle_fetch (self, routing, request, member);
                break;
            case CERTCAST__CONTROL__BODY_PUBLISH:
                s_handle_publish (self, routing, request, member);
                break;
            case CERTCAST__CONTROL__BODY_ACKS:
                s_handle_acks (self, routing, request, member);
                break;
            case CERTCAST__CONTROL__BODY_ROSTER:
                s_handle_roster (self, routing, request, member);
                break;
            case CERTCAST__CONTROL__BODY_STATUS:
                s_handle_status (self, routing, request);
                break;
            default:
                s_refuse (self, routing, request->corr, curve, CC_EMALFORMED,
                          "not a request a broker answers");
                break;
        }
        certcast__control__free_unpacked (request, NULL);
    next:
        zframe_destroy (&body);
        zframe_destroy (&routing);
        zmsg_destroy (&msg);
    }
}

//  ---------------------------------------------------------------------
//  Upstream (relays): callbacks from cc_upstream

static uint64_t
s_upstream_head (void *arg, const char *stream)
{
    self_t *self = (self_t *) arg;
    uint64_t pending = s_head (self->pending_heads, stream);
    return pending? pending: s_head (self->heads, stream);
}

static void
s_upstream_delivery (void *arg, const char *stream, uint64_t seq,
                     const uint8_t *bytes, size_t size)
{
    self_t *self = (self_t *) arg;
    //  Verified with the rest of the cycle before anything is stored or
    //  forwarded: a relay passes on nothing that does not chain to the
    //  pinned root, even from its own upstream.
    s_item_t *item = s_item_new (ITEM_FORWARD, NULL, 0, "upstream");
    item->stream = strdup (stream);
    item->seq = seq;
    item->delivery = zchunk_new (bytes, size);
    zlistx_add_end (self->batch, item);
    s_set_head (self->pending_heads, stream, seq);
}

static void
s_upstream_acked (void *arg, uint64_t upto)
{
    self_t *self = (self_t *) arg;
    self->ackq_confirm = upto;
    self->ackq_confirmed = upto;
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
    for (char **sector = self->sectors; *sector; sector++) {
        char stream [80], key [100];
        snprintf (stream, sizeof stream, "%s/%s", self->name, *sector);
        snprintf (key, sizeof key, "report.%s", stream);
        uint64_t reported = cc_meta_get_u64 (self->store, txn, key);
        MDB_val value;
        if (reported >= s_head (self->heads, stream)
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
} s_ack_batch_t;

static void
s_collect_ack (uint64_t n, const uint8_t *bytes, size_t size, void *arg)
{
    s_ack_batch_t *batch = (s_ack_batch_t *) arg;
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
    s_ack_batch_t batch = { NULL, 0, 0 };
    batch.acks = (Certcast__SignedAck **) zmalloc (ACKQ_BATCH * sizeof (void *));
    cc_ledger_queue_peek (self->store, txn, self->ackq_confirmed, ACKQ_BATCH,
                          s_collect_ack, &batch);
    mdb_txn_abort (txn);
    if (batch.upto) {
        cc_upstream_send_acks (self->upstream, batch.upto, batch.acks,
                               batch.count);
        self->counters.acks_upstream += batch.count;
    }
    for (size_t index = 0; index < batch.count; index++)
        certcast__signed_ack__free_unpacked (batch.acks [index], NULL);
    free (batch.acks);
}

static void
s_send_roster (self_t *self)
{
    size_t count = cc_roster_size (self->roster);
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
    cc_upstream_send_roster (self->upstream, self->name, pointers, index);
    free (pointers);
    free (entries);
    //  Handed over: cc_upstream resends it until the upstream accepts its
    //  last part (status: roster_pending), and a new session or a change
    //  of the allow directory makes it dirty again.
    self->roster_dirty = false;
}

//  ---------------------------------------------------------------------
//  Roster: the allow directory

static int
s_roster_write (MDB_txn *txn, void *arg)
{
    self_t *self = (self_t *) arg;
    size_t count = cc_roster_size (self->roster), index = 0;
    Certcast__RosterEntry *entries =
        (Certcast__RosterEntry *) zmalloc ((count + 1) * sizeof *entries);
    Certcast__RosterEntry **pointers =
        (Certcast__RosterEntry **) zmalloc ((count + 1) * sizeof (void *));
    for (const cc_member_t *member = cc_roster_first (self->roster);
         member && index < count; member = cc_roster_next (self->roster)) {
        cc_roster_entry_from (member, self->name, &entries [index]);
        pointers [index] = &entries [index];
        index++;
    }
    int rc = cc_roster_drop_via (self->store, txn, self->name, pointers, index);
    for (size_t entry = 0; !rc && entry < index; entry++)
        rc = cc_roster_put (self->store, txn, pointers [entry]);
    free (pointers);
    free (entries);
    return rc;
}

static time_t
s_mtime (const char *path)
{
    struct stat info;
    return stat (path, &info) == 0? info.st_mtime: 0;
}

//  Reread the allow directory if it changed (cc_zap rereads it itself).
static void
s_rescan_roster (self_t *self, bool force)
{
    time_t mtime = s_mtime (self->allow_dir);
    if (!force && mtime == self->allow_mtime)
        return;
    self->allow_mtime = mtime;
    int members = cc_roster_scan (self->roster, self->allow_dir);
    if (members < 0) {
        zsys_error ("cannot read allow directory %s", self->allow_dir);
        return;
    }
    zsys_info ("roster: %d member(s) in %s", members, self->allow_dir);
    int rc = cc_store_write (self->store, s_roster_write, self);
    if (rc)
        zsys_error ("roster: cannot store: %s", mdb_strerror (rc));
    self->roster_dirty = true;
}

//  ---------------------------------------------------------------------
//  Heartbeats and status

static void
s_send_heartbeat (self_t *self, const char *topic, const char *stream,
                  uint64_t head, int64_t now)
{
    Certcast__Heartbeat heartbeat = CERTCAST__HEARTBEAT__INIT;
    heartbeat.stream = (char *) stream;
    heartbeat.head = head;
    heartbeat.time = now;
    Certcast__StreamMsg message = CERTCAST__STREAM_MSG__INIT;
    message.body_case = CERTCAST__STREAM_MSG__BODY_HEARTBEAT;
    message.heartbeat = &heartbeat;
    zframe_t *body = cc_wire_pack_frame (&message.base);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, topic);
    zmsg_append (msg, &body);
    zmsg_send (&msg, self->pub);
}

//  What the stream heartbeats told subscribers about one stream.
typedef struct {
    uint64_t head;
    int times;                      //  heartbeats sent with this head
} s_announced_t;

//  One heartbeat on CC_TOPIC_ALIVE every interval tells every subscriber
//  we live, even before any stream exists. A stream's own heartbeat
//  carries its head so a subscriber notices a lost tail: that is news only
//  for HEAD_REPEATS intervals after the head moved, so an unchanged head is
//  repeated only every HEAD_EVERY_TICKS intervals (Welcome gives the heads
//  on every periodic Hello too). Each heartbeat is one message per
//  subscriber, CURVE-encrypted and sent on its own connection: with
//  thousands of agents, a stream heartbeat every interval doubled what an
//  idle relay spent on them.
static void
s_send_heartbeats (self_t *self)
{
    int64_t now = (int64_t) time (NULL);
    s_send_heartbeat (self, CC_TOPIC_ALIVE, "", zhashx_size (self->heads), now);
    bool repeat_all = ++self->heartbeat_ticks % HEAD_EVERY_TICKS == 0;
    for (uint64_t *head = (uint64_t *) zhashx_first (self->heads); head;
         head = (uint64_t *) zhashx_next (self->heads)) {
        const char *stream = (const char *) zhashx_cursor (self->heads);
        s_announced_t *announced =
            (s_announced_t *) zhashx_lookup (self->announced, stream);
        if (!announced) {
            announced = (s_announced_t *) zmalloc (sizeof (s_announced_t));
            announced->head = *head;
            zhashx_insert (self->announced, stream, announced);
        }
        if (announced->head != *head) {
            announced->head = *head;
            announced->times = 0;
        }
        if (announced->times < HEAD_REPEATS || repeat_all) {
            s_send_heartbeat (self, stream, stream, *head, now);
            announced->times++;
        }
    }
}

static void
s_load_head (const char *stream, uint64_t head, void *arg)
{
    s_set_head ((zhashx_t *) arg, stream, head);
}

static char *
s_status_json (self_t *self)
{
    char *json = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&json, &size);
    assert (out);
    s_counters_t *counters = &self->counters;
    fprintf (out, "{\"name\":\"%s\",\"role\":\"%s\",\"uptime_s\":%" PRId64 ",",
             self->name, self->relay? "relay": "national",
             (zclock_mono () - self->started) / 1000);
    fprintf (out, "\"sectors\":[");
    for (char **sector = self->sectors; *sector; sector++)
        fprintf (out, "%s\"%s\"", sector == self->sectors? "": ",", *sector);
    fprintf (out, "],\"streams\":{");
    bool first = true;
    for (uint64_t *head = (uint64_t *) zhashx_first (self->heads); head;
         head = (uint64_t *) zhashx_next (self->heads)) {
        fprintf (out, "%s\"%s\":%" PRIu64, first? "": ",",
                 (const char *) zhashx_cursor (self->heads), *head);
        first = false;
    }
    fprintf (out, "},\"roster\":%zu,", cc_roster_size (self->roster));
    fprintf (out, "\"published\":%" PRIu64 ",\"forwarded\":%" PRIu64
             ",\"fetches\":%" PRIu64 ",\"deliveries_served\":%" PRIu64
             ",\"ack_messages\":%" PRIu64 ",\"ack_rows\":%" PRIu64
             ",\"acks_unknown\":%" PRIu64 ",\"acks_upstream\":%" PRIu64
             ",\"rosters\":%" PRIu64 ",\"roster_parts\":%" PRIu64
             ",\"commits\":%" PRIu64 ",\"commit_failures\":%" PRIu64
             ",\"bad_frames\":%" PRIu64 ",",
             counters->published, counters->forwarded, counters->fetches,
             counters->deliveries_served, counters->ack_messages,
             counters->ack_rows, counters->acks_unknown,
             counters->acks_upstream, counters->rosters,
             counters->roster_parts, counters->commits,
             counters->commit_failures, counters->bad_frames);
    fprintf (out, "\"refused\":{");
    first = true;
    uint64_t total = 0;
    for (int code = 1; code < 16; code++)
        if (counters->refused [code]) {
            fprintf (out, "%s\"%s\":%" PRIu64, first? "": ",",
                     cc_strerror (code), counters->refused [code]);
            total += counters->refused [code];
            first = false;
        }
    fprintf (out, "},\"refused_total\":%" PRIu64 ",", total);
    fprintf (out, "\"map_size\":%zu,\"map_growths\":%d",
             cc_store_mapsize (self->store), cc_store_growths (self->store));
    if (self->upstream)
        fprintf (out, ",\"upstream\":{\"connected\":%s,\"silence_ms\":%" PRId64
                 ",\"reconnects\":%" PRIu64 ",\"roster_pending\":%s}",
                 cc_upstream_connected (self->upstream)? "true": "false",
                 cc_upstream_silence (self->upstream),
                 cc_upstream_reconnects (self->upstream),
                 self->roster_dirty
                 || cc_upstream_roster_in_flight (self->upstream)?
                 "true": "false");
    fprintf (out, "}");
    fclose (out);
    return json;
}

//  ---------------------------------------------------------------------
//  Actor

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    cc_upstream_destroy (&self->upstream);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->router);
    zsock_destroy (&self->pub);
    zactor_destroy (&self->auth);
    zlistx_destroy (&self->batch);
    zlistx_destroy (&self->outgoing);
    zhashx_destroy (&self->heads);
    zhashx_destroy (&self->pending_heads);
    zhashx_destroy (&self->announced);
    zhashx_destroy (&self->peer_logged);
    cc_pool_destroy (&self->pool);
    cc_roster_chunks_destroy (&self->roster_chunks);
    cc_roster_destroy (&self->roster);
    cc_store_destroy (&self->store);
    if (self->sectors) {
        for (char **sector = self->sectors; *sector; sector++)
            free (*sector);
        free (self->sectors);
    }
    free (self->name);
    free (self->listen_host);
    free (self->data_dir);
    free (self->allow_dir);
    free (self->upstream_host);
    free (self->upstream_key);
    free (self);
    *self_p = NULL;
}

//  A peer that vanished (host off, link cut) never closes its connection.
//  Left to TCP's defaults, the kernel would retransmit our heartbeats to it
//  for about 15 minutes while its queue filled to --pub-hwm; its clients
//  gave up on us after 3 silent heartbeats and reconnected long before. So
//  data left unacknowledged for 10 heartbeats (at least 5 s) drops the
//  connection (ZMQ_TCP_MAXRT is TCP_USER_TIMEOUT on Linux), and keepalive
//  probes, answered by the peer's kernel alone, find a dead control link
//  that carried nothing for as long. Both are set on the listener and
//  inherited by every accepted connection.
static void
s_drop_vanished_peers (self_t *self, zsock_t *sock)
{
    int dead_ms = self->config.heartbeat_ms * 10;
    if (dead_ms < 5000)
        dead_ms = 5000;
    int idle_s = dead_ms / 1000;
    zsock_set_tcp_maxrt (sock, dead_ms);
    zsock_set_tcp_keepalive (sock, 1);
    zsock_set_tcp_keepalive_idle (sock, idle_s);
    zsock_set_tcp_keepalive_intvl (sock, idle_s / 5 > 0? idle_s / 5: 1);
    zsock_set_tcp_keepalive_cnt (sock, 5);
}

static zsock_t *
s_server_socket (self_t *self, int type, int port)
{
    zsock_t *sock = zsock_new (type);
    assert (sock);
    zcert_apply (cc_keys_cert (self->config.keys), sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, "certcast");
    zsock_set_maxmsgsize (sock, CC_WIRE_MAX_FRAME);
    zsock_set_linger (sock, 1000);
    //  No ZMTP heartbeat from the server side: libzmq 4.3 keeps each I/O
    //  thread's timers in one map and cancels them by linear search, and a
    //  heartbeat cancels a timer per connection per interval, so with
    //  10,000 agents the relay's I/O thread did nothing but walk that map
    //  (perf: 42 % in std::_Rb_tree_increment) and handshakes stalled for
    //  minutes. Clients heartbeat us instead (they find a dead server and
    //  reconnect); we still answer their PINGs, and the stream and $alive
    //  heartbeats are ordinary messages.
    s_drop_vanished_peers (self, sock);
    if (type == ZMQ_PUB)
        zsock_set_sndhwm (sock, self->config.pub_hwm > 0?
                                self->config.pub_hwm: 100000);
    else {
        //  Replies to a publisher that sent a thousand advisories at once
        //  must not meet the default 1,000-message queue: a dropped
        //  "stored" makes the publisher retry into a replay refusal.
        zsock_set_sndhwm (sock, 100000);
        zsock_set_router_mandatory (sock, 0);
    }
    if (zsock_bind (sock, "tcp://%s:%d", self->listen_host, port) == -1) {
        zsys_error ("cannot listen on %s:%d: %s", self->listen_host, port,
                    zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
    }
    return sock;
}

static void
s_default_destructor (void **item)
{
    free (*item);
    *item = NULL;
}

static self_t *
s_self_new (zsock_t *pipe, const cc_engine_config_t *config)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->config = *config;
    self->name = strdup (config->name);
    self->listen_host = strdup (config->listen_host);
    self->data_dir = strdup (config->data_dir);
    self->allow_dir = strdup (config->allow_dir);
    self->relay = config->upstream_host != NULL;
    if (self->relay) {
        self->upstream_host = strdup (config->upstream_host);
        self->upstream_key = strdup (config->upstream_key);
    }
    size_t count = 0;
    while (config->sectors [count])
        count++;
    self->sectors = (char **) zmalloc ((count + 1) * sizeof (char *));
    for (size_t index = 0; index < count; index++)
        self->sectors [index] = strdup (config->sectors [index]);
    memcpy (self->root_key, config->root_key, 32);
    self->started = zclock_mono ();
    self->heads = zhashx_new ();
    zhashx_set_destructor (self->heads, s_default_destructor);
    self->pending_heads = zhashx_new ();
    zhashx_set_destructor (self->pending_heads, s_default_destructor);
    self->announced = zhashx_new ();
    zhashx_set_destructor (self->announced, s_default_destructor);
    self->peer_logged = zhashx_new ();
    zhashx_set_destructor (self->peer_logged, s_default_destructor);
    self->batch = zlistx_new ();
    zlistx_set_destructor (self->batch, s_item_destroy);
    self->outgoing = zlistx_new ();
    zlistx_set_destructor (self->outgoing, s_outgoing_destroy);
    //  NULL (no thread could start) still works: the engine verifies alone.
    self->pool = cc_pool_new (cc_pool_workers_default ());

    self->store = cc_store_open (self->data_dir, 0, config->map_size);
    if (!self->store)
        goto failed;
    MDB_txn *txn = NULL;
    if (cc_store_read (self->store, &txn))
        goto failed;
    cc_log_each_head (self->store, txn, s_load_head, self->heads);
    mdb_txn_abort (txn);

    self->roster = cc_roster_new ();
    self->roster_chunks = cc_roster_chunks_new ();
    if (cc_roster_scan (self->roster, self->allow_dir) < 0) {
        zsys_error ("cannot read allow directory %s", self->allow_dir);
        goto failed;
    }
    self->allow_mtime = s_mtime (self->allow_dir);
    if (cc_store_write (self->store, s_roster_write, self))
        goto failed;

    //  Without a running ZAP handler libzmq lets in any client that knows
    //  our public key, so cc_zap is up and answering before the first bind.
    self->auth = zactor_new (cc_zap_actor, (void *) self->allow_dir);
    assert (self->auth);

    self->pub = s_server_socket (self, ZMQ_PUB, config->listen_port);
    self->router = s_server_socket (self, ZMQ_ROUTER, config->listen_port + 1);
    if (!self->pub || !self->router)
        goto failed;
    self->poller = zpoller_new (self->pipe, self->router, NULL);
    if (self->relay) {
        cc_upstream_handler_t handler = {
            self, s_upstream_head, s_upstream_delivery, s_upstream_acked,
            s_upstream_welcome, s_upstream_reported
        };
        self->upstream = cc_upstream_new (
            self->upstream_host, config->upstream_port, self->upstream_key,
            config->keys, self->name, (const char **) self->sectors,
            config->heartbeat_ms, &handler);
        cc_upstream_attach (self->upstream, self->poller);
    }
    return self;

failed:
    s_self_destroy (&self);
    return NULL;
}

static void
s_handle_pipe (self_t *self)
{
    zmsg_t *request = zmsg_recv (self->pipe);
    if (!request) {
        self->terminated = true;
        return;
    }
    char *command = zmsg_popstr (request);
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "STATUS")) {
        char *json = s_status_json (self);
        zstr_send (self->pipe, json);
        free (json);
    }
    else
        zsys_error ("engine: unknown pipe command %s", command);
    zstr_free (&command);
    zmsg_destroy (&request);
}

static void
s_housekeeping (self_t *self)
{
    int cleared = cc_store_check_readers (self->store);
    if (cleared > 0)
        zsys_notice ("cleared %d stale reader slot(s)", cleared);
    s_rescan_roster (self, false);
    size_t dropped = cc_roster_chunks_expire (self->roster_chunks,
                                              ROSTER_PART_IDLE_MS);
    if (dropped)
        zsys_warning ("dropped the unfinished roster of %zu relay(s): "
                      "no part for %d s", dropped, ROSTER_PART_IDLE_MS / 1000);
    s_cycle_end (self, true);
}

static void
s_engine_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const cc_engine_config_t *) args);
    zsock_signal (pipe, 0);
    zstr_send (pipe, self? "READY": "FAILED");
    if (!self) {
        //  Wait for the owner's $TERM so the pipe shuts down in order.
        char *command = zstr_recv (pipe);
        zstr_free (&command);
        OPENSSL_thread_stop ();
        return;
    }
    zsys_notice ("%s %s serving %s:%d (stream) and %d (control)",
                 self->relay? "relay": "national broker", self->name,
                 self->listen_host, self->config.listen_port,
                 self->config.listen_port + 1);
    int64_t heartbeat = self->config.heartbeat_ms;
    while (!self->terminated) {
        int64_t now = zclock_mono ();
        int64_t wait = self->next_heartbeat - now;
        if (wait < 0)
            wait = 0;
        if (wait > heartbeat)
            wait = heartbeat;
        if (self->acks_due && self->acks_due - now < wait)
            wait = self->acks_due > now? self->acks_due - now: 0;
        void *which = zpoller_wait (self->poller, (int) wait);
        if (zpoller_terminated (self->poller))
            break;
        if (which == self->pipe)
            s_handle_pipe (self);
        else
        if (which == self->router)
            s_handle_router (self);
        else
        if (which && self->upstream)
            cc_upstream_handle (self->upstream, which);
        //  Other ready sockets are picked up by the next zero-wait poll;
        //  drain the router too, so a busy upstream cannot starve it.
        if (which != self->router)
            s_handle_router (self);
        s_cycle_end (self, false);

        now = zclock_mono ();
        if (self->upstream) {
            cc_upstream_tick (self->upstream, self->poller);
            if (self->roster_dirty && cc_upstream_connected (self->upstream))
                s_send_roster (self);
            if (!s_report_upstream (self))
                s_forward_acks (self);
        }
        if (now >= self->next_heartbeat) {
            s_send_heartbeats (self);
            self->next_heartbeat = now + heartbeat;
        }
        if (now >= self->next_housekeeping) {
            s_housekeeping (self);
            self->next_housekeeping = now + ROSTER_RESCAN_MS;
        }
    }
    s_cycle_end (self, true);
    s_self_destroy (&self);
    //  Free this thread's OpenSSL state now: the thread is detached and
    //  may still be exiting when main's atexit cleanup runs.
    OPENSSL_thread_stop ();
}

//  ---------------------------------------------------------------------
//  Public API

struct _cc_engine_t {
    zactor_t *actor;
};

cc_engine_t *
cc_engine_new (const cc_engine_config_t *config)
{
    assert (config && config->name && config->listen_host && config->data_dir
            && config->keys && config->root_key && config->allow_dir
            && config->sectors);
    cc_engine_t *self = (cc_engine_t *) zmalloc (sizeof (cc_engine_t));
    self->actor = zactor_new (s_engine_actor, (void *) config);
    char *state = zstr_recv (self->actor);
    bool ready = state && streq (state, "READY");
    zstr_free (&state);
    if (!ready)
        cc_engine_destroy (&self);
    return self;
}

void
cc_engine_destroy (cc_engine_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_engine_t *self = *self_p;
        zactor_destroy (&self->actor);
        free (self);
        *self_p = NULL;
    }
}

zactor_t *
cc_engine_actor (cc_engine_t *self)
{
    return self->actor;
}

char *
cc_engine_status (cc_engine_t *self)
{
    zstr_send (self->actor, "STATUS");
    return zstr_recv (self->actor);
}
