package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// The sandbox container's OOM kill is the runtime's word; the judge, in
// another container, reports only that the sandbox stopped.
func TestClassifySandboxOOMKilled(t *testing.T) {
	sandbox := func(reason string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			terminated(1, "Error", `{"reason":"RuntimeError"}`)(p)
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: SandboxContainerName, Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}}})
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: SandboxContainerName,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: reason}}})
		}
	}
	cases := map[string]struct {
		pods []corev1.Pod
		want Verdict
	}{
		"sandbox OOM-killed": {
			pods: testPod(sandbox("OOMKilled")),
			want: Verdict{Done: true, Reason: execv1.ReasonMemoryLimitExceeded, Message: "the sandbox container was OOM-killed at its memory limit of 128Mi", StartTime: &started},
		},
		"sandbox killed otherwise: the judge's report": {
			pods: testPod(sandbox("Error")),
			want: Verdict{ReadResult: true, TerminationMessage: `{"reason":"RuntimeError"}`, PodName: "p", StartTime: &started},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Classify(Observation{Pods: tc.pods, Now: t0}, Bounds{})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Classify (-want,+got):\n%s", diff)
			}
		})
	}
}
