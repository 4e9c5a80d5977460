/* A single worker thread with a bounded FIFO of jobs and a FIFO of
 * finished ones, both under one mutex. */
#include <pthread.h>
#include <stdlib.h>

#include "list.h"
#include "worker.h"

struct job {
	struct list link;
	worker_fn run, done;
	void *arg;
};

struct worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct list todo, finished;   /* struct job.link */
	unsigned pending, max_pending;
	bool stopping;
	void (*notify)(void *ctx);
	void *ctx;
};

static void *worker_main(void *p)
{
	struct worker *w = p;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *j;

		while (list_empty(&w->todo) && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->stopping)
			break;
		j = list_entry(w->todo.next, struct job, link);
		list_remove(&j->link);
		pthread_mutex_unlock(&w->lock);
		j->run(j->arg);
		pthread_mutex_lock(&w->lock);
		list_add_tail(&w->finished, &j->link);
		if (w->notify != NULL)
			w->notify(w->ctx);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct worker *worker_new(unsigned max_pending, void (*notify)(void *ctx), void *ctx)
{
	struct worker *w = calloc(1, sizeof *w);

	if (w == NULL)
		return NULL;
	list_init(&w->todo);
	list_init(&w->finished);
	w->max_pending = max_pending;
	w->notify = notify;
	w->ctx = ctx;
	if (pthread_mutex_init(&w->lock, NULL) != 0)
		goto fail_mutex;
	if (pthread_cond_init(&w->wake, NULL) != 0)
		goto fail_cond;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		goto fail_thread;
	return w;
fail_thread:
	pthread_cond_destroy(&w->wake);
fail_cond:
	pthread_mutex_destroy(&w->lock);
fail_mutex:
	free(w);
	return NULL;
}

int worker_submit(struct worker *w, worker_fn run, worker_fn done, void *arg)
{
	struct job *j;
	int rc = -1;

	pthread_mutex_lock(&w->lock);
	if (w->stopping || w->pending >= w->max_pending)
		goto out;
	j = malloc(sizeof *j);
	if (j == NULL)
		goto out;
	j->run = run;
	j->done = done;
	j->arg = arg;
	list_add_tail(&w->todo, &j->link);
	w->pending++;
	pthread_cond_signal(&w->wake);
	rc = 0;
out:
	pthread_mutex_unlock(&w->lock);
	return rc;
}

unsigned worker_drain(struct worker *w)
{
	unsigned n = 0;

	for (;;) {
		struct job *j = NULL;

		pthread_mutex_lock(&w->lock);
		if (!list_empty(&w->finished)) {
			j = list_entry(w->finished.next, struct job, link);
			list_remove(&j->link);
			w->pending--;
		}
		pthread_mutex_unlock(&w->lock);
		if (j == NULL)
			return n;
		/* done() may submit again: the lock is not held here. */
		j->done(j->arg);
		free(j);
		n++;
	}
}

unsigned worker_pending(struct worker *w)
{
	unsigned n;

	pthread_mutex_lock(&w->lock);
	n = w->pending;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	/* Finished jobs are handed back; jobs that never ran too, so their
	 * owners can free what they hold. */
	worker_drain(w);
	while (!list_empty(&w->todo)) {
		struct job *j = list_entry(w->todo.next, struct job, link);
		list_remove(&j->link);
		j->done(j->arg);
		free(j);
	}
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
