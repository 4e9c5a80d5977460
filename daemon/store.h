/* The staff database: one SQLite file holding staff accounts and sessions
 * (later also shifts and aggregate statistics). Nothing about visitors is
 * ever written here (design promise 2). */
#ifndef BRUG_STORE_H
#define BRUG_STORE_H

struct sqlite3;

/* How long a statement waits for a lock held by another process (the CLI
 * and the daemon share the file) before failing with SQLITE_BUSY: the
 * CLI's connections, and every connection while store_open() migrates. */
#define STORE_BUSY_TIMEOUT_MS 2000

/*
 * Open the database at path, creating it with mode 0600 if it does not
 * exist (an existing file is tightened to 0600), turn on foreign keys and
 * secure_delete, set the busy timeout and bring the schema up to the newest
 * version. On success returns 0 and stores the connection in *db, which the
 * caller owns and closes with store_close(). Returns a negative errno if the
 * file cannot be created, BRUG_E_INTERNAL on an SQLite error and
 * BRUG_E_CONFLICT if the file's schema is newer than this program knows.
 * path is borrowed.
 */
int store_open(const char *path, struct sqlite3 **db);

/*
 * How long statements of connections opened from now on wait for a lock
 * once they are open (default STORE_BUSY_TIMEOUT_MS). brugd sets 0 before
 * it opens anything: its connections are used on the event loop, which
 * must never wait for a lock another process holds; a busy database then
 * fails at once with BRUG_E_UNAVAILABLE and the caller tries again later.
 * Process-wide, set once at start-up.
 */
void store_set_wait_ms(int ms);
/* The wait store_set_wait_ms() set: for a module that waits longer for one
 * step at start-up (as the migration does) and then goes back to it. */
int store_wait_ms(void);

/* The refusal for db's last error: BRUG_E_UNAVAILABLE when the database is
 * locked, busy, read-only, full or cannot be reached (worth trying again
 * later), BRUG_E_INTERNAL otherwise. db is borrowed. */
int store_error(struct sqlite3 *db);

/* Close a connection from store_open(). Accepts NULL. Takes ownership. */
void store_close(struct sqlite3 *db);

/* The schema version this program migrates to (PRAGMA user_version). */
int store_schema_version(void);

/*
 * Transaction helpers for modules that change several rows at once. Each
 * returns 0 or BRUG_E_INTERNAL. store_begin() takes the write lock at once
 * (BEGIN IMMEDIATE) so a transaction never fails half-way on a lock.
 * db is borrowed.
 */
int store_begin(struct sqlite3 *db);
int store_commit(struct sqlite3 *db);
/* Roll back the open transaction, if any; errors are ignored. */
void store_rollback(struct sqlite3 *db);

#endif
