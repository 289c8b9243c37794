package netns

import (
	"net"
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
