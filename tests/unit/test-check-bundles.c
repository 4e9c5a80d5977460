/* Unit tests for locales/check-bundles: small bundles, good and broken, are
 * compiled with genrb into a scratch folder and checked; the exit code, the
 * messages (package, locale, key path) and the stamp file are compared. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>
#include <cmocka.h>

/* Set by tests/unit/meson.build. */
static const char *genrb_path, *checker_path;

/* A scratch folder: src-<pkg>/<locale>.txt compiled into <pkg>/<locale>.res. */
struct fixture {
	char dir[64];
	char out[128];   /* checker stderr */
	char stamp[128];
	int status;      /* checker exit code, -1 if it did not exit */
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* Runs argv with stderr (and stdout) into out; returns the exit code. */
static int run(char *const argv[], const char *out)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Compiles the bundles of one package: names[i] with texts[i]. */
static void compile(struct fixture *fx, const char *pkg, const char *const *names, const char *const *texts,
		    int n)
{
	char src[128], out[128], log[128], files[8][192];
	char *argv[16];
	int a = 0;

	snprintf(src, sizeof src, "%s/src-%s", fx->dir, pkg);
	snprintf(out, sizeof out, "%s/%s", fx->dir, pkg);
	assert_int_equal(mkdir(src, 0700), 0);
	assert_int_equal(mkdir(out, 0700), 0);
	argv[a++] = (char *)genrb_path;
	argv[a++] = "-e";
	argv[a++] = "UTF-8";
	argv[a++] = "-q";
	argv[a++] = "-d";
	argv[a++] = out;
	for (int i = 0; i < n; i++) {
		snprintf(files[i], sizeof files[i], "%s/%s.txt", src, names[i]);
		write_file(files[i], texts[i]);
		argv[a++] = files[i];
	}
	argv[a] = NULL;
	snprintf(log, sizeof log, "%s/genrb.log", fx->dir);
	if (run(argv, log) != 0) {
		char *text = read_file(log);

		fail_msg("genrb failed: %s", text);
	}
}

static void check(struct fixture *fx)
{
	char daemon[128], client[128];
	char *argv[] = { (char *)checker_path, "--stamp", fx->stamp, daemon, client, NULL };

	snprintf(daemon, sizeof daemon, "%s/daemon", fx->dir);
	snprintf(client, sizeof client, "%s/client", fx->dir);
	fx->status = run(argv, fx->out);
}

static bool stamp_exists(const struct fixture *fx)
{
	return access(fx->stamp, F_OK) == 0;
}

static void assert_output_has(const struct fixture *fx, const char *want)
{
	char *text = read_file(fx->out);

	if (strstr(text, want) == NULL)
		fail_msg("checker output lacks \"%s\":\n%s", want, text);
	free(text);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	/* Our own mkdtemp folder under /tmp: nothing else can be named. */
	assert_int_equal(strncmp(dir, "/tmp/brug-check-", 16), 0);
	assert_int_equal(nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/brug-check-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->out, sizeof fx->out, "%s/check.log", fx->dir);
	snprintf(fx->stamp, sizeof fx->stamp, "%s/bundles.stamp", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	remove_tree(fx->dir);
	free(fx);
	return 0;
}

/* ---- the bundles ---------------------------------------------------------- */

#define DAEMON_ROOT                                                                       \
	"root {\n"                                                                        \
	"  daemon {\n"                                                                    \
	"    queue { \"{0, plural, =1 {You are first.} other {You are number #.}}\" }\n"  \
	"    joined { \"\\u2068{0}\\u2069 has joined.\" }\n"                              \
	"    bye { \"Goodbye.\" }\n"                                                      \
	"  }\n"                                                                           \
	"}\n"

#define DAEMON_NL_GOOD                                                                    \
	"nl {\n"                                                                          \
	"  daemon {\n"                                                                    \
	"    queue { \"{0, plural, =1 {Je bent de eerste.} other {Je bent nummer #.}}\" }\n" \
	"    joined { \"\\u2068{0}\\u2069 is erbij.\" }\n"                                \
	"    bye { \"Tot ziens.\" }\n"                                                    \
	"  }\n"                                                                           \
	"}\n"

#define DAEMON_AR_GOOD                                                                    \
	"ar {\n"                                                                          \
	"  daemon {\n"                                                                    \
	"    queue { \"{0, plural, zero {لا أحد} one {الأول} two {الثاني} few {رقم #} many {رقم #} other {رقم #}}\" }\n" \
	"    joined { \"\\u2068{0}\\u2069 معك الآن.\" }\n"                                \
	"    bye { \"مع السلامة.\" }\n"                                                   \
	"  }\n"                                                                           \
	"}\n"

#define CLIENT_ROOT                                                                       \
	"root {\n"                                                                        \
	"  meta { autonym { \"English\" } }\n"                                            \
	"  topics { other { \"Something else\" } }\n"                                     \
	"  client {\n"                                                                    \
	"    visitor {\n"                                                                 \
	"      start { \"Start chat\" }\n"                                                \
	"      position { \"Your place: {position}\" }\n"                                 \
	"    }\n"                                                                         \
	"    staff { roles { volunteer { \"Volunteer\" } } }\n"                           \
	"  }\n"                                                                           \
	"}\n"

#define CLIENT_NL_GOOD                                                                    \
	"nl {\n"                                                                          \
	"  meta { autonym { \"Nederlands\" } }\n"                                         \
	"  topics { other { \"Iets anders\" } }\n"                                        \
	"  client {\n"                                                                    \
	"    visitor {\n"                                                                 \
	"      start { \"Begin\" }\n"                                                     \
	"      position { \"Jouw plek: {position}\" }\n"                                  \
	"    }\n"                                                                         \
	"    staff { roles { volunteer { \"Vrijwilliger\" } } }\n"                        \
	"  }\n"                                                                           \
	"}\n"

#define CLIENT_AR_GOOD                                                                    \
	"ar {\n"                                                                          \
	"  meta { autonym { \"العربية\" } }\n"                                            \
	"  topics { other { \"موضوع آخر\" } }\n"                                          \
	"  client {\n"                                                                    \
	"    visitor {\n"                                                                 \
	"      start { \"بدء المحادثة\" }\n"                                              \
	"      position { \"مكانك: {position}\" }\n"                                      \
	"    }\n"                                                                         \
	"    staff { roles { volunteer { \"متطوع\" } } }\n"                               \
	"  }\n"                                                                           \
	"}\n"

/* Compiles both packages with root, ar and the given nl texts. */
static void build(struct fixture *fx, const char *daemon_nl, const char *client_nl)
{
	static const char *const names[] = { "root", "ar", "nl" };
	const char *const daemon[] = { DAEMON_ROOT, DAEMON_AR_GOOD, daemon_nl };
	const char *const client[] = { CLIENT_ROOT, CLIENT_AR_GOOD, client_nl };

	compile(fx, "daemon", names, daemon, 3);
	compile(fx, "client", names, client, 3);
}

/* ---- cases ------------------------------------------------------------------ */

static void test_good(void **state)
{
	struct fixture *fx = *state;
	char *text;

	build(fx, DAEMON_NL_GOOD, CLIENT_NL_GOOD);
	check(fx);
	assert_int_equal(fx->status, 0);
	assert_true(stamp_exists(fx));
	text = read_file(fx->out);
	assert_string_equal(text, "");
	free(text);
}

static void test_missing_key(void **state)
{
	struct fixture *fx = *state;

	build(fx,
	      "nl {\n  daemon {\n"
	      "    queue { \"{0, plural, =1 {Je bent de eerste.} other {Je bent nummer #.}}\" }\n"
	      "    joined { \"\\u2068{0}\\u2069 is erbij.\" }\n"
	      "  }\n}\n",
	      CLIENT_NL_GOOD);
	/* A stamp from an earlier good build must not survive a bad one. */
	write_file(fx->stamp, "old\n");
	check(fx);
	assert_int_equal(fx->status, 1);
	assert_false(stamp_exists(fx));
	assert_output_has(fx, "check-bundles: daemon nl: daemon/bye: is missing (root has it)\n");
	assert_output_has(fx, "check-bundles: 1 problem\n");
}

static void test_extra_key(void **state)
{
	struct fixture *fx = *state;

	build(fx, DAEMON_NL_GOOD,
	      "nl {\n"
	      "  meta { autonym { \"Nederlands\" } }\n"
	      "  topics { other { \"Iets anders\" } }\n"
	      "  client {\n"
	      "    visitor {\n"
	      "      start { \"Begin\" }\n"
	      "      position { \"Jouw plek: {position}\" }\n"
	      "      startt { \"Begin\" }\n"
	      "    }\n"
	      "    staff { roles { volunteer { \"Vrijwilliger\" } } }\n"
	      "  }\n"
	      "}\n");
	check(fx);
	assert_int_equal(fx->status, 1);
	assert_false(stamp_exists(fx));
	assert_output_has(fx, "check-bundles: client nl: client/visitor/startt: is a key that root lacks\n");
}

/* Deep in a nested table, and a whole table missing at the top. */
static void test_nested_keys(void **state)
{
	struct fixture *fx = *state;

	build(fx, DAEMON_NL_GOOD,
	      "nl {\n"
	      "  meta { autonym { \"Nederlands\" } }\n"
	      "  client {\n"
	      "    visitor {\n"
	      "      start { \"Begin\" }\n"
	      "      position { \"Jouw plek: {position}\" }\n"
	      "    }\n"
	      "    staff { roles { vrijwilliger { \"Vrijwilliger\" } } }\n"
	      "  }\n"
	      "}\n");
	check(fx);
	assert_int_equal(fx->status, 1);
	assert_output_has(fx, "check-bundles: client nl: topics: is missing (root has it)\n");
	assert_output_has(fx, "check-bundles: client nl: client/staff/roles/vrijwilliger: is a key that root lacks\n");
	assert_output_has(fx, "check-bundles: client nl: client/staff/roles/volunteer: is missing (root has it)\n");
	assert_output_has(fx, "check-bundles: 3 problems\n");
}

static void test_unparsable_pattern(void **state)
{
	struct fixture *fx = *state;

	build(fx,
	      "nl {\n  daemon {\n"
	      "    queue { \"{0, plural, =1 {Je bent de eerste.} other {Je bent nummer #.}\" }\n"
	      "    joined { \"\\u2068{0}\\u2069 is erbij.\" }\n"
	      "    bye { \"Tot ziens.\" }\n"
	      "  }\n}\n",
	      CLIENT_NL_GOOD);
	check(fx);
	assert_int_equal(fx->status, 1);
	assert_false(stamp_exists(fx));
	assert_output_has(fx, "check-bundles: daemon nl: daemon/queue: does not parse as a MessageFormat pattern");
}

static void test_unknown_argument_type(void **state)
{
	struct fixture *fx = *state;

	build(fx,
	      "nl {\n  daemon {\n"
	      "    queue { \"{0, plurall, =1 {Je bent de eerste.} other {Je bent nummer #.}}\" }\n"
	      "    joined { \"\\u2068{0}\\u2069 is erbij.\" }\n"
	      "    bye { \"Tot ziens.\" }\n"
	      "  }\n}\n",
	      CLIENT_NL_GOOD);
	check(fx);
	assert_int_equal(fx->status, 1);
	assert_output_has(fx, "check-bundles: daemon nl: daemon/queue: does not parse as a MessageFormat pattern");
}

/* A translation that drops or renames an argument or placeholder. */
static void test_arguments_differ(void **state)
{
	struct fixture *fx = *state;

	build(fx,
	      "nl {\n  daemon {\n"
	      "    queue { \"{0, plural, =1 {Je bent de eerste.} other {Je bent nummer #.}}\" }\n"
	      "    joined { \"Iemand is erbij.\" }\n"
	      "    bye { \"Tot ziens, {1}.\" }\n"
	      "  }\n}\n",
	      "nl {\n"
	      "  meta { autonym { \"Nederlands\" } }\n"
	      "  topics { other { \"Iets anders\" } }\n"
	      "  client {\n"
	      "    visitor {\n"
	      "      start { \"Begin\" }\n"
	      "      position { \"Jouw plek: {positie}\" }\n"
	      "    }\n"
	      "    staff { roles { volunteer { \"Vrijwilliger\" } } }\n"
	      "  }\n"
	      "}\n");
	check(fx);
	assert_int_equal(fx->status, 1);
	assert_output_has(fx, "check-bundles: daemon nl: daemon/joined: uses the arguments none, root uses {0}\n");
	assert_output_has(fx, "check-bundles: daemon nl: daemon/bye: uses the arguments {1}, root uses none\n");
	assert_output_has(fx, "check-bundles: client nl: client/visitor/position: has the placeholders "
			      "{positie}, root uses {position}\n");
	assert_output_has(fx, "check-bundles: 3 problems\n");
}

/* A table where root has a string, and an empty text. */
static void test_wrong_kind_and_empty(void **state)
{
	struct fixture *fx = *state;

	build(fx,
	      "nl {\n  daemon {\n"
	      "    queue { \"{0, plural, =1 {Je bent de eerste.} other {Je bent nummer #.}}\" }\n"
	      "    joined { x { \"\\u2068{0}\\u2069 is erbij.\" } }\n"
	      "    bye { \"\" }\n"
	      "  }\n}\n",
	      CLIENT_NL_GOOD);
	check(fx);
	assert_int_equal(fx->status, 1);
	assert_output_has(fx, "check-bundles: daemon nl: daemon/joined: is a table, but a string in root\n");
	assert_output_has(fx, "check-bundles: daemon nl: daemon/bye: is empty\n");
}

static void test_no_root(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = { "nl" };
	const char *const daemon[] = { DAEMON_NL_GOOD };
	const char *const client[] = { CLIENT_NL_GOOD };

	compile(fx, "daemon", names, daemon, 1);
	compile(fx, "client", names, client, 1);
	check(fx);
	assert_int_equal(fx->status, 1);
	assert_output_has(fx, "no root.res");
}

static void test_cannot_run(void **state)
{
	struct fixture *fx = *state;
	char missing[128];
	char *none[] = { (char *)checker_path, NULL };
	char *gone[] = { (char *)checker_path, missing, NULL };

	assert_int_equal(run(none, fx->out), 2);
	assert_output_has(fx, "usage: check-bundles");
	snprintf(missing, sizeof missing, "%s/no-such-package", fx->dir);
	assert_int_equal(run(gone, fx->out), 2);
	assert_output_has(fx, "no-such-package");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extra_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unparsable_pattern, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_argument_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arguments_differ, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_kind_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_run, setup, teardown),
	};

	genrb_path = getenv("GENRB");
	checker_path = getenv("CHECK_BUNDLES");
	if (genrb_path == NULL || checker_path == NULL) {
		fprintf(stderr, "test-check-bundles: set GENRB and CHECK_BUNDLES\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
