/* Staff accounts and sessions on top of the store, the second factor and
 * reset codes, the audit trail, and the in-memory lockout table that slows
 * down password guessing by user name and by address. */
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
#include "staff.h"
#include "store.h"
#include "token.h"
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

/* The account columns every query reads, in read_account()'s order; the
 * staff table is always aliased "a". */
#define ACCOUNT_COLS "a.id, a.username, a.alias, a.roles, a.langs, a.topics, a.max_chats, a.disabled," \
	" a.totp_secret IS NOT NULL"
#define ACCOUNT_NCOLS 9

/* ---- helpers ------------------------------------------------------------ */

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log a database failure; BRUG_E_UNAVAILABLE for a busy or read-only
 * database (the daemon never waits for a lock: store_set_wait_ms), which
 * callers must tell apart from a refusal such as an expired session. */
static int db_fail(struct staff *st, const char *what)
{
	int r = store_error(st->db);

	if (r == BRUG_E_UNAVAILABLE)
		log_warn("staff: %s: database unavailable: %s", what, sqlite3_errmsg(st->db));
	else
		log_err("staff: %s: %s", what, sqlite3_errmsg(st->db));
	return r;
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
	out->totp = sqlite3_column_int(stmt, c + 8) != 0;
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
 * address key as given; 'p' a user name and an address, as made by
 * pair_key()). */
static void lock_key(struct staff *st, char kind, const char *name, unsigned char key[LOCK_KEY_BYTES])
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

/* The key of username from addr_key (NULL: no address known, then the
 * pair stands for the user name alone). */
static void pair_key(struct staff *st, const char *username, const char *addr_key,
		     unsigned char key[LOCK_KEY_BYTES])
{
	size_t n = strlen(username), m = addr_key != NULL ? strlen(addr_key) : 0;
	char *buf = malloc(n + m + 2);

	if (buf == NULL) {
		/* Without memory the pair falls back to the user name. */
		lock_key(st, 'p', username, key);
		return;
	}
	memcpy(buf, username, n);
	buf[n] = '\n';
	memcpy(buf + n + 1, addr_key != NULL ? addr_key : "", m + 1);
	lock_key(st, 'p', buf, key);
	sodium_memzero(buf, n + m + 2);
	free(buf);
}

/* Count a failure; the limit-th within the window locks the key, for
 * twice as long as its previous lock. */
static void lock_fail(struct staff *st, const unsigned char key[LOCK_KEY_BYTES], unsigned limit,
		      int64_t now)
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

static void lock_clear(struct staff *st, const unsigned char key[LOCK_KEY_BYTES])
{
	struct lock_entry *e = lock_find(st, key, 0, false);

	if (e != NULL)
		memset(e, 0, sizeof *e);
}

/* Count a failure of a (user name, address) pair, remembering whose it
 * is so that lock_clear_user() finds it. */
static void lock_fail_pair(struct staff *st, const unsigned char pkey[LOCK_KEY_BYTES],
			   const unsigned char ukey[LOCK_KEY_BYTES], int64_t now)
{
	struct lock_entry *e;

	lock_fail(st, pkey, STAFF_LOCK_FAILURES, now);
	e = lock_find(st, pkey, now, false);
	if (e != NULL) {
		e->pair = true;
		memcpy(e->ukey, ukey, LOCK_KEY_BYTES);
	}
}

/* Forget every count of the user name ukey: its own and its pairs'. */
static void lock_clear_user(struct staff *st, const unsigned char ukey[LOCK_KEY_BYTES])
{
	lock_clear(st, ukey);
	for (unsigned i = 0; i < st->n_locks; i++)
		if (st->locks[i].used && st->locks[i].pair &&
		    memcmp(st->locks[i].ukey, ukey, LOCK_KEY_BYTES) == 0)
			memset(&st->locks[i], 0, sizeof st->locks[i]);
}

/* ---- secrets at rest ---------------------------------------------------- */

/* The longest secret kept (load_totp's buffer) and its blob. */
#define SECRET_MAX (TOTP_SECRET_B32_LEN * 2)
#define SECRET_BLOB_MAX SEAL_BLOB_LEN(SECRET_MAX)

/* How many second-factor secrets are sealed, and how many an older brugd
 * left in the clear. */
static int count_secrets(struct staff *st, int *sealed, int *plain)
{
	sqlite3_stmt *stmt;
	int r;

	r = prepare(st, "SELECT count(*) FILTER (WHERE totp_secret GLOB 'v1:*'),"
			" count(*) FILTER (WHERE NOT totp_secret GLOB 'v1:*')"
			" FROM staff WHERE totp_secret IS NOT NULL", &stmt);
	if (r != 0)
		return r;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		*sealed = sqlite3_column_int(stmt, 0);
		*plain = sqlite3_column_int(stmt, 1);
	} else {
		r = db_fail(st, "counting second factors");
	}
	sqlite3_finalize(stmt);
	return r;
}

/*
 * Does the key open the sealed secrets? A key that opens none of them is
 * not the one they were sealed with (a key file restored from another
 * backup than the database): refuse to start rather than lock every
 * account out in silence. One that does not open is named, and the
 * account needs a new secret.
 */
