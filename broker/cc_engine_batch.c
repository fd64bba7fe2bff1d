/*  cc_engine_batch.c - the broker engine's batch: the items a poll cycle
    queued, written in one durable LMDB transaction (cc_engine_cycle_end),
    and only then made visible: deliveries published, requesters answered.
    See cc_engine.c for why this order is certcast's durability promise.

    Batch items own their routing frames and decoded messages; the
    outgoing list owns copies of the deliveries a commit makes visible.
*/
#include "cc_broker.h"
#include "cc_engine_internal.h"
#include <sys/statvfs.h>

//  ---------------------------------------------------------------------
//  Batch items

cc_engine_item_t *
cc_engine_item_new (cc_engine_item_type_t type, zframe_t *routing,
                    uint64_t corr, const char *peer)
{
    cc_engine_item_t *item =
        (cc_engine_item_t *) zmalloc (sizeof (cc_engine_item_t));
    item->type = type;
    item->routing = routing? zframe_dup (routing): NULL;
    item->corr = corr;
    if (peer)
        snprintf (item->peer, sizeof item->peer, "%s", peer);
    return item;
}

void
cc_engine_item_destroy (void **item_p)
{
    cc_engine_item_t *item = (cc_engine_item_t *) *item_p;
    if (item) {
        zframe_destroy (&item->routing);
        cc_advisory_destroy (&item->advisory);
        if (item->publish)
            certcast__publish__free_unpacked (item->publish, NULL);
        for (size_t index = 0; index < item->n_acks; index++) {
            free (item->acks [index].bytes);
            if (item->acks [index].ack)
                certcast__ack__free_unpacked (item->acks [index].ack, NULL);
        }
        free (item->acks);
        if (item->acks_request)
            certcast__acks__free_unpacked (item->acks_request, NULL);
        cc_roster_set_destroy (&item->roster);
        free (item->reporter);
        free (item->refusals);
        free (item->holders);
        free (item->stream);
        zchunk_destroy (&item->delivery);
        free (item->placed);
        free (item);
        *item_p = NULL;
    }
}

void
cc_engine_outgoing_destroy (void **item_p)
{
    cc_engine_outgoing_t *outgoing = (cc_engine_outgoing_t *) *item_p;
    if (outgoing) {
        free (outgoing->stream);
        zchunk_destroy (&outgoing->delivery);
        free (outgoing);
        *item_p = NULL;
    }
}

//  ---------------------------------------------------------------------
//  The batch: one durable transaction per poll cycle

//  An id belongs to the issuer that first used it here: whether a
//  publisher's, or a relay's report of its own. Otherwise a sectoral
//  issuer could take a national advisory's id with a higher revision and
//  replace it in this index, and with it the advisory the compliance
//  report and the ledger's receipts are about (cc_ledger's s_held trusts
//  that an id's revisions have one issuer). previous: the held bytes.
static bool
s_same_issuer (const MDB_val *previous, cc_advisory_t *advisory)
{
    Certcast__Signed *earlier = (Certcast__Signed *) cc_wire_unpack (
        &certcast__signed__descriptor, previous->mv_data, previous->mv_size,
        CC_WIRE_MAX_SIGNED);
    Certcast__Delegation *delegation = earlier && earlier->delegation?
        (Certcast__Delegation *) cc_wire_unpack (
            &certcast__delegation__descriptor,
            earlier->delegation->delegation.data,
            earlier->delegation->delegation.len, 65536): NULL;
    bool same = delegation && delegation->issuer_key.len == 32
        && CRYPTO_memcmp (delegation->issuer_key.data,
                          cc_advisory_issuer_key (advisory), 32) == 0;
    if (delegation)
        certcast__delegation__free_unpacked (delegation, NULL);
    if (earlier)
        certcast__signed__free_unpacked (earlier, NULL);
    return same;
}

