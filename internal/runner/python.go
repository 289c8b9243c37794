package runner

import (
	"context"

	"github.com/codeexec/codeexec-operator/internal/result"
)

func runPython(ctx context.Context, c Config) result.ExecutionResult {
	return result.Failure(result.InternalError, "python is not implemented yet")
}
