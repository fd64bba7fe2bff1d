/*  cc_engine_internal.h - private to the broker engine: the actor's state
    and the batch items, shared by the files of the one engine actor
    (cc_engine.c: actor, sockets and control handlers; cc_engine_batch.c:
    the cycle's items, its one write transaction and its replies;
    cc_engine_verify.c: the verification pipeline between intake and the
    write;
    cc_engine_upstream.c: a relay's side of its upstream link;
    cc_engine_status.c: the STATUS reply). Only the engine thread touches
    any of it, but for the verifier's jobs (cc_engine_verify.c), which each
    write only their own item or ack while the item waits in its lane.

    Not a class: the engine is one actor, and these files are the parts of
    its one poll cycle, so they share its self_t as the one owner.
*/
#ifndef CC_ENGINE_INTERNAL_H_INCLUDED
#define CC_ENGINE_INTERNAL_H_INCLUDED

#define ACKQ_BATCH          4096    //  signed acks per upstream batch, at most
#define ACKS_PER_AGENT_REQUEST 64   //  an agent sends one signed ack a cycle
#define PEER_CHECKS_MAX     ACKQ_BATCH  //  a client's acks being checked
#define CYCLE_MAX_MESSAGES  2000    //  per socket per cycle (bounded batch)
#define VERIFY_BACKLOG_MAX  2000    //  checks waiting: stop reading requests
#define ACK_LINGER_MS       10      //  acks alone wait this long for company
#define ACK_GROUP           64      //  ...or until this many are verified
#define ROSTER_REFUSALS_LISTED  32  //  entries not taken named in the reply

typedef struct _cc_engine_ack_t cc_engine_ack_t;

typedef enum {
    ITEM_PUBLISH, ITEM_ACKS, ITEM_ROSTER, ITEM_FORWARD, ITEM_RECORD
} cc_engine_item_type_t;

//  One queued piece of work for this cycle's transaction.
typedef struct {
    cc_engine_item_type_t type;
    zframe_t *routing;              //  who to answer (NULL: nobody)
    uint64_t corr;
    char peer [41];                 //  CURVE key of the requester
    //  ITEM_PUBLISH, ITEM_RECORD: the request's body, until verified
    Certcast__Publish *publish;
    //  ITEM_PUBLISH, ITEM_RECORD, ITEM_FORWARD: set by verification
    cc_advisory_t *advisory;
    //  ITEM_ACKS: the request's body and one entry per signed ack in it
    Certcast__Acks *acks_request;
    cc_engine_ack_t *acks;                  //  n_acks entries
    size_t n_acks;
    uint8_t agent_key [32];         //  the connected agent; acks must carry it
    //  verification's verdict (advisories; acks keep their own)
    int refused_code;
    const char *refused_reason;
    int64_t received;               //  wall clock at intake: checked as of then
    size_t jobs, jobs_sent, jobs_done;  //  checks this item needs
    bool ack_refused;               //  ITEM_ACKS: one failed, skip the rest
    uint64_t epoch;                 //  ITEM_FORWARD: stall epoch at intake
    uint64_t forwards_before;       //  ITEM_ACKS: forwards queued before it
    //  ITEM_ROSTER: a relay's whole roster, put together from its parts
    cc_roster_set_t *roster;
    char via [64];
    cc_member_t *reporter;          //  the relay as enrolled, owned
    //  ... and its entries not taken (results, reset per attempt): the
    //  first ROSTER_REFUSALS_LISTED, each with who holds its key ("" if
    //  nobody: out of the relay's sectors), and how many in all
    Certcast__RosterRefusal *refusals;
    char (*holders) [64];
    size_t n_refusals;
    int held_elsewhere, out_of_sector;
    //  ITEM_FORWARD (relay: a delivery from upstream)
    char *stream;
    uint64_t seq;
    zchunk_t *delivery;
    //  results, reset at the start of each attempt
    int code;
    const char *reason;
    int count;
    int unknown;                    //  ack entries for advisories not held
    //  ITEM_PUBLISH: one head per stream placed on; the streams are the
    //  engine's own_streams, so an advisory reaches every sector served
    Certcast__StreamHead *placed;
    size_t n_placed;
} cc_engine_item_t;

//  One signed ack of an Acks request. A verifier job fills everything below
//  envelope and expected; the engine reads it once its chunk is back.
struct _cc_engine_ack_t {
    const Certcast__SignedAck *envelope;    //  in the item's request
    const uint8_t *expected;        //  agent key it must carry, NULL: any
    uint8_t *bytes;                 //  its encoding, kept as evidence
    size_t size;
    Certcast__Ack *ack;             //  verified decode, NULL: refused
    int code;
    const char *reason;
};

