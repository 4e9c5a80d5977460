/* The staff database: opening the SQLite file safely and migrating its
 * schema one numbered step at a time (PRAGMA user_version). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include "common.h"
#include "log.h"
#include "store.h"

/*
 * Migration n (counting from 1) is migrations[n - 1]; user_version holds the
 * number of the last one applied. Never edit a step that has shipped: add a
 * new one at the end (shifts, statistics and the audit log come next). Times
 * are wall-clock milliseconds since the epoch.
 */
static const char *const migrations[] = {
	/* 1: staff accounts and their login sessions. A session is found by
	 * the hash of its token; the token itself is never stored. */
	"CREATE TABLE staff("
	" id INTEGER PRIMARY KEY,"
	" username TEXT UNIQUE NOT NULL,"
	" alias TEXT NOT NULL,"
	" password_hash TEXT NOT NULL,"
	" roles INTEGER NOT NULL,"
	" langs TEXT NOT NULL,"
	" topics TEXT NOT NULL DEFAULT '',"
	" max_chats INTEGER NOT NULL,"
	" disabled INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE sessions("
	" token_hash TEXT PRIMARY KEY,"
	" staff_id INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,"
	" created_at INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL);"
	"CREATE INDEX sessions_staff_id ON sessions(staff_id);",

	/* 2: the second factor (RFC 6238 secret in base32 and the last time
	 * step used, so a code works once), one-time codes that set a
	 * password (hashed), the iCalendar feed token of each member (hashed),
	 * and the audit trail of account changes. The audit names staff by
	 * username, never a visitor. */
	"ALTER TABLE staff ADD COLUMN totp_secret TEXT;"
	"ALTER TABLE staff ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE staff ADD COLUMN feed_token_hash TEXT;"
	"CREATE TABLE reset_codes("
	" code_hash TEXT PRIMARY KEY,"
	" staff_id INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,"
	" expires_at INTEGER NOT NULL);"
	"CREATE TABLE audit("
	" id INTEGER PRIMARY KEY,"
	" ts INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" target TEXT NOT NULL,"
	" detail TEXT NOT NULL DEFAULT '');",

	/* 3: the shift roster. A pattern is weekly (weekday 1 = Monday .. 7)
	 * or one-off (date set, weekday 0); times are minutes after local
	 * midnight in the helpline's time zone, and end_min may pass 1440 for
	 * a shift that runs past midnight. Exceptions cancel one date of a
	 * weekly pattern; closures (holidays) cancel every shift in a range of
	 * dates. Dates are YYYY-MM-DD in the helpline's time zone. */
	"CREATE TABLE shift_patterns("
	" id INTEGER PRIMARY KEY,"
	" weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 7),"
	" date TEXT NOT NULL DEFAULT '',"
	" start_min INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),"
	" end_min INTEGER NOT NULL CHECK (end_min > start_min AND end_min <= 2880),"
	" langs TEXT NOT NULL,"
	" valid_from TEXT NOT NULL DEFAULT '',"
	" valid_until TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE shift_staff("
	" pattern_id INTEGER NOT NULL REFERENCES shift_patterns(id) ON DELETE CASCADE,"
	" staff_id INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,"
	" PRIMARY KEY (pattern_id, staff_id));"
	"CREATE TABLE shift_exceptions("
	" pattern_id INTEGER NOT NULL REFERENCES shift_patterns(id) ON DELETE CASCADE,"
	" date TEXT NOT NULL,"
	" PRIMARY KEY (pattern_id, date));"
	"CREATE TABLE closures("
	" id INTEGER PRIMARY KEY,"
	" from_date TEXT NOT NULL,"
	" to_date TEXT NOT NULL,"
	" note TEXT NOT NULL DEFAULT '');",

	/* 4: anonymous statistics: counters only, no row per chat and no time
	 * finer than a day (design promise 2). */
	"CREATE TABLE stats("
	" day TEXT NOT NULL,"
	" lang TEXT NOT NULL,"
	" topic TEXT NOT NULL,"
	" outcome TEXT NOT NULL,"
	" wait_bucket TEXT NOT NULL,"
	" duration_bucket TEXT NOT NULL,"
	" count INTEGER NOT NULL,"
	" PRIMARY KEY (day, lang, topic, outcome, wait_bucket, duration_bucket)) WITHOUT ROWID;",
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static int wait_ms = STORE_BUSY_TIMEOUT_MS;

void store_set_wait_ms(int ms)
{
	wait_ms = ms > 0 ? ms : 0;
}

int store_wait_ms(void)
{
	return wait_ms;
}

int store_error(sqlite3 *db)
{
	switch (sqlite3_errcode(db)) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_READONLY:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_PROTOCOL:
		return BRUG_E_UNAVAILABLE;
	default:
		return BRUG_E_INTERNAL;
	}
}

