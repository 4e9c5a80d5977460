/* Unit tests for the anonymous statistics: buckets, the local day in
 * Europe/Amsterdam across midnight and DST, counting by upsert, several
 * tags, small-count suppression in JSON and CSV, and the table's shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <sqlite3.h>

#include "common.h"
#include "stats.h"
#include "store.h"

#define TZ "Europe/Amsterdam"

struct fixture {
	char dir[256];
	char path[300];
	struct stats *st;
};

/* Milliseconds since the epoch of a UTC date and time. */
static int64_t utc_ms(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return (int64_t)timegm(&tm) * 1000;
}

/* Noon in Amsterdam (winter or summer alike) on 15 January 2025 */
#define JAN15 utc_ms(2025, 1, 15, 11, 0, 0)
#define JAN16 utc_ms(2025, 1, 16, 11, 0, 0)

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "%s/brug-test-stats-XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/staff.db", f->dir);
	f->st = stats_open(f->path, TZ, 10);
	assert_non_null(f->st);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	stats_free(f->st);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The value of SQL that yields one integer, read over a second connection. */
static int64_t sql_int(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* A count in a report: the number, or -1 for the string "<T". */
static json_int_t shown(json_t *v, unsigned threshold)
{
	char expect[16];

	assert_non_null(v);
	if (json_is_integer(v))
		return json_integer_value(v);
	snprintf(expect, sizeof expect, "<%u", threshold);
	assert_true(json_is_string(v));
	assert_string_equal(json_string_value(v), expect);
	return -1;
}

static void record_n(struct fixture *f, int n, int64_t t, const char *lang, const char *topic,
		     enum stats_outcome o, int64_t wait_s, int64_t dur_s)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(stats_record(f->st, t, lang, topic, o, wait_s, dur_s), 0);
}

static void test_buckets(void **state)
{
	(void)state;
	assert_string_equal(stats_wait_bucket(-1), "-");
	assert_string_equal(stats_wait_bucket(0), "<1m");
	assert_string_equal(stats_wait_bucket(59), "<1m");
	assert_string_equal(stats_wait_bucket(60), "1-5m");
	assert_string_equal(stats_wait_bucket(299), "1-5m");
	assert_string_equal(stats_wait_bucket(300), "5-15m");
	assert_string_equal(stats_wait_bucket(899), "5-15m");
	assert_string_equal(stats_wait_bucket(900), "15-30m");
	assert_string_equal(stats_wait_bucket(1799), "15-30m");
	assert_string_equal(stats_wait_bucket(1800), "30m+");
	assert_string_equal(stats_wait_bucket(86400 * 3), "30m+");

	assert_string_equal(stats_duration_bucket(-1), "-");
	assert_string_equal(stats_duration_bucket(0), "<5m");
	assert_string_equal(stats_duration_bucket(299), "<5m");
	assert_string_equal(stats_duration_bucket(300), "5-15m");
	assert_string_equal(stats_duration_bucket(899), "5-15m");
	assert_string_equal(stats_duration_bucket(900), "15-30m");
	assert_string_equal(stats_duration_bucket(1799), "15-30m");
	assert_string_equal(stats_duration_bucket(1800), "30-60m");
	assert_string_equal(stats_duration_bucket(3599), "30-60m");
	assert_string_equal(stats_duration_bucket(3600), "60m+");

	assert_string_equal(stats_outcome_name(STATS_ANSWERED), "answered");
	assert_string_equal(stats_outcome_name(STATS_LEFT_QUEUE), "left_queue");
	assert_string_equal(stats_outcome_name(STATS_ARRIVED_CLOSED), "arrived_closed");
	assert_string_equal(stats_outcome_name(STATS_QUICK_EXIT), "quick_exit");
	assert_null(stats_outcome_name(STATS__OUTCOMES));
}

