package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// resolve reads the ExecutionPolicies that govern ce (from the cache) and
// records, once, what they decide: status.policies, status.limits and
// status.sandbox. Nothing later re-resolves them.
func (r *CodeExecutionReconciler) resolve(ctx context.Context, ce *execv1.CodeExecution) error {
	pol, err := r.policyFor(ctx, ce.Namespace)
	if err != nil {
		return err
	}
	ResolveStatus(ce, pol, r.Clock.Now())
	return nil
}

// ResolveStatus records in ce's status what pol decides for it: the
// governing policies, the limits and the sandbox settings, or a terminal
// PolicyViolation or InvalidInput. It is a pure function.
func ResolveStatus(ce *execv1.CodeExecution, pol EffectivePolicy, now time.Time) {
	ce.Status.Policies = pol.Names
	ce.Status.JobName = JobName(ce.Name, ce.UID)
	limits, err := pol.Resolve(ce.Spec)
	if err != nil {
		finish(ce, Outcome{Reason: execv1.ReasonPolicyViolation, Message: err.Error()}, now)
		return
	}
	ce.Status.Limits = &limits
	if err := ValidateLimits(limits); err != nil {
		finish(ce, Outcome{Reason: execv1.ReasonInvalidInput, Message: err.Error()}, now)
		return
	}
	ce.Status.Sandbox = &execv1.SandboxSettings{
		RuntimeClassName: pol.RuntimeClassName,
		KueueQueueName:   pol.KueueQueueName,
		SQLSystemSchemas: pol.SQLSystemSchemas,
		SQLShow:          pol.SQLShow,
		// The manager reads no Secret: the datasource's addresses are
		// those the policies declare, fixed here with the rest.
		DatasourceEndpoints: pol.DatasourceEndpoints(ce.Spec),
		// The cap the queue admits this execution under, whatever the
		// policies say later.
		MaxConcurrentExecutions: pol.MaxConcurrent,
	}
}

// policyFor merges the ExecutionPolicies that select namespace ns (see
// PolicyFor), read from the cache. Policies are listed as unstructured
// data so that one that does not decode is reported on itself instead of
// failing the list.
func (r *CodeExecutionReconciler) policyFor(ctx context.Context, ns string) (EffectivePolicy, error) {
	policies := PolicyListObject()
	if err := r.List(ctx, policies); err != nil {
		return EffectivePolicy{}, fmt.Errorf("listing ExecutionPolicies: %w", err)
	}
	n := &corev1.Namespace{}
	if err := r.Get(ctx, types.NamespacedName{Name: ns}, n); err != nil {
		return EffectivePolicy{}, fmt.Errorf("getting Namespace %s: %w", ns, err)
	}
	stored := make([]StoredPolicy, 0, len(policies.Items))
	for i := range policies.Items {
		stored = append(stored, ReadPolicy(&policies.Items[i]))
	}
	return PolicyFor(stored, ns, n.Labels, r.AllowUnselectedNamespaces), nil
}

