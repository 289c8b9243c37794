package sqlguard

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"vitess.io/vitess/go/vt/sqlparser"
)

// Bounded pattern matching (attack review after issue 10, finding 1).
// MariaDB matches REGEXP, RLIKE and the REGEXP_* functions with PCRE2, a
// backtracking matcher that does not look at a KILL within one match: a
// pattern such as '^(a|aa)+$' over thirty characters, or 'a.*a.*a.*b' over
// a few thousand, holds a server thread past KILL QUERY. The guard
// therefore accepts only patterns it can bound:
//
//   - the pattern is a string literal (possibly under an introducer of a
//     character set the server does not convert: binary, utf8mb4, utf8mb3,
//     utf8, latin1, ascii), never a column or an expression;
//   - it is parsed with a closed grammar (parseRegex): characters, '.',
//     classes [...] with ranges and POSIX names, \d \w \s and their
//     negations, escaped punctuation, \xhh, \n \t \r \f \e, anchors ^ $ \A
//     \z \Z \b \B, groups (...) and (?:...), alternation, and the
//     quantifiers * + ? {n} {n,} {n,m}, greedy or lazy. Refused: back
//     references, lookaround, atomic groups, possessive quantifiers,
//     recursion, named groups, inline options ((?i), (?x), ...), verbs
//     (*...), \Q...\E, \p{...}, \x{...}, \g, \k, \K, \R, \X, \N, \h, \v,
//     \c, \o and any other escape; a '{' that does not open a quantifier;
//   - its worst-case number of backtracking steps is bounded (regexCost) by
//     a polynomial c·(n+1)^d of the subject's length n: each node is a
//     linear function a + b·C of the cost C of what follows it (a its own
//     steps, b how many times it can hand over to what follows); a
//     repetition of something that can hand over more than once per
//     iteration (nested quantifiers, alternatives that can start with the
//     same character) is exponential and refused, as is an unbounded
//     repetition of something that can match empty; a single-character
//     repetition followed by something that cannot start with one of its
//     characters hands over once. An unanchored pattern is tried at every
//     start (n+1 times).
//
// The bound at the subject's length bound (bounds.go) must be at most
// MaxPatternSteps, summed over every pattern call of the statement. When
// the subject holds table data (a length the guard does not know), the
// pattern must moreover cost at most linear time per start (d ≤ 1 per
// start): a value of any length is then matched in time the reading of it
// already bounds; unless Policy.MaxDataLength (the declared column
// lengths, from the executor) bounds the subject, and the bound at that
// length fits in the statement's sum.
//
// The substring searches (INSTR, LOCATE, POSITION, REPLACE,
// SUBSTRING_INDEX, FIND_IN_SET) cost at most (n+1)·(m+1) for a needle of m
// characters, counted in the same sum.
//
// LIKE (MariaDB's wildcard compare, which gives up as soon as a '%'
// segment runs out of subject) costs at most (n+1)·(m+1) for a pattern of
// m characters; its pattern is a literal, or an expression of a known
// length with a subject of a known length. ESCAPE is a literal of at most
// one character.
//
// EXTRACTVALUE and UPDATEXML evaluate XPath over a document, and
// MariaDB's evaluator looks at no KILL: a chain of descendant steps
// ('//', descendant::, ...) is exponential (//a//a//a... ran for minutes
// in one call), and predicates that hold paths multiply the work by the
// document's size per level of nesting ('/a/b[count(/a/b[count(/a/b) =
// 0]) = 0]' over 200 elements took 13 s, n^4). So the XPath must be a
// literal of a closed grammar (checkXPath): child steps of names, *,
// @name, @* and text(), at most one '//', and only positions [n] as
// predicates; no functions, axes, unions, operators or nested paths.

// MaxPatternSteps bounds the worst-case matching steps of the pattern
// calls of one statement.
const MaxPatternSteps = 1_000_000

// maxRepeatUnroll is the largest counted repetition {n,m} modelled as
// counted; a larger count is modelled as unbounded.
const maxRepeatUnroll = 1000

// poly is c·(n+1)^d.
type poly struct {
	c float64
	d int
}

var (
	poly0 = poly{}
	poly1 = poly{c: 1}
	polyN = poly{c: 1, d: 1}
)

const polyInf = 1e30

func (p poly) add(q poly) poly {
	if p.c == 0 {
		return q
	}
	if q.c == 0 {
		return p
	}
	return poly{c: math.Min(p.c+q.c, polyInf), d: max(p.d, q.d)}
}

