/* The sockets and consoles of other nodes (docs/cluster.md): remote visitor
 * and staff edges for our hub, staff presence, forwarding our visitors to
 * the owner of their language, resume questions and staff routing. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "brug-build.h"
#include "cluster.h"
#include "config.h"
#include "hub.h"
#include "members.h"
#include "proto.h"
#include "replica.h"
#include "router.h"
#include "util/clock.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/token.h"

#include "cluster_private.h"

#if BRUG_HAVE_NATS

/* The owner's hub sends a frame to a socket on another node. */
static void remote_send(void *edge, struct frame *f)
{
	struct remote *r = edge;

	cluster_send_to(r->cl, r->home, json_pack("{s:s, s:I, s:s%}", "t", "out", "id", (json_int_t)r->id,
					  "f", (const char *)f->data + FRAME_PRE, f->len));
}

static void remote_close(void *edge, int code, const char *reason)
{
	struct remote *r = edge;

	cluster_send_to(r->cl, r->home, json_pack("{s:s, s:I, s:i, s:s}", "t", "kick", "id", (json_int_t)r->id,
					  "code", code, "reason", reason != NULL ? reason : ""));
	/* Reported closed at the next poll, whether or not the home answers
	 * with `close` (it may have lost the socket already). */
	r->closing = true;
}

static const struct hub_edge_ops remote_ops = {
	.send = remote_send,
	.close = remote_close,
};

void cluster_remote_free(struct remote *r, uint64_t now)
{
	list_remove(&r->link);
	if (r->conn != NULL)
		hub_closed(r->conn, now);
	free(r);
}

/* The frames a console on another node gets from our hub: those about our
 * offers and chats. Its list of chats, availability, colleagues and the
 * dashboard come from its home. Frames start {"type":"...". */
static bool staff_frame_wanted(const struct frame *f)
{
	static const char *const wanted[] = { "offer", "offer_gone", "chat", "msg", "typing", "joined", "left",
					      "ended", "presence", "request_failed", "error", NULL };
	const char *p = (const char *)f->data + FRAME_PRE, *end;
	size_t n;

	if (f->len < 10 || strncmp(p, "{\"type\":\"", 9) != 0)
		return false;
	p += 9;
	end = memchr(p, '"', f->len - 9);
	if (end == NULL)
		return false;
	n = (size_t)(end - p);
	for (unsigned i = 0; wanted[i] != NULL; i++)
		if (strlen(wanted[i]) == n && memcmp(wanted[i], p, n) == 0)
			return true;
	return false;
}

static void sproxy_send(void *edge, struct frame *f)
{
	struct sproxy *p = edge;

	if (!p->closing && staff_frame_wanted(f))
		cluster_send_to(p->cl, p->home, json_pack("{s:s, s:s, s:s%}", "t", "sout", "u", p->user,
						  "f", (const char *)f->data + FRAME_PRE, f->len));
}

/* Our hub closes a proxy (replaced, session ended): the console at its
 * home stays; the proxy is reported closed at the next poll. */
static void sproxy_close(void *edge, int code, const char *reason)
{
	((struct sproxy *)edge)->closing = true;
}

static const struct hub_edge_ops sproxy_ops = {
	.send = sproxy_send,
	.close = sproxy_close,
};

void cluster_sproxy_free(struct sproxy *p, uint64_t now)
{
	list_remove(&p->link);
	if (p->conn != NULL)
		hub_closed(p->conn, now);
	free(p);
}

static struct sproxy *find_sproxy(struct cluster *cl, const char *home, const char *user)
{
	struct list *it;

	list_for_each(it, &cl->sproxies) {
		struct sproxy *p = list_entry(it, struct sproxy, link);
		if (strcmp(p->home, home) == 0 && strcmp(p->user, user) == 0)
			return p;
	}
	return NULL;
}

/* ---- staff sessions of other nodes (section 8) ---- */

static void ssess_remove(struct cluster *cl, unsigned k)
{
	secmem_wipe(cl->ssess[k].hash, sizeof cl->ssess[k].hash);
	cl->ssess[k] = cl->ssess[--cl->n_ssess];
	secmem_wipe(&cl->ssess[cl->n_ssess], sizeof cl->ssess[cl->n_ssess]);
}

