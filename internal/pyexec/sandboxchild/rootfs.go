package sandboxchild

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The sandbox's root filesystem, as root with namespaces (laptops, CI).
// The host's filesystem stays out of reach, read-only or not: python sees
// a new root, a tmpfs made read-only once built, that holds
//   - read-only bind mounts of /usr (the interpreter, its libraries and
//     site-packages live there on Debian) and of the interpreter's own
//     prefix when it is installed elsewhere (/opt/python, a venv);
//   - the merged-/usr links (/bin, /lib, /lib64, /sbin) as on the host;
//   - a few files from /etc that the dynamic loader and python read
//     (ld.so.cache, localtime, alternatives, python3*), and a
//     passwd/group/hosts of its own;
//   - /dev with null, zero, full, random, urandom and the fd links; no
//     /dev/shm: POSIX shared memory has nowhere to go;
//   - a fresh /proc for the sandbox's PID namespace;
//   - the scratch dir, at the same path as outside, a private tmpfs of
//     ScratchBytes, the only writable place.
// Nothing else: no /tmp, /home, /root, /run, /sys, /var, /work. Inputs
// come as open file descriptors, so their paths need not exist here. The
// Pod's image plays this part in a Pod.

// etcFiles are bound read-only when the host has them.
var etcFiles = []string{"/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/mime.types"}

// etcDirs are bound read-only when the host has them: Debian's
// alternatives (libblas.so.3 for numpy is a link through them) and
// python's own configuration (sitecustomize).
var etcDirs = []string{"/etc/alternatives", "/etc/python3*"}

// devNodes are bound from the host's /dev.
var devNodes = []string{"null", "zero", "full", "random", "urandom"}

func buildRoot(s Spec) error {
	// The new root is a tmpfs mounted over the scratch dir, whose host
	// path is of no use inside the sandbox anyway.
	root := s.Dir
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0755"); err != nil {
		return fmt.Errorf("mounting the new root: %w", err)
	}
	in := func(p string) string { return filepath.Join(root, p) }

	binds := []string{"/usr"}
	if prefix := interpreterPrefix(s.Python); prefix != "" {
		binds = append(binds, prefix)
	}
	for _, src := range binds {
		if err := bindRO(src, in(src), true); err != nil {
			return err
		}
	}
	// The merged-/usr links, or binds where the host has real dirs.
	for _, p := range []string{"/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"} {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
			continue
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, in(p)); err != nil {
				return fmt.Errorf("linking %s: %w", p, err)
			}
		case fi.IsDir():
			if err := bindRO(p, in(p), true); err != nil {
				return err
			}
		}
	}
	if err := os.MkdirAll(in("/etc"), 0o755); err != nil {
		return err
	}
	for _, f := range etcFiles {
		fi, err := os.Lstat(f)
		if err != nil {
			continue
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if target, err := os.Readlink(f); err == nil {
				_ = os.Symlink(target, in(f))
			}
			continue
		}
		if err := bindRO(f, in(f), false); err != nil {
			return err
		}
	}
	for _, pattern := range etcDirs {
		matches, _ := filepath.Glob(pattern)
		for _, d := range matches {
			if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
				if err := bindRO(d, in(d), true); err != nil {
					return err
				}
			}
		}
	}
	uid, gid := s.UID, s.GID
	if uid < 0 {
		uid, gid = os.Getuid(), os.Getgid()
	}
	files := map[string]string{
		"/etc/passwd": fmt.Sprintf("root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nsandbox:x:%d:%d:sandbox:%s:/usr/sbin/nologin\n", uid, gid, s.Dir),
		"/etc/group":  fmt.Sprintf("root:x:0:\nsandbox:x:%d:\n", gid),
		"/etc/hosts":  "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
	}
	for name, content := range files {
		if err := os.WriteFile(in(name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(in("/dev"), 0o755); err != nil {
		return err
	}
	for _, n := range devNodes {
		if err := bindRO("/dev/"+n, in("/dev/"+n), false); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, in("/dev/"+name)); err != nil {
			return err
		}
	}
	// The /dev binds are writable device nodes (writing /dev/null); the
	// read-only flag on them is for the mount, the node stays usable.
	if err := os.MkdirAll(in("/proc"), 0o555); err != nil {
		return err
	}
	scratch := in(s.Dir)
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return err
	}
	opts := fmt.Sprintf("size=%d,nr_inodes=%d,mode=0700,uid=%d,gid=%d", s.ScratchBytes, 1<<16, uid, gid)
	if err := unix.Mount("tmpfs", scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("mounting the scratch tmpfs on %s: %w", s.Dir, err)
	}

	old := in("/.old-root")
	if err := os.Mkdir(old, 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(root, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/.old-root", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host's root: %w", err)
	}
	if err := os.Remove("/.old-root"); err != nil {
		return err
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("making the new root read-only: %w", err)
	}
	return nil
}

// bindRO bind-mounts src read-only (and nosuid, nodev unless it is a
// device node) at dst, creating dst as a dir or an empty file.
func bindRO(src, dst string, dir bool) error {
	if dir {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	flags := uintptr(unix.MS_BIND)
	if dir {
		flags |= unix.MS_REC
	}
	if err := unix.Mount(src, dst, "", flags, ""); err != nil {
		return fmt.Errorf("binding %s: %w", src, err)
	}
	ro := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID)
	if !strings.HasPrefix(src, "/dev/") {
		ro |= unix.MS_NODEV
	}
	// Keep the flags the kernel insists on (a remount may not clear
	// nodev, noexec or the atime flags of a locked mount).
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err == nil {
		for _, m := range [][2]uintptr{
			{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOATIME, unix.MS_NOATIME},
			{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
		} {
			if uintptr(st.Flags)&m[0] != 0 {
				ro |= m[1]
			}
		}
	}
	if err := unix.Mount("", dst, "", ro, ""); err != nil {
		return fmt.Errorf("making %s read-only: %w", src, err)
	}
	return nil
}

// interpreterPrefix is the installation prefix to bind when the
// interpreter does not live under /usr (/opt/python/bin/python3 ->
// /opt/python), or "".
func interpreterPrefix(python string) string {
	real, err := filepath.EvalSymlinks(python)
	if err != nil {
		return ""
	}
	if strings.HasPrefix(real, "/usr/") {
		return ""
	}
	prefix := filepath.Dir(filepath.Dir(real))
	if prefix == "/" || prefix == "." {
		return filepath.Dir(real)
	}
	return prefix
}
