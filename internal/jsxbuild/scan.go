package jsxbuild

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small JavaScript tokenizer for code that esbuild printed (and for the
// vendored runtime): enough to tell string, template, regular expression
// and comment text apart from code, so that
//   - every reference to the identifier `require` can be checked to be a
//     call with one string literal naming an allowed module, and
//   - "</script" and "<!--" (and NUL) can be escaped where they may be
//     rewritten without changing a value (inside literals) and refused
//     anywhere else.
//
// It does not need to be a full parser: what it gets wrong can only make a
// check refuse code (never accept more), and the final document is checked
// again as plain text before it is returned (see checkScriptText).

type tokKind uint8

const (
	tokPunct tokKind = iota
	tokIdent
	tokNumber
	tokString
	tokTemplate // one text part of a template literal (between ` or } and ` or ${)
	tokRegex
	tokComment
)

type token struct {
	kind       tokKind
	start, end int // byte offsets in the source
	// regexNext is set on a ")" that closes the head of if, while, for or
	// with, and on a "}" that closes a block: a "/" after them starts a
	// regular expression, not a division.
	regexNext bool
}

var errUnterminated = errors.New("unterminated literal or comment")

// regexAfterKeyword lists the identifiers after which a '/' starts a
// regular expression rather than a division.
var regexAfterKeyword = map[string]bool{
	"return": true, "typeof": true, "instanceof": true, "in": true, "of": true,
	"new": true, "delete": true, "void": true, "throw": true, "case": true,
	"do": true, "else": true, "yield": true, "await": true,
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c == '\\' || c >= 0x80 ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// tokenize splits src into tokens (whitespace dropped).
func tokenize(src string) ([]token, error) {
	var (
		toks []token
		// parens and braces remember, for each open ( and {, whether
		// a "/" right after its closing token starts a regex.
		parens, braces []bool
		// forHead remembers, for each open (, whether it opens the head
		// of a for statement: the only place where "of" is a keyword
		// (anywhere else it is a plain name: let of = 4; of / 2).
		forHead []bool
		// templateDepth holds, for each open `${`, the brace depth at which
		// its closing `}` resumes the template text.
		templateDepth []int
		depth         int
	)
	// allowsRegexAfter reports whether a "/" after the significant token
	// at index k (none when k < 0) starts a regular expression.
	var allowsRegexAfter func(k int) bool
	allowsRegexAfter = func(k int) bool {
		if k < 0 {
			return true
		}
		t := toks[k]
		switch t.kind {
		case tokIdent:
			// A keyword after "." or "?." is a property name (d.in,
			// row.of): an operand, so a division follows.
			if p := prevSignificant(toks, k); p >= 0 && toks[p].kind == tokPunct {
				if pt := src[toks[p].start:toks[p].end]; pt == "." || pt == "?." {
					return false
				}
			}
			if src[t.start:t.end] == "of" {
				return len(forHead) > 0 && forHead[len(forHead)-1]
			}
			return regexAfterKeyword[src[t.start:t.end]]
		case tokNumber, tokString, tokRegex:
			return false
		case tokTemplate:
			// After a complete template literal: division.
			return src[t.end-1] != '`'
		case tokPunct:
			switch text := src[t.start:t.end]; text {
			case ")", "}":
				return t.regexNext
			case "]":
				return false
			case "+", "-":
				// "++" or "--" (two adjacent one-byte tokens) leaves the
				// state as it was before it: postfix after an operand
				// (i++ / 2 is a division), prefix where an operand was
				// expected (++/x/.lastIndex).
				if p := prevSignificant(toks, k); p >= 0 && toks[p].kind == tokPunct && toks[p].end == t.start && src[toks[p].start:toks[p].end] == text {
					return allowsRegexAfter(prevSignificant(toks, p))
				}
			}
			return true
		}
		return true
	}
	prevAllowsRegex := func() bool { return allowsRegexAfter(prevSignificant(toks, len(toks))) }
	i, n := 0, len(src)
	for i < n {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < n && src[i+1] == '/':
			j := i + 2
			for j < n && src[j] != '\n' && src[j] != '\r' {
				j++
			}
			toks = append(toks, token{kind: tokComment, start: i, end: j})
			i = j
		case c == '/' && i+1 < n && src[i+1] == '*':
			k := strings.Index(src[i+2:], "*/")
			if k < 0 {
				return nil, errUnterminated
			}
			j := i + 2 + k + 2
			toks = append(toks, token{kind: tokComment, start: i, end: j})
			i = j
		case c == '\'' || c == '"':
			j := i + 1
			for ; j < n && src[j] != c; j++ {
				if src[j] == '\\' {
					j++
				} else if src[j] == '\n' {
					return nil, errUnterminated
				}
			}
			if j >= n {
				return nil, errUnterminated
			}
			toks = append(toks, token{kind: tokString, start: i, end: j + 1})
			i = j + 1
		case c == '`':
			j, open, err := scanTemplate(src, i+1)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokTemplate, start: i, end: j})
			if open {
				templateDepth = append(templateDepth, depth)
			}
			i = j
		case c == '}' && len(templateDepth) > 0 && templateDepth[len(templateDepth)-1] == depth:
			templateDepth = templateDepth[:len(templateDepth)-1]
			j, open, err := scanTemplate(src, i+1)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokTemplate, start: i, end: j})
			if open {
				templateDepth = append(templateDepth, depth)
			}
			i = j
		case c == '/' && prevAllowsRegex():
			j, err := scanRegex(src, i+1)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokRegex, start: i, end: j})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < n && src[i+1] >= '0' && src[i+1] <= '9':
			j := i + 1
			for j < n && (isIdentByte(src[j]) || src[j] == '.' ||
				((src[j] == '+' || src[j] == '-') && (src[j-1] == 'e' || src[j-1] == 'E') && !strings.HasPrefix(src[i:], "0x") && !strings.HasPrefix(src[i:], "0X"))) {
				j++
			}
			toks = append(toks, token{kind: tokNumber, start: i, end: j})
			i = j
		case isIdentByte(c):
			j := i + 1
			for j < n && isIdentByte(src[j]) {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j > n {
				j = n
			}
			toks = append(toks, token{kind: tokIdent, start: i, end: j})
			i = j
		default:
			regexNext := false
			switch c {
			case '(':
				parens = append(parens, prevIsControlKeyword(src, toks))
				p := prevSignificant(toks, len(toks))
				forHead = append(forHead, p >= 0 && toks[p].kind == tokIdent && src[toks[p].start:toks[p].end] == "for" ||
					p >= 1 && toks[p].kind == tokIdent && src[toks[p].start:toks[p].end] == "await" &&
						toks[p-1].kind == tokIdent && src[toks[p-1].start:toks[p-1].end] == "for")
			case ')':
				if n := len(parens); n > 0 {
					regexNext = parens[n-1]
					parens = parens[:n-1]
				}
				if n := len(forHead); n > 0 {
					forHead = forHead[:n-1]
				}
			case '{':
				depth++
				braces = append(braces, opensBlock(src, toks))
			case '}':
				depth--
				if n := len(braces); n > 0 {
					regexNext = braces[n-1]
					braces = braces[:n-1]
				}
			}
			// `?.` is one punctuator; everything else is fine one byte at a time.
			j := i + 1
			if c == '?' && i+1 < n && src[i+1] == '.' && !(i+2 < n && src[i+2] >= '0' && src[i+2] <= '9') {
				j = i + 2
			}
			toks = append(toks, token{kind: tokPunct, start: i, end: j, regexNext: regexNext})
			i = j
		}
	}
	if len(templateDepth) > 0 {
		return nil, errUnterminated
	}
	return toks, nil
}

