package controllers

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// BuiltinDefaults are the limits used when neither the spec nor an
// ExecutionPolicy sets a value.
func BuiltinDefaults() execv1.ExecutionLimits {
	return execv1.ExecutionLimits{
		CPU:            ptr.To(resource.MustParse(execv1.DefaultCPU)),
		Memory:         ptr.To(resource.MustParse(execv1.DefaultMemory)),
		TimeoutSeconds: ptr.To(execv1.DefaultTimeoutSeconds),
		MaxOutputBytes: ptr.To(execv1.DefaultMaxOutputBytes),
		MaxRows:        ptr.To(execv1.DefaultMaxRows),
	}
}

// Bounds on quantities that the CRD schema cannot express.
var (
	minMemory = resource.MustParse("64Mi")
	maxMemory = resource.MustParse("64Gi")
	minCPU    = resource.MustParse("10m")
	maxCPU    = resource.MustParse("64")
)

// ResolveLimits completes spec with defaults: every field of the returned
// limits is set. It is a pure function.
func ResolveLimits(spec, defaults execv1.ExecutionLimits) execv1.ExecutionLimits {
	out := *spec.DeepCopy()
	d := defaults.DeepCopy()
	if out.CPU == nil {
		out.CPU = d.CPU
	}
	if out.Memory == nil {
		out.Memory = d.Memory
	}
	if out.TimeoutSeconds == nil {
		out.TimeoutSeconds = d.TimeoutSeconds
	}
	if out.MaxOutputBytes == nil {
		out.MaxOutputBytes = d.MaxOutputBytes
	}
	if out.MaxRows == nil {
		out.MaxRows = d.MaxRows
	}
	return out
}

// ValidateLimits checks resolved limits for what the schema cannot: the
// ranges of the quantities. The error names the field.
func ValidateLimits(l execv1.ExecutionLimits) error {
	if l.CPU == nil || l.Memory == nil || l.TimeoutSeconds == nil || l.MaxOutputBytes == nil || l.MaxRows == nil {
		return fmt.Errorf("spec.limits: internal error: limits not resolved")
	}
	if l.CPU.Cmp(minCPU) < 0 || l.CPU.Cmp(maxCPU) > 0 {
		return fmt.Errorf("spec.limits.cpu: %s is out of range: want from %s to %s", l.CPU.String(), minCPU.String(), maxCPU.String())
	}
	if l.Memory.Cmp(minMemory) < 0 || l.Memory.Cmp(maxMemory) > 0 {
		return fmt.Errorf("spec.limits.memory: %s is out of range: want from %s to %s", l.Memory.String(), minMemory.String(), maxMemory.String())
	}
	return nil
}
