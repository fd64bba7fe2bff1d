/*  cc_log.c - per-stream delivery logs and the advisory index.

    Keys (see cc_log.h):
        CC_DB_LOG         stream, '\0', be64 seq   -> Delivery bytes
        CC_DB_HEADS       stream                   -> be64 head
        CC_DB_ADVISORIES  advisory id              -> be32 revision + Signed
    Everything runs in the caller's transaction; this module allocates
    nothing that outlives a call.
*/

#include "cc_broker.h"

//  LMDB keys are at most 511 bytes; stream names and ids are far shorter,
//  and anything longer is refused before LMDB sees it.
#define CC_LOG_NAME_MAX   255

//  Build stream\0be64(seq) into key (CC_LOG_NAME_MAX + 9 bytes); returns
//  its size, or 0 if the stream name is empty or too long.
static size_t
s_log_key (uint8_t *key, const char *stream, uint64_t seq)
{
    size_t length = strlen (stream);
    if (length == 0 || length > CC_LOG_NAME_MAX)
        return 0;
    memcpy (key, stream, length);
    key [length] = '\0';
    cc_be64_put (key + length + 1, seq);
    return length + 9;
}


uint64_t
cc_log_head (cc_store_t *store, MDB_txn *txn, const char *stream)
{
    assert (store);
    assert (txn);
    assert (stream);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_HEADS);
    if (dbi == 0)
        return 0;
    MDB_val key = { strlen (stream), (void *) stream };
    MDB_val value;
    if (key.mv_size == 0 || key.mv_size > CC_LOG_NAME_MAX
    ||  mdb_get (txn, dbi, &key, &value) || value.mv_size != 8)
        return 0;
    return cc_be64_get ((const uint8_t *) value.mv_data);
}


//  --------------------------------------------------------------------------
//  Append one delivery. The log never overwrites: a seq that is already
//  stored is refused, so a relay that sees a delivery twice (live and via
//  fetch) keeps the first bytes. The head only moves forward, which lets a
//  gap repair write older seqs below the head.

int
cc_log_append (cc_store_t *store, MDB_txn *txn, const char *stream,
               uint64_t seq, const uint8_t *delivery, size_t size)
{
    assert (store);
    assert (txn);
    assert (stream);
    assert (delivery || size == 0);
    MDB_dbi log = cc_store_dbi (store, CC_DB_LOG);
    MDB_dbi heads = cc_store_dbi (store, CC_DB_HEADS);
    if (log == 0 || heads == 0)
        return EACCES;
    if (seq == 0)
        return EINVAL;                  //  streams count from 1
    uint8_t key_bytes [CC_LOG_NAME_MAX + 9];
    MDB_val key = { s_log_key (key_bytes, stream, seq), key_bytes };
    if (key.mv_size == 0)
        return MDB_BAD_VALSIZE;
    MDB_val value = { size, (void *) delivery };
    int rc = mdb_put (txn, log, &key, &value, MDB_NOOVERWRITE);
    if (rc)
        return rc;
    if (seq > cc_log_head (store, txn, stream)) {
        uint8_t head [8];
        cc_be64_put (head, seq);
        MDB_val head_key = { strlen (stream), (void *) stream };
        MDB_val head_value = { sizeof (head), head };
        rc = mdb_put (txn, heads, &head_key, &head_value, 0);
    }
    return rc;
}


int
cc_log_get (cc_store_t *store, MDB_txn *txn, const char *stream,
            uint64_t seq, MDB_val *delivery)
{
    assert (store);
    assert (txn);
    assert (stream);
    assert (delivery);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_LOG);
    if (dbi == 0)
        return MDB_NOTFOUND;
    uint8_t key_bytes [CC_LOG_NAME_MAX + 9];
    MDB_val key = { s_log_key (key_bytes, stream, seq), key_bytes };
    if (key.mv_size == 0)
        return MDB_NOTFOUND;
    return mdb_get (txn, dbi, &key, delivery);
}


typedef struct {
    cc_log_head_fn *fn;
    void *arg;
} s_heads_t;

