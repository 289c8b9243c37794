# Shared settings for hack/cluster-up.sh, hack/cluster-down.sh and
# hack/build-image.sh. Sourced, not executed. Every value can be overridden
# from the environment.
# shellcheck shell=bash disable=SC2034

CX_ROOT=${CX_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

# Where the running cluster lives: containerd root/state/socket, etcd data,
# certificates, kubeconfigs, logs, PIDs. Outside the repository on purpose
# (a container root filesystem under the working tree slows `go ./...` and
# gofmt walks, and Unix socket paths must stay short).
CLUSTER_STATE_DIR=${CLUSTER_STATE_DIR:-/var/tmp/codeexec-cluster}
# Cached builds (binaries, image layers, OCI archives): git-ignored bin/.
CX_BIN_DIR=${CX_BIN_DIR:-$CX_ROOT/bin}
IMAGE_CACHE_DIR=${IMAGE_CACHE_DIR:-$CX_BIN_DIR/images}

CONTAINERD_ADDRESS=${CONTAINERD_ADDRESS:-$CLUSTER_STATE_DIR/containerd/containerd.sock}

# Loopback ports, chosen away from the defaults so a cluster can coexist with
# envtest instances and anything else on the usual ports.
CLUSTER_APISERVER_PORT=${CLUSTER_APISERVER_PORT:-16443}
CLUSTER_ETCD_PORT=${CLUSTER_ETCD_PORT:-12379}
CLUSTER_ETCD_PEER_PORT=${CLUSTER_ETCD_PEER_PORT:-12380}
CLUSTER_KUBELET_PORT=${CLUSTER_KUBELET_PORT:-10250}
CLUSTER_KUBELET_HEALTHZ_PORT=${CLUSTER_KUBELET_HEALTHZ_PORT:-10248}

# Pod network: a bridge with no gateway and no masquerade, so Pods get an
# address and no way out.
CLUSTER_BRIDGE=${CLUSTER_BRIDGE:-cxbr0}
CLUSTER_POD_SUBNET=${CLUSTER_POD_SUBNET:-10.244.77.0/24}
CLUSTER_SERVICE_CIDR=${CLUSTER_SERVICE_CIDR:-10.96.77.0/24}
CLUSTER_NODE_NAME=${CLUSTER_NODE_NAME:-$(hostname | tr '[:upper:]' '[:lower:]')}

# Images built offline by hack/build-image.sh.
PAUSE_IMAGE=${PAUSE_IMAGE:-codeexec.io/pause:dev}
RUNNER_IMAGE=${RUNNER_IMAGE:-codeexec.io/runner:dev}
MANAGER_IMAGE=${MANAGER_IMAGE:-codeexec.io/manager:dev}

# Kernel settings the kubelet rewrites; saved by cluster-up, restored by
# cluster-down.
CLUSTER_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward)
