/* What the hub lends to the handlers in daemon/coord_*.c. Not for the
 * edge: server.c uses hub.h only. */
#ifndef BRUG_HUB_INTERNAL_H
#define BRUG_HUB_INTERNAL_H

#include <stdint.h>
#include <jansson.h>

struct config;
struct i18n;
struct staff;
struct router;
struct roster;
struct stats;
struct hub;
struct hub_conn;

/* The daemon's services, borrowed; roster and stats may be NULL in tests
 * that do not need them. */
struct hub_services {
	const struct config *cfg;
	struct i18n *i18n;
	struct staff *staff;
	struct router *router;
	struct roster *roster;
	struct stats *stats;
};

const struct hub_services *hub_services(const struct hub_conn *c);
struct hub *hub_of(const struct hub_conn *c);
/* The logged-in account of c: id and username (borrowed). */
int64_t hub_conn_staff_id(const struct hub_conn *c);
const char *hub_conn_username(const struct hub_conn *c);
/* Send msg (takes ownership) to c, carrying the request id if not empty. */
void hub_reply(struct hub_conn *c, json_t *msg, const char *id);
/* Send msg (takes ownership) to every logged-in console holding one of
 * roles (0: all). */
void hub_broadcast(struct hub *h, json_t *msg, uint32_t roles);
/* Close every console of username (its sessions ended) with 4002. */
void hub_end_sessions_of(struct hub *h, const char *username);
/* username's account changed (roles, languages, topics, chats at once):
 * its open consoles take the change at once (staff_apply_account). */
void hub_staff_changed(struct hub *h, const char *username);
/* The roster changed: opening times, the dashboard and the widget's
 * availability are refreshed. */
void hub_roster_changed(struct hub *h);

#endif
