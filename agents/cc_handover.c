/*  cc_handover.c - the agent's hand-over threads and the startup replay of
    interrupted hand-overs (see cc_handover.h for why threads).

    The thread receives "BATCH" + pointer on its pipe, answers "SPOOLED" +
    the same pointer once the batch's spool files are durable (if it has
    an ack to send), passes it to the commands' thread the same way, and
    answers "DONE" + the pointer once that passed it back; a batch belongs
    to whoever holds the pointer, but for its ack, which the agent reads
    between SPOOLED and DONE and nobody writes. cc_handover_t counts what
    is on its way.
*/
#include "cc_agents.h"

#define HANDOVER_GROUP      16      //  batches handed over as one at most
#define HANDOVER_BACKLOG    1024    //  committed advisories awaiting hand-over
//  ... and their signed bytes: an advisory may be 1 MiB, and a backlog of
//  1,024 of them (a hostile issuer's, or a CSAF-heavy month caught up)
//  held a GiB and more in the agent (its decoded copy besides).
#define HANDOVER_BACKLOG_BYTES  (32 * 1024 * 1024)

struct _cc_handover_batch_t {
    cc_handoff_item_t *items;       //  advisory and stream owned
    uint64_t *markers;              //  handoff marker of each item
    size_t count;
    size_t capacity;
    size_t bytes;                   //  signed bytes of its advisories
    uint64_t nonce;                 //  the batch's ack, 0: none
    uint8_t *ack;                   //  its SignedAck bytes (owned)
    size_t ack_size;
    uint64_t spool_failures;        //  set by the thread
    uint64_t exec_failures;         //  set by the thread
    bool respool;                   //  spool files only, handed over before
};

struct _cc_handover_t {
    zactor_t *actor;                //  the hand-over thread
    size_t batches;                 //  batches it has not returned yet
    size_t advisories;              //  their advisories
    size_t bytes;                   //  and their signed bytes
};


//  --------------------------------------------------------------------------
//  Batch

cc_handover_batch_t *
cc_handover_batch_new (void)
{
    return (cc_handover_batch_t *) zmalloc (sizeof (cc_handover_batch_t));
}

void
cc_handover_batch_destroy (cc_handover_batch_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_handover_batch_t *self = *self_p;
        for (size_t index = 0; index < self->count; index++) {
            cc_advisory_destroy (&self->items [index].advisory);
            free ((char *) self->items [index].stream);
        }
        free (self->items);
        free (self->markers);
        free (self->ack);
        free (self);
        *self_p = NULL;
    }
}

void
cc_handover_batch_add (cc_handover_batch_t *self, cc_advisory_t **advisory_p,
                       const char *stream, uint64_t seq, int64_t received_at,
                       uint64_t marker)
{
    assert (self && advisory_p && *advisory_p && stream);
    if (self->count == self->capacity) {
        self->capacity = self->capacity? self->capacity * 2: 16;
        self->items = (cc_handoff_item_t *) realloc (
            self->items, self->capacity * sizeof (cc_handoff_item_t));
        self->markers = (uint64_t *) realloc (
            self->markers, self->capacity * sizeof (uint64_t));
        assert (self->items && self->markers);
    }
    self->items [self->count] = (cc_handoff_item_t) {
        *advisory_p, strdup (stream), seq, received_at, false, false
    };
    self->markers [self->count] = marker;
    self->count++;
    size_t size = 0;
    cc_advisory_bytes (*advisory_p, &size);
    self->bytes += size;
    *advisory_p = NULL;
}

void
cc_handover_batch_set_ack (cc_handover_batch_t *self, uint64_t nonce,
                           uint8_t **ack_p, size_t ack_size)
{
    assert (self && ack_p);
    free (self->ack);
    self->nonce = nonce;
    self->ack = *ack_p;
    self->ack_size = ack_size;
    *ack_p = NULL;
}

size_t
cc_handover_batch_size (cc_handover_batch_t *self)
{
    assert (self);
    return self->count;
}

uint64_t
cc_handover_batch_marker (cc_handover_batch_t *self, size_t index)
{
    assert (self && index < self->count);
    return self->markers [index];
}

