/* Anonymous statistics (issue 5, point 5): counters per day, language,
 * topic and outcome with wait and duration buckets in the staff database's
 * `stats` table, and the reports built from them with small counts hidden.
 * Nothing here can hold a visitor's words, token, address or a chat. */
#ifndef BRUG_STATS_H
#define BRUG_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/*
 * Where the hub calls stats_record_chat() (once per visitor, never once per
 * tag; `now_ms` is the wall clock):
 *
 *   a chat ends (staff `end`, visitor `end`, timeout, shutdown)
 *       STATS_ANSWERED, the staff member's tags (or the hello topic when
 *       nobody tagged), wait = seconds from queueing to the first `joined`,
 *       duration = seconds from `joined` to the end;
 *   a chat ends by the quick exit, in the chat or still waiting
 *       STATS_QUICK_EXIT, the tags so far (usually none), wait as above or
 *       the time waited so far, duration or -1 if it never started;
 *   a visitor leaves the queue (visitor `end`, socket gone past the grace)
 *       STATS_LEFT_QUEUE, the hello topic, wait = seconds waited, -1;
 *   a visitor's `hello` is answered with `closed`
 *       STATS_ARRIVED_CLOSED, the hello topic, -1, -1.
 *
 * A failure to record is logged and otherwise ignored by the caller: the
 * statistics must never stand in the way of a chat.
 */

/* How a visitor's contact ended. */
enum stats_outcome {
	STATS_ANSWERED,       /* a staff member joined the chat */
	STATS_LEFT_QUEUE,     /* left while waiting, before anybody joined */
	STATS_ARRIVED_CLOSED, /* nobody was available for the language */
	STATS_QUICK_EXIT,     /* left through the quick exit, waiting or in a chat */
	STATS__OUTCOMES
};

/*
 * What the table holds. Every recorded contact adds 1 to one row with topic
 * STATS_TOPIC_CHAT, which carries the wait and duration buckets: those rows
 * count contacts. It also adds 1 to one row per distinct topic tag (or one
 * with STATS_TOPIC_NONE when untagged), whose buckets are "-": those rows
 * count tags, so a chat with three tags counts three times there and once
 * everywhere else. Per-topic rows carry no buckets so that no report
 * crosses a topic with a wait or a duration.
 */
#define STATS_TOPIC_CHAT "*"
#define STATS_TOPIC_NONE "-"
#define STATS_NA "-"          /* bucket that does not apply */
#define STATS_DAY_LEN 11      /* "YYYY-MM-DD" and its NUL */
#define STATS_NAME_MAX 35     /* longest language code or topic stored */
#define STATS_RANGE_MAX_DAYS 366 /* longest from..to a report covers */
#define STATS_THRESHOLD_DEFAULT 10
#define STATS_PENDING_MAX 1024   /* distinct rows waiting for the database */
#define STATS_RETRY_MS 1000      /* retry of a refused write */

/*
 * Buckets (lower bound included, upper bound excluded; negative: STATS_NA):
 *   wait      "<1m" [0,60) "1-5m" [60,300) "5-15m" [300,900)
 *             "15-30m" [900,1800) "30m+" [1800,...)
 *   duration  "<5m" [0,300) "5-15m" [300,900) "15-30m" [900,1800)
 *             "30-60m" [1800,3600) "60m+" [3600,...)
 * Static storage.
 */
const char *stats_wait_bucket(int64_t wait_s);
const char *stats_duration_bucket(int64_t duration_s);
/* "answered", "left_queue", "arrived_closed", "quick_exit"; NULL if out of
 * range. Static storage. */
const char *stats_outcome_name(enum stats_outcome o);

struct stats;

/*
 * Open the statistics over their own connection to the staff database at
 * db_path (store_open: created and migrated if needed). tz is the
 * helpline's IANA time zone, which decides the day a contact counts for;
 * threshold (1..1000) is the smallest count a report shows as a number.
 * Both strings are borrowed. Returns NULL on a bad argument, no memory or
 * a database error (logged). Free with stats_free().
 */
struct stats *stats_open(const char *db_path, const char *tz, unsigned threshold);
/* Close the connection and free. Accepts NULL. */
void stats_free(struct stats *s);
unsigned stats_threshold(const struct stats *s);

/*
 * The helpline's local date of now_ms (milliseconds since the epoch) as
 * "YYYY-MM-DD" into out. DST-correct (ICU calendar). 0 or BRUG_E_INTERNAL.
 */
