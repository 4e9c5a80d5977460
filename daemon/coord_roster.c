/* The shift roster from the console: coordinators read and change patterns,
 * exceptions and closures and see the coverage; every member reads their
 * own shifts with an iCalendar copy (protocol doc 7.9). Fields are checked
 * strictly: an unknown or malformed one is BRUG_E_BAD_FIELD and changes
 * nothing. Pattern and closure ids travel as `pattern` and `closure`,
 * because `id` is the request id of every message (protocol doc 2). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "common.h"
#include "config.h"
#include "coord.h"
#include "util/clock.h"
#include "hub_internal.h"
#include "log.h"
#include "proto.h"
#include "shifts.h"
#include "staff.h"

#define DAY_MS (86400 * 1000LL)
#define MY_SHIFTS_DAYS 14   /* listed in my_shifts */
#define MY_ICAL_DAYS 60     /* in its iCalendar text */

/* A positive integer field (a pattern or closure id); required. */
static int get_id(json_t *root, const char *name, int64_t *out)
{
	json_t *v = json_object_get(root, name);

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return BRUG_E_BAD_FIELD;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* A date field "YYYY-MM-DD": required, or optional (*out NULL if absent). */
static int get_date(json_t *root, const char *name, bool required, const char **out)
{
	json_t *v = json_object_get(root, name);

	*out = NULL;
	if (v == NULL)
		return required ? BRUG_E_BAD_FIELD : 0;
	if (!json_is_string(v) || !roster_date_valid(json_string_value(v)))
		return BRUG_E_BAD_FIELD;
	*out = json_string_value(v);
	return 0;
}

static json_t *date_or_null(const char *s)
{
	return s[0] != '\0' ? json_string(s) : json_null();
}

/* ---- the roster answer --------------------------------------------------- */

static json_t *pattern_json(const struct roster_pattern *p)
{
	json_t *o, *langs = json_array(), *staff = json_array();
	char start[6], end[6];

	for (size_t i = 0; i < p->n_langs && langs != NULL; i++)
		json_array_append_new(langs, json_string(p->langs[i]));
	for (size_t i = 0; i < p->n_staff && staff != NULL; i++)
		json_array_append_new(staff, json_string(p->usernames[i] != NULL ? p->usernames[i] : ""));
	roster_format_hhmm(p->start_min, start);
	roster_format_hhmm(p->end_min, end);
	o = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o}", "id", (json_int_t)p->id,
		      "start", start, "end", end, "langs", langs, "staff", staff,
		      "valid_from", date_or_null(p->valid_from),
		      "valid_until", date_or_null(p->valid_until));
	if (o == NULL)
		return NULL;
	if (p->weekday != 0)
		json_object_set_new(o, "weekday", json_integer(p->weekday));
	else
		json_object_set_new(o, "date", json_string(p->date));
	return o;
}

static json_t *coverage_json(const struct roster_coverage *cov, json_t **gaps_out)
{
	json_t *langs = json_object(), *gaps = json_object();

	*gaps_out = NULL;
	if (langs == NULL || gaps == NULL)
		goto fail;
	for (size_t l = 0; l < cov->n_langs; l++) {
		json_t *days = json_array(), *list = json_array();
		struct roster_gap *g = NULL;
		size_t n = 0;

		if (days == NULL || list == NULL || roster_gaps(cov, l, &g, &n) != 0) {
			json_decref(days);
			json_decref(list);
			goto fail;
		}
		for (unsigned d = 0; d < cov->days; d++) {
			json_t *hours = json_array();
			for (int h = 0; h < 24 && hours != NULL; h++) {
				int count = cov->counts[(l * cov->days + d) * 24 + (size_t)h];
				/* null: the hour skipped when summer time starts. */
				json_array_append_new(hours, count < 0 ? json_null() : json_integer(count));
			}
			json_array_append_new(days, hours);
		}
		for (size_t i = 0; i < n; i++) {
			char from[6], to[6];
			roster_format_hhmm(g[i].from_min, from);
			roster_format_hhmm(g[i].to_min, to);
			json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "date", g[i].date,
							      "from", from, "to", to));
		}
		free(g);
		json_object_set_new(langs, cov->langs[l], days);
		json_object_set_new(gaps, cov->langs[l], list);
	}
	*gaps_out = gaps;
	return json_pack("{s:s, s:i, s:o}", "from", cov->from, "days", (int)cov->days, "langs", langs);

