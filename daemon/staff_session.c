/* Staff sessions (prefix ssession_): login by password or token, the
 * account applied to an open console, colleagues online, the reconnect
 * grace of a dropped console, session checks and logout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "hub_internal.h"
#include "hub_private.h"
#include "i18n.h"
#include "proto.h"
#include "router.h"
#include "staff.h"
#include "util/clock.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/token.h"
#include "util/worker.h"

/* ---- accounts as JSON and as the router sees them ---- */

static uint32_t mask_of(const struct config *cfg, const char *list, bool langs)
{
	uint32_t mask = 0;
	char buf[512], *save = NULL;

	if (list == NULL)
		return 0;
	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
		int i = langs ? config_lang_index(cfg, tok) : config_topic_index(cfg, tok);
		if (i >= 0)
			mask |= 1u << i;
	}
	return mask;
}

json_t *ssession_csv_array(const char *list)
{
	json_t *a = json_array();
	char buf[512], *save = NULL;

	if (a == NULL || list == NULL)
		return a;
	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save))
		json_array_append_new(a, json_string(tok));
	return a;
}

static json_t *roles_array(uint32_t roles)
{
	json_t *a = json_array();

	for (uint32_t bit = 1; bit <= BRUG_ROLE_COORDINATOR && a != NULL; bit <<= 1)
		if ((roles & bit) && brug_role_name(bit) != NULL)
			json_array_append_new(a, json_string(brug_role_name(bit)));
	return a;
}


/* Re-send a staff member's offers and chats after it took over a session
 * on a new socket, so a reload loses nothing. */
static void staff_resend_state(struct hub *h, struct hub_conn *c)
{
	struct router_staff *s = c->rs;
	struct list *it;

	json_t *ids = json_array();

	/* Which chats it still has: a console closes the panels of chats that
	 * ended while it was away. */
	for (uint64_t id = 0; ids != NULL && (id = router_staff_next_chat(h->router, s, id)) != 0;)
		json_array_append_new(ids, hub_id_json(id));
	hub_send_json(c, json_pack("{s:s, s:o}", "type", "chats", "chats", ids), NULL);
	hub_send_json(c, json_pack("{s:s, s:b}", "type", "status", "available", s->available), NULL);
	list_for_each(it, &s->offers)
		hub_events_offer(h, list_entry(it, struct router_offer, staff_link));
	for (uint64_t id = 0; (id = router_staff_next_chat(h->router, s, id)) != 0;)
		hub_events_chat_to_staff(h, router_chat_find(h->router, id), s);
}

/* ---- staff presence: colleagues and the reconnect grace ---- */

static json_t *colleague_json(const struct hub *h, const struct router_staff *s)
{
	json_t *langs = json_array();

	for (unsigned i = 0; i < h->cfg->n_langs && langs != NULL; i++)
		if (s->langs & (1u << i))
			json_array_append_new(langs, json_string(h->cfg->langs[i]));
	return json_pack("{s:s, s:s, s:o, s:o, s:b, s:i}", "user", s->username, "alias", s->alias,
			 "roles", roles_array(s->roles), "langs", langs, "available", s->available,
			 "chats", (json_int_t)(s->open_chats + s->elsewhere));
}

/* Tell every logged-in console who else is online (extension `colleagues`),
 * for invite and transfer by person. Staff are few: O(staff^2) is fine. */
void ssession_send_colleagues(struct hub *h)
{
	struct list *it, *jt;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *to = list_entry(it, struct hub_conn, link);
		json_t *arr;

		if (to->dead || to->rs == NULL)
			continue;
		arr = json_array();
		list_for_each(jt, &h->staff_conns) {
			struct hub_conn *o = list_entry(jt, struct hub_conn, link);
			if (o != to && !o->dead && o->rs != NULL && arr != NULL)
				json_array_append_new(arr, colleague_json(h, o->rs));
		}
		hub_send_json(to, json_pack("{s:s, s:o}", "type", "colleagues", "staff", arr), NULL);
	}
	h->colleagues_dirty = false;
}

static struct staff_away *away_find(struct hub *h, const struct router_staff *rs)
{
	struct list *it;

	list_for_each(it, &h->staff_away) {
		struct staff_away *a = list_entry(it, struct staff_away, link);
		if (a->rs == rs)
			return a;
	}
	return NULL;
}

/* Keep a chat's `ended` for a console in its reconnect grace, so that it
 * learns how the chat ended when it is back. */
