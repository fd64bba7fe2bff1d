/*  cc_handoff.c - hand a committed advisory to the host: log line, spool
    file, command (see cc_handoff.h for the promises and the JSON).

    The agent calls this only after the advisory is committed to its inbox
    together with a handoff marker, and deletes the marker afterwards; a
    crash in between replays the hand-over on restart. So hand-over is at
    least once, and everything here is written to be harmless when
    repeated: the spool file has a fixed name and fixed content, and is
    replaced atomically (write temp, sync its data, rename, sync the
    directory); a batch of advisories shares those syncs.

    The command runs through posix_spawn, not fork, because the agent is
    a multi-threaded czmq process. It gets SIGPIPE back at its default
    disposition and an empty signal mask; our own writes to its stdin
    block SIGPIPE in this thread and treat EPIPE as "the command did not
    want the rest".
*/
#include "cc_agents.h"
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

struct _cc_handoff_t {
    char *spool_dir;                //  NULL: no spool
    char *exec_cmd;                 //  NULL: no command
    atomic_bool stopping;           //  set by the agent, read by the thread
    uint64_t delivered;             //  hand-overs done
    uint64_t spool_failures;        //  spool files not written
    uint64_t exec_failures;         //  commands that did not exit 0
};


//  --------------------------------------------------------------------------
//  Names

const char *
cc_handoff_severity_name (int severity)
{
    static const char *names [] = {
        "unspecified", "info", "low", "medium", "high", "critical"
    };
    return severity >= 0 && severity <= 5? names [severity]: "unknown";
}

const char *
cc_handoff_tlp_name (int tlp)
{
    static const char *names [] = {
        "unspecified", "clear", "green", "amber", "amber+strict", "red"
    };
    return tlp >= 0 && tlp <= 5? names [tlp]: "unknown";
}

const char *
cc_handoff_kind_name (int kind)
{
    static const char *names [] = {
        "unspecified", "security-announcement", "technology-update",
        "audit-notice", "trust-update"
    };
    return kind >= 0 && kind <= 4? names [kind]: "unknown";
}


//  --------------------------------------------------------------------------
//  A growing text buffer for the JSON document

typedef struct {
    char *data;
    size_t size;
    size_t limit;
} s_text_t;

static void
s_text_reserve (s_text_t *text, size_t more)
{
    if (text->size + more + 1 > text->limit) {
        size_t limit = text->limit? text->limit: 1024;
        while (text->size + more + 1 > limit)
            limit *= 2;
        text->data = (char *) realloc (text->data, limit);
        assert (text->data);
        text->limit = limit;
    }
}

static void
s_text_add (s_text_t *text, const char *data, size_t size)
{
    s_text_reserve (text, size);
    memcpy (text->data + text->size, data, size);
    text->size += size;
    text->data [text->size] = '\0';
}

static void
s_text_printf (s_text_t *text, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *formatted = zsys_vprintf (format, args);
    va_end (args);
    assert (formatted);
    s_text_add (text, formatted, strlen (formatted));
    free (formatted);
}

//  Length of the valid UTF-8 sequence at data (1..4), or 0 if none.
static size_t
s_utf8_sequence (const uint8_t *data, size_t size)
{
    uint8_t lead = data [0];
    size_t length;
    uint32_t point;
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        point = lead & 0x1F;
    }
    else
    if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        point = lead & 0x0F;
    }
    else
    if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        point = lead & 0x07;
    }
    else
        return 0;
    if (length > size)
        return 0;
    for (size_t index = 1; index < length; index++) {
        if ((data [index] & 0xC0) != 0x80)
            return 0;
        point = (point << 6) | (data [index] & 0x3F);
    }
    //  Refuse overlong forms, surrogates and anything past U+10FFFF.
    if ((length == 3 && point < 0x800)
    ||  (length == 4 && (point < 0x10000 || point > 0x10FFFF))
    ||  (point >= 0xD800 && point <= 0xDFFF))
        return 0;
    return length;
}

//  True if data is UTF-8 text we can carry as a JSON string: valid
//  sequences and no NUL (a NUL would surprise every consumer's C code).
static bool
s_is_text (const uint8_t *data, size_t size)
{
    size_t offset = 0;
    while (offset < size) {
        if (data [offset] == 0)
            return false;
        size_t length = s_utf8_sequence (data + offset, size - offset);
        if (length == 0)
            return false;
        offset += length;
    }
    return true;
}

//  A JSON string. Bytes that are not valid UTF-8 become U+FFFD, so the
//  document stays valid JSON whatever an issuer put in a string field.
static void
s_text_string (s_text_t *text, const uint8_t *data, size_t size)
{
    s_text_reserve (text, size + 2);
    s_text_add (text, "\"", 1);
    size_t offset = 0;
    while (offset < size) {
        uint8_t byte = data [offset];
        if (byte == '"')
            s_text_add (text, "\\\"", 2);
        else
        if (byte == '\\')
            s_text_add (text, "\\\\", 2);
        else
        if (byte == '\n')
            s_text_add (text, "\\n", 2);
        else
        if (byte == '\r')
            s_text_add (text, "\\r", 2);
        else
        if (byte == '\t')
            s_text_add (text, "\\t", 2);
        else
        if (byte < 0x20 || byte == 0x7F)
            s_text_printf (text, "\\u%04x", byte);
        else
        if (byte < 0x80)
            s_text_add (text, (const char *) &byte, 1);
        else {
            size_t length = s_utf8_sequence (data + offset, size - offset);
            if (length == 0) {
                s_text_add (text, "\\ufffd", 6);
                length = 1;
            }
            else
                s_text_add (text, (const char *) data + offset, length);
            offset += length;
            continue;
        }
        offset++;
    }
    s_text_add (text, "\"", 1);
}

static void
s_text_cstring (s_text_t *text, const char *string)
{
    if (!string)
        string = "";
    s_text_string (text, (const uint8_t *) string, strlen (string));
}

static void
s_text_key (s_text_t *text, const char *key, bool first)
{
    s_text_printf (text, "%s\n  \"%s\": ", first? "": ",", key);
}

