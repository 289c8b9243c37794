package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// MaxCodeBytes bounds the code the runner reads from a file or stdin.
const MaxCodeBytes = 4 << 20

// Exit codes of the runner.
const (
	ExitSucceeded = 0
	ExitFailed    = 1
	ExitUsage     = 2
)

const usage = `usage:
  runner run --language python|sql|jsx [--file PATH | stdin]
             [--timeout 30s] [--cpu-time 30s] [--memory 512Mi] [--max-output-bytes N] [--python PATH]
             [--input NAME=PATH.csv|PATH.json ...]
             [--max-rows N] [--dsn-file PATH] [--dry-run] [--allow-system-schemas] [--allow-show]
  runner run --task-dir DIR [--scratch-dir DIR] [--termination-log PATH]
` + rolesUsage

// Main is the runner's command line. It returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "judge":
			return judgeMain(ctx, args[1:], stdout, stderr)
		case "sandbox":
			return sandboxMain(ctx, args[1:], stderr)
		}
	}
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	c, termLog, err := parseRun(args[1:], stdin, stderr)
	var res result.ExecutionResult
	var (
		bad  *inputError
		hand *handOffError
	)
	switch {
	case errors.As(err, &hand):
		res = result.Failure(result.InternalError, hand.Error())
	case errors.As(err, &bad):
		// The command line was right but what it names is not: the code
		// or the task is too big or unreadable. That is the execution's
		// outcome, reported like any other (and summarised in a Pod).
		res = result.Failure(result.InvalidInput, bad.Error())
	case err != nil:
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "runner: %v\n%s", err, usage)
		}
		return ExitUsage
	default:
		res = Run(ctx, c)
	}
	line := result.Encode(res)
	if _, err := stdout.Write(append(line, '\n')); err != nil {
		fmt.Fprintf(stderr, "runner: writing the result: %v\n", err)
	}
	if termLog != "" {
		if err := writeSummary(termLog, res, line); err != nil {
			fmt.Fprintf(stderr, "runner: writing the termination message: %v\n", err)
		}
	}
	return res.ExitCode()
}

// inputError is a problem with the code or the task a well-formed command
// line names (too big, unreadable, malformed): an InvalidInput result, not
// a usage error.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

func badInput(format string, a ...any) error { return &inputError{fmt.Errorf(format, a...)} }

func parseRun(args []string, stdin io.Reader, stderr io.Writer) (Config, string, error) {
	fs := flag.NewFlagSet("runner run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		c                           Config
		lang, file, memory, taskDir string
		termLog                     string
		maxOut, maxRows             int64
	)
	fs.StringVar(&lang, "language", "", "python, sql or jsx")
	fs.StringVar(&file, "file", "", "file with the code (default: stdin)")
	fs.DurationVar(&c.Timeout, "timeout", DefaultTimeout, "wall-clock limit")
	fs.DurationVar(&c.CPUTime, "cpu-time", 0, "CPU-time limit (default: the timeout)")
	fs.StringVar(&memory, "memory", "512Mi", "memory limit as a Kubernetes quantity")
	fs.Int64Var(&maxOut, "max-output-bytes", DefaultMaxOutputBytes, "cap on the JSON result")
	fs.Int64Var(&c.MaxStreamBytes, "max-stream-bytes", DefaultMaxStreamBytes, "cap on each of stdout and stderr kept")
	fs.StringVar(&c.Python, "python", DefaultPython, "python interpreter")
	fs.Func("input", "NAME=PATH.csv|PATH.json, repeatable (python)", func(v string) error {
		name, path, ok := strings.Cut(v, "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("--input %q: want NAME=PATH", v)
		}
		c.Inputs = append(c.Inputs, Input{Name: name, Path: path})
		return nil
	})
	fs.StringVar(&c.ScratchDir, "scratch-dir", "", "writable directory for user code (default: a fresh temporary one)")
	fs.Int64Var(&maxRows, "max-rows", DefaultMaxRows, "row cap (sql)")
	fs.StringVar(&c.DSNFile, "dsn-file", "", "file holding the datasource DSN (sql)")
	fs.BoolVar(&c.DryRun, "dry-run", false, "guard and print the SQL, touch no database")
	fs.BoolVar(&c.AllowSystemSchemas, "allow-system-schemas", false, "let SQL read system schemas")
	fs.BoolVar(&c.AllowShow, "allow-show", false, "let SQL run SHOW, DESCRIBE and EXPLAIN")
	fs.BoolVar(&c.NoWallClock, "no-wall-clock", false, "disable the runner's wall clock (testing the Pod deadline)")
	fs.StringVar(&taskDir, "task-dir", "", "read the task from DIR/task.json and DIR/code (in a Pod)")
	fs.StringVar(&termLog, "termination-log", "", "also write a summary here (in a Pod: /dev/termination-log)")
	if err := fs.Parse(args); err != nil {
		return Config{}, "", err
	}
	if fs.NArg() > 0 {
		return Config{}, "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if taskDir != "" {
		tc, err := LoadTask(taskDir, MaxCodeBytes)
		if err != nil {
			return Config{}, termLog, badInput("--task-dir: %w", err)
		}
		if err := handOff(tc.Language); err != nil {
			return Config{}, termLog, err
		}
		tc.ScratchDir = c.ScratchDir
		tc.Python = c.Python
		tc.MaxStreamBytes = c.MaxStreamBytes
		tc.NoWallClock = c.NoWallClock
		return tc, termLog, nil
	}
	switch Language(lang) {
	case Python, SQL, JSX:
		c.Language = Language(lang)
	case "":
		return Config{}, "", errors.New("--language is required")
	default:
		return Config{}, "", fmt.Errorf("--language %q: want python, sql or jsx", lang)
	}
	q, err := resource.ParseQuantity(memory)
	if err != nil || q.Value() <= 0 {
		return Config{}, "", fmt.Errorf("--memory %q: want a positive quantity such as 512Mi", memory)
	}
	c.MemoryBytes = q.Value()
	if maxOut <= 0 || maxRows <= 0 || c.Timeout <= 0 {
		return Config{}, "", errors.New("--timeout, --max-output-bytes and --max-rows must be positive")
	}
	c.MaxOutputBytes, c.MaxRows = maxOut, maxRows
	if c.Language == SQL && !c.DryRun && c.DSNFile == "" {
		return Config{}, "", errors.New("--language sql needs --dsn-file (or --dry-run)")
	}
	// Before a byte of stdin is read: the binary handed over to reads it.
	if err := handOff(c.Language); err != nil {
		return Config{}, termLog, err
	}
	r := stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return Config{}, termLog, badInput("--file: %w", err)
		}
		defer f.Close()
		r = f
	}
	code, err := io.ReadAll(io.LimitReader(r, MaxCodeBytes+1))
	if err != nil {
		return Config{}, termLog, badInput("reading the code: %w", err)
	}
	if len(code) > MaxCodeBytes {
		return Config{}, termLog, badInput("the code is over the runner's limit of %d bytes", MaxCodeBytes)
	}
	c.Code = code
	return c, termLog, nil
}

func writeSummary(path string, res result.ExecutionResult, line []byte) error {
	return os.WriteFile(path, result.Summarize(res, line).Encode(), 0o644)
}