static int
s_apply_publish (self_t *self, MDB_txn *txn, cc_engine_item_t *item,
                 int64_t now)
{
    cc_advisory_t *advisory = item->advisory;
    const char *id = cc_advisory_id (advisory);
    uint32_t revision = cc_advisory_revision (advisory);
    uint32_t accepted = 0;
    MDB_val previous;
    int rc = cc_log_advisory (self->store, txn, id, &accepted, &previous);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0) {
        if (revision <= accepted) {
            item->code = CC_EREPLAY;
            item->reason = revision == accepted?
                "this id and revision were already accepted":
                "a newer revision of this id was already accepted";
            return 0;
        }
        if (!s_same_issuer (&previous, advisory)) {
            item->code = CC_EREPLAY;
            item->reason = "this advisory id belongs to another issuer";
            return 0;
        }
    }
    size_t signed_size;
    const uint8_t *signed_bytes = cc_advisory_bytes (advisory, &signed_size);
    rc = cc_log_put_advisory (self->store, txn, id, revision, signed_bytes,
                              signed_size);
    if (rc)
        return rc;
    //  One delivery per target sector stream, numbered densely.
    const Certcast__Advisory *content = cc_advisory_content (advisory);
    if (!item->placed)
        item->placed = (Certcast__StreamHead *)
            zmalloc ((self->n_sectors + 1) * sizeof (Certcast__StreamHead));
    for (size_t index = 0; index < self->n_sectors; index++) {
        if (!content->all_sectors
        &&  !cc_advisory_targets (advisory, self->sectors [index]))
            continue;
        char *stream = self->own_streams [index];
        uint64_t seq = cc_log_head (self->store, txn, stream) + 1;
        Certcast__Delivery delivery = CERTCAST__DELIVERY__INIT;
        delivery.stream = stream;
        delivery.seq = seq;
        delivery.signed_.data = (uint8_t *) signed_bytes;
        delivery.signed_.len = signed_size;
        delivery.stored_at = now;
        size_t size;
        uint8_t *bytes = cc_wire_pack (&delivery.base, &size);
        rc = cc_log_append (self->store, txn, stream, seq, bytes, size);
        if (rc) {
            free (bytes);
            return rc;
        }
        cc_engine_outgoing_t *outgoing =
            (cc_engine_outgoing_t *) zmalloc (sizeof *outgoing);
        outgoing->stream = strdup (stream);
        outgoing->seq = seq;
        outgoing->delivery = zchunk_new (bytes, size);
        free (bytes);
        zlistx_add_end (self->outgoing, outgoing);
        Certcast__StreamHead init = CERTCAST__STREAM_HEAD__INIT;
        item->placed [item->n_placed] = init;
        item->placed [item->n_placed].stream = stream;
        item->placed [item->n_placed].head = seq;
        item->n_placed++;
    }
    return 0;
}

//  What the log refuses in this one delivery (a stream name it cannot
//  key, a number it already holds), not what the disk or the transaction
//  failed at: LMDB returns these before it changes anything, so the rest
//  of the batch is written and only this delivery is refused (it stalls
//  its stream, see cycle_end). Anything else fails the whole commit.
static bool
s_forward_data_error (int rc)
{
    return rc == MDB_BAD_VALSIZE || rc == EINVAL || rc == MDB_KEYEXIST;
}

