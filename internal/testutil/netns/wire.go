package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

// A Wire is a second network for tests that must see what a program sends
// once it has somewhere to send it. Inside the test's private network
// namespace (see Main) it adds a veth pair: one end (WireHostIf, address
// WireHostAddr) stays in the test's namespace with a default route through
// the other; the other end (address WirePeerAddr) lives in a peer network
// namespace of its own that has nothing else but loopback. Both ends stay
// inside private namespaces: nothing can leave the machine, whatever the
// code under test does.
//
// The peer end records everything that arrives on it:
//   - every IPv4 packet, whatever its destination address or port (a raw
//     packet socket on the interface), so that traffic to any address the
//     default route sends its way is seen;
//   - UDP listeners on WireUDPPorts and TCP listeners on WireTCPPorts of
//     WirePeerAddr, which keep what they receive (STUN requests, TURN
//     allocations over TCP, HTTP requests);
//   - a DNS server on WirePeerAddr port 53 (UDP and TCP) that logs each
//     query and answers every A question with WirePeerAddr.
//
// Programs use the peer's DNS server when their /etc/resolv.conf names it:
// WriteResolvConf writes such a file, and a test binds it over
// /etc/resolv.conf in a private mount namespace for the program it starts
// (WrapProgram), never for the machine.
//
// IPv6 is disabled on both ends, so the kernel's own neighbour discovery
// does not show up as traffic; ARP is ignored.
type Wire struct {
	// NXDomain holds exact names (lower case, with the final dot) the DNS
	// server answers with NXDOMAIN instead of WirePeerAddr; the query is
	// still recorded. Set it before the wire is used.
	NXDomain map[string]bool

	mu     sync.Mutex
	events []WireEvent
	// closers end the peer's listeners.
	closers []func()
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Addresses and ports of the wire. 10.99.0.0/24 is private (RFC 1918) and
// only ever exists inside the test's namespaces.
var (
	WireHostAddr = netip.MustParseAddr("10.99.0.1")
	WirePeerAddr = netip.MustParseAddr("10.99.0.2")
	WireUDPPorts = []int{3478, 5349, 8801, 19302}
	WireTCPPorts = []int{80, 443, 3478, 5349, 8802}
)

const (
	// WireHostIf is the test namespace's end of the pair.
	WireHostIf = "cxwire0"
	wirePeerIf = "cxwire1"
)

// WireEvent is one thing the peer end saw.
type WireEvent struct {
	Time time.Time
	// Kind is "packet" (a raw IPv4 packet: every one, listeners or not),
	// "udp" (a datagram a listener read), "tcp" (a connection a listener
	// accepted, with what it sent in its first second) or "dns" (a query).
	Kind string
	// Proto is "udp", "tcp" or "ip/N" for packets.
	Proto    string
	Src, Dst string
	// Data is the payload (packets: the transport payload; dns: the name
	// asked for).
	Data []byte
}

func (e WireEvent) String() string {
	d := e.Data
	if len(d) > 120 {
		d = d[:120]
	}
	return fmt.Sprintf("%s %s %s -> %s %q", e.Kind, e.Proto, e.Src, e.Dst, d)
}

// StartWire adds the wire to the test's private network namespace. It must
// run as root inside Main's namespace (it fails the test otherwise); the
// wire goes away with the test.
func StartWire(t testing.TB) *Wire {
	t.Helper()
	w, err := startWire()
	if err != nil {
		t.Fatalf("netns: adding the test's second network: %v", err)
	}
	t.Cleanup(w.close)
	return w
}

func startWire() (*Wire, error) {
	if os.Getenv(envMarker) != "1" {
		return nil, errors.New("not inside the private network namespace of netns.Main")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("a veth pair and a peer namespace need root (CI runs as root)")
	}
	if err := checkProc(); err != nil {
		return nil, fmt.Errorf("before adding the wire: %w", err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("iproute2's ip is required: %w", err)
	}
	w := &Wire{stop: make(chan struct{})}
	if err := run("ip", "link", "add", WireHostIf, "type", "veth", "peer", "name", wirePeerIf); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			w.close()
		}
	}()
	w.closers = append(w.closers, func() { _ = run("ip", "link", "del", WireHostIf) })

	// The peer namespace lives on one locked OS thread: sockets it opens
	// there stay in that namespace, and goroutines on any thread may then
	// use them. The thread ends (and with the sockets the namespace) when
	// the wire is closed.
	type peerReady struct {
		nsPath string
		err    error
	}
	readyCh := make(chan peerReady)
	setupCh := make(chan error)
	peerDone := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: Go ends the thread with the goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			readyCh <- peerReady{err: fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		readyCh <- peerReady{nsPath: fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())}
		if err := <-setupCh; err != nil {
			return
		}
		peerDone <- w.setupPeer()
		<-w.stop
	}()
	ready := <-readyCh
	if ready.err != nil {
		return nil, ready.err
	}
	if err := run("ip", "link", "set", wirePeerIf, "netns", ready.nsPath); err != nil {
		setupCh <- err
		return nil, err
	}
	setupCh <- nil
	if err := <-peerDone; err != nil {
		return nil, fmt.Errorf("the peer namespace: %w", err)
	}
	if err := writeSysctl("net/ipv6/conf/"+WireHostIf+"/disable_ipv6", "1"); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"addr", "add", WireHostAddr.String() + "/24", "dev", WireHostIf},
		{"link", "set", WireHostIf, "up"},
		{"route", "add", "default", "via", WirePeerAddr.String(), "dev", WireHostIf},
	} {
		if err := run("ip", args...); err != nil {
			return nil, err
		}
	}
	if err := w.checkLink(); err != nil {
		return nil, err
	}
	ok = true
	return w, nil
}

