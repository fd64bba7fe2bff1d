/*  cc_ledger.c - the acknowledgement ledger (Rule 26 evidence).

    An ack is ledgered only after cc_ledger_verify_ack has decoded it and
    checked the agent's Ed25519 signature over the exact bytes received;
    those bytes are kept as evidence, so a compliance report can always be
    backed by what the agent itself signed, and re-verified by anyone.
    A row says "this agent received what we sent", so it is written only
    for an advisory this broker holds: a signature alone proves who
    signed, not that there was anything to receive.

    Layout (see cc_ledger.h):
        CC_DB_EVIDENCE_LOG  be64 n -> SignedAck bytes
        CC_DB_ACKS      id '\0' be32 rev, agent(32), status(1)
                        -> be64 received_at, be64 acked_at, be64 ledgered_at,
                           evidence hash(32), be64 evidence n
        CC_DB_ACKQ      be64 n -> SignedAck bytes (relay: for upstream)
        CC_DB_META      "ackq.next" (next n, from 1), "ackq.sent" (confirmed)
        CC_DB_EVIDENCE  SHA-256(SignedAck) -> SignedAck bytes: the evidence
                        of schema 1's 56-byte rows, read only
    The module keeps no state; everything runs in the caller's transaction.
*/

#include "cc_broker.h"

#define CC_LEDGER_MAX_ENTRIES   4096    //  entries in one signed ack
#define CC_LEDGER_REASON_MAX    256     //  bytes of an entry's reason
#define CC_LEDGER_VALUE_SIZE    64
#define CC_LEDGER_VALUE_SIZE_V1 56      //  schema 1: no evidence number
#define CC_LEDGER_KEY_MAX       (CC_LEDGER_ID_MAX + 1 + 4 + 32 + 1)

//  Build a row key; returns its size. The id was checked by verify_ack.
static size_t
s_row_key (uint8_t *key, const char *advisory_id, uint32_t revision,
           const uint8_t *agent, int status)
{
    size_t length = strlen (advisory_id);
    assert (length > 0 && length <= CC_LEDGER_ID_MAX);
    memcpy (key, advisory_id, length);
    key [length] = '\0';
    cc_be32_put (key + length + 1, revision);
    memcpy (key + length + 5, agent, 32);
    key [length + 37] = (uint8_t) status;
    return length + 38;
}


//  --------------------------------------------------------------------------
//  Refuse an ack with *code and *reason; frees what was decoded so far.

static Certcast__Ack *
s_refuse (Certcast__SignedAck *signed_ack, Certcast__Ack *ack, int code,
          const char *why, int *code_p, const char **reason_p)
{
    if (ack)
        certcast__ack__free_unpacked (ack, NULL);
    if (signed_ack)
        certcast__signed_ack__free_unpacked (signed_ack, NULL);
    *code_p = code;
    *reason_p = why;
    return NULL;
}


//  --------------------------------------------------------------------------
//  Verify signed ack bytes: decode the envelope, then check it.

Certcast__Ack *
cc_ledger_verify_ack (const uint8_t *signed_ack, size_t size,
                      const uint8_t *expected_agent, int *code,
                      const char **reason)
{
    assert (code);
    assert (reason);
    *code = CC_OK;
    *reason = NULL;
    if (!signed_ack || size == 0)
        return s_refuse (NULL, NULL, CC_EMALFORMED, "empty signed ack",
                         code, reason);
    Certcast__SignedAck *envelope = (Certcast__SignedAck *)
        cc_wire_unpack (&certcast__signed_ack__descriptor, signed_ack, size,
                        CC_WIRE_MAX_FRAME);
    if (!envelope)
        return s_refuse (NULL, NULL, CC_EMALFORMED,
                         "signed ack does not decode", code, reason);
    Certcast__Ack *ack = cc_ledger_verify_signed_ack (envelope, expected_agent,
                                                      code, reason);
    certcast__signed_ack__free_unpacked (envelope, NULL);
    return ack;
}


//  --------------------------------------------------------------------------
//  Sign an ack: the signature covers the exact Ack bytes in the envelope.

uint8_t *
cc_ledger_sign_ack (cc_keys_t *keys, const Certcast__Ack *ack, size_t *size)
{
    assert (keys);
    assert (ack);
    assert (size);
    size_t ack_size;
    uint8_t *ack_bytes = cc_wire_pack (&ack->base, &ack_size);
    uint8_t signature [64];
    int rc = cc_keys_sign (keys, ack_bytes, ack_size, signature);
    assert (rc == 0);           //  callers hold the secret key
    Certcast__SignedAck envelope = CERTCAST__SIGNED_ACK__INIT;
    envelope.ack.data = ack_bytes;
    envelope.ack.len = ack_size;
    envelope.signature.data = signature;
    envelope.signature.len = sizeof signature;
    uint8_t *bytes = cc_wire_pack (&envelope.base, size);
    free (ack_bytes);
    return bytes;
}


//  --------------------------------------------------------------------------
//  Verify an already decoded envelope (a broker has it from the Acks
//  request: decoding its re-encoding again would only cost). Sizes are
//  checked before anything is trusted; the signature is checked before
//  the entries are looked at, and with the key inside the ack - the
//  binding of that key to the connected client is what expected_agent
//  checks. The envelope stays the caller's.

Certcast__Ack *
cc_ledger_verify_signed_ack (const Certcast__SignedAck *envelope,
                             const uint8_t *expected_agent, int *code,
                             const char **reason)
{
    assert (envelope);
    assert (code);
    assert (reason);
    *code = CC_OK;
    *reason = NULL;
    if (envelope->ack.len == 0 || envelope->signature.len != 64)
        return s_refuse (NULL, NULL, CC_EMALFORMED,
                         "signed ack lacks ack or 64-byte signature",
                         code, reason);
    //  Every hop keeps the ack as evidence and passes it upstream inside
    //  a frame of its own: one that filled a whole frame here would not
    //  fit in the next hop's, and would block the acks queued behind it
    //  there for good.
    if (envelope->ack.len > CC_LEDGER_ACK_MAX)
        return s_refuse (NULL, NULL, CC_EMALFORMED,
                         "ack larger than " CC_LEDGER_ACK_MAX_TEXT,
                         code, reason);
    Certcast__Ack *ack = (Certcast__Ack *)
        cc_wire_unpack (&certcast__ack__descriptor, envelope->ack.data,
                        envelope->ack.len, CC_WIRE_MAX_FRAME);
    if (!ack)
        return s_refuse (NULL, NULL, CC_EMALFORMED,
                         "ack does not decode", code, reason);
    if (ack->agent_key.len != 32)
        return s_refuse (NULL, ack, CC_EMALFORMED,
                         "ack agent key is not 32 bytes", code, reason);
    //  Before the signature: an agent's ack must name the agent itself,
    //  and a flood of acks naming anyone else must not cost a check each.
    if (expected_agent
    &&  CRYPTO_memcmp (expected_agent, ack->agent_key.data, 32) != 0)
        return s_refuse (NULL, ack, CC_ENOTALLOWED,
                         "ack signed by another agent than the connected "
                         "client", code, reason);
    if (!cc_ed25519_verify (ack->agent_key.data, envelope->ack.data,
                            envelope->ack.len, envelope->signature.data,
                            envelope->signature.len))
        return s_refuse (NULL, ack, CC_ESIGNATURE,
                         "ack signature does not verify", code, reason);
    if (ack->n_entries == 0 || ack->n_entries > CC_LEDGER_MAX_ENTRIES)
        return s_refuse (NULL, ack, CC_EMALFORMED,
                         "ack has no entries or too many", code, reason);
    for (size_t index = 0; index < ack->n_entries; index++) {
        const Certcast__AckEntry *entry = ack->entries [index];
        size_t length = entry->advisory_id?
            strnlen (entry->advisory_id, CC_LEDGER_ID_MAX + 1): 0;
        if (length == 0 || length > CC_LEDGER_ID_MAX)
            return s_refuse (NULL, ack, CC_EMALFORMED,
                             "ack entry advisory id empty or too long",
                             code, reason);
        if (entry->revision < 1)
            return s_refuse (NULL, ack, CC_EMALFORMED,
                             "ack entry revision is 0", code, reason);
        //  A receipt names the exact bytes received.
        if (entry->digest.len != 32)
            return s_refuse (NULL, ack, CC_EMALFORMED,
                             "ack entry digest is not 32 bytes", code,
                             reason);
        if (entry->reason
        &&  strnlen (entry->reason, CC_LEDGER_REASON_MAX + 1)
            > CC_LEDGER_REASON_MAX)
            return s_refuse (NULL, ack, CC_EMALFORMED,
                             "ack entry reason longer than 256 bytes", code,
                             reason);
        if (entry->status < CERTCAST__ACK_STATUS__RECEIVED
        ||  entry->status > CERTCAST__ACK_STATUS__FAILED)
            return s_refuse (NULL, ack, CC_EMALFORMED,
                             "ack entry status unknown", code, reason);
    }
    return ack;
}