static void
s_visit_head (const MDB_val *key, const MDB_val *value, void *arg)
{
    s_heads_t *heads = (s_heads_t *) arg;
    if (key->mv_size == 0 || key->mv_size > CC_LOG_NAME_MAX
    ||  value->mv_size != 8)
        return;                         //  not ours; never written so
    char stream [CC_LOG_NAME_MAX + 1];
    memcpy (stream, key->mv_data, key->mv_size);
    stream [key->mv_size] = '\0';
    heads->fn (stream, cc_be64_get ((const uint8_t *) value->mv_data),
               heads->arg);
}

int
cc_log_each_head (cc_store_t *store, MDB_txn *txn, cc_log_head_fn *fn,
                  void *arg)
{
    assert (store);
    assert (txn);
    assert (fn);
    s_heads_t heads = { fn, arg };
    return cc_store_each (store, txn, CC_DB_HEADS, s_visit_head, &heads);
}


int
cc_log_advisory (cc_store_t *store, MDB_txn *txn, const char *id,
                 uint32_t *revision, MDB_val *signed_bytes)
{
    assert (store);
    assert (txn);
    assert (id);
    assert (revision);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_ADVISORIES);
    if (dbi == 0)
        return MDB_NOTFOUND;
    MDB_val key = { strlen (id), (void *) id };
    if (key.mv_size == 0 || key.mv_size > CC_LOG_NAME_MAX)
        return MDB_NOTFOUND;
    MDB_val value;
    int rc = mdb_get (txn, dbi, &key, &value);
    if (rc)
        return rc;
    if (value.mv_size < 4)
        return MDB_CORRUPTED;
    *revision = cc_be32_get ((const uint8_t *) value.mv_data);
    if (signed_bytes) {
        signed_bytes->mv_data = (uint8_t *) value.mv_data + 4;
        signed_bytes->mv_size = value.mv_size - 4;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Record the accepted revision. Rollback protection rests on this row, so
//  besides the engine's own check we refuse (MDB_KEYEXIST) to replace a
//  newer revision with an older one. The same revision may be written
//  again: an advisory placed on several streams is one advisory.

int
cc_log_put_advisory (cc_store_t *store, MDB_txn *txn, const char *id,
                     uint32_t revision, const uint8_t *signed_bytes,
                     size_t size)
{
    assert (store);
    assert (txn);
    assert (id);
    assert (signed_bytes || size == 0);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_ADVISORIES);
    if (dbi == 0)
        return EACCES;
    MDB_val key = { strlen (id), (void *) id };
    if (key.mv_size == 0 || key.mv_size > CC_LOG_NAME_MAX)
        return MDB_BAD_VALSIZE;
    uint32_t stored;
    int rc = cc_log_advisory (store, txn, id, &stored, NULL);
    if (rc == 0 && stored > revision)
        return MDB_KEYEXIST;
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    MDB_val value = { 4 + size, NULL };
    rc = mdb_put (txn, dbi, &key, &value, MDB_RESERVE);
    if (rc)
        return rc;
    cc_be32_put ((uint8_t *) value.mv_data, revision);
    if (size)
        memcpy ((uint8_t *) value.mv_data + 4, signed_bytes, size);
    return 0;
}


typedef struct {
    cc_log_advisory_fn *fn;
    void *arg;
} s_advisories_t;

static void
s_visit_advisory (const MDB_val *key, const MDB_val *value, void *arg)
{
    s_advisories_t *advisories = (s_advisories_t *) arg;
    if (key->mv_size == 0 || key->mv_size > CC_LOG_NAME_MAX
    ||  value->mv_size < 4)
        return;
    char id [CC_LOG_NAME_MAX + 1];
    memcpy (id, key->mv_data, key->mv_size);
    id [key->mv_size] = '\0';
    const uint8_t *bytes = (const uint8_t *) value->mv_data;
    advisories->fn (id, cc_be32_get (bytes), bytes + 4, value->mv_size - 4,
                    advisories->arg);
}

int
cc_log_each_advisory (cc_store_t *store, MDB_txn *txn,
                      cc_log_advisory_fn *fn, void *arg)
{
    assert (store);
    assert (txn);
    assert (fn);
    s_advisories_t advisories = { fn, arg };
    return cc_store_each (store, txn, CC_DB_ADVISORIES, s_visit_advisory,
                          &advisories);
}


//  --------------------------------------------------------------------------
//  Find one revision's deliveries. Most deliveries are of other
//  advisories: the id's bytes, which every delivery of it carries in
//  the clear, are looked for before anything is decoded.