/* home lists user's session with token hash h, ending at until (wall ms). */
static void ssess_note(struct cluster *cl, const char *home, const char *user, const char *h, int64_t until)
{
	unsigned k;

	for (k = 0; k < cl->n_ssess; k++)
		if (strcmp(cl->ssess[k].home, home) == 0 && token_equal(cl->ssess[k].hash, h))
			break;
	if (k == cl->n_ssess) {
		if (cl->n_ssess == SSESS_MAX)
			return;   /* more consoles than a helpline has: those resume by password */
		cl->n_ssess++;
	}
	snprintf(cl->ssess[k].user, sizeof cl->ssess[k].user, "%s", user);
	snprintf(cl->ssess[k].hash, sizeof cl->ssess[k].hash, "%s", h);
	snprintf(cl->ssess[k].home, sizeof cl->ssess[k].home, "%s", home);
	cl->ssess[k].until_wall_ms = until;
	cl->ssess[k].seen = true;
}

/* home is lost: its consoles may resume here within the reconnect grace. */
static void ssess_home_lost(struct cluster *cl, const char *home)
{
	int64_t grace_end = clock_wall_ms() + (int64_t)cl->cfg->staff_grace_s * 1000;

	for (unsigned k = 0; k < cl->n_ssess;) {
		struct ssess *e = &cl->ssess[k];
		if (strcmp(e->home, home) != 0) {
			k++;
			continue;
		}
		if (cl->cfg->staff_grace_s == 0) {
			ssess_remove(cl, k);
			continue;
		}
		if (e->until_wall_ms > grace_end)
			e->until_wall_ms = grace_end;
		k++;
	}
}

bool cluster_staff_session_user(struct cluster *cl, const char *hash, int64_t now_wall_ms, char user[65])
{
	if (cl == NULL || hash == NULL || strlen(hash) != 64)
		return false;
	for (unsigned k = 0; k < cl->n_ssess;) {
		struct ssess *e = &cl->ssess[k];
		if (e->until_wall_ms <= now_wall_ms) {
			ssess_remove(cl, k);
			continue;
		}
		/* Only a session whose home is gone: a console whose home is
		 * alive reconnects there (the load balancer sends it back). */
		if (token_equal(e->hash, hash) && !members_has(cl->members, e->home)) {
			snprintf(user, 65, "%s", e->user);
			ssess_remove(cl, k);
			return true;
		}
		k++;
	}
	return false;
}

/* ---- capacity across owners (section 3) ---- */

/* reporter's list of the chats its router has with other nodes' members
 * replaces what it said before; NULL (it left) forgets it. */
static void hosted_note(struct cluster *cl, const char *reporter, json_t *list)
{
	json_t *e;
	size_t i;

	for (unsigned k = 0; k < cl->n_hosted;) {
		if (strcmp(cl->hosted[k].reporter, reporter) == 0)
			cl->hosted[k] = cl->hosted[--cl->n_hosted];
		else
			k++;
	}
	if (!json_is_array(list))
		return;
	json_array_foreach(list, i, e) {
		const char *home = NULL, *user = NULL;
		json_int_t n = 0;
		if (cl->n_hosted == HOSTED_MAX)
			break;
		if (json_unpack(e, "[s, s, I]", &home, &user, &n) != 0 || !members_name_valid(home) ||
		    strlen(user) > 64 || n <= 0)
			continue;
		struct hosted *hs = &cl->hosted[cl->n_hosted++];
		snprintf(hs->reporter, sizeof hs->reporter, "%s", reporter);
		snprintf(hs->home, sizeof hs->home, "%s", home);
		snprintf(hs->user, sizeof hs->user, "%s", user);
		hs->n = (unsigned)n;
	}
}

/* node's queues and chats per language; NULL (it left) forgets them. */
static void stats_note(struct cluster *cl, const char *node, json_t *list)
{
	unsigned k;
	json_t *e;
	size_t i;

	for (k = 0; k < cl->n_nstats && strcmp(cl->nstats[k].node, node) != 0; k++)
		;
	if (!json_is_array(list)) {
		if (k < cl->n_nstats)
			cl->nstats[k] = cl->nstats[--cl->n_nstats];
		return;
	}
	if (k == cl->n_nstats) {
		if (cl->n_nstats == MEMBERS_MAX)
			return;
		cl->n_nstats++;
	}
	struct node_stats *ns = &cl->nstats[k];
	memset(ns, 0, sizeof *ns);
	snprintf(ns->node, sizeof ns->node, "%s", node);
	json_array_foreach(list, i, e) {
		json_int_t w = 0, c = 0, o = 0, t = 0;
		if (i >= cl->cfg->n_langs || json_unpack(e, "[I, I, I, I]", &w, &c, &o, &t) != 0 || w < 0 || c < 0 ||
		    o < 0 || t < 0)
			break;
		ns->lang[i].waiting = (unsigned)w;
		ns->lang[i].chats = (unsigned)c;
		ns->lang[i].offers = (unsigned)o;
		ns->lang[i].oldest_wall_ms = (uint64_t)t;
		ns->n = (unsigned)i + 1;
	}
}

