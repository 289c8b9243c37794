//go:build !runner_slim

package runner

import (
	"context"

	"github.com/codeexec/codeexec-operator/internal/pyexec"
	"github.com/codeexec/codeexec-operator/internal/result"
)

// runPython maps the Config onto pyexec, which owns the sandbox.
func runPython(ctx context.Context, c Config) result.ExecutionResult {
	inputs := make([]pyexec.Input, 0, len(c.Inputs))
	for _, in := range c.Inputs {
		inputs = append(inputs, pyexec.Input{Name: in.Name, Path: in.Path, Format: in.Format})
	}
	return pyexec.Run(ctx, pyexec.Options{
		Code:           c.Code,
		Python:         c.Python,
		Inputs:         inputs,
		ScratchDir:     c.ScratchDir,
		Timeout:        c.Timeout,
		NoWallClock:    c.NoWallClock,
		CPUTime:        c.CPUTime,
		MemoryBytes:    c.MemoryBytes,
		MaxOutputBytes: c.MaxOutputBytes,
		MaxStreamBytes: c.MaxStreamBytes,
	})
}
