/* The cluster's membership list and rendezvous owners (docs/cluster.md,
 * sections 2 and 4). A few dozen nodes at most: a sorted array is all it
 * needs. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common.h"
#include "members.h"

struct member {
	char name[MEMBERS_NAME_MAX + 1];
	uint64_t boot;
	uint64_t seq;          /* last heartbeat number of this boot */
	uint64_t heard_ms;
	bool self;             /* never expires */
};

struct members {
	struct member list[MEMBERS_MAX];   /* first n used, in name order */
	unsigned n;
	uint64_t timeout_ms;
};

/* Fixed, public: the weights only need to be the same on every node, not
 * secret (nobody gains by predicting which node owns a language). */
static const unsigned char owner_key[crypto_shorthash_KEYBYTES] = "brug-owner-v1...";

bool members_name_valid(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	return n >= 1 && n <= MEMBERS_NAME_MAX && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static struct member *find(struct members *m, const char *name, unsigned *at)
{
	unsigned i;

	for (i = 0; i < m->n; i++) {
		int c = strcmp(m->list[i].name, name);
		if (c == 0) {
			*at = i;
			return &m->list[i];
		}
		if (c > 0)
			break;
	}
	*at = i;
	return NULL;
}

static void remove_at(struct members *m, unsigned i)
{
	memmove(&m->list[i], &m->list[i + 1], (m->n - i - 1) * sizeof m->list[0]);
	m->n--;
	memset(&m->list[m->n], 0, sizeof m->list[0]);
}

struct members *members_new(const char *self, uint64_t self_boot, uint64_t timeout_ms)
{
	struct members *m;

	if (!members_name_valid(self))
		return NULL;
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->timeout_ms = timeout_ms;
	memcpy(m->list[0].name, self, strlen(self) + 1);
	m->list[0].boot = self_boot;
	m->list[0].self = true;
	m->n = 1;
	return m;
}

void members_free(struct members *m)
{
	free(m);
}

int members_heard(struct members *m, const char *name, uint64_t boot, uint64_t seq, uint64_t now_ms)
{
	struct member *e;
	unsigned at;

	if (!members_name_valid(name))
		return BRUG_E_BAD_FIELD;
	e = find(m, name, &at);
	if (e != NULL && e->self)
		return MEMBERS_SELF;
	if (e != NULL && e->boot == boot) {
		if (seq <= e->seq)
			return MEMBERS_STALE;
		e->seq = seq;
		e->heard_ms = now_ms;
		return MEMBERS_SAME;
	}
	if (e != NULL) {
		/* The same name with another boot: the node restarted, and what
		 * its peers knew of the old process is gone with it. */
		e->boot = boot;
		e->seq = seq;
		e->heard_ms = now_ms;
		return MEMBERS_JOINED;
	}
	if (m->n == MEMBERS_MAX)
		return MEMBERS_FULL;
	memmove(&m->list[at + 1], &m->list[at], (m->n - at) * sizeof m->list[0]);
	m->n++;
	e = &m->list[at];
	memset(e, 0, sizeof *e);
	memcpy(e->name, name, strlen(name) + 1);
	e->boot = boot;
	e->seq = seq;
	e->heard_ms = now_ms;
	return MEMBERS_JOINED;
}

bool members_left(struct members *m, const char *name, uint64_t boot)
{
	struct member *e;
	unsigned at;

	if (!members_name_valid(name) || (e = find(m, name, &at)) == NULL || e->self || e->boot != boot)
		return false;
	remove_at(m, at);
	return true;
}

unsigned members_expire(struct members *m, uint64_t now_ms, void (*gone)(void *ctx, const char *name),
			void *ctx)
{
	unsigned dropped = 0;

	for (unsigned i = 0; i < m->n;) {
		struct member *e = &m->list[i];
		if (e->self || now_ms < e->heard_ms || now_ms - e->heard_ms < m->timeout_ms) {
			i++;
			continue;
		}
		char name[MEMBERS_NAME_MAX + 1];
		memcpy(name, e->name, sizeof name);
		remove_at(m, i);
		dropped++;
		if (gone != NULL)
			gone(ctx, name);
	}
	return dropped;
}

unsigned members_count(const struct members *m)
{
	return m->n;
}

const char *members_name(const struct members *m, unsigned i)
{
	return i < m->n ? m->list[i].name : NULL;
}

bool members_has(const struct members *m, const char *name)
{
	unsigned at;

	return members_name_valid(name) && find((struct members *)m, name, &at) != NULL;
}

static uint64_t weight(const char *key, const char *name)
{
	unsigned char in[64 + 1 + MEMBERS_NAME_MAX], out[crypto_shorthash_BYTES];
	size_t klen = strnlen(key, 64), nlen = strlen(name);
	uint64_t w = 0;

	memcpy(in, key, klen);
	in[klen] = '/';
	memcpy(in + klen + 1, name, nlen);
	crypto_shorthash(out, in, klen + 1 + nlen, owner_key);
	for (unsigned i = 0; i < sizeof out; i++)
		w = (w << 8) | out[i];
	return w;
}

const char *members_owner(const struct members *m, const char *key, unsigned rank)
{
	uint64_t w[MEMBERS_MAX];
	bool taken[MEMBERS_MAX] = { false };
	unsigned best = 0;

	if (key == NULL || rank >= m->n)
		return NULL;
	for (unsigned i = 0; i < m->n; i++)
		w[i] = weight(key, m->list[i].name);
	/* rank+1 rounds of "largest not yet taken"; equal weights (never seen
	 * in practice) go to the first name, so every node agrees. */
	for (unsigned r = 0; r <= rank; r++) {
		bool found = false;
		for (unsigned i = 0; i < m->n; i++) {
			if (taken[i])
				continue;
			if (!found || w[i] > w[best]) {
				best = i;
				found = true;
			}
		}
		taken[best] = true;
	}
	return m->list[best].name;
}
