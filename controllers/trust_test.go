package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

func templateJob(t *testing.T) *batchv1.Job {
	t.Helper()
	ce := wrappers.MakeCodeExecution("cx", "team").UID("ce-uid").Obj()
	l := ResolveLimits(ce.Spec.Limits, BuiltinDefaults())
	job := BuildJob(ce, l, DefaultJobOptions())
	job.UID = "job-uid"
	job.Spec.Template.Labels[batchv1.ControllerUidLabel] = "job-uid"
	return job
}

func p0(job *batchv1.Job) string { return job.Spec.Template.Spec.Containers[0].Name }

func TestPodDiffersFromTemplate(t *testing.T) {
	job := templateJob(t)
	cases := []struct {
		name   string
		change func(p *corev1.Pod)
		want   string
	}{
		{"as the Job controller made it", func(*corev1.Pod) {}, ""},
		{"with what the API server, admission and the scheduler add", func(p *corev1.Pod) {
			p.Labels["extra"] = "x"
			p.Finalizers = []string{"batch.kubernetes.io/job-tracking"}
			p.Spec.NodeName = "node-1"
			p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = "default", "default"
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(int64(300))})
			p.Spec.NodeSelector = map[string]string{"runtime": "gvisor"}
			p.Spec.Priority, p.Spec.PreemptionPolicy = ptr.To(int32(0)), ptr.To(corev1.PreemptLowerPriority)
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("20Mi")}
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "kueue"}}
			// LimitRanger's defaults for names the template leaves unset.
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceEphemeralStorage] = resource.MustParse("1Gi")
			p.Spec.Containers[0].Resources.Limits[corev1.ResourceEphemeralStorage] = resource.MustParse("2Gi")
			// An equal quantity written differently.
			p.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse(
				fmt.Sprint(job.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().Value()))
			p.Spec.Containers[0].ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired}}
			p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry"}}
			p.Spec.Containers[0].ImagePullPolicy = corev1.PullAlways
		}, ""},
		{"another memory limit (a neighbour's copy the kernel OOM-kills at 16Mi)", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("16Mi")
		}, "spec.containers[" + p0(job) + "].resources.limits[memory]"},
		{"another CPU request", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("10m")
		}, "spec.containers[" + p0(job) + "].resources.requests[cpu]"},
		{"a resource the template sets removed", func(p *corev1.Pod) {
			delete(p.Spec.Containers[0].Resources.Limits, corev1.ResourceCPU)
		}, "spec.containers[" + p0(job) + "].resources.limits[cpu]"},
		{"no controller reference", func(p *corev1.Pod) { p.OwnerReferences = nil }, "metadata.ownerReferences"},
		{"a template label missing", func(p *corev1.Pod) { delete(p.Labels, execv1.LabelExecutionUID) }, "metadata.labels[" + execv1.LabelExecutionUID + "]"},
		{"another image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "busybox" }, "spec.containers[0].image"},
		{"another command", func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"sh", "-c", "echo forged"} }, "spec.containers[0].command"},
		{"an extra environment variable", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "PYTHONSTARTUP", Value: "/x"})
		}, "spec.containers[0].env"},
		{"a privileged container", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true) },
			"spec.containers[0].securityContext.privileged"},
		{"a second container", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "busybox"})
		}, "spec.containers"},
		{"an ephemeral container", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}}
		}, "spec.ephemeralContainers"},
		{"the host's network", func(p *corev1.Pod) { p.Spec.HostNetwork = true }, "spec.hostNetwork"},
		{"another runtime class", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr.To("runc") }, "spec.runtimeClassName"},
		{"a named service account", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "admin" }, "spec.serviceAccountName"},
		{"a token mounted", func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(true) }, "spec.automountServiceAccountToken"},
		{"another task volume", func(p *corev1.Pod) {
			p.Spec.Volumes[0].Projected.Sources[0].ConfigMap.Name = "neighbours-task"
		}, "spec.volumes[0].projected.sources[0].configMap.name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := wrappers.MakePod("p", "team").FromJob(job).Obj()
			tc.change(p)
			if got := PodDiffersFromTemplate(p, job); got != tc.want {
				t.Errorf("PodDiffersFromTemplate = %q, want %q", got, tc.want)
			}
		})
	}
}

