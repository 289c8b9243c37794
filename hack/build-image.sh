#!/usr/bin/env bash
# Builds the project's container images without a registry or Docker, as OCI
# image archives, and imports them into the local cluster's containerd.
#
#   hack/build-image.sh                      # pause runner (+ manager if it exists), import if containerd answers
#   hack/build-image.sh runner               # just the runner image
#   hack/build-image.sh --no-import pause    # archives only
#   hack/build-image.sh --import             # fail if containerd is not reachable
#
# Images (override with env): PAUSE_IMAGE=codeexec.io/pause:dev,
# RUNNER_IMAGE=codeexec.io/runner:dev, MANAGER_IMAGE=codeexec.io/manager:dev.
# Archives: bin/images/<name>.oci.tar (IMAGE_CACHE_DIR). Import target:
# CONTAINERD_ADDRESS (default: the socket of hack/cluster-up.sh's containerd).
#
# Runner image = the layout of runner-image/Dockerfile: Debian bookworm
# (minbase) with python3, python3-pandas, python3-numpy from Debian's
# packages (no recommends, apt lists removed, setuid/setgid bits stripped),
# built with debootstrap and cached as a layer tarball keyed by its inputs;
# the runner (CGO_ENABLED=0, -trimpath -s -w) at /usr/local/bin/runner as
# entrypoint, its runner_slim build, with the full build beside it as
# /usr/local/bin/runner-full; USER 65532:65532; WORKDIR /tmp. Manager image = the root
# Dockerfile's: /manager on a distroless-like base (passwd with nonroot
# 65532, CA bundle, /tmp), USER 65532:65532. Every layer is cached by content hash, the image config and
# manifest are deterministic, and an import is skipped when containerd already
# has the same manifest digest.
#
# Env: DEBIAN_MIRROR (http://deb.debian.org/debian), DEBIAN_SUITE (bookworm),
# RUNNER_PACKAGES (python3,python3-pandas,python3-numpy).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster-env.sh
. "$HERE/cluster-env.sh"
ROOT=$CX_ROOT

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
RUNNER_PACKAGES=${RUNNER_PACKAGES:-python3,python3-pandas,python3-numpy}
NONROOT_UID=65532

log() { printf '[build-image %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

import_mode=auto
images=()
for arg in "$@"; do
  case "$arg" in
    --import) import_mode=yes ;;
    --no-import) import_mode=no ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    pause|runner|manager) images+=("$arg") ;;
    *) die "unknown argument $arg" ;;
  esac