func (p poly) mul(q poly) poly {
	if p.c == 0 || q.c == 0 {
		return poly0
	}
	return poly{c: math.Min(p.c*q.c, polyInf), d: p.d + q.d}
}

func (p poly) max(q poly) poly {
	return poly{c: math.Max(p.c, q.c), d: max(p.d, q.d)}
}

func (p poly) scale(c float64) poly { return p.mul(poly{c: c}) }

func (p poly) at(n uint64) float64 {
	v := p.c * math.Pow(float64(n)+1, float64(p.d))
	return math.Min(v, polyInf)
}

func (p poly) infinite() bool { return p.c >= polyInf || p.d > 64 }

// cset is a set of characters: ASCII by bit, every non-ASCII character as
// one member, and the end of the subject.
type cset struct {
	lo, hi   uint64
	nonASCII bool
	eos      bool
}

func (s *cset) addByte(c byte) {
	if c < 64 {
		s.lo |= 1 << c
	} else if c < 128 {
		s.hi |= 1 << (c - 64)
	} else {
		s.nonASCII = true
	}
}

func (s *cset) addRange(a, b rune) {
	for c := a; c <= b && c < 128; c++ {
		s.addByte(byte(c))
	}
	if b >= 128 {
		s.nonASCII = true
	}
}

func (s cset) union(t cset) cset {
	return cset{lo: s.lo | t.lo, hi: s.hi | t.hi, nonASCII: s.nonASCII || t.nonASCII, eos: s.eos || t.eos}
}

func (s cset) meets(t cset) bool {
	return s.lo&t.lo != 0 || s.hi&t.hi != 0 || s.nonASCII && t.nonASCII || s.eos && t.eos
}

// not is the complement among characters (never the end of the subject).
func (s cset) not() cset {
	return cset{lo: ^s.lo, hi: ^s.hi, nonASCII: true}
}

// folded adds the other case of every letter; k and s also match a
// non-ASCII character under a case-insensitive collation (the Kelvin sign,
// the long s).
func (s cset) folded() cset {
	in := func(x byte) bool { return x < 64 && s.lo&(1<<x) != 0 || x >= 64 && s.hi&(1<<(x-64)) != 0 }
	for c := byte('a'); c <= 'z'; c++ {
		u := c - 'a' + 'A'
		if in(c) || in(u) {
			s.addByte(c)
			s.addByte(u)
			if c == 'k' || c == 's' {
				s.nonASCII = true
			}
		}
	}
	return s
}

var (
	anyChar = cset{lo: ^uint64(0), hi: ^uint64(0), nonASCII: true}
	anyEnd  = cset{lo: ^uint64(0), hi: ^uint64(0), nonASCII: true, eos: true}
)

// rnode is a node of a parsed regular expression.
type rnode struct {
	kind     int
	set      cset     // rChar: the characters matched
	subs     []*rnode // rSeq, rAlt: the parts; rRep: the repeated node
	lo, hi   int      // rRep: counts; hi < 0 is unbounded
	atEnd    bool     // rAssert: $, \z, \Z (only at the end or before a final newline)
	anchored bool     // rAssert: ^ or \A
	capture  bool     // a capturing group (...) around the node
}

const (
	rChar = iota
	rAssert
	rSeq
	rAlt
	rRep
)

type regexParser struct {
	s   string
	i   int
	err error
}

func (p *regexParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = violation("regular expression %s (the guard accepts only patterns whose matching time it can bound)", strconvQuoteShort(p.s)+": "+sprintf(format, args...))
	}
}

// parseRegex parses a PCRE pattern with the closed grammar of the package
// comment above.
func parseRegex(s string) (*rnode, error) {
	if !utf8.ValidString(s) {
		return nil, violation("regular expression that is not valid UTF-8")
	}
	p := &regexParser{s: s}
	n := p.alt(0)
	if p.err == nil && p.i < len(p.s) {
		p.fail("unbalanced ')'")
	}
	return n, p.err
}

func (p *regexParser) alt(depth int) *rnode {
	if depth > 64 {
		p.fail("groups nested too deep")
		return nil
	}
	var branches []*rnode
	for {
		branches = append(branches, p.seq(depth))
		if p.err != nil || p.i >= len(p.s) || p.s[p.i] != '|' {
			break
		}
		p.i++
	}
	if len(branches) == 1 {
		return branches[0]
	}
	return &rnode{kind: rAlt, subs: branches}
}

