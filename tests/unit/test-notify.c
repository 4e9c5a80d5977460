/* Unit tests for daemon/notify.c: the sd_notify datagram reaches a socket
 * named by a path or in the abstract namespace, and nothing happens
 * without $NOTIFY_SOCKET. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../daemon/notify.h"

/* A datagram socket bound to name ("@x": abstract); returns the fd. */
static int listener(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_true(len < sizeof sa.sun_path);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'))), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_path_socket(void **state)
{
	char dir[] = "/tmp/brug-test-notify-XXXXXX", path[64];
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/notify", dir);
	fd = listener(path);
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
	assert_int_equal(notify_send("READY=1\nSTATUS=serving port 1"), 0);
	expect_datagram(fd, "READY=1\nSTATUS=serving port 1");
	close(fd);
	unlink(path);
	rmdir(dir);
	/* The socket is gone: an error, not a crash. */
	assert_true(notify_send("STOPPING=1") < 0);
}

static void test_abstract_socket(void **state)
{
	char name[64];
	int fd;

	snprintf(name, sizeof name, "@brug-test-notify-%d", (int)getpid());
	fd = listener(name);
	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
	assert_int_equal(notify_send("RELOADING=1"), 0);
	expect_datagram(fd, "RELOADING=1");
	close(fd);
}

static void test_not_under_systemd(void **state)
{
	assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
	assert_int_equal(notify_send("READY=1"), 0);
	/* Neither a path nor an abstract name: ignored. */
	assert_int_equal(setenv("NOTIFY_SOCKET", "relative", 1), 0);
	assert_int_equal(notify_send("READY=1"), 0);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_not_under_systemd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
