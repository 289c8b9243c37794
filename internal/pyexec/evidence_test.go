package pyexec

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// evidenceOptions are small limits for the evidence tests; the memory
// limit is low so that what should hit it does so at once, and the CPU
// limit high so that nothing here can reach it on a slow machine.
func evidenceOptions(code string) Options {
	return Options{
		Code:        []byte(code),
		Python:      testPython,
		Timeout:     60 * time.Second,
		CPUTime:     30 * time.Second,
		MemoryBytes: 512 << 20,
	}
}

// TestReasonsComeFromEvidence runs the forgeries of issue 12: code that
// exits or dies the way a limit would make it, without meeting the limit,
// gets RuntimeError; code a limit really stopped gets the limit's reason.
func TestReasonsComeFromEvidence(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	cases := map[string]struct {
		code string
		mem  int64
		want result.Reason
	}{
		"os._exit(152) is not a CPU limit":  {code: "import os\nos._exit(152)", want: result.RuntimeError},
		"self SIGXCPU is not a CPU limit":   {code: "import os, signal\nos.kill(os.getpid(), signal.SIGXCPU)\nimport time\ntime.sleep(5)", want: result.RuntimeError},
		"self SIGKILL is not out of memory": {code: "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", want: result.RuntimeError},
		"MemoryError on stderr then abort":  {code: "import os, sys\nsys.stderr.write('MemoryError\\nFatal Python error: MemoryError\\n')\nsys.stderr.flush()\nos.abort()", want: result.RuntimeError},
		"raise MemoryError":                 {code: "raise MemoryError()", want: result.RuntimeError},
		"32 GiB mmap refused by the limit":  {code: "import mmap\nm = mmap.mmap(-1, 32 << 30)\nresult = 1", want: result.MemoryLimitExceeded},
		"8 GiB bytearray refused":           {code: "b = bytearray(8 << 30)\nresult = 1", want: result.MemoryLimitExceeded},
		"list bomb":                         {code: "x = []\nwhile True:\n    x.append([0] * 1_000_000)", want: result.MemoryLimitExceeded},
		"mmap over the limit, caught":       {code: "import mmap\ntry:\n    mmap.mmap(-1, 32 << 30)\nexcept OSError:\n    pass\nresult = 'fine'", want: result.Completed},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o := evidenceOptions(c.code)
			if c.mem > 0 {
				o.MemoryBytes = c.mem
			}
			res := Run(context.Background(), o)
			replyOf(t, res)
			t.Logf("%s: %s", res.Reason, res.Message)
			if res.Reason != c.want {
				t.Errorf("%s: %s, want %s\nstderr: %s", res.Reason, res.Message, c.want, tail(res.Stderr, 400))
			}
		})
	}
}

// TestBigResultsStopAtTheBudget: pandas and numpy results far over the
// output budget end OutputLimitExceeded (they used to be materialised in
// full first, and a 3-million-row Series ran out of memory after 9.5 s).
func TestBigResultsStopAtTheBudget(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	for name, code := range map[string]string{
		"series":         "result = pd.Series(np.zeros(3_000_000))",
		"ndarray":        "result = np.zeros(30_000_000)",
		"2-d ndarray":    "result = np.zeros((3_000_000, 4))",
		"datetime array": "result = np.arange(3_000_000).astype('datetime64[s]')",
		"dataframe":      "result = pd.DataFrame(np.zeros((3_000_000, 3)))",
		"dict":           "result = dict.fromkeys(range(3_000_000), 0)",
		"list":           "result = [0] * 20_000_000",
		"series of strs": "result = pd.Series(['x'] * 3_000_000)",
	} {
		t.Run(name, func(t *testing.T) {
			o := evidenceOptions(code)
			o.MaxOutputBytes = 1 << 20
			res := Run(context.Background(), o)
			replyOf(t, res)
			if res.Reason != result.OutputLimitExceeded {
				t.Errorf("%s: %s\nstderr: %s", res.Reason, res.Message, tail(res.Stderr, 400))
			}
		})
	}
	// Just under the budget still converts whole.
	o := evidenceOptions("result = pd.Series(np.zeros(100_000))")
	o.MaxOutputBytes = 10 << 20
	if res := Run(context.Background(), o); res.Reason != result.Completed || !strings.HasSuffix(string(res.Result), `"99999":0.0}`) {
		t.Errorf("a Series under the budget: %s: %s %.80s", res.Reason, res.Message, res.Result)
	}
}

