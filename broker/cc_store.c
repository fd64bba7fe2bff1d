/*  cc_store.c - one LMDB environment per daemon, shared by every program.

    cc_store_t owns the MDB_env and the handles of the named databases; it
    is opened once per process and destroyed last. Nothing here keeps a
    transaction open between calls: readers begin and abort their own
    (cc_store_read), writers go through cc_store_write.

    Durability: we never set MDB_NOSYNC, MDB_NOMETASYNC or MDB_MAPASYNC, so
    mdb_txn_commit returns only after the data and the meta page are on
    disk. Every "stored" / "acked" / "forwarded" the daemons say is said
    after such a commit; that is the whole point of this module.

    A read-only store (the CLI's ledger and compliance commands) may meet
    an environment created by an older daemon that lacks some database.
    Its handle is then left at 0 - LMDB's free-page database, which user
    operations refuse with EINVAL - and the helpers of the storage modules
    treat such a database as empty instead of failing.
*/

#include "cc_broker.h"
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

//  2: ledger rows of 64 bytes, new evidence in evidence_log (cc_ledger.c).
//  A writer stamps an older store with it as it opens it: rows of either
//  size are read. A store stamped newer than this is refused (writers of
//  schema 1 refused it too; their readers did not check).
#define CC_STORE_SCHEMA       2
#define CC_STORE_ENEWER       (-1)    //  s_open_dbis: a newer schema
#define CC_STORE_MAPSIZE      ((size_t) 64 * 1024 * 1024)
#define CC_STORE_MAXREADERS   126
#define CC_STORE_MAX_GROWTHS  8

struct _cc_store_t {
    MDB_env *env;               //  the environment; owned
    MDB_dbi dbi [CC_DB_COUNT];  //  named database handles; 0 when missing
    char *dir;                  //  data directory, for messages
    bool readonly;              //  opened with CC_STORE_READONLY
    int growths;                //  map doublings in this process
};

//  Database names, in cc_db_t order. Names are part of the on-disk format.
static const char *s_db_names [CC_DB_COUNT] = {
    "meta", "log", "heads", "advisories", "acks", "evidence", "ackq",
    "roster", "seen", "inbox", "cursors", "outbox", "handoff", "evidence_log"
};


//  --------------------------------------------------------------------------
//  Create dir and any missing parents with mode 0700: the data directory
//  holds the ledger evidence, which is nobody else's business.

static int
s_mkdir_p (const char *dir)
{
    char *path = strdup (dir);
    assert (path);
    int rc = 0;
    for (char *slash = strchr (path + 1, '/'); slash;
         slash = strchr (slash + 1, '/')) {
        *slash = '\0';
        if (mkdir (path, 0700) == -1 && errno != EEXIST) {
            rc = -1;
            break;
        }
        *slash = '/';
    }
    if (rc == 0 && mkdir (path, 0700) == -1 && errno != EEXIST)
        rc = -1;
    free (path);
    return rc;
}


//  --------------------------------------------------------------------------
//  Open every named database. A writer creates the missing ones and stamps
//  a new environment with the schema version, all in one transaction, so a
//  half-created environment is never seen. A reader opens what exists.

static int
s_open_dbis (cc_store_t *self)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL,
                            self->readonly? MDB_RDONLY: 0, &txn);
    if (rc)
        return rc;
    for (int db = 0; db < CC_DB_COUNT; db++) {
        rc = mdb_dbi_open (txn, s_db_names [db],
                           self->readonly? 0: MDB_CREATE, &self->dbi [db]);
        if (rc == MDB_NOTFOUND && self->readonly) {
            self->dbi [db] = 0;
            rc = 0;
        }
        if (rc)
            break;
    }
    //  Readers refuse a newer schema too: they would misread what they do
    //  not know (a schema 1 reader skips schema 2's longer ledger rows)
    uint64_t schema = rc == 0? cc_meta_get_u64 (self, txn, "schema"): 0;
    if (rc == 0 && schema > CC_STORE_SCHEMA) {
        rc = CC_STORE_ENEWER;
    }
    if (rc == 0 && !self->readonly && schema < CC_STORE_SCHEMA)
        rc = cc_meta_put_u64 (self, txn, "schema", CC_STORE_SCHEMA);
    if (rc) {
        mdb_txn_abort (txn);
        return rc;
    }
    //  Committing a read-only transaction keeps its dbi handles open
    return mdb_txn_commit (txn);
}