static void
s_text_strings (s_text_t *text, char **strings, size_t count)
{
    s_text_add (text, "[", 1);
    for (size_t index = 0; index < count; index++) {
        if (index)
            s_text_add (text, ", ", 2);
        s_text_cstring (text, strings [index]);
    }
    s_text_add (text, "]", 1);
}

static void
s_text_base64 (s_text_t *text, const uint8_t *data, size_t size)
{
    size_t encoded = 4 * ((size + 2) / 3);
    s_text_reserve (text, encoded + 2);
    s_text_add (text, "\"", 1);
    //  EVP_EncodeBlock takes an int length; bodies are capped far below.
    assert (size <= CC_WIRE_MAX_SIGNED);
    int written = EVP_EncodeBlock ((unsigned char *) text->data + text->size,
                                   data, (int) size);
    assert (written >= 0 && (size_t) written == encoded);
    text->size += (size_t) written;
    text->data [text->size] = '\0';
    s_text_add (text, "\"", 1);
}


//  --------------------------------------------------------------------------
//  JSON

char *
cc_handoff_json (cc_advisory_t *advisory, const char *stream, uint64_t seq,
                 int64_t received_at)
{
    assert (advisory && stream);
    const Certcast__Advisory *content = cc_advisory_content (advisory);
    s_text_t text = { NULL, 0, 0 };
    s_text_add (&text, "{", 1);
    s_text_key (&text, "id", true);
    s_text_cstring (&text, content->id);
    s_text_key (&text, "revision", false);
    s_text_printf (&text, "%u", content->revision);
    s_text_key (&text, "kind", false);
    s_text_cstring (&text, cc_handoff_kind_name (content->kind));
    s_text_key (&text, "severity", false);
    s_text_cstring (&text, cc_handoff_severity_name (content->severity));
    s_text_key (&text, "tlp", false);
    s_text_cstring (&text, cc_handoff_tlp_name (content->tlp));
    s_text_key (&text, "all_sectors", false);
    s_text_printf (&text, "%s", content->all_sectors? "true": "false");
    s_text_key (&text, "sectors", false);
    s_text_strings (&text, content->sectors, content->n_sectors);
    s_text_key (&text, "title", false);
    s_text_cstring (&text, content->title);
    s_text_key (&text, "summary", false);
    s_text_cstring (&text, content->summary);
    s_text_key (&text, "content_type", false);
    s_text_cstring (&text, content->content_type);
    bool is_text = s_is_text (content->body.data, content->body.len);
    s_text_key (&text, "body_encoding", false);
    s_text_cstring (&text, is_text? "utf-8": "base64");
    s_text_key (&text, "body", false);
    if (is_text)
        s_text_string (&text, content->body.data, content->body.len);
    else
        s_text_base64 (&text, content->body.data, content->body.len);
    s_text_key (&text, "cves", false);
    s_text_strings (&text, content->cves, content->n_cves);
    s_text_key (&text, "references", false);
    s_text_strings (&text, content->references, content->n_references);
    s_text_key (&text, "artifacts", false);
    s_text_add (&text, "[", 1);
    for (size_t index = 0; index < content->n_artifacts; index++) {
        const Certcast__Artifact *artifact = content->artifacts [index];
        char digest [65] = "";
        if (artifact->sha256.len == 32)
            cc_hex_encode (artifact->sha256.data, 32, digest);
        s_text_printf (&text, "%s{\"name\": ", index? ", ": "");
        s_text_cstring (&text, artifact->name);
        s_text_printf (&text, ", \"size\": %" PRIu64 ", \"sha256\": \"%s\", "
                       "\"url\": ", artifact->size, digest);
        s_text_cstring (&text, artifact->url);
        s_text_add (&text, "}", 1);
    }
    s_text_add (&text, "]", 1);
    s_text_key (&text, "issued_at", false);
    s_text_printf (&text, "%" PRId64, content->issued_at);
    s_text_key (&text, "expires_at", false);
    s_text_printf (&text, "%" PRId64, content->expires_at);
    s_text_key (&text, "ack_deadline", false);
    s_text_printf (&text, "%" PRId64, content->ack_deadline);
    s_text_key (&text, "issuer", false);
    s_text_cstring (&text, content->issuer);
    //  `issuer` is the issuer's own word: any issuer may write "PK-NCERT"
    //  there (it is the name in its key file, which nobody signs). What
    //  the root vouched for is the delegation's name and the key that
    //  signed, so a host can tell the National CERT from a sectoral one.
    const Certcast__Delegation *delegation =
        cc_advisory_delegation (advisory);
    s_text_key (&text, "delegated_issuer", false);
    s_text_cstring (&text, delegation->issuer_name);
    char issuer_key [65];
    cc_hex_encode (cc_advisory_issuer_key (advisory), 32, issuer_key);
    s_text_key (&text, "issuer_key", false);
    s_text_cstring (&text, issuer_key);
    s_text_key (&text, "supersedes", false);
    s_text_cstring (&text, content->supersedes);
    s_text_key (&text, "stream", false);
    s_text_cstring (&text, stream);
    s_text_key (&text, "seq", false);
    s_text_printf (&text, "%" PRIu64, seq);
    s_text_key (&text, "received_at", false);
    s_text_printf (&text, "%" PRId64, received_at);
    char digest [65];
    cc_hex_encode (cc_advisory_digest (advisory), 32, digest);
    s_text_key (&text, "sha256", false);
    s_text_cstring (&text, digest);
    s_text_add (&text, "\n}\n", 3);
    return text.data;
}


//  --------------------------------------------------------------------------
//  Object

