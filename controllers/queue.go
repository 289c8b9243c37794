package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// queue admits executions per namespace, first in first out, under the
// namespace's concurrency cap and ResourceQuotas. It reads only the cache:
// no admission and no wake-up lists anything from the API server. An
// execution admitted holds a reservation in memory until the cache shows
// its Job UID, so that two workers cannot both take the last slot while
// the cache lags; the namespace's lock is held only while a cap or a quota
// applies, and never across a network call.
type queue struct {
	mu sync.Mutex
	ns map[string]*nsQueue
}

type nsQueue struct {
	mu       sync.Mutex
	reserved map[types.UID]execv1.ExecutionLimits
}

func (q *queue) of(ns string) *nsQueue {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ns == nil {
		q.ns = map[string]*nsQueue{}
	}
	n, ok := q.ns[ns]
	if !ok {
		n = &nsQueue{reserved: map[types.UID]execv1.ExecutionLimits{}}
		q.ns[ns] = n
	}
	return n
}

// release drops the reservation of an execution, if it holds one.
func (q *queue) release(ns string, uid types.UID) {
	n := q.of(ns)
	n.mu.Lock()
	delete(n.reserved, uid)
	n.mu.Unlock()
}

// admission is the queue's answer: wait (with a message that changes only
// when the policy does, so that waiting writes no status), never fits, or
// go (both empty).
type admission struct {
	wait      string
	neverFits string
}

// admit decides whether ce may create its Job now.
func (q *queue) admit(ctx context.Context, r *CodeExecutionReconciler, ce *execv1.CodeExecution) (admission, error) {
	pol, err := r.policyFor(ctx, ce.Namespace)
	if err != nil {
		return admission{}, err
	}
	var quotas corev1.ResourceQuotaList
	if err := r.List(ctx, &quotas, client.InNamespace(ce.Namespace)); err != nil {
		return admission{}, fmt.Errorf("listing ResourceQuotas: %w", err)
	}
	l := *ce.Status.Limits
	if msg := QuotaNeverFits(quotas.Items, l); msg != "" {
		return admission{neverFits: msg}, nil
	}
	if pol.MaxConcurrent == nil && len(quotas.Items) == 0 {
		return admission{}, nil
	}
	n := q.of(ce.Namespace)
	n.mu.Lock()
	defer n.mu.Unlock()
	running, waiting, err := r.namespaceLoad(ctx, ce.Namespace, n.reserved)
	if err != nil {
		return admission{}, err
	}
	if c := pol.MaxConcurrent; c != nil {
		pos := len(waiting)
		for i := range waiting {
			if waiting[i].UID == ce.UID {
				pos = i
				break
			}
		}
		if running+pos >= int(*c) {
			return admission{wait: fmt.Sprintf("waiting for a slot: ExecutionPolicy %s allows %d at once in this namespace",
				strings.Join(pol.Names, ", "), *c)}, nil
		}
	}
	if msg := QuotaShortfall(withReserved(quotas.Items, n.reserved), l); msg != "" {
		return admission{wait: msg}, nil
	}
	n.reserved[ce.UID] = l
	return admission{}, nil
}

// namespaceLoad reads the namespace's executions from the cache: how many
// hold a slot (a recorded Job and not finished, or a reservation) and which
// wait, oldest first. Reservations the cache has caught up with are
// dropped.
func (r *CodeExecutionReconciler) namespaceLoad(ctx context.Context, ns string, reserved map[types.UID]execv1.ExecutionLimits) (int, []*execv1.CodeExecution, error) {
	var all execv1.CodeExecutionList
	if err := r.List(ctx, &all, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return 0, nil, fmt.Errorf("listing CodeExecutions: %w", err)
	}
	seen := map[types.UID]bool{}
	running := 0
	var waiting []*execv1.CodeExecution
	for i := range all.Items {
		c := &all.Items[i]
		seen[c.UID] = true
		_, isReserved := reserved[c.UID]
		switch {
		case isFinished(c):
			delete(reserved, c.UID)
		case c.Status.JobUID != "":
			delete(reserved, c.UID)
			running++
		case isReserved:
			running++
		case c.DeletionTimestamp.IsZero():
			waiting = append(waiting, c)
		}
	}
	for uid := range reserved {
		if !seen[uid] {
			delete(reserved, uid)
		}
	}
	sort.Slice(waiting, func(i, j int) bool { return olderThan(waiting[i], waiting[j]) })
	return running, waiting, nil
}

