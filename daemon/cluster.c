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
#include "replica.h"
#include "proto.h"
#include "router.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"

#include "cluster_private.h"

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
void cluster_inmsg_free(struct inmsg *m)
{
	if (m != NULL)
		secmem_free(m, sizeof *m + m->len + 1);
}

static void enqueue(struct cluster *cl, natsMsg *msg, enum in_kind kind)
{
	int len = natsMsg_GetDataLength(msg);
	const char *subject = natsMsg_GetSubject(msg);
	struct inmsg *m = NULL;
	unsigned long long plain = 0;
	bool unopened = false;

	/* Open the seal on libnats' thread: only ciphertext stays in its
	 * buffers. A message that does not open (another key, or forged) is
	 * dropped like one the inbox has no room for. */
	if (len >= (int)(SEAL_NONCE + SEAL_TAG) && (size_t)len - SEAL_NONCE - SEAL_TAG <= MSG_MAX_BYTES)
		m = malloc(sizeof *m + (size_t)len - SEAL_NONCE - SEAL_TAG + 1);
	if (m != NULL) {
		const unsigned char *data = (const unsigned char *)natsMsg_GetData(msg);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)m->data, &plain, NULL, data + SEAL_NONCE,
							       (unsigned long long)len - SEAL_NONCE, (const unsigned char *)subject,
							       strlen(subject), data, cl->key) != 0) {
			free(m);
			m = NULL;
			unopened = true;
		} else {
			m->kind = kind;
			m->len = (size_t)plain;
			m->data[plain] = '\0';
		}
	}
	natsMsg_Destroy(msg);
	pthread_mutex_lock(&cl->lock);
	if (unopened) {
		cl->unopened++;
	} else if (m == NULL || cl->n_inbox >= INBOX_MAX || cl->wake_off) {
		cl->dropped++;
		cluster_inmsg_free(m);
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
	if (text != NULL)
		cluster_publish(cl, SUBJ_HB, text, strlen(text));
	free(text);
}

/* Publish msg (taken) to node's subject. The text may hold visitor
 * text, so it is wiped once libnats has copied it. */
void cluster_send_to(struct cluster *cl, const char *node, json_t *msg)
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
	cluster_publish(cl, subject, text, strlen(text));
	secmem_wipe(text, strlen(text));
	free(text);
}

struct gone_ctx {
	struct cluster *cl;
	uint64_t now;
};

