package sqlguard

import (
	"slices"
	"strings"

	"vitess.io/vitess/go/vt/sqlparser"
)

// The printer turns a checked tree into the text that is sent. It is
// vitess' own formatter with three changes, all made in one NodeFormatter
// that sees every node before vitess writes it:
//
//   - every identifier is quoted (TrackedBuffer.SetEscapeAllIdentifiers):
//     a column named current_role is sent as `current_role`, never as a
//     word MariaDB could read as a keyword or a function;
//   - every string vitess would write unquoted is checked against a closed
//     set first (rawStrings below), and the statement refused otherwise;
//     DATE/TIME/TIMESTAMP literals may hold only the characters of a date
//     or a time (vitess writes their content raw between quotes);
//   - every function call's name is taken from the printed text itself
//     (the word before its parenthesis) and checked against the served
//     dialect's built-ins, so the name checked is the name sent, whatever
//     node type vitess used for it.
//
// Comments and optimizer hints are never printed.

// printer holds the state of one printing.
type printer struct {
	d     Dialect
	err   error
	funcs []string // names of called functions, lower case, as printed
}

// printFast prints node as print does, with vitess' fast formatter and no
// checks: both printings of the round trip (the walk has checked every
// node it prints, calledFuncs the names of the calls in it). print, the
// same printing through a NodeFormatter that checks every node as it is
// written, is the tests' and the fuzz target's oracle: they hold that
// printFast and calledFuncs give exactly what print gives.
func printFast(node sqlparser.SQLNode) string {
	return printFastSized(node, 0)
}

// printFastSized is printFast into a buffer of size bytes to begin with
// (the printed statement is about as long as the text parsed: one
// allocation instead of a doubling series).
func printFastSized(node sqlparser.SQLNode, size int) string {
	buf := sqlparser.NewTrackedBuffer(nil)
	buf.SetEscapeAllIdentifiers()
	buf.Grow(size)
	node.FormatFast(buf)
	return buf.String()
}

// print returns the text to send for node, the functions it calls, or the
// first refusal met while printing.
func (g *Guard) print(node sqlparser.SQLNode) (string, []string, error) {
	p := &printer{d: g.policy.Dialect}
	buf := sqlparser.NewTrackedBuffer(p.format)
	buf.SetEscapeAllIdentifiers()
	buf.Myprintf("%v", node)
	if p.err != nil {
		return "", nil, p.err
	}
	return buf.String(), p.funcs, nil
}

func (p *printer) fail(r *Refusal) {
	if p.err == nil {
		p.err = r
	}
}

func (p *printer) charset(name, where string) {
	if !p.d.knownCharset(name) {
		p.fail(violation("%s: unknown character set%s", where, quotedName(name)))
	}
}

func (p *printer) collation(name, where string) {
	if !p.d.knownCollation(name) {
		p.fail(violation("%s: unknown collation%s", where, quotedName(name)))
	}
}

// quotedName shows a refused name when it is short and plain, never text
// that could be a payload.
func quotedName(name string) string {
	if isPlainName(name) && len(name) <= 40 {
		return " " + name
	}
	return " (not a plain name)"
}

// castTypes are the type names CAST, CONVERT and JSON_TABLE columns may
// carry (vitess keeps the keyword as written and prints it unquoted).
var castTypes = map[string]bool{
	"binary": true, "char": true, "nchar": true, "date": true, "datetime": true,
	"decimal": true, "numeric": true, "dec": true, "fixed": true, "json": true,
	"signed": true, "unsigned": true, "time": true, "float": true, "double": true,
	"real": true, "year": true, "integer": true, "int": true, "timestamp": true,
	"bit": true, "tinyint": true, "smallint": true, "mediumint": true, "bigint": true,
	"varchar": true, "varbinary": true, "text": true, "tinytext": true,
	"mediumtext": true, "longtext": true, "blob": true, "tinyblob": true,
	"mediumblob": true, "longblob": true, "bool": true, "boolean": true,
	"double precision": true, "signed integer": true, "unsigned integer": true,
}

func (p *printer) format(buf *sqlparser.TrackedBuffer, node sqlparser.SQLNode) {
	if p.err != nil {
		return
	}
	if _, ok := node.(*sqlparser.ParsedComments); ok {
		return
	}
	p.check(node)
	if p.err != nil {
		return
	}
	start := buf.Len()
	node.Format(buf)
	if isFuncNode(node) {
		p.called(buf.String()[start:])
	}
}

