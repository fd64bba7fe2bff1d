/*  cc_engine.c - the broker engine actor (national broker and relays).

    One poller, one handler per socket, and one write transaction per poll
    cycle. Handlers never write to LMDB: they verify what arrived and queue
    it in the cycle's batch. cc_engine_cycle_end commits the batch with one
    durable LMDB transaction and only then makes anything visible -
    publishes the new deliveries, answers "stored" and "acked". This is
    the durability promise of certcast: a publisher told "stored" and an
    agent told "acked" can lose power a microsecond later on every host
    and nothing they were told is lost, because the data sync happened
    first. If the
    commit fails nothing is made visible and every requester is told
    "storage" (publishers exit non-zero; agents and relays resend).

    Trust decisions all happen before the write: the sender is the ZAP
    User-Id (its CURVE key) looked up in the roster, never the ROUTER
    routing id, and every advisory (cc_advisory_open, against the pinned
    root) and every signed ack (cc_ledger_verify_signed_ack) is verified
    before the transaction begins. Handlers only queue what arrived; the
    checks run on worker actors while the engine goes on (cc_engine_verify:
    Ed25519 is the one CPU-bound step), what failed is refused with the
    same replies as ever, and cc_engine_cycle_end writes only what passed.

    self_t owns the store, roster, sockets, ZAP actor, upstream link,
    heartbeats (cc_heartbeats) and the batch; batch items own their frames
    and decoded messages. The actor is spread over cc_engine_batch.c (the
    write and the replies), cc_engine_verify.c, cc_engine_upstream.c
    (relays) and cc_engine_status.c (the STATUS reply), which share its
    state through cc_engine_internal.h.
*/
#include "cc_broker.h"
#include "cc_engine_internal.h"
#include <pthread.h>
#include <sys/stat.h>

#define FETCH_BYTES_CAP     (2 * 1024 * 1024)
//  Each client's share of fetch replies: a burst of 64 MiB (a month of
//  advisories for a relay or agent catching up), then 32 MiB a second.
//  A reply is encoded and queued at once, whether or not the client reads
//  it: without a share, 1,500 fetches of 30 bytes from one enrolled key
//  that never read took a broker to 3.2 GB.
#define FETCH_BURST_BYTES   (64.0 * 1024 * 1024)
#define FETCH_BYTES_PER_S   (32.0 * 1024 * 1024)
#define LOG_EVERY_MS        10000   //  refusal logs per peer at most this often
#define ROSTER_RESCAN_MS    5000
#define ROSTER_PART_IDLE_MS 60000   //  a roster's next part overdue: drop it
#define ENGINE_WAKE_MAX_MS  1000    //  timers checked at least this often

//  ---------------------------------------------------------------------
//  Small helpers

const char *
cc_engine_sector_of (const char *stream)
{
    const char *slash = strrchr (stream, '/');
    return slash? slash + 1: stream;
}

bool
cc_engine_own_stream (self_t *self, const char *stream)
{
    for (size_t index = 0; index < self->n_sectors; index++)
        if (streq (self->own_streams [index], stream))
            return true;
    return false;
}

bool
cc_engine_serves (self_t *self, const char *sector)
{
    for (char **cursor = self->sectors; *cursor; cursor++)
        if (streq (*cursor, sector))
            return true;
    return false;
}

//  May this member read streams of this sector? Agents read their own
//  sector; relays and brokers the sectors their roster entry lists.
bool
cc_engine_may_read (const cc_member_t *member, const char *sector)
{
    if (streq (member->role, "agent"))
        return streq (member->sector, sector);
    if (!streq (member->role, "relay") && !streq (member->role, "broker"))
        return false;
    return cc_engine_sector_listed (member, sector);
}

bool
cc_engine_sector_listed (const cc_member_t *member, const char *sector)
{
    char list [sizeof member->sector];
    snprintf (list, sizeof list, "%s", member->sector);
    char *state = NULL;
    for (char *token = strtok_r (list, ",", &state); token;
         token = strtok_r (NULL, ",", &state))
        if (streq (token, "all") || streq (token, sector))
            return true;
    return false;
}

uint64_t
cc_engine_head (zhashx_t *heads, const char *stream)
{
    uint64_t *head = (uint64_t *) zhashx_lookup (heads, stream);
    return head? *head: 0;
}

void
cc_engine_set_head (zhashx_t *heads, const char *stream, uint64_t value)
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

void
cc_engine_reply (self_t *self, zframe_t *routing, Certcast__Control *control)
{
    zframe_t *frame = cc_wire_control_encode (control);
    s_send_control (self, routing, &frame);
}