static void log_gone(void *ctx, const char *name)
{
	struct gone_ctx *g = ctx;

	log_notice("cluster: node %s left (silent for %u ms)", name, CLUSTER_MEMBER_TIMEOUT_MS);
	cluster_node_lost(g->cl, name, g->now);
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
			cluster_node_lost(cl, node, now);
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
		cluster_node_lost(cl, node, now);
	} else if (rc == MEMBERS_JOINED) {
		log_notice("cluster: node %s joined (%u nodes)", node, members_count(cl->members));
	}
	if (rc == MEMBERS_JOINED)
		cl->rep_resync = true;   /* owners and backups may have moved */
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
	unsigned ev, dropped, unopened;

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
	unopened = cl->unopened;
	pthread_mutex_unlock(&cl->lock);

	if (ev != 0)
		handle_events(cl, ev, now);
	list_for_each_safe(it, tmp, &batch) {
		struct inmsg *m = list_entry(it, struct inmsg, link);
		list_remove(it);
		if (m->kind == IN_NODE)
			cluster_handle_node_msg(cl, m->data, m->len, now);
		else if (m->kind == IN_RESUME)
			cluster_handle_resume_question(cl, m->data, m->len);
		else if (m->kind == IN_STAFF)
			cluster_handle_presence(cl, m->data, m->len, now);
		else
			handle_heartbeat(cl, m->data, m->len, now);
		cluster_inmsg_free(m);
	}
	list_for_each_safe(it, tmp, &cl->sproxies) {
		struct sproxy *p = list_entry(it, struct sproxy, link);
		if (p->closing)
			cluster_sproxy_free(p, now);
	}
	list_for_each_safe(it, tmp, &cl->remotes) {
		struct remote *r = list_entry(it, struct remote, link);
		/* A home that never became a member (its heartbeats are not
		 * heard) would never be lost: its sockets go after the timeout. */
		if (r->closing || (!members_has(cl->members, r->home) && now - r->opened_ms > CLUSTER_MEMBER_TIMEOUT_MS))
			cluster_remote_free(r, now);
	}
	cluster_rep_resync(cl);
	if (unopened != cl->unopened_logged) {
		log_warn("cluster: %u NATS messages did not open with our key (a node with another key_file?)",
			 unopened - cl->unopened_logged);
		cl->unopened_logged = unopened;
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
			cluster_publish_presence(cl);
		}
		cl->hb_due_ms = now + CLUSTER_HEARTBEAT_MS;
	}
	members_expire(cl->members, now, log_gone, &(struct gone_ctx){ cl, now });
	cluster_expire_pending(cl, now);
	cluster_rep_resync(cl);
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
	cl->replicas = replica_store_new();
	cl->ssess = calloc(SSESS_MAX, sizeof *cl->ssess);
	cl->hosted = calloc(HOSTED_MAX, sizeof *cl->hosted);
	if (cl->members == NULL || cl->replicas == NULL || cl->ssess == NULL || cl->hosted == NULL ||
	    pthread_mutex_init(&cl->lock, NULL) != 0) {
		members_free(cl->members);
		replica_store_free(cl->replicas);
		free(cl->ssess);
		free(cl->hosted);
		free(cl);
		return NULL;
	}
	if (pthread_cond_init(&cl->done, NULL) != 0) {
		pthread_mutex_destroy(&cl->lock);
		members_free(cl->members);
		replica_store_free(cl->replicas);
		free(cl->ssess);
		free(cl->hosted);
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

/* The key that seals every payload (docs/cluster.md, section 1): 64 hex
 * digits from [cluster] key_file, or derived from the NATS password all
 * nodes share. 0 or -EINVAL (logged). */
static int load_key(struct cluster *cl)
{
	const struct config *cfg = cl->cfg;
	static const unsigned char context[] = "brug-cluster-payload-key-v1";
	char buf[160];
	size_t got = 0, n;
	FILE *f;

	if (cfg->cluster_key_file == NULL) {
		if (cfg->nats_password == NULL)
			return -EINVAL;
		crypto_generichash(cl->key, sizeof cl->key, (const unsigned char *)cfg->nats_password,
				   strlen(cfg->nats_password), context, sizeof context - 1);
		return 0;
	}
	f = fopen(cfg->cluster_key_file, "re");
	if (f == NULL) {
		log_err("cluster: cannot read key_file %s", cfg->cluster_key_file);
		return -EINVAL;
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	int rc = sodium_hex2bin(cl->key, sizeof cl->key, buf, n, " \t\r\n", &got, NULL);
	secmem_wipe(buf, sizeof buf);
	if (rc != 0 || got != sizeof cl->key) {
		secmem_wipe(cl->key, sizeof cl->key);
		log_err("cluster: key_file %s must hold 64 hex digits (openssl rand -hex 32)", cfg->cluster_key_file);
		return -EINVAL;
	}
	return 0;
}

/* Seal text (len bytes, borrowed) for subject and publish it: nonce,
 * then XChaCha20-Poly1305 with the subject as associated data. libnats
 * keeps and frees its copies without wiping them; those only ever hold
 * ciphertext. */
void cluster_publish(struct cluster *cl, const char *subject, const char *text, size_t len)
{
	size_t out_len = SEAL_NONCE + len + SEAL_TAG;
	unsigned char *out;

	if (cl->nc == NULL || len > MSG_MAX_BYTES || (out = malloc(out_len)) == NULL)
		return;
	randombytes_buf(out, SEAL_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_NONCE, NULL, (const unsigned char *)text, len,
						   (const unsigned char *)subject, strlen(subject), NULL, out, cl->key);
	/* Buffered by libnats; while disconnected it may fail, and what is
	 * lost is what core NATS may lose anyway (at most once). */
	natsConnection_Publish(cl->nc, subject, out, (int)out_len);
	free(out);
}

int cluster_start(struct cluster *cl, uint64_t now)
{
	natsStatus s;

	if (cl == NULL || cl->nc != NULL)
		return -EINVAL;
	if (load_key(cl) != 0)
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
		cluster_remote_free(list_entry(it, struct remote, link), 0);
	list_for_each_safe(it, tmp, &cl->sproxies)
		cluster_sproxy_free(list_entry(it, struct sproxy, link), 0);
	list_for_each_safe(it, tmp, &cl->fwds) {
		struct cluster_fwd *f = list_entry(it, struct cluster_fwd, link);
		list_remove(&f->link);
		f->cl = NULL;
	}
	disconnect(cl);
	natsOptions_Destroy(cl->opts);
	list_for_each_safe(it, tmp, &cl->inbox) {
		list_remove(it);
		cluster_inmsg_free(list_entry(it, struct inmsg, link));
	}
	pthread_cond_destroy(&cl->done);
	pthread_mutex_destroy(&cl->lock);
	members_free(cl->members);
	replica_store_free(cl->replicas);   /* wipes every transcript */
	secmem_wipe(cl->ssess, SSESS_MAX * sizeof *cl->ssess);
	secmem_wipe(cl->key, sizeof cl->key);
	free(cl->ssess);
	free(cl->hosted);
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
