/* Unit tests for the staff accounts service and its store: validation,
 * login and lockout on a fake clock, sessions and what reaches the file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "common.h"
#include "seal.h"
#include "staff.h"
#include "store.h"
#include "token.h"

#define T0 1700000000000LL /* an arbitrary wall-clock start, in ms */
#define SEC 1000LL
#define MIN (60 * SEC)
#define PASSWORD "correct horse battery"

/* The last TOTP step each user logged in with, so that a test's next login
 * picks a code that has not been used (a code works once). */
struct used_step {
	char user[STAFF_USERNAME_MAX + 1];
	int64_t step;
};

struct fixture {
	char dir[256];
	char path[300];
	struct staff *st;
	struct used_step used[64];
};

static struct used_step *used_of(struct fixture *f, const char *user)
{
	for (size_t i = 0; i < sizeof f->used / sizeof f->used[0]; i++) {
		if (strcmp(f->used[i].user, user) == 0)
			return &f->used[i];
		if (f->used[i].user[0] == '\0') {
			snprintf(f->used[i].user, sizeof f->used[i].user, "%s", user);
			return &f->used[i];
		}
	}
	fail_msg("too many users");
	return NULL;
}

/*
 * A valid code for user at now_ms that has not been used: the earliest step
 * of the ±1 window after the last one used. *step tells which, for
 * mark_used(). Unknown users get a code that matches nothing.
 */
static void code_for(struct fixture *f, const char *user, int64_t now_ms, char code[7],
		     int64_t *step)
{
	char lower[STAFF_USERNAME_MAX + 1];
	struct used_step *u;
	int64_t now_step = totp_step(now_ms / 1000), s = now_step - 1;
	size_t i;

	/* Names log in in any case; the stored one is lower-case. */
	for (i = 0; user[i] != '\0' && i < STAFF_USERNAME_MAX; i++)
		lower[i] = (user[i] >= 'A' && user[i] <= 'Z') ? (char)(user[i] - 'A' + 'a') : user[i];
	lower[i] = '\0';
	user = lower;
	u = used_of(f, user);

	if (s <= u->step)
		s = u->step + 1;
	assert_true(s <= now_step + 1); /* a test logs in at most 3 times a step */
	*step = s;
	if (staff_totp_code(f->st, user, s * TOTP_STEP_S, code) != 0)
		snprintf(code, 7, "000000");
}

static void mark_used(struct fixture *f, const char *user, int64_t step)
{
	char lower[STAFF_USERNAME_MAX + 1];
	size_t i;

	for (i = 0; user[i] != '\0' && i < STAFF_USERNAME_MAX; i++)
		lower[i] = (user[i] >= 'A' && user[i] <= 'Z') ? (char)(user[i] - 'A' + 'a') : user[i];
	lower[i] = '\0';
	used_of(f, lower)->step = step;
}

static struct staff_limits fast_limits(void)
{
	struct staff_limits l = {
		.session_idle_ms = 10 * SEC,
		.session_max_ms = 60 * SEC,
		.pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN,
		.pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN,
	};
	return l;
}

