package pyexec

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/codeexec/codeexec-operator/runner-image/bootstrap"
)

// The result converter lives in the bootstrap (Python). These tests drive
// it from Go: a generator builds random values as a Python expression
// together with the JSON (or the error) the corpus rules demand, computed
// independently in Go, and a long-lived python process converts them.

type convServer struct {
	mu  sync.Mutex
	in  io.WriteCloser
	out *bufio.Reader
}

var (
	convOnce sync.Once
	conv     *convServer
	convErr  error
)

func converter(tb testing.TB) *convServer {
	tb.Helper()
	requirePython(tb)
	convOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cx-conv-")
		if err != nil {
			convErr = err
			return
		}
		src := filepath.Join(dir, "convert.py")
		if err := os.WriteFile(src, []byte(bootstrap.Convert), 0o644); err != nil {
			convErr = err
			return
		}
		server, err := filepath.Abs(filepath.Join("testdata", "convert_server.py"))
		if err != nil {
			convErr = err
			return
		}
		cmd := exec.Command(testPython, "-I", "-B", server, src)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "OPENBLAS_NUM_THREADS=1"}
		cmd.Stderr = os.Stderr
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			convErr = err
			return
		}
		conv = &convServer{in: in, out: bufio.NewReaderSize(out, 1<<20)}
	})
	if convErr != nil {
		tb.Fatalf("starting the converter server: %v", convErr)
	}
	return conv
}

func (s *convServer) convert(tb testing.TB, expr string) (kind, payload string) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.in, expr+"\n"); err != nil {
		tb.Fatal(err)
	}
	line, err := s.out.ReadString('\n')
	if err != nil {
		tb.Fatalf("converter server: %v", err)
	}
	kind, payload, _ = strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	return kind, payload
}

// model is a generated value: its Python expression and what converting
// it must give.
type model struct {
	py  string
	js  any    // expected JSON value (json.RawMessage for exact numbers)
	err string // expected error substring; the first in conversion order
	// key side, for dict keys: the Python identity and the JSON key.
	pyKey, jsKey string
}

type gen struct{ r *rand.Rand }

func (g gen) pick(n int) int { return g.r.IntN(n) }

