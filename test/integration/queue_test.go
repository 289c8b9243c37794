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
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// setCap changes the policy's maxConcurrentExecutions, as an admin does.
func setCap(t *testing.T, pol *execv1.ExecutionPolicy, c int32) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pol), pol); err != nil {
			return err
		}
		pol.Spec.MaxConcurrentExecutions = ptr.To(c)
		return k8s.Update(context.Background(), pol)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startedOf returns the names of ces that have had a Job, in ces' order.
func startedOf(t *testing.T, ces []*execv1.CodeExecution) string {
	t.Helper()
	var s []string
	for _, ce := range ces {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err == nil && ce.Status.JobUID != "" {
			s = append(s, ce.Name)
		}
	}
	return strings.Join(s, ",")
}

func wantStartedOf(t *testing.T, ces []*execv1.CodeExecution, want string) {
	t.Helper()
	eventually(t, waitFor, "started = "+want, func() error {
		if got := startedOf(t, ces); got != want {
			return fmt.Errorf("started %q", got)
		}
		return nil
	})
}

// stillStarted checks for a while that exactly want have started: the
// controller had every chance to start another.
func stillStarted(t *testing.T, ces []*execv1.CodeExecution, want string) {
	t.Helper()
	for range 20 {
		if got := startedOf(t, ces); got != want {
			t.Fatalf("started %q, want %q", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// An admin raising the cap while executions wait does not let them jump:
// each waits under the cap recorded when it was created, and a younger
// execution with a larger cap does not overtake an older one.
func TestRaisedCapKeepsRecordedCapAndFIFO(t *testing.T) {
	ns, pol := newPolicy(t, "it-cap-raised", execv1.ExecutionPolicySpec{MaxConcurrentExecutions: ptr.To(int32(1))})
	a0 := wrappers.MakeCodeExecution("a-0", ns).Obj()
	create(t, a0)
	a1 := wrappers.MakeCodeExecution("a-1", ns).Obj()
	create(t, a1)
	ces := []*execv1.CodeExecution{a0, a1}
	wantStartedOf(t, ces, "a-0")
	eventually(t, waitFor, "a-1 Queued with its cap recorded", func() error {
		if reason, _ := phase(t, a1); reason != execv1.ReasonQueued {
			return fmt.Errorf("a-1 is %s", reason)
		}
		if a1.Status.Sandbox == nil || a1.Status.Sandbox.MaxConcurrentExecutions == nil || *a1.Status.Sandbox.MaxConcurrentExecutions != 1 {
			return fmt.Errorf("status.sandbox = %+v, want maxConcurrentExecutions 1", a1.Status.Sandbox)
		}
		return nil
	})
	setCap(t, pol, 3)
	a2 := wrappers.MakeCodeExecution("a-2", ns).Obj()
	create(t, a2)
	ces = append(ces, a2)
	eventually(t, waitFor, "a-2 resolved under the raised cap", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(a2), a2); err != nil {
			return err
		}
		if a2.Status.Sandbox == nil || a2.Status.Sandbox.MaxConcurrentExecutions == nil || *a2.Status.Sandbox.MaxConcurrentExecutions != 3 {
			return fmt.Errorf("status.sandbox = %+v, want maxConcurrentExecutions 3", a2.Status.Sandbox)
		}
		return nil
	})
	// a-1 still waits under its cap of 1; a-2 would fit under its cap of
	// 3 but must not pass a-1.
	stillStarted(t, ces, "a-0")
	if reason, _ := phase(t, a2); reason != execv1.ReasonQueued {
		t.Errorf("a-2 is %s, want Queued", reason)
	}
	finishRun(t, a0)
	wantStartedOf(t, ces, "a-0,a-1,a-2")
}

// An admin lowering the cap does not hold back an execution created
// under the higher one: it is admitted under the cap it recorded.
func TestLoweredCapAdmitsUnderTheRecordedCap(t *testing.T) {
	ns, pol := newPolicy(t, "it-cap-lowered", execv1.ExecutionPolicySpec{MaxConcurrentExecutions: ptr.To(int32(2))})
	var ces []*execv1.CodeExecution
	for i := range 3 {
		ce := wrappers.MakeCodeExecution(fmt.Sprintf("b-%d", i), ns).Obj()
		create(t, ce)
		ces = append(ces, ce)
	}
	wantStartedOf(t, ces, "b-0,b-1")
	eventually(t, waitFor, "b-2 Queued", func() error {
		if reason, _ := phase(t, ces[2]); reason != execv1.ReasonQueued {
			return fmt.Errorf("b-2 is %s", reason)
		}
		return nil
	})
	setCap(t, pol, 1)
	time.Sleep(time.Second) // let the controller see the change
	finishRun(t, ces[0])
	// One runs (b-1), and b-2 was created under a cap of 2.
	wantStartedOf(t, ces, "b-0,b-1,b-2")
}

// quotaNamespace creates a namespace with a ResourceQuota whose status the
// test plays (no quota controller runs here).
func quotaNamespace(t *testing.T, spec corev1.ResourceQuotaSpec, used corev1.ResourceList) (string, *corev1.ResourceQuota) {
	t.Helper()
	ns := newNamespace(t, nil)
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "team-quota", Namespace: ns}, Spec: spec}
	create(t, q)
	setQuotaUsed(t, q, used)
	return ns, q
}

