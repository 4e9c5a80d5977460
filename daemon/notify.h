/* Telling systemd how brugd is doing (Type=notify): READY=1 once it serves,
 * RELOADING=1 while it re-reads its config, STOPPING=1 on the way out. */
#ifndef BRUG_NOTIFY_H
#define BRUG_NOTIFY_H

/* Send state (e.g. "READY=1\nSTATUS=serving port 443") to the socket in
 * $NOTIFY_SOCKET; does nothing without one (not under systemd). Returns 0,
 * or -errno if the socket is there but sending failed. state is borrowed. */
int notify_send(const char *state);

#endif