//  --------------------------------------------------------------------------
//  Digests of held advisories, by revision and id. A burst's acks name a
//  thousand advisories, each agent's in the same order, so anything that
//  forgets by position (a few slots) hashes on nearly every entry: 12 %
//  of the burst's rate. Exact entries, all dropped at the bound.

#define DIGESTS_MAX     65536           //  ~13 MiB at most

struct _cc_ledger_digests_t {
    zhashx_t *by_key;                   //  "REVISION ID" -> uint8_t [32]
};

static void
s_digest_free (void **item)
{
    free (*item);
    *item = NULL;
}

cc_ledger_digests_t *
cc_ledger_digests_new (void)
{
    cc_ledger_digests_t *self =
        (cc_ledger_digests_t *) zmalloc (sizeof (cc_ledger_digests_t));
    self->by_key = zhashx_new ();
    zhashx_set_destructor (self->by_key, s_digest_free);
    return self;
}

void
cc_ledger_digests_destroy (cc_ledger_digests_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zhashx_destroy (&(*self_p)->by_key);
        free (*self_p);
        *self_p = NULL;
    }
}

void
cc_ledger_digests_clear (cc_ledger_digests_t *self)
{
    assert (self);
    zhashx_purge (self->by_key);
}

static void
s_held_digest (cc_ledger_digests_t *self, const char *id, uint32_t revision,
               const MDB_val *bytes, uint8_t digest [32])
{
    char key [CC_LEDGER_ID_MAX + 16];
    snprintf (key, sizeof key, "%" PRIu32 " %s", revision, id);
    const uint8_t *kept = self? (const uint8_t *) zhashx_lookup (self->by_key,
                                                                 key): NULL;
    if (kept) {
        memcpy (digest, kept, 32);
        return;
    }
    cc_sha256 ((const uint8_t *) bytes->mv_data, bytes->mv_size, digest);
    if (!self)
        return;
    if (zhashx_size (self->by_key) >= DIGESTS_MAX)
        zhashx_purge (self->by_key);
    uint8_t *copy = (uint8_t *) malloc (32);
    assert (copy);
    memcpy (copy, digest, 32);
    zhashx_insert (self->by_key, key, copy);
}


//  --------------------------------------------------------------------------
//  Does this store hold the advisory an entry names? The index keeps the
//  latest accepted revision of each id only; an older revision of it was
//  replaced here (revisions only grow), and its ack is still a receipt
//  (its bytes are gone: nothing to compare). An ack of the revision held
//  must name the bytes held: an id's revision has one issuer here (see
//  s_apply_publish), but not everywhere. A sectoral issuer that used a
//  national advisory's id first at a relay cut off from us has its own
//  advisory under that id and revision there, and the relay's agents ack
//  it; counted here, that ack would tell the officer those agents got
//  ours.

static int
s_held (cc_store_t *store, MDB_txn *txn, const Certcast__AckEntry *entry,
        cc_ledger_digests_t *digests, bool *held)
{
    uint32_t revision = 0;
    MDB_val bytes;
    int rc = cc_log_advisory (store, txn, entry->advisory_id, &revision,
                              &bytes);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    *held = rc == 0 && entry->revision <= revision;
    if (*held && entry->revision == revision) {
        uint8_t digest [32];
        s_held_digest (digests, entry->advisory_id, revision, &bytes, digest);
        *held = entry->digest.len == 32
             && CRYPTO_memcmp (digest, entry->digest.data, 32) == 0;
    }
    return 0;
}


int
cc_ledger_held_digests (const char *dir, const char **ids, size_t count,
                        uint32_t revision, uint8_t (*digests) [32])
{
    assert (dir);
    assert (ids || count == 0);
    memset (digests, 0, count * 32);
    cc_store_t *store = cc_store_new (dir, CC_STORE_READONLY);
    MDB_txn *txn = NULL;
    if (!store || cc_store_read (store, &txn)) {
        cc_store_destroy (&store);
        return -1;
    }
    int held_count = 0;
    for (size_t index = 0; index < count; index++) {
        uint32_t held = 0;
        MDB_val bytes;
        if (cc_log_advisory (store, txn, ids [index], &held, &bytes) == 0
        &&  held == revision) {
            s_held_digest (NULL, ids [index], held, &bytes, digests [index]);
            held_count++;
        }
    }
    mdb_txn_abort (txn);
    cc_store_destroy (&store);
    return held_count;
}


//  --------------------------------------------------------------------------
//  The number after the last evidence kept, from 1.

static int
s_evidence_next (MDB_txn *txn, MDB_dbi evidence, uint64_t *number)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, evidence, &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    rc = mdb_cursor_get (cursor, &key, &value, MDB_LAST);
    mdb_cursor_close (cursor);
    *number = 1;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && key.mv_size != 8)
        return MDB_CORRUPTED;   //  not our table: never guess a number
    if (rc == 0)
        *number = cc_be64_get ((const uint8_t *) key.mv_data) + 1;
    return rc;
}


//  --------------------------------------------------------------------------
//  Store one verified ack. Everything is MDB_NOOVERWRITE: acks arrive at
//  least once, and the first evidence for a row is the one that counts.
//  The evidence is stored only with a new row, so an ack that names only
//  advisories we do not hold, or only rows we have, leaves nothing behind
//  and is not queued upstream: an agent resending the same batch does not
//  make the relay resend it to the national broker. Evidence is numbered,
//  so each commit appends it to one end of its table.

