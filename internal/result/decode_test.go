package result

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// encodeRun returns the log line and termination message a runner would
// write for r.
func encodeRun(r ExecutionResult) (line []byte, summary string) {
	line = Encode(r)
	b, _ := json.Marshal(Summarize(r, line))
	return line, string(b)
}

func TestParseSummary(t *testing.T) {
	okLine, okMsg := encodeRun(Success(json.RawMessage(`{"a":1}`)))
	cases := map[string]struct {
		msg     string
		wantErr string
	}{
		"valid":          {msg: okMsg},
		"empty":          {msg: "", wantErr: "no termination message"},
		"garbage":        {msg: "Killed", wantErr: "not a runner summary"},
		"oversized":      {msg: strings.Repeat("x", 5000), wantErr: "over 4096"},
		"unknown field":  {msg: `{"reason":"Completed","succeeded":true,"size":3,"sha256":"` + strings.Repeat("a", 64) + `","extra":1}`, wantErr: "unknown field"},
		"unknown reason": {msg: `{"reason":"Pwned","size":3,"sha256":"` + strings.Repeat("a", 64) + `"}`, wantErr: "unknown reason"},
		"succeeded lie":  {msg: `{"reason":"Timeout","succeeded":true,"size":3,"sha256":"` + strings.Repeat("a", 64) + `"}`, wantErr: "succeeded=true with reason Timeout"},
		"size too large": {msg: `{"reason":"Completed","succeeded":true,"size":99999999999,"sha256":"` + strings.Repeat("a", 64) + `"}`, wantErr: "outside"},
		"bad sha":        {msg: `{"reason":"Completed","succeeded":true,"size":3,"sha256":"xyz"}`, wantErr: "malformed sha256"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := ParseSummary(tc.msg, 1<<20)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseSummary: %v", err)
				}
				if s.Size != int64(len(okLine)) {
					t.Errorf("size = %d, want %d", s.Size, len(okLine))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseSummary error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseResultLog(t *testing.T) {
	ok := Success(json.RawMessage(`[1,2,3]`))
	ok.Stdout = "hello\n"
	okLine, okMsg := encodeRun(ok)
	big := Success(json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`))
	bigLine, bigMsg := encodeRun(big)
	liar := Failure(Timeout, "t")
	liarLine, _ := encodeRun(liar)
	_, liarMsg := encodeRun(Failure(RuntimeError, "t"))

	cases := map[string]struct {
		log     string
		msg     string
		max     int64
		want    *ExecutionResult
		wantErr string
	}{
		"valid, among other lines": {log: "debug line\n" + string(okLine) + "\n", msg: okMsg, max: 1 << 20, want: &ok},
		"empty log":                {log: "", msg: okMsg, max: 1 << 20, wantErr: "holds no result"},
		"garbage":                  {log: "\x00\xffgarbage\n", msg: okMsg, max: 1 << 20, wantErr: "holds no result"},
		"tampered line":            {log: strings.Replace(string(okLine), "hello", "HELLO", 1), msg: okMsg, max: 1 << 20, wantErr: "holds no result"},
		"disagrees with summary": {log: string(liarLine), msg: func() string {
			var s Summary
			_ = json.Unmarshal([]byte(liarMsg), &s)
			s2 := Summarize(liar, liarLine)
			s2.Reason = s.Reason
			b, _ := json.Marshal(s2)
			return string(b)
		}(), max: 1 << 20, wantErr: "disagrees"},
		"result over maxOutputBytes": {log: string(bigLine), msg: bigMsg, max: 100, want: &ExecutionResult{
			Reason: OutputLimitExceeded, Message: "the result is 2002 bytes, over maxOutputBytes 100", Truncated: true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var s Summary
			if err := json.Unmarshal([]byte(tc.msg), &s); err != nil {
				t.Fatal(err)
			}
			got, err := ParseResultLog([]byte(tc.log), s, tc.max)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(*tc.want, got); diff != "" {
				t.Errorf("ParseResultLog (-want,+got):\n%s", diff)
			}
		})
	}
}

func FuzzParseRunnerOutput(f *testing.F) {
	line, msg := encodeRun(Success(json.RawMessage(`{"k":[1,null,"x"]}`)))
	f.Add(msg, string(line))
	f.Add("", "")
	f.Add(`{"reason":"Completed","succeeded":true,"size":2,"sha256":"`+strings.Repeat("0", 64)+`"}`, "{}")
	f.Fuzz(func(t *testing.T, msg, log string) {
		s, err := ParseSummary(msg, 1<<20)
		if err != nil {
			return
		}
		r, err := ParseResultLog([]byte(log), s, 1<<20)
		if err != nil {
			return
		}
		if r.Result != nil && !json.Valid(r.Result) {
			t.Fatalf("accepted an invalid result payload %q", r.Result)
		}
		if !IsRunnerReason(r.Reason) {
			t.Fatalf("accepted unknown reason %q", r.Reason)
		}
	})
}