done
if [ ${#images[@]} -eq 0 ]; then
  images=(pause runner)
  if [ -f "$ROOT/main.go" ] || [ -d "$ROOT/cmd/manager" ]; then images+=(manager); fi
fi

BLOBS="$IMAGE_CACHE_DIR/blobs/sha256"
mkdir -p "$BLOBS" "$IMAGE_CACHE_DIR/tmp"
exec 8>"$IMAGE_CACHE_DIR/.lock"
flock 8

export GOWORK=off CGO_ENABLED=0 GOOS=linux GOARCH=amd64
WORK=$(mktemp -d "$IMAGE_CACHE_DIR/tmp/work.XXXXXX")
cleanup() {
  # a failed debootstrap can leave its /proc and /sys mounts behind
  if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
    { grep -o " $WORK/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

sha() { sha256sum "$1" | cut -d' ' -f1; }

# add_blob <file>: moves the file into the blob store, prints "<digest> <size>".
add_blob() {
  local d s
  d=$(sha "$1"); s=$(stat -c %s "$1")
  if [ -f "$BLOBS/$d" ]; then rm -f "$1"; else mv "$1" "$BLOBS/$d"; fi
  echo "$d $s"
}

# tar_dir <dir> <out.tar>: a reproducible, uncompressed layer tar.
tar_dir() {
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
      --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -C "$1" -cf "$2" .
}

go_build() { # go_build <out> <pkg> [go build flags...]
  local out="$1" pkg="$2"
  shift 2
  (cd "$ROOT" && go build -trimpath -ldflags "-s -w" "$@" -o "$out" "$pkg")
}

# The Debian root filesystem layer, cached under a key made of its inputs.
rootfs_layer() {
  local key cached t0
  key=$(printf '%s\n' v3 "$DEBIAN_MIRROR" "$DEBIAN_SUITE" "$RUNNER_PACKAGES" "$NONROOT_UID" | sha256sum | cut -c1-16)
  cached="$IMAGE_CACHE_DIR/rootfs-$DEBIAN_SUITE-$key.layer"
  if [ -f "$cached" ]; then cat "$cached"; return; fi
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
  }
  t0=$(date +%s)
  local rfs="$WORK/rootfs"
  log "debootstrap $DEBIAN_SUITE minbase + $RUNNER_PACKAGES (first time only, a few minutes)"
  debootstrap --variant=minbase --include="$RUNNER_PACKAGES" "$DEBIAN_SUITE" "$rfs" "$DEBIAN_MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # what debian:bookworm-slim leaves out, and what a container must not carry
  rm -rf "$rfs"/var/cache/apt/archives/*.deb "$rfs"/var/cache/apt/*.bin "$rfs"/var/lib/apt/lists/* \
         "$rfs"/var/log/* "$rfs"/usr/share/man/* "$rfs"/usr/share/info/* "$rfs"/tmp/* \
         "$rfs"/var/cache/debconf/*-old "$rfs"/var/lib/dpkg/*-old
  find "$rfs/usr/share/doc" -type f ! -name copyright -delete 2>/dev/null || true
  find "$rfs/usr/share/doc" -depth -type d -empty -delete 2>/dev/null || true
  find "$rfs/dev" -mindepth 1 -delete   # the runtime provides /dev
  find "$rfs" -name __pycache__ -type d -prune -exec rm -rf {} +
  # as runner-image/Dockerfile: no setuid or setgid binaries
  find "$rfs" -xdev -perm /6000 -type f -exec chmod a-s {} +
  chmod 1777 "$rfs/tmp"
  tar_dir "$rfs" "$WORK/rootfs.tar"
  rm -rf "$rfs"
  add_blob "$WORK/rootfs.tar" >"$cached.tmp"
  mv "$cached.tmp" "$cached"
  # older root filesystems (other inputs) go; prune_blobs then drops their blobs
  find "$IMAGE_CACHE_DIR" -maxdepth 1 -name 'rootfs-*.layer' ! -path "$cached" -delete
  log "rootfs layer built in $(( $(date +%s) - t0 ))s ($(awk '{printf "%d MiB", $2/1048576}' "$cached"))"
  cat "$cached"
}

# files_layer <dir>: tar a staged directory as a layer, prints "<digest> <size>".
files_layer() { tar_dir "$1" "$WORK/files.tar" && add_blob "$WORK/files.tar"; }

# A distroless-like base: passwd/group with the non-root user, CA bundle, /tmp.
base_layer() {
  local d="$WORK/base"
  mkdir -p "$d/etc/ssl/certs" "$d/tmp"
  chmod 1777 "$d/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%s:%s:nonroot:/home/nonroot:/sbin/nologin\n' "$NONROOT_UID" "$NONROOT_UID" >"$d/etc/passwd"
  printf 'root:x:0:\nnonroot:x:%s:\n' "$NONROOT_UID" >"$d/etc/group"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt "$d/etc/ssl/certs/"; fi
  files_layer "$d"
}

# write_image <name> <ref> <config-json-without-rootfs> <layer-line>...
# layer-line = "<digest> <size>". Writes bin/images/<name>.oci.tar and
# bin/images/<name>.digest (the manifest digest); skips when unchanged.
write_image() {
  local name=$1 ref=$2 cfg=$3; shift 3
  local diffs="" layers="" sep="" d s
  for l in "$@"; do
    read -r d s <<<"$l"
    diffs+="$sep\"sha256:$d\""
    layers+="$sep{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$d\",\"size\":$s}"
    sep=","
  done
  local cfgf="$WORK/config.json" mf="$WORK/manifest.json" cd cs md ms
  printf '%s' "${cfg%\}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diffs]}}" >"$cfgf"
  read -r cd cs < <(add_blob "$cfgf")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$cd" "$cs" "$layers" >"$mf"
  read -r md ms < <(add_blob "$mf")
  local out="$IMAGE_CACHE_DIR/$name.oci.tar"
  if [ -f "$out" ] && [ "$(cat "$IMAGE_CACHE_DIR/$name.digest" 2>/dev/null)" = "sha256:$md $ref" ]; then
    log "$ref: unchanged (sha256:${md:0:12})"
    return
  fi
  local lay="$WORK/layout-$name"
  mkdir -p "$lay/blobs/sha256"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$md" "$ms" "$ref" "${ref##*:}" >"$lay/index.json"
  for l in "$cd" "$md" "$@"; do
    d=${l%% *}
    ln "$BLOBS/$d" "$lay/blobs/sha256/$d" 2>/dev/null || cp "$BLOBS/$d" "$lay/blobs/sha256/$d"
  done
  tar -C "$lay" -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"
  echo "sha256:$md $ref" >"$IMAGE_CACHE_DIR/$name.digest"
  rm -rf "$lay"
  log "$ref: wrote $out (sha256:${md:0:12}, $(( $(stat -c %s "$out") / 1048576 )) MiB)"
}

config_json() { # config_json <user> <entrypoint-json> <env-json> [workdir]
  printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"User":"%s","Entrypoint":%s,"Env":%s,"WorkingDir":"%s"}}' "$1" "$2" "$3" "${4:-/}"
}
PATH_ENV='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'

build_pause() {
  local layer d="$WORK/pause"
  mkdir -p "$d"
  go_build "$d/pause" ./hack/pause
  layer=$(files_layer "$d")
  write_image pause "$PAUSE_IMAGE" "$(config_json 65535:65535 '["/pause"]' "[$PATH_ENV]")" "$layer"
}

build_runner() {
  local base layer d="$WORK/runner"
  base=$(rootfs_layer)
  mkdir -p "$d/usr/local/bin"
  # runner links only what JSX needs and hands Python and SQL over to
  # runner-full beside it (internal/runner/handoff.go).
  go_build "$d/usr/local/bin/runner" ./cmd/runner -tags runner_slim
  go_build "$d/usr/local/bin/runner-full" ./cmd/runner
  layer=$(files_layer "$d")
  write_image runner "$RUNNER_IMAGE" \
    "$(config_json "$NONROOT_UID:$NONROOT_UID" '["/usr/local/bin/runner"]' "[$PATH_ENV]" /tmp)" \
    "$base" "$layer"
}

build_manager() {
  local pkg=. base layer d="$WORK/manager"
  [ -d "$ROOT/cmd/manager" ] && pkg=./cmd/manager
  [ -f "$ROOT/main.go" ] || [ "$pkg" != . ] || { log "manager: no main.go or cmd/manager yet; skipped"; return; }
  base=$(base_layer)
  mkdir -p "$d"
  go_build "$d/manager" "$pkg"
  layer=$(files_layer "$d")
  write_image manager "$MANAGER_IMAGE" "$(config_json "$NONROOT_UID:$NONROOT_UID" '["/manager"]' "[$PATH_ENV]")" \
    "$base" "$layer"
}

t0=$(date +%s)
for i in "${images[@]}"; do "build_$i"; done

# Drop blobs no current image or cached rootfs refers to (old runner layers).
prune_blobs() {
  local keep="$WORK/keep" f d
  : >"$keep"
  for f in "$IMAGE_CACHE_DIR"/*.digest; do
    [ -f "$f" ] || continue
    d=$(cut -d' ' -f1 "$f"); d=${d#sha256:}
    echo "$d" >>"$keep"
    [ -f "$BLOBS/$d" ] && { grep -oE 'sha256:[0-9a-f]{64}' "$BLOBS/$d" || true; } | cut -d: -f2 >>"$keep"
  done
  for f in "$IMAGE_CACHE_DIR"/rootfs-*.layer; do [ -f "$f" ] && cut -d' ' -f1 "$f" >>"$keep"; done
  # a config blob's diff_ids are layer digests too (uncompressed layers)
  sort -u "$keep" | while read -r d; do
    [ -f "$BLOBS/$d" ] && [ "$(stat -c %s "$BLOBS/$d")" -lt 65536 ] &&
      { grep -oE 'sha256:[0-9a-f]{64}' "$BLOBS/$d" || true; } | cut -d: -f2
    true
  done >>"$keep.more"
  cat "$keep.more" >>"$keep"
  for f in "$BLOBS"/*; do
    [ -f "$f" ] || continue
    grep -qx "$(basename "$f")" "$keep" || rm -f "$f"
  done
}
prune_blobs

# Import into containerd (the k8s.io namespace is the one the CRI plugin uses).
if [ "$import_mode" != no ]; then
  if ! ctr -a "$CONTAINERD_ADDRESS" version >/dev/null 2>&1; then
    [ "$import_mode" = yes ] && die "containerd not reachable at $CONTAINERD_ADDRESS"
    log "containerd not running at $CONTAINERD_ADDRESS; archives built, import skipped"
  else
    for i in "${images[@]}"; do
      [ -f "$IMAGE_CACHE_DIR/$i.digest" ] || continue
      read -r dg ref <"$IMAGE_CACHE_DIR/$i.digest"
      have=$(ctr -a "$CONTAINERD_ADDRESS" -n k8s.io images ls "name==$ref" 2>/dev/null | awk 'NR>1{print $3}')
      if [ "$have" = "$dg" ]; then log "$ref: already in containerd"; continue; fi
      ti=$(date +%s)
      # Replacing a tag unreferences the old image's layers, and containerd's
      # garbage collector can remove a parent snapshot between the import's
      # check for it and its use ("parent snapshot ... does not exist"):
      # a second import finds the tree as it then is.
      tries=0
      until ctr -a "$CONTAINERD_ADDRESS" -n k8s.io images import "$IMAGE_CACHE_DIR/$i.oci.tar" >/dev/null; do
        tries=$((tries + 1))
        [ "$tries" -lt 3 ] || die "import of $ref failed ($tries attempts)"
        log "$ref: import failed, retrying"
        sleep 2
      done
      ctr -a "$CONTAINERD_ADDRESS" -n k8s.io images ls "name==$ref" | grep -q "$dg" || die "$ref not found after import"
      log "$ref: imported into containerd in $(( $(date +%s) - ti ))s"
    done
  fi
fi
log "done in $(( $(date +%s) - t0 ))s"
