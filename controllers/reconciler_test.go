package controllers

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// env is a reconciler over the fake client, with interceptors standing
// in for the API server's failures.
type env struct {
	r     *CodeExecutionReconciler
	c     client.Client
	clock *clocktesting.FakeClock
	ce    *execv1.CodeExecution
	// fail, when set, is consulted before every intercepted call; a
	// non-nil error is returned instead of the call's.
	fail    atomic.Pointer[func(op string, obj client.Object) error]
	creates atomic.Int32 // Job creates that reached the fake API server
	logs    fakeLogs
}

type fakeLogs struct {
	log []byte
	err error
}

func (f *fakeLogs) TailLog(context.Context, string, string, string, int64) ([]byte, error) {
	return f.log, f.err
}

func (e *env) failWith(fn func(op string, obj client.Object) error) { e.fail.Store(&fn) }

func (e *env) check(op string, obj client.Object) error {
	if fn := e.fail.Load(); fn != nil {
		return (*fn)(op, obj)
	}
	return nil
}

func newEnv(t *testing.T, objs ...client.Object) *env {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := execv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	e := &env{clock: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))}
	e.ce = wrappers.MakeCodeExecution("cx", "team").UID("ce-uid").Obj()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}
	c := fake.NewClientBuilder().WithScheme(s).
		WithStatusSubresource(&execv1.CodeExecution{}, &batchv1.Job{}).
		WithObjects(append([]client.Object{ns, e.ce}, objs...)...).
		WithIndex(&corev1.Event{}, "involvedObject.uid", func(o client.Object) []string { return []string{string(o.(*corev1.Event).InvolvedObject.UID)} }).
		WithIndex(&corev1.Event{}, "reason", func(o client.Object) []string { return []string{o.(*corev1.Event).Reason} }).
		WithIndex(&execv1.CodeExecution{}, QueueStateIndex, QueueState).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				op := "create"
				if o := (&client.CreateOptions{}).ApplyOptions(opts); slices.Contains(o.DryRun, metav1.DryRunAll) {
					op = "dryrun"
				}
				if err := e.check(op, obj); err != nil {
					return err
				}
				if op == "dryrun" {
					return c.Create(ctx, obj, opts...)
				}
				if obj.GetUID() == "" {
					obj.SetUID(uuid.NewUUID()) // the fake client sets none
				}
				if ts := obj.GetCreationTimestamp(); ts.IsZero() {
					obj.SetCreationTimestamp(metav1.NewTime(e.clock.Now())) // nor this
				}
				if _, ok := obj.(*batchv1.Job); ok {
					e.creates.Add(1)
				}
				return c.Create(ctx, obj, opts...)
			},
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if err := e.check("get", obj); err != nil {
					return err
				}
				return c.Get(ctx, key, obj, opts...)
			},
			Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				if err := e.check("delete", obj); err != nil {
					return err
				}
				return c.Delete(ctx, obj, opts...)
			},
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				if err := e.check("status", obj); err != nil {
					return err
				}
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
		}).Build()
	e.c = c
	b := DefaultBounds()
	b.CreateRefused = 0
	e.r = &CodeExecutionReconciler{
		Client: c, APIReader: c, Scheme: s, Recorder: events.NewFakeRecorder(100),
		Logs: &e.logs, Clock: e.clock, Job: DefaultJobOptions(), Bounds: b,
		AllowUnselectedNamespaces: true,
		LookupIP:                  func(context.Context, string) ([]net.IP, error) { return nil, nil },
	}
	return e
}

func (e *env) reconcile(t *testing.T) (ctrl.Result, error) {
	t.Helper()
	return e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team", Name: "cx"}})
}

// state reads the execution back and returns its Succeeded condition.
func (e *env) state(t *testing.T) (*execv1.CodeExecution, *metav1.Condition) {
	t.Helper()
	ce := &execv1.CodeExecution{}
	if err := e.c.Get(context.Background(), client.ObjectKeyFromObject(e.ce), ce); err != nil {
		t.Fatal(err)
	}
	return ce, meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
}

