package jsxbuild

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"

	"github.com/tdewolff/parse/v2"
	"github.com/tdewolff/parse/v2/js"
)

// What the import check and the escaper know about a script comes from a
// real ECMAScript parser (github.com/tdewolff/parse/v2/js), whose lexer is
// driven by the grammar: it reads a "/" as a regular expression only where
// the grammar expects an expression, so a property named like a keyword
// (d.in, p.of), a postfix ++ or a "}" can no longer put the reading out of
// step (issue 11's review). Nothing here guesses from the previous token:
//   - references to `require` are the parser's identifier references (a
//     property name, method name or object key is not one);
//   - the escaper's literal boundaries are the parser's, and the lexer that
//     finds comments is told where the parser saw each regular expression;
//     when the two disagree the script is refused;
//   - the escaped script is parsed again and must have the same syntax
//     tree, node for node, with the same values (every string, template
//     part, regular expression source and flags): the escaper is checked
//     by an oracle it does not share a tokenizer with.

// jsSyntax is what one parse of a script yields.
type jsSyntax struct {
	// shape is the walk of the syntax tree: one entry per node, the node's
	// type and, for literals, its value.
	shape []string
	// regexStarts are the byte offsets of regular expression literals.
	regexStarts map[int]bool
	// requireRefs counts references to the identifier require;
	// requireCalls are those that are calls with one string literal.
	requireRefs  int
	requireCalls []string
	// imports is set when an import or export (static, dynamic or
	// import.meta) survived the transform.
	imports bool
	err     error
}

// parseScript parses src as a script (esbuild's IIFE output, or a vendored
// runtime file).
func parseScript(src string) (*jsSyntax, error) {
	// The parser's literals are slices of buf (the spare byte of capacity
	// takes the parser's terminating NUL without reallocating), so offsets
	// can be read back from the slices.
	buf := make([]byte, len(src), len(src)+1)
	copy(buf, src)
	ast, err := js.Parse(parse.NewInputBytes(buf), js.Options{})
	if err != nil {
		return nil, fmt.Errorf("the script does not parse: %w", err)
	}
	s := &jsSyntax{regexStarts: map[int]bool{}}
	w := &syntaxWalker{buf: buf, s: s}
	js.Walk(w, ast)
	if s.err != nil {
		return nil, s.err
	}
	return s, nil
}

// offsetIn returns the offset of data in buf, which must be a slice of it.
func offsetIn(buf, data []byte) (int, bool) {
	if len(data) == 0 {
		return 0, false
	}
	// The parser's slices are capped at their length, so the offset is
	// taken from the addresses and then confirmed by pointer equality.
	d := uintptr(unsafe.Pointer(unsafe.SliceData(data))) - uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	if d > uintptr(len(buf)) {
		return 0, false
	}
	off := int(d)
	if off+len(data) > len(buf) || &buf[off] != &data[0] {
		return 0, false
	}
	return off, true
}

type syntaxWalker struct {
	buf []byte
	s   *jsSyntax
}

func (w *syntaxWalker) fail(format string, a ...any) {
	if w.s.err == nil {
		w.s.err = fmt.Errorf(format, a...)
	}
}

func (w *syntaxWalker) Enter(n js.INode) js.IVisitor {
	s := w.s
	if body, flags, ok := regexConstructionOf(n); ok {
		// What escapeScript makes of a regular expression literal: the
		// same value as the literal.
		s.shape = append(s.shape, "regex "+quoteShape(body)+" "+quoteShape(flags))
		return nil
	}
	if l, ok := n.(js.LiteralExpr); ok {
		// Some literals are stored by value (a name after ".").
		n = &l
	}
	switch n := n.(type) {
	case *js.LiteralExpr:
		switch n.TokenType {
		case js.StringToken:
			v, err := unquoteJS(string(n.Data))
			if err != nil {
				w.fail("cannot read the string literal %s: %v", n.Data, err)
			}
			s.shape = append(s.shape, "string "+quoteShape(v))
		case js.RegExpToken:
			off, ok := offsetIn(w.buf, n.Data)
			if !ok {
				w.fail("cannot place the regular expression literal %s", n.Data)
			}
			s.regexStarts[off] = true
			lit := string(n.Data)
			end := strings.LastIndexByte(lit, '/')
			s.shape = append(s.shape, "regex "+quoteShape(lit[1:end])+" "+quoteShape(lit[end+1:]))
		case js.ImportToken:
			s.imports = true
			s.shape = append(s.shape, "import")
		default:
			s.shape = append(s.shape, fmt.Sprintf("literal %s", n.Data))
		}
		return nil
	case *js.TemplateExpr:
		// Template text is never rewritten (its raw value is visible to
		// tags), so its raw text is the value to compare.
		parts := make([]string, 0, len(n.List)+1)
		for _, p := range n.List {
			parts = append(parts, quoteShape(string(p.Value)))
		}
		parts = append(parts, quoteShape(string(n.Tail)))
		s.shape = append(s.shape, "template "+strings.Join(parts, " "))
	case *js.DotExpr:
		// x.require, x?.in: the property name is no reference.
		s.shape = append(s.shape, fmt.Sprintf("dot %v", n.Optional))
		js.Walk(w, n.X)
		if y, ok := literalOf(n.Y); ok {
			s.shape = append(s.shape, "name "+string(y.Data))
		} else {
			js.Walk(w, n.Y)
		}
		return nil
	case *js.CallExpr:
		if v, ok := n.X.(*js.Var); ok && string(v.Data) == "require" && len(n.Args.List) == 1 && !n.Args.List[0].Rest {
			if lit, ok := n.Args.List[0].Value.(*js.LiteralExpr); ok && lit.TokenType == js.StringToken {
				if m, err := unquoteJS(string(lit.Data)); err == nil {
					s.requireCalls = append(s.requireCalls, m)
				}
			}
		}
		s.shape = append(s.shape, fmt.Sprintf("call %v", n.Optional))
	case *js.Var:
		if string(n.Data) == "require" {
			s.requireRefs++
		}
		s.shape = append(s.shape, "var "+string(n.Data))
		return nil
	case *js.ImportStmt, *js.ExportStmt, *js.ImportMetaExpr:
		s.imports = true
		s.shape = append(s.shape, fmt.Sprintf("%T", n))
	default:
		s.shape = append(s.shape, fmt.Sprintf("%T", n))
	}
	return w
}