fail:
	json_decref(langs);
	json_decref(gaps);
	return NULL;
}

/* The whole roster with the coverage of days days from the local date from
 * (NULL: today). Returns the message (caller owns) or NULL. */
static json_t *roster_json(struct hub_conn *c, const char *from, unsigned days)
{
	const struct hub_services *svc = hub_services(c);
	struct roster *r = svc->roster;
	struct roster_data d;
	struct roster_coverage cov;
	json_t *patterns = NULL, *exceptions = NULL, *closures = NULL, *coverage, *gaps;
	char today[ROSTER_DATE_LEN + 1];

	if (from == NULL) {
		if (roster_local_date(r, clock_wall_ms(), today) != 0)
			return NULL;
		from = today;
	}
	if (roster_list(r, &d) != 0)
		return NULL;
	if (roster_coverage(r, from, days, (const char *const *)svc->cfg->langs, svc->cfg->n_langs,
			    &cov) != 0) {
		roster_data_fini(&d);
		return NULL;
	}
	patterns = json_array();
	exceptions = json_array();
	closures = json_array();
	for (size_t i = 0; i < d.n_patterns && patterns != NULL; i++)
		json_array_append_new(patterns, pattern_json(&d.patterns[i]));
	for (size_t i = 0; i < d.n_exceptions && exceptions != NULL; i++)
		json_array_append_new(exceptions, json_pack("{s:I, s:s}",
			"pattern", (json_int_t)d.exceptions[i].pattern_id, "date", d.exceptions[i].date));
	for (size_t i = 0; i < d.n_closures && closures != NULL; i++)
		json_array_append_new(closures, json_pack("{s:I, s:s, s:s, s:s}",
			"id", (json_int_t)d.closures[i].id, "from", d.closures[i].from,
			"to", d.closures[i].to, "note", d.closures[i].note));
	coverage = coverage_json(&cov, &gaps);
	roster_coverage_fini(&cov);
	roster_data_fini(&d);
	if (coverage == NULL || gaps == NULL) {
		json_decref(coverage);
		json_decref(gaps);
		json_decref(patterns);
		json_decref(exceptions);
		json_decref(closures);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "type", "roster",
			 "tz", roster_tz(r), "patterns", patterns, "exceptions", exceptions,
			 "closures", closures, "coverage", coverage, "gaps", gaps);
}

static int reply_roster(struct hub_conn *c, struct proto_in *in, const char *from, unsigned days)
{
	json_t *msg = roster_json(c, from, days);

	if (msg == NULL)
		return BRUG_E_INTERNAL;
	hub_reply(c, msg, in->id);
	return 0;
}

/* After a change: tell the hub (opening times, dashboard, widget) and
 * answer with the whole roster. */
static int changed(struct hub_conn *c, struct proto_in *in)
{
	hub_roster_changed(hub_of(c));
	return reply_roster(c, in, NULL, ROSTER_COVERAGE_DAYS);
}

/* ---- handlers ------------------------------------------------------------ */