func (p *regexParser) seq(depth int) *rnode {
	n := &rnode{kind: rSeq}
	for p.err == nil && p.i < len(p.s) {
		c := p.s[p.i]
		if c == '|' || c == ')' {
			break
		}
		atom := p.atom(depth)
		if p.err != nil {
			break
		}
		atom = p.quantifiers(atom)
		n.subs = append(n.subs, atom)
	}
	return n
}

func (p *regexParser) quantifiers(atom *rnode) *rnode {
	quantified := false
	for p.err == nil && p.i < len(p.s) {
		lo, hi, width, ok := p.quantifier()
		if !ok {
			break
		}
		if quantified {
			p.fail("a quantifier on a quantifier")
			return atom
		}
		if atom.kind == rAssert {
			p.fail("a quantifier on an anchor")
			return atom
		}
		p.i += width
		if p.i < len(p.s) {
			switch p.s[p.i] {
			case '?':
				p.i++ // lazy: the same worst case
			case '+':
				p.fail("possessive quantifier")
				return atom
			}
		}
		atom = &rnode{kind: rRep, subs: []*rnode{atom}, lo: lo, hi: hi}
		quantified = true
	}
	return atom
}

// quantifier reads a quantifier at p.i without consuming it.
func (p *regexParser) quantifier() (lo, hi, width int, ok bool) {
	switch p.s[p.i] {
	case '*':
		return 0, -1, 1, true
	case '+':
		return 1, -1, 1, true
	case '?':
		return 0, 1, 1, true
	case '{':
		end := strings.IndexByte(p.s[p.i:], '}')
		if end < 0 {
			p.fail("'{' that does not open a quantifier")
			return 0, 0, 0, false
		}
		body := p.s[p.i+1 : p.i+end]
		a, b, comma := strings.Cut(body, ",")
		lo, err1 := strconv.Atoi(a)
		if err1 != nil || !digits(a) || !digits(b) || lo > 65535 {
			p.fail("'{' that does not open a quantifier {n}, {n,} or {n,m}")
			return 0, 0, 0, false
		}
		hi = lo
		if comma {
			hi = -1
			if b != "" {
				hi, _ = strconv.Atoi(b)
				if hi < lo || hi > 65535 {
					p.fail("quantifier {%s}", body)
					return 0, 0, 0, false
				}
			}
		}
		return lo, hi, end + 1, true
	}
	return 0, 0, 0, false
}

func digits(s string) bool {
	if len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (p *regexParser) atom(depth int) *rnode {
	c := p.s[p.i]
	switch c {
	case '(':
		p.i++
		capture := true
		if strings.HasPrefix(p.s[p.i:], "?:") {
			p.i += 2
			capture = false
		} else if p.i < len(p.s) && (p.s[p.i] == '?' || p.s[p.i] == '*') {
			p.fail("group form (%s (lookaround, named or atomic groups, options, recursion and verbs are refused)", p.s[p.i-1:min(len(p.s), p.i+3)])
			return nil
		}
		n := p.alt(depth + 1)
		if p.err != nil {
			return nil
		}
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			p.fail("unbalanced '('")
			return nil
		}
		p.i++
		if capture {
			// A node of its own: the group's node may be shared.
			n = &rnode{kind: rSeq, subs: []*rnode{n}, capture: true}
		}
		return n
	case '*', '+', '?', '{':
		p.fail("quantifier %q with nothing before it", c)
		return nil
	case '^':
		p.i++
		return &rnode{kind: rAssert, anchored: true}
	case '$':
		p.i++
		return &rnode{kind: rAssert, atEnd: true}
	case '.':
		p.i++
		s := anyChar
		s.lo &^= 1 << '\n'
		return &rnode{kind: rChar, set: s}
	case '[':
		return p.class()
	case '\\':
		return p.escape(false)
	}
	r, size := utf8.DecodeRuneInString(p.s[p.i:])
	p.i += size
	var s cset
	s.addRange(r, r)
	return &rnode{kind: rChar, set: s.folded()}
}

// classSets are \d, \w, \s (their negations are complements); under
// Unicode properties they also hold non-ASCII characters.
func classSet(c byte) (cset, bool) {
	var s cset
	switch c | 0x20 {
	case 'd':
		s.addRange('0', '9')
	case 'w':
		s.addRange('0', '9')
		s.addRange('a', 'z')
		s.addRange('A', 'Z')
		s.addByte('_')
	case 's':
		for _, b := range []byte(" \t\n\r\f\v") {
			s.addByte(b)
		}
	default:
		return s, false
	}
	s.nonASCII = true
	if c >= 'A' && c <= 'Z' {
		return s.not(), true
	}
	return s, true
}

