/*  cc_verifier.c - worker actors for a pipelined actor's signature checks.

    A chunk travels as one frame holding copies of its jobs: the frame is
    the only thing worker and owner share, and whoever holds it owns it.
    Each worker holds at most HOLD_PER_WORKER chunks: enough that it
    never waits for its owner through a disk sync (the broker sends 32
    checks a chunk, about 2.6 ms on one core, and a loaded sync takes
    2-5 ms), few enough that urgent work the owner queues later is not
    stuck behind a long backlog on the pipe (at most about 8 ms).
*/
#include "cc_proto.h"
#include <openssl/crypto.h>
#include <pthread.h>

#define HOLD_PER_WORKER  3

struct _cc_verifier_t {
    zactor_t **workers;
    size_t *held;                   //  chunks each worker holds
    size_t n_workers;
    size_t stride;
    cc_pool_fn *fn;
    void *arg;
    zpoller_t *poller;              //  the workers, for a blocking recv
    zlistx_t *ready;                //  0 workers: chunks run at send
};

static void
s_run_chunk (cc_verifier_t *self, zframe_t *frame)
{
    byte *jobs = zframe_data (frame);
    size_t count = zframe_size (frame) / self->stride;
    for (size_t index = 0; index < count; index++)
        self->fn (jobs + index * self->stride, self->arg);
}

static void
s_worker (zsock_t *pipe, void *args)
{
    cc_verifier_t *self = (cc_verifier_t *) args;
    //  So that top -H and /proc show the operator where the CPU goes.
    pthread_setname_np (pthread_self (), "cc-verify");
    zsock_signal (pipe, 0);
    while (true) {
        zframe_t *frame = zframe_recv (pipe);
        if (!frame && zmq_errno () == EINTR)
            continue;           //  a signal, not $TERM: its owner decides
        if (!frame)
            break;              //  context terminated
        if (zframe_size (frame) % self->stride || zframe_streq (frame, "$TERM")) {
            zframe_destroy (&frame);
            break;
        }
        s_run_chunk (self, frame);
        if (zframe_send (&frame, pipe, 0))
            zframe_destroy (&frame);
    }
    OPENSSL_thread_stop ();
}

static void
s_frame_destructor (void **item)
{
    zframe_destroy ((zframe_t **) item);
}

cc_verifier_t *
cc_verifier_new (size_t workers, size_t stride, cc_pool_fn *fn, void *arg)
{
    assert (stride > 0 && fn);
    cc_verifier_t *self = (cc_verifier_t *) zmalloc (sizeof (cc_verifier_t));
    self->stride = stride;
    self->fn = fn;
    self->arg = arg;
    self->ready = zlistx_new ();
    zlistx_set_destructor (self->ready, s_frame_destructor);
    self->poller = zpoller_new (NULL);
    //  A blocking recv is its owner draining before exit, often on SIGTERM:
    //  the chunks held are finished in any case.
    zpoller_set_nonstop (self->poller, true);
    self->workers = (zactor_t **) zmalloc ((workers + 1) * sizeof (zactor_t *));
    self->held = (size_t *) zmalloc ((workers + 1) * sizeof (size_t));
    for (size_t index = 0; index < workers; index++) {
        self->workers [index] = zactor_new (s_worker, self);
        if (!self->workers [index]) {
            cc_verifier_destroy (&self);
            return NULL;
        }
        self->n_workers++;
        //  Our end never blocks in a read: cc_verifier_recv tries each
        //  worker that holds a chunk (no ZMQ_EVENTS round of system
        //  calls first) and waits, when asked to, on the poller.
        zsock_set_rcvtimeo (self->workers [index], 0);
        zpoller_add (self->poller, self->workers [index]);
    }
    return self;
}

