/* The membership list of a cluster (docs/cluster.md, section 2): which
 * nodes are alive, kept by their heartbeats, and the rendezvous hashing
 * that gives each language an owner among them. Pure logic: no NATS, no
 * clock of its own (every call takes now_ms). */
#ifndef BRUG_MEMBERS_H
#define BRUG_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#define MEMBERS_MAX 64           /* nodes in one cluster */
#define MEMBERS_NAME_MAX 32      /* [a-z0-9-]{1,32}, as [cluster] node */

/* What a heartbeat told (members_heard). */
enum members_heard {
	MEMBERS_JOINED = 1,   /* a node not in the list, or back with a new boot */
	MEMBERS_SAME,         /* a known node, still alive */
	MEMBERS_STALE,        /* an old or repeated heartbeat of a known boot: ignored */
	MEMBERS_SELF,         /* another process uses our own name: ignored */
	MEMBERS_FULL,         /* MEMBERS_MAX reached: ignored */
};

struct members;

/* A list holding only self (copied) with its boot id; a member not heard
 * for timeout_ms is dropped. NULL on no memory or a bad name. */
struct members *members_new(const char *self, uint64_t self_boot, uint64_t timeout_ms);
/* Accepts NULL. */
void members_free(struct members *m);

/* Whether name is a valid node name. */
bool members_name_valid(const char *name);

/* A heartbeat from name (borrowed) of boot number `boot`, its seq-th.
 * Returns an enum members_heard, or BRUG_E_BAD_FIELD for a bad name. */
int members_heard(struct members *m, const char *name, uint64_t boot, uint64_t seq, uint64_t now_ms);
/* name said goodbye (a clean shut-down): drop it now if its boot matches.
 * Returns true if it was dropped. */
bool members_left(struct members *m, const char *name, uint64_t boot);
/* Drop every member not heard for the timeout at now_ms; gone(ctx, name)
 * is called for each (name valid during the call only; gone may be NULL).
 * Returns how many were dropped. */
unsigned members_expire(struct members *m, uint64_t now_ms, void (*gone)(void *ctx, const char *name),
			void *ctx);

/* Members, self included, in name order: count and the i-th name
 * (borrowed, valid until the list changes). */
unsigned members_count(const struct members *m);
const char *members_name(const struct members *m, unsigned i);
/* Whether name is in the list. */
bool members_has(const struct members *m, const char *name);

/* Rendezvous hashing (section 4): the member with the rank-th largest
 * weight SipHash(key + "/" + name), rank 0 the owner, 1 the backup.
 * Borrowed; NULL if fewer than rank+1 members. */
const char *members_owner(const struct members *m, const char *key, unsigned rank);

#endif
