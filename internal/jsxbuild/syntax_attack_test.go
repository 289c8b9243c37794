package jsxbuild

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evanw/esbuild/pkg/api"
)

// Attacker-minded cases for the grammar-driven reading of compiled code
// (jsyntax.go), written against the old previous-token tokenizer: each
// puts a "/" where only the grammar tells division from a regular
// expression, then a literal whose value the escaper must keep, or a
// require the allow-list must see.

// valueCases are legitimate components; want are values (string values,
// or regular expression sources) the compiled script must hold unchanged.
var valueCases = []struct {
	name, src string
	want      []string
}{
	{"keyword properties", "const d = { in: 8, out: 2, of: 4, do: 2, return: 1, typeof: 1 };\n" +
		"export const v = [d.in / d.out, d.of / d.do / 1, d.return / d.typeof, \"<!-- a -->\", /<!--r/.source];\n" +
		"export default () => <p>{v.join()}</p>;\n", []string{"<!-- a -->", "<!--r"}},
	{"optional and private", "class C { #in = 8; static of = 2; get() { return this.#in / C.of / 1 + \"</script>\"; } }\n" +
		"const o = { in: 4 };\nexport const v = [o?.in / 2, new C().get(), /<\\/script>x/.source];\n" +
		"export default () => <p>{v.join()}</p>;\n", []string{"</script>", "<\\/script>x"}},
	{"postfix then template", "export default function S({ n = 3, t = 2 }) {\n  let i = n, j = t;\n" +
		"  const a = i++ / t, b = j-- / n, label = `<!-- ${i} -->`, raw = String.raw`<!--${j}</script>`;\n" +
		"  return <p title={label}>{a} {b} {raw}</p>;\n}\n", []string{"<!-- ", " -->", "<!--", "</script>"}},
	{"regex after if and block", "export function f(s) {\n  if (s) /<!--if/.test(s);\n  { s += 1; }\n  return /<!--blk/g.test(s) / 2;\n}\n" +
		"export default () => <p>{String(f('x'))}</p>;\n", []string{"<!--if", "<!--blk"}},
	{"object then division", "export const v = [({ a: 4 }).a / 2 / 1, { in: 1 }.in / 1, \"<!--o\"];\n" +
		"export default () => <p>{v.join()}</p>;\n", []string{"<!--o"}},
	{"yield and await regex", "function* g() { yield /<!--y/.source; yield 6 / 2 / 1; }\n" +
		"export async function h() { return (await /<!--w/).source / 1; }\n" +
		"export default () => <p>{[...g()].join()}</p>;\n", []string{"<!--y", "<!--w"}},
	{"slash in class", "export const v = [/[/]<!--c/.source, /[\\]/]<\\/script/i.flags, \"a\" / 2 / \"<!--\"];\n" +
		"export default () => <p>{v.join()}</p>;\n", []string{"[/]<!--c", "<!--"}},
	{"division after regex", "export const v = [/<!--d/g.lastIndex / 2 / 1, /x/.source.length / 1, \"</SCRIPT\"];\n" +
		"export default () => <p>{v.join()}</p>;\n", []string{"<!--d", "</SCRIPT"}},
	{"split across substitutions", "export default ({ x = '-' }) => <p>{`<!-${x}-` + `<${'!'}--` + `</scr${'ipt'}>`}</p>;\n", nil},
	{"unicode escapes", "export const v = [\"\\u003c/script>\", \"\\x3c!--\", '\\u{3c}!--'];\n" +
		"export default () => <p>{v.join()}</p>;\n", []string{"</script>", "<!--"}},
	{"jsx text and attributes", "export default () => <p title=\"<!--t--></script>\" data-x='<!--'>&lt;!--text--&gt; &lt;/script&gt;{\"<!--\"}</p>;\n",
		[]string{"<!--t--></script>", "<!--"}},
	{"getters named like keywords", "const o = { get in() { return 8; }, get of() { return 2; }, set do(v) {}, require(v) { return v; } };\n" +
		"export const v = [o.in / o.of / 1, o.require(\"<!--q\")];\n" +
		"export default () => <p>{v.join()}</p>;\n", []string{"<!--q"}},
	{"file url then string", "const d = { in: 8, out: 2 };\nexport const v = [d.in / d.out, \"file:///tmp\", \"<!-- x -->\", 'a//b', \"/*<!--*/\"];\n" +
		"export default () => <p>{v.join(' ')}</p>;\n", []string{"file:///tmp", "<!-- x -->", "/*<!--*/"}},
}

// literalText returns the syntax tree of a script as the parser reads
// it, every string value, template part and regular expression source
// quoted.
func literalText(t *testing.T, js string) string {
	t.Helper()
	syn, err := parseScript(js)
	if err != nil {
		t.Fatalf("the script does not parse: %v", err)
	}
	return strings.Join(syn.shape, "\n")
}