int
cc_ledger_put (cc_store_t *store, MDB_txn *txn, const uint8_t *signed_ack,
               size_t size, const Certcast__Ack *ack, int64_t now,
               bool queue_upstream, cc_ledger_digests_t *digests,
               int *new_rows, int *unknown)
{
    assert (store);
    assert (txn);
    assert (signed_ack && size > 0);
    assert (ack);
    assert (ack->agent_key.len == 32);
    assert (new_rows && unknown);
    *new_rows = 0;
    *unknown = 0;
    MDB_dbi evidence = cc_store_dbi (store, CC_DB_EVIDENCE_LOG);
    MDB_dbi acks = cc_store_dbi (store, CC_DB_ACKS);
    MDB_dbi ackq = cc_store_dbi (store, CC_DB_ACKQ);
    if (evidence == 0 || acks == 0 || ackq == 0)
        return EACCES;

    uint8_t hash [32];
    cc_sha256 (signed_ack, size, hash);
    //  The number this evidence takes if a row is added: the table's own
    //  last key says it, so no counter can disagree with it. Looked up at
    //  the first held entry: an ack of unknowns needs none.
    uint64_t number = 0;
    int added = 0, rc = 0;
    for (size_t index = 0; index < ack->n_entries; index++) {
        const Certcast__AckEntry *entry = ack->entries [index];
        bool held = false;
        if ((rc = s_held (store, txn, entry, digests, &held)))
            return rc;
        if (!held) {
            (*unknown)++;
            continue;
        }
        if (number == 0 && (rc = s_evidence_next (txn, evidence, &number)))
            return rc;
        uint8_t row_key [CC_LEDGER_KEY_MAX];
        uint8_t row_value [CC_LEDGER_VALUE_SIZE];
        MDB_val mkey = {
            s_row_key (row_key, entry->advisory_id, entry->revision,
                       ack->agent_key.data, entry->status), row_key };
        cc_be64_put (row_value, (uint64_t) entry->received_at);
        cc_be64_put (row_value + 8, (uint64_t) ack->time);
        cc_be64_put (row_value + 16, (uint64_t) now);
        memcpy (row_value + 24, hash, 32);
        cc_be64_put (row_value + 56, number);
        MDB_val mvalue = { sizeof (row_value), row_value };
        rc = mdb_put (txn, acks, &mkey, &mvalue, MDB_NOOVERWRITE);
        if (rc == 0)
            added++;
        else
        if (rc != MDB_KEYEXIST)
            return rc;
    }
    if (added == 0)
        return 0;
    uint8_t number_key [8];
    cc_be64_put (number_key, number);
    MDB_val key = { sizeof (number_key), number_key };
    MDB_val value = { size, (void *) signed_ack };
    //  Numbers only grow: MDB_APPEND writes at the end without a search,
    //  and refuses (MDB_KEYEXIST) rather than misplace one
    rc = mdb_put (txn, evidence, &key, &value, MDB_APPEND);
    if (rc)
        return rc;
    if (queue_upstream) {
        uint64_t next = cc_meta_get_u64 (store, txn, "ackq.next");
        uint64_t sent = cc_meta_get_u64 (store, txn, "ackq.sent");
        if (next <= sent)
            next = sent + 1;            //  never queue below the watermark
        uint8_t queue_key [8];
        cc_be64_put (queue_key, next);
        MDB_val qkey = { sizeof (queue_key), queue_key };
        rc = mdb_put (txn, ackq, &qkey, &value, MDB_NOOVERWRITE);
        if (rc == 0)
            rc = cc_meta_put_u64 (store, txn, "ackq.next", next + 1);
        if (rc)
            return rc;
    }
    *new_rows = added;
    return 0;
}


//  --------------------------------------------------------------------------
//  Decode one row; false if it is not a well-formed row.

static bool
s_row_decode (const MDB_val *key, const MDB_val *value, cc_ledger_row_t *row)
{
    const uint8_t *bytes = (const uint8_t *) key->mv_data;
    if (key->mv_size < 39 || key->mv_size > CC_LEDGER_KEY_MAX
    || (value->mv_size != CC_LEDGER_VALUE_SIZE
    &&  value->mv_size != CC_LEDGER_VALUE_SIZE_V1))
        return false;
    size_t length = key->mv_size - 38;
    if (bytes [length] != '\0' || memchr (bytes, '\0', length))
        return false;
    memset (row, 0, sizeof (*row));
    memcpy (row->advisory_id, bytes, length);
    row->advisory_id [length] = '\0';
    row->revision = cc_be32_get (bytes + length + 1);
    memcpy (row->agent, bytes + length + 5, 32);
    row->status = bytes [length + 37];
    const uint8_t *data = (const uint8_t *) value->mv_data;
    row->received_at = (int64_t) cc_be64_get (data);
    row->acked_at = (int64_t) cc_be64_get (data + 8);
    row->ledgered_at = (int64_t) cc_be64_get (data + 16);
    memcpy (row->evidence, data + 24, 32);
    if (value->mv_size == CC_LEDGER_VALUE_SIZE)
        row->evidence_number = cc_be64_get (data + 56);
    return true;
}


int
cc_ledger_next_id (cc_store_t *store, MDB_txn *txn, const char *after,
                   char *id)
{
    assert (store);
    assert (txn);
    assert (after);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_ACKS);
    if (dbi == 0)
        return MDB_NOTFOUND;
    //  Past every row of `after`: its id, then a byte above the NUL that
    //  ends an id in a row key.
    uint8_t start [CC_LEDGER_ID_MAX + 2];
    size_t length = strnlen (after, CC_LEDGER_ID_MAX);
    memcpy (start, after, length);
    start [length] = 1;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key = { length? length + 1: 0, start }, value;
    rc = mdb_cursor_get (cursor, &key, &value,
                         length? MDB_SET_RANGE: MDB_FIRST);
    if (rc == 0) {
        const uint8_t *end = (const uint8_t *) memchr (
            key.mv_data, 0, key.mv_size);
        size_t id_length = end? (size_t) (end - (const uint8_t *) key.mv_data)
                              : 0;
        if (id_length == 0 || id_length > CC_LEDGER_ID_MAX)
            rc = MDB_CORRUPTED;
        else {
            memcpy (id, key.mv_data, id_length);
            id [id_length] = 0;
        }
    }
    mdb_cursor_close (cursor);
    return rc;
}

int
cc_ledger_each (cc_store_t *store, MDB_txn *txn, const char *advisory_id,
                cc_ledger_row_fn *fn, void *arg)
{
    assert (store);
    assert (txn);
    assert (fn);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_ACKS);
    if (dbi == 0)
        return 0;
    //  One advisory's rows share the prefix id '\0'; the NUL keeps
    //  "PK-1" from matching "PK-10"
    uint8_t prefix [CC_LEDGER_ID_MAX + 1];
    size_t prefix_size = 0;
    if (advisory_id) {
        size_t length = strlen (advisory_id);
        if (length == 0 || length > CC_LEDGER_ID_MAX)
            return 0;
        memcpy (prefix, advisory_id, length);
        prefix [length] = '\0';
        prefix_size = length + 1;
    }
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key = { prefix_size, prefix }, value;
    rc = mdb_cursor_get (cursor, &key, &value,
                         prefix_size? MDB_SET_RANGE: MDB_FIRST);
    while (rc == 0) {
        if (prefix_size
        && (key.mv_size < prefix_size
        ||  memcmp (key.mv_data, prefix, prefix_size) != 0))
            break;
        cc_ledger_row_t row;
        if (s_row_decode (&key, &value, &row))
            fn (&row, arg);
        rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}


int
cc_ledger_evidence (cc_store_t *store, MDB_txn *txn,
                    const cc_ledger_row_t *row, MDB_val *signed_ack)
{
    assert (store);
    assert (txn);
    assert (row);
    assert (signed_ack);
    uint8_t number [8];
    cc_be64_put (number, row->evidence_number);
    MDB_val key = { sizeof (number), number };
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_EVIDENCE_LOG);
    if (row->evidence_number == 0) {
        key.mv_size = 32;
        key.mv_data = (void *) row->evidence;
        dbi = cc_store_dbi (store, CC_DB_EVIDENCE);
    }
    if (dbi == 0)
        return MDB_NOTFOUND;
    int rc = mdb_get (txn, dbi, &key, signed_ack);
    if (rc)
        return rc;
    //  Evidence is what the row says it is, or it is no evidence
    uint8_t hash [32];
    cc_sha256 ((const uint8_t *) signed_ack->mv_data, signed_ack->mv_size, hash);
    return CRYPTO_memcmp (hash, row->evidence, 32) == 0? 0: MDB_CORRUPTED;
}


Certcast__Ack *
cc_ledger_row_entry (cc_store_t *store, MDB_txn *txn,
                     const cc_ledger_row_t *row,
                     const Certcast__AckEntry **entry)
{
    assert (entry);
    *entry = NULL;
    MDB_val signed_ack;
    if (cc_ledger_evidence (store, txn, row, &signed_ack))
        return NULL;
    int code;
    const char *reason;
    Certcast__Ack *ack = cc_ledger_verify_ack (
        (const uint8_t *) signed_ack.mv_data, signed_ack.mv_size, row->agent,
        &code, &reason);
    for (size_t index = 0; ack && !*entry && index < ack->n_entries;
         index++) {
        const Certcast__AckEntry *candidate = ack->entries [index];
        if (candidate->revision == row->revision
        &&  (int) candidate->status == row->status
        &&  streq (candidate->advisory_id, row->advisory_id))
            *entry = candidate;
    }
    if (ack && !*entry)
        certcast__ack__free_unpacked (ack, NULL);
    return *entry? ack: NULL;
}


