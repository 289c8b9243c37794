// Package sqlguard decides whether a piece of SQL may run on a datasource
// and, when it may, returns the statement to send: regenerated from the
// syntax tree that was checked, never the original text, with its outer
// LIMIT added or clamped.
//
// The guard is a pure function of the SQL text and a Policy. It parses with
// vitess' MySQL grammar (never pattern matching), accepts exactly one
// SELECT, UNION or WITH over SELECTs, and walks every node of the tree,
// refusing any node kind it does not know (default deny). SHOW, DESCRIBE,
// EXPLAIN and the system schemas are refused unless the Policy allows them.
//
// # What is sent is what was checked, by construction
//
// The text to send is printed from the checked tree (vitess' formatter,
// every identifier quoted; print.go) and then parsed again; the new tree
// must pass the guard again, be the same kind of statement with the same
// outer LIMIT, and print to exactly the same text, or the statement is
// refused (SecurityViolation). The checking printer (a NodeFormatter that
// sees every node as it is written) is the oracle the tests and the fuzz
// target hold both printings and the recorded call names to. The printer
// quotes every identifier (a column named current_role is sent as
// `current_role`, never as a word the server could read as a keyword or a
// function), never prints comments, and takes the name of every function
// call from the text it printed, checking it against the built-ins of the
// served dialect (Policy.Dialect; dialect.go): no prefix wildcards, no name
// the server would resolve to a stored function. The executor learns the
// dialect from the server and also refuses a call of any name that is a
// stored routine of the database (sqlexec.ExecuteGuarded).
//
// Every string the vitess printer writes unquoted, from the AST fields of
// the nodes a query may contain (ast_format.go of vitess v0.24), and what
// the guard does with it:
//   - CollateExpr.Collation (COLLATE x), ColumnTypeOptions.Collate
//     (JSON_TABLE column COLLATE x): a known collation of the dialect
//     (charsets.go; the served server's information_schema.COLLATIONS when
//     the executor knows it), else refused;
//   - ConvertUsingExpr.Type (CONVERT(e USING x)), CharExpr.Charset
//     (CHAR(n USING x)), ConvertType.Charset.Name (CAST(e AS CHAR CHARACTER
//     SET x)), ColumnCharset.Name (JSON_TABLE column CHARACTER SET x),
//     IntroducerExpr.CharacterSet (_x'...'): a known character set, else
//     refused;
//   - ConvertType.Type (CAST/CONVERT target), ColumnType.Type (JSON_TABLE
//     column type): a closed list of type names, else refused;
//     ColumnType.EnumValues and every other ColumnTypeOptions field:
//     refused;
//   - Literal.Val: integers, decimals, floats, 0x/0b and X'hex' literals must
//     be made of the characters of their kind; DATE, TIME and TIMESTAMP
//     literals, which vitess writes between quotes without escaping, may
//     hold only digits, '-', ':', '.', ' ', 'T', '+' and 'Z';
//   - GroupConcatExpr.Separator (kept already encoded): must be one
//     well-formed quoted string literal;
//   - FuncExpr.Name, CurTimeFuncExpr.Name and the fixed names vitess prints
//     for its other function nodes: the word before the parenthesis, as
//     printed (each node's own text, its children left out, so reading
//     the names is linear in the statement), must be a built-in of the
//     dialect; FuncExpr.Qualifier:
//     refused (stored function);
//   - IdentifierCI and IdentifierCS (columns, tables, aliases, CTE, window
//     and index names, variables): always quoted by the printer;
//   - ParsedComments (comments, optimizer hints): never printed;
//   - SelectInto.FileName, Charset, FormatOption, ExportOption, Manifest and
//     Overwrite, Default.ColName, Argument.Name, ListArg: their nodes are
//     refused; ExplainTab.Wild: refused; ShowFilter.Like: escaped by vitess;
//   - operator, unit, direction, join, lock and other enum fields: printed
//     from vitess' fixed tables.
//
// A string field vitess adds in a later version is caught by the round
// trip if it prints differently from what it parsed.
//
// # Bounded work (bounds.go)
//
// The guard computes a static upper bound of the length of every string
// expression (n characters plus k copies of the longest table value, or
// opaque): literals by their length, each function by a table of its
// output bound as a function of its arguments' (any function or node not
// in the table is opaque), columns of derived tables, CTEs, UNIONs,
// JSON_TABLE and select-list aliases by the bound of every expression that
// defines a column of that name (a fixpoint; growing recursive CTEs end
// opaque), table columns by the data. Pattern functions (LIKE, REGEXP,
// REGEXP_*, INSTR, LOCATE, REPLACE, SUBSTRING_INDEX, FIND_IN_SET, JSON
// searches) refuse an opaque argument or one over MaxPatternLength
// characters or MaxPatternCopies copies of the data; every function's
// output is refused over MaxBuiltLength or MaxBuiltCopies; REPEAT, SPACE,
// LPAD, RPAD and INSERT take only integer-literal lengths up to
// MaxGeneratedLength (MaxGeneratedTotal per statement), as do SFORMAT's
// widths, WEIGHT_STRING(... AS CHAR/BINARY(N)) and CAST(... AS BINARY(N)).
// MariaDB's pattern functions are quadratic and do not always see a KILL.
//
// Regular expressions (regex.go) are string literals of a closed grammar
// (no back references, lookaround, possessive or atomic forms, recursion,
// inline options, \Q); their worst-case backtracking steps, a polynomial
// of the subject's length bound, are summed with LIKE's over the whole
// statement and refused over MaxPatternSteps; over table data a pattern
// must be linear per start, unless the declared column lengths
// (Policy.MaxDataLength) bound it. Introducers the server converts
// (_utf16le, _ucs2, ...) are refused in pattern functions; EXTRACTVALUE
// and UPDATEXML take a literal XPath of a closed grammar (child steps of
// names, *, @name, @* and text(), at most one //, only [n] positions as
// predicates: no functions, axes, unions or nested paths). The
// executor clears MariaDB's default_regex_flags. Substring searches
// (INSTR, LOCATE, REPLACE, ...) count (n+1)(m+1) steps in the same sum.
//
// GET_FORMAT(DATE|TIME|DATETIME|TIMESTAMP, ...): vitess parses the keyword
// as a column; the walk replaces it by a literal printed bare (walk.go,
// keywordLiterals); anything else there is refused.
//
// # Refused
//
// Refused, with the construct named in the message (SecurityViolation):
//   - input over MaxBytes, MaxTokens tokens or MaxDepth nested parentheses
//     (checked before parsing); more than one statement;
//   - versioned comments /*!...*/ and /*!NNNNN ...*/, MariaDB's /*M!...*/,
//     and '//' comments, which vitess and MariaDB read differently;
//   - every statement but SELECT, UNION and WITH ... SELECT: DML, DDL, DCL,
//     SET, transactions, LOCK/UNLOCK, CALL, PREPARE/EXECUTE, LOAD, DO, KILL,
//     FLUSH, USE, table maintenance, ...; SHOW, DESCRIBE, EXPLAIN and a
//     VALUES statement unless AllowShow (EXPLAIN ANALYZE, which runs the
//     statement, always; EXPLAIN of anything but SELECT, INSERT, UPDATE,
//     DELETE always; SHOW forms that read server state also need
//     AllowSystemSchemas); VALUES ROW(...) anywhere on MariaDB, which
//     lacks it;
//   - INTO OUTFILE, INTO OUTFILE S3, INTO DUMPFILE, INTO @variables, at any
//     depth; locking clauses FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE,
//     NOWAIT, SKIP LOCKED, at any depth;
//   - user variables (@x) and their assignment (:=); system variables (@@x)
//     unless AllowSystemSchemas; bind parameters (?, :name);
//   - named-lock functions, GTID and replication waits, sequences,
//     session and account readers, VALUES(), DEFAULT(), the spatial set
//     operations and buffers (ST_UNION, ST_INTERSECTION, ST_DIFFERENCE,
//     ST_SYMDIFFERENCE, ST_BUFFER, BUFFER: super-linear work MariaDB does
//     not interrupt) and UNCOMPRESS (output
//     not bounded by its input) (functions.go names why), and every
//     function that is not a built-in of the dialect on the guard's list
//     (dialect.go);
//   - the schemas mysql, information_schema, performance_schema and sys
//     (any case, as table qualifiers, column qualifiers and function
//     qualifiers) and schema names with non-ASCII letters, unless
//     AllowSystemSchemas;
//   - any node type the walk does not know (default deny).
//
// Syntax errors are CompilationError with the line and column.
package sqlguard

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"

	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// Default bounds, checked before parsing.
