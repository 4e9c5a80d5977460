/* The cluster link over NATS (docs/cluster.md): connection, heartbeat,
 * membership and the health document. libnats delivers on its own threads;
 * its callbacks only copy into a mutex-protected inbox and wake the lws
 * loop, which handles everything in cluster_poll(). */
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
#include "router.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"

#if BRUG_HAVE_NATS
#include <nats/nats.h>
#endif

/* Subjects (docs/cluster.md, section 9). */
#define SUBJ_HB "brug.v1.hb"
#define SUBJ_NODE "brug.v1.node."   /* + node name */
#define SUBJ_RESUME "brug.v1.resume"
#define SUBJ_STAFF "brug.v1.staff"
#define ID_BASE_MASK (~((1ull << 40) - 1))
/* How long a resume with a token this node does not know waits for the
 * node that holds it before it is served here as a new start. */
#define RESUME_WAIT_MS 1000
#define HELD_MAX 8
/* Per-boot numbers of the sockets of other nodes served here, in the logs
 * ("c1000000001"), apart from the edge's own. */
#define REMOTE_CONN_BASE 1000000000ull
/* What the inbox holds at most: a loop that stalls this long drops the
 * rest (heartbeats come again every second) rather than grow without end. */
#define INBOX_MAX 10000
#define MSG_MAX_BYTES 65536
/* libnats closes a connection for good on some failures (a certificate it
 * cannot verify, a refused login) even when told to retry forever; a node
 * then starts over this long after, so it rejoins once the fault is fixed. */
#define RESTART_MS 5000

/* Connection changes seen on libnats' threads, for the loop to log. */
#define EV_CONNECTED 1u
#define EV_DISCONNECTED 2u
#define EV_CLOSED 4u
#define EV_ERROR 8u

enum in_kind { IN_HB, IN_NODE, IN_RESUME, IN_STAFF };

struct inmsg {
	struct list link;
	enum in_kind kind;    /* which subscription it came on */
	size_t len;
	char data[];          /* len bytes and a NUL */
};

/* On the home: a visitor socket here whose session another node serves. */
struct cluster_fwd {
	struct list link;          /* in cluster.fwds */
	struct cluster *cl;        /* NULL once the cluster is gone */
	struct hub_conn *conn;     /* borrowed from the hub */
	uint64_t id;               /* per boot, names it in the messages */
	bool lost;                 /* the owner left: input goes nowhere */
	bool pending;              /* asking who holds its resume token; owner "" */
	uint64_t deadline_ms;      /* while pending: serve it here after this */
	struct list held;          /* while pending: its frames, struct inmsg */
	unsigned n_held;
	char owner[MEMBERS_NAME_MAX + 1];
};

/* On the owner: a visitor socket on another node, served by our hub. */
struct remote {
	struct list link;          /* in cluster.remotes */
	struct cluster *cl;
	struct hub_conn *conn;     /* owned by the hub until hub_closed */
	uint64_t id;               /* the home's id */
	char home[MEMBERS_NAME_MAX + 1];
};

/* On an owner: a console logged in on another node, as staff of our hub. */
struct sproxy {
	struct list link;          /* in cluster.sproxies */
	struct cluster *cl;
	struct hub_conn *conn;     /* owned by the hub until hub_closed */
	bool seen;                 /* in the home's last presence list */
	bool closing;              /* our hub asked to close it: hub_closed at the next poll */
	char home[MEMBERS_NAME_MAX + 1];
	char user[65];
};

/* Which node's router makes the ids above a base (from heartbeats). */
struct id_base {
	char node[MEMBERS_NAME_MAX + 1];
	uint64_t base;
};

struct cluster {
	const struct config *cfg;
	struct hub *hub;
	struct list sproxies;      /* struct sproxy */
	struct id_base bases[MEMBERS_MAX];
	unsigned n_bases;
	struct list fwds;          /* struct cluster_fwd */
	struct list remotes;       /* struct remote */
	uint64_t next_fwd_id, next_remote_no;
	uint64_t now_ms;           /* of the last poll or tick */
	char node_subject[sizeof SUBJ_NODE + MEMBERS_NAME_MAX];
	void (*wake)(void *ctx);
	void *wake_ctx;
	struct members *members;
	uint64_t boot;             /* random per start (section 2) */
	uint64_t hb_seq;
	uint64_t hb_due_ms;
	char langs[CONFIG_MAX_LANGS * 4];
	bool connected;            /* as last seen on the loop */
	bool stopped;              /* loop side: cluster_stop ran */
	uint64_t restart_ms;       /* != 0: the connection closed; start over then */
	unsigned dropped_logged;

	pthread_mutex_t lock;      /* guards the fields below */
	pthread_cond_t done;       /* signalled when a subscription or the connection is through */
	unsigned subs_made, subs_done; /* subscriptions, and those whose last callback returned */
	bool closed_seen;          /* the connection's closed callback ran */
	struct list inbox;         /* struct inmsg, oldest first */
	unsigned n_inbox;
	unsigned dropped;          /* messages the full inbox refused */
	unsigned events;           /* EV_* bits */
	bool wake_off;             /* cluster_stop ran: never call wake again */

#if BRUG_HAVE_NATS
	natsOptions *opts;
	natsConnection *nc;
	natsSubscription *hb_sub;
	natsSubscription *node_sub;
	natsSubscription *resume_sub;
	natsSubscription *staff_sub;
#endif
};

