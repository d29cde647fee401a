#!/usr/bin/env bash
# Builds the worker image (docker/Dockerfile + the ci-agent binary), or the gateway's.
#
#   docker/build-image.sh [--profile standard|full|gateway] [--agent PATH] [--tag NAME:TAG] [--mirror URL] [--verbose]
#
# --profile standard (default) builds the lean image code-interpreter-worker:latest; full builds
# code-interpreter-worker:full, which adds the libraries and tools of docker/capabilities.txt.
# Both share the standard package layer in Docker's cache. gateway builds
# code-interpreter-gateway:latest (docker/gateway/Dockerfile: ci-gateway and the plugins from
# build/, for deploy/kubernetes/).
#
# 1. Ensures the base image code-interpreter-base:bookworm: `docker pull debian:bookworm-slim` when a
#    registry answers, otherwise a debootstrap (minbase) of bookworm from the host's Debian mirror,
#    imported with `docker import` (--mirror overrides the mirror read from /etc/apt).
# 2. Hashes the profile, the Dockerfile, the agent binary, the kernel module (worker/kernel/ci_kernel.py),
#    this script and the base image id; when the tag already carries that hash (label
#    code-interpreter.image-hash) it is up to date and nothing is built. Otherwise builds from a
#    temporary context (Dockerfile + agent + kernel module) with the legacy builder, then
#    removes our own untagged leftovers of earlier builds.
# Needs: docker (daemon running), and debootstrap + root when the base has to be bootstrapped.
set -euo pipefail

readonly BASE_TAG=code-interpreter-base:bookworm
readonly PULL_IMAGE=debian:bookworm-slim
readonly PULL_TIMEOUT=30
readonly HASH_LABEL=code-interpreter.image-hash

script_path=$(readlink -f "${BASH_SOURCE[0]}")
script_dir=$(dirname "$script_path")
repo_dir=$(dirname "$script_dir")
readonly kernel_module="$repo_dir/worker/kernel/ci_kernel.py"

agent=""
profile=standard
tag=""
mirror_override=""
verbose=0

die() { echo "build-image: error: $*" >&2; exit 1; }
step() { echo "build-image: $*"; }
usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$script_path"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --profile) [ $# -ge 2 ] || die "--profile needs standard or full"; profile=$2; shift 2 ;;
    --profile=*) profile=${1#*=}; shift ;;
    --agent) [ $# -ge 2 ] || die "--agent needs a path"; agent=$2; shift 2 ;;
    --agent=*) agent=${1#*=}; shift ;;
    --tag) [ $# -ge 2 ] || die "--tag needs a name"; tag=$2; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --mirror) [ $# -ge 2 ] || die "--mirror needs a URL"; mirror_override=$2; shift 2 ;;
    --mirror=*) mirror_override=${1#*=}; shift ;;
    -v|--verbose) verbose=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

