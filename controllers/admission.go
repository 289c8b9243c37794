package controllers

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
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

// quotaRequest maps the quota names that a sandbox Pod uses to its
// per-Pod amount.
func quotaRequest(l execv1.ExecutionLimits) map[corev1.ResourceName]resource.Quantity {
	one := resource.MustParse("1")
	return map[corev1.ResourceName]resource.Quantity{
		corev1.ResourceCPU:            *l.CPU,
		corev1.ResourceRequestsCPU:    *l.CPU,
		corev1.ResourceLimitsCPU:      *l.CPU,
		corev1.ResourceMemory:         *l.Memory,
		corev1.ResourceRequestsMemory: *l.Memory,
		corev1.ResourceLimitsMemory:   *l.Memory,
		corev1.ResourcePods:           one,
		"count/pods":                  one,
		"count/jobs.batch":            one,
	}
}

// QuotaShortfall returns a message naming the first ResourceQuota that
// cannot fit one more sandbox Pod with limits l, or "" when all fit. It
// reads the quotas' status.used as the quota controller maintains it.
func QuotaShortfall(quotas []corev1.ResourceQuota, l execv1.ExecutionLimits) string {
	req := quotaRequest(l)
	sort.Slice(quotas, func(i, j int) bool { return quotas[i].Name < quotas[j].Name })
	names := make([]string, 0, len(req))
	for n := range req {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, q := range quotas {
		for _, n := range names {
			name := corev1.ResourceName(n)
			hard, ok := q.Status.Hard[name]
			if !ok {
				hard, ok = q.Spec.Hard[name]
			}
			if !ok {
				continue
			}
			used, need := q.Status.Used[name], req[name]
			want := used.DeepCopy()
			want.Add(need)
			if want.Cmp(hard) > 0 {
				return fmt.Sprintf("waiting for quota: ResourceQuota %s has %s used %s of %s, and the execution needs %s",
					q.Name, name, used.String(), hard.String(), need.String())
			}
		}
	}
	return ""
}