static void reopen(struct fixture *f, const struct staff_limits *l)
{
	staff_close(f->st);
	f->st = staff_open(f->path, l);
	assert_non_null(f->st);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");
	struct staff_limits l = fast_limits();

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "%s/brug-test-staff-XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/brug.db", f->dir);
	f->st = staff_open(f->path, &l);
	assert_non_null(f->st);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[320];

	staff_close(f->st);
	unlink(f->path);
	snprintf(p, sizeof p, "%s-journal", f->path);
	unlink(p);
	snprintf(p, sizeof p, "%s/" SEAL_KEY_FILE, f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A valid account; tests change one field at a time. */
static struct staff_account samira(void)
{
	struct staff_account a = {
		.username = "samira",
		.alias = "Samira",
		.roles = BRUG_ROLE_VOLUNTEER,
		.langs = "ar,nl",
		.topics = "",
		.max_chats = 2,
	};
	return a;
}

static void add_samira(struct fixture *f)
{
	struct staff_account a = samira();

	assert_int_equal(staff_add(f->st, &a, PASSWORD, "cli", NULL), 0);
}

static int login(struct fixture *f, const char *user, const char *pw, const char *addr,
		 int64_t now, char token[TOKEN_STR_LEN], int64_t *expires)
{
	struct staff_account acct;
	char scratch[TOKEN_STR_LEN];
	int64_t exp_scratch;
	int r;

	char code[7];
	int64_t step;

	code_for(f, user, now, code, &step);
	r = staff_login(f->st, user, pw, code, NULL, addr, now, &acct, token != NULL ? token : scratch,
			expires != NULL ? expires : &exp_scratch);
	if (r == 0) {
		mark_used(f, user, step);
		assert_string_equal(acct.username, "samira");
	} else {
		/* A refusal hands out nothing. */
		assert_null(acct.username);
		assert_int_equal((token != NULL ? token : scratch)[0], '\0');
	}
	staff_account_fini(&acct);
	return r;
}

/* Count rows of the sessions table through a separate connection. */
static int count_sessions(struct fixture *f)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int n;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sessions", -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

/* ---- store -------------------------------------------------------------- */

static void test_file_mode_and_schema(void **state)
{
	struct fixture *f = *state;
	struct stat sb;
	sqlite3 *db;
	sqlite3_stmt *stmt;
	char path2[320];
	mode_t old;
	int fd;

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	/* Even with an empty umask the file is created private. */
	snprintf(path2, sizeof path2, "%s/other.db", f->dir);
	old = umask(0);
	assert_int_equal(store_open(path2, &db), 0);
	umask(old);
	assert_int_equal(stat(path2, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	store_close(db);
	unlink(path2);

	/* An existing world-readable file is tightened. */
	fd = open(path2, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	assert_int_equal(store_open(path2, &db), 0);
	assert_int_equal(stat(path2, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	/* Schema at the newest version, foreign keys and secure_delete on. */
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), store_schema_version());
	assert_true(store_schema_version() >= 1);
	sqlite3_finalize(stmt);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA foreign_keys", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 1);
	sqlite3_finalize(stmt);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA secure_delete", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 1);
	sqlite3_finalize(stmt);
	store_close(db);

	/* Opening again does not migrate twice (a second CREATE would fail). */
	assert_int_equal(store_open(path2, &db), 0);
	store_close(db);
	unlink(path2);
}

static void test_store_refuses_newer_schema(void **state)
{
	struct fixture *f = *state;
	char path2[320];
	sqlite3 *db;

	snprintf(path2, sizeof path2, "%s/newer.db", f->dir);
	assert_int_equal(store_open(path2, &db), 0);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
	store_close(db);
	assert_int_equal(store_open(path2, &db), BRUG_E_CONFLICT);
	assert_null(db);
	unlink(path2);
}

/* ---- accounts ----------------------------------------------------------- */

static void expect_bad(struct fixture *f, struct staff_account a, const char *pw)
{
	const char *why = NULL;

	assert_int_equal(staff_add(f->st, &a, pw, "cli", &why), BRUG_E_BAD_FIELD);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
}

static void test_add_validation(void **state)
{
	struct fixture *f = *state;
	struct staff_account a;
	char long_name[STAFF_USERNAME_MAX + 2], long_pw[STAFF_PASSWORD_MAX + 2];
	char alias64[STAFF_ALIAS_MAX + 1], alias65[STAFF_ALIAS_MAX + 2];
	static char *const bad_users[] = { "", "Samira", "sa mira", "samira!", "s\xc3\xa9",
						 "a/b" };
	static char *const bad_aliases[] = {
		"",                /* empty */
		"Sam\x01ira",      /* C0 control */
		"Sam\x7fira",      /* DEL */
		"Sam\xc2\x85ira",  /* C1 control (NEL) */
		"Sam\xc3",         /* truncated sequence */
		"\xc0\xaf",        /* overlong '/' */
		"\xed\xa0\x80",    /* surrogate */
		"\xf4\x90\x80\x80",/* above U+10FFFF */
		"\xff",            /* never valid */
		"a\xe2\x80\xae" "b", /* right-to-left override */
		"a\xe2\x81\xa6" "b", /* left-to-right isolate */
		"a\xe2\x80\xa8" "b", /* line separator */
	};

	for (size_t i = 0; i < sizeof bad_users / sizeof bad_users[0]; i++) {
		a = samira();
		a.username = bad_users[i];
		expect_bad(f, a, PASSWORD);
	}
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	a = samira();
	a.username = long_name;
	expect_bad(f, a, PASSWORD);

	for (size_t i = 0; i < sizeof bad_aliases / sizeof bad_aliases[0]; i++) {
		a = samira();
		a.alias = bad_aliases[i];
		expect_bad(f, a, PASSWORD);
	}
	memset(alias65, 'x', sizeof alias65 - 1);
	alias65[sizeof alias65 - 1] = '\0';
	a = samira();
	a.alias = alias65;
	expect_bad(f, a, PASSWORD);

	a = samira();
	a.roles = 0;
	expect_bad(f, a, PASSWORD);
	a.roles = 1u << 7;
	expect_bad(f, a, PASSWORD);

	static char *const bad_langs[] = { "", "nl,,ar", "nl,", ",nl", "n l", "nl;ar" };
	for (size_t i = 0; i < sizeof bad_langs / sizeof bad_langs[0]; i++) {
		a = samira();
		a.langs = bad_langs[i];
		expect_bad(f, a, PASSWORD);
	}
	a = samira();
	a.topics = ",";
	expect_bad(f, a, PASSWORD);
	a.topics = NULL;
	expect_bad(f, a, PASSWORD);

	a = samira();
	a.max_chats = 0;
	expect_bad(f, a, PASSWORD);
	a.max_chats = STAFF_MAX_CHATS_MAX + 1;
	expect_bad(f, a, PASSWORD);

	a = samira();
	expect_bad(f, a, "123456789");
	memset(long_pw, 'p', sizeof long_pw - 1);
	long_pw[sizeof long_pw - 1] = '\0';
	expect_bad(f, a, long_pw);
	/* (No password at all is allowed: the account then starts with a
	 * reset code; see test_reset_code.) */

	/* Nothing was stored by any of those. */
	assert_int_equal(staff_get(f->st, "samira", &a), BRUG_E_NOT_FOUND);

	/* The edges that are allowed. */
	a = samira();
	a.username = "a";
	a.max_chats = STAFF_MAX_CHATS_MAX;
	assert_int_equal(staff_add(f->st, &a, "0123456789", "cli", NULL), 0);
	memset(alias64, 'y', sizeof alias64 - 1);
	alias64[sizeof alias64 - 1] = '\0';
	long_name[STAFF_USERNAME_MAX] = '\0';
	long_pw[STAFF_PASSWORD_MAX] = '\0';
	a = samira();
	a.username = long_name;
	a.alias = alias64;
	a.max_chats = 1;
	assert_int_equal(staff_add(f->st, &a, long_pw, "cli", NULL), 0);
	a = samira();
	a.username = "m.el-amrani_2";
	a.alias = "\xd8\xb3\xd9\x85\xd9\x8a\xd8\xb1\xd8\xa9 \xe2\x80\x8f"; /* Arabic + RLM */
	a.roles = BRUG_ROLE_ALL;
	a.topics = "forced_marriage,fgm";
	assert_int_equal(staff_add(f->st, &a, PASSWORD, "cli", NULL), 0);
}

static void test_add_conflict_get_list(void **state)
{
	struct fixture *f = *state;
	struct staff_account a = samira(), got;
	const char *why = NULL;

	add_samira(f);
	assert_int_equal(staff_add(f->st, &a, "another password", "cli", &why), BRUG_E_CONFLICT);
	assert_non_null(why);

	assert_int_equal(staff_get(f->st, "samira", &got), 0);
	assert_true(got.id > 0);
	assert_string_equal(got.username, "samira");
	assert_string_equal(got.alias, "Samira");
	assert_int_equal(got.roles, BRUG_ROLE_VOLUNTEER);
	assert_string_equal(got.langs, "ar,nl");
	assert_string_equal(got.topics, "");
	assert_int_equal(got.max_chats, 2);
	assert_false(got.disabled);
	staff_account_fini(&got);
	assert_null(got.username);
	assert_int_equal(staff_get(f->st, "nobody", &got), BRUG_E_NOT_FOUND);
	assert_null(got.username);
}

struct list_ctx {
	char names[8][STAFF_USERNAME_MAX + 1];
	int n;
	int stop_after;
};

static int list_cb(const struct staff_account *a, void *ctx)
{
	struct list_ctx *c = ctx;

	assert_true(c->n < 8);
	snprintf(c->names[c->n], sizeof c->names[c->n], "%s", a->username);
	c->n++;
	return c->n == c->stop_after ? 42 : 0;
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	struct staff_account a = samira();
	struct list_ctx c = { .n = 0 };

	assert_int_equal(staff_list(f->st, list_cb, &c), 0);
	assert_int_equal(c.n, 0);
	add_samira(f);
	a.username = "aylin";
	a.alias = "Aylin";
	assert_int_equal(staff_add(f->st, &a, PASSWORD, "cli", NULL), 0);
	a.username = "tesfay";
	assert_int_equal(staff_add(f->st, &a, PASSWORD, "cli", NULL), 0);
	assert_int_equal(staff_disable(f->st, "tesfay", "cli"), 0);

	assert_int_equal(staff_list(f->st, list_cb, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.names[0], "aylin");
	assert_string_equal(c.names[1], "samira");
	assert_string_equal(c.names[2], "tesfay");

	c.n = 0;
	c.stop_after = 2;
	assert_int_equal(staff_list(f->st, list_cb, &c), 42);
	assert_int_equal(c.n, 2);
}

/* ---- login -------------------------------------------------------------- */

static void test_login_ok(void **state)
{
	struct fixture *f = *state;
	struct staff_account acct;
	char token[TOKEN_STR_LEN], code[7];
	int64_t expires = 0;

	add_samira(f);
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000, code), 0);
	assert_int_equal(staff_login(f->st, "samira", PASSWORD, code, NULL, "192.0.2.1", T0, &acct,
				     token, &expires), 0);
	assert_true(acct.totp);
	mark_used(f, "samira", totp_step(T0 / 1000));
	assert_string_equal(acct.alias, "Samira");
	assert_string_equal(acct.langs, "ar,nl");
	assert_int_equal(strlen(token), TOKEN_STR_LEN - 1);
	assert_int_equal(expires, T0 + 10 * SEC); /* idle comes before max */
	staff_account_fini(&acct);

	/* The user name is not case-sensitive; each login is a new session. */
	assert_int_equal(login(f, "Samira", PASSWORD, NULL, T0, NULL, NULL), 0);
	assert_int_equal(count_sessions(f), 2);
}

static void test_login_same_answer(void **state)
{
	struct fixture *f = *state;

	add_samira(f);
	assert_int_equal(login(f, "samira", "wrong password", NULL, T0, NULL, NULL),
			 BRUG_E_UNAUTHORIZED);
	assert_int_equal(login(f, "nobody", PASSWORD, NULL, T0, NULL, NULL), BRUG_E_UNAUTHORIZED);
	assert_int_equal(login(f, "samira", "", NULL, T0, NULL, NULL), BRUG_E_UNAUTHORIZED);
	assert_int_equal(login(f, "", "", NULL, T0, NULL, NULL), BRUG_E_UNAUTHORIZED);
	assert_int_equal(count_sessions(f), 0);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The fastest of three failed logins of user, in ns. */
static int64_t fastest_failure(struct fixture *f, const char *user)
{
	int64_t best = INT64_MAX;

	for (int i = 0; i < 3; i++) {
		int64_t t = mono_ns();

		assert_int_equal(login(f, user, "wrong password", NULL, T0, NULL, NULL),
				 BRUG_E_UNAUTHORIZED);
		t = mono_ns() - t;
		if (t < best)
			best = t;
	}
	return best;
}

static void test_unknown_user_same_work(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	int64_t known, unknown;

	/* Heavy enough that a skipped hash shows: a real check takes
	 * milliseconds, a lookup alone microseconds. The bound is loose so
	 * that a busy machine does not make it flaky. */
	l.pwhash_opslimit = 3;
	l.pwhash_memlimit = 8u << 20;
	reopen(f, &l);
	add_samira(f);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, NULL, NULL), 0); /* warm up */
	known = fastest_failure(f, "samira");
	unknown = fastest_failure(f, "nobody");
	assert_true(unknown * 3 > known);
	assert_true(known * 3 > unknown);
}

static void test_login_disabled(void **state)
{
	struct fixture *f = *state;
	struct staff_account got;

	add_samira(f);
	assert_int_equal(staff_disable(f->st, "samira", "cli"), 0);
	assert_int_equal(staff_disable(f->st, "samira", "cli"), 0);
	assert_int_equal(staff_disable(f->st, "nobody", "cli"), BRUG_E_NOT_FOUND);
	assert_int_equal(staff_get(f->st, "samira", &got), 0);
	assert_true(got.disabled);
	staff_account_fini(&got);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, NULL, NULL), BRUG_E_UNAUTHORIZED);
	assert_int_equal(count_sessions(f), 0);
}