int coord_roster_get(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	static const char *const allowed[] = { "from", "days", NULL };
	json_t *jd = json_object_get(in->root, "days");
	const char *from;
	unsigned days = ROSTER_COVERAGE_DAYS;

	(void)now;
	if (hub_services(c)->roster == NULL)
		return BRUG_E_INTERNAL;
	if (!proto_only_fields(in->root, allowed) || get_date(in->root, "from", false, &from) != 0)
		return BRUG_E_BAD_FIELD;
	if (jd != NULL) {
		if (!json_is_integer(jd) || json_integer_value(jd) < 1 ||
		    json_integer_value(jd) > ROSTER_COVERAGE_DAYS_MAX)
			return BRUG_E_BAD_FIELD;
		days = (unsigned)json_integer_value(jd);
	}
	return reply_roster(c, in, from, days);
}

static bool lang_configured(const struct config *cfg, const char *s)
{
	return config_lang_index(cfg, s) >= 0;
}

/*
 * Read the pattern fields present in root onto *p (an update starts from
 * the stored pattern, an add from zeros): weekday | date, start, end, langs,
 * staff (usernames, resolved to ids) and valid_from / valid_until (a date,
 * or "" or null for open). All BRUG_E_BAD_FIELD checks come before the
 * look-ups of usernames, so a bad message never says not_found.
 */
static int read_pattern(struct hub_conn *c, json_t *root, bool adding, struct roster_pattern *p)
{
	const struct hub_services *svc = hub_services(c);
	json_t *jw = json_object_get(root, "weekday"), *jdate = json_object_get(root, "date");
	json_t *js = json_object_get(root, "start"), *je = json_object_get(root, "end");
	json_t *jl = json_object_get(root, "langs"), *jst = json_object_get(root, "staff"), *v;
	const char *bounds[2] = { "valid_from", "valid_until" };
	char *bound_out[2] = { p->valid_from, p->valid_until };
	int start = p->start_min, end = p->end_min;
	size_t i;

	if (jw != NULL && jdate != NULL)
		return BRUG_E_BAD_FIELD;
	if (adding && (jw == NULL && jdate == NULL))
		return BRUG_E_BAD_FIELD;
	if (adding && (js == NULL || je == NULL || jl == NULL))
		return BRUG_E_BAD_FIELD;
	if (jw != NULL) {
		if (!json_is_integer(jw) || json_integer_value(jw) < 1 || json_integer_value(jw) > 7)
			return BRUG_E_BAD_FIELD;
		p->weekday = (int)json_integer_value(jw);
		p->date[0] = '\0';
	}
	if (jdate != NULL) {
		if (!json_is_string(jdate) || !roster_date_valid(json_string_value(jdate)))
			return BRUG_E_BAD_FIELD;
		p->weekday = 0;
		snprintf(p->date, sizeof p->date, "%s", json_string_value(jdate));
	}
	if (js != NULL && (start = roster_parse_hhmm(json_string_value(js), 0)) < 0)
		return BRUG_E_BAD_FIELD;
	if (je != NULL && (end = roster_parse_hhmm(json_string_value(je), 1)) < 0)
		return BRUG_E_BAD_FIELD;
	if (js != NULL && je != NULL && end % ROSTER_DAY_MIN == start)
		return BRUG_E_BAD_FIELD;
	/* An end at or before the start is on the next day: "22:00"-"02:00". */
	if (end <= start)
		end += ROSTER_DAY_MIN;
	if (end <= start || end - start > ROSTER_DAY_MIN)
		return BRUG_E_BAD_FIELD;
	p->start_min = start;
	p->end_min = end;
	for (int k = 0; k < 2; k++) {
		v = json_object_get(root, bounds[k]);
		if (v == NULL)
			continue;
		if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
			bound_out[k][0] = '\0';
		else if (json_is_string(v) && roster_date_valid(json_string_value(v)))
			snprintf(bound_out[k], ROSTER_DATE_LEN + 1, "%s", json_string_value(v));
		else
			return BRUG_E_BAD_FIELD;
	}
	if (jl != NULL) {
		if (!json_is_array(jl) || json_array_size(jl) < 1 || json_array_size(jl) > ROSTER_LANGS_MAX)
			return BRUG_E_BAD_FIELD;
		p->n_langs = 0;
		json_array_foreach(jl, i, v) {
			if (!json_is_string(v) || !lang_configured(svc->cfg, json_string_value(v)))
				return BRUG_E_BAD_FIELD;
			snprintf(p->langs[p->n_langs++], ROSTER_LANG_LEN + 1, "%s", json_string_value(v));
		}
	}
	if (jst != NULL) {
		if (!json_is_array(jst) || json_array_size(jst) > ROSTER_STAFF_MAX)
			return BRUG_E_BAD_FIELD;
		json_array_foreach(jst, i, v) {
			const char *name = json_string_value(v);
			if (name == NULL || name[0] == '\0' || strlen(name) > STAFF_USERNAME_MAX)
				return BRUG_E_BAD_FIELD;
			for (size_t j = 0; j < i; j++)
				if (strcmp(json_string_value(json_array_get(jst, j)), name) == 0)
					return BRUG_E_BAD_FIELD;
		}
	}
	if (roster_pattern_check(p, NULL) != 0)
		return BRUG_E_BAD_FIELD;
	if (jst != NULL) {
		roster_pattern_fini(p);
		p->n_staff = 0;
		json_array_foreach(jst, i, v) {
			struct staff_account a;
			int rc = staff_get(svc->staff, json_string_value(v), &a);
			if (rc != 0)
				return rc;
			p->staff[p->n_staff++] = a.id;
			staff_account_fini(&a);
		}
	}
	return 0;
}