uint64_t
cc_handover_batch_nonce (cc_handover_batch_t *self)
{
    assert (self);
    return self->nonce;
}

const uint8_t *
cc_handover_batch_ack (cc_handover_batch_t *self, size_t *size)
{
    assert (self && size);
    *size = self->ack_size;
    return self->ack;
}

void
cc_handover_batch_set_respool (cc_handover_batch_t *self)
{
    assert (self);
    self->respool = true;
}

bool
cc_handover_batch_is_respool (cc_handover_batch_t *self)
{
    assert (self);
    return self->respool;
}

bool
cc_handover_batch_spool_failed (cc_handover_batch_t *self, size_t index)
{
    assert (self && index < self->count);
    return self->items [index].spool_failed;
}

bool
cc_handover_batch_exec_skipped (cc_handover_batch_t *self, size_t index)
{
    assert (self && index < self->count);
    return self->items [index].exec_skipped;
}

size_t
cc_handover_batch_move_failed (cc_handover_batch_t *self,
                               cc_handover_batch_t *into)
{
    assert (self && into && self != into);
    size_t kept = 0, moved = 0;
    for (size_t index = 0; index < self->count; index++) {
        cc_handoff_item_t *item = &self->items [index];
        if (item->spool_failed) {
            size_t size = 0;
            cc_advisory_bytes (item->advisory, &size);
            self->bytes -= size;
            cc_handover_batch_add (into, &item->advisory, item->stream,
                                   item->seq, item->received_at,
                                   self->markers [index]);
            into->items [into->count - 1].spool_failed = true;
            free ((char *) item->stream);
            moved++;
        }
        else {
            self->items [kept] = *item;
            self->markers [kept] = self->markers [index];
            kept++;
        }
    }
    self->count = kept;
    return moved;
}

uint64_t
cc_handover_batch_spool_failures (cc_handover_batch_t *self)
{
    assert (self);
    return self->spool_failures;
}

uint64_t
cc_handover_batch_exec_failures (cc_handover_batch_t *self)
{
    assert (self);
    return self->exec_failures;
}


//  --------------------------------------------------------------------------
//  The thread

//  Two stages, in commit order: this thread writes a group of batches'
//  log lines and spool files, says each batch's ack may go ("SPOOLED"),
//  and passes the batches to a second thread that runs their commands
//  and passes them back ("DONE"). An ack says RECEIVED, which the inbox
//  commit made true; when one thread also ran the commands, a command
//  that hangs (the host's SIEM down: a minute each, one at a time) held
//  every later ack behind it, and the national ledger showed the
//  organisation missing for minutes per advisory, hours in a catch-up,
//  although its agent had them all. The markers still wait for the
//  commands ("DONE"), so a command a stop or crash cut short runs again.
//  Without a command there is no second thread.

//  Spool a group of batches as one: one set of spool syncs. Only batches
//  of one kind (respool or not) make a group. Which items failed goes
//  back to each batch; the counts to the first.
static void
s_handover_spool (cc_handoff_t *handoff, cc_handover_batch_t **group,
                  size_t batches, size_t advisories)
{
    cc_handoff_item_t *items = (cc_handoff_item_t *) zmalloc (
        (advisories + 1) * sizeof (cc_handoff_item_t));
    size_t count = 0;
    for (size_t index = 0; index < batches; index++) {
        memcpy (items + count, group [index]->items,
                group [index]->count * sizeof (cc_handoff_item_t));
        count += group [index]->count;
    }
    group [0]->spool_failures = group [0]->respool?
        cc_handoff_respool_batch (handoff, items, count):
        cc_handoff_spool_batch (handoff, items, count);
    count = 0;
    for (size_t index = 0; index < batches; index++) {
        memcpy (group [index]->items, items + count,
                group [index]->count * sizeof (cc_handoff_item_t));
        count += group [index]->count;
    }
    free (items);
}

//  Run a spooled batch's commands.
static void
s_handover_exec (cc_handoff_t *handoff, cc_handover_batch_t *batch)
{
    uint64_t exec_before = cc_handoff_exec_failures (handoff);
    cc_handoff_exec_batch (handoff, batch->items, batch->count);
    batch->exec_failures = cc_handoff_exec_failures (handoff) - exec_before;
}

