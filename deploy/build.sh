#!/bin/sh
# The image's build steps, in one place: deploy/Dockerfile's build stage runs them, and
# scripts/image-build.sh replays that stage (its COPY and RUN lines) without a container engine.
#   build.sh deps       install every dependency from package-lock.json; the install script of the
#                       native/ workspace builds the addon with node-gyp against this Node's headers
#   build.sh app DIR    compile TypeScript, drop dev dependencies and assemble the runtime tree in DIR:
#                       exactly what the runtime stage copies to /app
# Run it from the source root (the Dockerfile's WORKDIR).
#
# deps reads two optional inputs, the same in the Dockerfile and on a host:
#   NPM_REGISTRY     npm registry URL (the Dockerfile's build argument); empty = npm's default
#   EXTRA_CA_FILE    PEM file of extra root CAs (a TLS-inspecting proxy); default /run/secrets/extra_ca,
#                    where BuildKit mounts the `extra_ca` build secret for that one RUN. It is passed
#                    by path (NODE_EXTRA_CA_CERTS), never copied, so no layer holds it.
set -eu

assemble() {
  out=$1
  addon=native/build/Release/tunmesh_native.node
  # native/scripts/build.cjs only warns when it cannot build; the image must not ship without it.
  [ -f "$addon" ] || { echo "build.sh: $addon is missing (native addon not built)" >&2; exit 1; }
  [ -f dist/cli/main.js ] || { echo "build.sh: dist/cli/main.js is missing (TypeScript not built)" >&2; exit 1; }
  rm -rf "$out"
  mkdir -p "$out/native/build/Release"
  # package.json: "type": "module" for dist/ and the version `tunmesh --version` prints.
  cp -a package.json bin dist web node_modules "$out/"
  cp -a native/package.json native/index.cjs "$out/native/"
  cp -a "$addon" "$out/native/build/Release/"
  # Source maps stay (stack traces name TypeScript lines); the build's own bookkeeping does not.
  rm -f "$out/node_modules/.package-lock.json"
  # npm prune leaves the emptied scope folders of dev dependencies behind.
  find "$out/node_modules" -mindepth 1 -maxdepth 1 -type d -empty -delete
}

case "${1:-}" in
  deps)
    [ -z "${NPM_REGISTRY:-}" ] || export npm_config_registry="$NPM_REGISTRY"
    ca=${EXTRA_CA_FILE:-/run/secrets/extra_ca}
    if [ -s "$ca" ]; then
      # Added to Node's bundled roots (npm's `cafile` would replace them).
      export NODE_EXTRA_CA_CERTS="$ca"
      echo "build.sh: trusting the extra CA in $ca" >&2
    elif [ -n "${EXTRA_CA_FILE:-}" ]; then
      echo "build.sh: EXTRA_CA_FILE=$EXTRA_CA_FILE is missing or empty" >&2
      exit 1
    fi
    npm ci --no-audit --no-fund --prefer-offline
    ;;
  app)
    [ $# -eq 2 ] || { echo "usage: build.sh app OUT_DIR" >&2; exit 2; }
    npm run build
    npm prune --omit=dev --no-audit --no-fund
    assemble "$2"
    ;;
  *)
    echo "usage: build.sh deps | build.sh app OUT_DIR" >&2
    exit 2
    ;;
esac
