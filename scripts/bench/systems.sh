# The systems under test (sourced by scripts/bench.sh). Each sys_<name> sets one up between the two
# namespaces (overlay OV_A <-> OV_B, MTU $MTU) and prints its version; stop_all + ns_down tear it down.

sys_raw() {
  # No VPN: the overlay addresses sit on the veth itself, the machine's ceiling.
  ip -n "$NS_A" addr add "$OV_A/$OV_PREFIX" dev ul0
  ip -n "$NS_B" addr add "$OV_B/$OV_PREFIX" dev ul0
  echo "kernel $(uname -r) veth"
}

# sys_tunmesh <native|js> [fake peers] [transport method]: the real CLI (config init + run) in both namespaces; B bootstraps
# from A through the control API, so the peers come from the membership protocol. Fake peers are static
# peers without endpoints (allowed IPs 198.19.<x>.<y>/32), to measure the cost of large tables.
sys_tunmesh() {
  local engine=$1 fake=${2:-0} method=${3:-} n ul ov ov6 boot
  local tm=(node --max-semi-space-size=1 "$ROOT/dist/cli/main.js")
  "${tm[@]}" secret generate >"$RUNDIR/cluster.secret"
  chmod 600 "$RUNDIR/cluster.secret"
  "${tm[@]}" cert generate --out-dir "$RUNDIR" --cn tmbench >/dev/null
  for n in a b; do
    if [[ $n == a ]]; then ul=$UL_A ov=$OV_A ov6=$OV6_A boot=(); else ul=$UL_B ov=$OV_B ov6=$OV6_B boot=(--bootstrap "https://$UL_A:4567"); fi
    "${tm[@]}" config init --name "bench-$n" --address "$ov/$OV_PREFIX" --address "$ov6/64" \
      --listen "$ul:51820" --api-listen "$ul:4567" "${boot[@]}" --secret-file "$RUNDIR/cluster.secret" \
      --cert "$RUNDIR/cert.pem" --key "$RUNDIR/key.pem" --private-key-file "$RUNDIR/$n.key" >"$RUNDIR/$n.yaml" 2>/dev/null
    node "$BENCH_DIR/patch-config.mjs" "$RUNDIR/$n.yaml" --engine "$engine" --mtu "$MTU" --fake-peers "$fake" \
      --tun "tmbtm$n" ${method:+--methods "$method"}
  done
  spawn "$NS_A" "$RUNDIR/a.log" "${tm[@]}" run -c "$RUNDIR/a.yaml"
  sleep 0.5
  spawn "$NS_B" "$RUNDIR/b.log" "${tm[@]}" run -c "$RUNDIR/b.yaml"
  echo "tunmesh $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo dev) ($engine engine${method:+, method $method})"
}

sys_wireguard_go() {
  local i j ns ov ov6 pul pov pov6
  for i in 1 2; do
    (umask 077 && wg genkey >"$RUNDIR/wg$i.key")
    wg pubkey <"$RUNDIR/wg$i.key" >"$RUNDIR/wg$i.pub"
  done
  for i in 1 2; do
    # The UAPI socket path is not per namespace, hence distinct interface names.
    rm -f "/var/run/wireguard/tmbenchwg$i.sock"
    if [[ $i == 1 ]]; then ns=$NS_A ov=$OV_A ov6=$OV6_A pul=$UL_B pov=$OV_B pov6=$OV6_B j=2; else ns=$NS_B ov=$OV_B ov6=$OV6_B pul=$UL_A pov=$OV_A pov6=$OV6_A j=1; fi
    spawn "$ns" "$RUNDIR/wg$i.log" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "tmbenchwg$i"
    for _ in $(seq 50); do [[ -S /var/run/wireguard/tmbenchwg$i.sock ]] && break; sleep 0.1; done
    printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n[Peer]\nPublicKey = %s\nEndpoint = %s:51820\nAllowedIPs = %s/32, %s/128\n' \
      "$(cat "$RUNDIR/wg$i.key")" "$(cat "$RUNDIR/wg$j.pub")" "$pul" "$pov" "$pov6" >"$RUNDIR/wg$i.conf"
    ip netns exec "$ns" wg setconf "tmbenchwg$i" "$RUNDIR/wg$i.conf"
    ip -n "$ns" addr add "$ov/$OV_PREFIX" dev "tmbenchwg$i"
    ip -n "$ns" addr add "$ov6/64" dev "tmbenchwg$i" nodad
    ip -n "$ns" link set "tmbenchwg$i" mtu "$MTU" up
  done
  echo "wireguard-go $(wireguard-go --version 2>/dev/null | awk 'NR==1{print $2}')"
}

wireguard_go_cleanup() { rm -f /var/run/wireguard/tmbenchwg1.sock /var/run/wireguard/tmbenchwg2.sock; }

# sys_fastd <method>: fastd in TUN mode; only A has a `remote` and B starts first (crossing handshakes
# stall fastd for ~20 s, see the shared bench notes).
sys_fastd() {
  local method=$1 i ov ov6 remote peer ul
  for i in 1 2; do
    (umask 077 && fastd --generate-key --machine-readable >"$RUNDIR/fastd$i.secret")
    printf 'secret "%s";\n' "$(cat "$RUNDIR/fastd$i.secret")" | fastd -c - --show-key --machine-readable >"$RUNDIR/fastd$i.pub"
  done
  for i in 1 2; do
    if [[ $i == 1 ]]; then ov=$OV_A ov6=$OV6_A remote="remote $UL_B:10000;" peer=2 ul=$UL_A; else ov=$OV_B ov6=$OV6_B remote="" peer=1 ul=$UL_B; fi
    cat >"$RUNDIR/fastd$i.conf" <<CONF
log to stderr level warn;
mode tun;
method "$method";
bind $ul:10000;
secret "$(cat "$RUNDIR/fastd$i.secret")";
mtu $MTU;
on up "ip link set dev \$INTERFACE up && ip addr add $ov/$OV_PREFIX dev \$INTERFACE && ip addr add $ov6/64 dev \$INTERFACE nodad";
peer "peer" {
  key "$(cat "$RUNDIR/fastd$peer.pub")";
  $remote
  interface "tmbenchfd$i";
}
CONF
  done
  spawn "$NS_B" "$RUNDIR/fastd2.log" fastd -c "$RUNDIR/fastd2.conf"
  sleep 0.5
  spawn "$NS_A" "$RUNDIR/fastd1.log" fastd -c "$RUNDIR/fastd1.conf"
  echo "$(fastd --version 2>/dev/null | head -1) $method"
}
