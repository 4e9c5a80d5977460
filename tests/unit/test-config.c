/* Unit tests for daemon/config.c: defaults, every key, every kind of error
 * message, path resolution and the --state-dir override, on real files in a
 * temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* By path, so a stale generated config.h in an old build directory (now
 * brug-build.h) can never be picked up instead. */
#include "../../daemon/config.h"
#include "../../daemon/paths.h"

/* One temporary tree per test: ROOT/etc/brugd.conf and ROOT/web-client/. */
struct fixture {
	char root[PATH_MAX];  /* realpath of the temporary directory */
	char conf[PATH_MAX];  /* ROOT/etc/brugd.conf */
	char err[1024];
	struct config cfg;
};

static void path_join(char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
	assert_true(n > 0 && n < PATH_MAX);
}

static void make_dir(struct fixture *fx, const char *rel)
{
	char p[PATH_MAX];

	path_join(p, fx->root, rel);
	assert_int_equal(mkdir(p, 0700), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char tmpl[] = "/tmp/brug-test-config-XXXXXX";

	assert_non_null(fx);
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, fx->root));
	make_dir(fx, "etc");
	make_dir(fx, "web-client");
	path_join(fx->conf, fx->root, "etc/brugd.conf");
	*state = fx;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	config_fini(&fx->cfg);
	/* Some tests chdir into the tree; leave it before removing it. */
	assert_int_equal(chdir("/"), 0);
	nftw(fx->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Write text as the config file and load it. */
static int load(struct fixture *fx, const char *text, const char *override)
{
	config_fini(&fx->cfg);
	write_text(fx->conf, text);
	memset(fx->err, 'x', sizeof(fx->err));
	return config_load(&fx->cfg, fx->conf, override, fx->err, sizeof(fx->err));
}

/* Load text, expect failure, and check the message is exactly
 * "CONF:LINE: rest" (line 0: "CONF: rest"). */
static void expect_error(struct fixture *fx, const char *text, unsigned line, const char *rest)
{
	char want[PATH_MAX * 2];

	if (line)
		snprintf(want, sizeof(want), "%s:%u: %s", fx->conf, line, rest);
	else
		snprintf(want, sizeof(want), "%s: %s", fx->conf, rest);
	assert_int_equal(load(fx, text, NULL), -1);
	assert_string_equal(fx->err, want);
	/* A failed load leaves the struct empty. */
	assert_null(fx->cfg.hostname);
	assert_int_equal(fx->cfg.n_langs, 0);
}

/* Load text, expect failure, and check the message starts with
 * "CONF:LINE: " and contains each of the given fragments. */
static void expect_error_has(struct fixture *fx, const char *text, unsigned line, ...)
{
	char prefix[PATH_MAX + 32];
	const char *frag;
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%s:%u: ", fx->conf, line);
	assert_int_equal(load(fx, text, NULL), -1);
	if (strncmp(fx->err, prefix, strlen(prefix)) != 0)
		fail_msg("error '%s' does not start with '%s'", fx->err, prefix);
	va_start(ap, line);
	while ((frag = va_arg(ap, const char *)))
		if (!strstr(fx->err, frag))
			fail_msg("error '%s' does not mention '%s'", fx->err, frag);
	va_end(ap);
}

static void test_defaults(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;
	char web[PATH_MAX];

	assert_int_equal(load(fx, "", NULL), 0);
	assert_string_equal(fx->err, "");
	/* Not next to the config file: the shipped pages (paths.h). */
	assert_true(paths_in_tree());
	assert_non_null(realpath(paths_web_root(), web));
	assert_string_equal(c->hostname, "localhost");
	assert_int_equal(c->port, 8443);
	assert_null(c->bind);
	assert_string_equal(c->web_root, web);
	assert_string_equal(c->state_dir, "/var/lib/brug");
	assert_int_equal(c->max_frame, 16384);
	assert_int_equal(c->max_connections, 20000);
	assert_int_equal(c->ping_s, 25);
	assert_int_equal(c->idle_timeout_s, 60);
	assert_int_equal(c->n_origins, 0);
	assert_string_equal(c->frame_ancestors, "'self'");
	assert_string_equal(c->neutral_url, "https://www.google.com/");
	assert_string_equal(c->cert, "/var/lib/brug/server.pem");
	assert_string_equal(c->key, "/var/lib/brug/server-key.pem");
	assert_int_equal(c->n_langs, 5);
	assert_string_equal(c->langs[0], "nl");
	assert_string_equal(c->langs[1], "ar");
	assert_string_equal(c->langs[2], "ti");
	assert_string_equal(c->langs[3], "tr");
	assert_string_equal(c->langs[4], "en");
	assert_string_equal(c->default_lang, "nl");
	assert_int_equal(c->n_topics, 7);
	assert_string_equal(c->topics[0], "domestic_violence");
	assert_string_equal(c->topics[6], "other");
	assert_int_equal(c->grace_s, 120);
	assert_int_equal(c->offer_timeout_s, 30);
	assert_int_equal(c->max_text, 2000);
	assert_int_equal(c->n_alternatives, 0);
	assert_int_equal(c->session_idle_s, 3600);
	assert_int_equal(c->session_max_s, 43200);
	assert_int_equal(c->staff_grace_s, 30);
	assert_int_equal(c->shift_end_quiet_min, 10);
	assert_int_equal(c->audit_retention_days, 365);
	assert_int_equal(c->stats_threshold, 10);
	assert_string_equal(c->log_level, "notice");
	assert_null(c->locales_dir);
	assert_string_equal(c->timezone, "Europe/Amsterdam");
	assert_int_equal(c->max_conns_per_source, 100);
	assert_int_equal(c->staff_reserve, 100);
	assert_int_equal(c->max_waiting_per_source, 30);

	/* Comments, blank lines and empty sections change nothing. */
	assert_int_equal(load(fx, "# comment\n; another\n\n[server]\n[chat]\n", NULL), 0);
	assert_int_equal(c->port, 8443);
}

static void test_every_key(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;
	char web[PATH_MAX];

	make_dir(fx, "www");
	assert_int_equal(load(fx,
		"[server]\n"
		"hostname = Chat.Helpline.example.ORG\n"
		"port = 0\n"
		"bind = 127.0.0.1\n"
		"web_root = ../www\n"
		"state_dir = /srv/brug\n"
		"max_frame = 1024\n"
		"max_connections = 1000000\n"
		"ping_seconds = 20\n"
		"idle_timeout_seconds = 45\n"
		"origins = https://partner.example.org, https://other.example.net:8443 https://x.example\n"
		"frame_ancestors = 'self' https://partner.example.org\n"
		"neutral_url = https://weather.example.com/today?city=utrecht\n"
		"\n"
		"[tls]\n"
		"cert = /etc/ssl/brug/chain.pem\n"
		"key = tls/key.pem\n"
		"\n"
		"[chat]\n"
		"languages = en,ar , so\n"
		"default_language = ar\n"
		"topics = fgm other\n"
		"grace_seconds = 0\n"
		"offer_timeout_seconds = 1\n"
		"max_text_graphemes = 500\n"
		"alternative = Police: 112\n"
		"\n"
		"[staff]\n"
		"session_idle_seconds = 600\n"
		"session_max_seconds = 7200\n"
		"audit_retention_days = 30\n"
		"\n"
		"[log]\n"
		"level = debug\n", NULL), 0);
	path_join(web, fx->root, "www");
	assert_string_equal(c->hostname, "chat.helpline.example.org");
	assert_int_equal(c->port, 0);
	assert_string_equal(c->bind, "127.0.0.1");
	assert_string_equal(c->web_root, web);
	assert_string_equal(c->state_dir, "/srv/brug");
	assert_int_equal(c->max_frame, 1024);
	assert_int_equal(c->max_connections, 1000000);
	assert_int_equal(c->ping_s, 20);
	assert_int_equal(c->idle_timeout_s, 45);
	assert_int_equal(c->n_origins, 3);
	assert_string_equal(c->origins[0], "https://partner.example.org");
	assert_string_equal(c->origins[1], "https://other.example.net:8443");
	assert_string_equal(c->origins[2], "https://x.example");
	assert_string_equal(c->frame_ancestors, "'self' https://partner.example.org");
	assert_string_equal(c->neutral_url, "https://weather.example.com/today?city=utrecht");
	assert_string_equal(c->cert, "/etc/ssl/brug/chain.pem");
	assert_string_equal(c->key, "/srv/brug/tls/key.pem");
	assert_int_equal(c->n_langs, 3);
	assert_string_equal(c->langs[0], "en");
	assert_string_equal(c->langs[1], "ar");
	assert_string_equal(c->langs[2], "so");
	assert_string_equal(c->default_lang, "ar");
	assert_int_equal(c->n_topics, 2);
	assert_string_equal(c->topics[0], "fgm");
	assert_string_equal(c->topics[1], "other");
	assert_int_equal(c->grace_s, 0);
	assert_int_equal(c->offer_timeout_s, 1);
	assert_int_equal(c->max_text, 500);
	assert_int_equal(c->n_alternatives, 1);
	assert_string_equal(c->alternatives[0], "Police: 112");
	assert_int_equal(c->session_idle_s, 600);
	assert_int_equal(c->session_max_s, 7200);
	assert_int_equal(c->audit_retention_days, 30);
	assert_string_equal(c->log_level, "debug");
}

static void test_syntax_details(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;

	/* Indented keys are keys (not inih continuations); "name: value"
	 * works; inline comments need a space before ';'; CRLF is fine. */
	assert_int_equal(load(fx,
		"[server]\r\n"
		"  port = 9000\r\n"
		"\thostname: example.org ; the public name\r\n"
		"bind =\r\n", NULL), 0);
	assert_int_equal(c->port, 9000);
	assert_string_equal(c->hostname, "example.org");
	assert_null(c->bind);

	/* Languages without nl and without default_language: the first one. */
	assert_int_equal(load(fx, "[chat]\nlanguages = tr en\n", NULL), 0);
	assert_string_equal(c->default_lang, "tr");
	assert_int_equal(load(fx, "[chat]\nlanguages = en nl\n", NULL), 0);
	assert_string_equal(c->default_lang, "nl");

	/* A UTF-8 BOM and non-ASCII text in an alternative. */
	assert_int_equal(load(fx, "\xef\xbb\xbf[chat]\nalternative = \xd8\xa7\xd9\x84\xd8\xb4\xd8\xb1\xd8\xb7\xd8\xa9 112\n", NULL), 0);
	assert_string_equal(c->alternatives[0], "\xd8\xa7\xd9\x84\xd8\xb4\xd8\xb1\xd8\xb7\xd8\xa9 112");
}

static void test_unknown_key(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[server]\nport = 1\nportt = 2\n", 3, "unknown key 'portt' in [server]");
	expect_error(fx, "\n[chat]\nlanguage = nl\n", 3, "unknown key 'language' in [chat]");
	/* Keys are case-sensitive. */
	expect_error(fx, "[log]\nLevel = info\n", 2, "unknown key 'Level' in [log]");
	expect_error(fx, "[srever]\nport = 1\n", 2, "unknown key 'port' in [srever] (unknown section)");
	expect_error_has(fx, "port = 1\n", 1, "'port'", "outside any section", NULL);
}

static void test_bad_number(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[server]\nport = abc\n", 2,
		"port = 'abc' is not a whole number: expected 0 to 65535");
	expect_error(fx, "[server]\nport = -1\n", 2,
		"port = '-1' is not a whole number: expected 0 to 65535");
	expect_error(fx, "[server]\nport = 80 80\n", 2,
		"port = '80 80' is not a whole number: expected 0 to 65535");
	expect_error(fx, "[chat]\ngrace_seconds = 1.5\n", 2,
		"grace_seconds = '1.5' is not a whole number: expected 0 to 86400 seconds");
	expect_error(fx, "[server]\nport =\n", 2,
		"port has no value: expected a whole number from 0 to 65535");
}

