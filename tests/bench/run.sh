#!/usr/bin/env bash
# Benchmark: starts brugd on a free port with a throw-away state dir, drives
# it with tests/bench/loadgen (visitors waiting in the queue, some chatting)
# and reports its memory and CPU per connection and the latencies. Nothing is
# asserted; the report goes to stdout and to BUILD/bench-report.txt.
#
# usage: tests/bench/run.sh [--visitors N] [--staff N] [--chats M]
#            [--messages K] [--rounds R] [--idle-s S] [--duration-s S]
#            [--build DIR] [--brugd PATH] [--keep]
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
visitors=5000
staff=50
chats=100
messages=6
rounds=2
idle_s=0
duration_s=150
build=$repo/build-bench
brugd=
keep=0

usage() {
	cat >&2 <<'EOF'
usage: tests/bench/run.sh [--visitors N] [--staff N] [--chats M]
           [--messages K] [--rounds R] [--idle-s S] [--duration-s S]
           [--build DIR] [--brugd PATH] [--keep]
EOF
	exit 2
}

num() {
	[[ $2 =~ ^[0-9]+$ ]] || { echo "run.sh: $1 needs a number, not '$2'" >&2; exit 2; }
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--visitors | --staff | --chats | --messages | --rounds | --idle-s | --duration-s)
		[[ $# -ge 2 ]] || usage
		num "$1" "$2"
		case $1 in
		--visitors) visitors=$2 ;;
		--staff) staff=$2 ;;
		--chats) chats=$2 ;;
		--messages) messages=$2 ;;
		--rounds) rounds=$2 ;;
		--idle-s) idle_s=$2 ;;
		--duration-s) duration_s=$2 ;;
		esac
		shift 2 ;;
	--build) [[ $# -ge 2 ]] || usage; build=$2; shift 2 ;;
	--brugd) [[ $# -ge 2 ]] || usage; brugd=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) usage ;;
	*) echo "run.sh: unknown option $1" >&2; usage ;;
	esac
done
[[ $rounds -ge 1 && $rounds -le 10 ]] || { echo "run.sh: --rounds is 1 to 10" >&2; exit 2; }
[[ $staff -ge 1 && $staff -le 1000 ]] || { echo "run.sh: --staff is 1 to 1000" >&2; exit 2; }

# ---- build ------------------------------------------------------------------
if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" "$repo" -Dbench=true --buildtype=release >/dev/null
elif ! meson configure "$build" | grep -Eq '^ *bench +true'; then
	meson configure "$build" -Dbench=true >/dev/null
fi
ninja -C "$build" >/dev/null
loadgen=$build/tests/bench/loadgen
brugd=${brugd:-$build/daemon/brugd}
[[ -x $loadgen && -x $brugd ]] || { echo "run.sh: no $loadgen or $brugd after the build" >&2; exit 1; }

# ---- state dir, certificate, config, staff ----------------------------------
state=$(mktemp -d "${TMPDIR:-/tmp}/brug-bench.XXXXXX")
pid=
stop_brugd() {
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "run.sh: brugd did not stop within 10 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	brugd_status=0
	wait "$pid" 2>/dev/null || brugd_status=$?
	pid=
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_brugd
	if [[ $keep == 1 ]]; then
		echo "run.sh: kept $state" >&2
	else
		rm -rf -- "$state"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash "$repo/config/dev-cert.sh" "$state" localhost >/dev/null
cat >"$state/bench.conf" <<EOF
[server]
hostname = localhost
port = 0
; one address holds every benchmark connection: no per-address cap
max_connections_per_source = 1000000
web_root = $repo/web-client
state_dir = $state
max_connections = 20000

[chat]
max_waiting_per_source = 1000000
languages = nl ar ti tr en
default_language = nl
; short, so the sessions of visitors that left are gone before the next round
grace_seconds = 5
; the staff hold their offers until every visitor is in the queue
offer_timeout_seconds = 600

[log]
level = notice
EOF
password=bench-$(openssl rand -hex 12)
echo "run.sh: creating $staff staff accounts" >&2
# Every account has a TOTP second factor; loadgen computes the codes from
# the secrets that staff add prints. A code works once per account, so each
# round waits for the next 30 s step (below).
secrets=()
for i in $(seq "$staff"); do
	uri=$(printf '%s\n' "$password" | "$brugd" -f "$state/bench.conf" --state-dir "$state" \
		staff add "bench$i" --alias "Bench $i" --roles volunteer --langs nl --max-chats 20 \
		2>>"$state/staff-add.log")
	secrets+=("$(sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p' <<<"$uri")")
done
totp=$(IFS=,; echo "${secrets[*]}")

# ---- brugd -----------------------------------------------------------------
: >"$state/brugd.log"   # the background job opens it only once it runs
"$brugd" -f "$state/bench.conf" --state-dir "$state" --port 0 >"$state/brugd.log" 2>&1 &
pid=$!
port=
for _ in $(seq 150); do
	port=$(sed -n 's/^listening on port \([0-9][0-9]*\)$/\1/p' "$state/brugd.log")
	[[ -n $port ]] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [[ -z $port ]]; then
	echo "run.sh: brugd did not start:" >&2
	cat "$state/brugd.log" >&2
	exit 1
fi

# "RSS_KB HWM_KB CPU_MS" of brugd, or "- - -" once it is gone.
sample() {
	local rss hwm ticks
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || true
	hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || true
	# utime and stime are fields 14 and 15; the name in field 2 has no spaces here.
	ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || true
	if [[ -z $rss || -z $ticks ]]; then
		echo "- - -"
	else
		echo "$rss $hwm $((ticks * 1000 / $(getconf CLK_TCK)))"
	fi
}
mib() {
	if [[ $1 == - ]]; then
		echo "-"
	else
		awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'
	fi
}

report=$build/bench-report.txt
out=$state/report.txt
{
	echo "Brug benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"$(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr)"
	echo "brugd: $brugd ($(meson introspect --buildoptions "$build" 2>/dev/null |
		python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' \
		2>/dev/null || echo '?') build), port $port, pid $pid"
	echo "scenario: $staff staff, $visitors visitors (lang nl), $chats chats x $messages round trips," \
		"$rounds round(s)"
	echo
} >"$out"

read -r rss0 _ cpu0 <<<"$(sample)"
declare -a round_rss round_after
status=0
for r in $(seq "$rounds"); do
	echo "run.sh: round $r of $rounds" >&2
	echo "== round $r" >>"$out"
	if ((r > 1)); then
		sleep $((30 - $(date +%s) % 30 + 1))
	fi
	"$loadgen" --port "$port" --ca "$state/ca.pem" --visitors "$visitors" --staff "$staff" \
		--staff-password "$password" --staff-totp "$totp" --chats "$chats" --messages "$messages" \
		--duration-s "$duration_s" --idle-s "$idle_s" --server-pid "$pid" \
		>"$state/loadgen-$r.txt" 2>"$state/loadgen-$r.err" || status=$?
	cat "$state/loadgen-$r.txt" >>"$out"
	read -r rss _ _ <<<"$(sample)"
	round_rss[r]=$rss
	# Let the grace period of the visitors that just left run out.
	sleep 7
	read -r rss_after _ _ <<<"$(sample)"
	round_after[r]=$rss_after
	echo "  brugd after the round      RSS $(mib "$rss"), $(mib "$rss_after") once the visitors' grace ran out" >>"$out"
	echo >>"$out"
	kill -0 "$pid" 2>/dev/null || { echo "run.sh: brugd is gone after round $r" >&2; break; }
done
read -r rss1 hwm1 cpu1 <<<"$(sample)"
stop_brugd
warnings=$(grep -Ec 'brugd (warn|err)' "$state/brugd.log" || true)

# ---- summary (from round 1) ------------------------------------------------
r1=$state/loadgen-1.txt
# The first line of round 1's report matching $1, indented; nothing if none.
pick() { grep -m1 -- "$1" "$r1" | sed 's/^ */  /' || true; }
{
	echo "== summary"
	pick 'INCOMPLETE'
	pick '^  visitors '
	pick '^  chats '
	pick 'per waiting visitor'
	pick 'per visitor after chats'
	pick '^  idle '
	pick 'chat phase .*ms CPU'
	pick 'staff connect to session'
	pick 'connect to welcome'
	pick 'relay visitor -> staff'
	pick 'relay staff -> visitor'
	pick 'queue updates'
	pick '^  frames'
	if [[ $cpu0 != - && $cpu1 != - ]]; then
		echo "  brugd before/after: RSS $(mib "$rss0") -> $(mib "$rss1"), peak $(mib "$hwm1")," \
			"CPU $((cpu1 - cpu0)) ms for $rounds round(s)"
	fi
	for r in $(seq "$rounds"); do
		[[ -n ${round_rss[r]:-} ]] && echo "  round $r: RSS at the end $(mib "${round_rss[r]}"), after grace $(mib "${round_after[r]}")"
	done
	echo "  brugd exit status ${brugd_status:-?}, $warnings warning/error log lines" \
		"($(grep -c 'elops_accept_ev' "$state/brugd.log" || true) 'elops_accept_ev' notices)"
} >>"$out"

mkdir -p -- "$build"
cp -- "$out" "$report"
cat "$out"
echo "run.sh: report written to $report" >&2
exit "$status"
