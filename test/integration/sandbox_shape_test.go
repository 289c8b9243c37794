package integration

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

const managerSA = "system:serviceaccount:codeexec-system:codeexec-controller-manager"

// asManager returns a client that impersonates the manager's service
// account, with the role config/rbac gives it.
func asManager(t *testing.T) client.Client {
	t.Helper()
	ctx := context.Background()
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "codeexec-system"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "codeexec-controller-manager", Namespace: "codeexec-system"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "it-manager-rolebinding"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "manager-role"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "codeexec-controller-manager", Namespace: "codeexec-system"}}},
	} {
		if err := k8s.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join("config", "rbac", "role.yaml"), filepath.Join("config", "admission", "sandbox-shape.yaml")} {
		if err := applyYAML(ctx, filepath.Join(repoRoot(), f)); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: managerSA,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:codeexec-system", "system:authenticated"}}
	mc, err := client.New(c, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// managerJob builds the Job the controller would create for ce under
// opts, as start does: the ExecutionPolicies that select ce's namespace
// resolved with the controller's own functions into status.policies,
// status.limits and status.sandbox, then BuildJob and the owner reference.
func managerJob(t *testing.T, ce *execv1.CodeExecution, opts controllers.JobOptions) *batchv1.Job {
	t.Helper()
	ctx := context.Background()
	policies := controllers.PolicyListObject()
	if err := k8s.List(ctx, policies); err != nil {
		t.Fatal(err)
	}
	n := &corev1.Namespace{}
	if err := k8s.Get(ctx, types.NamespacedName{Name: ce.Namespace}, n); err != nil {
		t.Fatal(err)
	}
	stored := make([]controllers.StoredPolicy, 0, len(policies.Items))
	for i := range policies.Items {
		stored = append(stored, controllers.ReadPolicy(&policies.Items[i]))
	}
	controllers.ResolveStatus(ce, controllers.PolicyFor(stored, ce.Namespace, n.Labels, true), time.Now())
	if ce.Status.Limits == nil {
		t.Fatalf("the policies refuse the execution: %+v", ce.Status.Conditions)
	}
	if sb := ce.Status.Sandbox; sb != nil && sb.RuntimeClassName != nil {
		opts.RuntimeClassName = sb.RuntimeClassName
	}
	j := controllers.BuildJob(ce, *ce.Status.Limits, opts)
	if err := controllerutil.SetControllerReference(ce, j, scheme); err != nil {
		t.Fatal(err)
	}
	return j
}

// shapeExecution returns a CodeExecution (never stored: the Jobs are
// dry-run creates) of lang in ns with a fixed UID.
func shapeExecution(ns string, lang execv1.Language, n int) *execv1.CodeExecution {
	w := wrappers.MakeCodeExecution(fmt.Sprintf("shape-%d", n), ns).Language(lang)
	switch lang {
	case execv1.LanguageSQL:
		w = w.Code("SELECT 1").Datasource("db", "dsn")
	case execv1.LanguageJSX:
		w = w.Code("export default () => <div/>")
	default:
		w = w.Code("result = 1")
	}
	ce := w.Obj()
	ce.UID = types.UID(fmt.Sprintf("0f0f0f0f-0000-0000-0000-%012d", n))
	return ce
}

// waitForShapePolicy waits until the API server enforces the sandbox-shape
// policy (it loads admission policies asynchronously).
func waitForShapePolicy(t *testing.T, mc client.Client, ns string) {
	t.Helper()
	probe := managerJob(t, shapeExecution(ns, execv1.LanguageJSX, 999), controllers.DefaultJobOptions())
	probe.Spec.Template.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true)
	probe.Spec.Template.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
	eventually(t, waitFor, "the sandbox-shape policy to take effect", func() error {
		err := mc.Create(context.Background(), probe.DeepCopy(), client.DryRunAll)
		if err == nil {
			return fmt.Errorf("a privileged Job was admitted")
		}
		if !strings.Contains(err.Error(), "codeexec-sandbox-shape") {
			return err
		}
		return nil
	})
}

// TestManagerIdentityCreatesEveryJobTheControllerBuilds: every Job the
// controller's own builder makes, for each language and each option the
// manager can be configured with, is admitted for the manager's identity.
func TestManagerIdentityCreatesEveryJobTheControllerBuilds(t *testing.T) {
	mc := asManager(t)
	ns := newNamespace(t, nil)
	waitForShapePolicy(t, mc, ns)
	options := map[string]func(*controllers.JobOptions){
		"defaults":            func(*controllers.JobOptions) {},
		"pull policy Never":   func(o *controllers.JobOptions) { o.ImagePullPolicy = corev1.PullNever },
		"gVisor":              func(o *controllers.JobOptions) { o.RuntimeClassName = ptr.To("gvisor") },
		"Kueue":               func(o *controllers.JobOptions) { o.KueueQueueName = "team-a" },
		"short grace":         func(o *controllers.JobOptions) { o.DeadlineGraceSeconds = 4 },
		"smaller scratch":     func(o *controllers.JobOptions) { o.ScratchSizeLimit = resource.MustParse("64Mi") },
		"TTL after finishing": func(o *controllers.JobOptions) { o.TTLSecondsAfterFinished = ptr.To(int32(300)) },
	}
	n := 0
	for oname, opt := range options {
		for _, lang := range []execv1.Language{execv1.LanguagePython, execv1.LanguageSQL, execv1.LanguageJSX} {
			n++
			ce := shapeExecution(ns, lang, n)
			if lang == execv1.LanguagePython && oname == "defaults" {
				ce.Spec.Inputs = []execv1.ExecutionInput{{Name: "orders", ConfigMapKeyRef: execv1.ConfigMapKeyReference{Name: "orders", Key: "orders.csv"}}}
			}
			o := controllers.DefaultJobOptions()
			opt(&o)
			t.Run(oname+"/"+string(lang), func(t *testing.T) {
				if err := mc.Create(context.Background(), managerJob(t, ce, o), client.DryRunAll); err != nil {
					t.Fatalf("the manager cannot create the Job it builds: %v", err)
				}
			})
		}
	}
	t.Run("SQL without a datasource", func(t *testing.T) {
		ce := shapeExecution(ns, execv1.LanguageSQL, 500)
		ce.Spec.Datasource = nil
		if err := mc.Create(context.Background(), managerJob(t, ce, controllers.DefaultJobOptions()), client.DryRunAll); err != nil {
			t.Fatalf("the manager cannot create the Job it builds: %v", err)
		}
	})
	t.Run("a long name", func(t *testing.T) {
		ce := shapeExecution(ns, execv1.LanguagePython, 501)
		ce.Name = strings.Repeat("a", 70) + "-x"
		if err := mc.Create(context.Background(), managerJob(t, ce, controllers.DefaultJobOptions()), client.DryRunAll); err != nil {
			t.Fatalf("the manager cannot create the Job it builds: %v", err)
		}
	})
}

// TestManagerIdentityRefusesEveryOtherShape: the policy is default-deny;
// each mutation of a Job the controller builds is refused for the manager's
// identity, with a message naming the field.
func TestManagerIdentityRefusesEveryOtherShape(t *testing.T) {
	mc := asManager(t)
	ns := newNamespace(t, nil)
	waitForShapePolicy(t, mc, ns)
	type mutation struct {
		lang  execv1.Language
		field string // a part of the message that names the field
		mut   func(j *batchv1.Job)
	}
	py, sql, jsx := execv1.LanguagePython, execv1.LanguageSQL, execv1.LanguageJSX
	pod := func(j *batchv1.Job) *corev1.PodSpec { return &j.Spec.Template.Spec }
	c0 := func(j *batchv1.Job) *corev1.Container { return &j.Spec.Template.Spec.Containers[0] }
	vol := func(j *batchv1.Job, name string) *corev1.Volume {
		for i := range j.Spec.Template.Spec.Volumes {
			if j.Spec.Template.Spec.Volumes[i].Name == name {
				return &j.Spec.Template.Spec.Volumes[i]
			}
		}
		t.Fatalf("no volume %s", name)
		return nil
	}
	cases := map[string]mutation{
		"privileged": {jsx, "securityContext", func(j *batchv1.Job) {
			c0(j).SecurityContext.Privileged = ptr.To(true)
			c0(j).SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
		}},
		"another image":          {jsx, "image", func(j *batchv1.Job) { c0(j).Image = "busybox" }},
		"a command":              {jsx, "containers: fields outside the sandbox shape: runner.command", func(j *batchv1.Job) { c0(j).Command = []string{"/bin/sh", "-c", "id"} }},
		"no activeDeadline":      {jsx, "spec.activeDeadlineSeconds", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = nil }},
		"a huge activeDeadline":  {py, "spec.activeDeadlineSeconds", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To(int64(86400 * 365)) }},
		"--no-wall-clock":        {jsx, "--no-wall-clock", func(j *batchv1.Job) { c0(j).Args = append(c0(j).Args, "--no-wall-clock") }},
		"--no-wall-clock, judge": {py, "--no-wall-clock", func(j *batchv1.Job) { c0(j).Args = append(c0(j).Args, "--no-wall-clock") }},
		"a huge --max-stream-bytes": {sql, "--max-stream-bytes", func(j *batchv1.Job) {
			a := c0(j).Args
			a[len(a)-1] = "1099511627776"
		}},
		"the sandbox runs as run": {py, "containers: the python Pod", func(j *batchv1.Job) {
			pod(j).Containers[1].Args = c0(j).Args
		}},
		"no resource limits": {sql, "resources.limits", func(j *batchv1.Job) { c0(j).Resources = corev1.ResourceRequirements{} }},
		"no memory limit on the sandbox": {py, "resources.limits", func(j *batchv1.Job) {
			delete(pod(j).Containers[1].Resources.Limits, corev1.ResourceMemory)
			delete(pod(j).Containers[1].Resources.Requests, corev1.ResourceMemory)
		}},
		"scratch without sizeLimit": {jsx, "emptyDir.sizeLimit", func(j *batchv1.Job) { vol(j, "scratch").EmptyDir.SizeLimit = nil }},
		"a huge scratch":            {jsx, "emptyDir.sizeLimit", func(j *batchv1.Job) { vol(j, "scratch").EmptyDir.SizeLimit = ptr.To(resource.MustParse("1Ti")) }},
		"a tmpfs scratch without sizeLimit": {py, "emptyDir.sizeLimit", func(j *batchv1.Job) {
			vol(j, "scratch").EmptyDir = &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
		}},
		"an unbounded channel": {py, "emptyDir.sizeLimit", func(j *batchv1.Job) { vol(j, "channel").EmptyDir.SizeLimit = nil }},
		"an unbounded grace period": {jsx, "terminationGracePeriodSeconds", func(j *batchv1.Job) {
			pod(j).TerminationGracePeriodSeconds = ptr.To(int64(1 << 40))
		}},
		"an unlisted runtime class": {jsx, "runtimeClassName", func(j *batchv1.Job) { pod(j).RuntimeClassName = ptr.To("runc-unconfined") }},
		"a Secret in a Python Pod": {py, "volumes[datasource].secret", func(j *batchv1.Job) {
			pod(j).Volumes = append(pod(j).Volumes, corev1.Volume{Name: "datasource", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "db", Items: []corev1.KeyToPath{{Key: "dsn", Path: "dsn"}}}}})
		}},
		"a Python Pod relabelled sql": {py, "containers: the sql Pod", func(j *batchv1.Job) {
			j.Spec.Template.Labels[execv1.LabelLanguage] = "sql"
		}},
		"a Secret in a JSX Pod": {jsx, "volumes[datasource].secret", func(j *batchv1.Job) {
			pod(j).Volumes = append(pod(j).Volumes, corev1.Volume{Name: "datasource", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "db", Items: []corev1.KeyToPath{{Key: "dsn", Path: "dsn"}}}}})
		}},
		"a whole Secret": {sql, "volumes[datasource].secret", func(j *batchv1.Job) { vol(j, "datasource").Secret.Items = nil }},
		"another execution's uid": {jsx, "spec.template.metadata.labels", func(j *batchv1.Job) {
			j.Spec.Template.Labels[execv1.LabelExecutionUID] = "11111111-2222-3333-4444-555555555555"
		}},
		"a Job label of another execution": {jsx, "metadata.ownerReferences", func(j *batchv1.Job) {
			j.Labels[execv1.LabelExecutionUID] = "11111111-2222-3333-4444-555555555555"
		}},
		"no owner":           {jsx, "metadata.ownerReferences", func(j *batchv1.Job) { j.OwnerReferences = nil }},
		"an extra Pod label": {jsx, "spec.template.metadata.labels", func(j *batchv1.Job) { j.Spec.Template.Labels["app"] = "web" }},
		"root":               {jsx, "runAsUser", func(j *batchv1.Job) { c0(j).SecurityContext.RunAsUser = ptr.To(int64(0)) }},
		"the sandbox as the judge's uid": {py, "runAsUser", func(j *batchv1.Job) {
			pod(j).Containers[1].SecurityContext.RunAsUser = ptr.To(controllers.JudgeUID)
			pod(j).Containers[1].SecurityContext.RunAsGroup = ptr.To(controllers.JudgeUID)
		}},
		"capability added": {jsx, "securityContext", func(j *batchv1.Job) {
			c0(j).SecurityContext.Capabilities.Add = []corev1.Capability{"SYS_ADMIN"}
		}},
		"writable root": {jsx, "securityContext", func(j *batchv1.Job) { c0(j).SecurityContext.ReadOnlyRootFilesystem = ptr.To(false) }},
		"unconfined seccomp": {jsx, "securityContext", func(j *batchv1.Job) {
			c0(j).SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}},
		"unconfined Pod seccomp": {jsx, "spec.template.spec.securityContext", func(j *batchv1.Job) {
			pod(j).SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}},
		"service account token":   {jsx, "automountServiceAccountToken", func(j *batchv1.Job) { pod(j).AutomountServiceAccountToken = ptr.To(true) }},
		"another service account": {jsx, "serviceAccountName", func(j *batchv1.Job) { pod(j).ServiceAccountName = "admin" }},
		"host network":            {jsx, "hostNetwork", func(j *batchv1.Job) { pod(j).HostNetwork = true }},
		"host PID":                {py, "hostPID", func(j *batchv1.Job) { pod(j).HostPID = true }},
		"a node name":             {jsx, "nodeName", func(j *batchv1.Job) { pod(j).NodeName = "control-plane" }},
		"a toleration": {jsx, "tolerations", func(j *batchv1.Job) {
			pod(j).Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
		}},
		"hostPath": {jsx, "volumes", func(j *batchv1.Job) {
			pod(j).Volumes = append(pod(j).Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
		}},
		"projected token": {jsx, "projected", func(j *batchv1.Job) {
			v := vol(j, "task")
			v.Projected.Sources = append(v.Projected.Sources, corev1.VolumeProjection{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t"}})
		}},
		"projected Secret": {jsx, "projected", func(j *batchv1.Job) {
			v := vol(j, "task")
			v.Projected.Sources = append(v.Projected.Sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}})
		}},
		"a subPath mount": {jsx, "volumeMounts", func(j *batchv1.Job) { c0(j).VolumeMounts[1].SubPath = "x" }},
		"the datasource mounted in the sandbox": {py, "volumeMounts", func(j *batchv1.Job) {
			pod(j).Containers[1].VolumeMounts = append(pod(j).Containers[1].VolumeMounts, corev1.VolumeMount{Name: "task", MountPath: "/etc", ReadOnly: true})
		}},
		"host port": {jsx, "runner.ports", func(j *batchv1.Job) {
			c0(j).Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
		}},
		"an env from a Secret": {jsx, "env", func(j *batchv1.Job) {
			c0(j).Env = append(c0(j).Env, corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "dsn"}}})
		}},
		"an init container": {jsx, "initContainers", func(j *batchv1.Job) {
			c := *c0(j).DeepCopy()
			c.Name = "init"
			pod(j).InitContainers = []corev1.Container{c}
		}},
		"a second container": {jsx, "containers: the jsx Pod", func(j *batchv1.Job) {
			c := *c0(j).DeepCopy()
			c.Name = "sidecar"
			pod(j).Containers = append(pod(j).Containers, c)
		}},
		"an undeclared datasource Secret": {sql, "secretName: Secret payroll-db is not declared in spec.datasources of ExecutionPolicy it-datasources", func(j *batchv1.Job) {
			vol(j, "datasource").Secret.SecretName = "payroll-db"
		}},
		"no policies named": {jsx, "metadata.annotations[execution.codeexec.io/policies]", func(j *batchv1.Job) {
			delete(j.Annotations, controllers.AnnotationPolicies)
		}},
		"a selecting policy left out": {jsx, "ExecutionPolicy it-datasources selects namespace", func(j *batchv1.Job) {
			j.Annotations[controllers.AnnotationPolicies] = controllers.BaselinePolicyName
		}},
		"a cpu limit over the policy's maximum": {py, "containers[sandbox].resources.limits: over the Python maximum of ExecutionPolicy codeexec-baseline", func(j *batchv1.Job) {
			pod(j).Containers[1].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("16")
			pod(j).Containers[1].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("16")
		}},
		"a memory limit over the policy's maximum": {sql, "containers[runner].resources.limits: over the SQL maximum", func(j *batchv1.Job) {
			c0(j).Resources.Limits[corev1.ResourceMemory] = resource.MustParse("64Gi")
		}},
		"a deadline over the policy's maximum": {jsx, "spec.activeDeadlineSeconds: over the JSX maximum timeoutSeconds of ExecutionPolicy codeexec-baseline", func(j *batchv1.Job) {
			j.Spec.ActiveDeadlineSeconds = ptr.To(int64(3000))
		}},
		"no managed-by label (escaping the parameter bindings)": {jsx, "metadata.labels: the manager creates only jobs labelled", func(j *batchv1.Job) {
			delete(j.Labels, execv1.LabelManagedBy)
		}},
		"retries":     {jsx, "spec.parallelism, spec.completions, spec.backoffLimit", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To(int32(6)) }},
		"parallelism": {jsx, "spec.parallelism, spec.completions, spec.backoffLimit", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To(int32(50)) }},
		"restart on failure": {jsx, "restartPolicy", func(j *batchv1.Job) {
			pod(j).RestartPolicy = corev1.RestartPolicyOnFailure
		}},
		"a readiness probe": {jsx, "runner.readinessProbe", func(j *batchv1.Job) {
			c0(j).ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n := 100 + len(name) // any fixed UID will do: the creates are dry runs
			j := managerJob(t, shapeExecution(ns, tc.lang, n), controllers.DefaultJobOptions())
			tc.mut(j)
			err := mc.Create(context.Background(), j, client.DryRunAll)
			if err == nil {
				t.Fatalf("admitted")
			}
			if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
				t.Fatalf("create = %v, want refused", err)
			}
			if !strings.Contains(err.Error(), "codeexec-sandbox-shape") && !strings.Contains(err.Error(), "codeexec-sandbox-policy") &&
				!strings.Contains(err.Error(), "codeexec-manager-children") {
				t.Errorf("refused, but not by the codeexec admission policies: %v", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("the refusal does not name %q: %v", tc.field, err)
			}
		})
	}
	t.Run("a namespace no ExecutionPolicy selects", func(t *testing.T) {
		ctx := context.Background()
		bare := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "it-unselected-"}}
		if err := k8s.Create(ctx, bare); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), bare) })
		// What a compromised manager would build: the Job of a selected
		// namespace, placed in this one.
		j := managerJob(t, shapeExecution(ns, jsx, 997), controllers.DefaultJobOptions())
		j.Namespace = bare.Name
		err := mc.Create(ctx, j, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "is named but does not select namespace "+bare.Name) {
			t.Fatalf("create in an unselected namespace = %v, want refused naming the namespace", err)
		}
	})
	t.Run("the admin is not constrained", func(t *testing.T) {
		j := managerJob(t, shapeExecution(ns, jsx, 998), controllers.DefaultJobOptions())
		c0(j).SecurityContext.Privileged = ptr.To(true)
		c0(j).SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
		if err := k8s.Create(context.Background(), j, client.DryRunAll); err != nil {
			t.Errorf("the policy constrains an identity other than the manager's: %v", err)
		}
	})
}

