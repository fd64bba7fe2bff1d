/*  cc_inbox.h - what a subscriber agent keeps on disk: the advisories it
    committed, how far it has read each stream, the signed acks it still
    has to deliver, and the advisories it still has to hand to the host.

    Layout (named databases of cc_store.h):

        CC_DB_INBOX    id '\0' be32 revision
                       -> be64 received_at (Unix seconds)
                          be64 seq (position in the stream it came on)
                          stream name '\0'
                          encoded Signed, exactly as received
        CC_DB_CURSORS  stream name -> be64 last committed seq
        CC_DB_OUTBOX   be64 nonce -> encoded SignedAck (not yet Acked)
        CC_DB_HANDOFF  be64 n -> inbox key of an advisory committed but not
                       yet handed over to the host
        CC_DB_META     "nonce" (last ack nonce used), "handoff.next"
                       (last handoff marker number used), both be64

    Every function works inside a caller's transaction (see cc_store.h), so
    an agent commits inbox records, cursors, handoff markers and the ack
    that covers them in one transaction. The module keeps no state. Record
    fields returned by cc_inbox_get point into the map and are valid only
    until the next write or the end of the transaction.
*/
#ifndef CC_INBOX_H_INCLUDED
#define CC_INBOX_H_INCLUDED

#define CC_INBOX_ID_MAX       255     //  advisory id bytes in a key
#define CC_INBOX_STREAM_MAX   255     //  stream name bytes
#define CC_INBOX_KEY_MAX      (CC_INBOX_ID_MAX + 5)

//  One committed advisory. Pointers are borrowed (see above).
typedef struct {
    const char *id;                 //  advisory id
    uint32_t revision;              //  advisory revision
    int64_t received_at;            //  when this agent received it
    const char *stream;             //  stream it arrived on
    uint64_t seq;                   //  its seq in that stream
    const uint8_t *signed_bytes;    //  encoded Signed
    size_t signed_size;
} cc_inbox_record_t;

//  Build the inbox key of id + revision into key (CC_INBOX_KEY_MAX bytes).
//  Returns its size, or 0 if the id is empty or too long.
size_t
    cc_inbox_key (uint8_t *key, const char *id, uint32_t revision);

//  Store a record. MDB_KEYEXIST if that id + revision is already held
//  (nothing changed), EINVAL for an id or stream that does not fit a
//  key, else 0 or an LMDB error.
int
    cc_inbox_put (cc_store_t *store, MDB_txn *txn,
                  const cc_inbox_record_t *record);

//  Look up id + revision. 0, MDB_NOTFOUND, EINVAL (a corrupt record) or
//  an LMDB error. *record points into the map.
int
    cc_inbox_get (cc_store_t *store, MDB_txn *txn, const char *id,
                  uint32_t revision, cc_inbox_record_t *record);

//  Same, by inbox key (as kept by a handoff marker).
int
    cc_inbox_get_key (cc_store_t *store, MDB_txn *txn, const uint8_t *key,
                      size_t key_size, cc_inbox_record_t *record);

//  Highest revision of id held; 0 if none.
uint32_t
    cc_inbox_latest (cc_store_t *store, MDB_txn *txn, const char *id);

//  Records held.
size_t
    cc_inbox_count (cc_store_t *store, MDB_txn *txn);

//  Last committed seq of stream; 0 if never read.
uint64_t
    cc_inbox_cursor (cc_store_t *store, MDB_txn *txn, const char *stream);

//  Set the cursor of stream. 0, EINVAL (bad name) or an LMDB error.
int
    cc_inbox_set_cursor (cc_store_t *store, MDB_txn *txn, const char *stream,
                         uint64_t seq);

//  Take the next ack nonce (1, 2, 3 ...) and persist it. 0 or LMDB error.
int
    cc_inbox_next_nonce (cc_store_t *store, MDB_txn *txn, uint64_t *nonce);

//  Keep an encoded SignedAck under nonce until the relay confirms it.
int
    cc_inbox_outbox_put (cc_store_t *store, MDB_txn *txn, uint64_t nonce,
                         const uint8_t *signed_ack, size_t size);

//  Forget outbox[nonce]. 0, MDB_NOTFOUND or an LMDB error.
int
    cc_inbox_outbox_delete (cc_store_t *store, MDB_txn *txn, uint64_t nonce);

//  Call fn for outbox entries in nonce order, starting at nonce `from`,
//  at most `max` of them (0: no limit). Returns how many were visited, or
//  -1 on an LMDB error. Bytes are valid during the call.
typedef void (cc_inbox_outbox_fn) (uint64_t nonce, const uint8_t *signed_ack,
                                   size_t size, void *arg);
int
    cc_inbox_outbox_each (cc_store_t *store, MDB_txn *txn, uint64_t from,
                          size_t max, cc_inbox_outbox_fn *fn, void *arg);

//  Entries waiting in the outbox.
size_t
    cc_inbox_outbox_count (cc_store_t *store, MDB_txn *txn);

//  Mark id + revision as committed but not yet handed over; sets *marker.
//  0, EINVAL or an LMDB error.
int
    cc_inbox_handoff_add (cc_store_t *store, MDB_txn *txn, const char *id,
                          uint32_t revision, uint64_t *marker);

//  Remove a handoff marker. 0, MDB_NOTFOUND or an LMDB error.
int
    cc_inbox_handoff_delete (cc_store_t *store, MDB_txn *txn, uint64_t marker);

//  Call fn for every pending handoff marker in order, with the record it
//  names (markers whose record is missing are skipped). Returns how many
//  were visited or -1 on an LMDB error.
typedef void (cc_inbox_handoff_fn) (uint64_t marker,
                                    const cc_inbox_record_t *record,
                                    void *arg);
int
    cc_inbox_handoff_each (cc_store_t *store, MDB_txn *txn,
                           cc_inbox_handoff_fn *fn, void *arg);

void
    cc_inbox_test (bool verbose);

#endif
