package sqlguard

import (
	"slices"
	"strconv"
	"strings"

	"vitess.io/vitess/go/vt/sqlparser"
)

// Bounded work (issue 10, finding 4, and the attack review after it).
// MariaDB's pattern functions are quadratic in their subject and check for
// a KILL rarely or never: REGEXP_REPLACE(REPEAT('a', 8000000), 'a', 'bb')
// kept a server thread "Killed" for hours, and
// REGEXP_REPLACE(HEX(HEX(HEX('<40000 a>'))), '3', '33') held one for 45 s
// through a 2 s time limit, KILL QUERY and KILL CONNECTION. The guard
// therefore computes, before anything is sent, a static upper bound of the
// length of every string a statement can generate, and refuses what could
// feed a pattern function more than a small bound. Default deny: only what
// the table below models is bounded.
//
// # The bound
//
// The length (in characters) of every expression is bounded by n + k·D,
// where D is the longest value a table column holds ("data": reading it
// costs the server time the time limit bounds), or is opaque: of a length
// the guard does not bound. The bound of
//   - a literal is its length (a number's text at most numLen, a date's at
//     most timeLen; X'..', 0x.., B'..', _charset'..' and N'..' forms their
//     byte length);
//   - a column of a table is D (n=0, k=1);
//   - a column of a derived table, a CTE, a JSON_TABLE or a select-list
//     alias is D joined with the bound of every expression anywhere in the
//     statement that defines a column of that name (select expressions by
//     alias or column name, CTE and derived-table column lists, JSON_TABLE
//     columns); an unaliased expression that is not a column or a literal
//     defines a column named after its own text, which any column name
//     that is not a plain ASCII name ([a-z0-9_$]) may match, and a name
//     with non-ASCII letters (which MariaDB's collations fold onto ASCII
//     ones) matches every name. The definitions are solved by iteration to
//     a fixpoint; a name still growing after fixRounds rounds (a recursive
//     CTE that concatenates, a chain of derived tables deeper than that) is
//     opaque from then on;
//   - a * in a select list, a scalar subquery: the join of all of the
//     above;
//   - each function or operator: a formula of its arguments' bounds
//     (lenOfFunc: CONCAT adds, REPEAT multiplies by its literal count, HEX
//     multiplies by 8 (two hexadecimal digits per byte, up to four bytes a
//     character), TO_BASE64 by 6, QUOTE by 2, JSON_QUOTE by 6, EXPORT_SET
//     by 64, REPLACE by the ratio of its replacement to its search string,
//     numbers and dates are short, ...). Any function or node not in that
//     table is opaque, as are the aggregates that concatenate rows
//     (GROUP_CONCAT, JSON_ARRAYAGG, JSON_OBJECTAGG), decompression and
//     geometry output.
//
// # The rules
//
//   - Pattern functions (LIKE, REGEXP/RLIKE, REGEXP_INSTR, REGEXP_LIKE,
//     REGEXP_REPLACE, REGEXP_SUBSTR, INSTR, LOCATE, POSITION, REPLACE,
//     SUBSTRING_INDEX, FIND_IN_SET, MEMBER OF, JSON_SEARCH, JSON_CONTAINS,
//     JSON_CONTAINS_PATH, JSON_OVERLAPS): every argument's bound must not be
//     opaque, with n at most MaxPatternLength and k at most
//     MaxPatternCopies. Table data itself is searched as it is (D is left
//     to the time limit, as documented in sqlexec).
//   - Every function call's output: n at most MaxBuiltLength and k at most
//     MaxBuiltCopies (an opaque output is bounded by the server's
//     max_allowed_packet and only ever copied, never searched).
//   - REPEAT(s, n), SPACE(n), LPAD(s, n, p), RPAD(s, n, p): n must be an
//     integer literal of at most MaxGeneratedLength; INSERT(s, pos, len,
//     new): len likewise; the sum of those literals over the whole
//     statement at most MaxGeneratedTotal.
const (
	MaxGeneratedLength = 10000
	MaxGeneratedTotal  = 100000
	MaxBuiltLength     = 100000
	MaxBuiltCopies     = 1024
	MaxPatternLength   = 4096
	MaxPatternCopies   = 16
)

const (
	numLen  = 100 // the text of any number: DECIMAL(65,30), a double, a BIGINT
	timeLen = 64  // the text of a date, a time, a name of a day or month
	inf     = uint64(1) << 60
	// fixRounds bounds the fixpoint iteration over column names.
	fixRounds = 6
)

// bound is an upper bound n + k·D of a string's length, or opaque.
type bound struct {
	n, k   uint64
	opaque bool
}

var (
	dataB   = bound{k: 1}
	numB    = bound{n: numLen}
	timeB   = bound{n: timeLen}
	opaqueB = bound{opaque: true}
)

func sat(x uint64) uint64 { return min(x, inf) }

func satMul(x, c uint64) uint64 {
	if x == 0 || c == 0 {
		return 0
	}
	if x >= inf/c {
		return inf
	}
	return x * c
}

func (a bound) add(b bound) bound {
	return bound{n: sat(a.n + b.n), k: sat(a.k + b.k), opaque: a.opaque || b.opaque}
}

func (a bound) join(b bound) bound {
	return bound{n: max(a.n, b.n), k: max(a.k, b.k), opaque: a.opaque || b.opaque}
}

func (a bound) mul(c uint64) bound {
	return bound{n: satMul(a.n, c), k: satMul(a.k, c), opaque: a.opaque}
}

func (a bound) plus(c uint64) bound { return bound{n: sat(a.n + c), k: a.k, opaque: a.opaque} }

func (a bound) String() string {
	if a.opaque {
		return "unbounded"
	}
	s := strconv.FormatUint(a.n, 10)
	if a.n >= inf {
		s = "unbounded"
	}
	if a.k > 0 {
		s += " + " + strconv.FormatUint(a.k, 10) + "×(longest table value)"
	}
	return s
}

// lengthArg names, per string-building function, which argument is a length.
var lengthArg = map[string]int{"repeat": 1, "space": 0, "lpad": 1, "rpad": 1}