static int check_key(struct staff *st, const char *key_path, int n_sealed)
{
	char plain[SECRET_MAX + 1];
	sqlite3_stmt *stmt;
	int rc, r, opened = 0;

	r = prepare(st, "SELECT id, totp_secret FROM staff WHERE totp_secret GLOB 'v1:*'", &stmt);
	if (r != 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *blob = (const char *)sqlite3_column_text(stmt, 1);

		if (blob != NULL && seal_open(st->seal, blob, plain, sizeof plain) == 0)
			opened++;
		else
			log_err("staff: the second-factor secret of account %lld does not open with"
				" the key in %s; give it a new one with 'brugd staff totp'",
				(long long)sqlite3_column_int64(stmt, 0), key_path);
		sodium_memzero(plain, sizeof plain);
	}
	if (rc != SQLITE_DONE)
		r = db_fail(st, "reading second factors");
	sqlite3_finalize(stmt);
	if (r == 0 && opened == 0) {
		log_err("staff: the key in %s opens none of the %d sealed second-factor secrets in"
			" the database: it is not the key they were sealed with; restore the key file"
			" that was backed up with this database", key_path, n_sealed);
		r = -EBADMSG;
	}
	return r;
}

/*
 * Seal every secret an older brugd stored in the clear, one row at a time
 * in one transaction, so that a crash leaves all of them as they were or
 * all sealed. secure_delete (store.c) overwrites the old text in the file.
 */