// restart forgets what the reconciler remembers and the status' record
// of the children, as after a manager restart that lost a status write.
func (e *env) restart(t *testing.T) {
	t.Helper()
	ce, _ := e.state(t)
	ce.Status = execv1.CodeExecutionStatus{}
	if err := e.c.Status().Update(context.Background(), ce); err != nil {
		t.Fatal(err)
	}
	old := e.r
	e.r = &CodeExecutionReconciler{Client: old.Client, APIReader: old.APIReader, Scheme: old.Scheme, Recorder: old.Recorder,
		Logs: old.Logs, Clock: old.Clock, Job: old.Job, Bounds: old.Bounds,
		AllowUnselectedNamespaces: old.AllowUnselectedNamespaces, LookupIP: old.LookupIP}
}

func TestReconcileAlreadyExistsOwnChildrenAreAdopted(t *testing.T) {
	e := newEnv(t)
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	first, _ := e.state(t)
	e.restart(t)
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	ce, c := e.state(t)
	wantCond(t, c, metav1.ConditionUnknown, execv1.ReasonPending, "waiting for Job")
	if ce.Status.JobUID != first.Status.JobUID || ce.Status.TaskConfigMapUID != first.Status.TaskConfigMapUID || ce.Status.TaskConfigMapUID == "" {
		t.Fatalf("adopted jobUID %q taskConfigMapUID %q, want %q %q", ce.Status.JobUID, ce.Status.TaskConfigMapUID,
			first.Status.JobUID, first.Status.TaskConfigMapUID)
	}
	if n := len(e.jobs(t)); n != 1 {
		t.Fatalf("%d Jobs, want 1", n)
	}
}

// plant pre-creates, with a forged controller reference to the
// execution, what the controller creates, changed by change.
func plant(t *testing.T, change func(cm *corev1.ConfigMap, np *networkingv1.NetworkPolicy, job *batchv1.Job) client.Object) *env {
	t.Helper()
	ce := wrappers.MakeCodeExecution("cx", "team").UID("ce-uid").Obj()
	l := ResolveLimits(ce.Spec.Limits, BuiltinDefaults())
	cm, err := BuildTaskConfigMap(ce, l, SQLPermissions{})
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultJobOptions()
	o.TTLSecondsAfterFinished = nil
	np, job := BuildNetworkPolicy(ce, nil), BuildJob(ce, l, o)
	forged := change(cm, np, job)
	forged.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(ce, execv1.GroupVersion.WithKind("CodeExecution"))})
	forged.SetUID("forged")
	forged.SetCreationTimestamp(metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))) // newEnv's clock
	return newEnv(t, forged)
}

func TestReconcileAlreadyExistsForgedOwnerOtherSpecIsRefused(t *testing.T) {
	cases := []struct {
		name   string
		change func(cm *corev1.ConfigMap, np *networkingv1.NetworkPolicy, job *batchv1.Job) client.Object
		want   string
	}{
		{"Job on the host's network", func(_ *corev1.ConfigMap, _ *networkingv1.NetworkPolicy, j *batchv1.Job) client.Object {
			j.Spec.Template.Spec.HostNetwork = true
			return j
		}, "Job cx-fd562b4c already exists and is marked as controlled by this CodeExecution, but is not what the controller creates (spec.template.spec.hostNetwork differs)"},
		{"Job with a longer deadline", func(_ *corev1.ConfigMap, _ *networkingv1.NetworkPolicy, j *batchv1.Job) client.Object {
			j.Spec.ActiveDeadlineSeconds = ptr.To(int64(86400))
			return j
		}, "(spec.activeDeadlineSeconds differs)"},
		{"NetworkPolicy that allows all egress", func(_ *corev1.ConfigMap, np *networkingv1.NetworkPolicy, _ *batchv1.Job) client.Object {
			np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}}
			return np
		}, "(spec.egress differs)"},
		{"mutable task ConfigMap", func(cm *corev1.ConfigMap, _ *networkingv1.NetworkPolicy, _ *batchv1.Job) client.Object {
			cm.Immutable = nil
			return cm
		}, "(immutable differs)"},
		{"task ConfigMap that widens SQL", func(cm *corev1.ConfigMap, _ *networkingv1.NetworkPolicy, _ *batchv1.Job) client.Object {
			cm.Data[result.TaskFile] = `{"language":"sql","allowSystemSchemas":true,"allowShow":true}`
			return cm
		}, "(data differs)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := plant(t, tc.change)
			if _, err := e.reconcile(t); err != nil {
				t.Fatal(err)
			}
			ce, c := e.state(t)
			wantCond(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, tc.want)
			if ce.Status.JobUID == "forged" {
				t.Fatal("the forged Job was adopted")
			}
			for _, j := range e.jobs(t) {
				if j.UID != "forged" {
					t.Errorf("a Job %s was created past a forged child", j.Name)
				}
			}
		})
	}
}

