/*  cc_engine_verify.c - the broker engine's verification of a poll
    cycle: every advisory (cc_advisory_open, against the pinned root) and
    every signed ack (cc_ledger_verify_signed_ack) of the batch, at once on
    the fork-join pool (Ed25519 is the one CPU-bound step, and a cycle
    holds up to thousands of acks), then screened for scope. What fails is
    refused with the same replies as ever and dropped from the batch
    before the write transaction begins.
*/
#include "cc_broker.h"
#include "cc_engine_internal.h"

//  One verification job: an advisory item, or one ack of an item.
typedef struct {
    cc_engine_item_t *item;
    cc_engine_ack_t *ack;                   //  NULL: the item's advisory
} s_job_t;

//  Pool job: touches only its own ack, and reads the envelope.
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

//  Pool job: touches only its own item; reads the root key and the clock
//  the engine set before the run.
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

//  The verdict on one verified item: CC_OK, or a code and *reason.
static int
s_screen (self_t *self, cc_engine_item_t *item, const char **reason)
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
    for (cc_engine_item_t *item =
             (cc_engine_item_t *) zlistx_first (self->batch);
         item; item = (cc_engine_item_t *) zlistx_next (self->batch)) {
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
        cc_engine_refuse (self, item->routing, item->corr, item->peer, code,
                          reason);
        zlistx_delete (self->batch, zlistx_cursor (self->batch));
    }
    zhashx_destroy (&stalled);
    for (cc_engine_item_t *item =
             (cc_engine_item_t *) zlistx_first (self->batch);
         item; item = (cc_engine_item_t *) zlistx_next (self->batch))
        item->verified = true;
}

//  Every advisory and every ack of the cycle, verified across the pool.
void
cc_engine_verify_batch (self_t *self)
{
    size_t count = 0;
    for (cc_engine_item_t *item =
             (cc_engine_item_t *) zlistx_first (self->batch);
         item; item = (cc_engine_item_t *) zlistx_next (self->batch))
        count += item->verified || item->type == ITEM_ROSTER? 0:
                 item->type == ITEM_ACKS? item->n_acks: 1;
    if (count > 0) {
        s_job_t *jobs = (s_job_t *) zmalloc (count * sizeof (s_job_t));
        size_t index = 0;
        for (cc_engine_item_t *item =
                 (cc_engine_item_t *) zlistx_first (self->batch);
             item; item = (cc_engine_item_t *) zlistx_next (self->batch)) {
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