/* ---- the health document (also without NATS) ---- */

static char *health_doc(const struct config *cfg, bool cluster, bool connected, const struct members *m)
{
	json_t *members = json_array(), *owners = json_object(), *doc;
	char *out;

	for (unsigned i = 0; m != NULL && members != NULL && i < members_count(m); i++)
		json_array_append_new(members, json_string(members_name(m, i)));
	/* Which node serves each language's queue (section 4). */
	for (unsigned i = 0; m != NULL && owners != NULL && i < cfg->n_langs; i++)
		json_object_set_new(owners, cfg->langs[i], json_string(members_owner(m, cfg->langs[i], 0)));
	doc = json_pack("{s:o, s:b, s:b, s:o, s:o}", "node", cfg->node != NULL ? json_string(cfg->node) : json_null(),
			"cluster", cluster, "connected", connected, "members", members, "owners", owners);
	if (doc == NULL)
		return NULL;
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return out;
}

char *cluster_health_json(struct cluster *cl, const struct config *cfg, int *status)
{
	if (cl == NULL) {
		static const struct config none = { 0 };
		*status = 200;
		return health_doc(&none, false, false, NULL);
	}
	*status = cl->connected ? 200 : 503;
	return health_doc(cl->cfg, true, cl->connected, cl->members);
}

void cluster_set_hub(struct cluster *cl, struct hub *h)
{
	if (cl != NULL)
		cl->hub = h;
}

const char *cluster_owner(struct cluster *cl, const char *lang)
{
	return cl != NULL && members_count(cl->members) > 1 ? members_owner(cl->members, lang, 0) : NULL;
}

bool cluster_connected(const struct cluster *cl)
{
	return cl != NULL && cl->connected;
}

#if BRUG_HAVE_NATS

/* ---- libnats' threads ---- */

/* With the lock held: wake the loop unless stopped, so that no wake can
 * come after cluster_stop() returned. */
static void wake_locked(struct cluster *cl)
{
	if (!cl->wake_off && cl->wake != NULL)
		cl->wake(cl->wake_ctx);
}

/* A node message may hold visitor text: its copy is wiped when freed. */
static void inmsg_free(struct inmsg *m)
{
	if (m != NULL)
		secmem_free(m, sizeof *m + m->len + 1);
}

static void enqueue(struct cluster *cl, natsMsg *msg, enum in_kind kind)
{
	int len = natsMsg_GetDataLength(msg);
	struct inmsg *m = NULL;

	if (len >= 0 && len <= MSG_MAX_BYTES)
		m = malloc(sizeof *m + (size_t)len + 1);
	if (m != NULL) {
		m->kind = kind;
		m->len = (size_t)len;
		memcpy(m->data, natsMsg_GetData(msg), (size_t)len);
		m->data[len] = '\0';
	}
	natsMsg_Destroy(msg);
	pthread_mutex_lock(&cl->lock);
	if (m == NULL || cl->n_inbox >= INBOX_MAX || cl->wake_off) {
		cl->dropped++;
		inmsg_free(m);
	} else {
		list_add_tail(&cl->inbox, &m->link);
		if (cl->n_inbox++ == 0)
			wake_locked(cl);
	}
	pthread_mutex_unlock(&cl->lock);
}

static void on_hb_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	enqueue(closure, msg, IN_HB);
}

static void on_node_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	enqueue(closure, msg, IN_NODE);
}

static void on_resume_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	enqueue(closure, msg, IN_RESUME);
}

static void on_staff_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	enqueue(closure, msg, IN_STAFF);
}

static void post_event(struct cluster *cl, unsigned ev)
{
	pthread_mutex_lock(&cl->lock);
	cl->events |= ev;
	wake_locked(cl);
	pthread_mutex_unlock(&cl->lock);
}

static void on_connected(natsConnection *nc, void *closure) { post_event(closure, EV_CONNECTED); }
static void on_disconnected(natsConnection *nc, void *closure) { post_event(closure, EV_DISCONNECTED); }

/* The connection's last callback: disconnect() waits for it. */
static void on_closed(natsConnection *nc, void *closure)
{
	struct cluster *cl = closure;

	pthread_mutex_lock(&cl->lock);
	cl->events |= EV_CLOSED;
	cl->closed_seen = true;
	wake_locked(cl);
	pthread_cond_broadcast(&cl->done);
	pthread_mutex_unlock(&cl->lock);
}

/* A subscription's message handler will not run again. */
static void on_sub_complete(void *closure)
{
	struct cluster *cl = closure;

	pthread_mutex_lock(&cl->lock);
	cl->subs_done++;
	pthread_cond_broadcast(&cl->done);
	pthread_mutex_unlock(&cl->lock);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	post_event(closure, EV_ERROR);
}

