package pyexec

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codeexec/codeexec-operator/internal/result"
)

func TestCapBuffer(t *testing.T) {
	b := newCapBuffer(10, 0, nil)
	b.Write([]byte("0123456789"))
	if b.String() != "0123456789" || b.Truncated() {
		t.Fatalf("at the cap: %q %v", b.String(), b.Truncated())
	}
	b.Write([]byte("abc"))
	b.Write([]byte("defghijklmnop"))
	got := b.String()
	if !strings.HasPrefix(got, "01234") || !strings.HasSuffix(got, "lmnop") || !strings.Contains(got, "16 bytes omitted") || !b.Truncated() {
		t.Fatalf("head and tail: %q", got)
	}
	fired := 0
	f := newCapBuffer(4, 8, func() { fired++ })
	for i := 0; i < 5; i++ {
		f.Write([]byte("xyz"))
	}
	if fired != 1 || !f.Flooded() || f.Total() != 15 {
		t.Fatalf("flood fired %d times, total %d", fired, f.Total())
	}
}

func TestParseFrames(t *testing.T) {
	frame := func(nonce, kind, payload string) string {
		return "CX1 " + nonce + " " + kind + " " + strconv.Itoa(len(payload)) + "\n" + payload
	}
	cases := map[string]struct {
		data    string
		wantErr bool
		result  string
		finals  int
	}{
		"one result":      {data: frame("n1", "result", `{"a":1}`), result: `{"a":1}`, finals: 1},
		"violation first": {data: frame("n1", "violation", `{"event":"os.system","message":"m"}`) + frame("n1", "result", `1`), result: "1", finals: 1},
		"wrong nonce":     {data: frame("n2", "result", `1`), wantErr: true},
		"short payload":   {data: "CX1 n1 result 10\n1", wantErr: true},
		"not json":        {data: frame("n1", "result", `NaN`), wantErr: true},
		"unknown kind":    {data: frame("n1", "exec", `1`), wantErr: true},
		"two results":     {data: frame("n1", "result", `1`) + frame("n1", "result", `2`), result: "1", finals: 2},
		"garbage":         {data: "hello", wantErr: true},
	}
	for name, c := range cases {
		f, err := parseFrames([]byte(c.data), "n1")
		if (err != nil) != c.wantErr {
			t.Errorf("%s: err %v", name, err)
			continue
		}
		if !c.wantErr && (string(f.result) != c.result || f.finals != c.finals) {
			t.Errorf("%s: result %s finals %d", name, f.result, f.finals)
		}
	}
}

// TestDefaultLimits runs with the runner's defaults (512 MiB of address
// space and less): the helper applies RLIMIT_AS right before exec, where
// the Go runtime may already hold more than that.
func TestDefaultLimits(t *testing.T) {
	requirePython(t)
	for _, mem := range []int64{0, 128 << 20} {
		res := Run(context.Background(), Options{Code: []byte("import numpy\nresult = {'ok': int(numpy.int64(7))}"), Python: testPython, MemoryBytes: mem, Timeout: 20 * time.Second})
		if res.Reason != result.Completed || string(res.Result) != `{"ok":7}` {
			t.Errorf("memory %d: %s: %s\n%s", mem, res.Reason, res.Message, tail(res.Stderr, 500))
		}
	}
}

func TestInvalidInput(t *testing.T) {
	requirePython(t)
	cases := map[string]Options{
		"no python":     {Code: []byte("result = 1"), Python: "no-such-python-cx"},
		"missing input": {Code: []byte("result = 1"), Python: testPython, Inputs: []Input{{Name: "x", Path: "/nonexistent.csv"}}},
		"bad format":    {Code: []byte("result = 1"), Python: testPython, Inputs: []Input{{Name: "x", Path: "/etc/hostname"}}},
	}
	for name, o := range cases {
		if res := Run(context.Background(), o); res.Reason != result.InvalidInput {
			t.Errorf("%s: %s: %s", name, res.Reason, res.Message)
		}
	}
}

// TestRootWithoutNamespaces covers root where namespaces cannot be created
// (a container without CAP_SYS_ADMIN): user code still runs as a uid of
// its own.
func TestRootWithoutNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	requirePython(t)
	corpus := sharedCorpus(t)
	fx := getFixtures(t)
	for _, p := range loadPrograms(t, filepath.Join(corpus, "python")) {
		switch p.name {
		case "ok_01_revenue_by_category", "fsread_02_proc_environ_parent", "escape_01_subclasses_walk", "fork_01_fork_bomb":
		default:
			continue
		}
		o := corpusOptionsFor(corpus, p)
		o.noNamespaces = true
		res := Run(context.Background(), o)
		grade(t, p, res, fx)
		if p.name == "fsread_02_proc_environ_parent" && !strings.Contains(string(res.Result), "uid") && res.Reason == result.Completed {
			t.Logf("fsread_02 result: %s", tail(string(res.Result), 300))
		}
	}
	if o := findOrphans(); len(o) > 0 {
		t.Errorf("processes of user code survived: %q", o)
	}
}

// TestUnprivilegedSaysSo checks the debug line of the path without
// privilege (it runs in TestUnprivileged's non-root child).
func TestUnprivilegedSaysSo(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("the unprivileged path runs in TestUnprivileged's child")
	}
	requirePython(t)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	res := Run(context.Background(), Options{Code: []byte("result = 1"), Python: testPython, Logger: log})
	if res.Reason != result.Completed {
		t.Fatalf("%s: %s", res.Reason, res.Message)
	}
	if !strings.Contains(buf.String(), "relying on the Pod") {
		t.Errorf("no debug line about relying on the Pod: %q", buf.String())
	}
}

// TestSiteOnDemand: python runs with -S; site-packages, exit() and friends
// must still be there when the code uses them.
func TestSiteOnDemand(t *testing.T) {
	requirePython(t)
	cases := map[string]struct{ code, want string }{
		"exit after result": {"result = 1\nexit()", "1"},
		"builtins":          {"result = [repr(exit).startswith('Use exit()'), callable(help), 'Python' in repr(copyright)]", "[true,true,true]"},
		"third-party":       {"import numpy\nresult = int(numpy.int8(3))", "3"},
		"lazy alias":        {"result = int(np.int16(4))", "4"},
	}
	for name, c := range cases {
		res := Run(context.Background(), Options{Code: []byte(c.code), Python: testPython, Timeout: 20 * time.Second})
		if res.Reason != result.Completed || string(res.Result) != c.want {
			t.Errorf("%s: %s: %s result %s\n%s", name, res.Reason, res.Message, res.Result, tail(res.Stderr, 400))
		}
	}
}

// TestControlHeader pins the wire form bootstrap.py parses.
func TestControlHeader(t *testing.T) {
	h := controlHeader{Nonce: "ab12", ChannelFD: 4, MaxOutput: 100, Audit: true, MaxOpenFiles: 256,
		Scratch: "/tmp/s\nx", Inputs: []controlInput{{FD: 6, Format: "csv", Name: "a b"}}, Convert: "CONV"}
	want := "CX1 ab12 4 100 1 1 256 4\n" + "2f746d702f730a78\n" + "6 csv 612062\n" + "CONV"
	if got := string(h.encode()); got != want {
		t.Errorf("encode:\n got %q\nwant %q", got, want)
	}
}
