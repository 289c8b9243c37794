// Package v1alpha1 contains the API of codeexec-operator:
// CodeExecution, one run of AI-generated code.
// +kubebuilder:object:generate=true
// +groupName=execution.codeexec.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is group version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "execution.codeexec.io", Version: "v1alpha1"}

	// SchemeBuilder is used to add go types to the GroupVersionKind scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers the kinds of this group-version.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&CodeExecution{}, &CodeExecutionList{},
		&ExecutionPolicy{}, &ExecutionPolicyList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
