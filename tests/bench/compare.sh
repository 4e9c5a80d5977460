#!/usr/bin/env bash
# Benchmark beside its references: brugd, a bare libwebsockets server on the
# same loop and TLS settings (echo-server.c) and a Node `ws` relay
# (node-relay.mjs), driven by the same loadgen runs, interleaved, --reps
# times each; prints medians and ratios. Nothing is asserted. See README.md.
#
# usage: tests/bench/compare.sh [--reps N] [--quick] [--build DIR]
#            [--idle-reps N] [--no-callgrind] [--callgrind-node] [--only LIST]
#            [--brugd PATH] [--keep]
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
reps=3
idle_reps=1
quick=0
build=$repo/build-bench
callgrind=1
callgrind_node=0
keep=0
only=sat,rate,idle,queue,cg
brugd=

usage() {
	cat >&2 <<'EOF'
usage: tests/bench/compare.sh [--reps N] [--quick] [--build DIR]
           [--idle-reps N] [--no-callgrind] [--callgrind-node] [--only LIST]
           [--brugd PATH] [--keep]
  --reps N          rounds of every scenario per server (default 3)
  --idle-reps N     rounds of the 19,000-connection scenario (default 1: it
                    takes minutes per server on a shared 2-core machine)
  --quick           small sizes, to try the script (not for figures)
  --no-callgrind    skip the instruction counts (valgrind)
  --callgrind-node  count the Node relay's instructions too (slow; JIT)
  --only LIST       only these of sat,rate,idle,queue,cg (default all)
  --brugd PATH      measure this brugd binary (run from its build tree)
  --keep            keep the state dir with every log
EOF
	exit 2
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--reps)
		[[ $# -ge 2 && $2 =~ ^[1-9][0-9]?$ ]] || usage
		reps=$2
		shift 2 ;;
	--quick) quick=1; shift ;;
	--idle-reps)
		[[ $# -ge 2 && $2 =~ ^[1-9][0-9]?$ ]] || usage
		idle_reps=$2
		shift 2 ;;
	--build) [[ $# -ge 2 ]] || usage; build=$2; shift 2 ;;
	--no-callgrind) callgrind=0; shift ;;
	--callgrind-node) callgrind_node=1; shift ;;
	--keep) keep=1; shift ;;
	--only) [[ $# -ge 2 ]] || usage; only=$2; shift 2 ;;
	--brugd) [[ $# -ge 2 ]] || usage; brugd=$2; shift 2 ;;
	-h | --help) usage ;;
	*) echo "compare.sh: unknown option $1" >&2; usage ;;
	esac
done

# Scenario sizes. sat: closed-loop ping-pong, no pacing, every chat at once.
# rate: --rate msgs/s over rate_chats chats with rate_idle visitors waiting.
# idle: idle_n visitors connected and quiet. queue: brugd only, chats
# starting while queue_n visitors wait.
staff=10
sat_chats=200 sat_msgs=40
rate=1000 rate_chats=100 rate_msgs=40 rate_idle=5000
idle_n=19000
queue_n=10000 queue_chats=100 queue_msgs=30
cg_chats=10 cg_small=10 cg_large=60
if ((quick)); then
	sat_chats=40 sat_msgs=20
	rate=200 rate_chats=20 rate_msgs=10 rate_idle=300
	idle_n=500
	queue_n=500 queue_chats=20 queue_msgs=5
	cg_chats=4 cg_small=2 cg_large=6
fi

for tool in node openssl; do
	command -v "$tool" >/dev/null || { echo "compare.sh: needs $tool (scripts/setup.sh --tests)" >&2; exit 1; }
done
if ((callgrind)) && ! command -v valgrind >/dev/null; then
	echo "compare.sh: no valgrind; install it (scripts/setup.sh --tests --bench) or pass --no-callgrind" >&2
	exit 1
fi
[[ -d $repo/node_modules/ws ]] || { echo "compare.sh: no node_modules/ws (scripts/setup.sh --tests)" >&2; exit 1; }

# Each process may hold one socket per visitor; lws sizes its tables from
# this limit, so raise it to the hard limit for all of them.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)
if [[ $nofile != unlimited ]] && ((nofile < idle_n + 300)); then
	echo "compare.sh: file limit $nofile; idle scenario lowered to $((nofile - 300)) connections" >&2
	idle_n=$((nofile - 300))
fi

# ---- build ------------------------------------------------------------------
if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" "$repo" -Dbench=true --buildtype=release >/dev/null
elif ! meson configure "$build" | grep -Eq '^ *bench +true'; then
	meson configure "$build" -Dbench=true >/dev/null
fi
# Only what this script runs (the unit tests need not build in release).
ninja -C "$build" daemon/brugd tests/bench/loadgen tests/bench/echo-server >/dev/null
loadgen=$build/tests/bench/loadgen
echo_server=$build/tests/bench/echo-server
brugd=${brugd:-$build/daemon/brugd}
for b in "$loadgen" "$echo_server" "$brugd"; do
	[[ -x $b ]] || { echo "compare.sh: no $b after the build" >&2; exit 1; }
done

# ---- state dir, certificate, config, staff ----------------------------------
state=$(mktemp -d "${TMPDIR:-/tmp}/brug-compare.XXXXXX")
pid=
stop_server() {
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_server
	if ((keep)); then
		echo "compare.sh: kept $state" >&2
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
; lifted for the benchmark only (docs/operations.md: never in production)
rate_limit_messages = 1000000
languages = nl ar ti tr en
default_language = nl
grace_seconds = 5
offer_timeout_seconds = 600

[log]
level = warn
EOF
# The accounts live in a template state dir; every brugd gets a fresh copy,
# since brugd takes each TOTP code only once per account.
password=bench-$(openssl rand -hex 12)
mkdir -- "$state/template"
cp -- "$state/server.pem" "$state/server-key.pem" "$state/template/"
echo "compare.sh: creating $staff staff accounts" >&2
secrets=()
for i in $(seq "$staff"); do
	uri=$(printf '%s\n' "$password" | "$brugd" -f "$state/bench.conf" --state-dir "$state/template" \
		staff add "bench$i" --alias "Bench $i" --roles volunteer --langs nl --max-chats 20 \
		2>>"$state/staff-add.log")
	secrets+=("$(sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p' <<<"$uri")")
done
totp=$(IFS=,; echo "${secrets[*]}")

# start_server NAME [WRAPPER...]: starts it on a free port; sets pid, port.
start_server() {
	local name=$1 log
	shift
	log=$state/$name-$((++server_runs)).log
	# Made here: the background job opens it only once it runs.
	: >"$log"
	case $name in
	brugd)
		rm -rf -- "$state/run"
		cp -r -- "$state/template" "$state/run"
		"$@" "$brugd" -f "$state/bench.conf" --state-dir "$state/run" --port 0 >"$log" 2>&1 &
		;;
	echo) "$@" "$echo_server" 0 "$state/server.pem" "$state/server-key.pem" >"$log" 2>&1 & ;;
	node) "$@" node "$repo/tests/bench/node-relay.mjs" 0 "$state/server.pem" "$state/server-key.pem" >"$log" 2>&1 & ;;
	esac
	pid=$!
	port=
	for _ in $(seq 600); do
		port=$(sed -n 's/^listening on port \([0-9][0-9]*\)$/\1/p' "$log")
		[[ -n $port ]] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "compare.sh: $name did not start:" >&2
	cat "$log" >&2
	exit 1
}
server_runs=0

