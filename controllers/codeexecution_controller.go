package controllers

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

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
	// MaxConcurrentReconciles is how many executions are reconciled at
	// once; zero means DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// APIReader reads from the API server, bypassing the cache: the
	// children the controller finds already there are read through it,
	// because the cache only holds objects that carry the managed-by label.
	APIReader client.Reader
	// LookupIP resolves a datasource host; nil uses the system resolver.
	LookupIP func(ctx context.Context, host string) ([]net.IP, error)
	// AllowUnselectedNamespaces lets a namespace that no ExecutionPolicy
	// selects run executions under the built-in defaults. Off by default:
	// such a namespace runs nothing.
	AllowUnselectedNamespaces bool

	queue queue
	// started remembers the Job each execution got (UID → startedJob)
	// until the cache shows it in status: a reconcile that reads a stale
	// copy must not try to start the execution again.
	started sync.Map
	// refusals counts, per execution UID, the creates the API server
	// refused, so that a refusal ends the execution after a bound
	// (Bounds.CreateRefused) and not at once or never.
	refusals sync.Map
	// impostors remembers the Pods already reported as impostors (Pod
	// UID → execution UID), so that each is evented once.
	impostors sync.Map
}

type startedJob struct{ uid, name, taskUID string }

// DefaultMaxConcurrentReconciles lets Job creation keep up with bursts of
// executions.
const DefaultMaxConcurrentReconciles = 16

// queuedRecheck is the safety net of a queued execution: it looks again
// this long after its last reconcile even if no event woke it.
const queuedRecheck = time.Minute

// CacheOptions are the manager's cache settings the controller relies on:
// Jobs, Pods and ConfigMaps are cached only when they carry the managed-by
// label. Anything else of those kinds is invisible to the cache and must
// be read through APIReader.
func CacheOptions() cache.Options {
	owned := labels.SelectorFromSet(labels.Set{execv1.LabelManagedBy: execv1.ManagedByValue})
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&batchv1.Job{}:      {Label: owned},
		&corev1.Pod{}:       {Label: owned},
		&corev1.ConfigMap{}: {Label: owned},
	}}
}

// +kubebuilder:rbac:groups=execution.codeexec.io,resources=codeexecutions,verbs=get;list;watch
// +kubebuilder:rbac:groups=execution.codeexec.io,resources=codeexecutions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=events,verbs=list
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=execution.codeexec.io,resources=executionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=execution.codeexec.io,resources=executionpolicies/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=resourcequotas,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=limitranges,verbs=get;list;watch
// +kubebuilder:rbac:groups=node.k8s.io,resources=runtimeclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups=scheduling.k8s.io,resources=priorityclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create

// Reconcile brings one CodeExecution one step closer to its terminal
// status. The status is written once, if it changed; a terminal status is
// written before the Job is deleted, and the Job is deleted in the same
// reconcile.
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
	res, stop, err := r.reconcile(ctx, ce)
	if !equality.Semantic.DeepEqual(old, &ce.Status) {
		if uerr := r.Status().Update(ctx, ce); uerr != nil {
			return ctrl.Result{}, errors.Join(err, client.IgnoreNotFound(uerr))
		}
		r.recordTransition(ctx, ce, old)
		if old.JobUID == "" && ce.Status.JobUID != "" {
			r.queue.started(ce.Namespace, ce.UID)
		}
	}
	if isFinished(ce) {
		// The terminal status is stored: now nothing of it may run. Pods
		// left by a Job that vanished are swept only in the reconcile that
		// ended the execution (later, with the Job gone, a Pod that names
		// it is a neighbour's decoy: the Job's own were deleted then).
		justFinished := !isFinished(&execv1.CodeExecution{Status: *old})
		return ctrl.Result{}, errors.Join(err, r.stopWorkload(ctx, ce, stop, justFinished))
	}
	return res, err
}

// reconcile is the ladder: finished → resolve the policy once → start
// (queue, quota, children) once → observe, compute, apply.
func (r *CodeExecutionReconciler) reconcile(ctx context.Context, ce *execv1.CodeExecution) (ctrl.Result, *workload, error) {
	switch {
	case isFinished(ce):
		return ctrl.Result{}, nil, nil
	case ce.Status.Limits == nil:
		if err := r.resolve(ctx, ce); err != nil || isFinished(ce) {
			return ctrl.Result{}, nil, err
		}
	}
	if v, ok := r.started.Load(ce.UID); ok && ce.Status.JobUID == "" {
		j := v.(startedJob)
		ce.Status.JobUID, ce.Status.JobName = j.uid, j.name
		if ce.Status.TaskConfigMapUID == "" {
			ce.Status.TaskConfigMapUID = j.taskUID
		}
	}
	if ce.Status.JobUID == "" {
		res, err := r.start(ctx, ce)
		if err != nil || ce.Status.JobUID == "" {
			return res, nil, err
		}
	}
	obs, err := r.observe(ctx, ce)
	if err != nil {
		return ctrl.Result{}, nil, err
	}
	plan := Compute(ce, obs, r.Bounds)
	return r.apply(ctx, ce, obs, plan)
}

// setCondition sets the Succeeded condition.
func setCondition(ce *execv1.CodeExecution, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&ce.Status.Conditions, metav1.Condition{
		Type:               execv1.ConditionSucceeded,
		Status:             status,
		Reason:             reason,
		Message:            result.TruncateUTF8(message, maxConditionMessage),
		ObservedGeneration: ce.Generation,
	})
	ce.Status.ObservedGeneration = ce.Generation
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
// their Jobs, the sandbox Pods, and what can release a queued execution:
// a Job finishing or going, an execution ending or going, a ResourceQuota
// or an ExecutionPolicy changing. Those wake the head of the namespace's
// queue, read from the cache.
func (r *CodeExecutionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers := r.MaxConcurrentReconciles
	if workers <= 0 {
		workers = DefaultMaxConcurrentReconciles
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	r.queue.wake = make(chan event.GenericEvent, wakeBuffer)
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &execv1.CodeExecution{}, QueueStateIndex, QueueState); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&execv1.CodeExecution{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&batchv1.Job{}, r.jobHandler()).
		Watches(&corev1.Pod{}, r.podHandler()).
		Watches(&execv1.CodeExecution{}, r.headsOfNamespace(), builder.WithPredicates(finishedOrDeleted)).
		Watches(&corev1.ResourceQuota{}, r.headsOfNamespace()).
		Watches(PolicyObject(), r.headsOfAllNamespaces()).
		WatchesRawSource(source.Channel(r.queue.wake, r.headsOfNamespace())).
		Named("codeexecution").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}