cc_handoff_t *
cc_handoff_new (const char *spool_dir, const char *exec_cmd)
{
    if (spool_dir) {
        struct stat info;
        if (stat (spool_dir, &info)) {
            if (zsys_dir_create ("%s", spool_dir)) {
                fprintf (stderr, "certcast-agent: --spool %s: cannot create: "
                         "%s\n", spool_dir, strerror (errno));
                return NULL;
            }
            //  czmq creates it 0775: ids of TLP:RED advisories are no
            //  business of every local user.
            chmod (spool_dir, CC_HANDOFF_SPOOL_MODE);
        }
        if (stat (spool_dir, &info) || !S_ISDIR (info.st_mode)
        ||  access (spool_dir, W_OK | X_OK)) {
            fprintf (stderr, "certcast-agent: --spool %s: not a writable "
                     "directory\n", spool_dir);
            return NULL;
        }
    }
    cc_handoff_t *self = (cc_handoff_t *) zmalloc (sizeof (cc_handoff_t));
    self->spool_dir = spool_dir? strdup (spool_dir): NULL;
    self->exec_cmd = exec_cmd && *exec_cmd? strdup (exec_cmd): NULL;
    return self;
}

void
cc_handoff_destroy (cc_handoff_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_handoff_t *self = *self_p;
        free (self->exec_cmd);
        free (self->spool_dir);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Spool: write every temp file of a batch, make their data durable, rename
//  them into place, sync the directory once. The temporary name starts
//  with '.' and does not end in .json, so a consumer that watches for
//  *.json never picks up a half-written file, and a file is renamed only
//  once its data is on disk, so a crash cannot leave a short file under
//  its final name.
//
//  Data sync: each fdatasync here costs a device cache flush (~0.45 ms on
//  ext4 over virtio, measured), so a catch-up batch of hundreds of files
//  was bounded by flushes. From SYNCFS_FROM files on, one syncfs of the
//  spool's filesystem makes all of them durable with one flush (256
//  files: ~20-40 ms instead of ~200). But syncfs also waits for every
//  other process's dirty data on that filesystem, so only a real
//  catch-up batch uses it; live traffic, even grouped under load, keeps
//  the targeted per-file fdatasync.

#define SYNCFS_FROM     32

typedef struct {
    char *path;                     //  final name
    char *temp;                     //  temporary name
    bool written;                   //  temp complete (and synced if small)
    int error;                      //  errno of what failed, 0: none
} s_spool_file_t;

static int
s_write_all (int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t written = write (fd, data, size);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return -1;
        data += written;
        size -= (size_t) written;
    }
    return 0;
}

//  Advisory ids are printable ASCII without spaces (cc_advisory), and
//  "PK/2026/1" is a natural one. The file name must be one name per id
//  (ids that differ only in '/' against '_' used to share a file, and the
//  later advisory silently replaced the earlier), stay in the directory
//  and fit NAME_MAX with the temp file's dot and ".tmp". So '/', '%' and
//  '~' (and a leading '.') are written %XX; an id whose escaped name is
//  still too long keeps its first part and adds '~' and 16 hex digits of
//  its SHA-256, a name no escaped id can have as it holds a raw '~'.
#define SPOOL_NAME_MAX  (NAME_MAX - 5)  //  room for "." and ".tmp"

static void
s_spool_name (const char *id, uint32_t revision, char *name, size_t size)
{
    assert (size > SPOOL_NAME_MAX);
    char suffix [32];
    snprintf (suffix, sizeof suffix, "-r%" PRIu32 ".json", revision);
    size_t room = SPOOL_NAME_MAX - strlen (suffix);
    size_t length = 0, cut = 0;
    bool fits = true;
    for (const char *cursor = id; *cursor && fits; cursor++) {
        bool escape = *cursor == '/' || *cursor == '%' || *cursor == '~'
                   || (cursor == id && *cursor == '.');
        size_t width = escape? 3: 1;
        //  Where the hashed form cuts: leaves room for '~' + 16 digits.
        if (length + width <= room - 17)
            cut = length + width;
        if (length + width > room)
            fits = false;
        else
        if (escape)
            length += (size_t) snprintf (name + length, size - length,
                                         "%%%02X", (unsigned char) *cursor);
        else
            name [length++] = *cursor;
    }
    if (!fits) {
        uint8_t digest [32];
        char hex [65];
        cc_sha256 ((const uint8_t *) id, strlen (id), digest);
        cc_hex_encode (digest, 8, hex);
        length = cut + (size_t) snprintf (name + cut, size - cut, "~%s", hex);
    }
    snprintf (name + length, size - length, "%s", suffix);
}

static void
s_spool_names (cc_handoff_t *self, const Certcast__Advisory *content,
               s_spool_file_t *file)
{
    char name [NAME_MAX + 1];
    s_spool_name (content->id, content->revision, name, sizeof name);
    file->path = zsys_sprintf ("%s/%s", self->spool_dir, name);
    file->temp = zsys_sprintf ("%s/.%s.tmp", self->spool_dir, name);
}

