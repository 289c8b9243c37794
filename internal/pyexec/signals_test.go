package pyexec

import (
	"context"
	"encoding/json"
	"os/signal"
	"syscall"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// TestPythonStartsWithDefaultSignals: python gets the kernel's default
// disposition for every signal it does not set itself and an empty mask,
// whatever the runner inherited (here SIGHUP ignored, as under nohup or
// in a shell's background job: SIG_IGN survives execve).
func TestPythonStartsWithDefaultSignals(t *testing.T) {
	requirePython(t)
	signal.Ignore(syscall.SIGHUP)
	defer signal.Reset(syscall.SIGHUP)
	code := `
st = dict(l.split(':\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\t' in l)
ign = int(st['SigIgn'].strip(), 16)
result = {'ignored': [s for s in range(1, 65) if ign >> (s - 1) & 1], 'blocked': st['SigBlk'].strip()}
`
	for _, ns := range []bool{false, true} {
		o := evidenceOptions(code)
		o.noNamespaces = !ns
		res := Run(context.Background(), o)
		if res.Reason != result.Completed {
			t.Fatalf("namespaces %t: %s: %s\n%s", ns, res.Reason, res.Message, tail(res.Stderr, 400))
		}
		var got struct {
			Ignored []int  `json:"ignored"`
			Blocked string `json:"blocked"`
		}
		if err := json.Unmarshal(res.Result, &got); err != nil {
			t.Fatal(err)
		}
		// python itself ignores SIGPIPE and SIGXFSZ; nothing else.
		for _, s := range got.Ignored {
			if s != int(syscall.SIGPIPE) && s != int(syscall.SIGXFSZ) {
				t.Errorf("namespaces %t: python starts with signal %d (%v) ignored: %s", ns, s, syscall.Signal(s), res.Result)
			}
		}
		if got.Blocked != "0000000000000000" {
			t.Errorf("namespaces %t: python starts with signals blocked: %s", ns, got.Blocked)
		}
	}
}

// TestCodeCannotForgeAFault: the runner catches every signal, but the Go
// runtime takes a SIGSEGV (SIGBUS, SIGFPE, SIGILL) whose si_code is not
// SI_USER or SI_TKILL for a fault of its own and panics. The system calls
// that choose si_code for another process are refused: rt_sigqueueinfo,
// rt_tgsigqueueinfo, pidfd_send_signal with a siginfo, fcntl(F_SETSIG).
// The plain ones (kill, tgkill, pidfd_send_signal without siginfo,
// F_SETOWN) still work. The audit hook is off: the kernel decides.
func TestCodeCannotForgeAFault(t *testing.T) {
	requirePython(t)
	code := `
import ctypes, os, signal, threading, fcntl
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(*a):
    r = libc.syscall(*[ctypes.c_long(x) if isinstance(x, int) else x for x in a])
    return 'ok' if r >= 0 else os.strerror(ctypes.get_errno())
info = (ctypes.c_int * 32)()
info[0], info[2] = 0, -1  # si_signo 0, si_code SI_QUEUE
me, tid = os.getpid(), threading.get_native_id()
pidfd = os.pidfd_open(me)
r, w = os.pipe()
result = {
    'rt_sigqueueinfo': sc(129, me, 0, info),
    'rt_tgsigqueueinfo': sc(297, me, tid, 0, info),
    'pidfd_send_signal with siginfo': sc(424, pidfd, 0, info, 0),
    'pidfd_send_signal': sc(424, pidfd, 0, 0, 0),
    'kill': sc(62, me, 0),
    'tgkill': sc(234, me, tid, 0),
    'F_SETSIG': sc(72, r, 10, int(signal.SIGSEGV)),
    'F_SETOWN': sc(72, r, 8, me),
}
`
	o := evidenceOptions(code)
	o.noAuditHook = true
	res := Run(context.Background(), o)
	if res.Reason != result.Completed {
		t.Fatalf("%s: %s\n%s", res.Reason, res.Message, tail(res.Stderr, 600))
	}
	var got map[string]string
	if err := json.Unmarshal(res.Result, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"rt_sigqueueinfo": "Operation not permitted", "rt_tgsigqueueinfo": "Operation not permitted",
		"pidfd_send_signal with siginfo": "Operation not permitted", "F_SETSIG": "Operation not permitted",
		"pidfd_send_signal": "ok", "kill": "ok", "tgkill": "ok", "F_SETOWN": "ok",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}
