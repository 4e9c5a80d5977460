/* The shift roster: weekly and one-off shift patterns with the languages
 * they cover and the staff assigned, exceptions and closures; expanded into
 * concrete shifts in the helpline's time zone (DST-correct through ICU) for
 * coverage, opening times, who is on shift and the iCalendar export. */
#ifndef BRUG_SHIFTS_H
#define BRUG_SHIFTS_H

#include <stddef.h>
#include <stdint.h>

/* Limits on pattern fields (roster_pattern_check). */
#define ROSTER_LANGS_MAX 8          /* languages a pattern covers, at least 1 */
#define ROSTER_LANG_LEN 15          /* bytes of one language code */
#define ROSTER_STAFF_MAX 64         /* staff assigned to a pattern */
#define ROSTER_NOTE_MAX 200         /* bytes of a closure's note */
#define ROSTER_DATE_LEN 10          /* "YYYY-MM-DD" */
#define ROSTER_DAY_MIN 1440         /* minutes in a (wall-clock) day */

/* Time windows. */
#define ROSTER_COVERAGE_DAYS 14     /* coverage shown by default */
#define ROSTER_COVERAGE_DAYS_MAX 62
#define ROSTER_NEXT_OPEN_DAYS 60    /* how far roster_next_open looks */
#define ROSTER_EXPAND_DAYS_MAX 400  /* longest range roster_expand accepts */

struct roster;

/*
 * One pattern. Weekly: weekday 1 (Monday) .. 7 (Sunday) and date "".
 * One-off: weekday 0 and date "YYYY-MM-DD". start_min is minutes after
 * local midnight (0..1439); end_min is after start_min and may pass 1440 for
 * a shift that runs past midnight (at most 2880). valid_from and
 * valid_until ("" for open) bound the dates on which a weekly pattern
 * starts a shift, both inclusive. langs are language codes; staff are
 * staff ids. From roster_list(), usernames[i] is the username of staff[i];
 * it is ignored on input and may be NULL there.
 */
struct roster_pattern {
	int64_t id;
	int weekday;
	char date[ROSTER_DATE_LEN + 1];
	int start_min, end_min;
	char valid_from[ROSTER_DATE_LEN + 1];
	char valid_until[ROSTER_DATE_LEN + 1];
	char langs[ROSTER_LANGS_MAX][ROSTER_LANG_LEN + 1];
	size_t n_langs;
	int64_t staff[ROSTER_STAFF_MAX];
	char *usernames[ROSTER_STAFF_MAX];
	size_t n_staff;
};

/* A date of a weekly pattern on which it does not run. */
struct roster_exception {
	int64_t pattern_id;
	char date[ROSTER_DATE_LEN + 1];
};

/* Dates (both inclusive) on which no shift starts, such as holidays. */
struct roster_closure {
	int64_t id;
	char from[ROSTER_DATE_LEN + 1];
	char to[ROSTER_DATE_LEN + 1];
	char *note;   /* owned by the roster_data it is in */
};

/* Everything in the roster, from roster_list(); free with roster_data_fini(). */
struct roster_data {
	struct roster_pattern *patterns;      /* ordered by id */
	size_t n_patterns;
	struct roster_exception *exceptions;  /* ordered by pattern, date */
	size_t n_exceptions;
	struct roster_closure *closures;      /* ordered by from, id */
	size_t n_closures;
};

/* One concrete shift. date is the local date it starts on. The pointers
 * point into the pattern it came from and live as long as the roster_shifts
 * it is in. */
struct roster_shift {
	int64_t pattern_id;
	char date[ROSTER_DATE_LEN + 1];
	int64_t start_ms, end_ms;                  /* UTC, end exclusive */
	const char (*langs)[ROSTER_LANG_LEN + 1];
	size_t n_langs;
	const int64_t *staff;
	size_t n_staff;
};

/* A list of shifts ordered by start, then pattern id; free with
 * roster_shifts_fini(). */
struct roster_shifts {
	struct roster_shift *v;
	size_t n;
	struct roster_data data;   /* the patterns the shifts point into */
};

/*
 * Coverage from a local date for some days: counts[((l * days) + d) * 24 + h]
 * is how many distinct staff members are rostered for langs[l] during some
 * part of local hour h of day d, or -1 for an hour that does not exist that
 * day (the hour skipped when summer time starts). An hour that occurs twice
 * (when summer time ends) counts both. Free with roster_coverage_fini().
 */
struct roster_coverage {
	char from[ROSTER_DATE_LEN + 1];
	unsigned days;
	size_t n_langs;
	char (*langs)[ROSTER_LANG_LEN + 1];   /* copies of the langs asked for */
	int *counts;
};