// escape reads an escape sequence at p.i ('\\'); inClass: inside [...].
func (p *regexParser) escape(inClass bool) *rnode {
	if p.i+1 >= len(p.s) {
		p.fail("trailing backslash")
		return nil
	}
	c := p.s[p.i+1]
	p.i += 2
	one := func(b byte) *rnode {
		var s cset
		s.addByte(b)
		return &rnode{kind: rChar, set: s.folded()}
	}
	if s, ok := classSet(c); ok {
		return &rnode{kind: rChar, set: s}
	}
	switch c {
	case 'n':
		return one('\n')
	case 't':
		return one('\t')
	case 'r':
		return one('\r')
	case 'f':
		return one('\f')
	case 'e':
		return one(0x1b)
	case 'x':
		if p.i+2 <= len(p.s) && isHex(p.s[p.i]) && isHex(p.s[p.i+1]) {
			v, _ := strconv.ParseUint(p.s[p.i:p.i+2], 16, 8)
			p.i += 2
			return one(byte(v))
		}
		p.fail("\\x escape other than \\xhh")
		return nil
	case 'b', 'B', 'A', 'z', 'Z':
		if inClass {
			p.fail("escape \\%c in a class", c)
			return nil
		}
		return &rnode{kind: rAssert, anchored: c == 'A', atEnd: c == 'z' || c == 'Z'}
	}
	if c < 128 && !isAlnum(c) && c >= ' ' {
		return one(c)
	}
	p.fail("escape \\%c", c)
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

var posixClasses = map[string]string{
	"alpha": "azAZ", "digit": "09", "alnum": "azAZ09", "upper": "AZ", "lower": "az",
	"space": "", "punct": "!/:@[`{~", "xdigit": "09afAF", "word": "azAZ09__",
	"blank": "", "cntrl": "\x00\x1f", "print": " ~", "graph": "!~",
}

func (p *regexParser) class() *rnode {
	p.i++ // [
	neg := false
	if p.i < len(p.s) && p.s[p.i] == '^' {
		neg, p.i = true, p.i+1
	}
	var s cset
	first := true
	for {
		if p.i >= len(p.s) {
			p.fail("unterminated class '['")
			return nil
		}
		c := p.s[p.i]
		if c == ']' && !first {
			p.i++
			break
		}
		first = false
		if c == '[' && p.i+1 < len(p.s) && (p.s[p.i+1] == ':' || p.s[p.i+1] == '.' || p.s[p.i+1] == '=') {
			end := strings.Index(p.s[p.i+2:], ":]")
			raw := ""
			if p.s[p.i+1] == ':' && end >= 0 {
				raw = p.s[p.i+2 : p.i+2+end]
			}
			name := strings.TrimPrefix(raw, "^")
			r, ok := posixClasses[name]
			if !ok {
				p.fail("class item %.8s", p.s[p.i:])
				return nil
			}
			for j := 0; j+1 < len(r); j += 2 {
				s.addRange(rune(r[j]), rune(r[j+1]))
			}
			// Unicode properties, negations (^), space and blank: any
			// character may belong.
			s = s.union(cset{nonASCII: true})
			if name == "space" || name == "blank" || strings.HasPrefix(raw, "^") {
				s = s.union(anyChar)
			}
			p.i += 2 + end + 2
			continue
		}
		var lo rune
		if c == '\\' {
			n := p.escape(true)
			if p.err != nil {
				return nil
			}
			if !single(n.set) {
				s = s.union(n.set)
				continue
			}
			lo = firstMember(n.set)
		} else {
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			lo, p.i = r, p.i+size
		}
		hi := lo
		if p.i+1 < len(p.s) && p.s[p.i] == '-' && p.s[p.i+1] != ']' {
			p.i++
			if p.s[p.i] == '\\' {
				n := p.escape(true)
				if p.err != nil {
					return nil
				}
				if !single(n.set) {
					p.fail("range ending in a class escape")
					return nil
				}
				hi = firstMember(n.set)
			} else {
				r, size := utf8.DecodeRuneInString(p.s[p.i:])
				hi, p.i = r, p.i+size
			}
			if hi < lo {
				p.fail("range out of order")
				return nil
			}
		}
		var r cset
		r.addRange(lo, hi)
		s = s.union(r.folded())
	}
	if neg {
		s = s.not()
	}
	return &rnode{kind: rChar, set: s}
}

// single reports whether s is one ASCII character, or its two cases.
func single(s cset) bool {
	if s.nonASCII && s.lo == 0 && s.hi == 0 {
		return false
	}
	n := popcount(s.lo) + popcount(s.hi)
	return n == 1 || n == 2 && s.nonASCII
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func firstMember(s cset) rune {
	for c := 0; c < 128; c++ {
		if c < 64 && s.lo&(1<<c) != 0 || c >= 64 && s.hi&(1<<(c-64)) != 0 {
			return rune(c)
		}
	}
	return 128
}

// first is the set of characters n can start with (eos for an end
// anchor), and whether n can match without consuming a character.
func (n *rnode) first() (cset, bool) {
	switch n.kind {
	case rChar:
		return n.set, false
	case rAssert:
		if n.atEnd {
			var s cset
			s.addByte('\n')
			s.eos = true
			return s, false
		}
		return cset{}, true
	case rSeq:
		var s cset
		for _, x := range n.subs {
			f, nullable := x.first()
			s = s.union(f)
			if !nullable {
				return s, false
			}
		}
		return s, true
	case rAlt:
		var s cset
		nullable := false
		for _, x := range n.subs {
			f, nl := x.first()
			s, nullable = s.union(f), nullable || nl
		}
		return s, nullable
	case rRep:
		f, nl := n.subs[0].first()
		return f, nl || n.lo == 0
	}
	return anyEnd, true
}

// captures counts the capturing groups under n.
func (n *rnode) captures() int {
	k := 0
	if n.capture {
		k++
	}
	for _, x := range n.subs {
		k += x.captures()
	}
	return k
}

// head bounds the steps n takes before it consumes a character or fails.
func (n *rnode) head() float64 {
	switch n.kind {
	case rSeq:
		h := 1.0
		for _, x := range n.subs {
			h += x.head()
			if _, nl := x.first(); !nl {
				break
			}
		}
		return h
	case rAlt:
		h := 1.0
		for _, x := range n.subs {
			h += x.head()
		}
		return h
	case rRep:
		return 1 + n.subs[0].head()
	}
	return 1
}

// follow is what may come after a node: the characters it can start with
// and the steps it takes to fail on a character it cannot start with.
type follow struct {
	set  cset
	head float64
}

// cost is a + b·C for a continuation of cost C.
type cost struct{ a, b poly }

var errExponential = violation("regular expression whose matching time grows exponentially (a repetition of something that can match in more than one way)")

// regexCost bounds the steps of n followed by a continuation f.
func regexCost(n *rnode, f follow) (cost, error) {
	switch n.kind {
	case rChar, rAssert:
		return cost{a: poly1, b: poly1}, nil
	case rSeq:
		acc := cost{a: poly0, b: poly1}
		fl := f
		for i := len(n.subs) - 1; i >= 0; i-- {
			x := n.subs[i]
			c, err := regexCost(x, fl)
			if err != nil {
				return cost{}, err
			}
			acc = cost{a: c.a.add(c.b.mul(acc.a)), b: c.b.mul(acc.b)}
			s, nullable := x.first()
			if nullable {
				fl = follow{set: fl.set.union(s), head: fl.head + x.head()}
			} else {
				fl = follow{set: s, head: x.head()}
			}
		}
		return acc, nil
	case rAlt:
		// Each branch once (nested alternations stay linear to analyse).
		var out cost
		var sum, mx poly
		disjoint := true
		var seen cset
		for _, x := range n.subs {
			s, nullable := x.first()
			if nullable || seen.meets(s) {
				disjoint = false
			}
			seen = seen.union(s)
			c, err := regexCost(x, f)
			if err != nil {
				return cost{}, err
			}
			out.a = out.a.add(c.a)
			sum, mx = sum.add(c.b), mx.max(c.b)
		}
		// Branches that cannot start with the same character: at most
		// one gets past its first character and hands over.
		out.b = sum
		if disjoint {
			out.b = mx
		}
		return out, nil
	case rRep:
		return repCost(n, f)
	}
	return cost{}, violation("regular expression node the guard does not know")
}

func repCost(n *rnode, f follow) (cost, error) {
	x := n.subs[0]
	xs, nullable := x.first()
	unbounded := n.hi < 0 || n.hi > maxRepeatUnroll
	if n.lo > maxRepeatUnroll {
		return cost{}, violation("regular expression repetition {%d,...} (at most %d)", n.lo, maxRepeatUnroll)
	}
	if unbounded && nullable {
		return cost{}, violation("regular expression with an unbounded repetition of something that can match empty")
	}
	// After one iteration: another one, or what follows.
	inner := follow{set: xs.union(f.set), head: x.head() + f.head}
	c, err := regexCost(x, inner)
	if err != nil {
		return cost{}, err
	}
	if x.kind == rChar && !xs.meets(f.set) {
		// What follows cannot start with a character the loop takes:
		// it goes on only where the loop stopped, and fails at once at
		// every other place the loop gives back.
		iters := poly{c: float64(max(n.hi, 1))}
		if unbounded {
			iters = polyN
		}
		return cost{a: iters.scale(1 + f.head).add(poly1), b: poly1}, nil
	}
	// Single-way iterations (b = 1): each hands over once.
	single := c.b.d == 0 && c.b.c <= 1
	if unbounded {
		if !single {
			return cost{}, errExponential
		}
		// lo fixed iterations, then up to n+1 more, each handing over.
		return cost{a: polyN.mul(c.a).add(polyN).add(poly{c: float64(n.lo)}.mul(c.a)), b: polyN}, nil
	}
	// Counted: X{lo,hi} = X^lo (X (X ...)?)?, unrolled from the inside.
	acc := cost{a: poly0, b: poly1}
	for k := n.hi; k > n.lo; k-- {
		// (X acc)?: either X then acc, or stop.
		acc = cost{a: c.a.add(c.b.mul(acc.a)).add(poly1), b: c.b.mul(acc.b).add(poly1)}
		if acc.a.infinite() || acc.b.infinite() {
			return cost{}, errExponential
		}
	}
	for k := 0; k < n.lo; k++ {
		acc = cost{a: c.a.add(c.b.mul(acc.a)), b: c.b.mul(acc.b)}
		if acc.a.infinite() || acc.b.infinite() {
			return cost{}, errExponential
		}
	}
	return acc, nil
}

// anchoredStart reports whether every match must start at the subject's
// start (^ or \A first in every branch; no multi-line mode: the executor
// clears default_regex_flags and inline options are refused).
func anchoredStart(n *rnode) bool {
	switch n.kind {
	case rAssert:
		return n.anchored
	case rSeq:
		return len(n.subs) > 0 && anchoredStart(n.subs[0])
	case rAlt:
		for _, x := range n.subs {
			if !anchoredStart(x) {
				return false
			}
		}
		return true
	}
	return false
}

// regexSteps returns the bound of the steps of a search for pattern over a
// subject, as a polynomial of the subject's length, and the same bound per
// start position.
func regexSteps(pattern string) (total, perStart poly, err error) {
	n, err := parseRegex(pattern)
	if err != nil {
		return poly{}, poly{}, err
	}
	c, err := regexCost(n, follow{set: anyEnd, head: 1})
	if err != nil {
		return poly{}, poly{}, err
	}
	// PCRE2 copies the capture offsets in every backtracking frame: a
	// step costs more with every capturing group.
	perStart = c.a.add(c.b).add(poly1).scale(float64(1 + n.captures()))
	if perStart.infinite() {
		return poly{}, poly{}, errExponential
	}
	total = perStart
	if !anchoredStart(n) {
		total = perStart.mul(polyN)
	}
	return total, perStart, nil
}

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return violation(format, args...).Message
}

func strconvQuoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(s)
}

