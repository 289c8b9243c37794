package sandboxchild

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The memory-evidence filter. RLIMIT_AS refuses an allocation without a
// trace the runner could read: the kernel counts no refusal, and whatever
// python reports about it comes from the process the code controls. So
// the helper installs, right before the exec, a seccomp filter that sends
// every mmap and mremap asking for more than NotifyAbove bytes to the
// runner (SECCOMP_RET_USER_NOTIF). A request for more than the whole limit
// gets ENOMEM, exactly what RLIMIT_AS would have answered, and is counted:
// the kernel's evidence that the memory limit, not the code's words,
// stopped it. A smaller one goes on to the kernel; the runner records it
// when the process's mapped size (/proc/<pid>/status VmSize) plus the
// request passes the limit.

// NotifyAbove: every mmap and mremap asking for more than this many bytes
// (pymalloc's 1 MiB arenas included) is sent to the runner, which lets
// through those that fit (SECCOMP_USER_NOTIF_FLAG_CONTINUE: the kernel and
// RLIMIT_AS then decide) and records those that would take the process
// past its limit: evidence, seen by the runner, that the code met its
// memory limit, which a peak RSS of "half the limit" is not (code can
// reach half, then claim MemoryError).
const NotifyAbove = 1<<20 - 1

// memoryFilter is the BPF program for limit bytes, or nil on an
// architecture it does not know.
func memoryFilter(limit uint64) []unix.SockFilter {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		return nil
	}
	const (
		offNr   = 0
		offArch = 4
		offArgs = 16
	)
	hi, lo := uint32(limit>>32), uint32(limit)
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	jmp := func(op uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	ret := func(k uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k} }
	// A 64-bit length over limit: high word above, or equal and low word
	// above. Jumps are relative to the next instruction.
	const allow, notify = 15, 16
	lenOver := func(at int, arg uint32) []unix.SockFilter {
		off := offArgs + 8*arg
		return []unix.SockFilter{
			ld(off + 4), // at+0: high word
			jmp(unix.BPF_JGT, hi, uint8(notify-at-2), 0), // at+1
			jmp(unix.BPF_JEQ, hi, 0, uint8(allow-at-3)),  // at+2
			ld(off), // at+3: low word
			jmp(unix.BPF_JGT, lo, uint8(notify-at-5), uint8(allow-at-5)), // at+4
		}
	}
	prog := []unix.SockFilter{
		ld(offArch),                            // 0
		jmp(unix.BPF_JEQ, arch, 0, allow-2),    // 1
		ld(offNr),                              // 2
		jmp(unix.BPF_JEQ, unix.SYS_MMAP, 0, 5), // 3: else to 9
	}
	prog = append(prog, lenOver(4, 1)...)                                              // 4..8: mmap(addr, length, ...)
	prog = append(prog, jmp(unix.BPF_JEQ, unix.SYS_MREMAP, 0, allow-10))               // 9
	prog = append(prog, lenOver(10, 2)...)                                             // 10..14: mremap(old, old_size, new_size, ...)
	prog = append(prog, ret(unix.SECCOMP_RET_ALLOW), ret(unix.SECCOMP_RET_USER_NOTIF)) // 15, 16
	return prog
}

// listenerMsg prepares, before the limits apply, what sendListener sends:
// one byte and an SCM_RIGHTS message whose fd is filled in later.
type listenerMsg struct {
	data [1]byte
	oob  []byte
	iov  syscall.Iovec
	hdr  syscall.Msghdr
	prog unix.SockFprog
	filt []unix.SockFilter
}

func newListenerMsg(limit uint64) *listenerMsg {
	f := memoryFilter(min(limit, NotifyAbove))
	if f == nil {
		return nil
	}
	m := &listenerMsg{data: [1]byte{'L'}, oob: unix.UnixRights(0), filt: f}
	m.iov.Base = &m.data[0]
	m.iov.SetLen(1)
	m.hdr.Iov = &m.iov
	m.hdr.Iovlen = 1
	m.hdr.Control = &m.oob[0]
	m.hdr.SetControllen(len(m.oob))
	m.prog = unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	return m
}

// installAndSend installs the filter on this (locked) thread and sends its
// listener to the runner over FDStatus, a unix socket. It does not
// allocate. A kernel or sandbox that refuses user notification leaves the
// run without this evidence, nothing else.
func (m *listenerMsg) installAndSend() {
	if m == nil {
		return
	}
	// no_new_privs is per thread: set it on the thread that execs.
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return
	}
	fd, _, e := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&m.prog)))
	if e != 0 {
		return
	}
	// The fd goes where UnixRights(0) put its placeholder.
	*(*int32)(unsafe.Pointer(&m.oob[unix.CmsgLen(0)])) = int32(fd)
	_, _, _ = syscall.RawSyscall(syscall.SYS_SENDMSG, FDStatus, uintptr(unsafe.Pointer(&m.hdr)), 0)
	_, _, _ = syscall.RawSyscall(syscall.SYS_CLOSE, fd, 0, 0)
}
