package jsxbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/evanw/esbuild/pkg/api"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
)

const okComponent = `import React from 'react';
export default function Hello() { return <p>Hello</p>; }
`

// checkOutput verifies the invariants of every compiled document: the
// HTML parses into exactly the scripts that were written, each script's
// hash is in the CSP, the CSP forbids what it must, and the manifest is
// right.
func checkOutput(t *testing.T, out *Output) {
	t.Helper()
	if out == nil {
		t.Fatal("nil output")
	}
	sum := sha256.Sum256([]byte(out.HTML))
	if got := hex.EncodeToString(sum[:]); got != out.Manifest.SHA256 {
		t.Errorf("manifest sha256 %s, document hashes to %s", out.Manifest.SHA256, got)
	}
	if out.Manifest.Sandbox != "allow-scripts" {
		t.Errorf("sandbox %q", out.Manifest.Sandbox)
	}
	// What the runner hands to result.SuccessEncoded unchecked: valid,
	// compact JSON in valid UTF-8, equal to escaping the whole document.
	if b, err := out.AppendJSON(nil); err != nil || !json.Valid(b) || !utf8.Valid(b) || bytes.ContainsAny(b, "\r\n") ||
		!bytes.Contains(b, append(append([]byte(`,"html":`), appendJSONString(nil, out.HTML)...), `,"manifest":`...)) {
		t.Errorf("AppendJSON is not the valid, compact JSON of the document (err %v)", err)
	}
	csp := out.Manifest.CSP
	for _, want := range []string{"default-src 'none'", "connect-src 'none'", "img-src data: blob:", "frame-src 'none'",
		"form-action 'none'", "base-uri 'none'", "object-src 'none'", "worker-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %q: %s", want, csp)
		}
	}
	var scriptSrc string
	for _, d := range strings.Split(csp, ";") {
		d = strings.TrimSpace(d)
		if strings.HasPrefix(d, "script-src ") {
			scriptSrc = d
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "strict-dynamic", "*", "data:", "blob:", "http", "'self'"} {
		if strings.Contains(scriptSrc, bad) {
			t.Errorf("script-src allows %q: %s", bad, scriptSrc)
		}
	}
	if strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows unsafe-eval: %s", csp)
	}

	doc, err := html.Parse(strings.NewReader(out.HTML))
	if err != nil {
		t.Fatalf("parsing the document: %v", err)
	}
	var scripts []string
	var metaCSP string
	var rootFound, bodyEnd bool
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				var b strings.Builder
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					b.WriteString(c.Data)
				}
				scripts = append(scripts, b.String())
			case "meta":
				var equiv, content string
				for _, a := range n.Attr {
					switch a.Key {
					case "http-equiv":
						equiv = a.Val
					case "content":
						content = a.Val
					}
				}
				if strings.EqualFold(equiv, "Content-Security-Policy") {
					metaCSP = content
				}
			case "div":
				for _, a := range n.Attr {
					if a.Key == "id" && a.Val == "root" {
						rootFound = true
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if metaCSP != csp {
		t.Errorf("meta CSP %q differs from the manifest's %q", metaCSP, csp)
	}
	if !rootFound {
		t.Error("no <div id=root>")
	}
	// The last script is the component; its element must end where it was
	// written, so the document ends with the expected markup.
	bodyEnd = strings.HasSuffix(out.HTML, "</script>\n</body>\n</html>\n")
	if !bodyEnd {
		t.Error("the document does not end with its own closing tags")
	}
	wantScripts := 4 // boot, react, react-dom, component
	for _, m := range out.Manifest.Imports {
		if m == "recharts" {
			wantScripts += 2
		}
	}
	if len(scripts) != wantScripts {
		t.Fatalf("the document parses into %d scripts, want %d: something ended or opened a script element", len(scripts), wantScripts)
	}
	for i, s := range scripts {
		if !strings.Contains(scriptSrc, scriptHash(s)) {
			t.Errorf("script %d's hash %s is not in the CSP", i, scriptHash(s))
		}
		if err := checkScriptText(s); err != nil {
			t.Errorf("script %d: %v", i, err)
		}
	}
	if !strings.Contains(scripts[len(scripts)-1], out.JS) {
		t.Error("the last script does not hold the compiled js")
	}
}

func TestCompileOK(t *testing.T) {
	out, err := Compile(context.Background(), []byte(okComponent), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, out)
	if diff := cmp.Diff([]string{"react", "react/jsx-runtime"}, out.Manifest.Imports); diff != "" {
		t.Errorf("imports (-want,+got):\n%s", diff)
	}
	if strings.Contains(out.HTML, "decimal.js-light") || len(out.HTML) > 200<<10 {
		t.Error("recharts is embedded although the code does not import it")
	}
}

func TestPragmas(t *testing.T) {
	tests := map[string]struct {
		src     string
		refused bool
	}{
		"jsxImportSource preact":       {src: "/** @jsxImportSource preact */\nexport default () => <a/>;", refused: true},
		"jsxImportSource evil url":     {src: "// @jsxImportSource https://evil.example/x\nexport default () => <a/>;", refused: true},
		"jsx factory h":                {src: "/* @jsx h */\nconst h = () => null;\nexport default () => <a/>;", refused: true},
		"jsx factory eval":             {src: "/** @jsx eval */\nexport default () => <a/>;", refused: true},
		"jsxFrag":                      {src: "/** @jsxFrag Frag */\nexport default () => <></>;", refused: true},
		"jsxRuntime bogus":             {src: "/** @jsxRuntime preact */\nexport default () => <a/>;", refused: true},
		"pragma mid-file":              {src: "export default () => <a/>;\n/** @jsxImportSource preact */\n", refused: true},
		"pragma without space":         {src: "/**@jsxImportSource preact*/\nexport default () => <a/>;", refused: true},
		"jsxImportSource react":        {src: "/** @jsxImportSource react */\nexport default () => <a/>;"},
		"jsxImportSource react tight":  {src: "/* @jsxImportSource react*/\nexport default () => <a/>;"},
		"jsxRuntime classic + React":   {src: "/** @jsxRuntime classic */\nimport React from 'react';\nexport default () => <a/>;"},
		"jsx React.createElement":      {src: "/** @jsxRuntime classic @jsx React.createElement */\nimport React from 'react';\nexport default () => <a/>;"},
		"not a pragma (no boundary)":   {src: "// @jsxfoo bar\nexport default () => <a/>;"},
		"email-like text is not one":   {src: "// mail me: a@b.jsx.example\nexport default () => <a/>;"},
		"refused even inside a string": {src: "export default () => <a title=\"@jsx h\"/>;", refused: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := Compile(context.Background(), []byte(tc.src), Options{})
			var refused *RefusedError
			if tc.refused {
				if !errors.As(err, &refused) {
					t.Fatalf("want RefusedError, got out=%v err=%v", out != nil, err)
				}
				if !strings.Contains(refused.Reason, "pragma") || refused.Line == 0 {
					t.Errorf("unclear refusal: %v", refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("want it compiled, got %v", err)
			}
			checkOutput(t, out)
		})
	}
}

func TestImportAllowList(t *testing.T) {
	tests := map[string]struct {
		src     string
		refused string // substring of the reason; empty means it compiles
	}{
		"fs":                     {src: "import fs from 'fs';\nexport default () => <p>{String(fs)}</p>;", refused: `"fs"`},
		"node:fs":                {src: "import * as fs from 'node:fs';\nexport default () => <p/>;", refused: `"node:fs"`},
		"relative":               {src: "import x from './secret.json';\nexport default () => <p>{x}</p>;", refused: `"./secret.json"`},
		"absolute":               {src: "import x from '/etc/passwd';\nexport default () => <p>{x}</p>;", refused: `"/etc/passwd"`},
		"url":                    {src: "import x from 'https://esm.sh/react';\nexport default () => <p/>;", refused: `"https://esm.sh/react"`},
		"react-dom/server":       {src: "import { renderToString } from 'react-dom/server';\nexport default () => <p/>;", refused: `"react-dom/server"`},
		"export from":            {src: "export { readFileSync } from 'fs';\nexport default () => <p/>;", refused: `"fs"`},
		"export star from":       {src: "export * from 'child_process';\nexport default () => <p/>;", refused: `"child_process"`},
		"side-effect import":     {src: "import 'lodash';\nexport default () => <p/>;", refused: `"lodash"`},
		"require literal fs":     {src: "const fs = require('fs');\nexport default () => <p/>;", refused: `"fs"`},
		"require template fs":    {src: "const fs = require(`fs`);\nexport default () => <p/>;", refused: `"fs"`},
		"dynamic import literal": {src: "export default () => { import('fs'); return <p/>; };", refused: `"fs"`},
		"dynamic import var":     {src: "const m = 'fs';\nexport default () => { import(m); return <p/>; };", refused: "dynamic"},
		"require variable":       {src: "const m = 'fs';\nconst x = require(m);\nexport default () => <p/>;", refused: "dynamic"},
		"require alias":          {src: "const r = require;\nexport default () => <p>{String(r('fs'))}</p>;", refused: "dynamic"},
		"require concat":         {src: "const x = require('f' + 's');\nexport default () => <p/>;", refused: `"fs"`}, // esbuild folds the constant
		"require two args":       {src: "const x = require('react', 1);\nexport default () => <p/>;", refused: "dynamic"},
		"require.call":           {src: "const x = require.call(null, 'fs');\nexport default () => <p/>;", refused: "dynamic"},
		"typeof require":         {src: "const x = typeof require;\nexport default () => <p>{x}</p>;", refused: "dynamic"},
		"require escaped name":   {src: "const x = require('\\x66s');\nexport default () => <p/>;", refused: `"fs"`},
		"react ok":               {src: "import React, { useState } from 'react';\nexport default () => { const [a] = useState(1); return <p>{a}</p>; };"},
		"recharts ok":            {src: "import { LineChart } from 'recharts';\nexport default () => <LineChart width={10} height={10} data={[]} />;"},
		"react-dom ok":           {src: "import { createPortal } from 'react-dom';\nexport default () => <p>{typeof createPortal}</p>;"},
		"require react ok":       {src: "const React = require('react');\nexport default () => React.createElement('p', null, 'x');"},
		"property named require": {src: "const o = { require: 1 };\nconst p = o.require;\nexport default () => <p>{p}</p>;"},
		"local function require": {src: "function require(x) { return x; }\nexport default () => <p>{require('fs')}</p>;"},
		"require in a string":    {src: "export default () => <p>{'require(\"fs\")'} and {`import('fs')`}</p>;"},
		"require in a regex":     {src: "const re = /require\\(\"fs\"\\)/;\nexport default () => <p>{String(re)}</p>;"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := Compile(context.Background(), []byte(tc.src), Options{})
			if tc.refused == "" {
				if err != nil {
					t.Fatalf("want it compiled, got %v", err)
				}
				checkOutput(t, out)
				return
			}
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("want RefusedError, got out=%v err=%v", out != nil, err)
			}
			if !strings.Contains(refused.Error(), tc.refused) {
				t.Errorf("reason %q does not mention %q", refused.Error(), tc.refused)
			}
			if mod := strings.Trim(tc.refused, `"`); mod != tc.refused && strings.Contains(tc.src, "'"+mod+"'") {
				if want := strings.Index(tc.src, "'"+mod+"'"); refused.Line != 1+strings.Count(tc.src[:want], "\n") {
					t.Errorf("refusal at line %d, the import is on line %d", refused.Line, 1+strings.Count(tc.src[:want], "\n"))
				}
			}
		})
	}
}