//  --------------------------------------------------------------------------
//  Open or create DIR (mode 0700) and its environment.

cc_store_t *
cc_store_new (const char *dir, int flags)
{
    return cc_store_open (dir, flags, 0);
}

cc_store_t *
cc_store_open (const char *dir, int flags, size_t initial_mapsize)
{
    char why [256];
    cc_store_t *self = cc_store_open_quiet (dir, flags, initial_mapsize, why,
                                            sizeof why);
    if (!self)
        zsys_error ("store %s: %s", dir, why);
    return self;
}

cc_store_t *
cc_store_open_quiet (const char *dir, int flags, size_t initial_mapsize,
                     char *why, size_t size)
{
    assert (dir && why && size);
    size_t mapsize = initial_mapsize? initial_mapsize: CC_STORE_MAPSIZE;
    cc_store_t *self = (cc_store_t *) zmalloc (sizeof (cc_store_t));
    assert (self);
    self->dir = strdup (dir);
    assert (self->dir);
    self->readonly = (flags & CC_STORE_READONLY) != 0;

    if (!self->readonly && s_mkdir_p (dir) == -1) {
        snprintf (why, size, "cannot create directory: %s", strerror (errno));
        cc_store_destroy (&self);
        return NULL;
    }
    int rc = mdb_env_create (&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (self->env, CC_DB_COUNT + 2);
    if (rc == 0)
        rc = mdb_env_set_maxreaders (self->env, CC_STORE_MAXREADERS);
    if (rc == 0)
        rc = mdb_env_open (self->env, dir,
                           self->readonly? MDB_RDONLY: 0, 0600);
    if (rc == 0) {
        //  A dead reader's slot pins old pages forever; clear them first
        int dead = 0;
        mdb_reader_check (self->env, &dead);
        if (dead)
            zsys_notice ("store %s: cleared %d stale reader slot(s)",
                         dir, dead);
    }
    //  LMDB adopts the size recorded in an existing file when no size was
    //  set before open; we only raise a smaller (or brand new) map to our
    //  initial size, never shrink one that an earlier run grew.
    if (rc == 0 && !self->readonly) {
        MDB_envinfo info;
        mdb_env_info (self->env, &info);
        if (info.me_mapsize < mapsize)
            rc = mdb_env_set_mapsize (self->env, mapsize);
    }
    if (rc == 0)
        rc = s_open_dbis (self);
    if (rc == CC_STORE_ENEWER)
        snprintf (why, size, "written by a newer certcast (this one knows "
                  "schemas up to %d): not opened", CC_STORE_SCHEMA);
    else
    if (rc)
        snprintf (why, size, "%s", mdb_strerror (rc));
    if (rc) {
        cc_store_destroy (&self);
        return NULL;
    }
    return self;
}


//  --------------------------------------------------------------------------
//  Close the environment. Any transaction must have ended before this.

void
cc_store_destroy (cc_store_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_store_t *self = *self_p;
        if (self->env)
            mdb_env_close (self->env);
        free (self->dir);
        free (self);
        *self_p = NULL;
    }
}


MDB_env *
cc_store_env (cc_store_t *self)
{
    assert (self);
    return self->env;
}


//  Handle of a named database; 0 if a read-only store lacks it.

MDB_dbi
cc_store_dbi (cc_store_t *self, cc_db_t db)
{
    assert (self);
    assert (db >= 0 && db < CC_DB_COUNT);
    return self->dbi [db];
}

int
cc_store_each (cc_store_t *self, MDB_txn *txn, cc_db_t db,
               cc_store_visit_fn *visit, void *arg)
{
    assert (self && txn && visit);
    MDB_dbi dbi = cc_store_dbi (self, db);
    if (dbi == 0)
        return 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT))
        visit (&key, &value, arg);
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}


//  --------------------------------------------------------------------------
//  Double the map. mdb_env_set_mapsize remaps the file, so it is legal only
//  while this process has no transaction open on the environment - not
//  even a read transaction in another thread, whose MDB_val pointers would
//  then point into the old mapping. The daemons are single-threaded actors
//  and call this only from cc_store_write after aborting its transaction;
//  callers must not hold a read transaction across cc_store_write.