void cluster_add_lang_stats(struct cluster *cl, struct router_lang_stats *out, unsigned n, uint64_t now_ms,
			    uint64_t wall_ms)
{
	if (cl == NULL)
		return;
	for (unsigned k = 0; k < cl->n_nstats; k++) {
		const struct node_stats *ns = &cl->nstats[k];
		if (!members_has(cl->members, ns->node))
			continue;
		for (unsigned l = 0; l < n && l < ns->n; l++) {
			out[l].waiting += ns->lang[l].waiting;
			out[l].chats += ns->lang[l].chats;
			out[l].offers += ns->lang[l].offers;
			if (ns->lang[l].oldest_wall_ms == 0)
				continue;
			/* Their wall clock to our monotonic one. */
			uint64_t ago = wall_ms > ns->lang[l].oldest_wall_ms ? wall_ms - ns->lang[l].oldest_wall_ms : 0;
			uint64_t mono = now_ms > ago ? now_ms - ago : 1;
			if (out[l].oldest_enqueued_ms == 0 || mono < out[l].oldest_enqueued_ms)
				out[l].oldest_enqueued_ms = mono;
		}
	}
}

/* Chats of home's user on routers other than ours and `except`'s. */
static unsigned hosted_sum(const struct cluster *cl, const char *home, const char *user, const char *except)
{
	unsigned n = 0;

	for (unsigned k = 0; k < cl->n_hosted; k++) {
		const struct hosted *hs = &cl->hosted[k];
		if (strcmp(hs->home, home) == 0 && strcmp(hs->user, user) == 0 &&
		    strcmp(hs->reporter, cl->cfg->node) != 0 && (except == NULL || strcmp(hs->reporter, except) != 0))
			n += hs->n;
	}
	return n;
}

static unsigned local_elsewhere(void *ctx, const char *user)
{
	struct cluster *cl = ctx;

	return hosted_sum(cl, cl->cfg->node, user, NULL);
}

void cluster_count_elsewhere(struct cluster *cl, uint64_t now)
{
	struct list *it;

	if (cl->hub == NULL)
		return;
	/* A proxy: its chats at its home and on every other node. */
	list_for_each(it, &cl->sproxies) {
		struct sproxy *p = list_entry(it, struct sproxy, link);
		if (!p->closing)
			hub_conn_set_elsewhere(p->conn, p->home_open + hosted_sum(cl, p->home, p->user, p->home), now);
	}
	hub_set_local_elsewhere(cl->hub, local_elsewhere, cl, now);
}

/* Publish who is logged in here (every heartbeat), so that the owners of
 * other languages can offer them chats (section 3). */
struct presence_ctx {
	const struct config *cfg;
	json_t *list;
};

static void add_presence(void *ctx, const struct router_staff *rs, const char *token_hash, int64_t expires_ms)
{
	struct presence_ctx *pc = ctx;
	char langs[CONFIG_MAX_LANGS * 4] = "";
	size_t off = 0;

	for (unsigned i = 0; i < pc->cfg->n_langs; i++)
		if (rs->langs & (1u << i))
			off += (size_t)snprintf(langs + off, sizeof langs - off, "%s%s", off ? " " : "", pc->cfg->langs[i]);
	json_array_append_new(pc->list, json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:b, s:s, s:I, s:I}", "u", rs->username,
						  "a", rs->alias, "r", (json_int_t)rs->roles, "l", langs,
						  "t", (json_int_t)rs->topics, "m", (json_int_t)rs->max_chats,
						  "v", rs->available, "h", token_hash, "x", (json_int_t)expires_ms,
						  "o", (json_int_t)rs->open_chats));
}

void cluster_publish_presence(struct cluster *cl)
{
	struct presence_ctx pc = { cl->cfg, json_array() };
	json_t *msg;
	char *text;

	if (cl->hub == NULL || cl->nc == NULL || pc.list == NULL) {
		json_decref(pc.list);
		return;
	}
	hub_each_local_staff(cl->hub, add_presence, &pc);
	/* The chats our router has with other nodes' members, so that their
	 * homes and the other owners count them (section 3). */
	json_t *hosted = json_array();
	struct list *it;
	list_for_each(it, &cl->sproxies) {
		struct sproxy *p = list_entry(it, struct sproxy, link);
		unsigned n = p->closing ? 0 : hub_conn_open_chats(p->conn);
		if (n > 0 && hosted != NULL)
			json_array_append_new(hosted, json_pack("[s, s, I]", p->home, p->user, (json_int_t)n));
	}
	/* Our router's queues and chats, for the others' dashboards. */
	struct router_lang_stats ls[ROUTER_MAX_LANGS];
	json_t *stats = json_array();
	hub_lang_stats_wall(cl->hub, ls, cl->cfg->n_langs);
	for (unsigned l = 0; stats != NULL && l < cl->cfg->n_langs; l++)
		json_array_append_new(stats, json_pack("[I, I, I, I]", (json_int_t)ls[l].waiting, (json_int_t)ls[l].chats,
						       (json_int_t)ls[l].offers, (json_int_t)ls[l].oldest_enqueued_ms));
	msg = json_pack("{s:s, s:o, s:o, s:o}", "from", cl->cfg->node, "staff", pc.list,
			"hosted", hosted != NULL ? hosted : json_array(), "ls", stats != NULL ? stats : json_array());
	text = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (text != NULL)
		cluster_publish(cl, SUBJ_STAFF, text, strlen(text));
	if (text != NULL)
		secmem_wipe(text, strlen(text));   /* session hashes */
	free(text);
}

