package controllers

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
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
// is what the controller would have created (see differs: an
// ownerReference alone is forgeable); anything else ends the execution
// with InternalError naming the object, which is left alone. A refusal (403, 400,
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
	// An ownerReference is forgeable by anyone who may create the object:
	// only what the object holds tells it from what the controller
	// creates.
	diff, err := r.differs(ctx, obj, existing)
	if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		// What the controller would create cannot be known (a webhook
		// that refuses dry-runs, a quota the existing object fills):
		// nothing is adopted unchecked.
		return nil, &Outcome{Reason: execv1.ReasonInternalError, Message: fmt.Sprintf(
			"%s %s already exists and is marked as controlled by this CodeExecution, but cannot be checked against what the controller creates (%s): refusing to use it",
			kind, obj.GetName(), apiMessage(err))}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("checking %s %s, which already exists: %w", kind, obj.GetName(), err)
	}
	if diff != "" {
		return nil, &Outcome{Reason: execv1.ReasonInternalError, Message: fmt.Sprintf(
			"%s %s already exists and is marked as controlled by this CodeExecution, but is not what the controller creates (%s differs): refusing to use it",
			kind, obj.GetName(), diff)}, nil
	}
	return existing, nil, nil
}

// differs returns "" when existing, found where the controller was
// creating want, is what that create would have made, else the first
// field that differs. A ConfigMap must be immutable and hold exactly
// want's data (the task ConfigMap is the code that runs; a result
// ConfigMap is also checked by every reader against status.result.sha256).
// A Job or a NetworkPolicy is compared, spec against spec, with what the
// API server makes of want: a server-side dry-run create (defaults,
// mutating admission) under a generated name. A dry-run that fails is an
// error (createOwned ends the execution if it was refused, retries
// otherwise): nothing is adopted unchecked.
func (r *CodeExecutionReconciler) differs(ctx context.Context, want, existing client.Object) (string, error) {
	switch w := want.(type) {
	case *corev1.ConfigMap:
		e, ok := existing.(*corev1.ConfigMap)
		switch {
		case !ok:
			return "kind", nil
		case !ptr.Deref(e.Immutable, false):
			return "immutable", nil
		case !equality.Semantic.DeepEqual(w.Data, e.Data):
			return "data", nil
		case !equality.Semantic.DeepEqual(w.BinaryData, e.BinaryData):
			return "binaryData", nil
		}
		return "", nil
	case *batchv1.Job:
		e, ok := existing.(*batchv1.Job)
		if !ok {
			return "kind", nil
		}
		d := w.DeepCopy()
		if err := r.dryRunCreate(ctx, d); err != nil {
			return "", err
		}
		return FirstDiff("spec", comparableJobSpec(d), comparableJobSpec(e)), nil
	case *networkingv1.NetworkPolicy:
		e, ok := existing.(*networkingv1.NetworkPolicy)
		if !ok {
			return "kind", nil
		}
		d := w.DeepCopy()
		if err := r.dryRunCreate(ctx, d); err != nil {
			return "", err
		}
		return FirstDiff("spec", d.Spec, e.Spec), nil
	default:
		return "kind", nil
	}
}

// dryRunCreate replaces obj with what the API server would store if it
// were created now, under a generated name (its own name is taken).
func (r *CodeExecutionReconciler) dryRunCreate(ctx context.Context, obj client.Object) error {
	prefix := obj.GetName()
	if len(prefix) > 50 {
		prefix = prefix[:50]
	}
	obj.SetName("")
	obj.SetGenerateName(prefix + "-")
	obj.SetResourceVersion("")
	if err := r.Create(ctx, obj, client.DryRunAll); err != nil {
		return fmt.Errorf("dry-run create of what the controller builds: %w", err)
	}
	return nil
}

// jobGeneratedLabels are the template labels the API server derives from
// a Job's name and UID; they differ between any two Jobs.
var jobGeneratedLabels = []string{batchv1.ControllerUidLabel, batchv1.JobNameLabel, "controller-uid", "job-name"}