// patternCharsets are the character sets an introducer may name in a
// pattern function's arguments: those the server matches as the guard
// models them (bytes or UTF-8). Others (_utf16le, _ucs2, _utf32, ...) are
// converted by the server: the bytes the guard parsed are not the pattern
// the server runs.
var patternCharsets = map[string]bool{
	"binary": true, "utf8mb4": true, "utf8mb3": true, "utf8": true, "latin1": true, "ascii": true,
}

// checkPatternIntroducers refuses, anywhere in an argument of a pattern
// function, an introducer of a character set outside patternCharsets.
func checkPatternIntroducers(name string, e sqlparser.Expr) error {
	var err error
	_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
		if in, ok := node.(*sqlparser.IntroducerExpr); ok {
			cs := strings.ToLower(strings.TrimPrefix(in.CharacterSet, "_"))
			if !patternCharsets[cs] {
				err = violation("%s with a %s string (the server converts it: only _binary, _utf8mb4, _utf8mb3, _utf8, _latin1 and _ascii are allowed in a pattern function)", name, in.CharacterSet)
				return false, errStop
			}
		}
		return true, nil
	}, e)
	return err
}

// patternLiteral returns the text of a pattern that is a string literal,
// possibly under an allowed introducer or COLLATE.
func patternLiteral(e sqlparser.Expr) (string, bool) {
	switch n := e.(type) {
	case *sqlparser.Literal:
		return n.Val, n.Type == sqlparser.StrVal
	case *sqlparser.IntroducerExpr:
		if !patternCharsets[strings.ToLower(strings.TrimPrefix(n.CharacterSet, "_"))] {
			return "", false
		}
		return patternLiteral(n.Expr)
	case *sqlparser.CollateExpr:
		return patternLiteral(n.Expr)
	}
	return "", false
}

