/* Unit tests for the second factor: RFC 4226 and RFC 6238 test vectors,
 * base32 (RFC 4648), the enrolment URI, the ±1 step window and single use,
 * and the enrolment QR code's SVG. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common.h"
#include "qr.h"
#include "totp.h"

static const unsigned char key_sha1[] = "12345678901234567890";
static const unsigned char key_sha256[] = "12345678901234567890123456789012";
static const unsigned char key_sha512[] =
	"1234567890123456789012345678901234567890123456789012345678901234";

/* RFC 4226 appendix D: HOTP values for counters 0..9 with key_sha1. */
static void test_hotp_rfc4226(void **state)
{
	static const uint32_t want[] = { 755224, 287082, 359152, 969429, 338314,
					 254676, 287922, 162583, 399871, 520489 };
	uint32_t code;

	(void)state;
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(totp_hotp(TOTP_SHA1, key_sha1, 20, i, 6, &code), 0);
		assert_int_equal(code, want[i]);
	}
	assert_int_equal(totp_hotp(TOTP_SHA1, key_sha1, 20, 0, 5, &code), -EINVAL);
	assert_int_equal(totp_hotp(TOTP_SHA1, key_sha1, 20, 0, 10, &code), -EINVAL);
}

/* RFC 6238 appendix B: 8-digit codes at six times for each algorithm. */
static void test_totp_rfc6238(void **state)
{
	static const struct {
		int64_t t;
		uint32_t sha1, sha256, sha512;
	} v[] = {
		{ 59, 94287082, 46119246, 90693936 },
		{ 1111111109, 7081804, 68084774, 25091201 },
		{ 1111111111, 14050471, 67062674, 99943326 },
		{ 1234567890, 89005924, 91819424, 93441116 },
		{ 2000000000, 69279037, 90698825, 38618901 },
		{ 20000000000LL, 65353130, 77737706, 47863826 },
	};
	uint32_t code;

	(void)state;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		assert_int_equal(totp_at(TOTP_SHA1, key_sha1, 20, v[i].t, 8, &code), 0);
		assert_int_equal(code, v[i].sha1);
		assert_int_equal(totp_at(TOTP_SHA256, key_sha256, 32, v[i].t, 8, &code), 0);
		assert_int_equal(code, v[i].sha256);
		assert_int_equal(totp_at(TOTP_SHA512, key_sha512, 64, v[i].t, 8, &code), 0);
		assert_int_equal(code, v[i].sha512);
	}
	/* The step boundaries of the table: 59 is step 1, 1111111109 and
	 * 1111111111 straddle one. */
	assert_int_equal(totp_step(59), 1);
	assert_int_equal(totp_step(1111111109), 37037036);
	assert_int_equal(totp_step(1111111111), 37037037);
	assert_int_equal(totp_step(-1), -1);
	assert_int_equal(totp_step(-30), -1);
	assert_int_equal(totp_step(-31), -2);
	/* The ends of the range (fuzz-totp found the overflow at INT64_MIN + 1). */
	assert_true(totp_step(INT64_MIN + 1) == -307445734561825861LL);
	assert_true(totp_step(INT64_MIN) == -307445734561825861LL);
	assert_true(totp_step(INT64_MAX) == 307445734561825860LL);
}