// comparableJobSpec is a Job's spec without what differs between two Jobs
// created from one object, or changes afterwards without changing what
// runs:
//   - spec.selector, and the template labels in jobGeneratedLabels: the
//     API server generates them from the Job's UID and name;
//   - spec.manualSelector: set with the selector;
//   - spec.suspend: Kueue (or an admin) suspends and resumes a Job.
func comparableJobSpec(j *batchv1.Job) batchv1.JobSpec {
	s := *j.Spec.DeepCopy()
	s.Selector, s.ManualSelector, s.Suspend = nil, nil, nil
	for _, k := range jobGeneratedLabels {
		delete(s.Template.Labels, k)
	}
	return s
}

// PodDiffersFromTemplate returns "" when pod is exactly what the Job
// controller creates from job's template, else the first field that
// differs. Labels and ownerReferences are forgeable by anyone who may
// create Pods in the namespace: a Pod counts as the execution's only if
// it also runs what the Job says (same containers, images, commands,
// arguments, environment, mounts, security contexts, volumes, runtime
// class, service account and token...), so that its termination message
// and log come from the runner on the execution's task. It is a pure
// function.
//
// The fields that others set on a Pod after the Job controller made it
// from the template are not compared; they are, explicitly:
//   - metadata other than the template's labels and annotations and the
//     controller reference (name, UID, finalizers, extra labels and
//     annotations other controllers add);
//   - spec.nodeName (the scheduler binds the Pod);
//   - spec.serviceAccountName and spec.deprecatedServiceAccount when the
//     template names none: the ServiceAccount admission plugin fills in
//     "default" (the template's automountServiceAccountToken still is
//     compared, so no token is mounted);
//   - spec.tolerations and spec.nodeSelector beyond the template's (the
//     DefaultTolerationSeconds and RuntimeClass admission plugins add to
//     them; the template's own must all be there);
//   - spec.priority, spec.preemptionPolicy, and spec.priorityClassName
//     when the template names none (the Priority admission plugin);
//   - spec.overhead (the RuntimeClass admission plugin);
//   - spec.schedulingGates (added by schedulers' webhooks, and removed);
//   - spec.imagePullSecrets beyond the template's (the ServiceAccount
//     admission plugin adds the service account's);
//   - a container's resource names the template does not set, in
//     requests or limits (LimitRanger adds defaults for names a container
//     leaves unset, e.g. ephemeral-storage, and requests are defaulted
//     from limits on Pods only): they add to what the template sets and
//     cannot loosen it. Every name the template sets must be there with
//     the same quantity: a copy with another memory or CPU limit is not
//     what status.limits says ran, and its verdict (an OOM kill at the
//     copy's limit) is not the execution's. An in-place resize therefore
//     makes the Pod an impostor too: it no longer runs under the limits
//     the execution recorded;
//   - every container's resizePolicy, and its imagePullPolicy (the
//     AlwaysPullImages admission plugin sets Always; the image itself is
//     compared).
//
// Everything else of the spec, ephemeral containers included, must be
// equal.
func PodDiffersFromTemplate(pod *corev1.Pod, job *batchv1.Job) string {
	if c := metav1.GetControllerOf(pod); c == nil || c.UID != job.UID {
		return "metadata.ownerReferences"
	}
	tmpl := &job.Spec.Template
	for _, k := range sortedKeys(tmpl.Labels) {
		if v, ok := pod.Labels[k]; !ok || v != tmpl.Labels[k] {
			return "metadata.labels[" + k + "]"
		}
	}
	for _, k := range sortedKeys(tmpl.Annotations) {
		if v, ok := pod.Annotations[k]; !ok || v != tmpl.Annotations[k] {
			return "metadata.annotations[" + k + "]"
		}
	}
	want, got := tmpl.Spec.DeepCopy(), pod.Spec.DeepCopy()
	for _, t := range want.Tolerations {
		if !slices.ContainsFunc(got.Tolerations, func(g corev1.Toleration) bool { return equality.Semantic.DeepEqual(g, t) }) {
			return "spec.tolerations"
		}
	}
	for k, v := range want.NodeSelector {
		if g, ok := got.NodeSelector[k]; !ok || g != v {
			return "spec.nodeSelector[" + k + "]"
		}
	}
	for _, ps := range want.ImagePullSecrets {
		if !slices.Contains(got.ImagePullSecrets, ps) {
			return "spec.imagePullSecrets"
		}
	}
	if d := resourcesDiffer("spec.containers", want.Containers, got.Containers); d != "" {
		return d
	}
	if d := resourcesDiffer("spec.initContainers", want.InitContainers, got.InitContainers); d != "" {
		return d
	}
	for _, s := range []*corev1.PodSpec{want, got} {
		s.ImagePullSecrets = nil
		s.NodeName = ""
		s.Tolerations, s.NodeSelector = nil, nil
		s.Priority, s.PreemptionPolicy = nil, nil
		s.Overhead = nil
		s.SchedulingGates = nil
		for i := range s.Containers {
			s.Containers[i].Resources, s.Containers[i].ResizePolicy = corev1.ResourceRequirements{}, nil
			s.Containers[i].ImagePullPolicy = ""
		}
		for i := range s.InitContainers {
			s.InitContainers[i].Resources, s.InitContainers[i].ResizePolicy = corev1.ResourceRequirements{}, nil
			s.InitContainers[i].ImagePullPolicy = ""
		}
	}
	if want.ServiceAccountName == "" && want.DeprecatedServiceAccount == "" {
		if got.ServiceAccountName == "" || got.ServiceAccountName == "default" {
			got.ServiceAccountName = ""
		}
		if got.DeprecatedServiceAccount == "" || got.DeprecatedServiceAccount == "default" {
			got.DeprecatedServiceAccount = ""
		}
	}
	if want.PriorityClassName == "" {
		got.PriorityClassName = ""
	}
	return FirstDiff("spec", *want, *got)
}

