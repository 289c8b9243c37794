package sqlguard

import (
	"strings"

	"vitess.io/vitess/go/vt/sqlparser"
)

// systemSchemas are refused unless Policy.AllowSystemSchemas.
var systemSchemas = map[string]bool{
	"mysql": true, "information_schema": true, "performance_schema": true, "sys": true,
}

// walk checks every node under root and strips comments (optimizer hints
// included: MySQL's SET_VAR hint changes session variables) on the way.
func (g *Guard) walk(root sqlparser.SQLNode) error {
	return sqlparser.Walk(walker{g: g, total: new(uint64)}.visit, root)
}

// walkExplainedDML checks the statement under EXPLAIN, which may be an
// INSERT, UPDATE or DELETE: EXPLAIN plans it without running it (and the
// read-only transaction would stop it anyway); everything inside is checked
// as in a query.
func (g *Guard) walkExplainedDML(root sqlparser.SQLNode) error {
	return sqlparser.Walk(walker{g: g, dml: true, total: new(uint64)}.visit, root)
}

func (g *Guard) walkExpr(e sqlparser.Expr) error { return g.walk(e) }

type walker struct {
	g     *Guard
	dml   bool
	total *uint64 // length literals of string-building functions (bounds.go)
}

// visit decides per node type. Anything not named here is refused: a new
// node kind in a future vitess is denied until someone looks at it.
func (w walker) visit(node sqlparser.SQLNode) (bool, error) {
	g := w.g
	if err := g.checkBounds(node, w.total); err != nil {
		return false, err
	}
	// The closed sets of the strings vitess prints unquoted (print.go),
	// here for messages about the text as written; FuncExpr after its
	// qualifier and name are checked below.
	pr := printer{d: g.policy.Dialect}
	if _, isFunc := node.(*sqlparser.FuncExpr); !isFunc {
		if pr.check(node); pr.err != nil {
			return false, pr.err
		}
	}
	switch n := node.(type) {
	// Statements that may appear anywhere in the tree (subqueries, CTEs,
	// derived tables, UNION branches).
	case *sqlparser.Select:
		if n.Into != nil {
			return false, intoRefusal(n.Into)
		}
		if n.Lock != sqlparser.NoLock {
			return false, violation("locking clause %s", strings.ToUpper(strings.TrimSpace(n.Lock.ToString())))
		}
		n.Comments = nil
	case *sqlparser.Union:
		if n.Into != nil {
			return false, intoRefusal(n.Into)
		}
		if n.Lock != sqlparser.NoLock {
			return false, violation("locking clause %s", strings.ToUpper(strings.TrimSpace(n.Lock.ToString())))
		}
	case *sqlparser.SelectInto:
		return false, intoRefusal(n)
	case *sqlparser.With, *sqlparser.CommonTableExpr, *sqlparser.Subquery,
		*sqlparser.DerivedTable, *sqlparser.ExistsExpr:
	case *sqlparser.ParsedComments:

	// Clauses and containers.
	case *sqlparser.SelectExprs, *sqlparser.AliasedExpr, *sqlparser.StarExpr,
		*sqlparser.Where, *sqlparser.GroupBy, sqlparser.OrderBy, *sqlparser.Order,
		sqlparser.TableExprs, *sqlparser.AliasedTableExpr, *sqlparser.JoinTableExpr,
		*sqlparser.JoinCondition, *sqlparser.ParenTableExpr, *sqlparser.IndexHint,
		sqlparser.IndexHints, sqlparser.Partitions, sqlparser.Columns,
		sqlparser.IdentifierCI, sqlparser.IdentifierCS, sqlparser.ValTuple, *sqlparser.Exprs:
	case *sqlparser.Limit:
		for _, e := range []sqlparser.Expr{n.Offset, n.Rowcount} {
			if e != nil {
				if _, err := limitValue(e); err != nil {
					return false, err
				}
			}
		}
	case sqlparser.TableName:
		if err := g.checkTableName(n); err != nil {
			return false, err
		}

	// Values and operators.
	case *sqlparser.ColName, *sqlparser.Literal, *sqlparser.NullVal, sqlparser.BoolVal,
		*sqlparser.ComparisonExpr, *sqlparser.AndExpr, *sqlparser.OrExpr, *sqlparser.XorExpr,
		*sqlparser.NotExpr, *sqlparser.BinaryExpr, *sqlparser.UnaryExpr, *sqlparser.IsExpr,
		*sqlparser.BetweenExpr, *sqlparser.CaseExpr, *sqlparser.When, *sqlparser.CollateExpr,
		*sqlparser.IntroducerExpr, *sqlparser.MemberOfExpr:

	// Pure built-in functions vitess gives their own node types.
	case *sqlparser.CastExpr, *sqlparser.ConvertExpr, *sqlparser.ConvertType,
		*sqlparser.ConvertUsingExpr, *sqlparser.CurTimeFuncExpr, *sqlparser.IntervalDateExpr,
		*sqlparser.IntervalFuncExpr, *sqlparser.ExtractFuncExpr, *sqlparser.TimestampDiffExpr,
		*sqlparser.TrimFuncExpr, *sqlparser.SubstrExpr, *sqlparser.LocateExpr,
		*sqlparser.InsertExpr, *sqlparser.CharExpr, *sqlparser.WeightStringFuncExpr,
		*sqlparser.MatchExpr, *sqlparser.RegexpInstrExpr, *sqlparser.RegexpLikeExpr,
		*sqlparser.RegexpReplaceExpr, *sqlparser.RegexpSubstrExpr, *sqlparser.ExtractValueExpr,
		*sqlparser.UpdateXMLExpr:
	case *sqlparser.JSONArrayExpr, *sqlparser.JSONAttributesExpr, *sqlparser.JSONContainsExpr,
		*sqlparser.JSONContainsPathExpr, *sqlparser.JSONExtractExpr, *sqlparser.JSONKeysExpr,
		*sqlparser.JSONObjectExpr, *sqlparser.JSONObjectParam, *sqlparser.JSONOverlapsExpr,
		*sqlparser.JSONPrettyExpr, *sqlparser.JSONQuoteExpr, *sqlparser.JSONRemoveExpr,
		*sqlparser.JSONSchemaValidFuncExpr, *sqlparser.JSONSchemaValidationReportFuncExpr,
		*sqlparser.JSONSearchExpr, *sqlparser.JSONStorageFreeExpr, *sqlparser.JSONStorageSizeExpr,
		*sqlparser.JSONUnquoteExpr, *sqlparser.JSONValueExpr, *sqlparser.JSONValueMergeExpr,
		*sqlparser.JSONValueModifierExpr, *sqlparser.JtOnResponse:
	case *sqlparser.JSONTableExpr:
		// vitess does not descend into JSON_TABLE column definitions.
		if err := g.checkJtColumns(n.Columns); err != nil {
			return false, err
		}
	case *sqlparser.JtColumnDefinition:
	case *sqlparser.GeoHashFromLatLongExpr, *sqlparser.GeoHashFromPointExpr,
		*sqlparser.GeoJSONFromGeomExpr, *sqlparser.GeomCollPropertyFuncExpr,
		*sqlparser.GeomFormatExpr, *sqlparser.GeomFromGeoHashExpr, *sqlparser.GeomFromGeoJSONExpr,
		*sqlparser.GeomFromTextExpr, *sqlparser.GeomFromWKBExpr, *sqlparser.GeomPropertyFuncExpr,
		*sqlparser.LineStringExpr, *sqlparser.LinestrPropertyFuncExpr,
		*sqlparser.MultiLinestringExpr, *sqlparser.MultiPointExpr, *sqlparser.MultiPolygonExpr,
		*sqlparser.PointExpr, *sqlparser.PointPropertyFuncExpr, *sqlparser.PolygonExpr,
		*sqlparser.PolygonPropertyFuncExpr:

	// Aggregates and window functions.
	case *sqlparser.Count, *sqlparser.CountStar, *sqlparser.Sum, *sqlparser.Avg,
		*sqlparser.Max, *sqlparser.Min, *sqlparser.BitAnd, *sqlparser.BitOr, *sqlparser.BitXor,
		*sqlparser.Std, *sqlparser.StdDev, *sqlparser.StdPop, *sqlparser.StdSamp,
		*sqlparser.VarPop, *sqlparser.VarSamp, *sqlparser.Variance, *sqlparser.GroupConcatExpr,
		*sqlparser.AnyValue, *sqlparser.JSONArrayAgg, *sqlparser.JSONObjectAgg:
	case *sqlparser.OverClause, *sqlparser.WindowSpecification, *sqlparser.WindowDefinition,
		sqlparser.WindowDefinitions, sqlparser.NamedWindows, *sqlparser.NamedWindow,
		*sqlparser.FrameClause, *sqlparser.FramePoint, *sqlparser.ArgumentLessWindowExpr,
		*sqlparser.NtileExpr, *sqlparser.LagLeadExpr, *sqlparser.FirstOrLastValueExpr,
		*sqlparser.NTHValueExpr, *sqlparser.NullTreatmentClause, *sqlparser.FromFirstLastClause:

	// Function calls by name: an allow-list of pure functions.
	case *sqlparser.FuncExpr:
		if err := g.checkFunc(n); err != nil {
			return false, err
		}
		if pr.check(n); pr.err != nil {
			return false, pr.err
		}
	case *sqlparser.PerformanceSchemaFuncExpr:
		switch n.Type {
		case sqlparser.FormatBytesType, sqlparser.FormatPicoTimeType:
		default:
			return false, violation("function %s reads server state", strings.ToUpper(n.Type.ToString()))
		}

	// Refused, with the construct named.
	case *sqlparser.LockingFunc:
		return false, violation("function %s takes, frees or inspects a named lock", strings.ToUpper(n.Type.ToString()))
	case *sqlparser.GTIDFuncExpr:
		return false, violation("function %s waits for or inspects replication", strings.ToUpper(n.Type.ToString()))
	case *sqlparser.AssignmentExpr:
		return false, violation("user-variable assignment (:=)")
	case *sqlparser.Variable:
		if n.Scope == sqlparser.VariableScope {
			return false, violation("user variable @%s", n.Name.String())
		}
		if !g.policy.AllowSystemSchemas {
			return false, violation("system variable @@%s (reads server configuration)", n.Name.String())
		}
	case *sqlparser.Argument:
		return false, violation("bind parameter (placeholders are not supported)")
	case sqlparser.ListArg:
		// vitess visits an empty ListArg inside every VALUES statement.
		if n != "" {
			return false, violation("bind parameter (placeholders are not supported)")
		}
	case *sqlparser.Nextval:
		return false, violation("NEXT VALUE (advances a sequence)")
	case *sqlparser.ValuesFuncExpr:
		return false, violation("VALUES() function")
	case *sqlparser.Default:
		return false, violation("DEFAULT()")
	case *sqlparser.ValuesStatement:
		if g.policy.Dialect.Flavor == MariaDB {
			return false, violation("VALUES ROW(...) table value constructor (MySQL 8 syntax; %s does not have it)", g.policy.Dialect)
		}
		n.Comments = nil
	case sqlparser.Values:
	case *sqlparser.Insert:
		if !w.dml {
			return false, violation("INSERT")
		}
		n.Comments = nil
	case *sqlparser.Update:
		if !w.dml {
			return false, violation("UPDATE")
		}
		n.Comments = nil
	case *sqlparser.Delete:
		if !w.dml {
			return false, violation("DELETE")
		}
		n.Comments = nil
	case sqlparser.UpdateExprs, *sqlparser.UpdateExpr, sqlparser.OnDup,
		*sqlparser.RowAlias, sqlparser.TableNames:
		if !w.dml {
			return false, violation("%s is not allowed in a query", typeName(node))
		}
	default:
		return false, violation("%s is not allowed in a query", typeName(node))
	}
	return true, nil
}

