package result

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEncode(t *testing.T) {
	cases := map[string]struct {
		in   ExecutionResult
		want ExecutionResult
	}{
		"success with a payload": {
			in:   Success(json.RawMessage(`{"a":[1,2,{"b":null}]}`)),
			want: Success(json.RawMessage(`{"a":[1,2,{"b":null}]}`)),
		},
		"payload with newlines between tokens is compacted": {
			in:   Success(json.RawMessage("{\n  \"a\": \"x\\ny\"\r\n}")),
			want: Success(json.RawMessage(`{"a":"x\ny"}`)),
		},
		"invalid payload becomes an internal error": {
			in:   Success(json.RawMessage(`{"a":`)),
			want: Failure(InternalError, "runner produced a result that is not valid JSON"),
		},
		"failure without payload": {
			in:   Failure(Timeout, "timed out after 3s"),
			want: Failure(Timeout, "timed out after 3s"),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			line := Encode(tc.in)
			if bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("the line holds a line break: %q", line)
			}
			var got ExecutionResult
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("decoding %q: %v", line, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Encode round trip (-want,+got):\n%s", diff)
			}
		})
	}
}

func FuzzEncode(f *testing.F) {
	f.Add(`{"a":1}`, "msg\nwith newline")
	f.Add("[1,\n2]", "")
	f.Add(`"x`, "")
	f.Fuzz(func(t *testing.T, payload, msg string) {
		r := Success(json.RawMessage(payload))
		r.Message = msg
		line := Encode(r)
		if bytes.ContainsAny(line, "\n\r") || !json.Valid(line) {
			t.Fatalf("Encode(%q) = %q: not one valid JSON line", payload, line)
		}
		if json.Valid([]byte(payload)) && strings.TrimSpace(payload) != "" {
			var got ExecutionResult
			if err := json.Unmarshal(line, &got); err != nil || !got.Succeeded {
				t.Fatalf("valid payload %q lost: %s", payload, line)
			}
		}
	})
}

func TestTruncateUTF8(t *testing.T) {
	if got := TruncateUTF8("héllo", 2); got != "h" {
		t.Errorf("TruncateUTF8 split a rune: %q", got)
	}
}
