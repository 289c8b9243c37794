package sqlguard

import (
	"strings"
	"testing"
	"time"
)

// Attack review (re-created; the earlier tests were lost with their
// branch): PCRE in MariaDB does not check a KILL within one match, so a
// pattern with catastrophic backtracking holds a server thread past KILL
// QUERY. Every statement here was accepted by the guard before regex.go;
// each must be refused.
func TestRegexCatastrophicRefused(t *testing.T) {
	a40k := "'" + strings.Repeat("a", 40000) + "'"
	cases := []string{
		// Exponential: ambiguous alternatives and nested quantifiers.
		"SELECT REPEAT('a', 30) REGEXP '^(a|aa)+$'",
		"SELECT REPEAT('a', 30) RLIKE '^(a|aa)+$'",
		"SELECT 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!' REGEXP '(a+)+$'",
		"SELECT 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!' NOT REGEXP '(a*)*b'",
		"SELECT REGEXP_INSTR(REPEAT('a', 30), '(a|a)*c')",
		"SELECT REGEXP_SUBSTR(REPEAT('a', 30), '(.*a){20}')",
		"SELECT REGEXP_LIKE(REPEAT('a', 30), '^(a?){30}a{30}$')",
		"SELECT REGEXP_REPLACE(REPEAT('a', 30), '(\\\\w+\\\\s?)+$', 'x')",
		"SELECT name FROM customers WHERE name REGEXP '^(a|aa)+$'",
		// Polynomial of a high degree over a few thousand characters.
		"SELECT REPEAT('a', 4000) REGEXP 'a.*a.*a.*b'",
		"SELECT REPEAT('a', 4000) REGEXP 'a*a*a*a*b'",
		// Over table data, a pattern that is more than linear per start.
		"SELECT name FROM customers WHERE name REGEXP 'a.*a.*b'",
		"SELECT REGEXP_REPLACE(name, 'x*x*y', '') FROM customers",
		// Subjects grown by functions.
		"SELECT REGEXP_REPLACE(HEX(HEX(HEX(" + a40k + "))), '3', '33')",
		// Patterns that are not literals.
		"SELECT name REGEXP name FROM customers",
		"SELECT 'a' REGEXP CONCAT('^(a', '|aa)+$')",
		"SELECT REGEXP_LIKE('a', (SELECT name FROM customers LIMIT 1))",
		// Constructs the grammar refuses.
		"SELECT 'aa' REGEXP '(a)\\\\1'",
		"SELECT 'aa' REGEXP 'a(?=a)'",
		"SELECT 'aa' REGEXP '(?<!b)a'",
		"SELECT 'aa' REGEXP '(?>a+)b'",
		"SELECT 'aa' REGEXP 'a++b'",
		"SELECT 'aa' REGEXP '(?R)?a'",
		"SELECT 'aa' REGEXP '(?i)a'",
		"SELECT 'aa' REGEXP '(?x)a # comment'",
		"SELECT 'aa' REGEXP '(*LIMIT_MATCH=100000000)a'",
		"SELECT 'aa' REGEXP '\\\\Qa\\\\E'",
		"SELECT 'aa' REGEXP '\\\\p{L}+'",
		"SELECT 'aa' REGEXP '\\\\x{61}'",
		"SELECT 'aa' REGEXP 'a{,3}'",
		"SELECT 'aa' REGEXP 'a{2'",
		"SELECT 'aa' REGEXP '(?<n>a)'",
		// A match type changes the semantics the guard modelled (MySQL).
		"SELECT REGEXP_LIKE('a', 'A', 'm')",
		// LIKE: ESCAPE must be one literal character.
		"SELECT name FROM customers WHERE name LIKE 'a%' ESCAPE name",
	}
	for _, c := range cases {
		if _, err := Check(c, Policy{}); err == nil {
			t.Errorf("accepted: %.120s", c)
		}
		if _, err := Check(c, Policy{Dialect: Dialect{Flavor: MariaDB}}); err == nil {
			t.Errorf("accepted on MariaDB: %.120s", c)
		}
	}
}

