package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Permission allows or denies an optional capability.
// +kubebuilder:validation:Enum=Allow;Deny
type Permission string

// Permissions.
const (
	PermissionAllow Permission = "Allow"
	PermissionDeny  Permission = "Deny"
)

// ExecutionPolicySpec is what cluster admins decide for the namespaces a
// policy selects: which languages, how big, how many at once, what SQL may
// read, and where the sandbox runs.
//
// When several policies select a namespace, the most restrictive value of
// each field wins: the intersection of allowedLanguages and
// allowedDatasourceSecrets, the smallest default and maximum of each limit,
// the smallest maxConcurrentExecutions, Deny over Allow. runtimeClassName
// and kueueQueueName come from the first policy by name that sets them.
// When no policy selects a namespace, the manager's built-in defaults apply
// and nothing is capped beyond the CodeExecution schema's own bounds.
type ExecutionPolicySpec struct {
	// namespaceSelector selects the namespaces this policy governs. An
	// empty selector selects every namespace.
	// +optional
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// allowedLanguages lists the languages executions may use. Empty allows
	// all three.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=3
	AllowedLanguages []Language `json:"allowedLanguages,omitempty"`

	// limits hold, per language, the defaults applied to what a spec leaves
	// out and the maximums a spec may ask for.
	// +optional
	// +listType=map
	// +listMapKey=language
	// +kubebuilder:validation:MaxItems=3
	Limits []LanguageLimits `json:"limits,omitempty"`

	// runtimeClassName, when set, runs every sandbox Pod under this
	// RuntimeClass (gVisor or Kata, where the cluster has them).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`

	// allowedDatasourceSecrets lists the Secret names SQL executions may use
	// as spec.datasource.secretRef.name. Empty allows any Secret in the
	// execution's namespace.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	AllowedDatasourceSecrets []string `json:"allowedDatasourceSecrets,omitempty"`

	// maxConcurrentExecutions caps, per namespace, the executions running at
	// once; more wait with the Queued reason and start oldest first. Unset
	// means no cap.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	MaxConcurrentExecutions *int32 `json:"maxConcurrentExecutions,omitempty"`

	// sqlSystemSchemas says whether SQL may read mysql, information_schema,
	// performance_schema and sys. Default Deny.
	// +optional
	SQLSystemSchemas Permission `json:"sqlSystemSchemas,omitempty"`

	// sqlShowStatements says whether SQL may run SHOW, DESCRIBE and EXPLAIN.
	// Default Deny.
	// +optional
	SQLShowStatements Permission `json:"sqlShowStatements,omitempty"`

	// kueueQueueName, when set, hands admission of every sandbox Job to
	// Kueue: the Job is created suspended with the
	// kueue.x-k8s.io/queue-name label and Kueue unsuspends it.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	KueueQueueName string `json:"kueueQueueName,omitempty"`
}

// LanguageLimits are the defaults and maximums for one language.
type LanguageLimits struct {
	// language is the language these limits apply to.
	// +required
	Language Language `json:"language"`
	// default fills what a CodeExecution's spec.limits leaves out.
	// +optional
	Default ExecutionLimits `json:"default,omitempty"`
	// max is the largest value a CodeExecution may ask for or get.
	// +optional
	Max ExecutionLimits `json:"max,omitempty"`
}

// ExecutionPolicyStatus is empty for now; policies are read, not
// reconciled.
type ExecutionPolicyStatus struct{}

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=xpol,categories=codeexec
// +kubebuilder:printcolumn:name="Languages",type=string,JSONPath=`.spec.allowedLanguages`
// +kubebuilder:printcolumn:name="Max Concurrent",type=integer,JSONPath=`.spec.maxConcurrentExecutions`
// +kubebuilder:printcolumn:name="Runtime Class",type=string,JSONPath=`.spec.runtimeClassName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ExecutionPolicy is a cluster admin's policy for CodeExecutions in the
// namespaces it selects: allowed languages, default and maximum limits,
// concurrency, SQL permissions, runtime class and Kueue queue. It is
// enforced at admission (a ValidatingAdmissionPolicy) and again by the
// controller.
type ExecutionPolicy struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the policy.
	// +required
	Spec ExecutionPolicySpec `json:"spec"`

	// status is unused.
	// +optional
	Status ExecutionPolicyStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ExecutionPolicyList is a list of ExecutionPolicies.
type ExecutionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ExecutionPolicy `json:"items"`
}
