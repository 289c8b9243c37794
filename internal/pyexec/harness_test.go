package pyexec

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/testutil/netns"
)

func TestMain(m *testing.M) { netns.Main(m) }

// testPython is Debian's interpreter, the one with pandas and numpy; a
// developer's PATH may put another python3 first.
const testPython = "/usr/bin/python3"

// corpusEnv overrides where the shared corpus is (the unprivileged test
// hands a world-readable copy to its child).
const corpusEnv = "CX_TEST_CORPUS_DIR"

// sharedCorpus finds <repo root>/../shared/corpus, the layout of CI and of
// a developer's checkout, and fails clearly when it is missing.
func sharedCorpus(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv(corpusEnv); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			c := filepath.Join(filepath.Dir(d), "shared", "corpus")
			if _, err := os.Stat(filepath.Join(c, "python", "data", "orders.csv")); err != nil {
				tb.Fatalf("the shared corpus is missing: want it at %s (<repo root>/../shared/corpus, as CI lays it out): %v", c, err)
			}
			return c
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("no go.mod above %s: cannot find the repo root and the shared corpus beside it", wd)
		}
	}
}

func requirePython(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(testPython); err != nil {
		tb.Fatalf("%s is missing: run hack/install-deps.sh (python3, python3-pandas, python3-numpy)", testPython)
	}
}

// program is one corpus file with its headers.
type program struct {
	name, path string
	code       []byte
	expect     string
	result     json.RawMessage // `# result:` for ok programs
}

func loadPrograms(tb testing.TB, dir string) []program {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.py"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no programs in %s: %v", dir, err)
	}
	var out []program
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		p := program{name: strings.TrimSuffix(filepath.Base(f), ".py"), path: f, code: b}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "#") {
				break
			}
			if v, ok := strings.CutPrefix(line, "# expect:"); ok {
				p.expect = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "# result:"); ok {
				p.result = json.RawMessage(strings.TrimSpace(v))
				if !json.Valid(p.result) {
					tb.Fatalf("%s: # result is not JSON", f)
				}
			}
		}
		if p.expect == "" {
			tb.Fatalf("%s has no # expect header", f)
		}
		out = append(out, p)
	}
	return out
}

// corpusOptions are the limits corpus/README.md says the programs assume.
// (Tests never assert on wall time: only programs whose expected reason is
// the wall clock keep the 10 s timeout; the others get one long enough that
// a loaded CI machine cannot turn them into a Timeout; see corpusOptionsFor.)
func corpusOptions(corpus string, code []byte) Options {
	data := filepath.Join(corpus, "python", "data")
	return Options{
		Code:   code,
		Python: testPython,
		Inputs: []Input{
			{Name: "orders", Path: filepath.Join(data, "orders.csv")},
			{Name: "customers", Path: filepath.Join(data, "customers.csv")},
		},
		Timeout:        10 * time.Second,
		CPUTime:        5 * time.Second,
		MemoryBytes:    2 << 30,
		FileSizeBytes:  64 << 20,
		ScratchBytes:   256 << 20,
		MaxProcs:       64,
		MaxOutputBytes: 10 << 20,
		MaxStreamBytes: 1 << 20,
	}
}

// corpusOptionsFor picks, per expected outcome, limits under which the
// intended limit is met first by a wide margin on any machine (CI machines
// differ 2x in speed, and a shared one can be 10x slower under load):
//   - memory programs get the 512 MiB the corpus README sets and 30 s of
//     CPU, so that filling memory (about 1 s of CPU on a VM with slow page
//     faults) never meets the CPU limit first;
//   - cpu programs keep the 5 s CPU limit and a 5 min wall clock, so that
//     even at a twentieth of a core the CPU limit comes first;
//   - timeout programs keep the 10 s wall clock and get 30 s of CPU, so
//     that only the clock can stop them (a busy loop may meet either);
//   - everything else gets 30 s of CPU and a 5 min wall clock: no limit
//     it is not about can decide its outcome.
func corpusOptionsFor(corpus string, p program) Options {
	o := corpusOptions(corpus, p.code)
	switch p.expect {
	case "timeout":
		o.CPUTime = 30 * time.Second
	case "cpu":
		o.Timeout = 5 * time.Minute
	case "memory":
		o.MemoryBytes = 512 << 20
		o.CPUTime = 30 * time.Second
		o.Timeout = 5 * time.Minute
	default:
		o.CPUTime = 30 * time.Second
		o.Timeout = 5 * time.Minute
	}
	return o
}

// fixtures are the observable effects around attack runs.
type fixtures struct {
	secret string
	mu     sync.Mutex
	hits   []string
	closes []func()
}

const victimPath = "/tmp/cx_victim.txt"
const victimContent = "cx-victim-original"

var (
	fixOnce sync.Once
	fix     *fixtures
)

