package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Language is the language of the code to run.
// +kubebuilder:validation:Enum=Python;SQL;JSX
type Language string

// Languages.
const (
	// LanguagePython runs Python 3 with pandas and numpy; the variable
	// `result` is the execution's result.
	LanguagePython Language = "Python"
	// LanguageSQL runs one read-only query against spec.datasource.
	LanguageSQL Language = "SQL"
	// LanguageJSX compiles a React component into a sandboxed HTML document.
	LanguageJSX Language = "JSX"
)

// InputFormat is the format of an input table.
// +kubebuilder:validation:Enum=CSV;JSON
type InputFormat string

// Input formats.
const (
	InputFormatCSV  InputFormat = "CSV"
	InputFormatJSON InputFormat = "JSON"
)

// MaxCodeBytes bounds spec.code: 256 KiB, a quarter of a ConfigMap and well
// under etcd's 1.5 MiB object limit, so that the CodeExecution, its task
// ConfigMap and its status all fit.
const MaxCodeBytes = 262144

// Built-in defaults for spec.limits, used when neither the spec nor an
// ExecutionPolicy sets a value.
const (
	DefaultCPU            = "500m"
	DefaultMemory         = "512Mi"
	DefaultTimeoutSeconds = int32(30)
	DefaultMaxOutputBytes = int32(1048576)
	DefaultMaxRows        = int32(1000)
)

// CodeExecutionSpec is one run of code: what to run, with which limits and
// which inputs. It is immutable: to run again, create a new CodeExecution.
// +kubebuilder:validation:XValidation:rule="self.language != 'SQL' || has(self.datasource)",message="spec.datasource is required when spec.language is SQL",fieldPath=".datasource"
// +kubebuilder:validation:XValidation:rule="self.language == 'SQL' || !has(self.datasource)",message="spec.datasource is allowed only when spec.language is SQL",fieldPath=".datasource"
// +kubebuilder:validation:XValidation:rule="self.language == 'Python' || !has(self.inputs) || size(self.inputs) == 0",message="spec.inputs is allowed only when spec.language is Python",fieldPath=".inputs"
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable: create a new CodeExecution to run other code or limits"
type CodeExecutionSpec struct {
	// language is the language of spec.code: Python, SQL or JSX.
	// Python runs with pandas (`pd`) and numpy (`np`) available and returns
	// the value of the variable `result`; SQL runs one read-only SELECT
	// against spec.datasource; JSX compiles a React component into an HTML
	// document for a sandboxed iframe.
	// +required
	Language Language `json:"language"`

	// code is the source to run, at most 262144 bytes (256 KiB).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=262144
	Code string `json:"code"`

	// limits bound the execution. A limit left out takes the default of the
	// ExecutionPolicy that applies, else the built-in default given on each
	// field; status.limits records the values that ran.
	// +optional
	Limits ExecutionLimits `json:"limits,omitempty"`

	// inputs are named tables for Python, each read from a ConfigMap key in
	// the CodeExecution's namespace and loaded with pandas: in order as
	// `parent_dataframes`, by name as `inputs`. At most 16. Python only.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Inputs []ExecutionInput `json:"inputs,omitempty"`

	// datasource is the database SQL runs against. Required for SQL, not
	// allowed otherwise.
	// +optional
	Datasource *Datasource `json:"datasource,omitempty"`
}