//  What a committed batch makes visible on the PUB socket.
typedef struct {
    char *stream;
    uint64_t seq;
    zchunk_t *delivery;
} cc_engine_outgoing_t;

typedef struct {
    uint64_t published, forwarded, fetches, deliveries_served;
    uint64_t ack_messages, ack_rows, ack_duplicates, acks_upstream;
    uint64_t acks_refused_upstream; //  acks the upstream will never take
    uint64_t ack_checks;            //  ack signatures checked (CPU spent)
    uint64_t forwards_refused;      //  deliveries from upstream not stored
    uint64_t acks_unknown;          //  entries naming advisories not held
    uint64_t acks_deferred;         //  ... while catching up: sent back
    uint64_t stream_reopens;        //  stream socket made anew (removals)
    uint64_t rosters, roster_parts, commits, commit_failures, bad_frames;
    //  Roster entries not taken: their key is held by another relay or
    //  our own allow directory, or they are no agent of a sector the
    //  relay may read; roster parts refused over a bound on what we hold
    uint64_t roster_entries_held, roster_entries_out_of_sector;
    uint64_t roster_over_limit;
    uint64_t refused [16];          //  by cc_error_t
} cc_engine_counters_t;

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    cc_engine_config_t config;      //  strings below are our copies
    char *name, *listen_host, *data_dir, *allow_dir, *upstream_host;
    char *upstream_key;
    char **sectors;                 //  NULL-terminated, owned
    char **own_streams;             //  NAME/SECTOR per sector, owned
    size_t n_sectors;
    uint8_t root_key [32];
    bool relay;
    bool terminated;
    cc_store_t *store;
    cc_roster_t *roster;
    cc_roster_chunks_t *roster_chunks;  //  relays' rosters arriving in parts
    cc_ledger_digests_t *digests;       //  of advisories acks name (batch)
    cc_heard_t *heard;              //  when each relay below last spoke
    bool heard_in_txn;              //  this attempt wrote its times
    zactor_t *auth;
    zsock_t *pub;
    cc_heartbeats_t *heartbeats;    //  sent on pub
    zsock_t *router;
    zpoller_t *poller;
    cc_upstream_t *upstream;        //  relays only
    cc_ackpace_t *ackpace;          //  relays only: upstream ack batch size
    zhashx_t *heads;                //  stream -> uint64_t * committed head
    zhashx_t *pending_heads;        //  stream -> uint64_t * batched head
    //  Intake order, kept per lane: an item leaves its lane for the batch
    //  once it and every item before it in the lane are verified. Acks and
    //  advisories never depend on each other's uncommitted items (an ack
    //  names an advisory agents could only have seen committed), so
    //  advisories do not wait behind an ack storm's checks.
    zlistx_t *lane_advisories;      //  cc_engine_item_t, owned: all but acks
    zlistx_t *lane_acks;            //  cc_engine_item_t, owned
    zlistx_t *unsent_advisories;    //  borrowed: items with checks to send
    zlistx_t *unsent_acks;          //  borrowed
    size_t jobs_unsent, jobs_unfinished;
    cc_verifier_t *verifier;        //  the checks, on worker actors
    uint64_t forward_epoch;         //  bumped at each stall
    zhashx_t *stalled;              //  stream -> epoch it stalled at (value)
    bool router_paused;             //  backlog full: not reading requests
    bool draining;                  //  exiting: check all that was read
    size_t verify_workers;
    //  An agent that moved here from another relay may ack an advisory
    //  whose delivery is still being checked in our advisory lane: its ack
    //  waits for the forwards queued before it, or it would be "unknown".
    uint64_t forwards_queued, forwards_taken;
    zlistx_t *batch;                //  cc_engine_item_t, verified, to write
    zlistx_t *outgoing;             //  cc_engine_outgoing_t of this attempt
    zhashx_t *peer_logged;          //  curve key -> int64_t * last log ms
    zhashx_t *origin_claims;        //  relay node name -> hex sign key of
                                    //  the relay that numbers it (owned)
    zhashx_t *fetch_shares;         //  curve key -> s_fetch_share_t (cc_engine.c)
    zhashx_t *peer_checks;          //  curve key -> size_t *: its acks queued
                                    //  or being checked
    int64_t acks_due;               //  mono ms the waiting acks commit, 0: none
    int64_t started;
    int64_t next_heartbeat;
    int64_t next_housekeeping;
    int64_t allow_mtime;            //  ns
    uint64_t ackq_confirm;          //  upstream confirmed up to, to commit
    uint64_t ackq_confirmed;        //  the same, committed or not
    char report_stream [128];       //  own stream of the report in flight:
                                    //  NAME/SECTOR, 63 characters each
    uint64_t report_confirm;        //  its seq, once answered (batched)
    bool roster_dirty;              //  send roster upstream
    cc_engine_counters_t counters;
} self_t;

