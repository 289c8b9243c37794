#!/usr/bin/env bash
# Vendors the browser runtime that JSX documents embed (React 18 and
# ReactDOM UMD builds, prop-types, recharts' UMD build) into
# internal/jsxbuild/runtime/, where go:embed picks it up.
#
# Pinned and verified: every package tarball and every extracted file must
# match the sha256 below, so the committed files can be re-created byte for
# byte from the npm registry. Idempotent: files already present with the
# right hash are left alone and nothing is downloaded.
#
#   hack/vendor-jsx-runtime.sh          # fetch what is missing or wrong
#   hack/vendor-jsx-runtime.sh --check  # verify only; exit 1 on a mismatch
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/internal/jsxbuild/runtime"
check_only=0
[ "${1:-}" = "--check" ] && check_only=1

# package@version  tarball-sha256  path-in-package  vendored-name  file-sha256
pins=(
  "react@18.3.1 8d9bed01a672e7eaf387942d781ad47c6a43089a30a0306060f9fd5ac7870347 umd/react.production.min.js react.production.min.js d949f1c3687aedadcedac85261865f29b17cd273997e7f6b2bfc53b2f9d4c4dd"
  "react-dom@18.3.1 031d4427a99f2f3f6cac18bbbf308594a67e4f47d10f4896fdec446505b040e0 umd/react-dom.production.min.js react-dom.production.min.js 35f4f974f4b2bcd44da73963347f8952e341f83909e4498227d4e26b98f66f0d"
  "prop-types@15.8.1 1c739eb05d8a462c286a4e9dd02f2ce5485c6fa3529244e9ff9b13a3671aa557 prop-types.min.js prop-types.min.js e653471aba824786aee5dce1bcb5a86ed30c8518d346d2ace0460a5633a9cbdb"
  "recharts@2.15.4 650407243c3cf94f412baf3fa9f1e081a9603772d5b6cabbc4f6715a6c9fe89b umd/Recharts.js recharts.min.js 7eaf8c65bba4d3b6847bd00011c359605b528b5cb12e13fce09180bfa7bd456f"
)

sha() { sha256sum "$1" | cut -c1-64; }

work=""
cleanup() { if [ -n "$work" ]; then rm -rf "$work"; fi; }
trap cleanup EXIT

status=0
mkdir -p "$dest/licenses"
for line in "${pins[@]}"; do
  read -r spec tgz_sha inner name file_sha <<<"$line"
  pkg="${spec%@*}"
  out="$dest/$name"
  lic="$dest/licenses/$pkg.LICENSE"
  if [ -f "$out" ] && [ "$(sha "$out")" = "$file_sha" ] && [ -f "$lic" ]; then
    echo "vendor-jsx-runtime: $name ($spec) up to date"
    continue
  fi
  if [ "$check_only" = 1 ]; then
    echo "vendor-jsx-runtime: $name is missing or does not match $spec" >&2
    status=1
    continue
  fi
  [ -n "$work" ] || work="$(mktemp -d)"
  echo "vendor-jsx-runtime: fetching $spec"
  tgz="$(cd "$work" && npm pack --silent "$spec" | tail -n1)"
  got="$(sha "$work/$tgz")"
  if [ "$got" != "$tgz_sha" ]; then
    echo "vendor-jsx-runtime: $spec tarball sha256 $got, want $tgz_sha" >&2
    exit 1
  fi
  mkdir -p "$work/$pkg"
  tar -xzf "$work/$tgz" -C "$work/$pkg" "package/$inner" package/LICENSE
  got="$(sha "$work/$pkg/package/$inner")"
  if [ "$got" != "$file_sha" ]; then
    echo "vendor-jsx-runtime: $spec $inner sha256 $got, want $file_sha" >&2
    exit 1
  fi
  install -m 0644 "$work/$pkg/package/$inner" "$out"
  install -m 0644 "$work/$pkg/package/LICENSE" "$lic"
  echo "vendor-jsx-runtime: wrote $out"
done
exit $status
