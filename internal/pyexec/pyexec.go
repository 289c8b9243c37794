// Package pyexec runs AI-generated Python under real limits and returns one
// result.ExecutionResult.
//
// The runner starts a helper (this binary again, through /proc/self/exe)
// that applies rlimits to itself (RLIMIT_AS, RLIMIT_CPU soft and hard,
// RLIMIT_FSIZE, RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_CORE 0), sets
// no_new_privs and then execs `python3 -I -B -S` on the embedded bootstrap
// (runner-image/bootstrap; site runs on demand, at the first import outside
// the standard library) in a new session, with a clean environment and
// the scratch dir as its working directory.
//
// Started as root, the helper is cloned into fresh PID, mount, network, IPC
// and UTS namespaces, joins a memory cgroup of the run's own (limited to
// the run's memory; it counts the shared memory RLIMIT_AS does not), drops
// to a uid of its own for this run and pivots into a new root that holds
// only read-only /usr, the interpreter's prefix, a few /etc files, a
// minimal /dev, its own /proc and the scratch dir as a size-limited tmpfs
// (sandboxchild/rootfs.go). python is PID 1 of its namespace, so killing it
// (or its exit) kills every process user code started. Every run, in every
// mode, gets a fresh empty session keyring. Without privilege (inside the
// Pod) the runner relies on the Pod's isolation, logs so at debug level,
// makes itself a child subreaper and kills the session and every orphan at
// the end (zombie thread-group leaders included).
//
// The result comes back as frames on a dedicated pipe (see frames.go), the
// user's stdout and stderr are drained into bounded head+tail buffers, and
// the reason is decided by classify, a pure function of what the runner
// observed.
//
// Reasons come from evidence, never from the code's words. The code shares
// its process with the bootstrap, so everything the bootstrap reports, and
// every exit status or signal the code can give itself, is a claim. A
// limit reason needs the kernel's own counters:
//   - CPULimitExceeded: the CPU time wait4 accounted to python and what it
//     reaped reaches the limit, or the run died as RLIMIT_CPU kills
//     (SIGXCPU, SIGKILL, the bootstrap's exit 152 as PID 1) after at least
//     half of it (the kernel checks the limit on tick-sampled time, wait4
//     reports precise time, and a loaded VM makes them differ). In the
//     namespace sandbox python is PID 1, which nothing in its namespace
//     can SIGKILL, and the hard limit equals the soft one: only a SIGKILL
//     (no OOM kill counted) is that death there; SIGXCPU and exit 152,
//     which the code can give itself, are not. Without namespaces (the
//     Pod) code that burnt half its budget can still fake that death.
//   - MemoryLimitExceeded, in order: an OOM kill counted by the run's
//     cgroup (root) or the runner's own (in a Pod, the container's); a
//     mapping larger than the whole limit, which the helper's seccomp
//     filter hands to the runner (SECCOMP_RET_USER_NOTIF) and the runner
//     refuses with ENOMEM, exactly as RLIMIT_AS would, and counts; a
//     mapping over 1 MiB that the same filter shows the runner and that,
//     with the process's VmSize, passes the limit (the runner lets it go
//     on to the kernel and records it); the run's cgroup hitting its
//     limit. RLIMIT_AS refusals leave no counter, hence the filter. A
//     peak RSS (wait4) of half the limit counts only where the filter
//     could not be installed: code can reach it on purpose, then claim
//     MemoryError. Except for the OOM kill, the code's own account of its
//     failure (MemoryError, ENOMEM, an abort with an allocation message)
//     must agree: it narrows what the evidence allows, never more.
//   - OutputLimitExceeded: the runner's own count of bytes: a stream over
//     FloodFactor times its cap, the result channel over its cap, a result
//     frame over MaxOutputBytes, or an "over" frame (the first
//     MaxOutputBytes+1 bytes of JSON the converter produced before it
//     stopped at the budget). An error frame that claims it is a claim.
//
// Otherwise the reason is RuntimeError with the exit status or signal:
// os._exit(152), a self-sent SIGKILL or SIGXCPU, or "MemoryError" printed
// before os.abort() are RuntimeErrors.
//
// What is trusted: the kernel (uid, namespaces, the new root, cgroup,
// rlimits, seccomp) is the boundary; the bootstrap's audit hook is defence
// in depth that names the refused operation, and code that finds it
// through gc can disable it: writes it never sees (dir_fd, sqlite ATTACH
// and VACUUM INTO, readline history, POSIX shm) are stopped by the
// read-only root, as TestKernelBoundary proves with the hook off.
package pyexec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/codeexec/codeexec-operator/internal/pyexec/sandboxchild"
	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/runner-image/bootstrap"
)

