package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
)

// maxConditionMessage bounds condition messages.
const maxConditionMessage = 1024

// CodeExecutionReconciler turns a CodeExecution into a locked-down Job and
// the runner's result into the CodeExecution's status.
type CodeExecutionReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Logs     LogReader
	Clock    clock.PassiveClock
	Job      JobOptions
	Bounds   Bounds
	// JobTTLSecondsAfterFinished is set on a finished Job once its result
	// is persisted; nil keeps finished Jobs until their CodeExecution goes.
	JobTTLSecondsAfterFinished *int32
	// MaxConcurrentReconciles is how many executions are reconciled at
	// once; zero means DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
}

// DefaultMaxConcurrentReconciles lets Job creation keep up with bursts of
// executions.
const DefaultMaxConcurrentReconciles = 16

// +kubebuilder:rbac:groups=execution.codeexec.io,resources=codeexecutions,verbs=get;list;watch
// +kubebuilder:rbac:groups=execution.codeexec.io,resources=codeexecutions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one CodeExecution one step closer to its terminal status.
func (r *CodeExecutionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ce := &execv1.CodeExecution{}
	if err := r.Get(ctx, req.NamespacedName, ce); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ce.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("codeExecution", klog.KObj(ce)))
	old := ce.Status.DeepCopy()
	res, err := r.reconcile(ctx, ce)
	if !equality.Semantic.DeepEqual(old, &ce.Status) {
		if uerr := r.Status().Update(ctx, ce); uerr != nil {
			return ctrl.Result{}, errors.Join(err, client.IgnoreNotFound(uerr))
		}
		r.recordTransition(ctx, ce, old)
		if isFinished(ce) {
			err = errors.Join(err, r.releaseJob(ctx, ce))
		}
	}
	return res, err
}

// reconcile is the ladder: finished → task → Job → observe → report.
func (r *CodeExecutionReconciler) reconcile(ctx context.Context, ce *execv1.CodeExecution) (ctrl.Result, error) {
	if isFinished(ce) {
		return ctrl.Result{}, r.releaseJob(ctx, ce)
	}
	limits := ResolveLimits(ce.Spec.Limits, BuiltinDefaults())
	ce.Status.Limits = &limits
	ce.Status.JobName = JobName(ce.Name, ce.UID)
	if err := ValidateLimits(limits); err != nil {
		r.finish(ce, execv1.ReasonInvalidInput, err.Error(), nil)
		return ctrl.Result{}, nil
	}
	if err := r.ensureTask(ctx, ce, limits); err != nil {
		return ctrl.Result{}, err
	}
	job, err := r.ensureJob(ctx, ce, limits)
	if err != nil || job == nil {
		return ctrl.Result{}, err
	}
	pods, err := r.listPods(ctx, ce)
	if err != nil {
		return ctrl.Result{}, err
	}
	v := Classify(Observation{Job: job, Pods: pods, Now: r.Clock.Now()}, r.Bounds)
	if v.StartTime != nil && ce.Status.StartTime == nil {
		ce.Status.StartTime = v.StartTime
	}
	switch {
	case v.ReadResult:
		return ctrl.Result{}, r.readResult(ctx, ce, v, limits)
	case v.Done:
		r.finish(ce, v.Reason, v.Message, nil)
		return ctrl.Result{}, nil
	default:
		r.setCondition(ce, metav1.ConditionUnknown, v.Reason, v.Message)
		return ctrl.Result{RequeueAfter: v.RequeueAfter}, nil
	}
}

// ensureTask creates the ConfigMap with the code and the task, once.
func (r *CodeExecutionReconciler) ensureTask(ctx context.Context, ce *execv1.CodeExecution, l execv1.ExecutionLimits) error {
	cm, err := BuildTaskConfigMap(ce, l)
	if err != nil {
		return err
	}
	return r.createOwned(ctx, ce, cm, &corev1.ConfigMap{})
}