static void test_out_of_range(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[server]\nport = 65536\n", 2,
		"port = 65536 is out of range: expected 0 to 65535");
	expect_error(fx, "[server]\nmax_frame = 1023\n", 2,
		"max_frame = 1023 is out of range: expected 1024 to 1048576 bytes");
	expect_error(fx, "[server]\nmax_connections = 15\n", 2,
		"max_connections = 15 is out of range: expected 16 to 1000000");
	expect_error(fx, "[server]\nport = 99999999999999999999999999\n", 2,
		"port = 99999999999999999999999999 is out of range: expected 0 to 65535");
	expect_error(fx, "[chat]\noffer_timeout_seconds = 0\n", 2,
		"offer_timeout_seconds = 0 is out of range: expected 1 to 3600 seconds");
	expect_error(fx, "[server]\nping_seconds = 0\n", 2,
		"ping_seconds = 0 is out of range: expected 1 to 3600 seconds");
	expect_error(fx, "[server]\nidle_timeout_seconds = 7201\n", 2,
		"idle_timeout_seconds = 7201 is out of range: expected 2 to 7200 seconds");
	expect_error(fx, "[staff]\naudit_retention_days = 0\n", 2,
		"audit_retention_days = 0 is out of range: expected 1 to 36500 days");
	expect_error(fx, "[stats]\nthreshold = 0\n", 2,
		"threshold = 0 is out of range: expected 1 to 1000");
	expect_error(fx, "[stats]\nthreshold = 1001\n", 2,
		"threshold = 1001 is out of range: expected 1 to 1000");
}

