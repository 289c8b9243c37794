package pyexec

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Without namespaces (no privilege, as in the Pod) the runner makes itself
// a child subreaper: whatever user code starts and orphans, even after a
// setsid, is reparented to the runner instead of init, so the runner can
// find and kill it. Processes the runner started itself are registered so
// that concurrent executions in one process do not kill each other's.

var (
	subreaperOnce sync.Once
	subreaperErr  error

	liveMu   sync.Mutex
	livePids = map[int]bool{}
)

func becomeSubreaper() error {
	subreaperOnce.Do(func() {
		subreaperErr = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	})
	return subreaperErr
}

func registerChild(pid int) {
	liveMu.Lock()
	livePids[pid] = true
	liveMu.Unlock()
}

func unregisterChild(pid int) {
	liveMu.Lock()
	delete(livePids, pid)
	liveMu.Unlock()
}

func isOwnChild(pid int) bool {
	liveMu.Lock()
	defer liveMu.Unlock()
	return livePids[pid]
}

type procStat struct {
	pid, ppid, pgrp, sid int
	state                byte
	start                uint64 // clock ticks after boot
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, false
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(string(f[1]))
	pgrp, _ := strconv.Atoi(string(f[2]))
	sid, _ := strconv.Atoi(string(f[3]))
	start, _ := strconv.ParseUint(string(f[19]), 10, 64)
	return procStat{pid: pid, ppid: ppid, pgrp: pgrp, sid: sid, state: f[0][0], start: start}, true
}

func listPids() []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if p, err := strconv.Atoi(n); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// killTree SIGKILLs what user code started, for runs without a PID
// namespace: every process in the session sid (python's, started with
// setsid); with a dedicated uid (uid >= 0), every process of that uid,
// wherever it went; without one, every orphan reparented to this process
// (a subreaper) that it did not start itself and that started no earlier
// than python (since, in clock ticks). It reaps the orphans it adopted and
// repeats until nothing is left.
func killTree(sid, uid int, since uint64) {
	_ = syscall.Kill(-sid, syscall.SIGKILL)
	self := os.Getpid()
	for round := 0; round < 100; round++ {
		found := false
		for _, pid := range listPids() {
			if pid == self {
				continue
			}
			st, ok := readStat(pid)
			if !ok {
				continue
			}
			adopted := st.ppid == self && !isOwnChild(pid) && st.start >= since
			match := st.sid == sid || adopted
			if !match && uid >= 0 {
				if fi, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
					if sys, ok := fi.Sys().(*syscall.Stat_t); ok && int(sys.Uid) == uid {
						match = true
					}
				}
			}
			if !match {
				continue
			}
			// A thread-group leader that called exit (SYS_exit, not
			// exit_group) shows as a zombie while its other threads run:
			// the signal still kills the whole group. Only a group with no
			// thread left is dead already.
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if st.state == 'Z' && liveThreads(pid) == 0 {
				if adopted {
					var ws syscall.WaitStatus
					_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
				}
				continue // its parent reaps it
			}
			found = true
		}
		if !found {
			return
		}
		time.Sleep(time.Duration(round+1) * time.Millisecond)
	}
}

// countUserTasks counts the tasks (threads) whose real uid is uid, which is
// what RLIMIT_NPROC compares against.
func countUserTasks(uid int) int {
	n := 0
	for _, pid := range listPids() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		var real, threads = -1, 1
		for _, line := range bytes.Split(b, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte("Uid:")); ok {
				if f := bytes.Fields(v); len(f) > 0 {
					real, _ = strconv.Atoi(string(f[0]))
				}
			} else if v, ok := bytes.CutPrefix(line, []byte("Threads:")); ok {
				threads, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
		}
		if real == uid {
			n += threads
		}
	}
	return n
}

// liveThreads counts the threads of pid that are not zombies.
func liveThreads(pid int) int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	d, err := os.Open(dir)
	if err != nil {
		return 0
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	n := 0
	for _, tid := range names {
		b, err := os.ReadFile(dir + "/" + tid + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X' {
			n++
		}
	}
	return n
}

// runPids lists the processes of a run without namespaces: its cgroup's
// members when it has one, else python's session, the run's uid (root)
// and the orphans adopted by this subreaper.
func runPids(sid, uid int, cg *runCgroup) []int {
	if cg != nil {
		return cg.pids()
	}
	self := os.Getpid()
	var out []int
	for _, pid := range listPids() {
		if pid == self {
			continue
		}
		st, ok := readStat(pid)
		if !ok {
			continue
		}
		match := st.sid == sid || (st.ppid == self && !isOwnChild(pid))
		if !match && uid >= 0 {
			if fi, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
				if sys, ok := fi.Sys().(*syscall.Stat_t); ok && int(sys.Uid) == uid {
					match = true
				}
			}
		}
		if match {
			out = append(out, pid)
		}
	}
	return out
}