void ssession_away_keep(struct hub *h, struct router_staff *rs, struct frame *f)
{
	struct staff_away *a = away_find(h, rs);

	if (a != NULL && f != NULL && a->n_missed < sizeof a->missed / sizeof a->missed[0])
		a->missed[a->n_missed++] = frame_ref(f);
}

void ssession_away_free(struct staff_away *a)
{
	for (unsigned i = 0; i < a->n_missed; i++)
		frame_unref(a->missed[i]);
	secmem_wipe(a->token, sizeof a->token);
	free(a);
}

/* The console of rs went away: keep rs for the grace, or remove it now
 * (its visitors go back to the head of their queues). */
void ssession_dropped(struct hub *h, struct router_staff *rs, const struct hub_conn *from, uint64_t now)
{
	struct staff_away *a = NULL;

	h->colleagues_dirty = true;
	if (h->cfg->staff_grace_s > 0 && !h->shutting_down)
		a = calloc(1, sizeof *a);
	if (a == NULL) {
		router_staff_remove(h->router, rs, now);
		return;
	}
	rs->owner = NULL;
	a->rs = rs;
	a->deadline_ms = now + (uint64_t)h->cfg->staff_grace_s * 1000;
	a->was_available = rs->available;
	a->rate = from->rate;
	a->srate = from->srate;
	memcpy(a->token, from->token, sizeof a->token);
	/* No new offers while nobody can answer them. */
	if (rs->available)
		router_staff_set_available(h->router, rs, false, now);
	list_add_tail(&h->staff_away, &a->link);
}

struct router_staff *ssession_placeholder(struct hub *h, const struct router_staff_info *info, bool available,
					  uint64_t now)
{
	struct staff_away *a;
	struct router_staff *rs;

	if (h->cfg->staff_grace_s == 0 || (a = calloc(1, sizeof *a)) == NULL)
		return NULL;
	rs = router_staff_add(h->router, NULL, info, now);
	if (rs == NULL) {
		free(a);
		return NULL;
	}
	a->rs = rs;
	a->deadline_ms = now + (uint64_t)h->cfg->staff_grace_s * 1000;
	a->was_available = available;
	/* The same grace for every seat: the tail keeps the deadline order. */
	list_add_tail(&h->staff_away, &a->link);
	h->colleagues_dirty = true;
	return rs;
}

struct router_staff *ssession_adopt_away(struct hub *h, const char *username, uint64_t id)
{
	struct list *it;

	list_for_each(it, &h->staff_away) {
		struct router_staff *rs = list_entry(it, struct staff_away, link)->rs;
		if (rs->owner == NULL && (rs->id & HUB_FOREIGN_STAFF_ID) != 0 && rs->id != id &&
		    strcmp(rs->username, username) == 0) {
			/* From now on the router knows the seat by its new id. */
			rs->id = id;
			return rs;
		}
	}
	return NULL;
}

/* The same account is back on c within the grace: tell it how chats ended
 * meanwhile (its chats and offers follow in staff_resend_state). */
static void staff_returned(struct hub *h, struct hub_conn *c, struct router_staff *rs, uint64_t now)
{
	struct staff_away *a = away_find(h, rs);

	if (a == NULL)
		return;
	list_remove(&a->link);
	/* Back with the same session (a reload): its flood windows go on. */
	if (token_equal(a->token, c->token)) {
		c->rate = a->rate;
		c->srate = a->srate;
	}
	for (unsigned i = 0; i < a->n_missed; i++)
		hub_send_frame(c, a->missed[i]);
	if (a->was_available)
		router_staff_set_available(h->router, rs, true, now);
	ssession_away_free(a);
}

void ssession_expire_away(struct hub *h, uint64_t now)
{
	/* Drop order is deadline order: stop at the first that is not due. */
	while (!list_empty(&h->staff_away)) {
		struct staff_away *a = list_entry(h->staff_away.next, struct staff_away, link);
		if (a->deadline_ms > now)
			break;
		list_remove(&a->link);
		router_staff_remove(h->router, a->rs, now);
		ssession_away_free(a);
	}
}

/* The router's view of an account: what it matches offers by. */
static struct router_staff_info staff_info(const struct hub *h, const struct staff_account *a)
{
	return (struct router_staff_info){
		.id = (uint64_t)a->id,
		.username = a->username,
		.alias = a->alias,
		.roles = a->roles,
		.langs = mask_of(h->cfg, a->langs, true),
		.topics = mask_of(h->cfg, a->topics, false),
		.max_chats = a->max_chats ? a->max_chats : 1,
	};
}

