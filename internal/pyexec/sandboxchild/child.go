// Package sandboxchild is the runner's sandbox helper: the process that
// pyexec starts through /proc/self/exe, that prepares itself (namespaced
// mounts, uid drop, no_new_privs, rlimits) and execs python on the
// bootstrap. It is dispatched from init, before main or TestMain, so that
// every binary that links pyexec (the runner, and test binaries) can act as
// its own helper without wiring. It is a package of its own, with few
// imports, so that Go initializes it, and so execs python, before the heavy
// packages of the runner binary (protobuf, Kubernetes, vitess, esbuild).
package sandboxchild

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/codeexec/codeexec-operator/runner-image/bootstrap"
)

// Env is the variable that turns a binary into the helper; its value is the
// Spec as JSON.
const Env = "CODEEXEC_PYEXEC_CHILD"

// File descriptors of the helper, and then of the bootstrap.
const (
	FDControl  = 3 // task for the bootstrap (read end)
	FDChannel  = 4 // result frames (write end)
	FDStatus   = 5 // helper errors before exec (write end, close-on-exec)
	FDFirstIn  = 6 // input tables, one fd each
	ExitHelper = 121
)

// Spec is what the runner tells the helper.
type Spec struct {
	Python     string   `json:"python"`
	Env        []string `json:"env"`
	Dir        string   `json:"dir"`
	Namespaces bool     `json:"namespaces"`
	// UID and GID are the unprivileged ids to switch to; -1 keeps the
	// current ones (the runner was not started as root).
	UID          int    `json:"uid"`
	GID          int    `json:"gid"`
	ScratchBytes int64  `json:"scratchBytes"`
	Inputs       int    `json:"inputs"`
	AS           uint64 `json:"as"`
	CPUSoft      uint64 `json:"cpuSoft"`
	CPUHard      uint64 `json:"cpuHard"`
	FSize        uint64 `json:"fsize"`
	NProc        uint64 `json:"nproc"`
	NoFile       uint64 `json:"nofile"`
	// CgroupProcs is the cgroup.procs file of the run's memory cgroup,
	// joined first, while the helper is still root; empty without one.
	CgroupProcs string `json:"cgroupProcs,omitempty"`
}

func init() {
	if v, ok := os.LookupEnv(Env); ok {
		childMain(v)
	}
}

// childMain runs in the helper: it prepares the process and execs python.
// It never returns.
func childMain(specJSON string) {
	// One thread does it all: no_new_privs and seccomp filters are per
	// thread, and the exec keeps only the thread that calls it.
	runtime.LockOSThread()
	syscall.CloseOnExec(FDStatus)
	fail := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		_, _ = syscall.Write(FDStatus, []byte(msg))
		os.Exit(ExitHelper)
	}
	var s Spec
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		fail("pyexec helper: bad spec: %v", err)
	}
	// Everything execve needs is built before RLIMIT_AS applies: the Go
	// runtime's own reservations may already exceed it, so the helper must
	// not allocate between the limit and the exec.
	path, err := syscall.BytePtrFromString(s.Python)
	if err != nil {
		fail("pyexec helper: python path: %v", err)
	}
	argv, err := syscall.SlicePtrFromStrings([]string{"python3", "-I", "-B", "-S", "-c", bootstrap.Source})
	if err != nil {
		fail("pyexec helper: argv: %v", err)
	}
	envv, err := syscall.SlicePtrFromStrings(s.Env)
	if err != nil {
		fail("pyexec helper: env: %v", err)
	}
	listener := newListenerMsg(s.AS)
	sigFilter := newSignalFilter()
	if err := prepareChild(s); err != nil {
		fail("pyexec helper: %v", err)
	}
	nproc := unix.Rlimit{Cur: s.NProc, Max: s.NProc}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETRLIMIT, unix.RLIMIT_NPROC, uintptr(unsafe.Pointer(&nproc)), 0); e != 0 {
		rawFail("pyexec helper: setrlimit RLIMIT_NPROC failed, errno ", e)
	}
	as := unix.Rlimit{Cur: s.AS, Max: s.AS}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETRLIMIT, unix.RLIMIT_AS, uintptr(unsafe.Pointer(&as)), 0); e != 0 {
		rawFail("pyexec helper: setrlimit RLIMIT_AS failed, errno ", e)
	}
	if e := sigFilter.install(); e != 0 && e != syscall.ENOSYS {
		rawFail("pyexec helper: installing the signal filter failed, errno ", e)
	}
	listener.installAndSend()
	// Last: from here on a signal meets the kernel's default action.
	resetSignals()
	_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(path)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))
	rawFail("pyexec helper: exec of python failed, errno ", e)
}