// Input is one named table loaded with pandas before the code runs.
type Input struct {
	Name string
	Path string
	// Format is "csv" or "json"; empty means by the file's extension.
	Format string
}

// Options describe one execution. Zero values mean the defaults below.
type Options struct {
	Code []byte
	// Python is the interpreter (default "python3" from PATH).
	Python string
	Inputs []Input
	// ScratchDir is the only writable directory of user code; empty means
	// a fresh temporary directory, removed afterwards. In the namespace
	// sandbox a private tmpfs is mounted over it, so nothing written there
	// is visible outside.
	ScratchDir string

	// Timeout is the wall clock; NoWallClock disables it.
	Timeout     time.Duration
	NoWallClock bool
	// CPUTime is RLIMIT_CPU's soft limit (rounded up to seconds); the hard
	// limit is one second more.
	CPUTime time.Duration
	// MemoryBytes is RLIMIT_AS.
	MemoryBytes int64
	// FileSizeBytes is RLIMIT_FSIZE.
	FileSizeBytes int64
	// ScratchBytes caps the scratch dir (tmpfs size, or a watcher that
	// stops the run without namespaces).
	ScratchBytes int64
	// MaxProcs is RLIMIT_NPROC for the sandbox uid.
	MaxProcs int
	// MaxOpenFiles is RLIMIT_NOFILE.
	MaxOpenFiles int
	// MaxOutputBytes caps the JSON of `result`.
	MaxOutputBytes int64
	// MaxStreamBytes caps each of stdout and stderr kept; a stream that
	// passes FloodFactor times this stops the run (OutputLimitExceeded).
	MaxStreamBytes int64

	// Logger receives debug lines (default slog.Default()).
	Logger *slog.Logger

	// Test knobs: check the kernel layer without the audit hook, and the
	// uid drop without namespaces.
	noAuditHook  bool
	noNamespaces bool
}

// Defaults.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultMemoryBytes    = 512 << 20
	DefaultFileSizeBytes  = 64 << 20
	DefaultScratchBytes   = 256 << 20
	DefaultMaxProcs       = 64
	DefaultMaxOpenFiles   = 256
	DefaultMaxOutputBytes = 1 << 20
	DefaultMaxStreamBytes = 1 << 20
	// FloodFactor times MaxStreamBytes on one stream stops the run.
	FloodFactor = 16
)

