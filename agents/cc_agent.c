/*  cc_agent.c - the subscriber agent actor: its sockets, control replies,
    acks, the cycle's commit and hand-over, timers and pipe. Following the
    streams and verifying their deliveries is in cc_agent_streams.c; both
    files share the actor's self_t through cc_agent_internal.h.

    Durability: the advisories of one poll cycle, the cursors, a handoff
    marker per advisory and ONE signed ack covering them all are committed
    in one LMDB transaction at the end of the cycle (s_cycle_end, just
    before the poller waits again). Only after that commit is an advisory
    handed to the host (by the hand-over thread, batch after batch in
    commit order, while the actor goes on with the next cycle), and only
    once its spool files are durable is the ack sent (its --exec commands
    run after that: RECEIVED is what the commit made true, and a command
    that hangs must not hold the receipt for a minute per advisory).
    A crash after the commit replays the hand-over on restart (the marker
    is still there; the spool file is idempotent) and resends the ack (it
    is in the outbox until the relay answers Acked). A crash before the
    commit loses nothing either: the cursor did not move, so the relay
    serves the same deliveries again. The inbox refuses an id + revision
    it already holds (or an older one), so a restart repeats nothing.

    An advisory that had expired when it arrived is stored and acked
    (RECEIVED: it was received, and the national report should say so)
    but not handed over: no spool file, no --exec, no handoff marker. A
    command acting on a withdrawn or superseded instruction weeks late
    (the relay was away, or served an old log) does more harm than good;
    the inbox keeps it for the record, and one line says why.

    The relay is not trusted with our acks either: an Acked drops an
    outbox entry only if that ack was sent on this connection (self->sent),
    so a relay cannot make us forget an ack we never gave it.

    The self_t owns both sockets, the store, the handoff (used only by the
    hand-over thread once it runs) and every string.
*/
#include "cc_agents.h"
#include "cc_agent_internal.h"
#include <malloc.h>

#define HELLO_EVERY_MS      10000   //  rediscover streams this often
#define HELLO_RETRY_MS      1000    //  until the first Welcome
#define HELLO_EMPTY_MS      2000    //  while the relay lists no stream
#define CONTROL_HEARTBEAT_MS 30000  //  ZMTP heartbeat of the control link
#define RESEND_MAX          64      //  outbox entries resent per round
#define HANDED_FLUSH_MS     1000    //  clear hand-over markers at least this often
#define RESPOOL_FIRST_MS    2000    //  try unwritten spool files again after
#define RESPOOL_MAX_MS      60000   //  ... backing off to this while it fails
#define TRIM_AFTER          64      //  advisories handled before a heap trim
#define TRIM_QUIET_MS       1000    //  ... once the agent was this long quiet
#define ERRORS_REMEMBERED   256     //  distinct error replies logged once

//  --------------------------------------------------------------------------
//  Small helpers

static void
s_nonce_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

//  The key of a nonce in self->sent.
static void
s_nonce_key (uint64_t nonce, char key [24])
{
    snprintf (key, 24, "%" PRIu64, nonce);
}

void
cc_agent_heard (self_t *self)
{
    self->heard = zclock_mono ();
    self->ever_heard = true;
    if (self->dead) {
        zsys_notice ("relay %s back", self->relay_label);
        self->dead = false;
    }
}


//  --------------------------------------------------------------------------
//  Sockets

static zsock_t *
s_client_socket (self_t *self, int type, const char *endpoint)
{
    zsock_t *sock = cc_keys_client (self->options.keys, type, self->relay_key);
    if (type == ZMQ_DEALER) {
        //  The relay's silence on the stream already rebuilds both sockets
        //  within dead-after; this only keeps NATs and firewalls from
        //  dropping an idle control link and notices one that died alone.
        //  A PING and a PONG per agent at the relay, CURVE-encrypted, every
        //  heartbeat would cost it more than its own heartbeats.
        int interval = self->options.heartbeat_ms > CONTROL_HEARTBEAT_MS?
                       self->options.heartbeat_ms: CONTROL_HEARTBEAT_MS;
        zsock_set_heartbeat_ivl (sock, interval);
        //  No heartbeat TTL: it would arm a timer per agent at the relay,
        //  which libzmq cancels by linear search (see cc_engine.c).
        zsock_set_heartbeat_timeout (sock, interval * 3);
    }
    else
        zsock_set_rcvhwm (sock, 100000);
    int rc = zsock_connect (sock, "%s", endpoint);
    assert (rc == 0);           //  endpoint syntax was checked by main
    return sock;
}

void
cc_agent_send (self_t *self, Certcast__Control *control)
{
    //  Dropped on a full queue: hello, fetch retries and resends repair it.
    cc_wire_control_send (self->control, control);
}

void
cc_agent_send_hello (self_t *self)
{
    Certcast__Hello hello = CERTCAST__HELLO__INIT;
    hello.node = self->name;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    //  Numbered, so a Welcome is taken only as the answer to a Hello.
    control.corr = CORR_HELLO | ++self->hellos;
    control.body_case = CERTCAST__CONTROL__BODY_HELLO;
    control.hello = &hello;
    cc_agent_send (self, &control);
    self->hello_sent = zclock_mono ();
}

static void
s_build_sockets (self_t *self)
{
    self->control = s_client_socket (self, ZMQ_DEALER, self->endpoint_control);
    self->stream = s_client_socket (self, ZMQ_SUB, self->endpoint_stream);
    zsock_set_subscribe (self->stream, CC_TOPIC_ALIVE);
    self->alive_streams = -1;
    cc_agent_streams_subscribe (self);
    self->created = zclock_mono ();
    self->welcomed = false;
    //  What the old sockets asked is answered on them or not at all.
    self->hellos_answered = self->hellos;
    zhashx_purge (self->sent);
    zpoller_add (self->poller, self->control);
    zpoller_add (self->poller, self->stream);
    cc_agent_send_hello (self);
}

static void
s_destroy_sockets (self_t *self)
{
    if (self->control) {
        zpoller_remove (self->poller, self->control);
        zsock_destroy (&self->control);
    }
    if (self->stream) {
        zpoller_remove (self->poller, self->stream);
        zsock_destroy (&self->stream);
    }
}


//  --------------------------------------------------------------------------
//  Control replies