// An identical Job with the controller reference (the controller's own,
// or a neighbour's exact copy: it runs the same) is adopted.
func TestReconcileAlreadyExistsIdenticalJobIsAdopted(t *testing.T) {
	e := plant(t, func(_ *corev1.ConfigMap, _ *networkingv1.NetworkPolicy, j *batchv1.Job) client.Object { return j })
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	ce, c := e.state(t)
	wantCond(t, c, metav1.ConditionUnknown, execv1.ReasonPending, "waiting for Job")
	if ce.Status.JobUID != "forged" {
		t.Fatalf("status.jobUID = %q, want the existing Job's", ce.Status.JobUID)
	}
}

// A dry-run the API server cannot answer leaves the existing Job
// unchecked: nothing is adopted, the reconcile is retried.
func TestReconcileAlreadyExistsDryRunErrorIsRetriedNotAdopted(t *testing.T) {
	e := plant(t, func(_ *corev1.ConfigMap, _ *networkingv1.NetworkPolicy, j *batchv1.Job) client.Object { return j })
	e.failWith(onKind[*batchv1.Job]("dryrun", apierrors.NewServiceUnavailable("apiserver restarting")))
	if _, err := e.reconcile(t); err == nil || !strings.Contains(err.Error(), "dry-run") {
		t.Fatalf("Reconcile = %v, want the dry-run error", err)
	}
	ce, c := e.state(t)
	if ce.Status.JobUID != "" || c.Status != metav1.ConditionUnknown {
		t.Fatalf("status.jobUID %q, condition %+v: want nothing adopted, not finished", ce.Status.JobUID, c)
	}
	e.failWith(func(string, client.Object) error { return nil })
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if ce, _ := e.state(t); ce.Status.JobUID != "forged" {
		t.Fatalf("status.jobUID = %q after the retry, want the existing Job's", ce.Status.JobUID)
	}
}

// A dry-run the API server refuses (a webhook that does not take
// dry-runs) ends the execution: nothing is adopted unchecked.
func TestReconcileAlreadyExistsDryRunRefusedEnds(t *testing.T) {
	e := plant(t, func(_ *corev1.ConfigMap, _ *networkingv1.NetworkPolicy, j *batchv1.Job) client.Object { return j })
	e.failWith(onKind[*batchv1.Job]("dryrun", apierrors.NewBadRequest("admission webhook \"w\" does not support dry run")))
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	ce, c := e.state(t)
	wantCond(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "cannot be checked against what the controller creates (dry-run create of what the controller builds: admission webhook")
	if ce.Status.JobUID != "" {
		t.Fatalf("status.jobUID = %q: adopted unchecked", ce.Status.JobUID)
	}
}

func impostorEvents(e *env) int {
	n := 0
	rec := e.r.Recorder.(*events.FakeRecorder)
	for {
		select {
		case ev := <-rec.Events:
			if strings.Contains(ev, ReasonImpostorPod) {
				n++
			}
		default:
			return n
		}
	}
}

