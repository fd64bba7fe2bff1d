/*  cc_upstream.h - a relay's link to its upstream broker (the national
    broker, or another relay).

    It owns a DEALER (control) and a SUB (streams) to the upstream, both
    CurveZMQ clients, and the state of following the upstream's streams:
    which streams we subscribed, which fetch is outstanding, when we last
    heard anything. It never decides what is stored: in-order deliveries
    are handed to the engine through cc_upstream_handler_t, and the engine
    says how far it has each stream (committed or batched) through `head`.
*/
#ifndef CC_UPSTREAM_H_INCLUDED
#define CC_UPSTREAM_H_INCLUDED

typedef struct {
    void *arg;
    //  How far we have stream (committed plus batched).
    uint64_t (*head) (void *arg, const char *stream);
    //  Next in-order delivery (seq == head + 1); bytes valid during call.
    void (*delivery) (void *arg, const char *stream, uint64_t seq,
                      const uint8_t *bytes, size_t size);
    //  The upstream confirmed acks up to queue position `upto`.
    void (*acked) (void *arg, uint64_t upto);
    //  The upstream refused the batch up to `upto`: true drops it (the
    //  engine sends another), false sends it again later.
    bool (*acks_refused) (void *arg, uint64_t upto, int code,
                          const char *reason);
    //  The link came (back) up: a good moment to send our roster.
    void (*welcome) (void *arg);
    //  The upstream answered report `seq`: recorded (ok) or refused.
    void (*reported) (void *arg, uint64_t seq, bool ok);
} cc_upstream_handler_t;

typedef struct _cc_upstream_t cc_upstream_t;

//  Connect to host:port (stream) and host:port+1 (control). Never NULL for
//  valid arguments; connecting is asynchronous.
cc_upstream_t *
    cc_upstream_new (const char *host, int port, const char *server_key,
                     cc_keys_t *keys, const char *node, const char **sectors,
                     int heartbeat_ms, const cc_upstream_handler_t *handler);

void
    cc_upstream_destroy (cc_upstream_t **self_p);

//  Add our sockets to the engine's poller (again after a reconnect:
//  cc_upstream_tick returns true when the sockets were replaced).
void
    cc_upstream_attach (cc_upstream_t *self, zpoller_t *poller);
void
    cc_upstream_detach (cc_upstream_t *self, zpoller_t *poller);

//  If which is one of ours, drain it and return true.
bool
    cc_upstream_handle (cc_upstream_t *self, void *which);

//  Housekeeping: hello, fetch retries, liveness. Returns true if the
//  sockets were recreated (caller re-attaches).
bool
    cc_upstream_tick (cc_upstream_t *self, zpoller_t *poller);

//  Send acks (encoded SignedAck list) ending at queue position upto;
//  at most one batch in flight, resent by tick until acked.
void
    cc_upstream_send_acks (cc_upstream_t *self, uint64_t upto,
                           Certcast__SignedAck **acks, size_t count);
bool
    cc_upstream_acks_in_flight (cc_upstream_t *self);

//  Report an advisory we originated (encoded Signed) so the upstream
//  records it for compliance; at most one in flight, resent by tick until
//  answered. seq identifies it in the `reported` callback.
void
    cc_upstream_send_report (cc_upstream_t *self, uint64_t seq,
                             const uint8_t *signed_bytes, size_t size);
bool
    cc_upstream_report_in_flight (cc_upstream_t *self);

//  Send our roster (entries borrowed during the call), in parts if it is
//  large and the upstream takes parts (CC_ROSTER_CHUNK entries each, see
//  cc_roster_chunks). It replaces a roster still in flight, and stays in
//  flight, resent by tick, until the upstream answers its last part
//  with Acked: only then is the roster accepted upstream.
void
    cc_upstream_send_roster (cc_upstream_t *self, const char *relay,
                             Certcast__RosterEntry **entries, size_t count);
bool
    cc_upstream_roster_in_flight (cc_upstream_t *self);
//  The upstream answers a roster's last part with how many entries it
//  took. When that is fewer than we sent (an entry's key held there by
//  another relay, or not ours to report), the roster is due again after
//  retry_ms (default 60 s): the caller builds it anew and sends it, until
//  all of it is taken. not_taken: how many the last answer left out.
void
    cc_upstream_set_roster_retry (cc_upstream_t *self, int64_t retry_ms);
bool
    cc_upstream_roster_retry_due (cc_upstream_t *self);
size_t
    cc_upstream_roster_not_taken (cc_upstream_t *self);

//  True once a Welcome arrived and the link has not gone silent since.
bool
    cc_upstream_connected (cc_upstream_t *self);
//  True while connected and, on every stream we follow, `stored` (the
//  head committed here) is at the head the upstream last told us of.
//  Until then an advisory we do not hold may not have reached us yet.
bool
    cc_upstream_caught_up (cc_upstream_t *self,
                           uint64_t (*stored) (void *arg, const char *stream),
                           void *arg);
//  Streams whose upstream head went below ours (restored from an older
//  copy: what it numbers again does not reach us). Writes their names as
//  JSON strings, comma-separated, into names (size bytes, truncated to
//  fit); returns how many.
size_t
    cc_upstream_behind (cc_upstream_t *self, char *names, size_t size);
//  Milliseconds since we last heard the upstream (-1: never).
int64_t
    cc_upstream_silence (cc_upstream_t *self);
//  Times the link was declared dead and rebuilt.
uint64_t
    cc_upstream_reconnects (cc_upstream_t *self);

#endif