/* ---- the loop's thread ---- */

static void publish_heartbeat(struct cluster *cl, bool leaving)
{
	json_t *hb;
	char boot[17], *text;

	if (cl->nc == NULL)
		return;
	snprintf(boot, sizeof boot, "%016" PRIx64, cl->boot);
	hb = json_pack("{s:s, s:s, s:I, s:b, s:s, s:I}", "node", cl->cfg->node, "boot", boot,
		       "seq", (json_int_t)++cl->hb_seq, "ready", 1, "langs", cl->langs,
		       "idb", (json_int_t)((cl->hub != NULL ? hub_id_base(cl->hub) : 0) >> 40));
	if (hb != NULL && leaving)
		json_object_set_new(hb, "leave", json_true());
	text = hb != NULL ? json_dumps(hb, JSON_COMPACT) : NULL;
	json_decref(hb);
	/* Buffered by libnats; while disconnected it may fail, and the next
	 * heartbeat says the same anyway. */
	if (text != NULL)
		natsConnection_PublishString(cl->nc, SUBJ_HB, text);
	free(text);
}

/* Publish msg (taken) to node's subject. The text may hold visitor
 * text, so it is wiped once libnats has copied it. */
static void send_to(struct cluster *cl, const char *node, json_t *msg)
{
	char subject[sizeof SUBJ_NODE + MEMBERS_NAME_MAX], *text;

	if (msg == NULL)
		return;
	json_object_set_new(msg, "from", json_string(cl->cfg->node));
	text = cl->nc != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (text == NULL)
		return;
	snprintf(subject, sizeof subject, SUBJ_NODE "%s", node);
	natsConnection_Publish(cl->nc, subject, text, (int)strlen(text));
	secmem_wipe(text, strlen(text));
	free(text);
}

/* The owner's hub sends a frame to a socket on another node. */
static void remote_send(void *edge, struct frame *f)
{
	struct remote *r = edge;

	send_to(r->cl, r->home, json_pack("{s:s, s:I, s:s%}", "t", "out", "id", (json_int_t)r->id,
					  "f", (const char *)f->data + FRAME_PRE, f->len));
}

static void remote_close(void *edge, int code, const char *reason)
{
	struct remote *r = edge;

	send_to(r->cl, r->home, json_pack("{s:s, s:I, s:i, s:s}", "t", "kick", "id", (json_int_t)r->id,
					  "code", code, "reason", reason != NULL ? reason : ""));
}

static const struct hub_edge_ops remote_ops = {
	.send = remote_send,
	.close = remote_close,
};

static void remote_free(struct remote *r, uint64_t now)
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
		send_to(p->cl, p->home, json_pack("{s:s, s:s, s:s%}", "t", "sout", "u", p->user,
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

static void sproxy_free(struct sproxy *p, uint64_t now)
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

/* Publish who is logged in here (every heartbeat), so that the owners of
 * other languages can offer them chats (section 3). */
struct presence_ctx {
	const struct config *cfg;
	json_t *list;
};

static void add_presence(void *ctx, const struct router_staff *rs)
{
	struct presence_ctx *pc = ctx;
	char langs[CONFIG_MAX_LANGS * 4] = "";
	size_t off = 0;

	for (unsigned i = 0; i < pc->cfg->n_langs; i++)
		if (rs->langs & (1u << i))
			off += (size_t)snprintf(langs + off, sizeof langs - off, "%s%s", off ? " " : "", pc->cfg->langs[i]);
	json_array_append_new(pc->list, json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:b}", "u", rs->username,
						  "a", rs->alias, "r", (json_int_t)rs->roles, "l", langs,
						  "t", (json_int_t)rs->topics, "m", (json_int_t)rs->max_chats,
						  "v", rs->available));
}

static void publish_presence(struct cluster *cl)
{
	struct presence_ctx pc = { cl->cfg, json_array() };
	json_t *msg;
	char *text;

	if (cl->hub == NULL || cl->nc == NULL || pc.list == NULL) {
		json_decref(pc.list);
		return;
	}
	hub_each_local_staff(cl->hub, add_presence, &pc);
	msg = json_pack("{s:s, s:o}", "from", cl->cfg->node, "staff", pc.list);
	text = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (text != NULL)
		natsConnection_PublishString(cl->nc, SUBJ_STAFF, text);
	free(text);
}

/* A home's presence list: proxies appear, follow its availability, and
 * go (into the hub's reconnect grace) when they are no longer listed. */
static void handle_presence(struct cluster *cl, const char *text, size_t len, uint64_t now)
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
	json_array_foreach(list, i, e) {
		const char *u = NULL, *a = NULL, *l = NULL;
		json_int_t r = 0, t = 0, m = 1;
		int v = 0;
		struct sproxy *p;
		if (json_unpack(e, "{s:s, s:s, s:I, s:s, s:I, s:I, s:b}", "u", &u, "a", &a, "r", &r, "l", &l,
				"t", &t, "m", &m, "v", &v) != 0 || strlen(u) > 64)
			continue;
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
			id = (id >> 2) | (1ull << 62);
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
		if (!p->closing)
			hub_remote_staff_available(p->conn, v != 0, now);
	}
	list_for_each_safe(it, tmp, &cl->sproxies) {
		struct sproxy *p = list_entry(it, struct sproxy, link);
		if (strcmp(p->home, from) == 0 && !p->seen)
			sproxy_free(p, now);
	}