//  A Welcome is taken only as the answer to a Hello of this connection
//  (each Hello's at most once, none older than one answered): each one
//  is walked whole, so a relay sending them unasked could keep us busy.
static void
s_handle_welcome (self_t *self, uint64_t corr, Certcast__Welcome *welcome)
{
    uint64_t hello = corr > CORR_HELLO? corr - CORR_HELLO: 0;
    if (hello <= self->hellos_answered || hello > self->hellos) {
        self->replies_dropped++;
        uint64_t held = 0;
        if (cc_loglimit_may (&self->log_replies, &held))
            zsys_warning ("relay %s: dropped a Welcome that answers no Hello "
                          "of ours (and %" PRIu64 " such messages since the "
                          "last such line)", self->relay_label, held);
        return;
    }
    self->hellos_answered = hello;
    if (!self->welcomed) {
        zsys_notice ("connected to relay %s (%s)", self->relay_label,
                     welcome->node? welcome->node: "?");
        self->welcomed = true;
        //  The relay's stream heartbeat is what proves it alive: never
        //  call it dead sooner than three of its own intervals.
        if (welcome->heartbeat_ms > 0 && welcome->heartbeat_ms <= 600000)
            self->relay_heartbeat_ms = welcome->heartbeat_ms;
        //  A new session: resend every unconfirmed ack at once.
        self->resend_mark = self->last_nonce;
        self->resend_from = 0;
        self->next_resend = 0;
    }
    cc_agent_follow_heads (self, welcome);
}

static void
s_handle_error (self_t *self, Certcast__Control *control)
{
    Certcast__Error *error = control->error;
    char *key = zsys_sprintf ("%d:%s", error->code,
                              error->reason? error->reason: "");
    if (!zhashx_lookup (self->errors_logged, key)) {
        if (zhashx_size (self->errors_logged) >= ERRORS_REMEMBERED)
            zhashx_purge (self->errors_logged);
        zhashx_insert (self->errors_logged, key, (void *) "1");
        //  The ack stays in the outbox either way and goes again at the
        //  next resend round; not-yet is the relay catching up, no fault.
        if ((int) error->code == CC_ENOTYET)
            zsys_notice ("relay %s does not hold what ack %" PRIu64
                         " names yet; it stays in the outbox and goes again",
                         self->relay_label, control->corr);
        else
            zsys_warning ("relay %s refused request %" PRIu64 ": %s: %s",
                          self->relay_label, control->corr,
                          cc_strerror (error->code),
                          error->reason? error->reason: "");
    }
    free (key);
}

//  Drop the outbox entry of an ack the relay confirmed, if we sent it on
//  this connection: an Acked for anything else (an ack committed but not
//  sent yet, or never made) would lose an ack the relay never had.
static void
s_handle_acked (self_t *self, uint64_t corr)
{
    char key [24];
    s_nonce_key (corr, key);
    if (!zhashx_lookup (self->sent, key)) {
        uint64_t held = 0;
        if (cc_loglimit_may (&self->log_acked, &held))
            zsys_notice ("relay %s confirmed ack %" PRIu64 ", which we have "
                         "not sent it (or it confirmed already); ignored "
                         "(and %" PRIu64 " such since the last such line)",
                         self->relay_label, corr, held);
        return;
    }
    zhashx_delete (self->sent, key);
    uint64_t *nonce = (uint64_t *) zmalloc (sizeof (uint64_t));
    *nonce = corr;
    zlistx_add_end (self->acked, nonce);
}

static void
s_handle_control (self_t *self)
{
    for (int count = 0; count < DRAIN_MAX; count++) {
        if (!(zsock_events (self->control) & ZMQ_POLLIN))
            break;
        if (cc_agent_batch_full (self))
            break;
        zframe_t *frame = zframe_recv (self->control);
        if (!frame)
            break;
        cc_agent_heard (self);
        Certcast__Control *control = cc_wire_control_decode (frame);
        zframe_destroy (&frame);
        if (!control) {
            self->malformed++;
            zsys_warning ("malformed control reply from relay %s",
                          self->relay_label);
            continue;
        }
        switch (control->body_case) {
            case CERTCAST__CONTROL__BODY_WELCOME:
                s_handle_welcome (self, control->corr, control->welcome);
                break;
            case CERTCAST__CONTROL__BODY_DELIVERIES:
                cc_agent_handle_deliveries (self, control->corr,
                                            control->deliveries);
                break;
            case CERTCAST__CONTROL__BODY_ACKED:
                s_handle_acked (self, control->corr);
                break;
            case CERTCAST__CONTROL__BODY_ERROR:
                s_handle_error (self, control);
                break;
            default:
                break;
        }
        certcast__control__free_unpacked (control, NULL);
    }
}


//  --------------------------------------------------------------------------
//  Acks

//  Send one outbox entry as Acks{[signed ack]} with corr = nonce.
static void
s_send_ack (self_t *self, uint64_t nonce, const uint8_t *bytes, size_t size)
{
    Certcast__SignedAck *signed_ack = (Certcast__SignedAck *) cc_wire_unpack (
        &certcast__signed_ack__descriptor, bytes, size, CC_WIRE_MAX_FRAME);
    if (!signed_ack) {
        zsys_error ("outbox entry %" PRIu64 " does not decode", nonce);
        return;
    }
    Certcast__Acks acks = CERTCAST__ACKS__INIT;
    acks.n_acks = 1;
    acks.acks = &signed_ack;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = nonce;
    control.body_case = CERTCAST__CONTROL__BODY_ACKS;
    control.acks = &acks;
    cc_agent_send (self, &control);
    certcast__signed_ack__free_unpacked (signed_ack, NULL);
    self->acks_sent++;
    char key [24];
    s_nonce_key (nonce, key);
    zhashx_insert (self->sent, key, (void *) "1");
}

typedef struct {
    uint64_t nonces [RESEND_MAX];
    zchunk_t *acks [RESEND_MAX];
    size_t count;
    uint64_t last;              //  last nonce visited
} s_resend_t;

static void
s_resend_collect (uint64_t nonce, const uint8_t *signed_ack, size_t size,
                  void *arg)
{
    s_resend_t *resend = (s_resend_t *) arg;
    resend->last = nonce;
    assert (resend->count < RESEND_MAX);
    resend->nonces [resend->count] = nonce;
    resend->acks [resend->count] = zchunk_new (signed_ack, size);
    resend->count++;
}

