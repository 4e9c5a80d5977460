/* libFuzzer target for the static server's path check (http_path.c): a
 * path it accepts, resolved against a web root the way a file server does
 * (escapes decoded, once or twice, "." and ".." applied), never leaves the
 * root and never holds a NUL, control byte or backslash. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode in (n bytes) into out; returns the length. */
static size_t decode(const unsigned char *in, size_t n, unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '%' && n - i >= 3 && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
			out[o++] = (unsigned char)(hex(in[i + 1]) << 4 | hex(in[i + 2]));
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

/* Walk the segments of a decoded path from the root: false if ".." ever
 * goes above it or a byte no file name under the root should hold shows up. */
static bool stays_inside(const unsigned char *p, size_t n)
{
	long depth = 0;
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && p[j] != '/')
			j++;
		if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
			if (--depth < 0)
				return false;
		} else if (!(j - i == 0 || (j - i == 1 && p[i] == '.'))) {
			depth++;
		}
		for (size_t k = i; k < j; k++)
			if (p[k] < 0x20 || p[k] == 0x7f || p[k] == '\\')
				return false;
		i = j + 1;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *once, *twice;
	size_t n1, n2;

	if (!http_path_acceptable((const char *)data, size))
		return 0;
	once = malloc(size + 1);
	twice = malloc(size + 1);
	if (once == NULL || twice == NULL)
		abort();
	n1 = decode(data, size, once);
	n2 = decode(once, n1, twice);
	/* A second decoding changes nothing: no escaped escape got through. */
	if (n1 != n2 || memcmp(once, twice, n1) != 0)
		abort();
	if (!stays_inside(data, size) || !stays_inside(once, n1))
		abort();
	/* No "." or ".." segment at all, even one that would stay inside. */
	for (size_t i = 0; i < n1; i++)
		if (once[i] == '/' && i + 1 < n1 && once[i + 1] == '.' &&
		    (i + 2 == n1 || once[i + 2] == '/' ||
		     (once[i + 2] == '.' && (i + 3 == n1 || once[i + 3] == '/'))))
			abort();
	free(once);
	free(twice);
	return 0;
}