out:
	json_decref(j);
}

bool cluster_staff_route(struct cluster *cl, const char *username, uint64_t id, const char *buf, size_t len)
{
	uint64_t base = id & ID_BASE_MASK;

	if (cl == NULL || base == 0 || (cl->hub != NULL && base == hub_id_base(cl->hub)))
		return false;
	for (unsigned i = 0; i < cl->n_bases; i++) {
		if (cl->bases[i].base == base && members_has(cl->members, cl->bases[i].node)) {
			send_to(cl, cl->bases[i].node, json_pack("{s:s, s:s, s:s%}", "t", "sin", "u", username,
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
static void node_lost(struct cluster *cl, const char *name, uint64_t now)
{
	struct list *it, *tmp;

	list_for_each_safe(it, tmp, &cl->remotes) {
		struct remote *r = list_entry(it, struct remote, link);
		if (strcmp(r->home, name) == 0)
			remote_free(r, now);
	}
	list_for_each_safe(it, tmp, &cl->sproxies) {
		struct sproxy *p = list_entry(it, struct sproxy, link);
		if (strcmp(p->home, name) == 0)
			sproxy_free(p, now);
	}
	list_for_each(it, &cl->fwds) {
		struct cluster_fwd *f = list_entry(it, struct cluster_fwd, link);
		if (strcmp(f->owner, name) == 0 && !f->lost) {
			f->lost = true;
			/* 1012: service restart; the client reconnects. */
			hub_kick(f->conn, 1012, "node lost");
		}
	}
}

struct gone_ctx {
	struct cluster *cl;
	uint64_t now;
};

static void log_gone(void *ctx, const char *name)
{
	struct gone_ctx *g = ctx;

	log_notice("cluster: node %s left (silent for %u ms)", name, CLUSTER_MEMBER_TIMEOUT_MS);
	node_lost(g->cl, name, g->now);
}

static void resume_found(struct cluster *cl, struct cluster_fwd *f, const char *from);

/* A message on brug.v1.node.<us> (section 9): {"t","from","id",...}. */
static void handle_node_msg(struct cluster *cl, const char *text, size_t len, uint64_t now)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, 0, &jerr);
	const char *t = NULL, *from = NULL, *f = NULL, *lang = NULL, *reason = NULL, *u = NULL;
	size_t flen = 0;
	json_int_t id = 0;
	int code = 1011;

	if (j == NULL || json_unpack(j, "{s:s, s:s, s?:I, s?:s%, s?:s, s?:i, s?:s, s?:s}", "t", &t, "from", &from,
				     "id", &id, "f", &f, &flen, "lang", &lang, "code", &code, "reason", &reason,
				     "u", &u) != 0 ||
	    !members_name_valid(from) || cl->hub == NULL) {
		log_warn("cluster: ignoring a malformed node message");
		goto out;
	}
	if (strcmp(t, "sout") == 0 && u != NULL && f != NULL) {
		hub_deliver_staff(cl->hub, u, f, flen);
	} else if (strcmp(t, "sin") == 0 && u != NULL && f != NULL) {
		struct sproxy *p = find_sproxy(cl, from, u);
		if (p != NULL && !p->closing)
			hub_input(p->conn, f, flen, now);
	} else if (strcmp(t, "resume!") == 0) {
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
		snprintf(r->home, sizeof r->home, "%s", from);
		r->conn = hub_remote_visitor_open(cl->hub, &remote_ops, r, idx, REMOTE_CONN_BASE + ++cl->next_remote_no);
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
			remote_free(r, now);
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

struct cluster_fwd *cluster_forward_open(struct cluster *cl, struct hub_conn *c, const char *lang, uint64_t conn_no)
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
	list_add_tail(&cl->fwds, &f->link);
	send_to(cl, f->owner, json_pack("{s:s, s:I, s:s}", "t", "open", "id", (json_int_t)f->id, "lang", lang));
	log_info("c%llu served by node %s", (unsigned long long)conn_no, f->owner);
	return f;
}

struct cluster_fwd *cluster_forward_find(struct cluster *cl, struct hub_conn *c, const char *hash, uint64_t conn_no)
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
	list_init(&f->held);
	list_add_tail(&cl->fwds, &f->link);
	/* Everyone hears the question; the node holding the session answers
	 * on our subject. Only the token's hash travels (section 8). */
	json_t *q = json_pack("{s:s, s:I, s:s, s:s}", "t", "resume?", "id", (json_int_t)f->id, "h", hash,
			      "from", cl->cfg->node);
	char *text = q != NULL ? json_dumps(q, JSON_COMPACT) : NULL;
	json_decref(q);
	if (text != NULL && cl->nc != NULL)
		natsConnection_PublishString(cl->nc, SUBJ_RESUME, text);
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
		inmsg_free(list_entry(it, struct inmsg, link));
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
	send_to(f->cl, f->owner, json_pack("{s:s, s:I, s:s%}", "t", "in", "id", (json_int_t)f->id, "f", buf, len));
}

void cluster_forward_close(struct cluster_fwd *f)
{
	if (f == NULL)
		return;
	if (f->cl != NULL) {
		if (!f->lost && !f->pending)
			send_to(f->cl, f->owner, json_pack("{s:s, s:I}", "t", "close", "id", (json_int_t)f->id));
		list_remove(&f->link);
	}
	held_free(f);
	free(f);
}

/* The node `from` holds the session f asked for: f goes there, with the
 * frames held meanwhile. */
static void resume_found(struct cluster *cl, struct cluster_fwd *f, const char *from)
{
	struct list *it, *tmp;

	f->pending = false;
	snprintf(f->owner, sizeof f->owner, "%s", from);
	send_to(cl, f->owner, json_pack("{s:s, s:I}", "t", "open", "id", (json_int_t)f->id));
	list_for_each_safe(it, tmp, &f->held) {
		struct inmsg *m = list_entry(it, struct inmsg, link);
		send_to(cl, f->owner, json_pack("{s:s, s:I, s:s%}", "t", "in", "id", (json_int_t)f->id,
						"f", m->data, m->len));
	}
	held_free(f);
	log_info("a resumed visitor is served by node %s", from);
}

/* Nobody answered for f in time: its hello is a new start here. */
static void expire_pending(struct cluster *cl, uint64_t now)
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
		free(f);
		list_for_each_safe(jt, jtmp, &held) {
			struct inmsg *m = list_entry(jt, struct inmsg, link);
			list_remove(jt);
			hub_input(conn, m->data, m->len, now);
			inmsg_free(m);
		}
	}
}

/* Another node asks who holds the session of a token hash. */
static void handle_resume_question(struct cluster *cl, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, 0, &jerr);
	const char *from = NULL, *hash = NULL;
	json_int_t id = 0;

	if (j != NULL && cl->hub != NULL &&
	    json_unpack(j, "{s:s, s:I, s:s}", "from", &from, "id", &id, "h", &hash) == 0 &&
	    members_name_valid(from) && strcmp(from, cl->cfg->node) != 0 && hub_has_session_hash(cl->hub, hash))
		send_to(cl, from, json_pack("{s:s, s:I}", "t", "resume!", "id", (json_int_t)id));
	json_decref(j);
}