//  cc_engine.c

//  Committed (or batched) head of stream in heads, 0 if none; set it.
uint64_t
    cc_engine_head (zhashx_t *heads, const char *stream);
void
    cc_engine_set_head (zhashx_t *heads, const char *stream, uint64_t value);

//  Do we serve this sector? May this member read streams of this sector?
bool
    cc_engine_serves (self_t *self, const char *sector);
bool
    cc_engine_may_read (const cc_member_t *member, const char *sector);

//  Is sector in the member's roster sector list ("all" or by name)?
bool
    cc_engine_sector_listed (const cc_member_t *member, const char *sector);

//  May we log about this peer now (once per peer per interval)?
bool
    cc_engine_may_log (self_t *self, const char *peer);

//  Answer a control request; routing is borrowed.
void
    cc_engine_reply (self_t *self, zframe_t *routing,
                     Certcast__Control *control);
void
    cc_engine_reply_acked (self_t *self, zframe_t *routing, uint64_t corr,
                           int count);

//  Refuse a request: count it, log once per peer per interval, answer
//  (when routing is not NULL).
void
    cc_engine_refuse (self_t *self, zframe_t *routing, uint64_t corr,
                      const char *peer, int code, const char *reason);
//  Answer an Error and nothing else (routing NULL: nobody to answer).
void
    cc_engine_reply_error (self_t *self, zframe_t *routing, uint64_t corr,
                           int code, const char *reason);

//  A client's acks queued or being checked: by how many, up or down.
size_t
    cc_engine_peer_checks (self_t *self, const char *peer, ssize_t change);

//  The sector of a stream name ORIGIN/SECTOR.
const char *
    cc_engine_sector_of (const char *stream);
//  Is stream one of our own (NAME/SECTOR), numbered here?
bool
    cc_engine_own_stream (self_t *self, const char *stream);

//  cc_engine_status.c

//  The STATUS reply, one JSON object. Caller frees. Stream heads only of
//  the streams reader may read (NULL: all, for the daemon's own pipe).
char *
    cc_engine_status_json (self_t *self, const cc_member_t *reader);

//  cc_engine_batch.c

//  A new batch item; routing is copied (NULL: nobody to answer).
cc_engine_item_t *
    cc_engine_item_new (cc_engine_item_type_t type, zframe_t *routing,
                        uint64_t corr, const char *peer);

//  zlistx destructors of batch items and of outgoing deliveries.
void
    cc_engine_item_destroy (void **item_p);
void
    cc_engine_outgoing_destroy (void **item_p);

//  The one commit point of the loop (see cc_engine_batch.c).
void
    cc_engine_cycle_end (self_t *self, bool flush);
//  True for the national broker; for a relay, while it is linked upstream
//  and has committed every delivery up to the heads it was told of. Until
//  then it answers acks of advisories it does not hold "not yet".
bool
    cc_engine_caught_up (self_t *self);

//  cc_engine_verify.c

//  Start the verifier and its lanes; false if a worker could not start.
bool
    cc_engine_verify_start (self_t *self);

//  Stop the verifier (after the chunks it holds), then free the lanes.
void
    cc_engine_verify_stop (self_t *self);

//  Queue an arrived item for verification in its lane. Takes ownership.
void
    cc_engine_queue (self_t *self, cc_engine_item_t *item);

//  Collect finished checks, send more, and move every verified item at
//  the head of its lane into the batch, refusing what failed. With
//  `finish`, first wait until nothing is left to check.
void
    cc_engine_verify_advance (self_t *self, bool finish);

//  A delivery of `stream` at `seq` will not be written: later ones that
//  arrived already are dropped, and the stream is fetched again from seq.
void
    cc_engine_stall (self_t *self, const char *stream, uint64_t seq);
//  A delivery from upstream refused (its check, its scope, or what the
//  log would not take): stall its stream there, count it and say so.
void
    cc_engine_refuse_forward (self_t *self, cc_engine_item_t *item, int code,
                              const char *reason);

//  cc_engine_upstream.c (relays)

//  Start the upstream link and attach it to the poller. Never NULL.
cc_upstream_t *
    cc_engine_upstream_new (self_t *self);

//  After each poll: the link's timers, then our roster, our own
//  advisories' reports and the ledgered acks, upstream.
void
    cc_engine_upstream_tick (self_t *self);

#endif