//  --------------------------------------------------------------------------
//  Upstream queue. Entries stay until the national broker has confirmed
//  them (after its own commit); the watermark makes a resend after a
//  restart start where the confirmation left off.

int
cc_ledger_queue_peek (cc_store_t *store, MDB_txn *txn, uint64_t after,
                      size_t max, cc_ledger_queue_fn *fn, void *arg)
{
    assert (store);
    assert (txn);
    assert (fn);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_ACKQ);
    if (dbi == 0 || max == 0)
        return 0;
    uint64_t sent = cc_meta_get_u64 (store, txn, "ackq.sent");
    if (after > sent)
        sent = after;
    MDB_cursor *cursor;
    if (mdb_cursor_open (txn, dbi, &cursor))
        return -1;
    uint8_t start [8];
    cc_be64_put (start, sent + 1);
    MDB_val key = { sizeof (start), start }, value;
    int count = 0;
    int rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
    while (rc == 0 && (size_t) count < max && count < INT_MAX) {
        if (key.mv_size == 8) {
            fn (cc_be64_get ((const uint8_t *) key.mv_data),
                (const uint8_t *) value.mv_data, value.mv_size, arg);
            count++;
        }
        rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND)
        return -1;
    return count;
}


int
cc_ledger_queue_confirm (cc_store_t *store, MDB_txn *txn, uint64_t n)
{
    assert (store);
    assert (txn);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_ACKQ);
    if (dbi == 0)
        return EACCES;
    uint64_t sent = cc_meta_get_u64 (store, txn, "ackq.sent");
    uint64_t next = cc_meta_get_u64 (store, txn, "ackq.next");
    //  Never beyond what was queued: a confused upstream must not make
    //  us skip acks queued later
    if (next > 0 && n > next - 1)
        n = next - 1;
    if (n <= sent)
        return 0;                       //  the watermark never goes back
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        if (key.mv_size == 8
        &&  cc_be64_get ((const uint8_t *) key.mv_data) > n)
            break;
        rc = mdb_cursor_del (cursor, 0);
        if (rc)
            break;
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    return cc_meta_put_u64 (store, txn, "ackq.sent", n);
}


//  --------------------------------------------------------------------------
//  Self test

#define TEST_HELD_BYTES     "signed"

//  Build signed ack bytes: entries advisory ids ids[0..count), all rev
//  revision and status; sign with keys (or forge: flip a signature bit).
static uint8_t *
s_test_signed_ack (cc_keys_t *keys, const char **ids, size_t count,
                   uint32_t revision, int status, uint64_t nonce,
                   bool forge, size_t *size)
{
    Certcast__AckEntry entries [8];
    Certcast__AckEntry *pointers [8];
    //  What an agent hashes: the bytes it received, here those every
    //  advisory s_ledger_test_hold holds.
    uint8_t digest [32];
    cc_sha256 ((const uint8_t *) TEST_HELD_BYTES, strlen (TEST_HELD_BYTES),
               digest);
    assert (count <= 8);
    for (size_t index = 0; index < count; index++) {
        certcast__ack_entry__init (&entries [index]);
        entries [index].advisory_id = (char *) ids [index];
        entries [index].digest.data = digest;
        entries [index].digest.len = sizeof digest;
        entries [index].revision = revision;
        entries [index].status = (Certcast__AckStatus) status;
        entries [index].received_at = 1000 + (int64_t) index;
        pointers [index] = &entries [index];
    }
    Certcast__Ack ack = CERTCAST__ACK__INIT;
    ack.agent_key.data = (uint8_t *) cc_keys_sign_public (keys);
    ack.agent_key.len = 32;
    ack.time = 2000;
    ack.nonce = nonce;
    ack.n_entries = count;
    ack.entries = pointers;
    uint8_t *bytes = cc_ledger_sign_ack (keys, &ack, size);
    //  The signature is the envelope's last field: its last 64 bytes.
    if (forge)
        bytes [*size - 64 + 10] ^= 0x01;
    return bytes;
}

//  One entry, as given, signed by keys: for the limits an agent's own
//  code never reaches.
static uint8_t *
s_test_signed_entry (cc_keys_t *keys, Certcast__AckEntry *entry,
                     size_t *size)
{
    Certcast__AckEntry *pointers [] = { entry };
    Certcast__Ack ack = CERTCAST__ACK__INIT;
    ack.agent_key.data = (uint8_t *) cc_keys_sign_public (keys);
    ack.agent_key.len = 32;
    ack.time = 2000;
    ack.nonce = 9;
    ack.n_entries = 1;
    ack.entries = pointers;
    return cc_ledger_sign_ack (keys, &ack, size);
}

typedef struct {
    cc_store_t *store;
    const uint8_t *bytes;
    size_t size;
    const Certcast__Ack *ack;
    bool queue;
    int new_rows;
    uint64_t confirm;           //  if set, confirm this instead of putting
    int unknown;
    cc_ledger_digests_t *digests;
} s_ledger_test_t;

static int
s_ledger_test_batch (MDB_txn *txn, void *arg)
{
    s_ledger_test_t *test = (s_ledger_test_t *) arg;
    if (test->confirm)
        return cc_ledger_queue_confirm (test->store, txn, test->confirm);
    return cc_ledger_put (test->store, txn, test->bytes, test->size,
                          test->ack, 5000, test->queue, test->digests,
                          &test->new_rows, &test->unknown);
}

typedef struct {
    int count;
    cc_store_t *store;
    MDB_txn *txn;
    const uint8_t *agent;
} s_ledger_rows_t;

static void
s_ledger_test_row (const cc_ledger_row_t *row, void *arg)
{
    s_ledger_rows_t *rows = (s_ledger_rows_t *) arg;
    assert (memcmp (row->agent, rows->agent, 32) == 0);
    assert (row->acked_at == 2000);
    assert (row->ledgered_at == 5000);
    assert (row->received_at >= 1000);
    assert (row->revision >= 1);
    //  The row points at evidence that hashes to its key
    MDB_val evidence;
    assert (cc_ledger_evidence (rows->store, rows->txn, row, &evidence) == 0);
    uint8_t hash [32];
    cc_sha256 ((const uint8_t *) evidence.mv_data, evidence.mv_size, hash);
    assert (memcmp (hash, row->evidence, 32) == 0);
    rows->count++;
}

typedef struct {
    int count;
    uint64_t numbers [8];
} s_ledger_queue_t;

static void
s_ledger_test_queue (uint64_t n, const uint8_t *signed_ack, size_t size,
                     void *arg)
{
    s_ledger_queue_t *queue = (s_ledger_queue_t *) arg;
    assert (signed_ack && size > 0);
    assert (queue->count < 8);
    queue->numbers [queue->count++] = n;
}

static int
s_ledger_test_count (cc_store_t *store, const char *advisory_id,
                     const uint8_t *agent)
{
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    s_ledger_rows_t rows = { 0, store, txn, agent };
    assert (cc_ledger_each (store, txn, advisory_id, s_ledger_test_row,
                            &rows) == 0);
    mdb_txn_abort (txn);
    return rows.count;
}

static s_ledger_queue_t
s_ledger_test_peek_after (cc_store_t *store, uint64_t after, size_t max)
{
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    s_ledger_queue_t queue = { 0 };
    int count = cc_ledger_queue_peek (store, txn, after, max,
                                      s_ledger_test_queue, &queue);
    assert (count == queue.count);
    mdb_txn_abort (txn);
    return queue;
}

static s_ledger_queue_t
s_ledger_test_peek (cc_store_t *store, size_t max)
{
    return s_ledger_test_peek_after (store, 0, max);
}

typedef struct {
    cc_store_t *store;
    const char *id;
    uint32_t revision;
} s_ledger_test_hold_t;

static int
s_ledger_test_hold_write (MDB_txn *txn, void *arg)
{
    s_ledger_test_hold_t *hold = (s_ledger_test_hold_t *) arg;
    return cc_log_put_advisory (hold->store, txn, hold->id, hold->revision,
                                (const uint8_t *) TEST_HELD_BYTES,
                                strlen (TEST_HELD_BYTES));
}