// prevSignificant returns the index of the last token before index k that
// is not a comment, or -1.
func prevSignificant(toks []token, k int) int {
	for k--; k >= 0; k-- {
		if toks[k].kind != tokComment {
			return k
		}
	}
	return -1
}

// lastSignificant returns the last token that is not a comment.
func lastSignificant(toks []token) (token, bool) {
	for k := len(toks) - 1; k >= 0; k-- {
		if toks[k].kind != tokComment {
			return toks[k], true
		}
	}
	return token{}, false
}

// prevIsControlKeyword reports whether the token before a "(" is if,
// while, for or with.
func prevIsControlKeyword(src string, toks []token) bool {
	t, ok := lastSignificant(toks)
	if !ok || t.kind != tokIdent {
		return false
	}
	switch src[t.start:t.end] {
	case "if", "while", "for", "with":
		return true
	}
	return false
}

// opensBlock reports whether a "{" after the tokens so far opens a block
// (statement position) rather than an object literal or a class body in
// an expression. esbuild prints statements one per line, so this sees
// its output right; a wrong guess can only make escaping fail closed.
func opensBlock(src string, toks []token) bool {
	t, ok := lastSignificant(toks)
	if !ok {
		return true
	}
	text := src[t.start:t.end]
	switch t.kind {
	case tokPunct:
		switch text {
		case ")", ";", "{", "}", ":":
			// After ":" it may be an object value ({ a: { ... } }), but a
			// "/" cannot follow its "}" there either way.
			return true
		case ">":
			// "=>" arrow body
			return t.start > 0 && src[t.start-1] == '='
		}
		return false
	case tokIdent:
		switch text {
		case "else", "do", "try", "finally":
			return true
		}
	}
	return false
}