/* The `session` message: the token, its end and the account as it is. */
static void send_session(struct hub_conn *c, const struct staff_account *acct, int64_t expires, const char *id)
{
	char when[32];
	json_t *user;

	clock_iso8601(expires, when);
	user = json_pack("{s:s, s:s, s:o, s:o, s:o, s:i}", "user", acct->username, "alias", acct->alias,
			 "roles", roles_array(acct->roles), "langs", ssession_csv_array(acct->langs),
			 "topics", ssession_csv_array(acct->topics), "max_chats", (json_int_t)acct->max_chats);
	hub_send_json(c, json_pack("{s:s, s:s, s:s, s:o}", "type", "session", "token", c->token, "expires", when,
			       "user", user), id);
}

/* Bring c's copy of its account (roles) and the router's (roles, languages,
 * topics, chats at once) up to a, as stored now, so a change made by a
 * coordinator or the CLI applies to an open console at once (issue 12): a
 * demoted coordinator loses its powers with its next message. The console
 * hears `session` again, and `status` if it can no longer be available. */
void ssession_apply_account(struct hub *h, struct hub_conn *c, const struct staff_account *a)
{
	struct router_staff_info info = staff_info(h, a);
	struct router_staff *rs = c->rs;
	uint32_t was_roles = c->roles;

	if (rs == NULL || c->dead)
		return;
	if (a->disabled) {
		hub_close_conn(c, CLOSE_SESSION_EXPIRED, "session ended");
		return;
	}
	if (a->roles == c->roles && info.langs == rs->langs && info.topics == rs->topics &&
	    info.max_chats == rs->max_chats)
		return;
	c->roles = a->roles;
	router_staff_update(h->router, rs, &info, h->now_ms);
	send_session(c, a, c->expires_ms, NULL);
	/* Only the chat roles may take chats (the message table, CHAT_ROLES). */
	if (rs->available && !(a->roles & (BRUG_ROLE_VOLUNTEER | BRUG_ROLE_KEYPERSON | BRUG_ROLE_PROFESSIONAL))) {
		router_staff_set_available(h->router, rs, false, h->now_ms);
		hub_send_json(c, json_pack("{s:s, s:b}", "type", "status", "available", false), NULL);
	}
	h->colleagues_dirty = true;
	if ((was_roles ^ a->roles) & BRUG_ROLE_COORDINATOR) {
		free(h->dashboard_last);
		h->dashboard_last = NULL;
	}
	log_notice("c%llu staff %lld account changed: roles and languages refreshed",
		   (unsigned long long)c->no, (long long)a->id);
}

/* The end of every login, by password or by token: refuse, or take over an
 * existing session of the same account, or add the staff member. */
