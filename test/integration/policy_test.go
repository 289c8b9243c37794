package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// newPolicy creates an ExecutionPolicy selecting namespaces labelled
// policy-test=<name> and a namespace with that label.
func newPolicy(t *testing.T, name string, spec execv1.ExecutionPolicySpec) (string, *execv1.ExecutionPolicy) {
	t.Helper()
	spec.NamespaceSelector = execv1.NamespaceSelector{MatchLabels: map[string]execv1.LabelValue{"policy-test": execv1.LabelValue(name)}}
	p := &execv1.ExecutionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	create(t, p)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), p) })
	return newUnselectedNamespace(t, map[string]string{"policy-test": name}), p
}

func quantity(s string) *resource.Quantity { return ptr.To(resource.MustParse(s)) }

func phase(t *testing.T, ce *execv1.CodeExecution) (string, string) {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err != nil {
		t.Fatal(err)
	}
	c := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
	if c == nil {
		return "", ""
	}
	return c.Reason, c.Message
}

func jobExists(ce *execv1.CodeExecution) bool {
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ce.Namespace, Name: controllers.JobName(ce.Name, ce.UID)}, &batchv1.Job{})
	return err == nil
}

func TestAdmissionRefusesWhatThePolicyForbids(t *testing.T) {
	ns, _ := newPolicy(t, "it-admission", execv1.ExecutionPolicySpec{
		AllowedLanguages: []execv1.Language{execv1.LanguagePython, execv1.LanguageSQL},
		Datasources:      []execv1.DatasourcePolicy{{SecretName: "reports-db", Endpoints: []string{"db.reports.svc:3306"}}},
		Limits: []execv1.LanguageLimits{{Language: execv1.LanguagePython,
			Max: execv1.ExecutionLimits{Memory: quantity("1Gi"), CPU: quantity("1"), TimeoutSeconds: ptr.To(int32(60))}}},
	})
	cases := map[string]struct {
		ce   *execv1.CodeExecution
		want string
	}{
		"memory over the maximum": {
			ce:   wrappers.MakeCodeExecution("mem", ns).Memory("2Gi").Obj(),
			want: "spec.limits.memory: requested 2Gi is over the maximum 1Gi of ExecutionPolicy it-admission",
		},
		"cpu over the maximum": {
			ce:   wrappers.MakeCodeExecution("cpu", ns).CPU("1500m").Obj(),
			want: "spec.limits.cpu: requested 1500m is over the maximum 1 of ExecutionPolicy it-admission",
		},
		"timeout over the maximum": {
			ce:   wrappers.MakeCodeExecution("timeout", ns).Timeout(61).Obj(),
			want: "spec.limits.timeoutSeconds: requested 61 is over the maximum 60 of ExecutionPolicy it-admission",
		},
		"language not allowed": {
			ce:   wrappers.MakeCodeExecution("jsx", ns).Language(execv1.LanguageJSX).Code("<div/>").Obj(),
			want: "spec.language: JSX is not allowed by ExecutionPolicy it-admission (allowed: Python, SQL)",
		},
		"datasource secret not allowed": {
			ce:   wrappers.MakeCodeExecution("sql", ns).Language(execv1.LanguageSQL).Code("SELECT 1").Datasource("prod-db", "dsn").Obj(),
			want: `spec.datasource.secretRef.name: Secret "prod-db" is not declared in spec.datasources of ExecutionPolicy it-admission (declared: reports-db)`,
		},
	}
	// The API server loads admission policies and their parameters
	// asynchronously: wait until the policy refuses the first case.
	first := cases["memory over the maximum"]
	eventually(t, waitFor, "the admission policy to take effect", func() error {
		err := k8s.Create(context.Background(), first.ce.DeepCopy(), client.DryRunAll)
		if err == nil {
			return fmt.Errorf("an over-limit execution was admitted")
		}
		return nil
	})
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := k8s.Create(context.Background(), tc.ce)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("create error = %v, want one containing %q", err, tc.want)
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
				t.Errorf("error type %v, want Invalid or Forbidden", apierrors.ReasonForError(err))
			}
		})
	}
	t.Run("within the limits is admitted", func(t *testing.T) {
		create(t, wrappers.MakeCodeExecution("fine", ns).Memory("1Gi").Timeout(60).Obj())
	})
	t.Run("other namespaces are not governed", func(t *testing.T) {
		create(t, wrappers.MakeCodeExecution("elsewhere", newNamespace(t, nil)).Memory("2Gi").Obj())
	})
}

