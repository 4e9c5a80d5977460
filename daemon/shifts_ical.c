/* A staff member's shifts as an iCalendar feed (libical), with the
 * helpline's zone as a VTIMEZONE. */
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


/* ---- iCalendar --------------------------------------------------------- */

/* "Brug shift: Tigrinya, Dutch": the languages by their English names
 * (ICU's display names; an unknown code stays a code). */
static void summary_text(const struct roster_shift *s, char *out, size_t cap)
{
	size_t len = (size_t)snprintf(out, cap, "Brug shift:");

	for (size_t i = 0; i < s->n_langs && len < cap; i++) {
		UErrorCode st = U_ZERO_ERROR;
		UChar name[64];
		char u8[128];
		int32_t n = uloc_getDisplayLanguage(s->langs[i], "en", name, 64, &st);

		if (U_SUCCESS(st))
			u_strToUTF8(u8, sizeof u8, NULL, name, n, &st);
		if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING)
			snprintf(u8, sizeof u8, "%s", s->langs[i]);
		len += (size_t)snprintf(out + len, cap - len, "%s %s", i > 0 ? "," : "", u8);
	}
}

/* The local wall time of at_ms as an iCalendar time in zone. */
static int ical_local(struct roster *r, int64_t at_ms, icaltimezone *zone, struct icaltimetype *t)
{
	UErrorCode st = U_ZERO_ERROR;

	*t = icaltime_null_time();
	ucal_setMillis(r->cal, (UDate)at_ms, &st);
	t->year = ucal_get(r->cal, UCAL_EXTENDED_YEAR, &st);
	t->month = ucal_get(r->cal, UCAL_MONTH, &st) + 1;
	t->day = ucal_get(r->cal, UCAL_DATE, &st);
	t->hour = ucal_get(r->cal, UCAL_HOUR_OF_DAY, &st);
	t->minute = ucal_get(r->cal, UCAL_MINUTE, &st);
	t->second = ucal_get(r->cal, UCAL_SECOND, &st);
	t->is_date = 0;
	t->zone = zone;
	return U_FAILURE(st) ? BRUG_E_INTERNAL : 0;
}

/* A DTSTART or DTEND property at at_ms: the local wall time with TZID set
 * to the roster's zone name, as the VTIMEZONE in the calendar is named. */
static icalproperty *ical_time_prop(struct roster *r, bool start, int64_t at_ms)
{
	struct icaltimetype t;
	icalproperty *prop;

	if (ical_local(r, at_ms, NULL, &t) != 0)
		return NULL;
	prop = start ? icalproperty_new_dtstart(t) : icalproperty_new_dtend(t);
	if (prop != NULL)
		icalproperty_add_parameter(prop, icalparameter_new_tzid(r->tz));
	return prop;
}

/* The zone's VTIMEZONE (a copy the caller frees), named by the plain zone
 * name instead of libical's prefixed one, and without the observances that
 * ended before from_ms so the file stays small. */
static icalcomponent *ical_vtimezone(struct roster *r, int64_t from_ms)
{
	icaltimezone *zone = icaltimezone_get_builtin_timezone(r->tz);
	icalcomponent *vtz = zone != NULL ? icaltimezone_get_component(zone) : NULL;
	icalproperty *tzid;

	if (vtz == NULL)
		return NULL;
	vtz = icalcomponent_new_clone(vtz);
	if (vtz == NULL)
		return NULL;
	icaltimezone_truncate_vtimezone(vtz,
		icaltime_from_timet_with_zone((time_t)(from_ms / 1000 - 400 * 86400), 0,
					      icaltimezone_get_utc_timezone()),
		icaltime_null_time(), 0);
	tzid = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
	if (tzid != NULL)
		icalproperty_set_tzid(tzid, r->tz);
	return vtz;
}

char *roster_ical(struct roster *r, int64_t staff_id, int64_t from_ms, int64_t to_ms)
{
	struct roster_shifts shifts;
	icalcomponent *cal = NULL, *vtz;
	char *text = NULL, *out = NULL;

	if (r == NULL || staff_id <= 0)
		return NULL;
	if (shifts_expand(r, from_ms, to_ms, staff_id, false, &shifts) != 0)
		return NULL;
	vtz = ical_vtimezone(r, from_ms);
	if (vtz == NULL) {
		log_err("shifts: libical knows no zone %s", r->tz);
		goto done;
	}
	cal = icalcomponent_vanew(ICAL_VCALENDAR_COMPONENT,
				  icalproperty_new_version("2.0"),
				  icalproperty_new_prodid("-//Brug//brugd roster//EN"),
				  icalproperty_new_calscale("GREGORIAN"),
				  icalproperty_new_method(ICAL_METHOD_PUBLISH),
				  (void *)0);
	if (cal == NULL) {
		icalcomponent_free(vtz);
		goto done;
	}
	icalcomponent_add_component(cal, vtz);
	for (size_t i = 0; i < shifts.n; i++) {
		const struct roster_shift *s = &shifts.v[i];
		icalcomponent *ev = icalcomponent_new(ICAL_VEVENT_COMPONENT);
		icalproperty *dtstart, *dtend;
		char uid[96], summary[512];

		dtstart = ical_time_prop(r, true, s->start_ms);
		dtend = ical_time_prop(r, false, s->end_ms);
		if (ev == NULL || dtstart == NULL || dtend == NULL) {
			icalcomponent_free(ev);
			if (dtstart != NULL)
				icalproperty_free(dtstart);
			if (dtend != NULL)
				icalproperty_free(dtend);
			goto done;
		}
		/* Stable per pattern and date, so a calendar that fetches the
		 * export again updates the event instead of adding one. */
		snprintf(uid, sizeof uid, "shift-%lld-%.4s%.2s%.2s@brug", (long long)s->pattern_id,
			 s->date, s->date + 5, s->date + 8);
		summary_text(s, summary, sizeof summary);
		icalcomponent_add_property(ev, icalproperty_new_uid(uid));
		icalcomponent_add_property(ev, icalproperty_new_dtstamp(
			icaltime_from_timet_with_zone((time_t)(from_ms / 1000), 0,
						      icaltimezone_get_utc_timezone())));
		icalcomponent_add_property(ev, dtstart);
		icalcomponent_add_property(ev, dtend);
		icalcomponent_add_property(ev, icalproperty_new_summary(summary));
		icalcomponent_add_property(ev, icalproperty_new_transp(ICAL_TRANSP_OPAQUE));
		icalcomponent_add_component(cal, ev);
	}
	text = icalcomponent_as_ical_string_r(cal);
	if (text != NULL) {
		out = strdup(text);
		icalmemory_free_buffer(text);
	}
done:
	if (cal != NULL)
		icalcomponent_free(cal);
	roster_shifts_fini(&shifts);
	return out;
}