//  Resend unconfirmed acks, RESEND_MAX per round, walking the outbox in
//  rounds so a stuck entry cannot starve the ones after it. Only entries
//  that already existed at the previous round are sent: a fresh ack had
//  its first send a moment ago.
static void
s_resend (self_t *self)
{
    s_resend_t resend;
    memset (&resend, 0, sizeof resend);
    MDB_txn *txn;
    if (cc_store_read (self->store, &txn))
        return;
    int visited = cc_inbox_outbox_each (self->store, txn, self->resend_from,
                                        RESEND_MAX, s_resend_collect, &resend);
    mdb_txn_abort (txn);
    for (size_t index = 0; index < resend.count; index++) {
        if (resend.nonces [index] <= self->resend_mark)
            s_send_ack (self, resend.nonces [index],
                        zchunk_data (resend.acks [index]),
                        zchunk_size (resend.acks [index]));
        zchunk_destroy (&resend.acks [index]);
    }
    //  An empty outbox needs no resend rounds (and no wake-ups for them)
    //  until the next commit makes an ack.
    if (visited == 0 && self->resend_from == 0)
        self->outbox_empty = true;
    self->resend_from = visited == RESEND_MAX? resend.last + 1: 0;
    if (self->resend_from == 0)
        self->resend_mark = self->last_nonce;
}


//  --------------------------------------------------------------------------
//  The cycle's commit

//  The same id and revision again is a resend, unless its bytes differ:
//  then two issuers used one id (where delegations bind no id prefix),
//  the one held is kept and the other never handed over. Say so: the
//  host's operators and their CERT must hear of an advisory that did not
//  reach them.
static void
s_check_collision (self_t *self, MDB_txn *txn, cc_agent_pending_t *pending)
{
    cc_inbox_record_t record;
    if (cc_inbox_get (self->store, txn, cc_advisory_id (pending->advisory),
                      cc_advisory_revision (pending->advisory), &record))
        return;
    uint8_t digest [32];
    cc_sha256 (record.signed_bytes, record.signed_size, digest);
    if (memcmp (digest, cc_advisory_digest (pending->advisory), 32) == 0)
        return;
    pending->collided = true;
    snprintf (pending->held_stream, sizeof pending->held_stream, "%s",
              record.stream);
}

//  Counted and said after the commit: a commit run again (the map grew)
//  would count it twice.
static void
s_report_collisions (self_t *self)
{
    for (cc_agent_pending_t *pending =
             (cc_agent_pending_t *) zlistx_first (self->pending);
         pending;
         pending = (cc_agent_pending_t *) zlistx_next (self->pending)) {
        if (!pending->collided)
            continue;
        self->collisions++;
        uint64_t held = 0;
        if (cc_loglimit_may (&self->log_collided, &held))
            zsys_warning ("advisory %s rev %u on %s is not the one held (from "
                          "%s): two issuers used this id; the first is kept, "
                          "this one, '%s' by %s, is not handed over (and %"
                          PRIu64 " more since the last such line)",
                          cc_advisory_id (pending->advisory),
                          cc_advisory_revision (pending->advisory),
                          pending->stream, pending->held_stream,
                          cc_advisory_content (pending->advisory)->title,
                          cc_advisory_delegation (pending->advisory)
                              ->issuer_name, held);
    }
}

//  Batch function for cc_store_write: may run more than once (map full),
//  so it derives everything from self's pending list and the txn and
//  overwrites its outputs on every run.
static int
s_commit (MDB_txn *txn, void *arg)
{
    self_t *self = (self_t *) arg;
    cc_store_t *store = self->store;
    free (self->batch_ack);
    self->batch_ack = NULL;
    self->batch_ack_size = 0;
    self->batch_nonce = 0;
    int64_t now = (int64_t) time (NULL);

    size_t limit = zlistx_size (self->pending);
    Certcast__AckEntry *entries = (Certcast__AckEntry *)
        zmalloc ((limit + 1) * sizeof (Certcast__AckEntry));
    Certcast__AckEntry **entry_list = (Certcast__AckEntry **)
        zmalloc ((limit + 1) * sizeof (Certcast__AckEntry *));
    size_t fresh = 0;
    int rc = 0;
    for (cc_agent_pending_t *pending =
             (cc_agent_pending_t *) zlistx_first (self->pending);
         pending && rc == 0;
         pending = (cc_agent_pending_t *) zlistx_next (self->pending)) {
        pending->fresh = false;
        pending->marker = 0;
        pending->collided = false;
        const char *id = cc_advisory_id (pending->advisory);
        uint32_t revision = cc_advisory_revision (pending->advisory);
        //  Already held, or a newer revision is: no rollback, no replay.
        uint32_t held = cc_inbox_latest (store, txn, id);
        if (held == revision)
            s_check_collision (self, txn, pending);
        if (held >= revision)
            continue;
        cc_inbox_record_t record = {
            .id = id, .revision = revision,
            .received_at = pending->received_at, .stream = pending->stream,
            .seq = pending->seq
        };
        record.signed_bytes = cc_advisory_bytes (pending->advisory,
                                                 &record.signed_size);
        rc = cc_inbox_put (store, txn, &record);
        if (rc == MDB_KEYEXIST || rc == EINVAL) {
            rc = 0;
            continue;
        }
        //  Expired on arrival: kept and acked, never handed over (see
        //  the header), so no marker to replay a hand-over from.
        if (rc == 0 && !pending->expired)
            rc = cc_inbox_handoff_add (store, txn, id, revision,
                                       &pending->marker);
        if (rc)
            break;
        pending->fresh = true;
        Certcast__AckEntry *entry = &entries [fresh];
        certcast__ack_entry__init (entry);
        entry->advisory_id = (char *) id;
        entry->revision = revision;
        entry->digest.data = (uint8_t *) cc_advisory_digest (pending->advisory);
        entry->digest.len = 32;
        entry->status = CERTCAST__ACK_STATUS__RECEIVED;
        entry->received_at = pending->received_at;
        entry_list [fresh++] = entry;
    }
    if (rc == 0)
        rc = cc_agent_streams_put_cursors (self, txn);
    for (uint64_t *nonce = (uint64_t *) zlistx_first (self->acked);
         nonce && rc == 0; nonce = (uint64_t *) zlistx_next (self->acked)) {
        rc = cc_inbox_outbox_delete (store, txn, *nonce);
        if (rc == MDB_NOTFOUND)
            rc = 0;             //  a repeated Acked
    }
    for (uint64_t *marker = (uint64_t *) zlistx_first (self->handed);
         marker && rc == 0; marker = (uint64_t *) zlistx_next (self->handed)) {
        rc = cc_inbox_handoff_delete (store, txn, *marker);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc == 0 && fresh > 0) {
        //  One signature covers the whole cycle.
        uint64_t nonce = 0;
        rc = cc_inbox_next_nonce (store, txn, &nonce);
        if (rc == 0) {
            Certcast__Ack ack = CERTCAST__ACK__INIT;
            ack.agent_key.data =
                (uint8_t *) cc_keys_sign_public (self->options.keys);
            ack.agent_key.len = 32;
            ack.time = now;
            ack.nonce = nonce;
            ack.n_entries = fresh;
            ack.entries = entry_list;
            //  main checked that our keys hold the secret
            self->batch_ack = cc_ledger_sign_ack (self->options.keys, &ack,
                                                  &self->batch_ack_size);
            rc = cc_inbox_outbox_put (store, txn, nonce, self->batch_ack,
                                      self->batch_ack_size);
            self->batch_nonce = nonce;
        }
    }
    free (entry_list);
    free (entries);
    return rc;
}

