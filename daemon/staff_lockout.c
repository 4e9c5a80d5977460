/* The in-memory lockout table that slows down password guessing by user
 * name, by address and by the pair of both; keys are kept only as hashes. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <sqlite3.h>
#include "common.h"
#include "log.h"
#include "seal.h"
#include "secmem.h"
#include "store.h"
#include "token.h"
#include "totp.h"
#include "staff.h"
#include "staff_private.h"

/* ---- lockout table ------------------------------------------------------ */

/* The table key for a name of a kind ('u' user name, lower-cased; 'a'
 * address key as given; 'p' a user name and an address, as made by
 * staff_pair_key()). */
void staff_lock_key(struct staff *st, char kind, const char *name, unsigned char key[LOCK_KEY_BYTES])
{
	crypto_generichash_state h;
	unsigned char chunk[64];
	size_t n = 0;
	bool lower = kind != 'a';

	crypto_generichash_init(&h, st->lock_secret, sizeof st->lock_secret, LOCK_KEY_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)&kind, 1);
	for (const char *p = name; *p != '\0'; p++) {
		char c = *p;

		/* In a pair, only the user name (before the NUL-free
		 * separator '\n') is lower-cased. */
		if (kind == 'p' && c == '\n')
			lower = false;
		if (lower && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		chunk[n++] = (unsigned char)c;
		if (n == sizeof chunk) {
			crypto_generichash_update(&h, chunk, n);
			n = 0;
		}
	}
	crypto_generichash_update(&h, chunk, n);
	crypto_generichash_final(&h, key, LOCK_KEY_BYTES);
	sodium_memzero(chunk, sizeof chunk);
	sodium_memzero(&h, sizeof h);
}

/* The entry for key, or NULL. With create, a missing entry is made, taking a
 * free slot or else evicting the entry whose last failure is oldest,
 * preferring entries that are not locked right now so that flooding the table
 * with new names does not lift a lock. */
struct lock_entry *staff_lock_find(struct staff *st, const unsigned char key[LOCK_KEY_BYTES],
				    int64_t now, bool create)
{
	struct lock_entry *free_slot = NULL, *victim = NULL;
	bool victim_locked = true;

	for (unsigned i = 0; i < st->n_locks; i++) {
		struct lock_entry *e = &st->locks[i];
		bool locked;

		if (!e->used) {
			if (free_slot == NULL)
				free_slot = e;
			continue;
		}
		if (memcmp(e->key, key, LOCK_KEY_BYTES) == 0) {
			/* A key quiet for a day starts over, streak and all. */
			if (now >= e->locked_until && now - e->last_ms >= STAFF_LOCK_FORGET_MS) {
				e->fails = 0;
				e->streak = 0;
			}
			return e;
		}
		locked = now < e->locked_until;
		if (victim == NULL || (victim_locked && !locked) ||
		    (victim_locked == locked && e->last_ms < victim->last_ms)) {
			victim = e;
			victim_locked = locked;
		}
	}
	if (!create)
		return NULL;
	if (free_slot == NULL)
		free_slot = victim;
	if (free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof *free_slot);
	memcpy(free_slot->key, key, LOCK_KEY_BYTES);
	free_slot->used = true;
	return free_slot;
}

bool staff_lock_active(struct lock_entry *e, int64_t now)
{
	if (e == NULL || now >= e->locked_until)
		return false;
	/* The wall clock may have been set back: never lock longer than the
	 * longest lock from now. */
	if (e->locked_until - now > STAFF_LOCK_MAX_MS)
		e->locked_until = now + STAFF_LOCK_MAX_MS;
	return true;
}

/* The key of username from addr_key (NULL: no address known, then the
 * pair stands for the user name alone). */
void staff_pair_key(struct staff *st, const char *username, const char *addr_key,
		     unsigned char key[LOCK_KEY_BYTES])
{
	size_t n = strlen(username), m = addr_key != NULL ? strlen(addr_key) : 0;
	char *buf = malloc(n + m + 2);

	if (buf == NULL) {
		/* Without memory the pair falls back to the user name. */
		staff_lock_key(st, 'p', username, key);
		return;
	}
	memcpy(buf, username, n);
	buf[n] = '\n';
	memcpy(buf + n + 1, addr_key != NULL ? addr_key : "", m + 1);
	staff_lock_key(st, 'p', buf, key);
	sodium_memzero(buf, n + m + 2);
	free(buf);
}

/* Count a failure; the limit-th within the window locks the key, for
 * twice as long as its previous lock. */
void staff_lock_fail(struct staff *st, const unsigned char key[LOCK_KEY_BYTES], unsigned limit,
		      int64_t now)
{
	struct lock_entry *e = staff_lock_find(st, key, now, true);
	int64_t ms = STAFF_LOCK_FIRST_MS;

	if (e == NULL)
		return;
	if (e->fails == 0 || now < e->window_start || now - e->window_start >= STAFF_LOCK_WINDOW_MS) {
		e->fails = 0;
		e->window_start = now;
	}
	e->fails++;
	e->last_ms = now;
	if (e->fails < limit)
		return;
	for (unsigned i = 0; i < e->streak && ms < STAFF_LOCK_MAX_MS; i++)
		ms *= 2;
	if (ms > STAFF_LOCK_MAX_MS)
		ms = STAFF_LOCK_MAX_MS;
	e->locked_until = now + ms;
	e->streak++;
	e->fails = 0;
	log_notice("staff: login locked out for %lld s after repeated failures", (long long)(ms / 1000));
}

void staff_lock_clear(struct staff *st, const unsigned char key[LOCK_KEY_BYTES])
{
	struct lock_entry *e = staff_lock_find(st, key, 0, false);

	if (e != NULL)
		memset(e, 0, sizeof *e);
}

/* Count a failure of a (user name, address) pair, remembering whose it
 * is so that staff_lock_clear_user() finds it. */
void staff_lock_fail_pair(struct staff *st, const unsigned char pkey[LOCK_KEY_BYTES],
			   const unsigned char ukey[LOCK_KEY_BYTES], int64_t now)
{
	struct lock_entry *e;

	staff_lock_fail(st, pkey, STAFF_LOCK_FAILURES, now);
	e = staff_lock_find(st, pkey, now, false);
	if (e != NULL) {
		e->pair = true;
		memcpy(e->ukey, ukey, LOCK_KEY_BYTES);
	}
}

/* Forget every count of the user name ukey: its own and its pairs'. */
void staff_lock_clear_user(struct staff *st, const unsigned char ukey[LOCK_KEY_BYTES])
{
	staff_lock_clear(st, ukey);
	for (unsigned i = 0; i < st->n_locks; i++)
		if (st->locks[i].used && st->locks[i].pair &&
		    memcmp(st->locks[i].ukey, ukey, LOCK_KEY_BYTES) == 0)
			memset(&st->locks[i], 0, sizeof st->locks[i]);
}

