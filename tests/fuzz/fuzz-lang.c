/* libFuzzer target for language negotiation (i18n_negotiate): whatever
 * hello.lang and Accept-Language hold, the answer is one of the configured
 * languages, and an exactly configured hello.lang always wins. Input: a
 * flags byte (bit 0: no hello.lang, bit 1: no header, bit 2: the second
 * language set), then hello.lang up to the first newline, then the header. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brug-build.h"
#include "i18n.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const set_a[] = { "nl", "ar", "ti", "tr", "en" };
static const char *const set_b[] = { "en", "ar-MA", "nl-BE" };

static struct i18n *open_set(const char *const *langs, unsigned n, const char *def)
{
	const char *dir = getenv("BRUG_LOCALES_DIR");
	char err[256];
	struct i18n *t = i18n_new(dir != NULL && *dir != '\0' ? dir : BRUG_LOCALES_BUILD_DIR, langs, n,
				  def, err, sizeof err);

	if (t == NULL) {
		fprintf(stderr, "fuzz-lang: %s\n", err);
		abort();
	}
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct i18n *a, *b;
	const char *nl;
	char *requested, *header;
	struct i18n *t;
	unsigned n;
	int i;

	if (a == NULL) {
		a = open_set(set_a, 5, "nl");
		b = open_set(set_b, 3, "ar-MA");
	}
	if (size == 0)
		return 0;
	t = data[0] & 4 ? b : a;
	n = data[0] & 4 ? 3 : 5;
	nl = memchr(data + 1, '\n', size - 1);
	if (nl == NULL)
		nl = (const char *)data + size;
	requested = strndup((const char *)data + 1, (size_t)(nl - (const char *)data - 1));
	header = nl < (const char *)data + size ? strndup(nl + 1, (size_t)((const char *)data + size - nl - 1))
						 : strdup("");
	if (requested == NULL || header == NULL)
		abort();
	i = i18n_negotiate(t, data[0] & 1 ? NULL : requested, data[0] & 2 ? NULL : header);
	if (i < 0 || (unsigned)i >= n || i18n_lang_code(t, i) == NULL)
		abort();
	/* A configured code asked for by name is the one given. */
	if (!(data[0] & 1) && i18n_lang_index(t, requested) >= 0 && i18n_lang_index(t, requested) != i)
		abort();
	free(requested);
	free(header);
	return 0;
}