//  Remove the markers of finished hand-overs when no other commit came
//  along to carry them (see s_cycle_end).
static int
s_handoff_done (MDB_txn *txn, void *arg)
{
    self_t *self = (self_t *) arg;
    for (uint64_t *marker = (uint64_t *) zlistx_first (self->handed); marker;
         marker = (uint64_t *) zlistx_next (self->handed)) {
        int rc = cc_inbox_handoff_delete (self->store, txn, *marker);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
    }
    return 0;
}

static void
s_flush_handed (self_t *self)
{
    if (zlistx_size (self->handed) == 0)
        return;
    int rc = cc_store_write (self->store, s_handoff_done, self);
    if (rc == 0)
        zlistx_purge (self->handed);
    else {
        //  Harmless: the markers replay the hand-over on restart. Try
        //  again a flush interval later, not at once.
        self->handed_since = zclock_mono ();
        zsys_warning ("cannot clear handoff markers: %s", mdb_strerror (rc));
    }
}

static bool
s_cycle_dirty (self_t *self)
{
    if (zlistx_size (self->pending) || zlistx_size (self->acked))
        return true;
    return cc_agent_streams_dirty (self);
}

//  Give back what a burst left behind: free heap pages, and the pages of
//  the LMDB map the burst read (cc_store_drop_map_pages). Without this the
//  map's resident part grows with the inbox.
static void
s_trim (self_t *self)
{
    malloc_trim (0);
    cc_store_drop_map_pages (self->store);
}

//  A burst of advisories (a catch-up above all) leaves the heap with free
//  pages the agent will not need while idle: give them back once it has
//  been quiet for a moment, not during the burst (each arrival pushes the
//  trim later).
static void
s_trim_later (self_t *self, size_t advisories)
{
    self->untrimmed += advisories;
    if (self->untrimmed >= TRIM_AFTER) {
        self->untrimmed = 0;
        self->trim_at = zclock_mono () + TRIM_QUIET_MS;
    }
    else
    if (self->trim_at && advisories)
        self->trim_at = zclock_mono () + TRIM_QUIET_MS;
}

//  --------------------------------------------------------------------------
//  Hand-over (cc_handover: the thread, and why)

//  An advisory whose spool file could not be written (a full or broken
//  spool file system) is not lost: it is in the inbox, its marker stays
//  in the store (a restart replays it), and its file is tried again here,
//  every RESPOOL_FIRST_MS at first, backing off to RESPOOL_MAX_MS. Its
//  ack is not held back: the agent has received the advisory durably,
//  which is what RECEIVED says. The log names every file not written
//  (at each try) and counts those written late.
static void
s_respool_later (self_t *self, cc_handover_batch_t *batch, bool again)
{
    size_t count = cc_handover_batch_size (batch);
    if (!self->respool) {
        self->respool = cc_handover_batch_new ();
        cc_handover_batch_set_respool (self->respool);
    }
    size_t failed = cc_handover_batch_move_failed (batch, self->respool);
    if (again) {
        self->spool_waiting -= count - failed;
        self->respool_backoff = failed == 0? RESPOOL_FIRST_MS:
            self->respool_backoff * 2 > RESPOOL_MAX_MS? RESPOOL_MAX_MS:
            self->respool_backoff * 2;
        if (failed < count)
            zsys_notice ("spool: %zu advisories written late", count - failed);
    }
    else
        self->spool_waiting += failed;
    if (cc_handover_batch_size (self->respool) && !self->respool_at)
        self->respool_at = zclock_mono () + self->respool_backoff;
}

//  Send the spool files still to write to the thread, when due.
static void
s_respool (self_t *self, int64_t now)
{
    if (!self->respool_at || now < self->respool_at)
        return;
    self->respool_at = 0;
    if (self->respool && cc_handover_batch_size (self->respool))
        cc_handover_send (self->handover, &self->respool);
}

