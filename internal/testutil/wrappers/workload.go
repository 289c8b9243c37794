package wrappers

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// JobWrapper builds a Job.
type JobWrapper struct{ batchv1.Job }

// MakeJob starts an empty Job.
func MakeJob(name, ns string) *JobWrapper {
	return &JobWrapper{batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
	}}
}

// Obj returns the object.
func (w *JobWrapper) Obj() *batchv1.Job { return w.DeepCopy() }

// UID sets the UID.
func (w *JobWrapper) UID(uid string) *JobWrapper {
	w.ObjectMeta.UID = types.UID(uid)
	return w
}

// Labels adds labels.
func (w *JobWrapper) Labels(l map[string]string) *JobWrapper {
	if w.ObjectMeta.Labels == nil {
		w.ObjectMeta.Labels = map[string]string{}
	}
	for k, v := range l {
		w.ObjectMeta.Labels[k] = v
	}
	return w
}

// ControlledBy makes ce the Job's controller.
func (w *JobWrapper) ControlledBy(ce *execv1.CodeExecution) *JobWrapper {
	w.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(ce, execv1.GroupVersion.WithKind("CodeExecution"))}
	return w
}

// Active marks the Job started with one active Pod.
func (w *JobWrapper) Active(start metav1.Time) *JobWrapper {
	w.Status.StartTime = &start
	w.Status.Active = 1
	return w
}

// PodWrapper builds a Pod.
type PodWrapper struct{ corev1.Pod }

// MakePod starts a Pod with one container named runner.
func MakePod(name, ns string) *PodWrapper {
	return &PodWrapper{corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: execv1.RunnerContainerName, Image: "runner"}}},
	}}
}

// Obj returns the object.
func (w *PodWrapper) Obj() *corev1.Pod { return w.DeepCopy() }

// Labels adds labels.
func (w *PodWrapper) Labels(l map[string]string) *PodWrapper {
	if w.ObjectMeta.Labels == nil {
		w.ObjectMeta.Labels = map[string]string{}
	}
	for k, v := range l {
		w.ObjectMeta.Labels[k] = v
	}
	return w
}

// FromJob makes the Pod what the Job controller creates from job's
// template: its labels, annotations and spec, and job as its controller.
func (w *PodWrapper) FromJob(job *batchv1.Job) *PodWrapper {
	t := job.Spec.Template.DeepCopy()
	w.Labels(t.Labels)
	if len(t.Annotations) > 0 && w.Annotations == nil {
		w.Annotations = map[string]string{}
	}
	for k, v := range t.Annotations {
		w.Annotations[k] = v
	}
	w.Spec = t.Spec
	return w.ControlledBy(job)
}

// Image sets the image of every container.
func (w *PodWrapper) Image(image string) *PodWrapper {
	for i := range w.Spec.Containers {
		w.Spec.Containers[i].Image = image
	}
	return w
}

// ControlledBy makes job the Pod's controller.
func (w *PodWrapper) ControlledBy(job *batchv1.Job) *PodWrapper {
	w.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}
	return w
}

// Terminated sets the runner container terminated with exitCode and the
// termination message msg, finished at finished.
func (w *PodWrapper) Terminated(exitCode int32, msg string, finished metav1.Time) *PodWrapper {
	w.Status.Phase = corev1.PodSucceeded
	if exitCode != 0 {
		w.Status.Phase = corev1.PodFailed
	}
	w.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: execv1.RunnerContainerName,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: exitCode, Message: msg, StartedAt: finished, FinishedAt: finished,
		}},
	}}
	return w
}