// scanTemplate scans template text from i; it returns the offset after the
// closing backtick or after "${" (open = true).
func scanTemplate(src string, i int) (end int, open bool, err error) {
	for ; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '`':
			return i + 1, false, nil
		case '$':
			if i+1 < len(src) && src[i+1] == '{' {
				return i + 2, true, nil
			}
		}
	}
	return 0, false, errUnterminated
}

// scanRegex scans a regular expression literal body and flags from i (just
// after the opening slash).
func scanRegex(src string, i int) (int, error) {
	inClass := false
	for ; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '[':
			inClass = true
		case ']':
			inClass = false
		case '\n', '\r':
			return 0, errUnterminated
		case '/':
			if !inClass {
				i++
				for i < len(src) && isIdentByte(src[i]) {
					i++
				}
				return i, nil
			}
		}
	}
	return 0, errUnterminated
}

// What must never reach the HTML tokenizer inside a <script> element, per
// the HTML standard's script data states (13.2.5.4 ff.):
//   - "</script" (any letter case): the "script data end tag name state"
//     ends the element at an appropriate end tag;
//   - "<!--": the "script data escape start state" enters the escaped
//     states, where "<script" then enters the double-escaped states and a
//     later "</script" no longer ends the element; with no "<!--" in the
//     text these states are never entered, so "<script" alone is harmless;
//   - U+0000: the script data state replaces it with U+FFFD, which would
//     change a value.
// (CR and CRLF become LF in the input stream, which changes nothing a
// program can see: JavaScript does the same in template literals and
// treats them alike everywhere else.)

// dangerous reports the length of a sequence starting at src[i] that must
// not reach the HTML tokenizer ('<' followed case-insensitively by
// "/script" or "!--", or a NUL byte), or 0.
func dangerous(src string, i int) int {
	switch src[i] {
	case 0:
		return 1
	case '<':
	default:
		return 0
	}
	rest := src[i+1:]
	for _, p := range []string{"/script", "!--"} {
		if len(rest) >= len(p) && strings.EqualFold(rest[:len(p)], p) {
			return 1 + len(p)
		}
	}
	return 0
}

// errTemplateNeedsLowering means a template literal holds text that cannot
// be escaped in place without changing its raw value (String.raw, tagged
// templates): the caller compiles again with template literals lowered to
// strings (see compileInProcess).
var errTemplateNeedsLowering = errors.New("a template literal holds text that must be escaped")

