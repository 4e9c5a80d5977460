#!/usr/bin/env bash
# Installs what building and running Brug needs on Debian 12, with --fuzz
# also clang and its libFuzzer runtime (tests/fuzz), with --tests what the
# whole test suite needs, the fuzz packages included, and with --bench
# (implies --tests) what tests/bench/compare.sh uses for profiles. Run as
# root. Installs only what is missing, so a second run does nothing and
# takes well under a second.
#
# usage: scripts/setup.sh [--tests] [--fuzz] [--bench]
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	echo "usage: $0 [--tests] [--fuzz] [--bench]"
}

tests=0
fuzz=0
bench=0
for arg in "$@"; do
	case $arg in
	--tests) tests=1; fuzz=1 ;;
	--fuzz) fuzz=1 ;;
	--bench) tests=1; fuzz=1; bench=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

packages=(
	build-essential meson ninja-build pkg-config
	libwebsockets-dev libwebsockets-evlib-ev libssl-dev openssl
	libicu-dev icu-devtools libjansson-dev libsqlite3-dev sqlite3
	libsodium-dev libinih-dev libcmocka-dev libqrencode-dev libical-dev
	# Several nodes as one helpline (docs/cluster.md): the NATS server and C client.
	nats-server libnats-dev
)
if ((bench)); then
	# callgrind counts instructions; perf samples where the time goes.
	packages+=(valgrind linux-perf)
fi
if ((tests)); then
	# systemd: systemd-analyze checks the installed unit (17-install);
	# testssl.sh and sslscan scan brugd's TLS (18-tls-scan).
	packages+=(chromium fonts-noto-core fonts-sil-abyssinica valgrind systemd testssl.sh sslscan)
	# A nodejs package from NodeSource carries its own npm and conflicts
	# with Debian's npm package, so working commands are enough here.
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		packages+=(nodejs npm)
	fi
fi
if ((fuzz)); then
	# libFuzzer and the sanitizer runtimes for clang; llvm for symbolized
	# stack traces of a crash.
	packages+=(clang libclang-rt-14-dev llvm)
fi

# One dpkg-query for all of them keeps the common case fast.
declare -A installed=()
while read -r name status; do
	if [[ $status == installed ]]; then
		installed[$name]=1
	fi
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null || true)

missing=()
for p in "${packages[@]}"; do
	[[ -n ${installed[$p]:-} ]] || missing+=("$p")
done

if ((${#missing[@]})); then
	if ((EUID != 0)); then
		echo "setup: missing Debian packages: ${missing[*]}" >&2
		echo "setup: run this script as root to install them: sudo bash $0 $*" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Wait for another apt or dpkg run instead of failing at once.
	apt_opts=(-q -o DPkg::Lock::Timeout=600)
	apt-get "${apt_opts[@]}" update
	apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
	# Debian starts nats-server at once, without TLS or passwords; the tests
	# start their own, and a cluster node needs the set-up in
	# docs/operations.md, so the default service is switched off.
	if [[ " ${missing[*]} " == *" nats-server "* ]] && command -v systemctl >/dev/null &&
		[[ -d /run/systemd/system ]]; then
		systemctl disable --now nats-server.service >/dev/null 2>&1 || true
	fi
fi

# The test-only npm packages (package.json); npm ci rewrites
# node_modules/.package-lock.json, so its age tells whether they are current.
if ((tests)) && [[ -f $repo/package-lock.json ]]; then
	if [[ ! -f $repo/node_modules/.package-lock.json ||
		$repo/package-lock.json -nt $repo/node_modules/.package-lock.json ]]; then
		echo "setup: installing the test-only npm packages"
		(cd -- "$repo" && npm ci --no-audit --no-fund)
	fi
fi
