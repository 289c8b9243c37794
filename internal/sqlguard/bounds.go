package sqlguard

import (
	"strconv"
	"strings"

	"vitess.io/vitess/go/vt/sqlparser"
)

// Bounds on what a statement can generate (issue 10, finding 4). MariaDB's
// pattern functions are quadratic in their subject and check for a KILL
// rarely or never: REGEXP_REPLACE(REPEAT('a', 8000000), 'a', 'bb') kept a
// server thread "Killed" for hours. The guard bounds the generated strings
// instead of trusting the kill:
//
//   - REPEAT(s, n), SPACE(n), LPAD(s, n, p), RPAD(s, n, p): n must be an
//     integer literal of at most MaxGeneratedLength; INSERT(s, pos, len,
//     new): len likewise;
//   - the sum of those literals over the whole statement is at most
//     MaxGeneratedTotal (a statement cannot concatenate thousands of them);
//   - no string-building function (the ones above, REPLACE,
//     REGEXP_REPLACE, GROUP_CONCAT, JSON_ARRAYAGG, JSON_OBJECTAGG) inside
//     the arguments of another one, nor inside the arguments of a pattern
//     function (REGEXP_*, REGEXP/RLIKE, LIKE, INSTR, LOCATE, POSITION,
//     REPLACE, SUBSTRING_INDEX, FIND_IN_SET): pattern functions work on
//     table data and bounded literals, never on generated giant strings.
//
// Strings that grow through data (a recursive CTE doubling a column, long
// table values) are left to the server's time limit; when a KILL does not
// take, the executor says so (sqlexec).
const (
	MaxGeneratedLength = 10000
	MaxGeneratedTotal  = 100000
)

// lengthArg names, per string-building function, which argument is a length.
var lengthArg = map[string]int{"repeat": 1, "space": 0, "lpad": 1, "rpad": 1}

var generatorFuncs = map[string]bool{
	"repeat": true, "space": true, "lpad": true, "rpad": true, "replace": true,
	"insert": true, "regexp_replace": true, "group_concat": true,
	"json_arrayagg": true, "json_objectagg": true,
}

var patternFuncs = map[string]bool{
	"instr": true, "locate": true, "position": true, "replace": true,
	"substring_index": true, "find_in_set": true, "regexp_instr": true,
	"regexp_like": true, "regexp_substr": true, "regexp_replace": true,
}

// funcName is the lower-case name of a function-like node for these
// rules, or "".
func funcName(node sqlparser.SQLNode) string {
	switch n := node.(type) {
	case *sqlparser.FuncExpr:
		return n.Name.Lowered()
	case *sqlparser.InsertExpr:
		return "insert"
	case *sqlparser.LocateExpr:
		return "locate"
	case *sqlparser.RegexpReplaceExpr:
		return "regexp_replace"
	case *sqlparser.RegexpInstrExpr:
		return "regexp_instr"
	case *sqlparser.RegexpLikeExpr:
		return "regexp_like"
	case *sqlparser.RegexpSubstrExpr:
		return "regexp_substr"
	case *sqlparser.GroupConcatExpr:
		return "group_concat"
	case *sqlparser.JSONArrayAgg:
		return "json_arrayagg"
	case *sqlparser.JSONObjectAgg:
		return "json_objectagg"
	case *sqlparser.ComparisonExpr:
		switch n.Operator {
		case sqlparser.RegexpOp, sqlparser.NotRegexpOp:
			return "regexp_like"
		case sqlparser.LikeOp, sqlparser.NotLikeOp:
			return "like"
		}
	}
	return ""
}

// checkBounds applies the rules above to one node the walk visits;
// total accumulates the length literals of the statement.
func (g *Guard) checkBounds(node sqlparser.SQLNode, total *uint64) error {
	name := funcName(node)
	if name == "" {
		return nil
	}
	if i, ok := lengthArg[name]; ok {
		f := node.(*sqlparser.FuncExpr)
		if i >= len(f.Exprs) {
			return nil // the server refuses the call
		}
		if err := lengthLiteral(name, f.Exprs[i], total); err != nil {
			return err
		}
	}
	if ins, ok := node.(*sqlparser.InsertExpr); ok {
		if err := lengthLiteral(name, ins.Len, total); err != nil {
			return err
		}
	}
	if !generatorFuncs[name] && !patternFuncs[name] && name != "like" {
		return nil
	}
	// No string-building function anywhere below.
	var inner string
	_ = sqlparser.Walk(func(n sqlparser.SQLNode) (bool, error) {
		if n == node {
			return true, nil
		}
		if f := funcName(n); generatorFuncs[f] && !shrinkingReplace(n) {
			inner = f
			return false, errStop
		}
		return true, nil
	}, node)
	if inner != "" {
		return violation("%s of a string built by %s (generated strings are not searched or grown again: unbounded server work that a KILL does not stop)",
			strings.ToUpper(name), strings.ToUpper(inner))
	}
	return nil
}

type stopErr struct{}

func (stopErr) Error() string { return "stop" }

var errStop = stopErr{}

func lengthLiteral(name string, e sqlparser.Expr, total *uint64) error {
	lit, ok := e.(*sqlparser.Literal)
	var n uint64
	var err error
	if ok && lit.Type == sqlparser.IntVal {
		n, err = strconv.ParseUint(lit.Val, 10, 64)
	}
	if !ok || lit.Type != sqlparser.IntVal || err != nil || n > MaxGeneratedLength {
		return violation("%s length must be an integer literal of at most %d", strings.ToUpper(name), MaxGeneratedLength)
	}
	*total += n
	if *total > MaxGeneratedTotal {
		return violation("the statement generates strings longer than %d characters in all (REPEAT, SPACE, LPAD, RPAD, INSERT)", MaxGeneratedTotal)
	}
	return nil
}

// shrinkingReplace reports REPLACE(s, 'from', 'to') with literal strings,
// 'to' no longer than 'from': it never grows s (REPLACE(REPLACE(phone,
// '-', ”), ' ', ”) stays allowed).
func shrinkingReplace(n sqlparser.SQLNode) bool {
	f, ok := n.(*sqlparser.FuncExpr)
	if !ok || f.Name.Lowered() != "replace" || len(f.Exprs) != 3 {
		return false
	}
	from, ok1 := f.Exprs[1].(*sqlparser.Literal)
	to, ok2 := f.Exprs[2].(*sqlparser.Literal)
	return ok1 && ok2 && from.Type == sqlparser.StrVal && to.Type == sqlparser.StrVal && len(to.Val) <= len(from.Val)
}
