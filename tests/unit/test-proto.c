/* Unit tests for daemon/proto.c: every decoding rule of docs/protocol.md with
 * the exact refusal code, the exact bytes of outbound frames, and frame
 * reference counting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common.h"
#include "proto.h"

#define V PROTO_SIDE_VISITOR
#define S PROTO_SIDE_STAFF

/* Decode a NUL-terminated JSON text; the caller finis `in`. */
static int decode(enum proto_side side, const char *json, struct proto_in *in)
{
	return proto_decode(json, strlen(json), side, in);
}

/* Decode and insist on exactly `want`, naming the input when it differs. On
 * a refusal, nothing may be left pointing into a freed tree. */
static void check_code(enum proto_side side, const char *json, int want,
		       const char *file, int line)
{
	struct proto_in in;
	int rc = decode(side, json, &in);

	if (rc != want) {
		print_error("%s:%d: %s on the %s socket gave %d (%s), wanted %d (%s)\n",
			    file, line, json, side == V ? "visitor" : "staff",
			    rc, brug_error_code(rc), want, brug_error_code(want));
		_fail(file, line);
	}
	if (rc != 0 && (in.root != NULL || in.text != NULL || in.user != NULL ||
			in.to_user != NULL || in.n_tags != 0)) {
		print_error("%s:%d: %s: refused but fields left set\n", file, line, json);
		_fail(file, line);
	}
	proto_in_fini(&in);
}

#define EXPECT(side, json, code) check_code(side, json, code, __FILE__, __LINE__)

/* ---- JSON and the envelope (protocol doc, "Transport") ------------------ */

static void test_bad_json(void **state)
{
	struct proto_in in;

	EXPECT(V, "", BRUG_E_BAD_JSON);
	EXPECT(V, "{", BRUG_E_BAD_JSON);
	EXPECT(V, "{\"type\":\"end\"} x", BRUG_E_BAD_JSON);
	EXPECT(V, "{'type':'end'}", BRUG_E_BAD_JSON);
	EXPECT(V, "[{\"type\":\"end\"}]", BRUG_E_BAD_JSON);
	EXPECT(V, "\"end\"", BRUG_E_BAD_JSON);
	EXPECT(V, "42", BRUG_E_BAD_JSON);
	EXPECT(V, "null", BRUG_E_BAD_JSON);
	/* Invalid UTF-8, a lone surrogate and NUL inside a string. */
	EXPECT(V, "{\"type\":\"msg\",\"text\":\"\xff\"}", BRUG_E_BAD_JSON);
	EXPECT(V, "{\"type\":\"msg\",\"text\":\"\\ud83d\"}", BRUG_E_BAD_JSON);
	EXPECT(V, "{\"type\":\"msg\",\"text\":\"a\\u0000b\"}", BRUG_E_BAD_JSON);
	/* Duplicate keys, at the top and nested. */
	EXPECT(V, "{\"type\":\"end\",\"type\":\"end\"}", BRUG_E_BAD_JSON);
	EXPECT(S, "{\"type\":\"invite\",\"chat\":\"1\",\"to\":{\"user\":\"a\",\"user\":\"b\"}}",
	       BRUG_E_BAD_JSON);

	/* The length is honoured: the buffer need not end in NUL. */
	assert_int_equal(proto_decode("{\"type\":\"end\"}xyz", 14, V, &in), 0);
	assert_int_equal(in.type, PROTO_END);
	proto_in_fini(&in);
	assert_int_equal(proto_decode("{\"type\":\"end\"}", 13, V, &in), BRUG_E_BAD_JSON);
	assert_int_equal(proto_decode(NULL, 0, V, &in), BRUG_E_BAD_JSON);
	assert_null(in.root);
}

static void test_type(void **state)
{
	EXPECT(V, "{}", BRUG_E_BAD_TYPE);
	EXPECT(V, "{\"text\":\"hi\"}", BRUG_E_BAD_TYPE);
	EXPECT(V, "{\"type\":1}", BRUG_E_BAD_TYPE);
	EXPECT(V, "{\"type\":null}", BRUG_E_BAD_TYPE);
	EXPECT(V, "{\"type\":[\"msg\"]}", BRUG_E_BAD_TYPE);
	EXPECT(V, "{\"type\":\"\"}", BRUG_E_BAD_TYPE);
	EXPECT(V, "{\"type\":\"MSG\",\"text\":\"x\"}", BRUG_E_BAD_TYPE);
	EXPECT(V, "{\"type\":\"nope\"}", BRUG_E_BAD_TYPE);
	EXPECT(S, "{\"type\":\"nope\"}", BRUG_E_BAD_TYPE);
	/* Types the daemon sends are not types a client may send. */
	EXPECT(V, "{\"type\":\"welcome\"}", BRUG_E_BAD_TYPE);
	EXPECT(S, "{\"type\":\"error\"}", BRUG_E_BAD_TYPE);
	EXPECT(S, "{\"type\":\"offer\",\"offer\":\"1\"}", BRUG_E_BAD_TYPE);
}