// resourcesDiffer returns "" when every resource quantity each container
// of want sets, in requests and in limits, is set to an equal quantity in
// the container of the same name in got, else the first that is not.
// Names got sets beyond want's are tolerated (see PodDiffersFromTemplate).
// A container missing from got is left to the comparison of the
// containers themselves.
func resourcesDiffer(path string, want, got []corev1.Container) string {
	for _, w := range want {
		i := slices.IndexFunc(got, func(g corev1.Container) bool { return g.Name == w.Name })
		if i < 0 {
			continue
		}
		g := got[i]
		for _, l := range []struct {
			field     string
			want, got corev1.ResourceList
		}{{"requests", w.Resources.Requests, g.Resources.Requests}, {"limits", w.Resources.Limits, g.Resources.Limits}} {
			names := make([]string, 0, len(l.want))
			for n := range l.want {
				names = append(names, string(n))
			}
			slices.Sort(names)
			for _, n := range names {
				q, ok := l.got[corev1.ResourceName(n)]
				if wq := l.want[corev1.ResourceName(n)]; !ok || q.Cmp(wq) != 0 {
					return fmt.Sprintf("%s[%s].resources.%s[%s]", path, w.Name, l.field, n)
				}
			}
		}
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// FirstDiff returns "" when a and b are semantically equal (nil and empty
// alike), else the path, under name, of the first field that differs, as
// deep as structs and equal-length slices go.
func FirstDiff(name string, a, b any) string {
	if equality.Semantic.DeepEqual(a, b) {
		return ""
	}
	return firstDiff(name, reflect.ValueOf(a), reflect.ValueOf(b))
}

func firstDiff(name string, a, b reflect.Value) string {
	for a.Kind() == reflect.Pointer && b.Kind() == reflect.Pointer && !a.IsNil() && !b.IsNil() {
		a, b = a.Elem(), b.Elem()
	}
	switch {
	case a.Kind() == reflect.Struct && a.Type() == b.Type() && a.Type() != reflect.TypeOf(metav1.Time{}):
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			fa, fb := a.Field(i), b.Field(i)
			if equality.Semantic.DeepEqual(fa.Interface(), fb.Interface()) {
				continue
			}
			n := strings.Split(f.Tag.Get("json"), ",")[0]
			if n == "" {
				n = f.Name
			}
			if f.Anonymous && n == f.Name {
				return firstDiff(name, fa, fb)
			}
			return firstDiff(name+"."+n, fa, fb)
		}
	case a.Kind() == reflect.Slice && b.Kind() == reflect.Slice && a.Len() == b.Len():
		for i := 0; i < a.Len(); i++ {
			if !equality.Semantic.DeepEqual(a.Index(i).Interface(), b.Index(i).Interface()) {
				return firstDiff(fmt.Sprintf("%s[%d]", name, i), a.Index(i), b.Index(i))
			}
		}
	}
	return name
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