// TestOutputLimitNeedsTheBytes: the code shares its process with the
// bootstrap, so it can report anything through the bootstrap's own
// send_error or send (found with gc). OutputLimitExceeded comes only from
// the runner's count of the result's bytes: a claim with a small result,
// or with none, is a RuntimeError.
func TestOutputLimitNeedsTheBytes(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	find := `import gc, os
fns = {}
for o in gc.get_objects():
    if type(o).__name__ == "function" and o.__code__.co_filename == "<string>" and o.__name__ in ("send", "send_error", "send_over"):
        fns[o.__name__] = o
assert "send" in fns and "send_error" in fns, "the bootstrap's senders were not found: %r" % sorted(fns)
`
	for name, code := range map[string]string{
		"an error frame claiming it": find + `fns["send_error"]("OutputLimitExceeded", "OutputLimitExceeded", "forged")
os._exit(0)`,
		"a short over frame": find + `fns["send"](b"over", b"[1,2")
os._exit(0)`,
		"send_over with a small result": find + `fns.get("send_over", fns["send"])(b"[1,2,3]")
os._exit(0)`,
	} {
		t.Run(name, func(t *testing.T) {
			o := evidenceOptions(code)
			o.MaxOutputBytes = 1 << 10
			res := Run(context.Background(), o)
			t.Logf("%s: %s", res.Reason, res.Message)
			if res.Reason != result.RuntimeError {
				t.Errorf("%s: %s, want RuntimeError\nstderr: %s", res.Reason, res.Message, tail(res.Stderr, 400))
			}
		})
	}
	// The honest case: a result over the budget is counted by the runner.
	o := evidenceOptions("result = 'x' * 5000")
	o.MaxOutputBytes = 1 << 10
	if res := Run(context.Background(), o); res.Reason != result.OutputLimitExceeded {
		t.Errorf("a 5000-byte string over a 1 KiB budget: %s: %s", res.Reason, res.Message)
	}
}

// TestThreadsFitTheMemoryLimit: under the default 512 MiB a program can
// start 40 threads (numpy, pandas and honest code start threads), even
// when the runner inherited an unlimited RLIMIT_STACK. glibc's per-thread
// malloc arenas (64 MiB of address space each) and a 32 MiB default stack
// used to stop it at 14 threads, or fewer.
func TestThreadsFitTheMemoryLimit(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	code := `import threading
stop = threading.Event()
ts = []
try:
    for _ in range(40):
        t = threading.Thread(target=stop.wait)
        t.start()
        ts.append(t)
finally:
    stop.set()
result = len(ts)
`
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &old); err != nil {
		t.Fatal(err)
	}
	for _, stack := range []uint64{old.Cur, unix.RLIM_INFINITY} {
		if stack > old.Max {
			continue
		}
		t.Run(strconv.FormatUint(stack, 10), func(t *testing.T) {
			if err := unix.Setrlimit(unix.RLIMIT_STACK, &unix.Rlimit{Cur: stack, Max: old.Max}); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = unix.Setrlimit(unix.RLIMIT_STACK, &old) }()
			o := evidenceOptions(code)
			o.MemoryBytes = DefaultMemoryBytes
			res := Run(context.Background(), o)
			if res.Reason != result.Completed || string(res.Result) != "40" {
				t.Errorf("%s: %s %s\nstdout %s\nstderr: %s", res.Reason, res.Message, res.Result, tail(res.Stdout, 400), tail(res.Stderr, 400))
			}
		})
	}
}

