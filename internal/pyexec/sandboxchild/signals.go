package sandboxchild

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Signals around the exec of python.
//
// resetSignals gives python the kernel's default disposition for every
// signal and an empty signal mask. execve resets caught signals by itself
// but keeps ignored ones (SIG_IGN) and the mask: a runner started with
// SIGHUP ignored (nohup, a shell's background job) would otherwise hand
// that on to the code.
//
// signalFilter keeps the code from sending signals that the Go runtime of
// a runner sharing its uid would take for a fault of its own. The runner
// catches every signal (runner.SignalContext), but the runtime treats a
// SIGSEGV, SIGBUS, SIGFPE or SIGILL whose si_code is neither SI_USER nor
// SI_TKILL as a real fault and panics the goroutine it interrupted. kill,
// tgkill and pidfd_send_signal without a siginfo give SI_USER or SI_TKILL;
// the other ways of choosing si_code for another process are refused with
// EPERM:
//   - rt_sigqueueinfo and rt_tgsigqueueinfo (SI_QUEUE and other negative
//     codes);
//   - pidfd_send_signal with a siginfo;
//   - fcntl(F_SETSIG), which makes an O_ASYNC descriptor owned by another
//     process (F_SETOWN) send it any signal with si_code POLL_IN and the
//     like (positive: a fault to the runtime). Without F_SETSIG the
//     signal is SIGIO with SI_KERNEL, which the runner drops.
//
// The same filter keeps the code out of what the Pod's RuntimeDefault
// seccomp profile refuses and the laptop/CI sandbox would otherwise allow:
//   - a user namespace of its own (unshare or clone with CLONE_NEWUSER),
//     where it would hold every capability, the entry point of most
//     recent kernel privilege escalations; and setns, with EPERM. clone3
//     passes its flags in a struct the filter cannot read: it is refused
//     with ENOSYS, and glibc (pthread_create, posix_spawn) falls back to
//     clone, which the filter checks; fork uses clone.
//   - the kernel's key management (add_key, request_key, keyctl), with
//     EPERM: without a user namespace a key added to the uid's user
//     keyring outlives the run. The helper joins the fresh session
//     keyring before it installs the filter.
//
// System calls of another ABI (i386's int 0x80, x32) are refused as a
// whole: python uses none, and the filter could not check them.

// sigactionT is the kernel's struct sigaction on amd64 and arm64; all
// zeros is SIG_DFL with no flags and an empty mask.
type sigactionT struct {
	handler, flags, restorer, mask uint64
}

var dfl sigactionT

// resetSignals does not allocate (RLIMIT_AS may be in force). Errors
// (EINVAL for SIGKILL, SIGSTOP) are expected and ignored.
func resetSignals() {
	for sig := uintptr(1); sig <= 64; sig++ {
		_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	}
	var empty uint64
	_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&empty)), 0, 8, 0, 0)
}

// bpfProg is a tiny assembler: jumps name labels, resolved by build.
type bpfProg struct {
	ins    []unix.SockFilter
	jt, jf []string
	labels map[string]int
}

func (p *bpfProg) label(l string) { p.labels[l] = len(p.ins) }
func (p *bpfProg) ld(off uint32) {
	p.add(unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}, "", "")
}
func (p *bpfProg) jeq(k uint32, jt, jf string) {
	p.add(unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k}, jt, jf)
}
func (p *bpfProg) jge(k uint32, jt, jf string) {
	p.add(unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: k}, jt, jf)
}
func (p *bpfProg) jset(k uint32, jt, jf string) {
	p.add(unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: k}, jt, jf)
}
func (p *bpfProg) ret(k uint32) {
	p.add(unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}, "", "")
}
func (p *bpfProg) add(f unix.SockFilter, jt, jf string) {
	p.ins = append(p.ins, f)
	p.jt = append(p.jt, jt)
	p.jf = append(p.jf, jf)
}

// build resolves the labels; "" is the next instruction.
func (p *bpfProg) build() []unix.SockFilter {
	rel := func(at int, l string) uint8 {
		if l == "" {
			return 0
		}
		to, ok := p.labels[l]
		if !ok || to <= at || to-at-1 > 255 {
			panic("seccomp: bad jump to " + l)
		}
		return uint8(to - at - 1)
	}
	for i := range p.ins {
		p.ins[i].Jt = rel(i, p.jt[i])
		p.ins[i].Jf = rel(i, p.jf[i])
	}
	return p.ins
}

// signalFilter is the BPF program described above, or nil on an
// architecture it does not know.
func signalFilter() []unix.SockFilter {
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
		x32Bit  = 0x40000000
	)
	p := &bpfProg{labels: map[string]int{}}
	p.ld(offArch)
	p.jeq(arch, "", "deny")
	p.ld(offNr)
	if runtime.GOARCH == "amd64" {
		p.jge(x32Bit, "deny", "")
	}
	p.jeq(unix.SYS_RT_SIGQUEUEINFO, "deny", "")
	p.jeq(unix.SYS_RT_TGSIGQUEUEINFO, "deny", "")
	p.jeq(unix.SYS_PIDFD_SEND_SIGNAL, "pidfd", "")
	p.jeq(unix.SYS_UNSHARE, "nsflags", "")
	p.jeq(unix.SYS_CLONE, "nsflags", "")
	p.jeq(unix.SYS_CLONE3, "enosys", "")
	p.jeq(unix.SYS_SETNS, "deny", "")
	p.jeq(unix.SYS_ADD_KEY, "deny", "")
	p.jeq(unix.SYS_REQUEST_KEY, "deny", "")
	p.jeq(unix.SYS_KEYCTL, "deny", "")
	p.jeq(unix.SYS_FCNTL, "fcntl", "allow")
	p.label("pidfd") // pidfd_send_signal(pidfd, sig, info, flags): info must be NULL
	p.ld(offArgs + 8*2)
	p.jeq(0, "", "deny")
	p.ld(offArgs + 8*2 + 4)
	p.jeq(0, "allow", "deny")
	p.label("fcntl") // fcntl(fd, cmd, arg): cmd is an int, the low word
	p.ld(offArgs + 8*1)
	p.jeq(unix.F_SETSIG, "deny", "allow")
	p.label("nsflags") // unshare(flags), clone(flags, ...): the flags' low word
	p.ld(offArgs)
	p.jset(unix.CLONE_NEWUSER, "deny", "allow")
	p.label("enosys")
	p.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	p.label("allow")
	p.ret(unix.SECCOMP_RET_ALLOW)
	p.label("deny")
	p.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	return p.build()
}

// signalFilterProg is built before the limits apply.
type signalFilterProg struct {
	prog unix.SockFprog
	filt []unix.SockFilter
}

func newSignalFilter() *signalFilterProg {
	f := signalFilter()
	if f == nil {
		return nil
	}
	return &signalFilterProg{prog: unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}, filt: f}
}

// install loads the filter on this (locked) thread; python inherits it
// across the exec. It does not allocate. It returns the errno of a kernel
// that refuses it.
func (s *signalFilterProg) install() syscall.Errno {
	if s == nil {
		return 0
	}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return e
	}
	_, _, e := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&s.prog)))
	return e
}