static void fail_n(struct fixture *f, const char *user, const char *addr, int64_t now, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(login(f, user, "wrong password", addr, now, NULL, NULL),
				 BRUG_E_UNAUTHORIZED);
}

static int login_as(struct fixture *f, const char *user, const char *addr, int64_t now)
{
	struct staff_account acct;
	char token[TOKEN_STR_LEN], code[7];
	int64_t exp, step;
	int r;

	code_for(f, user, now, code, &step);
	r = staff_login(f->st, user, PASSWORD, code, NULL, addr, now, &acct, token, &exp);
	if (r == 0)
		mark_used(f, user, step);
	staff_account_fini(&acct);
	return r;
}

static void test_lockout_user_doubles(void **state)
{
	struct fixture *f = *state;
	static const int64_t expect_min[] = { 1, 2, 4, 8, 16, 32, 60, 60 };
	int64_t t = T0;

	add_samira(f);
	for (size_t i = 0; i < sizeof expect_min / sizeof expect_min[0]; i++) {
		int64_t lock = expect_min[i] * MIN;

		fail_n(f, "samira", NULL, t, 5);
		/* Locked: even the right password is not looked at. */
		assert_int_equal(login(f, "samira", PASSWORD, NULL, t, NULL, NULL),
				 BRUG_E_RATE_LIMITED);
		assert_int_equal(login(f, "samira", PASSWORD, NULL, t + lock - 1, NULL, NULL),
				 BRUG_E_RATE_LIMITED);
		/* Attempts while locked do not lengthen the lock. */
		t += lock;
	}
	/* Once the lock has passed the right password works. */
	assert_int_equal(login(f, "samira", PASSWORD, NULL, t, NULL, NULL), 0);
	/* ... and clears the streak: five failures now lock for one minute. */
	fail_n(f, "samira", NULL, t, 5);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, t + MIN - 1, NULL, NULL),
			 BRUG_E_RATE_LIMITED);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, t + MIN, NULL, NULL), 0);
}

static void test_lockout_success_clears(void **state)
{
	struct fixture *f = *state;

	add_samira(f);
	fail_n(f, "samira", NULL, T0, 4);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0 + SEC, NULL, NULL), 0);
	fail_n(f, "samira", NULL, T0 + 2 * SEC, 4);
	/* Eight failures in the window, but the success in between reset. */
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0 + 3 * SEC, NULL, NULL), 0);
}

static void test_lockout_window(void **state)
{
	struct fixture *f = *state;

	add_samira(f);
	fail_n(f, "samira", NULL, T0, 4);
	/* Four failures, then fifteen quiet minutes: the count starts over. */
	fail_n(f, "samira", NULL, T0 + 15 * MIN, 4);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0 + 15 * MIN, NULL, NULL), 0);

	/* Five spread over just under fifteen minutes do lock. */
	fail_n(f, "samira", NULL, T0 + 20 * MIN, 1);
	fail_n(f, "samira", NULL, T0 + 30 * MIN, 3);
	fail_n(f, "samira", NULL, T0 + 35 * MIN - 1, 1);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0 + 35 * MIN, NULL, NULL),
			 BRUG_E_RATE_LIMITED);
}

static void test_lockout_unknown_user_and_case(void **state)
{
	struct fixture *f = *state;

	add_samira(f);
	/* Unknown names are locked the same way, so a lock tells nothing. */
	fail_n(f, "nobody", NULL, T0, 5);
	assert_int_equal(login(f, "nobody", PASSWORD, NULL, T0, NULL, NULL), BRUG_E_RATE_LIMITED);
	/* Failures under any spelling count for the same name. */
	fail_n(f, "SAMIRA", NULL, T0, 2);
	fail_n(f, "Samira", NULL, T0, 2);
	fail_n(f, "samira", NULL, T0, 1);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, NULL, NULL), BRUG_E_RATE_LIMITED);
	/* Other users are not affected. */
	struct staff_account a = samira();
	a.username = "aylin";
	assert_int_equal(staff_add(f->st, &a, PASSWORD, "cli", NULL), 0);
	assert_int_equal(login_as(f, "aylin", NULL, T0), 0);
}

static void test_lockout_addr(void **state)
{
	struct fixture *f = *state;
	struct staff_account a = samira();
	const char *addr = "198.51.100.7";

	add_samira(f);
	a.username = "aylin";
	assert_int_equal(staff_add(f->st, &a, PASSWORD, "cli", NULL), 0);
	/* Five different names from one address: no name reaches five. */
	fail_n(f, "u1", addr, T0, 1);
	fail_n(f, "u2", addr, T0, 1);
	fail_n(f, "u3", addr, T0, 1);
	fail_n(f, "aylin", addr, T0, 1);
	fail_n(f, "u5", addr, T0, 1);
	assert_int_equal(login_as(f, "samira", addr, T0), BRUG_E_RATE_LIMITED);
	/* From elsewhere the same accounts still work. */
	assert_int_equal(login_as(f, "samira", "203.0.113.9", T0), 0);
	assert_int_equal(login_as(f, "aylin", NULL, T0), 0);
	/* The address is free again after a minute. */
	assert_int_equal(login_as(f, "samira", addr, T0 + MIN - 1), BRUG_E_RATE_LIMITED);
	assert_int_equal(login_as(f, "samira", addr, T0 + MIN), 0);
	/* A success does not clear the address's streak: next lock is 2 min. */
	fail_n(f, "u6", addr, T0 + MIN, 5);
	assert_int_equal(login_as(f, "samira", addr, T0 + 3 * MIN - 1), BRUG_E_RATE_LIMITED);
	assert_int_equal(login_as(f, "samira", addr, T0 + 3 * MIN), 0);
}

