/*  cc_roster_chunks.c - a relay's roster in parts (see cc_roster_chunks.h).

    The receiving side keeps one staging per relay, keyed by the relay's
    CURVE key: the parts of one generation so far (decoded Roster
    messages, owned), which part comes next, and the connection they came
    over. Parts are accepted strictly in order. A relay sends all parts of
    a roster at once over one DEALER, which ZeroMQ delivers in order, so
    anything else - a missing part, another generation, another
    connection - means that roster will not complete: its staging is
    dropped at once rather than held, and the relay sends it again.

    What is staged is bounded in bytes per relay and in total (see
    cc_roster_chunks.h): entry counts alone let entries of 64 KiB of
    padding take a broker's memory by the GiB.
*/

#include "cc_broker.h"

struct _cc_roster_chunks_t {
    zhashx_t *staged;               //  relay CURVE key -> s_staging_t
    size_t bytes;                   //  staged by all relays, as counted
    size_t per_relay_max, total_max;//  bounds on those bytes
    char why [200];                 //  the last refusal's reason
};

struct _cc_roster_set_t {
    zlistx_t *parts;                //  Certcast__Roster *, owned, in order
    size_t count;                   //  entries in all parts
    Certcast__RosterEntry **entries;//  into the parts, made when complete
};

//  The parts of one relay's roster received so far.
typedef struct {
    cc_roster_set_t *set;           //  owned
    zframe_t *session;              //  routing id they came over, owned
    uint64_t generation;
    uint32_t parts;                 //  in the whole roster
    uint32_t next;                  //  part expected next
    int64_t touched;                //  mono ms of the last part
    size_t bytes;                   //  staged, as counted against bounds
} s_staging_t;


//  --------------------------------------------------------------------------
//  Relay side

size_t
cc_roster_chunks_size_default (void)
{
    const char *text = getenv ("CC_ROSTER_CHUNK");
    long chunk = text? atol (text): 0;
    return chunk >= 1 && chunk <= CC_ROSTER_CHUNK_MAX?
           (size_t) chunk: CC_ROSTER_CHUNK_MAX;
}


void
cc_roster_chunks_split (const char *relay, Certcast__RosterEntry **entries,
                        size_t count, size_t chunk, uint64_t generation,
                        cc_roster_part_fn *fn, void *arg)
{
    assert (relay);
    assert (entries || count == 0);
    assert (chunk > 0);
    assert (fn);
    Certcast__Roster roster = CERTCAST__ROSTER__INIT;
    roster.relay = (char *) relay;
    if (count <= chunk) {
        roster.n_entries = count;
        roster.entries = entries;
        fn (&roster, arg);
        return;
    }
    size_t at_least = (count + CC_ROSTER_PARTS_MAX - 1) / CC_ROSTER_PARTS_MAX;
    size_t per_part = chunk > at_least? chunk: at_least;
    roster.generation = generation;
    roster.parts = (uint32_t) ((count + per_part - 1) / per_part);
    for (uint32_t part = 1; part <= roster.parts; part++) {
        size_t first = (part - 1) * per_part;
        roster.part = part;
        roster.entries = entries + first;
        roster.n_entries = count - first < per_part? count - first: per_part;
        fn (&roster, arg);
    }
}


//  --------------------------------------------------------------------------
//  Sets and stagings

static void
s_roster_free (void **item_p)
{
    if (*item_p)
        certcast__roster__free_unpacked ((Certcast__Roster *) *item_p, NULL);
    *item_p = NULL;
}

static cc_roster_set_t *
s_set_new (void)
{
    cc_roster_set_t *self = (cc_roster_set_t *) zmalloc (sizeof *self);
    self->parts = zlistx_new ();
    assert (self->parts);
    zlistx_set_destructor (self->parts, s_roster_free);
    return self;
}

//  Takes ownership of *roster_p.
static void
s_set_add (cc_roster_set_t *self, Certcast__Roster **roster_p)
{
    self->count += (*roster_p)->n_entries;
    zlistx_add_end (self->parts, *roster_p);
    *roster_p = NULL;
}

//  The set is whole: index its entries in part order.
static void
s_set_seal (cc_roster_set_t *self)
{
    self->entries = (Certcast__RosterEntry **)
        zmalloc ((self->count + 1) * sizeof (Certcast__RosterEntry *));
    size_t index = 0;
    Certcast__Roster *part = (Certcast__Roster *) zlistx_first (self->parts);
    for (; part; part = (Certcast__Roster *) zlistx_next (self->parts))
        for (size_t entry = 0; entry < part->n_entries; entry++)
            self->entries [index++] = part->entries [entry];
    assert (index == self->count);
}

