#!/usr/bin/env bash
# tunmesh demo: three nodes in network namespaces on one bridge form a mesh on their own, then carry IPv4
# and IPv6 between them: pings and throughput with tunmesh's own tools (tunmesh ping, a Node TCP transfer),
# status, and the dashboard's URL. Needs root, iproute2, node_modules and dist/: `npm run demo` runs
# scripts/bootstrap.mjs first, which installs and builds what is missing. Cleans up on exit, on failure and
# on Ctrl-C / SIGTERM / SIGHUP.
# Addresses: underlay 198.18.100.0/24 + fd00:18:100::/64, overlay 198.19.100.0/24 + fd00:19:100::/64.
# DEMO_HOLD=1 keeps the mesh running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "$(id -u)" != 0 ]; then echo "demo: run as root (it creates network namespaces)" >&2; exit 1; fi
command -v ip >/dev/null || { echo "demo: needs iproute2: run it as npm run demo (installs it), or apt-get install iproute2" >&2; exit 1; }
if [ ! -f dist/cli/main.js ] || [ ! -f native/build/Release/tunmesh_native.node ]; then
  echo "demo: not installed/built yet: run it as npm run demo (or node scripts/bootstrap.mjs demo first)" >&2
  exit 1
fi

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
  remove_network
  rm -rf "$work"
}
# Deleting a namespace deletes the veth ends in it; an end still in this namespace (a failure between
# `ip link add` and the move) is deleted by name.
remove_network() {
  for ns in "${nodes[@]}" br; do ip netns del "$P-$ns" 2>/dev/null || true; done
  for n in "${nodes[@]}"; do ip link del "$P-$n-e" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

remove_network

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
# Operator commands (status, peers, ping, reload) and the dashboard need the operator token (not the cluster secret).
tunmesh secret generate --out "$work/operator.token" >/dev/null
i=0
for n in "${nodes[@]}"; do
  i=$((i + 1))
  boot=()
  [ "$n" != a ] && boot=(--bootstrap https://198.18.100.1:4567)
  tunmesh config init --name "$n" --address "198.19.100.$i/24" --address "fd00:19:100::$i/64" \
    --listen "198.18.100.$i:51820" --api-listen "198.18.100.$i:4567" "${boot[@]}" \
    --secret-file "$work/cluster.secret" --cert "$work/cert.pem" --key "$work/key.pem" \
    --uid 65534 --gid 65534 >"$work/$n.yaml"
  # every node: the CLI's operator commands need the token (node a also serves the dashboard with it)
  sed -i "s|^control:\$|control:\n  operatorTokenFile: $work/operator.token|" "$work/$n.yaml"
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

say "IPv4 and IPv6 across the mesh (tunmesh ping: UDP probes through the tunnel, both ways)"
for pair in "a b 2" "a c 3" "b c 3"; do
  set -- $pair
  for addr in "198.19.100.$3" "fd00:19:100::$3"; do
    out=$(in_ns "$1" node "$root/dist/cli/main.js" ping "$addr" -n 2 -c "$work/$1.yaml")
    echo "  $1 -> $2 $addr: $(printf '%s\n' "$out" | tail -n 2 | paste -sd ' ')"
  done
done

say "throughput a -> b through the tunnel (3 s)"
in_ns b node "$root/scripts/demo-throughput.mjs" serve 198.19.100.2 5201 &
pids+=($!)
echo "  a -> b: $(in_ns a node "$root/scripts/demo-throughput.mjs" send 198.19.100.2 5201 3)"

say "dashboard and observability (node a's control API, inside namespace $P-a)"
echo "  dashboard: https://198.18.100.1:4567/ui/   operator token in $work/operator.token"
echo "  health:    https://198.18.100.1:4567/health   (the breakdown with Authorization: Bearer <operator token>)"
echo "  metrics:   https://198.18.100.1:4567/metrics  (Authorization: Bearer <operator token>)"
# shellcheck disable=SC2016
in_ns a node -e '
  const https = require("node:https");
  const token = require("node:fs").readFileSync(process.argv[1], "utf8").trim();
  const get = (path, headers) => new Promise((done) => {
    https.get("https://198.18.100.1:4567" + path, { rejectUnauthorized: false, headers }, (r) => {
      let b = ""; r.on("data", (d) => (b += d)).on("end", () => done({ code: r.statusCode, body: b }));
    }).on("error", (e) => done({ code: 0, body: e.message }));
  });
  (async () => {
    const h = await get("/health");
    console.log("  /health " + h.code + " " + h.body.trim());
    const ui = await get("/ui/api/overview", { authorization: "Bearer " + token });
    console.log("  /ui/api/overview " + ui.code + " (the dashboard answers with the operator token)");
    if (h.code !== 200 || ui.code !== 200) process.exit(1);
  })();' "$work/operator.token"

if [ "${DEMO_HOLD:-0}" = 1 ]; then
  say "mesh is up; Ctrl-C to stop and clean up"
  echo "  e.g. ip netns exec $P-a curl -k -H \"Authorization: Bearer \$(cat $work/operator.token)\" https://198.18.100.1:4567/ui/api/overview"
  # wait on a background sleep so that Ctrl-C/SIGTERM run the cleanup trap at once
  while :; do
    sleep 3600 &
    wait $! || true
  done
fi
say "done; cleaning up"
