package runner

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/result"
)

func TestRunJSX(t *testing.T) {
	const ok = "import React from 'react';\nexport default function A() { return <p>hi</p>; }\n"
	tests := map[string]struct {
		code      string
		maxOutput int64
		reason    result.Reason
		message   string
	}{
		"ok":             {code: ok, reason: result.Completed},
		"compile error":  {code: "export default () => <div>é</span>;\n", reason: result.CompilationError, message: "line 1, column 30"},
		"import fs":      {code: "import fs from 'fs';\nexport default () => <p/>;\n", reason: result.SecurityViolation, message: `"fs"`},
		"pragma":         {code: "/** @jsxImportSource preact */\nexport default () => <p/>;\n", reason: result.SecurityViolation, message: "pragma"},
		"too large":      {code: ok + "//" + strings.Repeat("x", 1<<20), reason: result.InvalidInput, message: "over the limit"},
		"output too big": {code: ok, maxOutput: 1000, reason: result.OutputLimitExceeded, message: "output limit"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := Run(context.Background(), Config{Language: JSX, Code: []byte(tc.code), MaxOutputBytes: tc.maxOutput})
			if res.Reason != tc.reason || res.Succeeded != (tc.reason == result.Completed) {
				t.Fatalf("reason %s (succeeded %v), want %s: %s", res.Reason, res.Succeeded, tc.reason, res.Message)
			}
			if !strings.Contains(res.Message, tc.message) {
				t.Errorf("message %q does not contain %q", res.Message, tc.message)
			}
			line := result.Encode(res)
			if !json.Valid(line) {
				t.Fatal("the result is not valid JSON")
			}
			switch tc.reason {
			case result.Completed:
				var out struct {
					JS       string `json:"js"`
					HTML     string `json:"html"`
					Manifest struct {
						Sandbox string `json:"sandbox"`
						CSP     string `json:"csp"`
						SHA256  string `json:"sha256"`
					} `json:"manifest"`
				}
				if err := json.Unmarshal(res.Result, &out); err != nil {
					t.Fatal(err)
				}
				if out.JS == "" || !strings.HasPrefix(out.HTML, "<!DOCTYPE html>") || out.Manifest.Sandbox != "allow-scripts" ||
					!strings.HasPrefix(out.Manifest.CSP, "default-src 'none'") || len(out.Manifest.SHA256) != 64 {
					t.Errorf("unexpected result shape: %.200s", res.Result)
				}
			case result.CompilationError:
				var out struct {
					Errors []struct {
						Line, Column int
						Text         string
					} `json:"errors"`
				}
				if err := json.Unmarshal(res.Result, &out); err != nil || len(out.Errors) == 0 || out.Errors[0].Line != 1 || out.Errors[0].Column != 30 {
					t.Errorf("compile error result %s (%v)", res.Result, err)
				}
			}
		})
	}
}