results=$state/results.txt
: >"$results"
# run_loadgen NAME SCENARIO REP ARGS...: one loadgen run against the
# server just started; its RESULT line goes to $results with a prefix.
run_loadgen() {
	local name=$1 scen=$2 rep=$3 out line
	shift 3
	out=$state/loadgen-$name-$scen-$rep.txt
	"$loadgen" --port "$port" --ca "$state/ca.pem" --staff-password "$password" --staff-totp "$totp" \
		--server-pid "$pid" "$@" >"$out" 2>"$out.err" || true
	line=$(grep -m1 '^RESULT ' "$out" || echo "RESULT complete=0")
	echo "$name $scen $rep ${line#RESULT }" >>"$results"
	echo "compare.sh:   $name $scen: ${line#RESULT }" >&2
}

scenario() {
	local name=$1 scen=$2 rep=$3
	start_server "$name"
	case $scen in
	sat) run_loadgen "$name" sat "$rep" --staff "$staff" --visitors "$sat_chats" --chats "$sat_chats" \
		--messages "$sat_msgs" --no-pace --duration-s 120 ;;
	rate) run_loadgen "$name" rate "$rep" --staff "$staff" --visitors $((rate_idle + rate_chats)) \
		--chats "$rate_chats" --messages "$rate_msgs" --rate "$rate" --duration-s 150 ;;
	# One staff member, available: with nobody, brugd tells visitors it is closed.
	idle) run_loadgen "$name" idle "$rep" --staff 1 --visitors "$idle_n" --chats 0 --duration-s 400 ;;
	queue) run_loadgen "$name" queue "$rep" --staff "$staff" --visitors $((queue_n + queue_chats)) \
		--chats "$queue_chats" --messages "$queue_msgs" --rate "$rate" --duration-s 300 ;;
	esac
	stop_server
}

