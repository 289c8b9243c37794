// Command runner runs one piece of AI-generated code (Python, SQL or JSX)
// under limits and prints exactly one ExecutionResult as JSON on stdout.
//
//	runner run --language python|sql|jsx [--file PATH | stdin] [flags]
//	runner run --task-dir DIR [--termination-log PATH]   (inside a Pod)
//
// Exit status: 0 succeeded, 1 the execution failed, 2 usage error.
// The work lives in internal/runner; this file stays thin.
package main

import (
	"context"
	"os"

	"github.com/codeexec/codeexec-operator/internal/runner"
)

func main() {
	// Code that shares the runner's uid can signal it: every catchable
	// signal is caught, SIGTERM and SIGINT end the run with a result line,
	// the rest are dropped (runner.SignalContext).
	ctx, stop := runner.SignalContext(context.Background())
	code := runner.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