/* A gap: local hours [from_min, to_min) of date in which a language has
 * nobody rostered (to_min may be 1440). */
struct roster_gap {
	char date[ROSTER_DATE_LEN + 1];
	int from_min, to_min;
};

/* Someone on shift: the shift they are in now and, when shifts follow on
 * without a break, the end of the last of them. */
struct roster_on_shift {
	int64_t staff_id;
	int64_t start_ms;
	int64_t end_ms;
};

/*
 * Open the roster on the staff database at db_path (its own connection,
 * created and migrated like store_open() does) in the time zone tz (an
 * Olson name such as "Europe/Amsterdam"; NULL means that one). Both are
 * copied. Returns the roster, which the caller frees with roster_close(),
 * or NULL if the database cannot be opened, the zone is unknown or memory
 * runs out (the reason is logged). A roster is used from one thread.
 */
struct roster *roster_open(const char *db_path, const char *tz);
/* Close the roster. Accepts NULL. Takes ownership of r. */
void roster_close(struct roster *r);
/* The roster's time zone (borrowed from r). */
const char *roster_tz(const struct roster *r);

/* ---- dates and times (pure helpers, no database) ---- */

/* Is s a valid calendar date "YYYY-MM-DD" (years 1970..9999)? */
int roster_date_valid(const char *s);
/* Parse "HH:MM" (00:00..23:59, or 24:00 if allow_24) into minutes; -1 if
 * invalid. */
int roster_parse_hhmm(const char *s, int allow_24);
/* Format minutes after midnight as "HH:MM" (1440 as "24:00", more than that
 * wraps to the next day's clock). out holds at least 6 bytes. */
void roster_format_hhmm(int min, char out[6]);
/* The local date of at_ms in r's zone, as "YYYY-MM-DD". Returns 0 or
 * BRUG_E_INTERNAL. */
int roster_local_date(struct roster *r, int64_t at_ms, char out[ROSTER_DATE_LEN + 1]);
/* The UTC instant of local time min (minutes after midnight, may pass 1440)
 * on date in r's zone. Returns 0, BRUG_E_BAD_FIELD for a bad date or
 * BRUG_E_INTERNAL. */
int roster_local_ms(struct roster *r, const char *date, int min, int64_t *out);

/* ---- changes ---- */

/*
 * Check a pattern's fields without the database (see struct roster_pattern;
 * languages are [A-Za-z0-9_-] codes without duplicates, staff ids positive
 * without duplicates, valid_from not after valid_until). Returns 0 or
 * BRUG_E_BAD_FIELD with *why (may be NULL) a static English sentence.
 */
int roster_pattern_check(const struct roster_pattern *p, const char **why);
/*
 * Add p (p->id and usernames ignored). On success returns 0 and sets *id
 * (may be NULL). Returns BRUG_E_BAD_FIELD (*why set as above),
 * BRUG_E_NOT_FOUND if a staff id does not exist (nothing is added) or
 * BRUG_E_INTERNAL. p is borrowed.
 */
int roster_pattern_add(struct roster *r, const struct roster_pattern *p, int64_t *id,
		       const char **why);
/* Replace pattern p->id with p, staff included; its exceptions stay.
 * Returns as roster_pattern_add(), and BRUG_E_NOT_FOUND for an unknown id. */
int roster_pattern_update(struct roster *r, const struct roster_pattern *p, const char **why);
/* Delete a pattern with its staff and exceptions. Returns 0,
 * BRUG_E_NOT_FOUND or BRUG_E_INTERNAL. */
int roster_pattern_delete(struct roster *r, int64_t id);
/* Fill *out with pattern id (usernames included); the caller frees them
 * with roster_pattern_fini(). Returns 0, BRUG_E_NOT_FOUND, BRUG_E_INTERNAL
 * or -ENOMEM. */
int roster_pattern_get(struct roster *r, int64_t id, struct roster_pattern *out);
/* Free the usernames of a pattern filled by this module. Accepts NULL. */
void roster_pattern_fini(struct roster_pattern *p);

/*
 * Cancel pattern_id's shift starting on date. The pattern must start a
 * shift on that date (its weekday, or its one-off date), else
 * BRUG_E_BAD_FIELD. Adding an existing exception again is not an error.
 * Returns 0, BRUG_E_BAD_FIELD, BRUG_E_NOT_FOUND (no such pattern) or
 * BRUG_E_INTERNAL. date is borrowed.
 */
int roster_exception_add(struct roster *r, int64_t pattern_id, const char *date);
/* Remove that exception. Returns 0, BRUG_E_BAD_FIELD (bad date),
 * BRUG_E_NOT_FOUND or BRUG_E_INTERNAL. */
