package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

const waitFor = 20 * time.Second

var nsCounter int

// newNamespace creates a namespace for one test.
// newNamespace creates a namespace that the baseline policy selects (it
// carries execution.codeexec.io/enabled=true) with extra labels.
func newNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	l := map[string]string{execv1.LabelExecutionsEnabled: "true"}
	for k, v := range labels {
		l[k] = v
	}
	return newUnselectedNamespace(t, l)
}

// newUnselectedNamespace creates a namespace with exactly these labels:
// only a policy that selects them governs it.
func newUnselectedNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	nsCounter++
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("it-%d-%d", time.Now().Unix()%100000, nsCounter), Labels: labels}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitJob waits for the execution's Job and returns it with the execution.
func waitJob(t *testing.T, ce *execv1.CodeExecution) *batchv1.Job {
	t.Helper()
	job := &batchv1.Job{}
	eventually(t, waitFor, "the Job", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err != nil {
			return err
		}
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: ce.Namespace, Name: controllers.JobName(ce.Name, ce.UID)}, job)
	})
	return job
}

// startPod plays the Job controller: it creates the Job's Pod on the
// stand-in node and marks the Job started.
func startPod(t *testing.T, job *batchv1.Job) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: job.Name + "-pod", Namespace: job.Namespace,
			Labels: job.Spec.Template.Labels, Annotations: job.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))},
		},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = nodeName
	create(t, pod)
	job.Status.StartTime = ptr.To(metav1.Now())
	job.Status.Active = 1
	if err := k8s.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	return pod
}

func setRunnerState(t *testing.T, pod *corev1.Pod, phase corev1.PodPhase, state corev1.ContainerState) {
	t.Helper()
	pod.Status.Phase = phase
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "runner", State: state, Image: "runner", ImageID: "runner"}}
	if err := k8s.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
}

// finishJob plays the Job controller at the end.
func finishJob(t *testing.T, job *batchv1.Job, failed bool, reason string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(job), job); err != nil {
			// The controller deletes the Job as soon as the execution
			// ends, which may be before the Job controller would have
			// marked it finished.
			return client.IgnoreNotFound(err)
		}
		now := metav1.Now()
		job.Status.Active = 0
		if failed {
			job.Status.Failed = 1
			job.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: now},
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: reason, Message: "stand-in", LastTransitionTime: now},
			}
		} else {
			job.Status.Succeeded = 1
			job.Status.CompletionTime = &now
			job.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
			}
		}
		return client.IgnoreNotFound(k8s.Status().Update(context.Background(), job))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runnerReports plays the runner: it writes its result to the log and the
// summary to the termination message, and exits.
func runnerReports(t *testing.T, job *batchv1.Job, pod *corev1.Pod, r result.ExecutionResult, logPrefix string) {
	t.Helper()
	runnerReportsWithLog(t, job, pod, r, logPrefix+string(result.Encode(r))+"\n")
}

// runnerReportsWithLog is runnerReports with the container log given.
func runnerReportsWithLog(t *testing.T, job *batchv1.Job, pod *corev1.Pod, r result.ExecutionResult, log string) {
	t.Helper()
	line := result.Encode(r)
	sum, _ := json.Marshal(result.Summarize(r, line))
	kubelet.setLog(pod.Namespace, pod.Name, log)
	exit, phase := int32(0), corev1.PodSucceeded
	if !r.Succeeded {
		exit, phase = 1, corev1.PodFailed
	}
	setRunnerState(t, pod, phase, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: exit, Reason: "Completed", Message: string(sum), StartedAt: metav1.Now(), FinishedAt: metav1.Now()}})
	finishJob(t, job, !r.Succeeded, "BackoffLimitExceeded")
}

// waitDone waits for the Succeeded condition to be terminal.
func waitDone(t *testing.T, ce *execv1.CodeExecution) *metav1.Condition {
	t.Helper()
	var c *metav1.Condition
	eventually(t, waitFor, "a terminal Succeeded condition", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err != nil {
			return err
		}
		c = meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
		if c == nil || c.Status == metav1.ConditionUnknown {
			return fmt.Errorf("condition is %v", c)
		}
		return nil
	})
	return c
}