static int
s_apply_forward (self_t *self, MDB_txn *txn, cc_engine_item_t *item)
{
    //  Dense, as our agents expect: one after a delivery of its stream
    //  refused earlier in this batch must wait behind it, not fill in.
    uint64_t head = cc_log_head (self->store, txn, item->stream);
    if (item->seq != head + 1) {
        item->code = CC_EMALFORMED;
        item->reason = item->seq <= head?
            "its number is taken on this stream here":
            "a delivery before it on its stream was not stored";
        return 0;
    }
    //  Byte for byte, at the upstream's own sequence number: relays never
    //  renumber, so an agent can move between relays of its sector.
    int rc = cc_log_append (self->store, txn, item->stream, item->seq,
                            zchunk_data (item->delivery),
                            zchunk_size (item->delivery));
    if (s_forward_data_error (rc)) {
        item->code = CC_EMALFORMED;
        item->reason = "the log cannot hold it (stream name or number)";
        return 0;
    }
    if (rc)
        return rc;
    size_t size;
    const uint8_t *signed_bytes = cc_advisory_bytes (item->advisory, &size);
    uint32_t accepted = 0;
    rc = cc_log_advisory (self->store, txn, cc_advisory_id (item->advisory),
                          &accepted, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == MDB_NOTFOUND
    ||  cc_advisory_revision (item->advisory) > accepted) {
        rc = cc_log_put_advisory (self->store, txn,
                                  cc_advisory_id (item->advisory),
                                  cc_advisory_revision (item->advisory),
                                  signed_bytes, size);
        if (rc)
            return rc;
    }
    cc_engine_outgoing_t *outgoing =
        (cc_engine_outgoing_t *) zmalloc (sizeof *outgoing);
    outgoing->stream = strdup (item->stream);
    outgoing->seq = item->seq;
    outgoing->delivery = zchunk_dup (item->delivery);
    zlistx_add_end (self->outgoing, outgoing);
    return 0;
}

//  A relay's own advisory, reported for the national compliance view:
//  recorded in the advisory index, never streamed (the relay streams it).
static int
s_apply_record (self_t *self, MDB_txn *txn, cc_engine_item_t *item)
{
    size_t size;
    const uint8_t *signed_bytes = cc_advisory_bytes (item->advisory, &size);
    uint32_t accepted = 0;
    MDB_val previous;
    int rc = cc_log_advisory (self->store, txn, cc_advisory_id (item->advisory),
                              &accepted, &previous);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0 && !s_same_issuer (&previous, item->advisory)) {
        item->code = CC_EREPLAY;
        item->reason = "this advisory id belongs to another issuer";
        return 0;
    }
    if (rc == 0 && cc_advisory_revision (item->advisory) <= accepted)
        return 0;               //  a resend, or older: already recorded
    rc = cc_log_put_advisory (self->store, txn,
                              cc_advisory_id (item->advisory),
                              cc_advisory_revision (item->advisory),
                              signed_bytes, size);
    //  Who reported it: only the agents behind that relay could receive
    //  it (it is on that relay's own stream, not on ours), so only they
    //  are expected to acknowledge it (certcast compliance).
    const cc_member_t *relay = cc_roster_by_curve (self->roster, item->peer);
    if (rc == 0 && relay) {
        char key [160];
        snprintf (key, sizeof key, CC_META_ORIGIN "%s",
                  cc_advisory_id (item->advisory));
        rc = cc_meta_put_str (self->store, txn, key, relay->name);
    }
    return rc;
}

static int
s_apply_acks (self_t *self, MDB_txn *txn, cc_engine_item_t *item, int64_t now)
{
    for (size_t index = 0; index < item->n_acks; index++) {
        cc_engine_ack_t *ack = &item->acks [index];
        int new_rows = 0, unknown = 0;
        int rc = cc_ledger_put (self->store, txn, ack->bytes, ack->size,
                                ack->ack, now, self->relay, self->digests,
                                &new_rows, &unknown);
        if (rc)
            return rc;
        item->count += new_rows;
        item->unknown += unknown;
        if (ack->ack->agent_key.len == 32) {
            rc = cc_roster_touch (self->store, txn, ack->ack->agent_key.data,
                                  now);
            if (rc)
                return rc;
        }
    }
    return 0;
}

//  May the relay report this entry? *reason says why not (NULL: it may),
//  and holder who holds its key ("" for nobody). A key stored via anyone
//  else (another relay, or our own allow directory, stored via our name)
//  stays theirs: otherwise a relay could report another relay's agent
//  and then drop it, and it would vanish from the compliance view until
//  its own relay happened to send its roster again. Nor may a relay
//  report anything but agents of the sectors its enrolment here lets it
//  read, or it could invent recipients in other sectors. 0 or LMDB error.
//  Is the name a roster entry is held via still someone here: this
//  broker (its own allow directory) or an enrolled relay?
static bool
s_holder_current (self_t *self, const char *holder)
{
    if (streq (holder, self->name))
        return true;
    for (const cc_member_t *member = cc_roster_first (self->roster); member;
         member = cc_roster_next (self->roster))
        if (streq (member->role, "relay") && streq (member->name, holder))
            return true;
    return false;
}