// checkPatternSteps bounds the matching steps of a regular-expression or
// LIKE node (package comment above) and adds them to the statement's sum.
func (l *lengths) checkPatternSteps(node sqlparser.SQLNode) error {
	var name string
	var subject, pattern sqlparser.Expr
	var matchType sqlparser.Expr
	switch n := node.(type) {
	case *sqlparser.ComparisonExpr:
		switch n.Operator {
		case sqlparser.RegexpOp, sqlparser.NotRegexpOp:
			name, subject, pattern = "REGEXP", n.Left, n.Right
		case sqlparser.LikeOp, sqlparser.NotLikeOp:
			return l.likeSteps(n)
		default:
			return nil
		}
	case *sqlparser.RegexpInstrExpr:
		name, subject, pattern, matchType = "REGEXP_INSTR", n.Expr, n.Pattern, n.MatchType
	case *sqlparser.RegexpLikeExpr:
		name, subject, pattern, matchType = "REGEXP_LIKE", n.Expr, n.Pattern, n.MatchType
	case *sqlparser.RegexpSubstrExpr:
		name, subject, pattern, matchType = "REGEXP_SUBSTR", n.Expr, n.Pattern, n.MatchType
	case *sqlparser.RegexpReplaceExpr:
		name, subject, pattern, matchType = "REGEXP_REPLACE", n.Expr, n.Pattern, n.MatchType
	case *sqlparser.LocateExpr:
		return l.searchSteps("LOCATE", n.Str, n.SubStr)
	case *sqlparser.FuncExpr:
		switch ln := n.Name.Lowered(); ln {
		case "instr", "replace", "substring_index", "find_in_set":
			if len(n.Exprs) < 2 {
				return nil
			}
			subject, needle := n.Exprs[0], n.Exprs[1]
			if ln == "find_in_set" {
				subject, needle = needle, subject
			}
			return l.searchSteps(strings.ToUpper(ln), subject, needle)
		case "locate", "position":
			if len(n.Exprs) < 2 {
				return nil
			}
			return l.searchSteps(strings.ToUpper(ln), n.Exprs[1], n.Exprs[0])
		case "regexp_instr", "regexp_like", "regexp_substr", "regexp_replace":
			name = strings.ToUpper(ln)
			if len(n.Exprs) < 2 {
				return nil // the server refuses the call
			}
			if len(n.Exprs) > 2 && ln != "regexp_replace" || len(n.Exprs) > 3 {
				return violation("%s with a match type or position (only the subject, the pattern and the replacement are allowed)", name)
			}
			subject, pattern = n.Exprs[0], n.Exprs[1]
		default:
			return nil
		}
	default:
		return nil
	}
	if matchType != nil {
		return violation("%s with a match type (it changes how the pattern matches)", name)
	}
	text, ok := patternLiteral(pattern)
	if !ok {
		return violation("%s with a pattern that is not a string literal (the guard bounds the matching time of literal patterns only)", name)
	}
	total, perStart, err := regexSteps(text)
	if err != nil {
		return err
	}
	sb := l.of(subject)
	if sb.opaque {
		return violation("%s over a string of unbounded length", name)
	}
	if sb.k > 0 && l.dataLen > 0 {
		// The declared column lengths bound every value: the pattern is
		// bounded per row like one over a literal, when that fits.
		if v := total.at(sat(sb.n + satMul(sb.k, l.dataLen))); l.steps+v <= MaxPatternSteps {
			return l.addSteps(name, v)
		}
	}
	if sb.k > 0 && perStart.d > 1 {
		return violation("%s over table data with pattern %s, whose matching time grows faster than the value's length (overlapping or nested repetitions; the declared column lengths do not bound it under %d steps)", name, strconvQuoteShort(text), MaxPatternSteps)
	}
	return l.addSteps(name, total.at(sb.n))
}

