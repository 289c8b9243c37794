// Package runner is the runner binary's library: it turns a Config (from
// flags on a laptop, or from the task mounted into a Pod) into exactly one
// result.ExecutionResult. Each language lives in a file of its own that
// delegates to its package (internal/pyexec, internal/sqlguard and
// internal/sqlexec, internal/jsxbuild).
package runner

import (
	"time"

	"github.com/codeexec/codeexec-operator/internal/pyexec"
)

// Language names the kind of code to run, as on the command line.
type Language string

// Languages the runner knows.
const (
	Python Language = "python"
	SQL    Language = "sql"
	JSX    Language = "jsx"
)

// Input is one named table for Python code.
type Input struct {
	// Name is the key in `inputs`; order of Inputs is the order of
	// `parent_dataframes`.
	Name string `json:"name"`
	// Path is a CSV or JSON file; the format comes from Format or, when
	// empty, from the extension.
	Path string `json:"path"`
	// Format is "csv" or "json"; empty means by extension.
	Format string `json:"format,omitempty"`
}

// Config is everything one execution needs. Zero values mean defaults
// (see Defaults).
type Config struct {
	Language Language
	// Code is the source text.
	Code []byte

	// Timeout is the wall-clock limit.
	Timeout time.Duration
	// CPUTime is the CPU-time limit (RLIMIT_CPU soft; hard is one second more).
	CPUTime time.Duration
	// MemoryBytes is the address-space limit for user code.
	MemoryBytes int64
	// MaxOutputBytes caps the size of the JSON result.
	MaxOutputBytes int64
	// MaxStreamBytes caps each of stdout and stderr kept from user code.
	MaxStreamBytes int64
	// Python is the interpreter to exec.
	Python string
	// Inputs are the named tables for Python.
	Inputs []Input
	// ScratchDir is the only writable directory of user code; empty means
	// a fresh temporary directory removed afterwards.
	ScratchDir string

	// MaxRows caps the rows a SQL query returns.
	MaxRows int64
	// DSNFile is the file holding the datasource DSN (SQL).
	DSNFile string
	// DryRun guards SQL and prints the statement without a database.
	DryRun bool
	// AllowSystemSchemas lets SQL read mysql, information_schema,
	// performance_schema and sys.
	AllowSystemSchemas bool
	// AllowShow lets SQL run SHOW, DESCRIBE and EXPLAIN.
	AllowShow bool
	// AllowedEndpoints, when not nil, are the only host:port addresses the
	// DSN may name; anything else is refused before connecting. A task
	// always sets it (empty allows nothing); nil, on the command line,
	// checks nothing.
	AllowedEndpoints []string
	// NoWallClock disables the runner's own wall clock (tests of the
	// Job's activeDeadlineSeconds use it).
	NoWallClock bool
}

// Defaults used when a Config field is zero. The limits Python shares
// with the other languages are pyexec's, so that the two layers cannot
// drift apart.
const (
	DefaultTimeout        = pyexec.DefaultTimeout
	DefaultMemoryBytes    = pyexec.DefaultMemoryBytes
	DefaultMaxOutputBytes = pyexec.DefaultMaxOutputBytes
	DefaultMaxStreamBytes = pyexec.DefaultMaxStreamBytes
	DefaultMaxRows        = 1000
	DefaultPython         = "python3"
)

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.CPUTime <= 0 {
		c.CPUTime = c.Timeout
	}
	if c.MemoryBytes <= 0 {
		c.MemoryBytes = DefaultMemoryBytes
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if c.MaxStreamBytes <= 0 {
		c.MaxStreamBytes = DefaultMaxStreamBytes
	}
	if c.MaxRows <= 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.Python == "" {
		c.Python = DefaultPython
	}
	return c
}