//  Write one temp file whole; fdatasync it too unless the batch's syncfs
//  will. The descriptor is closed either way: a 256-advisory batch must
//  not hold 256 of them.
//
//  The temp file is always a new one (O_EXCL, after removing what has its
//  name): the spool's readers may write the directory (they empty it),
//  and a symlink or hard link they left under a temp name was followed,
//  so the agent truncated and overwrote a file of its own (its key, its
//  inbox) with an issuer's document. One planted between the unlink and
//  the open fails the write, which is tried again later.
static void
s_spool_write (s_spool_file_t *file, const char *json, bool sync_now)
{
    unlink (file->temp);
    int fd = open (file->temp,
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    file->written = fd >= 0
                 && s_write_all (fd, json, strlen (json)) == 0
                 && (!sync_now || fdatasync (fd) == 0);
    if (!file->written)
        file->error = errno;
    if (fd >= 0 && close (fd) && file->written) {
        file->written = false;
        file->error = errno;
    }
}

//  Returns the number of files not made durable under their final name
//  (each logged; its temp file removed).
static size_t
s_spool_batch (cc_handoff_t *self, cc_handoff_item_t *items, size_t count)
{
    s_spool_file_t *files = (s_spool_file_t *) zmalloc (
        count * sizeof (s_spool_file_t));
    //  Opened first: syncfs reports writeback errors seen since this open.
    int dir_fd = open (self->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool batch_sync = count >= SYNCFS_FROM;
    //  Each document is rendered just before its file is written and let
    //  go after: an advisory of 1 MiB of control characters is a 6 MiB
    //  document, and a catch-up group holds up to 1,024 advisories.
    for (size_t index = 0; index < count && dir_fd >= 0; index++) {
        cc_handoff_item_t *item = &items [index];
        s_spool_names (self, cc_advisory_content (item->advisory),
                       &files [index]);
        char *json = cc_handoff_json (item->advisory, item->stream,
                                      item->seq, item->received_at);
        s_spool_write (&files [index], json, !batch_sync);
        free (json);
    }
    bool synced = dir_fd >= 0 && (!batch_sync || syncfs (dir_fd) == 0);
    int error = synced? 0: errno;
    size_t renamed = 0;
    for (size_t index = 0; index < count && synced; index++) {
        s_spool_file_t *file = &files [index];
        if (file->written && rename (file->temp, file->path)) {
            file->written = false;
            file->error = errno;
        }
        renamed += file->written;
    }
    //  The renames are durable only once the directory is synced.
    if (renamed && fsync (dir_fd)) {
        error = errno;
        synced = false;
    }
    size_t failed = 0;
    for (size_t index = 0; index < count; index++) {
        s_spool_file_t *file = &files [index];
        items [index].spool_failed = !synced || !file->written;
        if (items [index].spool_failed) {
            failed++;
            zsys_error ("handoff: cannot write %s: %s", file->path?
                        file->path: self->spool_dir,
                        strerror (error? error: file->error));
            if (file->temp)
                unlink (file->temp);
        }
        free (file->temp);
        free (file->path);
    }
    if (dir_fd >= 0)
        close (dir_fd);
    free (files);
    return failed;
}


//  --------------------------------------------------------------------------
//  Command

//  Feed json to fd within the deadline. EPIPE (the command exited or
//  closed stdin early) is not our failure; the exit status tells. A
//  command that does not read a document larger than the pipe holds us
//  here: we look at the stop flag at least every FEED_SLICE_MS, so a stop
//  kills it at once, as it does one that hangs after reading.
#define FEED_SLICE_MS   50

static void
s_feed (cc_handoff_t *self, int fd, const char *json, int64_t deadline)
{
    sigset_t pipe_set, old_set;
    sigemptyset (&pipe_set);
    sigaddset (&pipe_set, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &pipe_set, &old_set);
    size_t size = strlen (json);
    size_t offset = 0;
    bool broken = false;
    while (offset < size && !atomic_load (&self->stopping)) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        struct pollfd item = { fd, POLLOUT, 0 };
        if (poll (&item, 1, left < FEED_SLICE_MS? (int) left: FEED_SLICE_MS)
            <= 0)
            continue;
        ssize_t written = write (fd, json + offset, size - offset);
        if (written < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (written <= 0) {
            broken = errno == EPIPE;
            break;
        }
        offset += (size_t) written;
    }
    close (fd);
    if (broken) {
        //  Consume the SIGPIPE we caused before unblocking it.
        struct timespec zero = { 0, 0 };
        sigtimedwait (&pipe_set, NULL, &zero);
    }
    pthread_sigmask (SIG_SETMASK, &old_set, NULL);
}

//  0: the command exited 0; -1: it failed (logged); 1: not run or
//  killed because the agent is stopping.
static int
s_exec (cc_handoff_t *self, const Certcast__Advisory *content,
        const char *json)
{
    if (atomic_load (&self->stopping))
        return 1;
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC)) {
        zsys_error ("handoff: cannot run command: pipe: %s", strerror (errno));
        return -1;
    }
    //  Environment: ours plus the three CERTCAST_ variables (ours first
    //  stripped of any stale copies).
    size_t count = 0;
    while (environ [count])
        count++;
    char **env = (char **) zmalloc ((count + 4) * sizeof (char *));
    size_t used = 0;
    for (size_t index = 0; index < count; index++)
        if (strncmp (environ [index], "CERTCAST_ID=", 12)
        &&  strncmp (environ [index], "CERTCAST_REVISION=", 18)
        &&  strncmp (environ [index], "CERTCAST_SEVERITY=", 18))
            env [used++] = environ [index];
    char *id_var = zsys_sprintf ("CERTCAST_ID=%s", content->id);
    char *revision_var = zsys_sprintf ("CERTCAST_REVISION=%u",
                                       content->revision);
    char *severity_var = zsys_sprintf (
        "CERTCAST_SEVERITY=%s", cc_handoff_severity_name (content->severity));
    env [used++] = id_var;
    env [used++] = revision_var;
    env [used++] = severity_var;
    env [used] = NULL;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_adddup2 (&actions, fds [0], STDIN_FILENO);
    //  Nothing of ours past stderr: LMDB opens the inbox's data file
    //  read-write without FD_CLOEXEC, and a command (or what it leaves
    //  running) must not hold, let alone write, the agent's evidence.
    posix_spawn_file_actions_addclosefrom_np (&actions, STDERR_FILENO + 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init (&attr);
    sigset_t signals;
    sigemptyset (&signals);
    posix_spawnattr_setsigmask (&attr, &signals);
    sigaddset (&signals, SIGPIPE);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    posix_spawnattr_setsigdefault (&attr, &signals);
    //  A group of its own, so a kill reaches what the shell started too.
    posix_spawnattr_setpgroup (&attr, 0);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK
                                   | POSIX_SPAWN_SETSIGDEF
                                   | POSIX_SPAWN_SETPGROUP);
    char *argv [] = { (char *) "sh", (char *) "-c", self->exec_cmd, NULL };
    pid_t pid;
    int rc = posix_spawn (&pid, "/bin/sh", &actions, &attr, argv, env);
    posix_spawnattr_destroy (&attr);
    posix_spawn_file_actions_destroy (&actions);
    close (fds [0]);
    free (severity_var);
    free (revision_var);
    free (id_var);
    free (env);
    if (rc) {
        close (fds [1]);
        zsys_error ("handoff: cannot run command: %s", strerror (rc));
        return -1;
    }
    int64_t deadline = zclock_mono () + CC_HANDOFF_EXEC_TIMEOUT;
    fcntl (fds [1], F_SETFL, O_NONBLOCK);
    s_feed (self, fds [1], json, deadline);

    int status = 0;
    bool timed_out = false, stopped = false;
    while (true) {
        pid_t done = waitpid (pid, &status, WNOHANG);
        if (done == pid)
            break;
        if (done < 0 && errno != EINTR) {
            status = -1;
            break;
        }
        //  A stop must not wait out a hanging command (nor the ones
        //  queued behind it): it is killed and runs again at next start.
        if (!timed_out && !stopped && atomic_load (&self->stopping)) {
            kill (-pid, SIGKILL);
            stopped = true;
        }
        if (!timed_out && !stopped && zclock_mono () >= deadline) {
            kill (-pid, SIGKILL);
            timed_out = true;
        }
        zclock_sleep (5);
    }
    if (stopped) {
        zsys_notice ("handoff: command for %s rev %u stopped with the agent; "
                     "it runs again at the next start",
                     content->id, content->revision);
        return 1;
    }
    if (timed_out) {
        zsys_warning ("handoff: command for %s rev %u killed after %d ms",
                      content->id, content->revision, CC_HANDOFF_EXEC_TIMEOUT);
        return -1;
    }
    if (status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return 0;
    if (status != -1 && WIFEXITED (status))
        zsys_warning ("handoff: command for %s rev %u exited %d",
                      content->id, content->revision, WEXITSTATUS (status));
    else
    if (status != -1 && WIFSIGNALED (status))
        zsys_warning ("handoff: command for %s rev %u killed by signal %d",
                      content->id, content->revision, WTERMSIG (status));
    else
        zsys_warning ("handoff: command for %s rev %u: lost its status",
                      content->id, content->revision);
    return -1;
}


//  --------------------------------------------------------------------------
//  Hand over

//  The log line; the title is the issuer's text: one line stays one line.
static void
s_log (const Certcast__Advisory *content)
{
    char title [201];
    snprintf (title, sizeof title, "%s", content->title? content->title: "");
    for (char *cursor = title; *cursor; cursor++)
        if ((unsigned char) *cursor < 0x20 || *cursor == 0x7F)
            *cursor = ' ';
    zsys_notice ("advisory %s rev %u [%s] %s", content->id, content->revision,
                 cc_handoff_severity_name (content->severity), title);
}

//  Write and count the spool files of items (a spool is configured).
static size_t
s_spool_items (cc_handoff_t *self, cc_handoff_item_t *items, size_t count)
{
    size_t failed = s_spool_batch (self, items, count);
    self->spool_failures += failed;
    return failed;
}

//  Log lines first, then every spool file durable; the commands come
//  after (cc_handoff_exec_batch): a command may look for the spool file
//  of its advisory.
size_t
cc_handoff_spool_batch (cc_handoff_t *self, cc_handoff_item_t *items,
                        size_t count)
{
    assert (self && (items || count == 0));
    for (size_t index = 0; index < count; index++) {
        cc_handoff_item_t *item = &items [index];
        assert (item->advisory && item->stream);
        item->spool_failed = false;
        item->exec_skipped = false;
        s_log (cc_advisory_content (item->advisory));
    }
    return self->spool_dir && count > 0? s_spool_items (self, items, count):
                                          0;
}

void
cc_handoff_exec_batch (cc_handoff_t *self, cc_handoff_item_t *items,
                       size_t count)
{
    assert (self && (items || count == 0));
    for (size_t index = 0; index < count && self->exec_cmd; index++) {
        cc_handoff_item_t *item = &items [index];
        char *json = cc_handoff_json (item->advisory, item->stream,
                                      item->seq, item->received_at);
        int rc = s_exec (self, cc_advisory_content (item->advisory), json);
        free (json);
        item->exec_skipped = rc > 0;
        if (rc < 0)
            self->exec_failures++;
    }
    self->delivered += count;
}

size_t
cc_handoff_deliver_batch (cc_handoff_t *self, cc_handoff_item_t *items,
                          size_t count)
{
    size_t failed = cc_handoff_spool_batch (self, items, count);
    cc_handoff_exec_batch (self, items, count);
    return failed;
}

bool
cc_handoff_has_command (cc_handoff_t *self)
{
    assert (self);
    return self->exec_cmd != NULL;
}

void
cc_handoff_stop (cc_handoff_t *self)
{
    assert (self);
    atomic_store (&self->stopping, true);
}

size_t
cc_handoff_respool_batch (cc_handoff_t *self, cc_handoff_item_t *items,
                          size_t count)
{
    assert (self && (items || count == 0));
    return self->spool_dir && count > 0? s_spool_items (self, items, count):
                                          0;
}

int
cc_handoff_deliver (cc_handoff_t *self, cc_advisory_t *advisory,
                    const char *stream, uint64_t seq, int64_t received_at)
{
    cc_handoff_item_t item = { advisory, stream, seq, received_at, false,
                               false };
    return cc_handoff_deliver_batch (self, &item, 1)? -1: 0;
}

uint64_t
cc_handoff_delivered (cc_handoff_t *self)
{
    return self->delivered;
}

uint64_t
cc_handoff_spool_failures (cc_handoff_t *self)
{
    return self->spool_failures;
}

uint64_t
cc_handoff_exec_failures (cc_handoff_t *self)
{
    return self->exec_failures;
}


//  --------------------------------------------------------------------------
//  Self-test

//  A signed advisory from a fresh root and issuer (see cc_handoff.h),
//  expiring at expires_at (0: never).
static cc_advisory_t *
s_test_advisory (const char *id, const char *title, const uint8_t *body,
                 size_t body_size, int64_t expires_at, uint8_t *root_key)
{
    cc_keys_t *root = cc_keys_generate ();
    cc_keys_t *issuer = cc_keys_generate ();
    int64_t now = (int64_t) time (NULL);
    size_t delegation_size = 0;
    uint8_t *delegation = cc_delegation_issue (
        root, cc_keys_sign_public (issuer), "test-issuer", true, NULL,
        now - 3600, now + 3600, 1, &delegation_size);
    assert (delegation);

    Certcast__Advisory content = CERTCAST__ADVISORY__INIT;
    content.id = (char *) id;
    content.revision = 2;
    content.kind = CERTCAST__KIND__SECURITY_ANNOUNCEMENT;
    content.severity = CERTCAST__SEVERITY__CRITICAL;
    content.tlp = CERTCAST__TLP__AMBER_STRICT;
    const char *sectors [] = { "banking", "telecom" };
    content.n_sectors = 2;
    content.sectors = (char **) sectors;
    content.title = (char *) title;
    content.summary = (char *) "Patch \\ now\ttoday";
    content.content_type = (char *) "text/markdown";
    content.body.data = (uint8_t *) body;
    content.body.len = body_size;
    const char *cves [] = { "CVE-2026-0001" };
    content.n_cves = 1;
    content.cves = (char **) cves;
    content.issued_at = now - 60;
    content.expires_at = expires_at;
    content.issuer = (char *) "PK-NCERT";
    size_t advisory_size = 0;
    uint8_t *advisory_bytes = cc_wire_pack (&content.base, &advisory_size);
    size_t signed_size = 0;
    uint8_t *signed_bytes = cc_advisory_sign (issuer, advisory_bytes,
                                              advisory_size, delegation,
                                              delegation_size, &signed_size);
    assert (signed_bytes);
    int code = 0;
    const char *reason = NULL;
    cc_advisory_t *advisory = cc_advisory_open (
        signed_bytes, signed_size, cc_keys_sign_public (root), now,
        CC_AT_DELIVERY, &code, &reason);
    assert (advisory);
    if (root_key)
        memcpy (root_key, cc_keys_sign_public (root), 32);
    free (signed_bytes);
    free (advisory_bytes);
    free (delegation);
    cc_keys_destroy (&issuer);
    cc_keys_destroy (&root);
    return advisory;
}

cc_advisory_t *
cc_handoff_test_advisory (const char *id, const char *title,
                          const uint8_t *body, size_t body_size,
                          uint8_t *root_key)
{
    return s_test_advisory (id, title, body, body_size, 0, root_key);
}

cc_advisory_t *
cc_handoff_test_advisory_expired (const char *id, uint8_t *root_key)
{
    return s_test_advisory (id, "expired", (const uint8_t *) "old", 3,
                            (int64_t) time (NULL) - 1, root_key);
}

static char *
s_test_read (const char *path)
{
    zfile_t *file = zfile_new (NULL, path);
    if (!file || zfile_input (file)) {
        zfile_destroy (&file);
        return NULL;
    }
    zchunk_t *chunk = zfile_read (file, zfile_cursize (file), 0);
    char *text = chunk? zchunk_strdup (chunk): NULL;
    zchunk_destroy (&chunk);
    zfile_destroy (&file);
    return text;
}

static void
s_test_clear_dir (const char *dir)
{
    zdir_t *listing = zdir_new (dir, NULL);
    if (listing) {
        zdir_remove (listing, true);
        zdir_destroy (&listing);
    }
    //  zdir skips dot files: remove any left-over temp file too.
    rmdir (dir);
}

//  Hand over count fresh advisories as one batch into spool and check
//  every file; then the same batch into a spool that vanished fails whole.
static void
s_test_batch (const char *spool, size_t count)
{
    cc_handoff_t *handoff = cc_handoff_new (spool, NULL);
    assert (handoff);
    cc_handoff_item_t *items = (cc_handoff_item_t *) zmalloc (
        count * sizeof (cc_handoff_item_t));
    const uint8_t body [] = "batched body";
    for (size_t index = 0; index < count; index++) {
        char id [32];
        snprintf (id, sizeof id, "PK-BATCH-%zu", index);
        items [index] = (cc_handoff_item_t) {
            cc_handoff_test_advisory (id, "batched", body, sizeof body - 1,
                                      NULL),
            "national/banking", index + 1, 1700000000, false, false
        };
    }
    assert (cc_handoff_deliver_batch (handoff, items, count) == 0);
    assert (cc_handoff_delivered (handoff) == count);
    for (size_t index = 0; index < count; index++) {
        char *json = cc_handoff_json (items [index].advisory,
                                      "national/banking", index + 1,
                                      1700000000);
        char *path = zsys_sprintf ("%s/PK-BATCH-%zu-r2.json", spool, index);
        char *temp = zsys_sprintf ("%s/.PK-BATCH-%zu-r2.json.tmp", spool,
                                   index);
        char *written = s_test_read (path);
        assert (written && streq (written, json));
        assert (access (temp, F_OK) == -1);
        unlink (path);
        zstr_free (&written);
        zstr_free (&temp);
        zstr_free (&path);
        zstr_free (&json);
    }
    //  Nothing is reported durable that is not: a missing spool fails all.
    char *moved = zsys_sprintf ("%s.moved", spool);
    assert (rename (spool, moved) == 0);
    assert (cc_handoff_deliver_batch (handoff, items, count) == count);
    assert (cc_handoff_spool_failures (handoff) == count);
    for (size_t index = 0; index < count; index++)
        assert (items [index].spool_failed);
    assert (rename (moved, spool) == 0);
    zstr_free (&moved);
    //  Once the spool is back, writing those files again succeeds.
    assert (cc_handoff_respool_batch (handoff, items, count) == 0);
    assert (cc_handoff_spool_failures (handoff) == count);
    for (size_t index = 0; index < count; index++) {
        assert (!items [index].spool_failed);
        char *path = zsys_sprintf ("%s/PK-BATCH-%zu-r2.json", spool, index);
        assert (access (path, F_OK) == 0);
        unlink (path);
        zstr_free (&path);
    }
    for (size_t index = 0; index < count; index++)
        cc_advisory_destroy (&items [index].advisory);
    free (items);
    cc_handoff_destroy (&handoff);
}

void
cc_handoff_test (bool verbose)
{
    printf (" * cc_handoff: ");
    assert (streq (cc_handoff_severity_name (CERTCAST__SEVERITY__HIGH),
                   "high"));
    assert (streq (cc_handoff_tlp_name (CERTCAST__TLP__AMBER_STRICT),
                   "amber+strict"));
    assert (streq (cc_handoff_kind_name (CERTCAST__KIND__TECHNOLOGY_UPDATE),
                   "technology-update"));
    assert (streq (cc_handoff_severity_name (99), "unknown"));

    char dir [] = "/tmp/cc_handoff_test.XXXXXX";
    assert (mkdtemp (dir));
    char *spool = zsys_sprintf ("%s/spool", dir);
    char *captured = zsys_sprintf ("%s/captured.json", dir);
    char *environment = zsys_sprintf ("%s/env.txt", dir);
    char *command = zsys_sprintf (
        "cat > '%s' && printf '%%s|%%s|%%s' \"$CERTCAST_ID\" "
        "\"$CERTCAST_REVISION\" \"$CERTCAST_SEVERITY\" > '%s'",
        captured, environment);

    //  A text body with quotes, newlines and non-ASCII text.
    const char *body =
        "# \"Patch\" now\nline two \xd8\xa7\xd8\xb1\xd8\xaf\xd9\x88\n";
    cc_advisory_t *advisory = cc_handoff_test_advisory (
        "PK-NCERT-2026-0042", "Say \"hi\"\nbye", (const uint8_t *) body,
        strlen (body), NULL);
    char *json = cc_handoff_json (advisory, "national/banking", 7, 1700000000);
    if (verbose)
        printf ("\n%s", json);
    assert (strstr (json, "\"id\": \"PK-NCERT-2026-0042\""));
    assert (strstr (json, "\"revision\": 2,"));
    assert (strstr (json, "\"kind\": \"security-announcement\""));
    assert (strstr (json, "\"severity\": \"critical\""));
    assert (strstr (json, "\"tlp\": \"amber+strict\""));
    assert (strstr (json, "\"all_sectors\": false"));
    assert (strstr (json, "\"sectors\": [\"banking\", \"telecom\"]"));
    assert (strstr (json, "\"title\": \"Say \\\"hi\\\"\\nbye\""));
    assert (strstr (json, "\"summary\": \"Patch \\\\ now\\ttoday\""));
    assert (strstr (json, "\"body_encoding\": \"utf-8\""));
    assert (strstr (json, "\"body\": \"# \\\"Patch\\\" now\\nline two "
                          "\xd8\xa7\xd8\xb1\xd8\xaf\xd9\x88\\n\""));
    assert (strstr (json, "\"cves\": [\"CVE-2026-0001\"]"));
    assert (strstr (json, "\"references\": []"));
    //  The claimed issuer as written, beside the one the root named and
    //  its key: the test advisory claims PK-NCERT under "test-issuer".
    assert (strstr (json, "\"issuer\": \"PK-NCERT\","));
    assert (strstr (json, "\"delegated_issuer\": \"test-issuer\","));
    char issuer_key [65];
    cc_hex_encode (cc_advisory_issuer_key (advisory), 32, issuer_key);
    char *issuer_key_field = zsys_sprintf ("\"issuer_key\": \"%s\",",
                                           issuer_key);
    assert (strstr (json, issuer_key_field));
    free (issuer_key_field);
    assert (strstr (json, "\"stream\": \"national/banking\""));
    assert (strstr (json, "\"seq\": 7,"));
    assert (strstr (json, "\"received_at\": 1700000000,"));
    char digest [65];
    cc_hex_encode (cc_advisory_digest (advisory), 32, digest);
    char *digest_field = zsys_sprintf ("\"sha256\": \"%s\"", digest);
    assert (strstr (json, digest_field));
    free (digest_field);
    //  No raw control characters inside the document but the newlines
    //  that separate keys.
    for (const char *cursor = json; *cursor; cursor++)
        assert ((unsigned char) *cursor >= 0x20 || *cursor == '\n');

    //  Spool + exec: the file appears whole under its final name, the
    //  command gets the same document and the environment.
    cc_handoff_t *handoff = cc_handoff_new (spool, command);
    assert (handoff);
    assert (cc_handoff_deliver (handoff, advisory, "national/banking", 7,
                                1700000000) == 0);
    char *path = zsys_sprintf ("%s/PK-NCERT-2026-0042-r2.json", spool);
    char *written = s_test_read (path);
    assert (written);
    assert (streq (written, json));
    char *piped = s_test_read (captured);
    assert (piped);
    assert (streq (piped, json));
    char *env_text = s_test_read (environment);
    assert (env_text);
    assert (streq (env_text, "PK-NCERT-2026-0042|2|critical"));
    char *temp = zsys_sprintf ("%s/.PK-NCERT-2026-0042-r2.json.tmp", spool);
    assert (access (temp, F_OK) == -1);
    zstr_free (&temp);
    zstr_free (&env_text);
    zstr_free (&piped);
    zstr_free (&written);

    //  A replay rewrites the same file with the same content.
    assert (cc_handoff_deliver (handoff, advisory, "national/banking", 7,
                                1700000000) == 0);
    written = s_test_read (path);
    assert (written && streq (written, json));
    zstr_free (&written);
    assert (cc_handoff_delivered (handoff) == 2);
    assert (cc_handoff_spool_failures (handoff) == 0);
    assert (cc_handoff_exec_failures (handoff) == 0);
    cc_handoff_destroy (&handoff);
    cc_handoff_destroy (&handoff);
    zstr_free (&path);
    zstr_free (&json);
    cc_advisory_destroy (&advisory);

    //  Spool names: one per id, inside the directory, within NAME_MAX.
    char name [NAME_MAX + 1], other [NAME_MAX + 1];
    s_spool_name ("PK/2026/1", 3, name, sizeof name);
    assert (streq (name, "PK%2F2026%2F1-r3.json"));
    s_spool_name ("PK_2026_1", 3, name, sizeof name);
    assert (streq (name, "PK_2026_1-r3.json"));
    s_spool_name ("a%2Fb~", 1, name, sizeof name);
    assert (streq (name, "a%252Fb%7E-r1.json"));
    s_spool_name (".x.y", 1, name, sizeof name);
    assert (streq (name, "%2Ex.y-r1.json"));
    char long_id [121];
    memset (long_id, '/', 120);
    long_id [120] = 0;
    s_spool_name (long_id, 4294967295u, name, sizeof name);
    assert (strlen (name) <= SPOOL_NAME_MAX && !strchr (name, '/'));
    assert (strchr (name, '~') && strstr (name, "-r4294967295.json"));
    long_id [119] = 'x';
    s_spool_name (long_id, 4294967295u, other, sizeof other);
    assert (!streq (name, other));
    memset (long_id, 'k', 120);
    s_spool_name (long_id, 1, name, sizeof name);
    assert (strlen (name) == 120 + strlen ("-r1.json")
            && !strchr (name, '~'));
    //  Two ids that used to share a file: both are on disk, each whole.
    handoff = cc_handoff_new (spool, NULL);
    assert (handoff);
    const char *twins [] = { "PK/TWIN", "PK_TWIN" };
    for (size_t index = 0; index < 2; index++) {
        cc_advisory_t *twin = cc_handoff_test_advisory (
            twins [index], twins [index], (const uint8_t *) "t", 1, NULL);
        assert (cc_handoff_deliver (handoff, twin, "national/banking",
                                    index + 1, 1700000000) == 0);
        cc_advisory_destroy (&twin);
    }
    const char *twin_files [] = { "PK%2FTWIN-r2.json", "PK_TWIN-r2.json" };
    for (size_t index = 0; index < 2; index++) {
        char *twin_path = zsys_sprintf ("%s/%s", spool, twin_files [index]);
        char *twin_json = s_test_read (twin_path);
        char *expected = zsys_sprintf ("\"id\": \"%s\"", twins [index]);
        assert (twin_json && strstr (twin_json, expected));
        unlink (twin_path);
        zstr_free (&expected);
        zstr_free (&twin_json);
        zstr_free (&twin_path);
    }
    cc_handoff_destroy (&handoff);

    //  A batch big enough for the shared syncfs, and a small one: every
    //  file whole under its final name, no temp file left, in one call.
    s_test_batch (spool, 2 * SYNCFS_FROM + 1);
    s_test_batch (spool, 2);

    //  A binary body travels as base64; a failing command is counted, a
    //  command that ignores stdin does not hang us.
    const uint8_t binary [] = { 0x00, 0xff, 0x10, 'a' };
    advisory = cc_handoff_test_advisory ("PK-BIN-1", "bin", binary,
                                         sizeof binary, NULL);
    json = cc_handoff_json (advisory, "banking/banking", 1, 5);
    assert (strstr (json, "\"body_encoding\": \"base64\""));
    assert (strstr (json, "\"body\": \"AP8QYQ==\""));
    zstr_free (&json);
    handoff = cc_handoff_new (NULL, "exit 3");
    assert (handoff);
    assert (cc_handoff_deliver (handoff, advisory, "banking/banking", 1, 5)
            == 0);
    assert (cc_handoff_exec_failures (handoff) == 1);
    cc_handoff_destroy (&handoff);

    //  A command holds none of our files, even one open without
    //  FD_CLOEXEC (as LMDB opens the inbox's data file).
    int ours = open (captured, O_RDONLY);
    assert (ours > STDERR_FILENO);
    char *probe = zsys_sprintf ("test ! -e /proc/$$/fd/%d", ours);
    handoff = cc_handoff_new (NULL, probe);
    assert (handoff);
    assert (cc_handoff_deliver (handoff, advisory, "banking/banking", 1, 5)
            == 0);
    assert (cc_handoff_exec_failures (handoff) == 0);
    cc_handoff_destroy (&handoff);
    zstr_free (&probe);
    close (ours);
    cc_advisory_destroy (&advisory);

    //  A link planted under a temp name (the spool's readers may write
    //  it) is not followed: the file it names stays as it was.
    char *victim = zsys_sprintf ("%s/victim", dir);
    FILE *victim_file = fopen (victim, "w");
    assert (victim_file);
    fputs ("precious", victim_file);
    fclose (victim_file);
    char *planted = zsys_sprintf ("%s/.PK-PLANT-r2.json.tmp", spool);
    assert (symlink (victim, planted) == 0);
    advisory = cc_handoff_test_advisory ("PK-PLANT", "plant",
                                         (const uint8_t *) "p", 1, NULL);
    handoff = cc_handoff_new (spool, NULL);
    assert (handoff);
    assert (cc_handoff_deliver (handoff, advisory, "banking/banking", 1, 5)
            == 0);
    char *kept = s_test_read (victim);
    assert (kept && streq (kept, "precious"));
    zstr_free (&kept);
    char *plant_path = zsys_sprintf ("%s/PK-PLANT-r2.json", spool);
    struct stat plant_info;
    assert (lstat (plant_path, &plant_info) == 0
            && S_ISREG (plant_info.st_mode));
    unlink (plant_path);
    unlink (victim);
    zstr_free (&plant_path);
    zstr_free (&planted);
    zstr_free (&victim);
    cc_handoff_destroy (&handoff);
    cc_advisory_destroy (&advisory);

    //  A spool directory we create is for us and our group only.
    char *fresh = zsys_sprintf ("%s/fresh-spool", dir);
    handoff = cc_handoff_new (fresh, NULL);
    assert (handoff);
    struct stat info;
    assert (stat (fresh, &info) == 0);
    assert ((info.st_mode & 07777) == CC_HANDOFF_SPOOL_MODE);
    cc_handoff_destroy (&handoff);
    rmdir (fresh);
    zstr_free (&fresh);

    //  A spool path that is a file is refused at construction.
    assert (cc_handoff_new (captured, NULL) == NULL);

    s_test_clear_dir (spool);
    unlink (captured);
    unlink (environment);
    rmdir (dir);
    assert (access (dir, F_OK) == -1);
    zstr_free (&command);
    zstr_free (&environment);
    zstr_free (&captured);
    zstr_free (&spool);
    printf ("OK\n");
}
