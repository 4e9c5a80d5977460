/* Anonymous statistics: counting contacts into the `stats` table of the
 * staff database (upserts, one day at a time) and reading them back as
 * JSON and CSV reports with small counts hidden. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>
#include "common.h"
#include "log.h"
#include "stats.h"
#include "store.h"

#define STATS_THRESHOLD_MAX 1000
#define TZ_MAX 128

/* One row's increment waiting to be written. The outcome and bucket names
 * point at the static tables. */
struct pending_row {
	char day[STATS_DAY_LEN];
	char lang[STATS_NAME_MAX + 1];
	char topic[STATS_NAME_MAX + 1];
	const char *outcome, *wait, *duration;
	unsigned count;
};

struct stats {
	sqlite3 *db;
	UCalendar *cal;         /* the helpline's zone, Gregorian */
	unsigned threshold;
	sqlite3_stmt *upsert;
	/* Counts not yet in the database: a busy or read-only database must
	 * not lose them, and the chat path never waits for it. */
	struct pending_row pending[STATS_PENDING_MAX];
	unsigned n_pending;
	bool failing;           /* the last write failed; retry at retry_ms */
	int64_t retry_ms;
	unsigned long dropped;  /* increments lost because pending was full */
};

static const char *const outcome_names[STATS__OUTCOMES] = {
	[STATS_ANSWERED] = "answered",
	[STATS_LEFT_QUEUE] = "left_queue",
	[STATS_ARRIVED_CLOSED] = "arrived_closed",
	[STATS_QUICK_EXIT] = "quick_exit",
};

/* Bucket tables: names in order, each with its exclusive upper bound in
 * seconds (the last one has none). */
struct bucket {
	const char *name;
	int64_t below;
};

static const struct bucket wait_buckets[] = {
	{ "<1m", 60 }, { "1-5m", 300 }, { "5-15m", 900 }, { "15-30m", 1800 }, { "30m+", INT64_MAX },
};
static const struct bucket duration_buckets[] = {
	{ "<5m", 300 }, { "5-15m", 900 }, { "15-30m", 1800 }, { "30-60m", 3600 }, { "60m+", INT64_MAX },
};
#define N_BUCKETS 5

static const char *bucket_of(const struct bucket *b, int64_t s)
{
	if (s < 0)
		return STATS_NA;
	for (unsigned i = 0; i < N_BUCKETS - 1; i++)
		if (s < b[i].below)
			return b[i].name;
	return b[N_BUCKETS - 1].name;
}

const char *stats_wait_bucket(int64_t wait_s)
{
	return bucket_of(wait_buckets, wait_s);
}

const char *stats_duration_bucket(int64_t duration_s)
{
	return bucket_of(duration_buckets, duration_s);
}

const char *stats_outcome_name(enum stats_outcome o)
{
	if ((unsigned)o >= STATS__OUTCOMES)
		return NULL;
	return outcome_names[o];
}

/* A language code or topic as the table may hold it: a short word, so that
 * nothing a visitor typed could ever land in a row. */