func pyStr(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var runePool = []rune{'a', 'b', '1', '0', '_', ' ', '"', '\\', '\n', '\t', 0, 0x7f, 'é', '€', 0x2028, 0x1F600, 'z'}

func (g gen) str() string {
	n := g.pick(6)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteRune(runePool[g.pick(len(runePool))])
	}
	return b.String()
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func floatLit(f float64) string { return strconv.FormatFloat(f, 'e', 17, 64) }

// jf is a float in the expected JSON, written as a float.
func jf(f float64) json.RawMessage {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return raw(s)
}

// key returns a dict key.
func (g gen) key() model {
	switch g.pick(7) {
	case 0, 1:
		s := g.str()
		return model{py: pyStr(s), pyKey: "s:" + s, jsKey: s}
	case 2:
		n := g.pick(4)
		return model{py: strconv.Itoa(n), pyKey: "n:" + strconv.Itoa(n), jsKey: strconv.Itoa(n)}
	case 3:
		if g.pick(2) == 0 {
			return model{py: "True", pyKey: "n:1", jsKey: "true"}
		}
		return model{py: "False", pyKey: "n:0", jsKey: "false"}
	case 4:
		return model{py: "None", pyKey: "none", jsKey: "null"}
	case 5:
		fs := []struct{ py, id, js string }{{"0.5", "f:0.5", "0.5"}, {"1.0", "n:1", "1.0"}, {"2.5", "f:2.5", "2.5"}}
		f := fs[g.pick(len(fs))]
		return model{py: f.py, pyKey: f.id, jsKey: f.js}
	default:
		a, b := g.str(), g.pick(3)
		if g.pick(3) == 0 {
			d := 1 + g.pick(3)
			iso := fmt.Sprintf("2024-01-0%dT00:00:00", d)
			return model{py: fmt.Sprintf(`pd.Timestamp("2024-01-0%d")`, d), pyKey: "ts:" + iso, jsKey: iso}
		}
		return model{py: fmt.Sprintf("(%s, %d)", pyStr(a), b), pyKey: fmt.Sprintf("t:s:%s|n:%d", a, b), jsKey: fmt.Sprintf("%s_%d", a, b)}
	}
}

func (g gen) leaf() model {
	switch g.pick(20) {
	case 0:
		return model{py: "None", js: nil}
	case 1:
		b := g.pick(2) == 0
		return model{py: map[bool]string{true: "True", false: "False"}[b], js: b}
	case 2:
		n := g.r.Int64N(2000) - 1000
		return model{py: strconv.FormatInt(n, 10), js: raw(strconv.FormatInt(n, 10))}
	case 3:
		n := new(big.Int).Lsh(big.NewInt(1), uint(60+g.pick(20)))
		if g.pick(2) == 0 {
			n.Neg(n)
		}
		return model{py: n.String(), js: raw(n.String())}
	case 4:
		f := g.r.NormFloat64() * math.Pow(10, float64(g.pick(40)-20))
		return model{py: floatLit(f), js: jf(f)}
	case 5:
		s := []string{"nan", "inf", "-inf", "np.float64(nan)", "np.float32(inf)", "pd.NA", "pd.NaT", `np.datetime64("NaT")`}
		return model{py: s[g.pick(len(s))], js: nil}
	case 6, 7:
		s := g.str()
		return model{py: pyStr(s), js: s}
	case 8:
		n := g.r.Int64N(1 << 40)
		return model{py: fmt.Sprintf("np.int64(%d)", n), js: raw(strconv.FormatInt(n, 10))}
	case 9:
		f := float32(g.r.NormFloat64())
		return model{py: fmt.Sprintf("np.float32(%s)", floatLit(float64(f))), js: jf(float64(f))}
	case 10:
		return model{py: "np.bool_(True)", js: true}
	case 11:
		d, h := 1+g.pick(9), g.pick(24)
		return model{py: fmt.Sprintf(`pd.Timestamp("2024-02-0%d %02d:30:00")`, d, h), js: fmt.Sprintf("2024-02-0%dT%02d:30:00", d, h)}
	case 12:
		d := 1 + g.pick(9)
		return model{py: fmt.Sprintf("datetime.date(2023, 5, %d)", d), js: fmt.Sprintf("2023-05-%02d", d)}
	case 13:
		s := g.pick(100000)
		if g.pick(2) == 0 {
			return model{py: fmt.Sprintf("pd.Timedelta(seconds=%d)", s), js: jf(float64(s))}
		}
		return model{py: fmt.Sprintf("datetime.timedelta(seconds=%d)", s), js: jf(float64(s))}
	case 14:
		d := 1 + g.pick(9)
		return model{py: fmt.Sprintf(`np.datetime64("2022-03-0%dT10:00")`, d), js: fmt.Sprintf("2022-03-0%dT10:00:00", d)}
	case 15:
		bad := []struct{ py, name string }{{"{1, 2}", "set"}, {`b"x"`, "bytes"}, {"1j", "complex"}, {"object()", "object"}, {"len", "builtin_function_or_method"}, {"(lambda: 0)", "function"}, {"frozenset()", "frozenset"}}
		b := bad[g.pick(len(bad))]
		return model{py: b.py, err: "a value of type " + b.name + " has no JSON form"}
	case 16:
		if g.pick(2) == 0 {
			return model{py: "cyc()", err: "circular reference"}
		}
		return model{py: "cycd()", err: "circular reference"}
	default:
		s := g.str()
		return model{py: pyStr(s), js: s}
	}
}

func (g gen) value(depth int) model {
	if depth >= 4 || g.pick(3) == 0 {
		return g.leaf()
	}
	switch g.pick(6) {
	case 0, 1: // list or tuple
		n := g.pick(4)
		items := make([]model, n)
		for i := range items {
			items[i] = g.value(depth + 1)
		}
		return g.array(items, g.pick(2) == 0)
	case 2, 3: // dict
		n := g.pick(5)
		type entry struct {
			key model
			val model
		}
		var entries []entry
		var py []string
		for i := 0; i < n; i++ {
			k, v := g.key(), g.value(depth+1)
			py = append(py, k.py+": "+v.py)
			dup := false
			for j := range entries {
				if entries[j].key.pyKey == k.pyKey { // Python keeps the first key, the last value
					entries[j].val = v
					dup = true
				}
			}
			if !dup {
				entries = append(entries, entry{k, v})
			}
		}
		m := model{py: "{" + strings.Join(py, ", ") + "}"}
		obj := map[string]any{}
		for _, e := range entries {
			if _, seen := obj[e.key.jsKey]; seen {
				m.err = "duplicate key after conversion"
				return m
			}
			if e.val.err != "" {
				m.err = e.val.err
				return m
			}
			obj[e.key.jsKey] = e.val.js
		}
		m.js = obj
		return m
	case 4: // numpy array of ints
		n := g.pick(5)
		var py []string
		js := []any{}
		for i := 0; i < n; i++ {
			v := g.r.Int64N(1000)
			py = append(py, strconv.FormatInt(v, 10))
			js = append(js, raw(strconv.FormatInt(v, 10)))
		}
		return model{py: "np.array([" + strings.Join(py, ", ") + "], dtype=np.int64)", js: js}
	default: // Series with string labels, or a DataFrame
		n := 1 + g.pick(3)
		labels := make([]string, n)
		vals := make([]float64, n)
		var pl, pv []string
		for i := range labels {
			labels[i] = []string{"a", "b", "c", "d"}[g.pick(4)]
			vals[i] = float64(g.pick(100)) / 4
			pl = append(pl, pyStr(labels[i]))
			pv = append(pv, floatLit(vals[i]))
		}
		if g.pick(2) == 0 {
			m := model{py: fmt.Sprintf("pd.Series([%s], index=[%s])", strings.Join(pv, ", "), strings.Join(pl, ", "))}
			obj := map[string]any{}
			for i, l := range labels {
				if _, seen := obj[l]; seen {
					m.err = "duplicate key after conversion"
					return m
				}
				obj[l] = jf(vals[i])
			}
			m.js = obj
			return m
		}
		recs := []any{}
		for i := range vals {
			recs = append(recs, map[string]any{"x": jf(vals[i]), "i": raw(strconv.Itoa(i))})
		}
		return model{py: fmt.Sprintf("pd.DataFrame({\"x\": [%s], \"i\": list(range(%d))}, index=[%s])", strings.Join(pv, ", "), n, strings.Join(pl, ", ")), js: recs}
	}
}

func (g gen) array(items []model, tuple bool) model {
	var py []string
	js := []any{}
	m := model{}
	for _, it := range items {
		py = append(py, it.py)
		if it.err != "" && m.err == "" {
			m.err = it.err
		}
		js = append(js, it.js)
	}
	if tuple {
		m.py = "(" + strings.Join(py, ", ") + ",)"
		if len(items) == 0 {
			m.py = "()"
		}
	} else {
		m.py = "[" + strings.Join(py, ", ") + "]"
	}
	if m.err == "" {
		m.js = js
	}
	return m
}

// checkModel converts m.py and compares with the model.
func checkModel(t *testing.T, s *convServer, m model) {
	t.Helper()
	kind, payload := s.convert(t, m.py)
	switch kind {
	case "ok":
		if m.err != "" {
			t.Fatalf("%s\nconverted to %s, want an error containing %q", m.py, payload, m.err)
		}
		if !json.Valid([]byte(payload)) {
			t.Fatalf("%s\nnot valid JSON: %s", m.py, payload)
		}
		for i := 0; i < len(payload); i++ {
			if payload[i] >= utf8.RuneSelf {
				t.Fatalf("%s\nnot ASCII: %s", m.py, payload)
			}
		}
		want, err := json.Marshal(m.js)
		if err != nil {
			t.Fatal(err)
		}
		if eq, err := jsonEqual(want, []byte(payload)); err != nil || !eq {
			t.Fatalf("%s\nwant %s\n got %s", m.py, want, payload)
		}
	case "err":
		if m.err == "" || !strings.Contains(payload, m.err) {
			t.Fatalf("%s\nerror %q, want %s", m.py, payload, map[bool]string{true: "success", false: "an error containing " + strconv.Quote(m.err)}[m.err == ""])
		}
	default:
		t.Fatalf("%s\nthe converter raised: %s", m.py, payload)
	}
}

// TestConvertProperties checks the converter against the Go model on
// random values (fixed seeds, so failures reproduce).
func TestConvertProperties(t *testing.T) {
	s := converter(t)
	for seed := uint64(0); seed < 400; seed++ {
		g := gen{rand.New(rand.NewPCG(seed, 0x5eed))}
		checkModel(t, s, g.value(0))
	}
}

// FuzzConvert explores the same property with `go test -fuzz=FuzzConvert`.
func FuzzConvert(f *testing.F) {
	for i := uint64(0); i < 8; i++ {
		f.Add(i, i*7919)
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		s := converter(t)
		g := gen{rand.New(rand.NewPCG(a, b))}
		checkModel(t, s, g.value(0))
	})
}

