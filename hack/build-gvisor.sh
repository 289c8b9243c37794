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
#
# The shim is patched (a `go build -overlay`, the module cache untouched):
# `containerd-shim-runsc-v1 start` lowers the shim's oom_score_adj to -999,
# which needs CAP_SYS_RESOURCE; on a host without it (this project's VMs,
# where containerd's CRI runs with restrict_oom_score_adj for the same
# reason) every Pod under gVisor stayed ContainerCreating with "failed to set
# OOM Score on shim: ... permission denied". The patched shim goes on when
# the kernel refuses (EACCES), as containerd's own shims do when
# unprivileged; any other error still fails.
#
# The shim also answers `start` with containerd 2's JSON bootstrap
# parameters ({"version":2,"address":"unix://...","protocol":"ttrpc"}),
# which Debian 12's containerd 1.6 takes as a bare socket address ("dial
# unix \x00{...}: invalid argument": every gVisor Pod stayed
# ContainerCreating). containerd-shim-runsc-v1 is therefore a small wrapper
# that prints only the address on `start` and runs the real shim
# (containerd-shim-runsc-v1.real) for everything else.
SHIM_PATCH=oom-score-eacces-1+bootstrap-address-1
stamp="$OUT/.version"
shim_stamp="$OUT/.shim-version"
runsc_ok() {
  local v
  [ -x "$OUT/runsc" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$GVISOR_VERSION" ] &&
    v=$("$OUT/runsc" --version 2>/dev/null) && [[ $v == *"$GVISOR_VERSION"* ]]
}
shim_ok() {
  [ -x "$OUT/containerd-shim-runsc-v1" ] && [ "$(cat "$shim_stamp" 2>/dev/null)" = "$GVISOR_VERSION $SHIM_PATCH" ]
}
if runsc_ok && shim_ok; then
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi

t0=$(date +%s)
tmp=$(mktemp -d "$OUT/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ldflags="-s -w -X gvisor.dev/gvisor/runsc/version.version=$GVISOR_VERSION"
if ! runsc_ok; then
  log "building runsc $GVISOR_VERSION (cold: half an hour on 2 cores)"
  # GOBIN install from the module cache: gVisor's go.mod has no replace
  # directives, so `go install pkg@version` works without a wrapper module.
  GOBIN="$tmp" go install -trimpath -ldflags "$ldflags" "gvisor.dev/gvisor/runsc@$GVISOR_VERSION" || die "go install runsc failed"
  mv -f "$tmp/runsc" "$OUT/runsc"
  echo "$GVISOR_VERSION" >"$stamp"
  runsc_ok || die "runsc built but does not report $GVISOR_VERSION"
fi
if ! shim_ok; then
  log "building containerd-shim-runsc-v1 $GVISOR_VERSION ($SHIM_PATCH)"
  (cd / && go mod download gvisor.dev/gvisor@"$GVISOR_VERSION") || die "go mod download failed"
  mod="$(cd / && go list -m -f '{{.Dir}}' gvisor.dev/gvisor@"$GVISOR_VERSION")"
  [ -d "$mod" ] || die "gvisor.dev/gvisor@$GVISOR_VERSION is not in the module cache"
  # A writable copy of the module to patch (go's -overlay refuses files in
  # the module cache); the same import paths, so the build cache still
  # serves runsc's packages.
  cp -r "$mod" "$tmp/gvisor" && chmod -R u+w "$tmp/gvisor"
  src="$tmp/gvisor/pkg/shim/v1/manager.go"
  needle='sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil {'
  [ "$(grep -cF "$needle" "$src")" = 1 ] || die "$src changed: the oom_score_adj patch no longer applies"
  sed -i "s/sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil {/sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil \&\& !os.IsPermission(err) {/" "$src"
  grep -qF 'err != nil && !os.IsPermission(err) {' "$src" || die "the oom_score_adj patch did not apply"
  (cd "$tmp/gvisor" && go build -trimpath -ldflags "$ldflags" -o "$tmp/shim" ./shim) || die "go build shim failed"
  mv -f "$tmp/shim" "$OUT/containerd-shim-runsc-v1.real"
  cat >"$tmp/wrapper" <<'EOW'
#!/bin/sh
# containerd 1.6 reads `start`'s output as a bare address; the real shim
# prints containerd 2's JSON bootstrap parameters (hack/build-gvisor.sh).
real="$(dirname "$0")/containerd-shim-runsc-v1.real"
case " $* " in
*" start "*)
  out=$("$real" "$@") || exit $?
  case "$out" in
  "{"*) printf '%s' "$out" | sed -n 's/.*"address":"\([^"]*\)".*/\1/p' ;;
  *) printf '%s' "$out" ;;
  esac
  ;;
*) exec "$real" "$@" ;;
esac
EOW
  chmod 0755 "$tmp/wrapper"
  mv -f "$tmp/wrapper" "$OUT/containerd-shim-runsc-v1"
  echo "$GVISOR_VERSION $SHIM_PATCH" >"$shim_stamp"
fi
log "built in $(( $(date +%s) - t0 ))s: $OUT"
echo "$OUT"
