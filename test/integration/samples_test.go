package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestSamplesAreValid creates every object of config/samples with a
// server-side dry run, so that the samples the README points at are
// accepted by the real API server and its CEL rules.
func TestSamplesAreValid(t *testing.T) {
	ns := newNamespace(t, nil)
	files, err := filepath.Glob(filepath.Join(repoRoot(), "config", "samples", "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("samples: %v %v", files, err)
	}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			if obj.GetKind() != "ExecutionPolicy" {
				obj.SetNamespace(ns)
			} else {
				obj.SetName(obj.GetName() + "-dry-run") // the baseline is installed
			}
			if err := k8s.Create(context.Background(), obj, client.DryRunAll); err != nil {
				t.Errorf("%s: %s %s is refused: %v", filepath.Base(f), obj.GetKind(), obj.GetName(), err)
			}
		}
	}
}
