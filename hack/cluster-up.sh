#!/usr/bin/env bash
# Brings up a single-node Kubernetes cluster on this machine, without a
# container registry or Docker: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and a kubelet (built from the Go module proxy by
# hack/build-k8s.sh), a private containerd instance (Debian's containerd, runc
# and CNI plugins), and the project's images built offline
# (hack/build-image.sh) and imported.
#
#   hack/cluster-up.sh            # then: export KUBECONFIG=<state>/kubeconfig
#   eval "$(hack/cluster-up.sh)"  # the same, exported (only that line goes to stdout)
#   hack/cluster-smoke.sh         # a Job and a locked-down Pod in the runner image
#   hack/cluster-down.sh          # stop it and restore the host
#
# Everything lives in CLUSTER_STATE_DIR (default /var/tmp/codeexec-cluster);
# ports, subnet, node name and image names are in hack/cluster-env.sh and can
# be overridden from the environment. CLUSTER_IMAGES (default "pause runner",
# plus manager when the repository has one) selects the images to import.
#
# Idempotent: components already running (by recorded PID) are left alone;
# builds, certificates and images are cached. Needs root (kubelet, containerd,
# network). Pods must use imagePullPolicy: Never (or IfNotPresent) since no
# registry is reachable. The Pod network is a bridge with no gateway and no
# masquerade: Pods get an address and no way out. There is no kube-proxy.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster-env.sh
. "$HERE/cluster-env.sh"
S=$CLUSTER_STATE_DIR
T_START=$(date +%s)

log() { printf '[cluster-up %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; log "logs: $S/logs/; hack/cluster-down.sh stops what was started"; exit 1; }
phase() { local now; now=$(date +%s); log "$1 (+$(( now - T_START ))s)"; }

[ "$(id -u)" -eq 0 ] || die "run as root (kubelet, containerd and the Pod network need it)"
mkdir -p "$S"/{run,logs,pki,cni/net.d,cni/ipam,containerd,kubelet,pod-logs,etcd}
exec 7>"$S/.lock"
flock -n 7 || die "another cluster-up/down is running on $S"

# ---- processes we start: pid files in $S/run, checked against /proc ---------
pid_of() { # pid_of <name>: prints the pid if the recorded process still runs our binary
  local f="$S/run/$1.pid" pid exe
  [ -f "$f" ] || return 1
  read -r pid exe <"$f" || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || return 1
  echo "$pid"
}
start() { # start <name> <binary> <args...>
  local name=$1 bin=$2; shift 2
  if pid_of "$name" >/dev/null; then log "$name: already running (pid $(pid_of "$name"))"; return; fi
  [ -x "$bin" ] || die "$bin missing"
  [ -f "$S/logs/$name.log" ] && mv -f "$S/logs/$name.log" "$S/logs/$name.log.prev"
  setsid "$bin" "$@" >"$S/logs/$name.log" 2>&1 </dev/null 7>&- &
  local pid=$! exe i
  exe=$(readlink -f "$bin")
  echo "$pid $exe" >"$S/run/$name.pid"
  # until the forked shell has exec'd the binary, /proc/<pid>/exe is bash or
  # setsid: wait for it, so pid_of is reliable from here on
  for ((i = 0; i < 100; i++)); do
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] && break
    [ -d "/proc/$pid" ] || break
    sleep 0.05
  done
  log "$name: started (pid $pid, log $S/logs/$name.log)"
}
still_running() { pid_of "$1" >/dev/null || { tail -20 "$S/logs/$1.log" >&2; die "$1 exited"; }; }
wait_for() { # wait_for <what> <seconds> <process that must keep running> <command...>
  local what=$1 secs=$2 proc=$3 i; shift 3
  for ((i = 0; i < secs * 5; i++)); do
    still_running "$proc"
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "timed out after ${secs}s waiting for $what"
}

