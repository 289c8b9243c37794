#!/usr/bin/env bash
# Builds gVisor's runsc and containerd-shim-runsc-v1 from the Go module proxy
# (module gvisor.dev/gvisor, published from gVisor's "go" branch) and caches
# them under bin/gvisor/<version>/. Idempotent: a binary that is present and
# reports the pinned version is not rebuilt.
#
#   hack/build-gvisor.sh               # build (or reuse) and print the directory
#   hack/build-gvisor.sh --print-dir   # print the directory and exit
#
# Environment:
#   GVISOR_VERSION  module version (default: the pin below; "latest" asks the proxy)
#   GVISOR_BIN_DIR  root of the cache (default $CX_BIN_DIR/gvisor, CX_BIN_DIR=<repo>/bin)
#
# Cold build on 2 cores: ~10-15 min (runsc is a large program); ~300 MB of modules.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Pinned: a pseudo-version of gVisor's go branch that resolves on the proxy.
GVISOR_VERSION=${GVISOR_VERSION:-v0.0.0-20260905035102-160fafc42237}
GVISOR_BIN_DIR=${GVISOR_BIN_DIR:-${CX_BIN_DIR:-$ROOT/bin}/gvisor}

log() { printf '[build-gvisor %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

export GOWORK=off GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"

if [ "$GVISOR_VERSION" = latest ]; then
  GVISOR_VERSION=$(cd / && go list -m -f '{{.Version}}' gvisor.dev/gvisor@latest) || die "cannot resolve gvisor.dev/gvisor@latest"
fi
OUT="$GVISOR_BIN_DIR/$GVISOR_VERSION"

case "${1:-}" in
  --print-dir) echo "$OUT"; exit 0 ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  "") ;;
  *) die "unknown argument $1" ;;
esac

mkdir -p "$OUT"
exec 9>"$GVISOR_BIN_DIR/.lock"
if ! flock -n 9; then
  log "another build-gvisor.sh holds $GVISOR_BIN_DIR/.lock; waiting"
  flock 9
fi

# Both binaries are built with the version stamped in; runsc prints it.
stamp="$OUT/.version"
ok() {
  [ -x "$OUT/runsc" ] && [ -x "$OUT/containerd-shim-runsc-v1" ] &&
    [ "$(cat "$stamp" 2>/dev/null)" = "$GVISOR_VERSION" ] &&
    "$OUT/runsc" --version 2>/dev/null | grep -q "$GVISOR_VERSION"
}
if ok; then
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi

t0=$(date +%s)
tmp=$(mktemp -d "$OUT/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "building runsc and containerd-shim-runsc-v1 $GVISOR_VERSION (cold: many minutes on 2 cores)"
# GOBIN install from the module cache: gVisor's go.mod has no replace
# directives, so `go install pkg@version` works without a wrapper module.
GOBIN="$tmp" go install \
  -trimpath \
  -ldflags "-s -w -X gvisor.dev/gvisor/runsc/version.version=$GVISOR_VERSION" \
  "gvisor.dev/gvisor/runsc@$GVISOR_VERSION" \
  "gvisor.dev/gvisor/shim@$GVISOR_VERSION" || die "go install failed"
mv -f "$tmp/runsc" "$OUT/runsc"
mv -f "$tmp/shim" "$OUT/containerd-shim-runsc-v1"
echo "$GVISOR_VERSION" >"$stamp"
ok || die "runsc built but does not report $GVISOR_VERSION"
log "built in $(( $(date +%s) - t0 ))s: $OUT"
echo "$OUT"