// setupPeer runs on the peer namespace's thread.
func (w *Wire) setupPeer() error {
	if err := loopbackUp(); err != nil {
		return err
	}
	if err := writeSysctl("net/ipv6/conf/"+wirePeerIf+"/disable_ipv6", "1"); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"addr", "add", WirePeerAddr.String() + "/24", "dev", wirePeerIf},
		{"link", "set", wirePeerIf, "up"},
	} {
		if err := run("ip", args...); err != nil {
			return err
		}
	}
	if err := checkOnly("lo", wirePeerIf); err != nil {
		return fmt.Errorf("the peer namespace: %w", err)
	}
	ifi, err := net.InterfaceByName(wirePeerIf)
	if err != nil {
		return err
	}
	if err := w.capture(ifi.Index); err != nil {
		return fmt.Errorf("capturing packets: %w", err)
	}
	peer := WirePeerAddr.String()
	for _, p := range WireUDPPorts {
		pc, err := net.ListenPacket("udp4", net.JoinHostPort(peer, fmt.Sprint(p)))
		if err != nil {
			return err
		}
		w.serveUDP(pc, nil)
	}
	for _, p := range WireTCPPorts {
		ln, err := net.Listen("tcp4", net.JoinHostPort(peer, fmt.Sprint(p)))
		if err != nil {
			return err
		}
		w.serveTCP(ln, nil)
	}
	dnsUDP, err := net.ListenPacket("udp4", net.JoinHostPort(peer, "53"))
	if err != nil {
		return err
	}
	w.serveUDP(dnsUDP, w.answerDNS)
	dnsTCP, err := net.Listen("tcp4", net.JoinHostPort(peer, "53"))
	if err != nil {
		return err
	}
	w.serveTCP(dnsTCP, w.answerDNSTCP)
	return nil
}

// checkLink verifies the test namespace now has lo and the wire's end, and
// that the peer answers on the wire.
func (w *Wire) checkLink() error {
	if err := checkOnly("lo", WireHostIf); err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp4", net.JoinHostPort(WirePeerAddr.String(), fmt.Sprint(WireTCPPorts[0])), 5*time.Second)
	if err != nil {
		return fmt.Errorf("the peer does not answer on the wire: %w", err)
	}
	c.Close()
	// The check's own connection is not the code under test's.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if len(w.Events()) >= 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(w.Events()) == 0 {
		return errors.New("the peer's packet capture saw the check's own connection nowhere")
	}
	time.Sleep(200 * time.Millisecond)
	w.mu.Lock()
	w.events = nil
	w.mu.Unlock()
	return nil
}