started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq "$reps"); do
	for scen in sat rate idle; do
		[[ ,$only, == *,$scen,* ]] || continue
		if [[ $scen == idle ]] && ((rep > idle_reps)); then
			continue
		fi
		for name in brugd echo node; do
			echo "compare.sh: round $rep, $scen, $name" >&2
			scenario "$name" "$scen" "$rep"
		done
	done
done
if [[ ,$only, == *,queue,* ]]; then
	echo "compare.sh: brugd with $queue_n waiting" >&2
	scenario brugd queue 1
fi

# Instructions per relayed message: under callgrind, one warm-up run, then
# a small and a large one, with a dump after each; the difference of the
# last two divided by the difference of their messages leaves out start-up,
# connections and logins.
cg_names=(brugd echo)
if ((callgrind_node)); then
	cg_names+=(node)
fi
if [[ ,$only, != *,cg,* ]]; then
	callgrind=0
fi
if ((callgrind)); then
	for name in "${cg_names[@]}"; do
		echo "compare.sh: callgrind, $name" >&2
		wrap=(valgrind --tool=callgrind --callgrind-out-file="$state/cg-$name.out")
		if [[ $name == node ]]; then
			wrap+=(--smc-check=all)
		fi
		start_server "$name" "${wrap[@]}"
		cg_args=(--visitors "$cg_chats" --chats "$cg_chats" --no-pace --duration-s 600)
		ir=()
		relayed=()
		run=0
		for k in "$cg_small" "$cg_small" "$cg_large"; do
			# Another account each time: one TOTP code per account and server.
			out=$state/cg-$name-$((++run)).txt
			"$loadgen" --port "$port" --ca "$state/ca.pem" --staff-password "$password" \
				--staff-user "bench$run" --staff-totp "${secrets[run - 1]}" "${cg_args[@]}" \
				--messages "$k" >"$out" 2>"$out.err" || true
			sleep 1
			n_before=$(find "$state" -maxdepth 1 -name "cg-$name.out.*" | wc -l)
			callgrind_control -d "$pid" >/dev/null 2>&1 || true
			for _ in $(seq 100); do
				if (($(find "$state" -maxdepth 1 -name "cg-$name.out.*" | wc -l) > n_before)); then
					break
				fi
				sleep 0.2
			done
			dump=$state/cg-$name.out.$((n_before + 1))
			ir+=("$(sed -n 's/^summary: //p' "$dump" 2>/dev/null | head -1)")
			relayed+=("$(sed -n 's/^RESULT .* relayed=\([0-9]*\).*/\1/p' "$out")")
			# brugd keeps a dropped visitor's place for grace_seconds.
			if [[ $name == brugd ]]; then
				sleep 6
			fi
		done
		stop_server
		if [[ -n ${ir[1]} && -n ${ir[2]} && -n ${relayed[1]} && -n ${relayed[2]} ]] &&
			((relayed[2] > relayed[1])); then
			echo "$name cg 1 ir_per_msg=$(((ir[2] - ir[1]) / (relayed[2] - relayed[1])))" >>"$results"
		else
			echo "$name cg 1 ir_per_msg=-" >>"$results"
		fi
		echo "compare.sh:   $name: $(tail -1 "$results")" >&2
	done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - started))

# ---- report -----------------------------------------------------------------
report=$build/compare-report.txt
out=$state/report.txt
python3 - "$results" >"$state/table.txt" <<'EOF'
import statistics, sys

rows = {}
for line in open(sys.argv[1]):
    name, scen, rep, *kv = line.split()
    for pair in kv:
        k, _, v = pair.partition("=")
        try:
            rows.setdefault((name, scen, k), []).append(float(v))
        except ValueError:
            pass

