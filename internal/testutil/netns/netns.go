// Package netns runs a test binary inside a network namespace of its own
// where only loopback exists, so that hostile code under test can never
// send traffic off the machine, even while the code that should contain
// it is wrong.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { netns.Main(m) }
//
// As root it re-executes the test binary in a new network namespace; as
// another user it adds a user namespace mapping that user to itself. If
// neither is possible the tests fail rather than run on the host network.
package netns

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const envMarker = "CODEEXEC_TEST_IN_NETNS"

// Main runs m in a private network namespace and exits.
func Main(m *testing.M) {
	if os.Getenv(envMarker) == "1" {
		if err := Check(); err != nil {
			fmt.Fprintf(os.Stderr, "netns: %v\n", err)
			os.Exit(3)
		}
		os.Exit(m.Run())
	}
	os.Exit(reexec())
}

func reexec() int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "netns: finding the test binary: %v\n", err)
		return 3
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envMarker+"=1")
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		uid, gid := os.Geteuid(), os.Getegid()
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
		attr.AmbientCaps = []uintptr{unix.CAP_NET_ADMIN}
	}
	cmd.SysProcAttr = attr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "netns: cannot start the tests in a private network namespace (they would otherwise run on the host network): %v\n", err)
		return 3
	}
	return 0
}

// Check brings loopback up and verifies that it is the only interface.
func Check() error {
	if err := loopbackUp(); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	// /proc/self/net/dev lists this namespace's interfaces; sysfs would
	// show the namespace that mounted it.
	return checkProc()
}

func checkProc() error {
	b, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return err
	}
	n := 0
	for i, line := range splitLines(string(b)) {
		if i < 2 || line == "" {
			continue
		}
		n++
		name := trimName(line)
		if name != "lo" {
			return fmt.Errorf("interface %q exists: not a private network namespace", name)
		}
	}
	if n != 1 {
		return fmt.Errorf("want exactly the loopback interface, found %d", n)
	}
	return nil
}

// InPrivateNetns reports whether the current process passed Check.
func InPrivateNetns() bool { return os.Getenv(envMarker) == "1" && checkProc() == nil }

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func trimName(line string) string {
	i := 0
	for i < len(line) && line[i] == ' ' {
		i++
	}
	j := i
	for j < len(line) && line[j] != ':' {
		j++
	}
	return line[i:j]
}