// Events returns everything seen so far.
func (w *Wire) Events() []WireEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]WireEvent(nil), w.events...)
}

// Mark returns a position in the event log for Since.
func (w *Wire) Mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.events)
}

// Since returns the events after mark.
func (w *Wire) Since(mark int) []WireEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	if mark > len(w.events) {
		mark = len(w.events)
	}
	return append([]WireEvent(nil), w.events[mark:]...)
}

func (w *Wire) record(e WireEvent) {
	e.Time = time.Now()
	w.mu.Lock()
	w.events = append(w.events, e)
	w.mu.Unlock()
}

func (w *Wire) close() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
	w.wg.Wait()
}

// capture reads every packet that arrives on the peer's interface.
func (w *Wire) capture(ifindex int) error {
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return err
	}
	tv := unix.Timeval{Usec: 100000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return err
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer unix.Close(fd)
		buf := make([]byte, 65536)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			if e, ok := parseFrame(buf[:n]); ok {
				w.record(e)
			}
		}
	}()
	return nil
}

// parseFrame reads an Ethernet frame carrying IPv4; everything else (ARP)
// is not traffic of the code under test.
func parseFrame(b []byte) (WireEvent, bool) {
	if len(b) < 14+20 || binary.BigEndian.Uint16(b[12:14]) != 0x0800 {
		return WireEvent{}, false
	}
	ip := b[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 || len(ip) < ihl {
		return WireEvent{}, false
	}
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if total > len(ip) || total < ihl {
		total = len(ip)
	}
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	e := WireEvent{Kind: "packet", Src: src.String(), Dst: dst.String(), Proto: fmt.Sprintf("ip/%d", ip[9])}
	l4 := ip[ihl:total]
	switch ip[9] {
	case unix.IPPROTO_UDP:
		if len(l4) >= 8 {
			e.Proto = "udp"
			e.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4[0:2])).String()
			e.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:4])).String()
			e.Data = append([]byte(nil), l4[8:]...)
		}
	case unix.IPPROTO_TCP:
		if len(l4) >= 20 {
			e.Proto = "tcp"
			e.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4[0:2])).String()
			e.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:4])).String()
			off := int(l4[12]>>4) * 4
			if off <= len(l4) {
				e.Data = append([]byte(nil), l4[off:]...)
			}
		}
	}
	return e, true
}

func (w *Wire) serveUDP(pc net.PacketConn, answer func([]byte) []byte) {
	w.closers = append(w.closers, func() { pc.Close() })
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			msg := append([]byte(nil), buf[:n]...)
			if answer != nil {
				if reply := answer(msg); reply != nil {
					_, _ = pc.WriteTo(reply, addr)
				}
				continue
			}
			w.record(WireEvent{Kind: "udp", Proto: "udp", Src: addr.String(), Dst: pc.LocalAddr().String(), Data: msg})
		}
	}()
}

func (w *Wire) serveTCP(ln net.Listener, answer func(net.Conn)) {
	w.closers = append(w.closers, func() { ln.Close() })
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				if answer != nil {
					answer(c)
					return
				}
				buf := make([]byte, 4096)
				n, _ := c.Read(buf)
				w.record(WireEvent{Kind: "tcp", Proto: "tcp", Src: c.RemoteAddr().String(), Dst: c.LocalAddr().String(), Data: append([]byte(nil), buf[:n]...)})
			}()
		}
	}()
}