static bool is_name(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++) {
		char ch = s[n];
		if (n == STATS_NAME_MAX)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return n > 0;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Parse "YYYY-MM-DD" strictly; false if it is not a real date. */
static bool parse_day(const char *s, int *y, int *m, int *d)
{
	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	*y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	*m = (s[5] - '0') * 10 + (s[6] - '0');
	*d = (s[8] - '0') * 10 + (s[9] - '0');
	return *y >= 1970 && *m >= 1 && *m <= 12 && *d >= 1 && *d <= days_in_month(*y, *m);
}

int stats_valid_day(const char *day)
{
	int y, m, d;
	return parse_day(day, &y, &m, &d);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (civil calendar
 * arithmetic on March-based years). */
static int64_t day_number(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int check_range(const char *from, const char *to)
{
	int fy, fm, fd, ty, tm, td;
	int64_t span;

	if (!parse_day(from, &fy, &fm, &fd) || !parse_day(to, &ty, &tm, &td))
		return BRUG_E_BAD_FIELD;
	span = day_number(ty, tm, td) - day_number(fy, fm, fd);
	if (span < 0 || span >= STATS_RANGE_MAX_DAYS)
		return BRUG_E_BAD_FIELD;
	return 0;
}

struct stats *stats_open(const char *db_path, const char *tz, unsigned threshold)
{
	UChar zone[TZ_MAX], canonical[TZ_MAX];
	UErrorCode st = U_ZERO_ERROR;
	UBool system = 0;
	struct stats *s;

	if (db_path == NULL || tz == NULL || threshold < 1 || threshold > STATS_THRESHOLD_MAX)
		return NULL;
	u_strFromUTF8(zone, TZ_MAX, NULL, tz, -1, &st);
	if (U_SUCCESS(st))
		ucal_getCanonicalTimeZoneID(zone, -1, canonical, TZ_MAX, &system, &st);
	if (U_FAILURE(st) || !system) {
		log_err("stats: unknown time zone %s", tz);
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->threshold = threshold;
	s->cal = ucal_open(zone, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st)) {
		log_err("stats: calendar for %s: %s", tz, u_errorName(st));
		goto fail;
	}
	if (store_open(db_path, &s->db) != 0)
		goto fail;
	if (sqlite3_prepare_v2(s->db,
			"INSERT INTO stats(day, lang, topic, outcome, wait_bucket, duration_bucket, count)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
			" ON CONFLICT(day, lang, topic, outcome, wait_bucket, duration_bucket)"
			" DO UPDATE SET count = count + excluded.count", -1, &s->upsert, NULL) != SQLITE_OK) {
		log_err("stats: preparing the upsert: %s", sqlite3_errmsg(s->db));
		goto fail;
	}
	return s;

fail:
	stats_free(s);
	return NULL;
}

void stats_free(struct stats *s)
{
	if (s == NULL)
		return;
	/* A last try for counts still waiting. */
	if (s->upsert != NULL)
		stats_flush(s, INT64_MAX);
	sqlite3_finalize(s->upsert);
	store_close(s->db);
	if (s->cal != NULL)
		ucal_close(s->cal);
	free(s);
}

unsigned stats_threshold(const struct stats *s)
{
	return s->threshold;
}

int stats_day(struct stats *s, int64_t now_ms, char out[STATS_DAY_LEN])
{
	UErrorCode st = U_ZERO_ERROR;
	char buf[48];
	int y, m, d;

	ucal_setMillis(s->cal, (UDate)now_ms, &st);
	y = ucal_get(s->cal, UCAL_EXTENDED_YEAR, &st);
	m = ucal_get(s->cal, UCAL_MONTH, &st) + 1;
	d = ucal_get(s->cal, UCAL_DATE, &st);
	if (U_FAILURE(st) || y < 1970 || y > 9999) {
		log_err("stats: no local date for %lld", (long long)now_ms);
		return BRUG_E_INTERNAL;
	}
	/* Written through a roomy buffer: the compiler cannot see that
	 * month and day have two digits. */
	snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
	memcpy(out, buf, STATS_DAY_LEN - 1);
	out[STATS_DAY_LEN - 1] = '\0';
	return 0;
}

/* Add one pending row's count to the table. */
static int bump(struct stats *s, const struct pending_row *p)
{
	sqlite3_stmt *q = s->upsert;
	int rc;

	sqlite3_bind_text(q, 1, p->day, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, p->lang, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, p->topic, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, p->outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, p->wait, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, p->duration, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, p->count);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE)
		return store_error(s->db);
	return 0;
}

/* Add 1 to a pending row, merging with an equal one. */
static void pend(struct stats *s, const char *day, const char *lang, const char *topic,
		 const char *outcome, const char *wait, const char *duration)
{
	struct pending_row *p;

	for (unsigned i = 0; i < s->n_pending; i++) {
		p = &s->pending[i];
		if (p->outcome == outcome && p->wait == wait && p->duration == duration &&
		    strcmp(p->day, day) == 0 && strcmp(p->lang, lang) == 0 && strcmp(p->topic, topic) == 0) {
			p->count++;
			return;
		}
	}
	if (s->n_pending == STATS_PENDING_MAX) {
		if (s->dropped++ == 0)
			log_err("stats: too many counts waiting for the database; new ones are lost");
		return;
	}
	p = &s->pending[s->n_pending++];
	snprintf(p->day, sizeof p->day, "%s", day);
	snprintf(p->lang, sizeof p->lang, "%s", lang);
	snprintf(p->topic, sizeof p->topic, "%s", topic);
	p->outcome = outcome;
	p->wait = wait;
	p->duration = duration;
	p->count = 1;
}

int stats_flush(struct stats *s, int64_t now_ms)
{
	int rc;

	if (s == NULL || s->n_pending == 0)
		return 0;
	if (s->failing && now_ms < s->retry_ms)
		return BRUG_E_UNAVAILABLE;
	rc = store_begin(s->db);
	for (unsigned i = 0; i < s->n_pending && rc == 0; i++)
		rc = bump(s, &s->pending[i]);
	if (rc == 0)
		rc = store_commit(s->db);
	if (rc != 0) {
		store_rollback(s->db);
		if (!s->failing)
			log_warn("stats: database unavailable (%s); counts kept in memory and retried",
				 sqlite3_errmsg(s->db));
		s->failing = true;
		s->retry_ms = now_ms + STATS_RETRY_MS;
		return rc;
	}
	if (s->failing)
		log_notice("stats: database writable again; %u waiting counts written", s->n_pending);
	s->failing = false;
	s->n_pending = 0;
	s->dropped = 0;
	return 0;
}

unsigned stats_pending(const struct stats *s)
{
	return s != NULL ? s->n_pending : 0;
}

int stats_record_chat(struct stats *s, int64_t now_ms, const char *lang,
		      const char *const *tags, unsigned n_tags, enum stats_outcome outcome,
		      int64_t wait_s, int64_t duration_s)
{
	char day[STATS_DAY_LEN];
	const char *on = outcome_names[0];
	unsigned counted = 0;
	int rc;

	if (s == NULL || !is_name(lang) || stats_outcome_name(outcome) == NULL ||
	    (n_tags > 0 && tags == NULL))
		return BRUG_E_BAD_FIELD;
	for (unsigned i = 0; i < n_tags; i++)
		if (tags[i] != NULL && tags[i][0] != '\0' &&
		    (!is_name(tags[i]) || strcmp(tags[i], STATS_TOPIC_CHAT) == 0))
			return BRUG_E_BAD_FIELD;
	rc = stats_day(s, now_ms, day);
	if (rc != 0)
		return rc;

	on = outcome_names[outcome];
	pend(s, day, lang, STATS_TOPIC_CHAT, on, stats_wait_bucket(wait_s), stats_duration_bucket(duration_s));
	for (unsigned i = 0; i < n_tags; i++) {
		bool seen = false;
		if (tags[i] == NULL || tags[i][0] == '\0')
			continue;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = tags[j] != NULL && strcmp(tags[j], tags[i]) == 0;
		if (seen)
			continue;
		pend(s, day, lang, tags[i], on, STATS_NA, STATS_NA);
		counted++;
	}
	if (counted == 0)
		pend(s, day, lang, STATS_TOPIC_NONE, on, STATS_NA, STATS_NA);
	/* Written now if the database lets us at once; else kept. */
	stats_flush(s, now_ms);
	return 0;
}

int stats_record(struct stats *s, int64_t now_ms, const char *lang, const char *topic,
		 enum stats_outcome outcome, int64_t wait_s, int64_t duration_s)
{
	const char *tags[1] = { topic };

	return stats_record_chat(s, now_ms, lang, tags, topic != NULL && topic[0] != '\0' ? 1 : 0,
				 outcome, wait_s, duration_s);
}

/* ---- reports ---- */

/* A count as shown: the number, or "<T" when 0 < c < threshold. */
static json_t *count_json(const struct stats *s, int64_t c)
{
	char buf[16];

	if (c > 0 && c < (int64_t)s->threshold) {
		snprintf(buf, sizeof buf, "<%u", s->threshold);
		return json_string(buf);
	}
	return json_integer((json_int_t)c);
}

static void count_text(const struct stats *s, int64_t c, char *buf, size_t len)
{
	if (c > 0 && c < (int64_t)s->threshold)
		snprintf(buf, len, "<%u", s->threshold);
	else
		snprintf(buf, len, "%lld", (long long)c);
}

/* Run sql over the range ?1..?2 and call row() for each result row; the
 * last column is the summed count. */
static int query(struct stats *s, const char *sql, const char *from, const char *to,
		 int (*row)(struct stats *s, sqlite3_stmt *q, void *arg), void *arg)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		goto db_error;
	sqlite3_bind_text(q, 1, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, to, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		rc = row(s, q, arg);
		if (rc != 0) {
			sqlite3_finalize(q);
			return rc;
		}
	}
	if (rc != SQLITE_DONE)
		goto db_error;
	sqlite3_finalize(q);
	return 0;

db_error:
	log_err("stats: report: %s", sqlite3_errmsg(s->db));
	sqlite3_finalize(q);
	return BRUG_E_INTERNAL;
}

static const char *col(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	return t != NULL ? (const char *)t : "";
}

/* Order by the outcome enum, not alphabetically, so charts stack alike. */
#define OUTCOME_ORDER \
	"CASE outcome WHEN 'answered' THEN 0 WHEN 'left_queue' THEN 1" \
	" WHEN 'arrived_closed' THEN 2 WHEN 'quick_exit' THEN 3 ELSE 4 END"

static const char sql_rows[] =
	"SELECT day, lang, topic, outcome, SUM(count) FROM stats"
	" WHERE day BETWEEN ?1 AND ?2 AND topic <> '" STATS_TOPIC_CHAT "'"
	" GROUP BY day, lang, topic, outcome ORDER BY day, lang, topic, " OUTCOME_ORDER;

static int row_json(struct stats *s, sqlite3_stmt *q, void *arg)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:o}", "day", col(q, 0), "lang", col(q, 1),
			      "topic", col(q, 2), "outcome", col(q, 3),
			      "count", count_json(s, sqlite3_column_int64(q, 4)));
	return json_array_append_new(arg, r) == 0 ? 0 : BRUG_E_INTERNAL;
}