// funcName is the lower-case name of a function-like node for the literal
// length rules, or "".
func funcName(node sqlparser.SQLNode) string {
	switch n := node.(type) {
	case *sqlparser.FuncExpr:
		return n.Name.Lowered()
	case *sqlparser.InsertExpr:
		return "insert"
	}
	return ""
}

// checkBounds applies the literal-length rules to one node the walk
// visits; total accumulates the length literals of the statement.
func (g *Guard) checkBounds(node sqlparser.SQLNode, total *uint64) error {
	if err := checkOutputLengths(node, total); err != nil {
		return err
	}
	name := funcName(node)
	if name == "" {
		return nil
	}
	if i, ok := lengthArg[name]; ok {
		f := node.(*sqlparser.FuncExpr)
		if i >= len(f.Exprs) {
			return nil // the server refuses the call
		}
		return lengthLiteral(name, f.Exprs[i], total)
	}
	if ins, ok := node.(*sqlparser.InsertExpr); ok {
		return lengthLiteral(name, ins.Len, total)
	}
	return nil
}

func lengthLiteral(name string, e sqlparser.Expr, total *uint64) error {
	n, ok := intLiteral(e)
	if !ok || n > MaxGeneratedLength {
		return violation("%s length must be an integer literal of at most %d", strings.ToUpper(name), MaxGeneratedLength)
	}
	*total += n
	if *total > MaxGeneratedTotal {
		return violation("the statement generates strings longer than %d characters in all (REPEAT, SPACE, LPAD, RPAD, INSERT)", MaxGeneratedTotal)
	}
	return nil
}

func intLiteral(e sqlparser.Expr) (uint64, bool) {
	lit, ok := e.(*sqlparser.Literal)
	if !ok || lit.Type != sqlparser.IntVal {
		return 0, false
	}
	n, err := strconv.ParseUint(lit.Val, 10, 64)
	return n, err == nil
}

// strLiteral returns the value of a plain string literal (possibly under
// an introducer or COLLATE).
func strLiteral(e sqlparser.Expr) (string, bool) {
	switch n := e.(type) {
	case *sqlparser.Literal:
		return n.Val, n.Type == sqlparser.StrVal
	case *sqlparser.IntroducerExpr:
		return strLiteral(n.Expr)
	case *sqlparser.CollateExpr:
		return strLiteral(n.Expr)
	}
	return "", false
}

// needsLengths reports whether node is a pattern function or a function
// whose output can be longer than its longest argument: only statements
// with one of these need the length analysis.
func needsLengths(node sqlparser.SQLNode) bool {
	switch n := node.(type) {
	case *sqlparser.FuncExpr:
		switch funcTable[n.Name.Lowered()].kind {
		case fNum, fTime, fMax, fMaxFrom1, fMaxFirst, fShrink:
			return patternFuncs[n.Name.Lowered()]
		}
		return true
	case *sqlparser.ComparisonExpr:
		switch n.Operator {
		case sqlparser.RegexpOp, sqlparser.NotRegexpOp, sqlparser.LikeOp, sqlparser.NotLikeOp:
			return true
		}
	case *sqlparser.InsertExpr, *sqlparser.LocateExpr, *sqlparser.RegexpReplaceExpr,
		*sqlparser.RegexpInstrExpr, *sqlparser.RegexpLikeExpr, *sqlparser.RegexpSubstrExpr,
		*sqlparser.CharExpr, *sqlparser.MemberOfExpr, *sqlparser.JSONArrayExpr,
		*sqlparser.JSONObjectExpr, *sqlparser.JSONQuoteExpr, *sqlparser.JSONValueMergeExpr,
		*sqlparser.JSONValueModifierExpr, *sqlparser.JSONSearchExpr, *sqlparser.JSONContainsExpr,
		*sqlparser.JSONContainsPathExpr, *sqlparser.JSONOverlapsExpr, *sqlparser.UpdateXMLExpr,
		*sqlparser.WeightStringFuncExpr, *sqlparser.JSONPrettyExpr, *sqlparser.JSONExtractExpr,
		*sqlparser.ExtractValueExpr,
		*sqlparser.JSONKeysExpr, *sqlparser.JSONRemoveExpr, *sqlparser.JSONValueExpr:
		return true
	}
	return false
}

// patternFuncs are the FuncExpr pattern functions; the pattern nodes of
// their own types are named in lengths.check.
var patternFuncs = map[string]bool{
	"instr": true, "locate": true, "position": true, "replace": true,
	"substring_index": true, "find_in_set": true, "regexp_instr": true,
	"regexp_like": true, "regexp_substr": true, "regexp_replace": true,
	"json_search": true, "json_contains": true, "json_contains_path": true,
	"json_overlaps": true, "json_exists": true, "json_equals": true,
}

// lengths is the analysis of one statement.
type lengths struct {
	// defs: column name (ASCII lower case, or keyUnusual, keyWild) →
	// the expressions that define a column of that name.
	defs   map[string][]sqlparser.Expr
	order  []string // the keys of defs, in the order first defined
	groups map[*sqlparser.ColName]string
	vals   map[string]bound
	frozen map[string]bool
	allB   bound // join of every name's bound
	// steps sums the pattern calls' matching-step bounds (regex.go).
	steps float64
	// dataLen is Policy.MaxDataLength.
	dataLen uint64
}

const (
	keyUnusual = "\x00unusual"
	keyWild    = "\x00wild"
)

// nameKey classifies a column name: a plain ASCII name (lower case), or
// keyUnusual (other ASCII), or keyWild (non-ASCII, or longer than 64
// characters: the server may fold, truncate or rename those). Leading and
// trailing white space is dropped first (MariaDB removes leading spaces
// from a column name).
func nameKey(s string) string {
	s = strings.TrimSpace(s)
	if !isASCII(s) || len(s) > 64 {
		return keyWild
	}
	if s == "" {
		return keyUnusual
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '$':
		default:
			return keyUnusual
		}
	}
	return string(b)
}

func (l *lengths) define(name string, e sqlparser.Expr) {
	l.addDef(nameKey(name), e)
}

func (l *lengths) addDef(key string, es ...sqlparser.Expr) {
	if _, ok := l.defs[key]; !ok {
		l.order = append(l.order, key)
	}
	l.defs[key] = append(l.defs[key], es...)
}

