package controllers

import (
	"encoding/json"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
)

// Bounds are the time limits after which an execution that makes no
// progress is ended instead of waiting forever.
type Bounds struct {
	// Unschedulable is how long a Pod may stay unschedulable.
	Unschedulable time.Duration
	// ContainerCreating is how long a Pod may stay without a running or
	// terminated container (volumes that cannot mount, a slow pull), and
	// how long a Job may go without creating its Pod (a ResourceQuota, Pod
	// Security, a webhook refusing it).
	ContainerCreating time.Duration
	// PodVanished is how long a Job that had a Pod may show none.
	PodVanished time.Duration
	// LogUnavailable is how long, counted from the runner container's
	// finishedAt, errors reading its log through pods/log are retried;
	// after it the execution ends from the termination summary alone.
	LogUnavailable time.Duration
	// CreateFailureAfter is how long a Job may go without a Pod before the
	// Job controller's events are read for the reason.
	CreateFailureAfter time.Duration
	// CreateRefused is how long the controller retries creating a child
	// the API server refuses (a webhook or admission policy, a quota, an
	// invalid object) before the execution ends with the API server's
	// message; it tries at least three times however short this is.
	CreateRefused time.Duration
}

// DefaultBounds returns the manager's default bounds.
func DefaultBounds() Bounds {
	return Bounds{Unschedulable: 2 * time.Minute, ContainerCreating: 3 * time.Minute, PodVanished: 30 * time.Second,
		LogUnavailable: 2 * time.Minute, CreateFailureAfter: 10 * time.Second, CreateRefused: time.Minute}
}

// Observation is what the reconciler saw of an execution's Job and Pods.
type Observation struct {
	Job *batchv1.Job
	// Pods are the Pods the Job controls; no other Pod is ever passed.
	Pods []corev1.Pod
	Now  time.Time
	// Started is when the runner was last seen starting (status.startTime).
	Started *metav1.Time
	// CreateFailure is the Job controller's latest reason for not creating
	// the Job's Pod (its FailedCreate event), when it has one.
	CreateFailure string
}

// Verdict is what an Observation means for the execution.
type Verdict struct {
	// Done is true when the execution has ended with Reason.
	Done bool
	// Reason is one of the execv1 Reason constants.
	Reason string
	// Message explains Reason to a person.
	Message string
	// ReadResult is true when the runner finished and left a summary in
	// TerminationMessage: the caller reads the result from PodName's log
	// and calls ResultVerdict.
	ReadResult         bool
	TerminationMessage string
	PodName            string
	// FinishedAt is when the runner container ended, with ReadResult.
	FinishedAt time.Time
	// StartTime is when the runner container started, when known.
	StartTime *metav1.Time
	// RequeueAfter asks to look again after a bound may have passed.
	RequeueAfter time.Duration
}

// Container waiting reasons that will not resolve by themselves.
var fatalWaiting = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
	"CrashLoopBackOff": true, "PreCreateHookError": true, "PreStartHookError": true,
}

// seen is one Observation with what every case of Classify needs.
type seen struct {
	Observation
	b       Bounds
	pod     *corev1.Pod
	cs      *corev1.ContainerStatus
	start   *metav1.Time
	failure *batchv1.JobCondition
}

func (s *seen) done(reason, format string, args ...any) Verdict {
	return Verdict{Done: true, Reason: reason, Message: fmt.Sprintf(format, args...), StartTime: s.start}
}

func (s *seen) wait(reason, message string, after time.Duration) Verdict {
	return Verdict{Reason: reason, Message: message, StartTime: s.start, RequeueAfter: after}
}

// Classify maps the state of the Job and its Pods to a Verdict. It is a
// pure function and tolerates any combination of missing or odd fields.
// The cases are tried in order; the first that applies decides.
func Classify(o Observation, b Bounds) Verdict {
	s := &seen{Observation: o, b: b, pod: newestPod(o.Pods), failure: jobFailure(o.Job)}
	if s.pod != nil {
		s.cs = runnerStatus(s.pod)
		if s.cs != nil && s.cs.State.Running != nil {
			s.start = ptrTime(s.cs.State.Running.StartedAt)
		}
		if s.cs != nil && s.cs.State.Terminated != nil && !s.cs.State.Terminated.StartedAt.IsZero() {
			s.start = ptrTime(s.cs.State.Terminated.StartedAt)
		}
	}
	if s.start == nil {
		s.start = o.Started
	}
	for _, c := range []func(*seen) (Verdict, bool){
		runnerReported, jobDeadline, noPod, podEndedWithoutReport, jobFailed, cannotStart, unschedulable, running,
	} {
		if v, ok := c(s); ok {
			return v
		}
	}
	return podStarting(s)
}