//  The thread's word on a batch. Its spool files are durable: only now
//  send its ack (its commands run meanwhile; see cc_handover.c for why
//  not after them). It came back handed over: count it and remember its
//  markers for the next commit to clear. False if nothing came (the wait
//  was interrupted: we are being stopped), so no caller loops on it; what
//  the thread still holds is replayed from its markers and its acks
//  resent from the outbox at the next start.
static bool
s_handover_done (self_t *self)
{
    bool done = false;
    cc_handover_batch_t *batch = cc_handover_recv (self->handover, &done);
    if (!batch)
        return false;
    uint64_t nonce = cc_handover_batch_nonce (batch);
    if (!done) {
        size_t ack_size = 0;
        const uint8_t *ack = cc_handover_batch_ack (batch, &ack_size);
        self->last_nonce = nonce;
        self->outbox_empty = false;
        s_send_ack (self, nonce, ack, ack_size);
        return true;
    }
    bool again = cc_handover_batch_is_respool (batch);
    size_t count = cc_handover_batch_size (batch);
    if (!again) {
        self->handed_over += count;
        //  Only the startup replay has no ack: received before the stop.
        if (nonce)
            self->received += count;
    }
    self->spool_failures += cc_handover_batch_spool_failures (batch);
    self->exec_failures += cc_handover_batch_exec_failures (batch);
    s_respool_later (self, batch, again);
    size_t fresh = cc_handover_batch_size (batch);
    for (size_t index = 0; index < fresh; index++) {
        //  Its command did not run (we are stopping): the marker stays,
        //  and the next start hands it over again.
        if (cc_handover_batch_exec_skipped (batch, index))
            continue;
        if (zlistx_size (self->handed) == 0)
            self->handed_since = zclock_mono ();
        uint64_t *marker = (uint64_t *) zmalloc (sizeof (uint64_t));
        *marker = cc_handover_batch_marker (batch, index);
        zlistx_add_end (self->handed, marker);
    }
    s_trim_later (self, fresh);
    cc_handover_batch_destroy (&batch);
    return true;
}

//  Pass the committed cycle to the hand-over thread. Past the backlog,
//  wait for batches to come back: memory stays bounded when the host's
//  disk is slower than the relay.
static void
s_hand_over (self_t *self)
{
    cc_handover_batch_t *batch = cc_handover_batch_new ();
    for (cc_agent_pending_t *pending =
             (cc_agent_pending_t *) zlistx_first (self->pending);
         pending; pending = (cc_agent_pending_t *) zlistx_next (self->pending))
        if (pending->fresh && pending->expired) {
            self->received++;
            self->expired++;
            zsys_notice ("advisory %s revision %" PRIu32 " on %s expired "
                         "before it arrived: not handed over (stored and "
                         "acked as received)",
                         cc_advisory_id (pending->advisory),
                         cc_advisory_revision (pending->advisory),
                         pending->stream);
        }
        else
        if (pending->fresh)
            cc_handover_batch_add (batch, &pending->advisory, pending->stream,
                                   pending->seq, pending->received_at,
                                   pending->marker);
        else
            self->duplicates++;
    zlistx_purge (self->pending);
    self->pending_bytes = 0;
    cc_handover_batch_set_ack (batch, self->batch_nonce, &self->batch_ack,
                               self->batch_ack_size);
    self->batch_nonce = 0;
    //  An ack covers fresh advisories. One that covers only expired ones
    //  still goes through the thread, so acks are sent in commit order.
    if (cc_handover_batch_nonce (batch) == 0) {
        assert (cc_handover_batch_size (batch) == 0);
        cc_handover_batch_destroy (&batch);
        return;
    }
    cc_handover_send (self->handover, &batch);
    while (cc_handover_backlogged (self->handover))
        if (!s_handover_done (self))
            break;
}

//  Every batch back (at shutdown).
static void
s_handover_drain (self_t *self)
{
    while (self->handover && cc_handover_waiting (self->handover) > 0)
        if (!s_handover_done (self))
            break;
}

//  The one commit point of a poll cycle; see the file header for why the
//  order is commit, spool, send the ack, run the commands, forget markers.
static void
s_cycle_end (self_t *self)
{
    cc_agent_verify (self);
    if (!s_cycle_dirty (self))
        return;
    int rc = cc_store_write (self->store, s_commit, self);
    if (rc) {
        //  Nothing of this cycle is stored: forget it and fall back to
        //  the committed cursors; the relay will serve it all again.
        self->commit_failures++;
        zsys_error ("commit failed: %s; %zu advisories will be fetched again",
                    mdb_strerror (rc), zlistx_size (self->pending));
        cc_agent_streams_rollback (self);
        zlistx_purge (self->pending);
        self->pending_bytes = 0;
        zlistx_purge (self->acked);
        free (self->batch_ack);
        self->batch_ack = NULL;
        self->batch_nonce = 0;
        return;
    }
    cc_agent_streams_committed (self);
    s_report_collisions (self);
    self->acks_confirmed += zlistx_size (self->acked);
    zlistx_purge (self->acked);
    //  This commit also cleared the markers of earlier hand-overs.
    zlistx_purge (self->handed);

    s_hand_over (self);
}


//  --------------------------------------------------------------------------
//  Housekeeping

//  Silence longer than this means the relay is gone: never sooner than
//  three of the relay's own heartbeat intervals.
static int64_t
s_dead_after (self_t *self)
{
    int64_t dead_after = self->options.dead_after_ms;
    if (dead_after < 3 * (int64_t) self->relay_heartbeat_ms)
        dead_after = 3 * (int64_t) self->relay_heartbeat_ms;
    return dead_after;
}

static int64_t
s_last_heard (self_t *self)
{
    return self->heard > self->created? self->heard: self->created;
}

//  A relay learns its streams from upstream only once the first advisory
//  of a sector exists; until we follow one, ask more often so that first
//  advisory is not held back by our hello interval.
static int64_t
s_hello_every (self_t *self)
{
    return !self->welcomed? HELLO_RETRY_MS
         : zhashx_size (self->streams) == 0? HELLO_EMPTY_MS
         : HELLO_EVERY_MS;
}

//  Timer work; every check compares with the clock, so calling it early
//  does nothing and the actor calls it after every poll.
static void
s_tick (self_t *self)
{
    int64_t now = zclock_mono ();
    if (zlistx_size (self->handed)
    &&  now - self->handed_since >= HANDED_FLUSH_MS)
        s_flush_handed (self);
    //  ZMTP heartbeats keep the TCP session honest, but a relay can also
    //  be wedged or the path half-open: if nothing at all was heard for
    //  dead_after, say so, rebuild both sockets and Hello again.
    int64_t last = s_last_heard (self);
    if (now - last > s_dead_after (self)) {
        if (!self->dead)
            zsys_warning ("relay %s silent for %" PRId64 "s, reconnecting",
                          self->relay_label, (now - last + 500) / 1000);
        else
        if (self->options.verbose)
            zsys_debug ("relay %s still silent, reconnecting",
                        self->relay_label);
        self->dead = true;
        self->reconnects++;
        s_destroy_sockets (self);
        s_build_sockets (self);
        return;
    }
    if (now - self->hello_sent >= s_hello_every (self))
        cc_agent_send_hello (self);
    cc_agent_streams_retry (self, now);
    if (self->welcomed && !self->outbox_empty && now >= self->next_resend) {
        s_resend (self);
        self->next_resend = now + self->options.ack_resend_ms;
    }
    if (self->trim_at && now >= self->trim_at) {
        s_trim (self);
        self->trim_at = 0;
    }
    s_respool (self, now);
}

