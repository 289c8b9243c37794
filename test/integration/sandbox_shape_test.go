package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// The manager's identity can create the Jobs it builds, and nothing else.
func TestManagerIdentityCreatesOnlySandboxJobs(t *testing.T) {
	mc := asManager(t)
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("shape", ns).Language(execv1.LanguageSQL).Code("SELECT 1").Datasource("db", "dsn").Obj()
	ce.UID = "0f0f0f0f-0000-0000-0000-000000000001"
	limits := controllers.ResolveLimits(execv1.ExecutionLimits{}, controllers.BuiltinDefaults())
	sandbox := func(mut func(*corev1.PodSpec)) *batchv1.Job {
		j := controllers.BuildJob(ce, limits, controllers.DefaultJobOptions())
		mut(&j.Spec.Template.Spec)
		return j
	}
	create := func(j *batchv1.Job) error { return mc.Create(context.Background(), j, client.DryRunAll) }
	privileged := sandbox(func(p *corev1.PodSpec) {
		p.Containers[0].SecurityContext.Privileged = ptr.To(true)
		p.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
	})
	// The API server loads admission policies asynchronously.
	eventually(t, waitFor, "the sandbox-shape policy to take effect", func() error {
		err := create(privileged.DeepCopy())
		if err == nil {
			return fmt.Errorf("a privileged Job was admitted")
		}
		if !strings.Contains(err.Error(), "codeexec-sandbox-shape") {
			return err
		}
		return nil
	})
	if err := create(sandbox(func(*corev1.PodSpec) {})); err != nil {
		t.Fatalf("the manager cannot create the Job it builds: %v", err)
	}
	second := func(p *corev1.PodSpec) corev1.Container {
		c := *p.Containers[0].DeepCopy()
		c.Name = "sandbox"
		c.SecurityContext.RunAsUser = ptr.To(int64(65533))
		return c
	}
	if err := create(sandbox(func(p *corev1.PodSpec) { p.Containers = append(p.Containers, second(p)) })); err != nil {
		t.Errorf("a second hardened runner-image container is refused: %v", err)
	}
	cases := map[string]func(*corev1.PodSpec){
		"privileged": func(p *corev1.PodSpec) {
			p.Containers[0].SecurityContext.Privileged = ptr.To(true)
			p.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
		},
		"another image": func(p *corev1.PodSpec) { p.Containers[0].Image = "busybox" },
		"a second container, other image": func(p *corev1.PodSpec) {
			c := second(p)
			c.Image = "attacker/tools"
			p.Containers = append(p.Containers, c)
		},
		"a privileged init container": func(p *corev1.PodSpec) {
			c := second(p)
			c.SecurityContext.Privileged = ptr.To(true)
			c.SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
			p.InitContainers = append(p.InitContainers, c)
		},
		"root": func(p *corev1.PodSpec) { p.Containers[0].SecurityContext.RunAsUser = ptr.To(int64(0)) },
		"capability added": func(p *corev1.PodSpec) {
			p.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"SYS_ADMIN"}
		},
		"writable root": func(p *corev1.PodSpec) { p.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr.To(false) },
		"unconfined seccomp": func(p *corev1.PodSpec) {
			p.Containers[0].SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		},
		"service account token":   func(p *corev1.PodSpec) { p.AutomountServiceAccountToken = ptr.To(true) },
		"another service account": func(p *corev1.PodSpec) { p.ServiceAccountName = "admin" },
		"host network":            func(p *corev1.PodSpec) { p.HostNetwork = true },
		"host PID":                func(p *corev1.PodSpec) { p.HostPID = true },
		"hostPath": func(p *corev1.PodSpec) {
			p.Volumes = append(p.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
		},
		"projected token": func(p *corev1.PodSpec) {
			p.Volumes = append(p.Volumes, corev1.Volume{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t"}}}}}})
		},
		"host port": func(p *corev1.PodSpec) {
			p.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
		},
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			err := create(sandbox(mut))
			if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
				t.Fatalf("create = %v, want refused", err)
			}
			if !strings.Contains(err.Error(), "codeexec-sandbox-shape") {
				t.Errorf("refused, but not by the sandbox-shape policy: %v", err)
			}
		})
	}
	t.Run("the admin is not constrained", func(t *testing.T) {
		if err := k8s.Create(context.Background(), privileged.DeepCopy(), client.DryRunAll); err != nil {
			t.Errorf("the policy constrains an identity other than the manager's: %v", err)
		}
	})
}
