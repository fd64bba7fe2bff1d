/*  cc_loglimit.h - one log line of a kind per CC_LOGLIMIT_MS at most, the
    rest counted: a peer can send bad input far faster than anyone can
    read a log (a fake relay wrote 3,000,000 lines in 10 s at an agent,
    a fake upstream 46,000 in 20 s at a relay). A plain struct, kept by
    value, one per kind of line.
*/
#ifndef CC_LOGLIMIT_H_INCLUDED
#define CC_LOGLIMIT_H_INCLUDED

#define CC_LOGLIMIT_MS      10000

typedef struct {
    int64_t last;                   //  mono ms of the last line, 0: never
    uint64_t held;                  //  lines not written since
} cc_loglimit_t;

//  May a line of this kind be logged now? *held (if not NULL) is then how
//  many were not logged since the last.
bool
    cc_loglimit_may (cc_loglimit_t *self, uint64_t *held);

void
    cc_loglimit_test (bool verbose);

#endif