static int seal_plain_secrets(struct staff *st)
{
	char plain[SEAL_PLAIN_MAX + 1], blob[SEAL_BLOB_LEN(SEAL_PLAIN_MAX) + 1];
	sqlite3_stmt *sel = NULL, *upd = NULL;
	int n = 0, rc = SQLITE_DONE, r;

	r = store_begin(st->db);
	if (r != 0)
		return r;
	r = prepare(st, "SELECT id, totp_secret FROM staff"
			" WHERE totp_secret IS NOT NULL AND NOT totp_secret GLOB 'v1:*' LIMIT 1", &sel);
	if (r == 0)
		r = prepare(st, "UPDATE staff SET totp_secret = ? WHERE id = ?", &upd);
	while (r == 0 && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(sel, 0);
		const char *t = (const char *)sqlite3_column_text(sel, 1);

		if (t == NULL || strlen(t) > SEAL_PLAIN_MAX) {
			log_err("staff: the second-factor secret of account %lld is not a secret"
				" (too long); give it a new one with 'brugd staff totp'", (long long)id);
			r = BRUG_E_INTERNAL;
			break;
		}
		snprintf(plain, sizeof plain, "%s", t);
		sqlite3_reset(sel);
		r = seal_seal(st->seal, plain, blob, sizeof blob) == 0 ? 0 : BRUG_E_INTERNAL;
		sodium_memzero(plain, sizeof plain);
		if (r != 0)
			break;
		sqlite3_bind_text(upd, 1, blob, -1, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 2, id);
		if (sqlite3_step(upd) != SQLITE_DONE)
			r = db_fail(st, "sealing a second factor");
		sqlite3_reset(upd);
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(st, "reading second factors");
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	if (r == 0)
		r = store_commit(st->db);
	if (r != 0) {
		store_rollback(st->db);
		return r;
	}
	log_notice("staff: sealed %d second-factor secret%s stored in the clear by an older brugd",
		   n, n == 1 ? "" : "s");
	return 0;
}

/*
 * Load the key of the database at db_path, or make it when there is none
 * yet and nothing is sealed; then seal what is still in the clear. Never
 * makes a new key while sealed secrets exist: they would not open with it.
 * Runs once at open, so it may wait for the lock like the schema
 * migration does.
 */
static int seal_start(struct staff *st, const char *db_path)
{
	char key_path[PATH_MAX];
	int n_sealed = 0, n_plain = 0, r;

	if (seal_key_path(db_path, key_path, sizeof key_path) != 0) {
		log_err("staff: the database path %s is too long", db_path);
		return -ENAMETOOLONG;
	}
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	r = count_secrets(st, &n_sealed, &n_plain);
	if (r != 0)
		goto out;
	r = seal_key_load(key_path, &st->seal);
	if (r == -ENOENT && n_sealed > 0) {
		log_err("staff: the key file %s is missing, but the database holds %d sealed"
			" second-factor secret%s that only it opens: restore it from the backup;"
			" brugd makes no new key while they exist", key_path, n_sealed,
			n_sealed == 1 ? "" : "s");
		goto out;
	}
	if (r == -ENOENT) {
		r = seal_key_create(key_path, &st->seal);
		if (r == 0)
			log_notice("staff: made the key for secrets at rest, %s: back it up, apart"
				   " from the database", key_path);
	}
	if (r != 0)
		goto out;
	if (n_sealed > 0)
		r = check_key(st, key_path, n_sealed);
	if (r == 0 && n_plain > 0)
		r = seal_plain_secrets(st);
out:
	sqlite3_busy_timeout(st->db, store_wait_ms());
	return r;
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
	if (st->limits.audit_retention_ms <= 0)
		st->limits.audit_retention_ms = STAFF_AUDIT_RETENTION_DAYS * STAFF_DAY_MS;
	st->n_locks = st->limits.lock_table_size;
	st->locks = calloc(st->n_locks, sizeof *st->locks);
	if (st->locks == NULL)
		goto free_st;
	randombytes_buf(st->lock_secret, sizeof st->lock_secret);
	if (store_open(db_path, &st->db) != 0)
		goto free_st;
	if (seal_start(st, db_path) != 0)
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
	seal_key_free(st->seal);
	if (st->locks != NULL)
		secmem_free(st->locks, st->n_locks * sizeof *st->locks);
	sodium_memzero(st, sizeof *st);
	free(st);
}

/* ---- audit trail -------------------------------------------------------- */

/* Append one entry; inside the caller's transaction when there is one. The
 * detail never holds a password, a code or a secret. */
static int audit(struct staff *st, const char *actor, const char *action, const char *target,
		 const char *detail)
{
	sqlite3_stmt *stmt;
	int r;

	r = prepare(st, "INSERT INTO audit(ts, actor, action, target, detail) VALUES(?, ?, ?, ?, ?)",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_int64(stmt, 1, wall_ms());
	sqlite3_bind_text(stmt, 2, actor != NULL ? actor : STAFF_ACTOR_CLI, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, detail != NULL ? detail : "", -1, SQLITE_STATIC);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : db_fail(st, "writing the audit trail");
	sqlite3_finalize(stmt);
	return r;
}

/* "volunteer,coordinator" for role bits into out. */
static void roles_text(uint32_t roles, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (uint32_t bit = 1; bit <= BRUG_ROLE_ALL; bit <<= 1) {
		const char *name = brug_role_name(bit);

		if ((roles & bit) && name != NULL && used < size)
			used += (size_t)snprintf(out + used, size - used, "%s%s", used > 0 ? "," : "",
						 name);
	}
}

static void describe_account(const struct staff_account *a, char *out, size_t size)
{
	char roles[96];

	roles_text(a->roles, roles, sizeof roles);
	snprintf(out, size, "roles=%s langs=%s topics=%s max_chats=%u", roles, a->langs,
		 a->topics != NULL ? a->topics : "", a->max_chats);
}

int staff_audit_list(struct staff *st, unsigned limit,
		     int (*fn)(const struct staff_audit_entry *e, void *ctx), void *ctx)
{
	struct staff_audit_entry e;
	sqlite3_stmt *stmt;
	int r, rc;

	if (fn == NULL || limit == 0 || limit > STAFF_AUDIT_LIMIT_MAX)
		return BRUG_E_BAD_FIELD;
	r = prepare(st, "SELECT ts, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_int(stmt, 1, (int)limit);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		e.ts = sqlite3_column_int64(stmt, 0);
		e.actor = (const char *)sqlite3_column_text(stmt, 1);
		e.action = (const char *)sqlite3_column_text(stmt, 2);
		e.target = (const char *)sqlite3_column_text(stmt, 3);
		e.detail = (const char *)sqlite3_column_text(stmt, 4);
		if (e.actor == NULL || e.action == NULL || e.target == NULL || e.detail == NULL) {
			r = -ENOMEM;
			goto finalize;
		}
		r = fn(&e, ctx);
		if (r != 0)
			goto finalize;
	}
	if (rc != SQLITE_DONE)
		r = db_fail(st, "reading the audit trail");
finalize:
	sqlite3_finalize(stmt);
	return r;
}

int staff_audit_prune(struct staff *st, int64_t now_ms, unsigned *deleted)
{
	sqlite3_stmt *stmt;
	int r;

	if (deleted != NULL)
		*deleted = 0;
	r = prepare(st, "DELETE FROM audit WHERE ts < ?", &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_int64(stmt, 1, now_ms - st->limits.audit_retention_ms);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		r = store_error(st->db);
		/* Busy is expected now and then: the caller tries again. */
		if (r != BRUG_E_UNAVAILABLE)
			db_fail(st, "pruning the audit trail");
	} else if (deleted != NULL) {
		*deleted = (unsigned)sqlite3_changes(st->db);
	}
	sqlite3_finalize(stmt);
	return r;
}

int staff_audit_maintain(struct staff *st, int64_t now_ms)
{
	unsigned n;
	int r;

	if (st == NULL || now_ms < st->audit_prune_at)
		return 0;
	r = staff_audit_prune(st, now_ms, &n);
	if (r == BRUG_E_UNAVAILABLE) {
		log_debug("staff: database busy; pruning the audit trail again later");
		st->audit_prune_at = now_ms + STAFF_AUDIT_RETRY_MS;
		return r;
	}
	/* Another failure is logged; trying it every tick would not help. */
	st->audit_prune_at = now_ms + (r == 0 ? STAFF_AUDIT_PRUNE_EVERY_MS : STAFF_AUDIT_RETRY_MS);
	if (r == 0 && n > 0)
		log_info("staff: pruned %u audit entr%s older than %lld days", n, n == 1 ? "y" : "ies",
			 (long long)(st->limits.audit_retention_ms / STAFF_DAY_MS));
	return r;
}

/* ---- accounts ----------------------------------------------------------- */

int staff_add(struct staff *st, const struct staff_account *a, const char *password,
	      const char *actor, const char **why)
{
	char hash[crypto_pwhash_STRBYTES] = "", secret[TOTP_SECRET_B32_LEN + 1];
	char blob[SECRET_BLOB_MAX + 1];
	char detail[STAFF_LIST_MAX * 2 + 128];
	sqlite3_stmt *stmt = NULL;
	int r;

	r = staff_check_account(a, why);
	if (r != 0)
		return r;
	if (password != NULL) {
		r = staff_check_password(password, why);
		if (r != 0)
			return r;
		r = hash_password(st, password, hash);
		if (r != 0)
			return r;
	}
	/* The second factor is mandatory: the secret exists from the start,
	 * and reaches the database only sealed. */
	if (totp_new_secret(secret) != 0 || seal_seal(st->seal, secret, blob, sizeof blob) != 0) {
		r = BRUG_E_INTERNAL;
		goto wipe;
	}
	r = store_begin(st->db);
	if (r != 0)
		goto wipe;
	/* An account without a password has an empty hash, which no password
	 * matches; it logs in first with a reset code. */
	r = prepare(st, "INSERT INTO staff(username, alias, password_hash, roles, langs, topics,"
			" max_chats, disabled, created_at, totp_secret)"
			" VALUES(?, ?, ?, ?, ?, ?, ?, 0, ?, ?)", &stmt);
	if (r != 0)
		goto rollback;
	sqlite3_bind_text(stmt, 1, a->username, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, a->alias, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, a->roles);
	sqlite3_bind_text(stmt, 5, a->langs, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, a->topics, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 7, (int)a->max_chats);
	sqlite3_bind_int64(stmt, 8, wall_ms());
	sqlite3_bind_text(stmt, 9, blob, -1, SQLITE_STATIC);
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
	if (r != 0)
		goto rollback;
	describe_account(a, detail, sizeof detail);
	r = audit(st, actor, "create", a->username, detail);
	if (r != 0)
		goto rollback;
	r = store_commit(st->db);
	if (r != 0)
		goto rollback;
	goto wipe;
rollback:
	store_rollback(st->db);
wipe:
	sodium_memzero(hash, sizeof hash);
	sodium_memzero(secret, sizeof secret);
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
 * text value), delete its sessions and note it in the audit trail, all in
 * one transaction. */
static int update_and_end_sessions(struct staff *st, const char *sql, const char *value,
				   const char *username, const char *actor, const char *action)
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
	r = audit(st, actor, action, username, "sessions ended");
	if (r != 0)
		goto rollback;
	r = store_commit(st->db);
	if (r != 0)
		goto rollback;
	return 0;

finalize:
	sqlite3_finalize(stmt);
rollback:
	store_rollback(st->db);
	return r;
}

int staff_set_password(struct staff *st, const char *username, const char *password,
		       const char *actor, const char **why)
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
				    hash, username, actor, "password");
	sodium_memzero(hash, sizeof hash);
	if (r != 0)
		return r;
	lock_key(st, 'u', username, key);
	lock_clear_user(st, key);
	log_notice("staff: password of an account replaced, its sessions ended");
	return 0;
}

