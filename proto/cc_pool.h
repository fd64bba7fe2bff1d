/*  cc_pool.h - a fork-join pool that spreads one poll cycle's signature
    checks over every core.

    Ed25519 verification is the one CPU-bound step on every hop, and each
    actor is single-threaded by design (one LMDB writer, one socket owner).
    An actor that has collected a cycle's work (the acks of a ROUTER drain,
    a fetched batch of deliveries) hands the array to cc_pool_run, which
    runs the function on every element across the pool's threads and the
    caller's own, and returns when all are done. The actor keeps its order
    and its single-threaded state: the jobs only read shared data and write
    their own element.

    Jobs may call OpenSSL (EVP is thread-safe); cc_delegation's verified
    cache is per thread, so each worker warms its own. Workers free their
    OpenSSL thread state when the pool is destroyed.
*/
#ifndef CC_POOL_H_INCLUDED
#define CC_POOL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct _cc_pool_t cc_pool_t;

//  Run on one job; `job` points at the element, `arg` is the caller's.
typedef void (cc_pool_fn) (void *job, void *arg);

//  A pool of `workers` threads besides the caller. 0 workers is valid
//  (everything runs in the caller). cc_pool_workers_default () gives
//  online cores - 1. NULL if a thread could not be started.
cc_pool_t *
    cc_pool_new (size_t workers);

//  Stop and join the workers. Does nothing on NULL; nulls the pointer.
void
    cc_pool_destroy (cc_pool_t **self_p);

//  Online cores - 1, at least 0; CC_POOL_WORKERS in the environment
//  overrides (for tests and for hosts that share their cores).
size_t
    cc_pool_workers_default (void);

//  Call fn (jobs + index * stride, arg) for every index below count and
//  return when every call has returned. Small batches run in the caller
//  alone: waking a thread costs more than a few checks. Not reentrant:
//  one actor owns a pool.
void
    cc_pool_run (cc_pool_t *self, void *jobs, size_t count, size_t stride,
                 cc_pool_fn *fn, void *arg);

//  Self-test.
void
    cc_pool_test (bool verbose);

#endif
