package pyexec

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The runner's side of the memory-evidence filter (see
// sandboxchild/seccomp.go): every mmap or mremap that asks for more than
// the whole memory limit reaches the runner as a seccomp notification; it
// answers ENOMEM, as RLIMIT_AS would, and counts it. Smaller ones (over
// sandboxchild.NotifyAbove) go on to the kernel; those that would take the
// process past the limit are recorded.

// seccompData, seccompNotif and seccompNotifResp are the kernel's structs
// (linux/seccomp.h).
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// bigAllocs counts the refused requests and their largest size, and the
// requests that, let through, would take the process past the limit.
type bigAllocs struct {
	mu    sync.Mutex
	count int
	max   int64
	// over counts requests that VmSize plus the request put past the
	// limit; overAsk and overMapped describe the last one.
	over                int
	overAsk, overMapped int64
}

func (b *bigAllocs) get() (int, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.count, b.max
}

func (b *bigAllocs) getOver() (int, int64, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over, b.overAsk, b.overMapped
}

// vmSize is the mapped size of process pid (VmSize), -1 if unknown.
func vmSize(pid uint32) int64 {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// serveMemoryFilter answers the filter's notifications on listener until
// the filter has no process left or stop is closed.
func serveMemoryFilter(listener *os.File, stop <-chan struct{}, limit int64, into *bigAllocs) {
	defer listener.Close()
	fd := int(listener.Fd())
	for {
		select {
		case <-stop:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 100)
		if err != nil && err != unix.EINTR {
			return
		}
		if n == 0 {
			continue
		}
		if pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 && pfd[0].Revents&unix.POLLIN == 0 {
			return
		}
		var req seccompNotif
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
			if e == unix.EINTR || e == unix.ENOENT {
				continue
			}
			return
		}
		size, grow := req.Data.Args[1], req.Data.Args[1]
		if req.Data.Nr == unix.SYS_MREMAP {
			size, grow = req.Data.Args[2], 0
			if req.Data.Args[2] > req.Data.Args[1] {
				grow = req.Data.Args[2] - req.Data.Args[1]
			}
		}
		if size <= uint64(limit) {
			// It fits the limit by itself: the kernel decides. Record it
			// if it would take the process past the limit.
			if vm := vmSize(req.Pid); vm >= 0 && grow > 0 && vm+int64(grow) > limit {
				into.mu.Lock()
				into.over++
				into.overAsk, into.overMapped = int64(grow), vm
				into.mu.Unlock()
			}
			resp := seccompNotifResp{ID: req.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
			_, _, _ = syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
			continue
		}
		into.mu.Lock()
		into.count++
		if s := int64(min(size, 1<<62)); s > into.max {
			into.max = s
		}
		into.mu.Unlock()
		resp := seccompNotifResp{ID: req.ID, Error: -int32(unix.ENOMEM)}
		_, _, _ = syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}
}

// readStatus reads the helper's status socket until EOF: error text, and
// the filter's listener when the helper sends it.
func readStatus(sock *os.File) (text []byte, listener *os.File) {
	fd := int(sock.Fd())
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for len(text) < 4096 {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if oobn > 0 {
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					fds, err := unix.ParseUnixRights(&m)
					if err != nil {
						continue
					}
					for _, f := range fds {
						if listener == nil {
							listener = os.NewFile(uintptr(f), "seccomp-listener")
						} else {
							unix.Close(f)
						}
					}
				}
			}
			n = 0 // the byte that carried the fd is not status text
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil || (n == 0 && oobn == 0) {
			return text, listener
		}
		text = append(text, buf[:n]...)
	}
	return text, listener
}
