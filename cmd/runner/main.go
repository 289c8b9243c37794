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
	"os/signal"
	"syscall"

	"github.com/codeexec/codeexec-operator/internal/runner"
)

func main() {
	// The runner must survive what user code does to its process group.
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(runner.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