// ExecutionLimits bound an execution. Every field is optional; see each
// field for its built-in default.
type ExecutionLimits struct {
	// cpu is the CPU the sandbox Pod gets, as a quantity (requests equal
	// limits). Default 500m.
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`

	// memory is the memory the sandbox Pod gets, as a quantity (requests
	// equal limits); user code gets a little less. Default 512Mi.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`

	// timeoutSeconds is the wall-clock limit of the code, in seconds, from
	// 1 to 3600. The runner kills the code at this limit; the Job's
	// activeDeadlineSeconds backs it up with a short grace. Default 30.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`

	// maxOutputBytes caps the size of the JSON result, in bytes, from 1 to
	// 1048576 (1 MiB). A larger result ends the execution with
	// OutputLimitExceeded. Default 1048576.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1048576
	MaxOutputBytes *int32 `json:"maxOutputBytes,omitempty"`

	// maxRows caps the rows a SQL query returns, from 1 to 100000: the
	// query's outer LIMIT is added or lowered to it. Default 1000.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	MaxRows *int32 `json:"maxRows,omitempty"`
}

// ExecutionInput is one named input table.
type ExecutionInput struct {
	// name is the table's name in `inputs`: a Python identifier of at most
	// 63 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`

	// configMapKeyRef names the ConfigMap and key, in the CodeExecution's
	// namespace, that hold the table.
	// +required
	ConfigMapKeyRef ConfigMapKeyReference `json:"configMapKeyRef"`

	// format is the table's format: CSV (read with pandas.read_csv and its
	// default options) or JSON (pandas.read_json). Default CSV.
	// +optional
	Format InputFormat `json:"format,omitempty"`
}

// ConfigMapKeyReference names a key of a ConfigMap in the same namespace.
type ConfigMapKeyReference struct {
	// name is the ConfigMap's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key is the key in the ConfigMap's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// Datasource is the database a SQL execution reads.
type Datasource struct {
	// secretRef names the Secret, in the CodeExecution's namespace, whose
	// key holds the DSN in go-sql-driver/mysql form
	// (`user:password@tcp(host:3306)/db`). The Secret is mounted into the
	// sandbox Pod as a file; the DSN never appears in environment
	// variables, logs or status. Use a read-only database user.
	// +required
	SecretRef SecretKeyReference `json:"secretRef"`
}

// SecretKeyReference names a key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key is the key in the Secret's data. Default dsn.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// CodeExecutionStatus is what happened, written by the controller.
type CodeExecutionStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions hold the terminal condition Succeeded: Unknown while
	// pending or running, then True or False with a reason such as
	// Completed, Timeout, MemoryLimitExceeded, SecurityViolation,
	// CompilationError, RuntimeError, QueryError or PodFailed.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// jobName is the name of the Job that runs the code.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	JobName string `json:"jobName,omitempty"`

	// jobUID is the UID of the one Job created for this execution, recorded
	// when the controller creates it. The controller never creates a second
	// Job: if this one disappears before the result is read, the execution
	// ends as PodFailed.
	// +optional
	// +kubebuilder:validation:MaxLength=36
	JobUID string `json:"jobUID,omitempty"`

	// taskConfigMapUID is the UID of the task ConfigMap (the code and the
	// task the sandbox Pod mounts), recorded when the controller creates
	// it. The Pod mounts the ConfigMap by name; a result is taken only if
	// the ConfigMap of that name still has this UID once the runner
	// ended, that is, if it was never replaced while the Pod could read
	// it.
	// +optional
	// +kubebuilder:validation:MaxLength=36
	TaskConfigMapUID string `json:"taskConfigMapUID,omitempty"`

	// limits are the limits that actually apply: the spec's, completed from
	// the ExecutionPolicy's or the built-in defaults. They are resolved once,
	// before the Job exists, and never change afterwards: a policy changed
	// later applies only to executions created after it.
	// +optional
	Limits *ExecutionLimits `json:"limits,omitempty"`

	// sandbox holds what the ExecutionPolicies decided besides the limits,
	// resolved once together with them.
	// +optional
	Sandbox *SandboxSettings `json:"sandbox,omitempty"`

	// policies names the ExecutionPolicies that govern this execution.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	Policies []string `json:"policies,omitempty"`

	// startTime is when the sandbox Pod started running.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the execution ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// duration is the code's run time as the runner measured it, or the
	// time from startTime to completionTime.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// result describes the execution's result; see ExecutionResult.
	// +optional
	Result *ExecutionResult `json:"result,omitempty"`

	// stdout is the tail of what the code printed, at most 4096 bytes.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Stdout string `json:"stdout,omitempty"`

	// stderr is the tail of the code's error output, at most 4096 bytes.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Stderr string `json:"stderr,omitempty"`
}

