/*  cmd.h - the certcast operator tool: one function per subcommand, and
    the few helpers they share (cmd_util.c).

    Each cmd_* takes the subcommand's own argv (argv[0] is the subcommand
    name, e.g. "publish") and returns the process exit code: 0 ok, 1
    refused or failed (after one line on stderr), 2 usage.
*/
#ifndef CMD_H_INCLUDED
#define CMD_H_INCLUDED

#include "cc_broker.h"
#include <ctype.h>
#include <openssl/rand.h>

//  The ZPL section every subcommand reads from a -c FILE.

int cmd_keygen (int argc, char **argv);
int cmd_delegate (int argc, char **argv);
int cmd_publish (int argc, char **argv);
int cmd_status (int argc, char **argv);
int cmd_ledger (int argc, char **argv);
int cmd_compliance (int argc, char **argv);

//  Notes above the compliance report (cmd_notes.c), on out. Agents held
//  via a relay no longer enrolled in roster (sign key hex -> cc_member_t);
//  agents behind a relay silent for over silent_after seconds by heard_at
//  (relay name -> cmd_heard_t *), as of alive (when the broker last
//  ran; 0: not known, nothing said) or now, if sooner.
typedef struct {
    int64_t at;                 //  last heard; or, if !heard, since when
                                //  it could have been (enrolled, or heard
                                //  times began here)
    bool heard;
} cmd_heard_t;
void cmd_note_orphans (zhashx_t *roster, const cc_member_t **agents,
                       size_t agent_count, FILE *out);
void cmd_note_silent_relays (zhashx_t *heard_at, int64_t alive,
                             const cc_member_t **agents, size_t agent_count,
                             int64_t silent_after, FILE *out);

//  --------------------------------------------------------------------------
//  Shared helpers (cmd_util.c)

//  Print "certcast CMD: " + message + newline on stderr. Returns 1, so a
//  refusal reads `return cmd_fail (...)`.
int cmd_fail (const char *command, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Same, for usage errors; returns 2.
int cmd_usage_error (const char *command, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Titles, org names and contacts come from issuers and from relays'
//  rosters: what they say is printed, never obeyed. Output is valid UTF-8
//  (a byte that is not becomes U+FFFD) in every format.
//  Write text as a JSON string literal (quotes included) to stream.
void cmd_json_string (FILE *stream, const char *text);
//  Write text as one CSV field (RFC 4180 quoting when needed, and for a
//  semicolon or tab, which some spreadsheets split on). A cell that
//  a spreadsheet would take for a formula (it starts with = + - @, a tab
//  or a carriage return) is quoted and starts with an apostrophe; other
//  control characters become '?'.
void cmd_csv_field (FILE *stream, const char *text);
//  A copy of text fit for a terminal: control characters (C0, DEL, C1:
//  escape sequences could redraw the officer's screen) and bidi
//  embeddings, overrides and isolates (they reorder the rest of a line)
//  become '?'. Caller frees.
char *cmd_text_safe (const char *text);
//  The same, but line breaks and tabs stay (text of several lines).
char *cmd_text_safe_lines (const char *text);

//  Format Unix seconds as ISO-8601 UTC ("%Y-%m-%dT%H:%M:%SZ") into out
//  (at least 32 bytes); 0 gives "-". Returns out.
const char *cmd_time_iso (int64_t when, char *out, size_t size);

//  True if text is a sector name: one or more of [a-z0-9-].
bool cmd_sector_valid (const char *text);

//  True if text is 1 to max characters of an advisory id's alphabet,
//  [A-Za-z0-9._:-]: ids are ledger keys and appear in reports and file
//  names.
bool cmd_id_chars_valid (const char *text, size_t max);

//  True if text may be a delegation's id prefix (cmd_id_chars_valid, at
//  most 64): room is left for the issuer's own numbering.
bool cmd_id_prefix_valid (const char *text);

//  A random non-zero 64-bit number (correlation ids, default advisory ids).
uint64_t cmd_random64 (void);

//  Read a whole file of at most max bytes into a malloc'd buffer (caller
//  frees). NULL with errno set (EFBIG when over max).
uint8_t *cmd_file_read (const char *path, size_t max, size_t *size);

//  A plain-text table whose columns are as wide as their widest cell.
//  Cells are copied. Printed with two spaces between columns.
typedef struct _cmd_table_t cmd_table_t;
cmd_table_t *cmd_table_new (size_t columns);
void cmd_table_destroy (cmd_table_t **self_p);
//  Add one row of `columns` cells (NULL prints as "").
void cmd_table_add (cmd_table_t *self, const char **cells);
size_t cmd_table_rows (cmd_table_t *self);
//  Print every row, each line starting with indent.
void cmd_table_print (cmd_table_t *self, FILE *stream, const char *indent);

//  Names of wire enum values as the operator types them.
const char *cmd_severity_name (int severity);
const char *cmd_tlp_name (int tlp);
const char *cmd_ack_status_name (int status);

//  One request/reply over the control channel of a broker, as a CURVE
//  client. The reply with our corr is passed to fn (valid only during the
//  call), whose return value is returned. An Error reply is reported here
//  ("certcast CMD: refused: CODE: REASON") and gives 1; so does no answer
//  within timeout ("... no answer from HOST:PORT within Ns" + timeout_note).
typedef int (cmd_reply_fn) (const Certcast__Control *reply, void *arg);

typedef struct {
    const char *command;        //  subcommand name, for messages
    const char *endpoint;       //  HOST:PORT as given (control is PORT+1)
    const char *server_pub;     //  path of the broker's .pub file
    cc_keys_t *key;             //  our identity (secret CURVE key)
    int64_t timeout;            //  seconds to wait for the reply
    const char *timeout_note;   //  appended to the timeout line, or NULL
} cmd_peer_t;

int cmd_request (const cmd_peer_t *peer, Certcast__Control *request,
                 cmd_reply_fn *fn, void *arg);

//  Load a key file for a subcommand; NULL after one line on stderr. With
//  need_secret, a .pub file is refused.
cc_keys_t *cmd_keys_load (const char *command, const char *what,
                          const char *path, bool need_secret);

//  "command: done of total what" ("done what" while total is 0: not
//  known yet) on stderr, at most every quarter second and when done ==
//  total (the last, with a newline), only while stderr is a terminal and
//  stdout is not (a report on the terminal is its own progress).
void cmd_progress (const char *command, size_t done, size_t total,
                   const char *what);

//  Open a data directory read-only; NULL after one line on stderr.
cc_store_t *cmd_store_open (const char *command, const char *dir);

//  The roster of a store, copied out: hex sign key -> cc_member_t
//  (owned by the hash). NULL after one line on stderr.
zhashx_t *cmd_roster_load (const char *command, cc_store_t *store,
                           MDB_txn *txn);

//  The Signed bytes of revision `revision` of advisory id as the store
//  held them (cmd_revision.c): the latest from the advisory index, an
//  earlier one from the stream log. *latest_revision is the latest held.
//  NULL, with a one-line reason in why, when the store never held that
//  revision, does not keep its bytes (a relay's own advisory at the
//  national broker), cannot tell which of two advisories under that id
//  it held, or cannot be read. Caller destroys the chunk.
zchunk_t *cmd_revision_signed (cc_store_t *store, MDB_txn *txn,
                               const char *id, uint32_t revision,
                               uint32_t *latest_revision, char *why,
                               size_t why_size);

#endif
