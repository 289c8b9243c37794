package jsxbuild

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// checkEmbedded checks that script, placed in a <script> element, is read
// back by an HTML tokenizer as exactly that element's text, followed by the
// markup after it.
func checkEmbedded(t *testing.T, script string) {
	t.Helper()
	doc := "<!DOCTYPE html><body><script>" + script + "</script><p id=after></p></body>"
	z := html.NewTokenizer(strings.NewReader(doc))
	var seq []string
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken, html.EndTagToken:
			seq = append(seq, tt.String()+":"+tok.Data)
		case html.TextToken:
			if tok.Data != script {
				t.Fatalf("the script element's text differs from the script (%d vs %d bytes)", len(tok.Data), len(script))
			}
			seq = append(seq, "text")
		case html.CommentToken:
			t.Fatal("a comment opened")
		}
	}
	want := "StartTag:body StartTag:script text EndTag:script StartTag:p EndTag:p EndTag:body"
	if got := strings.Join(seq, " "); got != want {
		t.Fatalf("tokens %q, want %q", got, want)
	}
}

// FuzzCompile: whatever the source, Compile either refuses it with one of
// its documented errors or returns a document that parses into exactly its
// own scripts, each hashed in the CSP and free of "</script", "<script" and
// "<!--". An internal error is a bug (the escaper could not place a
// sequence esbuild printed).
func FuzzCompile(f *testing.F) {
	for _, c := range loadCorpus(f) {
		f.Add(string(c.src))
	}
	for _, s := range []string{
		"export default () => <p>{'</script><!--<script>'}</p>;",
		"const r = /<!--<script>/; export default () => <p>{String(r)}</p>;",
		"const t = `<!--${'<script>'}</SCRIPT>`; export default () => <p>{t}</p>;",
		"if (1) /<script/.test('x'); export default () => <p/>;",
		"label: { } /<!--/.exec('x'); export default () => <p/>;",
		"export default () => <p title=\"</script>\">&lt;!--</p>;",
		"/*! <!-- */ export default () => <p/>;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		out, err := Compile(context.Background(), []byte(src), Options{MaxSourceBytes: 64 << 10})
		var (
			ce *CompileError
			re *RefusedError
			tl *TooLargeError
		)
		switch {
		case err == nil:
			checkEmbedded(t, userScript(out.JS))
		case errors.As(err, &ce), errors.As(err, &re), errors.As(err, &tl), errors.Is(err, ErrTimeout):
		default:
			t.Fatalf("internal error: %v", err)
		}
	})
}
