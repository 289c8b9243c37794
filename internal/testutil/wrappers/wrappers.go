// Package wrappers builds API objects for tests, in one place:
//
//	wrappers.MakeCodeExecution("cx", "ns").Language(execv1.LanguagePython).Code("result = 1").Obj()
package wrappers

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// CodeExecutionWrapper builds a CodeExecution.
type CodeExecutionWrapper struct{ execv1.CodeExecution }

// MakeCodeExecution starts a Python CodeExecution with `result = 1`.
func MakeCodeExecution(name, ns string) *CodeExecutionWrapper {
	return &CodeExecutionWrapper{execv1.CodeExecution{
		TypeMeta:   metav1.TypeMeta{APIVersion: execv1.GroupVersion.String(), Kind: "CodeExecution"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       execv1.CodeExecutionSpec{Language: execv1.LanguagePython, Code: "result = 1"},
	}}
}

// Obj returns the object.
func (w *CodeExecutionWrapper) Obj() *execv1.CodeExecution { return w.DeepCopy() }

// UID sets the UID (unit tests; the API server sets it otherwise).
func (w *CodeExecutionWrapper) UID(uid string) *CodeExecutionWrapper {
	w.ObjectMeta.UID = types.UID(uid)
	return w
}

// Language sets spec.language.
func (w *CodeExecutionWrapper) Language(l execv1.Language) *CodeExecutionWrapper {
	w.Spec.Language = l
	return w
}

// Code sets spec.code.
func (w *CodeExecutionWrapper) Code(c string) *CodeExecutionWrapper {
	w.Spec.Code = c
	return w
}

// CPU sets spec.limits.cpu.
func (w *CodeExecutionWrapper) CPU(q string) *CodeExecutionWrapper {
	w.Spec.Limits.CPU = ptr.To(resource.MustParse(q))
	return w
}

// Memory sets spec.limits.memory.
func (w *CodeExecutionWrapper) Memory(q string) *CodeExecutionWrapper {
	w.Spec.Limits.Memory = ptr.To(resource.MustParse(q))
	return w
}

// Timeout sets spec.limits.timeoutSeconds.
func (w *CodeExecutionWrapper) Timeout(s int32) *CodeExecutionWrapper {
	w.Spec.Limits.TimeoutSeconds = &s
	return w
}

// MaxOutputBytes sets spec.limits.maxOutputBytes.
func (w *CodeExecutionWrapper) MaxOutputBytes(n int32) *CodeExecutionWrapper {
	w.Spec.Limits.MaxOutputBytes = &n
	return w
}

// MaxRows sets spec.limits.maxRows.
func (w *CodeExecutionWrapper) MaxRows(n int32) *CodeExecutionWrapper {
	w.Spec.Limits.MaxRows = &n
	return w
}

// Input adds a CSV input from a ConfigMap key.
func (w *CodeExecutionWrapper) Input(name, configMap, key string) *CodeExecutionWrapper {
	w.Spec.Inputs = append(w.Spec.Inputs, execv1.ExecutionInput{
		Name: name, ConfigMapKeyRef: execv1.ConfigMapKeyReference{Name: configMap, Key: key},
	})
	return w
}

// Datasource sets spec.datasource to a Secret key.
func (w *CodeExecutionWrapper) Datasource(secret, key string) *CodeExecutionWrapper {
	w.Spec.Datasource = &execv1.Datasource{SecretRef: execv1.SecretKeyReference{Name: secret, Key: key}}
	return w
}