func setQuotaUsed(t *testing.T, q *corev1.ResourceQuota, used corev1.ResourceList) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(q), q); err != nil {
			return err
		}
		q.Status = corev1.ResourceQuotaStatus{Hard: q.Spec.Hard, Used: used}
		return k8s.Status().Update(context.Background(), q)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A quota scoped to BestEffort Pods does not apply to the sandbox Pod,
// which has requests and limits: it neither holds the execution back nor
// makes it "never fit".
func TestQuotaScopeThatMissesTheSandboxPodDoesNotApply(t *testing.T) {
	zero := resource.MustParse("0")
	ns, _ := quotaNamespace(t, corev1.ResourceQuotaSpec{
		Hard:   corev1.ResourceList{corev1.ResourcePods: zero},
		Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort},
	}, corev1.ResourceList{corev1.ResourcePods: zero})
	ce := wrappers.MakeCodeExecution("not-best-effort", ns).Obj()
	create(t, ce)
	waitJob(t, ce)
}

// A LimitRange's default (here ephemeral-storage, which the sandbox Pod
// does not set) is part of what the Pod counts against a quota: an
// execution whose Pod can never fit ends at once instead of blocking the
// queue behind it.
func TestLimitRangeDefaultCountsAgainstTheQuota(t *testing.T) {
	// The LimitRange first, as in a namespace set up before any
	// execution: the manager's cache sees it before the quota.
	ns := newNamespace(t, nil)
	create(t, &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: ns},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			DefaultRequest: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("2Gi")},
			Default:        corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("2Gi")},
		}}},
	})
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "team-quota", Namespace: ns},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsEphemeralStorage: resource.MustParse("1Gi")}}}
	create(t, q)
	setQuotaUsed(t, q, corev1.ResourceList{corev1.ResourceRequestsEphemeralStorage: resource.MustParse("0")})
	ce := wrappers.MakeCodeExecution("needs-storage", ns).Obj()
	create(t, ce)
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPolicyViolation, "requests.ephemeral-storage")
	if jobExists(ce) {
		t.Error("a Job was created for a Pod the quota can never admit")
	}
}

// A RuntimeClass's Pod overhead counts against a memory quota.
func TestRuntimeClassOverheadCountsAgainstTheQuota(t *testing.T) {
	rc := &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "it-overhead"},
		Handler:    "runsc",
		Overhead:   &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}},
	}
	create(t, rc)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), rc) })
	ns, _ := newPolicy(t, "it-overhead", execv1.ExecutionPolicySpec{RuntimeClassName: ptr.To("it-overhead")})
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "team-quota", Namespace: ns},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse("1Gi")}}}
	create(t, q)
	setQuotaUsed(t, q, corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse("0")})
	ce := wrappers.MakeCodeExecution("with-overhead", ns).Memory("256Mi").Obj()
	create(t, ce)
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPolicyViolation, "requests.memory")
}