func TestSyntaxAttackValuesKept(t *testing.T) {
	for _, c := range valueCases {
		t.Run(c.name, func(t *testing.T) {
			out, err := Compile(context.Background(), []byte(c.src), Options{})
			if err != nil {
				t.Fatalf("a legitimate component is refused: %v", err)
			}
			if res := api.Transform(out.JS, api.TransformOptions{Loader: api.LoaderJS}); len(res.Errors) > 0 {
				t.Fatalf("the emitted script does not parse: %s", res.Errors[0].Text)
			}
			if err := checkScriptText(out.JS); err != nil {
				t.Fatal(err)
			}
			text := literalText(t, out.JS)
			for _, w := range c.want {
				if q := quoteShape(w); !strings.Contains(text, q[1:len(q)-1]) {
					t.Errorf("no literal in the compiled script holds %q", w)
				}
			}
		})
	}
}

// TestSyntaxAttackRequireSeen: a require hidden behind a division the old
// tokenizer misread, or referenced without a call, must meet the
// allow-list.
func TestSyntaxAttackRequireSeen(t *testing.T) {
	for _, src := range []string{
		"const d = { of: 8 };\nexport const v = d.of / require(\"fs\").x / 2;\nexport default () => <p>{v}</p>;\n",
		"const o = { in: 8 };\nexport const v = o?.in / require(\"child_process\") / 1;\nexport default () => <p>{v}</p>;\n",
		"class R { static in = 1; }\nexport const v = R.in / require(\"fs\") / 1;\nexport default () => <p>{v}</p>;\n",
		"let i = 1;\nexport const v = i++ / require(\"fs\") / 1;\nexport default () => <p>{v}</p>;\n",
		"export const v = /x/g.lastIndex / require(\"fs\") / 1;\nexport default () => <p>{v}</p>;\n",
		"export const v = [\"a/b\" / require(\"net\") / 1];\nexport default () => <p>{v}</p>;\n",
		"const r = require;\nexport default () => <p>{r(\"fs\")}</p>;\n",
		"const o = { require };\nexport default () => <p>{o.require(\"fs\")}</p>;\n",
		"export default () => <p>{typeof require}</p>;\n",
		"export default () => <p>{require`fs`}</p>;\n",
		"export default () => <p>{require(\"react\", \"x\")}</p>;\n",
		"export default () => <p>{require(...[\"fs\"])}</p>;\n",
		"export default async () => <p>{await import(\"fs\")}</p>;\n",
	} {
		_, err := Compile(context.Background(), []byte(src), Options{})
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Errorf("want refused by the import allow-list, got %v\n%s", err, src)
		}
	}
}

// TestSyntaxAttackRequireNames: require as a property, method, getter,
// class member or key name is no reference to the module function.
func TestSyntaxAttackRequireNames(t *testing.T) {
	for _, src := range []string{
		"const o = { get require() { return 1; }, require: 2 };\nexport default () => <p>{o.require}</p>;\n",
		"class V { static require(v) { return v; } #require = 1; get r() { return this.#require; } }\nexport default () => <p>{V.require(new V().r)}</p>;\n",
		"const o = { a: { require(v) { return v; } } };\nexport default () => <p>{o?.a?.require?.(3)}</p>;\n",
	} {
		if _, err := Compile(context.Background(), []byte(src), Options{}); err != nil {
			t.Errorf("a legitimate component is refused: %v\n%s", err, src)
		}
	}
}

// TestSyntaxAttackHashbangCRLF: a hashbang ended by CR LF.
func TestSyntaxAttackHashbangCRLF(t *testing.T) {
	out, err := Compile(context.Background(), []byte("#!/usr/bin/env node\r\nexport default () => <p>hi</p>;\r\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.JS, "#!") {
		t.Errorf("the hashbang is still in the script")
	}
}

// TestSyntaxAttackOracle: escapeScript refuses what it cannot escape
// without changing the program (HTML-like comments, code that is not a
// literal), and the oracle catches an escape that changed a value.
func TestSyntaxAttackOracle(t *testing.T) {
	for _, code := range []string{"x = 1 <!-- y\n", "x = 1\n--> <!--\n", "a </script>/", "x = y\n<!--/z/"} {
		if _, err := escapeScript(code); err == nil {
			t.Errorf("%q: want refused", code)
		}
	}
	syn, err := parseScript(`x = "<!--"; y = /<!--/g`)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`x = "< !--"; y = new /(?:)/.constructor("\x3C!--", "g")`,
		`x = "\x3C!--"; y = new /(?:)/.constructor("\x3C!--", "")`,
		`x = "\x3C!--"; y = new /(?:)/.constructor("\\x3C!--", "g")`,
		`x = "\x3C!--"; y = /(?:)/.constructor("\x3C!--", "g")`,
		`x = "\x3C!--"`,
	} {
		if err := sameSyntax(syn, bad); err == nil {
			t.Errorf("the oracle accepts %q", bad)
		}
	}
	if err := sameSyntax(syn, `x = "\x3C!--"; y = new /(?:)/.constructor("\x3C!--", "g")`); err != nil {
		t.Errorf("the oracle refuses a faithful escape: %v", err)
	}
}
