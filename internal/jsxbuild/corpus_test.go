package jsxbuild

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// CorpusDir returns <repo root>/../shared/corpus/jsx, where CI places the
// shared corpus beside the clone. It fails the test when it is missing.
func corpusDir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := wd
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above %s: cannot find the repository root", wd)
		}
		dir = parent
	}
	c := filepath.Join(filepath.Dir(dir), "shared", "corpus", "jsx")
	if st, err := os.Stat(c); err != nil || !st.IsDir() {
		t.Fatalf("the JSX corpus is missing: want it at %s (the repository's ../shared/corpus/jsx): %v", c, err)
	}
	return c
}

type corpusCase struct {
	name    string
	src     []byte
	expect  string
	errorAt Position
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	dir := corpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.jsx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .jsx files in %s (%v)", dir, err)
	}
	var cases []corpusCase
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c := corpusCase{name: filepath.Base(f), src: src}
		sc := bufio.NewScanner(bytes.NewReader(src))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "//") {
				break
			}
			key, val, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "//")), ":")
			if !ok {
				continue
			}
			val = strings.TrimSpace(val)
			switch key {
			case "expect":
				c.expect = val
			case "error-at":
				l, col, _ := strings.Cut(val, ":")
				c.errorAt.Line, _ = strconv.Atoi(l)
				c.errorAt.Column, _ = strconv.Atoi(col)
			}
		}
		switch c.expect {
		case "ok", "inert", "reject":
		case "compile-error":
			if c.errorAt.Line == 0 || c.errorAt.Column == 0 {
				t.Fatalf("%s: compile-error without a valid // error-at: LINE:COL", c.name)
			}
		default:
			t.Fatalf("%s: unknown // expect: %q", c.name, c.expect)
		}
		cases = append(cases, c)
	}
	return cases
}

// TestCorpus checks that every file in the shared corpus gives the outcome
// its header says.
func TestCorpus(t *testing.T) {
	for _, c := range loadCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			out, err := Compile(context.Background(), c.src, Options{})
			var (
				ce       *CompileError
				refused  *RefusedError
				tooLarge *TooLargeError
			)
			switch c.expect {
			case "ok":
				if err != nil {
					t.Fatalf("want it to compile, got %v", err)
				}
				checkOutput(t, out)
			case "compile-error":
				if !errors.As(err, &ce) {
					t.Fatalf("want a CompileError, got out=%v err=%v", out != nil, err)
				}
				if got := ce.Errors[0].Position; got != c.errorAt {
					t.Errorf("error at %d:%d, want %d:%d (%s)", got.Line, got.Column, c.errorAt.Line, c.errorAt.Column, ce.Errors[0].Text)
				}
				if ce.Errors[0].Text == "" {
					t.Error("the compile error has no message")
				}
			case "reject":
				if !errors.As(err, &refused) && !errors.As(err, &tooLarge) {
					t.Fatalf("want it refused, got out=%v err=%v", out != nil, err)
				}
			case "inert":
				switch {
				case err == nil:
					checkOutput(t, out)
				case errors.As(err, &refused):
					if refused.Reason == "" {
						t.Error("refused without a reason")
					}
				default:
					t.Fatalf("want it compiled or refused by the allow-list, got %v", err)
				}
			}
			if out != nil {
				for _, leak := range []string{"root:x:0:0", "daemon:x:"} {
					if strings.Contains(out.HTML, leak) {
						t.Errorf("the output holds %q: a file was read", leak)
					}
				}
			}
		})
	}
}
