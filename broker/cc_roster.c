/*  cc_roster.c - who is expected to acknowledge: the constituents.

    cc_roster_t owns an in-memory copy of the allow directory: a list of
    cc_member_t (which it frees) and two indexes into that list, by Z85
    CURVE key and by hex Ed25519 key. The engine asks it on every control
    message, so it never touches the disk after a scan. A scan builds a
    complete new set and only then replaces the old one, so a lookup never
    sees half a directory.

    The stored side (CC_DB_ROSTER, CC_DB_SEEN) is for readers such as
    `certcast compliance`: encoded RosterEntry by sign key, and be64 last
    seen time by sign key.
*/

#include "cc_broker.h"
#include <dirent.h>
#include <sys/stat.h>

#define CC_ROSTER_FILE_MAX    (64 * 1024)   //  one NAME.pub file

struct _cc_roster_t {
    zlistx_t *members;          //  cc_member_t items, owned, in file order
    zhashx_t *by_curve;         //  Z85 curve key -> member (borrowed)
    zhashx_t *by_sign_key;      //  hex sign key -> member (borrowed)
};


static void
s_member_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static void
s_roster_clear (cc_roster_t *self)
{
    zhashx_destroy (&self->by_sign_key);
    zhashx_destroy (&self->by_curve);
    zlistx_destroy (&self->members);
}

static void
s_roster_init (cc_roster_t *self)
{
    self->members = zlistx_new ();
    assert (self->members);
    zlistx_set_destructor (self->members, s_member_destroy);
    self->by_curve = zhashx_new ();
    assert (self->by_curve);
    self->by_sign_key = zhashx_new ();
    assert (self->by_sign_key);
}


cc_roster_t *
cc_roster_new (void)
{
    cc_roster_t *self = (cc_roster_t *) zmalloc (sizeof (cc_roster_t));
    assert (self);
    s_roster_init (self);
    return self;
}


void
cc_roster_destroy (cc_roster_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_roster_t *self = *self_p;
        s_roster_clear (self);
        free (self);
        *self_p = NULL;
    }
}


//  Copy src into a fixed field, truncating at a character boundary (an
//  org name in Urdu cut mid-character would be invalid UTF-8 in every
//  report); NULL copies as "".
static void
s_copy (char *field, size_t field_size, const char *src)
{
    size_t length = src? strnlen (src, field_size - 1): 0;
    //  Cut before a UTF-8 continuation byte: back to the character's start.
    while (length && src [length] && ((unsigned char) src [length] & 0xc0) == 0x80)
        length--;
    if (length)
        memcpy (field, src, length);
    field [length] = '\0';
}


//  --------------------------------------------------------------------------
//  Load one NAME.pub into member. -1 (and one warning) if the file is not a
//  certificate or lacks a valid sign key: such a client is simply not
//  enrolled, it does not stop the broker.
//
//  We parse the certificate with zconfig ourselves instead of zcert_load:
//  czmq 4.2.1's zconfig_load leaks its zfile on every file that does not
//  parse, and a junk file in the allow directory would leak on each
//  rescan; zcert_load also prefers a NAME.pub_secret beside the file. The
//  format read is exactly what zcert_save_public writes.

