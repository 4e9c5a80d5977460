/* Staff accounts on top of the store: validation, Argon2id password hashes,
 * adding, changing and disabling accounts, one-time reset codes, and opening
 * and closing the module (the rest is in staff_*.c, shared staff_private.h). */
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

/* ---- helpers ------------------------------------------------------------ */

int64_t staff_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log a database failure; BRUG_E_UNAVAILABLE for a busy or read-only
 * database (the daemon never waits for a lock: store_set_wait_ms), which
 * callers must tell apart from a refusal such as an expired session. */
int staff_db_fail(struct staff *st, const char *what)
{
	int r = store_error(st->db);

	if (r == BRUG_E_UNAVAILABLE)
		log_warn("staff: %s: database unavailable: %s", what, sqlite3_errmsg(st->db));
	else
		log_err("staff: %s: %s", what, sqlite3_errmsg(st->db));
	return r;
}

int staff_prepare(struct staff *st, const char *sql, sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) == SQLITE_OK)
		return 0;
	*stmt = NULL;
	return staff_db_fail(st, "prepare");
}

static char *column_dup(sqlite3_stmt *stmt, int col)
{
	const unsigned char *t = sqlite3_column_text(stmt, col);

	return strdup(t != NULL ? (const char *)t : "");
}

/* Fill *out from ACCOUNT_COLS starting at column c. */
int staff_read_account(sqlite3_stmt *stmt, int c, struct staff_account *out)
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

int staff_hash_password(struct staff *st, const char *password, char out[crypto_pwhash_STRBYTES])
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

int staff_refuse(const char **why, const char *text)
{
	if (why != NULL)
		*why = text;
	return BRUG_E_BAD_FIELD;
}

int staff_check_account(const struct staff_account *a, const char **why)
{
	if (a == NULL)
		return staff_refuse(why, "no account given");
	if (a->username == NULL || !username_ok(a->username))
		return staff_refuse(why, "the username must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'");
	if (a->alias == NULL || !alias_ok(a->alias))
		return staff_refuse(why, "the alias must be 1 to 64 bytes of valid UTF-8 without control characters");
	if (a->roles == 0)
		return staff_refuse(why, "at least one role is needed");
	if ((a->roles & ~(uint32_t)BRUG_ROLE_ALL) != 0)
		return staff_refuse(why, "unknown role");
	if (a->langs == NULL || !list_ok(a->langs, false))
		return staff_refuse(why, "the languages must be a comma-separated list of at least one language code");
	if (a->topics == NULL || !list_ok(a->topics, true))
		return staff_refuse(why, "the topics must be a comma-separated list of topic names");
	if (a->max_chats < 1 || a->max_chats > STAFF_MAX_CHATS_MAX)
		return staff_refuse(why, "max chats must be between 1 and 20");
	return 0;
}

