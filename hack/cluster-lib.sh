# Helpers shared by hack/demo.sh and hack/test-e2e.sh. Sourced.
# shellcheck shell=bash

HERE=${HERE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
# shellcheck source=hack/cluster-env.sh
. "$HERE/cluster-env.sh"
K="$("$HERE/build-k8s.sh" --print-dir)/kubectl"
LOCAL_CLUSTER=0

say() { printf '[%s %s] %s\n' "$(basename "$0" .sh)" "$(date -u +%H:%M:%S)" "$*" >&2; }

# use_or_start_cluster: use the cluster KUBECONFIG points at when it
# answers; otherwise bring the local one up (LOCAL_CLUSTER=1).
use_or_start_cluster() {
  "$HERE/build-k8s.sh" kubectl >&2
  if [ -n "${KUBECONFIG:-}" ] && "$K" get --raw /readyz >/dev/null 2>&1; then
    say "using the cluster KUBECONFIG points at ($KUBECONFIG)"
    return
  fi
  say "no cluster answers: bringing the local single-node cluster up"
  eval "$("$HERE/cluster-up.sh")"
  export KUBECONFIG
  LOCAL_CLUSTER=1
}

# host_address prints the host's address on the local cluster's Pod bridge
# (the first address of the Pod subnet, which host-local IPAM never hands
# to a Pod), creating the bridge and the address when missing. Pods reach
# the host there and nowhere else: the bridge has no gateway and no
# masquerade. hack/cluster-down.sh removes the bridge.
host_address() {
  local net=${CLUSTER_POD_SUBNET%/*} bits=${CLUSTER_POD_SUBNET#*/}
  local addr=${CLUSTER_HOST_ADDRESS:-${net%.*}.$(( ${net##*.} + 1 ))}
  ip link show "$CLUSTER_BRIDGE" >/dev/null 2>&1 || ip link add "$CLUSTER_BRIDGE" type bridge
  ip link set "$CLUSTER_BRIDGE" up
  ip -4 addr show dev "$CLUSTER_BRIDGE" | grep -q "inet $addr/" || ip addr add "$addr/$bits" dev "$CLUSTER_BRIDGE"
  echo "$addr"
}

# install_crds applies the CRDs and the admission policy and waits for them.
install_crds() {
  "$K" apply --server-side -f "$CX_ROOT/config/crd/bases" >&2
  "$K" wait --for=condition=established --timeout=60s \
    crd/codeexecutions.execution.codeexec.io crd/executionpolicies.execution.codeexec.io >&2
  "$K" apply --server-side -f "$CX_ROOT/config/admission/execution-policy.yaml" >&2
  # The baseline policy: a namespace runs executions only when a policy
  # selects it; this one selects execution.codeexec.io/enabled=true.
  "$K" apply --server-side -f "$CX_ROOT/config/samples/baseline-executionpolicy.yaml" >&2
}

# MANAGER_SA is the identity the manager runs as; the admission policies of
# config/admission/sandbox-shape.yaml are bound to it.
MANAGER_SA=system:serviceaccount:codeexec-system:codeexec-controller-manager

# install_manager_identity applies the manager's namespace, service account
# and roles (config/identity) and the admission policies bound to it
# (config/admission/sandbox-shape.yaml, its parameter listing
# $RUNNER_IMAGE), then writes to $1 a kubeconfig that acts as that service
# account (impersonation by the current user). A manager run with it is
# judged by the policies as the deployed one is: its real Jobs must pass.
install_manager_identity() {
  local out=$1 user
  "$K" apply --server-side -k "$CX_ROOT/config/identity" >&2
  "$K" apply --server-side --force-conflicts -f "$CX_ROOT/config/admission/sandbox-shape.yaml" >&2
  # The parameter lists the runner image this run uses.
  "$K" -n codeexec-system patch configmap codeexec-sandbox-shape --type merge \
    -p "{\"data\":{\"runnerImages\":\"$RUNNER_IMAGE\"}}" >&2
  "$K" config view --raw --minify --flatten >"$out"
  user=$("$K" --kubeconfig "$out" config view -o jsonpath='{.users[0].name}')
  "$K" --kubeconfig "$out" config set "users.$user.act-as" "$MANAGER_SA" >/dev/null
  chmod 600 "$out"
  # The API server loads admission policies asynchronously: wait until the
  # sandbox-shape policy refuses a privileged Job of the manager's identity.
  local i reply
  for i in $(seq 1 60); do
    reply=$("$K" --kubeconfig "$out" create --dry-run=server -f - 2>&1 <<'JOB'
apiVersion: batch/v1
kind: Job
metadata: {name: codeexec-policy-probe, namespace: default, labels: {app.kubernetes.io/managed-by: codeexec-operator}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, securityContext: {privileged: true}}]
JOB
    ) || true
    case "$reply" in *"ValidatingAdmissionPolicy 'codeexec-"*) return 0 ;; esac
    sleep 1
  done
  say "the sandbox-shape admission policy did not take effect"; return 1
}