static int
s_member_load (cc_member_t *member, const char *path)
{
    memset (member, 0, sizeof (*member));
    struct stat st;
    if (stat (path, &st) || st.st_size > CC_ROSTER_FILE_MAX) {
        zsys_warning ("roster: %s is unreadable or too large, skipped", path);
        return -1;
    }
    zchunk_t *chunk = zchunk_slurp (path, CC_ROSTER_FILE_MAX);
    zconfig_t *root = chunk? zconfig_chunk_load (chunk): NULL;
    zchunk_destroy (&chunk);
    const char *curve = root? zconfig_get (root, "/curve/public-key", NULL):
                              NULL;
    uint8_t curve_key [32];
    if (!curve || strlen (curve) != 40
    ||  !zmq_z85_decode (curve_key, curve)) {
        zsys_warning ("roster: %s is not a certificate, skipped", path);
        zconfig_destroy (&root);
        return -1;
    }
    const char *sign_hex = zconfig_get (root, "/metadata/sign-key", NULL);
    if (!sign_hex || strlen (sign_hex) != 64
    ||  cc_hex_decode (sign_hex, member->sign_key, 32) == -1) {
        zsys_warning ("roster: %s has no valid sign-key, skipped", path);
        zconfig_destroy (&root);
        return -1;
    }
    //  The canonical Z85 text, as zauth will report it in User-Id
    zmq_z85_encode (member->curve, curve_key, 32);
    const char *name = zconfig_get (root, "/metadata/name", NULL);
    if (!name || !*name) {
        //  Fall back to the file name without directory and ".pub"
        const char *slash = strrchr (path, '/');
        s_copy (member->name, sizeof (member->name), slash? slash + 1: path);
        size_t length = strlen (member->name);
        if (length >= 4 && streq (member->name + length - 4, ".pub"))
            member->name [length - 4] = '\0';
    }
    else
        s_copy (member->name, sizeof (member->name), name);
    const char *role = zconfig_get (root, "/metadata/role", NULL);
    s_copy (member->role, sizeof (member->role),
            role && *role? role: "agent");
    s_copy (member->org, sizeof (member->org),
            zconfig_get (root, "/metadata/org", NULL));
    s_copy (member->sector, sizeof (member->sector),
            zconfig_get (root, "/metadata/sector", NULL));
    s_copy (member->entity_class, sizeof (member->entity_class),
            zconfig_get (root, "/metadata/class", NULL));
    s_copy (member->contact, sizeof (member->contact),
            zconfig_get (root, "/metadata/contact", NULL));
    const char *cii = zconfig_get (root, "/metadata/cii", NULL);
    member->cii = cii && (streq (cii, "yes") || streq (cii, "true")
                          || streq (cii, "1"));
    zconfig_destroy (&root);
    return 0;
}


static int
s_name_compare (const void *item1, const void *item2)
{
    return strcmp ((const char *) item1, (const char *) item2);
}

static void
s_name_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}


//  --------------------------------------------------------------------------
//  (Re)read every regular *.pub file in dir, in name order so that which
//  of two files claiming the same key wins does not depend on readdir.
//  On an unreadable dir the old set stays and we return -1.

int
cc_roster_scan (cc_roster_t *self, const char *dir)
{
    assert (self);
    assert (dir);
    DIR *handle = opendir (dir);
    if (!handle) {
        zsys_warning ("roster: cannot read %s: %s", dir, strerror (errno));
        return -1;
    }
    zlistx_t *names = zlistx_new ();
    assert (names);
    zlistx_set_destructor (names, s_name_destroy);
    zlistx_set_comparator (names, s_name_compare);
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        size_t length = strlen (entry->d_name);
        if (entry->d_name [0] == '.' || length <= 4
        ||  !streq (entry->d_name + length - 4, ".pub"))
            continue;
        char *path = zsys_sprintf ("%s/%s", dir, entry->d_name);
        assert (path);
        struct stat st;
        if (stat (path, &st) == 0 && S_ISREG (st.st_mode))
            zlistx_add_end (names, path);
        else
            zstr_free (&path);
    }
    closedir (handle);
    zlistx_sort (names);

    cc_roster_t fresh;
    s_roster_init (&fresh);
    for (const char *path = (const char *) zlistx_first (names); path;
         path = (const char *) zlistx_next (names)) {
        cc_member_t *member = (cc_member_t *) zmalloc (sizeof (cc_member_t));
        assert (member);
        char sign_hex [65];
        if (s_member_load (member, path) == 0)
            cc_hex_encode (member->sign_key, 32, sign_hex);
        else {
            free (member);
            continue;
        }
        if (zhashx_lookup (fresh.by_curve, member->curve)
        ||  zhashx_lookup (fresh.by_sign_key, sign_hex)) {
            zsys_warning ("roster: %s repeats an enrolled key, skipped",
                          path);
            free (member);
            continue;
        }
        zlistx_add_end (fresh.members, member);
        zhashx_insert (fresh.by_curve, member->curve, member);
        zhashx_insert (fresh.by_sign_key, sign_hex, member);
    }
    zlistx_destroy (&names);

    s_roster_clear (self);
    self->members = fresh.members;
    self->by_curve = fresh.by_curve;
    self->by_sign_key = fresh.by_sign_key;
    return (int) zlistx_size (self->members);
}