//  The store holds advisory id at revision, as if it had accepted it.
static void
s_ledger_test_hold (cc_store_t *store, const char *id, uint32_t revision)
{
    s_ledger_test_hold_t hold = { store, id, revision };
    assert (cc_store_write (store, s_ledger_test_hold_write, &hold) == 0);
}

//  Put signed ack bytes (taken and freed) with digests; the verdict.
static s_ledger_test_t
s_ledger_test_put_bytes (cc_store_t *store, uint8_t *bytes, size_t size,
                         cc_ledger_digests_t *digests)
{
    int code;
    const char *reason;
    Certcast__Ack *ack = cc_ledger_verify_ack (bytes, size, NULL, &code,
                                               &reason);
    assert (ack);
    s_ledger_test_t test = { store, bytes, size, ack, true, -1, 0, -1,
                             digests };
    assert (cc_store_write (store, s_ledger_test_batch, &test) == 0);
    certcast__ack__free_unpacked (ack, NULL);
    free (bytes);
    test.bytes = NULL;
    test.ack = NULL;
    return test;
}

//  Put one signed ack by keys for ids[0..count) at revision; returns the
//  ledger's verdict (rows added, entries unknown), and queues it upstream.
static s_ledger_test_t
s_ledger_test_put (cc_store_t *store, cc_keys_t *keys, const char **ids,
                   size_t count, uint32_t revision, uint8_t hash [32])
{
    size_t size;
    uint8_t *bytes = s_test_signed_ack (keys, ids, count, revision,
                                        CERTCAST__ACK_STATUS__APPLIED, 7,
                                        false, &size);
    cc_sha256 (bytes, size, hash);
    return s_ledger_test_put_bytes (store, bytes, size, NULL);
}

//  Signed acks kept as evidence since schema 2
static size_t
s_ledger_test_evidence_count (cc_store_t *store)
{
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    MDB_stat stat;
    assert (mdb_stat (txn, cc_store_dbi (store, CC_DB_EVIDENCE_LOG), &stat) == 0);
    mdb_txn_abort (txn);
    return stat.ms_entries;
}

typedef struct {
    cc_store_t *store;
    cc_keys_t *keys;
    const char *id;
} s_ledger_test_v1_t;

//  A row and its evidence as schema 1 wrote them: 56 bytes, the evidence
//  under its hash
static int
s_ledger_test_v1_batch (MDB_txn *txn, void *arg)
{
    s_ledger_test_v1_t *v1 = (s_ledger_test_v1_t *) arg;
    const char *ids [] = { v1->id };
    size_t size;
    uint8_t *bytes = s_test_signed_ack (v1->keys, ids, 1, 1,
                                        CERTCAST__ACK_STATUS__RECEIVED, 9,
                                        false, &size);
    uint8_t hash [32];
    cc_sha256 (bytes, size, hash);
    MDB_val key = { sizeof (hash), hash }, value = { size, bytes };
    int rc = mdb_put (txn, cc_store_dbi (v1->store, CC_DB_EVIDENCE), &key,
                      &value, 0);
    uint8_t row_key [CC_LEDGER_KEY_MAX];
    uint8_t row_value [CC_LEDGER_VALUE_SIZE_V1];
    MDB_val mkey = {
        s_row_key (row_key, v1->id, 1, cc_keys_sign_public (v1->keys),
                   CERTCAST__ACK_STATUS__RECEIVED), row_key };
    cc_be64_put (row_value, 1000);
    cc_be64_put (row_value + 8, 2000);
    cc_be64_put (row_value + 16, 5000);
    memcpy (row_value + 24, hash, 32);
    MDB_val mvalue = { sizeof (row_value), row_value };
    if (rc == 0)
        rc = mdb_put (txn, cc_store_dbi (v1->store, CC_DB_ACKS), &mkey,
                      &mvalue, 0);
    free (bytes);
    return rc;
}

//  Two puts in one transaction, as an engine cycle makes them
static int
s_ledger_test_pair_batch (MDB_txn *txn, void *arg)
{
    s_ledger_test_t *pair = (s_ledger_test_t *) arg;
    for (int index = 0; index < 2; index++) {
        int rc = cc_ledger_put (pair [index].store, txn, pair [index].bytes,
                                pair [index].size, pair [index].ack, 5000,
                                true, NULL, &pair [index].new_rows,
                                &pair [index].unknown);
        if (rc)
            return rc;
    }
    return 0;
}

//  The evidence number and hash of `agent`'s row for id with status
typedef struct {
    const char *id;
    int status;
    const uint8_t *agent;
    uint64_t number;
    cc_ledger_row_t row;
} s_ledger_test_find_t;

static void
s_ledger_test_find_row (const cc_ledger_row_t *row, void *arg)
{
    s_ledger_test_find_t *find = (s_ledger_test_find_t *) arg;
    if (row->status == find->status && memcmp (row->agent, find->agent, 32) == 0) {
        find->number = row->evidence_number;
        find->row = *row;
    }
}

static uint64_t
s_ledger_test_number (cc_store_t *store, const char *id, int status,
                      const uint8_t *agent)
{
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    s_ledger_test_find_t find;
    memset (&find, 0, sizeof find);
    find.id = id;
    find.status = status;
    find.agent = agent;
    assert (cc_ledger_each (store, txn, id, s_ledger_test_find_row, &find) == 0);
    mdb_txn_abort (txn);
    return find.number;
}

typedef struct {
    cc_store_t *store;
    const uint8_t *hash;
} s_ledger_test_forge_t;

//  Other bytes under a schema 1 row's evidence hash
static int
s_ledger_test_forge_batch (MDB_txn *txn, void *arg)
{
    s_ledger_test_forge_t *forge = (s_ledger_test_forge_t *) arg;
    MDB_val key = { 32, (void *) forge->hash };
    MDB_val value = { 6, (void *) "forged" };
    return mdb_put (txn, cc_store_dbi (forge->store, CC_DB_EVIDENCE), &key,
                    &value, 0);
}

//  Acks of one cycle get consecutive evidence numbers; an ack that adds a
//  row beside one already ledgered leaves the old row its own evidence.
static void
s_ledger_test_numbers (cc_store_t *store, cc_keys_t *keys)
{
    const uint8_t *key = cc_keys_sign_public (keys);
    s_ledger_test_hold (store, "PK-30", 1);
    s_ledger_test_hold (store, "PK-31", 1);
    s_ledger_test_hold (store, "PK-32", 1);
    size_t kept = s_ledger_test_evidence_count (store);
    const char *first_ids [] = { "PK-30" }, *second_ids [] = { "PK-31" };
    s_ledger_test_t pair [2];
    const char **ids [2] = { first_ids, second_ids };
    uint8_t *bytes [2];
    int code;
    const char *reason;
    for (int index = 0; index < 2; index++) {
        size_t size;
        bytes [index] = s_test_signed_ack (keys, ids [index], 1, 1,
                                           CERTCAST__ACK_STATUS__RECEIVED,
                                           40 + (uint64_t) index, false, &size);
        Certcast__Ack *ack = cc_ledger_verify_ack (bytes [index], size, NULL,
                                                   &code, &reason);
        assert (ack);
        s_ledger_test_t entry = { store, bytes [index], size, ack, true, 0, 0, 0,
                                  NULL };
        pair [index] = entry;
    }
    assert (cc_store_write (store, s_ledger_test_pair_batch, pair) == 0);
    assert (pair [0].new_rows == 1 && pair [1].new_rows == 1);
    assert (s_ledger_test_evidence_count (store) == kept + 2);
    uint64_t first = s_ledger_test_number (store, "PK-30",
                                           CERTCAST__ACK_STATUS__RECEIVED, key);
    uint64_t second = s_ledger_test_number (store, "PK-31",
                                            CERTCAST__ACK_STATUS__RECEIVED, key);
    assert (first > 0 && second == first + 1);
    for (int index = 0; index < 2; index++) {
        certcast__ack__free_unpacked ((Certcast__Ack *) pair [index].ack, NULL);
        free (bytes [index]);
    }
    //  PK-31 again with PK-32: one new row, evidence number second + 1;
    //  PK-31's row keeps the evidence it had
    const char *partial [] = { "PK-31", "PK-32" };
    size_t size;
    uint8_t *both = s_test_signed_ack (keys, partial, 2, 1,
                                       CERTCAST__ACK_STATUS__RECEIVED, 42,
                                       false, &size);
    Certcast__Ack *ack = cc_ledger_verify_ack (both, size, NULL, &code, &reason);
    assert (ack);
    s_ledger_test_t test = { store, both, size, ack, true, 0, 0, 0, NULL };
    assert (cc_store_write (store, s_ledger_test_batch, &test) == 0);
    assert (test.new_rows == 1);
    assert (s_ledger_test_number (store, "PK-32", CERTCAST__ACK_STATUS__RECEIVED,
                                  key) == second + 1);
    assert (s_ledger_test_number (store, "PK-31", CERTCAST__ACK_STATUS__RECEIVED,
                                  key) == second);
    assert (s_ledger_test_evidence_count (store) == kept + 3);
    certcast__ack__free_unpacked (ack, NULL);
    free (both);

    //  Evidence that does not hash to its row is refused, not returned
    s_ledger_test_v1_t v1 = { store, keys, "PK-BAD" };
    assert (cc_store_write (store, s_ledger_test_v1_batch, &v1) == 0);
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    s_ledger_test_find_t find;
    memset (&find, 0, sizeof find);
    find.id = "PK-BAD";
    find.status = CERTCAST__ACK_STATUS__RECEIVED;
    find.agent = key;
    assert (cc_ledger_each (store, txn, "PK-BAD", s_ledger_test_find_row,
                            &find) == 0);
    MDB_val evidence;
    assert (cc_ledger_evidence (store, txn, &find.row, &evidence) == 0);
    mdb_txn_abort (txn);
    s_ledger_test_forge_t forge = { store, find.row.evidence };
    assert (cc_store_write (store, s_ledger_test_forge_batch, &forge) == 0);
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_ledger_evidence (store, txn, &find.row, &evidence)
            == MDB_CORRUPTED);
    mdb_txn_abort (txn);
}