/* The idle timeout must leave time to answer a ping; the message names the
 * line of idle_timeout_seconds, or of ping_seconds if only that is set. */
static void test_keepalive_times(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;

	expect_error(fx, "[server]\nping_seconds = 30\nidle_timeout_seconds = 30\n", 3,
		"idle_timeout_seconds = 30 must be greater than ping_seconds = 30");
	expect_error(fx, "[server]\nidle_timeout_seconds = 10\nport = 1\nping_seconds = 11\n", 2,
		"idle_timeout_seconds = 10 must be greater than ping_seconds = 11");
	expect_error(fx, "[server]\n\nping_seconds = 60\n", 3,
		"idle_timeout_seconds = 60 must be greater than ping_seconds = 60");
	expect_error(fx, "[server]\nidle_timeout_seconds = 25\n", 2,
		"idle_timeout_seconds = 25 must be greater than ping_seconds = 25");

	assert_int_equal(load(fx, "[server]\nping_seconds = 1\nidle_timeout_seconds = 2\n", NULL), 0);
	assert_int_equal(c->ping_s, 1);
	assert_int_equal(c->idle_timeout_s, 2);
	assert_int_equal(load(fx, "[server]\nping_seconds = 90\nidle_timeout_seconds = 7200\n", NULL), 0);
	assert_int_equal(c->ping_s, 90);
	assert_int_equal(c->idle_timeout_s, 7200);
}