const cc_member_t *
cc_roster_by_curve (cc_roster_t *self, const char *curve)
{
    assert (self);
    if (!curve)
        return NULL;
    return (const cc_member_t *) zhashx_lookup (self->by_curve, curve);
}


const cc_member_t *
cc_roster_by_sign_key (cc_roster_t *self, const uint8_t sign_key[32])
{
    assert (self);
    if (!sign_key)
        return NULL;
    char sign_hex [65];
    cc_hex_encode (sign_key, 32, sign_hex);
    return (const cc_member_t *) zhashx_lookup (self->by_sign_key, sign_hex);
}


size_t
cc_roster_size (cc_roster_t *self)
{
    assert (self);
    return zlistx_size (self->members);
}


const cc_member_t *
cc_roster_first (cc_roster_t *self)
{
    assert (self);
    return (const cc_member_t *) zlistx_first (self->members);
}


const cc_member_t *
cc_roster_next (cc_roster_t *self)
{
    assert (self);
    return (const cc_member_t *) zlistx_next (self->members);
}


//  --------------------------------------------------------------------------
//  The entry borrows member's strings; protobuf-c only reads them to pack.

void
cc_roster_entry_from (const cc_member_t *member, const char *via,
                      Certcast__RosterEntry *entry)
{
    assert (member);
    assert (entry);
    certcast__roster_entry__init (entry);
    entry->sign_key.data = (uint8_t *) member->sign_key;
    entry->sign_key.len = 32;
    entry->name = (char *) member->name;
    entry->role = (char *) member->role;
    entry->org = (char *) member->org;
    entry->sector = (char *) member->sector;
    entry->entity_class = (char *) member->entity_class;
    entry->cii = member->cii;
    entry->contact = (char *) member->contact;
    if (via)
        entry->via = (char *) via;
}


//  --------------------------------------------------------------------------
//  Store one entry by its sign key; a newer report replaces the older.

static void
s_enrolled_key (const uint8_t sign_key [32], char *key)
{
    memcpy (key, CC_META_ENROLLED, strlen (CC_META_ENROLLED));
    cc_hex_encode (sign_key, 32, key + strlen (CC_META_ENROLLED));
}

int
cc_roster_put (cc_store_t *store, MDB_txn *txn,
               const Certcast__RosterEntry *entry, int64_t now)
{
    assert (store);
    assert (txn);
    assert (entry);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_ROSTER);
    if (dbi == 0)
        return EACCES;
    if (entry->sign_key.len != 32 || !entry->sign_key.data)
        return EINVAL;
    size_t size = certcast__roster_entry__get_packed_size (entry);
    if (size > CC_ROSTER_ENTRY_MAX)
        return MDB_BAD_VALSIZE;
    MDB_val key = { 32, entry->sign_key.data };
    MDB_val value = { size, NULL };
    //  When it was first listed here, for good: an agent is not expected
    //  to acknowledge what was due before it was enrolled (certcast
    //  compliance), and neither a move between relays nor a removal and
    //  return makes that later. A key already listed without a stamp was
    //  listed before stamps were kept: when is not known, and it stays
    //  unstamped (expected for everything, as it was).
    char enrolled [sizeof CC_META_ENROLLED + 64];
    s_enrolled_key (entry->sign_key.data, enrolled);
    int rc = mdb_get (txn, dbi, &key, &value);
    if (rc == MDB_NOTFOUND && cc_meta_get_u64 (store, txn, enrolled) == 0)
        rc = cc_meta_put_u64 (store, txn, enrolled, (uint64_t) now);
    else
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc)
        return rc;
    value.mv_size = size;
    value.mv_data = NULL;
    rc = mdb_put (txn, dbi, &key, &value, MDB_RESERVE);
    if (rc)
        return rc;
    size_t packed = certcast__roster_entry__pack (entry,
                                                  (uint8_t *) value.mv_data);
    assert (packed == size);
    return 0;
}