static bool
s_carries (const Certcast__Signed *signed_message, const char *id,
           uint32_t revision)
{
    Certcast__Advisory *content = (Certcast__Advisory *) cc_wire_unpack (
        &certcast__advisory__descriptor, signed_message->advisory.data,
        signed_message->advisory.len, CC_WIRE_MAX_SIGNED);
    bool carries = content && content->revision == revision
                && content->id && streq (content->id, id);
    if (content)
        certcast__advisory__free_unpacked (content, NULL);
    return carries;
}

typedef struct {
    const char *id;
    uint32_t revision;
    cc_log_signed_fn *fn;
    void *arg;
} s_revisions_t;

static void
s_visit_delivery (const MDB_val *key, const MDB_val *value, void *arg)
{
    s_revisions_t *wanted = (s_revisions_t *) arg;
    const char *id = wanted->id;
    const uint8_t *name_end = (const uint8_t *) memchr (key->mv_data, 0,
                                                        key->mv_size);
    if (!name_end || (size_t) ((const uint8_t *) key->mv_data + key->mv_size
                               - name_end) != 9
    ||  !memmem (value->mv_data, value->mv_size, id, strlen (id)))
        return;
    Certcast__Delivery *delivery = (Certcast__Delivery *) cc_wire_unpack (
        &certcast__delivery__descriptor, (const uint8_t *) value->mv_data,
        value->mv_size, CC_WIRE_MAX_FRAME);
    Certcast__Signed *signed_message = delivery
        ? (Certcast__Signed *) cc_wire_unpack (
              &certcast__signed__descriptor, delivery->signed_.data,
              delivery->signed_.len, CC_WIRE_MAX_SIGNED)
        : NULL;
    if (signed_message && s_carries (signed_message, id, wanted->revision))
        wanted->fn ((const char *) key->mv_data, cc_be64_get (name_end + 1),
                    delivery->signed_.data, delivery->signed_.len,
                    wanted->arg);
    if (signed_message)
        certcast__signed__free_unpacked (signed_message, NULL);
    if (delivery)
        certcast__delivery__free_unpacked (delivery, NULL);
}

int
cc_log_each_revision (cc_store_t *store, MDB_txn *txn, const char *id,
                      uint32_t revision, cc_log_signed_fn *fn, void *arg)
{
    assert (store);
    assert (txn);
    assert (id && *id);
    assert (fn);
    s_revisions_t wanted = { id, revision, fn, arg };
    return cc_store_each (store, txn, CC_DB_LOG, s_visit_delivery, &wanted);
}


//  --------------------------------------------------------------------------
//  Self test

typedef struct {
    cc_store_t *store;
    int step;                   //  which scenario to write
} s_log_test_t;

static int
s_log_test_batch (MDB_txn *txn, void *arg)
{
    s_log_test_t *test = (s_log_test_t *) arg;
    cc_store_t *store = test->store;
    const uint8_t one [] = "delivery-1", two [] = "delivery-2";
    const uint8_t five [] = "delivery-5";
    int rc = 0;
    if (test->step == 1) {
        rc = cc_log_append (store, txn, "national/banking", 1, one, 10);
        if (rc == 0)
            rc = cc_log_append (store, txn, "national/banking", 2, two, 10);
        if (rc == 0)
            rc = cc_log_append (store, txn, "national/telecom", 5, five, 10);
        if (rc == 0)
            rc = cc_log_put_advisory (store, txn, "PK-1", 1,
                                      (const uint8_t *) "signed-r1", 9);
    }
    else
    if (test->step == 2) {
        //  Duplicate seq refused, head unchanged
        assert (cc_log_append (store, txn, "national/banking", 2, one, 10)
                == MDB_KEYEXIST);
        assert (cc_log_head (store, txn, "national/banking") == 2);
        //  Gap repair below the head keeps the head
        rc = cc_log_append (store, txn, "national/telecom", 3,
                            (const uint8_t *) "delivery-3", 10);
        assert (cc_log_head (store, txn, "national/telecom") == 5);
        assert (cc_log_append (store, txn, "x", 0, one, 1) == EINVAL);
        if (rc == 0)
            rc = cc_log_put_advisory (store, txn, "PK-1", 3,
                                      (const uint8_t *) "signed-r3", 9);
        //  An older revision never replaces a newer one
        assert (cc_log_put_advisory (store, txn, "PK-1", 2,
                                     (const uint8_t *) "signed-r2", 9)
                == MDB_KEYEXIST);
        if (rc == 0)
            rc = cc_log_put_advisory (store, txn, "PK-0", 7,
                                      (const uint8_t *) "", 0);
    }
    else
    if (test->step == 3) {
        //  Written, then the batch fails: none of it may persist
        rc = cc_log_append (store, txn, "national/power", 1, one, 10);
        if (rc == 0)
            rc = MDB_BAD_TXN;
    }
    return rc;
}