// withReserved returns quotas with the requests of the reserved executions
// added to what they use: the quota controller has not counted those yet.
func withReserved(quotas []corev1.ResourceQuota, reserved map[types.UID]execv1.ExecutionLimits) []corev1.ResourceQuota {
	out := make([]corev1.ResourceQuota, len(quotas))
	for i := range quotas {
		q := quotas[i].DeepCopy()
		if q.Status.Used == nil {
			q.Status.Used = corev1.ResourceList{}
		}
		for _, l := range reserved {
			for name, need := range quotaRequest(l) {
				used := q.Status.Used[name]
				used.Add(need)
				q.Status.Used[name] = used
			}
		}
		out[i] = *q
	}
	return out
}

// QuotaNeverFits returns a message naming the first ResourceQuota whose
// hard limit is below what one sandbox Pod with limits l needs, so that
// the execution can never start; "" when none is. It is a pure function.
func QuotaNeverFits(quotas []corev1.ResourceQuota, l execv1.ExecutionLimits) string {
	req := quotaRequest(l)
	names := make([]string, 0, len(req))
	for n := range req {
		names = append(names, string(n))
	}
	sort.Strings(names)
	sorted := append([]corev1.ResourceQuota(nil), quotas...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, q := range sorted {
		for _, n := range names {
			hard, ok := q.Spec.Hard[corev1.ResourceName(n)]
			if need := req[corev1.ResourceName(n)]; ok && need.Cmp(hard) > 0 {
				return fmt.Sprintf("the execution can never start: it needs %s %s and ResourceQuota %s allows at most %s in this namespace",
					n, need.String(), q.Name, hard.String())
			}
		}
	}
	return ""
}

// maxWoken bounds how many waiting executions one event wakes when no cap
// says how many slots there are.
const maxWoken = 10

// heads returns the executions at the head of ns's queue that a freed slot
// or quota may let start: as many as there are free slots (at least one).
// It reads only the cache.
func (r *CodeExecutionReconciler) heads(ctx context.Context, ns string) []reconcile.Request {
	running, waiting, err := r.namespaceLoad(ctx, ns, nil)
	if err != nil || len(waiting) == 0 {
		return nil
	}
	n := maxWoken
	if pol, err := r.policyFor(ctx, ns); err == nil && pol.MaxConcurrent != nil {
		n = max(int(*pol.MaxConcurrent)-running, 1)
	}
	n = min(n, len(waiting))
	out := make([]reconcile.Request, 0, n)
	for _, c := range waiting[:n] {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}})
	}
	return out
}

// headsOfNamespace wakes the head of the queue of the event's namespace.
func (r *CodeExecutionReconciler) headsOfNamespace() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
		return r.heads(ctx, obj.GetNamespace())
	})
}

// headsOfAllNamespaces wakes the head of every namespace's queue (a policy
// changed).
func (r *CodeExecutionReconciler) headsOfAllNamespaces() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		var all execv1.CodeExecutionList
		if err := r.List(ctx, &all, client.UnsafeDisableDeepCopy); err != nil {
			return nil
		}
		seen := map[string]bool{}
		var out []reconcile.Request
		for i := range all.Items {
			c := &all.Items[i]
			if seen[c.Namespace] || isFinished(c) || c.Status.JobUID != "" {
				continue
			}
			seen[c.Namespace] = true
			out = append(out, r.heads(ctx, c.Namespace)...)
		}
		return out
	})
}

// jobHandler wakes a Job's execution on every change of the Job, and the
// head of its namespace's queue when the Job finishes or is deleted.
func (r *CodeExecutionReconciler) jobHandler() handler.EventHandler {
	owner := func(obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if c := metav1.GetControllerOf(obj); c != nil && c.Kind == "CodeExecution" && c.APIVersion == execv1.GroupVersion.String() {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: c.Name}})
		}
	}
	wake := func(ctx context.Context, obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, req := range r.heads(ctx, obj.GetNamespace()) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			owner(e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			owner(e.ObjectNew, q)
			o, ok1 := e.ObjectOld.(*batchv1.Job)
			n, ok2 := e.ObjectNew.(*batchv1.Job)
			if ok1 && ok2 && !jobFinished(o) && jobFinished(n) {
				wake(ctx, n, q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			owner(e.Object, q)
			wake(ctx, e.Object, q)
		},
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			owner(e.Object, q)
		},
	}
}

// podHandler maps a sandbox Pod to the execution it names. Which Pods
// count is decided later, by the Job that controls them.
func podHandler() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		name, ok := obj.GetAnnotations()[execv1.AnnotationExecutionName]
		if !ok || obj.GetLabels()[execv1.LabelManagedBy] != execv1.ManagedByValue {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
	})
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
