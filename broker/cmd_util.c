/*  cmd_util.c - helpers shared by the certcast subcommands: one-line
    errors, JSON and CSV escaping, time formatting, key and store opening,
    the roster copied out of LMDB, and the one control-channel
    request/reply that `publish` and `status` both make.

    Nothing here keeps state between calls. Every function that returns
    memory says who frees it.
*/
#include "cmd.h"
#include <stdarg.h>
#include <sys/stat.h>

static void
s_vprint (const char *command, const char *format, va_list args)
{
    fprintf (stderr, "certcast %s: ", command);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
}

int
cmd_fail (const char *command, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vprint (command, format, args);
    va_end (args);
    return 1;
}

int
cmd_usage_error (const char *command, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vprint (command, format, args);
    va_end (args);
    return 2;
}


//  --------------------------------------------------------------------------
//  Text from others: UTF-8 checked, controls made harmless

//  Bytes in the valid UTF-8 sequence at text (1 to 4), 0 if none starts
//  there. protobuf-c does not check the strings it decodes, and a roster
//  field cut to its size may end inside a character.
static size_t
s_utf8_length (const unsigned char *text)
{
    unsigned char lead = text [0];
    if (lead < 0x80)
        return 1;
    size_t length = lead >= 0xc2 && lead <= 0xdf? 2:
                    lead >= 0xe0 && lead <= 0xef? 3:
                    lead >= 0xf0 && lead <= 0xf4? 4: 0;
    //  The second byte's range rules out overlong forms and surrogates.
    unsigned char low = lead == 0xe0? 0xa0: lead == 0xf0? 0x90: 0x80;
    unsigned char high = lead == 0xed? 0x9f: lead == 0xf4? 0x8f: 0xbf;
    if (length && (text [1] < low || text [1] > high))
        return 0;
    for (size_t index = 2; index < length; index++)
        if ((text [index] & 0xc0) != 0x80)
            return 0;
    return length;
}

static const char s_replacement [] = "\xef\xbf\xbd";     //  U+FFFD

//  The control characters a terminal acts on: C0, DEL, and C1 (U+0080 to
//  U+009F, two bytes in UTF-8); and the bidirectional embeddings,
//  overrides and isolates (U+202A to U+202E, U+2066 to U+2069, three
//  bytes), with which a name reorders the rest of its line on a terminal
//  or in a spreadsheet (Urdu needs none of them: right-to-left text is
//  shown right to left without). 1 to 3 bytes, or 0.
static size_t
s_control_length (const unsigned char *text)
{
    if (text [0] < 0x20 || text [0] == 0x7f)
        return 1;
    if (text [0] == 0xc2 && text [1] >= 0x80 && text [1] <= 0x9f)
        return 2;
    if (text [0] == 0xe2
    && ((text [1] == 0x80 && text [2] >= 0xaa && text [2] <= 0xae)
    ||  (text [1] == 0x81 && text [2] >= 0xa6 && text [2] <= 0xa9)))
        return 3;
    return 0;
}

//  keep_breaks: line breaks and tabs stay (a quoted CSV cell holds them).
static char *
s_text_safe (const char *text, bool keep_breaks)
{
    const unsigned char *cursor = (const unsigned char *) (text? text: "");
    //  At worst every byte becomes U+FFFD.
    char *safe = (char *) malloc (3 * strlen ((const char *) cursor) + 1);
    assert (safe);
    size_t used = 0;
    while (*cursor) {
        size_t length = s_utf8_length (cursor);
        size_t control = s_control_length (cursor);
        if (keep_breaks && (*cursor == '\n' || *cursor == '\r' || *cursor == '\t'))
            control = 0;
        if (control) {
            safe [used++] = '?';
            cursor += control;
        }
        else
        if (length == 0) {
            memcpy (safe + used, s_replacement, 3);
            used += 3;
            cursor++;
        }
        else {
            memcpy (safe + used, cursor, length);
            used += length;
            cursor += length;
        }
    }
    safe [used] = 0;
    return safe;
}

char *
cmd_text_safe (const char *text)
{
    return s_text_safe (text, false);
}

char *
cmd_text_safe_lines (const char *text)
{
    return s_text_safe (text, true);
}


//  --------------------------------------------------------------------------
//  JSON string literal. Control characters become \uXXXX, C1 and bidi
//  ones too: JSON allows them raw, but a terminal that shows the document
//  acts on U+009B as on ESC [. A byte that is not UTF-8 becomes \ufffd.

