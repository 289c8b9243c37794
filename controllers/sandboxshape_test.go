package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
