package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// A neighbour who may create Pods copies the Job's template exactly (the
// Job's labels, annotations and a controller ownerReference to its UID,
// all readable) and changes only the containers' resources: a memory
// limit of 16Mi instead of the execution's. Such a Pod runs the runner on
// the execution's task (the Job controller even counts it as its own), so
// the kernel OOM-kills it at the neighbour's limit. What the neighbour
// chose is not what status.limits says ran: the Pod is not what the Job
// controller creates from the template, and its verdict must not become
// the execution's.
func TestAttackReview4CopiedPodWithOtherResourcesIsNotTheExecutions(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("copy-resources", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	time.Sleep(1100 * time.Millisecond) // the copy is the newest Pod
	small := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi"), corev1.ResourceCPU: resource.MustParse("10m")}
	copied := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-copy", Namespace: ns,
			Labels: job.Spec.Template.Labels, Annotations: job.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	copied.Spec.NodeName = nodeName
	for i := range copied.Spec.Containers {
		copied.Spec.Containers[i].Resources = corev1.ResourceRequirements{Limits: small, Requests: small}
	}
	create(t, copied)
	// The kubelet enforces the neighbour's limit.
	setRunnerState(t, copied, corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 137, Reason: "OOMKilled", StartedAt: metav1.Now(), FinishedAt: metav1.Now()}})
	time.Sleep(3 * time.Second)
	reason, msg := phase(t, ce)
	if reason == execv1.ReasonMemoryLimitExceeded || strings.Contains(msg, "16Mi") {
		t.Fatalf("a neighbour's copy of the Pod with a 16Mi memory limit decided the execution: %s %q (status.limits.memory %v)",
			reason, msg, ce.Status.Limits.Memory)
	}
}

// An execution is resolved (status.policies, status.limits recorded) and
// waits in its namespace's queue behind a cap. Meanwhile an admin changes
// the policies: (a) lowers the memory maximum of the policy that governs
// it, or (b) adds a second policy selecting the namespace that only sets a
// cap. Issue 13, property 2: the recorded policies and limits describe
// what runs, and a change affects only executions created afterwards. But
// the manager's identity creates the Job later, when the queue admits it,
// and codeexec-sandbox-policy judges that Job against the policies of that
// moment: the Job built from the recorded status is refused, so the
// queued execution ends (PolicyViolation, once Bounds.CreateRefused is
// spent) instead of running under what it was resolved with.
//
// What is asserted (changed; not redesigned, a known conflict written in
// docs/policy.md): the refusal is honest. The manager's create of the Job
// built from the recorded status is refused by codeexec-sandbox-policy
// with a message naming the ExecutionPolicy and the field; the controller
// ends the execution as PolicyViolation with that message (start, through
// createRefused; the in-process manager of these tests is not the
// manager's identity, so that step is not exercised here).
func TestAttackReview4QueuedExecutionIsJudgedByPoliciesChangedAfterResolve(t *testing.T) {
	mc := asManager(t)
	wantField := map[string]string{
		"maximum lowered": "resources.limits: over the Python maximum of ExecutionPolicy a4-own-maximum-lowered",
		"policy added":    "ExecutionPolicy a4-added-policy-added selects namespace",
	}
	for name, change := range map[string]func(t *testing.T, own *execv1.ExecutionPolicy, label string){
		"maximum lowered": func(t *testing.T, own *execv1.ExecutionPolicy, _ string) {
			// The policy controller writes its status: retry on conflict.
			if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(own), own); err != nil {
					return err
				}
				own.Spec.Limits[0].Max.Memory = ptr.To(resource.MustParse("128Mi"))
				return k8s.Update(context.Background(), own)
			}); err != nil {
				t.Fatal(err)
			}
		},
		"policy added": func(t *testing.T, _ *execv1.ExecutionPolicy, label string) {
			added := &execv1.ExecutionPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: "a4-added-" + label},
				Spec: execv1.ExecutionPolicySpec{
					NamespaceSelector:       execv1.NamespaceSelector{MatchLabels: map[string]execv1.LabelValue{"a4-queue": execv1.LabelValue(label)}},
					MaxConcurrentExecutions: ptr.To(int32(5)),
				},
			}
			create(t, added)
			t.Cleanup(func() { _ = k8s.Delete(context.Background(), added) })
		},
	} {
		t.Run(name, func(t *testing.T) {
			label := strings.ReplaceAll(name, " ", "-")
			ns := newUnselectedNamespace(t, map[string]string{"a4-queue": label})
			own := &execv1.ExecutionPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: "a4-own-" + label},
				Spec: execv1.ExecutionPolicySpec{
					NamespaceSelector: execv1.NamespaceSelector{MatchLabels: map[string]execv1.LabelValue{"a4-queue": execv1.LabelValue(label)}},
					Limits: []execv1.LanguageLimits{{Language: execv1.LanguagePython,
						Max: execv1.ExecutionLimits{Memory: ptr.To(resource.MustParse("1Gi"))}}},
					MaxConcurrentExecutions: ptr.To(int32(1)),
				},
			}
			create(t, own)
			t.Cleanup(func() { _ = k8s.Delete(context.Background(), own) })
			waitForShapePolicy(t, mc, ns)
			ce := shapeExecution(ns, execv1.LanguagePython, 700)
			ce.Spec.Limits = execv1.ExecutionLimits{Memory: ptr.To(resource.MustParse("512Mi"))}
			job := managerJob(t, ce, controllers.DefaultJobOptions()) // resolved and recorded now
			if err := mc.Create(context.Background(), job.DeepCopy(), client.DryRunAll); err != nil {
				t.Fatalf("before the change, the Job of the recorded status is refused: %v", err)
			}
			recorded := ce.Status.DeepCopy()
			change(t, own, label)
			// The execution waited in the queue; the admission policy sees
			// the change at once (it reads its parameters from an informer).
			var err error
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				if err = mc.Create(context.Background(), job.DeepCopy(), client.DryRunAll); err != nil {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err == nil {
				t.Fatalf("the Job built from the status recorded before the change (policies %v, memory %v) is still admitted",
					recorded.Policies, recorded.Limits.Memory)
			}
			if msg := err.Error(); !strings.Contains(msg, "codeexec-sandbox-policy") || !strings.Contains(msg, wantField[name]) {
				t.Fatalf("the refusal does not name the policy and the field (want %q): %v", wantField[name], err)
			}
		})
	}
}