void
cc_engine_reply_acked (self_t *self, zframe_t *routing, uint64_t corr,
                       int count)
{
    Certcast__Acked acked = CERTCAST__ACKED__INIT;
    acked.count = count;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = corr;
    control.body_case = CERTCAST__CONTROL__BODY_ACKED;
    control.acked = &acked;
    cc_engine_reply (self, routing, &control);
}

//  May we log about this peer now? Once per peer per LOG_EVERY_MS, so a
//  peer sending bad input cannot flood the log.
bool
cc_engine_may_log (self_t *self, const char *peer)
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
void
cc_engine_refuse (self_t *self, zframe_t *routing, uint64_t corr,
                  const char *peer, int code, const char *reason)
{
    self->counters.refused [code & 15]++;
    if (cc_engine_may_log (self, peer))
        zsys_warning ("refused %s: %s: %s", peer && *peer? peer: "-",
                      cc_strerror (code), reason);
    cc_engine_reply_error (self, routing, corr, code, reason);
}

//  Answer with an Error, nothing else: the caller counts and logs.
void
cc_engine_reply_error (self_t *self, zframe_t *routing, uint64_t corr,
                       int code, const char *reason)
{
    if (routing) {
        zframe_t *frame = cc_wire_error_frame (corr, code, reason);
        s_send_control (self, routing, &frame);
    }
}

//  ---------------------------------------------------------------------
//  Control requests

//  A relay numbers its own streams NODE/SECTOR, and its agents keep one
//  cursor per stream name, so the name must be that relay's alone: two
//  relays of a sector both left at the default name (the sector) would
//  number banking/banking each on their own, and an agent moving from one
//  to the other would take the second's advisories 1..N for ones it has
//  and never get them; a relay named as a stream origin it follows would
//  drop that stream. Said at its Hello, so its link never comes up and
//  the operator sees why at once. The claim of a relay no longer enrolled
//  lapses (re-keyed, or decommissioned). NULL: the name is now the
//  member's; otherwise reason, saying why it may not have it.
static const char *
s_claim_origin (self_t *self, const cc_member_t *member, const char *node,
                  char *reason, size_t size)
{
    if (streq (node, self->name)) {
        snprintf (reason, size, "this relay's --name %s is the name of the "
                  "broker it links to: give it a --name of its own", node);
        return reason;
    }
    size_t length = strlen (node);
    for (void *head = zhashx_first (self->heads); head;
         head = zhashx_next (self->heads)) {
        const char *stream = (const char *) zhashx_cursor (self->heads);
        if (strncmp (stream, node, length) == 0 && stream [length] == '/') {
            snprintf (reason, size, "this relay's --name %s is the origin of "
                      "stream %s, which it would follow: give it a --name "
                      "of its own", node, stream);
            return reason;
        }
    }
    char hex [65];
    cc_hex_encode (member->sign_key, 32, hex);
    const char *holder = (const char *) zhashx_lookup (self->origin_claims,
                                                       node);
    if (holder && !streq (holder, hex)) {
        uint8_t key [32];
        const cc_member_t *other = cc_hex_decode (holder, key, 32) == 0?
            cc_roster_by_sign_key (self->roster, key): NULL;
        if (other) {
            snprintf (reason, size, "stream origin %s is relay %s's: two "
                      "relays numbering one stream lose advisories for agents "
                      "moving between them; give this relay a --name of its "
                      "own", node, other->name);
            return reason;
        }
    }
    //  Ours now, and no longer any other name it had.
    zlistx_t *names = zhashx_keys (self->origin_claims);
    for (const char *name = (const char *) zlistx_first (names); name;
         name = (const char *) zlistx_next (names))
        if (streq ((const char *) zhashx_lookup (self->origin_claims, name),
                   hex))
            zhashx_delete (self->origin_claims, name);
    zlistx_destroy (&names);
    zhashx_update (self->origin_claims, node, strdup (hex));
    return NULL;
}

