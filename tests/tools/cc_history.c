/*  cc_history.c - the history checker of the fault tests.

    After a run with crashes, partitions or drops, it compares three
    records of what happened:
      - what publishers were told "stored" (--stored FILE, one line per
        advisory: "ID REVISION SECTOR[,SECTOR..]|all"),
      - what each agent committed to its inbox (--agent NAME:SECTOR:DATA
        :KEY.pub, read from the agent's LMDB environment),
      - what the national ledger holds (--ledger DATA).
    It fails (exit 1) on anything lost (stored, in an agent's sector, but
    not in its inbox, or not acknowledged in the ledger), anything
    unexpected (in an inbox or the ledger but never stored, or delivered
    outside the agent's sector) and any duplicate ledger row. It prints
    every problem, then one summary line.
*/
#include "../../agents/cc_agents.h"

typedef struct {
    char id [128];
    uint32_t revision;
    char sectors [256];             //  ",a,b," or ",all,"
    bool seen;                      //  by the current agent
} stored_t;

typedef struct {
    char name [64];
    char sector [64];
    char data [512];
    uint8_t sign_key [32];
} agent_t;

static zhashx_t *s_stored;          //  "id\x1frev" -> stored_t
static size_t s_problems;

static void
s_problem (const char *kind, const char *detail)
{
    printf ("%s %s\n", kind, detail);
    s_problems++;
}

static char *
s_key (const char *id, uint32_t revision)
{
    return zsys_sprintf ("%s\x1f%u", id, revision);
}

static bool
s_in_scope (const stored_t *stored, const char *sector)
{
    char needle [80];
    snprintf (needle, sizeof needle, ",%s,", sector);
    return strstr (stored->sectors, ",all,") || strstr (stored->sectors, needle);
}

static int
s_load_stored (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "cc_history: cannot read %s\n", path);
        return -1;
    }
    char line [512];
    while (fgets (line, sizeof line, file)) {
        stored_t *stored = (stored_t *) zmalloc (sizeof (stored_t));
        char sectors [200];
        if (sscanf (line, "%127s %u %199s", stored->id, &stored->revision,
                    sectors) != 3) {
            free (stored);
            continue;
        }
        snprintf (stored->sectors, sizeof stored->sectors, ",%s,", sectors);
        char *key = s_key (stored->id, stored->revision);
        if (zhashx_lookup (s_stored, key))
            free (stored);      //  a publisher may report a retry twice
        else
            zhashx_insert (s_stored, key, stored);
        free (key);
    }
    fclose (file);
    return 0;
}

//  Every inbox record must have been stored and be in the agent's sector;
//  every stored advisory of its sector must be in its inbox.
static size_t
s_check_agent (agent_t *agent)
{
    for (stored_t *stored = (stored_t *) zhashx_first (s_stored); stored;
         stored = (stored_t *) zhashx_next (s_stored))
        stored->seen = false;
    cc_store_t *store = cc_store_new (agent->data, CC_STORE_READONLY);
    if (!store) {
        s_problem ("LOST", agent->name);
        return 0;
    }
    MDB_txn *txn = NULL;
    size_t records = 0;
    if (cc_store_read (store, &txn) == 0) {
        MDB_cursor *cursor = NULL;
        MDB_dbi dbi = cc_store_dbi (store, CC_DB_INBOX);
        if (dbi && mdb_cursor_open (txn, dbi, &cursor) == 0) {
            MDB_val key, value;
            int rc;
            for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST);
                 rc == 0; rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
                cc_inbox_record_t record;
                if (cc_inbox_get_key (store, txn, (const uint8_t *) key.mv_data,
                                      key.mv_size, &record))
                    continue;
                records++;
                char *lookup = s_key (record.id, record.revision);
                stored_t *stored = (stored_t *) zhashx_lookup (s_stored, lookup);
                free (lookup);
                char detail [400];
                snprintf (detail, sizeof detail, "%.127s rev %u at agent %.63s (%.63s)",
                          record.id, record.revision, agent->name, agent->sector);
                if (!stored)
                    s_problem ("UNEXPECTED never-stored", detail);
                else {
                    if (!s_in_scope (stored, agent->sector))
                        s_problem ("UNEXPECTED out-of-sector", detail);
                    stored->seen = true;
                }
            }
            mdb_cursor_close (cursor);
        }
        mdb_txn_abort (txn);
    }
    cc_store_destroy (&store);
    for (stored_t *stored = (stored_t *) zhashx_first (s_stored); stored;
         stored = (stored_t *) zhashx_next (s_stored))
        if (s_in_scope (stored, agent->sector) && !stored->seen) {
            char detail [400];
            snprintf (detail, sizeof detail, "%.127s rev %u not in the inbox of %.63s",
                      stored->id, stored->revision, agent->name);
            s_problem ("LOST delivery", detail);
        }
    return records;
}

typedef struct {
    agent_t *agents;
    size_t count;
    zhashx_t *rows;                 //  row key -> count
    size_t total;
} ledger_scan_t;

