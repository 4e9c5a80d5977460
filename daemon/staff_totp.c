/* The TOTP second factor: secrets sealed at rest (seal.h) and the start-up
 * check of the key, and reading, resetting and using a user's secret. */
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

/* ---- secrets at rest ---------------------------------------------------- */

/* How many second-factor secrets are sealed, and how many an older brugd
 * left in the clear. */
static int count_secrets(struct staff *st, int *sealed, int *plain)
{
	sqlite3_stmt *stmt;
	int r;

	r = staff_prepare(st, "SELECT count(*) FILTER (WHERE totp_secret GLOB 'v1:*'),"
			" count(*) FILTER (WHERE NOT totp_secret GLOB 'v1:*')"
			" FROM staff WHERE totp_secret IS NOT NULL", &stmt);
	if (r != 0)
		return r;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		*sealed = sqlite3_column_int(stmt, 0);
		*plain = sqlite3_column_int(stmt, 1);
	} else {
		r = staff_db_fail(st, "counting second factors");
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

	r = staff_prepare(st, "SELECT id, totp_secret FROM staff WHERE totp_secret GLOB 'v1:*'", &stmt);
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
		r = staff_db_fail(st, "reading second factors");
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
	r = staff_prepare(st, "SELECT id, totp_secret FROM staff"
			" WHERE totp_secret IS NOT NULL AND NOT totp_secret GLOB 'v1:*' LIMIT 1", &sel);
	if (r == 0)
		r = staff_prepare(st, "UPDATE staff SET totp_secret = ? WHERE id = ?", &upd);
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
			r = staff_db_fail(st, "sealing a second factor");
		sqlite3_reset(upd);
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = staff_db_fail(st, "reading second factors");
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
int staff_seal_start(struct staff *st, const char *db_path)
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

/* username's TOTP secret, opened, into secret (caller wipes) and the last
 * step used. A secret that does not open counts as none (logged). */
int staff_load_totp(struct staff *st, const char *username, int64_t id,
		     char secret[TOTP_SECRET_B32_LEN * 2 + 1], int64_t *last_step)
{
	sqlite3_stmt *stmt;
	const char *t;
	int r;

	r = staff_prepare(st, username != NULL
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
		r = staff_db_fail(st, "reading a second factor");
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
	r = staff_load_totp(st, username, 0, secret, NULL);
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
	r = staff_prepare(st, "UPDATE staff SET totp_secret = ? WHERE username = ?", &stmt);
	if (r != 0)
		goto rollback;
	sqlite3_bind_text(stmt, 1, blob, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, username, -1, SQLITE_STATIC);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : staff_db_fail(st, "setting a second factor");
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = BRUG_E_NOT_FOUND;
	sqlite3_finalize(stmt);
	if (r == 0)
		r = staff_audit(st, actor, "totp_reset", username, "new secret");
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
	r = staff_load_totp(st, username, 0, secret, NULL);
	if (r == 0 && totp_code_now(secret, now_s, out) != 0)
		r = BRUG_E_INTERNAL;
	sodium_memzero(secret, sizeof secret);
	return r;
}