const (
	DefaultMaxBytes  = 64 << 10
	DefaultMaxDepth  = 64
	DefaultMaxTokens = 16 << 10
	DefaultMaxRows   = 1000
)

// mysqlVersion is the grammar version the parser follows. Versioned
// comments are refused before parsing, so it only selects MySQL 8 syntax
// (window functions, CTEs, JSON_TABLE), which MariaDB shares.
const mysqlVersion = "8.0.40"

// Policy is what an administrator may loosen. Zero values mean defaults.
type Policy struct {
	// MaxRows is the largest outer LIMIT sent; a missing LIMIT becomes
	// MaxRows. Default DefaultMaxRows.
	MaxRows uint64
	// MaxBytes bounds the SQL text. Default DefaultMaxBytes.
	MaxBytes int
	// MaxDepth bounds parenthesis nesting. Default DefaultMaxDepth.
	MaxDepth int
	// MaxTokens bounds the number of tokens. Default DefaultMaxTokens.
	MaxTokens int
	// AllowSystemSchemas lets queries read mysql, information_schema,
	// performance_schema and sys, system variables (@@name), and, together
	// with AllowShow, the SHOW forms that read server state.
	AllowSystemSchemas bool
	// AllowShow lets SHOW, DESCRIBE and EXPLAIN (never EXPLAIN ANALYZE,
	// which runs the statement) through.
	AllowShow bool
	// Dialect is the server the statement is for: it decides which
	// functions are built-ins and which character sets and collations
	// exist. The zero value (not known) allows what MariaDB 10.11 or
	// MySQL 8.0 has; the executor checks again for the server it reached.
	Dialect Dialect
	// MaxDataLength, when not zero, bounds the length in characters of
	// every value a query can read from a table of the current database
	// (the executor sets it from the declared lengths of its columns,
	// when the system schemas are not allowed). With it, a regular
	// expression over table data is bounded per row like one over a
	// literal (regex.go), unless the statement names a database. Zero:
	// not known.
	MaxDataLength uint64
}

