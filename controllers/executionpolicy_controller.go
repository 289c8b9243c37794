package controllers

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
)

// ExecutionPolicyReconciler reports on each ExecutionPolicy whether the
// manager can enforce it: the Ready condition, and an event when that
// changes. It reads policies as unstructured data, like the execution
// controller, so that a policy stored before the schema tightened is
// reported instead of breaking the watch.
type ExecutionPolicyReconciler struct {
	client.Client
	Recorder events.EventRecorder
}

// Reconcile sets the Ready condition of one ExecutionPolicy.
func (r *ExecutionPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	u := PolicyObject()
	if err := r.Get(ctx, req.NamespacedName, u); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	sp := ReadPolicy(u)
	cond := metav1.Condition{
		Type: execv1.ConditionPolicyReady, Status: metav1.ConditionTrue, Reason: execv1.ReasonPolicyValid,
		Message: "the manager enforces this policy", ObservedGeneration: u.GetGeneration(),
	}
	if sp.Err != nil {
		effect := "executions in the namespaces it selects run nothing until it is fixed"
		if sp.Selector == nil {
			effect = "its namespaceSelector cannot be read, so it selects no namespace"
		}
		cond.Status, cond.Reason = metav1.ConditionFalse, execv1.ReasonPolicyInvalid
		cond.Message = result.TruncateUTF8(fmt.Sprintf("the policy is unusable: %v; %s", sp.Err, effect), maxConditionMessage)
	}
	var conds []metav1.Condition
	if raw, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "status", "conditions"); ok {
		_ = remarshal(raw, &conds) // unreadable conditions are replaced
	}
	old := meta.FindStatusCondition(conds, execv1.ConditionPolicyReady)
	if old != nil && old.Status == cond.Status && old.Reason == cond.Reason && old.Message == cond.Message && old.ObservedGeneration == cond.ObservedGeneration {
		return ctrl.Result{}, nil
	}
	meta.SetStatusCondition(&conds, cond)
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": conds, "observedGeneration": u.GetGeneration()}})
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if old == nil || old.Status != cond.Status || old.Message != cond.Message {
		typ := corev1.EventTypeNormal
		if cond.Status == metav1.ConditionFalse {
			typ = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(u, nil, typ, cond.Reason, "Validate", "%s", cond.Message)
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the controller.
func (r *ExecutionPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(PolicyObject()).Named("executionpolicy").Complete(r)
}