func (e *env) jobs(t *testing.T) []batchv1.Job {
	t.Helper()
	var l batchv1.JobList
	if err := e.c.List(context.Background(), &l, client.InNamespace("team")); err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func wantCond(t *testing.T, c *metav1.Condition, status metav1.ConditionStatus, reason, msgPart string) {
	t.Helper()
	if c == nil || c.Status != status || c.Reason != reason || !strings.Contains(c.Message, msgPart) {
		t.Fatalf("Succeeded = %+v, want %s/%s with %q", c, status, reason, msgPart)
	}
}

func onKind[T client.Object](op string, err error) func(string, client.Object) error {
	return func(o string, obj client.Object) error {
		if _, ok := obj.(T); ok && o == op {
			return err
		}
		return nil
	}
}

func TestReconcileTransientCreateErrorIsRetried(t *testing.T) {
	e := newEnv(t)
	e.failWith(onKind[*corev1.ConfigMap]("create", apierrors.NewInternalError(errors.New("etcd timeout"))))
	if _, err := e.reconcile(t); err == nil {
		t.Fatal("Reconcile swallowed a transient create error; want it returned for the workqueue's backoff")
	}
	_, c := e.state(t)
	wantCond(t, c, metav1.ConditionUnknown, execv1.ReasonPending, "retrying")
	e.failWith(func(string, client.Object) error { return nil })
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if n := len(e.jobs(t)); n != 1 {
		t.Fatalf("%d Jobs after the retry, want 1", n)
	}
}

func TestReconcileRefusedCreateEndsAfterBoundedRetries(t *testing.T) {
	e := newEnv(t)
	e.failWith(onKind[*corev1.ConfigMap]("create", apierrors.NewForbidden(corev1.Resource("configmaps"), "cx-task", errors.New("exceeded quota: q"))))
	for i := 1; i < minRefusedAttempts; i++ {
		res, err := e.reconcile(t)
		if err != nil || res.RequeueAfter <= 0 {
			t.Fatalf("attempt %d: %+v %v, want a RequeueAfter and no error", i, res, err)
		}
		_, c := e.state(t)
		wantCond(t, c, metav1.ConditionUnknown, execv1.ReasonPending, "retrying: the API server refused to create ConfigMap")
	}
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	_, c := e.state(t)
	wantCond(t, c, metav1.ConditionFalse, execv1.ReasonPolicyViolation, "exceeded quota: q (refused 3 times")
	if n := len(e.jobs(t)); n != 0 {
		t.Fatalf("%d Jobs, want none", n)
	}
}

func TestReconcileAlreadyExistsImpostorJobIsRefusedAndKept(t *testing.T) {
	ce := wrappers.MakeCodeExecution("cx", "team").UID("ce-uid").Obj()
	impostor := wrappers.MakeJob(JobName(ce.Name, ce.UID), "team").UID("impostor").Obj()
	e := newEnv(t, impostor)
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	_, c := e.state(t)
	wantCond(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "already exists and is not controlled by this CodeExecution")
	jobs := e.jobs(t)
	if len(jobs) != 1 || jobs[0].UID != "impostor" {
		t.Fatalf("Jobs = %v, want the impostor alone, untouched", jobs)
	}
}

func TestReconcileStatusConflictNeverStartsTwice(t *testing.T) {
	e := newEnv(t)
	var conflicts atomic.Int32
	e.failWith(func(op string, obj client.Object) error {
		if _, ok := obj.(*execv1.CodeExecution); ok && op == "status" && conflicts.Add(1) == 1 {
			return apierrors.NewConflict(execv1.GroupVersion.WithResource("codeexecutions").GroupResource(), "cx", errors.New("modified"))
		}
		return nil
	})
	if _, err := e.reconcile(t); !apierrors.IsConflict(err) {
		t.Fatalf("Reconcile = %v, want the conflict returned", err)
	}
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if n := e.creates.Load(); n != 1 {
		t.Fatalf("%d Job creates, want 1: a lost status write must not start the execution again", n)
	}
	ce, _ := e.state(t)
	if jobs := e.jobs(t); len(jobs) != 1 || ce.Status.JobUID != string(jobs[0].UID) {
		t.Fatalf("status.jobUID %q, Jobs %v", ce.Status.JobUID, jobs)
	}
}

// started runs the execution until it has its Job, then plays the Job
// controller and the runner: a Pod the Job controls, ended with a summary.
func (e *env) started(t *testing.T, r result.ExecutionResult) (*batchv1.Job, *corev1.Pod) {
	t.Helper()
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	ce, _ := e.state(t)
	job := &batchv1.Job{}
	if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: ce.Status.JobName}, job); err != nil {
		t.Fatal(err)
	}
	line := result.Encode(r)
	pod := wrappers.MakePod(job.Name+"-p", "team").FromJob(job).
		Terminated(int32(r.ExitCode()), string(result.Summarize(r, line).Encode()), metav1.NewTime(e.clock.Now())).Obj()
	if err := e.c.Create(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	job.Status.StartTime = &metav1.Time{Time: e.clock.Now()}
	if err := e.c.Status().Update(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	e.logs.log = append(line, '\n')
	return job, pod
}

func TestReconcileTransientGetErrorChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.started(t, result.Success([]byte(`1`)))
	e.failWith(onKind[*batchv1.Job]("get", apierrors.NewServiceUnavailable("apiserver restarting")))
	if _, err := e.reconcile(t); err == nil {
		t.Fatal("Reconcile swallowed a transient Get error")
	}
	if _, c := e.state(t); c.Status != metav1.ConditionUnknown {
		t.Fatalf("a transient Get error ended the execution: %+v", c)
	}
	e.failWith(func(string, client.Object) error { return nil })
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	_, c := e.state(t)
	wantCond(t, c, metav1.ConditionTrue, execv1.ReasonCompleted, "")
}

