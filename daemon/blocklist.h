/* Abuse blocks (issue 10): the opaque, already hashed source keys of
 * blocked visitors, each until a deadline. RAM only, never written: a
 * restart forgets every block, and the edge's key changes then as well. */
#ifndef BRUG_BLOCKLIST_H
#define BRUG_BLOCKLIST_H

#include <stdbool.h>
#include <stdint.h>

/* At most this many blocks are kept; past it the one that ends first
 * goes, so that blocking cannot grow memory without bound. */
#define BLOCKLIST_MAX 4096

struct blocklist;

/* An empty list; NULL on no memory. */
struct blocklist *blocklist_new(void);
/* Wipe and free every block and b. Accepts NULL. */
void blocklist_free(struct blocklist *b);
/* Block key (borrowed, copied; 1..SOURCE_KEY_MAX-1 bytes) until until_ms
 * (monotonic); a key blocked already keeps the later deadline. Returns 0,
 * BRUG_E_BAD_FIELD for an empty or too long key, or -ENOMEM. */
int blocklist_add(struct blocklist *b, const char *key, uint64_t until_ms);
/* Whether key (borrowed; NULL or "" is never blocked) is blocked at now_ms.
 * Drops the blocks that have run out. */
bool blocklist_has(struct blocklist *b, const char *key, uint64_t now_ms);
/* Drop (and wipe) the blocks that have run out at now_ms. */
void blocklist_expire(struct blocklist *b, uint64_t now_ms);
/* Blocks held (for tests and logs). */
unsigned blocklist_count(const struct blocklist *b);

#endif
