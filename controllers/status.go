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

// Bounds are the time limits after which a Pod that makes no progress is
// declared failed instead of waiting forever.
type Bounds struct {
	// Unschedulable is how long a Pod may stay unschedulable.
	Unschedulable time.Duration
	// ContainerCreating is how long a Pod may stay without a running or
	// terminated container (volumes that cannot mount, a slow pull).
	ContainerCreating time.Duration
	// PodVanished is how long a Job that had a Pod may show none.
	PodVanished time.Duration
}

// DefaultBounds returns the manager's default bounds.
func DefaultBounds() Bounds {
	return Bounds{Unschedulable: 2 * time.Minute, ContainerCreating: 3 * time.Minute, PodVanished: 30 * time.Second}
}

// Observation is what the reconciler saw of an execution's Job and Pods.
type Observation struct {
	Job  *batchv1.Job
	Pods []corev1.Pod
	Now  time.Time
	// Started is when the runner was last seen starting (status.startTime).
	Started *metav1.Time
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

// Classify maps the state of the Job and its Pods to a Verdict. It is a
// pure function and tolerates any combination of missing or odd fields.
func Classify(o Observation, b Bounds) Verdict {
	pod := newestPod(o.Pods)
	var cs *corev1.ContainerStatus
	var start *metav1.Time
	if pod != nil {
		cs = runnerStatus(pod)
		if cs != nil && cs.State.Running != nil {
			start = ptrTime(cs.State.Running.StartedAt)
		}
		if cs != nil && cs.State.Terminated != nil && !cs.State.Terminated.StartedAt.IsZero() {
			start = ptrTime(cs.State.Terminated.StartedAt)
		}
	}
	if start == nil {
		start = o.Started
	}
	done := func(reason, format string, args ...any) Verdict {
		return Verdict{Done: true, Reason: reason, Message: fmt.Sprintf(format, args...), StartTime: start}
	}

	// The runner finished: its own report comes first, except that an OOM
	// kill by the kernel is the truth about memory, and that a runner
	// stopped by the deletion of its Pod (by a user, an eviction, or the Job
	// controller past the deadline) reports only that it was stopped.
	if cs != nil && cs.State.Terminated != nil {
		t := cs.State.Terminated
		switch {
		case t.Reason == "OOMKilled":
			return done(execv1.ReasonMemoryLimitExceeded, "the container was OOM-killed at its memory limit of %s", memoryLimit(pod))
		case sandboxOOMKilled(pod) && summaryReason(t.Message) != string(execv1.ReasonCompleted):
			return done(execv1.ReasonMemoryLimitExceeded, "the sandbox container was OOM-killed at its memory limit of %s", sandboxMemoryLimit(pod))
		case t.Message != "" && (!stoppedByDeletion(pod, t) || summaryReason(t.Message) == string(execv1.ReasonCompleted)):
			return Verdict{ReadResult: true, TerminationMessage: t.Message, PodName: pod.Name, StartTime: start}
		}
	}
	failure := jobFailure(o.Job)
	if failure != nil && failure.Reason == batchv1.JobReasonDeadlineExceeded {
		if start == nil {
			return done(execv1.ReasonPodFailed, "the Pod did not start before the Job's deadline of %ds%s", ptr.Deref(o.Job.Spec.ActiveDeadlineSeconds, 0), waitingNote(cs))
		}
		return done(execv1.ReasonTimeout, "the Job's activeDeadlineSeconds (%ds) ended the execution", ptr.Deref(o.Job.Spec.ActiveDeadlineSeconds, 0))
	}
	if pod == nil {
		if failure != nil {
			return done(execv1.ReasonPodFailed, "the Job failed (%s): %s", failure.Reason, failure.Message)
		}
		if o.Job == nil {
			return Verdict{Reason: execv1.ReasonPending, Message: "waiting for the Job"}
		}
		if ptr.Deref(o.Job.Spec.Suspend, false) {
			return Verdict{Reason: execv1.ReasonQueued, Message: fmt.Sprintf("waiting for Kueue to admit Job %s (queue %s)", o.Job.Name, o.Job.Labels[LabelKueueQueueName])}
		}
		if jobHadPod(o.Job) {
			gone := o.Now.Sub(lastJobChange(o.Job))
			if gone >= b.PodVanished || jobFinished(o.Job) {
				return done(execv1.ReasonPodFailed, "the Job's Pod vanished before the runner reported")
			}
			return Verdict{Reason: execv1.ReasonRunning, Message: "looking for the Job's Pod", RequeueAfter: b.PodVanished - gone}
		}
		return Verdict{Reason: execv1.ReasonPending, Message: "waiting for Job " + o.Job.Name + " to create its Pod"}
	}

	// The Pod ended, or is going, without a report from the runner. The Job
	// controller may be about to say why (it deletes the Pods of a Job past
	// its deadline before it marks the Job failed): give it PodVanished to.
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
	}
	if ended != "" {
		if failure != nil || jobFinished(o.Job) || o.Now.Sub(endedAt) >= b.PodVanished {
			return done(execv1.ReasonPodFailed, "%s", ended)
		}
		return Verdict{Reason: execv1.ReasonRunning, Message: ended + "; waiting for the Job's verdict", StartTime: start,
			RequeueAfter: b.PodVanished - o.Now.Sub(endedAt)}
	}
	if failure != nil {
		return done(execv1.ReasonPodFailed, "the Job failed (%s): %s", failure.Reason, failure.Message)
	}
	if cs != nil && cs.State.Waiting != nil && fatalWaiting[cs.State.Waiting.Reason] {
		return done(execv1.ReasonPodFailed, "the runner container cannot start: %s: %s", cs.State.Waiting.Reason, cs.State.Waiting.Message)
	}
	if c := podCondition(pod, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
		waited := o.Now.Sub(c.LastTransitionTime.Time)
		if waited >= b.Unschedulable {
			return done(execv1.ReasonPodFailed, "the Pod was unschedulable for %s: %s", b.Unschedulable, c.Message)
		}
		return Verdict{Reason: execv1.ReasonPending, Message: "the Pod is unschedulable: " + c.Message, RequeueAfter: b.Unschedulable - waited}
	}
	if start != nil {
		return Verdict{Reason: execv1.ReasonRunning, Message: "the runner is running in Pod " + pod.Name, StartTime: start}
	}
	waited := o.Now.Sub(pod.CreationTimestamp.Time)
	if waited >= b.ContainerCreating {
		return done(execv1.ReasonPodFailed, "the Pod did not start within %s%s", b.ContainerCreating, waitingNote(cs))
	}
	return Verdict{Reason: execv1.ReasonPending, Message: "the Pod is starting" + waitingNote(cs), RequeueAfter: b.ContainerCreating - waited}
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
	return !t.FinishedAt.Time.Before(requested)
}

// summaryReason reads the reason of a runner summary, "" if there is none.
func summaryReason(msg string) string {
	var s struct {
		Reason string `json:"reason"`
	}
	if len(msg) > maxTerminationMessage || json.Unmarshal([]byte(msg), &s) != nil {
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

func jobHadPod(job *batchv1.Job) bool {
	return job.Status.Active > 0 || job.Status.Failed > 0 || job.Status.Succeeded > 0 || job.Status.StartTime != nil
}

func lastJobChange(job *batchv1.Job) time.Time {
	t := job.CreationTimestamp.Time
	if job.Status.StartTime != nil && job.Status.StartTime.After(t) {
		t = job.Status.StartTime.Time
	}
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
