/* The shift roster's private structure and the helpers its files share; only
 * shifts.c, shifts_coverage.c and shifts_ical.c include it. The interface is shifts.h. */
#ifndef BRUG_SHIFTS_PRIVATE_H
#define BRUG_SHIFTS_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>
#include <unicode/ucal.h>
#include "shifts.h"

#define DAY_MS (86400 * 1000LL)

struct roster {
	sqlite3 *db;
	char *tz;
	UCalendar *cal;   /* in tz; its fields are set and read per call */
};

/* shifts.c */
bool shifts_parse_date(const char *s, int64_t *days);
void shifts_format_date(int64_t days, char out[ROSTER_DATE_LEN + 1]);
int shifts_local_ms(struct roster *r, int64_t days, int min, int64_t *out);
int shifts_local_day(struct roster *r, int64_t at_ms, int64_t *days, int *min);
bool shifts_lang_code_ok(const char *s);
int shifts_load(struct roster *r, struct roster_data *d, bool enabled_only);
bool shifts_pattern_runs_on(const struct roster_pattern *p, int64_t day);

/* shifts_coverage.c */
int shifts_expand(struct roster *r, int64_t from_ms, int64_t to_ms, int64_t staff_id,
		  bool enabled_only, struct roster_shifts *out);

#endif