func (p Policy) withDefaults() Policy {
	if p.MaxRows == 0 {
		p.MaxRows = DefaultMaxRows
	}
	if p.MaxBytes <= 0 {
		p.MaxBytes = DefaultMaxBytes
	}
	if p.MaxDepth <= 0 {
		p.MaxDepth = DefaultMaxDepth
	}
	if p.MaxTokens <= 0 {
		p.MaxTokens = DefaultMaxTokens
	}
	return p
}

// Kind is the kind of an accepted statement.
type Kind string

// Kinds of accepted statements.
const (
	KindSelect   Kind = "select"
	KindUnion    Kind = "union"
	KindShow     Kind = "show"
	KindDescribe Kind = "describe"
	KindExplain  Kind = "explain"
	KindValues   Kind = "values"
)

// Statement is an accepted statement.
type Statement struct {
	// SQL is the statement to send: regenerated from the checked tree,
	// without comments, without a trailing semicolon.
	SQL string
	// Kind says what SQL is.
	Kind Kind
	// Limit is the outer LIMIT's row count (select and union only).
	Limit uint64
	// LimitClamped says the guard added the outer LIMIT or lowered it to
	// MaxRows: a result of MaxRows rows may then have had more.
	LimitClamped bool
	// Functions are the names (lower case) of the functions SQL calls, as
	// printed in SQL, each once, sorted: the executor refuses the statement when
	// one of them is also the name of a stored routine of the database.
	Functions []string
}