// runnerReported: the runner finished. Its own report comes first, except
// that an OOM kill by the kernel is the truth about memory, and that a
// runner stopped by the deletion of its Pod (by a user, an eviction, or the
// Job controller past the deadline) reports only that it was stopped.
func runnerReported(s *seen) (Verdict, bool) {
	if s.cs == nil || s.cs.State.Terminated == nil {
		return Verdict{}, false
	}
	t := s.cs.State.Terminated
	switch {
	case t.Reason == "OOMKilled":
		return s.done(execv1.ReasonMemoryLimitExceeded, "the container was OOM-killed at its memory limit of %s", memoryLimit(s.pod)), true
	case sandboxOOMKilled(s.pod) && summaryReason(t.Message) != string(execv1.ReasonCompleted):
		return s.done(execv1.ReasonMemoryLimitExceeded, "the sandbox container was OOM-killed at its memory limit of %s", sandboxMemoryLimit(s.pod)), true
	case t.Message != "" && (!stoppedByDeletion(s.pod, t) || summaryReason(t.Message) == string(execv1.ReasonCompleted)):
		return Verdict{ReadResult: true, TerminationMessage: t.Message, PodName: s.pod.Name, FinishedAt: t.FinishedAt.Time, StartTime: s.start}, true
	}
	return Verdict{}, false
}

// jobDeadline: the Job's activeDeadlineSeconds passed.
func jobDeadline(s *seen) (Verdict, bool) {
	if s.failure == nil || s.failure.Reason != batchv1.JobReasonDeadlineExceeded {
		return Verdict{}, false
	}
	deadline := ptr.Deref(s.Job.Spec.ActiveDeadlineSeconds, 0)
	if s.start == nil {
		return s.done(execv1.ReasonPodFailed, "the Pod did not start before the Job's deadline of %ds%s", deadline, waitingNote(s.cs)), true
	}
	return s.done(execv1.ReasonTimeout, "the Job's activeDeadlineSeconds (%ds) ended the execution", deadline), true
}

// noPod: the Job controls no Pod. Whether it ever had one comes from the
// Job's own counters, never from status.startTime, which the Job
// controller sets before it creates any Pod.
func noPod(s *seen) (Verdict, bool) {
	if s.pod != nil {
		return Verdict{}, false
	}
	job := s.Job
	switch {
	case s.failure != nil:
		return s.done(execv1.ReasonPodFailed, "the Job failed (%s): %s", s.failure.Reason, s.failure.Message), true
	case job == nil:
		return s.wait(execv1.ReasonPending, "waiting for the Job", 0), true
	case ptr.Deref(job.Spec.Suspend, false):
		return s.wait(execv1.ReasonQueued, fmt.Sprintf("waiting for Kueue to admit Job %s (queue %s)", job.Name, job.Labels[LabelKueueQueueName]), 0), true
	case jobHadPod(job):
		gone := s.Now.Sub(lastJobChange(job))
		if gone >= s.b.PodVanished || jobFinished(job) {
			return s.done(execv1.ReasonPodFailed, "the Job's Pod vanished before the runner reported"), true
		}
		return s.wait(execv1.ReasonRunning, "looking for the Job's Pod", s.b.PodVanished-gone), true
	}
	waited := s.Now.Sub(job.CreationTimestamp.Time)
	if waited >= s.b.ContainerCreating {
		if s.CreateFailure != "" {
			return s.done(execv1.ReasonPodFailed, "Job %s could not create its Pod within %s: %s", job.Name, s.b.ContainerCreating, s.CreateFailure), true
		}
		return s.done(execv1.ReasonPodFailed, "Job %s created no Pod within %s", job.Name, s.b.ContainerCreating), true
	}
	if s.CreateFailure != "" {
		return s.wait(execv1.ReasonPending, fmt.Sprintf("Job %s cannot create its Pod: %s", job.Name, s.CreateFailure), min(s.b.ContainerCreating-waited, createFailureRecheck)), true
	}
	return s.wait(execv1.ReasonPending, "waiting for Job "+job.Name+" to create its Pod", min(s.b.ContainerCreating-waited, createFailureRecheck)), true
}

