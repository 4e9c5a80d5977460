/* Load generator for brugd: staff log in, thousands of visitors wait in the
 * queue, some of them chat; it measures connect and relay latency and, given
 * the daemon's pid, its memory and CPU per phase. See tests/bench/README.md. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* brugd refuses more than 20 messages per connection in a fixed 10 s window
 * (protocol.md section 5). The generator keeps every sliding window of
 * RATE_SPAN_US under RATE_MAX writes, with margin for delivery jitter. */
#define RATE_MAX 18
#define RATE_SPAN_US (10500 * 1000ull)

#define MAX_OFFERS 32              /* offers one staff member holds at once */
#define MAX_RX (256 * 1024)        /* largest frame we reassemble */
#define TICK_US (100 * 1000)       /* phase checks */
#define PROGRESS_US (5 * 1000000ull)
#define STAFF_PHASE_MAX_US (120 * 1000000ull)
#define SETTLE_QUIET_US (1000 * 1000ull)
#define SETTLE_MAX_US (30 * 1000000ull)
#define MAX_REASONS 8              /* distinct error texts remembered */
#define MAX_CPU_PIDS 8             /* --cpu-pid: other processes of a cluster */

enum conn_kind {
	CONN_VISITOR,
	CONN_STAFF,
};

enum phase {
	PHASE_STAFF,    /* staff connect, log in and become available */
	PHASE_VISITORS, /* visitors connect in batches and say hello */
	PHASE_SETTLE,   /* queue updates die down; positions are checked */
	PHASE_IDLE,     /* everyone connected, nothing sent (--idle-s) */
	PHASE_CHATS,    /* staff accept offers; chats exchange messages */
	PHASE_SETTLE2,  /* queue updates after the chats die down */
	PHASE_DONE,     /* the context is being destroyed */
};

static const char *const phase_names[] = {
	[PHASE_STAFF] = "staff",
	[PHASE_VISITORS] = "visitors",
	[PHASE_SETTLE] = "settle",
	[PHASE_IDLE] = "idle",
	[PHASE_CHATS] = "chats",
	[PHASE_SETTLE2] = "settle2",
	[PHASE_DONE] = "done",
};

/* One queued outbound frame; buf has LWS_PRE bytes of headroom. */
struct out {
	struct out *next;
	uint64_t *stamp;   /* set to the write time, for latency */
	size_t len;
	unsigned char buf[];
};

struct chat;

struct conn {
	struct lws *wsi;
	enum conn_kind kind;
	unsigned no;               /* 1-based within its kind */
	bool established, gone;
	uint64_t t_start;          /* connect call, monotonic µs */
	struct out *oq_head, *oq_tail;
	uint64_t sent[RATE_MAX];   /* ring of write times for pacing */
	unsigned n_sent, next_sent;
	lws_sorted_usec_list_t pace;
	char *rx;
	size_t rx_len, rx_cap;
	int close_code;            /* from the peer's Close frame, or 0 */

	/* visitor */
	bool welcomed, queued, closed_msg;
	unsigned position;
	struct chat *chat;

	/* staff */
	const char *user, *password;
	const char *totp;          /* base32 TOTP secret, or NULL */
	bool ready, available, off_sent;
	unsigned max_chats, quota, accepting, chats;
	char offers[MAX_OFFERS][24];
	unsigned n_offers;
};

struct chat {
	uint64_t id;
	char id_str[24];           /* as the daemon sent it */
	struct conn *visitor, *staff;
	unsigned k;                /* visitor's round trip in progress, 1..messages */
	unsigned k_s;              /* the staff's last reply; it lags k on the staff socket */
	uint64_t v_sent, s_sent;   /* write times of the current messages */
	bool ended_v, ended_s;
	lws_sorted_usec_list_t next; /* --rate: the visitor's next message */
};

struct samples {
	uint32_t *v;
	size_t n, cap;
};

struct proc_sample {
	bool ok;
	uint64_t t_us;
	long rss_kb, hwm_kb;
	uint64_t cpu_ms;
};

/* CPU time in ms of --server-pid followed by each --cpu-pid; 0 where a
 * process could not be read. */
struct cpu_sample {
	bool ok;                   /* every one was read */
	uint64_t ms[1 + MAX_CPU_PIDS];
};

struct tally {
	char text[MAX_REASONS][80];
	unsigned count[MAX_REASONS];
	unsigned other;
};

static struct {
	/* options */
	int port;
	int staff_port;            /* the staff's node in a cluster; --port if not given */
	const char *ca;
	unsigned n_visitors, n_staff, chats, messages, duration_s, batch, batch_ms, idle_s;
	const char *lang;
	long server_pid;
	/* The other processes of a cluster (nodes, NATS servers): their CPU
	 * time is added to the daemon's for the chat phase and the steady
	 * window, since a message relayed across nodes costs on all of them. */
	long cpu_pids[MAX_CPU_PIDS];
	unsigned n_cpu_pids;
	bool verbose;
	bool no_pace;              /* the daemon's rate limits are lifted: write at once */
	unsigned rate;             /* --rate: relayed msgs/s over all chats, 0 = ping-pong */
	uint64_t period_us;        /* --rate: one round trip per chat this often */

	struct lws_context *ctx;
	char origin[64], staff_origin[64];  /* brugd accepts only its own origin */
	enum phase phase, stop_phase;
	uint64_t t0, phase_t0, last_progress, last_queue_us;
	bool stop_requested, complete;
	const char *stop_why;

	struct conn *visitors, *staff;
	unsigned next_visitor;
	lws_sorted_usec_list_t tick_sul, batch_sul, stop_sul;

	/* chats by daemon id: open addressing, n_chat_slots a power of two */
	struct chat *chat_store;
	unsigned n_chats_made, chat_store_cap;
	struct chat **chat_slots;
	unsigned n_chat_slots;
	unsigned target_chats, chats_done, chats_full;
	uint64_t t_chats_first_done, t_chats_all_done;

	/* counters */
	unsigned v_connect_failed, v_established, v_welcomed, v_queued, v_closed_msg, v_dropped;
	unsigned s_connect_failed, s_ready, s_failed, s_dropped, s_lapsed;
	uint64_t queue_frames, queue_frames_chats, frames_in, frames_out, msgs_relayed;
	unsigned joined, requeued, wrong_frames, bad_json, accept_failed, rate_limited;
	unsigned pos_check_waiting, pos_check_dups, pos_check_gaps;
	unsigned pos2_check_waiting, pos2_check_dups, pos2_check_gaps;
	bool pos_checked, pos2_checked;
	struct tally conn_errors, error_codes, close_codes, wrong_kinds, ended_early;

	struct samples lat_login, lat_connect, lat_welcome, lat_v2s, lat_s2v, lat_echo;
	/* The steady window: from the moment every chat has joined to the
	 * first visitor's end, when all chats exchange messages. */
	struct samples lat_steady;
	struct proc_sample steady0, steady1;
	uint64_t steady0_msgs, steady1_msgs, steady0_self_us, steady1_self_us;
	bool in_steady, steady_done;
	struct proc_sample srv_start, srv_staff, srv_held, srv_idle, srv_chats, srv_end;
	/* All processes at the chat phase's start and end, and the steady
	 * window's; taken with the daemon's samples of the same names. */
	struct cpu_sample all_idle, all_chats, all_steady0, all_steady1;
	uint64_t t_visitors_start, t_visitors_done;
} g;

