/* libFuzzer target for what one brugd node ("b1") receives from the other
 * nodes over NATS (docs/cluster.md, sections 3-9): the input is a program
 * of lines, each a message from a peer, a heartbeat, a peer lost, a clock
 * step or a local socket's open, frame or close, run on a real hub and a
 * real cluster link that never connects (cluster_start is not called, so
 * every publish is a no-op). Messages go through the cluster's inbox and
 * cluster_poll, as libnats' threads hand them over in brugd.
 *
 * One line: an opcode, a selector character, then the payload.
 *   N s JSON  node message (brug.v1.node.b1) from peer s; "from" is added
 *             when missing; a payload that is not JSON goes as it is
 *   P s JSON  presence list (brug.v1.staff) from peer s, the same way
 *   Q s JSON  resume question (brug.v1.resume) from peer s, the same way
 *   H s FLAGS a heartbeat of peer s, well formed: FLAGS may hold r (a new
 *             boot), l (leaving), x (other languages), digits (its id base)
 *   h s JSON  a heartbeat as written ("node" added when missing)
 *   L s       cluster_node_lost(s) as when its heartbeats stop (not for b1)
 *   T s       the clock moves on (digit s picks 100 ms to 3,700 s), then hub_tick and
 *             cluster_tick, and the sockets the hub closed are closed
 *   W s       the link is up (s odd) or down: whether cl->connected says
 *             so (publishing still goes nowhere)
 *   V s [L]   open local visitor socket s (0-7), Accept-Language L
 *   S s       open local staff socket s
 *   I s TEXT  a frame on local socket s (valid UTF-8 only)
 *   X s       local socket s closes
 * A peer s is b1 (ourselves), b2, b3 or b4 for '1' to '4', else b2 or b3.
 * Payloads expand $K0-$K3 (fixed visitor tokens), $k0-$k3 (their hashes),
 * $V0-$V7 and $v0-$v7 (tokens the hub sent in `welcome`, and hashes), $P0-$P3
 * and $p0-$p3 (staff sessions of hub-env.h, and hashes), $C0-$C7 (chat ids
 * seen) and $O0-$O7 (offer ids seen).
 *
 * Checked: no frame and no close to a socket the hub closed or that closed;
 * close codes are 1000-4999; at the end cluster_free and hub_free leave
 * nothing behind (LSan). */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "brug-build.h"
#include "cluster.h"
#include "config.h"
#include "hub.h"
#include "proto.h"
#include "util/log.h"
#include "util/token.h"

#include "hub-env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if BRUG_HAVE_NATS

#include "cluster_private.h"

#define SOCKS 8
#define POOL HUB_ENV_POOL  /* ids and tokens remembered from the hub's frames */
#define MAX_LINES 300
#define LINE_MAX_BYTES 65536
#define PEERS 4

enum sock_state { SOCK_FREE, SOCK_OPEN, SOCK_CLOSING };

struct sock {
	enum sock_state state;
	bool staff;
	struct hub_conn *conn;
};


static struct {
	bool ready;
	bool trace;                  /* FUZZ_CLUSTER_TRACE: print every line, frame and close */
	char nats_ca[128];
	char ktok[4][TOKEN_STR_LEN]; /* fixed visitor tokens for replicas */
} g;

static struct {
	struct hub_env_run env;
	struct cluster *cl;
	uint64_t now;
	bool link;
	struct sock socks[SOCKS];
	struct hub_env_pool vtokens, chats, offers;
	struct { uint64_t boot, seq; } peer[PEERS];
	unsigned line;
} r;

/* ---- the fake edge ---- */

static const char *str_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}


/* A frame from our hub, or one another node's hub made (hub_deliver):
 * those are the peer's text as it sent it, so only learnt from. */
