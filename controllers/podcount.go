package controllers

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// isExecutionsJobPod reports whether obj, a Pod event the podHandler
// maps to the execution named name, is that execution's Job's Pod: its
// controller is the Job whose UID the execution recorded (status.jobUID,
// or the UID start remembers until the cache shows it), and it is what
// the Job controller creates from that Job's template (read from the
// cache). Only such a Pod ends the execution's quota reservation: its
// labels, annotation and controller reference are forgeable by anyone
// who may create Pods in the namespace, and a decoy that dropped another
// execution's reservation let the queue admit more than the quota holds.
// When anything is not known yet (the cache lags the execution's status
// or the Job), the reservation is kept: a later event of the genuine Pod
// (it is scheduled, then runs) or the end of the execution drops it.
func (r *CodeExecutionReconciler) isExecutionsJobPod(ctx context.Context, obj client.Object, name string) bool {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false
	}
	c := metav1.GetControllerOf(pod)
	if c == nil || c.Kind != "Job" {
		return false
	}
	ce := &execv1.CodeExecution{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: name}, ce); err != nil ||
		string(ce.UID) != pod.Labels[execv1.LabelExecutionUID] {
		return false
	}
	jobUID := ce.Status.JobUID
	if v, ok := r.started.Load(ce.UID); ok && jobUID == "" {
		jobUID = v.(startedJob).uid
	}
	if jobUID == "" || string(c.UID) != jobUID {
		return false
	}
	job := &batchv1.Job{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: c.Name}, job); err != nil || string(job.UID) != jobUID {
		return false
	}
	return PodDiffersFromTemplate(pod, job) == ""
}