/* ---- small helpers ---- */

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "loadgen %6.1fs: ", (double)(mono_us() - g.t0) / 1e6);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void samples_add(struct samples *s, uint64_t us)
{
	if (s->n == s->cap) {
		size_t cap = s->cap != 0 ? s->cap * 2 : 1024;
		uint32_t *v = realloc(s->v, cap * sizeof *v);

		if (v == NULL)
			return;         /* a lost sample is better than a crash */
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-th quantile (0..1) of sorted s, nearest rank, in ms. */
static double quantile_ms(const struct samples *s, double q)
{
	size_t i;

	if (s->n == 0)
		return 0;
	i = (size_t)(q * (double)s->n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > s->n)
		i = s->n;
	return s->v[i - 1] / 1000.0;
}

static void tally_add(struct tally *t, const char *text)
{
	for (unsigned i = 0; i < MAX_REASONS; i++) {
		if (t->count[i] == 0) {
			snprintf(t->text[i], sizeof t->text[i], "%s", text);
			t->count[i] = 1;
			return;
		}
		if (strcmp(t->text[i], text) == 0) {
			t->count[i]++;
			return;
		}
	}
	t->other++;
}

static void tally_print(const char *label, const struct tally *t)
{
	bool any = false;

	for (unsigned i = 0; i < MAX_REASONS && t->count[i] != 0; i++) {
		printf("%s%s %u × %s", any ? "," : "", any ? "" : label, t->count[i], t->text[i]);
		any = true;
	}
	if (t->other != 0)
		printf(", %u other", t->other);
	if (any)
		printf("\n");
}

/* Memory and CPU time of the daemon from /proc; ok false if unreadable. */
static struct proc_sample proc_sample(long pid)
{
	struct proc_sample s = { .t_us = mono_us() };
	char path[64], line[512];
	unsigned long long ut = 0, st = 0;
	FILE *f;
	char *p;

	if (pid <= 0)
		return s;
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return s;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			s.rss_kb = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			s.hwm_kb = strtol(line + 6, NULL, 10);
	}
	fclose(f);
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return s;
	p = fgets(line, sizeof line, f);
	fclose(f);
	/* The command name may hold spaces; the fields after it are fixed.
	 * utime and stime are fields 14 and 15, the 12th and 13th after ')'. */
	if (p == NULL || (p = strrchr(line, ')')) == NULL)
		return s;
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return s;
	s.cpu_ms = (ut + st) * 1000u / (unsigned long long)sysconf(_SC_CLK_TCK);
	s.ok = true;
	return s;
}

/* The CPU time of the daemon and of every --cpu-pid; not ok without --cpu-pid. */
static struct cpu_sample cpu_sample_all(void)
{
	struct cpu_sample s = { .ok = true };

	if (g.n_cpu_pids == 0)
		return (struct cpu_sample){ 0 };
	for (unsigned i = 0; i <= g.n_cpu_pids; i++) {
		struct proc_sample p = proc_sample(i == 0 ? g.server_pid : g.cpu_pids[i - 1]);

		s.ms[i] = p.cpu_ms;
		s.ok = s.ok && p.ok;
	}
	return s;
}

static uint64_t cpu_sum(const struct cpu_sample *s)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i <= g.n_cpu_pids; i++)
		sum += s->ms[i];
	return sum;
}

static void set_phase(enum phase p)
{
	if (g.verbose || p != g.phase)
		say("phase %s -> %s", phase_names[g.phase], phase_names[p]);
	g.phase = p;
	g.phase_t0 = mono_us();
}

/* This process's CPU time in µs. */
static uint64_t self_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void steady_begin(void)
{
	if (g.in_steady || g.steady_done)
		return;
	g.steady0 = proc_sample(g.server_pid);
	g.all_steady0 = cpu_sample_all();
	g.steady0.t_us = mono_us();
	g.steady0_msgs = g.msgs_relayed;
	g.steady0_self_us = self_cpu_us();
	g.in_steady = true;
	if (g.verbose)
		say("steady window begins");
}

static void steady_end(void)
{
	if (!g.in_steady)
		return;
	g.steady1 = proc_sample(g.server_pid);
	g.all_steady1 = cpu_sample_all();
	g.steady1.t_us = mono_us();
	g.steady1_msgs = g.msgs_relayed;
	g.steady1_self_us = self_cpu_us();
	g.in_steady = false;
	g.steady_done = true;
	if (g.verbose)
		say("steady window ends");
}

/* ---- chats by daemon id ---- */

static bool parse_id(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '1' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

/* The chat with daemon id `id`, made on first sight; NULL if the id is bad
 * or more chats appear than were asked for. */
static struct chat *chat_get(const char *id_str)
{
	uint64_t id;
	unsigned mask = g.n_chat_slots - 1, i;

	if (!parse_id(id_str, &id) || g.n_chat_slots == 0)
		return NULL;
	for (i = (unsigned)(id * 0x9E3779B97F4A7C15ull >> 32) & mask;; i = (i + 1) & mask) {
		struct chat *c = g.chat_slots[i];

		if (c == NULL)
			break;
		if (c->id == id)
			return c;
	}
	if (g.n_chats_made == g.chat_store_cap)
		return NULL;
	g.chat_slots[i] = &g.chat_store[g.n_chats_made++];
	g.chat_slots[i]->id = id;
	snprintf(g.chat_slots[i]->id_str, sizeof g.chat_slots[i]->id_str, "%" PRIu64, id);
	return g.chat_slots[i];
}

/* ---- sending ---- */

static bool rate_ok(const struct conn *c, uint64_t now, uint64_t *wait_us)
{
	uint64_t oldest;

	if (g.no_pace || c->n_sent < RATE_MAX)
		return true;
	oldest = c->sent[c->next_sent];
	if (now - oldest >= RATE_SPAN_US)
		return true;
	*wait_us = oldest + RATE_SPAN_US - now;
	return false;
}

static void rate_note(struct conn *c, uint64_t now)
{
	c->sent[c->next_sent] = now;
	c->next_sent = (c->next_sent + 1) % RATE_MAX;
	if (c->n_sent < RATE_MAX)
		c->n_sent++;
}

static void pace_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, pace);

	if (c->wsi != NULL && !c->gone)
		lws_callback_on_writable(c->wsi);
}

/* Queue msg (takes the reference) for c; stamp, if not NULL, receives the
 * time the frame is written. */
static void send_json(struct conn *c, json_t *msg, uint64_t *stamp)
{
	size_t n;
	struct out *o;

	if (msg == NULL)
		return;
	if (c->wsi == NULL || c->gone) {
		json_decref(msg);
		return;
	}
	n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	o = malloc(sizeof *o + LWS_PRE + n);
	if (o == NULL) {
		json_decref(msg);
		return;
	}
	json_dumpb(msg, (char *)o->buf + LWS_PRE, n, JSON_COMPACT);
	json_decref(msg);
	o->next = NULL;
	o->stamp = stamp;
	o->len = n;
	if (c->oq_tail != NULL)
		c->oq_tail->next = o;
	else
		c->oq_head = o;
	c->oq_tail = o;
	lws_callback_on_writable(c->wsi);
}

