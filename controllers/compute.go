package controllers

import (
	"fmt"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
)

// Outcome is how an execution ends: a reason, a message, and the runner's
// result when it was read.
type Outcome struct {
	Reason  string
	Message string
	Result  *result.ExecutionResult
	// DurationMillis is the run time the runner reported in its summary,
	// used when there is no Result.
	DurationMillis int64
}

// Plan is what Compute decided: the new status, the objects to create
// before that status is written, and when to look again. Whenever the new
// status is terminal, the execution's Job and its Pods are deleted right
// after it is written.
type Plan struct {
	Status       execv1.CodeExecutionStatus
	Create       []client.Object
	RequeueAfter time.Duration
}

// logRetry is how often an unreadable log is asked for again.
const logRetry = 5 * time.Second

// Compute is the controller's judgement of a started execution: from ce
// and what was observed of its Job, Pods and log, the new status and the
// objects to create. It is a pure function.
func Compute(ce *execv1.CodeExecution, o Observed, b Bounds) Plan {
	next := ce.DeepCopy()
	p := Plan{}
	end := func(out Outcome) Plan {
		if cm := finish(next, out, o.Now); cm != nil {
			p.Create = append(p.Create, cm)
		}
		p.Status = next.Status
		return p
	}
	switch {
	case o.JobGone:
		return end(Outcome{Reason: execv1.ReasonPodFailed, Message: fmt.Sprintf(
			"Job %s was deleted before the runner reported; an execution's Job is never recreated", ce.Status.JobName)})
	case o.Replaced != "":
		return end(Outcome{Reason: execv1.ReasonPodFailed, Message: fmt.Sprintf(
			"Job %s was deleted before the runner reported and its name now belongs to another object (uid %s); an execution's Job is never recreated",
			ce.Status.JobName, o.Replaced)})
	case o.JobChanged != "":
		return end(Outcome{Reason: execv1.ReasonInternalError, Message: fmt.Sprintf(
			"Job %s was changed by someone else: %s; what it runs and how it ends are no longer what the controller created, "+
				"so its verdict is not taken and the Job is deleted", ce.Status.JobName, o.JobChanged)})
	case o.TaskReplaced != "":
		return end(Outcome{Reason: execv1.ReasonInternalError, Message: o.TaskReplaced +
			": the Pod mounts it by name, so the code that ran may not be this execution's; its result is not taken"})
	}
	if msg := SuspendedAfterStart(ce, o.Job, o.Pods); msg != "" {
		return end(Outcome{Reason: execv1.ReasonPodFailed, Message: msg})
	}
	if msg := PodsClaimingTheJob(o.Job, o.Pods); msg != "" {
		return end(Outcome{Reason: execv1.ReasonInternalError, Message: msg})
	}
	v := Classify(Observation{Job: o.Job, Pods: o.Pods, Now: o.Now, Started: ce.Status.StartTime, CreateFailure: o.CreateFailure}, b)
	if v.StartTime != nil && next.Status.StartTime == nil {
		next.Status.StartTime = v.StartTime
	}
	switch {
	case v.ReadResult:
		out, wait := resultOutcome(ce, v, o, b)
		if wait != nil {
			setCondition(next, metav1.ConditionUnknown, wait.Reason, wait.Message)
			p.Status, p.RequeueAfter = next.Status, wait.RequeueAfter
			return p
		}
		return end(out)
	case v.Done:
		return end(Outcome{Reason: v.Reason, Message: v.Message})
	default:
		setCondition(next, metav1.ConditionUnknown, v.Reason, v.Message)
		p.Status, p.RequeueAfter = next.Status, v.RequeueAfter
		return p
	}
}

// resultOutcome reads the runner's summary and log into an Outcome, or
// says to wait while a failing pods/log may still recover.
func resultOutcome(ce *execv1.CodeExecution, v Verdict, o Observed, b Bounds) (Outcome, *Verdict) {
	maxOut := int64(*ce.Status.Limits.MaxOutputBytes)
	s, err := result.ParseSummary(v.TerminationMessage, maxOut)
	if err != nil {
		return Outcome{Reason: execv1.ReasonInternalError, Message: "the runner's report is unreadable: " + err.Error()}, nil
	}
	var res *result.ExecutionResult
	readErr := o.LogErr
	switch {
	case !o.LogRead:
		readErr = fmt.Errorf("the runner's log was not read")
	case readErr == nil:
		var parsed result.ExecutionResult
		parsed, readErr = result.ParseResultLog(o.Log, s, maxOut)
		res = &parsed
	case apierrors.IsNotFound(readErr) || isPermanentLogError(readErr):
	default:
		if waited := o.Now.Sub(v.FinishedAt); waited < b.LogUnavailable {
			return Outcome{}, &Verdict{Reason: execv1.ReasonRunning,
				Message:      fmt.Sprintf("the runner finished; its log is unavailable, retrying for up to %s", b.LogUnavailable),
				RequeueAfter: min(logRetry, b.LogUnavailable-waited)}
		}
		readErr = fmt.Errorf("the result line was unavailable for %s after the runner finished (%v); this outcome comes from the runner's termination summary alone",
			b.LogUnavailable, readErr)
	}
	if readErr != nil {
		reason, msg := ResultVerdict(s, nil, readErr)
		return Outcome{Reason: reason, Message: msg, DurationMillis: s.DurationMillis}, nil
	}
	reason, msg := ResultVerdict(s, res, nil)
	return Outcome{Reason: reason, Message: msg, Result: res}, nil
}

