/*  cmd_ledger.c - certcast ledger: every acknowledgement row in a data
    directory, joined with the roster so each agent shows as a name,
    organisation and sector rather than a key.

    The store is opened read-only, so this works while the daemon runs.
    A reader must not pin LMDB pages while it waits on a slow terminal or
    pipe, and a national ledger grows by every agent for every advisory
    (tens of millions of rows a year), more than fits in memory. So the
    roster is copied out of one short read transaction, then each
    advisory's rows, found in the ledger's own key order, out of one of
    their own (each advisory's rows one consistent snapshot) and printed
    after it ends.
*/
#include "cmd.h"

static const cc_option_t s_options [] = {
    { "data", "DIR", "the broker's data directory", NULL, false },
    { "advisory", "ID", "only this advisory", NULL, false },
    { "format", "FORMAT", "table or json", "table", false },
    { NULL, NULL, NULL, NULL, false }
};

static void
s_row_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_row_copy (const cc_ledger_row_t *row, void *arg)
{
    cc_ledger_row_t *copy = (cc_ledger_row_t *) malloc (sizeof *copy);
    assert (copy);
    *copy = *row;
    zlistx_add_end ((zlistx_t *) arg, copy);
}

//  What one row prints as, roster details resolved.
typedef struct {
    char agent_hex [65];
    char agent [80];            //  roster name, or key prefix
    const char *org;
    const char *sector;
    char received [32];
    char acked [32];
    char ledgered [32];
    char evidence [17];
} s_view_t;

static void
s_view (const cc_ledger_row_t *row, zhashx_t *roster, s_view_t *view)
{
    cc_hex_encode (row->agent, 32, view->agent_hex);
    const cc_member_t *member =
        (const cc_member_t *) zhashx_lookup (roster, view->agent_hex);
    if (member && *member->name)
        snprintf (view->agent, sizeof view->agent, "%s", member->name);
    else
        snprintf (view->agent, sizeof view->agent, "%.16s", view->agent_hex);
    view->org = member? member->org: "";
    view->sector = member? member->sector: "";
    cmd_time_iso (row->received_at, view->received, sizeof view->received);
    cmd_time_iso (row->acked_at, view->acked, sizeof view->acked);
    cmd_time_iso (row->ledgered_at, view->ledgered, sizeof view->ledgered);
    char evidence_hex [65];
    cc_hex_encode (row->evidence, 32, evidence_hex);
    snprintf (view->evidence, sizeof view->evidence, "%.16s", evidence_hex);
}

//  One table per advisory: a table's widths need all its rows first.
static void
s_print_table (zlistx_t *rows, zhashx_t *roster, bool first)
{
    if (zlistx_size (rows) == 0)
        return;
    if (!first)
        printf ("\n");
    cmd_table_t *table = cmd_table_new (10);
    const char *header [] = {
        "ADVISORY", "REV", "AGENT", "ORG", "SECTOR", "STATUS", "RECEIVED",
        "ACKED", "LEDGERED", "EVIDENCE"
    };
    cmd_table_add (table, header);
    for (const cc_ledger_row_t *row = (const cc_ledger_row_t *)
         zlistx_first (rows); row;
         row = (const cc_ledger_row_t *) zlistx_next (rows)) {
        s_view_t view;
        s_view (row, roster, &view);
        char revision [16];
        snprintf (revision, sizeof revision, "%" PRIu32, row->revision);
        const char *cells [] = {
            row->advisory_id, revision, view.agent, view.org, view.sector,
            cmd_ack_status_name (row->status), view.received, view.acked,
            view.ledgered, view.evidence
        };
        cmd_table_add (table, cells);
    }
    cmd_table_print (table, stdout, NULL);
    cmd_table_destroy (&table);
}

static void
s_print_json (zlistx_t *rows, zhashx_t *roster, bool first)
{
    for (const cc_ledger_row_t *row = (const cc_ledger_row_t *)
         zlistx_first (rows); row;
         row = (const cc_ledger_row_t *) zlistx_next (rows)) {
        s_view_t view;
        s_view (row, roster, &view);
        printf ("%s\n  {\"advisory\": ", first? "": ",");
        cmd_json_string (stdout, row->advisory_id);
        printf (", \"revision\": %" PRIu32 ", \"agent\": ", row->revision);
        cmd_json_string (stdout, view.agent);
        printf (", \"agent_key\": \"%s\", \"org\": ", view.agent_hex);
        cmd_json_string (stdout, view.org);
        printf (", \"sector\": ");
        cmd_json_string (stdout, view.sector);
        printf (", \"status\": \"%s\", \"received_at\": \"%s\", "
                "\"acked_at\": \"%s\", \"ledgered_at\": \"%s\", "
                "\"evidence\": \"%s\"}",
                cmd_ack_status_name (row->status), view.received, view.acked,
                view.ledgered, view.evidence);
        first = false;
    }
}

