/*  cc_swarm.c - thousands of agents in one process, for `make bench`.

    A National CERT's hard moment is one critical advisory to every
    organisation at once. Ten thousand certcast-agent processes do not fit
    on a 2-core bench host, so this tool plays them: each simulated agent
    has its own CurveZMQ and Ed25519 keys (enrolled in its relay's allow
    directory like any agent), its own DEALER and SUB sockets, its own
    per-stream cursors, and speaks the real protocol to a real relay:
    Hello/Welcome, live deliveries, Fetch on gaps, one signed Ack per agent
    per cycle, Acked. What is accepted is committed durably (inbox rows,
    cursors, the signed ack in an outbox) in one LMDB transaction per
    thread and cycle before any ack is sent, as the real agent does.

    Sharing: identical advisory bytes are verified once per swarm thread
    (cc_advisory_open, full chain) and the result reused by that thread's
    other agents; --verify-each verifies for every agent. The time of every
    real verification is measured and printed (verify_us), so the bench can
    show what per-agent verification would cost on its own.

    cc_swarm keygen DIR COUNT [--sector S] [--prefix P]
        Write COUNT agent identities P1..PCOUNT (P.key, P.pub with role
        agent and sector S) into DIR.
    cc_swarm run --relay HOST:PORT --relay-pub FILE --trust ROOT.pub
                 --keys DIR --count N --data DIR [--prefix P] [--first K]
                 [--threads T] [--verify-each] [--expect E]
        Run agents P<K>..P<K+N-1> (K defaults to 1) against the relay.
        Prints "ready" once every agent has its Welcome, "caught-up" once
        every agent has E advisories acknowledged (Acked by the relay),
        progress on stderr every second. SIGUSR1 starts an ack flood:
        every agent signs (and commits to its outbox) one ack per advisory
        it holds for each of the statuses APPLIED, NOT_APPLICABLE and
        FAILED, then, all at once, sends them; prints "flood_acks",
        "flood_ms" and "flood_acks_per_s" when the relay has Acked them
        all. SIGTERM or SIGINT: stop, print the counters as "key value"
        lines and exit 0.
*/
#include "../../broker/cc_broker.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#define STREAMS_MAX         16      //  streams one agent follows
#define FETCH_MAX           256
#define FETCH_RETRY_MS      3000
#define HELLO_RETRY_MS      2000
#define RESEND_MS           30000   //  the relay answers every ack; a busy one late
#define SWEEP_MS            1000    //  look at every socket this often
#define DONE_LINGER_MS      20      //  confirmed acks leave the outbox together
#define CACHE_MAX           16384   //  verified advisories kept per thread
#define CORR_HELLO          (1ULL << 62)
#define CORR_FETCH          (1ULL << 61)
#define EVENTS_MAX          1024

typedef struct {
    char name [64];
    uint64_t cursor, head;
    int64_t fetch_sent;
} s_stream_t;

//  One advisory an agent holds (or accepted this cycle).
typedef struct {
    char *id;
    uint32_t revision;
    uint8_t digest [32];
    int64_t received_at;
} s_entry_t;

//  One signed ack not yet Acked.
typedef struct {
    uint64_t nonce;
    uint8_t *bytes;
    size_t size;
    size_t entries;
    int64_t sent;
    bool flood;
} s_unacked_t;

typedef struct {
    uint32_t number;                //  P<number>
    cc_keys_t *keys;
    zsock_t *control, *stream;
    bool welcomed;
    int64_t alive_streams;
    int64_t hello_sent;
    s_stream_t streams [STREAMS_MAX];
    size_t stream_count;
    s_entry_t *held;                //  every advisory held; the last
    size_t held_count, held_max;    //  `fresh` of them are this cycle's
    size_t fresh;
    s_unacked_t *unacked;
    size_t unacked_count, unacked_max;
    uint64_t next_nonce;
    uint64_t acked_entries;
    bool dirty, recheck;
} s_agent_t;

typedef struct {
    uint8_t *bytes;                 //  the signed bytes verified (owned)
    size_t size;
    uint8_t digest [32];
    char *id;                       //  NULL: refused
    uint32_t revision;
} s_cached_t;

typedef struct _s_swarm_t s_swarm_t;

typedef struct {
    s_swarm_t *swarm;
    int index;
    s_agent_t *agents;
    size_t count;
    cc_store_t *store;
    int epoll_fd;
    zhashx_t *cache;                //  hex s_bytes_key -> s_cached_t
    size_t *dirty, dirty_count;     //  agents with fresh entries
    size_t *recheck, recheck_count; //  agents we sent on
    struct { size_t agent; uint64_t nonce; } *done;   //  outbox deletes
    size_t done_count, done_max;
    int64_t done_since;             //  mono ms of the oldest done entry
    bool flood_prepared, flood_sent;
    pthread_t thread;
} s_shard_t;

struct _s_swarm_t {
    const char *relay_host;
    int relay_port;
    const char *relay_key;
    const char *keys_dir, *prefix, *data_dir;
    uint8_t root_key [32];
    size_t count, first, expect;
    int threads;
    bool verify_each;
    atomic_bool stop;
    atomic_int flood;               //  0 idle, 1 prepare, 2 go
    atomic_size_t loaded, welcomed, failed;
    atomic_size_t accepted, refused, acks_sent, acked_entries, caught_up;
    atomic_size_t verify_calls;
    atomic_uint_fast64_t verify_ns;
    atomic_size_t flood_total, flood_acked, flood_prepared;
    atomic_int_fast64_t flood_last_ns;
    //  CLOCK_REALTIME ns, comparable across processes: the first and last
    //  inbox commit and the last Acked of a RECEIVED ack
    atomic_int_fast64_t first_commit_ns, last_commit_ns, last_acked_ns;
};

static volatile sig_atomic_t s_signal_stop, s_signal_flood;