func TestCompileErrorPositions(t *testing.T) {
	tests := map[string]struct {
		src  string
		want Position
	}{
		"ascii":                   {src: "export default () => (\n  <div>\n    <span>x\n  </div>\n);\n", want: Position{4, 5}},
		"two-byte chars before":   {src: "const s = 'é';\nconst x = <div>é é é</span>;\n", want: Position{2, 23}},
		"four-byte emoji before":  {src: "const x = <p>😀😀</b>;\n", want: Position{1, 18}},
		"cjk before":              {src: "const 名前 = 1; const y = <p>表</q>;\n", want: Position{1, 31}},
		"missing brace":           {src: "export default () => <ul>{[1].map(d => <li>{d</li>)}</ul>;\n", want: Position{1, 56}},
		"unterminated string":     {src: "const x = 'abc\n", want: Position{1, 15}},
		"unexpected end of input": {src: "export default function A() {\n  return <p>x</p>;\n", want: Position{3, 1}},
		"crlf line endings":       {src: "const a = 1;\r\nconst b = <p>é</i>;\r\n", want: Position{2, 17}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(context.Background(), []byte(tc.src), Options{})
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("want CompileError, got %v", err)
			}
			if diff := cmp.Diff(tc.want, ce.Errors[0].Position); diff != "" {
				t.Errorf("position (-want,+got): %s\n%s", diff, ce.Errors[0].Text)
			}
			if !strings.HasPrefix(ce.Error(), "line ") {
				t.Errorf("message %q", ce.Error())
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	pad := func(n int) []byte {
		src := []byte(okComponent + "//")
		for len(src) < n-1 {
			src = append(src, 'x')
		}
		return append(src, '\n')
	}
	exact := pad(DefaultMaxSourceBytes)
	if len(exact) != DefaultMaxSourceBytes {
		t.Fatalf("test input is %d bytes", len(exact))
	}
	if _, err := Compile(context.Background(), exact, Options{}); err != nil {
		t.Errorf("exactly 1 MiB must compile: %v", err)
	}
	over := append(exact, '\n')
	_, err := Compile(context.Background(), over, Options{})
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Size != len(over) || tl.Limit != DefaultMaxSourceBytes {
		t.Fatalf("1 MiB + 1 byte: want TooLargeError, got %v", err)
	}
	// Refused before compiling: even garbage is only "too large".
	garbage := []byte(strings.Repeat("<<<{{{", 200))
	if _, err := Compile(context.Background(), garbage, Options{MaxSourceBytes: 100}); !errors.As(err, &tl) {
		t.Fatalf("want TooLargeError before any parse error, got %v", err)
	}
}

func TestCompileTimeBudget(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	orig := transformFunc
	transformFunc = func(string, api.TransformOptions) api.TransformResult {
		<-release
		return api.TransformResult{}
	}
	defer func() { transformFunc = orig }()
	_, err := Compile(context.Background(), []byte(okComponent), Options{Timeout: time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	transformFunc = func(string, api.TransformOptions) api.TransformResult { panic("boom") }
	if _, err := Compile(context.Background(), []byte(okComponent), Options{}); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("want the panic as an error, got %v", err)
	}
	transformFunc = func(string, api.TransformOptions) api.TransformResult {
		<-release
		return api.TransformResult{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Compile(ctx, []byte(okComponent), Options{Timeout: time.Hour})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

// TestBreakoutStrings compiles "</script", "<script" and "<!--" in every
// place code can hold text; checkOutput proves the document still parses
// into exactly its own scripts.
func TestBreakoutStrings(t *testing.T) {
	tests := map[string]string{
		"string":          `const s = '</script><script>parent.postMessage("x","*")</script>';`,
		"double quoted":   `const s = "<!--<script>";`,
		"upper case":      `const s = "</SCRIPT ><ScRiPt>";`,
		"escaped lt":      `const s = "\<script>\<!--";`,
		"template":        "const s = `<!--<script>${1}</script>${'<!--'}<sCrIpT`;",
		"nested template": "const s = `a${`<!--${`<script>`}`}b`;",
		"regex":           `const s = String(/<!--<script>/i) + String(/<\/script>/) + String(/[<]script/);`,
		"regex class":     `const s = String(/[<!--]script/);`,
		"jsx text":        `const s = <p>&lt;!--&lt;script&gt;</p>;`,
		"jsx attribute":   `const s = <p title="</script><!--<script>" />;`,
		"jsx expression":  `const s = <p>{'</script>'}{"<!--"}{` + "`<script>`" + `}</p>;`,
		"comment":         "/* <!--<script> </script> */ const s = 1; // <!-- <script>\n",
		"legal comment":   "/*! <!--<script> </script> */ const s = 1;",
		"less than ident": "const script = 2; const s = 1<script;",
		"object key":      `const s = {"<script>": "<!--"};`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			full := src + "\nexport default () => <p>{String(typeof s)}</p>;\n"
			out, err := Compile(context.Background(), []byte(full), Options{})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			checkOutput(t, out)
			if err := checkScriptText(out.JS); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestEscapeScript(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"nothing":          {`a < b`, `a < b`},
		"script open kept": {`x = "<script>"`, `x = "<script>"`},
		"string":           {`x = "</script>"`, `x = "\x3C/script>"`},
		"escaped lt":       {`x = "\<!--"`, `x = "\x3C!--"`},
		"escaped bslash":   {`x = "\\<!--"`, `x = "\\\x3C!--"`},
		"close":            {`x = '</SCRIPT>'`, `x = '\x3C/SCRIPT>'`},
		"comment open":     {`x = '<!--'`, `x = '\x3C!--'`},
		"nul in string":    {"x = '\x00'", `x = '\x00'`},
		"regex":            {`x = /<!--a/g`, `x = new /(?:)/.constructor("\x3C!--a", "g")`},
		"regex close":      {`x = /[</script]/i`, `x = new /(?:)/.constructor("[\x3C/script]", "i")`},
		"regex esc slash":  {`x = /<\/script>/i`, `x = /<\/script>/i`},
		"regex quote":      {`x = /"<!--'/`, `x = new /(?:)/.constructor("\"\x3C!--'", "")`},
		"regex nul":        {"x = /a\x00/", `x = new /(?:)/.constructor("a\x00", "")`},
		"regex class":      {`x = /[/]<!--/`, `x = new /(?:)/.constructor("[/]\x3C!--", "")`},
		"regex script ok":  {`x = /<script/`, `x = /<script/`},
		"block comment":    {`/* </script> */ x`, `/* < /script> */ x`},
		"line comment":     {"// <!--\nx", "// < !--\nx"},
		"nul in comment":   {"// a\x00\nx", "// a \nx"},
		"regex after if":   {"if (a) /<!--/.test(b)", `if (a) new /(?:)/.constructor("\x3C!--", "").test(b)`},
		"regex after blk":  {"if (a) {\n}\n/<!--/.test(b)", "if (a) {\n}\nnew /(?:)/.constructor(\"\\x3C!--\", \"\").test(b)"},
		"div after call":   {`f(a) / 2; x = "<!--"`, `f(a) / 2; x = "\x3C!--"`},
		"div after obj":    {`x = {a: 1} / 2; y = "<!--"`, `x = {a: 1} / 2; y = "\x3C!--"`},
		"regex in arrow":   {"f = () => {\n};\n/<!--/", "f = () => {\n};\nnew /(?:)/.constructor(\"\\x3C!--\", \"\")"},
		"division no re":   {`a = b / 2; c = "</script>"`, `a = b / 2; c = "\x3C/script>"`},
		"react-dom style":  {`a.innerHTML="<script>\x3c/script>"`, `a.innerHTML="<script>\x3c/script>"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := escapeScript(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("escapeScript(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	for _, code := range []string{"a <!-- b", "a</script/", "a\x00b"} {
		if _, err := escapeScript(code); err == nil {
			t.Errorf("%q: a dangerous sequence in code must be refused", code)
		}
	}
	for _, code := range []string{"x = `<!--`", "x = String.raw`</script>`", "x = `a${`</SCRIPT`}`", "x = `\x00`"} {
		if _, err := escapeScript(code); err != errTemplateNeedsLowering {
			t.Errorf("%q: want errTemplateNeedsLowering, got %v", code, err)
		}
	}
}

func TestUnquoteJS(t *testing.T) {
	tests := map[string]string{
		`"react"`:              "react",
		`'react'`:              "react",
		`"\x66s"`:              "fs",
		`"\u0066s"`:            "fs",
		`"\u{66}s"`:            "fs",
		`"re\"act"`:            `re"act`,
		`"<\/script>"`:         "</script>",
		`"caf\xE9"`:            "café",
		`"react\/jsx-runtime"`: "react/jsx-runtime",
	}
	for in, want := range tests {
		got, err := unquoteJS(in)
		if err != nil || got != want {
			t.Errorf("unquoteJS(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"\x6"`, `"\u00"`, `"\u{110000}"`, `"`} {
		if _, err := unquoteJS(bad); err == nil {
			t.Errorf("unquoteJS(%s) must fail", bad)
		}
	}
}

func TestAppendJSON(t *testing.T) {
	out, err := Compile(context.Background(), []byte("import { BarChart } from 'recharts';\nexport default () => <p title={'\"\\\\\\n\\t\\u0001\\u2028é😀'}>{typeof BarChart}</p>;\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The document just built is encoded from its pieces' generated JSON
	// forms: byte for byte what escaping the whole of it gives.
	if piecesOf(out.HTML) == nil {
		t.Fatal("the document just built has no JSON pieces")
	}
	fast, err := out.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(appendJSONString(nil, out.HTML)); !strings.Contains(string(fast), `,"html":`+want+`,"manifest":`) {
		t.Error("the document's JSON from its pieces differs from escaping it whole")
	}
	out.HTML += "\x00\x1f\"\\\u2029\xff" // also what esbuild never prints
	if piecesOf(out.HTML) != nil {
		t.Fatal("a changed document still has the pieces of the one built")
	}
	b, err := out.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatal("invalid JSON")
	}
	var got Output
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := *out
	want.HTML = strings.ToValidUTF8(want.HTML, "\ufffd")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want,+got):\n%s", diff)
	}
}

// TestDeepNesting: nesting that would overflow the compiler's stack ends in
// a CompileError (from the child process), never in a dead process.
func TestDeepNesting(t *testing.T) {
	tests := map[string]string{
		"parens":    "export const v = " + strings.Repeat("(", 450000) + "1" + strings.Repeat(")", 450000) + ";\n",
		"negations": "export const v = " + strings.Repeat("!", 1000000) + "x;\n",
		"arrays":    "export const v = " + strings.Repeat("[", 450000) + strings.Repeat("]", 450000) + ";\n",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(context.Background(), []byte(src), Options{Timeout: time.Minute})
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("want a CompileError, got %v", err)
			}
			t.Log(ce)
		})
	}
}

// TestIsolatedCompile: a big source goes through the child process with
// the same results as in process.
func TestIsolatedCompile(t *testing.T) {
	big := okComponent + "//" + strings.Repeat("x", DefaultInProcessMaxBytes) + "\n"
	out, err := Compile(context.Background(), []byte(big), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, out)
	in, err := Compile(context.Background(), []byte(big), Options{InProcessMaxBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("child vs in process (-in,+child):\n%s", diff)
	}
	bad := "import fs from 'fs';\n" + big
	_, err = Compile(context.Background(), []byte(bad), Options{})
	var re *RefusedError
	if !errors.As(err, &re) || re.Line != 1 {
		t.Errorf("want a positioned RefusedError, got %v", err)
	}
	broken := big + "const x = <div></span>;\n"
	_, err = Compile(context.Background(), []byte(broken), Options{})
	var ce *CompileError
	if !errors.As(err, &ce) || ce.Errors[0].Line != 4 {
		t.Errorf("want a CompileError on line 4, got %v", err)
	}
}
