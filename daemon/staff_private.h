/* What staff.c and its parts (staff_lockout.c, staff_totp.c, staff_audit.c,
 * staff_auth.c) share: the module's state and its internal helpers. Not
 * for use outside the staff module. */
#ifndef BRUG_STAFF_PRIVATE_H
#define BRUG_STAFF_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <sqlite3.h>
#include "seal.h"
#include "staff.h"
#include "totp.h"

#define LOCK_KEY_BYTES 16
#define LIST_ITEM_MAX 32

/*
 * One remembered key: a user name or an address. Keys are kept only as a
 * hash under a per-process secret, so the table holds no address in the
 * clear and every entry has the same size.
 */
struct lock_entry {
	unsigned char key[LOCK_KEY_BYTES];
	bool used;
	unsigned fails;       /* failures since window_start */
	unsigned streak;      /* locks so far; the next lasts FIRST_MS << streak */
	int64_t window_start; /* first failure of the current count */
	int64_t locked_until; /* attempts before this are refused unchecked */
	int64_t last_ms;      /* last failure, for eviction and forgetting */
	bool pair;            /* a (user name, address) key of the user ukey */
	unsigned char ukey[LOCK_KEY_BYTES];
};

struct staff {
	sqlite3 *db;
	struct staff_limits limits;
	/* Seals the second-factor secrets in the database (seal.h). */
	struct seal_key *seal;
	/* When staff_audit_maintain() prunes the audit trail next. */
	int64_t audit_prune_at;
	unsigned char lock_secret[crypto_generichash_KEYBYTES];
	struct lock_entry *locks;
	unsigned n_locks;
	/* The hash an unknown user's password is checked against, so that
	 * answering takes as long as for a real account. Made on first use
	 * with the current limits, so the CLI never pays for it. */
	char dummy_hash[crypto_pwhash_STRBYTES];
	bool have_dummy;
};

/* The account columns every query reads, in staff_read_account()'s order; the
 * staff table is always aliased "a". */
#define ACCOUNT_COLS "a.id, a.username, a.alias, a.roles, a.langs, a.topics, a.max_chats, a.disabled," \
	" a.totp_secret IS NOT NULL"
#define ACCOUNT_NCOLS 9

/* The longest secret kept (staff_load_totp's buffer) and its blob. */
#define SECRET_MAX (TOTP_SECRET_B32_LEN * 2)
#define SECRET_BLOB_MAX SEAL_BLOB_LEN(SECRET_MAX)

/* The helpers below borrow every pointer they are given; what each returns
 * or fills in is said at its definition. */

/* staff.c: helpers, validation and accounts */
int64_t staff_wall_ms(void);
int staff_db_fail(struct staff *st, const char *what);
int staff_prepare(struct staff *st, const char *sql, sqlite3_stmt **stmt);
int staff_read_account(sqlite3_stmt *stmt, int c, struct staff_account *out);
int staff_hash_password(struct staff *st, const char *password, char out[crypto_pwhash_STRBYTES]);
int staff_refuse(const char **why, const char *text);
int staff_delete_sessions_of(struct staff *st, const char *username);
int staff_load_account(struct staff *st, const char *username, struct staff_account *out,
			char **hash);
bool staff_normalize_code(const char *in, char *out, size_t size);

/* staff_lockout.c: the lockout table */
void staff_lock_key(struct staff *st, char kind, const char *name, unsigned char key[LOCK_KEY_BYTES]);
struct lock_entry *staff_lock_find(struct staff *st, const unsigned char key[LOCK_KEY_BYTES],
				    int64_t now, bool create);
bool staff_lock_active(struct lock_entry *e, int64_t now);
void staff_pair_key(struct staff *st, const char *username, const char *addr_key,
		     unsigned char key[LOCK_KEY_BYTES]);
void staff_lock_fail(struct staff *st, const unsigned char key[LOCK_KEY_BYTES], unsigned limit,
		      int64_t now);
void staff_lock_clear(struct staff *st, const unsigned char key[LOCK_KEY_BYTES]);
void staff_lock_fail_pair(struct staff *st, const unsigned char pkey[LOCK_KEY_BYTES],
			   const unsigned char ukey[LOCK_KEY_BYTES], int64_t now);
void staff_lock_clear_user(struct staff *st, const unsigned char ukey[LOCK_KEY_BYTES]);

/* staff_totp.c: secrets at rest and the second factor */
int staff_seal_start(struct staff *st, const char *db_path);
int staff_load_totp(struct staff *st, const char *username, int64_t id,
		     char secret[TOTP_SECRET_B32_LEN * 2 + 1], int64_t *last_step);

/* staff_audit.c: the audit trail */
int staff_audit(struct staff *st, const char *actor, const char *action, const char *target,
		 const char *detail);
void staff_roles_text(uint32_t roles, char *out, size_t size);
void staff_describe_account(const struct staff_account *a, char *out, size_t size);

#endif
