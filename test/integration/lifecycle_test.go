package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// An execution declared PodFailed because its Pod stayed unschedulable
// must not run later when a node appears: its Job and Pod go with the
// verdict.
func TestUnschedulableVerdictDeletesJobAndPod(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("nowhere", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	pod.Status.Phase = corev1.PodPending
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available",
		LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}}
	if err := k8s.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPodFailed, "unschedulable")
	wantStopped(t, job, pod)
}

// A Job deleted by a user before the result was read ends the execution;
// it is never recreated (the code would run twice).
func TestDeletedJobIsNeverRecreated(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("once", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	eventually(t, waitFor, "status.jobUID", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err != nil {
			return err
		}
		if ce.Status.JobUID != string(job.UID) {
			return fmt.Errorf("status.jobUID %q, Job %q", ce.Status.JobUID, job.UID)
		}
		return nil
	})
	if err := k8s.Delete(context.Background(), job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPodFailed, "never recreated")
	// Give a wrong controller every chance to recreate it.
	ce.Annotations = map[string]string{"poke": "1"}
	if err := k8s.Update(context.Background(), ce); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	err := k8s.Get(context.Background(), client.ObjectKeyFromObject(job), &batchv1.Job{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("the Job was recreated (err %v)", err)
	}
}

// Lowering a policy's maximum while an execution runs changes nothing for
// it: its limits were resolved once, and its finished run stands.
func TestPolicyLoweredMidRunChangesNothing(t *testing.T) {
	ns, pol := newPolicy(t, "it-lowered", execv1.ExecutionPolicySpec{Limits: []execv1.LanguageLimits{{
		Language: execv1.LanguagePython, Max: execv1.ExecutionLimits{Memory: quantity("1Gi")}}}})
	ce := wrappers.MakeCodeExecution("big-mem", ns).Memory("1Gi").Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pol), pol); err != nil {
			return err
		}
		pol.Spec.Limits[0].Max.Memory = quantity("256Mi")
		return k8s.Update(context.Background(), pol)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Let the controller see the change.
	time.Sleep(time.Second)
	runnerReports(t, job, pod, result.Success(json.RawMessage(`"ran"`)), "")
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionTrue, execv1.ReasonCompleted, "")
	if ce.Status.Limits == nil || ce.Status.Limits.Memory.String() != "1Gi" {
		t.Errorf("status.limits changed after the Job existed: %+v", ce.Status.Limits)
	}
	if len(ce.Status.Policies) != 1 || ce.Status.Policies[0] != "it-lowered" {
		t.Errorf("status.policies = %v", ce.Status.Policies)
	}
}

// A Job that cannot create its Pod shows the Job controller's reason (its
// FailedCreate event) in the execution's message while it waits.
func TestJobThatCannotCreateItsPodShowsWhy(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("no-pod", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	// The Job controller sets startTime before any Pod exists: that is not
	// a Pod that vanished.
	job.Status.StartTime = ptr.To(metav1.Now())
	if err := k8s.Status().Update(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	const why = `pods "no-pod-x" is forbidden: exceeded quota: team, requested: pods=1, used: pods=10, limited: pods=10`
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "no-pod-", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: ns, Name: job.Name, UID: job.UID},
		Reason:         "FailedCreate", Message: "Error creating: " + why, Type: corev1.EventTypeWarning,
		Source:        corev1.EventSource{Component: "job-controller"},
		LastTimestamp: metav1.Now(), FirstTimestamp: metav1.Now(), Count: 1,
	}
	create(t, ev)
	// Nudge the controller, as the next event would.
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(job), job); err != nil {
		t.Fatal(err)
	}
	job.Annotations = map[string]string{"nudge": "1"}
	if err := k8s.Update(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "the Job controller's reason in the message", func() error {
		reason, msg := phase(t, ce)
		if reason != execv1.ReasonPending || msg != "Job "+job.Name+" cannot create its Pod: Error creating: "+why {
			return fmt.Errorf("%s %q", reason, msg)
		}
		return nil
	})
}

// pods/log errors other than 400/403/404 are retried only for a bounded
// time after the container finished; then the execution ends from the
// termination summary, saying the result line was unavailable.
func TestUnreadableLogEndsFromTheSummaryAfterABound(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("lost-log", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	r := result.Failure(result.RuntimeError, "ZeroDivisionError: division by zero")
	line := result.Encode(r)
	sum, _ := json.Marshal(result.Summarize(r, line))
	kubelet.fail(ns, pod.Name)
	long := metav1.NewTime(time.Now().Add(-controllers.DefaultBounds().LogUnavailable - time.Minute))
	setRunnerState(t, pod, corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 1, Reason: "Error", Message: string(sum), StartedAt: long, FinishedAt: long}})
	finishJob(t, job, true, "BackoffLimitExceeded")
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonRuntimeError, "the result line was unavailable")
	wantStopped(t, job, pod)
}

// A log that fails for a moment is retried, not given up on.
func TestUnreadableLogIsRetriedWithinTheBound(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("flaky-log", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	kubelet.fail(ns, pod.Name)
	runnerReports(t, job, pod, result.Success(json.RawMessage(`7`)), "")
	eventually(t, waitFor, "retrying the log", func() error {
		reason, msg := phase(t, ce)
		if reason != execv1.ReasonRunning || msg == "" {
			return fmt.Errorf("%s %q", reason, msg)
		}
		return nil
	})
	kubelet.mu.Lock()
	delete(kubelet.failing, ns+"/"+pod.Name)
	kubelet.mu.Unlock()
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionTrue, execv1.ReasonCompleted, "")
}