static void test_languages(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[chat]\nlanguages = nl en\ndefault_language = ar\n", 3,
		"default_language 'ar' is not one of the languages in [chat] languages");
	/* Checked whatever the order of the two keys. */
	expect_error(fx, "[chat]\ndefault_language = ti\nlanguages = nl en\n", 2,
		"default_language 'ti' is not one of the languages in [chat] languages");
	expect_error_has(fx, "[chat]\nlanguages = nl EN\n", 2, "languages", "'EN'", "2 or 3 lower-case", NULL);
	expect_error_has(fx, "[chat]\nlanguages = nl english\n", 2, "'english'", NULL);
	expect_error_has(fx, "[chat]\nlanguages = nl en nl\n", 2, "'nl' twice", NULL);
	expect_error_has(fx, "[chat]\nlanguages = ,\n", 2, "languages is empty", NULL);
	expect_error_has(fx, "[chat]\nlanguages = aa ab ac ad ae af ag ah ai aj ak al am an ao ap aq\n", 2,
		"more than 16", NULL);
	expect_error_has(fx, "[chat]\ndefault_language = n1\n", 2, "default_language", "'n1'", NULL);
	expect_error_has(fx, "[chat]\ntopics = fgm Other\n", 2, "topics", "'Other'", "a-z and _", NULL);
	expect_error_has(fx, "[chat]\ntopics = abcdefghijabcdefghijabcdefghijabc\n", 2, "topics", NULL);
}

static void test_bad_origin(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = {
		"http://partner.example.org",
		"https://partner.example.org/",
		"https://partner.example.org/widget",
		"https://partner.example.org:99999",
		"https://partner.example.org:",
		"https://user@partner.example.org",
		"https://",
		"partner.example.org",
		"https://-bad.example.org",
		"https://partner..example.org",
		"https://partner.example.org?x=1",
	};
	char text[256], frag[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[server]\norigins = https://ok.example.org %s\n", bad[i]);
		snprintf(frag, sizeof(frag), "origins: '%s' is not an origin: expected https://host", bad[i]);
		expect_error_has(fx, text, 2, frag, "no path", NULL);
	}
	/* Upper case is folded, as browsers send it. */
	assert_int_equal(load(fx, "[server]\norigins = HTTPS://Partner.Example.org:444\n", NULL), 0);
	assert_string_equal(fx->cfg.origins[0], "https://partner.example.org:444");
	expect_error_has(fx, "[server]\norigins = https://a.nl https://b.nl https://c.nl https://d.nl "
		"https://e.nl https://f.nl https://g.nl https://h.nl https://i.nl https://j.nl https://k.nl "
		"https://l.nl https://m.nl https://n.nl https://o.nl https://p.nl https://q.nl\n", 2,
		"more than 16 origins", NULL);
}

static void test_other_bad_values(void **state)
{
	struct fixture *fx = *state;

	expect_error_has(fx, "[server]\nhostname = bad_host\n", 2, "hostname", "'bad_host'", NULL);
	expect_error_has(fx, "[server]\nbind = 127.0.0.1 ::1\n", 2, "bind", NULL);
	expect_error_has(fx, "[server]\nneutral_url = http://www.google.com/\n", 2,
		"neutral_url", "https URL", NULL);
	expect_error_has(fx, "[server]\nneutral_url = https://x.org/\"><script>\n", 2, "neutral_url", NULL);
	expect_error_has(fx, "[server]\nframe_ancestors = 'self', https://x.org\n", 2,
		"frame_ancestors", "CSP", NULL);
	expect_error_has(fx, "[server]\nframe_ancestors =\n", 2, "frame_ancestors has no value", NULL);
	expect_error_has(fx, "[server]\nstate_dir =\n", 2, "state_dir has no value", NULL);
	expect_error(fx, "[log]\nlevel = verbose\n", 2,
		"level = 'verbose' is not a log level: expected err, warn, notice, info or debug");
	expect_error_has(fx, "[chat]\nalternative = bad \x01 control\n", 2, "alternative", "control", NULL);
	expect_error_has(fx, "[chat]\nalternative = bad \xc0\xaf utf-8\n", 2, "alternative", "UTF-8", NULL);
	expect_error_has(fx, "[chat]\nalternative =\n", 2, "alternative has no value", NULL);
	expect_error_has(fx, "[chat]\ntimezone = Europe/../etc/passwd\n", 2, "timezone", "Europe/Amsterdam", NULL);
	expect_error_has(fx, "[chat]\ntimezone = Europe Amsterdam\n", 2, "not a time zone", NULL);
	expect_error_has(fx, "[server]\nlocales_dir = no-such-dir\n", 2, "locales_dir", "not a directory", NULL);
}

