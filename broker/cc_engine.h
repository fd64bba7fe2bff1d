/*  cc_engine.h - the broker engine: one actor for the national broker and
    for every sectoral relay (a relay is a broker with an upstream and a
    sector filter).

    The engine owns the store, the roster, the PUB stream socket, the ROUTER
    control socket, the ZAP actor (cc_zap) and (relays) the upstream link. Its
    constructor returns only once cc_zap answers and both sockets are bound,
    or NULL if anything at startup failed (reason logged).
*/
#ifndef CC_ENGINE_H_INCLUDED
#define CC_ENGINE_H_INCLUDED

typedef struct {
    const char *name;               //  origin name of our streams
    const char *listen_host;        //  bind address
    int listen_port;                //  PUB port; control is port + 1
    const char *data_dir;           //  LMDB environment directory
    cc_keys_t *keys;                //  server identity (borrowed)
    const uint8_t *root_key;        //  pinned root Ed25519 key (32 bytes)
    const char *allow_dir;          //  allow-list and roster
    const char **sectors;           //  sectors we serve, NULL-terminated
    int heartbeat_ms;               //  stream heartbeats, ZMTP heartbeats
    size_t map_size;                //  initial LMDB map (0: default)
    int pub_hwm;                    //  PUB send high-water mark (0: 100000)
    //  Relay only: the upstream broker.
    const char *upstream_host;      //  NULL for the national broker
    int upstream_port;
    const char *upstream_key;       //  upstream's Z85 CURVE public key
    bool verbose;                   //  debug log: each request, subscription
    int64_t roster_retry_ms;        //  roster not all taken: again after
                                    //  this (0: 60 s)
    size_t roster_stage_bytes;      //  roster parts staged per relay below
                                    //  (all: 4 x; 0: CC_ROSTER_STAGE_BYTES)
} cc_engine_config_t;

typedef struct _cc_engine_t cc_engine_t;

//  Start the engine actor. NULL if startup failed.
cc_engine_t *
    cc_engine_new (const cc_engine_config_t *config);

//  Stop the actor (final batch committed) and free everything.
void
    cc_engine_destroy (cc_engine_t **self_p);

//  The actor, for polling (it sends nothing unsolicited).
zactor_t *
    cc_engine_actor (cc_engine_t *self);

//  Counters and heads as JSON (caller frees).
char *
    cc_engine_status (cc_engine_t *self);

//  The whole main of certcast-broker (relay false) and certcast-relay
//  (relay true): options, config file, keys, engine, wait for a signal.
//  Returns the process exit code.
int
    cc_daemon_main (int argc, char **argv, bool relay);

#endif