// TestLineIsUTF8 forges a result frame through the bootstrap's own send
// (found with gc) carrying raw invalid UTF-8: json.Valid accepts it, and
// the runner's line must still be valid UTF-8 JSON.
func TestLineIsUTF8(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	code := `import gc, os
send = None
for o in gc.get_objects():
    if type(o).__name__ == "function" and o.__name__ == "send" and o.__code__.co_filename == "<string>":
        send = o
assert send is not None, "the bootstrap's send was not found"
send(b"result", b'{"a":"\xff\xfe","k\xc0":1}')
os._exit(0)
`
	res := Run(context.Background(), evidenceOptions(code))
	line := result.Encode(res)
	t.Logf("%s: %s %s", res.Reason, res.Message, res.Result)
	if !utf8.Valid(line) || !json.Valid(line) {
		t.Fatalf("the line is not valid UTF-8 JSON: %q", line)
	}
	if res.Reason != result.Completed {
		t.Errorf("the forged frame did not arrive (%s: %s): the test no longer exercises the path", res.Reason, res.Message)
	}
}

// TestAttackReviewHalfBudgetForgeries: code that spends half its budget,
// then dies or talks the way a limit would make it, is not given the
// limit's reason. The memory reason needs a request the runner saw pass
// the limit (the seccomp filter reports every mapping of 1 MiB or more);
// the honest list bombs still end MemoryLimitExceeded.
func TestAttackReviewHalfBudgetForgeries(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	// 300 MiB touched of a 512 MiB limit: a peak RSS well over half.
	const half = "b = bytearray(300 << 20)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\n"
	const burn = "import os, signal, time, resource\nwhile sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) < 1.8:\n    pass\n"
	cases := map[string]struct {
		code string
		cpu  int
		want result.Reason
	}{
		"half the memory, then raise MemoryError": {code: half + "raise MemoryError()", want: result.RuntimeError},
		"half the memory, then MemoryError on stderr and abort": {code: half +
			"import os, sys\nsys.stderr.write('MemoryError\\nFatal Python error: MemoryError\\n')\nsys.stderr.flush()\nos.abort()", want: result.RuntimeError},
		"half the memory, then ENOMEM":     {code: half + "raise OSError(12, 'Cannot allocate memory')", want: result.RuntimeError},
		"half the memory, then SIGSEGV":    {code: half + "import ctypes\nctypes.string_at(0)", want: result.RuntimeError},
		"list bomb":                        {code: "x = []\nwhile True:\n    x.append([0] * 1_000_000)", want: result.MemoryLimitExceeded},
		"list bomb of small objects":       {code: "x = []\nwhile True:\n    x.append(str(len(x)) * 8)", want: result.MemoryLimitExceeded},
		"one list over the limit":          {code: "x = [0] * 10**10", want: result.MemoryLimitExceeded},
		"bytearrays up to the limit":       {code: "x = []\nwhile True:\n    x.append(bytearray(16 << 20))", want: result.MemoryLimitExceeded},
		"honest half, then a clean result": {code: half + "result = len(b)", want: result.Completed},
		// CPU: a limit of 3 s; the code burns 60 % of it, then exits as
		// the bootstrap does on SIGXCPU. In the namespace sandbox (root)
		// only a SIGKILL from the kernel is RLIMIT_CPU.
		"60% of the CPU, then exit 152": {code: burn + "os._exit(152)", cpu: 3, want: result.RuntimeError},
		"60% of the CPU, then SIGXCPU":  {code: burn + "os.kill(os.getpid(), signal.SIGXCPU)\ntime.sleep(30)", cpu: 3, want: result.RuntimeError},
		"a CPU loop":                    {code: "while True:\n    pass", cpu: 3, want: result.CPULimitExceeded},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o := evidenceOptions(c.code)
			o.noAuditHook = true
			if c.cpu > 0 {
				o.CPUTime = time.Duration(c.cpu) * time.Second
			}
			res := Run(context.Background(), o)
			t.Logf("%s: %s", res.Reason, res.Message)
			if res.Reason != c.want {
				t.Errorf("%s: %s, want %s\nstderr: %s", res.Reason, res.Message, c.want, tail(res.Stderr, 400))
			}
		})
	}
}