int staff_disable(struct staff *st, const char *username, const char *actor)
{
	int r;

	if (username == NULL)
		return BRUG_E_BAD_FIELD;
	r = update_and_end_sessions(st, "UPDATE staff SET disabled = 1 WHERE username = ?", NULL,
				    username, actor, "disable");
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

/* Append "name=value" (or just name) to the detail text at *used. */
static void detail_add(char *out, size_t size, size_t *used, const char *name, const char *value)
{
	if (*used >= size)
		return;
	*used += (size_t)snprintf(out + *used, size - *used, "%s%s%s%s", *used > 0 ? " " : "", name,
				  value != NULL ? "=" : "", value != NULL ? value : "");
}

int staff_update(struct staff *st, const char *username, const struct staff_changes *ch,
		 const char *actor, const char **why)
{
	char detail[STAFF_LIST_MAX * 2 + STAFF_ALIAS_MAX + 160], num[16], roles[96];
	struct staff_account a;
	sqlite3_stmt *stmt = NULL;
	size_t used = 0;
	bool ending;
	int r;

	if (username == NULL || ch == NULL)
		return refuse(why, "no username given");
	r = store_begin(st->db);
	if (r != 0)
		return r;
	r = load_account(st, username, &a, NULL);
	if (r != 0)
		goto rollback;
	ending = ch->set_disabled && ch->disabled && !a.disabled;
	detail[0] = '\0';
	/* The merged account is checked whole, so a change is never half
	 * applied. Fields the caller did not name stay borrowed from a. */
	struct staff_account m = a;
	if (ch->alias != NULL && strcmp(ch->alias, a.alias) != 0) {
		m.alias = (char *)ch->alias;
		detail_add(detail, sizeof detail, &used, "alias", ch->alias);
	}
	if (ch->set_roles && ch->roles != a.roles) {
		m.roles = ch->roles;
		roles_text(ch->roles, roles, sizeof roles);
		detail_add(detail, sizeof detail, &used, "roles", roles);
	}
	if (ch->langs != NULL && strcmp(ch->langs, a.langs) != 0) {
		m.langs = (char *)ch->langs;
		detail_add(detail, sizeof detail, &used, "langs", ch->langs);
	}
	if (ch->topics != NULL && strcmp(ch->topics, a.topics) != 0) {
		m.topics = (char *)ch->topics;
		detail_add(detail, sizeof detail, &used, "topics", ch->topics);
	}
	if (ch->set_max_chats && ch->max_chats != a.max_chats) {
		m.max_chats = ch->max_chats;
		snprintf(num, sizeof num, "%u", ch->max_chats);
		detail_add(detail, sizeof detail, &used, "max_chats", num);
	}
	if (ch->set_disabled && ch->disabled != a.disabled) {
		m.disabled = ch->disabled;
		detail_add(detail, sizeof detail, &used, "disabled", ch->disabled ? "yes" : "no");
	}
	r = staff_check_account(&m, why);
	if (r != 0)
		goto fini;
	if (used == 0)
		goto fini;   /* nothing changes: no write, no audit */
	r = prepare(st, "UPDATE staff SET alias = ?, roles = ?, langs = ?, topics = ?, max_chats = ?,"
			" disabled = ? WHERE id = ?", &stmt);
	if (r != 0)
		goto fini;
	sqlite3_bind_text(stmt, 1, m.alias, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, m.roles);
	sqlite3_bind_text(stmt, 3, m.langs, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, m.topics, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 5, (int)m.max_chats);
	sqlite3_bind_int(stmt, 6, m.disabled ? 1 : 0);
	sqlite3_bind_int64(stmt, 7, a.id);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : db_fail(st, "updating an account");
	sqlite3_finalize(stmt);
	if (r == 0 && ending)
		r = delete_sessions_of(st, a.username);
	if (r == 0)
		r = audit(st, actor, "update", a.username, detail);
fini:
	staff_account_fini(&a);
	if (r != 0)
		goto rollback;
	r = store_commit(st->db);
	if (r != 0)
		goto rollback;
	if (ending)
		log_notice("staff: an account was disabled, its sessions ended");
	return 0;
rollback:
	store_rollback(st->db);
	return r;
}

/* Upper-case a reset code and drop the spaces and dashes people type; the
 * result goes into out (size bytes). False if it cannot be a code. */
static bool normalize_code(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (; *in != '\0'; in++) {
		char c = *in;

		if (c == ' ' || c == '-')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (n + 1 >= size)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return n == STAFF_RESET_CODE_LEN;
}

int staff_reset_code(struct staff *st, const char *username, const char *actor, int64_t now_ms,
		     char code_out[STAFF_RESET_CODE_LEN + 1])
{
	unsigned char raw[8];
	char b32[16], hash[65];
	struct staff_account a;
	sqlite3_stmt *stmt;
	int r;

	if (username == NULL || code_out == NULL)
		return BRUG_E_BAD_FIELD;
	memset(code_out, 0, STAFF_RESET_CODE_LEN + 1);
	r = store_begin(st->db);
	if (r != 0)
		return r;
	r = load_account(st, username, &a, NULL);
	if (r != 0)
		goto rollback;
	/* 40 random bits and ten more: 10 base32 characters carry 50. */
	randombytes_buf(raw, sizeof raw);
	totp_base32_encode(raw, sizeof raw, b32, sizeof b32);
	memcpy(code_out, b32, STAFF_RESET_CODE_LEN);
	token_hash_hex(code_out, hash);
	/* One code at a time: a new one replaces the old; expired ones of
	 * anybody go too. */
	r = prepare(st, "DELETE FROM reset_codes WHERE staff_id = ? OR expires_at <= ?", &stmt);
	if (r != 0)
		goto fini;
	sqlite3_bind_int64(stmt, 1, a.id);
	sqlite3_bind_int64(stmt, 2, now_ms);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : db_fail(st, "deleting reset codes");
	sqlite3_finalize(stmt);
	if (r != 0)
		goto fini;
	r = prepare(st, "INSERT INTO reset_codes(code_hash, staff_id, expires_at) VALUES(?, ?, ?)", &stmt);
	if (r != 0)
		goto fini;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, a.id);
	sqlite3_bind_int64(stmt, 3, now_ms + STAFF_RESET_CODE_TTL_MS);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : db_fail(st, "storing a reset code");
	sqlite3_finalize(stmt);
	if (r == 0)
		r = audit(st, actor, "reset_code", a.username, "valid 24 h");
fini:
	staff_account_fini(&a);
	if (r == 0)
		r = store_commit(st->db);
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(b32, sizeof b32);
	sodium_memzero(hash, sizeof hash);
	if (r == 0)
		return 0;
rollback:
	store_rollback(st->db);
	sodium_memzero(code_out, STAFF_RESET_CODE_LEN + 1);
	return r;
}

/* username's TOTP secret, opened, into secret (caller wipes) and the last
 * step used. A secret that does not open counts as none (logged). */
static int load_totp(struct staff *st, const char *username, int64_t id,
		     char secret[TOTP_SECRET_B32_LEN * 2 + 1], int64_t *last_step)
{
	sqlite3_stmt *stmt;
	const char *t;
	int r;

	r = prepare(st, username != NULL
				? "SELECT totp_secret, totp_last_step, id FROM staff WHERE username = ?"
				: "SELECT totp_secret, totp_last_step, id FROM staff WHERE id = ?",
		    &stmt);
	if (r != 0)
		return r;
	if (username != NULL)
		sqlite3_bind_text(stmt, 1, username, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(stmt, 1, id);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		t = (const char *)sqlite3_column_text(stmt, 0);
		if (t == NULL) {
			r = BRUG_E_NOT_FOUND;
			break;
		}
		/* Secrets in the clear were sealed at open; one here now was
		 * written behind brugd's back and is not trusted. */
		r = seal_open(st->seal, t, secret, SECRET_MAX + 1);
		if (r != 0) {
			log_err("staff: the second-factor secret of account %lld %s; give it a new"
				" one with 'brugd staff totp'", (long long)sqlite3_column_int64(stmt, 2),
				r == -EINVAL ? "is not sealed" : "does not open with the key");
			r = BRUG_E_NOT_FOUND;
			break;
		}
		if (last_step != NULL)
			*last_step = sqlite3_column_int64(stmt, 1);
		r = 0;
		break;
	case SQLITE_DONE:
		r = BRUG_E_NOT_FOUND;
		break;
	default:
		r = db_fail(st, "reading a second factor");
		break;
	}
	sqlite3_finalize(stmt);
	return r;
}

int staff_totp_uri(struct staff *st, const char *username, char **uri_out)
{
	char secret[TOTP_SECRET_B32_LEN * 2 + 1];
	int r;

	if (username == NULL || uri_out == NULL)
		return BRUG_E_BAD_FIELD;
	*uri_out = NULL;
	r = load_totp(st, username, 0, secret, NULL);
	if (r == 0) {
		*uri_out = totp_uri(STAFF_TOTP_ISSUER, username, secret);
		if (*uri_out == NULL)
			r = -ENOMEM;
	}
	sodium_memzero(secret, sizeof secret);
	return r;
}

int staff_totp_reset(struct staff *st, const char *username, const char *actor, char **uri_out)
{
	char secret[TOTP_SECRET_B32_LEN + 1], blob[SECRET_BLOB_MAX + 1];
	sqlite3_stmt *stmt;
	int r;

	if (username == NULL || uri_out == NULL)
		return BRUG_E_BAD_FIELD;
	*uri_out = NULL;
	if (totp_new_secret(secret) != 0)
		return BRUG_E_INTERNAL;
	if (seal_seal(st->seal, secret, blob, sizeof blob) != 0) {
		r = BRUG_E_INTERNAL;
		goto wipe;
	}
	r = store_begin(st->db);
	if (r != 0)
		goto wipe;
	/* The last step stays: a code already used must not work again. */
	r = prepare(st, "UPDATE staff SET totp_secret = ? WHERE username = ?", &stmt);
	if (r != 0)
		goto rollback;
	sqlite3_bind_text(stmt, 1, blob, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, username, -1, SQLITE_STATIC);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : db_fail(st, "setting a second factor");
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = BRUG_E_NOT_FOUND;
	sqlite3_finalize(stmt);
	if (r == 0)
		r = audit(st, actor, "totp_reset", username, "new secret");
	if (r == 0)
		r = store_commit(st->db);
	if (r != 0)
		goto rollback;
	*uri_out = totp_uri(STAFF_TOTP_ISSUER, username, secret);
	if (*uri_out == NULL)
		r = -ENOMEM;
	goto wipe;
rollback:
	store_rollback(st->db);
wipe:
	sodium_memzero(secret, sizeof secret);
	return r;
}

int staff_totp_code(struct staff *st, const char *username, int64_t now_s,
		    char out[TOTP_DIGITS + 1])
{
	char secret[TOTP_SECRET_B32_LEN * 2 + 1];
	int r;

	if (username == NULL || out == NULL)
		return BRUG_E_BAD_FIELD;
	r = load_totp(st, username, 0, secret, NULL);
	if (r == 0 && totp_code_now(secret, now_s, out) != 0)
		r = BRUG_E_INTERNAL;
	sodium_memzero(secret, sizeof secret);
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
	/* The session is valid whether or not its activity can be written:
	 * a busy or read-only database keeps the old time, and the next check
	 * tries again (the idle limit is long). */
	if (touch && now > last_seen &&
	    prepare(st, "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", &stmt) == 0) {
		sqlite3_bind_int64(stmt, 1, now);
		sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
		if (sqlite3_step(stmt) == SQLITE_DONE)
			last_seen = now;
		else
			db_fail(st, "updating a session");
	}
	expiry = session_expiry(st, created, last_seen);
	if (expires_ms != NULL)
		*expires_ms = expiry;
	r = 0;
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

int staff_session_account(struct staff *st, const char *token, int64_t now_ms, bool touch,
			  struct staff_account *acct_out, int64_t *expires_ms)
{
	if (acct_out == NULL)
		return BRUG_E_BAD_FIELD;
	memset(acct_out, 0, sizeof *acct_out);
	return session_lookup(st, token, now_ms, touch, acct_out, expires_ms);
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
	unsigned char ukey[LOCK_KEY_BYTES], akey[LOCK_KEY_BYTES], pkey[LOCK_KEY_BYTES];
	bool has_addr;
	bool known;                    /* the user exists */
	bool has_password;             /* the user has set a password */
	bool verified;                 /* set by staff_login_verify() */
	bool reset;                    /* password is a new one, set by a reset code */
	bool totp_ok;                  /* totp has the shape of a code */
	char lname[STAFF_USERNAME_MAX + 1];
	char totp[TOTP_DIGITS + 1];
	char code_hash[65];            /* the reset code's hash */
	struct staff_account acct;
	char *hash;                    /* the user's hash, or the dummy one; owned */
	char *new_hash;                /* with reset: the new password's hash; owned */
	char *password;                /* owned, wiped */
	size_t password_len;
	unsigned long long opslimit;   /* for hashing a new password off the loop */
	size_t memlimit;
};

void staff_login_job_free(struct staff_login_job *job)
{
	if (job == NULL)
		return;
	staff_account_fini(&job->acct);
	secmem_free_str(job->hash);
	secmem_free_str(job->new_hash);
	secmem_free(job->password, job->password_len + 1);
	secmem_free(job, sizeof *job);
}

int staff_login_begin(struct staff *st, const char *username, const char *password,
		      const char *totp, const char *reset_code, const char *addr_key, int64_t now_ms,
		      struct staff_login_job **out)
{
	struct staff_login_job *job;
	char *hash = NULL, code[STAFF_RESET_CODE_LEN + 8];
	size_t ulen;
	int r;

	if (st == NULL || username == NULL || password == NULL || out == NULL)
		return BRUG_E_BAD_FIELD;
	*out = NULL;
	/* A new password that breaks the rules is refused before anything
	 * is looked at, so the answer tells nothing about the account. */
	if (reset_code != NULL && staff_check_password(password, NULL) != 0)
		return BRUG_E_BAD_FIELD;
	job = calloc(1, sizeof *job);
	if (job == NULL)
		return BRUG_E_INTERNAL;
	job->opslimit = st->limits.pwhash_opslimit;
	job->memlimit = st->limits.pwhash_memlimit;
	if (totp != NULL && strlen(totp) == TOTP_DIGITS) {
		memcpy(job->totp, totp, TOTP_DIGITS + 1);
		job->totp_ok = true;
	}
	if (reset_code != NULL) {
		job->reset = true;
		/* A malformed code hashes to something no stored code has. */
		if (!normalize_code(reset_code, code, sizeof code))
			snprintf(code, sizeof code, "-");
		token_hash_hex(code, job->code_hash);
		sodium_memzero(code, sizeof code);
	}
	lock_key(st, 'u', username, job->ukey);
	pair_key(st, username, addr_key, job->pkey);
	if (addr_key != NULL) {
		lock_key(st, 'a', addr_key, job->akey);
		job->has_addr = true;
	}
	if (lock_active(lock_find(st, job->ukey, now_ms, false), now_ms) ||
	    lock_active(lock_find(st, job->pkey, now_ms, false), now_ms) ||
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
	/* Unknown and disabled users, and those who have set no password
	 * yet, are checked against a hash all the same so that the answer
	 * takes as long as for a wrong password. */
	job->has_password = job->known && hash != NULL && hash[0] != '\0';
	if (job->has_password) {
		job->hash = hash;
		hash = NULL;
	} else {
		secmem_free_str(hash);
		hash = NULL;
		job->hash = strdup(st->dummy_hash);
	}
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
	char fresh[crypto_pwhash_STRBYTES];

	if (job->reset) {
		/* The reset code is checked at the end; what costs here is the
		 * new password's hash, made for every attempt alike. */
		job->verified = crypto_pwhash_str(fresh, job->password, job->password_len,
						  job->opslimit, job->memlimit) == 0;
		if (job->verified) {
			job->new_hash = secmem_strdup(fresh);
			job->verified = job->new_hash != NULL;
		}
		sodium_memzero(fresh, sizeof fresh);
		return;
	}
	/* The hash is checked even when the answer is known to be no, so
	 * that it takes the same time. */
	job->verified = job->password_len <= STAFF_PASSWORD_MAX &&
			crypto_pwhash_str_verify(job->hash, job->password, job->password_len) == 0 &&
			job->has_password;
}

/* Does the job's reset code belong to its account, unexpired? */
static int reset_code_valid(struct staff *st, const struct staff_login_job *job, int64_t now)
{
	sqlite3_stmt *stmt;
	int r;

	r = prepare(st, "SELECT 1 FROM reset_codes WHERE code_hash = ? AND staff_id = ? AND expires_at > ?",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_text(stmt, 1, job->code_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, job->acct.id);
	sqlite3_bind_int64(stmt, 3, now);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		r = 0;
		break;
	case SQLITE_DONE:
		r = BRUG_E_UNAUTHORIZED;
		break;
	default:
		r = db_fail(st, "reading a reset code");
		break;
	}
	sqlite3_finalize(stmt);
	return r;
}

/*
 * Check the job's TOTP code (RFC 6238 section 5.2: one step either side)
 * and use it up: the step is stored with a compare-and-set, so of two
 * logins with the same code only one gets through.
 */
static int totp_consume(struct staff *st, const struct staff_login_job *job, int64_t now)
{
	char secret[TOTP_SECRET_B32_LEN * 2 + 1];
	int64_t last = 0, step = 0;
	sqlite3_stmt *stmt;
	int r;

	if (!job->totp_ok)
		return BRUG_E_UNAUTHORIZED;
	r = load_totp(st, NULL, job->acct.id, secret, &last);
	if (r == BRUG_E_NOT_FOUND) {
		log_notice("staff: account %lld has no second factor; run 'staff totp' for it",
			   (long long)job->acct.id);
		return BRUG_E_UNAUTHORIZED;
	}
	if (r != 0)
		return r;
	r = totp_verify(secret, job->totp, now / 1000, last, &step);
	sodium_memzero(secret, sizeof secret);
	if (r != 0)
		return r;
	r = prepare(st, "UPDATE staff SET totp_last_step = ?1 WHERE id = ?2 AND totp_last_step < ?1",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_int64(stmt, 1, step);
	sqlite3_bind_int64(stmt, 2, job->acct.id);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		r = db_fail(st, "using a second-factor code");
	else if (sqlite3_changes(st->db) == 0)
		r = BRUG_E_UNAUTHORIZED;
	sqlite3_finalize(stmt);
	return r;
}

/* Use up the reset code and set the new password, ending old sessions. */
static int reset_apply(struct staff *st, const struct staff_login_job *job, int64_t now)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_begin(st->db);
	if (r != 0)
		return r;
	r = prepare(st, "DELETE FROM reset_codes WHERE code_hash = ? AND staff_id = ? AND expires_at > ?",
		    &stmt);
	if (r != 0)
		goto rollback;
	sqlite3_bind_text(stmt, 1, job->code_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, job->acct.id);
	sqlite3_bind_int64(stmt, 3, now);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		r = db_fail(st, "using a reset code");
	else if (sqlite3_changes(st->db) == 0)
		r = BRUG_E_UNAUTHORIZED;
	sqlite3_finalize(stmt);
	if (r != 0)
		goto rollback;
	r = prepare(st, "UPDATE staff SET password_hash = ? WHERE id = ?", &stmt);
	if (r != 0)
		goto rollback;
	sqlite3_bind_text(stmt, 1, job->new_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, job->acct.id);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : db_fail(st, "setting a password");
	sqlite3_finalize(stmt);
	if (r == 0)
		r = delete_sessions_of(st, job->lname);
	if (r == 0)
		r = audit(st, job->lname, "password_reset", job->lname, "with a reset code");
	if (r == 0)
		r = store_commit(st->db);
	if (r == 0)
		return 0;
rollback:
	store_rollback(st->db);
	return r;
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
	/* The password (or the reset code), then the second factor: a code
	 * is only used up once the first factor was right. */
	r = BRUG_E_UNAUTHORIZED;
	if (job->verified && job->known && !job->acct.disabled)
		r = job->reset ? reset_code_valid(st, job, now_ms) : 0;
	if (r == 0)
		r = totp_consume(st, job, now_ms);
	if (r == 0 && job->reset)
		r = reset_apply(st, job, now_ms);
	if (r == BRUG_E_UNAUTHORIZED) {
		lock_fail_pair(st, job->pkey, job->ukey, now_ms);
		lock_fail(st, job->ukey, STAFF_LOCK_ACCOUNT_FAILURES, now_ms);
		if (job->has_addr)
			lock_fail(st, job->akey, STAFF_LOCK_FAILURES, now_ms);
		log_info("staff: login failed");
		goto out;
	}
	if (r != 0)
		goto out;
	lock_clear(st, job->ukey);
	lock_clear(st, job->pkey);
	if (!job->reset)
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

int staff_login(struct staff *st, const char *username, const char *password, const char *totp,
		const char *reset_code, const char *addr_key, int64_t now_ms,
		struct staff_account *acct_out, char token_out[TOKEN_STR_LEN], int64_t *expires_ms)
{
	struct staff_login_job *job = NULL;
	int r;

	if (acct_out == NULL || token_out == NULL)
		return BRUG_E_BAD_FIELD;
	memset(acct_out, 0, sizeof *acct_out);
	memset(token_out, 0, TOKEN_STR_LEN);
	r = staff_login_begin(st, username, password, totp, reset_code, addr_key, now_ms, &job);
	if (r != 0)
		return r;
	staff_login_verify(job);
	return staff_login_end(st, job, now_ms, acct_out, token_out, expires_ms);
}

int staff_feed_new(struct staff *st, int64_t staff_id, char token_out[TOKEN_STR_LEN])
{
	char hash[65];
	sqlite3_stmt *stmt;
	int r;

	if (st == NULL || token_out == NULL)
		return BRUG_E_BAD_FIELD;
	if (token_new(token_out) < 0)
		return BRUG_E_INTERNAL;
	token_hash_hex(token_out, hash);
	r = prepare(st, "UPDATE staff SET feed_token_hash = ? WHERE id = ? AND disabled = 0", &stmt);
	if (r != 0)
		goto fail;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, staff_id);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : BRUG_E_INTERNAL;
	sqlite3_finalize(stmt);
	if (r == 0 && sqlite3_changes(st->db) != 1)
		r = BRUG_E_NOT_FOUND;
	if (r == 0)
		return 0;
fail:
	sodium_memzero(token_out, TOKEN_STR_LEN);
	return r;
}

int staff_feed_lookup(struct staff *st, const char *token, int64_t *staff_id)
{
	char hash[65];
	sqlite3_stmt *stmt;
	int r;

	if (st == NULL || token == NULL || staff_id == NULL || strlen(token) != TOKEN_STR_LEN - 1)
		return BRUG_E_NOT_FOUND;
	token_hash_hex(token, hash);
	r = prepare(st, "SELECT id FROM staff WHERE feed_token_hash = ? AND disabled = 0", &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		*staff_id = sqlite3_column_int64(stmt, 0);
		r = 0;
	} else {
		r = BRUG_E_NOT_FOUND;
	}
	sqlite3_finalize(stmt);
	return r;
}
