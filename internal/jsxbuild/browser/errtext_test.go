package browser

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/chromedp"
)

// maxErrorText is the longest error text the document sends and the host
// accepts (boot.js and host.js MAX_TEXT, in UTF-16 units; at most 3 bytes
// of UTF-8 each).
const maxErrorText = 1000

// TestBrowserErrorText: whatever a component throws, the error text the
// viewer is shown (the frame's error boundary and the host's message) is
// at most maxErrorText characters, and the number of messages the host
// takes is bounded too.
func TestBrowserErrorText(t *testing.T) {
	h := reviewHarness(t, nil)
	const huge = "const HUGE = 'x'.repeat(300000) + '\\u{1F600}'.repeat(1000) + 'CXTAIL';\n"

	for _, c := range []struct{ name, phase, src string }{
		{"render error with a huge message", "render", huge + `export default function Boom() { throw new Error(HUGE); }`},
		{"render error with an emoji at the cut", "render", `const E = 'y'.repeat(999) + '\u{1F600}' + 'CXTAIL';
export default function Boom() { throw new Error(E); }`},
		{"thrown object with a huge toString", "render", huge + `export default function Boom() { throw { toString() { return HUGE; } }; }`},
		{"thrown huge string", "render", huge + `export default function Boom() { throw HUGE; }`},
		{"message getter that throws", "render", `export default function Boom() { throw { get message() { throw new Error('nested'); } }; }`},
		{"runtime error with a huge message", "runtime", huge + `import { useEffect } from 'react';
export default function Later() {
  useEffect(() => { setTimeout(() => { throw new Error(HUGE); }, 10); }, []);
  return <p>fine so far</p>;
}`},
		{"unhandled rejection with a huge reason", "runtime", huge + `import { useEffect } from 'react';
export default function Later() {
  useEffect(() => { Promise.reject(new Error(HUGE)); }, []);
  return <p>fine so far</p>;
}`},
		{"module error with a huge message", "module", huge + `throw new Error(HUGE);
export default () => <p>never</p>;`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb := h.render(t, c.src)
			st := tb.waitMessage("error")
			found := false
			for _, m := range st.Msgs {
				if m.Type != "error" {
					continue
				}
				found = found || m.Phase == c.phase
				if n := utf8.RuneCountInString(m.Message); n > maxErrorText || strings.Contains(m.Message, "CXTAIL") {
					t.Errorf("the host was shown %d characters (tail included: %v)", n, strings.Contains(m.Message, "CXTAIL"))
				}
				if !utf8.ValidString(m.Message) || strings.ContainsRune(m.Message, utf8.RuneError) {
					t.Errorf("the message holds half a character: %q", m.Message[len(m.Message)-8:])
				}
			}
			if !found {
				t.Errorf("no %s error message: %+v", c.phase, st.Msgs)
			}
			if c.phase == "render" {
				text := tb.waitFrameText("the error boundary's text", func(s string) bool { return strings.HasPrefix(s, "Render error: ") })
				if n := utf8.RuneCountInString(text); n > maxErrorText+len("Render error: ") || strings.Contains(text, "CXTAIL") {
					t.Errorf("the frame shows %d characters of error text", n)
				}
			}
			tb.checkContained()
		})
	}

	t.Run("error flood", func(t *testing.T) {
		tb := h.render(t, `import { useEffect } from 'react';
export default function Flood() {
  useEffect(() => {
    for (let i = 0; i < 300; i++) setTimeout(() => { throw new Error('e' + i); }, 0);
    for (let i = 0; i < 300; i++) parent.postMessage({ source: 'codeexec-jsx', version: 1, type: 'error', phase: 'runtime', message: 'z'.repeat(1000) }, '*');
    setTimeout(() => { document.title = 'flooded'; }, 500);
  }, []);
  return <p>flooding</p>;
}`)
		// The flood comes before "rendered" and uses up the host's quota.
		var st hostState
		if err := waitFor(tb.ctx, "the flood", func() (bool, error) {
			st = tb.state()
			return len(st.Raw) >= 300, nil
		}); err != nil {
			t.Fatalf("%v: %d raw", err, len(st.Raw))
		}
		if err := chromedp.Do(tb.ctx, chromedp.Sleep(time.Second)); err != nil {
			t.Fatal(err)
		}
		st = tb.state()
		if len(st.Msgs) > 100 {
			t.Errorf("the host accepted %d messages (host.js MAX_MESSAGES is 100)", len(st.Msgs))
		}
		t.Logf("raw %d, accepted %d, rejected %d", len(st.Raw), len(st.Msgs), st.Rejects)
		tb.checkContained()
	})
}