func TestControllerRefusesWhatAdmissionDidNotSee(t *testing.T) {
	// The policy arrives after the execution, with the manager stopped:
	// the controller must still never build a Job that breaks it.
	stopManager()
	ns := newUnselectedNamespace(t, map[string]string{"policy-test": "it-late"})
	ce := wrappers.MakeCodeExecution("late", ns).Memory("2Gi").Obj()
	create(t, ce)
	p := &execv1.ExecutionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "it-late"}, Spec: execv1.ExecutionPolicySpec{
		NamespaceSelector: execv1.NamespaceSelector{MatchLabels: map[string]execv1.LabelValue{"policy-test": "it-late"}},
		Limits:            []execv1.LanguageLimits{{Language: execv1.LanguagePython, Max: execv1.ExecutionLimits{Memory: quantity("1Gi")}}},
	}}
	create(t, p)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), p) })
	if err := startManager(); err != nil {
		t.Fatal(err)
	}
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPolicyViolation,
		"spec.limits.memory: requested 2Gi is over the maximum 1Gi of ExecutionPolicy it-late")
	if jobExists(ce) {
		t.Error("a Job was created for an execution that breaks the policy")
	}
}

func TestPolicyDefaultsLandInStatus(t *testing.T) {
	ns, _ := newPolicy(t, "it-defaults", execv1.ExecutionPolicySpec{
		Limits: []execv1.LanguageLimits{{Language: execv1.LanguagePython,
			Default: execv1.ExecutionLimits{Memory: quantity("256Mi"), TimeoutSeconds: ptr.To(int32(20))},
			Max:     execv1.ExecutionLimits{CPU: quantity("250m")}}},
		RuntimeClassName: ptr.To("gvisor"),
	})
	ce := wrappers.MakeCodeExecution("defaults", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	l := ce.Status.Limits
	if l == nil || l.Memory.String() != "256Mi" || *l.TimeoutSeconds != 20 || l.CPU.String() != "250m" || *l.MaxRows != execv1.DefaultMaxRows {
		t.Errorf("status.limits = %+v, want memory 256Mi, timeout 20, cpu 250m (built-in 500m lowered to the maximum)", l)
	}
	if strings.Join(ce.Status.Policies, ",") != "it-defaults" {
		t.Errorf("status.policies = %v", ce.Status.Policies)
	}
	// The execution's resources are the sandbox container's (Python runs
	// the code there; the judge has its own fixed, small resources).
	c := sandboxContainer(t, job)
	if c.Resources.Limits.Memory().String() != "256Mi" || c.Resources.Requests.Cpu().String() != "250m" ||
		ptr.Deref(job.Spec.ActiveDeadlineSeconds, 0) != 35 || ptr.Deref(job.Spec.Template.Spec.RuntimeClassName, "") != "gvisor" {
		t.Errorf("the Job does not run with the policy's limits: resources %v deadline %v runtimeClass %v",
			c.Resources, job.Spec.ActiveDeadlineSeconds, job.Spec.Template.Spec.RuntimeClassName)
	}
}

// finishRun plays a successful run of ce's Job.
func finishRun(t *testing.T, ce *execv1.CodeExecution) {
	t.Helper()
	job := waitJob(t, ce)
	pod := startPod(t, job)
	runnerReports(t, job, pod, result.Success(json.RawMessage(`1`)), "")
	waitDone(t, ce)
}

func TestConcurrencyCapQueuesAndReleasesInOrder(t *testing.T) {
	ns, _ := newPolicy(t, "it-cap", execv1.ExecutionPolicySpec{MaxConcurrentExecutions: ptr.To(int32(3))})
	var ces []*execv1.CodeExecution
	for i := range 5 {
		ce := wrappers.MakeCodeExecution(fmt.Sprintf("q-%d", i), ns).Obj()
		create(t, ce)
		ces = append(ces, ce)
	}
	started := func() string {
		var s []string
		for _, ce := range ces {
			// A finished execution's Job is deleted: status.jobUID
			// records that it had one.
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err == nil && ce.Status.JobUID != "" {
				s = append(s, ce.Name)
			}
		}
		return strings.Join(s, ",")
	}
	wantStarted := func(want string) {
		t.Helper()
		eventually(t, waitFor, "started = "+want, func() error {
			if got := started(); got != want {
				return fmt.Errorf("started %q", got)
			}
			return nil
		})
	}
	wantStarted("q-0,q-1,q-2")
	eventually(t, waitFor, "the fourth and fifth Queued", func() error {
		for _, ce := range ces[3:] {
			reason, msg := phase(t, ce)
			if reason != execv1.ReasonQueued || !strings.Contains(msg, "ExecutionPolicy it-cap allows 3 at once") {
				return fmt.Errorf("%s: %s %q", ce.Name, reason, msg)
			}
		}
		return nil
	})
	finishRun(t, ces[1])
	wantStarted("q-0,q-1,q-2,q-3")
	if reason, _ := phase(t, ces[4]); reason != execv1.ReasonQueued {
		t.Errorf("q-4 is %s, want still Queued", reason)
	}
	finishRun(t, ces[0])
	wantStarted("q-0,q-1,q-2,q-3,q-4")
}

func TestQuotaRefusalWaitsThenRuns(t *testing.T) {
	ns := newNamespace(t, nil)
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "team-quota", Namespace: ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse("1Gi")}},
	}
	create(t, quota)
	// No quota controller runs here: play it, with the namespace full.
	quota.Status = corev1.ResourceQuotaStatus{
		Hard: corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse("1Gi")},
		Used: corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse("768Mi")},
	}
	if err := k8s.Status().Update(context.Background(), quota); err != nil {
		t.Fatal(err)
	}
	ce := wrappers.MakeCodeExecution("needs-quota", ns).Memory("512Mi").Obj()
	create(t, ce)
	eventually(t, waitFor, "Queued for quota", func() error {
		reason, msg := phase(t, ce)
		want := "waiting for quota: ResourceQuota team-quota has requests.memory used 768Mi of 1Gi, and the execution needs 576Mi"
		if reason != execv1.ReasonQueued || msg != want {
			return fmt.Errorf("%s %q", reason, msg)
		}
		return nil
	})
	if jobExists(ce) {
		t.Fatal("a Job was created although the quota cannot fit its Pod")
	}
	quota.Status.Used = corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse("256Mi")}
	if err := k8s.Status().Update(context.Background(), quota); err != nil {
		t.Fatal(err)
	}
	waitJob(t, ce)
}