// selectExprs returns the expressions a table statement's columns are
// made of (every UNION branch; a * as a *sqlparser.StarExpr stand-in).
func selectExprs(ts sqlparser.TableStatement, out []sqlparser.Expr) []sqlparser.Expr {
	switch s := ts.(type) {
	case *sqlparser.Select:
		for _, se := range s.SelectExprs.Exprs {
			switch x := se.(type) {
			case *sqlparser.AliasedExpr:
				out = append(out, x.Expr)
			default:
				out = append(out, starExpr)
			}
		}
	case *sqlparser.Union:
		out = selectExprs(s.Left, out)
		out = selectExprs(s.Right, out)
	case *sqlparser.ValuesStatement:
		for _, row := range s.Rows {
			out = append(out, row...)
		}
	default:
		out = append(out, starExpr)
	}
	return out
}

// starExpr stands for "every column of the statement": a column reference
// no definition can be named after.
var starExpr sqlparser.Expr = &sqlparser.ColName{Name: sqlparser.NewIdentifierCI("\x00*")}

// collect registers every column definition of the statement.
func (l *lengths) collect(root sqlparser.SQLNode) {
	_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
		switch n := node.(type) {
		case *sqlparser.Select:
			for _, se := range n.SelectExprs.Exprs {
				ae, ok := se.(*sqlparser.AliasedExpr)
				if !ok {
					continue // a *: its columns are defined where they come from
				}
				switch {
				case ae.As.NotEmpty():
					l.define(ae.As.String(), ae.Expr)
				default:
					switch x := ae.Expr.(type) {
					case *sqlparser.ColName:
						l.define(x.Name.String(), x)
					case *sqlparser.Literal, *sqlparser.IntroducerExpr, *sqlparser.UnaryExpr,
						*sqlparser.CollateExpr, *sqlparser.NullVal, sqlparser.BoolVal:
						// Named after their value, which may be any
						// name, truncated: every name may match them.
						l.addDef(keyWild, x)
					default:
						l.addDef(keyUnusual, x)
					}
				}
			}
		case *sqlparser.Union:
			l.union(n)
		case *sqlparser.ValuesStatement:
			// Its columns are named column_0, column_1, ...
			for _, row := range n.Rows {
				l.addDef(keyWild, row...)
			}
		case *sqlparser.CommonTableExpr:
			if len(n.Columns) > 0 {
				g := l.group(selectExprs(n.Subquery, nil))
				for _, c := range n.Columns {
					l.define(c.String(), g)
				}
			}
		case *sqlparser.AliasedTableExpr:
			if dt, ok := n.Expr.(*sqlparser.DerivedTable); ok && len(n.Columns) > 0 {
				g := l.group(selectExprs(dt.Select, nil))
				for _, c := range n.Columns {
					l.define(c.String(), g)
				}
			}
		case *sqlparser.JSONTableExpr:
			l.jtColumns(n.Expr, n.Columns)
		}
		return true, nil
	}, root)
}

// group defines a name of its own for es and returns a reference to it:
// many names defined by the same many expressions cost one definition
// each, not one per expression (the guard's work stays linear).
func (l *lengths) group(es []sqlparser.Expr) sqlparser.Expr {
	key := "\x00group" + strconv.Itoa(len(l.order))
	l.addDef(key, es...)
	ref := &sqlparser.ColName{Name: sqlparser.NewIdentifierCI(key)}
	if l.groups == nil {
		l.groups = map[*sqlparser.ColName]string{}
	}
	l.groups[ref] = key
	return ref
}

// union defines the columns of a UNION, named by its first SELECT, with
// the expressions of every branch: at the same position, or, when a
// branch has a *, at every position.
func (l *lengths) union(u *sqlparser.Union) {
	var branches []sqlparser.TableStatement
	var flat func(ts sqlparser.TableStatement)
	flat = func(ts sqlparser.TableStatement) {
		if v, ok := ts.(*sqlparser.Union); ok {
			flat(v.Left)
			flat(v.Right)
			return
		}
		branches = append(branches, ts)
	}
	flat(u)
	first, ok := branches[0].(*sqlparser.Select)
	if !ok {
		return // VALUES: its columns are wild already
	}
	cols := make([][]sqlparser.Expr, len(branches))
	star := false
	for i, b := range branches {
		cols[i] = selectExprs(b, nil)
		star = star || slices.Contains(cols[i], starExpr) || len(cols[i]) != len(cols[0])
	}
	var all sqlparser.Expr // with a *: one group of every expression
	if star {
		var es []sqlparser.Expr
		for _, c := range cols[1:] {
			es = append(es, c...)
		}
		all = l.group(es)
	}
	for pos, se := range first.SelectExprs.Exprs {
		ae, ok := se.(*sqlparser.AliasedExpr)
		if !ok {
			continue // a *: star is set
		}
		key := keyUnusual
		switch x := ae.Expr.(type) {
		case *sqlparser.Literal, *sqlparser.IntroducerExpr, *sqlparser.UnaryExpr,
			*sqlparser.CollateExpr, *sqlparser.NullVal, sqlparser.BoolVal:
			key = keyWild
		case *sqlparser.ColName:
			key = nameKey(x.Name.String())
		}
		if ae.As.NotEmpty() {
			key = nameKey(ae.As.String())
		}
		if star {
			l.addDef(key, all)
			continue
		}
		for _, c := range cols[1:] {
			if pos < len(c) {
				l.addDef(key, c[pos])
			}
		}
	}
}

// jtColumns defines JSON_TABLE's columns: each value is a piece of the
// document, re-serialized (jsonOut).
func (l *lengths) jtColumns(doc sqlparser.Expr, cols []*sqlparser.JtColumnDefinition) {
	val := &sqlparser.JSONValueExpr{JSONDoc: doc}
	for _, c := range cols {
		switch {
		case c == nil:
		case c.JtOrdinal != nil:
			l.define(c.JtOrdinal.Name.String(), sqlparser.NewIntLiteral("0"))
		case c.JtPath != nil:
			l.define(c.JtPath.Name.String(), val)
			for _, r := range []*sqlparser.JtOnResponse{c.JtPath.EmptyOnResponse, c.JtPath.ErrorOnResponse} {
				if r != nil && r.Expr != nil {
					l.define(c.JtPath.Name.String(), r.Expr)
				}
			}
		case c.JtNestedPath != nil:
			l.jtColumns(doc, c.JtNestedPath.Columns)
		}
	}
}