static int login_complete(struct hub_conn *c, int rc, struct staff_account *acct, int64_t expires,
			  const char *id)
{
	struct hub *h = c->hub;
	struct router_staff_info info;
	struct router_staff *existing;

	if (rc != 0) {
		log_notice("c%llu staff login refused", (unsigned long long)c->no);
		/* Protocol: a wrong login is answered, then the socket closes 4001. */
		/* A new password (with a reset code) that breaks the rules is
		 * told as bad_field: it says nothing about the account. */
		/* A busy database is told as such, and the socket closes with
		 * "try again later": the credentials may be right, and a
		 * console resuming by token keeps it and reconnects. */
		if (rc == BRUG_E_UNAVAILABLE) {
			hub_send_error(c, rc, id);
			hub_close_conn(c, CLOSE_TRY_AGAIN, "try again later");
			secmem_wipe(c->token, sizeof c->token);
			return -1;
		}
		hub_send_error(c, rc == BRUG_E_RATE_LIMITED || rc == BRUG_E_BAD_FIELD ? rc : BRUG_E_UNAUTHORIZED,
			   id);
		hub_close_conn(c, CLOSE_NOT_AUTHENTICATED, "not authenticated");
		secmem_wipe(c->token, sizeof c->token);
		return -1;
	}
	c->staff_id = acct->id;
	c->roles = acct->roles;
	c->expires_ms = expires;
	snprintf(c->username, sizeof c->username, "%s", acct->username);
	c->session_checked_ms = h->now_ms;
	existing = router_staff_find_id(h->router, (uint64_t)acct->id);
	if (existing == NULL)
		existing = ssession_adopt_away(h, acct->username, (uint64_t)acct->id);
	if (existing != NULL) {
		/* Same account on a new socket: move the live session over,
		 * with the account as it is now. */
		struct hub_conn *old = hub_staff_conn(existing);
		existing->owner = c;
		c->rs = existing;
		if (old != NULL) {
			/* The flood windows are the session's, not the socket's:
			 * a login with its token carries them on; a new login by
			 * password is a new session. */
			if (token_equal(old->token, c->token)) {
				c->rate = old->rate;
				c->srate = old->srate;
			}
			old->rs = NULL;
			hub_close_conn(old, CLOSE_REPLACED, "replaced");
		}
		info = staff_info(h, acct);
	} else {
		info = staff_info(h, acct);
		c->rs = router_staff_add(h->router, c, &info, h->now_ms);
		if (c->rs == NULL)
			return BRUG_E_INTERNAL;
	}
	send_session(c, acct, expires, id);
	if (existing != NULL) {
		/* After `session`, which must come first on the socket: the
		 * update may withdraw offers and tell this console. */
		router_staff_update(h->router, existing, &info, h->now_ms);
		staff_returned(h, c, existing, h->now_ms);
		staff_resend_state(h, c);
	}
	h->colleagues_dirty = true;
	if (acct->roles & BRUG_ROLE_COORDINATOR) {
		free(h->dashboard_last);
		h->dashboard_last = NULL;
	}
	if (h->n_notes > 0)
		hub_send_json(c, handover_json(h), NULL);
	log_notice("c%llu staff %lld logged in", (unsigned long long)c->no, (long long)acct->id);
	return 0;
}

static void login_run(void *arg)
{
	struct pending_login *pl = arg;

	staff_login_verify(pl->job);
	pl->ran = true;
}

static void login_done(void *arg)
{
	struct pending_login *pl = arg;
	struct hub *h = pl->hub;
	struct staff_account acct = { 0 };
	char token[TOKEN_STR_LEN];
	int64_t expires = 0;
	int rc;

	list_remove(&pl->link);
	if (!pl->ran) {
		/* The worker stopped before the check: nothing to record. */
		staff_login_job_free(pl->job);
		goto out;
	}
	/* The outcome counts for the back-off even if the socket is gone, so
	 * that hanging up early does not dodge the lockout. */
	rc = staff_login_end(h->staff, pl->job, (int64_t)hub_wall_now(h), &acct, token, &expires);
	if (pl->conn == NULL) {
		if (rc == 0)
			staff_logout(h->staff, token);
		goto out_acct;
	}
	pl->conn->login = NULL;
	if (rc == 0)
		memcpy(pl->conn->token, token, sizeof token);
	rc = login_complete(pl->conn, rc, &acct, expires, pl->id);
	if (rc > 0)
		hub_reply_error(pl->conn, rc, pl->id, h->now_ms);
out_acct:
	staff_account_fini(&acct);
	secmem_wipe(token, sizeof token);
out:
	secmem_free(pl, sizeof *pl);
}

/* Password checks in flight from the source addr ("" counts as one). */
static unsigned logins_from(const struct hub *h, const char *addr)
{
	const struct list *it;
	unsigned n = 0;

	list_for_each(it, &h->logins)
		n += strcmp(list_entry(it, struct pending_login, link)->addr, addr) == 0;
	return n;
}

/* A token our database does not know, of a console whose home node was
 * lost: if that node listed the session (by hash), the same account here
 * gets a session of its own, whose token the console is sent. */
static int resume_from_cluster(struct hub_conn *c, const char *token, struct staff_account *acct,
			       int64_t *expires)
{
	struct hub *h = c->hub;
	char hash[65], user[65];
	int rc = BRUG_E_UNAUTHORIZED;

	if (strlen(token) != TOKEN_STR_LEN - 1)
		return rc;
	token_hash_hex(token, hash);
	if (cluster_staff_session_user(h->cluster, hash, (int64_t)hub_wall_now(h), user)) {
		staff_account_fini(acct);
		rc = staff_session_open(h->staff, user, (int64_t)hub_wall_now(h), acct, c->token, expires);
		if (rc == 0)
			log_notice("c%llu staff session of a lost node goes on here", (unsigned long long)c->no);
	}
	secmem_wipe(hash, sizeof hash);
	return rc;
}