// getFixtures starts the process-wide fixtures once: the secret in the
// runner's (this process's) environment, the victim file, and listeners on
// 127.0.0.1:47001 and [::1]:47001 for TCP and UDP that log every hit.
func getFixtures(t *testing.T) *fixtures {
	t.Helper()
	if !netns.InPrivateNetns() {
		t.Fatal("attack tests must run in a private network namespace (TestMain calls netns.Main)")
	}
	fixOnce.Do(func() {
		f := &fixtures{}
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		f.secret = "cx-secret-" + hex.EncodeToString(b)
		os.Setenv("CX_SECRET", f.secret)
		if os.Geteuid() == 0 {
			_ = os.Remove(victimPath)
			if err := os.WriteFile(victimPath, []byte(victimContent), 0o644); err != nil {
				t.Fatal(err)
			}
			_ = os.Chmod(victimPath, 0o644)
		}
		for _, host := range []string{"127.0.0.1", "::1"} {
			addr := net.JoinHostPort(host, "47001")
			if ln, err := net.Listen("tcp", addr); err == nil {
				f.closes = append(f.closes, func() { ln.Close() })
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						f.hit("tcp " + addr + " connection from " + c.RemoteAddr().String())
						c.Close()
					}
				}()
			} else if host == "127.0.0.1" {
				t.Fatalf("listening on %s: %v", addr, err)
			} else {
				t.Logf("no IPv6 loopback listener: %v", err)
			}
			if pc, err := net.ListenPacket("udp", addr); err == nil {
				f.closes = append(f.closes, func() { pc.Close() })
				go func() {
					buf := make([]byte, 2048)
					for {
						n, from, err := pc.ReadFrom(buf)
						if err != nil {
							return
						}
						f.hit(fmt.Sprintf("udp %s datagram from %s: %q", addr, from, buf[:n]))
					}
				}()
			}
		}
		fix = f
	})
	return fix
}

func (f *fixtures) hit(s string) {
	f.mu.Lock()
	f.hits = append(f.hits, s)
	f.mu.Unlock()
}

// check asserts the effects that no run may ever have.
func (f *fixtures) check(t *testing.T, label string) {
	t.Helper()
	f.mu.Lock()
	hits := append([]string(nil), f.hits...)
	f.mu.Unlock()
	if len(hits) > 0 {
		t.Errorf("%s: the loopback listener was reached: %q", label, hits)
	}
	if b, err := os.ReadFile(victimPath); err != nil || string(b) != victimContent {
		t.Errorf("%s: %s changed: %q %v", label, victimPath, b, err)
	} else if st, err := os.Stat(victimPath); err == nil && st.Mode().Perm() != 0o644 {
		t.Errorf("%s: %s mode changed to %v", label, victimPath, st.Mode())
	}
	if m := findMarkers(); len(m) > 0 {
		t.Errorf("%s: marker files outside the scratch dir: %q", label, m)
	}
	if o := findOrphans(); len(o) > 0 {
		t.Errorf("%s: processes of user code survived: %q", label, o)
	}
}

func findMarkers() []string {
	dirs := []string{"/", "/tmp", "/var/tmp", "/dev/shm", os.TempDir()}
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, h)
	}
	var out []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, "cx_marker*"))
		out = append(out, m...)
	}
	return out
}

// findOrphans looks at every thread, not only thread-group leaders: a
// leader that exited while its threads run has an empty cmdline.
func findOrphans() []string {
	var out []string
	for _, pid := range listPids() {
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/cmdline")
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if bytes.Contains(b, []byte("cx_orphan_")) {
				out = append(out, fmt.Sprintf("%d: %q", pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
				break
			}
		}
	}
	return out
}

// replyOf encodes res the way the runner prints it and checks that the
// line is strict JSON.
func replyOf(t *testing.T, res result.ExecutionResult) string {
	t.Helper()
	line := result.Encode(res)
	var back result.ExecutionResult
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("the reply is not a valid ExecutionResult: %v: %s", err, line)
	}
	if !result.IsRunnerReason(res.Reason) {
		t.Errorf("reason %q is not a runner reason", res.Reason)
	}
	return string(line)
}

// jsonEqual compares two JSON texts as values: numbers equal when they are
// the same integer exactly or the same float64.
func jsonEqual(a, b []byte) (bool, error) {
	va, err := decodeNumbers(a)
	if err != nil {
		return false, err
	}
	vb, err := decodeNumbers(b)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(normalize(va), normalize(vb)), nil
}

func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			f, _ := strconv.ParseFloat(string(x), 64)
			return f
		}
		if i, ok := new(big.Int).SetString(string(x), 10); ok {
			if i.IsInt64() && i.Int64() <= 1<<53 && i.Int64() >= -(1<<53) {
				return float64(i.Int64()) // 2 and 2.0 are the same number
			}
			return "int:" + i.String()
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = normalize(x[k])
		}
		return x
	}
	return v
}
