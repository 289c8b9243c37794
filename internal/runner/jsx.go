package runner

import (
	"context"

	"github.com/codeexec/codeexec-operator/internal/result"
)

func runJSX(ctx context.Context, c Config) result.ExecutionResult {
	return result.Failure(result.InternalError, "jsx is not implemented yet")
}
