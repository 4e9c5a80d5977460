/* Staff accounts: validation, Argon2id password hashes, the mandatory TOTP
 * second factor, one-time reset codes, login with lockout, the sessions a
 * staff console resumes with a token, and the audit trail of changes. */
#ifndef BRUG_STAFF_H
#define BRUG_STAFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "token.h"
#include "totp.h"

/* Limits on account fields (staff_check_account). */
#define STAFF_USERNAME_MAX 64     /* [a-z0-9._-], at least 1 */
#define STAFF_ALIAS_MAX 64        /* bytes of UTF-8, at least 1 */
#define STAFF_LIST_MAX 255        /* bytes of langs or topics */
#define STAFF_MAX_CHATS_MAX 20    /* max_chats is 1..20 */
#define STAFF_MAX_CHATS_DEFAULT 2
#define STAFF_PASSWORD_MIN 10     /* bytes */
#define STAFF_PASSWORD_MAX 1024   /* bytes */

/* Lockout (protocol doc, staff socket 1: "repeated failures for a user or
 * from one address are slowed and locked out"). Failures count per address,
 * per (user name, address) pair and per user name: STAFF_LOCK_FAILURES lock
 * the address, or the user name from that address only, so that one source
 * cannot lock a colleague out who logs in from elsewhere; the user name
 * itself, from everywhere, only at STAFF_LOCK_ACCOUNT_FAILURES (many
 * sources guessing together). */
#define STAFF_LOCK_FAILURES 5                  /* failures in a window that lock */
#define STAFF_LOCK_ACCOUNT_FAILURES 50         /* the same for a user name from anywhere */
#define STAFF_LOCK_WINDOW_MS (15 * 60 * 1000)  /* the window */
#define STAFF_LOCK_FIRST_MS (60 * 1000)        /* first lock; doubles per streak */
#define STAFF_LOCK_MAX_MS (60 * 60 * 1000)     /* longest lock */
#define STAFF_LOCK_FORGET_MS (24 * 60 * 60 * 1000) /* quiet time that resets a key */
#define STAFF_LOCK_TABLE_SIZE 4096             /* keys remembered, oldest evicted */

/* The second factor and password reset codes. */
#define STAFF_TOTP_ISSUER "Brug"                 /* the otpauth:// issuer */
#define STAFF_RESET_CODE_LEN 10                  /* base32 characters, 50 bits */
#define STAFF_RESET_CODE_TTL_MS (24 * 3600 * 1000) /* a reset code's lifetime */
#define STAFF_AUDIT_LIMIT_MAX 1000               /* entries one list returns at most */
#define STAFF_ACTOR_CLI "cli"                    /* the actor of brugd staff ... */

/* Pruning the audit trail (staff_audit_maintain). */
#define STAFF_DAY_MS (24LL * 3600 * 1000)
#define STAFF_AUDIT_RETENTION_DAYS 365             /* default age of the oldest entry kept */
#define STAFF_AUDIT_PRUNE_EVERY_MS STAFF_DAY_MS    /* how often */
#define STAFF_AUDIT_RETRY_MS (60 * 1000)           /* again after a busy database */

/* Session lifetimes used when staff_limits leaves them 0. */
#define STAFF_SESSION_IDLE_MS (3600 * 1000)
#define STAFF_SESSION_MAX_MS (43200 * 1000)

struct staff;

/* One account as stored. Every string is owned by the struct when it comes
 * from staff_get/staff_login/staff_resume; release with staff_account_fini(). */
struct staff_account {
	int64_t id;          /* database id; ignored by staff_add */
	char *username;      /* [a-z0-9._-]{1,64}, the login name */
	char *alias;         /* the name visitors and colleagues see */
	uint32_t roles;      /* enum brug_role bits, at least one */
	char *langs;         /* comma-separated language codes, "nl,ar" */
	char *topics;        /* comma-separated topics, may be "" */
	unsigned max_chats;  /* chats at once, 1..20 */
	bool disabled;       /* a disabled account cannot log in */
	bool totp;           /* a second-factor secret is set (read only) */
};

/* The changes of staff_update(): a NULL string or a false set_* leaves the
 * field as it is. Strings are borrowed. */
struct staff_changes {
	const char *alias;
	bool set_roles;
	uint32_t roles;
	const char *langs;
	const char *topics;
	bool set_max_chats;
	unsigned max_chats;
	bool set_disabled;
	bool disabled;       /* true ends every session of the account */
};

/* One entry of the audit trail, borrowed for the callback only. */
struct staff_audit_entry {
	int64_t ts;          /* wall-clock ms */
	const char *actor;   /* a username, or STAFF_ACTOR_CLI */
	const char *action;  /* "create", "update", "password", ... */
	const char *target;  /* the username changed */
	const char *detail;  /* what changed; never a password, code or secret */
};