func (l *lengths) addSteps(name string, steps float64) error {
	l.steps += steps
	if l.steps > MaxPatternSteps {
		return violation("%s: the statement's pattern matching may take %.3g steps, over the bound of %d (summed over every pattern call of the statement)", name, l.steps, MaxPatternSteps)
	}
	return nil
}

// likeSteps bounds a LIKE: (n+1)·(m+1) steps for a subject of n and a
// pattern of m characters.
func (l *lengths) likeSteps(n *sqlparser.ComparisonExpr) error {
	if n.Escape != nil {
		v, ok := patternLiteral(n.Escape)
		if !ok || utf8.RuneCountInString(v) > 1 {
			return violation("LIKE ... ESCAPE with anything but a literal of one character")
		}
	}
	sb, pb := l.of(n.Left), l.of(n.Right)
	if sb.opaque || pb.opaque {
		return violation("LIKE over a string of unbounded length")
	}
	m := pb.n
	if text, ok := patternLiteral(n.Right); ok {
		m = uint64(utf8.RuneCountInString(text))
	}
	return l.addSteps("LIKE", (float64(sb.n)+1)*(float64(m)+1))
}

// maxXPathLength bounds the XPath's length; maxXPathIndex the digits of a
// positional predicate.
const (
	maxXPathLength = 1000
	maxXPathIndex  = 9
)

