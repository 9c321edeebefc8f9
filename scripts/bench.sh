#!/usr/bin/env bash
# npm run bench [-- --update-docs] [--record-baseline] [--systems "raw tunmesh-native ..."] [--no-scaling]
#
# Data-plane benchmark: in fresh namespaces (tmbench-1, tmbench-2 on one veth) it measures raw veth,
# tunmesh (native and js engines through the real CLI, and the null and tls transport methods), wireguard-go
# and fastd side by side: iperf3 TCP with 1 and 4 streams, UDP 1400 B, idle ping RTT, CPU-seconds per GB of the VPN processes and their
# peak RSS; then tunmesh native with 1, 100 and 1000 configured peers. Writes artifacts/bench/<ts>.json,
# prints a markdown table with ratios to the best peer; --update-docs rewrites docs/BENCHMARKS.md. The tunmesh
# figures are compared with scripts/bench/baseline.json (R27: > 20 % worse on the same machine kind exits 1);
# --record-baseline rewrites that file from this run (on a quiet machine); --no-baseline skips the comparison.
# Needs root, iproute2, iperf3, jq; wireguard-go + wg and fastd are optional (missing = skipped).
# Bounded: every iperf3 run has -t <= 8 s and a timeout; the whole run takes about 3 minutes.
# Addresses: 198.18.250.0/24 underlay, 198.19.0.0/16 + fd00:19:250::/64 overlay, nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DIR=$ROOT/scripts/bench
source "$BENCH_DIR/lib.sh"
source "$BENCH_DIR/systems.sh"

UPDATE_DOCS=0
RECORD_BASELINE=0
COMPARE_BASELINE=1
SCALING=1
SYSTEMS="raw tunmesh-native tunmesh-js tunmesh-null tunmesh-tls wireguard-go fastd-salsa2012+umac fastd-null"
while (($#)); do
  case $1 in
    --update-docs) UPDATE_DOCS=1 ;;
    --record-baseline) RECORD_BASELINE=1 ;;
    --no-baseline) COMPARE_BASELINE=0 ;;
    --no-scaling) SCALING=0 ;;
    --systems) SYSTEMS=$2; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
((TCP_TIME <= 8 && UDP_TIME <= 8)) || { echo "bench: TCP_TIME/UDP_TIME are capped at 8 s" >&2; exit 2; }

[[ $(id -u) == 0 ]] || { echo "bench: run as root (it creates network namespaces)" >&2; exit 1; }
for tool in ip iperf3 jq ping node flock; do
  command -v "$tool" >/dev/null || { echo "bench: missing $tool (apt-get install iproute2 iperf3 jq iputils-ping)" >&2; exit 1; }
done
[[ -f dist/cli/main.js ]] || npm run --silent build
[[ -f native/build/Release/tunmesh_native.node ]] || { echo "bench: native addon missing: run npm install" >&2; exit 1; }

exec 9>/run/lock/tmbench.lock
flock -n 9 || { echo "bench: another run holds /run/lock/tmbench.lock" >&2; exit 1; }

RUNDIR=$(mktemp -d /tmp/tmbench.XXXXXX)
chmod 755 "$RUNDIR"
RESULTS=$RUNDIR/results.jsonl
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
cleanup() {
  set +e
  stop_all
  ns_down
  wireguard_go_cleanup
  rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

have() { command -v "$1" >/dev/null; }

setup_system() {  # prints the version line
  case $1 in
    raw) sys_raw ;;
    tunmesh-native) sys_tunmesh native "${2:-0}" ;;
    tunmesh-js) sys_tunmesh js ;;
    # Transport methods (issue #4): both nodes list only this method; native engine (JS carries these).
    tunmesh-null) sys_tunmesh native 0 null ;;
    tunmesh-tls) sys_tunmesh native 0 tls ;;
    wireguard-go) sys_wireguard_go ;;
    fastd-*) sys_fastd "${1#fastd-}" ;;
    *) return 1 ;;
  esac
}

available() {
  case $1 in
    wireguard-go) have wireguard-go && have wg ;;
    fastd-*) have fastd ;;
    *) true ;;
  esac
}

