package jsxbuild

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evanw/esbuild/pkg/api"
)

// Defaults for Options.
const (
	DefaultMaxSourceBytes = 1 << 20
	DefaultTimeout        = 10 * time.Second
)

// AllowedModules are the module names compiled code may import or require.
var AllowedModules = []string{"react", "react-dom", "react-dom/client", "react/jsx-runtime", "recharts"}

func allowed(m string) bool {
	for _, a := range AllowedModules {
		if m == a {
			return true
		}
	}
	return false
}

// Options tune Compile. Zero values mean defaults.
type Options struct {
	// MaxSourceBytes bounds the source, checked before compiling.
	MaxSourceBytes int
	// Timeout is the compile time budget.
	Timeout time.Duration
	// InProcessMaxBytes is the largest source compiled in this process;
	// bigger ones are compiled in a child process (see isolate.go). Zero
	// means DefaultInProcessMaxBytes, negative means always in process.
	InProcessMaxBytes int
}

func (o Options) withDefaults() Options {
	if o.MaxSourceBytes <= 0 {
		o.MaxSourceBytes = DefaultMaxSourceBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.InProcessMaxBytes == 0 {
		o.InProcessMaxBytes = DefaultInProcessMaxBytes
	}
	return o
}

// Position is a place in the source: 1-based line, 1-based column counted
// in Unicode characters (code points), not bytes.
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Diagnostic is one compile error.
type Diagnostic struct {
	Position
	Text string `json:"text"`
}

// Error texts quote the source (the token esbuild did not expect, a
// module name, a pragma's argument), and a source may be one 1 MiB
// identifier: what a viewer is shown is bounded. MaxErrorText is the most
// characters of source text an error quotes (a longer one is cut and says
// how much was left out) and MaxDiagnostics the most diagnostics a
// CompileError keeps (the rest are counted in Omitted).
const (
	MaxErrorText   = 200
	MaxDiagnostics = 20
)

// boundText cuts s after max characters and says how many were left out.
func boundText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + fmt.Sprintf("... (%d more characters)", utf8.RuneCountInString(s[i:]))
		}
		n++
	}
	return s
}

// quoteBounded is %q of s cut to MaxErrorText characters.
func quoteBounded(s string) string {
	if utf8.RuneCountInString(s) <= MaxErrorText {
		return strconv.Quote(s)
	}
	cut := boundText(s, MaxErrorText)
	i := strings.LastIndex(cut, "... (")
	return strconv.Quote(cut[:i]) + cut[i:]
}

// CompileError means the source does not parse or compile.
type CompileError struct {
	// Errors holds the first MaxDiagnostics errors esbuild reported,
	// first one first, each text bounded.
	Errors []Diagnostic
	// Omitted counts the errors left out of Errors.
	Omitted int `json:",omitempty"`
}

func (e *CompileError) Error() string {
	d := e.Errors[0]
	msg := d.Text
	if d.Line > 0 {
		msg = fmt.Sprintf("line %d, column %d: %s", d.Line, d.Column, d.Text)
	}
	if n := len(e.Errors) - 1 + e.Omitted; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// RefusedError means the code compiles (or would) but asks for something
// the sandbox does not allow: an import outside AllowedModules, a dynamic
// require, a JSX pragma comment pointing elsewhere.
type RefusedError struct {
	// Position of the offending text when known (zero otherwise).
	Position
	Reason string
	// module is the refused module name, when one was.
	module string
}

func (e *RefusedError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Reason)
	}
	return e.Reason
}

// TooLargeError means the source is over Options.MaxSourceBytes.
type TooLargeError struct{ Size, Limit int }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the JSX source is %d bytes, over the limit of %d bytes", e.Size, e.Limit)
}

// ErrTimeout means compiling took longer than Options.Timeout.
var ErrTimeout = errors.New("compiling the JSX took longer than its time budget")

// globalName is the variable esbuild's IIFE assigns the module's exports to.
const globalName = "__codeexec_module"

// Compile turns JSX source into an Output. Errors are *TooLargeError,
// *CompileError, *RefusedError, ErrTimeout (or the context's error), or an
// internal error for anything else. Whatever the source, Compile returns:
// sources over Options.InProcessMaxBytes are compiled in a child process.
func Compile(ctx context.Context, src []byte, opts Options) (*Output, error) {
	opts = opts.withDefaults()
	if len(src) > opts.MaxSourceBytes {
		return nil, &TooLargeError{Size: len(src), Limit: opts.MaxSourceBytes}
	}
	if opts.InProcessMaxBytes > 0 && len(src) > opts.InProcessMaxBytes {
		return compileIsolated(ctx, src, opts)
	}
	return compileInProcess(ctx, src, opts)
}

