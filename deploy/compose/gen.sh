#!/bin/sh
# Generates what deploy/docker-compose.yml mounts, with the tunmesh CLI: one cluster secret, one
# self-signed TLS certificate for the control API, and per node a WireGuard key and a config file.
#   deploy/compose/gen.sh [OUT_DIR]        (default: deploy/compose, beside this script)
# TUNMESH names the CLI (default: node <repo>/bin/tunmesh.js; in the image: tunmesh).
# Existing secrets and keys are kept, so running it again only rewrites the configs. Nothing it writes
# is committed (deploy/compose/.gitignore).
#
# Config paths are written relative to the config file: in the containers the config is
# /etc/tunmesh/config.yaml and the compose file mounts secrets/ and tls/ under /etc/tunmesh, so the same
# file checks here (`tunmesh config check OUT_DIR/a.yaml`) and runs there.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
out=$(cd "$out" && pwd)
TUNMESH=${TUNMESH:-node $here/../../bin/tunmesh.js}

tunmesh() {
  # Word splitting of $TUNMESH is intended: it may be "node path/to/main.js".
  # shellcheck disable=SC2086
  $TUNMESH "$@"
}

cd "$out"
umask 077
mkdir -p secrets tls
[ -f secrets/cluster.secret ] || tunmesh secret generate --out secrets/cluster.secret
# The operator token: `tunmesh status/peers/ping/reload` in a sidecar need it besides the cluster secret.
[ -f secrets/operator.token ] || tunmesh secret generate --out secrets/operator.token
[ -f tls/cert.pem ] || tunmesh cert generate --out-dir tls --cn tunmesh
chmod 0644 tls/cert.pem

# Node i: underlay 198.18.0.1i (the compose network), overlay 198.19.0.i and fd00:19::i.
for i in 1 2 3; do
  name=$(printf 'abc' | cut -c"$i")
  underlay=198.18.0.1$i
  set -- --name "$name" --address "198.19.0.$i/16" --address "fd00:19::$i/64" \
    --listen 0.0.0.0:51820 --wg-advertise "$underlay:51820" \
    --api-listen 0.0.0.0:4567 --api-advertise "https://$underlay:4567" \
    --secret-file secrets/cluster.secret --cert tls/cert.pem --key tls/key.pem \
    --private-key-file "secrets/$name.key"
  # The first node founds the mesh; the others join through it.
  [ "$i" = 1 ] || set -- "$@" --bootstrap https://198.18.0.11:4567
  tunmesh config init "$@" >"$name.yaml.tmp"
  # config init writes absolute paths; make them relative to the config file (see above).
  sed -e "s#$out/##g" -e 's#^control:$#control:\n  operatorTokenFile: secrets/operator.token#' "$name.yaml.tmp" >"$name.yaml"
  rm -f "$name.yaml.tmp"
  chmod 0644 "$name.yaml"
  tunmesh config check "$name.yaml" >/dev/null
done

echo "wrote $out: secrets/ (cluster.secret, operator.token, a.key, b.key, c.key), tls/ (cert.pem, key.pem), a.yaml b.yaml c.yaml"
if [ "$(id -u)" != 0 ]; then
  echo "note: with rootful Docker the sidecars start as root without CAP_DAC_OVERRIDE, so they can read"
  echo "      these 0600 files only when root owns them: sudo chown -R 0:0 $out/secrets $out/tls"
fi