// check refuses the node when a string vitess writes unquoted for it is
// not on its closed set. The walk calls it too, for messages that name the
// construct in the text as written.
func (p *printer) check(node sqlparser.SQLNode) {
	switch n := node.(type) {
	case *sqlparser.Literal:
		p.literal(n)
	case *sqlparser.CollateExpr:
		p.collation(n.Collation, "COLLATE")
	case *sqlparser.ConvertUsingExpr:
		p.charset(n.Type, "CONVERT ... USING")
	case *sqlparser.CharExpr:
		if n.Charset != "" {
			p.charset(n.Charset, "CHAR(... USING)")
		}
	case *sqlparser.IntroducerExpr:
		cs, ok := strings.CutPrefix(n.CharacterSet, "_")
		if !ok {
			p.fail(violation("character set introducer without its underscore"))
		} else {
			p.charset(cs, "character set introducer")
		}
	case *sqlparser.ConvertType:
		if !castTypes[strings.ToLower(n.Type)] {
			p.fail(violation("CAST or CONVERT to an unknown type%s", quotedName(n.Type)))
		}
		if n.Charset.Name != "" {
			p.charset(n.Charset.Name, "CAST ... CHARACTER SET")
		}
	case *sqlparser.ColumnType:
		p.columnType(n)
	case *sqlparser.GroupConcatExpr:
		// vitess keeps SEPARATOR already encoded as a quoted literal.
		if n.Separator != "" && !isEncodedString(n.Separator) {
			p.fail(violation("GROUP_CONCAT SEPARATOR that is not a plain string literal"))
		}
	case *sqlparser.FuncExpr:
		if n.Qualifier.NotEmpty() {
			p.fail(violation("stored function call (only built-in functions are allowed)"))
			return
		}
		if r, ok := funcArity[n.Name.Lowered()]; ok && (len(n.Exprs) < r[0] || r[1] >= 0 && len(n.Exprs) > r[1]) {
			p.fail(violation("function %s with %d arguments (on MariaDB only the built-in form with the usual arguments is not a stored-function call)", strings.ToUpper(n.Name.Lowered()), len(n.Exprs)))
		}
	}
}

// literal checks that a literal's text, which vitess writes as it is, is
// what its type allows.
func (p *printer) literal(n *sqlparser.Literal) {
	switch n.Type {
	case sqlparser.DateVal, sqlparser.TimeVal, sqlparser.TimestampVal:
		// vitess writes the content between quotes without escaping it:
		// only the characters of a date or a time may be there.
		if !allIn(n.Val, "0123456789-:. T+Z") {
			p.fail(violation("DATE, TIME or TIMESTAMP literal with characters other than digits, '-', ':', '.', ' ', 'T', '+' and 'Z'"))
		}
	case sqlparser.IntVal:
		// Or a keyword argument the walk put there (keywordLiterals).
		if !allIn(n.Val, "0123456789") && keywordLiterals[strings.ToLower(n.Val)] != n.Val {
			p.fail(violation("malformed integer literal"))
		}
	case sqlparser.FloatVal, sqlparser.DecimalVal:
		if !allIn(n.Val, "0123456789.eE+-") {
			p.fail(violation("malformed number literal"))
		}
	case sqlparser.HexNum:
		if len(n.Val) < 3 || !strings.HasPrefix(n.Val, "0x") || !allIn(n.Val[2:], "0123456789abcdefABCDEF") {
			p.fail(violation("malformed hexadecimal literal"))
		}
	case sqlparser.BitNum:
		if len(n.Val) < 3 || !strings.HasPrefix(n.Val, "0b") || !allIn(n.Val[2:], "01") {
			p.fail(violation("malformed bit literal"))
		}
	case sqlparser.HexVal:
		if n.Val != "" && !allIn(n.Val, "0123456789abcdefABCDEF") {
			p.fail(violation("malformed hexadecimal literal"))
		}
	case sqlparser.StrVal:
		// Written escaped by vitess.
	default:
		p.fail(violation("literal of an unknown kind"))
	}
}

// columnType checks a JSON_TABLE column's type: a known type name, a known
// character set and collation, no ENUM/SET values and no other options.
func (p *printer) columnType(ct *sqlparser.ColumnType) {
	if !castTypes[strings.ToLower(ct.Type)] {
		p.fail(violation("JSON_TABLE column of an unknown type%s", quotedName(ct.Type)))
	}
	if ct.EnumValues != nil {
		p.fail(violation("JSON_TABLE column of type ENUM or SET"))
	}
	if ct.Charset.Name != "" {
		p.charset(ct.Charset.Name, "JSON_TABLE column CHARACTER SET")
	}
	if o := ct.Options; o != nil {
		if o.Collate != "" {
			p.collation(o.Collate, "JSON_TABLE column COLLATE")
		}
		rest := *o
		rest.Collate = ""
		if !sqlparser.Equals.RefOfColumnTypeOptions(&rest, &sqlparser.ColumnTypeOptions{}) {
			p.fail(violation("JSON_TABLE column with options"))
		}
	}
}

