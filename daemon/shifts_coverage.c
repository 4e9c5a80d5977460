/* The roster expanded into concrete shifts in the helpline's zone: coverage
 * per language, gaps, the next opening and who is on shift now. */
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


/* ---- expansion --------------------------------------------------------- */

static bool excepted(const struct roster_data *d, int64_t pattern_id, const char *date)
{
	for (size_t i = 0; i < d->n_exceptions; i++)
		if (d->exceptions[i].pattern_id == pattern_id && strcmp(d->exceptions[i].date, date) == 0)
			return true;
	return false;
}

/* Dates compare as text because they are all "YYYY-MM-DD". */
static bool closed_on(const struct roster_data *d, const char *date)
{
	for (size_t i = 0; i < d->n_closures; i++)
		if (strcmp(d->closures[i].from, date) <= 0 && strcmp(date, d->closures[i].to) <= 0)
			return true;
	return false;
}

static bool has_staff(const struct roster_pattern *p, int64_t staff_id)
{
	for (size_t i = 0; i < p->n_staff; i++)
		if (p->staff[i] == staff_id)
			return true;
	return false;
}

static int shift_cmp(const void *a, const void *b)
{
	const struct roster_shift *x = a, *y = b;

	if (x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	if (x->pattern_id != y->pattern_id)
		return x->pattern_id < y->pattern_id ? -1 : 1;
	return 0;
}

void roster_shifts_fini(struct roster_shifts *s)
{
	if (s == NULL)
		return;
	free(s->v);
	roster_data_fini(&s->data);
	memset(s, 0, sizeof *s);
}

int shifts_expand(struct roster *r, int64_t from_ms, int64_t to_ms, int64_t staff_id,
		  bool enabled_only, struct roster_shifts *out)
{
	int64_t first, last;
	size_t cap = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if (to_ms < from_ms || to_ms - from_ms > ROSTER_EXPAND_DAYS_MAX * DAY_MS)
		return BRUG_E_BAD_FIELD;
	rc = shifts_local_day(r, from_ms, &first, NULL);
	if (rc == 0)
		rc = shifts_local_day(r, to_ms, &last, NULL);
	if (rc != 0)
		return rc;
	/* A shift lasts at most a day, so one that started the day before
	 * from_ms's day may still run. */
	first -= 1;
	rc = shifts_load(r, &out->data, enabled_only);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < out->data.n_patterns; i++) {
		const struct roster_pattern *p = &out->data.patterns[i];
		int64_t lo = first, hi = last, vf, vu;

		if (staff_id > 0 && !has_staff(p, staff_id))
			continue;
		if (p->valid_from[0] != '\0' && shifts_parse_date(p->valid_from, &vf) && vf > lo)
			lo = vf;
		if (p->valid_until[0] != '\0' && shifts_parse_date(p->valid_until, &vu) && vu < hi)
			hi = vu;
		for (int64_t day = lo; day <= hi; day++) {
			struct roster_shift s;

			if (!shifts_pattern_runs_on(p, day))
				continue;
			memset(&s, 0, sizeof s);
			shifts_format_date(day, s.date);
			if (excepted(&out->data, p->id, s.date) || closed_on(&out->data, s.date))
				continue;
			rc = shifts_local_ms(r, day, p->start_min, &s.start_ms);
			if (rc == 0)
				rc = shifts_local_ms(r, day, p->end_min, &s.end_ms);
			if (rc != 0)
				goto fail;
			if (s.end_ms <= from_ms || s.start_ms >= to_ms || s.end_ms <= s.start_ms)
				continue;
			s.pattern_id = p->id;
			s.langs = p->langs;
			s.n_langs = p->n_langs;
			s.staff = p->staff;
			s.n_staff = p->n_staff;
			if (out->n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				void *nv = realloc(out->v, ncap * sizeof *out->v);
				if (nv == NULL) {
					rc = -ENOMEM;
					goto fail;
				}
				out->v = nv;
				cap = ncap;
			}
			out->v[out->n++] = s;
		}
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, shift_cmp);
	return 0;

fail:
	roster_shifts_fini(out);
	return rc;
}