/* A type of the other socket is forbidden, whatever its fields. */
static void test_other_socket_forbidden(void **state)
{
	EXPECT(S, "{\"type\":\"hello\"}", BRUG_E_FORBIDDEN);
	EXPECT(S, "{\"type\":\"hello\",\"lang\":\"ar\"}", BRUG_E_FORBIDDEN);
	EXPECT(V, "{\"type\":\"login\",\"token\":\"t\"}", BRUG_E_FORBIDDEN);
	EXPECT(V, "{\"type\":\"login\"}", BRUG_E_FORBIDDEN);
	EXPECT(V, "{\"type\":\"status\",\"available\":true}", BRUG_E_FORBIDDEN);
	EXPECT(V, "{\"type\":\"accept\",\"offer\":\"1\"}", BRUG_E_FORBIDDEN);
	EXPECT(V, "{\"type\":\"decline\",\"offer\":\"1\"}", BRUG_E_FORBIDDEN);
	EXPECT(V, "{\"type\":\"transfer\",\"chat\":\"1\",\"to\":{\"role\":\"professional\"}}",
	       BRUG_E_FORBIDDEN);
	EXPECT(V, "{\"type\":\"invite\",\"chat\":\"1\",\"to\":{\"user\":\"a\"}}", BRUG_E_FORBIDDEN);
	EXPECT(V, "{\"type\":\"logout\"}", BRUG_E_FORBIDDEN);
}

static void test_id(void **state)
{
	struct proto_in in;
	char id64[65], id65[66], json[200];

	memset(id64, 'a', 64);
	id64[64] = '\0';
	memset(id65, 'b', 65);
	id65[65] = '\0';

	assert_int_equal(decode(V, "{\"type\":\"end\",\"id\":\"r1\"}", &in), 0);
	assert_string_equal(in.id, "r1");
	proto_in_fini(&in);
	assert_string_equal(in.id, "");

	assert_int_equal(decode(V, "{\"type\":\"end\"}", &in), 0);
	assert_string_equal(in.id, "");
	proto_in_fini(&in);

	snprintf(json, sizeof json, "{\"id\":\"%s\",\"type\":\"end\"}", id64);
	assert_int_equal(decode(V, json, &in), 0);
	assert_string_equal(in.id, id64);
	proto_in_fini(&in);

	snprintf(json, sizeof json, "{\"id\":\"%s\",\"type\":\"end\"}", id65);
	assert_int_equal(decode(V, json, &in), BRUG_E_BAD_FIELD);
	assert_string_equal(in.id, "");
	proto_in_fini(&in);

	EXPECT(V, "{\"type\":\"end\",\"id\":7}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"end\",\"id\":null}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"end\",\"id\":[\"7\"]}", BRUG_E_BAD_FIELD);
	/* A bad id is reported even when the type is bad too. */
	EXPECT(V, "{\"type\":\"nope\",\"id\":7}", BRUG_E_BAD_FIELD);
}

/* Every refusal after the id has been read carries it back. */
static void test_id_echoed_on_error(void **state)
{
	static const struct {
		enum proto_side side;
		const char *json;
		int code;
	} cases[] = {
		{ V, "{\"id\":\"e1\"}", BRUG_E_BAD_TYPE },
		{ V, "{\"id\":\"e2\",\"type\":\"nope\"}", BRUG_E_BAD_TYPE },
		{ V, "{\"id\":\"e3\",\"type\":\"login\",\"token\":\"t\"}", BRUG_E_FORBIDDEN },
		{ V, "{\"id\":\"e4\",\"type\":\"msg\"}", BRUG_E_BAD_FIELD },
		{ V, "{\"id\":\"e5\",\"type\":\"msg\",\"text\":\"x\",\"extra\":1}", BRUG_E_BAD_FIELD },
		{ S, "{\"id\":\"e6\",\"type\":\"msg\",\"chat\":\"01\",\"text\":\"x\"}", BRUG_E_BAD_FIELD },
		{ S, "{\"id\":\"e7\",\"type\":\"login\",\"user\":\"u\",\"token\":\"t\"}", BRUG_E_BAD_FIELD },
		{ S, "{\"type\":\"end\",\"chat\":\"1\",\"tags\":[1],\"id\":\"e8\"}", BRUG_E_BAD_FIELD },
	};
	char want[8];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct proto_in in;

		assert_int_equal(decode(cases[i].side, cases[i].json, &in), cases[i].code);
		snprintf(want, sizeof want, "e%zu", i + 1);
		assert_string_equal(in.id, want);
		assert_null(in.root);
		proto_in_fini(&in);
	}
}