// solve iterates the definitions to a fixpoint. Each round updates the
// names in place, in the order they were defined and then backwards (a
// chain of CTEs is written in order, a nest of derived tables the other
// way round: either settles in one round). From round fixRounds on, a
// name whose bound still changes is opaque and frozen; should names still
// be settling after 3·fixRounds rounds, all are opaque. A frozen name keeps
// the n and k it reached, so that a string built from it that already
// exceeds the builders' bound is still refused (the rest of an opaque
// length is bounded by the server's max_allowed_packet, and never
// searched).
func (l *lengths) solve() {
	l.vals, l.frozen = map[string]bound{}, map[string]bool{}
	update := func(key string, round int) bool {
		if l.frozen[key] {
			return false
		}
		b := bound{}
		for _, e := range l.defs[key] {
			b = b.join(l.of(e))
		}
		if b == l.vals[key] {
			return false
		}
		if round >= fixRounds {
			// Opaque from now on; n and k keep what the rounds
			// reached, for the builders' check.
			b.opaque = true
			l.frozen[key] = true
		}
		l.vals[key] = b
		l.allB = l.allB.join(b)
		return true
	}
	for round := 0; ; round++ {
		changed := false
		for _, key := range l.order {
			changed = update(key, round) || changed
		}
		for i := len(l.order) - 1; i >= 0; i-- {
			changed = update(l.order[i], round) || changed
		}
		if !changed {
			return
		}
		if round >= 3*fixRounds {
			// A long chain of names still settling: every name is
			// opaque (the guard's own work stays bounded).
			for k, b := range l.vals {
				b.opaque = true
				l.vals[k] = b
			}
			l.allB.opaque = true
			return
		}
	}
}

// colBound is the bound of a column reference: table data, or any
// definition of its name (see the package comment).
func (l *lengths) colBound(c *sqlparser.ColName) bound {
	if c == starExpr {
		return dataB.join(l.allB)
	}
	if key, ok := l.groups[c]; ok {
		return l.vals[key] // a group: known by its pointer, never by a name
	}
	b := dataB.join(l.vals[keyWild])
	switch key := nameKey(c.Name.String()); key {
	case keyWild:
		return b.join(l.allB)
	default:
		return b.join(l.vals[key])
	}
}

