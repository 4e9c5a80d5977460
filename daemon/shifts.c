/* The shift roster: dates and times in the helpline's zone (ICU's calendar),
 * and its patterns, exceptions and closures in the staff database. Expansion
 * and coverage are in shifts_coverage.c, the iCalendar feed in shifts_ical.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unicode/ucal.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>
#include <libical/ical.h>
#include "common.h"
#include "log.h"
#include "shifts.h"
#include "shifts_private.h"
#include "store.h"
#define TZ_MAX 64

/* ---- civil dates ------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date: count whole years
 * in 400-year eras from a March-based year, so February is the last month
 * and its length never matters until the day itself. */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t yy = m <= 2 ? y - 1 : y;
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t mp = m > 2 ? m - 3 : m + 9;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* ISO weekday, 1 = Monday .. 7 = Sunday; 1970-01-01 was a Thursday. */
static int weekday_of(int64_t days)
{
	return (int)(((days % 7) + 7 + 3) % 7) + 1;
}

bool shifts_parse_date(const char *s, int64_t *days)
{
	int y, m, d, cy, cm, cd;

	if (s == NULL || strlen(s) != ROSTER_DATE_LEN)
		return false;
	for (int i = 0; i < ROSTER_DATE_LEN; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return false;
		} else if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	*days = days_from_civil(y, m, d);
	/* 2026-02-30 would come back as March the 2nd. */
	civil_from_days(*days, &cy, &cm, &cd);
	return cy == y && cm == m && cd == d;
}

void shifts_format_date(int64_t days, char out[ROSTER_DATE_LEN + 1])
{
	int y, m, d;

	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = 0;
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
}

int roster_date_valid(const char *s)
{
	int64_t days;

	return shifts_parse_date(s, &days);
}

int roster_parse_hhmm(const char *s, int allow_24)
{
	int h, m;

	if (s == NULL || strlen(s) != 5 || s[2] != ':')
		return -1;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59)
		return -1;
	if (h == 24 && m == 0 && allow_24)
		return ROSTER_DAY_MIN;
	if (h > 23)
		return -1;
	return h * 60 + m;
}

void roster_format_hhmm(int min, char out[6])
{
	unsigned h, m;

	if (min < 0)
		min = 0;
	if (min != ROSTER_DAY_MIN)
		min %= ROSTER_DAY_MIN;
	h = (unsigned)min / 60;
	m = (unsigned)min % 60;
	out[0] = (char)('0' + h / 10);
	out[1] = (char)('0' + h % 10);
	out[2] = ':';
	out[3] = (char)('0' + m / 10);
	out[4] = (char)('0' + m % 10);
	out[5] = '\0';
}

/* ---- the zone ---------------------------------------------------------- */

/* The UTC instant of minute min (may be negative or pass 1440) after local
 * midnight of the day `days`. A wall time that occurs twice (summer time
 * ends) is taken at its first occurrence and one that is skipped (summer
 * time starts) moves to the first valid time after it, so "01:00-04:00"
 * always covers every clock reading from 01:00 to 04:00. */
