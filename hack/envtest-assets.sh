#!/usr/bin/env bash
# Prints the absolute KUBEBUILDER_ASSETS directory (kube-apiserver, etcd,
# kubectl for controller-runtime's envtest) after making sure the three
# binaries are built (hack/build-k8s.sh; cached under bin/k8s, a no-op when
# present). Only the directory goes to stdout; progress goes to stderr.
#
#   KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)" go test ./...
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/build-k8s.sh" kube-apiserver etcd kubectl >&2
dir=$("$here/build-k8s.sh" --print-dir)
for b in kube-apiserver etcd kubectl; do
  [ -x "$dir/$b" ] || { echo "envtest-assets: $dir/$b missing" >&2; exit 1; }
done
echo "$dir"
