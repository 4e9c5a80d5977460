/* Reloading the configuration on SIGHUP without ending a chat: the new file
 * is read and checked as `brugd -n` does, keys that only a restart can
 * change keep their running values (named in the log), and the result is
 * put in place of the running config at a point where nothing is using it. */
#ifndef BRUG_RELOAD_H
#define BRUG_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/* Read and check path as `brugd -f path -n` does (config_load with the same
 * state_dir_override, the bundles of every language, the time zone). On
 * success returns 0 with *next filled: free it with config_fini, or
 * reload_merge and reload_commit it. On failure returns -1, puts the
 * reason (file, line and key where there is one) into err (err_len bytes)
 * and leaves *next empty. */
int reload_load(struct config *next, const char *path, const char *state_dir_override, char *err,
		size_t err_len);

/* For every key that only a restart can change (port, bind, state_dir,
 * hostname, web_root, the languages, ...): log it if it differs between
 * next and cur, and swap the two values whether or not, so next carries
 * the running one and every pointer into those strings of cur stays
 * valid after reload_commit.
 * Logs every other key that differs, as applied. Returns how many keys
 * will change. Both borrowed; once called, reload_commit must follow (cur
 * now holds some of next's strings). */
unsigned reload_merge(struct config *next, struct config *cur);

/* Put next's values into *cur (whose address the hub, the router's owner
 * and the edge keep) and free cur's old ones; next is left empty. Call
 * from the event loop between callbacks, then tell each holder to take
 * up the values it copied (hub_config_changed, the edge's timers). */
void reload_commit(struct config *cur, struct config *next);

/* How many keys the table knows; equals config_n_keys() (test-reload). */
unsigned reload_n_keys(void);
/* Whether the key "[section] name" needs a restart to change (for tests
 * and docs); false for unknown keys. */
bool reload_needs_restart(const char *section, const char *name);

#endif
