package controllers

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

func sandboxJob(t *testing.T, o JobOptions) *batchv1.Job {
	t.Helper()
	ce := wrappers.MakeCodeExecution("cx", "team").UID("ce-uid").Memory("256Mi").CPU("500m").Obj()
	l := ResolveLimits(ce.Spec.Limits, BuiltinDefaults())
	return BuildJob(ce, l, o)
}

func TestSandboxPodAddsWhatAdmissionAdds(t *testing.T) {
	o := DefaultJobOptions()
	o.RuntimeClassName = ptr.To("gvisor")
	job := sandboxJob(t, o)
	pod := SandboxPod(job, PodDefaults{
		LimitRanges: []corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
			{Type: corev1.LimitTypeContainer,
				Default:        corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi"), corev1.ResourceMemory: resource.MustParse("9Gi")},
				DefaultRequest: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("100Mi")}},
			{Type: corev1.LimitTypePod, Default: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("7")}},
		}}}},
		RuntimeClass: &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "gvisor"},
			Overhead: &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("100Mi"), corev1.ResourceCPU: resource.MustParse("250m")}}},
		PriorityClasses: []schedulingv1.PriorityClass{
			{ObjectMeta: metav1.ObjectMeta{Name: "low"}, Value: 10, GlobalDefault: true},
			{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 100, GlobalDefault: true},
			{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Value: 1000},
		},
	})
	if pod.Spec.PriorityClassName != "high" {
		t.Errorf("priorityClassName = %q, want the highest global default", pod.Spec.PriorityClassName)
	}
	u := PodUsage(pod)
	// Python: the sandbox container (500m, 256Mi) and the judge (100m,
	// 64Mi), each defaulted to 100Mi/1Gi ephemeral storage; memory limits
	// are set, so the LimitRange's 9Gi changes nothing; plus the overhead.
	want := map[corev1.ResourceName]string{
		corev1.ResourceRequestsCPU:              "850m",
		corev1.ResourceLimitsCPU:                "850m",
		corev1.ResourceRequestsMemory:           "420Mi",
		corev1.ResourceLimitsMemory:             "420Mi",
		corev1.ResourceRequestsEphemeralStorage: "200Mi",
		corev1.ResourceLimitsEphemeralStorage:   "2Gi",
		corev1.ResourcePods:                     "1",
	}
	for name, w := range want {
		got := u[name]
		if got.Cmp(resource.MustParse(w)) != 0 {
			t.Errorf("%s = %s, want %s", name, got.String(), w)
		}
	}
}

func TestQuotaScopesSelectTheSandboxPod(t *testing.T) {
	pod := SandboxPod(sandboxJob(t, DefaultJobOptions()), PodDefaults{PriorityClasses: []schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "tenant-default"}, Value: 1, GlobalDefault: true}}})
	scoped := func(scopes []corev1.ResourceQuotaScope, sel ...corev1.ScopedResourceSelectorRequirement) *corev1.ResourceQuota {
		q := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Scopes: scopes,
			Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0"), "count/jobs.batch": resource.MustParse("0")}}}
		if len(sel) > 0 {
			q.Spec.ScopeSelector = &corev1.ScopeSelector{MatchExpressions: sel}
		}
		return q
	}
	for _, tc := range []struct {
		name string
		q    *corev1.ResourceQuota
		want bool
	}{
		{"unscoped", scoped(nil), true},
		{"BestEffort", scoped([]corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}), false},
		{"NotBestEffort", scoped([]corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort}), true},
		{"Terminating (the deadline is the Job's, not the Pod's)", scoped([]corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating}), false},
		{"NotTerminating", scoped([]corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotTerminating}), true},
		{"PriorityClass In the default", scoped(nil, corev1.ScopedResourceSelectorRequirement{
			ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"tenant-default"}}), true},
		{"PriorityClass NotIn the default", scoped(nil, corev1.ScopedResourceSelectorRequirement{
			ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpNotIn, Values: []string{"tenant-default"}}), false},
		{"CrossNamespacePodAffinity", scoped([]corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeCrossNamespacePodAffinity}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := QuotaAppliesToPod(tc.q, pod); got != tc.want {
				t.Errorf("QuotaAppliesToPod = %v, want %v", got, tc.want)
			}
			req := QuotaRequest(tc.q, pod, true)
			_, pods := req[corev1.ResourcePods]
			_, jobs := req["count/jobs.batch"]
			unscoped := len(tc.q.Spec.Scopes) == 0 && tc.q.Spec.ScopeSelector == nil
			if pods != tc.want || jobs != unscoped {
				t.Errorf("QuotaRequest = %v: want pods %v, count/jobs.batch %v", req, tc.want, unscoped)
			}
			msg := QuotaNeverFits([]corev1.ResourceQuota{*tc.q}, pod)
			if (msg != "") != (tc.want || unscoped) {
				t.Errorf("QuotaNeverFits = %q", msg)
			}
		})
	}
}

