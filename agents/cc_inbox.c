/*  cc_inbox.c - the subscriber agent's storage: inbox, cursors, outbox and
    handoff markers on the agent's cc_store (layout in cc_inbox.h).

    Records are written with MDB_NOOVERWRITE: an advisory the agent already
    committed is never replaced, so a replayed or duplicated delivery
    cannot change what the agent said it received. The module keeps no
    state; every call runs in the caller's transaction and nothing it
    returns outlives that transaction.
*/
#include "cc_agents.h"

#define INBOX_RECORD_FIXED   16      //  received_at + seq

//  --------------------------------------------------------------------------
//  Keys

size_t
cc_inbox_key (uint8_t *key, const char *id, uint32_t revision)
{
    assert (key);
    assert (id);
    size_t length = strlen (id);
    if (length == 0 || length > CC_INBOX_ID_MAX)
        return 0;
    memcpy (key, id, length);
    key [length] = '\0';
    cc_be32_put (key + length + 1, revision);
    return length + 5;
}

static bool
s_valid_stream (const char *stream)
{
    size_t length = strlen (stream);
    return length > 0 && length <= CC_INBOX_STREAM_MAX;
}

//  Decode an inbox key and value into a record. A key or value that does
//  not have our shape is corruption (or a foreign database): EINVAL.
static int
s_decode (const MDB_val *key, const MDB_val *value, cc_inbox_record_t *record)
{
    const uint8_t *key_bytes = (const uint8_t *) key->mv_data;
    if (key->mv_size < 6 || key_bytes [key->mv_size - 5] != '\0'
    ||  memchr (key_bytes, 0, key->mv_size - 5))
        return EINVAL;
    const uint8_t *bytes = (const uint8_t *) value->mv_data;
    if (value->mv_size < INBOX_RECORD_FIXED + 2)
        return EINVAL;
    const uint8_t *stream = bytes + INBOX_RECORD_FIXED;
    const uint8_t *end = (const uint8_t *) memchr (
        stream, 0, value->mv_size - INBOX_RECORD_FIXED);
    if (!end || end == stream)
        return EINVAL;
    memset (record, 0, sizeof *record);
    record->id = (const char *) key_bytes;
    record->revision = cc_be32_get (key_bytes + key->mv_size - 4);
    record->received_at = (int64_t) cc_be64_get (bytes);
    record->seq = cc_be64_get (bytes + 8);
    record->stream = (const char *) stream;
    record->signed_bytes = end + 1;
    record->signed_size = value->mv_size - (size_t) (end + 1 - bytes);
    return 0;
}


//  --------------------------------------------------------------------------
//  Inbox

int
cc_inbox_put (cc_store_t *store, MDB_txn *txn, const cc_inbox_record_t *record)
{
    assert (store && txn && record);
    assert (record->id && record->stream && record->signed_bytes);
    uint8_t key [CC_INBOX_KEY_MAX];
    size_t key_size = cc_inbox_key (key, record->id, record->revision);
    if (key_size == 0 || !s_valid_stream (record->stream))
        return EINVAL;
    size_t stream_size = strlen (record->stream) + 1;
    MDB_val mkey = { key_size, key };
    MDB_val value = {
        INBOX_RECORD_FIXED + stream_size + record->signed_size, NULL
    };
    int rc = mdb_put (txn, cc_store_dbi (store, CC_DB_INBOX), &mkey, &value,
                      MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc)
        return rc;
    uint8_t *bytes = (uint8_t *) value.mv_data;
    cc_be64_put (bytes, (uint64_t) record->received_at);
    cc_be64_put (bytes + 8, record->seq);
    memcpy (bytes + INBOX_RECORD_FIXED, record->stream, stream_size);
    memcpy (bytes + INBOX_RECORD_FIXED + stream_size, record->signed_bytes,
            record->signed_size);
    return 0;
}