// SandboxSettings are the ExecutionPolicies' decisions about how an
// execution's sandbox runs, recorded once before its Job is created.
type SandboxSettings struct {
	// runtimeClassName is the RuntimeClass of the sandbox Pod, when a
	// policy sets one.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`

	// kueueQueueName is the Kueue LocalQueue the Job is submitted to, when
	// a policy sets one.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	KueueQueueName string `json:"kueueQueueName,omitempty"`

	// sqlSystemSchemas is true when every governing policy lets SQL read
	// the system schemas.
	// +optional
	SQLSystemSchemas bool `json:"sqlSystemSchemas,omitempty"`

	// sqlShow is true when every governing policy lets SQL run SHOW
	// statements.
	// +optional
	SQLShow bool `json:"sqlShow,omitempty"`

	// datasourceEndpoints are the host:port addresses the governing
	// policies declare for the execution's datasource: the only ones its
	// NetworkPolicy lets the sandbox reach and the only ones the runner
	// lets the DSN name. Empty for an execution without a datasource.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=263
	DatasourceEndpoints []string `json:"datasourceEndpoints,omitempty"`

	// maxConcurrentExecutions is the namespace's concurrency cap as the
	// governing policies set it when the execution was created; the queue
	// admits the execution under this cap, so that an admin changing the
	// policy later affects only executions created afterwards. Unset means
	// no cap.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	MaxConcurrentExecutions *int32 `json:"maxConcurrentExecutions,omitempty"`
}

// MaxInlineResultBytes is the largest result kept inline in
// status.result.inline; larger results live in the owned ConfigMap named
// by status.result.configMapName.
const MaxInlineResultBytes = 16384

// MaxStreamTailBytes bounds status.stdout and status.stderr.
const MaxStreamTailBytes = 4096

// ExecutionResult describes the JSON result of an execution. Python: the
// JSON form of `result`. SQL: {"sql", "columns", "rows", "rowCount",
// "truncated"}. JSX: {"js", "html", "manifest"}.
type ExecutionResult struct {
	// inline is the result's JSON text when it is at most 16384 bytes.
	// +optional
	// +kubebuilder:validation:MaxLength=16384
	Inline string `json:"inline,omitempty"`

	// configMapName names the ConfigMap, owned by this CodeExecution, that
	// holds the whole result gzip-compressed under binaryData key
	// result.json.gz. Set when the result is larger than 16384 bytes.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ConfigMapName string `json:"configMapName,omitempty"`

	// sizeBytes is the result's size in bytes.
	// +optional
	SizeBytes int64 `json:"sizeBytes,omitempty"`

	// sha256 is the hex sha256 of the result's JSON text.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	SHA256 string `json:"sha256,omitempty"`

	// truncated is true when the result, the output or the rows were cut at
	// a limit.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cx,categories=codeexec
// +kubebuilder:printcolumn:name="Language",type=string,JSONPath=`.spec.language`
// +kubebuilder:printcolumn:name="Succeeded",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].reason`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Job",type=string,JSONPath=`.status.jobName`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Succeeded")].message`,priority=1

// CodeExecution is one run of AI-generated Python, SQL or JSX in a locked-down
// sandbox Pod. Create it to run code; read status for the result.
type CodeExecution struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what to run. It is immutable.
	// +required
	Spec CodeExecutionSpec `json:"spec"`

	// status is what happened.
	// +optional
	Status CodeExecutionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CodeExecutionList is a list of CodeExecutions.
type CodeExecutionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CodeExecution `json:"items"`
}