//  One batch from sock, sent as what ("BATCH", "DONE"); NULL and
//  *terminated on $TERM.
static cc_handover_batch_t *
s_handover_take (zsock_t *sock, const char *what, bool *terminated)
{
    char *command = NULL;
    void *batch = NULL;
    if (zsock_recv (sock, "sp", &command, &batch) || !command
    ||  !streq (command, what) || !batch) {
        *terminated = true;
        batch = NULL;
    }
    zstr_free (&command);
    return (cc_handover_batch_t *) batch;
}

//  The second stage: commands, batch after batch.
static void
s_commands_actor (zsock_t *pipe, void *args)
{
    cc_handoff_t *handoff = (cc_handoff_t *) args;
    zsock_signal (pipe, 0);
    bool terminated = false;
    while (!terminated) {
        cc_handover_batch_t *batch = s_handover_take (pipe, "BATCH",
                                                      &terminated);
        if (batch) {
            s_handover_exec (handoff, batch);
            zsock_send (pipe, "sp", "DONE", batch);
        }
    }
    OPENSSL_thread_stop ();
}

//  Spool the batches waiting on the pipe (one, and those queued behind
//  it), let their acks go, and pass them on to the commands (or back, if
//  there are none). A respool batch goes alone, after the group before
//  it, and straight back: its commands ran the first time.
static void
s_handover_batches (cc_handoff_t *handoff, zsock_t *pipe, zactor_t *commands,
                    bool *terminated)
{
    cc_handover_batch_t *group [HANDOVER_GROUP];
    cc_handover_batch_t *respool = NULL;
    size_t batches = 0, advisories = 0, bytes = 0;
    do {
        cc_handover_batch_t *batch = s_handover_take (pipe, "BATCH",
                                                      terminated);
        if (!batch)
            break;
        if (batch->respool) {
            respool = batch;
            break;
        }
        group [batches++] = batch;
        advisories += batch->count;
        bytes += batch->bytes;
    } while (batches < HANDOVER_GROUP && advisories < HANDOVER_BACKLOG
          && bytes < HANDOVER_BACKLOG_BYTES
          && (zsock_events (pipe) & ZMQ_POLLIN));
    if (batches)
        s_handover_spool (handoff, group, batches, advisories);
    for (size_t index = 0; index < batches; index++) {
        if (group [index]->nonce)
            zsock_send (pipe, "sp", "SPOOLED", group [index]);
        if (commands)
            zsock_send (commands, "sp", "BATCH", group [index]);
        else {
            s_handover_exec (handoff, group [index]);
            zsock_send (pipe, "sp", "DONE", group [index]);
        }
    }
    if (respool) {
        s_handover_spool (handoff, &respool, 1, respool->count);
        zsock_send (pipe, "sp", "DONE", respool);
    }
}

static void
s_handover_actor (zsock_t *pipe, void *args)
{
    cc_handoff_t *handoff = (cc_handoff_t *) args;
    zactor_t *commands = cc_handoff_has_command (handoff)?
        zactor_new (s_commands_actor, handoff): NULL;
    zpoller_t *poller = zpoller_new (pipe, commands, NULL);
    assert (poller);
    //  Only $TERM ends it: the agent drains it after a stop signal.
    zpoller_set_nonstop (poller, true);
    zsock_signal (pipe, 0);
    bool terminated = false;
    while (!terminated) {
        void *which = zpoller_wait (poller, -1);
        if (!which) {
            if (zpoller_terminated (poller))
                break;
            continue;
        }
        if (which == pipe)
            s_handover_batches (handoff, pipe, commands, &terminated);
        //  Batches whose commands ran: back to the agent, all of them
        //  (a busy pipe must not keep them from it).
        while (!terminated && commands
           &&  (zsock_events (zactor_sock (commands)) & ZMQ_POLLIN)) {
            cc_handover_batch_t *batch = s_handover_take (
                zactor_sock (commands), "DONE", &terminated);
            if (batch)
                zsock_send (pipe, "sp", "DONE", batch);
        }
    }
    zpoller_destroy (&poller);
    zactor_destroy (&commands);
    OPENSSL_thread_stop ();
}