// of is the bound of an expression's length.
func (l *lengths) of(e sqlparser.Expr) bound {
	switch n := e.(type) {
	case nil:
		return bound{}
	case *sqlparser.ColName:
		return l.colBound(n)
	case *sqlparser.Literal:
		switch n.Type {
		case sqlparser.StrVal:
			return bound{n: uint64(len(n.Val))}
		case sqlparser.HexVal, sqlparser.HexNum, sqlparser.BitNum:
			return bound{n: uint64(len(n.Val))}.join(numB)
		case sqlparser.DateVal, sqlparser.TimeVal, sqlparser.TimestampVal:
			return timeB
		default:
			return bound{n: uint64(len(n.Val))}.join(numB)
		}
	case *sqlparser.NullVal, sqlparser.BoolVal:
		return numB
	case *sqlparser.Variable:
		// A system variable (user variables are refused): configuration
		// an administrator set, bounded like table data.
		return dataB
	case *sqlparser.IntroducerExpr:
		return l.of(n.Expr)
	case *sqlparser.CollateExpr:
		return l.of(n.Expr)
	case *sqlparser.UnaryExpr:
		if n.Operator == sqlparser.NStringOp {
			return l.of(n.Expr)
		}
		return numB
	case *sqlparser.BinaryExpr, *sqlparser.ComparisonExpr, *sqlparser.AndExpr, *sqlparser.OrExpr,
		*sqlparser.XorExpr, *sqlparser.NotExpr, *sqlparser.IsExpr, *sqlparser.BetweenExpr,
		*sqlparser.ExistsExpr, *sqlparser.MemberOfExpr:
		return numB
	case *sqlparser.CaseExpr:
		b := numB
		for _, w := range n.Whens {
			b = b.join(l.of(w.Val))
		}
		return b.join(l.of(n.Else))
	case *sqlparser.Subquery:
		b := numB
		for _, x := range selectExprs(n.Select, nil) {
			b = b.join(l.of(x))
		}
		return b
	case sqlparser.ValTuple:
		b := numB
		for _, x := range n {
			b = b.join(l.of(x))
		}
		return b
	case *sqlparser.FuncExpr:
		return l.ofFunc(n.Name.Lowered(), n.Exprs)
	case *sqlparser.CastExpr:
		return l.converted(l.of(n.Expr), n.Type, n.Array)
	case *sqlparser.ConvertExpr:
		return l.converted(l.of(n.Expr), n.Type, false)
	case *sqlparser.ConvertUsingExpr:
		if strings.EqualFold(n.Type, "binary") {
			// Characters become bytes: up to four each.
			return l.of(n.Expr).mul(4)
		}
		return l.of(n.Expr)
	case *sqlparser.CurTimeFuncExpr, *sqlparser.IntervalDateExpr:
		return timeB
	case *sqlparser.IntervalFuncExpr, *sqlparser.ExtractFuncExpr, *sqlparser.TimestampDiffExpr,
		*sqlparser.LocateExpr, *sqlparser.MatchExpr, *sqlparser.RegexpInstrExpr,
		*sqlparser.RegexpLikeExpr, *sqlparser.JSONContainsExpr, *sqlparser.JSONContainsPathExpr,
		*sqlparser.JSONOverlapsExpr, *sqlparser.JSONStorageFreeExpr, *sqlparser.JSONStorageSizeExpr,
		*sqlparser.JSONSchemaValidFuncExpr, *sqlparser.JSONAttributesExpr, *sqlparser.PerformanceSchemaFuncExpr,
		*sqlparser.Count, *sqlparser.CountStar, *sqlparser.Sum, *sqlparser.Avg, *sqlparser.BitAnd,
		*sqlparser.BitOr, *sqlparser.BitXor, *sqlparser.Std, *sqlparser.StdDev, *sqlparser.StdPop,
		*sqlparser.StdSamp, *sqlparser.VarPop, *sqlparser.VarSamp, *sqlparser.Variance,
		*sqlparser.ArgumentLessWindowExpr, *sqlparser.NtileExpr, *sqlparser.PointPropertyFuncExpr:
		return numB
	case *sqlparser.JSONPrettyExpr:
		return l.of(n.JSONVal).mul(jsonPrettyFactor)
	case *sqlparser.TrimFuncExpr:
		return l.of(n.StringArg)
	case *sqlparser.SubstrExpr:
		return l.of(n.Name)
	case *sqlparser.InsertExpr:
		return l.of(n.Str).add(l.of(n.NewStr))
	case *sqlparser.CharExpr:
		return bound{n: satMul(uint64(len(n.Exprs)), 4)}
	case *sqlparser.RegexpSubstrExpr:
		return l.of(n.Expr)
	case *sqlparser.RegexpReplaceExpr:
		return l.regexpReplace(l.of(n.Expr), n.Repl)
	case *sqlparser.ExtractValueExpr:
		return l.of(n.Fragment)
	case *sqlparser.UpdateXMLExpr:
		return l.of(n.Target).add(l.of(n.NewXML))
	case *sqlparser.JSONQuoteExpr:
		return l.of(n.StringArg).mul(6).plus(2)
	case *sqlparser.JSONUnquoteExpr:
		return l.of(n.JSONValue)
	case *sqlparser.JSONExtractExpr:
		return l.jsonPaths(l.of(n.JSONDoc), n.PathList)
	case *sqlparser.JSONValueExpr:
		b := jsonOut(l.of(n.JSONDoc))
		for _, r := range []*sqlparser.JtOnResponse{n.EmptyOnResponse, n.ErrorOnResponse} {
			if r != nil {
				b = b.join(l.of(r.Expr))
			}
		}
		if n.ReturningType != nil {
			b = l.converted(b, n.ReturningType, false)
		}
		return b
	case *sqlparser.JSONKeysExpr, *sqlparser.JSONRemoveExpr:
		var doc sqlparser.Expr
		if k, ok := n.(*sqlparser.JSONKeysExpr); ok {
			doc = k.JSONDoc
		} else {
			doc = n.(*sqlparser.JSONRemoveExpr).JSONDoc
		}
		return jsonOut(l.of(doc))
	case *sqlparser.JSONArrayExpr:
		return l.jsonBuild(n.Params...)
	case *sqlparser.JSONObjectExpr:
		var es []sqlparser.Expr
		for _, p := range n.Params {
			es = append(es, p.Key, p.Value)
		}
		return l.jsonBuild(es...)
	case *sqlparser.JSONValueMergeExpr:
		return l.jsonBuild(append([]sqlparser.Expr{n.JSONDoc}, n.JSONDocList...)...)
	case *sqlparser.JSONValueModifierExpr:
		es := []sqlparser.Expr{n.JSONDoc}
		for _, p := range n.Params {
			es = append(es, p.Value)
		}
		return l.jsonBuild(es...)
	case *sqlparser.Max:
		return l.of(n.Arg)
	case *sqlparser.Min:
		return l.of(n.Arg)
	case *sqlparser.AnyValue:
		return l.of(n.Arg)
	case *sqlparser.LagLeadExpr:
		return l.of(n.Expr).join(l.of(n.Default))
	case *sqlparser.FirstOrLastValueExpr:
		return l.of(n.Expr)
	case *sqlparser.NTHValueExpr:
		return l.of(n.Expr)
	}
	// GROUP_CONCAT, JSON_ARRAYAGG, JSON_OBJECTAGG, JSON_PRETTY,
	// JSON_SEARCH, WEIGHT_STRING, geometry, system variables, and any node
	// this table does not know.
	return opaqueB
}

// converted is the bound of CAST/CONVERT of a value of bound b to t.
func (l *lengths) converted(b bound, t *sqlparser.ConvertType, array bool) bound {
	if t == nil || array {
		return opaqueB
	}
	// CHAR(N) and BINARY(N) cut the value to N characters or bytes: the
	// bound is the smaller of N and the value's own.
	upTo := func(b bound) bound {
		if t.Length != nil && *t.Length >= 0 && (b.opaque || b.n >= uint64(*t.Length)) {
			return bound{n: uint64(*t.Length)}
		}
		return b
	}
	switch strings.ToLower(t.Type) {
	case "char", "nchar", "varchar", "text", "tinytext", "mediumtext", "longtext":
		return upTo(b)
	case "binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob":
		// Up to four bytes a character.
		return upTo(b.mul(4))
	case "json":
		return b.mul(6).plus(2)
	case "date", "datetime", "time", "timestamp", "year":
		return timeB
	}
	return numB.join(bound{n: 70})
}

// regexpReplace bounds REGEXP_REPLACE(s, pattern, repl): every match,
// possibly empty, adds repl; a repl that can refer to groups (\N, $N)
// adds up to the subject per match.
func (l *lengths) regexpReplace(s bound, repl sqlparser.Expr) bound {
	r := l.of(repl)
	if r.opaque || s.opaque {
		return opaqueB
	}
	if v, ok := strLiteral(repl); ok && !strings.ContainsAny(v, `\$`) {
		// |s| + (|s|+1)·|r|, r a literal (k = 0).
		return s.add(s.plus(1).mul(r.n))
	}
	if s.k > 0 || r.k > 0 {
		return opaqueB
	}
	return bound{n: sat(s.n + satMul(s.n+1, sat(r.n+satMul(r.n, s.n))))}
}

// jsonPaths bounds JSON_EXTRACT(doc, path...): each path a piece of the
// document, re-serialized; a wildcard path can return nested values many
// times over.
func (l *lengths) jsonPaths(doc bound, paths []sqlparser.Expr) bound {
	for _, p := range paths {
		v, ok := strLiteral(p)
		if !ok || strings.Contains(v, "*") {
			return opaqueB
		}
	}
	return jsonOut(doc).mul(uint64(max(1, len(paths)))).plus(2)
}