void
cc_verifier_destroy (cc_verifier_t **self_p)
{
    assert (self_p);
    cc_verifier_t *self = *self_p;
    if (!self)
        return;
    //  zactor_destroy sends $TERM behind the chunks a worker holds, so
    //  every chunk sent is run before its worker stops: no job is left
    //  half done in memory its owner is about to free.
    zpoller_destroy (&self->poller);
    for (size_t index = 0; index < self->n_workers; index++) {
        //  zactor_destroy waits for the worker's last signal: blocking.
        zsock_set_rcvtimeo (self->workers [index], -1);
        zactor_destroy (&self->workers [index]);
    }
    free (self->workers);
    free (self->held);
    zlistx_destroy (&self->ready);
    free (self);
    *self_p = NULL;
}

size_t
cc_verifier_room (cc_verifier_t *self)
{
    assert (self);
    if (self->n_workers == 0)
        return 1;
    size_t room = 0;
    for (size_t index = 0; index < self->n_workers; index++)
        room += HOLD_PER_WORKER - self->held [index];
    return room;
}

size_t
cc_verifier_busy (cc_verifier_t *self)
{
    assert (self);
    size_t busy = zlistx_size (self->ready);
    for (size_t index = 0; index < self->n_workers; index++)
        busy += self->held [index];
    return busy;
}

bool
cc_verifier_send (cc_verifier_t *self, const void *jobs, size_t count)
{
    assert (self);
    assert (count > 0 && count <= CC_VERIFIER_CHUNK_MAX);
    zframe_t *frame = zframe_new (jobs, count * self->stride);
    if (self->n_workers == 0) {
        s_run_chunk (self, frame);
        zlistx_add_end (self->ready, frame);
        return true;
    }
    size_t least = 0;
    for (size_t index = 1; index < self->n_workers; index++)
        if (self->held [index] < self->held [least])
            least = index;
    if (self->held [least] >= HOLD_PER_WORKER
    ||  zframe_send (&frame, self->workers [least], 0)) {
        zframe_destroy (&frame);
        return false;
    }
    self->held [least]++;
    return true;
}

zframe_t *
cc_verifier_recv (cc_verifier_t *self, bool wait)
{
    assert (self);
    if (zlistx_size (self->ready))
        return (zframe_t *) zlistx_detach (self->ready, NULL);
    while (cc_verifier_busy (self)) {
        for (size_t index = 0; index < self->n_workers; index++) {
            if (self->held [index] == 0)
                continue;
            zframe_t *frame = zframe_recv (self->workers [index]);
            if (frame) {
                self->held [index]--;
                return frame;
            }
        }
        if (!wait)
            break;
        if (!zpoller_wait (self->poller, -1) && zpoller_terminated (self->poller)
        &&  zmq_errno () != EINTR)
            break;              //  context terminated
    }
    return NULL;
}

void
cc_verifier_poll_with (cc_verifier_t *self, zpoller_t *poller)
{
    assert (self);
    for (size_t index = 0; index < self->n_workers; index++)
        zpoller_add (poller, self->workers [index]);
}

//  ---------------------------------------------------------------------
//  Self-test

typedef struct {
    uint64_t input, output;
    int sleep_ms;
} s_test_job_t;

static void
s_test_square (void *job, void *arg)
{
    s_test_job_t *item = (s_test_job_t *) job;
    if (item->sleep_ms)
        zclock_sleep (item->sleep_ms);
    item->output = item->input * item->input + *(uint64_t *) arg;
}

