package controllers

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
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

// MaxTimeoutSeconds is the largest timeoutSeconds a CodeExecution may ask
// for (the CRD's maximum).
const MaxTimeoutSeconds = 3600

// ShapeParamAllows returns an error unless the sandbox-shape parameter cm
// admits the Jobs the manager builds with o: the runner image, the scratch
// size limit, the sandbox uid range and the longest deadline (the largest
// timeout plus the grace), read as the policy's CEL reads them (the same
// defaults when a key is absent). It is a pure function.
func ShapeParamAllows(o JobOptions, cm *corev1.ConfigMap) error {
	if err := RunnerImageAllowed(o.RunnerImage, cm); err != nil {
		return err
	}
	get := func(key, def string) string {
		if v, ok := cm.Data[key]; ok {
			return v
		}
		return def
	}
	where := fmt.Sprintf("ConfigMap %s/%s", cm.Namespace, cm.Name)
	scratch, err := resource.ParseQuantity(get("maxScratchSize", "256Mi"))
	if err != nil {
		return fmt.Errorf("%s, key maxScratchSize: %w", where, err)
	}
	if o.ScratchSizeLimit.Cmp(scratch) > 0 {
		return fmt.Errorf("--scratch-size-limit %s is over the sandbox-shape parameter's maxScratchSize %s (%s): every Job would be refused",
			o.ScratchSizeLimit.String(), scratch.String(), where)
	}
	maxDeadline, err := strconv.ParseInt(get("maxActiveDeadlineSeconds", "3660"), 10, 64)
	if err != nil {
		return fmt.Errorf("%s, key maxActiveDeadlineSeconds: %w", where, err)
	}
	if d := int64(MaxTimeoutSeconds) + int64(o.DeadlineGraceSeconds); d > maxDeadline {
		return fmt.Errorf("--deadline-grace-seconds %d makes the longest Job deadline %d s, over the sandbox-shape parameter's maxActiveDeadlineSeconds %d (%s)",
			o.DeadlineGraceSeconds, d, maxDeadline, where)
	}
	for _, k := range []struct {
		key  string
		flag string
		want int64
		def  int64
	}{
		{"sandboxUIDBase", "--sandbox-uid-base", o.SandboxUIDBase, DefaultSandboxUIDBase},
		{"sandboxUIDCount", "--sandbox-uid-count", o.SandboxUIDCount, DefaultSandboxUIDCount},
	} {
		want := k.want
		if o.SandboxUIDBase <= 0 || o.SandboxUIDCount <= 0 {
			want = k.def // SandboxUIDFor falls back to the defaults
		}
		got, err := strconv.ParseInt(get(k.key, strconv.FormatInt(k.def, 10)), 10, 64)
		if err != nil {
			return fmt.Errorf("%s, key %s: %w", where, k.key, err)
		}
		if got != want {
			return fmt.Errorf("%s %d differs from the sandbox-shape parameter's %s %d (%s): Python Jobs would be refused", k.flag, want, k.key, got, where)
		}
	}
	return nil
}

// VerifySandboxShape reads the sandbox-shape parameter live and checks
// that it admits the Jobs built with o (ShapeParamAllows), so that a
// manager whose flags the admission policy would refuse does not start.
// It returns found=false (and no error) when the parameter does not exist:
// the policy is not installed, or not yet.
func VerifySandboxShape(ctx context.Context, c client.Reader, param types.NamespacedName, o JobOptions) (found bool, err error) {
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, param, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading the sandbox-shape parameter %s: %w", param, err)
	}
	return true, ShapeParamAllows(o, cm)
}
