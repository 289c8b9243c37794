//go:build attackreview

package jsxbuild

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestAttackReview5InvalidRegexBecomesCatchable: esbuild does not check a
// regular expression's pattern, so it passes /<!--(/ (an unbalanced
// group) through. As a literal, the engine rejects it while parsing the
// script: no statement of the component runs. The escaper turns the
// literal into new /(?:)/.constructor("\x3C!--(", ""), so the same
// program now parses, runs, and throws a SyntaxError that a try/catch
// around it catches (node: the source prints nothing, the compiled script
// prints [1,"SyntaxError"]). Whether a program runs depends on whether a
// bad pattern happens to hold "<!--": the escape must refuse a pattern it
// cannot prove valid (or keep the early error), not change the program.
func TestAttackReview5InvalidRegexBecomesCatchable(t *testing.T) {
	for _, pattern := range []string{`/<!--(/`, `/<!--x{2,1}/`, `/<!--[z-a]/i`} {
		src := "globalThis.V = [1];\ntry { globalThis.V.push(" + pattern + ".source); } catch (e) { globalThis.V.push(e.name); }\n" +
			"export default function C() { return null; }\n"
		out, err := Compile(context.Background(), []byte(src), Options{})
		var ce *CompileError
		var re *RefusedError
		if err != nil && (errors.As(err, &ce) || errors.As(err, &re)) {
			continue
		}
		if err != nil {
			t.Errorf("%s: unexpected error %v", pattern, err)
			continue
		}
		if strings.Contains(out.JS, "new /(?:)/.constructor(") {
			t.Errorf("%s: an invalid pattern (an early SyntaxError that stops the whole script) was compiled into a RegExp construction that throws a catchable error at run time; the program's meaning changed: %s", pattern, out.JS[strings.Index(out.JS, "new /(?:)/.constructor("):][:60])
		}
	}
}