// createFailureRecheck is how often a Job without a Pod is looked at again
// for the Job controller's reason.
const createFailureRecheck = 15 * time.Second

// podEndedWithoutReport: the Pod ended, or is going, without a report from
// the runner. The Job controller may be about to say why (it deletes the
// Pods of a Job past its deadline before it marks the Job failed): give it
// PodVanished to.
func podEndedWithoutReport(s *seen) (Verdict, bool) {
	pod, cs := s.pod, s.cs
	var ended string
	var endedAt time.Time
	switch {
	case cs != nil && cs.State.Terminated != nil && pod.DeletionTimestamp != nil:
		ended, endedAt = "the Pod was deleted before the runner finished", pod.DeletionTimestamp.Time
	case cs != nil && cs.State.Terminated != nil:
		t := cs.State.Terminated
		ended, endedAt = fmt.Sprintf("the runner exited with code %d (%s) without a result", t.ExitCode, t.Reason), t.FinishedAt.Time
		if t.ExitCode == 137 {
			ended = "the runner was killed (exit 137) before it reported"
		}
	case pod.Status.Phase == corev1.PodFailed:
		ended, endedAt = fmt.Sprintf("the Pod failed: %s %s", pod.Status.Reason, pod.Status.Message), pod.CreationTimestamp.Time
		if c := podCondition(pod, corev1.DisruptionTarget); c != nil {
			endedAt = c.LastTransitionTime.Time
		}
	case pod.DeletionTimestamp != nil:
		ended, endedAt = "the Pod was deleted before the runner reported", pod.DeletionTimestamp.Time
	default:
		return Verdict{}, false
	}
	if s.failure != nil || jobFinished(s.Job) || s.Now.Sub(endedAt) >= s.b.PodVanished {
		return s.done(execv1.ReasonPodFailed, "%s", ended), true
	}
	return s.wait(execv1.ReasonRunning, ended+"; waiting for the Job's verdict", s.b.PodVanished-s.Now.Sub(endedAt)), true
}

// jobFailed: the Job failed for a reason of its own.
func jobFailed(s *seen) (Verdict, bool) {
	if s.failure == nil {
		return Verdict{}, false
	}
	return s.done(execv1.ReasonPodFailed, "the Job failed (%s): %s", s.failure.Reason, s.failure.Message), true
}

// cannotStart: the runner container waits for something that will not
// come by itself.
func cannotStart(s *seen) (Verdict, bool) {
	if s.cs == nil || s.cs.State.Waiting == nil || !fatalWaiting[s.cs.State.Waiting.Reason] {
		return Verdict{}, false
	}
	return s.done(execv1.ReasonPodFailed, "the runner container cannot start: %s: %s", s.cs.State.Waiting.Reason, s.cs.State.Waiting.Message), true
}

// unschedulable: no node takes the Pod, for at most Bounds.Unschedulable.
func unschedulable(s *seen) (Verdict, bool) {
	c := podCondition(s.pod, corev1.PodScheduled)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable {
		return Verdict{}, false
	}
	waited := s.Now.Sub(c.LastTransitionTime.Time)
	if waited >= s.b.Unschedulable {
		return s.done(execv1.ReasonPodFailed, "the Pod was unschedulable for %s: %s", s.b.Unschedulable, c.Message), true
	}
	return s.wait(execv1.ReasonPending, "the Pod is unschedulable: "+c.Message, s.b.Unschedulable-waited), true
}

// running: the runner container started.
func running(s *seen) (Verdict, bool) {
	if s.start == nil {
		return Verdict{}, false
	}
	return s.wait(execv1.ReasonRunning, "the runner is running in Pod "+s.pod.Name, 0), true
}

