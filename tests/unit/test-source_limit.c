/* Unit tests for daemon/source_limit.c: counts per key, the limit, and
 * entries that disappear (wiped) when their count is back to zero. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <string.h>

#include "common.h"
#include "source_limit.h"

static void test_counts_and_limit(void **state)
{
	struct source_limit *t = source_limit_new();
	struct source_entry *a = NULL, *a2 = NULL, *b = NULL, *tmp = NULL;

	assert_non_null(t);
	assert_int_equal(source_limit_take(t, "aaaa", 1, 3, &a), 0);
	assert_int_equal(source_limit_take(t, "aaaa", 2, 3, &a2), 0);
	assert_ptr_equal(a, a2);
	assert_int_equal(a->count, 3);
	assert_true(list_empty(&a->users));
	/* At the limit: refused, nothing changes. */
	assert_int_equal(source_limit_take(t, "aaaa", 1, 3, &tmp), BRUG_E_RATE_LIMITED);
	assert_null(tmp);
	assert_int_equal(a->count, 3);
	/* Another source is not affected; 0 means no limit. */
	assert_int_equal(source_limit_take(t, "bbbb", 1, 3, &b), 0);
	assert_int_equal(source_limit_take(t, "aaaa", 5, 0, &tmp), 0);
	assert_int_equal(a->count, 8);
	assert_int_equal(source_limit_size(t), 2);
	/* A first take larger than the limit is refused too. */
	assert_int_equal(source_limit_take(t, "cccc", 4, 3, &tmp), BRUG_E_RATE_LIMITED);
	assert_null(source_limit_find(t, "cccc"));
	assert_int_equal(source_limit_size(t), 2);
	source_limit_free(t);
}

static void test_bad_keys(void **state)
{
	struct source_limit *t = source_limit_new();
	struct source_entry *e = NULL;
	char long_key[SOURCE_KEY_MAX + 1];

	memset(long_key, 'x', sizeof long_key - 1);
	long_key[sizeof long_key - 1] = '\0';
	assert_int_equal(source_limit_take(t, NULL, 1, 0, &e), BRUG_E_BAD_FIELD);
	assert_int_equal(source_limit_take(t, "", 1, 0, &e), BRUG_E_BAD_FIELD);
	assert_int_equal(source_limit_take(t, long_key, 1, 0, &e), BRUG_E_BAD_FIELD);
	assert_null(e);
	assert_int_equal(source_limit_size(t), 0);
	source_limit_free(t);
}

static void test_zero_frees_entry(void **state)
{
	struct source_limit *t = source_limit_new();
	struct source_entry *e = NULL;

	assert_int_equal(source_limit_take(t, "k1", 2, 2, &e), 0);
	source_limit_put(t, e, 1);
	assert_ptr_equal(source_limit_find(t, "k1"), e);
	assert_int_equal(e->count, 1);
	source_limit_put(t, e, 5);      /* more than held: clamps to zero */
	assert_null(source_limit_find(t, "k1"));
	assert_int_equal(source_limit_size(t), 0);
	source_limit_put(t, NULL, 1);
	/* The key is free again, at full allowance. */
	assert_int_equal(source_limit_take(t, "k1", 2, 2, &e), 0);
	assert_int_equal(e->count, 2);
	source_limit_free(t);
}

static void test_many_sources(void **state)
{
	struct source_limit *t = source_limit_new();
	static struct source_entry *es[5000];
	char key[32];

	/* Enough keys to make the table grow several times. */
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "%08x", i * 2654435761u);
		assert_int_equal(source_limit_take(t, key, 1, 1, &es[i]), 0);
	}
	assert_int_equal(source_limit_size(t), 5000);
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "%08x", i * 2654435761u);
		assert_ptr_equal(source_limit_find(t, key), es[i]);
		assert_int_equal(source_limit_take(t, key, 1, 1, &es[i]), BRUG_E_RATE_LIMITED);
	}
	for (unsigned i = 0; i < 5000; i += 2)
		source_limit_put(t, es[i], 1);
	assert_int_equal(source_limit_size(t), 2500);
	for (unsigned i = 1; i < 5000; i += 2) {
		snprintf(key, sizeof key, "%08x", i * 2654435761u);
		assert_ptr_equal(source_limit_find(t, key), es[i]);
	}
	source_limit_free(t);   /* frees the rest */
	source_limit_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_limit),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_zero_frees_entry),
		cmocka_unit_test(test_many_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