static void test_lockout_table_bounded(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	char name[32];

	l.lock_table_size = 4;
	reopen(f, &l);
	add_samira(f);
	fail_n(f, "samira", NULL, T0, 5);
	/* Far more names than the table holds: unlocked entries are evicted,
	 * the lock on samira is kept. */
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof name, "spray%d", i);
		fail_n(f, name, NULL, T0 + i, 1);
	}
	assert_int_equal(login_as(f, "samira", NULL, T0 + 100), BRUG_E_RATE_LIMITED);
	/* Eviction did drop the oldest unlocked counts: spray0 failed once
	 * and was evicted, so four more failures do not lock it. */
	fail_n(f, "spray0", NULL, T0 + 200, 4);
	assert_int_equal(login(f, "spray0", PASSWORD, NULL, T0 + 200, NULL, NULL),
			 BRUG_E_UNAUTHORIZED);
	assert_int_equal(login_as(f, "samira", NULL, T0 + MIN), 0);
}

/* Issue 12: one source cannot lock a colleague out who logs in from
 * elsewhere; only many sources together lock the name everywhere. */
static void test_lockout_per_source(void **state)
{
	struct fixture *f = *state;
	const char *attacker = "127.0.0.2", *owner = "127.0.0.1";
	char addr[32];

	add_samira(f);
	fail_n(f, "samira", attacker, T0, 5);
	assert_int_equal(login_as(f, "samira", attacker, T0), BRUG_E_RATE_LIMITED);
	/* The owner, from its own address, is not locked... */
	assert_int_equal(login_as(f, "samira", owner, T0 + 1), 0);
	/* ...and its success does not lift the attacker's lock: it is the
	 * address's as well as the pair's. */
	assert_int_equal(login_as(f, "samira", attacker, T0 + 2), BRUG_E_RATE_LIMITED);

	/* One failure each from STAFF_LOCK_ACCOUNT_FAILURES - 1 addresses
	 * locks nothing... */
	for (int i = 0; i < STAFF_LOCK_ACCOUNT_FAILURES - 1; i++) {
		snprintf(addr, sizeof addr, "127.1.0.%d", i);
		fail_n(f, "samira", addr, T0 + 10 + i, 1);
	}
	assert_int_equal(login_as(f, "samira", owner, T0 + 100), 0);
	/* (the success cleared the name's count) ...and as many again plus
	 * one lock the name from everywhere. */
	for (int i = 0; i < STAFF_LOCK_ACCOUNT_FAILURES; i++) {
		snprintf(addr, sizeof addr, "127.2.0.%d", i);
		fail_n(f, "samira", addr, T0 + 200 + i, 1);
	}
	assert_int_equal(login_as(f, "samira", owner, T0 + 300), BRUG_E_RATE_LIMITED);
	assert_int_equal(login_as(f, "samira", owner, T0 + 200 + STAFF_LOCK_ACCOUNT_FAILURES - 1 + MIN), 0);
}

/* Issue 12: a locked database is not an expired session. */
static void test_session_check_busy_database(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	struct staff_account acct;
	char token[TOKEN_STR_LEN];
	sqlite3 *other;
	int64_t exp = 0;

	/* As brugd opens it: never waiting for a lock. */
	store_set_wait_ms(0);
	reopen(f, &l);
	store_set_wait_ms(STORE_BUSY_TIMEOUT_MS);
	add_samira(f);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, token, NULL), 0);
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);

	/* Another process writing (a reserved lock): reads go on, the touch
	 * cannot be written and is not an error. */
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(staff_session_account(f->st, token, T0 + 5 * SEC, true, &acct, &exp), 0);
	assert_string_equal(acct.username, "samira");
	assert_int_equal(exp, T0 + 10 * SEC);    /* the touch waits for a later check */
	staff_account_fini(&acct);

	/* An exclusive lock: nothing can be read, and that is told apart from
	 * a session that is gone, at once. */
	assert_int_equal(sqlite3_exec(other, "COMMIT; BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(staff_session_account(f->st, token, T0 + 6 * SEC, true, &acct, &exp),
			 BRUG_E_UNAVAILABLE);
	assert_int_equal(staff_session_check(f->st, token, T0 + 6 * SEC, false, NULL), BRUG_E_UNAVAILABLE);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0 + 6 * SEC, NULL, NULL), BRUG_E_UNAVAILABLE);

	/* The lock goes: the touch is written again. */
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(staff_session_account(f->st, token, T0 + 7 * SEC, true, &acct, &exp), 0);
	assert_int_equal(exp, T0 + 17 * SEC);
	staff_account_fini(&acct);
}

/* ---- sessions ----------------------------------------------------------- */

static void test_token_not_stored(void **state)
{
	struct fixture *f = *state;
	char token[TOKEN_STR_LEN], hash[65];
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int rows = 0;

	add_samira(f);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, token, NULL), 0);
	token_hash_hex(token, hash);

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT * FROM sessions", -1, &stmt, NULL),
			 SQLITE_OK);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		rows++;
		for (int c = 0; c < sqlite3_column_count(stmt); c++) {
			const char *v = (const char *)sqlite3_column_text(stmt, c);

			assert_non_null(v);
			assert_string_not_equal(v, token);
			assert_null(strstr(v, token));
		}
		assert_string_equal((const char *)sqlite3_column_text(stmt, 0), hash);
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	assert_int_equal(rows, 1);
}

static void test_resume(void **state)
{
	struct fixture *f = *state;
	struct staff_account acct;
	char token[TOKEN_STR_LEN], bad[TOKEN_STR_LEN];
	int64_t exp = 0;

	add_samira(f);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, token, NULL), 0);
	assert_int_equal(staff_resume(f->st, token, T0 + 5 * SEC, &acct, &exp), 0);
	assert_string_equal(acct.username, "samira");
	assert_string_equal(acct.alias, "Samira");
	assert_int_equal(exp, T0 + 15 * SEC);
	staff_account_fini(&acct);

	/* A token differing in one character, a short one, NULL: refused. */
	memcpy(bad, token, sizeof bad);
	bad[0] = bad[0] == 'A' ? 'B' : 'A';
	assert_int_equal(staff_resume(f->st, bad, T0 + 5 * SEC, &acct, &exp), BRUG_E_UNAUTHORIZED);
	assert_null(acct.username);
	assert_int_equal(staff_resume(f->st, "short", T0, &acct, &exp), BRUG_E_UNAUTHORIZED);
	assert_int_equal(staff_resume(f->st, NULL, T0, &acct, &exp), BRUG_E_UNAUTHORIZED);
}

static void test_idle_expiry(void **state)
{
	struct fixture *f = *state;
	struct staff_account acct;
	char token[TOKEN_STR_LEN];
	int64_t exp;

	add_samira(f);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, token, NULL), 0);
	/* Resuming just before the idle time runs out restarts it. */
	assert_int_equal(staff_resume(f->st, token, T0 + 10 * SEC - 1, &acct, &exp), 0);
	staff_account_fini(&acct);
	assert_int_equal(exp, T0 + 20 * SEC - 1);
	assert_int_equal(staff_resume(f->st, token, T0 + 20 * SEC - 1, &acct, &exp),
			 BRUG_E_UNAUTHORIZED);
	assert_null(acct.username);
	/* The expired row is gone, and stays refused. */
	assert_int_equal(count_sessions(f), 0);
	assert_int_equal(staff_session_check(f->st, token, T0 + SEC, false, NULL),
			 BRUG_E_UNAUTHORIZED);
}

static void test_absolute_expiry(void **state)
{
	struct fixture *f = *state;
	char token[TOKEN_STR_LEN];
	int64_t exp = 0;

	add_samira(f);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, token, NULL), 0);
	/* Activity every five seconds keeps it from idling... */
	for (int64_t t = T0 + 5 * SEC; t < T0 + 60 * SEC; t += 5 * SEC) {
		assert_int_equal(staff_session_check(f->st, token, t, true, &exp), 0);
		assert_int_equal(exp, t + 10 * SEC < T0 + 60 * SEC ? t + 10 * SEC : T0 + 60 * SEC);
	}
	/* ...but not past the maximum age. */
	assert_int_equal(exp, T0 + 60 * SEC);
	assert_int_equal(staff_session_check(f->st, token, T0 + 60 * SEC, true, &exp),
			 BRUG_E_UNAUTHORIZED);
	assert_int_equal(count_sessions(f), 0);
}