int roster_expand(struct roster *r, int64_t from_ms, int64_t to_ms, int64_t staff_id,
		  struct roster_shifts *out)
{
	return shifts_expand(r, from_ms, to_ms, staff_id, false, out);
}

static bool covers_lang(const struct roster_shift *s, const char *lang)
{
	for (size_t i = 0; i < s->n_langs; i++)
		if (strcmp(s->langs[i], lang) == 0)
			return true;
	return false;
}

/* ---- coverage ---------------------------------------------------------- */

void roster_coverage_fini(struct roster_coverage *cov)
{
	if (cov == NULL)
		return;
	free(cov->langs);
	free(cov->counts);
	memset(cov, 0, sizeof *cov);
}

int roster_coverage(struct roster *r, const char *from, unsigned days,
		    const char *const *langs, size_t n_langs, struct roster_coverage *out)
{
	struct roster_shifts shifts;
	int64_t day0, *bounds = NULL, seen[ROSTER_STAFF_MAX * 4];
	size_t n_bounds = (size_t)days * 24 + 1;
	int rc;

	memset(out, 0, sizeof *out);
	if (!shifts_parse_date(from, &day0) || days < 1 || days > ROSTER_COVERAGE_DAYS_MAX ||
	    (n_langs > 0 && langs == NULL))
		return BRUG_E_BAD_FIELD;
	for (size_t l = 0; l < n_langs; l++)
		if (langs[l] == NULL || !shifts_lang_code_ok(langs[l]))
			return BRUG_E_BAD_FIELD;
	bounds = calloc(n_bounds, sizeof *bounds);
	out->langs = calloc(n_langs ? n_langs : 1, sizeof *out->langs);
	out->counts = calloc(n_langs > 0 ? n_langs * (n_bounds - 1) : 1, sizeof *out->counts);
	if (bounds == NULL || out->langs == NULL || out->counts == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	shifts_format_date(day0, out->from);
	out->days = days;
	out->n_langs = n_langs;
	for (size_t l = 0; l < n_langs; l++)
		snprintf(out->langs[l], sizeof out->langs[l], "%s", langs[l]);
	/* The local hour boundaries; a skipped hour has two equal ones. */
	for (size_t k = 0; k < n_bounds; k++) {
		rc = shifts_local_ms(r, day0 + (int64_t)(k / 24), (int)(k % 24) * 60, &bounds[k]);
		if (rc != 0)
			goto fail;
	}
	rc = shifts_expand(r, bounds[0], bounds[n_bounds - 1], 0, true, &shifts);
	if (rc != 0)
		goto fail;
	for (size_t l = 0; l < n_langs; l++) {
		for (size_t k = 0; k + 1 < n_bounds; k++) {
			int64_t hs = bounds[k], he = bounds[k + 1];
			size_t n_seen = 0;
			int *cell = &out->counts[l * (n_bounds - 1) + k];

			if (he <= hs) {
				*cell = -1;
				continue;
			}
			for (size_t i = 0; i < shifts.n; i++) {
				const struct roster_shift *s = &shifts.v[i];
				if (s->start_ms >= he || s->end_ms <= hs || !covers_lang(s, langs[l]))
					continue;
				for (size_t j = 0; j < s->n_staff; j++) {
					size_t q = 0;
					while (q < n_seen && seen[q] != s->staff[j])
						q++;
					if (q == n_seen && n_seen < sizeof seen / sizeof seen[0])
						seen[n_seen++] = s->staff[j];
				}
			}
			*cell = (int)n_seen;
		}
	}
	roster_shifts_fini(&shifts);
	free(bounds);
	return 0;

fail:
	free(bounds);
	roster_coverage_fini(out);
	return rc;
}

int roster_gaps(const struct roster_coverage *cov, size_t l, struct roster_gap **out, size_t *n)
{
	struct roster_gap *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (l >= cov->n_langs)
		return 0;
	for (unsigned d = 0; d < cov->days; d++) {
		const int *row = &cov->counts[(l * cov->days + d) * 24];
		int start = -1, end = -1;

		for (int h = 0; h <= 24; h++) {
			int c = h < 24 ? row[h] : 1;
			if (c < 0)
				continue;
			if (c == 0) {
				if (start < 0)
					start = h;
				end = h + 1;
				continue;
			}
			if (start < 0)
				continue;
			if (*n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				void *nv = realloc(v, ncap * sizeof *v);
				if (nv == NULL) {
					free(v);
					*n = 0;
					return -ENOMEM;
				}
				v = nv;
				cap = ncap;
			}
			{
				int64_t day0;
				shifts_parse_date(cov->from, &day0);
				shifts_format_date(day0 + d, v[*n].date);
			}
			v[*n].from_min = start * 60;
			v[*n].to_min = end * 60;
			(*n)++;
			start = -1;
		}
	}
	*out = v;
	return 0;
}

/* ---- now and next ------------------------------------------------------ */

int roster_next_open(struct roster *r, const char *lang, int64_t now_ms, int64_t *at_ms)
{
	struct roster_shifts shifts;
	int rc;

	if (lang == NULL)
		return BRUG_E_BAD_FIELD;
	rc = shifts_expand(r, now_ms, now_ms + ROSTER_NEXT_OPEN_DAYS * DAY_MS, 0, true, &shifts);
	if (rc != 0)
		return rc;
	rc = BRUG_E_NOT_FOUND;
	for (size_t i = 0; i < shifts.n; i++) {
		const struct roster_shift *s = &shifts.v[i];
		if (s->n_staff > 0 && covers_lang(s, lang)) {
			*at_ms = s->start_ms > now_ms ? s->start_ms : now_ms;
			rc = 0;
			break;
		}
	}
	roster_shifts_fini(&shifts);
	return rc;
}

static int on_shift_cmp(const void *a, const void *b)
{
	const struct roster_on_shift *x = a, *y = b;

	return x->staff_id < y->staff_id ? -1 : x->staff_id > y->staff_id;
}

int roster_on_shift(struct roster *r, int64_t now_ms, struct roster_on_shift **out, size_t *n)
{
	struct roster_shifts shifts;
	struct roster_on_shift *v = NULL;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	/* Shifts that follow on may carry someone up to a few days on. */
	rc = shifts_expand(r, now_ms, now_ms + 3 * DAY_MS, 0, true, &shifts);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < shifts.n; i++) {
		const struct roster_shift *s = &shifts.v[i];
		if (s->start_ms > now_ms || s->end_ms <= now_ms)
			continue;
		for (size_t j = 0; j < s->n_staff; j++) {
			size_t q = 0;
			while (q < *n && v[q].staff_id != s->staff[j])
				q++;
			if (q < *n) {
				if (s->end_ms > v[q].end_ms)
					v[q].end_ms = s->end_ms;
				if (s->start_ms < v[q].start_ms)
					v[q].start_ms = s->start_ms;
				continue;
			}
			if (*n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				void *nv = realloc(v, ncap * sizeof *v);
				if (nv == NULL) {
					rc = -ENOMEM;
					goto fail;
				}
				v = nv;
				cap = ncap;
			}
			v[*n].staff_id = s->staff[j];
			v[*n].start_ms = s->start_ms;
			v[*n].end_ms = s->end_ms;
			(*n)++;
		}
	}
	/* Extend each end over the member's shifts that begin before it (the
	 * list is by start, so one pass per member is enough). */
	for (size_t q = 0; q < *n; q++)
		for (size_t i = 0; i < shifts.n; i++) {
			const struct roster_shift *s = &shifts.v[i];
			if (s->start_ms > v[q].end_ms || s->end_ms <= v[q].end_ms)
				continue;
			for (size_t j = 0; j < s->n_staff; j++)
				if (s->staff[j] == v[q].staff_id)
					v[q].end_ms = s->end_ms;
		}
	roster_shifts_fini(&shifts);
	if (*n > 1)
		qsort(v, *n, sizeof *v, on_shift_cmp);
	*out = v;
	return 0;

fail:
	free(v);
	*n = 0;
	roster_shifts_fini(&shifts);
	return rc;
}