/* ---- visitor types (protocol doc, "Visitor socket") ---------------------- */

static void test_visitor_hello(void **state)
{
	struct proto_in in;

	assert_int_equal(decode(V, "{\"type\":\"hello\"}", &in), 0);
	assert_int_equal(in.type, PROTO_HELLO);
	assert_null(in.lang);
	assert_null(in.topic);
	assert_null(in.resume);
	assert_int_equal(in.last_seq, 0);
	assert_non_null(in.root);
	proto_in_fini(&in);
	assert_null(in.root);

	assert_int_equal(decode(V, "{\"type\":\"hello\",\"lang\":\"ar\",\"topic\":\"forced_marriage\","
				   "\"resume\":\"abc_-\",\"last_seq\":12}", &in), 0);
	assert_string_equal(in.lang, "ar");
	assert_string_equal(in.topic, "forced_marriage");
	assert_string_equal(in.resume, "abc_-");
	assert_int_equal(in.last_seq, 12);
	proto_in_fini(&in);

	assert_int_equal(decode(V, "{\"type\":\"hello\",\"last_seq\":9223372036854775807}", &in), 0);
	assert_true(in.last_seq == INT64_MAX);
	proto_in_fini(&in);

	EXPECT(V, "{\"type\":\"hello\",\"last_seq\":0}", 0);
	EXPECT(V, "{\"type\":\"hello\",\"last_seq\":-1}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"hello\",\"last_seq\":1.0}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"hello\",\"last_seq\":\"3\"}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"hello\",\"last_seq\":null}", BRUG_E_BAD_FIELD);
	/* Beyond what an int64 holds: well-formed JSON, value out of range. */
	EXPECT(V, "{\"type\":\"hello\",\"last_seq\":99999999999999999999}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"hello\",\"lang\":5}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"hello\",\"lang\":null}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"hello\",\"topic\":[]}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"hello\",\"resume\":true}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"hello\",\"name\":\"x\"}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"hello\",\"Lang\":\"ar\"}", BRUG_E_BAD_FIELD);
}

static void test_visitor_msg(void **state)
{
	struct proto_in in;

	assert_int_equal(decode(V, "{\"type\":\"msg\",\"text\":\"\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7\"}",
				&in), 0);
	assert_int_equal(in.type, PROTO_MSG);
	assert_string_equal(in.text, "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7");
	assert_int_equal(in.text_len, 10);
	assert_int_equal(in.chat, 0);
	proto_in_fini(&in);

	/* Escapes are decoded; the emoji arrives as one 4-byte sequence. */
	assert_int_equal(decode(V, "{\"type\":\"msg\",\"text\":\"a\\n\\ud83d\\ude00\"}", &in), 0);
	assert_string_equal(in.text, "a\n\xf0\x9f\x98\x80");
	assert_int_equal(in.text_len, 6);
	proto_in_fini(&in);

	/* Length limits and normalization belong to i18n, not here. */
	EXPECT(V, "{\"type\":\"msg\",\"text\":\"\"}", 0);
	EXPECT(V, "{\"type\":\"msg\"}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"msg\",\"text\":1}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"msg\",\"text\":null}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"msg\",\"text\":[\"a\"]}", BRUG_E_BAD_FIELD);
	/* A visitor may not name a chat: it has only its own. */
	EXPECT(V, "{\"type\":\"msg\",\"text\":\"hi\",\"chat\":\"1\"}", BRUG_E_BAD_FIELD);
}

