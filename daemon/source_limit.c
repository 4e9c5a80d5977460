/* A chained hash table of per-source counts. Keys are keyed hashes made by
 * the edge, so nobody outside can aim them at one bucket; FNV-1a spreads
 * them well enough. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "source_limit.h"
#include "util/secmem.h"

#define INITIAL_BUCKETS 64

struct source_limit {
	struct source_entry **buckets;
	size_t n_buckets;      /* a power of two */
	size_t n_entries;
};

static size_t bucket_of(const char *key, size_t n_buckets)
{
	uint64_t x = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		x = (x ^ *p) * 1099511628211ull;
	return (size_t)(x & (n_buckets - 1));
}

struct source_limit *source_limit_new(void)
{
	struct source_limit *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->buckets = calloc(INITIAL_BUCKETS, sizeof *t->buckets);
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	t->n_buckets = INITIAL_BUCKETS;
	return t;
}

void source_limit_free(struct source_limit *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct source_entry *e = t->buckets[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			secmem_free(e, sizeof *e);
		}
	}
	free(t->buckets);
	free(t);
}

/* Double the buckets when the table is fuller than one entry per bucket;
 * a failed grow only makes chains longer. */
static void grow(struct source_limit *t)
{
	size_t n = t->n_buckets * 2;
	struct source_entry **nb;

	if (t->n_entries < t->n_buckets || (nb = calloc(n, sizeof *nb)) == NULL)
		return;
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct source_entry *e = t->buckets[i], *next;
		for (; e != NULL; e = next) {
			size_t b = bucket_of(e->key, n);
			next = e->next;
			e->next = nb[b];
			nb[b] = e;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->n_buckets = n;
}

struct source_entry *source_limit_find(const struct source_limit *t, const char *key)
{
	if (t == NULL || key == NULL)
		return NULL;
	for (struct source_entry *e = t->buckets[bucket_of(key, t->n_buckets)]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

int source_limit_take(struct source_limit *t, const char *key, unsigned n, unsigned max,
		      struct source_entry **out)
{
	struct source_entry *e;
	size_t len, b;

	if (key == NULL || (len = strlen(key)) == 0 || len >= SOURCE_KEY_MAX)
		return BRUG_E_BAD_FIELD;
	e = source_limit_find(t, key);
	if (e != NULL) {
		if (max != 0 && (e->count + n > max || e->count + n < e->count))
			return BRUG_E_RATE_LIMITED;
		e->count += n;
		*out = e;
		return 0;
	}
	if (max != 0 && n > max)
		return BRUG_E_RATE_LIMITED;
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return -ENOMEM;
	memcpy(e->key, key, len + 1);
	e->count = n;
	list_init(&e->users);
	grow(t);
	b = bucket_of(key, t->n_buckets);
	e->next = t->buckets[b];
	t->buckets[b] = e;
	t->n_entries++;
	*out = e;
	return 0;
}

void source_limit_put(struct source_limit *t, struct source_entry *e, unsigned n)
{
	struct source_entry **pp;

	if (e == NULL)
		return;
	e->count -= n < e->count ? n : e->count;
	if (e->count > 0)
		return;
	for (pp = &t->buckets[bucket_of(e->key, t->n_buckets)]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			t->n_entries--;
			break;
		}
	}
	secmem_free(e, sizeof *e);
}

size_t source_limit_size(const struct source_limit *t)
{
	return t != NULL ? t->n_entries : 0;
}
