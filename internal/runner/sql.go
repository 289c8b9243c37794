package runner

import (
	"context"

	"github.com/codeexec/codeexec-operator/internal/result"
)

func runSQL(ctx context.Context, c Config) result.ExecutionResult {
	return result.Failure(result.InternalError, "sql is not implemented yet")
}
