/*  cc_heard.h - when a broker last heard each relay below it, and that it
    was running itself.

    A relay that is down, or cut off from its national broker, leaves
    every agent behind it "missing" in the compliance report, and Rule 26
    has the designated officer told who did not comply: the officer must
    be able to tell those agents from ones that got the advisory and said
    nothing. A relay speaks at least every 5 s (its Hello), so the engine
    notes each relay's messages here and writes the time into CC_DB_SEEN
    (by the relay's sign key) once it has moved on by a step, riding on a
    commit made anyway or on the housekeeping one. With each such write
    goes the broker's own "alive" time (CC_META_ALIVE), so a report on a
    stopped broker's data judges relays against when the broker last ran,
    not against the reader's clock.

    Only the engine thread uses a cc_heard_t; readers use the store.
*/
#ifndef CC_HEARD_H_INCLUDED
#define CC_HEARD_H_INCLUDED

//  Meta key: Unix seconds at which the broker last wrote its heard times.
#define CC_META_ALIVE       "alive"
//  Meta key: Unix seconds at which it first wrote them (relays not heard
//  since are judged from then).
#define CC_META_HEARD_SINCE "heard.since"
//  Seconds a stored time may lag behind the truth; CC_HEARD_STEP_S in the
//  environment overrides it (tests).
#define CC_HEARD_STEP_S     30

typedef struct _cc_heard_t cc_heard_t;

//  step_s: how far a time moves on before it is written again (>= 1).
cc_heard_t *
    cc_heard_new (int64_t step_s);

//  CC_HEARD_STEP_S, or the environment's CC_HEARD_STEP_S if it is 1-3600.
int64_t
    cc_heard_step_default (void);

void
    cc_heard_destroy (cc_heard_t **self_p);

//  A message from the member with this sign key arrived at now (by the
//  clock as it is, earlier than before if it was stepped back).
void
    cc_heard_note (cc_heard_t *self, const uint8_t sign_key[32], int64_t now);

//  When the member with this sign key was last heard since we started;
//  0: not yet.
int64_t
    cc_heard_last (cc_heard_t *self, const uint8_t sign_key[32]);

//  Has a time moved on by a step since it was written (or the alive time
//  aged by one)? Then the next commit should carry cc_heard_write.
bool
    cc_heard_due (cc_heard_t *self, int64_t now);

//  Put every time that is due, and the alive time, in txn; once txn has
//  committed, call cc_heard_committed. 0 or an LMDB error. Calling it
//  again for the same transaction (a retried write) is harmless.
int
    cc_heard_write (cc_heard_t *self, cc_store_t *store, MDB_txn *txn,
                    int64_t now);

//  The transaction that carried the last cc_heard_write committed, or
//  failed: then nothing is due for a step (a full disk must not be
//  tried at every wake-up for times alone).
void
    cc_heard_committed (cc_heard_t *self);
void
    cc_heard_failed (cc_heard_t *self, int64_t now);

//  Readers: the broker's alive time (0: none recorded). A relay's heard
//  time is cc_roster_seen of its sign key.
int64_t
    cc_heard_alive (cc_store_t *store, MDB_txn *txn);

//  Readers: since when heard times are kept (0: never).
int64_t
    cc_heard_since (cc_store_t *store, MDB_txn *txn);

void
    cc_heard_test (bool verbose);

#endif
