/*  cc_heard.c - when a broker last heard each relay below it (see
    cc_heard.h).

    Times are kept by sign key in memory; only those that moved on by a
    step are written, so a relay that sends acks every millisecond costs
    one put per step, not one per commit.
*/
#include "cc_broker.h"
#include "cc_heard.h"

typedef struct {
    uint8_t sign_key [32];
    int64_t heard;                  //  last message, Unix seconds
    int64_t written;                //  as committed
    int64_t writing;                //  as put in the transaction in flight
} s_member_t;

struct _cc_heard_t {
    int64_t step;
    zhashx_t *members;              //  64 hex digits -> s_member_t, owned
    bool dirty;                     //  some time moved a step (s_moved)
    int64_t alive_written, alive_writing;
    int64_t retry_at;               //  after a failed write: not before
};

//  Has the member's time moved, either way, by a step since written?
static bool
s_moved (cc_heard_t *self, const s_member_t *member)
{
    return member->heard - member->written >= self->step
        || member->written - member->heard >= self->step;
}

//  The member with this sign key, NULL if not heard since we started.
static s_member_t *
s_find (cc_heard_t *self, const uint8_t sign_key[32])
{
    char hex [65];
    cc_hex_encode (sign_key, 32, hex);
    return (s_member_t *) zhashx_lookup (self->members, hex);
}

cc_heard_t *
cc_heard_new (int64_t step_s)
{
    assert (step_s >= 1);
    cc_heard_t *self = (cc_heard_t *) zmalloc (sizeof (cc_heard_t));
    assert (self);
    self->step = step_s;
    self->members = zhashx_new ();
    assert (self->members);
    zhashx_set_destructor (self->members,
                           (zhashx_destructor_fn *) zstr_free);
    return self;
}

int64_t
cc_heard_step_default (void)
{
    const char *text = getenv ("CC_HEARD_STEP_S");
    long step = text? atol (text): 0;
    return step >= 1 && step <= 3600? step: CC_HEARD_STEP_S;
}

void
cc_heard_destroy (cc_heard_t **self_p)
{
    assert (self_p);
    cc_heard_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->members);
        free (self);
        *self_p = NULL;
    }
}

void
cc_heard_note (cc_heard_t *self, const uint8_t sign_key[32], int64_t now)
{
    assert (self);
    s_member_t *member = s_find (self, sign_key);
    if (!member) {
        member = (s_member_t *) zmalloc (sizeof (s_member_t));
        assert (member);
        memcpy (member->sign_key, sign_key, 32);
        char hex [65];
        cc_hex_encode (sign_key, 32, hex);
        zhashx_insert (self->members, hex, member);
    }
    //  The time of its last message by the clock as it is now, earlier
    //  too: silence is measured against this same clock (the alive time,
    //  the reader's), so a clock stepped back makes no relay look silent,
    //  while a time kept from before the step would hide a relay that
    //  stops for as long as the step was.
    member->heard = now;
    if (s_moved (self, member))
        self->dirty = true;
}

int64_t
cc_heard_last (cc_heard_t *self, const uint8_t sign_key[32])
{
    assert (self);
    s_member_t *member = s_find (self, sign_key);
    return member? member->heard: 0;
}

bool
cc_heard_due (cc_heard_t *self, int64_t now)
{
    assert (self);
    if (now < self->retry_at)
        return false;
    return self->dirty || now - self->alive_written >= self->step;
}

int
cc_heard_write (cc_heard_t *self, cc_store_t *store, MDB_txn *txn,
                int64_t now)
{
    assert (self);
    for (s_member_t *member = (s_member_t *) zhashx_first (self->members);
         member; member = (s_member_t *) zhashx_next (self->members)) {
        member->writing = member->written;
        //  Heard after now: the clock was stepped back since. When, by
        //  this clock, is not known; now is the latest it can have been,
        //  and from now on it ages, so a relay that stopped before the
        //  step is named once silent_after has passed, not once the
        //  clock has caught up with the step.
        if (member->heard > now)
            member->heard = now;
        if (!s_moved (self, member))
            continue;
        int rc = cc_roster_set_seen (store, txn, member->sign_key,
                                     member->heard);
        if (rc)
            return rc;
        member->writing = member->heard;
    }
    //  Since when relays could have been heard here: a relay not heard
    //  since (data from before heard times, a key enrolled that never
    //  spoke) is judged from then, not left out (certcast compliance).
    if (cc_meta_get_u64 (store, txn, CC_META_HEARD_SINCE) == 0) {
        int rc = cc_meta_put_u64 (store, txn, CC_META_HEARD_SINCE,
                                  (uint64_t) now);
        if (rc)
            return rc;
    }
    self->alive_writing = now;
    return cc_meta_put_u64 (store, txn, CC_META_ALIVE, (uint64_t) now);
}

void
cc_heard_committed (cc_heard_t *self)
{
    assert (self);
    for (s_member_t *member = (s_member_t *) zhashx_first (self->members);
         member; member = (s_member_t *) zhashx_next (self->members))
        member->written = member->writing;
    self->alive_written = self->alive_writing;
    self->dirty = false;
}

void
cc_heard_failed (cc_heard_t *self, int64_t now)
{
    assert (self);
    self->retry_at = now + self->step;
}

