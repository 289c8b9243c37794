package pyexec

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// reasons the bootstrap may report in an error frame and that the runner
// takes at its word: they describe the code, not a limit (a limit reason
// needs the kernel's evidence, see the package comment; the output limit
// needs the runner's own count of the bytes, an "over" frame or a result
// frame over the budget). A frame claiming anything else is a RuntimeError.
var bootstrapReasons = map[string]result.Reason{
	"CompilationError":  result.CompilationError,
	"RuntimeError":      result.RuntimeError,
	"InvalidInput":      result.InvalidInput,
	"SecurityViolation": result.SecurityViolation,
}

// classify turns what the runner observed into the ExecutionResult. Order:
// what the runner saw itself (its clock, its caps, the exit status, the
// kernel's counters) before what the bootstrap reported.
func classify(o *outcome) result.ExecutionResult {
	res := classifyReason(o)
	res.Stdout = o.stdout.String()
	res.Stderr = o.stderr.String()
	res.Truncated = o.stdout.Truncated() || o.stderr.Truncated()
	return res
}

// memoryWords are what CPython and C extensions print when an allocation
// fails where no MemoryError can be raised.
var memoryWords = []string{"MemoryError", "Cannot allocate memory", "out of memory", "std::bad_alloc"}

// claimsMemory reports whether the code's own account of its failure is
// about memory. It only narrows a limit reason that kernel evidence
// allows; on its own it proves nothing.
func claimsMemory(o *outcome, fr frames) bool {
	if e := fr.err; e != nil {
		return e.Type == "MemoryError" || e.Reason == string(result.MemoryLimitExceeded) ||
			strings.Contains(e.Message, "[Errno 12]") || strings.Contains(e.Message, "MemoryError")
	}
	tail := o.stderr.String()
	if len(tail) > 4096 {
		tail = tail[len(tail)-4096:]
	}
	for _, s := range memoryWords {
		if strings.Contains(tail, s) {
			return true
		}
	}
	return false
}

// cpuEvidence: the CPU time the kernel accounted to python and the
// processes it reaped (wait4), or to the run's cgroup, reached the soft
// limit (2% slack), or the run died the way RLIMIT_CPU kills (SIGXCPU,
// SIGKILL at the hard limit, the bootstrap's exit 152 as PID 1) after
// using the configured limit, less cpuDeathTolerance. The death alone is
// no evidence: the code may lower its own RLIMIT_CPU (setrlimit; the audit
// hook that refuses it can be emptied through gc) and be killed by a limit
// it chose, under the one it was given.
func cpuEvidence(o *outcome) bool {
	if o.cpuSoft <= 0 {
		return false
	}
	used := max(o.cpu, o.cgroupCPU)
	if used >= o.cpuSoft-o.cpuSoft/50 {
		return true
	}
	rlimitDeath := o.signal == syscall.SIGXCPU || o.signal == syscall.SIGKILL || (o.exited && o.exitCode == 152)
	if o.pid1 {
		// python is PID 1 of its namespace and its hard CPU limit is the
		// soft one: only the kernel can SIGKILL it (the runner's own
		// kills are flagged, and decided before this), so a SIGKILL
		// without an OOM kill is RLIMIT_CPU. SIGXCPU and exit 152 are
		// what the code can give itself.
		rlimitDeath = o.signal == syscall.SIGKILL && o.oomKills == 0
	}
	limit := o.cpuLimit
	if limit <= 0 || limit > o.cpuSoft {
		limit = o.cpuSoft
	}
	return rlimitDeath && used >= limit-max(cpuDeathTolerance, limit/10)
}

// cpuDeathTolerance (or a tenth of the limit, if more) is how far under
// the configured limit wait4 may account a run the kernel killed at it:
// the kernel enforces RLIMIT_CPU on its own runtime, and wait4's
// user+system time came out up to ~0.2 s lower for a 2-3 s limit here (a
// CPU loop under a 3 s limit: 2.88-2.92 s). Code that lowers its limit to
// within that margin has used 90% of its budget anyway.
const cpuDeathTolerance = 100 * time.Millisecond

// memoryEvidence says why the kernel's counters show the memory limit
// stopped the code, or "" when they do not.
func memoryEvidence(o *outcome, fr frames) string {
	mib := func(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }
	switch {
	case o.oomKills > 0:
		return fmt.Sprintf("the kernel's out-of-memory killer stopped it at its memory limit of %s", mib(o.memLimit))
	case o.bigAllocs > 0 && claimsOrCrashed(o, fr):
		return fmt.Sprintf("it asked the kernel for %s at once, more than its whole memory limit of %s, and was refused", mib(o.bigAllocMax), mib(o.memLimit))
	case o.cgroupLimitHit && claimsOrCrashed(o, fr):
		return fmt.Sprintf("it reached its memory limit of %s (the run's memory cgroup counted it)", mib(o.memLimit))
	case o.overLimit > 0 && claimsOrCrashed(o, fr):
		return fmt.Sprintf("it asked the kernel for %s more with %s already mapped, past its memory limit of %s", mib(o.overAsk), mib(o.overMapped), mib(o.memLimit))
	case !o.memFilter && o.memLimit > 0 && o.maxRSS >= o.memLimit/2 && claimsOrCrashed(o, fr):
		// Only without the filter (a kernel or runtime without seccomp
		// user notification): a peak RSS of half the limit is something
		// the code can reach on purpose before it claims MemoryError.
		return fmt.Sprintf("it ran out of memory after using %s of its limit of %s", mib(o.maxRSS), mib(o.memLimit))
	}
	return ""
}

func claimsOrCrashed(o *outcome, fr frames) bool {
	return claimsMemory(o, fr) || (o.signal != 0 && o.signal != syscall.SIGKILL && fr.err == nil)
}

