/*  cc_store.h - one LMDB environment per daemon, shared by every program.

    The store opens DIR/data.mdb with a fixed set of named databases and
    owns the MDB_env. Writers use cc_store_write: it runs a caller's batch
    function inside one write transaction and commits it with a full data
    sync (LMDB's default; we never set MDB_NOSYNC), so when it returns 0 the
    batch is on disk. If the map is full, the transaction is aborted, the
    map doubled, and the same batch function run again - so a batch
    function must only depend on its argument and the transaction, never
    on side effects of an earlier attempt.

    Readers (certcast ledger / compliance) open the same environment with
    CC_STORE_READONLY while the daemon runs; stale reader slots left by a
    killed reader are cleared with mdb_reader_check at open and from the
    daemon's housekeeping (cc_store_check_readers).
*/
#ifndef CC_STORE_H_INCLUDED
#define CC_STORE_H_INCLUDED

#include <lmdb.h>

typedef struct _cc_store_t cc_store_t;

//  The named databases. Keys and values are documented where each is used
//  (cc_log.h, cc_ledger.h, cc_roster.h, agents/cc_inbox.h).
typedef enum {
    CC_DB_META = 0,       //  string key -> value (heads, watermarks, schema)
    CC_DB_LOG,            //  stream\0 + seq(be64) -> encoded Delivery
    CC_DB_HEADS,          //  stream -> be64 head
    CC_DB_ADVISORIES,     //  advisory id -> be32 revision + encoded Signed
    CC_DB_ACKS,           //  ledger row key -> ledger row value
    CC_DB_EVIDENCE,       //  SHA-256(SignedAck) -> encoded SignedAck (schema 1)
    CC_DB_ACKQ,           //  be64 n -> encoded SignedAck (to forward upstream)
    CC_DB_ROSTER,         //  sign key(32) -> encoded RosterEntry
    CC_DB_SEEN,           //  sign key(32) -> be64 last seen (unix seconds)
    CC_DB_INBOX,          //  agent: advisory id\0 + be32 rev -> inbox record
    CC_DB_CURSORS,        //  agent: stream -> be64 last committed seq
    CC_DB_OUTBOX,         //  agent: be64 nonce -> encoded SignedAck
    CC_DB_HANDOFF,        //  agent: be64 n -> inbox key awaiting hand-over
    CC_DB_EVIDENCE_LOG,   //  be64 n -> encoded SignedAck (schema 2 on)
    CC_DB_COUNT
} cc_db_t;

#define CC_STORE_READONLY   1

//  Open or create DIR (mode 0700) and its environment. NULL with a one-line
//  reason printed via zsys_error if the directory or LMDB refuses.
cc_store_t *
    cc_store_new (const char *dir, int flags);

//  Same, with the initial map size in bytes (0: 64 MiB). An existing
//  environment keeps a larger map an earlier run grew to.
cc_store_t *
    cc_store_open (const char *dir, int flags, size_t initial_mapsize);

//  Same, saying nothing: on NULL, why (size bytes) holds the reason, for
//  a command's own one-line error.
cc_store_t *
    cc_store_open_quiet (const char *dir, int flags, size_t initial_mapsize,
                         char *why, size_t size);

void
    cc_store_destroy (cc_store_t **self_p);

MDB_env *
    cc_store_env (cc_store_t *self);
MDB_dbi
    cc_store_dbi (cc_store_t *self, cc_db_t db);

//  Call visit for every record of db, in key order (none where a
//  read-only store lacks db). 0 or an LMDB error.
typedef void (cc_store_visit_fn) (const MDB_val *key, const MDB_val *value,
                                  void *arg);
int
    cc_store_each (cc_store_t *self, MDB_txn *txn, cc_db_t db,
                   cc_store_visit_fn *visit, void *arg);

typedef int (cc_store_batch_fn) (MDB_txn *txn, void *arg);

//  Run batch(txn, arg) in one write transaction and commit durably. If
//  batch returns non-zero the transaction is aborted and that value
//  returned. MDB_MAP_FULL from batch or commit grows the map and retries.
//  Returns 0 or an LMDB / batch error code.
int
    cc_store_write (cc_store_t *self, cc_store_batch_fn *batch, void *arg);

//  Begin a read-only transaction (caller aborts it). 0 or LMDB error.
int
    cc_store_read (cc_store_t *self, MDB_txn **txn_p);

//  Clear reader slots of dead processes; returns how many were cleared.
int
    cc_store_check_readers (cc_store_t *self);

//  Current map size in bytes, and how many times it grew in this process.
size_t
    cc_store_mapsize (cc_store_t *self);
int
    cc_store_growths (cc_store_t *self);

//  Give back the resident pages of the map a burst of reads left behind
//  (madvise DONTNEED on this process's mapping of the data file); the data
//  is untouched and read back from the page cache on demand. 0, or -1 if
//  the mapping was not found or the kernel refused.
int
    cc_store_drop_map_pages (cc_store_t *self);

//  Small helpers for the fixed-width big-endian keys used everywhere.
void
    cc_be64_put (uint8_t *out, uint64_t value);
uint64_t
    cc_be64_get (const uint8_t *in);
void
    cc_be32_put (uint8_t *out, uint32_t value);
uint32_t
    cc_be32_get (const uint8_t *in);

//  Meta values are be64 integers by key name. Missing: 0.
uint64_t
    cc_meta_get_u64 (cc_store_t *self, MDB_txn *txn, const char *key);
int
    cc_meta_put_u64 (cc_store_t *self, MDB_txn *txn, const char *key,
                     uint64_t value);
//  Meta keys that a broker writes and certcast compliance reads: the relay
//  that reported an advisory (ORIGIN + id -> relay name), when a relay
//  last reported its roster (ROSTER + relay name -> Unix seconds), and
//  when a sign key was first listed in the roster here (ENROLLED + its 64
//  hex digits -> Unix seconds; see cc_roster_put).
#define CC_META_ORIGIN      "origin."
#define CC_META_ROSTER      "roster."
#define CC_META_ENROLLED    "enrolled."

//  A short string in the meta table (an advisory's origin relay): get
//  copies it into out (size bytes, cut to fit), "" when absent.
void
    cc_meta_get_str (cc_store_t *self, MDB_txn *txn, const char *key,
                     char *out, size_t size);
int
    cc_meta_put_str (cc_store_t *self, MDB_txn *txn, const char *key,
                     const char *value);

void
    cc_store_test (bool verbose);

#endif