/* A home's presence list: proxies appear, follow its availability, and
 * go (into the hub's reconnect grace) when they are no longer listed. */
void cluster_handle_presence(struct cluster *cl, const char *text, size_t len, uint64_t now)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, 0, &jerr), *list = NULL, *e;
	const char *from = NULL;
	struct list *it, *tmp;
	size_t i;

	if (j == NULL || cl->hub == NULL || json_unpack(j, "{s:s, s:o}", "from", &from, "staff", &list) != 0 ||
	    !json_is_array(list) || !members_name_valid(from) || strcmp(from, cl->cfg->node) == 0 ||
	    !members_has(cl->members, from))
		goto out;
	list_for_each(it, &cl->sproxies) {
		struct sproxy *p = list_entry(it, struct sproxy, link);
		if (strcmp(p->home, from) == 0)
			p->seen = false;
	}
	for (unsigned k = 0; k < cl->n_ssess; k++)
		if (strcmp(cl->ssess[k].home, from) == 0)
			cl->ssess[k].seen = false;
	json_array_foreach(list, i, e) {
		const char *u = NULL, *a = NULL, *l = NULL, *h = NULL;
		json_int_t r = 0, t = 0, m = 1, x = 0;
		int v = 0;
		struct sproxy *p;
		if (json_unpack(e, "{s:s, s:s, s:I, s:s, s:I, s:I, s:b, s?:s, s?:I}", "u", &u, "a", &a, "r", &r,
				"l", &l, "t", &t, "m", &m, "v", &v, "h", &h, "x", &x) != 0 || strlen(u) > 64)
			continue;
		if (h != NULL && strlen(h) == 64)
			ssess_note(cl, from, u, h, x);
		json_int_t o = 0;
		json_unpack(e, "{s?:I}", "o", &o);
		p = find_sproxy(cl, from, u);
		if (p == NULL) {
			unsigned char key[crypto_shorthash_KEYBYTES] = "brug-staff-id-v1", hash[8];
			char who[MEMBERS_NAME_MAX + 70], lbuf[128], *save = NULL;
			uint32_t langs = 0;
			uint64_t id = 0;
			snprintf(lbuf, sizeof lbuf, "%s", l);
			for (char *tok = strtok_r(lbuf, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save))
				for (unsigned k = 0; k < cl->cfg->n_langs; k++)
					if (strcmp(cl->cfg->langs[k], tok) == 0)
						langs |= 1u << k;
			/* Account ids are per node's database: a proxy's id is made
			 * from its home and user name, above any real account id. */
			snprintf(who, sizeof who, "%s/%s", from, u);
			crypto_shorthash(hash, (const unsigned char *)who, strlen(who), key);
			memcpy(&id, hash, sizeof id);
			id = (id >> 2) | HUB_FOREIGN_STAFF_ID;
			struct router_staff_info info = {
				.id = id, .username = u, .alias = a, .roles = (uint32_t)r, .langs = langs,
				.topics = (uint64_t)t, .max_chats = m > 0 ? (unsigned)m : 1,
			};
			p = calloc(1, sizeof *p);
			if (p == NULL)
				continue;
			p->cl = cl;
			snprintf(p->home, sizeof p->home, "%s", from);
			snprintf(p->user, sizeof p->user, "%s", u);
			p->conn = hub_remote_staff_open(cl->hub, &sproxy_ops, p, &info, REMOTE_CONN_BASE + ++cl->next_remote_no);
			if (p->conn == NULL) {
				free(p);
				continue;
			}
			list_add_tail(&cl->sproxies, &p->link);
		}
		p->seen = true;
		p->home_open = o > 0 ? (unsigned)o : 0;
		if (!p->closing)
			hub_remote_staff_available(p->conn, v != 0, now);
	}
	hosted_note(cl, from, json_object_get(j, "hosted"));
	stats_note(cl, from, json_object_get(j, "ls"));
	list_for_each_safe(it, tmp, &cl->sproxies) {
		struct sproxy *p = list_entry(it, struct sproxy, link);
		if (strcmp(p->home, from) == 0 && !p->seen)
			cluster_sproxy_free(p, now);
	}
	/* Not listed any more: logged out (or expired) at its home. */
	for (unsigned k = 0; k < cl->n_ssess;) {
		if (strcmp(cl->ssess[k].home, from) == 0 && !cl->ssess[k].seen)
			ssess_remove(cl, k);
		else
			k++;
	}
	cluster_count_elsewhere(cl, now);