static void expect_day(struct fixture *f, int64_t ms, const char *day)
{
	char out[STATS_DAY_LEN];

	assert_int_equal(stats_day(f->st, ms, out), 0);
	assert_string_equal(out, day);
}

static void test_day_boundaries(void **state)
{
	struct fixture *f = *state;

	/* Winter (CET, UTC+1): local midnight is 23:00 UTC. */
	expect_day(f, utc_ms(2025, 1, 15, 22, 59, 59) + 999, "2025-01-15");
	expect_day(f, utc_ms(2025, 1, 15, 23, 0, 0), "2025-01-16");
	/* Summer (CEST, UTC+2): local midnight is 22:00 UTC. */
	expect_day(f, utc_ms(2025, 7, 1, 21, 59, 59), "2025-07-01");
	expect_day(f, utc_ms(2025, 7, 1, 22, 0, 0), "2025-07-02");
	/* 30 March 2025 has 23 hours: it starts at 23:00 UTC the day before
	 * (CET) and ends at 22:00 UTC (CEST). */
	expect_day(f, utc_ms(2025, 3, 29, 22, 59, 59), "2025-03-29");
	expect_day(f, utc_ms(2025, 3, 29, 23, 0, 0), "2025-03-30");
	expect_day(f, utc_ms(2025, 3, 30, 0, 59, 59), "2025-03-30"); /* 01:59 CET */
	expect_day(f, utc_ms(2025, 3, 30, 1, 0, 0), "2025-03-30");   /* 03:00 CEST */
	expect_day(f, utc_ms(2025, 3, 30, 21, 59, 59), "2025-03-30");
	expect_day(f, utc_ms(2025, 3, 30, 22, 0, 0), "2025-03-31");
	/* 26 October 2025 has 25 hours: from 22:00 UTC (CEST) the day before
	 * to 23:00 UTC (CET). */
	expect_day(f, utc_ms(2025, 10, 25, 21, 59, 59), "2025-10-25");
	expect_day(f, utc_ms(2025, 10, 25, 22, 0, 0), "2025-10-26");
	expect_day(f, utc_ms(2025, 10, 26, 22, 59, 59), "2025-10-26");
	expect_day(f, utc_ms(2025, 10, 26, 23, 0, 0), "2025-10-27");
	/* New Year in Amsterdam is still 31 December in UTC. */
	expect_day(f, utc_ms(2025, 12, 31, 23, 30, 0), "2026-01-01");

	/* A record just before and just after local midnight lands on two days. */
	assert_int_equal(stats_record(f->st, utc_ms(2025, 3, 30, 21, 59, 59), "nl", "",
				      STATS_ARRIVED_CLOSED, -1, -1), 0);
	assert_int_equal(stats_record(f->st, utc_ms(2025, 3, 30, 22, 0, 0), "nl", "",
				      STATS_ARRIVED_CLOSED, -1, -1), 0);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE day = '2025-03-30' AND topic = '*'"), 1);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE day = '2025-03-31' AND topic = '*'"), 1);
}

static void test_upsert_counts(void **state)
{
	struct fixture *f = *state;

	record_n(f, 3, JAN15, "nl", "", STATS_ANSWERED, 30, 600);
	record_n(f, 2, JAN15 + 3600 * 1000, "nl", "", STATS_ANSWERED, 59, 899);
	/* Five contacts, one row for the contacts and one for "untagged". */
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM stats"), 2);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE topic = '*'"
				 " AND day = '2025-01-15' AND lang = 'nl' AND outcome = 'answered'"
				 " AND wait_bucket = '<1m' AND duration_bucket = '5-15m'"), 5);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE topic = '-'"
				 " AND wait_bucket = '-' AND duration_bucket = '-'"), 5);

	/* Another bucket, outcome, language or day is another row. */
	record_n(f, 1, JAN15, "nl", "", STATS_ANSWERED, 60, 600);
	record_n(f, 1, JAN15, "nl", "", STATS_LEFT_QUEUE, 400, -1);
	record_n(f, 1, JAN15, "ar", "", STATS_ANSWERED, 30, 600);
	record_n(f, 1, JAN16, "nl", "", STATS_ANSWERED, 30, 600);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM stats WHERE topic = '*'"), 5);
	assert_int_equal(sql_int(f, "SELECT SUM(count) FROM stats WHERE topic = '*'"), 9);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE topic = '*' AND outcome = 'left_queue'"
				 " AND wait_bucket = '5-15m' AND duration_bucket = '-'"), 1);
}

