/* The sd_notify datagram protocol (systemd's sd_notify(3) and its
 * "Notification socket" description), written out here instead of linking
 * libsystemd for one sendmsg: a path or an abstract socket name in
 * $NOTIFY_SOCKET, one datagram of KEY=VALUE lines. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

int notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	socklen_t sa_len;
	ssize_t n;
	int fd, rc = 0;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	len = strlen(path);
	if (len >= sizeof sa.sun_path)
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	/* "@name": the abstract namespace, a leading NUL and no terminator. */
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sa, sa_len);
	if (n < 0)
		rc = -errno;
	close(fd);
	return rc;
}