static void test_session_check_touch(void **state)
{
	struct fixture *f = *state;
	char token[TOKEN_STR_LEN];
	int64_t exp = 0;

	add_samira(f);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, token, NULL), 0);
	/* Without touch the idle clock keeps running. */
	assert_int_equal(staff_session_check(f->st, token, T0 + 8 * SEC, false, &exp), 0);
	assert_int_equal(exp, T0 + 10 * SEC);
	assert_int_equal(staff_session_check(f->st, token, T0 + 10 * SEC, false, &exp),
			 BRUG_E_UNAUTHORIZED);

	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, token, NULL), 0);
	assert_int_equal(staff_session_check(f->st, token, T0 + 8 * SEC, true, &exp), 0);
	assert_int_equal(exp, T0 + 18 * SEC);
	assert_int_equal(staff_session_check(f->st, token, T0 + 10 * SEC, false, &exp), 0);
	/* A clock that went back does not move last use backwards. */
	assert_int_equal(staff_session_check(f->st, token, T0 + 1 * SEC, true, &exp), 0);
	assert_int_equal(exp, T0 + 18 * SEC);
}

static void test_logout(void **state)
{
	struct fixture *f = *state;
	char t1[TOKEN_STR_LEN], t2[TOKEN_STR_LEN];

	add_samira(f);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, t1, NULL), 0);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, t2, NULL), 0);
	assert_string_not_equal(t1, t2);
	assert_int_equal(staff_logout(f->st, t1), 0);
	assert_int_equal(staff_session_check(f->st, t1, T0, true, NULL), BRUG_E_UNAUTHORIZED);
	/* Only that session ended. */
	assert_int_equal(staff_session_check(f->st, t2, T0, true, NULL), 0);
	assert_int_equal(staff_logout(f->st, t1), 0);
	assert_int_equal(staff_logout(f->st, NULL), 0);
	assert_int_equal(count_sessions(f), 1);
}

static void test_disable_kills_sessions(void **state)
{
	struct fixture *f = *state;
	struct staff_account acct, a = samira();
	char t1[TOKEN_STR_LEN], t2[TOKEN_STR_LEN];

	add_samira(f);
	a.username = "aylin";
	assert_int_equal(staff_add(f->st, &a, PASSWORD, "cli", NULL), 0);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, t1, NULL), 0);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, t2, NULL), 0);
	assert_int_equal(login_as(f, "aylin", NULL, T0), 0);
	assert_int_equal(count_sessions(f), 3);

	assert_int_equal(staff_disable(f->st, "samira", "cli"), 0);
	assert_int_equal(count_sessions(f), 1);
	assert_int_equal(staff_resume(f->st, t1, T0 + SEC, &acct, NULL), BRUG_E_UNAUTHORIZED);
	assert_int_equal(staff_session_check(f->st, t2, T0 + SEC, false, NULL),
			 BRUG_E_UNAUTHORIZED);
}

static void test_set_password(void **state)
{
	struct fixture *f = *state;
	char token[TOKEN_STR_LEN];
	const char *why = NULL;

	add_samira(f);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, token, NULL), 0);
	assert_int_equal(staff_set_password(f->st, "samira", "short", "cli", &why), BRUG_E_BAD_FIELD);
	assert_non_null(why);
	assert_int_equal(staff_set_password(f->st, "nobody", "a new password", "cli", NULL),
			 BRUG_E_NOT_FOUND);
	/* Nothing changed by the refusals. */
	assert_int_equal(staff_session_check(f->st, token, T0, false, NULL), 0);

	/* A reset also ends sessions and lifts a lockout. */
	fail_n(f, "samira", NULL, T0, 5);
	assert_int_equal(staff_set_password(f->st, "samira", "a new password", "cli", NULL), 0);
	assert_int_equal(staff_session_check(f->st, token, T0, false, NULL), BRUG_E_UNAUTHORIZED);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, NULL, NULL), BRUG_E_UNAUTHORIZED);
	assert_int_equal(login(f, "samira", "a new password", NULL, T0, NULL, NULL), 0);
}

static void test_rehash_on_login(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	sqlite3 *db;
	sqlite3_stmt *stmt;
	char before[crypto_pwhash_STRBYTES], after[crypto_pwhash_STRBYTES];
	const char *sql = "SELECT password_hash FROM staff WHERE username = 'samira'";

	add_samira(f);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	snprintf(before, sizeof before, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	assert_non_null(strstr(before, "$argon2id$"));
	assert_null(strstr(before, PASSWORD));

	l.pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN + 1;
	reopen(f, &l);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, NULL, NULL), 0);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	snprintf(after, sizeof after, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	assert_string_not_equal(before, after);
	assert_int_equal(crypto_pwhash_str_needs_rehash(after, l.pwhash_opslimit, l.pwhash_memlimit), 0);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, NULL, NULL), 0);
}

static void test_purge(void **state)
{
	struct fixture *f = *state;
	char t1[TOKEN_STR_LEN];

	add_samira(f);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, t1, NULL), 0);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0 + 5 * SEC, NULL, NULL), 0);
	assert_int_equal(staff_purge_sessions(f->st, T0 + 10 * SEC - 1), 0);
	assert_int_equal(count_sessions(f), 2);
	assert_int_equal(staff_purge_sessions(f->st, T0 + 10 * SEC), 0);
	assert_int_equal(count_sessions(f), 1);
	/* Logging in purges too. */
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0 + 15 * SEC, NULL, NULL), 0);
	assert_int_equal(count_sessions(f), 1);
}


/* ---- second factor, reset codes, updates, audit ------------------------- */

static int login_code(struct fixture *f, const char *user, const char *pw, const char *code,
		      const char *reset, int64_t now)
{
	struct staff_account acct;
	char token[TOKEN_STR_LEN];
	int64_t exp;
	int r;

	r = staff_login(f->st, user, pw, code, reset, NULL, now, &acct, token, &exp);
	staff_account_fini(&acct);
	return r;
}

static void test_totp_required_and_single_use(void **state)
{
	struct fixture *f = *state;
	char cur[7], next[7], old[7], wrong[16];

	add_samira(f);
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000, cur), 0);
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000 + 30, next), 0);
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000 - 60, old), 0);
	snprintf(wrong, sizeof wrong, "%06d", (atoi(cur) + 1) % 1000000);
	/* No code, a malformed, a wrong and a too old code: all refused. */
	assert_int_equal(login_code(f, "samira", PASSWORD, NULL, NULL, T0), BRUG_E_UNAUTHORIZED);
	assert_int_equal(login_code(f, "samira", PASSWORD, "12345", NULL, T0), BRUG_E_UNAUTHORIZED);
	assert_int_equal(login_code(f, "samira", PASSWORD, wrong, NULL, T0), BRUG_E_UNAUTHORIZED);
	assert_int_equal(login_code(f, "samira", PASSWORD, old, NULL, T0), BRUG_E_UNAUTHORIZED);
	/* The right one works once; the next step's code still works. */
	assert_int_equal(login_code(f, "samira", PASSWORD, cur, NULL, T0), 0);
	assert_int_equal(login_code(f, "samira", PASSWORD, cur, NULL, T0 + SEC), BRUG_E_UNAUTHORIZED);
	assert_int_equal(login_code(f, "samira", PASSWORD, next, NULL, T0 + SEC), 0);
	/* A wrong password does not use up a code. */
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000 + 60, next), 0);
	assert_int_equal(login_code(f, "samira", "wrong password", next, NULL, T0 + 40 * SEC),
			 BRUG_E_UNAUTHORIZED);
	assert_int_equal(login_code(f, "samira", PASSWORD, next, NULL, T0 + 40 * SEC), 0);
}