static void test_locales_and_timezone(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;
	char want[PATH_MAX];

	make_dir(fx, "locales");
	assert_int_equal(load(fx, "[server]\nlocales_dir = ../locales\n[chat]\ntimezone = America/Sao_Paulo\n", NULL), 0);
	path_join(want, fx->root, "locales");
	assert_string_equal(c->locales_dir, want);
	assert_string_equal(c->timezone, "America/Sao_Paulo");
}

static void test_structure_errors(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[server]\nport = 1\nhostname = a.org\nport = 2\n", 4,
		"duplicate key 'port' in [server] (first set on line 2)");
	/* Repeating a section is fine, repeating a key across it is not. */
	expect_error(fx, "[chat]\ngrace_seconds = 1\n[server]\n[chat]\ngrace_seconds = 2\n", 5,
		"duplicate key 'grace_seconds' in [chat] (first set on line 2)");
	expect_error(fx, "[server]\nport 8443\n", 2,
		"syntax error: expected '[section]', 'key = value' or a comment");
	expect_error(fx, "[server\nport = 1\n", 1,
		"syntax error: expected '[section]', 'key = value' or a comment");
}

/* Lines longer than inih's 200-byte buffer are read whole. */
static void test_long_lines(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;
	char text[6000], value[400];

	memset(value, 0, sizeof(value));
	memset(value, 'a', 300);
	snprintf(text, sizeof(text), "# %s\n[chat]\n  alternative =   %s   ; comment ; more\n"
		"alternative = short\n", value, value);
	assert_int_equal(load(fx, text, NULL), 0);
	assert_int_equal(c->n_alternatives, 2);
	assert_string_equal(c->alternatives[0], value);
	assert_string_equal(c->alternatives[1], "short");

	/* Sixteen origins do not fit in 200 bytes. */
	assert_int_equal(load(fx, "[server]\norigins = https://a.nl https://b.nl https://c.nl "
		"https://d.nl https://e.nl https://f.nl https://g.nl https://h.nl https://i.nl "
		"https://j.nl https://k.nl https://l.nl https://m.nl https://n.nl https://o.example.org "
		"https://p.example.org:8443\n", NULL), 0);
	assert_int_equal(c->n_origins, 16);
	assert_string_equal(c->origins[15], "https://p.example.org:8443");

	/* The same checks apply to a long value. */
	snprintf(text, sizeof(text), "[server]\nport = 1%s\n", value);
	expect_error_has(fx, text, 2, "port = '1aaaa", "is not a whole number", NULL);
	snprintf(text, sizeof(text), "[server]\n\nbogus_%s = 1\n", value);
	expect_error(fx, text, 3, "the key name is too long");
	snprintf(text, sizeof(text), "[chat]\n%s\n", value);
	expect_error(fx, text, 2, "syntax error: expected '[section]', 'key = value' or a comment");
	memset(text, 0, sizeof(text));
	strcpy(text, "[chat]\nalternative = ");
	memset(text + strlen(text), 'b', 4100);
	strcat(text, "\n");
	expect_error(fx, text, 2, "the line is too long: at most 4096 bytes");
}

static void test_embedded_nul(void **state)
{
	struct fixture *fx = *state;
	FILE *f;

	f = fopen(fx->conf, "w");
	assert_non_null(f);
	assert_int_equal(fwrite("[log]\nlevel = info\0x\n", 1, 22, f), 22);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(config_load(&fx->cfg, fx->conf, NULL, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, ":2: the line contains a NUL byte"));
}

static void test_missing_file(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX], want[PATH_MAX + 64];

	path_join(path, fx->root, "etc/nope.conf");
	fx->cfg.port = 7; /* whatever was there is cleared */
	assert_int_equal(config_load(&fx->cfg, path, NULL, fx->err, sizeof(fx->err)), -1);
	snprintf(want, sizeof(want), "%s: cannot open the config file: No such file or directory", path);
	assert_string_equal(fx->err, want);
	assert_int_equal(fx->cfg.port, 0);

	path_join(path, fx->root, "etc");
	assert_int_equal(config_load(&fx->cfg, path, NULL, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "is a directory"));

	/* Without an error buffer it still fails cleanly. */
	assert_int_equal(config_load(&fx->cfg, path, NULL, NULL, 0), -1);
	assert_int_equal(config_load(&fx->cfg, NULL, NULL, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "no config file"));
}

