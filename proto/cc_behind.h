/*  cc_behind.h - telling a stream origin that went back from a race.

    Nobody downstream renumbers a stream. When its origin, restored from an
    older copy, announces a head below what a receiver holds, what it
    numbers again up to there is taken for what the receiver holds, and
    dropped: the receiver cannot repair that, it can only say so. A head
    below ours seen once may be a race (a live delivery read before the
    Welcome sent ahead of it), so it takes two Welcomes in a row, seconds
    apart. One cc_behind_t per followed stream, in the receiver's own
    stream state; nothing is allocated.
*/
#ifndef CC_BEHIND_H_INCLUDED
#define CC_BEHIND_H_INCLUDED

typedef struct {
    uint64_t welcomes;          //  Welcomes in a row below what we held
    uint64_t from;              //  what we held when it went back, 0: not
} cc_behind_t;

typedef enum {
    CC_BEHIND_SAME,             //  nothing to say
    CC_BEHIND_WENT_BACK,        //  say it: the origin is below *held_then
    CC_BEHIND_PAST_AGAIN        //  say it: the origin passed *held_then
} cc_behind_event_t;

//  A Welcome announced `head`; we hold `held`. On an event, *held_then is
//  what we held when the origin went back.
cc_behind_event_t
    cc_behind_welcome (cc_behind_t *self, uint64_t head, uint64_t held,
                       uint64_t *held_then);

void
    cc_behind_test (bool verbose);

#endif