int shifts_local_ms(struct roster *r, int64_t days, int min, int64_t *out)
{
	UErrorCode st = U_ZERO_ERROR;
	int y, m, d;
	UDate t;

	days += min / ROSTER_DAY_MIN;
	min %= ROSTER_DAY_MIN;
	if (min < 0) {
		min += ROSTER_DAY_MIN;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	ucal_clear(r->cal);
	ucal_setDateTime(r->cal, y, m - 1, d, min / 60, min % 60, 0, &st);
	t = ucal_getMillis(r->cal, &st);
	if (U_FAILURE(st)) {
		log_err("shifts: local time: %s", u_errorName(st));
		return BRUG_E_INTERNAL;
	}
	*out = (int64_t)t;
	return 0;
}

/* The local day (days since 1970-01-01) and minute of at_ms. */
int shifts_local_day(struct roster *r, int64_t at_ms, int64_t *days, int *min)
{
	UErrorCode st = U_ZERO_ERROR;
	int y, m, d, h, mi;

	ucal_setMillis(r->cal, (UDate)at_ms, &st);
	y = ucal_get(r->cal, UCAL_EXTENDED_YEAR, &st);
	m = ucal_get(r->cal, UCAL_MONTH, &st) + 1;
	d = ucal_get(r->cal, UCAL_DATE, &st);
	h = ucal_get(r->cal, UCAL_HOUR_OF_DAY, &st);
	mi = ucal_get(r->cal, UCAL_MINUTE, &st);
	if (U_FAILURE(st)) {
		log_err("shifts: local date: %s", u_errorName(st));
		return BRUG_E_INTERNAL;
	}
	*days = days_from_civil(y, m, d);
	if (min != NULL)
		*min = h * 60 + mi;
	return 0;
}

int roster_local_date(struct roster *r, int64_t at_ms, char out[ROSTER_DATE_LEN + 1])
{
	int64_t days;
	int rc = shifts_local_day(r, at_ms, &days, NULL);

	if (rc == 0)
		shifts_format_date(days, out);
	return rc;
}

int roster_local_ms(struct roster *r, const char *date, int min, int64_t *out)
{
	int64_t days;

	if (!shifts_parse_date(date, &days))
		return BRUG_E_BAD_FIELD;
	return shifts_local_ms(r, days, min, out);
}

/* ---- open and close ---------------------------------------------------- */

struct roster *roster_open(const char *db_path, const char *tz)
{
	UChar utz[TZ_MAX], canonical[TZ_MAX];
	UErrorCode st = U_ZERO_ERROR;
	UBool system = false;
	struct roster *r;

	if (db_path == NULL)
		return NULL;
	if (tz == NULL)
		tz = "Europe/Amsterdam";
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->tz = strdup(tz);
	if (r->tz == NULL)
		goto fail;
	u_strFromUTF8(utz, TZ_MAX, NULL, tz, -1, &st);
	if (U_SUCCESS(st))
		ucal_getCanonicalTimeZoneID(utz, -1, canonical, TZ_MAX, &system, &st);
	if (U_FAILURE(st) || !system) {
		log_err("shifts: unknown time zone %s", tz);
		goto fail;
	}
	r->cal = ucal_open(utz, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st)) {
		log_err("shifts: calendar for %s: %s", tz, u_errorName(st));
		goto fail;
	}
	ucal_setAttribute(r->cal, UCAL_LENIENT, 1);
	ucal_setAttribute(r->cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
	ucal_setAttribute(r->cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
	if (store_open(db_path, &r->db) != 0)
		goto fail;
	return r;

fail:
	roster_close(r);
	return NULL;
}

void roster_close(struct roster *r)
{
	if (r == NULL)
		return;
	store_close(r->db);
	if (r->cal != NULL)
		ucal_close(r->cal);
	free(r->tz);
	free(r);
}

const char *roster_tz(const struct roster *r)
{
	return r->tz;
}

/* ---- checks ------------------------------------------------------------ */

bool shifts_lang_code_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ROSTER_LANG_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

#define REFUSE(text) do { if (why != NULL) *why = (text); return BRUG_E_BAD_FIELD; } while (0)

int roster_pattern_check(const struct roster_pattern *p, const char **why)
{
	int64_t from, until, day;

	if (p == NULL)
		REFUSE("no pattern");
	if (p->weekday < 0 || p->weekday > 7)
		REFUSE("weekday is 1 (Monday) to 7 (Sunday)");
	if (p->weekday == 0 && !shifts_parse_date(p->date, &day))
		REFUSE("a one-off shift needs a date YYYY-MM-DD");
	if (p->weekday != 0 && p->date[0] != '\0')
		REFUSE("a shift has a weekday or a date, not both");
	if (p->start_min < 0 || p->start_min >= ROSTER_DAY_MIN)
		REFUSE("start is 00:00 to 23:59");
	if (p->end_min <= p->start_min || p->end_min - p->start_min > ROSTER_DAY_MIN)
		REFUSE("end is after start and at most a day later");
	if (p->valid_from[0] != '\0' && !shifts_parse_date(p->valid_from, &from))
		REFUSE("valid_from is a date YYYY-MM-DD");
	if (p->valid_until[0] != '\0' && !shifts_parse_date(p->valid_until, &until))
		REFUSE("valid_until is a date YYYY-MM-DD");
	if (p->valid_from[0] != '\0' && p->valid_until[0] != '\0' && from > until)
		REFUSE("valid_from is after valid_until");
	if (p->n_langs < 1 || p->n_langs > ROSTER_LANGS_MAX)
		REFUSE("a shift covers 1 to 8 languages");
	for (size_t i = 0; i < p->n_langs; i++) {
		if (!shifts_lang_code_ok(p->langs[i]))
			REFUSE("a language is a code such as nl");
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->langs[i], p->langs[j]) == 0)
				REFUSE("a language is listed twice");
	}
	if (p->n_staff > ROSTER_STAFF_MAX)
		REFUSE("at most 64 staff on a shift");
	for (size_t i = 0; i < p->n_staff; i++) {
		if (p->staff[i] <= 0)
			REFUSE("a staff id is positive");
		for (size_t j = 0; j < i; j++)
			if (p->staff[i] == p->staff[j])
				REFUSE("a staff member is listed twice");
	}
	return 0;
}