// TestManagerRunnerImageMustMatchTheSandboxShapeParam: the manager's
// --runner-image and the admission policy's runnerImages come from one
// place: the manager checks the installed parameter at startup, and one
// that would refuse its Jobs stops it with a clear error.
func TestManagerRunnerImageMustMatchTheSandboxShapeParam(t *testing.T) {
	asManager(t) // installs config/admission/sandbox-shape.yaml with its parameter
	ctx := context.Background()
	found, err := controllers.VerifySandboxShape(ctx, k8s, controllers.SandboxShapeParam, controllers.DefaultJobOptions())
	if err != nil || !found {
		t.Fatalf("the shipped parameter and the manager's default --runner-image disagree: found=%t err=%v", found, err)
	}
	evil := controllers.DefaultJobOptions()
	evil.RunnerImage = "registry.example.com/evil:latest"
	found, err = controllers.VerifySandboxShape(ctx, k8s, controllers.SandboxShapeParam, evil)
	if !found || err == nil || !strings.Contains(err.Error(), "--runner-image registry.example.com/evil:latest is not among") {
		t.Fatalf("an image the policy refuses: found=%t err=%v, want a refusal naming it", found, err)
	}
	found, err = controllers.VerifySandboxShape(ctx, k8s, types.NamespacedName{Namespace: "codeexec-system", Name: "absent"}, evil)
	if found || err != nil {
		t.Fatalf("no parameter: found=%t err=%v, want not found and no error", found, err)
	}
}