static int
s_roster_check (self_t *self, MDB_txn *txn, cc_engine_item_t *item,
                const Certcast__RosterEntry *entry, const char **reason,
                char *holder, size_t size)
{
    *reason = NULL;
    int rc = cc_roster_stored_via (self->store, txn, entry->sign_key.data,
                                   holder, size);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    //  An entry without a via (none is written so) is nobody's, and so is
    //  one held via a relay no longer enrolled here (decommissioned, or
    //  enrolled again under another name): it will never report again,
    //  so its agents could never move.
    if (rc == 0 && *holder && !streq (holder, item->via)
    &&  s_holder_current (self, holder)) {
        *reason = "its key is enrolled upstream through another relay or "
                  "at the upstream itself; it is taken once removed there";
        return 0;
    }
    *holder = 0;
    if (!entry->role || !streq (entry->role, "agent"))
        *reason = "not an agent: a relay reports only its agents";
    else
    if (!entry->sector || !cc_engine_may_read (item->reporter, entry->sector))
        *reason = "its sector is not one this relay is enrolled for "
                  "upstream";
    return 0;
}

//  Count an entry not taken, and list the first few for the reply and
//  the log; the strings stay the roster's, as long as the item.
static void
s_roster_refused (cc_engine_item_t *item, Certcast__RosterEntry *entry,
                  const char *reason, const char *holder)
{
    if (*holder)
        item->held_elsewhere++;
    else
        item->out_of_sector++;
    if (!item->refusals) {
        item->refusals = (Certcast__RosterRefusal *) zmalloc (
            ROSTER_REFUSALS_LISTED * sizeof (Certcast__RosterRefusal));
        item->holders = (char (*) [64]) zmalloc (ROSTER_REFUSALS_LISTED * 64);
    }
    if (item->n_refusals == ROSTER_REFUSALS_LISTED)
        return;
    Certcast__RosterRefusal *refusal = &item->refusals [item->n_refusals];
    certcast__roster_refusal__init (refusal);
    refusal->sign_key = entry->sign_key;
    refusal->name = entry->name;
    refusal->reason = (char *) reason;
    snprintf (item->holders [item->n_refusals], 64, "%s", holder);
    item->n_refusals++;
}

//  A relay's roster replaces what it reported before, in this one
//  transaction: the whole set of parts, or (if the commit fails) nothing.
//  What it may not report is left out (s_roster_check) and answered.
static int
s_apply_roster (self_t *self, MDB_txn *txn, cc_engine_item_t *item)
{
    size_t count = 0;
    Certcast__RosterEntry **entries = cc_roster_set_entries (item->roster,
                                                             &count);
    Certcast__RosterEntry **taken = (Certcast__RosterEntry **)
        zmalloc ((count + 1) * sizeof (Certcast__RosterEntry *));
    size_t n_taken = 0;
    item->n_refusals = 0;
    item->held_elsewhere = 0;
    item->out_of_sector = 0;
    int rc = 0;
    for (size_t index = 0; !rc && index < count; index++) {
        const char *reason = NULL;
        char holder [64];
        rc = s_roster_check (self, txn, item, entries [index], &reason,
                             holder, sizeof holder);
        if (rc == 0 && reason)
            s_roster_refused (item, entries [index], reason, holder);
        else
        if (rc == 0)
            taken [n_taken++] = entries [index];
    }
    if (rc == 0)
        rc = cc_roster_drop_via (self->store, txn, item->via, taken, n_taken);
    int64_t now = (int64_t) time (NULL);
    for (size_t index = 0; !rc && index < n_taken; index++) {
        //  The relay's word for via is replaced by who it is.
        char *claimed = taken [index]->via;
        taken [index]->via = item->via;
        rc = cc_roster_put (self->store, txn, taken [index], now);
        taken [index]->via = claimed;
        if (rc == 0)
            item->count++;
    }
    free (taken);
    //  When it last reported, so a report can tell a relay that never did
    //  (its agents unknown here) from one that has no agents.
    if (rc == 0) {
        char key [100];
        snprintf (key, sizeof key, CC_META_ROSTER "%s", item->via);
        rc = cc_meta_put_u64 (self->store, txn, key, (uint64_t) time (NULL));
    }
    //  A relay passes the rosters of relays below it on to its upstream
    //  with its own (cc_engine_upstream.c).
    if (rc == 0 && self->relay)
        self->roster_dirty = true;
    return rc;
}

