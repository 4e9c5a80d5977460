/* libFuzzer target for the config parser (config_load): any file either
 * loads into a whole, consistent config or is refused with one message that
 * starts with the file's path (and a line where there is one). The input is
 * written to a file in a private temporary directory, which is also the
 * directory relative paths resolve against. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[96];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

static void check_config(const struct config *c)
{
	if (c->hostname == NULL || c->web_root == NULL || c->state_dir == NULL || c->cert == NULL ||
	    c->key == NULL || c->default_lang == NULL || c->timezone == NULL || c->log_level == NULL)
		abort();
	if (c->web_root[0] != '/' || c->state_dir[0] != '/' || c->cert[0] != '/' || c->key[0] != '/')
		abort();   /* paths are absolute once loaded */
	if (c->n_langs < 1 || c->n_langs > CONFIG_MAX_LANGS || config_lang_index(c, c->default_lang) < 0)
		abort();
	if (c->n_topics > CONFIG_MAX_TOPICS || c->n_origins > CONFIG_MAX_ORIGINS ||
	    c->n_alternatives > CONFIG_MAX_ALTERNATIVES)
		abort();
	for (unsigned i = 0; i < c->n_langs; i++)
		if (c->langs[i] == NULL || c->langs[i][0] == '\0')
			abort();
	for (unsigned i = 0; i < c->n_topics; i++)
		if (c->topics[i] == NULL || config_topic_index(c, c->topics[i]) < 0)
			abort();
	if (c->idle_timeout_s <= c->ping_s || c->port < 0 || c->port > 65535)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[512];
	FILE *f;
	int rc;

	if (dir[0] == '\0') {
		/* A file per input: in memory (/dev/shm) when there is one. */
		const char *tmp = getenv("TMPDIR");
		if (tmp == NULL || *tmp == '\0' || strlen(tmp) >= 32)
			tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(dir, sizeof dir, "%s/brug-fuzz-config-XXXXXX", tmp);
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof path, "%s/brugd.conf", dir);
		atexit(remove_dir);
	}
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	memset(err, 'x', sizeof err);
	rc = config_load(&cfg, path, NULL, err, sizeof err);
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "%s\n", rc == 0 ? "loaded" : err);
	if (rc == 0) {
		check_config(&cfg);
		config_fini(&cfg);
		return 0;
	}
	/* One message, NUL-terminated, naming the file: "PATH: ..." or
	 * "PATH:LINE: ...". */
	if (rc != -1 || memchr(err, '\0', sizeof err) == NULL || strncmp(err, path, strlen(path)) != 0 ||
	    err[strlen(path)] != ':' || strlen(err) <= strlen(path) + 2)
		abort();
	config_fini(&cfg);   /* left empty: must be safe */
	return 0;
}
