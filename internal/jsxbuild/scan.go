package jsxbuild

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Helpers for the import check and the escaper, which read the script
// with a real parser (see jsyntax.go):
//   - every reference to the identifier `require` must be a call with one
//     string literal naming an allowed module, and
//   - "</script" and "<!--" (and NUL) are escaped where they may be
//     rewritten without changing a value (inside literals) and refused
//     anywhere else; the final document is checked again as plain text
//     before it is returned (see checkScriptText).

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
	syn, err := parseScript(src)
	if err != nil {
		return "", fmt.Errorf("cannot read the script to escape it: %w", err)
	}
	toks, err := lexScript(src, syn)
	if err != nil {
		return "", fmt.Errorf("cannot read the script to escape it: %w", err)
	}
	var b strings.Builder
	b.Grow(len(src) + 64)
	last := 0
	for _, t := range toks {
		if !hasDangerous(src[t.start:t.end]) {
			continue
		}
		switch t.kind {
		case lexString:
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
		case lexRegex:
			b.WriteString(src[last:t.start])
			b.WriteString(regexConstruction(src[t.start:t.end]))
			last = t.end
		case lexComment:
			if !strings.HasPrefix(src[t.start:], "//") && !strings.HasPrefix(src[t.start:], "/*") {
				// An HTML-like comment ("<!--" or "-->" read as a line
				// comment): editing it would change the program.
				return "", fmt.Errorf("the script holds an HTML-like comment at byte %d", t.start)
			}
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
		case lexTemplate:
			return "", errTemplateNeedsLowering
		default:
			// esbuild prints "a < b" with spaces: refuse rather than
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
	if err := sameSyntax(syn, out); err != nil {
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
	// Dynamic is set when require is referenced in any other way than
	// require("literal"), or when `import` survived the transform.
	Dynamic bool
}

// findImports lists the uses of require and import in a script: one per
// call require("literal"), and one Dynamic use when require is referenced
// in any other way (the parser's identifier references: property names,
// method names and object keys are not references) or when an import or
// export survived the transform.
func findImports(code string) ([]importUse, error) {
	syn, err := parseScript(code)
	if err != nil {
		return nil, err
	}
	var uses []importUse
	for _, m := range syn.requireCalls {
		uses = append(uses, importUse{Module: m})
	}
	if syn.requireRefs != len(syn.requireCalls) || syn.imports {
		uses = append(uses, importUse{Dynamic: true})
	}
	return uses, nil
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