static void
s_earliest (int64_t *deadline, int64_t candidate)
{
    if (candidate < *deadline)
        *deadline = candidate;
}

//  The next moment s_tick has work: the poller sleeps until then (or a
//  message) instead of waking on a fixed tick, which was most of the
//  agent's idle CPU. Mirrors the checks in s_tick.
static int64_t
s_next_deadline (self_t *self)
{
    int64_t deadline = s_last_heard (self) + s_dead_after (self) + 1;
    s_earliest (&deadline, self->hello_sent + s_hello_every (self));
    if (zlistx_size (self->handed))
        s_earliest (&deadline, self->handed_since + HANDED_FLUSH_MS);
    s_earliest (&deadline, cc_agent_streams_next_retry (self));
    if (self->welcomed && !self->outbox_empty)
        s_earliest (&deadline, self->next_resend);
    if (self->trim_at)
        s_earliest (&deadline, self->trim_at);
    if (self->respool_at)
        s_earliest (&deadline, self->respool_at);
    return deadline;
}


//  --------------------------------------------------------------------------
//  Pipe

static char *
s_status_json (self_t *self)
{
    size_t outbox = 0, inbox = 0;
    MDB_txn *txn;
    if (cc_store_read (self->store, &txn) == 0) {
        outbox = cc_inbox_outbox_count (self->store, txn);
        inbox = cc_inbox_count (self->store, txn);
        mdb_txn_abort (txn);
    }
    return zsys_sprintf (
        "{\"name\": \"%s\", \"relay\": \"%s\", \"connected\": %s, "
        "\"streams\": %zu, \"inbox\": %zu, \"outbox\": %zu, "
        "\"received\": %" PRIu64 ", \"refused\": %" PRIu64
        ", \"expired\": %" PRIu64 ", \"streams_ignored\": %" PRIu64
        ", \"replies_dropped\": %" PRIu64
        ", \"duplicates\": %" PRIu64 ", \"collisions\": %" PRIu64
        ", \"malformed\": %" PRIu64
        ", \"acks_sent\": %" PRIu64 ", \"acks_confirmed\": %" PRIu64
        ", \"fetches\": %" PRIu64 ", \"reconnects\": %" PRIu64
        ", \"commit_failures\": %" PRIu64 ", \"handed_over\": %" PRIu64
        ", \"spool_failures\": %" PRIu64 ", \"spool_waiting\": %" PRIu64
        ", \"exec_failures\": %" PRIu64 "}",
        self->name, self->relay_label,
        self->welcomed && !self->dead? "true": "false",
        zhashx_size (self->streams), inbox, outbox, self->received,
        self->refused, self->expired, self->streams_ignored,
        self->replies_dropped, self->duplicates, self->collisions,
        self->malformed, self->acks_sent,
        self->acks_confirmed, self->fetches, self->reconnects,
        self->commit_failures, self->handed_over, self->spool_failures,
        self->spool_waiting, self->exec_failures);
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
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "CURSOR")) {
        char *name = zmsg_popstr (request);
        uint64_t cursor = 0;
        MDB_txn *txn;
        if (name && cc_store_read (self->store, &txn) == 0) {
            cursor = cc_inbox_cursor (self->store, txn, name);
            mdb_txn_abort (txn);
        }
        zstr_sendf (self->pipe, "%" PRIu64, cursor);
        zstr_free (&name);
    }
    else
    if (streq (command, "STATUS")) {
        char *status = s_status_json (self);
        zstr_send (self->pipe, status);
        free (status);
    }
    else
    if (streq (command, "CONNECTED"))
        zstr_send (self->pipe, self->welcomed && !self->dead? "1": "0");
    else
    if (streq (command, "OUTBOX")) {
        size_t outbox = 0;
        MDB_txn *txn;
        if (cc_store_read (self->store, &txn) == 0) {
            outbox = cc_inbox_outbox_count (self->store, txn);
            mdb_txn_abort (txn);
        }
        zstr_sendf (self->pipe, "%zu", outbox);
    }
    else {
        zsys_error ("agent: unknown pipe command '%s'", command);
        zstr_send (self->pipe, "");
    }
    zstr_free (&command);
    zmsg_destroy (&request);
}


//  --------------------------------------------------------------------------
//  Actor

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        if (self->poller)
            s_destroy_sockets (self);
        zpoller_destroy (&self->poller);
        cc_handover_destroy (&self->handover);
        cc_handover_batch_destroy (&self->respool);
        zhashx_destroy (&self->errors_logged);
        zhashx_destroy (&self->sent);
        zlistx_destroy (&self->handed);
        zlistx_destroy (&self->acked);
        zlistx_destroy (&self->pending);
        zhashx_destroy (&self->streams);
        free (self->batch_ack);
        cc_handoff_destroy (&self->handoff);
        cc_pool_destroy (&self->pool);
        cc_store_destroy (&self->store);
        free (self->endpoint_control);
        free (self->endpoint_stream);
        free (self->relay_label);
        free (self->name);
        free (self->sector);
        free (self->data_dir);
        free (self->relay_key);
        free (self->relay_host);
        free (self);
        *self_p = NULL;
    }
}