static void test_totp_failures_lock(void **state)
{
	struct fixture *f = *state;
	char cur[7];

	add_samira(f);
	/* Five wrong codes with the right password lock like wrong passwords. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(login_code(f, "samira", PASSWORD, "000000", NULL, T0),
				 BRUG_E_UNAUTHORIZED);
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000, cur), 0);
	assert_int_equal(login_code(f, "samira", PASSWORD, cur, NULL, T0), BRUG_E_RATE_LIMITED);
}

static void test_reset_code(void **state)
{
	struct fixture *f = *state;
	struct staff_account a = samira();
	char code[STAFF_RESET_CODE_LEN + 1], code2[STAFF_RESET_CODE_LEN + 1], totp[7], lower[16];

	/* An account made without a password cannot log in with one. */
	assert_int_equal(staff_add(f->st, &a, NULL, "cora", NULL), 0);
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000, totp), 0);
	assert_int_equal(login_code(f, "samira", "", totp, NULL, T0), BRUG_E_UNAUTHORIZED);
	assert_int_equal(staff_reset_code(f->st, "nobody", "cora", T0, code), BRUG_E_NOT_FOUND);
	assert_int_equal(staff_reset_code(f->st, "samira", "cora", T0, code), 0);
	assert_int_equal(strlen(code), STAFF_RESET_CODE_LEN);
	/* A new code replaces the old one. */
	assert_int_equal(staff_reset_code(f->st, "samira", "cora", T0, code2), 0);
	assert_string_not_equal(code, code2);
	assert_int_equal(login_code(f, "samira", "a new password", totp, code, T0),
			 BRUG_E_UNAUTHORIZED);
	/* A new password that breaks the rules is bad_field, nothing used up. */
	assert_int_equal(login_code(f, "samira", "short", totp, code2, T0), BRUG_E_BAD_FIELD);
	/* The right code needs the right TOTP code too. */
	assert_int_equal(login_code(f, "samira", "a new password", "000000", code2, T0),
			 BRUG_E_UNAUTHORIZED);
	/* Typed in lower case with a dash: accepted. */
	for (int i = 0, j = 0; i <= STAFF_RESET_CODE_LEN; i++) {
		if (i == 5)
			lower[j++] = '-';
		lower[j++] = (char)(code2[i] >= 'A' && code2[i] <= 'Z' ? code2[i] - 'A' + 'a' : code2[i]);
	}
	assert_int_equal(login_code(f, "samira", "a new password", totp, lower, T0), 0);
	/* Used up; the new password works with a fresh code. */
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000 + 30, totp), 0);
	assert_int_equal(login_code(f, "samira", "another password", totp, code2, T0 + SEC),
			 BRUG_E_UNAUTHORIZED);
	assert_int_equal(login_code(f, "samira", "a new password", totp, NULL, T0 + SEC), 0);
	/* An expired code is refused. */
	assert_int_equal(staff_reset_code(f->st, "samira", "cora", T0, code), 0);
	assert_int_equal(staff_totp_code(f->st, "samira", (T0 + STAFF_RESET_CODE_TTL_MS) / 1000, totp), 0);
	assert_int_equal(login_code(f, "samira", "third password", totp, code, T0 + STAFF_RESET_CODE_TTL_MS),
			 BRUG_E_UNAUTHORIZED);
}

static void test_totp_reset(void **state)
{
	struct fixture *f = *state;
	char before[7], after[7], *uri = NULL, *uri2 = NULL;

	add_samira(f);
	assert_int_equal(staff_totp_uri(f->st, "samira", &uri), 0);
	assert_true(strncmp(uri, "otpauth://totp/Brug:samira?secret=", 34) == 0);
	assert_non_null(strstr(uri, "&issuer=Brug&algorithm=SHA1&digits=6&period=30"));
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000, before), 0);
	assert_int_equal(staff_totp_reset(f->st, "samira", "cora", &uri2), 0);
	assert_string_not_equal(uri, uri2);
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000, after), 0);
	if (strcmp(before, after) != 0)
		assert_int_equal(login_code(f, "samira", PASSWORD, before, NULL, T0), BRUG_E_UNAUTHORIZED);
	assert_int_equal(login_code(f, "samira", PASSWORD, after, NULL, T0), 0);
	free(uri);
	assert_int_equal(staff_totp_reset(f->st, "nobody", "cora", &uri), BRUG_E_NOT_FOUND);
	assert_null(uri);
	free(uri2);
}

static void test_update(void **state)
{
	struct fixture *f = *state;
	struct staff_changes ch = { .alias = "Sami", .set_roles = true,
				    .roles = BRUG_ROLE_VOLUNTEER | BRUG_ROLE_KEYPERSON, .langs = "nl",
				    .topics = "legal", .set_max_chats = true, .max_chats = 4 };
	struct staff_account a;
	char token[TOKEN_STR_LEN];
	const char *why = NULL;

	add_samira(f);
	assert_int_equal(staff_update(f->st, "samira", &ch, "cora", NULL), 0);
	assert_int_equal(staff_get(f->st, "samira", &a), 0);
	assert_string_equal(a.alias, "Sami");
	assert_int_equal(a.roles, BRUG_ROLE_VOLUNTEER | BRUG_ROLE_KEYPERSON);
	assert_string_equal(a.langs, "nl");
	assert_string_equal(a.topics, "legal");
	assert_int_equal(a.max_chats, 4);
	assert_false(a.disabled);
	staff_account_fini(&a);
	/* A bad field changes nothing at all. */
	ch = (struct staff_changes){ .alias = "Other", .set_max_chats = true, .max_chats = 99 };
	assert_int_equal(staff_update(f->st, "samira", &ch, "cora", &why), BRUG_E_BAD_FIELD);
	assert_non_null(why);
	assert_int_equal(staff_get(f->st, "samira", &a), 0);
	assert_string_equal(a.alias, "Sami");
	staff_account_fini(&a);
	ch = (struct staff_changes){ .set_roles = true, .roles = 0 };
	assert_int_equal(staff_update(f->st, "samira", &ch, "cora", NULL), BRUG_E_BAD_FIELD);
	assert_int_equal(staff_update(f->st, "nobody", &ch, "cora", NULL), BRUG_E_NOT_FOUND);
	/* Disabling ends the sessions; enabling again lets it log in. */
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, token, NULL), 0);
	ch = (struct staff_changes){ .set_disabled = true, .disabled = true };
	assert_int_equal(staff_update(f->st, "samira", &ch, "cora", NULL), 0);
	assert_int_equal(staff_session_check(f->st, token, T0, false, NULL), BRUG_E_UNAUTHORIZED);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0 + SEC, NULL, NULL), BRUG_E_UNAUTHORIZED);
	ch.disabled = false;
	assert_int_equal(staff_update(f->st, "samira", &ch, "cora", NULL), 0);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0 + 2 * SEC, NULL, NULL), 0);
}

struct audit_seen {
	unsigned n;
	char actions[16][24];
	char actors[16][24];
	char all[4096];
};

static int audit_cb(const struct staff_audit_entry *e, void *ctx)
{
	struct audit_seen *s = ctx;
	size_t used = strlen(s->all);

	assert_true(e->ts > 0);
	assert_string_equal(e->target, "samira");
	if (s->n < 16) {
		snprintf(s->actions[s->n], sizeof s->actions[0], "%s", e->action);
		snprintf(s->actors[s->n], sizeof s->actors[0], "%s", e->actor);
	}
	snprintf(s->all + used, sizeof s->all - used, "%s %s %s|", e->actor, e->action, e->detail);
	s->n++;
	return 0;
}

