package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
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
	// wake carries the namespaces whose queue head must be reconciled.
	wake chan event.GenericEvent
}

// wakeBuffer is how many wake-ups wait for the controller before more are
// dropped (the workqueue merges them per execution anyway).
const wakeBuffer = 4096

type nsQueue struct {
	mu sync.Mutex
	// reserved holds the executions admitted whose Pod the quotas may
	// not count yet. An entry holds a cap slot until the cache shows the
	// execution's Job UID, and its Pod's quota usage until the Pod exists
	// (a Job in the cache does not mean the quota controller has counted
	// its Pod).
	reserved map[types.UID]*reservation
}

// reservation is one admitted execution's entry. Reserved.JobCounted
// turns true once the cache shows the execution's Job UID: the execution
// then counts among the running ones by itself, and the quota counts its
// Job.
type reservation struct {
	Reserved
	// creating is true from admission until the execution's Job UID is
	// stored: no other execution of the namespace is admitted meanwhile,
	// so that Jobs are created in FIFO order.
	creating bool
}

// creating reports whether an execution other than uid was admitted and
// has not stored its Job UID yet (n.mu held).
func (n *nsQueue) creating(uid types.UID) bool {
	for u, res := range n.reserved {
		if res.creating && u != uid {
			return true
		}
	}
	return false
}

func (q *queue) of(ns string) *nsQueue {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ns == nil {
		q.ns = map[string]*nsQueue{}
	}
	n, ok := q.ns[ns]
	if !ok {
		n = &nsQueue{reserved: map[types.UID]*reservation{}}
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

// started wakes the next of ns's queue once the execution uid, admitted
// under a cap or a quota (it holds a reservation), has its Job UID
// stored.
func (q *queue) started(ns string, uid types.UID) {
	n := q.of(ns)
	n.mu.Lock()
	res, held := n.reserved[uid]
	if held {
		res.creating = false
	}
	n.mu.Unlock()
	if held {
		q.wakeNamespace(ns)
	}
}

// podExists drops the reservation of the execution whose sandbox Pod now
// exists (the quota counted it when it was created) and wakes the head of
// the namespace's queue if it held quota.
func (q *queue) podExists(ns string, uid types.UID) {
	n := q.of(ns)
	n.mu.Lock()
	res, had := n.reserved[uid]
	delete(n.reserved, uid)
	n.mu.Unlock()
	if had && res.Pod != nil { // it counted against a quota
		q.wakeNamespace(ns)
	}
}

// admission is the queue's answer: wait (with a message that changes only
// when the policy does, so that waiting writes no status), never fits, or
// go (both empty).
type admission struct {
	wait      string
	neverFits string
}

// Messages of a queued execution.
const (
	waitOlderFirst      = "waiting for a slot: older executions of this namespace start first"
	waitOlderFirstQuota = "waiting for quota: older executions of this namespace start first"
)

// admit decides whether ce may create its Job now. It reads only the
// cache. The cap is the one recorded in ce's status when its policies were
// resolved; the quotas are evaluated against the Pod the Job will create.
func (q *queue) admit(ctx context.Context, r *CodeExecutionReconciler, ce *execv1.CodeExecution) (admission, error) {
	var quotas corev1.ResourceQuotaList
	if err := r.List(ctx, &quotas, client.InNamespace(ce.Namespace)); err != nil {
		return admission{}, fmt.Errorf("listing ResourceQuotas: %w", err)
	}
	var pod *corev1.Pod
	if len(quotas.Items) > 0 {
		var err error
		if pod, err = r.sandboxPod(ctx, ce); err != nil {
			return admission{}, err
		}
		if msg := QuotaNeverFits(quotas.Items, pod); msg != "" {
			return admission{neverFits: msg}, nil
		}
	}
	ownCap := RecordedCap(ce)
	if ownCap == nil && len(quotas.Items) == 0 {
		// No cap and no quota: nothing to lock, unless an older
		// execution waits under a cap (the policy dropped its cap since):
		// it starts first.
		older, err := r.olderCappedWaiting(ctx, ce)
		if err != nil || !older {
			return admission{}, err
		}
	}
	n := q.of(ce.Namespace)
	n.mu.Lock()
	defer n.mu.Unlock()
	running, waiting, err := r.namespaceLoad(ctx, ce.Namespace, n)
	if err != nil {
		return admission{}, err
	}
	pos := len(waiting)
	for i := range waiting {
		if waiting[i].UID == ce.UID {
			pos = i
			break
		}
	}
	if c := ownCap; c != nil && running+pos >= int(*c) {
		return admission{wait: fmt.Sprintf("waiting for a slot: ExecutionPolicy %s allows %d at once in this namespace",
			strings.Join(ce.Status.Policies, ", "), *c)}, nil
	}
	if pos > 0 || n.creating(ce.UID) {
		// Strict FIFO: only the head of the queue (the oldest execution
		// not admitted yet) is admitted, once the one admitted before it
		// has stored its Job UID, which wakes it. A younger execution never passes an
		// older one, whatever their recorded caps, and under a quota one
		// that fits never passes one that does not (one that never fits
		// ended at once).
		msg := waitOlderFirst
		if len(quotas.Items) > 0 {
			msg = waitOlderFirstQuota
		}
		if c := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded); c != nil && c.Reason == execv1.ReasonQueued {
			msg = c.Message // only the position changed: no status write
		}
		return admission{wait: msg}, nil
	}
	if len(quotas.Items) > 0 {
		reserved := make([]Reserved, 0, len(n.reserved))
		for _, res := range n.reserved {
			reserved = append(reserved, res.Reserved)
		}
		if msg := QuotaShortfall(quotas.Items, reserved, pod); msg != "" {
			return admission{wait: msg}, nil
		}
	}
	// The reservation makes the next one the head; it is woken once ce's
	// Job UID is stored (Reconcile calls started), so that Jobs are also
	// created, and recorded, in FIFO order.
	n.reserved[ce.UID] = &reservation{Reserved: Reserved{Pod: pod}, creating: true}
	return admission{}, nil
}

// wakeNamespace asks for the head of ns's queue to be reconciled (through
// the controller's channel source); it never blocks, and a wake-up lost to
// a full channel is covered by the queued executions' RequeueAfter.
func (q *queue) wakeNamespace(ns string) {
	if q.wake == nil {
		return
	}
	obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns}}
	select {
	case q.wake <- event.GenericEvent{Object: obj}:
	default:
	}
}