/* Valid UTF-8 without C0/C1 control characters or DEL. */
static bool note_ok(const char *s)
{
	UErrorCode st = U_ZERO_ERROR;
	int32_t n = 0;

	if (strlen(s) > ROSTER_NOTE_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	u_strFromUTF8(NULL, 0, &n, s, -1, &st);
	if (st == U_BUFFER_OVERFLOW_ERROR)
		st = U_ZERO_ERROR;
	if (U_FAILURE(st))
		return false;
	/* Refuse the rest of C1 (U+0080..U+009F: C2 80..C2 9F). */
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return false;
	return true;
}

/* ---- the database ------------------------------------------------------ */

static int prepare(struct roster *r, const char *sql, sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(r->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		log_err("shifts: prepare: %s", sqlite3_errmsg(r->db));
		return BRUG_E_INTERNAL;
	}
	return 0;
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? (const char *)src : "");
}

static void split_langs(struct roster_pattern *p, const char *s)
{
	p->n_langs = 0;
	while (s != NULL && *s != '\0' && p->n_langs < ROSTER_LANGS_MAX) {
		size_t n = strcspn(s, ",");
		if (n > 0 && n <= ROSTER_LANG_LEN) {
			memcpy(p->langs[p->n_langs], s, n);
			p->langs[p->n_langs][n] = '\0';
			p->n_langs++;
		}
		s += n;
		if (*s == ',')
			s++;
	}
}

static void join_langs(const struct roster_pattern *p, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->n_langs; i++)
		len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s",
					i > 0 ? "," : "", p->langs[i]);
}

void roster_pattern_fini(struct roster_pattern *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < ROSTER_STAFF_MAX; i++) {
		free(p->usernames[i]);
		p->usernames[i] = NULL;
	}
}

void roster_data_fini(struct roster_data *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_patterns; i++)
		roster_pattern_fini(&d->patterns[i]);
	for (size_t i = 0; i < d->n_closures; i++)
		free(d->closures[i].note);
	free(d->patterns);
	free(d->exceptions);
	free(d->closures);
	memset(d, 0, sizeof *d);
}