func TestKueueGetsASuspendedLabelledJob(t *testing.T) {
	ns, _ := newPolicy(t, "it-kueue", execv1.ExecutionPolicySpec{KueueQueueName: "team-queue"})
	ce := wrappers.MakeCodeExecution("kueued", ns).Obj()
	create(t, ce)
	job := waitJob(t, ce)
	if !ptr.Deref(job.Spec.Suspend, false) || job.Labels["kueue.x-k8s.io/queue-name"] != "team-queue" {
		t.Fatalf("Job suspend=%v labels=%v, want suspended with kueue.x-k8s.io/queue-name=team-queue", job.Spec.Suspend, job.Labels)
	}
	eventually(t, waitFor, "Queued for Kueue", func() error {
		if reason, msg := phase(t, ce); reason != execv1.ReasonQueued || !strings.Contains(msg, "Kueue") {
			return fmt.Errorf("%s %q", reason, msg)
		}
		return nil
	})
	// Play Kueue: admit the Job. The controller must not suspend it again.
	patch := client.MergeFrom(job.DeepCopy())
	job.Spec.Suspend = ptr.To(false)
	if err := k8s.Patch(context.Background(), job, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "Pending once admitted", func() error {
		if reason, _ := phase(t, ce); reason != execv1.ReasonPending {
			return fmt.Errorf("reason %s", reason)
		}
		return nil
	})
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(job), job); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(job.Spec.Suspend, true) {
		t.Error("the controller suspended a Job that Kueue admitted")
	}
}