static int
s_apply_item (self_t *self, MDB_txn *txn, cc_engine_item_t *item,
              int64_t now)
{
    item->code = CC_OK;
    item->reason = NULL;
    item->count = 0;
    item->unknown = 0;
    item->n_placed = 0;
    switch (item->type) {
        case ITEM_PUBLISH:
            return s_apply_publish (self, txn, item, now);
        case ITEM_FORWARD:
            return s_apply_forward (self, txn, item);
        case ITEM_ACKS:
            return s_apply_acks (self, txn, item, now);
        case ITEM_RECORD:
            return s_apply_record (self, txn, item);
        case ITEM_ROSTER:
            return s_apply_roster (self, txn, item);
    }
    return 0;
}

//  Acks go last: an ack that lingered in the batch is then ledgered
//  against every advisory this same commit stores, not found unknown.
static int
s_batch_write (MDB_txn *txn, void *arg)
{
    self_t *self = (self_t *) arg;
    int64_t now = (int64_t) time (NULL);
    zlistx_purge (self->outgoing);
    for (int acks_pass = 0; acks_pass < 2; acks_pass++) {
        for (cc_engine_item_t *item =
                 (cc_engine_item_t *) zlistx_first (self->batch);
             item; item = (cc_engine_item_t *) zlistx_next (self->batch)) {
            if ((item->type == ITEM_ACKS) != (acks_pass == 1))
                continue;
            int rc = s_apply_item (self, txn, item, now);
            if (rc)
                return rc;
        }
    }
    if (self->ackq_confirm) {
        int rc = cc_ledger_queue_confirm (self->store, txn, self->ackq_confirm);
        if (rc)
            return rc;
    }
    self->heard_in_txn = cc_heard_due (self->heard, now);
    if (self->heard_in_txn) {
        int rc = cc_heard_write (self->heard, self->store, txn, now);
        if (rc)
            return rc;
    }
    if (self->report_confirm) {
        char key [sizeof self->report_stream + 8];
        snprintf (key, sizeof key, "report.%s", self->report_stream);
        int rc = cc_meta_put_u64 (self->store, txn, key, self->report_confirm);
        if (rc)
            return rc;
    }
    return 0;
}

static void
s_publish_delivery (self_t *self, const char *stream, zchunk_t *delivery)
{
    Certcast__StreamMsg message = CERTCAST__STREAM_MSG__INIT;
    message.body_case = CERTCAST__STREAM_MSG__BODY_DELIVERY;
    message.delivery.data = zchunk_data (delivery);
    message.delivery.len = zchunk_size (delivery);
    zframe_t *body = cc_wire_pack_frame (&message.base);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, stream);
    zmsg_append (msg, &body);
    if (self->pub)
        zmsg_send (&msg, self->pub);
    zmsg_destroy (&msg);
}

//  A roster's Acked says how many entries were taken and names the
//  first ones that were not, so the relay can tell its operator and
//  send its roster again until they are taken.
static void
s_answer_roster (self_t *self, cc_engine_item_t *item)
{
    Certcast__RosterRefusal **refused = (Certcast__RosterRefusal **)
        zmalloc ((item->n_refusals + 1) * sizeof (Certcast__RosterRefusal *));
    for (size_t index = 0; index < item->n_refusals; index++)
        refused [index] = &item->refusals [index];
    Certcast__Acked acked = CERTCAST__ACKED__INIT;
    acked.count = (uint32_t) item->count;
    acked.n_refused = item->n_refusals;
    acked.refused = refused;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = item->corr;
    control.body_case = CERTCAST__CONTROL__BODY_ACKED;
    control.acked = &acked;
    cc_engine_reply (self, item->routing, &control);
    free (refused);
}

