/* Staff accounts and sessions on top of the store, and the in-memory lockout
 * table that slows down password guessing by user name and by address. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <sqlite3.h>
#include "common.h"
#include "log.h"
#include "secmem.h"
#include "staff.h"
#include "store.h"
#include "token.h"

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
};

struct staff {
	sqlite3 *db;
	struct staff_limits limits;
	unsigned char lock_secret[crypto_generichash_KEYBYTES];
	struct lock_entry *locks;
	unsigned n_locks;
	/* The hash an unknown user's password is checked against, so that
	 * answering takes as long as for a real account. Made on first use
	 * with the current limits, so the CLI never pays for it. */
	char dummy_hash[crypto_pwhash_STRBYTES];
	bool have_dummy;
};

/* The account columns every query reads, in read_account()'s order; the
 * staff table is always aliased "a". */
#define ACCOUNT_COLS "a.id, a.username, a.alias, a.roles, a.langs, a.topics, a.max_chats, a.disabled"
#define ACCOUNT_NCOLS 8

/* ---- helpers ------------------------------------------------------------ */

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int db_fail(struct staff *st, const char *what)
{
	log_err("staff: %s: %s", what, sqlite3_errmsg(st->db));
	return BRUG_E_INTERNAL;
}

static int prepare(struct staff *st, const char *sql, sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) == SQLITE_OK)
		return 0;
	*stmt = NULL;
	return db_fail(st, "prepare");
}

static char *column_dup(sqlite3_stmt *stmt, int col)
{
	const unsigned char *t = sqlite3_column_text(stmt, col);

	return strdup(t != NULL ? (const char *)t : "");
}

/* Fill *out from ACCOUNT_COLS starting at column c. */
static int read_account(sqlite3_stmt *stmt, int c, struct staff_account *out)
{
	memset(out, 0, sizeof *out);
	out->id = sqlite3_column_int64(stmt, c);
	out->username = column_dup(stmt, c + 1);
	out->alias = column_dup(stmt, c + 2);
	out->roles = (uint32_t)sqlite3_column_int64(stmt, c + 3);
	out->langs = column_dup(stmt, c + 4);
	out->topics = column_dup(stmt, c + 5);
	out->max_chats = (unsigned)sqlite3_column_int(stmt, c + 6);
	out->disabled = sqlite3_column_int(stmt, c + 7) != 0;
	if (out->username == NULL || out->alias == NULL || out->langs == NULL ||
	    out->topics == NULL) {
		staff_account_fini(out);
		return -ENOMEM;
	}
	return 0;
}

void staff_account_fini(struct staff_account *a)
{
	if (a == NULL)
		return;
	free(a->username);
	free(a->alias);
	free(a->langs);
	free(a->topics);
	memset(a, 0, sizeof *a);
}

static int hash_password(struct staff *st, const char *password, char out[crypto_pwhash_STRBYTES])
{
	if (crypto_pwhash_str(out, password, strlen(password), st->limits.pwhash_opslimit,
			      st->limits.pwhash_memlimit) != 0) {
		log_err("staff: password hashing failed (out of memory?)");
		return -ENOMEM;
	}
	return 0;
}

/* ---- validation --------------------------------------------------------- */