static struct roster_pattern *find_pattern(struct roster_data *d, int64_t id)
{
	size_t lo = 0, hi = d->n_patterns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->patterns[mid].id == id)
			return &d->patterns[mid];
		if (d->patterns[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

#define PATTERN_COLS "id, weekday, date, start_min, end_min, langs, valid_from, valid_until"

static void read_pattern(sqlite3_stmt *stmt, struct roster_pattern *p)
{
	memset(p, 0, sizeof *p);
	p->id = sqlite3_column_int64(stmt, 0);
	p->weekday = sqlite3_column_int(stmt, 1);
	copy_text(p->date, sizeof p->date, sqlite3_column_text(stmt, 2));
	p->start_min = sqlite3_column_int(stmt, 3);
	p->end_min = sqlite3_column_int(stmt, 4);
	split_langs(p, (const char *)sqlite3_column_text(stmt, 5));
	copy_text(p->valid_from, sizeof p->valid_from, sqlite3_column_text(stmt, 6));
	copy_text(p->valid_until, sizeof p->valid_until, sqlite3_column_text(stmt, 7));
}

/* Load every table into *d. With enabled_only, disabled accounts are left
 * out of the patterns' staff: they cannot log in, so they cover nothing. */
int shifts_load(struct roster *r, struct roster_data *d, bool enabled_only)
{
	sqlite3_stmt *stmt = NULL;
	size_t cap = 0;
	int rc, step;

	memset(d, 0, sizeof *d);
	rc = prepare(r, "SELECT " PATTERN_COLS " FROM shift_patterns ORDER BY id", &stmt);
	if (rc != 0)
		return rc;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (d->n_patterns == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *nv = realloc(d->patterns, ncap * sizeof *d->patterns);
			if (nv == NULL)
				goto nomem;
			d->patterns = nv;
			cap = ncap;
		}
		read_pattern(stmt, &d->patterns[d->n_patterns++]);
	}
	if (step != SQLITE_DONE)
		goto db_error;
	sqlite3_finalize(stmt);

	rc = prepare(r, enabled_only
		     ? "SELECT ss.pattern_id, ss.staff_id, s.username FROM shift_staff ss"
		       " JOIN staff s ON s.id = ss.staff_id WHERE s.disabled = 0"
		       " ORDER BY ss.pattern_id, s.username"
		     : "SELECT ss.pattern_id, ss.staff_id, s.username FROM shift_staff ss"
		       " JOIN staff s ON s.id = ss.staff_id ORDER BY ss.pattern_id, s.username",
		     &stmt);
	if (rc != 0)
		goto fail;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct roster_pattern *p = find_pattern(d, sqlite3_column_int64(stmt, 0));
		const unsigned char *name = sqlite3_column_text(stmt, 2);
		if (p == NULL || p->n_staff >= ROSTER_STAFF_MAX)
			continue;
		p->usernames[p->n_staff] = strdup(name != NULL ? (const char *)name : "");
		if (p->usernames[p->n_staff] == NULL)
			goto nomem;
		p->staff[p->n_staff++] = sqlite3_column_int64(stmt, 1);
	}
	if (step != SQLITE_DONE)
		goto db_error;
	sqlite3_finalize(stmt);

	rc = prepare(r, "SELECT pattern_id, date FROM shift_exceptions ORDER BY pattern_id, date", &stmt);
	if (rc != 0)
		goto fail;
	cap = 0;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (d->n_exceptions == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *nv = realloc(d->exceptions, ncap * sizeof *d->exceptions);
			if (nv == NULL)
				goto nomem;
			d->exceptions = nv;
			cap = ncap;
		}
		d->exceptions[d->n_exceptions].pattern_id = sqlite3_column_int64(stmt, 0);
		copy_text(d->exceptions[d->n_exceptions].date, ROSTER_DATE_LEN + 1,
			  sqlite3_column_text(stmt, 1));
		d->n_exceptions++;
	}
	if (step != SQLITE_DONE)
		goto db_error;
	sqlite3_finalize(stmt);

	rc = prepare(r, "SELECT id, from_date, to_date, note FROM closures ORDER BY from_date, id", &stmt);
	if (rc != 0)
		goto fail;
	cap = 0;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct roster_closure *cl;
		const unsigned char *note = sqlite3_column_text(stmt, 3);
		if (d->n_closures == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			void *nv = realloc(d->closures, ncap * sizeof *d->closures);
			if (nv == NULL)
				goto nomem;
			d->closures = nv;
			cap = ncap;
		}
		cl = &d->closures[d->n_closures];
		memset(cl, 0, sizeof *cl);
		cl->id = sqlite3_column_int64(stmt, 0);
		copy_text(cl->from, sizeof cl->from, sqlite3_column_text(stmt, 1));
		copy_text(cl->to, sizeof cl->to, sqlite3_column_text(stmt, 2));
		cl->note = strdup(note != NULL ? (const char *)note : "");
		if (cl->note == NULL)
			goto nomem;
		d->n_closures++;
	}
	if (step != SQLITE_DONE)
		goto db_error;
	sqlite3_finalize(stmt);
	return 0;

db_error:
	log_err("shifts: reading the roster: %s", sqlite3_errmsg(r->db));
	rc = BRUG_E_INTERNAL;
	goto fail;
nomem:
	rc = -ENOMEM;
fail:
	sqlite3_finalize(stmt);
	roster_data_fini(d);
	return rc;
}