static double
s_process_cpu_s (void)
{
    struct timespec now;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

static void
s_on_signal (int signum)
{
    if (signum == SIGUSR1)
        s_signal_flood = 1;
    else
        s_signal_stop = 1;
}

static int64_t
s_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000LL + now.tv_nsec;
}

static int64_t
s_real_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void
s_grow (void **array, size_t *max, size_t need, size_t item_size)
{
    if (need <= *max)
        return;
    size_t size = *max? *max * 2: 8;
    while (size < need)
        size *= 2;
    *array = realloc (*array, size * item_size);
    assert (*array);
    *max = size;
}


//  --------------------------------------------------------------------------
//  Sending

static void
s_mark_recheck (s_shard_t *shard, s_agent_t *agent)
{
    //  A send may swallow the socket's fd signal: look at it again.
    if (!agent->recheck) {
        agent->recheck = true;
        shard->recheck [shard->recheck_count++] = (size_t) (agent - shard->agents);
    }
}

static void
s_send (s_shard_t *shard, s_agent_t *agent, Certcast__Control *control)
{
    cc_wire_control_send (agent->control, control);
    s_mark_recheck (shard, agent);
}

static void
s_send_hello (s_shard_t *shard, s_agent_t *agent)
{
    char node [32];
    snprintf (node, sizeof node, "%s%u", shard->swarm->prefix, agent->number);
    Certcast__Hello hello = CERTCAST__HELLO__INIT;
    hello.node = node;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = CORR_HELLO;
    control.body_case = CERTCAST__CONTROL__BODY_HELLO;
    control.hello = &hello;
    s_send (shard, agent, &control);
    agent->hello_sent = zclock_mono ();
}

static void
s_fetch (s_shard_t *shard, s_agent_t *agent, s_stream_t *stream)
{
    int64_t now = zclock_mono ();
    if (stream->fetch_sent && now - stream->fetch_sent < FETCH_RETRY_MS)
        return;
    Certcast__Fetch fetch = CERTCAST__FETCH__INIT;
    fetch.stream = stream->name;
    fetch.from = stream->cursor + 1;
    fetch.max = FETCH_MAX;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = CORR_FETCH;
    control.body_case = CERTCAST__CONTROL__BODY_FETCH;
    control.fetch = &fetch;
    s_send (shard, agent, &control);
    stream->fetch_sent = now;
}

static void
s_send_ack (s_shard_t *shard, s_agent_t *agent, s_unacked_t *unacked)
{
    Certcast__SignedAck *signed_ack = (Certcast__SignedAck *) cc_wire_unpack (
        &certcast__signed_ack__descriptor, unacked->bytes, unacked->size,
        CC_WIRE_MAX_FRAME);
    assert (signed_ack);
    Certcast__Acks acks = CERTCAST__ACKS__INIT;
    acks.n_acks = 1;
    acks.acks = &signed_ack;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = unacked->nonce;
    control.body_case = CERTCAST__CONTROL__BODY_ACKS;
    control.acks = &acks;
    s_send (shard, agent, &control);
    certcast__signed_ack__free_unpacked (signed_ack, NULL);
    unacked->sent = zclock_mono ();
    atomic_fetch_add (&shard->swarm->acks_sent, 1);
}


//  --------------------------------------------------------------------------
//  Deliveries

static s_stream_t *
s_stream (s_agent_t *agent, const char *name)
{
    for (size_t index = 0; index < agent->stream_count; index++)
        if (streq (agent->streams [index].name, name))
            return &agent->streams [index];
    return NULL;
}

static s_stream_t *
s_follow (s_agent_t *agent, const char *name)
{
    s_stream_t *stream = s_stream (agent, name);
    if (stream || agent->stream_count == STREAMS_MAX
    ||  strlen (name) >= sizeof stream->name)
        return stream;
    stream = &agent->streams [agent->stream_count++];
    memset (stream, 0, sizeof *stream);
    strcpy (stream->name, name);
    zsock_set_subscribe (agent->stream, name);
    return stream;
}

static void
s_learn_head (s_shard_t *shard, s_agent_t *agent, s_stream_t *stream,
              uint64_t head)
{
    if (head > stream->head)
        stream->head = head;
    if (head > stream->cursor)
        s_fetch (shard, agent, stream);
}

static void
s_cached_destroy (void **item_p)
{
    s_cached_t *cached = (s_cached_t *) *item_p;
    if (cached) {
        free (cached->bytes);
        free (cached->id);
        free (cached);
        *item_p = NULL;
    }
}

//  A fast 64-bit hash of the bytes, only to find a cache entry: a hit
//  still compares every byte. SHA-256 of each of a burst's 100,000
//  deliveries cost the swarm a tenth of the machine.
static uint64_t
s_bytes_key (const uint8_t *bytes, size_t size)
{
    uint64_t hash = 0x9E3779B97F4A7C15ULL ^ size;
    size_t index = 0;
    for (; index + 8 <= size; index += 8) {
        uint64_t word;
        memcpy (&word, bytes + index, 8);
        hash = (hash ^ word) * 0xFF51AFD7ED558CCDULL;
        hash ^= hash >> 32;
    }
    for (; index < size; index++)
        hash = (hash ^ bytes [index]) * 0x100000001B3ULL;
    return hash;
}

