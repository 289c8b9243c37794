package jsxbuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"
)

// esbuild's parser recurses once per nesting level, and a goroutine that
// runs out of stack ends the whole process: 400,000 "!" or "[" in a 1 MiB
// source are enough. A result must come out whatever the source, so a
// source bigger than Options.InProcessMaxBytes (where the depth, and so the
// stack, stays small) is compiled in a child process: the running binary
// again, told by childEnv to act as the compiler. Its death, from a stack
// overflow or anything else, becomes an error here.

// DefaultInProcessMaxBytes is the default Options.InProcessMaxBytes: at one
// nesting level per byte, the stack stays under about 100 MiB.
const DefaultInProcessMaxBytes = 32 << 10

const (
	childEnv = "CODEEXEC_JSXBUILD_CHILD"
	// childMaxStack makes a runaway recursion end sooner and smaller than
	// Go's default 1 GB limit.
	childMaxStack = 128 << 20
	// maxChildOutput bounds what is read back from the child.
	maxChildOutput = 64 << 20
	maxChildStderr = 64 << 10
)

// init turns any binary that links this package into the compiler child
// when started with childEnv=1: it reads the source on stdin, compiles it in
// process and writes a childResult on stdout.
func init() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	os.Exit(childMain(os.Stdin, os.Stdout))
}

// childResult is what the child writes back.
type childResult struct {
	Output  *Output       `json:"output,omitempty"`
	Compile *CompileError `json:"compile,omitempty"`
	Refused *RefusedError `json:"refused,omitempty"`
	Error   string        `json:"error,omitempty"`
}

func childMain(in io.Reader, out io.Writer) int {
	debug.SetMaxStack(childMaxStack)
	src, err := io.ReadAll(io.LimitReader(in, maxChildOutput))
	if err != nil {
		fmt.Fprintf(os.Stderr, "jsxbuild child: reading the source: %v\n", err)
		return 2
	}
	var res childResult
	o, err := compileInProcess(context.Background(), src, Options{Timeout: time.Hour}.withDefaults())
	var (
		ce *CompileError
		re *RefusedError
	)
	switch {
	case err == nil:
		res.Output = o
	case errors.As(err, &ce):
		res.Compile = ce
	case errors.As(err, &re):
		res.Refused = re
	default:
		res.Error = err.Error()
	}
	if err := json.NewEncoder(out).Encode(res); err != nil {
		fmt.Fprintf(os.Stderr, "jsxbuild child: writing the result: %v\n", err)
		return 2
	}
	return 0
}

// compileIsolated runs compileInProcess in a child process within the time
// budget.
func compileIsolated(ctx context.Context, src []byte, opts Options) (*Output, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the running binary to compile in a child process: %w", err)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(parent, opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = []string{childEnv + "=1", "GOTRACEBACK=none"}
	cmd.Stdin = bytes.NewReader(src)
	var stdout, stderr boundedBuffer
	stdout.max, stderr.max = maxChildOutput, maxChildStderr
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	if err := parent.Err(); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ErrTimeout
	}
	if runErr != nil {
		text := stderr.String()
		if strings.Contains(text, "stack overflow") || strings.Contains(text, "stack exceeds") {
			return nil, &CompileError{Errors: []Diagnostic{{Text: "the code is nested too deeply to compile"}}}
		}
		return nil, fmt.Errorf("the compiler process failed: %v: %s", runErr, lastLine(text))
	}
	if stdout.overflow {
		return nil, errors.New("the compiler process wrote too much")
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("reading the compiler process's result: %w", err)
	}
	switch {
	case res.Output != nil:
		return res.Output, nil
	case res.Compile != nil && len(res.Compile.Errors) > 0:
		return nil, res.Compile
	case res.Refused != nil:
		return nil, res.Refused
	case res.Error != "":
		return nil, errors.New(res.Error)
	}
	return nil, errors.New("the compiler process returned nothing")
}

// boundedBuffer keeps at most max bytes and notes the rest.
type boundedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.overflow = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
