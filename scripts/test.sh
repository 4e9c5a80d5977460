#!/usr/bin/env bash
# Runs the whole test suite: every suite in a normal build (build/), and
# again under AddressSanitizer and UBSan (build-asan/), both with warnings as errors. Goes on after a failure so that both builds
# report; then every fuzz target for 60 s (tests/fuzz/run.sh, build-fuzz/),
# which counts as one failure if any target crashes. The last line is
# "N passed, N failed" (", N skipped" if any), and the exit status is
# non-zero if anything failed. BRUG_FUZZ_SECONDS changes the 60 s.
#
# usage: scripts/test.sh        (from any directory; installs what is missing)
set -uo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$repo" || exit 1

# Steps that fail before any test can run (set-up, configuring, building)
# count as failures in the summary, so it never reads "0 failed" for them.
step_failures=0

step_failed() {
	echo "test: $*" >&2
	step_failures=$((step_failures + 1))
}

# Configure (or reconfigure) build dir $1 with the options that follow,
# then build it. A directory left by another meson version is wiped.
configure_and_build() {
	local dir=$1
	shift
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null ||
			meson setup --wipe "$dir" "$@" >/dev/null || return 1
	else
		meson setup "$dir" "$@" >/dev/null || return 1
	fi
	ninja -C "$dir"
}

if ! bash "$repo/scripts/setup.sh" --tests; then
	step_failed "scripts/setup.sh --tests failed"
fi

builds=(build build-asan)
# Results of an earlier run must not be counted again.
for dir in "${builds[@]}"; do
	rm -f -- "$dir/meson-logs/testlog.json"
done

echo "== build: normal, all suites"
if configure_and_build build -Dwerror=true; then
	meson test -C build --print-errorlogs || true
else
	step_failed "configuring or building build/ failed"
fi

echo "== build-asan: AddressSanitizer + UBSan, all suites"
if configure_and_build build-asan -Dwerror=true \
	-Db_sanitize=address,undefined -Db_lundef=false; then
	lsan_opts=
	if [[ -f $repo/tests/lsan.supp ]]; then
		lsan_opts=suppressions=$repo/tests/lsan.supp:print_suppressions=0
	fi
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		LSAN_OPTIONS=$lsan_opts \
		meson test -C build-asan --print-errorlogs || true
else
	step_failed "configuring or building build-asan/ failed"
fi

echo "== build-fuzz: every fuzz target for ${BRUG_FUZZ_SECONDS:-60} s"
if ! bash "$repo/tests/fuzz/run.sh" "${BRUG_FUZZ_SECONDS:-60}"; then
	step_failed "tests/fuzz/run.sh failed (a crash, or the fuzz build)"
fi

# Count the results meson wrote, one JSON object per test and line.
summary=$(python3 - "$step_failures" "${builds[@]}" <<'EOF'
import json, os, sys

passed = failed = skipped = 0
failed += int(sys.argv[1])
for build in sys.argv[2:]:
    path = os.path.join(build, 'meson-logs', 'testlog.json')
    if not os.path.exists(path):
        continue
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get('result')
            if result in ('OK', 'EXPECTEDFAIL'):
                passed += 1
            elif result == 'SKIP':
                skipped += 1
            else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, INTERRUPT
                failed += 1
text = f'{passed} passed, {failed} failed'
if skipped:
    text += f', {skipped} skipped'
print(text)
EOF
) || summary="0 passed, $((step_failures + 1)) failed"

echo
echo "$summary"
[[ $summary == *" 0 failed"* ]]
