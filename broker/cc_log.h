/*  cc_log.h - per-stream delivery logs and the advisory index.

    A stream is "origin/sector". Each origin numbers each of its streams
    densely from 1; the log keeps every Delivery as the exact encoded bytes
    that travelled (relays never renumber or re-encode), keyed by
    stream + '\0' + be64 seq, and the head of each stream in CC_DB_HEADS.
    CC_DB_ADVISORIES maps an advisory id to the latest accepted revision
    and its Signed bytes, which is how rollback and replay are refused.

    All functions work inside a caller's transaction (see cc_store.h);
    MDB_val results point into the map and are valid only until the next
    write or the end of the transaction.
*/
#ifndef CC_LOG_H_INCLUDED
#define CC_LOG_H_INCLUDED

//  Head (highest seq) of stream; 0 if the stream is empty or unknown.
uint64_t
    cc_log_head (cc_store_t *store, MDB_txn *txn, const char *stream);

//  Store delivery bytes at stream/seq and raise the head to seq. Refuses
//  (MDB_KEYEXIST) a seq that is already stored. 0 or LMDB error.
int
    cc_log_append (cc_store_t *store, MDB_txn *txn, const char *stream,
                   uint64_t seq, const uint8_t *delivery, size_t size);

//  Fetch one delivery. 0, MDB_NOTFOUND, or LMDB error.
int
    cc_log_get (cc_store_t *store, MDB_txn *txn, const char *stream,
                uint64_t seq, MDB_val *delivery);

//  Call fn(stream, head, arg) for every stream with a head, in key order.
typedef void (cc_log_head_fn) (const char *stream, uint64_t head, void *arg);
int
    cc_log_each_head (cc_store_t *store, MDB_txn *txn, cc_log_head_fn *fn,
                      void *arg);

//  Latest accepted revision of id, and its Signed bytes if wanted
//  (signed_bytes may be NULL). 0, MDB_NOTFOUND or LMDB error.
int
    cc_log_advisory (cc_store_t *store, MDB_txn *txn, const char *id,
                     uint32_t *revision, MDB_val *signed_bytes);

//  Record revision of id as accepted (replacing an older one).
int
    cc_log_put_advisory (cc_store_t *store, MDB_txn *txn, const char *id,
                         uint32_t revision, const uint8_t *signed_bytes,
                         size_t size);

//  Call fn for every accepted advisory (latest revision), in id order.
typedef void (cc_log_advisory_fn) (const char *id, uint32_t revision,
                                   const uint8_t *signed_bytes, size_t size,
                                   void *arg);
int
    cc_log_each_advisory (cc_store_t *store, MDB_txn *txn,
                          cc_log_advisory_fn *fn, void *arg);

//  Call fn for every delivery in the log that carries revision `revision`
//  of advisory id: its stream, sequence number and Signed bytes (valid
//  only during the call), in key order. The index keeps an id's latest
//  revision only; an earlier one's bytes are in the log of every stream
//  it went out on. The log is not indexed by advisory, so this reads
//  every delivery once. 0 or LMDB error.
typedef void (cc_log_signed_fn) (const char *stream, uint64_t seq,
                                 const uint8_t *signed_bytes, size_t size,
                                 void *arg);
int
    cc_log_each_revision (cc_store_t *store, MDB_txn *txn, const char *id,
                          uint32_t revision, cc_log_signed_fn *fn,
                          void *arg);

void
    cc_log_test (bool verbose);

#endif