// A Pod with the Job's labels and a forged controller reference to the
// Job, but another image, and a forged summary: ignored, evented once.
func TestReconcileDecoyPodWithForgedJobOwnerIsIgnored(t *testing.T) {
	e := newEnv(t)
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	ce, _ := e.state(t)
	job := &batchv1.Job{}
	if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: ce.Status.JobName}, job); err != nil {
		t.Fatal(err)
	}
	forged := result.Failure(result.SecurityViolation, "forged")
	line := result.Encode(forged)
	decoy := wrappers.MakePod("decoy", "team").FromJob(job).Image("busybox").
		Terminated(1, string(result.Summarize(forged, line).Encode()), metav1.NewTime(e.clock.Now())).Obj()
	if err := e.c.Create(context.Background(), decoy); err != nil {
		t.Fatal(err)
	}
	e.logs.log = append(line, '\n')
	for i := 0; i < 2; i++ {
		if _, err := e.reconcile(t); err != nil {
			t.Fatal(err)
		}
	}
	if _, c := e.state(t); c.Status != metav1.ConditionUnknown {
		t.Fatalf("the decoy ended the execution: %+v", c)
	}
	if n := impostorEvents(e); n != 1 {
		t.Fatalf("%d ImpostorPod events, want 1", n)
	}
	if err := e.c.Get(context.Background(), client.ObjectKeyFromObject(decoy), decoy); err != nil {
		t.Fatalf("the decoy was deleted: %v", err)
	}
}

func TestReconcileReplacedTaskConfigMapEndsWithoutTheResult(t *testing.T) {
	e := newEnv(t)
	e.started(t, result.Success(json.RawMessage(`"forged"`)))
	ce, _ := e.state(t)
	cm := &corev1.ConfigMap{}
	key := types.NamespacedName{Namespace: "team", Name: TaskConfigMapName(ce.Name, ce.UID)}
	if err := e.c.Get(context.Background(), key, cm); err != nil {
		t.Fatal(err)
	}
	if string(cm.UID) != ce.Status.TaskConfigMapUID {
		t.Fatalf("status.taskConfigMapUID %q, ConfigMap %q", ce.Status.TaskConfigMapUID, cm.UID)
	}
	if err := e.c.Delete(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	cm.ResourceVersion, cm.UID = "", "neighbour"
	cm.Data[result.CodeFile] = "result = 'forged'"
	if err := e.c.Create(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	ce, c := e.state(t)
	wantCond(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "ConfigMap "+key.Name+" was replaced while the execution ran (uid neighbour")
	if ce.Status.Result != nil {
		t.Fatalf("status.result = %+v", ce.Status.Result)
	}
	if n := len(e.jobs(t)); n != 0 {
		t.Fatalf("%d Jobs, want the Job deleted", n)
	}
}

func TestReconcileDeletedTaskConfigMapEndsWithoutTheResult(t *testing.T) {
	e := newEnv(t)
	e.started(t, result.Success(json.RawMessage(`1`)))
	ce, _ := e.state(t)
	name := TaskConfigMapName(ce.Name, ce.UID)
	if err := e.c.Delete(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	ce, c := e.state(t)
	wantCond(t, c, metav1.ConditionFalse, execv1.ReasonInternalError, "ConfigMap "+name+" was deleted while the execution ran")
	if ce.Status.Result != nil {
		t.Fatalf("status.result = %+v", ce.Status.Result)
	}
}

func TestReconcileTaskConfigMapGetErrorIsRetried(t *testing.T) {
	e := newEnv(t)
	e.started(t, result.Success(json.RawMessage(`1`)))
	e.failWith(onKind[*corev1.ConfigMap]("get", apierrors.NewServiceUnavailable("apiserver restarting")))
	if _, err := e.reconcile(t); err == nil || !strings.Contains(err.Error(), "task ConfigMap") {
		t.Fatalf("Reconcile = %v, want the Get error", err)
	}
	e.failWith(func(string, client.Object) error { return nil })
	if _, err := e.reconcile(t); err != nil {
		t.Fatal(err)
	}
	_, c := e.state(t)
	wantCond(t, c, metav1.ConditionTrue, execv1.ReasonCompleted, "")
}