// escapeScript rewrites src so that it holds none of "</script" or "<!--"
// (in any letter case) nor NUL, and means the same program, every value
// included:
//   - in string literals the '<' (or an escaped "\<") becomes the escape
//     \x3C and NUL becomes \x00: the string's value is unchanged;
//   - a regular expression literal holding one becomes a RegExp
//     construction from a string literal with the same pattern and flags
//     (so .source and .flags are unchanged); the constructor is the
//     realm's own, reached through a fresh literal (/(?:)/.constructor),
//     not through a name the code could shadow;
//   - in comments a space follows the '<' (NUL becomes a space);
//   - in a template literal it returns errTemplateNeedsLowering: its raw
//     text is visible to tags (String.raw), so the caller has esbuild
//     lower template literals to string literals and tries again;
//   - anywhere else (which esbuild's printing never produces) the script
//     is refused.
func escapeScript(src string) (string, error) {
	if !hasDangerous(src) {
		return src, nil
	}
	toks, err := tokenize(src)
	if err != nil {
		return "", fmt.Errorf("cannot tokenize the script to escape it: %w", err)
	}
	var b strings.Builder
	b.Grow(len(src) + 64)
	last := 0
	for _, t := range toks {
		if !hasDangerous(src[t.start:t.end]) {
			continue
		}
		switch t.kind {
		case tokString:
			for i := t.start; i < t.end; i++ {
				if dangerous(src, i) == 0 {
					continue
				}
				if src[i] == 0 {
					b.WriteString(src[last:i])
					b.WriteString(`\x00`)
					last = i + 1
					continue
				}
				// Count the backslashes before '<': an odd number means the
				// '<' is itself escaped ("\<"), and the escape goes too.
				k := i
				for k > t.start && src[k-1] == '\\' {
					k--
				}
				cut := i
				if (i-k)%2 == 1 {
					cut = i - 1
				}
				b.WriteString(src[last:cut])
				b.WriteString(`\x3C`)
				last = i + 1
			}
		case tokRegex:
			b.WriteString(src[last:t.start])
			b.WriteString(regexConstruction(src[t.start:t.end]))
			last = t.end
		case tokComment:
			for i := t.start; i < t.end; i++ {
				switch {
				case src[i] == 0:
					b.WriteString(src[last:i])
					b.WriteByte(' ')
					last = i + 1
				case dangerous(src, i) > 0:
					b.WriteString(src[last : i+1])
					b.WriteByte(' ')
					last = i + 1
				}
			}
		case tokTemplate:
			return "", errTemplateNeedsLowering
		default:
			// esbuild prints "a < b" with spaces, so this only happens
			// when the tokenizer misread the code: refuse rather than
			// change what the program means.
			for i := t.start; i < t.end; i++ {
				if d := dangerous(src, i); d > 0 {
					return "", fmt.Errorf("the script holds %q outside a literal", src[i:i+d])
				}
			}
		}
	}
	b.WriteString(src[last:])
	out := b.String()
	if err := checkScriptText(out); err != nil {
		return "", err
	}
	return out, nil
}

// regexConstruction turns a regular expression literal (/body/flags) into
// an expression that builds the same RegExp from string literals that
// hold no dangerous sequence.
func regexConstruction(lit string) string {
	end := strings.LastIndexByte(lit, '/')
	body, flags := lit[1:end], lit[end+1:]
	return "new /(?:)/.constructor(" + jsString(body) + ", " + jsString(flags) + ")"
}

// jsString quotes s as a double-quoted JavaScript string literal whose
// value is s, using only printable ASCII and never "<" (so neither
// "</script" nor "<!--" can appear in it).
func jsString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '<':
			b.WriteString(`\x3C`)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		case c < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			for _, u := range utf16Units(r) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
			i += size
			continue
		}
		i++
	}
	b.WriteByte('"')
	return b.String()
}

func utf16Units(r rune) []uint16 {
	if r < 0x10000 {
		return []uint16{uint16(r)}
	}
	r -= 0x10000
	return []uint16{uint16(0xd800 + (r >> 10)), uint16(0xdc00 + (r & 0x3ff))}
}