/* by_day: an array of objects, one per day, appended in day order. */
static int by_day_json(struct stats *s, sqlite3_stmt *q, void *arg)
{
	json_t *days = arg, *last = json_array_get(days, json_array_size(days) - 1);
	const char *day = col(q, 0);

	if (last == NULL || strcmp(json_string_value(json_object_get(last, "day")), day) != 0) {
		last = json_pack("{s:s}", "day", day);
		if (json_array_append_new(days, last) != 0)
			return BRUG_E_INTERNAL;
	}
	return json_object_set_new(last, col(q, 1), count_json(s, sqlite3_column_int64(q, 2))) == 0
		? 0 : BRUG_E_INTERNAL;
}

/* by_lang, by_topic: {KEY: {OUTCOME: count}}. */
static int nested_json(struct stats *s, sqlite3_stmt *q, void *arg)
{
	json_t *inner = json_object_get(arg, col(q, 0));

	if (inner == NULL) {
		inner = json_object();
		if (json_object_set_new(arg, col(q, 0), inner) != 0)
			return BRUG_E_INTERNAL;
	}
	return json_object_set_new(inner, col(q, 1), count_json(s, sqlite3_column_int64(q, 2))) == 0
		? 0 : BRUG_E_INTERNAL;
}

/* Raw sums keyed by name, for tables that list every key in a fixed order. */
struct sums {
	const char *const *names;
	unsigned n;
	int64_t counts[N_BUCKETS > STATS__OUTCOMES ? N_BUCKETS : STATS__OUTCOMES];
};

