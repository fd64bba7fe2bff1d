/*  cc_engine_verify.c - the broker engine's verification pipeline: every
    advisory (cc_advisory_open, against the pinned root) and every signed
    ack (cc_ledger_verify_signed_ack) that arrives is checked on the
    verifier's worker actors while the engine goes on reading, committing
    and answering; then screened for scope. What fails is refused with the
    same replies as ever and never reaches the batch, so the write
    transaction sees only verified items.

    Why a pipeline: with a fork-join pool the engine verified a cycle, then
    committed, then answered, then waited for new requests, and the cores
    sat idle through all but the first (a third of each cycle under a
    steady ack load). Now the checks of the next requests run through the
    disk sync of the last ones. Advisories are sent to the workers before
    acks, and their lane moves on its own, so a publish is not held behind
    thousands of queued acks.
*/
#include "cc_broker.h"
#include "cc_engine_internal.h"

#define CHUNK_JOBS      32      //  checks per message to a worker
#define INLINE_BELOW    4       //  fewer checks, workers idle: do them here

//  One verification job: an advisory item, or one ack of an item.
typedef struct {
    cc_engine_item_t *item;
    cc_engine_ack_t *ack;                   //  NULL: the item's advisory
} s_job_t;

//  Verifier job: touches only its own ack, and reads the envelope.
static void
s_verify_ack (cc_engine_ack_t *ack)
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

//  Verifier job: touches only its own item, and reads the root key.
static void
s_verify_advisory (self_t *self, cc_engine_item_t *item)
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
        signed_bytes, size, self->root_key, item->received,
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
        if (!cc_engine_serves (self, content->sectors [index]))
            return self->relay?
                "target sector is not served by this relay":
                "target sector is not a configured sector";
    return NULL;
}

//  A relay may only report for the sectors its roster entry lists. The
//  entry is looked up again: the batch outlives nothing, but a request
//  keeps no pointer into the roster.
static const char *
s_record_refusal (self_t *self, cc_engine_item_t *item, int *code)
{
    const cc_member_t *member = cc_roster_by_curve (self->roster, item->peer);
    if (!member) {
        *code = CC_ENOTALLOWED;
        return "client key is not (or no longer) enrolled";
    }
    const Certcast__Advisory *content = cc_advisory_content (item->advisory);
    bool in_scope = !content->all_sectors;
    for (size_t index = 0; in_scope && index < content->n_sectors; index++)
        in_scope = cc_engine_may_read (member, content->sectors [index]);
    *code = CC_ESCOPE;
    return in_scope? NULL:
        "a relay reports advisories for its own sectors only";
}

//  A relay takes its upstream's word for stream names and numbers, never
//  for what goes on a stream: only the root vouches for that. A genuine
//  advisory for telecom only, or one on a stream of ours, must not reach
//  our banking agents however the upstream labels it (an expired one
//  still may: see the README, "Expired advisories"). NULL: accepted.
static const char *
s_forward_refusal (self_t *self, cc_engine_item_t *item)
{
    const char *sector = cc_engine_sector_of (item->stream);
    if (!cc_engine_serves (self, sector))
        return "a delivery on a stream of a sector this relay does not serve";
    if (cc_engine_own_stream (self, item->stream))
        return "a delivery from upstream on one of this relay's own streams";
    const Certcast__Advisory *content = cc_advisory_content (item->advisory);
    if (!content->all_sectors && !cc_advisory_targets (item->advisory, sector))
        return "the advisory does not target this stream's sector";
    return NULL;
}

//  An issuer's key is its publisher identity (DESIGN): the advisory a
//  client publishes must be signed by that client's own key. Else any
//  issuer enrolled here could put another's advisory, taken from a relay
//  or an agent's spool, on our streams as if it were published here,
//  and take its id here before its issuer does.
static bool
s_own_advisory (self_t *self, cc_engine_item_t *item)
{
    const cc_member_t *member = cc_roster_by_curve (self->roster, item->peer);
    return member && CRYPTO_memcmp (member->sign_key,
                                    cc_advisory_issuer_key (item->advisory),
                                    32) == 0;
}