// QueueStateIndex indexes CodeExecutions by where they are in their
// namespace's queue: QueueRunning (a Job recorded, not finished) or
// QueueWaiting (no Job yet, not finished, not being deleted). Finished
// executions are not indexed, so admission reads only the unfinished ones.
const QueueStateIndex = "codeexec.io/queue-state"

// Values of QueueStateIndex. A waiting execution with a recorded cap is
// also indexed as QueueWaitingCapped.
const (
	QueueRunning       = "running"
	QueueWaiting       = "waiting"
	QueueWaitingCapped = "waiting-capped"
)

// QueueState is the QueueStateIndex function.
func QueueState(obj client.Object) []string {
	c, ok := obj.(*execv1.CodeExecution)
	if !ok {
		return nil
	}
	switch {
	case isFinished(c):
		return nil
	case c.Status.JobUID != "":
		return []string{QueueRunning}
	case c.DeletionTimestamp.IsZero():
		if RecordedCap(c) != nil {
			return []string{QueueWaiting, QueueWaitingCapped}
		}
		return []string{QueueWaiting}
	}
	return nil
}

// queued lists ns's executions in one queue state from the cache index.
func (r *CodeExecutionReconciler) queued(ctx context.Context, ns, state string) ([]execv1.CodeExecution, error) {
	var l execv1.CodeExecutionList
	if err := r.List(ctx, &l, client.InNamespace(ns), client.MatchingFields{QueueStateIndex: state}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing %s CodeExecutions: %w", state, err)
	}
	return l.Items, nil
}

// olderCappedWaiting reports whether an execution older than ce waits
// under a recorded cap.
func (r *CodeExecutionReconciler) olderCappedWaiting(ctx context.Context, ce *execv1.CodeExecution) (bool, error) {
	waiting, err := r.queued(ctx, ce.Namespace, QueueWaitingCapped)
	if err != nil {
		return false, err
	}
	for i := range waiting {
		if w := &waiting[i]; w.UID != ce.UID && olderThan(w, ce) {
			return true, nil
		}
	}
	return false, nil
}