func TestReconcileTransientLogErrorIsRetriedThenEndsFromTheSummary(t *testing.T) {
	e := newEnv(t)
	e.started(t, result.Failure(result.RuntimeError, "ValueError: boom"))
	e.logs.err = apierrors.NewInternalError(errors.New("kubelet unreachable"))
	res, err := e.reconcile(t)
	if err != nil || res.RequeueAfter <= 0 {
		t.Fatalf("%+v %v, want a RequeueAfter while within the bound", res, err)
	}
	_, c := e.state(t)
	wantCond(t, c, metav1.ConditionUnknown, execv1.ReasonRunning, "its log is unavailable")
	e.clock.Step(e.r.Bounds.LogUnavailable)
	// The Job cannot be deleted at first: the terminal status is stored
	// anyway, and the delete is retried.
	e.failWith(onKind[*batchv1.Job]("delete", apierrors.NewInternalError(errors.New("etcd leader lost"))))
	if _, err := e.reconcile(t); err == nil {
		t.Fatal("Reconcile swallowed a failed Job delete")
	}
	_, c = e.state(t)
	wantCond(t, c, metav1.ConditionFalse, execv1.ReasonRuntimeError, "ValueError: boom")
	if !strings.Contains(c.Message, "result line was unavailable") {
		t.Errorf("message %q does not say the result line was unavailable", c.Message)
	}
	if n := len(e.jobs(t)); n != 1 {
		t.Fatalf("%d Jobs, want the one the failed delete left", n)
	}
	e.failWith(func(string, client.Object) error { return nil })
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if n := len(e.jobs(t)); n != 0 {
		t.Fatalf("%d Jobs after the retried delete, want 0", n)
	}
}

// A Job that codeexec-sandbox-policy refuses because an ExecutionPolicy
// changed after the execution's were recorded ends PolicyViolation with
// the admission message (the policy and the field) and says so
// (docs/policy.md, the known conflict).
func TestReconcileJobRefusedByChangedPolicyEndsWithThePolicyNamed(t *testing.T) {
	e := newEnv(t)
	refusal := "ValidatingAdmissionPolicy 'codeexec-sandbox-policy' with binding 'codeexec-sandbox-policy' denied request: " +
		"spec.template.spec.containers[sandbox].resources.limits: over the Python maximum of ExecutionPolicy lowered"
	e.failWith(onKind[*batchv1.Job]("create", apierrors.NewForbidden(batchv1.Resource("jobs"), "cx", errors.New(refusal))))
	for range minRefusedAttempts {
		if _, err := e.reconcile(t); err != nil {
			t.Fatal(err)
		}
	}
	_, c := e.state(t)
	wantCond(t, c, metav1.ConditionFalse, execv1.ReasonPolicyViolation, "over the Python maximum of ExecutionPolicy lowered")
	wantCond(t, c, metav1.ConditionFalse, execv1.ReasonPolicyViolation, "an ExecutionPolicy added or changed since then refuses it")
}
