/* What the roster shows live: who is on shift, shift-end quiet, the
 * coordinators' dashboard, the next opening per language and a member's
 * iCalendar feed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "hub.h"
#include "hub_internal.h"
#include "cluster.h"
#include "hub_private.h"
#include "i18n.h"
#include "proto.h"
#include "router.h"
#include "staff.h"
#include "util/clock.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"
#include "shifts.h"

/* When lang next opens according to the roster: 0 with *at_ms, or -1.
 * The answer is kept for up to a minute (never past the opening itself, and
 * dropped when the roster changes): the widget's status page asks for every
 * language of every visitor on the start screen, and each roster read
 * expands two months of shifts from the database. */
#define NEXT_OPEN_CACHE_MS 60000

int coord_next_open(struct hub *h, int lang, int64_t *at_ms)
{
	int64_t now = (int64_t)hub_wall_now(h), at;
	int rc;

	if (h->svc.roster == NULL)
		return -1;
	if (now < h->next_open_until[lang]) {
		*at_ms = h->next_open_at[lang];
		return *at_ms >= 0 ? 0 : -1;
	}
	rc = roster_next_open(h->svc.roster, h->cfg->langs[lang], now, &at) == 0 ? 0 : -1;
	h->next_open_at[lang] = rc == 0 ? at : -1;
	h->next_open_until[lang] = now + NEXT_OPEN_CACHE_MS;
	if (rc == 0 && at > now && at < h->next_open_until[lang])
		h->next_open_until[lang] = at;
	if (rc == 0)
		*at_ms = at;
	return rc;
}

/* ---- the coordinators' live dashboard ---- */

#define DASHBOARD_EVERY_MS 1000

struct shift_lookup {
	struct on_shift *v;
	size_t n;
};

static int fill_on_shift(const struct staff_account *a, void *ctx)
{
	struct shift_lookup *lk = ctx;

	for (size_t i = 0; i < lk->n; i++) {
		if (lk->v[i].staff_id != a->id)
			continue;
		snprintf(lk->v[i].user, sizeof lk->v[i].user, "%s", a->username);
		snprintf(lk->v[i].alias, sizeof lk->v[i].alias, "%s", a->alias);
		snprintf(lk->v[i].langs, sizeof lk->v[i].langs, "%s", a->langs);
	}
	return 0;
}

/* Read who is on shift from the roster, with names from the accounts, at
 * most every ON_SHIFT_REFRESH_MS (or after hub_roster_changed). */
void coord_refresh_on_shift(struct hub *h, uint64_t now)
{
	struct roster_on_shift *rs = NULL;
	struct shift_lookup lk = { 0 };
	size_t n = 0;

	if (h->svc.roster == NULL || (h->on_shift_ms != 0 && now - h->on_shift_ms < ON_SHIFT_REFRESH_MS))
		return;
	h->on_shift_ms = now ? now : 1;
	if (roster_on_shift(h->svc.roster, (int64_t)hub_wall_now(h), &rs, &n) != 0)
		return;
	lk.v = n ? calloc(n, sizeof *lk.v) : NULL;
	lk.n = lk.v != NULL ? n : 0;
	for (size_t i = 0; i < lk.n; i++) {
		lk.v[i].staff_id = rs[i].staff_id;
		lk.v[i].end_ms = rs[i].end_ms;
	}
	free(rs);
	if (lk.n > 0)
		staff_list(h->staff, fill_on_shift, &lk);
	free(h->on_shift);
	h->on_shift = lk.v;
	h->n_on_shift = lk.n;
	free(h->dashboard_last);
	h->dashboard_last = NULL;
}

static struct hub_conn *conn_of_staff_id(struct hub *h, int64_t id)
{
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (!o->dead && o->rs != NULL && o->staff_id == id)
			return o;
	}
	return NULL;
}

/* Who is on shift now, and who of them has no console open. */
static json_t *roster_on_shift_json(struct hub *h, uint64_t now)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < h->n_on_shift && arr != NULL; i++) {
		const struct on_shift *o = &h->on_shift[i];
		char until[32];
		clock_iso8601((int64_t)o->end_ms, until);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:b, s:s}", "user", o->user, "alias", o->alias,
			"langs", ssession_csv_array(o->langs), "online", conn_of_staff_id(h, o->staff_id) != NULL, "until", until));
	}
	return arr;
}

static json_t *roster_missing_json(struct hub *h, uint64_t now)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < h->n_on_shift && arr != NULL; i++)
		if (conn_of_staff_id(h, h->on_shift[i].staff_id) == NULL)
			json_array_append_new(arr, json_pack("{s:s, s:s}", "user", h->on_shift[i].user,
							     "alias", h->on_shift[i].alias));
	return arr;
}

/* Issue 5: rostered staff get no new offers in the last minutes of their
 * shift; everyone else (rostered or not) is as available as they say. */
