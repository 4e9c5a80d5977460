/* What the fuzz targets that run a real hub share (fuzz-hub.c,
 * fuzz-cluster.c): the config, the compiled i18n bundles, and a staff
 * database with three accounts and four sessions made once per process,
 * copied afresh for every run so that runs do not depend on each other. */
#ifndef BRUG_FUZZ_HUB_ENV_H
#define BRUG_FUZZ_HUB_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "hub.h"
#include "util/token.h"

/* Abort with a reason: libFuzzer keeps the input as a crasher. */
#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz: invariant: " __VA_ARGS__);       \
			fputc('\n', stderr);                                 \
			abort();                                             \
		}                                                            \
	} while (0)

/* The fake clock: wall time is HUB_ENV_BASE_WALL_MS + the loop's now. */
#define HUB_ENV_BASE_WALL_MS 1764400000000ull

/* ana (volunteer; nl, ar; two chats), bo (professional and key person;
 * nl, en, tr, ti; forced_marriage; one chat), cora (coordinator and
 * volunteer; every language; three chats). Password "pw-USER-long-enough". */
extern const char *const hub_env_users[3];
extern const char *const hub_env_aliases[3];

extern struct hub_env {
	struct config cfg;                   /* a target may add to it after hub_env_init */
	struct i18n *t;
	char dir[64], db[96];
	unsigned char *db_image;             /* the staff database with its accounts and sessions */
	size_t db_len;
	char preset[4][TOKEN_STR_LEN];       /* sessions: ana, ana, bo, cora */
} hub_env;

/* One run's hub and what it borrows. */
struct hub_env_run {
	struct hub *h;
	struct staff *st;
	struct roster *roster;
	struct stats *stats;
};

/* Once per process: the config, the bundles (BRUG_LOCALES_DIR or the
 * build's), a temporary directory named after target (in /dev/shm when
 * there is one, removed at exit) and the database image. */
void hub_env_init(const char *target);
/* A fresh copy of the database and a hub on it with ops (ctx for wall_ms
 * and wake), roster and statistics. */
void hub_env_open(struct hub_env_run *e, const struct hub_edge_ops *ops, void *ctx);
/* hub_free (every connection reported closed before), then the rest. */
void hub_env_close(struct hub_env_run *e, uint64_t now);
/* A ring of strings the harness saw in the hub's frames (ids, tokens),
 * fed back into later steps. */
#define HUB_ENV_POOL 8
#define HUB_ENV_TOK_LEN 72
struct hub_env_pool {
	char s[HUB_ENV_POOL][HUB_ENV_TOK_LEN];
	unsigned n;
};
/* Remember s (borrowed; ignored if NULL, too long or there already). */
void hub_env_pool_add(struct hub_env_pool *p, const char *s);
/* The i-th remembered string, modulo how many there are; NULL if none. */
const char *hub_env_pool_get(const struct hub_env_pool *p, unsigned i);

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF): the
 * edge hands the hub nothing else. */
bool hub_env_utf8_valid(const uint8_t *s, size_t n);

#endif
