package result

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
)

// Decoding: the controller reads what the runner encoded (Encode,
// Summarize) with these, side by side with the encoders, and treats the
// Pod as hostile: bounded reads, exact matches, strict JSON.

// Bounds on what the controller reads from a sandbox Pod.
const (
	// MaxTerminationMessage is the kubelet's own cap on the message
	// (MaxSummaryBytes, which every Summary from Summarize fits in).
	MaxTerminationMessage = MaxSummaryBytes
	// resultLineSlack is what an ExecutionResult line may hold beyond its
	// result: the message, the stdout and stderr tails the runner keeps
	// in a Pod (see RunnerStreamBytes), their JSON escaping.
	resultLineSlack = 1 << 20
	// RunnerStreamBytes is the cap the Pod's runner puts on each of the
	// code's stdout and stderr.
	RunnerStreamBytes = 65536
)

// HexSHA256 matches a lower-case hex sha256, as in Summary.SHA256 and the
// execution's status.result.sha256.
var HexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// MaxResultLine is the longest ExecutionResult line accepted for a result
// capped at maxOutputBytes.
func MaxResultLine(maxOutputBytes int64) int64 { return maxOutputBytes + resultLineSlack }

// ParseSummary parses and validates the runner's termination message.
func ParseSummary(msg string, maxOutputBytes int64) (Summary, error) {
	var s Summary
	if msg == "" {
		return s, fmt.Errorf("the runner left no termination message")
	}
	if len(msg) > MaxTerminationMessage {
		return s, fmt.Errorf("the termination message is %d bytes, over %d", len(msg), MaxTerminationMessage)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(msg)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("the termination message is not a runner summary: %w", err)
	}
	if !IsRunnerReason(s.Reason) {
		return s, fmt.Errorf("the termination message has unknown reason %q", TruncateUTF8(string(s.Reason), 64))
	}
	if s.Succeeded != (s.Reason == Completed) {
		return s, fmt.Errorf("the termination message says succeeded=%t with reason %s", s.Succeeded, s.Reason)
	}
	if s.Size <= 0 || s.Size > MaxResultLine(maxOutputBytes) {
		return s, fmt.Errorf("the runner's result is %d bytes, outside 1..%d", s.Size, MaxResultLine(maxOutputBytes))
	}
	if !HexSHA256.MatchString(s.SHA256) {
		return s, fmt.Errorf("the termination message has a malformed sha256")
	}
	return s, nil
}

// ParseResultLog finds, in the tail of the runner's log, the line that the
// summary describes, and decodes it. Anything that does not match exactly
// is an error: the Pod is not trusted.
func ParseResultLog(log []byte, s Summary, maxOutputBytes int64) (ExecutionResult, error) {
	var r ExecutionResult
	var line []byte
	for _, l := range bytes.Split(log, []byte{'\n'}) {
		l = bytes.TrimSuffix(l, []byte{'\r'})
		if int64(len(l)) != s.Size {
			continue
		}
		sum := sha256.Sum256(l)
		if hex.EncodeToString(sum[:]) == s.SHA256 {
			line = l
		}
	}
	if line == nil {
		return r, fmt.Errorf("the runner's log holds no result of %d bytes with the sha256 of its termination message", s.Size)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("the runner's result is not an ExecutionResult: %w", err)
	}
	if r.Reason != s.Reason || r.Succeeded != s.Succeeded {
		return r, fmt.Errorf("the runner's result (%s) disagrees with its summary (%s)", r.Reason, s.Reason)
	}
	if r.Result != nil && !json.Valid(r.Result) {
		return r, fmt.Errorf("the runner's result payload is not valid JSON")
	}
	if int64(len(r.Result)) > maxOutputBytes {
		return ExecutionResult{
			Reason:  OutputLimitExceeded,
			Message: fmt.Sprintf("the result is %d bytes, over maxOutputBytes %d", len(r.Result), maxOutputBytes),
			Stdout:  r.Stdout, Stderr: r.Stderr, Truncated: true, DurationMillis: r.DurationMillis,
		}, nil
	}
	return r, nil
}