func TestQuotaShortfallCountsReservations(t *testing.T) {
	pod := SandboxPod(sandboxJob(t, DefaultJobOptions()), PodDefaults{})
	q := corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
		corev1.ResourceRequestsMemory: resource.MustParse("1Gi"), "count/jobs.batch": resource.MustParse("2")}}}
	q.Status.Used = corev1.ResourceList{corev1.ResourceRequestsMemory: resource.MustParse("0"), "count/jobs.batch": resource.MustParse("0")}
	quotas := []corev1.ResourceQuota{q}
	// 320Mi a Pod: three fit in 1Gi, but only two Jobs.
	if msg := QuotaShortfall(quotas, []Reserved{{Pod: pod}, {Pod: pod, JobCounted: true}}, pod); msg != "" {
		t.Errorf("two reserved, one Job counted: %q", msg)
	}
	if msg := QuotaShortfall(quotas, []Reserved{{Pod: pod}, {Pod: pod}}, pod); !strings.Contains(msg, "count/jobs.batch") {
		t.Errorf("two reserved Jobs: %q, want count/jobs.batch short", msg)
	}
	if msg := QuotaShortfall(quotas, []Reserved{{Pod: pod, JobCounted: true}, {Pod: pod, JobCounted: true}, {Pod: pod, JobCounted: true}}, pod); !strings.Contains(msg, "requests.memory used 960Mi") {
		t.Errorf("three reserved Pods: %q, want requests.memory short", msg)
	}
	if msg := QuotaShortfall(quotas, []Reserved{{Pod: nil, JobCounted: true}}, pod); msg != "" {
		t.Errorf("a reservation made while no quota applied: %q", msg)
	}
}

func TestSuspendedAfterStart(t *testing.T) {
	start := metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	ce := func(kueue string, started bool) *execv1.CodeExecution {
		c := wrappers.MakeCodeExecution("cx", "team").Obj()
		c.Status.Sandbox = &execv1.SandboxSettings{KueueQueueName: kueue}
		if started {
			c.Status.StartTime = &start
		}
		return c
	}
	job := func(suspend bool, cond *batchv1.JobCondition) *batchv1.Job {
		j := wrappers.MakeJob("j", "team").Obj()
		j.Spec.Suspend = ptr.To(suspend)
		if cond != nil {
			j.Status.Conditions = []batchv1.JobCondition{*cond}
		}
		return j
	}
	resumed := func(at time.Duration) *batchv1.JobCondition {
		return &batchv1.JobCondition{Type: batchv1.JobSuspended, Status: corev1.ConditionFalse, Reason: "JobResumed",
			LastTransitionTime: metav1.NewTime(start.Add(at))}
	}
	for _, tc := range []struct {
		name string
		ce   *execv1.CodeExecution
		job  *batchv1.Job
		ends bool
	}{
		{"running, never suspended", ce("", true), job(false, nil), false},
		{"suspended by a tenant before the Pod", ce("", false), job(true, nil), true},
		{"suspended by a tenant after the Pod", ce("", true), job(true, nil), true},
		{"a suspend flip seen only by its condition", ce("", true), job(false, resumed(time.Second)), true},
		{"Kueue: created suspended, waiting", ce("q", false), job(true, nil), false},
		{"Kueue: admitted before the Pod ran", ce("q", true), job(false, resumed(-time.Minute)), false},
		{"Kueue: suspended again after the Pod ran", ce("q", true), job(true, resumed(-time.Minute)), true},
		{"Kueue: resumed again after the Pod ran", ce("q", true), job(false, resumed(time.Minute)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := SuspendedAfterStart(tc.ce, tc.job, nil)
			if (msg != "") != tc.ends {
				t.Errorf("SuspendedAfterStart = %q, want ending %v", msg, tc.ends)
			}
		})
	}
}