/* Tuning; a zero field (or a NULL struct) means the default. */
struct staff_limits {
	int64_t session_idle_ms;            /* default STAFF_SESSION_IDLE_MS */
	int64_t session_max_ms;             /* default STAFF_SESSION_MAX_MS */
	unsigned long long pwhash_opslimit; /* default crypto_pwhash_OPSLIMIT_INTERACTIVE */
	size_t pwhash_memlimit;             /* default crypto_pwhash_MEMLIMIT_INTERACTIVE */
	unsigned lock_table_size;           /* default STAFF_LOCK_TABLE_SIZE */
	int64_t audit_retention_ms;         /* default STAFF_AUDIT_RETENTION_DAYS days */
};

/* Free the strings of an account filled by this module and zero it. Accepts
 * NULL and a zeroed struct. The struct itself stays the caller's. */
void staff_account_fini(struct staff_account *a);

/*
 * Open (creating and migrating if needed) the staff database at db_path.
 * limits is copied and may be NULL. Initialises libsodium. The second-factor
 * secrets in the database are sealed (seal.h) with the key in SEAL_KEY_FILE
 * beside it: the key is made when there is none and nothing is sealed yet,
 * and secrets an older brugd stored in the clear are sealed now. Returns the
 * service, which the caller frees with staff_close(), or NULL if the
 * database cannot be opened, the key file is missing while sealed secrets
 * exist, has a mode wider than 0600 or the wrong size, opens none of the
 * sealed secrets, or memory runs out (the reason is logged).
 */
struct staff *staff_open(const char *db_path, const struct staff_limits *limits);
/* Close the database and wipe the lockout table. Accepts NULL. Takes
 * ownership of st. */
void staff_close(struct staff *st);

/*
 * Check an account's fields without touching the database: username, alias
 * (valid UTF-8, no control or bidi-override characters), roles, langs and
 * topics (comma-separated [A-Za-z0-9_-] items, langs at least one) and
 * max_chats. Returns 0 or BRUG_E_BAD_FIELD; then, if why is not NULL, *why
 * is a static English sentence naming the rule. a is borrowed.
 */
int staff_check_account(const struct staff_account *a, const char **why);
/* Check a new password's length (STAFF_PASSWORD_MIN..MAX bytes). Returns 0 or
 * BRUG_E_BAD_FIELD with *why as above. password is borrowed. */
int staff_check_password(const char *password, const char **why);

/*
 * Create an account from a (id, disabled and totp ignored) with password,
 * which is hashed with Argon2id, or with none (password NULL: the account
 * logs in first with a reset code, staff_reset_code()). Every account gets
 * a fresh TOTP secret (staff_totp_uri() tells it). actor (a username or
 * STAFF_ACTOR_CLI) is written to the audit trail. Returns 0,
 * BRUG_E_BAD_FIELD (see staff_check_account; *why set), BRUG_E_CONFLICT if
 * the username exists (*why set), BRUG_E_INTERNAL on a database error or
 * -ENOMEM. All arguments are borrowed; the caller wipes its password.
 */
int staff_add(struct staff *st, const struct staff_account *a, const char *password,
	      const char *actor, const char **why);
/*
 * Change the fields of username's account named in ch (checked as by
 * staff_check_account on the result; which langs and topics exist is the
 * caller's business). Disabling ends all its sessions. The audit names the
 * fields changed. Returns 0, BRUG_E_BAD_FIELD (*why set), BRUG_E_NOT_FOUND,
 * BRUG_E_INTERNAL or -ENOMEM. Arguments borrowed.
 */
int staff_update(struct staff *st, const char *username, const struct staff_changes *ch,
		 const char *actor, const char **why);
/*
 * Make a one-time code that lets username set a new password at login
 * (`login` with reset_code; the TOTP code is still needed). The code is
 * STAFF_RESET_CODE_LEN base32 characters into code_out, shown once: only
 * its hash is stored, with an expiry of now_ms + STAFF_RESET_CODE_TTL_MS;
 * an older code of the same account stops working. Returns 0,
 * BRUG_E_NOT_FOUND, BRUG_E_INTERNAL. The caller wipes code_out.
 */
int staff_reset_code(struct staff *st, const char *username, const char *actor, int64_t now_ms,
		     char code_out[STAFF_RESET_CODE_LEN + 1]);
/*
 * The otpauth:// URI of username's current secret (issuer
 * STAFF_TOTP_ISSUER) into *uri_out, which the caller wipes and frees.
 * Returns 0, BRUG_E_NOT_FOUND (no such account, or no secret),
 * BRUG_E_INTERNAL or -ENOMEM.
 */