// jsonOut bounds a JSON value taken from a document of bound doc and
// written again: MySQL re-serializes it (", " and ": " separators, a double
// 1e15 written 1000000000000000.0): at most 5 characters a character.
func jsonOut(doc bound) bound { return doc.mul(5).plus(4) }

// jsonBuild bounds a JSON value built from es: each string quoted and
// escaped (at most 6 characters a character), with punctuation.
func (l *lengths) jsonBuild(es ...sqlparser.Expr) bound {
	b := bound{n: 2}
	for _, e := range es {
		b = b.add(l.of(e).mul(6).plus(4))
	}
	return b
}

// Function kinds of funcTable.
const (
	fOpaque   = iota // not modelled: opaque
	fNum             // a number or a short fixed text
	fTime            // a date, a time, a day or month name
	fMax             // at most the longest argument
	fMaxFrom1        // at most the longest argument after the first (ELT, IF)
	fMaxFirst        // at most the first argument
	fShrink          // at most the first argument (UNHEX, FROM_BASE64, ...)
	fSum             // at most the sum of the arguments (CONCAT, MAKE_SET, ...)
	fFormat          // a date format: at most 64 characters a format character
	fSpecial         // computed in ofFunc
)

type funcLen struct {
	kind int
}

// funcTable: how long the result of each built-in called by name can be.
// A name not here is opaque.
var funcTable = map[string]funcLen{}

func init() {
	set := func(kind int, names string) {
		for _, f := range strings.Fields(names) {
			funcTable[f] = funcLen{kind: kind}
		}
	}
	set(fNum, `abs acos asin atan atan2 ceil ceiling cos cot crc32 crc32c degrees exp floor
		ln log log10 log2 mod pi pow power radians rand round sign sin sqrt tan truncate
		ascii bit_length char_length character_length length lengthb octet_length ord field
		find_in_set instr locate position strcmp bit_count inet_aton is_ipv4 is_ipv6
		is_ipv4_compat is_ipv4_mapped uncompressed_length coercibility datediff day dayofmonth
		dayofweek dayofyear hour microsecond minute month quarter second time_to_sec to_days
		to_seconds unix_timestamp week weekday weekofyear year yearweek period_add period_diff
		timestampdiff interval count sum avg bit_and bit_or bit_xor std stddev stddev_pop
		stddev_samp var_pop var_samp variance row_number rank dense_rank percent_rank cume_dist
		ntile json_contains json_contains_path json_depth json_length json_overlaps json_valid
		json_equals json_exists json_type regexp_instr regexp_like match is_uuid grouping
		json_storage_size json_storage_free json_schema_valid median
		conv bin oct get_format md5 sha sha1 uuid sys_guid bin_to_uuid
		uuid_to_bin inet_ntoa inet6_ntoa inet6_aton isnull collation charset column_exists
		column_check format_bytes format_pico_time chr`)
	set(fTime, `adddate addtime convert_tz curdate current_date current_time current_timestamp
		curtime date date_add date_sub from_days last_day localtime localtimestamp makedate
		maketime now sec_to_time str_to_date subdate subtime sysdate time timediff timestamp
		timestampadd utc_date utc_time utc_timestamp add_months dayname monthname`)
	set(fMax, `greatest least coalesce ifnull nvl min max any_value first_value last_value
		nth_value lag lead`)
	set(fMaxFrom1, `elt if nvl2`)
	set(fMaxFirst, `nullif substr substring left right mid ltrim rtrim trim reverse lower
		upper lcase ucase substring_index regexp_substr json_unquote extractvalue
		aes_decrypt json_compact`)
	set(fShrink, `unhex from_base64`)
	set(fSum, `concat make_set updatexml insert`)
	set(fFormat, `date_format time_format to_char from_unixtime`)
	set(fSpecial, `random_bytes sha2 repeat space lpad rpad concat_ws export_set hex to_base64 quote replace
		regexp_replace format soundex char aes_encrypt compress natural_sort_key
		json_quote json_array json_object json_array_append json_array_insert json_insert
		json_replace json_set json_remove json_merge json_merge_patch json_merge_preserve
		json_extract json_value json_query json_keys json_loose json_pretty json_detailed`)
	// Opaque by design: group_concat json_arrayagg json_objectagg
	// json_search sformat column_* geometry
	// output, and every name not listed. (UNCOMPRESS is refused:
	// functions.go.)
}

// jsonPrettyFactor bounds JSON_PRETTY's and JSON_DETAILED's output per
// byte of input: each value on its own line, indented by up to 8 spaces
// (MariaDB clamps the tab size to 8) for each of at most 32 levels of
// nesting (deeper documents are NULL). Measured on MariaDB 10.11: a
// 20 kB array 30 deep printed 2.4 MB (121 times) with a tab size of 8 or
// of 1000. Left opaque (bounded only by max_allowed_packet) it let a 60 kB
// statement ask for gigabytes as UNCOMPRESS did: a thousand calls over
// one derived-table literal.
const jsonPrettyFactor = 2 + 32*8