//  The roster, in a transaction of its own. 0 or an LMDB error;
//  *roster_p NULL after a roster error.
static int
s_roster (cc_store_t *store, zhashx_t **roster_p)
{
    MDB_txn *txn = NULL;
    int rc = cc_store_read (store, &txn);
    if (rc == 0) {
        *roster_p = cmd_roster_load ("ledger", store, txn);
        mdb_txn_abort (txn);
    }
    return rc;
}

//  The rows of the advisory after `after` (only_id alone, if given) into
//  rows (emptied first) and its id into id, in one transaction: the ids
//  come from the ledger itself, so rows of an id the advisory index no
//  longer names are listed too. 0, MDB_NOTFOUND when there are no more,
//  or an LMDB error.
static int
s_next_rows (cc_store_t *store, const char *only_id, const char *after,
             char *id, zlistx_t *rows)
{
    zlistx_purge (rows);
    if (only_id && *after)
        return MDB_NOTFOUND;
    MDB_txn *txn = NULL;
    int rc = cc_store_read (store, &txn);
    if (rc)
        return rc;
    if (only_id)
        snprintf (id, CC_LEDGER_ID_MAX + 1, "%s", only_id);
    else
        rc = cc_ledger_next_id (store, txn, after, id);
    if (rc == 0)
        rc = cc_ledger_each (store, txn, id, s_row_copy, rows);
    mdb_txn_abort (txn);
    return rc;
}

int
cmd_ledger (int argc, char **argv)
{
    int exit_code = 0;
    cc_config_t *config = cc_config_new ("certcast/ledger",
        "certcast ledger --data DIR [--advisory ID] [--format table|json]",
        s_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;
    const char *data = cc_config_get (config, "data");
    const char *advisory = cc_config_get (config, "advisory");
    const char *format = cc_config_get (config, "format");
    if (!data)
        exit_code = cmd_usage_error ("ledger", "--data DIR is required");
    else
    if (!streq (format, "table") && !streq (format, "json"))
        exit_code = cmd_usage_error ("ledger", "--format must be table or "
                                     "json, not '%s'", format);
    else
    if (cc_config_positionals (config))
        exit_code = cmd_usage_error ("ledger", "unexpected argument '%s'",
                                     cc_config_positional (config, 0));
    cc_store_t *store = exit_code? NULL: cmd_store_open ("ledger", data);
    if (!store) {
        cc_config_destroy (&config);
        return exit_code? exit_code: 1;
    }

    zlistx_t *rows = zlistx_new ();
    assert (rows);
    zlistx_set_destructor (rows, s_row_destroy);
    zhashx_t *roster = NULL;
    int rc = s_roster (store, &roster);
    bool json = streq (format, "json");
    size_t printed = 0, done = 0;
    char id [CC_LEDGER_ID_MAX + 1] = "", after [CC_LEDGER_ID_MAX + 1] = "";
    if (rc == 0 && roster && json)
        printf ("[");
    while (rc == 0 && roster) {
        rc = s_next_rows (store, advisory, after, id, rows);
        if (rc)
            break;
        if (json)
            s_print_json (rows, roster, printed == 0);
        else
            s_print_table (rows, roster, printed == 0);
        printed += zlistx_size (rows);
        memcpy (after, id, sizeof after);
        cmd_progress ("ledger", ++done, 0, "advisories");
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;                 //  no more advisories with rows
    cmd_progress ("ledger", done, done, "advisories");
    if (rc)
        exit_code = cmd_fail ("ledger", "cannot read %s: %s", data,
                              mdb_strerror (rc));
    else
    if (!roster)
        exit_code = 1;
    else
    if (json)
        printf ("%s]\n", printed? "\n": "");
    else
    if (printed == 0)
        printf ("no acknowledgements recorded\n");

    zhashx_destroy (&roster);
    zlistx_destroy (&rows);
    cc_store_destroy (&store);
    cc_config_destroy (&config);
    return exit_code;
}
