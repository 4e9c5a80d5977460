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

#include <jansson.h>
#include <sodium.h>

#include "brug-build.h"
#include "cluster.h"
#include "config.h"
#include "members.h"
#include "util/list.h"
#include "util/log.h"

#if BRUG_HAVE_NATS
#include <nats/nats.h>
#endif

/* Subjects (docs/cluster.md, section 9). */
#define SUBJ_HB "brug.v1.hb"
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

struct inmsg {
	struct list link;
	size_t len;
	char data[];          /* len bytes and a NUL */
};

struct cluster {
	const struct config *cfg;
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
	struct list inbox;         /* struct inmsg, oldest first */
	unsigned n_inbox;
	unsigned dropped;          /* messages the full inbox refused */
	unsigned events;           /* EV_* bits */
	bool wake_off;             /* cluster_stop ran: never call wake again */

#if BRUG_HAVE_NATS
	natsOptions *opts;
	natsConnection *nc;
	natsSubscription *hb_sub;
#endif
};

/* ---- the health document (also without NATS) ---- */

static char *health_doc(const char *node, bool cluster, bool connected, const struct members *m)
{
	json_t *members = json_array(), *doc;
	char *out;

	for (unsigned i = 0; m != NULL && members != NULL && i < members_count(m); i++)
		json_array_append_new(members, json_string(members_name(m, i)));
	doc = json_pack("{s:o, s:b, s:b, s:o}", "node", node != NULL ? json_string(node) : json_null(),
			"cluster", cluster, "connected", connected, "members", members);
	if (doc == NULL)
		return NULL;
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return out;
}

char *cluster_health_json(struct cluster *cl, int *status)
{
	if (cl == NULL) {
		*status = 200;
		return health_doc(NULL, false, false, NULL);
	}
	*status = cl->connected ? 200 : 503;
	return health_doc(cl->cfg->node, true, cl->connected, cl->members);
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

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct cluster *cl = closure;
	int len = natsMsg_GetDataLength(msg);
	struct inmsg *m = NULL;

	if (len >= 0 && len <= MSG_MAX_BYTES)
		m = malloc(sizeof *m + (size_t)len + 1);
	if (m != NULL) {
		m->len = (size_t)len;
		memcpy(m->data, natsMsg_GetData(msg), (size_t)len);
		m->data[len] = '\0';
	}
	natsMsg_Destroy(msg);
	pthread_mutex_lock(&cl->lock);
	if (m == NULL || cl->n_inbox >= INBOX_MAX || cl->wake_off) {
		cl->dropped++;
		free(m);
	} else {
		list_add_tail(&cl->inbox, &m->link);
		if (cl->n_inbox++ == 0)
			wake_locked(cl);
	}
	pthread_mutex_unlock(&cl->lock);
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
static void on_closed(natsConnection *nc, void *closure) { post_event(closure, EV_CLOSED); }

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
	hb = json_pack("{s:s, s:s, s:I, s:b, s:s}", "node", cl->cfg->node, "boot", boot,
		       "seq", (json_int_t)++cl->hb_seq, "ready", 1, "langs", cl->langs);
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

static void log_gone(void *ctx, const char *name)
{
	log_notice("cluster: node %s left (silent for %u ms)", name, CLUSTER_MEMBER_TIMEOUT_MS);
}

/* One heartbeat from a peer: {"node","boot","seq","ready","langs"[,"leave"]}. */
static void handle_heartbeat(struct cluster *cl, const char *text, size_t len, uint64_t now)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, 0, &jerr);
	const char *node = NULL, *boot_hex = NULL, *langs = NULL;
	json_int_t seq = 0;
	int leave = 0, rc;
	uint64_t boot;
	char *end;

	if (j == NULL || json_unpack(j, "{s:s, s:s, s:I, s?:s, s?:b}", "node", &node, "boot", &boot_hex,
				     "seq", &seq, "langs", &langs, "leave", &leave) != 0 ||
	    strlen(boot_hex) != 16 || seq < 1) {
		log_warn("cluster: ignoring a malformed heartbeat");
		goto out;
	}
	boot = strtoull(boot_hex, &end, 16);
	if (*end != '\0')
		goto out;
	if (leave) {
		if (members_left(cl->members, node, boot))
			log_notice("cluster: node %s left", node);
		goto out;
	}
	if (langs == NULL || strcmp(langs, cl->langs) != 0) {
		/* Owners are computed per language: a node that offers other
		 * languages cannot share them (section 2). */
		if (!members_has(cl->members, node))
			log_warn("cluster: node %s has other [chat] languages; not counting it", node);
		goto out;
	}
	rc = members_heard(cl->members, node, boot, (uint64_t)seq, now);
	if (rc == MEMBERS_JOINED)
		log_notice("cluster: node %s joined (%u nodes)", node, members_count(cl->members));
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
	if ((ev & EV_DISCONNECTED) && !cl->connected)
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
		handle_heartbeat(cl, m->data, m->len, now);
		free(m);
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
		if (cl->connected)
			publish_heartbeat(cl, false);
		cl->hb_due_ms = now + CLUSTER_HEARTBEAT_MS;
	}
	members_expire(cl->members, now, log_gone, cl);
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
	for (unsigned i = 0; i < cfg->n_langs; i++)
		off += (size_t)snprintf(cl->langs + off, sizeof cl->langs - off, "%s%s", i ? " " : "", cfg->langs[i]);
	cl->members = members_new(cfg->node, cl->boot, CLUSTER_MEMBER_TIMEOUT_MS);
	if (cl->members == NULL || pthread_mutex_init(&cl->lock, NULL) != 0) {
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
	s = natsConnection_Subscribe(&cl->hb_sub, cl->nc, SUBJ_HB, on_msg, cl);
	if (s != NATS_OK) {
		log_err("cluster: cannot subscribe (%s); trying again in %u s", natsStatus_GetText(s),
			RESTART_MS / 1000);
		cl->restart_ms = now + RESTART_MS;
	}
}

static void disconnect(struct cluster *cl)
{
	natsSubscription_Destroy(cl->hb_sub);
	cl->hb_sub = NULL;
	if (cl->nc != NULL) {
		natsConnection_Close(cl->nc);
		natsConnection_Destroy(cl->nc);
	}
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
	disconnect(cl);
	natsOptions_Destroy(cl->opts);
	/* Wait for libnats' own threads, so nothing runs after we return. */
	nats_CloseAndWait(2000);
	list_for_each_safe(it, tmp, &cl->inbox) {
		list_remove(it);
		free(list_entry(it, struct inmsg, link));
	}
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

#endif