int
cc_inbox_get_key (cc_store_t *store, MDB_txn *txn, const uint8_t *key,
                  size_t key_size, cc_inbox_record_t *record)
{
    assert (store && txn && key && record);
    //  MDB_SET_KEY (unlike mdb_get) returns the key as stored, so
    //  record->id points into the map, not into the caller's buffer.
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, cc_store_dbi (store, CC_DB_INBOX), &cursor);
    if (rc)
        return rc;
    MDB_val mkey = { key_size, (void *) key };
    MDB_val value;
    rc = mdb_cursor_get (cursor, &mkey, &value, MDB_SET_KEY);
    mdb_cursor_close (cursor);
    if (rc)
        return rc;
    return s_decode (&mkey, &value, record);
}

int
cc_inbox_get (cc_store_t *store, MDB_txn *txn, const char *id,
              uint32_t revision, cc_inbox_record_t *record)
{
    uint8_t key [CC_INBOX_KEY_MAX];
    size_t key_size = cc_inbox_key (key, id, revision);
    if (key_size == 0)
        return MDB_NOTFOUND;
    return cc_inbox_get_key (store, txn, key, key_size, record);
}

uint32_t
cc_inbox_latest (cc_store_t *store, MDB_txn *txn, const char *id)
{
    assert (store && txn && id);
    //  Keys of one id sort by be32 revision, so the highest revision is
    //  the last key before the first key past the id's range: seek to
    //  id '\0' ffffffff and step back if we overshot.
    uint8_t key [CC_INBOX_KEY_MAX];
    size_t key_size = cc_inbox_key (key, id, UINT32_MAX);
    if (key_size == 0)
        return 0;
    MDB_cursor *cursor;
    if (mdb_cursor_open (txn, cc_store_dbi (store, CC_DB_INBOX), &cursor))
        return 0;
    uint32_t latest = 0;
    MDB_val mkey = { key_size, key };
    MDB_val value;
    int rc = mdb_cursor_get (cursor, &mkey, &value, MDB_SET_RANGE);
    if (rc == 0 && mkey.mv_size == key_size
    &&  memcmp (mkey.mv_data, key, key_size) == 0)
        latest = UINT32_MAX;
    else {
        rc = mdb_cursor_get (cursor, &mkey, &value,
                             rc == 0? MDB_PREV: MDB_LAST);
        if (rc == 0 && mkey.mv_size == key_size
        &&  memcmp (mkey.mv_data, key, key_size - 4) == 0)
            latest = cc_be32_get ((const uint8_t *) mkey.mv_data
                                  + key_size - 4);
    }
    mdb_cursor_close (cursor);
    return latest;
}

static size_t
s_count (cc_store_t *store, MDB_txn *txn, cc_db_t db)
{
    MDB_stat stat;
    if (mdb_stat (txn, cc_store_dbi (store, db), &stat))
        return 0;
    return stat.ms_entries;
}

size_t
cc_inbox_count (cc_store_t *store, MDB_txn *txn)
{
    assert (store && txn);
    return s_count (store, txn, CC_DB_INBOX);
}


//  --------------------------------------------------------------------------
//  Cursors

uint64_t
cc_inbox_cursor (cc_store_t *store, MDB_txn *txn, const char *stream)
{
    assert (store && txn && stream);
    if (!s_valid_stream (stream))
        return 0;
    MDB_val mkey = { strlen (stream), (void *) stream };
    MDB_val value;
    if (mdb_get (txn, cc_store_dbi (store, CC_DB_CURSORS), &mkey, &value)
    ||  value.mv_size != 8)
        return 0;
    return cc_be64_get ((const uint8_t *) value.mv_data);
}

int
cc_inbox_set_cursor (cc_store_t *store, MDB_txn *txn, const char *stream,
                     uint64_t seq)
{
    assert (store && txn && stream);
    if (!s_valid_stream (stream))
        return EINVAL;
    uint8_t bytes [8];
    cc_be64_put (bytes, seq);
    MDB_val mkey = { strlen (stream), (void *) stream };
    MDB_val value = { sizeof bytes, bytes };
    return mdb_put (txn, cc_store_dbi (store, CC_DB_CURSORS), &mkey, &value, 0);
}


//  --------------------------------------------------------------------------
//  Outbox