static self_t *
s_self_new (zsock_t *pipe, const cc_agent_options_t *options)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->options = *options;
    self->relay_host = strdup (options->relay_host);
    self->relay_key = strdup (options->relay_key);
    self->data_dir = strdup (options->data_dir);
    self->name = strdup (options->name);
    memcpy (self->root_key, options->root_key, 32);
    if (self->options.heartbeat_ms <= 0)
        self->options.heartbeat_ms = 1000;
    if (self->options.ack_resend_ms <= 0)
        self->options.ack_resend_ms = 2000;
    if (self->options.dead_after_ms <= 0)
        self->options.dead_after_ms = 3 * self->options.heartbeat_ms;
    //  Copies of the optional strings are only needed during startup.
    self->options.relay_host = self->relay_host;
    self->options.relay_key = self->relay_key;
    self->options.data_dir = self->data_dir;
    self->options.name = self->name;
    self->options.spool_dir = NULL;
    self->options.exec_cmd = NULL;
    self->options.root_key = self->root_key;
    self->relay_label = zsys_sprintf ("%s:%d", options->relay_host,
                                      options->relay_port);
    self->endpoint_stream = zsys_sprintf ("tcp://%s:%d", options->relay_host,
                                          options->relay_port);
    self->endpoint_control = zsys_sprintf ("tcp://%s:%d", options->relay_host,
                                           options->relay_port + 1);
    self->streams = cc_agent_streams_new ();
    self->pending = zlistx_new ();
    zlistx_set_destructor (self->pending, cc_agent_pending_destroy);
    self->acked = zlistx_new ();
    zlistx_set_destructor (self->acked, s_nonce_destroy);
    self->handed = zlistx_new ();
    zlistx_set_destructor (self->handed, s_nonce_destroy);
    self->errors_logged = zhashx_new ();
    self->sent = zhashx_new ();
    //  Our sector is our key's (the one our relay's roster has for us):
    //  the only sector we follow and take advisories of.
    const char *sector = cc_agent_sector (options->keys);
    if (!sector) {
        zsys_error ("our key names no sector (certcast keygen --role agent "
                    "--sector S)");
        s_self_destroy (&self);
        return NULL;
    }
    self->sector = strdup (sector);

    self->store = cc_store_new (options->data_dir, 0);
    if (!self->store) {
        zsys_error ("--data %s: cannot open the agent store",
                    options->data_dir);
        s_self_destroy (&self);
        return NULL;
    }
    self->handoff = cc_handoff_new (options->spool_dir, options->exec_cmd);
    if (!self->handoff) {
        s_self_destroy (&self);
        return NULL;
    }
    MDB_txn *txn;
    if (cc_store_read (self->store, &txn) == 0) {
        self->last_nonce = cc_meta_get_u64 (self->store, txn, "nonce");
        mdb_txn_abort (txn);
    }
    self->resend_mark = self->last_nonce;
    self->respool = cc_handover_batch_new ();
    cc_handover_batch_set_respool (self->respool);
    self->respool_backoff = RESPOOL_FIRST_MS;
    //  What a stop or crash left unhanded goes to the thread first (see
    //  cc_handover.c for why not here).
    cc_handover_batch_t *replay = cc_handover_batch_new ();
    if (cc_handover_replay (self->store, self->root_key, replay)) {
        zsys_error ("--data %s: cannot replay pending hand-overs",
                    options->data_dir);
        cc_handover_batch_destroy (&replay);
        s_self_destroy (&self);
        return NULL;
    }
    //  Catch-up is bound by Ed25519 verification: use every core. The
    //  helper threads start with SIGINT and SIGTERM blocked, so a stop
    //  signal lands on a thread whose poll it interrupts (agent_main).
    //  From here on only the hand-over thread uses self->handoff.
    sigset_t stop_signals, old_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGINT);
    sigaddset (&stop_signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &stop_signals, &old_signals);
    self->pool = cc_pool_new (cc_pool_workers_default ());
    self->handover = cc_handover_new (self->handoff);
    pthread_sigmask (SIG_SETMASK, &old_signals, NULL);
    if (!self->pool || !self->handover) {
        zsys_error ("cannot start the verification and hand-over threads");
        cc_handover_batch_destroy (&replay);
        s_self_destroy (&self);
        return NULL;
    }
    if (cc_handover_batch_size (replay))
        cc_handover_send (self->handover, &replay);
    cc_handover_batch_destroy (&replay);
    self->poller = zpoller_new (self->pipe,
                                cc_handover_actor (self->handover), NULL);
    assert (self->poller);
    s_build_sockets (self);
    return self;
}

static void
s_agent_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const cc_agent_options_t *) args);
    zsock_signal (pipe, 0);
    zstr_send (pipe, self? "READY": "FAILED");
    if (!self) {
        //  Wait for the owner's $TERM so the pipe shuts down in order.
        char *command = zstr_recv (pipe);
        zstr_free (&command);
        OPENSSL_thread_stop ();
        return;
    }
    zsys_info ("agent %s following relay %s", self->name, self->relay_label);
    while (!self->terminated) {
        int64_t wait = s_next_deadline (self) - zclock_mono ();
        if (wait < 0)
            wait = 0;
        void *which = zpoller_wait (self->poller, (int) wait);
        if (zpoller_terminated (self->poller))
            break;
        if (which == self->pipe)
            s_handle_pipe (self);
        while (zsock_events (cc_handover_actor (self->handover)) & ZMQ_POLLIN)
            if (!s_handover_done (self))
                break;
        //  Drain both relay sockets whichever woke us: zpoller reports
        //  one reader at a time, and a long hand-over must not leave
        //  heartbeats unread (they are what proves the relay alive).
        s_handle_control (self);
        cc_agent_handle_stream (self);
        s_tick (self);
        s_cycle_end (self);
    }
    s_cycle_end (self);
    //  What the thread holds is handed over without its commands (one
    //  that hangs would hold the stop for a minute per advisory queued);
    //  their markers stay for the next start.
    cc_handoff_stop (self->handoff);
    s_handover_drain (self);
    s_flush_handed (self);
    s_self_destroy (&self);
    //  Free this thread's OpenSSL state now: the thread is detached and
    //  may still be exiting when main's atexit cleanup runs.
    OPENSSL_thread_stop ();
}


//  --------------------------------------------------------------------------
//  Public API

const char *
cc_agent_sector (cc_keys_t *keys)
{
    assert (keys);
    const char *sector = cc_keys_meta (keys, "sector");
    if (!sector || cc_config_name_problem (sector) || streq (sector, "all"))
        return NULL;
    return sector;
}

struct _cc_agent_t {
    zactor_t *actor;
};

