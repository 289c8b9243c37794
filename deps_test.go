package main

import (
	"os/exec"
	"strings"
	"testing"
)

// goListDeps returns the non-standard packages pkg links, as go list sees
// them with the test's own toolchain.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, msg)
	}
	return strings.Fields(string(out))
}

// TestManagerLinksNoLanguagePackage: the manager imports the runner's
// contract (internal/result) but none of the runner's language packages,
// whose init() child hooks and parsers have no business in the process
// that holds the cluster credentials.
func TestManagerLinksNoLanguagePackage(t *testing.T) {
	forbidden := []string{
		"github.com/evanw/esbuild",
		"vitess.io/",
		"github.com/codeexec/codeexec-operator/internal/runner",
		"github.com/codeexec/codeexec-operator/internal/pyexec",
		"github.com/codeexec/codeexec-operator/internal/sqlguard",
		"github.com/codeexec/codeexec-operator/internal/sqlexec",
		"github.com/codeexec/codeexec-operator/internal/jsxbuild",
		"github.com/codeexec/codeexec-operator/runner-image",
	}
	deps := goListDeps(t, ".")
	var sawContract bool
	for _, d := range deps {
		if d == "github.com/codeexec/codeexec-operator/internal/result" {
			sawContract = true
		}
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("the manager links %s", d)
			}
		}
	}
	if !sawContract {
		t.Errorf("the manager does not link internal/result; is go list looking at the right package? deps: %v", deps)
	}
}

// TestContractIsALeaf: internal/result, the runner's contract, imports the
// standard library only, so that both binaries can link it at no cost.
func TestContractIsALeaf(t *testing.T) {
	for _, d := range goListDeps(t, "./internal/result") {
		if d != "github.com/codeexec/codeexec-operator/internal/result" {
			t.Errorf("internal/result links %s; it must stay a leaf (standard library only)", d)
		}
	}
}
