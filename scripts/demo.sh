#!/usr/bin/env bash
# tunmesh demo: three nodes in network namespaces on one bridge form a mesh on their own, then carry IPv4
# and IPv6 between them. Needs root and iproute2. Cleans up on exit, on failure and on Ctrl-C.
# Addresses: underlay 198.18.100.0/24 + fd00:18:100::/64, overlay 198.19.100.0/24 + fd00:19:100::/64.
# DEMO_HOLD=1 keeps the mesh running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "$(id -u)" != 0 ]; then echo "demo: run as root (it creates network namespaces)" >&2; exit 1; fi
command -v ip >/dev/null || { echo "demo: needs iproute2 (apt-get install iproute2)" >&2; exit 1; }
[ -f dist/cli/main.js ] || npm run --silent build
[ -f native/build/Release/tunmesh_native.node ] || { echo "demo: native addon missing: run npm install" >&2; exit 1; }

P=tmdemo
nodes=(a b c)
work=$(mktemp -d /tmp/tunmesh-demo.XXXXXX)
pids=()
say() { printf '\033[1m== %s\033[0m\n' "$*"; }
tunmesh() { node "$root/dist/cli/main.js" "$@"; }
in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  for ns in "${nodes[@]}" br; do ip netns del "$P-$ns" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for ns in "${nodes[@]}" br; do ip netns del "$P-$ns" 2>/dev/null || true; done

say "network: namespaces $P-a, $P-b, $P-c on bridge $P-br (underlay 198.18.100.0/24, fd00:18:100::/64)"
ip netns add "$P-br"
ip -n "$P-br" link add br0 type bridge
ip -n "$P-br" link set br0 up
i=0
for n in "${nodes[@]}"; do
  i=$((i + 1))
  ip netns add "$P-$n"
  ip -n "$P-$n" link set lo up
  ip link add "$P-$n-e" type veth peer name "$P-$n-b"
  ip link set "$P-$n-e" netns "$P-$n"
  ip link set "$P-$n-b" netns "$P-br"
  ip -n "$P-$n" link set "$P-$n-e" name eth0
  ip -n "$P-br" link set "$P-$n-b" master br0 up
  ip -n "$P-$n" addr add "198.18.100.$i/24" dev eth0
  ip -n "$P-$n" addr add "fd00:18:100::$i/64" dev eth0 nodad
  ip -n "$P-$n" link set eth0 up
done

say "secrets: cluster secret, self-signed TLS certificate, one config per node (tunmesh config init)"
tunmesh secret generate >"$work/cluster.secret"
chmod 600 "$work/cluster.secret"
tunmesh cert generate --out-dir "$work" --cn tunmesh-demo >/dev/null
i=0
for n in "${nodes[@]}"; do
  i=$((i + 1))
  boot=()
  [ "$n" != a ] && boot=(--bootstrap https://198.18.100.1:4567)
  tunmesh config init --name "$n" --address "198.19.100.$i/24" --address "fd00:19:100::$i/64" \
    --listen "198.18.100.$i:51820" --api-listen "198.18.100.$i:4567" "${boot[@]}" \
    --secret-file "$work/cluster.secret" --cert "$work/cert.pem" --key "$work/key.pem" >"$work/$n.yaml"
  printf 'process:\n  uid: 65534\n  gid: 65534\n' >>"$work/$n.yaml"
  tunmesh config check "$work/$n.yaml" >/dev/null
done
chmod 755 "$work"
chmod 644 "$work"/*.yaml

say "starting three daemons (logs in $work/<node>.log)"
for n in "${nodes[@]}"; do
  # ip netns exec execs node, so $! is the daemon's own PID
  ip netns exec "$P-$n" node "$root/dist/cli/main.js" run -c "$work/$n.yaml" >"$work/$n.log" 2>&1 &
  pids+=($!)
done

say "waiting for the mesh to form"
deadline=$((SECONDS + 60))
while :; do
  line=""
  all=1
  for n in "${nodes[@]}"; do
    count=$(in_ns "$n" node "$root/dist/cli/main.js" status --json -c "$work/$n.yaml" 2>/dev/null |
      node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);console.log(j.peers.filter(p=>p.state==="alive").length)}catch{console.log(0)}})' || true)
    line+="$n sees $count/2 peers   "
    [ "$count" = 2 ] || all=0
  done
  printf '\r  %s' "$line"
  [ $all = 1 ] && break
  if [ $SECONDS -gt $deadline ]; then
    echo
    echo "demo: the mesh did not form within 60 s; last log lines:" >&2
    tail -n 20 "$work"/*.log >&2
    exit 1
  fi
  sleep 1
done
echo
in_ns a node "$root/dist/cli/main.js" status -c "$work/a.yaml"

say "IPv4 and IPv6 across the mesh"
for pair in "a 2" "a 3" "b 3"; do
  set -- $pair
  in_ns "$1" ping -c 2 -i 0.2 -W 2 "198.19.100.$2" | tail -n 1 | sed "s/^/  $1 -> 198.19.100.$2: /"
  in_ns "$1" ping -6 -c 2 -i 0.2 -W 2 "fd00:19:100::$2" | tail -n 1 | sed "s/^/  $1 -> fd00:19:100::$2: /"
done

say "throughput a -> b through the tunnel"
if command -v iperf3 >/dev/null; then
  in_ns b iperf3 -s -1 -B 198.19.100.2 >/dev/null 2>&1 &
  ipf=$!
  sleep 0.5
  in_ns a iperf3 -c 198.19.100.2 -t 3 -f m 2>&1 | grep -E 'sender|receiver' | sed 's/^/  /' || true
  wait $ipf 2>/dev/null || true
else
  echo "  (install iperf3 for a throughput figure)"
fi

say "observability"
echo "  health:  https://198.18.100.1:4567/health   (inside namespace $P-a)"
echo "  metrics: https://198.18.100.1:4567/metrics"
in_ns a node -e '
  const https = require("node:https");
  https.get("https://198.18.100.1:4567/health", { rejectUnauthorized: false }, (r) => {
    let b = ""; r.on("data", (d) => (b += d)).on("end", () => console.log("  /health " + r.statusCode + " " + b));
  }).on("error", (e) => console.log("  /health error: " + e.message));'

if [ "${DEMO_HOLD:-0}" = 1 ]; then
  say "mesh is up; Ctrl-C to stop and clean up"
  # wait on a background sleep so that Ctrl-C/SIGTERM run the cleanup trap at once
  while :; do
    sleep 3600 &
    wait $! || true
  done
fi
say "done; cleaning up"
