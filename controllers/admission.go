package controllers

import (
	"fmt"
	"sort"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// QueuePosition returns how many executions must start before ce may:
// executions of the namespace that run (have a Job that has not finished)
// plus those waiting that are older than ce (by creation time, then name).
// It is a pure function; waiting holds the namespace's unfinished
// executions that have no Job yet, ce among them.
func QueuePosition(ce *execv1.CodeExecution, running int, waiting []execv1.CodeExecution) int {
	sort.Slice(waiting, func(i, j int) bool { return olderThan(&waiting[i], &waiting[j]) })
	ahead := 0
	for i := range waiting {
		if waiting[i].UID == ce.UID {
			break
		}
		ahead++
	}
	return running + ahead
}

func olderThan(a, b *execv1.CodeExecution) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// RecordedCap is the concurrency cap ce waits under: the one recorded in
// its status when its policies were resolved; nil means none.
func RecordedCap(ce *execv1.CodeExecution) *int32 {
	if ce.Status.Sandbox == nil {
		return nil
	}
	return ce.Status.Sandbox.MaxConcurrentExecutions
}

// PodDefaults is what the API server's admission adds to a Pod the Job
// controller creates, and that a ResourceQuota counts: the LimitRanges'
// container defaults, the RuntimeClass's Pod overhead, and the default
// PriorityClass.
type PodDefaults struct {
	LimitRanges []corev1.LimitRange
	// RuntimeClass is the Pod's RuntimeClass, nil when it names none or
	// the class does not exist.
	RuntimeClass *nodev1.RuntimeClass
	// PriorityClasses are the cluster's PriorityClasses: the global
	// default one is given to a Pod that names none.
	PriorityClasses []schedulingv1.PriorityClass
}

// SandboxPod returns the Pod that job's template becomes once admitted:
// with the LimitRanges' defaults for what its containers leave unset, the
// RuntimeClass's overhead and the default PriorityClass. It is a pure
// function.
func SandboxPod(job *batchv1.Job, d PodDefaults) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: *job.Spec.Template.ObjectMeta.DeepCopy(),
		Spec:       *job.Spec.Template.Spec.DeepCopy(),
	}
	pod.Namespace = job.Namespace
	spec := &pod.Spec
	for _, lr := range d.LimitRanges {
		for _, item := range lr.Spec.Limits {
			if item.Type != corev1.LimitTypeContainer {
				continue
			}
			for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
				for i := range cs {
					defaultResources(&cs[i].Resources, item)
				}
			}
		}
	}
	if rc := d.RuntimeClass; rc != nil && spec.RuntimeClassName != nil && rc.Name == *spec.RuntimeClassName && rc.Overhead != nil {
		spec.Overhead = rc.Overhead.PodFixed.DeepCopy()
	}
	if spec.PriorityClassName == "" {
		var best *schedulingv1.PriorityClass
		for i := range d.PriorityClasses {
			pc := &d.PriorityClasses[i]
			if pc.GlobalDefault && (best == nil || pc.Value > best.Value) {
				best = pc
			}
		}
		if best != nil {
			spec.PriorityClassName = best.Name
		}
	}
	return pod
}

// defaultResources sets, as the LimitRanger admission plugin does, the
// limits and requests a container leaves unset to item's defaults.
func defaultResources(r *corev1.ResourceRequirements, item corev1.LimitRangeItem) {
	for name, v := range item.Default {
		if _, ok := r.Limits[name]; !ok {
			if r.Limits == nil {
				r.Limits = corev1.ResourceList{}
			}
			r.Limits[name] = v.DeepCopy()
		}
	}
	for name, v := range item.DefaultRequest {
		if _, ok := r.Requests[name]; !ok {
			if r.Requests == nil {
				r.Requests = corev1.ResourceList{}
			}
			r.Requests[name] = v.DeepCopy()
		}
	}
}

