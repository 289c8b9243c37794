package result

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"unicode/utf8"
)

// MaxSummaryMessage bounds Summary.Message so that a Summary always fits
// the kubelet's 4 KiB termination-message limit.
const MaxSummaryMessage = 1024

// Summary is what the runner writes to the Pod's termination message: small
// enough for the 4 KiB limit, and enough for the controller to check the
// full ExecutionResult it then reads from the container log.
type Summary struct {
	Succeeded      bool   `json:"succeeded"`
	Reason         Reason `json:"reason"`
	Message        string `json:"message"`
	DurationMillis int64  `json:"durationMillis"`
	// Size is the length in bytes of the ExecutionResult line (without its
	// trailing newline) printed on stdout.
	Size int64 `json:"size"`
	// SHA256 is the hex sha256 of those bytes.
	SHA256 string `json:"sha256"`
}

// Summarize builds the Summary of r, whose encoded line (without newline)
// is line.
func Summarize(r ExecutionResult, line []byte) Summary {
	sum := sha256.Sum256(line)
	return Summary{
		Succeeded:      r.Succeeded,
		Reason:         r.Reason,
		Message:        TruncateUTF8(r.Message, MaxSummaryMessage),
		DurationMillis: r.DurationMillis,
		Size:           int64(len(line)),
		SHA256:         hex.EncodeToString(sum[:]),
	}
}

// Encode returns the line of JSON (without newline) for r. The result
// payload is spliced in as it is (after validation), not re-encoded:
// results reach 1 MiB and re-compacting them cost more than the rest of a
// JSX run. Whitespace between its tokens is removed only when it holds a
// newline, which would break the one-line contract.
func Encode(r ExecutionResult) []byte {
	payload := r.Result
	r.Result = nil
	if payload != nil && !json.Valid(payload) {
		r, payload = Failure(InternalError, "runner produced a result that is not valid JSON"), nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(Failure(InternalError, "encoding the result: "+err.Error()))
		payload = nil
	}
	if payload == nil {
		return b
	}
	if bytes.ContainsAny(payload, "\r\n") {
		var buf bytes.Buffer
		if err := json.Compact(&buf, payload); err == nil {
			payload = buf.Bytes()
		}
	}
	out := make([]byte, 0, len(b)+len(payload)+len(`,"result":`))
	out = append(out, b[:len(b)-1]...)
	out = append(out, `,"result":`...)
	out = append(out, payload...)
	return append(out, '}')
}

// TruncateUTF8 cuts s to at most n bytes without splitting a rune.
func TruncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
