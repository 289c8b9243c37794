#!/usr/bin/env bash
# make demo: a Python analytics execution over a CSV input, a SQL query
# against a MariaDB the demo starts with sample data, and a JSX chart, run
# end to end on a real cluster; prints `kubectl get cx` and the results.
# Uses the cluster KUBECONFIG points at when one answers, otherwise brings
# the local single-node cluster up. Tears everything down unless KEEP=1.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster-lib.sh
. "$HERE/cluster-lib.sh"
cd "$CX_ROOT"
T0=$(date +%s)
[ "$(id -u)" -eq 0 ] || { say "run as root: the local cluster needs it"; exit 1; }

MANAGER_PID=
cleanup() {
  if [ -n "$MANAGER_PID" ]; then kill "$MANAGER_PID" 2>/dev/null || true; wait "$MANAGER_PID" 2>/dev/null || true; fi
  if [ "$LOCAL_CLUSTER" = 1 ] && [ -z "${KEEP:-}" ]; then "$HERE/cluster-down.sh" >&2 || true; fi
}
trap cleanup EXIT

use_or_start_cluster
install_crds
DB_ADDRESS=${DEMO_DB_ADDRESS:-}
PULL=IfNotPresent
if [ "$LOCAL_CLUSTER" = 1 ]; then DB_ADDRESS=${DB_ADDRESS:-$(host_address)}; PULL=Never; fi

mkdir -p bin/demo
# The manager runs as its service account, judged by the admission
# policies bound to it (config/admission/sandbox-shape.yaml).
install_manager_identity bin/demo/manager.kubeconfig
go build -o bin/manager .
bin/manager --kubeconfig bin/demo/manager.kubeconfig --runner-image "$RUNNER_IMAGE" --runner-image-pull-policy "$PULL" \
  --metrics-bind-address 0 --health-probe-bind-address 0 >bin/demo/manager.log 2>&1 &
MANAGER_PID=$!
say "manager running (pid $MANAGER_PID, log bin/demo/manager.log)"

go run ./hack/demo --kubectl "$K" --db-address "$DB_ADDRESS" ${KEEP:+--keep}
say "done in $(( $(date +%s) - T0 ))s$([ -n "${KEEP:-}" ] && echo "; the cluster and the namespace are kept (KUBECONFIG=$KUBECONFIG)")"
