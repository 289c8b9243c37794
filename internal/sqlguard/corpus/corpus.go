// Package corpus reads the shared SQL sample (../shared/corpus/sql beside
// the repository: accept.tsv, reject.tsv, schema.sql) for tests.
package corpus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Reject is one line of reject.tsv.
type Reject struct {
	ID, Category, SQL string
}

// Accept is one line of accept.tsv.
type Accept struct {
	ID, Category  string
	ExpectedLimit uint64
	SQL           string
}

// Dir returns <repo root>/../shared/corpus/sql, where the repository root
// is the nearest directory above the working directory holding go.mod.
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir := filepath.Join(d, "..", "shared", "corpus", "sql")
			if _, err := os.Stat(filepath.Join(dir, "accept.tsv")); err != nil {
				return "", fmt.Errorf("the shared SQL corpus is missing: want %s beside the repository (%v)", dir, err)
			}
			return filepath.Clean(dir), nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod above the working directory: cannot locate ../shared/corpus")
		}
	}
}

// SchemaPath returns the path of schema.sql.
func SchemaPath() (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "schema.sql"), nil
}

// LoadReject reads reject.tsv.
func LoadReject() ([]Reject, error) {
	rows, err := load("reject.tsv", 3)
	if err != nil {
		return nil, err
	}
	out := make([]Reject, len(rows))
	for i, r := range rows {
		out[i] = Reject{ID: r[0], Category: r[1], SQL: Unescape(r[2])}
	}
	return out, nil
}

// LoadAccept reads accept.tsv.
func LoadAccept() ([]Accept, error) {
	rows, err := load("accept.tsv", 4)
	if err != nil {
		return nil, err
	}
	out := make([]Accept, len(rows))
	for i, r := range rows {
		n, err := strconv.ParseUint(r[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("accept.tsv %s: expected_limit %q: %w", r[0], r[2], err)
		}
		out[i] = Accept{ID: r[0], Category: r[1], ExpectedLimit: n, SQL: Unescape(r[3])}
	}
	return out, nil
}

func load(name string, fields int) ([][]string, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		f := strings.SplitN(line, "\t", fields)
		if len(f) != fields {
			return nil, fmt.Errorf("%s line %d: want %d tab-separated fields, got %d", name, n+1, fields, len(f))
		}
		rows = append(rows, f)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s is empty", name)
	}
	return rows, nil
}

// Unescape decodes the corpus escapes \n \r \t \0 \v \f \\; any other
// backslash is kept as it is.
func Unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '0':
			b.WriteByte(0)
		case 'v':
			b.WriteByte('\v')
		case 'f':
			b.WriteByte('\f')
		case '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
