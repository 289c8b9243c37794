package result

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

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

// TestEncodeInvalidUTF8: json.Valid accepts raw invalid bytes inside a
// string, and the payload is spliced in unchanged; the line must be valid
// UTF-8 whatever the payload holds.
func TestEncodeInvalidUTF8(t *testing.T) {
	for _, payload := range []string{"\"\xff\"", "{\"k\xfe\":\"\xc0\xaf\"}", "[\"ok\",\"\xed\xa0\x80\"]"} {
		line := Encode(Success(json.RawMessage(payload)))
		if !utf8.Valid(line) || !json.Valid(line) {
			t.Errorf("Encode(%q) = %q: not valid UTF-8 JSON", payload, line)
		}
	}
}

// hostileMessages are the worst cases for a summary: characters that
// json.Marshal escapes to six bytes, invalid UTF-8, long runes.
var hostileMessages = []string{
	strings.Repeat("<", 5000),
	strings.Repeat("\xff", 5000),
	strings.Repeat("\x01", 5000),
	strings.Repeat("\u2028", 3000),
	strings.Repeat("&>\"\\", 2000),
	strings.Repeat("𝄞", 3000),
	strings.Repeat("a", 1023) + "<<<<<<",
}

// TestSummaryFits proves a termination summary fits the kubelet's 4096
// bytes as encoded, for the worst messages and random mixes of their
// characters.
func TestSummaryFits(t *testing.T) {
	check := func(msg string) {
		t.Helper()
		r := Failure(RuntimeError, msg)
		r.DurationMillis = 1<<63 - 1
		s := Summarize(r, []byte(msg))
		b := s.Encode()
		if len(b) > MaxSummaryBytes || !utf8.Valid(b) || !json.Valid(b) {
			t.Fatalf("summary of %d-byte message %.40q is %d bytes (valid %v)", len(msg), msg, len(b), json.Valid(b))
		}
		if m, _ := json.Marshal(s); !bytes.Equal(m, b) {
			t.Fatalf("Encode differs from json.Marshal")
		}
		if len(msg) > 0 && s.Message == "" {
			t.Fatalf("the whole message was dropped for %.40q", msg)
		}
	}
	for _, m := range hostileMessages {
		check(m)
	}
	alphabet := []string{"<", ">", "&", "\xff", "\x00", "\n", "\"", "\\", "\u2028", "é", "𝄞", "a", "\xe2\x82"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for n := rng.IntN(6000); n > 0; n-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		check(b.String())
	}
	// A reason from outside the vocabulary cannot inflate it either.
	long := Summarize(ExecutionResult{Reason: Reason(strings.Repeat("<", 9000)), Message: "m"}, nil)
	if b := long.Encode(); len(b) > MaxSummaryBytes || long.Reason != InternalError {
		t.Fatalf("a foreign reason passed: %d bytes, %q", len(b), long.Reason)
	}
}

func FuzzSummaryFits(f *testing.F) {
	for _, m := range hostileMessages {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		b := Summarize(Failure(RuntimeError, msg), []byte(msg)).Encode()
		if len(b) > MaxSummaryBytes || !utf8.Valid(b) || !json.Valid(b) {
			t.Fatalf("summary is %d bytes", len(b))
		}
	})
}

// SuccessEncoded skips the payload's checks only while Result is the very
// payload it was given: whoever replaces Result gets them back.
func TestSuccessEncodedTrustsOnlyItsOwnPayload(t *testing.T) {
	good := json.RawMessage(`{"html":"<p>\u2028</p>","n":[1,2]}`)
	if got, want := string(Encode(SuccessEncoded(good))), string(Encode(Success(good))); got != want {
		t.Errorf("SuccessEncoded encodes %s, Success %s", got, want)
	}
	r := SuccessEncoded(json.RawMessage(`{"a":1}`))
	r.Result = json.RawMessage(`{"a":`) // replaced: no longer trusted
	var back map[string]any
	if err := json.Unmarshal(Encode(r), &back); err != nil {
		t.Fatalf("a replaced payload was spliced in unchecked: %v", err)
	}
	if back["reason"] != string(InternalError) {
		t.Errorf("a replaced, invalid payload gave %v, want InternalError", back)
	}
	r = SuccessEncoded(json.RawMessage("{\"a\":\n1}"))
	r.Result = append(json.RawMessage(nil), r.Result...) // same bytes, another slice
	if line := Encode(r); bytes.IndexByte(line, '\n') >= 0 {
		t.Errorf("a copied payload skipped compaction: %q", line)
	}
}