static const char *const pattern_fields[] = {
	"weekday", "date", "start", "end", "langs", "staff", "valid_from", "valid_until", NULL,
};

int coord_pattern_add(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct roster_pattern p;
	int rc;

	(void)now;
	if (hub_services(c)->roster == NULL)
		return BRUG_E_INTERNAL;
	if (!proto_only_fields(in->root, pattern_fields))
		return BRUG_E_BAD_FIELD;
	memset(&p, 0, sizeof p);
	rc = read_pattern(c, in->root, true, &p);
	if (rc == 0)
		rc = roster_pattern_add(hub_services(c)->roster, &p, NULL, NULL);
	if (rc != 0)
		return rc;
	log_info("shifts: %s added a pattern", hub_conn_username(c));
	return changed(c, in);
}

int coord_pattern_update(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	static const char *const allowed[] = {
		"pattern", "weekday", "date", "start", "end", "langs", "staff", "valid_from",
		"valid_until", NULL,
	};
	struct roster *r = hub_services(c)->roster;
	struct roster_pattern p;
	int64_t id;
	int rc;

	(void)now;
	if (r == NULL)
		return BRUG_E_INTERNAL;
	if (!proto_only_fields(in->root, allowed) || get_id(in->root, "pattern", &id) != 0)
		return BRUG_E_BAD_FIELD;
	rc = roster_pattern_get(r, id, &p);
	if (rc != 0)
		return rc;
	rc = read_pattern(c, in->root, false, &p);
	if (rc == 0)
		rc = roster_pattern_update(r, &p, NULL);
	roster_pattern_fini(&p);
	if (rc != 0)
		return rc;
	log_info("shifts: %s changed pattern %lld", hub_conn_username(c), (long long)id);
	return changed(c, in);
}

int coord_pattern_delete(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	static const char *const allowed[] = { "pattern", NULL };
	struct roster *r = hub_services(c)->roster;
	int64_t id;
	int rc;

	(void)now;
	if (r == NULL)
		return BRUG_E_INTERNAL;
	if (!proto_only_fields(in->root, allowed) || get_id(in->root, "pattern", &id) != 0)
		return BRUG_E_BAD_FIELD;
	rc = roster_pattern_delete(r, id);
	if (rc != 0)
		return rc;
	log_info("shifts: %s deleted pattern %lld", hub_conn_username(c), (long long)id);
	return changed(c, in);
}

