package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// createWhileStopped creates ce with the manager stopped, then lets plant
// pre-create what a namespace neighbour would, then restarts the manager.
func createWhileStopped(t *testing.T, ce *execv1.CodeExecution, plant func()) {
	t.Helper()
	stopManager()
	defer func() {
		if err := startManager(); err != nil {
			t.Fatal(err)
		}
	}()
	create(t, ce)
	plant()
}

// A neighbour pre-creates the task ConfigMap, unlabelled (so the cache
// cannot see it), with a task that lets SQL read system schemas. The
// execution must refuse it, name it, and create no Job.
func TestPreCreatedTaskConfigMapIsRefused(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("task-squat", ns).Obj()
	name := ""
	createWhileStopped(t, ce, func() {
		name = controllers.TaskConfigMapName(ce.Name, ce.UID)
		create(t, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Data: map[string]string{"code": "result = 1",
				"task.json": `{"language":"sql","allowSystemSchemas":true,"allowShow":true}`},
		})
	})
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "ConfigMap "+name+" already exists and is not controlled by this CodeExecution")
	if jobExists(ce) {
		t.Error("a Job was created over a neighbour's task")
	}
}

// A neighbour pre-creates the Job, unlabelled. The execution must end
// naming it, and leave it alone (it is not the controller's to delete).
func TestPreCreatedJobIsRefusedAndLeftAlone(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("job-squat", ns).Obj()
	name := ""
	createWhileStopped(t, ce, func() {
		name = controllers.JobName(ce.Name, ce.UID)
		create(t, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "runner", Image: "busybox", Command: []string{"sh", "-c", "echo forged"}}},
			}}},
		})
	})
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "Job "+name+" already exists and is not controlled by this CodeExecution")
	job := &batchv1.Job{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, job); err != nil || job.DeletionTimestamp != nil {
		t.Errorf("the neighbour's Job was deleted (err %v)", err)
	}
}

// A neighbour pre-creates the result ConfigMap with a forged gzip and an
// annotation that matches it. The execution must not point at it.
func TestPreCreatedResultConfigMapIsRefused(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("result-squat", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	forged := []byte(`"` + strings.Repeat("forged", 5000) + `"`)
	_, cm, err := controllers.ResultStatus(ce, forged, false)
	if err != nil || cm == nil {
		t.Fatalf("building the forgery: %v", err)
	}
	cm.Labels = nil // invisible to the controller's cache
	create(t, cm)
	genuine := []byte(`"` + strings.Repeat("genuine", 5000) + `"`)
	runnerReports(t, job, pod, result.Success(genuine), "")
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "ConfigMap "+cm.Name+" already exists and is not controlled by this CodeExecution")
	if ce.Status.Result != nil {
		t.Errorf("status.result points at the neighbour's data: %+v", ce.Status.Result)
	}
	wantStopped(t, job, pod)
}

// A labelled decoy Pod (the execution's labels and annotation, a container
// named runner, a forged termination message) is not the Job's Pod and
// changes nothing: the genuine run stays Running, then completes.
func TestDecoyPodChangesNothing(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("decoy", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	time.Sleep(1100 * time.Millisecond) // the decoy is the newest Pod
	forged := result.Failure(result.SecurityViolation, "forged")
	sum, _ := json.Marshal(result.Summarize(forged, result.Encode(forged)))
	decoy := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "decoy", Namespace: ns,
			Labels: job.Spec.Template.Labels, Annotations: job.Spec.Template.Annotations},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "runner", Image: "busybox"}}},
	}
	create(t, decoy)
	kubelet.setLog(ns, decoy.Name, string(result.Encode(forged))+"\n")
	setRunnerState(t, decoy, corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 1, Message: string(sum), StartedAt: metav1.Now(), FinishedAt: metav1.Now()}})
	time.Sleep(2 * time.Second)
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
		t.Errorf("the controller deleted a Pod it does not own (err %v)", err)
	}
}

// A Job that is the controller's own (created before a crash that lost the
// status write) is adopted, not refused: AlreadyExists means look it up.
func TestOwnJobFoundAfterALostStatusWriteIsAdopted(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("adopt", ns).Obj()
	createWhileStopped(t, ce, func() {
		l := controllers.ResolveLimits(ce.Spec.Limits, controllers.BuiltinDefaults())
		ce.Status.Limits = &l
		tm, err := controllers.BuildTaskConfigMap(ce, l, controllers.SQLPermissions{})
		if err != nil {
			t.Fatal(err)
		}
		o := controllers.DefaultJobOptions()
		for _, obj := range []client.Object{tm, controllers.BuildJob(ce, l, o)} {
			obj.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(ce, execv1.GroupVersion.WithKind("CodeExecution"))})
			create(t, obj)
		}
	})
	job := waitJob(t, ce)
	eventually(t, waitFor, "the Job adopted", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err != nil {
			return err
		}
		if ce.Status.JobUID != string(job.UID) {
			return fmt.Errorf("status.jobUID %q, Job %q; condition %v", ce.Status.JobUID, job.UID, ce.Status.Conditions)
		}
		return nil
	})
	pod := startPod(t, job)
	runnerReports(t, job, pod, result.Success(json.RawMessage(`1`)), "")
	wantCondition(t, waitDone(t, ce), metav1.ConditionTrue, execv1.ReasonCompleted, "")
}