int stats_day(struct stats *s, int64_t now_ms, char out[STATS_DAY_LEN]);

/*
 * Count one contact that ended at now_ms: one STATS_TOPIC_CHAT row with
 * the buckets of wait_s and duration_s (-1: not applicable), and one row per
 * distinct tag in tags[0..n_tags) (NULL or "" entries are skipped; none
 * left: STATS_TOPIC_NONE). lang and each tag are 1..STATS_NAME_MAX
 * characters of [A-Za-z0-9_-] (else BRUG_E_BAD_FIELD, nothing counted).
 * Strings are borrowed. The counts go to memory first and are written at
 * once if the database takes them without waiting; if it is busy or cannot
 * be written they wait (up to STATS_PENDING_MAX distinct rows; beyond,
 * counts are lost and that is logged) for stats_flush(). Returns 0 (also
 * when the counts wait) or BRUG_E_BAD_FIELD (nothing counted).
 */
int stats_record_chat(struct stats *s, int64_t now_ms, const char *lang,
		      const char *const *tags, unsigned n_tags, enum stats_outcome outcome,
		      int64_t wait_s, int64_t duration_s);
/* Write the waiting counts in one transaction, at most once per
 * STATS_RETRY_MS while the database refuses. now_ms is the wall clock.
 * Returns 0 (nothing waits any more), BRUG_E_UNAVAILABLE or
 * BRUG_E_INTERNAL (the counts keep waiting). Call from a timer. */
int stats_flush(struct stats *s, int64_t now_ms);
/* How many distinct rows wait for the database (for tests). */
unsigned stats_pending(const struct stats *s);

/* stats_record_chat() with at most one topic (NULL or "": untagged). */
int stats_record(struct stats *s, int64_t now_ms, const char *lang, const char *topic,
		 enum stats_outcome outcome, int64_t wait_s, int64_t duration_s);

/*
 * Small-count suppression, for every number a report shows: a count c with
 * 0 < c < threshold is shown as the string "<T" (T the threshold), 0 and
 * c >= threshold as the number. Rule for totals: every figure, totals and
 * marginals included, is summed from the raw counters of exactly what it
 * labels and only then suppressed by the same test. So a total is never
 * the sum of the parts as shown, and a total whose parts are all hidden is
 * hidden itself unless it reaches the threshold. Limit: a report holds
 * several groupings of the same contacts (by_outcome, by_lang, by_day), so
 * when every other part of a grouping is shown, a hidden part can be told
 * by subtraction; there is no secondary suppression. The CSV holds a single
 * table without totals and cannot be differenced on its own.
 *
 * stats_report: a new JSON object (caller owns) for the dates from..to
 * ("YYYY-MM-DD", inclusive, to - from < STATS_RANGE_MAX_DAYS):
 *   threshold, from, to,
 *   rows:      [{day, lang, topic, outcome, count}]   tags (STATS_TOPIC_NONE
 *              for untagged), sorted by day, lang, topic, outcome
 *   by_day:    [{day, answered?, left_queue?, arrived_closed?, quick_exit?}]
 *   by_lang:   {LANG: {OUTCOME: count}}               contacts
 *   by_outcome:{OUTCOME: count}                       contacts, every outcome
 *   by_topic:  {TOPIC: {OUTCOME: count}}              tags
 *   wait:      [{bucket, count}]  every wait bucket in order (contacts that
 *              waited; STATS_NA left out)
 *   duration:  [{bucket, count}]  the same for durations
 * Outcomes with no contact are left out of by_day, by_lang and by_topic.
 * Returns 0, BRUG_E_BAD_FIELD (a bad date or range) or BRUG_E_INTERNAL.
 */
int stats_report(struct stats *s, const char *from, const char *to, json_t **out);

/*
 * The `rows` table of stats_report() as CSV (RFC 4180: header row
 * "day,lang,topic,outcome,count", CRLF line ends, fields quoted when they
 * hold a comma, quote or line break), with the same suppression. On
 * success *out (NUL-terminated, caller frees) and *len. Returns as
 * stats_report().
 */
int stats_csv(struct stats *s, const char *from, const char *to, char **out, size_t *len);

/* Whether day is a real date written "YYYY-MM-DD". */
int stats_valid_day(const char *day);

#endif
