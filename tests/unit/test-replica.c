/* Unit tests for the replica store (daemon/replica.c): records per owner
 * and handle, transcripts keeping the owner's seq, ticket order, drops. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "replica.h"

static void hash_of(char out[65], int n)
{
	memset(out, 'a', 64);
	snprintf(out, 65, "%064d", n);
}

static void test_get_and_drop(void **state)
{
	struct replica_store *st = replica_store_new();
	struct replica *a, *b;

	assert_non_null(st);
	assert_null(replica_get(st, "b1", 1, false));
	a = replica_get(st, "b1", 1, true);
	assert_non_null(a);
	assert_string_equal(a->owner, "b1");
	assert_int_equal(a->lang, -1);
	/* The same handle of another node is another session. */
	b = replica_get(st, "b2", 1, true);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(replica_get(st, "b1", 1, true), a);
	assert_int_equal(replica_count(st), 2);
	/* Bad owner names are refused. */
	assert_null(replica_get(st, "", 2, true));
	assert_null(replica_get(st, "a-name-longer-than-thirty-two-characters", 2, true));
	hash_of(a->token_hash, 7);
	assert_string_equal(replica_find_hash(st, a->token_hash), "b1");
	assert_null(replica_find_hash(st, "short"));
	replica_drop(st, a);
	assert_null(replica_get(st, "b1", 1, false));
	assert_int_equal(replica_count(st), 1);
	replica_store_free(st);
}

/* Messages keep the owner's numbers; repeats are ignored; a reset
 * empties the log (a new chat, or the whole transcript again). */
static void test_transcript(void **state)
{
	struct replica_store *st = replica_store_new();
	struct replica *r = replica_get(st, "b1", 9, true);
	const struct chat_msg *m;
	uint32_t seqs[8];
	unsigned n = 0;

	assert_int_equal(replica_append(r, 4, true, NULL, "four", 4, 100), 0);
	assert_int_equal(replica_append(r, 5, false, "Anna", "five", 4, 200), 0);
	assert_int_equal(replica_append(r, 5, false, "Anna", "again", 5, 200), 0);   /* a repeat */
	assert_int_equal(replica_append(r, 3, true, NULL, "old", 3, 50), 0);        /* older */
	assert_int_equal(replica_append(r, 0, true, NULL, "zero", 4, 50), 0);       /* no seq */
	chat_log_for_each_since(m, &r->log, 0)
		seqs[n++] = m->seq;
	assert_int_equal(n, 2);
	assert_int_equal(seqs[0], 4);
	assert_int_equal(seqs[1], 5);
	assert_int_equal(r->log.next_seq, 6);
	m = list_entry(r->log.msgs.prev, struct chat_msg, link);
	assert_string_equal(m->alias, "Anna");
	assert_string_equal(m->text, "five");
	replica_reset_log(r);
	assert_int_equal(r->log.count, 0);
	assert_int_equal(replica_append(r, 1, true, NULL, "new chat", 8, 300), 0);
	assert_int_equal(r->log.count, 1);
	replica_store_free(st);   /* wipes and frees the transcript too */
}

/* A lost owner's sessions in ticket order, ties by arrival; many sessions
 * (the hash grows); dropping an owner leaves the others. */
static void test_owner_order(void **state)
{
	struct replica_store *st = replica_store_new();
	struct replica **list;
	size_t n;

	for (uint64_t i = 1; i <= 5000; i++) {
		struct replica *r = replica_get(st, i % 2 ? "b1" : "b2", i, true);
		assert_non_null(r);
		/* Tickets descending, with pairs equal. */
		r->enqueued_wall_ms = 1000000 - (i / 2) * 10;
	}
	assert_int_equal(replica_count(st), 5000);
	assert_int_equal(replica_list_owner(st, "b1", &list, &n), 0);
	assert_int_equal(n, 2500);
	for (size_t i = 1; i < n; i++) {
		assert_true(list[i - 1]->enqueued_wall_ms <= list[i]->enqueued_wall_ms);
		if (list[i - 1]->enqueued_wall_ms == list[i]->enqueued_wall_ms)
			assert_true(list[i - 1]->seen < list[i]->seen);
	}
	free(list);
	for (uint64_t i = 1; i <= 5000; i++)
		assert_non_null(replica_get(st, i % 2 ? "b1" : "b2", i, false));
	assert_int_equal(replica_drop_owner(st, "b1"), 2500);
	assert_int_equal(replica_count(st), 2500);
	assert_int_equal(replica_list_owner(st, "b1", &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);
	assert_non_null(replica_get(st, "b2", 2, false));
	replica_store_free(st);
	replica_store_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_and_drop),
		cmocka_unit_test(test_transcript),
		cmocka_unit_test(test_owner_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