// TestManagerIdentityCreatesAndDeletesOnlyItsChildren: the ConfigMaps and
// NetworkPolicies the controller builds are admitted for the manager's
// identity; anything else it could create with its role (the sandbox-shape
// parameter, an unowned ConfigMap, a NetworkPolicy that opens the sandbox)
// is refused, and it deletes only sandbox Jobs and Pods.
func TestManagerIdentityCreatesAndDeletesOnlyItsChildren(t *testing.T) {
	mc := asManager(t)
	ns := newNamespace(t, nil)
	waitForShapePolicy(t, mc, ns)
	ctx := context.Background()
	owned := func(ce *execv1.CodeExecution, obj client.Object) client.Object {
		if err := controllerutil.SetControllerReference(ce, obj, scheme); err != nil {
			t.Fatal(err)
		}
		return obj
	}
	ce := shapeExecution(ns, execv1.LanguageSQL, 700)
	py := shapeExecution(ns, execv1.LanguagePython, 701)
	limits := controllers.ResolveLimits(execv1.ExecutionLimits{}, controllers.BuiltinDefaults())
	task, err := controllers.BuildTaskConfigMap(ce, limits, controllers.SQLPermissions{})
	if err != nil {
		t.Fatal(err)
	}
	_, result, err := controllers.ResultStatus(ce, []byte(`[`+strings.Repeat(`{"k":"v"},`, 3000)+`{}]`), false)
	if err != nil || result == nil {
		t.Fatalf("building a stored result: %v", err)
	}
	eps := controllers.DeclaredEndpoints([]string{"127.0.0.1:3306", "[::1]:3307", "db.example.internal:3306"},
		func(string) ([]net.IP, error) { return []net.IP{net.ParseIP("10.1.2.3")}, nil })
	admitted := map[string]client.Object{
		"the task ConfigMap":           owned(ce, task),
		"the result ConfigMap":         owned(ce, result),
		"the SQL NetworkPolicy":        owned(ce, controllers.BuildNetworkPolicy(ce, eps)),
		"the Python NetworkPolicy":     owned(py, controllers.BuildNetworkPolicy(py, nil)),
		"a SQL NetworkPolicy, no DNS":  owned(ce, controllers.BuildNetworkPolicy(ce, eps[:2])),
		"a SQL NetworkPolicy, nothing": owned(ce, controllers.BuildNetworkPolicy(ce, nil)),
	}
	for name, obj := range admitted {
		t.Run("admitted/"+name, func(t *testing.T) {
			if err := mc.Create(ctx, obj.DeepCopyObject().(client.Object), client.DryRunAll); err != nil {
				t.Fatalf("the manager cannot create what it builds: %v", err)
			}
		})
	}
	np := func(mut func(*networkingv1.NetworkPolicy)) client.Object {
		p := owned(ce, controllers.BuildNetworkPolicy(ce, eps)).(*networkingv1.NetworkPolicy)
		mut(p)
		return p
	}
	tcp := corev1.ProtocolTCP
	refused := map[string]struct {
		field string
		obj   client.Object
	}{
		"the sandbox-shape parameter": {"metadata.namespace", &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: controllers.SandboxShapeParam.Namespace, Name: "codeexec-sandbox-shape-2", Labels: task.Labels},
			Data:       map[string]string{"runnerImages": "attacker/tools"}}},
		"an unlabelled ConfigMap": {"metadata.labels", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "loose"}}},
		"a ConfigMap of another execution": {"metadata.ownerReferences", func() client.Object {
			cm := task.DeepCopy()
			cm.Labels[execv1.LabelExecutionUID] = "11111111-2222-3333-4444-555555555555"
			return cm
		}()},
		"egress to everything": {"spec.egress", np(func(p *networkingv1.NetworkPolicy) {
			p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}}
		})},
		"egress to 0.0.0.0/0": {"spec.egress", np(func(p *networkingv1.NetworkPolicy) {
			p.Spec.Egress[0].To = []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}
		})},
		"egress on every port": {"spec.egress", np(func(p *networkingv1.NetworkPolicy) { p.Spec.Egress[0].Ports = nil })},
		"egress on a port range": {"spec.egress", np(func(p *networkingv1.NetworkPolicy) {
			p.Spec.Egress[0].Ports = []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(1)), EndPort: ptr.To(int32(65535))}}
		})},
		"egress to every Pod": {"spec.egress", np(func(p *networkingv1.NetworkPolicy) {
			p.Spec.Egress[0].To = []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}
		})},
		"ingress from everything": {"spec.ingress", np(func(p *networkingv1.NetworkPolicy) {
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{}}
		})},
		"egress type dropped": {"spec.ingress, spec.policyTypes", np(func(p *networkingv1.NetworkPolicy) {
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		})},
		"every Pod of the namespace": {"spec.podSelector", np(func(p *networkingv1.NetworkPolicy) {
			p.Spec.PodSelector = metav1.LabelSelector{}
		})},
		"another execution's Pod": {"spec.podSelector", np(func(p *networkingv1.NetworkPolicy) {
			p.Spec.PodSelector.MatchLabels[execv1.LabelExecutionUID] = "11111111-2222-3333-4444-555555555555"
		})},
	}
	for name, tc := range refused {
		t.Run("refused/"+name, func(t *testing.T) {
			err := mc.Create(ctx, tc.obj, client.DryRunAll)
			if err == nil {
				t.Fatal("admitted")
			}
			if !strings.Contains(err.Error(), "codeexec-manager-children") || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("create = %v, want refused by codeexec-manager-children naming %q", err, tc.field)
			}
		})
	}

	// Deletes: a bystander's Pod and Job are refused, the sandbox's admitted.
	sandboxLabels := map[string]string{execv1.LabelExecutionUID: string(ce.UID), execv1.LabelComponent: "sandbox", execv1.LabelManagedBy: execv1.ManagedByValue}
	pod := func(name string, labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	bystanderJob := managerJob(t, shapeExecution(ns, execv1.LanguageJSX, 702), controllers.DefaultJobOptions())
	bystanderJob.Labels = map[string]string{"app": "payroll"}
	bystanderJob.OwnerReferences = nil
	for _, obj := range []client.Object{pod("bystander", map[string]string{"app": "web"}), pod("sandbox", sandboxLabels), bystanderJob} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	for _, obj := range []client.Object{pod("bystander", nil), &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: bystanderJob.Name}}} {
		err := mc.Delete(ctx, obj, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "codeexec-manager-children") || !strings.Contains(err.Error(), "deletes only") {
			t.Errorf("deleting %s as the manager = %v, want refused", obj.GetName(), err)
		}
	}
	if err := mc.Delete(ctx, pod("sandbox", nil), client.DryRunAll); err != nil {
		t.Errorf("the manager cannot delete a sandbox Pod: %v", err)
	}
}