func TestNetworkPolicyPerLanguage(t *testing.T) {
	// The egress comes from the endpoints the policy declares; the DSNs in
	// the Secrets point elsewhere, and the manager never reads them.
	ns, _ := newPolicy(t, "it-netpol", execv1.ExecutionPolicySpec{Datasources: []execv1.DatasourcePolicy{
		{SecretName: "by-ip", Endpoints: []string{"127.0.0.1:3306"}},
		{SecretName: "by-host", Endpoints: []string{"localhost:3307"}},
	}})
	createDSNSecret(t, ns, "by-ip", "reader:pw@tcp(10.9.9.9:1234)/shop")
	createDSNSecret(t, ns, "by-host", "reader:pw@tcp(evil.example:3306)/shop")
	tcp, udp := ptr.To(corev1.ProtocolTCP), ptr.To(corev1.ProtocolUDP)
	dns := networkingv1.NetworkPolicyEgressRule{
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}},
		Ports: []networkingv1.NetworkPolicyPort{{Protocol: udp, Port: ptr.To(intstr.FromInt32(53))}, {Protocol: tcp, Port: ptr.To(intstr.FromInt32(53))}},
	}
	cases := map[string]struct {
		ce     *execv1.CodeExecution
		egress func([]networkingv1.NetworkPolicyEgressRule) error
	}{
		"python: nothing": {
			ce:     wrappers.MakeCodeExecution("np-python", ns).Obj(),
			egress: func(e []networkingv1.NetworkPolicyEgressRule) error { return wantLen(e, 0) },
		},
		"jsx: nothing": {
			ce:     wrappers.MakeCodeExecution("np-jsx", ns).Language(execv1.LanguageJSX).Code("<div/>").Obj(),
			egress: func(e []networkingv1.NetworkPolicyEgressRule) error { return wantLen(e, 0) },
		},
		"sql by address: that address and port only, no DNS": {
			ce: wrappers.MakeCodeExecution("np-sql-ip", ns).Language(execv1.LanguageSQL).Code("SELECT 1").Datasource("by-ip", "dsn").Obj(),
			egress: func(e []networkingv1.NetworkPolicyEgressRule) error {
				want := []networkingv1.NetworkPolicyEgressRule{{
					To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "127.0.0.1/32"}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromInt32(3306))}},
				}}
				return diffJSON(want, e)
			},
		},
		"sql by host: its addresses, its port, and DNS": {
			ce: wrappers.MakeCodeExecution("np-sql-host", ns).Language(execv1.LanguageSQL).Code("SELECT 1").Datasource("by-host", "dsn").Obj(),
			egress: func(e []networkingv1.NetworkPolicyEgressRule) error {
				if err := wantLen(e, 2); err != nil {
					return err
				}
				if len(e[0].To) == 0 || len(e[0].Ports) != 1 || e[0].Ports[0].Port.IntValue() != 3307 {
					return fmt.Errorf("first rule %+v, want localhost's addresses on 3307", e[0])
				}
				for _, p := range e[0].To {
					if p.IPBlock == nil || (p.IPBlock.CIDR != "127.0.0.1/32" && p.IPBlock.CIDR != "::1/128") {
						return fmt.Errorf("peer %+v is not one of localhost's addresses", p)
					}
				}
				return diffJSON(dns, e[1])
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			create(t, tc.ce)
			waitJob(t, tc.ce)
			np := &networkingv1.NetworkPolicy{}
			if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: controllers.NetworkPolicyName(tc.ce)}, np); err != nil {
				t.Fatal(err)
			}
			if !metav1.IsControlledBy(np, tc.ce) {
				t.Error("the NetworkPolicy is not owned by its execution")
			}
			sel := np.Spec.PodSelector.MatchLabels
			if sel[execv1.LabelExecutionUID] != string(tc.ce.UID) || len(np.Spec.PodSelector.MatchExpressions) != 0 {
				t.Errorf("podSelector %v does not select only this execution's Pod", np.Spec.PodSelector)
			}
			if diff := diffJSON([]networkingv1.PolicyType{"Ingress", "Egress"}, np.Spec.PolicyTypes); diff != nil {
				t.Error(diff)
			}
			if len(np.Spec.Ingress) != 0 {
				t.Errorf("ingress rules %v, want none", np.Spec.Ingress)
			}
			if err := tc.egress(np.Spec.Egress); err != nil {
				t.Error(err)
			}
		})
	}
}