static void test_relative_paths(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;
	char want[PATH_MAX], link[PATH_MAX], target[PATH_MAX];

	/* Relative to the config file's directory, tidied even when the
	 * target does not exist yet; cert and key against the state dir. */
	assert_int_equal(load(fx,
		"[server]\nweb_root = ./../web-client/\nstate_dir = ../var/./brug/../state\n"
		"[tls]\ncert = certs/../server.pem\n", NULL), 0);
	path_join(want, fx->root, "web-client");
	assert_string_equal(c->web_root, want);
	path_join(want, fx->root, "var/state");
	assert_string_equal(c->state_dir, want);
	path_join(want, fx->root, "var/state/server.pem");
	assert_string_equal(c->cert, want);
	path_join(want, fx->root, "var/state/server-key.pem");
	assert_string_equal(c->key, want);

	/* An existing state dir reached through a symlink is resolved. */
	make_dir(fx, "real-state");
	path_join(target, fx->root, "real-state");
	path_join(link, fx->root, "etc/state-link");
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(load(fx, "[server]\nstate_dir = state-link\n", NULL), 0);
	assert_string_equal(c->state_dir, target);

	/* web_root must exist and be a directory. */
	path_join(want, fx->root, "nope");
	expect_error_has(fx, "[server]\nweb_root = ../nope\n", 2, "web_root", want,
		"No such file or directory", NULL);
	expect_error_has(fx, "[server]\nweb_root = brugd.conf\n", 2, "web_root", "is not a directory", NULL);
	/* Without the key: the shipped pages (paths.h), not a folder next to
	 * the file. */
	path_join(want, fx->root, "web-client");
	assert_int_equal(load(fx, "", NULL), 0);
	assert_non_null(realpath(paths_web_root(), target));
	assert_string_equal(c->web_root, target);

	/* A config file given by a relative path. */
	assert_int_equal(load(fx, "[server]\nweb_root = ../web-client\n", NULL), 0);
	config_fini(c);
	assert_int_equal(chdir(fx->root), 0);
	assert_int_equal(config_load(c, "etc/../etc/brugd.conf", NULL, fx->err, sizeof(fx->err)), 0);
	assert_string_equal(c->web_root, want);
}

static void test_state_dir_override(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;
	char want[PATH_MAX];

	assert_int_equal(chdir(fx->root), 0);
	assert_int_equal(load(fx, "[server]\nstate_dir = /var/lib/other\n[tls]\nkey = k.pem\n", "run/state"), 0);
	path_join(want, fx->root, "run/state");
	assert_string_equal(c->state_dir, want);
	path_join(want, fx->root, "run/state/k.pem");
	assert_string_equal(c->key, want);
	path_join(want, fx->root, "run/state/server.pem");
	assert_string_equal(c->cert, want);

	assert_int_equal(load(fx, "", "/srv/x/../brug/"), 0);
	assert_string_equal(c->state_dir, "/srv/brug");
	assert_string_equal(c->cert, "/srv/brug/server.pem");

	assert_int_equal(load(fx, "", ""), -1);
	assert_non_null(strstr(fx->err, "--state-dir"));
}

static void test_alternatives(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;
	char text[2048] = "[chat]\n";

	assert_int_equal(load(fx,
		"[chat]\n"
		"alternative = Police, in danger now: 112\n"
		"languages = nl en\n"
		"alternative = Veilig Thuis (free, 24/7): 0800-2000\n"
		"[server]\n"
		"[chat]\n"
		"alternative = Fier: 088-20 80 000\n", NULL), 0);
	assert_int_equal(c->n_alternatives, 3);
	assert_string_equal(c->alternatives[0], "Police, in danger now: 112");
	assert_string_equal(c->alternatives[1], "Veilig Thuis (free, 24/7): 0800-2000");
	assert_string_equal(c->alternatives[2], "Fier: 088-20 80 000");

	for (int i = 0; i <= CONFIG_MAX_ALTERNATIVES; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "alternative = line %d\n", i);
	expect_error(fx, text, CONFIG_MAX_ALTERNATIVES + 2, "too many alternative lines: at most 8");
}