//  A row leads back to what its agent signed: the digest and reason of
//  the entry that brought it; evidence that is not the row's leads
//  nowhere. Runs after s_ledger_test_numbers forged PK-BAD's evidence.
static void
s_ledger_test_row_entry (cc_store_t *store, cc_keys_t *keys)
{
    const uint8_t *key = cc_keys_sign_public (keys);
    s_ledger_test_hold (store, "PK-40", 2);
    uint8_t digest [32];
    memset (digest, 0x5a, sizeof digest);
    Certcast__AckEntry entry = CERTCAST__ACK_ENTRY__INIT;
    entry.advisory_id = "PK-40";
    entry.revision = 1;
    entry.digest.data = digest;
    entry.digest.len = sizeof digest;
    entry.status = CERTCAST__ACK_STATUS__FAILED;
    entry.reason = "disk full";
    size_t size;
    uint8_t *bytes = s_test_signed_entry (keys, &entry, &size);
    assert (s_ledger_test_put_bytes (store, bytes, size, NULL).new_rows == 1);

    const char *ids [] = { "PK-40", "PK-BAD" };
    for (size_t index = 0; index < 2; index++) {
        MDB_txn *txn;
        assert (cc_store_read (store, &txn) == 0);
        s_ledger_test_find_t find;
        memset (&find, 0, sizeof find);
        find.id = ids [index];
        find.status = index? CERTCAST__ACK_STATUS__RECEIVED
                           : CERTCAST__ACK_STATUS__FAILED;
        find.agent = key;
        assert (cc_ledger_each (store, txn, ids [index],
                                s_ledger_test_find_row, &find) == 0);
        const Certcast__AckEntry *said = NULL;
        Certcast__Ack *ack = cc_ledger_row_entry (store, txn, &find.row,
                                                  &said);
        if (index == 0) {
            assert (ack && said);
            assert (streq (said->reason, "disk full"));
            assert (memcmp (said->digest.data, digest, 32) == 0);
            certcast__ack__free_unpacked (ack, NULL);
        }
        else
            assert (!ack && !said);
        mdb_txn_abort (txn);
    }
}

//  An ack entry for an advisory the store does not hold is no receipt:
//  no row, counted, and the ack's other entries still stand.
static void
s_ledger_test_unknown (cc_store_t *store, cc_keys_t *keys)
{
    const uint8_t *key = cc_keys_sign_public (keys);
    uint8_t hash [32];
    s_ledger_test_hold (store, "PK-20", 1);
    size_t queued = s_ledger_test_peek (store, 8).count;
    size_t kept = s_ledger_test_evidence_count (store);
    //  PK-9 was never held; PK-20 is
    const char *mixed [] = { "PK-9", "PK-20" };
    s_ledger_test_t test = s_ledger_test_put (store, keys, mixed, 2, 1, hash);
    assert (test.new_rows == 1 && test.unknown == 1);
    assert (s_ledger_test_count (store, "PK-9", key) == 0);
    assert (s_ledger_test_count (store, "PK-20", key) == 1);
    assert (s_ledger_test_evidence_count (store) == kept + 1);
    assert (s_ledger_test_peek (store, 8).count == (int) queued + 1);
    //  PK-20 revision 2 does not exist here: nothing is stored or queued
    const char *newer [] = { "PK-20" };
    test = s_ledger_test_put (store, keys, newer, 1, 2, hash);
    assert (test.new_rows == 0 && test.unknown == 1);
    assert (s_ledger_test_count (store, "PK-20", key) == 1);
    assert (s_ledger_test_evidence_count (store) == kept + 1);
    assert (s_ledger_test_peek (store, 8).count == (int) queued + 1);
    //  An older revision than the one held was replaced here: a receipt
    s_ledger_test_hold (store, "PK-20", 3);
    test = s_ledger_test_put (store, keys, newer, 1, 2, hash);
    assert (test.new_rows == 1 && test.unknown == 0);
    assert (s_ledger_test_count (store, "PK-20", key) == 2);

    //  An ack of the revision held that names other bytes (another
    //  issuer's advisory under this id, where the agent got it) is no
    //  receipt of ours, with or without the digests kept, and a stale
    //  digest kept from an aborted transaction is gone once cleared
    s_ledger_test_hold (store, "PK-21", 1);
    cc_ledger_digests_t *digests = cc_ledger_digests_new ();
    Certcast__AckEntry entry = CERTCAST__ACK_ENTRY__INIT;
    entry.advisory_id = "PK-21";
    entry.revision = 1;
    entry.status = CERTCAST__ACK_STATUS__RECEIVED;
    uint8_t theirs [32];
    cc_sha256 ((const uint8_t *) "squat", 5, theirs);
    entry.digest.data = theirs;
    entry.digest.len = 32;
    for (int cached = 0; cached < 2; cached++) {
        size_t size;
        uint8_t *bytes = s_test_signed_entry (keys, &entry, &size);
        test = s_ledger_test_put_bytes (store, bytes, size,
                                        cached? digests: NULL);
        assert (test.new_rows == 0 && test.unknown == 1);
    }
    assert (s_ledger_test_count (store, "PK-21", key) == 0);
    //  ours, through the digests, is; so is the next, from what was kept
    const char *ours [] = { "PK-21" };
    for (int round = 0; round < 2; round++) {
        size_t size;
        uint8_t *bytes = s_test_signed_ack (keys, ours, 1, 1,
                                            round + 1, 7, false, &size);
        test = s_ledger_test_put_bytes (store, bytes, size, digests);
        assert (test.new_rows == 1 && test.unknown == 0);
    }
    assert (s_ledger_test_count (store, "PK-21", key) == 2);
    //  Digests kept from a transaction that did not commit (here: one
    //  that claims the squat's bytes for PK-21) are gone once cleared
    uint8_t *stale = (uint8_t *) zhashx_lookup (digests->by_key, "1 PK-21");
    assert (stale);
    memcpy (stale, theirs, 32);
    cc_ledger_digests_clear (digests);
    entry.status = CERTCAST__ACK_STATUS__FAILED;
    size_t size;
    uint8_t *bytes = s_test_signed_entry (keys, &entry, &size);
    test = s_ledger_test_put_bytes (store, bytes, size, digests);
    assert (test.new_rows == 0 && test.unknown == 1);
    cc_ledger_digests_destroy (&digests);
    assert (digests == NULL);
}