// Refusal is the error Check returns for SQL that may not run.
type Refusal struct {
	// Reason is result.SecurityViolation (the SQL parses but is not
	// allowed) or result.CompilationError (it does not parse).
	Reason result.Reason
	// Message is one line naming the construct, or the syntax error.
	Message string
	// Line and Column (1-based, column in characters) locate a syntax
	// error; zero when unknown.
	Line, Column int
}

func (r *Refusal) Error() string {
	if r.Line > 0 {
		return fmt.Sprintf("%s at line %d, column %d", r.Message, r.Line, r.Column)
	}
	return r.Message
}

func violation(format string, args ...any) *Refusal {
	return &Refusal{Reason: result.SecurityViolation, Message: fmt.Sprintf(format, args...)}
}

func compilation(format string, args ...any) *Refusal {
	return &Refusal{Reason: result.CompilationError, Message: fmt.Sprintf(format, args...)}
}

// repanic makes Check re-raise panics that do not come from vitess (fuzz
// tests: our own code must not panic; vitess' parser does on some inputs,
// such as "SELECT 0 INTO ````FILE'0'", and those are refused).
var repanic = false

// checkHook, when set (tests), is called by Check before parsing.
var checkHook func(sql string)

// panickedInVitess reports whether the panic being recovered was raised in
// vitess code. Called from a deferred function, runtime.Callers still sees
// the panicking frames below runtime.gopanic.
func panickedInVitess() bool {
	pc := make([]uintptr, 64)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	afterPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			afterPanic = true
		case afterPanic && !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, "vitess.io/")
		}
		if !more {
			return false
		}
	}
}

// Guard checks SQL against one Policy. It is safe for concurrent use.
type Guard struct {
	policy Policy
	parser *sqlparser.Parser
}

// New returns a Guard for p.
func New(p Policy) (*Guard, error) {
	parser, err := sqlparser.New(sqlparser.Options{MySQLServerVersion: mysqlVersion})
	if err != nil {
		return nil, fmt.Errorf("creating the SQL parser: %w", err)
	}
	return &Guard{policy: p.withDefaults(), parser: parser}, nil
}

// Check is New(p) followed by Guard.Check.
func Check(sql string, p Policy) (Statement, error) {
	g, err := New(p)
	if err != nil {
		return Statement{}, err
	}
	return g.Check(sql)
}

// Check returns the statement to send for sql, or a *Refusal.
func (g *Guard) Check(sql string) (st Statement, err error) {
	defer func() {
		// The parser and printer are not ours: a panic in them is a
		// refusal, never a crash and never an acceptance.
		if p := recover(); p != nil {
			inVitess := panickedInVitess()
			if repanic && !inVitess {
				panic(p)
			}
			if inVitess {
				st, err = Statement{}, compilation("the SQL parser failed on this input")
				return
			}
			// Our own defect: never an acceptance, never a crash.
			st, err = Statement{}, violation("the SQL guard failed while checking this statement (an internal error; refused)")
		}
	}()
	if err := g.lexicalCheck(sql); err != nil {
		return Statement{}, err
	}
	if checkHook != nil {
		checkHook(sql)
	}
	stmts, err := g.parser.ParseMultiple(sql)
	if err != nil {
		return Statement{}, syntaxRefusal(sql, err)
	}
	var real []sqlparser.Statement
	for _, s := range stmts {
		if _, ok := s.(*sqlparser.CommentOnly); s != nil && !ok {
			real = append(real, s)
		}
	}
	switch len(real) {
	case 0:
		return Statement{}, compilation("no SQL statement (empty or only comments)")
	case 1:
	default:
		return Statement{}, violation("more than one statement (stacked statements are refused)")
	}
	st, err = g.checkStatement(real[0], sql)
	if err != nil {
		return Statement{}, err
	}
	// Quoting every identifier makes the text sent longer than the text
	// parsed, by two bytes per identifier: start from a quarter more.
	text := printFastSized(real[0], len(sql)+len(sql)/4+16)
	funcs, err := g.roundTrip(text, real[0], st)
	if err != nil {
		return Statement{}, err
	}
	st.SQL, st.Functions = text, funcs
	return st, nil
}

