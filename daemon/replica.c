/* Replicas of other nodes' sessions: a chained hash by (owner, sid) and an
 * arrival-ordered list, so that a lost node's sessions come back in
 * ticket order (docs/cluster.md, section 6). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replica.h"
#include "util/secmem.h"
#include "util/token.h"

#define BUCKETS_MIN 64

struct replica_store {
	struct replica **buckets;
	size_t n_buckets, count;
	struct list all;           /* struct replica.link, arrival order */
	uint64_t seen;
};

/* FNV-1a over the owner name, mixed with the handle. */
static size_t bucket_of(const struct replica_store *st, const char *owner, uint64_t sid)
{
	uint64_t h = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)owner; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	h ^= sid * 0x9e3779b97f4a7c15ull;
	return (size_t)(h ^ (h >> 29)) & (st->n_buckets - 1);
}

struct replica_store *replica_store_new(void)
{
	struct replica_store *st = calloc(1, sizeof *st);

	if (st == NULL)
		return NULL;
	st->n_buckets = BUCKETS_MIN;
	st->buckets = calloc(st->n_buckets, sizeof *st->buckets);
	if (st->buckets == NULL) {
		free(st);
		return NULL;
	}
	list_init(&st->all);
	return st;
}

static void replica_destroy(struct replica *rep)
{
	chat_log_wipe(&rep->log);
	secmem_free(rep, sizeof *rep);
}

void replica_store_free(struct replica_store *st)
{
	struct list *it, *tmp;

	if (st == NULL)
		return;
	list_for_each_safe(it, tmp, &st->all)
		replica_destroy(list_entry(it, struct replica, link));
	free(st->buckets);
	free(st);
}

/* Double the buckets; on no memory the chains just grow longer. */
static void grow(struct replica_store *st)
{
	size_t n = st->n_buckets * 2;
	struct replica **b = calloc(n, sizeof *b);
	struct list *it;

	if (b == NULL)
		return;
	free(st->buckets);
	st->buckets = b;
	st->n_buckets = n;
	list_for_each(it, &st->all) {
		struct replica *rep = list_entry(it, struct replica, link);
		size_t k = bucket_of(st, rep->owner, rep->sid);
		rep->hnext = b[k];
		b[k] = rep;
	}
}

struct replica *replica_get(struct replica_store *st, const char *owner, uint64_t sid, bool create)
{
	struct replica *rep;
	size_t k;

	if (st == NULL || owner == NULL || owner[0] == '\0' || strlen(owner) > REPLICA_NODE_MAX)
		return NULL;
	k = bucket_of(st, owner, sid);
	for (rep = st->buckets[k]; rep != NULL; rep = rep->hnext)
		if (rep->sid == sid && strcmp(rep->owner, owner) == 0)
			return rep;
	if (!create)
		return NULL;
	rep = calloc(1, sizeof *rep);
	if (rep == NULL)
		return NULL;
	memcpy(rep->owner, owner, strlen(owner) + 1);
	rep->sid = sid;
	rep->lang = -1;
	rep->topic = -1;
	rep->seen = ++st->seen;
	chat_log_init(&rep->log);
	if (st->count >= st->n_buckets * 2) {
		grow(st);
		k = bucket_of(st, owner, sid);
	}
	rep->hnext = st->buckets[k];
	st->buckets[k] = rep;
	list_add_tail(&st->all, &rep->link);
	st->count++;
	return rep;
}

void replica_drop(struct replica_store *st, struct replica *rep)
{
	if (st == NULL || rep == NULL)
		return;
	for (struct replica **p = &st->buckets[bucket_of(st, rep->owner, rep->sid)]; *p != NULL; p = &(*p)->hnext) {
		if (*p == rep) {
			*p = rep->hnext;
			break;
		}
	}
	list_remove(&rep->link);
	st->count--;
	replica_destroy(rep);
}

unsigned replica_drop_owner(struct replica_store *st, const char *owner)
{
	struct list *it, *tmp;
	unsigned n = 0;

	if (st == NULL || owner == NULL)
		return 0;
	list_for_each_safe(it, tmp, &st->all) {
		struct replica *rep = list_entry(it, struct replica, link);
		if (strcmp(rep->owner, owner) == 0) {
			replica_drop(st, rep);
			n++;
		}
	}
	return n;
}

void replica_reset_log(struct replica *rep)
{
	chat_log_wipe(&rep->log);
	chat_log_init(&rep->log);
}

int replica_append(struct replica *rep, uint32_t seq, bool from_visitor, const char *alias, const char *text,
		   size_t len, uint64_t ts_ms)
{
	if (seq == 0 || (rep->log.count > 0 && seq < rep->log.next_seq))
		return 0;
	/* The owner numbers the messages; the log keeps its numbers. */
	rep->log.next_seq = seq;
	if (chat_log_append(&rep->log, from_visitor, from_visitor ? NULL : alias, text, len, ts_ms) == NULL)
		return -ENOMEM;
	return 0;
}

int replica_by_ticket(const void *a, const void *b)
{
	const struct replica *x = *(struct replica *const *)a, *y = *(struct replica *const *)b;

	if (x->enqueued_wall_ms != y->enqueued_wall_ms)
		return x->enqueued_wall_ms < y->enqueued_wall_ms ? -1 : 1;
	return x->seen < y->seen ? -1 : x->seen > y->seen;
}

int replica_list_owner(struct replica_store *st, const char *owner, struct replica ***out, size_t *n)
{
	struct list *it;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (st == NULL || owner == NULL || st->count == 0)
		return 0;
	*out = malloc(st->count * sizeof **out);
	if (*out == NULL)
		return -ENOMEM;
	list_for_each(it, &st->all) {
		struct replica *rep = list_entry(it, struct replica, link);
		if (strcmp(rep->owner, owner) == 0)
			(*out)[k++] = rep;
	}
	qsort(*out, k, sizeof **out, replica_by_ticket);
	*n = k;
	return 0;
}

const char *replica_find_hash(struct replica_store *st, const char *hash)
{
	struct list *it;

	if (st == NULL || hash == NULL || strlen(hash) != 64)
		return NULL;
	list_for_each(it, &st->all) {
		struct replica *rep = list_entry(it, struct replica, link);
		if (token_equal(rep->token_hash, hash))
			return rep->owner;
	}
	return NULL;
}

size_t replica_count(const struct replica_store *st)
{
	return st != NULL ? st->count : 0;
}