void
cc_ledger_test (bool verbose)
{
    printf (" * cc_ledger: ");
    if (verbose)
        printf ("\n");

    cc_keys_t *agent = cc_keys_generate ();
    cc_keys_t *other = cc_keys_generate ();
    const char *ids [] = { "PK-1", "PK-10", "PK-2" };
    int code;
    const char *reason;

    //  A good ack verifies, with or without the expected agent
    size_t size;
    uint8_t *bytes = s_test_signed_ack (agent, ids, 3, 1,
                                        CERTCAST__ACK_STATUS__RECEIVED,
                                        1, false, &size);
    Certcast__Ack *ack = cc_ledger_verify_ack (bytes, size,
                                               cc_keys_sign_public (agent),
                                               &code, &reason);
    assert (ack);
    assert (code == CC_OK);
    assert (ack->n_entries == 3);
    certcast__ack__free_unpacked (ack, NULL);
    ack = cc_ledger_verify_ack (bytes, size, NULL, &code, &reason);
    assert (ack);

    //  Signed by someone else than the connected client
    Certcast__Ack *refused = cc_ledger_verify_ack (
        bytes, size, cc_keys_sign_public (other), &code, &reason);
    assert (refused == NULL);
    assert (code == CC_ENOTALLOWED);
    assert (streq (reason,
            "ack signed by another agent than the connected client"));

    //  Truncated at every length
    for (size_t cut = 0; cut < size; cut++) {
        refused = cc_ledger_verify_ack (bytes, cut, NULL, &code, &reason);
        assert (refused == NULL);
        assert (code == CC_EMALFORMED || code == CC_ESIGNATURE);
        assert (reason);
    }
    //  Oversized
    refused = cc_ledger_verify_ack (bytes, CC_WIRE_MAX_FRAME + 1, NULL,
                                    &code, &reason);
    assert (refused == NULL && code == CC_EMALFORMED);

    //  Forged signature
    size_t forged_size;
    uint8_t *forged = s_test_signed_ack (agent, ids, 1, 1,
                                         CERTCAST__ACK_STATUS__RECEIVED,
                                         2, true, &forged_size);
    refused = cc_ledger_verify_ack (forged, forged_size, NULL, &code, &reason);
    assert (refused == NULL && code == CC_ESIGNATURE);
    //  The same checks on a decoded envelope, which stays the caller's
    Certcast__SignedAck *envelope = (Certcast__SignedAck *) cc_wire_unpack (
        &certcast__signed_ack__descriptor, forged, forged_size, forged_size);
    assert (envelope);
    refused = cc_ledger_verify_signed_ack (envelope, NULL, &code, &reason);
    assert (refused == NULL && code == CC_ESIGNATURE);
    certcast__signed_ack__free_unpacked (envelope, NULL);
    envelope = (Certcast__SignedAck *) cc_wire_unpack (
        &certcast__signed_ack__descriptor, bytes, size, size);
    assert (envelope);
    refused = cc_ledger_verify_signed_ack (envelope, cc_keys_sign_public (other),
                                           &code, &reason);
    assert (refused == NULL && code == CC_ENOTALLOWED);
    Certcast__Ack *decoded = cc_ledger_verify_signed_ack (
        envelope, cc_keys_sign_public (agent), &code, &reason);
    assert (decoded && code == CC_OK && decoded->n_entries == 3);
    certcast__ack__free_unpacked (decoded, NULL);
    envelope->signature.len = 63;
    refused = cc_ledger_verify_signed_ack (envelope, NULL, &code, &reason);
    assert (refused == NULL && code == CC_EMALFORMED);
    envelope->signature.len = 64;
    certcast__signed_ack__free_unpacked (envelope, NULL);
    free (forged);

    //  Validly signed but with no entries, revision 0, or a bad status
    forged = s_test_signed_ack (agent, ids, 0, 1,
                                CERTCAST__ACK_STATUS__RECEIVED, 3, false,
                                &forged_size);
    refused = cc_ledger_verify_ack (forged, forged_size, NULL, &code, &reason);
    assert (refused == NULL && code == CC_EMALFORMED);
    free (forged);
    forged = s_test_signed_ack (agent, ids, 1, 0,
                                CERTCAST__ACK_STATUS__RECEIVED, 3, false,
                                &forged_size);
    refused = cc_ledger_verify_ack (forged, forged_size, NULL, &code, &reason);
    assert (refused == NULL && code == CC_EMALFORMED);
    free (forged);
    forged = s_test_signed_ack (agent, ids, 1, 1, 9, 3, false, &forged_size);
    refused = cc_ledger_verify_ack (forged, forged_size, NULL, &code, &reason);
    assert (refused == NULL && code == CC_EMALFORMED);
    free (forged);
    const char *empty_id [] = { "" };
    forged = s_test_signed_ack (agent, empty_id, 1, 1,
                                CERTCAST__ACK_STATUS__APPLIED, 3, false,
                                &forged_size);
    refused = cc_ledger_verify_ack (forged, forged_size, NULL, &code, &reason);
    assert (refused == NULL && code == CC_EMALFORMED);
    free (forged);

    //  Limits: a receipt names 32 bytes of digest, a reason is short,
    //  and no ack fills a frame the next hop could not pass on.
    uint8_t digest [32] = { 0 };
    Certcast__AckEntry entry = CERTCAST__ACK_ENTRY__INIT;
    entry.advisory_id = (char *) "PK-1";
    entry.revision = 1;
    entry.status = CERTCAST__ACK_STATUS__FAILED;
    entry.digest.data = digest;
    entry.digest.len = 31;
    forged = s_test_signed_entry (agent, &entry, &forged_size);
    refused = cc_ledger_verify_ack (forged, forged_size, NULL, &code, &reason);
    assert (refused == NULL && code == CC_EMALFORMED && strstr (reason, "digest"));
    free (forged);
    entry.digest.len = 32;
    char *long_reason = (char *) zmalloc (CC_LEDGER_ACK_MAX + 2);
    memset (long_reason, 'r', CC_LEDGER_REASON_MAX + 1);
    entry.reason = long_reason;
    forged = s_test_signed_entry (agent, &entry, &forged_size);
    refused = cc_ledger_verify_ack (forged, forged_size, NULL, &code, &reason);
    assert (refused == NULL && code == CC_EMALFORMED && strstr (reason, "reason"));
    free (forged);
    long_reason [CC_LEDGER_REASON_MAX] = 0;
    forged = s_test_signed_entry (agent, &entry, &forged_size);
    Certcast__Ack *taken = cc_ledger_verify_ack (forged, forged_size, NULL,
                                                 &code, &reason);
    assert (taken && code == CC_OK);
    certcast__ack__free_unpacked (taken, NULL);
    free (forged);
    memset (long_reason, 'r', CC_LEDGER_ACK_MAX + 1);
    forged = s_test_signed_entry (agent, &entry, &forged_size);
    refused = cc_ledger_verify_ack (forged, forged_size, NULL, &code, &reason);
    assert (refused == NULL && code == CC_EMALFORMED && strstr (reason, "larger"));
    free (forged);
    free (long_reason);
    entry.reason = NULL;
    //  Named another agent than the connected one: refused as that, not
    //  checked (a forged signature would say otherwise).
    forged = s_test_signed_ack (other, ids, 1, 1,
                                CERTCAST__ACK_STATUS__RECEIVED, 4, true,
                                &forged_size);
    refused = cc_ledger_verify_ack (forged, forged_size,
                                    cc_keys_sign_public (agent), &code, &reason);
    assert (refused == NULL && code == CC_ENOTALLOWED);
    free (forged);

    //  Ledger it, queued upstream as a relay would, once it holds them
    char base [] = "/tmp/cc_ledger_test.XXXXXX";
    assert (mkdtemp (base));
    cc_store_t *store = cc_store_new (base, 0);
    assert (store);
    for (size_t index = 0; index < 3; index++)
        s_ledger_test_hold (store, ids [index], 1);
    s_ledger_test_hold (store, "PK-3", 2);
    s_ledger_test_t test = { store, bytes, size, ack, true, -1, 0, 0, NULL };
    assert (cc_store_write (store, s_ledger_test_batch, &test) == 0);
    assert (test.new_rows == 3);

    //  Advisory ids with rows, one after the other in key order: "PK-1"
    //  is not taken for a prefix of "PK-10".
    MDB_txn *read_txn = NULL;
    assert (cc_store_read (store, &read_txn) == 0);
    char next [CC_LEDGER_ID_MAX + 1];
    const char *in_order [] = { "PK-1", "PK-10", "PK-2" };
    const char *after = "";
    for (size_t index = 0; index < 3; index++) {
        assert (cc_ledger_next_id (store, read_txn, after, next) == 0);
        assert (streq (next, in_order [index]));
        after = in_order [index];
    }
    assert (cc_ledger_next_id (store, read_txn, "PK-2", next) == MDB_NOTFOUND);
    mdb_txn_abort (read_txn);

    assert (s_ledger_test_evidence_count (store) == 1);

    //  The same ack again is harmless: no rows, nothing queued or kept;
    //  and so is the same ack signed anew (another nonce): its rows have
    //  their evidence already
    assert (cc_store_write (store, s_ledger_test_batch, &test) == 0);
    assert (test.new_rows == 0);
    assert (s_ledger_test_peek (store, 10).count == 1);
    size_t resigned_size;
    uint8_t *resigned = s_test_signed_ack (agent, ids, 3, 1,
                                           CERTCAST__ACK_STATUS__RECEIVED,
                                           11, false, &resigned_size);
    Certcast__Ack *resigned_ack = cc_ledger_verify_ack (
        resigned, resigned_size, NULL, &code, &reason);
    assert (resigned_ack);
    s_ledger_test_t resend = { store, resigned, resigned_size, resigned_ack,
                               true, -1, 0, 0, NULL };
    assert (cc_store_write (store, s_ledger_test_batch, &resend) == 0);
    assert (resend.new_rows == 0);
    assert (s_ledger_test_peek (store, 10).count == 1);
    assert (s_ledger_test_evidence_count (store) == 1);
    certcast__ack__free_unpacked (resigned_ack, NULL);
    free (resigned);

    //  A schema 1 row (its evidence under its hash) reads as any other,
    //  evidence included (s_ledger_test_row checks it hashes to the row)
    s_ledger_test_v1_t v1 = { store, agent, "PK-OLD" };
    assert (cc_store_write (store, s_ledger_test_v1_batch, &v1) == 0);
    assert (s_ledger_test_count (store, "PK-OLD", cc_keys_sign_public (agent)) == 1);

    //  A later status for one advisory is a new row and a new queue entry
    size_t applied_size;
    uint8_t *applied = s_test_signed_ack (agent, ids, 1, 1,
                                          CERTCAST__ACK_STATUS__APPLIED,
                                          4, false, &applied_size);
    Certcast__Ack *applied_ack = cc_ledger_verify_ack (
        applied, applied_size, cc_keys_sign_public (agent), &code, &reason);
    assert (applied_ack);
    s_ledger_test_t second = { store, applied, applied_size, applied_ack,
                               true, -1, 0, 0, NULL };
    assert (cc_store_write (store, s_ledger_test_batch, &second) == 0);
    assert (second.new_rows == 1);
    cc_store_destroy (&store);

    //  Durable: rows by advisory (PK-1 does not match PK-10), evidence
    store = cc_store_new (base, 0);
    assert (store);
    const uint8_t *agent_key = cc_keys_sign_public (agent);
    assert (s_ledger_test_count (store, NULL, agent_key) == 5);  //  PK-1 twice, PK-10, PK-2, PK-OLD
    assert (s_ledger_test_count (store, "PK-1", agent_key) == 2);
    assert (s_ledger_test_count (store, "PK-10", agent_key) == 1);
    assert (s_ledger_test_count (store, "PK-2", agent_key) == 1);
    assert (s_ledger_test_count (store, "PK-3", agent_key) == 0);

    //  Queue: two entries; peek honours max; confirm moves the watermark
    s_ledger_queue_t queue = s_ledger_test_peek (store, 10);
    assert (queue.count == 2);
    assert (queue.numbers [0] == 1 && queue.numbers [1] == 2);
    assert (s_ledger_test_peek (store, 1).count == 1);
    //  A confirmation not yet committed skips what it covers, and one
    //  below the stored watermark changes nothing
    queue = s_ledger_test_peek_after (store, 1, 10);
    assert (queue.count == 1 && queue.numbers [0] == 2);
    assert (s_ledger_test_peek_after (store, 2, 10).count == 0);
    s_ledger_test_t confirm = { store, NULL, 0, NULL, false, 0, 1, 0, NULL };
    assert (cc_store_write (store, s_ledger_test_batch, &confirm) == 0);
    queue = s_ledger_test_peek (store, 10);
    assert (queue.count == 1 && queue.numbers [0] == 2);
    queue = s_ledger_test_peek_after (store, 0, 10);
    assert (queue.count == 1 && queue.numbers [0] == 2);
    cc_store_destroy (&store);

    store = cc_store_new (base, 0);
    assert (store);
    queue = s_ledger_test_peek (store, 10);
    assert (queue.count == 1 && queue.numbers [0] == 2);
    //  Confirming more than was ever queued stops at the last queued
    confirm.store = store;
    confirm.confirm = 99;
    assert (cc_store_write (store, s_ledger_test_batch, &confirm) == 0);
    assert (s_ledger_test_peek (store, 10).count == 0);
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_meta_get_u64 (store, txn, "ackq.sent") == 2);
    mdb_txn_abort (txn);
    //  An older confirmation never lowers the watermark
    confirm.confirm = 1;
    assert (cc_store_write (store, s_ledger_test_batch, &confirm) == 0);
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_meta_get_u64 (store, txn, "ackq.sent") == 2);
    mdb_txn_abort (txn);

    //  A national broker (no upstream) ledgers without queueing
    const char *ids_3 [] = { "PK-3" };
    size_t national_size;
    uint8_t *national = s_test_signed_ack (other, ids_3, 1, 2,
                                           CERTCAST__ACK_STATUS__FAILED, 1,
                                           false, &national_size);
    Certcast__Ack *national_ack = cc_ledger_verify_ack (
        national, national_size, NULL, &code, &reason);
    assert (national_ack);
    s_ledger_test_t third = { store, national, national_size, national_ack,
                              false, -1, 0, 0, NULL };
    assert (cc_store_write (store, s_ledger_test_batch, &third) == 0);
    assert (third.new_rows == 1);
    assert (s_ledger_test_peek (store, 10).count == 0);
    assert (s_ledger_test_count (store, "PK-3",
                                 cc_keys_sign_public (other)) == 1);

    cc_keys_t *third_agent = cc_keys_generate ();
    s_ledger_test_unknown (store, third_agent);
    s_ledger_test_numbers (store, third_agent);
    s_ledger_test_row_entry (store, third_agent);
    cc_keys_destroy (&third_agent);
    cc_store_destroy (&store);

    //  Read-only view sees the same ledger
    store = cc_store_new (base, CC_STORE_READONLY);
    assert (store);
    assert (s_ledger_test_count (store, "PK-1", agent_key) == 2);
    cc_store_destroy (&store);

    certcast__ack__free_unpacked (national_ack, NULL);
    free (national);
    certcast__ack__free_unpacked (applied_ack, NULL);
    free (applied);
    certcast__ack__free_unpacked (ack, NULL);
    free (bytes);
    cc_keys_destroy (&other);
    cc_keys_destroy (&agent);

    zdir_t *tree = zdir_new (base, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    assert (!zsys_file_exists (base));
    printf ("OK\n");
}
