/* The small JSON documents the web pages fetch over HTTPS: the labels of a
 * language (GET /i18n/LANG.json) and the public settings the widget needs
 * (GET /api/config.json). Built once at start; no sockets here. */
#ifndef BRUG_API_H
#define BRUG_API_H

#include <stddef.h>

struct config;
struct i18n;
struct api;

/* Build every document from cfg and t (both borrowed; they must outlive
 * the api). NULL on no memory or if a language's labels are missing. */
struct api *api_new(const struct config *cfg, const struct i18n *t);
/* Accepts NULL. */
void api_free(struct api *a);

/* Answer a GET of path (the whole URL path, without query). Returns the
 * HTTP status (200 or 404) and points body, len and content_type at storage
 * owned by a (valid until api_free). */
int api_get(const struct api *a, const char *path, const char **body, size_t *len,
	    const char **content_type);

#endif