// calledFuncs returns the name of every function the text of root calls,
// as printed (lower case), each checked against the dialect's built-ins:
// for a call by name (FuncExpr) the name vitess writes (its Name, bare when
// it is a plain name, else quoted, which is refused); for every other node
// that prints as a call, the word before the parenthesis of its own
// printing. Nodes vitess' Walk does not enter (JSON_TABLE columns) are
// entered here.
func (g *Guard) calledFuncs(root sqlparser.SQLNode) ([]string, error) {
	p := &printer{d: g.policy.Dialect}
	var visit func(node sqlparser.SQLNode) (bool, error)
	var jt func(cols []*sqlparser.JtColumnDefinition)
	jt = func(cols []*sqlparser.JtColumnDefinition) {
		for _, c := range cols {
			switch {
			case c == nil:
			case c.JtPath != nil:
				for _, e := range []sqlparser.Expr{c.JtPath.Path, respExpr(c.JtPath.EmptyOnResponse), respExpr(c.JtPath.ErrorOnResponse)} {
					if e != nil {
						_ = sqlparser.Walk(visit, e)
					}
				}
			case c.JtNestedPath != nil:
				if c.JtNestedPath.Path != nil {
					_ = sqlparser.Walk(visit, c.JtNestedPath.Path)
				}
				jt(c.JtNestedPath.Columns)
			}
		}
	}
	visit = func(node sqlparser.SQLNode) (bool, error) {
		if p.err != nil {
			return false, errStop
		}
		switch n := node.(type) {
		case *sqlparser.FuncExpr:
			if n.Qualifier.NotEmpty() {
				p.fail(violation("stored function call (only built-in functions are allowed)"))
				return false, errStop
			}
			p.called(n.Name.String() + "(")
		case *sqlparser.JSONTableExpr:
			p.called(ownText(n))
			jt(n.Columns)
		default:
			if isFuncNode(node) {
				p.called(ownText(node))
			}
		}
		return true, nil
	}
	_ = sqlparser.Walk(visit, root)
	if p.err != nil {
		return nil, p.err
	}
	// Sorted, each once (as uniq then sort, without uniq's map).
	slices.Sort(p.funcs)
	return slices.Compact(p.funcs), nil
}

// ownText prints node as printFast does but alone: its own keywords,
// punctuation and strings, every child node written as nothing. The word
// before its first parenthesis is the word printFast writes there (a
// function node writes its name before its arguments; a node that wrote a
// child first would leave no plain name, and be refused). Printing each
// node's whole subtree instead made calledFuncs quadratic in the depth of
// a chain of function nodes (8 000 nested BINARY took 25 s); each node's
// own text is printed once, so the cost is linear in the statement.
func ownText(node sqlparser.SQLNode) string {
	root := true
	buf := sqlparser.NewTrackedBuffer(func(buf *sqlparser.TrackedBuffer, n sqlparser.SQLNode) {
		if root {
			root = false
			n.Format(buf)
		}
	})
	buf.SetEscapeAllIdentifiers()
	buf.Myprintf("%v", node)
	return buf.String()
}

// called records the function whose printed text is s: the word before
// the first parenthesis, which is what the server reads as the name.
func (p *printer) called(s string) {
	i := strings.IndexByte(s, '(')
	name := ""
	if i > 0 {
		name = strings.ToLower(s[:i])
	}
	if !isPlainName(name) {
		p.fail(violation("function call printed without a plain name"))
		return
	}
	if !p.d.builtins()[name] {
		p.fail(violation("function %s is not a built-in function of %s on the guard's allow-list", strings.ToUpper(name), p.d))
		return
	}
	p.funcs = append(p.funcs, name)
}

// isEncodedString reports whether s is one single-quoted SQL string as
// sqltypes encodes it (quotes and backslashes escaped).
func isEncodedString(s string) bool {
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return false
	}
	body := s[1 : len(s)-1]
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
			if i == len(body) {
				return false
			}
		case '\'':
			return false
		}
	}
	return true
}

func allIn(s, chars string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(chars, s[i]) < 0 {
			return false
		}
	}
	return true
}
