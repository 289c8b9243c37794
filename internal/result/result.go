// Package result is the runner's contract, a leaf package (standard
// library only) shared by the runner and the manager: the Task the
// controller mounts, the ExecutionResult line the runner prints, the
// Summary it leaves as the termination message, the one typed vocabulary of
// reasons (the runner's and the controller's), and their encoders and
// decoders side by side. The manager imports it without linking any
// language package (a test in the repository root checks it).
package result

import (
	"encoding/json"
	"io"
	"sync/atomic"
	"time"
)

// Reason says why an execution ended the way it did.
type Reason string

// Reasons the runner reports.
const (
	Completed           Reason = "Completed"
	Timeout             Reason = "Timeout"
	CPULimitExceeded    Reason = "CPULimitExceeded"
	MemoryLimitExceeded Reason = "MemoryLimitExceeded"
	OutputLimitExceeded Reason = "OutputLimitExceeded"
	SecurityViolation   Reason = "SecurityViolation"
	CompilationError    Reason = "CompilationError"
	RuntimeError        Reason = "RuntimeError"
	QueryError          Reason = "QueryError"
	InvalidInput        Reason = "InvalidInput"
	InternalError       Reason = "InternalError"
)

// Reasons only the controller gives (the Succeeded condition's reason
// while an execution waits or runs, and the endings the runner cannot
// see). api/v1alpha1's Reason constants are these and the runner's,
// spelled as strings for metav1.Condition.
const (
	Pending         Reason = "Pending"
	Running         Reason = "Running"
	Queued          Reason = "Queued"
	PolicyViolation Reason = "PolicyViolation"
	PodFailed       Reason = "PodFailed"
)

// RunnerReasons lists every reason the runner may report.
var RunnerReasons = []Reason{
	Completed, Timeout, CPULimitExceeded, MemoryLimitExceeded, OutputLimitExceeded,
	SecurityViolation, CompilationError, RuntimeError, QueryError, InvalidInput, InternalError,
}

// IsRunnerReason reports whether r is one of RunnerReasons.
func IsRunnerReason(r Reason) bool {
	for _, k := range RunnerReasons {
		if r == k {
			return true
		}
	}
	return false
}

// ExecutionResult is the runner's single output. Result holds the
// language-specific payload as raw JSON so that it is copied, never
// re-encoded, on its way to the controller.
type ExecutionResult struct {
	Succeeded      bool            `json:"succeeded"`
	Reason         Reason          `json:"reason"`
	Message        string          `json:"message"`
	Result         json.RawMessage `json:"result,omitempty"`
	Stdout         string          `json:"stdout"`
	Stderr         string          `json:"stderr"`
	Truncated      bool            `json:"truncated"`
	DurationMillis int64           `json:"durationMillis"`
}

// Success returns a Completed result carrying payload.
func Success(payload json.RawMessage) ExecutionResult {
	return ExecutionResult{Succeeded: true, Reason: Completed, Message: "completed", Result: payload}
}

// SuccessEncoded is Success for a payload whose producer guarantees that
// it is valid, compact JSON in valid UTF-8 (the producer's tests prove it):
// Encode then does not scan it again, which for a JSX document of several
// hundred KiB is most of the time a run takes. Replacing Result afterwards
// brings the checks back.
//
// The promise is kept outside ExecutionResult (which stays a plain,
// comparable-by-cmp value): one slot, the last payload given, matched by
// identity. A runner makes one result per process; where several are made
// at once, a payload that lost the slot is simply checked.
func SuccessEncoded(payload json.RawMessage) ExecutionResult {
	if len(payload) > 0 {
		encodedSlot.Store(&encodedPayload{first: &payload[0], n: len(payload)})
	}
	return Success(payload)
}

type encodedPayload struct {
	first *byte
	n     int
}

var encodedSlot atomic.Pointer[encodedPayload]

// isEncoded reports whether payload is the slice SuccessEncoded was last
// given.
func isEncoded(payload json.RawMessage) bool {
	e := encodedSlot.Load()
	return len(payload) > 0 && e != nil && e.first == &payload[0] && e.n == len(payload)
}

// Failure returns a failed result with reason and message.
func Failure(reason Reason, message string) ExecutionResult {
	return ExecutionResult{Succeeded: false, Reason: reason, Message: message}
}

// WithDuration sets DurationMillis from the time elapsed since start.
func (r ExecutionResult) WithDuration(start time.Time) ExecutionResult {
	r.DurationMillis = time.Since(start).Milliseconds()
	return r
}

// ExitCode is the runner's process exit code for r: 0 when it succeeded,
// 1 otherwise. Usage errors (exit 2) never produce an ExecutionResult.
func (r ExecutionResult) ExitCode() int {
	if r.Succeeded {
		return 0
	}
	return 1
}

// Write encodes r as one line of JSON.
func (r ExecutionResult) Write(w io.Writer) error {
	_, err := w.Write(append(Encode(r), '\n'))
	return err
}