static void test_audit(void **state)
{
	struct fixture *f = *state;
	struct staff_account a = samira();
	struct staff_changes ch = { .set_max_chats = true, .max_chats = 3 };
	struct audit_seen seen = { 0 };
	char code[STAFF_RESET_CODE_LEN + 1], totp[7], *uri = NULL, *secret;

	assert_int_equal(staff_add(f->st, &a, PASSWORD, "cli", NULL), 0);
	assert_int_equal(staff_update(f->st, "samira", &ch, "cora", NULL), 0);
	/* An update that changes nothing is not written. */
	assert_int_equal(staff_update(f->st, "samira", &ch, "cora", NULL), 0);
	assert_int_equal(staff_reset_code(f->st, "samira", "cora", T0, code), 0);
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000, totp), 0);
	assert_int_equal(login_code(f, "samira", "a new password", totp, code, T0), 0);
	assert_int_equal(staff_set_password(f->st, "samira", "third password", "cli", NULL), 0);
	assert_int_equal(staff_totp_reset(f->st, "samira", "cora", &uri), 0);
	assert_int_equal(staff_disable(f->st, "samira", "cora"), 0);

	assert_int_equal(staff_audit_list(f->st, 100, audit_cb, &seen), 0);
	assert_int_equal(seen.n, 7);
	/* Newest first. */
	static const char *const want[] = { "disable", "totp_reset", "password", "password_reset",
					    "reset_code", "update", "create" };
	static const char *const who[] = { "cora", "cora", "cli", "samira", "cora", "cora", "cli" };
	for (unsigned i = 0; i < 7; i++) {
		assert_string_equal(seen.actions[i], want[i]);
		assert_string_equal(seen.actors[i], who[i]);
	}
	assert_non_null(strstr(seen.all, "max_chats=3"));
	/* No password, code or secret in it. */
	secret = strstr(uri, "secret=") + 7;
	secret[32] = '\0';
	assert_null(strstr(seen.all, secret));
	assert_null(strstr(seen.all, code));
	assert_null(strstr(seen.all, totp));
	assert_null(strstr(seen.all, "password\""));
	assert_null(strstr(seen.all, PASSWORD));
	assert_null(strstr(seen.all, "a new password"));
	assert_null(strstr(seen.all, "third password"));
	/* The limit. */
	memset(&seen, 0, sizeof seen);
	assert_int_equal(staff_audit_list(f->st, 2, audit_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(staff_audit_list(f->st, 0, audit_cb, &seen), BRUG_E_BAD_FIELD);
	free(uri);
}

/* ---- secrets at rest ---------------------------------------------------- */

#define SECRET "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

/* Run sql on the file through a connection of its own, as another process
 * (an older brugd, sqlite3) would. */
static void sql_exec(struct fixture *f, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The first column of the first row of sql into out ("" for NULL or none). */
static void sql_text(struct fixture *f, const char *sql, char *out, size_t size)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != NULL)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

static int sql_count(struct fixture *f, const char *sql)
{
	char n[32];

	sql_text(f, sql, n, sizeof n);
	return atoi(n);
}

/* Does the file at path hold the bytes of text anywhere? */
static bool file_contains(const char *path, const char *text)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;
	bool found;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	found = memmem(buf, (size_t)n, text, strlen(text)) != NULL;
	free(buf);
	return found;
}

static void key_path(struct fixture *f, char *out, size_t size)
{
	snprintf(out, size, "%s/" SEAL_KEY_FILE, f->dir);
}

/* The secret printed for the account, from staff_totp_uri (32 characters). */
static void current_secret(struct fixture *f, const char *user, char out[TOTP_SECRET_B32_LEN + 1])
{
	char *uri = NULL, *p;

	assert_int_equal(staff_totp_uri(f->st, user, &uri), 0);
	p = strstr(uri, "secret=");
	assert_non_null(p);
	snprintf(out, TOTP_SECRET_B32_LEN + 1, "%s", p + 7);
	free(uri);
}

/* What the database holds for a secret is a v1 blob: nothing that decodes
 * as base32, nothing that contains the secret, and the file does not
 * either; the key is a file of its own, 0600. */
static void test_secret_sealed_at_rest(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	char secret[TOTP_SECRET_B32_LEN + 1], stored[256], kp[320], *uri = NULL;
	unsigned char raw[TOTP_KEY_MAX];
	size_t raw_len;
	struct stat st;

	add_samira(f);
	current_secret(f, "samira", secret);
	assert_int_equal(strlen(secret), TOTP_SECRET_B32_LEN);
	sql_text(f, "SELECT totp_secret FROM staff WHERE username = 'samira'", stored, sizeof stored);
	assert_true(seal_is_sealed(stored));
	assert_int_equal(strlen(stored), SEAL_BLOB_LEN(TOTP_SECRET_B32_LEN));
	assert_null(strstr(stored, secret));
	assert_int_not_equal(totp_base32_decode(stored, raw, sizeof raw, &raw_len), 0);
	assert_int_not_equal(totp_base32_decode(stored + 3, raw, sizeof raw, &raw_len), 0);
	assert_false(file_contains(f->path, secret));
	key_path(f, kp, sizeof kp);
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SEAL_KEY_BYTES);
	/* A new secret is sealed too. */
	assert_int_equal(staff_totp_reset(f->st, "samira", "cli", &uri), 0);
	free(uri);
	current_secret(f, "samira", secret);
	sql_text(f, "SELECT totp_secret FROM staff WHERE username = 'samira'", stored, sizeof stored);
	assert_true(seal_is_sealed(stored));
	assert_null(strstr(stored, secret));
	assert_false(file_contains(f->path, secret));
	/* And it still logs in, also after a reopen with the key from the file. */
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, NULL, NULL), 0);
	reopen(f, &l);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0 + 30 * SEC, NULL, NULL), 0);
}

/* A database of an older brugd, with the secret in the clear: the first
 * open seals it, the code stays the same, and the old text is gone from
 * the file (secure_delete). */
static void test_migrate_plaintext(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	char stored[256], again[256], want[TOTP_DIGITS + 1], got[TOTP_DIGITS + 1], kp[320];

	add_samira(f);
	staff_close(f->st);
	f->st = NULL;
	/* As an older brugd left it: no key file, the secret in the clear. */
	key_path(f, kp, sizeof kp);
	assert_int_equal(unlink(kp), 0);
	sql_exec(f, "UPDATE staff SET totp_secret = '" SECRET "' WHERE username = 'samira'");
	assert_true(file_contains(f->path, SECRET));

	f->st = staff_open(f->path, &l);
	assert_non_null(f->st);
	assert_int_equal(access(kp, R_OK), 0);
	sql_text(f, "SELECT totp_secret FROM staff WHERE username = 'samira'", stored, sizeof stored);
	assert_true(seal_is_sealed(stored));
	assert_null(strstr(stored, SECRET));
	assert_false(file_contains(f->path, SECRET));
	/* The same second factor: the app enrolled before goes on working. */
	assert_int_equal(totp_code_now(SECRET, T0 / 1000, want), 0);
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000, got), 0);
	assert_string_equal(got, want);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, NULL, NULL), 0);
	/* Opening again changes nothing more. */
	reopen(f, &l);
	sql_text(f, "SELECT totp_secret FROM staff WHERE username = 'samira'", again, sizeof again);
	assert_string_equal(again, stored);
}

/* Sealed secrets and no key file: refuse, and make no new key (which would
 * open none of them); the restored key opens them again. */
static void test_key_missing_refused(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	char kp[320], saved[320], cmd[1400];

	add_samira(f);
	staff_close(f->st);
	f->st = NULL;
	key_path(f, kp, sizeof kp);
	snprintf(saved, sizeof saved, "%s/saved.key", f->dir);
	assert_int_equal(rename(kp, saved), 0);
	assert_null(staff_open(f->path, &l));
	assert_int_not_equal(access(kp, F_OK), 0);
	/* The CLI's open (no limits) refuses the same way. */
	assert_null(staff_open(f->path, NULL));
	assert_int_not_equal(access(kp, F_OK), 0);
	/* Restored from the backup (cp keeps no mode: set it). */
	snprintf(cmd, sizeof cmd, "cp %s %s && chmod 600 %s && rm %s", saved, kp, kp, saved);
	assert_int_equal(system(cmd), 0);
	f->st = staff_open(f->path, &l);
	assert_non_null(f->st);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, NULL, NULL), 0);
}

