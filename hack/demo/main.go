// Command demo runs the three samples of config/samples on the cluster
// KUBECONFIG points at and prints their results as a user reads them. It
// is the Go half of hack/demo.sh (which brings the cluster and the manager
// up): it starts a throw-away MariaDB with sample data for the SQL sample,
// applies the samples into a namespace of its own, waits for each
// execution to end, prints `kubectl get cx` and the results, and cleans up.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/yaml"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/testutil/mariadb"
)

func main() {
	var (
		dbAddress, kubectl, outDir string
		keep                       bool
		timeout                    time.Duration
	)
	flag.StringVar(&dbAddress, "db-address", "", "address of this machine that the cluster's Pods reach; MariaDB listens there")
	flag.StringVar(&kubectl, "kubectl", "kubectl", "kubectl binary")
	flag.StringVar(&outDir, "out", "bin/demo", "where to write the JSX documents")
	flag.BoolVar(&keep, "keep", false, "keep the namespace and its executions")
	flag.DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the executions")
	flag.Parse()
	if err := run(dbAddress, kubectl, outDir, keep, timeout); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(dbAddress, kubectl, outDir string, keep bool, timeout time.Duration) error {
	ctx := context.Background()
	scheme := k8sruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(execv1.AddToScheme(scheme))
	cfg, err := config.GetConfig()
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	opts := mariadb.Options{Schema: "hack/demo/shop.sql", Database: "shop", BindAddress: dbAddress}
	if dbAddress == "" {
		opts.TCP = true
	}
	db, err := mariadb.New(opts)
	if db != nil {
		defer db.Stop()
	}
	if err != nil {
		return fmt.Errorf("starting MariaDB: %w", err)
	}
	step("MariaDB %s with the sample shop listens on %s:%d", db.Version, db.Host, db.Port)

	// Opted in to the baseline ExecutionPolicy (make install applies it).
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "codeexec-demo-",
		Labels: map[string]string{execv1.LabelExecutionsEnabled: "true"}}}
	if err := c.Create(ctx, ns); err != nil {
		return err
	}
	if !keep {
		defer func() { _ = c.Delete(context.Background(), ns) }()
	}
	step("namespace %s", ns.Name)
	// The manager reads no Secret: a policy declares the SQL sample's
	// datasource and the one endpoint its DSN may name.
	pol := &execv1.ExecutionPolicy{ObjectMeta: metav1.ObjectMeta{Name: ns.Name}, Spec: execv1.ExecutionPolicySpec{
		NamespaceSelector: execv1.NamespaceSelector{MatchLabels: map[string]execv1.LabelValue{"kubernetes.io/metadata.name": execv1.LabelValue(ns.Name)}},
		Datasources: []execv1.DatasourcePolicy{{SecretName: "analytics-db",
			Endpoints: []string{net.JoinHostPort(db.Host, strconv.Itoa(db.Port))}}},
	}}
	if err := c.Create(ctx, pol); err != nil {
		return fmt.Errorf("creating the demo's ExecutionPolicy: %w", err)
	}
	if !keep {
		defer func() { _ = c.Delete(context.Background(), pol) }()
	}
	step("ExecutionPolicy %s declares analytics-db at %s:%d", pol.Name, db.Host, db.Port)
	deadline := time.Now().Add(time.Minute)
	for c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "default"}, &corev1.ServiceAccount{}) != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s has no default ServiceAccount after a minute", ns.Name)
		}
		time.Sleep(200 * time.Millisecond)
	}

	names, err := applySamples(ctx, c, ns.Name, db.ReadOnlyTCPDSN())
	if err != nil {
		return err
	}
	step("applied config/samples: %s", strings.Join(names, ", "))

	deadline = time.Now().Add(timeout)
	for _, name := range names {
		for {
			ce := &execv1.CodeExecution{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: name}, ce); err != nil {
				return err
			}
			if cond := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded); cond != nil && cond.Status != metav1.ConditionUnknown {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not finish within %s", name, timeout)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	fmt.Printf("\n$ kubectl get cx -n %s\n", ns.Name)
	get := exec.Command(kubectl, "get", "cx", "-n", ns.Name)
	get.Stdout, get.Stderr = os.Stdout, os.Stderr
	if err := get.Run(); err != nil {
		return fmt.Errorf("kubectl get cx: %w", err)
	}
	failed := 0
	for _, name := range names {
		ce := &execv1.CodeExecution{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: name}, ce); err != nil {
			return err
		}
		if !printResult(ctx, c, ce, outDir) {
			failed++
		}
	}
	if keep {
		step("kept namespace %s", ns.Name)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d executions did not succeed", failed, len(names))
	}
	return nil
}

