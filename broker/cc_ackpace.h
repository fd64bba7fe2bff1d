/*  cc_ackpace.h - how many queued acks a relay sends upstream at once.

    The upstream takes or refuses a batch of acks whole. One ack it will
    never take (malformed or not verifying there: a relay and an upstream
    of different releases, a disk that flipped a bit) would refuse every
    batch from its place in the queue on, and hold every later ack of the
    sector out of the national ledger for good. So a batch refused for
    what is in it is sent again in halves until the ack is alone; that one
    is passed over (the caller logs and counts it: it stays in this
    relay's ledger), and batches grow back, doubling after each success.
    Refusals that say nothing of the acks (storage, busy, not yet) are
    sent again as they were.
*/
#ifndef CC_ACKPACE_H_INCLUDED
#define CC_ACKPACE_H_INCLUDED

typedef struct _cc_ackpace_t cc_ackpace_t;

typedef enum {
    CC_ACKPACE_AGAIN,           //  send the same batch again later
    CC_ACKPACE_SMALLER,         //  drop it; the next, from the same place,
                                //  is half its size
    CC_ACKPACE_PASS_OVER        //  drop it and confirm it: its one ack
                                //  will never be taken
} cc_ackpace_verdict_t;

//  most: the largest batch.
cc_ackpace_t *
    cc_ackpace_new (size_t most);

void
    cc_ackpace_destroy (cc_ackpace_t **self_p);

//  How many acks the next batch may take.
size_t
    cc_ackpace_limit (cc_ackpace_t *self);

//  A batch of count acks went upstream.
void
    cc_ackpace_sent (cc_ackpace_t *self, size_t count);

//  The upstream took it.
void
    cc_ackpace_acked (cc_ackpace_t *self);

//  The upstream refused it with code (cc_error_t).
cc_ackpace_verdict_t
    cc_ackpace_refused (cc_ackpace_t *self, int code);

void
    cc_ackpace_test (bool verbose);

#endif