//  Send `total` jobs in chunks of `chunk`, receiving as we go; every job
//  must come back once, squared, whatever order the chunks finish in.
static void
s_test_stream (size_t workers, size_t total, size_t chunk, int sleep_ms)
{
    uint64_t offset = 7;
    cc_verifier_t *verifier = cc_verifier_new (workers, sizeof (s_test_job_t),
                                               s_test_square, &offset);
    assert (verifier);
    uint8_t *seen = (uint8_t *) zmalloc (total);
    size_t sent = 0, received = 0;
    while (received < total) {
        while (sent < total && cc_verifier_room (verifier)) {
            s_test_job_t jobs [CC_VERIFIER_CHUNK_MAX];
            size_t count = total - sent < chunk? total - sent: chunk;
            for (size_t index = 0; index < count; index++) {
                jobs [index].input = sent + index;
                jobs [index].output = 0;
                jobs [index].sleep_ms = sleep_ms;
            }
            assert (cc_verifier_send (verifier, jobs, count));
            sent += count;
        }
        //  With workers, room runs out before everything is sent.
        if (workers && total > chunk * HOLD_PER_WORKER * workers)
            assert (sent < total || received > 0);
        zframe_t *frame = cc_verifier_recv (verifier, true);
        assert (frame);
        assert (zframe_size (frame) % sizeof (s_test_job_t) == 0);
        s_test_job_t *jobs = (s_test_job_t *) zframe_data (frame);
        for (size_t index = 0; index < zframe_size (frame) / sizeof *jobs;
             index++) {
            assert (jobs [index].input < total);
            assert (jobs [index].output ==
                    jobs [index].input * jobs [index].input + offset);
            assert (!seen [jobs [index].input]);
            seen [jobs [index].input] = 1;
            received++;
        }
        zframe_destroy (&frame);
    }
    assert (cc_verifier_busy (verifier) == 0);
    assert (cc_verifier_recv (verifier, true) == NULL);
    free (seen);
    cc_verifier_destroy (&verifier);
    assert (verifier == NULL);
}

void
cc_verifier_test (bool verbose)
{
    if (verbose)
        printf (" * cc_verifier: ");
    s_test_stream (0, 100, 16, 0);
    s_test_stream (1, 1000, 16, 0);
    s_test_stream (2, 5000, 7, 0);
    s_test_stream (3, 64, 1, 1);

    //  Room is bounded: a worker that holds its share takes no more.
    uint64_t offset = 0;
    cc_verifier_t *verifier = cc_verifier_new (1, sizeof (s_test_job_t),
                                               s_test_square, &offset);
    assert (verifier);
    s_test_job_t slow = { 3, 0, 50 };
    size_t sent = 0;
    while (cc_verifier_send (verifier, &slow, 1))
        sent++;
    assert (sent == HOLD_PER_WORKER);
    assert (cc_verifier_room (verifier) == 0);
    assert (cc_verifier_busy (verifier) == HOLD_PER_WORKER);
    assert (cc_verifier_recv (verifier, false) == NULL);   //  still asleep
    zframe_t *frame = cc_verifier_recv (verifier, true);
    assert (frame && ((s_test_job_t *) zframe_data (frame))->output == 9);
    zframe_destroy (&frame);
    assert (cc_verifier_room (verifier) == 1);
    //  A drain after SIGINT/SIGTERM (czmq sets zsys_interrupted) still
    //  waits for the chunks held: they are someone's requests.
    assert (cc_verifier_send (verifier, &slow, 1));
    zsys_interrupted = 1;
    frame = cc_verifier_recv (verifier, true);
    zsys_interrupted = 0;
    assert (frame);
    zframe_destroy (&frame);
    //  Destroying with chunks still held runs them first: no leak, no
    //  job left running on freed memory.
    cc_verifier_destroy (&verifier);

    //  Through a caller's poller: it wakes when a chunk is done.
    verifier = cc_verifier_new (2, sizeof (s_test_job_t), s_test_square,
                                &offset);
    zpoller_t *poller = zpoller_new (NULL);
    cc_verifier_poll_with (verifier, poller);
    s_test_job_t quick = { 5, 0, 0 };
    assert (cc_verifier_send (verifier, &quick, 1));
    assert (zpoller_wait (poller, 5000) != NULL);
    frame = cc_verifier_recv (verifier, false);
    assert (frame && ((s_test_job_t *) zframe_data (frame))->output == 25);
    zframe_destroy (&frame);
    zpoller_destroy (&poller);
    cc_verifier_destroy (&verifier);
    if (verbose)
        printf ("OK\n");
}
