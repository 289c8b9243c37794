#!/usr/bin/env bash
# Stops the local cluster started by hack/cluster-up.sh and restores the host:
# stops only the processes it recorded (by PID, checked against their binary)
# and the containerd shims of its own containerd socket, tears the Pod
# sandboxes down (CNI DEL), removes the bridge, the Pod network namespaces,
# the kubelet's cgroups and mounts, and restores the kernel settings the
# kubelet changed. Cluster data (etcd, kubelet dir, Pod logs) is removed so
# the next cluster-up starts empty; certificates and the containerd image
# store are kept so it is fast.
#
#   hack/cluster-down.sh           # stop and clean
#   hack/cluster-down.sh --purge   # also remove CLUSTER_STATE_DIR entirely (images included)
#
# Safe to run when nothing is up. Same environment as hack/cluster-env.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster-env.sh
. "$HERE/cluster-env.sh"
S=$CLUSTER_STATE_DIR
PURGE=0
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "cluster-down: unknown argument $a" >&2; exit 2 ;;
  esac
done

log() { printf '[cluster-down %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
T0=$(date +%s)
[ "$(id -u)" -eq 0 ] || { log "ERROR: run as root"; exit 1; }
if [ ! -d "$S" ]; then log "nothing to do: $S does not exist"; exit 0; fi
exec 7>"$S/.lock"
flock -w 60 7 || { log "ERROR: $S is locked by a running cluster-up/down"; exit 1; }

pid_of() { # same check as cluster-up: recorded pid still runs the recorded binary
  local f="$S/run/$1.pid" pid exe
  [ -f "$f" ] || return 1
  read -r pid exe <"$f" || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || return 1
  echo "$pid"
}
stop() { # stop <name>: SIGTERM, wait up to 15 s, then SIGKILL
  local name=$1 pid i
  if pid=$(pid_of "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 75; i++)); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
    if [ -d "/proc/$pid" ]; then log "$name: still running after 15s, SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
    log "$name: stopped (pid $pid)"
  fi
  rm -f "$S/run/$name.pid"
}

# 1. kubelet first, so it does not restart what we tear down.
stop kubelet

# 2. Pod sandboxes: stop and remove through CRI so the CNI plugin releases
#    addresses and deletes veths and network namespaces.
CRICTL=
for c in "$CX_BIN_DIR"/tools/crictl-*/crictl; do [ -x "$c" ] && CRICTL=$c; done
if pid_of containerd >/dev/null; then
  if [ -n "$CRICTL" ]; then
    cri=("$CRICTL" --runtime-endpoint "unix://$CONTAINERD_ADDRESS" --image-endpoint "unix://$CONTAINERD_ADDRESS" --timeout 30s)
    n=$("${cri[@]}" pods -q 2>/dev/null | wc -l || echo 0)
    if [ "$n" -gt 0 ]; then
      "${cri[@]}" rmp --force --all >/dev/null 2>&1 || log "WARNING: crictl rmp failed"
      log "removed $n Pod sandboxes"
    fi
  fi
  # anything left (no crictl, or a failure): kill and delete tasks and containers
  ctrk=(ctr -a "$CONTAINERD_ADDRESS" -n k8s.io)
  for id in $("${ctrk[@]}" tasks ls -q 2>/dev/null); do
    "${ctrk[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
  done
  sleep 0.5
  for id in $("${ctrk[@]}" tasks ls -q 2>/dev/null); do "${ctrk[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true; done
  for id in $("${ctrk[@]}" containers ls -q 2>/dev/null); do "${ctrk[@]}" containers delete "$id" >/dev/null 2>&1 || true; done
fi

# 3. control plane (in parallel; etcd last)
stop kube-scheduler & stop kube-controller-manager & stop kube-apiserver & wait
stop etcd

# 4. containerd, then the shims it started (they outlive it by design). A shim
#    is ours when its command line names our containerd socket.
stop containerd
for p in /proc/[0-9]*; do
  cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
  case "$cmd" in
    *containerd-shim*"-address $CONTAINERD_ADDRESS "*)
      if kill -KILL "${p#/proc/}" 2>/dev/null; then log "killed leftover shim ${p#/proc/}"; fi ;;
  esac
done

# 5. network: our Pod network namespaces (new since cluster-up, addressed in
#    our subnet), then the bridge.
prefix=${CLUSTER_POD_SUBNET%.*/*}.
for nsp in /run/netns/*; do
  [ -e "$nsp" ] || continue
  ns=${nsp##*/}
  grep -qx "$ns" "$S/netns.before" 2>/dev/null && continue
  case "$ns" in cni-*) ;; *) continue ;; esac
  if ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q " inet $prefix" || ! ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q ' inet '; then
    if ip netns delete "$ns" 2>/dev/null; then log "removed network namespace $ns"; fi
  fi
done
if ip link show "$CLUSTER_BRIDGE" >/dev/null 2>&1; then
  ip link delete "$CLUSTER_BRIDGE" && log "removed bridge $CLUSTER_BRIDGE"
fi

# 6. mounts under the state dir (overlay snapshots, emptyDirs, secrets)
{ grep -o " $S/[^ ]*" /proc/mounts || true; } | sort -r -u | while read -r m; do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
done

# 7. the kubelet's cgroups (empty now that every container is gone)
for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/unified/kubepods; do
  [ -d "$c" ] || continue
  find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  [ -d "$c" ] && log "WARNING: $c could not be removed (processes left?)"
done

# 8. kernel settings
if [ -f "$S/sysctl.saved" ]; then
  while IFS='=' read -r k v; do
    [ -n "$k" ] || continue
    if [ "$(sysctl -n "$k" 2>/dev/null)" != "$v" ]; then
      if sysctl -q -w "$k=$v" >/dev/null; then log "restored $k=$v"; else log "WARNING: could not restore $k=$v"; fi
    fi
  done <"$S/sysctl.saved"
  rm -f "$S/sysctl.saved"
fi
rm -f "$S/netns.before"

# 9. the kubelet's fixed-path leftovers that point into our state dir
for l in /var/log/containers/*.log; do
  [ -L "$l" ] || continue
  case "$(readlink "$l")" in "$S"/*) rm -f "$l" ;; esac
done

# 10. fixed host paths the kubelet, containerd and CNI create, when cluster-up
#     found them absent: removed if nothing but empty directories is left
if [ -f "$S/created-paths" ]; then
  while read -r p; do
    [ -d "$p" ] || continue
    find "$p" -type s -delete 2>/dev/null || true   # stale sockets (kubelet.sock)
    find "$p" -depth -type d -empty -delete 2>/dev/null || true
    if [ -d "$p" ]; then log "kept $p (not empty)"; fi
  done <"$S/created-paths"
  rm -f "$S/created-paths"
fi

# 11. cluster data: the next cluster-up starts from an empty etcd
rm -rf "$S/etcd" "$S/kubelet" "$S/pod-logs" "$S/cni/ipam" "$S/containerd/state"
if [ "$PURGE" -eq 1 ]; then
  exec 7>&-
  rm -rf "$S"
  log "removed $S"
fi
log "cluster down in $(( $(date +%s) - T0 ))s"
