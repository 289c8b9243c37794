package pyexec

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Started as root, the runner puts each run in a memory cgroup of its own,
// a child of the runner's own cgroup (cgroup v2, or the v1 memory
// hierarchy on hybrid hosts), limited to the run's memory. It bounds what
// RLIMIT_AS does not count (shared memory: memfd, tmpfs, SysV and POSIX
// shm), its counters are the kernel's evidence that the memory limit
// stopped the code, and its member list finds every process of the run,
// wherever it went, for the final kill. Without privilege (in a Pod) the
// container's own cgroup plays that part.

// runCgroup is one run's memory cgroup.
type runCgroup struct {
	dir string
	v2  bool
}

var cgroupSeq atomic.Uint32

// memoryCgroupRoot returns the directory of this process's memory cgroup
// and whether it is cgroup v2.
func memoryCgroupRoot() (string, bool, error) {
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", false, err
	}
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false, err
	}
	var v1Path, v2Path string
	for _, line := range strings.Split(string(cg), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			v2Path = f[2]
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == "memory" {
				v1Path = f[2]
			}
		}
	}
	var v1Mount, v2Mount string
	sc := bufio.NewScanner(strings.NewReader(string(mounts)))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, x := range fields {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+3 >= len(fields) || len(fields) < 5 || fields[3] != "/" {
			continue
		}
		fstype, super := fields[sep+1], fields[sep+3]
		point := unescapeMountinfo(fields[4])
		switch fstype {
		case "cgroup2":
			if v2Mount == "" {
				v2Mount = point
			}
		case "cgroup":
			for _, o := range strings.Split(super, ",") {
				if o == "memory" && v1Mount == "" {
					v1Mount = point
				}
			}
		}
	}
	if v1Mount != "" && v1Path != "" {
		return filepath.Join(v1Mount, v1Path), false, nil
	}
	if v2Mount != "" && v2Path != "" {
		dir := filepath.Join(v2Mount, v2Path)
		ctl, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err == nil && strings.Contains(" "+strings.TrimSpace(string(ctl))+" ", " memory ") {
			return dir, true, nil
		}
		return "", false, errors.New("the cgroup v2 hierarchy does not delegate the memory controller here")
	}
	return "", false, errors.New("no memory cgroup hierarchy")
}

// newRunCgroup creates the run's cgroup with limit bytes of memory (and no
// swap on top).
func newRunCgroup(limit int64) (*runCgroup, error) {
	root, v2, err := memoryCgroupRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, fmt.Sprintf("codeexec-run-%d-%d", os.Getpid(), cgroupSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	c := &runCgroup{dir: dir, v2: v2}
	lim := strconv.FormatInt(limit, 10)
	if v2 {
		if err := c.write("memory.max", lim); err != nil {
			c.remove()
			return nil, err
		}
		_ = c.write("memory.swap.max", "0")
		_ = c.write("memory.oom.group", "1")
	} else {
		if err := c.write("memory.limit_in_bytes", lim); err != nil {
			c.remove()
			return nil, err
		}
		_ = c.write("memory.memsw.limit_in_bytes", lim)
		_ = c.write("memory.swappiness", "0")
	}
	return c, nil
}

func (c *runCgroup) write(file, v string) error {
	return os.WriteFile(filepath.Join(c.dir, file), []byte(v), 0)
}

// procsFile is what the helper writes "0" to, to join the cgroup before
// it drops privilege.
func (c *runCgroup) procsFile() string { return filepath.Join(c.dir, "cgroup.procs") }

// pids lists the processes in the cgroup.
func (c *runCgroup) pids() []int {
	b, err := os.ReadFile(c.procsFile())
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// kill SIGKILLs every process in the cgroup until it is empty. A process
// cannot leave the cgroup (no privilege, no cgroupfs in its mount
// namespace), so this finds whatever the run started, orphans and
// zombie-led thread groups included.
func (c *runCgroup) kill() {
	if c.v2 {
		_ = c.write("cgroup.kill", "1")
	}
	for round := 0; round < 200; round++ {
		pids := c.pids()
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(time.Duration(min(round+1, 20)) * time.Millisecond)
	}
}

// evidence reads the kernel's memory counters of the run.
func (c *runCgroup) evidence() (limitHit bool, oomKills int64) {
	if c.v2 {
		ev := readKeyed(filepath.Join(c.dir, "memory.events"))
		return ev["max"] > 0 || ev["oom"] > 0, ev["oom_kill"]
	}
	oc := readKeyed(filepath.Join(c.dir, "memory.oom_control"))
	fail, _ := readInt(filepath.Join(c.dir, "memory.failcnt"))
	memsw, _ := readInt(filepath.Join(c.dir, "memory.memsw.failcnt"))
	return fail > 0 || memsw > 0, oc["oom_kill"]
}

// cpuUsage is the CPU time the kernel charged to the run's cgroup (v2
// cpu.stat usage_usec, present without the cpu controller), or 0.
func (c *runCgroup) cpuUsage() time.Duration {
	if !c.v2 {
		return 0
	}
	return time.Duration(readKeyed(filepath.Join(c.dir, "cpu.stat"))["usage_usec"]) * time.Microsecond
}

// remove kills what is left and removes the cgroup.
func (c *runCgroup) remove() {
	for i := 0; i < 50; i++ {
		c.kill()
		if err := os.Remove(c.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readKeyed(path string) map[string]int64 {
	out := map[string]int64{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// readOOMKills returns the OOM-kill count of this process's own memory
// cgroup (in a Pod: the container's), or -1 when it cannot be read.
func readOOMKills() int64 {
	dir, v2, err := memoryCgroupRoot()
	if err != nil {
		return -1
	}
	var m map[string]int64
	if v2 {
		m = readKeyed(filepath.Join(dir, "memory.events"))
	} else {
		m = readKeyed(filepath.Join(dir, "memory.oom_control"))
	}
	n, ok := m["oom_kill"]
	if !ok {
		return -1
	}
	return n
}

// unescapeMountinfo decodes the octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