// The queue drops an admitted execution's quota reservation as soon as a
// Pod event names it (podHandler -> queue.podExists): any Pod with the
// managed-by label, the execution-uid label, the execution-name
// annotation and a controller reference of kind Job, whatever the Job's
// UID. A neighbour who may create Pods writes one naming r-0, whose Job
// exists but whose Pod the quota has not counted yet. r-0's reservation
// goes, so a third execution is admitted on top of a quota that cannot
// hold it: its Pod (or r-0's) is then refused by the quota and the
// execution ends as PodFailed, and FIFO under the quota is broken.
func TestAttackReview4DecoyPodDropsAnotherExecutionsQuotaReservation(t *testing.T) {
	mem := func(s string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse(s)}
	}
	// As TestQuotaReservationOutlivesTheJobUntilThePodExists: two Python
	// Pods of 400Mi (+64Mi for the judge) fit in 1Gi, three do not.
	ns, q := quotaNamespace(t, corev1.ResourceQuotaSpec{Hard: mem("1Gi")}, mem("0"))
	var ces []*execv1.CodeExecution
	for i := range 3 {
		ce := wrappers.MakeCodeExecution(fmt.Sprintf("r-%d", i), ns).Memory("400Mi").Obj()
		create(t, ce)
		ces = append(ces, ce)
	}
	wantStartedOf(t, ces, "r-0,r-1")
	setQuotaUsed(t, q, mem("1Mi"))
	stillStarted(t, ces, "r-0,r-1")
	decoy := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "decoy", Namespace: ns,
			Labels:      map[string]string{execv1.LabelManagedBy: execv1.ManagedByValue, execv1.LabelExecutionUID: string(ces[0].UID)},
			Annotations: map[string]string{execv1.AnnotationExecutionName: ces[0].Name},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "anything",
				UID: types.UID("00000000-0000-0000-0000-00000000d3c0"), Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")}}}}},
	}
	create(t, decoy)
	setQuotaUsed(t, q, mem("2Mi"))
	for range 30 {
		if got := startedOf(t, ces); got != "r-0,r-1" {
			t.Fatalf("a neighbour's decoy Pod naming r-0 dropped r-0's quota reservation: started %q, want r-0,r-1 "+
				"(neither r-0's nor r-1's Pod exists, and the quota cannot hold three)", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// codeexec-manager-status freezes a terminal execution's condition,
// result and times against the manager's identity, but not the output
// tails the user reads next to them: status.stdout and status.stderr of a
// finished execution can still be rewritten by a stolen manager token.
func TestAttackReview4ManagerIdentityCannotRewriteATerminalExecutionsOutput(t *testing.T) {
	mc := asManager(t)
	ctx := context.Background()
	finished := wrappers.MakeCodeExecution("finished-output", newUnselectedNamespace(t, nil)).Language(execv1.LanguageJSX).Code("x").Obj()
	create(t, finished)
	eventually(t, waitFor, "a terminal PolicyViolation", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(finished), finished); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(finished.Status.Conditions, execv1.ConditionSucceeded); c == nil || c.Status != metav1.ConditionFalse {
			return fmt.Errorf("conditions %+v", finished.Status.Conditions)
		}
		return nil
	})
	// The admission policy loads asynchronously: wait until it refuses a
	// change it does cover.
	eventually(t, waitFor, "codeexec-manager-status to take effect", func() error {
		ce := finished.DeepCopy()
		ce.Status.CompletionTime = &metav1.Time{Time: time.Now().Add(time.Hour)}
		if err := mc.Status().Update(ctx, ce, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "codeexec-manager-status") {
			return fmt.Errorf("completionTime rewrite: %v", err)
		}
		return nil
	})
	for name, mut := range map[string]func(*execv1.CodeExecutionStatus){
		"stdout": func(s *execv1.CodeExecutionStatus) { s.Stdout = "all tests passed\n" },
		"stderr": func(s *execv1.CodeExecutionStatus) { s.Stderr = "forged\n" },
	} {
		t.Run(name, func(t *testing.T) {
			ce := finished.DeepCopy()
			mut(&ce.Status)
			if err := mc.Status().Update(ctx, ce, client.DryRunAll); err == nil {
				t.Fatalf("the manager's identity rewrote status.%s of a terminal execution", name)
			}
		})
	}
}

// A neighbour who may update Jobs raises the execution's Job's
// spec.backoffLimit (mutable; BuildJob sets 0) and deletes the running
// Pod. The Job controller, obeying the Job as it now is, creates a
// replacement Pod after its 10 s backoff, well within Bounds.PodVanished
// (30 s) during which the controller waits for "the Job's verdict" on the
// deleted Pod. The replacement is a faithful Pod of the Job, so it counts:
// the code runs a second time and its result is taken as the execution's.
// "One Job per execution, ever" (issue 13, property 3) does not hold for
// Pods: the Job that runs is no longer the Job the controller created.
func TestAttackReview4RaisedBackoffLimitRunsTheCodeTwice(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("backoff-raised", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	first := startPod(t, job)
	setRunnerState(t, first, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	// The neighbour.
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
		t.Fatal(err)
	}
	job.Spec.BackoffLimit = ptr.To(int32(6))
	if err := k8s.Update(ctx, job); err != nil {
		t.Fatalf("raising the Job's backoffLimit: %v", err)
	}
	if err := k8s.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the replacement is the newest Pod
	// The Job controller: the deleted Pod failed, one retry of six. (The
	// controller, fixed, has already ended the execution and deleted the
	// Job: the replacement below is then an orphan that must not count.)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(job), job); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	second := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-retry", Namespace: ns,
			Labels: job.Spec.Template.Labels, Annotations: job.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	second.Spec.NodeName = nodeName
	create(t, second)
	job.Status.Active, job.Status.Failed = 1, 1
	if err := k8s.Status().Update(ctx, job); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	setRunnerState(t, second, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	time.Sleep(time.Second)
	if reason, msg := phase(t, ce); reason != execv1.ReasonRunning || strings.Contains(msg, second.Name) {
		t.Logf("while the second Pod runs: %s %q", reason, msg)
	}
	runnerReports(t, job, second, successResult(), "")
	c := waitDone(t, ce)
	if c.Reason == execv1.ReasonCompleted {
		t.Fatalf("the execution took the result of a second run of its code, in Pod %s created after its first Pod was deleted "+
			"(the Job's backoffLimit raised to 6 by a neighbour): %s %q", second.Name, c.Reason, c.Message)
	}
	// The honest verdict: the Job is not the one the controller created.
	if c.Reason != execv1.ReasonInternalError || !strings.Contains(c.Message, "spec.backoffLimit 6, built 0") {
		t.Fatalf("want InternalError naming spec.backoffLimit 6, built 0; got %s %q", c.Reason, c.Message)
	}
	eventually(t, waitFor, "the changed Job deleted", func() error {
		if jobExists(ce) {
			return fmt.Errorf("Job %s still exists", job.Name)
		}
		return nil
	})
}

// The same trust in a Job that a neighbour changed, for the verdict: the
// neighbour lowers the running Job's spec.activeDeadlineSeconds (mutable)
// to 1, the Job controller fails the Job with DeadlineExceeded, and the
// execution reports that its code timed out (Timeout, "the Job's
// activeDeadlineSeconds (1s) ended the execution") although it ran well
// within status.limits.timeoutSeconds. The verdict must not blame the
// code for a deadline it was not given.
func TestAttackReview4LoweredJobDeadlineIsReportedAsTheCodesTimeout(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("deadline-lowered", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
		t.Fatal(err)
	}
	built := ptr.Deref(job.Spec.ActiveDeadlineSeconds, 0)
	job.Spec.ActiveDeadlineSeconds = ptr.To(int64(1))
	if err := k8s.Update(ctx, job); err != nil {
		t.Fatalf("lowering the Job's activeDeadlineSeconds: %v", err)
	}
	finishJob(t, job, true, batchv1.JobReasonDeadlineExceeded) // a no-op once the controller deleted the Job
	c := waitDone(t, ce)
	if c.Reason == execv1.ReasonTimeout {
		t.Fatalf("a deadline a neighbour set on the Job (1s; status.limits.timeoutSeconds %d) is reported as the code's timeout: %s %q",
			ptr.Deref(ce.Status.Limits.TimeoutSeconds, 0), c.Reason, c.Message)
	}
	// The honest verdict names the Job and the field that was changed.
	if want := fmt.Sprintf("Job %s was changed by someone else: spec.activeDeadlineSeconds 1, built %d", job.Name, built); c.Reason != execv1.ReasonInternalError || !strings.Contains(c.Message, want) {
		t.Fatalf("want InternalError with %q; got %s %q", want, c.Reason, c.Message)
	}
}

// codeexec-manager-children keeps the manager's ConfigMaps out of
// codeexec-system only. A stolen manager token may still create, in any
// other namespace, a ConfigMap of any name and any data, as long as it
// carries the child labels and a controller reference to some
// CodeExecution UID (never checked to exist). In kube-system that is
// configuration other components load by name when it appears, e.g.
// coredns-custom (the optional override CoreDNS imports on k3s and AKS):
// the cluster's DNS. What the manager creates has the name its builder
// gives a child (<name>-<8 hex>-task or -result) in a namespace it runs
// executions in; this is neither.
func TestAttackReview4ManagerIdentityCannotCreateSystemConfigMaps(t *testing.T) {
	mc := asManager(t)
	ns := newNamespace(t, nil)
	waitForShapePolicy(t, mc, ns)
	ce := shapeExecution("kube-system", execv1.LanguagePython, 710)
	limits := controllers.ResolveLimits(execv1.ExecutionLimits{}, controllers.BuiltinDefaults())
	task, err := controllers.BuildTaskConfigMap(ce, limits, controllers.SQLPermissions{})
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns-custom", Namespace: "kube-system", Labels: task.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ce, execv1.GroupVersion.WithKind("CodeExecution"))}},
		Data: map[string]string{"hijack.override": "rewrite name exact db.example.internal attacker.example.com\n"},
	}
	// The policy is loaded: the same ConfigMap in codeexec-system is refused.
	eventually(t, waitFor, "codeexec-manager-children to take effect", func() error {
		in := cm.DeepCopy()
		in.Namespace = "codeexec-system"
		if err := mc.Create(context.Background(), in, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "codeexec-manager-children") {
			return fmt.Errorf("in codeexec-system: %v", err)
		}
		return nil
	})
	if err := mc.Create(context.Background(), cm, client.DryRunAll); err == nil {
		t.Fatal("the manager's identity may create ConfigMap kube-system/coredns-custom with arbitrary data")
	}
	// Outside the system namespaces, only a child's name: the builder's
	// task ConfigMap passes, any other name is refused.
	inNs := shapeExecution(ns, execv1.LanguagePython, 711)
	task, err = controllers.BuildTaskConfigMap(inNs, limits, controllers.SQLPermissions{})
	if err != nil {
		t.Fatal(err)
	}
	task.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(inNs, execv1.GroupVersion.WithKind("CodeExecution"))}
	if err := mc.Create(context.Background(), task.DeepCopy(), client.DryRunAll); err != nil {
		t.Fatalf("the manager's identity may not create the task ConfigMap its builder makes: %v", err)
	}
	for name, mut := range map[string]func(*corev1.ConfigMap){
		"a well-known name":          func(c *corev1.ConfigMap) { c.Name = "coredns-custom" },
		"another execution's name":   func(c *corev1.ConfigMap) { c.Name = "someone-else-" + c.Name[len(c.Name)-13:] },
		"a suffix not its component": func(c *corev1.ConfigMap) { c.Name = strings.TrimSuffix(c.Name, "-task") + "-result" },
		"kube-public":                func(c *corev1.ConfigMap) { c.Namespace = "kube-public" },
		"kube-node-lease":            func(c *corev1.ConfigMap) { c.Namespace = "kube-node-lease" },
	} {
		c := task.DeepCopy()
		mut(c)
		if err := mc.Create(context.Background(), c, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "codeexec-manager-children") {
			t.Errorf("%s: the manager's identity may create ConfigMap %s/%s: %v", name, c.Namespace, c.Name, err)
		}
	}
}

// A neighbour's exact copy of the Job's Pod (template, labels, controller
// reference to the Job), differing only in spec.nodeName, which
// PodDiffersFromTemplate ignores because the scheduler sets it: bound to
// a node that does not exist, it never runs. Being the newest Pod, it is
// the one Classify judges. The genuine Pod's runner reports success and
// the Job completes; the Job controller then deletes the Job's remaining
// active Pod, the copy. The execution ends as PodFailed ("the Pod was
// deleted before the runner reported") and the genuine result is lost.
//
// What is asserted (changed from "the genuine result is taken"): two Pods
// that both pass as the Job's cannot be told apart, so the controller
// takes no verdict from either. A neighbour who may create Pods can
// always deny an execution in its namespace; what it must never do is
// make the controller report a verdict the real run did not produce. So
// the execution ends, promptly (never Running forever), as an honest
// InternalError naming both Pods, and its Job is deleted; the genuine
// result is lost, as with any other denial.
func TestAttackReview4NeverRunningCopyPodHidesTheGenuineResult(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("copy-elsewhere", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	pod := startPod(t, job)
	setRunnerState(t, pod, corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	time.Sleep(1100 * time.Millisecond) // the copy is the newest Pod
	copied := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-elsewhere", Namespace: ns,
			Labels: job.Spec.Template.Labels, Annotations: job.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	copied.Spec.NodeName = "no-such-node"
	create(t, copied)
	c := waitDone(t, ce)
	want := fmt.Sprintf("2 Pods claim to be Job %s's Pod: ", job.Name)
	if c.Reason != execv1.ReasonInternalError || !strings.Contains(c.Message, want) ||
		!strings.Contains(c.Message, pod.Name) || !strings.Contains(c.Message, copied.Name) {
		t.Fatalf("a neighbour's never-running copy of Pod %s: got %s %q, want InternalError with %q naming both Pods",
			pod.Name, c.Reason, c.Message, want)
	}
	if ce.Status.Result != nil || ce.Status.Stdout != "" {
		t.Fatalf("a verdict was taken from one of two Pods: result %v, stdout %q", ce.Status.Result, ce.Status.Stdout)
	}
	eventually(t, waitFor, "the Job deleted", func() error {
		if jobExists(ce) {
			return fmt.Errorf("Job %s still exists", job.Name)
		}
		return nil
	})
}