static void remember_id_base(struct cluster *cl, const char *node, uint64_t base)
{
	unsigned i;

	for (i = 0; i < cl->n_bases; i++)
		if (strcmp(cl->bases[i].node, node) == 0)
			break;
	if (i == cl->n_bases) {
		if (cl->n_bases == MEMBERS_MAX)
			return;
		cl->n_bases++;
	}
	snprintf(cl->bases[i].node, sizeof cl->bases[i].node, "%s", node);
	cl->bases[i].base = base;
}

/* One heartbeat from a peer: {"node","boot","seq","ready","langs"[,"leave"]}. */
static void handle_heartbeat(struct cluster *cl, const char *text, size_t len, uint64_t now)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, 0, &jerr);
	const char *node = NULL, *boot_hex = NULL, *langs = NULL;
	json_int_t seq = 0, idb = 0;
	int leave = 0, rc;
	bool known;
	uint64_t boot;
	char *end;

	if (j == NULL || json_unpack(j, "{s:s, s:s, s:I, s?:s, s?:b, s?:I}", "node", &node, "boot", &boot_hex,
				     "seq", &seq, "langs", &langs, "leave", &leave, "idb", &idb) != 0 ||
	    strlen(boot_hex) != 16 || seq < 1) {
		log_warn("cluster: ignoring a malformed heartbeat");
		goto out;
	}
	boot = strtoull(boot_hex, &end, 16);
	if (*end != '\0')
		goto out;
	if (leave) {
		if (members_left(cl->members, node, boot)) {
			log_notice("cluster: node %s left", node);
			node_lost(cl, node, now);
		}
		goto out;
	}
	if (langs == NULL || strcmp(langs, cl->langs) != 0) {
		/* Owners are computed per language: a node that offers other
		 * languages cannot share them (section 2). */
		if (!members_has(cl->members, node))
			log_warn("cluster: node %s has other [chat] languages; not counting it", node);
		goto out;
	}
	known = members_has(cl->members, node);
	rc = members_heard(cl->members, node, boot, (uint64_t)seq, now);
	if ((rc == MEMBERS_JOINED || rc == MEMBERS_SAME) && idb > 0)
		remember_id_base(cl, node, (uint64_t)idb << 40);
	if (rc == MEMBERS_JOINED && known) {
		/* Restarted faster than the timeout: what we had with its old
		 * process is gone, and its new ids start from 1 again. */
		log_notice("cluster: node %s restarted", node);
		node_lost(cl, node, now);
	} else if (rc == MEMBERS_JOINED) {
		log_notice("cluster: node %s joined (%u nodes)", node, members_count(cl->members));
	}
	else if (rc == MEMBERS_SELF && cl->hb_seq % 30 == 1)
		log_warn("cluster: another node calls itself %s; give each node its own [cluster] node", node);
	else if (rc == MEMBERS_FULL)
		log_warn("cluster: more than %d nodes; ignoring %s", MEMBERS_MAX, node);
