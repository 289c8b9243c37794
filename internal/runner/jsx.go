package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/codeexec/codeexec-operator/internal/jsxbuild"
	"github.com/codeexec/codeexec-operator/internal/result"
)

// jsxCompileBudget is the compile time budget; the execution's own timeout
// bounds it further.
const jsxCompileBudget = jsxbuild.DefaultTimeout

// jsxMemoryLimit is the soft heap limit while compiling (see runJSX).
const jsxMemoryLimit = 256 << 20

// runJSX compiles c.Code with esbuild's Transform into a sandboxed HTML
// document. The result payload is jsxbuild.Output (js, html, manifest); a
// compile error also carries {"errors": [{line, column, text}]} so that an
// editor can jump to each position.
func runJSX(ctx context.Context, c Config) result.ExecutionResult {
	// One compile per process, and the runner exits right after: collect
	// garbage only when the heap nears jsxMemoryLimit instead of every few
	// MiB, which on a 1 MiB source is most of the time spent.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(jsxMemoryLimit))
	budget := jsxCompileBudget
	if c.Timeout > 0 && c.Timeout < budget {
		budget = c.Timeout
	}
	out, err := jsxbuild.Compile(ctx, c.Code, jsxbuild.Options{Timeout: budget})
	if err != nil {
		return jsxFailure(err)
	}
	payload, err := out.AppendJSON(nil)
	if err != nil {
		return result.Failure(result.InternalError, "encoding the JSX result: "+err.Error())
	}
	if int64(len(payload)) > c.MaxOutputBytes {
		return result.Failure(result.OutputLimitExceeded, fmt.Sprintf(
			"the compiled JSX document is %d bytes as JSON, over the output limit of %d bytes", len(payload), c.MaxOutputBytes))
	}
	// AppendJSON writes valid, compact JSON in valid UTF-8 (jsxbuild's
	// checkOutput proves it on every test document): not scanned again.
	res := result.SuccessEncoded(payload)
	res.Message = fmt.Sprintf("compiled to a %d-byte document; render it in <iframe sandbox=%q srcdoc>", len(out.HTML), out.Manifest.Sandbox)
	return res
}

func jsxFailure(err error) result.ExecutionResult {
	var (
		tooLarge *jsxbuild.TooLargeError
		compile  *jsxbuild.CompileError
		refused  *jsxbuild.RefusedError
	)
	switch {
	case errors.As(err, &tooLarge):
		return result.Failure(result.InvalidInput, err.Error())
	case errors.As(err, &compile):
		res := result.Failure(result.CompilationError, err.Error())
		if b, merr := json.Marshal(map[string]any{"errors": compile.Errors}); merr == nil {
			res.Result = b
		}
		return res
	case errors.As(err, &refused):
		return result.Failure(result.SecurityViolation, err.Error())
	case errors.Is(err, jsxbuild.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return result.Failure(result.Timeout, err.Error())
	case errors.Is(err, context.Canceled):
		return result.Failure(result.InternalError, "interrupted: "+err.Error())
	default:
		return result.Failure(result.InternalError, err.Error())
	}
}