static void
s_ledger_row (const cc_ledger_row_t *row, void *arg)
{
    ledger_scan_t *scan = (ledger_scan_t *) arg;
    scan->total++;
    char hex [65];
    cc_hex_encode (row->agent, 32, hex);
    char *key = zsys_sprintf ("%s\x1f%u\x1f%s\x1f%d", row->advisory_id,
                              row->revision, hex, row->status);
    size_t *count = (size_t *) zhashx_lookup (scan->rows, key);
    if (!count) {
        count = (size_t *) zmalloc (sizeof (size_t));
        zhashx_insert (scan->rows, key, count);
    }
    if (++*count == 2) {
        char detail [300];
        snprintf (detail, sizeof detail, "%.127s rev %u agent %.16s status %d",
                  row->advisory_id, row->revision, hex, row->status);
        s_problem ("DUPLICATE ledger row", detail);
    }
    free (key);
    char *lookup = s_key (row->advisory_id, row->revision);
    if (!zhashx_lookup (s_stored, lookup)) {
        char detail [300];
        snprintf (detail, sizeof detail, "ack for %.127s rev %u which was never stored",
                  row->advisory_id, row->revision);
        s_problem ("UNEXPECTED ack", detail);
    }
    free (lookup);
}

static void
s_free_count (void **item)
{
    free (*item);
    *item = NULL;
}

static size_t
s_check_ledger (const char *data, agent_t *agents, size_t count)
{
    cc_store_t *store = cc_store_new (data, CC_STORE_READONLY);
    if (!store) {
        s_problem ("LOST ledger", data);
        return 0;
    }
    ledger_scan_t scan = { agents, count, zhashx_new (), 0 };
    zhashx_set_destructor (scan.rows, s_free_count);
    MDB_txn *txn = NULL;
    if (cc_store_read (store, &txn) == 0) {
        cc_ledger_each (store, txn, NULL, s_ledger_row, &scan);
        mdb_txn_abort (txn);
    }
    //  Every in-scope (advisory, agent) pair must be acknowledged.
    for (size_t index = 0; index < count; index++) {
        char hex [65];
        cc_hex_encode (agents [index].sign_key, 32, hex);
        for (stored_t *stored = (stored_t *) zhashx_first (s_stored); stored;
             stored = (stored_t *) zhashx_next (s_stored)) {
            if (!s_in_scope (stored, agents [index].sector))
                continue;
            char *key = zsys_sprintf ("%s\x1f%u\x1f%s\x1f%d", stored->id,
                                      stored->revision, hex,
                                      CERTCAST__ACK_STATUS__RECEIVED);
            if (!zhashx_lookup (scan.rows, key)) {
                char detail [300];
                snprintf (detail, sizeof detail, "%.127s rev %u from %.63s",
                          stored->id, stored->revision, agents [index].name);
                s_problem ("LOST ack", detail);
            }
            free (key);
        }
    }
    size_t total = scan.total;
    zhashx_destroy (&scan.rows);
    cc_store_destroy (&store);
    return total;
}

static void
s_free_stored (void **item)
{
    free (*item);
    *item = NULL;
}

int
main (int argc, char **argv)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    s_stored = zhashx_new ();
    zhashx_set_destructor (s_stored, s_free_stored);
    const char *ledger = NULL;
    agent_t agents [256];
    size_t count = 0;
    for (int index = 1; index < argc; index++) {
        if (streq (argv [index], "--stored") && index + 1 < argc) {
            if (s_load_stored (argv [++index]))
                return 2;
        }
        else
        if (streq (argv [index], "--ledger") && index + 1 < argc)
            ledger = argv [++index];
        else
        if (streq (argv [index], "--agent") && index + 1 < argc && count < 256) {
            agent_t *agent = &agents [count];
            char pub [512];
            if (sscanf (argv [++index], "%63[^:]:%63[^:]:%511[^:]:%511s",
                        agent->name, agent->sector, agent->data, pub) != 4) {
                fprintf (stderr, "cc_history: --agent NAME:SECTOR:DATA:KEY.pub\n");
                return 2;
            }
            cc_keys_t *keys = cc_keys_load (pub, NULL);
            if (!keys) {
                fprintf (stderr, "cc_history: cannot load %s\n", pub);
                return 2;
            }
            memcpy (agent->sign_key, cc_keys_sign_public (keys), 32);
            cc_keys_destroy (&keys);
            count++;
        }
        else {
            fprintf (stderr, "usage: cc_history --stored FILE [--ledger DATA] "
                     "--agent NAME:SECTOR:DATA:KEY.pub ...\n");
            return 2;
        }
    }
    size_t deliveries = 0, rows = 0;
    for (size_t index = 0; index < count; index++)
        deliveries += s_check_agent (&agents [index]);
    if (ledger)
        rows = s_check_ledger (ledger, agents, count);
    printf ("history: %zu stored, %zu agents, %zu inbox records, %zu ledger rows: "
            "%zu problem(s)\n", zhashx_size (s_stored), count, deliveries, rows,
            s_problems);
    zhashx_destroy (&s_stored);
    return s_problems? 1: 0;
}