// applySamples creates the objects of config/samples in ns, pointing the
// SQL sample's Secret at the demo's MariaDB. It returns the executions'
// names in file order.
func applySamples(ctx context.Context, c client.Client, ns, dsn string) ([]string, error) {
	files, err := filepath.Glob("config/samples/*.yaml")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, "kustomization.yaml") || strings.Contains(f, "executionpolicy") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			obj.SetNamespace(ns)
			if obj.GetKind() == "Secret" {
				_ = unstructured.SetNestedField(obj.Object, map[string]any{"dsn": dsn}, "stringData")
			}
			if err := c.Create(ctx, obj); err != nil {
				return nil, fmt.Errorf("%s: creating %s %s: %w", f, obj.GetKind(), obj.GetName(), err)
			}
			if obj.GetKind() == "CodeExecution" {
				names = append(names, obj.GetName())
			}
		}
	}
	return names, nil
}

func printResult(ctx context.Context, c client.Client, ce *execv1.CodeExecution, outDir string) bool {
	cond := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
	fmt.Printf("\n== %s (%s): %s", ce.Name, ce.Spec.Language, cond.Reason)
	if ce.Status.Duration != nil {
		fmt.Printf(" in %s", ce.Status.Duration.Duration)
	}
	fmt.Println()
	if cond.Status != metav1.ConditionTrue {
		fmt.Printf("   %s\n", cond.Message)
		if ce.Status.Stderr != "" {
			fmt.Printf("   stderr: %s\n", ce.Status.Stderr)
		}
		return false
	}
	payload, err := resultOf(ctx, c, ce)
	if err != nil {
		fmt.Printf("   result unreadable: %v\n", err)
		return false
	}
	switch ce.Spec.Language {
	case execv1.LanguageSQL:
		var r struct {
			SQL     string `json:"sql"`
			Columns []struct{ Name, Type string }
			Rows    [][]any
		}
		if err := json.Unmarshal(payload, &r); err != nil {
			fmt.Printf("   %s\n", payload)
			return true
		}
		fmt.Printf("   sent: %s\n", r.SQL)
		w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		var head []string
		for _, col := range r.Columns {
			head = append(head, col.Name)
		}
		fmt.Fprintf(w, "   %s\n", strings.Join(head, "\t"))
		for _, row := range r.Rows {
			var cells []string
			for _, v := range row {
				cells = append(cells, fmt.Sprint(v))
			}
			fmt.Fprintf(w, "   %s\n", strings.Join(cells, "\t"))
		}
		_ = w.Flush()
	case execv1.LanguageJSX:
		var r struct {
			HTML     string `json:"html"`
			Manifest struct {
				Sandbox string `json:"sandbox"`
				SHA256  string `json:"sha256"`
			} `json:"manifest"`
		}
		_ = json.Unmarshal(payload, &r)
		_ = os.MkdirAll(outDir, 0o755)
		path := filepath.Join(outDir, ce.Name+".html")
		_ = os.WriteFile(path, []byte(r.HTML), 0o644)
		fmt.Printf("   a %d-byte document for <iframe sandbox=%q srcdoc=...>, sha256 %s\n", len(r.HTML), r.Manifest.Sandbox, r.Manifest.SHA256)
		fmt.Printf("   written to %s; web/host.html shows how a page embeds it (served with its script-src filled by jsxbuild.FillHostPage)\n", path)
	default:
		var v any
		_ = json.Unmarshal(payload, &v)
		pretty, _ := json.MarshalIndent(v, "   ", "  ")
		fmt.Printf("   result: %s\n", pretty)
		if ce.Status.Stdout != "" {
			fmt.Printf("   stdout: %s", ce.Status.Stdout)
		}
	}
	return true
}

func resultOf(ctx context.Context, c client.Client, ce *execv1.CodeExecution) ([]byte, error) {
	r := ce.Status.Result
	if r == nil {
		return nil, fmt.Errorf("no result in status")
	}
	if r.ConfigMapName == "" {
		return []byte(r.Inline), nil
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ce.Namespace, Name: r.ConfigMapName}, cm); err != nil {
		return nil, err
	}
	return controllers.DecodeStoredResult(cm, r)
}

func step(format string, args ...any) {
	fmt.Printf("demo: "+format+"\n", args...)
}
