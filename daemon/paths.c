/* Default locations of the shipped files, decided once from where the
 * running binary is (paths.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "brug-build.h"
#include "paths.h"

static struct {
	bool done;
	bool in_tree;
	char data_dir[PATH_MAX];   /* installed: .../share/brug */
	char web_root[PATH_MAX + 16];
	char locales[PATH_MAX + 16];
} p;

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * In the tree: the binary lies under the build directory meson configured.
 * Installed: the data directory is found relative to the binary first
 * (BRUG_DATA_FROM_SBIN, e.g. ../share/brug next to sbin/brugd), so that a
 * tree installed with `meson install --destdir` runs where it lies; then
 * the configured absolute BRUG_DATADIR.
 */
static void decide(void)
{
	char exe[PATH_MAX], build[PATH_MAX], cand[PATH_MAX + 64], *slash;
	ssize_t n;
	size_t blen;

	if (p.done)
		return;
	p.done = true;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (n > 0 && realpath(BRUG_BUILD_ROOT, build) != NULL) {
		blen = strlen(build);
		p.in_tree = strncmp(exe, build, blen) == 0 && exe[blen] == '/';
	}
	if (p.in_tree) {
		snprintf(p.web_root, sizeof p.web_root, "%s/web-client", BRUG_SOURCE_DIR);
		snprintf(p.locales, sizeof p.locales, "%s", BRUG_LOCALES_BUILD_DIR);
		return;
	}
	snprintf(p.data_dir, sizeof p.data_dir, "%s", BRUG_DATADIR);
	slash = n > 0 ? strrchr(exe, '/') : NULL;
	if (slash != NULL && BRUG_DATA_FROM_SBIN[0] != '\0') {
		*slash = '\0';
		snprintf(cand, sizeof cand, "%s/%s", exe, BRUG_DATA_FROM_SBIN);
		if (is_dir(cand) && realpath(cand, build) != NULL)
			snprintf(p.data_dir, sizeof p.data_dir, "%s", build);
	}
	snprintf(p.web_root, sizeof p.web_root, "%s/web-client", p.data_dir);
	snprintf(p.locales, sizeof p.locales, "%s/locales", p.data_dir);
}

bool paths_in_tree(void)
{
	decide();
	return p.in_tree;
}

const char *paths_web_root(void)
{
	decide();
	return p.web_root;
}

const char *paths_locales_dir(void)
{
	decide();
	return p.locales;
}
