package runner

import (
	"testing"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// TestAttackReview5JudgeRefusesAnUncappedMessage: in the Pod the code
// makes its verdict OutputLimitExceeded without passing any output limit.
// It writes 1 MiB of '<' to stdout and to stderr (their caps), then sends,
// through the bootstrap's own send_error (found with gc), an error frame
// whose message is 1,000,000 '<' and exits 0. The supervisor copies the
// message whole; Go's encoder writes each '<' as \u003c, so the
// supervisor's line is about 18 MB, over the judge's maxReportLine
// (MaxOutputBytes + 12 × MaxStreamBytes + 64 KiB = 13.7 MB): the judge
// reports "the sandbox's report is over … bytes", OutputLimitExceeded.
// The message should be capped where it is copied (as the summary's is),
// and the verdict be the code's RuntimeError.
func TestAttackReview5JudgeRefusesAnUncappedMessage(t *testing.T) {
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
	pr := runPair(t, code, 30)
	t.Logf("%s: %.200s (line %d bytes)", pr.res.Reason, pr.res.Message, len(pr.line))
	if pr.res.Reason != result.RuntimeError {
		t.Errorf("the judge's verdict is %s (%.200s), want the code's RuntimeError", pr.res.Reason, pr.res.Message)
	}
}