start_s=$(date +%s.%N)
elapsed() { awk -v a="$start_s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Temporary files, removed on every exit path. A debootstrap that died half-way may leave proc/sys
# mounted inside its target: unmount those before deleting, and never cross into another fs.
tmp_dirs=()
cleanup() {
  local d m
  for d in "${tmp_dirs[@]}"; do
    [ -d "$d" ] || continue
    if command -v findmnt >/dev/null; then
      findmnt -rn -o TARGET | awk -v p="$d/" 'index($0, p) == 1' | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
      done
    fi
    rm -rf --one-file-system "$d" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Sets REPLY (not echoed: a command substitution would run in a subshell and lose tmp_dirs).
new_tmp_dir() {
  REPLY=$(mktemp -d "${TMPDIR:-/tmp}/ci-image-$1.XXXXXX") || die "cannot create a temporary directory"
  tmp_dirs+=("$REPLY")
}

# --- checks --------------------------------------------------------------------------------------
command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (try scripts/ensure-dockerd.sh)"
[ -f "$script_dir/Dockerfile" ] || die "missing $script_dir/Dockerfile"
readonly gateway_binary="$repo_dir/build/bin/ci-gateway"
readonly gateway_plugins=(libci_auth_token.so libci_kubernetes_backend.so libci_docker_backend.so)
if [ "$profile" = gateway ]; then
  [ -x "$gateway_binary" ] || die "no gateway binary at $gateway_binary: build it first (scripts/build.sh)"
  for p in "${gateway_plugins[@]}"; do
    [ -f "$repo_dir/build/plugins/$p" ] || die "no plugin at $repo_dir/build/plugins/$p: build it first (scripts/build.sh)"
  done
elif [ -z "$agent" ]; then
  agent="$repo_dir/build/bin/ci-agent"
  [ -f "$agent" ] || die "no agent binary at $agent: build it (cmake --build build --target ci-agent) or pass --agent PATH"
fi
if [ "$profile" != gateway ]; then
  [ -f "$agent" ] || die "agent binary '$agent' does not exist"
  [ -x "$agent" ] || die "agent binary '$agent' is not executable"
fi
case "$profile" in
  standard) tag=${tag:-code-interpreter-worker:latest} ;;
  full) tag=${tag:-code-interpreter-worker:full} ;;
  gateway) tag=${tag:-code-interpreter-gateway:latest} ;;
  *) die "unknown profile '$profile' (standard, full or gateway)" ;;
esac
case "$tag" in *:*) ;; *) tag="$tag:latest" ;; esac

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# --- 1. base image -------------------------------------------------------------------------------
host_mirror() {
  # The first non-security Debian URI of the host's apt sources (deb822 first, then one-line).
  local uri=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
          /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) { if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; continue }
                                                 if ($i !~ /security/) print $i; exit } }' /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}
host_security_mirror() {
  local uri=""
  # Comment lines skipped: Debian's cloud images name a snapshot.debian.org URL in one.
  uri=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | grep -v '^[[:space:]]*#' |
        grep -oE 'https?://[^ ]*debian-security[^ ]*' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian-security}"
}

bootstrap_base() {
  command -v debootstrap >/dev/null || die "no registry and debootstrap is not installed (apt-get install debootstrap)"
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root (run this script as root once to make $BASE_TAG)"
  local mirror security dir rootfs log
  mirror=${mirror_override:-$(host_mirror)}
  security=$(host_security_mirror)
  new_tmp_dir base
  dir=$REPLY
  rootfs="$dir/rootfs"
  log="$dir/debootstrap.log"
  step "1/3 base: debootstrap --variant=minbase bookworm from $mirror"
  if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
    die "debootstrap of bookworm from $mirror failed (output above)"
  fi
  # Like debian:bookworm-slim: apt sources for updates and security, no docs/man/locales from later
  # installs, no recommends, no package caches.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  if [ -z "$rootfs" ] || [ "$rootfs" = / ]; then die "internal error: empty rootfs path"; fi
  rm -rf "${rootfs:?}/usr/share/man/"* "${rootfs:?}/usr/share/info/"* "${rootfs:?}/usr/share/locale/"* \
         "${rootfs:?}/var/cache/apt/"*.bin "${rootfs:?}/var/cache/apt/archives/"*.deb \
         "${rootfs:?}/var/lib/apt/lists/"* "${rootfs:?}/var/log/"*.log "${rootfs:?}/debootstrap" \
         "${rootfs:?}/dev/"* "${rootfs:?}/proc/"* "${rootfs:?}/sys/"* "${rootfs:?}/tmp/"* 2>/dev/null || true
  step "1/3 base: importing the root file system as $BASE_TAG"
  tar --numeric-owner -C "$rootfs" -c . |
    docker import --change 'CMD ["/bin/bash"]' --message "debootstrap --variant=minbase bookworm $mirror" \
      - "$BASE_TAG" >/dev/null || die "docker import of the bootstrapped root file system failed"
  cleanup; tmp_dirs=()
}