# ---- host packages -----------------------------------------------------------
pkgs=()
command -v containerd >/dev/null || pkgs+=(containerd)
command -v runc >/dev/null || pkgs+=(runc)
[ -x /usr/lib/cni/bridge ] || pkgs+=(containernetworking-plugins)
command -v openssl >/dev/null || pkgs+=(openssl)
command -v curl >/dev/null || pkgs+=(curl)
command -v ip >/dev/null || pkgs+=(iproute2)
command -v debootstrap >/dev/null || pkgs+=(debootstrap)
if [ ${#pkgs[@]} -gt 0 ]; then
  log "installing ${pkgs[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
fi
# Debian's package may have started a system containerd; ours is separate.
CNI_BIN_DIR=/usr/lib/cni
RUNC=$(command -v runc)
CONTAINERD=$(command -v containerd)
# gVisor (runsc and its containerd shim, built from the Go module proxy),
# registered as the runtime handler "runsc" behind RuntimeClass "gvisor".
# Only with CLUSTER_GVISOR=1 (make test-e2e-gvisor): a cold runsc build takes
# half an hour on 2 cores.
GVISOR_DIR=
if [ "${CLUSTER_GVISOR:-0}" = 1 ]; then
  GVISOR_DIR=$("$HERE/build-gvisor.sh")
fi

# ---- images, built in the background while the Kubernetes binaries compile
# (debootstrap is mostly network and disk); imported once containerd runs ----
if [ -z "${CLUSTER_IMAGES:-}" ]; then
  CLUSTER_IMAGES="pause runner"
  if [ -f "$CX_ROOT/main.go" ] || [ -d "$CX_ROOT/cmd/manager" ]; then CLUSTER_IMAGES+=" manager"; fi
fi
# shellcheck disable=SC2086
"$HERE/build-image.sh" --no-import $CLUSTER_IMAGES >"$S/logs/build-image.log" 2>&1 7>&- &
IMAGES_PID=$!

# ---- Kubernetes binaries -----------------------------------------------------
"$HERE/build-k8s.sh" --all
K8S_DIR=$("$HERE/build-k8s.sh" --print-dir)
KUBECTL="$K8S_DIR/kubectl"
K8S_VERSION=$(basename "$K8S_DIR" | cut -d- -f1)
# crictl (used by cluster-down to tear Pod sandboxes down cleanly)
CRICTL_VERSION=${CRICTL_VERSION:-v$(cut -d. -f1,2 <<<"$K8S_VERSION").0}
CRICTL="$CX_BIN_DIR/tools/crictl-$CRICTL_VERSION/crictl"
if [ ! -x "$CRICTL" ]; then
  log "building crictl $CRICTL_VERSION"
  GOBIN=$(dirname "$CRICTL") GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install -ldflags "-s -w" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" ||
    log "WARNING: crictl build failed; cluster-down falls back to ctr"
fi
phase "binaries ready"

# ---- certificates and kubeconfigs --------------------------------------------
PKI=$S/pki
SERVICE_IP="${CLUSTER_SERVICE_CIDR%.*/*}.1"
gen_key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
gen_cert() { # gen_cert <name> <subject> <extendedKeyUsage> [subjectAltName]
  local n=$1
  [ -f "$PKI/$n.crt" ] && return
  gen_key "$PKI/$n.key"
  openssl req -new -key "$PKI/$n.key" -subj "$2" -out "$PKI/$n.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    [ -z "${4:-}" ] || echo "subjectAltName=$4"
  } >"$PKI/$n.ext"
  openssl x509 -req -in "$PKI/$n.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$n.ext" -out "$PKI/$n.crt" 2>/dev/null
  rm -f "$PKI/$n.csr" "$PKI/$n.ext"
}
if [ ! -f "$PKI/ca.crt" ]; then
  log "generating certificates in $PKI"
  rm -f "$PKI"/*
  gen_key "$PKI/ca.key"
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=codeexec-local-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>/dev/null
  gen_key "$PKI/sa.key"
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi
gen_cert apiserver "/CN=kube-apiserver" serverAuth \
  "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:$CLUSTER_NODE_NAME,IP:127.0.0.1,IP:$SERVICE_IP"
gen_cert admin "/O=system:masters/CN=codeexec-admin" clientAuth
gen_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
gen_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
gen_cert scheduler "/CN=system:kube-scheduler" clientAuth
gen_cert kubelet "/O=system:nodes/CN=system:node:$CLUSTER_NODE_NAME" clientAuth
gen_cert kubelet-serving "/CN=$CLUSTER_NODE_NAME" serverAuth "DNS:$CLUSTER_NODE_NAME,DNS:localhost,IP:127.0.0.1"
chmod 600 "$PKI"/*.key

write_kubeconfig() { # write_kubeconfig <file> <cert-name> <user>
  local tmp="$1.tmp"
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: codeexec-local
  cluster:
    server: https://127.0.0.1:$CLUSTER_APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $3
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$2.crt")
    client-key-data: $(base64 -w0 "$PKI/$2.key")
contexts:
- name: codeexec-local
  context:
    cluster: codeexec-local
    user: $3
current-context: codeexec-local
EOF
  chmod 600 "$tmp"
  mv "$tmp" "$1"
}
write_kubeconfig "$S/kubeconfig" admin codeexec-admin
write_kubeconfig "$S/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
write_kubeconfig "$S/scheduler.kubeconfig" scheduler system:kube-scheduler
write_kubeconfig "$S/kubelet.kubeconfig" kubelet "system:node:$CLUSTER_NODE_NAME"
export KUBECONFIG=$S/kubeconfig
phase "certificates and kubeconfigs ready"

# ---- kernel settings the kubelet rewrites: save once, cluster-down restores --
if [ ! -f "$S/sysctl.saved" ]; then
  for k in "${CLUSTER_SYSCTLS[@]}"; do
    v=$(sysctl -n "$k" 2>/dev/null) && printf '%s=%s\n' "$k" "$v"
  done >"$S/sysctl.saved.tmp"
  mv "$S/sysctl.saved.tmp" "$S/sysctl.saved"
fi
# baseline of network namespaces, so cluster-down removes only ours
[ -f "$S/netns.before" ] || ls /run/netns 2>/dev/null >"$S/netns.before" || true
# fixed paths the kubelet, containerd and CNI create: cluster-down removes
# the ones that did not exist before (when empty)
if [ ! -f "$S/created-paths" ]; then
  for p in /var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/containerd /run/netns; do
    [ -e "$p" ] || echo "$p"
  done >"$S/created-paths"
fi

# ---- containerd ---------------------------------------------------------------
cat >"$S/cni/net.d/10-codeexec.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "codeexec",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CLUSTER_BRIDGE",
      "isGateway": false,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$CLUSTER_POD_SUBNET"}]],
        "dataDir": "$S/cni/ipam"
      }
    }
  ]
}
EOF
cat >"$S/containerd/config.toml" <<EOF
# Generated by hack/cluster-up.sh
version = 2
root = "$S/containerd/root"
state = "$S/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_ADDRESS"
[ttrpc]
  address = "$CONTAINERD_ADDRESS.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$S/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # root here lacks CAP_SYS_RESOURCE: runc cannot set the negative
  # oom_score_adj the kubelet asks for
  restrict_oom_score_adj = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  max_container_log_line_size = 16384
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$RUNC"
        SystemdCgroup = false
$(if [ -n "$GVISOR_DIR" ]; then cat <<EOG
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]
      runtime_type = "io.containerd.runsc.v1"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]
        TypeUrl = "io.containerd.runsc.v1.options"
        ConfigPath = "$S/containerd/runsc.toml"
EOG
fi)
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$S/cni/net.d"
    max_conf_num = 1
EOF
if [ -n "$GVISOR_DIR" ]; then
  cat >"$S/containerd/runsc.toml" <<EOF
# Generated by hack/cluster-up.sh: gVisor on the systrap platform (no KVM
# needed).
binary_name = "$GVISOR_DIR/runsc"
root = "$S/containerd/runsc"
[runsc_config]
  platform = "systrap"
EOF
fi
# containerd finds containerd-shim-runsc-v1 on its PATH
PATH="${GVISOR_DIR:+$GVISOR_DIR:}$PATH" start containerd "$CONTAINERD" --config "$S/containerd/config.toml" --log-level warn
wait_for "containerd at $CONTAINERD_ADDRESS" 30 containerd ctr -a "$CONTAINERD_ADDRESS" version
phase "containerd ready"

# ---- images -----------------------------------------------------------------
wait "$IMAGES_PID" || { tail -30 "$S/logs/build-image.log" >&2; die "image build failed"; }
# shellcheck disable=SC2086
"$HERE/build-image.sh" --import $CLUSTER_IMAGES
phase "images imported"

# ---- etcd ---------------------------------------------------------------------
start etcd "$K8S_DIR/etcd" --name codeexec --data-dir "$S/etcd" \
  --listen-client-urls "http://127.0.0.1:$CLUSTER_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$CLUSTER_ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$CLUSTER_ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$CLUSTER_ETCD_PEER_PORT" \
  --initial-cluster "codeexec=http://127.0.0.1:$CLUSTER_ETCD_PEER_PORT" \
  --unsafe-no-fsync --log-level warn --quota-backend-bytes $((2 * 1024 * 1024 * 1024))
etcd_ok() { curl -fsS "http://127.0.0.1:$CLUSTER_ETCD_PORT/health" | grep '"health":"true"'; }
wait_for etcd 30 etcd etcd_ok

# ---- kube-apiserver -------------------------------------------------------------
start kube-apiserver "$K8S_DIR/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$CLUSTER_ETCD_PORT" \
  --bind-address 127.0.0.1 --secure-port "$CLUSTER_APISERVER_PORT" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range "$CLUSTER_SERVICE_CIDR" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types Hostname,InternalIP \
  --endpoint-reconciler-type none \
  --allow-privileged=true --profiling=false --v=0
wait_for kube-apiserver 90 kube-apiserver "$KUBECTL" get --raw /readyz
phase "kube-apiserver ready"

# ---- controller-manager and scheduler ---------------------------------------------
start kube-controller-manager "$K8S_DIR/kube-controller-manager" \
  --kubeconfig "$S/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$S/controller-manager.kubeconfig" --authorization-kubeconfig "$S/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "${CLUSTER_KCM_PORT:-17257}" \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --use-service-account-credentials=true \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --service-cluster-ip-range "$CLUSTER_SERVICE_CIDR" --allocate-node-cidrs=false \
  --leader-elect=false --profiling=false
start kube-scheduler "$K8S_DIR/kube-scheduler" \
  --kubeconfig "$S/scheduler.kubeconfig" \
  --authentication-kubeconfig "$S/scheduler.kubeconfig" --authorization-kubeconfig "$S/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "${CLUSTER_SCHEDULER_PORT:-17259}" \
  --leader-elect=false --profiling=false

# ---- kubelet -----------------------------------------------------------------------
mkdir -p "$S/kubelet/root" "$S/kubelet/volume-plugins"
cat >"$S/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $CLUSTER_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $CLUSTER_KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $PKI/ca.crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$CONTAINERD_ADDRESS
imageServiceEndpoint: unix://$CONTAINERD_ADDRESS
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
protectKernelDefaults: false
hairpinMode: none
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
podLogsDir: $S/pod-logs
volumePluginDir: $S/kubelet/volume-plugins
serializeImagePulls: false
registerNode: true
rotateCertificates: false
serverTLSBootstrap: false
nodeStatusUpdateFrequency: 5s
# images are imported, never pulled: keep them
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "50Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
  imagefs.inodesFree: "1%"
evictionPressureTransitionPeriod: 10s
# A pids cgroup limit per Pod, whatever uid its containers run as: the
# kernel's RLIMIT_NPROC counts per uid across the node, this does not.
podPidsLimit: 1024
EOF
start kubelet "$K8S_DIR/kubelet" --config "$S/kubelet/config.yaml" \
  --kubeconfig "$S/kubelet.kubeconfig" --root-dir "$S/kubelet/root" \
  --hostname-override "$CLUSTER_NODE_NAME" --v=0

node_ready() {
  [ "$("$KUBECTL" get node "$CLUSTER_NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
wait_for "node $CLUSTER_NODE_NAME Ready" 120 kubelet node_ready
phase "node Ready"
wait_for "ServiceAccount default/default" 60 kube-controller-manager "$KUBECTL" -n default get serviceaccount default
if [ -n "$GVISOR_DIR" ]; then
  "$KUBECTL" apply -f "$CX_ROOT/config/runtimeclass/gvisor.yaml" >&2
fi
for c in containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet; do still_running "$c"; done
phase "cluster up"
echo "export KUBECONFIG=$S/kubeconfig"
