/* Unit tests for util/ (lists, secure memory, tokens) and common.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sodium.h>

#include "common.h"
#include "util/list.h"
#include "util/secmem.h"
#include "util/token.h"
#include "util/worker.h"
#include <unistd.h>

struct item {
	struct list link;
	int v;
};

static void test_list_order_and_removal(void **state)
{
	struct list head, *it, *tmp;
	struct item a = { .v = 1 }, b = { .v = 2 }, c = { .v = 3 };
	int seen[3], n = 0;

	list_init(&head);
	assert_true(list_empty(&head));
	list_add_tail(&head, &b.link);
	list_add_head(&head, &a.link);
	list_add_after(&b.link, &c.link);
	list_for_each(it, &head)
		seen[n++] = list_entry(it, struct item, link)->v;
	assert_int_equal(n, 3);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 2);
	assert_int_equal(seen[2], 3);
	list_remove(&b.link);
	assert_false(list_linked(&b.link));
	list_remove(&b.link); /* removing twice is harmless */
	n = 0;
	list_for_each_safe(it, tmp, &head) {
		list_remove(it);
		n++;
	}
	assert_int_equal(n, 2);
	assert_true(list_empty(&head));
}

static void test_secmem(void **state)
{
	char buf[8] = "secret!";
	char *copy = secmem_strndup("abcdef", 3);

	secmem_wipe(buf, sizeof buf);
	for (size_t i = 0; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0);
	assert_string_equal(copy, "abc");
	secmem_free_str(copy);
	secmem_free_str(NULL);
	secmem_free(NULL, 10);
	copy = secmem_strdup("x");
	assert_string_equal(copy, "x");
	secmem_free_str(copy);
}

static void test_tokens(void **state)
{
	char a[TOKEN_STR_LEN], b[TOKEN_STR_LEN], ha[65], hb[65];

	assert_int_equal(token_new(a), 0);
	assert_int_equal(token_new(b), 0);
	/* 256 bits in base64url without padding: 43 characters of [A-Za-z0-9_-]. */
	assert_int_equal(strlen(a), TOKEN_STR_LEN - 1);
	assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), strlen(a));
	assert_string_not_equal(a, b);
	assert_true(token_equal(a, a));
	assert_false(token_equal(a, b));
	assert_false(token_equal(a, "short"));
	token_hash_hex(a, ha);
	token_hash_hex(b, hb);
	assert_int_equal(strlen(ha), 64);
	assert_string_not_equal(ha, hb);
	assert_null(strstr(ha, a));
	token_hash_hex(a, hb);
	assert_string_equal(ha, hb);
}

static void test_error_codes_and_roles(void **state)
{
	assert_string_equal(brug_error_code(BRUG_E_BAD_JSON), "bad_json");
	assert_string_equal(brug_error_code(BRUG_E_FORBIDDEN), "forbidden");
	assert_string_equal(brug_error_code(BRUG_E_INTERNAL), "internal");
	assert_string_equal(brug_error_code(BRUG_E_UNAVAILABLE), "unavailable");
	assert_string_equal(brug_error_code(BRUG_E_BUSY), "busy");
	assert_string_equal(brug_error_code(-12), "internal");
	assert_string_equal(brug_error_code(999), "internal");
	assert_int_equal(brug_role_parse("keyperson"), BRUG_ROLE_KEYPERSON);
	assert_int_equal(brug_role_parse("admin"), 0);
	assert_string_equal(brug_role_name(BRUG_ROLE_PROFESSIONAL), "professional");
	assert_null(brug_role_name(BRUG_ROLE_VOLUNTEER | BRUG_ROLE_KEYPERSON));
	assert_int_equal(brug_role_primary(BRUG_ROLE_VOLUNTEER | BRUG_ROLE_PROFESSIONAL), BRUG_ROLE_PROFESSIONAL);
	assert_int_equal(brug_role_primary(BRUG_ROLE_COORDINATOR | BRUG_ROLE_VOLUNTEER), BRUG_ROLE_VOLUNTEER);
}

struct wjob {
	int value, result;
	bool ran, done;
};

static volatile int wakeups;

static void wjob_run(void *arg)
{
	struct wjob *j = arg;

	j->result = j->value * 2;
	j->ran = true;
}

static void wjob_done(void *arg)
{
	((struct wjob *)arg)->done = true;
}

static void wjob_slow(void *arg)
{
	usleep(50000);
	wjob_run(arg);
}

static void count_wake(void *ctx)
{
	__atomic_add_fetch(&wakeups, 1, __ATOMIC_SEQ_CST);
}

static void test_worker(void **state)
{
	struct worker *w = worker_new(3, count_wake, NULL);
	struct wjob jobs[5] = { { .value = 1 }, { .value = 2 }, { .value = 3 }, { .value = 4 }, { .value = 5 } };
	unsigned drained = 0;

	assert_non_null(w);
	for (int i = 0; i < 3; i++)
		assert_int_equal(worker_submit(w, wjob_run, wjob_done, &jobs[i]), 0);
	/* The queue is bounded. */
	assert_int_equal(worker_submit(w, wjob_run, wjob_done, &jobs[3]), -1);
	for (int i = 0; i < 2000 && drained < 3; i++) {
		drained += worker_drain(w);
		usleep(1000);
	}
	assert_int_equal(drained, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(jobs[i].done);
		assert_int_equal(jobs[i].result, 2 * jobs[i].value);
	}
	assert_true(__atomic_load_n(&wakeups, __ATOMIC_SEQ_CST) >= 3);
	assert_int_equal(worker_pending(w), 0);
	/* Stopping hands every job back, run or not. */
	assert_int_equal(worker_submit(w, wjob_slow, wjob_done, &jobs[3]), 0);
	assert_int_equal(worker_submit(w, wjob_run, wjob_done, &jobs[4]), 0);
	worker_free(w);
	assert_true(jobs[3].done);
	assert_true(jobs[4].done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_order_and_removal),
		cmocka_unit_test(test_secmem),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_error_codes_and_roles),
		cmocka_unit_test(test_worker),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
