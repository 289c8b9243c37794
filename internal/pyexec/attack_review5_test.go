//go:build attackreview

package pyexec

import (
	"context"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// attackReview5Reserve brings the process's VmSize to within 1.5 MiB of
// the 512 MiB limit with PROT_NONE reservations (no memory used), keeping
// every request small enough that the runner records none of them, and
// leaves a 2 MiB mapping `a` to map over. It defines libc.mmap.
const attackReview5Reserve = `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
MAP_PRIVATE, MAP_ANON, MAP_FIXED, MAP_SHARED = 0x02, 0x20, 0x10, 0x01
FAIL = ctypes.c_void_p(-1).value
def vmsize():
    for l in open('/proc/self/status'):
        if l.startswith('VmSize:'):
            return int(l.split()[1]) << 10
LIMIT = 512 << 20
a = libc.mmap(None, 2 << 20, 0, MAP_PRIVATE | MAP_ANON, -1, 0)
assert a not in (None, FAIL)
need = LIMIT - vmsize() - (3 << 19)
r = libc.mmap(None, need, 0, MAP_PRIVATE | MAP_ANON, -1, 0)
assert r not in (None, FAIL), ctypes.get_errno()
`

// TestAttackReview5OverLimitRecordedBeforeTheKernel: the runner records a
// mapping as "past the limit" when VmSize + the request's length passes
// the limit, at notification time, before the kernel decides, and never
// learns whether the kernel refused it. A MAP_FIXED mapping over one that
// already exists (net growth 0) succeeds; an mmap with a bad fd fails with
// EBADF. Neither met the memory limit, yet the code then raises
// MemoryError and gets MemoryLimitExceeded ("it asked the kernel for 2 MiB
// more with 510 MiB already mapped, past its memory limit") while its
// RSS is a few MiB.
func TestAttackReview5OverLimitRecordedBeforeTheKernel(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	for name, code := range map[string]string{
		"MAP_FIXED over an existing mapping, granted": attackReview5Reserve + `
b = libc.mmap(a, 2 << 20, 3, MAP_PRIVATE | MAP_ANON | MAP_FIXED, -1, 0)
assert b == a, ctypes.get_errno()
raise MemoryError()`,
		"mmap with a bad fd, EBADF": attackReview5Reserve + `
b = libc.mmap(None, 2 << 20, 1, MAP_SHARED, 9999, 0)
assert b == FAIL and ctypes.get_errno() == 9, ctypes.get_errno()
raise MemoryError()`,
	} {
		t.Run(name, func(t *testing.T) {
			o := evidenceOptions(code)
			o.noAuditHook = true
			res := Run(context.Background(), o)
			t.Logf("%s: %s", res.Reason, res.Message)
			if res.Reason != result.RuntimeError {
				t.Errorf("%s: %s, want RuntimeError (nothing was refused)\nstderr: %s", res.Reason, res.Message, tail(res.Stderr, 400))
			}
		})
	}
}
