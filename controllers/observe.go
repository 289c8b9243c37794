package controllers

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
)

// Observed is what one reconcile read of a started execution: its Job,
// the Pods that Job controls, and, only once the runner ended with a
// summary, the tail of its log.
type Observed struct {
	Now time.Time
	// Job is the execution's Job, the one whose UID status.jobUID holds;
	// nil when it is gone.
	Job *batchv1.Job
	// JobGone is true when no object of the Job's name exists any more
	// (checked live); Replaced names what holds the name instead.
	JobGone  bool
	Replaced types.UID
	// Pods are the Pods that Job controls and that are what the Job
	// controller creates from its template (PodDiffersFromTemplate). A
	// Pod that merely carries the execution's labels, or also a forged
	// controller reference to the Job, is never among them.
	Pods []corev1.Pod
	// Impostors are the Pods with the execution's labels and a controller
	// reference to its Job that are not what the Job controller creates,
	// with the first field that differs: they are ignored (and evented).
	Impostors []Impostor
	// TaskReplaced, set once the runner ended, says how the task
	// ConfigMap is no longer the one the controller created (its UID is
	// not status.taskConfigMapUID): the Pod may have mounted another.
	TaskReplaced string
	// CreateFailure is the Job controller's reason for not creating the
	// Pod, looked up only while a Job has gone a while without one.
	CreateFailure string
	// Log is the runner's log, read once its container ended with a
	// summary; LogErr is the error of reading it.
	Log    []byte
	LogErr error
	// LogRead is true when the log was asked for.
	LogRead bool
	// JobChanged, when not "", is the first mutable field of the live
	// Job's spec that is not what the controller builds for the execution
	// (JobSpecChanged): someone else changed the Job.
	JobChanged string
}

// observe reads the execution's Job (from the cache, confirmed live when
// the cache does not have it), its Pods (from the cache, filtered by
// controller), the Job controller's reason when the Job has no Pod, and
// the log only once the runner has ended.
func (r *CodeExecutionReconciler) observe(ctx context.Context, ce *execv1.CodeExecution) (Observed, error) {
	o := Observed{Now: r.Clock.Now()}
	key := types.NamespacedName{Namespace: ce.Namespace, Name: ce.Status.JobName}
	job := &batchv1.Job{}
	err := r.Get(ctx, key, job)
	if err == nil && string(job.UID) != ce.Status.JobUID {
		err = apierrors.NewNotFound(batchv1.Resource("jobs"), key.Name)
	}
	if apierrors.IsNotFound(err) {
		// The cache may lag a Job just created, and holds no unlabelled
		// object of that name: ask the API server.
		err = r.APIReader.Get(ctx, key, job)
		switch {
		case apierrors.IsNotFound(err):
			o.JobGone = true
			return o, nil
		case err == nil && string(job.UID) != ce.Status.JobUID:
			o.Replaced = job.UID
			return o, nil
		}
	}
	if err != nil {
		return o, fmt.Errorf("getting Job %s: %w", key.Name, err)
	}
	o.Job = job
	// What the controller built is rebuilt from the execution's recorded
	// status, never read from the Job: a neighbour who may update Jobs
	// changes the Job, not the status.
	if o.JobChanged = JobSpecChanged(BuildJob(ce, *ce.Status.Limits, r.jobOptions(ce)), job, int64(ptr.Deref(ce.Status.Limits.TimeoutSeconds, execv1.DefaultTimeoutSeconds))); o.JobChanged != "" {
		return o, nil
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(ce.Namespace), client.MatchingLabels{execv1.LabelExecutionUID: string(ce.UID)}); err != nil {
		return o, fmt.Errorf("listing Pods: %w", err)
	}
	o.Pods, o.Impostors = jobPods(pods.Items, job)
	if len(o.Pods) == 0 && !jobHadPod(job) && o.Now.Sub(job.CreationTimestamp.Time) >= r.Bounds.CreateFailureAfter {
		if o.CreateFailure, err = r.createFailure(ctx, job); err != nil {
			return o, err
		}
	}
	v := Classify(Observation{Job: job, Pods: o.Pods, Now: o.Now, Started: ce.Status.StartTime}, r.Bounds)
	if v.ReadResult {
		if o.TaskReplaced, err = r.taskReplaced(ctx, ce); err != nil || o.TaskReplaced != "" {
			return o, err
		}
		maxOut := int64(*ce.Status.Limits.MaxOutputBytes)
		if s, err := result.ParseSummary(v.TerminationMessage, maxOut); err == nil {
			o.LogRead = true
			o.Log, o.LogErr = r.Logs.TailLog(ctx, ce.Namespace, v.PodName, execv1.RunnerContainerName, s.Size+logSlack)
		}
	}
	return o, nil
}