def med(name, scen, key):
    v = rows.get((name, scen, key))
    return statistics.median(v) if v else None

def fmt(x, digits):
    return "-" if x is None else f"{x:,.{digits}f}"

def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"

def spread(name, scen, key):
    v = rows.get((name, scen, key))
    if not v or len(v) < 2:
        return ""
    return f"{min(v):,.0f}-{max(v):,.0f}"

lines = [
    ("relayed msgs/s at saturation", "sat", "msgs_per_s", 0, "brugd >= 0.7x echo, >= 2x node"),
    ("  server share of a core, %", "sat", "srv_core_pct", 0, ""),
    ("  loadgen share of a core, %", "sat", "loadgen_core_pct", 0, ""),
    ("server CPU us per msg (saturation)", "sat", "srv_us_per_msg", 1, ""),
    ("instructions per msg (callgrind)", "cg", "ir_per_msg", 0, "brugd <= 2x echo"),
    ("p50 ms at the fixed rate, idle waiting", "rate", "steady_p50_ms", 2, ""),
    ("p99 ms at the fixed rate, idle waiting", "rate", "steady_p99_ms", 2, ""),
    ("  achieved msgs/s", "rate", "msgs_per_s", 0, ""),
    ("  server CPU us per msg", "rate", "srv_us_per_msg", 1, ""),
    ("RSS KiB per idle TLS conn (rate run)", "rate", "rss_kib_per_waiting", 1, ""),
    ("RSS KiB per idle TLS conn (idle run)", "idle", "rss_kib_per_waiting", 1, ""),
    ("RSS MiB with all idle conns (idle run)", "idle", "rss_mib_held", 0, "brugd <= 450 MB at 19,000"),
    ("  connections held", "idle", "held", 0, ""),
]
print(f"{'':40} {'brugd':>10} {'echo':>10} {'node':>10} {'brugd/echo':>11} {'brugd/node':>11}  target")
for label, scen, key, d, target in lines:
    b, e, n = (med(x, scen, key) for x in ("brugd", "echo", "node"))
    print(f"{label:40} {fmt(b, d):>10} {fmt(e, d):>10} {fmt(n, d):>10} {ratio(b, e):>11} {ratio(b, n):>11}  {target}")
print()
print("spread (min-max over the rounds) of relayed msgs/s at saturation:",
      ", ".join(f"{x} {spread(x, 'sat', 'msgs_per_s')}" for x in ("brugd", "echo", "node")))
q = {k: med("brugd", "queue", k) for k in ("held", "chat_start_ms", "relay_p99_ms", "steady_p99_ms", "msgs_per_s")}
print(f"brugd, {fmt(q['held'], 0)} visitors connected (chats included), chats starting at once:"
      f" {fmt(q['chat_start_ms'], 2)} ms CPU per chat start (target < 5),"
      f" relay p99 {fmt(q['relay_p99_ms'], 1)} ms over the whole chat phase (target < 50),"
      f" {fmt(q['steady_p99_ms'], 1)} ms once all had joined, at {fmt(q['msgs_per_s'], 0)} msgs/s")
bad = [l.split()[:3] for l in open(sys.argv[1]) if "complete=0" in l or ("wrong=" in l and "wrong=0" not in l)]
if bad:
    print("incomplete runs or wrong frames (see the loadgen logs):", "; ".join(" ".join(b) for b in bad))
EOF
{
	echo "Brug benchmark beside its references, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"$(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr)," \
		"load average $load_before before, $load_after after"
	echo "versions: lws $(pkg-config --modversion libwebsockets), $(openssl version | cut -d' ' -f1-2)," \
		"node $(node --version), ws $(node -p "require('$repo/node_modules/ws/package.json').version")"
	echo "rounds: $reps ($idle_reps of the idle scenario), interleaved brugd, echo, node; $elapsed s in all"
	echo "scenarios: saturation $sat_chats chats x $sat_msgs round trips, unpaced;" \
		"fixed rate $rate msgs/s over $rate_chats chats with $rate_idle waiting;" \
		"idle $idle_n connections; chat starts with $queue_n waiting (brugd)"
	echo
	cat "$state/table.txt"
} >"$out"
mkdir -p -- "$build"
cp -- "$out" "$report"
cp -- "$results" "$build/compare-results.txt"
cat "$out"
echo "compare.sh: report written to $report (raw figures in $build/compare-results.txt)" >&2