//  A name a relay chose, fit for our log: at most 40 bytes, control
//  characters as '?'.
static void
s_printable (char *out, size_t size, const char *name)
{
    size_t used = 0;
    for (; name && *name && used + 1 < size && used < 40; name++)
        out [used++] = (unsigned char) *name < 0x20 || *name == 0x7f?
                       '?': *name;
    out [used] = 0;
}

//  Count what a committed roster did not take, and say so (at most once
//  per relay per LOG_EVERY_MS): the entries a relay may not report, and
//  what its operator, or the other relay's, should do about them.
static void
s_roster_taken (self_t *self, cc_engine_item_t *item)
{
    self->counters.roster_entries_held += item->held_elsewhere;
    self->counters.roster_entries_out_of_sector += item->out_of_sector;
    char log_key [64];
    snprintf (log_key, sizeof log_key, "roster %s", item->peer);
    if (item->n_refusals == 0 || !cc_engine_may_log (self, log_key))
        return;
    size_t count = 0;
    cc_roster_set_entries (item->roster, &count);
    char examples [900] = "";
    size_t used = 0;
    for (size_t index = 0; index < item->n_refusals && index < 3; index++) {
        Certcast__RosterRefusal *refusal = &item->refusals [index];
        const char *holder = item->holders [index];
        char name [48];
        s_printable (name, sizeof name, refusal->name);
        int wrote = *holder?
            snprintf (examples + used, sizeof examples - used,
                      "%s'%s' (key %02x%02x%02x%02x) is held via %s%s: if it "
                      "moved to %s, remove it from %s first, then it is "
                      "taken at %s's next roster",
                      index? "; ": "", name, refusal->sign_key.data [0],
                      refusal->sign_key.data [1], refusal->sign_key.data [2],
                      refusal->sign_key.data [3], holder,
                      streq (holder, self->name)? " (this broker's own "
                      "allow directory)": "", item->via,
                      streq (holder, self->name)? "this broker's allow "
                      "directory": "that relay's allow directory",
                      item->via):
            snprintf (examples + used, sizeof examples - used,
                      "%s'%s' (key %02x%02x%02x%02x): %s",
                      index? "; ": "", name, refusal->sign_key.data [0],
                      refusal->sign_key.data [1], refusal->sign_key.data [2],
                      refusal->sign_key.data [3], refusal->reason);
        if (wrote < 0 || (size_t) wrote >= sizeof examples - used)
            break;
        used += (size_t) wrote;
    }
    zsys_warning ("roster from relay %s: %d of %zu entr%s not taken (%d held "
                  "via another relay or this broker, %d not agents of its "
                  "sectors): %s%s", item->via,
                  item->held_elsewhere + item->out_of_sector, count,
                  count == 1? "y": "ies", item->held_elsewhere,
                  item->out_of_sector, examples,
                  item->n_refusals > 3? "; ...": "");
}