typedef struct {
    cc_roster_entry_fn *fn;
    void *arg;
} s_each_t;

static void
s_visit_entry (const MDB_val *key, const MDB_val *value, void *arg)
{
    (void) key;
    s_each_t *each = (s_each_t *) arg;
    Certcast__RosterEntry *entry = (Certcast__RosterEntry *)
        cc_wire_unpack (&certcast__roster_entry__descriptor,
                        (const uint8_t *) value->mv_data, value->mv_size,
                        CC_ROSTER_ENTRY_MAX);
    if (!entry)
        return;                     //  relays' entries are checked on entry
    each->fn (entry, each->arg);
    certcast__roster_entry__free_unpacked (entry, NULL);
}

int
cc_roster_each (cc_store_t *store, MDB_txn *txn, cc_roster_entry_fn *fn,
                void *arg)
{
    assert (store);
    assert (txn);
    assert (fn);
    s_each_t each = { fn, arg };
    return cc_store_each (store, txn, CC_DB_ROSTER, s_visit_entry, &each);
}


int
cc_roster_stored_via (cc_store_t *store, MDB_txn *txn,
                      const uint8_t sign_key[32], char *via, size_t size)
{
    assert (store && txn && sign_key && via && size);
    via [0] = 0;
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_ROSTER);
    if (dbi == 0)
        return MDB_NOTFOUND;
    MDB_val key = { 32, (void *) sign_key };
    MDB_val value;
    int rc = mdb_get (txn, dbi, &key, &value);
    if (rc)
        return rc;
    Certcast__RosterEntry *entry = (Certcast__RosterEntry *)
        cc_wire_unpack (&certcast__roster_entry__descriptor,
                        (const uint8_t *) value.mv_data, value.mv_size,
                        CC_ROSTER_ENTRY_MAX);
    //  An entry we cannot read is nobody's: the new one replaces it.
    if (!entry)
        return MDB_NOTFOUND;
    snprintf (via, size, "%s", entry->via? entry->via: "");
    certcast__roster_entry__free_unpacked (entry, NULL);
    return 0;
}

static int
s_sign_key_compare (const void *one, const void *two)
{
    return memcmp (*(const uint8_t * const *) one,
                   *(const uint8_t * const *) two, 32);
}

int
cc_roster_drop_via (cc_store_t *store, MDB_txn *txn, const char *via,
                    Certcast__RosterEntry **keep, size_t count)
{
    assert (store && txn && via);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_ROSTER);
    if (dbi == 0)
        return EACCES;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    //  A relay's roster runs to tens of thousands: the keys to keep are
    //  sorted once, or every stored entry would scan all of them.
    const uint8_t **kept =
        (const uint8_t **) zmalloc ((count + 1) * sizeof (uint8_t *));
    size_t kept_count = 0;
    for (size_t index = 0; index < count; index++)
        if (keep [index]->sign_key.len == 32)
            kept [kept_count++] = keep [index]->sign_key.data;
    qsort (kept, kept_count, sizeof (uint8_t *), s_sign_key_compare);
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        Certcast__RosterEntry *entry = (Certcast__RosterEntry *)
            cc_wire_unpack (&certcast__roster_entry__descriptor,
                            (const uint8_t *) value.mv_data, value.mv_size,
                            CC_ROSTER_ENTRY_MAX);
        bool ours = entry && entry->via && streq (entry->via, via);
        if (entry)
            certcast__roster_entry__free_unpacked (entry, NULL);
        if (!ours || key.mv_size != 32)
            continue;
        const uint8_t *sign_key = (const uint8_t *) key.mv_data;
        bool is_kept = bsearch (&sign_key, kept, kept_count, sizeof (uint8_t *),
                                s_sign_key_compare) != NULL;
        if (!is_kept && (rc = mdb_cursor_del (cursor, 0)))
            break;
    }
    mdb_cursor_close (cursor);
    free (kept);
    return rc == MDB_NOTFOUND? 0: rc;
}


