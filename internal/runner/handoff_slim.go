//go:build runner_slim

package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// Slim reports whether this is a runner_slim build (see handoff.go).
const Slim = true

// handOff execs FullBinary, from the directory of the running binary, for
// every language but JSX.
func handOff(lang Language) error {
	if lang == JSX {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return &handOffError{fmt.Errorf("this runner runs only jsx itself and cannot find its own path to start %s for %s: %w", FullBinary, lang, err)}
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	full := filepath.Join(filepath.Dir(exe), FullBinary)
	argv := append([]string{full}, os.Args[1:]...)
	err = syscall.Exec(full, argv, os.Environ())
	return &handOffError{fmt.Errorf("this runner runs only jsx itself and could not start %s for %s: %w", full, lang, err)}
}

// runPython and runSQL are never reached: parseRun hands those languages
// over first. A Config built in process (not from the command line) gets
// an InternalError.
func runPython(context.Context, Config) result.ExecutionResult { return notLinked(Python) }

func runSQL(context.Context, Config) result.ExecutionResult { return notLinked(SQL) }

func notLinked(lang Language) result.ExecutionResult {
	return result.Failure(result.InternalError, fmt.Sprintf("this runner build (runner_slim) runs only jsx in process; %s runs in %s", lang, FullBinary))
}
