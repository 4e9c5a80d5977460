/* Unit tests for the chat transcript (daemon/chat.c): numbering, iteration
 * from a seq, the caps that drop the oldest messages, and wiping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "chat.h"

static void test_seq_and_copies(void **state)
{
	struct chat_log log;
	const struct chat_msg *m;
	char text[] = "hello";
	char alias[] = "Samira";

	(void)state;
	chat_log_init(&log);
	m = chat_log_append(&log, true, NULL, text, 5, 1000);
	assert_non_null(m);
	assert_int_equal(m->seq, 1);
	assert_true(m->from_visitor);
	assert_null(m->alias);
	m = chat_log_append(&log, false, alias, text, 3, 2000);
	assert_non_null(m);
	assert_int_equal(m->seq, 2);
	assert_int_equal(m->ts_ms, 2000);
	/* Copies, not borrowed pointers, and len bytes only. */
	text[0] = 'X';
	alias[0] = 'X';
	assert_string_equal(m->text, "hel");
	assert_int_equal(m->text_len, 3);
	assert_string_equal(m->alias, "Samira");
	assert_int_equal(log.count, 2);
	assert_int_equal(log.bytes, 5 + 3 + strlen("Samira"));
	assert_int_equal(log.next_seq, 3);
	chat_log_wipe(&log);
}

static void test_for_each_since(void **state)
{
	struct chat_log log;
	struct chat_msg *m;
	uint32_t seen[8];
	size_t n = 0;

	(void)state;
	chat_log_init(&log);
	for (int i = 0; i < 5; i++)
		assert_non_null(chat_log_append(&log, i % 2 == 0, NULL, "abc", 3, (uint64_t)i));
	chat_log_for_each_since(m, &log, 2) {
		assert_true(n < 8);
		seen[n++] = m->seq;
	}
	assert_int_equal(n, 3);
	assert_int_equal(seen[0], 3);
	assert_int_equal(seen[1], 4);
	assert_int_equal(seen[2], 5);

	n = 0;
	chat_log_for_each_since(m, &log, 5)
		n++;
	assert_int_equal(n, 0);
	n = 0;
	chat_log_for_each_since(m, &log, 0)
		n++;
	assert_int_equal(n, 5);
	chat_log_wipe(&log);
}

static void test_cap_messages(void **state)
{
	struct chat_log log;
	struct chat_msg *m;
	uint32_t first = 0;

	(void)state;
	chat_log_init(&log);
	for (int i = 0; i < CHAT_LOG_MAX_MSGS + 5; i++)
		assert_non_null(chat_log_append(&log, true, NULL, "x", 1, 0));
	assert_int_equal(log.count, CHAT_LOG_MAX_MSGS);
	assert_int_equal(log.bytes, CHAT_LOG_MAX_MSGS);
	chat_log_for_each_since(m, &log, 0) {
		first = m->seq;
		break;
	}
	/* The five oldest went; numbering goes on, so a resumed client sees
	 * the gap. */
	assert_int_equal(first, 6);
	assert_int_equal(log.next_seq, CHAT_LOG_MAX_MSGS + 6);
	chat_log_wipe(&log);
}

static void test_cap_bytes(void **state)
{
	struct chat_log log;
	struct chat_msg *m;
	size_t big = CHAT_LOG_MAX_BYTES / 3 + 1;
	char *text = malloc(CHAT_LOG_MAX_BYTES + 10);
	uint32_t first = 0;

	(void)state;
	assert_non_null(text);
	memset(text, 'a', CHAT_LOG_MAX_BYTES + 10);
	chat_log_init(&log);
	assert_non_null(chat_log_append(&log, true, NULL, text, big, 0));
	assert_non_null(chat_log_append(&log, false, "Al", text, big, 0));
	assert_int_equal(log.count, 2);
	/* The third pushes the sum over the cap: the oldest goes. */
	assert_non_null(chat_log_append(&log, true, NULL, text, big, 0));
	assert_int_equal(log.count, 2);
	assert_int_equal(log.bytes, 2 * big + 2);
	chat_log_for_each_since(m, &log, 0) {
		first = m->seq;
		break;
	}
	assert_int_equal(first, 2);

	/* One message over the cap on its own stays (it is the newest). */
	m = (struct chat_msg *)chat_log_append(&log, true, NULL, text, CHAT_LOG_MAX_BYTES + 10, 0);
	assert_non_null(m);
	assert_int_equal(log.count, 1);
	assert_int_equal(m->seq, 4);
	assert_int_equal(log.bytes, CHAT_LOG_MAX_BYTES + 10);
	chat_log_wipe(&log);
	free(text);
}

static void test_wipe_and_reuse(void **state)
{
	struct chat_log log;
	const struct chat_msg *m;

	(void)state;
	chat_log_init(&log);
	assert_non_null(chat_log_append(&log, true, NULL, "secret", 6, 0));
	assert_non_null(chat_log_append(&log, false, "Samira", "reply", 5, 0));
	chat_log_wipe(&log);
	assert_true(list_empty(&log.msgs));
	assert_int_equal(log.count, 0);
	assert_int_equal(log.bytes, 0);
	/* Wiping an empty log is fine, and the log can be used again. */
	chat_log_wipe(&log);
	m = chat_log_append(&log, true, NULL, "again", 5, 0);
	assert_non_null(m);
	assert_int_equal(m->seq, 1);
	chat_log_wipe(&log);
	chat_log_wipe(NULL);
}

static void test_empty_text(void **state)
{
	struct chat_log log;
	const struct chat_msg *m;

	(void)state;
	chat_log_init(&log);
	m = chat_log_append(&log, true, NULL, "", 0, 0);
	assert_non_null(m);
	assert_string_equal(m->text, "");
	assert_null(chat_log_append(&log, true, NULL, NULL, 3, 0));
	assert_int_equal(log.count, 1);
	chat_log_wipe(&log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_and_copies),
		cmocka_unit_test(test_for_each_since),
		cmocka_unit_test(test_cap_messages),
		cmocka_unit_test(test_cap_bytes),
		cmocka_unit_test(test_wipe_and_reuse),
		cmocka_unit_test(test_empty_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