//  The verified identity of these signed bytes: from this thread's cache
//  (the same bytes, compared in full), or by a full cc_advisory_open
//  (timed). NULL id: refused. A burst interleaves many advisories across
//  agents at different positions, so the cache holds every advisory seen,
//  not a window of recent ones.
static s_cached_t *
s_verify (s_shard_t *shard, const uint8_t *bytes, size_t size)
{
    char key [17];
    snprintf (key, sizeof key, "%016" PRIx64, s_bytes_key (bytes, size));
    s_cached_t *cached = (s_cached_t *) zhashx_lookup (shard->cache, key);
    if (cached && !shard->swarm->verify_each
    &&  cached->size == size && memcmp (cached->bytes, bytes, size) == 0)
        return cached;
    int64_t start = s_now_ns ();
    int code = 0;
    const char *reason = NULL;
    cc_advisory_t *advisory = cc_advisory_open (
        bytes, size, shard->swarm->root_key, (int64_t) time (NULL),
        CC_AT_DELIVERY, &code, &reason);
    atomic_fetch_add (&shard->swarm->verify_ns, (uint64_t) (s_now_ns () - start));
    atomic_fetch_add (&shard->swarm->verify_calls, 1);
    if (zhashx_size (shard->cache) >= CACHE_MAX)
        zhashx_purge (shard->cache);
    cached = (s_cached_t *) zmalloc (sizeof (s_cached_t));
    cached->bytes = (uint8_t *) malloc (size + 1);
    assert (cached->bytes);
    memcpy (cached->bytes, bytes, size);
    cached->size = size;
    cc_sha256 (bytes, size, cached->digest);
    cached->id = advisory? strdup (cc_advisory_id (advisory)): NULL;
    cached->revision = advisory? cc_advisory_revision (advisory): 0;
    //  A hash collision or --verify-each: the fresh entry wins.
    zhashx_delete (shard->cache, key);
    zhashx_insert (shard->cache, key, cached);
    if (!advisory)
        fprintf (stderr, "cc_swarm: refused: %s: %s\n", cc_strerror (code),
                 reason? reason: "");
    cc_advisory_destroy (&advisory);
    return cached;
}

static void
s_accept (s_shard_t *shard, s_agent_t *agent, s_stream_t *stream,
          const Certcast__Delivery *delivery)
{
    stream->cursor = delivery->seq;
    s_cached_t *cached = s_verify (shard, delivery->signed_.data,
                                   delivery->signed_.len);
    if (!cached->id) {
        atomic_fetch_add (&shard->swarm->refused, 1);
        return;
    }
    s_grow ((void **) &agent->held, &agent->held_max, agent->held_count + 1,
            sizeof (s_entry_t));
    s_entry_t *entry = &agent->held [agent->held_count++];
    entry->id = strdup (cached->id);
    entry->revision = cached->revision;
    memcpy (entry->digest, cached->digest, 32);
    entry->received_at = (int64_t) time (NULL);
    agent->fresh++;
    if (!agent->dirty) {
        agent->dirty = true;
        shard->dirty [shard->dirty_count++] = (size_t) (agent - shard->agents);
    }
}

static void
s_offer (s_shard_t *shard, s_agent_t *agent, s_stream_t *stream,
         const uint8_t *bytes, size_t size, bool live)
{
    Certcast__Delivery *delivery = (Certcast__Delivery *) cc_wire_unpack (
        &certcast__delivery__descriptor, bytes, size, CC_WIRE_MAX_FRAME);
    if (!delivery)
        return;
    if (delivery->stream && streq (delivery->stream, stream->name)) {
        if (delivery->seq == stream->cursor + 1)
            s_accept (shard, agent, stream, delivery);
        else
        if (delivery->seq > stream->cursor + 1 && live)
            s_learn_head (shard, agent, stream, delivery->seq);
    }
    certcast__delivery__free_unpacked (delivery, NULL);
}