out:
	json_decref(j);
}

/* A frame from node for a console here names a chat: remember where the
 * chat is, until its `ended`. */
static void note_chat_route(struct cluster *cl, const char *node, const char *frame, size_t len)
{
	static const char chat_frame[] = "{\"type\":\"chat\"", ended_frame[] = "{\"type\":\"ended\"";
	json_error_t jerr;
	json_t *j = NULL;
	const char *type = NULL, *chat = NULL;
	unsigned k;
	uint64_t id;

	/* Only a chat's first frame to a console and its end say where it
	 * is: the other frames (every message) are not parsed again. */
	if ((len < sizeof chat_frame - 1 || memcmp(frame, chat_frame, sizeof chat_frame - 1) != 0) &&
	    (len < sizeof ended_frame - 1 || memcmp(frame, ended_frame, sizeof ended_frame - 1) != 0))
		return;
	j = json_loadb(frame, len, 0, &jerr);
	if (j == NULL || json_unpack(j, "{s:s, s:s}", "type", &type, "chat", &chat) != 0)
		goto out;
	id = strtoull(chat, NULL, 10);
	for (k = 0; k < cl->n_routes && cl->routes[k].chat != id; k++)
		;
	if (strcmp(type, "ended") == 0) {
		if (k < cl->n_routes)
			cl->routes[k] = cl->routes[--cl->n_routes];
		goto out;
	}
	if (k == cl->n_routes) {
		if (cl->n_routes == CHAT_ROUTES_MAX)
			goto out;   /* then the id's base decides, as before */
		cl->n_routes++;
	}
	cl->routes[k].chat = id;
	snprintf(cl->routes[k].node, sizeof cl->routes[k].node, "%s", node);
out:
	json_decref(j);
}

bool cluster_staff_route(struct cluster *cl, const char *username, uint64_t id, const char *buf, size_t len)
{
	uint64_t base = id & ID_BASE_MASK;

	if (cl == NULL)
		return false;
	for (unsigned k = 0; k < cl->n_routes; k++) {
		if (cl->routes[k].chat == id && members_has(cl->members, cl->routes[k].node)) {
			cluster_send_to(cl, cl->routes[k].node, json_pack("{s:s, s:s, s:s%}", "t", "sin", "u", username,
									   "f", buf, len));
			return true;
		}
	}
	if (base == 0 || (cl->hub != NULL && base == hub_id_base(cl->hub)))
		return false;
	for (unsigned i = 0; i < cl->n_bases; i++) {
		if (cl->bases[i].base == base && members_has(cl->members, cl->bases[i].node)) {
			cluster_send_to(cl, cl->bases[i].node, json_pack("{s:s, s:s, s:s%}", "t", "sin", "u", username,
								 "f", buf, len));
			return true;
		}
	}
	return false;
}

static struct remote *find_remote(struct cluster *cl, const char *home, uint64_t id)
{
	struct list *it;

	list_for_each(it, &cl->remotes) {
		struct remote *r = list_entry(it, struct remote, link);
		if (r->id == id && strcmp(r->home, home) == 0)
			return r;
	}
	return NULL;
}

static struct cluster_fwd *find_fwd(struct cluster *cl, const char *owner, uint64_t id)
{
	struct list *it;

	list_for_each(it, &cl->fwds) {
		struct cluster_fwd *f = list_entry(it, struct cluster_fwd, link);
		if (f->id == id && strcmp(f->owner, owner) == 0)
			return f;
	}
	return NULL;
}

/* A node is gone (silent, or said goodbye): the sockets it served for us
 * reconnect elsewhere, and its sockets that we served are dropped, which
 * starts their grace period here as for any dropped socket (section 6). */
