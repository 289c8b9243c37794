#!/usr/bin/env bash
# End-to-end tests on a real node: uses the cluster KUBECONFIG points at, or
# brings the local single-node cluster up (and down again unless KEEP=1),
# installs the CRDs, and runs the Go tests behind the e2e build tag. Extra
# arguments go to `go test` (e.g. -run Memory, or -bench . -run '^$').
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster-lib.sh
. "$HERE/cluster-lib.sh"
cd "$CX_ROOT"
[ "$(id -u)" -eq 0 ] || { say "run as root: the local cluster and the node-side checks need it"; exit 1; }

use_or_start_cluster
if [ "$LOCAL_CLUSTER" = 1 ] && [ -z "${KEEP:-}" ]; then
  trap '"$HERE/cluster-down.sh" >&2 || true' EXIT
fi
install_crds
# The manager runs as its service account, judged by the admission
# policies bound to it, except where a test needs a testing-only flag those
# policies refuse (test/e2e/suite_test.go).
mkdir -p bin
install_manager_identity bin/manager-e2e.kubeconfig
E2E_MANAGER_KUBECONFIG=$CX_ROOT/bin/manager-e2e.kubeconfig
export E2E_MANAGER_KUBECONFIG
E2E_HOST_ADDRESS=${E2E_HOST_ADDRESS:-$(host_address)}
export E2E_HOST_ADDRESS RUNNER_IMAGE
say "go test -tags e2e ./test/e2e/ (runner image $RUNNER_IMAGE, host address $E2E_HOST_ADDRESS)"
go test -tags e2e ./test/e2e/ -count=1 -timeout 45m -v "$@"