int
cc_inbox_next_nonce (cc_store_t *store, MDB_txn *txn, uint64_t *nonce)
{
    assert (store && txn && nonce);
    uint64_t next = cc_meta_get_u64 (store, txn, "nonce") + 1;
    int rc = cc_meta_put_u64 (store, txn, "nonce", next);
    if (rc == 0)
        *nonce = next;
    return rc;
}

int
cc_inbox_outbox_put (cc_store_t *store, MDB_txn *txn, uint64_t nonce,
                     const uint8_t *signed_ack, size_t size)
{
    assert (store && txn && signed_ack && size > 0);
    uint8_t key [8];
    cc_be64_put (key, nonce);
    MDB_val mkey = { sizeof key, key };
    MDB_val value = { size, (void *) signed_ack };
    return mdb_put (txn, cc_store_dbi (store, CC_DB_OUTBOX), &mkey, &value, 0);
}

int
cc_inbox_outbox_delete (cc_store_t *store, MDB_txn *txn, uint64_t nonce)
{
    assert (store && txn);
    uint8_t key [8];
    cc_be64_put (key, nonce);
    MDB_val mkey = { sizeof key, key };
    return mdb_del (txn, cc_store_dbi (store, CC_DB_OUTBOX), &mkey, NULL);
}

int
cc_inbox_outbox_each (cc_store_t *store, MDB_txn *txn, uint64_t from,
                      size_t max, cc_inbox_outbox_fn *fn, void *arg)
{
    assert (store && txn && fn);
    MDB_cursor *cursor;
    if (mdb_cursor_open (txn, cc_store_dbi (store, CC_DB_OUTBOX), &cursor))
        return -1;
    uint8_t key [8];
    cc_be64_put (key, from);
    MDB_val mkey = { sizeof key, key };
    MDB_val value;
    int visited = 0;
    int rc = mdb_cursor_get (cursor, &mkey, &value, MDB_SET_RANGE);
    while (rc == 0 && (max == 0 || (size_t) visited < max)) {
        if (mkey.mv_size == 8) {
            fn (cc_be64_get ((const uint8_t *) mkey.mv_data),
                (const uint8_t *) value.mv_data, value.mv_size, arg);
            visited++;
        }
        rc = mdb_cursor_get (cursor, &mkey, &value, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    return rc == 0 || rc == MDB_NOTFOUND? visited: -1;
}

size_t
cc_inbox_outbox_count (cc_store_t *store, MDB_txn *txn)
{
    assert (store && txn);
    return s_count (store, txn, CC_DB_OUTBOX);
}


//  --------------------------------------------------------------------------
//  Handoff markers

int
cc_inbox_handoff_add (cc_store_t *store, MDB_txn *txn, const char *id,
                      uint32_t revision, uint64_t *marker)
{
    assert (store && txn && id && marker);
    uint8_t inbox_key [CC_INBOX_KEY_MAX];
    size_t inbox_key_size = cc_inbox_key (inbox_key, id, revision);
    if (inbox_key_size == 0)
        return EINVAL;
    uint64_t next = cc_meta_get_u64 (store, txn, "handoff.next") + 1;
    int rc = cc_meta_put_u64 (store, txn, "handoff.next", next);
    if (rc)
        return rc;
    uint8_t key [8];
    cc_be64_put (key, next);
    MDB_val mkey = { sizeof key, key };
    MDB_val value = { inbox_key_size, inbox_key };
    rc = mdb_put (txn, cc_store_dbi (store, CC_DB_HANDOFF), &mkey, &value, 0);
    if (rc == 0)
        *marker = next;
    return rc;
}

int
cc_inbox_handoff_delete (cc_store_t *store, MDB_txn *txn, uint64_t marker)
{
    assert (store && txn);
    uint8_t key [8];
    cc_be64_put (key, marker);
    MDB_val mkey = { sizeof key, key };
    return mdb_del (txn, cc_store_dbi (store, CC_DB_HANDOFF), &mkey, NULL);
}

int
cc_inbox_handoff_each (cc_store_t *store, MDB_txn *txn,
                       cc_inbox_handoff_fn *fn, void *arg)
{
    assert (store && txn && fn);
    MDB_cursor *cursor;
    if (mdb_cursor_open (txn, cc_store_dbi (store, CC_DB_HANDOFF), &cursor))
        return -1;
    MDB_val mkey, value;
    int visited = 0;
    int rc = mdb_cursor_get (cursor, &mkey, &value, MDB_FIRST);
    while (rc == 0) {
        cc_inbox_record_t record;
        if (mkey.mv_size == 8
        &&  cc_inbox_get_key (store, txn, (const uint8_t *) value.mv_data,
                              value.mv_size, &record) == 0) {
            fn (cc_be64_get ((const uint8_t *) mkey.mv_data), &record, arg);
            visited++;
        }
        rc = mdb_cursor_get (cursor, &mkey, &value, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? visited: -1;
}


//  --------------------------------------------------------------------------
//  Self-test

typedef struct {
    cc_store_t *store;
    const char *id;
    uint32_t revision;
    const char *stream;
    uint64_t seq;
    int64_t received_at;
    const char *payload;
    uint64_t nonce;             //  out: nonce taken
    uint64_t marker;            //  out: handoff marker
    int put_rc;                 //  out: cc_inbox_put result
} s_test_commit_t;

//  One agent-style commit: record, cursor, handoff marker, outbox entry.
static int
s_test_commit (MDB_txn *txn, void *arg)
{
    s_test_commit_t *commit = (s_test_commit_t *) arg;
    cc_inbox_record_t record = {
        .id = commit->id, .revision = commit->revision,
        .received_at = commit->received_at, .stream = commit->stream,
        .seq = commit->seq,
        .signed_bytes = (const uint8_t *) commit->payload,
        .signed_size = strlen (commit->payload)
    };
    commit->put_rc = cc_inbox_put (commit->store, txn, &record);
    if (commit->put_rc && commit->put_rc != MDB_KEYEXIST)
        return commit->put_rc;
    int rc = cc_inbox_set_cursor (commit->store, txn, commit->stream,
                                  commit->seq);
    if (rc)
        return rc;
    if (commit->put_rc == MDB_KEYEXIST)
        return 0;               //  a duplicate moves the cursor only
    rc = cc_inbox_handoff_add (commit->store, txn, commit->id,
                               commit->revision, &commit->marker);
    if (rc == 0)
        rc = cc_inbox_next_nonce (commit->store, txn, &commit->nonce);
    if (rc == 0) {
        char ack [64];
        snprintf (ack, sizeof ack, "ack:%s:%u", commit->id, commit->revision);
        rc = cc_inbox_outbox_put (commit->store, txn, commit->nonce,
                                  (const uint8_t *) ack, strlen (ack));
    }
    return rc;
}

typedef struct {
    cc_store_t *store;
    uint64_t nonce;
    uint64_t marker;
    int outbox_rc;              //  out
    int handoff_rc;             //  out
} s_test_done_t;

static int
s_test_done (MDB_txn *txn, void *arg)
{
    s_test_done_t *done = (s_test_done_t *) arg;
    done->outbox_rc = cc_inbox_outbox_delete (done->store, txn, done->nonce);
    done->handoff_rc = cc_inbox_handoff_delete (done->store, txn, done->marker);
    return 0;
}

typedef struct {
    uint64_t nonces [8];
    char acks [8][64];
    size_t count;
} s_test_outbox_t;

static void
s_test_outbox_visit (uint64_t nonce, const uint8_t *signed_ack, size_t size,
                     void *arg)
{
    s_test_outbox_t *seen = (s_test_outbox_t *) arg;
    assert (seen->count < 8 && size < 64);
    seen->nonces [seen->count] = nonce;
    memcpy (seen->acks [seen->count], signed_ack, size);
    seen->acks [seen->count][size] = '\0';
    seen->count++;
}

typedef struct {
    uint64_t markers [8];
    char ids [8][64];
    uint32_t revisions [8];
    uint64_t seqs [8];
    size_t count;
} s_test_handoff_t;

static void
s_test_handoff_visit (uint64_t marker, const cc_inbox_record_t *record,
                      void *arg)
{
    s_test_handoff_t *seen = (s_test_handoff_t *) arg;
    assert (seen->count < 8);
    seen->markers [seen->count] = marker;
    snprintf (seen->ids [seen->count], 64, "%s", record->id);
    seen->revisions [seen->count] = record->revision;
    seen->seqs [seen->count] = record->seq;
    seen->count++;
}

void
cc_inbox_test (bool verbose)
{
    printf (" * cc_inbox: ");
    char dir [] = "/tmp/cc_inbox_test.XXXXXX";
    assert (mkdtemp (dir));
    cc_store_t *store = cc_store_new (dir, 0);
    assert (store);

    //  Key shape: id '\0' be32 revision; ids that cannot be keys refused.
    uint8_t key [CC_INBOX_KEY_MAX];
    assert (cc_inbox_key (key, "A-1", 2) == 8);
    assert (memcmp (key, "A-1\0\0\0\0\2", 8) == 0);
    assert (cc_inbox_key (key, "", 1) == 0);
    char long_id [CC_INBOX_ID_MAX + 2];
    memset (long_id, 'x', sizeof long_id - 1);
    long_id [sizeof long_id - 1] = '\0';
    assert (cc_inbox_key (key, long_id, 1) == 0);

    //  Round trip: one commit of record, cursor, marker and outbox entry.
    s_test_commit_t first = {
        .store = store, .id = "PK-NCERT-2026-0001", .revision = 1,
        .stream = "national/banking", .seq = 1, .received_at = 1700000000,
        .payload = "signed-bytes-1\0ignored"
    };
    assert (cc_store_write (store, s_test_commit, &first) == 0);
    assert (first.put_rc == 0);
    assert (first.nonce == 1);
    assert (first.marker == 1);

    s_test_commit_t second = {
        .store = store, .id = "PK-NCERT-2026-0001", .revision = 3,
        .stream = "national/banking", .seq = 2, .received_at = 1700000100,
        .payload = "signed-bytes-3"
    };
    assert (cc_store_write (store, s_test_commit, &second) == 0);
    assert (second.put_rc == 0 && second.nonce == 2 && second.marker == 2);

    s_test_commit_t other = {
        .store = store, .id = "PK-BANK-7", .revision = 1,
        .stream = "banking/banking", .seq = 5, .received_at = 1700000200,
        .payload = "bank-signed"
    };
    assert (cc_store_write (store, s_test_commit, &other) == 0);
    assert (other.nonce == 3 && other.marker == 3);

    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    cc_inbox_record_t record;
    assert (cc_inbox_get (store, txn, "PK-NCERT-2026-0001", 1, &record) == 0);
    assert (streq (record.id, "PK-NCERT-2026-0001"));
    assert (record.revision == 1);
    assert (record.received_at == 1700000000);
    assert (streq (record.stream, "national/banking"));
    assert (record.seq == 1);
    assert (record.signed_size == strlen ("signed-bytes-1"));
    assert (memcmp (record.signed_bytes, "signed-bytes-1",
                    record.signed_size) == 0);
    assert (cc_inbox_get (store, txn, "PK-NCERT-2026-0001", 2, &record)
            == MDB_NOTFOUND);
    assert (cc_inbox_get (store, txn, "nope", 1, &record) == MDB_NOTFOUND);
    assert (cc_inbox_latest (store, txn, "PK-NCERT-2026-0001") == 3);
    assert (cc_inbox_latest (store, txn, "PK-BANK-7") == 1);
    assert (cc_inbox_latest (store, txn, "PK-BANK") == 0);
    assert (cc_inbox_latest (store, txn, "PK-BANK-77") == 0);
    assert (cc_inbox_latest (store, txn, "ZZZ") == 0);
    assert (cc_inbox_latest (store, txn, "A") == 0);
    assert (cc_inbox_count (store, txn) == 3);
    assert (cc_inbox_cursor (store, txn, "national/banking") == 2);
    assert (cc_inbox_cursor (store, txn, "banking/banking") == 5);
    assert (cc_inbox_cursor (store, txn, "national/telecom") == 0);
    assert (cc_inbox_outbox_count (store, txn) == 3);
    mdb_txn_abort (txn);

    //  Dedupe: the same id + revision again changes nothing but the cursor.
    s_test_commit_t replay = first;
    replay.seq = 9;
    replay.payload = "different-bytes";
    replay.nonce = 0;
    replay.marker = 0;
    assert (cc_store_write (store, s_test_commit, &replay) == 0);
    assert (replay.put_rc == MDB_KEYEXIST);
    assert (replay.nonce == 0 && replay.marker == 0);
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_inbox_get (store, txn, "PK-NCERT-2026-0001", 1, &record) == 0);
    assert (memcmp (record.signed_bytes, "signed-bytes-1",
                    record.signed_size) == 0);
    assert (record.seq == 1);
    assert (cc_inbox_count (store, txn) == 3);
    assert (cc_inbox_cursor (store, txn, "national/banking") == 9);

    //  Outbox and handoff walks, in order.
    s_test_outbox_t outbox;
    memset (&outbox, 0, sizeof outbox);
    assert (cc_inbox_outbox_each (store, txn, 0, 0, s_test_outbox_visit,
                                  &outbox) == 3);
    assert (outbox.count == 3);
    assert (outbox.nonces [0] == 1 && outbox.nonces [2] == 3);
    assert (streq (outbox.acks [1], "ack:PK-NCERT-2026-0001:3"));
    memset (&outbox, 0, sizeof outbox);
    assert (cc_inbox_outbox_each (store, txn, 2, 1, s_test_outbox_visit,
                                  &outbox) == 1);
    assert (outbox.nonces [0] == 2);
    s_test_handoff_t handoff;
    memset (&handoff, 0, sizeof handoff);
    assert (cc_inbox_handoff_each (store, txn, s_test_handoff_visit,
                                   &handoff) == 3);
    assert (handoff.markers [0] == 1 && handoff.markers [2] == 3);
    assert (streq (handoff.ids [2], "PK-BANK-7"));
    assert (handoff.revisions [1] == 3);
    assert (handoff.seqs [2] == 5);
    mdb_txn_abort (txn);

    //  Outbox delete (an Acked reply) and handoff done; twice is harmless.
    s_test_done_t done = { .store = store, .nonce = 2, .marker = 1 };
    assert (cc_store_write (store, s_test_done, &done) == 0);
    assert (done.outbox_rc == 0 && done.handoff_rc == 0);
    assert (cc_store_write (store, s_test_done, &done) == 0);
    assert (done.outbox_rc == MDB_NOTFOUND && done.handoff_rc == MDB_NOTFOUND);
    cc_store_destroy (&store);

    //  Reopen: cursors, records, nonce and the rest persist.
    store = cc_store_new (dir, 0);
    assert (store);
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_inbox_cursor (store, txn, "national/banking") == 9);
    assert (cc_inbox_cursor (store, txn, "banking/banking") == 5);
    assert (cc_inbox_count (store, txn) == 3);
    assert (cc_inbox_outbox_count (store, txn) == 2);
    memset (&outbox, 0, sizeof outbox);
    assert (cc_inbox_outbox_each (store, txn, 0, 0, s_test_outbox_visit,
                                  &outbox) == 2);
    assert (outbox.nonces [0] == 1 && outbox.nonces [1] == 3);
    memset (&handoff, 0, sizeof handoff);
    assert (cc_inbox_handoff_each (store, txn, s_test_handoff_visit,
                                   &handoff) == 2);
    assert (handoff.markers [0] == 2 && handoff.markers [1] == 3);
    mdb_txn_abort (txn);
    s_test_commit_t later = {
        .store = store, .id = "PK-NCERT-2026-0002", .revision = 1,
        .stream = "national/banking", .seq = 10, .received_at = 1700000300,
        .payload = "x"
    };
    assert (cc_store_write (store, s_test_commit, &later) == 0);
    assert (later.nonce == 4);          //  nonces never repeat
    assert (later.marker == 4);
    cc_store_destroy (&store);

    if (verbose)
        printf ("(dir %s) ", dir);
    char path [256];
    snprintf (path, sizeof path, "%s/data.mdb", dir);
    unlink (path);
    snprintf (path, sizeof path, "%s/lock.mdb", dir);
    unlink (path);
    rmdir (dir);
    printf ("OK\n");
}
