/* Staff sessions and login: session tokens a console resumes with, the
 * three-step password login with lockout, the second factor and reset codes,
 * and the calendar feed tokens. */
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

	r = staff_prepare(st, "DELETE FROM sessions WHERE last_seen + ?1 <= ?3 OR created_at + ?2 <= ?3",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_int64(stmt, 1, st->limits.session_idle_ms);
	sqlite3_bind_int64(stmt, 2, st->limits.session_max_ms);
	sqlite3_bind_int64(stmt, 3, now_ms);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : staff_db_fail(st, "purging sessions");
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
	r = staff_prepare(st, "INSERT INTO sessions(token_hash, staff_id, created_at, last_seen)"
			" VALUES(?, ?, ?, ?)", &stmt);
	if (r != 0)
		goto wipe;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, staff_id);
	sqlite3_bind_int64(stmt, 3, now);
	sqlite3_bind_int64(stmt, 4, now);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : staff_db_fail(st, "creating a session");
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
	r = staff_prepare(st, "SELECT s.created_at, s.last_seen, " ACCOUNT_COLS " FROM sessions s"
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
		r = staff_db_fail(st, "reading a session");
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
		r = staff_read_account(stmt, 2, acct);
		if (r != 0)
			goto finalize;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	/* The session is valid whether or not its activity can be written:
	 * a busy or read-only database keeps the old time, and the next check
	 * tries again (the idle limit is long). */
	if (touch && now > last_seen &&
	    staff_prepare(st, "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", &stmt) == 0) {
		sqlite3_bind_int64(stmt, 1, now);
		sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
		if (sqlite3_step(stmt) == SQLITE_DONE)
			last_seen = now;
		else
			staff_db_fail(st, "updating a session");
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

int staff_session_open(struct staff *st, const char *username, int64_t now_ms,
		       struct staff_account *acct_out, char token_out[TOKEN_STR_LEN], int64_t *expires_ms)
{
	int r;

	if (acct_out == NULL || token_out == NULL)
		return BRUG_E_BAD_FIELD;
	r = staff_get(st, username, acct_out);
	if (r == BRUG_E_NOT_FOUND || (r == 0 && acct_out->disabled))
		r = BRUG_E_UNAUTHORIZED;
	if (r == 0)
		r = session_create(st, acct_out->id, now_ms, token_out);
	if (r != 0) {
		staff_account_fini(acct_out);
		return r;
	}
	if (expires_ms != NULL)
		*expires_ms = session_expiry(st, now_ms, now_ms);
	return 0;
}

int staff_logout(struct staff *st, const char *token)
{
	char hash[65];
	sqlite3_stmt *stmt;
	int r;

	if (!token_shape_ok(token))
		return 0;
	token_hash_hex(token, hash);
	r = staff_prepare(st, "DELETE FROM sessions WHERE token_hash = ?", &stmt);
	if (r == 0) {
		sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
		r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : staff_db_fail(st, "ending a session");
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
	r = staff_hash_password(st, password, st->dummy_hash);
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
	if (staff_hash_password(st, password, fresh) != 0)
		return;
	if (staff_prepare(st, "UPDATE staff SET password_hash = ? WHERE username = ?", &stmt) == 0) {
		sqlite3_bind_text(stmt, 1, fresh, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, username, -1, SQLITE_STATIC);
		if (sqlite3_step(stmt) != SQLITE_DONE)
			staff_db_fail(st, "upgrading a password hash");
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
		if (!staff_normalize_code(reset_code, code, sizeof code))
			snprintf(code, sizeof code, "-");
		token_hash_hex(code, job->code_hash);
		sodium_memzero(code, sizeof code);
	}
	staff_lock_key(st, 'u', username, job->ukey);
	staff_pair_key(st, username, addr_key, job->pkey);
	if (addr_key != NULL) {
		staff_lock_key(st, 'a', addr_key, job->akey);
		job->has_addr = true;
	}
	if (staff_lock_active(staff_lock_find(st, job->ukey, now_ms, false), now_ms) ||
	    staff_lock_active(staff_lock_find(st, job->pkey, now_ms, false), now_ms) ||
	    (job->has_addr && staff_lock_active(staff_lock_find(st, job->akey, now_ms, false), now_ms))) {
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
		r = staff_load_account(st, job->lname, &job->acct, &hash);
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

	r = staff_prepare(st, "SELECT 1 FROM reset_codes WHERE code_hash = ? AND staff_id = ? AND expires_at > ?",
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
		r = staff_db_fail(st, "reading a reset code");
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
	r = staff_load_totp(st, NULL, job->acct.id, secret, &last);
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
	r = staff_prepare(st, "UPDATE staff SET totp_last_step = ?1 WHERE id = ?2 AND totp_last_step < ?1",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_int64(stmt, 1, step);
	sqlite3_bind_int64(stmt, 2, job->acct.id);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		r = staff_db_fail(st, "using a second-factor code");
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
	r = staff_prepare(st, "DELETE FROM reset_codes WHERE code_hash = ? AND staff_id = ? AND expires_at > ?",
		    &stmt);
	if (r != 0)
		goto rollback;
	sqlite3_bind_text(stmt, 1, job->code_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, job->acct.id);
	sqlite3_bind_int64(stmt, 3, now);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		r = staff_db_fail(st, "using a reset code");
	else if (sqlite3_changes(st->db) == 0)
		r = BRUG_E_UNAUTHORIZED;
	sqlite3_finalize(stmt);
	if (r != 0)
		goto rollback;
	r = staff_prepare(st, "UPDATE staff SET password_hash = ? WHERE id = ?", &stmt);
	if (r != 0)
		goto rollback;
	sqlite3_bind_text(stmt, 1, job->new_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, job->acct.id);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : staff_db_fail(st, "setting a password");
	sqlite3_finalize(stmt);
	if (r == 0)
		r = staff_delete_sessions_of(st, job->lname);
	if (r == 0)
		r = staff_audit(st, job->lname, "password_reset", job->lname, "with a reset code");
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
		staff_lock_fail_pair(st, job->pkey, job->ukey, now_ms);
		staff_lock_fail(st, job->ukey, STAFF_LOCK_ACCOUNT_FAILURES, now_ms);
		if (job->has_addr)
			staff_lock_fail(st, job->akey, STAFF_LOCK_FAILURES, now_ms);
		log_info("staff: login failed");
		goto out;
	}
	if (r != 0)
		goto out;
	staff_lock_clear(st, job->ukey);
	staff_lock_clear(st, job->pkey);
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
	r = staff_prepare(st, "UPDATE staff SET feed_token_hash = ? WHERE id = ? AND disabled = 0", &stmt);
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
	r = staff_prepare(st, "SELECT id FROM staff WHERE feed_token_hash = ? AND disabled = 0", &stmt);
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