void
cmd_json_string (FILE *stream, const char *text)
{
    fputc ('"', stream);
    for (const unsigned char *cursor = (const unsigned char *) (text? text: "");
         *cursor; cursor++) {
        size_t length = s_utf8_length (cursor);
        if (length == 0) {
            fputs ("\\ufffd", stream);
            continue;
        }
        if (length > 1 && s_control_length (cursor) == length) {
            //  Two or three bytes: U+0080 to U+FFFF
            unsigned code = length == 2
                ? (cursor [0] & 0x1fu) << 6 | (cursor [1] & 0x3fu)
                : (cursor [0] & 0x0fu) << 12 | (cursor [1] & 0x3fu) << 6
                  | (cursor [2] & 0x3fu);
            fprintf (stream, "\\u%04x", code);
            cursor += length - 1;
            continue;
        }
        if (length > 1) {
            fwrite (cursor, 1, length, stream);
            cursor += length - 1;
            continue;
        }
        switch (*cursor) {
            case '"':  fputs ("\\\"", stream); break;
            case '\\': fputs ("\\\\", stream); break;
            case '\n': fputs ("\\n", stream); break;
            case '\r': fputs ("\\r", stream); break;
            case '\t': fputs ("\\t", stream); break;
            case '\b': fputs ("\\b", stream); break;
            case '\f': fputs ("\\f", stream); break;
            default:
                if (*cursor < 0x20 || *cursor == 0x7f)
                    fprintf (stream, "\\u%04x", *cursor);
                else
                    fputc (*cursor, stream);
        }
    }
    fputc ('"', stream);
}


//  CSV field: quoted (with doubled quotes) only when it holds a comma,
//  quote or line break, or looks like a formula, so plain values stay
//  readable. "+92-51-1234567", a phone number, is a formula to Excel.
//  A semicolon or tab is quoted too: a spreadsheet whose locale separates
//  lists with ';' (or an import that splits on tabs) would otherwise
//  start a cell after it, and "Org;=1+1" would give a formula there.

void
cmd_csv_field (FILE *stream, const char *text)
{
    char *safe = s_text_safe (text, true);
    bool formula = strchr ("=+-@\t\r", safe [0]) && safe [0];
    if (!formula && !strpbrk (safe, ",;\"\t\r\n")) {
        fputs (safe, stream);
        free (safe);
        return;
    }
    fputc ('"', stream);
    if (formula)
        fputc ('\'', stream);
    for (const char *cursor = safe; *cursor; cursor++) {
        if (*cursor == '"')
            fputc ('"', stream);
        fputc (*cursor, stream);
    }
    fputc ('"', stream);
    free (safe);
}


