/* Unit tests for daemon/members.c: heartbeats, restarts, expiry with a fake
 * clock, goodbyes, and the rendezvous owners. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common.h"
#include "members.h"

#define TIMEOUT 3500

static void test_heard_and_order(void **state)
{
	struct members *m = members_new("b2", 7, TIMEOUT);

	assert_non_null(m);
	assert_int_equal(members_count(m), 1);
	assert_string_equal(members_name(m, 0), "b2");
	assert_null(members_name(m, 1));
	assert_int_equal(members_heard(m, "b3", 1, 1, 1000), MEMBERS_JOINED);
	assert_int_equal(members_heard(m, "b1", 9, 5, 1000), MEMBERS_JOINED);
	assert_int_equal(members_count(m), 3);
	assert_string_equal(members_name(m, 0), "b1");
	assert_string_equal(members_name(m, 1), "b2");
	assert_string_equal(members_name(m, 2), "b3");
	assert_true(members_has(m, "b1"));
	assert_false(members_has(m, "b4"));
	assert_false(members_has(m, "B1"));
	/* Later heartbeats keep it; old and repeated ones are ignored. */
	assert_int_equal(members_heard(m, "b1", 9, 6, 2000), MEMBERS_SAME);
	assert_int_equal(members_heard(m, "b1", 9, 6, 2500), MEMBERS_STALE);
	assert_int_equal(members_heard(m, "b1", 9, 2, 2500), MEMBERS_STALE);
	/* A restart (new boot) is a join, even with a lower seq. */
	assert_int_equal(members_heard(m, "b1", 10, 1, 3000), MEMBERS_JOINED);
	assert_int_equal(members_count(m), 3);
	/* Someone else under our name, and bad names. */
	assert_int_equal(members_heard(m, "b2", 99, 1, 3000), MEMBERS_SELF);
	assert_int_equal(members_heard(m, "", 1, 1, 3000), BRUG_E_BAD_FIELD);
	assert_int_equal(members_heard(m, "B5", 1, 1, 3000), BRUG_E_BAD_FIELD);
	assert_int_equal(members_heard(m, "a.b", 1, 1, 3000), BRUG_E_BAD_FIELD);
	assert_int_equal(members_heard(m, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, 1, 3000), BRUG_E_BAD_FIELD);
	assert_int_equal(members_count(m), 3);
	members_free(m);
	members_free(NULL);
	assert_null(members_new("Bad", 1, TIMEOUT));
	assert_null(members_new("", 1, TIMEOUT));
}

struct gone_log {
	char names[4][40];
	unsigned n;
};

static void on_gone(void *ctx, const char *name)
{
	struct gone_log *g = ctx;

	snprintf(g->names[g->n++], sizeof g->names[0], "%s", name);
}

static void test_expiry(void **state)
{
	struct members *m = members_new("self", 1, TIMEOUT);
	struct gone_log g = { 0 };

	assert_int_equal(members_heard(m, "a", 1, 1, 1000), MEMBERS_JOINED);
	assert_int_equal(members_heard(m, "c", 1, 1, 2000), MEMBERS_JOINED);
	/* Just under the timeout: nobody goes. */
	assert_int_equal(members_expire(m, 1000 + TIMEOUT - 1, on_gone, &g), 0);
	assert_int_equal(members_count(m), 3);
	/* a times out; c is kept alive by a heartbeat. */
	assert_int_equal(members_heard(m, "c", 1, 2, 4000), MEMBERS_SAME);
	assert_int_equal(members_expire(m, 1000 + TIMEOUT, on_gone, &g), 1);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.names[0], "a");
	assert_false(members_has(m, "a"));
	assert_true(members_has(m, "c"));
	/* Self never expires; c goes once silent long enough. */
	assert_int_equal(members_expire(m, 4000 + TIMEOUT, NULL, NULL), 1);
	assert_int_equal(members_count(m), 1);
	assert_string_equal(members_name(m, 0), "self");
	/* A clock that went back does not drop anyone. */
	assert_int_equal(members_heard(m, "d", 1, 1, 10000), MEMBERS_JOINED);
	assert_int_equal(members_expire(m, 5000, NULL, NULL), 0);
	/* A node that comes back after expiry joins again. */
	assert_int_equal(members_heard(m, "a", 1, 9, 11000), MEMBERS_JOINED);
	members_free(m);
}

