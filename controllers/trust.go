package controllers

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// createOwned sets ce as the controller of obj and creates it. It returns
// the object as it is on the server, or an Outcome that ends the execution,
// or an error worth retrying.
//
// Children have deterministic names, so anyone who may create objects in
// the namespace can create one first. An object that already exists is
// read live (the cache holds only labelled objects, so it cannot see an
// unlabelled impostor) and used only if this execution controls it and it
// holds what the controller would have created; anything else ends the
// execution with InternalError naming the object. A refusal (403, 400,
// 413, 422: a webhook or admission policy, a quota, an invalid object) is
// returned as a *createRefused, which start retries only within
// Bounds.CreateRefused; any other error is transient and retried.
func (r *CodeExecutionReconciler) createOwned(ctx context.Context, ce *execv1.CodeExecution, obj client.Object) (client.Object, *Outcome, error) {
	if err := controllerutil.SetControllerReference(ce, obj, r.Scheme); err != nil {
		return nil, nil, err
	}
	kind := kindOf(obj)
	err := r.Create(ctx, obj)
	switch {
	case err == nil:
		return obj, nil, nil
	case apierrors.IsAlreadyExists(err):
	case apierrors.IsForbidden(err):
		return nil, nil, &createRefused{reason: execv1.ReasonPolicyViolation,
			message: fmt.Sprintf("the API server refused to create %s %s: %s", kind, obj.GetName(), apiMessage(err)), err: err}
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsRequestEntityTooLargeError(err):
		return nil, nil, &createRefused{reason: execv1.ReasonInternalError,
			message: fmt.Sprintf("the API server refused to create %s %s: %s", kind, obj.GetName(), apiMessage(err)), err: err}
	default:
		return nil, nil, fmt.Errorf("creating %s %s: %w", kind, obj.GetName(), err)
	}
	existing, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return nil, nil, fmt.Errorf("copying %s %s", kind, obj.GetName())
	}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
		return nil, nil, fmt.Errorf("reading %s %s, which already exists: %w", kind, obj.GetName(), err)
	}
	if !metav1.IsControlledBy(existing, ce) {
		return nil, &Outcome{Reason: execv1.ReasonInternalError, Message: fmt.Sprintf(
			"%s %s already exists and is not controlled by this CodeExecution: refusing to use it", kind, obj.GetName())}, nil
	}
	if !sameContent(obj, existing) {
		return nil, &Outcome{Reason: execv1.ReasonInternalError, Message: fmt.Sprintf(
			"%s %s is marked as controlled by this CodeExecution but does not hold what the controller builds: refusing to use it", kind, obj.GetName())}, nil
	}
	return existing, nil, nil
}

// sameContent reports whether existing holds what the controller built as
// want, in what matters to what runs: the data of a ConfigMap, the Pod
// template of a Job. A NetworkPolicy is judged by ownership alone: policies
// only add up, so a forged one grants nothing a neighbour's own could not.
func sameContent(want, existing client.Object) bool {
	switch w := want.(type) {
	case *corev1.ConfigMap:
		e, ok := existing.(*corev1.ConfigMap)
		return ok && equality.Semantic.DeepEqual(w.Data, e.Data) && equality.Semantic.DeepEqual(w.BinaryData, e.BinaryData)
	case *batchv1.Job:
		e, ok := existing.(*batchv1.Job)
		return ok && sameTemplate(&w.Spec.Template.Spec, &e.Spec.Template.Spec) &&
			equality.Semantic.DeepEqual(w.Spec.ActiveDeadlineSeconds, e.Spec.ActiveDeadlineSeconds)
	default:
		return true
	}
}

// sameTemplate compares the parts of two Pod specs that decide what runs
// and with what rights, ignoring fields the API server defaults.
func sameTemplate(w, e *corev1.PodSpec) bool {
	if len(w.Containers) != len(e.Containers) || len(w.InitContainers) != len(e.InitContainers) {
		return false
	}
	same := func(a, b []corev1.Container) bool {
		for i := range a {
			if a[i].Name != b[i].Name || a[i].Image != b[i].Image ||
				!equality.Semantic.DeepEqual(a[i].Command, b[i].Command) ||
				!equality.Semantic.DeepEqual(a[i].Args, b[i].Args) ||
				!equality.Semantic.DeepEqual(a[i].SecurityContext, b[i].SecurityContext) ||
				!equality.Semantic.DeepEqual(a[i].VolumeMounts, b[i].VolumeMounts) {
				return false
			}
		}
		return true
	}
	return same(w.Containers, e.Containers) && same(w.InitContainers, e.InitContainers) &&
		equality.Semantic.DeepEqual(w.SecurityContext, e.SecurityContext) &&
		equality.Semantic.DeepEqual(w.Volumes, e.Volumes) &&
		equality.Semantic.DeepEqual(w.AutomountServiceAccountToken, e.AutomountServiceAccountToken)
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *batchv1.Job:
		return "Job"
	case *networkingv1.NetworkPolicy:
		return "NetworkPolicy"
	default:
		return fmt.Sprintf("%T", obj)
	}
}

func apiMessage(err error) string {
	if s, ok := err.(apierrors.APIStatus); ok && s.Status().Message != "" {
		return s.Status().Message
	}
	return err.Error()
}

// createRefused is a create the API server refused (a webhook or an
// admission policy, a quota, an invalid object): retrying may not change
// it, so it is retried only within a bound, then ends the execution with
// reason and the API server's message.
type createRefused struct {
	reason, message string
	err             error
}

func (e *createRefused) Error() string { return e.message }
func (e *createRefused) Unwrap() error { return e.err }

// minRefusedAttempts is how many times a refused create is tried at least
// before the refusal ends the execution, however short Bounds.CreateRefused.
const minRefusedAttempts = 3

// refusal is the record of an execution's refused creates.
type refusal struct {
	first    time.Time
	attempts int
}

// RefusalEnds reports whether a create refused attempts times, first at
// first, has been retried enough at now: at least minRefusedAttempts
// attempts over at least bound. It is a pure function.
func RefusalEnds(first time.Time, attempts int, now time.Time, bound time.Duration) bool {
	return attempts >= minRefusedAttempts && now.Sub(first) >= bound
}

// refusedRetry is how long start waits before trying a refused create
// again: minRefusedAttempts tries spread over bound.
func refusedRetry(bound time.Duration) time.Duration {
	return max(bound/minRefusedAttempts, 100*time.Millisecond)
}

// ReasonImpostorPod is the reason of the Warning event about a Pod that
// claims to be the execution's (its labels, a controller ownerReference
// to the execution's Job) but is not what the Job controller creates from
// the Job's template: it is ignored.
const ReasonImpostorPod = "ImpostorPod"