int staff_totp_uri(struct staff *st, const char *username, char **uri_out);
/* Give username a new TOTP secret (re-enrolment: the old app stops
 * working); *uri_out as for staff_totp_uri(). Returns as that. */
int staff_totp_reset(struct staff *st, const char *username, const char *actor, char **uri_out);
/* The current code of username at unix time now_s into out: for local
 * demos, scripts and tests only. Returns 0, BRUG_E_NOT_FOUND or
 * BRUG_E_INTERNAL. */
int staff_totp_code(struct staff *st, const char *username, int64_t now_s,
		    char out[TOTP_DIGITS + 1]);
/*
 * Call fn for the newest limit (1..STAFF_AUDIT_LIMIT_MAX) entries of the
 * audit trail, newest first. A non-zero return from fn stops the walk and
 * is returned; otherwise returns 0 or BRUG_E_INTERNAL.
 */
int staff_audit_list(struct staff *st, unsigned limit,
		     int (*fn)(const struct staff_audit_entry *e, void *ctx), void *ctx);
/*
 * Delete the audit entries older than limits.audit_retention_ms before
 * now_ms (wall-clock ms); *deleted (may be NULL) says how many. Returns 0,
 * BRUG_E_UNAVAILABLE when the database is busy (not logged: try again
 * later) or BRUG_E_INTERNAL.
 */
int staff_audit_prune(struct staff *st, int64_t now_ms, unsigned *deleted);
/*
 * For brugd, at start and from its periodic tick: prune the audit trail
 * (staff_audit_prune) if it is due, which it is at the first call and then
 * every STAFF_AUDIT_PRUNE_EVERY_MS; a busy database is tried again after
 * STAFF_AUDIT_RETRY_MS. Never waits for a lock. Returns 0 when nothing was
 * due or as staff_audit_prune. Accepts NULL.
 */
int staff_audit_maintain(struct staff *st, int64_t now_ms);
/*
 * Replace username's password, end all its sessions and clear its lockout
 * in this process's table (so a reset made inside the daemon lets a
 * locked-out colleague back in; a reset from the CLI, another process,
 * cannot lift the daemon's lock, which runs out by itself). Returns 0, BRUG_E_BAD_FIELD (*why set), BRUG_E_NOT_FOUND, BRUG_E_INTERNAL
 * or -ENOMEM. Arguments borrowed.
 */
int staff_set_password(struct staff *st, const char *username, const char *password,
		       const char *actor, const char **why);
/* Disable username and delete all its sessions. Disabling twice is not an
 * error. Returns 0, BRUG_E_NOT_FOUND or BRUG_E_INTERNAL. username borrowed. */
int staff_disable(struct staff *st, const char *username, const char *actor);
/* Fill *out with username's account (disabled ones included); the caller
 * frees it with staff_account_fini(). Returns 0, BRUG_E_NOT_FOUND,
 * BRUG_E_INTERNAL or -ENOMEM; *out is zeroed on failure. */
int staff_get(struct staff *st, const char *username, struct staff_account *out);
/*
 * Call fn for every account, ordered by username. The account passed is
 * borrowed for the call only. A non-zero return from fn stops the walk and
 * is returned; otherwise returns 0, BRUG_E_INTERNAL or -ENOMEM.
 */
int staff_list(struct staff *st, int (*fn)(const struct staff_account *a, void *ctx), void *ctx);

/*
 * Log in. addr_key is the caller's opaque key for the client address (for
 * example the IPv4 address or the IPv6 /64 as text) or NULL; it is only
 * hashed, never stored. now_ms is wall-clock milliseconds.
 *
 * Returns 0 with *acct_out filled (caller frees with staff_account_fini()),
 * token_out holding a new session token (the caller sends it and wipes it;
 * only its hash is stored) and *expires_ms the time the session ends if
 * unused. totp is the 6-digit code of the second factor: it must match a
 * step within one of now and not be older than or equal to the last step
 * used (so a code works once). With reset_code (may be NULL), password is
 * the new password, set if the code is valid (and then the code is used
 * up); otherwise it is the account's password.
 * Returns BRUG_E_UNAUTHORIZED for a wrong password, code or reset code, an
 * unknown user and a disabled user alike, taking the same time for each;
 * BRUG_E_RATE_LIMITED without looking at the password while the username or
 * the address is locked out; BRUG_E_BAD_FIELD for NULL arguments;
 * BRUG_E_UNAVAILABLE when the database is busy or cannot be written,
 * BRUG_E_INTERNAL on another database error. Every failure counts towards
 * the lockout of the (lower-cased) username, of addr_key and of the pair
 * (see STAFF_LOCK_*); a success clears the username's and the pair's
 * counts. Username and password are borrowed.
 */