static void
s_handle_hello (self_t *self, zframe_t *routing, Certcast__Control *request,
                const cc_member_t *member)
{
    char reason [256];
    if (streq (member->role, "relay") && request->hello->node
    &&  s_claim_origin (self, member, request->hello->node, reason,
                        sizeof reason)) {
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_ENOTALLOWED, reason);
        return;
    }
    zlistx_t *visible = zlistx_new ();
    for (uint64_t *head = (uint64_t *) zhashx_first (self->heads); head;
         head = (uint64_t *) zhashx_next (self->heads)) {
        const char *stream = (const char *) zhashx_cursor (self->heads);
        if (cc_engine_may_read (member, cc_engine_sector_of (stream))) {
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
    for (void *entry = zlistx_first (visible); entry;
         entry = zlistx_next (visible))
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
    cc_engine_reply (self, routing, &control);
    for (index = 0; index < count; index++)
        free (heads [index]);
    free (heads);
    zlistx_destroy (&visible);
}

size_t
cc_engine_peer_checks (self_t *self, const char *peer, ssize_t change)
{
    size_t *count = (size_t *) zhashx_lookup (self->peer_checks, peer);
    if (!count && change == 0)
        return 0;
    if (!count) {
        count = (size_t *) zmalloc (sizeof *count);
        zhashx_insert (self->peer_checks, peer, count);
    }
    assert (change >= 0 || *count >= (size_t) -change);
    *count += (size_t) change;
    size_t now = *count;
    if (now == 0)
        zhashx_delete (self->peer_checks, peer);
    return now;
}

typedef struct {
    double bytes;                   //  what the client may still be sent
    int64_t at;                     //  mono ms of the last refill
} s_fetch_share_t;

//  The client's share, refilled to now; NULL (and refused "busy": counted
//  and logged as every refusal) when it has none left.
static s_fetch_share_t *
s_fetch_share (self_t *self, zframe_t *routing, uint64_t corr,
               const cc_member_t *member)
{
    s_fetch_share_t *share = (s_fetch_share_t *) zhashx_lookup (
        self->fetch_shares, member->curve);
    int64_t now = zclock_mono ();
    if (!share) {
        share = (s_fetch_share_t *) zmalloc (sizeof *share);
        share->bytes = FETCH_BURST_BYTES;
        share->at = now;
        zhashx_insert (self->fetch_shares, member->curve, share);
    }
    share->bytes += (double) (now - share->at) * FETCH_BYTES_PER_S / 1000;
    if (share->bytes > FETCH_BURST_BYTES)
        share->bytes = FETCH_BURST_BYTES;
    share->at = now;
    if (share->bytes > 0)
        return share;
    cc_engine_refuse (self, routing, corr, member->curve, CC_EBUSY,
                      "fetching faster than this client's share of 32 MiB/s; "
                      "ask again later");
    return NULL;
}

static void
s_handle_fetch (self_t *self, zframe_t *routing, Certcast__Control *request,
                const cc_member_t *member)
{
    Certcast__Fetch *fetch = request->fetch;
    if (!fetch->stream
    ||  !cc_engine_may_read (member, cc_engine_sector_of (fetch->stream))) {
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_ENOTALLOWED, "not a stream this client may read");
        return;
    }
    s_fetch_share_t *share = s_fetch_share (self, routing, request->corr,
                                            member);
    if (!share)
        return;
    self->counters.fetches++;
    MDB_txn *txn = NULL;
    if (cc_store_read (self->store, &txn)) {
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_ESTORAGE, "cannot read the log");
        return;
    }
    uint32_t max = fetch->max && fetch->max < CC_FETCH_CAP?
                   fetch->max: CC_FETCH_CAP;
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
    share->bytes -= (double) zframe_size (frame);
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
//  with the rest of the cycle (cc_engine_verify_batch), scope included.
static void
s_handle_publish (self_t *self, zframe_t *routing, Certcast__Control *request,
                  const cc_member_t *member)
{
    bool record = request->publish->record_only;
    if (record && !streq (member->role, "relay")) {
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_ENOTALLOWED,
                          "only relays report advisories they originated");
        return;
    }
    if (!record && !streq (member->role, "issuer")) {
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_ENOTALLOWED, "only issuer keys may publish");
        return;
    }
    cc_engine_item_t *item =
        cc_engine_item_new (record? ITEM_RECORD: ITEM_PUBLISH, routing,
                            request->corr, member->curve);
    item->publish = (Certcast__Publish *) s_take_body (request);
    cc_engine_queue (self, item);
}