static void
s_answer (self_t *self, cc_engine_item_t *item, bool committed,
          bool deferred)
{
    if (!item->routing)
        return;
    if (deferred) {
        //  Not a refusal: counted as acks_deferred (s_count_acks).
        cc_engine_reply_error (self, item->routing, item->corr, CC_ENOTYET,
                               "an advisory acked is not here yet; "
                               "send again later");
        return;
    }
    if (!committed) {
        cc_engine_refuse (
            self, item->routing, item->corr, item->peer, CC_ESTORAGE,
            "the broker could not commit to disk; nothing stored");
        return;
    }
    if (item->code != CC_OK) {
        cc_engine_refuse (self, item->routing, item->corr, item->peer,
                          item->code, item->reason);
        return;
    }
    if (item->type == ITEM_ROSTER) {
        s_answer_roster (self, item);
        return;
    }
    if (item->type != ITEM_PUBLISH && item->type != ITEM_RECORD) {
        cc_engine_reply_acked (self, item->routing, item->corr, item->count);
        return;
    }
    Certcast__Stored stored = CERTCAST__STORED__INIT;
    Certcast__StreamHead **placed = (Certcast__StreamHead **)
        zmalloc ((item->n_placed + 1) * sizeof (Certcast__StreamHead *));
    stored.id = (char *) cc_advisory_id (item->advisory);
    stored.revision = cc_advisory_revision (item->advisory);
    for (size_t index = 0; index < item->n_placed; index++)
        placed [index] = &item->placed [index];
    stored.n_placed = item->n_placed;
    stored.placed = placed;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = item->corr;
    control.body_case = CERTCAST__CONTROL__BODY_STORED;
    control.stored = &stored;
    cc_engine_reply (self, item->routing, &control);
    free (placed);
    //  The log line after the reply: its clock and write are not the
    //  publisher's to wait for.
    if (item->type == ITEM_PUBLISH)
        zsys_notice ("stored %s rev %u from %.8s in %zu stream(s)",
                     stored.id, stored.revision, item->peer, item->n_placed);
}

//  Acks alone may wait a few ms for company: with thousands of agents each
//  ack would otherwise cost a disk sync of its own, and those syncs hold
//  up the next advisory's commit at this hop (and every other writer on
//  the disk). Advisories, rosters and reports never wait; acks that are
//  waiting ride with them. Nor does a group of ACK_GROUP acks: its
//  senders wait for their answer to send more, and the checks of what
//  they sent already keep the cores busy through its sync. Nothing is
//  answered before the commit, so a crash meanwhile loses nothing an
//  agent was told: it sends again.
static bool
s_acks_may_wait (self_t *self)
{
    if (!self->acks_due || self->report_confirm
    ||  zclock_mono () >= self->acks_due)
        return false;
    size_t acks = 0;
    for (cc_engine_item_t *item =
             (cc_engine_item_t *) zlistx_first (self->batch);
         item; item = (cc_engine_item_t *) zlistx_next (self->batch)) {
        if (item->type != ITEM_ACKS)
            return false;
        acks += item->n_acks;
    }
    //  While more checks are running than are done, the batch waits for
    //  them (within the linger): a commit's pages are shared by all its
    //  acks, and with thousands of agents each ack's ledger row is on a
    //  page of its own.
    return acks < ACK_GROUP || acks < self->jobs_unfinished;
}

//  An ack entry for an advisory we do not hold is no receipt: the ledger
//  kept no row for it, and the other entries of the request stand. A
//  relay still catching up with its upstream (restarted from an old
//  backup, cut off from the national broker, or serving an agent that
//  moved here from a relay further ahead) may simply not hold it yet:
//  the agent is told to send again later and keeps the ack, so its
//  receipt reaches the ledgers once we do. A broker that is caught up
//  counts it and answers Acked, or the sender would send it forever.
static bool
s_acks_deferred (cc_engine_item_t *item, bool caught_up)
{
    return item->type == ITEM_ACKS && item->code == CC_OK
        && item->unknown > 0 && !caught_up;
}

static void
s_count_acks (self_t *self, cc_engine_item_t *item, bool deferred)
{
    self->counters.ack_rows += item->count;
    if (deferred) {
        self->counters.acks_deferred += item->unknown;
        if (cc_engine_may_log (self, item->peer))
            zsys_notice ("acks from %s: %d entr%s for advisories not "
                         "received yet from upstream, sent back for later",
                         item->peer, item->unknown,
                         item->unknown == 1? "y": "ies");
        return;
    }
    self->counters.acks_unknown += item->unknown;
    if (item->unknown && cc_engine_may_log (self, item->peer))
        zsys_warning ("acks from %s: %d entr%s for advisories this broker "
                      "does not hold, not ledgered", item->peer, item->unknown,
                      item->unknown == 1? "y": "ies");
}

static uint64_t
s_stored_head (void *arg, const char *stream)
{
    return cc_engine_head (((self_t *) arg)->heads, stream);
}