static void
s_drain_stream (s_shard_t *shard, s_agent_t *agent)
{
    //  Receives do not block (timeout 0): a failed one ends the drain,
    //  one call cheaper than asking ZMQ_EVENTS before each message.
    for (;;) {
        zmsg_t *msg = zmsg_recv (agent->stream);
        if (!msg)
            break;
        char *topic = zmsg_popstr (msg);
        zframe_t *body = zmsg_pop (msg);
        int64_t streams = cc_wire_alive_streams (topic, body);
        if (streams >= 0 && streams != agent->alive_streams) {
            agent->alive_streams = streams;
            s_send_hello (shard, agent);
        }
        s_stream_t *stream = topic? s_stream (agent, topic): NULL;
        Certcast__StreamMsg *message = stream && body?
            (Certcast__StreamMsg *) cc_wire_unpack (
                &certcast__stream_msg__descriptor, zframe_data (body),
                zframe_size (body), CC_WIRE_MAX_FRAME): NULL;
        if (message) {
            if (message->body_case == CERTCAST__STREAM_MSG__BODY_DELIVERY)
                s_offer (shard, agent, stream, message->delivery.data,
                         message->delivery.len, true);
            else
            if (message->body_case == CERTCAST__STREAM_MSG__BODY_HEARTBEAT)
                s_learn_head (shard, agent, stream, message->heartbeat->head);
            certcast__stream_msg__free_unpacked (message, NULL);
        }
        zstr_free (&topic);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
}

static void
s_acked (s_shard_t *shard, s_agent_t *agent, uint64_t nonce)
{
    for (size_t index = 0; index < agent->unacked_count; index++) {
        s_unacked_t *unacked = &agent->unacked [index];
        if (unacked->nonce != nonce)
            continue;
        s_swarm_t *swarm = shard->swarm;
        size_t before = agent->acked_entries;
        agent->acked_entries += unacked->entries;
        atomic_fetch_add (&swarm->acked_entries, unacked->entries);
        if (swarm->expect && before < swarm->expect
        &&  agent->acked_entries >= swarm->expect)
            atomic_fetch_add (&swarm->caught_up, 1);
        if (unacked->flood) {
            atomic_fetch_add (&swarm->flood_acked, 1);
            atomic_store (&swarm->flood_last_ns, s_now_ns ());
        }
        else
            atomic_store (&swarm->last_acked_ns, s_real_ns ());
        free (unacked->bytes);
        *unacked = agent->unacked [--agent->unacked_count];
        if (shard->done_count == 0)
            shard->done_since = zclock_mono ();
        s_grow ((void **) &shard->done, &shard->done_max,
                shard->done_count + 1, sizeof shard->done [0]);
        shard->done [shard->done_count].agent = (size_t) (agent - shard->agents);
        shard->done [shard->done_count++].nonce = nonce;
        return;
    }
}

static void
s_drain_control (s_shard_t *shard, s_agent_t *agent)
{
    for (;;) {
        zframe_t *frame = zframe_recv (agent->control);
        if (!frame)
            break;
        Certcast__Control *control = cc_wire_control_decode (frame);
        zframe_destroy (&frame);
        if (!control)
            continue;
        if (control->body_case == CERTCAST__CONTROL__BODY_WELCOME) {
            if (!agent->welcomed) {
                agent->welcomed = true;
                atomic_fetch_add (&shard->swarm->welcomed, 1);
            }
            for (size_t index = 0; index < control->welcome->n_heads; index++) {
                Certcast__StreamHead *head = control->welcome->heads [index];
                s_stream_t *stream = head->stream? s_follow (agent, head->stream): NULL;
                if (stream)
                    s_learn_head (shard, agent, stream, head->head);
            }
        }
        else
        if (control->body_case == CERTCAST__CONTROL__BODY_DELIVERIES) {
            Certcast__Deliveries *deliveries = control->deliveries;
            s_stream_t *stream = deliveries->stream?
                s_stream (agent, deliveries->stream): NULL;
            if (stream) {
                uint64_t before = stream->cursor;
                stream->fetch_sent = 0;
                for (size_t index = 0; index < deliveries->n_deliveries; index++)
                    s_offer (shard, agent, stream, deliveries->deliveries [index].data,
                             deliveries->deliveries [index].len, false);
                if (stream->cursor > before)
                    s_learn_head (shard, agent, stream, deliveries->head);
            }
        }
        else
        if (control->body_case == CERTCAST__CONTROL__BODY_ACKED)
            s_acked (shard, agent, control->corr);
        else
        if (control->body_case == CERTCAST__CONTROL__BODY_ERROR)
            fprintf (stderr, "cc_swarm: %s%u: relay refused %" PRIu64 ": %s: %s\n",
                     shard->swarm->prefix, agent->number, control->corr,
                     cc_strerror (control->error->code),
                     control->error->reason? control->error->reason: "");
        certcast__control__free_unpacked (control, NULL);
    }
}

static void
s_drain (s_shard_t *shard, s_agent_t *agent)
{
    s_drain_control (shard, agent);
    s_drain_stream (shard, agent);
}


//  --------------------------------------------------------------------------
//  The cycle's commit: inbox rows, cursors and each agent's signed ack in
//  one durable transaction per thread, then the acks go out.

static void
s_agent_key (uint8_t *key, size_t agent_number)
{
    cc_be32_put (key, (uint32_t) agent_number);
}

//  Sign one Ack over entries; the new unacked entry owns the bytes.
static s_unacked_t *
s_sign_ack (s_agent_t *agent, s_entry_t *entries, size_t count, int status)
{
    Certcast__AckEntry *items = (Certcast__AckEntry *) calloc (count, sizeof *items);
    Certcast__AckEntry **pointers = (Certcast__AckEntry **) calloc (count, sizeof (void *));
    assert (items && pointers);
    for (size_t index = 0; index < count; index++) {
        certcast__ack_entry__init (&items [index]);
        items [index].advisory_id = entries [index].id;
        items [index].revision = entries [index].revision;
        items [index].digest.data = entries [index].digest;
        items [index].digest.len = 32;
        items [index].status = (Certcast__AckStatus) status;
        items [index].received_at = entries [index].received_at;
        pointers [index] = &items [index];
    }
    Certcast__Ack ack = CERTCAST__ACK__INIT;
    ack.agent_key.data = (uint8_t *) cc_keys_sign_public (agent->keys);
    ack.agent_key.len = 32;
    ack.time = (int64_t) time (NULL);
    ack.nonce = ++agent->next_nonce;
    ack.n_entries = count;
    ack.entries = pointers;
    s_grow ((void **) &agent->unacked, &agent->unacked_max,
            agent->unacked_count + 1, sizeof (s_unacked_t));
    s_unacked_t *unacked = &agent->unacked [agent->unacked_count++];
    memset (unacked, 0, sizeof *unacked);
    unacked->nonce = ack.nonce;
    unacked->entries = count;
    unacked->bytes = cc_ledger_sign_ack (agent->keys, &ack, &unacked->size);
    free (pointers);
    free (items);
    return unacked;
}

static int
s_put (s_shard_t *shard, MDB_txn *txn, cc_db_t db, const void *key,
       size_t key_size, const void *value, size_t value_size)
{
    MDB_val k = { key_size, (void *) key }, v = { value_size, (void *) value };
    return mdb_put (txn, cc_store_dbi (shard->store, db), &k, &v, 0);
}

//  Batch function: may run more than once (map full), so it only writes.
static int
s_commit_batch (MDB_txn *txn, void *arg)
{
    s_shard_t *shard = (s_shard_t *) arg;
    int rc = 0;
    uint8_t key [512];
    for (size_t dirty = 0; dirty < shard->dirty_count && rc == 0; dirty++) {
        s_agent_t *agent = &shard->agents [shard->dirty [dirty]];
        s_agent_key (key, agent->number);
        for (size_t index = agent->held_count - agent->fresh;
             index < agent->held_count && rc == 0; index++) {
            s_entry_t *entry = &agent->held [index];
            size_t id_size = strlen (entry->id);
            if (id_size > sizeof key - 9)
                continue;
            memcpy (key + 4, entry->id, id_size + 1);
            cc_be32_put (key + 5 + id_size, entry->revision);
            rc = s_put (shard, txn, CC_DB_INBOX, key, id_size + 9,
                        entry->digest, 32);
        }
        for (size_t index = 0; index < agent->stream_count && rc == 0; index++) {
            s_stream_t *stream = &agent->streams [index];
            size_t name_size = strlen (stream->name);
            memcpy (key + 4, stream->name, name_size);
            uint8_t cursor [8];
            cc_be64_put (cursor, stream->cursor);
            rc = s_put (shard, txn, CC_DB_CURSORS, key, 4 + name_size, cursor, 8);
        }
        //  The ack signed for this cycle is the outbox's last entry.
        s_unacked_t *unacked = &agent->unacked [agent->unacked_count - 1];
        cc_be64_put (key + 4, unacked->nonce);
        if (rc == 0)
            rc = s_put (shard, txn, CC_DB_OUTBOX, key, 12, unacked->bytes,
                        unacked->size);
    }
    for (size_t index = 0; index < shard->done_count && rc == 0; index++) {
        s_agent_key (key, shard->agents [shard->done [index].agent].number);
        cc_be64_put (key + 4, shard->done [index].nonce);
        MDB_val k = { 12, key };
        rc = mdb_del (txn, cc_store_dbi (shard->store, CC_DB_OUTBOX), &k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    return rc;
}

static void
s_commit (s_shard_t *shard)
{
    if (shard->dirty_count == 0 && shard->done_count == 0)
        return;
    //  Confirmed acks leave the outbox a little later, together, as an
    //  agent's do: lost in a crash, an ack is only sent again. One sync
    //  per wake-up would bill the swarm (on the relay's cores) for
    //  thousands of agents' disks.
    if (shard->dirty_count == 0
    &&  zclock_mono () - shard->done_since < DONE_LINGER_MS
    &&  !atomic_load (&shard->swarm->stop))
        return;
    for (size_t dirty = 0; dirty < shard->dirty_count; dirty++) {
        s_agent_t *agent = &shard->agents [shard->dirty [dirty]];
        s_sign_ack (agent, agent->held + agent->held_count - agent->fresh,
                    agent->fresh, CERTCAST__ACK_STATUS__RECEIVED);
    }
    int rc = cc_store_write (shard->store, s_commit_batch, shard);
    if (rc) {
        fprintf (stderr, "cc_swarm: commit failed: %s\n", mdb_strerror (rc));
        exit (1);
    }
    int64_t committed = s_real_ns (), none = 0;
    if (shard->dirty_count) {
        atomic_compare_exchange_strong (&shard->swarm->first_commit_ns, &none, committed);
        atomic_store (&shard->swarm->last_commit_ns, committed);
    }
    for (size_t dirty = 0; dirty < shard->dirty_count; dirty++) {
        s_agent_t *agent = &shard->agents [shard->dirty [dirty]];
        atomic_fetch_add (&shard->swarm->accepted, agent->fresh);
        agent->fresh = 0;
        agent->dirty = false;
        s_send_ack (shard, agent, &agent->unacked [agent->unacked_count - 1]);
    }
    shard->dirty_count = 0;
    shard->done_count = 0;
}


//  --------------------------------------------------------------------------
//  The ack flood (ack ingest)

static int
s_flood_batch (MDB_txn *txn, void *arg)
{
    s_shard_t *shard = (s_shard_t *) arg;
    uint8_t key [12];
    int rc = 0;
    for (size_t index = 0; index < shard->count && rc == 0; index++) {
        s_agent_t *agent = &shard->agents [index];
        s_agent_key (key, agent->number);
        for (size_t ack = 0; ack < agent->unacked_count && rc == 0; ack++) {
            if (!agent->unacked [ack].flood)
                continue;
            cc_be64_put (key + 4, agent->unacked [ack].nonce);
            rc = s_put (shard, txn, CC_DB_OUTBOX, key, 12,
                        agent->unacked [ack].bytes, agent->unacked [ack].size);
        }
    }
    return rc;
}

static void
s_flood_prepare (s_shard_t *shard)
{
    static const int statuses [] = {
        CERTCAST__ACK_STATUS__APPLIED, CERTCAST__ACK_STATUS__NOT_APPLICABLE,
        CERTCAST__ACK_STATUS__FAILED
    };
    size_t total = 0;
    for (size_t index = 0; index < shard->count; index++) {
        s_agent_t *agent = &shard->agents [index];
        for (size_t held = 0; held < agent->held_count; held++)
            for (size_t status = 0; status < 3; status++) {
                s_unacked_t *unacked = s_sign_ack (agent, &agent->held [held],
                                                   1, statuses [status]);
                unacked->flood = true;
                total++;
            }
    }
    int rc = cc_store_write (shard->store, s_flood_batch, shard);
    if (rc) {
        fprintf (stderr, "cc_swarm: flood commit failed: %s\n", mdb_strerror (rc));
        exit (1);
    }
    atomic_fetch_add (&shard->swarm->flood_total, total);
    atomic_fetch_add (&shard->swarm->flood_prepared, 1);
    shard->flood_prepared = true;
}

static void
s_flood_send (s_shard_t *shard)
{
    for (size_t index = 0; index < shard->count; index++) {
        s_agent_t *agent = &shard->agents [index];
        for (size_t ack = 0; ack < agent->unacked_count; ack++)
            if (agent->unacked [ack].flood)
                s_send_ack (shard, agent, &agent->unacked [ack]);
    }
    shard->flood_sent = true;
}


//  --------------------------------------------------------------------------
//  Shard thread

static void
s_housekeeping (s_shard_t *shard)
{
    int64_t now = zclock_mono ();
    for (size_t index = 0; index < shard->count; index++) {
        s_agent_t *agent = &shard->agents [index];
        s_drain (shard, agent);
        if (!agent->welcomed && now - agent->hello_sent >= HELLO_RETRY_MS)
            s_send_hello (shard, agent);
        for (size_t stream = 0; stream < agent->stream_count; stream++)
            if (agent->streams [stream].head > agent->streams [stream].cursor)
                s_fetch (shard, agent, &agent->streams [stream]);
        //  A flood ack waits for the flood's go: resent before it, every
        //  ack would reach the relay twice and ingest would measure
        //  double the work.
        for (size_t ack = 0; ack < agent->unacked_count; ack++)
            if (now - agent->unacked [ack].sent >= RESEND_MS
            &&  (!agent->unacked [ack].flood || shard->flood_sent))
                s_send_ack (shard, agent, &agent->unacked [ack]);
    }
}

static void
s_recheck (s_shard_t *shard)
{
    //  Draining can send (a fetch) and so queue the agent again.
    for (int round = 0; round < 4 && shard->recheck_count; round++) {
        size_t count = shard->recheck_count;
        shard->recheck_count = 0;
        size_t *agents = (size_t *) malloc (count * sizeof (size_t));
        assert (agents);
        memcpy (agents, shard->recheck, count * sizeof (size_t));
        for (size_t index = 0; index < count; index++)
            shard->agents [agents [index]].recheck = false;
        for (size_t index = 0; index < count; index++)
            s_drain (shard, &shard->agents [agents [index]]);
        free (agents);
    }
}

static int
s_agent_start (s_shard_t *shard, s_agent_t *agent)
{
    s_swarm_t *swarm = shard->swarm;
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/%s%u.key", swarm->keys_dir, swarm->prefix,
              agent->number);
    const char *reason = NULL;
    agent->keys = cc_keys_load (path, &reason);
    if (!agent->keys) {
        fprintf (stderr, "cc_swarm: %s: %s\n", path, reason? reason: "cannot load");
        return -1;
    }
    char endpoint [300];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%d", swarm->relay_host,
              swarm->relay_port + 1);
    agent->control = cc_keys_client (agent->keys, ZMQ_DEALER, swarm->relay_key);
    zsock_set_sndhwm (agent->control, 0);
    zsock_set_rcvtimeo (agent->control, 0);
    //  As the agent does (cc_agent.c, CONTROL_HEARTBEAT_MS).
    zsock_set_heartbeat_ivl (agent->control, 30000);
    zsock_set_heartbeat_timeout (agent->control, 90000);
    zsock_connect (agent->control, "%s", endpoint);
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%d", swarm->relay_host,
              swarm->relay_port);
    agent->stream = cc_keys_client (agent->keys, ZMQ_SUB, swarm->relay_key);
    zsock_set_rcvhwm (agent->stream, 100000);
    zsock_set_rcvtimeo (agent->stream, 0);
    zsock_set_subscribe (agent->stream, CC_TOPIC_ALIVE);
    zsock_connect (agent->stream, "%s", endpoint);
    agent->alive_streams = -1;
    //  The event says which socket: slot * 2 (+ 1 for the stream), so
    //  only that one is drained (every empty receive is two syscalls).
    size_t slot = (size_t) (agent - shard->agents);
    struct epoll_event control_event = { .events = EPOLLIN, .data.u64 = slot * 2 };
    struct epoll_event stream_event = { .events = EPOLLIN, .data.u64 = slot * 2 + 1 };
    if (epoll_ctl (shard->epoll_fd, EPOLL_CTL_ADD, zsock_fd (agent->control), &control_event)
    ||  epoll_ctl (shard->epoll_fd, EPOLL_CTL_ADD, zsock_fd (agent->stream), &stream_event)) {
        fprintf (stderr, "cc_swarm: epoll_ctl: %s\n", strerror (errno));
        return -1;
    }
    s_send_hello (shard, agent);
    atomic_fetch_add (&swarm->loaded, 1);
    return 0;
}