void coord_apply_shift_quiet(struct hub *h)
{
	int64_t wall = (int64_t)hub_wall_now(h), quiet_ms = (int64_t)h->cfg->shift_end_quiet_min * 60000;
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		bool quiet = false;
		if (o->dead || o->rs == NULL)
			continue;
		for (size_t i = 0; i < h->n_on_shift; i++)
			if (h->on_shift[i].staff_id == o->staff_id)
				quiet = quiet_ms > 0 && h->on_shift[i].end_ms - wall <= quiet_ms;
		router_staff_set_quiet(h->router, o->rs, quiet, h->now_ms);
	}
}

static json_t *dashboard_json(struct hub *h, uint64_t now)
{
	struct router_lang_stats st[ROUTER_MAX_LANGS];
	json_t *langs = json_object();
	struct list *it;
	unsigned online[ROUTER_MAX_LANGS] = { 0 }, avail[ROUTER_MAX_LANGS] = { 0 }, busy[ROUTER_MAX_LANGS] = { 0 };

	router_lang_stats(h->router, st, h->cfg->n_langs);
	/* In a cluster the queues and chats are spread over the nodes'
	 * routers; staff of every node are here already (as proxies). */
	cluster_add_lang_stats(h->cluster, st, h->cfg->n_langs, now, hub_wall_now(h));
	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (o->dead || o->rs == NULL)
			continue;
		for (unsigned l = 0; l < h->cfg->n_langs; l++) {
			if (!(o->rs->langs & (1u << l)))
				continue;
			online[l]++;
			avail[l] += o->rs->available;
			busy[l] += o->rs->open_chats + o->rs->elsewhere >= o->rs->max_chats;
		}
	}
	for (unsigned l = 0; l < h->cfg->n_langs && langs != NULL; l++) {
		/* Only "waiting N seconds": nothing else about any visitor. */
		uint64_t wait = st[l].oldest_enqueued_ms && now > st[l].oldest_enqueued_ms
			? (now - st[l].oldest_enqueued_ms) / 1000 : 0;
		json_object_set_new(langs, h->cfg->langs[l],
			json_pack("{s:i, s:I, s:i, s:i, s:i, s:i, s:i}", "waiting", (json_int_t)st[l].waiting,
				  "longest_wait_s", (json_int_t)wait, "online", (json_int_t)online[l],
				  "available", (json_int_t)avail[l], "busy", (json_int_t)busy[l],
				  "chats", (json_int_t)st[l].chats, "offers", (json_int_t)st[l].offers));
	}
	return json_pack("{s:s, s:o, s:o, s:o}", "type", "dashboard", "languages", langs,
			 "on_shift", roster_on_shift_json(h, now), "missing", roster_missing_json(h, now));
}

/* Push the dashboard to coordinators when it changed, at most once a second. */
void coord_push_dashboard(struct hub *h, uint64_t now)
{
	json_t *d;
	char *text;
	struct list *it;
	bool any = false;

	if (now - h->dashboard_ms < DASHBOARD_EVERY_MS && h->dashboard_last != NULL)
		return;
	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		any |= o->rs != NULL && (o->roles & BRUG_ROLE_COORDINATOR);
	}
	if (!any)
		return;
	h->dashboard_ms = now;
	d = dashboard_json(h, now);
	text = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (text == NULL || (h->dashboard_last != NULL && strcmp(text, h->dashboard_last) == 0)) {
		free(text);
		json_decref(d);
		return;
	}
	free(h->dashboard_last);
	h->dashboard_last = text;
	hub_broadcast(h, d, BRUG_ROLE_COORDINATOR);
}

/* {"type":"ical_feed"}: a new private URL for the member's shifts as an
 * iCalendar feed (GET /api/ical/TOKEN.ics); an earlier URL stops working. */
int coord_ical_feed(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	char token[TOKEN_STR_LEN], path[TOKEN_STR_LEN + 16];
	int rc = staff_feed_new(c->hub->staff, c->staff_id, token);

	if (rc != 0)
		return rc;
	snprintf(path, sizeof path, "/api/ical/%s.ics", token);
	hub_send_json(c, json_pack("{s:s, s:s}", "type", "ical_feed", "path", path), in->id);
	secmem_wipe(token, sizeof token);
	secmem_wipe(path, sizeof path);
	return 0;
}

void hub_lang_stats_wall(struct hub *h, struct router_lang_stats *out, unsigned n)
{
	uint64_t wall = hub_wall_now(h);

	router_lang_stats(h->router, out, n);
	for (unsigned l = 0; l < n; l++)
		if (out[l].oldest_enqueued_ms != 0)
			out[l].oldest_enqueued_ms = wall - (h->now_ms > out[l].oldest_enqueued_ms
							    ? h->now_ms - out[l].oldest_enqueued_ms : 0);
}

char *hub_ical_feed(struct hub *h, const char *token)
{
	int64_t id;
	int64_t now = (int64_t)hub_wall_now(h);

	if (h->svc.roster == NULL || staff_feed_lookup(h->staff, token, &id) != 0)
		return NULL;
	/* A week back and two months ahead, as calendar apps expect. */
	return roster_ical(h->svc.roster, id, now - 7LL * 86400000, now + 62LL * 86400000);
}