// podTotals sums what pod's containers ask for under pick (requests or
// limits), init containers counted as the quota does (the larger of their
// maximum and the sum of the others), plus the Pod's overhead.
func podTotals(pod *corev1.Pod, requests bool) corev1.ResourceList {
	pick := func(r corev1.ResourceRequirements) corev1.ResourceList {
		if requests {
			return r.Requests
		}
		return r.Limits
	}
	sum := corev1.ResourceList{}
	for _, c := range pod.Spec.Containers {
		for name, v := range pick(c.Resources) {
			q := sum[name]
			q.Add(v)
			sum[name] = q
		}
	}
	for _, c := range pod.Spec.InitContainers {
		for name, v := range pick(c.Resources) {
			if q, ok := sum[name]; !ok || v.Cmp(q) > 0 {
				sum[name] = v.DeepCopy()
			}
		}
	}
	for name, v := range pod.Spec.Overhead {
		// The overhead adds to every request, and to a limit only where
		// the containers set one.
		if _, ok := sum[name]; ok || requests {
			q := sum[name]
			q.Add(v)
			sum[name] = q
		}
	}
	return sum
}

// PodUsage is what one Pod counts against a ResourceQuota that applies
// to it, by quota resource name (as the quota's pod evaluator counts it).
func PodUsage(pod *corev1.Pod) corev1.ResourceList {
	one := resource.MustParse("1")
	req := podTotals(pod, true)
	lim := podTotals(pod, false)
	u := corev1.ResourceList{corev1.ResourcePods: one, "count/pods": one}
	for _, r := range []struct{ plain, requests, limits corev1.ResourceName }{
		{corev1.ResourceCPU, corev1.ResourceRequestsCPU, corev1.ResourceLimitsCPU},
		{corev1.ResourceMemory, corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory},
		{corev1.ResourceEphemeralStorage, corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsEphemeralStorage},
	} {
		if v, ok := req[r.plain]; ok {
			u[r.plain], u[r.requests] = v.DeepCopy(), v.DeepCopy()
		}
		if v, ok := lim[r.plain]; ok {
			u[r.limits] = v.DeepCopy()
		}
	}
	return u
}

// QuotaAppliesToPod reports whether q's scopes (and scope selector) select
// pod; a quota without scopes selects every Pod. It is a pure function.
func QuotaAppliesToPod(q *corev1.ResourceQuota, pod *corev1.Pod) bool {
	for _, s := range q.Spec.Scopes {
		if !podInScope(pod, s, corev1.ScopeSelectorOpExists, nil) {
			return false
		}
	}
	if sel := q.Spec.ScopeSelector; sel != nil {
		for _, e := range sel.MatchExpressions {
			if !podInScope(pod, e.ScopeName, e.Operator, e.Values) {
				return false
			}
		}
	}
	return true
}

func podInScope(pod *corev1.Pod, scope corev1.ResourceQuotaScope, op corev1.ScopeSelectorOperator, values []string) bool {
	terminating := pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
	switch scope {
	case corev1.ResourceQuotaScopeTerminating:
		return terminating
	case corev1.ResourceQuotaScopeNotTerminating:
		return !terminating
	case corev1.ResourceQuotaScopeBestEffort:
		return isBestEffort(pod)
	case corev1.ResourceQuotaScopeNotBestEffort:
		return !isBestEffort(pod)
	case corev1.ResourceQuotaScopePriorityClass:
		name := pod.Spec.PriorityClassName
		in := false
		for _, v := range values {
			in = in || v == name
		}
		switch op {
		case corev1.ScopeSelectorOpIn:
			return in
		case corev1.ScopeSelectorOpNotIn:
			return !in
		case corev1.ScopeSelectorOpExists:
			return name != ""
		case corev1.ScopeSelectorOpDoesNotExist:
			return name == ""
		}
		return false
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		// The sandbox Pod has no affinity at all.
		return false
	}
	// A scope that does not apply to Pods (VolumeAttributesClass) or is
	// unknown: the quota counts no Pod.
	return false
}