static int
s_grow (cc_store_t *self)
{
    MDB_envinfo info;
    mdb_env_info (self->env, &info);
    size_t new_size = info.me_mapsize * 2;
    int rc = mdb_env_set_mapsize (self->env, new_size);
    if (rc == 0) {
        self->growths++;
        zsys_notice ("store %s: map full, grown to %zu MiB",
                     self->dir, new_size / (1024 * 1024));
    }
    return rc;
}


//  --------------------------------------------------------------------------
//  Run batch in one durable write transaction, growing the map if needed.

int
cc_store_write (cc_store_t *self, cc_store_batch_fn *batch, void *arg)
{
    assert (self);
    assert (batch);
    if (self->readonly)
        return EACCES;

    for (int attempt = 0; ; attempt++) {
        MDB_txn *txn;
        int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED) {
            //  Another writer process grew the map: adopt its size
            rc = mdb_env_set_mapsize (self->env, 0);
            if (rc == 0 && attempt < CC_STORE_MAX_GROWTHS)
                continue;
            return rc? rc: MDB_MAP_RESIZED;     //  no txn was begun
        }
        if (rc)
            return rc;
        rc = batch (txn, arg);
        if (rc == 0)
            rc = mdb_txn_commit (txn);      //  frees txn, success or not
        else
            mdb_txn_abort (txn);
        if (rc != MDB_MAP_FULL)
            return rc;
        //  Nothing of this attempt is stored; grow and run the batch again
        if (attempt >= CC_STORE_MAX_GROWTHS)
            return rc;
        int grow_rc = s_grow (self);
        if (grow_rc)
            return grow_rc;
    }
}


//  --------------------------------------------------------------------------
//  Begin a read-only transaction. A map grown by the writer process shows
//  up here as MDB_MAP_RESIZED; we adopt the new size and try again.

int
cc_store_read (cc_store_t *self, MDB_txn **txn_p)
{
    assert (self);
    assert (txn_p);
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, txn_p);
    if (rc == MDB_MAP_RESIZED) {
        rc = mdb_env_set_mapsize (self->env, 0);
        if (rc == 0)
            rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, txn_p);
    }
    if (rc)
        *txn_p = NULL;
    return rc;
}


int
cc_store_check_readers (cc_store_t *self)
{
    assert (self);
    int dead = 0;
    if (mdb_reader_check (self->env, &dead))
        return 0;
    return dead;
}


size_t
cc_store_mapsize (cc_store_t *self)
{
    assert (self);
    MDB_envinfo info;
    mdb_env_info (self->env, &info);
    return info.me_mapsize;
}


int
cc_store_growths (cc_store_t *self)
{
    assert (self);
    return self->growths;
}


//  The address range of the LMDB map: LMDB does not say where it mapped
//  the data file (mdb_env_info's me_mapaddr is only set for a fixed map),
//  so find the mapping of that file in /proc/self/maps. False if none.
static bool
s_map_range (cc_store_t *self, void **start, size_t *size)
{
    int fd;
    struct stat info;
    if (mdb_env_get_fd (self->env, &fd) || fstat (fd, &info))
        return false;
    FILE *maps = fopen ("/proc/self/maps", "r");
    if (!maps)
        return false;
    bool found = false;
    char line [512];
    while (!found && fgets (line, sizeof line, maps)) {
        unsigned long low, high, inode;
        unsigned int major, minor;
        if (sscanf (line, "%lx-%lx %*s %*s %x:%x %lu", &low, &high, &major,
                    &minor, &inode) == 5
        &&  inode == (unsigned long) info.st_ino
        &&  major == major (info.st_dev) && minor == minor (info.st_dev)) {
            *start = (void *) low;
            *size = high - low;
            found = true;
        }
    }
    fclose (maps);
    return found;
}

//  The map is a read-only shared mapping of the data file (no
//  MDB_WRITEMAP), so dropping its page-table entries changes no data: a
//  later read faults the same page back in from the page cache.
int
cc_store_drop_map_pages (cc_store_t *self)
{
    assert (self);
    void *start;
    size_t size;
    if (!s_map_range (self, &start, &size))
        return -1;
    return madvise (start, size, MADV_DONTNEED) == 0? 0: -1;
}