static void test_several_tags(void **state)
{
	struct fixture *f = *state;
	const char *tags[] = { "forced_marriage", "housing", "forced_marriage", "" };
	const char *bad[] = { "housing", "not a tag" };
	const char *star[] = { "*" };

	assert_int_equal(stats_record_chat(f->st, JAN15, "ti", tags, 4, STATS_ANSWERED, 120, 1200), 0);
	/* One contact row with its buckets, one row per distinct tag. */
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM stats"), 3);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE topic = '*'"
				 " AND wait_bucket = '1-5m' AND duration_bucket = '15-30m'"), 1);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE topic = 'forced_marriage'"
				 " AND wait_bucket = '-' AND duration_bucket = '-'"), 1);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE topic = 'housing'"), 1);
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM stats WHERE topic = '-'"), 0);

	/* A bad tag or language changes nothing. */
	assert_int_equal(stats_record_chat(f->st, JAN15, "ti", bad, 2, STATS_ANSWERED, 1, 1),
			 BRUG_E_BAD_FIELD);
	assert_int_equal(stats_record_chat(f->st, JAN15, "ti", star, 1, STATS_ANSWERED, 1, 1),
			 BRUG_E_BAD_FIELD);
	assert_int_equal(stats_record(f->st, JAN15, "", NULL, STATS_ANSWERED, 1, 1), BRUG_E_BAD_FIELD);
	assert_int_equal(stats_record(f->st, JAN15, "nl'); DROP TABLE stats; --", NULL,
				      STATS_ANSWERED, 1, 1), BRUG_E_BAD_FIELD);
	assert_int_equal(stats_record(f->st, JAN15, "nl", NULL, STATS__OUTCOMES, 1, 1), BRUG_E_BAD_FIELD);
	assert_int_equal(sql_int(f, "SELECT SUM(count) FROM stats"), 3);

	/* No tags at all: the untagged topic. */
	assert_int_equal(stats_record_chat(f->st, JAN15, "ti", NULL, 0, STATS_QUICK_EXIT, 10, -1), 0);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE topic = '-' AND outcome = 'quick_exit'"), 1);

	/* The report counts the contact once and each tag once. */
	json_t *r;
	assert_int_equal(stats_report(f->st, "2025-01-15", "2025-01-15", &r), 0);
	assert_int_equal(json_array_size(json_object_get(r, "rows")), 3);
	assert_non_null(json_object_get(json_object_get(r, "by_topic"), "housing"));
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(json_object_get(r, "by_topic"), "housing"), "answered")), "<10");
	json_decref(r);
}

