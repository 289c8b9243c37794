// Command manager runs the codeexec-operator controllers.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	// +kubebuilder:scaffold:imports
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(execv1.AddToScheme(scheme))
	// +kubebuilder:scaffold:scheme
}

func main() {
	var (
		metricsAddr, probeAddr, scratch, pullPolicy string
		shapeParam                                  string
		enableLeaderElection, secureMetrics         bool
		allowUnselected                             bool
		ttl, grace, workers                         int
	)
	jobOpts := controllers.DefaultJobOptions()
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "The address the metrics endpoint binds to; 0 disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", false, "Serve metrics over HTTPS.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the health and readiness probes bind to.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false, "Enable leader election, so that only one manager is active.")
	flag.StringVar(&jobOpts.RunnerImage, "runner-image", jobOpts.RunnerImage, "The image of the sandbox Pod.")
	flag.StringVar(&pullPolicy, "runner-image-pull-policy", "IfNotPresent", "The pull policy of the runner image: Always, IfNotPresent or Never.")

	flag.IntVar(&grace, "deadline-grace-seconds", int(jobOpts.DeadlineGraceSeconds), "Seconds added to timeoutSeconds for the Job's activeDeadlineSeconds.")
	flag.IntVar(&workers, "max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles, "How many executions are reconciled at once.")
	flag.BoolVar(&jobOpts.DisableRunnerWallClock, "testing-disable-runner-wall-clock", false, "Testing only: turn the runner's wall clock off so that the Job's activeDeadlineSeconds alone ends a run.")
	flag.StringVar(&scratch, "scratch-size-limit", jobOpts.ScratchSizeLimit.String(), "The size limit of the sandbox's scratch emptyDir.")
	flag.Int64Var(&jobOpts.SandboxUIDBase, "sandbox-uid-base", jobOpts.SandboxUIDBase, "First uid of the range Python code runs as (one uid per execution).")
	flag.Int64Var(&jobOpts.SandboxUIDCount, "sandbox-uid-count", jobOpts.SandboxUIDCount, "Size of the sandbox uid range.")
	flag.IntVar(&ttl, "job-ttl-seconds-after-finished", 300, "Deprecated and ignored: the controller deletes an execution's Job and Pod as soon as the execution ends.")
	flag.BoolVar(&allowUnselected, "allow-unselected-namespaces", false, "Let a namespace that no ExecutionPolicy selects run executions under the built-in defaults. Off: such a namespace runs nothing.")
	opts := zap.Options{Development: false}
	flag.StringVar(&shapeParam, "sandbox-shape-param", controllers.SandboxShapeParam.String(), "namespace/name of the sandbox-shape admission policy's parameter ConfigMap; the manager refuses to start when it exists and does not list --runner-image. Empty skips the check.")
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	q, err := resource.ParseQuantity(scratch)
	if err != nil {
		setupLog.Error(err, "Invalid --scratch-size-limit")
		os.Exit(2)
	}
	jobOpts.ScratchSizeLimit = q
	jobOpts.ImagePullPolicy = corev1.PullPolicy(pullPolicy)
	jobOpts.DeadlineGraceSeconds = int32(grace)

	cfg := ctrl.GetConfigOrDie()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		Metrics: metricsserver.Options{
			BindAddress:   metricsAddr,
			SecureServing: secureMetrics,
			TLSOpts:       []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
		},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         enableLeaderElection,
		LeaderElectionID:       "codeexec-operator.execution.codeexec.io",
		// ExecutionPolicies are read as unstructured data (one that does
		// not decode must not fail the others): serve them from the cache.
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		Cache:  controllers.CacheOptions(),
	})
	if err != nil {
		setupLog.Error(err, "Unable to create the manager")
		os.Exit(1)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		setupLog.Error(err, "Unable to create a clientset")
		os.Exit(1)
	}
	r := &controllers.CodeExecutionReconciler{
		Client:    mgr.GetClient(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("codeexecution-controller"),
		Logs:      controllers.ClientsetLogReader{Clientset: cs},
		Clock:     clock.RealClock{},
		Job:       jobOpts,
		Bounds:    controllers.DefaultBounds(),
		APIReader: mgr.GetAPIReader(),

		MaxConcurrentReconciles:   workers,
		AllowUnselectedNamespaces: allowUnselected,
	}
	if err := checkSandboxShape(mgr.GetAPIReader(), shapeParam, jobOpts); err != nil {
		setupLog.Error(err, "Refusing to start: the sandbox-shape admission policy would refuse every Job")
		os.Exit(1)
	}
	if ttl != 300 {
		setupLog.Info("--job-ttl-seconds-after-finished is ignored: the controller deletes an execution's Job as soon as the execution ends")
	}
	if err := r.SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Unable to create the controller", "controller", "CodeExecution")
		os.Exit(1)
	}
	if err := (&controllers.ExecutionPolicyReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("executionpolicy-controller")}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Unable to create the controller", "controller", "ExecutionPolicy")
		os.Exit(1)
	}
	// +kubebuilder:scaffold:builder

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the ready check")
		os.Exit(1)
	}
	setupLog.Info("Starting manager", "runnerImage", jobOpts.RunnerImage)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "Problem running the manager")
		os.Exit(1)
	}
}

// checkSandboxShape makes the sandbox-shape admission policy's runner
// images and --runner-image one source of truth: the manager starts only
// if the policy's parameter (namespace/name in param) allows its image, or
// does not exist (the policy is not installed, or not yet: logged).
func checkSandboxShape(c client.Reader, param string, o controllers.JobOptions) error {
	if param == "" {
		return nil
	}
	ns, name, ok := strings.Cut(param, "/")
	if !ok || ns == "" || name == "" {
		return fmt.Errorf("--sandbox-shape-param %q is not namespace/name", param)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	found, err := controllers.VerifySandboxShape(ctx, c, types.NamespacedName{Namespace: ns, Name: name}, o)
	if err == nil && !found {
		setupLog.Info("The sandbox-shape admission policy's parameter does not exist; not checking the Job options against it", "param", param)
	}
	return err
}
