//go:build e2e

// Package e2e runs executions on a real node: kubelet, containerd and runc
// run the runner image with real cgroup limits and deadlines. `make
// test-e2e` brings the local cluster up (hack/cluster-up.sh) and points
// KUBECONFIG at it; the manager runs as a process of its own, outside the
// cluster, as `make run` would. The tests assert cluster physics: what the
// kernel enforced, what really ran.
package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/testutil/suite"
)

var (
	scheme      = k8sruntime.NewScheme()
	k8s         client.Client
	clientset   *kubernetes.Clientset
	managerBin  string
	manager     *exec.Cmd
	runnerImage = envOr("RUNNER_IMAGE", "codeexec.io/runner:dev")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(execv1.AddToScheme(scheme))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestMain(m *testing.M) {
	if os.Getenv("KUBECONFIG") == "" {
		fmt.Fprintln(os.Stderr, "e2e: KUBECONFIG is not set: run `make test-e2e` (it brings the local cluster up)")
		os.Exit(1)
	}
	code := func() int {
		if err := setup(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
			return 1
		}
		defer stopManager()
		return m.Run()
	}()
	os.Exit(code)
}

func setup() error {
	cfg, err := config.GetConfig()
	if err != nil {
		return err
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	if clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	managerBin = filepath.Join(repoRoot(), "bin", "manager-e2e")
	build := exec.Command("go", "build", "-o", managerBin, ".")
	build.Dir, build.Stdout, build.Stderr = repoRoot(), os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the manager: %w", err)
	}
	return startManager()
}

// startManager starts the manager binary against the cluster.
func startManager(extra ...string) error {
	args := append([]string{
		"--runner-image", runnerImage, "--runner-image-pull-policy", "Never",
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0",
		// The Job's deadline counts from the Job's start, Pod scheduling
		// and container start included; on a loaded two-core node 20 Pods
		// can take longer than the default 15 s grace to start, which is
		// not what these tests look at. A later flag overrides this one.
		"--deadline-grace-seconds", "60",
	}, extra...)
	// As the deployed manager: its service account, judged by the
	// admission policies bound to it (hack/test-e2e.sh writes this
	// kubeconfig). A testing-only flag whose Jobs those policies refuse
	// (--testing-disable-runner-wall-clock) runs with the caller's
	// credentials instead.
	if kc := os.Getenv("E2E_MANAGER_KUBECONFIG"); kc != "" && !slices.Contains(extra, "--testing-disable-runner-wall-clock") {
		args = append(args, "--kubeconfig", kc)
	}
	cmd := exec.Command(managerBin, args...)
	logf, err := os.OpenFile(filepath.Join(repoRoot(), "bin", "manager-e2e.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the manager: %w", err)
	}
	manager = cmd
	return nil
}

// killManager SIGKILLs the manager, as a node failure would.
func killManager() {
	if manager != nil && manager.Process != nil {
		_ = manager.Process.Signal(syscall.SIGKILL)
		_, _ = manager.Process.Wait()
		manager = nil
	}
}

func stopManager() {
	if manager != nil && manager.Process != nil {
		_ = manager.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = manager.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			killManager()
		}
		manager = nil
	}
}

// newNamespace creates a namespace and waits for its default
// ServiceAccount, without which Pods cannot be created.
func newNamespace(t testing.TB, labels map[string]string) string {
	t.Helper()
	ctx := context.Background()
	// Opted in to the baseline ExecutionPolicy that hack/test-e2e.sh applies.
	l := map[string]string{execv1.LabelExecutionsEnabled: "true"}
	for k, v := range labels {
		l[k] = v
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-", Labels: l}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() || os.Getenv("E2E_KEEP") == "" {
			_ = k8s.Delete(context.Background(), ns)
		}
	})
	eventually(t, 60*time.Second, "the default ServiceAccount", func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "default"}, &corev1.ServiceAccount{})
	})
	return ns.Name
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	suite.Eventually(t, 200*time.Millisecond, timeout, what, cond)
}

func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	s := string(b)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
