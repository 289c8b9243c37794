package pyexec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The bootstrap cuts what it puts in an error frame (a message to 2000
// characters, a traceback to its last 8000, a violation's message to
// 1000), but the code can call its send_error itself (found with gc) with
// anything that fits the channel. The runner caps the fields again where
// it decodes them, so the result line stays within what the judge reads
// (internal/runner's maxReportLine) whatever the frame held.
const (
	maxFrameMessageRunes   = 2000
	maxFrameTracebackRunes = 8000
	maxFrameNameRunes      = 200
)

// capRunes keeps the first n runes of s (cut on a rune boundary).
func capRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// capRunesTail keeps the last n runes of s (a traceback's end is its
// useful part, as the bootstrap keeps it).
func capRunesTail(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	c := utf8.RuneCountInString(s) - n
	for j := range s {
		if c == 0 {
			return s[j:]
		}
		c--
	}
	return ""
}

func (e *errorFrame) capFields() {
	e.Reason = capRunes(e.Reason, maxFrameNameRunes)
	e.Type = capRunes(e.Type, maxFrameNameRunes)
	e.Message = capRunes(e.Message, maxFrameMessageRunes)
	e.Traceback = capRunesTail(e.Traceback, maxFrameTracebackRunes)
}

// errorFrame is what the bootstrap reports when the code did not produce
// a result.
type errorFrame struct {
	Reason    string `json:"reason"`
	Type      string `json:"type"`
	Message   string `json:"message"`
	Line      int    `json:"line"`
	Col       int    `json:"col"`
	Traceback string `json:"traceback"`
}

// violationFrame is the audit hook's first refusal.
type violationFrame struct {
	Event   string `json:"event"`
	Message string `json:"message"`
}

// frames is the parsed result channel.
type frames struct {
	result    json.RawMessage
	err       *errorFrame
	violation *violationFrame
	// over is the length of an "over" frame: the first bytes of a `result`
	// whose JSON passed the output budget, as the bootstrap converted it.
	// Only this count, the runner's own, makes OutputLimitExceeded.
	over int
	// finals counts result, over and error frames; the bootstrap writes one.
	finals int
}

const maxFrameHeader = 128

// parseFrames reads `CX1 <nonce> <kind> <len>\n<payload>` frames. Any
// malformed byte, a wrong nonce or an unknown kind is an error: only the
// bootstrap knows the nonce, so a bad channel means tampering.
func parseFrames(data []byte, nonce string) (frames, error) {
	var f frames
	prefix := []byte("CX1 " + nonce + " ")
	for len(data) > 0 {
		nl := bytes.IndexByte(data[:min(len(data), maxFrameHeader)], '\n')
		if nl < 0 {
			return f, errors.New("malformed frame header")
		}
		head := data[:nl]
		if !bytes.HasPrefix(head, prefix) {
			return f, errors.New("frame without the run's nonce")
		}
		kind, lenStr, ok := bytes.Cut(head[len(prefix):], []byte(" "))
		if !ok {
			return f, errors.New("malformed frame header")
		}
		n, err := strconv.Atoi(string(lenStr))
		if err != nil || n < 0 || n > len(data)-nl-1 {
			return f, errors.New("bad frame length")
		}
		payload := data[nl+1 : nl+1+n]
		data = data[nl+1+n:]
		if string(kind) == "over" {
			// A prefix of JSON, cut at the budget: counted, never parsed.
			f.finals++
			if f.finals == 1 {
				f.over = n
			}
			continue
		}
		if !json.Valid(payload) {
			return f, fmt.Errorf("%s frame is not valid JSON", kind)
		}
		switch string(kind) {
		case "result":
			f.finals++
			if f.finals == 1 {
				f.result = json.RawMessage(payload)
			}
		case "error":
			f.finals++
			var e errorFrame
			if err := json.Unmarshal(payload, &e); err != nil {
				return f, fmt.Errorf("error frame: %w", err)
			}
			e.capFields()
			if f.finals == 1 {
				f.err = &e
			}
		case "violation":
			var v violationFrame
			if err := json.Unmarshal(payload, &v); err != nil {
				return f, fmt.Errorf("violation frame: %w", err)
			}
			v.Event = capRunes(v.Event, maxFrameNameRunes)
			v.Message = capRunes(v.Message, maxFrameMessageRunes)
			if f.violation == nil {
				f.violation = &v
			}
		default:
			return f, fmt.Errorf("unknown frame kind %q", kind)
		}
	}
	return f, nil
}