/* RFC 4648 section 10 vectors, both ways, and what decode refuses. */
static void test_base32(void **state)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB",
					   "MZXW6YTBOI" };
	unsigned char buf[64], rnd[37];
	char out[128];
	size_t n;

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(totp_base32_encode((const unsigned char *)plain[i], strlen(plain[i]), out,
						    sizeof out),
				 strlen(enc[i]));
		assert_string_equal(out, enc[i]);
		assert_int_equal(totp_base32_decode(enc[i], buf, sizeof buf, &n), 0);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(buf, plain[i], n);
	}
	/* Lower case, spaces and padding are accepted. */
	assert_int_equal(totp_base32_decode("mzxw 6ytb oi======", buf, sizeof buf, &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "foobar", 6);
	/* Bad characters, non-zero leftover bits, data after padding, room. */
	assert_int_equal(totp_base32_decode("MZ1W", buf, sizeof buf, &n), -EINVAL);
	assert_int_equal(totp_base32_decode("MZ", buf, sizeof buf, &n), -EINVAL);
	assert_int_equal(totp_base32_decode("M", buf, sizeof buf, &n), -EINVAL);
	assert_int_equal(totp_base32_decode("MY=MY", buf, sizeof buf, &n), -EINVAL);
	assert_int_equal(totp_base32_decode("MZXW6YTBOI", buf, 5, &n), -EINVAL);
	assert_int_equal(totp_base32_encode((const unsigned char *)"foobar", 6, out, 10), 0);
	/* Random round trips of every length. */
	for (size_t len = 0; len <= sizeof rnd; len++) {
		randombytes_buf(rnd, len);
		n = totp_base32_encode(rnd, len, out, sizeof out);
		assert_int_equal(n, (len * 8 + 4) / 5);
		assert_int_equal(totp_base32_decode(out, buf, sizeof buf, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(buf, rnd, len);
	}
}

static void test_secret_and_uri(void **state)
{
	char a[TOTP_SECRET_B32_LEN + 1], b[TOTP_SECRET_B32_LEN + 1];
	unsigned char key[64];
	size_t n;
	char *uri;

	(void)state;
	assert_int_equal(totp_new_secret(a), 0);
	assert_int_equal(totp_new_secret(b), 0);
	assert_int_equal(strlen(a), TOTP_SECRET_B32_LEN);
	assert_string_not_equal(a, b);
	assert_int_equal(totp_base32_decode(a, key, sizeof key, &n), 0);
	assert_int_equal(n, TOTP_SECRET_BYTES);

	uri = totp_uri("Brug", "samira", "JBSWY3DPEHPK3PXP");
	assert_non_null(uri);
	assert_string_equal(uri, "otpauth://totp/Brug:samira?secret=JBSWY3DPEHPK3PXP&issuer=Brug"
				 "&algorithm=SHA1&digits=6&period=30");
	free(uri);
	/* Characters outside the unreserved set are percent-encoded. */
	uri = totp_uri("Brug Hulplijn", "a:b", "AAAA");
	assert_non_null(uri);
	assert_string_equal(uri, "otpauth://totp/Brug%20Hulplijn:a%3Ab?secret=AAAA&issuer=Brug%20Hulplijn"
				 "&algorithm=SHA1&digits=6&period=30");
	free(uri);
	assert_null(totp_uri("Brug", NULL, "AAAA"));
}

/* The RFC 6238 SHA1 key in base32, for totp_verify(). */
#define SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static void code_at(int64_t t, char out[7])
{
	assert_int_equal(totp_code_now(SECRET, t, out), 0);
}

static void test_verify_window_and_replay(void **state)
{
	const int64_t now = 1111111111; /* step 37037037 */
	char prev[7], cur[7], next[7], far[7];
	int64_t step = 0;

	(void)state;
	code_at(now - 30, prev);
	code_at(now, cur);
	code_at(now + 30, next);
	code_at(now + 60, far);
	/* The last six digits of the RFC's 8-digit value. */
	assert_string_equal(cur, "050471");

	assert_int_equal(totp_verify(SECRET, cur, now, 0, &step), 0);
	assert_int_equal(step, 37037037);
	assert_int_equal(totp_verify(SECRET, prev, now, 0, &step), 0);
	assert_int_equal(step, 37037036);
	assert_int_equal(totp_verify(SECRET, next, now, 0, &step), 0);
	assert_int_equal(step, 37037038);
	/* Two steps away is outside the window. */
	assert_int_equal(totp_verify(SECRET, far, now, 0, &step), BRUG_E_UNAUTHORIZED);
	code_at(now - 60, far);
	assert_int_equal(totp_verify(SECRET, far, now, 0, &step), BRUG_E_UNAUTHORIZED);

	/* Single use: a step at or before the last one used is refused, a
	 * later one still works. */
	assert_int_equal(totp_verify(SECRET, cur, now, 37037037, &step), BRUG_E_UNAUTHORIZED);
	assert_int_equal(totp_verify(SECRET, prev, now, 37037037, &step), BRUG_E_UNAUTHORIZED);
	assert_int_equal(totp_verify(SECRET, next, now, 37037037, &step), 0);
	assert_int_equal(step, 37037038);
	assert_int_equal(totp_verify(SECRET, next, now, 37037038, &step), BRUG_E_UNAUTHORIZED);

	/* Malformed codes and secrets. */
	assert_int_equal(totp_verify(SECRET, "05047", now, 0, &step), BRUG_E_UNAUTHORIZED);
	assert_int_equal(totp_verify(SECRET, "0504711", now, 0, &step), BRUG_E_UNAUTHORIZED);
	assert_int_equal(totp_verify(SECRET, "05047a", now, 0, &step), BRUG_E_UNAUTHORIZED);
	assert_int_equal(totp_verify(SECRET, "", now, 0, &step), BRUG_E_UNAUTHORIZED);
	assert_int_equal(totp_verify(SECRET, NULL, now, 0, &step), BRUG_E_UNAUTHORIZED);
	assert_int_equal(totp_verify("not base32!", cur, now, 0, &step), BRUG_E_UNAUTHORIZED);
	assert_int_equal(totp_verify("", cur, now, 0, &step), BRUG_E_UNAUTHORIZED);
}

static void test_qr_svg(void **state)
{
	char *svg;

	(void)state;
	svg = qr_svg("otpauth://totp/Brug:samira?secret=JBSWY3DPEHPK3PXP&issuer=Brug"
		     "&algorithm=SHA1&digits=6&period=30");
	assert_non_null(svg);
	assert_true(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
	assert_non_null(strstr(svg, "shape-rendering=\"crispEdges\""));
	/* Exactly one path, and the closing tag. */
	assert_non_null(strstr(svg, "<path "));
	assert_null(strstr(strstr(svg, "<path ") + 1, "<path "));
	assert_true(strcmp(svg + strlen(svg) - 6, "</svg>") == 0);
	/* The finder pattern's top-left run starts inside the quiet zone. */
	assert_non_null(strstr(svg, "M4 4h7v1h-7z"));
	free(svg);
	assert_null(qr_svg(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hotp_rfc4226),
		cmocka_unit_test(test_totp_rfc6238),
		cmocka_unit_test(test_base32),
		cmocka_unit_test(test_secret_and_uri),
		cmocka_unit_test(test_verify_window_and_replay),
		cmocka_unit_test(test_qr_svg),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