// TestManagerIdentityCannotRewriteRecordedStatus: what an execution's
// status records once (Job UID, limits, policies, sandbox settings) and a
// terminal outcome cannot be rewritten by the manager's identity.
func TestManagerIdentityCannotRewriteRecordedStatus(t *testing.T) {
	mc := asManager(t)
	ctx := context.Background()
	ns := newNamespace(t, nil)
	running := wrappers.MakeCodeExecution("recorded", ns).Language(execv1.LanguageJSX).Code("export default () => <div/>").Obj()
	if err := k8s.Create(ctx, running); err != nil {
		t.Fatal(err)
	}
	// No kubelet runs here: the execution waits for its Pod with its Job
	// UID, limits and policies recorded.
	eventually(t, waitFor, "the recorded Job UID", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(running), running); err != nil {
			return err
		}
		if running.Status.JobUID == "" || running.Status.Limits == nil {
			return fmt.Errorf("status %+v", running.Status)
		}
		return nil
	})
	finished := wrappers.MakeCodeExecution("finished", newUnselectedNamespace(t, nil)).Language(execv1.LanguageJSX).Code("x").Obj()
	if err := k8s.Create(ctx, finished); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "a terminal PolicyViolation", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(finished), finished); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(finished.Status.Conditions, execv1.ConditionSucceeded); c == nil || c.Status != metav1.ConditionFalse {
			return fmt.Errorf("conditions %+v", finished.Status.Conditions)
		}
		return nil
	})
	cases := map[string]struct {
		ce    *execv1.CodeExecution
		field string
		mut   func(*execv1.CodeExecutionStatus)
	}{
		"the Job UID":  {running, "status.jobUID", func(s *execv1.CodeExecutionStatus) { s.JobUID = "11111111-2222-3333-4444-555555555555" }},
		"the limits":   {running, "status.limits", func(s *execv1.CodeExecutionStatus) { s.Limits.CPU = ptr.To(resource.MustParse("64")) }},
		"the policies": {running, "status.policies", func(s *execv1.CodeExecutionStatus) { s.Policies = []string{"permissive"} }},
		"the sandbox": {running, "status.sandbox", func(s *execv1.CodeExecutionStatus) {
			s.Sandbox = &execv1.SandboxSettings{SQLSystemSchemas: true, SQLShow: true}
		}},
		"a terminal outcome made a success": {finished, "status.conditions[Succeeded]", func(s *execv1.CodeExecutionStatus) {
			meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: execv1.ConditionSucceeded, Status: metav1.ConditionTrue, Reason: "Completed", Message: "ok"})
		}},
		"a terminal outcome reopened": {finished, "status.conditions[Succeeded]", func(s *execv1.CodeExecutionStatus) {
			meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: execv1.ConditionSucceeded, Status: metav1.ConditionUnknown, Reason: "Pending", Message: "again"})
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ce := &execv1.CodeExecution{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(tc.ce), ce); err != nil {
				t.Fatal(err)
			}
			tc.mut(&ce.Status)
			err := mc.Status().Update(ctx, ce, client.DryRunAll)
			if err == nil || !strings.Contains(err.Error(), "codeexec-manager-status") || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("status update = %v, want refused by codeexec-manager-status naming %s", err, tc.field)
			}
		})
	}
	t.Run("an unchanged record is admitted", func(t *testing.T) {
		ce := &execv1.CodeExecution{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(running), ce); err != nil {
			t.Fatal(err)
		}
		ce.Status.Stdout = "x"
		if err := mc.Status().Update(ctx, ce, client.DryRunAll); err != nil {
			t.Fatalf("status update = %v", err)
		}
	})
}