func wantCondition(t *testing.T, c *metav1.Condition, status metav1.ConditionStatus, reason, msgPart string) {
	t.Helper()
	if c.Status != status || c.Reason != reason || !strings.Contains(c.Message, msgPart) {
		t.Errorf("Succeeded = %s/%s %q, want %s/%s with %q", c.Status, c.Reason, c.Message, status, reason, msgPart)
	}
}

func eventReasons(t *testing.T, ce *execv1.CodeExecution) []string {
	t.Helper()
	var evs eventsv1.EventList
	if err := k8s.List(context.Background(), &evs, client.InNamespace(ce.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs.Items {
		if e.Regarding.UID == ce.UID {
			out = append(out, e.Reason)
		}
	}
	return out
}

func TestCreateMakesOneOwnedHardenedJob(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("hello", ns).Code("result = 41 + 1").Obj()
	create(t, ce)
	job := waitJob(t, ce)
	if !metav1.IsControlledBy(job, ce) {
		t.Errorf("Job %s is not controlled by the CodeExecution: %v", job.Name, job.OwnerReferences)
	}
	spec := job.Spec.Template.Spec
	if ptr.Deref(job.Spec.BackoffLimit, -1) != 0 || spec.RestartPolicy != corev1.RestartPolicyNever ||
		ptr.Deref(spec.AutomountServiceAccountToken, true) || ptr.Deref(spec.EnableServiceLinks, true) {
		t.Errorf("the stored Job lost its hardening: %+v", job.Spec)
	}
	if job.Spec.TTLSecondsAfterFinished != nil {
		t.Errorf("a running Job must not carry a TTL yet, got %d", *job.Spec.TTLSecondsAfterFinished)
	}
	for _, e := range spec.Containers[0].Env {
		if strings.Contains(e.Value, "41 + 1") {
			t.Errorf("the code leaked into the environment: %v", e)
		}
	}
	if strings.Contains(strings.Join(spec.Containers[0].Args, " "), "41 + 1") {
		t.Error("the code leaked into the arguments")
	}
	task := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: controllers.TaskConfigMapName(ce.Name, ce.UID)}, task); err != nil {
		t.Fatal(err)
	}
	if task.Data["code"] != "result = 41 + 1" || !metav1.IsControlledBy(task, ce) {
		t.Errorf("task ConfigMap = %v owners %v", task.Data, task.OwnerReferences)
	}
	eventually(t, waitFor, "status Pending with the effective limits", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err != nil {
			return err
		}
		c := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
		if c == nil || c.Status != metav1.ConditionUnknown || c.Reason != execv1.ReasonPending {
			return fmt.Errorf("condition %v", c)
		}
		if ce.Status.Limits == nil || ce.Status.Limits.Memory.String() != "512Mi" || *ce.Status.Limits.TimeoutSeconds != 30 {
			return fmt.Errorf("status.limits = %+v", ce.Status.Limits)
		}
		if ce.Status.JobName != job.Name || ce.Status.ObservedGeneration != ce.Generation {
			return fmt.Errorf("jobName %q observedGeneration %d", ce.Status.JobName, ce.Status.ObservedGeneration)
		}
		return nil
	})
}

func TestSuccessfulRunReportsResultAndEvents(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("ok", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	eventually(t, waitFor, "Running", func() error {
		_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce)
		if c := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded); c == nil || c.Reason != execv1.ReasonRunning {
			return fmt.Errorf("condition %v", c)
		}
		if ce.Status.StartTime == nil {
			return fmt.Errorf("no startTime")
		}
		return nil
	})
	r := result.Success(json.RawMessage(`{"total":42}`))
	r.Stdout, r.DurationMillis = "computing\n", 1234
	runnerReports(t, job, pod, r, "a line the runner logged before\n")
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionTrue, execv1.ReasonCompleted, "")
	if ce.Status.Result == nil || ce.Status.Result.Inline != `{"total":42}` || ce.Status.Result.SizeBytes != 12 {
		t.Errorf("status.result = %+v", ce.Status.Result)
	}
	if ce.Status.Stdout != "computing\n" || ce.Status.CompletionTime == nil || ce.Status.Duration == nil || ce.Status.Duration.Duration != 1234*time.Millisecond {
		t.Errorf("stdout %q completionTime %v duration %v", ce.Status.Stdout, ce.Status.CompletionTime, ce.Status.Duration)
	}
	eventually(t, waitFor, "events for each transition", func() error {
		got := strings.Join(eventReasons(t, ce), ",")
		for _, want := range []string{"Pending", "Running", "Completed"} {
			if !strings.Contains(got, want) {
				return fmt.Errorf("events %s lack %s", got, want)
			}
		}
		return nil
	})
	if ce.Status.JobUID != string(job.UID) {
		t.Errorf("status.jobUID = %q, want the Job's %q", ce.Status.JobUID, job.UID)
	}
	wantStopped(t, job, pod)
}

