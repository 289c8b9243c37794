package controllers

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
)

var (
	t0      = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	started = metav1.NewTime(t0.Add(2 * time.Second))
)

func testJob(conds ...batchv1.JobCondition) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", CreationTimestamp: metav1.NewTime(t0)},
		Spec:       batchv1.JobSpec{ActiveDeadlineSeconds: ptr.To(int64(45))},
		Status:     batchv1.JobStatus{Conditions: conds},
	}
}

func failedJob(reason string) *batchv1.Job {
	j := testJob(batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: reason, Message: "job says so",
		LastTransitionTime: metav1.NewTime(t0.Add(50 * time.Second))})
	j.Status.Failed = 1
	return j
}

func testPod(mut func(*corev1.Pod)) []corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: metav1.NewTime(t0.Add(time.Second))},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "runner", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	mut(&p)
	return []corev1.Pod{p}
}

func runnerState(s corev1.ContainerState) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "runner", State: s}}
	}
}

func terminated(exit int32, reason, msg string) func(*corev1.Pod) {
	return runnerState(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: exit, Reason: reason, Message: msg, StartedAt: started}})
}

func waiting(reason string) func(*corev1.Pod) {
	return runnerState(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "details"}})
}

func deletedPod() []corev1.Pod {
	return testPod(func(p *corev1.Pod) {
		runnerState(corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}})(p)
		p.DeletionTimestamp = ptr.To(metav1.NewTime(t0.Add(4 * time.Second)))
	})
}

func deletedWhileRunning(summary string, finishedAfterDelete bool) []corev1.Pod {
	return testPod(func(p *corev1.Pod) {
		finished := t0.Add(3 * time.Second)
		if finishedAfterDelete {
			finished = t0.Add(5 * time.Second)
		}
		runnerState(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Message: summary, StartedAt: started, FinishedAt: metav1.NewTime(finished)}})(p)
		p.DeletionTimestamp = ptr.To(metav1.NewTime(t0.Add(7 * time.Second)))
		p.DeletionGracePeriodSeconds = ptr.To(int64(2))
	})
}