static bool username_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > STAFF_USERNAME_MAX)
		return false;
	for (; *s != '\0'; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* Characters an alias may not hold: controls (C0, DEL, C1), line and
 * paragraph separators, and the bidi embeddings, overrides and isolates that
 * would let an alias reorder the text around it in an RTL chat. */
static bool alias_char_ok(uint32_t c)
{
	if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
		return false;
	if (c == 0x2028 || c == 0x2029)
		return false;
	if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
		return false;
	return true;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool alias_ok(const char *s)
{
	static const uint32_t min_for_len[] = { 0, 0, 0x80, 0x800, 0x10000 };
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	if (n == 0 || n > STAFF_ALIAS_MAX)
		return false;
	while (*p != '\0') {
		uint32_t c;
		int len;

		if (p[0] < 0x80) {
			c = p[0];
			len = 1;
		} else if ((p[0] & 0xe0) == 0xc0) {
			c = p[0] & 0x1f;
			len = 2;
		} else if ((p[0] & 0xf0) == 0xe0) {
			c = p[0] & 0x0f;
			len = 3;
		} else if ((p[0] & 0xf8) == 0xf0) {
			c = p[0] & 0x07;
			len = 4;
		} else {
			return false;
		}
		/* A NUL fails the continuation test, so this never reads past
		 * the end of the string. */
		for (int i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (p[i] & 0x3f);
		}
		if (c < min_for_len[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		if (!alias_char_ok(c))
			return false;
		p += len;
	}
	return true;
}

/* A comma-separated list of [A-Za-z0-9_-]{1,32} items; empty only if
 * allowed. Which items exist is the config's business (see cli.c). */
static bool list_ok(const char *s, bool allow_empty)
{
	size_t item = 0;

	if (strlen(s) > STAFF_LIST_MAX)
		return false;
	if (*s == '\0')
		return allow_empty;
	for (;; s++) {
		char c = *s;

		if (c == ',' || c == '\0') {
			if (item == 0)
				return false;
			if (c == '\0')
				return true;
			item = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
		if (++item > LIST_ITEM_MAX)
			return false;
	}
}

static int refuse(const char **why, const char *text)
{
	if (why != NULL)
		*why = text;
	return BRUG_E_BAD_FIELD;
}

int staff_check_account(const struct staff_account *a, const char **why)
{
	if (a == NULL)
		return refuse(why, "no account given");
	if (a->username == NULL || !username_ok(a->username))
		return refuse(why, "the username must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'");
	if (a->alias == NULL || !alias_ok(a->alias))
		return refuse(why, "the alias must be 1 to 64 bytes of valid UTF-8 without control characters");
	if (a->roles == 0)
		return refuse(why, "at least one role is needed");
	if ((a->roles & ~(uint32_t)BRUG_ROLE_ALL) != 0)
		return refuse(why, "unknown role");
	if (a->langs == NULL || !list_ok(a->langs, false))
		return refuse(why, "the languages must be a comma-separated list of at least one language code");
	if (a->topics == NULL || !list_ok(a->topics, true))
		return refuse(why, "the topics must be a comma-separated list of topic names");
	if (a->max_chats < 1 || a->max_chats > STAFF_MAX_CHATS_MAX)
		return refuse(why, "max chats must be between 1 and 20");
	return 0;
}

int staff_check_password(const char *password, const char **why)
{
	size_t n;

	if (password == NULL)
		return refuse(why, "no password given");
	n = strlen(password);
	if (n < STAFF_PASSWORD_MIN)
		return refuse(why, "the password must be at least 10 bytes long");
	if (n > STAFF_PASSWORD_MAX)
		return refuse(why, "the password must be at most 1024 bytes long");
	return 0;
}

/* ---- lockout table ------------------------------------------------------ */

/* The table key for a name of a kind ('u' user name, lower-cased; 'a'
 * address key as given). */
static void lock_key(struct staff *st, char kind, const char *name, unsigned char key[LOCK_KEY_BYTES])
{
	crypto_generichash_state h;
	unsigned char chunk[64];
	size_t n = 0;

	crypto_generichash_init(&h, st->lock_secret, sizeof st->lock_secret, LOCK_KEY_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)&kind, 1);
	for (const char *p = name; *p != '\0'; p++) {
		char c = *p;

		if (kind == 'u' && c >= 'A' && c <= 'Z')
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
static struct lock_entry *lock_find(struct staff *st, const unsigned char key[LOCK_KEY_BYTES],
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

static bool lock_active(struct lock_entry *e, int64_t now)
{
	if (e == NULL || now >= e->locked_until)
		return false;
	/* The wall clock may have been set back: never lock longer than the
	 * longest lock from now. */
	if (e->locked_until - now > STAFF_LOCK_MAX_MS)
		e->locked_until = now + STAFF_LOCK_MAX_MS;
	return true;
}

/* Count a failure; the STAFF_LOCK_FAILURES-th within the window locks the
 * key, for twice as long as its previous lock. */
static void lock_fail(struct staff *st, const unsigned char key[LOCK_KEY_BYTES], int64_t now)
{
	struct lock_entry *e = lock_find(st, key, now, true);
	int64_t ms = STAFF_LOCK_FIRST_MS;

	if (e == NULL)
		return;
	if (e->fails == 0 || now < e->window_start || now - e->window_start >= STAFF_LOCK_WINDOW_MS) {
		e->fails = 0;
		e->window_start = now;
	}
	e->fails++;
	e->last_ms = now;
	if (e->fails < STAFF_LOCK_FAILURES)
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

static void lock_clear(struct staff *st, const unsigned char key[LOCK_KEY_BYTES])
{
	struct lock_entry *e = lock_find(st, key, 0, false);

	if (e != NULL)
		memset(e, 0, sizeof *e);
}

/* ---- open and close ----------------------------------------------------- */

struct staff *staff_open(const char *db_path, const struct staff_limits *limits)
{
	struct staff *st;

	if (db_path == NULL)
		return NULL;
	if (sodium_init() < 0) {
		log_err("staff: libsodium failed to initialise");
		return NULL;
	}
	st = calloc(1, sizeof *st);
	if (st == NULL)
		return NULL;
	if (limits != NULL)
		st->limits = *limits;
	if (st->limits.session_idle_ms <= 0)
		st->limits.session_idle_ms = STAFF_SESSION_IDLE_MS;
	if (st->limits.session_max_ms <= 0)
		st->limits.session_max_ms = STAFF_SESSION_MAX_MS;
	if (st->limits.pwhash_opslimit == 0)
		st->limits.pwhash_opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	if (st->limits.pwhash_memlimit == 0)
		st->limits.pwhash_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	if (st->limits.lock_table_size == 0)
		st->limits.lock_table_size = STAFF_LOCK_TABLE_SIZE;
	st->n_locks = st->limits.lock_table_size;
	st->locks = calloc(st->n_locks, sizeof *st->locks);
	if (st->locks == NULL)
		goto free_st;
	randombytes_buf(st->lock_secret, sizeof st->lock_secret);
	if (store_open(db_path, &st->db) != 0)
		goto free_st;
	return st;

free_st:
	staff_close(st);
	return NULL;
}

void staff_close(struct staff *st)
{
	if (st == NULL)
		return;
	store_close(st->db);
	if (st->locks != NULL)
		secmem_free(st->locks, st->n_locks * sizeof *st->locks);
	sodium_memzero(st, sizeof *st);
	free(st);
}

/* ---- accounts ----------------------------------------------------------- */

int staff_add(struct staff *st, const struct staff_account *a, const char *password,
	      const char **why)
{
	char hash[crypto_pwhash_STRBYTES];
	sqlite3_stmt *stmt = NULL;
	int r;

	r = staff_check_account(a, why);
	if (r != 0)
		return r;
	r = staff_check_password(password, why);
	if (r != 0)
		return r;
	r = hash_password(st, password, hash);
	if (r != 0)
		return r;
	r = prepare(st, "INSERT INTO staff(username, alias, password_hash, roles, langs, topics,"
			" max_chats, disabled, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, 0, ?)", &stmt);
	if (r != 0)
		goto wipe;
	sqlite3_bind_text(stmt, 1, a->username, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, a->alias, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, a->roles);
	sqlite3_bind_text(stmt, 5, a->langs, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, a->topics, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 7, (int)a->max_chats);
	sqlite3_bind_int64(stmt, 8, wall_ms());
	if (sqlite3_step(stmt) == SQLITE_DONE) {
		log_notice("staff: account %lld added", (long long)sqlite3_last_insert_rowid(st->db));
		r = 0;
	} else if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE) {
		if (why != NULL)
			*why = "that username already exists";
		r = BRUG_E_CONFLICT;
	} else {
		r = db_fail(st, "adding an account");
	}
	sqlite3_finalize(stmt);
wipe:
	sodium_memzero(hash, sizeof hash);
	return r;
}

/* Delete every session of username; inside the caller's transaction. */
static int delete_sessions_of(struct staff *st, const char *username)
{
	sqlite3_stmt *stmt;
	int r;

	r = prepare(st, "DELETE FROM sessions WHERE staff_id IN"
			" (SELECT id FROM staff WHERE username = ?)", &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_text(stmt, 1, username, -1, SQLITE_STATIC);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : db_fail(st, "deleting sessions");
	sqlite3_finalize(stmt);
	return r;
}

/* Run an UPDATE of one staff row by username (bound last, after the optional
 * text value), delete its sessions, all in one transaction. */
static int update_and_end_sessions(struct staff *st, const char *sql, const char *value,
				   const char *username)
{
	sqlite3_stmt *stmt = NULL;
	int r, n = 1;

	r = store_begin(st->db);
	if (r != 0)
		return r;
	r = prepare(st, sql, &stmt);
	if (r != 0)
		goto rollback;
	if (value != NULL)
		sqlite3_bind_text(stmt, n++, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, n, username, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		r = db_fail(st, "updating an account");
		goto finalize;
	}
	if (sqlite3_changes(st->db) == 0) {
		r = BRUG_E_NOT_FOUND;
		goto finalize;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	r = delete_sessions_of(st, username);
	if (r != 0)
		goto rollback;
	return store_commit(st->db);

finalize:
	sqlite3_finalize(stmt);
rollback:
	store_rollback(st->db);
	return r;
}

int staff_set_password(struct staff *st, const char *username, const char *password,
		       const char **why)
{
	char hash[crypto_pwhash_STRBYTES];
	unsigned char key[LOCK_KEY_BYTES];
	int r;

	if (username == NULL)
		return refuse(why, "no username given");
	r = staff_check_password(password, why);
	if (r != 0)
		return r;
	r = hash_password(st, password, hash);
	if (r != 0)
		return r;
	r = update_and_end_sessions(st, "UPDATE staff SET password_hash = ? WHERE username = ?",
				    hash, username);
	sodium_memzero(hash, sizeof hash);
	if (r != 0)
		return r;
	lock_key(st, 'u', username, key);
	lock_clear(st, key);
	log_notice("staff: password of an account replaced, its sessions ended");
	return 0;
}

int staff_disable(struct staff *st, const char *username)
{
	int r;

	if (username == NULL)
		return BRUG_E_BAD_FIELD;
	r = update_and_end_sessions(st, "UPDATE staff SET disabled = 1 WHERE username = ?", NULL,
				    username);
	if (r == 0)
		log_notice("staff: an account was disabled, its sessions ended");
	return r;
}

/* Load username's account and, if hash is not NULL, its password hash
 * (caller frees it with secmem_free_str). */
static int load_account(struct staff *st, const char *username, struct staff_account *out,
			char **hash)
{
	sqlite3_stmt *stmt;
	int r;

	memset(out, 0, sizeof *out);
	r = prepare(st, "SELECT " ACCOUNT_COLS ", a.password_hash FROM staff a WHERE a.username = ?",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_text(stmt, 1, username, -1, SQLITE_STATIC);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		r = read_account(stmt, 0, out);
		if (r == 0 && hash != NULL) {
			*hash = column_dup(stmt, ACCOUNT_NCOLS);
			if (*hash == NULL) {
				staff_account_fini(out);
				r = -ENOMEM;
			}
		}
		break;
	case SQLITE_DONE:
		r = BRUG_E_NOT_FOUND;
		break;
	default:
		r = db_fail(st, "reading an account");
		break;
	}
	sqlite3_finalize(stmt);
	return r;
}

int staff_get(struct staff *st, const char *username, struct staff_account *out)
{
	if (out == NULL)
		return BRUG_E_BAD_FIELD;
	memset(out, 0, sizeof *out);
	if (username == NULL)
		return BRUG_E_BAD_FIELD;
	return load_account(st, username, out, NULL);
}

int staff_list(struct staff *st, int (*fn)(const struct staff_account *a, void *ctx), void *ctx)
{
	struct staff_account a;
	sqlite3_stmt *stmt;
	int r, rc;

	if (fn == NULL)
		return BRUG_E_BAD_FIELD;
	r = prepare(st, "SELECT " ACCOUNT_COLS " FROM staff a ORDER BY a.username", &stmt);
	if (r != 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		r = read_account(stmt, 0, &a);
		if (r != 0)
			goto finalize;
		r = fn(&a, ctx);
		staff_account_fini(&a);
		if (r != 0)
			goto finalize;
	}
	if (rc != SQLITE_DONE)
		r = db_fail(st, "listing accounts");
finalize:
	sqlite3_finalize(stmt);
	return r;
}

/* ---- sessions ----------------------------------------------------------- */

static int64_t session_expiry(const struct staff *st, int64_t created, int64_t last_seen)
{
	int64_t idle_end = last_seen + st->limits.session_idle_ms;
	int64_t max_end = created + st->limits.session_max_ms;

	return idle_end < max_end ? idle_end : max_end;
}

int staff_purge_sessions(struct staff *st, int64_t now_ms)
{
	sqlite3_stmt *stmt;
	int r;

	r = prepare(st, "DELETE FROM sessions WHERE last_seen + ?1 <= ?3 OR created_at + ?2 <= ?3",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_int64(stmt, 1, st->limits.session_idle_ms);
	sqlite3_bind_int64(stmt, 2, st->limits.session_max_ms);
	sqlite3_bind_int64(stmt, 3, now_ms);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : db_fail(st, "purging sessions");
	sqlite3_finalize(stmt);
	return r;
}

/* Start a session for staff_id: a fresh token in token_out, its hash in the
 * table. */
static int session_create(struct staff *st, int64_t staff_id, int64_t now,
			  char token_out[TOKEN_STR_LEN])
{
	char hash[65];
	sqlite3_stmt *stmt;
	int r;

	if (token_new(token_out) != 0)
		return BRUG_E_INTERNAL;
	token_hash_hex(token_out, hash);
	r = prepare(st, "INSERT INTO sessions(token_hash, staff_id, created_at, last_seen)"
			" VALUES(?, ?, ?, ?)", &stmt);
	if (r != 0)
		goto wipe;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, staff_id);
	sqlite3_bind_int64(stmt, 3, now);
	sqlite3_bind_int64(stmt, 4, now);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : db_fail(st, "creating a session");
	sqlite3_finalize(stmt);
wipe:
	sodium_memzero(hash, sizeof hash);
	if (r != 0)
		sodium_memzero(token_out, TOKEN_STR_LEN);
	return r;
}

static bool token_shape_ok(const char *token)
{
	return token != NULL && strnlen(token, TOKEN_STR_LEN) == TOKEN_STR_LEN - 1;
}

/*
 * The common part of resume and check: find token's session with an enabled
 * account, delete it if expired, record activity if touch, and report its
 * expiry and, if acct is not NULL, its account.
 */
static int session_lookup(struct staff *st, const char *token, int64_t now, bool touch,
			  struct staff_account *acct, int64_t *expires_ms)
{
	char hash[65];
	sqlite3_stmt *stmt = NULL;
	int64_t created, last_seen, expiry;
	int r;

	if (!token_shape_ok(token))
		return BRUG_E_UNAUTHORIZED;
	token_hash_hex(token, hash);
	r = prepare(st, "SELECT s.created_at, s.last_seen, " ACCOUNT_COLS " FROM sessions s"
			" JOIN staff a ON a.id = s.staff_id"
			" WHERE s.token_hash = ? AND a.disabled = 0", &stmt);
	if (r != 0)
		goto wipe;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		break;
	case SQLITE_DONE:
		r = BRUG_E_UNAUTHORIZED;
		goto finalize;
	default:
		r = db_fail(st, "reading a session");
		goto finalize;
	}
	created = sqlite3_column_int64(stmt, 0);
	last_seen = sqlite3_column_int64(stmt, 1);
	if (now >= session_expiry(st, created, last_seen)) {
		sqlite3_finalize(stmt);
		stmt = NULL;
		staff_logout(st, token);
		r = BRUG_E_UNAUTHORIZED;
		goto wipe;
	}
	if (acct != NULL) {
		r = read_account(stmt, 2, acct);
		if (r != 0)
			goto finalize;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (touch && now > last_seen) {
		r = prepare(st, "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", &stmt);
		if (r != 0)
			goto fini_acct;
		sqlite3_bind_int64(stmt, 1, now);
		sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
		if (sqlite3_step(stmt) != SQLITE_DONE) {
			r = db_fail(st, "updating a session");
			goto fini_acct;
		}
		last_seen = now;
	}
	expiry = session_expiry(st, created, last_seen);
	if (expires_ms != NULL)
		*expires_ms = expiry;
	r = 0;
	goto finalize;

fini_acct:
	if (acct != NULL)
		staff_account_fini(acct);
finalize:
	sqlite3_finalize(stmt);
wipe:
	sodium_memzero(hash, sizeof hash);
	return r;
}

int staff_resume(struct staff *st, const char *token, int64_t now_ms,
		 struct staff_account *acct_out, int64_t *expires_ms)
{
	if (acct_out == NULL)
		return BRUG_E_BAD_FIELD;
	memset(acct_out, 0, sizeof *acct_out);
	return session_lookup(st, token, now_ms, true, acct_out, expires_ms);
}

int staff_session_check(struct staff *st, const char *token, int64_t now_ms, bool touch,
			int64_t *expires_ms)
{
	return session_lookup(st, token, now_ms, touch, NULL, expires_ms);
}

int staff_logout(struct staff *st, const char *token)
{
	char hash[65];
	sqlite3_stmt *stmt;
	int r;

	if (!token_shape_ok(token))
		return 0;
	token_hash_hex(token, hash);
	r = prepare(st, "DELETE FROM sessions WHERE token_hash = ?", &stmt);
	if (r == 0) {
		sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
		r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : db_fail(st, "ending a session");
		sqlite3_finalize(stmt);
	}
	sodium_memzero(hash, sizeof hash);
	return r;
}

/* ---- login -------------------------------------------------------------- */

static int ensure_dummy_hash(struct staff *st)
{
	char password[TOKEN_STR_LEN];
	int r;

	if (st->have_dummy)
		return 0;
	if (token_new(password) != 0)
		return BRUG_E_INTERNAL;
	r = hash_password(st, password, st->dummy_hash);
	sodium_memzero(password, sizeof password);
	if (r != 0)
		return r;
	st->have_dummy = true;
	return 0;
}

/* After a successful login, bring a hash made with other limits up to the
 * current ones; a failure here only costs the upgrade. */
static void maybe_rehash(struct staff *st, const char *username, const char *hash,
			 const char *password)
{
	char fresh[crypto_pwhash_STRBYTES];
	sqlite3_stmt *stmt;

	if (crypto_pwhash_str_needs_rehash(hash, st->limits.pwhash_opslimit,
					   st->limits.pwhash_memlimit) == 0)
		return;
	if (hash_password(st, password, fresh) != 0)
		return;
	if (prepare(st, "UPDATE staff SET password_hash = ? WHERE username = ?", &stmt) == 0) {
		sqlite3_bind_text(stmt, 1, fresh, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, username, -1, SQLITE_STATIC);
		if (sqlite3_step(stmt) != SQLITE_DONE)
			db_fail(st, "upgrading a password hash");
		sqlite3_finalize(stmt);
	}
	sodium_memzero(fresh, sizeof fresh);
}

/* One password login between its three steps (staff.h). The password and
 * hash are private copies, so the middle step can run on another thread
 * while the daemon goes on. */
struct staff_login_job {
	unsigned char ukey[LOCK_KEY_BYTES], akey[LOCK_KEY_BYTES];
	bool has_addr;
	bool known;                    /* the user exists */
	bool verified;                 /* set by staff_login_verify() */
	char lname[STAFF_USERNAME_MAX + 1];
	struct staff_account acct;
	char *hash;                    /* the user's hash, or the dummy one; owned */
	char *password;                /* owned, wiped */
	size_t password_len;
};

void staff_login_job_free(struct staff_login_job *job)
{
	if (job == NULL)
		return;
	staff_account_fini(&job->acct);
	secmem_free_str(job->hash);
	secmem_free(job->password, job->password_len + 1);
	secmem_free(job, sizeof *job);
}

int staff_login_begin(struct staff *st, const char *username, const char *password,
		      const char *addr_key, int64_t now_ms, struct staff_login_job **out)
{
	struct staff_login_job *job;
	char *hash = NULL;
	size_t ulen;
	int r;

	if (st == NULL || username == NULL || password == NULL || out == NULL)
		return BRUG_E_BAD_FIELD;
	*out = NULL;
	job = calloc(1, sizeof *job);
	if (job == NULL)
		return BRUG_E_INTERNAL;
	lock_key(st, 'u', username, job->ukey);
	if (addr_key != NULL) {
		lock_key(st, 'a', addr_key, job->akey);
		job->has_addr = true;
	}
	if (lock_active(lock_find(st, job->ukey, now_ms, false), now_ms) ||
	    (job->has_addr && lock_active(lock_find(st, job->akey, now_ms, false), now_ms))) {
		log_info("staff: login refused while locked out");
		r = BRUG_E_RATE_LIMITED;
		goto fail;
	}
	r = ensure_dummy_hash(st);
	if (r != 0)
		goto fail;
	/* Names are stored lower-case, so "Samira" logs in as "samira". */
	ulen = strlen(username);
	if (ulen <= STAFF_USERNAME_MAX) {
		for (size_t i = 0; i <= ulen; i++) {
			char c = username[i];
			job->lname[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		r = load_account(st, job->lname, &job->acct, &hash);
		if (r == 0)
			job->known = true;
		else if (r != BRUG_E_NOT_FOUND)
			goto fail;
	}
	/* Unknown and disabled users are checked against a hash all the same
	 * so that the answer takes as long as for a wrong password. */
	job->hash = job->known ? hash : strdup(st->dummy_hash);
	hash = NULL;
	job->password_len = strlen(password);
	job->password = secmem_strdup(password);
	if (job->hash == NULL || job->password == NULL) {
		r = BRUG_E_INTERNAL;
		goto fail;
	}
	*out = job;
	return 0;
fail:
	secmem_free_str(hash);
	staff_login_job_free(job);
	return r;
}

void staff_login_verify(struct staff_login_job *job)
{
	job->verified = job->password_len <= STAFF_PASSWORD_MAX &&
			crypto_pwhash_str_verify(job->hash, job->password, job->password_len) == 0;
}

int staff_login_end(struct staff *st, struct staff_login_job *job, int64_t now_ms,
		    struct staff_account *acct_out, char token_out[TOKEN_STR_LEN], int64_t *expires_ms)
{
	int r;

	if (st == NULL || job == NULL || acct_out == NULL || token_out == NULL) {
		staff_login_job_free(job);
		return BRUG_E_BAD_FIELD;
	}
	memset(acct_out, 0, sizeof *acct_out);
	memset(token_out, 0, TOKEN_STR_LEN);
	if (!job->verified || !job->known || job->acct.disabled) {
		lock_fail(st, job->ukey, now_ms);
		if (job->has_addr)
			lock_fail(st, job->akey, now_ms);
		log_info("staff: login failed");
		r = BRUG_E_UNAUTHORIZED;
		goto out;
	}
	lock_clear(st, job->ukey);
	maybe_rehash(st, job->lname, job->hash, job->password);
	/* Logins are rare: a good moment to drop sessions nobody ended. */
	r = staff_purge_sessions(st, now_ms);
	if (r != 0)
		goto out;
	r = session_create(st, job->acct.id, now_ms, token_out);
	if (r != 0)
		goto out;
	if (expires_ms != NULL)
		*expires_ms = session_expiry(st, now_ms, now_ms);
	log_info("staff: account %lld logged in", (long long)job->acct.id);
	*acct_out = job->acct;
	memset(&job->acct, 0, sizeof job->acct);
	r = 0;
out:
	staff_login_job_free(job);
	return r;
}

int staff_login(struct staff *st, const char *username, const char *password,
		const char *addr_key, int64_t now_ms, struct staff_account *acct_out,
		char token_out[TOKEN_STR_LEN], int64_t *expires_ms)
{
	struct staff_login_job *job = NULL;
	int r;

	if (acct_out == NULL || token_out == NULL)
		return BRUG_E_BAD_FIELD;
	memset(acct_out, 0, sizeof *acct_out);
	memset(token_out, 0, TOKEN_STR_LEN);
	r = staff_login_begin(st, username, password, addr_key, now_ms, &job);
	if (r != 0)
		return r;
	staff_login_verify(job);
	return staff_login_end(st, job, now_ms, acct_out, token_out, expires_ms);
}