// wantStopped checks that the Job and its Pod are deleted, or being
// deleted: once the status is terminal no code of the execution may run.
// No garbage collector runs here, so the Pod must have been deleted by the
// controller itself.
func wantStopped(t *testing.T, job *batchv1.Job, pod *corev1.Pod) {
	t.Helper()
	eventually(t, waitFor, "the Job and its Pod deleted", func() error {
		for _, obj := range []client.Object{job.DeepCopy(), pod.DeepCopy()} {
			err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
			if err == nil && obj.GetDeletionTimestamp() == nil {
				return fmt.Errorf("%T %s still exists", obj, obj.GetName())
			}
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		return nil
	})
}

func TestLargeResultLandsWholeInOwnedConfigMap(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("big", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	rows := make([]map[string]any, 0, 6000)
	for i := range 6000 {
		rows = append(rows, map[string]any{"id": i, "name": fmt.Sprintf("customer-%06d", i), "score": i * 7 % 101})
	}
	payload, _ := json.Marshal(rows)
	if len(payload) < 200<<10 {
		t.Fatalf("payload is only %d bytes", len(payload))
	}
	runnerReports(t, job, pod, result.Success(payload), "")
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionTrue, execv1.ReasonCompleted, "")
	st := ce.Status.Result
	sum := sha256.Sum256(payload)
	if st == nil || st.Inline != "" || st.ConfigMapName == "" || st.SizeBytes != int64(len(payload)) || st.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("status.result = %+v", st)
	}
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: st.ConfigMapName}, cm); err != nil {
		t.Fatal(err)
	}
	if !metav1.IsControlledBy(cm, ce) {
		t.Error("the result ConfigMap is not owned by the CodeExecution")
	}
	got, err := controllers.DecodeStoredResult(cm, ce.Status.Result)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Errorf("the stored result (%d bytes) differs from the runner's (%d bytes)", len(got), len(payload))
	}
}

