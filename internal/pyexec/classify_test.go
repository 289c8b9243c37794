package pyexec

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/codeexec/codeexec-operator/internal/result"
)

func TestClassify(t *testing.T) {
	frame := func(kind, payload string) string {
		return "CX1 n " + kind + " " + strconv.Itoa(len(payload)) + "\n" + payload
	}
	ok := frame("result", `{"a":1}`)
	viol := frame("violation", `{"event":"os.fork","message":"os.fork refused: ()"}`)
	errFrame := func(reason string) string {
		return frame("error", `{"reason":"`+reason+`","type":"X","message":"m"}`)
	}
	clean := func(o outcome) outcome { o.exited = true; return o }
	memFrame := frame("error", `{"reason":"MemoryLimitExceeded","type":"MemoryError","message":"MemoryError: the code ran out of memory"}`)
	enomemFrame := frame("error", `{"reason":"RuntimeError","type":"OSError","message":"OSError: [Errno 12] Cannot allocate memory (line 3)"}`)
	cases := map[string]struct {
		o      outcome
		stderr string
		want   result.Reason
	}{
		"completed":                {o: clean(outcome{channel: []byte(ok)}), want: result.Completed},
		"timeout wins":             {o: outcome{timedOut: true, signal: syscall.SIGKILL, channel: []byte(ok)}, want: result.Timeout},
		"flood":                    {o: outcome{flooded: "stdout", signal: syscall.SIGKILL}, want: result.OutputLimitExceeded},
		"cancelled":                {o: outcome{cancelled: true, signal: syscall.SIGKILL}, want: result.RuntimeError},
		"helper failed":            {o: clean(outcome{exitCode: 121, setupErr: "exec failed"}), want: result.InternalError},
		"sigxcpu":                  {o: outcome{signal: syscall.SIGXCPU, cpu: 5 * time.Second}, want: result.CPULimitExceeded},
		"hard cpu kill":            {o: outcome{signal: syscall.SIGKILL, cpu: 6 * time.Second}, want: result.CPULimitExceeded},
		"pid 1 sigxcpu handler":    {o: clean(outcome{pid1: true, exitCode: 152, cpu: 5 * time.Second}), want: result.CPULimitExceeded},
		"cgroup oom":               {o: outcome{signal: syscall.SIGKILL, oomKills: 1}, want: result.MemoryLimitExceeded},
		"abort out of memory":      {o: outcome{signal: syscall.SIGABRT, maxRSS: 400 << 20}, stderr: "Fatal Python error: MemoryError", want: result.MemoryLimitExceeded},
		"segfault":                 {o: outcome{signal: syscall.SIGSEGV}, want: result.RuntimeError},
		"file size":                {o: outcome{signal: syscall.SIGXFSZ}, want: result.RuntimeError},
		"violation beats result":   {o: clean(outcome{channel: []byte(viol + ok)}), want: result.SecurityViolation},
		"tampered channel":         {o: clean(outcome{channel: []byte("CX1 x result 1\n1")}), want: result.SecurityViolation},
		"two results":              {o: clean(outcome{channel: []byte(ok + ok)}), want: result.SecurityViolation},
		"exit 3":                   {o: clean(outcome{exitCode: 3}), want: result.RuntimeError},
		"exit 0 without result":    {o: clean(outcome{}), want: result.RuntimeError},
		"compile error":            {o: clean(outcome{channel: []byte(errFrame("CompilationError"))}), want: result.CompilationError},
		"bootstrap cannot claim":   {o: clean(outcome{channel: []byte(errFrame("Timeout"))}), want: result.RuntimeError},
		"result over the limit":    {o: clean(outcome{channel: []byte(frame("result", `"xxxxxxxxxxxxxxxxxxxx"`)), maxOutput: 10}), want: result.OutputLimitExceeded},
		"cpu only matters on fail": {o: clean(outcome{channel: []byte(ok), cpu: 9 * time.Second}), want: result.Completed},

		// Memory: the kernel's counters decide; the code's report only
		// narrows what they allow.
		"MemoryError near the limit": {o: clean(outcome{channel: []byte(memFrame), maxRSS: 300 << 20}), want: result.MemoryLimitExceeded},
		"huge mapping refused":       {o: clean(outcome{channel: []byte(memFrame), bigAllocs: 1, bigAllocMax: 8 << 30}), want: result.MemoryLimitExceeded},
		"mmap ENOMEM over the limit": {o: clean(outcome{channel: []byte(enomemFrame), bigAllocs: 1, bigAllocMax: 32 << 30}), want: result.MemoryLimitExceeded},
		"cgroup limit hit":           {o: clean(outcome{channel: []byte(memFrame), cgroupLimitHit: true}), want: result.MemoryLimitExceeded},
		"oom kill with a result":     {o: clean(outcome{channel: []byte(ok), oomKills: 1}), want: result.Completed},

		// Forgeries from issue 12: the code's words without the evidence.
		"os._exit(152)":                    {o: clean(outcome{exitCode: 152, pid1: true}), want: result.RuntimeError},
		"os._exit(152) not pid 1":          {o: clean(outcome{exitCode: 152}), want: result.RuntimeError},
		"self SIGKILL":                     {o: outcome{signal: syscall.SIGKILL}, want: result.RuntimeError},
		"self SIGXCPU":                     {o: outcome{signal: syscall.SIGXCPU, cpu: 100 * time.Millisecond}, want: result.RuntimeError},
		"MemoryError on stderr abort":      {o: outcome{signal: syscall.SIGABRT, maxRSS: 20 << 20}, stderr: "MemoryError\n", want: result.RuntimeError},
		"raise MemoryError":                {o: clean(outcome{channel: []byte(memFrame), maxRSS: 20 << 20}), want: result.RuntimeError},
		"claimed memory frame":             {o: clean(outcome{channel: []byte(errFrame("MemoryLimitExceeded"))}), want: result.RuntimeError},
		"claimed cpu frame":                {o: clean(outcome{channel: []byte(errFrame("CPULimitExceeded"))}), want: result.RuntimeError},
		"mapping refused, unrelated error": {o: clean(outcome{channel: []byte(errFrame("RuntimeError")), bigAllocs: 1, bigAllocMax: 8 << 30}), want: result.RuntimeError},

		// Output: only the runner's own count of the bytes.
		"claimed output frame":         {o: clean(outcome{channel: []byte(errFrame("OutputLimitExceeded"))}), want: result.RuntimeError},
		"over frame past the budget":   {o: clean(outcome{channel: []byte(frame("over", `[0,0,0,0,0,0`)), maxOutput: 10}), want: result.OutputLimitExceeded},
		"over frame within the budget": {o: clean(outcome{channel: []byte(frame("over", `[0,`)), maxOutput: 10}), want: result.RuntimeError},
		"over frame and a result":      {o: clean(outcome{channel: []byte(frame("over", `[0,0,0,0,0,0`) + ok), maxOutput: 10}), want: result.SecurityViolation},
	}
	for name, c := range cases {
		o := c.o
		o.nonce = "n"
		o.cpuSoft = 5 * time.Second
		o.timeout = 10 * time.Second
		o.memLimit = 512 << 20
		if o.maxOutput == 0 {
			o.maxOutput = 1 << 20
		}
		o.stdout = newCapBuffer(1<<20, 16<<20, nil)
		o.stderr = newCapBuffer(1<<20, 16<<20, nil)
		o.stderr.Write([]byte(c.stderr))
		res := classify(&o)
		if res.Reason != c.want {
			t.Errorf("%s: %s (%s), want %s", name, res.Reason, res.Message, c.want)
		}
		if res.Succeeded != (res.Reason == result.Completed) {
			t.Errorf("%s: succeeded %v with %s", name, res.Succeeded, res.Reason)
		}
	}
}