static void
s_handle_acks (self_t *self, zframe_t *routing, Certcast__Control *request,
               const cc_member_t *member)
{
    bool from_agent = streq (member->role, "agent");
    if (!from_agent && !streq (member->role, "relay")) {
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_ENOTALLOWED, "only agents and relays send acks");
        return;
    }
    //  Each ack costs a signature check before anything is refused: an
    //  agent sends one a cycle, a relay batches of up to ACKQ_BATCH, and a
    //  frame of 30,000 copies must not hold the cores for everyone.
    size_t most = from_agent? ACKS_PER_AGENT_REQUEST: ACKQ_BATCH;
    if (request->acks->n_acks > most) {
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_EMALFORMED, from_agent
                          ? "more than 64 acks in one request"
                          : "more than 4096 acks in one request");
        return;
    }
    //  Nor may one client keep the checkers to itself: a relay has one
    //  batch in flight, an agent one ack; more waits its turn.
    if (cc_engine_peer_checks (self, member->curve, 0)
        + request->acks->n_acks > PEER_CHECKS_MAX) {
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_EBUSY, "this client's earlier acks are still "
                          "being checked; send again later");
        return;
    }
    self->counters.ack_messages++;
    cc_engine_item_t *item =
        cc_engine_item_new (ITEM_ACKS, routing, request->corr, member->curve);
    item->acks_request = (Certcast__Acks *) s_take_body (request);
    item->n_acks = item->acks_request->n_acks;
    item->acks = (cc_engine_ack_t *) zmalloc ((item->n_acks + 1) *
                                             sizeof (cc_engine_ack_t));
    memcpy (item->agent_key, member->sign_key, 32);
    //  Nobody acks for an organisation but its own key: an agent's acks
    //  must be signed by the agent that is connected. A relay passes on
    //  acks its agents signed; the signature still has to verify.
    for (size_t index = 0; index < item->n_acks; index++) {
        item->acks [index].envelope = item->acks_request->acks [index];
        item->acks [index].expected = from_agent? item->agent_key: NULL;
    }
    cc_engine_queue (self, item);
}

//  Stored roster entries are keyed to who reported them by name (their
//  `via`, shown in compliance reports), and a relay's roster replaces
//  every entry via its name. So a relay named as this broker would wipe
//  the broker's own agents, and two enrolled relays of one name would
//  wipe each other's: refuse, and say which name to change. NULL: none.
static const char *
s_roster_name_clash (self_t *self, const cc_member_t *member)
{
    if (streq (member->name, self->name))
        return "this relay's key has the broker's own name: its roster "
               "would replace the broker's own agents; give it a name of "
               "its own (certcast keygen NAME)";
    for (const cc_member_t *other = cc_roster_first (self->roster); other;
         other = cc_roster_next (self->roster))
        if (streq (other->role, "relay") && streq (other->name, member->name)
        &&  !streq (other->curve, member->curve))
            return "another enrolled relay key has this relay's name: their "
                   "rosters would replace each other; give each relay key "
                   "a name of its own (certcast keygen NAME)";
    return NULL;
}

static void
s_handle_roster (self_t *self, zframe_t *routing, Certcast__Control *request,
                 const cc_member_t *member)
{
    if (!streq (member->role, "relay")) {
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_ENOTALLOWED, "only relays send rosters");
        return;
    }
    const char *clash = s_roster_name_clash (self, member);
    if (clash) {
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_ENOTALLOWED, clash);
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
    if (verdict == CC_ROSTER_OVER_LIMIT)
        self->counters.roster_over_limit++;
    if (verdict == CC_ROSTER_REFUSED || verdict == CC_ROSTER_OVER_LIMIT)
        cc_engine_refuse (self, routing, request->corr, member->curve,
                          CC_EMALFORMED, reason);
    else
    if (verdict == CC_ROSTER_STAGED)
        cc_engine_reply_acked (self, routing, request->corr, 0);
    else {
        self->counters.rosters++;
        cc_engine_item_t *item = cc_engine_item_new (
            ITEM_ROSTER, routing, request->corr, member->curve);
        snprintf (item->via, sizeof item->via, "%s", member->name);
        //  Which sectors it may report agents of is decided on the relay
        //  as enrolled now, whatever a rescan does before the write.
        item->reporter = (cc_member_t *) zmalloc (sizeof (cc_member_t));
        *item->reporter = *member;
        item->roster = whole;
        cc_engine_queue (self, item);
    }
}

static void
s_handle_status (self_t *self, zframe_t *routing, Certcast__Control *request,
                 const cc_member_t *member)
{
    char *json = cc_engine_status_json (self, member);
    Certcast__StatusReply reply = CERTCAST__STATUS_REPLY__INIT;
    reply.json = json;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = request->corr;
    control.body_case = CERTCAST__CONTROL__BODY_STATUS_REPLY;
    control.status_reply = &reply;
    cc_engine_reply (self, routing, &control);
    free (json);
}