func TestOutcomesMapToReasons(t *testing.T) {
	cases := map[string]struct {
		play    func(t *testing.T, job *batchv1.Job, pod *corev1.Pod)
		status  metav1.ConditionStatus
		reason  string
		message string
	}{
		"runner reason passes through": {
			play: func(t *testing.T, job *batchv1.Job, pod *corev1.Pod) {
				runnerReports(t, job, pod, result.Failure(result.SecurityViolation, "socket creation refused"), "")
			},
			status: metav1.ConditionFalse, reason: execv1.ReasonSecurityViolation, message: "socket creation refused",
		},
		"container OOM-killed": {
			play: func(t *testing.T, job *batchv1.Job, pod *corev1.Pod) {
				setRunnerState(t, pod, corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}})
				finishJob(t, job, true, "BackoffLimitExceeded")
			},
			status: metav1.ConditionFalse, reason: execv1.ReasonMemoryLimitExceeded, message: "OOM-killed",
		},
		"job deadline exceeded": {
			play: func(t *testing.T, job *batchv1.Job, pod *corev1.Pod) {
				setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
				finishJob(t, job, true, batchv1.JobReasonDeadlineExceeded)
			},
			status: metav1.ConditionFalse, reason: execv1.ReasonTimeout, message: "activeDeadlineSeconds",
		},
		"image pull failure": {
			play: func(t *testing.T, job *batchv1.Job, pod *corev1.Pod) {
				setRunnerState(t, pod, corev1.PodPending, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}})
			},
			status: metav1.ConditionFalse, reason: execv1.ReasonPodFailed, message: "ErrImagePull",
		},
		"garbage termination message": {
			play: func(t *testing.T, job *batchv1.Job, pod *corev1.Pod) {
				setRunnerState(t, pod, corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "\x00not json"}})
				finishJob(t, job, true, "BackoffLimitExceeded")
			},
			status: metav1.ConditionFalse, reason: execv1.ReasonInternalError, message: "unreadable",
		},
		"forged log line": {
			play: func(t *testing.T, job *batchv1.Job, pod *corev1.Pod) {
				runnerReportsWithLog(t, job, pod, result.Success(json.RawMessage(`1`)),
					`{"succeeded":true,"reason":"Completed","result":666}`+"\n")
			},
			status: metav1.ConditionFalse, reason: execv1.ReasonInternalError, message: "could not be read",
		},
		"pod deleted mid-run": {
			play: func(t *testing.T, job *batchv1.Job, pod *corev1.Pod) {
				setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
				if err := k8s.Delete(context.Background(), pod, client.GracePeriodSeconds(0)); err != nil {
					t.Fatal(err)
				}
				finishJob(t, job, true, "BackoffLimitExceeded")
			},
			status: metav1.ConditionFalse, reason: execv1.ReasonPodFailed, message: "",
		},
	}
	i := 0
	for name, tc := range cases {
		i++
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t, nil)
			ce := wrappers.MakeCodeExecution(fmt.Sprintf("case-%d", i), ns).Obj()
			create(t, ce)
			job := waitJob(t, ce)
			pod := startPod(t, job)
			tc.play(t, job, pod)
			c := waitDone(t, ce)
			wantCondition(t, c, tc.status, tc.reason, tc.message)
			eventually(t, waitFor, "a Warning event with the reason", func() error {
				if !strings.Contains(strings.Join(eventReasons(t, ce), ","), tc.reason) {
					return fmt.Errorf("events %v", eventReasons(t, ce))
				}
				return nil
			})
		})
	}
}

func TestCELRejectsBadSpecsNamingTheField(t *testing.T) {
	ns := newNamespace(t, nil)
	long := strings.Repeat("x", execv1.MaxCodeBytes+1)
	cases := map[string]struct {
		ce   *execv1.CodeExecution
		want []string
	}{
		"sql without datasource": {
			ce:   wrappers.MakeCodeExecution("a", ns).Language(execv1.LanguageSQL).Code("SELECT 1").Obj(),
			want: []string{"spec.datasource", "required when spec.language is SQL"},
		},
		"inputs for sql": {
			ce:   wrappers.MakeCodeExecution("b", ns).Language(execv1.LanguageSQL).Code("SELECT 1").Datasource("db", "dsn").Input("t", "cm", "k").Obj(),
			want: []string{"spec.inputs", "only when spec.language is Python"},
		},
		"datasource for python": {
			ce:   wrappers.MakeCodeExecution("c", ns).Datasource("db", "dsn").Obj(),
			want: []string{"spec.datasource", "only when spec.language is SQL"},
		},
		"unknown language": {
			ce:   wrappers.MakeCodeExecution("d", ns).Language("Ruby").Obj(),
			want: []string{"spec.language", "Unsupported value"},
		},
		"code too long": {
			ce:   wrappers.MakeCodeExecution("e", ns).Code(long).Obj(),
			want: []string{"spec.code", "262144"},
		},
		"timeout out of range": {
			ce:   wrappers.MakeCodeExecution("f", ns).Timeout(0).Obj(),
			want: []string{"spec.limits.timeoutSeconds", "greater than or equal to 1"},
		},
		"bad input name": {
			ce:   wrappers.MakeCodeExecution("g", ns).Input("not-an-identifier", "cm", "k").Obj(),
			want: []string{"spec.inputs[0].name"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := k8s.Create(context.Background(), tc.ce)
			if !apierrors.IsInvalid(err) {
				t.Fatalf("create error = %v, want Invalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err.Error(), w)
				}
			}
		})
	}
	t.Run("spec is immutable", func(t *testing.T) {
		ce := wrappers.MakeCodeExecution("immutable", ns).Obj()
		create(t, ce)
		ce.Spec.Code = "result = 2"
		err := k8s.Update(context.Background(), ce)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec is immutable") {
			t.Fatalf("update error = %v, want spec is immutable", err)
		}
	})
}

