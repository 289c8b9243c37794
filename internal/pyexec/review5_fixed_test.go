package pyexec

import (
	"context"
	"testing"
	"time"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// TestAttackReview5MessageIsNotCapped: the bootstrap cuts an exception's
// message (about 2 KB), but the runner copies an error frame's message
// into the result whole. The code fills stdout and stderr to their caps
// with '<', then sends, through the bootstrap's own send_error (found
// with gc), an error whose message is 1,000,000 '<' (it fits the
// channel's MaxOutputBytes + 64 KiB), and exits 0. Go's encoder writes
// each '<' as \u003c: the line is about 6 MiB per field, over what the
// judge reads from the supervisor (MaxOutputBytes + 12 × MaxStreamBytes +
// 64 KiB, internal/runner.maxReportLine), so in the Pod the verdict is
// OutputLimitExceeded ("the sandbox's report is over …") for a run that
// ended with a RuntimeError and kept its streams within their caps.
func TestAttackReview5MessageIsNotCapped(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	code := `import gc, os, sys
fns = {}
for o in gc.get_objects():
    if type(o).__name__ == "function" and o.__code__.co_filename == "<string>" and o.__name__ in ("send", "send_error"):
        fns[o.__name__] = o
sys.stdout.write("<" * (1 << 20)); sys.stdout.flush()
sys.stderr.write("<" * (1 << 20)); sys.stderr.flush()
fns["send_error"]("RuntimeError", "ValueError", "<" * 1000000)
os._exit(0)
`
	o := evidenceOptions(code)
	o.noAuditHook = true
	o.MaxOutputBytes = DefaultMaxOutputBytes
	o.MaxStreamBytes = DefaultMaxStreamBytes
	res := Run(context.Background(), o)
	line := result.Encode(res)
	max := o.MaxOutputBytes + 12*o.MaxStreamBytes + 64<<10
	t.Logf("%s: message of %d bytes, stdout %d, stderr %d, line %d bytes (the judge reads at most %d)", res.Reason, len(res.Message), len(res.Stdout), len(res.Stderr), len(line), max)
	if res.Reason != result.RuntimeError {
		t.Errorf("%s, want RuntimeError", res.Reason)
	}
	if int64(len(line)) > max {
		t.Errorf("the line is %d bytes, over the %d bytes the judge reads: the judge reports OutputLimitExceeded", len(line), max)
	}
}

// TestAttackReview5LoweredHardCPULimit: in the namespace sandbox the
// runner takes a SIGKILL of python (PID 1, no OOM kill counted) after half
// the CPU budget for RLIMIT_CPU, because "its hard limit equals the soft
// one" (cpuEvidence). But the code may lower its own limits: with a
// budget of 3 s it burns 1.8 s, then sets RLIMIT_CPU to (2, 2). The kernel
// SIGKILLs it at 2 s, a third under its limit, and the run is reported
// CPULimitExceeded. (The audit hook refuses resource.setrlimit; it is off
// here, as in TestAttackReviewHalfBudgetForgeries, since code can empty
// it through gc.)
func TestAttackReview5LoweredHardCPULimit(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	const burn = "import os, signal, time, resource\nwhile sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) < 1.8:\n    pass\n"
	o := evidenceOptions(burn + "resource.setrlimit(resource.RLIMIT_CPU, (2, 2))\nwhile True:\n    pass\n")
	o.noAuditHook = true
	o.CPUTime = 3 * time.Second
	res := Run(context.Background(), o)
	t.Logf("%s: %s", res.Reason, res.Message)
	if res.Reason != result.RuntimeError {
		t.Errorf("%s: %s, want RuntimeError: the code killed itself with a limit it lowered to 2 s of its 3 s", res.Reason, res.Message)
	}
}
