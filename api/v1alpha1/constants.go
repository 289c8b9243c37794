package v1alpha1

import "github.com/codeexec/codeexec-operator/internal/result"

// Label and annotation keys the controller puts on what it creates.
const (
	// LabelExecutionName holds the CodeExecution's name (truncated to a
	// valid label value) on its Job, Pod and ConfigMaps.
	LabelExecutionName = "execution.codeexec.io/name"
	// LabelExecutionUID holds the CodeExecution's UID on its Job, Pod and
	// ConfigMaps; selectors use it because names can be longer than a
	// label value.
	LabelExecutionUID = "execution.codeexec.io/execution-uid"
	// LabelLanguage holds the language on the Job and Pod.
	LabelLanguage = "execution.codeexec.io/language"
	// LabelComponent says what an owned object is for: "task" or "result"
	// for ConfigMaps, "sandbox" for Jobs and Pods.
	LabelComponent = "execution.codeexec.io/component"
	// LabelManagedBy is the well-known managed-by label.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is LabelManagedBy's value.
	ManagedByValue = "codeexec-operator"
)

// Names of the containers, volumes and files in the sandbox Pod.
const (
	// RunnerContainerName is the sandbox Pod's only container.
	RunnerContainerName = "runner"
	// ResultConfigMapKey is the key of the owned result ConfigMap holding
	// the gzip-compressed result JSON (binaryData).
	ResultConfigMapKey = "result.json.gz"
)

// ConditionSucceeded is the terminal condition: Unknown while pending,
// queued or running; True or False once the execution has ended. Its
// reason is one of the Reason constants.
const ConditionSucceeded = "Succeeded"

// Reasons of the Succeeded condition: the one typed vocabulary of
// internal/result (result.Reason), as strings for metav1.Condition. The
// runner's reasons come first; the controller adds its own below.
const (
	// ReasonCompleted: the code ran and produced a result.
	ReasonCompleted = string(result.Completed)
	// ReasonTimeout: the wall-clock limit (the runner's, or the Job's
	// activeDeadlineSeconds) ended the execution.
	ReasonTimeout = string(result.Timeout)
	// ReasonCPULimitExceeded: the CPU-time limit ended the execution.
	ReasonCPULimitExceeded = string(result.CPULimitExceeded)
	// ReasonMemoryLimitExceeded: memory ran out (in the runner, or the
	// container was OOM-killed).
	ReasonMemoryLimitExceeded = string(result.MemoryLimitExceeded)
	// ReasonOutputLimitExceeded: the result or the output was over its cap.
	ReasonOutputLimitExceeded = string(result.OutputLimitExceeded)
	// ReasonSecurityViolation: a guard refused the code or blocked an
	// operation.
	ReasonSecurityViolation = string(result.SecurityViolation)
	// ReasonCompilationError: the code does not parse or compile.
	ReasonCompilationError = string(result.CompilationError)
	// ReasonRuntimeError: user code raised or exited non-zero.
	ReasonRuntimeError = string(result.RuntimeError)
	// ReasonQueryError: the database refused or failed the query.
	ReasonQueryError = string(result.QueryError)
	// ReasonInvalidInput: bad inputs or datasource.
	ReasonInvalidInput = string(result.InvalidInput)
	// ReasonInternalError: the runner or the controller failed, or the
	// runner's output could not be read.
	ReasonInternalError = string(result.InternalError)

	// ReasonPending: accepted, the sandbox is being prepared or scheduled.
	ReasonPending = string(result.Pending)
	// ReasonRunning: the sandbox Pod is running.
	ReasonRunning = string(result.Running)
	// ReasonQueued: waiting for a concurrency slot or for quota.
	ReasonQueued = string(result.Queued)
	// ReasonPolicyViolation: the execution breaks an ExecutionPolicy.
	ReasonPolicyViolation = string(result.PolicyViolation)
	// ReasonPodFailed: the Pod failed outside the runner: evicted, image
	// pull failure, configuration error, unschedulable, deleted, killed.
	ReasonPodFailed = string(result.PodFailed)
)

// AnnotationResultSHA256 on a result ConfigMap holds the hex sha256 of the
// uncompressed result.
const AnnotationResultSHA256 = "execution.codeexec.io/result-sha256"

// AnnotationExecutionName on a Job and its Pod holds the CodeExecution's
// full name, which a label value may be too short for.
const AnnotationExecutionName = "execution.codeexec.io/execution-name"
