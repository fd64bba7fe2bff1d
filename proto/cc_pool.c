/*  cc_pool.c - fork-join pool for a cycle's signature checks.

    Every worker takes part in every run (it may find no job left), so the
    caller knows a run is over when all workers have checked out of it and
    can then reuse the job fields: no job of an old run can leak into the
    next one.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <assert.h>
#include <stdio.h>
#include <openssl/crypto.h>

#include "cc_pool.h"

//  Below this many jobs the caller does them alone.
#define INLINE_BELOW    4

struct _cc_pool_t {
    pthread_t *threads;
    size_t workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;            //  a run started, or stop
    pthread_cond_t idle;            //  the last worker left the run
    uint64_t generation;            //  run counter
    size_t checked_in;              //  workers still inside this run
    bool stopping;
    //  The current run (written by the caller only between runs)
    char *jobs;
    size_t count, stride;
    cc_pool_fn *fn;
    void *arg;
    atomic_size_t next;             //  next job index to claim
};

static void
s_work (cc_pool_t *self)
{
    for (;;) {
        size_t index = atomic_fetch_add (&self->next, 1);
        if (index >= self->count)
            break;
        self->fn (self->jobs + index * self->stride, self->arg);
    }
}

static void *
s_worker (void *arg)
{
    cc_pool_t *self = (cc_pool_t *) arg;
    uint64_t seen = 0;
    pthread_mutex_lock (&self->lock);
    for (;;) {
        while (!self->stopping && self->generation == seen)
            pthread_cond_wait (&self->wake, &self->lock);
        if (self->stopping)
            break;
        seen = self->generation;
        pthread_mutex_unlock (&self->lock);
        s_work (self);
        pthread_mutex_lock (&self->lock);
        if (--self->checked_in == 0)
            pthread_cond_signal (&self->idle);
    }
    pthread_mutex_unlock (&self->lock);
    OPENSSL_thread_stop ();
    return NULL;
}

size_t
cc_pool_workers_default (void)
{
    const char *forced = getenv ("CC_POOL_WORKERS");
    if (forced && *forced)
        return (size_t) strtoul (forced, NULL, 10);
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    return cores > 1? (size_t) cores - 1: 0;
}

cc_pool_t *
cc_pool_new (size_t workers)
{
    cc_pool_t *self = (cc_pool_t *) calloc (1, sizeof (cc_pool_t));
    if (!self)
        return NULL;
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->wake, NULL);
    pthread_cond_init (&self->idle, NULL);
    if (workers) {
        self->threads = (pthread_t *) calloc (workers, sizeof (pthread_t));
        if (!self->threads) {
            cc_pool_destroy (&self);
            return NULL;
        }
    }
    for (size_t index = 0; index < workers; index++) {
        if (pthread_create (&self->threads [index], NULL, s_worker, self)) {
            cc_pool_destroy (&self);
            return NULL;
        }
        self->workers++;
    }
    return self;
}

void
cc_pool_destroy (cc_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cc_pool_t *self = *self_p;
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_broadcast (&self->wake);
    pthread_mutex_unlock (&self->lock);
    for (size_t index = 0; index < self->workers; index++)
        pthread_join (self->threads [index], NULL);
    free (self->threads);
    pthread_cond_destroy (&self->idle);
    pthread_cond_destroy (&self->wake);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

void
cc_pool_run (cc_pool_t *self, void *jobs, size_t count, size_t stride,
             cc_pool_fn *fn, void *arg)
{
    if (!self || self->workers == 0 || count < INLINE_BELOW) {
        for (size_t index = 0; index < count; index++)
            fn ((char *) jobs + index * stride, arg);
        return;
    }
    pthread_mutex_lock (&self->lock);
    self->jobs = (char *) jobs;
    self->count = count;
    self->stride = stride;
    self->fn = fn;
    self->arg = arg;
    atomic_store (&self->next, 0);
    self->checked_in = self->workers;
    self->generation++;
    pthread_cond_broadcast (&self->wake);
    pthread_mutex_unlock (&self->lock);

    s_work (self);

    pthread_mutex_lock (&self->lock);
    while (self->checked_in > 0)
        pthread_cond_wait (&self->idle, &self->lock);
    pthread_mutex_unlock (&self->lock);
}

//  --------------------------------------------------------------------------
//  Self-test

typedef struct {
    uint64_t input, output;
    pthread_t ran_on;
} s_test_job_t;

static void
s_test_square (void *job, void *arg)
{
    s_test_job_t *item = (s_test_job_t *) job;
    atomic_size_t *calls = (atomic_size_t *) arg;
    item->output = item->input * item->input;
    item->ran_on = pthread_self ();
    atomic_fetch_add (calls, 1);
}

void
cc_pool_test (bool verbose)
{
    printf (" * cc_pool: ");
    //  Every job runs exactly once, in every batch size, over many runs
    //  (a job of one run leaking into the next would be counted twice).
    cc_pool_t *pool = cc_pool_new (3);
    assert (pool);
    size_t sizes [] = { 0, 1, 3, 4, 5, 64, 1000 };
    bool spread = false;
    for (int round = 0; round < 200; round++) {
        size_t count = sizes [round % (sizeof sizes / sizeof sizes [0])];
        s_test_job_t *jobs = (s_test_job_t *) calloc (count + 1, sizeof (s_test_job_t));
        assert (jobs);
        for (size_t index = 0; index < count; index++)
            jobs [index].input = index + (uint64_t) round;
        atomic_size_t calls = 0;
        cc_pool_run (pool, jobs, count, sizeof (s_test_job_t), s_test_square, &calls);
        assert (atomic_load (&calls) == count);
        for (size_t index = 0; index < count; index++) {
            assert (jobs [index].output == jobs [index].input * jobs [index].input);
            if (!pthread_equal (jobs [index].ran_on, pthread_self ()))
                spread = true;
        }
        assert (jobs [count].output == 0);      //  nothing past the end
        free (jobs);
    }
    //  With 1000-job batches and three workers, some job ran off the caller.
    assert (spread);
    cc_pool_destroy (&pool);
    assert (pool == NULL);
    cc_pool_destroy (&pool);

    //  No workers: the caller does it all.
    pool = cc_pool_new (0);
    assert (pool);
    s_test_job_t jobs [10] = { { 0 } };
    for (int index = 0; index < 10; index++)
        jobs [index].input = (uint64_t) index;
    atomic_size_t calls = 0;
    cc_pool_run (pool, jobs, 10, sizeof jobs [0], s_test_square, &calls);
    assert (calls == 10 && jobs [9].output == 81);
    assert (pthread_equal (jobs [5].ran_on, pthread_self ()));
    cc_pool_destroy (&pool);
    printf ("OK\n");
}