func (w *syntaxWalker) Exit(js.INode) { w.s.shape = append(w.s.shape, ")") }

// quoteShape quotes s unambiguously for a shape entry.
func quoteShape(s string) string { return fmt.Sprintf("%q", s) }

// regexConstructionOf recognises regexConstruction's output,
// new /(?:)/.constructor("body", "flags"), and returns body and flags.
func regexConstructionOf(n js.INode) (body, flags string, ok bool) {
	ne, isNew := n.(*js.NewExpr)
	if !isNew || ne.Args == nil || len(ne.Args.List) != 2 {
		return "", "", false
	}
	dot, isDot := ne.X.(*js.DotExpr)
	if !isDot || dot.Optional {
		return "", "", false
	}
	re, isLit := literalOf(dot.X)
	name, isName := literalOf(dot.Y)
	if !isLit || re.TokenType != js.RegExpToken || string(re.Data) != "/(?:)/" || !isName || string(name.Data) != "constructor" {
		return "", "", false
	}
	var vals [2]string
	for i, a := range ne.Args.List {
		lit, isStr := a.Value.(*js.LiteralExpr)
		if a.Rest || !isStr || lit.TokenType != js.StringToken {
			return "", "", false
		}
		v, err := unquoteJS(string(lit.Data))
		if err != nil {
			return "", "", false
		}
		vals[i] = v
	}
	return vals[0], vals[1], true
}

// literalOf returns n as a literal; the parser stores some (a property
// name after ".") by value.
func literalOf(n js.IExpr) (*js.LiteralExpr, bool) {
	switch l := n.(type) {
	case *js.LiteralExpr:
		return l, true
	case js.LiteralExpr:
		return &l, true
	}
	return nil, false
}

// lexKind classifies a token of the guided lexer.
type lexKind uint8

const (
	lexOther lexKind = iota
	lexString
	lexTemplate
	lexRegex
	lexComment
)

type lexToken struct {
	kind       lexKind
	start, end int
}

// lexScript splits src into tokens with the grammar's reading of every
// "/": the lexer is told to read a regular expression exactly at the
// offsets where the parser found one (syn.regexStarts). If the lexer does
// not meet every one of them, the two disagree and the script is refused.
func lexScript(src string, syn *jsSyntax) ([]lexToken, error) {
	buf := make([]byte, len(src), len(src)+1)
	copy(buf, src)
	l := js.NewLexer(parse.NewInputBytes(buf))
	var toks []lexToken
	met := 0
	for {
		tt, data := l.Next()
		if tt == js.ErrorToken {
			if errors.Is(l.Err(), io.EOF) {
				break
			}
			return nil, fmt.Errorf("lexing the script: %w", l.Err())
		}
		start, ok := offsetIn(buf, data)
		if !ok {
			if len(data) == 0 {
				continue
			}
			return nil, errors.New("lexing the script: cannot place a token")
		}
		kind := lexOther
		switch tt {
		case js.DivToken, js.DivEqToken:
			if syn.regexStarts[start] {
				if tt, data = l.RegExp(); tt != js.RegExpToken {
					return nil, fmt.Errorf("lexing the script: the parser saw a regular expression at byte %d, the lexer does not: %v", start, l.Err())
				}
				met++
				kind = lexRegex
			}
		case js.StringToken:
			kind = lexString
		case js.TemplateToken, js.TemplateStartToken, js.TemplateMiddleToken, js.TemplateEndToken:
			kind = lexTemplate
		case js.CommentToken, js.CommentLineTerminatorToken:
			kind = lexComment
		case js.RegExpToken:
			kind = lexRegex
		}
		toks = append(toks, lexToken{kind: kind, start: start, end: start + len(data)})
	}
	if met != len(syn.regexStarts) {
		return nil, fmt.Errorf("lexing the script: the parser saw %d regular expressions, the lexer met %d", len(syn.regexStarts), met)
	}
	return toks, nil
}

// sameSyntax is the oracle escapeScript's output must pass: it parses and
// its tree, values included, is the one of the input.
func sameSyntax(before *jsSyntax, after string) error {
	syn, err := parseScript(after)
	if err != nil {
		return fmt.Errorf("the escaped script: %w", err)
	}
	if len(syn.shape) != len(before.shape) {
		return fmt.Errorf("the escaped script has %d syntax nodes, the script %d", len(syn.shape), len(before.shape))
	}
	for i := range syn.shape {
		if syn.shape[i] != before.shape[i] {
			return fmt.Errorf("the escaped script differs from the script: %s where it had %s", syn.shape[i], before.shape[i])
		}
	}
	return nil
}