static void test_indexes(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;

	assert_int_equal(load(fx, "[chat]\nlanguages = nl ar ti tr en\ntopics = fgm lgbti other\n", NULL), 0);
	assert_int_equal(config_lang_index(c, "nl"), 0);
	assert_int_equal(config_lang_index(c, "ti"), 2);
	assert_int_equal(config_lang_index(c, "en"), 4);
	assert_int_equal(config_lang_index(c, "fr"), -1);
	assert_int_equal(config_lang_index(c, "n"), -1);
	assert_int_equal(config_lang_index(c, "NL"), -1);
	assert_int_equal(config_lang_index(c, ""), -1);
	assert_int_equal(config_lang_index(c, NULL), -1);
	assert_int_equal(config_lang_index(NULL, "nl"), -1);
	assert_int_equal(config_topic_index(c, "fgm"), 0);
	assert_int_equal(config_topic_index(c, "other"), 2);
	assert_int_equal(config_topic_index(c, "forced_marriage"), -1);
	assert_int_equal(config_topic_index(c, NULL), -1);
	assert_int_equal(config_topic_index(NULL, "fgm"), -1);
}

static void test_fini_after_failure(void **state)
{
	struct fixture *fx = *state;
	struct config zero, c;

	/* A failure late in loading (after languages and defaults were
	 * allocated) leaves nothing behind to free, and fini is harmless. */
	memset(&zero, 0, sizeof(zero));
	write_text(fx->conf, "[server]\nhostname = a.org\n[chat]\nlanguages = nl\nalternative = x\n"
		"default_language = en\n");
	assert_int_equal(config_load(&c, fx->conf, NULL, fx->err, sizeof(fx->err)), -1);
	assert_memory_equal(&c, &zero, sizeof(c));
	config_fini(&c);
	config_fini(&c);
	assert_memory_equal(&c, &zero, sizeof(c));
	config_fini(NULL);

	/* fini after success empties the struct; a second fini is a no-op. */
	write_text(fx->conf, "[chat]\nalternative = x\n");
	assert_int_equal(config_load(&c, fx->conf, NULL, fx->err, sizeof(fx->err)), 0);
	config_fini(&c);
	assert_memory_equal(&c, &zero, sizeof(c));
	config_fini(&c);

	/* A tiny error buffer is truncated, never overrun. */
	{
		char small[8];

		write_text(fx->conf, "[nope]\nx = 1\n");
		memset(small, 'x', sizeof(small));
		assert_int_equal(config_load(&c, fx->conf, NULL, small, sizeof(small)), -1);
		assert_int_equal(strlen(small), sizeof(small) - 1);
	}
}