int staff_login(struct staff *st, const char *username, const char *password, const char *totp,
		const char *reset_code, const char *addr_key, int64_t now_ms,
		struct staff_account *acct_out, char token_out[TOKEN_STR_LEN], int64_t *expires_ms);
/*
 * The same login in three steps, so that the slow password check can run
 * off the event loop:
 *  - staff_login_begin() (event loop): lockout check and account lookup;
 *    0 with *job (owned by the caller until passed on), or
 *    BRUG_E_RATE_LIMITED / BRUG_E_BAD_FIELD (also a new password that
 *    breaks the rules, with a reset code) / BRUG_E_INTERNAL. Copies its
 *    strings.
 *  - staff_login_verify() (any thread, touches nothing but job): Argon2id
 *    (with a reset code: hashing the new password).
 *  - staff_login_end() (event loop): checks the TOTP code and the reset
 *    code, records the outcome, creates the session; takes ownership of
 *    job and frees it; results as staff_login().
 * staff_login_job_free() drops a job whose socket went away (NULL is fine).
 */
struct staff_login_job;
int staff_login_begin(struct staff *st, const char *username, const char *password,
		      const char *totp, const char *reset_code, const char *addr_key, int64_t now_ms,
		      struct staff_login_job **job);
void staff_login_verify(struct staff_login_job *job);
int staff_login_end(struct staff *st, struct staff_login_job *job, int64_t now_ms,
		    struct staff_account *acct_out, char token_out[TOKEN_STR_LEN], int64_t *expires_ms);
void staff_login_job_free(struct staff_login_job *job);
/*
 * Resume the session of token (borrowed): if it exists, has not expired and
 * its account is enabled, sets its last use to now_ms and returns 0 with
 * *acct_out (caller frees) and *expires_ms (may be NULL) filled. Otherwise
 * returns BRUG_E_UNAUTHORIZED (an expired session is deleted) or
 * BRUG_E_INTERNAL.
 */
int staff_resume(struct staff *st, const char *token, int64_t now_ms,
		 struct staff_account *acct_out, int64_t *expires_ms);
/*
 * A new session for username's enabled account, without a password: for a
 * console whose session another node of the cluster vouched for (its home
 * was lost; docs/cluster.md, section 8). Results as staff_resume(), with
 * token_out as staff_login(); BRUG_E_UNAUTHORIZED for an unknown or
 * disabled account. username borrowed.
 */
int staff_session_open(struct staff *st, const char *username, int64_t now_ms,
		       struct staff_account *acct_out, char token_out[TOKEN_STR_LEN], int64_t *expires_ms);
/*
 * Is token's session still valid at now_ms (it may have been ended by a
 * logout, staff_disable or a password reset, perhaps from the CLI in
 * another process)? With touch, activity is recorded: its idle time starts
 * again at now_ms. Returns 0 with *expires_ms (may be NULL) set,
 * BRUG_E_UNAUTHORIZED or BRUG_E_INTERNAL. token borrowed.
 */
int staff_session_check(struct staff *st, const char *token, int64_t now_ms, bool touch,
			int64_t *expires_ms);
/* As staff_session_check(), and on success *acct_out (caller frees with
 * staff_account_fini()) holds the account as stored now, so that a change
 * made elsewhere (the CLI) reaches an open console. A failure to record
 * the activity (busy database) is not an error. Every database failure
 * returns BRUG_E_UNAVAILABLE or BRUG_E_INTERNAL, never
 * BRUG_E_UNAUTHORIZED. */
int staff_session_account(struct staff *st, const char *token, int64_t now_ms, bool touch,
			  struct staff_account *acct_out, int64_t *expires_ms);
/* End token's session. Returns 0 whether or not it existed, or
 * BRUG_E_INTERNAL. token borrowed. */
int staff_logout(struct staff *st, const char *token);
/* Delete every session expired at now_ms (for a periodic timer; logins do it
 * too). Returns 0 or BRUG_E_INTERNAL. */
int staff_purge_sessions(struct staff *st, int64_t now_ms);

/*
 * The iCalendar feed of a member's shifts is read by calendar apps without
 * a login, so its URL holds a token of its own: staff_feed_new() makes a new
 * one for staff_id (the old URL stops working; only a hash is stored) into
 * token_out, and staff_feed_lookup() finds the member of a token (borrowed).
 * 0, BRUG_E_NOT_FOUND (no such enabled member / token) or BRUG_E_INTERNAL.
 */
int staff_feed_new(struct staff *st, int64_t staff_id, char token_out[TOKEN_STR_LEN]);
int staff_feed_lookup(struct staff *st, const char *token, int64_t *staff_id);

#endif