static void test_visitor_typing_end(void **state)
{
	struct proto_in in;

	assert_int_equal(decode(V, "{\"type\":\"typing\",\"on\":true}", &in), 0);
	assert_int_equal(in.type, PROTO_TYPING);
	assert_true(in.on);
	proto_in_fini(&in);
	assert_int_equal(decode(V, "{\"type\":\"typing\",\"on\":false}", &in), 0);
	assert_false(in.on);
	proto_in_fini(&in);
	EXPECT(V, "{\"type\":\"typing\"}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"typing\",\"on\":1}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"typing\",\"on\":\"true\"}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"typing\",\"on\":true,\"text\":\"a\"}", BRUG_E_BAD_FIELD);

	assert_int_equal(decode(V, "{\"type\":\"end\"}", &in), 0);
	assert_int_equal(in.type, PROTO_END);
	assert_false(in.quick_exit);
	proto_in_fini(&in);
	assert_int_equal(decode(V, "{\"type\":\"end\",\"quick_exit\":true}", &in), 0);
	assert_true(in.quick_exit);
	proto_in_fini(&in);
	EXPECT(V, "{\"type\":\"end\",\"quick_exit\":1}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"end\",\"quick_exit\":null}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"end\",\"chat\":\"1\"}", BRUG_E_BAD_FIELD);
	EXPECT(V, "{\"type\":\"end\",\"tags\":[]}", BRUG_E_BAD_FIELD);
}

/* ---- staff types (protocol doc, "Staff socket") -------------------------- */

static void test_staff_login(void **state)
{
	struct proto_in in;

	assert_int_equal(decode(S, "{\"type\":\"login\",\"user\":\"samira\",\"password\":\"pw\","
				   "\"totp\":\"123456\"}", &in), 0);
	assert_int_equal(in.type, PROTO_LOGIN);
	assert_string_equal(in.user, "samira");
	assert_string_equal(in.password, "pw");
	assert_string_equal(in.totp, "123456");
	assert_null(in.token);
	proto_in_fini(&in);

	assert_int_equal(decode(S, "{\"type\":\"login\",\"user\":\"samira\",\"password\":\"pw\"}", &in), 0);
	assert_null(in.totp);
	proto_in_fini(&in);

	/* Either form may name the console's language (extension). */
	assert_int_equal(decode(S, "{\"type\":\"login\",\"token\":\"tok\",\"lang\":\"ar\"}", &in), 0);
	assert_string_equal(in.lang, "ar");
	proto_in_fini(&in);
	EXPECT(S, "{\"type\":\"login\",\"token\":\"t\",\"lang\":7}", BRUG_E_BAD_FIELD);

	assert_int_equal(decode(S, "{\"type\":\"login\",\"token\":\"tok\"}", &in), 0);
	assert_null(in.lang);
	assert_string_equal(in.token, "tok");
	assert_null(in.user);
	assert_null(in.password);
	proto_in_fini(&in);

	EXPECT(S, "{\"type\":\"login\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"user\":\"samira\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"password\":\"pw\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"totp\":\"123456\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"user\":\"samira\",\"totp\":\"1\"}", BRUG_E_BAD_FIELD);
	/* The two forms may not be mixed. */
	EXPECT(S, "{\"type\":\"login\",\"token\":\"t\",\"user\":\"samira\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"token\":\"t\",\"password\":\"pw\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"token\":\"t\",\"totp\":\"1\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"user\":\"u\",\"password\":\"p\",\"token\":\"t\"}",
	       BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"user\":1,\"password\":\"p\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"user\":\"u\",\"password\":null}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"user\":\"u\",\"password\":\"p\",\"totp\":123456}",
	       BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"token\":true}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"login\",\"user\":\"u\",\"password\":\"p\",\"remember\":true}",
	       BRUG_E_BAD_FIELD);
}

static void test_staff_status_offer(void **state)
{
	struct proto_in in;

	assert_int_equal(decode(S, "{\"type\":\"status\",\"available\":true}", &in), 0);
	assert_int_equal(in.type, PROTO_STATUS);
	assert_true(in.available);
	proto_in_fini(&in);
	assert_int_equal(decode(S, "{\"type\":\"status\",\"available\":false}", &in), 0);
	assert_false(in.available);
	proto_in_fini(&in);
	EXPECT(S, "{\"type\":\"status\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"status\",\"available\":\"yes\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"status\",\"available\":true,\"on\":true}", BRUG_E_BAD_FIELD);

	assert_int_equal(decode(S, "{\"type\":\"accept\",\"offer\":\"42\"}", &in), 0);
	assert_int_equal(in.type, PROTO_ACCEPT);
	assert_int_equal(in.offer, 42);
	assert_int_equal(in.chat, 0);
	proto_in_fini(&in);
	assert_int_equal(decode(S, "{\"type\":\"decline\",\"offer\":\"7\"}", &in), 0);
	assert_int_equal(in.type, PROTO_DECLINE);
	assert_int_equal(in.offer, 7);
	proto_in_fini(&in);
	EXPECT(S, "{\"type\":\"accept\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"decline\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"accept\",\"offer\":42}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"accept\",\"chat\":\"42\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"decline\",\"offer\":\"7\",\"reason\":\"busy\"}", BRUG_E_BAD_FIELD);
}

