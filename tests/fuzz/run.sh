#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/fuzz-*.c) for a bounded time, one
# after the other, from a scratch copy of its corpus, so a run never writes
# into the repository. A crash, leak or sanitizer report is kept in the
# artifact directory and makes the exit status non-zero. Builds build-fuzz/
# (clang, -Dfuzz=true, ASan + UBSan) first if needed.
#
# usage: tests/fuzz/run.sh [SECONDS] [TARGET...]   (default 60 s, all targets)
# env:   BRUG_FUZZ_BUILD    build directory (default build-fuzz)
#        BRUG_FUZZ_ARTIFACTS where crashers go (default BUILD/fuzz-artifacts)
set -uo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
cd -- "$repo" || exit 1

seconds=${1:-60}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
	echo "usage: $0 [SECONDS] [TARGET...]" >&2
	exit 2
fi
build=${BRUG_FUZZ_BUILD:-build-fuzz}
[[ $build == /* ]] || build=$repo/$build
artifacts=${BRUG_FUZZ_ARTIFACTS:-$build/fuzz-artifacts}

if ! command -v clang >/dev/null; then
	echo "fuzz: clang is missing; run scripts/setup.sh --fuzz as root" >&2
	exit 1
fi

# Configure once; ninja rebuilds whatever changed since.
if [[ ! -f $build/build.ninja ]]; then
	CC=clang meson setup "$build" -Dwerror=true -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbrowser_tests=false >/dev/null ||
		{ echo "fuzz: configuring $build failed" >&2; exit 1; }
fi
ninja -C "$build" >/dev/null || { echo "fuzz: building $build failed" >&2; exit 1; }

targets=("$@")
if ((${#targets[@]} == 0)); then
	for src in tests/fuzz/fuzz-*.c; do
		name=${src#tests/fuzz/fuzz-}
		targets+=("${name%.c}")
	done
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/brug-fuzz-XXXXXX") || exit 1
trap 'rm -rf -- "$scratch"' EXIT
mkdir -p -- "$artifacts"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [[ -z ${LSAN_OPTIONS:-} && -f $repo/tests/lsan.supp ]]; then
	export LSAN_OPTIONS=suppressions=$repo/tests/lsan.supp:print_suppressions=0
fi

failed=0
printf '%-12s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
	bin=$build/tests/fuzz/fuzz-$t
	if [[ ! -x $bin ]]; then
		echo "fuzz: no target $bin" >&2
		failed=$((failed + 1))
		continue
	fi
	corpus=$scratch/$t
	mkdir -p -- "$corpus" "$artifacts/$t"
	if [[ -d tests/fuzz/corpus/$t ]]; then
		cp -- tests/fuzz/corpus/"$t"/* "$corpus"/
	fi
	log=$artifacts/$t/last-run.log
	# Only what this run finds counts; older artifacts stay for reading.
	touch -- "$scratch/.start"
	# -rss_limit_mb: the sanitizers need room; -timeout: one input that
	# takes this long is a hang worth keeping.
	(cd -- "$scratch" && "$bin" -max_total_time="$seconds" -jobs=1 -workers=1 \
		-timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts/$t/" "$corpus") >"$log" 2>&1
	rc=$?
	# -jobs=1 writes the run to fuzz-0.log in the working directory.
	if [[ -f $scratch/fuzz-0.log ]]; then
		cat -- "$scratch/fuzz-0.log" >>"$log"
		rm -f -- "$scratch/fuzz-0.log"
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	size=$(find "$corpus" -type f | wc -l)
	result=ok
	found=$(find "$artifacts/$t" -type f -newer "$scratch/.start" \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	if ((rc != 0 || found > 0)); then
		result="FAILED (exit $rc; see $log and $artifacts/$t/)"
		failed=$((failed + 1))
	fi
	printf '%-12s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$size" "$result"
done

if ((failed)); then
	echo "fuzz: $failed target(s) failed; keep each crasher in tests/fuzz/corpus/<target>/ once fixed" >&2
	exit 1
fi
