/* The libwebsockets edge: TLS context and vhost, static files with security
 * headers, the two WebSocket protocols, timers and signals. It turns lws
 * events into hub calls and carries out the hub's send and close requests. */
#ifndef BRUG_SERVER_H
#define BRUG_SERVER_H

struct config;
struct i18n;
struct staff;
struct roster;
struct stats;

/* Run the daemon until SIGINT or SIGTERM: bind (port_override >= 0 replaces
 * the config's port; 0 picks a free one and prints "listening on port N"
 * either way), serve, then shut down gracefully. On SIGHUP, re-read the
 * file at config_path (with state_dir_override, as at start) and the
 * certificate, and apply them in place of *cfg (reload.h). Everything is
 * borrowed; roster and stats may be NULL. Returns the process exit status. */
int server_run(struct config *cfg, const char *config_path, const char *state_dir_override, struct i18n *t,
	       struct staff *st, struct roster *roster, struct stats *stats, int port_override);

#endif