out:
	json_decref(j);
}

static void handle_events(struct cluster *cl, unsigned ev, uint64_t now)
{
	char url[256];

	if (ev & EV_ERROR)
		log_warn("cluster: NATS reported an error: %s",
			 natsStatus_GetText(natsConnection_GetLastError(cl->nc, NULL)));
	if ((ev & EV_CLOSED) && natsConnection_IsClosed(cl->nc) && cl->restart_ms == 0) {
		log_err("cluster: the NATS connection closed (%s); starting over in %u s",
			natsStatus_GetText(natsConnection_GetLastError(cl->nc, NULL)), RESTART_MS / 1000);
		cl->restart_ms = now + RESTART_MS;
	}
	cl->connected = natsConnection_Status(cl->nc) == NATS_CONN_STATUS_CONNECTED;
	/* Both may have happened since the last poll: say so in order. */
	if (ev & EV_DISCONNECTED)
		log_warn("cluster: lost the NATS server; trying the others");
	if ((ev & EV_CONNECTED) && cl->connected) {
		if (natsConnection_GetConnectedUrl(cl->nc, url, sizeof url) != NATS_OK)
			snprintf(url, sizeof url, "?");
		log_notice("cluster: connected to %s as node %s", url, cl->cfg->node);
		/* Let the others count us at once, not at the next tick. */
		publish_heartbeat(cl, false);
		cl->hb_due_ms = 0;
	}
}

void cluster_poll(struct cluster *cl, uint64_t now)
{
	struct list batch, *it, *tmp;
	unsigned ev, dropped;

	if (cl == NULL || cl->stopped)
		return;
	cl->now_ms = now;
	list_init(&batch);
	pthread_mutex_lock(&cl->lock);
	if (!list_empty(&cl->inbox)) {
		batch = cl->inbox;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		list_init(&cl->inbox);
	}
	cl->n_inbox = 0;
	ev = cl->events;
	cl->events = 0;
	dropped = cl->dropped;
	pthread_mutex_unlock(&cl->lock);

	if (ev != 0)
		handle_events(cl, ev, now);
	list_for_each_safe(it, tmp, &batch) {
		struct inmsg *m = list_entry(it, struct inmsg, link);
		list_remove(it);
		if (m->kind == IN_NODE)
			handle_node_msg(cl, m->data, m->len, now);
		else if (m->kind == IN_RESUME)
			handle_resume_question(cl, m->data, m->len);
		else if (m->kind == IN_STAFF)
			handle_presence(cl, m->data, m->len, now);
		else
			handle_heartbeat(cl, m->data, m->len, now);
		inmsg_free(m);
	}
	list_for_each_safe(it, tmp, &cl->sproxies) {
		struct sproxy *p = list_entry(it, struct sproxy, link);
		if (p->closing)
			sproxy_free(p, now);
	}
	if (dropped != cl->dropped_logged) {
		log_warn("cluster: %u NATS messages dropped (the loop fell behind)", dropped - cl->dropped_logged);
		cl->dropped_logged = dropped;
	}
}

static void restart(struct cluster *cl, uint64_t now);

void cluster_tick(struct cluster *cl, uint64_t now)
{
	if (cl == NULL || cl->stopped)
		return;
	cluster_poll(cl, now);
	if (cl->restart_ms != 0 && now >= cl->restart_ms)
		restart(cl, now);
	cl->connected = cl->nc != NULL && natsConnection_Status(cl->nc) == NATS_CONN_STATUS_CONNECTED;
	if (now >= cl->hb_due_ms) {
		if (cl->connected) {
			publish_heartbeat(cl, false);
			publish_presence(cl);
		}
		cl->hb_due_ms = now + CLUSTER_HEARTBEAT_MS;
	}
	members_expire(cl->members, now, log_gone, &(struct gone_ctx){ cl, now });
	expire_pending(cl, now);
}

struct cluster *cluster_new(const struct config *cfg, void (*wake)(void *ctx), void *ctx, uint64_t now)
{
	struct cluster *cl;
	size_t off = 0;

	if (cfg == NULL || !cfg->cluster)
		return NULL;
	cl = calloc(1, sizeof *cl);
	if (cl == NULL)
		return NULL;
	cl->cfg = cfg;
	cl->wake = wake;
	cl->wake_ctx = ctx;
	randombytes_buf(&cl->boot, sizeof cl->boot);
	list_init(&cl->inbox);
	list_init(&cl->fwds);
	list_init(&cl->remotes);
	list_init(&cl->sproxies);
	snprintf(cl->node_subject, sizeof cl->node_subject, SUBJ_NODE "%s", cfg->node);
	for (unsigned i = 0; i < cfg->n_langs; i++)
		off += (size_t)snprintf(cl->langs + off, sizeof cl->langs - off, "%s%s", i ? " " : "", cfg->langs[i]);
	cl->members = members_new(cfg->node, cl->boot, CLUSTER_MEMBER_TIMEOUT_MS);
	if (cl->members == NULL || pthread_mutex_init(&cl->lock, NULL) != 0) {
		members_free(cl->members);
		free(cl);
		return NULL;
	}
	if (pthread_cond_init(&cl->done, NULL) != 0) {
		pthread_mutex_destroy(&cl->lock);
		members_free(cl->members);
		free(cl);
		return NULL;
	}
	return cl;
}

