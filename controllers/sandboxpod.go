package controllers

import (
	"hash/fnv"
	"path"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
)

// The Python Pod runs the code in a container of its own ("sandbox") under
// a uid of its own, and the judge in the runner container under
// JudgeUID: see docs/pod-boundary.md.
const (
	// SandboxContainerName is the container that runs the user's code.
	// Nothing reads its log or termination message.
	SandboxContainerName = "sandbox"
	// ChannelMountPath is the emptyDir holding the judge's socket:
	// read-write for the judge, read-only for the sandbox.
	ChannelMountPath = "/var/run/codeexec/channel"
	// JudgeUID is the uid of the judge (and of the Pod's pause container);
	// no sandbox uid is ever equal to it.
	JudgeUID = SandboxUID
	// DefaultSandboxUIDBase and DefaultSandboxUIDCount: the range the
	// per-execution sandbox uid is taken from (16777216..33554431). The
	// kernel counts RLIMIT_NPROC, pending signals and other per-user
	// resources per uid across the node, so each execution gets its own.
	DefaultSandboxUIDBase  = int64(1) << 24
	DefaultSandboxUIDCount = int64(1) << 24
)

var (
	judgeResources = corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("100m"),
		corev1.ResourceMemory: resource.MustParse("64Mi"),
	}
	channelSizeLimit = resource.MustParse("1Mi")
)

// SandboxUIDFor returns the sandbox uid of the execution with uid ceUID:
// base + fnv64a(ceUID) mod count, so that building the Job twice gives the
// same Pod. Two executions share a uid only when their hashes collide (for
// k concurrent executions on a node, probability about k²/2count).
func SandboxUIDFor(ceUID string, o JobOptions) int64 {
	base, count := o.SandboxUIDBase, o.SandboxUIDCount
	if base <= 0 || count <= 0 {
		base, count = DefaultSandboxUIDBase, DefaultSandboxUIDCount
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(ceUID))
	uid := base + int64(h.Sum64()%uint64(count))
	if uid == JudgeUID { // never the judge's uid, whatever the range
		uid++
	}
	return uid
}

// splitSandbox turns the single runner container of job's Pod into the
// judge (container "runner", uid JudgeUID, reads the report) and the
// sandbox (container "sandbox", a uid of its own, runs the code). It is
// pure, like BuildJob.
func splitSandbox(job *batchv1.Job, ce *execv1.CodeExecution, o JobOptions) {
	spec := &job.Spec.Template.Spec
	runnerC := spec.Containers[0]
	uid := SandboxUIDFor(string(ce.UID), o)
	socket := path.Join(ChannelMountPath, "judge.sock")
	maxStream := strconv.Itoa(result.RunnerStreamBytes)

	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "channel", VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(channelSizeLimit)},
	}})
	// The pause container runs as the judge's uid too, so that the code
	// can signal nothing but its own processes.
	spec.SecurityContext.RunAsUser = ptr.To(JudgeUID)
	spec.SecurityContext.RunAsGroup = ptr.To(JudgeUID)
	spec.SecurityContext.FSGroup = nil

	sandbox := *runnerC.DeepCopy()
	sandbox.Name = SandboxContainerName
	sandbox.Args = []string{"sandbox",
		"--task-dir", TaskMountPath,
		"--scratch-dir", ScratchMountPath,
		"--channel", socket,
		"--max-stream-bytes", maxStream,
	}
	sandbox.VolumeMounts = []corev1.VolumeMount{
		{Name: "task", MountPath: TaskMountPath, ReadOnly: true},
		{Name: "scratch", MountPath: ScratchMountPath},
		{Name: "channel", MountPath: ChannelMountPath, ReadOnly: true},
	}
	sandbox.SecurityContext.RunAsUser = ptr.To(uid)
	sandbox.SecurityContext.RunAsGroup = ptr.To(uid)

	judge := runnerC
	judge.Args = []string{"judge",
		"--task-dir", TaskMountPath,
		"--channel", socket,
		"--termination-log", corev1.TerminationMessagePathDefault,
		"--max-stream-bytes", maxStream,
	}
	judge.Env = nil
	judge.VolumeMounts = []corev1.VolumeMount{
		{Name: "task", MountPath: TaskMountPath, ReadOnly: true},
		{Name: "channel", MountPath: ChannelMountPath},
	}
	judge.Resources = corev1.ResourceRequirements{Limits: judgeResources.DeepCopy(), Requests: judgeResources.DeepCopy()}
	judge.SecurityContext = runnerC.SecurityContext.DeepCopy()
	judge.SecurityContext.RunAsUser = ptr.To(JudgeUID)
	judge.SecurityContext.RunAsGroup = ptr.To(JudgeUID)
	if o.DisableRunnerWallClock {
		judge.Args = append(judge.Args, "--no-wall-clock")
		sandbox.Args = append(sandbox.Args, "--no-wall-clock")
	}
	spec.Containers = []corev1.Container{judge, sandbox}
}

// SandboxContainerStatus returns the status of pod's sandbox container, or
// nil. Its OOMKilled reason is the runtime's (the kernel's) word, the only
// part of that container's state the controller may trust.
func SandboxContainerStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == SandboxContainerName {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// sandboxOOMKilled reports whether the runtime OOM-killed the sandbox
// container: the kernel's evidence of memory exhaustion, which the code
// cannot fake and the judge (another container) cannot see.
func sandboxOOMKilled(pod *corev1.Pod) bool {
	cs := SandboxContainerStatus(pod)
	return cs != nil && cs.State.Terminated != nil && cs.State.Terminated.Reason == "OOMKilled"
}

func sandboxMemoryLimit(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if c.Name == SandboxContainerName {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				return q.String()
			}
		}
	}
	return "unknown"
}