void cluster_node_lost(struct cluster *cl, const char *name, uint64_t now)
{
	struct list *it, *tmp;

	list_for_each_safe(it, tmp, &cl->remotes) {
		struct remote *r = list_entry(it, struct remote, link);
		if (strcmp(r->home, name) == 0)
			cluster_remote_free(r, now);
	}
	list_for_each_safe(it, tmp, &cl->sproxies) {
		struct sproxy *p = list_entry(it, struct sproxy, link);
		if (strcmp(p->home, name) == 0)
			cluster_sproxy_free(p, now);
	}
	ssess_home_lost(cl, name);
	for (unsigned k = 0; k < cl->n_routes;) {
		if (strcmp(cl->routes[k].node, name) == 0)
			cl->routes[k] = cl->routes[--cl->n_routes];
		else
			k++;
	}
	hosted_note(cl, name, NULL);
	stats_note(cl, name, NULL);
	cluster_count_elsewhere(cl, now);
	list_for_each(it, &cl->fwds) {
		struct cluster_fwd *f = list_entry(it, struct cluster_fwd, link);
		if (strcmp(f->owner, name) == 0 && !f->lost) {
			f->lost = true;
			/* 1012: service restart; the client reconnects. */
			hub_kick(f->conn, 1012, "node lost");
		}
	}
	cluster_restore_lost(cl, name, now);
}

static void resume_found(struct cluster *cl, struct cluster_fwd *f, const char *from);

/* A message on brug.v1.node.<us> (section 9): {"t","from","id",...}. */
void cluster_handle_node_msg(struct cluster *cl, const char *text, size_t len, uint64_t now)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, 0, &jerr);
	const char *t = NULL, *from = NULL, *f = NULL, *lang = NULL, *reason = NULL, *u = NULL, *src = NULL;
	size_t flen = 0;
	json_int_t id = 0;
	int code = 1011;

	if (j != NULL && json_unpack(j, "{s:s, s:s}", "t", &t, "from", &from) == 0 && strncmp(t, "rep", 3) == 0 &&
	    members_name_valid(from)) {
		cluster_handle_replica(cl, t, from, j);
		goto out;
	}
	if (j == NULL || json_unpack(j, "{s:s, s:s, s?:I, s?:s%, s?:s, s?:i, s?:s, s?:s, s?:s}", "t", &t, "from", &from,
				     "id", &id, "f", &f, &flen, "lang", &lang, "code", &code, "reason", &reason,
				     "u", &u, "src", &src) != 0 ||
	    !members_name_valid(from) || cl->hub == NULL) {
		log_warn("cluster: ignoring a malformed node message");
		goto out;
	}
	if (strcmp(t, "sout") == 0 && u != NULL && f != NULL) {
		note_chat_route(cl, from, f, flen);
		hub_deliver_staff(cl->hub, u, f, flen);
	} else if (strcmp(t, "sin") == 0 && u != NULL && f != NULL) {
		struct sproxy *p = find_sproxy(cl, from, u);
		if (p != NULL && !p->closing)
			hub_input(p->conn, f, flen, now);
	} else if (strcmp(t, "resume!") == 0 && members_has(cl->members, from)) {
		/* Only a member: a socket relayed to a node we do not list would
		 * never hear of its loss. */
		struct list *it;
		list_for_each(it, &cl->fwds) {
			struct cluster_fwd *fw = list_entry(it, struct cluster_fwd, link);
			if (fw->pending && fw->id == (uint64_t)id) {
				resume_found(cl, fw, from);
				break;
			}
		}
	} else if (strcmp(t, "open") == 0 && find_remote(cl, from, (uint64_t)id) == NULL) {
		struct remote *r = calloc(1, sizeof *r);
		int idx = -1;
		for (unsigned i = 0; lang != NULL && i < cl->cfg->n_langs; i++)
			if (strcmp(cl->cfg->langs[i], lang) == 0)
				idx = (int)i;
		if (r == NULL)
			goto out;
		r->cl = cl;
		r->id = (uint64_t)id;
		r->opened_ms = now;
		snprintf(r->home, sizeof r->home, "%s", from);
		/* Its home's key for the source, made ours: counted apart from
		 * our own sockets' sources and from other homes'. */
		char key[65] = "";
		if (src != NULL && src[0] != '\0' && strlen(src) < 65) {
			unsigned char h[32];
			crypto_generichash_state st;
			crypto_generichash_init(&st, NULL, 0, sizeof h);
			crypto_generichash_update(&st, (const unsigned char *)from, strlen(from) + 1);
			crypto_generichash_update(&st, (const unsigned char *)src, strlen(src));
			crypto_generichash_final(&st, h, sizeof h);
			sodium_bin2hex(key, sizeof key, h, sizeof h);
		}
		r->conn = hub_remote_visitor_open(cl->hub, &remote_ops, r, idx, key,
						  REMOTE_CONN_BASE + ++cl->next_remote_no);
		secmem_wipe(key, sizeof key);
		if (r->conn == NULL) {
			remote_close(r, 1001, "going away");
			free(r);
			goto out;
		}
		list_add_tail(&cl->remotes, &r->link);
	} else if (strcmp(t, "in") == 0 && f != NULL) {
		struct remote *r = find_remote(cl, from, (uint64_t)id);
		if (r != NULL && r->conn != NULL)
			hub_input(r->conn, f, flen, now);
	} else if (strcmp(t, "close") == 0) {
		struct remote *r = find_remote(cl, from, (uint64_t)id);
		if (r != NULL)
			cluster_remote_free(r, now);
	} else if (strcmp(t, "out") == 0 && f != NULL) {
		struct cluster_fwd *fw = find_fwd(cl, from, (uint64_t)id);
		if (fw != NULL && !fw->lost)
			hub_deliver(fw->conn, f, flen);
	} else if (strcmp(t, "kick") == 0) {
		struct cluster_fwd *fw = find_fwd(cl, from, (uint64_t)id);
		if (fw != NULL && !fw->lost)
			hub_kick(fw->conn, code >= 1000 && code < 5000 ? code : 1011, reason != NULL ? reason : "");
	}
