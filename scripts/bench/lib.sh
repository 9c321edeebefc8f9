# Benchmark helpers (sourced by scripts/bench.sh): namespaces, process bookkeeping, the measurements.
# Namespaces tmbench-1 / tmbench-2 joined by one veth; only 198.18.250.0/24 (underlay), 198.19.0.0/16
# and fd00:19:250::/64 (overlay) are used, and neither namespace has a default route.

NS_A=tmbench-1
NS_B=tmbench-2
UL_A=198.18.250.1
UL_B=198.18.250.2
OV_A=198.19.250.1
OV_B=198.19.250.2
OV6_A=fd00:19:250::1
OV6_B=fd00:19:250::2
OV_PREFIX=16
MTU=${MTU:-1440}
TCP_TIME=${TCP_TIME:-6}
UDP_TIME=${UDP_TIME:-4}
QUIET_MAX_PCT=${QUIET_MAX_PCT:-25}
QUIET_WAIT_S=${QUIET_WAIT_S:-20}
PIDS=()

say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

ns_up() {
  ns_down
  ip netns add "$NS_A"
  ip netns add "$NS_B"
  ip link add tmbench-a type veth peer name tmbench-b
  ip link set tmbench-a netns "$NS_A"
  ip link set tmbench-b netns "$NS_B"
  ip -n "$NS_A" link set tmbench-a name ul0
  ip -n "$NS_B" link set tmbench-b name ul0
  for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
  ip -n "$NS_A" addr add "$UL_A/24" dev ul0
  ip -n "$NS_B" addr add "$UL_B/24" dev ul0
  ip -n "$NS_A" link set ul0 up
  ip -n "$NS_B" link set ul0 up
}

ns_down() {
  local ns pid
  # Whatever still runs in our namespaces was started by this script: end it by PID before the delete
  # (a deleted namespace does not end its processes).
  for ns in "$NS_A" "$NS_B"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}

# spawn <ns> <logfile> <cmd...>: starts a process in a namespace and records its PID (ip netns exec
# execs the command in place, so $! is the process itself).
spawn() {
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 9>&- &
  PIDS+=($!)
}

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

# Processes of the system under test: everything in the namespaces except the load generators.
vpn_pids() {
  local pid comm
  for pid in $(ip netns pids "$NS_A" 2>/dev/null) $(ip netns pids "$NS_B" 2>/dev/null); do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    case $comm in iperf3 | ping) ;; *) echo "$pid" ;; esac
  done
}

# Clock ticks (user + system, all threads) used so far by the given PIDs.
cpu_ticks() {
  local pid sum=0 t
  for pid in "$@"; do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || continue
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}

# Largest VmHWM / VmRSS (kB) among the given PIDs.
max_status_kb() {
  local field=$1 pid v max=0
  shift
  for pid in "$@"; do
    v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$pid/status" 2>/dev/null)
    [[ -n $v && $v -gt $max ]] && max=$v
  done
  echo "$max"
}

busy_pct() {  # machine busy % over 0.5 s, from /proc/stat
  local a b
  a=($(head -1 /proc/stat))
  sleep 0.5
  b=($(head -1 /proc/stat))
  local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $((total > 0 ? 100 * (total - idle) / total : 0))
}

# Waits (bounded) for the machine to be quiet; prints the last busy % seen.
wait_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT_S)) pct
  while :; do
    pct=$(busy_pct)
    if ((pct <= QUIET_MAX_PCT || SECONDS >= deadline)); then
      echo "$pct"
      return
    fi
  done
}

wait_ping() {  # wait_ping <seconds>: overlay ping from A to B
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    ip netns exec "$NS_A" ping -c 1 -W 1 "$OV_B" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# measure_ping: 40 idle pings at 50 ms; prints {"rtt_avg_ms":..,"rtt_median_ms":..,"rtt_min_ms":..}
measure_ping() {
  local bg
  bg=$(wait_quiet)
  ip netns exec "$NS_A" ping -c 40 -i 0.05 -W 1 "$OV_B" 2>&1 | grep -o 'time=[0-9.]*' | cut -d= -f2 | sort -n |
    awk -v bg="$bg" '{ a[NR] = $1; t += $1 }
      END { if (NR == 0) { print "{\"rtt_avg_ms\":null}"; exit }
            printf "{\"rtt_avg_ms\":%.3f,\"rtt_median_ms\":%.3f,\"rtt_min_ms\":%.3f,\"replies\":%d,\"background_busy_pct\":%d}\n",
              t / NR, (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2), a[1], NR, bg }'
}

# measure_iperf <name> <iperf3 client args...>: one bounded iperf3 run with CPU accounting; prints JSON.
measure_iperf() {
  local name=$1
  shift
  local json="$RUNDIR/iperf-$name.json" bg pids v0 v1 rss
  bg=$(wait_quiet)
  ip netns exec "$NS_B" timeout 30 iperf3 -s -1 -B "$OV_B" >/dev/null 2>&1 &
  local server=$!
  sleep 0.4
  pids=$(vpn_pids)
  v0=$(cpu_ticks $pids)
  ip netns exec "$NS_A" timeout 30 iperf3 -c "$OV_B" -J "$@" >"$json" 2>/dev/null || true
  v1=$(cpu_ticks $pids)
  wait "$server" 2>/dev/null || true
  rss=$(max_status_kb VmHWM $pids)
  jq -c --arg t "$name" --argjson vpn_ticks "$((v1 - v0))" --argjson hz "$(getconf CLK_TCK)" \
    --argjson bg "$bg" --argjson rss "$rss" '
    .end as $e | ($e.sum_received.bytes // 0) as $b | ($vpn_ticks / $hz) as $cpu |
    {test: $t, gbps: (($e.sum_received.bits_per_second // 0) / 1e9), bytes: $b,
     retransmits: ($e.sum_sent.retransmits // null), lost_percent: ($e.sum_received.lost_percent // null),
     vpn_cpu_s: $cpu, vpn_cpu_s_per_gb: (if $cpu > 0 and $b > 0 then $cpu / ($b / 1e9) else null end),
     peak_rss_kb: $rss, background_busy_pct: $bg}' "$json" 2>/dev/null ||
    echo "{\"test\":\"$name\",\"error\":\"iperf3 failed\"}"
}
