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

// LabelExecutionsEnabled is the namespace label that the shipped baseline
// ExecutionPolicy (config/samples/baseline-executionpolicy.yaml) selects:
// a cluster admin sets it to "true" on a namespace to let it run
// executions under the baseline's limits.
const LabelExecutionsEnabled = "execution.codeexec.io/enabled"

// ConditionPolicyReady is the condition the manager sets on every
// ExecutionPolicy: True when it can enforce the policy, False (reason
// ReasonPolicyInvalid) with the offending field when it cannot. A policy
// that is not Ready is never merged: executions in the namespaces it
// selects run nothing until it is fixed, and a policy whose
// namespaceSelector cannot be read selects nothing at all.
const ConditionPolicyReady = "Ready"

// Reasons of the Ready condition of an ExecutionPolicy.
const (
	// ReasonPolicyValid: the manager enforces the policy.
	ReasonPolicyValid = "Valid"
	// ReasonPolicyInvalid: the manager cannot use the policy.
	ReasonPolicyInvalid = "Invalid"
)

// ExecutionPolicySpec is what cluster admins decide for the namespaces a
// policy selects: which languages, how big, how many at once, which
// databases SQL may reach and what it may read there, and where the
// sandbox runs.
//
// When several policies select a namespace, the most restrictive value of
// each field wins: the intersection of allowedLanguages, of the datasource
// Secrets and of each datasource's endpoints, the smallest default and
// maximum of each limit, the smallest maxConcurrentExecutions, Deny over
// Allow. runtimeClassName and kueueQueueName come from the first policy by
// name that sets them.
//
// When no policy selects a namespace, executions there run nothing (reason
// PolicyViolation) unless the manager runs with
// --allow-unselected-namespaces.
type ExecutionPolicySpec struct {
	// namespaceSelector selects the namespaces this policy governs, as a
	// label selector (matchLabels, matchExpressions with the operators In,
	// NotIn, Exists, DoesNotExist). An empty selector selects every
	// namespace.
	// +optional
	NamespaceSelector NamespaceSelector `json:"namespaceSelector,omitempty"`

	// allowedLanguages lists the languages executions may use. Empty allows
	// all three.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=3
	AllowedLanguages []Language `json:"allowedLanguages,omitempty"`

	// limits hold, per language, the defaults applied to what a spec leaves
	// out and the maximums a spec may ask for. cpu must lie from 10m to 64
	// and memory from 64Mi to 64Gi, and each default must not exceed the
	// maximum beside it.
	// +optional
	// +listType=map
	// +listMapKey=language
	// +kubebuilder:validation:MaxItems=3
	Limits []LanguageLimits `json:"limits,omitempty"`

	// runtimeClassName, when set, runs every sandbox Pod under this
	// RuntimeClass (gVisor or Kata, where the cluster has them). A DNS
	// subdomain of at most 253 characters.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="must be a DNS subdomain (lower case letters, digits, '-' and '.')"
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`

	// datasources are the databases SQL executions may use: the Secret
	// names a CodeExecution may give in spec.datasource.secretRef.name, and
	// for each the host:port endpoints its DSN may point at. The manager
	// never reads the Secret: the sandbox's NetworkPolicy allows egress to
	// these endpoints only, and the runner refuses, before connecting, a
	// DSN whose host:port is not among them. A SQL execution whose Secret
	// no selecting policy declares ends with PolicyViolation. At most 64.
	// +optional
	// +listType=map
	// +listMapKey=secretName
	// +kubebuilder:validation:MaxItems=64
	Datasources []DatasourcePolicy `json:"datasources,omitempty"`

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
	// kueue.x-k8s.io/queue-name label and Kueue unsuspends it. A valid
	// label value of at most 63 characters.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.labelValue().validate(self).hasValue()",message="must be a valid label value (letters, digits, '-', '_' and '.', beginning and ending with a letter or digit)"
	KueueQueueName string `json:"kueueQueueName,omitempty"`
}

// NamespaceSelector is a label selector over namespaces with the bounds
// and operators that Kubernetes' own label selectors accept; a selector
// the API server admits is one the manager can evaluate.
type NamespaceSelector struct {
	// matchLabels selects namespaces having every one of these labels with
	// these values. Keys are label keys (an optional DNS-subdomain prefix
	// and '/', then at most 63 characters), values are label values. At
	// most 32.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="matchLabels keys must be valid label keys"
	MatchLabels map[string]LabelValue `json:"matchLabels,omitempty"`

	// matchExpressions are label requirements that must all hold. At most
	// 32.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	MatchExpressions []NamespaceSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelValue is a label value: at most 63 letters, digits, '-', '_' and
// '.', beginning and ending with a letter or digit, or empty.
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="!format.labelValue().validate(self).hasValue()",message="matchLabels values must be valid label values"
type LabelValue string

// SelectorOperator is the operator of a label requirement.
// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
type SelectorOperator string

// Selector operators.
const (
	SelectorOpIn           SelectorOperator = "In"
	SelectorOpNotIn        SelectorOperator = "NotIn"
	SelectorOpExists       SelectorOperator = "Exists"
	SelectorOpDoesNotExist SelectorOperator = "DoesNotExist"
)

// NamespaceSelectorRequirement is one label requirement.
// +kubebuilder:validation:XValidation:rule="self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",message="values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist"
type NamespaceSelectorRequirement struct {
	// key is the label key the requirement applies to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:XValidation:rule="!format.qualifiedName().validate(self).hasValue()",message="must be a valid label key"
	Key string `json:"key"`

	// operator is In, NotIn, Exists or DoesNotExist (case matters).
	// +required
	Operator SelectorOperator `json:"operator"`

	// values are label values: non-empty for In and NotIn, empty for
	// Exists and DoesNotExist. At most 64.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.all(v, !format.labelValue().validate(v).hasValue())",message="values must be valid label values"
	Values []string `json:"values,omitempty"`
}

// DatasourcePolicy declares one datasource Secret and where its DSN may
// point.
type DatasourcePolicy struct {
	// secretName is the name of the Secret, in the execution's namespace,
	// that holds the DSN (spec.datasource.secretRef.name).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="must be a Secret name (a DNS subdomain)"
	SecretName string `json:"secretName"`

	// endpoints are the host:port addresses the DSN may name: a DNS name
	// (lower case) or an IP address (IPv6 in brackets), then a port from 1
	// to 65535, e.g. "mariadb.shop.svc.cluster.local:3306" or
	// "10.0.0.5:3306". The DSN must name one of them exactly. At least 1,
	// at most 16.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=263
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^([a-z0-9.-]+|\\\\[[0-9a-fA-F:.]+\\\\]):[0-9]{1,5}$')",message="must be host:port: a lower-case DNS name or an IP address (IPv6 in brackets), a colon, and a port"
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('^([a-z0-9.-]+|\\\\[[0-9a-fA-F:.]+\\\\]):[0-9]{1,5}$') || (int(self.substring(self.lastIndexOf(':') + 1)) >= 1 && int(self.substring(self.lastIndexOf(':') + 1)) <= 65535)",message="the port must be from 1 to 65535"
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('^([a-z0-9.-]+|\\\\[[0-9a-fA-F:.]+\\\\]):[0-9]{1,5}$') || (self.startsWith('[') ? isIP(self.substring(1, self.lastIndexOf(':') - 1)) : (self.substring(0, self.lastIndexOf(':')).matches('^[0-9.]+$') ? isIP(self.substring(0, self.lastIndexOf(':'))) : !format.dns1123Subdomain().validate(self.substring(0, self.lastIndexOf(':'))).hasValue()))",message="the host must be a valid IP address or DNS name"
	Endpoints []string `json:"endpoints"`
}

// LanguageLimits are the defaults and maximums for one language.
// +kubebuilder:validation:XValidation:rule="!has(self.default) || !has(self.default.cpu) || (isQuantity(string(self.default.cpu)) && quantity(string(self.default.cpu)).compareTo(quantity('10m')) >= 0 && quantity(string(self.default.cpu)).compareTo(quantity('64')) <= 0)",message="default.cpu must be a quantity from 10m to 64",fieldPath=".default.cpu"
// +kubebuilder:validation:XValidation:rule="!has(self.max) || !has(self.max.cpu) || (isQuantity(string(self.max.cpu)) && quantity(string(self.max.cpu)).compareTo(quantity('10m')) >= 0 && quantity(string(self.max.cpu)).compareTo(quantity('64')) <= 0)",message="max.cpu must be a quantity from 10m to 64",fieldPath=".max.cpu"
// +kubebuilder:validation:XValidation:rule="!has(self.default) || !has(self.default.memory) || (isQuantity(string(self.default.memory)) && quantity(string(self.default.memory)).compareTo(quantity('64Mi')) >= 0 && quantity(string(self.default.memory)).compareTo(quantity('64Gi')) <= 0)",message="default.memory must be a quantity from 64Mi to 64Gi",fieldPath=".default.memory"
// +kubebuilder:validation:XValidation:rule="!has(self.max) || !has(self.max.memory) || (isQuantity(string(self.max.memory)) && quantity(string(self.max.memory)).compareTo(quantity('64Mi')) >= 0 && quantity(string(self.max.memory)).compareTo(quantity('64Gi')) <= 0)",message="max.memory must be a quantity from 64Mi to 64Gi",fieldPath=".max.memory"
// +kubebuilder:validation:XValidation:rule="!has(self.default) || !has(self.max) || !has(self.default.cpu) || !has(self.max.cpu) || !isQuantity(string(self.default.cpu)) || !isQuantity(string(self.max.cpu)) || quantity(string(self.default.cpu)).compareTo(quantity(string(self.max.cpu))) <= 0",message="each default must not exceed the maximum beside it",fieldPath=".default.cpu"
// +kubebuilder:validation:XValidation:rule="!has(self.default) || !has(self.max) || !has(self.default.memory) || !has(self.max.memory) || !isQuantity(string(self.default.memory)) || !isQuantity(string(self.max.memory)) || quantity(string(self.default.memory)).compareTo(quantity(string(self.max.memory))) <= 0",message="each default must not exceed the maximum beside it",fieldPath=".default.memory"
// +kubebuilder:validation:XValidation:rule="!has(self.default) || !has(self.max) || ((!has(self.default.timeoutSeconds) || !has(self.max.timeoutSeconds) || self.default.timeoutSeconds <= self.max.timeoutSeconds) && (!has(self.default.maxOutputBytes) || !has(self.max.maxOutputBytes) || self.default.maxOutputBytes <= self.max.maxOutputBytes) && (!has(self.default.maxRows) || !has(self.max.maxRows) || self.default.maxRows <= self.max.maxRows))",message="each default must not exceed the maximum beside it",fieldPath=".default"
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

// ExecutionPolicyStatus reports whether the manager can enforce the
// policy.
type ExecutionPolicyStatus struct {
	// conditions hold the Ready condition: True when the manager enforces
	// the policy, False with the reason Invalid and the offending field
	// when it cannot.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=xpol,categories=codeexec
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Languages",type=string,JSONPath=`.spec.allowedLanguages`
// +kubebuilder:printcolumn:name="Max Concurrent",type=integer,JSONPath=`.spec.maxConcurrentExecutions`
// +kubebuilder:printcolumn:name="Runtime Class",type=string,JSONPath=`.spec.runtimeClassName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ExecutionPolicy is a cluster admin's policy for CodeExecutions in the
// namespaces it selects: allowed languages, default and maximum limits,
// concurrency, datasources and SQL permissions, runtime class and Kueue
// queue. It is enforced at admission (a ValidatingAdmissionPolicy) and
// again by the controller.
type ExecutionPolicy struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the policy.
	// +required
	Spec ExecutionPolicySpec `json:"spec"`

	// status says whether the manager can enforce the policy.
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
