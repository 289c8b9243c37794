package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
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
	"sigs.k8s.io/controller-runtime/pkg/event"
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
	// APIReader reads from the API server, bypassing the cache.
	APIReader client.Reader
	// LookupIP resolves a datasource host; nil uses the system resolver.
	LookupIP func(ctx context.Context, host string) ([]net.IP, error)
	// AllowUnselectedNamespaces lets a namespace that no ExecutionPolicy
	// selects run executions under the built-in defaults. Off by default:
	// such a namespace runs nothing.
	AllowUnselectedNamespaces bool

	nsLocksMu sync.Mutex
	nsLocks   map[string]*sync.Mutex
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
// +kubebuilder:rbac:groups=execution.codeexec.io,resources=executionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=execution.codeexec.io,resources=executionpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=resourcequotas,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create

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

// reconcile is the ladder: finished → policy → admission (queue, quota)
// → task, NetworkPolicy and Job → observe → report.
func (r *CodeExecutionReconciler) reconcile(ctx context.Context, ce *execv1.CodeExecution) (ctrl.Result, error) {
	if isFinished(ce) {
		return ctrl.Result{}, r.releaseJob(ctx, ce)
	}
	pol, err := r.policyFor(ctx, ce)
	if err != nil {
		return ctrl.Result{}, err
	}
	ce.Status.Policies = pol.Names
	ce.Status.JobName = JobName(ce.Name, ce.UID)
	limits, err := pol.Resolve(ce.Spec)
	if err != nil {
		r.finish(ce, execv1.ReasonPolicyViolation, err.Error(), nil)
		return ctrl.Result{}, nil
	}
	ce.Status.Limits = &limits
	if err := ValidateLimits(limits); err != nil {
		r.finish(ce, execv1.ReasonInvalidInput, err.Error(), nil)
		return ctrl.Result{}, nil
	}
	job := &batchv1.Job{}
	err = r.Get(ctx, types.NamespacedName{Namespace: ce.Namespace, Name: ce.Status.JobName}, job)
	switch {
	case apierrors.IsNotFound(err):
		if job, err = r.startJob(ctx, ce, pol, limits); err != nil || job == nil {
			return ctrl.Result{}, err
		}
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("getting Job: %w", err)
	case !metav1.IsControlledBy(job, ce):
		r.finish(ce, execv1.ReasonInternalError, fmt.Sprintf("Job %s exists and is not owned by this CodeExecution", job.Name), nil)
		return ctrl.Result{}, nil
	}
	pods, err := r.listPods(ctx, ce)
	if err != nil {
		return ctrl.Result{}, err
	}
	v := Classify(Observation{Job: job, Pods: pods, Now: r.Clock.Now(), Started: ce.Status.StartTime}, r.Bounds)
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

// policyFor merges the ExecutionPolicies that select ce's namespace (see
// PolicyFor). Policies are listed as unstructured data so that one that
// does not decode is reported on itself instead of failing the list.
func (r *CodeExecutionReconciler) policyFor(ctx context.Context, ce *execv1.CodeExecution) (EffectivePolicy, error) {
	policies := PolicyListObject()
	if err := r.List(ctx, policies); err != nil {
		return EffectivePolicy{}, fmt.Errorf("listing ExecutionPolicies: %w", err)
	}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, types.NamespacedName{Name: ce.Namespace}, ns); err != nil {
		return EffectivePolicy{}, fmt.Errorf("getting Namespace %s: %w", ce.Namespace, err)
	}
	stored := make([]StoredPolicy, 0, len(policies.Items))
	for i := range policies.Items {
		stored = append(stored, ReadPolicy(&policies.Items[i]))
	}
	return PolicyFor(stored, ce.Namespace, ns.Labels, r.AllowUnselectedNamespaces), nil
}