/* Chat and offer ids: a decimal string of 1..UINT64_MAX, one spelling each. */
static void test_staff_wire_ids(void **state)
{
	static const char *const bad[] = {
		"\"0\"", "\"01\"", "\"00\"", "\"-1\"", "\"+1\"", "\" 1\"", "\"1 \"",
		"\"1.0\"", "\"1e3\"", "\"0x10\"", "\"\"", "\"a\"", "\"12a\"",
		"\"18446744073709551616\"", "\"99999999999999999999\"",
		"\"000000000000000000001\"", "\"\xd9\xa1\"",
		"1", "1.0", "null", "true", "[\"1\"]", "{}",
	};
	char json[160];
	struct proto_in in;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(json, sizeof json, "{\"type\":\"msg\",\"chat\":%s,\"text\":\"x\"}", bad[i]);
		EXPECT(S, json, BRUG_E_BAD_FIELD);
		snprintf(json, sizeof json, "{\"type\":\"accept\",\"offer\":%s}", bad[i]);
		EXPECT(S, json, BRUG_E_BAD_FIELD);
	}

	assert_int_equal(decode(S, "{\"type\":\"accept\",\"offer\":\"1\"}", &in), 0);
	assert_int_equal(in.offer, 1);
	proto_in_fini(&in);
	assert_int_equal(decode(S, "{\"type\":\"accept\",\"offer\":\"10\"}", &in), 0);
	assert_int_equal(in.offer, 10);
	proto_in_fini(&in);
	assert_int_equal(decode(S, "{\"type\":\"end\",\"chat\":\"18446744073709551615\"}", &in), 0);
	assert_true(in.chat == UINT64_MAX);
	proto_in_fini(&in);
	assert_int_equal(decode(S, "{\"type\":\"end\",\"chat\":\"18446744073709551610\"}", &in), 0);
	assert_true(in.chat == UINT64_MAX - 5);
	proto_in_fini(&in);
}

static void test_staff_msg_typing(void **state)
{
	struct proto_in in;

	assert_int_equal(decode(S, "{\"type\":\"msg\",\"chat\":\"3\",\"text\":\"hallo\"}", &in), 0);
	assert_int_equal(in.type, PROTO_MSG);
	assert_int_equal(in.chat, 3);
	assert_string_equal(in.text, "hallo");
	assert_int_equal(in.text_len, 5);
	proto_in_fini(&in);
	EXPECT(S, "{\"type\":\"msg\",\"text\":\"hallo\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"msg\",\"chat\":\"3\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"msg\",\"chat\":\"3\",\"text\":false}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"msg\",\"chat\":\"3\",\"text\":\"x\",\"alias\":\"y\"}", BRUG_E_BAD_FIELD);

	assert_int_equal(decode(S, "{\"type\":\"typing\",\"chat\":\"3\",\"on\":true}", &in), 0);
	assert_int_equal(in.type, PROTO_TYPING);
	assert_int_equal(in.chat, 3);
	assert_true(in.on);
	proto_in_fini(&in);
	EXPECT(S, "{\"type\":\"typing\",\"on\":true}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"typing\",\"chat\":\"3\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"typing\",\"chat\":\"3\",\"on\":0}", BRUG_E_BAD_FIELD);
}