// ofFunc is the bound of a call of the built-in name with args.
func (l *lengths) ofFunc(name string, args []sqlparser.Expr) bound {
	arg := func(i int) bound {
		if i < len(args) {
			return l.of(args[i])
		}
		return bound{}
	}
	all := func(from int) (sum, mx bound) {
		for i := from; i < len(args); i++ {
			b := l.of(args[i])
			sum, mx = sum.add(b), mx.join(b)
		}
		return sum, mx
	}
	f, ok := funcTable[name]
	if !ok {
		return opaqueB
	}
	switch f.kind {
	case fNum:
		return numB
	case fTime:
		return timeB
	case fMax:
		_, mx := all(0)
		return mx.join(numB)
	case fMaxFrom1:
		_, mx := all(1)
		return mx.join(numB)
	case fMaxFirst, fShrink:
		return arg(0).join(numB)
	case fSum:
		// MAKE_SET adds a comma between two strings.
		sum, _ := all(0)
		return sum.plus(uint64(len(args))).join(numB)
	case fFormat:
		if name == "from_unixtime" && len(args) < 2 {
			return timeB
		}
		return arg(1).mul(64).plus(timeLen)
	}
	switch name {
	case "repeat":
		n, ok := intLiteral(argAt(args, 1))
		if !ok {
			return opaqueB
		}
		return arg(0).mul(n)
	case "space":
		n, ok := intLiteral(argAt(args, 0))
		if !ok {
			return opaqueB
		}
		return bound{n: n}
	case "lpad", "rpad":
		n, ok := intLiteral(argAt(args, 1))
		if !ok {
			return opaqueB
		}
		return bound{n: n}
	case "json_pretty", "json_detailed":
		return arg(0).mul(jsonPrettyFactor)
	case "concat_ws":
		// The separator between each two of the others.
		sum, _ := all(1)
		return sum.add(arg(0).mul(uint64(max(0, len(args)-2))))
	case "export_set":
		// Up to 64 bits, each its on or off string, with a separator.
		on, off, sep := arg(1), arg(2), bound{n: 1}
		if len(args) > 3 {
			sep = arg(3)
		}
		return on.join(off).add(sep).mul(64)
	case "hex":
		return arg(0).mul(8).join(numB)
	case "to_base64":
		// 4 characters per 3 bytes, up to 4 bytes a character, newlines.
		return arg(0).mul(6).plus(4)
	case "quote":
		return arg(0).mul(2).plus(4)
	case "json_quote":
		return arg(0).mul(6).plus(2)
	case "replace":
		return l.replace(args)
	case "regexp_replace":
		return l.regexpReplace(arg(0), argAt(args, 2))
	case "random_bytes":
		return bound{n: 1024}
	case "sha2":
		return bound{n: 128}
	case "format":
		// A number with thousands separators and up to 38 decimals.
		return bound{n: 512}
	case "soundex":
		return arg(0).plus(4)
	case "char":
		return bound{n: satMul(uint64(len(args)), 4)}
	case "aes_encrypt", "compress":
		return arg(0).mul(2).plus(64)
	case "natural_sort_key":
		return arg(0).mul(2).plus(2)
	case "json_extract", "json_query":
		if len(args) == 0 {
			return bound{}
		}
		return l.jsonPaths(arg(0), args[1:])
	case "json_value", "json_keys", "json_loose", "json_remove":
		return jsonOut(arg(0))
	}
	// JSON builders and modifiers.
	return l.jsonBuild(args...)
}

func argAt(args []sqlparser.Expr, i int) sqlparser.Expr {
	if i < len(args) {
		return args[i]
	}
	return nil
}

// replace bounds REPLACE(s, from, to): every match of from (at least one
// character: an empty from leaves s as it is) becomes to.
func (l *lengths) replace(args []sqlparser.Expr) bound {
	if len(args) != 3 {
		return opaqueB
	}
	s, to := l.of(args[0]), l.of(args[2])
	if to.opaque || to.k > 0 {
		// A replacement of data length per character of s.
		if s.k > 0 || to.opaque {
			return opaqueB
		}
		return bound{n: sat(s.n + satMul(s.n, to.n)), k: satMul(s.n, to.k)}
	}
	from := uint64(1)
	if v, ok := strLiteral(args[1]); ok {
		from = uint64(max(1, len([]rune(v))))
	}
	if to.n <= from {
		return s
	}
	// Each of at most |s|/from matches grows by to - from.
	return s.mul((to.n + from - 1) / from)
}

// checkLengths runs the analysis over a whole statement: the rules of the
// package comment above.
func (g *Guard) checkLengths(root sqlparser.SQLNode) error {
	l := &lengths{defs: map[string][]sqlparser.Expr{}, dataLen: g.policy.MaxDataLength}
	if l.dataLen > 0 && (g.policy.AllowSystemSchemas || namesDatabase(root)) {
		// MaxDataLength is about the tables of the current database only
		// (not system variables or other databases).
		l.dataLen = 0
	}
	l.collect(root)
	l.solve()
	var err error
	_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
		if err = l.check(node); err != nil {
			return false, errStop
		}
		return true, nil
	}, root)
	return err
}

type stopErr struct{}

func (stopErr) Error() string { return "stop" }

var errStop = stopErr{}