cc_handover_t *
cc_handover_new (cc_handoff_t *handoff)
{
    assert (handoff);
    cc_handover_t *self = (cc_handover_t *) zmalloc (sizeof (cc_handover_t));
    self->actor = zactor_new (s_handover_actor, handoff);
    if (!self->actor)
        cc_handover_destroy (&self);
    return self;
}

void
cc_handover_destroy (cc_handover_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_handover_t *self = *self_p;
        zactor_destroy (&self->actor);
        free (self);
        *self_p = NULL;
    }
}

zactor_t *
cc_handover_actor (cc_handover_t *self)
{
    assert (self);
    return self->actor;
}

void
cc_handover_send (cc_handover_t *self, cc_handover_batch_t **batch_p)
{
    assert (self && batch_p && *batch_p);
    self->batches++;
    self->advisories += (*batch_p)->count;
    self->bytes += (*batch_p)->bytes;
    zsock_send (self->actor, "sp", "BATCH", *batch_p);
    *batch_p = NULL;
}

cc_handover_batch_t *
cc_handover_recv (cc_handover_t *self, bool *done)
{
    assert (self && done);
    char *command = NULL;
    void *pointer = NULL;
    int rc = zsock_recv (self->actor, "sp", &command, &pointer);
    *done = command && streq (command, "DONE");
    zstr_free (&command);
    cc_handover_batch_t *batch = (cc_handover_batch_t *) pointer;
    if (rc || !batch)
        return NULL;
    if (*done) {
        self->batches--;
        self->advisories -= batch->count;
        self->bytes -= batch->bytes;
    }
    return batch;
}

size_t
cc_handover_waiting (cc_handover_t *self)
{
    assert (self);
    return self->batches;
}

bool
cc_handover_backlogged (cc_handover_t *self)
{
    assert (self);
    return self->advisories > HANDOVER_BACKLOG
        || self->bytes > HANDOVER_BACKLOG_BYTES
        || self->batches > HANDOVER_GROUP * 4;
}


//  --------------------------------------------------------------------------
//  Startup: replay hand-overs a stop or crash interrupted
//
//  The replay is a batch for the thread like any other, sent before the
//  first commit's, not a hand-over done while the agent starts: a command
//  that hangs (the host's SIEM down) held the start for a minute per
//  marker, with no relay link, no new advisory taken and no stop obeyed,
//  and the commands it killed then lost their markers. On the thread a
//  stop kills a replayed command at once and keeps its marker, and the
//  agent takes and acks new advisories while the replay runs.

typedef struct {
    uint64_t marker;
    char *id;
    char *stream;
    uint64_t seq;
    int64_t received_at;
    zchunk_t *signed_bytes;
    bool dropped;                   //  not handed over: marker goes
} s_replay_t;

static void
s_replay_destroy (void **item)
{
    s_replay_t *replay = (s_replay_t *) *item;
    if (replay) {
        free (replay->id);
        free (replay->stream);
        zchunk_destroy (&replay->signed_bytes);
        free (replay);
        *item = NULL;
    }
}

static void
s_replay_collect (uint64_t marker, const cc_inbox_record_t *record, void *arg)
{
    s_replay_t *replay = (s_replay_t *) zmalloc (sizeof (s_replay_t));
    replay->marker = marker;
    replay->id = strdup (record->id);
    replay->stream = strdup (record->stream);
    replay->seq = record->seq;
    replay->received_at = record->received_at;
    replay->signed_bytes = zchunk_new (record->signed_bytes,
                                       record->signed_size);
    zlistx_add_end ((zlistx_t *) arg, replay);
}

typedef struct {
    cc_store_t *store;
    zlistx_t *replays;
} s_replay_done_t;

//  Remove the markers of what is not handed over: it never will be.
static int
s_replay_done (MDB_txn *txn, void *arg)
{
    s_replay_done_t *done = (s_replay_done_t *) arg;
    for (s_replay_t *replay = (s_replay_t *) zlistx_first (done->replays);
         replay; replay = (s_replay_t *) zlistx_next (done->replays)) {
        if (!replay->dropped)
            continue;
        int rc = cc_inbox_handoff_delete (done->store, txn, replay->marker);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
    }
    return 0;
}