// checkXPath requires the XPath of EXTRACTVALUE or UPDATEXML to be a string
// literal of the closed grammar of the package comment above:
//
//	path      = ["/" | "//"] step { ("/" | "//") step }
//	step      = ( name | "*" | "@" name | "@*" | "text()" ) { "[" digits "]" }
//	name      = letter or "_", then letters, digits, "_", "-", "."
//
// with at most one "//" in all. Every step selects children (or
// attributes, or text) of the nodes the step before selected, so the
// evaluation is linear in the document for each step; predicates other
// than a position, functions, axes, unions and operators (where nesting
// multiplies the work by the document's size per level, and MariaDB's
// evaluator looks at no KILL) are refused.
func checkXPath(name string, e sqlparser.Expr) error {
	v, ok := patternLiteral(e)
	if !ok {
		return violation("%s with an XPath that is not a string literal", name)
	}
	if why := xpathRefusal(v); why != "" {
		return violation("%s: the XPath %s (accepted: child steps of names, *, @name, @* and text(), at most one //, and [n] positions as predicates; MariaDB evaluates other XPath in time that grows as a power of the document's size, and does not stop it on KILL)", name, why)
	}
	return nil
}

// xpathRefusal returns why v is not in checkXPath's grammar, or "".
func xpathRefusal(v string) string {
	if len(v) > maxXPathLength {
		return fmt.Sprintf("is longer than %d characters", maxXPathLength)
	}
	descendants := 0
	i := 0
	sep := func() bool {
		if strings.HasPrefix(v[i:], "//") {
			descendants++
			i += 2
			return true
		}
		if i < len(v) && v[i] == '/' {
			i++
			return true
		}
		return false
	}
	isNameStart := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
	isName := func(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.' }
	sep()
	for {
		switch {
		case strings.HasPrefix(v[i:], "text()"):
			i += len("text()")
		case strings.HasPrefix(v[i:], "@*"):
			i += 2
		case i < len(v) && v[i] == '*':
			i++
		default:
			if i < len(v) && v[i] == '@' {
				i++
			}
			if i >= len(v) || !isNameStart(v[i]) {
				return "has something other than a step where a step is expected"
			}
			for i < len(v) && isName(v[i]) {
				i++
			}
			if i < len(v) && (v[i] == '(' || v[i] == ':') {
				return "calls a function or names an axis or a namespace"
			}
		}
		for i < len(v) && v[i] == '[' {
			j := i + 1
			for j < len(v) && v[j] >= '0' && v[j] <= '9' {
				j++
			}
			if j == i+1 || j-i-1 > maxXPathIndex || j >= len(v) || v[j] != ']' {
				return "has a predicate other than a position [n]"
			}
			i = j + 1
		}
		if descendants > 1 {
			return "has more than one //"
		}
		if i == len(v) {
			return ""
		}
		if !sep() {
			return "has something other than / or // between its steps"
		}
	}
}

// searchSteps bounds a substring search (INSTR, LOCATE, REPLACE,
// SUBSTRING_INDEX, FIND_IN_SET): (n+1)·(m+1) for a subject of n and a
// needle of m characters, added to the statement's sum.
func (l *lengths) searchSteps(name string, subject, needle sqlparser.Expr) error {
	sb, nb := l.of(subject), l.of(needle)
	if sb.opaque || nb.opaque {
		return violation("%s over a string of unbounded length", name)
	}
	return l.addSteps(name, (float64(sb.n)+1)*(float64(nb.n)+1))
}