func wantLen(e []networkingv1.NetworkPolicyEgressRule, n int) error {
	if len(e) != n {
		return fmt.Errorf("%d egress rules %+v, want %d", len(e), e, n)
	}
	return nil
}

func diffJSON(want, got any) error {
	w, _ := json.Marshal(want)
	g, _ := json.Marshal(got)
	if string(w) != string(g) {
		return fmt.Errorf("got %s, want %s", g, w)
	}
	return nil
}

// TestQuotaOnlyNamespaceIsStrictFIFO: under a ResourceQuota alone (no
// cap), a younger execution that fits does not pass an older one that
// waits for quota; each starts in creation order as the quota frees.
func TestQuotaOnlyNamespaceIsStrictFIFO(t *testing.T) {
	ns := newNamespace(t, nil)
	mem := func(s string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse(s)}
	}
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "team-quota", Namespace: ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: mem("1Gi")},
	}
	create(t, quota)
	// No quota controller runs here: play it.
	setUsed := func(used string) {
		t.Helper()
		quota.Status = corev1.ResourceQuotaStatus{Hard: mem("1Gi"), Used: mem(used)}
		if err := k8s.Status().Update(context.Background(), quota); err != nil {
			t.Fatal(err)
		}
	}
	setUsed("768Mi")
	older := wrappers.MakeCodeExecution("a-older-512", ns).Memory("512Mi").Obj()
	create(t, older)
	eventually(t, waitFor, "the older one Queued for quota", func() error {
		if reason, msg := phase(t, older); reason != execv1.ReasonQueued || !strings.Contains(msg, "ResourceQuota team-quota") {
			return fmt.Errorf("%s %q", reason, msg)
		}
		return nil
	})
	// 256Mi fits in what is left, but the older execution is first.
	younger := wrappers.MakeCodeExecution("b-younger-256", ns).Memory("256Mi").Obj()
	create(t, younger)
	eventually(t, waitFor, "the younger one Queued behind the older", func() error {
		if reason, msg := phase(t, younger); reason != execv1.ReasonQueued || !strings.Contains(msg, "older executions of this namespace start first") {
			return fmt.Errorf("%s %q", reason, msg)
		}
		return nil
	})
	if jobExists(younger) {
		t.Fatal("the younger execution started before the older one")
	}
	// Room for both: the older one starts, then the younger one.
	setUsed("0")
	waitJob(t, older)
	waitJob(t, younger)
}

// sandboxContainer returns the container of job's Pod that runs the code
// with the execution's resources: "sandbox" in a Python Pod.
func sandboxContainer(t *testing.T, job *batchv1.Job) corev1.Container {
	t.Helper()
	for _, c := range job.Spec.Template.Spec.Containers {
		if c.Name == controllers.SandboxContainerName {
			return c
		}
	}
	t.Fatalf("Job %s has no %q container", job.Name, controllers.SandboxContainerName)
	return corev1.Container{}
}
