/*  cc_ledger.h - the acknowledgement ledger (Rule 26 evidence).

    The ledger keeps every signed ack that brought a new row as evidence
    (CC_DB_EVIDENCE_LOG, numbered in the order it was ledgered) and one row
    per (advisory id, revision, agent, status) pointing at it (CC_DB_ACKS).
    Row key:
        advisory id, '\0', be32 revision, agent sign key (32), status (1)
    Row value (64 bytes):
        be64 received_at, be64 acked_at (signed ack time), be64 ledgered_at,
        evidence hash (32: SHA-256 of the SignedAck bytes), be64 evidence
        number
    Rows are written with MDB_NOOVERWRITE: an ack repeated at-least-once is
    harmless and the first evidence is kept. Rows of schema 1 (56 bytes,
    no number) name their evidence by hash in CC_DB_EVIDENCE, and are read
    as ever; evidence is numbered since schema 2 because a hash key puts
    each ack's evidence on a B-tree leaf of its own, so a commit of N acks
    wrote about N pages.

    A relay also queues each ledgered SignedAck in CC_DB_ACKQ for upstream,
    and the upstream watermark "ackq.sent" in CC_DB_META says how far the
    national broker has confirmed.
*/
#ifndef CC_LEDGER_H_INCLUDED
#define CC_LEDGER_H_INCLUDED

//  The largest encoded Ack taken: 4,096 entries of the longest id, a
//  digest and a short reason fit; a whole 4 MiB frame does not (see
//  cc_ledger_verify_signed_ack).
#define CC_LEDGER_ACK_MAX       (1024 * 1024)
#define CC_LEDGER_ID_MAX        127     //  advisory id bytes in a row key
#define CC_LEDGER_ACK_MAX_TEXT  "1 MiB"

typedef struct {
    char advisory_id [128];
    uint32_t revision;
    uint8_t agent [32];         //  agent Ed25519 public key
    int status;                 //  Certcast__AckStatus
    int64_t received_at;        //  when the agent committed the advisory
    int64_t acked_at;           //  time in the signed ack
    int64_t ledgered_at;        //  when this ledger committed the row
    uint8_t evidence [32];      //  SHA-256 of the SignedAck bytes
    uint64_t evidence_number;   //  in CC_DB_EVIDENCE_LOG; 0: by hash (schema 1)
} cc_ledger_row_t;

//  Verify signed_ack bytes: decodes SignedAck and Ack (bounded), checks
//  the Ed25519 signature with ack.agent_key. If expected_agent is not NULL
//  the ack's agent_key must equal it (CC_ENOTALLOWED otherwise). Returns
//  the unpacked Ack (caller frees with certcast__ack__free_unpacked) or
//  NULL with *code and *reason set.
Certcast__Ack *
    cc_ledger_verify_ack (const uint8_t *signed_ack, size_t size,
                          const uint8_t *expected_agent, int *code,
                          const char **reason) CC_WUR;

//  Sign an Ack with keys (which hold the secret key): the packed
//  SignedAck, which the caller frees, and its size in *size.
uint8_t *
    cc_ledger_sign_ack (cc_keys_t *keys, const Certcast__Ack *ack,
                        size_t *size);

//  The same checks on an envelope the caller already decoded (a broker's
//  Acks request); the envelope stays the caller's.
Certcast__Ack *
    cc_ledger_verify_signed_ack (const Certcast__SignedAck *envelope,
                                 const uint8_t *expected_agent, int *code,
                                 const char **reason) CC_WUR;

//  The digests of the advisories held here, by id and revision, as acks
//  name them: hashing a held advisory (up to 1 MiB) for every ack of an
//  alert to 10,000 agents would cost more than checking their signatures.
//  A revision's bytes never change in the index once committed, but an
//  aborted transaction's may: clear it after any write that did not
//  commit.
typedef struct _cc_ledger_digests_t cc_ledger_digests_t;

cc_ledger_digests_t *
    cc_ledger_digests_new (void);

void
    cc_ledger_digests_destroy (cc_ledger_digests_t **self_p);

void
    cc_ledger_digests_clear (cc_ledger_digests_t *self);

