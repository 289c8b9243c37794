package jsxbuild

import (
	"context"
	"testing"

	"github.com/evanw/esbuild/pkg/api"
)

// okCorpus returns the corpus' ok components by file name.
func okCorpus(b *testing.B) map[string][]byte {
	b.Helper()
	out := map[string][]byte{}
	for _, c := range loadCorpus(b) {
		if c.expect == "ok" {
			out[c.name] = c.src
		}
	}
	if len(out) == 0 {
		b.Fatal("no ok components in the corpus")
	}
	return out
}

// BenchmarkTransform is esbuild's Transform alone, warm, per ok component
// (hack/bench-jsx.sh compares it with Babel's transform).
func BenchmarkTransform(b *testing.B) {
	opts := TransformOptions()
	for name, src := range okCorpus(b) {
		s := string(src)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if r := api.Transform(s, opts); len(r.Errors) > 0 {
					b.Fatal(r.Errors[0].Text)
				}
			}
		})
	}
}

// BenchmarkCompile is the whole Compile: transform, checks, document.
func BenchmarkCompile(b *testing.B) {
	for name, src := range okCorpus(b) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Compile(context.Background(), src, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