//  Verify each again (the inbox is trusted no more than the wire) and add
//  those that verify to batch, with their markers, in marker order. One
//  that expired since it arrived (the agent was stopped mid-hand-over and
//  stayed down) is not handed over, as one that arrived expired is not:
//  a command acting on an instruction past its end date does more harm
//  than good. Returns how many were dropped.
static size_t
s_replay_verify (const uint8_t *root_key, zlistx_t *replays,
                 cc_handover_batch_t *batch)
{
    size_t dropped = 0;
    int64_t now = (int64_t) time (NULL);
    for (s_replay_t *replay = (s_replay_t *) zlistx_first (replays);
         replay; replay = (s_replay_t *) zlistx_next (replays)) {
        int code = 0;
        const char *reason = NULL;
        cc_advisory_t *advisory = cc_advisory_open (
            zchunk_data (replay->signed_bytes),
            zchunk_size (replay->signed_bytes), root_key, now,
            CC_AT_DELIVERY, &code, &reason);
        if (advisory && cc_advisory_expired (advisory, now)) {
            zsys_notice ("advisory %s revision %" PRIu32 " expired since it "
                         "arrived: not handed over", replay->id,
                         cc_advisory_revision (advisory));
            cc_advisory_destroy (&advisory);
            replay->dropped = true;
        }
        else
        if (advisory)
            cc_handover_batch_add (batch, &advisory, replay->stream,
                                   replay->seq, replay->received_at,
                                   replay->marker);
        else {
            zsys_warning ("inbox %s no longer verifies (%s); not handed "
                          "over", replay->id, reason? reason: "?");
            replay->dropped = true;
        }
        dropped += replay->dropped;
    }
    return dropped;
}

int
cc_handover_replay (cc_store_t *store, const uint8_t *root_key,
                    cc_handover_batch_t *batch)
{
    assert (store && root_key && batch);
    assert (!batch->respool && batch->nonce == 0);
    zlistx_t *replays = zlistx_new ();
    zlistx_set_destructor (replays, s_replay_destroy);
    //  Copy out first: a read transaction must stay short.
    MDB_txn *txn;
    int rc = cc_store_read (store, &txn);
    if (rc == 0) {
        if (cc_inbox_handoff_each (store, txn, s_replay_collect, replays) < 0)
            rc = -1;
        mdb_txn_abort (txn);
    }
    if (rc == 0 && zlistx_size (replays)) {
        zsys_notice ("replaying %zu hand-overs interrupted by a stop",
                     zlistx_size (replays));
        if (s_replay_verify (root_key, replays, batch)) {
            s_replay_done_t done = { store, replays };
            rc = cc_store_write (store, s_replay_done, &done);
        }
    }
    zlistx_destroy (&replays);
    return rc;
}


//  --------------------------------------------------------------------------
//  Self-test

typedef struct {
    cc_store_t *store;
    cc_advisory_t **advisories;
    size_t count;
} s_test_put_t;

//  Commit advisories to the inbox with a handoff marker each, as an agent
//  that stopped before handing them over left them.
static int
s_test_put (MDB_txn *txn, void *arg)
{
    s_test_put_t *put = (s_test_put_t *) arg;
    for (size_t index = 0; index < put->count; index++) {
        cc_inbox_record_t record = {
            .id = cc_advisory_id (put->advisories [index]),
            .revision = cc_advisory_revision (put->advisories [index]),
            .received_at = 1700000000, .stream = "national/banking",
            .seq = index + 1
        };
        record.signed_bytes = cc_advisory_bytes (put->advisories [index],
                                                 &record.signed_size);
        uint64_t marker = 0;
        int rc = cc_inbox_put (put->store, txn, &record);
        if (rc == 0)
            rc = cc_inbox_handoff_add (put->store, txn, record.id,
                                       record.revision, &marker);
        if (rc)
            return rc;
    }
    return 0;
}

typedef struct {
    cc_store_t *store;
    uint64_t marker;
} s_test_forget_t;

//  Clear a marker, as the agent's next commit does after a hand-over.
static int
s_test_forget (MDB_txn *txn, void *arg)
{
    s_test_forget_t *forget = (s_test_forget_t *) arg;
    return cc_inbox_handoff_delete (forget->store, txn, forget->marker);
}