// answerDNS logs a query and answers A questions with the peer's address.
func (w *Wire) answerDNS(q []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		w.record(WireEvent{Kind: "dns", Proto: "udp", Data: []byte("unparsable query")})
		return nil
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) == 0 {
		w.record(WireEvent{Kind: "dns", Proto: "udp", Data: []byte("unparsable query")})
		return nil
	}
	var names []string
	for _, qq := range qs {
		names = append(names, qq.Type.String()+" "+qq.Name.String())
	}
	w.record(WireEvent{Kind: "dns", Proto: "udp", Dst: WirePeerAddr.String() + ":53", Data: []byte(strings.Join(names, ", "))})
	rcode := dnsmessage.RCodeSuccess
	for _, qq := range qs {
		if w.NXDomain[strings.ToLower(qq.Name.String())] {
			rcode = dnsmessage.RCodeNameError
		}
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true, RCode: rcode})
	b.EnableCompression()
	if b.StartQuestions() != nil {
		return nil
	}
	for _, qq := range qs {
		_ = b.Question(qq)
	}
	if b.StartAnswers() != nil {
		return nil
	}
	for _, qq := range qs {
		if qq.Type == dnsmessage.TypeA && rcode == dnsmessage.RCodeSuccess {
			_ = b.AResource(dnsmessage.ResourceHeader{Name: qq.Name, Class: dnsmessage.ClassINET, TTL: 0}, dnsmessage.AResource{A: WirePeerAddr.As4()})
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

func (w *Wire) answerDNSTCP(c net.Conn) {
	var lb [2]byte
	if _, err := ioReadFull(c, lb[:]); err != nil {
		w.record(WireEvent{Kind: "dns", Proto: "tcp", Src: c.RemoteAddr().String(), Data: []byte("connection without a query")})
		return
	}
	q := make([]byte, binary.BigEndian.Uint16(lb[:]))
	if _, err := ioReadFull(c, q); err != nil {
		w.record(WireEvent{Kind: "dns", Proto: "tcp", Src: c.RemoteAddr().String(), Data: []byte("short query")})
		return
	}
	if reply := w.answerDNS(q); reply != nil {
		_, _ = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(reply))), reply...))
	}
}

func ioReadFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// WriteResolvConf writes a resolv.conf naming only the peer's DNS server
// into dir and returns its path.
func WriteResolvConf(dir string) (string, error) {
	path := dir + "/resolv.conf"
	return path, os.WriteFile(path, []byte("nameserver "+WirePeerAddr.String()+"\noptions timeout:1 attempts:1\n"), 0o644)
}

// A Bind mounts Source over Target (both must exist).
type Bind struct{ Source, Target string }

// WrapProgram writes an executable script into dir that runs prog with its
// arguments in a private mount namespace of its own where each bind is
// mounted (mounts are made private first, so nothing reaches the machine's
// own namespace), and returns the script's path. Tests use it to give a
// program the wire's resolv.conf (see WriteResolvConf) or a configuration
// of its own without touching the machine's.
func WrapProgram(dir, prog string, binds ...Bind) (string, error) {
	if _, err := exec.LookPath("unshare"); err != nil {
		return "", fmt.Errorf("util-linux's unshare is required: %w", err)
	}
	var inner strings.Builder
	for _, b := range binds {
		inner.WriteString("mount --bind " + shellQuote(b.Source) + " " + shellQuote(b.Target) + " && ")
	}
	inner.WriteString(`exec "$0" "$@"`)
	path := dir + "/wrapped-" + strings.ReplaceAll(strings.TrimPrefix(prog, "/"), "/", "-")
	script := "#!/bin/sh\nexec unshare --mount --propagation private -- /bin/sh -c " + shellQuote(inner.String()) + " " + shellQuote(prog) + ` "$@"` + "\n"
	return path, os.WriteFile(path, []byte(script), 0o755)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// checkOnly verifies that this namespace's interfaces are exactly names.
func checkOnly(names ...string) error {
	b, err := os.ReadFile("/proc/thread-self/net/dev")
	if err != nil {
		return err
	}
	var found []string
	for i, line := range splitLines(string(b)) {
		if i < 2 || line == "" {
			continue
		}
		found = append(found, trimName(line))
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	if len(found) != len(names) {
		return fmt.Errorf("interfaces %v, want exactly %v", found, names)
	}
	for _, f := range found {
		if !want[f] {
			return fmt.Errorf("interfaces %v, want exactly %v", found, names)
		}
	}
	return nil
}

// writeSysctl sets a sysctl of the calling thread's network namespace; a
// missing IPv6 setting means a kernel without IPv6, which is fine.
func writeSysctl(name, value string) error {
	err := os.WriteFile("/proc/sys/"+name, []byte(value), 0o644)
	if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(name, "net/ipv6/") {
		return nil
	}
	return err
}

func run(prog string, args ...string) error {
	out, err := exec.Command(prog, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", prog, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