// A reservation is kept until the sandbox Pod exists: a Job in the cache
// does not mean the quota counts its Pod yet, so a third execution does
// not squeeze in while the quota's status lags.
func TestQuotaReservationOutlivesTheJobUntilThePodExists(t *testing.T) {
	mem := func(s string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse(s)}
	}
	// Each Python Pod requests 400Mi for the code and 64Mi for the judge:
	// two fit in 1Gi, three do not.
	ns, q := quotaNamespace(t, corev1.ResourceQuotaSpec{Hard: mem("1Gi")}, mem("0"))
	var ces []*execv1.CodeExecution
	for i := range 3 {
		ce := wrappers.MakeCodeExecution(fmt.Sprintf("r-%d", i), ns).Memory("400Mi").Obj()
		create(t, ce)
		ces = append(ces, ce)
	}
	wantStartedOf(t, ces, "r-0,r-1")
	// The quota's status hardly moves (its controller has not seen the
	// Pods, which do not exist yet): the third must still wait.
	setQuotaUsed(t, q, mem("1Mi"))
	stillStarted(t, ces, "r-0,r-1")
	// The Pods exist, and the API server's quota admission counted them
	// as it admitted them.
	for _, ce := range ces[:2] {
		startPod(t, waitJob(t, ce))
	}
	stillStarted(t, ces, "r-0,r-1")
	// One finishes: room for the third.
	finishRunOfStarted(t, ces[0])
	setQuotaUsed(t, q, mem("464Mi"))
	wantStartedOf(t, ces, "r-0,r-1,r-2")
}

// finishRunOfStarted plays a successful run of ce's Job whose Pod exists.
func finishRunOfStarted(t *testing.T, ce *execv1.CodeExecution) {
	t.Helper()
	job := waitJob(t, ce)
	pod := &corev1.Pod{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: job.Namespace, Name: job.Name + "-pod"}, pod); err != nil {
		t.Fatal(err)
	}
	runnerReports(t, job, pod, successResult(), "")
	waitDone(t, ce)
}

// A Job deleted with --cascade=orphan leaves its Pod running: ending the
// execution deletes that Pod too, found by the execution's and the Job's
// labels now that no owner reference points at it.
func TestOrphanedPodIsDeleted(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("orphaned", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	eventually(t, waitFor, "status.jobUID", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err != nil {
			return err
		}
		if ce.Status.JobUID != string(job.UID) {
			return fmt.Errorf("status.jobUID %q", ce.Status.JobUID)
		}
		return nil
	})
	// What the garbage collector does for --cascade=orphan: the Pod loses
	// its owner reference, then the Job goes (no garbage collector runs
	// here to remove the orphan finalizer, so the Job is deleted without
	// one).
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		pod.OwnerReferences = nil
		return k8s.Update(context.Background(), pod)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(context.Background(), job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPodFailed, "never recreated")
	eventually(t, waitFor, "the orphaned Pod deleted", func() error {
		// No kubelet runs here to confirm a graceful deletion: a
		// deletionTimestamp is the deletion.
		p := &corev1.Pod{}
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pod), p)
		if apierrors.IsNotFound(err) || (err == nil && p.DeletionTimestamp != nil) {
			return nil
		}
		return fmt.Errorf("the Pod is still there (err %v)", err)
	})
}

// A tenant suspending the Job of a running execution (which deletes its
// Pod, and would start a new one, running the code again, when resumed)
// ends the execution and its Job.
func TestSuspendedJobEndsTheExecution(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("suspended", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(job), job); err != nil {
			return err
		}
		job.Spec.Suspend = ptr.To(true)
		return k8s.Update(context.Background(), job)
	})
	if err != nil {
		t.Fatal(err)
	}
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPodFailed, "suspended")
	wantStopped(t, job, pod)
}

// A suspend flip the controller did not see while it lasted (the Job
// controller's Suspended condition, now False, after the Pod started) ends
// the execution too: resuming would run the code a second time.
func TestResumedJobEndsTheExecution(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("resumed", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	eventually(t, waitFor, "status.startTime", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err != nil {
			return err
		}
		if ce.Status.StartTime == nil {
			return fmt.Errorf("no startTime yet")
		}
		return nil
	})
	time.Sleep(10 * time.Millisecond)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(job), job); err != nil {
			return err
		}
		now := metav1.Now()
		job.Status.Conditions = append(job.Status.Conditions, batchv1.JobCondition{
			Type: batchv1.JobSuspended, Status: corev1.ConditionFalse, Reason: "JobResumed", Message: "Job resumed",
			LastTransitionTime: now, LastProbeTime: now})
		return k8s.Status().Update(context.Background(), job)
	})
	if err != nil {
		t.Fatal(err)
	}
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPodFailed, "suspended")
}

func successResult() result.ExecutionResult { return result.Success(json.RawMessage(`1`)) }
