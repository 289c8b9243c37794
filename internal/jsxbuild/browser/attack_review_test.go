package browser

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/testutil/netns"
)

// Outside review of issue 11's JSX sandbox: tests that fail on the code as
// reviewed. Each starts its own wire, host server and Chromium, like
// TestBrowser, in the private network namespace of netns.Main.

func reviewHarness(t *testing.T, policies map[string]any) *harness {
	t.Helper()
	if !netns.InPrivateNetns() {
		t.Fatal("browser tests must run in a private network namespace (netns.Main)")
	}
	root := repoRoot(t)
	wire := netns.StartWire(t)
	wire.NXDomain = browserBackground
	h := &harness{wire: wire, root: root, listener: startListener(t), host: startHost(t, filepath.Join(root, "web"))}
	h.browser = startBrowser(t, policies)
	return h
}

// TestAttackReviewBrowserMisreadValues: with a division after a property
// named "in" earlier on the line, the escaper rewrites the '<' of a
// regular expression and of a String.raw template in place, and puts a
// space into a plain string after a "///" (see
// TestAttackReviewMisreadChangesValues in the jsxbuild package): in the
// browser the component sees "\x3C!--x" where the source says "<!--x".
func TestAttackReviewBrowserMisreadValues(t *testing.T) {
	h := reviewHarness(t, nil)
	src := "const d = { in: 8 };\n" +
		"const values = {\n" +
		"  regex: [d.in / 2 + \"a/b\" + /<!--x/.source + \"c\" + /\"/.source][0],\n" +
		"  raw: [d.in / 2 + \"a/b\" + String.raw`<!--x` + \"c\" + /\"/.source][0],\n" +
		"  str: [d.in / 2, \"file:///tmp\", \"<!-- x -->\"][2],\n" +
		"};\n" +
		"export default () => <pre>{JSON.stringify(values)}</pre>;\n"
	tb := h.render(t, src)
	tb.waitMessage("rendered")
	text := tb.waitFrameText("the values", func(s string) bool { return strings.HasPrefix(s, "{") })
	var got map[string]string
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%v: %q", err, text)
	}
	want := "4a/b<!--xc\""
	for _, k := range []string{"regex", "raw"} {
		if got[k] != want {
			t.Errorf("%s: the code sees %q, the source says %q", k, got[k], want)
		}
	}
	if got["str"] != "<!-- x -->" {
		t.Errorf("str: the code sees %q, the source says %q", got["str"], "<!-- x -->")
	}
	tb.checkContained()
}