func TestClassify(t *testing.T) {
	b := DefaultBounds()
	cases := map[string]struct {
		obs  Observation
		want Verdict
	}{
		"job without pod yet": {
			obs:  Observation{Job: testJob(), Now: t0.Add(time.Second)},
			want: Verdict{Reason: execv1.ReasonPending, Message: "waiting for Job j to create its Pod", RequeueAfter: createFailureRecheck},
		},
		"job started by the job controller but no pod yet: not vanished": {
			obs: Observation{Job: func() *batchv1.Job {
				j := testJob()
				j.Status.StartTime = ptr.To(metav1.NewTime(t0))
				return j
			}(), Now: t0.Add(time.Minute)},
			want: Verdict{Reason: execv1.ReasonPending, Message: "waiting for Job j to create its Pod", RequeueAfter: createFailureRecheck},
		},
		"job cannot create its pod: the job controller's reason shows": {
			obs:  Observation{Job: testJob(), Now: t0.Add(time.Minute), CreateFailure: `pods "x" is forbidden: exceeded quota: q`},
			want: Verdict{Reason: execv1.ReasonPending, Message: `Job j cannot create its Pod: pods "x" is forbidden: exceeded quota: q`, RequeueAfter: createFailureRecheck},
		},
		"job cannot create its pod: bounded": {
			obs:  Observation{Job: testJob(), Now: t0.Add(b.ContainerCreating), CreateFailure: `pods "x" is forbidden: exceeded quota: q`},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: `Job j could not create its Pod within 3m0s: pods "x" is forbidden: exceeded quota: q`},
		},
		"job had a pod by its counters, none now: vanished": {
			obs: Observation{Job: func() *batchv1.Job {
				j := testJob()
				j.Status.Active = 1
				return j
			}(), Now: t0.Add(b.PodVanished)},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Job's Pod vanished before the runner reported"},
		},
		"pod starting": {
			obs:  Observation{Job: testJob(), Pods: testPod(waiting("ContainerCreating")), Now: t0.Add(11 * time.Second)},
			want: Verdict{Reason: execv1.ReasonPending, Message: "the Pod is starting (ContainerCreating: details)", RequeueAfter: b.ContainerCreating - 10*time.Second},
		},
		"pod stuck creating past the bound": {
			obs:  Observation{Job: testJob(), Pods: testPod(waiting("ContainerCreating")), Now: t0.Add(time.Hour)},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Pod did not start within 3m0s (ContainerCreating: details)"},
		},
		"running": {
			obs: Observation{Job: testJob(), Pods: testPod(runnerState(corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}})),
				Now: t0.Add(5 * time.Second)},
			want: Verdict{Reason: execv1.ReasonRunning, Message: "the runner is running in Pod p", StartTime: &started},
		},
		"runner reported": {
			obs:  Observation{Job: testJob(), Pods: testPod(terminated(1, "Error", `{"reason":"Timeout"}`)), Now: t0},
			want: Verdict{ReadResult: true, TerminationMessage: `{"reason":"Timeout"}`, PodName: "p", StartTime: &started},
		},
		"oom kill wins over the runner's message": {
			obs:  Observation{Job: failedJob("BackoffLimitExceeded"), Pods: testPod(terminated(137, "OOMKilled", `{"reason":"Completed"}`)), Now: t0},
			want: Verdict{Done: true, Reason: execv1.ReasonMemoryLimitExceeded, Message: "the container was OOM-killed at its memory limit of 64Mi", StartTime: &started},
		},
		"deadline exceeded after the pod ran": {
			obs:  Observation{Job: failedJob(batchv1.JobReasonDeadlineExceeded), Pods: testPod(terminated(137, "Error", "")), Now: t0},
			want: Verdict{Done: true, Reason: execv1.ReasonTimeout, Message: "the Job's activeDeadlineSeconds (45s) ended the execution", StartTime: &started},
		},
		"deadline exceeded and the pod is gone after it was seen running": {
			obs:  Observation{Job: failedJob(batchv1.JobReasonDeadlineExceeded), Now: t0, Started: &started},
			want: Verdict{Done: true, Reason: execv1.ReasonTimeout, Message: "the Job's activeDeadlineSeconds (45s) ended the execution", StartTime: &started},
		},
		"deadline exceeded and no pod ever ran": {
			obs:  Observation{Job: failedJob(batchv1.JobReasonDeadlineExceeded), Now: t0},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Pod did not start before the Job's deadline of 45s"},
		},
		"suspended for kueue": {
			obs: Observation{Job: func() *batchv1.Job {
				j := testJob()
				j.Spec.Suspend = ptr.To(true)
				j.Labels = map[string]string{LabelKueueQueueName: "team-a"}
				return j
			}(), Now: t0},
			want: Verdict{Reason: execv1.ReasonQueued, Message: "waiting for Kueue to admit Job j (queue team-a)"},
		},
		"deadline exceeded before the pod started": {
			obs:  Observation{Job: failedJob(batchv1.JobReasonDeadlineExceeded), Pods: testPod(waiting("ContainerCreating")), Now: t0},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Pod did not start before the Job's deadline of 45s (ContainerCreating: details)"},
		},
		"image pull failure fails fast": {
			obs:  Observation{Job: testJob(), Pods: testPod(waiting("ImagePullBackOff")), Now: t0.Add(3 * time.Second)},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the runner container cannot start: ImagePullBackOff: details"},
		},
		"config error fails fast": {
			obs:  Observation{Job: testJob(), Pods: testPod(waiting("CreateContainerConfigError")), Now: t0.Add(3 * time.Second)},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the runner container cannot start: CreateContainerConfigError: details"},
		},
		"evicted, the job failed": {
			obs: Observation{Job: failedJob("BackoffLimitExceeded"), Pods: testPod(func(p *corev1.Pod) {
				p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "node low on memory"
			}), Now: t0},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Pod failed: Evicted node low on memory"},
		},
		"evicted, waiting for the job's verdict": {
			obs: Observation{Job: testJob(), Pods: testPod(func(p *corev1.Pod) {
				p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "node low on memory"
			}), Now: t0.Add(11 * time.Second)},
			want: Verdict{Reason: execv1.ReasonRunning, Message: "the Pod failed: Evicted node low on memory; waiting for the Job's verdict",
				RequeueAfter: 20 * time.Second},
		},
		"unschedulable within the bound": {
			obs: Observation{Job: testJob(), Pods: testPod(func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
					Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes", LastTransitionTime: metav1.NewTime(t0)}}
			}), Now: t0.Add(time.Minute)},
			want: Verdict{Reason: execv1.ReasonPending, Message: "the Pod is unschedulable: 0/1 nodes", RequeueAfter: time.Minute},
		},
		"unschedulable past the bound": {
			obs: Observation{Job: testJob(), Pods: testPod(func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
					Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes", LastTransitionTime: metav1.NewTime(t0)}}
			}), Now: t0.Add(time.Hour)},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Pod was unschedulable for 2m0s: 0/1 nodes"},
		},
		"runner stopped by the pod's deletion: its report is not the outcome": {
			obs:  Observation{Job: failedJob("BackoffLimitExceeded"), Pods: deletedWhileRunning(`{"reason":"InternalError"}`, true), Now: t0.Add(7 * time.Second)},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Pod was deleted before the runner finished", StartTime: &started},
		},
		"runner finished before the pod's deletion: its report stands": {
			obs: Observation{Job: testJob(), Pods: deletedWhileRunning(`{"reason":"RuntimeError"}`, false), Now: t0.Add(7 * time.Second)},
			want: Verdict{ReadResult: true, TerminationMessage: `{"reason":"RuntimeError"}`, PodName: "p", StartTime: &started,
				FinishedAt: t0.Add(3 * time.Second)},
		},
		"a completed report stands even if the pod went at the same second": {
			obs: Observation{Job: testJob(), Pods: deletedWhileRunning(`{"reason":"Completed"}`, true), Now: t0.Add(7 * time.Second)},
			want: Verdict{ReadResult: true, TerminationMessage: `{"reason":"Completed"}`, PodName: "p", StartTime: &started,
				FinishedAt: t0.Add(5 * time.Second)},
		},
		"pod deleted mid-run: the job's verdict first": {
			obs: Observation{Job: testJob(), Pods: deletedPod(), Now: t0.Add(5 * time.Second)},
			want: Verdict{Reason: execv1.ReasonRunning, Message: "the Pod was deleted before the runner reported; waiting for the Job's verdict",
				StartTime: &started, RequeueAfter: 29 * time.Second},
		},
		"pod deleted mid-run, the job failed": {
			obs:  Observation{Job: failedJob("BackoffLimitExceeded"), Pods: deletedPod(), Now: t0.Add(5 * time.Second)},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Pod was deleted before the runner reported", StartTime: &started},
		},
		"pod deleted mid-run, no verdict within the bound": {
			obs:  Observation{Job: testJob(), Pods: deletedPod(), Now: t0.Add(time.Minute)},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Pod was deleted before the runner reported", StartTime: &started},
		},
		"pod deleted by the job controller past its deadline": {
			obs: Observation{Job: func() *batchv1.Job {
				j := testJob(batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonDeadlineExceeded})
				return j
			}(), Pods: deletedPod(), Now: t0.Add(5 * time.Second)},
			want: Verdict{Done: true, Reason: execv1.ReasonTimeout, Message: "the Job's activeDeadlineSeconds (45s) ended the execution", StartTime: &started},
		},
		"pod vanished and the job failed": {
			obs:  Observation{Job: failedJob("BackoffLimitExceeded"), Now: t0.Add(time.Minute)},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Job failed (BackoffLimitExceeded): job says so"},
		},
		"pod vanished while the job runs, past the bound": {
			obs: Observation{Job: func() *batchv1.Job {
				j := testJob()
				j.Status.Active = 1
				j.Status.StartTime = ptr.To(metav1.NewTime(t0))
				return j
			}(), Now: t0.Add(time.Hour)},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Job's Pod vanished before the runner reported"},
		},
		"runner exited without a report": {
			obs:  Observation{Job: testJob(), Pods: testPod(terminated(2, "Error", "")), Now: t0},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the runner exited with code 2 (Error) without a result", StartTime: &started},
		},
		"garbage everywhere": {
			obs:  Observation{Pods: []corev1.Pod{{}}, Now: t0},
			want: Verdict{Done: true, Reason: execv1.ReasonPodFailed, Message: "the Pod did not start within 3m0s"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Classify(tc.obs, b)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Classify (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestResultVerdict(t *testing.T) {
	cases := map[string]struct {
		s       result.Summary
		r       *result.ExecutionResult
		err     error
		reason  string
		message string
	}{
		"runner reasons pass through": {
			s: result.Summary{Reason: result.SecurityViolation}, r: &result.ExecutionResult{Reason: result.SecurityViolation, Message: "socket refused"},
			reason: "SecurityViolation", message: "socket refused",
		},
		"completed": {
			s: result.Summary{Reason: result.Completed, Succeeded: true}, r: &result.ExecutionResult{Reason: result.Completed, Succeeded: true, Message: "completed"},
			reason: "Completed", message: "completed",
		},
		"unreadable success is an internal error": {
			s: result.Summary{Reason: result.Completed, Succeeded: true}, err: errors.New("no such line"),
			reason: "InternalError", message: "the runner's result could not be read: no such line",
		},
		"unreadable failure keeps the summary's reason": {
			s: result.Summary{Reason: result.Timeout, Message: "timed out after 10s"}, err: errors.New("gone"),
			reason: "Timeout", message: "timed out after 10s (the full result could not be read: gone)",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			reason, msg := ResultVerdict(tc.s, tc.r, tc.err)
			if diff := cmp.Diff([]string{tc.reason, tc.message}, []string{reason, msg}); diff != "" {
				t.Errorf("ResultVerdict (-want,+got):\n%s", diff)
			}
		})
	}
}