func hasDangerous(s string) bool {
	if strings.IndexByte(s, 0) >= 0 {
		return true
	}
	for i := strings.IndexByte(s, '<'); i >= 0; {
		if dangerous(s, i) > 0 {
			return true
		}
		j := strings.IndexByte(s[i+1:], '<')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// checkScriptText is the final, purely textual check of what goes between
// <script> and </script>.
func checkScriptText(s string) error {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("script text holds a NUL byte at byte %d", i)
	}
	for i := strings.IndexByte(s, '<'); i >= 0; {
		if d := dangerous(s, i); d > 0 {
			return fmt.Errorf("script text holds %q at byte %d", s[i:i+d], i)
		}
		j := strings.IndexByte(s[i+1:], '<')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return nil
}

// importUse is one use of require (or of import) found in compiled code.
type importUse struct {
	// Module is the string literal passed to require; empty when the use
	// is not a call with one string literal.
	Module string
	// Offset is the byte offset of the identifier in the compiled code.
	Offset int
	// Dynamic is set when require is referenced in any other way than
	// require("literal"), or when `import` survived the transform.
	Dynamic bool
}

// findImports lists every reference to the free identifier `require` and
// every `import` keyword in code printed by esbuild. Property names
// (x.require) are not references.
func findImports(code string) ([]importUse, error) {
	toks, err := tokenize(code)
	if err != nil {
		return nil, err
	}
	// Comments are irrelevant here.
	sig := toks[:0:0]
	for _, t := range toks {
		if t.kind != tokComment {
			sig = append(sig, t)
		}
	}
	text := func(t token) string { return code[t.start:t.end] }
	var uses []importUse
	for k, t := range sig {
		if t.kind != tokIdent {
			continue
		}
		name := text(t)
		if name != "require" && name != "import" {
			continue
		}
		if k > 0 && sig[k-1].kind == tokPunct && (text(sig[k-1]) == "." || text(sig[k-1]) == "?.") {
			continue
		}
		// A property key in an object literal ({ require: ... }) is not a
		// reference either.
		if k+1 < len(sig) && sig[k+1].kind == tokPunct && text(sig[k+1]) == ":" &&
			k > 0 && sig[k-1].kind == tokPunct && (text(sig[k-1]) == "{" || text(sig[k-1]) == ",") {
			continue
		}
		// A method definition named require ({ require(v) { ... } } or
		// in a class): the parameter list's ")" is followed by the body's
		// "{", which no call expression is (esbuild ends statements with
		// ";").
		if name == "require" && isMethodDefinition(code, sig, k) {
			continue
		}
		u := importUse{Offset: t.start}
		if name == "require" && k+3 < len(sig) &&
			sig[k+1].kind == tokPunct && text(sig[k+1]) == "(" &&
			sig[k+2].kind == tokString &&
			sig[k+3].kind == tokPunct && text(sig[k+3]) == ")" {
			if s, err := unquoteJS(text(sig[k+2])); err == nil {
				u.Module = s
			} else {
				u.Dynamic = true
			}
		} else {
			u.Dynamic = true
		}
		uses = append(uses, u)
	}
	return uses, nil
}

// isMethodDefinition reports whether the identifier at sig[k] is followed
// by a parenthesised list whose ")" is directly followed by "{", and is
// preceded by what may precede a method name in an object literal or a
// class body ("{", ",", ";", "}" or a modifier).
func isMethodDefinition(code string, sig []token, k int) bool {
	text := func(t token) string { return code[t.start:t.end] }
	if k == 0 || k+1 >= len(sig) || sig[k+1].kind != tokPunct || text(sig[k+1]) != "(" {
		return false
	}
	switch prev := text(sig[k-1]); {
	case sig[k-1].kind == tokPunct && (prev == "{" || prev == "," || prev == ";" || prev == "}" || prev == "*"):
	case sig[k-1].kind == tokIdent && (prev == "static" || prev == "async" || prev == "get" || prev == "set"):
	default:
		return false
	}
	depth := 0
	for j := k + 1; j < len(sig); j++ {
		if sig[j].kind != tokPunct {
			continue
		}
		switch text(sig[j]) {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return j+1 < len(sig) && sig[j+1].kind == tokPunct && text(sig[j+1]) == "{"
			}
		}
	}
	return false
}

// unquoteJS decodes a JavaScript string literal ('...' or "...").
func unquoteJS(lit string) (string, error) {
	if len(lit) < 2 {
		return "", errors.New("not a string literal")
	}
	body := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(body) {
			return "", errors.New("bad escape")
		}
		switch e := body[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0':
			b.WriteByte(0)
		case 'x':
			if i+3 > len(body) {
				return "", errors.New("bad \\x escape")
			}
			v, err := strconv.ParseUint(body[i+1:i+3], 16, 8)
			if err != nil {
				return "", err
			}
			b.WriteRune(rune(v))
			i += 2
		case 'u':
			var hex string
			if i+1 < len(body) && body[i+1] == '{' {
				end := strings.IndexByte(body[i:], '}')
				if end < 0 {
					return "", errors.New("bad \\u{} escape")
				}
				hex = body[i+2 : i+end]
				i += end
			} else {
				if i+5 > len(body) {
					return "", errors.New("bad \\u escape")
				}
				hex = body[i+1 : i+5]
				i += 4
			}
			v, err := strconv.ParseUint(hex, 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", errors.New("bad \\u escape")
			}
			b.WriteRune(rune(v))
		case '\n':
			// line continuation
		default:
			b.WriteByte(e)
		}
	}
	return b.String(), nil
}