int64_t
cc_roster_enrolled (cc_store_t *store, MDB_txn *txn,
                    const uint8_t sign_key [32])
{
    assert (store);
    assert (txn);
    assert (sign_key);
    char enrolled [sizeof CC_META_ENROLLED + 64];
    s_enrolled_key (sign_key, enrolled);
    return (int64_t) cc_meta_get_u64 (store, txn, enrolled);
}


int
cc_roster_touch (cc_store_t *store, MDB_txn *txn,
                 const uint8_t sign_key[32], int64_t when)
{
    //  An agent acks many times a second in a burst: a put that changes
    //  nothing would still copy its page into the commit.
    if (cc_roster_seen (store, txn, sign_key) >= when)
        return 0;
    return cc_roster_set_seen (store, txn, sign_key, when);
}


int
cc_roster_set_seen (cc_store_t *store, MDB_txn *txn,
                    const uint8_t sign_key[32], int64_t when)
{
    assert (store);
    assert (txn);
    assert (sign_key);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_SEEN);
    if (dbi == 0)
        return EACCES;
    uint8_t bytes [8];
    cc_be64_put (bytes, (uint64_t) when);
    MDB_val key = { 32, (void *) sign_key };
    MDB_val value = { sizeof (bytes), bytes };
    return mdb_put (txn, dbi, &key, &value, 0);
}


int64_t
cc_roster_seen (cc_store_t *store, MDB_txn *txn, const uint8_t sign_key[32])
{
    assert (store);
    assert (txn);
    assert (sign_key);
    MDB_dbi dbi = cc_store_dbi (store, CC_DB_SEEN);
    if (dbi == 0)
        return 0;
    MDB_val key = { 32, (void *) sign_key };
    MDB_val value;
    if (mdb_get (txn, dbi, &key, &value) || value.mv_size != 8)
        return 0;
    return (int64_t) cc_be64_get ((const uint8_t *) value.mv_data);
}


//  --------------------------------------------------------------------------
//  Self test

//  Write DIR/NAME.pub as `certcast keygen` would; fills sign_key.
static char *
s_test_enrol (const char *dir, const char *name, const char *role,
              const char *cii, uint8_t sign_key[32])
{
    zcert_t *cert = zcert_new ();
    assert (cert);
    cc_sha256 ((const uint8_t *) name, strlen (name), sign_key);
    char sign_hex [65];
    cc_hex_encode (sign_key, 32, sign_hex);
    zcert_set_meta (cert, "sign-key", "%s", sign_hex);
    zcert_set_meta (cert, "name", "%s", name);
    if (role)
        zcert_set_meta (cert, "role", "%s", role);
    zcert_set_meta (cert, "org", "Org of %s", name);
    zcert_set_meta (cert, "sector", "banking");
    zcert_set_meta (cert, "class", "body corporate");
    if (cii)
        zcert_set_meta (cert, "cii", "%s", cii);
    zcert_set_meta (cert, "contact", "soc@%s.example", name);
    char *path = zsys_sprintf ("%s/%s.pub", dir, name);
    assert (zcert_save_public (cert, path) == 0);
    zstr_free (&path);
    char *curve = strdup (zcert_public_txt (cert));
    zcert_destroy (&cert);
    return curve;
}