//  --------------------------------------------------------------------------
//  Big-endian keys sort numerically under LMDB's default memcmp order.

void
cc_be64_put (uint8_t *out, uint64_t value)
{
    for (int index = 7; index >= 0; index--) {
        out [index] = (uint8_t) (value & 0xff);
        value >>= 8;
    }
}

uint64_t
cc_be64_get (const uint8_t *in)
{
    uint64_t value = 0;
    for (int index = 0; index < 8; index++)
        value = (value << 8) | in [index];
    return value;
}

void
cc_be32_put (uint8_t *out, uint32_t value)
{
    out [0] = (uint8_t) (value >> 24);
    out [1] = (uint8_t) (value >> 16);
    out [2] = (uint8_t) (value >> 8);
    out [3] = (uint8_t) value;
}

uint32_t
cc_be32_get (const uint8_t *in)
{
    return ((uint32_t) in [0] << 24) | ((uint32_t) in [1] << 16)
         | ((uint32_t) in [2] << 8) | (uint32_t) in [3];
}


//  --------------------------------------------------------------------------
//  Meta integers. A missing key, a missing meta database, or a value of
//  the wrong size all read as 0.

uint64_t
cc_meta_get_u64 (cc_store_t *self, MDB_txn *txn, const char *key)
{
    assert (self);
    assert (txn);
    assert (key);
    MDB_dbi dbi = self->dbi [CC_DB_META];
    if (dbi == 0)
        return 0;
    MDB_val mkey = { strlen (key), (void *) key };
    MDB_val value;
    if (mdb_get (txn, dbi, &mkey, &value) || value.mv_size != 8)
        return 0;
    return cc_be64_get ((const uint8_t *) value.mv_data);
}

int
cc_meta_put_u64 (cc_store_t *self, MDB_txn *txn, const char *key,
                 uint64_t value)
{
    assert (self);
    assert (txn);
    assert (key);
    MDB_dbi dbi = self->dbi [CC_DB_META];
    if (dbi == 0)
        return EACCES;
    uint8_t bytes [8];
    cc_be64_put (bytes, value);
    MDB_val mkey = { strlen (key), (void *) key };
    MDB_val mvalue = { sizeof (bytes), bytes };
    return mdb_put (txn, dbi, &mkey, &mvalue, 0);
}


void
cc_meta_get_str (cc_store_t *self, MDB_txn *txn, const char *key,
                 char *out, size_t size)
{
    assert (self && txn && key && out && size);
    out [0] = 0;
    MDB_dbi dbi = self->dbi [CC_DB_META];
    MDB_val mkey = { strlen (key), (void *) key };
    MDB_val value;
    if (dbi == 0 || mdb_get (txn, dbi, &mkey, &value))
        return;
    size_t length = value.mv_size < size - 1? value.mv_size: size - 1;
    memcpy (out, value.mv_data, length);
    out [length] = 0;
}

int
cc_meta_put_str (cc_store_t *self, MDB_txn *txn, const char *key,
                 const char *value)
{
    assert (self && txn && key && value);
    MDB_dbi dbi = self->dbi [CC_DB_META];
    if (dbi == 0)
        return EACCES;
    MDB_val mkey = { strlen (key), (void *) key };
    MDB_val mvalue = { strlen (value), (void *) value };
    return mdb_put (txn, dbi, &mkey, &mvalue, 0);
}


//  --------------------------------------------------------------------------
//  Self test

typedef struct {
    cc_store_t *store;
    uint32_t first;             //  first record number to write
    uint32_t count;             //  records in this batch
    size_t size;                //  bytes per record
    bool fail;                  //  return an error after writing
} s_test_batch_t;

static int
s_test_batch (MDB_txn *txn, void *arg)
{
    s_test_batch_t *batch = (s_test_batch_t *) arg;
    MDB_dbi dbi = cc_store_dbi (batch->store, CC_DB_LOG);
    for (uint32_t index = 0; index < batch->count; index++) {
        uint8_t key [4];
        cc_be32_put (key, batch->first + index);
        MDB_val mkey = { sizeof (key), key };
        MDB_val value = { batch->size, NULL };
        int rc = mdb_put (txn, dbi, &mkey, &value, MDB_RESERVE);
        if (rc)
            return rc;
        memset (value.mv_data, (int) ((batch->first + index) & 0xff),
                batch->size);
    }
    int rc = cc_meta_put_u64 (batch->store, txn, "test.last",
                              batch->first + batch->count - 1);
    if (rc)
        return rc;
    return batch->fail? -1: 0;
}