static int sums_row(struct stats *s, sqlite3_stmt *q, void *arg)
{
	struct sums *sm = arg;

	(void)s;
	for (unsigned i = 0; i < sm->n; i++)
		if (strcmp(col(q, 0), sm->names[i]) == 0)
			sm->counts[i] += sqlite3_column_int64(q, 1);
	return 0;
}

static json_t *histogram(struct stats *s, const struct bucket *b, const struct sums *sm)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < N_BUCKETS && a != NULL; i++)
		json_array_append_new(a, json_pack("{s:s, s:o}", "bucket", b[i].name,
						   "count", count_json(s, sm->counts[i])));
	return a;
}

int stats_report(struct stats *s, const char *from, const char *to, json_t **out)
{
	static const char *const wait_names[N_BUCKETS] = { "<1m", "1-5m", "5-15m", "15-30m", "30m+" };
	static const char *const duration_names[N_BUCKETS] = { "<5m", "5-15m", "15-30m", "30-60m", "60m+" };
	struct sums outcomes = { outcome_names, STATS__OUTCOMES, { 0 } };
	struct sums waits = { wait_names, N_BUCKETS, { 0 } };
	struct sums durations = { duration_names, N_BUCKETS, { 0 } };
	json_t *rows = NULL, *by_day = NULL, *by_lang = NULL, *by_topic = NULL, *by_outcome = NULL;
	int rc;

	*out = NULL;
	rc = check_range(from, to);
	if (rc != 0)
		return rc;
	rows = json_array();
	by_day = json_array();
	by_lang = json_object();
	by_topic = json_object();
	by_outcome = json_object();
	if (rows == NULL || by_day == NULL || by_lang == NULL || by_topic == NULL || by_outcome == NULL) {
		rc = BRUG_E_INTERNAL;
		goto fail;
	}
	rc = query(s, sql_rows, from, to, row_json, rows);
	if (rc == 0)
		rc = query(s, "SELECT day, outcome, SUM(count) FROM stats"
			   " WHERE day BETWEEN ?1 AND ?2 AND topic = '" STATS_TOPIC_CHAT "'"
			   " GROUP BY day, outcome ORDER BY day, " OUTCOME_ORDER,
			   from, to, by_day_json, by_day);
	if (rc == 0)
		rc = query(s, "SELECT lang, outcome, SUM(count) FROM stats"
			   " WHERE day BETWEEN ?1 AND ?2 AND topic = '" STATS_TOPIC_CHAT "'"
			   " GROUP BY lang, outcome ORDER BY lang, " OUTCOME_ORDER,
			   from, to, nested_json, by_lang);
	if (rc == 0)
		rc = query(s, "SELECT topic, outcome, SUM(count) FROM stats"
			   " WHERE day BETWEEN ?1 AND ?2 AND topic <> '" STATS_TOPIC_CHAT "'"
			   " GROUP BY topic, outcome ORDER BY topic, " OUTCOME_ORDER,
			   from, to, nested_json, by_topic);
	if (rc == 0)
		rc = query(s, "SELECT outcome, SUM(count) FROM stats"
			   " WHERE day BETWEEN ?1 AND ?2 AND topic = '" STATS_TOPIC_CHAT "'"
			   " GROUP BY outcome", from, to, sums_row, &outcomes);
	if (rc == 0)
		rc = query(s, "SELECT wait_bucket, SUM(count) FROM stats"
			   " WHERE day BETWEEN ?1 AND ?2 AND topic = '" STATS_TOPIC_CHAT "'"
			   " GROUP BY wait_bucket", from, to, sums_row, &waits);
	if (rc == 0)
		rc = query(s, "SELECT duration_bucket, SUM(count) FROM stats"
			   " WHERE day BETWEEN ?1 AND ?2 AND topic = '" STATS_TOPIC_CHAT "'"
			   " GROUP BY duration_bucket", from, to, sums_row, &durations);
	if (rc != 0)
		goto fail;
	for (unsigned i = 0; i < STATS__OUTCOMES; i++)
		json_object_set_new(by_outcome, outcome_names[i], count_json(s, outcomes.counts[i]));

	*out = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "threshold", (json_int_t)s->threshold, "from", from, "to", to,
			 "rows", rows, "by_day", by_day, "by_lang", by_lang,
			 "by_outcome", by_outcome, "by_topic", by_topic,
			 "wait", histogram(s, wait_buckets, &waits),
			 "duration", histogram(s, duration_buckets, &durations));
	return *out != NULL ? 0 : BRUG_E_INTERNAL;