// startJob creates the execution's task, NetworkPolicy and Job once the
// namespace's concurrency cap and quota let it start. It returns nil and
// sets the Queued reason when the execution must wait.
func (r *CodeExecutionReconciler) startJob(ctx context.Context, ce *execv1.CodeExecution, pol EffectivePolicy, l execv1.ExecutionLimits) (*batchv1.Job, error) {
	unlock := r.lockNamespace(ce.Namespace)
	defer unlock()
	if msg, err := r.admit(ctx, ce, pol, l); err != nil || msg != "" {
		if msg != "" {
			r.setCondition(ce, metav1.ConditionUnknown, execv1.ReasonQueued, msg)
		}
		return nil, err
	}
	var eps []Endpoint
	if ce.Spec.Language == execv1.LanguageSQL {
		eps = r.datasourceEndpoints(ctx, pol.DatasourceEndpoints(ce.Spec))
	}
	cm, err := BuildTaskConfigMap(ce, l, SQLPermissions{SystemSchemas: pol.SQLSystemSchemas, Show: pol.SQLShow, Endpoints: pol.DatasourceEndpoints(ce.Spec)})
	if err != nil {
		return nil, err
	}
	if err := r.createOwned(ctx, ce, cm, &corev1.ConfigMap{}); err != nil {
		return nil, err
	}
	if err := r.createOwned(ctx, ce, BuildNetworkPolicy(ce, eps), &networkingv1.NetworkPolicy{}); err != nil {
		return nil, err
	}
	o := r.Job
	o.TTLSecondsAfterFinished = nil // set once the result is persisted
	if pol.RuntimeClassName != nil {
		o.RuntimeClassName = pol.RuntimeClassName
	}
	o.KueueQueueName = pol.KueueQueueName
	job := BuildJob(ce, l, o)
	if err := r.createOwned(ctx, ce, job, &batchv1.Job{}); err != nil {
		return nil, err
	}
	ctrl.LoggerFrom(ctx).Info("Created Job", "job", klog.KObj(job))
	return job, nil
}

// admit returns why ce must wait, or "" when it may start now.
func (r *CodeExecutionReconciler) admit(ctx context.Context, ce *execv1.CodeExecution, pol EffectivePolicy, l execv1.ExecutionLimits) (string, error) {
	if pol.MaxConcurrent != nil {
		running, waiting, err := r.namespaceLoad(ctx, ce.Namespace)
		if err != nil {
			return "", err
		}
		if pos := QueuePosition(ce, running, waiting); pos >= int(*pol.MaxConcurrent) {
			return fmt.Sprintf("waiting for a slot: %d running and %d queued ahead; ExecutionPolicy %s allows %d at once in this namespace",
				running, pos-running, strings.Join(pol.Names, ", "), *pol.MaxConcurrent), nil
		}
	}
	var quotas corev1.ResourceQuotaList
	if err := r.List(ctx, &quotas, client.InNamespace(ce.Namespace)); err != nil {
		return "", fmt.Errorf("listing ResourceQuotas: %w", err)
	}
	return QuotaShortfall(quotas.Items, l), nil
}

// namespaceLoad counts the namespace's running sandbox Jobs and lists its
// unfinished executions that have no Job yet. Jobs are listed from the API
// server, not the cache, so that a Job just created is counted.
func (r *CodeExecutionReconciler) namespaceLoad(ctx context.Context, ns string) (int, []execv1.CodeExecution, error) {
	var jobs batchv1.JobList
	if err := r.APIReader.List(ctx, &jobs, client.InNamespace(ns), client.MatchingLabels{
		execv1.LabelManagedBy: execv1.ManagedByValue, execv1.LabelComponent: "sandbox"}); err != nil {
		return 0, nil, fmt.Errorf("listing Jobs: %w", err)
	}
	running := 0
	hasJob := map[types.UID]bool{}
	for i := range jobs.Items {
		if owner := metav1.GetControllerOf(&jobs.Items[i]); owner != nil {
			hasJob[owner.UID] = true
		}
		if !jobFinished(&jobs.Items[i]) {
			running++
		}
	}
	var all execv1.CodeExecutionList
	if err := r.List(ctx, &all, client.InNamespace(ns)); err != nil {
		return 0, nil, fmt.Errorf("listing CodeExecutions: %w", err)
	}
	var waiting []execv1.CodeExecution
	for _, c := range all.Items {
		if !isFinished(&c) && !hasJob[c.UID] && c.DeletionTimestamp.IsZero() {
			waiting = append(waiting, c)
		}
	}
	return running, waiting, nil
}

