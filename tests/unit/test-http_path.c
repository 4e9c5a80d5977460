/* Unit tests for the static server's path check: what the web client asks
 * for passes; traversal, encoded dots and separators, NUL, control bytes
 * and malformed or overlong UTF-8 are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "http_path.h"

static bool ok(const char *s)
{
	return http_path_acceptable(s, strlen(s));
}

static void test_client_paths_pass(void **state)
{
	static const char *const good[] = {
		"/", "/index.html", "/staff/", "/staff/index.html", "/js/visitor.js",
		"/i18n/ar.json", "/api/status/nl.json", "/api/ical/AbC-_09.ics", "/visitor",
		"/a%20b.txt", "/%41.css", "/caf%C3%A9", "/caf\xc3\xa9", "/\xe2\x82\xac",
		"/\xf0\x9f\x98\x80", "/...", "/.well-known/x", "/a.b.c", "/~user",
	};

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		assert_true(ok(good[i]));
}

static void test_traversal_refused(void **state)
{
	static const char *const bad[] = {
		"", "index.html", "..", "/..", "/../etc/passwd", "/a/../../b", "/a/..", "/.",
		"/./a", "/a/./b", "//etc/passwd", "/a//b", "/a\\..\\b", "/..\\a",
		"/%2e%2e/etc", "/%2E%2E/", "/.%2e/", "/%2e/", "/a%2fb", "/a%2Fb", "/a%5cb",
		"/%252e%252e/", "/a%00b", "/%0a", "/a%7f", "/a%", "/a%2", "/a%zz", "/a%2g",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (ok(bad[i]))
			fail_msg("accepted %s", bad[i]);
	}
	assert_false(http_path_acceptable(NULL, 0));
}

static void test_bytes_refused(void **state)
{
	static const char nul[] = "/index.html\0.js";
	static const char *const bad[] = {
		"/a\tb", "/a\nb", "/a\rb", "/\x7f", "/\x1b[0m",
		"/\xc0\xae\xc0\xae/",     /* overlong "..", the classic */
		"/%c0%ae%c0%ae/",         /* the same, escaped */
		"/\xc1\x9c", "/\xe0\x80\xaf", "/\xf0\x80\x80\xaf",   /* more overlong forms */
		"/\xed\xa0\x80",          /* a surrogate */
		"/\xf4\x90\x80\x80", "/\xf5\x80\x80\x80", "/\xff",   /* past U+10FFFF */
		"/\xc2\x85", "/%c2%9b",   /* C1 controls (NEL, CSI) */
		"/\xc3", "/\xc3/x", "/\x80", "/\xe2\x82",           /* truncated, stray */
	};

	(void)state;
	assert_false(http_path_acceptable(nul, sizeof nul - 1));
	assert_true(http_path_acceptable(nul, strlen(nul)));
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (ok(bad[i]))
			fail_msg("accepted case %zu", i);
	}
}

static void test_length_limit(void **state)
{
	char buf[HTTP_PATH_MAX + 2];

	(void)state;
	memset(buf, 'a', sizeof buf);
	buf[0] = '/';
	assert_true(http_path_acceptable(buf, HTTP_PATH_MAX));
	assert_false(http_path_acceptable(buf, HTTP_PATH_MAX + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_paths_pass),
		cmocka_unit_test(test_traversal_refused),
		cmocka_unit_test(test_bytes_refused),
		cmocka_unit_test(test_length_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
