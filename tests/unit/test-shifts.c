/* Unit tests for the shift roster: recurrence, one-off shifts, exceptions,
 * closures, the DST change weekends of 2026 in Europe/Amsterdam, shifts
 * past midnight, coverage gaps, next opening, on shift now and iCalendar. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include <libical/ical.h>

#include "common.h"
#include "shifts.h"

#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

struct fixture {
	char dir[256];
	char path[300];
	struct roster *r;
	int64_t anna, bilal, carla;   /* staff ids */
};

/* UTC milliseconds of a civil UTC time (days from civil, no zone). */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
	int64_t yy = mo <= 2 ? y - 1 : y;
	int64_t era = yy / 400, yoe = yy - era * 400;
	int64_t mp = mo > 2 ? mo - 3 : mo + 9;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;

	return days * DAY_MS + h * HOUR_MS + mi * MIN_MS;
}

static int64_t add_staff(const char *path, const char *user)
{
	sqlite3 *db = NULL;
	char sql[256];
	int64_t id;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof sql,
		 "INSERT INTO staff(username, alias, password_hash, roles, langs, max_chats, created_at)"
		 " VALUES ('%s', '%s', 'x', 1, 'ti,nl', 2, 0)", user, user);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	id = sqlite3_last_insert_rowid(db);
	sqlite3_close(db);
	return id;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "%s/brug-test-shifts-XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/staff.db", f->dir);
	f->r = roster_open(f->path, "Europe/Amsterdam");
	assert_non_null(f->r);
	f->anna = add_staff(f->path, "anna");
	f->bilal = add_staff(f->path, "bilal");
	f->carla = add_staff(f->path, "carla");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[400];

	roster_close(f->r);
	snprintf(p, sizeof p, "%s/staff.db", f->dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/staff.db-journal", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A pattern: weekday (0 with date for one-off), "HH:MM" times, langs as
 * "ti,nl" and up to three staff ids (0 ends the list). */
static struct roster_pattern pat(int weekday, const char *date, const char *start, const char *end,
				 const char *langs, int64_t s1, int64_t s2, int64_t s3)
{
	struct roster_pattern p;
	const char *l = langs;

	memset(&p, 0, sizeof p);
	p.weekday = weekday;
	snprintf(p.date, sizeof p.date, "%s", date != NULL ? date : "");
	p.start_min = roster_parse_hhmm(start, 0);
	p.end_min = roster_parse_hhmm(end, 1);
	if (p.end_min <= p.start_min)
		p.end_min += ROSTER_DAY_MIN;
	while (*l != '\0') {
		size_t n = strcspn(l, ",");
		memcpy(p.langs[p.n_langs], l, n);
		p.langs[p.n_langs++][n] = '\0';
		l += n;
		if (*l == ',')
			l++;
	}
	if (s1 > 0)
		p.staff[p.n_staff++] = s1;
	if (s2 > 0)
		p.staff[p.n_staff++] = s2;
	if (s3 > 0)
		p.staff[p.n_staff++] = s3;
	return p;
}

static int64_t add(struct fixture *f, struct roster_pattern p)
{
	int64_t id = 0;

	assert_int_equal(roster_pattern_add(f->r, &p, &id, NULL), 0);
	assert_true(id > 0);
	return id;
}

static void test_dates(void **state)
{
	struct fixture *f = *state;
	char buf[ROSTER_DATE_LEN + 1], hm[6];
	int64_t ms;

	assert_true(roster_date_valid("2026-02-28"));
	assert_false(roster_date_valid("2026-02-29"));
	assert_true(roster_date_valid("2028-02-29"));
	assert_false(roster_date_valid("2026-13-01"));
	assert_false(roster_date_valid("2026-1-01"));
	assert_false(roster_date_valid(""));
	assert_int_equal(roster_parse_hhmm("19:30", 0), 19 * 60 + 30);
	assert_int_equal(roster_parse_hhmm("24:00", 0), -1);
	assert_int_equal(roster_parse_hhmm("24:00", 1), 1440);
	assert_int_equal(roster_parse_hhmm("12:60", 1), -1);
	assert_int_equal(roster_parse_hhmm("1:00", 1), -1);
	roster_format_hhmm(1440, hm);
	assert_string_equal(hm, "24:00");
	roster_format_hhmm(1440 + 120, hm);
	assert_string_equal(hm, "02:00");
	/* 23:30 UTC on 31 March is already 1 April in Amsterdam (CEST). */
	assert_int_equal(roster_local_date(f->r, utc(2026, 3, 31, 23, 30), buf), 0);
	assert_string_equal(buf, "2026-04-01");
	assert_int_equal(roster_local_ms(f->r, "2026-01-15", 9 * 60, &ms), 0);
	assert_int_equal(ms, utc(2026, 1, 15, 8, 0));
	assert_null(roster_open(f->path, "Mars/Olympus_Mons"));
}

static void test_checks(void **state)
{
	struct fixture *f = *state;
	struct roster_pattern p = pat(2, NULL, "19:00", "22:00", "ti", f->anna, 0, 0);
	struct roster_data d;
	const char *why = NULL;
	int64_t id;

	assert_int_equal(roster_pattern_check(&p, &why), 0);
	p.weekday = 8;
	assert_int_equal(roster_pattern_check(&p, &why), BRUG_E_BAD_FIELD);
	assert_non_null(why);
	p = pat(0, "2026-02-30", "19:00", "22:00", "ti", 0, 0, 0);
	assert_int_equal(roster_pattern_check(&p, NULL), BRUG_E_BAD_FIELD);
	p = pat(2, "2026-04-07", "19:00", "22:00", "ti", 0, 0, 0);
	assert_int_equal(roster_pattern_check(&p, NULL), BRUG_E_BAD_FIELD);
	p = pat(2, NULL, "19:00", "22:00", "ti,ti", 0, 0, 0);
	assert_int_equal(roster_pattern_check(&p, NULL), BRUG_E_BAD_FIELD);
	p = pat(2, NULL, "19:00", "22:00", "ti", f->anna, f->anna, 0);
	assert_int_equal(roster_pattern_check(&p, NULL), BRUG_E_BAD_FIELD);
	p = pat(2, NULL, "19:00", "22:00", "t i", 0, 0, 0);
	assert_int_equal(roster_pattern_check(&p, NULL), BRUG_E_BAD_FIELD);
	p = pat(2, NULL, "19:00", "22:00", "ti", 0, 0, 0);
	p.n_langs = 0;
	assert_int_equal(roster_pattern_check(&p, NULL), BRUG_E_BAD_FIELD);
	p = pat(2, NULL, "19:00", "22:00", "ti", 0, 0, 0);
	p.end_min = p.start_min + ROSTER_DAY_MIN + 1;
	assert_int_equal(roster_pattern_check(&p, NULL), BRUG_E_BAD_FIELD);
	snprintf(p.valid_from, sizeof p.valid_from, "2026-05-01");
	snprintf(p.valid_until, sizeof p.valid_until, "2026-04-01");
	p.end_min = p.start_min + 60;
	assert_int_equal(roster_pattern_check(&p, NULL), BRUG_E_BAD_FIELD);

	/* An unknown staff id: not found, and nothing is added. */
	p = pat(2, NULL, "19:00", "22:00", "ti", f->anna, 999, 0);
	assert_int_equal(roster_pattern_add(f->r, &p, &id, NULL), BRUG_E_NOT_FOUND);
	assert_int_equal(roster_list(f->r, &d), 0);
	assert_int_equal(d.n_patterns, 0);
	roster_data_fini(&d);
	/* Unknown ids elsewhere. */
	p = pat(2, NULL, "19:00", "22:00", "ti", 0, 0, 0);
	p.id = 42;
	assert_int_equal(roster_pattern_update(f->r, &p, NULL), BRUG_E_NOT_FOUND);
	assert_int_equal(roster_pattern_delete(f->r, 42), BRUG_E_NOT_FOUND);
	assert_int_equal(roster_exception_add(f->r, 42, "2026-04-07"), BRUG_E_NOT_FOUND);
	assert_int_equal(roster_closure_delete(f->r, 42), BRUG_E_NOT_FOUND);
	assert_int_equal(roster_closure_add(f->r, "2026-04-10", "2026-04-09", NULL, NULL), BRUG_E_BAD_FIELD);
	assert_int_equal(roster_closure_add(f->r, "2026-04-10", "2026-04-11", "bad\nnote", NULL),
			 BRUG_E_BAD_FIELD);
}

static void test_crud_list(void **state)
{
	struct fixture *f = *state;
	struct roster_data d;
	struct roster_pattern p;
	int64_t id, cid;

	id = add(f, pat(2, NULL, "22:00", "02:00", "ti,nl", f->bilal, f->anna, 0));
	assert_int_equal(roster_exception_add(f->r, id, "2026-04-07"), 0);
	assert_int_equal(roster_exception_add(f->r, id, "2026-04-07"), 0); /* again: fine */
	assert_int_equal(roster_exception_add(f->r, id, "2026-04-08"), BRUG_E_BAD_FIELD); /* a Wednesday */
	assert_int_equal(roster_closure_add(f->r, "2026-12-24", "2026-12-26", "Kerst", &cid), 0);

	assert_int_equal(roster_list(f->r, &d), 0);
	assert_int_equal(d.n_patterns, 1);
	assert_int_equal(d.patterns[0].id, id);
	assert_int_equal(d.patterns[0].weekday, 2);
	assert_int_equal(d.patterns[0].start_min, 22 * 60);
	assert_int_equal(d.patterns[0].end_min, 26 * 60);
	assert_int_equal(d.patterns[0].n_langs, 2);
	assert_string_equal(d.patterns[0].langs[0], "ti");
	assert_string_equal(d.patterns[0].langs[1], "nl");
	assert_int_equal(d.patterns[0].n_staff, 2);
	assert_string_equal(d.patterns[0].usernames[0], "anna");   /* by username */
	assert_int_equal(d.patterns[0].staff[0], f->anna);
	assert_string_equal(d.patterns[0].usernames[1], "bilal");
	assert_int_equal(d.n_exceptions, 1);
	assert_string_equal(d.exceptions[0].date, "2026-04-07");
	assert_int_equal(d.n_closures, 1);
	assert_int_equal(d.closures[0].id, cid);
	assert_string_equal(d.closures[0].note, "Kerst");
	roster_data_fini(&d);

	/* Update replaces the fields and staff; the exception stays. */
	p = pat(2, NULL, "18:00", "21:00", "ar", f->carla, 0, 0);
	p.id = id;
	assert_int_equal(roster_pattern_update(f->r, &p, NULL), 0);
	assert_int_equal(roster_pattern_get(f->r, id, &p), 0);
	assert_int_equal(p.start_min, 18 * 60);
	assert_string_equal(p.langs[0], "ar");
	assert_int_equal(p.n_staff, 1);
	assert_string_equal(p.usernames[0], "carla");
	roster_pattern_fini(&p);

	assert_int_equal(roster_exception_delete(f->r, id, "2026-04-07"), 0);
	assert_int_equal(roster_exception_delete(f->r, id, "2026-04-07"), BRUG_E_NOT_FOUND);
	assert_int_equal(roster_closure_delete(f->r, cid), 0);
	assert_int_equal(roster_exception_add(f->r, id, "2026-04-14"), 0);
	assert_int_equal(roster_pattern_delete(f->r, id), 0);
	assert_int_equal(roster_list(f->r, &d), 0);
	assert_int_equal(d.n_patterns + d.n_exceptions + d.n_closures, 0);
	roster_data_fini(&d);
}

static void test_weekly_oneoff_exception_closure(void **state)
{
	struct fixture *f = *state;
	struct roster_shifts s;
	int64_t weekly, once, from = utc(2026, 4, 6, 0, 0), to = utc(2026, 4, 27, 0, 0);
	struct roster_pattern p;

	weekly = add(f, pat(2, NULL, "19:00", "22:00", "ti", f->anna, 0, 0));
	once = add(f, pat(0, "2026-04-16", "10:00", "12:00", "nl", f->bilal, 0, 0));

	/* Three Tuesdays (CEST: 19:00 is 17:00 UTC) and the one-off. */
	assert_int_equal(roster_expand(f->r, from, to, 0, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.v[0].pattern_id, weekly);
	assert_string_equal(s.v[0].date, "2026-04-07");
	assert_int_equal(s.v[0].start_ms, utc(2026, 4, 7, 17, 0));
	assert_int_equal(s.v[0].end_ms, utc(2026, 4, 7, 20, 0));
	assert_int_equal(s.v[1].start_ms, utc(2026, 4, 14, 17, 0));
	assert_int_equal(s.v[2].pattern_id, once);
	assert_int_equal(s.v[2].start_ms, utc(2026, 4, 16, 8, 0));
	assert_int_equal(s.v[2].end_ms, utc(2026, 4, 16, 10, 0));
	assert_string_equal(s.v[2].langs[0], "nl");
	assert_int_equal(s.v[2].n_staff, 1);
	assert_int_equal(s.v[2].staff[0], f->bilal);
	assert_int_equal(s.v[3].start_ms, utc(2026, 4, 21, 17, 0));
	roster_shifts_fini(&s);

	/* Only anna's. */
	assert_int_equal(roster_expand(f->r, from, to, f->anna, &s), 0);
	assert_int_equal(s.n, 3);
	roster_shifts_fini(&s);

	/* An exception cancels one Tuesday. */
	assert_int_equal(roster_exception_add(f->r, weekly, "2026-04-14"), 0);
	assert_int_equal(roster_expand(f->r, from, to, 0, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.v[1].pattern_id, once);
	roster_shifts_fini(&s);

	/* A closure cancels everything starting in it. */
	assert_int_equal(roster_closure_add(f->r, "2026-04-15", "2026-04-21", "", NULL), 0);
	assert_int_equal(roster_expand(f->r, from, to, 0, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].date, "2026-04-07");
	roster_shifts_fini(&s);

	/* valid_from and valid_until bound the weekly pattern. */
	assert_int_equal(roster_pattern_get(f->r, weekly, &p), 0);
	snprintf(p.valid_from, sizeof p.valid_from, "2026-04-08");
	snprintf(p.valid_until, sizeof p.valid_until, "2026-04-28");
	assert_int_equal(roster_pattern_update(f->r, &p, NULL), 0);
	roster_pattern_fini(&p);
	assert_int_equal(roster_expand(f->r, from, utc(2026, 5, 10, 0, 0), 0, &s), 0);
	assert_int_equal(s.n, 1);  /* 7th before, 14th excepted, 21st closed, 28th in, May out */
	assert_string_equal(s.v[0].date, "2026-04-28");
	roster_shifts_fini(&s);

	assert_int_equal(roster_expand(f->r, to, from, 0, &s), BRUG_E_BAD_FIELD);
}

static void test_dst(void **state)
{
	struct fixture *f = *state;
	struct roster_shifts s;
	struct roster_coverage cov;
	const char *langs[] = { "ti" };

	add(f, pat(7, NULL, "01:00", "04:00", "ti", f->anna, 0, 0));
	add(f, pat(2, NULL, "19:00", "22:00", "nl", f->bilal, 0, 0));

	/* Summer time starts on 29 March 2026 at 02:00 (01:00 UTC). */
	assert_int_equal(roster_expand(f->r, utc(2026, 3, 21, 0, 0), utc(2026, 4, 2, 0, 0), 0, &s), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.v[0].date, "2026-03-22");
	assert_int_equal(s.v[0].start_ms, utc(2026, 3, 22, 0, 0));   /* 01:00 CET */
	assert_int_equal(s.v[0].end_ms, utc(2026, 3, 22, 3, 0));     /* 04:00 CET */
	assert_string_equal(s.v[1].date, "2026-03-24");
	assert_int_equal(s.v[1].start_ms, utc(2026, 3, 24, 18, 0));  /* 19:00 CET */
	assert_string_equal(s.v[2].date, "2026-03-29");
	assert_int_equal(s.v[2].start_ms, utc(2026, 3, 29, 0, 0));   /* 01:00 CET */
	assert_int_equal(s.v[2].end_ms, utc(2026, 3, 29, 2, 0));     /* 04:00 CEST: two hours */
	assert_string_equal(s.v[3].date, "2026-03-31");
	assert_int_equal(s.v[3].start_ms, utc(2026, 3, 31, 17, 0));  /* 19:00 CEST */
	roster_shifts_fini(&s);

	/* Summer time ends on 25 October 2026 at 03:00 (01:00 UTC). */
	assert_int_equal(roster_expand(f->r, utc(2026, 10, 17, 0, 0), utc(2026, 11, 2, 12, 0), 0, &s), 0);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.v[0].date, "2026-10-18");
	assert_int_equal(s.v[0].start_ms, utc(2026, 10, 17, 23, 0)); /* 01:00 CEST */
	assert_int_equal(s.v[0].end_ms, utc(2026, 10, 18, 2, 0));
	assert_int_equal(s.v[1].start_ms, utc(2026, 10, 20, 17, 0)); /* 19:00 CEST */
	assert_string_equal(s.v[2].date, "2026-10-25");
	assert_int_equal(s.v[2].start_ms, utc(2026, 10, 24, 23, 0)); /* 01:00 CEST */
	assert_int_equal(s.v[2].end_ms, utc(2026, 10, 25, 3, 0));    /* 04:00 CET: four hours */
	assert_int_equal(s.v[3].start_ms, utc(2026, 10, 27, 18, 0)); /* 19:00 CET */
	assert_string_equal(s.v[4].date, "2026-11-01");
	assert_int_equal(s.v[4].start_ms, utc(2026, 11, 1, 0, 0));   /* 01:00 CET */
	roster_shifts_fini(&s);

	/* Coverage: the skipped hour is -1, the doubled one counts. */
	assert_int_equal(roster_coverage(f->r, "2026-03-29", 1, langs, 1, &cov), 0);
	assert_int_equal(cov.counts[0], 0);
	assert_int_equal(cov.counts[1], 1);
	assert_int_equal(cov.counts[2], -1);
	assert_int_equal(cov.counts[3], 1);
	assert_int_equal(cov.counts[4], 0);
	roster_coverage_fini(&cov);
	assert_int_equal(roster_coverage(f->r, "2026-10-25", 1, langs, 1, &cov), 0);
	assert_int_equal(cov.counts[1], 1);
	assert_int_equal(cov.counts[2], 1);
	assert_int_equal(cov.counts[3], 1);
	assert_int_equal(cov.counts[4], 0);
	roster_coverage_fini(&cov);
}

static void test_past_midnight(void **state)
{
	struct fixture *f = *state;
	struct roster_shifts s;
	struct roster_on_shift *on;
	struct roster_coverage cov;
	const char *langs[] = { "ar" };
	size_t n;

	/* Friday 22:00 to Saturday 02:00. */
	add(f, pat(5, NULL, "22:00", "02:00", "ar", f->carla, 0, 0));
	/* Looking only at Saturday still finds Friday's shift. */
	assert_int_equal(roster_expand(f->r, utc(2026, 4, 10, 23, 0), utc(2026, 4, 11, 22, 0), 0, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].date, "2026-04-10");
	assert_int_equal(s.v[0].start_ms, utc(2026, 4, 10, 20, 0));
	assert_int_equal(s.v[0].end_ms, utc(2026, 4, 11, 0, 0));
	roster_shifts_fini(&s);

	/* Saturday 01:00 local: carla is on shift until 02:00 local. */
	assert_int_equal(roster_on_shift(f->r, utc(2026, 4, 10, 23, 0), &on, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(on[0].staff_id, f->carla);
	assert_int_equal(on[0].end_ms, utc(2026, 4, 11, 0, 0));
	free(on);

	/* The coverage of the Saturday shows hours 0 and 1. */
	assert_int_equal(roster_coverage(f->r, "2026-04-10", 2, langs, 1, &cov), 0);
	assert_int_equal(cov.counts[21], 0);
	assert_int_equal(cov.counts[22], 1);
	assert_int_equal(cov.counts[23], 1);
	assert_int_equal(cov.counts[24 + 0], 1);
	assert_int_equal(cov.counts[24 + 1], 1);
	assert_int_equal(cov.counts[24 + 2], 0);
	roster_coverage_fini(&cov);
}

static void test_coverage_gaps(void **state)
{
	struct fixture *f = *state;
	struct roster_coverage cov;
	struct roster_gap *g;
	const char *langs[] = { "nl", "ti" };
	size_t n;

	/* Tuesday 7 April: Dutch 19-22 by two, Tigrinya by nobody. */
	add(f, pat(2, NULL, "19:00", "22:00", "nl", f->anna, f->bilal, 0));
	add(f, pat(2, NULL, "20:00", "21:00", "nl", f->anna, 0, 0)); /* anna counts once */
	add(f, pat(2, NULL, "19:00", "22:00", "ti", 0, 0, 0));       /* no staff: a gap */
	assert_int_equal(roster_coverage(f->r, "2026-04-06", 14, langs, 2, &cov), 0);
	assert_int_equal(cov.days, 14);
	assert_string_equal(cov.from, "2026-04-06");
	assert_string_equal(cov.langs[1], "ti");
	/* counts[((l * days) + d) * 24 + h]; the Tuesday is day 1. */
	assert_int_equal(cov.counts[(0 * 14 + 1) * 24 + 18], 0);
	assert_int_equal(cov.counts[(0 * 14 + 1) * 24 + 19], 2);
	assert_int_equal(cov.counts[(0 * 14 + 1) * 24 + 20], 2);
	assert_int_equal(cov.counts[(0 * 14 + 1) * 24 + 22], 0);
	assert_int_equal(cov.counts[(1 * 14 + 1) * 24 + 19], 0);
	assert_int_equal(roster_gaps(&cov, 1, &g, &n), 0);
	assert_int_equal(n, 14);   /* every day whole */
	assert_string_equal(g[1].date, "2026-04-07");
	assert_int_equal(g[1].from_min, 0);
	assert_int_equal(g[1].to_min, 1440);
	free(g);
	assert_int_equal(roster_gaps(&cov, 0, &g, &n), 0);
	assert_int_equal(n, 16);   /* both Tuesdays split in two */
	assert_string_equal(g[1].date, "2026-04-07");
	assert_int_equal(g[1].from_min, 0);
	assert_int_equal(g[1].to_min, 19 * 60);
	assert_string_equal(g[2].date, "2026-04-07");
	assert_int_equal(g[2].from_min, 22 * 60);
	assert_int_equal(g[2].to_min, 1440);
	free(g);
	roster_coverage_fini(&cov);

	/* Somebody for Tigrinya on Tuesday evening: no gap there any more. */
	add(f, pat(2, NULL, "19:00", "22:00", "ti", f->carla, 0, 0));
	assert_int_equal(roster_coverage(f->r, "2026-04-06", 14, langs, 2, &cov), 0);
	assert_int_equal(cov.counts[(1 * 14 + 1) * 24 + 19], 1);
	assert_int_equal(cov.counts[(1 * 14 + 1) * 24 + 21], 1);
	assert_int_equal(roster_gaps(&cov, 1, &g, &n), 0);
	assert_int_equal(n, 16);
	assert_int_equal(g[1].to_min, 19 * 60);
	assert_int_equal(g[2].from_min, 22 * 60);
	free(g);
	roster_coverage_fini(&cov);

	assert_int_equal(roster_coverage(f->r, "2026-04-06", 0, langs, 2, &cov), BRUG_E_BAD_FIELD);
	assert_int_equal(roster_coverage(f->r, "2026-4-6", 14, langs, 2, &cov), BRUG_E_BAD_FIELD);
}

static void test_next_open(void **state)
{
	struct fixture *f = *state;
	int64_t at = 0, weekly, monday_noon = utc(2026, 4, 6, 10, 0);

	/* Nothing rostered: none. */
	assert_int_equal(roster_next_open(f->r, "ti", monday_noon, &at), BRUG_E_NOT_FOUND);
	/* A shift without staff does not open anything. */
	add(f, pat(1, NULL, "20:00", "23:00", "ti", 0, 0, 0));
	assert_int_equal(roster_next_open(f->r, "ti", monday_noon, &at), BRUG_E_NOT_FOUND);

	weekly = add(f, pat(2, NULL, "19:00", "22:00", "ti,nl", f->anna, 0, 0));
	assert_int_equal(roster_next_open(f->r, "ti", monday_noon, &at), 0);
	assert_int_equal(at, utc(2026, 4, 7, 17, 0));
	assert_int_equal(roster_next_open(f->r, "ar", monday_noon, &at), BRUG_E_NOT_FOUND);
	/* While the shift runs: now. */
	assert_int_equal(roster_next_open(f->r, "nl", utc(2026, 4, 7, 18, 0), &at), 0);
	assert_int_equal(at, utc(2026, 4, 7, 18, 0));
	/* Just after it: next week. */
	assert_int_equal(roster_next_open(f->r, "nl", utc(2026, 4, 7, 20, 0), &at), 0);
	assert_int_equal(at, utc(2026, 4, 14, 17, 0));

	/* Skipping an exception, then a closure. */
	assert_int_equal(roster_exception_add(f->r, weekly, "2026-04-07"), 0);
	assert_int_equal(roster_next_open(f->r, "ti", monday_noon, &at), 0);
	assert_int_equal(at, utc(2026, 4, 14, 17, 0));
	assert_int_equal(roster_closure_add(f->r, "2026-04-13", "2026-04-19", "Pasen", NULL), 0);
	assert_int_equal(roster_next_open(f->r, "ti", monday_noon, &at), 0);
	assert_int_equal(at, utc(2026, 4, 21, 17, 0));

	/* Beyond the 60 days it looks: none. */
	assert_int_equal(roster_closure_add(f->r, "2026-04-20", "2026-07-01", "", NULL), 0);
	assert_int_equal(roster_next_open(f->r, "ti", monday_noon, &at), BRUG_E_NOT_FOUND);
}

static void test_on_shift(void **state)
{
	struct fixture *f = *state;
	struct roster_on_shift *on;
	size_t n;

	add(f, pat(2, NULL, "19:00", "22:00", "ti", f->anna, f->bilal, 0));
	add(f, pat(2, NULL, "22:00", "23:30", "nl", f->anna, 0, 0));   /* follows on */
	add(f, pat(2, NULL, "23:00", "23:45", "nl", f->carla, 0, 0));  /* not yet */

	assert_int_equal(roster_on_shift(f->r, utc(2026, 4, 7, 16, 59), &on, &n), 0);
	assert_int_equal(n, 0);
	assert_null(on);
	assert_int_equal(roster_on_shift(f->r, utc(2026, 4, 7, 19, 0), &on, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(on[0].staff_id, f->anna);
	assert_int_equal(on[0].start_ms, utc(2026, 4, 7, 17, 0));
	assert_int_equal(on[0].end_ms, utc(2026, 4, 7, 21, 30));  /* 23:30 local */
	assert_int_equal(on[1].staff_id, f->bilal);
	assert_int_equal(on[1].end_ms, utc(2026, 4, 7, 20, 0));
	free(on);
	/* The end is exclusive. */
	assert_int_equal(roster_on_shift(f->r, utc(2026, 4, 7, 20, 0), &on, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(on[0].staff_id, f->anna);
	free(on);
}

static int count_events(const char *text)
{
	icalcomponent *cal = icalparser_parse_string(text), *ev;
	int n = 0;

	assert_non_null(cal);
	assert_int_equal(icalcomponent_isa(cal), ICAL_VCALENDAR_COMPONENT);
	assert_non_null(icalcomponent_get_first_component(cal, ICAL_VTIMEZONE_COMPONENT));
	for (ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); ev != NULL;
	     ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT))
		n++;
	icalcomponent_free(cal);
	return n;
}

static void test_ical(void **state)
{
	struct fixture *f = *state;
	int64_t from = utc(2026, 4, 6, 0, 0), to = from + 28 * DAY_MS, weekly;
	icalcomponent *cal, *ev;
	struct icaltimetype t;
	char *text, *again;

	weekly = add(f, pat(2, NULL, "19:00", "22:00", "ti,nl", f->anna, 0, 0));
	add(f, pat(0, "2026-04-16", "10:00", "12:00", "ar", f->anna, f->bilal, 0));
	add(f, pat(3, NULL, "10:00", "12:00", "ar", f->bilal, 0, 0));
	assert_int_equal(roster_exception_add(f->r, weekly, "2026-04-21"), 0);

	text = roster_ical(f->r, f->anna, from, to);
	assert_non_null(text);
	assert_int_equal(count_events(text), 4);  /* 7, 14, 28 April and the 16th */
	assert_non_null(strstr(text, "BEGIN:VCALENDAR"));
	assert_non_null(strstr(text, "TZID:Europe/Amsterdam"));
	assert_non_null(strstr(text, "DTSTART;TZID=Europe/Amsterdam:20260407T190000"));
	assert_non_null(strstr(text, "Tigrinya"));
	assert_non_null(strstr(text, "Dutch"));
	assert_non_null(strstr(text, "Arabic"));
	{
		char uid[64];
		snprintf(uid, sizeof uid, "UID:shift-%lld-20260407@brug", (long long)weekly);
		assert_non_null(strstr(text, uid));
	}
	/* Stable: the same text again. */
	again = roster_ical(f->r, f->anna, from, to);
	assert_non_null(again);
	assert_string_equal(text, again);
	free(again);

	/* The first event starts at 19:00 local, with the zone. */
	cal = icalparser_parse_string(text);
	assert_non_null(cal);
	ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	assert_non_null(ev);
	t = icalcomponent_get_dtstart(ev);
	assert_int_equal(t.year, 2026);
	assert_int_equal(t.month, 4);
	assert_int_equal(t.day, 7);
	assert_int_equal(t.hour, 19);
	assert_non_null(icalproperty_get_first_parameter(
		icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY), ICAL_TZID_PARAMETER));
	icalcomponent_free(cal);
	free(text);

	/* Someone with no shifts gets an empty calendar. */
	text = roster_ical(f->r, f->carla, from, to);
	assert_non_null(text);
	assert_int_equal(count_events(text), 0);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crud_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_weekly_oneoff_exception_closure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_past_midnight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coverage_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_on_shift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ical, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