//  Store one verified signed ack: one row per entry that names an
//  advisory this store holds (CC_DB_ADVISORIES: that id at a later
//  revision, or at that revision with the digest of the bytes held) and
//  is not in the ledger yet, and the ack as their evidence. An entry for
//  any other advisory, or for other bytes under the id and revision held
//  (another issuer's advisory that took the same id where the agent got
//  it), is no receipt of anything sent from here: it gets no row, and is
//  counted in *unknown. digests may be NULL (each held advisory hashed
//  for each entry). An ack that
//  adds no row (all unknown, or a resend, even signed anew) is not stored
//  or queued at all: the rows it names have their evidence. `ack` is the
//  already-verified decode of the same bytes. Sets *new_rows to how many
//  rows were added. If queue_upstream and rows were added, also appends
//  the bytes to CC_DB_ACKQ. 0 or LMDB error.
int
    cc_ledger_put (cc_store_t *store, MDB_txn *txn, const uint8_t *signed_ack,
                   size_t size, const Certcast__Ack *ack, int64_t now,
                   bool queue_upstream, cc_ledger_digests_t *digests,
                   int *new_rows, int *unknown);

//  The digests acks of revision `revision` of each of count ids must name
//  to be receipts at the broker or relay whose data directory is dir (the
//  SHA-256 of each advisory's bytes as held there, what its agents got),
//  read while it runs; 32 zero bytes for an id not held at that revision.
//  How many are held, or -1 if dir cannot be read. For tools that ack as
//  agents do.
int
    cc_ledger_held_digests (const char *dir, const char **ids, size_t count,
                            uint32_t revision, uint8_t (*digests) [32]);

//  The first advisory id with rows after `after` ("" for the first of
//  all), in key order, into id (CC_LEDGER_ID_MAX + 1 bytes). 0,
//  MDB_NOTFOUND when there is none, or an LMDB error.
int
    cc_ledger_next_id (cc_store_t *store, MDB_txn *txn, const char *after,
                       char *id);

//  Call fn for every row of advisory_id (NULL: all rows), in key order.
typedef void (cc_ledger_row_fn) (const cc_ledger_row_t *row, void *arg);
int
    cc_ledger_each (cc_store_t *store, MDB_txn *txn, const char *advisory_id,
                    cc_ledger_row_fn *fn, void *arg);

//  Evidence bytes for a row, checked against the row's hash. 0,
//  MDB_NOTFOUND, MDB_CORRUPTED (bytes that do not hash to the row's) or
//  LMDB error.
int
    cc_ledger_evidence (cc_store_t *store, MDB_txn *txn,
                        const cc_ledger_row_t *row, MDB_val *signed_ack);

//  What the agent said in the row: the entry of the row's evidence (its
//  signed ack, checked against the row's hash and verified again) that
//  brought the row, the first one naming its advisory, revision and
//  status. Its digest says which bytes the agent got, its reason why
//  acting on them failed. Returns the decoded Ack (caller frees with
//  certcast__ack__free_unpacked) with *entry pointing into it, or NULL
//  when the evidence is missing, is not what the row says, or names no
//  such entry.
Certcast__Ack *
    cc_ledger_row_entry (cc_store_t *store, MDB_txn *txn,
                         const cc_ledger_row_t *row,
                         const Certcast__AckEntry **entry);

//  Upstream queue: up to max entries after watermark "ackq.sent" and
//  after `after` (a confirmation not yet committed; 0: none), each
//  passed to fn(n, bytes, size, arg). Returns count or -1.
typedef void (cc_ledger_queue_fn) (uint64_t n, const uint8_t *signed_ack,
                                   size_t size, void *arg);
int
    cc_ledger_queue_peek (cc_store_t *store, MDB_txn *txn, uint64_t after,
                          size_t max, cc_ledger_queue_fn *fn, void *arg);
//  Confirm everything up to and including n: delete it, persist watermark.
int
    cc_ledger_queue_confirm (cc_store_t *store, MDB_txn *txn, uint64_t n);

void
    cc_ledger_test (bool verbose);

#endif
