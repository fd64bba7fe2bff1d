/*  cmd_compliance.c - certcast compliance: the Rule 26 report. For every
    accepted advisory, who was expected to acknowledge it (roster agents
    of a target sector), who did and when (late if after the deadline),
    and who did not, with the entity class, CII flag and point of contact
    the designated officer needs to follow up.

    Advisories and roster are copied out of one short read-only
    transaction, then each advisory's ledger rows out of one of their own,
    folded, printed after it ends and let go: the daemon's writers are
    never held back while we print, and a national ledger of tens of
    millions of rows is reported in the memory of one advisory's.
*/
#include "cmd.h"

static const cc_option_t s_options [] = {
    { "data", "DIR", "the broker's data directory", NULL, false },
    { "advisory", "ID", "only this advisory", NULL, false },
    { "sector", "S", "only recipients in this sector", NULL, false },
    { "revision", "N", "revision N of --advisory ID, not its latest", NULL,
      false },
    { "format", "FORMAT", "table, csv or json", "table", false },
    { "silent-after", "SECONDS", "name each relay not heard from for this "
      "long (relays speak every 5 s)", "300", false },
    { NULL, NULL, NULL, NULL, false }
};

//  An agent's acknowledgement of one advisory revision: its earliest row,
//  the receipt, and its latest word on acting on it.
typedef struct {
    int64_t acked_at;           //  signed ack time of the earliest row: the
                                //  agent's own clock, which it could set
    int64_t ledgered_at;        //  when that row was ledgered here: our
                                //  clock, the witness to acked_at
    int status;                 //  Certcast__AckStatus of that row
    int64_t outcome_at;         //  deciding time of the latest row that says
    int outcome;                //  applied, not applicable or failed (its
                                //  status; 0: none said yet)
    char *reason;               //  what its failed row said, as signed;
                                //  owned, NULL: none
} s_ack_t;

static void
s_ack_destroy (void **item)
{
    s_ack_t *self = (s_ack_t *) *item;
    if (self) {
        free (self->reason);
        free (self);
        *item = NULL;
    }
}

//  One accepted advisory, copied out of the store.
typedef struct {
    char *id;
    uint32_t revision;          //  latest accepted, or --revision; acks
                                //  of other revisions do not count for it
    uint32_t latest_revision;   //  latest accepted
    bool by_revision;           //  --revision asked for this one
    bool check_digests;         //  an earlier revision: see s_row_fold
    uint8_t digest [32];        //  SHA-256 of its Signed bytes
    size_t other_bytes;         //  its rows whose ack names other bytes
    char *title;
    int severity;
    bool all_sectors;
    char **sectors;             //  NULL-terminated; owned
    int64_t issued_at;
    int64_t ack_deadline;       //  0: none
    int64_t expires_at;         //  0: never
    char origin [64];           //  the relay that reported it, "": ours
    zhashx_t *acks;             //  hex agent key -> s_ack_t; owned
} s_advisory_t;