// roundTrip checks the text to send by construction: parsed again, it is
// one statement of the same kind that passes the guard again with nothing
// left to change, and prints to exactly the same text. Whatever vitess
// printed differently from what it checked (a raw string, a keyword read
// as a function, a comment opener, ...) fails here. The function names
// checked are those of this second printing, taken from the text sent.
//
// checked is the tree the guard checked, as the guard left it (comments
// removed, the outer LIMIT added or clamped, GET_FORMAT's keyword made a
// literal). When the tree parsed again is structurally equal to it
// (vitess' generated Comparator, which compares every field of every node,
// unexported ones included: identifiers by their text, literals by type
// and text), the second guard pass and the second printing are not run,
// because their outcome is already known:
//   - the printing is a function of the fields the Comparator compares, so
//     the tree parsed again prints to text, the printing of checked;
//   - the guard is a function of the same fields (it keeps no state
//     between nodes but what it derives from them), so on the tree parsed
//     again it decides what it decides on checked, which differs from the
//     tree it accepted only by its own edits, each of which it accepts
//     unchanged: comments are only ever removed; the outer LIMIT is an
//     integer literal of at most MaxRows, which the walk accepts and
//     clampOuterLimit returns as it is (Limit as before, not clamped; the
//     length and step bounds never read a LIMIT); GET_FORMAT's literal
//     keyword is accepted as such by keywordArgs (bounds.go gives
//     GET_FORMAT a fixed output bound whatever its arguments); the kind is
//     that of the same node type.
//
// So what is sent still is a text whose tree is the checked tree, and the
// names of the calls are still taken from that tree (calledFuncs). The
// tests and the fuzz target check the shortcut against the full pass:
// printOracle parses every accepted statement again, guards it with
// checkStatement, prints it with the checking printer and requires the
// same text and calls; TestRoundTripShortcutMatchesFullPass runs both
// paths over the corpus.
func (g *Guard) roundTrip(text string, checked sqlparser.Statement, st Statement) ([]string, error) {
	again, err := g.parser.Parse(text)
	if err != nil {
		return nil, violation("the statement the guard regenerated does not parse back (refused: what is sent must be what was checked)")
	}
	if !roundTripFullPass && sameTree(checked, again) {
		funcs, err := g.calledFuncs(again)
		if err != nil {
			return nil, violation("the statement the guard regenerated does not pass the guard again: %v", err)
		}
		return funcs, nil
	}
	st2, err := g.checkStatement(again, text)
	if err != nil {
		return nil, violation("the statement the guard regenerated does not pass the guard again: %v", err)
	}
	funcs, err := g.calledFuncs(again)
	if err != nil {
		return nil, violation("the statement the guard regenerated does not pass the guard again: %v", err)
	}
	if text2 := printFast(again); text2 != text || st2.Kind != st.Kind || st2.Limit != st.Limit || st2.LimitClamped {
		return nil, violation("the statement the guard regenerated does not read back as itself (refused: what is sent must be what was checked)")
	}
	return funcs, nil
}

// roundTripFullPass (tests) makes roundTrip always run the second guard
// pass and the second printing.
var roundTripFullPass = false

// sameTree reports whether a and b are structurally equal (every field of
// every node; vitess' generated Comparator without overrides).
func sameTree(a, b sqlparser.SQLNode) bool {
	var cmp sqlparser.Comparator
	return cmp.SQLNode(a, b)
}

