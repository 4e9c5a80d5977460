/* Counting per client source: a small table keyed by an opaque, already
 * hashed key of the client's address (the edge makes it; the address itself
 * never gets here). RAM only; a key is wiped once its count is back to zero. */
#ifndef BRUG_SOURCE_LIMIT_H
#define BRUG_SOURCE_LIMIT_H

#include <stddef.h>
#include "util/list.h"

/* Longest key, NUL included (the edge gives 32 hex digits). */
#define SOURCE_KEY_MAX 65

struct source_limit;

/* One source with a count above zero. */
struct source_entry {
	/* Read-only for callers. */
	char key[SOURCE_KEY_MAX];
	unsigned count;
	/* Free for the caller, e.g. the sessions of this source; must be empty
	 * (or unused) when the count drops to zero. Initialised empty. */
	struct list users;
	/* Private. */
	struct source_entry *next;
};

/* An empty table; NULL on no memory. */
struct source_limit *source_limit_new(void);
/* Wipe and free every entry and t. Accepts NULL. */
void source_limit_free(struct source_limit *t);

/* Count n more against key (borrowed, copied), unless that would take its
 * count above max (0: no limit). On success *out is the entry (owned by
 * the table, valid while its count is above zero). Returns 0,
 * BRUG_E_RATE_LIMITED if over max (nothing changes), BRUG_E_BAD_FIELD for
 * an empty or too long key, or -ENOMEM. */
int source_limit_take(struct source_limit *t, const char *key, unsigned n, unsigned max,
		      struct source_entry **out);
/* Give back n of e's count (at most what it holds). At zero, e's key is
 * wiped and e freed. Accepts NULL e. */
void source_limit_put(struct source_limit *t, struct source_entry *e, unsigned n);
/* The entry of key, or NULL if its count is zero (borrowed). */
struct source_entry *source_limit_find(const struct source_limit *t, const char *key);
/* How many sources have a count above zero. */
size_t source_limit_size(const struct source_limit *t);

#endif
