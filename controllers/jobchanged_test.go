package controllers

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

func TestJobSpecChanged(t *testing.T) {
	ce := wrappers.MakeCodeExecution("j", "ns").Obj()
	built := BuildJob(ce, ResolveLimits(execv1.ExecutionLimits{}, BuiltinDefaults()), DefaultJobOptions())
	cases := map[string]struct {
		mut  func(*batchv1.JobSpec)
		want string
	}{
		"unchanged": {func(*batchv1.JobSpec) {}, ""},
		"API server defaults": {func(s *batchv1.JobSpec) {
			s.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
			s.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}, ""},
		"suspend is SuspendedAfterStart's":  {func(s *batchv1.JobSpec) { s.Suspend = ptr.To(true) }, ""},
		"backoffLimit raised":               {func(s *batchv1.JobSpec) { s.BackoffLimit = ptr.To(int32(6)) }, "spec.backoffLimit 6, built 0"},
		"deadline lowered":                  {func(s *batchv1.JobSpec) { s.ActiveDeadlineSeconds = ptr.To(int64(1)) }, "spec.activeDeadlineSeconds 1, built "},
		"parallelism":                       {func(s *batchv1.JobSpec) { s.Parallelism = ptr.To(int32(2)) }, "spec.parallelism 2, built 1"},
		"completions":                       {func(s *batchv1.JobSpec) { s.Completions = ptr.To(int32(3)) }, "spec.completions 3, built 1"},
		"ttl is not compared":               {func(s *batchv1.JobSpec) { s.TTLSecondsAfterFinished = ptr.To(int32(0)) }, ""},
		"deadline of another grace":         {func(s *batchv1.JobSpec) { *s.ActiveDeadlineSeconds += 100 }, ""},
		"deadline just under the timeout's": {func(s *batchv1.JobSpec) { s.ActiveDeadlineSeconds = ptr.To(int64(30 + MinDeadlineGraceSeconds - 1)) }, "needs at least 35"},
		"deadline removed":                  {func(s *batchv1.JobSpec) { s.ActiveDeadlineSeconds = nil }, "spec.activeDeadlineSeconds unset"},
		"indexed":                           {func(s *batchv1.JobSpec) { s.CompletionMode = ptr.To(batchv1.IndexedCompletion) }, "spec.completionMode Indexed, built NonIndexed"},
		"backoffLimitPerIndex":              {func(s *batchv1.JobSpec) { s.BackoffLimitPerIndex = ptr.To(int32(2)) }, "spec.backoffLimitPerIndex 2, built unset"},
		"maxFailedIndexes":                  {func(s *batchv1.JobSpec) { s.MaxFailedIndexes = ptr.To(int32(2)) }, "spec.maxFailedIndexes 2, built unset"},
		"podFailurePolicy ignores failures": {func(s *batchv1.JobSpec) {
			s.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionIgnore}}}
		}, "spec.podFailurePolicy"},
		"successPolicy": {func(s *batchv1.JobSpec) {
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To(int32(1))}}}
		}, "spec.successPolicy"},
		"podReplacementPolicy": {func(s *batchv1.JobSpec) { s.PodReplacementPolicy = ptr.To(batchv1.Failed) }, "spec.podReplacementPolicy Failed"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			live := built.DeepCopy()
			tc.mut(&live.Spec)
			got := JobSpecChanged(built, live, 30)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("JobSpecChanged = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPodsClaimingTheJob(t *testing.T) {
	ce := wrappers.MakeCodeExecution("j", "ns").Obj()
	job := BuildJob(ce, ResolveLimits(execv1.ExecutionLimits{}, BuiltinDefaults()), DefaultJobOptions())
	a := wrappers.MakePod("a", "ns").FromJob(job).Obj()
	b := wrappers.MakePod("b", "ns").FromJob(job).Obj()
	if got := PodsClaimingTheJob(job, []corev1.Pod{*a}); got != "" {
		t.Errorf("one Pod: %q", got)
	}
	if got := PodsClaimingTheJob(nil, []corev1.Pod{*a, *b}); got != "" {
		t.Errorf("no Job: %q", got)
	}
	if got, want := PodsClaimingTheJob(job, []corev1.Pod{*b, *a}), "2 Pods claim to be Job "+job.Name+"'s Pod: a, b;"; !strings.Contains(got, want) {
		t.Errorf("two Pods: %q, want %q", got, want)
	}
}