typedef struct {
    int count;
    char streams [4][64];
    uint64_t heads [4];
} s_log_heads_t;

static void
s_log_test_head (const char *stream, uint64_t head, void *arg)
{
    s_log_heads_t *heads = (s_log_heads_t *) arg;
    assert (heads->count < 4);
    snprintf (heads->streams [heads->count], 64, "%s", stream);
    heads->heads [heads->count++] = head;
}

static void
s_log_test_advisory (const char *id, uint32_t revision,
                     const uint8_t *signed_bytes, size_t size, void *arg)
{
    int *count = (int *) arg;
    if (*count == 0) {
        assert (streq (id, "PK-0"));
        assert (revision == 7 && size == 0);
    }
    else {
        assert (streq (id, "PK-1"));
        assert (revision == 3 && size == 9);
        assert (memcmp (signed_bytes, "signed-r3", 9) == 0);
    }
    (*count)++;
}

static void
s_log_test_remove (const char *base)
{
    zdir_t *tree = zdir_new (base, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    assert (!zsys_file_exists (base));
}

//  A delivery of (id, revision) with a made-up signature: the log keeps
//  what it is given, and finding a revision decodes, never verifies.
static int
s_log_test_revision_append (cc_store_t *store, MDB_txn *txn,
                            const char *stream, uint64_t seq, const char *id,
                            uint32_t revision)
{
    Certcast__Advisory advisory = CERTCAST__ADVISORY__INIT;
    advisory.id = (char *) id;
    advisory.revision = revision;
    size_t advisory_size, signed_size, delivery_size;
    uint8_t *advisory_bytes = cc_wire_pack (&advisory.base, &advisory_size);
    Certcast__Signed signed_message = CERTCAST__SIGNED__INIT;
    signed_message.advisory.data = advisory_bytes;
    signed_message.advisory.len = advisory_size;
    uint8_t *signed_bytes = cc_wire_pack (&signed_message.base, &signed_size);
    Certcast__Delivery delivery = CERTCAST__DELIVERY__INIT;
    delivery.stream = (char *) stream;
    delivery.seq = seq;
    delivery.signed_.data = signed_bytes;
    delivery.signed_.len = signed_size;
    uint8_t *bytes = cc_wire_pack (&delivery.base, &delivery_size);
    int rc = cc_log_append (store, txn, stream, seq, bytes, delivery_size);
    free (bytes);
    free (signed_bytes);
    free (advisory_bytes);
    return rc;
}

static int
s_log_test_revisions_batch (MDB_txn *txn, void *arg)
{
    cc_store_t *store = (cc_store_t *) arg;
    int rc = s_log_test_revision_append (store, txn, "national/gas", 1,
                                         "PK-R", 1);
    if (rc == 0)        //  the id's bytes are in it: decoded, not taken
        rc = s_log_test_revision_append (store, txn, "national/gas", 2,
                                         "PK-RX", 1);
    if (rc == 0)
        rc = s_log_test_revision_append (store, txn, "national/gas", 3,
                                         "PK-R", 2);
    if (rc == 0)
        rc = s_log_test_revision_append (store, txn, "national/water", 1,
                                         "PK-R", 1);
    return rc;
}

static void
s_log_test_found (const char *stream, uint64_t seq,
                  const uint8_t *signed_bytes, size_t size, void *arg)
{
    zlistx_t *found = (zlistx_t *) arg;
    assert (signed_bytes && size > 0);
    zlistx_add_end (found, zsys_sprintf ("%s/%" PRIu64, stream, seq));
}

//  An earlier revision is found wherever it went out, and nothing else.
static void
s_log_test_revisions (void)
{
    char base [] = "/tmp/cc_log_test.XXXXXX";
    assert (mkdtemp (base));
    cc_store_t *store = cc_store_new (base, 0);
    assert (store);
    assert (cc_store_write (store, s_log_test_revisions_batch, store) == 0);
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    zlistx_t *found = zlistx_new ();
    zlistx_set_destructor (found, (zlistx_destructor_fn *) zstr_free);
    assert (cc_log_each_revision (store, txn, "PK-R", 1, s_log_test_found,
                                  found) == 0);
    assert (zlistx_size (found) == 2);
    assert (streq ((char *) zlistx_first (found), "national/gas/1"));
    assert (streq ((char *) zlistx_next (found), "national/water/1"));
    zlistx_purge (found);
    assert (cc_log_each_revision (store, txn, "PK-R", 3, s_log_test_found,
                                  found) == 0);
    assert (zlistx_size (found) == 0);
    zlistx_destroy (&found);
    mdb_txn_abort (txn);
    cc_store_destroy (&store);
    s_log_test_remove (base);
}

void
cc_log_test (bool verbose)
{
    printf (" * cc_log: ");
    if (verbose)
        printf ("\n");

    char base [] = "/tmp/cc_log_test.XXXXXX";
    assert (mkdtemp (base));
    cc_store_t *store = cc_store_new (base, 0);
    assert (store);

    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_log_head (store, txn, "national/banking") == 0);
    uint32_t revision = 0;
    assert (cc_log_advisory (store, txn, "PK-1", &revision, NULL)
            == MDB_NOTFOUND);
    mdb_txn_abort (txn);

    s_log_test_t test = { store, 1 };
    assert (cc_store_write (store, s_log_test_batch, &test) == 0);
    test.step = 2;
    assert (cc_store_write (store, s_log_test_batch, &test) == 0);
    test.step = 3;
    assert (cc_store_write (store, s_log_test_batch, &test) == MDB_BAD_TXN);
    cc_store_destroy (&store);

    //  Everything durable across reopen; read it back read-only
    store = cc_store_new (base, CC_STORE_READONLY);
    assert (store);
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_log_head (store, txn, "national/banking") == 2);
    assert (cc_log_head (store, txn, "national/telecom") == 5);
    assert (cc_log_head (store, txn, "national/power") == 0);
    assert (cc_log_head (store, txn, "national") == 0);
    MDB_val delivery;
    assert (cc_log_get (store, txn, "national/banking", 1, &delivery) == 0);
    assert (delivery.mv_size == 10);
    assert (memcmp (delivery.mv_data, "delivery-1", 10) == 0);
    assert (cc_log_get (store, txn, "national/banking", 2, &delivery) == 0);
    assert (memcmp (delivery.mv_data, "delivery-2", 10) == 0);
    assert (cc_log_get (store, txn, "national/banking", 3, &delivery)
            == MDB_NOTFOUND);
    assert (cc_log_get (store, txn, "national/telecom", 3, &delivery) == 0);
    assert (cc_log_get (store, txn, "national/telecom", 4, &delivery)
            == MDB_NOTFOUND);
    assert (cc_log_get (store, txn, "national/power", 1, &delivery)
            == MDB_NOTFOUND);

    s_log_heads_t heads = { 0 };
    assert (cc_log_each_head (store, txn, s_log_test_head, &heads) == 0);
    assert (heads.count == 2);
    assert (streq (heads.streams [0], "national/banking"));
    assert (heads.heads [0] == 2);
    assert (streq (heads.streams [1], "national/telecom"));
    assert (heads.heads [1] == 5);

    MDB_val signed_bytes;
    assert (cc_log_advisory (store, txn, "PK-1", &revision, &signed_bytes)
            == 0);
    assert (revision == 3);
    assert (signed_bytes.mv_size == 9);
    assert (memcmp (signed_bytes.mv_data, "signed-r3", 9) == 0);
    int count = 0;
    assert (cc_log_each_advisory (store, txn, s_log_test_advisory, &count)
            == 0);
    assert (count == 2);
    mdb_txn_abort (txn);
    cc_store_destroy (&store);

    s_log_test_remove (base);
    s_log_test_revisions ();
    printf ("OK\n");
}