//  With -v, one line per request: who asked for what. Never without: a
//  relay for thousands of agents handles thousands of acks a second.
static void
s_log_request (const Certcast__Control *request, const cc_member_t *member)
{
    switch (request->body_case) {
        case CERTCAST__CONTROL__BODY_HELLO:
            zsys_debug ("hello from %s (%s)", member->name, member->role);
            break;
        case CERTCAST__CONTROL__BODY_FETCH:
            zsys_debug ("fetch %s from %" PRIu64 " by %s (%s)",
                        request->fetch->stream? request->fetch->stream: "-",
                        request->fetch->from, member->name, member->role);
            break;
        case CERTCAST__CONTROL__BODY_PUBLISH:
            zsys_debug ("%s from %s (%s)", request->publish->record_only?
                        "report": "publish", member->name, member->role);
            break;
        case CERTCAST__CONTROL__BODY_ACKS:
            zsys_debug ("%zu ack(s) from %s (%s)", request->acks->n_acks,
                        member->name, member->role);
            break;
        case CERTCAST__CONTROL__BODY_ROSTER:
            zsys_debug ("roster part %u of %u (%zu entries) from %s (%s)",
                        request->roster->parts? request->roster->part: 1,
                        request->roster->parts? request->roster->parts: 1,
                        request->roster->n_entries, member->name, member->role);
            break;
        case CERTCAST__CONTROL__BODY_STATUS:
            zsys_debug ("status from %s (%s)", member->name, member->role);
            break;
        default:
            break;              //  refused, and logged as such
    }
}