int roster_exception_delete(struct roster *r, int64_t pattern_id, const char *date);
/*
 * Close the dates from..to (inclusive): no shift starts on them. note (may
 * be NULL) is a short text for coordinators (valid UTF-8 without control
 * characters, at most ROSTER_NOTE_MAX bytes). Returns 0 with *id (may be
 * NULL) set, BRUG_E_BAD_FIELD or BRUG_E_INTERNAL. Arguments borrowed.
 */
int roster_closure_add(struct roster *r, const char *from, const char *to, const char *note,
		       int64_t *id);
/* Delete closure id. Returns 0, BRUG_E_NOT_FOUND or BRUG_E_INTERNAL. */
int roster_closure_delete(struct roster *r, int64_t id);

/* ---- reading ---- */

/* Fill *out with the whole roster; the caller frees it with
 * roster_data_fini(). Returns 0, BRUG_E_INTERNAL or -ENOMEM (then *out is
 * empty). */
int roster_list(struct roster *r, struct roster_data *out);
/* Free what roster_list() filled and zero it. Accepts NULL and a zeroed
 * struct. */
void roster_data_fini(struct roster_data *d);

/*
 * The concrete shifts that overlap [from_ms, to_ms), honouring valid_from
 * and valid_until, exceptions and closures (a closure cancels the shifts
 * that start on its dates, including ones that run on past its end).
 * staff_id > 0 keeps only the shifts of that member. The caller frees *out
 * with roster_shifts_fini(). Returns 0, BRUG_E_BAD_FIELD (to_ms before
 * from_ms or a range over ROSTER_EXPAND_DAYS_MAX days), BRUG_E_INTERNAL or
 * -ENOMEM.
 */
int roster_expand(struct roster *r, int64_t from_ms, int64_t to_ms, int64_t staff_id,
		  struct roster_shifts *out);
/* Free a list from roster_expand() and zero it. Accepts NULL. */
void roster_shifts_fini(struct roster_shifts *s);

/*
 * Coverage of langs (n_langs codes, borrowed) from the local date from
 * (borrowed) for days days (1..ROSTER_COVERAGE_DAYS_MAX); see struct
 * roster_coverage. Only shifts with staff count. The caller frees *out
 * with roster_coverage_fini(). Returns 0, BRUG_E_BAD_FIELD, BRUG_E_INTERNAL
 * or -ENOMEM.
 */
int roster_coverage(struct roster *r, const char *from, unsigned days,
		    const char *const *langs, size_t n_langs, struct roster_coverage *out);
void roster_coverage_fini(struct roster_coverage *cov);
/*
 * The gaps of language index l of cov: runs of hours with a count of 0
 * within each day (an hour that does not exist neither breaks nor starts a
 * run). Returns 0 with *out (caller frees with free(); NULL when none)
 * and *n set, or -ENOMEM.
 */
int roster_gaps(const struct roster_coverage *cov, size_t l, struct roster_gap **out, size_t *n);

/*
 * When lang (borrowed) is next covered by a shift with at least one staff
 * member assigned: now_ms if one runs at now_ms, otherwise the start of
 * the next one within ROSTER_NEXT_OPEN_DAYS. Returns 0 with *at_ms set,
 * BRUG_E_NOT_FOUND if there is none, BRUG_E_INTERNAL or -ENOMEM.
 */
int roster_next_open(struct roster *r, const char *lang, int64_t now_ms, int64_t *at_ms);

/*
 * The staff members with a shift running at now_ms (with at least one
 * language), ordered by staff id, each once. end_ms is the end of their
 * shift, extended over shifts of theirs that start before it ends, so "the
 * last minutes of the shift" are the last ones before a real break.
 * Returns 0 with *out (caller frees with free(); NULL when none) and *n
 * set, BRUG_E_INTERNAL or -ENOMEM.
 */
int roster_on_shift(struct roster *r, int64_t now_ms, struct roster_on_shift **out, size_t *n);

/*
 * An iCalendar (RFC 5545) text with one VEVENT per shift of staff_id that
 * overlaps [from_ms, to_ms): UID stable per pattern and date, DTSTART and
 * DTEND in local time with the roster's TZID (and its VTIMEZONE), SUMMARY
 * naming the languages; DTSTAMP is from_ms (callers pass now). Nothing
 * about visitors is in it. Returns a string the caller frees with free(),
 * or NULL on failure (logged).
 */
char *roster_ical(struct roster *r, int64_t staff_id, int64_t from_ms, int64_t to_ms);

#endif