static void test_staff_transfer_invite(void **state)
{
	struct proto_in in;

	assert_int_equal(decode(S, "{\"type\":\"transfer\",\"chat\":\"5\",\"to\":{\"role\":\"professional\"}}",
				&in), 0);
	assert_int_equal(in.type, PROTO_TRANSFER);
	assert_int_equal(in.chat, 5);
	assert_string_equal(in.to_role, "professional");
	assert_null(in.to_user);
	proto_in_fini(&in);

	assert_int_equal(decode(S, "{\"type\":\"invite\",\"chat\":\"6\",\"to\":{\"user\":\"Samira\"}}", &in), 0);
	assert_int_equal(in.type, PROTO_INVITE);
	assert_int_equal(in.chat, 6);
	assert_string_equal(in.to_user, "Samira");
	assert_null(in.to_role);
	proto_in_fini(&in);

	static const char *const bad_to[] = {
		"{\"user\":\"a\",\"role\":\"professional\"}",
		"{\"role\":\"professional\",\"user\":\"a\"}",
		"{}", "{\"alias\":\"a\"}", "{\"user\":1}", "{\"role\":null}",
		"{\"user\":\"a\",\"x\":1}", "\"professional\"", "[\"a\"]", "null",
	};
	char json[160];

	for (size_t i = 0; i < sizeof bad_to / sizeof bad_to[0]; i++) {
		snprintf(json, sizeof json, "{\"type\":\"transfer\",\"chat\":\"5\",\"to\":%s}", bad_to[i]);
		EXPECT(S, json, BRUG_E_BAD_FIELD);
		snprintf(json, sizeof json, "{\"type\":\"invite\",\"chat\":\"5\",\"to\":%s}", bad_to[i]);
		EXPECT(S, json, BRUG_E_BAD_FIELD);
	}
	EXPECT(S, "{\"type\":\"transfer\",\"to\":{\"user\":\"a\"}}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"transfer\",\"chat\":\"5\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"invite\",\"chat\":\"5\",\"to\":{\"user\":\"a\"},\"note\":\"x\"}",
	       BRUG_E_BAD_FIELD);
}

static void test_staff_end_logout(void **state)
{
	struct proto_in in;

	assert_int_equal(decode(S, "{\"type\":\"end\",\"chat\":\"9\"}", &in), 0);
	assert_int_equal(in.type, PROTO_END);
	assert_int_equal(in.chat, 9);
	assert_int_equal(in.n_tags, 0);
	proto_in_fini(&in);

	assert_int_equal(decode(S, "{\"type\":\"end\",\"chat\":\"9\",\"tags\":[]}", &in), 0);
	assert_int_equal(in.n_tags, 0);
	proto_in_fini(&in);

	assert_int_equal(decode(S, "{\"type\":\"end\",\"chat\":\"9\",\"tags\":[\"forced_marriage\",\"fgm\"]}",
				&in), 0);
	assert_int_equal(in.n_tags, 2);
	assert_string_equal(in.tags[0], "forced_marriage");
	assert_string_equal(in.tags[1], "fgm");
	assert_null(in.tags[2]);
	proto_in_fini(&in);

	/* Exactly PROTO_MAX_TAGS is fine, one more is not. */
	assert_int_equal(PROTO_MAX_TAGS, 8);
	assert_int_equal(decode(S, "{\"type\":\"end\",\"chat\":\"9\",\"tags\":"
				   "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]}", &in), 0);
	assert_int_equal(in.n_tags, 8);
	assert_string_equal(in.tags[7], "h");
	proto_in_fini(&in);
	EXPECT(S, "{\"type\":\"end\",\"chat\":\"9\",\"tags\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}",
	       BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"end\",\"chat\":\"9\",\"tags\":\"a\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"end\",\"chat\":\"9\",\"tags\":[\"a\",2]}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"end\",\"chat\":\"9\",\"tags\":[[\"a\"]]}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"end\",\"chat\":\"9\",\"tags\":null}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"end\"}", BRUG_E_BAD_FIELD);
	EXPECT(S, "{\"type\":\"end\",\"chat\":\"9\",\"quick_exit\":true}", BRUG_E_BAD_FIELD);

	assert_int_equal(decode(S, "{\"type\":\"logout\",\"id\":\"z\"}", &in), 0);
	assert_int_equal(in.type, PROTO_LOGOUT);
	assert_string_equal(in.id, "z");
	proto_in_fini(&in);
	EXPECT(S, "{\"type\":\"logout\",\"all\":true}", BRUG_E_BAD_FIELD);
}

