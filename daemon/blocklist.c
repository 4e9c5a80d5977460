/* Abuse blocks: a small array of hashed source keys with deadlines, looked
 * up when a visitor socket opens. Blocks are few (staff make them by hand),
 * so a linear scan is enough. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blocklist.h"
#include "common.h"
#include "source_limit.h"
#include "util/secmem.h"

struct block {
	char key[SOURCE_KEY_MAX];
	uint64_t until_ms;
};

struct blocklist {
	struct block *v;
	unsigned n, size;
};

struct blocklist *blocklist_new(void)
{
	return calloc(1, sizeof(struct blocklist));
}

void blocklist_free(struct blocklist *b)
{
	if (b == NULL)
		return;
	if (b->v != NULL)
		secmem_free(b->v, b->size * sizeof *b->v);
	free(b);
}

/* Remove entry i (wiped), keeping the rest packed. */
static void drop(struct blocklist *b, unsigned i)
{
	b->v[i] = b->v[b->n - 1];
	secmem_wipe(&b->v[b->n - 1], sizeof b->v[0]);
	b->n--;
}

void blocklist_expire(struct blocklist *b, uint64_t now_ms)
{
	for (unsigned i = 0; i < b->n;) {
		if (b->v[i].until_ms <= now_ms)
			drop(b, i);
		else
			i++;
	}
}

int blocklist_add(struct blocklist *b, const char *key, uint64_t until_ms)
{
	size_t len = key != NULL ? strlen(key) : 0;
	unsigned first = 0;

	if (len == 0 || len >= SOURCE_KEY_MAX)
		return BRUG_E_BAD_FIELD;
	for (unsigned i = 0; i < b->n; i++) {
		if (strcmp(b->v[i].key, key) == 0) {
			if (until_ms > b->v[i].until_ms)
				b->v[i].until_ms = until_ms;
			return 0;
		}
		if (b->v[i].until_ms < b->v[first].until_ms)
			first = i;
	}
	if (b->n == BLOCKLIST_MAX) {
		drop(b, first);
	} else if (b->n == b->size) {
		unsigned nsize = b->size ? b->size * 2 : 16;
		struct block *nv = calloc(nsize, sizeof *nv);

		if (nv == NULL)
			return -ENOMEM;
		if (b->v != NULL) {
			memcpy(nv, b->v, b->n * sizeof *nv);
			secmem_free(b->v, b->size * sizeof *b->v);
		}
		b->v = nv;
		b->size = nsize;
	}
	memcpy(b->v[b->n].key, key, len + 1);
	b->v[b->n].until_ms = until_ms;
	b->n++;
	return 0;
}

bool blocklist_has(struct blocklist *b, const char *key, uint64_t now_ms)
{
	if (key == NULL || key[0] == '\0' || b->n == 0)
		return false;
	blocklist_expire(b, now_ms);
	for (unsigned i = 0; i < b->n; i++)
		if (strcmp(b->v[i].key, key) == 0)
			return true;
	return false;
}

unsigned blocklist_count(const struct blocklist *b)
{
	return b->n;
}