// rawFail reports and exits without allocating (RLIMIT_AS may be in force).
func rawFail(msg string, errno syscall.Errno) {
	var buf [160]byte
	n := copy(buf[:], msg)
	var digits [12]byte
	d := len(digits)
	v := uint64(errno)
	for {
		d--
		digits[d] = byte('0' + v%10)
		v /= 10
		if v == 0 || d == 0 {
			break
		}
	}
	n += copy(buf[n:], digits[d:])
	_, _, _ = syscall.RawSyscall(syscall.SYS_WRITE, FDStatus, uintptr(unsafe.Pointer(&buf[0])), uintptr(n))
	_, _, _ = syscall.RawSyscall(syscall.SYS_EXIT_GROUP, ExitHelper, 0, 0)
}

func prepareChild(s Spec) error {
	if s.CgroupProcs != "" {
		if err := os.WriteFile(s.CgroupProcs, []byte("0"), 0); err != nil {
			return fmt.Errorf("joining the run's memory cgroup: %w", err)
		}
	}
	// Nothing but our own fds may reach python.
	if err := cloexecFrom(FDFirstIn + s.Inputs); err != nil {
		return fmt.Errorf("closing inherited fds: %w", err)
	}
	if s.Namespaces {
		if err := setupMounts(s); err != nil {
			return err
		}
	}
	// Let the OOM killer pick user code before the runner.
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0)
	if s.UID >= 0 {
		if err := syscall.Setgroups(nil); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setresgid(s.GID, s.GID, s.GID); err != nil {
			return fmt.Errorf("setresgid %d: %w", s.GID, err)
		}
		if err := syscall.Setresuid(s.UID, s.UID, s.UID); err != nil {
			return fmt.Errorf("setresuid %d: %w", s.UID, err)
		}
	}
	// A fresh, empty session keyring: the caller's (its keys are possessed
	// through it, whatever the uid) stays behind. Where keyctl itself is
	// denied (ENOSYS, or EPERM from a seccomp profile such as the container
	// runtime's default, which the code inherits), no keyring is reachable
	// at all; that is checked, not assumed.
	if _, err := unix.KeyctlJoinSessionKeyring("codeexec-run"); err != nil && !errors.Is(err, unix.ENOSYS) {
		if !errors.Is(err, unix.EPERM) || keyctlUsable() {
			return fmt.Errorf("joining a new session keyring: %w", err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	// A credential change clears the parent-death signal: set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("pdeathsig: %w", err)
	}
	if err := os.Chdir(s.Dir); err != nil {
		return fmt.Errorf("chdir to the scratch dir: %w", err)
	}
	limits := []struct {
		name      string
		res       int
		soft, max uint64
	}{
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0, 0},
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, s.NoFile, s.NoFile},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, s.FSize, s.FSize},
		{"RLIMIT_CPU", unix.RLIMIT_CPU, s.CPUSoft, s.CPUHard},
		// RLIMIT_NPROC and RLIMIT_AS come last, in childMain, right before
		// the exec: without a uid of its own (in a Pod) the sandbox uid is
		// shared by every sandbox on the node, whose threads count against
		// the same RLIMIT_NPROC, so the Go helper must not need a new
		// thread once it applies.
	}
	for _, l := range limits {
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.soft, Max: l.max}); err != nil {
			return fmt.Errorf("setrlimit %s %d/%d: %w", l.name, l.soft, l.max, err)
		}
	}
	// glibc gives every thread a stack of RLIMIT_STACK's soft limit (32 MiB
	// when it is unlimited), reserved in full against RLIMIT_AS: a fixed
	// soft limit makes a thread cost the same on every node, whatever the
	// runtime handed down.
	var st unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &st); err != nil {
		return fmt.Errorf("getrlimit RLIMIT_STACK: %w", err)
	}
	st.Cur = min(StackBytes, st.Max)
	if err := unix.Setrlimit(unix.RLIMIT_STACK, &st); err != nil {
		return fmt.Errorf("setrlimit RLIMIT_STACK %d/%d: %w", st.Cur, st.Max, err)
	}
	return nil
}

// StackBytes is the soft RLIMIT_STACK of python: the main thread's stack
// and every other thread's.
const StackBytes = 8 << 20

// cloexecFrom marks every fd >= first close-on-exec.
func cloexecFrom(first int) error {
	if err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= first {
			syscall.CloseOnExec(fd)
		}
	}
	return nil
}

// setupMounts runs as root in the helper's fresh mount and PID namespaces
// (see rootfs.go): nothing propagates back to the host, and python gets a
// new root that holds only what it needs.
func setupMounts(s Spec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	return buildRoot(s)
}

// keyctlUsable reports whether this process can read its session keyring.
func keyctlUsable() bool {
	_, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	return err == nil
}
