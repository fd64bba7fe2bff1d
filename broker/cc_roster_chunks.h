/*  cc_roster_chunks.h - a relay's roster in parts: cut by the relay,
    staged and put together again by the broker above it.

    A Roster replaces the relay's whole roster upstream, but one message
    holds only ~16,000 entries under CC_WIRE_MAX_FRAME, and libzmq drops
    the connection of a peer that sends more. So a relay cuts a larger
    roster into parts of one generation (cc_roster_chunks_split), and the
    broker stages them in memory per relay (cc_roster_chunks_t) until the
    last part is in. Only then is there a roster to store
    (cc_roster_set_t): the stored roster of a relay is replaced whole or
    not at all, never half. A Roster without part fields, as relays sent
    before parts, is a whole roster at once.

    cc_roster_chunks_t owns the parts it stages; a complete set owns its
    parts and belongs to the caller.
*/
#ifndef CC_ROSTER_CHUNKS_H_INCLUDED
#define CC_ROSTER_CHUNKS_H_INCLUDED

//  Entries per part by default. An entry is at most ~600 bytes (the
//  fields of cc_member_t), so a part stays well under the frame cap.
#define CC_ROSTER_CHUNK_MAX     2000
//  Parts per roster at most: a relay sends every part at once, and this
//  keeps them far below a socket's 1,000-message queue.
#define CC_ROSTER_PARTS_MAX     256
//  Entries one relay may stage: a bound on what a relay can make us hold.
#define CC_ROSTER_STAGE_MAX     500000
//  One entry's encoded size at most. An honest entry is under ~600 bytes
//  (the fields of cc_member_t); without this bound a relay could send
//  256 parts of ~4 MiB of padding each and make us hold 1 GiB.
#define CC_ROSTER_ENTRY_WIRE_MAX  2048
//  What staging one roster costs, counted per entry as its encoded size
//  plus this much for its decoded form (the struct, its strings and
//  their malloc headers), so a roster of tiny entries is bounded too.
#define CC_ROSTER_ENTRY_OVERHEAD  384
//  Staged bytes (as counted above) per relay, and for all relays
//  together: a relay over its share, or any relay while the total is
//  full, has its staging dropped and the part refused; it sends the
//  roster again later. An honest entry counts ~600 bytes (~200 encoded),
//  so 256 MiB holds ~450,000 agents, near the entry cap above: a sector's
//  relay for every bank branch or ministry host. 64 MiB (~110,000) was
//  too few for a country's public sector. The daemons' --roster-mb sets
//  the per-relay bound (the total is 4 x).
#define CC_ROSTER_STAGE_BYTES        ((size_t) 256 * 1024 * 1024)
#define CC_ROSTER_STAGE_BYTES_TOTAL  (4 * CC_ROSTER_STAGE_BYTES)

typedef struct _cc_roster_chunks_t cc_roster_chunks_t;
typedef struct _cc_roster_set_t cc_roster_set_t;

//  --- Relay side ---------------------------------------------------------

//  Entries per part: CC_ROSTER_CHUNK from the environment (1 to
//  CC_ROSTER_CHUNK_MAX; tests use tiny parts), else CC_ROSTER_CHUNK_MAX.
size_t
    cc_roster_chunks_size_default (void);

//  Called for each part in order; the part borrows the caller's entries
//  and is valid only during the call.
typedef void (cc_roster_part_fn) (const Certcast__Roster *part, void *arg);

//  Cut entries[0..count) into parts of at most `chunk` entries (more if
//  it would take over CC_ROSTER_PARTS_MAX parts), all of `generation`,
//  and call fn for each. A roster that fits in one part goes as one
//  message without part fields, which every broker reads.
void
    cc_roster_chunks_split (const char *relay, Certcast__RosterEntry **entries,
                            size_t count, size_t chunk, uint64_t generation,
                            cc_roster_part_fn *fn, void *arg);

//  --- Receiving side -----------------------------------------------------

typedef enum {
    CC_ROSTER_STAGED,           //  kept: more parts to come
    CC_ROSTER_COMPLETE,         //  the whole roster is in *set_p
    CC_ROSTER_REFUSED,          //  dropped with the relay's staged parts
    CC_ROSTER_OVER_LIMIT        //  the same, for passing a bound on what
                                //  we hold (an entry's size, entries or
                                //  bytes staged)
} cc_roster_offer_t;

cc_roster_chunks_t *
    cc_roster_chunks_new (void);
void
    cc_roster_chunks_destroy (cc_roster_chunks_t **self_p);

//  Bound what is staged (tests; defaults CC_ROSTER_STAGE_BYTES and
//  CC_ROSTER_STAGE_BYTES_TOTAL).
void
    cc_roster_chunks_set_limits (cc_roster_chunks_t *self, size_t per_relay,
                                 size_t total);

//  Offer one decoded Roster that `relay` (its CURVE key) sent over
//  `session` (the routing id of its connection). Takes ownership of
//  *roster_p and nulls it. Part 1, or a roster not in parts, starts the
//  relay's staging afresh; any other part must follow the one before it
//  in the same generation over the same session, or the staging is
//  dropped and the part refused (the relay sends the roster again from
//  part 1). So is a part with an entry over CC_ROSTER_ENTRY_WIRE_MAX, or
//  one that would take the relay's staging, or all relays' together,
//  over their byte bound (CC_ROSTER_OVER_LIMIT). On CC_ROSTER_COMPLETE the
//  caller owns *set_p; on a refusal *reason says why (valid until the
//  next offer).
cc_roster_offer_t
    cc_roster_chunks_offer (cc_roster_chunks_t *self, const char *relay,
                            zframe_t *session, Certcast__Roster **roster_p,
                            cc_roster_set_t **set_p, const char **reason);

//  Drop the staged parts of every relay that sent none for idle_ms (a
//  relay that went away mid-roster). Returns how many relays' parts went.
size_t
    cc_roster_chunks_expire (cc_roster_chunks_t *self, int64_t idle_ms);

//  How many relays have parts staged, and how many bytes (as counted
//  against the bounds) they hold together.
size_t
    cc_roster_chunks_staged (cc_roster_chunks_t *self);
size_t
    cc_roster_chunks_staged_bytes (cc_roster_chunks_t *self);

//  The entries of a complete roster, valid as long as the set; *count
//  is set to how many.
Certcast__RosterEntry **
    cc_roster_set_entries (cc_roster_set_t *self, size_t *count);

void
    cc_roster_set_destroy (cc_roster_set_t **self_p);

void
    cc_roster_chunks_test (bool verbose);

#endif