int staff_check_password(const char *password, const char **why)
{
	size_t n;

	if (password == NULL)
		return staff_refuse(why, "no password given");
	n = strlen(password);
	if (n < STAFF_PASSWORD_MIN)
		return staff_refuse(why, "the password must be at least 10 bytes long");
	if (n > STAFF_PASSWORD_MAX)
		return staff_refuse(why, "the password must be at most 1024 bytes long");
	return 0;
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
	if (staff_seal_start(st, db_path) != 0)
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
		r = staff_hash_password(st, password, hash);
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
	r = staff_prepare(st, "INSERT INTO staff(username, alias, password_hash, roles, langs, topics,"
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
	sqlite3_bind_int64(stmt, 8, staff_wall_ms());
	sqlite3_bind_text(stmt, 9, blob, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_DONE) {
		log_notice("staff: account %lld added", (long long)sqlite3_last_insert_rowid(st->db));
		r = 0;
	} else if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE) {
		if (why != NULL)
			*why = "that username already exists";
		r = BRUG_E_CONFLICT;
	} else {
		r = staff_db_fail(st, "adding an account");
	}
	sqlite3_finalize(stmt);
	if (r != 0)
		goto rollback;
	staff_describe_account(a, detail, sizeof detail);
	r = staff_audit(st, actor, "create", a->username, detail);
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
int staff_delete_sessions_of(struct staff *st, const char *username)
{
	sqlite3_stmt *stmt;
	int r;

	r = staff_prepare(st, "DELETE FROM sessions WHERE staff_id IN"
			" (SELECT id FROM staff WHERE username = ?)", &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_text(stmt, 1, username, -1, SQLITE_STATIC);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : staff_db_fail(st, "deleting sessions");
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
	r = staff_prepare(st, sql, &stmt);
	if (r != 0)
		goto rollback;
	if (value != NULL)
		sqlite3_bind_text(stmt, n++, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, n, username, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		r = staff_db_fail(st, "updating an account");
		goto finalize;
	}
	if (sqlite3_changes(st->db) == 0) {
		r = BRUG_E_NOT_FOUND;
		goto finalize;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	r = staff_delete_sessions_of(st, username);
	if (r != 0)
		goto rollback;
	r = staff_audit(st, actor, action, username, "sessions ended");
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
		return staff_refuse(why, "no username given");
	r = staff_check_password(password, why);
	if (r != 0)
		return r;
	r = staff_hash_password(st, password, hash);
	if (r != 0)
		return r;
	r = update_and_end_sessions(st, "UPDATE staff SET password_hash = ? WHERE username = ?",
				    hash, username, actor, "password");
	sodium_memzero(hash, sizeof hash);
	if (r != 0)
		return r;
	staff_lock_key(st, 'u', username, key);
	staff_lock_clear_user(st, key);
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
int staff_load_account(struct staff *st, const char *username, struct staff_account *out,
			char **hash)
{
	sqlite3_stmt *stmt;
	int r;

	memset(out, 0, sizeof *out);
	r = staff_prepare(st, "SELECT " ACCOUNT_COLS ", a.password_hash FROM staff a WHERE a.username = ?",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_text(stmt, 1, username, -1, SQLITE_STATIC);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		r = staff_read_account(stmt, 0, out);
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
		r = staff_db_fail(st, "reading an account");
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
	return staff_load_account(st, username, out, NULL);
}

int staff_list(struct staff *st, int (*fn)(const struct staff_account *a, void *ctx), void *ctx)
{
	struct staff_account a;
	sqlite3_stmt *stmt;
	int r, rc;

	if (fn == NULL)
		return BRUG_E_BAD_FIELD;
	r = staff_prepare(st, "SELECT " ACCOUNT_COLS " FROM staff a ORDER BY a.username", &stmt);
	if (r != 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		r = staff_read_account(stmt, 0, &a);
		if (r != 0)
			goto finalize;
		r = fn(&a, ctx);
		staff_account_fini(&a);
		if (r != 0)
			goto finalize;
	}
	if (rc != SQLITE_DONE)
		r = staff_db_fail(st, "listing accounts");
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
		return staff_refuse(why, "no username given");
	r = store_begin(st->db);
	if (r != 0)
		return r;
	r = staff_load_account(st, username, &a, NULL);
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
		staff_roles_text(ch->roles, roles, sizeof roles);
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
	r = staff_prepare(st, "UPDATE staff SET alias = ?, roles = ?, langs = ?, topics = ?, max_chats = ?,"
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
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : staff_db_fail(st, "updating an account");
	sqlite3_finalize(stmt);
	if (r == 0 && ending)
		r = staff_delete_sessions_of(st, a.username);
	if (r == 0)
		r = staff_audit(st, actor, "update", a.username, detail);
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
bool staff_normalize_code(const char *in, char *out, size_t size)
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
	r = staff_load_account(st, username, &a, NULL);
	if (r != 0)
		goto rollback;
	/* 40 random bits and ten more: 10 base32 characters carry 50. */
	randombytes_buf(raw, sizeof raw);
	totp_base32_encode(raw, sizeof raw, b32, sizeof b32);
	memcpy(code_out, b32, STAFF_RESET_CODE_LEN);
	token_hash_hex(code_out, hash);
	/* One code at a time: a new one replaces the old; expired ones of
	 * anybody go too. */
	r = staff_prepare(st, "DELETE FROM reset_codes WHERE staff_id = ? OR expires_at <= ?", &stmt);
	if (r != 0)
		goto fini;
	sqlite3_bind_int64(stmt, 1, a.id);
	sqlite3_bind_int64(stmt, 2, now_ms);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : staff_db_fail(st, "deleting reset codes");
	sqlite3_finalize(stmt);
	if (r != 0)
		goto fini;
	r = staff_prepare(st, "INSERT INTO reset_codes(code_hash, staff_id, expires_at) VALUES(?, ?, ?)", &stmt);
	if (r != 0)
		goto fini;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, a.id);
	sqlite3_bind_int64(stmt, 3, now_ms + STAFF_RESET_CODE_TTL_MS);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : staff_db_fail(st, "storing a reset code");
	sqlite3_finalize(stmt);
	if (r == 0)
		r = staff_audit(st, actor, "reset_code", a.username, "valid 24 h");
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