int roster_list(struct roster *r, struct roster_data *out)
{
	return shifts_load(r, out, false);
}

int roster_pattern_get(struct roster *r, int64_t id, struct roster_pattern *out)
{
	struct roster_data d;
	struct roster_pattern *p;
	int rc;

	memset(out, 0, sizeof *out);
	rc = shifts_load(r, &d, false);
	if (rc != 0)
		return rc;
	p = find_pattern(&d, id);
	if (p == NULL) {
		roster_data_fini(&d);
		return BRUG_E_NOT_FOUND;
	}
	*out = *p;
	/* The usernames now belong to *out. */
	memset(p->usernames, 0, sizeof p->usernames);
	roster_data_fini(&d);
	return 0;
}

/* Write p's row (insert when id is 0, else update) and its staff, inside
 * the caller's transaction. */
static int write_pattern(struct roster *r, const struct roster_pattern *p, int64_t *id)
{
	char langs[ROSTER_LANGS_MAX * (ROSTER_LANG_LEN + 1) + 1];
	sqlite3_stmt *stmt = NULL;
	int rc, step, i = 1;

	join_langs(p, langs, sizeof langs);
	rc = prepare(r, p->id == 0
		     ? "INSERT INTO shift_patterns(weekday, date, start_min, end_min, langs,"
		       " valid_from, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?)"
		     : "UPDATE shift_patterns SET weekday = ?, date = ?, start_min = ?, end_min = ?,"
		       " langs = ?, valid_from = ?, valid_until = ? WHERE id = ?",
		     &stmt);
	if (rc != 0)
		return rc;
	sqlite3_bind_int(stmt, i++, p->weekday);
	sqlite3_bind_text(stmt, i++, p->weekday == 0 ? p->date : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, i++, p->start_min);
	sqlite3_bind_int(stmt, i++, p->end_min);
	sqlite3_bind_text(stmt, i++, langs, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, i++, p->valid_from, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, i++, p->valid_until, -1, SQLITE_STATIC);
	if (p->id != 0)
		sqlite3_bind_int64(stmt, i++, p->id);
	step = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (step != SQLITE_DONE)
		goto db_error;
	if (p->id != 0 && sqlite3_changes(r->db) == 0)
		return BRUG_E_NOT_FOUND;
	*id = p->id != 0 ? p->id : sqlite3_last_insert_rowid(r->db);

	rc = prepare(r, "DELETE FROM shift_staff WHERE pattern_id = ?", &stmt);
	if (rc != 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, *id);
	step = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (step != SQLITE_DONE)
		goto db_error;

	rc = prepare(r, "INSERT INTO shift_staff(pattern_id, staff_id) VALUES (?, ?)", &stmt);
	if (rc != 0)
		return rc;
	for (size_t k = 0; k < p->n_staff; k++) {
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, *id);
		sqlite3_bind_int64(stmt, 2, p->staff[k]);
		step = sqlite3_step(stmt);
		if (step != SQLITE_DONE) {
			/* The only foreign key here is the staff id. */
			bool missing = sqlite3_extended_errcode(r->db) == SQLITE_CONSTRAINT_FOREIGNKEY;
			sqlite3_finalize(stmt);
			if (missing)
				return BRUG_E_NOT_FOUND;
			goto db_error;
		}
	}
	sqlite3_finalize(stmt);
	return 0;

db_error:
	log_err("shifts: writing a pattern: %s", sqlite3_errmsg(r->db));
	return BRUG_E_INTERNAL;
}

static int save_pattern(struct roster *r, const struct roster_pattern *p, int64_t *id,
			const char **why)
{
	int64_t new_id = 0;
	int rc;

	rc = roster_pattern_check(p, why);
	if (rc != 0)
		return rc;
	rc = store_begin(r->db);
	if (rc != 0)
		return rc;
	rc = write_pattern(r, p, &new_id);
	if (rc == 0)
		rc = store_commit(r->db);
	if (rc != 0) {
		store_rollback(r->db);
		return rc;
	}
	if (id != NULL)
		*id = new_id;
	return 0;
}