const char *
cmd_time_iso (int64_t when, char *out, size_t size)
{
    assert (out && size >= 32);
    struct tm tm;
    time_t seconds = (time_t) when;
    if (when == 0 || !gmtime_r (&seconds, &tm)
    ||  strftime (out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf (out, size, "-");
    return out;
}


bool
cmd_sector_valid (const char *text)
{
    if (!text || !*text || strlen (text) >= 64)
        return false;
    for (const char *cursor = text; *cursor; cursor++)
        if (!((*cursor >= 'a' && *cursor <= 'z')
        ||    (*cursor >= '0' && *cursor <= '9') || *cursor == '-'))
            return false;
    return true;
}


bool
cmd_id_chars_valid (const char *text, size_t max)
{
    if (!text || !*text || strlen (text) > max)
        return false;
    for (const char *cursor = text; *cursor; cursor++)
        if (!isalnum ((unsigned char) *cursor) && !strchr ("._:-", *cursor))
            return false;
    return true;
}


bool
cmd_id_prefix_valid (const char *text)
{
    return cmd_id_chars_valid (text, 64);
}


uint64_t
cmd_random64 (void)
{
    uint64_t value = 0;
    while (value == 0)
        if (RAND_bytes ((unsigned char *) &value, sizeof value) != 1)
            value = ((uint64_t) randof (0x7fffffff) << 32)
                  ^ (uint64_t) zclock_usecs ();
    return value;
}


uint8_t *
cmd_file_read (const char *path, size_t max, size_t *size)
{
    assert (path && size);
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    struct stat info;
    if (fstat (fileno (file), &info) == -1 || !S_ISREG (info.st_mode)) {
        fclose (file);
        errno = EINVAL;
        return NULL;
    }
    if ((uint64_t) info.st_size > max) {
        fclose (file);
        errno = EFBIG;
        return NULL;
    }
    //  One more byte than the file should have, to notice it growing
    uint8_t *data = (uint8_t *) malloc ((size_t) info.st_size + 1);
    assert (data);
    size_t got = fread (data, 1, (size_t) info.st_size + 1, file);
    int failed = ferror (file);
    fclose (file);
    if (failed || got > max) {
        free (data);
        errno = failed? EIO: EFBIG;
        return NULL;
    }
    *size = got;
    return data;
}


//  --------------------------------------------------------------------------
//  Enum names, as the operator types them on the command line.

const char *
cmd_severity_name (int severity)
{
    static const char *names [] = {
        "unspecified", "info", "low", "medium", "high", "critical"
    };
    return severity >= 0 && severity <= 5? names [severity]: "unknown";
}

const char *
cmd_tlp_name (int tlp)
{
    static const char *names [] = {
        "unspecified", "clear", "green", "amber", "amber+strict", "red"
    };
    return tlp >= 0 && tlp <= 5? names [tlp]: "unknown";
}

const char *
cmd_ack_status_name (int status)
{
    static const char *names [] = {
        "unspecified", "received", "applied", "not-applicable", "failed"
    };
    return status >= 0 && status <= 4? names [status]: "unknown";
}


//  --------------------------------------------------------------------------
//  Keys and stores

cc_keys_t *
cmd_keys_load (const char *command, const char *what, const char *path,
               bool need_secret)
{
    const char *reason = NULL;
    cc_keys_t *keys = cc_keys_load (path, &reason);
    if (!keys) {
        cmd_fail (command, "cannot load %s %s: %s", what, path,
                  reason? reason: "unreadable");
        return NULL;
    }
    if (need_secret && !cc_keys_has_secret (keys)) {
        cmd_fail (command, "%s %s has no secret key (give the .key file)",
                  what, path);
        cc_keys_destroy (&keys);
    }
    return keys;
}


//  A read-only store must already exist: LMDB would only say ENOENT, so
//  name the missing file ourselves for a clearer one-line error.

void
cmd_progress (const char *command, size_t done, size_t total,
              const char *what)
{
    static int64_t shown_at;
    static int shown = -1;          //  -1: not yet asked whether to show
    if (shown == -1)
        shown = isatty (STDERR_FILENO) && !isatty (STDOUT_FILENO);
    if (!shown || (done != total && zclock_mono () - shown_at < 250))
        return;
    shown_at = zclock_mono ();
    if (total)
        fprintf (stderr, "\r%s: %zu of %zu %s", command, done, total, what);
    else
        fprintf (stderr, "\r%s: %zu %s", command, done, what);
    if (done == total)
        fprintf (stderr, "\n");
}


cc_store_t *
cmd_store_open (const char *command, const char *dir)
{
    char path [4096];
    snprintf (path, sizeof path, "%s/data.mdb", dir);
    if (access (path, R_OK) == -1)
        cmd_fail (command, "cannot open data directory %s: %s", dir,
                  errno == ENOENT? "no certcast data there (data.mdb missing)"
                                 : strerror (errno));
    else {
        char why [256];
        cc_store_t *store = cc_store_open_quiet (dir, CC_STORE_READONLY, 0,
                                                 why, sizeof why);
        if (store)
            return store;
        cmd_fail (command, "cannot open data directory %s: %s", dir, why);
    }
    return NULL;
}


static void
s_member_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

typedef struct {
    zhashx_t *roster;
    cc_store_t *store;
    MDB_txn *txn;
} s_roster_load_t;

//  Copy one decoded entry: it is valid only during the callback, and LMDB
//  memory only until the transaction ends.
static void
s_roster_copy (const Certcast__RosterEntry *entry, void *arg)
{
    s_roster_load_t *load = (s_roster_load_t *) arg;
    if (entry->sign_key.len != 32)
        return;
    cc_member_t *member = (cc_member_t *) zmalloc (sizeof (cc_member_t));
    assert (member);
    memcpy (member->sign_key, entry->sign_key.data, 32);
    snprintf (member->name, sizeof member->name, "%s", entry->name);
    snprintf (member->role, sizeof member->role, "%s", entry->role);
    snprintf (member->org, sizeof member->org, "%s", entry->org);
    snprintf (member->sector, sizeof member->sector, "%s", entry->sector);
    snprintf (member->entity_class, sizeof member->entity_class, "%s",
              entry->entity_class);
    member->cii = entry->cii;
    snprintf (member->contact, sizeof member->contact, "%s", entry->contact);
    snprintf (member->via, sizeof member->via, "%s", entry->via? entry->via: "");
    member->enrolled_at = cc_roster_enrolled (load->store, load->txn,
                                              member->sign_key);
    char hex [65];
    cc_hex_encode (member->sign_key, 32, hex);
    zhashx_update (load->roster, hex, member);
}

zhashx_t *
cmd_roster_load (const char *command, cc_store_t *store, MDB_txn *txn)
{
    zhashx_t *roster = zhashx_new ();
    assert (roster);
    zhashx_set_destructor (roster, s_member_destroy);
    s_roster_load_t load = { roster, store, txn };
    int rc = cc_roster_each (store, txn, s_roster_copy, &load);
    if (rc && rc != MDB_NOTFOUND) {
        cmd_fail (command, "cannot read roster: %s", mdb_strerror (rc));
        zhashx_destroy (&roster);
    }
    return roster;
}


//  --------------------------------------------------------------------------
//  One request/reply on a broker's control channel.
//
//  The broker's ZAP handler refuses a key that is not in its allow directory
//  during the CURVE handshake, and libzmq then just retries in silence. We
//  watch the socket's handshake events so an operator whose key is not
//  enrolled hears that at once, instead of a timeout that looks like a
//  dead broker.

static const char *
s_monitor_event (zsock_t *monitor, uint32_t *value)
{
    zmsg_t *msg = zmsg_recv (monitor);
    if (!msg)
        return NULL;
    const char *what = NULL;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) == 6) {
        const uint8_t *data = zframe_data (frame);
        uint16_t event;
        memcpy (&event, data, 2);
        memcpy (value, data + 2, 4);
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            what = "our key is not enrolled there (CURVE authentication "
                   "refused)";
        else
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            what = "CURVE handshake failed (wrong --server-pub?)";
    }
    zmsg_destroy (&msg);
    return what;
}