func classifyReason(o *outcome) result.ExecutionResult {
	fr, frErr := parseFrames(o.channel, o.nonce)
	clean := o.exited && o.exitCode == 0
	appendTraceback := func(r result.ExecutionResult) result.ExecutionResult {
		if fr.err != nil && fr.err.Traceback != "" {
			// The traceback goes with stderr, as python would print it.
			_, _ = o.stderr.Write([]byte(fr.err.Traceback))
		}
		return r
	}
	switch {
	case o.setupErr != "":
		return result.Failure(result.InternalError, "starting python: "+strings.TrimSpace(o.setupErr))
	case o.timedOut:
		return result.Failure(result.Timeout, fmt.Sprintf("the code ran past the wall-clock limit of %s and was killed with every process it started", o.timeout))
	case o.cancelled:
		// The runner was asked to stop (SIGTERM from the kubelet, the
		// judge gone, or the code signalling its own supervisor): the
		// run ended without a verdict of its own, which is not a fault of
		// the runner.
		why := "the runner was asked to stop"
		if o.cancelCause != "" {
			why += ": " + o.cancelCause
		}
		return result.Failure(result.RuntimeError, "the execution was cancelled ("+why+") and its processes were killed")
	case o.flooded != "":
		return result.Failure(result.OutputLimitExceeded, fmt.Sprintf("the code wrote more than %d bytes to %s and was stopped; the output kept is cut to its head and tail", o.stdout.flood, o.flooded))
	case o.scratchExceeded:
		return result.Failure(result.RuntimeError, fmt.Sprintf("the scratch dir grew past its quota of %d bytes and the code was stopped", o.scratchBytes))
	}
	// A limit reason needs the kernel's evidence, and only explains a run
	// that did not end with a clean result.
	if !clean || fr.finals == 0 || fr.err != nil {
		if cpuEvidence(o) {
			return result.Failure(result.CPULimitExceeded, fmt.Sprintf("the code used %.1fs of CPU, over its limit of %s", max(o.cpu, o.cgroupCPU).Seconds(), o.cpuSoft))
		}
		if why := memoryEvidence(o, fr); why != "" {
			return appendTraceback(result.Failure(result.MemoryLimitExceeded, "the code ran out of memory: "+why))
		}
	}
	if frErr != nil && fr.violation == nil {
		if o.channelOverflow {
			return result.Failure(result.OutputLimitExceeded, fmt.Sprintf("the result channel carried more than %d bytes", o.maxOutput))
		}
		return result.Failure(result.SecurityViolation, "the result channel was tampered with: "+frErr.Error())
	}
	if fr.violation != nil {
		r := result.Failure(result.SecurityViolation, "the sandbox refused an operation: "+fr.violation.Message)
		return appendTraceback(r)
	}
	if o.signal != 0 {
		return result.Failure(result.RuntimeError, signalMessage(o.signal, o.fileSize)+fmt.Sprintf(" after %.1fs of CPU", o.cpu.Seconds()))
	}
	if fr.finals > 1 {
		return result.Failure(result.SecurityViolation, "the result channel carried more than one result")
	}
	if !clean {
		msg := fmt.Sprintf("python exited with status %d after %.1fs of CPU", o.exitCode, o.cpu.Seconds())
		if fr.finals == 0 {
			if last := lastLine(o.stderr.String()); last != "" {
				msg += ": " + last
			}
		}
		return appendTraceback(result.Failure(result.RuntimeError, msg))
	}
	switch {
	case fr.over > 0:
		if int64(fr.over) > o.maxOutput {
			return result.Failure(result.OutputLimitExceeded, fmt.Sprintf("`result` is over the output limit of %d bytes: its conversion to JSON passed the limit and was stopped", o.maxOutput))
		}
		return result.Failure(result.RuntimeError, fmt.Sprintf("the code claimed the output limit of %d bytes with a result of %d bytes", o.maxOutput, fr.over))
	case fr.err != nil:
		reason, ok := bootstrapReasons[fr.err.Reason]
		msg := fr.err.Message
		if msg == "" {
			msg = fr.err.Type
		}
		if !ok {
			reason = result.RuntimeError
			if result.Reason(fr.err.Reason) != result.RuntimeError && fr.err.Reason != "" {
				msg = fmt.Sprintf("%s (reported as %.40q without the runner's evidence)", msg, fr.err.Reason)
			}
		}
		return appendTraceback(result.Failure(reason, msg))
	case fr.result != nil:
		if int64(len(fr.result)) > o.maxOutput {
			return result.Failure(result.OutputLimitExceeded, fmt.Sprintf("`result` is %d bytes of JSON, over the limit of %d", len(fr.result), o.maxOutput))
		}
		if !json.Valid(fr.result) {
			return result.Failure(result.InternalError, "the result is not valid JSON")
		}
		return result.Success(fr.result)
	default:
		return result.Failure(result.RuntimeError, "python exited with status 0 without reporting a result (os._exit before the end of the code?)")
	}
}

func signalMessage(sig syscall.Signal, fileSize int64) string {
	name := unix.SignalName(sig)
	if name == "" {
		name = fmt.Sprintf("signal %d", int(sig))
	}
	switch sig {
	case syscall.SIGXFSZ:
		return fmt.Sprintf("python was killed by %s: a file passed the file-size limit of %d bytes", name, fileSize)
	case syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGILL, syscall.SIGABRT, syscall.SIGFPE:
		return fmt.Sprintf("python crashed with %s (%s)", name, sig.String())
	case syscall.SIGKILL:
		return "python was killed by SIGKILL (not by the runner, and no out-of-memory kill was recorded)"
	default:
		return fmt.Sprintf("python was killed by %s (%s)", name, sig.String())
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return result.TruncateUTF8(s, 300)
}