// isBestEffort is the Pod's QoS class being BestEffort: no container
// requests or limits CPU or memory.
func isBestEffort(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, l := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
				for name := range l {
					if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
						return false
					}
				}
			}
		}
	}
	return true
}

// QuotaRequest is what an execution whose Pod is pod adds to q: the Pod's
// usage when q's scopes select it (nothing when pod is nil: the
// execution was admitted while no quota applied), and one Job (count/jobs.batch) when q
// has no scopes (a scoped quota counts only Pods) and withJob. Only the
// resources q limits are returned.
func QuotaRequest(q *corev1.ResourceQuota, pod *corev1.Pod, withJob bool) corev1.ResourceList {
	out := corev1.ResourceList{}
	hard := q.Spec.Hard
	if len(q.Status.Hard) > 0 {
		hard = q.Status.Hard
	}
	if pod != nil && QuotaAppliesToPod(q, pod) {
		for name, v := range PodUsage(pod) {
			if _, ok := hard[name]; ok {
				out[name] = v
			}
		}
	}
	scoped := len(q.Spec.Scopes) > 0 || (q.Spec.ScopeSelector != nil && len(q.Spec.ScopeSelector.MatchExpressions) > 0)
	if _, ok := hard["count/jobs.batch"]; ok && withJob && !scoped {
		out["count/jobs.batch"] = resource.MustParse("1")
	}
	return out
}

func sortedQuotas(quotas []corev1.ResourceQuota) []corev1.ResourceQuota {
	sorted := append([]corev1.ResourceQuota(nil), quotas...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	return sorted
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

// QuotaNeverFits returns a message naming the first ResourceQuota whose
// hard limit is below what the execution's sandbox Pod (pod, as
// SandboxPod built it) and its Job need, so that the execution can never
// start; "" when none is. It is a pure function.
func QuotaNeverFits(quotas []corev1.ResourceQuota, pod *corev1.Pod) string {
	for _, q := range sortedQuotas(quotas) {
		req := QuotaRequest(&q, pod, true)
		for _, n := range sortedNames(req) {
			hard, ok := q.Spec.Hard[n]
			if need := req[n]; ok && need.Cmp(hard) > 0 {
				return fmt.Sprintf("the execution can never start: it needs %s %s and ResourceQuota %s allows at most %s in this namespace",
					n, need.String(), q.Name, hard.String())
			}
		}
	}
	return ""
}

// Reserved is an admitted execution that the quota controller may not
// have counted yet: its Pod (for the Pod's usage) and whether its Job is
// known to exist (the quota counts a Job when it is created).
type Reserved struct {
	Pod        *corev1.Pod
	JobCounted bool
}

// QuotaShortfall returns a message naming the first ResourceQuota that
// cannot fit the execution's sandbox Pod and Job on top of what it uses
// (status.used, as the quota controller maintains it) and what the
// reserved executions will use; "" when all fit. It is a pure function.
func QuotaShortfall(quotas []corev1.ResourceQuota, reserved []Reserved, pod *corev1.Pod) string {
	for _, q := range sortedQuotas(quotas) {
		req := QuotaRequest(&q, pod, true)
		for _, n := range sortedNames(req) {
			hard, ok := q.Status.Hard[n]
			if !ok {
				hard = q.Spec.Hard[n]
			}
			used := q.Status.Used[n].DeepCopy()
			for _, r := range reserved {
				if v, ok := QuotaRequest(&q, r.Pod, !r.JobCounted)[n]; ok {
					used.Add(v)
				}
			}
			need := req[n]
			want := used.DeepCopy()
			want.Add(need)
			if want.Cmp(hard) > 0 {
				return fmt.Sprintf("waiting for quota: ResourceQuota %s has %s used %s of %s, and the execution needs %s",
					q.Name, n, used.String(), hard.String(), need.String())
			}
		}
	}
	return ""
}