if image_exists "$BASE_TAG"; then
  step "1/3 base: $BASE_TAG present"
else
  step "1/3 base: $BASE_TAG absent; trying docker pull $PULL_IMAGE (timeout ${PULL_TIMEOUT}s)"
  if timeout "$PULL_TIMEOUT" docker pull -q "$PULL_IMAGE" >/dev/null 2>&1 && docker tag "$PULL_IMAGE" "$BASE_TAG"; then
    step "1/3 base: pulled $PULL_IMAGE and tagged it $BASE_TAG"
  else
    step "1/3 base: pull failed (no registry?); bootstrapping instead"
    bootstrap_base
  fi
  step "1/3 base: done ($(elapsed) s)"
fi
base_id=$(docker image inspect --format '{{.Id}}' "$BASE_TAG")

# --- 2. up to date? ------------------------------------------------------------------------------
hash=$( {
  echo "base $base_id"
  echo "profile $profile"
  if [ "$profile" = gateway ]; then
    sha256sum "$script_dir/gateway/Dockerfile" "$gateway_binary" | cut -d' ' -f1
    for p in "${gateway_plugins[@]}"; do sha256sum "$repo_dir/build/plugins/$p" | cut -d' ' -f1; done
  else
    sha256sum "$script_dir/Dockerfile" "$agent" "$kernel_module" | cut -d' ' -f1
  fi
  sha256sum "$script_path" | cut -d' ' -f1
} | sha256sum | cut -d' ' -f1)
current=""
if image_exists "$tag"; then
  current=$(docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$tag" 2>/dev/null || true)
fi
if [ "$current" = "$hash" ]; then
  step "2/3 $tag is up to date (hash ${hash:0:12}); nothing to build ($(elapsed) s)"
  exit 0
fi
step "2/3 hash ${hash:0:12}: $tag ${current:+is at ${current:0:12}, }needs a build"

# --- 3. build ------------------------------------------------------------------------------------
new_tmp_dir context
ctx=$REPLY
if [ "$profile" = gateway ]; then
  cp "$script_dir/gateway/Dockerfile" "$ctx/Dockerfile"
  install -m 0755 "$gateway_binary" "$ctx/ci-gateway"
  mkdir "$ctx/plugins"
  for p in "${gateway_plugins[@]}"; do install -m 0644 "$repo_dir/build/plugins/$p" "$ctx/plugins/$p"; done
  step "3/3 building $tag from $BASE_TAG with $gateway_binary and its plugins"
else
  cp "$script_dir/Dockerfile" "$ctx/Dockerfile"
  cp "$agent" "$ctx/ci-agent"
  chmod 0755 "$ctx/ci-agent"
  cp "$kernel_module" "$ctx/ci_kernel.py"
  step "3/3 building $tag (profile $profile) from $BASE_TAG with agent $(readlink -f "$agent")"
fi
build_args=(--build-arg "BASE_IMAGE=$BASE_TAG" --build-arg "IMAGE_HASH=$hash")
[ "$profile" = gateway ] || build_args+=(--build-arg "PROFILE=$profile")
build=(env DOCKER_BUILDKIT=0 docker build --force-rm --rm "${build_args[@]}" -t "$tag" "$ctx")
if [ "$verbose" -eq 1 ]; then
  "${build[@]}" || die "docker build failed (output above)"
else
  log="$ctx/build.log"
  if ! "${build[@]}" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "docker build failed (last 40 lines above; rerun with --verbose for everything)"
  fi
fi
# Our earlier builds of this tag are now untagged: remove them (only dangling images carrying our
# label; the cached package layer of the current build is kept because the new image uses it).
docker image prune -f --filter "label=$HASH_LABEL" >/dev/null 2>&1 || true
size=$(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')
step "3/3 built $tag ($size, hash ${hash:0:12}) in $(elapsed) s total"
