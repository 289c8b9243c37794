package controllers

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/codeexec/codeexec-operator/internal/result"
)

func TestRunnerImageAllowed(t *testing.T) {
	param := func(data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "codeexec-system", Name: "codeexec-sandbox-shape"}, Data: data}
	}
	cases := map[string]struct {
		image   string
		cm      *corev1.ConfigMap
		wantErr string
	}{
		"the one image":        {image: "codeexec.io/runner:dev", cm: param(map[string]string{"runnerImages": "codeexec.io/runner:dev"})},
		"one of a list":        {image: "r:2", cm: param(map[string]string{"runnerImages": "r:1, r:2"})},
		"not listed":           {image: "r:3", cm: param(map[string]string{"runnerImages": "r:1,r:2"}), wantErr: "--runner-image r:3 is not among"},
		"a prefix is not it":   {image: "r", cm: param(map[string]string{"runnerImages": "r:1"}), wantErr: "not among"},
		"no key":               {image: "r:1", cm: param(nil), wantErr: "has no key runnerImages"},
		"empty list":           {image: "r:1", cm: param(map[string]string{"runnerImages": ""}), wantErr: "not among"},
		"empty image, no list": {image: "", cm: param(map[string]string{"runnerImages": "r:1"}), wantErr: "not among"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := RunnerImageAllowed(tc.image, tc.cm)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("RunnerImageAllowed: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("RunnerImageAllowed error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// shippedShape returns the sandbox-shape policy file and its parameter.
func shippedShape(t *testing.T) (string, *corev1.ConfigMap) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "config", "admission", "sandbox-shape.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		cm := &corev1.ConfigMap{}
		if err := yaml.Unmarshal([]byte(doc), cm); err == nil && cm.Kind == "ConfigMap" {
			return string(b), cm
		}
	}
	t.Fatal("config/admission/sandbox-shape.yaml holds no parameter ConfigMap")
	return "", nil
}

// The policy's CEL spells out the runner's contract; these are the
// builder's values.
func TestSandboxShapePolicyPinsTheBuildersValues(t *testing.T) {
	policy, _ := shippedShape(t)
	for what, want := range map[string]string{
		"--max-stream-bytes":      fmt.Sprintf(`expression: "'%d'"`, result.RunnerStreamBytes),
		"the task mount":          fmt.Sprintf(`expression: "'%s'"`, TaskMountPath),
		"the judge's socket":      fmt.Sprintf(`expression: "'%s'"`, path.Join(ChannelMountPath, "judge.sock")),
		"the scratch mount":       fmt.Sprintf("'%s'", ScratchMountPath),
		"the judge's uid":         fmt.Sprintf("runAsUser == %d", JudgeUID),
		"the channel mount":       fmt.Sprintf("'%s'", ChannelMountPath),
		"the datasource mount":    fmt.Sprintf("'%s'", DatasourceMountPath),
		"the policies annotation": fmt.Sprintf("'%s'", AnnotationPolicies),
	} {
		if !strings.Contains(policy, want) {
			t.Errorf("the sandbox-shape policy does not pin %s: no %q", what, want)
		}
	}
}

func TestShapeParamAllows(t *testing.T) {
	_, shipped := shippedShape(t)
	cases := map[string]struct {
		mut     func(*JobOptions)
		data    map[string]string
		wantErr string
	}{
		"the defaults":         {},
		"a smaller scratch":    {mut: func(o *JobOptions) { o.ScratchSizeLimit = resource.MustParse("64Mi") }},
		"a larger scratch":     {mut: func(o *JobOptions) { o.ScratchSizeLimit = resource.MustParse("1Gi") }, wantErr: "--scratch-size-limit 1Gi is over"},
		"a long grace":         {mut: func(o *JobOptions) { o.DeadlineGraceSeconds = 120 }, wantErr: "--deadline-grace-seconds 120"},
		"another uid range":    {mut: func(o *JobOptions) { o.SandboxUIDBase = 100000 }, wantErr: "--sandbox-uid-base 100000 differs"},
		"another image":        {mut: func(o *JobOptions) { o.RunnerImage = "r:evil" }, wantErr: "--runner-image r:evil is not among"},
		"a larger param":       {mut: func(o *JobOptions) { o.ScratchSizeLimit = resource.MustParse("1Gi") }, data: map[string]string{"maxScratchSize": "2Gi"}},
		"a param with no keys": {data: map[string]string{"maxScratchSize": "", "x": "y"}, wantErr: "maxScratchSize"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := DefaultJobOptions()
			if tc.mut != nil {
				tc.mut(&o)
			}
			cm := shipped.DeepCopy()
			for k, v := range tc.data {
				cm.Data[k] = v
			}
			err := ShapeParamAllows(o, cm)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("ShapeParamAllows: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("ShapeParamAllows error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