typedef struct {
    cc_store_t *store;
    cc_roster_t *roster;
    const uint8_t *touch;
    int64_t now;                //  the roster is put at this time
} s_roster_test_t;

static int
s_roster_test_batch (MDB_txn *txn, void *arg)
{
    s_roster_test_t *test = (s_roster_test_t *) arg;
    for (const cc_member_t *member = cc_roster_first (test->roster);
         member; member = cc_roster_next (test->roster)) {
        Certcast__RosterEntry entry;
        cc_roster_entry_from (member, streq (member->name, "bank-b")?
                              "relay-banking": NULL, &entry);
        int rc = cc_roster_put (test->store, txn, &entry, test->now);
        if (rc)
            return rc;
    }
    //  Last seen only moves forward: an earlier time (a clock stepped
    //  back, or a second already written) leaves it.
    int rc = cc_roster_touch (test->store, txn, test->touch, 1700000000);
    if (rc == 0)
        rc = cc_roster_touch (test->store, txn, test->touch, 1699999999);
    return rc;
}

//  bank-a's enrolment stamp lost, as in a store of a release that kept
//  none, then the roster put again.
static int
s_roster_test_unstamp (MDB_txn *txn, void *arg)
{
    s_roster_test_t *test = (s_roster_test_t *) arg;
    char key [sizeof CC_META_ENROLLED + 64];
    s_enrolled_key (test->touch, key);
    MDB_val mkey = { strlen (key), key };
    int rc = mdb_del (txn, cc_store_dbi (test->store, CC_DB_META), &mkey,
                      NULL);
    return rc? rc: s_roster_test_batch (txn, arg);
}

static int
s_roster_test_touch_later (MDB_txn *txn, void *arg)
{
    s_roster_test_t *test = (s_roster_test_t *) arg;
    return cc_roster_touch (test->store, txn, test->touch, 1700000005);
}

//  A relay's new roster that no longer lists bank-b.
static int
s_roster_test_drop (MDB_txn *txn, void *arg)
{
    return cc_roster_drop_via ((cc_store_t *) arg, txn, "relay-banking",
                               NULL, 0);
}

//  A relay's new roster that lists bank-b among strangers: nothing goes.
static int
s_roster_test_keep (MDB_txn *txn, void *arg)
{
    s_roster_test_t *test = (s_roster_test_t *) arg;
    uint8_t keys [3][32];
    Certcast__RosterEntry entries [3];
    Certcast__RosterEntry *keep [3];
    for (int index = 0; index < 3; index++) {
        certcast__roster_entry__init (&entries [index]);
        memset (keys [index], index == 0? 0xff: 0x00, 32);
        if (index == 1)
            memcpy (keys [index], test->touch, 32);
        entries [index].sign_key.data = keys [index];
        entries [index].sign_key.len = 32;
        keep [index] = &entries [index];
    }
    return cc_roster_drop_via (test->store, txn, "relay-banking", keep, 3);
}

static void
s_roster_test_count (const Certcast__RosterEntry *entry, void *arg)
{
    assert (streq (entry->name, "bank-a"));
    (*(int *) arg)++;
}

static void
s_roster_test_entry (const Certcast__RosterEntry *entry, void *arg)
{
    int *count = (int *) arg;
    assert (entry->sign_key.len == 32);
    assert (streq (entry->sector, "banking"));
    if (streq (entry->name, "bank-a")) {
        assert (streq (entry->role, "agent"));
        assert (entry->cii);
        assert (streq (entry->via, ""));
    }
    else {
        assert (streq (entry->name, "bank-b"));
        assert (streq (entry->role, "relay"));
        assert (!entry->cii);
        assert (streq (entry->via, "relay-banking"));
        assert (streq (entry->contact, "soc@bank-b.example"));
    }
    (*count)++;
}

