#!/usr/bin/env bash
# Builds the container image's file tree without a container engine, by replaying deploy/Dockerfile:
#   1. the build context = the repository's tracked files (git ls-files, working-tree content);
#   2. the build stage: every COPY and RUN after its first COPY, in order, in a clean directory
#      (RUN lines before the first COPY install system packages: this host must have python3, make, g++);
#   3. the runtime stage: its COPY --from=build lines, with /app mapped to OUT_DIR (a single file copied
#      from outside the build WORKDIR to outside /app, like the node binary, is the host's own: skipped).
# ARG values come from the environment as Docker's --build-arg would give them (NPM_REGISTRY; and
# EXTRA_CA_FILE for the CA the Dockerfile takes as a BuildKit secret: see deploy/build.sh).
# So the Dockerfile is the only list of what is copied and run; this script cannot drift from it, and it
# fails on a Dockerfile line it cannot replay faithfully (ENV/ADD/USER in the build stage, globs, --from
# elsewhere, runtime COPY from the context).
#
# Usage: scripts/image-build.sh [OUT_DIR]     (default: artifacts/image-root)
# Then:  node OUT_DIR/dist/cli/main.js --version
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockerfile=$repo/deploy/Dockerfile
out=${1:-$repo/artifacts/image-root}
case $out in /*) ;; *) out=$PWD/$out ;; esac
app_root=/app

for tool in git node npm python3 make g++ tar; do
  command -v "$tool" >/dev/null || { echo "image-build: $tool is required" >&2; exit 1; }
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" = 20 ] || echo "image-build: warning: Node $node_major here, the image uses Node 20" >&2

# Replace a previous tree, but never a directory that does not look like one.
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && [ ! -f "$out/dist/cli/main.js" ]; then
  echo "image-build: $out exists and is not an image tree; not replacing it" >&2
  exit 1
fi
rm -rf "$out"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tunmesh-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ctx=$tmp/context
work=$tmp/src
mkdir -p "$ctx" "$work"

# 1. Build context.
(cd "$repo" && git ls-files -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$ctx"

die() {
  echo "image-build: deploy/Dockerfile:$lineno: $*" >&2
  exit 1
}

# COPY SRC... DEST with Docker's semantics for the forms the Dockerfile uses: a source directory's
# contents go into DEST; a source file goes into DEST when DEST ends in '/', else becomes DEST.
copy() {
  local from_root=$1 to=$2
  shift 2
  local srcs=("$@")
  mkdir -p "$(dirname "$to")"
  [[ $to == */ || ${#srcs[@]} -gt 1 ]] && mkdir -p "$to"
  local s
  for s in "${srcs[@]}"; do
    [[ $s == *[*?[]* ]] && die "globs are not replayed: $s"
    local p=$from_root/$s
    if [ -d "$p" ]; then
      mkdir -p "$to"
      cp -a "$p/." "$to"
    elif [ -e "$p" ]; then
      cp -a "$p" "$to"
    else
      die "COPY source $s does not exist in the build context (is it tracked by git?)"
    fi
  done
}

# 2 + 3. Replay. Lines are joined across backslash continuations; comments and blanks are skipped.
stage='' workdir='' copied=0 lineno=0 start=0 logical=''
while IFS= read -r raw || [ -n "$raw" ]; do
  lineno=$((lineno + 1))
  [ -z "$logical" ] && start=$lineno
  [[ $raw =~ ^[[:space:]]*# && -z $logical ]] && continue
  if [[ $raw == *\\ ]]; then
    logical+="${raw%\\} "
    continue
  fi
  logical+=$raw
  line=$logical
  logical=''
  lineno_saved=$lineno
  lineno=$start
  read -r instr rest <<<"$line" || true
  instr=${instr^^}
  case $instr in
    '' | \#*) ;;
    FROM)
      [[ $rest =~ [[:space:]][Aa][Ss][[:space:]]+([A-Za-z0-9_-]+)$ ]] && stage=${BASH_REMATCH[1]} || stage=''
      ;;
    WORKDIR)
      [ "$stage" = build ] && workdir=$rest
      ;;
    COPY)
      read -r -a words <<<"$rest"
      from=''
      args=()
      for w in "${words[@]}"; do
        case $w in
          --from=*) from=${w#--from=} ;;
          --chown=* | --chmod=* | --link) ;;
          --*) die "COPY flag $w is not replayed" ;;
          \[*) die "JSON-form COPY is not replayed" ;;
          *) args+=("$w") ;;
        esac
      done
      [ ${#args[@]} -ge 2 ] || die "COPY needs a source and a destination"
      dest=${args[-1]}
      unset 'args[-1]'
      if [ "$stage" = build ]; then
        [ -z "$from" ] || die "COPY --from in the build stage is not replayed"
        [[ $dest == /* ]] && die "build-stage COPY destinations must be relative to WORKDIR"
        copy "$ctx" "$work/$dest" "${args[@]}"
        copied=1
      else
        [ "$from" = build ] || die "runtime-stage COPY must come from the build stage (--from=build)"
        # A file of the build stage's base image (the node binary) is system setup, like the RUN lines
        # before the first COPY: the host has its own.
        if [[ ${#args[@]} -eq 1 && ${args[0]} != "$workdir"/* && $dest != "$app_root" && $dest != "$app_root"/* ]]; then
          echo "image-build: skipping a system file (line $start): ${args[0]} -> $dest" >&2
        else
          [[ $dest == "$app_root" || $dest == "$app_root"/* ]] || die "runtime COPY destination outside $app_root"
          mapped=()
          for s in "${args[@]}"; do
            [[ $s == "$workdir"/* ]] || die "runtime COPY source $s is not under the build WORKDIR $workdir"
            mapped+=("${s#"$workdir"/}")
          done
          copy "$work" "$out${dest#"$app_root"}" "${mapped[@]}"
        fi
      fi
      ;;
    RUN)
      # BuildKit mounts (the extra_ca secret) are not replayed: build.sh reads EXTRA_CA_FILE on a host.
      while [[ $rest =~ ^--([a-z-]+)=[^[:space:]]*[[:space:]]+(.*)$ ]]; do
        [ "${BASH_REMATCH[1]}" = mount ] || die "RUN flag --${BASH_REMATCH[1]} is not replayed"
        rest=${BASH_REMATCH[2]}
      done
      if [ "$stage" = build ]; then
        if [ "$copied" = 0 ]; then
          echo "image-build: skipping system setup (line $start): ${rest:0:70}..." >&2
        else
          [[ $rest == *"$workdir"* ]] && die "RUN must use paths relative to WORKDIR, not $workdir: $rest"
          echo "image-build: RUN $rest" >&2
          (cd "$work" && sh -c "$rest") || die "RUN failed: $rest"
        fi
      fi
      ;;
    ENV | ADD | USER)
      [ "$stage" = build ] && die "$instr in the build stage is not replayed"
      ;;
    *) ;;
  esac
  lineno=$lineno_saved
done <"$dockerfile"

[ -f "$out/dist/cli/main.js" ] || { echo "image-build: $out/dist/cli/main.js is missing" >&2; exit 1; }
echo "image-build: runtime tree in $out: $(du -sh "$out" | cut -f1), $(find "$out" -type f | wc -l) files" >&2
echo "$out"