// lexicalCheck enforces the bounds and refuses what vitess and MariaDB read
// differently, before the parser sees the text: versioned comments
// (/*!NNNNN */, /*M! */), '//' line comments, and stacked statements.
func (g *Guard) lexicalCheck(sql string) error {
	p := g.policy
	if len(sql) > p.MaxBytes {
		return violation("the SQL is %d bytes, over the limit of %d", len(sql), p.MaxBytes)
	}
	if !utf8.ValidString(sql) {
		return compilation("the SQL is not valid UTF-8")
	}
	tkn := g.parser.NewStringTokenizer(sql)
	tkn.AllowComments = true
	tkn.SkipSpecialComments = true
	depth, tokens, afterSemicolon := 0, 0, false
	for {
		typ, val := tkn.Scan()
		switch typ {
		case 0, sqlparser.LEX_ERROR:
			// The parser reports lexical errors with their position.
			return nil
		case sqlparser.COMMENT:
			switch {
			case strings.HasPrefix(val, "/*!"):
				return violation("versioned comment /*!...*/ (MariaDB and MySQL run its content)")
			case len(val) >= 4 && val[:2] == "/*" && (val[2] == 'M' || val[2] == 'm') && val[3] == '!':
				return violation("MariaDB executable comment /*M!...*/")
			case strings.HasPrefix(val, "//"):
				return violation("'//' comment (MariaDB does not read it as a comment)")
			}
			continue
		case ';':
			afterSemicolon = true
			continue
		case '(':
			depth++
			if depth > p.MaxDepth {
				return violation("nesting deeper than %d parentheses", p.MaxDepth)
			}
		case ')':
			depth--
		}
		if afterSemicolon {
			return violation("more than one statement (stacked statements are refused)")
		}
		tokens++
		if tokens > p.MaxTokens {
			return violation("more than %d tokens", p.MaxTokens)
		}
	}
}

// syntaxRefusal turns a parser error into a CompilationError with the
// line and column (in characters) of the offending token.
func syntaxRefusal(sql string, err error) *Refusal {
	var pe sqlparser.PositionedErr
	if !errors.As(err, &pe) {
		return compilation("syntax error: %v", err)
	}
	// Pos is one past the offset where the tokenizer stopped, just after
	// the offending token; point at the token's start when we can.
	off := pe.Pos - 1
	n := len(pe.Near)
	near := n > 0 && off-n >= 0 && off <= len(sql) && strings.EqualFold(sql[off-n:off], pe.Near)
	switch {
	case near:
		off -= n
	case n == 0 && off > 0 && off < len(sql) && !strings.ContainsRune(" \t\r\n", rune(sql[off-1])):
		// Punctuation tokens carry no text; the token is the byte before.
		off--
	}
	off = max(0, min(off, len(sql)))
	line, col := lineColumn(sql, off)
	msg := "syntax error"
	if near && n <= 64 {
		msg += fmt.Sprintf(" near %q", pe.Near)
	}
	return &Refusal{Reason: result.CompilationError, Message: msg, Line: line, Column: col}
}

func lineColumn(s string, off int) (line, col int) {
	for off > 0 && off < len(s) && !utf8.RuneStart(s[off]) {
		off--
	}
	before := s[:off]
	line = strings.Count(before, "\n") + 1
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, utf8.RuneCountInString(before) + 1
}

