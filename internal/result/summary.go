package result

import (
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

// Encode returns the line of JSON (without newline) for r.
func Encode(r ExecutionResult) []byte {
	if r.Result != nil && !json.Valid(r.Result) {
		r = Failure(InternalError, "runner produced a result that is not valid JSON")
	}
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(Failure(InternalError, "encoding the result: "+err.Error()))
	}
	return b
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