int ssession_on_login(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct hub *h = c->hub;
	struct staff_account acct = { 0 };
	struct pending_login *pl;
	int64_t expires = 0;
	int rc;

	if (c->rs != NULL || c->login != NULL)
		return BRUG_E_CONFLICT;
	if (in->lang != NULL) {
		int lang = config_lang_index(h->cfg, in->lang);
		if (lang < 0) {
			/* Not a valid login: answer, then close as for any other. */
			hub_send_error(c, BRUG_E_BAD_FIELD, in->id);
			hub_close_conn(c, CLOSE_NOT_AUTHENTICATED, "not authenticated");
			return -1;
		}
		c->lang = lang;
	}
	if (in->token != NULL) {
		rc = staff_resume(h->staff, in->token, (int64_t)hub_wall_now(h), &acct, &expires);
		if (rc == 0)
			snprintf(c->token, sizeof c->token, "%s", in->token);
		else if (rc == BRUG_E_UNAUTHORIZED && h->cluster != NULL)
			rc = resume_from_cluster(c, in->token, &acct, &expires);
		rc = login_complete(c, rc, &acct, expires, in->id);
		staff_account_fini(&acct);
		return rc;
	}
	/* Password (or reset code and new password) and the TOTP code; the
	 * code is checked after the password, in staff_login_end(). */
	pl = calloc(1, sizeof *pl);
	if (pl == NULL)
		return BRUG_E_INTERNAL;
	pl->hub = h;
	pl->conn = c;
	snprintf(pl->id, sizeof pl->id, "%s", in->id);
	snprintf(pl->addr, sizeof pl->addr, "%s", c->addr_key != NULL ? c->addr_key : "");
	/* One source gets a few checks at a time, counted whether or not its
	 * sockets are still there, so the queue stays open to the others. */
	if (logins_from(h, pl->addr) >= LOGINS_PER_SOURCE) {
		free(pl);
		return login_complete(c, BRUG_E_RATE_LIMITED, NULL, 0, in->id);
	}
	rc = staff_login_begin(h->staff, in->user, in->password, in->totp, in->reset_code, c->addr_key,
			       (int64_t)hub_wall_now(h), &pl->job);
	if (rc == 0 && (h->worker == NULL || worker_submit(h->worker, login_run, login_done, pl) != 0)) {
		/* Too many logins in flight: the same answer as a lockout. */
		staff_login_job_free(pl->job);
		rc = BRUG_E_RATE_LIMITED;
	}
	if (rc != 0) {
		free(pl);
		return login_complete(c, rc, NULL, 0, in->id);
	}
	list_add_tail(&h->logins, &pl->link);
	c->login = pl;
	return 0;
}

int ssession_on_logout(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	staff_logout(c->hub->staff, c->token);
	secmem_wipe(c->token, sizeof c->token);
	hub_send_json(c, json_pack("{s:s}", "type", "logout"), in->id);
	router_staff_remove(c->hub->router, c->rs, now);
	c->rs = NULL;
	c->hub->colleagues_dirty = true;
	hub_close_conn(c, 1000, "logged out");
	return 0;
}

/* Staff sessions expire while the socket is open too (idle or absolute).
 * A message counts as activity, but the database is asked at most once per
 * SESSION_CHECK_MS per console: a write per chat message would put I/O on
 * the hot path, and the periodic sweep catches expiry in between. The
 * check also brings the account up to date (a change from the CLI). Only a
 * session the database says is gone closes the console: a busy or
 * unwritable database (which never makes the loop wait) keeps it, and the
 * next check asks again. */
bool ssession_alive(struct hub_conn *c, uint64_t now, bool touch)
{
	struct staff_account acct;
	int64_t expires = 0;
	int rc;

	/* A console on another node: its home checks its session. */
	if (c->rs == NULL || c->ops != &c->hub->ops)
		return true;
	if (touch) {
		if (now - c->session_checked_ms < SESSION_CHECK_MS)
			return true;
		c->session_checked_ms = now;
	}
	rc = staff_session_account(c->hub->staff, c->token, (int64_t)hub_wall_now(c->hub), touch, &acct, &expires);
	if (rc == 0) {
		if (c->db_unavailable)
			log_notice("c%llu session check: database available again", (unsigned long long)c->no);
		c->db_unavailable = false;
		c->expires_ms = expires;
		ssession_apply_account(c->hub, c, &acct);
		staff_account_fini(&acct);
		return !c->dead;
	}
	if (rc != BRUG_E_UNAUTHORIZED) {
		if (!c->db_unavailable)
			log_warn("c%llu session check: database unavailable; the console stays logged in",
				 (unsigned long long)c->no);
		c->db_unavailable = true;
		return true;
	}
	hub_close_conn(c, CLOSE_SESSION_EXPIRED, "session expired");
	return false;
}

