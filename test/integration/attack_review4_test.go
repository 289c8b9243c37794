package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// A neighbour who may create Pods copies the Job's template exactly (the
// Job's labels, annotations and a controller ownerReference to its UID,
// all readable) and changes only the containers' resources: a memory
// limit of 16Mi instead of the execution's. Such a Pod runs the runner on
// the execution's task (the Job controller even counts it as its own), so
// the kernel OOM-kills it at the neighbour's limit. What the neighbour
// chose is not what status.limits says ran: the Pod is not what the Job
// controller creates from the template, and its verdict must not become
// the execution's.
func TestAttackReview4CopiedPodWithOtherResourcesIsNotTheExecutions(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("copy-resources", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	time.Sleep(1100 * time.Millisecond) // the copy is the newest Pod
	small := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi"), corev1.ResourceCPU: resource.MustParse("10m")}
	copied := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-copy", Namespace: ns,
			Labels: job.Spec.Template.Labels, Annotations: job.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	copied.Spec.NodeName = nodeName
	for i := range copied.Spec.Containers {
		copied.Spec.Containers[i].Resources = corev1.ResourceRequirements{Limits: small, Requests: small}
	}
	create(t, copied)
	// The kubelet enforces the neighbour's limit.
	setRunnerState(t, copied, corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 137, Reason: "OOMKilled", StartedAt: metav1.Now(), FinishedAt: metav1.Now()}})
	time.Sleep(3 * time.Second)
	reason, msg := phase(t, ce)
	if reason == execv1.ReasonMemoryLimitExceeded || strings.Contains(msg, "16Mi") {
		t.Fatalf("a neighbour's copy of the Pod with a 16Mi memory limit decided the execution: %s %q (status.limits.memory %v)",
			reason, msg, ce.Status.Limits.Memory)
	}
	_ = context.Background()
}
