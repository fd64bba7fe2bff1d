/*  cc_zap.h - the ZAP handler (ZeroMQ RFC 27) of certcast's servers: a
    CURVE client is let in when its public key is in a NAME.pub file of
    the allow directory, and its Z85 key becomes the connection's User-Id.

    Why not zauth's CURVE directory mode: czmq 4.2's zcertstore rescans the
    whole directory (a stat and a zfile per certificate) on every lookup,
    so each handshake costs O(enrolled organisations). Measured with 5,000
    agents per relay, reconnecting after a relay restart took minutes of
    CPU. cc_zap keeps the keys in a hash table and reloads the directory
    when it changes (one stat per handshake) or when an unknown key asks
    (at most once a second, so a key file rewritten in place is seen too).
    Removing a NAME.pub refuses that key at its next handshake, as before.

    Start it with zactor_new (cc_zap_actor, (void *) allow_dir) before any
    server socket binds: without a ZAP handler libzmq admits every client
    that knows the server's key. The directory string is copied. The actor
    signals once it is bound; it answers on its pipe:
        "$TERM"         stop
        "KEYS"          number of enrolled keys, decimal string
        "RELOADS"       directory loads so far, decimal string
*/
#ifndef CC_ZAP_H_INCLUDED
#define CC_ZAP_H_INCLUDED

void
    cc_zap_actor (zsock_t *pipe, void *allow_dir);

void
    cc_zap_test (bool verbose);

#endif
