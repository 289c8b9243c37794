package pyexec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Without namespaces the scratch dir is a directory of the host (in a Pod,
// the emptyDir): the runner measures it while the code runs and empties
// it afterwards. The code owns what it creates there, so it can hide it
// from a plain walk (a directory of mode 0300 cannot be listed) or keep
// its space without a name (a file unlinked while open): the walk restores
// the owner's permissions on what it cannot read, and the space of open
// unlinked files on the scratch filesystem is counted from the run's
// processes' fds.

// scratchUsage is the space the run holds in dir: its tree, and deleted
// files still open by a process of pids.
func scratchUsage(dir string, pids []int) int64 {
	var total int64
	var dev uint64
	if st, err := os.Stat(dir); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			dev = sys.Dev
		}
	}
	walkForce(dir, func(_ string, info fs.FileInfo) {
		total += allocated(info)
	})
	seen := map[uint64]bool{}
	for _, pid := range pids {
		fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
		d, err := os.Open(fdDir)
		if err != nil {
			continue
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, n := range names {
			link, err := os.Readlink(fdDir + "/" + n)
			if err != nil || !strings.HasSuffix(link, " (deleted)") {
				continue
			}
			info, err := os.Stat(fdDir + "/" + n)
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			sys, ok := info.Sys().(*syscall.Stat_t)
			if !ok || sys.Dev != dev || seen[sys.Ino] {
				continue
			}
			seen[sys.Ino] = true
			total += allocated(info)
		}
	}
	return total
}

func allocated(info fs.FileInfo) int64 {
	if sys, ok := info.Sys().(*syscall.Stat_t); ok {
		return sys.Blocks * 512
	}
	return info.Size()
}

// walkForce visits every entry under dir, giving back to the owner the
// permissions the code took away from a directory so that it can be
// listed (the runner owns what the code made, or is root).
func walkForce(dir string, visit func(string, fs.FileInfo)) {
	d, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			if os.Chmod(dir, 0o700) == nil {
				d, err = os.Open(dir)
			}
		}
		if err != nil {
			return
		}
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		p := filepath.Join(dir, n)
		info, err := os.Lstat(p)
		if err != nil {
			continue
		}
		visit(p, info)
		if info.IsDir() {
			if info.Mode().Perm()&0o700 != 0o700 {
				_ = os.Chmod(p, 0o700)
			}
			walkForce(p, visit)
		}
	}
}

// emptyScratch removes what the run left in dir, except the names in keep
// (what was there before the run), whatever permissions the code set.
func emptyScratch(dir string, keep map[string]bool) {
	for i := 0; i < 3; i++ {
		walkForce(dir, func(string, fs.FileInfo) {})
		d, err := os.Open(dir)
		if err != nil {
			return
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		left := 0
		for _, n := range names {
			if keep[n] {
				continue
			}
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				left++
			}
		}
		if left == 0 {
			return
		}
	}
}

// removeScratch removes a scratch dir the runner created.
func removeScratch(dir string) {
	emptyScratch(dir, nil)
	_ = os.Remove(dir)
}

// listNames returns the entries of dir.
func listNames(dir string) map[string]bool {
	out := map[string]bool{}
	d, err := os.Open(dir)
	if err != nil {
		return out
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		out[n] = true
	}
	return out
}

// watchScratch stops the run when the space it holds in the scratch dir
// grows over limit (the tmpfs size does it in the namespace sandbox; in
// the Pod the emptyDir's sizeLimit backs it up). pids lists the run's
// processes.
func watchScratch(dir string, limit int64, pids func() []int, stop <-chan struct{}, over func()) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if scratchUsage(dir, pids()) > limit {
			over()
			return
		}
	}
}
