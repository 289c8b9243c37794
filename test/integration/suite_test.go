// Package integration runs the controller against a real kube-apiserver
// and etcd (envtest; binaries from hack/envtest-assets.sh). No Job
// controller or kubelet runs there, so the tests play their parts: they
// create the Job's Pod, set Pod and Job status, and serve the runner's
// container log from a stand-in kubelet endpoint that the real API server
// proxies pods/log requests to.
package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
)

const nodeName = "stand-in-node"

var (
	scheme    = k8sruntime.NewScheme()
	cfg       *rest.Config
	k8s       client.Client
	clientset *kubernetes.Clientset
	kubelet   = &standInKubelet{logs: map[string]string{}}
	mgrStop   context.CancelFunc
	mgrDone   chan struct{}
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(execv1.AddToScheme(scheme))
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "integration: KUBEBUILDER_ASSETS is not set: run `make test` (it builds kube-apiserver and etcd with hack/envtest-assets.sh)")
		os.Exit(1)
	}
	logTo := io.Discard
	if os.Getenv("INTEGRATION_VERBOSE") != "" {
		logTo = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(logTo)))
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: starting envtest: %v\n", err)
		os.Exit(1)
	}
	code := func() int {
		defer func() { _ = env.Stop() }()
		if err := setup(); err != nil {
			fmt.Fprintf(os.Stderr, "integration: %v\n", err)
			return 1
		}
		defer stopManager()
		return m.Run()
	}()
	os.Exit(code)
}

func setup() error {
	var err error
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	if clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	srv := httptest.NewUnstartedServer(kubelet)
	srv.TLS = &tls.Config{}
	srv.StartTLS()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}}
	if err := k8s.Create(ctx, node); err != nil {
		return fmt.Errorf("creating the stand-in node: %w", err)
	}
	node.Status = corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(p)}},
		Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	if err := k8s.Status().Update(ctx, node); err != nil {
		return fmt.Errorf("setting the stand-in node's status: %w", err)
	}
	if err := applyYAML(ctx, filepath.Join(repoRoot(), "config", "admission", "execution-policy.yaml")); err != nil {
		return fmt.Errorf("installing the admission policy: %w", err)
	}
	// As `make install`: the baseline policy, which selects namespaces
	// labelled execution.codeexec.io/enabled=true (newNamespace sets it).
	if err := applyYAML(ctx, filepath.Join(repoRoot(), "config", "samples", "baseline-executionpolicy.yaml")); err != nil {
		return fmt.Errorf("installing the baseline policy: %w", err)
	}
	// The datasources the tests' opted-in namespaces use.
	if err := k8s.Create(ctx, &execv1.ExecutionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "it-datasources"},
		Spec: execv1.ExecutionPolicySpec{
			NamespaceSelector: execv1.NamespaceSelector{MatchLabels: map[string]execv1.LabelValue{execv1.LabelExecutionsEnabled: "true"}},
			Datasources: []execv1.DatasourcePolicy{
				{SecretName: "db", Endpoints: []string{"127.0.0.1:3306"}},
				{SecretName: "analytics-db", Endpoints: []string{"mariadb.example.internal:3306"}}, // config/samples
			},
		},
	}); err != nil {
		return fmt.Errorf("creating the datasource policy: %w", err)
	}
	return startManager()
}

// applyYAML creates every object of a multi-document YAML file.
func applyYAML(ctx context.Context, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := k8s.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// startManager starts a manager with the controller, as main.go does.
func startManager() error {
	mcfg := rest.CopyConfig(cfg)
	mcfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return apiCalls.wrap(rt) }
	mgr, err := ctrl.NewManager(mcfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Client:  client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		// Tests restart the manager in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		// The cache main.go uses: labelled Jobs, Pods and ConfigMaps only.
		Cache: controllers.CacheOptions(),
	})
	if err != nil {
		return err
	}
	r := &controllers.CodeExecutionReconciler{
		Client:   mgr.GetClient(),
		Scheme:   mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("codeexecution-controller"),
		Logs:     controllers.ClientsetLogReader{Clientset: clientset},
		Clock:    clock.RealClock{},
		Job:      controllers.DefaultJobOptions(),
		Bounds:   testBounds(),
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&controllers.ExecutionPolicyReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("executionpolicy-controller")}).SetupWithManager(mgr); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "integration: manager: %v\n", err)
		}
	}()
	mgrStop, mgrDone = cancel, done
	return nil
}

// callCounter counts the manager's requests to the API server, by verb
// and resource, watches excluded.
type callCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

var apiCalls = &callCounter{}

type countingRT struct {
	c  *callCounter
	rt http.RoundTripper
}

func (c *callCounter) wrap(rt http.RoundTripper) http.RoundTripper { return countingRT{c, rt} }

func (t countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Query().Get("watch") != "true" {
		key := r.Method + " " + resourceOf(r.URL.Path)
		t.c.mu.Lock()
		if t.c.counts == nil {
			t.c.counts = map[string]int{}
		}
		t.c.counts[key]++
		t.c.mu.Unlock()
	}
	return t.rt.RoundTrip(r)
}

// resourceOf keeps the resource (and subresource) of an API path.
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		switch parts[i] {
		case "status", "log":
			if i > 1 {
				return parts[i-2] + "/" + parts[i]
			}
		}
	}
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			return parts[i+2]
		}
	}
	return parts[len(parts)-1]
}

// reset clears the counts and returns them.
func (c *callCounter) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = map[string]int{}
	return out
}

// testBounds are the manager's bounds, except that a Job without a Pod has
// its events read at once.
func testBounds() controllers.Bounds {
	b := controllers.DefaultBounds()
	b.CreateFailureAfter = 0
	return b
}

func stopManager() {
	if mgrStop != nil {
		mgrStop()
		<-mgrDone
		mgrStop = nil
	}
}

// standInKubelet serves /containerLogs/{ns}/{pod}/{container} as the
// kubelet does, for the API server's pods/log proxy.
type standInKubelet struct {
	mu       sync.Mutex
	logs     map[string]string
	failing  map[string]bool
	requests int
}

// fail makes the log of a Pod fail with 500, as an unreachable kubelet or
// a rotated log does.
func (k *standInKubelet) fail(ns, pod string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failing == nil {
		k.failing = map[string]bool{}
	}
	k.failing[ns+"/"+pod] = true
}

func (k *standInKubelet) setLog(ns, pod, log string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.logs[ns+"/"+pod] = log
}

func (k *standInKubelet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if len(parts) != 3 || !strings.HasPrefix(r.URL.Path, "/containerLogs/") {
		http.NotFound(w, r)
		return
	}
	k.mu.Lock()
	k.requests++
	log, ok := k.logs[parts[0]+"/"+parts[1]]
	failing := k.failing[parts[0]+"/"+parts[1]]
	k.mu.Unlock()
	if failing {
		http.Error(w, "the kubelet cannot read the log", http.StatusInternalServerError)
		return
	}
	if !ok {
		http.Error(w, "container not found", http.StatusNotFound)
		return
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("tailLines")); err == nil {
		lines := strings.SplitAfter(log, "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		log = strings.Join(lines, "")
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("limitBytes")); err == nil && n < len(log) {
		log = log[:n]
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(log))
}

// eventually polls cond until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %v", what, err)
}