# run_system <name>: one system, all tests, one JSON line in $RESULTS.
run_system() {
  local sys=$1 version ready_s t0 ping tcp1 tcp4 udp
  say "$sys"
  ns_up
  t0=$SECONDS
  # Not in $(...): spawn must record the PIDs in this shell.
  if ! setup_system "$sys" >"$RUNDIR/version" 2>"$RUNDIR/setup.err" || ! wait_ping 40; then
    echo "bench: $sys did not come up; logs:" >&2
    tail -n 5 "$RUNDIR"/*.log "$RUNDIR/setup.err" >&2 2>/dev/null || true
    jq -nc --arg s "$sys" '{system: $s, error: "did not come up"}' >>"$RESULTS"
    stop_all
    ns_down
    return 0
  fi
  ready_s=$((SECONDS - t0))
  version=$(cat "$RUNDIR/version")
  sleep 1
  ping=$(measure_ping)
  tcp1=$(measure_iperf tcp1 -t "$TCP_TIME")
  tcp4=$(measure_iperf tcp4 -t "$TCP_TIME" -P 4)
  udp=$(measure_iperf udp -t "$UDP_TIME" -u -b 0 -l 1400)
  jq -nc --arg s "$sys" --arg v "$version" --argjson r "$ready_s" --argjson ping "$ping" --argjson tcp1 "$tcp1" \
    --argjson tcp4 "$tcp4" --argjson udp "$udp" \
    '{system: $s, version: $v, ready_s: $r, ping: $ping, tcp1: $tcp1, tcp4: $tcp4, udp: $udp}' >>"$RESULTS"
  jq -r '"  tcp1 \(.tcp1.gbps*1000|round/1000) Gbit/s, tcp4 \(.tcp4.gbps*1000|round/1000), udp \(.udp.gbps*1000|round/1000), rtt \(.ping.rtt_avg_ms) ms, cpu/GB \(.tcp1.vpn_cpu_s_per_gb // "-")"' \
    <<<"$(tail -1 "$RESULTS")" >&2
  stop_all
  ns_down
}

# run_scaling <peers>: tunmesh native with <peers> configured peers (1 real + fake ones).
run_scaling() {
  local peers=$1 tcp1 rss pids
  say "tunmesh-native with $peers peers"
  ns_up
  if ! setup_system tunmesh-native $((peers - 1)) >/dev/null 2>"$RUNDIR/setup.err" || ! wait_ping 60; then
    jq -nc --argjson p "$peers" '{scaling: $p, error: "did not come up"}' >>"$RESULTS"
    stop_all
    ns_down
    return 0
  fi
  sleep 1
  tcp1=$(measure_iperf tcp1 -t "$TCP_TIME")
  pids=$(vpn_pids)
  rss=$(max_status_kb VmRSS $pids)
  jq -nc --argjson p "$peers" --argjson tcp1 "$tcp1" --argjson rss "$rss" \
    '{scaling: $p, tcp1: $tcp1, rss_kb: $rss}' >>"$RESULTS"
  jq -r '"  tcp1 \(.tcp1.gbps*1000|round/1000) Gbit/s, RSS \(.rss_kb/1024|round) MB"' <<<"$(tail -1 "$RESULTS")" >&2
  stop_all
  ns_down
}

for sys in $SYSTEMS; do
  if available "$sys"; then run_system "$sys"; else say "$sys: not installed, skipped"; fi
done
if ((SCALING)); then
  for peers in 1 100 1000; do run_scaling "$peers"; done
fi

mkdir -p artifacts/bench
args=("$RESULTS" --out "artifacts/bench/$STAMP.json" --stamp "$STAMP")
((UPDATE_DOCS)) && args+=(--docs docs/BENCHMARKS.md)
((RECORD_BASELINE)) && args+=(--record-baseline)
((COMPARE_BASELINE)) || args+=(--no-baseline)
# Exit 1 when a tunmesh figure regressed by more than 20 % against scripts/bench/baseline.json (R27).
status=0
node "$BENCH_DIR/report.mjs" "${args[@]}" || status=$?
# The generated tables must pass the repository's format check.
((UPDATE_DOCS)) && node_modules/.bin/prettier --log-level warn --write docs/BENCHMARKS.md
exit "$status"
