/* Unit tests for daemon/reload.c: which keys a reload applies, which wait
 * for a restart, and that the running strings survive the swap. */
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

#include "../../daemon/config.h"
#include "../../daemon/reload.h"

struct fixture {
	char root[PATH_MAX];
	char conf[PATH_MAX + 16];
	char err[1024];
	struct config cur, next;
};

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	char tmpl[] = "/tmp/brug-test-reload-XXXXXX", p[PATH_MAX + 16];

	assert_non_null(fx);
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, fx->root));
	snprintf(p, sizeof p, "%s/www", fx->root);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof p, "%s/www2", fx->root);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(fx->conf, sizeof fx->conf, "%s/brugd.conf", fx->root);
	*state = fx;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	config_fini(&fx->cur);
	config_fini(&fx->next);
	nftw(fx->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static int load(struct fixture *fx, struct config *c, const char *text)
{
	write_text(fx->conf, text);
	return reload_load(c, fx->conf, NULL, fx->err, sizeof fx->err);
}

#define BASE "[server]\nweb_root = www\nstate_dir = state\nport = 8443\n"

/* The table knows every key config.c reads. */
static void test_every_key_known(void **state)
{
	assert_int_equal(reload_n_keys(), config_n_keys());
	assert_true(reload_needs_restart("server", "port"));
	assert_true(reload_needs_restart("server", "bind"));
	assert_true(reload_needs_restart("server", "state_dir"));
	assert_true(reload_needs_restart("chat", "languages"));
	assert_true(reload_needs_restart("staff", "audit_retention_days"));
	assert_false(reload_needs_restart("chat", "grace_seconds"));
	assert_false(reload_needs_restart("server", "origins"));
	assert_false(reload_needs_restart("chat", "alternative"));
	assert_false(reload_needs_restart("tls", "cert"));
	assert_false(reload_needs_restart("nope", "nope"));
}

static void test_apply_and_keep(void **state)
{
	struct fixture *fx = *state;
	struct config *cur = &fx->cur, *next = &fx->next;
	char *web_root, *hostname;

	assert_int_equal(load(fx, cur, BASE "hostname = a.example\n[chat]\ngrace_seconds = 120\n"), 0);
	web_root = cur->web_root;
	hostname = cur->hostname;
	assert_int_equal(load(fx, next,
		"[server]\nweb_root = www2\nstate_dir = other\nport = 9443\nbind = 127.0.0.1\n"
		"hostname = b.example\norigins = https://p.example\nping_seconds = 5\nidle_timeout_seconds = 9\n"
		"[chat]\ngrace_seconds = 30\noffer_timeout_seconds = 7\nlanguages = nl en\n"
		"alternative = Call 112\nalternative = Or 113\n[staff]\nreconnect_grace_seconds = 5\n"
		"[log]\nlevel = debug\n"), 0);
	/* grace, offer timeout, origins, ping, idle, alternative, reconnect,
	 * level, and cert and key: the defaults lie in the new file's state
	 * dir (the state dir itself needs a restart). */
	assert_int_equal(reload_merge(next, cur), 10);
	/* The restart keys now carry the running values... */
	assert_int_equal(next->port, 8443);
	assert_null(next->bind);
	assert_ptr_equal(next->web_root, web_root);
	assert_ptr_equal(next->hostname, hostname);
	assert_int_equal(next->n_langs, 5);
	reload_commit(cur, next);
	/* ...and stay in place at the same addresses (lws holds some). */
	assert_ptr_equal(cur->web_root, web_root);
	assert_ptr_equal(cur->hostname, hostname);
	assert_string_equal(cur->hostname, "a.example");
	assert_int_equal(cur->port, 8443);
	assert_null(cur->bind);
	assert_int_equal(cur->n_langs, 5);
	assert_non_null(strstr(cur->state_dir, "/state"));
	/* The applied ones changed. */
	assert_int_equal(cur->grace_s, 30);
	assert_int_equal(cur->offer_timeout_s, 7);
	assert_int_equal(cur->n_origins, 1);
	assert_string_equal(cur->origins[0], "https://p.example");
	assert_int_equal(cur->n_alternatives, 2);
	assert_string_equal(cur->alternatives[1], "Or 113");
	assert_int_equal(cur->ping_s, 5);
	assert_int_equal(cur->staff_grace_s, 5);
	assert_string_equal(cur->log_level, "debug");
	/* next is empty: nothing is freed twice. */
	assert_null(next->hostname);
	assert_int_equal(next->n_langs, 0);

	/* The same settings again change nothing (state_dir = other still
	 * waits for a restart). */
	assert_int_equal(load(fx, next,
		"[server]\nweb_root = www\nstate_dir = other\nport = 8443\nhostname = a.example\n"
		"origins = https://p.example\nping_seconds = 5\nidle_timeout_seconds = 9\n"
		"[chat]\ngrace_seconds = 30\noffer_timeout_seconds = 7\n"
		"alternative = Call 112\nalternative = Or 113\n[staff]\nreconnect_grace_seconds = 5\n"
		"[log]\nlevel = debug\n"), 0);
	assert_int_equal(reload_merge(next, cur), 0);
	reload_commit(cur, next);
	assert_ptr_equal(cur->web_root, web_root);
}

/* A file brugd -n would refuse is refused, with the file, line and key. */
static void test_refused(void **state)
{
	struct fixture *fx = *state;
	char want[PATH_MAX + 64];

	assert_int_equal(load(fx, &fx->next, BASE "[chat]\ngrace_seconds = lots\n"), -1);
	snprintf(want, sizeof want, "%s:6: ", fx->conf);
	assert_int_equal(strncmp(fx->err, want, strlen(want)), 0);
	assert_non_null(strstr(fx->err, "grace_seconds"));
	assert_null(fx->next.hostname);
	/* A language without bundles: the i18n half of -n. */
	assert_int_equal(load(fx, &fx->next, BASE "[chat]\nlanguages = nl xx\n"), -1);
	assert_non_null(strstr(fx->err, "xx"));
	assert_null(fx->next.hostname);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key_known),
		cmocka_unit_test_setup_teardown(test_apply_and_keep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
