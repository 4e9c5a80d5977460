/* Static JSON documents for the web pages: per-language labels from the
 * bundles and the widget's public settings from the config. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "config.h"
#include "i18n.h"

#define JSON_TYPE "application/json; charset=utf-8"

struct doc {
	char path[48];
	const char *body;
	bool owned;   /* body is ours to free (else borrowed from i18n) */
	size_t len;
};

struct api {
	struct doc docs[CONFIG_MAX_LANGS + 1];
	unsigned n_docs;
};

static const char not_found[] = "{\"error\":\"not_found\"}";

/* The public settings: nothing here is secret or personal. */
static char *config_json(const struct config *cfg)
{
	json_t *langs = json_array(), *topics = json_array(), *doc;
	char *out;

	for (unsigned i = 0; i < cfg->n_langs; i++)
		json_array_append_new(langs, json_string(cfg->langs[i]));
	for (unsigned i = 0; i < cfg->n_topics; i++)
		json_array_append_new(topics, json_string(cfg->topics[i]));
	doc = json_pack("{s:o, s:s, s:o, s:s, s:i}", "languages", langs, "default_language", cfg->default_lang,
			"topics", topics, "neutral_url", cfg->neutral_url, "max_text", (json_int_t)cfg->max_text);
	if (doc == NULL)
		return NULL;
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return out;
}

static int add_doc(struct api *a, const char *path, const char *body, bool owned)
{
	struct doc *d;

	if (body == NULL)
		return -1;
	d = &a->docs[a->n_docs++];
	snprintf(d->path, sizeof d->path, "%s", path);
	d->body = body;
	d->owned = owned;
	d->len = strlen(body);
	return 0;
}

struct api *api_new(const struct config *cfg, const struct i18n *t)
{
	struct api *a = calloc(1, sizeof *a);
	char path[48];

	if (a == NULL)
		return NULL;
	if (add_doc(a, "/api/config.json", config_json(cfg), true) < 0)
		goto fail;
	for (unsigned i = 0; i < cfg->n_langs; i++) {
		snprintf(path, sizeof path, "/i18n/%s.json", cfg->langs[i]);
		/* The labels are built once by i18n and borrowed here. */
		if (add_doc(a, path, i18n_client_json(t, (int)i), false) < 0)
			goto fail;
	}
	return a;
fail:
	api_free(a);
	return NULL;
}

void api_free(struct api *a)
{
	if (a == NULL)
		return;
	for (unsigned i = 0; i < a->n_docs; i++)
		if (a->docs[i].owned)
			free((char *)a->docs[i].body);
	free(a);
}

int api_get(const struct api *a, const char *path, const char **body, size_t *len, const char **content_type)
{
	*content_type = JSON_TYPE;
	for (unsigned i = 0; a != NULL && i < a->n_docs; i++) {
		if (strcmp(a->docs[i].path, path) == 0) {
			*body = a->docs[i].body;
			*len = a->docs[i].len;
			return 200;
		}
	}
	*body = not_found;
	*len = sizeof not_found - 1;
	return 404;
}