bool
cc_engine_caught_up (self_t *self)
{
    return !self->upstream
        || cc_upstream_caught_up (self->upstream, s_stored_head, self);
}

//  The one commit point of the loop, just before the poller sleeps.
//  The upstream's confirmation of our ack queue rides on a commit made
//  anyway, unless `flush` (housekeeping, exit): a commit of its own per
//  Acked would be a second disk sync per ack batch, and losing it in a
//  crash only makes us send acks the national ledger already holds.
void
cc_engine_cycle_end (self_t *self, bool flush)
{
    cc_engine_verify_advance (self, self->draining);
    if (zlistx_size (self->batch) == 0)
        self->acks_due = 0;
    if (zlistx_size (self->batch) == 0 && !self->report_confirm
    &&  !(flush && self->ackq_confirm)
    &&  !cc_heard_due (self->heard, (int64_t) time (NULL)))
        return;
    if (!flush && s_acks_may_wait (self))
        return;
    int rc = cc_store_write (self->store, s_batch_write, self);
    bool committed = rc == 0;
    if (committed) {
        self->counters.commits++;
        if (self->heard_in_txn)
            cc_heard_committed (self->heard);
        //  Durable: now, and only now, make it visible.
        for (cc_engine_outgoing_t *outgoing =
                 (cc_engine_outgoing_t *) zlistx_first (self->outgoing);
             outgoing; outgoing =
                 (cc_engine_outgoing_t *) zlistx_next (self->outgoing)) {
            s_publish_delivery (self, outgoing->stream, outgoing->delivery);
            if (outgoing->seq > cc_engine_head (self->heads, outgoing->stream))
                cc_engine_set_head (self->heads, outgoing->stream,
                                    outgoing->seq);
        }
    }
    else {
        self->counters.commit_failures++;
        if (self->heard_in_txn)
            cc_heard_failed (self->heard, (int64_t) time (NULL));
        //  What this cycle hashed may be of bytes it did not store.
        cc_ledger_digests_clear (self->digests);
        //  LMDB reports a disk that filled mid-write as EIO; say how much
        //  room there is, so an operator looks at the disk, not the drive.
        struct statvfs disk;
        if (statvfs (self->data_dir, &disk) == 0)
            zsys_error ("commit failed: %s (%" PRIu64 " bytes free in %s); "
                        "nothing from this cycle is stored", mdb_strerror (rc),
                        (uint64_t) disk.f_bavail * disk.f_frsize,
                        self->data_dir);
        else
            zsys_error ("commit failed: %s; nothing from this cycle is stored",
                        mdb_strerror (rc));
    }
    //  After the commit: its forwards count as held, and those still
    //  being checked do not.
    bool caught_up = cc_engine_caught_up (self);
    for (cc_engine_item_t *item =
             (cc_engine_item_t *) zlistx_first (self->batch);
         item; item = (cc_engine_item_t *) zlistx_next (self->batch)) {
        bool deferred = committed && s_acks_deferred (item, caught_up);
        if (committed && item->code == CC_OK) {
            if (item->type == ITEM_PUBLISH)
                self->counters.published++;
            else
            if (item->type == ITEM_FORWARD)
                self->counters.forwarded++;
            else
            if (item->type == ITEM_ACKS)
                s_count_acks (self, item, deferred);
            else
            if (item->type == ITEM_ROSTER)
                s_roster_taken (self, item);
        }
        else
        if (!committed && item->type == ITEM_FORWARD)
            cc_engine_stall (self, item->stream, item->seq);
        else
        if (item->type == ITEM_FORWARD)
            cc_engine_refuse_forward (self, item, item->code, item->reason);
        s_answer (self, item, committed, deferred);
    }
    zlistx_purge (self->outgoing);
    zlistx_purge (self->batch);
    //  No delivery in flight: fetch from the committed heads again.
    if (zlistx_size (self->lane_advisories) == 0) {
        zhashx_purge (self->pending_heads);
        zhashx_purge (self->stalled);
    }
    self->acks_due = 0;
    if (committed)
        self->ackq_confirm = 0;
    self->report_confirm = 0;
}