typedef struct {
    cc_store_t *store;
    uint64_t schema;
} s_test_stamp_t;

static int
s_test_stamp_batch (MDB_txn *txn, void *arg)
{
    s_test_stamp_t *stamp = (s_test_stamp_t *) arg;
    return cc_meta_put_u64 (stamp->store, txn, "schema", stamp->schema);
}

//  Stamps the store's schema as another version would have
static void
s_test_stamp (cc_store_t *store, uint64_t schema)
{
    s_test_stamp_t stamp = { store, schema };
    assert (cc_store_write (store, s_test_stamp_batch, &stamp) == 0);
}

//  Every record in [first, first+count) present with its fill byte
static bool
s_test_records_ok (cc_store_t *store, uint32_t first, uint32_t count,
                   size_t size)
{
    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    bool ok = true;
    for (uint32_t index = first; ok && index < first + count; index++) {
        uint8_t key [4];
        cc_be32_put (key, index);
        MDB_val mkey = { sizeof (key), key };
        MDB_val value;
        if (mdb_get (txn, cc_store_dbi (store, CC_DB_LOG), &mkey, &value)
        ||  value.mv_size != size)
            ok = false;
        else {
            const uint8_t *bytes = (const uint8_t *) value.mv_data;
            if (bytes [0] != (index & 0xff) || bytes [size - 1] != (index & 0xff))
                ok = false;
        }
    }
    mdb_txn_abort (txn);
    return ok;
}