func (o Options) withDefaults() Options {
	if o.Python == "" {
		o.Python = "python3"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.CPUTime <= 0 {
		o.CPUTime = o.Timeout
	}
	if o.MemoryBytes <= 0 {
		o.MemoryBytes = DefaultMemoryBytes
	}
	if o.FileSizeBytes <= 0 {
		o.FileSizeBytes = DefaultFileSizeBytes
	}
	if o.ScratchBytes <= 0 {
		o.ScratchBytes = DefaultScratchBytes
	}
	if o.MaxProcs <= 0 {
		o.MaxProcs = DefaultMaxProcs
	}
	if o.MaxOpenFiles <= 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.MaxStreamBytes <= 0 {
		o.MaxStreamBytes = DefaultMaxStreamBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// sandbox uids: one per run, never shared, so that RLIMIT_NPROC and
// signals stay within the run.
const uidBase = 1 << 30

var uidSeq atomic.Uint32

func allocUID() int {
	return uidBase + (os.Getpid()&0x3fffff)<<8 + int(uidSeq.Add(1)&0xff)
}

var dumpableOnce sync.Once

// Run executes o.Code and always returns one ExecutionResult.
func Run(ctx context.Context, o Options) result.ExecutionResult {
	start := time.Now()
	o = o.withDefaults()
	res := run(ctx, o)
	return res.WithDuration(start)
}

// run is the pipeline a reviewer reads top to bottom: prepare what the
// child needs, start it in its sandbox, supervise it until it is gone,
// and classify what was observed.
func run(ctx context.Context, o Options) result.ExecutionResult {
	p, fail := prepare(o)
	if fail != nil {
		return *fail
	}
	defer p.cleanup()
	c, fail := start(p)
	if fail != nil {
		return *fail
	}
	return classify(supervise(ctx, p, c))
}

// outcome is everything the runner observed about one execution.
type outcome struct {
	setupErr            string // the helper failed before exec
	timedOut, cancelled bool
	cancelCause         string // why ctx ended (context.Cause), when cancelled
	flooded             string // "stdout" or "stderr"
	scratchExceeded     bool
	exited              bool
	exitCode            int
	signal              syscall.Signal
	cpu                 time.Duration // user+system time of python and what it reaped (wait4)
	maxRSS              int64         // peak resident set of python or what it reaped (wait4), bytes
	memLimit            int64         // the memory limit, bytes
	oomKills            int64         // OOM kills the kernel counted for the run (its cgroup, or the runner's own)
	cgroupLimitHit      bool          // the run's memory cgroup hit its limit
	bigAllocs           int           // mappings larger than the whole limit the kernel refused (seccomp)
	bigAllocMax         int64         // the largest of them, bytes
	memFilter           bool          // the memory filter was installed: every mapping over 1 MiB was seen
	overLimit           int           // mappings that, with what was mapped, would pass the limit (seccomp, VmSize)
	overAsk, overMapped int64         // the last of them: its size and the mapped size before it, bytes
	channel             []byte
	channelOverflow     bool
	nonce               string
	pid1                bool // python was PID 1 of its namespace
	stdout, stderr      *capBuffer
	cpuSoft             time.Duration // RLIMIT_CPU as set: the configured limit rounded up to seconds
	cpuLimit            time.Duration // the configured limit (Options.CPUTime)
	cgroupCPU           time.Duration // CPU time charged to the run's cgroup (v2), or 0
	timeout             time.Duration
	maxOutput, fileSize int64
	scratchBytes        int64
}

// plan is one execution, prepared: the interpreter, the open inputs, the
// scratch dir, the identity and limits of the sandbox and the task for the
// bootstrap. Nothing has run yet.
type plan struct {
	o          Options
	log        *slog.Logger
	scratch    string
	privileged bool // the runner is root: namespaces or at least a uid of its own
	namespaces bool
	uid, gid   int
	cpuSoft    uint64
	spec       sandboxchild.Spec
	header     controlHeader
	inputs     []*os.File
	cgroup     *runCgroup // root only, where the host allows it
	cleanups   []func()
}

func (p *plan) cleanup() {
	for i := len(p.cleanups) - 1; i >= 0; i-- {
		p.cleanups[i]()
	}
}

func failure(reason result.Reason, format string, a ...any) *result.ExecutionResult {
	r := result.Failure(reason, fmt.Sprintf(format, a...))
	return &r
}

// prepare checks the options and builds the plan; a bad option is an
// InvalidInput result, a failure of the host an InternalError.
func prepare(o Options) (p *plan, fail *result.ExecutionResult) {
	p = &plan{o: o, log: o.Logger}
	defer func() {
		if fail != nil {
			p.cleanup()
		}
	}()
	python, fail := resolvePython(o.Python)
	if fail != nil {
		return p, fail
	}
	p.cleanups = append(p.cleanups, func() {
		for _, f := range p.inputs {
			f.Close()
		}
	})
	var inputs []controlInput
	for i, in := range o.Inputs {
		format := strings.ToLower(in.Format)
		if format == "" {
			format = strings.TrimPrefix(strings.ToLower(filepath.Ext(in.Path)), ".")
		}
		if format != "csv" && format != "json" {
			return p, failure(result.InvalidInput, "input %q: %s is neither .csv nor .json", in.Name, in.Path)
		}
		if in.Name == "" {
			return p, failure(result.InvalidInput, "input %d has no name", i)
		}
		f, err := os.Open(in.Path)
		if err != nil {
			return p, failure(result.InvalidInput, "input %q: %v", in.Name, err)
		}
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			f.Close()
			return p, failure(result.InvalidInput, "input %q: %s is not a regular file", in.Name, in.Path)
		}
		p.inputs = append(p.inputs, f)
		inputs = append(inputs, controlInput{FD: sandboxchild.FDFirstIn + i, Format: format, Name: in.Name})
	}

	scratch := o.ScratchDir
	if scratch == "" {
		d, err := os.MkdirTemp("", "cx-scratch-")
		if err != nil {
			return p, failure(result.InternalError, "creating the scratch dir: %v", err)
		}
		p.cleanups = append(p.cleanups, func() { removeScratch(d) })
		scratch = d
	} else {
		if err := os.MkdirAll(scratch, 0o700); err != nil {
			return p, failure(result.InvalidInput, "scratch dir: %v", err)
		}
		// What the run leaves there goes with it; what was there stays.
		keep := listNames(scratch)
		p.cleanups = append(p.cleanups, func() { emptyScratch(scratch, keep) })
	}
	if abs, err := filepath.Abs(scratch); err == nil {
		scratch = abs
	}
	p.scratch = scratch

	p.privileged = os.Geteuid() == 0
	p.uid, p.gid = -1, -1
	if p.privileged {
		p.uid = allocUID()
		p.gid = p.uid
	}
	p.namespaces = p.privileged && !o.noNamespaces
	if p.privileged {
		cg, err := newRunCgroup(o.MemoryBytes)
		if err != nil {
			p.log.Debug("Cannot create a memory cgroup for the run; shared memory is bounded only by the host", "err", err)
		} else {
			p.cgroup = cg
			p.cleanups = append(p.cleanups, cg.remove)
		}
	}

	p.cpuSoft = uint64(math.Ceil(o.CPUTime.Seconds()))
	if p.cpuSoft < 1 {
		p.cpuSoft = 1
	}
	p.spec = sandboxchild.Spec{
		Python: python,
		Env: []string{
			"PATH=/usr/local/bin:/usr/bin:/bin",
			"HOME=" + scratch,
			"TMPDIR=" + scratch,
			"LANG=C.UTF-8",
			"PYTHONDONTWRITEBYTECODE=1",
			"OPENBLAS_NUM_THREADS=1",
			"OMP_NUM_THREADS=1",
			"MKL_NUM_THREADS=1",
			// glibc reserves 64 MiB of address space (counted by
			// RLIMIT_AS) for each malloc arena, one per thread up to 8 per
			// core: under 512 MiB python could start only 14 threads.
			// Two arenas (python holds the GIL anyway) leave a thread
			// costing its stack, sandboxchild.StackBytes.
			"MALLOC_ARENA_MAX=2",
		},
		Dir:          scratch,
		UID:          p.uid,
		GID:          p.gid,
		ScratchBytes: o.ScratchBytes,
		Inputs:       len(p.inputs),
		AS:           uint64(o.MemoryBytes),
		CPUSoft:      p.cpuSoft,
		CPUHard:      p.cpuSoft + 1,
		FSize:        uint64(o.FileSizeBytes),
		NProc:        uint64(o.MaxProcs),
		NoFile:       uint64(o.MaxOpenFiles),
	}
	if p.cgroup != nil {
		p.spec.CgroupProcs = p.cgroup.procsFile()
	}

	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	p.header = controlHeader{
		Nonce:        hex.EncodeToString(nonce),
		ChannelFD:    sandboxchild.FDChannel,
		MaxOutput:    o.MaxOutputBytes,
		Audit:        !o.noAuditHook,
		MaxOpenFiles: o.MaxOpenFiles,
		Scratch:      scratch,
		Inputs:       inputs,
		Convert:      bootstrap.Convert,
	}
	return p, nil
}

func resolvePython(python string) (string, *result.ExecutionResult) {
	if !strings.Contains(python, "/") {
		found, err := exec.LookPath(python)
		if err != nil {
			return "", failure(result.InvalidInput, "python interpreter %q not found in PATH", python)
		}
		python = found
	}
	if abs, err := filepath.Abs(python); err == nil {
		python = abs
	}
	return python, nil
}

// child is the started sandbox helper (python once it execs).
type child struct {
	cmd        *exec.Cmd
	pipes      *childPipes
	pid        int
	since      uint64 // start time in clock ticks, to tell its orphans apart
	namespaces bool
}

// start starts the helper in its sandbox. Where namespaces cannot be
// created (a container without CAP_SYS_ADMIN), root falls back to a uid of
// its own without them.
func start(p *plan) (*child, *result.ExecutionResult) {
	for {
		if !p.namespaces {
			if fail := p.prepareWithoutNamespaces(); fail != nil {
				return nil, fail
			}
		}
		p.spec.Namespaces = p.namespaces
		// As PID 1 of its namespace python cannot be SIGKILLed by itself
		// or anything in its namespace: with the hard CPU limit equal to
		// the soft one the kernel SIGKILLs it at the limit, a death the
		// code cannot fake (an exit 152 after SIGXCPU it can). Without
		// namespaces, SIGXCPU at the soft limit, SIGKILL a second later.
		p.spec.CPUHard = p.cpuSoft + 1
		if p.namespaces {
			p.spec.CPUHard = p.cpuSoft
		}
		pipes, err := newChildPipes()
		if err != nil {
			return nil, failure(result.InternalError, "creating pipes: %v", err)
		}
		specJSON, _ := json.Marshal(p.spec)
		cmd := &exec.Cmd{
			Path:   "/proc/self/exe",
			Args:   []string{"codeexec-pyexec-helper"},
			Env:    []string{sandboxchild.Env + "=" + string(specJSON)},
			Stdout: pipes.outW,
			Stderr: pipes.errW,
			ExtraFiles: append([]*os.File{pipes.ctrlR, pipes.chanW, pipes.statW},
				p.inputs...),
			SysProcAttr: &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
		}
		if p.namespaces {
			cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET |
				syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
		}
		if err := cmd.Start(); err != nil {
			pipes.closeAll()
			if p.namespaces && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC)) {
				p.log.Debug("Cannot create namespaces for python; running it without them", "err", err)
				p.namespaces = false
				continue
			}
			return nil, failure(result.InternalError, "starting the sandbox helper: %v", err)
		}
		if p.namespaces {
			p.log.Debug("Running python in its own PID, mount and network namespaces", "uid", p.uid)
		} else if !p.privileged {
			p.log.Debug("No privilege to isolate python; relying on the Pod's isolation (non-root uid, no network, read-only root filesystem) and the rlimits")
		}
		c := &child{cmd: cmd, pipes: pipes, pid: cmd.Process.Pid, namespaces: p.namespaces}
		registerChild(c.pid)
		if st, ok := readStat(c.pid); ok {
			c.since = st.start
		}
		pipes.closeChildEnds()
		return c, nil
	}
}