// TestRegexBoundedAccepted: everyday patterns stay accepted, over literals
// and over table data.
func TestRegexBoundedAccepted(t *testing.T) {
	cases := []string{
		"SELECT name FROM customers WHERE name REGEXP '^[A-Z][a-z]+$'",
		"SELECT name FROM customers WHERE name RLIKE 'smith'",
		"SELECT name FROM customers WHERE name REGEXP '^(foo|bar)+$'",
		"SELECT name FROM customers WHERE name REGEXP '^[0-9]+\\\\.[0-9]+$'",
		"SELECT name FROM customers WHERE name REGEXP '^\\\\d{3}-\\\\d{4}$'",
		"SELECT name FROM customers WHERE name NOT REGEXP '[[:digit:]]'",
		"SELECT name FROM customers WHERE name REGEXP 'foo.*bar'",
		"SELECT name FROM customers WHERE name REGEXP '^[^@]+@[^@]+\\\\.[a-z]{2,6}$'",
		"SELECT REGEXP_REPLACE(name, '[^a-z0-9]+', '-') FROM customers",
		"SELECT REGEXP_SUBSTR(name, '[0-9]+') FROM customers",
		"SELECT REGEXP_INSTR(name, 'a|b|c') FROM customers",
		"SELECT REGEXP_LIKE(name, '^(Mr|Mrs|Ms)\\\\.? ') FROM customers",
		"SELECT name FROM customers WHERE name REGEXP _utf8mb4'^a' COLLATE utf8mb4_bin",
		"SELECT 'abc' REGEXP 'a.*c'",
		"SELECT name FROM customers WHERE name LIKE '%a%b%c%'",
		"SELECT name FROM customers WHERE name LIKE 'a!%%' ESCAPE '!'",
		"SELECT a.name FROM customers a JOIN customers b ON a.name LIKE CONCAT(b.name, '%')",
	}
	for _, c := range cases {
		if _, err := Check(c, Policy{}); err != nil {
			t.Errorf("refused %s: %v", c, err)
		}
	}
}

// TestPatternStepsPerStatement: the bound holds for the whole statement,
// summed over every pattern call, subqueries included.
func TestPatternStepsPerStatement(t *testing.T) {
	// One call near the bound is accepted; two are not.
	one := "(SELECT REPEAT('a', 350) REGEXP 'a.*b')"
	if _, err := Check("SELECT "+one, Policy{}); err != nil {
		t.Fatalf("one call refused: %v", err)
	}
	if _, err := Check("SELECT "+one+", "+one, Policy{}); err == nil {
		t.Errorf("two calls each just under the bound accepted")
	}
	// 500 scalar subqueries, each well under the bound alone.
	small := "(SELECT REPEAT('a', 100) REGEXP 'a.*b')"
	if _, err := Check("SELECT "+small, Policy{}); err != nil {
		t.Fatalf("one small call refused: %v", err)
	}
	many := "SELECT " + strings.TrimSuffix(strings.Repeat(small+" + ", 500), " + ")
	if _, err := Check(many, Policy{MaxBytes: 1 << 20, MaxTokens: 1 << 20, MaxDepth: 1 << 10}); err == nil {
		t.Errorf("500 scalar subqueries of pattern calls accepted")
	}
	// LIKE counts too.
	lk := "(SELECT REPEAT('a', 9000) LIKE '%" + strings.Repeat("a", 100) + "%')"
	if _, err := Check("SELECT "+lk+", "+lk, Policy{}); err == nil {
		t.Errorf("two long LIKEs accepted")
	}
}

// TestPatternIntroducers: the guard models a pattern's bytes; the server
// converts a _utf16le (and other non-UTF-8) string, so the pattern it
// runs is not the one checked.
func TestPatternIntroducers(t *testing.T) {
	for _, cs := range []string{"_utf16le", "_utf16", "_ucs2", "_utf32"} {
		for _, c := range []string{
			"SELECT 'aaaa' REGEXP " + cs + "'^(a|aa)+$'",
			"SELECT 'aaaa' REGEXP " + cs + "'^a'",
			"SELECT " + cs + "'aaaa' REGEXP '^a'",
			"SELECT REGEXP_REPLACE('aaaa', " + cs + "'^a', 'b')",
			"SELECT 'aaaa' LIKE " + cs + "'a%'",
		} {
			if _, err := Check(c, Policy{}); err == nil {
				t.Errorf("accepted: %s", c)
			}
		}
	}
	for _, c := range []string{"SELECT 'aaaa' REGEXP _utf8mb4'^a'", "SELECT 'aaaa' REGEXP _binary'^a'", "SELECT 'aaaa' REGEXP _latin1'^a'"} {
		if _, err := Check(c, Policy{}); err != nil {
			t.Errorf("refused %s: %v", c, err)
		}
	}
}

func TestRegexSteps(t *testing.T) {
	for _, c := range []struct {
		pat    string
		degree int // per start; -1: refused
	}{
		{"abc", 0}, {"^abc$", 0}, {"a*", 1}, {"a*b", 1}, {"[0-9]+\\.[0-9]+", 1},
		{"(foo|bar)+", 1}, {"a.*b", 1}, {"a.*a.*b", 2}, {"(a|aa)+", -1}, {"(a+)+", -1},
		{"(a*)*", -1}, {"(a|a)*", -1}, {"x{3}", 0}, {"(ab){2,5}", 0},
	} {
		_, per, err := regexSteps(c.pat)
		switch {
		case c.degree < 0 && err == nil:
			t.Errorf("%q: accepted, per start %+v", c.pat, per)
		case c.degree >= 0 && err != nil:
			t.Errorf("%q: %v", c.pat, err)
		case c.degree >= 0 && per.d != c.degree:
			t.Errorf("%q: degree %d per start, want %d (%+v)", c.pat, per.d, c.degree, per)
		}
	}
}

