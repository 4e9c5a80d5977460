#!/usr/bin/env bash
# Benchmark of a chat across two brugd nodes (docs/cluster.md): starts three
# nats-servers (TLS for clients and routes, user and password, no JetStream,
# nothing on disk but configs, certificates and logs in a throw-away dir) and
# two brugd nodes, b1 and b2, on 127.0.0.1, then runs the same loadgen load
# twice: "same-node" with visitors and staff on the node that owns the
# visitors' language, and "cross-node" with the visitors on the other node
# (their frames go over NATS to the owner's hub and back) and the staff on
# the owner. Reports the relay latencies and the CPU time per relayed
# message of both brugd and all three nats-servers together. Nothing is
# asserted; the report goes to stdout and to BUILD/cluster-report.txt.
#
# usage: tests/bench/cluster.sh [--visitors N] [--staff N] [--chats M]
#            [--messages K] [--rate R] [--lang L] [--duration-s S]
#            [--one-nats] [--build DIR] [--brugd PATH] [--keep]
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
visitors=200
staff=4
chats=20
messages=100
rate=200
lang="nl"
duration_s=120
build=$repo/build-bench
brugd=
keep=0
one_nats=0
langs="nl ar ti tr en"

usage() {
	cat >&2 <<'EOF'
usage: tests/bench/cluster.sh [--visitors N] [--staff N] [--chats M]
           [--messages K] [--rate R] [--lang L] [--duration-s S]
           [--one-nats] [--build DIR] [--brugd PATH] [--keep]
  --visitors N    visitors per run, all in language L (default 200)
  --staff N       staff per run, on the owner of L (default 4)
  --chats M       chats per run (default 20)
  --messages K    round trips per chat (default 100)
  --rate R        relayed messages per second over all chats (default 200)
  --lang L        the visitors' language (default nl)
  --duration-s S  time limit of each loadgen run (default 120)
  --one-nats      both nodes on the same nats-server (default: b1 on nats-1,
                  b2 on nats-2, so cross-node frames take a route hop)
  --keep          keep the state dir with every log
EOF
	exit 2
}

