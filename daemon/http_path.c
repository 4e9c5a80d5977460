/* The request path check of the static server (http_path.h). libwebsockets
 * decodes and collapses the path itself; this refuses, again and strictly,
 * whatever could reach outside web_root or mean two things to two layers. */
#include <stdint.h>

#include "http_path.h"

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A byte no path may hold, raw or escaped. */
static bool control_byte(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * Strict UTF-8 decoding state (RFC 3629 section 4): need is how many
 * continuation bytes are still due, lo..hi the range the next one must be
 * in, which excludes overlong forms, surrogates and values past U+10FFFF.
 */
struct utf8 {
	unsigned need;
	unsigned char lo, hi;
	unsigned char first;   /* the lead byte, to refuse C1 controls */
};

static bool utf8_step(struct utf8 *u, unsigned char c)
{
	if (u->need > 0) {
		if (c < u->lo || c > u->hi)
			return false;
		/* U+0080..U+009F, C2 80..C2 9F: the C1 controls. */
		if (u->first == 0xc2 && c <= 0x9f)
			return false;
		u->need--;
		u->lo = 0x80;
		u->hi = 0xbf;
		return true;
	}
	u->first = c;
	u->lo = 0x80;
	u->hi = 0xbf;
	if (c < 0x80)
		return true;
	if (c >= 0xc2 && c <= 0xdf) {
		u->need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		u->need = 2;
		if (c == 0xe0)
			u->lo = 0xa0;   /* overlong below U+0800 */
		else if (c == 0xed)
			u->hi = 0x9f;   /* surrogates U+D800..U+DFFF */
	} else if (c >= 0xf0 && c <= 0xf4) {
		u->need = 3;
		if (c == 0xf0)
			u->lo = 0x90;   /* overlong below U+10000 */
		else if (c == 0xf4)
			u->hi = 0x8f;   /* past U+10FFFF */
	} else {
		return false;       /* C0, C1 (overlong ASCII), F5..FF, stray continuation */
	}
	return true;
}

bool http_path_acceptable(const char *path, size_t len)
{
	const unsigned char *p = (const unsigned char *)path;
	struct utf8 u = { 0 };
	size_t seg_start = 1;   /* index where the current segment starts */
	size_t dots = 0;        /* the segment so far is this many dots only */
	bool only_dots = true;

	if (path == NULL || len == 0 || len > HTTP_PATH_MAX || p[0] != '/')
		return false;
	for (size_t i = 1; i <= len; i++) {
		unsigned char c;

		if (i == len || p[i] == '/') {
			/* End of a segment: "" (but the last), "." and ".." are refused. */
			if (i == seg_start && i != len)
				return false;
			if (only_dots && (dots == 1 || dots == 2))
				return false;
			seg_start = i + 1;
			dots = 0;
			only_dots = true;
			if (i == len)
				break;
			if (u.need > 0)
				return false;
			continue;
		}
		c = p[i];
		if (c == '%') {
			int hi, lo;

			if (len - i < 3 || (hi = hex_value(p[i + 1])) < 0 || (lo = hex_value(p[i + 2])) < 0)
				return false;
			c = (unsigned char)(hi << 4 | lo);
			/* Escaped separators, dots and percent signs are how a
			 * second decoding somewhere turns into a traversal. */
			if (c == '.' || c == '/' || c == '\\' || c == '%' || control_byte(c))
				return false;
			i += 2;
		} else if (c == '\\' || control_byte(c)) {
			return false;
		}
		if (c == '.')
			dots++;
		else
			only_dots = false;
		if (!utf8_step(&u, c))
			return false;
	}
	return u.need == 0;
}