/* A key file others may read, of the wrong size, or not the key the
 * secrets were sealed with: refused. */
static void test_key_file_refused(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	unsigned char good[SEAL_KEY_BYTES], other[SEAL_KEY_BYTES];
	char kp[320];
	FILE *fp;

	add_samira(f);
	staff_close(f->st);
	f->st = NULL;
	key_path(f, kp, sizeof kp);
	fp = fopen(kp, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(good, 1, sizeof good, fp), sizeof good);
	fclose(fp);

	assert_int_equal(chmod(kp, 0644), 0);
	assert_null(staff_open(f->path, &l));
	assert_int_equal(chmod(kp, 0600), 0);

	assert_int_equal(truncate(kp, SEAL_KEY_BYTES - 1), 0);
	assert_null(staff_open(f->path, &l));

	/* Another key: opens none of the sealed secrets. */
	randombytes_buf(other, sizeof other);
	fp = fopen(kp, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(other, 1, sizeof other, fp), sizeof other);
	fclose(fp);
	assert_null(staff_open(f->path, &l));

	fp = fopen(kp, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(good, 1, sizeof good, fp), sizeof good);
	fclose(fp);
	f->st = staff_open(f->path, &l);
	assert_non_null(f->st);
	sodium_memzero(good, sizeof good);
}

/* One account's blob changed in the file: that account has no usable
 * second factor (and cannot log in), the others go on. A secret written
 * in the clear behind brugd's back while it runs is not trusted either. */
static void test_tampered_secret(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	struct staff_account b = samira();
	char stored[256], sql[512], code[TOTP_DIGITS + 1];

	add_samira(f);
	b.username = "bilal";
	assert_int_equal(staff_add(f->st, &b, PASSWORD, "cli", NULL), 0);
	staff_close(f->st);
	f->st = NULL;
	sql_text(f, "SELECT totp_secret FROM staff WHERE username = 'samira'", stored, sizeof stored);
	stored[10] = stored[10] == 'A' ? 'B' : 'A';
	snprintf(sql, sizeof sql, "UPDATE staff SET totp_secret = '%s' WHERE username = 'samira'", stored);
	sql_exec(f, sql);

	f->st = staff_open(f->path, &l);
	assert_non_null(f->st);
	assert_int_equal(staff_totp_code(f->st, "samira", T0 / 1000, code), BRUG_E_NOT_FOUND);
	assert_int_equal(login(f, "samira", PASSWORD, NULL, T0, NULL, NULL), BRUG_E_UNAUTHORIZED);
	assert_int_equal(staff_totp_code(f->st, "bilal", T0 / 1000, code), 0);

	sql_exec(f, "UPDATE staff SET totp_secret = '" SECRET "' WHERE username = 'bilal'");
	assert_int_equal(staff_totp_code(f->st, "bilal", T0 / 1000, code), BRUG_E_NOT_FOUND);
}

/* ---- pruning the audit trail ------------------------------------------- */

static void add_audit_row(struct fixture *f, int64_t ts, const char *action)
{
	char sql[256];

	snprintf(sql, sizeof sql, "INSERT INTO audit(ts, actor, action, target) VALUES(%lld, 'cli', '%s', 'x')",
		 (long long)ts, action);
	sql_exec(f, sql);
}

static int audit_rows(struct fixture *f, const char *action)
{
	char sql[128];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM audit WHERE action = '%s'", action);
	return sql_count(f, sql);
}

static void test_audit_prune(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	unsigned n = 99;

	add_samira(f); /* "create", stamped with the real time: newer than T0 */
	add_audit_row(f, T0 - 366 * STAFF_DAY_MS, "old");
	add_audit_row(f, T0 - 364 * STAFF_DAY_MS, "recent");
	assert_int_equal(staff_audit_prune(f->st, T0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(audit_rows(f, "old"), 0);
	assert_int_equal(audit_rows(f, "recent"), 1);
	assert_int_equal(audit_rows(f, "create"), 1);
	assert_int_equal(staff_audit_prune(f->st, T0, &n), 0);
	assert_int_equal(n, 0);

	/* A shorter retention from the config. */
	l.audit_retention_ms = 30 * STAFF_DAY_MS;
	reopen(f, &l);
	add_audit_row(f, T0 - 29 * STAFF_DAY_MS, "kept");
	assert_int_equal(staff_audit_prune(f->st, T0, NULL), 0);
	assert_int_equal(audit_rows(f, "recent"), 0);
	assert_int_equal(audit_rows(f, "kept"), 1);
	assert_int_equal(audit_rows(f, "create"), 1);
}

/* staff_audit_maintain: at the first call, then once a day; a busy
 * database fails at once and is tried again a minute later. */
static void test_audit_maintain_schedule(void **state)
{
	struct fixture *f = *state;
	struct staff_limits l = fast_limits();
	sqlite3 *other;

	store_set_wait_ms(0); /* as brugd opens it */
	reopen(f, &l);
	store_set_wait_ms(STORE_BUSY_TIMEOUT_MS);
	assert_int_equal(staff_audit_maintain(NULL, T0), 0);

	add_audit_row(f, T0 - 400 * STAFF_DAY_MS, "a");
	assert_int_equal(staff_audit_maintain(f->st, T0), 0);
	assert_int_equal(audit_rows(f, "a"), 0);
	/* Not again within the day. */
	add_audit_row(f, T0 - 400 * STAFF_DAY_MS, "b");
	assert_int_equal(staff_audit_maintain(f->st, T0 + STAFF_DAY_MS - 1), 0);
	assert_int_equal(audit_rows(f, "b"), 1);
	/* Due, but the database is locked by another process. */
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(staff_audit_maintain(f->st, T0 + STAFF_DAY_MS), BRUG_E_UNAVAILABLE);
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(audit_rows(f, "b"), 1);
	assert_int_equal(staff_audit_maintain(f->st, T0 + STAFF_DAY_MS + STAFF_AUDIT_RETRY_MS - 1), 0);
	assert_int_equal(audit_rows(f, "b"), 1);
	assert_int_equal(staff_audit_maintain(f->st, T0 + STAFF_DAY_MS + STAFF_AUDIT_RETRY_MS), 0);
	assert_int_equal(audit_rows(f, "b"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_file_mode_and_schema),
		T(test_store_refuses_newer_schema),
		T(test_add_validation),
		T(test_add_conflict_get_list),
		T(test_list),
		T(test_login_ok),
		T(test_login_same_answer),
		T(test_unknown_user_same_work),
		T(test_login_disabled),
		T(test_lockout_user_doubles),
		T(test_lockout_success_clears),
		T(test_lockout_window),
		T(test_lockout_unknown_user_and_case),
		T(test_lockout_addr),
		T(test_lockout_table_bounded),
		T(test_lockout_per_source),
		T(test_session_check_busy_database),
		T(test_totp_required_and_single_use),
		T(test_totp_failures_lock),
		T(test_reset_code),
		T(test_totp_reset),
		T(test_update),
		T(test_audit),
		T(test_token_not_stored),
		T(test_resume),
		T(test_idle_expiry),
		T(test_absolute_expiry),
		T(test_session_check_touch),
		T(test_logout),
		T(test_disable_kills_sessions),
		T(test_set_password),
		T(test_rehash_on_login),
		T(test_purge),
		T(test_secret_sealed_at_rest),
		T(test_migrate_plaintext),
		T(test_key_missing_refused),
		T(test_key_file_refused),
		T(test_tampered_secret),
		T(test_audit_prune),
		T(test_audit_maintain_schedule),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