//  The verdict on one verified item: CC_OK, or a code and *reason.
static int
s_screen (self_t *self, cc_engine_item_t *item, const char **reason)
{
    if (item->type == ITEM_ACKS) {
        //  One bad ack refuses the whole request, as the first one found
        //  (those after it may be unchecked: no code, nothing to say).
        for (size_t index = 0; index < item->n_acks; index++)
            if (!item->acks [index].ack && item->acks [index].code != CC_OK) {
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
    if (item->type == ITEM_PUBLISH && !s_own_advisory (self, item)) {
        *reason = "an issuer publishes only advisories it signed itself "
                  "(its key is its publisher identity)";
        return CC_ENOTALLOWED;
    }
    if (item->type == ITEM_PUBLISH)
        *reason = s_publish_refusal (self, item->advisory);
    else
    if (item->type == ITEM_RECORD)
        *reason = s_record_refusal (self, item, &code);
    else
        *reason = s_forward_refusal (self, item);
    return *reason? code: CC_OK;
}

//  A stall moves the stream's fetch point back to the failed delivery;
//  deliveries of it that arrived before the stall carry an older epoch and
//  are dropped when they leave the lane, so none is written past the gap.
void
cc_engine_stall (self_t *self, const char *stream, uint64_t seq)
{
    //  The epoch is the value itself (never 0): nothing to allocate.
    zhashx_update (self->stalled, stream,
                   (void *) (uintptr_t) ++self->forward_epoch);
    uint64_t pending = cc_engine_head (self->pending_heads, stream);
    if (seq > 0 && (pending == 0 || seq - 1 < pending))
        cc_engine_set_head (self->pending_heads, stream, seq - 1);
}

//  A delivery from upstream that will not be stored: its stream waits
//  here, loudly, rather than skip a number agents expect; the upstream
//  is asked for it again after the fetch retry, and its operator must
//  serve one that passes. Said once per stream per interval.
void
cc_engine_refuse_forward (self_t *self, cc_engine_item_t *item, int code,
                          const char *reason)
{
    cc_engine_stall (self, item->stream, item->seq);
    self->counters.refused [code & 15]++;
    self->counters.forwards_refused++;
    if (cc_engine_may_log (self, item->stream))
        zsys_error ("upstream delivery %.300s#%" PRIu64 " refused (%s: %s): "
                    "the stream waits here until the upstream serves one "
                    "that passes", item->stream, item->seq,
                    cc_strerror (code), reason? reason: "");
}

static bool
s_is_stale (self_t *self, cc_engine_item_t *item)
{
    if (item->type != ITEM_FORWARD)
        return false;
    uintptr_t epoch = (uintptr_t) zhashx_lookup (self->stalled, item->stream);
    return epoch && item->epoch < epoch;
}

//  A verified item leaves its lane: into the batch, or refused.
static void
s_screen_item (self_t *self, cc_engine_item_t *item)
{
    if (item->type == ITEM_ACKS)
        cc_engine_peer_checks (self, item->peer, -(ssize_t) item->n_acks);
    const char *reason = NULL;
    int code = s_screen (self, item, &reason);
    if (s_is_stale (self, item))
        cc_engine_item_destroy ((void **) &item);
    else
    if (code == CC_OK) {
        zlistx_add_end (self->batch, item);
        if (item->type == ITEM_ACKS && !self->acks_due)
            self->acks_due = zclock_mono () + ACK_LINGER_MS;
    }
    else {
        if (item->type == ITEM_FORWARD)
            cc_engine_refuse_forward (self, item, code, reason);
        else
            cc_engine_refuse (self, item->routing, item->corr, item->peer,
                              code, reason);
        cc_engine_item_destroy ((void **) &item);
    }
}

static void
s_take_verified (self_t *self, zlistx_t *lane)
{
    cc_engine_item_t *item = (cc_engine_item_t *) zlistx_first (lane);
    while (item && item->jobs_done == item->jobs
    &&    (item->type != ITEM_ACKS
       ||  item->forwards_before <= self->forwards_taken)) {
        zlistx_detach_cur (lane);
        if (item->type == ITEM_FORWARD)
            self->forwards_taken++;
        s_screen_item (self, item);
        item = (cc_engine_item_t *) zlistx_first (lane);
    }
}

//  Fill `jobs` from the head of an unsent list; returns how many.
static size_t
s_fill (self_t *self, zlistx_t *unsent, s_job_t *jobs, size_t room)
{
    size_t count = 0;
    cc_engine_item_t *item = (cc_engine_item_t *) zlistx_first (unsent);
    while (item && count < room) {
        //  A delivery behind a stall is dropped unread: no check for it.
        //  Nor are the acks left in a request already refused: one bad
        //  ack refuses it whole, and checking a flood of copies would
        //  hold the cores from everyone else.
        if (s_is_stale (self, item) || item->ack_refused) {
            size_t skipped = item->jobs - item->jobs_sent;
            self->jobs_unsent -= skipped;
            self->jobs_unfinished -= skipped;
            item->jobs_done += skipped;
            item->jobs_sent = item->jobs;
            zlistx_detach_cur (unsent);
            item = (cc_engine_item_t *) zlistx_first (unsent);
            continue;
        }
        jobs [count].item = item;
        jobs [count].ack = item->type == ITEM_ACKS?
                           &item->acks [item->jobs_sent]: NULL;
        count++;
        if (++item->jobs_sent == item->jobs) {
            zlistx_detach_cur (unsent);
            item = (cc_engine_item_t *) zlistx_first (unsent);
        }
    }
    self->jobs_unsent -= count;
    return count;
}

static void
s_done (self_t *self, s_job_t *jobs, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        jobs [index].item->jobs_done++;
        if (jobs [index].ack)
            self->counters.ack_checks++;
        if (jobs [index].ack && !jobs [index].ack->ack)
            jobs [index].item->ack_refused = true;
    }
    self->jobs_unfinished -= count;
}

static void
s_finished (self_t *self, zframe_t **frame_p)
{
    s_done (self, (s_job_t *) zframe_data (*frame_p),
            zframe_size (*frame_p) / sizeof (s_job_t));
    zframe_destroy (frame_p);
}

//  The next chunk to send: advisories first. A short queue is split
//  over the workers, so a burst of a few publishes uses every core.
static size_t
s_next_chunk (self_t *self, s_job_t *jobs)
{
    size_t size = self->verify_workers?
        (self->jobs_unsent + self->verify_workers - 1) / self->verify_workers:
        CHUNK_JOBS;
    if (size > CHUNK_JOBS)
        size = CHUNK_JOBS;
    size_t count = s_fill (self, self->unsent_advisories, jobs, size);
    return count + s_fill (self, self->unsent_acks, jobs + count,
                           size - count);
}

//  A few checks with every worker idle run here: waking a worker costs
//  more than they do.
static void
s_send (self_t *self)
{
    s_job_t jobs [CHUNK_JOBS];
    if (self->jobs_unsent && self->jobs_unsent < INLINE_BELOW
    &&  cc_verifier_busy (self->verifier) == 0) {
        //  All of them: a chunk is split over the workers, and what a
        //  first chunk left would wait for the next wake-up.
        while (self->jobs_unsent) {
            size_t count = s_next_chunk (self, jobs);
            for (size_t index = 0; index < count; index++)
                s_verify_job (&jobs [index], self);
            s_done (self, jobs, count);
        }
        return;
    }
    while (self->jobs_unsent && cc_verifier_room (self->verifier)) {
        size_t count = s_next_chunk (self, jobs);
        if (count == 0)
            break;              //  all that was left was stale
        bool sent = cc_verifier_send (self->verifier, jobs, count);
        assert (sent);
    }
}

void
cc_engine_queue (self_t *self, cc_engine_item_t *item)
{
    item->received = (int64_t) time (NULL);
    item->epoch = self->forward_epoch;
    if (item->type == ITEM_FORWARD)
        self->forwards_queued++;
    item->forwards_before = self->forwards_queued;
    item->jobs = item->type == ITEM_ACKS? item->n_acks:
                 item->type == ITEM_ROSTER? 0: 1;
    if (item->type == ITEM_ACKS)
        cc_engine_peer_checks (self, item->peer, (ssize_t) item->n_acks);
    zlistx_add_end (item->type == ITEM_ACKS? self->lane_acks:
                    self->lane_advisories, item);
    if (item->jobs) {
        zlistx_add_end (item->type == ITEM_ACKS? self->unsent_acks:
                        self->unsent_advisories, item);
        self->jobs_unsent += item->jobs;
        self->jobs_unfinished += item->jobs;
    }
}

void
cc_engine_verify_advance (self_t *self, bool finish)
{
    while (true) {
        zframe_t *frame;
        while ((frame = cc_verifier_recv (self->verifier, false)))
            s_finished (self, &frame);
        s_send (self);
        if (!finish || self->jobs_unfinished == 0)
            break;
        frame = cc_verifier_recv (self->verifier, true);
        if (!frame)
            break;          //  interrupted: what is checked still goes
        s_finished (self, &frame);
    }
    s_take_verified (self, self->lane_advisories);
    s_take_verified (self, self->lane_acks);
}

bool
cc_engine_verify_start (self_t *self)
{
    self->lane_advisories = zlistx_new ();
    zlistx_set_destructor (self->lane_advisories, cc_engine_item_destroy);
    self->lane_acks = zlistx_new ();
    zlistx_set_destructor (self->lane_acks, cc_engine_item_destroy);
    self->unsent_advisories = zlistx_new ();
    self->unsent_acks = zlistx_new ();
    self->stalled = zhashx_new ();
    //  The engine thread no longer verifies alongside: one worker a core.
    self->verify_workers = cc_pool_workers_default () + 1;
    self->verifier = cc_verifier_new (self->verify_workers, sizeof (s_job_t),
                                      s_verify_job, self);
    return self->verifier != NULL;
}

void
cc_engine_verify_stop (self_t *self)
{
    //  Workers first: they may hold jobs that point into lane items.
    cc_verifier_destroy (&self->verifier);
    zlistx_destroy (&self->unsent_advisories);
    zlistx_destroy (&self->unsent_acks);
    zlistx_destroy (&self->lane_advisories);
    zlistx_destroy (&self->lane_acks);
    zhashx_destroy (&self->stalled);
}