// check applies the pattern and builder rules to one node.
func (l *lengths) check(node sqlparser.SQLNode) error {
	var name string
	var searched []sqlparser.Expr
	switch n := node.(type) {
	case *sqlparser.ComparisonExpr:
		switch n.Operator {
		case sqlparser.RegexpOp, sqlparser.NotRegexpOp:
			name, searched = "REGEXP", []sqlparser.Expr{n.Left, n.Right}
		case sqlparser.LikeOp, sqlparser.NotLikeOp:
			name, searched = "LIKE", []sqlparser.Expr{n.Left, n.Right, n.Escape}
		}
	case *sqlparser.RegexpInstrExpr:
		name, searched = "REGEXP_INSTR", []sqlparser.Expr{n.Expr, n.Pattern}
	case *sqlparser.RegexpLikeExpr:
		name, searched = "REGEXP_LIKE", []sqlparser.Expr{n.Expr, n.Pattern}
	case *sqlparser.RegexpSubstrExpr:
		name, searched = "REGEXP_SUBSTR", []sqlparser.Expr{n.Expr, n.Pattern}
	case *sqlparser.RegexpReplaceExpr:
		name, searched = "REGEXP_REPLACE", []sqlparser.Expr{n.Expr, n.Pattern, n.Repl}
	case *sqlparser.LocateExpr:
		name, searched = "LOCATE", []sqlparser.Expr{n.SubStr, n.Str}
	case *sqlparser.MemberOfExpr:
		name, searched = "MEMBER OF", []sqlparser.Expr{n.Value, n.JSONArr}
	case *sqlparser.ExtractValueExpr:
		name, searched = "EXTRACTVALUE", []sqlparser.Expr{n.Fragment, n.XPathExpr}
	case *sqlparser.UpdateXMLExpr:
		name, searched = "UPDATEXML", []sqlparser.Expr{n.Target, n.XPathExpr, n.NewXML}
	case *sqlparser.JSONSearchExpr:
		name, searched = "JSON_SEARCH", []sqlparser.Expr{n.JSONDoc, n.SearchStr}
	case *sqlparser.JSONContainsExpr:
		name, searched = "JSON_CONTAINS", []sqlparser.Expr{n.Target, n.Candidate}
	case *sqlparser.JSONContainsPathExpr:
		name, searched = "JSON_CONTAINS_PATH", []sqlparser.Expr{n.JSONDoc}
	case *sqlparser.JSONOverlapsExpr:
		name, searched = "JSON_OVERLAPS", []sqlparser.Expr{n.JSONDoc1, n.JSONDoc2}
	case *sqlparser.FuncExpr:
		if patternFuncs[n.Name.Lowered()] {
			name, searched = strings.ToUpper(n.Name.Lowered()), n.Exprs
		}
	}
	for _, e := range searched {
		if e == nil {
			continue
		}
		if err := checkPatternIntroducers(name, e); err != nil {
			return err
		}
		b := l.of(e)
		if b.opaque || b.n > MaxPatternLength || b.k > MaxPatternCopies {
			return violation("%s over a string of length %s (a pattern function's arguments may be at most %d characters plus %d copies of table data: the server's pattern functions are quadratic and a KILL does not stop them)",
				name, b, MaxPatternLength, MaxPatternCopies)
		}
	}
	if err := l.checkPatternSteps(node); err != nil {
		return err
	}
	if e, ok := node.(sqlparser.Expr); ok && isFuncNode(node) {
		// Opaque or not: an opaque part is bounded by the server, the
		// rest must be bounded here.
		if b := l.of(e); b.n > MaxBuiltLength || b.k > MaxBuiltCopies {
			b.opaque = false
			return violation("a function builds a string of length %s (at most %d characters plus %d copies of table data)",
				b, MaxBuiltLength, MaxBuiltCopies)
		}
	}
	return nil
}

// checkOutputLengths bounds the functions whose output length an argument
// sets, other than REPEAT, SPACE, LPAD, RPAD and INSERT: WEIGHT_STRING(x AS
// CHAR(N)) and CAST/CONVERT to BINARY(N) pad to N (CHAR(N) does not); SFORMAT's replacement
// fields carry a width and a precision. Each N at most MaxGeneratedLength,
// counted in MaxGeneratedTotal. And the XPath of EXTRACTVALUE and
// UPDATEXML (regex.go).
func checkOutputLengths(node sqlparser.SQLNode, total *uint64) error {
	switch n := node.(type) {
	case *sqlparser.WeightStringFuncExpr:
		if n.As != nil && n.As.Length != nil {
			return addGenerated("WEIGHT_STRING ... AS "+strings.ToUpper(n.As.Type), uint64(max(0, *n.As.Length)), total)
		}
	case *sqlparser.CastExpr:
		return convertLength(n.Type, total)
	case *sqlparser.ConvertExpr:
		return convertLength(n.Type, total)
	case *sqlparser.ExtractValueExpr:
		return checkXPath("EXTRACTVALUE", n.XPathExpr)
	case *sqlparser.UpdateXMLExpr:
		return checkXPath("UPDATEXML", n.XPathExpr)
	case *sqlparser.FuncExpr:
		switch n.Name.Lowered() {
		case "sformat":
			return checkSformat(n.Exprs, total)
		case "extractvalue", "updatexml":
			if len(n.Exprs) < 2 {
				return nil
			}
			return checkXPath(strings.ToUpper(n.Name.Lowered()), n.Exprs[1])
		}
	}
	return nil
}

func convertLength(t *sqlparser.ConvertType, total *uint64) error {
	if t == nil || t.Length == nil {
		return nil
	}
	switch strings.ToLower(t.Type) {
	case "binary":
		return addGenerated("CAST/CONVERT to "+strings.ToUpper(t.Type)+"(N)", uint64(max(0, *t.Length)), total)
	}
	return nil
}

func addGenerated(what string, n uint64, total *uint64) error {
	if n > MaxGeneratedLength {
		return violation("%s with a length of %d (at most %d)", what, n, MaxGeneratedLength)
	}
	*total += n
	if *total > MaxGeneratedTotal {
		return violation("the statement generates strings longer than %d characters in all", MaxGeneratedTotal)
	}
	return nil
}

// checkSformat requires SFORMAT's format to be a string literal whose
// replacement fields hold no nested field ({:{}}, a width taken from an
// argument) and no number over MaxGeneratedLength (a width or precision).
func checkSformat(args []sqlparser.Expr, total *uint64) error {
	if len(args) == 0 {
		return nil
	}
	f, ok := strLiteral(args[0])
	if !ok {
		return violation("SFORMAT with a format that is not a string literal (its widths set the output length)")
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '{' {
			continue
		}
		if i+1 < len(f) && f[i+1] == '{' {
			i++ // an escaped brace
			continue
		}
		end := strings.IndexByte(f[i+1:], '}')
		if end < 0 {
			return nil // the server refuses the format
		}
		field := f[i+1 : i+1+end]
		if strings.Contains(field, "{") {
			return violation("SFORMAT with a nested replacement field (a width or precision from an argument)")
		}
		for j := 0; j < len(field); {
			if field[j] < '0' || field[j] > '9' {
				j++
				continue
			}
			k := j
			for k < len(field) && field[k] >= '0' && field[k] <= '9' {
				k++
			}
			if k-j > 6 {
				return violation("SFORMAT with a width or precision over %d", MaxGeneratedLength)
			}
			v, _ := strconv.ParseUint(field[j:k], 10, 64)
			if err := addGenerated("SFORMAT width or precision", v, total); err != nil {
				return err
			}
			j = k
		}
		i += end + 1
	}
	return nil
}

// namesDatabase reports whether a table or column under root is qualified
// by a database name.
func namesDatabase(root sqlparser.SQLNode) bool {
	found := false
	_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
		if t, ok := node.(sqlparser.TableName); ok && !t.Qualifier.IsEmpty() {
			found = true
			return false, errStop
		}
		return true, nil
	}, root)
	return found
}
