package runner

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"unsafe"
)

// SignalContext makes the calling process immune to every signal that can
// be caught, and returns a context that SIGTERM or SIGINT cancels.
//
// Without privilege (the sandbox container of a Pod, `runner run` as a
// non-root user) the user's code runs under the runner's own uid, so it can
// send the runner any signal: kill(2), tgkill(2), pidfd_send_signal(2).
// Left to the Go runtime's defaults, SIGQUIT (and a user-sent SIGSEGV,
// SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS, SIGSTKFLT) makes the
// runner exit 2 with a goroutine dump and no result line, SIGHUP, SIGUSR1,
// SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGPWR and the
// real-time signals end it silently, and SIGTSTP, SIGTTIN and SIGTTOU stop
// it. So every signal is caught (signal.Notify with no list; the runtime
// still sees its own SIGURG and per-thread-syscall signals first), and a
// goroutine drains them:
//   - SIGTERM and SIGINT (the kubelet stopping the container, ^C) cancel
//     the context: the run ends and the runner still prints its one
//     result line (a cancelled run is a RuntimeError, see pyexec);
//   - every other signal is dropped.
//
// The runtime does not let signal.Notify take 32 and 34 (glibc's and
// musl's reserved signals, _SigSetStack in its table): their default
// action would end the runner, so every signal still at SIG_DFL after
// Notify is set to SIG_IGN (ignoreTheRest). Ignored signals survive
// execve; the sandbox helper resets every disposition before it execs
// python (sandboxchild.resetSignals).
//
// SIGKILL and SIGSTOP cannot be caught; what they do to each role is in
// docs/pod-boundary.md. Signals that look like faults to the Go runtime
// (a SIGSEGV with a positive si_code, or SI_QUEUE from rt_sigqueueinfo)
// bypass signal.Notify: the sandbox's seccomp filter keeps the code from
// sending those (internal/pyexec/sandboxchild/seccomp.go).
//
// The returned stop restores the default handling. The dispositions the
// runner leaves its children are the kernel's defaults: execve resets
// caught signals, and no signal is ignored (SIG_IGN would be inherited).
func SignalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 64)
	signal.Notify(ch)
	ignoreTheRest()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				if s == syscall.SIGTERM || s == syscall.SIGINT {
					cancel(&StopSignal{Signal: s})
				}
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

// StopSignal is the cause of a context that SignalContext cancelled.
type StopSignal struct{ Signal os.Signal }

func (s *StopSignal) Error() string {
	return fmt.Sprintf("stopped by %v", s.Signal)
}

// Unwrap makes a stop a context.Canceled to errors.Is.
func (s *StopSignal) Unwrap() error { return context.Canceled }

// kernelSigaction is the kernel's struct sigaction on amd64 and arm64.
type kernelSigaction struct {
	handler, flags, restorer, mask uint64
}

const sigIgn = 1

// ignoreTheRest sets every signal whose disposition is still SIG_DFL
// (those the Go runtime keeps away from signal.Notify) to SIG_IGN.
func ignoreTheRest() {
	for sig := uintptr(1); sig <= 64; sig++ {
		if syscall.Signal(sig) == syscall.SIGKILL || syscall.Signal(sig) == syscall.SIGSTOP {
			continue
		}
		var old kernelSigaction
		if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, sig, 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
			continue
		}
		if old.handler != 0 {
			continue
		}
		ign := kernelSigaction{handler: sigIgn}
		_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&ign)), 0, 8, 0, 0)
	}
}