int store_schema_version(void)
{
	return N_MIGRATIONS;
}

/* Run sql (no rows expected); logs and returns BRUG_E_INTERNAL on error. */
static int exec(sqlite3 *db, const char *sql, const char *what)
{
	char *msg = NULL;

	int r;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	r = store_error(db);
	/* A busy database is the callers' to report: they know whether it
	 * is new (and retry quietly meanwhile). */
	if (r == BRUG_E_UNAVAILABLE)
		log_debug("store: %s: %s", what, msg != NULL ? msg : sqlite3_errmsg(db));
	else
		log_err("store: %s: %s", what, msg != NULL ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return r;
}

int store_begin(sqlite3 *db)
{
	return exec(db, "BEGIN IMMEDIATE", "begin");
}

int store_commit(sqlite3 *db)
{
	return exec(db, "COMMIT", "commit");
}

void store_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

static int user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		log_err("store: reading the schema version: %s", sqlite3_errmsg(db));
		sqlite3_finalize(stmt);
		return BRUG_E_INTERNAL;
	}
	*version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return 0;
}

/* Apply every step newer than the file's version, each in its own
 * transaction together with the version bump, so a crash leaves the file at
 * a whole step. The version is read again under the write lock because the
 * CLI and the daemon may open the same file at the same time. */
static int migrate(sqlite3 *db)
{
	char sql[64];
	int version, r;

	for (;;) {
		r = store_begin(db);
		if (r != 0)
			return r;
		r = user_version(db, &version);
		if (r != 0)
			goto rollback;
		if (version > N_MIGRATIONS) {
			log_err("store: database schema version %d is newer than this brugd (%d)",
				version, N_MIGRATIONS);
			r = BRUG_E_CONFLICT;
			goto rollback;
		}
		if (version == N_MIGRATIONS)
			break;
		r = exec(db, migrations[version], "migration");
		if (r != 0)
			goto rollback;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
		r = exec(db, sql, "setting the schema version");
		if (r != 0)
			goto rollback;
		r = store_commit(db);
		if (r != 0)
			goto rollback;
		log_info("store: schema migrated to version %d", version + 1);
	}
	return store_commit(db);

rollback:
	store_rollback(db);
	return r;
}

/* Create the file ourselves so it never exists with a wider mode than 0600,
 * whatever the umask; SQLite gives its journal files the same mode. */
static int create_private(const char *path)
{
	struct stat st;
	int fd, r = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		log_err("store: cannot open %s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("store: %s is not a regular file", path);
		r = -EINVAL;
		goto close_fd;
	}
	if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0) {
		r = -errno;
		log_err("store: cannot make %s private: %s", path, strerror(errno));
	}
close_fd:
	close(fd);
	return r;
}

int store_open(const char *path, sqlite3 **db_out)
{
	sqlite3 *db = NULL;
	int r;

	*db_out = NULL;
	r = create_private(path);
	if (r != 0)
		return r;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		log_err("store: cannot open %s: %s", path,
			db != NULL ? sqlite3_errmsg(db) : "out of memory");
		r = BRUG_E_INTERNAL;
		goto close_db;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	/* Refuse SQL that could corrupt the file even if we had a bug. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/* secure_delete overwrites deleted rows (ended sessions, old password
	 * hashes) instead of leaving them in free pages of the file. */
	r = exec(db, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;", "pragmas");
	if (r != 0)
		goto close_db;
	r = migrate(db);
	if (r == BRUG_E_UNAVAILABLE)
		log_err("store: %s is locked or cannot be written: %s", path, sqlite3_errmsg(db));
	if (r != 0)
		goto close_db;
	sqlite3_busy_timeout(db, wait_ms);
	*db_out = db;
	return 0;

close_db:
	sqlite3_close(db);
	return r;
}

void store_close(sqlite3 *db)
{
	if (db == NULL)
		return;
	if (sqlite3_close(db) != SQLITE_OK)
		log_err("store: close: %s", sqlite3_errmsg(db));
}
