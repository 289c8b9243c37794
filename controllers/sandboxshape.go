package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SandboxShapeParam is the parameter ConfigMap of the
// codeexec-sandbox-shape ValidatingAdmissionPolicy
// (config/admission/sandbox-shape.yaml): its key runnerImages lists, comma
// separated, the images the manager's identity may start.
var SandboxShapeParam = types.NamespacedName{Namespace: "codeexec-system", Name: "codeexec-sandbox-shape"}

// AnnotationPolicies on a Job names, comma-separated, the ExecutionPolicies
// that govern its execution (status.policies). The codeexec-sandbox-policy
// admission policy admits a Job of the manager's identity only when this
// list is exactly the ExecutionPolicies that select its namespace.
const AnnotationPolicies = "execution.codeexec.io/policies"

// SandboxShapeImagesKey is the key of SandboxShapeParam holding the images.
const SandboxShapeImagesKey = "runnerImages"

// RunnerImageAllowed returns an error unless image is one of the
// comma-separated runnerImages of the sandbox-shape parameter cm, the same
// way the policy's CEL reads it (split on commas, spaces trimmed). It is a
// pure function.
func RunnerImageAllowed(image string, cm *corev1.ConfigMap) error {
	list, ok := cm.Data[SandboxShapeImagesKey]
	if !ok {
		return fmt.Errorf("ConfigMap %s/%s has no key %s: the sandbox-shape admission policy lets the manager start no image",
			cm.Namespace, cm.Name, SandboxShapeImagesKey)
	}
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == image {
			return nil
		}
	}
	return fmt.Errorf("--runner-image %s is not among the images the sandbox-shape admission policy allows (ConfigMap %s/%s, key %s: %q): every Job would be refused; add the image there or start the manager with one of them",
		image, cm.Namespace, cm.Name, SandboxShapeImagesKey, list)
}

// VerifySandboxShape reads the sandbox-shape parameter live and checks
// that it allows image, so that a manager whose --runner-image the
// admission policy would refuse does not start. It returns found=false
// (and no error) when the parameter does not exist: the policy is not
// installed, or not yet.
func VerifySandboxShape(ctx context.Context, c client.Reader, param types.NamespacedName, image string) (found bool, err error) {
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, param, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading the sandbox-shape parameter %s: %w", param, err)
	}
	return true, RunnerImageAllowed(image, cm)
}