// TestXPathDescendantRefused: EXTRACTVALUE with //a//a//a... ran for
// minutes in one call (attack review).
func TestXPathDescendantRefused(t *testing.T) {
	doc := "'" + strings.Repeat("<a>", 30) + strings.Repeat("</a>", 30) + "'"
	for _, c := range []string{
		"SELECT EXTRACTVALUE(" + doc + ", '//a//a//a//a//a//a//a//a')",
		"SELECT EXTRACTVALUE(" + doc + ", '/a/descendant::a/descendant::a')",
		"SELECT EXTRACTVALUE(" + doc + ", '//a/ancestor::a')",
		"SELECT EXTRACTVALUE(" + doc + ", CONCAT('/', 'a'))",
		"SELECT UPDATEXML(" + doc + ", '//a//b', '<b/>')",
		"SELECT EXTRACTVALUE(name, '//A//B') FROM customers",
	} {
		if _, err := Check(c, Policy{}); err == nil {
			t.Errorf("accepted: %.100s", c)
		}
	}
	for _, c := range []string{
		"SELECT EXTRACTVALUE('<a><b>x</b></a>', '/a/b')",
		"SELECT EXTRACTVALUE('<a><b>x</b></a>', '/a/b[1]/text()')",
		"SELECT UPDATEXML('<a><b>x</b></a>', '/a/b', '<c/>')",
		"SELECT EXTRACTVALUE('<a><b>x</b></a>', '//b')",
		"SELECT EXTRACTVALUE(name, '//b[1]') FROM customers",
	} {
		if _, err := Check(c, Policy{}); err != nil {
			t.Errorf("refused %s: %v", c, err)
		}
	}
}

// TestOutputLengthArguments: functions whose output length an argument
// sets are bounded like REPEAT (attack review).
func TestOutputLengthArguments(t *testing.T) {
	for _, c := range []string{
		"SELECT SFORMAT('{:>1000000000}', 1)",
		"SELECT SFORMAT('{:.1000000000f}', 1.5)",
		"SELECT SFORMAT('{:>{}}', 1, 1000000000)",
		"SELECT SFORMAT(name, 1) FROM customers",
		"SELECT SFORMAT('{:>9000}{:>9000}{:>9000}{:>9000}{:>9000}{:>9000}{:>9000}{:>9000}{:>9000}{:>9000}{:>9000}{:>9000}', 1,1,1,1,1,1,1,1,1,1,1,1)",
		"SELECT WEIGHT_STRING('a' AS CHAR(100000000))",
		"SELECT WEIGHT_STRING('a' AS BINARY(100000000))",
		"SELECT CAST('a' AS BINARY(100000000))",
		"SELECT CONVERT('a', BINARY(100000000))",
		"SELECT LPAD('a', 100000000, 'b')",
		"SELECT RPAD('a', 100000000, 'b')",
		"SELECT REPEAT('a', 100000000)",
		"SELECT SPACE(100000000)",
		"SELECT LPAD('a', id, 'b') FROM orders",
	} {
		if _, err := Check(c, Policy{}); err == nil {
			t.Errorf("accepted: %s", c)
		}
	}
	for _, c := range []string{
		"SELECT SFORMAT('{} and {:>10}', 'a', 2)",
		"SELECT SFORMAT('{{}} {0:.2f}', 1.5)",
		"SELECT WEIGHT_STRING('a' AS CHAR(10))",
		"SELECT CAST('a' AS BINARY(16)), CAST(name AS CHAR(20000)) FROM customers",
	} {
		if _, err := Check(c, Policy{}); err != nil {
			t.Errorf("refused %s: %v", c, err)
		}
	}
}

// TestRegexAnalysisIsCheap: the guard's own analysis of a pattern stays
// fast on nested alternations and counted repetitions (no work
// exponential in the nesting).
func TestRegexAnalysisIsCheap(t *testing.T) {
	nested := strings.Repeat("(a|", 60) + "a" + strings.Repeat(")", 60)
	counted := strings.Repeat("(?:", 10) + "a" + strings.Repeat("){2,1000}", 10)
	for _, pat := range []string{nested, counted, strings.Repeat("(?:a|b|c)?", 400)} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _, _ = regexSteps(pat)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("analysis of %.60s did not end in 30 s", pat)
		}
	}
}