int
cmd_request (const cmd_peer_t *peer, Certcast__Control *request,
             cmd_reply_fn *fn, void *arg)
{
    assert (peer && peer->key && request && fn);
    char host [256];
    int port = 0;
    if (cc_config_endpoint (peer->endpoint, host, &port))
        return cmd_usage_error (peer->command,
                                "--to must be HOST:PORT, not '%s'",
                                peer->endpoint? peer->endpoint: "");
    cc_keys_t *server = cmd_keys_load (peer->command, "server key",
                                       peer->server_pub, false);
    if (!server)
        return 1;

    zsock_t *dealer = cc_keys_client (peer->key, ZMQ_DEALER,
                                      cc_keys_curve_public (server));
    cc_keys_destroy (&server);

    char monitor_endpoint [64];
    snprintf (monitor_endpoint, sizeof monitor_endpoint,
              "inproc://certcast-monitor-%p", (void *) dealer);
    int rc = zmq_socket_monitor (zsock_resolve (dealer), monitor_endpoint,
                                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    assert (rc == 0);
    zsock_t *monitor = zsock_new_pair (monitor_endpoint);
    assert (monitor);

    int result = 1;
    zpoller_t *poller = NULL;
    if (zsock_connect (dealer, "tcp://%s:%d", host, port + 1) == -1) {
        cmd_fail (peer->command, "cannot connect to %s: %s", peer->endpoint,
                  zmq_strerror (zmq_errno ()));
        goto done;
    }
    uint64_t corr = cmd_random64 ();
    request->corr = corr;
    zframe_t *frame = cc_wire_control_encode (request);
    //  A connected DEALER queues the frame until the handshake completes;
    //  once a refused handshake has torn the pipe down it would block
    //  forever, so the send shares the answer's deadline.
    zsock_set_sndtimeo (dealer, (int) (peer->timeout * 1000));
    if (zframe_send (&frame, dealer, 0) == -1) {
        zframe_destroy (&frame);
        uint32_t value = 0;
        const char *what = zsock_events (monitor) & ZMQ_POLLIN?
            s_monitor_event (monitor, &value): NULL;
        if (what)
            cmd_fail (peer->command, "refused by %s: %s%s", peer->endpoint,
                      what, peer->timeout_note? peer->timeout_note: "");
        else
            cmd_fail (peer->command, "no answer from %s within %" PRId64
                      "s%s", peer->endpoint, peer->timeout,
                      peer->timeout_note? peer->timeout_note: "");
        goto done;
    }
    poller = zpoller_new (dealer, monitor, NULL);
    assert (poller);
    int64_t deadline = zclock_mono () + peer->timeout * 1000;
    while (true) {
        int64_t remaining = deadline - zclock_mono ();
        void *which = remaining > 0
                    ? zpoller_wait (poller, (int) remaining): NULL;
        if (which == monitor) {
            uint32_t value = 0;
            const char *what = s_monitor_event (monitor, &value);
            if (what) {
                cmd_fail (peer->command, "refused by %s: %s%s",
                          peer->endpoint, what,
                          peer->timeout_note? peer->timeout_note: "");
                break;
            }
            continue;
        }
        if (which == NULL) {
            if (zpoller_terminated (poller))
                cmd_fail (peer->command, "interrupted%s",
                          peer->timeout_note? peer->timeout_note: "");
            else
                cmd_fail (peer->command, "no answer from %s within %" PRId64
                          "s%s", peer->endpoint, peer->timeout,
                          peer->timeout_note? peer->timeout_note: "");
            break;
        }
        frame = zframe_recv (dealer);
        Certcast__Control *reply = frame? cc_wire_control_decode (frame): NULL;
        zframe_destroy (&frame);
        if (!reply)
            continue;           //  not a Control: not the answer we wait for
        if (reply->corr != corr) {
            certcast__control__free_unpacked (reply, NULL);
            continue;           //  a late answer to someone else's request
        }
        if (reply->body_case == CERTCAST__CONTROL__BODY_ERROR) {
            const Certcast__Error *error = reply->error;
            cmd_fail (peer->command, "refused: %s: %s",
                      cc_strerror (error->code),
                      error->reason && *error->reason? error->reason
                                                     : "no reason given");
            result = 1;
        }
        else
            result = fn (reply, arg);
        certcast__control__free_unpacked (reply, NULL);
        break;
    }
done:
    zpoller_destroy (&poller);
    zmq_socket_monitor (zsock_resolve (dealer), NULL, 0);
    zsock_destroy (&monitor);
    zsock_destroy (&dealer);
    return result;
}


//  --------------------------------------------------------------------------
//  Plain-text tables

struct _cmd_table_t {
    size_t columns;             //  cells per row
    zlistx_t *rows;             //  char ** arrays of `columns` strings; owned
};

cmd_table_t *
cmd_table_new (size_t columns)
{
    assert (columns > 0);
    cmd_table_t *self = (cmd_table_t *) zmalloc (sizeof (cmd_table_t));
    assert (self);
    self->columns = columns;
    self->rows = zlistx_new ();
    assert (self->rows);
    return self;
}

void
cmd_table_destroy (cmd_table_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cmd_table_t *self = *self_p;
        for (char **row = (char **) zlistx_first (self->rows); row;
             row = (char **) zlistx_next (self->rows)) {
            for (size_t column = 0; column < self->columns; column++)
                free (row [column]);
            free (row);
        }
        zlistx_destroy (&self->rows);
        free (self);
        *self_p = NULL;
    }
}

