/*  cc_verifier.h - signature checks on worker actors, handed out in
    chunks and handed back as each chunk finishes, so the actor that owns
    the work keeps reading, committing and answering meanwhile.

    cc_pool is fork-join: its caller waits until the last job of a run is
    done, so a broker's cores sat idle through every disk sync, every
    reply and every read of new requests. A cc_verifier is a pipeline:
    the owner sends chunks of jobs (copied by value, so the chunk owns
    nothing of the caller's), each worker runs them in order and sends
    the chunk back on its pipe, and the owner polls those pipes with its
    other sockets. Each worker holds at most a few chunks, so the owner
    keeps the rest in its own queues and can put urgent work first.

    Jobs may call OpenSSL (EVP is thread-safe); workers free their
    OpenSSL thread state when they stop.
*/
#ifndef CC_VERIFIER_H_INCLUDED
#define CC_VERIFIER_H_INCLUDED

#include <czmq.h>
#include "cc_pool.h"

typedef struct _cc_verifier_t cc_verifier_t;

//  `workers` actors that run fn (job, arg) on each job of a chunk; jobs
//  are `stride` bytes each. 0 workers is valid: a chunk then runs in the
//  caller at cc_verifier_send and is ready at once. NULL if a worker
//  could not be started.
cc_verifier_t *
    cc_verifier_new (size_t workers, size_t stride, cc_pool_fn *fn, void *arg);

//  Stop the workers after the chunks they hold, and free what was never
//  received. Does nothing on NULL; nulls the pointer.
void
    cc_verifier_destroy (cc_verifier_t **self_p);

//  How many more chunks may be sent now (workers × their share, less
//  what they hold); with 0 workers, always 1.
size_t
    cc_verifier_room (cc_verifier_t *self);

//  Chunks sent and not yet received back.
size_t
    cc_verifier_busy (cc_verifier_t *self);

//  Send `count` jobs (1..CC_VERIFIER_CHUNK_MAX), copied, to the worker
//  holding fewest. Returns false, sending nothing, when there is no room.
#define CC_VERIFIER_CHUNK_MAX  64
bool
    cc_verifier_send (cc_verifier_t *self, const void *jobs, size_t count);

//  A finished chunk, or NULL if none is ready; with `wait`, block until
//  one is (NULL only when nothing is busy). The frame's data is the jobs
//  as the workers left them, size / stride of them; caller destroys it.
zframe_t *
    cc_verifier_recv (cc_verifier_t *self, bool wait);

//  Add the workers' pipes to a poller, so it wakes when a chunk is done.
void
    cc_verifier_poll_with (cc_verifier_t *self, zpoller_t *poller);

//  Self-test.
void
    cc_verifier_test (bool verbose);

#endif