// ensureJob returns the execution's Job, creating it when it does not
// exist. A Job of that name owned by someone else is never adopted.
func (r *CodeExecutionReconciler) ensureJob(ctx context.Context, ce *execv1.CodeExecution, l execv1.ExecutionLimits) (*batchv1.Job, error) {
	job := &batchv1.Job{}
	err := r.Get(ctx, types.NamespacedName{Namespace: ce.Namespace, Name: JobName(ce.Name, ce.UID)}, job)
	if apierrors.IsNotFound(err) {
		o := r.Job
		o.TTLSecondsAfterFinished = nil // set once the result is persisted
		job = BuildJob(ce, l, o)
		if err := r.createOwned(ctx, ce, job, &batchv1.Job{}); err != nil {
			return nil, err
		}
		ctrl.LoggerFrom(ctx).Info("Created Job", "job", klog.KObj(job))
		err = r.Get(ctx, client.ObjectKeyFromObject(job), job)
		if apierrors.IsNotFound(err) {
			return job, nil // not in the cache yet; the watch brings it
		}
	}
	if err != nil {
		return nil, fmt.Errorf("getting Job: %w", err)
	}
	if !metav1.IsControlledBy(job, ce) {
		r.finish(ce, execv1.ReasonInternalError, fmt.Sprintf("Job %s exists and is not owned by this CodeExecution", job.Name), nil)
		return nil, nil
	}
	return job, nil
}

// createOwned sets ce as the controller of obj and creates it; an object
// that already exists is looked up and must be ours.
func (r *CodeExecutionReconciler) createOwned(ctx context.Context, ce *execv1.CodeExecution, obj, existing client.Object) error {
	if err := controllerutil.SetControllerReference(ce, obj, r.Scheme); err != nil {
		return err
	}
	err := r.Create(ctx, obj)
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
		return nil
	}
	if err := r.Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(existing, ce) {
		return fmt.Errorf("%T %s exists and is not owned by CodeExecution %s", obj, obj.GetName(), ce.Name)
	}
	return nil
}

func (r *CodeExecutionReconciler) listPods(ctx context.Context, ce *execv1.CodeExecution) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(ce.Namespace), client.MatchingLabels{execv1.LabelExecutionUID: string(ce.UID)}); err != nil {
		return nil, fmt.Errorf("listing Pods: %w", err)
	}
	return pods.Items, nil
}

// readResult reads and validates the runner's result and ends the
// execution with it.
func (r *CodeExecutionReconciler) readResult(ctx context.Context, ce *execv1.CodeExecution, v Verdict, l execv1.ExecutionLimits) error {
	maxOut := int64(*l.MaxOutputBytes)
	s, err := ParseSummary(v.TerminationMessage, maxOut)
	if err != nil {
		r.finish(ce, execv1.ReasonInternalError, "the runner's report is unreadable: "+err.Error(), nil)
		return nil
	}
	var res *result.ExecutionResult
	log, err := r.Logs.TailLog(ctx, ce.Namespace, v.PodName, execv1.RunnerContainerName, s.Size+logSlack)
	if err == nil {
		var parsed result.ExecutionResult
		parsed, err = ParseResultLog(log, s, maxOut)
		res = &parsed
	} else if !apierrors.IsNotFound(err) && !isPermanentLogError(err) {
		return err // transient: retry with backoff
	}
	reason, msg := ResultVerdict(s, res, err)
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("Runner result unreadable", "pod", v.PodName, "err", err.Error())
		res = nil
	}
	var stored *execv1.ExecutionResult
	if res != nil && len(res.Result) > execv1.MaxInlineResultBytes {
		// Persist the large result before the status says it is done.
		st, cm, serr := ResultStatus(ce, res.Result, res.Truncated)
		if serr != nil {
			r.finish(ce, execv1.ReasonInternalError, "storing the result: "+serr.Error(), nil)
			return nil
		}
		if err := r.createOwned(ctx, ce, cm, &corev1.ConfigMap{}); err != nil {
			return err
		}
		stored = st
	}
	r.finish(ce, reason, msg, res)
	if stored != nil {
		ce.Status.Result = stored
	}
	return nil
}

// logSlack is read beyond the result line: the lines around it.
const logSlack = 64 << 10

func isPermanentLogError(err error) bool {
	return apierrors.IsBadRequest(err) || apierrors.IsForbidden(err)
}