num() {
	[[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "cluster.sh: $1 needs a positive number, not '$2'" >&2; exit 2; }
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--visitors | --staff | --chats | --messages | --rate | --duration-s)
		[[ $# -ge 2 ]] || usage
		num "$1" "$2"
		case $1 in
		--visitors) visitors=$2 ;;
		--staff) staff=$2 ;;
		--chats) chats=$2 ;;
		--messages) messages=$2 ;;
		--rate) rate=$2 ;;
		--duration-s) duration_s=$2 ;;
		esac
		shift 2 ;;
	--lang)
		[[ $# -ge 2 && " $langs " == *" $2 "* ]] || { echo "cluster.sh: --lang is one of $langs" >&2; exit 2; }
		lang=$2
		shift 2 ;;
	--build) [[ $# -ge 2 ]] || usage; build=$2; shift 2 ;;
	--brugd) [[ $# -ge 2 ]] || usage; brugd=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--one-nats) one_nats=1; shift ;;
	-h | --help) usage ;;
	*) echo "cluster.sh: unknown option $1" >&2; usage ;;
	esac
done
# Each run's staff log in with their own accounts (a TOTP code works once).
((staff <= 500)) || { echo "cluster.sh: --staff is 1 to 500" >&2; exit 2; }

nats_server=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[[ -x $nats_server ]] || { echo "cluster.sh: no nats-server (scripts/setup.sh installs it)" >&2; exit 1; }
for tool in openssl curl python3; do
	command -v "$tool" >/dev/null || { echo "cluster.sh: needs $tool" >&2; exit 1; }
done

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- build ------------------------------------------------------------------
if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" "$repo" -Dbench=true --buildtype=release >/dev/null
elif ! meson configure "$build" | grep -Eq '^ *bench +true'; then
	meson configure "$build" -Dbench=true >/dev/null
fi
# Only what this script runs; a brugd without libnats refuses [cluster].
ninja -C "$build" daemon/brugd tests/bench/loadgen >/dev/null
loadgen=$build/tests/bench/loadgen
brugd=${brugd:-$build/daemon/brugd}
[[ -x $loadgen && -x $brugd ]] || { echo "cluster.sh: no $loadgen or $brugd after the build" >&2; exit 1; }

# ---- state dir, processes ---------------------------------------------------
state=$(mktemp -d "${TMPDIR:-/tmp}/brug-cluster.XXXXXX")
declare -A pids=()    # name -> pid: b1 b2 nats-1 nats-2 nats-3
declare -A status=()  # name -> exit status, once stopped

# stop NAME: SIGTERM, SIGKILL after 10 s.
stop() {
	local name=$1 p=${pids[$1]:-}
	[[ -n $p && -z ${status[$1]:-} ]] || return 0
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		echo "cluster.sh: $name did not stop within 10 s; killing it" >&2
		kill -KILL "$p" 2>/dev/null || true
	fi
	status[$name]=0
	wait "$p" 2>/dev/null || status[$name]=$?
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	# The brugd nodes first, so they do not spend their last seconds
	# reconnecting to nats-servers that are gone.
	for name in b1 b2 nats-1 nats-2 nats-3; do
		stop "$name"
	done
	if ((keep)); then
		echo "cluster.sh: kept $state" >&2
	else
		rm -rf -- "$state"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- certificates -------------------------------------------------------------
# One CA for everything: brugd's certificate as in run.sh, and one for the
# nats-servers that is good as a server's and a client's, since a route is
# a TLS client on one side and nats-server verifies routes both ways.
bash "$repo/config/dev-cert.sh" "$state" localhost >/dev/null
cat >"$state/nats-ext.cnf" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
EOF
(
	umask 077
	cd -- "$state"
	openssl ecparam -name prime256v1 -genkey -noout -out nats-key.pem
	openssl req -new -key nats-key.pem -subj /CN=localhost -out nats.csr
	openssl x509 -req -in nats.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -sha256 \
		-extfile nats-ext.cnf -out nats.pem
) >"$state/nats-cert.log" 2>&1 || { cat "$state/nats-cert.log" >&2; exit 1; }

# ---- nats-servers ---------------------------------------------------------------
# Six ports that were free a moment ago: a client and a route port each.
read -r -a ports <<<"$(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')"
nats_user=brug
nats_password=$(openssl rand -hex 18)
route_password=$(openssl rand -hex 18)
nats_urls=()
# No jetstream block, no store_dir, no log_file, no trace: core NATS in RAM,
# as docs/cluster.md section 1 asks. Logs go to stderr (no payloads in them).
for i in 1 2 3; do
	client_port=${ports[(i - 1) * 2]}
	route_port=${ports[(i - 1) * 2 + 1]}
	nats_urls+=("tls://127.0.0.1:$client_port")
	routes=
	for j in 1 2 3; do
		if ((j != i)); then
			routes+="    \"nats-route://route:$route_password@127.0.0.1:${ports[(j - 1) * 2 + 1]}\""$'\n'
		fi
	done
	tls="{
    cert_file: \"$state/nats.pem\"
    key_file: \"$state/nats-key.pem\"
    ca_file: \"$state/ca.pem\"
    timeout: 5
  }"
	(
		umask 077
		cat >"$state/nats-$i.conf" <<EOF
server_name: "nats-$i"
listen: "127.0.0.1:$client_port"
tls $tls
authorization {
  user: "$nats_user"
  password: "$nats_password"
}
cluster {
  name: "brug-bench"
  listen: "127.0.0.1:$route_port"
  tls $tls
  authorization {
    user: "route"
    password: "$route_password"
  }
  routes: [
$routes  ]
}
EOF
	)
	: >"$state/nats-$i.log"
	"$nats_server" -c "$state/nats-$i.conf" >"$state/nats-$i.log" 2>&1 &
	pids[nats-$i]=$!
done
# Routes of nats-server I that are up: "ADDR - rid:N - Route connection
# created" less those "Router connection closed" since (a duplicate route
# between two servers is made and closed at once).
routes_up() {
	awk '/- rid:[0-9]+ - Route connection created/ { up[$5] = 1 }
		/- rid:[0-9]+ - Router connection closed/ { delete up[$5] }
		END { n = 0; for (a in up) n++; print n }' "$state/nats-$1.log"
}
# Ready, and a route to each of the two others.
for i in 1 2 3; do
	for _ in $(seq 150); do
		if grep -q 'Server is ready' "$state/nats-$i.log" && (($(routes_up "$i") >= 2)); then
			continue 2
		fi
		kill -0 "${pids[nats-$i]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "cluster.sh: nats-$i not ready with its routes:" >&2
	cat "$state/nats-$i.log" >&2
	exit 1
done

# ---- brugd nodes ---------------------------------------------------------------
# libnats picks a random server from a node's nats_url list, so with all
# three listed the two nodes share a server in one start out of three and
# a cross-node frame then skips the route between servers. Each node gets
# one server instead, so the path is the same in every run: b1 on nats-1,
# b2 on nats-2 and one route hop between them, or with --one-nats both on
# nats-1 and no hop. nats-3 only routes (it carries no client).
declare -A node_url=([b1]=${nats_urls[0]} [b2]=${nats_urls[1]})
if ((one_nats)); then
	node_url[b2]=${nats_urls[0]}
fi
# The bench config of compare.sh (per-address caps and the message rate
# limit lifted, since every connection comes from 127.0.0.1 and --rate
# writes unpaced), plus [cluster].
node_conf() {
	cat <<EOF
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
languages = $langs
default_language = nl
; short, so the sessions of the first run's visitors are gone before the second
grace_seconds = 5
; the staff hold their offers until every visitor is in the queue
offer_timeout_seconds = 600

[log]
level = notice
EOF
	if [[ -n ${1:-} ]]; then
		cat <<EOF

[cluster]
node = $1
nats_url = ${node_url[$1]}
nats_user = $nats_user
nats_password = $nats_password
nats_ca = $state/ca.pem
EOF
	fi
}
(
	umask 077
	node_conf >"$state/template.conf"
	node_conf b1 >"$state/b1.conf"
	node_conf b2 >"$state/b2.conf"
)
# Accounts bench1..2N in a template state dir copied to both nodes: the
# first run's staff are bench1..N, the second's benchN+1..2N, since a TOTP
# code works once per account and node. They speak every language, so
# they serve L whichever node owns it.
password=bench-$(openssl rand -hex 12)
mkdir -- "$state/template"
cp -- "$state/server.pem" "$state/server-key.pem" "$state/template/"
echo "cluster.sh: creating $((2 * staff)) staff accounts" >&2
secrets=()
for i in $(seq $((2 * staff))); do
	uri=$(printf '%s\n' "$password" | "$brugd" -f "$state/template.conf" --state-dir "$state/template" \
		staff add "bench$i" --alias "Bench $i" --roles volunteer --langs "${langs// /,}" --max-chats 20 \
		2>>"$state/staff-add.log")
	secrets+=("$(sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p' <<<"$uri")")
done

declare -A port=()
for name in b1 b2; do
	cp -r -- "$state/template" "$state/$name"
	: >"$state/$name.log"   # the background job opens it only once it runs
	"$brugd" -f "$state/$name.conf" --state-dir "$state/$name" --port 0 >"$state/$name.log" 2>&1 &
	pids[$name]=$!
done
for name in b1 b2; do
	for _ in $(seq 150); do
		port[$name]=$(sed -n 's/^listening on port \([0-9][0-9]*\)$/\1/p' "$state/$name.log")
		[[ -n ${port[$name]} ]] && break
		kill -0 "${pids[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	if [[ -z ${port[$name]} ]]; then
		echo "cluster.sh: $name did not start:" >&2
		cat "$state/$name.log" >&2
		exit 1
	fi
done

health() {
	curl -fsS --max-time 5 --cacert "$state/ca.pem" --resolve "localhost:$1:127.0.0.1" \
		"https://localhost:$1/api/health" 2>/dev/null || true
}
# The owner of L once both nodes are connected, see both as members and
# agree on it; nothing if not.
owner_of() {
	python3 - "$lang" "$(health "${port[b1]}")" "$(health "${port[b2]}")" <<'EOF'
import json, sys
lang, views = sys.argv[1], []
for text in sys.argv[2:]:
    try:
        h = json.loads(text)
    except ValueError:
        sys.exit(0)
    if not h.get("connected") or sorted(h.get("members", [])) != ["b1", "b2"]:
        sys.exit(0)
    views.append(h.get("owners", {}).get(lang))
if views[0] in ("b1", "b2") and views[0] == views[1]:
    print(views[0])
EOF
}
owner=
for _ in $(seq 150); do
	owner=$(owner_of)
	[[ -n $owner ]] && break
	sleep 0.2
done
if [[ -z $owner ]]; then
	echo "cluster.sh: b1 and b2 did not see each other within 30 s:" >&2
	echo "b1: $(health "${port[b1]}")" >&2
	echo "b2: $(health "${port[b2]}")" >&2
	exit 1
fi
other=$([[ $owner == b1 ]] && echo b2 || echo b1)
echo "cluster.sh: $owner owns $lang; $(health "${port[b1]}")" >&2

# CPU ms of all five processes together (utime + stime, fields 14 and 15;
# the names in field 2 have no spaces).
cpu_all_ms() {
	local ticks=0 name t
	for name in b1 b2 nats-1 nats-2 nats-3; do
		t=$(awk '{print $14 + $15}' "/proc/${pids[$name]}/stat")
		ticks=$((ticks + t))
	done
	echo $((ticks * 1000 / $(getconf CLK_TCK)))
}
# What the cluster costs with nobody connected (heartbeats, the NATS
# servers' pings): part of every CPU figure below, whatever the load.
idle_s=10
echo "cluster.sh: measuring the idle cluster for $idle_s s" >&2
idle0=$(cpu_all_ms)
sleep "$idle_s"
idle_ms_per_s=$(awk -v a="$idle0" -v b="$(cpu_all_ms)" -v s="$idle_s" 'BEGIN {printf "%.1f", (b - a) / s}')

# ---- the two runs ----------------------------------------------------------------
# Pid order of loadgen's CPU lines: the owner (--server-pid), then --cpu-pid.
cpu_names=("$owner" "$other" nats-1 nats-2 nats-3)
cpu_pids="${pids[$other]},${pids[nats-1]},${pids[nats-2]},${pids[nats-3]}"
run_status=0
# run NAME VISITOR_NODE FIRST_ACCOUNT: one loadgen run, staff on the owner.
run() {
	local name=$1 vnode=$2 first=$3 users=() totps=() i
	for i in $(seq "$first" $((first + staff - 1))); do
		users+=("bench$i")
		totps+=("${secrets[i - 1]}")
	done
	echo "cluster.sh: $name: visitors on $vnode, staff on $owner" >&2
	"$loadgen" --port "${port[$vnode]}" --staff-port "${port[$owner]}" --ca "$state/ca.pem" \
		--lang "$lang" --visitors "$visitors" --chats "$chats" --messages "$messages" --rate "$rate" \
		--staff-user "$(IFS=,; echo "${users[*]}")" --staff-password "$password" \
		--staff-totp "$(IFS=,; echo "${totps[*]}")" --duration-s "$duration_s" \
		--server-pid "${pids[$owner]}" --cpu-pid "$cpu_pids" \
		>"$state/loadgen-$name.txt" 2>"$state/loadgen-$name.err" || run_status=$?
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Log lines so far (start-up warnings such as nats-server's about plain
# text passwords are expected; the report counts what came after).
declare -A log_lines=()
for name in b1 b2 nats-1 nats-2 nats-3; do
	log_lines[$name]=$(wc -l <"$state/$name.log")
done
run same-node "$owner" 1
# Let the grace period of the visitors that just left run out.
sleep 7
run cross-node "$other" $((staff + 1))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for name in b1 b2; do
	kill -0 "${pids[$name]}" 2>/dev/null || echo "cluster.sh: $name is gone after the runs" >&2
done
for name in b1 b2 nats-1 nats-2 nats-3; do
	stop "$name"
done

# ---- report ------------------------------------------------------------------------
report=$build/cluster-report.txt
out=$state/report.txt
# field RUN KEY: a value of the run's RESULT line, "-" if none.
field() {
	awk -v k="$2" '$1 == "RESULT" { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' \
		"$state/loadgen-$1.txt" | grep . || echo -
}
# lat RUN LABEL: "p50 / p99 ms" of one of loadgen's latency lines.
lat() {
	awk -v l="$2" 'index($0, l) == 3 && /p50/ {
		for (i = 1; i < NF; i++) { if ($i == "p50") a = $(i + 1); if ($i == "p99") b = $(i + 1) }
		print a " / " b " ms"; exit }' "$state/loadgen-$1.txt" | grep . || echo -
}
# cpu RUN: the chat phase's CPU ms of each process, by name.
cpu() {
	awk -v names="${cpu_names[*]}" 'BEGIN { n = split(names, nm, " ") }
		/^processes/ { on = 1; next }
		on && $1 == "pid" { i++; for (k = 1; k < NF; k++) if ($k == "phase") { printf "%s%s %s ms", sep, nm[i], $(k + 1); sep = ", " } }
		on && $1 != "pid" && $1 != "all" { on = 0 }
		END { print "" }' "$state/loadgen-$1.txt"
}
{
	echo "Brug cross-node chat benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"$(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr)," \
		"load average $load_before before, $load_after after"
	echo "versions: $("$nats_server" --version 2>&1 | head -1), lws $(pkg-config --modversion libwebsockets 2>/dev/null || echo ?)," \
		"libnats $(pkg-config --modversion libnats 2>/dev/null || echo ?), $(openssl version | cut -d' ' -f1-2)"
	echo "cluster: 3 nats-servers (TLS, routes over TLS), brugd b1 (port ${port[b1]}, pid ${pids[b1]})" \
		"and b2 (port ${port[b2]}, pid ${pids[b2]}); $owner owns $lang"
	echo "NATS: b1 on nats-1, b2 on $( ((one_nats)) && echo "nats-1 (--one-nats: no route hop)" ||
		echo "nats-2 (a cross-node frame crosses the route nats-1 - nats-2)")"
	echo "load per run: $staff staff on $owner, $visitors visitors in $lang, $chats chats x $messages round trips" \
		"at $rate relayed msgs/s"
	echo "  same-node:  visitors on $owner (the owner); cross-node: visitors on $other, relayed over NATS to $owner"
	echo "CPU: utime + stime of both brugd and the three nats-servers, from the first accept until all chats ended"
	echo "     (chat phase) and in the steady window (every chat joined, none ended), per relayed message;"
	echo "     the five together use $idle_ms_per_s ms per s with nobody connected (measured for $idle_s s before the runs)"
	echo
	printf '%-36s %-22s %-22s\n' "" same-node cross-node
	printf '%-36s %-22s %-22s\n' "relay visitor -> staff p50 / p99" "$(lat same-node 'relay visitor -> staff')" \
		"$(lat cross-node 'relay visitor -> staff')"
	printf '%-36s %-22s %-22s\n' "relay staff -> visitor p50 / p99" "$(lat same-node 'relay staff -> visitor')" \
		"$(lat cross-node 'relay staff -> visitor')"
	printf '%-36s %-22s %-22s\n' "relay, steady window p50 / p99" "$(field same-node steady_p50_ms) / $(field same-node steady_p99_ms) ms" \
		"$(field cross-node steady_p50_ms) / $(field cross-node steady_p99_ms) ms"
	printf '%-36s %-22s %-22s\n' "relayed msgs" "$(field same-node relayed)" "$(field cross-node relayed)"
	printf '%-36s %-22s %-22s\n' "CPU us per msg, all 5, chat phase" "$(field same-node all_chat_us_per_msg)" \
		"$(field cross-node all_chat_us_per_msg)"
	printf '%-36s %-22s %-22s\n' "CPU us per msg, all 5, steady" "$(field same-node all_steady_us_per_msg)" \
		"$(field cross-node all_steady_us_per_msg)"
	printf '%-36s %-22s %-22s\n' "CPU us per msg, owner $owner, steady" "$(field same-node srv_us_per_msg)" \
		"$(field cross-node srv_us_per_msg)"
	printf '%-36s %-22s %-22s\n' "msgs/s in the steady window" "$(field same-node msgs_per_s)" "$(field cross-node msgs_per_s)"
	printf '%-36s %-22s %-22s\n' "wrong frames, complete" "$(field same-node wrong), $(field same-node complete)" \
		"$(field cross-node wrong), $(field cross-node complete)"
	echo
	echo "chat phase CPU by process:"
	echo "  same-node:  $(cpu same-node)"
	echo "  cross-node: $(cpu cross-node)"
	# after NAME: its log from the first run on.
	after() { tail -n +$((log_lines[$1] + 1)) "$state/$1.log"; }
	for name in b1 b2; do
		echo "$name: exit status ${status[$name]:-?}, $(after "$name" | grep -Ec 'brugd (warn|err)' || true)" \
			"warning/error log lines during the runs"
	done
	for i in 1 2 3; do
		echo "nats-$i: exit status ${status[nats-$i]:-?} (1 after SIGTERM is nats-server's way)," \
			"$(after "nats-$i" | grep -Ec '\[(ERR|WRN)\]' || true) error/warning log lines during the runs"
	done
	for name in same-node cross-node; do
		echo
		echo "== $name (loadgen's report)"
		cat "$state/loadgen-$name.txt"
	done
} >"$out"

mkdir -p -- "$build"
cp -- "$out" "$report"
cat "$out"
echo "cluster.sh: report written to $report" >&2
exit "$run_status"