func isPermanentLogError(err error) bool {
	return apierrors.IsBadRequest(err) || apierrors.IsForbidden(err)
}

// finish records the terminal status in ce's status. A result over the
// inline limit goes to the ConfigMap it returns, which must be created
// before that status is written.
func finish(ce *execv1.CodeExecution, o Outcome, now time.Time) *corev1.ConfigMap {
	st := &ce.Status
	var cm *corev1.ConfigMap
	res := o.Result
	if res != nil {
		stored, c, err := ResultStatus(ce, res.Result, res.Truncated)
		if err != nil {
			o = Outcome{Reason: execv1.ReasonInternalError, Message: "storing the result: " + err.Error()}
			res = nil
		} else {
			st.Result, cm = stored, c
		}
	}
	status := metav1.ConditionFalse
	if o.Reason == execv1.ReasonCompleted && res != nil && res.Succeeded {
		status = metav1.ConditionTrue
	}
	setCondition(ce, status, o.Reason, o.Message)
	t := metav1.NewTime(now)
	st.CompletionTime = &t
	millis := o.DurationMillis
	if res != nil {
		st.Stdout = tail(res.Stdout, execv1.MaxStreamTailBytes)
		st.Stderr = tail(res.Stderr, execv1.MaxStreamTailBytes)
		millis = res.DurationMillis
	}
	if millis > 0 {
		st.Duration = &metav1.Duration{Duration: time.Duration(millis) * time.Millisecond}
	}
	if st.Duration == nil && st.StartTime != nil {
		st.Duration = &metav1.Duration{Duration: now.Sub(st.StartTime.Time).Round(time.Millisecond)}
	}
	return cm
}

// SuspendedAfterStart returns why ce ends because its Job was suspended,
// "" when it was not. Suspending a Job deletes its Pod, and resuming it
// creates a new one that runs the code again: an execution runs its code
// once, so a Job suspended (or resumed) after its Pod ran ends the
// execution, as PodFailed. A Job created suspended for Kueue is suspended
// legitimately until its first Pod; without Kueue the controller never
// suspends a Job, so any suspension is someone else's. It is a pure
// function.
func SuspendedAfterStart(ce *execv1.CodeExecution, job *batchv1.Job, pods []corev1.Pod) string {
	if job == nil {
		return ""
	}
	kueue := ce.Status.Sandbox != nil && ce.Status.Sandbox.KueueQueueName != ""
	ran := ce.Status.StartTime != nil || jobHadPod(job) || len(pods) > 0
	suspendedNow := job.Spec.Suspend != nil && *job.Spec.Suspend
	var cond *batchv1.JobCondition
	for i := range job.Status.Conditions {
		if c := &job.Status.Conditions[i]; c.Type == batchv1.JobSuspended {
			cond = c
		}
	}
	switch {
	case suspendedNow && (!kueue || ran):
	case cond != nil && !kueue:
	case cond != nil && ce.Status.StartTime != nil && cond.LastTransitionTime.After(ce.Status.StartTime.Time):
	default:
		return ""
	}
	return fmt.Sprintf("Job %s was suspended after it was created; suspending deletes the Pod and resuming would run the code a second time, "+
		"so the execution ends here and its Job is deleted", job.Name)
}

// PodsClaimingTheJob returns why ce ends because more than one Pod passes
// as its Job's (controlled by it and what the Job controller creates from
// its template), "" when at most one does. The Job the controller builds
// (parallelism 1, completions 1, backoffLimit 0, checked on every observe
// by JobSpecChanged) has at most one Pod, ever: a second one is a copy a
// neighbour who may create Pods made of the first, identical but for
// what PodDiffersFromTemplate cannot compare (spec.nodeName, set by the
// scheduler). Which one ran the execution's code cannot be told, so no
// verdict is taken from either: picking one (the newest) let a copy that
// never ran decide the execution, or hide the genuine result. A neighbour
// can always deny an execution in its namespace; it must never make the
// controller report a verdict the real run did not produce. It is a pure
// function.
func PodsClaimingTheJob(job *batchv1.Job, pods []corev1.Pod) string {
	if job == nil || len(pods) < 2 {
		return ""
	}
	names := make([]string, 0, len(pods))
	for i := range pods {
		names = append(names, pods[i].Name)
	}
	slices.Sort(names)
	return fmt.Sprintf("%d Pods claim to be Job %s's Pod: %s; the Job has only one, so one is someone else's copy and "+
		"which of them ran the code cannot be told: no verdict is taken, and the Job and its Pods are deleted",
		len(pods), job.Name, strings.Join(names, ", "))
}