static void
s_test_count (uint64_t marker, const cc_inbox_record_t *record, void *arg)
{
    (*(size_t *) arg)++;
}

static size_t
s_test_markers (cc_store_t *store)
{
    size_t count = 0;
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_inbox_handoff_each (store, txn, s_test_count, &count) >= 0);
    mdb_txn_abort (txn);
    return count;
}

static bool
s_test_spooled (const char *spool, const char *id)
{
    char *path = zsys_sprintf ("%s/%s-r2.json", spool, id);
    bool exists = zsys_file_exists (path);
    free (path);
    return exists;
}

void
cc_handover_test (bool verbose)
{
    printf (" * cc_handover: ");
    char dir [] = "/tmp/cc_handover_test.XXXXXX";
    assert (mkdtemp (dir));
    char *data = zsys_sprintf ("%s/data", dir);
    char *spool = zsys_sprintf ("%s/spool", dir);
    cc_store_t *store = cc_store_new (data, 0);
    assert (store);
    cc_handoff_t *handoff = cc_handoff_new (spool, NULL);
    assert (handoff);
    const uint8_t body [] = "patch now";

    //  Replay: what verifies comes back as a batch with its marker, not
    //  handed over yet (the thread does that); the marker of an advisory
    //  signed under another root is cleared.
    uint8_t root_key [32];
    cc_advisory_t *stored [2] = {
        cc_handoff_test_advisory ("PK-REPLAY-1", "replayed", body,
                                  sizeof body - 1, root_key),
        cc_handoff_test_advisory ("PK-REPLAY-2", "other root", body,
                                  sizeof body - 1, NULL)
    };
    s_test_put_t put = { store, stored, 2 };
    assert (cc_store_write (store, s_test_put, &put) == 0);
    assert (s_test_markers (store) == 2);
    cc_handover_batch_t *replay = cc_handover_batch_new ();
    assert (cc_handover_replay (store, root_key, replay) == 0);
    assert (cc_handover_batch_size (replay) == 1);
    assert (cc_handover_batch_nonce (replay) == 0);
    uint64_t replay_marker = cc_handover_batch_marker (replay, 0);
    assert (s_test_markers (store) == 1);
    assert (!s_test_spooled (spool, "PK-REPLAY-1"));
    assert (cc_handoff_delivered (handoff) == 0);
    cc_advisory_destroy (&stored [0]);
    cc_advisory_destroy (&stored [1]);

    //  The thread hands the replay over like any batch; into a spool that
    //  is gone, it comes back failed, to be spooled again (below).
    cc_handover_t *handover = cc_handover_new (handoff);
    assert (handover);
    char *moved = zsys_sprintf ("%s.moved", spool);
    assert (rename (spool, moved) == 0);
    cc_handover_send (handover, &replay);
    bool done = false;
    cc_handover_batch_t *back = cc_handover_recv (handover, &done);
    assert (rename (moved, spool) == 0);
    zstr_free (&moved);
    assert (back && done && !cc_handover_batch_is_respool (back));
    assert (cc_handover_batch_size (back) == 1);
    assert (cc_handover_batch_marker (back, 0) == replay_marker);
    assert (cc_handover_batch_spool_failed (back, 0));
    assert (!s_test_spooled (spool, "PK-REPLAY-1"));
    cc_handover_batch_t *respool = cc_handover_batch_new ();
    cc_handover_batch_set_respool (respool);
    assert (cc_handover_batch_is_respool (respool));
    assert (cc_handover_batch_move_failed (back, respool) == 1);
    cc_handover_batch_destroy (&back);

    //  The thread: each batch's ack may go once its files are spooled,
    //  and the batches come back in order, with markers and ack intact.
    size_t batches = 5;
    for (size_t index = 0; index < batches; index++) {
        cc_handover_batch_t *batch = cc_handover_batch_new ();
        for (size_t item = 0; item < index + 1; item++) {
            char id [64];
            snprintf (id, sizeof id, "PK-THREAD-%zu-%zu", index, item);
            cc_advisory_t *advisory = cc_handoff_test_advisory (
                id, "threaded", body, sizeof body - 1, NULL);
            cc_handover_batch_add (batch, &advisory, "national/banking",
                                   item + 1, 1700000000, 100 * index + item);
            assert (advisory == NULL);
        }
        uint8_t *ack = (uint8_t *) zsys_sprintf ("ack %zu", index);
        size_t ack_size = strlen ((char *) ack) + 1;
        cc_handover_batch_set_ack (batch, index + 1, &ack, ack_size);
        assert (ack == NULL);
        cc_handover_send (handover, &batch);
        assert (batch == NULL);
    }
    assert (cc_handover_waiting (handover) == batches);
    assert (!cc_handover_backlogged (handover));
    size_t spooled = 0;
    for (size_t index = 0; index < batches; index++) {
        cc_handover_batch_t *batch = cc_handover_recv (handover, &done);
        while (batch && !done) {
            //  Acks in commit order, each batch's files on disk by then.
            assert (cc_handover_batch_nonce (batch) == ++spooled);
            for (size_t item = 0; item < spooled; item++) {
                char id [64];
                snprintf (id, sizeof id, "PK-THREAD-%zu-%zu", spooled - 1,
                          item);
                assert (s_test_spooled (spool, id));
            }
            batch = cc_handover_recv (handover, &done);
        }
        assert (batch && spooled > index);
        assert (cc_handover_batch_nonce (batch) == index + 1);
        size_t ack_size = 0;
        char *expected = zsys_sprintf ("ack %zu", index);
        assert (streq ((const char *) cc_handover_batch_ack (batch,
                                                              &ack_size),
                       expected));
        free (expected);
        assert (cc_handover_batch_size (batch) == index + 1);
        for (size_t item = 0; item < index + 1; item++) {
            assert (cc_handover_batch_marker (batch, item)
                    == 100 * index + item);
            char id [64];
            snprintf (id, sizeof id, "PK-THREAD-%zu-%zu", index, item);
            assert (s_test_spooled (spool, id));
        }
        assert (cc_handover_batch_spool_failures (batch) == 0);
        assert (cc_handover_batch_exec_failures (batch) == 0);
        cc_handover_batch_destroy (&batch);
        cc_handover_batch_destroy (&batch);
    }
    assert (spooled == batches);
    assert (cc_handover_waiting (handover) == 0);

    //  The respool batch from the replay: the file only, written now that
    //  the spool is back; nothing is left failed, so nothing moves.
    cc_handover_send (handover, &respool);
    assert (respool == NULL);
    back = cc_handover_recv (handover, &done);
    assert (back && done && cc_handover_batch_is_respool (back));
    assert (cc_handover_batch_size (back) == 1);
    assert (!cc_handover_batch_spool_failed (back, 0));
    assert (s_test_spooled (spool, "PK-REPLAY-1"));
    cc_handover_batch_t *still = cc_handover_batch_new ();
    assert (cc_handover_batch_move_failed (back, still) == 0);
    assert (cc_handover_batch_size (back) == 1);
    cc_handover_batch_destroy (&still);
    cc_handover_batch_destroy (&back);
    cc_handover_destroy (&handover);
    cc_handover_destroy (&handover);
    assert (cc_handoff_delivered (handoff) == 1 + 15);   //  replay and batches
    cc_handoff_destroy (&handoff);
    //  Once the agent has cleared its marker, a start replays nothing.
    s_test_forget_t forget = { store, replay_marker };
    assert (cc_store_write (store, s_test_forget, &forget) == 0);
    replay = cc_handover_batch_new ();
    assert (cc_handover_replay (store, root_key, replay) == 0);
    assert (cc_handover_batch_size (replay) == 0);
    cc_handover_batch_destroy (&replay);
    //  One that expired since it arrived is not handed over again, and
    //  its marker goes.
    stored [0] = cc_handoff_test_advisory_expired ("PK-REPLAY-OLD",
                                                   root_key);
    put.count = 1;
    assert (cc_store_write (store, s_test_put, &put) == 0);
    assert (s_test_markers (store) == 1);
    replay = cc_handover_batch_new ();
    assert (cc_handover_replay (store, root_key, replay) == 0);
    assert (cc_handover_batch_size (replay) == 0);
    assert (s_test_markers (store) == 0);
    cc_handover_batch_destroy (&replay);
    cc_advisory_destroy (&stored [0]);


    //  A command that has not finished holds no ack: each batch's may go
    //  once its file is spooled, the later batch's too, and the batches
    //  come back once their commands ran.
    char *go = zsys_sprintf ("%s/go", dir);
    char *command = zsys_sprintf (
        "cat > /dev/null; while [ ! -e '%s' ]; do sleep 0.01; done", go);
    handoff = cc_handoff_new (spool, command);
    assert (handoff);
    handover = cc_handover_new (handoff);
    assert (handover);
    for (uint64_t nonce = 7; nonce <= 8; nonce++) {
        cc_handover_batch_t *slow = cc_handover_batch_new ();
        char id [32];
        snprintf (id, sizeof id, "PK-SLOW-%" PRIu64, nonce);
        cc_advisory_t *advisory = cc_handoff_test_advisory (
            id, "slow command", body, sizeof body - 1, NULL);
        cc_handover_batch_add (slow, &advisory, "national/banking", nonce,
                               1700000000, nonce);
        uint8_t *ack = (uint8_t *) strdup ("slow ack");
        cc_handover_batch_set_ack (slow, nonce, &ack, strlen ("slow ack") + 1);
        cc_handover_send (handover, &slow);
    }
    for (uint64_t nonce = 7; nonce <= 8; nonce++) {
        back = cc_handover_recv (handover, &done);
        assert (back && !done && cc_handover_batch_nonce (back) == nonce);
    }
    assert (s_test_spooled (spool, "PK-SLOW-7"));
    assert (s_test_spooled (spool, "PK-SLOW-8"));
    assert (cc_handover_waiting (handover) == 2);
    assert (!zsys_file_exists (go));
    FILE *go_file = fopen (go, "w");
    assert (go_file);
    fclose (go_file);
    for (uint64_t nonce = 7; nonce <= 8; nonce++) {
        back = cc_handover_recv (handover, &done);
        assert (back && done && cc_handover_batch_nonce (back) == nonce);
        assert (cc_handover_batch_exec_failures (back) == 0);
        cc_handover_batch_destroy (&back);
    }
    assert (cc_handover_waiting (handover) == 0);
    cc_handover_destroy (&handover);
    zstr_free (&command);
    zstr_free (&go);
    cc_handoff_destroy (&handoff);

    //  The backlog counts bytes too: 40 advisories of 1 MB are past it
    //  (they passed as 40 of 1,024 advisories).
    handoff = cc_handoff_new (NULL, NULL);
    assert (handoff);
    handover = cc_handover_new (handoff);
    assert (handover);
    size_t heavy_size = 1000000;
    uint8_t *heavy_body = (uint8_t *) zmalloc (heavy_size);
    memset (heavy_body, 'x', heavy_size);
    cc_handover_batch_t *heavy = cc_handover_batch_new ();
    for (size_t index = 0; index < 40; index++) {
        char id [32];
        snprintf (id, sizeof id, "PK-HEAVY-%zu", index);
        cc_advisory_t *advisory = cc_handoff_test_advisory (
            id, "heavy", heavy_body, heavy_size, NULL);
        cc_handover_batch_add (heavy, &advisory, "national/banking",
                               index + 1, 1700000000, index + 1);
    }
    free (heavy_body);
    assert (!cc_handover_backlogged (handover));
    cc_handover_send (handover, &heavy);
    assert (cc_handover_backlogged (handover));
    back = cc_handover_recv (handover, &done);
    assert (back && done && cc_handover_batch_size (back) == 40);
    assert (!cc_handover_backlogged (handover));
    cc_handover_batch_destroy (&back);
    cc_handover_destroy (&handover);
    cc_handoff_destroy (&handoff);
    cc_store_destroy (&store);
    if (verbose)
        printf ("(dir %s) ", dir);
    zdir_t *listing = zdir_new (dir, NULL);
    assert (listing);
    zdir_remove (listing, true);
    zdir_destroy (&listing);
    free (spool);
    free (data);
    printf ("OK\n");
}
