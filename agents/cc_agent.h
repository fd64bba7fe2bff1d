/*  cc_agent.h - the subscriber agent: one actor that follows its relay's
    streams, verifies and commits every advisory to its inbox, hands it to
    the host and acknowledges it with one signed ack per poll cycle.

    cc_agent_new starts the actor and returns once the store is open, any
    hand-over left by a crash has been replayed and both sockets to the
    relay are set up (connecting is asynchronous), or NULL if anything at
    startup failed (reason logged). The options are copied; keys are
    borrowed and must outlive the agent.

    The actor answers these commands on its pipe (cc_agent_actor), for
    tests and for the daemon's own use; each reply is one string frame:
        "$TERM"             stop (no reply; zactor_destroy sends it)
        "CURSOR" stream     last committed seq of stream, decimal
        "STATUS"            counters as one JSON object
        "CONNECTED"         "1" once a Welcome came and the relay has not
                            gone silent since, else "0"
        "OUTBOX"            signed acks not yet confirmed, decimal
*/
#ifndef CC_AGENT_H_INCLUDED
#define CC_AGENT_H_INCLUDED

typedef struct {
    const char *relay_host;         //  relay address
    int relay_port;                 //  its stream port; control is +1
    const char *relay_key;          //  relay's Z85 CURVE public key
    const char *data_dir;           //  LMDB environment directory
    cc_keys_t *keys;                //  our identity, with secret (borrowed)
    const uint8_t *root_key;        //  pinned root Ed25519 key (32 bytes)
    const char *name;               //  our node name, sent in Hello
    const char *spool_dir;          //  NULL: no spool files
    const char *exec_cmd;           //  NULL: no command
    int heartbeat_ms;               //  ZMTP heartbeat interval
    int ack_resend_ms;              //  resend unconfirmed acks this often
    int dead_after_ms;              //  relay silent this long: reconnect
                                    //  (0: 3 x heartbeat_ms; never less
                                    //  than 3 x the relay's heartbeat)
    bool verbose;                   //  debug logging
} cc_agent_options_t;

typedef struct _cc_agent_t cc_agent_t;

//  The agent's sector: its key's (what its relay's roster says), the only
//  one it follows and takes advisories for. NULL if the key names none,
//  or "all" (an agent is of one sector). Valid while keys lives.
const char *
    cc_agent_sector (cc_keys_t *keys);

//  Start the agent. NULL if startup failed.
cc_agent_t *
    cc_agent_new (const cc_agent_options_t *options);

//  Stop the actor (the current cycle is committed first) and free
//  everything. Does nothing on NULL; nulls the caller's pointer.
void
    cc_agent_destroy (cc_agent_t **self_p);

//  The actor, to poll (it sends nothing unsolicited) and to send the
//  commands above to.
zactor_t *
    cc_agent_actor (cc_agent_t *self);

//  Last committed seq of stream (0 if never read).
uint64_t
    cc_agent_cursor (cc_agent_t *self, const char *stream);

//  Counters as JSON. Caller frees.
char *
    cc_agent_status (cc_agent_t *self);

void
    cc_agent_test (bool verbose);

#endif