out:
	json_decref(j);
}

struct cluster_fwd *cluster_forward_open(struct cluster *cl, struct hub_conn *c, const char *lang, const char *src_key,
					 uint64_t conn_no)
{
	const char *owner = cluster_owner(cl, lang);
	struct cluster_fwd *f;

	if (owner == NULL || strcmp(owner, cl->cfg->node) == 0 || !cl->connected)
		return NULL;
	f = calloc(1, sizeof *f);
	if (f == NULL)
		return NULL;
	f->cl = cl;
	f->conn = c;
	f->id = ++cl->next_fwd_id;
	list_init(&f->held);
	snprintf(f->owner, sizeof f->owner, "%s", owner);
	snprintf(f->src, sizeof f->src, "%s", src_key != NULL ? src_key : "");
	list_add_tail(&cl->fwds, &f->link);
	cluster_send_to(cl, f->owner, json_pack("{s:s, s:I, s:s, s:s}", "t", "open", "id", (json_int_t)f->id, "lang", lang,
					"src", f->src));
	log_info("c%llu served by node %s", (unsigned long long)conn_no, f->owner);
	return f;
}

struct cluster_fwd *cluster_forward_find(struct cluster *cl, struct hub_conn *c, const char *hash, const char *src_key,
					 uint64_t conn_no)
{
	struct cluster_fwd *f;

	if (cl == NULL || !cl->connected || members_count(cl->members) < 2)
		return NULL;
	f = calloc(1, sizeof *f);
	if (f == NULL)
		return NULL;
	f->cl = cl;
	f->conn = c;
	f->id = ++cl->next_fwd_id;
	f->pending = true;
	f->deadline_ms = cl->now_ms + RESUME_WAIT_MS;
	snprintf(f->hash, sizeof f->hash, "%s", hash);
	snprintf(f->src, sizeof f->src, "%s", src_key != NULL ? src_key : "");
	/* We hold a replica of this session: its node may be dead without
	 * the list knowing yet. Wait until it answers or is declared lost
	 * (its sessions are then restored here and f is served at once). */
	const char *holder = replica_find_hash(cl->replicas, hash);
	if (holder != NULL && members_has(cl->members, holder))
		f->deadline_ms = cl->now_ms + CLUSTER_MEMBER_TIMEOUT_MS + RESUME_WAIT_MS;
	list_init(&f->held);
	list_add_tail(&cl->fwds, &f->link);
	/* Everyone hears the question; the node holding the session answers
	 * on our subject. Only the token's hash travels (section 8). */
	json_t *q = json_pack("{s:s, s:I, s:s, s:s}", "t", "resume?", "id", (json_int_t)f->id, "h", hash,
			      "from", cl->cfg->node);
	char *text = q != NULL ? json_dumps(q, JSON_COMPACT) : NULL;
	json_decref(q);
	if (text != NULL)
		cluster_publish(cl, SUBJ_RESUME, text, strlen(text));
	if (text != NULL)
		secmem_wipe(text, strlen(text));
	free(text);
	log_info("c%llu asks the cluster for its session", (unsigned long long)conn_no);
	return f;
}

static void held_free(struct cluster_fwd *f)
{
	struct list *it, *tmp;

	list_for_each_safe(it, tmp, &f->held) {
		list_remove(it);
		cluster_inmsg_free(list_entry(it, struct inmsg, link));
	}
	f->n_held = 0;
}