static void test_suppression(void **state)
{
	struct fixture *f = *state;
	json_t *r, *v;

	record_n(f, 9, JAN15, "nl", "housing", STATS_ANSWERED, 30, 600);
	record_n(f, 10, JAN15, "ar", "housing", STATS_ANSWERED, 90, 600);
	record_n(f, 3, JAN15, "ti", "", STATS_ARRIVED_CLOSED, -1, -1);
	record_n(f, 4, JAN15, "tr", "", STATS_ARRIVED_CLOSED, -1, -1);
	record_n(f, 4, JAN15, "tr", "", STATS_ARRIVED_CLOSED, -1, -1);

	assert_int_equal(stats_report(f->st, "2025-01-15", "2025-01-15", &r), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "threshold")), 10);
	assert_string_equal(json_string_value(json_object_get(r, "from")), "2025-01-15");
	assert_string_equal(json_string_value(json_object_get(r, "to")), "2025-01-15");

	/* 9 is hidden, 10 is shown. */
	v = json_object_get(r, "by_lang");
	assert_int_equal(shown(json_object_get(json_object_get(v, "nl"), "answered"), 10), -1);
	assert_int_equal(shown(json_object_get(json_object_get(v, "ar"), "answered"), 10), 10);
	/* A total is summed from the raw counters and then suppressed: 3 + 8
	 * closed arrivals are both hidden, their total 11 is shown; the
	 * answered total 19 is shown; an outcome with none is 0. */
	assert_int_equal(shown(json_object_get(json_object_get(v, "ti"), "arrived_closed"), 10), -1);
	assert_int_equal(shown(json_object_get(json_object_get(v, "tr"), "arrived_closed"), 10), -1);
	v = json_object_get(r, "by_outcome");
	assert_int_equal(shown(json_object_get(v, "answered"), 10), 19);
	assert_int_equal(shown(json_object_get(v, "arrived_closed"), 10), 11);
	assert_int_equal(shown(json_object_get(v, "left_queue"), 10), 0);
	assert_int_equal(shown(json_object_get(v, "quick_exit"), 10), 0);
	/* Per day × outcome. */
	v = json_array_get(json_object_get(r, "by_day"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "day")), "2025-01-15");
	assert_int_equal(shown(json_object_get(v, "answered"), 10), 19);
	assert_null(json_object_get(v, "left_queue"));
	/* Histograms list every bucket in order; the closed arrivals have no
	 * wait and are not in them. */
	v = json_object_get(r, "wait");
	assert_int_equal(json_array_size(v), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "bucket")), "<1m");
	assert_int_equal(shown(json_object_get(json_array_get(v, 0), "count"), 10), -1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "bucket")), "1-5m");
	assert_int_equal(shown(json_object_get(json_array_get(v, 1), "count"), 10), 10);
	assert_int_equal(shown(json_object_get(json_array_get(v, 4), "count"), 10), 0);
	v = json_object_get(r, "duration");
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "bucket")), "5-15m");
	assert_int_equal(shown(json_object_get(json_array_get(v, 1), "count"), 10), 19);
	/* Tag rows. */
	v = json_object_get(r, "rows");
	assert_int_equal(json_array_size(v), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "lang")), "ar");
	assert_int_equal(shown(json_object_get(json_array_get(v, 0), "count"), 10), 10);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "lang")), "nl");
	assert_int_equal(shown(json_object_get(json_array_get(v, 1), "count"), 10), -1);
	assert_int_equal(shown(json_object_get(json_object_get(json_object_get(r, "by_topic"), "-"),
					       "arrived_closed"), 10), 11);
	json_decref(r);

	/* Nothing outside the range. */
	assert_int_equal(stats_report(f->st, "2025-01-16", "2025-02-16", &r), 0);
	assert_int_equal(json_array_size(json_object_get(r, "rows")), 0);
	assert_int_equal(json_object_size(json_object_get(r, "by_lang")), 0);
	json_decref(r);

	/* The threshold is configurable: at 4, 3 is hidden and 4 is not. */
	stats_free(f->st);
	f->st = stats_open(f->path, TZ, 4);
	assert_non_null(f->st);
	assert_int_equal(stats_threshold(f->st), 4);
	assert_int_equal(stats_report(f->st, "2025-01-15", "2025-01-15", &r), 0);
	v = json_object_get(r, "by_lang");
	assert_int_equal(shown(json_object_get(json_object_get(v, "ti"), "arrived_closed"), 4), -1);
	assert_int_equal(shown(json_object_get(json_object_get(v, "tr"), "arrived_closed"), 4), 8);
	assert_int_equal(shown(json_object_get(json_object_get(v, "nl"), "answered"), 4), 9);
	json_decref(r);
	/* At 1 nothing is hidden. */
	stats_free(f->st);
	f->st = stats_open(f->path, TZ, 1);
	assert_non_null(f->st);
	assert_int_equal(stats_report(f->st, "2025-01-15", "2025-01-15", &r), 0);
	assert_int_equal(shown(json_object_get(json_object_get(json_object_get(r, "by_lang"), "ti"),
					       "arrived_closed"), 1), 3);
	json_decref(r);
}