static void test_type_names(void **state)
{
	assert_string_equal(proto_type_name(PROTO_HELLO), "hello");
	assert_string_equal(proto_type_name(PROTO_MSG), "msg");
	assert_string_equal(proto_type_name(PROTO_TYPING), "typing");
	assert_string_equal(proto_type_name(PROTO_END), "end");
	assert_string_equal(proto_type_name(PROTO_LOGIN), "login");
	assert_string_equal(proto_type_name(PROTO_STATUS), "status");
	assert_string_equal(proto_type_name(PROTO_ACCEPT), "accept");
	assert_string_equal(proto_type_name(PROTO_DECLINE), "decline");
	assert_string_equal(proto_type_name(PROTO_TRANSFER), "transfer");
	assert_string_equal(proto_type_name(PROTO_INVITE), "invite");
	assert_string_equal(proto_type_name(PROTO_LOGOUT), "logout");
	assert_string_equal(proto_type_name(PROTO__COUNT), "unknown");
}

/* proto_in_fini is safe on a zeroed struct, twice, and on NULL. */
static void test_fini_safe(void **state)
{
	struct proto_in in;

	memset(&in, 0, sizeof in);
	proto_in_fini(&in);
	proto_in_fini(&in);
	proto_in_fini(NULL);
	assert_int_equal(decode(V, "nope", &in), BRUG_E_BAD_JSON);
	proto_in_fini(&in);
	proto_in_fini(&in);
	assert_null(in.root);
}

/* ---- outbound frames ----------------------------------------------------- */

static const char *payload(const struct frame *f)
{
	return (const char *)f->data + FRAME_PRE;
}

static void assert_frame(struct frame *f, const char *want)
{
	assert_non_null(f);
	assert_int_equal(f->refs, 1);
	assert_int_equal(f->len, strlen(want));
	assert_memory_equal(payload(f), want, strlen(want));
}

static void test_frame_bytes(void **state)
{
	json_t *msg = json_pack("{s:s}", "type", "x");
	struct frame *f;

	f = proto_frame(msg, "7");
	assert_frame(f, "{\"type\":\"x\",\"id\":\"7\"}");
	frame_unref(f);

	/* The caller's object is left without the id. */
	assert_int_equal(json_object_size(msg), 1);
	assert_null(json_object_get(msg, "id"));
	assert_int_equal(msg->refcount, 1);

	f = proto_frame(msg, "");
	assert_frame(f, "{\"type\":\"x\"}");
	frame_unref(f);
	f = proto_frame(msg, NULL);
	assert_frame(f, "{\"type\":\"x\"}");
	frame_unref(f);
	json_decref(msg);

	/* Order of insertion is kept; UTF-8 is sent as is; JSON escapes. */
	msg = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:n}",
			"type", "msg", "from", "staff", "text", "\xd9\x85\xd8\xb1 \"q\"\n\\",
			"ts", (json_int_t)1700000000123, "seq", (json_int_t)4,
			"on", 1, "wait_s");
	f = proto_frame(msg, "a\"b");
	assert_frame(f, "{\"type\":\"msg\",\"from\":\"staff\",\"text\":\"\xd9\x85\xd8\xb1 \\\"q\\\"\\n\\\\\","
			"\"ts\":1700000000123,\"seq\":4,\"on\":true,\"wait_s\":null,\"id\":\"a\\\"b\"}");
	frame_unref(f);
	json_decref(msg);

	/* A nested object serializes compactly too. */
	msg = json_pack("{s:s, s:s, s:{s:s, s:s}}", "type", "joined", "chat", "12",
			"staff", "alias", "Samira", "role", "volunteer");
	f = proto_frame(msg, NULL);
	assert_frame(f, "{\"type\":\"joined\",\"chat\":\"12\",\"staff\":{\"alias\":\"Samira\",\"role\":\"volunteer\"}}");
	frame_unref(f);
	json_decref(msg);

	/* Only objects are frames. */
	msg = json_array();
	assert_null(proto_frame(msg, NULL));
	json_decref(msg);
	assert_null(proto_frame(NULL, "1"));
}

/* A message that already had an id gets the caller's, in the same place. */
static void test_frame_id_replaces(void **state)
{
	json_t *msg = json_pack("{s:s, s:s, s:i}", "type", "x", "id", "old", "n", 1);
	struct frame *f = proto_frame(msg, "new");

	assert_frame(f, "{\"type\":\"x\",\"id\":\"new\",\"n\":1}");
	frame_unref(f);
	assert_string_equal(json_string_value(json_object_get(msg, "id")), "old");
	json_decref(msg);
}

static void test_frame_take(void **state)
{
	json_t *msg = json_pack("{s:s}", "type", "y");
	struct frame *f;

	json_incref(msg);
	f = proto_frame_take(msg, "1");
	assert_frame(f, "{\"type\":\"y\",\"id\":\"1\"}");
	assert_int_equal(msg->refcount, 1);
	frame_unref(f);
	json_decref(msg);
	assert_null(proto_frame_take(NULL, NULL));
}