void
cc_roster_set_destroy (cc_roster_set_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_roster_set_t *self = *self_p;
        free (self->entries);
        zlistx_destroy (&self->parts);
        free (self);
        *self_p = NULL;
    }
}

Certcast__RosterEntry **
cc_roster_set_entries (cc_roster_set_t *self, size_t *count)
{
    assert (self);
    assert (self->entries);
    assert (count);
    *count = self->count;
    return self->entries;
}

static void
s_staging_destroy (void **item_p)
{
    s_staging_t *staging = (s_staging_t *) *item_p;
    if (staging) {
        zframe_destroy (&staging->session);
        cc_roster_set_destroy (&staging->set);
        free (staging);
        *item_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Receiving side

cc_roster_chunks_t *
cc_roster_chunks_new (void)
{
    cc_roster_chunks_t *self = (cc_roster_chunks_t *) zmalloc (sizeof *self);
    self->staged = zhashx_new ();
    assert (self->staged);
    zhashx_set_destructor (self->staged, s_staging_destroy);
    self->per_relay_max = CC_ROSTER_STAGE_BYTES;
    self->total_max = CC_ROSTER_STAGE_BYTES_TOTAL;
    return self;
}

void
cc_roster_chunks_set_limits (cc_roster_chunks_t *self, size_t per_relay,
                             size_t total)
{
    assert (self);
    self->per_relay_max = per_relay;
    self->total_max = total;
}

//  Drop a relay's staging, and its bytes from the total.
static void
s_drop (cc_roster_chunks_t *self, const char *relay)
{
    s_staging_t *staging = (s_staging_t *) zhashx_lookup (self->staged, relay);
    if (staging) {
        assert (self->bytes >= staging->bytes);
        self->bytes -= staging->bytes;
        zhashx_delete (self->staged, relay);
    }
}

void
cc_roster_chunks_destroy (cc_roster_chunks_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_roster_chunks_t *self = *self_p;
        zhashx_destroy (&self->staged);
        free (self);
        *self_p = NULL;
    }
}

//  Why this roster message cannot be a part of anything; NULL if it can.
//  The entries are checked here so a bad one never reaches the write
//  transaction, where it would fail everything else of that cycle. Sets
//  *bytes to what staging the part costs.
static const char *
s_malformed (cc_roster_chunks_t *self, const Certcast__Roster *roster,
             size_t *bytes, bool *too_large)
{
    *bytes = 0;
    *too_large = false;
    for (size_t index = 0; index < roster->n_entries; index++) {
        const Certcast__RosterEntry *entry = roster->entries [index];
        if (entry->sign_key.len != 32)
            return "roster entry without a 32-byte sign key";
        //  Bytes the relay chose, never its name: that goes to our log.
        size_t size = certcast__roster_entry__get_packed_size (entry);
        if (size > CC_ROSTER_ENTRY_WIRE_MAX) {
            snprintf (self->why, sizeof self->why, "roster entry %zu of "
                      "this part (key %02x%02x%02x%02x) is %zu bytes, over "
                      "the %d a roster entry may have: roster refused",
                      index, entry->sign_key.data [0], entry->sign_key.data [1],
                      entry->sign_key.data [2], entry->sign_key.data [3], size,
                      CC_ROSTER_ENTRY_WIRE_MAX);
            *too_large = true;
            return self->why;
        }
        *bytes += size + CC_ROSTER_ENTRY_OVERHEAD;
    }
    if (roster->parts > CC_ROSTER_PARTS_MAX)
        return "roster in too many parts";
    if (roster->parts && (roster->part < 1 || roster->part > roster->parts))
        return "roster part number out of range";
    return NULL;
}

//  Does this part continue the relay's staging? A NULL session (no
//  connection to tell apart) matches only another NULL.
static bool
s_continues (s_staging_t *staging, const Certcast__Roster *roster,
             zframe_t *session)
{
    return staging && roster->parts && roster->part > 1
        && staging->generation == roster->generation
        && staging->parts == roster->parts && staging->next == roster->part
        && (staging->session? zframe_eq (staging->session, session): !session);
}

static cc_roster_offer_t
s_refuse (Certcast__Roster **roster_p, const char *why, const char **reason,
          cc_roster_offer_t verdict)
{
    s_roster_free ((void **) roster_p);
    *reason = why;
    return verdict;
}

static s_staging_t *
s_staging_new (const Certcast__Roster *roster, zframe_t *session)
{
    s_staging_t *staging = (s_staging_t *) zmalloc (sizeof *staging);
    staging->set = s_set_new ();
    staging->session = session? zframe_dup (session): NULL;
    staging->generation = roster->generation;
    staging->parts = roster->parts;
    staging->next = 1;
    return staging;
}

cc_roster_offer_t
cc_roster_chunks_offer (cc_roster_chunks_t *self, const char *relay,
                        zframe_t *session, Certcast__Roster **roster_p,
                        cc_roster_set_t **set_p, const char **reason)
{
    assert (self && relay && roster_p && *roster_p && set_p && reason);
    Certcast__Roster *roster = *roster_p;
    *set_p = NULL;
    *reason = NULL;
    size_t bytes = 0;
    bool too_large = false;
    const char *malformed = s_malformed (self, roster, &bytes, &too_large);
    s_staging_t *staging = (s_staging_t *) zhashx_lookup (self->staged, relay);
    if (malformed || !s_continues (staging, roster, session)) {
        s_drop (self, relay);
        staging = NULL;
    }
    if (malformed)
        return s_refuse (roster_p, malformed, reason, too_large?
                         CC_ROSTER_OVER_LIMIT: CC_ROSTER_REFUSED);
    if (!staging && roster->parts && roster->part > 1)
        return s_refuse (roster_p, "roster part out of order; send the "
                         "roster again from part 1", reason,
                         CC_ROSTER_REFUSED);
    if (!staging) {
        staging = s_staging_new (roster, session);
        zhashx_insert (self->staged, relay, staging);
    }
    if (staging->set->count + roster->n_entries > CC_ROSTER_STAGE_MAX) {
        s_drop (self, relay);
        return s_refuse (roster_p, "roster has too many entries", reason,
                         CC_ROSTER_OVER_LIMIT);
    }
    if (staging->bytes + bytes > self->per_relay_max) {
        s_drop (self, relay);
        snprintf (self->why, sizeof self->why, "roster over the %zu MiB a "
                  "relay may have staged here: refused",
                  self->per_relay_max >> 20);
        return s_refuse (roster_p, self->why, reason, CC_ROSTER_OVER_LIMIT);
    }
    if (self->bytes + bytes > self->total_max) {
        //  Others' rosters fill what we stage for all: this one goes
        //  again, whole, when the relay resends it.
        s_drop (self, relay);
        snprintf (self->why, sizeof self->why, "rosters staged here from "
                  "all relays are at their bound of %zu MiB: refused for "
                  "now, send it again later", self->total_max >> 20);
        return s_refuse (roster_p, self->why, reason, CC_ROSTER_OVER_LIMIT);
    }
    s_set_add (staging->set, roster_p);
    staging->bytes += bytes;
    self->bytes += bytes;
    staging->next++;
    staging->touched = zclock_mono ();
    if (staging->next <= staging->parts)
        return CC_ROSTER_STAGED;
    //  The last part, or a roster not in parts: the set is whole.
    *set_p = staging->set;
    staging->set = NULL;
    s_drop (self, relay);
    s_set_seal (*set_p);
    return CC_ROSTER_COMPLETE;
}

size_t
cc_roster_chunks_expire (cc_roster_chunks_t *self, int64_t idle_ms)
{
    assert (self);
    int64_t now = zclock_mono ();
    zlist_t *stale = zlist_new ();
    zlist_autofree (stale);
    for (s_staging_t *staging = (s_staging_t *) zhashx_first (self->staged);
         staging; staging = (s_staging_t *) zhashx_next (self->staged))
        if (now - staging->touched >= idle_ms)
            zlist_append (stale, (void *) zhashx_cursor (self->staged));
    size_t dropped = zlist_size (stale);
    for (char *relay = (char *) zlist_first (stale); relay;
         relay = (char *) zlist_next (stale))
        s_drop (self, relay);
    zlist_destroy (&stale);
    return dropped;
}

size_t
cc_roster_chunks_staged (cc_roster_chunks_t *self)
{
    assert (self);
    return zhashx_size (self->staged);
}

size_t
cc_roster_chunks_staged_bytes (cc_roster_chunks_t *self)
{
    assert (self);
    return self->bytes;
}


//  --------------------------------------------------------------------------
//  Self test

#define S_TEST_ENTRIES  600

typedef struct {
    Certcast__RosterEntry entries [S_TEST_ENTRIES];
    Certcast__RosterEntry *pointers [S_TEST_ENTRIES];
    uint8_t keys [S_TEST_ENTRIES][32];
    char names [S_TEST_ENTRIES][16];
} s_test_roster_t;

static void
s_test_roster_init (s_test_roster_t *test)
{
    for (size_t index = 0; index < S_TEST_ENTRIES; index++) {
        Certcast__RosterEntry *entry = &test->entries [index];
        certcast__roster_entry__init (entry);
        memset (test->keys [index], 0, 32);
        cc_be32_put (test->keys [index], (uint32_t) index);
        snprintf (test->names [index], 16, "agent-%zu", index);
        entry->sign_key.data = test->keys [index];
        entry->sign_key.len = 32;
        entry->name = test->names [index];
        test->pointers [index] = entry;
    }
}

//  Split's callback: each part as the receiver decodes it, in a list.
static void
s_test_collect (const Certcast__Roster *part, void *arg)
{
    size_t size;
    uint8_t *bytes = cc_wire_pack (&part->base, &size);
    assert (size < CC_WIRE_MAX_FRAME);
    Certcast__Roster *decoded = (Certcast__Roster *) cc_wire_unpack (
        &certcast__roster__descriptor, bytes, size, CC_WIRE_MAX_FRAME);
    assert (decoded);
    free (bytes);
    zlistx_add_end ((zlistx_t *) arg, decoded);
}

static zlistx_t *
s_test_split (s_test_roster_t *test, size_t count, size_t chunk,
              uint64_t generation)
{
    zlistx_t *parts = zlistx_new ();
    zlistx_set_destructor (parts, s_roster_free);
    cc_roster_chunks_split ("relay-banking", test->pointers, count, chunk,
                            generation, s_test_collect, parts);
    return parts;
}

//  Offer the next parts off the list, one per letter of `verdicts`, and
//  check each verdict: 'S' staged, 'C' complete (the set is left in
//  *set_p), 'R' refused, 'L' refused over a bound.
static void
s_test_feed (cc_roster_chunks_t *chunks, const char *relay, zframe_t *session,
             zlistx_t *parts, const char *verdicts, cc_roster_set_t **set_p)
{
    for (const char *verdict = verdicts; *verdict; verdict++) {
        Certcast__Roster *part =
            (Certcast__Roster *) zlistx_detach (parts, NULL);
        assert (part);
        const char *reason = NULL;
        cc_roster_offer_t offered = cc_roster_chunks_offer (
            chunks, relay, session, &part, set_p, &reason);
        assert (part == NULL);
        assert ((offered == CC_ROSTER_REFUSED
                 || offered == CC_ROSTER_OVER_LIMIT) == (reason != NULL));
        assert ((offered == CC_ROSTER_COMPLETE) == (*set_p != NULL));
        assert (offered == (*verdict == 'S'? CC_ROSTER_STAGED:
                            *verdict == 'C'? CC_ROSTER_COMPLETE:
                            *verdict == 'L'? CC_ROSTER_OVER_LIMIT:
                                             CC_ROSTER_REFUSED));
    }
}

//  The set holds entries first..first+count of the test roster, in order.
static void
s_test_check_set (cc_roster_set_t **set_p, size_t first, size_t count)
{
    size_t size = 0;
    Certcast__RosterEntry **entries = cc_roster_set_entries (*set_p, &size);
    assert (size == count);
    for (size_t index = 0; index < count; index++) {
        char name [16];
        snprintf (name, sizeof name, "agent-%zu", first + index);
        assert (streq (entries [index]->name, name));
        assert (entries [index]->sign_key.len == 32);
    }
    cc_roster_set_destroy (set_p);
    assert (*set_p == NULL);
    cc_roster_set_destroy (set_p);
}

static void
s_test_split_shapes (s_test_roster_t *test)
{
    //  5 entries 2 per part: 3 parts of one generation, 2 + 2 + 1
    zlistx_t *parts = s_test_split (test, 5, 2, 77);
    assert (zlistx_size (parts) == 3);
    uint32_t part_number = 1;
    size_t sizes [] = { 2, 2, 1 };
    for (Certcast__Roster *part = (Certcast__Roster *) zlistx_first (parts);
         part; part = (Certcast__Roster *) zlistx_next (parts)) {
        assert (streq (part->relay, "relay-banking"));
        assert (part->generation == 77 && part->parts == 3);
        assert (part->part == part_number);
        assert (part->n_entries == sizes [part_number - 1]);
        part_number++;
    }
    zlistx_destroy (&parts);
    //  A roster that fits one part has no part fields: old brokers read it
    parts = s_test_split (test, 3, 5, 78);
    assert (zlistx_size (parts) == 1);
    Certcast__Roster *whole = (Certcast__Roster *) zlistx_first (parts);
    assert (whole->parts == 0 && whole->part == 0 && whole->generation == 0);
    assert (whole->n_entries == 3);
    zlistx_destroy (&parts);
    //  Never more than CC_ROSTER_PARTS_MAX parts, none empty, none lost
    parts = s_test_split (test, S_TEST_ENTRIES, 1, 79);
    assert (zlistx_size (parts) <= CC_ROSTER_PARTS_MAX);
    size_t total = 0;
    for (Certcast__Roster *part = (Certcast__Roster *) zlistx_first (parts);
         part; part = (Certcast__Roster *) zlistx_next (parts)) {
        assert (part->n_entries > 0);
        assert (part->parts == zlistx_size (parts));
        total += part->n_entries;
    }
    assert (total == S_TEST_ENTRIES);
    zlistx_destroy (&parts);
}

static void
s_test_default_size (void)
{
    unsetenv ("CC_ROSTER_CHUNK");
    assert (cc_roster_chunks_size_default () == CC_ROSTER_CHUNK_MAX);
    setenv ("CC_ROSTER_CHUNK", "2", 1);
    assert (cc_roster_chunks_size_default () == 2);
    setenv ("CC_ROSTER_CHUNK", "0", 1);
    assert (cc_roster_chunks_size_default () == CC_ROSTER_CHUNK_MAX);
    setenv ("CC_ROSTER_CHUNK", "9999999", 1);
    assert (cc_roster_chunks_size_default () == CC_ROSTER_CHUNK_MAX);
    unsetenv ("CC_ROSTER_CHUNK");
}

void
cc_roster_chunks_test (bool verbose)
{
    printf (" * cc_roster_chunks: ");
    if (verbose)
        printf ("\n");
    s_test_roster_t *test = (s_test_roster_t *) zmalloc (sizeof *test);
    s_test_roster_init (test);
    s_test_split_shapes (test);
    s_test_default_size ();

    cc_roster_chunks_t *chunks = cc_roster_chunks_new ();
    assert (chunks);
    zframe_t *session = zframe_new ("\x00\x6b\x8b\x45\x67", 5);
    zframe_t *other_session = zframe_new ("\x00\x6b\x8b\x45\x68", 5);
    const char *relay = "relay-banking-curve-key";
    cc_roster_set_t *set = NULL;

    //  Parts in order: nothing until the last, then the whole roster
    zlistx_t *parts = s_test_split (test, 5, 2, 1);
    s_test_feed (chunks, relay, session, parts, "S", &set);
    assert (cc_roster_chunks_staged (chunks) == 1);
    s_test_feed (chunks, relay, session, parts, "SC", &set);
    assert (cc_roster_chunks_staged (chunks) == 0);
    s_test_check_set (&set, 0, 5);
    zlistx_destroy (&parts);

    //  A whole roster (an old relay's, or a small one) completes at once
    parts = s_test_split (test, 3, 10, 0);
    s_test_feed (chunks, relay, session, parts, "C", &set);
    s_test_check_set (&set, 0, 3);
    zlistx_destroy (&parts);
    //  and so does an empty one: a relay whose last agent left
    parts = s_test_split (test, 0, 10, 0);
    s_test_feed (chunks, relay, session, parts, "C", &set);
    s_test_check_set (&set, 0, 0);
    zlistx_destroy (&parts);

    //  A new generation drops the incomplete one: then the old one's last
    //  part is out of order, and drops the new one in turn
    zlistx_t *old_parts = s_test_split (test, 6, 2, 2);
    s_test_feed (chunks, relay, session, old_parts, "SS", &set);
    parts = s_test_split (test, 4, 2, 3);
    s_test_feed (chunks, relay, session, parts, "S", &set);
    s_test_feed (chunks, relay, session, old_parts, "R", &set);
    assert (cc_roster_chunks_staged (chunks) == 0);
    s_test_feed (chunks, relay, session, parts, "R", &set);
    zlistx_destroy (&parts);
    zlistx_destroy (&old_parts);

    //  An old relay's whole roster also drops a staging in progress
    parts = s_test_split (test, 4, 2, 4);
    s_test_feed (chunks, relay, session, parts, "S", &set);
    zlistx_t *whole = s_test_split (test, 1, 2, 0);
    s_test_feed (chunks, relay, session, whole, "C", &set);
    s_test_check_set (&set, 0, 1);
    assert (cc_roster_chunks_staged (chunks) == 0);
    s_test_feed (chunks, relay, session, parts, "R", &set);
    zlistx_destroy (&whole);
    zlistx_destroy (&parts);

    //  A missing part: the rest is refused, nothing completes
    parts = s_test_split (test, 6, 2, 5);
    s_test_feed (chunks, relay, session, parts, "S", &set);
    zlistx_delete (parts, NULL);
    s_test_feed (chunks, relay, session, parts, "R", &set);
    assert (cc_roster_chunks_staged (chunks) == 0);
    zlistx_destroy (&parts);

    //  A new connection (the relay reconnected) starts afresh
    parts = s_test_split (test, 4, 2, 6);
    s_test_feed (chunks, relay, session, parts, "S", &set);
    s_test_feed (chunks, relay, other_session, parts, "R", &set);
    assert (cc_roster_chunks_staged (chunks) == 0);
    zlistx_destroy (&parts);

    //  Two relays stage side by side
    parts = s_test_split (test, 4, 2, 7);
    zlistx_t *second = s_test_split (test, 6, 3, 7);
    s_test_feed (chunks, relay, session, parts, "S", &set);
    s_test_feed (chunks, "relay-telecom", other_session, second, "S", &set);
    assert (cc_roster_chunks_staged (chunks) == 2);
    s_test_feed (chunks, "relay-telecom", other_session, second, "C", &set);
    s_test_check_set (&set, 0, 6);
    s_test_feed (chunks, relay, session, parts, "C", &set);
    s_test_check_set (&set, 0, 4);
    zlistx_destroy (&second);
    zlistx_destroy (&parts);

    //  A relay that went quiet mid-roster is forgotten
    parts = s_test_split (test, 4, 2, 8);
    s_test_feed (chunks, relay, session, parts, "S", &set);
    assert (cc_roster_chunks_expire (chunks, 60000) == 0);
    assert (cc_roster_chunks_expire (chunks, 0) == 1);
    assert (cc_roster_chunks_staged (chunks) == 0);
    s_test_feed (chunks, relay, session, parts, "R", &set);
    zlistx_destroy (&parts);

    //  Malformed: a short sign key, a part number out of range, too many
    //  parts; each drops what was staged
    parts = s_test_split (test, 4, 2, 9);
    test->entries [3].sign_key.len = 31;
    zlistx_t *bad = s_test_split (test, 4, 2, 9);
    test->entries [3].sign_key.len = 32;
    s_test_feed (chunks, relay, session, parts, "S", &set);
    zlistx_delete (bad, NULL);
    s_test_feed (chunks, relay, session, bad, "R", &set);
    assert (cc_roster_chunks_staged (chunks) == 0);
    zlistx_destroy (&bad);
    //  An entry too large to store (its contact alone over 64 KiB) would
    //  fail the whole write transaction: it is refused here instead
    char *contact = (char *) malloc (CC_ROSTER_ENTRY_MAX + 1);
    memset (contact, 'x', CC_ROSTER_ENTRY_MAX);
    contact [CC_ROSTER_ENTRY_MAX] = 0;
    test->entries [1].contact = contact;
    bad = s_test_split (test, 2, 2, 9);
    test->entries [1].contact = NULL;
    free (contact);
    s_test_feed (chunks, relay, session, bad, "L", &set);
    zlistx_destroy (&bad);
    zlistx_destroy (&parts);
    uint32_t shapes [][2] = {
        { 0, 3 }, { 4, 3 }, { 1, CC_ROSTER_PARTS_MAX + 1 }
    };
    for (size_t index = 0; index < 3; index++) {
        Certcast__Roster *roster = (Certcast__Roster *)
            zmalloc (sizeof (Certcast__Roster));
        certcast__roster__init (roster);
        roster->part = shapes [index][0];
        roster->parts = shapes [index][1];
        const char *reason = NULL;
        assert (cc_roster_chunks_offer (chunks, relay, session, &roster, &set,
                                        &reason) == CC_ROSTER_REFUSED);
        assert (reason && !roster && !set);
    }

    //  An entry just over CC_ROSTER_ENTRY_WIRE_MAX is refused (an honest
    //  one is under 600 bytes), one a little under is staged
    assert (cc_roster_chunks_staged_bytes (chunks) == 0);
    contact = (char *) malloc (CC_ROSTER_ENTRY_WIRE_MAX + 1);
    memset (contact, 'x', CC_ROSTER_ENTRY_WIRE_MAX);
    contact [CC_ROSTER_ENTRY_WIRE_MAX] = 0;
    test->entries [0].contact = contact;
    bad = s_test_split (test, 1, 2, 11);
    contact [CC_ROSTER_ENTRY_WIRE_MAX - 100] = 0;
    parts = s_test_split (test, 1, 2, 11);
    test->entries [0].contact = NULL;
    free (contact);
    s_test_feed (chunks, relay, session, bad, "L", &set);
    s_test_feed (chunks, relay, session, parts, "C", &set);
    s_test_check_set (&set, 0, 1);
    zlistx_destroy (&bad);
    zlistx_destroy (&parts);

    //  Staged bytes are bounded per relay: 4 parts of 2 fit in what 9
    //  entries cost, the fifth part is refused and drops the rest
    size_t entry_cost = 0;
    parts = s_test_split (test, 10, 2, 12);
    Certcast__Roster *first = (Certcast__Roster *) zlistx_first (parts);
    entry_cost = certcast__roster_entry__get_packed_size (first->entries [0])
               + CC_ROSTER_ENTRY_OVERHEAD;
    cc_roster_chunks_set_limits (chunks, 9 * entry_cost, 100 * entry_cost);
    s_test_feed (chunks, relay, session, parts, "SSSS", &set);
    assert (cc_roster_chunks_staged_bytes (chunks) == 8 * entry_cost);
    s_test_feed (chunks, relay, session, parts, "L", &set);
    assert (cc_roster_chunks_staged_bytes (chunks) == 0);
    assert (cc_roster_chunks_staged (chunks) == 0);
    zlistx_destroy (&parts);
    //  and in total: two relays may not stage more than the total together
    cc_roster_chunks_set_limits (chunks, 10 * entry_cost, 10 * entry_cost);
    parts = s_test_split (test, 10, 2, 13);
    second = s_test_split (test, 10, 2, 13);
    s_test_feed (chunks, relay, session, parts, "SSS", &set);
    s_test_feed (chunks, "relay-telecom", other_session, second, "SS", &set);
    assert (cc_roster_chunks_staged_bytes (chunks) == 10 * entry_cost);
    s_test_feed (chunks, "relay-telecom", other_session, second, "L", &set);
    assert (cc_roster_chunks_staged_bytes (chunks) == 6 * entry_cost);
    assert (cc_roster_chunks_staged (chunks) == 1);
    //  what was held frees room for the first relay to complete
    s_test_feed (chunks, relay, session, parts, "SC", &set);
    s_test_check_set (&set, 0, 10);
    assert (cc_roster_chunks_staged_bytes (chunks) == 0);
    zlistx_destroy (&second);
    zlistx_destroy (&parts);
    //  an expired staging gives its bytes back
    parts = s_test_split (test, 4, 2, 14);
    s_test_feed (chunks, relay, session, parts, "S", &set);
    assert (cc_roster_chunks_staged_bytes (chunks) == 2 * entry_cost);
    assert (cc_roster_chunks_expire (chunks, 0) == 1);
    assert (cc_roster_chunks_staged_bytes (chunks) == 0);
    zlistx_destroy (&parts);
    cc_roster_chunks_set_limits (chunks, CC_ROSTER_STAGE_BYTES,
                                 CC_ROSTER_STAGE_BYTES_TOTAL);

    //  Destroy frees whatever is still staged
    parts = s_test_split (test, 4, 2, 10);
    s_test_feed (chunks, relay, session, parts, "S", &set);
    zlistx_destroy (&parts);
    cc_roster_chunks_destroy (&chunks);
    assert (chunks == NULL);
    cc_roster_chunks_destroy (&chunks);
    zframe_destroy (&other_session);
    zframe_destroy (&session);
    free (test);
    printf ("OK\n");
}