// start creates the execution's task, NetworkPolicy and Job once the
// namespace's queue admits it, and records the Job's UID. It never runs
// again for an execution whose status holds a Job UID.
func (r *CodeExecutionReconciler) start(ctx context.Context, ce *execv1.CodeExecution) (ctrl.Result, error) {
	now := r.Clock.Now()
	adm, err := r.queue.admit(ctx, r, ce)
	if err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case adm.neverFits != "":
		finish(ce, Outcome{Reason: execv1.ReasonPolicyViolation, Message: adm.neverFits}, now)
		return ctrl.Result{}, nil
	case adm.wait != "":
		setCondition(ce, metav1.ConditionUnknown, execv1.ReasonQueued, adm.wait)
		return ctrl.Result{RequeueAfter: queuedRecheck}, nil
	}
	started := false
	defer func() {
		if !started {
			r.queue.release(ce.Namespace, ce.UID)
		}
	}()
	children, fail := r.children(ctx, ce)
	if fail != nil {
		finish(ce, *fail, now)
		return ctrl.Result{}, nil
	}
	for _, obj := range children {
		created, fail, err := r.createOwned(ctx, ce, obj)
		var refused *createRefused
		if errors.As(err, &refused) {
			v, _ := r.refusals.LoadOrStore(ce.UID, &refusal{first: now})
			rec := v.(*refusal)
			rec.attempts++
			if RefusalEnds(rec.first, rec.attempts, now, r.Bounds.CreateRefused) {
				r.refusals.Delete(ce.UID)
				msg := fmt.Sprintf("%s (refused %d times over %s)", refused.message, rec.attempts, now.Sub(rec.first).Round(time.Second))
				if _, isJob := obj.(*batchv1.Job); isJob && strings.Contains(refused.message, "codeexec-sandbox-policy") {
					// Known conflict (docs/policy.md): the Job is built from
					// the policies recorded when the execution was resolved,
					// and the admission policy judges it against the
					// ExecutionPolicies of now.
					msg += fmt.Sprintf("; the Job was built from the ExecutionPolicies recorded when the execution was resolved (status.policies: %s), "+
						"and an ExecutionPolicy added or changed since then refuses it", strings.Join(ce.Status.Policies, ", "))
				}
				finish(ce, Outcome{Reason: refused.reason, Message: msg}, now)
				return ctrl.Result{}, nil
			}
			setCondition(ce, metav1.ConditionUnknown, execv1.ReasonPending, "retrying: "+refused.message)
			return ctrl.Result{RequeueAfter: refusedRetry(r.Bounds.CreateRefused)}, nil
		}
		if err != nil {
			setCondition(ce, metav1.ConditionUnknown, execv1.ReasonPending, "retrying: "+err.Error())
			return ctrl.Result{}, err
		}
		if fail != nil {
			finish(ce, *fail, now)
			return ctrl.Result{}, nil
		}
		if cm, ok := created.(*corev1.ConfigMap); ok && cm.Name == TaskConfigMapName(ce.Name, ce.UID) {
			// The Pod mounts the task by name: the result is taken only
			// if the ConfigMap of that name still has this UID (observe).
			ce.Status.TaskConfigMapUID = string(cm.UID)
		}
		if job, ok := created.(*batchv1.Job); ok {
			r.refusals.Delete(ce.UID)
			ce.Status.JobUID = string(job.UID)
			ce.Status.JobName = job.Name
			started = true
			r.started.Store(ce.UID, startedJob{uid: ce.Status.JobUID, name: job.Name, taskUID: ce.Status.TaskConfigMapUID})
			setCondition(ce, metav1.ConditionUnknown, execv1.ReasonPending, "waiting for Job "+job.Name+" to start its Pod")
			ctrl.LoggerFrom(ctx).Info("Created Job", "job", klog.KObj(job))
		}
	}
	return ctrl.Result{}, nil
}

// children builds what start creates, in order: the task ConfigMap, the
// NetworkPolicy, the Job (last, so that it never runs without them).
func (r *CodeExecutionReconciler) children(ctx context.Context, ce *execv1.CodeExecution) ([]client.Object, *Outcome) {
	l := *ce.Status.Limits
	sb := ptrOr(ce.Status.Sandbox)
	var eps []Endpoint
	if ce.Spec.Language == execv1.LanguageSQL {
		eps = r.datasourceEndpoints(ctx, sb.DatasourceEndpoints)
	}
	cm, err := BuildTaskConfigMap(ce, l, SQLPermissions{SystemSchemas: sb.SQLSystemSchemas, Show: sb.SQLShow, Endpoints: sb.DatasourceEndpoints})
	if err != nil {
		return nil, &Outcome{Reason: execv1.ReasonInternalError, Message: err.Error()}
	}
	return []client.Object{cm, BuildNetworkPolicy(ce, eps), BuildJob(ce, l, r.jobOptions(ce))}, nil
}

// jobOptions are the Job builder's options for ce: the manager's, with
// what ce's policies recorded in status.sandbox.
func (r *CodeExecutionReconciler) jobOptions(ce *execv1.CodeExecution) JobOptions {
	sb := ptrOr(ce.Status.Sandbox)
	o := r.Job
	o.TTLSecondsAfterFinished = nil // the controller deletes the Job itself
	if sb.RuntimeClassName != nil {
		o.RuntimeClassName = sb.RuntimeClassName
	}
	o.KueueQueueName = sb.KueueQueueName
	return o
}

func ptrOr[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
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