// TestConvertRules pins the rules of corpus/README.md one by one.
func TestConvertRules(t *testing.T) {
	s := converter(t)
	cases := map[string]struct{ py, want, err string }{
		"none and NA":         {py: "[None, pd.NA, pd.NaT]", want: "[null,null,null]"},
		"non-finite floats":   {py: "[nan, inf, -inf, np.float64(nan), np.float32(-inf)]", want: "[null,null,null,null,null]"},
		"exact ints":          {py: "[2**64 + 1, np.int64(-9007199254740993), np.uint64(18446744073709551615)]", want: "[18446744073709551617,-9007199254740993,18446744073709551615]"},
		"bools":               {py: "[True, np.bool_(False)]", want: "[true,false]"},
		"timestamps":          {py: `[pd.Timestamp("2024-01-02 03:04:05.123456789"), datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc), datetime.date(2024, 1, 2), np.datetime64("2024-01-02")]`, want: `["2024-01-02T03:04:05.123456789","2024-01-02T00:00:00+00:00","2024-01-02","2024-01-02T00:00:00"]`},
		"timedeltas":          {py: `[pd.Timedelta("1h"), datetime.timedelta(milliseconds=1500), np.timedelta64(3, "s")]`, want: "[3600.0,1.5,3.0]"},
		"arrays":              {py: "((1, 2), np.array([[1.5, nan]]))", want: "[[1,2],[[1.5,null]]]"},
		"keys":                {py: `{1: "a", True: "b", None: "c", ("x", 2): "d", pd.Timestamp("2024-01-01"): "e", 0.5: "f"}`, want: `{"1":"b","null":"c","x_2":"d","2024-01-01T00:00:00":"e","0.5":"f"}`},
		"series":              {py: `pd.Series([1, None], index=["a", "b"], dtype="Int64")`, want: `{"a":1,"b":null}`},
		"dataframe":           {py: `pd.DataFrame({"a": [1, 2], "t": pd.to_datetime(["2024-01-01", None])}, index=[5, 6])`, want: `[{"a":1,"t":"2024-01-01T00:00:00"},{"a":2,"t":null}]`},
		"empty dataframe":     {py: `pd.DataFrame()`, want: `[]`},
		"dict subclasses":     {py: `__import__("collections").OrderedDict(a=1)`, want: `{"a":1}`},
		"unsupported":         {py: `{"x": [1, {2}]}`, err: "`result[\"x\"][1]`: a value of type set has no JSON form"},
		"circular":            {py: "cyc()", err: "circular reference"},
		"duplicate key":       {py: `{1: 1, "1": 2}`, err: "duplicate key after conversion"},
		"duplicate column":    {py: `pd.DataFrame([[1, 2]], columns=["a", "a"])`, err: "duplicate key after conversion"},
		"bad key":             {py: `{frozenset(): 1}`, err: "a dict key of type frozenset has no JSON form"},
		"huge int":            {py: "10**5000", err: "integer with too many digits"},
		"deep":                {py: "deep(1000)", err: "nested deeper than"},
		"surrogates are JSON": {py: `"\ud800x"`, want: `"\ufffdx"`},
	}
	for name, c := range cases {
		kind, payload := s.convert(t, c.py)
		switch {
		case c.err != "":
			if kind != "err" || !strings.Contains(payload, c.err) {
				t.Errorf("%s: got %s %s, want an error containing %q", name, kind, payload, c.err)
			}
		case kind != "ok":
			t.Errorf("%s: got %s %s", name, kind, payload)
		default:
			if eq, err := jsonEqual([]byte(c.want), []byte(payload)); err != nil || !eq {
				t.Errorf("%s: got %s, want %s", name, payload, c.want)
			}
		}
	}
}
