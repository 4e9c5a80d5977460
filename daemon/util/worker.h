/* One background thread for slow, self-contained work (password hashing),
 * so the event loop never waits for it. Jobs go in on the loop's thread;
 * finished jobs come back to it through worker_drain(). */
#ifndef BRUG_UTIL_WORKER_H
#define BRUG_UTIL_WORKER_H

#include <stdbool.h>

struct worker;

/* run(arg) happens on the worker thread and must touch only arg.
 * done(arg) happens on the loop's thread, in worker_drain(). */
typedef void (*worker_fn)(void *arg);

/* Start the thread. notify(ctx) is called on the worker thread after each
 * job finishes, to wake the loop; it must be thread-safe (e.g.
 * lws_cancel_service). max_pending bounds the queue. NULL on failure. */
struct worker *worker_new(unsigned max_pending, void (*notify)(void *ctx), void *ctx);
/* Queue a job. Returns 0, or -1 if the queue is full or the worker stopped
 * (then nothing runs and arg stays the caller's). */
int worker_submit(struct worker *w, worker_fn run, worker_fn done, void *arg);
/* Call done() of every finished job, in order. Returns how many. */
unsigned worker_drain(struct worker *w);
/* Jobs queued or running or finished but not drained. */
unsigned worker_pending(struct worker *w);
/* Stop the thread after the running job, then pass every job left, run
 * or not, to its done() so owners can free what they hold. A job's arg
 * must therefore say itself whether run() happened. Accepts NULL. */
void worker_free(struct worker *w);

#endif
