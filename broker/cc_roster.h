/*  cc_roster.h - who is expected to acknowledge: the constituents.

    A broker's allow directory is its roster: one NAME.pub file per client
    (see proto/cc_keys.h for the metadata). cc_roster_scan reads the
    directory into memory (owned by cc_roster_t) so the engine can answer
    "which sign key belongs to this CURVE key, with which role and sector"
    without touching the disk per message, and writes the entries into
    CC_DB_ROSTER so readers (certcast compliance) see them. Rosters sent by
    relays are merged into the national CC_DB_ROSTER with `via` set.
*/
#ifndef CC_ROSTER_H_INCLUDED
#define CC_ROSTER_H_INCLUDED

//  One encoded RosterEntry as stored (cc_roster_put refuses more).
#define CC_ROSTER_ENTRY_MAX   (64 * 1024)

typedef struct {
    char curve [41];            //  Z85 CURVE public key (ZAP User-Id)
    uint8_t sign_key [32];      //  Ed25519 public key
    char name [64];
    char role [16];             //  publisher|issuer, relay, agent, broker
    char org [128];
    char sector [64];
    char entity_class [64];
    bool cii;
    char contact [160];
    char via [64];              //  stored entries: the relay that reported it
    int64_t enrolled_at;        //  stored entries: when first listed here
                                //  (cc_roster_enrolled; 0: not known)
} cc_member_t;

typedef struct _cc_roster_t cc_roster_t;

cc_roster_t *
    cc_roster_new (void);
void
    cc_roster_destroy (cc_roster_t **self_p);

//  (Re)read every *.pub in dir. Files that do not load are skipped with one
//  warning each. Returns the number of members, or -1 if dir is unreadable.
int
    cc_roster_scan (cc_roster_t *self, const char *dir);

//  Lookup by Z85 CURVE key (User-Id); NULL if not enrolled.
const cc_member_t *
    cc_roster_by_curve (cc_roster_t *self, const char *curve);
//  Lookup by Ed25519 key; NULL if not enrolled.
const cc_member_t *
    cc_roster_by_sign_key (cc_roster_t *self, const uint8_t sign_key[32]);

size_t
    cc_roster_size (cc_roster_t *self);
//  Iterate: first/next return NULL at the end.
const cc_member_t *
    cc_roster_first (cc_roster_t *self);
const cc_member_t *
    cc_roster_next (cc_roster_t *self);

//  Fill a RosterEntry (string fields point into member) for the wire.
void
    cc_roster_entry_from (const cc_member_t *member, const char *via,
                          Certcast__RosterEntry *entry);

//  Write one roster entry (encoded RosterEntry bytes) into CC_DB_ROSTER.
//  A sign key listed here for the first time is stamped enrolled at now.
int
    cc_roster_put (cc_store_t *store, MDB_txn *txn,
                   const Certcast__RosterEntry *entry, int64_t now);

//  When this sign key was first listed in the roster here (Unix seconds),
//  kept through its removal and return and its moves between relays; 0
//  if not known (listed before this was kept, or never).
int64_t
    cc_roster_enrolled (cc_store_t *store, MDB_txn *txn,
                        const uint8_t sign_key[32]);

//  Who reported the stored entry of this sign key: its via into via
//  (size bytes; "" for an entry without one). 0, MDB_NOTFOUND if no
//  entry has this key, or an LMDB error. A relay's roster may not take
//  an entry another relay (or the broker's own allow directory) holds.
int
    cc_roster_stored_via (cc_store_t *store, MDB_txn *txn,
                          const uint8_t sign_key[32], char *via, size_t size);

//  A roster is replaced whole: delete every stored entry reported via
//  `via` whose sign key is not among keep[0..count). Removing a file from
//  an allow directory thus removes the constituent from the expected
//  recipients upstream too. 0 or LMDB error.
int
    cc_roster_drop_via (cc_store_t *store, MDB_txn *txn, const char *via,
                        Certcast__RosterEntry **keep, size_t count);

//  Call fn for each stored entry (decoded; valid only during the call).
typedef void (cc_roster_entry_fn) (const Certcast__RosterEntry *entry,
                                   void *arg);
int
    cc_roster_each (cc_store_t *store, MDB_txn *txn, cc_roster_entry_fn *fn,
                    void *arg);

//  Last-seen times (CC_DB_SEEN). touch only moves a time forward (an
//  agent's acks); set_seen puts it as given, earlier too (a relay's
//  heard time after the clock was stepped back, cc_heard).
int
    cc_roster_touch (cc_store_t *store, MDB_txn *txn,
                     const uint8_t sign_key[32], int64_t when);
int
    cc_roster_set_seen (cc_store_t *store, MDB_txn *txn,
                        const uint8_t sign_key[32], int64_t when);
int64_t
    cc_roster_seen (cc_store_t *store, MDB_txn *txn,
                    const uint8_t sign_key[32]);

void
    cc_roster_test (bool verbose);

#endif