fail:
	json_decref(rows);
	json_decref(by_day);
	json_decref(by_lang);
	json_decref(by_topic);
	json_decref(by_outcome);
	return rc;
}

/* ---- CSV ---- */

struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void text_put(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 1024;
		char *nb;
		while (t->len + n + 1 > cap)
			cap *= 2;
		nb = realloc(t->buf, cap);
		if (nb == NULL) {
			t->failed = true;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

/* One field, quoted when it holds a comma, quote or line break, with inner
 * quotes doubled (RFC 4180, 2.6 and 2.7). */
static void csv_field(struct text *t, const char *f, bool last)
{
	if (strpbrk(f, ",\"\r\n") == NULL) {
		text_put(t, f, strlen(f));
	} else {
		text_put(t, "\"", 1);
		for (const char *p = f; *p != '\0'; p++)
			text_put(t, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
		text_put(t, "\"", 1);
	}
	text_put(t, last ? "\r\n" : ",", last ? 2 : 1);
}

static int row_csv(struct stats *s, sqlite3_stmt *q, void *arg)
{
	char n[24];

	count_text(s, sqlite3_column_int64(q, 4), n, sizeof n);
	for (int i = 0; i < 4; i++)
		csv_field(arg, col(q, i), false);
	csv_field(arg, n, true);
	return 0;
}

int stats_csv(struct stats *s, const char *from, const char *to, char **out, size_t *len)
{
	struct text t = { 0 };
	int rc;

	*out = NULL;
	*len = 0;
	rc = check_range(from, to);
	if (rc != 0)
		return rc;
	text_put(&t, "day,lang,topic,outcome,count\r\n", 30);
	rc = query(s, sql_rows, from, to, row_csv, &t);
	if (rc == 0 && t.failed)
		rc = BRUG_E_INTERNAL;
	if (rc != 0) {
		free(t.buf);
		return rc;
	}
	*out = t.buf;
	*len = t.len;
	return 0;
}
