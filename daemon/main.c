/* brugd: arguments, configuration, set-up, the server loop, shut-down.
 * Everything else lives in brug-core. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "brug-build.h"
#include "cli.h"
#include "config.h"
#include "i18n.h"
#include "paths.h"
#include "server.h"
#include "shifts.h"
#include "stats.h"
#include "staff.h"
#include "store.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: brugd -f CONFIG [--state-dir DIR] [--port N]      run the daemon\n"
		"       brugd -f CONFIG [--state-dir DIR] -n              check the config and exit\n"
		"       brugd -f CONFIG [--state-dir DIR] staff add USER --alias NAME --roles R[,R] --langs L[,L]\n"
		"                                          [--topics T[,T]] [--max-chats N]   (password on stdin)\n"
		"       brugd -f CONFIG [--state-dir DIR] staff list | disable USER | passwd USER\n");
}

/* Promise 2: visitor data in memory must never end up in a core dump. */
static int no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "brugd: cannot disable core dumps: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int ensure_state_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "brugd: cannot create state dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "brugd: state dir %s is not a directory\n", dir);
		return -1;
	}
	return 0;
}

/* The compiled bundles: the config's locales_dir, else those of the build
 * tree this binary runs in, else the installed ones (paths.h). */
static const char *locales_dir(const struct config *cfg)
{
	return cfg->locales_dir != NULL ? cfg->locales_dir : paths_locales_dir();
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *config_path = NULL, *state_dir = NULL;
	struct config cfg = { 0 };
	struct i18n *texts = NULL;
	struct staff *staff = NULL;
	struct roster *roster = NULL;
	struct stats *stats = NULL;
	char err[512], db_path[4096];
	int port = -1, check_only = 0, opt, status = 1;

	/* "+" stops at the first non-option, so "staff add --alias" reaches the CLI. */
	while ((opt = getopt_long(argc, argv, "+f:np:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': config_path = optarg; break;
		case 's': state_dir = optarg; break;
		case 'n': check_only = 1; break;
		case 'p': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 0 || v > 65535) {
				fprintf(stderr, "brugd: --port: expected 0..65535, got '%s'\n", optarg);
				return 2;
			}
			port = (int)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (config_path == NULL) {
		fprintf(stderr, "brugd: -f CONFIG is required\n");
		usage(stderr);
		return 2;
	}
	if (no_core_dumps() < 0 || sodium_init() < 0)
		return 1;
	if (config_load(&cfg, config_path, state_dir, err, sizeof err) != 0) {
		fprintf(stderr, "brugd: %s\n", err);
		return 1;
	}
	log_set_level(log_level_of(cfg.log_level));
	if (cfg.cluster && !BRUG_HAVE_NATS) {
		fprintf(stderr, "brugd: %s: this brugd was built without NATS (libnats-dev), so it cannot "
			"run the [cluster] section; install it (scripts/setup.sh) and rebuild\n", config_path);
		goto out;
	}
	texts = i18n_new(locales_dir(&cfg), (const char *const *)cfg.langs, cfg.n_langs, cfg.default_lang,
			 err, sizeof err);
	if (texts == NULL) {
		fprintf(stderr, "brugd: %s\n", err);
		goto out;
	}
	if (!i18n_timezone_valid(cfg.timezone)) {
		fprintf(stderr, "brugd: %s: [chat] timezone = %s is not a time zone ICU knows\n", config_path,
			cfg.timezone);
		goto out;
	}
	if (check_only) {
		printf("brugd: %s: configuration ok\n", config_path);
		status = 0;
		goto out;
	}
	if (optind < argc && strcmp(argv[optind], "staff") == 0) {
		status = cli_staff(&cfg, argc - optind, argv + optind);
		goto out;
	}
	if (optind < argc) {
		fprintf(stderr, "brugd: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		status = 2;
		goto out;
	}
	if (ensure_state_dir(cfg.state_dir) < 0)
		goto out;
	if (access(cfg.cert, R_OK) != 0 || access(cfg.key, R_OK) != 0) {
		fprintf(stderr, "brugd: certificate %s or key %s is not readable; for a local run create "
			"them with config/dev-cert.sh %s\n", cfg.cert, cfg.key, cfg.state_dir);
		goto out;
	}
	snprintf(db_path, sizeof db_path, "%s/brug.db", cfg.state_dir);
	/* Every connection below is used on the event loop: none may wait for
	 * a lock the CLI or anybody else holds (issue 12). */
	store_set_wait_ms(0);
	staff = staff_open(db_path, &(struct staff_limits){
		.session_idle_ms = (int64_t)cfg.session_idle_s * 1000,
		.session_max_ms = (int64_t)cfg.session_max_s * 1000,
		.audit_retention_ms = (int64_t)cfg.audit_retention_days * STAFF_DAY_MS,
	});
	if (staff == NULL) {
		fprintf(stderr, "brugd: cannot open the staff database %s\n", db_path);
		goto out;
	}
	/* Old audit entries go at start, then daily from the hub's tick. */
	staff_audit_maintain(staff, (int64_t)time(NULL) * 1000);
	roster = roster_open(db_path, cfg.timezone);
	stats = stats_open(db_path, cfg.timezone, cfg.stats_threshold);
	if (roster == NULL || stats == NULL) {
		fprintf(stderr, "brugd: cannot open the roster or the statistics in %s\n", db_path);
		goto out;
	}
	log_notice("web pages from %s, bundles from %s", cfg.web_root, locales_dir(&cfg));
	status = server_run(&cfg, config_path, state_dir, texts, staff, roster, stats, port);
out:
	stats_free(stats);
	roster_close(roster);
	staff_close(staff);
	i18n_free(texts);
	config_fini(&cfg);
	return status;
}
