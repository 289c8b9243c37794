package jsxbuild

import (
	"context"
	"testing"

	"github.com/evanw/esbuild/pkg/api"
)

// TestDivisionAfterOperandNamedLikeAKeyword closes the class of the review's
// misread divisions: wherever a name that is sometimes a keyword is an
// operand (a property, a plain variable named of, a postfix ++/--), a "/"
// after it divides, and a "<!--" or "</script" later on the line keeps its
// value. Each case computes a value the source states; the emitted script
// must parse and the escaper must leave the values alone.
func TestDivisionAfterOperandNamedLikeAKeyword(t *testing.T) {
	for _, expr := range []string{
		"d.in / d.out + '<!--' + /<!--x/.source",
		"d.of / 2 / 3 + String.raw`</script>`",
		"d.return / d.typeof / d.delete + '<!--'",
		"d?.in / 2 + '</script>' + /\"/.source",
		"ofv(6) + '<!--' + /<!--/.source",
		"(i++) / 2 + '<!--' + /a\\/<!--/.source",
		"i-- / 2 / 1 + 'x/y' + '<!--'",
		"'a/b'.length / 2 + '<!--'",
	} {
		src := "const d = { in: 8, out: 2, of: 6, return: 4, typeof: 2, delete: 1 };\nlet i = 4;\n" +
			"function ofv(v) { let of = v; return of / 2 / 3; }\n" +
			"export const value = " + expr + ";\nexport default () => <p>{String(value)}</p>;\n"
		out, err := Compile(context.Background(), []byte(src), Options{})
		if err != nil {
			t.Errorf("%s: refused: %v", expr, err)
			continue
		}
		if res := api.Transform(out.JS, api.TransformOptions{Loader: api.LoaderJS}); len(res.Errors) > 0 {
			t.Errorf("%s: the emitted script does not parse: %s", expr, res.Errors[0].Text)
		}
		checkOutput(t, out)
	}
	// "of" in a for head stays a keyword: a regex may follow it.
	src := "const xs = []; for (const m of /<!--a/.exec('<!--a') || []) xs.push(m);\nexport default () => <p>{xs.join()}</p>;\n"
	if _, err := Compile(context.Background(), []byte(src), Options{}); err != nil {
		t.Errorf("for-of over a regex: %v", err)
	}
}
