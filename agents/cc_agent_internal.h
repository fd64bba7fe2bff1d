/*  cc_agent_internal.h - private to the agent actor: its state and the
    deliveries of a cycle, shared by the two files of the one actor
    (cc_agent.c: sockets, control replies, acks, the cycle's commit and
    hand-over, timers and pipe; cc_agent_streams.c: the streams followed,
    their cursors and heads, fetches, and the deliveries they bring).

    Not a class: the stream table is read and written by the cycle's
    commit, its rollback and the timers, and the deliveries it takes go to
    the cycle's pending list and counters, so both files share the actor's
    self_t as the one owner (as the engine does with cc_engine_internal.h).
    Only cc_agent_streams.c looks inside the stream table.
*/
#ifndef CC_AGENT_INTERNAL_H_INCLUDED
#define CC_AGENT_INTERNAL_H_INCLUDED

#define DRAIN_MAX           1000    //  messages taken per socket per cycle
//  LMDB keeps every single page a write transaction dirtied on a free list
//  of its own (me_dpages) for the life of the environment, so the largest
//  transaction the agent ever committed stays in its heap: a page per
//  advisory of 2 KiB, 4 MiB for a cycle of 1,024. With 256, the agent's
//  RSS after 10,000 advisories of 512 B fell from 12.9-13.2 to 12.4 MiB
//  and catch-up kept the verifiers' pace (11,000 a second); 64 did not
//  (9,000).
#define BATCH_MAX           256     //  advisories committed per cycle
//  ...and their signed bytes: an advisory may be 1 MiB, and a cycle holds
//  each twice (as received and opened) until its commit, so 256 of them
//  took an agent to over 500 MB. A bigger backlog takes more cycles.
#define BATCH_BYTES         (16 * 1024 * 1024)
#define CORR_HELLO          (1ULL << 62)
#define CORR_FETCH          (1ULL << 61)
#define STREAMS_MAX         64      //  streams followed at most

//  One delivery of this cycle, from its arrival to its hand-over.
typedef struct {
    uint8_t *signed_bytes;          //  as delivered, until verified (owned)
    size_t signed_size;
    cc_advisory_t *advisory;        //  set once verified (owned)
    int code;                       //  why it did not verify
    const char *reason;
    void *handle;                   //  in self->pending
    char *stream;                   //  stream it came on (owned)
    uint64_t seq;
    int64_t received_at;            //  Unix seconds
    bool expired;                   //  expired when it arrived: stored
                                    //  and acked, not handed over
    bool fresh;                     //  set by the commit: new to the inbox
    uint64_t marker;                //  set by the commit: handoff marker
    //  set by the commit: the inbox holds other bytes under this id and
    //  revision, which came on held_stream (said once it is committed)
    bool collided;
    char held_stream [128];
} cc_agent_pending_t;

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    cc_agent_options_t options;     //  strings point at our copies
    char *relay_host;
    char *relay_key;
    char *data_dir;
    char *name;
    char *sector;                   //  ours, from our key: the only
                                    //  sector we follow and take
    uint8_t root_key [32];          //  pinned root
    char *relay_label;              //  host:port, for the log
    char *endpoint_stream;          //  tcp://host:port
    char *endpoint_control;         //  tcp://host:port+1
    cc_store_t *store;
    cc_handoff_t *handoff;
    cc_pool_t *pool;                //  verifies a cycle's deliveries
    cc_handover_t *handover;        //  the hand-over thread
    //  Advisories whose spool file could not be written: their markers
    //  stay in the store, and the thread tries the files again at
    //  respool_at (backing off while the spool stays broken)
    cc_handover_batch_t *respool;
    int64_t respool_at;             //  mono ms, 0: nothing scheduled
    int64_t respool_backoff;        //  ms
    uint64_t spool_waiting;         //  advisories not yet in the spool
    zpoller_t *poller;
    zsock_t *control;               //  DEALER to the relay
    zsock_t *stream;                //  SUB to the relay
    zhashx_t *streams;              //  name -> stream (cc_agent_streams.c)
    zlistx_t *pending;              //  cc_agent_pending_t of this cycle (owned)
    size_t pending_bytes;           //  their signed bytes, as queued
    zlistx_t *acked;                //  nonces (uint64_t *) to drop, owned
    zhashx_t *sent;                 //  nonces ("%" PRIu64) of the acks
                                    //  sent on this connection and not
                                    //  confirmed: only those an Acked
                                    //  may drop
    zlistx_t *handed;               //  handoff markers (uint64_t *) whose
                                    //  hand-over is done, cleared by the
                                    //  next commit (owned)
    int64_t handed_since;           //  mono ms the oldest was added
    uint64_t batch_nonce;           //  nonce of the ack the commit made
    uint8_t *batch_ack;             //  its SignedAck bytes (owned)
    size_t batch_ack_size;
    uint64_t last_nonce;            //  highest nonce committed
    uint64_t resend_mark;           //  resend nonces up to this one
    uint64_t resend_from;           //  next resend round starts here
    int64_t next_resend;            //  mono ms
    bool outbox_empty;              //  last resend round found nothing and
                                    //  no ack was committed since
    bool welcomed;                  //  Welcome seen since sockets were built
    bool dead;                      //  declared silent, not heard since
    int64_t alive_streams;          //  stream count in the last $alive
    bool ever_heard;                //  heard the relay at least once
    int64_t heard;                  //  mono ms of last message, 0: never
    int64_t created;                //  mono ms sockets were built
    int64_t hello_sent;             //  mono ms
    uint64_t hellos;                //  Hellos sent (corr CORR_HELLO | n)
    uint64_t hellos_answered;       //  the last n a Welcome answered
    int relay_heartbeat_ms;         //  from Welcome, 0: not yet known
    uint64_t fetch_corr;            //  counter for fetch corr ids
    zhashx_t *errors_logged;        //  "code:reason" already reported
    cc_loglimit_t log_refused;   //  deliveries refused
    cc_loglimit_t log_streams;   //  stream names not followed
    cc_loglimit_t log_replies;   //  fetch replies dropped or with bad
                                    //  deliveries, bad live deliveries
    cc_loglimit_t log_acked;     //  Acked for no ack we sent
    cc_loglimit_t log_collided;  //  an id and revision held, other bytes
    bool streams_full_logged;       //  STREAMS_MAX reached, said once
    size_t untrimmed;               //  advisories since the last heap trim
    int64_t trim_at;                //  mono ms of the next trim, 0: none
    bool terminated;
    //  Counters (STATUS)
    uint64_t received;              //  advisories committed
    uint64_t refused;               //  advisories that did not verify,
                                    //  or not for our sector
    uint64_t expired;               //  expired on arrival (not handed over)
    uint64_t streams_ignored;       //  stream names not followed
    uint64_t replies_dropped;       //  fetch replies not asked for or
                                    //  over the fetch cap
    uint64_t duplicates;            //  already held (or older)
    uint64_t collisions;            //  ...as other bytes under that id
    uint64_t malformed;             //  undecodable messages
    uint64_t acks_sent;             //  ack messages sent (incl. resends)
    uint64_t acks_confirmed;        //  Acked replies for our nonces
    uint64_t fetches;               //  Fetch requests sent
    uint64_t reconnects;            //  sockets rebuilt after silence
    uint64_t commit_failures;       //  cycles whose commit failed
    uint64_t handed_over;           //  hand-overs done
    uint64_t spool_failures;        //  spool files not written
    uint64_t exec_failures;         //  commands that failed
} self_t;