int roster_pattern_add(struct roster *r, const struct roster_pattern *p, int64_t *id,
		       const char **why)
{
	struct roster_pattern copy;

	if (p == NULL)
		return BRUG_E_BAD_FIELD;
	copy = *p;
	copy.id = 0;
	return save_pattern(r, &copy, id, why);
}

int roster_pattern_update(struct roster *r, const struct roster_pattern *p, const char **why)
{
	if (p == NULL || p->id <= 0)
		return p == NULL ? BRUG_E_BAD_FIELD : BRUG_E_NOT_FOUND;
	return save_pattern(r, p, NULL, why);
}

/* Run one statement with up to two bound values (int64 a, then text b or
 * int64 c) and report whether it changed a row. */
static int exec_one(struct roster *r, const char *sql, int64_t a, const char *b, bool *changed)
{
	sqlite3_stmt *stmt = NULL;
	int rc, step;

	rc = prepare(r, sql, &stmt);
	if (rc != 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, a);
	if (b != NULL)
		sqlite3_bind_text(stmt, 2, b, -1, SQLITE_STATIC);
	step = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (step != SQLITE_DONE) {
		log_err("shifts: %s", sqlite3_errmsg(r->db));
		return BRUG_E_INTERNAL;
	}
	if (changed != NULL)
		*changed = sqlite3_changes(r->db) > 0;
	return 0;
}

int roster_pattern_delete(struct roster *r, int64_t id)
{
	bool changed = false;
	int rc = exec_one(r, "DELETE FROM shift_patterns WHERE id = ?", id, NULL, &changed);

	if (rc == 0 && !changed)
		rc = BRUG_E_NOT_FOUND;
	return rc;
}

bool shifts_pattern_runs_on(const struct roster_pattern *p, int64_t day)
{
	int64_t d;

	if (p->weekday == 0)
		return shifts_parse_date(p->date, &d) && d == day;
	return weekday_of(day) == p->weekday;
}

int roster_exception_add(struct roster *r, int64_t pattern_id, const char *date)
{
	struct roster_pattern p;
	int64_t day;
	int rc;

	if (!shifts_parse_date(date, &day))
		return BRUG_E_BAD_FIELD;
	rc = roster_pattern_get(r, pattern_id, &p);
	if (rc != 0)
		return rc;
	if (!shifts_pattern_runs_on(&p, day))
		rc = BRUG_E_BAD_FIELD;
	roster_pattern_fini(&p);
	if (rc != 0)
		return rc;
	return exec_one(r, "INSERT OR IGNORE INTO shift_exceptions(pattern_id, date) VALUES (?, ?)",
			pattern_id, date, NULL);
}

int roster_exception_delete(struct roster *r, int64_t pattern_id, const char *date)
{
	bool changed = false;
	int64_t day;
	int rc;

	if (!shifts_parse_date(date, &day))
		return BRUG_E_BAD_FIELD;
	rc = exec_one(r, "DELETE FROM shift_exceptions WHERE pattern_id = ? AND date = ?",
		      pattern_id, date, &changed);
	if (rc == 0 && !changed)
		rc = BRUG_E_NOT_FOUND;
	return rc;
}

int roster_closure_add(struct roster *r, const char *from, const char *to, const char *note,
		       int64_t *id)
{
	sqlite3_stmt *stmt = NULL;
	int64_t f, t;
	int rc, step;

	if (!shifts_parse_date(from, &f) || !shifts_parse_date(to, &t) || t < f)
		return BRUG_E_BAD_FIELD;
	if (note == NULL)
		note = "";
	if (!note_ok(note))
		return BRUG_E_BAD_FIELD;
	rc = prepare(r, "INSERT INTO closures(from_date, to_date, note) VALUES (?, ?, ?)", &stmt);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(stmt, 1, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, to, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, note, -1, SQLITE_STATIC);
	step = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (step != SQLITE_DONE) {
		log_err("shifts: adding a closure: %s", sqlite3_errmsg(r->db));
		return BRUG_E_INTERNAL;
	}
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(r->db);
	return 0;
}

int roster_closure_delete(struct roster *r, int64_t id)
{
	bool changed = false;
	int rc = exec_one(r, "DELETE FROM closures WHERE id = ?", id, NULL, &changed);

	if (rc == 0 && !changed)
		rc = BRUG_E_NOT_FOUND;
	return rc;
}