int64_t
cc_heard_alive (cc_store_t *store, MDB_txn *txn)
{
    return (int64_t) cc_meta_get_u64 (store, txn, CC_META_ALIVE);
}

int64_t
cc_heard_since (cc_store_t *store, MDB_txn *txn)
{
    return (int64_t) cc_meta_get_u64 (store, txn, CC_META_HEARD_SINCE);
}


//  --------------------------------------------------------------------------
//  Self test

typedef struct {
    cc_heard_t *heard;
    cc_store_t *store;
    int64_t now;
} s_test_t;

static int
s_test_write (MDB_txn *txn, void *arg)
{
    s_test_t *test = (s_test_t *) arg;
    return cc_heard_write (test->heard, test->store, txn, test->now);
}

static int
s_test_fail (MDB_txn *txn, void *arg)
{
    int rc = s_test_write (txn, arg);
    return rc? rc: MDB_BAD_TXN;
}

static void
s_test_commit (s_test_t *test, int64_t now)
{
    test->now = now;
    assert (cc_store_write (test->store, s_test_write, test) == 0);
    cc_heard_committed (test->heard);
}

static int64_t
s_test_stored (cc_store_t *store, const uint8_t *key)
{
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    int64_t when = key? cc_roster_seen (store, txn, key)
                      : cc_heard_alive (store, txn);
    mdb_txn_abort (txn);
    return when;
}

void
cc_heard_test (bool verbose)
{
    printf (" * cc_heard: ");
    if (verbose)
        printf ("\n");
    char base [] = "/tmp/cc_heard_test.XXXXXX";
    assert (mkdtemp (base));
    cc_store_t *store = cc_store_new (base, 0);
    assert (store);
    uint8_t relay_a [32], relay_b [32];
    memset (relay_a, 0xa1, 32);
    memset (relay_b, 0xb2, 32);
    s_test_t test = { cc_heard_new (30), store, 0 };

    //  Nothing heard: only the alive time is due, and written
    assert (cc_heard_due (test.heard, 1000));
    s_test_commit (&test, 1000);
    assert (s_test_stored (store, NULL) == 1000);
    assert (!cc_heard_due (test.heard, 1029));
    assert (cc_heard_due (test.heard, 1030));

    //  A relay's first message is due at once; later ones within a step
    //  are not
    assert (cc_heard_last (test.heard, relay_a) == 0);
    cc_heard_note (test.heard, relay_a, 1001);
    assert (cc_heard_last (test.heard, relay_a) == 1001);
    assert (cc_heard_due (test.heard, 1001));
    s_test_commit (&test, 1001);
    assert (s_test_stored (store, relay_a) == 1001);
    cc_heard_note (test.heard, relay_a, 1020);
    assert (cc_heard_last (test.heard, relay_a) == 1020);
    assert (!cc_heard_due (test.heard, 1020));
    cc_heard_note (test.heard, relay_b, 1025);
    cc_heard_note (test.heard, relay_a, 1031);
    assert (cc_heard_due (test.heard, 1031));

    //  A failed commit stores nothing, and leaves it all due once a step
    //  has passed, not before
    test.now = 1031;
    assert (cc_store_write (store, s_test_fail, &test) != 0);
    cc_heard_failed (test.heard, 1031);
    assert (!cc_heard_due (test.heard, 1032));
    assert (!cc_heard_due (test.heard, 1060));
    assert (cc_heard_due (test.heard, 1061));
    assert (s_test_stored (store, relay_a) == 1001);
    assert (s_test_stored (store, relay_b) == 0);
    s_test_commit (&test, 1061);
    assert (s_test_stored (store, relay_a) == 1031);
    assert (s_test_stored (store, relay_b) == 1025);
    assert (s_test_stored (store, NULL) == 1061);
    assert (!cc_heard_due (test.heard, 1062));

    //  The clock stepped back by an hour: a message now is heard now,
    //  and a relay silent since before the step is stored no later than
    //  the first write after it, so it ages from there
    cc_heard_note (test.heard, relay_a, 5000);
    s_test_commit (&test, 5000);
    assert (s_test_stored (store, relay_a) == 5000);
    cc_heard_note (test.heard, relay_b, 5000);
    s_test_commit (&test, 5000);
    cc_heard_note (test.heard, relay_a, 1400);
    assert (cc_heard_last (test.heard, relay_a) == 1400);
    assert (cc_heard_due (test.heard, 1400));
    s_test_commit (&test, 1400);
    assert (s_test_stored (store, relay_a) == 1400);
    assert (s_test_stored (store, relay_b) == 1400);
    assert (s_test_stored (store, NULL) == 1400);
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_heard_since (store, txn) == 1000);
    mdb_txn_abort (txn);

    //  Times survive a reopen, read-only
    cc_heard_destroy (&test.heard);
    assert (test.heard == NULL);
    cc_heard_destroy (&test.heard);
    cc_store_destroy (&store);
    store = cc_store_new (base, CC_STORE_READONLY);
    assert (store);
    assert (s_test_stored (store, relay_a) == 1400);
    assert (s_test_stored (store, NULL) == 1400);
    cc_store_destroy (&store);

    zdir_t *tree = zdir_new (base, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    printf ("OK\n");
}