// compileInProcess is Compile after the size check, in this process.
func compileInProcess(ctx context.Context, src []byte, opts Options) (*Output, error) {
	source := blankHashbang(string(src))
	if err := checkPragmas(source); err != nil {
		return nil, err
	}
	js, err := transform(ctx, source, TransformOptions(), opts.Timeout)
	if err != nil {
		return nil, err
	}
	if templateNeedsEscape(js) {
		// A template literal's raw text is a value (String.raw, tagged
		// templates), so "<!--" or "</script" in it cannot be escaped in
		// place: compile again with template literals lowered to string
		// literals and frozen template objects, which can.
		js, err = transform(ctx, source, loweredTemplateOptions(), opts.Timeout)
		if err != nil {
			return nil, err
		}
	}
	imports, err := checkImports(js)
	if err != nil {
		var refused *RefusedError
		if errors.As(err, &refused) && refused.module != "" {
			refused.Position = findModule(source, refused.module)
		}
		return nil, err
	}
	js, err = escapeScript(js)
	if err != nil {
		return nil, fmt.Errorf("escaping the compiled code: %w", err)
	}
	return buildDocument(js, imports)
}

// transformFunc is api.Transform; tests replace it.
var transformFunc = api.Transform

// transform runs esbuild's Transform within the time budget. Transform
// cannot be interrupted; on timeout its goroutine is left to finish and
// its result is dropped (the runner exits soon after anyway).
func transform(ctx context.Context, source string, opts api.TransformOptions, budget time.Duration) (string, error) {
	type out struct {
		res   api.TransformResult
		panic any
	}
	ch := make(chan out, 1)
	go func() {
		// A panic here would end the process: the caller's recover does
		// not reach this goroutine.
		defer func() {
			if p := recover(); p != nil {
				ch <- out{panic: p}
			}
		}()
		ch <- out{res: transformFunc(source, opts)}
	}()
	timer := time.NewTimer(budget)
	defer timer.Stop()
	var res api.TransformResult
	select {
	case o := <-ch:
		if o.panic != nil {
			return "", fmt.Errorf("esbuild panicked: %v", o.panic)
		}
		res = o.res
	case <-timer.C:
		return "", ErrTimeout
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if len(res.Errors) > 0 {
		return "", compileError(res.Errors)
	}
	return stripHashbang(string(res.Code)), nil
}

// stripHashbang removes the hashbang line esbuild keeps at the top of its
// output: the document runs the code inside a function body, where "#!"
// is a syntax error. A hashbang is a comment, so nothing else changes.
func stripHashbang(js string) string {
	if !strings.HasPrefix(js, "#!") {
		return js
	}
	if i := strings.IndexAny(js, "\n\r\u2028\u2029"); i >= 0 {
		return js[i:]
	}
	return ""
}

// TransformOptions are the esbuild options Compile uses: JSX to an IIFE for
// current browsers, React's automatic JSX runtime (so components need not
// import React), ASCII-only output, no legal comments, and dynamic import()
// lowered to require() so that it meets the same allow-list.
func TransformOptions() api.TransformOptions {
	return api.TransformOptions{
		Loader:          api.LoaderJSX,
		Format:          api.FormatIIFE,
		GlobalName:      globalName,
		Target:          api.ES2020,
		Engines:         []api.Engine{{Name: api.EngineChrome, Version: "100"}, {Name: api.EngineFirefox, Version: "100"}, {Name: api.EngineSafari, Version: "15"}},
		JSX:             api.JSXAutomatic,
		JSXImportSource: "react",
		Charset:         api.CharsetASCII,
		LegalComments:   api.LegalCommentsNone,
		Supported:       map[string]bool{"dynamic-import": false},
		Sourcefile:      "component.jsx",
		LogLevel:        api.LogLevelSilent,
	}
}

// loweredTemplateOptions are TransformOptions with template literals
// lowered: `a${b}` becomes "a".concat(b) (the same ToString conversion)
// and a tagged template becomes a call with a frozen template object built
// once per site from string literals (the same strings and raw strings).
func loweredTemplateOptions() api.TransformOptions {
	o := TransformOptions()
	sup := map[string]bool{"template-literal": false}
	for k, v := range o.Supported {
		sup[k] = v
	}
	o.Supported = sup
	return o
}

// templateNeedsEscape reports whether a template literal in js holds a
// sequence escapeScript must remove. A script it cannot read is left to
// escapeScript, which refuses it.
func templateNeedsEscape(js string) bool {
	if !hasDangerous(js) {
		return false
	}
	_, err := escapeScript(js)
	return errors.Is(err, errTemplateNeedsLowering)
}

func compileError(msgs []api.Message) *CompileError {
	ce := &CompileError{}
	for i, m := range msgs {
		if i == MaxDiagnostics {
			ce.Omitted = len(msgs) - i
			break
		}
		// esbuild's texts quote the source; its own words are short.
		d := Diagnostic{Text: boundText(m.Text, MaxErrorText+100)}
		if m.Location != nil {
			d.Position = Position{Line: m.Location.Line, Column: charColumn(m.Location.LineText, m.Location.Column)}
		}
		if strings.HasPrefix(m.Text, "Unterminated regular expression") {
			d.Text += " (in JSX this often means an expression in { } is missing its closing brace, so the parser read a \"/\" as a regular expression)"
		}
		ce.Errors = append(ce.Errors, d)
	}
	return ce
}

// charColumn converts esbuild's 0-based byte column in lineText to a 1-based
// column in characters.
func charColumn(lineText string, byteCol int) int {
	if byteCol > len(lineText) {
		byteCol = len(lineText)
	}
	if byteCol < 0 {
		byteCol = 0
	}
	return utf8.RuneCountInString(lineText[:byteCol]) + 1
}

// pragmaRE finds what esbuild would read as a JSX pragma: "@jsx",
// "@jsxFrag", "@jsxRuntime" or "@jsxImportSource" followed by a word
// boundary. esbuild only reads them inside comments; this looks everywhere,
// which can only refuse more.
var pragmaRE = regexp.MustCompile(`@(jsxImportSource|jsxRuntime|jsxFrag|jsx)([^A-Za-z0-9_$]|$)[ \t]*([^\s]*)`)

// allowedPragmas lists the pragma values that change nothing that matters.
var allowedPragmas = map[string][]string{
	"jsxImportSource": {"react"},
	"jsxRuntime":      {"automatic", "classic"},
	"jsx":             {"React.createElement"},
	"jsxFrag":         {"React.Fragment"},
}

func checkPragmas(src string) error {
	for _, m := range pragmaRE.FindAllStringSubmatchIndex(src, -1) {
		name := src[m[2]:m[3]]
		arg := strings.TrimSuffix(src[m[6]:m[7]], "*/")
		ok := false
		for _, v := range allowedPragmas[name] {
			if arg == v {
				ok = true
			}
		}
		if !ok {
			pos := positionAt(src, m[0])
			return &RefusedError{Position: pos, Reason: fmt.Sprintf(
				"the JSX pragma comment @%s %s is not allowed: JSX compiles with React's automatic runtime from \"react\" only", name, quoteBounded(arg))}
		}
	}
	return nil
}

// positionAt returns the 1-based line and character column of byte offset off.
func positionAt(src string, off int) Position {
	line := 1 + strings.Count(src[:off], "\n")
	start := strings.LastIndexByte(src[:off], '\n') + 1
	return Position{Line: line, Column: utf8.RuneCountInString(src[start:off]) + 1}
}

// findModule returns the position of the first import, export-from or
// require of module in src outside an obvious comment line, or the zero
// Position. It only places the message; the check itself works on the
// compiled code.
func findModule(src, module string) Position {
	re := regexp.MustCompile(`(?:\bfrom|\bimport|\brequire\s*\(|\bimport\s*\()\s*(?:'` + regexp.QuoteMeta(module) + `'|"` +
		regexp.QuoteMeta(module) + `"|` + "`" + regexp.QuoteMeta(module) + "`)")
	for _, m := range re.FindAllStringIndex(src, -1) {
		lineStart := strings.LastIndexByte(src[:m[0]], '\n') + 1
		head := strings.TrimSpace(src[lineStart:m[0]])
		if strings.HasPrefix(head, "//") || strings.HasPrefix(head, "*") || strings.HasPrefix(head, "/*") {
			continue
		}
		off := m[0] + strings.IndexAny(src[m[0]:m[1]], "'\"`")
		return positionAt(src, off)
	}
	return Position{}
}

// checkImports finds every module the compiled code requires and refuses
// anything but AllowedModules and any require that is not a call with a
// string literal.
func checkImports(js string) ([]string, error) {
	uses, err := findImports(js)
	if err != nil {
		return nil, fmt.Errorf("reading the compiled code: %w", err)
	}
	seen := map[string]bool{}
	for _, u := range uses {
		switch {
		case u.Dynamic:
			return nil, &RefusedError{Reason: "require and import may only be used with a string literal naming an allowed module (" +
				strings.Join(AllowedModules, ", ") + "); dynamic require or import is not allowed"}
		case !allowed(u.Module):
			return nil, &RefusedError{module: u.Module, Reason: fmt.Sprintf("import of %s is not allowed: only %s can be imported (nothing is fetched or read at build or render time)",
				quoteBounded(u.Module), strings.Join(AllowedModules, ", "))}
		}
		seen[u.Module] = true
	}
	var mods []string
	for m := range seen {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	return mods, nil
}

// blankHashbang replaces a leading "#!" line with spaces: esbuild keeps a
// hashbang at the top of its output, and the output goes inside a function
// body in the document, where "#!" is a syntax error. Spaces keep every
// line and column of the rest for diagnostics.
func blankHashbang(src string) string {
	if !strings.HasPrefix(src, "#!") {
		return src
	}
	end := strings.IndexAny(src, "\r\n")
	if end < 0 {
		end = len(src)
	}
	return strings.Repeat(" ", end) + src[end:]
}