void
cc_roster_test (bool verbose)
{
    printf (" * cc_roster: ");
    if (verbose)
        printf ("\n");

    char base [] = "/tmp/cc_roster_test.XXXXXX";
    assert (mkdtemp (base));
    char *allow = zsys_sprintf ("%s/allow", base);
    assert (mkdir (allow, 0700) == 0);

    uint8_t key_a [32], key_b [32], key_c [32];
    char *curve_a = s_test_enrol (allow, "bank-a", NULL, "yes", key_a);
    char *curve_b = s_test_enrol (allow, "bank-b", "relay", "no", key_b);
    //  Junk: not a certificate, a certificate without sign-key, a file
    //  not ending in .pub, and a directory ending in .pub
    char *junk_path = zsys_sprintf ("%s/junk.pub", allow);
    FILE *junk = fopen (junk_path, "w");
    assert (junk);
    zstr_free (&junk_path);
    fprintf (junk, "\x01\x02 this is = not [a certificate\n");
    fclose (junk);
    zcert_t *bare = zcert_new ();
    char *bare_path = zsys_sprintf ("%s/nosign.pub", allow);
    assert (zcert_save_public (bare, bare_path) == 0);
    zcert_destroy (&bare);
    char *other_path = zsys_sprintf ("%s/bank-c.pubkey", allow);
    char *curve_c = s_test_enrol (allow, "bank-c", NULL, NULL, key_c);
    char *saved_c = zsys_sprintf ("%s/bank-c.pub", allow);
    assert (rename (saved_c, other_path) == 0);
    char *subdir = zsys_sprintf ("%s/sub.pub", allow);
    assert (mkdir (subdir, 0700) == 0);

    cc_roster_t *roster = cc_roster_new ();
    assert (roster);
    assert (cc_roster_size (roster) == 0);
    assert (cc_roster_first (roster) == NULL);
    assert (cc_roster_scan (roster, allow) == 2);
    assert (cc_roster_size (roster) == 2);

    const cc_member_t *member = cc_roster_by_curve (roster, curve_a);
    assert (member);
    assert (streq (member->name, "bank-a"));
    assert (streq (member->role, "agent"));
    assert (streq (member->org, "Org of bank-a"));
    assert (streq (member->entity_class, "body corporate"));
    assert (member->cii);
    assert (memcmp (member->sign_key, key_a, 32) == 0);
    assert (cc_roster_by_sign_key (roster, key_a) == member);
    member = cc_roster_by_sign_key (roster, key_b);
    assert (member);
    assert (streq (member->curve, curve_b));
    assert (streq (member->role, "relay"));
    assert (!member->cii);
    assert (cc_roster_by_curve (roster, curve_c) == NULL);
    assert (cc_roster_by_sign_key (roster, key_c) == NULL);
    assert (cc_roster_by_curve (roster, "not-a-key") == NULL);
    int count = 0;
    for (member = cc_roster_first (roster); member;
         member = cc_roster_next (roster))
        count++;
    assert (count == 2);

    //  Store the roster and a last-seen time; readable after reopen
    char *data = zsys_sprintf ("%s/data", base);
    cc_store_t *store = cc_store_new (data, 0);
    assert (store);
    s_roster_test_t test = { store, roster, key_a, 1600000000 };
    assert (cc_store_write (store, s_roster_test_batch, &test) == 0);
    //  Writing again replaces, never duplicates, and the first listing
    //  stays the enrolment
    test.now = 1600000100;
    assert (cc_store_write (store, s_roster_test_batch, &test) == 0);
    cc_store_destroy (&store);
    store = cc_store_new (data, CC_STORE_READONLY);
    assert (store);
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    count = 0;
    assert (cc_roster_each (store, txn, s_roster_test_entry, &count) == 0);
    assert (count == 2);
    assert (cc_roster_seen (store, txn, key_a) == 1700000000);
    assert (cc_roster_seen (store, txn, key_b) == 0);
    assert (cc_roster_enrolled (store, txn, key_a) == 1600000000);
    assert (cc_roster_enrolled (store, txn, key_b) == 1600000000);
    assert (cc_roster_enrolled (store, txn, key_c) == 0);
    char via [64];
    assert (cc_roster_stored_via (store, txn, key_b, via, sizeof via) == 0);
    assert (streq (via, "relay-banking"));
    assert (cc_roster_stored_via (store, txn, key_a, via, sizeof via) == 0);
    assert (streq (via, ""));
    assert (cc_roster_stored_via (store, txn, key_c, via, sizeof via)
            == MDB_NOTFOUND);
    mdb_txn_abort (txn);
    cc_store_destroy (&store);
    store = cc_store_new (data, 0);
    assert (store);
    test.store = store;
    assert (cc_store_write (store, s_roster_test_touch_later, &test) == 0);
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_roster_seen (store, txn, key_a) == 1700000005);
    mdb_txn_abort (txn);
    cc_store_destroy (&store);

    //  A roster replaced whole keeps what that relay still reports
    store = cc_store_new (data, 0);
    assert (store);
    s_roster_test_t keeper = { store, roster, key_b, 0 };
    assert (cc_store_write (store, s_roster_test_keep, &keeper) == 0);
    assert (cc_store_read (store, &txn) == 0);
    count = 0;
    assert (cc_roster_each (store, txn, s_roster_test_entry, &count) == 0);
    assert (count == 2);
    mdb_txn_abort (txn);

    //  and drops what it no longer reports, and nothing reported by
    //  anyone else
    assert (cc_store_write (store, s_roster_test_drop, store) == 0);
    assert (cc_store_read (store, &txn) == 0);
    count = 0;
    assert (cc_roster_each (store, txn, s_roster_test_count, &count) == 0);
    assert (count == 1);
    mdb_txn_abort (txn);

    //  bank-b back (or moved to another relay): enrolled when first listed;
    //  a key listed before stamps were kept gets none
    test.store = store;
    test.now = 1600000200;
    assert (cc_store_write (store, s_roster_test_batch, &test) == 0);
    test.now = 1600000300;
    assert (cc_store_write (store, s_roster_test_unstamp, &test) == 0);
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_roster_enrolled (store, txn, key_b) == 1600000000);
    assert (cc_roster_enrolled (store, txn, key_a) == 0);
    mdb_txn_abort (txn);
    cc_store_destroy (&store);

    //  Rescan replaces the whole set: remove bank-a, enrol bank-c
    char *path_a = zsys_sprintf ("%s/bank-a.pub", allow);
    assert (zsys_file_delete (path_a) == 0);
    zstr_free (&path_a);
    assert (rename (other_path, saved_c) == 0);
    assert (cc_roster_scan (roster, allow) == 2);
    assert (cc_roster_by_curve (roster, curve_a) == NULL);
    assert (cc_roster_by_sign_key (roster, key_a) == NULL);
    assert (cc_roster_by_curve (roster, curve_c));
    assert (cc_roster_by_sign_key (roster, key_b));

    //  An unreadable directory keeps the current set
    assert (cc_roster_scan (roster, "/nonexistent/certcast/allow") == -1);
    assert (cc_roster_size (roster) == 2);
    cc_roster_destroy (&roster);
    assert (roster == NULL);
    cc_roster_destroy (&roster);

    zstr_free (&data);
    zstr_free (&subdir);
    zstr_free (&saved_c);
    zstr_free (&other_path);
    zstr_free (&bare_path);
    free (curve_a);
    free (curve_b);
    free (curve_c);
    zstr_free (&allow);
    zdir_t *tree = zdir_new (base, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    assert (!zsys_file_exists (base));
    printf ("OK\n");
}