// namespaceLoad reads the namespace's unfinished executions from the
// cache index: how many hold a slot (a recorded Job, or a reservation)
// and which wait, oldest first. It updates n's reservations (n.mu held):
// those of executions that finished or went are dropped, and those whose
// Job the cache shows count as running by themselves.
func (r *CodeExecutionReconciler) namespaceLoad(ctx context.Context, ns string, n *nsQueue) (int, []*execv1.CodeExecution, error) {
	run, err := r.queued(ctx, ns, QueueRunning)
	if err != nil {
		return 0, nil, err
	}
	wait, err := r.queued(ctx, ns, QueueWaiting)
	if err != nil {
		return 0, nil, err
	}
	running := len(run)
	live := map[types.UID]bool{}
	for i := range run {
		live[run[i].UID] = true
		if res, ok := n.reserved[run[i].UID]; ok {
			res.JobCounted, res.creating = true, false
		}
	}
	waiting := make([]*execv1.CodeExecution, 0, len(wait))
	for i := range wait {
		c := &wait[i]
		if _, ok := n.reserved[c.UID]; ok {
			live[c.UID] = true
			running++ // admitted; the cache has not caught up
			continue
		}
		waiting = append(waiting, c)
	}
	for uid := range n.reserved {
		if !live[uid] {
			delete(n.reserved, uid) // finished or gone
		}
	}
	sort.Slice(waiting, func(i, j int) bool { return olderThan(waiting[i], waiting[j]) })
	return running, waiting, nil
}

// heads returns the head of ns's queue: the oldest execution not admitted
// yet, the only one that may start next (it wakes the one after it once
// admitted). It reads only the cache.
func (r *CodeExecutionReconciler) heads(ctx context.Context, ns string) []reconcile.Request {
	n := r.queue.of(ns)
	n.mu.Lock()
	_, waiting, err := r.namespaceLoad(ctx, ns, n)
	n.mu.Unlock()
	if err != nil || len(waiting) == 0 {
		return nil
	}
	c := waiting[0]
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}}}
}

// headsOfNamespace wakes the head of the queue of the event's namespace.
func (r *CodeExecutionReconciler) headsOfNamespace() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
		return r.heads(ctx, obj.GetNamespace())
	})
}

// headsOfAllNamespaces wakes the head of every namespace's queue (a policy
// changed), read from the cache index of waiting executions.
func (r *CodeExecutionReconciler) headsOfAllNamespaces() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		var all execv1.CodeExecutionList
		if err := r.List(ctx, &all, client.MatchingFields{QueueStateIndex: QueueWaiting}, client.UnsafeDisableDeepCopy); err != nil {
			return nil
		}
		seen := map[string]bool{}
		var out []reconcile.Request
		for i := range all.Items {
			c := &all.Items[i]
			if seen[c.Namespace] {
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
// count is decided later, by the Job that controls them. The execution's
// Job's own Pod (isExecutionsJobPod) also ends its quota reservation: the
// quota counted the Pod when it was created.
func (r *CodeExecutionReconciler) podHandler() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
		name, ok := obj.GetAnnotations()[execv1.AnnotationExecutionName]
		if !ok || obj.GetLabels()[execv1.LabelManagedBy] != execv1.ManagedByValue {
			return nil
		}
		if r.isExecutionsJobPod(ctx, obj, name) {
			r.queue.podExists(obj.GetNamespace(), types.UID(obj.GetLabels()[execv1.LabelExecutionUID]))
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
	})
}

// sandboxPod returns the Pod ce's Job will create, as the API server
// admits it (LimitRange defaults, RuntimeClass overhead, default
// PriorityClass), for the quotas. It reads only the cache.
func (r *CodeExecutionReconciler) sandboxPod(ctx context.Context, ce *execv1.CodeExecution) (*corev1.Pod, error) {
	job := BuildJob(ce, *ce.Status.Limits, r.jobOptions(ce))
	var d PodDefaults
	var lrs corev1.LimitRangeList
	if err := r.List(ctx, &lrs, client.InNamespace(ce.Namespace)); err != nil {
		return nil, fmt.Errorf("listing LimitRanges: %w", err)
	}
	d.LimitRanges = lrs.Items
	if name := job.Spec.Template.Spec.RuntimeClassName; name != nil {
		rc := &nodev1.RuntimeClass{}
		switch err := r.Get(ctx, types.NamespacedName{Name: *name}, rc); {
		case err == nil:
			d.RuntimeClass = rc
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("getting RuntimeClass %s: %w", *name, err)
		}
	}
	var pcs schedulingv1.PriorityClassList
	if err := r.List(ctx, &pcs); err != nil {
		return nil, fmt.Errorf("listing PriorityClasses: %w", err)
	}
	d.PriorityClasses = pcs.Items
	return SandboxPod(job, d), nil
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