static void
s_free_item (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_advisory_destroy (void **item)
{
    s_advisory_t *self = (s_advisory_t *) *item;
    if (self) {
        zhashx_destroy (&self->acks);
        for (char **sector = self->sectors; sector && *sector; sector++)
            free (*sector);
        free (self->sectors);
        free (self->title);
        free (self->id);
        free (self);
        *item = NULL;
    }
}

typedef struct {
    const char *only_id;        //  --advisory, or NULL
    const char *only_sector;    //  --sector, or NULL
    uint32_t revision;          //  --revision, or 0: each one's latest
    char why [512];             //  why --revision cannot be reported
    zlistx_t *advisories;       //  s_advisory_t, in id order
    zlistx_t *silent;           //  "relay (sectors)" of enrolled relays
                                //  that never sent a roster; owned
    zhashx_t *heard;            //  relay name -> cmd_heard_t * at this
                                //  broker; owned
    int64_t alive;              //  when the broker last said it ran; 0:
                                //  not known (a store of an older release)
    int64_t silent_after;       //  --silent-after
} s_report_t;

//  Does the advisory target the sector (NULL: any)?
static bool
s_for_sector (const Certcast__Advisory *content, const char *sector)
{
    if (!sector || content->all_sectors)
        return true;
    for (size_t index = 0; index < content->n_sectors; index++)
        if (streq (content->sectors [index], sector))
            return true;
    return false;
}

static s_advisory_t *
s_advisory_from (const char *id, uint32_t revision,
                 const Certcast__Advisory *content)
{
    s_advisory_t *self = (s_advisory_t *) zmalloc (sizeof (s_advisory_t));
    assert (self);
    self->id = strdup (id);
    self->revision = revision;
    self->latest_revision = revision;
    self->title = strdup (content->title);
    self->severity = content->severity;
    self->all_sectors = content->all_sectors;
    self->sectors = (char **) zmalloc ((content->n_sectors + 1)
                                       * sizeof (char *));
    assert (self->sectors);
    for (size_t index = 0; index < content->n_sectors; index++)
        self->sectors [index] = strdup (content->sectors [index]);
    self->issued_at = content->issued_at;
    self->ack_deadline = content->ack_deadline;
    self->expires_at = content->expires_at;
    self->acks = zhashx_new ();
    assert (self->acks);
    zhashx_set_destructor (self->acks, s_ack_destroy);
    return self;
}

//  Decode what the broker stored. It was verified on intake, so the time
//  windows are not checked again: a report on last year's advisory must
//  still work after its delegation has expired. NULL if it does not
//  decode (said on stderr) or does not target only_sector (not NULL).
static s_advisory_t *
s_advisory_new (const char *id, uint32_t revision,
                const uint8_t *signed_bytes, size_t size,
                const char *only_sector)
{
    Certcast__Signed *signed_message = (Certcast__Signed *) cc_wire_unpack (
        &certcast__signed__descriptor, signed_bytes, size,
        CC_WIRE_MAX_SIGNED);
    Certcast__Advisory *content = signed_message
        ? (Certcast__Advisory *) cc_wire_unpack (
              &certcast__advisory__descriptor, signed_message->advisory.data,
              signed_message->advisory.len, CC_WIRE_MAX_SIGNED)
        : NULL;
    s_advisory_t *self = NULL;
    if (!content)
        fprintf (stderr, "certcast compliance: advisory %s does not decode; "
                 "skipped\n", id);
    else
    if (s_for_sector (content, only_sector))
        self = s_advisory_from (id, revision, content);
    if (content)
        certcast__advisory__free_unpacked (content, NULL);
    if (signed_message)
        certcast__signed__free_unpacked (signed_message, NULL);
    return self;
}

static void
s_advisory_copy (const char *id, uint32_t revision,
                 const uint8_t *signed_bytes, size_t size, void *arg)
{
    s_report_t *report = (s_report_t *) arg;
    if (report->only_id && !streq (id, report->only_id))
        return;
    s_advisory_t *self = s_advisory_new (id, revision, signed_bytes, size,
                                         report->only_sector);
    if (self)
        zlistx_add_end (report->advisories, self);
}


//  Is this agent expected to acknowledge this advisory? Its sector is
//  targeted and, for an advisory a relay originated (on that relay's own
//  stream), the agent is behind that relay; and it was enrolled here by
//  the deadline: one enrolled after could not have been on time, and
//  would be listed late or missing for everything due before it came.
//  Nor after the advisory expired, if that is sooner: an agent does not
//  hand over what expired before it arrived, so there was nothing to do.
static bool
s_targets (const s_advisory_t *advisory, const cc_member_t *member)
{
    if (advisory->origin [0] && !streq (advisory->origin, member->via))
        return false;
    int64_t due = advisory->ack_deadline;
    if (advisory->expires_at && (!due || advisory->expires_at < due))
        due = advisory->expires_at;
    if (due && member->enrolled_at > due)
        return false;
    if (advisory->all_sectors)
        return true;
    for (char **cursor = advisory->sectors; *cursor; cursor++)
        if (streq (*cursor, member->sector))
            return true;
    return false;
}

//  Lateness is judged on the time in the agent's own signed ack, not on
//  when the row reached this ledger: a relay that was down must not make
//  its constituents look late, and the agent cannot later deny the time
//  it signed.
//  Late by the agent's signed time, unless that time cannot be true (five
//  minutes of clock skew allowed): before the advisory was issued, when
//  no agent had it, or after we ledgered the ack, which it had signed
//  before (a host clock set ahead, such as local time taken for UTC,
//  made an ack we witnessed on time look late). Then its clock or its
//  word is wrong, and when we ledgered the receipt is all that can be
//  told.
#define SKEW_S  300

static int64_t
s_time_when (const s_advisory_t *advisory, int64_t acked_at,
             int64_t ledgered_at)
{
    return acked_at < advisory->issued_at - SKEW_S
        || acked_at > ledgered_at + SKEW_S? ledgered_at: acked_at;
}

static int64_t
s_acked_when (const s_advisory_t *advisory, const s_ack_t *ack)
{
    return s_time_when (advisory, ack->acked_at, ack->ledgered_at);
}

//  Keep each agent's receipt of the advisory's revision: its first row
//  ledgered here (of those ledgered in the same second, the earliest by
//  the time that decides "late"). A row ledgered later cannot move the
//  receipt back: an agent on record as late could otherwise sign another
//  status dated before the deadline and look on time. And keep the
//  latest of its rows that say how acting on it went: a receipt is not
//  compliance when the agent said after it that it failed (one it fixed
//  says so again). At the same time, the higher status wins: failed over
//  applied. reason: what a failed row said, or NULL.
static void
s_row_keep (const cc_ledger_row_t *row, s_advisory_t *advisory,
            const char *reason)
{
    char hex [65];
    cc_hex_encode (row->agent, 32, hex);
    int64_t when = s_time_when (advisory, row->acked_at, row->ledgered_at);
    s_ack_t *ack = (s_ack_t *) zhashx_lookup (advisory->acks, hex);
    bool first = !ack;
    if (first) {
        ack = (s_ack_t *) zmalloc (sizeof (s_ack_t));
        assert (ack);
        zhashx_insert (advisory->acks, hex, ack);
    }
    if (first || row->ledgered_at < ack->ledgered_at
    ||  (row->ledgered_at == ack->ledgered_at
    &&   when < s_acked_when (advisory, ack))) {
        ack->acked_at = row->acked_at;
        ack->ledgered_at = row->ledgered_at;
        ack->status = row->status;
    }
    if (row->status != CERTCAST__ACK_STATUS__RECEIVED
    &&  (ack->outcome == 0 || when >= ack->outcome_at)) {
        ack->outcome = row->status;
        ack->outcome_at = when;
    }
    //  An agent has one failed row per revision (the status is in the
    //  row's key): its reason is the one to show when failed is its word.
    if (row->status == CERTCAST__ACK_STATUS__FAILED && reason && *reason) {
        free (ack->reason);
        ack->reason = strdup (reason);
    }
}

typedef struct {
    cc_store_t *store;
    MDB_txn *txn;               //  the rows' own, for their evidence
    s_advisory_t *advisory;
} s_fold_t;

//  What the agent signed with a row is read only when the report needs
//  it: for a failed row, why; for a row of an earlier revision, which
//  bytes it names. The ledger took an ack of the revision it held only
//  for the bytes it held, but an ack of an earlier one for any bytes
//  (they were gone from its index): another issuer's advisory that took
//  the id where the agent got it is not a receipt of this one, and a row
//  whose evidence does not read proves nothing.
static void
s_row_fold (const cc_ledger_row_t *row, void *arg)
{
    s_fold_t *fold = (s_fold_t *) arg;
    s_advisory_t *advisory = fold->advisory;
    if (row->revision != advisory->revision
    ||  !streq (row->advisory_id, advisory->id))
        return;
    bool failed = row->status == CERTCAST__ACK_STATUS__FAILED;
    if (!advisory->check_digests && !failed) {
        s_row_keep (row, advisory, NULL);
        return;
    }
    const Certcast__AckEntry *entry = NULL;
    Certcast__Ack *said = cc_ledger_row_entry (fold->store, fold->txn, row,
                                               &entry);
    if (advisory->check_digests
    &&  (!entry || entry->digest.len != 32
    ||   CRYPTO_memcmp (entry->digest.data, advisory->digest, 32) != 0))
        advisory->other_bytes++;
    else
        s_row_keep (row, advisory, entry? entry->reason: NULL);
    if (said)
        certcast__ack__free_unpacked (said, NULL);
}

//  The agent said it failed to act on the advisory, and has not said
//  otherwise since.
static bool
s_failed (const s_ack_t *ack)
{
    return ack->outcome == CERTCAST__ACK_STATUS__FAILED;
}

static bool
s_late (const s_advisory_t *advisory, const s_ack_t *ack)
{
    return advisory->ack_deadline
        && s_acked_when (advisory, ack) > advisory->ack_deadline;
}

static int
s_member_compare (const void *left, const void *right)
{
    const cc_member_t *one = *(const cc_member_t * const *) left;
    const cc_member_t *two = *(const cc_member_t * const *) right;
    int order = strcmp (one->sector, two->sector);
    return order? order: strcmp (one->name, two->name);
}

//  The agents of the roster (optionally of one sector), sorted by sector
//  and name so reports compare line by line. Returns a NULL-terminated
//  array of borrowed pointers; caller frees the array.
static const cc_member_t **
s_agents (zhashx_t *roster, const char *only_sector, size_t *count)
{
    const cc_member_t **agents = (const cc_member_t **) zmalloc (
        (zhashx_size (roster) + 1) * sizeof (cc_member_t *));
    assert (agents);
    size_t size = 0;
    for (const cc_member_t *member = (const cc_member_t *)
         zhashx_first (roster); member;
         member = (const cc_member_t *) zhashx_next (roster))
        if (streq (member->role, "agent")
        &&  (!only_sector || streq (member->sector, only_sector)))
            agents [size++] = member;
    qsort (agents, size, sizeof (cc_member_t *), s_member_compare);
    *count = size;
    return agents;
}

//  Acks for this revision from keys that are not in the roster at all.
static size_t
s_unexpected (s_advisory_t *advisory, zhashx_t *roster)
{
    size_t count = 0;
    for (void *ack = zhashx_first (advisory->acks); ack;
         ack = zhashx_next (advisory->acks))
        if (!zhashx_lookup (roster, (const char *) zhashx_cursor (
                                        advisory->acks)))
            count++;
    return count;
}

static void
s_sector_text (const s_advisory_t *advisory, char *out, size_t size)
{
    snprintf (out, size, "%s", advisory->all_sectors? "all": "");
    for (char **cursor = advisory->sectors; *cursor; cursor++) {
        if (cursor != advisory->sectors)
            strncat (out, ",", size - strlen (out) - 1);
        strncat (out, *cursor, size - strlen (out) - 1);
    }
}

static const char *
s_hex_of (const cc_member_t *member, char *hex)
{
    cc_hex_encode (member->sign_key, 32, hex);
    return hex;
}


//  --------------------------------------------------------------------------
//  Output formats

//  An agent's reason, made safe for a terminal and cut to fit a table
//  row: the whole of it (up to 256 bytes) is in the CSV and the JSON.
#define REASON_CELL_CHARS   60

static char *
s_reason_cell (const char *reason)
{
    if (!reason)
        return strdup ("(no reason given)");
    char *cell = cmd_text_safe (reason);
    size_t chars = 0, index = 0;
    for (; cell [index]; index++)
        if (((unsigned char) cell [index] & 0xc0) != 0x80
        &&  ++chars > REASON_CELL_CHARS)
            break;
    if (cell [index]) {
        cell = (char *) realloc (cell, index + 4);
        assert (cell);
        memcpy (cell + index, "...", 4);
    }
    return cell;
}

static void
s_print_table (s_advisory_t *advisory, zhashx_t *roster,
               const cc_member_t **agents, size_t agent_count)
{
    char sectors [512], deadline [32], issued [32], when [32];
    s_sector_text (advisory, sectors, sizeof sectors);
    char *title = cmd_text_safe (advisory->title);
    printf ("%s rev %" PRIu32 " [%s] %s\n", advisory->id, advisory->revision,
            cmd_severity_name (advisory->severity), title);
    free (title);
    printf ("  sectors %s, issued %s, ack deadline %s\n", sectors,
            cmd_time_iso (advisory->issued_at, issued, sizeof issued),
            advisory->ack_deadline
            ? cmd_time_iso (advisory->ack_deadline, deadline, sizeof deadline)
            : "none");
    if (advisory->revision != advisory->latest_revision)
        printf ("  superseded: the latest is rev %" PRIu32 "\n",
                advisory->latest_revision);
    size_t expected = 0, acknowledged = 0, late = 0;
    cmd_table_t *missing = cmd_table_new (6);
    cmd_table_t *latecomers = cmd_table_new (4);
    cmd_table_t *failures = cmd_table_new (6);
    for (size_t index = 0; index < agent_count; index++) {
        const cc_member_t *member = agents [index];
        if (!s_targets (advisory, member))
            continue;
        expected++;
        char hex [65];
        const s_ack_t *ack = (const s_ack_t *) zhashx_lookup (
            advisory->acks, s_hex_of (member, hex));
        if (ack) {
            acknowledged++;
            if (s_late (advisory, ack)) {
                late++;
                const char *cells [] = {
                    member->name, member->org, member->sector,
                    cmd_time_iso (s_acked_when (advisory, ack), when,
                                  sizeof when)
                };
                cmd_table_add (latecomers, cells);
            }
            if (s_failed (ack)) {
                char *reason = s_reason_cell (ack->reason);
                const char *cells [] = {
                    member->name, member->org, member->sector,
                    member->contact,
                    cmd_time_iso (ack->outcome_at, when, sizeof when),
                    reason
                };
                cmd_table_add (failures, cells);
                free (reason);
            }
        }
        else {
            const char *cells [] = {
                member->name, member->org, member->sector,
                member->entity_class, member->cii? "cii": "-",
                member->contact
            };
            cmd_table_add (missing, cells);
        }
    }
    printf ("  expected %zu, acknowledged %zu (late %zu, failed %zu), "
            "missing %zu, unexpected %zu\n", expected, acknowledged, late,
            cmd_table_rows (failures), expected - acknowledged,
            s_unexpected (advisory, roster));
    if (advisory->other_bytes)
        printf ("  not counted: %zu acknowledgements of rev %" PRIu32 " name "
                "other bytes than it (another advisory under its id), or "
                "evidence that does not read\n", advisory->other_bytes,
                advisory->revision);
    if (cmd_table_rows (latecomers)) {
        printf ("  late:\n");
        cmd_table_print (latecomers, stdout, "    ");
    }
    if (cmd_table_rows (failures)) {
        printf ("  failed (acknowledged, then said acting on it failed):\n");
        cmd_table_print (failures, stdout, "    ");
    }
    if (cmd_table_rows (missing)) {
        printf ("  missing:\n");
        cmd_table_print (missing, stdout, "    ");
    }
    printf ("\n");
    cmd_table_destroy (&failures);
    cmd_table_destroy (&latecomers);
    cmd_table_destroy (&missing);
}

static void
s_print_csv (s_advisory_t *advisory, const cc_member_t **agents,
             size_t agent_count)
{
    char deadline [32], when [32], revision [16];
    cmd_time_iso (advisory->ack_deadline, deadline, sizeof deadline);
    if (!advisory->ack_deadline)
        deadline [0] = 0;
    snprintf (revision, sizeof revision, "%" PRIu32, advisory->revision);
    for (size_t index = 0; index < agent_count; index++) {
        const cc_member_t *member = agents [index];
        if (!s_targets (advisory, member))
            continue;
        char hex [65];
        const s_ack_t *ack = (const s_ack_t *) zhashx_lookup (
            advisory->acks, s_hex_of (member, hex));
        const char *state = !ack? "missing"
                          : s_failed (ack)? "failed"
                          : s_late (advisory, ack)? "late": "acked";
        char ledgered [32];
        const char *fields [] = {
            advisory->id, revision, advisory->title, deadline, member->name,
            member->org, member->sector, member->entity_class,
            member->cii? "yes": "no", member->contact, state,
            ack? cmd_time_iso (ack->acked_at, when, sizeof when): "",
            ack? cmd_time_iso (ack->ledgered_at, ledgered, sizeof ledgered): "",
            ack && s_failed (ack) && ack->reason? ack->reason: ""
        };
        for (size_t field = 0; field < sizeof fields / sizeof *fields;
             field++) {
            if (field)
                fputc (',', stdout);
            cmd_csv_field (stdout, fields [field]);
        }
        fputc ('\n', stdout);
    }
}

//  One recipient as a JSON object; with an ack, also when and if late.
static void
s_json_member (const cc_member_t *member, const s_advisory_t *advisory,
               const s_ack_t *ack)
{
    //  The name is the agent's own word, and two keys may carry the same
    //  one: the key tells them apart, and finds its rows in the ledger.
    char hex [65];
    printf ("{\"agent\": ");
    cmd_json_string (stdout, member->name);
    printf (", \"agent_key\": \"%s\", \"org\": ", s_hex_of (member, hex));
    cmd_json_string (stdout, member->org);
    printf (", \"sector\": ");
    cmd_json_string (stdout, member->sector);
    printf (", \"class\": ");
    cmd_json_string (stdout, member->entity_class);
    printf (", \"cii\": %s, \"contact\": ", member->cii? "true": "false");
    cmd_json_string (stdout, member->contact);
    //  Who reported it: a relay's name, or this broker's own.
    printf (", \"via\": ");
    cmd_json_string (stdout, member->via);
    if (ack) {
        char when [32], ledgered [32];
        printf (", \"acked_at\": \"%s\", \"ledgered_at\": \"%s\", "
                "\"status\": \"%s\", \"late\": %s, \"failed\": %s",
                cmd_time_iso (ack->acked_at, when, sizeof when),
                cmd_time_iso (ack->ledgered_at, ledgered, sizeof ledgered),
                cmd_ack_status_name (ack->status),
                s_late (advisory, ack)? "true": "false",
                s_failed (ack)? "true": "false");
        //  Why it failed, in the agent's words; null when it did not
        printf (", \"reason\": ");
        if (s_failed (ack))
            cmd_json_string (stdout, ack->reason? ack->reason: "");
        else
            printf ("null");
    }
    printf ("}");
}

//  Which recipients go into one of the JSON arrays.
typedef enum {
    S_EXPECTED, S_ACKNOWLEDGED, S_LATE, S_FAILED, S_MISSING
} s_which_t;

static void
s_json_list (const char *name, s_which_t which, s_advisory_t *advisory,
             const cc_member_t **agents, size_t agent_count)
{
    printf (",\n   \"%s\": [", name);
    bool first = true;
    for (size_t index = 0; index < agent_count; index++) {
        const cc_member_t *member = agents [index];
        if (!s_targets (advisory, member))
            continue;
        char hex [65];
        const s_ack_t *ack = (const s_ack_t *) zhashx_lookup (
            advisory->acks, s_hex_of (member, hex));
        bool wanted = which == S_EXPECTED
                   || (which == S_ACKNOWLEDGED && ack)
                   || (which == S_LATE && ack && s_late (advisory, ack))
                   || (which == S_FAILED && ack && s_failed (ack))
                   || (which == S_MISSING && !ack);
        if (!wanted)
            continue;
        printf ("%s\n    ", first? "": ",");
        s_json_member (member, advisory, which == S_MISSING? NULL: ack);
        first = false;
    }
    printf ("%s]", first? "": "\n   ");
}

static void
s_print_json (s_advisory_t *advisory, zhashx_t *roster,
              const cc_member_t **agents, size_t agent_count, bool first)
{
    char issued [32], deadline [32];
    printf ("%s\n  {\"id\": ", first? "": ",");
    cmd_json_string (stdout, advisory->id);
    printf (", \"revision\": %" PRIu32 ", \"title\": ", advisory->revision);
    cmd_json_string (stdout, advisory->title);
    printf (", \"severity\": \"%s\", \"sectors\": ",
            cmd_severity_name (advisory->severity));
    if (advisory->all_sectors)
        printf ("\"all\"");
    else {
        printf ("[");
        for (char **cursor = advisory->sectors; *cursor; cursor++) {
            printf ("%s", cursor == advisory->sectors? "": ", ");
            cmd_json_string (stdout, *cursor);
        }
        printf ("]");
    }
    printf (",\n   \"issued_at\": \"%s\", \"ack_deadline\": ",
            cmd_time_iso (advisory->issued_at, issued, sizeof issued));
    if (advisory->ack_deadline)
        printf ("\"%s\"", cmd_time_iso (advisory->ack_deadline, deadline,
                                        sizeof deadline));
    else
        printf ("null");
    s_json_list ("expected", S_EXPECTED, advisory, agents, agent_count);
    s_json_list ("acknowledged", S_ACKNOWLEDGED, advisory, agents,
                 agent_count);
    s_json_list ("late", S_LATE, advisory, agents, agent_count);
    s_json_list ("failed", S_FAILED, advisory, agents, agent_count);
    s_json_list ("missing", S_MISSING, advisory, agents, agent_count);
    printf (",\n   \"unexpected\": %zu", s_unexpected (advisory, roster));
    //  Only in a report of one revision (--revision), so that the
    //  document of the latest ones keeps its shape.
    if (advisory->by_revision)
        printf (", \"latest_revision\": %" PRIu32 ", \"other_bytes\": %zu",
                advisory->latest_revision, advisory->other_bytes);
    printf ("}");
}


//  --------------------------------------------------------------------------

//  --revision: that revision of --advisory, as this store held it, or
//  report->why says why not.
static void
s_snapshot_revision (cc_store_t *store, MDB_txn *txn, s_report_t *report)
{
    uint32_t latest = 0;
    zchunk_t *signed_bytes = cmd_revision_signed (
        store, txn, report->only_id, report->revision, &latest, report->why,
        sizeof report->why);
    if (!signed_bytes)
        return;
    s_advisory_t *advisory = s_advisory_new (
        report->only_id, report->revision, zchunk_data (signed_bytes),
        zchunk_size (signed_bytes), report->only_sector);
    if (advisory) {
        advisory->latest_revision = latest;
        advisory->by_revision = true;
        //  The latest revision's rows were checked as they came in
        advisory->check_digests = report->revision < latest;
        cc_sha256 (zchunk_data (signed_bytes), zchunk_size (signed_bytes),
                   advisory->digest);
        zlistx_add_end (report->advisories, advisory);
    }
    zchunk_destroy (&signed_bytes);
}

//  When a relay was last heard, into heard (by name). A key not heard
//  since heard times began here (an older release's data, a key enrolled
//  that never spoke) is judged from then, or from its enrolment if
//  later: left out, a relay down since before the upgrade, or enrolled
//  again under a new key that never came up, would never be named. Two
//  relay keys may share a name: either one speaking, or the newer just
//  enrolled, is that name's relay.
static void
s_snapshot_heard (cc_store_t *store, MDB_txn *txn, const cc_member_t *member,
                  int64_t since, zhashx_t *heard)
{
    cmd_heard_t key = { cc_roster_seen (store, txn, member->sign_key), true };
    if (key.at == 0) {
        int64_t enrolled = cc_roster_enrolled (store, txn, member->sign_key);
        key.at = enrolled > since? enrolled: since;
        key.heard = false;
    }
    if (key.at == 0)
        return;
    cmd_heard_t *held = (cmd_heard_t *) zhashx_lookup (heard, member->name);
    if (!held) {
        held = (cmd_heard_t *) zmalloc (sizeof (cmd_heard_t));
        assert (held);
        zhashx_insert (heard, member->name, held);
    }
    else
    if (key.at < held->at || (key.at == held->at && !key.heard))
        return;
    *held = key;
}

//  Copy the roster and the advisories in one read transaction. 0 or an
//  LMDB error; *roster_p is NULL after a roster error (already reported).
static int
s_snapshot (cc_store_t *store, s_report_t *report, zhashx_t **roster_p)
{
    MDB_txn *txn = NULL;
    int rc = cc_store_read (store, &txn);
    if (rc)
        return rc;
    *roster_p = cmd_roster_load ("compliance", store, txn);
    int64_t since = cc_heard_since (store, txn);
    //  An enrolled relay that never reported its roster: the agents behind
    //  it are unknown here, and the officer must be told so rather than
    //  shown a report with nobody missing.
    for (const cc_member_t *member = *roster_p?
             (const cc_member_t *) zhashx_first (*roster_p): NULL;
         member; member = (const cc_member_t *) zhashx_next (*roster_p)) {
        char key [100];
        snprintf (key, sizeof key, CC_META_ROSTER "%s", member->name);
        if (streq (member->role, "relay")
        &&  cc_meta_get_u64 (store, txn, key) == 0)
            zlistx_add_end (report->silent, zsys_sprintf (
                "%s (%s)", member->name, member->sector));
        if (streq (member->role, "relay"))
            s_snapshot_heard (store, txn, member, since, report->heard);
    }
    report->alive = cc_heard_alive (store, txn);
    if (*roster_p) {
        if (report->revision)
            s_snapshot_revision (store, txn, report);
        else
            rc = cc_log_each_advisory (store, txn, s_advisory_copy, report);
        if (rc == MDB_NOTFOUND)
            rc = 0;
        for (s_advisory_t *advisory = (s_advisory_t *)
             zlistx_first (report->advisories); advisory;
             advisory = (s_advisory_t *) zlistx_next (report->advisories)) {
            char key [160];
            snprintf (key, sizeof key, CC_META_ORIGIN "%s", advisory->id);
            cc_meta_get_str (store, txn, key, advisory->origin,
                             sizeof advisory->origin);
        }
    }
    mdb_txn_abort (txn);
    return rc;
}

//  An advisory's acks, each agent's earliest row, in a transaction of its
//  own. 0 or an LMDB error.
static int
s_fold_acks (cc_store_t *store, s_advisory_t *advisory)
{
    MDB_txn *txn = NULL;
    int rc = cc_store_read (store, &txn);
    if (rc == 0) {
        s_fold_t fold = { store, txn, advisory };
        rc = cc_ledger_each (store, txn, advisory->id, s_row_fold, &fold);
        mdb_txn_abort (txn);
    }
    return rc == MDB_NOTFOUND? 0: rc;
}

//  0, or 2 after one line on stderr for an option that makes no sense.
//  Sets report->revision.
static int
s_check_options (cc_config_t *config, s_report_t *report)
{
    const char *format = cc_config_get (config, "format");
    int64_t revision = cc_config_int (config, "revision", 1, UINT32_MAX, 0);
    if (!cc_config_get (config, "data"))
        return cmd_usage_error ("compliance", "--data DIR is required");
    if (!streq (format, "table") && !streq (format, "csv")
    &&  !streq (format, "json"))
        return cmd_usage_error ("compliance", "--format must be table, "
                                "csv or json, not '%s'", format);
    if (report->only_sector && !cmd_sector_valid (report->only_sector))
        return cmd_usage_error ("compliance", "--sector '%s' is not a "
                                "sector name ([a-z0-9-]+)",
                                report->only_sector);
    if (revision == -1)
        return 2;               //  cc_config_int said why
    //  A relay speaks every 5 s and a broker writes when it last did
    //  every CC_HEARD_STEP_S (30 s), so under about 40 s live relays may
    //  be named; allowed, for brokers run with a shorter step (tests).
    report->silent_after = cc_config_int (config, "silent-after", 1,
                                          366 * 86400, 300);
    if (report->silent_after == -1)
        return 2;
    if (revision && !report->only_id)
        return cmd_usage_error ("compliance", "--revision N needs "
                                "--advisory ID: a revision is one "
                                "advisory's");
    if (cc_config_positionals (config))
        return cmd_usage_error ("compliance", "unexpected argument '%s'",
                                cc_config_positional (config, 0));
    report->revision = (uint32_t) revision;
    return 0;
}

int
cmd_compliance (int argc, char **argv)
{
    int exit_code = 0;
    cc_config_t *config = cc_config_new ("certcast/compliance",
        "certcast compliance --data DIR [--advisory ID [--revision N]] "
        "[--sector S] [--format table|csv|json] [--silent-after SECONDS]",
        s_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;
    const char *data = cc_config_get (config, "data");
    const char *format = cc_config_get (config, "format");
    s_report_t report = {
        .only_id = cc_config_get (config, "advisory"),
        .only_sector = cc_config_get (config, "sector"),
        .advisories = NULL
    };
    exit_code = s_check_options (config, &report);
    cc_store_t *store = exit_code? NULL: cmd_store_open ("compliance", data);
    if (!store) {
        cc_config_destroy (&config);
        return exit_code? exit_code: 1;
    }

    report.advisories = zlistx_new ();
    assert (report.advisories);
    zlistx_set_destructor (report.advisories, s_advisory_destroy);
    report.silent = zlistx_new ();
    zlistx_set_destructor (report.silent, (zlistx_destructor_fn *) zstr_free);
    report.heard = zhashx_new ();
    assert (report.heard);
    zhashx_set_destructor (report.heard, s_free_item);
    zhashx_t *roster = NULL;
    int rc = s_snapshot (store, &report, &roster);
    if (rc)
        exit_code = cmd_fail ("compliance", "cannot read %s: %s", data,
                              mdb_strerror (rc));
    else
    if (!roster)
        exit_code = 1;
    else
    if (*report.why)
        exit_code = cmd_fail ("compliance", "%s", report.why);
    else
    if (report.revision && report.only_sector
    &&  zlistx_size (report.advisories) == 0)
        exit_code = cmd_fail ("compliance", "%s revision %" PRIu32 " is not "
                              "for sector %s", report.only_id,
                              report.revision, report.only_sector);
    else
    if (report.only_id && zlistx_size (report.advisories) == 0)
        exit_code = cmd_fail ("compliance", "no accepted advisory %s%s%s",
                              report.only_id,
                              report.only_sector? " for sector ": "",
                              report.only_sector? report.only_sector: "");
    else {
        size_t agent_count = 0;
        const cc_member_t **agents = s_agents (roster, report.only_sector,
                                               &agent_count);
        //  Beside the table; on stderr for csv and json, whose shape a
        //  reader's parser relies on.
        for (char *relay = (char *) zlistx_first (report.silent); relay;
             relay = (char *) zlistx_next (report.silent)) {
            char *safe = cmd_text_safe (relay);
            fprintf (streq (format, "table")? stdout: stderr,
                     "note: relay %s has sent no roster: the agents behind "
                     "it are not counted below\n", safe);
            free (safe);
        }
        cmd_note_orphans (roster, agents, agent_count,
                        streq (format, "table")? stdout: stderr);
        cmd_note_silent_relays (report.heard, report.alive, agents,
                                agent_count, report.silent_after,
                                streq (format, "table")? stdout: stderr);
        if (streq (format, "csv"))
            printf ("advisory,revision,title,deadline,agent,org,sector,class,"
                    "cii,contact,state,acked_at,ledgered_at,reason\n");
        else
        if (streq (format, "json"))
            printf ("[");
        else
        if (zlistx_size (report.advisories) == 0)
            printf ("no accepted advisories\n");
        bool first = true;
        size_t done = 0;
        for (s_advisory_t *advisory = (s_advisory_t *)
             zlistx_first (report.advisories); advisory;
             advisory = (s_advisory_t *) zlistx_next (report.advisories)) {
            rc = s_fold_acks (store, advisory);
            if (rc)
                break;
            if (streq (format, "csv"))
                s_print_csv (advisory, agents, agent_count);
            else
            if (streq (format, "json"))
                s_print_json (advisory, roster, agents, agent_count, first);
            else
                s_print_table (advisory, roster, agents, agent_count);
            first = false;
            zhashx_purge (advisory->acks);
            cmd_progress ("compliance", ++done,
                          zlistx_size (report.advisories), "advisories");
        }
        if (rc)
            exit_code = cmd_fail ("compliance", "cannot read %s: %s", data,
                                  mdb_strerror (rc));
        else
        if (streq (format, "json"))
            printf ("%s]\n", first? "": "\n");
        free (agents);
    }
    cc_store_destroy (&store);
    zhashx_destroy (&roster);
    zlistx_destroy (&report.advisories);
    zlistx_destroy (&report.silent);
    zhashx_destroy (&report.heard);
    cc_config_destroy (&config);
    return exit_code;
}
