/*  cc_pool.c - fork-join pool for a cycle's signature checks.

    A run is over when every job has finished, not when every worker has
    looked at it: on a busy host a worker may get its time slice long
    after the caller has done all the jobs itself, and the caller must not
    wait for it. So jobs are claimed from one atomic word that holds the
    run's generation (high half) and the next index (low half): a worker
    that wakes late, or still holds an old run's parameters, cannot claim
    a job of another run, because its compare-and-swap sees a generation
    that is not its own. The caller counts finished jobs and returns when
    the count is complete; only then may it reuse the job fields.
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

//  One run's parameters, copied by each worker under the lock.
typedef struct {
    uint32_t generation;
    char *jobs;
    size_t count, stride;
    cc_pool_fn *fn;
    void *arg;
} s_run_t;

struct _cc_pool_t {
    pthread_t *threads;
    size_t workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;            //  a run started, or stop
    pthread_cond_t idle;            //  the last job of the run finished
    s_run_t run;                    //  the current run (under lock)
    size_t done;                    //  its jobs finished (under lock)
    bool stopping;
    atomic_uint_fast64_t claim;     //  generation << 32 | next index
};

//  Claim and run jobs of `run` until none is left or another run began;
//  returns how many this thread ran.
static size_t
s_work (cc_pool_t *self, const s_run_t *run)
{
    size_t finished = 0;
    uint_fast64_t current = atomic_load (&self->claim);
    for (;;) {
        if ((uint32_t) (current >> 32) != run->generation
        ||  (current & 0xFFFFFFFFu) >= run->count)
            break;
        //  On failure current is reloaded: try again with what is there.
        if (!atomic_compare_exchange_weak (&self->claim, &current, current + 1))
            continue;
        size_t index = (size_t) (current & 0xFFFFFFFFu);
        run->fn (run->jobs + index * run->stride, run->arg);
        finished++;
        current = atomic_load (&self->claim);
    }
    return finished;
}

//  Count finished jobs (lock held); wake the caller at the last one.
static void
s_finished (cc_pool_t *self, size_t finished)
{
    self->done += finished;
    if (finished && self->done == self->run.count)
        pthread_cond_signal (&self->idle);
}

static void *
s_worker (void *arg)
{
    cc_pool_t *self = (cc_pool_t *) arg;
    uint32_t seen = 0;
    pthread_mutex_lock (&self->lock);
    for (;;) {
        while (!self->stopping && self->run.generation == seen)
            pthread_cond_wait (&self->wake, &self->lock);
        if (self->stopping)
            break;
        s_run_t run = self->run;
        seen = run.generation;
        pthread_mutex_unlock (&self->lock);
        size_t finished = s_work (self, &run);
        pthread_mutex_lock (&self->lock);
        s_finished (self, finished);
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
    assert (count < 0xFFFFFFFFu);
    pthread_mutex_lock (&self->lock);
    s_run_t run = { self->run.generation + 1, (char *) jobs, count, stride,
                    fn, arg };
    if (run.generation == 0)
        run.generation = 1;         //  0 is what a new worker has seen
    self->run = run;
    self->done = 0;
    atomic_store (&self->claim, (uint_fast64_t) run.generation << 32);
    pthread_cond_broadcast (&self->wake);
    pthread_mutex_unlock (&self->lock);

    size_t finished = s_work (self, &run);

    pthread_mutex_lock (&self->lock);
    s_finished (self, finished);
    while (self->done < count)
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
    //  Work worth a thread's wake-up (about a microsecond), as a
    //  signature check is: the caller no longer waits for late workers,
    //  so trivial jobs would all run in the caller.
    volatile uint64_t spin = 0;
    for (int step = 0; step < 1000; step++)
        spin += (uint64_t) step;
    item->output = item->input * item->input;
    item->ran_on = pthread_self ();
    atomic_fetch_add (calls, 1);
}

static void
s_test_sleepy (void *job, void *arg)
{
    s_test_job_t *item = (s_test_job_t *) job;
    usleep (2000);
    item->output = 1;
    item->ran_on = pthread_self ();
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
        }
        assert (jobs [count].output == 0);      //  nothing past the end
        free (jobs);
    }
    //  Jobs that sleep leave the caller's core to the workers: some job
    //  runs off the caller, however busy the host.
    s_test_job_t slow [16] = { { 0 } };
    cc_pool_run (pool, slow, 16, sizeof slow [0], s_test_sleepy, NULL);
    bool spread = false;
    for (size_t index = 0; index < 16; index++) {
        assert (slow [index].output == 1);
        if (!pthread_equal (slow [index].ran_on, pthread_self ()))
            spread = true;
    }
    assert (spread);
    //  Many short runs back to back: workers often wake after the caller
    //  has done the whole run alone, and must not take a job of the next.
    for (int round = 0; round < 5000; round++) {
        s_test_job_t jobs [9] = { { 0 } };
        size_t count = 4 + (size_t) round % 5;
        for (size_t index = 0; index < count; index++)
            jobs [index].input = index + 1;
        atomic_size_t calls = 0;
        cc_pool_run (pool, jobs, count, sizeof jobs [0], s_test_square, &calls);
        assert (atomic_load (&calls) == count);
        for (size_t index = 0; index < count; index++)
            assert (jobs [index].output == (index + 1) * (index + 1));
        assert (jobs [count].output == 0);
    }
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