static void
s_agent_stop (s_agent_t *agent)
{
    zsock_destroy (&agent->control);
    zsock_destroy (&agent->stream);
    cc_keys_destroy (&agent->keys);
    for (size_t index = 0; index < agent->held_count; index++)
        free (agent->held [index].id);
    free (agent->held);
    for (size_t index = 0; index < agent->unacked_count; index++)
        free (agent->unacked [index].bytes);
    free (agent->unacked);
}

static void *
s_shard_run (void *arg)
{
    s_shard_t *shard = (s_shard_t *) arg;
    s_swarm_t *swarm = shard->swarm;
    for (size_t index = 0; index < shard->count; index++)
        if (s_agent_start (shard, &shard->agents [index])) {
            atomic_fetch_add (&swarm->failed, 1);
            atomic_store (&swarm->stop, true);
            break;
        }
    struct epoll_event events [EVENTS_MAX];
    int64_t last_sweep = zclock_mono ();
    while (!atomic_load (&swarm->stop)) {
        int ready = epoll_wait (shard->epoll_fd, events, EVENTS_MAX, 20);
        for (int index = 0; index < ready; index++) {
            s_agent_t *agent = &shard->agents [events [index].data.u64 / 2];
            if (events [index].data.u64 % 2)
                s_drain_stream (shard, agent);
            else
                s_drain_control (shard, agent);
        }
        if (zclock_mono () - last_sweep >= SWEEP_MS) {
            s_housekeeping (shard);
            last_sweep = zclock_mono ();
        }
        s_commit (shard);
        s_recheck (shard);
        int flood = atomic_load (&swarm->flood);
        if (flood == 1 && !shard->flood_prepared)
            s_flood_prepare (shard);
        if (flood == 2 && !shard->flood_sent) {
            s_flood_send (shard);
            s_recheck (shard);
        }
    }
    s_commit (shard);
    for (size_t index = 0; index < shard->count; index++)
        s_agent_stop (&shard->agents [index]);
    OPENSSL_thread_stop ();
    return NULL;
}