/* libnats' options from [cluster]: the servers, TLS with our CA (the
 * server's name checked against the URL's host), the login, and reconnects
 * that never give up, since a helpline node must rejoin on its own. */
static natsStatus make_options(struct cluster *cl)
{
	const struct config *cfg = cl->cfg;
	char name[64];
	natsStatus s;

	snprintf(name, sizeof name, "brugd %s", cfg->node);
	s = natsOptions_Create(&cl->opts);
	if (s == NATS_OK)
		s = natsOptions_SetServers(cl->opts, (const char **)cfg->nats_urls, (int)cfg->n_nats_urls);
	if (s == NATS_OK)
		s = natsOptions_SetName(cl->opts, name);
	if (s == NATS_OK)
		s = natsOptions_SetSecure(cl->opts, true);
	if (s == NATS_OK)
		s = natsOptions_LoadCATrustedCertificates(cl->opts, cfg->nats_ca);
	if (s == NATS_OK && cfg->nats_nkey_seed != NULL)
		s = natsOptions_SetNKeyFromSeed(cl->opts, cfg->nats_nkey, cfg->nats_nkey_seed);
	else if (s == NATS_OK)
		s = natsOptions_SetUserInfo(cl->opts, cfg->nats_user, cfg->nats_password);
	if (s == NATS_OK)
		s = natsOptions_SetNoEcho(cl->opts, true);   /* our own heartbeats stay home */
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(cl->opts, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(cl->opts, true);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(cl->opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(cl->opts, 500);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectJitter(cl->opts, 100, 500);
	/* A server that hangs (rather than dies) is noticed within ~6 s. */
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(cl->opts, 3000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(cl->opts, 2);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(cl->opts, true, on_connected, cl);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(cl->opts, on_connected, cl);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(cl->opts, on_disconnected, cl);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(cl->opts, on_closed, cl);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(cl->opts, on_error, cl);
	return s;
}

/* Connect (or start trying to) and subscribe. A failure is not fatal:
 * the node serves its own sockets meanwhile and tries again later. */
static void connect_now(struct cluster *cl, uint64_t now)
{
	natsStatus s = natsConnection_Connect(&cl->nc, cl->opts);

	cl->hb_due_ms = now;
	if (s == NATS_NOT_YET_CONNECTED) {
		log_warn("cluster: no NATS server answers yet; trying in the background");
	} else if (s != NATS_OK) {
		log_err("cluster: cannot connect to NATS (%s); trying again in %u s", natsStatus_GetText(s),
			RESTART_MS / 1000);
		cl->restart_ms = now + RESTART_MS;
		return;
	} else {
		post_event(cl, EV_CONNECTED);
	}
	s = natsConnection_Subscribe(&cl->hb_sub, cl->nc, SUBJ_HB, on_hb_msg, cl);
	if (s == NATS_OK && natsSubscription_SetOnCompleteCB(cl->hb_sub, on_sub_complete, cl) == NATS_OK)
		cl->subs_made++;
	if (s == NATS_OK)
		s = natsConnection_Subscribe(&cl->node_sub, cl->nc, cl->node_subject, on_node_msg, cl);
	if (s == NATS_OK && natsSubscription_SetOnCompleteCB(cl->node_sub, on_sub_complete, cl) == NATS_OK)
		cl->subs_made++;
	if (s == NATS_OK)
		s = natsConnection_Subscribe(&cl->resume_sub, cl->nc, SUBJ_RESUME, on_resume_msg, cl);
	if (s == NATS_OK && natsSubscription_SetOnCompleteCB(cl->resume_sub, on_sub_complete, cl) == NATS_OK)
		cl->subs_made++;
	if (s == NATS_OK)
		s = natsConnection_Subscribe(&cl->staff_sub, cl->nc, SUBJ_STAFF, on_staff_msg, cl);
	if (s == NATS_OK && natsSubscription_SetOnCompleteCB(cl->staff_sub, on_sub_complete, cl) == NATS_OK)
		cl->subs_made++;
	if (s != NATS_OK) {
		log_err("cluster: cannot subscribe (%s); trying again in %u s", natsStatus_GetText(s),
			RESTART_MS / 1000);
		cl->restart_ms = now + RESTART_MS;
	}
}

/* Close the connection and wait (bounded) until libnats has made its last
 * callback into cl: its closed callback, and each subscription's
 * completion. Without that a callback could run after cl is freed (and
 * nats_Close(), which would wait for all of libnats, breaks OpenSSL's own
 * clean-up at exit, so it is not used). */
static void disconnect(struct cluster *cl)
{
	struct timespec until;

	if (cl->nc != NULL) {
		natsConnection_Close(cl->nc);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		pthread_mutex_lock(&cl->lock);
		while (!cl->closed_seen || cl->subs_done < cl->subs_made)
			if (pthread_cond_timedwait(&cl->done, &cl->lock, &until) != 0)
				break;
		if (!cl->closed_seen || cl->subs_done < cl->subs_made)
			log_warn("cluster: libnats did not finish closing in time");
		cl->closed_seen = false;
		cl->subs_made = cl->subs_done = 0;
		pthread_mutex_unlock(&cl->lock);
	}
	natsSubscription_Destroy(cl->hb_sub);
	natsSubscription_Destroy(cl->node_sub);
	natsSubscription_Destroy(cl->resume_sub);
	natsSubscription_Destroy(cl->staff_sub);
	cl->staff_sub = NULL;
	cl->hb_sub = NULL;
	cl->node_sub = NULL;
	cl->resume_sub = NULL;
	natsConnection_Destroy(cl->nc);
	cl->nc = NULL;
	cl->connected = false;
}

static void restart(struct cluster *cl, uint64_t now)
{
	cl->restart_ms = 0;
	disconnect(cl);
	connect_now(cl, now);
}

int cluster_start(struct cluster *cl, uint64_t now)
{
	natsStatus s;

	if (cl == NULL || cl->nc != NULL)
		return -EINVAL;
	s = make_options(cl);
	if (s != NATS_OK) {
		log_err("cluster: cannot set up NATS (CA file %s%s%s): %s", cl->cfg->nats_ca,
			cl->cfg->nats_nkey_seed ? ", seed file " : "", cl->cfg->nats_nkey_seed ? cl->cfg->nats_nkey_seed : "",
			natsStatus_GetText(s));
		return s == NATS_NO_MEMORY ? -ENOMEM : -EINVAL;
	}
	connect_now(cl, now);
	return 0;
}

void cluster_stop(struct cluster *cl)
{
	if (cl == NULL || cl->stopped)
		return;
	if (cl->nc != NULL && natsConnection_Status(cl->nc) == NATS_CONN_STATUS_CONNECTED) {
		publish_heartbeat(cl, true);
		natsConnection_FlushTimeout(cl->nc, 500);
	}
	pthread_mutex_lock(&cl->lock);
	cl->wake_off = true;
	pthread_mutex_unlock(&cl->lock);
	cl->stopped = true;
}

void cluster_free(struct cluster *cl)
{
	struct list *it, *tmp;

	if (cl == NULL)
		return;
	cluster_stop(cl);
	/* Sockets of other nodes are reported closed to our hub (it must not
	 * send to them any more); ours that other nodes served keep their fwd
	 * until the hub closes them, which then frees it. */
	list_for_each_safe(it, tmp, &cl->remotes)
		remote_free(list_entry(it, struct remote, link), 0);
	list_for_each_safe(it, tmp, &cl->sproxies)
		sproxy_free(list_entry(it, struct sproxy, link), 0);
	list_for_each_safe(it, tmp, &cl->fwds) {
		struct cluster_fwd *f = list_entry(it, struct cluster_fwd, link);
		list_remove(&f->link);
		f->cl = NULL;
	}
	disconnect(cl);
	natsOptions_Destroy(cl->opts);
	list_for_each_safe(it, tmp, &cl->inbox) {
		list_remove(it);
		inmsg_free(list_entry(it, struct inmsg, link));
	}
	pthread_cond_destroy(&cl->done);
	pthread_mutex_destroy(&cl->lock);
	members_free(cl->members);
	free(cl);
}

#else /* !BRUG_HAVE_NATS: main.c refuses [cluster]; these keep the callers simple. */

struct cluster *cluster_new(const struct config *cfg, void (*wake)(void *ctx), void *ctx, uint64_t now)
{
	return NULL;
}

int cluster_start(struct cluster *cl, uint64_t now) { return -EINVAL; }
void cluster_poll(struct cluster *cl, uint64_t now) { }
void cluster_tick(struct cluster *cl, uint64_t now) { }
void cluster_stop(struct cluster *cl) { }
void cluster_free(struct cluster *cl) { }
void cluster_set_hub(struct cluster *cl, struct hub *h) { }
const char *cluster_owner(struct cluster *cl, const char *lang) { return NULL; }
struct cluster_fwd *cluster_forward_open(struct cluster *cl, struct hub_conn *c, const char *lang, uint64_t conn_no)
{
	return NULL;
}
void cluster_forward_input(struct cluster_fwd *f, const char *buf, size_t len) { }
void cluster_forward_close(struct cluster_fwd *f) { }
bool cluster_staff_route(struct cluster *cl, const char *username, uint64_t id, const char *buf, size_t len)
{
	return false;
}
struct cluster_fwd *cluster_forward_find(struct cluster *cl, struct hub_conn *c, const char *hash, uint64_t conn_no)
{
	return NULL;
}

#endif