func TestInvalidQuantityEndsWithInvalidInput(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("tiny", ns).Memory("1Mi").Obj()
	create(t, ce)
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonInvalidInput, "spec.limits.memory")
	var jobs batchv1.JobList
	if err := k8s.List(context.Background(), &jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 0 {
		t.Errorf("an invalid execution created %d Jobs", len(jobs.Items))
	}
}

func TestRestartIsIdempotent(t *testing.T) {
	ns := newNamespace(t, nil)
	const n = 12
	var ces []*execv1.CodeExecution
	for i := range n {
		ce := wrappers.MakeCodeExecution(fmt.Sprintf("r-%d", i), ns).Obj()
		create(t, ce)
		ces = append(ces, ce)
		if i == n/2 {
			stopManager() // mid-way: some have Jobs, some not
		}
	}
	if err := startManager(); err != nil {
		t.Fatal(err)
	}
	jobUIDs := map[string]string{}
	for _, ce := range ces {
		job := waitJob(t, ce)
		jobUIDs[ce.Name] = string(job.UID)
		pod := startPod(t, job)
		if ce.Name == "r-3" {
			stopManager()
			if err := startManager(); err != nil {
				t.Fatal(err)
			}
		}
		runnerReports(t, job, pod, result.Success(json.RawMessage(`"`+ce.Name+`"`)), "")
	}
	stopManager()
	if err := startManager(); err != nil {
		t.Fatal(err)
	}
	for _, ce := range ces {
		c := waitDone(t, ce)
		wantCondition(t, c, metav1.ConditionTrue, execv1.ReasonCompleted, "")
		if ce.Status.Result == nil || ce.Status.Result.Inline != `"`+ce.Name+`"` {
			t.Errorf("%s: result %+v", ce.Name, ce.Status.Result)
		}
	}
	// Finished executions' Jobs are deleted: the one Job each had is the
	// one its status records.
	for _, ce := range ces {
		if ce.Status.JobUID == "" || ce.Status.JobUID != jobUIDs[ce.Name] {
			t.Errorf("%s: status.jobUID %q, but its Job was %q", ce.Name, ce.Status.JobUID, jobUIDs[ce.Name])
		}
	}
}

func TestSandboxPodPassesPodSecurityRestricted(t *testing.T) {
	ns := newNamespace(t, map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"})
	createDSNSecret(t, ns, "db", "reader:pw@tcp(127.0.0.1:3306)/shop")
	for _, lang := range []execv1.Language{execv1.LanguagePython, execv1.LanguageSQL, execv1.LanguageJSX} {
		w := wrappers.MakeCodeExecution("psa-"+strings.ToLower(string(lang)), ns).Language(lang)
		if lang == execv1.LanguageSQL {
			w = w.Code("SELECT 1").Datasource("db", "dsn")
		}
		ce := w.Obj()
		create(t, ce)
		job := waitJob(t, ce)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "dry-" + strings.ToLower(string(lang)), Namespace: ns, Labels: job.Spec.Template.Labels},
			Spec:       *job.Spec.Template.Spec.DeepCopy(),
		}
		if err := k8s.Create(context.Background(), pod, client.DryRunAll); err != nil {
			t.Errorf("%s: the sandbox Pod is refused under Pod Security restricted: %v", lang, err)
		}
	}
	// The check must be able to fail: a Pod without the hardening is refused.
	bad := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "weak", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}},
	}
	if err := k8s.Create(context.Background(), bad, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Errorf("an unhardened Pod was not refused by Pod Security: %v", err)
	}
}

func createDSNSecret(t *testing.T, ns, name, dsn string) {
	t.Helper()
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: map[string]string{"dsn": dsn}})
}