// Impostor is a Pod that claims to be the Job's but is not what the Job
// controller creates from its template.
type Impostor struct {
	Pod  *corev1.Pod
	Diff string
}

// jobPods splits pods into those job controls and that are what the Job
// controller creates from its template, and the impostors: Pods with a
// controller reference to job that are not. Pods not controlled by job
// are neither.
func jobPods(pods []corev1.Pod, job *batchv1.Job) (ours []corev1.Pod, impostors []Impostor) {
	for i := range pods {
		p := &pods[i]
		if c := metav1.GetControllerOf(p); c == nil || c.UID != job.UID {
			continue
		}
		if d := PodDiffersFromTemplate(p, job); d != "" {
			impostors = append(impostors, Impostor{Pod: p.DeepCopy(), Diff: d})
			continue
		}
		ours = append(ours, *p)
	}
	return ours, impostors
}

// taskReplaced reads the task ConfigMap live and returns "" when it is
// the one the controller created (status.taskConfigMapUID), else what
// became of it. UIDs are never reused, so a ConfigMap that still has that
// UID has been there, unchanged (it is immutable), since the controller
// created it, before the Job: whatever the Pod mounted by name was it (a
// counted Pod names the Job's UID as its controller, so it was created
// after the Job, and so after the ConfigMap).
// Executions started before the UID was recorded are not checked.
func (r *CodeExecutionReconciler) taskReplaced(ctx context.Context, ce *execv1.CodeExecution) (string, error) {
	if ce.Status.TaskConfigMapUID == "" {
		return "", nil
	}
	name := TaskConfigMapName(ce.Name, ce.UID)
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ce.Namespace, Name: name}, cm)
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("ConfigMap %s was deleted while the execution ran", name), nil
	case err != nil:
		return "", fmt.Errorf("getting the task ConfigMap %s: %w", name, err)
	case string(cm.UID) != ce.Status.TaskConfigMapUID:
		return fmt.Sprintf("ConfigMap %s was replaced while the execution ran (uid %s, created as %s)", name, cm.UID, ce.Status.TaskConfigMapUID), nil
	}
	return "", nil
}

// createFailure returns the message of the Job controller's latest
// FailedCreate event about job, "" when there is none.
func (r *CodeExecutionReconciler) createFailure(ctx context.Context, job *batchv1.Job) (string, error) {
	var evs corev1.EventList
	if err := r.APIReader.List(ctx, &evs, client.InNamespace(job.Namespace), client.MatchingFieldsSelector{
		Selector: fields.SelectorFromSet(fields.Set{"involvedObject.uid": string(job.UID), "reason": "FailedCreate"}),
	}); err != nil {
		return "", fmt.Errorf("listing the events of Job %s: %w", job.Name, err)
	}
	var last *corev1.Event
	for i := range evs.Items {
		if e := &evs.Items[i]; last == nil || eventTime(e).After(eventTime(last)) {
			last = e
		}
	}
	if last == nil {
		return "", nil
	}
	return last.Message, nil
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// logSlack is read beyond the result line: the lines around it.
const logSlack = 64 << 10
