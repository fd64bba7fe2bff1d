/*  cc_ackpace.c - how many queued acks a relay sends upstream at once
    (see cc_ackpace.h).
*/
#include "cc_broker.h"

struct _cc_ackpace_t {
    size_t most;                    //  the largest batch
    size_t limit;                   //  the next batch's size, at most
    size_t in_flight;               //  acks in the batch sent last
};

cc_ackpace_t *
cc_ackpace_new (size_t most)
{
    assert (most > 0);
    cc_ackpace_t *self = (cc_ackpace_t *) zmalloc (sizeof (cc_ackpace_t));
    assert (self);
    self->most = most;
    self->limit = most;
    return self;
}

void
cc_ackpace_destroy (cc_ackpace_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

size_t
cc_ackpace_limit (cc_ackpace_t *self)
{
    assert (self);
    return self->limit;
}

void
cc_ackpace_sent (cc_ackpace_t *self, size_t count)
{
    assert (self);
    self->in_flight = count;
}

void
cc_ackpace_acked (cc_ackpace_t *self)
{
    assert (self);
    self->limit = self->limit > self->most / 2? self->most: self->limit * 2;
}

cc_ackpace_verdict_t
cc_ackpace_refused (cc_ackpace_t *self, int code)
{
    assert (self);
    //  Only these say something is wrong with an ack itself; the rest are
    //  the upstream's state (storage, busy, not yet) or ours (enrolment),
    //  and passing acks over for them would lose receipts.
    if (code != CC_EMALFORMED && code != CC_ESIGNATURE)
        return CC_ACKPACE_AGAIN;
    if (self->in_flight > 1) {
        self->limit = self->in_flight / 2;
        return CC_ACKPACE_SMALLER;
    }
    self->limit = 1;
    return CC_ACKPACE_PASS_OVER;
}


//  --------------------------------------------------------------------------
//  Self test: one bad ack at place 777 of a queue of 5,000, sent in
//  batches of up to 4,096 by this pacing, is passed over alone; every
//  other ack is taken.

void
cc_ackpace_test (bool verbose)
{
    printf (" * cc_ackpace: ");
    cc_ackpace_t *pace = cc_ackpace_new (4096);
    size_t queue = 5000, bad = 777, next = 0, taken = 0, passed = 0;
    size_t batches = 0;
    while (next < queue) {
        size_t count = cc_ackpace_limit (pace);
        if (count > queue - next)
            count = queue - next;
        assert (count > 0);
        cc_ackpace_sent (pace, count);
        batches++;
        if (bad >= next && bad < next + count) {
            cc_ackpace_verdict_t verdict =
                cc_ackpace_refused (pace, CC_EMALFORMED);
            if (verdict == CC_ACKPACE_PASS_OVER) {
                assert (count == 1 && next == bad);
                passed++;
                next++;
            }
            else
                assert (verdict == CC_ACKPACE_SMALLER);
        }
        else {
            cc_ackpace_acked (pace);
            taken += count;
            next += count;
        }
    }
    assert (passed == 1 && taken == queue - 1);
    if (verbose)
        printf ("(%zu batches) ", batches);
    assert (batches < 60);
    //  Back to full size after enough successes.
    for (int round = 0; round < 20; round++)
        cc_ackpace_acked (pace);
    assert (cc_ackpace_limit (pace) == 4096);
    //  A refusal that says nothing of the acks keeps the batch as it is.
    cc_ackpace_sent (pace, 4096);
    assert (cc_ackpace_refused (pace, CC_ESTORAGE) == CC_ACKPACE_AGAIN);
    assert (cc_ackpace_refused (pace, CC_EBUSY) == CC_ACKPACE_AGAIN);
    assert (cc_ackpace_refused (pace, CC_ENOTYET) == CC_ACKPACE_AGAIN);
    assert (cc_ackpace_refused (pace, CC_ENOTALLOWED) == CC_ACKPACE_AGAIN);
    assert (cc_ackpace_limit (pace) == 4096);
    //  A signature refusal of a lone ack passes it over.
    cc_ackpace_sent (pace, 1);
    assert (cc_ackpace_refused (pace, CC_ESIGNATURE) == CC_ACKPACE_PASS_OVER);
    cc_ackpace_destroy (&pace);
    assert (pace == NULL);
    printf ("OK\n");
}