static void fake_send(void *edge, struct frame *f)
{
	struct sock *k = edge;
	json_t *j;

	CHECK(k >= r.socks && k < r.socks + SOCKS, "frame to an unknown socket");
	CHECK(k->state == SOCK_OPEN, "frame sent to a socket %s", k->state == SOCK_FREE ? "closed" : "closing");
	if (g.trace)
		fprintf(stderr, "[%u] s%d <- %.*s\n", r.line, (int)(k - r.socks), (int)f->len,
			(const char *)f->data + FRAME_PRE);
	j = json_loadb((const char *)f->data + FRAME_PRE, f->len, 0, NULL);
	if (json_is_object(j) && str_of(j, "type") != NULL) {
		const char *type = str_of(j, "type");
		if (strcmp(type, "welcome") == 0)
			hub_env_pool_add(&r.vtokens, str_of(j, "session"));
		if (strcmp(type, "offer") == 0)
			hub_env_pool_add(&r.offers, str_of(j, "offer"));
		hub_env_pool_add(&r.chats, str_of(j, "chat"));
	}
	json_decref(j);
}

static void fake_close(void *edge, int code, const char *reason)
{
	struct sock *k = edge;

	CHECK(k >= r.socks && k < r.socks + SOCKS, "close of an unknown socket");
	CHECK(k->state == SOCK_OPEN, "close asked of a socket %s", k->state == SOCK_FREE ? "closed" : "closing");
	CHECK(code >= 1000 && code < 5000, "close code %d", code);
	CHECK(reason != NULL, "close without reason");
	k->state = SOCK_CLOSING;
	if (g.trace)
		fprintf(stderr, "[%u] s%d close %d %s\n", r.line, (int)(k - r.socks), code, reason);
}

static uint64_t fake_wall(void *ctx)
{
	(void)ctx;
	return HUB_ENV_BASE_WALL_MS + r.now;
}

static void fake_wake(void *ctx)
{
	(void)ctx;
}

static const struct hub_edge_ops ops = { fake_send, fake_close, fake_wall, fake_wake };

static void sock_closed(struct sock *k)
{
	if (k->state == SOCK_FREE)
		return;
	hub_closed(k->conn, r.now);
	memset(k, 0, sizeof *k);
}

static void reap(void)
{
	for (unsigned i = 0; i < SOCKS; i++)
		if (r.socks[i].state == SOCK_CLOSING)
			sock_closed(&r.socks[i]);
}

static void cluster_wake(void *ctx)
{
	(void)ctx;
}

/* ---- set-up ---- */