static void test_cluster(void **state)
{
	struct fixture *fx = *state;
	struct config *c = &fx->cfg;
	char ca[PATH_MAX], seed[PATH_MAX], text[2 * PATH_MAX + 512];

	path_join(ca, fx->root, "etc/nats-ca.pem");
	path_join(seed, fx->root, "etc/brug.nk");
	write_text(ca, "not parsed here\n");
	write_text(seed, "SUAxxxx\n");

	/* Without the section: a single node, nothing set. */
	assert_int_equal(load(fx, "[server]\n", NULL), 0);
	assert_false(c->cluster);
	assert_null(c->node);
	assert_int_equal(c->n_nats_urls, 0);
	assert_null(c->nats_ca);
	/* An empty section is no section. */
	assert_int_equal(load(fx, "[cluster]\n", NULL), 0);
	assert_false(c->cluster);

	/* Every key; relative paths against the file's directory. */
	assert_int_equal(load(fx,
		"[cluster]\n"
		"node = brug-1\n"
		"nats_url = tls://127.0.0.1:4222, TLS://nats2.example.org:4223 nats://nats3.example.org\n"
		"nats_user = brug\n"
		"nats_password = s3cret word; not a comment\n"
		"nats_ca = nats-ca.pem\n", NULL), 0);
	assert_true(c->cluster);
	assert_string_equal(c->node, "brug-1");
	assert_int_equal(c->n_nats_urls, 3);
	assert_string_equal(c->nats_urls[0], "tls://127.0.0.1:4222");
	assert_string_equal(c->nats_urls[1], "tls://nats2.example.org:4223");
	assert_string_equal(c->nats_urls[2], "nats://nats3.example.org");
	assert_string_equal(c->nats_user, "brug");
	assert_string_equal(c->nats_password, "s3cret word; not a comment");
	assert_string_equal(c->nats_ca, ca);
	assert_null(c->nats_nkey_seed);

	assert_null(c->cluster_key_file);   /* the key is derived from the password */

	/* An nkey seed instead of user and password: nkeys are per node, so
	 * the shared payload key comes from key_file. */
	snprintf(text, sizeof text, "[cluster]\nnode = b2\nnats_url = tls://127.0.0.1:4222\n"
		 "nats_nkey = UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4\n"
		 "nats_nkey_seed = %s\nnats_ca = nats-ca.pem\n", seed);
	expect_error(fx, text, 5, "[cluster] with nats_nkey needs key_file: the key every node shares "
		     "(64 hex digits, e.g. openssl rand -hex 32)");
	snprintf(text, sizeof text, "[cluster]\nnode = b2\nnats_url = tls://127.0.0.1:4222\n"
		 "nats_nkey = UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4\n"
		 "nats_nkey_seed = %s\nnats_ca = nats-ca.pem\nkey_file = %s\n", seed, seed);
	assert_int_equal(load(fx, text, NULL), 0);
	assert_string_equal(c->cluster_key_file, seed);
	assert_string_equal(c->nats_nkey_seed, seed);
	assert_string_equal(c->nats_nkey, "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4");
	assert_null(c->nats_user);
	assert_null(c->nats_password);

	/* What goes together. */
	expect_error(fx, "[cluster]\nnats_url = tls://127.0.0.1:4222\n", 2,
		"[cluster] needs node: this node's name, like brug-1");
	expect_error(fx, "[cluster]\nnode = a\n", 2, "[cluster] needs nats_url: one or more tls://host:port");
	expect_error(fx, "[cluster]\nnode = a\nnats_url = tls://h:1\nnats_user = u\nnats_password = p\n", 2,
		"[cluster] needs nats_ca: the CA file that signed the NATS servers' certificates");
	expect_error(fx, "[cluster]\nnode = a\nnats_url = tls://h:1\nnats_ca = nats-ca.pem\nnats_user = u\n", 2,
		"[cluster] needs nats_user and nats_password, or nats_nkey and nats_nkey_seed");
	expect_error(fx, "[cluster]\nnode = a\nnats_url = tls://h:1\nnats_ca = nats-ca.pem\nnats_nkey_seed = brug.nk\n", 2,
		"[cluster] nats_nkey (the public key, U...) and nats_nkey_seed (the seed file) go together");
	expect_error(fx, "[cluster]\nnode = a\nnats_url = tls://h:1\nnats_ca = nats-ca.pem\n"
		"nats_user = u\nnats_password = p\nnats_nkey_seed = brug.nk\n", 7,
		"[cluster] nats_nkey/nats_nkey_seed and nats_user/nats_password exclude each other: "
		"choose one way to log in to NATS");
	expect_error_has(fx, "[cluster]\nnode = a\nnats_url = tls://h:1\nnats_ca = missing.pem\n"
		"nats_user = u\nnats_password = p\n", 4, "nats_ca", "missing.pem", "No such file", NULL);
	expect_error_has(fx, "[cluster]\nnode = a\nnats_url = tls://h:1\nnats_ca = .\n"
		"nats_user = u\nnats_password = p\n", 4, "nats_ca", "is not a regular file", NULL);
	expect_error_has(fx, "[cluster]\nnode = a\nnats_url = tls://h:1\nnats_ca = nats-ca.pem\n"
		"nats_user = u\nnats_password = p\nkey_file = missing.key\n", 7, "key_file", "missing.key",
		"No such file", NULL);

	/* Bad values. */
	expect_error(fx, "[cluster]\nnode = Brug_1\n", 2,
		"node = 'Brug_1' is not a node name: expected 1 to 32 characters a-z, 0-9 and -, like brug-1");
	expect_error_has(fx, "[cluster]\nnode = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 2, "not a node name", NULL);
	expect_error(fx, "[cluster]\nnats_url = https://h:1\n", 2,
		"nats_url: 'https://h:1' is not a NATS URL: expected tls://host:port, like tls://nats1.example.org:4222");
	expect_error_has(fx, "[cluster]\nnats_url = tls://h:1/x\n", 2, "is not a NATS URL", NULL);
	expect_error_has(fx, "[cluster]\nnats_url = tls://u:p@h:1\n", 2, "is not a NATS URL", NULL);
	expect_error_has(fx, "[cluster]\nnats_url = tls://h:99999\n", 2, "is not a NATS URL", NULL);
	expect_error(fx, "[cluster]\nnats_url =\n", 2, "nats_url is empty: expected one or more tls://host:port");
	expect_error(fx, "[cluster]\nnats_url = tls://a:1 tls://b:1 tls://c:1 tls://d:1 tls://e:1 tls://f:1 "
		"tls://g:1 tls://h:1 tls://i:1\n", 2, "nats_url lists more than 8 URLs");
	expect_error_has(fx, "[cluster]\nnats_user = a b\n", 2, "nats_user = 'a b' is not valid", NULL);
	/* A bad password is refused without being repeated. */
	expect_error(fx, "[cluster]\nnats_password =\n", 2, "nats_password must have 1 to 256 characters");
	expect_error(fx, "[cluster]\nnode = a\nnode = b\n", 3, "duplicate key 'node' in [cluster] (first set on line 2)");
	expect_error(fx, "[cluster]\nnats = 1\n", 2, "unknown key 'nats' in [cluster]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_details, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_number, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_languages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_origin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locales_and_timezone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_embedded_nul, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_dir_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alternatives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indexes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fini_after_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster, setup, teardown),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
