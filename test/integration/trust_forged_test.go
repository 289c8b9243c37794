package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// The attacks below are a namespace neighbour's who read the code: every
// ownerReference and label they write is forged, and ownerReferences and
// labels are all the API server lets anyone check. Only what an object
// holds can tell ours from theirs.

// forgedOwner is a controller ownerReference a neighbour writes by hand.
func forgedOwner(ce *execv1.CodeExecution) []metav1.OwnerReference {
	return []metav1.OwnerReference{*metav1.NewControllerRef(ce, execv1.GroupVersion.WithKind("CodeExecution"))}
}

// plannedChildren builds, as the controller would, what it creates for ce
// in a namespace the baseline policy governs.
func plannedChildren(t *testing.T, ce *execv1.CodeExecution) (*corev1.ConfigMap, *batchv1.Job) {
	t.Helper()
	l := controllers.ResolveLimits(ce.Spec.Limits, controllers.BuiltinDefaults())
	ce.Status.Limits = &l
	tm, err := controllers.BuildTaskConfigMap(ce, l, controllers.SQLPermissions{})
	if err != nil {
		t.Fatal(err)
	}
	return tm, controllers.BuildJob(ce, l, controllers.DefaultJobOptions())
}

// A decoy Pod with the Job's labels, a controller ownerReference to the
// Job's UID (forgeable: the UID is in the Job anyone may read), a
// container named runner and a forged termination message is not a Pod
// the Job controller would create from the Job's template: it changes
// nothing, is reported as an impostor, and is not deleted.
func TestDecoyPodWithForgedJobOwnerIsIgnored(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("decoy-owned", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	time.Sleep(1100 * time.Millisecond) // the decoy is the newest Pod
	forged := result.Failure(result.SecurityViolation, "forged")
	sum, _ := json.Marshal(result.Summarize(forged, result.Encode(forged)))
	decoy := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "decoy", Namespace: ns,
			Labels: job.Spec.Template.Labels, Annotations: job.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "runner", Image: "busybox",
			Command: []string{"sh", "-c", "echo forged"}}}},
	}
	create(t, decoy)
	kubelet.setLog(ns, decoy.Name, string(result.Encode(forged))+"\n")
	setRunnerState(t, decoy, corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 1, Message: string(sum), StartedAt: metav1.Now(), FinishedAt: metav1.Now()}})
	eventually(t, waitFor, "an ImpostorPod event", func() error {
		if reasons := eventReasons(t, ce); !slices.Contains(reasons, controllers.ReasonImpostorPod) {
			return fmt.Errorf("events %v", reasons)
		}
		return nil
	})
	if reason, msg := phase(t, ce); reason != execv1.ReasonRunning {
		t.Fatalf("the decoy changed the execution: %s %q", reason, msg)
	}
	runnerReports(t, job, pod, result.Success(json.RawMessage(`"genuine"`)), "")
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionTrue, execv1.ReasonCompleted, "")
	if ce.Status.Result == nil || ce.Status.Result.Inline != `"genuine"` {
		t.Errorf("status.result = %+v", ce.Status.Result)
	}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(decoy), decoy); err != nil || decoy.DeletionTimestamp != nil {
		t.Errorf("the controller deleted a Pod that is not the Job's (err %v)", err)
	}
}

// A neighbour pre-creates the Job with a forged controller ownerReference
// to the execution and what the controller builds, except that the Pod
// runs in the node's network namespace (past the NetworkPolicy) with an
// extra environment variable. It is refused, named, and left alone.
func TestPreCreatedJobWithForgedOwnerAndOtherSpecIsRefused(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("job-forged", ns).Obj()
	var job *batchv1.Job
	createWhileStopped(t, ce, func() {
		_, job = plannedChildren(t, ce)
		job.OwnerReferences = forgedOwner(ce)
		spec := &job.Spec.Template.Spec
		spec.HostNetwork = true
		spec.Containers[0].Env = append(spec.Containers[0].Env, corev1.EnvVar{Name: "PYTHONSTARTUP", Value: "/tmp/x.py"})
		create(t, job)
	})
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "Job "+job.Name+" ")
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "not what the controller creates")
	if ce.Status.JobUID != "" {
		t.Errorf("status.jobUID = %q: the forged Job was adopted", ce.Status.JobUID)
	}
	got := &batchv1.Job{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(job), got); err != nil || got.DeletionTimestamp != nil {
		t.Errorf("the neighbour's Job was deleted (err %v)", err)
	}
}

// The same with the NetworkPolicy: a forged controller ownerReference and
// a spec that lets the sandbox reach anything.
func TestPreCreatedNetworkPolicyWithForgedOwnerAndOtherSpecIsRefused(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("np-forged", ns).Obj()
	var np *networkingv1.NetworkPolicy
	createWhileStopped(t, ce, func() {
		np = controllers.BuildNetworkPolicy(ce, nil)
		np.OwnerReferences = forgedOwner(ce)
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}} // allow all
		create(t, np)
	})
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "NetworkPolicy "+np.Name+" ")
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "not what the controller creates")
	if jobExists(ce) {
		t.Error("a Job was created under a neighbour's NetworkPolicy")
	}
}

// A pre-created task ConfigMap with a forged ownerReference and exactly
// the controller's data, but mutable: the neighbour could change the code
// after the check. It is refused.
func TestPreCreatedMutableTaskConfigMapIsRefused(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("task-mutable", ns).Obj()
	var tm *corev1.ConfigMap
	createWhileStopped(t, ce, func() {
		tm, _ = plannedChildren(t, ce)
		tm.OwnerReferences = forgedOwner(ce)
		tm.Immutable = nil
		create(t, tm)
	})
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "ConfigMap "+tm.Name+" ")
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "not what the controller creates")
	if jobExists(ce) {
		t.Error("a Job was created over a mutable task ConfigMap")
	}
}

// The task ConfigMap is deleted and created again by a neighbour (same
// name, forged ownerReference and labels, immutable, other code) after
// the Job exists and before its Pod starts. The Pod mounts by name, so it
// would run the neighbour's code: the result is not taken.
func TestTaskConfigMapReplacedBeforeThePodStartsIsNotTrusted(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("task-replaced", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	name := controllers.TaskConfigMapName(ce.Name, ce.UID)
	orig := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, orig); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(context.Background(), orig); err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: orig.Labels, OwnerReferences: forgedOwner(ce)},
		Data:       map[string]string{result.CodeFile: "result = 'forged'", result.TaskFile: orig.Data[result.TaskFile]},
		Immutable:  ptr.To(true),
	})
	pod := startPod(t, job)
	runnerReports(t, job, pod, result.Success(json.RawMessage(`"forged"`)), "")
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "ConfigMap "+name+" was replaced")
	if ce.Status.Result != nil {
		t.Errorf("status.result = %+v: a result of the neighbour's code was taken", ce.Status.Result)
	}
	if ce.Status.TaskConfigMapUID != string(orig.UID) {
		t.Errorf("status.taskConfigMapUID = %q, want the UID of the ConfigMap the controller created, %q", ce.Status.TaskConfigMapUID, orig.UID)
	}
	wantStopped(t, job, pod)
}