void cluster_forward_input(struct cluster_fwd *f, const char *buf, size_t len)
{
	if (f == NULL || f->cl == NULL || f->lost)
		return;
	if (f->pending) {
		struct inmsg *m = f->n_held < HELD_MAX && len <= MSG_MAX_BYTES ? malloc(sizeof *m + len + 1) : NULL;
		if (m == NULL)
			return;
		m->kind = IN_NODE;
		m->len = len;
		memcpy(m->data, buf, len);
		m->data[len] = '\0';
		list_add_tail(&f->held, &m->link);
		f->n_held++;
		return;
	}
	cluster_send_to(f->cl, f->owner, json_pack("{s:s, s:I, s:s%}", "t", "in", "id", (json_int_t)f->id, "f", buf, len));
}

void cluster_forward_close(struct cluster_fwd *f)
{
	if (f == NULL)
		return;
	if (f->cl != NULL) {
		if (!f->lost && !f->pending)
			cluster_send_to(f->cl, f->owner, json_pack("{s:s, s:I}", "t", "close", "id", (json_int_t)f->id));
		list_remove(&f->link);
	}
	held_free(f);
	secmem_wipe(f->hash, sizeof f->hash);
	free(f);
}

/* The node `from` holds the session f asked for: f goes there, with the
 * frames held meanwhile. */
static void resume_found(struct cluster *cl, struct cluster_fwd *f, const char *from)
{
	struct list *it, *tmp;

	f->pending = false;
	secmem_wipe(f->hash, sizeof f->hash);
	snprintf(f->owner, sizeof f->owner, "%s", from);
	cluster_send_to(cl, f->owner, json_pack("{s:s, s:I, s:s}", "t", "open", "id", (json_int_t)f->id, "src", f->src));
	list_for_each_safe(it, tmp, &f->held) {
		struct inmsg *m = list_entry(it, struct inmsg, link);
		cluster_send_to(cl, f->owner, json_pack("{s:s, s:I, s:s%}", "t", "in", "id", (json_int_t)f->id,
						"f", m->data, m->len));
	}
	held_free(f);
	log_info("a resumed visitor is served by node %s", from);
}

/* Nobody answered for f in time: its hello is a new start here. */
void cluster_expire_pending(struct cluster *cl, uint64_t now)
{
	struct list *it, *tmp;

	list_for_each_safe(it, tmp, &cl->fwds) {
		struct cluster_fwd *f = list_entry(it, struct cluster_fwd, link);
		struct list held, *jt, *jtmp;
		if (!f->pending || now < f->deadline_ms)
			continue;
		list_remove(&f->link);
		hub_serve_here(f->conn);
		/* Take the frames out first: hub_input may close the socket. */
		list_init(&held);
		if (!list_empty(&f->held)) {
			held = f->held;
			held.next->prev = &held;
			held.prev->next = &held;
		}
		struct hub_conn *conn = f->conn;
		secmem_wipe(f->hash, sizeof f->hash);
		free(f);
		list_for_each_safe(jt, jtmp, &held) {
			struct inmsg *m = list_entry(jt, struct inmsg, link);
			list_remove(jt);
			hub_input(conn, m->data, m->len, now);
			cluster_inmsg_free(m);
		}
	}
}

/* Another node asks who holds the session of a token hash. */
void cluster_handle_resume_question(struct cluster *cl, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, 0, &jerr);
	const char *from = NULL, *hash = NULL;
	json_int_t id = 0;

	if (j != NULL && cl->hub != NULL &&
	    json_unpack(j, "{s:s, s:I, s:s}", "from", &from, "id", &id, "h", &hash) == 0 &&
	    members_name_valid(from) && strcmp(from, cl->cfg->node) != 0 && hub_has_session_hash(cl->hub, hash))
		cluster_send_to(cl, from, json_pack("{s:s, s:I}", "t", "resume!", "id", (json_int_t)id));
	json_decref(j);
}

#else /* !BRUG_HAVE_NATS: see cluster.c. */

struct cluster_fwd *cluster_forward_open(struct cluster *cl, struct hub_conn *c, const char *lang, const char *src_key,
					 uint64_t conn_no)
{
	return NULL;
}
void cluster_forward_input(struct cluster_fwd *f, const char *buf, size_t len) { }
void cluster_forward_close(struct cluster_fwd *f) { }
bool cluster_staff_route(struct cluster *cl, const char *username, uint64_t id, const char *buf, size_t len)
{
	return false;
}
struct cluster_fwd *cluster_forward_find(struct cluster *cl, struct hub_conn *c, const char *hash, const char *src_key,
					 uint64_t conn_no)
{
	return NULL;
}
bool cluster_staff_session_user(struct cluster *cl, const char *hash, int64_t now_wall_ms, char user[65])
{
	return false;
}
void cluster_add_lang_stats(struct cluster *cl, struct router_lang_stats *out, unsigned n, uint64_t now_ms,
			    uint64_t wall_ms)
{
}

#endif