void
cmd_table_add (cmd_table_t *self, const char **cells)
{
    assert (self && cells);
    char **row = (char **) zmalloc (self->columns * sizeof (char *));
    assert (row);
    for (size_t column = 0; column < self->columns; column++)
        row [column] = cmd_text_safe (cells [column]);
    zlistx_add_end (self->rows, row);
}

size_t
cmd_table_rows (cmd_table_t *self)
{
    assert (self);
    return zlistx_size (self->rows);
}

void
cmd_table_print (cmd_table_t *self, FILE *stream, const char *indent)
{
    assert (self);
    size_t *widths = (size_t *) zmalloc (self->columns * sizeof (size_t));
    assert (widths);
    for (char **row = (char **) zlistx_first (self->rows); row;
         row = (char **) zlistx_next (self->rows))
        for (size_t column = 0; column < self->columns; column++)
            if (strlen (row [column]) > widths [column])
                widths [column] = strlen (row [column]);
    for (char **row = (char **) zlistx_first (self->rows); row;
         row = (char **) zlistx_next (self->rows)) {
        //  Pad every cell but the last non-empty one, so no line ends
        //  in blanks
        size_t last = self->columns;
        while (last > 1 && !*row [last - 1])
            last--;
        fputs (indent? indent: "", stream);
        for (size_t column = 0; column < last; column++) {
            if (column + 1 == last)
                fprintf (stream, "%s", row [column]);
            else
                fprintf (stream, "%-*s  ", (int) widths [column],
                         row [column]);
        }
        fputc ('\n', stream);
    }
    free (widths);
}