// prepareWithoutNamespaces readies the host for a run without namespaces:
// as root, the scratch dir goes to the run's uid; without privilege the
// runner becomes a subreaper so that orphans of user code come back to it.
func (p *plan) prepareWithoutNamespaces() *result.ExecutionResult {
	if p.privileged {
		if err := os.Chown(p.scratch, p.uid, p.gid); err != nil {
			return failure(result.InternalError, "giving the scratch dir to the sandbox uid: %v", err)
		}
		return nil
	}
	if err := becomeSubreaper(); err != nil {
		p.log.Debug("Cannot become a child subreaper; orphans of user code may outlive the run", "err", err)
	}
	dumpableOnce.Do(func() {
		// Same uid as user code: keep /proc/<runner>/environ and ptrace
		// out of its reach.
		_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	})
	p.spec.NProc = uint64(countUserTasks(os.Getuid()) + p.o.MaxProcs)
	return nil
}

// supervise feeds the child its task, drains its streams and its result
// channel into bounded buffers, enforces the wall clock, the flood and
// scratch limits and cancellation, waits for it and kills whatever it left.
// It returns what it observed.
func supervise(ctx context.Context, p *plan, c *child) *outcome {
	o := p.o
	out := &outcome{nonce: p.header.Nonce, pid1: c.namespaces, timeout: o.Timeout,
		cpuSoft: time.Duration(p.cpuSoft) * time.Second, cpuLimit: o.CPUTime,
		maxOutput: o.MaxOutputBytes, fileSize: o.FileSizeBytes, scratchBytes: o.ScratchBytes,
		memLimit: o.MemoryBytes}
	oomBefore := readOOMKills()

	var killMu sync.Mutex
	exited := false
	kill := func() {
		killMu.Lock()
		defer killMu.Unlock()
		if exited {
			return
		}
		_ = c.cmd.Process.Kill() // pidfd-based: never a recycled pid
		if !c.namespaces {
			killTree(c.pid, p.uid, c.since)
		}
	}
	var floodOnce sync.Once
	var floodWhich atomic.Value
	flood := func(which string) func() {
		return func() {
			floodOnce.Do(func() { floodWhich.Store(which) })
			go kill()
		}
	}
	floodLimit := o.MaxStreamBytes * FloodFactor
	out.stdout = newCapBuffer(o.MaxStreamBytes, floodLimit, flood("stdout"))
	out.stderr = newCapBuffer(o.MaxStreamBytes, floodLimit, flood("stderr"))
	channel := &limitedBuffer{max: int(o.MaxOutputBytes) + 64<<10}

	pipes := c.pipes
	var drains sync.WaitGroup
	drains.Add(3)
	go func() { defer drains.Done(); drain(out.stdout, pipes.outR) }()
	go func() { defer drains.Done(); drain(out.stderr, pipes.errR) }()
	go func() { defer drains.Done(); drain(channel, pipes.chanR) }()
	statusCh := make(chan []byte, 1)
	stop := make(chan struct{})
	allocs := &bigAllocs{}
	var memFilter atomic.Bool
	var filterDone sync.WaitGroup
	go func() {
		b, listener := readStatus(pipes.statR)
		if listener != nil {
			filterDone.Add(1)
			memFilter.Store(true)
			go func() { defer filterDone.Done(); serveMemoryFilter(listener, stop, o.MemoryBytes, allocs) }()
		}
		statusCh <- b
	}()
	go func() {
		_, _ = pipes.ctrlW.Write(p.header.encode())
		_, _ = pipes.ctrlW.Write(o.Code)
		pipes.ctrlW.Close()
	}()

	var timedOut, cancelled, scratchOver atomic.Bool
	var cause atomic.Value
	var timer *time.Timer
	if !o.NoWallClock {
		timer = time.AfterFunc(o.Timeout, func() { timedOut.Store(true); kill() })
	}
	go func() {
		select {
		case <-ctx.Done():
			cancelled.Store(true)
			kill()
			if c := context.Cause(ctx); c != nil {
				cause.Store(c.Error())
			}
		case <-stop:
		}
	}()
	if !c.namespaces {
		pids := func() []int { return runPids(c.pid, p.uid, p.cgroup) }
		go watchScratch(p.scratch, o.ScratchBytes, pids, stop, func() { scratchOver.Store(true); kill() })
	}

	state, werr := c.cmd.Process.Wait()
	killMu.Lock()
	exited = true
	killMu.Unlock()
	close(stop)
	if timer != nil {
		timer.Stop()
	}
	unregisterChild(c.pid)
	// Whatever user code left behind dies with the run.
	if p.cgroup != nil {
		p.cgroup.kill()
	}
	if !c.namespaces {
		killTree(c.pid, p.uid, c.since)
	}
	waitDrains(&drains, pipes, 3*time.Second)
	status := <-statusCh
	filterDone.Wait()
	pipes.closeParentEnds()
	out.bigAllocs, out.bigAllocMax = allocs.get()
	out.overLimit, out.overAsk, out.overMapped = allocs.getOver()
	out.memFilter = memFilter.Load()

	out.timedOut = timedOut.Load()
	out.cancelled = cancelled.Load()
	if c, ok := cause.Load().(string); ok {
		out.cancelCause = c
	}
	out.scratchExceeded = scratchOver.Load()
	if w, ok := floodWhich.Load().(string); ok {
		out.flooded = w
	}
	if werr != nil {
		out.setupErr = fmt.Sprintf("waiting for python: %v", werr)
	} else {
		ws := state.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			out.signal = ws.Signal()
		} else {
			out.exited = true
			out.exitCode = ws.ExitStatus()
		}
		if ru, ok := state.SysUsage().(*syscall.Rusage); ok {
			out.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			out.maxRSS = ru.Maxrss << 10
		}
	}
	if out.exited && out.exitCode == sandboxchild.ExitHelper && len(status) > 0 {
		out.setupErr = string(status)
	}
	if p.cgroup != nil {
		out.cgroupLimitHit, out.oomKills = p.cgroup.evidence()
		out.cgroupCPU = p.cgroup.cpuUsage()
	} else if oomBefore >= 0 {
		if n := readOOMKills(); n > oomBefore {
			out.oomKills = n - oomBefore
		}
	}
	out.channel, out.channelOverflow = channel.bytes()
	return out
}

