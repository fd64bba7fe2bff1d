/*  cc_loglimit.c - one log line of a kind per CC_LOGLIMIT_MS at most (see
    cc_loglimit.h).
*/
#include "cc_proto.h"

bool
cc_loglimit_may (cc_loglimit_t *self, uint64_t *held)
{
    assert (self);
    int64_t now = zclock_mono ();
    if (self->last && now - self->last < CC_LOGLIMIT_MS) {
        self->held++;
        return false;
    }
    if (held)
        *held = self->held;
    self->held = 0;
    self->last = now;
    return true;
}

void
cc_loglimit_test (bool verbose)
{
    (void) verbose;
    printf (" * cc_loglimit: ");
    //  One line, then none for CC_LOGLIMIT_MS, counted
    cc_loglimit_t limit = { 0, 0 };
    uint64_t held = 99;
    assert (cc_loglimit_may (&limit, &held) && held == 0);
    for (int index = 0; index < 1000; index++)
        assert (!cc_loglimit_may (&limit, &held));
    limit.last -= CC_LOGLIMIT_MS;
    assert (cc_loglimit_may (&limit, &held) && held == 1000);
    assert (!cc_loglimit_may (&limit, NULL));
    printf ("OK\n");
}
