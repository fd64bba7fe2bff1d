/*  cc_handoff.h - handing a committed advisory over to its host.

    Three channels, each optional but the log line:
    - the log: one notice line "advisory ID rev N [severity] title";
    - a spool directory: one JSON file per advisory, "<id>-r<rev>.json"
      (the id escaped so each id has a name of its own), written to a
      temporary file, synced and renamed into place, so a reader never
      sees a partial file (a batch shares one data sync and one directory
      sync); handing the same advisory over
      again (a replay after a crash) rewrites the same name with the same
      content;
    - a command: run through /bin/sh -c with the advisory JSON on stdin and
      CERTCAST_ID, CERTCAST_REVISION, CERTCAST_SEVERITY in its environment,
      no descriptor of ours past stderr, in a process group of its own (a
      kill reaches what it started). Its
      exit status is logged, never acted on: the agent acks RECEIVED for
      everything it committed, whatever the command did. It is killed after
      CC_HANDOFF_EXEC_TIMEOUT, or at once when the agent stops; then it
      runs again at the next start.

    JSON document (one object, keys in this order): id, revision, kind,
    severity, tlp, all_sectors, sectors, title, summary, content_type,
    body_encoding ("utf-8" or "base64"), body, cves, references, artifacts,
    issued_at, expires_at, ack_deadline, issuer (the issuer's own word),
    delegated_issuer and issuer_key (the name the root's delegation gives
    and the hex Ed25519 key that signed: what a host may trust), supersedes,
    stream, seq, received_at, sha256 (hex SHA-256 of the Signed bytes, as
    acked).

    cc_handoff_t owns copies of its spool path and command.
*/
#ifndef CC_HANDOFF_H_INCLUDED
#define CC_HANDOFF_H_INCLUDED

#define CC_HANDOFF_EXEC_TIMEOUT   60000   //  ms before a command is killed
#define CC_HANDOFF_SPOOL_MODE     0750    //  a spool directory we create

typedef struct _cc_handoff_t cc_handoff_t;

//  spool_dir and exec_cmd may each be NULL. The spool directory is created
//  (mode CC_HANDOFF_SPOOL_MODE) if missing. NULL with a one-line reason on stderr if it
//  cannot be created or is not a directory.
cc_handoff_t *
    cc_handoff_new (const char *spool_dir, const char *exec_cmd);

void
    cc_handoff_destroy (cc_handoff_t **self_p);

//  One committed advisory of a hand-over batch; nothing is owned.
typedef struct {
    cc_advisory_t *advisory;        //  verified
    const char *stream;
    uint64_t seq;
    int64_t received_at;            //  Unix seconds
    bool spool_failed;              //  set by the hand-over: not spooled
    bool exec_skipped;              //  set by the hand-over: the command
                                    //  was stopped or not run (stopping)
} cc_handoff_item_t;

//  Hand over count verified advisories, in order: a log line each, then
//  every spool file (when configured) written and made durable with the
//  batch's shared data sync and ONE directory sync, then the command for
//  each. When this returns, every spool file it did not count as failed
//  is complete and durable under its final name. Returns the number of
//  spool files not written (each logged and counted, its item marked
//  spool_failed). A failing command is logged and counted but is not a
//  failure here.
size_t
    cc_handoff_deliver_batch (cc_handoff_t *self, cc_handoff_item_t *items,
                              size_t count);

//  The two halves of cc_handoff_deliver_batch, for a caller that acts
//  between them (the agent sends its ack once the spool files are
//  durable, without waiting for the commands): the log lines and spool
//  files (returns and marks failures as above), then the commands.
size_t
    cc_handoff_spool_batch (cc_handoff_t *self, cc_handoff_item_t *items,
                            size_t count);
void
    cc_handoff_exec_batch (cc_handoff_t *self, cc_handoff_item_t *items,
                           size_t count);

//  Write the spool files of items whose first hand-over could not: no log
//  line and no command again (those ran the first time). Returns and marks
//  the failures as cc_handoff_deliver_batch does; 0 without a spool.
size_t
    cc_handoff_respool_batch (cc_handoff_t *self, cc_handoff_item_t *items,
                              size_t count);

//  Hand one verified advisory over (a batch of one). Returns 0 if the
//  spool file (when configured) was written, -1 if not (logged).
int
    cc_handoff_deliver (cc_handoff_t *self, cc_advisory_t *advisory,
                        const char *stream, uint64_t seq, int64_t received_at);

//  Render the JSON document for an advisory. Caller frees. Never NULL.
char *
    cc_handoff_json (cc_advisory_t *advisory, const char *stream, uint64_t seq,
                     int64_t received_at);

//  Is there a command to run?
bool
    cc_handoff_has_command (cc_handoff_t *self);

//  The agent is stopping: from now on no command is started, and one that
//  runs is killed; their items come back exec_skipped, to be handed over
//  again at the next start. Safe from any thread.
void
    cc_handoff_stop (cc_handoff_t *self);

//  Hand-overs done, spool write failures, command failures (non-zero exit,
//  signal, timeout or could not start).
uint64_t
    cc_handoff_delivered (cc_handoff_t *self);
uint64_t
    cc_handoff_spool_failures (cc_handoff_t *self);
uint64_t
    cc_handoff_exec_failures (cc_handoff_t *self);

//  Short names used in the JSON and the log ("high", "amber+strict" ...).
const char *
    cc_handoff_severity_name (int severity);
const char *
    cc_handoff_tlp_name (int tlp);
const char *
    cc_handoff_kind_name (int kind);

//  For self-tests: a verified advisory signed by a fresh root and issuer,
//  title and body as given; the root's Ed25519 public key is copied to
//  root_key (32 bytes) unless NULL. Caller destroys the advisory.
cc_advisory_t *
    cc_handoff_test_advisory (const char *id, const char *title,
                              const uint8_t *body, size_t body_size,
                              uint8_t *root_key);

//  Same, one that expired a second ago (it verifies at delivery).
cc_advisory_t *
    cc_handoff_test_advisory_expired (const char *id, uint8_t *root_key);

void
    cc_handoff_test (bool verbose);

#endif