cc_agent_t *
cc_agent_new (const cc_agent_options_t *options)
{
    assert (options);
    assert (options->relay_host && options->relay_key && options->data_dir
            && options->keys && options->root_key && options->name);
    assert (cc_keys_has_secret (options->keys));
    cc_agent_t *self = (cc_agent_t *) zmalloc (sizeof (cc_agent_t));
    self->actor = zactor_new (s_agent_actor, (void *) options);
    char *state = zstr_recv (self->actor);
    bool ready = state && streq (state, "READY");
    zstr_free (&state);
    if (!ready)
        cc_agent_destroy (&self);
    return self;
}

void
cc_agent_destroy (cc_agent_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_agent_t *self = *self_p;
        zactor_destroy (&self->actor);
        free (self);
        *self_p = NULL;
    }
}

zactor_t *
cc_agent_actor (cc_agent_t *self)
{
    assert (self);
    return self->actor;
}

uint64_t
cc_agent_cursor (cc_agent_t *self, const char *stream)
{
    assert (self && stream);
    zstr_sendm (self->actor, "CURSOR");
    zstr_send (self->actor, stream);
    char *reply = zstr_recv (self->actor);
    uint64_t cursor = reply? strtoull (reply, NULL, 10): 0;
    zstr_free (&reply);
    return cursor;
}

char *
cc_agent_status (cc_agent_t *self)
{
    assert (self);
    zstr_send (self->actor, "STATUS");
    return zstr_recv (self->actor);
}


//  --------------------------------------------------------------------------
//  Self-test: what the agent takes from its relay (the rest runs against
//  real daemons in tests/integration)

//  Queue the test advisory's bytes as a delivery on stream.
static void
s_test_queue (self_t *self, const uint8_t *bytes, size_t size,
              const char *stream, uint64_t seq)
{
    cc_agent_pending_t *pending =
        (cc_agent_pending_t *) zmalloc (sizeof (cc_agent_pending_t));
    pending->signed_bytes = (uint8_t *) zmalloc (size);
    memcpy (pending->signed_bytes, bytes, size);
    pending->signed_size = size;
    pending->stream = strdup (stream);
    pending->seq = seq;
    pending->handle = zlistx_add_end (self->pending, pending);
}

void
cc_agent_test (bool verbose)
{
    printf (" * cc_agent: ");

    //  Streams: ORIGIN/OUR-SECTOR only
    assert (cc_agent_stream_wanted ("national/banking", "banking"));
    assert (cc_agent_stream_wanted ("bank-cert-2/banking", "banking"));
    assert (!cc_agent_stream_wanted ("national/telecom", "banking"));
    assert (!cc_agent_stream_wanted ("national/banking-x", "banking"));
    assert (!cc_agent_stream_wanted ("national/bankin", "banking"));
    assert (!cc_agent_stream_wanted ("/banking", "banking"));
    assert (!cc_agent_stream_wanted ("National/banking", "banking"));
    assert (!cc_agent_stream_wanted ("a/b/banking", "banking"));
    assert (!cc_agent_stream_wanted ("$alive", "banking"));
    assert (!cc_agent_stream_wanted ("banking", "banking"));
    assert (!cc_agent_stream_wanted (NULL, "banking"));
    assert (!cc_agent_stream_wanted ("national/banking", NULL));
    char origin [80];
    memset (origin, 'o', 63);
    strcpy (origin + 63, "/banking");
    assert (cc_agent_stream_wanted (origin, "banking"));
    memset (origin, 'o', 64);
    strcpy (origin + 64, "/banking");
    assert (!cc_agent_stream_wanted (origin, "banking"));

    //  The sector comes from the key
    const char *sectors [] = { NULL, "all", "Banking", "", "banking" };
    for (size_t index = 0; index < 5; index++) {
        cc_keys_t *keys = cc_keys_generate ();
        if (sectors [index])
            cc_keys_set_meta (keys, "sector", sectors [index]);
        const char *sector = cc_agent_sector (keys);
        assert (index == 4? sector && streq (sector, "banking"): !sector);
        cc_keys_destroy (&keys);
    }

    //  A genuine advisory for banking and telecom is taken by a banking
    //  agent on its own stream only; not by a power agent at all
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pending = zlistx_new ();
    zlistx_set_destructor (self->pending, cc_agent_pending_destroy);
    self->pool = cc_pool_new (1);
    cc_advisory_t *advisory = cc_handoff_test_advisory (
        "PK-TEST-1", "Scope", (const uint8_t *) "body", 4, self->root_key);
    size_t size = 0;
    const uint8_t *bytes = cc_advisory_bytes (advisory, &size);
    self->sector = strdup ("banking");
    s_test_queue (self, bytes, size, "national/banking", 1);
    s_test_queue (self, bytes, size, "national/telecom", 1);
    s_test_queue (self, bytes, size, "national/power", 1);
    cc_agent_verify (self);
    assert (zlistx_size (self->pending) == 1);
    cc_agent_pending_t *kept = (cc_agent_pending_t *) zlistx_first (
        self->pending);
    assert (streq (kept->stream, "national/banking") && kept->advisory);
    assert (!kept->expired);
    assert (self->refused == 2);
    zlistx_purge (self->pending);
    free (self->sector);
    self->sector = strdup ("power");
    s_test_queue (self, bytes, size, "national/power", 1);
    cc_agent_verify (self);
    assert (zlistx_size (self->pending) == 0);
    assert (self->refused == 3);

    //  A cycle is full at BATCH_MAX advisories, or sooner at BATCH_BYTES
    //  of them (the stream and control sockets stop draining, a fetch
    //  reply's rest is fetched again)
    assert (!cc_agent_batch_full (self));
    self->pending_bytes = BATCH_BYTES - 1;
    assert (!cc_agent_batch_full (self));
    self->pending_bytes = BATCH_BYTES;
    assert (cc_agent_batch_full (self));
    self->pending_bytes = 0;
    for (uint64_t seq = 1; seq <= BATCH_MAX; seq++) {
        assert (!cc_agent_batch_full (self));
        s_test_queue (self, bytes, size, "national/power", seq);
    }
    assert (cc_agent_batch_full (self));
    zlistx_purge (self->pending);

    cc_advisory_destroy (&advisory);
    free (self->sector);
    cc_pool_destroy (&self->pool);
    zlistx_destroy (&self->pending);
    free (self);
    printf ("OK\n");
}