static void test_left(void **state)
{
	struct members *m = members_new("self", 1, TIMEOUT);

	assert_int_equal(members_heard(m, "a", 5, 1, 0), MEMBERS_JOINED);
	/* A goodbye of an older boot (a late message) does not drop the new one. */
	assert_false(members_left(m, "a", 4));
	assert_true(members_has(m, "a"));
	assert_true(members_left(m, "a", 5));
	assert_false(members_has(m, "a"));
	assert_false(members_left(m, "a", 5));
	assert_false(members_left(m, "self", 1));
	assert_false(members_left(m, "B!", 1));
	assert_int_equal(members_count(m), 1);
	members_free(m);
}

static void test_full(void **state)
{
	struct members *m = members_new("self", 1, TIMEOUT);
	char name[16];

	for (unsigned i = 1; i < MEMBERS_MAX; i++) {
		snprintf(name, sizeof name, "n%u", i);
		assert_int_equal(members_heard(m, name, 1, 1, 0), MEMBERS_JOINED);
	}
	assert_int_equal(members_count(m), MEMBERS_MAX);
	assert_int_equal(members_heard(m, "late", 1, 1, 0), MEMBERS_FULL);
	/* Known members still count as heard when the list is full. */
	assert_int_equal(members_heard(m, "n1", 1, 2, 0), MEMBERS_SAME);
	members_free(m);
}

static void test_owner(void **state)
{
	static const char *const langs[] = { "nl", "ar", "ti", "tr", "en", "fa", "so", "pl", "ro", "bg" };
	struct members *a = members_new("b1", 1, TIMEOUT), *b = members_new("b3", 1, TIMEOUT);
	unsigned owned[3] = { 0 };

	/* Alone, a node owns everything and has no backup. */
	assert_string_equal(members_owner(a, "nl", 0), "b1");
	assert_null(members_owner(a, "nl", 1));
	/* Two views of the same members agree, whoever holds them. */
	members_heard(a, "b2", 1, 1, 0);
	members_heard(a, "b3", 1, 1, 0);
	members_heard(b, "b2", 4, 1, 0);
	members_heard(b, "b1", 8, 1, 0);
	for (unsigned i = 0; i < sizeof langs / sizeof langs[0]; i++) {
		const char *o = members_owner(a, langs[i], 0), *k = members_owner(a, langs[i], 1);
		assert_non_null(o);
		assert_non_null(k);
		assert_string_not_equal(o, k);
		assert_string_equal(o, members_owner(b, langs[i], 0));
		assert_string_equal(k, members_owner(b, langs[i], 1));
		assert_non_null(members_owner(a, langs[i], 2));
		assert_null(members_owner(a, langs[i], 3));
		owned[o[1] - '1']++;
	}
	/* Ten languages are spread, not all on one node. */
	assert_true(owned[0] < 10 && owned[1] < 10 && owned[2] < 10);
	/* When a node leaves, only its languages move, each to its backup. */
	for (unsigned i = 0; i < sizeof langs / sizeof langs[0]; i++) {
		char owner[40], backup[40];
		snprintf(owner, sizeof owner, "%s", members_owner(a, langs[i], 0));
		snprintf(backup, sizeof backup, "%s", members_owner(a, langs[i], 1));
		struct members *c = members_new("b1", 1, TIMEOUT);
		members_heard(c, "b2", 1, 1, 0);
		members_heard(c, "b3", 1, 1, 0);
		members_expire(c, 0, NULL, NULL);
		assert_true(strcmp(owner, "b1") == 0 || members_left(c, owner, 1));
		if (strcmp(owner, "b1") != 0)
			assert_string_equal(members_owner(c, langs[i], 0), backup);
		members_free(c);
	}
	assert_null(members_owner(a, NULL, 0));
	members_free(a);
	members_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heard_and_order),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_left),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_owner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