static void test_csv(void **state)
{
	struct fixture *f = *state;
	const char *tags[] = { "housing", "forced_marriage" };
	char *csv;
	size_t len;

	record_n(f, 12, JAN15, "nl", "housing", STATS_ANSWERED, 30, 600);
	record_n(f, 2, JAN15, "nl", "", STATS_QUICK_EXIT, 30, -1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(stats_record_chat(f->st, JAN16, "ar", tags, 2, STATS_ANSWERED, 30, 60), 0);
	record_n(f, 1, JAN16, "ar", "", STATS_LEFT_QUEUE, 400, -1);
	/* Outside the range. */
	record_n(f, 50, utc_ms(2025, 1, 16, 23, 0, 0), "nl", "", STATS_ANSWERED, 30, 600);

	assert_int_equal(stats_csv(f->st, "2025-01-15", "2025-01-16", &csv, &len), 0);
	assert_string_equal(csv,
		"day,lang,topic,outcome,count\r\n"
		"2025-01-15,nl,-,quick_exit,<10\r\n"
		"2025-01-15,nl,housing,answered,12\r\n"
		"2025-01-16,ar,-,left_queue,<10\r\n"
		"2025-01-16,ar,forced_marriage,answered,10\r\n"
		"2025-01-16,ar,housing,answered,10\r\n");
	assert_int_equal(len, strlen(csv));
	free(csv);

	/* An empty range is the header alone. */
	assert_int_equal(stats_csv(f->st, "2024-01-01", "2024-12-31", &csv, &len), 0);
	assert_string_equal(csv, "day,lang,topic,outcome,count\r\n");
	free(csv);
}

static void test_ranges(void **state)
{
	struct fixture *f = *state;
	json_t *r = NULL;
	char *csv = NULL;
	size_t len;

	assert_int_equal(stats_report(f->st, "2025-01-16", "2025-01-15", &r), BRUG_E_BAD_FIELD);
	assert_null(r);
	assert_int_equal(stats_report(f->st, "2025-02-29", "2025-03-01", &r), BRUG_E_BAD_FIELD);
	assert_int_equal(stats_report(f->st, "2024-02-29", "2024-03-01", &r), 0);
	json_decref(r);
	assert_int_equal(stats_report(f->st, "2025-1-15", "2025-01-16", &r), BRUG_E_BAD_FIELD);
	assert_int_equal(stats_report(f->st, "2025-01-15T", "2025-01-16", &r), BRUG_E_BAD_FIELD);
	assert_int_equal(stats_report(f->st, "2025-13-01", "2025-13-02", &r), BRUG_E_BAD_FIELD);
	/* A year is the longest range: 366 days in a leap year. */
	assert_int_equal(stats_report(f->st, "2024-01-01", "2024-12-31", &r), 0);
	json_decref(r);
	assert_int_equal(stats_report(f->st, "2024-01-01", "2025-01-01", &r), BRUG_E_BAD_FIELD);
	assert_int_equal(stats_csv(f->st, "2025-01-16", "2025-01-15", &csv, &len), BRUG_E_BAD_FIELD);
	assert_null(csv);

	assert_true(stats_valid_day("2025-12-31"));
	assert_false(stats_valid_day("2025-04-31"));
	assert_false(stats_valid_day(""));
	assert_false(stats_valid_day(NULL));
}

static void test_open_refusals(void **state)
{
	struct fixture *f = *state;

	assert_null(stats_open(f->path, "Europe/Atlantis", 10));
	assert_null(stats_open(f->path, TZ, 0));
	assert_null(stats_open(f->path, TZ, 1001));
	assert_null(stats_open(NULL, TZ, 10));
	stats_free(NULL);
}

/* The table holds the aggregate columns and nothing else, keyed by them
 * (no rowid that would keep the order of insertion). */
static void test_table_shape(void **state)
{
	static const char *const want[] = {
		"day", "lang", "topic", "outcome", "wait_bucket", "duration_bucket", "count",
	};
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *q;
	unsigned n = 0;

	record_n(f, 1, JAN15, "nl", "housing", STATS_ANSWERED, 30, 600);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name, pk FROM pragma_table_info('stats') ORDER BY cid",
					    -1, &q, NULL), SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		assert_true(n < 7);
		assert_string_equal((const char *)sqlite3_column_text(q, 0), want[n]);
		assert_int_equal(sqlite3_column_int(q, 1) != 0, n < 6);
		n++;
	}
	sqlite3_finalize(q);
	assert_int_equal(n, 7);
	assert_int_not_equal(sqlite3_prepare_v2(db, "SELECT rowid FROM stats", -1, &q, NULL), SQLITE_OK);
	sqlite3_close(db);
	/* Every stored value is a short word or a day, never free text. */
	assert_int_equal(sql_int(f, "SELECT COUNT(*) FROM stats WHERE length(day) <> 10"
				 " OR length(lang) > 35 OR length(topic) > 35 OR typeof(count) <> 'integer'"), 0);
}