static void test_frame_refcount(void **state)
{
	json_t *msg = json_pack("{s:s}", "type", "x");
	struct frame *f = proto_frame_take(msg, NULL);

	assert_non_null(f);
	assert_ptr_equal(frame_ref(f), f);
	assert_int_equal(f->refs, 2);
	assert_ptr_equal(frame_ref(f), f);
	assert_int_equal(f->refs, 3);
	frame_unref(f);
	assert_int_equal(f->refs, 2);
	frame_unref(f);
	assert_int_equal(f->refs, 1);
	/* Still readable with one reference left; the sanitizer build reports
	 * a use after free here if an earlier unref freed too soon, and a leak
	 * if this last one does not free. */
	assert_memory_equal(payload(f), "{\"type\":\"x\"}", f->len);
	frame_unref(f);
	frame_unref(NULL);
	assert_null(frame_ref(NULL));
}

static void test_error_frame(void **state)
{
	struct frame *f;

	f = proto_error_frame(BRUG_E_BAD_FIELD, "Dit veld klopt niet.", "r9");
	assert_frame(f, "{\"type\":\"error\",\"code\":\"bad_field\",\"message\":\"Dit veld klopt niet.\",\"id\":\"r9\"}");
	frame_unref(f);

	f = proto_error_frame(BRUG_E_CONFLICT, "\xd9\x84\xd8\xa7", "");
	assert_frame(f, "{\"type\":\"error\",\"code\":\"conflict\",\"message\":\"\xd9\x84\xd8\xa7\"}");
	frame_unref(f);

	f = proto_error_frame(BRUG_E_FORBIDDEN, NULL, NULL);
	assert_frame(f, "{\"type\":\"error\",\"code\":\"forbidden\",\"message\":\"\"}");
	frame_unref(f);

	f = proto_error_frame(9999, "x", NULL);
	assert_frame(f, "{\"type\":\"error\",\"code\":\"internal\",\"message\":\"x\"}");
	frame_unref(f);
}

/* The id a refusal carries goes into its error frame unchanged. */
static void test_error_frame_echoes_decoded_id(void **state)
{
	struct proto_in in;
	struct frame *f;
	int rc = decode(V, "{\"type\":\"login\",\"id\":\"q-1\"}", &in);

	assert_int_equal(rc, BRUG_E_FORBIDDEN);
	f = proto_error_frame(rc, "no", in.id);
	assert_frame(f, "{\"type\":\"error\",\"code\":\"forbidden\",\"message\":\"no\",\"id\":\"q-1\"}");
	frame_unref(f);
	proto_in_fini(&in);
}

static void test_id_str(void **state)
{
	char buf[21];
	struct proto_in in;
	char json[80];

	proto_id_str(1, buf);
	assert_string_equal(buf, "1");
	proto_id_str(0, buf);
	assert_string_equal(buf, "0");
	proto_id_str(1234567890, buf);
	assert_string_equal(buf, "1234567890");
	proto_id_str(UINT64_MAX, buf);
	assert_string_equal(buf, "18446744073709551615");

	/* What we send, clients can send back. */
	snprintf(json, sizeof json, "{\"type\":\"accept\",\"offer\":\"%s\"}", buf);
	assert_int_equal(decode(S, json, &in), 0);
	assert_true(in.offer == UINT64_MAX);
	proto_in_fini(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_other_socket_forbidden),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_id_echoed_on_error),
		cmocka_unit_test(test_visitor_hello),
		cmocka_unit_test(test_visitor_msg),
		cmocka_unit_test(test_visitor_typing_end),
		cmocka_unit_test(test_staff_login),
		cmocka_unit_test(test_staff_status_offer),
		cmocka_unit_test(test_staff_wire_ids),
		cmocka_unit_test(test_staff_msg_typing),
		cmocka_unit_test(test_staff_transfer_invite),
		cmocka_unit_test(test_staff_end_logout),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_fini_safe),
		cmocka_unit_test(test_frame_bytes),
		cmocka_unit_test(test_frame_id_replaces),
		cmocka_unit_test(test_frame_take),
		cmocka_unit_test(test_frame_refcount),
		cmocka_unit_test(test_error_frame),
		cmocka_unit_test(test_error_frame_echoes_decoded_id),
		cmocka_unit_test(test_id_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