static int on_writable(struct conn *c)
{
	struct out *o = c->oq_head;
	uint64_t now = mono_us(), wait = 0;
	int n;

	if (o == NULL)
		return 0;
	if (!rate_ok(c, now, &wait)) {
		lws_sul_schedule(g.ctx, 0, &c->pace, pace_cb, (lws_usec_t)wait + 1000);
		return 0;
	}
	n = lws_write(c->wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
	if (n < (int)o->len) {
		tally_add(&g.conn_errors, "lws_write failed");
		return -1;
	}
	if (o->stamp != NULL)
		*o->stamp = now;
	rate_note(c, now);
	g.frames_out++;
	c->oq_head = o->next;
	if (c->oq_head == NULL)
		c->oq_tail = NULL;
	free(o);
	if (c->oq_head != NULL)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static void conn_drop_queue(struct conn *c)
{
	while (c->oq_head != NULL) {
		struct out *o = c->oq_head;

		c->oq_head = o->next;
		free(o);
	}
	c->oq_tail = NULL;
}

/* ---- connecting ---- */

static void conn_start(struct conn *c)
{
	struct lws_client_connect_info i;
	bool visitor = c->kind == CONN_VISITOR;

	memset(&i, 0, sizeof i);
	i.context = g.ctx;
	i.address = "127.0.0.1";
	i.port = visitor ? g.port : g.staff_port;
	i.ssl_connection = LCCSCF_USE_SSL;
	i.path = visitor ? "/ws/visitor" : "/ws/staff";
	i.host = "localhost";       /* Host header and the name the cert is checked against */
	i.origin = visitor ? g.origin : g.staff_origin;
	i.protocol = visitor ? "brug-visitor.v1" : "brug-staff.v1";
	i.opaque_user_data = c;
	i.pwsi = &c->wsi;
	c->t_start = mono_us();
	if (lws_client_connect_via_info(&i) == NULL) {
		c->wsi = NULL;
		c->gone = true;
		tally_add(&g.conn_errors, "lws_client_connect_via_info returned NULL");
		if (visitor)
			g.v_connect_failed++;
		else
			g.s_connect_failed++;
	}
}

static void batch_cb(lws_sorted_usec_list_t *sul)
{
	unsigned n = 0;

	while (n < g.batch && g.next_visitor < g.n_visitors && g.phase == PHASE_VISITORS) {
		conn_start(&g.visitors[g.next_visitor++]);
		n++;
	}
	if (g.next_visitor < g.n_visitors && g.phase == PHASE_VISITORS)
		lws_sul_schedule(g.ctx, 0, &g.batch_sul, batch_cb, (lws_usec_t)g.batch_ms * 1000);
}

/* ---- chat traffic ---- */

/* Every message carries who sent it, for whom and which round trip, so a
 * frame delivered to the wrong chat is noticed. */
static void send_chat_msg(struct chat *ch, bool from_visitor)
{
	char text[160];

	unsigned k = from_visitor ? ch->k : ch->k_s;

	snprintf(text, sizeof text, "%c%u.%u Hallo, dit is bericht %u in een testgesprek; het is zo lang als een gewone zin.",
		 from_visitor ? 'v' : 's', ch->visitor->no, k, k);
	if (from_visitor)
		send_json(ch->visitor, json_pack("{s:s, s:s}", "type", "msg", "text", text), &ch->v_sent);
	else
		send_json(ch->staff, json_pack("{s:s, s:s, s:s}", "type", "msg", "chat", ch->id_str, "text", text),
			  &ch->s_sent);
}

static void chat_next_cb(lws_sorted_usec_list_t *sul)
{
	struct chat *ch = lws_container_of(sul, struct chat, next);

	if (ch->visitor != NULL && !ch->visitor->gone && g.phase == PHASE_CHATS)
		send_chat_msg(ch, true);
}

/* The visitor's next message: at once, or with --rate at due (µs). */
static void visitor_send_at(struct chat *ch, uint64_t now, uint64_t due)
{
	if (g.rate == 0 || due <= now) {
		send_chat_msg(ch, true);
		return;
	}
	lws_sul_schedule(g.ctx, 0, &ch->next, chat_next_cb, (lws_usec_t)(due - now));
}

/* Whether text is the marker of round trip k sent by the given side. */
static bool marker_ok(const struct chat *ch, const char *text, bool from_visitor, unsigned k)
{
	char want[32];
	int n = snprintf(want, sizeof want, "%c%u.%u ", from_visitor ? 'v' : 's', ch->visitor->no, k);

	return text != NULL && strncmp(text, want, (size_t)n) == 0;
}

static void chat_check_done(struct chat *ch)
{
	if (!ch->ended_v || !ch->ended_s)
		return;
	g.chats_done++;
	if (g.chats_done == 1)
		g.t_chats_first_done = mono_us();
	if (g.chats_done == g.target_chats)
		g.t_chats_all_done = mono_us();
}

/* A frame that does not fit what the daemon should have sent. */
static void wrong(const struct conn *c, const char *what, const char *type)
{
	g.wrong_frames++;
	tally_add(&g.wrong_kinds, what);
	if (g.verbose && g.wrong_frames <= 20)
		say("wrong frame on %s %u: %s (%s)", c->kind == CONN_VISITOR ? "visitor" : "staff", c->no, what, type);
}

/* ---- staff ---- */

/* The RFC 6238 code (SHA-1, 30 s, 6 digits) of base32 secret at now into
 * out[7]; false if the secret is not base32. brugd takes a code once per
 * step and account, so a login per account and server is what this allows. */
static bool totp_code(const char *secret, time_t now, char out[7])
{
	unsigned char key[64], msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned klen = 0, mlen = 0, bits = 0, acc = 0, off;
	uint64_t step = (uint64_t)now / 30;
	uint32_t v;

	for (const char *p = secret; *p != '\0' && *p != '='; p++) {
		const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", *q = strchr(a, *p);

		if (q == NULL || klen == sizeof key)
			return false;
		acc = acc << 5 | (unsigned)(q - a);
		bits += 5;
		if (bits >= 8) {
			key[klen++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	for (int i = 7; i >= 0; i--, step >>= 8)
		msg[i] = (unsigned char)step;
	if (HMAC(EVP_sha1(), key, (int)klen, msg, sizeof msg, mac, &mlen) == NULL || mlen < 20)
		return false;
	off = mac[mlen - 1] & 0x0f;
	v = ((uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 | (uint32_t)mac[off + 2] << 8 |
	     mac[off + 3]) % 1000000u;
	snprintf(out, 7, "%06u", (unsigned)v);
	return true;
}

static void staff_pump(struct conn *c)
{
	if (g.phase != PHASE_CHATS || c->gone || !c->ready)
		return;
	while (c->chats + c->accepting < c->quota && c->n_offers > 0) {
		char id[32];

		snprintf(id, sizeof id, "a%s", c->offers[0]);
		send_json(c, json_pack("{s:s, s:s, s:s}", "type", "accept", "offer", c->offers[0], "id", id), NULL);
		c->accepting++;
		memmove(c->offers[0], c->offers[1], (size_t)(c->n_offers - 1) * sizeof c->offers[0]);
		c->n_offers--;
	}
	/* With its share of chats, the member stops taking offers, so the
	 * remaining visitors stay in the queue. */
	if (c->chats >= c->quota && c->accepting == 0 && c->available && !c->off_sent) {
		send_json(c, json_pack("{s:s, s:b, s:s}", "type", "status", "available", 0, "id", "off"), NULL);
		c->off_sent = true;
	}
}

static void offer_remove(struct conn *c, const char *offer)
{
	for (unsigned i = 0; i < c->n_offers; i++) {
		if (strcmp(c->offers[i], offer) == 0) {
			memmove(c->offers[i], c->offers[i + 1], (size_t)(c->n_offers - i - 1) * sizeof c->offers[0]);
			c->n_offers--;
			return;
		}
	}
}

/* Start the next staff member's connection, if any is left. */
static unsigned staff_started;

static void staff_start_next(void)
{
	if (staff_started < g.n_staff)
		conn_start(&g.staff[staff_started++]);
}

static void staff_frame(struct conn *c, const char *type, json_t *f, uint64_t now)
{
	const char *id = json_string_value(json_object_get(f, "id"));

	if (strcmp(type, "session") == 0) {
		json_t *mc = json_object_get(json_object_get(f, "user"), "max_chats");

		c->max_chats = json_is_integer(mc) ? (unsigned)json_integer_value(mc) : 1;
		samples_add(&g.lat_login, now - c->t_start);
		send_json(c, json_pack("{s:s, s:b, s:s}", "type", "status", "available", 1, "id", "on"), NULL);
		staff_start_next();
	} else if (strcmp(type, "status") == 0) {
		c->available = json_is_true(json_object_get(f, "available"));
		if (id != NULL && strcmp(id, "on") == 0 && c->available && !c->ready) {
			c->ready = true;
			g.s_ready++;
		} else if (id == NULL && !c->available && !c->off_sent) {
			/* An offer lapsed and the daemon set us unavailable. */
			g.s_lapsed++;
			send_json(c, json_pack("{s:s, s:b}", "type", "status", "available", 1), NULL);
		}
	} else if (strcmp(type, "offer") == 0) {
		const char *o = json_string_value(json_object_get(f, "offer"));
		const char *kind = json_string_value(json_object_get(f, "kind"));

		if (o == NULL || strlen(o) >= sizeof c->offers[0] || (kind != NULL && strcmp(kind, "chat") != 0)) {
			wrong(c, "offer without a chat offer id", type);
			return;
		}
		if (c->n_offers < MAX_OFFERS)
			snprintf(c->offers[c->n_offers++], sizeof c->offers[0], "%s", o);
		staff_pump(c);
	} else if (strcmp(type, "offer_gone") == 0) {
		const char *o = json_string_value(json_object_get(f, "offer"));

		if (o != NULL)
			offer_remove(c, o);
	} else if (strcmp(type, "chat") == 0) {
		struct chat *ch = chat_get(json_string_value(json_object_get(f, "chat")));

		if (c->accepting > 0)
			c->accepting--;
		if (ch == NULL || ch->staff != NULL) {
			wrong(c, "chat id unknown or taken twice", type);
			return;
		}
		ch->staff = c;
		c->chats++;
		staff_pump(c);
	} else if (strcmp(type, "msg") == 0) {
		struct chat *ch = chat_get(json_string_value(json_object_get(f, "chat")));
		const char *from = json_string_value(json_object_get(f, "from"));
		const char *text = json_string_value(json_object_get(f, "text"));

		if (ch == NULL || ch->staff != c || ch->visitor == NULL || from == NULL) {
			wrong(c, "msg for a chat that is not ours", type);
			return;
		}
		if (strcmp(from, "visitor") == 0) {
			if (!marker_ok(ch, text, true, ch->k_s + 1)) {
				wrong(c, "visitor msg out of turn or for another chat", type);
				return;
			}
			samples_add(&g.lat_v2s, now - ch->v_sent);
			if (g.in_steady)
				samples_add(&g.lat_steady, now - ch->v_sent);
			g.msgs_relayed++;
			ch->k_s++;
			send_chat_msg(ch, false);
		} else if (strcmp(from, "staff") == 0) {
			if (!marker_ok(ch, text, false, ch->k_s)) {
				wrong(c, "staff echo out of turn or for another chat", type);
				return;
			}
			samples_add(&g.lat_echo, now - ch->s_sent);
		}
	} else if (strcmp(type, "ended") == 0) {
		struct chat *ch = chat_get(json_string_value(json_object_get(f, "chat")));

		if (ch == NULL || ch->staff != c || ch->ended_s) {
			wrong(c, "ended for a chat that is not ours", type);
			return;
		}
		ch->ended_s = true;
		chat_check_done(ch);
	} else if (strcmp(type, "error") == 0) {
		const char *code = json_string_value(json_object_get(f, "code"));

		tally_add(&g.error_codes, code != NULL ? code : "?");
		if (code != NULL && strcmp(code, "rate_limited") == 0)
			g.rate_limited++;
		if (id != NULL && id[0] == 'a') {
			g.accept_failed++;
			if (c->accepting > 0)
				c->accepting--;
			staff_pump(c);
		}
	}
	/* Other frames (typing, presence, joined, left) are ignored. */
}

/* ---- visitors ---- */

static void visitor_frame(struct conn *c, const char *type, json_t *f, uint64_t now)
{
	if (strcmp(type, "welcome") == 0) {
		if (!c->welcomed) {
			c->welcomed = true;
			g.v_welcomed++;
			samples_add(&g.lat_welcome, now - c->t_start);
		}
	} else if (strcmp(type, "queue") == 0) {
		json_t *p = json_object_get(f, "position");

		if (!json_is_integer(p) || json_integer_value(p) < 1) {
			wrong(c, "queue without a position", type);
			return;
		}
		c->position = (unsigned)json_integer_value(p);
		if (!c->queued) {
			c->queued = true;
			g.v_queued++;
		}
		g.queue_frames++;
		if (g.phase >= PHASE_CHATS)
			g.queue_frames_chats++;
		g.last_queue_us = now;
	} else if (strcmp(type, "closed") == 0) {
		if (!c->closed_msg) {
			c->closed_msg = true;
			g.v_closed_msg++;
		}
	} else if (strcmp(type, "joined") == 0) {
		struct chat *ch = chat_get(json_string_value(json_object_get(f, "chat")));

		if (ch == NULL || ch->visitor != NULL || c->chat != NULL) {
			wrong(c, "joined twice or for a known chat", type);
			return;
		}
		ch->visitor = c;
		c->chat = ch;
		c->position = 0;
		g.joined++;
		ch->k = 1;
		/* With --rate, the chats' round trips are spread over the period. */
		visitor_send_at(ch, now, now + (g.period_us ? (c->no * 2654435761ull) % g.period_us : 0));
		if (g.joined == g.target_chats)
			steady_begin();
	} else if (strcmp(type, "msg") == 0) {
		struct chat *ch = c->chat;
		const char *from = json_string_value(json_object_get(f, "from"));
		const char *text = json_string_value(json_object_get(f, "text"));

		if (ch == NULL || from == NULL) {
			wrong(c, "msg outside a chat", type);
			return;
		}
		if (strcmp(from, "visitor") == 0) {
			if (!marker_ok(ch, text, true, ch->k)) {
				wrong(c, "visitor echo out of turn or for another visitor", type);
				return;
			}
			samples_add(&g.lat_echo, now - ch->v_sent);
		} else if (strcmp(from, "staff") == 0) {
			if (!marker_ok(ch, text, false, ch->k)) {
				wrong(c, "staff msg out of turn or for another visitor", type);
				return;
			}
			samples_add(&g.lat_s2v, now - ch->s_sent);
			if (g.in_steady)
				samples_add(&g.lat_steady, now - ch->s_sent);
			g.msgs_relayed++;
			if (ch->k < g.messages) {
				ch->k++;
				visitor_send_at(ch, now, ch->v_sent + g.period_us);
			} else {
				steady_end();
				send_json(c, json_pack("{s:s}", "type", "end"), NULL);
			}
		}
	} else if (strcmp(type, "ended") == 0) {
		struct chat *ch = c->chat;
		const char *by;

		if (ch == NULL || ch->ended_v) {
			wrong(c, "ended outside a chat or twice", type);
			return;
		}
		ch->ended_v = true;
		by = json_string_value(json_object_get(f, "by"));
		if (by == NULL || strcmp(by, "visitor") != 0 || ch->k_s < g.messages)
			tally_add(&g.ended_early, by != NULL ? by : "?");
		else
			g.chats_full++;
		chat_check_done(ch);
	} else if (strcmp(type, "notice") == 0) {
		g.requeued++;
	} else if (strcmp(type, "error") == 0) {
		const char *code = json_string_value(json_object_get(f, "code"));

		tally_add(&g.error_codes, code != NULL ? code : "?");
		if (code != NULL && strcmp(code, "rate_limited") == 0)
			g.rate_limited++;
	}
}

static void handle_frame(struct conn *c, const char *buf, size_t len)
{
	json_error_t err;
	json_t *f = json_loadb(buf, len, 0, &err);
	const char *type;
	uint64_t now = mono_us();

	g.frames_in++;
	type = json_string_value(json_object_get(f, "type"));
	if (type == NULL) {
		g.bad_json++;
		json_decref(f);
		return;
	}
	if (c->kind == CONN_VISITOR)
		visitor_frame(c, type, f, now);
	else
		staff_frame(c, type, f, now);
	json_decref(f);
}

static void on_receive(struct conn *c, struct lws *wsi, const char *in, size_t len)
{
	bool final = lws_is_final_fragment(wsi);

	if (final && c->rx_len == 0) {
		handle_frame(c, in, len);
		return;
	}
	if (c->rx_len + len > MAX_RX) {
		wrong(c, "frame larger than the reassembly limit", "?");
		c->rx_len = 0;
		return;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_len + len + 1024;
		char *p = realloc(c->rx, cap);

		if (p == NULL)
			return;
		c->rx = p;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (final) {
		handle_frame(c, c->rx, c->rx_len);
		c->rx_len = 0;
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
}

/* The connection is over, for whatever reason; safe to call twice.
 * failed: it never got established. */
static void conn_gone(struct conn *c, bool failed)
{
	if (c->gone)
		return;
	c->gone = true;
	c->wsi = NULL;
	lws_sul_cancel(&c->pace);
	conn_drop_queue(c);
	free(c->rx);
	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
	if (g.phase == PHASE_DONE)
		return;
	if (c->kind == CONN_STAFF && g.phase == PHASE_STAFF)
		staff_start_next();   /* a failed login must not hold up the others */
	if (failed) {
		if (c->kind == CONN_VISITOR)
			g.v_connect_failed++;
		else
			g.s_connect_failed++;
		return;
	}
	if (c->close_code != 0) {
		char code[16];

		snprintf(code, sizeof code, "%d", c->close_code);
		tally_add(&g.close_codes, code);
	}
	if (c->kind == CONN_VISITOR)
		g.v_dropped++;
	else
		g.s_dropped++;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct conn *c = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;

	if (c == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (g.phase != PHASE_DONE)
			tally_add(&g.conn_errors, in != NULL ? (const char *)in : "connection error");
		conn_gone(c, true);
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->established = true;
		if (c->kind == CONN_VISITOR) {
			g.v_established++;
			samples_add(&g.lat_connect, mono_us() - c->t_start);
			send_json(c, json_pack("{s:s, s:s}", "type", "hello", "lang", g.lang), NULL);
		} else {
			char code[7];

			if (c->totp != NULL && totp_code(c->totp, time(NULL), code))
				send_json(c, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "login", "user", c->user,
						       "password", c->password, "totp", code, "id", "login"), NULL);
			else
				send_json(c, json_pack("{s:s, s:s, s:s, s:s}", "type", "login", "user", c->user,
						       "password", c->password, "id", "login"), NULL);
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		on_receive(c, wsi, in, len);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (c->gone)
			return 0;
		return on_writable(c);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2)
			c->close_code = ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		conn_gone(c, !c->established);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ .name = "brug-visitor.v1", .callback = callback, .rx_buffer_size = 2048 },
	{ .name = "brug-staff.v1", .callback = callback, .rx_buffer_size = 4096 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- phases ---- */

/* Whether the waiting visitors' last positions are exactly 1..n. */
static void check_positions(unsigned *waiting, unsigned *dups, unsigned *gaps)
{
	unsigned char *seen = calloc(g.n_visitors + 2, 1);
	unsigned n = 0;

	*waiting = *dups = *gaps = 0;
	if (seen == NULL)
		return;
	for (unsigned i = 0; i < g.n_visitors; i++) {
		struct conn *c = &g.visitors[i];

		if (c->gone || !c->queued || c->chat != NULL)
			continue;
		n++;
		if (c->position >= 1 && c->position <= g.n_visitors && seen[c->position]++ != 0)
			(*dups)++;
	}
	for (unsigned p = 1; p <= n; p++)
		if (seen[p] == 0)
			(*gaps)++;
	*waiting = n;
	free(seen);
}

static void stop_cb(lws_sorted_usec_list_t *sul)
{
	lws_context_destroy(g.ctx);
}

static void finish(const char *why, bool complete)
{
	if (g.phase == PHASE_DONE)
		return;
	g.stop_why = why;
	g.stop_phase = g.phase;
	g.complete = complete;
	steady_end();
	g.srv_end = proc_sample(g.server_pid);
	set_phase(PHASE_DONE);
	lws_sul_cancel(&g.tick_sul);
	lws_sul_cancel(&g.batch_sul);
	lws_sul_schedule(g.ctx, 0, &g.stop_sul, stop_cb, 1);
}

static void start_chats(void)
{
	unsigned n_ready = 0, i, r = 0;

	set_phase(PHASE_CHATS);
	for (i = 0; i < g.n_staff; i++)
		if (g.staff[i].ready && !g.staff[i].gone)
			n_ready++;
	g.target_chats = 0;
	for (i = 0; i < g.n_staff && n_ready > 0; i++) {
		struct conn *c = &g.staff[i];

		if (!c->ready || c->gone)
			continue;
		c->quota = g.chats / n_ready + (r < g.chats % n_ready);
		r++;
		if (c->quota > c->max_chats)
			c->quota = c->max_chats;
		g.target_chats += c->quota;
	}
	if (g.target_chats > g.v_queued)
		g.target_chats = g.v_queued;
	if (g.target_chats < g.chats)
		say("only %u of %u chats possible (staff capacity or visitors)", g.target_chats, g.chats);
	if (g.rate > 0 && g.target_chats > 0)
		g.period_us = 2ull * g.target_chats * 1000000u / g.rate;
	for (i = 0; i < g.n_staff; i++)
		staff_pump(&g.staff[i]);
}

static void progress(uint64_t now)
{
	if (now - g.last_progress < PROGRESS_US)
		return;
	g.last_progress = now;
	say("%s: staff %u/%u ready; visitors %u welcomed, %u failed, %u dropped; chats %u/%u done; %" PRIu64
	    " queue frames", phase_names[g.phase], g.s_ready, g.n_staff, g.v_welcomed, g.v_connect_failed,
	    g.v_dropped, g.chats_done, g.target_chats, g.queue_frames);
}

static bool settled(uint64_t now)
{
	uint64_t quiet_since = g.last_queue_us > g.phase_t0 ? g.last_queue_us : g.phase_t0;

	return now - quiet_since >= SETTLE_QUIET_US || now - g.phase_t0 >= SETTLE_MAX_US;
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	uint64_t now = mono_us();
	unsigned resolved;

	if (g.stop_requested) {
		finish("interrupted", false);
		return;
	}
	if (now - g.t0 >= (uint64_t)g.duration_s * 1000000u) {
		finish("time limit", false);
		return;
	}
	progress(now);
	switch (g.phase) {
	case PHASE_STAFF:
		if (g.s_ready + g.s_connect_failed + g.s_dropped >= g.n_staff || now - g.phase_t0 >= STAFF_PHASE_MAX_US) {
			g.srv_staff = proc_sample(g.server_pid);
			set_phase(PHASE_VISITORS);
			g.t_visitors_start = now;
			lws_sul_schedule(g.ctx, 0, &g.batch_sul, batch_cb, 1);
		}
		break;
	case PHASE_VISITORS:
		resolved = 0;
		for (unsigned i = 0; i < g.n_visitors; i++) {
			const struct conn *c = &g.visitors[i];

			if (c->gone || (c->welcomed && (c->queued || c->closed_msg || c->chat != NULL)))
				resolved++;
		}
		if (resolved == g.n_visitors) {
			g.t_visitors_done = now;
			set_phase(PHASE_SETTLE);
		}
		break;
	case PHASE_SETTLE:
		if (!settled(now))
			break;
		check_positions(&g.pos_check_waiting, &g.pos_check_dups, &g.pos_check_gaps);
		g.pos_checked = true;
		g.srv_held = proc_sample(g.server_pid);
		set_phase(PHASE_IDLE);
		break;
	case PHASE_IDLE:
		if (now - g.phase_t0 < (uint64_t)g.idle_s * 1000000u)
			break;
		g.srv_idle = proc_sample(g.server_pid);
		g.all_idle = cpu_sample_all();
		if (g.chats == 0 || g.s_ready == 0) {
			g.srv_chats = g.srv_idle;
			finish("complete (no chats)", true);
			return;
		}
		start_chats();
		break;
	case PHASE_CHATS:
		if (g.chats_done >= g.target_chats) {
			g.srv_chats = proc_sample(g.server_pid);
			g.all_chats = cpu_sample_all();
			set_phase(PHASE_SETTLE2);
		}
		break;
	case PHASE_SETTLE2:
		if (!settled(now))
			break;
		check_positions(&g.pos2_check_waiting, &g.pos2_check_dups, &g.pos2_check_gaps);
		g.pos2_checked = true;
		finish("complete", true);
		return;
	case PHASE_DONE:
		return;
	}
	lws_sul_schedule(g.ctx, 0, &g.tick_sul, tick_cb, TICK_US);
}

static void signal_cb(void *handle, int signum)
{
	g.stop_requested = true;
}

/* ---- report ---- */

static void print_lat(const char *label, struct samples *s)
{
	if (s->n == 0) {
		printf("  %-26s no samples\n", label);
		return;
	}
	qsort(s->v, s->n, sizeof s->v[0], cmp_u32);
	printf("  %-26s p50 %8.2f  p95 %8.2f  p99 %8.2f  max %8.2f ms  (n=%zu)\n", label,
	       quantile_ms(s, 0.50), quantile_ms(s, 0.95), quantile_ms(s, 0.99), quantile_ms(s, 1.0), s->n);
}

static void print_mem(const char *label, const struct proc_sample *s)
{
	if (!s->ok)
		return;
	printf("  %-26s RSS %7.1f MiB  HWM %7.1f MiB  CPU %8.0f ms  at %6.1f s\n", label, s->rss_kb / 1024.0,
	       s->hwm_kb / 1024.0, (double)s->cpu_ms, (double)(s->t_us - g.t0) / 1e6);
}

/* With --cpu-pid: each process's CPU time in the chat phase and the steady
 * window, and their sum per relayed message; into all_chat and all_steady
 * (µs per message, or "-") for the RESULT line. */
static void report_all_cpu(char all_chat[32], char all_steady[32])
{
	uint64_t steady_msgs = g.steady1_msgs - g.steady0_msgs;
	bool chat_ok = g.all_idle.ok && g.all_chats.ok && g.msgs_relayed > 0;
	bool steady_ok = g.steady_done && g.all_steady0.ok && g.all_steady1.ok && steady_msgs > 0;

	snprintf(all_chat, 32, "-");
	snprintf(all_steady, 32, "-");
	if (g.n_cpu_pids == 0)
		return;
	printf("processes (CPU time: --server-pid, then each --cpu-pid)\n");
	for (unsigned i = 0; i <= g.n_cpu_pids; i++) {
		printf("  pid %-22ld", i == 0 ? g.server_pid : g.cpu_pids[i - 1]);
		if (chat_ok)
			printf(" chat phase %6" PRIu64 " ms", g.all_chats.ms[i] - g.all_idle.ms[i]);
		if (steady_ok)
			printf(", steady window %6" PRIu64 " ms", g.all_steady1.ms[i] - g.all_steady0.ms[i]);
		printf("\n");
	}
	if (chat_ok) {
		uint64_t ms = cpu_sum(&g.all_chats) - cpu_sum(&g.all_idle);

		snprintf(all_chat, 32, "%.1f", (double)ms * 1000 / (double)g.msgs_relayed);
		printf("  all %-22u chat phase %6" PRIu64 " ms for %" PRIu64 " relayed msgs: %s µs per msg\n",
		       g.n_cpu_pids + 1, ms, g.msgs_relayed, all_chat);
	}
	if (steady_ok) {
		uint64_t ms = cpu_sum(&g.all_steady1) - cpu_sum(&g.all_steady0);

		snprintf(all_steady, 32, "%.1f", (double)ms * 1000 / (double)steady_msgs);
		printf("  all %-22u steady window %3" PRIu64 " ms for %" PRIu64 " relayed msgs: %s µs per msg\n",
		       g.n_cpu_pids + 1, ms, steady_msgs, all_steady);
	}
}

/* The steady window's figures, and one RESULT line of key=value pairs for
 * compare.sh (a value it cannot know is "-"). Needs sorted samples. */
static void report_steady(unsigned held)
{
	double secs = (double)(g.steady1.t_us - g.steady0.t_us) / 1e6;
	uint64_t msgs = g.steady1_msgs - g.steady0_msgs;
	char rate[32] = "-", us[32] = "-", core[32] = "-", self[32] = "-", start[32] = "-", rss[32] = "-";
	char p50[32] = "-", p99[32] = "-", all99[32] = "-", held_mib[32] = "-";
	char all_chat[32], all_steady[32];

	report_all_cpu(all_chat, all_steady);

	if (g.steady_done && secs > 0 && msgs > 0) {
		snprintf(rate, sizeof rate, "%.0f", (double)msgs / secs);
		snprintf(self, sizeof self, "%.0f", (double)(g.steady1_self_us - g.steady0_self_us) / 1e4 / secs);
		if (g.steady0.ok && g.steady1.ok) {
			double ms = (double)(g.steady1.cpu_ms - g.steady0.cpu_ms);

			snprintf(us, sizeof us, "%.1f", ms * 1000 / (double)msgs);
			snprintf(core, sizeof core, "%.0f", ms / 10 / secs);
		}
		printf("  steady window              %.1f s, %" PRIu64 " relayed msgs: %s msgs/s; server CPU %s µs per msg"
		       " (%s%% of a core); loadgen %s%% of a core\n", secs, msgs, rate, us, core, self);
	}
	if (g.lat_steady.n > 0) {
		snprintf(p50, sizeof p50, "%.2f", quantile_ms(&g.lat_steady, 0.50));
		snprintf(p99, sizeof p99, "%.2f", quantile_ms(&g.lat_steady, 0.99));
	}
	if (g.lat_v2s.n > 0 && g.lat_s2v.n > 0) {
		double a = quantile_ms(&g.lat_v2s, 0.99), b = quantile_ms(&g.lat_s2v, 0.99);

		snprintf(all99, sizeof all99, "%.2f", a > b ? a : b);
	}
	if ((g.steady_done || g.in_steady) && g.srv_idle.ok && g.steady0.ok && g.joined > 0) {
		snprintf(start, sizeof start, "%.2f", (double)(g.steady0.cpu_ms - g.srv_idle.cpu_ms) / g.joined);
		printf("  chat start                 %s ms server CPU per chat (first accept until all %u joined)\n", start,
		       g.joined);
	}
	if (g.srv_held.ok && held > 0)
		snprintf(rss, sizeof rss, "%.1f", (double)(g.srv_held.rss_kb - g.srv_staff.rss_kb) / held);
	if (g.srv_held.ok)
		snprintf(held_mib, sizeof held_mib, "%.1f", g.srv_held.rss_kb / 1024.0);
	printf("RESULT complete=%d held=%u rss_mib_held=%s rss_kib_per_waiting=%s msgs_per_s=%s srv_us_per_msg=%s srv_core_pct=%s"
	       " loadgen_core_pct=%s steady_p50_ms=%s steady_p99_ms=%s relay_p99_ms=%s chat_start_ms=%s"
	       " relayed=%" PRIu64 " wrong=%u rate_limited=%u all_chat_us_per_msg=%s all_steady_us_per_msg=%s\n",
	       g.complete, held, held_mib, rss, rate, us, core, self, p50, p99, all99, start, g.msgs_relayed, g.wrong_frames,
	       g.rate_limited, all_chat, all_steady);
}

static void report(void)
{
	struct rusage ru;
	double secs = (double)(mono_us() - g.t0) / 1e6;
	unsigned held = g.pos_check_waiting;

	printf("brug loadgen report\n");
	printf("  run                        %.1f s, ended: %s\n", secs, g.stop_why != NULL ? g.stop_why : "?");
	if (!g.complete)
		printf("  INCOMPLETE                 stopped in phase %s\n", phase_names[g.stop_phase]);
	printf("  staff                      %u asked, %u ready, %u connect failed, %u dropped, %u offer lapses\n",
	       g.n_staff, g.s_ready, g.s_connect_failed, g.s_dropped, g.s_lapsed);
	printf("  visitors                   %u asked, %u established, %u welcomed, %u queued, %u told closed\n",
	       g.n_visitors, g.v_established, g.v_welcomed, g.v_queued, g.v_closed_msg);
	printf("  visitor failures           %u connect failed, %u dropped before the end\n", g.v_connect_failed,
	       g.v_dropped);
	if (g.t_visitors_done > g.t_visitors_start)
		printf("  connect rate               %.0f visitors/s (%u in %.1f s, batches of %u every %u ms)\n",
		       g.v_welcomed / ((double)(g.t_visitors_done - g.t_visitors_start) / 1e6), g.v_welcomed,
		       (double)(g.t_visitors_done - g.t_visitors_start) / 1e6, g.batch, g.batch_ms);
	if (g.pos_checked)
		printf("  queue check (held)         %u waiting, %u duplicate and %u missing positions\n",
		       g.pos_check_waiting, g.pos_check_dups, g.pos_check_gaps);
	printf("  chats                      %u asked, %u possible, %u joined, %u ended, %u with all %u round trips\n",
	       g.chats, g.target_chats, g.joined, g.chats_done, g.chats_full, g.messages);
	tally_print("  chats ended early by       ", &g.ended_early);
	if (g.t_chats_all_done > 0)
		printf("  chat phase                 %.1f s to finish all chats, %.0f relayed msgs/s\n",
		       (double)(g.t_chats_all_done - g.srv_idle.t_us) / 1e6,
		       g.msgs_relayed / ((double)(g.t_chats_all_done - g.srv_idle.t_us) / 1e6));
	if (g.pos2_checked)
		printf("  queue check (after chats)  %u waiting, %u duplicate and %u missing positions\n",
		       g.pos2_check_waiting, g.pos2_check_dups, g.pos2_check_gaps);
	printf("  queue updates              %" PRIu64 " received, %" PRIu64 " during chats (%.1f per accepted chat)\n",
	       g.queue_frames, g.queue_frames_chats, g.joined ? (double)g.queue_frames_chats / g.joined : 0.0);
	printf("  frames                     %" PRIu64 " in, %" PRIu64 " out; %u wrong, %u not JSON\n", g.frames_in,
	       g.frames_out, g.wrong_frames, g.bad_json);
	printf("  refusals                   %u accepts failed, %u rate_limited, %u requeued notices\n",
	       g.accept_failed, g.rate_limited, g.requeued);
	tally_print("  error frames               ", &g.error_codes);
	tally_print("  wrong frames               ", &g.wrong_kinds);
	tally_print("  close codes                ", &g.close_codes);
	tally_print("  connection errors          ", &g.conn_errors);
	printf("latency (client clock, send to receive)\n");
	print_lat("staff connect to session", &g.lat_login);
	print_lat("connect (TLS+upgrade)", &g.lat_connect);
	print_lat("connect to welcome", &g.lat_welcome);
	print_lat("relay visitor -> staff", &g.lat_v2s);
	print_lat("relay staff -> visitor", &g.lat_s2v);
	print_lat("echo to own socket", &g.lat_echo);
	print_lat("relay, steady window", &g.lat_steady);
	if (g.srv_start.ok) {
		printf("brugd (pid %ld)\n", g.server_pid);
		print_mem("start", &g.srv_start);
		print_mem("staff ready", &g.srv_staff);
		print_mem("visitors held", &g.srv_held);
		print_mem("after idle", &g.srv_idle);
		print_mem("chats done", &g.srv_chats);
		print_mem("end", &g.srv_end);
		if (g.srv_held.ok && held > 0) {
			printf("  per waiting visitor        %.1f KiB RSS, %.2f ms CPU to connect and queue\n",
			       (double)(g.srv_held.rss_kb - g.srv_staff.rss_kb) / held,
			       (double)(g.srv_held.cpu_ms - g.srv_staff.cpu_ms) / held);
		}
		if (g.srv_chats.ok && g.chats_done > 0 && held > 0)
			printf("  per visitor after chats    %.1f KiB RSS (high-water of buffers used while sending)\n",
			       (double)(g.srv_chats.rss_kb - g.srv_staff.rss_kb) / held);
		if (g.srv_idle.ok && g.idle_s > 0 && held > 0)
			printf("  idle                       %.1f ms CPU per s with %u visitors waiting\n",
			       (double)(g.srv_idle.cpu_ms - g.srv_held.cpu_ms) /
				       ((double)(g.srv_idle.t_us - g.srv_held.t_us) / 1e6), held);
		if (g.srv_chats.ok && g.chats_done > 0)
			printf("  chat phase                 %.0f ms CPU: %.2f ms per chat, %.3f ms per relayed msg\n",
			       (double)(g.srv_chats.cpu_ms - g.srv_idle.cpu_ms),
			       (double)(g.srv_chats.cpu_ms - g.srv_idle.cpu_ms) / g.chats_done,
			       g.msgs_relayed ? (double)(g.srv_chats.cpu_ms - g.srv_idle.cpu_ms) / g.msgs_relayed : 0);
	}
	report_steady(held);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		printf("loadgen itself                 max RSS %.1f MiB, CPU %.1f s user + %.1f s sys\n",
		       ru.ru_maxrss / 1024.0, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	fflush(stdout);
}

/* ---- set-up ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: loadgen --port N --ca FILE [options]\n"
		"  --port N              the visitors' node (and the staff's, without --staff-port)\n"
		"  --staff-port N        the staff's node, another node of a cluster (default --port)\n"
		"  --visitors N          visitors to connect (default 2000)\n"
		"  --staff N             staff accounts PREFIX1..PREFIXN (default 10)\n"
		"  --staff-prefix P      user name prefix for --staff (default bench)\n"
		"  --staff-user U,U,...  explicit staff user names instead of --staff\n"
		"  --staff-password P    password of every staff account, or P,P,... one each\n"
		"  --staff-totp S,S,...  base32 TOTP secret of each staff account (or one for all)\n"
		"  --chats M             visitor<->staff chats that exchange messages (default 100)\n"
		"  --messages K          round trips visitor->staff->visitor per chat (default 10)\n"
		"  --duration-s S        stop after S seconds whatever happens (default 120)\n"
		"  --idle-s S            keep everyone connected and quiet for S s before the chats (default 0)\n"
		"  --batch N --batch-ms T   connect N visitors every T ms (default 50, 20)\n"
		"  --lang L              visitors' language (default nl)\n"
		"  --server-pid PID      sample this process's memory and CPU per phase\n"
		"  --cpu-pid PID,...     also add up these processes' CPU time for the chats (cluster nodes, NATS)\n"
		"  --no-pace             do not keep under brugd's default rate limits (lifted in the config)\n"
		"  --rate R              chats send at R relayed msgs/s in all, instead of ping-pong (implies --no-pace)\n"
		"  --verbose             more progress on stderr\n");
}

static bool parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* Split a comma list in place into at most max entries; returns the count. */
static unsigned split_list(char *s, char **out, unsigned max)
{
	unsigned n = 0;

	for (char *tok = strtok(s, ","); tok != NULL && n < max; tok = strtok(NULL, ","))
		out[n++] = tok;
	return n;
}

/* lws sizes its tables from the file limit: make room for every socket. */
static unsigned raise_nofile(unsigned want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			say("could not raise the file limit: %s", strerror(errno));
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur > UINT_MAX ? UINT_MAX : (unsigned)rl.rlim_cur;
}

enum {
	OPT_PORT = 256, OPT_CA, OPT_VISITORS, OPT_STAFF, OPT_STAFF_PREFIX, OPT_STAFF_USER,
	OPT_STAFF_PASSWORD, OPT_CHATS, OPT_MESSAGES, OPT_DURATION, OPT_IDLE, OPT_BATCH, OPT_BATCH_MS,
	OPT_LANG, OPT_PID, OPT_VERBOSE, OPT_HELP, OPT_NO_PACE, OPT_RATE, OPT_STAFF_TOTP, OPT_STAFF_PORT,
	OPT_CPU_PID,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, OPT_PORT },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "visitors", required_argument, NULL, OPT_VISITORS },
		{ "staff", required_argument, NULL, OPT_STAFF },
		{ "staff-prefix", required_argument, NULL, OPT_STAFF_PREFIX },
		{ "staff-user", required_argument, NULL, OPT_STAFF_USER },
		{ "staff-password", required_argument, NULL, OPT_STAFF_PASSWORD },
		{ "chats", required_argument, NULL, OPT_CHATS },
		{ "messages", required_argument, NULL, OPT_MESSAGES },
		{ "duration-s", required_argument, NULL, OPT_DURATION },
		{ "idle-s", required_argument, NULL, OPT_IDLE },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "batch-ms", required_argument, NULL, OPT_BATCH_MS },
		{ "lang", required_argument, NULL, OPT_LANG },
		{ "server-pid", required_argument, NULL, OPT_PID },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "no-pace", no_argument, NULL, OPT_NO_PACE },
		{ "staff-totp", required_argument, NULL, OPT_STAFF_TOTP },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "staff-port", required_argument, NULL, OPT_STAFF_PORT },
		{ "cpu-pid", required_argument, NULL, OPT_CPU_PID },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	char *users_arg = NULL, *pw_arg = NULL, *totp_arg = NULL, *cpu_arg = NULL, *users[1024], *pws[1024],
	     *totps[1024], *cpus[MAX_CPU_PIDS + 1];
	const char *prefix = "bench";
	unsigned n_users = 0, n_pws = 0, n_totps = 0, n_cpus = 0, port = 0, staff_port = 0, pid = 0, limit;
	char **user_names = NULL;
	int opt, status = 0;

	g.n_visitors = 2000;
	g.n_staff = 10;
	g.chats = 100;
	g.messages = 10;
	g.duration_s = 120;
	g.batch = 50;
	g.batch_ms = 20;
	g.lang = "nl";
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		bool ok = true;

		switch (opt) {
		case OPT_PORT: ok = parse_uint(optarg, 1, 65535, &port); break;
		case OPT_STAFF_PORT: ok = parse_uint(optarg, 1, 65535, &staff_port); break;
		case OPT_CPU_PID: cpu_arg = optarg; break;
		case OPT_CA: g.ca = optarg; break;
		case OPT_VISITORS: ok = parse_uint(optarg, 0, 1000000, &g.n_visitors); break;
		case OPT_STAFF: ok = parse_uint(optarg, 0, 1000, &g.n_staff); break;
		case OPT_STAFF_PREFIX: prefix = optarg; break;
		case OPT_STAFF_USER: users_arg = optarg; break;
		case OPT_STAFF_PASSWORD: pw_arg = optarg; break;
		case OPT_CHATS: ok = parse_uint(optarg, 0, 1000000, &g.chats); break;
		case OPT_MESSAGES: ok = parse_uint(optarg, 1, 100000, &g.messages); break;
		case OPT_DURATION: ok = parse_uint(optarg, 1, 86400, &g.duration_s); break;
		case OPT_IDLE: ok = parse_uint(optarg, 0, 86400, &g.idle_s); break;
		case OPT_BATCH: ok = parse_uint(optarg, 1, 100000, &g.batch); break;
		case OPT_BATCH_MS: ok = parse_uint(optarg, 1, 60000, &g.batch_ms); break;
		case OPT_LANG: g.lang = optarg; break;
		case OPT_PID: ok = parse_uint(optarg, 1, INT_MAX, &pid); break;
		case OPT_VERBOSE: g.verbose = true; break;
		case OPT_NO_PACE: g.no_pace = true; break;
		case OPT_STAFF_TOTP: totp_arg = optarg; break;
		case OPT_RATE: ok = parse_uint(optarg, 1, 10000000, &g.rate); g.no_pace = true; break;
		case OPT_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (!ok) {
			fprintf(stderr, "loadgen: bad value '%s'\n", optarg);
			return 2;
		}
	}
	if (port == 0 || g.ca == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	g.port = (int)port;
	g.staff_port = staff_port != 0 ? (int)staff_port : (int)port;
	g.server_pid = pid;
	if (cpu_arg != NULL) {
		/* One more slot than allowed, to tell a list that is too long. */
		n_cpus = split_list(cpu_arg, cpus, MAX_CPU_PIDS + 1);
		for (unsigned i = 0; i < n_cpus; i++) {
			unsigned v;

			if (n_cpus > MAX_CPU_PIDS || pid == 0 || !parse_uint(cpus[i], 1, INT_MAX, &v)) {
				fprintf(stderr, "loadgen: --cpu-pid takes 1 to %d pids, and needs --server-pid\n",
					MAX_CPU_PIDS);
				return 2;
			}
			g.cpu_pids[g.n_cpu_pids++] = (long)v;
		}
	}
	g.t0 = mono_us();

	if (users_arg != NULL) {
		n_users = split_list(users_arg, users, 1024);
		g.n_staff = n_users;
	}
	if (pw_arg != NULL)
		n_pws = split_list(pw_arg, pws, 1024);
	if (totp_arg != NULL)
		n_totps = split_list(totp_arg, totps, 1024);
	if (n_totps > 1 && n_totps < g.n_staff) {
		fprintf(stderr, "loadgen: give --staff-totp, one for all or one per user\n");
		return 2;
	}
	if (g.n_staff > 0 && (n_pws == 0 || (n_pws > 1 && n_pws != g.n_staff))) {
		fprintf(stderr, "loadgen: give --staff-password, one for all or one per user\n");
		return 2;
	}

	limit = raise_nofile(g.n_visitors + g.n_staff + 256);
	if (limit < g.n_visitors + g.n_staff + 64) {
		unsigned n = limit > g.n_staff + 64 ? limit - g.n_staff - 64 : 0;

		say("file limit %u: only %u of %u visitors", limit, n, g.n_visitors);
		g.n_visitors = n;
	}

	g.visitors = calloc(g.n_visitors + 1, sizeof *g.visitors);
	g.staff = calloc(g.n_staff + 1, sizeof *g.staff);
	user_names = calloc(g.n_staff + 1, sizeof *user_names);
	g.chat_store_cap = g.chats + 64;
	g.chat_store = calloc(g.chat_store_cap, sizeof *g.chat_store);
	for (g.n_chat_slots = 64; g.n_chat_slots < 4 * g.chat_store_cap; g.n_chat_slots *= 2)
		;
	g.chat_slots = calloc(g.n_chat_slots, sizeof *g.chat_slots);
	if (g.visitors == NULL || g.staff == NULL || user_names == NULL || g.chat_store == NULL ||
	    g.chat_slots == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		status = 1;
		goto out;
	}
	for (unsigned i = 0; i < g.n_visitors; i++) {
		g.visitors[i].kind = CONN_VISITOR;
		g.visitors[i].no = i + 1;
	}
	for (unsigned i = 0; i < g.n_staff; i++) {
		struct conn *c = &g.staff[i];

		c->kind = CONN_STAFF;
		c->no = i + 1;
		if (users_arg != NULL) {
			c->user = users[i];
		} else {
			size_t len = strlen(prefix) + 12;

			user_names[i] = malloc(len);
			if (user_names[i] == NULL) {
				status = 1;
				goto out;
			}
			snprintf(user_names[i], len, "%s%u", prefix, i + 1);
			c->user = user_names[i];
		}
		c->password = n_pws == 1 ? pws[0] : pws[i];
		c->totp = n_totps == 0 ? NULL : n_totps == 1 ? totps[0] : totps[i];
	}

	snprintf(g.origin, sizeof g.origin, "https://localhost:%d", g.port);
	snprintf(g.staff_origin, sizeof g.staff_origin, "https://localhost:%d", g.staff_port);
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN |
		       LWS_SERVER_OPTION_LIBEV;
	info.client_ssl_ca_filepath = g.ca;
	info.timeout_secs = 60;
	info.connect_timeout_secs = 60;
	info.signal_cb = signal_cb;
	g.ctx = lws_create_context(&info);
	if (g.ctx == NULL) {
		fprintf(stderr, "loadgen: could not create the lws context (CA %s, libev plugin?)\n", g.ca);
		status = 1;
		goto out;
	}

	say("file limit %u; %u staff, %u visitors, %u chats x %u messages, limit %u s", limit, g.n_staff,
	    g.n_visitors, g.chats, g.messages, g.duration_s);
	g.srv_start = proc_sample(g.server_pid);
	g.phase = PHASE_STAFF;
	g.phase_t0 = mono_us();
	g.last_progress = g.phase_t0;
	/* brugd takes two password checks at once from one address (protocol
	 * "Rate limits"), so the staff log in two at a time. */
	staff_start_next();
	staff_start_next();
	lws_sul_schedule(g.ctx, 0, &g.tick_sul, tick_cb, TICK_US);

	/* With libev, lws_service() returns only when the loop stops; the
	 * time check bounds the loop should it ever return early. */
	while (g.phase != PHASE_DONE && mono_us() - g.t0 < ((uint64_t)g.duration_s + 60) * 1000000u)
		if (lws_service(g.ctx, 0) < 0)
			break;
	/* The destroy in stop_cb is staged under an event library; this call
	 * completes it once the loop has returned. */
	lws_context_destroy(g.ctx);
	g.ctx = NULL;
	report();

out:
	for (unsigned i = 0; g.staff != NULL && user_names != NULL && i < g.n_staff; i++)
		free(user_names[i]);
	free(user_names);
	free(g.visitors);
	free(g.staff);
	free(g.chat_store);
	free(g.chat_slots);
	free(g.lat_login.v);
	free(g.lat_connect.v);
	free(g.lat_welcome.v);
	free(g.lat_v2s.v);
	free(g.lat_s2v.v);
	free(g.lat_echo.v);
	free(g.lat_steady.v);
	return status;
}