static void
s_handle_router (self_t *self)
{
    for (int count = 0; count < CYCLE_MAX_MESSAGES; count++) {
        if (self->jobs_unfinished >= VERIFY_BACKLOG_MAX)
            break;
        zmsg_t *msg = zmsg_recv (self->router);
        if (!msg)
            break;              //  nothing more now
        zframe_t *routing = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        if (!routing || !body || zmsg_size (msg) != 0) {
            self->counters.bad_frames++;
            cc_engine_refuse (self, NULL, 0, NULL, CC_EMALFORMED,
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
            cc_engine_refuse (self, routing, 0, curve, CC_EMALFORMED,
                      "not a certcast control message");
            goto next;
        }
        if (!member) {
            cc_engine_refuse (self, routing, request->corr, curve,
                              CC_ENOTALLOWED,
                              "client key is not (or no longer) enrolled");
            certcast__control__free_unpacked (request, NULL);
            goto next;
        }
        if (self->config.verbose)
            s_log_request (request, member);
        if (streq (member->role, "relay"))
            cc_heard_note (self->heard, member->sign_key, (int64_t) time (NULL));
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
                s_handle_status (self, routing, request, member);
                break;
            default:
                cc_engine_refuse (self, routing, request->corr, curve,
                                  CC_EMALFORMED,
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
    int64_t now = (int64_t) time (NULL);
    for (size_t entry = 0; !rc && entry < index; entry++)
        rc = cc_roster_put (self->store, txn, pointers [entry], now);
    free (pointers);
    free (entries);
    return rc;
}

static int64_t
s_mtime (const char *path)
{
    //  Nanoseconds, as cc_zap compares: a file removed within the second
    //  of the directory's last change must not go unnoticed.
    struct stat info;
    if (stat (path, &info))
        return 0;
    return (int64_t) info.st_mtim.tv_sec * 1000000000 + info.st_mtim.tv_nsec;
}

//  A key removed from the allow directory loses its control requests at
//  once (each is checked against the roster), but a stream connection it
//  already had keeps the subscriptions it was granted, and libzmq cannot
//  close one peer's connection on a bound socket. So when a key leaves,
//  the stream socket is made anew: every subscriber reconnects within its
//  reconnect interval, ZAP refuses the removed key, and every other
//  subscription is checked again. What is published meanwhile is repaired
//  by fetch, as any message PUB/SUB drops. Removals are rare; a broker
//  that cannot listen again stops (its supervisor restarts it).
static zsock_t *
    s_server_socket (self_t *self, int type, int port, int attempts);

static void
s_reopen_stream (self_t *self)
{
    zpoller_remove (self->poller, self->pub);
    zsock_set_linger (self->pub, 0);
    zsock_destroy (&self->pub);
    self->pub = s_server_socket (self, ZMQ_XPUB, self->config.listen_port,
                                 250);
    cc_heartbeats_set_pub (self->heartbeats, self->pub);
    if (!self->pub) {
        zsys_error ("cannot reopen the stream socket: stopping");
        self->terminated = true;
        return;
    }
    zpoller_add (self->poller, self->pub);
    self->counters.stream_reopens++;
    zsys_notice ("a key left the allow directory: stream socket reopened, "
                 "every subscriber reconnects and is checked again");
}

//  Reread the allow directory if it changed (cc_zap rereads it itself).
static void
s_rescan_roster (self_t *self, bool force)
{
    int64_t mtime = s_mtime (self->allow_dir);
    if (!force && mtime == self->allow_mtime)
        return;
    self->allow_mtime = mtime;
    zlistx_t *before = zlistx_new ();
    zlistx_set_destructor (before, (zlistx_destructor_fn *) zstr_free);
    for (const cc_member_t *member = cc_roster_first (self->roster); member;
         member = cc_roster_next (self->roster))
        zlistx_add_end (before, strdup (member->curve));
    int members = cc_roster_scan (self->roster, self->allow_dir);
    if (members < 0) {
        zsys_error ("cannot read allow directory %s", self->allow_dir);
        zlistx_destroy (&before);
        return;
    }
    zsys_info ("roster: %d member(s) in %s", members, self->allow_dir);
    int rc = cc_store_write (self->store, s_roster_write, self);
    if (rc)
        zsys_error ("roster: cannot store: %s", mdb_strerror (rc));
    self->roster_dirty = true;
    bool removed = false;
    for (char *curve = (char *) zlistx_first (before); curve && !removed;
         curve = (char *) zlistx_next (before))
        removed = !cc_roster_by_curve (self->roster, curve);
    zlistx_destroy (&before);
    if (removed && self->pub)
        s_reopen_stream (self);
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
    cc_ackpace_destroy (&self->ackpace);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->router);
    cc_heartbeats_destroy (&self->heartbeats);
    zsock_destroy (&self->pub);
    zactor_destroy (&self->auth);
    cc_engine_verify_stop (self);
    zlistx_destroy (&self->batch);
    zlistx_destroy (&self->outgoing);
    zhashx_destroy (&self->heads);
    zhashx_destroy (&self->pending_heads);
    zhashx_destroy (&self->peer_logged);
    zhashx_destroy (&self->origin_claims);
    zhashx_destroy (&self->fetch_shares);
    zhashx_destroy (&self->peer_checks);
    cc_roster_chunks_destroy (&self->roster_chunks);
    cc_ledger_digests_destroy (&self->digests);
    cc_heard_destroy (&self->heard);
    cc_roster_destroy (&self->roster);
    cc_store_destroy (&self->store);
    for (size_t index = 0; index < self->n_sectors; index++) {
        free (self->sectors [index]);
        zstr_free (&self->own_streams [index]);
    }
    free (self->sectors);
    free (self->own_streams);
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
//  data left unacknowledged for 30 heartbeats (15 s to 1 min) drops the
//  connection (ZMQ_TCP_MAXRT is TCP_USER_TIMEOUT on Linux), and keepalive
//  probes, answered by the peer's kernel alone, find a dead control link
//  that carried nothing for as long (at most a minute); each probe has a
//  third of that to be answered. Both are set on the listener and
//  inherited by every accepted connection. Tighter (10 heartbeats, a
//  probe every 2 s) aborted 6,864 live connections
//  (TcpExtTCPAbortOnTimeout) during one bench run with 10,000 agents on
//  two loaded cores, whose probes were answered late.
static void
s_drop_vanished_peers (self_t *self, zsock_t *sock)
{
    int dead_ms = self->config.heartbeat_ms * 30;
    if (dead_ms < 15000)
        dead_ms = 15000;
    if (dead_ms > 60000)
        dead_ms = 60000;        //  a relay's 5 s heartbeat: a minute, not 150 s
    int probe_s = dead_ms / 3000;
    zsock_set_tcp_maxrt (sock, dead_ms);
    zsock_set_tcp_keepalive (sock, 1);
    zsock_set_tcp_keepalive_idle (sock, dead_ms / 1000);
    zsock_set_tcp_keepalive_intvl (sock, probe_s);
    zsock_set_tcp_keepalive_cnt (sock, 3);
}

//  Bind, trying `attempts` times 20 ms apart: a port we have just closed
//  may take a moment to be free again.
static zsock_t *
s_server_socket (self_t *self, int type, int port, int attempts)
{
    zsock_t *sock = cc_keys_server (self->config.keys, type);
    zsock_set_zap_domain (sock, "certcast");
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
    if (type == ZMQ_XPUB) {
        zsock_set_sndhwm (sock, self->config.pub_hwm > 0?
                                self->config.pub_hwm: 100000);
        //  We decide each subscription (s_handle_subscriptions): every one,
        //  each peer's own, and its unsubscriptions.
        zsock_set_xpub_manual (sock, 1);
        zsock_set_xpub_verboser (sock, 1);
    }
    else {
        //  Replies to a publisher that sent a thousand advisories at once
        //  must not meet the default 1,000-message queue: a dropped
        //  "stored" makes the publisher retry into a replay refusal.
        zsock_set_sndhwm (sock, 100000);
        zsock_set_router_mandatory (sock, 0);
        //  Drained until empty without asking ZMQ_EVENTS first: that is
        //  two system calls per request, a tenth of an ack's cost in a VM.
        zsock_set_rcvtimeo (sock, 0);
    }
    int rc = -1;
    for (int attempt = 0; attempt < attempts && rc == -1; attempt++) {
        if (attempt)
            zclock_sleep (20);
        rc = zsock_bind (sock, "tcp://%s:%d", self->listen_host, port);
    }
    if (rc == -1) {
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

static void
s_load_head (const char *stream, uint64_t head, void *arg)
{
    cc_engine_set_head ((zhashx_t *) arg, stream, head);
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
    self->n_sectors = count;
    self->sectors = (char **) zmalloc ((count + 1) * sizeof (char *));
    self->own_streams = (char **) zmalloc ((count + 1) * sizeof (char *));
    for (size_t index = 0; index < count; index++) {
        self->sectors [index] = strdup (config->sectors [index]);
        self->own_streams [index] = zsys_sprintf ("%s/%s", self->name,
                                                  self->sectors [index]);
    }
    memcpy (self->root_key, config->root_key, 32);
    self->started = zclock_mono ();
    self->heads = zhashx_new ();
    zhashx_set_destructor (self->heads, s_default_destructor);
    self->pending_heads = zhashx_new ();
    zhashx_set_destructor (self->pending_heads, s_default_destructor);
    self->peer_logged = zhashx_new ();
    zhashx_set_destructor (self->peer_logged, s_default_destructor);
    self->origin_claims = zhashx_new ();
    zhashx_set_destructor (self->origin_claims,
                           (zhashx_destructor_fn *) zstr_free);
    self->fetch_shares = zhashx_new ();
    zhashx_set_destructor (self->fetch_shares, s_default_destructor);
    self->peer_checks = zhashx_new ();
    zhashx_set_destructor (self->peer_checks, s_default_destructor);
    self->batch = zlistx_new ();
    zlistx_set_destructor (self->batch, cc_engine_item_destroy);
    self->outgoing = zlistx_new ();
    zlistx_set_destructor (self->outgoing, cc_engine_outgoing_destroy);
    if (!cc_engine_verify_start (self))
        goto failed;

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
    self->digests = cc_ledger_digests_new ();
    self->heard = cc_heard_new (cc_heard_step_default ());
    if (config->roster_stage_bytes)
        cc_roster_chunks_set_limits (self->roster_chunks,
                                     config->roster_stage_bytes,
                                     4 * config->roster_stage_bytes);
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

    self->pub = s_server_socket (self, ZMQ_XPUB, config->listen_port, 1);
    self->router = s_server_socket (self, ZMQ_ROUTER, config->listen_port + 1,
                                    1);
    if (!self->pub || !self->router)
        goto failed;
    self->heartbeats = cc_heartbeats_new (self->pub);
    self->poller = zpoller_new (self->pipe, self->router, self->pub, NULL);
    cc_verifier_poll_with (self->verifier, self->poller);
    if (self->relay)
        self->upstream = cc_engine_upstream_new (self);
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
        char *json = cc_engine_status_json (self, NULL);
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
    cc_engine_cycle_end (self, true);
}

//  May this client (its CURVE key, the User-Id cc_zap gave its connection)
//  receive this topic? The stream socket is where advisories leave, and a
//  SUB socket names its topics itself: without this check any enrolled key
//  (another sector's relay, an issuer) could subscribe to every sector's
//  stream, or to "" for all of them. Exact stream names only ("" and
//  "national/" are prefixes of streams), of a sector we serve and the
//  member may read, and $alive for anyone enrolled.
static bool
s_may_subscribe (self_t *self, const char *curve, const char *topic)
{
    if (streq (topic, CC_TOPIC_ALIVE))
        return true;
    const char *slash = strchr (topic, '/');
    if (!slash || slash == topic || !slash [1] || strchr (slash + 1, '/')
    ||  !cc_engine_serves (self, slash + 1))
        return false;
    const cc_member_t *member = curve? cc_roster_by_curve (self->roster, curve)
                                     : NULL;
    if (!member && curve) {
        //  cc_zap rereads the allow directory on its own: a key it has
        //  just let in may be newer than our roster.
        s_rescan_roster (self, false);
        member = cc_roster_by_curve (self->roster, curve);
    }
    return member && cc_engine_may_read (member, slash + 1);
}

//  Subscriptions arrive as messages on the stream socket: 1 or 0, then
//  the topic. Each one we allow is applied to the connection it came from
//  (libzmq applies a manual (un)subscribe to the last one read). A check
//  may reread the allow directory and so make the stream socket anew: then
//  what is left on the old one is gone with it, and every subscriber
//  subscribes again on the new one.
static void
s_handle_subscriptions (self_t *self)
{
    zsock_t *stream = self->pub;
    void *socket = zsock_resolve (stream);
    for (int count = 0; count < 10000 && self->pub == stream
         && (zsock_events (stream) & ZMQ_POLLIN); count++) {
        zframe_t *frame = zframe_recv (stream);
        if (!frame)
            break;
        const byte *data = zframe_data (frame);
        size_t size = zframe_size (frame);
        char topic [256];           //  stream names are at most 255
        if (size >= 1 && size - 1 < sizeof topic && (data [0] == 0 || data [0] == 1)
        &&  !memchr (data + 1, 0, size - 1)) {
            memcpy (topic, data + 1, size - 1);
            topic [size - 1] = 0;
            const char *curve = zframe_meta (frame, "User-Id");
            if (self->config.verbose) {
                const cc_member_t *member = curve?
                    cc_roster_by_curve (self->roster, curve): NULL;
                zsys_debug ("%s %s by %s", data [0]? "subscribe": "unsubscribe",
                            topic, member? member->name: curve? curve: "-");
            }
            if (data [0] == 0)
                zmq_setsockopt (socket, ZMQ_UNSUBSCRIBE, topic, size - 1);
            else
            if (s_may_subscribe (self, curve, topic)) {
                if (self->pub == stream)
                    zmq_setsockopt (socket, ZMQ_SUBSCRIBE, topic, size - 1);
            }
            else {
                self->counters.refused [CC_ENOTALLOWED & 15]++;
                if (cc_engine_may_log (self, curve))
                    zsys_warning ("refused %s: %s: may not subscribe to '%s'",
                                  curve && *curve? curve: "-",
                                  cc_strerror (CC_ENOTALLOWED), topic);
            }
        }
        zframe_destroy (&frame);
    }
}

//  While the checks waiting fill the backlog the router is not read, so
//  requests wait in libzmq's queues (and senders meet their high-water
//  mark) instead of in our memory; a finished chunk wakes us to resume.
static void
s_pace_router (self_t *self)
{
    bool full = self->jobs_unfinished >= VERIFY_BACKLOG_MAX;
    if (full == self->router_paused)
        return;
    if (full)
        zpoller_remove (self->poller, self->router);
    else
        zpoller_add (self->poller, self->router);
    self->router_paused = full;
}

static void
s_engine_actor (zsock_t *pipe, void *args)
{
    pthread_setname_np (pthread_self (), "cc-engine");
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
    //  Not a whole heartbeat when it is long: the upstream link's resends
    //  keep their pace under a relay's 5 s heartbeat.
    int64_t wait_max = heartbeat < ENGINE_WAKE_MAX_MS? heartbeat:
                                                         ENGINE_WAKE_MAX_MS;
    while (!self->terminated) {
        int64_t now = zclock_mono ();
        int64_t wait = self->next_heartbeat - now;
        if (wait < 0)
            wait = 0;
        if (wait > wait_max)
            wait = wait_max;
        if (self->acks_due && self->acks_due - now < wait)
            wait = self->acks_due > now? self->acks_due - now: 0;
        s_pace_router (self);
        void *which = zpoller_wait (self->poller, (int) wait);
        if (zpoller_terminated (self->poller))
            break;
        if (which == self->pipe)
            s_handle_pipe (self);
        else
        if (which == self->router)
            s_handle_router (self);
        else
        if (which == self->pub)
            s_handle_subscriptions (self);
        else
        if (which && self->upstream)
            cc_upstream_handle (self->upstream, which);
        //  Other ready sockets are picked up by the next zero-wait poll;
        //  drain the router too, so a busy upstream cannot starve it.
        if (which != self->router)
            s_handle_router (self);
        cc_engine_cycle_end (self, false);

        now = zclock_mono ();
        if (self->upstream)
            cc_engine_upstream_tick (self);
        if (now >= self->next_heartbeat) {
            cc_heartbeats_send (self->heartbeats, self->heads);
            self->next_heartbeat = now + heartbeat;
        }
        if (now >= self->next_housekeeping) {
            s_housekeeping (self);
            self->next_housekeeping = now + ROSTER_RESCAN_MS;
        }
    }
    //  Whatever was read is checked, written and answered before we go.
    self->draining = true;
    cc_engine_cycle_end (self, true);
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