func (g *Guard) checkStatement(stmt sqlparser.Statement, sql string) (Statement, error) {
	switch s := stmt.(type) {
	case *sqlparser.Select, *sqlparser.Union:
		ts := s.(sqlparser.TableStatement)
		if err := g.walk(ts); err != nil {
			return Statement{}, err
		}
		n, clamped, err := g.clampOuterLimit(ts)
		if err != nil {
			return Statement{}, err
		}
		kind := KindSelect
		if _, ok := s.(*sqlparser.Union); ok {
			kind = KindUnion
		}
		return Statement{Kind: kind, Limit: n, LimitClamped: clamped}, nil
	case *sqlparser.Show:
		if !g.policy.AllowShow {
			return Statement{}, violation("SHOW is not allowed by the policy")
		}
		if err := g.checkShow(s); err != nil {
			return Statement{}, err
		}
		return Statement{Kind: KindShow}, nil
	case *sqlparser.ExplainTab:
		if !g.policy.AllowShow {
			return Statement{}, violation("DESCRIBE is not allowed by the policy")
		}
		if err := g.checkTableName(s.Table); err != nil {
			return Statement{}, err
		}
		if s.Wild != "" {
			return Statement{}, violation("DESCRIBE with a column pattern")
		}
		return Statement{Kind: KindDescribe}, nil
	case *sqlparser.ExplainStmt:
		if !g.policy.AllowShow {
			return Statement{}, violation("EXPLAIN is not allowed by the policy")
		}
		if s.Type == sqlparser.AnalyzeType {
			return Statement{}, violation("EXPLAIN ANALYZE (it runs the statement)")
		}
		switch s.Statement.(type) {
		case *sqlparser.Select, *sqlparser.Union, *sqlparser.ValuesStatement,
			*sqlparser.Insert, *sqlparser.Update, *sqlparser.Delete:
		default:
			return Statement{}, violation("EXPLAIN of %s (only SELECT, INSERT, UPDATE and DELETE may be explained)", statementName(s.Statement))
		}
		if err := g.walkExplainedDML(s.Statement); err != nil {
			return Statement{}, err
		}
		s.Comments = nil
		return Statement{Kind: KindExplain}, nil
	case *sqlparser.ValuesStatement:
		// A table value constructor (MySQL 8 VALUES ROW(...)): its
		// expressions checked, its LIMIT clamped. MariaDB has no VALUES
		// ROW. Alone, it is a policy-show statement (it reads nothing);
		// inside a SELECT, a derived table, a CTE or a UNION branch, it is
		// part of a query.
		if !g.policy.AllowShow {
			return Statement{}, violation("VALUES statement is not allowed by the policy")
		}
		if err := g.walk(s); err != nil {
			return Statement{}, err
		}
		n, err := limitValueOr(s.Limit, g.policy.MaxRows)
		if err != nil {
			return Statement{}, err
		}
		clamped := false
		if s.Limit == nil || n > g.policy.MaxRows {
			off := sqlparser.Expr(nil)
			if s.Limit != nil {
				off = s.Limit.Offset
			}
			s.Limit = &sqlparser.Limit{Offset: off, Rowcount: sqlparser.NewIntLiteral(strconv.FormatUint(g.policy.MaxRows, 10))}
			n, clamped = g.policy.MaxRows, true
		}
		return Statement{Kind: KindValues, Limit: n, LimitClamped: clamped}, nil
	case *sqlparser.OtherAdmin:
		// vitess keeps no detail for these (DO, OPTIMIZE, REPAIR, ...):
		// name them by their first keyword.
		return Statement{}, violation("%s statement (only SELECT, UNION and WITH ... SELECT are allowed)", g.firstKeyword(sql))
	default:
		return Statement{}, violation("%s statement (only SELECT, UNION and WITH ... SELECT are allowed)", statementName(stmt))
	}
}

// firstKeyword returns the first token of sql in upper case, or
// "administrative" when it is not a plain word.
func (g *Guard) firstKeyword(sql string) string {
	tkn := g.parser.NewStringTokenizer(sql)
	typ, val := tkn.Scan()
	for typ == sqlparser.COMMENT {
		typ, val = tkn.Scan()
	}
	if val == "" || len(val) > 32 || !isASCII(val) || strings.ContainsAny(val, " `'\"") {
		return "administrative"
	}
	return strings.ToUpper(val)
}

var showReadsSchema = map[sqlparser.ShowCommandType]bool{
	sqlparser.Charset: true, sqlparser.Collation: true, sqlparser.Column: true,
	sqlparser.CreateTbl: true, sqlparser.CreateV: true, sqlparser.Database: true,
	sqlparser.Index: true, sqlparser.Table: true, sqlparser.TableStatus: true,
	sqlparser.Warnings: true, sqlparser.Errors: true,
}

