#!/usr/bin/env bash
# Smoke test of the local cluster (hack/cluster-up.sh) and the offline runner
# image: a bare Job runs `python3 -c 'print(1)'` in codeexec.io/runner:dev,
# and a locked-down Pod (non-root 65532, read-only root, no capabilities,
# seccomp RuntimeDefault, no token, 64Mi/500m) in a namespace enforcing Pod
# Security "restricted" reports what the kernel gives it. Cleans up after
# itself. Uses KUBECONFIG, or the cluster's own kubeconfig.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster-env.sh
. "$HERE/cluster-env.sh"
export KUBECONFIG=${KUBECONFIG:-$CLUSTER_STATE_DIR/kubeconfig}
K="$("$HERE/build-k8s.sh" --print-dir)/kubectl"
NS=cx-smoke-$$
log() { printf '[cluster-smoke %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
trap '"$K" delete ns "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

"$K" create ns "$NS" >/dev/null
"$K" label ns "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null
"$K" -n "$NS" wait --for=jsonpath='{.metadata.name}'=default sa/default --timeout=30s >/dev/null 2>&1 || sleep 2

secctx='securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: ["ALL"]}}'
podsec='securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: RuntimeDefault}}'
t0=$(date +%s%N)
"$K" -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: print}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      $podsec
      containers:
      - name: py
        image: $RUNNER_IMAGE
        imagePullPolicy: Never
        command: ["python3", "-c", "print(1)"]
        $secctx
YAML
"$K" -n "$NS" wait --for=condition=complete job/print --timeout=120s >/dev/null
t1=$(date +%s%N)
out=$("$K" -n "$NS" logs job/print)
[ "$out" = 1 ] || { log "FAIL: job printed '$out'"; exit 1; }
log "Job python3 -c 'print(1)': Complete in $(( (t1 - t0) / 1000000 )) ms"

"$K" -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: hardened}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  enableServiceLinks: false
  $podsec
  containers:
  - name: check
    image: $RUNNER_IMAGE
    imagePullPolicy: Never
    $secctx
    resources: {limits: {cpu: 500m, memory: 64Mi}, requests: {cpu: 500m, memory: 64Mi}}
    volumeMounts: [{name: scratch, mountPath: /scratch}]
    command: ["python3", "-c"]
    args:
    - |
      import os, socket, pandas, numpy
      st = {l.split(":")[0]: l.split(":")[1].strip() for l in open("/proc/self/status") if ":" in l}
      try:
          open("/x", "w"); ro = "no"
      except OSError:
          ro = "yes"
      s = socket.socket(); s.settimeout(2)
      try:
          s.connect(("1.1.1.1", 53)); net = "open"
      except OSError:
          net = "none"
      open("/scratch/x", "w").write("ok")
      print("uid=%d gid=%d rootfs_readonly=%s CapEff=%s NoNewPrivs=%s Seccomp=%s token=%s egress=%s mem_limit=%s cpu_quota=%s pandas=%s numpy=%s" % (
          os.getuid(), os.getgid(), ro, st["CapEff"], st["NoNewPrivs"], st["Seccomp"],
          os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token"), net,
          open("/sys/fs/cgroup/memory/memory.limit_in_bytes").read().strip(),
          open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read().strip(),
          pandas.__version__, numpy.__version__))
  volumes: [{name: scratch, emptyDir: {sizeLimit: 16Mi}}]
YAML
"$K" -n "$NS" wait --for=jsonpath='{.status.phase}'=Succeeded pod/hardened --timeout=120s >/dev/null ||
  { "$K" -n "$NS" describe pod hardened >&2; "$K" -n "$NS" logs hardened >&2 || true; exit 1; }
got=$("$K" -n "$NS" logs hardened)
log "hardened Pod: $got"
want="uid=65532 gid=65532 rootfs_readonly=yes CapEff=0000000000000000 NoNewPrivs=1 Seccomp=2 token=False egress=none mem_limit=67108864 cpu_quota=50000"
[[ "$got" == "$want "* ]] || { log "FAIL: expected '$want ...'"; exit 1; }
log "PASS"