// finish records the terminal status.
func (r *CodeExecutionReconciler) finish(ce *execv1.CodeExecution, reason, message string, res *result.ExecutionResult) {
	now := metav1.NewTime(r.Clock.Now())
	status := metav1.ConditionFalse
	if reason == execv1.ReasonCompleted && res != nil && res.Succeeded {
		status = metav1.ConditionTrue
	}
	r.setCondition(ce, status, reason, message)
	ce.Status.CompletionTime = &now
	if res != nil {
		if len(res.Result) <= execv1.MaxInlineResultBytes {
			ce.Status.Result, _, _ = ResultStatus(ce, res.Result, res.Truncated)
		}
		ce.Status.Stdout = tail(res.Stdout, execv1.MaxStreamTailBytes)
		ce.Status.Stderr = tail(res.Stderr, execv1.MaxStreamTailBytes)
		if res.DurationMillis > 0 {
			ce.Status.Duration = &metav1.Duration{Duration: time.Duration(res.DurationMillis) * time.Millisecond}
		}
	}
	if ce.Status.Duration == nil && ce.Status.StartTime != nil {
		ce.Status.Duration = &metav1.Duration{Duration: now.Sub(ce.Status.StartTime.Time).Round(time.Millisecond)}
	}
}

func (r *CodeExecutionReconciler) setCondition(ce *execv1.CodeExecution, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&ce.Status.Conditions, metav1.Condition{
		Type:               execv1.ConditionSucceeded,
		Status:             status,
		Reason:             reason,
		Message:            result.TruncateUTF8(message, maxConditionMessage),
		ObservedGeneration: ce.Generation,
	})
	ce.Status.ObservedGeneration = ce.Generation
}

// releaseJob sets the Job's TTL once the result is safely in status.
func (r *CodeExecutionReconciler) releaseJob(ctx context.Context, ce *execv1.CodeExecution) error {
	if r.JobTTLSecondsAfterFinished == nil || ce.Status.JobName == "" {
		return nil
	}
	job := &batchv1.Job{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ce.Namespace, Name: ce.Status.JobName}, job); err != nil {
		return client.IgnoreNotFound(err)
	}
	if job.Spec.TTLSecondsAfterFinished != nil || !metav1.IsControlledBy(job, ce) {
		return nil
	}
	patch := client.MergeFrom(job.DeepCopy())
	job.Spec.TTLSecondsAfterFinished = r.JobTTLSecondsAfterFinished
	if err := r.Patch(ctx, job, patch); err != nil {
		return fmt.Errorf("setting the TTL of Job %s: %w", job.Name, client.IgnoreNotFound(err))
	}
	return nil
}

// recordTransition emits an event when the Succeeded condition changed.
func (r *CodeExecutionReconciler) recordTransition(ctx context.Context, ce *execv1.CodeExecution, old *execv1.CodeExecutionStatus) {
	was := meta.FindStatusCondition(old.Conditions, execv1.ConditionSucceeded)
	now := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
	if now == nil || (was != nil && was.Status == now.Status && was.Reason == now.Reason) {
		return
	}
	typ := corev1.EventTypeNormal
	if now.Status == metav1.ConditionFalse {
		typ = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(ce, nil, typ, now.Reason, "Reconcile", "%s", now.Message)
	if now.Status != metav1.ConditionUnknown {
		ctrl.LoggerFrom(ctx).Info("Execution finished", "reason", now.Reason, "succeeded", now.Status)
	}
}

func isFinished(ce *execv1.CodeExecution) bool {
	c := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
	return c != nil && c.Status != metav1.ConditionUnknown
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	for len(s) > 0 && (s[0]&0xC0) == 0x80 {
		s = s[1:]
	}
	return s
}

// SetupWithManager registers the controller: it watches CodeExecutions,
// the Jobs they own, and the sandbox Pods.
func (r *CodeExecutionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers := r.MaxConcurrentReconciles
	if workers <= 0 {
		workers = DefaultMaxConcurrentReconciles
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&execv1.CodeExecution{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&batchv1.Job{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podToExecution)).
		Named("codeexecution").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// podToExecution maps a sandbox Pod to its CodeExecution.
func podToExecution(_ context.Context, obj client.Object) []reconcile.Request {
	name, ok := obj.GetAnnotations()[execv1.AnnotationExecutionName]
	if !ok || obj.GetLabels()[execv1.LabelManagedBy] != execv1.ManagedByValue {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}