/* ---- staff of other nodes (docs/cluster.md, section 3) ---- */

void hub_each_local_staff(struct hub *h,
			  void (*fn)(void *ctx, const struct router_staff *rs, const char *token_hash, int64_t expires_ms),
			  void *ctx)
{
	struct list *it;
	char hash[65];

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *c = list_entry(it, struct hub_conn, link);
		if (c->dead || c->rs == NULL || c->ops != &h->ops)
			continue;
		/* Only the hash travels: another node can recognise the token
		 * when the console comes to it, but cannot make one from it. */
		if (c->token[0] != '\0')
			token_hash_hex(c->token, hash);
		else
			hash[0] = '\0';
		fn(ctx, c->rs, hash, c->expires_ms);
	}
	secmem_wipe(hash, sizeof hash);
}

struct hub_conn *hub_remote_staff_open(struct hub *h, const struct hub_edge_ops *ops, void *edge,
				       const struct router_staff_info *info, uint64_t conn_no)
{
	struct hub_conn *c = hub_conn_new(h, edge, PROTO_SIDE_STAFF, conn_no);
	struct router_staff *existing;

	if (c == NULL)
		return NULL;
	c->ops = ops;
	c->staff_id = (int64_t)info->id;
	c->roles = info->roles;
	snprintf(c->username, sizeof c->username, "%s", info->username);
	existing = router_staff_find_id(h->router, info->id);
	if (existing == NULL)
		existing = ssession_adopt_away(h, info->username, info->id);
	if (existing != NULL && hub_staff_conn(existing) == NULL) {
		/* Back within the reconnect grace: it keeps its chats. */
		existing->owner = c;
		c->rs = existing;
		list_add_tail(&h->staff_conns, &c->link);
		h->n_staff++;
		staff_returned(h, c, existing, h->now_ms);
		staff_resend_state(h, c);
		h->colleagues_dirty = true;
		return c;
	}
	c->rs = router_staff_add(h->router, c, info, h->now_ms);
	if (c->rs == NULL) {
		free(c);
		return NULL;
	}
	list_add_tail(&h->staff_conns, &c->link);
	h->n_staff++;
	h->colleagues_dirty = true;
	log_info("c%llu staff open (from another node)", (unsigned long long)conn_no);
	return c;
}

void hub_conn_set_elsewhere(struct hub_conn *c, unsigned n, uint64_t now)
{
	if (c == NULL || c->rs == NULL)
		return;
	c->hub->now_ms = now;
	router_staff_set_elsewhere(c->hub->router, c->rs, n, now);
}

unsigned hub_conn_open_chats(const struct hub_conn *c)
{
	return c != NULL && c->rs != NULL ? c->rs->open_chats : 0;
}

void hub_set_local_elsewhere(struct hub *h, unsigned (*count)(void *ctx, const char *user), void *ctx,
			     uint64_t now)
{
	struct list *it;

	h->now_ms = now;
	list_for_each(it, &h->staff_conns) {
		struct hub_conn *c = list_entry(it, struct hub_conn, link);
		if (!c->dead && c->rs != NULL && c->ops == &h->ops)
			router_staff_set_elsewhere(h->router, c->rs, count(ctx, c->username), now);
	}
}

void hub_remote_staff_available(struct hub_conn *c, bool available, uint64_t now)
{
	if (c == NULL || c->rs == NULL || c->rs->available == available)
		return;
	c->hub->now_ms = now;
	router_staff_set_available(c->hub->router, c->rs, available, now);
	c->hub->colleagues_dirty = true;
}

void hub_deliver_staff(struct hub *h, const char *username, const char *text, size_t len)
{
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *c = list_entry(it, struct hub_conn, link);
		if (!c->dead && c->rs != NULL && c->ops == &h->ops && strcmp(c->username, username) == 0)
			hub_deliver(c, text, len);
	}
}
