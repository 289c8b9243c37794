package jsxbuild

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxShownError is the most bytes of error text a viewer may be shown for
// one compile (Error() and the diagnostics' JSON alike).
const maxShownError = 1000

// TestErrorTextBounded: compile and refusal errors quote the source (an
// unexpected token, a module name, a pragma argument), and the source may
// be one huge name: the error text stays short and says what was cut; a
// source with many errors keeps MaxDiagnostics and counts the rest.
func TestErrorTextBounded(t *testing.T) {
	long := func(c string) string { return strings.Repeat(c, 200000) }
	var many strings.Builder
	for i := 0; i < 200; i++ {
		many.WriteString("let a; let a;\n")
	}
	for _, c := range []struct{ name, src string }{
		{"unexpected long name", "const x = 1 " + long("a") + ";"},
		{"unexpected long name, multibyte", "const x = 1 " + long("\u00e9") + ";"},
		{"long unallowed import", "import x from '" + long("b") + "';\nexport default () => <p/>;"},
		{"long unallowed subpath import", "import x from 'recharts/" + long("e") + "';\nexport default () => <p/>;"},
		{"long pragma", "/** @jsxImportSource " + long("f") + " */ export default () => <p/>;"},
		{"long mismatched tag", "export default () => <" + long("g") + "></h>;"},
		{"many errors", many.String()},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(context.Background(), []byte(c.src), Options{})
			if err == nil {
				t.Fatal("compiled")
			}
			msg := err.Error()
			if len(msg) > maxShownError || !utf8.ValidString(msg) {
				t.Errorf("the error is %d bytes (valid UTF-8 %v): %.200s", len(msg), utf8.ValidString(msg), msg)
			}
			var ce *CompileError
			var re *RefusedError
			switch {
			case errors.As(err, &ce):
				b, _ := json.Marshal(ce.Errors)
				if len(ce.Errors) > MaxDiagnostics || len(b) > MaxDiagnostics*maxShownError {
					t.Errorf("%d diagnostics, %d bytes of JSON", len(ce.Errors), len(b))
				}
				for _, d := range ce.Errors {
					if len(d.Text) > maxShownError || !utf8.ValidString(d.Text) {
						t.Errorf("a diagnostic is %d bytes: %.200s", len(d.Text), d.Text)
					}
				}
				if c.name == "many errors" && (ce.Omitted == 0 || !strings.Contains(msg, "more)")) {
					t.Errorf("many errors: %d kept, %d omitted, %q", len(ce.Errors), ce.Omitted, msg)
				}
			case errors.As(err, &re):
			default:
				t.Fatalf("unexpected error type %T: %.200s", err, msg)
			}
			if c.name != "many errors" && !strings.Contains(msg, "more characters)") {
				t.Errorf("the error does not say the text was cut: %.300s", msg)
			}
			t.Logf("%s", msg)
		})
	}
}