void
cc_store_test (bool verbose)
{
    printf (" * cc_store: ");
    if (verbose)
        printf ("\n");

    //  Byte helpers
    uint8_t bytes [8];
    cc_be64_put (bytes, 0x0102030405060708ULL);
    assert (bytes [0] == 1 && bytes [7] == 8);
    assert (cc_be64_get (bytes) == 0x0102030405060708ULL);
    cc_be32_put (bytes, 0xa1b2c3d4);
    assert (bytes [0] == 0xa1 && bytes [3] == 0xd4);
    assert (cc_be32_get (bytes) == 0xa1b2c3d4);

    char base [] = "/tmp/cc_store_test.XXXXXX";
    assert (mkdtemp (base));
    char *dir = zsys_sprintf ("%s/data/sub", base);

    //  A read-only open of a directory that does not exist fails cleanly
    assert (cc_store_new (dir, CC_STORE_READONLY) == NULL);

    //  Create: directory made 0700, schema stamped, every db present
    cc_store_t *store = cc_store_new (dir, 0);
    assert (store);
    struct stat st;
    assert (stat (dir, &st) == 0);
    assert ((st.st_mode & 0777) == 0700);
    assert (cc_store_mapsize (store) >= CC_STORE_MAPSIZE);
    assert (cc_store_growths (store) == 0);
    for (int db = 0; db < CC_DB_COUNT; db++)
        assert (cc_store_dbi (store, (cc_db_t) db) != 0);
    assert (cc_store_env (store));
    assert (cc_store_check_readers (store) == 0);

    MDB_txn *txn;
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_meta_get_u64 (store, txn, "schema") == CC_STORE_SCHEMA);
    assert (cc_meta_get_u64 (store, txn, "no-such-key") == 0);
    mdb_txn_abort (txn);

    //  A batch that fails leaves nothing behind
    s_test_batch_t batch = { store, 1, 3, 100, true };
    assert (cc_store_write (store, s_test_batch, &batch) == -1);
    assert (!s_test_records_ok (store, 1, 1, 100));
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_meta_get_u64 (store, txn, "test.last") == 0);
    mdb_txn_abort (txn);

    //  A good batch is there after close and reopen
    batch.fail = false;
    assert (cc_store_write (store, s_test_batch, &batch) == 0);
    cc_store_destroy (&store);
    assert (store == NULL);
    cc_store_destroy (&store);          //  safe twice

    store = cc_store_new (dir, 0);
    assert (store);
    assert (s_test_records_ok (store, 1, 3, 100));
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_meta_get_u64 (store, txn, "test.last") == 3);
    assert (cc_meta_get_u64 (store, txn, "schema") == CC_STORE_SCHEMA);
    mdb_txn_abort (txn);

    //  A store of an older schema is stamped with ours when a writer
    //  opens it; writers and readers refuse one of a newer schema
    s_test_stamp (store, 1);
    cc_store_destroy (&store);
    store = cc_store_new (dir, 0);
    assert (store);
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_meta_get_u64 (store, txn, "schema") == CC_STORE_SCHEMA);
    mdb_txn_abort (txn);
    char *newer = zsys_sprintf ("%s/newer", base);
    cc_store_t *future = cc_store_new (newer, 0);
    assert (future);
    s_test_stamp (future, CC_STORE_SCHEMA + 1);
    cc_store_destroy (&future);
    assert (cc_store_new (newer, 0) == NULL);
    assert (cc_store_new (newer, CC_STORE_READONLY) == NULL);
    zstr_free (&newer);

    //  Map growth: 80 x 1 MiB in batches of 8 overflows the 64 MiB map
    size_t mib = 1024 * 1024;
    for (uint32_t first = 100; first < 180; first += 8) {
        s_test_batch_t big = { store, first, 8, mib, false };
        assert (cc_store_write (store, s_test_batch, &big) == 0);
    }
    assert (cc_store_growths (store) > 0);
    size_t grown = cc_store_mapsize (store);
    assert (grown > CC_STORE_MAPSIZE);
    assert (s_test_records_ok (store, 100, 80, mib));
    assert (s_test_records_ok (store, 1, 3, 100));
    if (verbose)
        printf ("   grew %d time(s) to %zu MiB\n",
                cc_store_growths (store), grown / mib);

    //  Dropping the map's resident pages loses nothing: reads fault the
    //  same data back in.
    assert (cc_store_drop_map_pages (store) == 0);
    assert (s_test_records_ok (store, 100, 80, mib));
    assert (s_test_records_ok (store, 1, 3, 100));

    //  A reader in another process (the CLI) sees every commit while the
    //  writer stays open. The child opens its own environment and leaves
    //  with _exit, never touching the parent's.
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0) {
        cc_store_t *reader = cc_store_new (dir, CC_STORE_READONLY);
        bool ok = reader && s_test_records_ok (reader, 100, 80, mib);
        cc_store_destroy (&reader);
        _exit (ok? 0: 1);
    }
    int status;
    assert (waitpid (pid, &status, 0) == pid);
    assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    cc_store_destroy (&store);

    //  Reopening keeps the grown map instead of shrinking to 64 MiB
    store = cc_store_new (dir, 0);
    assert (store);
    assert (cc_store_mapsize (store) >= grown);
    assert (cc_store_growths (store) == 0);
    cc_store_destroy (&store);

    //  Read-only open, once the writer is closed (LMDB forbids opening one
    //  environment twice in a process); writes are refused
    store = cc_store_new (dir, CC_STORE_READONLY);
    assert (store);
    assert (s_test_records_ok (store, 100, 80, mib));
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_meta_get_u64 (store, txn, "test.last") == 179);
    mdb_txn_abort (txn);
    assert (cc_store_write (store, s_test_batch, &batch) != 0);
    cc_store_destroy (&store);

    //  Read-only open of an environment lacking our databases: they read
    //  as missing (dbi 0), and meta reads as empty
    char *bare = zsys_sprintf ("%s/bare", base);
    assert (mkdir (bare, 0700) == 0);
    MDB_env *env;
    assert (mdb_env_create (&env) == 0);
    assert (mdb_env_open (env, bare, 0, 0600) == 0);
    assert (mdb_txn_begin (env, NULL, 0, &txn) == 0);
    assert (mdb_txn_commit (txn) == 0);
    mdb_env_close (env);
    store = cc_store_new (bare, CC_STORE_READONLY);
    assert (store);
    assert (cc_store_dbi (store, CC_DB_META) == 0);
    assert (cc_store_read (store, &txn) == 0);
    assert (cc_meta_get_u64 (store, txn, "schema") == 0);
    mdb_txn_abort (txn);
    cc_store_destroy (&store);

    zdir_t *tree = zdir_new (base, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    zstr_free (&bare);
    zstr_free (&dir);
    assert (zsys_file_exists (base) == false);
    printf ("OK\n");
}