// TestSandboxShapeParamMissingRefusesOnlyTheOperatorsJobs: without its
// parameter the sandbox-shape binding refuses the Jobs labelled as the
// operator's (fail closed for the manager), and no other Job of the
// cluster.
func TestSandboxShapeParamMissingRefusesOnlyTheOperatorsJobs(t *testing.T) {
	mc := asManager(t)
	ns := newNamespace(t, nil)
	waitForShapePolicy(t, mc, ns)
	ctx := context.Background()
	param := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, controllers.SandboxShapeParam, param); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, param); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		param.ResourceVersion, param.UID, param.CreationTimestamp, param.ManagedFields = "", "", metav1.Time{}, nil
		if err := k8s.Create(context.Background(), param); err != nil {
			t.Errorf("restoring the parameter: %v", err)
		}
		waitForShapePolicy(t, mc, ns)
		eventually(t, waitFor, "the manager's Jobs admitted again", func() error {
			return mc.Create(context.Background(), managerJob(t, shapeExecution(ns, execv1.LanguageJSX, 801), controllers.DefaultJobOptions()), client.DryRunAll)
		})
	})
	job := managerJob(t, shapeExecution(ns, execv1.LanguageJSX, 800), controllers.DefaultJobOptions())
	eventually(t, waitFor, "the manager's Job refused for want of the parameter", func() error {
		err := mc.Create(ctx, job.DeepCopy(), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "no params found") {
			return fmt.Errorf("create = %v", err)
		}
		return nil
	})
	other := job.DeepCopy()
	other.Labels = map[string]string{"app": "nightly-report"}
	other.OwnerReferences = nil
	other.Spec.Template.Labels = map[string]string{"app": "nightly-report"}
	other.Spec.Template.Spec.Containers[0].Image = "busybox"
	if err := k8s.Create(ctx, other, client.DryRunAll); err != nil {
		t.Errorf("another workload's Job is refused while the parameter is missing: %v", err)
	}
}