// FuzzRegex: the pattern analysis never panics, and what it accepts at a
// subject length of 100 is within the statement bound or refused by Check.
//
//	go test -run '^$' -fuzz FuzzRegex -fuzztime 60s ./internal/sqlguard/
func FuzzRegex(f *testing.F) {
	for _, s := range []string{"^(a|aa)+$", "[[:alpha:]]+", "[:]", "[a-\\d]", "a{2,3}?b", "(?:a|b)*c$",
		"\\x41\\n[^\\]]", "[]a]", "[^]a-]", "(a)(b)(c)\\b", "a**", "(", ")", "[", "\\", "a{", "{1}", "[[:^digit:]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pat string) {
		total, _, err := regexSteps(pat)
		if err != nil {
			return
		}
		if total.infinite() {
			t.Fatalf("%q accepted with an infinite bound", pat)
		}
	})
}

// TestSearchStepsPerStatement: substring searches over generated subjects
// count in the statement's sum too (each alone under the length bound).
func TestSearchStepsPerStatement(t *testing.T) {
	subj := "HEX('" + strings.Repeat("a", 500) + "')" // 1 000 characters, a bound of 4 000
	needle := "'" + strings.Repeat("b", 100) + "'"
	one := "(SELECT LOCATE(" + needle + ", " + subj + "))"
	if _, err := Check("SELECT "+one, Policy{}); err != nil {
		t.Fatalf("one search refused: %v", err)
	}
	for _, f := range []string{
		"(SELECT LOCATE(" + needle + ", " + subj + "))",
		"(SELECT INSTR(" + subj + ", " + needle + "))",
		"(SELECT REPLACE(" + subj + ", " + needle + ", ''))",
		"(SELECT SUBSTRING_INDEX(" + subj + ", " + needle + ", 2))",
	} {
		many := "SELECT " + strings.TrimSuffix(strings.Repeat(f+" + ", 5), " + ")
		if _, err := Check(many, Policy{}); err == nil {
			t.Errorf("accepted five searches of 4e5 steps each: %.80s", f)
		}
	}
}

// TestRegexOverDeclaredLengths: with the declared column lengths known
// (the executor's Policy.MaxDataLength), a pattern that is more than
// linear is bounded per row like one over a literal.
func TestRegexOverDeclaredLengths(t *testing.T) {
	q := "SELECT name FROM customers WHERE name REGEXP '^a.*a.*b'"
	if _, err := Check(q, Policy{MaxDataLength: 100}); err != nil {
		t.Errorf("refused with values of at most 100 characters: %v", err)
	}
	for _, d := range []uint64{0, 65535} {
		if _, err := Check(q, Policy{MaxDataLength: d}); err == nil {
			t.Errorf("accepted with MaxDataLength %d", d)
		}
	}
	// Still summed: many such calls do not fit.
	many := "SELECT name FROM customers WHERE " + strings.TrimSuffix(strings.Repeat("name REGEXP '^a.*a.*b' OR ", 40), " OR ")
	if _, err := Check(many, Policy{MaxDataLength: 100}); err == nil {
		t.Errorf("accepted 40 cubic patterns over values of 100 characters")
	}
	if _, err := Check("SELECT name FROM otherdb.customers WHERE name REGEXP '^a.*a.*b'", Policy{MaxDataLength: 100}); err == nil {
		t.Errorf("accepted over a table of another database (MaxDataLength is about the current one)")
	}
	if _, err := Check("SELECT @@datadir REGEXP '^a.*a.*b'", Policy{MaxDataLength: 100, AllowSystemSchemas: true}); err == nil {
		t.Errorf("accepted over a system variable with MaxDataLength set")
	}
	if _, err := Check("SELECT name FROM customers WHERE name REGEXP '^(a|aa)+$'", Policy{MaxDataLength: 10}); err == nil {
		t.Errorf("accepted an exponential pattern over short values")
	}
}

// The XPath grammar of checkXPath: child steps, one //, positions only.
func TestXPathGrammar(t *testing.T) {
	for _, ok := range []string{"/a/b", "a/b", "//b", "/a//b[1]/text()", "/a/@id", "/a/@*", "/*/b[2][1]", "x_1/y-z.w", "/a/b/text()"} {
		if why := xpathRefusal(ok); why != "" {
			t.Errorf("%q refused: %s", ok, why)
		}
	}
	for _, bad := range []string{"", "/", "//a//b", "/a/b[count(/a/b) = 0]", "/a/b[. = 'x']", "/a/b[last()]", "/a/b[1", "/a/b[]",
		"/a | /b", "/a/descendant::b", "/a/..", "/a/.", "count(/a)", "/a/b ", "/a/ns:b", "/a/b[1234567890]", "/a/node()", "/a/b[1]x", "/a//"} {
		if why := xpathRefusal(bad); why == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}