static int exception_change(struct hub_conn *c, struct proto_in *in, bool add)
{
	static const char *const allowed[] = { "pattern", "date", NULL };
	struct roster *r = hub_services(c)->roster;
	const char *date;
	int64_t id;
	int rc;

	if (r == NULL)
		return BRUG_E_INTERNAL;
	if (!proto_only_fields(in->root, allowed) || get_id(in->root, "pattern", &id) != 0 ||
	    get_date(in->root, "date", true, &date) != 0)
		return BRUG_E_BAD_FIELD;
	rc = add ? roster_exception_add(r, id, date) : roster_exception_delete(r, id, date);
	if (rc != 0)
		return rc;
	return changed(c, in);
}

int coord_exception_add(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	(void)now;
	return exception_change(c, in, true);
}

int coord_exception_delete(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	(void)now;
	return exception_change(c, in, false);
}

int coord_closure_add(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	static const char *const allowed[] = { "from", "to", "note", NULL };
	struct roster *r = hub_services(c)->roster;
	json_t *jn = json_object_get(in->root, "note");
	const char *from, *to;
	int rc;

	(void)now;
	if (r == NULL)
		return BRUG_E_INTERNAL;
	if (!proto_only_fields(in->root, allowed) || get_date(in->root, "from", true, &from) != 0 ||
	    get_date(in->root, "to", true, &to) != 0 || (jn != NULL && !json_is_string(jn)))
		return BRUG_E_BAD_FIELD;
	rc = roster_closure_add(r, from, to, jn != NULL ? json_string_value(jn) : NULL, NULL);
	if (rc != 0)
		return rc;
	log_info("shifts: %s closed %s to %s", hub_conn_username(c), from, to);
	return changed(c, in);
}

int coord_closure_delete(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	static const char *const allowed[] = { "closure", NULL };
	struct roster *r = hub_services(c)->roster;
	int64_t id;
	int rc;

	(void)now;
	if (r == NULL)
		return BRUG_E_INTERNAL;
	if (!proto_only_fields(in->root, allowed) || get_id(in->root, "closure", &id) != 0)
		return BRUG_E_BAD_FIELD;
	rc = roster_closure_delete(r, id);
	if (rc != 0)
		return rc;
	return changed(c, in);
}

int coord_my_shifts(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	static const char *const allowed[] = { NULL };
	struct roster *r = hub_services(c)->roster;
	int64_t wall = clock_wall_ms(), me = hub_conn_staff_id(c);
	struct roster_shifts s;
	json_t *list, *msg;
	char *ical;

	(void)now;
	if (r == NULL)
		return BRUG_E_INTERNAL;
	if (!proto_only_fields(in->root, allowed))
		return BRUG_E_BAD_FIELD;
	if (roster_expand(r, wall, wall + MY_SHIFTS_DAYS * DAY_MS, me, &s) != 0)
		return BRUG_E_INTERNAL;
	list = json_array();
	for (size_t i = 0; i < s.n && list != NULL; i++) {
		json_t *langs = json_array();
		char start[32], end[32];
		for (size_t k = 0; k < s.v[i].n_langs && langs != NULL; k++)
			json_array_append_new(langs, json_string(s.v[i].langs[k]));
		clock_iso8601(s.v[i].start_ms, start);
		clock_iso8601(s.v[i].end_ms, end);
		json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:s}", "start", start, "end", end,
						      "langs", langs, "date", s.v[i].date));
	}
	roster_shifts_fini(&s);
	ical = roster_ical(r, me, wall, wall + MY_ICAL_DAYS * DAY_MS);
	if (list == NULL || ical == NULL) {
		json_decref(list);
		free(ical);
		return BRUG_E_INTERNAL;
	}
	msg = json_pack("{s:s, s:s, s:o, s:s}", "type", "my_shifts", "tz", roster_tz(r),
			"shifts", list, "ical", ical);
	free(ical);
	if (msg == NULL)
		return BRUG_E_INTERNAL;
	hub_reply(c, msg, in->id);
	return 0;
}