/* Issue 12: a locked database neither makes counting wait nor loses the
 * counts; they are written once the lock goes. */
static void test_busy_database_keeps_counts(void **state)
{
	struct fixture *f = *state;
	const char *tags[] = { "housing", "money" };
	sqlite3 *other;
	int64_t t = JAN15;

	stats_free(f->st);
	store_set_wait_ms(0);        /* as brugd opens it */
	f->st = stats_open(f->path, TZ, 10);
	store_set_wait_ms(STORE_BUSY_TIMEOUT_MS);
	assert_non_null(f->st);
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);

	assert_int_equal(stats_record_chat(f->st, t, "nl", tags, 2, STATS_ANSWERED, 30, 60), 0);
	assert_int_equal(stats_record_chat(f->st, t, "nl", tags, 1, STATS_ANSWERED, 31, 61), 0);
	assert_int_equal(stats_record(f->st, t, "ar", NULL, STATS_LEFT_QUEUE, 5, -1), 0);
	/* Equal rows merge: "*" nl, housing, money, "*" ar, "-" ar. */
	assert_int_equal(stats_pending(f->st), 5);
	/* Retried at most once a second while refused. */
	assert_int_equal(stats_flush(f->st, t + 500), BRUG_E_UNAVAILABLE);
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(stats_flush(f->st, t + 500), BRUG_E_UNAVAILABLE);
	assert_int_equal(stats_pending(f->st), 5);
	assert_int_equal(stats_flush(f->st, t + STATS_RETRY_MS), 0);
	assert_int_equal(stats_pending(f->st), 0);
	assert_int_equal(sql_int(f, "SELECT SUM(count) FROM stats WHERE topic = '*'"), 3);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE topic = 'housing'"), 2);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE topic = 'money'"), 1);
	/* Counting goes straight to the table again. */
	assert_int_equal(stats_record(f->st, t, "ar", NULL, STATS_LEFT_QUEUE, 5, -1), 0);
	assert_int_equal(stats_pending(f->st), 0);
	assert_int_equal(sql_int(f, "SELECT count FROM stats WHERE topic = '-' AND lang = 'ar'"), 2);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_buckets),
		T(test_day_boundaries),
		T(test_upsert_counts),
		T(test_several_tags),
		T(test_suppression),
		T(test_csv),
		T(test_ranges),
		T(test_open_refusals),
		T(test_table_shape),
		T(test_busy_database_keeps_counts),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
