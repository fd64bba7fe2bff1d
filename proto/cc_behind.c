/*  cc_behind.c - telling a stream origin that went back from a race
    (see cc_behind.h).
*/
#include "cc_proto.h"

cc_behind_event_t
cc_behind_welcome (cc_behind_t *self, uint64_t head, uint64_t held,
                   uint64_t *held_then)
{
    assert (self && held_then);
    *held_then = self->from;
    if (head >= held) {
        cc_behind_event_t event = self->from? CC_BEHIND_PAST_AGAIN:
                                              CC_BEHIND_SAME;
        self->welcomes = 0;
        self->from = 0;
        return event;
    }
    if (++self->welcomes != 2)
        return CC_BEHIND_SAME;
    self->from = held;
    *held_then = held;
    return CC_BEHIND_WENT_BACK;
}

void
cc_behind_test (bool verbose)
{
    printf (" * cc_behind: ");
    if (verbose)
        printf ("\n");
    cc_behind_t behind = { 0, 0 };
    uint64_t held_then = 99;
    //  Level or ahead: nothing, however often
    assert (cc_behind_welcome (&behind, 5, 5, &held_then) == CC_BEHIND_SAME);
    assert (cc_behind_welcome (&behind, 9, 5, &held_then) == CC_BEHIND_SAME);
    //  Below once, then level again: a race, nothing said
    assert (cc_behind_welcome (&behind, 3, 5, &held_then) == CC_BEHIND_SAME);
    assert (cc_behind_welcome (&behind, 5, 5, &held_then) == CC_BEHIND_SAME);
    //  Below twice in a row: said once, with what we held
    assert (cc_behind_welcome (&behind, 3, 5, &held_then) == CC_BEHIND_SAME);
    assert (cc_behind_welcome (&behind, 3, 5, &held_then)
            == CC_BEHIND_WENT_BACK);
    assert (held_then == 5 && behind.from == 5);
    assert (cc_behind_welcome (&behind, 4, 5, &held_then) == CC_BEHIND_SAME);
    //  Past it again: said once, with what we held when it went back
    assert (cc_behind_welcome (&behind, 6, 6, &held_then)
            == CC_BEHIND_PAST_AGAIN);
    assert (held_then == 5 && behind.from == 0);
    assert (cc_behind_welcome (&behind, 7, 7, &held_then) == CC_BEHIND_SAME);
    printf ("OK\n");
}