static void init(void)
{
	struct config *cfg = &hub_env.cfg;
	FILE *f;

	log_set_level(getenv("FUZZ_CLUSTER_LOG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
	g.trace = getenv("FUZZ_CLUSTER_TRACE") != NULL;
	hub_env_init("cluster");
	/* A [cluster] section as config_load would leave it (the CA file
	 * exists; nothing reads it, since the link never starts). */
	snprintf(g.nats_ca, sizeof g.nats_ca, "%s/nats-ca.pem", hub_env.dir);
	f = fopen(g.nats_ca, "w");
	CHECK(f != NULL && fclose(f) == 0, "create %s", g.nats_ca);
	cfg->cluster = true;
	cfg->node = "b1";
	cfg->nats_urls[0] = "tls://127.0.0.1:4222";
	cfg->n_nats_urls = 1;
	cfg->nats_user = "brug";
	cfg->nats_password = "fuzz-cluster-password";
	cfg->nats_ca = g.nats_ca;
	for (unsigned i = 0; i < 4; i++) {
		memset(g.ktok[i], 'A' + (int)i, TOKEN_STR_LEN - 1);
		g.ktok[i][0] = 'K';
		g.ktok[i][TOKEN_STR_LEN - 1] = '\0';
	}
	g.ready = true;
}

static void run_begin(void)
{
	memset(&r, 0, sizeof r);
	r.now = 1000;
	r.link = true;
	hub_env_open(&r.env, &ops, NULL);
	r.cl = cluster_new(&hub_env.cfg, cluster_wake, NULL, r.now);
	CHECK(r.cl != NULL, "cluster_new");
	cluster_set_hub(r.cl, r.env.h);
	hub_set_cluster(r.env.h, r.cl);
	r.cl->connected = r.link;
	for (unsigned i = 0; i < PEERS; i++)
		r.peer[i].boot = 0x1000 + i;
}

/* As brugd stops (server.c): the hub shuts down, the sockets close, the
 * cluster goes (reporting other nodes' sockets closed), then the hub. */
static void run_end(void)
{
	for (unsigned i = 0; i < SOCKS; i++)
		if (!r.socks[i].staff)
			sock_closed(&r.socks[i]);
	hub_shutdown(r.env.h, r.now);
	for (unsigned i = 0; i < SOCKS; i++)
		CHECK(r.socks[i].state != SOCK_OPEN, "socket %u still open after hub_shutdown", i);
	for (unsigned i = 0; i < SOCKS; i++)
		sock_closed(&r.socks[i]);
	hub_set_cluster(r.env.h, NULL);
	cluster_free(r.cl);
	hub_env_close(&r.env, r.now);
	memset(&r, 0, sizeof r);
}

/* ---- the program ---- */

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *p = realloc(b->p, cap);
		CHECK(p != NULL, "out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

/* What $X<d> stands for, or NULL. */
static const char *expand(char x, unsigned d, char hash[65])
{
	const char *tok = NULL;

	switch (x) {
	case 'K': case 'k': tok = g.ktok[d % 4]; break;
	case 'V': case 'v': tok = hub_env_pool_get(&r.vtokens, d); if (tok == NULL) tok = g.ktok[d % 4]; break;
	case 'P': case 'p': tok = hub_env.preset[d % 4]; break;
	case 'C': tok = hub_env_pool_get(&r.chats, d); return tok != NULL ? tok : "1";
	case 'O': tok = hub_env_pool_get(&r.offers, d); return tok != NULL ? tok : "1";
	default: return NULL;
	}
	if (x >= 'a' && x <= 'z') {
		token_hash_hex(tok, hash);
		return hash;
	}
	return tok;
}

static void expand_payload(struct buf *out, const char *p, size_t n)
{
	char hash[65];

	out->n = 0;
	buf_add(out, "", 0);
	for (size_t i = 0; i < n; i++) {
		const char *s;
		if (p[i] == '$' && i + 2 < n && p[i + 2] >= '0' && p[i + 2] <= '9' &&
		    (s = expand(p[i + 1], (unsigned)(p[i + 2] - '0'), hash)) != NULL) {
			buf_add(out, s, strlen(s));
			i += 2;
		} else {
			buf_add(out, p + i, 1);
		}
	}
}

static const char *peer_name(char s, unsigned *idx)
{
	static const char *const names[PEERS] = { "b1", "b2", "b3", "b4" };
	unsigned i = s >= '1' && s <= '4' ? (unsigned)(s - '1') : 1u + ((unsigned char)s & 1u);

	*idx = i;
	return names[i];
}

/* The payload as a peer sends it: key (its name) added to an object
 * that lacks it; anything else as it is. */
static void with_sender(struct buf *b, const char *key, const char *name)
{
	json_t *j = json_loadb(b->p, b->n, 0, NULL);
	char *s;

	if (json_is_object(j) && json_object_get(j, key) == NULL) {
		json_object_set_new(j, key, json_string(name));
		s = json_dumps(j, JSON_COMPACT);
		if (s != NULL) {
			b->n = 0;
			buf_add(b, s, strlen(s));
			free(s);
		}
	}
	json_decref(j);
}

/* Into the inbox, as libnats' threads put it there, then the loop polls. */
static void deliver(enum in_kind kind, const char *text, size_t len)
{
	struct inmsg *m = malloc(sizeof *m + len + 1);

	CHECK(m != NULL, "out of memory");
	m->kind = kind;
	m->len = len;
	memcpy(m->data, text, len);
	m->data[len] = '\0';
	pthread_mutex_lock(&r.cl->lock);
	list_add_tail(&r.cl->inbox, &m->link);
	r.cl->n_inbox++;
	pthread_mutex_unlock(&r.cl->lock);
	cluster_poll(r.cl, r.now);
}

static void heartbeat(unsigned i, const char *name, const char *flags, size_t n)
{
	char boot[17], langs[CONFIG_MAX_LANGS * 4];
	json_int_t idb = 0;
	bool leave = false, other = false;
	json_t *hb;
	char *s;

	for (size_t k = 0; k < n; k++) {
		if (flags[k] == 'r') {
			r.peer[i].boot += 0x100;
			r.peer[i].seq = 0;
		} else if (flags[k] == 'l') {
			leave = true;
		} else if (flags[k] == 'x') {
			other = true;
		} else if (flags[k] >= '0' && flags[k] <= '9' && idb < (1 << 24)) {
			idb = idb * 10 + (flags[k] - '0');
		}
	}
	snprintf(boot, sizeof boot, "%016" PRIx64, r.peer[i].boot);
	snprintf(langs, sizeof langs, "%s", other ? "nl en" : r.cl->langs);
	hb = json_pack("{s:s, s:s, s:I, s:b, s:s, s:I}", "node", name, "boot", boot, "seq",
		       (json_int_t)++r.peer[i].seq, "ready", 1, "langs", langs, "idb", idb != 0 ? idb : (json_int_t)i + 1);
	if (hb != NULL && leave)
		json_object_set_new(hb, "leave", json_true());
	s = hb != NULL ? json_dumps(hb, JSON_COMPACT) : NULL;
	json_decref(hb);
	if (s != NULL)
		deliver(IN_HB, s, strlen(s));
	free(s);
}

static void step(const char *line, size_t len, struct buf *pay)
{
	/* Past the members' timeout (3,500 ms), the offers' (30 s), the
	 * visitors' grace (120 s) and a staff session's idle time. */
	static const uint64_t advance_ms[10] = { 100, 500, 1000, 2000, 3600, 5000, 30000, 31000, 121000, 3700000 };
	char op = len > 0 ? line[0] : '#', sel = len > 1 ? line[1] : '0';
	unsigned idx;
	const char *peer = peer_name(sel, &idx);
	struct sock *k = &r.socks[(unsigned char)sel % SOCKS];
	size_t skip = len > 2 && line[2] == ' ' ? 3 : 2;

	if (g.trace)
		fprintf(stderr, "[%u] %.*s\n", r.line, (int)(len > 200 ? 200 : len), line);
	expand_payload(pay, len > skip ? line + skip : "", len > skip ? len - skip : 0);
	switch (op) {
	case 'N':
	case 'P':
	case 'Q':
		with_sender(pay, "from", peer);
		deliver(op == 'N' ? IN_NODE : op == 'P' ? IN_STAFF : IN_RESUME, pay->p, pay->n);
		break;
	case 'H':
		heartbeat(idx, peer, pay->p, pay->n);
		break;
	case 'h':
		with_sender(pay, "node", peer);
		deliver(IN_HB, pay->p, pay->n);
		break;
	case 'L':
		/* brugd never loses itself (members_expire and members_left
		 * skip our own name). */
		if (idx == 0)
			break;
		r.cl->now_ms = r.now;
		cluster_node_lost(r.cl, peer, r.now);
		break;
	case 'T':
		r.now += advance_ms[sel >= '0' && sel <= '9' ? sel - '0' : (unsigned char)sel % 10];
		hub_tick(r.env.h, r.now);
		cluster_tick(r.cl, r.now);
		r.cl->connected = r.link;
		reap();
		break;
	case 'W':
		r.link = sel & 1;
		r.cl->connected = r.link;
		break;
	case 'V':
	case 'S':
		if (k->state != SOCK_FREE)
			break;
		k->state = SOCK_OPEN;
		k->staff = op == 'S';
		if (k->staff)
			k->conn = hub_staff_open(r.env.h, k, "addr-a", r.line + 1);
		else
			k->conn = hub_visitor_open(r.env.h, k, pay->n > 0 ? pay->p : NULL, sel & 8 ? "src-b" : "src-a",
						   r.line + 1);
		CHECK(k->conn != NULL, "open refused");
		break;
	case 'I':
		if (k->state == SOCK_OPEN && hub_env_utf8_valid((const uint8_t *)pay->p, pay->n))
			hub_input(k->conn, pay->p, pay->n, r.now);
		break;
	case 'X':
		sock_closed(k);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct buf pay = { 0 };

	if (!g.ready)
		init();
	run_begin();
	for (r.line = 0; p < end && r.line < MAX_LINES; r.line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl != NULL ? nl : end) - p);
		step(p, len > LINE_MAX_BYTES ? LINE_MAX_BYTES : len, &pay);
		p += len + (nl != NULL);
	}
	run_end();
	free(pay.p);
	return 0;
}

#else /* !BRUG_HAVE_NATS: no cluster to feed. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}

#endif
