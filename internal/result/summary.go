package result

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// MaxSummaryMessage bounds Summary.Message in bytes before encoding.
const MaxSummaryMessage = 1024

// MaxSummaryBytes is the kubelet's limit on a termination message (4096
// bytes, counted on the file as written). A Summary's JSON encoding never
// exceeds it: the message is cut by its encoded length, not its raw one,
// because json.Marshal turns one byte into up to six (`<` is \u003c, an
// invalid UTF-8 byte is \ufffd).
const MaxSummaryBytes = 4096

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
	s := Summary{
		Succeeded:      r.Succeeded,
		Reason:         r.Reason,
		DurationMillis: r.DurationMillis,
		Size:           int64(len(line)),
		SHA256:         hex.EncodeToString(sum[:]),
	}
	if !IsRunnerReason(s.Reason) {
		s.Reason = InternalError
	}
	msg := TruncateUTF8(strings.ToValidUTF8(r.Message, "\uFFFD"), MaxSummaryMessage)
	// Cut the message by its encoded size: the rest of the summary is
	// bounded (a reason of the vocabulary, numbers, a hex digest), so the
	// room left for the message is known exactly.
	base, _ := json.Marshal(s)
	room := MaxSummaryBytes - len(base)
	if encodedLen(msg) > room {
		runes := []rune(msg)
		lo, hi := 0, len(runes) // the longest prefix that fits is in [lo, hi)
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if encodedLen(string(runes[:mid])) <= room {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		msg = string(runes[:lo])
	}
	s.Message = msg
	return s
}

// Encode returns the summary's JSON, at most MaxSummaryBytes long when s
// came from Summarize.
func (s Summary) Encode() []byte {
	b, _ := json.Marshal(s)
	return b
}

// encodedLen is the number of bytes json.Marshal adds for s as a string
// value beyond the empty string's two quotes.
func encodedLen(s string) int {
	b, _ := json.Marshal(s)
	return len(b) - 2
}

// Encode returns the line of JSON (without newline) for r. The result
// payload is spliced in as it is (after validation), not re-encoded:
// results reach 1 MiB and re-compacting them cost more than the rest of a
// JSX run. Whitespace between its tokens is removed only when it holds a
// newline, which would break the one-line contract.
func Encode(r ExecutionResult) []byte {
	payload := r.Result
	trusted := isEncoded(payload)
	r.Result = nil
	if payload != nil && !trusted && !json.Valid(payload) {
		r, payload = Failure(InternalError, "runner produced a result that is not valid JSON"), nil
	}
	if payload != nil && !trusted && !utf8.Valid(payload) {
		// json.Valid accepts invalid UTF-8 inside strings, and the payload
		// is spliced in as it is: make the line valid UTF-8 by
		// construction. Outside strings an invalid byte is invalid JSON, so
		// only string contents change, to what a decoder would read anyway.
		payload = bytes.ToValidUTF8(payload, []byte("\uFFFD"))
	}
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(Failure(InternalError, "encoding the result: "+err.Error()))
		payload = nil
	}
	if payload == nil {
		return b
	}
	if !trusted && (bytes.IndexByte(payload, '\n') >= 0 || bytes.IndexByte(payload, '\r') >= 0) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, payload); err == nil {
			payload = buf.Bytes()
		}
	}
	// Room for the closing brace and the newline a caller appends: the
	// payload can be most of a MiB, copied once.
	out := make([]byte, 0, len(b)+len(payload)+len(`,"result":`)+2)
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