type childPipes struct {
	ctrlR, ctrlW, chanR, chanW, statR, statW, outR, outW, errR, errW *os.File
}

func newChildPipes() (*childPipes, error) {
	p := &childPipes{}
	// The status channel is a socket: it carries the helper's errors and
	// the memory filter's listener (SCM_RIGHTS).
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	p.statR, p.statW = os.NewFile(uintptr(sp[0]), "status-r"), os.NewFile(uintptr(sp[1]), "status-w")
	for _, pair := range [][2]**os.File{{&p.ctrlR, &p.ctrlW}, {&p.chanR, &p.chanW}, {&p.outR, &p.outW}, {&p.errR, &p.errW}} {
		r, w, err := os.Pipe()
		if err != nil {
			p.closeAll()
			return nil, err
		}
		*pair[0], *pair[1] = r, w
	}
	return p, nil
}

func closeFiles(fs ...*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}

func (p *childPipes) closeChildEnds() { closeFiles(p.ctrlR, p.chanW, p.statW, p.outW, p.errW) }
func (p *childPipes) closeParentEnds() {
	closeFiles(p.ctrlW, p.chanR, p.statR, p.outR, p.errR)
}
func (p *childPipes) closeAll() { p.closeChildEnds(); p.closeParentEnds() }

// waitDrains waits for the readers; a descendant that still holds a pipe
// (only possible without namespaces, and only if it escaped killTree)
// cannot hold the runner: the read ends are closed after d.
func waitDrains(wg *sync.WaitGroup, p *childPipes, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		closeFiles(p.outR, p.errR, p.chanR)
		<-done
	}
}