func intoRefusal(in *sqlparser.SelectInto) error {
	switch in.Type {
	case sqlparser.IntoOutfile:
		return violation("INTO OUTFILE (writes a server file)")
	case sqlparser.IntoOutfileS3:
		return violation("INTO OUTFILE S3 (writes to object storage)")
	case sqlparser.IntoDumpfile:
		return violation("INTO DUMPFILE (writes a server file)")
	case sqlparser.IntoVariables:
		return violation("INTO variables (assigns user variables)")
	}
	return violation("SELECT ... INTO")
}

func (g *Guard) checkJtColumns(cols []*sqlparser.JtColumnDefinition) error {
	for _, c := range cols {
		if c == nil {
			continue
		}
		if p := c.JtPath; p != nil {
			pr := printer{d: g.policy.Dialect}
			if pr.columnType(p.Type); pr.err != nil {
				return pr.err
			}
			for _, e := range []sqlparser.Expr{p.Path, respExpr(p.EmptyOnResponse), respExpr(p.ErrorOnResponse)} {
				if e != nil {
					if err := g.walk(e); err != nil {
						return err
					}
				}
			}
		}
		if np := c.JtNestedPath; np != nil {
			if np.Path != nil {
				if err := g.walk(np.Path); err != nil {
					return err
				}
			}
			if err := g.checkJtColumns(np.Columns); err != nil {
				return err
			}
		}
	}
	return nil
}

