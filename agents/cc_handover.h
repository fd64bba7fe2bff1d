/*  cc_handover.h - the agent's hand-over threads, and the startup replay of
    hand-overs a stop interrupted.

    A cycle's spool syncs took longer than its commit, and deliveries that
    arrived meanwhile waited for both. So the hand-over runs on a thread of
    its own: the actor commits, passes the committed batch (advisories,
    markers, the signed ack) to it and goes on with the next cycle. The
    thread spools batches in commit order, several as one when they queue
    up (one set of syncs for all), and says so: the actor sends each
    batch's ack. The batches' commands (--exec) then run on a second
    thread, in the same order, and only then does a batch come back, for
    the next commit to clear its markers. Per batch the order stays
    commit, spool, ack, commands, clear markers, and a crash anywhere
    replays the hand-over from the markers (cc_handover_replay, the first
    batch the thread gets at the next start).

    cc_handover_t owns its threads and the batches on their way; it
    borrows the cc_handoff_t, which only its threads may use while they
    run (the first its spool files, the second its commands). A batch
    owns its advisories, stream names and ack.
*/
#ifndef CC_HANDOVER_H_INCLUDED
#define CC_HANDOVER_H_INCLUDED

typedef struct _cc_handover_t cc_handover_t;
typedef struct _cc_handover_batch_t cc_handover_batch_t;

//  An empty batch: one committed cycle on its way to the host and back.
cc_handover_batch_t *
    cc_handover_batch_new (void);

void
    cc_handover_batch_destroy (cc_handover_batch_t **self_p);

//  Add a committed advisory, in commit order. Takes ownership of
//  *advisory_p (and nulls it); copies stream.
void
    cc_handover_batch_add (cc_handover_batch_t *self,
                           cc_advisory_t **advisory_p, const char *stream,
                           uint64_t seq, int64_t received_at, uint64_t marker);

//  The signed ack covering the batch, to send once it is handed over.
//  Takes ownership of *ack_p (and nulls it).
void
    cc_handover_batch_set_ack (cc_handover_batch_t *self, uint64_t nonce,
                               uint8_t **ack_p, size_t ack_size);

//  Advisories in the batch.
size_t
    cc_handover_batch_size (cc_handover_batch_t *self);

//  Handoff marker of the index-th advisory.
uint64_t
    cc_handover_batch_marker (cc_handover_batch_t *self, size_t index);

//  The ack's nonce (0: none) and its SignedAck bytes (NULL: none), valid
//  while the batch lives.
uint64_t
    cc_handover_batch_nonce (cc_handover_batch_t *self);
const uint8_t *
    cc_handover_batch_ack (cc_handover_batch_t *self, size_t *size);

//  A batch of advisories handed over before whose spool files could not be
//  written: the thread writes those files only (no log line, no command).
void
    cc_handover_batch_set_respool (cc_handover_batch_t *self);

bool
    cc_handover_batch_is_respool (cc_handover_batch_t *self);

//  Set by the thread: was the index-th advisory's spool file not written?
bool
    cc_handover_batch_spool_failed (cc_handover_batch_t *self, size_t index);

//  Set by the thread: was the index-th advisory's command not run, or
//  stopped, because the agent is stopping (cc_handoff_stop)?
bool
    cc_handover_batch_exec_skipped (cc_handover_batch_t *self, size_t index);

//  Move the advisories whose spool file was not written, with their
//  markers, to the end of into; returns how many.
size_t
    cc_handover_batch_move_failed (cc_handover_batch_t *self,
                                   cc_handover_batch_t *into);

//  Set by the thread: spool files not written, commands that failed.
uint64_t
    cc_handover_batch_spool_failures (cc_handover_batch_t *self);
uint64_t
    cc_handover_batch_exec_failures (cc_handover_batch_t *self);

//  Start the threads over handoff (borrowed; leave it to them until
//  cc_handover_destroy): the second only if handoff has a command. NULL
//  if the thread could not start.
cc_handover_t *
    cc_handover_new (cc_handoff_t *handoff);

//  Stop the threads. Take every batch back first (cc_handover_waiting):
//  batches still on their way are not freed. Nulls the caller's pointer.
void
    cc_handover_destroy (cc_handover_t **self_p);

//  The thread's actor: readable when a batch is spooled or came back (to
//  poll).
zactor_t *
    cc_handover_actor (cc_handover_t *self);

//  Pass a committed batch to the thread. Takes ownership of *batch_p.
void
    cc_handover_send (cc_handover_t *self, cc_handover_batch_t **batch_p);

//  The next message of the thread about a batch (waits for it); NULL if
//  interrupted. *done true: the batch is handed over and back, and the
//  caller destroys it. *done false: only its spool files are written (a
//  batch with an ack says so first, before its commands run), so its ack
//  may be sent: the batch is still the thread's, and the caller reads
//  nothing of it but its ack (cc_handover_batch_nonce, _ack).
cc_handover_batch_t *
    cc_handover_recv (cc_handover_t *self, bool *done);

//  Batches sent and not yet taken back.
size_t
    cc_handover_waiting (cc_handover_t *self);

//  True past the backlog (in batches, advisories or their bytes): take
//  batches back before sending more, so memory stays bounded when the
//  host's disk is slower than the relay, even for advisories of 1 MiB.
bool
    cc_handover_backlogged (cc_handover_t *self);

//  Startup: every advisory whose handoff marker a stop or crash left in
//  the store, verified against root_key again, added to batch (an empty,
//  not respool batch) with its marker, in marker order; what no longer
//  verifies, or has expired since it arrived, is logged and its marker
//  removed: it is not handed over. The caller sends the batch
//  to the thread before any commit's: it carries no ack (those acks are
//  in the outbox), and comes back as any batch does (markers of what was
//  handed over to clear, spool files to write again, commands a stop
//  skipped kept). 0, or -1 / an LMDB error.
int
    cc_handover_replay (cc_store_t *store, const uint8_t *root_key,
                        cc_handover_batch_t *batch);

void
    cc_handover_test (bool verbose);

#endif