//  --------------------------------------------------------------------------
//  keygen

static int
s_keygen (int argc, char **argv)
{
    if (argc < 4) {
        fprintf (stderr, "usage: cc_swarm keygen DIR COUNT [--sector S] [--prefix P]\n");
        return 2;
    }
    const char *dir = argv [2], *sector = "banking", *prefix = "s";
    long count = atol (argv [3]);
    for (int index = 4; index + 1 < argc; index += 2) {
        if (streq (argv [index], "--sector"))
            sector = argv [index + 1];
        else
        if (streq (argv [index], "--prefix"))
            prefix = argv [index + 1];
    }
    if (count <= 0 || zsys_dir_create ("%s", dir)) {
        fprintf (stderr, "cc_swarm: bad count or directory\n");
        return 2;
    }
    for (long number = 1; number <= count; number++) {
        char name [64], org [96];
        snprintf (name, sizeof name, "%s%ld", prefix, number);
        snprintf (org, sizeof org, "Swarm organisation %ld", number);
        cc_keys_t *keys = cc_keys_generate ();
        cc_keys_set_meta (keys, "name", name);
        cc_keys_set_meta (keys, "role", "agent");
        cc_keys_set_meta (keys, "org", org);
        cc_keys_set_meta (keys, "sector", sector);
        cc_keys_set_meta (keys, "class", "body-corporate");
        const char *reason = NULL;
        int rc = cc_keys_save (keys, dir, name, &reason);
        cc_keys_destroy (&keys);
        if (rc) {
            fprintf (stderr, "cc_swarm: %s: %s\n", name, reason? reason: "cannot save");
            return 1;
        }
        if (number % 1000 == 0)
            fprintf (stderr, "cc_swarm: %ld/%ld keys\n", number, count);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  run

static void
s_print_counters (s_swarm_t *swarm)
{
    size_t calls = atomic_load (&swarm->verify_calls);
    printf ("agents %zu\nwelcomed %zu\naccepted %zu\nrefused %zu\nacks_sent %zu\n"
            "acked_entries %zu\nverify_calls %zu\nverify_us %.1f\n"
            "first_commit_real_ns %" PRId64 "\nlast_commit_real_ns %" PRId64 "\n"
            "last_acked_real_ns %" PRId64 "\n",
            swarm->count, atomic_load (&swarm->welcomed),
            atomic_load (&swarm->accepted), atomic_load (&swarm->refused),
            atomic_load (&swarm->acks_sent), atomic_load (&swarm->acked_entries),
            calls, calls? (double) atomic_load (&swarm->verify_ns) / calls / 1000: 0,
            (int64_t) atomic_load (&swarm->first_commit_ns),
            (int64_t) atomic_load (&swarm->last_commit_ns),
            (int64_t) atomic_load (&swarm->last_acked_ns));
    fflush (stdout);
}

static void
s_raise_fd_limit (size_t sockets)
{
    //  Two sockets per agent, each a TCP connection and a mailbox fd.
    struct rlimit limit;
    getrlimit (RLIMIT_NOFILE, &limit);
    rlim_t want = (rlim_t) (sockets * 3 + 1024);
    if (limit.rlim_cur < want) {
        limit.rlim_cur = want;
        if (limit.rlim_max < want)
            limit.rlim_max = want;          //  root may raise the ceiling
        if (setrlimit (RLIMIT_NOFILE, &limit))
            fprintf (stderr, "cc_swarm: cannot raise the fd limit to %lu: %s\n",
                     (unsigned long) want, strerror (errno));
    }
}

static int
s_parse_run (s_swarm_t *swarm, int argc, char **argv)
{
    const char *relay = NULL, *relay_pub = NULL, *trust = NULL;
    for (int index = 2; index < argc; index++) {
        const char *name = argv [index];
        const char *value = index + 1 < argc? argv [index + 1]: NULL;
        if (streq (name, "--verify-each")) {
            swarm->verify_each = true;
            continue;
        }
        if (!value)
            return -1;
        index++;
        if (streq (name, "--relay")) relay = value;
        else if (streq (name, "--relay-pub")) relay_pub = value;
        else if (streq (name, "--trust")) trust = value;
        else if (streq (name, "--keys")) swarm->keys_dir = value;
        else if (streq (name, "--data")) swarm->data_dir = value;
        else if (streq (name, "--prefix")) swarm->prefix = value;
        else if (streq (name, "--count")) swarm->count = (size_t) atol (value);
        else if (streq (name, "--first")) swarm->first = (size_t) atol (value);
        else if (streq (name, "--threads")) swarm->threads = atoi (value);
        else if (streq (name, "--expect")) swarm->expect = (size_t) atol (value);
        else return -1;
    }
    if (!relay || !relay_pub || !trust || !swarm->keys_dir || !swarm->data_dir
    ||  swarm->count == 0 || swarm->threads < 1)
        return -1;
    const char *colon = strrchr (relay, ':');
    if (!colon)
        return -1;
    swarm->relay_host = strndup (relay, (size_t) (colon - relay));
    swarm->relay_port = atoi (colon + 1);
    const char *reason = NULL;
    cc_keys_t *keys = cc_keys_load (relay_pub, &reason);
    if (!keys)
        return -1;
    swarm->relay_key = strdup (cc_keys_curve_public (keys));
    cc_keys_destroy (&keys);
    keys = cc_keys_load (trust, &reason);
    if (!keys)
        return -1;
    memcpy (swarm->root_key, cc_keys_sign_public (keys), 32);
    cc_keys_destroy (&keys);
    return 0;
}

static int
s_run (int argc, char **argv)
{
    s_swarm_t *swarm = (s_swarm_t *) calloc (1, sizeof (s_swarm_t));
    swarm->prefix = "s";
    swarm->first = 1;
    swarm->threads = 2;
    if (s_parse_run (swarm, argc, argv)) {
        fprintf (stderr, "usage: cc_swarm run --relay HOST:PORT --relay-pub FILE "
                 "--trust ROOT.pub --keys DIR --count N --data DIR [--prefix P] "
                 "[--first K] [--threads T] [--verify-each] [--expect E]\n");
        return 2;
    }
    s_raise_fd_limit (swarm->count * 2);
    zsys_set_max_sockets (swarm->count * 2 + 64);
    zsys_set_io_threads ((size_t) swarm->threads);
    zsys_init ();
    signal (SIGTERM, s_on_signal);
    signal (SIGINT, s_on_signal);
    signal (SIGUSR1, s_on_signal);

    s_agent_t *agents = (s_agent_t *) calloc (swarm->count, sizeof (s_agent_t));
    s_shard_t *shards = (s_shard_t *) calloc ((size_t) swarm->threads, sizeof (s_shard_t));
    assert (agents && shards);
    for (size_t index = 0; index < swarm->count; index++)
        agents [index].number = (uint32_t) (swarm->first + index);
    size_t per = (swarm->count + (size_t) swarm->threads - 1) / (size_t) swarm->threads;
    int started = 0;
    for (int index = 0; index < swarm->threads; index++) {
        s_shard_t *shard = &shards [index];
        shard->swarm = swarm;
        shard->cache = zhashx_new ();
        zhashx_set_destructor (shard->cache, s_cached_destroy);
        shard->index = index;
        size_t from = (size_t) index * per;
        shard->agents = agents + (from < swarm->count? from: swarm->count);
        shard->count = from >= swarm->count? 0:
            (swarm->count - from < per? swarm->count - from: per);
        shard->dirty = (size_t *) calloc (shard->count + 1, sizeof (size_t));
        shard->recheck = (size_t *) calloc (shard->count + 1, sizeof (size_t));
        shard->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
        char *dir = zsys_sprintf ("%s/shard%d", swarm->data_dir, index);
        shard->store = cc_store_new (dir, 0);
        free (dir);
        if (!shard->store || shard->epoll_fd < 0) {
            fprintf (stderr, "cc_swarm: cannot open shard %d\n", index);
            return 1;
        }
        if (pthread_create (&shard->thread, NULL, s_shard_run, shard) == 0)
            started++;
    }
    bool ready_said = false, caught_up_said = false;
    int64_t last_progress = zclock_mono (), flood_start = 0;
    double flood_cpu = 0;
    while (!s_signal_stop && !atomic_load (&swarm->stop)) {
        zclock_sleep (5);
        size_t welcomed = atomic_load (&swarm->welcomed);
        if (!ready_said && welcomed == swarm->count) {
            printf ("ready\n");
            fflush (stdout);
            ready_said = true;
        }
        if (swarm->expect && !caught_up_said
        &&  atomic_load (&swarm->caught_up) == swarm->count) {
            printf ("caught-up\n");
            fflush (stdout);
            caught_up_said = true;
        }
        if (s_signal_flood && atomic_load (&swarm->flood) == 0)
            atomic_store (&swarm->flood, 1);
        if (atomic_load (&swarm->flood) == 1
        &&  atomic_load (&swarm->flood_prepared) == (size_t) swarm->threads) {
            fprintf (stderr, "cc_swarm: %zu flood acks signed and committed; sending\n",
                     atomic_load (&swarm->flood_total));
            flood_start = s_now_ns ();
            flood_cpu = s_process_cpu_s ();
            atomic_store (&swarm->flood, 2);
        }
        if (flood_start && atomic_load (&swarm->flood_acked) == atomic_load (&swarm->flood_total)) {
            size_t total = atomic_load (&swarm->flood_total);
            double ms = (double) (atomic_load (&swarm->flood_last_ns) - flood_start) / 1e6;
            //  The swarm's own bill for sending and answering the flood:
            //  it shares the cores with the relay it measures.
            printf ("flood_acks %zu\nflood_ms %.1f\nflood_acks_per_s %.0f\n"
                    "flood_cpu_s %.3f\n", total, ms, ms > 0? total / (ms / 1000): 0,
                    s_process_cpu_s () - flood_cpu);
            fflush (stdout);
            flood_start = 0;
        }
        if (zclock_mono () - last_progress >= 1000) {
            fprintf (stderr, "cc_swarm: %zu/%zu started, %zu welcomed, %zu accepted, "
                     "%zu acks sent, %zu entries acked\n",
                     atomic_load (&swarm->loaded), swarm->count, welcomed,
                     atomic_load (&swarm->accepted), atomic_load (&swarm->acks_sent),
                     atomic_load (&swarm->acked_entries));
            last_progress = zclock_mono ();
        }
    }
    atomic_store (&swarm->stop, true);
    for (int index = 0; index < started; index++)
        pthread_join (shards [index].thread, NULL);
    bool failed = atomic_load (&swarm->failed) > 0;
    s_print_counters (swarm);
    for (int index = 0; index < swarm->threads; index++) {
        cc_store_destroy (&shards [index].store);
        if (shards [index].epoll_fd >= 0)
            close (shards [index].epoll_fd);
        zhashx_destroy (&shards [index].cache);
        free (shards [index].dirty);
        free (shards [index].recheck);
        free (shards [index].done);
    }
    free (shards);
    free (agents);
    free ((char *) swarm->relay_host);
    free ((char *) swarm->relay_key);
    free (swarm);
    return failed? 1: 0;
}

int
main (int argc, char **argv)
{
    //  Thousands of agents share this one heap, as at a broker (the real
    //  agent keeps glibc's defaults: its resident size matters more).
    cc_wire_malloc_setup ();
    zsys_handler_set (NULL);
    if (argc >= 2 && streq (argv [1], "keygen"))
        return s_keygen (argc, argv);
    if (argc >= 2 && streq (argv [1], "run"))
        return s_run (argc, argv);
    fprintf (stderr, "usage: cc_swarm keygen|run ... (see tests/tools/cc_swarm.c)\n");
    return 2;
}