func respExpr(r *sqlparser.JtOnResponse) sqlparser.Expr {
	if r == nil {
		return nil
	}
	return r.Expr
}

// checkTableName refuses system schemas (also as a column qualifier, which
// vitess represents as a TableName too).
func (g *Guard) checkTableName(t sqlparser.TableName) error {
	if t.Qualifier.IsEmpty() {
		return nil
	}
	return g.checkSchema(t.Qualifier.String())
}

func (g *Guard) checkSchema(name string) error {
	if g.policy.AllowSystemSchemas {
		return nil
	}
	if !isASCII(name) {
		// MariaDB compares identifiers with collations that fold some
		// non-ASCII letters onto ASCII ones (ſ, ı, K), so a non-ASCII
		// name could be a system schema in disguise.
		return violation("schema name with non-ASCII characters")
	}
	if systemSchemas[strings.ToLower(name)] {
		return violation("system schema %s", strings.ToLower(name))
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (g *Guard) checkFunc(f *sqlparser.FuncExpr) error {
	name := strings.ToLower(f.Name.String())
	if !f.Qualifier.IsEmpty() {
		if err := g.checkSchema(f.Qualifier.String()); err != nil {
			return err
		}
		return violation("stored function %s.%s (only built-in functions are allowed)", f.Qualifier.String(), f.Name.String())
	}
	if why, ok := deniedFuncs[name]; ok {
		return violation("function %s %s", strings.ToUpper(name), why)
	}
	// The allow-list of the served dialect's built-ins is checked on the
	// printed text (print.go), for this node and every other node type
	// that prints as a call.
	return nil
}

// isFuncNode reports whether node prints as a function call, "name(...)":
// the printer checks that name against the dialect's built-ins.
func isFuncNode(node sqlparser.SQLNode) bool {
	switch n := node.(type) {
	case *sqlparser.IntervalDateExpr:
		switch n.Syntax {
		case sqlparser.IntervalDateExprBinaryAdd, sqlparser.IntervalDateExprBinaryAddLeft, sqlparser.IntervalDateExprBinarySub:
			return false
		}
		return true
	case *sqlparser.FuncExpr, *sqlparser.CastExpr, *sqlparser.ConvertExpr, *sqlparser.ConvertUsingExpr,
		*sqlparser.CurTimeFuncExpr, *sqlparser.IntervalFuncExpr, *sqlparser.ExtractFuncExpr,
		*sqlparser.TimestampDiffExpr, *sqlparser.TrimFuncExpr, *sqlparser.SubstrExpr, *sqlparser.LocateExpr,
		*sqlparser.InsertExpr, *sqlparser.CharExpr, *sqlparser.WeightStringFuncExpr, *sqlparser.MatchExpr,
		*sqlparser.RegexpInstrExpr, *sqlparser.RegexpLikeExpr, *sqlparser.RegexpReplaceExpr,
		*sqlparser.RegexpSubstrExpr, *sqlparser.ExtractValueExpr, *sqlparser.UpdateXMLExpr,
		*sqlparser.JSONArrayExpr, *sqlparser.JSONAttributesExpr, *sqlparser.JSONContainsExpr,
		*sqlparser.JSONContainsPathExpr, *sqlparser.JSONExtractExpr, *sqlparser.JSONKeysExpr,
		*sqlparser.JSONObjectExpr, *sqlparser.JSONOverlapsExpr, *sqlparser.JSONPrettyExpr,
		*sqlparser.JSONQuoteExpr, *sqlparser.JSONRemoveExpr, *sqlparser.JSONSchemaValidFuncExpr,
		*sqlparser.JSONSchemaValidationReportFuncExpr, *sqlparser.JSONSearchExpr,
		*sqlparser.JSONStorageFreeExpr, *sqlparser.JSONStorageSizeExpr, *sqlparser.JSONUnquoteExpr,
		*sqlparser.JSONValueExpr, *sqlparser.JSONValueMergeExpr, *sqlparser.JSONValueModifierExpr,
		*sqlparser.JSONTableExpr,
		*sqlparser.GeoHashFromLatLongExpr, *sqlparser.GeoHashFromPointExpr, *sqlparser.GeoJSONFromGeomExpr,
		*sqlparser.GeomCollPropertyFuncExpr, *sqlparser.GeomFormatExpr, *sqlparser.GeomFromGeoHashExpr,
		*sqlparser.GeomFromGeoJSONExpr, *sqlparser.GeomFromTextExpr, *sqlparser.GeomFromWKBExpr,
		*sqlparser.GeomPropertyFuncExpr, *sqlparser.LineStringExpr, *sqlparser.LinestrPropertyFuncExpr,
		*sqlparser.MultiLinestringExpr, *sqlparser.MultiPointExpr, *sqlparser.MultiPolygonExpr,
		*sqlparser.PointExpr, *sqlparser.PointPropertyFuncExpr, *sqlparser.PolygonExpr,
		*sqlparser.PolygonPropertyFuncExpr,
		*sqlparser.Count, *sqlparser.CountStar, *sqlparser.Sum, *sqlparser.Avg, *sqlparser.Max,
		*sqlparser.Min, *sqlparser.BitAnd, *sqlparser.BitOr, *sqlparser.BitXor, *sqlparser.Std,
		*sqlparser.StdDev, *sqlparser.StdPop, *sqlparser.StdSamp, *sqlparser.VarPop, *sqlparser.VarSamp,
		*sqlparser.Variance, *sqlparser.GroupConcatExpr, *sqlparser.AnyValue, *sqlparser.JSONArrayAgg,
		*sqlparser.JSONObjectAgg, *sqlparser.ArgumentLessWindowExpr, *sqlparser.NtileExpr,
		*sqlparser.LagLeadExpr, *sqlparser.FirstOrLastValueExpr, *sqlparser.NTHValueExpr,
		*sqlparser.PerformanceSchemaFuncExpr, *sqlparser.LockingFunc, *sqlparser.GTIDFuncExpr,
		*sqlparser.ValuesFuncExpr:
		return true
	}
	return false
}