func (g *Guard) checkShow(s *sqlparser.Show) error {
	switch in := s.Internal.(type) {
	case *sqlparser.ShowBasic:
		if !showReadsSchema[in.Command] && !g.policy.AllowSystemSchemas {
			return violation("SHOW %s reads server state (needs the system-schemas policy too)", in.Command.ToString())
		}
		if err := g.checkTableName(in.Tbl); err != nil {
			return err
		}
		if !in.DbName.IsEmpty() {
			if err := g.checkSchema(in.DbName.String()); err != nil {
				return err
			}
		}
		if in.Filter != nil && in.Filter.Filter != nil {
			if err := g.walkExpr(in.Filter.Filter); err != nil {
				return err
			}
		}
		return nil
	case *sqlparser.ShowCreate:
		if !showReadsSchema[in.Command] {
			return violation("SHOW %s", in.Command.ToString())
		}
		return g.checkTableName(in.Op)
	default:
		return violation("this form of SHOW (%s)", firstWords(sqlparser.String(s), 3))
	}
}

// clampOuterLimit adds or clamps the LIMIT of the whole statement (for a
// UNION, of the union) and returns its row count.
func (g *Guard) clampOuterLimit(ts sqlparser.TableStatement) (n uint64, clamped bool, err error) {
	var lim **sqlparser.Limit
	switch s := ts.(type) {
	case *sqlparser.Select:
		lim = &s.Limit
	case *sqlparser.Union:
		lim = &s.Limit
	default:
		return 0, false, violation("%s statement", statementName(ts))
	}
	maxRows := g.policy.MaxRows
	if *lim == nil || (*lim).Rowcount == nil {
		var off sqlparser.Expr
		if *lim != nil {
			off = (*lim).Offset
		}
		*lim = &sqlparser.Limit{Offset: off, Rowcount: sqlparser.NewIntLiteral(strconv.FormatUint(maxRows, 10))}
		return maxRows, true, nil
	}
	n, err = limitValue((*lim).Rowcount)
	if err != nil {
		return 0, false, err
	}
	if n > maxRows {
		(*lim).Rowcount = sqlparser.NewIntLiteral(strconv.FormatUint(maxRows, 10))
		return maxRows, true, nil
	}
	return n, false, nil
}

// limitValueOr returns the row count of lim, or def when there is none.
func limitValueOr(lim *sqlparser.Limit, def uint64) (uint64, error) {
	if lim == nil || lim.Rowcount == nil {
		return def, nil
	}
	return limitValue(lim.Rowcount)
}

// limitValue reads a LIMIT operand: a non-negative integer literal. Values
// beyond uint64 are returned as the largest uint64 (they will be clamped).
func limitValue(e sqlparser.Expr) (uint64, error) {
	lit, ok := e.(*sqlparser.Literal)
	if !ok || lit.Type != sqlparser.IntVal {
		return 0, compilation("LIMIT and OFFSET must be non-negative integer literals")
	}
	n, err := strconv.ParseUint(lit.Val, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return ^uint64(0), nil
		}
		return 0, compilation("LIMIT and OFFSET must be non-negative integer literals")
	}
	return n, nil
}

// statementName names a statement kind for messages, from its node type:
// "INSERT", "DROP TABLE", "TRUNCATE TABLE".
func statementName(s sqlparser.Statement) string {
	switch s.(type) {
	case nil:
		return "empty"
	case *sqlparser.OtherAdmin:
		return "administrative"
	case *sqlparser.ValuesStatement:
		return "VALUES"
	}
	return typeName(s)
}

// typeName turns a node's Go type into words: *sqlparser.DropTable → "DROP TABLE".
func typeName(n any) string {
	name := fmt.Sprintf("%T", n)
	name = name[strings.LastIndexByte(name, '.')+1:]
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.TrimSuffix(strings.ToUpper(b.String()), " STMT")
}

// firstWords returns up to n leading words of s, without punctuation.
func firstWords(s string, n int) string {
	f := strings.FieldsFunc(s, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

// uniq returns the distinct strings of s, in first-seen order.
func uniq(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