// podStarting: the Pod exists and its runner has not started yet, for at
// most Bounds.ContainerCreating.
func podStarting(s *seen) Verdict {
	waited := s.Now.Sub(s.pod.CreationTimestamp.Time)
	if waited >= s.b.ContainerCreating {
		return s.done(execv1.ReasonPodFailed, "the Pod did not start within %s%s", s.b.ContainerCreating, waitingNote(s.cs))
	}
	return s.wait(execv1.ReasonPending, "the Pod is starting"+waitingNote(s.cs), s.b.ContainerCreating-waited)
}

// stoppedByDeletion reports whether the Pod's deletion was requested before
// the runner container ended (timestamps have one-second resolution).
func stoppedByDeletion(pod *corev1.Pod, t *corev1.ContainerStateTerminated) bool {
	if pod.DeletionTimestamp == nil {
		return false
	}
	requested := pod.DeletionTimestamp.Time
	if pod.DeletionGracePeriodSeconds != nil {
		requested = requested.Add(-time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second)
	}
	// Both times have one-second precision: a runner that ended within a
	// second of the request may have been stopped by it.
	return !t.FinishedAt.Time.Before(requested.Add(-time.Second))
}

// summaryReason reads the reason of a runner summary, "" if there is none.
func summaryReason(msg string) string {
	var s struct {
		Reason string `json:"reason"`
	}
	if len(msg) > result.MaxTerminationMessage || json.Unmarshal([]byte(msg), &s) != nil {
		return ""
	}
	return s.Reason
}

// jobFailure returns the Job's Failed condition, or its FailureTarget
// condition, which the Job controller sets before it terminates the Pods.
func jobFailure(job *batchv1.Job) *batchv1.JobCondition {
	if job == nil {
		return nil
	}
	if c := jobCondition(job, batchv1.JobFailed); c != nil {
		return c
	}
	return jobCondition(job, batchv1.JobFailureTarget)
}

// ResultVerdict turns the runner's summary and result (or the error of
// reading them) into the final reason and message.
func ResultVerdict(s result.Summary, r *result.ExecutionResult, readErr error) (reason, message string) {
	if readErr != nil {
		if s.Reason == result.Completed || s.Reason == "" {
			return execv1.ReasonInternalError, "the runner's result could not be read: " + readErr.Error()
		}
		return string(s.Reason), s.Message + " (the full result could not be read: " + readErr.Error() + ")"
	}
	return string(r.Reason), r.Message
}

func newestPod(pods []corev1.Pod) *corev1.Pod {
	var p *corev1.Pod
	for i := range pods {
		if p == nil || pods[i].CreationTimestamp.After(p.CreationTimestamp.Time) {
			p = &pods[i]
		}
	}
	return p
}

func runnerStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == execv1.RunnerContainerName {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func memoryLimit(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if c.Name == execv1.RunnerContainerName {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				return q.String()
			}
		}
	}
	return "unknown"
}

func waitingNote(cs *corev1.ContainerStatus) string {
	if cs == nil || cs.State.Waiting == nil || cs.State.Waiting.Reason == "" {
		return ""
	}
	return fmt.Sprintf(" (%s: %s)", cs.State.Waiting.Reason, cs.State.Waiting.Message)
}

func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if c := &job.Status.Conditions[i]; c.Type == t && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

func jobFinished(job *batchv1.Job) bool {
	return jobCondition(job, batchv1.JobComplete) != nil || jobCondition(job, batchv1.JobFailed) != nil
}

// jobHadPod reports, from the Job's counters, whether it ever had a Pod.
func jobHadPod(job *batchv1.Job) bool {
	st := job.Status
	return st.Active > 0 || st.Failed > 0 || st.Succeeded > 0 || ptr.Deref(st.Terminating, 0) > 0 || ptr.Deref(st.Ready, 0) > 0 ||
		(st.UncountedTerminatedPods != nil && len(st.UncountedTerminatedPods.Succeeded)+len(st.UncountedTerminatedPods.Failed) > 0)
}

// lastJobChange is the last time the Job's own record moved: its creation
// or a condition.
func lastJobChange(job *batchv1.Job) time.Time {
	t := job.CreationTimestamp.Time
	for _, c := range job.Status.Conditions {
		if c.LastTransitionTime.After(t) {
			t = c.LastTransitionTime.Time
		}
	}
	return t
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func ptrTime(t metav1.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