//  cc_agent.c

//  The relay was heard from (any message proves it alive).
void
    cc_agent_heard (self_t *self);


//  Send a control request to the relay; dropped on a full queue.
void
    cc_agent_send (self_t *self, Certcast__Control *control);
void
    cc_agent_send_hello (self_t *self);

//  cc_agent_streams.c

//  An empty stream table, for self->streams.
zhashx_t *
    cc_agent_streams_new (void);

//  New sockets: subscribe to every stream followed, forget fetches sent.
void
    cc_agent_streams_subscribe (self_t *self);

//  Does this cycle hold all it may (BATCH_MAX advisories or BATCH_BYTES)?
bool
    cc_agent_batch_full (self_t *self);

//  Is name a stream the agent of sector may follow: ORIGIN/SECTOR, ORIGIN
//  1 to 63 of [a-z0-9-], SECTOR ours?
bool
    cc_agent_stream_wanted (const char *name, const char *sector);

//  A Welcome's heads: follow each stream we may (our sector's, at most
//  STREAMS_MAX), fetch what we lack.
void
    cc_agent_follow_heads (self_t *self, const Certcast__Welcome *welcome);

//  Take this cycle's messages from the SUB socket.
void
    cc_agent_handle_stream (self_t *self);

//  A fetch reply, with the corr it came with: taken only if it answers a
//  fetch outstanding for its stream and holds at most FETCH_MAX entries.
void
    cc_agent_handle_deliveries (self_t *self, uint64_t corr,
                                const Certcast__Deliveries *deliveries);

//  zlistx destructor of a pending delivery.
void
    cc_agent_pending_destroy (void **item);

//  Verify the cycle's pending deliveries; drop those that do not verify
//  or are not for our sector, and mark those already expired.
void
    cc_agent_verify (self_t *self);

//  Did any cursor move since the last commit?
bool
    cc_agent_streams_dirty (self_t *self);

//  In the cycle's write transaction: store the cursors that moved.
//  0 or an LMDB error.
int
    cc_agent_streams_put_cursors (self_t *self, MDB_txn *txn);

//  After the commit: the cursors are on disk. After a failed commit: back
//  to the committed cursors, and fetch again.
void
    cc_agent_streams_committed (self_t *self);
void
    cc_agent_streams_rollback (self_t *self);

//  Timers: fetch again where a fetch went unanswered; when that is due
//  next (INT64_MAX: no fetch outstanding).
void
    cc_agent_streams_retry (self_t *self, int64_t now);
int64_t
    cc_agent_streams_next_retry (self_t *self);

#endif
