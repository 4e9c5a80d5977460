/* Unit tests for daemon/blocklist.c: blocks until their deadline on a fake
 * clock, the later deadline of a block made twice, bad keys, and the bound
 * on how many are kept. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <string.h>

#include "blocklist.h"
#include "common.h"
#include "source_limit.h"

static void test_blocks_until_deadline(void **state)
{
	struct blocklist *b = blocklist_new();

	assert_non_null(b);
	assert_false(blocklist_has(b, "aaaa", 0));
	assert_int_equal(blocklist_add(b, "aaaa", 1000), 0);
	assert_true(blocklist_has(b, "aaaa", 999));
	assert_false(blocklist_has(b, "bbbb", 999));
	assert_false(blocklist_has(b, "", 999));
	assert_false(blocklist_has(b, NULL, 999));
	/* Blocked again: the later end holds, an earlier one changes nothing. */
	assert_int_equal(blocklist_add(b, "aaaa", 2000), 0);
	assert_int_equal(blocklist_add(b, "aaaa", 1500), 0);
	assert_int_equal(blocklist_count(b), 1);
	assert_true(blocklist_has(b, "aaaa", 1999));
	/* At its end it is gone, and wiped from the count. */
	assert_false(blocklist_has(b, "aaaa", 2000));
	assert_int_equal(blocklist_count(b), 0);
	blocklist_free(b);
	blocklist_free(NULL);
}

static void test_bad_keys(void **state)
{
	struct blocklist *b = blocklist_new();
	char longkey[SOURCE_KEY_MAX + 1];

	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	assert_int_equal(blocklist_add(b, "", 10), BRUG_E_BAD_FIELD);
	assert_int_equal(blocklist_add(b, NULL, 10), BRUG_E_BAD_FIELD);
	assert_int_equal(blocklist_add(b, longkey, 10), BRUG_E_BAD_FIELD);
	assert_int_equal(blocklist_count(b), 0);
	blocklist_free(b);
}

static void test_bounded(void **state)
{
	struct blocklist *b = blocklist_new();
	char key[32];

	/* Key i ends at 1000 + i: when full, the one that ends first goes. */
	for (unsigned i = 0; i < BLOCKLIST_MAX; i++) {
		snprintf(key, sizeof key, "k%u", i);
		assert_int_equal(blocklist_add(b, key, 1000 + i), 0);
	}
	assert_int_equal(blocklist_count(b), BLOCKLIST_MAX);
	assert_int_equal(blocklist_add(b, "newest", 900000), 0);
	assert_int_equal(blocklist_count(b), BLOCKLIST_MAX);
	assert_false(blocklist_has(b, "k0", 0));
	assert_true(blocklist_has(b, "k1", 0));
	assert_true(blocklist_has(b, "newest", 0));
	blocklist_expire(b, 1000 + BLOCKLIST_MAX);
	assert_int_equal(blocklist_count(b), 1);
	blocklist_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks_until_deadline),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
