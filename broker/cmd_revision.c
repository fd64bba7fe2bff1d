/*  cmd_revision.c - the bytes of one revision of an advisory as a store
    held them, for certcast compliance --revision.

    The advisory index keeps each id's latest revision only; every
    revision a broker published or a relay forwarded is in the stream log
    (one delivery per target sector's stream), and that is where an
    earlier one is found. A relay's own advisory, reported to the national
    broker, is recorded there at its latest revision and never streamed:
    its earlier revisions are kept at that relay only. What is not found
    is said, never guessed: a report on other bytes than the agents got
    would count the wrong receipts.

    The bytes found are copied into a zchunk the caller owns.
*/
#include "cmd.h"

//  One advisory found in the log as (id, revision): distinct bytes
//  (the same bytes go out on several streams).
typedef struct {
    zlistx_t *found;            //  zchunk_t of distinct Signed bytes; owned
    uint8_t latest_key_id [8];  //  of the latest revision's issuer
    size_t same_issuer;         //  of those found, signed by it
} s_search_t;

static bool
s_key_id_of (const uint8_t *signed_bytes, size_t size, uint8_t key_id [8])
{
    Certcast__Signed *signed_message = (Certcast__Signed *) cc_wire_unpack (
        &certcast__signed__descriptor, signed_bytes, size, CC_WIRE_MAX_SIGNED);
    bool known = signed_message && signed_message->key_id.len == 8;
    if (known)
        memcpy (key_id, signed_message->key_id.data, 8);
    if (signed_message)
        certcast__signed__free_unpacked (signed_message, NULL);
    return known;
}

static void
s_collect (const char *stream, uint64_t seq, const uint8_t *signed_bytes,
           size_t size, void *arg)
{
    s_search_t *search = (s_search_t *) arg;
    for (zchunk_t *held = (zchunk_t *) zlistx_first (search->found); held;
         held = (zchunk_t *) zlistx_next (search->found))
        if (zchunk_size (held) == size
        &&  memcmp (zchunk_data (held), signed_bytes, size) == 0)
            return;
    uint8_t key_id [8];
    bool same = s_key_id_of (signed_bytes, size, key_id)
             && memcmp (key_id, search->latest_key_id, 8) == 0;
    zchunk_t *copy = zchunk_new (signed_bytes, size);
    //  Those of the latest revision's issuer first: an id's revisions
    //  have one issuer here (publish refuses another's).
    if (same) {
        zlistx_add_start (search->found, copy);
        search->same_issuer++;
    }
    else
        zlistx_add_end (search->found, copy);
}

//  Search the log; NULL with why set when not exactly one advisory is
//  found (of the latest revision's issuer, when others used the id too).
static zchunk_t *
s_search_log (cc_store_t *store, MDB_txn *txn, const char *id,
              uint32_t revision, const MDB_val *latest, char *why,
              size_t why_size)
{
    s_search_t search = { zlistx_new (), { 0 }, 0 };
    assert (search.found);
    zlistx_set_destructor (search.found, (zlistx_destructor_fn *)
                           zchunk_destroy);
    s_key_id_of ((const uint8_t *) latest->mv_data, latest->mv_size,
                 search.latest_key_id);
    int rc = cc_log_each_revision (store, txn, id, revision, s_collect,
                                   &search);
    zchunk_t *chunk = NULL;
    size_t found = zlistx_size (search.found);
    if (rc)
        snprintf (why, why_size, "cannot read the log: %s",
                  mdb_strerror (rc));
    else
    if (found == 0)
        snprintf (why, why_size, "%s revision %" PRIu32 " was never held "
                  "here: no stream in the log carries it", id, revision);
    else
    if (found > 1 && search.same_issuer != 1)
        snprintf (why, why_size, "the log holds %zu different advisories "
                  "as %s revision %" PRIu32 " (two issuers used the id): "
                  "which one this store held cannot be told", found, id,
                  revision);
    else
        chunk = (zchunk_t *) zlistx_detach (search.found, NULL);
    zlistx_destroy (&search.found);
    return chunk;
}

zchunk_t *
cmd_revision_signed (cc_store_t *store, MDB_txn *txn, const char *id,
                     uint32_t revision, uint32_t *latest_revision, char *why,
                     size_t why_size)
{
    assert (store && txn && id && latest_revision && why);
    why [0] = 0;
    MDB_val latest;
    int rc = cc_log_advisory (store, txn, id, latest_revision, &latest);
    if (rc) {
        if (rc == MDB_NOTFOUND)
            snprintf (why, why_size, "no accepted advisory %s", id);
        else
            snprintf (why, why_size, "cannot read the advisory index: %s",
                      mdb_strerror (rc));
        return NULL;
    }
    if (revision == *latest_revision)
        return zchunk_new (latest.mv_data, latest.mv_size);
    if (revision > *latest_revision) {
        snprintf (why, why_size, "%s revision %" PRIu32 " was never held "
                  "here: the latest is revision %" PRIu32, id, revision,
                  *latest_revision);
        return NULL;
    }
    char key [160], origin [64];
    snprintf (key, sizeof key, CC_META_ORIGIN "%s", id);
    cc_meta_get_str (store, txn, key, origin, sizeof origin);
    if (*origin) {
        char *relay = cmd_text_safe (origin);
        snprintf (why, why_size, "%s revision %" PRIu32 " is not kept here: "
                  "relay %s's own advisory is recorded at its latest "
                  "revision (%" PRIu32 ") only; the relay keeps every "
                  "revision (run this there)", id, revision, relay,
                  *latest_revision);
        free (relay);
        return NULL;
    }
    return s_search_log (store, txn, id, revision, &latest, why, why_size);
}
