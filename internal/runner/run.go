package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// Run executes c and always returns one ExecutionResult: failures of any
// kind, the runner's own included, become a reason and a message.
func Run(ctx context.Context, c Config) (res result.ExecutionResult) {
	start := time.Now()
	c = c.WithDefaults()
	defer func() {
		if p := recover(); p != nil {
			res = result.Failure(result.InternalError, fmt.Sprintf("runner panic: %v", p))
		}
		if res.DurationMillis == 0 {
			res = res.WithDuration(start)
		}
	}()
	switch c.Language {
	case Python:
		return runPython(ctx, c)
	case SQL:
		return runSQL(ctx, c)
	case JSX:
		return runJSX(ctx, c)
	default:
		return result.Failure(result.InvalidInput, fmt.Sprintf("language %q is not one of python, sql, jsx", c.Language))
	}
}
