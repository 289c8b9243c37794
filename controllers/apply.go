package controllers

import (
	"context"
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// workload is what runs an execution's code: its Job and the Pods the Job
// controls.
type workload struct {
	job  *batchv1.Job
	pods []corev1.Pod
}

// apply carries out a Plan: it creates its objects, then takes its status
// (Reconcile writes it). An object that cannot be ours ends the execution
// instead.
func (r *CodeExecutionReconciler) apply(ctx context.Context, ce *execv1.CodeExecution, o Observed, p Plan) (ctrl.Result, *workload, error) {
	w := &workload{job: o.Job, pods: o.Pods}
	r.reportImpostors(ce, o.Job, o.Impostors)
	for _, obj := range p.Create {
		_, fail, err := r.createOwned(ctx, ce, obj)
		if err != nil {
			return ctrl.Result{}, w, err // nothing is written: the next try reads the result again
		}
		if fail != nil {
			p.Status.Result, p.Status.Stdout, p.Status.Stderr = nil, "", ""
			next := &execv1.CodeExecution{ObjectMeta: ce.ObjectMeta, Status: p.Status}
			finish(next, *fail, o.Now)
			p.Status = next.Status
			break
		}
	}
	ce.Status = p.Status
	return ctrl.Result{RequeueAfter: p.RequeueAfter}, w, nil
}

// stopWorkload deletes the Job of a finished execution and the Pods it
// controls, so that none of its code runs any more. w is what this
// reconcile observed; without it the Job and Pods are looked up in the
// cache. Only the Job whose UID status.jobUID holds is deleted: never an
// object the execution does not own. With the Job gone (deleted with
// --cascade=orphan), the Pods that name it are deleted only when
// sweepOrphans is set.
func (r *CodeExecutionReconciler) stopWorkload(ctx context.Context, ce *execv1.CodeExecution, w *workload, sweepOrphans bool) error {
	r.queue.release(ce.Namespace, ce.UID)
	r.started.Delete(ce.UID)
	r.refusals.Delete(ce.UID)
	r.impostors.Range(func(k, v any) bool {
		if v == ce.UID {
			r.impostors.Delete(k)
		}
		return true
	})
	if ce.Status.JobUID == "" {
		return nil
	}
	if w == nil || w.job == nil {
		job := &batchv1.Job{}
		err := r.Get(ctx, types.NamespacedName{Namespace: ce.Namespace, Name: ce.Status.JobName}, job)
		switch {
		case apierrors.IsNotFound(err) || (err == nil && string(job.UID) != ce.Status.JobUID):
			// The Job is gone, maybe deleted with --cascade=orphan: its
			// Pods may still run, without an owner reference.
			job = nil
		case err != nil:
			return fmt.Errorf("getting Job %s: %w", ce.Status.JobName, err)
		}
		var pods corev1.PodList
		if err := r.List(ctx, &pods, client.InNamespace(ce.Namespace), client.MatchingLabels{execv1.LabelExecutionUID: string(ce.UID)}); err != nil {
			return fmt.Errorf("listing Pods: %w", err)
		}
		w = &workload{job: job}
		if job != nil {
			// A Pod that only claims the Job (a neighbour's decoy with a
			// forged owner reference) is not ours to delete.
			w.pods, _ = jobPods(pods.Items, job)
		} else if sweepOrphans {
			// Without the Job there is no template to compare with: a Pod
			// that names the recorded Job UID as its controller, or in the
			// Job controller's label, is the orphan to stop.
			for _, p := range pods.Items {
				if jobsPod(&p, ce.Status.JobUID) {
					w.pods = append(w.pods, p)
				}
			}
		}
	}
	if w.job != nil && string(w.job.UID) != ce.Status.JobUID {
		return nil
	}
	var errs []error
	if w.job != nil && w.job.DeletionTimestamp.IsZero() {
		uid := w.job.UID
		err := r.Delete(ctx, w.job, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
		if ignoreGone(err) != nil {
			errs = append(errs, fmt.Errorf("deleting Job %s: %w", w.job.Name, err))
		} else {
			ctrl.LoggerFrom(ctx).V(2).Info("Deleted the Job of a finished execution", "job", klog.KObj(w.job))
		}
	}
	// The garbage collector would delete the Pods too, a moment later: do
	// not leave the code that moment.
	for i := range w.pods {
		p := &w.pods[i]
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		uid := p.UID
		if err := r.Delete(ctx, p, client.Preconditions{UID: &uid}); ignoreGone(err) != nil {
			errs = append(errs, fmt.Errorf("deleting Pod %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// reportImpostors emits a Warning event, once per Pod, about each Pod that
// claims to be job's but is not what the Job controller creates from its
// template. It is ignored otherwise: not counted, not deleted.
func (r *CodeExecutionReconciler) reportImpostors(ce *execv1.CodeExecution, job *batchv1.Job, imp []Impostor) {
	for _, i := range imp {
		if _, seen := r.impostors.LoadOrStore(i.Pod.UID, ce.UID); seen {
			continue
		}
		r.Recorder.Eventf(ce, i.Pod, corev1.EventTypeWarning, ReasonImpostorPod, "Ignore",
			"Pod %s has a controller reference to Job %s but is not what the Job controller creates from its template (%s differs): ignored",
			i.Pod.Name, job.Name, i.Diff)
	}
}

// ignoreGone ignores the errors of deleting what is already gone or was
// replaced (a UID precondition that failed).
func ignoreGone(err error) error {
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// jobsPod reports whether pod belongs to the Job with UID jobUID: the Job
// controls it, or, once the Job was deleted with --cascade=orphan (the
// garbage collector then removes the owner reference), it has no
// controller and carries the Job's controller-uid label, which the API
// server puts on the Job's Pod template. A Pod that only claims the label
// is deleted too: only whoever forged it loses by that.
func jobsPod(pod *corev1.Pod, jobUID string) bool {
	if c := metav1.GetControllerOf(pod); c != nil {
		return string(c.UID) == jobUID
	}
	l := pod.Labels
	return jobUID != "" && (l[batchv1.ControllerUidLabel] == jobUID || l["controller-uid"] == jobUID)
}
