package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/codeexec/codeexec-operator/internal/result"
)

const rolesUsage = `  runner judge   --task-dir DIR --channel SOCKET [--termination-log PATH] [--max-stream-bytes N]
                 [--connect-timeout 2m] [--report-grace 4s] [--no-wall-clock]
  runner sandbox --task-dir DIR --channel SOCKET [--scratch-dir DIR] [--max-stream-bytes N] [--python PATH]
                 [--connect-timeout 2m] [--no-wall-clock]
`

// roleFlags are the flags judge and sandbox share.
type roleFlags struct {
	taskDir, channel, scratch, python, termLog string
	maxStream                                  int64
	noWallClock                                bool
	opts                                       JudgeOptions
}

func parseRole(name string, args []string, stderr io.Writer) (Config, roleFlags, error) {
	var f roleFlags
	fs := flag.NewFlagSet("runner "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.taskDir, "task-dir", "", "read the task from DIR/task.json and DIR/code")
	fs.StringVar(&f.channel, "channel", "", "the judge's Unix socket")
	fs.Int64Var(&f.maxStream, "max-stream-bytes", DefaultMaxStreamBytes, "cap on each of stdout and stderr kept")
	fs.BoolVar(&f.noWallClock, "no-wall-clock", false, "disable the wall clock (testing the Pod deadline)")
	fs.DurationVar(&f.opts.ConnectTimeout, "connect-timeout", DefaultConnectTimeout, "how long to wait for the other role")
	switch name {
	case "judge":
		fs.StringVar(&f.termLog, "termination-log", "", "also write a summary here (in a Pod: /dev/termination-log)")
		fs.DurationVar(&f.opts.ReportGrace, "report-grace", DefaultReportGrace, "time after the timeout for the report")
	case "sandbox":
		fs.StringVar(&f.scratch, "scratch-dir", "", "writable directory for user code")
		fs.StringVar(&f.python, "python", DefaultPython, "python interpreter")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, f, err
	}
	if fs.NArg() > 0 {
		return Config{}, f, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.taskDir == "" || f.channel == "" {
		return Config{}, f, errors.New("--task-dir and --channel are required")
	}
	c, err := LoadTask(f.taskDir, MaxCodeBytes)
	if err != nil {
		return Config{}, f, fmt.Errorf("--task-dir: %w", err)
	}
	c.ScratchDir, c.Python, c.MaxStreamBytes, c.NoWallClock = f.scratch, f.python, f.maxStream, f.noWallClock
	return c, f, nil
}

// judgeMain is `runner judge`: the verdict of a run whose code executes in
// another container under another uid.
func judgeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, f, err := parseRole("judge", args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "runner judge: %v\n%s", err, rolesUsage)
		}
		return ExitUsage
	}
	o := f.opts
	o.Config, o.Socket = c, f.channel
	res := Judge(ctx, o)
	line := result.Encode(res)
	if _, err := stdout.Write(append(line, '\n')); err != nil {
		fmt.Fprintf(stderr, "runner judge: writing the result: %v\n", err)
	}
	if f.termLog != "" {
		if err := writeSummary(f.termLog, res, line); err != nil {
			fmt.Fprintf(stderr, "runner judge: writing the termination message: %v\n", err)
		}
	}
	return res.ExitCode()
}

// sandboxMain is `runner sandbox`: runs the code and reports to the judge.
// Its exit status and output mean nothing to anyone: the judge decides.
func sandboxMain(ctx context.Context, args []string, stderr io.Writer) int {
	c, f, err := parseRole("sandbox", args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "runner sandbox: %v\n%s", err, rolesUsage)
		}
		return ExitUsage
	}
	// A runner_slim build runs only JSX itself: for Python and SQL it
	// replaces itself with the full build before it connects to the judge
	// (see handoff.go). If that fails, Sandbox reports the InternalError
	// to the judge.
	if err := handOff(c.Language); err != nil {
		fmt.Fprintf(stderr, "runner sandbox: %v\n", err)
	}
	if err := Sandbox(ctx, SandboxOptions{Config: c, Socket: f.channel, ConnectTimeout: f.opts.ConnectTimeout}); err != nil {
		fmt.Fprintf(stderr, "runner sandbox: %v\n", err)
		return ExitFailed
	}
	return ExitSucceeded
}