// datasourceEndpoints resolves the endpoints the policy declares for the
// execution's datasource, for its NetworkPolicy. The manager never reads
// the datasource Secret: the runner checks the DSN against the same
// endpoints before connecting.
func (r *CodeExecutionReconciler) datasourceEndpoints(ctx context.Context, declared []string) []Endpoint {
	return DeclaredEndpoints(declared, func(host string) ([]net.IP, error) {
		ips, err := r.lookupIP(ctx, host)
		if err != nil {
			ctrl.LoggerFrom(ctx).Info("Datasource host does not resolve; the NetworkPolicy allows only DNS for it", "host", host)
		}
		return ips, err
	})
}

func (r *CodeExecutionReconciler) lookupIP(ctx context.Context, host string) ([]net.IP, error) {
	if r.LookupIP != nil {
		return r.LookupIP(ctx, host)
	}
	return net.DefaultResolver.LookupIP(ctx, "ip", host)
}

// lockNamespace serialises admission within a namespace so that two
// workers cannot both take the last slot.
func (r *CodeExecutionReconciler) lockNamespace(ns string) func() {
	r.nsLocksMu.Lock()
	if r.nsLocks == nil {
		r.nsLocks = map[string]*sync.Mutex{}
	}
	m, ok := r.nsLocks[ns]
	if !ok {
		m = &sync.Mutex{}
		r.nsLocks[ns] = m
	}
	r.nsLocksMu.Unlock()
	m.Lock()
	return m.Unlock
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
// the Jobs they own, the sandbox Pods, and what can release a queued
// execution: another execution finishing, a ResourceQuota or an
// ExecutionPolicy changing.
func (r *CodeExecutionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers := r.MaxConcurrentReconciles
	if workers <= 0 {
		workers = DefaultMaxConcurrentReconciles
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	releases := handler.EnqueueRequestsFromMapFunc(r.waitingInNamespace)
	return ctrl.NewControllerManagedBy(mgr).
		For(&execv1.CodeExecution{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&batchv1.Job{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podToExecution)).
		Watches(&execv1.CodeExecution{}, releases, builder.WithPredicates(finishedOrDeleted)).
		Watches(&corev1.ResourceQuota{}, releases).
		Watches(PolicyObject(), handler.EnqueueRequestsFromMapFunc(r.allWaiting)).
		Named("codeexecution").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// finishedOrDeleted passes the events that free a slot: an execution
// becoming terminal, or going away.
var finishedOrDeleted = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*execv1.CodeExecution)
		n, ok2 := e.ObjectNew.(*execv1.CodeExecution)
		return ok1 && ok2 && !isFinished(o) && isFinished(n)
	},
}

// waitingInNamespace enqueues the unfinished executions of obj's namespace
// that have not started, so that queued ones start as soon as they may.
func (r *CodeExecutionReconciler) waitingInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.waiting(ctx, client.InNamespace(obj.GetNamespace()))
}

// allWaiting enqueues every queued execution (a policy changed).
func (r *CodeExecutionReconciler) allWaiting(ctx context.Context, _ client.Object) []reconcile.Request {
	return r.waiting(ctx)
}

func (r *CodeExecutionReconciler) waiting(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var list execv1.CodeExecutionList
	if err := r.List(ctx, &list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing CodeExecutions to release queued ones")
		return nil
	}
	var out []reconcile.Request
	for _, c := range list.Items {
		if isFinished(&c) || c.Status.StartTime != nil {
			continue
		}
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}})
	}
	return out
}

// podToExecution maps a sandbox Pod to its CodeExecution.
func podToExecution(_ context.Context, obj client.Object) []reconcile.Request {
	name, ok := obj.GetAnnotations()[execv1.AnnotationExecutionName]
	if !ok || obj.GetLabels()[execv1.LabelManagedBy] != execv1.ManagedByValue {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}
